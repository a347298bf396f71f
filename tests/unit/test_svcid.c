/* Unit tests: the agent's service identity rule (svcid.c). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "svcid.h"

#define CID "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void resource_attrs(void **state)
{
	char out[64];

	(void)state;
	assert_int_equal(svcid_resource_service("service.name=checkout", out, sizeof(out)), 0);
	assert_string_equal(out, "checkout");
	assert_int_equal(
	    svcid_resource_service("deployment.environment=prod, service.name = cart ,x=y", out,
				   sizeof(out)),
	    0);
	assert_string_equal(out, "cart");
	/* percent-encoded values; the last one wins */
	assert_int_equal(
	    svcid_resource_service("service.name=a,service.name=my%20svc%2Cx", out, sizeof(out)),
	    0);
	assert_string_equal(out, "my svc,x");
	/* a bad escape stays as it is */
	assert_int_equal(svcid_resource_service("service.name=50%zz", out, sizeof(out)), 0);
	assert_string_equal(out, "50%zz");
	assert_int_equal(svcid_resource_service("service.namespace=shop", out, sizeof(out)), -1);
	assert_int_equal(
	    svcid_resource_service("xservice.name=shop,service.name=", out, sizeof(out)), -1);
	assert_int_equal(svcid_resource_service("", out, sizeof(out)), -1);
	assert_int_equal(svcid_resource_service("service.name", out, sizeof(out)), -1);
	/* truncated to the buffer */
	assert_int_equal(svcid_resource_service("service.name=abcdefgh", out, 4), 0);
	assert_string_equal(out, "abc");
}

static void unit(void **state)
{
	char out[64];

	(void)state;
	assert_int_equal(svcid_unit("/system.slice/cron.service", out, sizeof(out)), 0);
	assert_string_equal(out, "cron");
	assert_int_equal(
	    svcid_unit("/system.slice/getty.slice/getty@tty1.service", out, sizeof(out)), 0);
	assert_string_equal(out, "getty@tty1");
	/* innermost unit */
	assert_int_equal(svcid_unit("/system.slice/a.service/sub/b.service", out, sizeof(out)), 0);
	assert_string_equal(out, "b");
	assert_int_equal(svcid_unit("/system.slice/docker.service/x", out, sizeof(out)), 0);
	assert_string_equal(out, "docker");
	/* a user's session manager and sessions are not services */
	assert_int_equal(
	    svcid_unit("/user.slice/user-1000.slice/user@1000.service/app.slice", out, sizeof(out)),
	    -1);
	assert_int_equal(svcid_unit("/user.slice/user-0.slice/session-3.scope", out, sizeof(out)),
			 -1);
	assert_int_equal(svcid_unit("/", out, sizeof(out)), -1);
	assert_int_equal(svcid_unit("", out, sizeof(out)), -1);
	assert_int_equal(svcid_unit("/.service", out, sizeof(out)), -1);
}

static void podlog(void **state)
{
	char out[64];

	(void)state;
	assert_int_equal(svcid_podlog_container("web-7d4b9c-x2x9z_shop_nginx-" CID ".log", CID, out,
						sizeof(out)),
			 0);
	assert_string_equal(out, "nginx");
	/* a container name with dashes */
	assert_int_equal(
	    svcid_podlog_container("p_ns_istio-proxy-" CID ".log", CID, out, sizeof(out)), 0);
	assert_string_equal(out, "istio-proxy");
	/* another container's link, not a log, no name */
	assert_int_equal(svcid_podlog_container("p_ns_nginx-" CID ".log", "ffff", out, sizeof(out)),
			 -1);
	assert_int_equal(svcid_podlog_container("p_ns_nginx-" CID ".txt", CID, out, sizeof(out)),
			 -1);
	assert_int_equal(svcid_podlog_container("p_ns_-" CID ".log", CID, out, sizeof(out)), -1);
	assert_int_equal(svcid_podlog_container("nginx-" CID ".log", CID, out, sizeof(out)), -1);
	assert_int_equal(svcid_podlog_container(CID ".log", CID, out, sizeof(out)), -1);
	assert_int_equal(svcid_podlog_container("x", "", out, sizeof(out)), -1);
	assert_int_equal(svcid_podlog_container("p_ns_nginx-" CID ".log", CID, out, 3), -1);
}

static void resolve_order(void **state)
{
	struct svcid_rules r;
	char out[64], err[128];
	struct svcid_in in = {.env_service = "env-svc",
			      .resource_attrs = "service.name=res-svc",
			      .cgroup = "/kubepods.slice/pod1/cri-containerd-" CID ".scope",
			      .container_id = CID,
			      .container_name = "web",
			      .exe = "python3"};

	(void)state;
	svcid_rules_init(&r);
	assert_int_equal(r.short_lived_s, 5);
	assert_int_equal(svcid_rules_add(&r, SVCID_BY_EXE, "job*", "batch", err, sizeof(err)), 0);
	assert_int_equal(
	    svcid_rules_add(&r, SVCID_BY_CGROUP, "*/backup.service", "backup", err, sizeof(err)),
	    0);
	assert_int_equal(svcid_rules_add(&r, SVCID_BY_EXE, "", "x", err, sizeof(err)), -1);
	assert_int_equal(svcid_rules_add(&r, SVCID_BY_EXE, "x", "", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "empty"));

	assert_int_equal(svcid_resolve(&r, &in, out, sizeof(out)), SVCID_ENV);
	assert_string_equal(out, "env-svc");
	in.env_service = "";
	assert_int_equal(svcid_resolve(&r, &in, out, sizeof(out)), SVCID_RESOURCE);
	assert_string_equal(out, "res-svc");
	in.resource_attrs = "team=a";
	assert_int_equal(svcid_resolve(&r, &in, out, sizeof(out)), SVCID_CONTAINER);
	assert_string_equal(out, "web");
	/* a container of unknown name: by executable, but not deferred */
	in.container_name = NULL;
	assert_int_equal(svcid_resolve(&r, &in, out, sizeof(out)), SVCID_CONTAINER);
	assert_string_equal(out, "python3");
	/* a unit */
	in.container_id = NULL;
	in.cgroup = "/system.slice/cron.service";
	assert_int_equal(svcid_resolve(&r, &in, out, sizeof(out)), SVCID_UNIT);
	assert_string_equal(out, "cron");
	/* a host process */
	in.cgroup = "/user.slice/user-0.slice/session-1.scope";
	assert_int_equal(svcid_resolve(&r, &in, out, sizeof(out)), SVCID_EXE);
	assert_string_equal(out, "python3");
	in.exe = NULL;
	assert_int_equal(svcid_resolve(&r, &in, out, sizeof(out)), SVCID_EXE);
	assert_string_equal(out, "unknown");
	/* rules come first, even before OTEL_SERVICE_NAME */
	in.exe = "job17";
	in.env_service = "env-svc";
	assert_int_equal(svcid_resolve(&r, &in, out, sizeof(out)), SVCID_RULE);
	assert_string_equal(out, "batch");
	in.exe = "tar";
	in.cgroup = "/system.slice/backup.service";
	assert_int_equal(svcid_resolve(&r, &in, out, sizeof(out)), SVCID_RULE);
	assert_string_equal(out, "backup");
	assert_string_equal(svcid_source_name(SVCID_UNIT), "systemd unit");
}

static void rules_equal(void **state)
{
	struct svcid_rules a, b;
	char err[128];

	(void)state;
	svcid_rules_init(&a);
	svcid_rules_init(&b);
	assert_true(svcid_rules_equal(&a, &b));
	assert_int_equal(svcid_rules_add(&a, SVCID_BY_EXE, "j*", "batch", err, sizeof(err)), 0);
	assert_false(svcid_rules_equal(&a, &b));
	assert_int_equal(svcid_rules_add(&b, SVCID_BY_CGROUP, "j*", "batch", err, sizeof(err)), 0);
	assert_false(svcid_rules_equal(&a, &b));
	b.r[0].what = SVCID_BY_EXE;
	assert_true(svcid_rules_equal(&a, &b));
	b.short_lived_s = 0;
	assert_false(svcid_rules_equal(&a, &b));
	for (int i = 1; i < SVCID_RULES_MAX; i++)
		assert_int_equal(svcid_rules_add(&a, SVCID_BY_EXE, "x", "y", err, sizeof(err)), 0);
	assert_int_equal(svcid_rules_add(&a, SVCID_BY_EXE, "x", "y", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "more than"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(resource_attrs), cmocka_unit_test(unit),
	    cmocka_unit_test(podlog),	      cmocka_unit_test(resolve_order),
	    cmocka_unit_test(rules_equal),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
