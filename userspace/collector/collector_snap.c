/*
 * collector_snap.c - the aggregates in the kernel's maps: read whole at
 * scrape time (collector_snapshot), and a service's dropped when it
 * expires (collector_live_slots, collector_forget_slot).
 */
#include "collector.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "collector_priv.h"
#include "mapwalk.h"
#include "obs.skel.h"

/* A lookup's value size: a per-CPU map's is one rounded value per CPU. */
static size_t lookup_size(const struct collector *c, const struct bpf_map *m)
{
	size_t v = bpf_map__value_size(m);

	switch (bpf_map__type(m)) {
	case BPF_MAP_TYPE_PERCPU_HASH:
	case BPF_MAP_TYPE_PERCPU_ARRAY:
	case BPF_MAP_TYPE_LRU_PERCPU_HASH:
		return ((v + 7) & ~(size_t)7) * (size_t)c->ncpus;
	default:
		return v;
	}
}

static int count_one(void *ctx, const void *key, const void *value)
{
	(void)ctx;
	(void)key;
	(void)value;
	return 0;
}

static void add_fill(struct collector *c, struct obs_snapshot *s, const char *name,
		     struct bpf_map *m)
{
	size_t n = 0;

	if (s->nfill >= SNAP_MAPS)
		return;
	mapwalk(bpf_map__fd(m), bpf_map__key_size(m), lookup_size(c, m), count_one, NULL, &n);
	s->fill[s->nfill].name = name;
	s->fill[s->nfill].used = (uint32_t)n;
	s->fill[s->nfill].max = bpf_map__max_entries(m);
	s->nfill++;
}

static struct snap_hist *snap_append(struct obs_snapshot *s, size_t *cap)
{
	if (s->nhists == *cap) {
		size_t ncap = *cap ? *cap * 2 : 256;
		struct snap_hist *n = realloc(s->hists, ncap * sizeof(*n));

		if (!n)
			return NULL;
		s->hists = n;
		*cap = ncap;
	}
	memset(&s->hists[s->nhists], 0, sizeof(s->hists[0]));
	return &s->hists[s->nhists++];
}

/* Sum per-CPU values; 0 if every CPU's histogram is empty. */
static int sum_cpus(const struct obs_hist *vals, int ncpus, struct obs_hist *out)
{
	uint64_t any = 0;

	memset(out, 0, sizeof(*out));
	for (int cpu = 0; cpu < ncpus; cpu++) {
		for (int i = 0; i < OBS_HIST_SLOTS; i++) {
			out->slots[i] += vals[cpu].slots[i];
			any |= vals[cpu].slots[i];
		}
		out->sum_ns += vals[cpu].sum_ns;
		out->bytes += vals[cpu].bytes;
	}
	return any != 0;
}

struct hist_walk {
	struct collector *c;
	struct obs_snapshot *s;
	size_t cap;
	int fast; /* the fast syscall table: key is the syscall number */
};

static int on_hist(void *ctx, const void *key, const void *value)
{
	struct hist_walk *w = ctx;
	struct obs_hist sum;
	struct snap_hist *h;
	__u32 nr;

	/* a fast table entry never hit is no series */
	if (!sum_cpus(value, w->c->ncpus, &sum) && w->fast)
		return 0;
	if (!(h = snap_append(w->s, &w->cap)))
		return -ENOMEM;
	if (w->fast) {
		memcpy(&nr, key, sizeof(nr));
		h->key = (struct obs_hist_key){.slot = 0, .kind = OBS_H_SYSCALL, .id = nr};
	} else {
		memcpy(&h->key, key, sizeof(h->key));
	}
	h->h = sum;
	return 0;
}

/* The histograms, and (*entries) how many the hash holds. */
static int read_hists(struct collector *c, struct obs_snapshot *s, size_t *entries)
{
	struct hist_walk w = {.c = c, .s = s, .fast = 1};
	struct bpf_map *fast = c->skel->maps.fast_sys, *hists = c->skel->maps.hists;
	int rc;

	rc = mapwalk(bpf_map__fd(fast), sizeof(__u32), lookup_size(c, fast), on_hist, &w, NULL);
	if (rc)
		return rc;
	w.fast = 0;
	return mapwalk(bpf_map__fd(hists), sizeof(struct obs_hist_key), lookup_size(c, hists),
		       on_hist, &w, entries);
}

struct counters_walk {
	struct obs_snapshot *s;
	int ncpus;
};

static int on_counters(void *ctx, const void *key, const void *value)
{
	struct counters_walk *w = ctx;
	__u64 *d, src;
	__u32 slot;

	memcpy(&slot, key, sizeof(slot));
	if (slot >= OBS_MAX_SLOTS)
		return 0;
	d = (__u64 *)&w->s->counters[slot];
	for (int cpu = 0; cpu < w->ncpus; cpu++)
		for (size_t i = 0; i < sizeof(struct obs_counters) / sizeof(__u64); i++) {
			memcpy(&src,
			       (const char *)value + (size_t)cpu * sizeof(struct obs_counters) +
				   i * sizeof(__u64),
			       sizeof(src));
			d[i] += src;
		}
	return 0;
}

/* A walk of tracked: the slots with a live process, the gone ones' pids. */
struct live_walk {
	uint8_t *live;
	__u32 dead[256];
	size_t ndead;
};

static int on_tracked(void *ctx, const void *key, const void *value)
{
	struct live_walk *w = ctx;
	const struct obs_tracked *v = value;
	__u32 pid;

	memcpy(&pid, key, sizeof(pid));
	/* an entry whose process is gone (put back by a late exec event
	 * while it was a zombie): not live, and swept */
	if (kill((pid_t)pid, 0) && errno == ESRCH) {
		if (w->ndead < sizeof(w->dead) / sizeof(w->dead[0]))
			w->dead[w->ndead++] = pid;
		return 0;
	}
	if (v->slot < OBS_MAX_SLOTS)
		w->live[v->slot] = 1;
	return 0;
}

void collector_live_slots(struct collector *c, uint8_t *live)
{
	struct bpf_map *m = c->skel->maps.tracked;
	int fd = bpf_map__fd(m);
	struct live_walk w = {.live = live};

	mapwalk(fd, sizeof(__u32), bpf_map__value_size(m), on_tracked, &w, NULL);
	for (size_t i = 0; i < w.ndead; i++)
		bpf_map_delete_elem(fd, &w.dead[i]);
	if (w.ndead)
		__atomic_add_fetch(&c->skel->bss->track_gen, 1, __ATOMIC_SEQ_CST);
}

/* A walk of hists: the keys of one slot, to be deleted after the walk
 * (deleting during it would lose its place). */
struct forget_walk {
	uint32_t slot;
	struct obs_hist_key *keys;
	size_t n, cap;
};

static int on_hist_key(void *ctx, const void *key, const void *value)
{
	struct forget_walk *w = ctx;
	struct obs_hist_key k;

	(void)value;
	memcpy(&k, key, sizeof(k));
	if (k.slot != w->slot)
		return 0;
	if (w->n == w->cap) {
		size_t ncap = w->cap ? w->cap * 2 : 64;
		struct obs_hist_key *m = realloc(w->keys, ncap * sizeof(*m));

		if (!m)
			return -ENOMEM;
		w->keys = m;
		w->cap = ncap;
	}
	w->keys[w->n++] = k;
	return 0;
}

size_t collector_forget_slot(struct collector *c, uint32_t slot)
{
	struct bpf_map *hists = c->skel->maps.hists;
	int fd = bpf_map__fd(hists);
	struct forget_walk w = {.slot = slot};
	size_t gone = 0;
	void *zero = calloc((size_t)c->ncpus, sizeof(struct obs_hist) > sizeof(struct obs_counters)
						  ? sizeof(struct obs_hist)
						  : sizeof(struct obs_counters));

	/* out of memory part way: what was found still goes */
	mapwalk(fd, sizeof(struct obs_hist_key), lookup_size(c, hists), on_hist_key, &w, NULL);
	for (size_t i = 0; i < w.n; i++)
		gone += !bpf_map_delete_elem(fd, &w.keys[i]);
	free(w.keys);
	if (zero) {
		/* its counters, and (slot 0) the fast syscall table */
		bpf_map_update_elem(bpf_map__fd(c->skel->maps.counters), &slot, zero, BPF_ANY);
		for (__u32 nr = 0; slot == 0 && nr < OBS_FAST_SYSCALLS; nr++) {
			struct obs_hist h;

			if (!bpf_map_lookup_elem(bpf_map__fd(c->skel->maps.fast_sys), &nr, zero) &&
			    sum_cpus(zero, c->ncpus, &h))
				gone++;
			memset(zero, 0, (size_t)c->ncpus * sizeof(struct obs_hist));
			bpf_map_update_elem(bpf_map__fd(c->skel->maps.fast_sys), &nr, zero,
					    BPF_ANY);
		}
		free(zero);
	}
	return gone;
}

/* Every loaded program's recursion misses (kernel 5.12+; 0 before). */
static void read_prog_misses(struct collector *c, struct obs_snapshot *s)
{
	struct bpf_program *p;

	bpf_object__for_each_program(p, c->skel->obj)
	{
		struct bpf_prog_info info;
		__u32 len = sizeof(info);
		int fd = bpf_program__fd(p);

		if (fd < 0 || s->nprogs >= SNAP_PROGS)
			continue;
		memset(&info, 0, sizeof(info));
		if (bpf_obj_get_info_by_fd(fd, &info, &len))
			continue;
		s->progs[s->nprogs].name = bpf_program__name(p);
		s->progs[s->nprogs].misses = info.recursion_misses;
		s->nprogs++;
	}
}

int collector_snapshot(struct collector *c, struct obs_snapshot *s)
{
	struct counters_walk cw = {.s = s, .ncpus = c->ncpus};
	struct bpf_map *counters = c->skel->maps.counters;
	uint64_t *dv = calloc((size_t)c->ncpus, sizeof(*dv));
	size_t nhists = 0;
	int rc = -ENOMEM;

	memset(s, 0, sizeof(*s));
	if (!dv)
		goto out;
	rc = read_hists(c, s, &nhists);
	if (rc)
		goto out;
	rc = mapwalk(bpf_map__fd(counters), sizeof(__u32), lookup_size(c, counters), on_counters,
		     &cw, NULL);
	if (rc)
		goto out;
	for (__u32 r = 0; r < OBS_DROP_COUNT; r++) {
		if (bpf_map_lookup_elem(bpf_map__fd(c->skel->maps.drops), &r, dv))
			continue;
		for (int cpu = 0; cpu < c->ncpus; cpu++)
			s->drops[r] += dv[cpu];
	}
	read_prog_misses(c, s);
	collector_inject_read(c, s);
	add_fill(c, s, "tracked", c->skel->maps.tracked);
	if (s->nfill < SNAP_MAPS) /* counted as it was read */
		s->fill[s->nfill++] =
		    (struct map_fill){.name = "hists",
				      .used = (uint32_t)nhists,
				      .max = bpf_map__max_entries(c->skel->maps.hists)};
	/* fast_sys is a preallocated array: always "full", never drops */
	add_fill(c, s, "parked", c->skel->maps.parked);
	add_fill(c, s, "runq_start", c->skel->maps.runq_start);
	add_fill(c, s, "disk_start", c->skel->maps.disk_start);
	add_fill(c, s, "disk_merged", c->skel->maps.disk_merged);
	add_fill(c, s, "connect_start", c->skel->maps.connect_start);
	add_fill(c, s, "sock_owner", c->skel->maps.sock_owner);
	add_fill(c, s, "listen_owner", c->skel->maps.listen_owner);
	s->ringbuf_pending = c->skel->bss->ringbuf_avail;
	s->disk_unseen = __atomic_load_n(&c->skel->bss->disk_unseen_n, __ATOMIC_RELAXED);
	s->events_seen = __atomic_load_n(&c->events_seen, __ATOMIC_RELAXED);
	rc = 0;
out:
	free(dv);
	if (rc)
		snapshot_free(s);
	return rc;
}

void snapshot_free(struct obs_snapshot *s)
{
	free(s->hists);
	s->hists = NULL;
	s->nhists = 0;
}
