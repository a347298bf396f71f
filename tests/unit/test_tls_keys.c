/* tls_keys: loading, the key/certificate match check, and what a
 * handshake is handed. The fixtures are a throwaway self-signed P-256
 * certificate made for this test only, and a second, unrelated key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tls_keys.h"

static const char cert_pem[] = "-----BEGIN CERTIFICATE-----\n"
			       "MIIBhzCCAS2gAwIBAgIUN81RiwaQFbayBzw1lsZ9WvIErXkwCgYIKoZIzj0EAwIw\n"
			       "GDEWMBQGA1UEAwwNb2JzIHVuaXQgdGVzdDAgFw0yNjEyMDMyMDU3MzRaGA8yMTI2\n"
			       "MTEwOTIwNTczNFowGDEWMBQGA1UEAwwNb2JzIHVuaXQgdGVzdDBZMBMGByqGSM49\n"
			       "AgEGCCqGSM49AwEHA0IABJOA5NY7KvmvLqj7Hl0T24fFYhQXSr40fOk3Eh5QNWJJ\n"
			       "M8gaacyZcCiAj2ur3gSK/cI4muZjBtobYH2gaop1Fz2jUzBRMB0GA1UdDgQWBBSb\n"
			       "i4mH4y4OQLQFCG7qo3XKCf1wVDAfBgNVHSMEGDAWgBSbi4mH4y4OQLQFCG7qo3XK\n"
			       "Cf1wVDAPBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0gAMEUCIQCp3wje9qkd\n"
			       "hvm23Qz6PBY9OWwDNtCRdfqtJbMmc9IyQgIgFj4pOTslXfnv3tBz44f/i6zwGkHI\n"
			       "ISP5EoESwwLvcD8=\n"
			       "-----END CERTIFICATE-----\n";

static const char key_pem[] = "-----BEGIN PRIVATE KEY-----\n"
			      "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgr5MY9rH3oIUe8Cg7\n"
			      "yyZMFkiHXT2epYMrbBkyKlelBgChRANCAASTgOTWOyr5ry6o+x5dE9uHxWIUF0q+\n"
			      "NHzpNxIeUDViSTPIGmnMmXAogI9rq94Eiv3COJrmYwbaG2B9oGqKdRc9\n"
			      "-----END PRIVATE KEY-----\n";

static const char other_key_pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgPVXvSL1zXkrGIbnj\n"
    "w+TSXdHdTXyL9vwCA8qGlp/QpNyhRANCAAQXL1pbXCV7GEpW3Hy+Guj5V9+daRCE\n"
    "1df9TnYCvVoO7OX0kBcybs/N5eQ87MIHJAHo4VwWyIaSQEa+K86tZOLz\n"
    "-----END PRIVATE KEY-----\n";

static void loads_and_describes(void **state)
{
	char err[256], desc[256];
	struct tls_keys *k = tls_keys_new(cert_pem, key_pem, err, sizeof(err));

	(void)state;
	assert_non_null(k);
	tls_keys_describe(k, desc, sizeof(desc));
	assert_non_null(strstr(desc, "CN=obs unit test, expires 2"));
	assert_true(tls_keys_same(k, cert_pem, key_pem));
	assert_false(tls_keys_same(k, cert_pem, other_key_pem));
	tls_keys_free(k);
}

static void mismatch_and_junk_are_clear_errors(void **state)
{
	char err[256];

	(void)state;
	assert_null(tls_keys_new(cert_pem, other_key_pem, err, sizeof(err)));
	assert_string_equal(err, "the TLS key does not match the certificate");
	assert_null(tls_keys_new("-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n",
				 key_pem, err, sizeof(err)));
	assert_non_null(strstr(err, "does not load"));
	assert_null(tls_keys_new(cert_pem, "", err, sizeof(err)));
	assert_non_null(strstr(err, "does not load"));
}

/* The callback hands out the served set; a replaced set stays alive
 * (chained) for handshakes that still hold it, until the owner frees. */
static void retrieve_serves_the_current_set(void **state)
{
	char err[256];
	struct tls_keys *a = tls_keys_new(cert_pem, key_pem, err, sizeof(err));
	struct tls_keys *b = tls_keys_new(cert_pem, key_pem, err, sizeof(err));
	gnutls_pcert_st *pc = NULL, *pc_a;
	unsigned int n = 0;
	gnutls_privkey_t pk = NULL, pk_a;

	(void)state;
	assert_non_null(a);
	assert_non_null(b);
	tls_keys_serve(NULL);
	assert_int_equal(tls_keys_retrieve(NULL, NULL, 0, NULL, 0, &pc, &n, &pk), -1);
	tls_keys_serve(a);
	assert_int_equal(tls_keys_retrieve(NULL, NULL, 0, NULL, 0, &pc, &n, &pk), 0);
	assert_int_equal(n, 1);
	assert_non_null(pc);
	assert_non_null(pk);
	pc_a = pc;
	pk_a = pk;
	tls_keys_chain(b, a);
	tls_keys_serve(b);
	assert_int_equal(tls_keys_retrieve(NULL, NULL, 0, NULL, 0, &pc, &n, &pk), 0);
	assert_ptr_not_equal(pc, pc_a);
	assert_ptr_not_equal(pk, pk_a);
	tls_keys_serve(NULL);
	tls_keys_free(b); /* frees a too */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(loads_and_describes),
	    cmocka_unit_test(mismatch_and_junk_are_clear_errors),
	    cmocka_unit_test(retrieve_serves_the_current_set),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
