/* libFuzzer: the CLI parser on arbitrary argument vectors. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 1), *argv[34], err[256];
	struct obs_opts o;
	int argc = 1;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	argv[0] = (size && data[0] & 1) ? "obs-run" : "obs";
	/* NUL bytes separate arguments. */
	for (char *p = buf; argc < 33 && p <= buf + size; p += strlen(p) + 1)
		argv[argc++] = p;
	argv[argc] = NULL;
	if (cli_parse(argc, argv, &o, err, sizeof(err)) == 0 && o.cmd == OBS_CMD_RUN && !o.help &&
	    (o.cmd_argc <= 0 || !o.cmd_argv[0]))
		abort();
	free(buf);
	return 0;
}
