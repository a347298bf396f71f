/*
 * plainio - a followed plain connection's write path (plainio.c).
 */
#ifndef OBS_PLAINIO_H
#define OBS_PLAINIO_H
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "shim.h"

/* The call the app made, which goes out as such when it can. */
enum plain_call { PLAIN_WRITE, PLAIN_WRITEV, PLAIN_SEND, PLAIN_SENDTO, PLAIN_SENDMSG };

struct plain_io {
	int fd;
	int flags; /* send flags */
	enum plain_call call;
	const struct msghdr *tmpl; /* sendto's address, sendmsg's address and control data */
};

/* Find the real calls (shim_resolve, before the first followed write). */
void plain_resolve(void) SHIM_HIDDEN;
/* conn_io_fn for a plain connection: arg is a struct plain_io. */
ssize_t plain_io_fn(void *arg, const struct iovec *iov, int iovcnt) SHIM_HIDDEN;

#endif
