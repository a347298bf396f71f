/*
 * config - obs's settings (config.c reads the file, config_layers.c the
 * rest): built-in defaults, then the YAML file (--config, libyaml), then
 * the environment (OTEL_* / OBS_*), then the command line; each layer
 * overrides the one before. Pure but for config_load_file and
 * config_check_files: a parse either fills a whole
 * struct obs_config or names the offending key and its line.
 *
 * The file (every key optional; docs/config.md has each one):
 *
 *   service: checkout
 *   metrics:   {enabled, listen, path, auth: {bearer_token_file,
 *               basic_auth: {username, password_file}}, tls: {cert_file, key_file}}
 *   tracing:   {enabled, endpoint, headers: {NAME: VALUE}, compression,
 *               timeout, sampling_ratio, spans_file, shim_dir}
 *   logging:   {level, format}
 *   health:    {stall_timeout}
 *   cardinality: {max_series, stale_after}
 *   services:  {short_lived, pod_logs, by_cgroup: {GLOB: NAME}, by_exe: {GLOB: NAME}}
 *   routes:    [PATTERN, ...]
 *   probes:    [syscall, disk, tcp, runq] | all
 */
#ifndef OBS_CONFIG_H
#define OBS_CONFIG_H
#include <stddef.h>
#include <stdint.h>

#include "cli.h"
#include "logfmt.h"
#include "route.h"
#include "sbuf.h"
#include "svcid.h"

#define CONFIG_PATH_MAX	   1024
#define CONFIG_HEADERS_MAX 16
#define CONFIG_KEYS_MAX	   64

/* Where a setting came from, for messages and reload reports. */
enum config_origin { CONFIG_DEFAULT, CONFIG_FILE, CONFIG_ENV, CONFIG_FLAG };

struct config_header {
	char name[128];
	char value[1024];
};

struct obs_config {
	char service[128]; /* "" = from the command / process */

	int metrics_enabled;
	char metrics_host[256];
	uint16_t metrics_port;
	char metrics_path[128];
	char bearer_token_file[CONFIG_PATH_MAX];
	char basic_username[128];
	char basic_password_file[CONFIG_PATH_MAX];
	char tls_cert_file[CONFIG_PATH_MAX];
	char tls_key_file[CONFIG_PATH_MAX];

	int tracing_enabled;
	char tracing_endpoint[1024]; /* the collector's base URL; /v1/traces is appended */
	struct config_header headers[CONFIG_HEADERS_MAX];
	size_t nheaders;
	int compression;	 /* -1: unset, 0: none, 1: gzip */
	long tracing_timeout_ms; /* 0: unset */
	double sampling_ratio;	 /* parentbased_traceidratio; < 0: unset */
	char spans_file[CONFIG_PATH_MAX];
	/* an https:// endpoint: the CA that signs it, and a client
	 * certificate and key to present (mutual TLS); empty: system CAs,
	 * no client certificate */
	char tracing_ca_file[CONFIG_PATH_MAX];
	char tracing_cert_file[CONFIG_PATH_MAX];
	char tracing_key_file[CONFIG_PATH_MAX];
	char shim_dir[CONFIG_PATH_MAX]; /* agent: where the shim and the span ring go */

	enum log_level log_level;
	enum log_format log_format;

	double stall_timeout_s; /* /readyz fails when events wait longer */
	size_t max_series;
	double
	    series_stale_s; /* agent: a service with no live process this long loses its series */
	struct route_table routes;
	unsigned probes;
	struct svcid_rules services; /* agent: which service a process is counted under */

	/* file line of each key the file set ("metrics.listen" -> 3) */
	struct {
		char key[48];
		int line;
	} lines[CONFIG_KEYS_MAX];
	size_t nlines;
	char file[CONFIG_PATH_MAX]; /* the file read, "" if none */
	enum config_origin sampling_origin;
};

/* Built-in defaults; agent mode samples 10% of new traces. */
void config_defaults(struct obs_config *c, enum obs_cmd mode);
/* Overlay a YAML document; name is used in messages ("obs.yaml:3: ..."). */
int config_parse(struct obs_config *c, const char *buf, size_t len, const char *name, char *err,
		 size_t errlen);
/* Read and overlay a file (at most 1 MiB). */
int config_load_file(struct obs_config *c, const char *path, char *err, size_t errlen);
/* Overlay OBS_* / OTEL_* variables read through getenv_fn (NULL: getenv). */
int config_apply_env(struct obs_config *c, const char *(*getenv_fn)(const char *), char *err,
		     size_t errlen);
/* Overlay the options the command line gave; -1 with err on a bad
 * --route pattern. */
int config_apply_opts(struct obs_config *c, const struct obs_opts *o, char *err, size_t errlen);
/* Check what the settings refer to: files readable, TLS pair complete. */
int config_check_files(const struct obs_config *c, char *err, size_t errlen);
/* Everything above, in order: the settings a subcommand runs with. */
int config_build(struct obs_config *c, const struct obs_opts *o, char *err, size_t errlen);
/* The settings, one "key value" line each, secrets shown as their file
 * names only (obs config check). */
void config_describe(const struct obs_config *c, struct sbuf *out);
/* The file line that set key, or 0. */
int config_line(const struct obs_config *c, const char *key);

/* What a SIGHUP can apply without a restart. */
enum config_reloadable {
	CONFIG_RELOAD_LOGGING = 1 << 0,
	CONFIG_RELOAD_AUTH = 1 << 1,
	CONFIG_RELOAD_SAMPLING = 1 << 2,
	CONFIG_RELOAD_ROUTES = 1 << 3,
	CONFIG_RELOAD_LIMITS = 1 << 4,
	CONFIG_RELOAD_HEALTH = 1 << 5,
	CONFIG_RELOAD_TLS = 1 << 6,	 /* other certificate/key files */
	CONFIG_RELOAD_SERVICES = 1 << 7, /* identity rules: for processes named from now on */
};
/* Compare a running config with a new one: returns the CONFIG_RELOAD_*
 * groups that changed, and lists in fixed (size fixedlen) the keys that
 * changed but need a restart ("metrics.listen, probes"), "" if none. */
unsigned config_diff(const struct obs_config *cur, const struct obs_config *next, char *fixed,
		     size_t fixedlen);
/* Copy the settings a reload applies from next into cur (the rest of cur
 * stays what is running). */
void config_take_reloadable(struct obs_config *cur, const struct obs_config *next);

#endif
