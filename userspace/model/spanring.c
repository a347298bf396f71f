#include "spanring.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define LOAD_ACQ(p)	__atomic_load_n((p), __ATOMIC_ACQUIRE)
#define STORE_REL(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)

/* A record packed: its fixed part up to the tracestate, then the
 * tracestate's, attributes' and strings' used bytes, in that order. */
#define HEAD_BYTES offsetof(struct span_rec, tracestate)
_Static_assert(offsetof(struct span_rec, tracestate_len) < HEAD_BYTES, "lengths in the head");
_Static_assert(offsetof(struct span_rec, nattrs) < HEAD_BYTES, "lengths in the head");
_Static_assert(offsetof(struct span_rec, str_used) < HEAD_BYTES, "lengths in the head");

/* Sizes are checked by division: a multiplication could wrap. */
static int cap_fits(uint64_t cap, size_t len)
{
	return len >= sizeof(struct spanring_hdr) &&
	       cap <= (len - sizeof(struct spanring_hdr)) / sizeof(struct spanring_cell);
}

static int cap_ok(uint64_t cap)
{
	return cap >= SPANRING_RECORD_CELLS && !(cap & (cap - 1));
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

	if (!cap_ok(cap) || !spanring_bytes(cap))
		return -1;
	r->hdr = h;
	r->cells = (struct spanring_cell *)(h + 1);
	r->mask = cap - 1;
	r->stall_since = 0;
	r->head_seen = 0;
	h->version = SPANRING_VERSION;
	h->cell_size = SPANRING_CELL;
	h->cap = cap;
	h->head = h->tail = 0;
	STORE_REL(&h->magic, SPANRING_MAGIC);
	return 0;
}

int spanring_attach(struct spanring *r, void *mem, size_t len)
{
	struct spanring_hdr *h = mem;

	if (!mem || len < sizeof(*h) || LOAD_ACQ(&h->magic) != SPANRING_MAGIC ||
	    h->version != SPANRING_VERSION || h->cell_size != SPANRING_CELL || !cap_ok(h->cap) ||
	    !cap_fits(h->cap, len))
		return -1;
	r->hdr = h;
	r->cells = (struct spanring_cell *)(h + 1);
	r->mask = h->cap - 1;
	r->stall_since = 0;
	r->head_seen = 0;
	return 0;
}

/* Vyukov's sequence numbers, stored less the cell's index (see the header). */
static struct spanring_cell *cell_at(const struct spanring *r, uint64_t pos)
{
	return &r->cells[pos & r->mask];
}

static uint64_t seq_of(const struct spanring *r, const struct spanring_cell *c)
{
	return LOAD_ACQ(&c->seq) + (uint64_t)(c - r->cells);
}

static void set_seq(const struct spanring *r, struct spanring_cell *c, uint64_t seq)
{
	STORE_REL(&c->seq, seq - (uint64_t)(c - r->cells));
}

/* The used lengths of a record, bounded. */
struct packed {
	size_t ts, na, su, len;
};

static struct packed packed_of(const struct span_rec *rec)
{
	struct packed p;

	p.ts = rec->tracestate_len > TP_TRACESTATE_MAX ? 0 : rec->tracestate_len;
	p.na = rec->nattrs > SPANREC_ATTR_MAX ? SPANREC_ATTR_MAX : rec->nattrs;
	p.su = rec->str_used > SPANREC_STR_MAX ? SPANREC_STR_MAX : rec->str_used;
	p.len = HEAD_BYTES + p.ts + p.na * sizeof(rec->attrs[0]) + p.su;
	return p;
}

uint64_t spanring_cells(const struct span_rec *rec)
{
	return (packed_of(rec).len + SPANRING_CELL_DATA - 1) / SPANRING_CELL_DATA;
}

/* Bytes moved to or from a record's cells, in order, across cell bounds
 * (and the ring's end). */
struct cursor {
	const struct spanring *r;
	uint64_t pos; /* the cell */
	size_t off;   /* in its data */
};

/* The run of at most *n bytes at the cursor within one cell (its length
 * in *n), the cursor moved past it. */
static uint8_t *next_run(struct cursor *c, size_t *n)
{
	uint8_t *at = cell_at(c->r, c->pos)->data + c->off;
	size_t k = SPANRING_CELL_DATA - c->off;

	if (k > *n)
		k = *n;
	*n = k;
	c->off += k;
	if (c->off == SPANRING_CELL_DATA) {
		c->pos++;
		c->off = 0;
	}
	return at;
}

static void put(struct cursor *c, const void *src, size_t n)
{
	for (const uint8_t *s = src; n;) {
		size_t k = n;
		uint8_t *at = next_run(c, &k);

		memcpy(at, s, k);
		s += k;
		n -= k;
	}
}

static void get(struct cursor *c, void *dst, size_t n)
{
	for (uint8_t *d = dst; n;) {
		size_t k = n;
		const uint8_t *at = next_run(c, &k);

		memcpy(d, at, k);
		d += k;
		n -= k;
	}
}

/* A producer runs inside the app's I/O path: it gives up after this many
 * tries (other producers winning every race, or a cell's sequence set
 * ahead by a writer that is not playing by the rules) and drops the record,
 * counted, rather than spin. */
#define PUSH_TRIES 64

int spanring_push(struct spanring *r, const struct span_rec *rec)
{
	struct packed p = packed_of(rec);
	uint64_t n = (p.len + SPANRING_CELL_DATA - 1) / SPANRING_CELL_DATA;
	uint64_t pos = __atomic_load_n(&r->hdr->head, __ATOMIC_RELAXED);

	for (int tries = 0; tries < PUSH_TRIES; tries++) {
		/* the consumer frees cells in order: the claim's last cell
		 * free for this lap means all of them are */
		int64_t dif = (int64_t)(seq_of(r, cell_at(r, pos + n - 1)) - (pos + n - 1));

		if (dif == 0) {
			if (__atomic_compare_exchange_n(&r->hdr->head, &pos, pos + n, 1,
							__ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
				struct spanring_cell *first = cell_at(r, pos);
				struct cursor c = {r, pos, 0};
				uint8_t head[HEAD_BYTES];
				uint16_t ts = (uint16_t)p.ts, su = (uint16_t)p.su;
				uint8_t na = (uint8_t)p.na;
				uint64_t wake;

				/* the fixed part, with the lengths as bounded */
				memcpy(head, rec, HEAD_BYTES);
				memcpy(head + offsetof(struct span_rec, tracestate_len), &ts,
				       sizeof(ts));
				memcpy(head + offsetof(struct span_rec, nattrs), &na, sizeof(na));
				memcpy(head + offsetof(struct span_rec, str_used), &su, sizeof(su));
				put(&c, head, HEAD_BYTES);
				put(&c, rec->tracestate, p.ts);
				put(&c, rec->attrs, p.na * sizeof(rec->attrs[0]));
				put(&c, rec->str, p.su);
				first->cells = (uint32_t)n;
				first->len = (uint32_t)p.len;
				set_seq(r, first, pos + 1);
				__atomic_fetch_add(&r->hdr->pushed, 1, __ATOMIC_RELAXED);
				/* on head's cache line, which a producer has already */
				wake = __atomic_load_n(&r->hdr->wake_pos, __ATOMIC_RELAXED);
				return wake - pos - 1 < n;
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

uint64_t spanring_used(const struct spanring *r)
{
	uint64_t head = __atomic_load_n(&r->hdr->head, __ATOMIC_RELAXED), tail = r->hdr->tail;

	/* head is the producers' word: clamp what a hostile one says */
	return head <= tail ? 0 : head - tail > r->mask + 1 ? r->mask + 1 : head - tail;
}

void spanring_arm(struct spanring *r, uint64_t ahead)
{
	uint64_t head = __atomic_load_n(&r->hdr->head, __ATOMIC_RELAXED);

	__atomic_store_n(&r->hdr->wake_pos, head + ahead, __ATOMIC_RELAXED);
}

int spanring_armed(const struct spanring *r, uint64_t within)
{
	uint64_t head = __atomic_load_n(&r->hdr->head, __ATOMIC_RELAXED);
	uint64_t wake = __atomic_load_n(&r->hdr->wake_pos, __ATOMIC_RELAXED);
	uint64_t tail = r->hdr->tail;

	/* the cell before wake is not yet claimed, and is within reach:
	 * the push that claims it says so (spanring_push) */
	return head < wake && wake > tail && wake - tail <= within;
}

/* The record at pos, n cells, len bytes as its first cell says: 0 if it
 * adds up, -1 if not (out then holds nothing). */
static int unpack(const struct spanring *r, uint64_t pos, uint64_t n, size_t len,
		  struct span_rec *out)
{
	struct cursor c = {r, pos, 0};
	size_t ts, na, su;

	if (len < HEAD_BYTES || len > n * SPANRING_CELL_DATA ||
	    n != (len + SPANRING_CELL_DATA - 1) / SPANRING_CELL_DATA)
		return -1;
	get(&c, out, HEAD_BYTES);
	ts = out->tracestate_len;
	na = out->nattrs;
	su = out->str_used;
	if (ts > TP_TRACESTATE_MAX || na > SPANREC_ATTR_MAX || su > SPANREC_STR_MAX ||
	    HEAD_BYTES + ts + na * sizeof(out->attrs[0]) + su != len)
		return -1;
	get(&c, out->tracestate, ts);
	out->tracestate[ts] = 0;
	get(&c, out->attrs, na * sizeof(out->attrs[0]));
	get(&c, out->str, su);
	return 0;
}

/* Give n cells from pos back to the producers, for the next lap. */
static void release(struct spanring *r, uint64_t pos, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++)
		set_seq(r, cell_at(r, pos + i), pos + i + r->mask + 1);
	STORE_REL(&r->hdr->tail, pos + n);
	r->stall_since = 0;
}

int spanring_pop(struct spanring *r, struct span_rec *out, uint64_t now_ns, uint64_t stall_ns,
		 uint64_t *skipped)
{
	uint64_t pos = r->hdr->tail;
	struct spanring_cell *c = cell_at(r, pos);
	uint64_t seq = seq_of(r, c);

	if (seq == pos + 1) {
		/* what the cell says is the producer's word: bounded by what
		 * a record can take and by what producers have claimed (head
		 * only grows: the last one seen is a bound while it holds) */
		uint64_t n = __atomic_load_n(&c->cells, __ATOMIC_RELAXED);
		size_t len = __atomic_load_n(&c->len, __ATOMIC_RELAXED);
		int sane;

		if (pos + n > r->head_seen)
			r->head_seen = __atomic_load_n(&r->hdr->head, __ATOMIC_ACQUIRE);
		sane = n >= 1 && n <= SPANRING_RECORD_CELLS && pos + n <= r->head_seen;
		if (!sane || unpack(r, pos, n, len, out))
			memset(out, 0, HEAD_BYTES); /* proto 0: counted bad */
		release(r, pos, sane ? n : 1);
		return 1;
	}
	/* claimed (head moved past it) but not published */
	if (seq == pos && __atomic_load_n(&r->hdr->head, __ATOMIC_RELAXED) > pos) {
		if (!r->stall_since) {
			r->stall_since = now_ns ? now_ns : 1;
		} else if (now_ns - r->stall_since >= stall_ns) {
			release(r, pos, 1);
			if (skipped)
				(*skipped)++;
		}
	}
	return 0;
}
