/*
 * Unit tests: proto_red's memo of a connection's last series (the shim's
 * RED point without templating, labels or hashing when the record is the
 * one before's but for its ids and times). Real regions, the real HTTP/1
 * handler's observe: every point lands in the series a fresh lookup gives,
 * counts exact; what changes a label (status, path, host, peer, routes)
 * misses the memo; a point whose value is not its record's duration is
 * never kept.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <sys/mman.h>
#include <cmocka.h>

#include "http1_proto.h"
#include "http_sem.h"
#include "proto_red.h"
#include "registry.h"

#define NS 64

static void mk(struct region *r)
{
	size_t len = region_bytes(NS, 16);
	void *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	assert_true(m != MAP_FAILED);
	assert_int_equal(region_init(r, m, len, NS, 16, 1, 2), 0);
}

/* A server span of path and status, ids and times of its own (i). */
static void rec(struct span_rec *r, const char *path, int status, unsigned i)
{
	memset(r, 0, sizeof(*r));
	r->kind = SPAN_SERVER;
	r->proto = PROTO_HTTP1;
	r->trace_id[0] = (uint8_t)(i + 1);
	r->span_id[0] = (uint8_t)(i + 7);
	r->start_ns = 1000;
	r->end_ns = 1000 + 1000 * (uint64_t)(i + 1);
	strcpy(r->peer, "127.0.0.1");
	r->peer_port = 40000;
	http_put_request(r, "GET", path, "example.com");
	spanrec_put_int(r, HTTP_A_STATUS, status);
}

/* Points in every series whose labels are key (NUL-separated, keylen). */
static uint64_t count(struct region *reg, const char *key, size_t keylen)
{
	uint64_t n = 0;

	for (uint32_t i = 0; i < region_used(reg); i++) {
		struct region_read rd;

		if (region_read(reg, i, &rd) || rd.keylen != keylen || memcmp(rd.key, key, keylen))
			continue;
		for (unsigned b = 0; b < REGION_BUCKETS; b++)
			n += rd.buckets[b];
	}
	return n;
}

#define K(s) s, sizeof(s) - 1

static void hits_and_misses(void **st)
{
	struct region reg;
	struct proto_red_memo memo = {0};
	struct span_rec r;
	struct region_series *s;

	(void)st;
	mk(&reg);
	rec(&r, "/users/42", 200, 0);
	proto_red_observe(&http1_handler, &reg, NULL, &r, &memo);
	assert_non_null(memo.region);
	s = memo.s;
	/* the same request again, other ids and times: the same series */
	for (unsigned i = 1; i < 100; i++) {
		rec(&r, "/users/42", 200, i);
		proto_red_observe(&http1_handler, &reg, NULL, &r, &memo);
		assert_ptr_equal(memo.s, s);
	}
	/* another status, another path of the same route, another host */
	rec(&r, "/users/42", 404, 0);
	proto_red_observe(&http1_handler, &reg, NULL, &r, &memo);
	assert_ptr_not_equal(memo.s, s);
	rec(&r, "/users/43", 200, 0);
	proto_red_observe(&http1_handler, &reg, NULL, &r, &memo);
	assert_ptr_equal(memo.s, s);  /* (missed, found the route's series) */
	rec(&r, "/items/42", 200, 0); /* (as long as /users/42: only its bytes differ) */
	proto_red_observe(&http1_handler, &reg, NULL, &r, &memo);
	assert_ptr_not_equal(memo.s, s);
	assert_int_equal(count(&reg, K("GET\0/items/{id}\0"
				       "200\0")),
			 1);
	assert_int_equal(count(&reg, K("GET\0/users/{id}\0"
				       "200\0")),
			 101);
	assert_int_equal(count(&reg, K("GET\0/users/{id}\0"
				       "404\0")),
			 1);
	/* alternating: every point in its own series, counts exact */
	for (unsigned i = 0; i < 1000; i++) {
		rec(&r, i & 1 ? "/orders/7" : "/users/9", i % 3 ? 200 : 500, i);
		proto_red_observe(&http1_handler, &reg, NULL, &r, &memo);
	}
	assert_int_equal(count(&reg, K("GET\0/orders/{id}\0"
				       "200\0")) +
			     count(&reg, K("GET\0/orders/{id}\0"
					   "500\0")),
			 500);
	assert_int_equal(count(&reg, K("GET\0/users/{id}\0"
				       "500\0")) +
			     count(&reg, K("GET\0/orders/{id}\0"
					   "500\0")),
			 334);
}

static void routes_and_regions(void **st)
{
	struct region a, b;
	struct proto_red_memo memo = {0};
	struct route_table t;
	struct span_rec r;
	char err[128];

	(void)st;
	mk(&a);
	mk(&b);
	route_table_init(&t);
	assert_int_equal(route_table_add(&t, "/users/{user}", err, sizeof(err)), 0);
	rec(&r, "/users/42", 200, 0);
	proto_red_observe(&http1_handler, &a, NULL, &r, &memo);
	rec(&r, "/users/42", 200, 1);
	proto_red_observe(&http1_handler, &a, &t, &r, &memo); /* patterns came */
	assert_int_equal(count(&a, K("GET\0/users/{id}\0"
				     "200\0")),
			 1);
	assert_int_equal(count(&a, K("GET\0/users/{user}\0"
				     "200\0")),
			 1);
	/* another region (a forked child's): its own series */
	proto_red_observe(&http1_handler, &b, &t, &r, &memo);
	assert_ptr_equal(memo.region, b.hdr);
	assert_int_equal(count(&b, K("GET\0/users/{user}\0"
				     "200\0")),
			 1);
	assert_int_equal(count(&a, K("GET\0/users/{user}\0"
				     "200\0")),
			 1);
}

/* An observe whose value is not the record's duration. */
static void odd_observe(const struct span_rec *r, const struct proto_env *env,
			struct proto_obs *obs)
{
	http_observe(r, env, obs);
	obs->value = 42;
}

static void odd_value_not_kept(void **st)
{
	struct proto_handler odd = http1_handler;
	struct region reg;
	struct proto_red_memo memo = {0};
	struct span_rec r;

	(void)st;
	odd.observe = odd_observe;
	mk(&reg);
	for (unsigned i = 0; i < 3; i++) {
		rec(&r, "/a", 200, i);
		proto_red_observe(&odd, &reg, NULL, &r, &memo);
		assert_null(memo.region);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(hits_and_misses),
	    cmocka_unit_test(routes_and_regions),
	    cmocka_unit_test(odd_value_not_kept),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
