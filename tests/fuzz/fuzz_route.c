/*
 * libFuzzer: route templating. The route is always a NUL-terminated string
 * that starts with '/' (or is "*"), is bounded, and never contains the query
 * string or a fragment.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "route.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char in[1024], out[ROUTE_MAX_LEN], host[64], err[128];
	struct route_table t;
	unsigned port;
	size_t n = size < sizeof(in) - 1 ? size : sizeof(in) - 1;

	memcpy(in, data, n);
	in[n] = 0;
	route_table_init(&t);
	route_table_add(&t, "/users/{id}/orders/{order}", err, sizeof(err));
	route_table_add(&t, "/static/*", err, sizeof(err));
	route_table_add_list(&t, in, err, sizeof(err)); /* hostile pattern lists too */
	route_template(&t, in, out, sizeof(out));
	if (strlen(out) >= ROUTE_MAX_LEN || (out[0] != '/' && strcmp(out, "*")))
		abort();
	if (t.n <= 2 && (strchr(out, '?') || strchr(out, '#')))
		abort();
	route_host(in, host, sizeof(host), &port);
	if (strlen(host) >= sizeof(host) || port > 65535)
		abort();
	route_method(in);
	return 0;
}
