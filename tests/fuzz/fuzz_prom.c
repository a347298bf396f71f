/*
 * libFuzzer: arbitrary label values and counts through the registry, the
 * cardinality guard and both encoders. Checks that every sample line of
 * the output stays one line (escaping works) and the guard holds its cap.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "prom.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const labels[] = {"a", "b"};
	struct card_guard *g = card_guard_new(200);
	struct metrics_registry r;
	struct metric_family *c, *h;
	struct sbuf b;
	size_t i = 0;

	if (!g)
		return 0;
	metrics_init(&r, g);
	c = metrics_family(&r, "x_total", "help \\ with\nnewline", NULL, METRIC_COUNTER, labels, 2);
	h = metrics_family(&r, "y_seconds", "h", "seconds", METRIC_HISTOGRAM, labels, 2);
	while (i < size) {
		char v1[32] = "", v2[32] = "";
		const char *v[2] = {v1, v2};
		size_t n = data[i++] % 16;
		__u64 slots[OBS_HIST_SLOTS] = {0};

		for (size_t j = 0; j < n && i < size; j++)
			v1[j] = (char)(data[i++] | 1); /* no NUL inside */
		for (size_t j = 0; j < 3 && i < size; j++)
			v2[j] = (char)(data[i++] | 1);
		if (i < size)
			slots[data[i++] % OBS_HIST_SLOTS] = 1;
		metrics_counter_add(&r, c, v, 1);
		metrics_hist_add(&r, h, v, slots, 5);
	}
	sbuf_init(&b);
	prom_encode(&b, &r, (size & 1) ? PROM_OPENMETRICS : PROM_TEXT);
	/* Every line is a comment or "name{...} value": no raw newline leaked. */
	for (char *line = b.buf; line && *line;) {
		char *nl = strchr(line, '\n');

		if (!nl)
			abort();
		if (*line != '#' && strncmp(line, "x_total", 7) && strncmp(line, "y_seconds", 9))
			abort();
		line = nl + 1;
	}
	if (card_guard_used(g) > card_guard_limit(g))
		abort();
	sbuf_free(&b);
	metrics_free(&r);
	card_guard_free(g);
	return 0;
}
