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
	uint8_t kind, proto, nattrs;
	uint16_t flags, error, peer_port, str_used;
	char peer[SPAN_ADDR_MAX];
	struct spanrec_attr attrs[SPANREC_ATTR_MAX];
	char str[PROTO_RED_MEMO_STR];
};

/* routes: the http.route patterns (NULL: none); memo: the connection's
 * (NULL: none). */
void proto_red_observe(const struct proto_handler *h, struct region *reg,
		       const struct route_table *routes, const struct span_rec *r,
		       struct proto_red_memo *memo);

#endif
