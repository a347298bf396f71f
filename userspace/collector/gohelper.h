/*
 * gohelper - the agent's privileged helper for Go programs. Following a Go
 * program's goroutines takes uprobes on it (collector_go_follow), and
 * attaching one needs CAP_PERFMON, plus reading another user's binary
 * through /proc/PID/exe: the agent keeps no capability once started, so
 * before it drops them it forks this helper, which keeps only those
 * (CAP_PERFMON, CAP_BPF, CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH), holds no
 * other file than the BPF objects and its socket, and does nothing but
 * attach and detach uprobes when the agent names a pid. It dies with the
 * agent.
 */
#ifndef OBS_GOHELPER_H
#define OBS_GOHELPER_H
#include <stddef.h>
#include <sys/types.h>

struct collector;
struct gohelper;

/* What the helper answers about a pid it was asked to follow. */
struct gohelper_reply {
	pid_t pid;
	int ok;	       /* its goroutines are followed */
	char why[160]; /* if not: why (or what it follows, if ok) */
};

/* Fork the helper (while privileged; c loaded). -1 with a message in err. */
int gohelper_start(struct collector *c, struct gohelper **out, char *err, size_t errlen);
/* Stop it and wait for it. */
void gohelper_stop(struct gohelper *g);
/* Ask it to follow the Go program pid / forget pid (gone). Never blocks:
 * a request the socket has no room for is dropped (the pid stays
 * unknown). */
void gohelper_follow(struct gohelper *g, pid_t pid);
void gohelper_forget(struct gohelper *g, pid_t pid);
/* fd readable when replies wait; read them with gohelper_read. */
int gohelper_fd(const struct gohelper *g);
/* The next reply, 1; 0 if none waits; -1 if the helper is gone. */
int gohelper_read(struct gohelper *g, struct gohelper_reply *r);

#endif
