/* Unit tests: gRPC naming and wire values (rpc.c). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "rpc.h"

static void test_split(void **state)
{
	char s[32], m[16];

	(void)state;
	assert_int_equal(rpc_split_path("/demo.Echo/Unary", s, sizeof(s), m, sizeof(m)), 0);
	assert_string_equal(s, "demo.Echo");
	assert_string_equal(m, "Unary");
	assert_int_equal(rpc_split_path("/grpc.health.v1.Health/Check", s, sizeof(s), m, sizeof(m)),
			 0);
	assert_string_equal(s, "grpc.health.v1.Health");
	assert_int_equal(rpc_split_path("/a/b/c", s, sizeof(s), m, sizeof(m)), -1);
	assert_int_equal(rpc_split_path("//b", s, sizeof(s), m, sizeof(m)), -1);
	assert_int_equal(rpc_split_path("/a/", s, sizeof(s), m, sizeof(m)), -1);
	assert_int_equal(rpc_split_path("a/b", s, sizeof(s), m, sizeof(m)), -1);
	assert_int_equal(
	    rpc_split_path("/a/averyveryverylongmethodname", s, sizeof(s), m, sizeof(m)), -1);
}

static void test_codes(void **state)
{
	(void)state;
	assert_string_equal(rpc_code_name(0), "OK");
	assert_string_equal(rpc_code_name(4), "DEADLINE_EXCEEDED");
	assert_string_equal(rpc_code_name(5), "NOT_FOUND");
	assert_string_equal(rpc_code_name(14), "UNAVAILABLE");
	assert_string_equal(rpc_code_name(16), "UNAUTHENTICATED");
	assert_null(rpc_code_name(17));
	/* server: NOT_FOUND is the caller's problem; client: every non-OK */
	assert_false(rpc_code_is_error(RPC_NOT_FOUND, 1));
	assert_true(rpc_code_is_error(RPC_NOT_FOUND, 0));
	assert_true(rpc_code_is_error(RPC_DEADLINE_EXCEEDED, 1));
	assert_true(rpc_code_is_error(RPC_UNAVAILABLE, 1));
	assert_false(rpc_code_is_error(RPC_OK, 0));
}

static void test_reset(void **state)
{
	(void)state;
	assert_int_equal(rpc_code_from_reset(0x8, 0), RPC_CANCELLED);
	assert_int_equal(rpc_code_from_reset(0x8, 1), RPC_DEADLINE_EXCEEDED);
	assert_int_equal(rpc_code_from_reset(0x7, 0), RPC_UNAVAILABLE);
	assert_int_equal(rpc_code_from_reset(0x2, 0), RPC_INTERNAL);
}

static void test_timeout(void **state)
{
	(void)state;
	assert_int_equal(rpc_parse_timeout("200m", 4), 200000000ULL);
	assert_int_equal(rpc_parse_timeout("1S", 2), 1000000000ULL);
	assert_int_equal(rpc_parse_timeout("99999999n", 9), 99999999ULL);
	assert_int_equal(rpc_parse_timeout("2H", 2), 7200000000000ULL);
	assert_int_equal(rpc_parse_timeout("m", 1), 0);
	assert_int_equal(rpc_parse_timeout("123456789S", 10), 0);
	assert_int_equal(rpc_parse_timeout("1x", 2), 0);
	assert_int_equal(rpc_parse_timeout("-1S", 3), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_split),
	    cmocka_unit_test(test_codes),
	    cmocka_unit_test(test_timeout),
	    cmocka_unit_test(test_reset),
	};
	return cmocka_run_group_tests_name("rpc", tests, NULL, NULL);
}
