/*
 * splice - rewriting an app's outgoing byte stream without the app
 * noticing, as pure functions: a list of edits (replace `del` of the app's
 * bytes at offset `pos` with `len` bytes of ours), applied to a write, and
 * the accounting of what the kernel (or OpenSSL) accepted. HTTP/2 needs
 * this: adding a header field to a HEADERS frame changes the frame's
 * length field (a replacement) and adds bytes inside it (an insertion).
 *
 * The rules generalise inject.h's. After K of the built bytes left:
 *   - edits wholly sent are done; the app is told the count of its own
 *     bytes that left or were replaced by sent edits;
 *   - K inside an edit: the app is told the offset of that edit; the
 *     rest of the edit becomes an edit at offset 0 of the app's next write
 *     (which restarts at that offset, so its `del` bytes are skipped);
 *   - edits not reached keep their offsets, relative to the next write.
 * A write that moved none of the app's bytes reports -1 (the caller sets
 * EAGAIN: the socket is full), never 0. Never more than the app's own
 * bytes that left.
 *
 * An insertion at the very end of a write (del 0, pos == M) that is cut
 * would report M and wait for a later write that may never come; callers
 * make such an edit replace the byte before it instead (del >= 1).
 */
#ifndef OBS_SPLICE_H
#define OBS_SPLICE_H
#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>

#define SPLICE_MAX 128 /* two per HTTP/2 request in one write */

struct splice_edit {
	size_t pos; /* app offset, relative to the current write */
	size_t del; /* app bytes replaced */
	size_t len; /* our bytes */
	const char *bytes;
};

struct splice {
	struct splice_edit e[SPLICE_MAX]; /* sorted by pos, not overlapping */
	int n;
};

/* Append an edit after the last one; -1 if full or out of order. */
int splice_add(struct splice *s, size_t pos, size_t del, const char *bytes, size_t len);
/* Where the edits end (pos + del of the last), 0 if none. */
size_t splice_end(const struct splice *s);

/*
 * The app's m bytes (iov) with every edit starting within them applied,
 * into out. Returns the iov count (or -1 if outmax is too small) and in
 * *applied how many edits were used; settle with the same m and applied.
 */
int splice_iov(const struct splice *s, const struct iovec *iov, int iovcnt, size_t m,
	       struct iovec *out, int outmax, int *applied);
/* Total bytes splice_iov built (app bytes kept + edit bytes). */
size_t splice_wire_len(const struct splice *s, int applied, size_t m);
/* k of those bytes were accepted: returns what the app is told (-1: EAGAIN). */
ssize_t splice_settle(struct splice *s, int applied, size_t m, size_t k);

#endif
