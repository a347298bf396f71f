/*
 * parent - whose child an outgoing request is, or that this cannot be
 * known. A wrong parent is worse than none: a trace that looks whole and
 * lies. So a request is made the child of a server request only where
 * that is certain, and otherwise starts a new trace marked unknown
 * (never a guess):
 *
 *  - A thread that has never waited on several file descriptors (no
 *    epoll, no poll or select of more than one), never read an HTTP/2
 *    stream and never answered a request another thread read handles one
 *    request at a time: a thread-per-request server. Its outgoing request
 *    belongs to the one server request in flight that it read.
 *  - Any other thread is a shared worker: an event loop, a multiplexed
 *    connection's reader, a pool that reads for some requests and writes
 *    for others (python3-grpcio's executors do all of it with no epoll of
 *    their own, and under the thread rule once wrote one call's request
 *    under another's context). It interleaves requests, and tasks may
 *    move between threads (tokio): its outgoing request belongs to a
 *    server request only if that is the only one in flight in the whole
 *    process, and this thread read it.
 *  - No server request in flight anywhere: a new trace (a client, a
 *    background job). Some in flight, but none the thread can claim: work
 *    handed to another thread or deferred: unknown.
 *
 * Better signals come from outside this file and win over these rules: the
 * app's own traceparent, a runtime helper naming the incoming request
 * (the registry below), and the request in flight when the outgoing
 * connection was opened (host.c).
 *
 * Per thread: a slot in a process-wide table (in-flight count and the
 * last request read, changed by whichever thread ends a request) and the
 * context of that last request (thread-local). The registry maps an
 * incoming request's key (fd, peer port, HTTP/2 stream) to its context
 * for the helpers; it exists only once a helper has announced itself.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>

#include "parent.h"

#define SLOTS	  4096 /* threads that have read a server request */
#define LIVE	  4    /* requests in flight a thread keeps the contexts of */
#define REG_SIZE  4096 /* server requests in flight a helper may name */
#define REG_PROBE 32
#define REG_CLAIM 2

struct slot {
	uint64_t state;	     /* generation << 32 | server requests in flight read here */
	uint64_t live[LIVE]; /* span ids of some of them (0: free), cleared as they end */
	uint32_t owner;	     /* 1: a live thread holds it */
};

struct reg_entry {
	uint32_t seq; /* odd while written */
	uint32_t used;
	int32_t fd;
	uint16_t port;
	uint32_t stream;
	uint64_t span;
	struct parent_ref ref;
};

static struct slot *slots;
static struct reg_entry *reg;
static int helpers;	  /* a runtime helper announced itself: keep the registry */
static uint64_t inflight; /* server requests in flight in the process */
static uint64_t begun;	  /* server requests begun in the process */
static pthread_key_t slot_key;

static __thread int my_slot = -1;
static __thread uint32_t my_gen;
static __thread uint8_t my_loop;
/* the contexts of the requests in slot.live[], same index */
static __thread struct parent_ref my_ctx[LIVE];

static void *map_zeroed(size_t n)
{
	void *m = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		       -1, 0);

	return m == MAP_FAILED ? NULL : m;
}

static uint64_t span_word(const uint8_t span[8])
{
	uint64_t v;

	memcpy(&v, span, 8);
	return v ? v : 1;
}

/* A thread that ends gives its slot back: later decrements for requests
 * it read are ignored (the generation changed). */
static void slot_release(void *arg)
{
	struct slot *s = arg;
	uint64_t st = __atomic_load_n(&s->state, __ATOMIC_RELAXED);

	__atomic_store_n(&s->state, ((st >> 32) + 1) << 32, __ATOMIC_RELEASE);
	for (int i = 0; i < LIVE; i++)
		__atomic_store_n(&s->live[i], 0, __ATOMIC_RELAXED);
	__atomic_store_n(&s->owner, 0, __ATOMIC_RELEASE);
}

void parent_init(void)
{
	int e = errno;

	slots = map_zeroed(SLOTS * sizeof(*slots));
	pthread_key_create(&slot_key, slot_release);
	errno = e;
}

void parent_after_fork(void)
{
	/* the parent's requests are not the child's: it starts with none */
	__atomic_store_n(&inflight, 0, __ATOMIC_RELAXED);
	for (int i = 0; slots && i < SLOTS; i++)
		if (i != my_slot && __atomic_load_n(&slots[i].owner, __ATOMIC_RELAXED))
			slot_release(&slots[i]);
	if (my_slot >= 0) {
		__atomic_store_n(&slots[my_slot].state, (uint64_t)my_gen << 32, __ATOMIC_RELAXED);
		for (int i = 0; i < LIVE; i++)
			__atomic_store_n(&slots[my_slot].live[i], 0, __ATOMIC_RELAXED);
	}
	for (int i = 0; reg && i < REG_SIZE; i++)
		__atomic_store_n(&reg[i].used, 0, __ATOMIC_RELAXED);
}

void parent_loop_wait(void)
{
	my_loop = 1;
}

static int my_slot_get(void)
{
	if (my_slot >= 0 || !slots)
		return my_slot;
	for (int i = 0; i < SLOTS; i++) {
		uint32_t free = 0;
		if (__atomic_compare_exchange_n(&slots[i].owner, &free, 1, 0, __ATOMIC_ACQ_REL,
						__ATOMIC_RELAXED)) {
			my_slot = i;
			my_gen =
			    (uint32_t)(__atomic_load_n(&slots[i].state, __ATOMIC_ACQUIRE) >> 32);
			pthread_setspecific(slot_key, &slots[i]);
			return i;
		}
	}
	return -1; /* more threads than slots: this one's requests are not claimed */
}

/* ---- the registry: in-flight server requests a helper may name ---------- */

void parent_helpers_on(void)
{
	if (__atomic_load_n(&helpers, __ATOMIC_ACQUIRE))
		return;
	reg = map_zeroed(REG_SIZE * sizeof(*reg));
	__atomic_store_n(&helpers, reg != NULL, __ATOMIC_RELEASE);
}

/* HTTP/1 requests of a connection share a chain (the helper names the
 * connection), HTTP/2 streams spread. */
static size_t reg_hash(int fd, uint16_t port, uint32_t stream)
{
	uint64_t h = (uint64_t)(uint32_t)fd * 0x9e3779b97f4a7c15ULL ^ port ^ (uint64_t)stream << 17;

	return (size_t)(h ^ h >> 29) & (REG_SIZE - 1);
}

/* A context into r, its tracestate's bytes only: a whole parent_ref is
 * 0.5 KiB, nearly all of it an empty tracestate's room (copied whole, twice
 * per server request, it cost ~78 ns an exchange in shimcost). Bounded
 * whatever len says: a registry entry may be read torn. */
static void ref_set(struct parent_ref *r, const struct tp_ctx *ctx, const char *ts, uint16_t len)
{
	uint16_t n = len < TP_TRACESTATE_MAX ? len : TP_TRACESTATE_MAX;

	r->ctx = *ctx;
	r->tracestate_len = n;
	memcpy(r->tracestate, ts, n);
	r->tracestate[n] = 0;
}

/* The context a server exchange gives its calls. */
static void ref_fill(struct parent_ref *r, const struct exchange *x)
{
	ref_set(r, &x->ctx, x->tracestate, x->tracestate_len);
}

static void ref_copy(struct parent_ref *dst, const struct parent_ref *src)
{
	ref_set(dst, &src->ctx, src->tracestate, src->tracestate_len);
}

static void reg_add(int fd, uint16_t port, uint32_t stream, uint64_t span, const struct exchange *x)
{
	size_t h = reg_hash(fd, port, stream);

	for (int i = 0; i < REG_PROBE; i++) {
		struct reg_entry *e = &reg[(h + (size_t)i) & (REG_SIZE - 1)];
		uint32_t free = 0;
		if (!__atomic_compare_exchange_n(&e->used, &free, REG_CLAIM, 0, __ATOMIC_ACQ_REL,
						 __ATOMIC_RELAXED))
			continue;
		__atomic_add_fetch(&e->seq, 1, __ATOMIC_ACQ_REL);
		e->fd = fd;
		e->port = port;
		e->stream = stream;
		e->span = span;
		ref_fill(&e->ref, x);
		__atomic_add_fetch(&e->seq, 1, __ATOMIC_ACQ_REL);
		__atomic_store_n(&e->used, 1, __ATOMIC_RELEASE);
		return;
	}
	/* full: a helper naming it finds nothing and the request's calls are unknown */
}

static void reg_remove(int fd, uint16_t port, uint32_t stream, uint64_t span)
{
	size_t h = reg_hash(fd, port, stream);

	for (int i = 0; i < REG_PROBE; i++) {
		struct reg_entry *e = &reg[(h + (size_t)i) & (REG_SIZE - 1)];
		if (__atomic_load_n(&e->used, __ATOMIC_ACQUIRE) == 1 && e->span == span &&
		    e->fd == fd && e->stream == stream) {
			__atomic_add_fetch(&e->seq, 1, __ATOMIC_ACQ_REL);
			e->span = 0;
			__atomic_add_fetch(&e->seq, 1, __ATOMIC_ACQ_REL);
			__atomic_store_n(&e->used, 0, __ATOMIC_RELEASE);
			return;
		}
	}
}

enum parent_how parent_for_key(int fd, uint16_t port, uint32_t stream, struct parent_ref *out)
{
	size_t h = reg_hash(fd, port, stream);
	int found = 0;

	if (!__atomic_load_n(&helpers, __ATOMIC_ACQUIRE))
		return PARENT_UNKNOWN;
	for (int i = 0; i < REG_PROBE; i++) {
		struct reg_entry *e = &reg[(h + (size_t)i) & (REG_SIZE - 1)];
		uint32_t s1 = __atomic_load_n(&e->seq, __ATOMIC_ACQUIRE), s2;
		int match;

		if (__atomic_load_n(&e->used, __ATOMIC_ACQUIRE) != 1 || (s1 & 1))
			continue;
		match = e->fd == fd && e->port == port && e->stream == stream;
		/* read under the seqlock straight into *out, bounded whatever
		 * was torn; a second match or a change makes the answer unknown
		 * and *out unused */
		if (match)
			ref_copy(out, &e->ref);
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		s2 = __atomic_load_n(&e->seq, __ATOMIC_RELAXED);
		if (s1 != s2)
			return PARENT_UNKNOWN; /* changed under us: do not guess */
		if (match && found++)
			return PARENT_UNKNOWN; /* pipelined: two in flight on it */
	}
	return found ? PARENT_FOUND : PARENT_UNKNOWN;
}

/* ---- server requests ------------------------------------------------------- */

uint64_t parent_begun(void)
{
	return __atomic_load_n(&begun, __ATOMIC_ACQUIRE);
}

void parent_server_begin(struct exchange *x, int fd, uint16_t port, uint32_t stream)
{
	int s = my_slot_get();
	uint64_t span = span_word(x->ctx.span_id);

	/* An HTTP/2 stream's reader reads a connection that multiplexes
	 * requests: it interleaves them like an event loop, whatever it
	 * waits on (python3-grpcio's executor threads read and write for
	 * every call with no epoll of their own). */
	if (stream)
		my_loop = 1;
	__atomic_add_fetch(&begun, 1, __ATOMIC_ACQ_REL);
	__atomic_add_fetch(&inflight, 1, __ATOMIC_ACQ_REL);
	x->host[0] = PARENT_COUNTED | (uint64_t)stream << 32;
	if (s >= 0) {
		struct slot *sl = &slots[s];
		__atomic_add_fetch(&sl->state, 1, __ATOMIC_ACQ_REL);
		x->host[1] = (uint64_t)(uint32_t)s << 32 | my_gen;
		x->host[0] |= PARENT_ON_SLOT;
		/* keep its context; no room: the count says more than the list */
		for (int i = 0; i < LIVE; i++) {
			if (__atomic_load_n(&sl->live[i], __ATOMIC_ACQUIRE))
				continue;
			ref_fill(&my_ctx[i], x);
			__atomic_store_n(&sl->live[i], span, __ATOMIC_RELEASE);
			break;
		}
	}
	if (__atomic_load_n(&helpers, __ATOMIC_ACQUIRE) && fd >= 0) {
		reg_add(fd, port, stream, span, x);
		x->host[0] |= PARENT_REGISTERED;
	}
}

void parent_server_end(const struct exchange *x, int fd, uint16_t port)
{
	uint64_t span = span_word(x->ctx.span_id);
	uint32_t stream = (uint32_t)(x->host[0] >> 32);

	if (!(x->host[0] & PARENT_COUNTED))
		return;
	__atomic_sub_fetch(&inflight, 1, __ATOMIC_ACQ_REL);
	if (x->host[0] & PARENT_ON_SLOT) {
		struct slot *s = &slots[x->host[1] >> 32];
		uint64_t gen = (uint32_t)x->host[1],
			 st = __atomic_load_n(&s->state, __ATOMIC_ACQUIRE);
		/* A thread that answers a request another thread read works for
		 * many requests (a pool handed them over): not thread-per-request. */
		if ((int)(x->host[1] >> 32) != my_slot || (uint32_t)gen != my_gen)
			my_loop = 1;
		/* only while the thread that read it still holds the slot */
		while (st >> 32 == gen && (uint32_t)st &&
		       !__atomic_compare_exchange_n(&s->state, &st, st - 1, 1, __ATOMIC_ACQ_REL,
						    __ATOMIC_ACQUIRE))
			;
		for (int i = 0; i < LIVE; i++) {
			uint64_t want = span;
			if (__atomic_compare_exchange_n(&s->live[i], &want, 0, 0, __ATOMIC_ACQ_REL,
							__ATOMIC_RELAXED))
				break;
		}
	}
	if (x->host[0] & PARENT_REGISTERED)
		reg_remove(fd, port, stream, span);
}

enum parent_how parent_for_thread(struct parent_ref *out)
{
	uint64_t all = __atomic_load_n(&inflight, __ATOMIC_ACQUIRE), st;
	struct slot *sl;
	int found = -1, n = 0;

	if (my_slot < 0 || !slots)
		return all ? PARENT_UNKNOWN : PARENT_ROOT;
	sl = &slots[my_slot];
	st = __atomic_load_n(&sl->state, __ATOMIC_ACQUIRE);
	if ((uint32_t)st == 0)
		return all ? PARENT_UNKNOWN : PARENT_ROOT;
	if ((uint32_t)st != 1 || (my_loop && all != 1))
		return PARENT_UNKNOWN; /* several: which one cannot be known */
	for (int i = 0; i < LIVE; i++) {
		uint64_t v = __atomic_load_n(&sl->live[i], __ATOMIC_ACQUIRE);
		if (v && span_word(my_ctx[i].ctx.span_id) == v)
			found = i, n++;
	}
	if (n != 1)
		return PARENT_UNKNOWN;
	ref_copy(out, &my_ctx[found]);
	return PARENT_FOUND;
}
