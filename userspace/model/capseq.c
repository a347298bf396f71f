#include "capseq.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

static void advance(struct capseq *q, const struct obs_cap_event *e)
{
	uint32_t n = e->caplen < OBS_CAP_BYTES ? e->caplen : OBS_CAP_BYTES;

	q->next_seq = e->last ? e->seq + 1 : e->seq;
	q->next_off = e->last ? 0 : e->off + n;
	q->begun = !e->last;
}

/* Whether e comes next: its syscall's, where the chunk before it ended (a
 * tail chunk: there or past it, the bytes between not copied, once a chunk
 * of its syscall came: the first always goes). */
static int next(const struct capseq *q, const struct obs_cap_event *e)
{
	return e->seq == q->next_seq &&
	       (e->off == q->next_off ||
		(e->last == OBS_CAP_TAIL && q->begun && e->off > q->next_off));
}

static int gap(struct capseq *q)
{
	q->nahead = 0;
	return -1;
}

int capseq_offer(struct capseq *q, const struct obs_cap_event *e, capseq_deliver_fn deliver,
		 void *arg)
{
	int32_t d = (int32_t)(e->seq - q->next_seq);

	if (d > 0) { /* ahead: wait for those before it */
		if (q->nahead == q->cap) {
			uint32_t cap = q->cap ? q->cap * 2 : 16;
			struct obs_cap_event *a;

			if (cap > CAPSEQ_AHEAD || !(a = realloc(q->ahead, cap * sizeof(*a))))
				return gap(q);
			q->ahead = a;
			q->cap = cap;
		}
		/* a record is as long as its bytes: no more is read */
		memcpy(&q->ahead[q->nahead++], e,
		       offsetof(struct obs_cap_event, data) +
			   (e->caplen < OBS_CAP_BYTES ? e->caplen : OBS_CAP_BYTES));
		return 0;
	}
	if (d < 0 || !next(q, e))
		return gap(q);
	advance(q, e);
	deliver(arg, e);
	/* what waited for it, in turn: the look goes on round the room from
	 * where the last one was found (a syscall's chunks wait in the order
	 * they came), and ends after a whole round finds none. Starting over
	 * from the first each time, as with a few waiting, is quadratic in
	 * the hundreds an HTTP/2 connection can hold. */
	for (uint32_t i = 0, missed = 0; q->nahead && missed < q->nahead;) {
		struct obs_cap_event *w;

		if (i >= q->nahead)
			i = 0;
		w = &q->ahead[i];
		if (!next(q, w)) {
			i++;
			missed++;
			continue;
		}
		advance(q, w);
		deliver(arg, w);
		q->ahead[i] = q->ahead[--q->nahead];
		missed = 0;
	}
	return 0;
}

uint32_t capseq_waiting(const struct capseq *q)
{
	return q->nahead;
}

void capseq_free(struct capseq *q)
{
	free(q->ahead);
	q->ahead = NULL;
	q->nahead = 0;
	q->cap = 0;
}
