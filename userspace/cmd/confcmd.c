#include "confcmd.h"

#include <stdio.h>
#include <stdlib.h>

#include "config.h"
#include "log.h"

int confcmd_main(const struct obs_opts *o)
{
	struct obs_config *c = malloc(sizeof(*c));
	struct obs_opts opts = *o;
	struct sbuf b;
	char err[1024];

	if (!c) {
		log_error("out_of_memory", "out of memory");
		return 1;
	}
	/* judged as a run config; the agent's differences are defaults only */
	opts.cmd = OBS_CMD_RUN;
	if (config_build(c, &opts, err, sizeof(err))) {
		fprintf(stderr, "obs: %s\n", err);
		free(c);
		return 1;
	}
	sbuf_init(&b);
	config_describe(c, &b);
	printf("%s: valid\n%s", o->config_file, b.buf ? b.buf : "");
	sbuf_free(&b);
	free(c);
	return 0;
}
