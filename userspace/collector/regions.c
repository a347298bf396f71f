#include "regions.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "log.h"
#include "monotime.h"
#include "registry.h"
#include "str.h"

#define HELD_MAX    4096 /* processes at once */
#define SVC_MAX	    256	 /* services with their own unknown-parent count */
#define STALL_NS    (1000 * 1000000ULL)
#define RETIRED_MAX 16384
/* Handovers whose hello has not come yet. A process can be descheduled
 * between connect and send for far longer than a millisecond on a busy
 * node; it waits here, polled, never in a sleep (the drain thread holds the
 * lock a scrape needs). One that says nothing for PENDING_NS is refused. */
#define PENDING_MAX	256
#define PENDING_UID_MAX 32 /* of them from one user: a flood of its own stays its own */
#define PENDING_NS	(2000 * 1000000ULL)

struct held {
	struct region r;
	void *mem;
	size_t len;
	int sock;
	struct regions_who who;
	uint64_t skipped; /* ring cells a dead producer never finished */
};

struct pending {
	int sock;
	uid_t uid;
	uint64_t since;
};

struct svc_count {
	char service[128];
	uint64_t n;
};

struct regions {
	struct regions_cfg cfg;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];
	int lfd;
	struct held *held[HELD_MAX];
	size_t n, turn;
	struct pending pending[PENDING_MAX];
	size_t npending;
	/* the collector's settings, for new regions */
	int export_spans;
	enum spanring_sample mode;
	double ratio;
	struct route_table routes;
	/* what processes that are gone counted */
	struct redagg *retired;
	uint64_t retired_counter[REGION_COUNTERS];
	uint64_t retired_ring_full, retired_stalled;
	struct svc_count retired_unknown[SVC_MAX];
	size_t nretired_unknown;
	uint64_t refused;
	uint32_t labels_ids; /* handed out (regions_who.labels_id) */
};

static int listen_on(struct regions *rs, char *err, size_t errlen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	const char *p = rs->cfg.path;
	size_t n = strlen(p);
	socklen_t len;

	if (n >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "socket path too long: %s", p);
		return -1;
	}
	memcpy(sa.sun_path, p, n);
	if (p[0] == '@')
		sa.sun_path[0] = 0;
	else
		unlink(p); /* left by an earlier obs: a live one is not listening there */
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + (p[0] != '@'));
	rs->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (rs->lfd < 0 || bind(rs->lfd, (struct sockaddr *)&sa, len) ||
	    (p[0] != '@' && chmod(p, rs->cfg.mode ? rs->cfg.mode : 0600)) ||
	    listen(rs->lfd, 1024)) {
		snprintf(err, errlen, "cannot listen on %s: %s", p, strerror(errno));
		if (rs->lfd >= 0)
			close(rs->lfd);
		rs->lfd = -1;
		return -1;
	}
	str_copy(rs->path, sizeof(rs->path), p);
	return 0;
}

int regions_open(struct regions **out, const struct regions_cfg *cfg, char *err, size_t errlen)
{
	struct regions *rs = calloc(1, sizeof(*rs));

	if (!rs || !(rs->retired = redagg_new(RETIRED_MAX))) {
		free(rs);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	rs->cfg = *cfg;
	rs->export_spans = 1;
	rs->ratio = 1;
	route_table_init(&rs->routes);
	if (listen_on(rs, err, errlen)) {
		redagg_free(rs->retired);
		free(rs);
		return -1;
	}
	*out = rs;
	return 0;
}

/* ---- taking a region ------------------------------------------------------- */

#define HELLO "obs-region 1 "

/* The region's fd and the key after the hello (NUL-terminated). */
static int recv_fd(int s, int *fd, char *key, size_t keylen)
{
	char hello[sizeof(HELLO) + 80], ctl[CMSG_SPACE(sizeof(int))];
	struct iovec v = {hello, sizeof(hello)};
	struct msghdr m = {
	    .msg_iov = &v, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof(ctl)};
	struct cmsghdr *c;
	ssize_t n = recvmsg(s, &m, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);

	*fd = -1;
	if (n <= 0)
		return n == 0 || errno != EAGAIN ? -1 : 1; /* 1: nothing yet */
	for (c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
		    c->cmsg_len == CMSG_LEN(sizeof(int)))
			memcpy(fd, CMSG_DATA(c), sizeof(int));
	if ((m.msg_flags & (MSG_CTRUNC | MSG_TRUNC)) || *fd < 0 || n < (ssize_t)sizeof(HELLO) ||
	    memcmp(hello, HELLO, sizeof(HELLO) - 1) || hello[n - 1] != 0 ||
	    strlen(hello + sizeof(HELLO) - 1) >= keylen) {
		if (*fd >= 0)
			close(*fd);
		return -1;
	}
	str_copy(key, keylen, hello + sizeof(HELLO) - 1);
	return 0;
}

/* Map a region fd: sealed against resizing, its sizes consistent. */
static int map_region(struct held *h, int fd)
{
	struct stat st;
	int seals = fcntl(fd, F_GET_SEALS);

	if (seals < 0 || (seals & (F_SEAL_SHRINK | F_SEAL_GROW)) != (F_SEAL_SHRINK | F_SEAL_GROW) ||
	    fstat(fd, &st) || st.st_size <= 0 || (uint64_t)st.st_size > REGION_MAX_BYTES)
		return -1;
	h->len = (size_t)st.st_size;
	h->mem = mmap(NULL, h->len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (h->mem == MAP_FAILED) {
		h->mem = NULL;
		return -1;
	}
	if (region_attach(&h->r, h->mem, h->len)) {
		munmap(h->mem, h->len);
		h->mem = NULL;
		return -1;
	}
	return 0;
}

int regions_adopt(struct regions *rs, int fd, int sock, const struct regions_who *who)
{
	struct held *h;

	if (rs->n == HELD_MAX || !(h = calloc(1, sizeof(*h))))
		return -1;
	if (map_region(h, fd)) {
		free(h);
		return -1;
	}
	h->sock = sock;
	h->who = *who;
	h->who.labels_id = ++rs->labels_ids;
	region_set_routes(&h->r, &rs->routes);
	region_set_export(&h->r, rs->export_spans, rs->mode, rs->ratio);
	rs->held[rs->n++] = h;
	return 0;
}

/* A process connected and said its hello (rc from recv_fd: 0), or did
 * not in time (1), or could not wait (2), or said something else: who is
 * it, and is its region well made? Takes s and fd. */
static void take_region(struct regions *rs, int s, int rc, int fd, const char *key)
{
	struct ucred uc = {0};
	socklen_t ul = sizeof(uc);
	struct held *h = NULL;
	const char *why;

	why = "no peer credentials";
	if (getsockopt(s, SOL_SOCKET, SO_PEERCRED, &uc, &ul) || uc.pid <= 0)
		goto refuse;
	why = rc == 1	? "nothing sent within 2 s (not an obs shim?)"
	      : rc == 2 ? "too many connections waiting to hand a region over"
			: "no region sent (not an obs shim?)";
	if (rc)
		goto refuse;
	why = "out of memory";
	if (!(h = calloc(1, sizeof(*h))))
		goto refuse;
	h->who.pid = (uint32_t)uc.pid;
	why = "not a process this collector follows";
	if (rs->cfg.accept && rs->cfg.accept(rs->cfg.accept_ctx, uc.pid, key, &h->who))
		goto refuse;
	why = "region not sealed, or malformed";
	if (map_region(h, fd))
		goto refuse;
	why = "too many processes";
	if (rs->n == HELD_MAX)
		goto refuse;
	close(fd);
	h->sock = s;
	h->who.pid = (uint32_t)uc.pid;
	h->who.labels_id = ++rs->labels_ids;
	region_set_routes(&h->r, &rs->routes);
	region_set_export(&h->r, rs->export_spans, rs->mode, rs->ratio);
	rs->held[rs->n++] = h;
	log_debug("region of pid %d (%s) taken", (int)uc.pid, h->who.service);
	return;
refuse:
	/* said, but not without end: a process can knock again and again */
	if (rs->refused++ < 20)
		log_warn("region_refused", "refused the region of pid %d: %s", (int)uc.pid, why);
	if (fd >= 0)
		close(fd);
	if (h && h->mem)
		munmap(h->mem, h->len);
	free(h);
	close(s);
}

/* A new connection: its hello now, or a place to wait for it. */
static void connected(struct regions *rs, int s, uint64_t now)
{
	struct ucred uc = {0};
	socklen_t ul = sizeof(uc);
	char key[72];
	int fd, rc = recv_fd(s, &fd, key, sizeof(key));
	size_t mine = 0;

	if (rc == 1 && !getsockopt(s, SOL_SOCKET, SO_PEERCRED, &uc, &ul)) {
		for (size_t i = 0; i < rs->npending; i++)
			mine += rs->pending[i].uid == uc.uid;
		if (rs->npending < PENDING_MAX && mine < PENDING_UID_MAX) {
			rs->pending[rs->npending++] = (struct pending){s, uc.uid, now};
			return;
		}
		rc = 2;
	}
	take_region(rs, s, rc, fd, key);
}

/* Handovers that were waiting: taken once their hello is in, refused when
 * their time is up or they hung up. */
static void look_pending(struct regions *rs, uint64_t now)
{
	for (size_t i = 0; i < rs->npending;) {
		struct pending *p = &rs->pending[i];
		char key[72];
		int fd, rc = recv_fd(p->sock, &fd, key, sizeof(key));

		if (rc == 1 && now - p->since < PENDING_NS) {
			i++;
			continue;
		}
		take_region(rs, p->sock, rc, fd, key);
		rs->pending[i] = rs->pending[--rs->npending];
	}
}

/* ---- letting a region go ------------------------------------------------------ */

static void count_unknown(struct svc_count *t, size_t *n, const char *svc, uint64_t v)
{
	size_t i = 0;

	if (!v)
		return;
	while (i < *n && strcmp(t[i].service, svc))
		i++;
	if (i == *n) {
		if (*n == SVC_MAX) {
			i = SVC_MAX - 1; /* the last row gathers the rest */
		} else {
			str_copy(t[i].service, sizeof(t[0].service), svc);
			t[i].n = 0; /* a new row (the caller's table may be uninitialised) */
			(*n)++;
		}
	}
	t[i].n += v;
}

/* Series of one region into a (the labels split from its key). */
static void merge_one(const struct held *h, struct redagg *a, int64_t unix_off, int agent)
{
	struct region_read rd;
	struct metric_exemplar ex[REGION_BUCKETS];

	for (uint32_t i = 0, n = region_used(&h->r); i < n; i++) {
		const struct proto_family *f;
		const char *labels[PROTO_LABELS_MAX];
		size_t nl = 0, at = 0;

		if (region_read(&h->r, i, &rd) || !(f = proto_family_by_id(rd.family)))
			continue;
		while (at < rd.keylen && nl < PROTO_LABELS_MAX) {
			labels[nl++] = rd.key + at;
			at += strlen(rd.key + at) + 1;
		}
		if (rd.keylen == 0) { /* the overflow series: its table was full */
			redagg_add_overflow(a, f, rd.buckets, rd.sum);
			continue;
		}
		if (nl != f->nlabels || at != rd.keylen)
			continue; /* not what its family declares: a process's scribble */
		for (unsigned b = 0; b <= f->nbounds && b < REGION_BUCKETS; b++) {
			struct region_exemplar e;
			ex[b].trace_id[0] = 0;
			ex[b].timestamp = 0;
			if (region_read_exemplar(&h->r, i, b, &e))
				continue;
			tp_hex(e.trace_id, 16, ex[b].trace_id);
			tp_hex(e.span_id, 8, ex[b].span_id);
			memcpy(&ex[b].value, &e.value_bits, sizeof(double));
			ex[b].timestamp = (double)((int64_t)e.end_ns + unix_off) / 1e9;
		}
		redagg_add(a, f, labels, h->who.service, agent ? h->who.container_id : "",
			   agent ? h->who.pod_uid : "", rd.buckets, rd.sum, ex);
	}
}

static void retire(struct regions *rs, size_t i,
		   void (*take)(void *arg, struct span_rec *r, const struct regions_who *who),
		   void *arg)
{
	struct held *h = rs->held[i];
	struct span_rec r;
	uint64_t skipped = 0;

	while (spanring_pop(&h->r.ring, &r, 1, 0, &skipped))
		take(arg, &r, &h->who); /* its last spans */
	merge_one(h, rs->retired, 0, 1);
	for (int c = 0; c < REGION_COUNTERS; c++)
		rs->retired_counter[c] += region_counter(&h->r, (enum region_counter)c);
	count_unknown(rs->retired_unknown, &rs->nretired_unknown, h->who.service,
		      region_counter(&h->r, REGION_CTX_UNKNOWN));
	rs->retired_ring_full += __atomic_load_n(&h->r.ring.hdr->dropped, __ATOMIC_RELAXED);
	rs->retired_stalled += h->skipped + skipped;
	munmap(h->mem, h->len);
	close(h->sock);
	free(h);
	rs->held[i] = rs->held[--rs->n];
}

void regions_service(struct regions *rs,
		     void (*take)(void *arg, struct span_rec *r, const struct regions_who *who),
		     void *arg)
{
	int s;
	char b[64];
	uint64_t now = monotime_ns();

	look_pending(rs, now);
	while (rs->lfd >= 0 &&
	       (s = accept4(rs->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0)
		connected(rs, s, now);
	for (size_t i = 0; i < rs->n;) {
		/* bytes are wakes (spanring_arm), a few reads' worth at most: a
		 * process that floods its socket only wakes its collector */
		ssize_t n = 0;

		for (int k = 0; k < 4; k++) {
			n = recv(rs->held[i]->sock, b, sizeof(b), MSG_DONTWAIT);
			if (n < (ssize_t)sizeof(b))
				break;
		}
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			retire(rs, i, take, arg); /* the process is gone, or exec'd */
		else
			i++;
	}
}

void regions_arm(struct regions *rs, uint32_t ahead)
{
	for (size_t i = 0; i < rs->n; i++)
		spanring_arm(&rs->held[i]->r.ring, ahead);
}

int regions_pollfds(struct regions *rs, struct pollfd *pfd, int max)
{
	int n = 0;

	if (rs->lfd >= 0 && n < max)
		pfd[n++] = (struct pollfd){.fd = rs->lfd, .events = POLLIN};
	for (size_t i = 0; i < rs->npending && n < max; i++)
		pfd[n++] = (struct pollfd){.fd = rs->pending[i].sock, .events = POLLIN};
	for (size_t i = 0; i < rs->n && n < max; i++)
		pfd[n++] = (struct pollfd){.fd = rs->held[i]->sock, .events = POLLIN};
	return n;
}

size_t regions_drain(struct regions *rs, size_t max,
		     void (*take)(void *arg, struct span_rec *r, const struct regions_who *who),
		     void *arg)
{
	uint64_t now = monotime_ns();
	size_t got = 0, idle = 0;
	struct span_rec r;

	/* one at a time from each, so no process's burst starves another */
	while (got < max && rs->n && idle < rs->n) {
		struct held *h = rs->held[rs->turn++ % rs->n];
		if (spanring_pop(&h->r.ring, &r, now, STALL_NS, &h->skipped)) {
			take(arg, &r, &h->who);
			got++;
			idle = 0;
		} else {
			idle++;
		}
	}
	return got;
}

size_t regions_forget(struct regions *rs, const char *svc, const char *container_id,
		      const char *pod_uid)
{
	return redagg_forget(rs->retired, svc, container_id, pod_uid);
}

int regions_relabel(struct regions *rs, pid_t pid, const struct regions_who *who)
{
	int found = 0;

	/* every one: the shim's, and the collector's own for kernel-side capture */
	for (size_t i = 0; i < rs->n; i++) {
		struct held *h = rs->held[i];

		if (h->who.pid != (uint32_t)pid)
			continue;
		str_copy(h->who.service, sizeof(h->who.service), who->service);
		str_copy(h->who.container_id, sizeof(h->who.container_id), who->container_id);
		str_copy(h->who.pod_uid, sizeof(h->who.pod_uid), who->pod_uid);
		h->who.labels_id = ++rs->labels_ids;
		found = 1;
	}
	return found;
}

void regions_merge(struct regions *rs, struct redagg *a, int64_t unix_off, int agent)
{
	redagg_merge(a, rs->retired, agent);
	for (size_t i = 0; i < rs->n; i++)
		merge_one(rs->held[i], a, unix_off, agent);
}

void regions_counters(struct regions *rs, uint64_t out[REGION_COUNTERS])
{
	for (int c = 0; c < REGION_COUNTERS; c++) {
		out[c] = rs->retired_counter[c];
		for (size_t i = 0; i < rs->n; i++)
			out[c] += region_counter(&rs->held[i]->r, (enum region_counter)c);
	}
}

void regions_ring_losses(struct regions *rs, uint64_t *full, uint64_t *stalled)
{
	*full = rs->retired_ring_full;
	*stalled = rs->retired_stalled;
	for (size_t i = 0; i < rs->n; i++) {
		*full += __atomic_load_n(&rs->held[i]->r.ring.hdr->dropped, __ATOMIC_RELAXED);
		*stalled += rs->held[i]->skipped;
	}
}

void regions_unknown(struct regions *rs, void (*fn)(void *arg, const char *svc, uint64_t n),
		     void *arg)
{
	struct svc_count t[SVC_MAX];
	size_t n = rs->nretired_unknown;

	memcpy(t, rs->retired_unknown, n * sizeof(t[0]));
	for (size_t i = 0; i < rs->n; i++)
		count_unknown(t, &n, rs->held[i]->who.service,
			      region_counter(&rs->held[i]->r, REGION_CTX_UNKNOWN));
	for (size_t i = 0; i < n; i++)
		fn(arg, t[i].service, t[i].n);
}

void regions_set(struct regions *rs, int export_spans, enum spanring_sample mode, double ratio,
		 const struct route_table *routes)
{
	rs->export_spans = export_spans;
	rs->mode = mode;
	rs->ratio = ratio;
	if (routes)
		rs->routes = *routes;
	for (size_t i = 0; i < rs->n; i++) {
		region_set_routes(&rs->held[i]->r, &rs->routes);
		region_set_export(&rs->held[i]->r, export_spans, mode, ratio);
	}
}

uint64_t regions_refused(const struct regions *rs)
{
	return rs->refused;
}

size_t regions_held(const struct regions *rs)
{
	return rs->n;
}

unsigned regions_fill_max(const struct regions *rs)
{
	uint64_t most = 0;

	for (size_t i = 0; i < rs->n; i++) {
		const struct spanring *r = &rs->held[i]->r.ring;
		/* rounded up: one span waiting is not 0% */
		uint64_t pct = (spanring_used(r) * 100 + r->mask) / (r->mask + 1);
		most = pct > most ? pct : most;
	}
	return (unsigned)most;
}

int regions_announced(const struct regions *rs)
{
	if (rs->npending)
		return 0;
	for (size_t i = 0; i < rs->n; i++) {
		const struct spanring *r = &rs->held[i]->r.ring;

		if (!spanring_armed(r, (r->mask + 1) / 2))
			return 0;
	}
	return 1;
}

void regions_close(struct regions *rs)
{
	if (!rs)
		return;
	for (size_t i = 0; i < rs->n; i++) {
		munmap(rs->held[i]->mem, rs->held[i]->len);
		close(rs->held[i]->sock);
		free(rs->held[i]);
	}
	for (size_t i = 0; i < rs->npending; i++)
		close(rs->pending[i].sock);
	if (rs->lfd >= 0)
		close(rs->lfd);
	if (rs->path[0] && rs->path[0] != '@')
		unlink(rs->path);
	redagg_free(rs->retired);
	free(rs);
}
