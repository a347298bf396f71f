/*
 * xspan - a span ready to export: what the collector made of a span
 * record once the protocol that wrote it described it (proto.h): its
 * name, status and semantic-convention attributes, plus the process it
 * came from. Exporters read it generically and know no protocol. Keys
 * are static strings (the protocols' declarations); values live in the
 * span itself, so a span may be copied by value. Pure.
 */
#ifndef OBS_XSPAN_H
#define OBS_XSPAN_H
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "spanrec.h"
#include "tp.h"

#define XSPAN_ATTR_MAX 16
/* The string pool holds, each NUL-terminated and cut to its own most, the
 * tracestate, the process labels, then the name and string values: */
#define XSPAN_EXE_MAX	    32	/* process.executable.name */
#define XSPAN_SERVICE_MAX   128 /* node agent: the process's own service */
#define XSPAN_CONTAINER_MAX 72
#define XSPAN_POD_MAX	    40
#define XSPAN_NAMES_MAX	    1280 /* the name and string values */
#define XSPAN_STR_MAX                                                                              \
	(1 + TP_TRACESTATE_MAX + 1 + XSPAN_EXE_MAX + XSPAN_SERVICE_MAX + XSPAN_CONTAINER_MAX +     \
	 XSPAN_POD_MAX + XSPAN_NAMES_MAX)

enum xspan_type { XSPAN_INT = 1, XSPAN_STR = 2 };

struct xspan_attr {
	const char *key; /* static */
	int64_t i;
	uint16_t off; /* XSPAN_STR: the value at str[off] */
	uint16_t len; /* XSPAN_STR: its length (the encoder's strlen, saved) */
	uint8_t klen; /* the key's length (keys are short names: a longer one is not added) */
	uint8_t type;
};

/*
 * The pool is last and filled from its start: a span is only as long as
 * xspan_size says, and a queue keeps only that much of it (the export
 * queue's records are ~600 bytes, not the 2.6 KB of a full one). Fill it
 * in order: xspan_from_rec, xspan_set_labels, xspan_set_exe, then the
 * name and attributes (the protocol's describe), so that the labels
 * always have their room.
 */
struct xspan {
	uint8_t trace_id[16];
	uint8_t span_id[8];
	uint8_t parent_id[8];
	uint8_t has_parent;
	uint8_t kind;  /* enum span_kind */
	uint8_t error; /* the span's status is an error */
	uint8_t nattrs;
	uint32_t pid;
	uint32_t labels_id;	   /* the same process labels (service, container): the same id */
	uint64_t start_ns, end_ns; /* CLOCK_MONOTONIC */
	uint16_t name_off;	   /* the span's name at str[name_off] */
	uint16_t name_len;
	uint16_t str_used;
	uint16_t ts_off, ts_len; /* the tracestate */
	/* process.executable.name; node agent: the process's own service and
	 * container ("": the resource's service.name, no container) */
	uint16_t exe_off, service_off, container_off, pod_off;
	struct xspan_attr attrs[XSPAN_ATTR_MAX];
	char str[XSPAN_STR_MAX];
};

/* Identity, timing and context from a (checked) record; no name, no
 * attributes, no process labels yet. */
void xspan_from_rec(struct xspan *x, const struct span_rec *r);
/* The process's labels (each cut to its most; NULL or "" for none). */
void xspan_set_labels(struct xspan *x, const char *service, const char *container_id,
		      const char *pod_uid);
void xspan_set_exe(struct xspan *x, const char *exe);
const char *xspan_tracestate(const struct xspan *x);
const char *xspan_service(const struct xspan *x);
const char *xspan_container(const struct xspan *x);
const char *xspan_pod(const struct xspan *x);
const char *xspan_exe(const struct xspan *x);
/* Bytes of x in use (its pool as far as it is filled), rounded up to 8:
 * what a queue must keep of it. */
size_t xspan_size(const struct xspan *x);
/* The span's name (cut to what fits). */
void xspan_set_name(struct xspan *x, const char *name);
const char *xspan_name(const struct xspan *x);
/* Add an attribute. An empty or NULL string adds nothing: an attribute
 * obs does not know is absent, not empty. Silently full, never over. */
void xspan_put_str_n(struct xspan *x, const char *key, size_t klen, const char *v);
void xspan_put_int_n(struct xspan *x, const char *key, size_t klen, int64_t v);
/* Inline so that a literal key's strlen is the compiler's (every span
 * takes ~10 of them). */
static inline void xspan_put_str(struct xspan *x, const char *key, const char *v)
{
	xspan_put_str_n(x, key, strlen(key), v);
}
static inline void xspan_put_int(struct xspan *x, const char *key, int64_t v)
{
	xspan_put_int_n(x, key, strlen(key), v);
}
/* Attribute i's string value. */
const char *xspan_str(const struct xspan *x, size_t i);
/* The attribute named key, or NULL. */
const struct xspan_attr *xspan_find(const struct xspan *x, const char *key);

#endif
