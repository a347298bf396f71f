#include "mapwalk.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>

#define BATCH_BYTES (512 * 1024) /* values per syscall: bounded memory */
#define BATCH_MIN   16
#define BATCH_MAX   1024

/* Entry by entry: the kernel without batch operations for this map. */
static int walk_one_by_one(int fd, size_t key_size, void *key, void *next, void *value,
			   mapwalk_fn fn, void *ctx, size_t *entries)
{
	void *prev = NULL;
	int rc;

	while (!bpf_map_get_next_key(fd, prev, next)) {
		memcpy(key, next, key_size);
		prev = key;
		if (bpf_map_lookup_elem(fd, key, value))
			continue; /* deleted meanwhile */
		(*entries)++;
		if ((rc = fn(ctx, key, value)))
			return rc;
	}
	return 0;
}

int mapwalk(int fd, size_t key_size, size_t value_size, mapwalk_fn fn, void *ctx, size_t *entries)
{
	size_t per = BATCH_BYTES / (value_size ? value_size : 1), seen = 0;
	/* the batch token: a bucket index (hash maps) or a key (arrays) */
	uint64_t token[8] = {0};
	void *keys, *values;
	int rc = 0, first = 1;

	if (per < BATCH_MIN)
		per = BATCH_MIN;
	if (per > BATCH_MAX)
		per = BATCH_MAX;
	if (key_size > sizeof(token))
		return -EINVAL;
	keys = malloc(per * key_size);
	values = malloc(per * value_size);
	if (!keys || !values) {
		rc = -ENOMEM;
		goto out;
	}
	for (;;) {
		uint64_t in[8];
		__u32 count = (__u32)per;
		int err, done;

		memcpy(in, token, sizeof(in));
		err =
		    bpf_map_lookup_batch(fd, first ? NULL : in, token, keys, values, &count, NULL);
		done = err && errno == ENOENT;
		if (err && errno == ENOSPC && per < BATCH_MAX * 64) {
			/* a hash bucket holds more than a batch: again, larger */
			void *k = realloc(keys, 2 * per * key_size);
			void *v = k ? realloc(values, 2 * per * value_size) : NULL;

			if (k)
				keys = k;
			if (!v) {
				rc = -ENOMEM;
				goto out;
			}
			values = v;
			per *= 2;
			memcpy(token, in, sizeof(in));
			continue;
		}
		if (err && !done) {
			if (first && (errno == EINVAL || errno == ENOTSUP || errno == 524)) {
				/* no batch operations here (524: ENOTSUPP) */
				rc = walk_one_by_one(fd, key_size, keys, (char *)keys + key_size,
						     values, fn, ctx, &seen);
				goto out;
			}
			rc = -errno;
			goto out;
		}
		first = 0;
		for (__u32 i = 0; i < count; i++) {
			seen++;
			rc = fn(ctx, (char *)keys + i * key_size, (char *)values + i * value_size);
			if (rc)
				goto out;
		}
		if (done)
			break;
	}
out:
	if (entries)
		*entries = seen;
	free(keys);
	free(values);
	return rc;
}
