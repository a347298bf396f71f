/* obs - zero-code observability for Linux services. Subcommand dispatch. */
#include <stdio.h>
#include <string.h>

#include "agent.h"
#include "check.h"
#include "cli.h"
#include "confcmd.h"
#include "log.h"
#include "privs.h"
#include "run.h"
#include "triage.h"

#include "version.h"

int main(int argc, char **argv)
{
	struct obs_opts o;
	char err[512];
	const char *base = argc > 0 ? strrchr(argv[0], '/') : NULL;
	int is_run =
	    base ? !strcmp(base + 1, "obs-run") : (argc > 0 && !strcmp(argv[0], "obs-run"));

	log_init(is_run ? "obs-run" : "obs");
	if (cli_parse(argc, argv, &o, err, sizeof(err))) {
		fprintf(stderr, "%s: %s\n", log_prog(), err);
		fprintf(stderr, "Try '%s --help' for more information.\n",
			is_run ? "obs-run" : (o.cmd == OBS_CMD_NONE ? "obs" : cli_cmd_name(o.cmd)));
		return 2;
	}
	if (o.help || o.cmd == OBS_CMD_HELP) {
		fputs(cli_usage(o.help ? o.cmd : OBS_CMD_NONE), stdout);
		return 0;
	}
	if (o.cmd != OBS_CMD_VERSION && privs_exec_check(err, sizeof(err))) {
		fprintf(stderr, "%s: %s\n", log_prog(), err);
		return o.cmd == OBS_CMD_RUN ? 125 : 1;
	}
	switch (o.cmd) {
	case OBS_CMD_VERSION:
		printf("obs %s\n", OBS_VERSION);
		return 0;
	case OBS_CMD_RUN:
		return run_main(&o);
	case OBS_CMD_AGENT:
		return agent_main(&o);
	case OBS_CMD_TRIAGE:
		return triage_main(&o);
	case OBS_CMD_CHECK:
		return check_main(&o);
	case OBS_CMD_CONFIG:
		return confcmd_main(&o);
	default:
		fputs(cli_usage(OBS_CMD_NONE), stderr);
		return 2;
	}
}
