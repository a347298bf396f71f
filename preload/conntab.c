/*
 * conntab - the shim's connection table: a fixed pool of connection
 * states (CONN_POOL entries, mapped once, pages touched only when used)
 * indexed by fd, their locks, and their life from socket/accept/connect
 * to close. A connection the pool has no room for is simply not followed.
 * A per-connection try-lock keeps two threads (or a signal handler) from
 * touching one state at once: the loser passes its bytes straight
 * through and the connection stops being followed.
 */
#include <errno.h>
#include <sched.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/mman.h>

#include "conn_priv.h"
#include "registry.h"

static struct conn *pool;
static uint64_t free_head;  /* tag << 32 | (index + 1) of entries given back */
static uint32_t never_used; /* entries from here on were never handed out */
static struct conn *by_fd[CONN_FD_MAX];

void conn_init(void)
{
	/* address space only: an entry's pages are touched when it is first
	 * handed out (no free list to build through all of them) */
	void *m = mmap(NULL, sizeof(struct conn) * CONN_POOL, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (m != MAP_FAILED)
		pool = m;
}

static struct conn *pool_get(void)
{
	uint64_t h = __atomic_load_n(&free_head, __ATOMIC_ACQUIRE), n;
	struct conn *c;

	do {
		uint32_t idx = (uint32_t)h;
		if (!pool)
			return NULL;
		if (!idx) { /* none given back: a new one */
			uint32_t i = __atomic_fetch_add(&never_used, 1, __ATOMIC_RELAXED);
			return i < CONN_POOL ? &pool[i] : NULL;
		}
		c = &pool[idx - 1];
		n = ((h >> 32) + 1) << 32 | __atomic_load_n(&c->next_free, __ATOMIC_RELAXED);
	} while (
	    !__atomic_compare_exchange_n(&free_head, &h, n, 1, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE));
	return c;
}

static void pool_put(struct conn *c)
{
	uint32_t idx = (uint32_t)(c - pool) + 1;
	uint64_t h = __atomic_load_n(&free_head, __ATOMIC_ACQUIRE), n;

	do {
		__atomic_store_n(&c->next_free, (uint32_t)h, __ATOMIC_RELAXED);
		n = ((h >> 32) + 1) << 32 | idx;
	} while (
	    !__atomic_compare_exchange_n(&free_head, &h, n, 1, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE));
}

static __thread char lock_tag SHIM_TLS_MODEL; /* its address names this thread */

/* The lock word: this thread's tag, and the fork generation it was taken
 * in, so a lock a parent's other thread held at fork() is seen as orphaned
 * in the child (that thread does not exist there). */
static uintptr_t lock_self(void)
{
	return (uintptr_t)ctx_fork_gen() << 48 | ((uintptr_t)&lock_tag & ((1ULL << 48) - 1));
}

/*
 * The lock waits: many runtimes read a connection on one thread while
 * another writes it (gRPC, Java's HttpClient, any selector-thread
 * client), and a connection given up at the first overlap would lose
 * every later request on it. That is safe because no holder does I/O
 * under it (conn_io_unlocked): a holder only parses. The same thread (a
 * signal handler) never waits for itself: it passes through and the
 * connection stops being followed; and a lock orphaned by fork() is taken
 * over (the connection then stops being followed: its state may be
 * half-updated).
 */
int conn_lock(struct conn *c)
{
	uintptr_t self = lock_self(), cur;

	for (;;) {
		cur = 0;
		if (__atomic_compare_exchange_n(&c->lock, &cur, self, 0, __ATOMIC_ACQUIRE,
						__ATOMIC_RELAXED))
			return 1;
		if (cur == self)
			return 0;
		if (cur >> 48 != self >> 48) { /* held across a fork: nobody will free it */
			if (__atomic_compare_exchange_n(&c->lock, &cur, self, 0, __ATOMIC_ACQUIRE,
							__ATOMIC_RELAXED)) {
				c->pc.dead = 1;
				c->io_busy = 0;
				return 1;
			}
			continue;
		}
		sched_yield();
	}
}

void conn_unlock(struct conn *c)
{
	__atomic_store_n(&c->lock, 0, __ATOMIC_RELEASE);
}

ssize_t conn_io_unlocked(struct conn *c, conn_io_fn io, void *arg, const struct iovec *iov,
			 int iovcnt)
{
	ssize_t k;
	int e;

	if (c->io_busy)
		c->pc.dead = 1; /* two writes at once on one connection: stop following */
	c->io_busy++;		/* while set, nobody frees c's state (release, EOF) */
	conn_unlock(c);
	k = io(arg, iov, iovcnt);
	e = errno;
	while (!conn_lock(c))
		sched_yield();
	c->io_busy--;
	errno = e;
	return k;
}

static void conn_reset(struct conn *c, enum conn_kind kind, int fd)
{
	c->lock = 0;
	c->io_busy = 0;
	c->detached = 0;
	c->fd = fd;
	c->requests = 0;
	c->origin_valid = 0;
	c->hint.kind = HINT_NONE;
	for (int i = 0; i < CONN_H2HINTS; i++)
		c->h2hint[i].kind = HINT_NONE;
	c->h2next = 0;
	pconn_init(&c->pc, &shim_host, proto_handlers, (enum proto_side)kind);
}

static int inet_family(const struct sockaddr *sa)
{
	return sa && (sa->sa_family == AF_INET || sa->sa_family == AF_INET6);
}

/* With c locked and no longer reachable: end it and recycle the entry. */
static void conn_release(struct conn *c)
{
	if (c->io_busy) {
		c->pc.dead = 1; /* a write is in the kernel: it still uses the state; leak it */
		conn_unlock(c);
		return;
	}
	if (c->pc.h)
		pconn_eof(&c->pc, ctx_now());
	pconn_release(&c->pc);
	pool_put(c);
}

static void release_fd(int fd)
{
	struct conn *c;

	if (fd < 0 || fd >= CONN_FD_MAX)
		return;
	c = __atomic_exchange_n(&by_fd[fd], NULL, __ATOMIC_ACQ_REL);
	/* busy in another thread (the app closes an fd it is using): leak
	 * the entry rather than recycle state someone is touching */
	if (c && conn_lock(c))
		conn_release(c);
}

static struct conn *track(int fd, enum conn_kind kind, const struct sockaddr *sa, socklen_t len)
{
	struct conn *c;

	if (fd < 0 || fd >= CONN_FD_MAX) {
		ctx_count(PROTO_COUNT_UNTRACKED);
		return NULL;
	}
	release_fd(fd);
	c = pool_get();
	if (!c) {
		ctx_count(PROTO_COUNT_UNTRACKED);
		return NULL;
	}
	conn_reset(c, kind, fd);
	pconn_peer(&c->pc, sa, len);
	__atomic_store_n(&by_fd[fd], c, __ATOMIC_RELEASE);
	return c;
}

void conn_on_socket(int fd)
{
	release_fd(fd);
}

void conn_on_accept(int fd, const struct sockaddr *peer, socklen_t len)
{
	if (peer && !inet_family(peer))
		return; /* unix sockets: not HTTP we report */
	track(fd, CONN_SERVER, peer, len);
}

/* A connection opened while the thread could name the one request it
 * serves was opened for that request: its first request's parent, even
 * if written in a later turn of an event loop, as long as no other server
 * request began meanwhile (its call might be the first one written: an
 * HTTP/2 channel's queued calls, a pool handing the new connection to
 * whoever asks next). */
static struct conn *track_client(int fd, const struct sockaddr *peer, socklen_t len)
{
	struct conn *c = track(fd, CONN_CLIENT, peer, len);

	if (c) {
		c->origin_begun = parent_begun();
		c->origin_valid = parent_for_thread(&c->origin) == PARENT_FOUND;
	}
	return c;
}

void conn_on_connect(int fd, const struct sockaddr *peer, socklen_t len)
{
	if (!inet_family(peer))
		return;
	track_client(fd, peer, len);
}

int conn_on_connect_early(int fd, const struct sockaddr *peer, socklen_t len)
{
	if (!inet_family(peer) || fd < 0 || fd >= CONN_FD_MAX ||
	    __atomic_load_n(&by_fd[fd], __ATOMIC_ACQUIRE))
		return 0; /* a repeated connect (EALREADY, EISCONN) must not reset it */
	return track_client(fd, peer, len) != NULL;
}

void conn_on_close(int fd)
{
	release_fd(fd);
}

struct conn *conn_lookup(int fd)
{
	if (fd < 0 || fd >= CONN_FD_MAX)
		return NULL;
	return __atomic_load_n(&by_fd[fd], __ATOMIC_ACQUIRE);
}

/* ---- TLS ----------------------------------------------------------------- */

enum conn_kind conn_claim_for_tls(int fd)
{
	struct conn *c = conn_lookup(fd);

	if (!c)
		return CONN_NONE;
	c->pc.tls = 1; /* raw bytes on this fd are ciphertext from now on */
	return (enum conn_kind)c->pc.side;
}

struct conn *conn_new_detached(enum conn_kind kind, int fd)
{
	struct conn *src = conn_lookup(fd), *c = pool_get();

	if (!c) {
		ctx_count(PROTO_COUNT_UNTRACKED);
		return NULL;
	}
	conn_reset(c, kind, -1);
	c->detached = 1;
	c->pc.write_cap = TLS_WBUF_MAX;
	if (src) {
		memcpy(c->pc.peer, src->pc.peer, sizeof(c->pc.peer));
		c->pc.peer_port = src->pc.peer_port;
		c->origin_valid = src->origin_valid;
		c->origin_begun = src->origin_begun;
		if (src->origin_valid)
			c->origin = src->origin;
	}
	c->pc.tls = 1;
	return c;
}

void conn_free_detached(struct conn *c)
{
	if (conn_lock(c))
		conn_release(c);
}

char *conn_tls_wbuf(struct conn *c, size_t need)
{
	if (need > TLS_WBUF_MAX)
		return NULL;
	if (!c->wbuf) {
		void *m = mmap(NULL, TLS_WBUF_MAX, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (m == MAP_FAILED)
			return NULL;
		c->wbuf = m;
	}
	return c->wbuf;
}
