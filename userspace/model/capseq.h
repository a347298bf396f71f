/*
 * capseq - one connection's kernel-side capture events put back in the
 * order their bytes went. capture.bpf.c numbers a connection's reads and
 * writes (a write at entry, before its bytes can reach the peer; a read at
 * exit, when its bytes have come) and cuts each into chunks (off: where a
 * chunk starts in its syscall's bytes; last: its final one; a tail chunk,
 * OBS_CAP_TAIL, holds a syscall's final bytes after bytes not copied). Events
 * arrive in the order the syscalls' exits were seen, which is not always
 * that one: a client's write may exit after the read of its answer on
 * another CPU. An event numbered ahead waits here (CAPSEQ_AHEAD of them at
 * most) for those before it. A number that comes twice, a chunk out of
 * place, or too many waiting (a number that never comes: an event the
 * ring had no room for) is a gap: bytes nobody saw at a place nobody
 * knows. Pure; allocates its waiting room when first needed.
 */
#ifndef OBS_CAPSEQ_H
#define OBS_CAPSEQ_H
#include <stdint.h>

#include <linux/types.h>
#include "obs.h"

/* Events that may wait: a syscall's events can interleave with another
 * CPU's, whose syscall was numbered after (an HTTP/2 read or write is up
 * to 128 events of 512 bytes), and a capture program can be preempted
 * mid-syscall while others go on (128 waiting gave up a grpc-go
 * connection 1 run in 12 with 100 KiB messages). The room grows to this
 * as needed, from 16. */
#define CAPSEQ_AHEAD 1024

struct capseq {
	uint32_t next_seq; /* the syscall whose chunks come next */
	uint32_t next_off; /* where its next chunk starts */
	uint32_t begun;	   /* a chunk of that syscall came */
	uint32_t nahead, cap;
	struct obs_cap_event *ahead; /* cap of them, or NULL */
};

typedef void (*capseq_deliver_fn)(void *arg, const struct obs_cap_event *e);

/* Offer e: deliver is called for it, and then for each waiting event now
 * in order, in order. 0, or -1 on a gap (or no memory to wait in): the
 * connection cannot be followed on; nothing waits any more. */
int capseq_offer(struct capseq *q, const struct obs_cap_event *e, capseq_deliver_fn deliver,
		 void *arg);
/* Events still waiting (at the connection's end: lost bytes before them). */
uint32_t capseq_waiting(const struct capseq *q);
void capseq_free(struct capseq *q);

#endif
