/*
 * spanring - the bounded shared-memory ring that carries span records
 * (spanrec.h) from the shim (many producers: every thread of
 * every traced process) to the collector (one consumer). Pure: it works
 * on memory the caller maps; no syscalls, no locks, no allocation.
 *
 * A bounded MPSC queue with a sequence number per cell (Vyukov): a
 * producer claims cells with one compare-and-swap and publishes them with
 * a release store; when the ring is full the record is dropped and
 * counted, never waited for. A producer that dies between claim and
 * publish (killed in those few instructions) would stall the consumer:
 * the consumer skips such a cell after a timeout and counts it.
 *
 * A record takes as many 128-byte cells as it needs, packed (its fixed
 * part, then only the tracestate, attributes and strings it uses): a
 * typical HTTP span takes 3 cells, not the 1.4 KB a whole span_rec would,
 * and the ring's pages, resident in the app and in the collector both,
 * shrink with it. The reader trusts nothing of what a cell says (its
 * count of cells, its length, the record's own lengths): a record that
 * does not add up is given as one no protocol claims, and counted bad.
 */
#ifndef OBS_SPANRING_H
#define OBS_SPANRING_H
#include <stddef.h>
#include <stdint.h>

#include "spanrec.h"

#define SPANRING_MAGIC	 0x6f62737370616e31ULL /* "obsspan1" */
#define SPANRING_VERSION 8

struct spanring_hdr {
	uint64_t magic;
	uint32_t version;
	uint32_t cell_size;			    /* SPANRING_CELL */
	uint64_t cap;				    /* cells, a power of two */
	uint64_t head __attribute__((aligned(64))); /* next ticket for producers */
	uint64_t wake_pos; /* the consumer asks to be woken when this ticket is taken */
	uint64_t tail __attribute__((aligned(64)));    /* consumer position */
	uint64_t dropped __attribute__((aligned(64))); /* ring full */
	uint64_t pushed;
};

/* Who decides whether a new trace is sampled (always parent-based). */
enum spanring_sample {
	SPANRING_SAMPLE_PROCESS, /* the process's OTEL_TRACES_SAMPLER(_ARG), or always_on */
	SPANRING_SAMPLE_CONFIG,	 /* obs's ratio, unless the process sets OTEL_TRACES_SAMPLER */
	SPANRING_SAMPLE_FORCE,	 /* obs's ratio, whatever the process says */
};

/* A cell's seq is stored less its index, so zeroed memory is a ring whose
 * cells are all free: nothing is written at init, and a cell's pages are
 * touched only when a record first goes there. */
#define SPANRING_CELL	   128
#define SPANRING_CELL_DATA (SPANRING_CELL - 16)
struct spanring_cell {
	uint64_t seq;
	uint32_t cells; /* a record's first cell: how many cells it takes */
	uint32_t len;	/* ... and its packed length in bytes */
	uint8_t data[SPANRING_CELL_DATA];
};
/* The most cells a record can take (a span_rec with every field full). */
#define SPANRING_RECORD_CELLS                                                                      \
	((sizeof(struct span_rec) + SPANRING_CELL_DATA - 1) / SPANRING_CELL_DATA)

struct spanring {
	struct spanring_hdr *hdr;
	struct spanring_cell *cells;
	uint64_t mask;
	uint64_t stall_since; /* consumer: when the head cell was first seen unpublished */
	uint64_t head_seen;   /* consumer: producers' head when last looked at */
};

/* Bytes needed for a ring of cap cells (cap: power of two); 0 if that
 * does not fit in a size_t. */
size_t spanring_bytes(uint64_t cap);
/* Format mem (spanring_bytes(cap) bytes, zeroed); cap >= SPANRING_RECORD_CELLS. */
int spanring_init(struct spanring *r, void *mem, uint64_t cap);
/* Attach to a ring made by spanring_init; -1 if mem is not one (or too small). */
int spanring_attach(struct spanring *r, void *mem, size_t len);
/* Cells the record takes in the ring. */
uint64_t spanring_cells(const struct span_rec *rec);
/* Producer: 0 if queued, 1 if queued and the consumer asked to be woken
 * now (spanring_arm: this record filled the ring to where it asked; one
 * producer sees it per arming), -1 if full or after a bounded number of
 * lost races (counted in hdr->dropped); it never spins unbounded. */
int spanring_push(struct spanring *r, const struct span_rec *rec);
/* Consumer: cells claimed and not yet taken (at most the ring's). */
uint64_t spanring_used(const struct spanring *r);
/* Consumer: ask to be woken once ahead more cells are taken. Instead of
 * looking at a ring every millisecond in case it fills (which cost a busy
 * app's tail latency: a switch to the collector on its core each time), the
 * collector looks when a producer says it is filling, and seldom else. */
void spanring_arm(struct spanring *r, uint64_t ahead);
/* Consumer: 1 if a producer will wake it (spanring_arm) before the ring
 * holds more than within cells: the consumer may wait for that instead
 * of looking. The producers' words are trusted only to the extent that a
 * hostile one can delay no ring's look but its own. */
int spanring_armed(const struct spanring *r, uint64_t within);
/*
 * Consumer: 1 if a record was copied to out, 0 if none is ready. now_ns
 * and stall_ns implement the dead-producer skip: a claimed cell not
 * published for stall_ns is skipped and *skipped incremented. A record
 * that does not add up comes out with proto 0 and nothing else.
 */
int spanring_pop(struct spanring *r, struct span_rec *out, uint64_t now_ns, uint64_t stall_ns,
		 uint64_t *skipped);

#endif
