/*
 * spanq.c - the export queue's ring of spans as long as they are.
 */
#include "spanq.h"

#include <stdlib.h>
#include <string.h>

#define FULL sizeof(struct xspan) /* room a slot must have: a span at its largest */
/* The first ring's bytes per span: a described HTTP span takes ~600 of a
 * full one's 2.6 KB. Longer ones make it grow. */
#define FIRST_AVG 768

int spanq_init(struct spanq *q, size_t spans, size_t first_spans)
{
	memset(q, 0, sizeof(*q));
	if (!spans || spans > SIZE_MAX / FULL / 2)
		return -1;
	q->spans = spans;
	q->max = spans * FULL < 2 * FULL ? 2 * FULL : spans * FULL;
	q->cap = first_spans > q->max / FIRST_AVG ? q->max : first_spans * FIRST_AVG;
	if (q->cap < 2 * FULL)
		q->cap = 2 * FULL;
	/* untouched until written: a large calloc is fresh zero pages */
	q->buf = calloc(1, q->max);
	return q->buf ? 0 : -1;
}

void spanq_free(struct spanq *q)
{
	free(q->buf);
	q->buf = NULL;
}

struct xspan *spanq_slot(struct spanq *q)
{
	return q->nfree && q->limit - q->next >= FULL ? (struct xspan *)(void *)(q->buf + q->next)
						      : NULL;
}

/* Twice the bytes, up to max. A wrapped backlog ([head, wrap), then
 * [0, next)) has its second part moved to follow the first: the consumer
 * reads no further than wrap, and the two never overlap (next <= head <=
 * wrap). -1: at max already. */
static int grow(struct spanq *q)
{
	size_t cap = q->cap > q->max / 2 ? q->max : q->cap * 2;

	if (cap == q->cap || (q->wrap && q->wrap + q->next > cap))
		return -1; /* (the last step to max may not hold a moved backlog) */
	if (q->wrap) {
		memcpy(q->buf + q->wrap, q->buf, q->next);
		q->next += q->wrap;
		q->wrap = 0;
	}
	q->cap = cap;
	return 0;
}

int spanq_reserve(struct spanq *q)
{
	if (!q->len && !q->pending)		 /* empty: from offset 0 again, so the memory */
		q->head = q->next = q->wrap = 0; /* touched follows the longest backlog */
	if (q->len + q->pending >= q->spans)
		return -1;
	q->nfree = q->spans - q->len - q->pending;
	for (;;) {
		if (q->wrap) { /* room: [next, head) */
			if (q->head - q->next >= FULL) {
				q->limit = q->head;
				return 0;
			}
		} else if (q->cap - q->next >= FULL) { /* room: [next, cap) */
			q->limit = q->cap;
			return 0;
		} else if (q->head >= FULL) { /* then [0, head) */
			q->wrap = q->next;
			q->next = 0;
			q->limit = q->head;
			return 0;
		}
		if (grow(q))
			return -1;
	}
}

void spanq_put(struct spanq *q, const struct xspan *x)
{
	q->next += xspan_size(x);
	q->pending++;
	q->nfree--;
}

size_t spanq_publish(struct spanq *q)
{
	size_t n = q->pending;

	q->len += n;
	q->pending = 0;
	q->limit = q->next; /* look again: the consumer may have made room */
	return n;
}

size_t spanq_batch(struct spanq *q, const struct xspan **out, size_t max, int *cut)
{
	size_t n = 0, at = q->head;

	*cut = 0;
	while (n < q->len && n < max) {
		const struct xspan *x = (const struct xspan *)(const void *)(q->buf + at);

		if (q->wrap && at == q->wrap) {
			*cut = 1;
			break;
		}
		out[n++] = x;
		at += xspan_size(x);
	}
	return n;
}

void spanq_release(struct spanq *q, const struct xspan *const *batch, size_t n)
{
	const struct xspan *last;

	if (!n)
		return;
	last = batch[n - 1];
	q->head = (size_t)((const uint8_t *)last - q->buf) + xspan_size(last);
	q->len -= n;
	if (q->wrap && q->head == q->wrap)
		q->head = q->wrap = 0;
}

size_t spanq_drop(struct spanq *q)
{
	size_t n = q->len;

	while (q->len) {
		const struct xspan *b[64];
		int cut;
		size_t k = spanq_batch(q, b, 64, &cut);

		if (!k)
			break;
		spanq_release(q, b, k);
	}
	return n - q->len;
}
