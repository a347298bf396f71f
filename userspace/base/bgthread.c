#include "bgthread.h"

#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

/* nice +5: a weight of 335 against the app's 1024. Enough to keep up with
 * a saturated app's spans with nothing dropped (bench/http-overhead);
 * SCHED_IDLE, tried, starved the exporter and dropped most spans. A
 * 100 us custom slice (sched_setattr, Linux >= 6.12), also tried, did
 * not change the app's p99 measurably. */
#define BG_NICE 5

void bgthread_background(const char *name)
{
	struct sched_param sp = {0};

	pthread_setname_np(pthread_self(), name);
	pthread_setschedparam(pthread_self(), SCHED_BATCH, &sp);
	/* per thread on Linux: PRIO_PROCESS with a thread id */
	setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), BG_NICE);
}
