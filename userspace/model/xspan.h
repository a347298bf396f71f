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

#include "spanrec.h"

#define XSPAN_ATTR_MAX 16
#define XSPAN_STR_MAX  1280 /* the name and string values, NUL-terminated */

enum xspan_type { XSPAN_INT = 1, XSPAN_STR = 2 };

struct xspan_attr {
	const char *key; /* static */
	int64_t i;
	uint16_t off; /* XSPAN_STR: the value at str[off] */
	uint16_t len; /* XSPAN_STR: its length (the encoder's strlen, saved) */
	uint8_t klen; /* the key's length (keys are short names: a longer one is not added) */
	uint8_t type;
};

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
	char tracestate[TP_TRACESTATE_MAX + 1];
	char exe[32]; /* process.executable.name */
	/* node agent: the process's own service and container; "" = the
	 * resource's service.name, no container */
	char service[128];
	char container_id[72];
	char pod_uid[40];
	uint16_t name_off; /* the span's name at str[name_off] */
	uint16_t name_len;
	uint16_t str_used;
	struct xspan_attr attrs[XSPAN_ATTR_MAX];
	char str[XSPAN_STR_MAX];
};

/* Identity, timing and context from a (checked) record; no name, no
 * attributes, no process labels yet. */
void xspan_from_rec(struct xspan *x, const struct span_rec *r);
/* The span's name (cut to what fits). */
void xspan_set_name(struct xspan *x, const char *name);
const char *xspan_name(const struct xspan *x);
/* Add an attribute. An empty or NULL string adds nothing: an attribute
 * obs does not know is absent, not empty. Silently full, never over. */
void xspan_put_str(struct xspan *x, const char *key, const char *v);
void xspan_put_int(struct xspan *x, const char *key, int64_t v);
/* Attribute i's string value. */
const char *xspan_str(const struct xspan *x, size_t i);
/* The attribute named key, or NULL. */
const struct xspan_attr *xspan_find(const struct xspan *x, const char *key);

#endif
