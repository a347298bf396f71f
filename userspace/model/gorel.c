#include "gorel.h"

#include <string.h>

void gorel_init(struct gorel *r)
{
	memset(r, 0, sizeof(*r));
}

/* pc's entry; a new one takes a free or the least recently used entry. */
static struct gorel_conn *entry(struct gorel *r, uint64_t pc)
{
	struct gorel_conn *old = &r->c[0];

	for (int i = 0; i < GOREL_CONNS; i++) {
		if (r->c[i].pc == pc)
			return &r->c[i];
		if (r->c[i].used < old->used)
			old = &r->c[i];
	}
	memset(old, 0, sizeof(*old));
	old->pc = pc;
	return old;
}

void gorel_writer(struct gorel *r, uint64_t pc, uint64_t goid)
{
	struct gorel_conn *c;

	if (!pc || !goid)
		return;
	/* The call that dialled the connection may be said before its writer
	 * starts, so a pending call is kept. (At a reused address, the old
	 * connection's unwritten call is replaced by the new one's: a write
	 * always follows its call, and a lost event resets the table.) */
	c = entry(r, pc);
	c->writer = goid;
	c->used = ++r->clock;
}

void gorel_call(struct gorel *r, uint64_t pc, uint64_t goid)
{
	struct gorel_conn *c;

	if (!pc || !goid)
		return;
	c = entry(r, pc);
	c->caller = goid;
	c->used = ++r->clock;
}

uint64_t gorel_take(struct gorel *r, uint64_t writer)
{
	if (!writer)
		return 0;
	for (int i = 0; i < GOREL_CONNS; i++)
		if (r->c[i].pc && r->c[i].writer == writer) {
			uint64_t caller = r->c[i].caller;

			r->c[i].caller = 0;
			r->c[i].used = ++r->clock;
			return caller;
		}
	return 0;
}
