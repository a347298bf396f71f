#include "ident.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "procinfo.h"
#include "procparse.h"
#include "str.h"

#define NAMES_MAX 64	/* containers whose names are remembered */
#define QUEUE_MAX 16384 /* host processes waiting for their name */

struct waiting {
	pid_t pid; /* 0: cancelled */
	unsigned long long start;
	uint64_t due;
	char service[SLOT_LABEL_MAX];
};

struct ident {
	struct {
		char cid[72];
		char name[SLOT_LABEL_MAX];
	} names[NAMES_MAX];
	size_t next_name;
	struct waiting *q; /* a ring: due times only grow */
	size_t cap, head, n;
};

struct ident *ident_new(void)
{
	return calloc(1, sizeof(struct ident));
}

void ident_free(struct ident *id)
{
	if (!id)
		return;
	free(id->q);
	free(id);
}

/* The kubelet links each container's log as POD_NS_CONTAINER-ID.log in
 * /var/log/containers: readable without privileges, and there before the
 * container's first process runs. A name found is kept; a miss is not
 * (the link may come a moment later). */
static int container_name(struct ident *id, const char *dir, const char *cid, char *out,
			  size_t outlen)
{
	struct dirent *de;
	DIR *d;
	int rc = -1;

	for (size_t i = 0; i < NAMES_MAX; i++)
		if (!strcmp(id->names[i].cid, cid)) {
			str_copy(out, outlen, id->names[i].name);
			return 0;
		}
	if (!*dir || !(d = opendir(dir)))
		return -1;
	while ((de = readdir(d)))
		if (!svcid_podlog_container(de->d_name, cid, out, outlen)) {
			size_t i = id->next_name++ % NAMES_MAX;

			str_copy(id->names[i].cid, sizeof(id->names[i].cid), cid);
			str_copy(id->names[i].name, sizeof(id->names[i].name), out);
			rc = 0;
			break;
		}
	closedir(d);
	return rc;
}

int ident_resolve(struct ident *id, const struct svcid_rules *r, pid_t pid,
		  const struct obs_proc_event *e, struct slot_labels *out)
{
	char env[SLOT_LABEL_MAX] = "", res[512] = "", exe[SLOT_LABEL_MAX] = "", cg[4096] = "";
	char cname[SLOT_LABEL_MAX] = "";
	struct svcid_in in;

	memset(out, 0, sizeof(*out));
	if (e && (e->svc_state == OBS_SVC_FOUND || e->svc_state == OBS_SVC_ABSENT)) {
		/* what the kernel read of the new image: no /proc needed */
		if (e->svc_state == OBS_SVC_FOUND)
			str_copy(env, sizeof(env), e->service);
		str_copy(res, sizeof(res), e->resattrs);
	} else {
		/* at start (root), or an environment the event could not read */
		procinfo_env(pid, "OTEL_SERVICE_NAME", env, sizeof(env));
		procinfo_env(pid, "OTEL_RESOURCE_ATTRIBUTES", res, sizeof(res));
	}
	if (e && e->exe[0])
		procparse_exe_name(e->exe, exe, sizeof(exe));
	else if (procinfo_exe(pid, exe, sizeof(exe)))
		return -1;
	if (!procinfo_cgroup(pid, cg, sizeof(cg)))
		procparse_container(cg, out->container_id, sizeof(out->container_id), out->pod_uid,
				    sizeof(out->pod_uid));
	if (out->container_id[0])
		container_name(id, r->pod_logs, out->container_id, cname, sizeof(cname));
	in = (struct svcid_in){.env_service = env,
			       .resource_attrs = res,
			       .cgroup = cg,
			       .container_id = out->container_id,
			       .container_name = cname,
			       .exe = exe};
	return (int)svcid_resolve(r, &in, out->service, sizeof(out->service));
}

void ident_cancel(struct ident *id, pid_t pid)
{
	for (size_t i = 0; i < id->n; i++) {
		struct waiting *w = &id->q[(id->head + i) % id->cap];

		if (w->pid == pid)
			w->pid = 0;
	}
}

int ident_waiting(const struct ident *id, pid_t pid)
{
	for (size_t i = 0; i < id->n; i++)
		if (id->q[(id->head + i) % id->cap].pid == pid)
			return 1;
	return 0;
}

size_t ident_waiting_count(const struct ident *id)
{
	return id->n;
}

static int queue_grow(struct ident *id)
{
	size_t ncap = id->cap ? id->cap * 2 : 256;
	struct waiting *nq;

	if (ncap > QUEUE_MAX)
		return -1;
	nq = malloc(ncap * sizeof(*nq));
	if (!nq)
		return -1;
	for (size_t i = 0; i < id->n; i++)
		nq[i] = id->q[(id->head + i) % id->cap];
	free(id->q);
	id->q = nq;
	id->cap = ncap;
	id->head = 0;
	return 0;
}

int ident_defer(struct ident *id, pid_t pid, uint64_t due_ns, const struct slot_labels *l)
{
	struct waiting *w;

	ident_cancel(id, pid);
	if (id->n == id->cap && queue_grow(id))
		return -1;
	w = &id->q[(id->head + id->n++) % id->cap];
	w->pid = pid;
	w->start = procinfo_starttime(pid);
	w->due = due_ns;
	str_copy(w->service, sizeof(w->service), l->service);
	return 0;
}

int ident_next_due(struct ident *id, uint64_t now, pid_t *pid, struct slot_labels *l)
{
	while (id->n && id->q[id->head].due <= now) {
		struct waiting w = id->q[id->head];

		id->head = (id->head + 1) % id->cap;
		id->n--;
		/* gone, or its pid now names another process */
		if (!w.pid || (kill(w.pid, 0) && errno == ESRCH) ||
		    procinfo_starttime(w.pid) != w.start)
			continue;
		memset(l, 0, sizeof(*l));
		str_copy(l->service, sizeof(l->service), w.service);
		*pid = w.pid;
		return 1;
	}
	return 0;
}
