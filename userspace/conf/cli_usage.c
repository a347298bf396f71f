/* cli_usage.c - the usage text of each subcommand (cli.h). */
#include "cli.h"

static const char usage_top[] =
    "Usage: obs COMMAND [OPTIONS]\n"
    "\n"
    "Zero-code observability for Linux services (eBPF).\n"
    "\n"
    "Commands:\n"
    "  run [OPTIONS] -- CMD [ARGS...]   run CMD and its descendants under obs (also: obs-run)\n"
    "  agent [OPTIONS]                  instrument every process on this node\n"
    "  triage (-p PID | -c CGROUP | --all) [-d SECONDS] [-i SECONDS]\n"
    "                                   print latency histograms in the terminal\n"
    "  check                            report the kernel features obs needs\n"
    "  config check FILE                validate a configuration file\n"
    "  version                          print the version\n"
    "\n"
    "Run 'obs COMMAND --help' for the options of a command. See obs(1).\n";

static const char usage_run[] =
    "Usage: obs-run [OPTIONS] [--] CMD [ARGS...]\n"
    "       obs run [OPTIONS] [--] CMD [ARGS...]\n"
    "\n"
    "Run CMD, follow it and every descendant, serve Prometheus metrics while it\n"
    "runs, forward signals to it, print a latency summary to stderr when it exits,\n"
    "and exit with its exit status (128+N if it was killed by signal N).\n"
    "\n"
    "Options:\n"
    "  --config FILE             settings from a YAML file (see obs-config(5));\n"
    "                            environment variables override it, options both\n"
    "  --metrics-addr HOST:PORT  where to serve /metrics, /healthz, /readyz\n"
    "                            (default " OBS_DEFAULT_METRICS_ADDR "; port 0 picks a free port)\n"
    "  --no-metrics              do not serve HTTP at all\n"
    "  --service NAME            service label (default: $OTEL_SERVICE_NAME, else CMD's name)\n"
    "  --summary                 print the latency summary at exit (default)\n"
    "  --no-summary              do not print the summary\n"
    "  --probes LIST             syscall,disk,tcp,runq or all (default all)\n"
    "  --max-series N            cardinality limit, in exposed samples (default 10000)\n"
    "  --route PATTERN           an http.route template, e.g. /users/{id}/orders/{oid}\n"
    "                            or /static/* (repeatable; replaces $OBS_HTTP_ROUTES)\n"
    "  --spans-file PATH         write spans as JSON lines to PATH (- for stdout)\n"
    "                            when no OTLP endpoint is set; without either, no\n"
    "                            span is kept, metrics count every request\n"
    "                            ($OBS_SPANS_FILE)\n"
    "  --no-spans                keep HTTP and RPC metrics, export no spans\n"
    "  --no-preload              no HTTP/gRPC shim: kernel metrics only\n"
    "  --go-inject               a Go CMD's net/http requests carry a traceparent\n"
    "                            (experimental, off by default; see obs(1))\n"
    "  --sample-ratio R          export this share (0-1) of new traces\n"
    "                            (parentbased_traceidratio; default: $OTEL_TRACES_SAMPLER, else "
    "all)\n"
    "  --log-level LEVEL         error, warn, info (default), debug or trace\n"
    "  --log-format FORMAT       text (default) or json: one JSON object per line\n"
    "  -h, --help                show this help\n"
    "\n"
    "Spans go to $OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or $OTEL_EXPORTER_OTLP_ENDPOINT\n"
    "(OTLP/HTTP protobuf) when set; see obs(1) for every OTEL_* variable.\n"
    "\n"
    "Exit status: CMD's status; 125 if obs itself failed; 126 if CMD cannot be\n"
    "executed; 127 if CMD was not found; 2 on a usage error.\n";

static const char usage_agent[] =
    "Usage: obs agent [OPTIONS]\n"
    "\n"
    "Instrument every process on this node. Series are labelled with the service\n"
    "(OTEL_SERVICE_NAME from the process environment where readable, else the\n"
    "executable name), and the container id and pod UID taken from its cgroup.\n"
    "\n"
    "Options:\n"
    "  --config FILE             settings from a YAML file (see obs-config(5))\n"
    "  --metrics-addr HOST:PORT  where to serve /metrics (default " OBS_DEFAULT_METRICS_ADDR ";\n"
    "                            use :9464 to listen on every interface)\n"
    "  --probes LIST             syscall,disk,tcp,runq or all (default all)\n"
    "  --max-series N            cardinality limit, in exposed samples (default 50000)\n"
    "  --log-level LEVEL         error, warn, info (default), debug or trace\n"
    "  --log-format FORMAT       text (default) or json\n"
    "  --no-preload              no span ring or shim for workloads: kernel metrics only\n"
    "  -h, --help                show this help\n"
    "\n"
    "Workloads opt in to HTTP/gRPC metrics and spans with\n"
    "LD_PRELOAD=/run/obs/libobs_preload.so\n"
    "(tracing.shim_dir in the config file moves /run/obs).\n"
    "\n"
    "SIGHUP rescans processes and reloads the config file: logging, metrics auth\n"
    "credentials, routes and limits change at once; other changes are reported\n"
    "and need a restart.\n";

static const char usage_triage[] =
    "Usage: obs triage (-p PID | -c CGROUP_PATH | --all) [-d SECONDS] [-i SECONDS]\n"
    "\n"
    "Attach to a running process (and its threads and future children), a cgroup,\n"
    "or the whole node, and print log2 latency histograms for syscalls, disk I/O,\n"
    "TCP connect and run-queue latency, with a slowest-first table.\n"
    "\n"
    "Options:\n"
    "  -p, --pid PID             a process (its threads and new children too)\n"
    "  -c, --cgroup PATH         every process in a cgroup v2 directory, e.g.\n"
    "                            /sys/fs/cgroup/system.slice/nginx.service\n"
    "  -a, --all                 every process on the node\n"
    "  -d, --duration SECONDS    stop after this long (default 10; 0: until Ctrl-C)\n"
    "  -i, --interval SECONDS    also print every SECONDS (default: only at the end)\n"
    "  -n, --top N               rows in the slowest-first table (default 15)\n"
    "  --probes LIST             syscall,disk,tcp,runq or all (default all)\n"
    "  -h, --help                show this help\n"
    "\n"
    "Durations accept a unit: 500ms, 10s, 2m.\n";

static const char usage_config[] =
    "Usage: obs config check FILE\n"
    "\n"
    "Validate an obs configuration file: YAML syntax, every key and value, and\n"
    "that the files it names (token, password, TLS certificate and key) are\n"
    "readable. Prints the settings obs would run with (secrets shown as\n"
    "their file names only) and exits 0, or names the offending key and its line\n"
    "and exits 1. Environment variables (OBS_*, OTEL_*) are applied on top, as\n"
    "obs would.\n";

static const char usage_check[] =
    "Usage: obs check [-q] [PROGRAM|PID ...]\n"
    "\n"
    "Report each kernel feature and privilege obs needs, whether it is\n"
    "present, and how to fix what is missing. Exit status 0 when obs can\n"
    "run, 1 otherwise.\n"
    "\n"
    "With PROGRAMs (found in PATH as exec would) or PIDs of running\n"
    "processes: what obs can see of each. The shim follows a dynamically\n"
    "linked program; a Go or static one is followed from the kernel side\n"
    "(cleartext HTTP, gRPC and data stores), with nothing injected\n"
    "(obs-run --go-inject: a Go program's net/http requests).\n"
    "\n"
    "  -q, --quiet   print only what is missing\n";

const char *cli_usage(enum obs_cmd cmd)
{
	switch (cmd) {
	case OBS_CMD_RUN:
		return usage_run;
	case OBS_CMD_AGENT:
		return usage_agent;
	case OBS_CMD_TRIAGE:
		return usage_triage;
	case OBS_CMD_CHECK:
		return usage_check;
	case OBS_CMD_CONFIG:
		return usage_config;
	default:
		return usage_top;
	}
}

const char *cli_cmd_name(enum obs_cmd cmd)
{
	static const char *const names[] = {"obs",	 "obs run",    "obs agent", "obs triage",
					    "obs check", "obs config", "obs help",  "obs version"};

	return names[cmd];
}
