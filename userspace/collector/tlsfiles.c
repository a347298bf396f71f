#include "tlsfiles.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "prom_http.h"
#include "str.h"

int tlsfiles_read(const struct obs_config *c, char **cert, char **key, char *err, size_t errlen)
{
	*cert = *key = NULL;
	if (!*c->tls_cert_file)
		return 0;
	if ((*cert = http_read_pem(c->tls_cert_file, "certificate", err, errlen)) &&
	    (*key = http_read_pem(c->tls_key_file, "key", err, errlen)))
		return 0;
	free(*cert);
	*cert = NULL;
	return -1;
}

void tlsfiles_free(char *cert, char *key)
{
	if (key)
		memset(key, 0, strlen(key));
	free(cert);
	free(key);
}

int tlsfiles_serve(struct http_server *s, const struct obs_config *c, char *desc, size_t desclen,
		   char *err, size_t errlen)
{
	char *cert, *key;
	int rc;

	if (tlsfiles_read(c, &cert, &key, err, errlen))
		return -1;
	rc = http_server_set_tls(s, cert, key, desc, desclen, err, errlen);
	tlsfiles_free(cert, key);
	return rc;
}

static uint64_t file_sig(uint64_t h, const char *path)
{
	struct stat st;
	int64_t f[6] = {0};

	if (stat(path, &st) == 0) {
		f[0] = (int64_t)st.st_dev;
		f[1] = (int64_t)st.st_ino;
		f[2] = (int64_t)st.st_size;
		f[3] = (int64_t)st.st_mtim.tv_sec;
		f[4] = (int64_t)st.st_mtim.tv_nsec;
		f[5] = 1;
	}
	/* the fields that change when a file is replaced or rewritten */
	return str_fnv1a(h, f, sizeof(f));
}

uint64_t tlsfiles_sig(const struct obs_config *c)
{
	if (!*c->tls_cert_file)
		return 0;
	return file_sig(file_sig(STR_FNV1A_INIT, c->tls_cert_file), c->tls_key_file);
}
