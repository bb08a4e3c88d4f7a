/* SPDX-License-Identifier: MIT */
/*
 * Two core devices, a virtual clock and an in-memory wire: the protocol's
 * behaviour over time, deterministic for a given seed (CWG_SEED, printed).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/messages.h"
#include "core/peer.h"
#include "crypto/crypto.h"
#include "linux/pool.h"
#include "tap.h"
#include "../common/splitmix.h"

#define SEC 1000000000ULL
#define MS 1000000ULL

/* A seeded, reproducible stream per device. */
struct rng {
	uint64_t s;
};
static void rng_fill(void *ctx, uint8_t *buf, size_t len)
{
	struct rng *r = ctx;

	splitmix64_fill(&r->s, buf, len);
}

struct node {
	const char *name;
	struct cwg_device *dev;
	struct rng rng;
	struct cwg_endpoint addr; /* its outer address */
	uint8_t inner[4];	  /* its tunnel address */
	struct cwg_peer *peer;	  /* its one peer: the other node */
	struct cwg_pkt_list tun;  /* packets it delivered */
	struct cwg_pkt_list wire; /* datagrams it sent, not yet delivered */
};

static uint64_t now = 1000 * SEC;
static uint64_t seed = 0x5eed;

static void free_list(struct cwg_pkt_list *l)
{
	struct cwg_pkt *p;

	while ((p = cwg_pkt_list_pop(l)))
		cwg_pkt_free(p);
}

static void collect(struct node *n, struct cwg_out *out)
{
	struct cwg_pkt *p;

	while ((p = cwg_pkt_list_pop(&out->net)))
		cwg_pkt_list_append(&n->wire, p);
	while ((p = cwg_pkt_list_pop(&out->tun)))
		cwg_pkt_list_append(&n->tun, p);
}

static void node_init(struct node *n, const char *name, uint8_t last,
		      uint64_t s)
{
	memset(n, 0, sizeof(*n));
	n->name = name;
	n->rng.s = s;
	n->dev = cwg_device_new(rng_fill, &n->rng);
	n->addr.family = 4;
	n->addr.port = (uint16_t)(51820 + last);
	n->addr.addr[0] = 192;
	n->addr.addr[2] = 2;
	n->addr.addr[3] = last;
	n->inner[0] = 10;
	n->inner[3] = last;
	cwg_pkt_list_init(&n->tun);
	cwg_pkt_list_init(&n->wire);
}

static void node_free(struct node *n)
{
	free_list(&n->tun);
	free_list(&n->wire);
	cwg_device_free(n->dev);
}

/* Give each node a key and the other as its peer. */
static void pair(struct node *a, struct node *b, bool with_psk)
{
	uint8_t ka[32], kb[32], pa[32], pb[32], psk[32];
	struct node *n[2] = { a, b };
	int i;

	rng_fill(&a->rng, ka, 32);
	rng_fill(&b->rng, kb, 32);
	rng_fill(&a->rng, psk, 32);
	cwg_x25519_clamp(ka);
	cwg_x25519_clamp(kb);
	cwg_x25519_public(pa, ka);
	cwg_x25519_public(pb, kb);
	for (i = 0; i < 2; i++) {
		struct node *me = n[i], *other = n[1 - i];

		cwg_device_cfg_lock(me->dev);
		cwg_device_set_private_key(me->dev, i ? kb : ka);
		cwg_device_add_peer(me->dev, i ? pa : pb, &me->peer);
		cwg_peer_set_endpoint(me->peer, &other->addr);
		cwg_peer_add_allowed_ip(me->peer, 4, other->inner, 32);
		if (with_psk)
			cwg_peer_set_preshared_key(me->peer, psk);
		cwg_device_cfg_unlock(me->dev);
	}
}

/* An IPv4 packet from src to dst carrying a 32-bit sequence number. */
static struct cwg_pkt *ip_packet(const uint8_t src[4], const uint8_t dst[4],
				 uint32_t seq, uint32_t payload)
{
	struct cwg_pkt *p = cwg_pkt_alloc();
	uint8_t *d = p->data;
	uint32_t total = 20 + payload;

	memset(d, 0, total);
	d[0] = 0x45;
	d[2] = (uint8_t)(total >> 8);
	d[3] = (uint8_t)total;
	d[8] = 64;
	d[9] = 17;
	memcpy(d + 12, src, 4);
	memcpy(d + 16, dst, 4);
	if (payload >= 4)
		cwg_put_be32(d + 20, seq);
	p->len = total;
	return p;
}

static void send_from(struct node *n, const struct node *to, uint32_t seq)
{
	struct cwg_pkt_list in;
	struct cwg_out out;

	cwg_pkt_list_init(&in);
	cwg_out_init(&out);
	cwg_pkt_list_append(&in, ip_packet(n->inner, to->inner, seq, 100));
	cwg_device_send(n->dev, &in, now, &out);
	collect(n, &out);
}

static void tick(struct node *n)
{
	struct cwg_out out;

	cwg_out_init(&out);
	cwg_device_tick(n->dev, now, &out);
	collect(n, &out);
}

/* What a datagram is, for filters and counting. */
static uint32_t type_of(const struct cwg_pkt *p)
{
	return cwg_msg_type(p->data, p->len);
}

/* Deliver everything `from` has on its wire to `to`, as sent from
 * `src` (normally from->addr). filter may drop (return false). Returns
 * how many were delivered. */
typedef bool (*wire_filter)(const struct cwg_pkt *p, void *ctx);
static int deliver(struct node *from, struct node *to,
		   const struct cwg_endpoint *src, wire_filter f, void *ctx)
{
	struct cwg_pkt_list in;
	struct cwg_out out;
	struct cwg_pkt *p;
	int n = 0;

	cwg_pkt_list_init(&in);
	while ((p = cwg_pkt_list_pop(&from->wire))) {
		if (f && !f(p, ctx)) {
			cwg_pkt_free(p);
			continue;
		}
		p->ep = *src;
		cwg_pkt_list_append(&in, p);
		n++;
	}
	cwg_out_init(&out);
	cwg_device_receive(to->dev, &in, now, &out);
	collect(to, &out);
	return n;
}

/* Shuttle datagrams both ways until the wire is quiet. */
static void pump(struct node *a, struct node *b, wire_filter f, void *ctx)
{
	int rounds = 0;

	while ((a->wire.count || b->wire.count) && rounds++ < 20) {
		deliver(a, b, &a->addr, f, ctx);
		deliver(b, a, &b->addr, f, ctx);
	}
}

/* Advance the clock in steps, ticking both and pumping the wire. */
static void run(struct node *a, struct node *b, uint64_t dt, uint64_t step,
		wire_filter f, void *ctx)
{
	uint64_t end = now + dt;

	while (now < end) {
		now += step;
		if (now > end)
			now = end;
		tick(a);
		tick(b);
		pump(a, b, f, ctx);
	}
}

static uint32_t count_tun(struct node *n)
{
	uint32_t c = n->tun.count;

	free_list(&n->tun);
	return c;
}

static uint64_t drops(struct node *n, enum cwg_drop why)
{
	struct cwg_device_stats st;

	cwg_device_get_stats(n->dev, &st);
	return st.drops[why];
}

static struct cwg_device_stats stats(struct node *n)
{
	struct cwg_device_stats st;

	cwg_device_get_stats(n->dev, &st);
	return st;
}

static void setup(struct node *a, struct node *b, bool psk)
{
	node_init(a, "A", 1, seed * 2 + 1);
	node_init(b, "B", 2, seed * 2 + 2);
	pair(a, b, psk);
}

static void test_handshake_and_data(void)
{
	struct node a, b;
	uint32_t i;

	setup(&a, &b, true);
	send_from(&a, &b, 1);
	ok(a.wire.count == 1 && type_of(a.wire.head) == CWG_MSG_INITIATION &&
		   a.wire.head->len == CWG_MSG_INITIATION_LEN,
	   "first packet to a new peer sends a 148-byte initiation");
	pump(&a, &b, NULL, NULL);
	ok(stats(&a).handshakes_completed == 1 &&
		   stats(&b).handshakes_completed == 1,
	   "handshake completes on both sides");
	ok(count_tun(&b) == 1, "the staged packet arrives after the handshake");
	for (i = 0; i < 50; i++) {
		send_from(&a, &b, i);
		send_from(&b, &a, i);
	}
	pump(&a, &b, NULL, NULL);
	ok(count_tun(&b) == 50 && count_tun(&a) == 50,
	   "50 packets each way delivered");
	ok(b.peer->kp_current && a.peer->kp_current &&
		   !a.peer->kp_next && !b.peer->kp_next,
	   "responder promoted its next keypair on first data");
	{
		struct cwg_peer_info ia;
		cwg_device_cfg_rdlock(a.dev);
		cwg_peer_get_info(a.peer, &ia);
		cwg_device_cfg_unlock(a.dev);
		ok(ia.tx_bytes > 50 * 100 && ia.rx_bytes > 50 * 100 &&
			   ia.last_handshake_wall_ns != 0,
		   "transfer counters and handshake time are kept");
	}
	node_free(&a);
	node_free(&b);
}

static void test_rekey_no_loss(void)
{
	struct node a, b;
	uint32_t sent = 0, got_b = 0, got_a = 0;
	uint64_t hs0, end;

	setup(&a, &b, false);
	send_from(&a, &b, 0);
	pump(&a, &b, NULL, NULL);
	got_b += count_tun(&b);
	sent = 1;
	hs0 = stats(&a).handshakes_completed;
	end = now + 400 * SEC;
	while (now < end) {
		now += 250 * MS;
		send_from(&a, &b, sent);
		send_from(&b, &a, sent);
		sent++;
		tick(&a);
		tick(&b);
		pump(&a, &b, NULL, NULL);
		got_b += count_tun(&b);
		got_a += count_tun(&a);
	}
	ok(stats(&a).handshakes_completed + stats(&b).handshakes_completed -
			   2 * hs0 >= 6,
	   "sessions were renewed about every 120 s over 400 s (%llu handshakes)",
	   (unsigned long long)stats(&a).handshakes_completed);
	ok(got_b == sent && got_a == sent - 1,
	   "no packet lost across the rekeys (%u/%u and %u/%u)", got_b, sent,
	   got_a, sent - 1);
	node_free(&a);
	node_free(&b);
}

static int count_type(struct cwg_pkt_list *l, uint32_t type)
{
	struct cwg_pkt *p;
	int n = 0;

	for (p = l->head; p; p = p->next)
		n += type_of(p) == type;
	return n;
}

static void test_reject_after_time(void)
{
	struct node a, b;
	uint64_t start;
	int data_before, data_after;

	setup(&a, &b, false);
	send_from(&a, &b, 0);
	pump(&a, &b, NULL, NULL);
	start = now;
	/* From here no handshake message gets through. */
	now = start + 179 * SEC;
	tick(&a);
	free_list(&a.wire);
	send_from(&a, &b, 1);
	data_before = count_type(&a.wire, CWG_MSG_DATA);
	free_list(&a.wire);
	now = start + 181 * SEC;
	tick(&a);
	free_list(&a.wire);
	send_from(&a, &b, 2);
	data_after = count_type(&a.wire, CWG_MSG_DATA);
	ok(data_before == 1 && data_after == 0,
	   "data is sealed at 179 s but refused at 181 s without a new handshake");
	ok(a.peer->staged.count == 1, "the refused packet waits for a handshake");
	node_free(&a);
	node_free(&b);
}

static void test_keepalive(void)
{
	struct node a, b;
	int ka = 0;
	struct cwg_pkt *p;

	setup(&a, &b, false);
	send_from(&a, &b, 0);
	pump(&a, &b, NULL, NULL);
	count_tun(&b);
	/* A's keepalive confirmed the session; now A sends data, B is quiet. */
	send_from(&a, &b, 1);
	deliver(&a, &b, &a.addr, NULL, NULL);
	count_tun(&b);
	now += 9 * SEC;
	tick(&b);
	ok(b.wire.count == 0, "no keepalive 9 s after receiving");
	now += 1 * SEC + 1;
	tick(&b);
	for (p = b.wire.head; p; p = p->next)
		ka += type_of(p) == CWG_MSG_DATA && p->len == 32;
	ok(ka == 1, "a 32-byte keepalive 10 s after receiving without sending");
	node_free(&a);
	node_free(&b);
}

static void test_persistent_keepalive(void)
{
	struct node a, b;
	uint64_t t0;
	int at_once, later, none;

	setup(&a, &b, false);
	send_from(&a, &b, 0);
	pump(&a, &b, NULL, NULL);
	count_tun(&b);
	run(&a, &b, 30 * SEC, 100 * MS, NULL, NULL);
	cwg_device_cfg_lock(b.dev);
	cwg_peer_set_persistent_keepalive(b.peer, 25);
	cwg_device_cfg_unlock(b.dev);
	tick(&b);
	at_once = count_type(&b.wire, CWG_MSG_DATA);
	pump(&a, &b, NULL, NULL);
	t0 = now;
	now = t0 + 24 * SEC;
	tick(&b);
	none = b.wire.count;
	now = t0 + 25 * SEC;
	tick(&b);
	later = count_type(&b.wire, CWG_MSG_DATA);
	ok(at_once == 1, "turning persistent keepalive on sends one at once");
	ok(none == 0 && later == 1,
	   "then one every 25 s of silence (%d at 24 s, %d at 25 s)", none, later);
	node_free(&a);
	node_free(&b);
}

static void test_retries_and_give_up(void)
{
	struct node a, b;
	uint64_t times[64], t_start, lo = ~0ULL, hi = 0;
	int n = 0, i;

	setup(&a, &b, false);
	t_start = now;
	send_from(&a, &b, 0);
	while (now < t_start + 200 * SEC) {
		struct cwg_pkt *p;

		for (p = a.wire.head; p; p = p->next)
			if (type_of(p) == CWG_MSG_INITIATION && n < 64)
				times[n++] = now;
		free_list(&a.wire);
		now += 10 * MS;
		tick(&a);
	}
	for (i = 1; i < n; i++) {
		uint64_t d = times[i] - times[i - 1];
		lo = d < lo ? d : lo;
		hi = d > hi ? d : hi;
	}
	ok(n == 20, "20 initiations (1 + 19 retries) before giving up: %d", n);
	ok(lo >= 5 * SEC && hi <= 5 * SEC + 333 * MS + 10 * MS,
	   "retries every 5 s plus up to 333 ms jitter (%.3f..%.3f s)",
	   lo / 1e9, hi / 1e9);
	ok(times[n - 1] - times[0] <= 110 * SEC,
	   "given up within about 90 s of retrying");
	ok(a.peer->staged.count == 0 && drops(&a, CWG_DROP_NO_KEY) == 1,
	   "the waiting packet is dropped when giving up");
	send_from(&a, &b, 1);
	ok(count_type(&a.wire, CWG_MSG_INITIATION) == 1,
	   "new traffic starts a handshake again");
	node_free(&a);
	node_free(&b);
}

static bool all_zero(const void *p, size_t n)
{
	const uint8_t *b = p;
	size_t i;

	for (i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

static void test_zero_keys(void)
{
	struct node a, b;
	uint64_t t0;
	uint64_t wiped0;

	setup(&a, &b, false);
	send_from(&a, &b, 0);
	pump(&a, &b, NULL, NULL);
	t0 = now;
	wiped0 = stats(&a).keypairs_wiped;
	now = t0 + 539 * SEC;
	tick(&a);
	ok(a.peer->kp_current != NULL, "keys still held at 539 s");
	now = t0 + 540 * SEC;
	tick(&a);
	ok(!a.peer->kp_current && !a.peer->kp_previous && !a.peer->kp_next,
	   "keypair slots empty at 540 s");
	ok(stats(&a).keypairs_wiped == wiped0 + 1,
	   "the session's keys were wiped");
	ok(all_zero(&a.peer->hs.ns, sizeof(a.peer->hs.ns)) &&
		   a.peer->hs.state == HS_ZEROED,
	   "handshake state (ephemeral key, chaining key, hash) is zero");
	node_free(&a);
	node_free(&b);
}

static bool capture_initiation(const struct cwg_pkt *p, void *ctx)
{
	uint8_t *buf = ctx;

	if (type_of(p) == CWG_MSG_INITIATION)
		memcpy(buf, p->data, CWG_MSG_INITIATION_LEN);
	return true;
}

static struct cwg_pkt *pkt_from(const uint8_t *bytes, uint32_t len)
{
	struct cwg_pkt *p = cwg_pkt_alloc();

	memcpy(p->data, bytes, len);
	p->len = len;
	return p;
}

/* Receives the datagram p at `to`, as sent from src. */
static void receive_one(struct node *to, struct cwg_pkt *p,
			const struct cwg_endpoint *src)
{
	struct cwg_pkt_list in;
	struct cwg_out out;

	p->ep = *src;
	cwg_pkt_list_init(&in);
	cwg_pkt_list_append(&in, p);
	cwg_out_init(&out);
	cwg_device_receive(to->dev, &in, now, &out);
	collect(to, &out);
}

/* Receives a copy of bytes at `to`, as sent from src. */
static void inject(struct node *to, const struct cwg_endpoint *src,
		   const uint8_t *bytes, uint32_t len)
{
	receive_one(to, pkt_from(bytes, len), src);
}

static void test_replayed_initiation(void)
{
	struct node a, b;
	uint8_t init[CWG_MSG_INITIATION_LEN];
	struct cwg_keypair *kp;

	setup(&a, &b, false);
	send_from(&a, &b, 0);
	pump(&a, &b, capture_initiation, init);
	count_tun(&b);
	kp = b.peer->kp_current;
	now += SEC;
	inject(&b, &a.addr, init, sizeof(init));
	ok(drops(&b, CWG_DROP_REPLAYED_TIMESTAMP) == 1 && b.wire.count == 0,
	   "a replayed initiation is refused and answered with nothing");
	ok(b.peer->kp_current == kp && !b.peer->kp_next,
	   "and changes no session state");
	node_free(&a);
	node_free(&b);
}

static void test_cookie_path(void)
{
	struct node a, b;

	setup(&a, &b, false);
	cwg_device_set_handshake_backlog(b.dev, CWG_UNDER_LOAD_BACKLOG, now);
	send_from(&a, &b, 0);
	deliver(&a, &b, &a.addr, NULL, NULL);
	ok(b.wire.count == 1 && type_of(b.wire.head) == CWG_MSG_COOKIE_REPLY &&
		   b.wire.head->len == CWG_MSG_COOKIE_REPLY_LEN,
	   "under load, an initiation without mac2 gets a 64-byte cookie reply");
	deliver(&b, &a, &b.addr, NULL, NULL);
	ok(a.peer->cookie.cookie_valid && stats(&a).cookie_replies_rx == 1,
	   "the initiator stores the cookie");
	/* The retry 5 s later carries mac2; B is still under load. */
	now += 5 * SEC + 400 * MS;
	cwg_device_set_handshake_backlog(b.dev, CWG_UNDER_LOAD_BACKLOG, now);
	tick(&a);
	ok(a.wire.count == 1 && !all_zero(a.wire.head->data + CWG_INIT_MAC2, 16),
	   "the retry carries a mac2");
	pump(&a, &b, NULL, NULL);
	ok(stats(&b).handshakes_completed == 1 && count_tun(&b) == 1,
	   "handshake completes under load and the packet arrives");
	node_free(&a);
	node_free(&b);
}

static void test_simultaneous(void)
{
	struct node a, b;
	uint32_t i, ga, gb;

	setup(&a, &b, false);
	send_from(&a, &b, 0);
	send_from(&b, &a, 0);
	run(&a, &b, 30 * SEC, 100 * MS, NULL, NULL);
	count_tun(&a);
	count_tun(&b);
	for (i = 0; i < 10; i++) {
		send_from(&a, &b, i);
		send_from(&b, &a, i);
	}
	pump(&a, &b, NULL, NULL);
	ga = count_tun(&a);
	gb = count_tun(&b);
	ok(ga == 10 && gb == 10,
	   "simultaneous initiations converge to a working session (%u, %u)",
	   ga, gb);
	ok(a.peer->kp_current && b.peer->kp_current &&
		   a.peer->kp_current->remote_index ==
			   b.peer->kp_current->idx.entry.index,
	   "both sides use the same session");
	node_free(&a);
	node_free(&b);
}

struct snapshot {
	struct cwg_keypair *cur;
	struct cwg_endpoint ep;
	uint64_t rx;
	uint64_t replay_next;
};

static struct snapshot snap(struct node *n)
{
	struct snapshot s;

	memset(&s, 0, sizeof(s));
	s.cur = n->peer->kp_current;
	s.ep = n->peer->endpoint;
	s.rx = n->peer->rx_bytes;
	s.replay_next = s.cur ? s.cur->replay.next : 0;
	return s;
}

static bool same(const struct snapshot *x, const struct snapshot *y)
{
	return x->cur == y->cur && !memcmp(&x->ep, &y->ep, sizeof(x->ep)) &&
	       x->rx == y->rx && x->replay_next == y->replay_next;
}

static bool capture_data(const struct cwg_pkt *p, void *ctx)
{
	struct cwg_pkt **keep = ctx;

	if (type_of(p) == CWG_MSG_DATA && p->len > 32 && !*keep)
		*keep = pkt_from(p->data, p->len);
	return true;
}

static void test_malformed(void)
{
	struct node a, b;
	uint8_t init[CWG_MSG_INITIATION_LEN], buf[256];
	struct cwg_pkt *data = NULL;
	struct cwg_endpoint evil = { .family = 4, .port = 666,
				     .addr = { 203, 0, 113, 9 } };
	struct snapshot before, after;
	uint32_t len;

	setup(&a, &b, false);
	send_from(&a, &b, 0);
	pump(&a, &b, capture_initiation, init);
	send_from(&a, &b, 1);
	pump(&a, &b, capture_data, &data);
	count_tun(&b);
	before = snap(&b);

	init[CWG_INIT_MAC1] ^= 1;
	inject(&b, &evil, init, sizeof(init));
	ok(drops(&b, CWG_DROP_BAD_MAC1) == 1, "bad mac1 dropped");

	len = data->len;
	memcpy(buf, data->data, len);
	buf[len - 1] ^= 0x80;
	inject(&b, &evil, buf, len);
	ok(drops(&b, CWG_DROP_BAD_TAG) == 1, "bad tag dropped");

	inject(&b, &evil, data->data, len);
	ok(drops(&b, CWG_DROP_REPLAYED_COUNTER) == 1, "reused counter dropped");

	inject(&b, &evil, init, 147);
	inject(&b, &evil, data->data, 31);
	inject(&b, &evil, init, 3);
	ok(drops(&b, CWG_DROP_BAD_LENGTH) == 3, "wrong lengths dropped");

	memcpy(buf, data->data, len);
	buf[0] = 5;
	inject(&b, &evil, buf, len);
	memcpy(buf, data->data, len);
	buf[1] = 1; /* a reserved byte */
	inject(&b, &evil, buf, len);
	ok(drops(&b, CWG_DROP_UNKNOWN_TYPE) == 2,
	   "unknown type and non-zero reserved bytes dropped");

	memcpy(buf, data->data, len);
	cwg_put_le32(buf + 4, b.peer->kp_current->idx.entry.index ^ 1);
	inject(&b, &evil, buf, len);
	ok(drops(&b, CWG_DROP_UNKNOWN_INDEX) == 1, "unknown index dropped");

	after = snap(&b);
	ok(same(&before, &after) && b.wire.count == 0 && b.tun.count == 0,
	   "none of them changed state, answered or delivered anything");
	cwg_pkt_free(data);
	node_free(&a);
	node_free(&b);
}

static void test_roaming_and_filter(void)
{
	struct node a, b;
	struct cwg_endpoint moved = { .family = 4, .port = 4444,
				      .addr = { 198, 51, 100, 7 } };
	uint8_t other[4] = { 10, 0, 0, 99 };
	struct cwg_pkt_list in;
	struct cwg_out out;

	setup(&a, &b, false);
	send_from(&a, &b, 0);
	pump(&a, &b, NULL, NULL);
	count_tun(&b);
	send_from(&a, &b, 1);
	deliver(&a, &b, &moved, NULL, NULL);
	ok(count_tun(&b) == 1 && b.peer->endpoint.port == 4444 &&
		   b.peer->endpoint.addr[0] == 198,
	   "the endpoint follows the source of an authenticated packet");

	/* A seals a packet whose inner source is not among A's allowed IPs
	 * at B: B must not deliver it. */
	cwg_pkt_list_init(&in);
	cwg_out_init(&out);
	cwg_pkt_list_append(&in, ip_packet(other, b.inner, 7, 100));
	cwg_device_send(a.dev, &in, now, &out);
	collect(&a, &out);
	ok(count_type(&a.wire, CWG_MSG_DATA) == 1, "A seals it (routing is by destination)");
	deliver(&a, &b, &a.addr, NULL, NULL);
	ok(count_tun(&b) == 0 && drops(&b, CWG_DROP_NOT_ALLOWED) == 1,
	   "B drops a packet whose inner source belongs to no allowed IP of A");
	free_list(&a.wire);
	node_free(&a);
	node_free(&b);
}

/*
 * A peer on a link-local address: the endpoint's scope_id (its link)
 * comes with the packet it roams by, and stays when the sticky source is
 * forgotten, by the host or by the timers after 15 s without an answer:
 * without it a packet to fe80::... has no way out.
 */
static bool ep_is_ll(const struct cwg_endpoint *ep,
		     const struct cwg_endpoint *want, bool with_src)
{
	return ep->family == 6 && ep->port == want->port &&
	       !memcmp(ep->addr, want->addr, 16) &&
	       ep->scope_id == want->scope_id &&
	       (with_src ? !memcmp(ep->src_addr, want->src_addr, 16) &&
				   ep->src_ifindex == want->src_ifindex :
			   all_zero(ep->src_addr, 16) && !ep->src_ifindex);
}

static void test_linklocal_scope(void)
{
	struct node a, b;
	struct cwg_endpoint ll = { .family = 6, .port = 51821,
				   .addr = { 0xfe, 0x80, [15] = 2 },
				   .scope_id = 3,
				   .src_addr = { 0xfe, 0x80, [15] = 1 },
				   .src_ifindex = 3 };
	struct cwg_endpoint v4 = { .family = 4, .port = 1,
				   .addr = { 192, 0, 2, 9 }, .scope_id = 5 };
	struct cwg_peer_info info;
	struct cwg_pkt *p;
	int inits = 0, good = 0;

	setup(&a, &b, false);
	send_from(&a, &b, 0);
	pump(&a, &b, NULL, NULL);
	count_tun(&b);
	send_from(&a, &b, 1);
	deliver(&a, &b, &ll, NULL, NULL);
	ok(count_tun(&b) == 1 && ep_is_ll(&b.peer->endpoint, &ll, true),
	   "a packet from fe80::2%%3 to fe80::1%%3 is the endpoint: scope 3, "
	   "sticky source fe80::1 on 3");

	cwg_device_cfg_rdlock(b.dev);
	cwg_peer_clear_endpoint_src(b.peer);
	cwg_peer_get_info(b.peer, &info);
	cwg_device_cfg_unlock(b.dev);
	ok(ep_is_ll(&info.endpoint, &ll, false),
	   "forgetting its sticky source keeps its scope (scope %u)",
	   info.endpoint.scope_id);

	send_from(&a, &b, 2);
	deliver(&a, &b, &ll, NULL, NULL);
	count_tun(&b);
	cwg_device_forget_sources(b.dev, NULL, 0);
	ok(ep_is_ll(&b.peer->endpoint, &ll, false),
	   "so does forgetting every peer's");

	/* B sends, A never answers: 15 s on, B forgets the source and
	 * starts a handshake, which must still go to fe80::2%3. */
	send_from(&a, &b, 3);
	deliver(&a, &b, &ll, NULL, NULL);
	count_tun(&b);
	send_from(&b, &a, 0);
	ok(b.wire.count == 1 && type_of(b.wire.head) == CWG_MSG_DATA &&
		   ep_is_ll(&b.wire.head->ep, &ll, true),
	   "B's data goes to fe80::2%%3 from its sticky source");
	free_list(&b.wire);
	now += CWG_KEEPALIVE_TIMEOUT_NS + CWG_REKEY_TIMEOUT_NS + SEC;
	tick(&b);
	for (p = b.wire.head; p; p = p->next) {
		if (type_of(p) != CWG_MSG_INITIATION)
			continue;
		inits++;
		good += ep_is_ll(&p->ep, &ll, false);
	}
	ok(inits == 1 && good == 1,
	   "15 s unanswered: the initiation goes to fe80::2%%3, source "
	   "forgotten (%d of %d)", good, inits);
	free_list(&b.wire);

	/* Configuration: the scope is the caller's, and IPv4 has none. */
	cwg_device_cfg_lock(b.dev);
	ll.scope_id = 9;
	cwg_peer_set_endpoint(b.peer, &ll);
	cwg_peer_get_info(b.peer, &info);
	ok(ep_is_ll(&info.endpoint, &ll, false),
	   "set_endpoint takes the scope and no sticky source");
	cwg_peer_set_endpoint(b.peer, &v4);
	cwg_peer_get_info(b.peer, &info);
	ok(info.endpoint.family == 4 && info.endpoint.scope_id == 0,
	   "an IPv4 endpoint has no scope");
	cwg_device_cfg_unlock(b.dev);
	node_free(&a);
	node_free(&b);
}

/* B's received-bytes counter for A. */
static uint64_t rx_bytes(struct node *n)
{
	struct cwg_peer_info info;

	cwg_device_cfg_rdlock(n->dev);
	cwg_peer_get_info(n->peer, &info);
	cwg_device_cfg_unlock(n->dev);
	return info.rx_bytes;
}

/*
 * One receive batch mixing good, forged, replayed and foreign packets of
 * one session: the core handles a session's packets as a run (one lock
 * of each kind per run), and the outcome must be what one-by-one
 * handling gives: every bad packet dropped with its own reason, the good
 * ones delivered in order, the endpoint that of the newest authenticated
 * packet, the byte counter only what was delivered.
 */
static void test_batched_run(void)
{
	struct node a, b;
	struct cwg_endpoint ep2 = { .family = 4, .port = 4002,
				    .addr = { 198, 51, 100, 2 } };
	struct cwg_endpoint ep3 = { .family = 4, .port = 4003,
				    .addr = { 198, 51, 100, 3 } };
	uint8_t other[4] = { 10, 0, 0, 99 };
	struct cwg_pkt *d[5], *p;
	struct cwg_pkt_list in;
	struct cwg_out out;
	uint64_t rx0, want_rx;
	uint32_t seqs[3] = { 0 }, n = 0;
	int i;

	setup(&a, &b, false);
	send_from(&a, &b, 0);
	pump(&a, &b, NULL, NULL);
	count_tun(&b);
	for (i = 0; i < 4; i++)
		send_from(&a, &b, 100 + (uint32_t)i);
	cwg_pkt_list_init(&in);
	cwg_out_init(&out);
	cwg_pkt_list_append(&in, ip_packet(other, b.inner, 104, 100));
	cwg_device_send(a.dev, &in, now, &out);
	collect(&a, &out);
	ok(a.wire.count == 5, "A sealed five data packets");
	for (i = 0; i < 5; i++) {
		d[i] = cwg_pkt_list_pop(&a.wire);
		d[i]->ep = a.addr;
	}
	rx0 = rx_bytes(&b);
	want_rx = (uint64_t)d[0]->len + d[2]->len + d[3]->len;

	/* good, forged tag, replay of the first, good, unknown index, good
	 * from ep2, not-allowed inner source from ep3. */
	cwg_pkt_list_init(&in);
	cwg_pkt_list_append(&in, pkt_from(d[0]->data, d[0]->len));
	p = pkt_from(d[1]->data, d[1]->len);
	p->data[p->len - 1] ^= 1;
	cwg_pkt_list_append(&in, p);
	cwg_pkt_list_append(&in, pkt_from(d[0]->data, d[0]->len));
	cwg_pkt_list_append(&in, pkt_from(d[2]->data, d[2]->len));
	p = pkt_from(d[1]->data, d[1]->len);
	cwg_put_le32(p->data + 4, b.peer->kp_current->idx.entry.index ^ 1);
	cwg_pkt_list_append(&in, p);
	p = pkt_from(d[3]->data, d[3]->len);
	p->ep = ep2;
	cwg_pkt_list_append(&in, p);
	p = pkt_from(d[4]->data, d[4]->len);
	p->ep = ep3;
	cwg_pkt_list_append(&in, p);
	for (p = in.head; p; p = p->next)
		if (!p->ep.family)
			p->ep = a.addr;
	cwg_out_init(&out);
	cwg_device_receive(b.dev, &in, now, &out);
	collect(&b, &out);

	for (p = b.tun.head; p && n < 3; p = p->next)
		seqs[n++] = cwg_get_be32(p->data + 20);
	ok(b.tun.count == 3 && seqs[0] == 100 && seqs[1] == 102 &&
		   seqs[2] == 103,
	   "the three good packets delivered, in order (%u: %u %u %u)",
	   b.tun.count, seqs[0], seqs[1], seqs[2]);
	ok(drops(&b, CWG_DROP_BAD_TAG) == 1 &&
		   drops(&b, CWG_DROP_REPLAYED_COUNTER) == 1 &&
		   drops(&b, CWG_DROP_UNKNOWN_INDEX) == 1 &&
		   drops(&b, CWG_DROP_NOT_ALLOWED) == 1,
	   "forged, replayed, unknown-index and foreign each dropped once");
	ok(b.peer->endpoint.port == 4003 && b.peer->endpoint.addr[3] == 3,
	   "the endpoint is the newest authenticated packet's (port %u)",
	   b.peer->endpoint.port);
	ok(rx_bytes(&b) - rx0 == want_rx,
	   "received bytes count what was delivered (%llu, want %llu)",
	   (unsigned long long)(rx_bytes(&b) - rx0),
	   (unsigned long long)want_rx);
	for (i = 0; i < 5; i++)
		cwg_pkt_free(d[i]);
	node_free(&a);
	node_free(&b);
}

/*
 * Receiving threads open a peer's runs, and finish them, out of turn:
 * the endpoint must follow the packet the peer sent last (the highest
 * counter), not the run that finished last, or a roaming peer would be
 * answered at the address it just left.
 */
static void test_endpoint_newest(void)
{
	struct node a, b;
	struct cwg_endpoint moved = { .family = 4, .port = 4444,
				      .addr = { 198, 51, 100, 7 } };
	struct cwg_endpoint moved2 = { .family = 4, .port = 5555,
				       .addr = { 198, 51, 100, 8 } };
	struct cwg_pkt *d[4];
	struct cwg_pkt_list in;
	struct cwg_out out;
	int i;

	setup(&a, &b, false);
	send_from(&a, &b, 0);
	pump(&a, &b, NULL, NULL);
	count_tun(&b);
	for (i = 0; i < 4; i++) {
		send_from(&a, &b, 1 + (uint32_t)i);
		d[i] = cwg_pkt_list_pop(&a.wire);
	}
	receive_one(&b, d[1], &moved);
	receive_one(&b, d[0], &a.addr);
	ok(count_tun(&b) == 2 && b.peer->endpoint.port == moved.port,
	   "a run finished after a newer one's leaves the endpoint at the "
	   "newer packet's source (port %u)", b.peer->endpoint.port);

	cwg_pkt_list_init(&in);
	d[3]->ep = moved2;
	d[2]->ep = a.addr;
	cwg_pkt_list_append(&in, d[3]);
	cwg_pkt_list_append(&in, d[2]);
	cwg_out_init(&out);
	cwg_device_receive(b.dev, &in, now, &out);
	collect(&b, &out);
	ok(count_tun(&b) == 2 && b.peer->endpoint.port == moved2.port,
	   "within one run too, the highest counter's source wins (port %u)",
	   b.peer->endpoint.port);

	send_from(&a, &b, 9);
	deliver(&a, &b, &a.addr, NULL, NULL);
	ok(count_tun(&b) == 1 && b.peer->endpoint.port == a.addr.port,
	   "a newer packet from the first address moves it back (port %u)",
	   b.peer->endpoint.port);
	node_free(&a);
	node_free(&b);
}

/* Moves n's wire datagrams into a fresh receive batch from `from`. */
static void wire_to_batch(struct node *n, const struct node *from,
			  struct cwg_pkt_list *in)
{
	struct cwg_pkt *p;

	cwg_pkt_list_init(in);
	while ((p = cwg_pkt_list_pop(&n->wire))) {
		p->ep = from->addr;
		cwg_pkt_list_append(in, p);
	}
}

/* Whether l holds plaintext packets with sequence numbers first,
 * first + 1, ... and counters counter0, counter0 + 1, ... in list order. */
static bool ready_in_order(const struct cwg_pkt_list *l, uint32_t first,
			   uint64_t counter0)
{
	const struct cwg_pkt *p;
	uint32_t i = 0;

	for (p = l->head; p; p = p->next, i++)
		if (p->len < 24 || cwg_get_be32(p->data + 20) != first + i ||
		    p->counter != counter0 + i || !p->kp)
			return false;
	return true;
}

/*
 * Deferred flushing, as the daemon runs the core: a completed handshake
 * or a keepalive timer seals nothing where it happens (a receiving or
 * timer thread) but leaves the peer for cwg_device_flush and says so in
 * out->flush. Whatever the sending side prepares next, a flush or a new
 * batch, takes the staged packets first, so packets leave in the order
 * they were sent and their counters follow that order.
 */
static void test_deferred_flush(void)
{
	struct node a, b;
	struct cwg_pkt_list in, ready, ready2;
	struct cwg_out out, out2;
	uint32_t i, seq = 0;
	struct cwg_pkt *p;
	bool in_order = true;

	setup(&a, &b, false);
	cwg_device_set_deferred_flush(a.dev, true);
	cwg_device_set_deferred_flush(b.dev, true);
	for (i = 0; i < 3; i++)
		send_from(&a, &b, i);
	ok(a.wire.count == 1 && type_of(a.wire.head) == CWG_MSG_INITIATION,
	   "deferred: three packets staged, one initiation sent");
	deliver(&a, &b, &a.addr, NULL, NULL);
	ok(b.wire.count == 1 && type_of(b.wire.head) == CWG_MSG_RESPONSE,
	   "deferred: B answers the initiation");

	wire_to_batch(&b, &b, &in);
	cwg_out_init(&out);
	cwg_device_receive(a.dev, &in, now, &out);
	ok(stats(&a).handshakes_completed == 1 && out.flush &&
		   out.net.count == 0 && a.peer->flush_pending,
	   "deferred: A completes the handshake, seals nothing and asks for "
	   "a flush");

	/* A batch the sending side prepares before that flush. */
	cwg_pkt_list_init(&in);
	cwg_pkt_list_append(&in, ip_packet(a.inner, b.inner, 3, 100));
	cwg_pkt_list_append(&in, ip_packet(a.inner, b.inner, 4, 100));
	cwg_pkt_list_init(&ready);
	cwg_device_send_prepare(a.dev, &in, now, &out, &ready);
	ok(ready.count == 5 && ready_in_order(&ready, 0, 0) &&
		   out.net.count == 0,
	   "a batch prepared before the flush goes after the staged "
	   "packets: 0..4 in order, counters 0..4");
	cwg_out_init(&out2);
	cwg_pkt_list_init(&ready2);
	cwg_device_flush(a.dev, now, &out2, &ready2);
	ok(ready2.count == 0 && out2.net.count == 0 && !a.peer->flush_pending,
	   "the flush after it finds nothing left");
	cwg_device_send_seal(a.dev, &ready, &out);
	ok(ready.count == 0 && count_type(&out.net, CWG_MSG_DATA) == 5,
	   "sealing turns the five into data messages, in the same list");
	collect(&a, &out);
	deliver(&a, &b, &a.addr, NULL, NULL);
	ok(b.tun.count == 5, "B delivers all five");
	for (p = b.tun.head; p; p = p->next)
		in_order &= cwg_get_be32(p->data + 20) == seq++;
	ok(in_order, "in the order A was given them");
	count_tun(&b);

	/* B heard data and sent none: its passive keepalive is a timer's. */
	free_list(&b.wire);
	now += CWG_KEEPALIVE_TIMEOUT_NS;
	cwg_out_init(&out);
	cwg_device_tick(b.dev, now, &out);
	ok(out.flush && count_type(&out.net, CWG_MSG_DATA) == 0,
	   "deferred: the keepalive timer seals nothing and asks for a flush");
	collect(&b, &out);
	cwg_out_init(&out);
	cwg_pkt_list_init(&ready);
	cwg_device_flush(b.dev, now, &out, &ready);
	ok(ready.count == 1 && ready.head->len == 0,
	   "the flush prepares the keepalive");
	cwg_device_send_seal(b.dev, &ready, &out);
	ok(out.net.count == 1 &&
		   out.net.head->len == CWG_MSG_DATA_MIN_LEN,
	   "and seals it: a 32-byte keepalive");
	collect(&b, &out);
	free_list(&b.wire);

	/* A peer removed while it waits for a flush leaves the list. */
	now += CWG_KEEPALIVE_TIMEOUT_NS;
	send_from(&a, &b, 5);
	deliver(&a, &b, &a.addr, NULL, NULL);
	count_tun(&b);
	now += CWG_KEEPALIVE_TIMEOUT_NS;
	cwg_out_init(&out);
	cwg_device_tick(b.dev, now, &out);
	ok(out.flush && b.peer->flush_pending, "B waits for a flush again");
	cwg_device_cfg_lock(b.dev);
	cwg_device_remove_peer(b.dev, b.peer);
	cwg_device_cfg_unlock(b.dev);
	b.peer = NULL;
	cwg_out_init(&out);
	cwg_pkt_list_init(&ready);
	cwg_device_flush(b.dev, now, &out, &ready);
	ok(ready.count == 0 && out.net.count == 0,
	   "after its peer is removed the flush has nothing to do");
	node_free(&a);
	node_free(&b);
}

/*
 * A peer removed while packets of its are between prepare and seal (the
 * daemon's TX threads seal without the configuration lock): its session,
 * and so the peer itself, live until the last of them is sealed.
 */
static void test_remove_in_flight(void)
{
	struct node a, b;
	struct cwg_pkt_list in, ready;
	struct cwg_out out;
	uint64_t wiped;
	uint32_t i;

	setup(&a, &b, false);
	cwg_device_set_deferred_flush(a.dev, true);
	send_from(&a, &b, 0);
	deliver(&a, &b, &a.addr, NULL, NULL);
	/* A completes the handshake; packet 0 waits for a flush. */
	deliver(&b, &a, &b.addr, NULL, NULL);
	cwg_out_init(&out);
	cwg_pkt_list_init(&ready);
	cwg_device_flush(a.dev, now, &out, &ready);
	cwg_pkt_list_init(&in);
	for (i = 1; i < 4; i++)
		cwg_pkt_list_append(&in, ip_packet(a.inner, b.inner, i, 100));
	cwg_device_send_prepare(a.dev, &in, now, &out, &ready);
	ok(ready.count == 4 && ready_in_order(&ready, 0, 0),
	   "flushed and prepared: four packets wait to be sealed");
	wiped = stats(&a).keypairs_wiped;
	cwg_device_cfg_lock(a.dev);
	cwg_device_remove_peer(a.dev, a.peer);
	cwg_device_cfg_unlock(a.dev);
	a.peer = NULL;
	ok(stats(&a).keypairs_wiped == wiped && cwg_device_peer_count(a.dev) == 0,
	   "the peer is removed, its session outlives it for those packets");
	cwg_device_send_seal(a.dev, &ready, &out);
	ok(count_type(&out.net, CWG_MSG_DATA) == 4 &&
		   stats(&a).keypairs_wiped == wiped + 1,
	   "sealing them sends them and wipes the session with the last");
	collect(&a, &out);
	deliver(&a, &b, &a.addr, NULL, NULL);
	ok(count_tun(&b) == 4, "the removed peer's last packets arrive");
	node_free(&a);
	node_free(&b);
}

/*
 * The responder counts its response as a handshake sent, as the kernel
 * does: data it has queued waits for the session it just answered for
 * instead of starting a second handshake that crosses the first.
 */
static void test_responder_one_handshake(void)
{
	int dir;

	for (dir = 0; dir < 2; dir++) {
		struct node a, b, *ini, *resp;
		struct cwg_device_stats si, sr;

		setup(&a, &b, false);
		ini = dir ? &b : &a;
		resp = dir ? &a : &b;
		send_from(ini, resp, 0);
		deliver(ini, resp, &ini->addr, NULL, NULL);
		send_from(resp, ini, 0);
		ok(count_type(&resp->wire, CWG_MSG_INITIATION) == 0 &&
			   count_type(&resp->wire, CWG_MSG_RESPONSE) == 1,
		   "%s answers %s and, with data queued, sends no initiation "
		   "of its own", resp->name, ini->name);
		run(&a, &b, 20 * SEC, 100 * MS, NULL, NULL);
		si = stats(ini);
		sr = stats(resp);
		ok(si.handshakes_completed == 1 && sr.handshakes_completed == 1 &&
			   si.handshake_initiations_rx == 0 &&
			   sr.handshake_initiations_rx == 1,
		   "%s initiating: one session, one handshake (%llu, %llu)",
		   ini->name, (unsigned long long)si.handshakes_completed,
		   (unsigned long long)sr.handshakes_completed);
		ok(count_tun(&a) == 1 && count_tun(&b) == 1,
		   "both queued packets are delivered");
		node_free(&a);
		node_free(&b);
	}
}

/* Sums the staged queues of a device's peers. */
static uint32_t staged_sum(struct cwg_device *dev, uint32_t *holding)
{
	struct cwg_peer *p;
	uint32_t sum = 0;

	*holding = 0;
	for (p = cwg_device_first_peer(dev); p; p = cwg_peer_next(p)) {
		sum += p->staged.count;
		*holding += p->staged.count > 0;
	}
	return sum;
}

/*
 * Peers that never answer may stage packets only within the device's
 * bound, each trimming its own queue as more peers wait, so a peer that
 * starts waiting later still finds room.
 */
static void test_staged_bound(void)
{
	enum { DEAD = 40, LIMIT = 64, ROUNDS = 12, PER_ROUND = 20 };
	struct node a, b;
	struct cwg_endpoint nowhere = { .family = 4, .port = 9,
					.addr = { 192, 0, 2, 99 } };
	uint32_t i, r, k, sum, holding, worst = 0;
	bool consistent = true;

	setup(&a, &b, false);
	cwg_device_set_staged_limit(a.dev, LIMIT);
	cwg_device_cfg_lock(a.dev);
	for (i = 0; i < DEAD; i++) {
		uint8_t key[32], ip[4] = { 10, 1, 0, (uint8_t)(i + 1) };
		struct cwg_peer *p;

		rng_fill(&a.rng, key, sizeof(key));
		cwg_device_add_peer(a.dev, key, &p);
		cwg_peer_set_endpoint(p, &nowhere);
		cwg_peer_add_allowed_ip(p, 4, ip, 32);
	}
	cwg_device_cfg_unlock(a.dev);
	for (r = 0; r < ROUNDS; r++) {
		for (i = 0; i < DEAD; i++) {
			uint8_t ip[4] = { 10, 1, 0, (uint8_t)(i + 1) };
			struct cwg_pkt_list in;
			struct cwg_out out;

			cwg_pkt_list_init(&in);
			for (k = 0; k < PER_ROUND; k++)
				cwg_pkt_list_append(
					&in, ip_packet(a.inner, ip, k, 100));
			cwg_out_init(&out);
			cwg_device_send(a.dev, &in, now, &out);
			free_list(&out.net);
			sum = staged_sum(a.dev, &holding);
			worst = sum > worst ? sum : worst;
			consistent &= sum == a.dev->staged_total &&
				      holding == a.dev->staged_peers;
		}
		now += 10 * MS;
	}
	ok(worst <= LIMIT, "%u peers that never answer stage at most %u "
	   "packets together (at most %u seen)", DEAD, LIMIT, worst);
	ok(consistent, "the device's totals match the peers' queues");
	ok(holding == DEAD, "every one of them holds some (%u of %u)",
	   holding, DEAD);
	send_from(&a, &b, 7);
	ok(a.peer->staged.count == 1,
	   "a peer that starts waiting later finds room for its packet");
	pump(&a, &b, NULL, NULL);
	ok(count_tun(&b) == 1, "which arrives once its handshake completes");
	cwg_device_cfg_lock(a.dev);
	cwg_device_remove_all_peers(a.dev);
	cwg_device_cfg_unlock(a.dev);
	a.peer = NULL;
	ok(a.dev->staged_total == 0 && a.dev->staged_peers == 0,
	   "removing the peers returns their share");
	node_free(&a);
	node_free(&b);
}

/*
 * Hosts call the core from several threads, each with the clock it read
 * before the call: a session made by one thread may carry a later stamp
 * than the now another thread passes a moment after. Such a session is
 * new, not expired (it was treated as expired: the packet waited for a
 * handshake that the rate limit then held back).
 */
static void test_stamp_after_now(void)
{
	struct node a, b;
	uint64_t made;

	setup(&a, &b, false);
	send_from(&a, &b, 1);
	pump(&a, &b, NULL, NULL);
	ok(stats(&a).handshakes_completed == 1, "handshake done");
	made = now;
	free_list(&a.wire);
	now = made - 1000000; /* read 1 ms before the session was made */
	send_from(&a, &b, 2);
	ok(a.wire.count == 1 && type_of(a.wire.head) == CWG_MSG_DATA,
	   "a session stamped after now still seals at once");
	pump(&a, &b, NULL, NULL);
	ok(count_tun(&b) == 2, "and the packet arrives");
	now = made;
	node_free(&a);
	node_free(&b);
}

int main(void)
{
	const char *s = getenv("CWG_SEED");

	if (s)
		seed = strtoull(s, NULL, 0);
	diag("seed %llu (set CWG_SEED to reproduce)", (unsigned long long)seed);
	cwg_crypto_init();
	test_handshake_and_data();
	test_rekey_no_loss();
	test_reject_after_time();
	test_keepalive();
	test_persistent_keepalive();
	test_retries_and_give_up();
	test_zero_keys();
	test_replayed_initiation();
	test_cookie_path();
	test_simultaneous();
	test_malformed();
	test_roaming_and_filter();
	test_linklocal_scope();
	test_batched_run();
	test_deferred_flush();
	test_endpoint_newest();
	test_remove_in_flight();
	test_responder_one_handshake();
	test_staged_bound();
	test_stamp_after_now();
	return done_testing();
}
