#include "ping_proto.h"

#include <string.h>

#include "pconn.h"
#include "registry.h"
#include "str.h"
#include "xspan.h"

#define PING_LINE  128
#define PING_QUEUE 4

struct ping_state {
	char line[2][PING_LINE]; /* per direction: the line being read */
	size_t len[2];
	struct exchange q[PING_QUEUE]; /* PINGs waiting for their PONG */
	char token[PING_QUEUE][32];
	unsigned qhead, qlen;
	struct exchange next; /* client: the context injected into the PING being written */
	int next_valid;
	char inj[TP_LEN + 2];
};

static int ping_detect(enum proto_side side, enum proto_dir dir, const uint8_t *b, size_t n)
{
	int from_client = (side == PROTO_CLIENT) == (dir == PROTO_OUT);

	return n >= 4 && !memcmp(b, from_client ? "PING" : "PONG", 4);
}

static int ping_open(struct proto_conn *pc)
{
	struct ping_state *s = pc->st;

	s->len[0] = s->len[1] = 0;
	s->qhead = s->qlen = 0;
	s->next_valid = 0;
	return 0;
}

/* "PING tok tp" / "PONG tok": one whole line, without its newline. */
static int on_line(struct proto_conn *pc, int from_client, char *line, uint64_t ts)
{
	struct ping_state *s = pc->st;
	char *tok = line + 5, *tp = strchr(tok, ' ');

	if (strncmp(line, from_client ? "PING " : "PONG ", 5))
		return -1;
	if (tp)
		*tp++ = 0;
	if (from_client) {
		struct exchange *x;
		if (s->qlen == PING_QUEUE)
			return -1;
		x = &s->q[(s->qhead + s->qlen) % PING_QUEUE];
		str_copy(s->token[(s->qhead + s->qlen) % PING_QUEUE], 32, tok);
		s->qlen++;
		exchange_clear(x);
		if (pc->side == PROTO_SERVER) {
			struct proto_tp_in in = {tp, tp ? strlen(tp) : 0, tp ? 1 : 0, NULL, 0, 0};
			pc->host->server_begin(pc, x, &in, 0);
		} else if (s->next_valid) {
			*x = s->next; /* the context that went out with it */
			s->next_valid = 0;
		} else {
			pc->host->client_begin(pc, x, 0);
		}
		x->start_ns = ts;
	} else if (s->qlen) {
		struct span_rec r;
		spanrec_clear_attrs(&r);
		spanrec_put_str(&r, PING_A_TOKEN, s->token[s->qhead % PING_QUEUE], 32);
		pconn_emit(pc, &s->q[s->qhead % PING_QUEUE], &r, SPAN_ERR_NONE, ts);
		s->qhead++;
		s->qlen--;
	}
	return 0;
}

static int ping_feed(struct proto_conn *pc, enum proto_dir dir, const uint8_t *b, size_t n,
		     uint64_t ts)
{
	struct ping_state *s = pc->st;
	int from_client = (pc->side == PROTO_CLIENT) == (dir == PROTO_OUT);

	for (size_t i = 0; i < n; i++) {
		if (b[i] != '\n') {
			if (s->len[dir] + 1 >= PING_LINE)
				return -1; /* longer than a PING line: not ours */
			s->line[dir][s->len[dir]++] = (char)b[i];
			continue;
		}
		s->line[dir][s->len[dir]] = 0;
		s->len[dir] = 0;
		if (on_line(pc, from_client, s->line[dir], ts))
			return -1;
	}
	return 0;
}

/* A client's PING written whole: its context goes in as a third word. */
static size_t ping_inject(struct proto_conn *pc, const struct iovec *iov, int iovcnt, size_t m,
			  size_t budget)
{
	struct ping_state *s = pc->st;
	const char *p = iov[0].iov_base, *nl;
	int words = 1;

	if (pc->side != PROTO_CLIENT || s->len[PROTO_OUT] || pc->sp.n || iovcnt != 1 ||
	    !(nl = memchr(p, '\n', m)))
		return m;
	for (const char *c = p; c < nl; c++)
		words += *c == ' ';
	if (words != 2)
		return m; /* not "PING token": the app's own context, or not a PING */
	if (s->next_valid || budget < TP_LEN + 1)
		return m;
	pc->host->client_begin(pc, &s->next, 0);
	s->next_valid = 1;
	s->inj[0] = ' ';
	tp_format(&s->next.ctx, s->inj + 1);
	pconn_edit(pc, (size_t)(nl - p), 0, s->inj, TP_LEN + 1);
	return m;
}

static void ping_sent(struct proto_conn *pc, const struct iovec *iov, int iovcnt, size_t n,
		      uint64_t ts)
{
	pconn_feed_iov(pc, PROTO_OUT, iov, iovcnt, n, ts);
}

static void ping_eof(struct proto_conn *pc, uint64_t ts)
{
	struct ping_state *s = pc->st;
	struct span_rec r;

	for (; s->qlen; s->qhead++, s->qlen--) {
		spanrec_clear_attrs(&r);
		spanrec_put_str(&r, PING_A_TOKEN, s->token[s->qhead % PING_QUEUE], 32);
		pconn_emit(pc, &s->q[s->qhead % PING_QUEUE], &r, SPAN_ERR_CLOSED, ts);
	}
}

static const double ping_bounds[] = {0.001, 0.01, 0.1, 1};
static const char *const ping_labels[] = {"ping_result"};
const struct proto_family ping_duration = {
    .id = FAMILY_TEST,
    .name = "ping_duration_seconds",
    .help = "PING to PONG.",
    .unit = "seconds",
    .labels = ping_labels,
    .nlabels = 1,
    .bounds = ping_bounds,
    .nbounds = 4,
};
static const struct proto_family *const ping_families[] = {&ping_duration, NULL};

static void ping_observe(const struct span_rec *r, const struct proto_env *env,
			 struct proto_obs *obs)
{
	(void)env;
	proto_obs_init(obs, &ping_duration, proto_seconds(r));
	proto_obs_label(obs, r->error ? "lost" : "pong");
}

static void ping_describe(const struct span_rec *r, const struct proto_env *env, struct xspan *x)
{
	(void)env;
	xspan_set_name(x, "PING");
	x->error = r->error != SPAN_ERR_NONE;
	xspan_put_str(x, "ping.token", spanrec_str(r, PING_A_TOKEN));
}

const struct proto_handler ping_handler = {
    .name = "ping",
    .id = PROTO_TEST,
    .state_size = sizeof(struct ping_state),
    .detect = ping_detect,
    .open = ping_open,
    .feed = ping_feed,
    .inject = ping_inject,
    .sent = ping_sent,
    .eof = ping_eof,
    .observe = ping_observe,
    .describe = ping_describe,
    .families = ping_families,
};
