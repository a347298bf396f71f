#include "cli.h"

#include "logfmt.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

int cli_parse_addr(const char *s, char *host, size_t hostlen, uint16_t *port)
{
	const char *colon, *hs = s, *he;
	char *end;
	long p;

	if (!s || !*s)
		return -1;
	if (*s == '[') {
		he = strchr(s, ']');
		if (!he || he[1] != ':')
			return -1;
		hs = s + 1;
		colon = he + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon || memchr(s, ':', (size_t)(colon - s)))
			return -1;
		he = colon;
	}
	if ((size_t)(he - hs) >= hostlen)
		return -1;
	errno = 0;
	p = strtol(colon + 1, &end, 10);
	if (errno || end == colon + 1 || *end || p < 0 || p > 65535)
		return -1;
	memcpy(host, hs, (size_t)(he - hs));
	host[he - hs] = '\0';
	*port = (uint16_t)p;
	return 0;
}

int cli_parse_duration(const char *s, double *out)
{
	char *end;
	double v;

	if (!s || !*s)
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || v < 0 || v != v)
		return -1;
	if (!strcmp(end, "") || !strcmp(end, "s"))
		;
	else if (!strcmp(end, "ms"))
		v /= 1000;
	else if (!strcmp(end, "m"))
		v *= 60;
	else if (!strcmp(end, "h"))
		v *= 3600;
	else
		return -1;
	if (v > 365.0 * 86400)
		return -1;
	*out = v;
	return 0;
}

int cli_parse_probes(const char *s, unsigned *out)
{
	static const struct {
		const char *name;
		unsigned bit;
	} names[] = {{"syscall", OBS_PROBE_SYSCALL}, {"syscalls", OBS_PROBE_SYSCALL},
		     {"disk", OBS_PROBE_DISK},	     {"tcp", OBS_PROBE_TCP},
		     {"runq", OBS_PROBE_RUNQ},	     {"all", OBS_PROBE_ALL}};
	unsigned mask = 0;
	const char *p = s;

	if (!s || !*s)
		return -1;
	while (*p) {
		size_t n = strcspn(p, ","), i;

		for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			if (strlen(names[i].name) == n && !strncmp(names[i].name, p, n))
				break;
		if (i == sizeof(names) / sizeof(names[0]))
			return -1;
		mask |= names[i].bit;
		p += n;
		if (*p == ',')
			p++;
	}
	*out = mask;
	return 0;
}

static int parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	if (!s || !*s || *s == '-')
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > max)
		return -1;
	*out = v;
	return 0;
}

int cli_parse_series(const char *s, size_t *out)
{
	unsigned long v;

	if (parse_uint(s, OBS_MAX_SERIES_LIMIT, &v) || v < OBS_MIN_SERIES_LIMIT)
		return -1;
	*out = (size_t)v;
	return 0;
}

/* Option table: which subcommands take which options. */

#define C_RUN	 (1u << OBS_CMD_RUN)
#define C_AGENT	 (1u << OBS_CMD_AGENT)
#define C_TRIAGE (1u << OBS_CMD_TRIAGE)
#define C_CHECK	 (1u << OBS_CMD_CHECK)
#define C_CONFIG (1u << OBS_CMD_CONFIG)
#define C_ANY	 (C_RUN | C_AGENT | C_TRIAGE | C_CHECK | C_CONFIG)

static const struct cli_opt {
	const char *lng;
	char shrt;
	int has_arg;
	unsigned cmds;
	enum cli_opt_id id;
} opts[] = {
    {"help", 'h', 0, C_ANY, O_HELP},
    {"metrics-addr", 0, 1, C_RUN | C_AGENT, O_METRICS_ADDR},
    {"no-metrics", 0, 0, C_RUN, O_NO_METRICS},
    {"service", 0, 1, C_RUN, O_SERVICE},
    {"summary", 0, 0, C_RUN, O_SUMMARY},
    {"no-summary", 0, 0, C_RUN, O_NO_SUMMARY},
    {"probes", 0, 1, C_RUN | C_AGENT | C_TRIAGE, O_PROBES},
    {"max-series", 0, 1, C_RUN | C_AGENT, O_MAX_SERIES},
    {"pid", 'p', 1, C_TRIAGE, O_PID},
    {"cgroup", 'c', 1, C_TRIAGE, O_CGROUP},
    {"all", 'a', 0, C_TRIAGE, O_ALL},
    {"duration", 'd', 1, C_TRIAGE, O_DURATION},
    {"interval", 'i', 1, C_TRIAGE, O_INTERVAL},
    {"top", 'n', 1, C_TRIAGE, O_TOP},
    {"quiet", 'q', 0, C_CHECK, O_QUIET},
    {"route", 0, 1, C_RUN, O_ROUTE},
    {"spans-file", 0, 1, C_RUN, O_SPANS_FILE},
    {"no-spans", 0, 0, C_RUN, O_NO_SPANS},
    {"no-preload", 0, 0, C_RUN | C_AGENT, O_NO_PRELOAD},
    {"go-inject", 0, 0, C_RUN, O_GO_INJECT},
    {"config", 0, 1, C_RUN | C_AGENT, O_CONFIG},
    {"sample-ratio", 0, 1, C_RUN, O_SAMPLE_RATIO},
    {"log-level", 0, 1, C_RUN | C_AGENT | C_TRIAGE, O_LOG_LEVEL},
    {"log-format", 0, 1, C_RUN | C_AGENT | C_TRIAGE, O_LOG_FORMAT},
};

static int apply(struct obs_opts *o, enum cli_opt_id id, const char *arg, const char *shown,
		 char *err, size_t errlen)
{
	unsigned long v;
	char *end;

	o->given |= CLI_GIVEN(id);
	switch (id) {
	case O_CONFIG:
		if (!*arg)
			return fail(err, errlen, "%s needs a file", shown);
		o->config_file = arg;
		break;
	case O_SAMPLE_RATIO:
		errno = 0;
		o->sample_ratio = strtod(arg, &end);
		if (errno || end == arg || *end || !(o->sample_ratio >= 0 && o->sample_ratio <= 1))
			return fail(err, errlen, "invalid %s '%s': expected a number from 0 to 1",
				    shown, arg);
		break;
	case O_LOG_LEVEL: {
		enum log_level l;
		if (logfmt_parse_level(arg, &l))
			return fail(err, errlen,
				    "invalid %s '%s': expected error, warn, info, debug or trace",
				    shown, arg);
		o->log_level = (int)l;
		break;
	}
	case O_LOG_FORMAT: {
		enum log_format f;
		if (logfmt_parse_format(arg, &f))
			return fail(err, errlen, "invalid %s '%s': expected json or text", shown,
				    arg);
		o->log_format = (int)f;
		break;
	}
	case O_HELP:
		o->help = 1;
		break;
	case O_METRICS_ADDR:
		if (cli_parse_addr(arg, o->metrics_host, sizeof(o->metrics_host), &o->metrics_port))
			return fail(err, errlen,
				    "invalid %s '%s': expected HOST:PORT, :PORT or [IPv6]:PORT",
				    shown, arg);
		break;
	case O_NO_METRICS:
		o->no_metrics = 1;
		break;
	case O_SERVICE:
		if (!*arg)
			return fail(err, errlen, "%s needs a non-empty name", shown);
		o->service = arg;
		break;
	case O_SUMMARY:
		o->summary = 1;
		break;
	case O_ROUTE:
		if (arg[0] != '/')
			return fail(err, errlen, "invalid %s '%s': a route starts with '/'", shown,
				    arg);
		if (o->nroutes >= sizeof(o->routes) / sizeof(o->routes[0]))
			return fail(err, errlen, "too many %s options (at most 64)", shown);
		o->routes[o->nroutes++] = arg;
		break;
	case O_SPANS_FILE:
		if (!*arg)
			return fail(err, errlen, "%s needs a path (or - for stdout)", shown);
		o->spans_file = arg;
		break;
	case O_NO_SPANS:
		o->no_spans = 1;
		break;
	case O_NO_PRELOAD:
		o->no_preload = 1;
		break;
	case O_GO_INJECT:
		o->go_inject = 1;
		break;
	case O_NO_SUMMARY:
		o->summary = 0;
		break;
	case O_PROBES:
		if (cli_parse_probes(arg, &o->probes))
			return fail(err, errlen,
				    "invalid %s '%s': expected a comma-separated list of "
				    "syscall, disk, tcp, runq, or all",
				    shown, arg);
		break;
	case O_MAX_SERIES:
		if (cli_parse_series(arg, &o->series_limit))
			return fail(err, errlen, "invalid %s '%s': expected a number >= 100", shown,
				    arg);
		break;
	case O_PID:
		if (parse_uint(arg, 4194304, &v) || v == 0)
			return fail(err, errlen, "invalid %s '%s': expected a process id", shown,
				    arg);
		o->pid = (pid_t)v;
		break;
	case O_CGROUP:
		if (!*arg)
			return fail(err, errlen, "%s needs a cgroup directory", shown);
		o->cgroup = arg;
		break;
	case O_ALL:
		o->all = 1;
		break;
	case O_DURATION:
	case O_INTERVAL:
		if (cli_parse_duration(arg, id == O_DURATION ? &o->duration_s : &o->interval_s))
			return fail(err, errlen,
				    "invalid %s '%s': expected seconds, optionally with a unit "
				    "(500ms, 10s, 2m)",
				    shown, arg);
		break;
	case O_TOP:
		if (parse_uint(arg, 1000, &v) || v == 0)
			return fail(err, errlen, "invalid %s '%s': expected 1..1000", shown, arg);
		o->top = (unsigned)v;
		break;
	case O_QUIET:
		o->quiet = 1;
		break;
	}
	return 0;
}

static void defaults(struct obs_opts *o)
{
	memset(o, 0, sizeof(*o));
	cli_parse_addr(OBS_DEFAULT_METRICS_ADDR, o->metrics_host, sizeof(o->metrics_host),
		       &o->metrics_port);
	o->series_limit = OBS_DEFAULT_SERIES_LIMIT;
	o->probes = OBS_PROBE_ALL;
	o->summary = 1;
	o->duration_s = 10;
	o->top = 15;
}

static enum obs_cmd cmd_from_name(const char *s)
{
	if (!strcmp(s, "run"))
		return OBS_CMD_RUN;
	if (!strcmp(s, "agent"))
		return OBS_CMD_AGENT;
	if (!strcmp(s, "triage"))
		return OBS_CMD_TRIAGE;
	if (!strcmp(s, "check"))
		return OBS_CMD_CHECK;
	if (!strcmp(s, "config"))
		return OBS_CMD_CONFIG;
	if (!strcmp(s, "help") || !strcmp(s, "--help") || !strcmp(s, "-h"))
		return OBS_CMD_HELP;
	if (!strcmp(s, "version") || !strcmp(s, "--version"))
		return OBS_CMD_VERSION;
	return OBS_CMD_NONE;
}

static const struct cli_opt *find_long(const char *name, size_t n)
{
	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++)
		if (strlen(opts[i].lng) == n && !strncmp(opts[i].lng, name, n))
			return &opts[i];
	return NULL;
}

static const struct cli_opt *find_short(char c)
{
	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++)
		if (opts[i].shrt == c)
			return &opts[i];
	return NULL;
}

int cli_parse(int argc, char **argv, struct obs_opts *o, char *err, size_t errlen)
{
	const char *prog = argc > 0 && argv[0] ? strrchr(argv[0], '/') : NULL;
	int i = 1, config_check = 0;

	defaults(o);
	prog = prog ? prog + 1 : (argc > 0 && argv[0] ? argv[0] : "obs");
	if (!strcmp(prog, "obs-run")) {
		o->cmd = OBS_CMD_RUN;
	} else {
		if (argc < 2)
			return fail(err, errlen, "missing command");
		o->cmd = cmd_from_name(argv[1]);
		if (o->cmd == OBS_CMD_NONE)
			return fail(err, errlen, "unknown command '%s'", argv[1]);
		i = 2;
		if (o->cmd == OBS_CMD_HELP || o->cmd == OBS_CMD_VERSION)
			return 0;
		if (o->cmd == OBS_CMD_CONFIG && argc > 2 && !strcmp(argv[2], "check")) {
			config_check = 1;
			i = 3;
		}
	}

	for (; i < argc; i++) {
		const char *a = argv[i], *val = NULL;
		const struct cli_opt *op;
		char shown[64];

		if (!strcmp(a, "--")) {
			i++;
			break;
		}
		if (a[0] != '-' || !a[1])
			break; /* first operand: for run, CMD starts here */
		if (a[1] == '-') {
			const char *eq = strchr(a + 2, '=');
			size_t n = eq ? (size_t)(eq - a - 2) : strlen(a + 2);

			op = find_long(a + 2, n);
			snprintf(shown, sizeof(shown), "--%.*s", (int)n, a + 2);
			if (eq)
				val = eq + 1;
		} else {
			op = find_short(a[1]);
			snprintf(shown, sizeof(shown), "-%c", a[1]);
			if (a[2])
				val = a + 2;
		}
		if (!op || !(op->cmds & (1u << o->cmd)))
			return fail(err, errlen, "unknown option '%s'", shown);
		if (op->has_arg && !val) {
			if (i + 1 >= argc)
				return fail(err, errlen, "option '%s' needs a value", shown);
			val = argv[++i];
		} else if (!op->has_arg && val) {
			return fail(err, errlen, "option '%s' takes no value", shown);
		}
		if (apply(o, op->id, val, shown, err, errlen))
			return -1;
	}
	if (o->help)
		return 0;

	if (o->cmd == OBS_CMD_RUN) {
		if (i >= argc)
			return fail(err, errlen, "missing CMD to run");
		o->cmd_argv = argv + i;
		o->cmd_argc = argc - i;
		return 0;
	}
	if (o->cmd == OBS_CMD_CHECK && i < argc) { /* programs or pids to explain */
		o->cmd_argv = argv + i;
		o->cmd_argc = argc - i;
		return 0;
	}
	if (o->cmd == OBS_CMD_CONFIG) {
		if (!config_check)
			return fail(err, errlen,
				    i < argc ? "unknown config action '%s'"
					     : "missing config action (check)",
				    i < argc ? argv[i] : "");
		if (i >= argc)
			return fail(err, errlen, "missing FILE to check");
		if (!*argv[i])
			return fail(err, errlen, "FILE to check is empty");
		o->config_file = argv[i++];
	}
	if (i < argc)
		return fail(err, errlen, "unexpected argument '%s'", argv[i]);
	if (o->cmd == OBS_CMD_TRIAGE) {
		int n = (o->pid != 0) + (o->cgroup != NULL) + o->all;

		if (n != 1)
			return fail(err, errlen,
				    "triage needs exactly one of -p PID, -c CGROUP, --all");
		if (o->interval_s > 0 && o->duration_s > 0 && o->interval_s > o->duration_s)
			return fail(err, errlen, "--interval is longer than --duration");
	}
	return 0;
}
