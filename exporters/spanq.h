/*
 * spanq - the export queue's ring: spans as long as they are (xspan_size),
 * one after another, from one producer to one consumer. A span is
 * written where it will be read (the producer fills a slot with room for
 * a whole span, then says how long it came out); the consumer reads a
 * batch where it lies. Records never wrap: one that would not fit
 * before the end goes at offset 0, and the wrap point is kept.
 *
 * Memory follows the backlog: the ring's bytes in use (cap) start small
 * and double, up to room for `spans` spans of the largest size, only
 * when a span finds no room; an empty queue starts again at offset 0. A
 * ring cycles through all of its bytes, so one sized for the worst case
 * would touch all of it even when the backlog stayed short.
 *
 * No locks, no threads: the caller serialises. spanq_reserve, _publish,
 * _batch, _release and _drop run under the caller's lock; spanq_slot and
 * spanq_put only touch the producer's own fields, [next, limit), which
 * the consumer never reads.
 */
#ifndef OBS_SPANQ_H
#define OBS_SPANQ_H
#include <stddef.h>
#include <stdint.h>

#include "xspan.h"

struct spanq {
	uint8_t *buf;
	size_t max;   /* buf's bytes */
	size_t spans; /* the most spans held */
	size_t cap;   /* bytes in use now: grows to max */
	/* the consumer's (lock): the first span's offset, the spans handed
	 * over, and where the ones before offset 0 end (0: no wrap) */
	size_t head, len, wrap;
	/* the producer's: spans put but not handed over (they follow the
	 * handed-over ones), the next span's offset, and how far and how
	 * many more it may write without looking again */
	size_t pending, next, limit, nfree;
};

/* A queue of at most spans spans, first_spans of average size in its
 * first ring. -1: out of memory. */
int spanq_init(struct spanq *q, size_t spans, size_t first_spans);
void spanq_free(struct spanq *q);

/* Producer, no lock: where the next span goes, or NULL: call
 * spanq_reserve (lock held), then again. */
struct xspan *spanq_slot(struct spanq *q);
/* Producer, lock held: make room for a whole span at next (wrapping or
 * growing the ring). -1: full (the span must be dropped). */
int spanq_reserve(struct spanq *q);
/* Producer, no lock: the span at spanq_slot's place is written. */
void spanq_put(struct spanq *q, const struct xspan *x);
/* Producer, lock held: hand the spans put to the consumer. Returns how
 * many. */
size_t spanq_publish(struct spanq *q);

/* Consumer, lock held: up to max of the handed-over spans, in order, into
 * out. A batch never crosses the wrap point: it stops short there, and
 * *cut says so (the rest is due at once, not when a batch has filled).
 * Returns how many. */
size_t spanq_batch(struct spanq *q, const struct xspan **out, size_t max, int *cut);
/* Consumer, lock held: the n spans spanq_batch gave are done. */
void spanq_release(struct spanq *q, const struct xspan *const *batch, size_t n);
/* Consumer, lock held: drop every handed-over span. Returns how many. */
size_t spanq_drop(struct spanq *q);

#endif
