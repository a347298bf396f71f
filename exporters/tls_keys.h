/*
 * tls_keys - a TLS certificate chain and its private key, parsed and
 * checked with GnuTLS, in the form GnuTLS's certificate callback hands
 * to a handshake. prom_http serves whichever set is current, so a
 * rotated certificate (cert-manager renewing a mounted Secret) takes
 * effect on SIGHUP without a restart.
 */
#ifndef OBS_TLS_KEYS_H
#define OBS_TLS_KEYS_H
#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <stddef.h>
#include <time.h>

struct tls_keys;

/* Parse a PEM chain (leaf first) and its PEM key; -1 with a clear message
 * if either does not parse or the key is not the certificate's. */
struct tls_keys *tls_keys_new(const char *cert_pem, const char *key_pem, char *err, size_t errlen);
/* 1 if k was made from exactly these PEM texts (nothing to reload). */
int tls_keys_same(const struct tls_keys *k, const char *cert_pem, const char *key_pem);
/* The leaf certificate's subject and expiry, for logs ("CN=...,
 * expires 2027-03-01"). */
void tls_keys_describe(const struct tls_keys *k, char *out, size_t outlen);
/* The leaf certificate's expiry (notAfter), 0 if unknown or k is NULL. */
time_t tls_keys_not_after(const struct tls_keys *k);
/* Free k and anything older chained behind it (see tls_keys_chain). */
void tls_keys_free(struct tls_keys *k);
/* Keep older alive behind k: a handshake may still hold pointers into
 * the set it was given, so a replaced set lives until the server stops. */
void tls_keys_chain(struct tls_keys *k, struct tls_keys *older);

/* The GnuTLS certificate callback (gnutls_certificate_retrieve_function2)
 * serving the set last given to tls_keys_serve. GnuTLS passes it no user
 * pointer, so the served set is this module's one piece of state: one
 * HTTPS endpoint per process. */
int tls_keys_retrieve(gnutls_session_t session, const gnutls_datum_t *req_ca_rdn, int nreqs,
		      const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length,
		      gnutls_pcert_st **pcert, unsigned int *pcert_length, gnutls_privkey_t *pkey);
void tls_keys_serve(struct tls_keys *k);

#endif
