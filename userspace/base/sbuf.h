/* sbuf - growable string buffer. Owner calls sbuf_free(). */
#ifndef OBS_SBUF_H
#define OBS_SBUF_H
#include <stddef.h>

struct sbuf {
	char *buf;
	size_t len;
	size_t cap;
	int oom; /* sticky: an allocation failed, content is truncated */
};

void sbuf_init(struct sbuf *sb);
void sbuf_free(struct sbuf *sb);
void sbuf_reset(struct sbuf *sb);
/* Room for n more bytes at once (a size known ahead: no growing by
 * doubling, no copies); 0, or -1 (sticky oom). */
int sbuf_reserve(struct sbuf *sb, size_t n);
void sbuf_append(struct sbuf *sb, const char *s, size_t n);
void sbuf_puts(struct sbuf *sb, const char *s);
void sbuf_putc(struct sbuf *sb, char c);
void sbuf_printf(struct sbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Detach the buffer (NUL-terminated, caller frees); sb is reset. */
char *sbuf_detach(struct sbuf *sb, size_t *len);

#endif
