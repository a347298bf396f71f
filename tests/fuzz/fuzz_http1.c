/*
 * libFuzzer: the HTTP/1 parser and the injection head scanner. Input is
 * fed in pieces whose sizes come from the first byte, in both directions;
 * the parser must never read or write out of bounds, must consume
 * progress on every call, and splitting must not change the events seen.
 * The scanner's insert offset must be the start of a blank line.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http1.h"

static void run(enum http1_dir dir, const uint8_t *d, size_t n, size_t step, int *heads, int *err)
{
	struct http1_parser p;

	http1_init(&p, dir);
	*heads = *err = 0;
	while (n) {
		size_t take = step < n ? step : n;
		const char *b = (const char *)d;
		size_t left = take;
		while (left) {
			enum http1_event ev;
			size_t used = http1_feed(&p, b, left, &ev);
			if (used == 0 || used > left)
				abort();
			if (ev == HTTP1_HEAD_DONE) {
				(*heads)++;
				if (strlen(p.msg.target) >= HTTP1_TARGET_MAX ||
				    strlen(p.msg.method) >= HTTP1_METHOD_MAX)
					abort();
			}
			if (ev == HTTP1_ERROR) {
				*err = 1;
				return;
			}
			b += used;
			left -= used;
		}
		d += take;
		n -= take;
	}
	http1_eof(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int h1, e1, h2, e2;
	size_t step;

	if (size < 1)
		return 0;
	step = (size_t)(data[0] % 16) + 1;
	data++;
	size--;
	for (int dir = 0; dir < 2; dir++) {
		run((enum http1_dir)dir, data, size, size ? size : 1, &h1, &e1);
		run((enum http1_dir)dir, data, size, step, &h2, &e2);
		if (h1 != h2 || e1 != e2)
			abort();
	}
	struct iovec v[2] = {{(void *)data, size / 2},
			     {(void *)(data + size / 2), size - size / 2}};
	struct http1_head_scan s;
	if (!http1_scan_head(v, 2, 1 << 16, &s)) {
		if (s.insert_at >= size ||
		    (data[s.insert_at] != '\r' && data[s.insert_at] != '\n') ||
		    data[s.insert_at - 1] != '\n')
			abort();
	}
	return 0;
}
