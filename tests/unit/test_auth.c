/* Unit tests: /metrics credentials (no token, wrong token, right token,
 * basic auth), constant-time comparison, secret files. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>
#include <cmocka.h>

#include "auth.h"

static char dir[] = "/tmp/obs-auth-XXXXXX";
static char err[512];

static const char *write_file(const char *name, const char *content)
{
	static char path[4][256];
	static int next;
	char *p = path[next++ % 4];
	FILE *f;

	snprintf(p, 256, "%s/%s", dir, name);
	f = fopen(p, "w");
	assert_non_null(f);
	fputs(content, f);
	fclose(f);
	return p;
}

static int setup(void **state)
{
	(void)state;
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[300];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd);
}

static void equal(void **state)
{
	(void)state;
	assert_true(auth_equal("abc", 3, "abc", 3));
	assert_false(auth_equal("abc", 3, "abd", 3));
	assert_false(auth_equal("abc", 3, "ab", 2));
	assert_false(auth_equal("abc", 3, "abcd", 4));
	assert_false(auth_equal("abc", 3, "", 0));
	assert_true(auth_equal("", 0, "", 0));
	/* a guess that is a prefix followed by NULs is not the secret */
	assert_false(auth_equal("ab", 2, "ab\0", 3));
}

static void bearer(void **state)
{
	struct auth_creds c;
	const char *tok = write_file("token", "s3cret-token\n");

	(void)state;
	assert_int_equal(auth_load(&c, tok, NULL, NULL, err, sizeof(err)), 0);
	assert_true(auth_required(&c));
	assert_false(auth_allows(&c, NULL, NULL, NULL));		 /* no header */
	assert_false(auth_allows(&c, "Bearer wrong", NULL, NULL));	 /* wrong token */
	assert_false(auth_allows(&c, "Bearer s3cret-toke", NULL, NULL)); /* a prefix */
	assert_false(auth_allows(&c, "Bearer s3cret-token2", NULL, NULL));
	assert_false(auth_allows(&c, "Basic s3cret-token", NULL, NULL)); /* wrong scheme */
	assert_false(auth_allows(&c, "s3cret-token", NULL, NULL));
	assert_true(auth_allows(&c, "Bearer s3cret-token", NULL, NULL)); /* right token */
	assert_true(auth_allows(&c, "bearer s3cret-token", NULL, NULL)); /* scheme: any case */
	assert_true(auth_allows(&c, "Bearer  s3cret-token ", NULL, NULL));
	assert_string_equal(auth_challenge(&c), "Bearer realm=\"obs\"");
	/* basic credentials do not open a bearer-only endpoint */
	assert_false(auth_allows(&c, "Basic eDp5", "x", "s3cret-token"));
	auth_clear(&c);
	assert_false(auth_required(&c));
}

static void basic(void **state)
{
	struct auth_creds c;
	const char *pw = write_file("pw", "pa:ss word\r\n");

	(void)state;
	assert_int_equal(auth_load(&c, NULL, "prom", pw, err, sizeof(err)), 0);
	assert_true(auth_allows(&c, "Basic ...", "prom", "pa:ss word"));
	assert_false(auth_allows(&c, "Basic ...", "prom", "pa:ss"));
	assert_false(auth_allows(&c, "Basic ...", "prometheus", "pa:ss word"));
	assert_false(auth_allows(&c, "Basic ...", "", ""));
	assert_false(auth_allows(&c, NULL, NULL, NULL));
	assert_false(auth_allows(&c, "Bearer pa:ss word", NULL, NULL));
	assert_string_equal(auth_challenge(&c), "Basic realm=\"obs\", charset=\"UTF-8\"");
	/* both configured: either one opens */
	const char *tok = write_file("token2", "t0k");
	assert_int_equal(auth_load(&c, tok, "prom", pw, err, sizeof(err)), 0);
	assert_true(auth_allows(&c, "Bearer t0k", NULL, NULL));
	assert_true(auth_allows(&c, "Basic ...", "prom", "pa:ss word"));
	assert_non_null(strstr(auth_challenge(&c), "Bearer"));
	assert_non_null(strstr(auth_challenge(&c), "Basic"));
}

static void no_auth(void **state)
{
	struct auth_creds c;

	(void)state;
	assert_int_equal(auth_load(&c, "", "", "", err, sizeof(err)), 0);
	assert_false(auth_required(&c));
	assert_true(auth_allows(&c, NULL, NULL, NULL));
}

static void bad_files(void **state)
{
	struct auth_creds c;
	char big[AUTH_SECRET_MAX + 10];

	(void)state;
	assert_int_equal(auth_load(&c, "/nonexistent/tok", NULL, NULL, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "cannot read the bearer token file /nonexistent/tok"));
	assert_int_equal(auth_load(&c, write_file("empty", "\n  \n"), NULL, NULL, err, sizeof(err)),
			 -1);
	assert_non_null(strstr(err, "is empty"));
	assert_int_equal(
	    auth_load(&c, write_file("two", "line1\nline2\n"), NULL, NULL, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "more than one line"));
	assert_null(strstr(err, "line1")); /* a secret never appears in a message */
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	assert_int_equal(auth_load(&c, write_file("big", big), NULL, NULL, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "larger than"));
	assert_int_equal(auth_load(&c, NULL, "u", NULL, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "no password file"));
	assert_false(auth_required(&c)); /* a failed load leaves nothing half-set */
}

/* Constant time by construction, not by a stopwatch: the comparison reads
 * every byte of the secret and of the guess even when the very first byte
 * differs (an early exit would be the timing leak). The bytes after the
 * mismatch lie on a page with no access; the fault handler notes the read
 * and opens the page, and the compare goes on. */
static char *guarded;
static long pagesz;
static volatile sig_atomic_t faults;

static void on_fault(int sig, siginfo_t *si, void *uc)
{
	(void)sig, (void)uc;
	char *a = si->si_addr;

	if (a < guarded + pagesz || a >= guarded + 2 * pagesz)
		abort(); /* not our page: a real crash */
	faults++;
	mprotect(guarded + pagesz, (size_t)pagesz, PROT_READ | PROT_WRITE);
}

/* Did auth_equal read past a mismatch in the first byte of which (0: the
 * secret, 1: the guess)? */
static int reads_past_mismatch(int which, size_t n)
{
	char other[256];
	char *p = guarded + pagesz - 1; /* byte 0 on the open page, the rest guarded */
	int r;

	memset(other, 'k', n);
	mprotect(guarded + pagesz, (size_t)pagesz, PROT_READ | PROT_WRITE);
	memset(p, 'k', n);
	p[0] = 'x';
	mprotect(guarded + pagesz, (size_t)pagesz, PROT_NONE);
	faults = 0;
	r = which ? auth_equal(other, n, p, n) : auth_equal(p, n, other, n);
	assert_int_equal(r, 0);
	return faults > 0;
}

static void constant_time(void **state)
{
	struct sigaction sa = {.sa_sigaction = on_fault, .sa_flags = SA_SIGINFO}, old_segv, old_bus;

	(void)state;
	pagesz = sysconf(_SC_PAGESIZE);
	guarded = mmap(NULL, (size_t)pagesz * 2, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(guarded != MAP_FAILED);
	sigaction(SIGSEGV, &sa, &old_segv);
	sigaction(SIGBUS, &sa, &old_bus);
	assert_true(reads_past_mismatch(0, 64));
	assert_true(reads_past_mismatch(1, 64));
	/* and a wrong length still walks the whole secret */
	faults = 0;
	mprotect(guarded + pagesz, (size_t)pagesz, PROT_READ | PROT_WRITE);
	memset(guarded + pagesz - 1, 'k', 64);
	mprotect(guarded + pagesz, (size_t)pagesz, PROT_NONE);
	assert_int_equal(auth_equal(guarded + pagesz - 1, 64, "x", 1), 0);
	assert_true(faults > 0);
	sigaction(SIGSEGV, &old_segv, NULL);
	sigaction(SIGBUS, &old_bus, NULL);
	munmap(guarded, (size_t)pagesz * 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(equal),   cmocka_unit_test(bearer),    cmocka_unit_test(basic),
	    cmocka_unit_test(no_auth), cmocka_unit_test(bad_files), cmocka_unit_test(constant_time),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
