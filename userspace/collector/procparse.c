#include "procparse.h"

#include <ctype.h>
#include <string.h>

static void copy_trunc(char *out, size_t outlen, const char *s, size_t n)
{
	if (!outlen)
		return;
	if (n >= outlen)
		n = outlen - 1;
	memcpy(out, s, n);
	out[n] = '\0';
}

int procparse_environ_get(const char *buf, size_t len, const char *key, char *out, size_t outlen)
{
	size_t klen = strlen(key), i = 0;

	while (i < len) {
		const char *e = buf + i;
		const char *nul = memchr(e, '\0', len - i);
		size_t n = nul ? (size_t)(nul - e) : len - i;

		if (n > klen && !memcmp(e, key, klen) && e[klen] == '=') {
			copy_trunc(out, outlen, e + klen + 1, n - klen - 1);
			return 0;
		}
		i += n + 1;
	}
	return -1;
}

int procparse_cgroup_path(const char *buf, size_t len, char *out, size_t outlen)
{
	size_t i = 0;

	while (i < len) {
		const char *l = buf + i;
		const char *nl = memchr(l, '\n', len - i);
		size_t n = nl ? (size_t)(nl - l) : len - i;

		if (n >= 3 && !memcmp(l, "0::", 3)) {
			copy_trunc(out, outlen, l + 3, n - 3);
			return 0;
		}
		i += n + 1;
	}
	return -1;
}

static size_t hex_run(const char *s)
{
	size_t n = 0;

	while (isxdigit((unsigned char)s[n]) && !isupper((unsigned char)s[n]))
		n++;
	return n;
}

void procparse_container(const char *path, char *cid, size_t cidlen, char *pod, size_t podlen)
{
	const char *p;

	if (cidlen)
		cid[0] = '\0';
	if (podlen)
		pod[0] = '\0';
	/* The container id is the last 64-hex run that fills a path component
	 * (optionally after a runtime prefix such as "cri-containerd-"). */
	for (p = path; *p; p++) {
		size_t n;

		if (p != path && p[-1] != '/' && p[-1] != '-')
			continue;
		n = hex_run(p);
		if (n == 64 && (p[64] == '\0' || p[64] == '/' || p[64] == '.'))
			copy_trunc(cid, cidlen, p, 64);
	}
	/* Pod UID: "pod<uid>" with '-' (cgroupfs) or '_' (systemd) separators. */
	p = strstr(path, "pod");
	while (p) {
		const char *u = p + 3;
		size_t n = 0;
		char tmp[64];

		while (n < sizeof(tmp) - 1 &&
		       (isxdigit((unsigned char)u[n]) || u[n] == '-' || u[n] == '_'))
			n++;
		if (n == 36 && (p == path || p[-1] == '/' || p[-1] == '-')) {
			for (size_t j = 0; j < n; j++)
				tmp[j] = u[j] == '_' ? '-' : u[j];
			copy_trunc(pod, podlen, tmp, n);
			return;
		}
		p = strstr(p + 3, "pod");
	}
}

void procparse_exe_name(const char *path, char *out, size_t outlen)
{
	const char *b = strrchr(path, '/');
	size_t n;

	b = b ? b + 1 : path;
	n = strlen(b);
	if (n > 10 && !strcmp(b + n - 10, " (deleted)"))
		n -= 10;
	copy_trunc(out, outlen, b, n);
}

int procparse_nspid(const char *buf, size_t len, uint32_t *out)
{
	const char *p = buf, *end = buf + len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;

		if (le - p > 6 && !memcmp(p, "NSpid:", 6)) {
			uint64_t v = 0;
			int have = 0, digits = 0;

			for (const char *q = p + 6; q < le; q++) {
				if (*q >= '0' && *q <= '9') {
					if (!digits)
						v = 0;
					v = v * 10 + (uint64_t)(*q - '0');
					if (v > 0xffffffffULL)
						return -1;
					digits++;
				} else if (*q == ' ' || *q == '\t') {
					if (digits)
						have = 1;
					digits = 0;
				} else {
					return -1;
				}
			}
			if (digits)
				have = 1;
			if (!have)
				return -1;
			*out = (uint32_t)v;
			return 0;
		}
		p = le + 1;
	}
	return -1;
}
