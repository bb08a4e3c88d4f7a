/* SPDX-License-Identifier: MIT */
/*
 * fuzz_receive: datagrams into devices that have a live session.
 *
 * Every input starts from the same state (fuzz_net_new: two devices that
 * completed a real handshake, exchanged data, a keepalive and a cookie
 * reply) and is read as a list of operations, so the fuzzer reaches states
 * no single datagram could: replays after a rekey, responses to
 * initiations that were superseded, cookie replies under load, data after
 * the peer was removed and added back, time jumps past every timer.
 *
 * Operation byte (mod FRX_NOPS), then its arguments:
 *   TICK    dt            advance the clock (table below), tick both
 *   SEND    flags         a node sends 1-4 IP packets into its tunnel
 *   DELIVER flags src max deliver (after an optional in-flight mutation)
 *   INJECT  slot flags mutations...
 *                         a captured or recently seen datagram, mutated
 *   RAW     flags len16 bytes
 *                         arbitrary bytes as a datagram
 *   LOAD    flags         set a node's handshake backlog (under load)
 *   DROP    node          lose everything in flight from a node
 *   CONFIG  flags arg     psk, keepalive, endpoint, MTU, remove/re-add
 *                         the peer, allowed IPs, private key, the ghost
 *   BATCH   n (slot src)* several datagrams in one receive batch
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/peer.h"
#include "crypto/crypto.h"
#include "fuzz_net.h"

enum {
	FRX_TICK,
	FRX_SEND,
	FRX_DELIVER,
	FRX_INJECT,
	FRX_RAW,
	FRX_LOAD,
	FRX_DROP,
	FRX_CONFIG,
	FRX_BATCH,
	FRX_NOPS
};

#define FRX_MAX_OPS 256

/* Interesting durations: the protocol's timers and just past them. */
static const uint64_t frx_dt[16] = {
	1 * FUZZ_MS,	   20 * FUZZ_MS,     100 * FUZZ_MS,    1 * FUZZ_SEC,
	5 * FUZZ_SEC,	   5500 * FUZZ_MS,   10 * FUZZ_SEC,    15 * FUZZ_SEC,
	25 * FUZZ_SEC,	   60 * FUZZ_SEC,    120 * FUZZ_SEC,   135 * FUZZ_SEC,
	165 * FUZZ_SEC,	   180 * FUZZ_SEC,   181 * FUZZ_SEC,   540 * FUZZ_SEC,
};

static const uint32_t frx_mtu[5] = { 0, 1280, 1420, 64, 1 };

/* The message a slot byte names: a capture from the set-up, or one of
 * the datagrams seen on the wire lately. */
static const struct fuzz_msg *frx_slot(const struct fuzz_net *net,
				       uint8_t sel)
{
	sel %= FUZZ_CAP_N + FUZZ_RING;
	if (sel < FUZZ_CAP_N)
		return &net->cap[sel];
	return &net->ring[sel - FUZZ_CAP_N];
}

/* One edit of buf (len bytes, room for FUZZ_MSG_MAX). */
static void frx_mutate(struct fuzz_in *in, uint8_t *buf, uint32_t *len)
{
	uint8_t kind = fuzz_u8(in);
	uint16_t off = fuzz_u16(in);
	uint32_t n;

	switch (kind % 5) {
	case 0:
		if (*len)
			buf[off % *len] ^= (uint8_t)(fuzz_u8(in) | 1);
		break;
	case 1:
		if (*len)
			buf[off % *len] = fuzz_u8(in);
		break;
	case 2:
		*len = off % (*len + 1);
		break;
	case 3:
		n = 1 + fuzz_u8(in) % 32;
		if (*len + n <= FUZZ_MSG_MAX) {
			fuzz_bytes(in, buf + *len, n);
			*len += n;
		}
		break;
	case 4: /* a 32-bit field: indices, counters */
		if (*len >= 4) {
			uint32_t at = off % (*len - 3);

			fuzz_bytes(in, buf + at, 4);
		}
		break;
	}
}

/* A datagram of exactly len bytes: reading one past it is an ASan
 * report under fuzz/run.sh. */
static struct cwg_pkt *frx_datagram(const uint8_t *b, uint32_t len,
				    const struct cwg_endpoint *src)
{
	struct cwg_pkt *p = fuzz_pkt_new(0, len, 0);

	if (!p)
		return NULL;
	memcpy(p->data, b, len);
	p->ep = *src;
	return p;
}

static void frx_inject(struct fuzz_net *net, struct fuzz_in *in)
{
	const struct fuzz_msg *m = frx_slot(net, fuzz_u8(in));
	uint8_t flags = fuzz_u8(in), *buf;
	int to = flags & 1, nmut = (flags >> 4) & 3, reps = 1 + (flags >> 6);
	uint32_t len = m->len;
	struct cwg_endpoint src;
	struct cwg_pkt_list batch;

	buf = malloc(FUZZ_MSG_MAX);
	if (!buf)
		return;
	memcpy(buf, m->b, len);
	while (nmut--)
		frx_mutate(in, buf, &len);
	fuzz_net_source(net, 1 - to, (uint8_t)(flags >> 1), &src);
	cwg_pkt_list_init(&batch);
	while (reps--) {
		struct cwg_pkt *p = frx_datagram(buf, len, &src);

		if (p)
			cwg_pkt_list_append(&batch, p);
	}
	free(buf);
	fuzz_net_receive(net, to, &batch);
}

static void frx_raw(struct fuzz_net *net, struct fuzz_in *in)
{
	uint8_t flags = fuzz_u8(in);
	uint32_t len = fuzz_u16(in) % (FUZZ_MSG_MAX + 1);
	int to = flags & 1;
	struct cwg_endpoint src;
	struct cwg_pkt_list batch;
	struct cwg_pkt *p;

	if (len > in->n)
		len = (uint32_t)in->n;
	fuzz_net_source(net, 1 - to, (uint8_t)(flags >> 1), &src);
	cwg_pkt_list_init(&batch);
	p = frx_datagram(in->p, len, &src);
	in->p += len;
	in->n -= len;
	if (p)
		cwg_pkt_list_append(&batch, p);
	fuzz_net_receive(net, to, &batch);
}

static void frx_batch(struct fuzz_net *net, struct fuzz_in *in)
{
	uint8_t flags = fuzz_u8(in);
	int to = flags & 1, n = 1 + (flags >> 1) % 8;
	struct cwg_pkt_list batch;

	cwg_pkt_list_init(&batch);
	while (n--) {
		const struct fuzz_msg *m = frx_slot(net, fuzz_u8(in));
		struct cwg_endpoint src;
		struct cwg_pkt *p;

		fuzz_net_source(net, 1 - to, fuzz_u8(in), &src);
		p = frx_datagram(m->b, m->len, &src);
		if (p)
			cwg_pkt_list_append(&batch, p);
	}
	fuzz_net_receive(net, to, &batch);
}

static void frx_deliver(struct fuzz_net *net, struct fuzz_in *in)
{
	uint8_t flags = fuzz_u8(in), sel = fuzz_u8(in);
	int from = flags & 1;
	uint32_t max = 1 + fuzz_u8(in) % 8;
	struct cwg_pkt *head = net->n[from].wire.head;
	struct cwg_endpoint src;

	/* In flight, only what fits the buffer: flip a byte or cut short. */
	if (head && (flags & 2)) {
		uint16_t off = fuzz_u16(in);
		uint8_t v = fuzz_u8(in);

		if (flags & 4)
			head->len = off % (head->len + 1);
		else if (head->len)
			head->data[off % head->len] ^= (uint8_t)(v | 1);
	}
	fuzz_net_source(net, from, sel, &src);
	fuzz_net_deliver(net, from, &src, max);
}

static void frx_send(struct fuzz_net *net, struct fuzz_in *in,
		     uint32_t *seq)
{
	uint8_t flags = fuzz_u8(in), b[128];
	int i = flags & 1, kind = (flags >> 1) & 3, n = 1 + ((flags >> 3) & 3);
	struct cwg_pkt_list batch;

	cwg_pkt_list_init(&batch);
	while (n--) {
		uint32_t len = fuzz_net_ip_packet(net, i, kind, (*seq)++, b,
						  sizeof(b));
		struct cwg_pkt *p = fuzz_net_plaintext(net, i, b, len);

		if (p)
			cwg_pkt_list_append(&batch, p);
	}
	fuzz_net_send(net, i, &batch);
}

/* Give node i its peer (the other node) again, as configured at first. */
static void frx_readd_peer(struct fuzz_net *net, int i)
{
	struct fuzz_node *me = &net->n[i], *other = &net->n[1 - i];
	uint8_t pub[32], psk[32];
	struct cwg_peer *p;

	memcpy(pub, me->peer->pubkey.pubkey, 32);
	memcpy(psk, me->peer->psk, 32);
	cwg_device_remove_peer(me->dev, me->peer);
	me->peer = NULL;
	if (cwg_device_add_peer(me->dev, pub, &p))
		return;
	me->peer = p;
	cwg_peer_set_endpoint(p, &other->addr);
	cwg_peer_set_preshared_key(p, psk);
	cwg_peer_add_allowed_ip(p, 4, other->inner4, 32);
	cwg_peer_add_allowed_ip(p, 6, other->inner6, 128);
}

static void frx_config(struct fuzz_net *net, struct fuzz_in *in)
{
	uint8_t flags = fuzz_u8(in), arg = fuzz_u8(in);
	int i = flags & 1;
	struct fuzz_node *me = &net->n[i], *other = &net->n[1 - i];
	struct cwg_device *dev = me->dev;
	static const uint8_t any4[4];

	cwg_device_cfg_lock(dev);
	if (!me->peer) {
		cwg_device_cfg_unlock(dev);
		return;
	}
	switch ((flags >> 1) % 8) {
	case 0: { /* a psk the other side does not have, or the right one */
		uint8_t psk[32];

		memset(psk, (arg & 1) ? 0x42 : arg, sizeof(psk));
		cwg_peer_set_preshared_key(me->peer, psk);
		break;
	}
	case 1:
		cwg_peer_set_persistent_keepalive(me->peer, arg);
		break;
	case 2:
		if (arg & 1)
			cwg_peer_clear_endpoint_src(me->peer);
		else
			cwg_peer_set_endpoint(me->peer, &other->addr);
		break;
	case 3:
		cwg_device_set_mtu(dev, frx_mtu[arg % 5]);
		break;
	case 4:
		frx_readd_peer(net, i);
		break;
	case 5:
		if (arg & 1)
			cwg_peer_remove_allowed_ip(me->peer, 4, other->inner4,
						   32);
		else
			cwg_peer_add_allowed_ip(me->peer, 4, other->inner4, 32);
		break;
	case 6: { /* drop the private key, or set it back */
		uint8_t key[32];

		if (arg & 1) {
			cwg_device_set_private_key(dev, NULL);
		} else {
			struct fuzz_rng r = { 0xc0ffee00u + (uint64_t)i };

			/* the same derivation as fuzz_net.c's keys */
			fuzz_rng_fill(&r, key, 32);
			cwg_device_set_private_key(dev, key);
		}
		break;
	}
	case 7:
		if (me->ghost) {
			cwg_device_remove_peer(dev, me->ghost);
			me->ghost = NULL;
		} else {
			struct cwg_endpoint g = { .family = 4, .port = 51820,
						  .addr = { 203, 0, 113, 50 } };
			uint8_t pub[32];
			struct fuzz_rng r = { 0xc0ffee02u };
			uint8_t priv[32];

			fuzz_rng_fill(&r, priv, 32);
			cwg_x25519_clamp(priv);
			if (cwg_x25519_public(pub, priv) &&
			    !cwg_device_add_peer(dev, pub, &me->ghost)) {
				cwg_peer_set_endpoint(me->ghost, &g);
				cwg_peer_add_allowed_ip(me->ghost, 4, any4, 0);
			}
		}
		break;
	}
	cwg_device_cfg_unlock(dev);
	/* Configuration asks for a tick right after. */
	fuzz_net_tick(net, i);
}

int fuzz_receive(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	struct fuzz_net *net;
	uint32_t ops = 0, seq = 1000;
	bool setup_ok;
	int ret;

	memset(&fuzz_net_last, 0, sizeof(fuzz_net_last));
	net = fuzz_net_new(&setup_ok);
	if (!net)
		return fuzz_fail("fuzz_receive: out of memory in set-up");
	fuzz_net_last.setup_ok = setup_ok;
	if (!setup_ok) {
		if (!net->err)
			net->err = fuzz_fail("fuzz_receive: the set-up "
					     "handshake did not complete");
		goto out;
	}
	while (!fuzz_in_empty(&in) && ops < FRX_MAX_OPS && !net->err) {
		uint8_t op = fuzz_u8(&in), b;

		ops++;
		switch (op % FRX_NOPS) {
		case FRX_TICK:
			b = fuzz_u8(&in);
			net->now += frx_dt[b & 15] + (uint64_t)(b >> 4) * 7 *
						     FUZZ_MS;
			fuzz_net_tick(net, 0);
			fuzz_net_tick(net, 1);
			break;
		case FRX_SEND:
			frx_send(net, &in, &seq);
			break;
		case FRX_DELIVER:
			frx_deliver(net, &in);
			break;
		case FRX_INJECT:
			frx_inject(net, &in);
			break;
		case FRX_RAW:
			frx_raw(net, &in);
			break;
		case FRX_LOAD:
			b = fuzz_u8(&in);
			cwg_device_set_handshake_backlog(
				net->n[b & 1].dev,
				(b & 2) ? CWG_UNDER_LOAD_BACKLOG : b >> 2,
				net->now);
			break;
		case FRX_DROP:
			fuzz_net_drop_wire(net, fuzz_u8(&in) & 1);
			break;
		case FRX_CONFIG:
			frx_config(net, &in);
			break;
		case FRX_BATCH:
			frx_batch(net, &in);
			break;
		}
		fuzz_net_check(net);
	}
out:
	fuzz_net_last.ops = ops;
	fuzz_net_report(net);
	ret = fuzz_net_free(net);
	return ret;
}

#ifdef CWG_LIBFUZZER
CWG_FUZZ_TARGET(fuzz_receive)
#endif
