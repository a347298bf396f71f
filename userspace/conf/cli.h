/*
 * cli - command-line parsing for every obs subcommand. Pure: fills a
 * struct obs_opts or writes one clear error message.
 */
#ifndef OBS_CLI_H
#define OBS_CLI_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum obs_cmd {
	OBS_CMD_NONE,
	OBS_CMD_RUN,
	OBS_CMD_AGENT,
	OBS_CMD_TRIAGE,
	OBS_CMD_CHECK,
	OBS_CMD_CONFIG, /* obs config check FILE */
	OBS_CMD_HELP,
	OBS_CMD_VERSION
};

/* Probe groups (--probes). */
enum {
	OBS_PROBE_SYSCALL = 1 << 0,
	OBS_PROBE_DISK = 1 << 1,
	OBS_PROBE_TCP = 1 << 2,
	OBS_PROBE_RUNQ = 1 << 3,
	OBS_PROBE_ALL = 0xf,
};

/* Options, for struct obs_opts.given: which ones the command line set. */
enum cli_opt_id {
	O_HELP,
	O_METRICS_ADDR,
	O_NO_METRICS,
	O_SERVICE,
	O_SUMMARY,
	O_NO_SUMMARY,
	O_PROBES,
	O_MAX_SERIES,
	O_PID,
	O_CGROUP,
	O_ALL,
	O_DURATION,
	O_INTERVAL,
	O_TOP,
	O_QUIET,
	O_ROUTE,
	O_SPANS_FILE,
	O_NO_SPANS,
	O_NO_PRELOAD,
	O_CONFIG,
	O_SAMPLE_RATIO,
	O_LOG_LEVEL,
	O_LOG_FORMAT,
	O_GO_INJECT,
};
#define CLI_GIVEN(id) (1u << (id))

#define OBS_DEFAULT_METRICS_ADDR       "127.0.0.1:9464"
#define OBS_DEFAULT_SERIES_LIMIT       10000
#define OBS_DEFAULT_AGENT_SERIES_LIMIT 50000
#define OBS_MIN_SERIES_LIMIT	       100
#define OBS_MAX_SERIES_LIMIT	       100000000

struct obs_opts {
	enum obs_cmd cmd;
	int help;		 /* --help given for cmd */
	uint32_t given;		 /* CLI_GIVEN(O_*) of each option given */
	const char *config_file; /* --config FILE; obs config check FILE */
	double sample_ratio;	 /* --sample-ratio */
	int log_level;		 /* --log-level (enum log_level) */
	int log_format;		 /* --log-format (enum log_format) */
	/* metrics endpoint */
	char metrics_host[256];
	uint16_t metrics_port;
	int no_metrics;
	size_t series_limit;
	unsigned probes;
	const char *service; /* --service overrides OTEL_SERVICE_NAME / exe name */
	/* run */
	int summary;
	int no_preload;		/* do not load libobs_preload.so into CMD */
	int no_spans;		/* HTTP metrics only: export no spans */
	int go_inject;		/* a Go CMD's net/http requests carry their context */
	const char *spans_file; /* JSON lines when no OTLP endpoint ("-": stdout) */
	const char *routes[64]; /* --route patterns */
	size_t nroutes;
	char **cmd_argv; /* points into argv; NULL-terminated */
	int cmd_argc;
	/* triage */
	pid_t pid;
	const char *cgroup;
	int all;
	double duration_s; /* 0: until interrupted */
	double interval_s; /* 0: only at the end */
	unsigned top;	   /* rows in the slowest-first table */
	/* check */
	int quiet;
};

/* Parse argv (argv[0] = program name). Returns 0, or -1 with err set. */
int cli_parse(int argc, char **argv, struct obs_opts *o, char *err, size_t errlen);
/* "host:port", ":port", "[v6]:port". Returns 0 or -1. */
int cli_parse_addr(const char *s, char *host, size_t hostlen, uint16_t *port);
/* "10", "10s", "250ms", "2m", "1h" -> seconds. Returns 0 or -1. */
int cli_parse_duration(const char *s, double *out);
/* A cardinality limit: an integer from 100 to 100000000. Returns 0 or -1. */
int cli_parse_series(const char *s, size_t *out);
/* "syscall,disk,tcp,runq" or "all" -> OBS_PROBE_* mask. Returns 0 or -1. */
int cli_parse_probes(const char *s, unsigned *out);
/* Usage text of a subcommand (OBS_CMD_NONE: the top-level usage). */
const char *cli_usage(enum obs_cmd cmd);
const char *cli_cmd_name(enum obs_cmd cmd);

#endif
