/* SPDX-License-Identifier: MIT */
/*
 * obs.h - record formats shared by the BPF programs (obs.bpf.c) and the
 * userspace collector. Plain fixed-size structs only: both sides read the
 * same bytes.
 */
#ifndef OBS_BPF_SHARED_H
#define OBS_BPF_SHARED_H

/*
 * Histogram slots: slot k counts values v (ns) with 2^(k-1) < v <= 2^k, slot
 * 0 counts v <= 1. That makes "le = 2^k ns" an exact Prometheus bucket.
 * The last slot collects everything above 2^(OBS_HIST_SLOTS-2) ns (~137 s).
 */
#define OBS_HIST_SLOTS 40

/* A "slot id" is a small integer naming one service (label set). */
#define OBS_MAX_SLOTS	      1024
#define OBS_SLOT_NONE	      0xffffffffu	  /* untracked: record nothing */
#define OBS_SLOT_UNATTRIBUTED (OBS_MAX_SLOTS - 1) /* agent: no owner known */

/* Histogram kinds (obs_hist_key.kind). */
enum obs_hist_kind {
	OBS_H_SYSCALL = 1, /* id = syscall number */
	OBS_H_DISK = 2,	   /* id = dev_t (major << 20 | minor), op = obs_disk_op */
	OBS_H_TCP_CONNECT = 3,
	OBS_H_RUNQ = 4,
};

enum obs_disk_op {
	OBS_DISK_READ = 0,
	OBS_DISK_WRITE = 1,
	OBS_DISK_FLUSH = 2,
	OBS_DISK_DISCARD = 3,
	OBS_DISK_OTHER = 4,
	OBS_DISK_OP_COUNT = 5,
};

struct obs_hist_key {
	__u32 slot;
	__u16 kind;
	__u16 op;
	__u32 id;
};

struct obs_hist {
	__u64 slots[OBS_HIST_SLOTS];
	__u64 sum_ns;
	__u64 bytes; /* disk only: bytes completed */
};

/* Per-slot counters (percpu array indexed by slot). */
struct obs_counters {
	__u64 tcp_conn_in;
	__u64 tcp_conn_out;
	__u64 tcp_connect_fail;
	__u64 tcp_retrans;
	__u64 tcp_rst_sent;
	__u64 tcp_rst_recv;
	__u64 tcp_bytes_sent;
	__u64 tcp_bytes_recv;
};

/*
 * The syscall a task is in while on a CPU: one per CPU in .bss, so the hot
 * path needs no map update. A task switched out mid-syscall has its entry
 * moved ("parked") into a hash by tid.
 */
struct obs_cur_sys {
	__u64 start; /* 0: not in a recorded syscall */
	__u64 task;  /* task_struct address of the task in the syscall */
	__u32 nr;
	__u32 slot;
	/* Cache of the last tracked-map lookup on this CPU, valid while
	 * track_gen is unchanged: saves a hash lookup per syscall. */
	__u64 cache_task;
	__u32 cache_slot;
	__u32 cache_gen;
	/* The clock at the exit of end_task's last recorded syscall: capture
	 * stamps its events with it (a clock read costs ~60 ns here). */
	__u64 end;
	__u64 end_task;
	__u64 pad[1]; /* one cache line per CPU */
};

/*
 * Syscall histograms of slot 0 (obs-run's service, triage's target) live in
 * a per-CPU array indexed by syscall number: an inlined lookup instead of a
 * hash lookup. Other slots use the hash.
 */
#define OBS_FAST_SYSCALLS 512

/* What the tracked map (key: tgid) holds. */
struct obs_tracked {
	__u32 slot;
	__u32 flags;
};

/* Reasons an event could not be recorded (percpu array `drops`). */
enum obs_drop {
	OBS_DROP_HIST_FULL = 0,	   /* histogram map full */
	OBS_DROP_TRACKED_FULL = 1, /* could not follow a fork */
	OBS_DROP_PARKED_FULL = 2,  /* in-flight syscall table full */
	OBS_DROP_RUNQ_FULL = 3,	   /* wakeup table full */
	OBS_DROP_DISK_FULL = 4,	   /* in-flight block request table full */
	OBS_DROP_TCP_FULL = 5,	   /* connect / socket owner table full */
	OBS_DROP_RINGBUF = 6,	   /* process event ring buffer full */
	OBS_DROP_CAPTURE = 7,	   /* kernel-side capture: its ring buffer or a table full */
	OBS_DROP_COUNT = 8,
};

/* Process lifecycle events sent through the ring buffer. */
enum obs_proc_event_type {
	OBS_EV_EXEC = 1,
	OBS_EV_EXIT = 2,
};

/* What an exec event says of OTEL_SERVICE_NAME in the new environment. */
enum obs_svc_state {
	OBS_SVC_NONE = 0,    /* not looked for (an exit event) */
	OBS_SVC_FOUND = 1,   /* service holds its value */
	OBS_SVC_ABSENT = 2,  /* the whole environment read: not set */
	OBS_SVC_UNKNOWN = 3, /* the environment could not be read to its end */
};

/* What an exec event says of the new program, for the shim: Go makes
 * its own syscalls, a static program has no dynamic loader. */
enum obs_exe_kind {
	OBS_EXE_UNKNOWN = 0,
	OBS_EXE_DYNAMIC = 1,
	OBS_EXE_STATIC = 2,
	OBS_EXE_GO = 3,
};

struct obs_proc_event {
	__u32 type;
	__u32 tgid;
	__u32 slot;
	__u32 exit_code; /* wait status for OBS_EV_EXIT */
	__u64 ts_ns;
	char comm[16];
	/* OBS_EV_EXEC: read at exec from the new image, so the agent needs
	 * no access to other users' /proc/PID/environ and exe */
	__u32 svc_state;    /* enum obs_svc_state */
	__u32 exe_kind;	    /* enum obs_exe_kind */
	char service[64];   /* OTEL_SERVICE_NAME's value */
	char exe[32];	    /* the executable file's name (an interpreter for a script) */
	char resattrs[128]; /* OTEL_RESOURCE_ATTRIBUTES's first 127 bytes */
};

/* ---- kernel-side capture (capture.bpf.c): the bytes of a followed
 * process's TCP connections, for a program the shim cannot enter (Go,
 * static binaries). A bounded prefix of each read and write. */
#define OBS_CAP_BYTES 512

enum obs_cap_kind {
	OBS_CAP_OPEN_SERVER = 1, /* accepted: data holds the peer's sockaddr */
	OBS_CAP_OPEN_CLIENT = 2, /* connected: data holds the peer's sockaddr */
	OBS_CAP_IN = 3,		 /* the app read len bytes (caplen of them here) */
	OBS_CAP_OUT = 4,	 /* the app wrote len bytes */
	OBS_CAP_CLOSE = 5,	 /* the app closed the fd */
	OBS_CAP_GO = 6,		 /* tgid is a Go program (found by the exec probe) */
	/* Go's net/http client (uprobes; conn holds the *persistConn, goid the
	 * goroutine): a connection's writer goroutine starts, a call starts */
	OBS_CAP_GO_WRITER = 7,
	OBS_CAP_GO_CALL = 8,
	/* grpc-go (uprobes; conn holds the transport, goid the goroutine, len
	 * the stream id): a server transport's reader starts (serveStreams), a
	 * server handler starts (handleStream), a client transport's reader
	 * starts, a client call sends on its stream (http2Client.Write) */
	OBS_CAP_GRPC_SRV_CONN = 9,
	OBS_CAP_GRPC_SRV_STREAM = 10,
	OBS_CAP_GRPC_CLI_CONN = 11,
	OBS_CAP_GRPC_CLI_STREAM = 12,
};

/* capture.bpf.c's per-CPU answer to "is this task captured?" (its cap_cpus). */
struct obs_cap_cpu {
	__u64 task;
	__u32 gen;
	__u32 captured; /* enum obs_cap_cached */
	/* OBS_CAP_CACHED_ON: the process's cap_procs entry as it was (it
	 * changes only with cap_gen), so its syscalls need no lookup */
	__s32 go_tls_g;
	__u32 go_goid_off;
	__u32 go_lost;
	__u32 sent;   /* data records this CPU sent (capture_chunks.bpf.h) */
	__u32 inject; /* the process's cap_procs inject */
	__u32 pad1;
	__u64 pad[3]; /* one cache line per CPU */
};

enum obs_cap_cached {
	OBS_CAP_CACHED_NO = 0,	   /* not captured */
	OBS_CAP_CACHED_LOOKUP = 1, /* in cap_procs, being probed: look it up */
	OBS_CAP_CACHED_ON = 2,	   /* captured, its entry kept in the cache */
};

/* A process in capture.bpf.c's cap_procs. */
/* Slots of the cap_tail program array (obs_maps.bpf.h). */
enum obs_cap_tail { OBS_CAP_TAIL_ENTER, OBS_CAP_TAIL_EXIT, OBS_CAP_TAIL_SWITCH, OBS_CAP_TAILS };
/* Slots of the disk_tail program array (disk.bpf.c). */
enum obs_disk_tail { OBS_DISK_TAIL_ISSUE, OBS_DISK_TAIL_COMPLETE, OBS_DISK_TAILS };

enum obs_cap_state {
	OBS_CAP_ON = 1,	   /* its connections are captured */
	OBS_CAP_PROBE = 2, /* may be Go: start_data looked at, at its next syscalls */
};

struct obs_cap_proc {
	__u32 state; /* enum obs_cap_state */
	__u32 tries;
	__u64 start_data;
	/* A Go program whose layout userspace read (0: not known): the current
	 * goroutine's g sits at fsbase + go_tls_g, its goid at g + go_goid_off */
	__s32 go_tls_g;
	__u32 go_goid_off;
	__u32 go_lost;	  /* Go client events the ring had no room for */
	__u16 go_sid_off; /* grpc-go: the stream id's offset in transport.Stream */
	__u16 go_grpc;	  /* ... known */
	/* Injection into its net/http requests (inject.bpf.c) is on: its
	 * layout is known, and so is net/http's client */
	__u32 inject;
	__u32 pad;
	__u64 inj_q53; /* a root is sampled below this (tp_ratio_key) */
};

/* Injection into a Go program's outgoing requests (inject.bpf.c): the
 * context a call's roundTrip probe made, sent in its OBS_CAP_GO_CALL
 * event's data (caplen says so) and written into the request. */
struct obs_go_inj {
	__u8 trace_id[16];
	__u8 span_id[8];   /* the client span's */
	__u8 parent_id[8]; /* the server span's: derived (docs/design.md) */
	__u8 flags;	   /* trace-flags, as sent */
	__u8 pad[7];
};

/* What became of injection (inject.bpf.c's inj_stats). */
enum obs_inj_stat {
	OBS_INJ_INJECTED,    /* a request carried the context out */
	OBS_INJ_NO_REQUEST,  /* a call made outside a request the kernel knows */
	OBS_INJ_NOT_WHOLE,   /* its request's head not whole in the first read */
	OBS_INJ_NOT_HEAD,    /* the write was not a whole request head */
	OBS_INJ_APP_CONTEXT, /* the request carried its own traceparent */
	OBS_INJ_FAILED,	     /* the kernel refused to insert */
	OBS_INJ_STATS
};

#define OBS_CAP_TAIL 2 /* obs_cap_event.last: the syscall's final bytes, after a gap */

struct obs_cap_event {
	__u32 tgid;
	__u32 tid;
	__u32 fd;
	__u32 kind; /* enum obs_cap_kind */
	__u64 conn; /* unique per connection (an fd number is reused) */
	__u64 ts_ns;
	__u32 len;     /* IN/OUT: bytes the syscall moved */
	__u32 caplen;  /* bytes in data */
	__u32 off;     /* IN/OUT: where data starts in what the syscall moved */
	__u32 seq;     /* IN/OUT: per connection, counting dropped events too */
	__u32 last;    /* IN/OUT: the syscall's last chunk (the rest, if any, is not copied);
			* OBS_CAP_TAIL: its last bytes, those between the chunk before it
			* and off not copied */
	__u32 go_lost; /* a Go program's go_lost at the time (see obs_cap_proc) */
	__u64 goid;    /* a Go program's goroutine that made the syscall (0: not known) */
	__u8 data[OBS_CAP_BYTES];
};

#endif /* OBS_BPF_SHARED_H */
