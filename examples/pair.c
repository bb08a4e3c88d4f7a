/* SPDX-License-Identifier: MIT */
/*
 * Two WireGuard tunnels talking in memory: a handshake and one packet
 * each way, with nothing but libcwg's single-tunnel API.
 *
 *   cc pair.c $(pkg-config --cflags --libs cwg) -o pair && ./pair
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cwg/tunnel.h>

struct side {
	const char *name;
	struct cwg_tunnel *t;
	struct cwg_endpoint addr;
	int delivered;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Act on one result, and on everything queued behind it. A datagram for
 * the other side is handed to it at once, as a perfect network would. */
static void handle(struct side *me, struct side *other, int r,
		   struct cwg_tunnel_out *out)
{
	uint8_t buf[2048];
	struct cwg_tunnel_out next = { .data = buf, .cap = sizeof(buf) };

	for (;;) {
		if (r == CWG_TUNNEL_NETWORK) {
			printf("%s -> %s: %zu-byte datagram\n", me->name,
			       other->name, out->len);
			handle(other, me,
			       cwg_tunnel_decapsulate(other->t, &me->addr,
						      out->data, out->len,
						      now_ns(), &next),
			       &next);
		} else if (r == CWG_TUNNEL_TUNNEL) {
			printf("%s delivers \"%s\"\n", me->name,
			       (const char *)out->data + 20);
			me->delivered++;
		} else if (r == CWG_TUNNEL_DROPPED) {
			printf("%s dropped a packet: %s\n", me->name,
			       cwg_drop_names[out->drop]);
		} else if (r < 0) {
			printf("%s: error %d\n", me->name, r);
		}
		r = cwg_tunnel_poll(me->t, out);
		if (r == CWG_TUNNEL_DONE)
			return;
	}
}

/* A minimal IPv4 packet from src to dst carrying text. */
static size_t ip_packet(uint8_t *p, uint8_t src, uint8_t dst,
			const char *text)
{
	size_t len = 20 + strlen(text) + 1;

	memset(p, 0, 20);
	p[0] = 0x45;
	p[2] = (uint8_t)(len >> 8);
	p[3] = (uint8_t)len;
	p[8] = 64;
	p[9] = 253; /* experimental protocol */
	p[12] = 10, p[15] = src;
	p[16] = 10, p[19] = dst;
	memcpy(p + 20, text, len - 20);
	return len;
}

int main(void)
{
	uint8_t ka[32], kb[32], pa[32], pb[32], buf[2048], pkt[256];
	struct cwg_tunnel_out out = { .data = buf, .cap = sizeof(buf) };
	struct side a = { .name = "A" }, b = { .name = "B" };
	struct cwg_tunnel_config ca = { 0 }, cb = { 0 };

	if (cwg_init())
		return 1;
	cwg_key_generate(ka);
	cwg_key_generate(kb);
	cwg_key_public(pa, ka);
	cwg_key_public(pb, kb);
	a.addr = (struct cwg_endpoint){ .family = 4, .port = 51820,
					.addr = { 192, 0, 2, 1 } };
	b.addr = (struct cwg_endpoint){ .family = 4, .port = 51820,
					.addr = { 192, 0, 2, 2 } };
	ca.private_key = ka, ca.peer_public_key = pb, ca.endpoint = &b.addr;
	cb.private_key = kb, cb.peer_public_key = pa; /* learns A's address */
	if (cwg_tunnel_new(&ca, &a.t) || cwg_tunnel_new(&cb, &b.t))
		return 1;

	/* A's first packet starts the handshake; it waits for the session
	 * and goes as soon as the handshake completes. */
	handle(&a, &b,
	       cwg_tunnel_encapsulate(a.t, pkt, ip_packet(pkt, 1, 2, "hi B"),
				      now_ns(), &out),
	       &out);
	handle(&b, &a,
	       cwg_tunnel_encapsulate(b.t, pkt, ip_packet(pkt, 2, 1, "hi A"),
				      now_ns(), &out),
	       &out);

	cwg_wipe(ka, sizeof(ka));
	cwg_wipe(kb, sizeof(kb));
	cwg_tunnel_free(a.t);
	cwg_tunnel_free(b.t);
	printf("%s\n", a.delivered == 1 && b.delivered == 1 ? "ok" : "FAILED");
	return a.delivered == 1 && b.delivered == 1 ? 0 : 1;
}
