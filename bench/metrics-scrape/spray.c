/*
 * Make many distinct syscall series cheaply and safely: invoke syscall
 * numbers FIRST..FIRST+N-1, which no kernel assigns (they return ENOSYS),
 * but which still pass through raw_syscalls:sys_enter/sys_exit.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/syscall.h>

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 600, first = 1000;
	double hold = argc > 2 ? atof(argv[2]) : 30;

	for (int round = 0; round < 3; round++)
		for (long nr = first; nr < first + n; nr++)
			syscall(nr);
	printf("sprayed\n");
	fflush(stdout);
	usleep((useconds_t)(hold * 1e6));
	return 0;
}
