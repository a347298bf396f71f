/*
 * pipe_wait - a static program whose threads block reading a pipe, for
 * kcap.bats: reads on fds that are no connection, by a followed process.
 * Prints "ready" once they are all started, then waits to be killed.
 *   pipe_wait [THREADS]
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static int p[2];

static void *reader(void *arg)
{
	char c;

	(void)arg;
	if (read(p[0], &c, 1) < 0)
		perror("pipe_wait: read");
	return NULL;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 64;
	pthread_t t;

	if (pipe(p)) {
		perror("pipe_wait: pipe");
		return 1;
	}
	for (int i = 0; i < n; i++)
		if (pthread_create(&t, NULL, reader, NULL)) {
			perror("pipe_wait: thread");
			return 1;
		}
	sleep(1); /* (each has reached its read) */
	printf("ready\n");
	fflush(stdout);
	pause();
	return 0;
}
