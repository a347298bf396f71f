#include "gorel.h"

#include <string.h>

void gorel_init(struct gorel *r)
{
	memset(r, 0, sizeof(*r));
}

/* pc's entry in t; a new one takes a free or the least recently used entry. */
static struct gorel_conn *entry_in(struct gorel_conn *t, uint64_t pc)
{
	struct gorel_conn *old = &t[0];

	for (int i = 0; i < GOREL_CONNS; i++) {
		if (t[i].pc == pc)
			return &t[i];
		if (t[i].used < old->used)
			old = &t[i];
	}
	memset(old, 0, sizeof(*old));
	old->pc = pc;
	return old;
}

static struct gorel_conn *entry(struct gorel *r, uint64_t pc)
{
	return entry_in(r->c, pc);
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

void gorel_call_ctx(struct gorel *r, uint64_t pc, uint64_t goid, const struct gorel_ctx *ctx)
{
	struct gorel_conn *c;

	if (!pc || !goid)
		return;
	c = entry(r, pc);
	c->caller = goid;
	c->used = ++r->clock;
	if (ctx)
		c->ctx = *ctx;
	else
		c->ctx.has = 0;
}

void gorel_call(struct gorel *r, uint64_t pc, uint64_t goid)
{
	gorel_call_ctx(r, pc, goid, NULL);
}

uint64_t gorel_take_ctx(struct gorel *r, uint64_t writer, struct gorel_ctx *ctx)
{
	if (ctx)
		ctx->has = 0;
	if (!writer)
		return 0;
	for (int i = 0; i < GOREL_CONNS; i++)
		if (r->c[i].pc && r->c[i].writer == writer) {
			uint64_t caller = r->c[i].caller;

			if (ctx && caller)
				*ctx = r->c[i].ctx;
			r->c[i].caller = 0;
			r->c[i].ctx.has = 0;
			r->c[i].used = ++r->clock;
			return caller;
		}
	return 0;
}

uint64_t gorel_take(struct gorel *r, uint64_t writer)
{
	return gorel_take_ctx(r, writer, NULL);
}

void gorel_reader(struct gorel *r, uint64_t t, uint64_t goid)
{
	struct gorel_conn *c;

	if (!t || !goid)
		return;
	c = entry_in(r->readers, t);
	c->writer = goid; /* (the reader, here) */
	c->used = ++r->clock;
	/* Streams left pending by an old transport at this address are not
	 * wiped: the new one's calls may be said before its reader starts.
	 * They cannot be taken for the new one's: every call sends (Write) on
	 * its stream before its answer ends it, replacing an old entry of
	 * the same number. */
}

uint64_t gorel_reader_of(struct gorel *r, uint64_t t)
{
	for (int i = 0; t && i < GOREL_CONNS; i++)
		if (r->readers[i].pc == t)
			return r->readers[i].writer;
	return 0;
}

int gorel_is_reader(const struct gorel *r, uint64_t goid)
{
	for (int i = 0; goid && i < GOREL_CONNS; i++)
		if (r->readers[i].pc && r->readers[i].writer == goid)
			return 1;
	return 0;
}

void gorel_stream(struct gorel *r, uint64_t t, uint32_t id, const struct tp_ctx *parent)
{
	struct gorel_stream *s = NULL;

	if (!t || !id)
		return;
	for (int i = 0; i < GOREL_STREAMS && !s; i++)
		if (r->s[i].t == t && r->s[i].id == id)
			s = &r->s[i]; /* another message of the same call */
	if (!s) {
		s = &r->s[r->next_stream];
		r->next_stream = (r->next_stream + 1) % GOREL_STREAMS;
	}
	/* (a send with no parent is kept too: it replaces what an old
	 * transport at the same address left under the same number) */
	memset(s, 0, sizeof(*s));
	s->t = t;
	s->id = id;
	if (parent) {
		s->has = 1;
		s->parent = *parent;
	}
}

int gorel_stream_take(struct gorel *r, uint64_t reader, uint32_t id, struct tp_ctx *parent)
{
	uint64_t t = 0;
	int has;

	if (!reader || !id)
		return 0;
	for (int i = 0; i < GOREL_CONNS && !t; i++)
		if (r->readers[i].pc && r->readers[i].writer == reader)
			t = r->readers[i].pc;
	for (int i = 0; t && i < GOREL_STREAMS; i++)
		if (r->s[i].t == t && r->s[i].id == id) {
			has = r->s[i].has;
			if (has)
				*parent = r->s[i].parent;
			memset(&r->s[i], 0, sizeof(r->s[i]));
			return has;
		}
	return 0;
}
