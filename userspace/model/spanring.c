#include "spanring.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define LOAD_ACQ(p)	__atomic_load_n((p), __ATOMIC_ACQUIRE)
#define STORE_REL(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)

/* Sizes are checked by division: a multiplication could wrap. */
static int cap_fits(uint64_t cap, size_t len)
{
	return len >= sizeof(struct spanring_hdr) &&
	       cap <= (len - sizeof(struct spanring_hdr)) / sizeof(struct spanring_cell);
}

size_t spanring_bytes(uint64_t cap)
{
	if (!cap_fits(cap, SIZE_MAX))
		return 0;
	return sizeof(struct spanring_hdr) + cap * sizeof(struct spanring_cell);
}

int spanring_init(struct spanring *r, void *mem, uint64_t cap)
{
	struct spanring_hdr *h = mem;

	if (cap < 2 || (cap & (cap - 1)) || !spanring_bytes(cap))
		return -1;
	r->hdr = h;
	r->cells = (struct spanring_cell *)(h + 1);
	r->mask = cap - 1;
	r->stall_since = 0;
	h->version = SPANRING_VERSION;
	h->rec_size = sizeof(struct span_rec);
	h->cap = cap;
	h->head = h->tail = 0;
	STORE_REL(&h->magic, SPANRING_MAGIC);
	return 0;
}

int spanring_attach(struct spanring *r, void *mem, size_t len)
{
	struct spanring_hdr *h = mem;

	if (!mem || len < sizeof(*h) || LOAD_ACQ(&h->magic) != SPANRING_MAGIC ||
	    h->version != SPANRING_VERSION || h->rec_size != sizeof(struct span_rec) ||
	    h->cap < 2 || (h->cap & (h->cap - 1)) || !cap_fits(h->cap, len))
		return -1;
	r->hdr = h;
	r->cells = (struct spanring_cell *)(h + 1);
	r->mask = h->cap - 1;
	r->stall_since = 0;
	return 0;
}

/* Vyukov's sequence numbers, stored less the cell's index (see the header). */
static uint64_t seq_of(const struct spanring *r, const struct spanring_cell *c)
{
	return LOAD_ACQ(&c->seq) + (uint64_t)(c - r->cells);
}

static void set_seq(const struct spanring *r, struct spanring_cell *c, uint64_t seq)
{
	STORE_REL(&c->seq, seq - (uint64_t)(c - r->cells));
}

/* A producer runs inside the app's I/O path: it gives up after this many
 * tries (other producers winning every race, or a cell's sequence set
 * ahead by a writer that is not playing by the rules) and drops the record,
 * counted, rather than spin. */
#define PUSH_TRIES 64

int spanring_push(struct spanring *r, const struct span_rec *rec)
{
	uint64_t pos = __atomic_load_n(&r->hdr->head, __ATOMIC_RELAXED);

	for (int tries = 0; tries < PUSH_TRIES; tries++) {
		struct spanring_cell *c = &r->cells[pos & r->mask];
		uint64_t seq = seq_of(r, c);
		int64_t dif = (int64_t)(seq - pos);

		if (dif == 0) {
			if (__atomic_compare_exchange_n(&r->hdr->head, &pos, pos + 1, 1,
							__ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
				spanrec_copy(&c->rec, rec);
				set_seq(r, c, pos + 1);
				__atomic_fetch_add(&r->hdr->pushed, 1, __ATOMIC_RELAXED);
				/* on head's cache line, which a producer has already */
				return pos + 1 ==
				       __atomic_load_n(&r->hdr->wake_pos, __ATOMIC_RELAXED);
			}
			/* pos was reloaded by the failed CAS */
		} else if (dif < 0) {
			__atomic_fetch_add(&r->hdr->dropped, 1, __ATOMIC_RELAXED);
			return -1;
		} else {
			pos = __atomic_load_n(&r->hdr->head, __ATOMIC_RELAXED);
		}
	}
	__atomic_fetch_add(&r->hdr->dropped, 1, __ATOMIC_RELAXED);
	return -1;
}

void spanring_arm(struct spanring *r, uint64_t ahead)
{
	uint64_t head = __atomic_load_n(&r->hdr->head, __ATOMIC_RELAXED);

	__atomic_store_n(&r->hdr->wake_pos, head + ahead, __ATOMIC_RELAXED);
}

int spanring_pop(struct spanring *r, struct span_rec *out, uint64_t now_ns, uint64_t stall_ns,
		 uint64_t *skipped)
{
	uint64_t pos = r->hdr->tail;
	struct spanring_cell *c = &r->cells[pos & r->mask];
	uint64_t seq = seq_of(r, c);

	if (seq == pos + 1) {
		memcpy(out, &c->rec, sizeof(*out));
		set_seq(r, c, pos + r->mask + 1);
		STORE_REL(&r->hdr->tail, pos + 1);
		r->stall_since = 0;
		return 1;
	}
	/* claimed (head moved past it) but not published */
	if (seq == pos && __atomic_load_n(&r->hdr->head, __ATOMIC_RELAXED) > pos) {
		if (!r->stall_since) {
			r->stall_since = now_ns ? now_ns : 1;
		} else if (now_ns - r->stall_since >= stall_ns) {
			set_seq(r, c, pos + r->mask + 1);
			STORE_REL(&r->hdr->tail, pos + 1);
			r->stall_since = 0;
			if (skipped)
				(*skipped)++;
		}
	}
	return 0;
}
