/*
 * tls - the OpenSSL interposers: plaintext HTTP/1 inside TLS, seen at
 * SSL_read/SSL_write (and the _ex forms) of the system libssl.so.3.
 *
 * Connections are keyed by the SSL* (a bounded open-addressing table), so
 * TLS over any BIO is followed; when the SSL* sits on a socket the shim
 * knows, that socket's raw bytes (ciphertext) are no longer parsed.
 *
 * Injection keeps OpenSSL's retry contract: a write that grew is handed to
 * OpenSSL from a per-connection buffer, and the app's retry of the same
 * SSL_write (after SSL_ERROR_WANT_WRITE) hands the same bytes at the same
 * address again. Programs that carry their own OpenSSL inside the binary
 * (Node.js) are not seen here.
 */
#include <dlfcn.h>
#include <errno.h>
#include <string.h>

#include "shim.h"

#define EXPORT	  __attribute__((visibility("default")))
#define TLS_TABLE 8192
#define TLS_PROBE 64
#define TOMBSTONE ((void *)1)

typedef struct ssl_st SSL;

static int (*real_SSL_read)(SSL *, void *, int);
static int (*real_SSL_read_ex)(SSL *, void *, size_t, size_t *);
static int (*real_SSL_write)(SSL *, const void *, int);
static int (*real_SSL_write_ex)(SSL *, const void *, size_t, size_t *);
static void (*real_SSL_free)(SSL *);
static int (*real_SSL_get_fd)(const SSL *);
static int (*real_SSL_is_server)(const SSL *);

static struct {
	void *key;
	struct conn *c;
} table[TLS_TABLE];

static __thread int in_tls SHIM_TLS_MODEL;

/*
 * The real OpenSSL function. RTLD_NEXT finds it when libssl is in the
 * global scope; a library loaded with dlopen(RTLD_LOCAL) and linked to
 * libssl (Python's _ssl and grpc extension modules) keeps it out of there,
 * yet its calls still reach these wrappers: then ask the already-loaded
 * libssl itself (RTLD_NOLOAD never loads anything new).
 */
static void *ssl_sym(const char *name)
{
	void *p = dlsym(RTLD_NEXT, name), *h;

	if (p)
		return p;
	h = dlopen("libssl.so.3", RTLD_LAZY | RTLD_NOLOAD);
	if (!h)
		return NULL;
	p = dlsym(h, name);
	dlclose(h); /* only drops the reference NOLOAD took: libssl stays loaded */
	return p;
}

#define SYM(name)                                                                                  \
	({                                                                                         \
		if (!real_##name)                                                                  \
			real_##name = ssl_sym(#name);                                              \
		real_##name;                                                                       \
	})

static size_t slot_of(const void *p)
{
	uintptr_t v = (uintptr_t)p;

	v ^= v >> 17;
	v *= 0xed5ad4bbU;
	v ^= v >> 11;
	return (size_t)v & (TLS_TABLE - 1);
}

static struct conn *find(SSL *s)
{
	size_t h = slot_of(s);

	for (int i = 0; i < TLS_PROBE; i++) {
		size_t j = (h + (size_t)i) & (TLS_TABLE - 1);
		void *k = __atomic_load_n(&table[j].key, __ATOMIC_ACQUIRE);
		if (k == s)
			return __atomic_load_n(&table[j].c, __ATOMIC_ACQUIRE);
		if (!k)
			return NULL;
	}
	return NULL;
}

static struct conn *get(SSL *s)
{
	struct conn *c = find(s);
	size_t h;
	int fd;
	enum conn_kind kind;

	if (c)
		return c;
	if (!SYM(SSL_get_fd) || !SYM(SSL_is_server))
		return NULL;
	fd = real_SSL_get_fd(s);
	kind = fd >= 0 ? conn_claim_for_tls(fd) : CONN_NONE;
	if (kind == CONN_NONE)
		kind = real_SSL_is_server(s) ? CONN_SERVER : CONN_CLIENT;
	c = conn_new_detached(kind, fd);
	if (!c)
		return NULL;
	h = slot_of(s);
	for (int i = 0; i < TLS_PROBE; i++) {
		size_t j = (h + (size_t)i) & (TLS_TABLE - 1);
		void *k = __atomic_load_n(&table[j].key, __ATOMIC_ACQUIRE);
		if ((k == NULL || k == TOMBSTONE) &&
		    __atomic_compare_exchange_n(&table[j].key, &k, (void *)s, 0, __ATOMIC_ACQ_REL,
						__ATOMIC_ACQUIRE)) {
			__atomic_store_n(&table[j].c, c, __ATOMIC_RELEASE);
			return c;
		}
	}
	conn_free_detached(c);
	ctx_count(PROTO_COUNT_UNTRACKED);
	return NULL;
}

static void forget(SSL *s)
{
	size_t h = slot_of(s);

	for (int i = 0; i < TLS_PROBE; i++) {
		size_t j = (h + (size_t)i) & (TLS_TABLE - 1);
		void *k = __atomic_load_n(&table[j].key, __ATOMIC_ACQUIRE);
		if (k == s) {
			struct conn *c = __atomic_exchange_n(&table[j].c, NULL, __ATOMIC_ACQ_REL);
			__atomic_store_n(&table[j].key, TOMBSTONE, __ATOMIC_RELEASE);
			if (c)
				conn_free_detached(c);
			return;
		}
		if (!k)
			return;
	}
}

/* ---- writes ------------------------------------------------------------------ */

struct tls_io {
	SSL *s;
	struct conn *c;
	int ex;
	int ret; /* OpenSSL's own return value, handed back to the app */
};

static ssize_t tls_io_fn(void *arg, const struct iovec *iov, int iovcnt)
{
	struct tls_io *t = arg;
	const void *p = iov[0].iov_base;
	size_t len = iov[0].iov_len;

	if (iovcnt > 1) {
		char *b;
		len = 0;
		for (int i = 0; i < iovcnt; i++)
			len += iov[i].iov_len;
		b = conn_tls_wbuf(t->c, len);
		if (!b) {
			t->ret = -1;
			errno = ENOMEM;
			return -1; /* cannot happen: conn.c sizes injections to the buffer */
		}
		size_t off = 0;
		for (int i = 0; i < iovcnt; i++) {
			memmove(b + off, iov[i].iov_base, iov[i].iov_len);
			off += iov[i].iov_len;
		}
		p = b;
	}
	if (t->ex) {
		size_t w = 0;
		t->ret = real_SSL_write_ex(t->s, p, len, &w);
		return t->ret == 1 ? (ssize_t)w : -1;
	}
	t->ret = real_SSL_write(t->s, p, (int)len);
	return t->ret > 0 ? t->ret : -1;
}

static int traced_write(SSL *s, const void *buf, size_t num, int ex, size_t *written)
{
	struct conn *c;
	struct iovec v = {(void *)buf, num};
	struct tls_io t = {.s = s, .ex = ex};
	ssize_t r;
	int e;

	c = get(s);
	if (!c || !conn_lock(c))
		return -2;
	t.c = c;
	in_tls++;
	r = conn_write_via(c, &v, 1, tls_io_fn, &t);
	e = errno;
	in_tls--;
	conn_unlock(c);
	errno = e;
	if (r < 0) {
		if (t.ret > 0 || (ex && t.ret == 1))
			return ex ? 0 : -1; /* pending injected bytes only: app retries */
		return t.ret;
	}
	if (ex) {
		*written = (size_t)r;
		return 1;
	}
	return (int)r;
}

EXPORT int SSL_write(SSL *s, const void *buf, int num)
{
	int r;

	if (!SYM(SSL_write))
		return -1;
	if (!shim_enabled || in_tls || num <= 0 || !buf)
		return real_SSL_write(s, buf, num);
	r = traced_write(s, buf, (size_t)num, 0, NULL);
	return r == -2 ? real_SSL_write(s, buf, num) : r;
}

EXPORT int SSL_write_ex(SSL *s, const void *buf, size_t num, size_t *written)
{
	size_t w = 0;
	int r;

	if (!SYM(SSL_write_ex))
		return 0;
	if (!shim_enabled || in_tls || num == 0 || !buf || num > INT32_MAX)
		return real_SSL_write_ex(s, buf, num, written);
	r = traced_write(s, buf, num, 1, &w);
	if (r == -2)
		return real_SSL_write_ex(s, buf, num, written);
	if (r == 1 && written)
		*written = w;
	return r;
}

/* ---- reads ------------------------------------------------------------------- */

static void after_read(SSL *s, const void *buf, size_t n)
{
	struct conn *c = get(s);
	int e = errno;

	if (!c)
		return;
	if (conn_lock(c)) {
		conn_read_bytes(c, buf, n);
		conn_unlock(c);
	}
	errno = e;
}

EXPORT int SSL_read(SSL *s, void *buf, int num)
{
	int r;

	if (!SYM(SSL_read))
		return -1;
	if (!shim_enabled || in_tls)
		return real_SSL_read(s, buf, num);
	in_tls++;
	r = real_SSL_read(s, buf, num);
	in_tls--;
	if (r > 0)
		after_read(s, buf, (size_t)r);
	return r;
}

EXPORT int SSL_read_ex(SSL *s, void *buf, size_t num, size_t *readbytes)
{
	int r;

	if (!SYM(SSL_read_ex))
		return 0;
	if (!shim_enabled || in_tls)
		return real_SSL_read_ex(s, buf, num, readbytes);
	in_tls++;
	r = real_SSL_read_ex(s, buf, num, readbytes);
	in_tls--;
	if (r == 1 && readbytes && *readbytes)
		after_read(s, buf, *readbytes);
	return r;
}

EXPORT void SSL_free(SSL *s)
{
	if (!SYM(SSL_free))
		return;
	if (shim_enabled && s && !in_tls) {
		int e = errno;
		forget(s);
		errno = e;
	}
	real_SSL_free(s);
}
