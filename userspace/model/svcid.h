/*
 * svcid - which service a process is counted under on a node (the agent's
 * rule, docs/metrics.md "Service identity"). Pure: the caller reads
 * /proc, the exec event and the pod log directory; these functions only
 * decide.
 *
 * In order, the first that names one:
 *   1. a rule of the config file (services.by_cgroup / services.by_exe);
 *   2. OTEL_SERVICE_NAME, then service.name in OTEL_RESOURCE_ATTRIBUTES;
 *   3. the container's name, for every process of a container cgroup;
 *   4. the systemd unit, for a process of a *.service cgroup;
 *   5. the executable's name, for a host process that has lived
 *      services.short_lived (until then: its parent's service).
 */
#ifndef OBS_SVCID_H
#define OBS_SVCID_H
#include <stddef.h>

#define SVCID_RULES_MAX	  32
#define SVCID_PATTERN_MAX 256
#define SVCID_NAME_MAX	  128

enum svcid_match { SVCID_BY_CGROUP = 1, SVCID_BY_EXE = 2 };

struct svcid_rule {
	enum svcid_match what;
	char pattern[SVCID_PATTERN_MAX]; /* fnmatch(3) glob */
	char service[SVCID_NAME_MAX];
};

struct svcid_rules {
	struct svcid_rule r[SVCID_RULES_MAX];
	size_t n;
	double short_lived_s; /* 0: every host process is named at exec */
	char pod_logs[256];   /* the kubelet's container log links */
};

enum svcid_source {
	SVCID_RULE = 1,
	SVCID_ENV,	 /* OTEL_SERVICE_NAME */
	SVCID_RESOURCE,	 /* service.name in OTEL_RESOURCE_ATTRIBUTES */
	SVCID_CONTAINER, /* the container's name */
	SVCID_UNIT,	 /* the systemd unit */
	SVCID_EXE,	 /* the executable, for a host process */
};

/* What is known of a process; any field may be NULL or "". */
struct svcid_in {
	const char *env_service;    /* OTEL_SERVICE_NAME */
	const char *resource_attrs; /* OTEL_RESOURCE_ATTRIBUTES */
	const char *cgroup;	    /* cgroup v2 path */
	const char *container_id;   /* from the cgroup path */
	const char *container_name; /* from the pod logs, if found */
	const char *exe;	    /* executable name */
};

void svcid_rules_init(struct svcid_rules *r);
/* Add a rule; -1 with err if the table is full or a field is bad. */
int svcid_rules_add(struct svcid_rules *r, enum svcid_match what, const char *pattern,
		    const char *service, char *err, size_t errlen);
/* 1 if the two sets decide alike. */
int svcid_rules_equal(const struct svcid_rules *a, const struct svcid_rules *b);

/* The service of in, into out; the rule that named it. SVCID_EXE is
 * what the caller may defer for a short-lived host process. */
enum svcid_source svcid_resolve(const struct svcid_rules *r, const struct svcid_in *in, char *out,
				size_t outlen);
const char *svcid_source_name(enum svcid_source s);

/* service.name of an OTEL_RESOURCE_ATTRIBUTES value (key=value pairs,
 * comma separated, values percent-encoded). 0, or -1 if absent/empty. */
int svcid_resource_service(const char *attrs, char *out, size_t outlen);
/* The innermost systemd service unit of a cgroup path ("cron" for
 * /system.slice/cron.service); a user manager (user@1000.service) is
 * not a service. 0, or -1. */
int svcid_unit(const char *cgroup, char *out, size_t outlen);
/* The container name of a kubelet log link name,
 * POD_NAMESPACE_CONTAINER-ID.log, if ID is cid. 0, or -1. */
int svcid_podlog_container(const char *fname, const char *cid, char *out, size_t outlen);

#endif
