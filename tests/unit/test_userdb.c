/*
 * Unit tests: user names looked up by getent(1) in a child process
 * (userspace/base/userdb.c), against this system's own user database:
 * root and nobody are in every Debian's /etc/passwd. The point of the
 * module is that no NSS module loads into the caller: after lookups that
 * miss /etc/passwd (which send getpwnam(3) on to nsswitch.conf's modules,
 * libnss_systemd on Debian) none is mapped here.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "userdb.h"

static void test_found(void **state)
{
	static const char *const root[] = {"root"};
	static const char *const either[] = {"obs-no-such-user-7q", "nobody", "root"};
	struct userdb_user u;

	(void)state;
	assert_int_equal(userdb_first(root, 1, &u, 5000), 1);
	assert_int_equal(u.uid, 0);
	assert_int_equal(u.gid, 0);
	assert_string_equal(u.name, "root");
	/* the first the system knows, in the caller's order */
	assert_int_equal(userdb_first(either, 3, &u, 5000), 1);
	assert_string_equal(u.name, "nobody");
	assert_int_equal(u.uid, 65534);
}

static void test_absent(void **state)
{
	static const char *const none[] = {"obs-no-such-user-7q", "obs-no-such-user-8r"};
	/* a prefix of a real name is not that name */
	static const char *const prefix[] = {"roo", "nobod"};
	struct userdb_user u = {.uid = 42};

	(void)state;
	assert_int_equal(userdb_first(none, 2, &u, 5000), 0);
	assert_int_equal(userdb_first(prefix, 2, &u, 5000), 0);
	assert_int_equal(u.uid, 42); /* untouched */
}

static void test_refused(void **state)
{
	static const char *const opt[] = {"--help"};
	static const char *const sep[] = {"root:x"};
	static const char *const empty[] = {""};
	static const char *const nine[] = {"a", "b", "c", "d", "e", "f", "g", "h", "root"};
	struct userdb_user u;

	(void)state;
	assert_int_equal(userdb_first(opt, 1, &u, 5000), -1);
	assert_int_equal(userdb_first(sep, 1, &u, 5000), -1);
	assert_int_equal(userdb_first(empty, 1, &u, 5000), -1);
	assert_int_equal(userdb_first(nine, 9, &u, 5000), -1);
	assert_int_equal(userdb_first(nine, 0, &u, 5000), -1);
}

/* No time to answer: the child is killed and reaped, not left behind. */
static void test_timeout(void **state)
{
	static const char *const root[] = {"root"};
	struct userdb_user u;

	(void)state;
	assert_int_equal(userdb_first(root, 1, &u, 0), -2);
	assert_int_equal(userdb_first(root, 1, &u, 5000), 1); /* and again fine */
}

/* Run last: every lookup above missed /etc/passwd at least once. */
static void test_no_nss_module_here(void **state)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	int nss = 0;

	(void)state;
	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		nss += strstr(line, "libnss_") != NULL;
	fclose(f);
	assert_int_equal(nss, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_found),
	    cmocka_unit_test(test_absent),
	    cmocka_unit_test(test_refused),
	    cmocka_unit_test(test_timeout),
	    cmocka_unit_test(test_no_nss_module_here),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
