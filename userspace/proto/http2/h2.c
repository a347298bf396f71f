#include <string.h>

#include "h2.h"

void h2_init(struct h2_reader *r, int client_side)
{
	memset(r, 0, offsetof(struct h2_reader, block));
	r->preface_left = client_side ? H2_PREFACE_LEN : 0;
}

int h2_is_preface(const uint8_t *buf, size_t len)
{
	if (len > H2_PREFACE_LEN)
		len = H2_PREFACE_LEN;
	return len >= 3 && !memcmp(buf, H2_PREFACE, len);
}

long h2_to_boundary(const struct h2_reader *r)
{
	if (r->preface_left)
		return r->preface_left; /* the first frame starts after the preface */
	if (r->hlen != H2_FRAME_HDR)
		return r->hlen ? -1 : 0;
	return (long)(r->len - r->got);
}

int h2_in_block(const struct h2_reader *r)
{
	return r->in_block;
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static enum h2_event fail(struct h2_reader *r)
{
	r->broken = 1;
	return H2_EV_ERROR;
}

/* A frame header is complete: check it against the reader's state. */
static enum h2_event frame_start(struct h2_reader *r)
{
	const uint8_t *h = r->hdr;

	r->len = (uint32_t)h[0] << 16 | (uint32_t)h[1] << 8 | h[2];
	r->type = h[3];
	r->flags = h[4];
	r->stream = be32(h + 5) & 0x7fffffff;
	r->got = 0;
	r->pad = 0;
	r->ctl_len = 0;
	r->pre = 0;
	if (r->in_block && (r->type != H2_CONTINUATION || r->stream != r->block_stream))
		return fail(r); /* a header block must continue at once (RFC 9113 6.10) */
	switch (r->type) {
	case H2_DATA:
		r->pre = (r->flags & H2_F_PADDED) ? 1 : 0;
		break;
	case H2_HEADERS:
		r->pre = (uint8_t)(((r->flags & H2_F_PADDED) ? 1 : 0) +
				   ((r->flags & H2_F_PRIORITY) ? 5 : 0));
		r->in_block = 1;
		r->block_stream = r->stream;
		r->block_end_stream = r->flags & H2_F_END_STREAM;
		r->block_push = 0;
		r->block_len = 0;
		break;
	case H2_PUSH_PROMISE:
		r->pre = (uint8_t)(((r->flags & H2_F_PADDED) ? 1 : 0) + 4);
		r->in_block = 1;
		r->block_stream = r->stream;
		r->block_end_stream = 0;
		r->block_push = 1;
		r->block_len = 0;
		break;
	case H2_CONTINUATION:
		if (!r->in_block)
			return fail(r);
		break;
	case H2_SETTINGS:
		r->settings_hts = r->settings_mfs = 0;
		r->settings_has_hts = 0;
		if ((r->flags & H2_F_ACK) ? r->len != 0 : r->len % 6)
			return fail(r);
		break;
	case H2_RST_STREAM:
		if (r->len != 4)
			return fail(r);
		break;
	case H2_GOAWAY:
		if (r->len < 8)
			return fail(r);
		break;
	}
	if (r->pre > r->len)
		return fail(r);
	return H2_NEED_MORE;
}

/* A whole header block is ready: at data, len. */
static enum h2_event block_event(struct h2_reader *r, struct h2_ev *ev, const uint8_t *data,
				 size_t len)
{
	r->in_block = 0;
	ev->stream = r->block_stream;
	ev->end_stream = r->block_end_stream;
	ev->push = r->block_push;
	ev->data = data;
	ev->len = len;
	return H2_EV_HEADERS;
}

/* The current frame's payload is all consumed. */
static enum h2_event frame_end(struct h2_reader *r, struct h2_ev *ev)
{
	r->hlen = 0; /* next byte starts a frame header */
	ev->stream = r->stream;
	switch (r->type) {
	case H2_DATA:
		if (!(r->flags & H2_F_END_STREAM))
			return H2_NEED_MORE;
		ev->data = NULL;
		ev->len = 0;
		ev->end_stream = 1;
		return H2_EV_DATA;
	case H2_HEADERS:
	case H2_PUSH_PROMISE:
	case H2_CONTINUATION:
		if (!(r->flags & H2_F_END_HEADERS))
			return H2_NEED_MORE;
		return block_event(r, ev, r->block, r->block_len);
	case H2_RST_STREAM:
		ev->error_code = be32(r->ctl);
		return H2_EV_RST;
	case H2_GOAWAY:
		ev->last_stream = be32(r->ctl) & 0x7fffffff;
		ev->error_code = be32(r->ctl + 4);
		return H2_EV_GOAWAY;
	case H2_SETTINGS:
		if (r->flags & H2_F_ACK)
			return H2_NEED_MORE;
		ev->header_table_size = r->settings_hts;
		ev->has_header_table_size = r->settings_has_hts;
		ev->max_frame_size = r->settings_mfs;
		return H2_EV_SETTINGS;
	}
	return H2_NEED_MORE;
}

/* Bytes of a control frame (SETTINGS entries, RST_STREAM, GOAWAY head). */
static void control_bytes(struct h2_reader *r, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (r->type == H2_SETTINGS) {
			r->ctl[r->ctl_len++] = p[i];
			if (r->ctl_len == 6) {
				uint16_t id = (uint16_t)(r->ctl[0] << 8 | r->ctl[1]);
				uint32_t v = be32(r->ctl + 2);
				if (id == H2_S_HEADER_TABLE_SIZE) {
					r->settings_hts = v;
					r->settings_has_hts = 1;
				} else if (id == H2_S_MAX_FRAME_SIZE)
					r->settings_mfs = v;
				r->ctl_len = 0;
			}
		} else if (r->ctl_len < sizeof(r->ctl)) {
			r->ctl[r->ctl_len++] = p[i];
		}
	}
}

size_t h2_feed(struct h2_reader *r, const uint8_t *buf, size_t len, struct h2_ev *ev,
	       enum h2_event *e)
{
	size_t i = 0;

	memset(ev, 0, sizeof(*ev));
	*e = H2_NEED_MORE;
	if (r->broken) {
		*e = H2_EV_ERROR;
		return len;
	}
	while (i < len) {
		if (r->preface_left) {
			size_t at = H2_PREFACE_LEN - r->preface_left;
			if (buf[i] != (uint8_t)H2_PREFACE[at]) {
				*e = fail(r);
				return len;
			}
			r->preface_left--;
			i++;
			continue;
		}
		if (r->hlen < H2_FRAME_HDR) {
			r->hdr[r->hlen++] = buf[i++];
			if (r->hlen < H2_FRAME_HDR)
				continue;
			if ((*e = frame_start(r)) == H2_EV_ERROR)
				return len;
			if (r->len == 0 && (*e = frame_end(r, ev)) != H2_NEED_MORE)
				return i;
			continue;
		}
		/* the frame's payload: prefix, content, padding */
		size_t take = len - i < r->len - r->got ? len - i : r->len - r->got;
		const uint8_t *p = buf + i;

		if (r->got < r->pre) {
			if (r->got == 0 && (r->flags & H2_F_PADDED) &&
			    (r->type == H2_DATA || r->type == H2_HEADERS ||
			     r->type == H2_PUSH_PROMISE)) {
				r->pad = p[0];
				if ((uint32_t)r->pad + r->pre > r->len) {
					*e = fail(r);
					return len;
				}
			}
			take = 1;
		} else if (r->got < r->len - r->pad) {
			size_t content = r->len - r->pad - r->got;
			if (take > content)
				take = content;
			switch (r->type) {
			case H2_DATA:
				r->got += (uint32_t)take;
				i += take;
				ev->stream = r->stream;
				ev->data = p;
				ev->len = take;
				ev->end_stream = 0;
				*e = H2_EV_DATA;
				if (r->got == r->len) { /* unpadded: the frame ends here */
					r->hlen = 0;
					ev->end_stream = r->flags & H2_F_END_STREAM;
				} /* else END_STREAM comes from frame_end after the padding */
				return i;
			case H2_HEADERS:
				if (r->got == r->pre && take == r->len - r->got &&
				    take <= H2_BLOCK_MAX && (r->flags & H2_F_END_HEADERS)) {
					/* a whole unpadded block in this buffer: no copy */
					r->got = r->len;
					r->hlen = 0;
					*e = block_event(r, ev, p, take);
					return i + take;
				}
				/* fall through */
			case H2_PUSH_PROMISE:
			case H2_CONTINUATION:
				if (r->block_len + take > H2_BLOCK_MAX) {
					*e = fail(r);
					return len;
				}
				memcpy(r->block + r->block_len, p, take);
				r->block_len += (uint32_t)take;
				break;
			default:
				control_bytes(r, p, take);
			}
		}
		/* else: padding, skipped */
		r->got += (uint32_t)take;
		i += take;
		if (r->got == r->len && (*e = frame_end(r, ev)) != H2_NEED_MORE)
			return i;
	}
	return i;
}

int h2_skip(struct h2_reader *r, uint64_t n, struct h2_ev *ev)
{
	memset(ev, 0, sizeof(*ev));
	if (r->broken || r->preface_left || r->hlen < H2_FRAME_HDR || r->type != H2_DATA ||
	    r->got < r->pre || r->got + r->pad > r->len ||
	    n > (uint64_t)(r->len - r->pad - r->got)) {
		r->broken = 1;
		return -1;
	}
	r->got += (uint32_t)n;
	ev->stream = r->stream;
	ev->len = (size_t)n;
	if (r->got == r->len) { /* unpadded: the frame ends here */
		r->hlen = 0;
		ev->end_stream = r->flags & H2_F_END_STREAM;
	}
	return 0;
}
