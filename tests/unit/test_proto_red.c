/*
 * Unit tests: proto_red's memo of a connection's last series (the shim's
 * RED point without templating, labels or hashing when the record is the
 * one before's but for its ids and times). Real regions, the real HTTP/1
 * handler's observe: every point lands in the series a fresh lookup gives,
 * counts exact; what changes a label (status, path, host, peer, routes)
 * misses the memo; a point whose value is not its record's duration is
 * never kept. proto_red_again (a record not even built, on the module's
 * word that it would be the last one's) files the same point a full
 * observe would, and only while the memo holds that record's series.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
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

/* A server span of path and status (ids and times of its own: i) filed
 * under routes, with memo. */
static void point(struct region *reg, const struct route_table *routes, struct proto_red_memo *memo,
		  const char *path, int status, unsigned i)
{
	struct span_rec r;

	rec(&r, path, status, i);
	proto_red_observe(&http1_handler, reg, routes, &r, memo, 0);
}

/* Points in the series of GET, route and status. */
static uint64_t count(struct region *reg, const char *route, const char *status)
{
	char key[128];
	size_t n = (size_t)snprintf(key, sizeof(key), "GET%c%s%c%s", 0, route, 0, status) + 1;
	uint64_t c = 0;

	for (uint32_t i = 0; i < region_used(reg); i++) {
		struct region_read rd;

		if (region_read(reg, i, &rd) || rd.keylen != n || memcmp(rd.key, key, n))
			continue;
		for (unsigned b = 0; b < REGION_BUCKETS; b++)
			c += rd.buckets[b];
	}
	return c;
}

static void hits_and_misses(void **st)
{
	struct region reg;
	struct proto_red_memo memo = {0};
	struct region_series *s;

	(void)st;
	mk(&reg);
	point(&reg, NULL, &memo, "/users/42", 200, 0);
	assert_non_null(memo.region);
	s = memo.s;
	/* the same request again, other ids and times: the same series */
	for (unsigned i = 1; i < 100; i++) {
		point(&reg, NULL, &memo, "/users/42", 200, i);
		assert_ptr_equal(memo.s, s);
	}
	/* another status; another path of the same route (missed, the route's
	 * series found); one as long as the first, only its bytes differ */
	point(&reg, NULL, &memo, "/users/42", 404, 0);
	assert_ptr_not_equal(memo.s, s);
	point(&reg, NULL, &memo, "/users/43", 200, 0);
	assert_ptr_equal(memo.s, s);
	point(&reg, NULL, &memo, "/items/42", 200, 0);
	assert_ptr_not_equal(memo.s, s);
	assert_int_equal(count(&reg, "/items/{id}", "200"), 1);
	assert_int_equal(count(&reg, "/users/{id}", "200"), 101);
	assert_int_equal(count(&reg, "/users/{id}", "404"), 1);
	/* alternating: every point in its own series, counts exact */
	for (unsigned i = 0; i < 1000; i++)
		point(&reg, NULL, &memo, i & 1 ? "/orders/7" : "/users/9", i % 3 ? 200 : 500, i);
	assert_int_equal(count(&reg, "/orders/{id}", "200") + count(&reg, "/orders/{id}", "500"),
			 500);
	assert_int_equal(count(&reg, "/users/{id}", "500") + count(&reg, "/orders/{id}", "500"),
			 334);
}

static void routes_and_regions(void **st)
{
	struct region a, b;
	struct proto_red_memo memo = {0};
	struct route_table t;
	char err[128];

	(void)st;
	mk(&a);
	mk(&b);
	route_table_init(&t);
	assert_int_equal(route_table_add(&t, "/users/{user}", err, sizeof(err)), 0);
	point(&a, NULL, &memo, "/users/42", 200, 0);
	point(&a, &t, &memo, "/users/42", 200, 1); /* patterns came */
	assert_int_equal(count(&a, "/users/{id}", "200"), 1);
	assert_int_equal(count(&a, "/users/{user}", "200"), 1);
	/* another region (a forked child's): its own series */
	point(&b, &t, &memo, "/users/42", 200, 2);
	assert_ptr_equal(memo.region, b.hdr);
	assert_int_equal(count(&b, "/users/{user}", "200"), 1);
	assert_int_equal(count(&a, "/users/{user}", "200"), 1);
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
		proto_red_observe(&odd, &reg, NULL, &r, &memo, 0);
		assert_null(memo.region);
	}
}

/* One series' buckets and sum, by its key. */
static int series_read(struct region *reg, const char *status, struct region_read *out)
{
	char key[128];
	size_t n = (size_t)snprintf(key, sizeof(key), "GET%c/users/{id}%c%s", 0, 0, status) + 1;

	for (uint32_t i = 0; i < region_used(reg); i++)
		if (!region_read(reg, i, out) && out->keylen == n && !memcmp(out->key, key, n))
			return 0;
	return -1;
}

static void again_files_what_observe_would(void **st)
{
	struct region full, fast;
	struct proto_red_memo mf = {0}, mq = {0};
	struct proto_red_same same = {SPAN_SERVER, PROTO_HTTP1, 0, 0, 40000};
	struct region_read a, b;
	struct span_rec r;

	(void)st;
	mk(&full);
	mk(&fast);
	/* nothing kept yet, or no tag: never */
	assert_int_equal(proto_red_again(&fast, NULL, &mq, 7, &same, 0.1), -1);
	rec(&r, "/users/42", 200, 0);
	proto_red_observe(&http1_handler, &fast, NULL, &r, &mq, 7);
	proto_red_observe(&http1_handler, &full, NULL, &r, &mf, 0);
	assert_int_equal(proto_red_again(&fast, NULL, &mq, 0, &same, 0.1), -1);
	/* durations over every bucket: each filed as a record of it would be */
	for (unsigned i = 1; i < 400; i++) {
		double v = (double)(i * i * 997 % 15000000) / 1e6;
		r.end_ns = r.start_ns + (uint64_t)(v * 1e9);
		proto_red_observe(&http1_handler, &full, NULL, &r, &mf, 0);
		assert_int_equal(proto_red_again(&fast, NULL, &mq, 7, &same, proto_seconds(&r)), 0);
	}
	assert_int_equal(series_read(&full, "200", &a), 0);
	assert_int_equal(series_read(&fast, "200", &b), 0);
	assert_memory_equal(a.buckets, b.buckets, sizeof(a.buckets));
	assert_true(a.sum == b.sum);
	assert_int_equal(region_used(&fast), 1);
}

static void again_only_while_the_memo_holds(void **st)
{
	struct region reg, other;
	struct proto_red_memo memo = {0};
	struct proto_red_same same = {SPAN_SERVER, PROTO_HTTP1, 0, 0, 40000}, d;
	struct route_table t;
	struct span_rec r;
	char err[128];

	(void)st;
	mk(&reg);
	mk(&other);
	route_table_init(&t);
	assert_int_equal(route_table_add(&t, "/users/{user}", err, sizeof(err)), 0);
	rec(&r, "/users/42", 200, 0);
	proto_red_observe(&http1_handler, &reg, NULL, &r, &memo, 3);
	/* another tag (the module's key changed), region, route table */
	assert_int_equal(proto_red_again(&reg, NULL, &memo, 4, &same, 0.1), -1);
	assert_int_equal(proto_red_again(&other, NULL, &memo, 3, &same, 0.1), -1);
	assert_int_equal(proto_red_again(&reg, &t, &memo, 3, &same, 0.1), -1);
	/* a header field the module does not compare: the host's word */
	d = same, d.kind = SPAN_CLIENT;
	assert_int_equal(proto_red_again(&reg, NULL, &memo, 3, &d, 0.1), -1);
	d = same, d.proto = PROTO_HTTP2;
	assert_int_equal(proto_red_again(&reg, NULL, &memo, 3, &d, 0.1), -1);
	d = same, d.flags = SPAN_F_TLS;
	assert_int_equal(proto_red_again(&reg, NULL, &memo, 3, &d, 0.1), -1);
	d = same, d.error = SPAN_ERR_RESET;
	assert_int_equal(proto_red_again(&reg, NULL, &memo, 3, &d, 0.1), -1);
	d = same, d.peer_port = 40001;
	assert_int_equal(proto_red_again(&reg, NULL, &memo, 3, &d, 0.1), -1);
	assert_int_equal(proto_red_again(&reg, NULL, &memo, 3, &same, 0.1), 0);
	/* a record of another series under a new tag: the old tag no longer holds */
	rec(&r, "/users/42", 500, 1);
	proto_red_observe(&http1_handler, &reg, NULL, &r, &memo, 5);
	assert_int_equal(proto_red_again(&reg, NULL, &memo, 3, &same, 0.1), -1);
	assert_int_equal(proto_red_again(&reg, NULL, &memo, 5, &same, 0.1), 0);
	/* a memo hit (the same record, by a new name) takes the new name */
	proto_red_observe(&http1_handler, &reg, NULL, &r, &memo, 6);
	assert_int_equal(proto_red_again(&reg, NULL, &memo, 5, &same, 0.1), -1);
	assert_int_equal(proto_red_again(&reg, NULL, &memo, 6, &same, 0.1), 0);
	assert_int_equal(count(&reg, "/users/{id}", "200"), 2);
	assert_int_equal(count(&reg, "/users/{id}", "500"), 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(hits_and_misses),
	    cmocka_unit_test(routes_and_regions),
	    cmocka_unit_test(odd_value_not_kept),
	    cmocka_unit_test(again_files_what_observe_would),
	    cmocka_unit_test(again_only_while_the_memo_holds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
