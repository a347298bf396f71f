#include "splice.h"

int splice_add(struct splice *s, size_t pos, size_t del, const char *bytes, size_t len)
{
	if (s->n >= SPLICE_MAX || pos < splice_end(s))
		return -1;
	s->e[s->n++] = (struct splice_edit){pos, del, len, bytes};
	return 0;
}

size_t splice_end(const struct splice *s)
{
	return s->n ? s->e[s->n - 1].pos + s->e[s->n - 1].del : 0;
}

/* An edit's deleted bytes within a write of m (a skip may outlast it). */
static size_t eff_del(const struct splice_edit *e, size_t m)
{
	return e->pos + e->del <= m ? e->del : m - e->pos;
}

static int count_applied(const struct splice *s, size_t m)
{
	int a = 0;

	while (a < s->n && (s->e[a].pos < m || (s->e[a].pos == m && !s->e[a].del)))
		a++;
	return a;
}

size_t splice_wire_len(const struct splice *s, int applied, size_t m)
{
	size_t w = m;

	for (int i = 0; i < applied; i++)
		w = w - eff_del(&s->e[i], m) + s->e[i].len;
	return w;
}

/* Append app bytes [from, to) of iov to out. */
static int put_app(const struct iovec *iov, int iovcnt, size_t from, size_t to, struct iovec *out,
		   int n, int outmax)
{
	size_t base = 0;

	for (int i = 0; i < iovcnt && base < to; i++) {
		size_t len = iov[i].iov_len, a = from > base ? from - base : 0,
		       b = to - base < len ? to - base : len;
		if (a < b) {
			if (n >= outmax)
				return -1;
			out[n++] = (struct iovec){(char *)iov[i].iov_base + a, b - a};
		}
		base += len;
	}
	return n;
}

int splice_iov(const struct splice *s, const struct iovec *iov, int iovcnt, size_t m,
	       struct iovec *out, int outmax, int *applied)
{
	size_t app = 0;
	int n = 0, a = count_applied(s, m);

	for (int i = 0; i < a && n >= 0; i++) {
		const struct splice_edit *e = &s->e[i];
		n = put_app(iov, iovcnt, app, e->pos, out, n, outmax);
		if (n >= 0 && e->len) {
			if (n >= outmax)
				return -1;
			out[n++] = (struct iovec){(void *)e->bytes, e->len};
		}
		app = e->pos + eff_del(e, m);
	}
	if (n >= 0)
		n = put_app(iov, iovcnt, app, m, out, n, outmax);
	*applied = a;
	return n;
}

ssize_t splice_settle(struct splice *s, int applied, size_t m, size_t k)
{
	struct splice_edit keep[SPLICE_MAX];
	size_t wire = 0, app = 0, reported;
	int nk = 0, i;

	for (i = 0; i < applied; i++) {
		struct splice_edit *e = &s->e[i];
		size_t seg = e->pos - app, d = eff_del(e, m);

		if (k < wire + seg)
			break; /* cut in the app's bytes before this edit */
		wire += seg;
		app = e->pos;
		if (k < wire + e->len) {
			/* cut inside: the rest of it opens the app's next write */
			size_t off = k - wire;
			keep[nk++] = (struct splice_edit){0, e->del, e->len - off, e->bytes + off};
			i++;
			break;
		}
		wire += e->len;
		app += d;
		if (d < e->del) /* the write ended inside what we skip */
			keep[nk++] = (struct splice_edit){0, e->del - d, 0, e->bytes};
	}
	/* cut inside an edit: the app's bytes up to it; else up to the cut */
	reported = nk && keep[0].len ? app : app + (k - wire);
	if (reported > m)
		reported = m;
	for (; i < s->n; i++) {
		struct splice_edit e = s->e[i];
		e.pos -= reported;
		keep[nk++] = e;
	}
	for (i = 0; i < nk; i++)
		s->e[i] = keep[i];
	s->n = nk;
	if (reported == 0 && m)
		return -1;
	return (ssize_t)reported;
}
