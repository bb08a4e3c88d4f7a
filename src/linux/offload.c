/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <string.h>

#include "offload.h"

/* Network byte order, unaligned. */
static uint16_t cwg_get_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}
static uint32_t cwg_get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}
static void cwg_put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}
static void cwg_put_be32(uint8_t *p, uint32_t v)
{
	cwg_put_be16(p, (uint16_t)(v >> 16));
	cwg_put_be16(p + 2, (uint16_t)v);
}

#define IPPROTO_TCP_ 6
#define IPPROTO_UDP_ 17
#define IP4_MF_OFFSET 0x3fff
#define IP4_DF 0x4000
#define IP_MAX_TOTAL 65535

static uint32_t min_u32(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

/* Checksums come out of the sums in memory order: store them as bytes. */
static void put_csum(uint8_t *p, uint16_t c)
{
	memcpy(p, &c, 2);
}

void cwg_vnet_hdr_get(struct cwg_vnet_hdr *h, const uint8_t p[CWG_VNET_HDR_LEN])
{
	h->flags = p[0];
	h->gso_type = p[1];
	memcpy(&h->hdr_len, p + 2, 2);
	memcpy(&h->gso_size, p + 4, 2);
	memcpy(&h->csum_start, p + 6, 2);
	memcpy(&h->csum_offset, p + 8, 2);
}

void cwg_vnet_hdr_put(uint8_t p[CWG_VNET_HDR_LEN], const struct cwg_vnet_hdr *h)
{
	p[0] = h->flags;
	p[1] = h->gso_type;
	memcpy(p + 2, &h->hdr_len, 2);
	memcpy(p + 4, &h->gso_size, 2);
	memcpy(p + 6, &h->csum_start, 2);
	memcpy(p + 8, &h->csum_offset, 2);
}

/* a + b with the carry out of bit 63 added back in (one's complement):
 * the result is congruent to a + b modulo 2^64 - 1, which 0xffff divides,
 * and cannot itself carry out. */
static inline uint64_t add_eac(uint64_t a, uint64_t b)
{
	uint64_t s = a + b;

	return s + (s < a);
}

/*
 * 64-bit loads summed with end-around carry: a 64-bit word is worth the
 * sum of its four 16-bit halves modulo 0xffff, so folding at the end
 * gives the RFC 1071 sum in the machine's byte order. Four independent
 * accumulators let the adds overlap; this loop is most of what
 * segmenting a TSO super-packet costs besides the copy.
 */
uint64_t cwg_csum_partial(const uint8_t *p, size_t len, uint64_t sum)
{
	uint64_t a[4] = { sum, 0, 0, 0 }, w[4];
	uint32_t w32;
	uint16_t h;

	while (len >= 32) {
		memcpy(w, p, 32);
		a[0] = add_eac(a[0], w[0]);
		a[1] = add_eac(a[1], w[1]);
		a[2] = add_eac(a[2], w[2]);
		a[3] = add_eac(a[3], w[3]);
		p += 32;
		len -= 32;
	}
	while (len >= 8) {
		memcpy(w, p, 8);
		a[0] = add_eac(a[0], w[0]);
		p += 8;
		len -= 8;
	}
	sum = add_eac(add_eac(a[0], a[1]), add_eac(a[2], a[3]));
	if (len >= 4) {
		memcpy(&w32, p, 4);
		sum = add_eac(sum, w32);
		p += 4;
		len -= 4;
	}
	if (len >= 2) {
		memcpy(&h, p, 2);
		sum = add_eac(sum, h);
		p += 2;
		len -= 2;
	}
	if (len) {
		uint8_t last[2] = { p[0], 0 };

		memcpy(&h, last, 2);
		sum = add_eac(sum, h);
	}
	return sum;
}

uint16_t cwg_csum_fold(uint64_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

uint64_t cwg_csum_pseudo(int family, const uint8_t *src, const uint8_t *dst,
			 uint8_t proto, uint32_t l4_len)
{
	uint8_t ph[40];

	if (family == 4) {
		memcpy(ph, src, 4);
		memcpy(ph + 4, dst, 4);
		ph[8] = 0;
		ph[9] = proto;
		cwg_put_be16(ph + 10, (uint16_t)l4_len);
		return cwg_csum_partial(ph, 12, 0);
	}
	memcpy(ph, src, 16);
	memcpy(ph + 16, dst, 16);
	cwg_put_be32(ph + 32, l4_len);
	ph[36] = ph[37] = ph[38] = 0;
	ph[39] = proto;
	return cwg_csum_partial(ph, 40, 0);
}

void cwg_ipv4_set_csum(uint8_t *hdr, uint32_t ihl)
{
	hdr[10] = hdr[11] = 0;
	put_csum(hdr + 10, (uint16_t)~cwg_csum_fold(cwg_csum_partial(hdr, ihl, 0)));
}

/* The transport checksum of [l4, l4 + l4_len) with its field at
 * l4 + field, over the given pseudo-header. UDP's zero means "none", so
 * a computed zero goes out as its other form (as the kernel does for
 * every protocol). */
static void l4_set_csum(uint8_t *l4, uint32_t l4_len, uint32_t field,
			uint64_t pseudo)
{
	uint16_t c;

	l4[field] = l4[field + 1] = 0;
	c = (uint16_t)~cwg_csum_fold(cwg_csum_partial(l4, l4_len, pseudo));
	put_csum(l4 + field, c ? c : 0xffff);
}

uint32_t cwg_offload_parse_disable(const char *list, unsigned *unknown)
{
	static const struct {
		const char *name;
		uint32_t bit;
	} names[] = {
		{ "tun_vnet", CWG_OFFLOAD_TUN_VNET },
		{ "tso", CWG_OFFLOAD_TSO },
		{ "uso", CWG_OFFLOAD_USO },
		{ "udp_gso", CWG_OFFLOAD_UDP_GSO },
		{ "udp_gro", CWG_OFFLOAD_UDP_GRO },
		{ "all", CWG_OFFLOAD_TUN_VNET | CWG_OFFLOAD_TSO |
			 CWG_OFFLOAD_USO | CWG_OFFLOAD_UDP_GSO |
			 CWG_OFFLOAD_UDP_GRO },
	};
	uint32_t mask = 0;
	unsigned bad = 0;

	while (list && *list) {
		size_t n;
		bool found = false;

		while (*list == ',' || *list == ' ')
			list++;
		n = strcspn(list, ", ");
		if (!n)
			break;
		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			if (strlen(names[i].name) == n &&
			    !memcmp(names[i].name, list, n)) {
				mask |= names[i].bit;
				found = true;
			}
		bad += !found;
		list += n;
	}
	if (unknown)
		*unknown = bad;
	return mask;
}

int cwg_offload_finish_csum(const struct cwg_vnet_hdr *h, uint8_t *pkt,
			    uint32_t len)
{
	uint32_t start = h->csum_start, field = start + h->csum_offset;
	uint16_t c;

	if (!(h->flags & CWG_VNET_F_NEEDS_CSUM))
		return 0;
	if (start >= len || field + 2 > len)
		return -EINVAL;
	/* The field holds the pseudo-header sum: summing over it adds it. */
	c = (uint16_t)~cwg_csum_fold(cwg_csum_partial(pkt + start, len - start,
						     0));
	put_csum(pkt + field, c ? c : 0xffff);
	return 0;
}

struct seg_layout {
	int family;
	uint8_t proto;
	uint32_t l4_off;
	uint32_t hdr_len;
	uint32_t payload;
	uint32_t mss;
	uint32_t count;
};

static int seg_parse(const struct cwg_vnet_hdr *h, const uint8_t *pkt,
		     uint32_t len, struct seg_layout *s)
{
	int want_family = 0;

	switch (h->gso_type & ~CWG_VNET_GSO_ECN) {
	case CWG_VNET_GSO_TCPV4:
		want_family = 4;
		s->proto = IPPROTO_TCP_;
		break;
	case CWG_VNET_GSO_TCPV6:
		want_family = 6;
		s->proto = IPPROTO_TCP_;
		break;
	case CWG_VNET_GSO_UDP_L4:
		s->proto = IPPROTO_UDP_;
		break;
	default:
		return -EINVAL;
	}
	if (len < 20)
		return -EINVAL;
	s->family = pkt[0] >> 4;
	if (s->family == 4) {
		s->l4_off = (uint32_t)(pkt[0] & 15) * 4;
		if (s->l4_off < 20 || s->l4_off > len || pkt[9] != s->proto ||
		    (cwg_get_be16(pkt + 6) & IP4_MF_OFFSET))
			return -EINVAL;
	} else if (s->family == 6) {
		/* Extension headers would need walking; TSO from the local
		 * stack does not make them, so refuse rather than guess. */
		if (len < 40 || pkt[6] != s->proto)
			return -EINVAL;
		s->l4_off = 40;
	} else {
		return -EINVAL;
	}
	if (want_family && want_family != s->family)
		return -EINVAL;
	if (s->proto == IPPROTO_TCP_) {
		if (len < s->l4_off + 20)
			return -EINVAL;
		s->hdr_len = s->l4_off + (uint32_t)(pkt[s->l4_off + 12] >> 4) * 4;
		if (s->hdr_len < s->l4_off + 20 || s->hdr_len > len)
			return -EINVAL;
	} else {
		s->hdr_len = s->l4_off + 8;
		if (s->hdr_len > len)
			return -EINVAL;
	}
	s->mss = h->gso_size;
	if (!s->mss || s->hdr_len + s->mss > IP_MAX_TOTAL)
		return -EINVAL;
	s->payload = len - s->hdr_len;
	s->count = s->payload ? (s->payload + s->mss - 1) / s->mss : 1;
	if (s->count > CWG_OFFLOAD_MAX_SEGS)
		return -E2BIG;
	return 0;
}

int cwg_offload_segment_count(const struct cwg_vnet_hdr *h, const uint8_t *pkt,
			      uint32_t len)
{
	struct seg_layout s;
	int r = seg_parse(h, pkt, len, &s);

	return r ? r : (int)s.count;
}

int cwg_offload_segment(const struct cwg_vnet_hdr *h, const uint8_t *pkt,
			uint32_t len, uint8_t *const *out, uint32_t out_cap,
			uint32_t *lens, uint32_t max)
{
	struct seg_layout s;
	uint32_t seq = 0, off;
	uint16_t id = 0;
	int r = seg_parse(h, pkt, len, &s);

	if (r)
		return r;
	if (s.count > max || s.hdr_len + min_u32(s.mss, s.payload) > out_cap)
		return -ENOSPC;
	if (s.family == 4)
		id = cwg_get_be16(pkt + 4);
	if (s.proto == IPPROTO_TCP_)
		seq = cwg_get_be32(pkt + s.l4_off + 4);
	off = s.hdr_len;
	for (uint32_t i = 0; i < s.count; i++) {
		uint32_t chunk = min_u32(s.mss, len - off);
		uint32_t seg_len = s.hdr_len + chunk, l4_len = seg_len - s.l4_off;
		uint8_t *o = out[i], *l4 = o + s.l4_off;
		uint64_t pseudo;

		memcpy(o, pkt, s.hdr_len);
		memcpy(o + s.hdr_len, pkt + off, chunk);
		off += chunk;
		lens[i] = seg_len;
		if (s.family == 4) {
			cwg_put_be16(o + 2, (uint16_t)seg_len);
			cwg_put_be16(o + 4, (uint16_t)(id + i));
			cwg_ipv4_set_csum(o, s.l4_off);
			pseudo = cwg_csum_pseudo(4, o + 12, o + 16, s.proto,
						 l4_len);
		} else {
			cwg_put_be16(o + 4, (uint16_t)(seg_len - 40));
			pseudo = cwg_csum_pseudo(6, o + 8, o + 24, s.proto,
						 l4_len);
		}
		if (s.proto == IPPROTO_TCP_) {
			cwg_put_be32(l4 + 4, seq + i * s.mss);
			if (i != s.count - 1)
				l4[13] &= (uint8_t)~(CWG_TCP_FIN | CWG_TCP_PSH);
			if (i)
				l4[13] &= (uint8_t)~CWG_TCP_CWR;
			l4_set_csum(l4, l4_len, 16, pseudo);
		} else {
			cwg_put_be16(l4 + 4, (uint16_t)l4_len);
			l4_set_csum(l4, l4_len, 6, pseudo);
		}
	}
	return (int)s.count;
}

/* ---- TCP and UDP coalescing ---- */

/*
 * The IP layer both protocols share, for a packet of at least 28 bytes:
 * IPv4 (options allowed, no fragment) or IPv6 (proto right after the
 * fixed header), carrying proto, with a length that agrees with len.
 * Fills family, proto, l4_off and, for IPv4, ip_id and df.
 */
static bool gro_parse_ip(const uint8_t *pkt, uint32_t len, uint8_t proto,
			 struct cwg_gro_info *gi)
{
	memset(gi, 0, sizeof(*gi));
	gi->proto = proto;
	gi->family = pkt[0] >> 4;
	if (gi->family == 4) {
		uint16_t frag = cwg_get_be16(pkt + 6);

		gi->l4_off = (uint16_t)((pkt[0] & 15) * 4);
		if (gi->l4_off < 20 || pkt[9] != proto ||
		    cwg_get_be16(pkt + 2) != len || (frag & IP4_MF_OFFSET))
			return false;
		gi->ip_id = cwg_get_be16(pkt + 4);
		gi->df = frag & IP4_DF;
		return true;
	}
	gi->l4_off = 40;
	return gi->family == 6 && pkt[6] == proto &&
	       40u + cwg_get_be16(pkt + 4) == len;
}

bool cwg_gro_parse(const uint8_t *pkt, uint32_t len, struct cwg_gro_info *gi)
{
	const uint8_t *tcp;
	uint32_t thl;

	if (len < 40 || !gro_parse_ip(pkt, len, IPPROTO_TCP_, gi))
		return false;
	if ((uint32_t)gi->l4_off + 20 > len)
		return false;
	tcp = pkt + gi->l4_off;
	thl = (uint32_t)(tcp[12] >> 4) * 4;
	if (thl < 20 || gi->l4_off + thl >= len)
		return false;
	gi->hdr_len = (uint16_t)(gi->l4_off + thl);
	gi->payload_len = len - gi->hdr_len;
	gi->tcp_flags = tcp[13];
	gi->seq = cwg_get_be32(tcp + 4);
	return (gi->tcp_flags & CWG_TCP_ACK) &&
	       !(gi->tcp_flags & ~(CWG_TCP_ACK | CWG_TCP_PSH));
}

/*
 * The checksums are verified here because the super-packet gets new
 * ones: a datagram that arrived damaged would otherwise come out of the
 * kernel's segmentation looking sound. A zero UDP checksum (none, over
 * IPv4) is refused as the kernel's own UDP GRO refuses it: segmentation
 * would give each datagram a checksum it never had.
 */
bool cwg_gro_parse_udp(const uint8_t *pkt, uint32_t len,
		       struct cwg_gro_info *gi)
{
	const uint8_t *udp;
	uint64_t pseudo;
	uint32_t l4_len;

	/* Some payload is required: the kernel refuses a GSO packet no
	 * longer than one segment, and gso_size 0. */
	if (len < 28 || !gro_parse_ip(pkt, len, IPPROTO_UDP_, gi) ||
	    gi->l4_off + 8u >= len)
		return false;
	if (gi->family == 4 &&
	    cwg_csum_fold(cwg_csum_partial(pkt, gi->l4_off, 0)) != 0xffff)
		return false;
	udp = pkt + gi->l4_off;
	l4_len = len - gi->l4_off;
	gi->hdr_len = (uint16_t)(gi->l4_off + 8);
	gi->payload_len = len - gi->hdr_len;
	if (cwg_get_be16(udp + 4) != l4_len || (!udp[6] && !udp[7]))
		return false;
	pseudo = gi->family == 4 ?
		cwg_csum_pseudo(4, pkt + 12, pkt + 16, IPPROTO_UDP_, l4_len) :
		cwg_csum_pseudo(6, pkt + 8, pkt + 24, IPPROTO_UDP_, l4_len);
	return cwg_csum_fold(cwg_csum_partial(udp, l4_len, pseudo)) == 0xffff;
}

void cwg_gro_start(struct cwg_gro_group *g, uint8_t *pkt,
		   const struct cwg_gro_info *gi)
{
	g->head = pkt;
	g->hi = *gi;
	g->count = 1;
	g->payload = gi->payload_len;
	g->next_seq = gi->seq + gi->payload_len;
	g->last_id = gi->ip_id;
	g->psh = gi->tcp_flags & CWG_TCP_PSH;
	g->closed = g->psh;
}

static bool same_flow(const uint8_t *a, const struct cwg_gro_info *ai,
		      const uint8_t *b, const struct cwg_gro_info *bi)
{
	if (ai->family != bi->family || ai->proto != bi->proto)
		return false;
	if (ai->family == 4 ? memcmp(a + 12, b + 12, 8) :
			      memcmp(a + 8, b + 8, 32))
		return false;
	return !memcmp(a + ai->l4_off, b + bi->l4_off, 4);
}

enum cwg_gro_verdict cwg_gro_check(const struct cwg_gro_group *g,
				   const uint8_t *pkt,
				   const struct cwg_gro_info *gi)
{
	const struct cwg_gro_info *hi = &g->hi;
	const uint8_t *h = g->head, *ht, *pt;

	if (!same_flow(h, hi, pkt, gi))
		return CWG_GRO_OTHER_FLOW;
	if (g->closed || gi->hdr_len != hi->hdr_len ||
	    gi->l4_off != hi->l4_off ||
	    (hi->proto == IPPROTO_TCP_ && gi->seq != g->next_seq) ||
	    gi->payload_len > hi->payload_len ||
	    g->count >= CWG_OFFLOAD_MAX_SEGS ||
	    hi->hdr_len + g->payload + gi->payload_len > IP_MAX_TOTAL)
		return CWG_GRO_FLUSH;
	/* Everything but lengths, IDs, checksums and sequence numbers must
	 * match, or the super-packet would misstate some segment. */
	if (hi->family == 4) {
		if (memcmp(h, pkt, 2) || memcmp(h + 6, pkt + 6, 4) ||
		    memcmp(h + 20, pkt + 20, hi->l4_off - 20u))
			return CWG_GRO_FLUSH;
		/* The kernel's UDP GRO ignores IDs (segmentation numbers
		 * them anew), and so does wireguard-go's. */
		if (hi->proto == IPPROTO_TCP_ && !hi->df &&
		    gi->ip_id != (uint16_t)(g->last_id + 1))
			return CWG_GRO_FLUSH;
	} else if (memcmp(h, pkt, 4) || memcmp(h + 6, pkt + 6, 2)) {
		return CWG_GRO_FLUSH;
	}
	/* UDP has nothing else: the ports matched, lengths and checksums
	 * are each datagram's own. */
	if (hi->proto == IPPROTO_UDP_)
		return CWG_GRO_APPEND;
	ht = h + hi->l4_off;
	pt = pkt + gi->l4_off;
	/* Ack number, data offset, window, urgent pointer and options;
	 * the flags were vetted by cwg_gro_parse. */
	if (memcmp(ht + 8, pt + 8, 5) || memcmp(ht + 14, pt + 14, 2) ||
	    memcmp(ht + 18, pt + 18, hi->hdr_len - hi->l4_off - 18u))
		return CWG_GRO_FLUSH;
	return CWG_GRO_APPEND;
}

void cwg_gro_append(struct cwg_gro_group *g, const struct cwg_gro_info *gi)
{
	g->count++;
	g->payload += gi->payload_len;
	g->next_seq += gi->payload_len;
	g->last_id = gi->ip_id;
	if (gi->tcp_flags & CWG_TCP_PSH)
		g->psh = g->closed = true;
	if (gi->payload_len < g->hi.payload_len)
		g->closed = true;
}

void cwg_gro_finish(struct cwg_gro_group *g, struct cwg_vnet_hdr *h)
{
	uint8_t *p = g->head, *l4 = p + g->hi.l4_off, proto = g->hi.proto;
	uint32_t total = g->hi.hdr_len + g->payload;
	uint32_t l4_len = total - g->hi.l4_off;
	uint32_t field = proto == IPPROTO_UDP_ ? 6 : 16;
	uint64_t pseudo;

	if (g->hi.family == 4) {
		cwg_put_be16(p + 2, (uint16_t)total);
		cwg_ipv4_set_csum(p, g->hi.l4_off);
		pseudo = cwg_csum_pseudo(4, p + 12, p + 16, proto, l4_len);
	} else {
		cwg_put_be16(p + 4, (uint16_t)(total - 40));
		pseudo = cwg_csum_pseudo(6, p + 8, p + 24, proto, l4_len);
	}
	if (proto == IPPROTO_UDP_)
		/* The whole: the kernel's segmentation adjusts the pseudo
		 * sum from this length to each datagram's. */
		cwg_put_be16(l4 + 4, (uint16_t)l4_len);
	else if (g->psh)
		l4[13] |= CWG_TCP_PSH;
	/* CHECKSUM_PARTIAL's convention: the field holds the pseudo-header
	 * sum, uncomplemented; whoever finishes the sum adds the rest. */
	put_csum(l4 + field, cwg_csum_fold(pseudo));
	h->flags = CWG_VNET_F_NEEDS_CSUM;
	if (proto == IPPROTO_UDP_)
		h->gso_type = CWG_VNET_GSO_UDP_L4;
	else
		h->gso_type = g->hi.family == 4 ? CWG_VNET_GSO_TCPV4 :
						  CWG_VNET_GSO_TCPV6;
	h->hdr_len = g->hi.hdr_len;
	h->gso_size = (uint16_t)g->hi.payload_len;
	h->csum_start = g->hi.l4_off;
	h->csum_offset = (uint16_t)field;
}
