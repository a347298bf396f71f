/* Unit tests: /proc content parsers (procparse.c). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "procparse.h"

static void environ_get(void **state)
{
	static const char env[] = "PATH=/bin\0OTEL_SERVICE_NAME=checkout\0OTEL_X=1\0EMPTY=";
	char out[32];

	(void)state;
	assert_int_equal(
	    procparse_environ_get(env, sizeof(env) - 1, "OTEL_SERVICE_NAME", out, sizeof(out)), 0);
	assert_string_equal(out, "checkout");
	assert_int_equal(procparse_environ_get(env, sizeof(env) - 1, "OTEL", out, sizeof(out)), -1);
	assert_int_equal(procparse_environ_get(env, sizeof(env) - 1, "EMPTY", out, sizeof(out)), 0);
	assert_string_equal(out, "");
	/* truncated value, unterminated block */
	assert_int_equal(procparse_environ_get("A=0123456789", 12, "A", out, 5), 0);
	assert_string_equal(out, "0123");
}

static void cgroup_path(void **state)
{
	static const char v1[] = "12:pids:/x\n1:name=systemd:/y\n0::/system.slice/nginx.service\n";
	char out[128];

	(void)state;
	assert_int_equal(procparse_cgroup_path(v1, sizeof(v1) - 1, out, sizeof(out)), 0);
	assert_string_equal(out, "/system.slice/nginx.service");
	assert_int_equal(procparse_cgroup_path("1:cpu:/\n", 8, out, sizeof(out)), -1);
}

#define CID "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void containers(void **state)
{
	char cid[80], pod[40];

	(void)state;
	procparse_container("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-"
			    "pod1b2c3d4e_1111_2222_3333_444455556666.slice/cri-containerd-" CID
			    ".scope",
			    cid, sizeof(cid), pod, sizeof(pod));
	assert_string_equal(cid, CID);
	assert_string_equal(pod, "1b2c3d4e-1111-2222-3333-444455556666");
	procparse_container("/kubepods/besteffort/pod1b2c3d4e-1111-2222-3333-444455556666/" CID,
			    cid, sizeof(cid), pod, sizeof(pod));
	assert_string_equal(cid, CID);
	assert_string_equal(pod, "1b2c3d4e-1111-2222-3333-444455556666");
	procparse_container("/system.slice/docker-" CID ".scope", cid, sizeof(cid), pod,
			    sizeof(pod));
	assert_string_equal(cid, CID);
	assert_string_equal(pod, "");
	procparse_container("/user.slice/user-0.slice/session-1.scope", cid, sizeof(cid), pod,
			    sizeof(pod));
	assert_string_equal(cid, "");
	/* 65 hex digits is not a container id */
	procparse_container("/docker/" CID "0", cid, sizeof(cid), pod, sizeof(pod));
	assert_string_equal(cid, "");
}

static void exe_name(void **state)
{
	char out[16];

	(void)state;
	procparse_exe_name("/usr/sbin/nginx", out, sizeof(out));
	assert_string_equal(out, "nginx");
	procparse_exe_name("/opt/app/server (deleted)", out, sizeof(out));
	assert_string_equal(out, "server");
	procparse_exe_name("python3", out, sizeof(out));
	assert_string_equal(out, "python3");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(environ_get),
	    cmocka_unit_test(cgroup_path),
	    cmocka_unit_test(containers),
	    cmocka_unit_test(exe_name),
	};
	return cmocka_run_group_tests_name("procparse", tests, NULL, NULL);
}
