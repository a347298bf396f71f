/*
 * ctx - ids, the clock, sampling, contexts, and what becomes of a
 * finished span in the shim.
 *
 * Ids come from a per-thread xoshiro256** generator seeded from
 * getrandom(2) once per thread (and again in a forked child, so parent and
 * child never repeat ids). Only a sampled span, when the collector
 * exports spans, goes to the ring in this process's region (link.c); the
 * others are counted there and cost nothing more. Without a collector
 * nothing is kept, at the cost of one branch.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "link.h"
#include "rng.h"
#include "pconn.h"
#include "shim.h"

static __thread struct rng rng SHIM_TLS_MODEL;
static __thread unsigned rng_gen SHIM_TLS_MODEL;
static unsigned fork_gen = 1; /* bumped in a forked child: reseed */

/* Sampler: parentbased_* follow the parent; roots use ratio (0..1). */
static int sample_parent_based = 1;
static double sample_ratio = 1.0;
static int sampler_from_env; /* the process set OTEL_TRACES_SAMPLER */

static void seed(void)
{
	uint64_t s[4] = {0};
	int e = errno;

	if (getrandom(s, sizeof(s), GRND_NONBLOCK) != (ssize_t)sizeof(s)) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		s[0] ^= (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ULL;
		s[1] ^= (uint64_t)ts.tv_sec ^ (uint64_t)getpid() << 32;
		s[2] ^= (uint64_t)(uintptr_t)&s;
		s[3] ^= (uint64_t)syscall(SYS_gettid) * 0xbf58476d1ce4e5b9ULL;
	}
	rng_seed(&rng, s);
	rng_gen = __atomic_load_n(&fork_gen, __ATOMIC_RELAXED);
	errno = e;
}

void ctx_random(uint8_t *out, size_t n)
{
	if (rng_gen != __atomic_load_n(&fork_gen, __ATOMIC_RELAXED))
		seed();
	rng_fill(&rng, out, n);
}

static pid_t cached_pid;
static uint64_t cached_pidns;

uint32_t ctx_pid(void)
{
	pid_t p = __atomic_load_n(&cached_pid, __ATOMIC_RELAXED);

	if (!p) {
		struct stat st;
		int e = errno;

		p = getpid();
		/* a child forked after unshare(CLONE_NEWPID) is in a new one */
		__atomic_store_n(&cached_pidns, stat("/proc/self/ns/pid", &st) ? 0 : st.st_ino,
				 __ATOMIC_RELAXED);
		errno = e;
		__atomic_store_n(&cached_pid, p, __ATOMIC_RELAXED);
	}
	return (uint32_t)p;
}

uint64_t ctx_pidns(void)
{
	ctx_pid();
	return __atomic_load_n(&cached_pidns, __ATOMIC_RELAXED);
}

unsigned ctx_fork_gen(void)
{
	return __atomic_load_n(&fork_gen, __ATOMIC_RELAXED);
}

void ctx_after_fork(void)
{
	__atomic_store_n(&cached_pid, 0, __ATOMIC_RELAXED);
	__atomic_add_fetch(&fork_gen, 1, __ATOMIC_RELAXED);
}

uint64_t ctx_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts); /* vDSO: no syscall */
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

uint64_t ctx_now_coarse(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts); /* 5 ns here, 23 for the above */
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* obs's sampler from the region (the collector's settings; SIGHUP
 * changes it), when it applies to this process: its threshold, else -1. */
static int64_t region_sampler(void)
{
	struct region *r = link_region();
	uint32_t mode;

	if (!r)
		return -1;
	mode = __atomic_load_n(&r->hdr->sample_mode, __ATOMIC_ACQUIRE);
	if (mode == SPANRING_SAMPLE_FORCE || (mode == SPANRING_SAMPLE_CONFIG && !sampler_from_env))
		return (int64_t)__atomic_load_n(&r->hdr->sample_q53, __ATOMIC_ACQUIRE);
	return -1;
}

int ctx_sample_root(const uint8_t trace_id[16])
{
	int64_t q53 = region_sampler();

	if (q53 >= 0)
		return (int64_t)tp_ratio_key(trace_id) < q53;
	if (sample_ratio >= 1.0)
		return 1;
	if (sample_ratio <= 0.0)
		return 0;
	return (double)tp_ratio_key(trace_id) < sample_ratio * (double)(1ULL << 53);
}

static void parse_sampler(void)
{
	const char *s = getenv("OTEL_TRACES_SAMPLER"), *arg = getenv("OTEL_TRACES_SAMPLER_ARG");
	double r = 1.0;

	if (arg && *arg) {
		char *end;
		r = strtod(arg, &end);
		if (*end || r < 0 || r > 1)
			r = 1.0; /* the spec: an invalid argument falls back to the default */
	}
	sampler_from_env = s && *s;
	if (!s || !*s || !strcmp(s, "parentbased_always_on")) {
		sample_ratio = 1.0;
	} else if (!strcmp(s, "always_on")) {
		sample_ratio = 1.0, sample_parent_based = 0;
	} else if (!strcmp(s, "always_off")) {
		sample_ratio = 0.0, sample_parent_based = 0;
	} else if (!strcmp(s, "parentbased_always_off")) {
		sample_ratio = 0.0;
	} else if (!strcmp(s, "traceidratio")) {
		sample_ratio = r, sample_parent_based = 0;
	} else if (!strcmp(s, "parentbased_traceidratio")) {
		sample_ratio = r;
	}
}

int ctx_parent_based(void)
{
	if (region_sampler() >= 0)
		return 1;
	return sample_parent_based;
}

void ctx_init(void)
{
	int e = errno;

	parse_sampler();
	errno = e;
}

void ctx_count(enum proto_count what)
{
	static const enum region_counter to[] = {
	    [PROTO_COUNT_UNTRACKED] = REGION_UNTRACKED,
	    [PROTO_COUNT_PARSE_ERROR] = REGION_PARSE_ERRORS,
	    [PROTO_COUNT_INJECTED] = REGION_INJECTED,
	    [PROTO_COUNT_INJECT_SKIPPED] = REGION_INJECT_SKIPPED,
	};
	struct region *r = link_region();

	if (r && (unsigned)what < sizeof(to) / sizeof(to[0]))
		region_count(r, to[what]);
}

/* ---- exchanges: whose child a span is, and the thread's active span ---- */

static void new_root(struct tp_ctx *ctx)
{
	uint8_t rnd[24];

	ctx_random(rnd, sizeof(rnd));
	tp_new_root(ctx, rnd, 0);
	ctx->flags =
	    (uint8_t)((ctx_sample_root(ctx->trace_id) ? TP_FLAG_SAMPLED : 0) | TP_FLAG_RANDOM);
}

static void child_of(struct exchange *x, const struct tp_ctx *parent)
{
	uint8_t rnd[8];

	ctx_random(rnd, sizeof(rnd));
	tp_new_child(&x->ctx, parent, rnd);
	if (!ctx_parent_based())
		x->ctx.flags = (uint8_t)((x->ctx.flags & ~TP_FLAG_SAMPLED) |
					 (ctx_sample_root(x->ctx.trace_id) ? TP_FLAG_SAMPLED : 0));
	memcpy(x->parent, parent->span_id, 8);
	x->flags |= SPAN_F_HAS_PARENT;
}

void ctx_server_context(struct exchange *x, const char *tp, size_t tp_len, int count,
			const char *ts, size_t ts_len, int ts_bad)
{
	struct tp_ctx in;

	x->tracestate_len = 0;
	if (count == 1 && !tp_parse(tp, tp_len, &in)) {
		child_of(x, &in);
		x->flags |= SPAN_F_REMOTE_PARENT;
		/* tracestate only travels with a valid traceparent (W3C 3.3.1) */
		if (ts_len && !ts_bad && !tp_tracestate_valid(ts, ts_len)) {
			memcpy(x->tracestate, ts, ts_len);
			x->tracestate_len = (uint16_t)ts_len;
		}
	} else {
		if (count)
			x->flags |= SPAN_F_BAD_TRACEPARENT; /* invalid or repeated: restart */
		new_root(&x->ctx);
	}
	x->tracestate[x->tracestate_len] = 0;
}

void ctx_child_of_ref(struct exchange *x, const struct tp_ctx *parent, const char *ts,
		      uint16_t ts_len)
{
	exchange_clear(x);
	child_of(x, parent);
	x->tracestate_len = ts_len;
	memcpy(x->tracestate, ts, ts_len);
	x->tracestate[ts_len] = 0;
}

void ctx_new_root(struct exchange *x)
{
	exchange_clear(x);
	new_root(&x->ctx);
}

int ctx_adopt(struct exchange *x, const char *tp, size_t tp_len)
{
	struct tp_ctx app;

	if (tp_parse(tp, tp_len, &app) || !memcmp(app.span_id, x->ctx.span_id, 8))
		return -1; /* not valid, or the one we injected */
	/* the app propagates itself: our span is a child of the app's */
	x->flags = 0;
	child_of(x, &app);
	x->flags |= SPAN_F_APP_CONTEXT;
	x->tracestate_len = 0;
	x->tracestate[0] = 0;
	return 0;
}

void ctx_emit(struct span_rec *r)
{
	struct region *reg = link_region();

	if (!reg)
		return; /* no collector: dropped at once */
	if (!(r->trace_flags & TP_FLAG_SAMPLED)) {
		region_count(reg, REGION_SPANS_UNSAMPLED);
		return; /* counted in the metrics; nothing crosses */
	}
	if (!__atomic_load_n(&reg->hdr->export_spans, __ATOMIC_ACQUIRE)) {
		region_count(reg, REGION_SPANS_NOEXPORT);
		return;
	}
	r->pid = ctx_pid();
	r->pidns = ctx_pidns();
	region_count(reg, REGION_SPANS_SAMPLED);
	if (spanring_push(&reg->ring, r) > 0) /* full: dropped and counted */
		link_wake();
}
