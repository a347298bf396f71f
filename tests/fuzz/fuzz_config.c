/*
 * libFuzzer: the config file parser. Any bytes either parse into settings
 * within their bounds or fail with a message that names a file line; the
 * settings' strings stay NUL-terminated, and no input crashes or leaks.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct obs_config c;
	char err[512];

	config_defaults(&c, OBS_CMD_RUN);
	err[0] = 0;
	if (config_parse(&c, (const char *)data, size, "f.yaml", err, sizeof(err))) {
		if (strncmp(err, "f.yaml:", 7) || strlen(err) >= sizeof(err))
			abort();
		return 0;
	}
	if (strnlen(c.service, sizeof(c.service)) == sizeof(c.service) ||
	    strnlen(c.metrics_path, sizeof(c.metrics_path)) == sizeof(c.metrics_path) ||
	    c.nheaders > CONFIG_HEADERS_MAX || c.routes.n > ROUTE_MAX_PATTERNS ||
	    c.sampling_ratio > 1 || c.max_series < 100 || !c.probes || (c.metrics_path[0] != '/'))
		abort();
	for (size_t i = 0; i < c.nheaders; i++)
		if (strpbrk(c.headers[i].value, "\r\n"))
			abort();
	return 0;
}
