#include "auth.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

int auth_equal(const char *secret, size_t n, const char *guess, size_t m)
{
	volatile unsigned char diff = (unsigned char)(n != m);

	/* Walk the secret's length whatever the guess: the time says nothing
	 * about how many leading bytes matched. */
	for (size_t i = 0; i < n; i++)
		diff |= (unsigned char)secret[i] ^ (unsigned char)(i < m ? guess[i] : 0);
	return diff == 0;
}

static int read_secret(const char *path, char *out, size_t cap, size_t *len, const char *what,
		       char *err, size_t errlen)
{
	size_t got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		snprintf(err, errlen, "cannot read the %s file %s: %s", what, path,
			 strerror(errno));
		return -1;
	}
	for (;;) {
		ssize_t r = read(fd, out + got, cap - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			snprintf(err, errlen, "cannot read the %s file %s: %s", what, path,
				 strerror(errno));
			close(fd);
			return -1;
		}
		if (r == 0)
			break;
		got += (size_t)r;
		if (got == cap) {
			snprintf(err, errlen, "the %s file %s is larger than %d bytes", what, path,
				 AUTH_SECRET_MAX - 1);
			close(fd);
			memset(out, 0, cap);
			return -1;
		}
	}
	close(fd);
	while (got && strchr(" \t\r\n", out[got - 1]))
		got--;
	out[got] = 0;
	if (!got) {
		snprintf(err, errlen, "the %s file %s is empty", what, path);
		return -1;
	}
	if (memchr(out, '\n', got) || memchr(out, '\0', got)) {
		snprintf(err, errlen, "the %s file %s holds more than one line", what, path);
		memset(out, 0, cap);
		return -1;
	}
	*len = got;
	return 0;
}

int auth_load(struct auth_creds *c, const char *token_file, const char *user,
	      const char *password_file, char *err, size_t errlen)
{
	memset(c, 0, sizeof(*c));
	if (token_file && *token_file) {
		if (read_secret(token_file, c->bearer, sizeof(c->bearer), &c->bearer_len,
				"bearer token", err, errlen))
			goto fail;
		c->bearer_set = 1;
	}
	if (user && *user) {
		if (strlen(user) >= sizeof(c->user) || strchr(user, ':')) {
			snprintf(err, errlen, "basic-auth user name is too long or has a ':'");
			goto fail;
		}
		snprintf(c->user, sizeof(c->user), "%s", user);
		if (!password_file || !*password_file) {
			snprintf(err, errlen, "basic-auth user %s has no password file", user);
			goto fail;
		}
		if (read_secret(password_file, c->password, sizeof(c->password), &c->password_len,
				"password", err, errlen))
			goto fail;
		c->basic_set = 1;
	}
	return 0;
fail:
	auth_clear(c);
	return -1;
}

int auth_required(const struct auth_creds *c)
{
	return c->bearer_set || c->basic_set;
}

int auth_allows(const struct auth_creds *c, const char *authorization, const char *basic_user,
		const char *basic_password)
{
	int ok = 0;

	if (!auth_required(c))
		return 1;
	if (c->bearer_set && authorization && !strncasecmp(authorization, "Bearer ", 7)) {
		const char *t = authorization + 7;
		size_t n;

		while (*t == ' ')
			t++;
		n = strlen(t);
		while (n && (t[n - 1] == ' ' || t[n - 1] == '\t'))
			n--;
		ok |= auth_equal(c->bearer, c->bearer_len, t, n);
	}
	if (c->basic_set && basic_user && basic_password) {
		/* both compared, always: no early exit on a wrong user */
		int u = auth_equal(c->user, strlen(c->user), basic_user, strlen(basic_user));
		int p = auth_equal(c->password, c->password_len, basic_password,
				   strlen(basic_password));
		ok |= u & p;
	}
	return ok;
}

const char *auth_challenge(const struct auth_creds *c)
{
	if (c->bearer_set && c->basic_set)
		return "Bearer realm=\"obs\", Basic realm=\"obs\", charset=\"UTF-8\"";
	if (c->basic_set)
		return "Basic realm=\"obs\", charset=\"UTF-8\"";
	return "Bearer realm=\"obs\"";
}

void auth_clear(struct auth_creds *c)
{
	volatile char *p = (volatile char *)c;

	for (size_t i = 0; i < sizeof(*c); i++)
		p[i] = 0;
}
