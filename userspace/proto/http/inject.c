#include "inject.h"

struct inject_result inject_account(size_t m, size_t p, size_t n, size_t k)
{
	struct inject_result r = {0};

	(void)m;
	if (k >= p + n) {
		r.reported = k - n;
		r.state = INJECT_DONE;
	} else if (k >= p && n) {
		r.reported = p;
		r.pending_off = k - p;
		/* Even at K == P the whole field stays pending: P may equal M,
		 * and then no later write of the app would carry a retry. */
		r.state = INJECT_PENDING;
	} else {
		r.reported = k;
		r.state = INJECT_RETRY;
	}
	return r;
}

ssize_t inject_account_pending(size_t pending, size_t m, size_t k, size_t *pending_left)
{
	if (k < pending) {
		*pending_left = pending - k;
		/* The socket is full: the app retries; its bytes did not leave. */
		return m ? -1 : 0;
	}
	*pending_left = 0;
	return (ssize_t)(k - pending);
}
