/* Unit tests: syscall table generated from the kernel's unistd header. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <sys/syscall.h>
#include <cmocka.h>

#include "syscalls.h"

static void known_numbers(void **state)
{
	(void)state;
	/* Compare with libc's own numbering, not with hand-typed values. */
	assert_string_equal(syscall_name(SYS_read), "read");
	assert_string_equal(syscall_name(SYS_write), "write");
	assert_string_equal(syscall_name(SYS_accept4), "accept4");
	assert_string_equal(syscall_name(SYS_epoll_wait), "epoll_wait");
	assert_string_equal(syscall_name(SYS_writev), "writev");
	assert_string_equal(syscall_name(SYS_io_uring_enter), "io_uring_enter");
	assert_int_equal(syscall_nr("openat"), SYS_openat);
	assert_int_equal(syscall_nr("no_such_syscall"), -1);
	assert_null(syscall_name(100000));
}

static void table_is_complete(void **state)
{
	unsigned named = 0;

	(void)state;
	for (unsigned i = 0; i < syscall_table_size(); i++)
		if (syscall_name(i)) {
			named++;
			assert_int_equal(syscall_nr(syscall_name(i)), (int)i);
		}
	/* x86_64 has well over 300 syscalls; a hand-typed subset would not. */
	assert_true(named > 300);
	assert_true(syscall_table_size() > SYS_openat2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(known_numbers),
	    cmocka_unit_test(table_is_complete),
	};
	return cmocka_run_group_tests_name("syscalls", tests, NULL, NULL);
}
