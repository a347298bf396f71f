/*
 * tlsfiles - the metrics endpoint's TLS certificate and key files: read
 * them, serve them (prom_http), and tell when they changed on disk, so a
 * renewed certificate is picked up by SIGHUP or by the periodic check.
 */
#ifndef OBS_TLSFILES_H
#define OBS_TLSFILES_H
#include <stddef.h>
#include <stdint.h>

#include "config.h"

struct http_server;

/* Read c's certificate and key files; both NULL if c has no TLS. -1 with
 * a message naming the file. Free with tlsfiles_free (wipes the key). */
int tlsfiles_read(const struct obs_config *c, char **cert, char **key, char *err, size_t errlen);
void tlsfiles_free(char *cert, char *key);
/* Serve c's pair on s if it differs from the served one: 1 (desc names
 * the new certificate), 0 if the same, -1 with a message (the running
 * pair stays). */
int tlsfiles_serve(struct http_server *s, const struct obs_config *c, char *desc, size_t desclen,
		   char *err, size_t errlen);
/* What the two files are on disk now (device, inode, size, mtime of each,
 * through symlinks as a Kubernetes Secret volume swaps them); a change
 * means a writer replaced one (or it appeared or vanished). 0 if c has
 * no TLS. */
uint64_t tlsfiles_sig(const struct obs_config *c);

#endif
