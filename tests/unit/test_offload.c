/* SPDX-License-Identifier: MIT */
/*
 * TSO/USO segmentation, checksum completion and TCP and UDP coalescing
 * (src/linux/offload.c): segment-then-coalesce and coalesce-then-segment
 * round trips over random sizes, every checksum checked against a plain
 * byte-pair reference.
 */
#include <errno.h>
#include <string.h>

#include "tap.h"

#include "base.h"
#include "linux/offload.h"

#define MAXPKT 65600

static uint64_t rng_state;

static uint32_t rnd(void)
{
	/* xorshift64*: reproducible from the printed seed. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 2685821657736338717ULL) >> 32);
}

/* The reference: big-endian 16-bit words, end-around carry, complement. */
static uint32_t ref_sum(const uint8_t *p, size_t len, uint32_t sum)
{
	for (size_t i = 0; i + 1 < len; i += 2) {
		sum += (uint32_t)p[i] << 8 | p[i + 1];
		sum = (sum & 0xffff) + (sum >> 16);
	}
	if (len & 1) {
		sum += (uint32_t)p[len - 1] << 8;
		sum = (sum & 0xffff) + (sum >> 16);
	}
	return sum;
}

static uint32_t ref_pseudo(int fam, const uint8_t *pkt, uint8_t proto,
			   uint32_t l4len)
{
	uint32_t s = fam == 4 ? ref_sum(pkt + 12, 8, 0) :
				ref_sum(pkt + 8, 32, 0);

	s += proto;
	s += l4len >> 16;
	s += l4len & 0xffff;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return s;
}

/* A valid packet's transport checksum verifies to 0xffff. */
static bool ref_l4_ok(int fam, const uint8_t *pkt, uint32_t l4off,
		      uint32_t len, uint8_t proto)
{
	uint32_t s = ref_pseudo(fam, pkt, proto, len - l4off);

	return ref_sum(pkt + l4off, len - l4off, s) == 0xffff;
}

static bool ref_ip4_ok(const uint8_t *pkt)
{
	return ref_sum(pkt, (pkt[0] & 15) * 4u, 0) == 0xffff;
}

struct spec {
	int fam;
	bool udp;
	uint32_t ip_opts;	/* IPv4 option bytes, multiple of 4 */
	uint32_t tcp_opts;	/* multiple of 4 */
	uint32_t payload;
	uint32_t mss;
	uint8_t flags;
	bool df;
};

/* Builds a super-packet as the kernel hands it over; returns its length
 * and the L4 offset and header length in *l4off, *hdr. */
static uint32_t build(uint8_t *p, const struct spec *s, uint32_t *l4off,
		      uint32_t *hdr)
{
	uint32_t o, l4h = s->udp ? 8 : 20 + s->tcp_opts, len;

	if (s->fam == 4) {
		o = 20 + s->ip_opts;
		p[0] = (uint8_t)(0x40 | o / 4);
		p[1] = 0x02; /* ECT(0) */
		p[4] = 0x12;
		p[5] = 0x34;
		p[6] = s->df ? 0x40 : 0;
		p[7] = 0;
		p[8] = 64;
		p[9] = s->udp ? 17 : 6;
		memcpy(p + 12, "\x0a\xc8\x00\x01\x0a\xc8\x00\x02", 8);
		for (uint32_t i = 20; i < o; i++)
			p[i] = i + 1 == o ? 0 : 1; /* NOPs then EOL */
	} else {
		o = 40;
		memcpy(p, "\x60\x01\x23\x45", 4);
		p[6] = s->udp ? 17 : 6;
		p[7] = 64;
		for (int i = 0; i < 32; i++)
			p[8 + i] = (uint8_t)(0xfd + i * 7);
	}
	p[o] = 0x9c;
	p[o + 1] = 0x40;
	p[o + 2] = 0x13;
	p[o + 3] = 0x89;
	if (!s->udp) {
		memcpy(p + o + 4, "\xff\xff\xff\x00", 4); /* seq wraps */
		memcpy(p + o + 8, "\x00\x00\x10\x00", 4);
		p[o + 12] = (uint8_t)((l4h / 4) << 4);
		p[o + 13] = s->flags;
		p[o + 14] = 0x01;
		p[o + 15] = 0xf6;
		p[o + 18] = p[o + 19] = 0;
		for (uint32_t i = 20; i < l4h; i++)
			p[o + i] = (uint8_t)(i == 20 ? 1 : 0x80 + i);
	}
	for (uint32_t i = 0; i < s->payload; i++)
		p[o + l4h + i] = (uint8_t)rnd();
	len = o + l4h + s->payload;
	/* The kernel leaves the totals of the whole and a partial checksum;
	 * segmentation must not depend on them, so put junk there. */
	if (s->fam == 4) {
		p[2] = (uint8_t)(len >> 8);
		p[3] = (uint8_t)len;
		p[10] = 0xaa;
		p[11] = 0x55;
	} else {
		p[4] = (uint8_t)((len - 40) >> 8);
		p[5] = (uint8_t)(len - 40);
	}
	p[o + (s->udp ? 6 : 16)] = 0xde;
	p[o + (s->udp ? 7 : 17)] = 0xad;
	*l4off = o;
	*hdr = o + l4h;
	return len;
}

static uint8_t super[MAXPKT], rebuilt[MAXPKT];
static uint8_t segbuf[CWG_OFFLOAD_MAX_SEGS][2048];

/* Segments per spec and checks each segment; then, for TCP, coalesces
 * them back and compares with the original. Returns test failures. */
static int round_trip(const struct spec *s, const char *what)
{
	uint8_t *outs[CWG_OFFLOAD_MAX_SEGS];
	uint32_t lens[CWG_OFFLOAD_MAX_SEGS], l4off, hdr, len, seq0 = 0xffffff00;
	struct cwg_vnet_hdr h = {
		.flags = CWG_VNET_F_NEEDS_CSUM,
		.gso_size = (uint16_t)s->mss,
	};
	uint32_t want_n, n, bad = 0, badsum = 0, badflags = 0, badpay = 0;
	int r;

	for (int i = 0; i < CWG_OFFLOAD_MAX_SEGS; i++)
		outs[i] = segbuf[i];
	len = build(super, s, &l4off, &hdr);
	h.gso_type = s->udp ? CWG_VNET_GSO_UDP_L4 :
		     s->fam == 4 ? CWG_VNET_GSO_TCPV4 : CWG_VNET_GSO_TCPV6;
	h.hdr_len = (uint16_t)hdr;
	h.csum_start = (uint16_t)l4off;
	h.csum_offset = s->udp ? 6 : 16;
	want_n = s->payload ? (s->payload + s->mss - 1) / s->mss : 1;
	r = cwg_offload_segment_count(&h, super, len);
	n = r > 0 ? (uint32_t)r : 0;
	r = cwg_offload_segment(&h, super, len, outs, sizeof(segbuf[0]), lens,
				CWG_OFFLOAD_MAX_SEGS);
	if (!ok(r == (int)want_n && n == want_n,
		"%s: %u segments (got %d)", what, want_n, r))
		return 1;
	for (uint32_t i = 0; i < n; i++) {
		uint8_t *o = outs[i], *l4 = o + l4off;
		uint32_t chunk = i + 1 < n ? s->mss : s->payload - i * s->mss;
		uint8_t fl;

		if (!s->payload)
			chunk = 0;
		if (lens[i] != hdr + chunk)
			bad++;
		if (s->fam == 4) {
			if ((uint32_t)(o[2] << 8 | o[3]) != lens[i] ||
			    (uint16_t)(o[4] << 8 | o[5]) !=
				    (uint16_t)(0x1234 + i) ||
			    !ref_ip4_ok(o))
				bad++;
		} else if ((uint32_t)(o[4] << 8 | o[5]) != lens[i] - 40) {
			bad++;
		}
		if (!ref_l4_ok(s->fam, o, l4off, lens[i], s->udp ? 17 : 6))
			badsum++;
		if (memcmp(o + hdr, super + hdr + i * s->mss, chunk))
			badpay++;
		if (s->udp) {
			if ((uint32_t)(l4[4] << 8 | l4[5]) != lens[i] - l4off)
				bad++;
			continue;
		}
		if (cwg_get_be32(l4 + 4) != seq0 + i * s->mss)
			bad++;
		fl = s->flags;
		if (i + 1 < n)
			fl &= (uint8_t)~(CWG_TCP_FIN | CWG_TCP_PSH);
		if (i)
			fl &= (uint8_t)~CWG_TCP_CWR;
		if (l4[13] != fl)
			badflags++;
	}
	ok(!bad, "%s: lengths, IDs, IP checksums, seq (%u bad)", what, bad);
	ok(!badsum, "%s: %s checksums verify by the reference (%u bad)", what,
	   s->udp ? "UDP" : "TCP", badsum);
	ok(!badflags, "%s: flags per segment (%u bad)", what, badflags);
	ok(!badpay, "%s: payload slices (%u bad)", what, badpay);
	if (s->udp || !s->payload ||
	    (s->flags & ~(CWG_TCP_ACK | CWG_TCP_PSH)) || !(s->flags & CWG_TCP_ACK))
		return 0;

	/* Coalesce them back. */
	{
		struct cwg_gro_group g;
		struct cwg_gro_info gi;
		struct cwg_vnet_hdr vh;
		uint32_t off, tl;
		bool good = true;

		for (uint32_t i = 0; i < n && good; i++) {
			if (!cwg_gro_parse(outs[i], lens[i], &gi)) {
				good = false;
				break;
			}
			if (!i)
				cwg_gro_start(&g, outs[i], &gi);
			else if (cwg_gro_check(&g, outs[i], &gi) ==
				 CWG_GRO_APPEND)
				cwg_gro_append(&g, &gi);
			else
				good = false;
		}
		if (!ok(good && g.count == n, "%s: coalesces into one", what))
			return 1;
		if (n == 1)
			return 0;
		cwg_gro_finish(&g, &vh);
		memcpy(rebuilt, g.head, lens[0]);
		off = lens[0];
		for (uint32_t i = 1; i < n; i++) {
			memcpy(rebuilt + off, outs[i] + hdr, lens[i] - hdr);
			off += lens[i] - hdr;
		}
		ok(off == len && !memcmp(rebuilt + hdr, super + hdr, len - hdr),
		   "%s: coalesced payload is the original", what);
		tl = s->fam == 4 ? (uint32_t)(rebuilt[2] << 8 | rebuilt[3]) :
				   40u + (uint32_t)(rebuilt[4] << 8 | rebuilt[5]);
		ok(tl == len && (s->fam == 6 || ref_ip4_ok(rebuilt)),
		   "%s: coalesced IP length %u and header checksum", what, tl);
		/* Headers equal the original but for the fields the kernel
		 * left as junk there. */
		super[s->fam == 4 ? 10 : 4] = rebuilt[s->fam == 4 ? 10 : 4];
		super[s->fam == 4 ? 11 : 5] = rebuilt[s->fam == 4 ? 11 : 5];
		super[l4off + 16] = rebuilt[l4off + 16];
		super[l4off + 17] = rebuilt[l4off + 17];
		ok(!memcmp(rebuilt, super, hdr),
		   "%s: coalesced headers equal the original", what);
		ok((uint32_t)(rebuilt[l4off + 16] << 8 | rebuilt[l4off + 17]) ==
			   ref_pseudo(s->fam, rebuilt, 6, len - l4off),
		   "%s: TCP field holds the pseudo-header sum", what);
		ok(vh.flags == CWG_VNET_F_NEEDS_CSUM &&
			   vh.gso_type == (s->fam == 4 ? CWG_VNET_GSO_TCPV4 :
							 CWG_VNET_GSO_TCPV6) &&
			   vh.gso_size == s->mss && vh.hdr_len == hdr &&
			   vh.csum_start == l4off && vh.csum_offset == 16,
		   "%s: virtio header", what);
		/* And the kernel's way of finishing it gives a valid one. */
		{
			struct cwg_vnet_hdr fh = vh;

			fh.gso_type = CWG_VNET_GSO_NONE;
			ok(!cwg_offload_finish_csum(&fh, rebuilt, len) &&
				   ref_l4_ok(s->fam, rebuilt, l4off, len, 6),
			   "%s: finishing the partial sum verifies", what);
		}
	}
	return 0;
}

static void test_edges(void)
{
	struct spec s = { .fam = 4, .mss = 1000, .flags = 0x18, .df = true };

	s.payload = 5000;
	round_trip(&s, "v4 payload = 5 x mss");
	s.payload = 5001;
	round_trip(&s, "v4 last segment 1 byte");
	s.ip_opts = 8;
	s.tcp_opts = 12;
	s.df = false;
	round_trip(&s, "v4 IP options, TCP options, no DF");
	s.fam = 6;
	s.ip_opts = 0;
	s.payload = 64 * 1000;
	round_trip(&s, "v6 64 segments exactly");
	s.payload = 999;
	round_trip(&s, "v6 single short segment");
	s.payload = 0;
	s.flags = 0x11; /* FIN|ACK without data */
	round_trip(&s, "v6 no payload");
	s.fam = 4;
	s.payload = 3500;
	s.flags = 0x80 | 0x10 | 0x08 | 0x01; /* CWR|ACK|PSH|FIN */
	round_trip(&s, "v4 CWR first only, FIN/PSH last only");
	s.udp = true;
	s.flags = 0;
	s.payload = 1392 * 7 + 5;
	s.mss = 1392;
	round_trip(&s, "UDP v4 USO");
	s.fam = 6;
	round_trip(&s, "UDP v6 USO");
}

static void test_random(uint64_t seed)
{
	int fails = 0, runs = 100;

	diag("random round trips: seed %llu", (unsigned long long)seed);
	rng_state = seed;
	for (int i = 0; i < runs; i++) {
		struct spec s = { .flags = 0x10 };
		char what[96];

		s.fam = rnd() & 1 ? 4 : 6;
		s.mss = 536 + rnd() % 925;
		s.ip_opts = s.fam == 4 ? (rnd() % 3) * 4 : 0;
		s.tcp_opts = (rnd() % 4) * 4;
		s.payload = 1 + rnd() % (s.mss * CWG_OFFLOAD_MAX_SEGS);
		if (s.payload + 100 > 65535)
			s.payload = 65535 - 100;
		if (rnd() & 1)
			s.flags |= 0x08;
		s.df = rnd() & 1;
		snprintf(what, sizeof(what), "random #%d v%d mss %u len %u", i,
			 s.fam, s.mss, s.payload);
		/* Print only failures' names: run quietly into a counter. */
		{
			int before = tap_failed;

			fails += round_trip(&s, what);
			fails += tap_failed != before;
		}
	}
	ok(!fails, "%d random round trips (seed %llu)", runs,
	   (unsigned long long)seed);
}

static void mk_tcp(uint8_t *p, uint32_t *len, uint32_t seq, uint16_t id,
		   uint8_t flags, uint32_t payload)
{
	struct spec s = { .fam = 4, .payload = payload, .mss = 1000,
			  .flags = flags };
	uint32_t l4, hdr;

	*len = build(p, &s, &l4, &hdr);
	p[4] = (uint8_t)(id >> 8);
	p[5] = (uint8_t)id;
	cwg_put_be32(p + l4 + 4, seq);
}

static void test_gro_refusals(void)
{
	static uint8_t a[2048], b[2048];
	struct cwg_gro_info ga, gb;
	struct cwg_gro_group g;
	uint32_t la, lb;

	mk_tcp(a, &la, 1000, 7, 0x10, 1000);
	ok(cwg_gro_parse(a, la, &ga), "ACK segment is a candidate");
	cwg_gro_start(&g, a, &ga);
	mk_tcp(b, &lb, 2000, 8, 0x10, 1000);
	ok(cwg_gro_parse(b, lb, &gb) &&
		   cwg_gro_check(&g, b, &gb) == CWG_GRO_APPEND,
	   "next in order appends");
	mk_tcp(b, &lb, 2001, 8, 0x10, 1000);
	cwg_gro_parse(b, lb, &gb);
	ok(cwg_gro_check(&g, b, &gb) == CWG_GRO_FLUSH, "a gap flushes");
	mk_tcp(b, &lb, 2000, 9, 0x10, 1000);
	cwg_gro_parse(b, lb, &gb);
	ok(cwg_gro_check(&g, b, &gb) == CWG_GRO_FLUSH,
	   "an ID jump without DF flushes");
	mk_tcp(b, &lb, 2000, 8, 0x10, 1001);
	cwg_gro_parse(b, lb, &gb);
	ok(cwg_gro_check(&g, b, &gb) == CWG_GRO_FLUSH,
	   "a segment larger than the first flushes");
	mk_tcp(b, &lb, 2000, 8, 0x10, 1000);
	b[12 + 7] ^= 1; /* another destination */
	cwg_gro_parse(b, lb, &gb);
	ok(cwg_gro_check(&g, b, &gb) == CWG_GRO_OTHER_FLOW,
	   "another address is another flow");
	mk_tcp(b, &lb, 2000, 8, 0x10, 1000);
	b[20 + 14] ^= 1; /* window */
	cwg_gro_parse(b, lb, &gb);
	ok(cwg_gro_check(&g, b, &gb) == CWG_GRO_FLUSH,
	   "a different window flushes");
	mk_tcp(b, &lb, 2000, 8, 0x10, 1000);
	b[1] ^= 3; /* ECN CE */
	cwg_gro_parse(b, lb, &gb);
	ok(cwg_gro_check(&g, b, &gb) == CWG_GRO_FLUSH,
	   "a different TOS flushes");
	mk_tcp(b, &lb, 2000, 8, 0x12, 1000);
	ok(!cwg_gro_parse(b, lb, &gb), "SYN is no candidate");
	mk_tcp(b, &lb, 2000, 8, 0x11, 1000);
	ok(!cwg_gro_parse(b, lb, &gb), "FIN is no candidate");
	mk_tcp(b, &lb, 2000, 8, 0x10, 0);
	ok(!cwg_gro_parse(b, lb, &gb), "pure ACK is no candidate");
	mk_tcp(b, &lb, 2000, 8, 0x10, 100);
	ok(!cwg_gro_parse(b, lb - 1, &gb), "length disagreeing with IP total");
	mk_tcp(b, &lb, 2000, 8, 0x10, 500);
	cwg_gro_parse(b, lb, &gb);
	cwg_gro_append(&g, &gb);
	mk_tcp(b, &lb, 2500, 9, 0x10, 500);
	cwg_gro_parse(b, lb, &gb);
	ok(cwg_gro_check(&g, b, &gb) == CWG_GRO_FLUSH,
	   "nothing follows a short segment");
}

/* ---- UDP coalescing ---- */

struct udp_spec {
	int fam;
	uint32_t ip_opts;
	uint32_t payload;
	uint16_t id;
	bool df;
};

/* Stores the 16-bit reference value v big-endian at p. */
static void put_ref(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/*
 * A datagram as the sender's stack makes it: lengths, IPv4 header
 * checksum and UDP checksum (0 sent as 0xffff) all computed by the
 * reference. Returns its length; *l4off gets the UDP header's offset.
 */
static uint32_t mk_udp(uint8_t *p, const struct udp_spec *u, uint32_t *l4off)
{
	struct spec s = { .fam = u->fam, .udp = true, .ip_opts = u->ip_opts,
			  .payload = u->payload, .mss = 1, .df = u->df };
	uint32_t hdr, len, c;

	len = build(p, &s, l4off, &hdr);
	if (u->fam == 4) {
		put_ref(p + 4, u->id);
		p[10] = p[11] = 0;
		put_ref(p + 10, ~ref_sum(p, *l4off, 0) & 0xffff);
	}
	put_ref(p + *l4off + 4, len - *l4off);
	p[*l4off + 6] = p[*l4off + 7] = 0;
	c = ~ref_sum(p + *l4off, len - *l4off,
		     ref_pseudo(u->fam, p, 17, len - *l4off)) & 0xffff;
	put_ref(p + *l4off + 6, c ? c : 0xffff);
	return len;
}

/* Rewrites the UDP checksum (and IPv4 header checksum) after an edit. */
static void udp_refix(uint8_t *p, int fam, uint32_t len)
{
	uint32_t l4off = fam == 4 ? (p[0] & 15) * 4u : 40, c;

	if (fam == 4) {
		p[10] = p[11] = 0;
		put_ref(p + 10, ~ref_sum(p, l4off, 0) & 0xffff);
	}
	p[l4off + 6] = p[l4off + 7] = 0;
	c = ~ref_sum(p + l4off, len - l4off,
		     ref_pseudo(fam, p, 17, len - l4off)) & 0xffff;
	put_ref(p + l4off + 6, c ? c : 0xffff);
}

static void test_udp_parse(void)
{
	static uint8_t p[2048];
	struct udp_spec u = { .fam = 4, .payload = 1000, .id = 5, .df = true };
	struct cwg_gro_info gi;
	uint32_t len, l4;

	len = mk_udp(p, &u, &l4);
	ok(cwg_gro_parse_udp(p, len, &gi) && gi.proto == 17 &&
		   gi.family == 4 && gi.l4_off == 20 && gi.hdr_len == 28 &&
		   gi.payload_len == 1000 && gi.df,
	   "UDP/IPv4 datagram is a candidate");
	ok(!cwg_gro_parse(p, len, &gi), "a UDP datagram is no TCP candidate");
	ok(!cwg_gro_parse_udp(p, len - 1, &gi) &&
		   !cwg_gro_parse_udp(p, len + 1, &gi),
	   "length disagreeing with IP total refused");
	p[6] |= 0x20; /* MF */
	udp_refix(p, 4, len);
	ok(!cwg_gro_parse_udp(p, len, &gi), "first fragment (MF) refused");
	p[6] = 0x40;
	p[7] = 0x10; /* offset 128 */
	udp_refix(p, 4, len);
	ok(!cwg_gro_parse_udp(p, len, &gi), "later fragment refused");
	len = mk_udp(p, &u, &l4);
	p[l4 + 5] ^= 1;
	udp_refix(p, 4, len);
	ok(!cwg_gro_parse_udp(p, len, &gi),
	   "UDP length disagreeing with IP's refused");
	len = mk_udp(p, &u, &l4);
	p[l4 + 6] = p[l4 + 7] = 0;
	ok(!cwg_gro_parse_udp(p, len, &gi), "zero (no) checksum refused");
	len = mk_udp(p, &u, &l4);
	p[l4 + 7] ^= 1;
	ok(!cwg_gro_parse_udp(p, len, &gi), "bad UDP checksum refused");
	len = mk_udp(p, &u, &l4);
	p[l4 + 8] ^= 0x40;
	ok(!cwg_gro_parse_udp(p, len, &gi), "damaged payload refused");
	len = mk_udp(p, &u, &l4);
	p[11] ^= 1;
	ok(!cwg_gro_parse_udp(p, len, &gi), "bad IPv4 header checksum refused");
	u.payload = 0;
	len = mk_udp(p, &u, &l4);
	ok(len == 28 && !cwg_gro_parse_udp(p, len, &gi),
	   "datagram without payload refused");
	ok(!cwg_gro_parse_udp(p, 27, &gi), "shorter than IPv4 + UDP refused");
	u.payload = 1;
	u.ip_opts = 8;
	len = mk_udp(p, &u, &l4);
	ok(cwg_gro_parse_udp(p, len, &gi) && gi.l4_off == 28 &&
		   gi.payload_len == 1,
	   "IPv4 options and a 1-byte payload accepted");
	u.ip_opts = 0;
	p[0] = 0x44; /* IHL 16 bytes */
	ok(!cwg_gro_parse_udp(p, len, &gi), "IHL below 20 refused");

	u.fam = 6;
	u.payload = 1200;
	len = mk_udp(p, &u, &l4);
	ok(cwg_gro_parse_udp(p, len, &gi) && gi.family == 6 &&
		   gi.l4_off == 40 && gi.payload_len == 1200,
	   "UDP/IPv6 datagram is a candidate");
	p[5] ^= 1;
	ok(!cwg_gro_parse_udp(p, len, &gi), "bad IPv6 payload length refused");
	p[5] ^= 1;
	p[6] = 0; /* hop-by-hop options first */
	ok(!cwg_gro_parse_udp(p, len, &gi), "IPv6 extension header refused");
	p[6] = 44; /* fragment header */
	ok(!cwg_gro_parse_udp(p, len, &gi), "IPv6 fragment header refused");
	len = mk_udp(p, &u, &l4);
	p[l4 + 6] = p[l4 + 7] = 0;
	ok(!cwg_gro_parse_udp(p, len, &gi), "IPv6 zero checksum refused");
	u.payload = 0;
	len = mk_udp(p, &u, &l4);
	ok(!cwg_gro_parse_udp(p, len, &gi), "IPv6 without payload refused");
	{
		struct spec t = { .fam = 4, .payload = 100, .mss = 1000,
				  .flags = 0x10 };
		uint32_t hdr;

		len = build(p, &t, &l4, &hdr);
		ok(!cwg_gro_parse_udp(p, len, &gi),
		   "a TCP segment is no UDP candidate");
	}
}

static uint8_t ua[2048], ub[2048];

/* ub as u with byte off (from the IP header; l4 adds the UDP header's
 * offset) XORed with mask and the checksums fixed, then its verdict
 * against g. */
static enum cwg_gro_verdict udp_try_flip(const struct cwg_gro_group *g,
					 const struct udp_spec *u,
					 struct cwg_gro_info *gi, bool l4,
					 uint32_t off, uint8_t mask)
{
	uint32_t l4off, len = mk_udp(ub, u, &l4off);

	if (mask) {
		ub[(l4 ? l4off : 0) + off] ^= mask;
		udp_refix(ub, u->fam, len);
	}
	if (!cwg_gro_parse_udp(ub, len, gi))
		return (enum cwg_gro_verdict)-1;
	return cwg_gro_check(g, ub, gi);
}

/* A group g started by ua, built as u. */
static void udp_start(struct cwg_gro_group *g, const struct udp_spec *u,
		      struct cwg_gro_info *gi)
{
	uint32_t l4, len = mk_udp(ua, u, &l4);

	cwg_gro_parse_udp(ua, len, gi);
	cwg_gro_start(g, ua, gi);
}

/* ub as u, then verdict against g. */
static enum cwg_gro_verdict udp_try(const struct cwg_gro_group *g,
				    const struct udp_spec *u,
				    struct cwg_gro_info *gi)
{
	return udp_try_flip(g, u, gi, false, 0, 0);
}

static void test_udp_grouping(void)
{
	struct udp_spec u = { .fam = 4, .payload = 1000, .id = 1, .df = true };
	struct cwg_gro_info ga, gb;
	struct cwg_gro_group g;
	uint32_t l4, n;
	enum cwg_gro_verdict v;

	udp_start(&g, &u, &ga);
	u.id = 2;
	ok(udp_try(&g, &u, &gb) == CWG_GRO_APPEND, "equal size appends");
	u.id = 77;
	ok(udp_try(&g, &u, &gb) == CWG_GRO_APPEND,
	   "an ID out of sequence still appends (as in the kernel)");
	u.payload = 1001;
	ok(udp_try(&g, &u, &gb) == CWG_GRO_FLUSH, "a larger one flushes");
	u.payload = 1000;
	u.df = false;
	ok(udp_try(&g, &u, &gb) == CWG_GRO_FLUSH, "a DF change flushes");
	u.df = true;
	ok(udp_try_flip(&g, &u, &gb, false, 8, 1) == CWG_GRO_FLUSH,
	   "a TTL change flushes");
	ok(udp_try_flip(&g, &u, &gb, false, 1, 3) == CWG_GRO_FLUSH,
	   "a TOS change flushes"); /* ECN CE */
	ok(udp_try_flip(&g, &u, &gb, true, 3, 1) == CWG_GRO_OTHER_FLOW,
	   "another port is another flow"); /* destination port */
	ok(udp_try_flip(&g, &u, &gb, false, 15, 1) == CWG_GRO_OTHER_FLOW,
	   "another address is another flow"); /* source address */
	{
		struct spec t = { .fam = 4, .payload = 1000, .mss = 1000,
				  .flags = 0x10 };
		struct cwg_gro_info gt;
		uint32_t hdr, lt;

		lt = build(ub, &t, &l4, &hdr); /* same addresses and ports */
		ok(cwg_gro_parse(ub, lt, &gt) &&
			   cwg_gro_check(&g, ub, &gt) == CWG_GRO_OTHER_FLOW,
		   "TCP with the same addresses and ports is another flow");
	}
	u.ip_opts = 4;
	ok(udp_try(&g, &u, &gb) == CWG_GRO_FLUSH,
	   "different IPv4 options flush");
	u.ip_opts = 0;

	/* A shorter one is the last; anything after it starts anew. */
	u.payload = 400;
	v = udp_try(&g, &u, &gb);
	if (v == CWG_GRO_APPEND)
		cwg_gro_append(&g, &gb);
	ok(v == CWG_GRO_APPEND && g.closed && g.count == 2,
	   "a shorter one appends and closes the group");
	ok(udp_try(&g, &u, &gb) == CWG_GRO_FLUSH,
	   "nothing follows a short one, even of its size");
	u.payload = 1000;
	ok(udp_try(&g, &u, &gb) == CWG_GRO_FLUSH,
	   "nor a full-size one");
	u.payload = 1200;
	v = udp_try(&g, &u, &gb);
	cwg_gro_start(&g, ub, &gb);
	memcpy(ua, ub, sizeof(ua));
	g.head = ua;
	ok(v == CWG_GRO_FLUSH && udp_try(&g, &u, &gb) == CWG_GRO_APPEND,
	   "a bigger one after a short one starts a group of its own");

	/* The caps: 64 datagrams, 65535 bytes. */
	u.payload = 100;
	udp_start(&g, &u, &ga);
	while ((v = udp_try(&g, &u, &gb)) == CWG_GRO_APPEND && g.count < 1000)
		cwg_gro_append(&g, &gb);
	ok(v == CWG_GRO_FLUSH && g.count == CWG_OFFLOAD_MAX_SEGS,
	   "64 datagrams at most (got %u)", g.count);
	u.payload = 1472;
	udp_start(&g, &u, &ga);
	while ((v = udp_try(&g, &u, &gb)) == CWG_GRO_APPEND && g.count < 1000)
		cwg_gro_append(&g, &gb);
	n = (65535 - 28) / 1472;
	ok(v == CWG_GRO_FLUSH && g.count == n &&
		   28 + g.payload <= 65535 && 28 + g.payload + 1472 > 65535,
	   "65535 bytes at most (%u datagrams of 1472, want %u)", g.count,
	   n);

	/* IPv6: the flow label and hop limit must match. */
	u = (struct udp_spec){ .fam = 6, .payload = 1000 };
	udp_start(&g, &u, &ga);
	ok(udp_try(&g, &u, &gb) == CWG_GRO_APPEND, "IPv6: equal size appends");
	ok(udp_try_flip(&g, &u, &gb, false, 3, 1) == CWG_GRO_FLUSH,
	   "IPv6: a flow label change flushes");
	ok(udp_try_flip(&g, &u, &gb, false, 7, 1) == CWG_GRO_FLUSH,
	   "IPv6: a hop limit change flushes");
	u.fam = 4;
	ok(udp_try(&g, &u, &gb) == CWG_GRO_OTHER_FLOW,
	   "IPv4 after IPv6 is another flow");
}

static uint8_t dgram[CWG_OFFLOAD_MAX_SEGS][2048];
static uint8_t orig[CWG_OFFLOAD_MAX_SEGS][2048];

/*
 * n datagrams of one flow, of mss bytes of payload but the last of
 * last bytes, coalesced, then cut up again by cwg_offload_segment: each
 * must come back as it was, byte for byte. Returns test failures.
 */
static int udp_round_trip(int fam, uint32_t ip_opts, bool df, uint32_t mss,
			  uint32_t n, uint32_t last, const char *what)
{
	uint8_t *outs[CWG_OFFLOAD_MAX_SEGS];
	uint32_t lens[CWG_OFFLOAD_MAX_SEGS], dlen[CWG_OFFLOAD_MAX_SEGS];
	uint32_t l4, off, tl, bad = 0, badsum = 0;
	struct cwg_gro_group g;
	struct cwg_gro_info gi;
	struct cwg_vnet_hdr vh;
	int r, fails = 0;

	for (uint32_t i = 0; i < n; i++) {
		struct udp_spec u = { .fam = fam, .ip_opts = ip_opts,
				      .payload = i + 1 < n ? mss : last,
				      .id = (uint16_t)(0xfff0 + i), .df = df };

		dlen[i] = mk_udp(dgram[i], &u, &l4);
		memcpy(orig[i], dgram[i], dlen[i]);
		if (!cwg_gro_parse_udp(dgram[i], dlen[i], &gi)) {
			bad++;
			continue;
		}
		if (!i) {
			cwg_gro_start(&g, dgram[i], &gi);
		} else if (cwg_gro_check(&g, dgram[i], &gi) == CWG_GRO_APPEND) {
			cwg_gro_append(&g, &gi);
		} else {
			bad++;
		}
	}
	if (!ok(!bad && g.count == n, "%s: %u datagrams coalesce into one",
		what, n))
		return 1;
	cwg_gro_finish(&g, &vh);
	memcpy(rebuilt, dgram[0], dlen[0]);
	off = dlen[0];
	for (uint32_t i = 1; i < n; i++) {
		memcpy(rebuilt + off, dgram[i] + l4 + 8, dlen[i] - l4 - 8);
		off += dlen[i] - l4 - 8;
	}
	tl = fam == 4 ? (uint32_t)(rebuilt[2] << 8 | rebuilt[3]) :
			40u + (uint32_t)(rebuilt[4] << 8 | rebuilt[5]);
	fails += !ok(tl == off && off <= 65535 &&
			     (fam == 6 || ref_ip4_ok(rebuilt)) &&
			     (uint32_t)(rebuilt[l4 + 4] << 8 |
					rebuilt[l4 + 5]) == off - l4,
		     "%s: IP length %u, IP header checksum, UDP length", what,
		     tl);
	fails += !ok((uint32_t)(rebuilt[l4 + 6] << 8 | rebuilt[l4 + 7]) ==
			     ref_pseudo(fam, rebuilt, 17, off - l4),
		     "%s: UDP field holds the pseudo-header sum", what);
	fails += !ok(vh.flags == CWG_VNET_F_NEEDS_CSUM &&
			     vh.gso_type == CWG_VNET_GSO_UDP_L4 &&
			     vh.gso_size == mss && vh.hdr_len == l4 + 8 &&
			     vh.csum_start == l4 && vh.csum_offset == 6,
		     "%s: virtio header", what);
	for (int i = 0; i < CWG_OFFLOAD_MAX_SEGS; i++)
		outs[i] = segbuf[i];
	r = cwg_offload_segment(&vh, rebuilt, off, outs, sizeof(segbuf[0]),
				lens, CWG_OFFLOAD_MAX_SEGS);
	if (!ok(r == (int)n, "%s: segments back into %u (got %d)", what, n,
		r))
		return fails + 1;
	bad = 0;
	for (uint32_t i = 0; i < n; i++) {
		if (lens[i] != dlen[i] || memcmp(outs[i], orig[i], dlen[i]))
			bad++;
		if (!ref_l4_ok(fam, outs[i], l4, lens[i], 17) ||
		    (fam == 4 && !ref_ip4_ok(outs[i])))
			badsum++;
	}
	fails += !ok(!bad, "%s: every datagram byte for byte (%u differ)",
		     what, bad);
	fails += !ok(!badsum, "%s: every checksum verifies (%u bad)", what,
		     badsum);
	return fails;
}

static void test_udp_round_trips(void)
{
	udp_round_trip(4, 0, true, 1392, 7, 1392, "UDP v4 7 x 1392");
	udp_round_trip(4, 0, false, 1392, 7, 5, "UDP v4 short last, no DF");
	udp_round_trip(4, 8, true, 1000, 3, 999, "UDP v4 IP options");
	udp_round_trip(6, 0, false, 1372, 2, 1, "UDP v6 2, last 1 byte");
	udp_round_trip(6, 0, false, 100, 64, 100, "UDP v6 64 datagrams");
	udp_round_trip(4, 0, true, 1472, 44, 1000, "UDP v4 near 65535");
}

static void test_udp_random(uint64_t seed)
{
	int fails = 0, runs = 200;

	diag("random UDP coalescing round trips: seed %llu",
	     (unsigned long long)seed);
	rng_state = seed;
	for (int i = 0; i < runs; i++) {
		int fam = rnd() & 1 ? 4 : 6;
		uint32_t opts = fam == 4 ? (rnd() % 3) * 4 : 0;
		uint32_t hdr = (fam == 4 ? 28 : 48) + opts;
		uint32_t mss = 1 + rnd() % (1500 - hdr);
		uint32_t n = 2 + rnd() % (CWG_OFFLOAD_MAX_SEGS - 1);
		uint32_t last = rnd() & 1 ? mss : 1 + rnd() % mss;
		char what[96];
		int before = tap_failed;

		while (n > 2 && hdr + (n - 1) * mss + last > 65535)
			n--;
		snprintf(what, sizeof(what),
			 "UDP random #%d v%d mss %u n %u last %u", i, fam, mss,
			 n, last);
		fails += udp_round_trip(fam, opts, rnd() & 1, mss, n, last,
					what);
		fails += tap_failed != before;
	}
	ok(!fails, "%d random UDP round trips (seed %llu)", runs,
	   (unsigned long long)seed);
}

static void test_malformed(void)
{
	uint8_t *outs[CWG_OFFLOAD_MAX_SEGS];
	uint32_t lens[CWG_OFFLOAD_MAX_SEGS], l4, hdr, len;
	struct spec s = { .fam = 4, .payload = 3000, .mss = 1000,
			  .flags = 0x10 };
	struct cwg_vnet_hdr h = { .gso_type = CWG_VNET_GSO_TCPV4,
				  .gso_size = 1000 };

	for (int i = 0; i < CWG_OFFLOAD_MAX_SEGS; i++)
		outs[i] = segbuf[i];
	len = build(super, &s, &l4, &hdr);
	ok(cwg_offload_segment(&h, super, 30, outs, 2048, lens, 64) == -EINVAL,
	   "truncated TCP header refused");
	h.gso_type = CWG_VNET_GSO_TCPV6;
	ok(cwg_offload_segment(&h, super, len, outs, 2048, lens, 64) == -EINVAL,
	   "TCPV6 on an IPv4 packet refused");
	h.gso_type = CWG_VNET_GSO_TCPV4;
	h.gso_size = 0;
	ok(cwg_offload_segment(&h, super, len, outs, 2048, lens, 64) == -EINVAL,
	   "gso_size 0 refused");
	h.gso_size = 1000;
	ok(cwg_offload_segment(&h, super, len, outs, 2048, lens, 2) == -ENOSPC,
	   "too few slots: -ENOSPC");
	ok(cwg_offload_segment(&h, super, len, outs, 500, lens, 64) == -ENOSPC,
	   "too small slots: -ENOSPC");
	h.gso_size = 40;
	ok(cwg_offload_segment_count(&h, super, len) == -E2BIG,
	   "more than 64 segments: -E2BIG");
	super[6] = 0x20; /* MF */
	h.gso_size = 1000;
	ok(cwg_offload_segment(&h, super, len, outs, 2048, lens, 64) == -EINVAL,
	   "fragment refused");
	{
		struct cwg_vnet_hdr c = { .flags = CWG_VNET_F_NEEDS_CSUM,
					  .csum_start = 20, .csum_offset = 16 };

		ok(cwg_offload_finish_csum(&c, super, 37) == -EINVAL,
		   "checksum field past the end refused");
	}
}

/* mine (native order, folded) against the big-endian reference sum;
 * 0 and 0xffff are the same number in one's complement. */
static bool csum_matches(uint16_t mine, uint32_t ref)
{
	uint8_t be[2] = { (uint8_t)(ref >> 8), (uint8_t)ref };

	return !memcmp(&mine, be, 2) || (ref == 0xffff && mine == 0) ||
	       (ref == 0 && mine == 0xffff);
}

static void test_csum(void)
{
	uint8_t buf[1 + 1501];
	bool good = true, carries = true, chained = true;

	/* Every length, from an odd address too, over random bytes. */
	for (size_t n = 0; n <= 1501; n++) {
		uint8_t *b = buf + (n & 1);

		for (size_t i = 0; i < n; i++)
			b[i] = (uint8_t)rnd();
		if (!csum_matches(cwg_csum_fold(cwg_csum_partial(b, n, 0)),
				  ref_sum(b, n, 0)))
			good = false;
	}
	ok(good, "cwg_csum_partial agrees with the reference at all lengths");

	/* All ones: every add carries, where end-around carry goes wrong. */
	memset(buf, 0xff, sizeof(buf));
	for (size_t n = 0; n <= 1501; n += 1 + n / 5)
		if (!csum_matches(cwg_csum_fold(cwg_csum_partial(buf, n, 0)),
				  ref_sum(buf, n, 0)))
			carries = false;
	ok(carries, "and over all-ones data (every addition carries)");

	/* A running sum carried from one call into the next, as the
	 * pseudo-header's is, including sums near the top of 64 bits. */
	for (int i = 0; i < 200; i++) {
		size_t n = (size_t)(rnd() % 1501), cut = n ? rnd() % n : 0;
		uint64_t start = i < 3 ? ~(uint64_t)i : ((uint64_t)rnd() << 32 |
							 rnd());
		uint64_t sum;

		for (size_t k = 0; k < n; k++)
			buf[k] = (uint8_t)rnd();
		cut &= ~(size_t)1; /* a split mid-word changes the sum */
		sum = cwg_csum_partial(buf, cut, start);
		sum = cwg_csum_partial(buf + cut, n - cut, sum);
		if (cwg_csum_fold(sum) !=
		    cwg_csum_fold(cwg_csum_partial(buf, n, start)))
			chained = false;
	}
	ok(chained, "a sum split across calls equals the sum in one call");
}

static void test_parse_disable(void)
{
	unsigned bad;

	ok(cwg_offload_parse_disable(NULL, &bad) == 0 && !bad, "NULL is none");
	ok(cwg_offload_parse_disable("tso,udp_gro", &bad) ==
		   (CWG_OFFLOAD_TSO | CWG_OFFLOAD_UDP_GRO) && !bad,
	   "tso,udp_gro");
	ok(cwg_offload_parse_disable(" uso, bogus,,tun_vnet", &bad) ==
		   (CWG_OFFLOAD_USO | CWG_OFFLOAD_TUN_VNET) && bad == 1,
	   "spaces, empty items, one unknown name counted");
	ok(cwg_offload_parse_disable("all", NULL) == 0x1f, "all");
	ok(cwg_offload_parse_disable("tsox", &bad) == 0 && bad == 1,
	   "prefixes do not match");
}

int main(void)
{
	uint64_t seed = 20240611;

	rng_state = seed;
	test_csum();
	test_parse_disable();
	test_edges();
	test_gro_refusals();
	test_malformed();
	test_random(seed);
	test_udp_parse();
	test_udp_grouping();
	test_udp_round_trips();
	test_udp_random(seed);
	return done_testing();
}
