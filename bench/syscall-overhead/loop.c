/*
 * A syscall-heavy loop: N iterations of getppid + read(/dev/zero, 1) +
 * write(/dev/null, 1). Prints the mean ns per syscall.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 1000000;
	int zero = open("/dev/zero", O_RDONLY), null = open("/dev/null", O_WRONLY);
	struct timespec a, b;
	char c;

	if (zero < 0 || null < 0 || n <= 0)
		return 1;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (long i = 0; i < n; i++) {
		syscall(SYS_getppid);
		if (read(zero, &c, 1) != 1 || write(null, &c, 1) != 1)
			return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("%.1f\n", ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / (3.0 * n));
	return 0;
}
