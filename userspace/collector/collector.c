#include "collector.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "cli.h"
#include "golayout.h"
#include "log.h"
#include "collector_priv.h"
#include "obs.skel.h"

/* libbpf's own messages go to our debug log; errors are reported by us. */
static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG && !log_enabled(LOG_TRACE))
		return 0;
	if (!log_enabled(LOG_DEBUG))
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static int on_ringbuf(void *ctx, void *data, size_t size)
{
	struct collector *c = ctx;

	if (size < sizeof(struct obs_proc_event))
		return 0;
	__atomic_add_fetch(&c->events_seen, 1, __ATOMIC_RELAXED);
	if (c->on_event)
		c->on_event(c->ctx, data);
	return 0;
}

static int on_capture(void *ctx, void *data, size_t size)
{
	struct collector *c = ctx;
	const struct obs_cap_event *e = data;
	const size_t head = offsetof(struct obs_cap_event, data);

	/* a record is as long as its bytes (capture.bpf.c's cap_chunks);
	 * only our programs write the ring, so a record whose bytes would
	 * run past its end cannot come: checked, not trusted */
	if (size < head || e->caplen > OBS_CAP_BYTES || size < head + e->caplen)
		return 0;
	if (c->on_capture)
		c->on_capture(c->capture_ctx, data);
	return 0;
}

static void disable(struct bpf_program *p)
{
	bpf_program__set_autoload(p, false);
}

int collector_has_block_io_start(const struct btf *vmlinux)
{
	/* every raw tracepoint has a btf_trace_<name> typedef */
	return vmlinux &&
	       btf__find_by_name_kind(vmlinux, "btf_trace_block_io_start", BTF_KIND_TYPEDEF) > 0;
}

/* OBS_DEBUG_NO_<feature>=1: take an older kernel's path here (for tests). */
static int as_without(const char *env)
{
	const char *no = getenv(env);

	return no && !strcmp(no, "1");
}

int collector_has_bpf_loop(void)
{
	if (as_without("OBS_DEBUG_NO_BPF_LOOP"))
		return 0;
	return libbpf_probe_bpf_helper(BPF_PROG_TYPE_RAW_TRACEPOINT, BPF_FUNC_loop, NULL) == 1;
}

/* With disk probes: merges are corrected by programs that need bpf_loop. */
static void select_disk_merges(struct obs_bpf *s)
{
	if (collector_has_bpf_loop()) {
		/* run by issue's and completion's tail calls, not attached */
		bpf_program__set_autoattach(s->progs.obs_disk_walk_issue, false);
		bpf_program__set_autoattach(s->progs.obs_disk_walk_complete, false);
		return;
	}
	disable(s->progs.obs_disk_walk_issue);
	disable(s->progs.obs_disk_walk_complete);
	disable(s->progs.obs_block_rq_merge);
	disable(s->progs.obs_block_bio_backmerge);
	disable(s->progs.obs_block_bio_frontmerge);
}

static int btf_has_member(const struct btf *btf, const char *type, const char *member)
{
	int id = btf__find_by_name_kind(btf, type, BTF_KIND_STRUCT);
	const struct btf_type *t = id < 0 ? NULL : btf__type_by_id(btf, id);

	for (int i = 0; t && i < btf_vlen(t); i++)
		if (!strcmp(btf__name_by_offset(btf, btf_members(t)[i].name_off), member))
			return 1;
	return 0;
}

/* Can run-queue waits come from the scheduler's own stamp
 * (task_struct.sched_info.last_queued, CONFIG_SCHED_INFO) and the run
 * queue's clock (through the task's cfs_rq, CONFIG_FAIR_GROUP_SCHED)?
 * Then no program runs at wakeup. */
static int runq_by_sched_info(const struct btf *vmlinux)
{
	if (as_without("OBS_DEBUG_NO_SCHED_INFO"))
		return 0;
	return vmlinux && btf_has_member(vmlinux, "sched_info", "last_queued") &&
	       btf_has_member(vmlinux, "sched_entity", "cfs_rq") &&
	       btf_has_member(vmlinux, "cfs_rq", "rq") && btf_has_member(vmlinux, "rq", "clock");
}

/* Kernel-side capture runs as tail calls of the syscall and scheduler
 * programs: with capture on they stay, their own histograms off (rodata),
 * whatever probes were asked for. */
static void select_probes(struct obs_bpf *s, unsigned probes, int capture,
			  const struct btf *vmlinux)
{
	s->rodata->sys_hist_on = !!(probes & OBS_PROBE_SYSCALL);
	s->rodata->runq_on = !!(probes & OBS_PROBE_RUNQ);
	if (!(probes & OBS_PROBE_SYSCALL) && !capture) {
		disable(s->progs.obs_sys_enter);
		disable(s->progs.obs_sys_exit);
	}
	s->rodata->runq_sched_info = runq_by_sched_info(vmlinux);
	/* (CO-RE reads, as without bpf_rdonly_cast) */
	s->rodata->no_btf_cast = as_without("OBS_DEBUG_NO_BTF_CAST");
	if (s->rodata->runq_sched_info)
		bpf_map__set_max_entries(s->maps.runq_start, 1); /* unused */
	if (!(probes & OBS_PROBE_RUNQ) || s->rodata->runq_sched_info) {
		disable(s->progs.obs_sched_wakeup);
		disable(s->progs.obs_sched_wakeup_new);
	}
	if (!(probes & (OBS_PROBE_RUNQ | OBS_PROBE_SYSCALL)) && !capture)
		disable(s->progs.obs_sched_switch);
	if (!(probes & OBS_PROBE_DISK)) {
		disable(s->progs.obs_block_io_start);
		disable(s->progs.obs_block_rq_insert);
		disable(s->progs.obs_block_rq_issue);
		disable(s->progs.obs_block_rq_merge);
		disable(s->progs.obs_block_bio_backmerge);
		disable(s->progs.obs_block_bio_frontmerge);
		disable(s->progs.obs_block_rq_complete);
		disable(s->progs.obs_disk_walk_issue);
		disable(s->progs.obs_disk_walk_complete);
	} else if (collector_has_block_io_start(vmlinux)) {
		s->rodata->disk_io_start_on = 1;
		disable(s->progs.obs_block_rq_insert);
	} else {
		disable(s->progs.obs_block_io_start);
	}
	if (probes & OBS_PROBE_DISK)
		select_disk_merges(s);
	if (!(probes & OBS_PROBE_TCP)) {
		disable(s->progs.obs_inet_sock_set_state);
		disable(s->progs.obs_tcp_retransmit_skb);
		disable(s->progs.obs_tcp_send_reset);
		disable(s->progs.obs_tcp_receive_reset);
		disable(s->progs.obs_sock_send_length);
		disable(s->progs.obs_sock_recv_length);
	}
}

int collector_seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* The walking issue and completion (loaded where the kernel has bpf_loop)
 * into the array the plain ones tail-call. */
static int fill_disk_tail(struct obs_bpf *skel)
{
	const struct bpf_program *p[OBS_DISK_TAILS] = {skel->progs.obs_disk_walk_issue,
						       skel->progs.obs_disk_walk_complete};

	for (__u32 i = 0; i < OBS_DISK_TAILS; i++) {
		int fd = bpf_program__fd(p[i]);

		if (fd < 0)
			return 0; /* not loaded: merges not corrected */
		if (bpf_map__update_elem(skel->maps.disk_tail, &i, sizeof(i), &fd, sizeof(fd),
					 BPF_ANY))
			return -1;
	}
	return 0;
}

/* Capture's syscall programs into the array obs_sys_enter/exit tail-call. */
static int fill_cap_tail(struct obs_bpf *skel)
{
	const struct bpf_program *p[OBS_CAP_TAILS] = {
	    skel->progs.obs_cap_enter, skel->progs.obs_cap_exit, skel->progs.obs_cap_switch};

	for (__u32 i = 0; i < OBS_CAP_TAILS; i++) {
		int fd = bpf_program__fd(p[i]);

		if (fd < 0 || bpf_map__update_elem(skel->maps.cap_tail, &i, sizeof(i), &fd,
						   sizeof(fd), BPF_ANY))
			return -1;
	}
	return 0;
}

int collector_open(const struct collector_cfg *cfg, struct collector **out, char *err,
		   size_t errlen)
{
	struct collector *c = calloc(1, sizeof(*c));
	struct bpf_program *prog;
	struct btf *vmlinux;
	int rc;

	if (!c)
		return collector_seterr(err, errlen, "out of memory");
	libbpf_set_print(libbpf_print);
	c->on_event = cfg->on_event;
	c->ctx = cfg->ctx;
	c->on_capture = cfg->on_capture;
	c->capture_ctx = cfg->capture_ctx;
	c->ncpus = libbpf_num_possible_cpus();
	if (c->ncpus <= 0) {
		collector_seterr(err, errlen, "cannot count CPUs: %s", strerror(-c->ncpus));
		goto fail;
	}

	c->skel = obs_bpf__open();
	if (!c->skel) {
		collector_seterr(err, errlen, "cannot open the BPF object: %s", strerror(errno));
		goto fail;
	}
	c->skel->rodata->default_slot = cfg->default_slot;
	c->skel->rodata->emit_exec = cfg->emit_exec ? 1 : 0;
	/* the kernel's own types, read once (~50 ms): which tracepoints and
	 * link types it has (NULL: unreadable, none assumed) */
	vmlinux = btf__load_vmlinux_btf();
	select_probes(c->skel, cfg->probes, cfg->on_capture != NULL, vmlinux);
	if (cfg->on_capture) {
		/* capture's scratch: one per possible CPU (capture.bpf.c) */
		bpf_map__set_max_entries(c->skel->maps.cap_scratch, (__u32)c->ncpus);
		collector_go_prepare(c, vmlinux);
		/* run by obs_sys_enter/exit's and obs_sched_switch's tail
		 * calls, not attached */
		c->skel->rodata->cap_tail_on = 1;
		bpf_program__set_autoattach(c->skel->progs.obs_cap_enter, false);
		bpf_program__set_autoattach(c->skel->progs.obs_cap_exit, false);
		bpf_program__set_autoattach(c->skel->progs.obs_cap_switch, false);
	} else {
		disable(c->skel->progs.obs_cap_enter);
		disable(c->skel->progs.obs_cap_exit);
		disable(c->skel->progs.obs_cap_switch);
		disable(c->skel->progs.obs_cap_fork);
		disable(c->skel->progs.obs_cap_exit_proc);
		disable(c->skel->progs.obs_cap_exec);
		disable(c->skel->progs.obs_go_writer);
		disable(c->skel->progs.obs_go_call);
		disable(c->skel->progs.obs_grpc_srv_conn);
		disable(c->skel->progs.obs_grpc_srv_stream);
		disable(c->skel->progs.obs_grpc_cli_conn);
		disable(c->skel->progs.obs_grpc_cli_stream);
	}
	btf__free(vmlinux);
	vmlinux = NULL;
	c->skel->rodata->cap_probe_exec = cfg->on_capture && cfg->capture_probe_exec;
	collector_inject_prepare(c, cfg);

	rc = obs_bpf__load(c->skel);
	if (rc) {
		collector_seterr(
		    err, errlen,
		    "cannot load the BPF programs into the kernel: %s (run 'obs check' to see "
		    "which kernel feature is missing; OBS_LOG=debug shows the verifier log)",
		    strerror(-rc));
		goto fail;
	}
	bpf_object__for_each_program(prog, c->skel->obj)
	{
		struct bpf_link *l;

		/* uprobes attach per program, with collector_go_follow */
		if (!bpf_program__autoload(prog) || !bpf_program__autoattach(prog) ||
		    !strncmp(bpf_program__section_name(prog), "uprobe", 6))
			continue;
		l = bpf_program__attach(prog);
		if (!l) {
			collector_seterr(
			    err, errlen,
			    "cannot attach %s (raw tracepoint %s): %s; run 'obs check'",
			    bpf_program__name(prog), bpf_program__section_name(prog),
			    strerror(errno));
			goto fail;
		}
		/* The skeleton destroys links it owns; keep ours in the skeleton slots. */
		for (int i = 0; i < c->skel->skeleton->prog_cnt; i++)
			if (*c->skel->skeleton->progs[i].prog == prog)
				*c->skel->skeleton->progs[i].link = l;
		c->attached++;
	}

	if (fill_disk_tail(c->skel)) {
		collector_seterr(err, errlen, "cannot set up the block I/O merge programs: %s",
				 strerror(errno));
		goto fail;
	}
	if (cfg->on_capture && fill_cap_tail(c->skel)) {
		collector_seterr(err, errlen, "cannot set up kernel-side capture's programs: %s",
				 strerror(errno));
		goto fail;
	}
	if (cfg->on_capture && cfg->go_inject) {
		char why[600];

		collector_inject_attach(c, why, sizeof(why));
		if (c->inject_on)
			log_info("--go-inject: a followed Go program's net/http requests carry "
				 "their context (traceparent) out");
		else if (*why)
			log_warn("inject_unavailable",
				 "--go-inject: %s; nothing is injected (a trace through a Go "
				 "program ends at its outgoing requests, as without it)",
				 why);
	}
	c->rb = ring_buffer__new(bpf_map__fd(c->skel->maps.proc_events), on_ringbuf, c, NULL);
	if (!c->rb) {
		collector_seterr(err, errlen, "cannot set up the BPF ring buffer: %s",
				 strerror(errno));
		goto fail;
	}
	if (cfg->on_capture &&
	    ring_buffer__add(c->rb, bpf_map__fd(c->skel->maps.cap_events), on_capture, c)) {
		collector_seterr(err, errlen, "cannot set up the capture ring buffer: %s",
				 strerror(errno));
		goto fail;
	}
	*out = c;
	return 0;
fail:
	collector_close(c);
	return -1;
}

void collector_close(struct collector *c)
{
	if (!c)
		return;
	ring_buffer__free(c->rb);
	collector_go_close(c);
	collector_inject_close(c);
	obs_bpf__destroy(c->skel);
	free(c);
}

int collector_attached(const struct collector *c)
{
	return c->attached;
}

int collector_track(struct collector *c, pid_t tgid, uint32_t slot)
{
	struct obs_tracked v = {.slot = slot};
	__u32 key = (__u32)tgid;

	if (bpf_map_update_elem(bpf_map__fd(c->skel->maps.tracked), &key, &v, BPF_ANY))
		return -errno;
	/* The kernel side forgets a process at its exit; an exec event read
	 * after that exit (a one-shot program) must not bring it back, or
	 * the entry (and its service, live for ever) would never go. Gone by
	 * now: forget it here; exiting later: the kernel side does. */
	if (kill(tgid, 0) && errno == ESRCH)
		bpf_map_delete_elem(bpf_map__fd(c->skel->maps.tracked), &key);
	/* Invalidate the BPF side's per-CPU lookup caches (mmap'ed .bss). */
	__atomic_add_fetch(&c->skel->bss->track_gen, 1, __ATOMIC_SEQ_CST);
	return 0;
}

int collector_capture(struct collector *c, pid_t tgid)
{
	struct obs_cap_proc v = {.state = OBS_CAP_ON};
	__u32 key = (__u32)tgid;

	if (!c->on_capture)
		return -1;
	if (bpf_map_update_elem(bpf_map__fd(c->skel->maps.cap_procs), &key, &v, BPF_ANY))
		return -1;
	collector_cap_changed(c);
	return 0;
}

void collector_cap_changed(struct collector *c)
{
	/* the capture programs' per-CPU "not captured" answers are stale */
	__atomic_add_fetch(&c->skel->bss->cap_gen, 1, __ATOMIC_SEQ_CST);
}

void collector_capture_forget(struct collector *c, pid_t tgid, uint32_t fd)
{
	__u64 key = (__u64)(uint32_t)tgid << 32 | fd;

	bpf_map_delete_elem(bpf_map__fd(c->skel->maps.cap_socks), &key);
}

int collector_tracks(struct collector *c, pid_t tgid)
{
	struct obs_tracked v;
	__u32 key = (__u32)tgid;

	return c && !bpf_map_lookup_elem(bpf_map__fd(c->skel->maps.tracked), &key, &v);
}

int collector_slot(struct collector *c, pid_t tgid, uint32_t *slot)
{
	struct obs_tracked v;
	__u32 key = (__u32)tgid;

	if (!c || bpf_map_lookup_elem(bpf_map__fd(c->skel->maps.tracked), &key, &v))
		return -1;
	*slot = v.slot;
	return 0;
}

int collector_event_fd(struct collector *c)
{
	return ring_buffer__epoll_fd(c->rb);
}

int collector_poll(struct collector *c, int timeout_ms)
{
	/* a drain reads every ring, woken or not: capture wakes the
	 * collector only now and then (capture.bpf.c) */
	int n = timeout_ms ? ring_buffer__poll(c->rb, timeout_ms) : ring_buffer__consume(c->rb);

	return n == -EINTR ? 0 : n;
}
