/* libFuzzer: /proc parsers must never read out of bounds or crash. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "procparse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char out[64], cid[80], pod[40], *s = malloc(size + 1);

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	procparse_environ_get((const char *)data, size, "OTEL_SERVICE_NAME", out, sizeof(out));
	procparse_environ_get((const char *)data, size, "A", out, 1);
	procparse_cgroup_path((const char *)data, size, out, sizeof(out));
	procparse_container(s, cid, sizeof(cid), pod, sizeof(pod));
	if (cid[0] && strlen(cid) != 64)
		abort();
	procparse_exe_name(s, out, sizeof(out));
	free(s);
	return 0;
}
