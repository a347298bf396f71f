/*
 * auth - who may read /metrics: a bearer token and/or a basic-auth user,
 * each read from a file (so secrets stay out of argv, the environment and
 * the config file). Comparisons take the same time whatever the guess;
 * secrets are never logged. auth_load reads the files; the rest is pure.
 */
#ifndef OBS_AUTH_H
#define OBS_AUTH_H
#include <stddef.h>

#define AUTH_SECRET_MAX 4096

struct auth_creds {
	int bearer_set, basic_set;
	char bearer[AUTH_SECRET_MAX];
	size_t bearer_len;
	char user[128];
	char password[AUTH_SECRET_MAX];
	size_t password_len;
};

/* Read the secrets (files as given; "" = not used). Trailing newlines and
 * spaces are not part of a secret; an empty secret is an error. */
int auth_load(struct auth_creds *c, const char *token_file, const char *user,
	      const char *password_file, char *err, size_t errlen);
/* Does anything need checking? */
int auth_required(const struct auth_creds *c);
/* 1 if the Authorization header value grants access (either scheme). The
 * basic-auth user and password, when the request carries them, come
 * decoded (the HTTP library parses the header); NULL otherwise. */
int auth_allows(const struct auth_creds *c, const char *authorization, const char *basic_user,
		const char *basic_password);
/* The WWW-Authenticate challenge for a 401. */
const char *auth_challenge(const struct auth_creds *c);
/* Compare secret (len n) with guess (len m) in time that depends on n only. */
int auth_equal(const char *secret, size_t n, const char *guess, size_t m);
/* Overwrite the secrets. */
void auth_clear(struct auth_creds *c);

#endif
