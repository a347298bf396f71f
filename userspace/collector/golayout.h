/* golayout - what obs needs to know of a Go program's binary to tell its
 * goroutines apart from the kernel side: where the current g sits in
 * thread-local storage and where goid sits in g (from the binary's DWARF,
 * which gives the layout of its own Go version), and whether the net/http
 * client functions it watches are there. */
#ifndef OBS_GOLAYOUT_H
#define OBS_GOLAYOUT_H
#include <stddef.h>
#include <stdint.h>

struct golayout {
	int32_t tls_g;	   /* g's address is at the thread pointer + tls_g */
	uint32_t goid_off; /* goid's offset in runtime.g */
	int has_client;	   /* net/http's persistConn.roundTrip and writeLoop are there */
	/* where in each the uprobe goes: the stack check's branch, which the
	 * kernel emulates (one trap), else the entry (a trap and a step) */
	uint32_t roundtrip_at, writeloop_at;
};

#define GOLAYOUT_ROUNDTRIP "net/http.(*persistConn).roundTrip"
#define GOLAYOUT_WRITELOOP "net/http.(*persistConn).writeLoop"

/* Read the layout of the Go program at path, built by Go version (as
 * elfkind_of says it, "go1.19.8"). -1 with why (e.g. "no DWARF: stripped")
 * if it cannot be known: then no goroutine is told from another. */
int golayout_read(const char *path, const char *version, struct golayout *out, char *why,
		  size_t whylen);

#endif
