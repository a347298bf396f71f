#include <string.h>

#include "rpc.h"

static const char *const code_names[RPC_CODE_MAX + 1] = {
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
};

int rpc_split_path(const char *path, char *service, size_t slen, char *method, size_t mlen)
{
	const char *slash;
	size_t sl, ml;

	if (path[0] != '/' || !(slash = strchr(path + 1, '/')) || strchr(slash + 1, '/'))
		return -1;
	sl = (size_t)(slash - path - 1);
	ml = strlen(slash + 1);
	if (!sl || !ml || sl >= slen || ml >= mlen)
		return -1;
	memcpy(service, path + 1, sl);
	service[sl] = 0;
	memcpy(method, slash + 1, ml + 1);
	return 0;
}

const char *rpc_code_name(unsigned code)
{
	return code <= RPC_CODE_MAX ? code_names[code] : NULL;
}

int rpc_code_is_error(unsigned code, int server)
{
	if (!server)
		return code != RPC_OK;
	switch (code) {
	case RPC_UNKNOWN:
	case RPC_DEADLINE_EXCEEDED:
	case RPC_UNIMPLEMENTED:
	case RPC_INTERNAL:
	case RPC_UNAVAILABLE:
	case RPC_DATA_LOSS:
		return 1;
	}
	return 0;
}

uint64_t rpc_parse_timeout(const char *v, size_t len)
{
	uint64_t n = 0, unit;

	/* TimeoutValue: at most 8 digits; TimeoutUnit: H M S m u n */
	if (len < 2 || len > 9)
		return 0;
	for (size_t i = 0; i + 1 < len; i++) {
		if (v[i] < '0' || v[i] > '9')
			return 0;
		n = n * 10 + (uint64_t)(v[i] - '0');
	}
	switch (v[len - 1]) {
	case 'H':
		unit = 3600000000000ULL;
		break;
	case 'M':
		unit = 60000000000ULL;
		break;
	case 'S':
		unit = 1000000000ULL;
		break;
	case 'm':
		unit = 1000000ULL;
		break;
	case 'u':
		unit = 1000ULL;
		break;
	case 'n':
		unit = 1;
		break;
	default:
		return 0;
	}
	return n * unit;
}

unsigned rpc_code_from_reset(uint32_t h2_error, int expired)
{
	if (expired)
		return RPC_DEADLINE_EXCEEDED; /* the side that gave up did so at the deadline */
	switch (h2_error) {
	case 0x7: /* REFUSED_STREAM */
		return RPC_UNAVAILABLE;
	case 0x8: /* CANCEL */
		return RPC_CANCELLED;
	case 0xb:	  /* ENHANCE_YOUR_CALM */
		return 8; /* RESOURCE_EXHAUSTED */
	case 0xc:	  /* INADEQUATE_SECURITY */
		return 7; /* PERMISSION_DENIED */
	}
	return RPC_INTERNAL;
}
