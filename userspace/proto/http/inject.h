/*
 * inject - the byte accounting of header injection, as a pure function.
 *
 * The shim sends the app's M bytes with N injected bytes inserted at
 * offset P (P <= M). The kernel (or OpenSSL) accepts K of the M + N bytes.
 * The app must see exactly what it would have seen without obs:
 *
 *   K >= P + N      report K - N: the app's bytes that left.
 *   P <= K < P + N  report P; the unsent tail of the injected field
 *                   becomes a per-fd pending prefix, sent before the
 *                   app's next bytes (which restart at offset P and get
 *                   no second injection).
 *   K < P           report K; nothing injected left yet: injection is
 *                   retried on the next write.
 *
 * A pending prefix is flushed before any later write. If it is only partly
 * accepted, the rest stays pending and the write reports -1/EAGAIN (the
 * socket is full) — never 0 for a non-empty write, never more than the
 * app's own bytes that left.
 */
#ifndef OBS_INJECT_H
#define OBS_INJECT_H
#include <stddef.h>
#include <sys/types.h>

enum inject_state {
	INJECT_DONE,	/* the whole injected field left */
	INJECT_PENDING, /* part of it left: the rest is pending */
	INJECT_RETRY,	/* none of it left: inject again next write */
};

struct inject_result {
	size_t reported;    /* what the write call returns to the app */
	size_t pending_off; /* pending = injected[pending_off .. n) */
	enum inject_state state;
};

/* m app bytes, n injected at offset p (p <= m), k of m + n accepted. */
struct inject_result inject_account(size_t m, size_t p, size_t n, size_t k);

/*
 * A write while `pending` injected bytes are queued: the shim sends the
 * pending bytes followed by the app's m bytes, and k of (pending + m) are
 * accepted. Returns what to report (-1 means EAGAIN) and how many pending
 * bytes remain.
 */
ssize_t inject_account_pending(size_t pending, size_t m, size_t k, size_t *pending_left);

#endif
