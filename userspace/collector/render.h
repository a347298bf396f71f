/* render - turn a collector snapshot into the exported metric families. */
#ifndef OBS_RENDER_H
#define OBS_RENDER_H
#include "app.h"
#include "prom.h"

/* /metrics body. Thread-safe (takes a->lock). */
int render_metrics(void *app, enum prom_format fmt, struct sbuf *out);
/* /readyz: 1 when BPF is attached and the ring buffer is being drained. */
int render_ready(void *app, char *reason, size_t len);
/* Build the registry for a snapshot (used by render_metrics and tests). */
void render_registry(struct obs_app *a, const struct obs_snapshot *s, struct metrics_registry *r);

#endif
