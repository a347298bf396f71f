/*
 * proto_red - a finished exchange's RED point, counted in its process's
 * region (model/region.h): the protocol's observe gives the family and
 * label values, this files it, with the span as its bucket's exemplar
 * when the span is exported. Shared by the shim and by kernel-side
 * capture in the collector, which counts for the processes the shim
 * cannot enter. Pure: the region is memory.
 */
#ifndef OBS_PROTO_RED_H
#define OBS_PROTO_RED_H

#include "proto.h"
#include "region.h"
#include "route.h"

/* The series a connection's last point went to, and what of its record
 * chose it: everything a protocol's observe may read for the labels, which
 * is all of the record but the exchange's own ids and times. A keep-alive
 * client's next call to the same place finds its series again without
 * templating a route, building labels or hashing them (those were most of
 * the shim's cost of an unsampled request). Kept by the connection's
 * owner, under its lock. */
#define PROTO_RED_MEMO_STR 192
struct proto_red_memo {
	const struct region_hdr *region; /* the series' region; NULL: nothing kept */
	const struct route_table *routes;
	const struct proto_family *family;
	struct region_series *s;
	uint32_t tag; /* the module's name for what its last record was made of */
	uint8_t kind, proto, nattrs;
	uint16_t flags, error, peer_port, str_used;
	char peer[SPAN_ADDR_MAX];
	struct spanrec_attr attrs[SPANREC_ATTR_MAX];
	char str[PROTO_RED_MEMO_STR];
};

/* routes: the http.route patterns (NULL: none); memo: the connection's
 * (NULL: none); tag: the module's name for what r was made of (its
 * pc->red_tag; 0: none), kept with the memo for proto_red_again. */
void proto_red_observe(const struct proto_handler *h, struct region *reg,
		       const struct route_table *routes, const struct span_rec *r,
		       struct proto_red_memo *memo, uint32_t tag);

/* What a record would say besides its module's fields. */
struct proto_red_same {
	uint8_t kind, proto;
	uint16_t flags, error, peer_port;
};

/*
 * An unsampled exchange that the module says is made of the same as its
 * last record (tag, unchanged since), with the header fields in same: its
 * point goes to the memo's series, value seconds, with no record built,
 * looked up or compared (for an unsampled keep-alive request, most of
 * what is left of the shim's cost). 0: counted; -1: the memo does not
 * hold that record's series (another tag, region, route table or header):
 * build the record and proto_red_observe it. No exemplar: unsampled.
 */
int proto_red_again(struct region *reg, const struct route_table *routes,
		    struct proto_red_memo *memo, uint32_t tag, const struct proto_red_same *same,
		    double value);

#endif
