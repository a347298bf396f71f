#include "tls_keys.h"

#include <gnutls/crypto.h>
#include <gnutls/x509.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A leaf and its intermediates; longer chains are not served by anyone. */
#define TLS_KEYS_MAX_CHAIN 16

struct tls_keys {
	gnutls_pcert_st certs[TLS_KEYS_MAX_CHAIN];
	unsigned int ncerts;
	gnutls_privkey_t key;
	/* SHA-256 of what it was made from, for tls_keys_same: the PEM
	 * texts themselves are not kept (the key's least of all) */
	unsigned char digest[32];
	char desc[256];
	time_t not_after; /* the leaf's expiry; 0 if unknown */
	struct tls_keys *older;
};

/* The set handshakes get; see tls_keys.h for why it is module state. */
static struct tls_keys *served;

static void describe(struct tls_keys *k)
{
	gnutls_x509_crt_t crt;
	gnutls_datum_t dn = {0};
	time_t exp;
	struct tm tm;
	char day[16] = "?";

	snprintf(k->desc, sizeof(k->desc), "a certificate");
	if (gnutls_x509_crt_init(&crt) < 0)
		return;
	if (gnutls_x509_crt_import(crt, &k->certs[0].cert, GNUTLS_X509_FMT_DER) == 0 &&
	    gnutls_x509_crt_get_dn3(crt, &dn, 0) == 0) {
		exp = gnutls_x509_crt_get_expiration_time(crt);
		if (exp != (time_t)-1 && gmtime_r(&exp, &tm)) {
			strftime(day, sizeof(day), "%Y-%m-%d", &tm);
			k->not_after = exp;
		}
		snprintf(k->desc, sizeof(k->desc), "%.*s, %s %s", (int)dn.size, (char *)dn.data,
			 exp != (time_t)-1 && exp < time(NULL) ? "EXPIRED" : "expires", day);
		gnutls_free(dn.data);
	}
	gnutls_x509_crt_deinit(crt);
}

/* GnuTLS checks that the key is the certificate's when it loads the pair
 * into credentials; the pcert/privkey imports of tls_keys_new do not. */
static int check_pair(gnutls_datum_t *cd, gnutls_datum_t *kd, char *err, size_t errlen)
{
	gnutls_certificate_credentials_t cred;
	int rc;

	if (gnutls_certificate_allocate_credentials(&cred) < 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	rc = gnutls_certificate_set_x509_key_mem2(cred, cd, kd, GNUTLS_X509_FMT_PEM, NULL, 0);
	gnutls_certificate_free_credentials(cred);
	if (rc == GNUTLS_E_CERTIFICATE_KEY_MISMATCH) {
		snprintf(err, errlen, "the TLS key does not match the certificate");
		return -1;
	}
	if (rc < 0) {
		snprintf(err, errlen, "the TLS certificate or key does not load: %s",
			 gnutls_strerror(rc));
		return -1;
	}
	return 0;
}

/* One digest over both texts, each prefixed by its length so that no
 * other split of the same bytes collides. */
static int pems_digest(const char *cert_pem, const char *key_pem, unsigned char out[32])
{
	gnutls_hash_hd_t h;
	uint64_t len;

	if (gnutls_hash_init(&h, GNUTLS_DIG_SHA256) < 0)
		return -1;
	len = strlen(cert_pem);
	gnutls_hash(h, &len, sizeof(len));
	gnutls_hash(h, cert_pem, len);
	len = strlen(key_pem);
	gnutls_hash(h, &len, sizeof(len));
	gnutls_hash(h, key_pem, len);
	gnutls_hash_deinit(h, out);
	return 0;
}

struct tls_keys *tls_keys_new(const char *cert_pem, const char *key_pem, char *err, size_t errlen)
{
	struct tls_keys *k = calloc(1, sizeof(*k));
	gnutls_datum_t cd = {(unsigned char *)cert_pem, (unsigned int)strlen(cert_pem)};
	gnutls_datum_t kd = {(unsigned char *)key_pem, (unsigned int)strlen(key_pem)};
	int rc;

	if (!k || pems_digest(cert_pem, key_pem, k->digest)) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	k->ncerts = TLS_KEYS_MAX_CHAIN;
	rc = gnutls_pcert_list_import_x509_raw(k->certs, &k->ncerts, &cd, GNUTLS_X509_FMT_PEM, 0);
	if (rc < 0) {
		k->ncerts = 0;
		snprintf(err, errlen, "the TLS certificate chain does not load: %s%s",
			 gnutls_strerror(rc),
			 rc == GNUTLS_E_SHORT_MEMORY_BUFFER ? " (over 16 certificates)" : "");
		goto fail;
	}
	if ((rc = gnutls_privkey_init(&k->key)) < 0 ||
	    (rc = gnutls_privkey_import_x509_raw(k->key, &kd, GNUTLS_X509_FMT_PEM, NULL, 0)) < 0) {
		snprintf(err, errlen, "the TLS key does not load: %s", gnutls_strerror(rc));
		goto fail;
	}
	/* last: GnuTLS 3.7 leaks when it is handed a certificate it cannot
	 * parse here, and the imports above have refused those already */
	if (check_pair(&cd, &kd, err, errlen))
		goto fail;
	describe(k);
	return k;
fail:
	tls_keys_free(k);
	return NULL;
}

int tls_keys_same(const struct tls_keys *k, const char *cert_pem, const char *key_pem)
{
	unsigned char d[sizeof(k->digest)];

	return k && !pems_digest(cert_pem, key_pem, d) && !memcmp(d, k->digest, sizeof(d));
}

void tls_keys_describe(const struct tls_keys *k, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s", k ? k->desc : "no certificate");
}

time_t tls_keys_not_after(const struct tls_keys *k)
{
	return k ? k->not_after : 0;
}

void tls_keys_chain(struct tls_keys *k, struct tls_keys *older)
{
	k->older = older;
}

void tls_keys_free(struct tls_keys *k)
{
	while (k) {
		struct tls_keys *older = k->older;

		for (unsigned int i = 0; i < k->ncerts; i++)
			gnutls_pcert_deinit(&k->certs[i]);
		if (k->key)
			gnutls_privkey_deinit(k->key);
		free(k);
		k = older;
	}
}

void tls_keys_serve(struct tls_keys *k)
{
	__atomic_store_n(&served, k, __ATOMIC_RELEASE);
}

int tls_keys_retrieve(gnutls_session_t session, const gnutls_datum_t *req_ca_rdn, int nreqs,
		      const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length,
		      gnutls_pcert_st **pcert, unsigned int *pcert_length, gnutls_privkey_t *pkey)
{
	struct tls_keys *k = __atomic_load_n(&served, __ATOMIC_ACQUIRE);

	(void)session;
	(void)req_ca_rdn;
	(void)nreqs;
	(void)pk_algos;
	(void)pk_algos_length;
	if (!k)
		return -1;
	*pcert = k->certs;
	*pcert_length = k->ncerts;
	*pkey = k->key;
	return 0;
}
