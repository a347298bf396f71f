/* golayout - what obs needs to know of a Go program's binary to tell its
 * goroutines apart from the kernel side: where the current g sits in
 * thread-local storage and where goid sits in g (from the binary's DWARF,
 * which gives the layout of its own Go version), which of the net/http
 * and grpc-go functions it watches are there, and where in each a uprobe
 * costs least. */
#ifndef OBS_GOLAYOUT_H
#define OBS_GOLAYOUT_H
#include <stddef.h>
#include <stdint.h>

/* The functions watched (their symbols in golayout_fn_name). */
enum golayout_fn {
	GOLAYOUT_WRITELOOP,   /* net/http (*persistConn).writeLoop */
	GOLAYOUT_ROUNDTRIP,   /* net/http (*persistConn).roundTrip */
	GOLAYOUT_GRPC_SERVE,  /* grpc (*Server).serveStreams */
	GOLAYOUT_GRPC_HANDLE, /* grpc (*Server).handleStream */
	GOLAYOUT_GRPC_READER, /* grpc transport (*http2Client).reader */
	GOLAYOUT_GRPC_WRITE,  /* grpc transport (*http2Client).Write */
	GOLAYOUT_DIALCONN,    /* net/http (*Transport).dialConn (--go-inject) */
	GOLAYOUT_FNS
};

extern const char *const golayout_fn_name[GOLAYOUT_FNS];

struct golayout {
	int32_t tls_g;	   /* g's address is at the thread pointer + tls_g */
	uint32_t goid_off; /* goid's offset in runtime.g */
	/* grpc-go's transport.Stream: where its id is (stream_id_known) */
	uint32_t stream_id_off;
	int stream_id_known;
	struct {
		int found;
		/* where the uprobe goes: the stack check's branch, which the
		 * kernel emulates (one trap), else the entry (a trap and a step);
		 * from the function's start, and in the file */
		uint32_t at;
		uint64_t file_off;
	} fn[GOLAYOUT_FNS];
};

/* Read the layout of the Go program at path, built by Go version (as
 * elfkind_of says it, "go1.19.8"). -1 with why (e.g. "no DWARF: stripped")
 * if it cannot be known: then no goroutine is told from another. */
int golayout_read(const char *path, const char *version, struct golayout *out, char *why,
		  size_t whylen);
/* Its net/http client can be followed (both functions there). */
int golayout_http(const struct golayout *g);
/* net/http's client and its dialling are both known: its connections can
 * carry an injected context (--go-inject). */
int golayout_inject(const struct golayout *g);
/* Its grpc-go server and client can be followed. */
int golayout_grpc(const struct golayout *g);

#endif
