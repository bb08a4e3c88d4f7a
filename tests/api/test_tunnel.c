/* SPDX-License-Identifier: MIT */
/*
 * libcwg's public API as an outside program sees it: built with nothing
 * but `pkg-config --cflags --libs cwg` against an installed tree (make
 * api-check), linked against libcwg.so. TAP output.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cwg/tunnel.h>
#include <cwg/uapi.h>

static int tests, failed;

static void ok(int cond, const char *what)
{
	tests++;
	if (!cond)
		failed++;
	printf("%sok %d - %s\n", cond ? "" : "not ", tests, what);
}

#define SEC 1000000000ULL

struct side {
	struct cwg_tunnel *t;
	struct cwg_endpoint addr;
	uint8_t priv[32], pub[32];
	int delivered, sent;
	uint8_t last[2048]; /* the last datagram it sent */
	size_t last_len;
};

static uint64_t now = 1000 * SEC;

/* Deliver one result of `from` to `to` (datagrams) or count it, then
 * everything queued behind it; returns how many datagrams moved. */
static int settle(struct side *from, struct side *to, int r,
		  struct cwg_tunnel_out *o)
{
	uint8_t buf[2048];
	struct cwg_tunnel_out next = { .data = buf, .cap = sizeof(buf) };
	int moved = 0;

	while (r != CWG_TUNNEL_DONE && r >= 0) {
		if (r == CWG_TUNNEL_NETWORK) {
			from->sent++;
			memcpy(from->last, o->data, o->len);
			from->last_len = o->len;
			moved++;
			moved += settle(to, from,
					cwg_tunnel_decapsulate(to->t, &from->addr,
							       o->data, o->len,
							       now, &next),
					&next);
		} else if (r == CWG_TUNNEL_TUNNEL) {
			from->delivered++;
		}
		r = cwg_tunnel_poll(from->t, o);
	}
	return moved;
}

static size_t ip4(uint8_t *p, uint8_t src, uint8_t dst, size_t payload)
{
	size_t len = 20 + payload;

	memset(p, 0, len);
	p[0] = 0x45;
	p[2] = (uint8_t)(len >> 8);
	p[3] = (uint8_t)len;
	p[8] = 64;
	p[9] = 17;
	p[12] = 10, p[15] = src;
	p[16] = 10, p[19] = dst;
	return len;
}

static void side_init(struct side *s, uint8_t last)
{
	memset(s, 0, sizeof(*s));
	cwg_key_generate(s->priv);
	cwg_key_public(s->pub, s->priv);
	s->addr.family = 4;
	s->addr.port = 51820;
	s->addr.addr[0] = 192, s->addr.addr[2] = 2, s->addr.addr[3] = last;
}

static void test_tunnel(void)
{
	struct side a, b;
	struct cwg_tunnel_config ca = { 0 }, cb = { 0 };
	uint8_t pkt[1500], buf[2048], tiny[8];
	struct cwg_tunnel_out o = { .data = buf, .cap = sizeof(buf) };
	struct cwg_tunnel_out small = { .data = tiny, .cap = sizeof(tiny) };
	struct cwg_tunnel_stats st;
	int r;

	side_init(&a, 1);
	side_init(&b, 2);
	ca.private_key = a.priv, ca.peer_public_key = b.pub;
	ca.endpoint = &b.addr;
	cb.private_key = b.priv, cb.peer_public_key = a.pub;
	ok(cwg_tunnel_new(&ca, &a.t) == 0 && cwg_tunnel_new(&cb, &b.t) == 0,
	   "two tunnels, one knowing where the other is");

	r = cwg_tunnel_encapsulate(a.t, pkt, ip4(pkt, 1, 2, 100), now, &o);
	ok(r == CWG_TUNNEL_NETWORK && o.len == CWG_MSG_INITIATION_LEN &&
		   o.ep.family == 4 && o.ep.addr[3] == 2,
	   "A's first packet starts a handshake: a 148-byte initiation to B");
	settle(&a, &b, r, &o);
	ok(b.delivered == 1, "B delivers A's packet once the handshake is done");
	cwg_tunnel_get_stats(a.t, &st);
	ok(st.device.handshakes_completed == 1 && st.last_handshake_wall_ns,
	   "A counts one handshake");

	r = cwg_tunnel_encapsulate(b.t, pkt, ip4(pkt, 2, 1, 1000), now, &o);
	ok(r == CWG_TUNNEL_NETWORK && o.len == 16 + 1024 + 16,
	   "B's answer is one data datagram, padded to 16");
	settle(&b, &a, r, &o);
	ok(a.delivered == 1, "A delivers B's packet");

	r = cwg_tunnel_encapsulate(a.t, pkt, ip4(pkt, 1, 2, 100), now, &small);
	ok(r == -CWG_ENOSPC, "a buffer too small: -ENOSPC");
	r = cwg_tunnel_poll(a.t, &o);
	ok(r == CWG_TUNNEL_NETWORK && o.len == 16 + 128 + 16,
	   "and the datagram waits for a bigger one");
	settle(&a, &b, r, &o);
	ok(b.delivered == 2, "which B delivers");

	r = cwg_tunnel_decapsulate(b.t, &a.addr, a.last, a.last_len, now, &o);
	ok(r == CWG_TUNNEL_DROPPED && o.drop == CWG_DROP_REPLAYED_COUNTER,
	   "a replayed datagram is dropped as replayed_counter");
	r = cwg_tunnel_decapsulate(b.t, &a.addr, (const uint8_t *)"junk", 4,
				   now, &o);
	ok(r == CWG_TUNNEL_DROPPED && o.drop == CWG_DROP_UNKNOWN_TYPE &&
		   !strcmp(cwg_drop_names[o.drop], "unknown_type"),
	   "garbage is dropped as unknown_type");
	r = cwg_tunnel_encapsulate(a.t, (const uint8_t *)"not ip", 6, now, &o);
	ok(r == CWG_TUNNEL_DROPPED && o.drop == CWG_DROP_BAD_INNER,
	   "a packet that is not IP is dropped as bad_inner");

	/* Time: B heard data and sent none; after 10 s its passive
	 * keepalive is due. */
	now += 11 * SEC;
	r = cwg_tunnel_update_timers(b.t, now, &o);
	ok(r == CWG_TUNNEL_NETWORK && o.len == 32,
	   "B's timers send a 32-byte keepalive after 10 s of silence");
	settle(&b, &a, r, &o);

	cwg_tunnel_free(a.t);
	cwg_tunnel_free(b.t);
}

static void test_tunnel_errors(void)
{
	struct cwg_tunnel_config c = { 0 };
	struct cwg_tunnel *t = NULL;
	uint8_t k[32], p[32];

	ok(cwg_tunnel_new(&c, &t) == -CWG_EINVAL && !t,
	   "no keys: -EINVAL");
	cwg_key_generate(k);
	cwg_key_public(p, k);
	c.private_key = k, c.peer_public_key = p;
	ok(cwg_tunnel_new(&c, &t) == -CWG_EINVAL && !t,
	   "the peer's key equal to our own: -EINVAL");
	cwg_tunnel_free(NULL);
}

/* Keys in wg's text form. */
static void test_base64(void)
{
	uint8_t k[32], back[32], zero[32] = { 0 };
	char text[CWG_KEY_B64_LEN + 1];
	const char *zeros = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

	cwg_key_generate(k);
	cwg_key_to_base64(text, k);
	ok(strlen(text) == 44 && text[43] == '=' &&
		   cwg_key_from_base64(back, text) == 0 && !memcmp(k, back, 32),
	   "a key survives base64 and back");
	cwg_key_to_base64(text, zero);
	ok(!strcmp(text, zeros), "32 zero bytes are 43 A's and '='");
	memcpy(back, k, 32);
	ok(cwg_key_from_base64(back, "AAAA") == -CWG_EINVAL &&
		   cwg_key_from_base64(back, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB=") == -CWG_EINVAL &&
		   cwg_key_from_base64(back, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA*=") == -CWG_EINVAL &&
		   cwg_key_from_base64(back, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=x") == -CWG_EINVAL &&
		   !memcmp(k, back, 32),
	   "short, padding bits set, a bad character, trailing junk: "
	   "-EINVAL and the key untouched");
}

/* The text protocol `wg` speaks, on a device of the device API. */
static void test_uapi(void)
{
	struct cwg_device *dev = cwg_device_new(NULL, NULL);
	struct cwg_uapi_buf out = { 0 };
	const char *set = "set=1\n"
			  "private_key=e84b5a6d2717c1003a13b431570353dbaca9146cf150c5f8575680feba52027a\n"
			  "public_key=b85996fecc9c7f1fc6d2572a76eda11d59bcd20be8e543b15ce4bd85a8e75a33\n"
			  "endpoint=192.0.2.7:51820\n"
			  "allowed_ip=10.0.0.0/24\n\n";
	const char *bad = "set=1\npublic_key=zz\n\n";

	ok(dev != NULL, "a device");
	ok(cwg_uapi_request(dev, NULL, set, strlen(set), &out) == 0 &&
		   strstr(out.data, "errno=0\n"),
	   "set=1 with a key, a peer, an endpoint and a prefix: errno=0");
	out.len = 0;
	ok(cwg_uapi_request(dev, NULL, "get=1\n\n", 7, &out) == 0 &&
		   strstr(out.data, "endpoint=192.0.2.7:51820\n") &&
		   strstr(out.data, "allowed_ip=10.0.0.0/24\n") &&
		   strstr(out.data, "errno=0\n"),
	   "get=1 reads it back");
	out.len = 0;
	ok(cwg_uapi_request(dev, NULL, bad, strlen(bad), &out) == 0 &&
		   strstr(out.data, "errno=-22\n"),
	   "a malformed key: errno=-22 (EINVAL)");
	ok(cwg_device_peer_count(dev) == 1, "and the configuration is as it was");
	cwg_uapi_buf_free(&out);
	cwg_device_free(dev);
}

int main(void)
{
	if (cwg_init()) {
		printf("1..0 # SKIP cwg_init failed\n");
		return 0;
	}
	test_tunnel();
	test_tunnel_errors();
	test_base64();
	test_uapi();
	cwg_thread_cleanup();
	printf("1..%d\n", tests);
	return failed ? 1 : 0;
}
