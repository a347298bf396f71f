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

/* routes: the http.route patterns (NULL: none). */
void proto_red_observe(const struct proto_handler *h, struct region *reg,
		       const struct route_table *routes, const struct span_rec *r);

#endif
