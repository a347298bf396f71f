/*
 * pconn - one followed connection, driven through the protocol table
 * (proto.h): detection on the first bytes, dispatch of each direction's
 * bytes to the protocol that owns it, and outgoing writes with the edits
 * a protocol arms, with exact byte accounting (splice.h). It names no
 * protocol and does no I/O of its own: the source hands it the bytes, a
 * clock, and the function that really writes. Pure.
 *
 * The app's bytes always pass unchanged, whatever a protocol says: a
 * connection obs stops following (`dead`) still sends the edits already
 * queued for it, then passes writes straight through.
 */
#ifndef OBS_PCONN_H
#define OBS_PCONN_H
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "proto.h"
#include "proto_red.h"

#define PCONN_INLINE  (16 << 10) /* module state kept in the connection itself */
#define PCONN_IOV_APP 254	 /* app pieces per write; more: a short write */

struct proto_conn {
	const struct proto_host *host;
	const struct proto_handler *const *table; /* what to detect, NULL-terminated */
	const struct proto_handler *h;		  /* NULL until detected */
	void *st;				  /* h's state */
	uint8_t side;				  /* enum proto_side */
	uint8_t tls;				  /* the bytes are TLS plaintext */
	uint8_t dead;				  /* no longer followed */
	uint8_t st_alloced;			  /* st came from host->alloc */
	uint16_t peer_port;
	char peer[SPAN_ADDR_MAX];
	size_t write_cap;		/* the most a write may grow to; (size_t)-1: no bound */
	struct splice sp;		/* edits armed for the app's writes to come */
	struct proto_red_memo red_memo; /* the host's, for proto_red_observe */
	/* the module's name for what its last record was made of, changed
	 * when that changes (pconn_red_rename); 0: none yet on this
	 * connection, whatever its module's state holds; for
	 * host->emit_again */
	uint32_t red_tag;
	union {
		long double align;
		unsigned char bytes[PCONN_INLINE];
	} inl;
};

/* A connection of side, nothing detected yet. Cheap: no module state. */
void pconn_init(struct proto_conn *pc, const struct proto_host *host,
		const struct proto_handler *const *table, enum proto_side side);
/* The connection is gone: free the module's state. */
void pconn_release(struct proto_conn *pc);

/* The peer's address and port (network.peer.*), from sa (NULL, or not
 * an inet address: none). */
void pconn_peer(struct proto_conn *pc, const struct sockaddr *sa, socklen_t len);
/* Bytes that moved in dir, at ts. */
void pconn_feed(struct proto_conn *pc, enum proto_dir dir, const uint8_t *b, size_t n, uint64_t ts);
/* The first n bytes of iov. */
void pconn_feed_iov(struct proto_conn *pc, enum proto_dir dir, const struct iovec *iov, int iovcnt,
		    size_t n, uint64_t ts);
/* A handler's `sent` for a module that only reads what its app wrote:
 * the n bytes that left are fed OUT. */
void pconn_sent_feed(struct proto_conn *pc, const struct iovec *iov, int iovcnt, size_t n,
		     uint64_t ts);
/* n bytes moved in dir that nobody saw (sendfile). */
void pconn_skip(struct proto_conn *pc, enum proto_dir dir, uint64_t n, uint64_t ts);
/* The connection ended: open exchanges end; nothing more is followed. */
void pconn_eof(struct proto_conn *pc, uint64_t ts);

/* Edits are queued: every write must go through pconn_write. */
int pconn_pending(const struct proto_conn *pc);
/* The protocol is multiplexed (PROTO_F_MULTIPLEXED). */
int pconn_multiplexed(const struct proto_conn *pc);

/* The module's record is made of something else than its last: a new
 * name for it (pc->red_tag). */
static inline void pconn_red_rename(struct proto_conn *pc)
{
	pc->red_tag = pc->red_tag + 1 ? pc->red_tag + 1 : 1;
}

/* The real write: returns bytes accepted, or -1 with errno. */
typedef ssize_t (*pconn_io_fn)(void *arg, const struct iovec *iov, int iovcnt);
/*
 * The app writes iov (at most PCONN_IOV_APP pieces are taken: a short
 * write). The protocol may add edits; they go out through io, and the app
 * is told how many of its own bytes left (-1 with errno as it must see
 * it: io's, or EAGAIN when only obs's bytes moved).
 */
ssize_t pconn_write(struct proto_conn *pc, const struct iovec *iov, int iovcnt, pconn_io_fn io,
		    void *arg);

/* ---- for modules -------------------------------------------------------- */

/* Arm an edit of the app's next write (splice_add). */
int pconn_edit(struct proto_conn *pc, size_t pos, size_t del, const char *bytes, size_t len);
/* x ended (error: enum span_error) at ts; r holds the module's attributes
 * and gets the rest here before it goes to the host. */
void pconn_emit(struct proto_conn *pc, const struct exchange *x, struct span_rec *r, uint16_t error,
		uint64_t ts);
void pconn_count(struct proto_conn *pc, enum proto_count what);

#endif
