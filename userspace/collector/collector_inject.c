/*
 * collector_inject.c - injection of a traceparent into followed Go
 * programs' net/http requests (inject.bpf.c, docs/design.md): its programs
 * loaded only when asked for, the sock_ops program attached to obs's own
 * cgroup in the cgroup2 hierarchy (CMD starts in it; it runs for every TCP
 * event of every socket there, and acts only on net/http's connects), the
 * sk_msg program to the sockhash it fills. Where either cannot be
 * attached, injection stays off and obs says why; nothing else changes.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "collector_priv.h"
#include "obs.skel.h"
#include "procinfo.h"

void collector_inject_prepare(struct collector *c, const struct collector_cfg *cfg)
{
	struct obs_bpf *s = c->skel;
	struct bpf_map *maps[] = {s->maps.inj_reqs,    s->maps.inj_calls, s->maps.inj_writers,
				  s->maps.inj_armed,   s->maps.inj_socks, s->maps.inj_connecting,
				  s->maps.inj_dialing, s->maps.inj_dialer};

	c->inj_q53 = cfg->inj_q53;
	bpf_program__set_autoattach(s->progs.obs_inj_sockops, false);
	bpf_program__set_autoattach(s->progs.obs_inj_msg, false);
	/* (its scans run as bpf_loop callbacks: 5.17+) */
	if (cfg->on_capture && cfg->go_inject && collector_has_bpf_loop()) {
		memcpy((void *)s->rodata->inj_key, cfg->inj_key, sizeof(cfg->inj_key));
		s->rodata->inj_on = 1;
		return;
	}
	bpf_program__set_autoload(s->progs.obs_inj_sockops, false);
	bpf_program__set_autoload(s->progs.obs_inj_msg, false);
	bpf_program__set_autoload(s->progs.obs_go_dial, false);
	for (size_t i = 0; i < sizeof(maps) / sizeof(maps[0]); i++)
		bpf_map__set_max_entries(maps[i], 1); /* (unused: no room taken) */
	/* only the socket programs use these, and a sockhash takes
	 * CAP_NET_ADMIN to make (the agent's pod has no such capability) */
	bpf_map__set_autocreate(s->maps.inj_socks, false);
	bpf_map__set_autocreate(s->maps.inj_connecting, false);
}

/* Where the cgroup2 hierarchy is mounted (its root), from mountinfo. */
static int cgroup2_mount(char *path, size_t len)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[1024];
	int found = -1;

	while (f && found && fgets(line, sizeof(line), f)) {
		char root[512], mnt[512];
		const char *sep = strstr(line, " - ");

		/* ID PARENT MAJ:MIN ROOT MOUNTPOINT ... - FSTYPE SOURCE ... */
		if (!sep || strncmp(sep, " - cgroup2 ", 11) ||
		    sscanf(line, "%*s %*s %*s %511s %511s", root, mnt) != 2 || strcmp(root, "/"))
			continue;
		found = snprintf(path, len, "%s", mnt) >= (int)len ? -1 : 0;
	}
	if (f)
		fclose(f);
	return found;
}

/* This process's cgroup in it ("0::PATH" in /proc/self/cgroup), under the
 * mount at path: path becomes its directory. -1 (path unchanged) if not
 * known. */
static int own_cgroup(char *path, size_t len)
{
	char cg[512], dir[1024];
	size_t n;

	if (procinfo_cgroup(getpid(), cg, sizeof(cg)) || cg[0] != '/' ||
	    snprintf(dir, sizeof(dir), "%s%s", path, cg) >= (int)sizeof(dir) || access(dir, R_OK) ||
	    (n = strlen(dir)) >= len)
		return -1;
	memcpy(path, dir, n + 1);
	return 0;
}

void collector_inject_attach(struct collector *c, char *warn, size_t warnlen)
{
	struct obs_bpf *s = c->skel;
	char path[512];
	int cg;

	*warn = 0;
	if (!bpf_program__autoload(s->progs.obs_inj_msg)) {
		snprintf(warn, warnlen, "the kernel has no bpf_loop (Linux 5.17+)");
		return;
	}
	if (cgroup2_mount(path, sizeof(path))) {
		snprintf(warn, warnlen, "no cgroup2 hierarchy is mounted");
		return;
	}
	(void)own_cgroup(path, sizeof(path)); /* (else its root) */
	cg = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cg < 0) {
		snprintf(warn, warnlen, "cannot open %s: %s", path, strerror(errno));
		return;
	}
	c->inj_sockops = bpf_program__attach_cgroup(s->progs.obs_inj_sockops, cg);
	close(cg);
	if (!c->inj_sockops) {
		snprintf(warn, warnlen, "cannot attach a sock_ops program to %s: %s", path,
			 strerror(errno));
		return;
	}
	if (bpf_prog_attach(bpf_program__fd(s->progs.obs_inj_msg), bpf_map__fd(s->maps.inj_socks),
			    BPF_SK_MSG_VERDICT, 0)) {
		snprintf(warn, warnlen, "cannot attach the sk_msg program: %s", strerror(errno));
		bpf_link__destroy(c->inj_sockops);
		c->inj_sockops = NULL;
		return;
	}
	c->inject_on = 1;
}

void collector_inject_close(struct collector *c)
{
	bpf_link__destroy(c->inj_sockops); /* (the sk_msg program goes with its map) */
	c->inj_sockops = NULL;
	c->inject_on = 0;
}

void collector_inject_read(struct collector *c, struct obs_snapshot *s)
{
	uint64_t *v;

	s->inject_on = c->inject_on;
	if (!c->inject_on || !(v = calloc((size_t)c->ncpus, sizeof(*v))))
		return;
	for (__u32 r = 0; r < OBS_INJ_STATS; r++) {
		if (bpf_map_lookup_elem(bpf_map__fd(c->skel->maps.inj_stats), &r, v))
			continue;
		for (int cpu = 0; cpu < c->ncpus; cpu++)
			s->inject[r] += v[cpu];
	}
	free(v);
}
