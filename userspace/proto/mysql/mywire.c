#include "mywire.h"

#include <string.h>

void myw_init(struct myw_parser *p)
{
	memset(p, 0, sizeof(*p));
}

int myw_idle(const struct myw_parser *p)
{
	return !p->hdr_have && !p->left;
}

/* The header is whole: the packet begins (an empty one ends at once). */
static void begin(struct myw_parser *p)
{
	struct myw_pkt *k = &p->pkt;

	k->len = (uint32_t)p->hdr[0] | (uint32_t)p->hdr[1] << 8 | (uint32_t)p->hdr[2] << 16;
	k->seq = p->hdr[3];
	k->cont = p->next_cont;
	k->head_len = 0;
	p->next_cont = k->len == MYW_LEN_MAX;
	p->left = k->len;
	p->hdr_have = 0;
}

size_t myw_parse(struct myw_parser *p, const uint8_t *b, size_t n, struct myw_pkt *pkt, int *done)
{
	size_t used = 0;

	*done = 0;
	while (used < n) {
		if (!p->left && p->hdr_have < 4) {
			p->hdr[p->hdr_have++] = b[used++];
			if (p->hdr_have < 4)
				continue;
			begin(p);
		} else {
			size_t take = n - used < p->left ? n - used : p->left;
			struct myw_pkt *k = &p->pkt;

			if (k->head_len < MYW_HEAD_MAX) {
				size_t keep = MYW_HEAD_MAX - k->head_len;

				keep = keep < take ? keep : take;
				memcpy(k->head + k->head_len, b + used, keep);
				k->head_len = (uint16_t)(k->head_len + keep);
			}
			used += take;
			p->left -= (uint32_t)take;
		}
		if (!p->left && !p->hdr_have) {
			*pkt = p->pkt;
			*done = 1;
			return used;
		}
	}
	return used;
}

int myw_skip(struct myw_parser *p, uint64_t n, struct myw_pkt *pkt, int *done)
{
	*done = 0;
	if (!n)
		return 0;
	/* only payload past the kept head: what the head would hold was
	 * needed (a header, a type byte, a status) */
	if (p->hdr_have || n > p->left || p->pkt.head_len < MYW_HEAD_MAX)
		return -1;
	p->left -= (uint32_t)n;
	if (!p->left) {
		*pkt = p->pkt;
		*done = 1;
	}
	return 0;
}

int myw_lenenc(const struct myw_pkt *pkt, size_t *off, uint64_t *v)
{
	size_t at = *off, w;
	uint8_t f;

	if (at >= pkt->head_len)
		return -1;
	f = pkt->head[at];
	if (f < 0xfb) {
		*v = f;
		*off = at + 1;
		return 0;
	}
	w = f == 0xfc ? 2 : f == 0xfd ? 3 : f == 0xfe ? 8 : 0;
	if (!w || at + 1 + w > pkt->head_len)
		return -1;
	*v = 0;
	for (size_t i = 0; i < w; i++)
		*v |= (uint64_t)pkt->head[at + 1 + i] << (8 * i);
	*off = at + 1 + w;
	return 0;
}

uint32_t myw_u16(const struct myw_pkt *pkt, size_t off)
{
	if (off + 2 > pkt->head_len)
		return 0;
	return (uint32_t)pkt->head[off] | (uint32_t)pkt->head[off + 1] << 8;
}

uint32_t myw_u32(const struct myw_pkt *pkt, size_t off)
{
	if (off + 4 > pkt->head_len)
		return 0;
	return myw_u16(pkt, off) | myw_u16(pkt, off + 2) << 16;
}

int myw_is_greeting(const uint8_t *b, size_t n)
{
	uint32_t len;

	if (n < 6)
		return 0;
	len = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16;
	return len >= 32 && len <= 1024 && b[3] == 0 && b[4] == 10 && b[5] >= '1' && b[5] <= '9';
}
