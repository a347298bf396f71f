/*
 * prom - encode a metrics registry as Prometheus text exposition format
 * 0.0.4 or OpenMetrics 1.0.0. Pure: writes into an sbuf.
 */
#ifndef OBS_PROM_H
#define OBS_PROM_H
#include "metrics.h"
#include "sbuf.h"

#define PROM_CONTENT_TYPE_TEXT	      "text/plain; version=0.0.4; charset=utf-8"
#define PROM_CONTENT_TYPE_OPENMETRICS "application/openmetrics-text; version=1.0.0; charset=utf-8"

enum prom_format { PROM_TEXT, PROM_OPENMETRICS };

/* Pick the format from an HTTP Accept header (NULL allowed). */
enum prom_format prom_negotiate(const char *accept);
void prom_encode(struct sbuf *out, const struct metrics_registry *r, enum prom_format fmt);
/* Escapers, exposed for tests. */
void prom_escape_label(struct sbuf *out, const char *v);
void prom_escape_help(struct sbuf *out, const char *v);
/* Format a float the way Prometheus parses it (+Inf, NaN, shortest %g). */
void prom_format_double(char *buf, size_t len, double v);
/* Is name a valid metric / label name? */
int prom_valid_name(const char *name, int label);

#endif
