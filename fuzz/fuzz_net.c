/* SPDX-License-Identifier: MIT */
/*
 * Two devices, A (n[0]) and B (n[1]), each with the other as a peer and a
 * third "ghost" peer that owns 0.0.0.0/0 and never answers, on a virtual
 * clock. Everything they emit is checked as it comes out:
 *
 *   - a datagram lies inside its buffer, is addressed, and has a length
 *     its type allows;
 *   - a packet put out on a tunnel lies inside its buffer, is a whole IP
 *     packet by its own header, comes from the peer whose allowed IPs hold
 *     its source, and is one the other node really sent into its tunnel,
 *     at most once (nothing forged, nothing replayed);
 *
 * and fuzz_net_check() walks both devices' internal state (white box,
 * core/peer.h) for the invariants that keep memory safe: every keypair in
 * a slot is registered under its index and referenced once, the index
 * table holds exactly the live handshakes and keypairs, lists are linked
 * both ways, and staged queues are bounded.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/messages.h"
#include "core/peer.h"
#include "crypto/crypto.h"
#include "fuzz_net.h"

static void net_fail(struct fuzz_net *net, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void net_fail(struct fuzz_net *net, const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	if (net->err)
		return; /* keep the first, it is the cause */
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	net->err = fuzz_fail("%s", msg);
}

/* ---- keys: constant, so every input starts from the same state ---- */

struct fuzz_keys {
	uint8_t priv[3][32]; /* A, B, ghost */
	uint8_t pub[3][32];
	uint8_t psk[32];
	bool ready;
};

static const struct fuzz_keys *net_keys(void)
{
	static struct fuzz_keys k;
	int i;

	if (k.ready)
		return &k;
	for (i = 0; i < 3; i++) {
		struct fuzz_rng r = { 0xc0ffee00u + (uint64_t)i };

		fuzz_rng_fill(&r, k.priv[i], 32);
		cwg_x25519_clamp(k.priv[i]);
		if (!cwg_x25519_public(k.pub[i], k.priv[i]))
			return NULL;
	}
	memset(k.psk, 0x42, sizeof(k.psk));
	k.ready = true;
	return &k;
}

/* ---- output checks ---- */

static bool in_buffer(const struct cwg_pkt *p)
{
	return p->data >= p->buf && p->len <= p->cap &&
	       (size_t)(p->data - p->buf) <= p->cap - p->len;
}

static bool same_addr(const struct cwg_endpoint *a,
		      const struct cwg_endpoint *b)
{
	size_t n = a->family == 4 ? 4 : 16;

	return a->family == b->family && a->port == b->port &&
	       !memcmp(a->addr, b->addr, n);
}

static void check_datagram(struct fuzz_net *net, int i, struct cwg_pkt *p)
{
	uint32_t type, mtu = net->n[i].dev->mtu;
	bool ok;

	if (!in_buffer(p)) {
		net_fail(net, "node %d emitted a datagram outside its buffer "
			 "(off %td len %u cap %u)", i, p->data - p->buf,
			 p->len, p->cap);
		return;
	}
	if (p->ep.family != 4 && p->ep.family != 6) {
		net_fail(net, "node %d emitted a datagram to family %u", i,
			 p->ep.family);
		return;
	}
	type = cwg_msg_type(p->data, p->len);
	switch (type) {
	case CWG_MSG_INITIATION:
		ok = p->len == CWG_MSG_INITIATION_LEN;
		break;
	case CWG_MSG_RESPONSE:
		ok = p->len == CWG_MSG_RESPONSE_LEN;
		break;
	case CWG_MSG_COOKIE_REPLY:
		ok = p->len == CWG_MSG_COOKIE_REPLY_LEN;
		break;
	case CWG_MSG_DATA:
		/* header + plaintext padded to 16 (or to the MTU) + tag */
		ok = p->len >= CWG_MSG_DATA_MIN_LEN &&
		     ((p->len - CWG_MSG_DATA_MIN_LEN) % 16 == 0 ||
		      p->len - CWG_MSG_DATA_MIN_LEN == mtu);
		break;
	default:
		ok = false;
	}
	if (!ok)
		net_fail(net, "node %d emitted type %u with length %u", i,
			 type, p->len);
}

/* Does delivered packet d match what was sent (zero padding allowed)? */
static bool matches(const struct fuzz_sent *s, const struct cwg_pkt *d)
{
	uint32_t i;

	if (d->len > s->len + 15)
		return false;
	if (memcmp(d->data, s->bytes, d->len < s->len ? d->len : s->len))
		return false;
	for (i = s->len; i < d->len; i++)
		if (d->data[i])
			return false;
	return true;
}

/* A packet node i put out on its tunnel. */
static void check_tun(struct fuzz_net *net, int i, struct cwg_pkt *p)
{
	struct fuzz_node *me = &net->n[i], *from = &net->n[1 - i];
	struct cwg_allowedips_owner *o;
	const uint8_t *d = p->data;
	uint32_t j, total, first;
	int pass;
	int family;

	if (!in_buffer(p)) {
		net_fail(net, "node %d delivered a packet outside its buffer", i);
		return;
	}
	if (!p->peer || p->peer != me->peer) {
		net_fail(net, "node %d delivered a packet from peer %p, not "
			 "from the other node", i, (void *)p->peer);
		return;
	}
	if (p->len >= 20 && d[0] >> 4 == 4) {
		total = cwg_get_be16(d + 2);
		family = 4;
	} else if (p->len >= 40 && d[0] >> 4 == 6) {
		total = 40 + (uint32_t)cwg_get_be16(d + 4);
		family = 6;
	} else {
		net_fail(net, "node %d delivered %u bytes that are no IP "
			 "packet", i, p->len);
		return;
	}
	if (total != p->len) {
		net_fail(net, "node %d delivered %u bytes of a %u-byte packet",
			 i, p->len, total);
		return;
	}
	o = cwg_allowedips_lookup(&me->dev->allowedips, family,
				  d + (family == 4 ? 12 : 8));
	if (o != &me->peer->allowedips) {
		net_fail(net, "node %d delivered a packet whose source is not "
			 "among the sender's allowed IPs", i);
		return;
	}
	me->delivered++;
	if (from->log_full)
		return;
	/*
	 * Which sent packet this was. Contents alone can be ambiguous (a
	 * dropped packet may begin with the bytes of a later one, or equal
	 * it with its padding), and the data path keeps order, so look first
	 * after the packet delivered last, then from the start.
	 */
	first = from->norder ? from->order[from->norder - 1] + 1 : 0;
	for (pass = 0; pass < 2; pass++) {
		for (j = pass ? 0 : first; j < (pass ? first : from->nlog); j++) {
			if (from->log[j].delivered ||
			    !matches(&from->log[j], p))
				continue;
			from->log[j].delivered = true;
			if (from->norder < FUZZ_LOG_MAX)
				from->order[from->norder++] = j;
			return;
		}
	}
	net_fail(net, "node %d delivered a %u-byte packet node %d never sent, "
		 "or delivered it twice", i, p->len, 1 - i);
}

static void ring_add(struct fuzz_net *net, const struct cwg_pkt *p)
{
	struct fuzz_msg *m = &net->ring[net->ring_next++ % FUZZ_RING];

	m->len = p->len < FUZZ_MSG_MAX ? p->len : FUZZ_MSG_MAX;
	memcpy(m->b, p->data, m->len);
}

/* Sort what node i emitted: datagrams to the other node's address go on
 * the wire, the rest (to the ghost, to roamed-away addresses) are lost. */
static void collect(struct fuzz_net *net, int i, struct cwg_out *out)
{
	struct fuzz_node *me = &net->n[i], *other = &net->n[1 - i];
	struct cwg_pkt *p;

	if (out->flush) {
		/* Node 1 defers (node_init): flush as the daemon's TX side
		 * would, right after. */
		struct cwg_pkt_list ready;

		cwg_pkt_list_init(&ready);
		out->flush = false;
		cwg_device_flush(me->dev, net->now, out, &ready);
		cwg_device_send_seal(me->dev, &ready, out);
	}
	while ((p = cwg_pkt_list_pop(&out->net))) {
		check_datagram(net, i, p);
		if (net->err) {
			cwg_pkt_free(p);
			continue;
		}
		ring_add(net, p);
		if (!same_addr(&p->ep, &other->addr)) {
			cwg_pkt_free(p);
			continue;
		}
		if (me->wire.count >= FUZZ_WIRE_MAX)
			cwg_pkt_free(cwg_pkt_list_pop(&me->wire));
		cwg_pkt_list_append(&me->wire, p);
	}
	while ((p = cwg_pkt_list_pop(&out->tun))) {
		if (!net->err)
			check_tun(net, i, p);
		cwg_pkt_free(p);
	}
}

void fuzz_net_receive(struct fuzz_net *net, int i, struct cwg_pkt_list *in)
{
	struct cwg_out out;

	cwg_out_init(&out);
	cwg_device_receive(net->n[i].dev, in, net->now, &out);
	if (in->count || in->head)
		net_fail(net, "node %d left %u packets in the receive batch", i,
			 in->count);
	collect(net, i, &out);
}

void fuzz_net_send(struct fuzz_net *net, int i, struct cwg_pkt_list *in)
{
	struct cwg_out out;

	cwg_out_init(&out);
	cwg_device_send(net->n[i].dev, in, net->now, &out);
	if (in->count || in->head)
		net_fail(net, "node %d left %u packets in the send batch", i,
			 in->count);
	collect(net, i, &out);
}

void fuzz_net_tick(struct fuzz_net *net, int i)
{
	struct cwg_out out;

	cwg_out_init(&out);
	cwg_device_tick(net->n[i].dev, net->now, &out);
	collect(net, i, &out);
}

uint32_t fuzz_net_deliver(struct fuzz_net *net, int from,
			  const struct cwg_endpoint *src, uint32_t max)
{
	struct cwg_pkt_list in;
	struct cwg_pkt *p;
	uint32_t n = 0;

	cwg_pkt_list_init(&in);
	while (n < max && (p = cwg_pkt_list_pop(&net->n[from].wire))) {
		p->ep = *src;
		p->peer = NULL;
		cwg_pkt_list_append(&in, p);
		n++;
	}
	if (n)
		fuzz_net_receive(net, 1 - from, &in);
	return n;
}

void fuzz_net_drop_wire(struct fuzz_net *net, int i)
{
	struct cwg_pkt *p;

	while ((p = cwg_pkt_list_pop(&net->n[i].wire)))
		cwg_pkt_free(p);
}

void fuzz_net_source(const struct fuzz_net *net, int from, uint8_t sel,
		     struct cwg_endpoint *ep)
{
	memset(ep, 0, sizeof(*ep));
	switch (sel % 5) {
	case 0: /* where the sender really is */
		*ep = net->n[from].addr;
		break;
	case 1:
		ep->family = 4;
		ep->port = 666;
		memcpy(ep->addr, (const uint8_t[]){ 203, 0, 113, 9 }, 4);
		break;
	case 2: /* IPv6, arriving on a particular local address */
		ep->family = 6;
		ep->port = 666;
		ep->addr[0] = 0x20;
		ep->addr[1] = 0x01;
		ep->addr[2] = 0x0d;
		ep->addr[3] = 0xb8;
		ep->addr[15] = 9;
		ep->src_addr[0] = 0xfe;
		ep->src_addr[1] = 0x80;
		ep->src_addr[15] = 1;
		ep->src_ifindex = 3;
		break;
	case 3: /* the real sender's IPv4 address on a dual-stack socket */
		ep->family = 6;
		ep->port = net->n[from].addr.port;
		ep->addr[10] = 0xff;
		ep->addr[11] = 0xff;
		memcpy(ep->addr + 12, net->n[from].addr.addr, 4);
		break;
	case 4: /* the real sender, with a sticky local address */
		*ep = net->n[from].addr;
		ep->src_addr[0] = 192;
		ep->src_addr[1] = 0;
		ep->src_addr[2] = 2;
		ep->src_addr[3] = (uint8_t)(200 + from);
		ep->src_ifindex = 2;
		break;
	}
}

struct cwg_pkt *fuzz_net_plaintext(struct fuzz_net *net, int i,
				   const uint8_t *bytes, uint32_t len)
{
	struct fuzz_node *me = &net->n[i];
	struct cwg_pkt *p = fuzz_pkt_new(CWG_DATA_HEADROOM, len,
					 CWG_DATA_TAILROOM);

	if (!p)
		return NULL;
	memcpy(p->data, bytes, len);
	if (me->nlog == FUZZ_LOG_MAX) {
		me->log_full = true;
	} else if (!me->log_full) {
		struct fuzz_sent *s = &me->log[me->nlog];

		s->bytes = malloc(len ? len : 1);
		if (!s->bytes) {
			me->log_full = true;
		} else {
			memcpy(s->bytes, bytes, len);
			s->len = len;
			s->delivered = false;
			me->nlog++;
		}
	}
	return p;
}

uint32_t fuzz_net_ip_packet(const struct fuzz_net *net, int i, int kind,
			    uint32_t seq, uint8_t *out, uint32_t cap)
{
	const struct fuzz_node *me = &net->n[i], *to = &net->n[1 - i];
	uint32_t len = kind == 0 || kind == 2 ? 60 : 80, hdr;

	if (cap < len)
		return 0;
	memset(out, 0, len);
	if (kind == 0 || kind == 2) {
		out[0] = 0x45;
		out[2] = (uint8_t)(len >> 8);
		out[3] = (uint8_t)len;
		out[8] = 64;
		out[9] = 17;
		memcpy(out + 12, me->inner4, 4);
		if (kind == 0)
			memcpy(out + 16, to->inner4, 4);
		else
			memcpy(out + 16, (const uint8_t[]){ 198, 51, 100, 7 },
			       4);
		hdr = 20;
	} else {
		out[0] = 0x60;
		out[4] = (uint8_t)((len - 40) >> 8);
		out[5] = (uint8_t)(len - 40);
		out[6] = 17;
		out[7] = 64;
		memcpy(out + 8, me->inner6, 16);
		if (kind == 1) {
			memcpy(out + 24, to->inner6, 16);
		} else {
			out[24] = 0x20;
			out[25] = 0x01;
			out[26] = 0x0d;
			out[27] = 0xb8;
			out[39] = 0x77;
		}
		hdr = 40;
	}
	/* UDP 51000 -> 7, carrying the sequence number */
	out[hdr] = 0xc7;
	out[hdr + 1] = 0x38;
	out[hdr + 3] = 7;
	out[hdr + 4] = (uint8_t)((len - hdr) >> 8);
	out[hdr + 5] = (uint8_t)(len - hdr);
	cwg_put_be32(out + hdr + 8, seq);
	return len;
}

/* ---- state invariants ---- */

static int check_index(struct cwg_device *dev, const struct noise_index *idx,
		       enum noise_index_kind kind)
{
	if (!idx->registered)
		return 0;
	if (idx->kind != kind ||
	    cwg_index_table_find(&dev->index, idx->entry.index) != &idx->entry)
		return -1;
	return 1;
}

static void check_device(struct fuzz_net *net, int i)
{
	struct cwg_device *dev = net->n[i].dev;
	struct cwg_peer *p, *prev = NULL;
	uint32_t npeers = 0, nidx = 0, nfound = 0, b;
	struct cwg_hash_entry *e;

	for (p = dev->first; p; prev = p, p = p->next) {
		struct cwg_keypair *kp[3] = { p->kp_previous, p->kp_current,
					      p->kp_next };
		struct cwg_pkt *s;
		uint32_t nstaged = 0;
		int k, m, r;

		if (p->prev != prev || p->dev != dev ||
		    cwg_pubkey_table_find(&dev->peers_by_key,
					  p->pubkey.pubkey) != &p->pubkey) {
			net_fail(net, "node %d: peer list or key table broken",
				 i);
			return;
		}
		for (k = 0; k < 3; k++) {
			if (!kp[k])
				continue;
			for (m = 0; m < k; m++)
				if (kp[m] == kp[k])
					net_fail(net, "node %d: one keypair in "
						 "two slots", i);
			if (kp[k]->peer != p || kp[k]->refcount != 1)
				net_fail(net, "node %d: keypair slot %d has "
					 "peer %p, refcount %u", i, k,
					 (void *)kp[k]->peer, kp[k]->refcount);
			r = check_index(dev, &kp[k]->idx, CWG_INDEX_KEYPAIR);
			if (r != 1)
				net_fail(net, "node %d: keypair slot %d not "
					 "(correctly) in the index table", i,
					 k);
			nidx++;
		}
		r = check_index(dev, &p->hs.idx, CWG_INDEX_HANDSHAKE);
		if (r < 0)
			net_fail(net, "node %d: handshake index wrong", i);
		nidx += r > 0;
		if ((p->hs.state == HS_CREATED_INITIATION) != (r == 1))
			net_fail(net, "node %d: handshake state %d with index "
				 "%s", i, (int)p->hs.state,
				 r == 1 ? "registered" : "unregistered");
		for (s = p->staged.head; s && nstaged <= p->staged.count;
		     s = s->next)
			nstaged++;
		if (nstaged != p->staged.count ||
		    (nstaged && *p->staged.tail) ||
		    (!nstaged && p->staged.tail != &p->staged.head))
			net_fail(net, "node %d: staged list broken (%u vs %u)",
				 i, nstaged, p->staged.count);
		if (p->staged.count > CWG_MAX_STAGED_PACKETS)
			net_fail(net, "node %d: %u staged packets", i,
				 p->staged.count);
		if (p->endpoint.family != 0 && p->endpoint.family != 4 &&
		    p->endpoint.family != 6)
			net_fail(net, "node %d: endpoint family %u", i,
				 p->endpoint.family);
		npeers++;
	}
	if (dev->last != prev || npeers != dev->peer_count ||
	    npeers != dev->peers_by_key.ht.count)
		net_fail(net, "node %d: %u peers listed, count %u, table %u", i,
			 npeers, dev->peer_count, dev->peers_by_key.ht.count);
	if (dev->index.ht.buckets)
		for (b = 0; b <= dev->index.ht.mask; b++)
			for (e = dev->index.ht.buckets[b]; e; e = e->next)
				nfound++;
	if (nfound != dev->index.ht.count || nfound != nidx)
		net_fail(net, "node %d: index table holds %u (count %u), "
			 "%u live handshakes and keypairs", i, nfound,
			 dev->index.ht.count, nidx);
}

int fuzz_net_check(struct fuzz_net *net)
{
	check_device(net, 0);
	check_device(net, 1);
	return net->err;
}

void fuzz_net_report(struct fuzz_net *net)
{
	int i, d;

	memset(fuzz_net_last.drops, 0, sizeof(fuzz_net_last.drops));
	fuzz_net_last.delivered = 0;
	for (i = 0; i < 2; i++) {
		struct cwg_device_stats st;

		cwg_device_get_stats(net->n[i].dev, &st);
		for (d = 0; d < CWG_DROP_MAX; d++)
			fuzz_net_last.drops[d] += st.drops[d];
		fuzz_net_last.delivered += net->n[i].delivered;
	}
}

/* ---- set-up ---- */

static bool node_init(struct fuzz_net *net, int i,
		      const struct fuzz_keys *k)
{
	struct fuzz_node *me = &net->n[i];
	struct cwg_endpoint ghost = { .family = 4, .port = 51820,
				      .addr = { 203, 0, 113, 50 } };
	static const uint8_t any4[4];
	int other = 1 - i, ret;

	me->rng.s = 0xf022ed00u + (uint64_t)i;
	me->dev = cwg_device_new(fuzz_rng_fill, &me->rng);
	if (!me->dev)
		return false;
	cwg_pkt_list_init(&me->wire);
	me->addr.family = 4;
	me->addr.port = (uint16_t)(51821 + i);
	me->addr.addr[0] = 192;
	me->addr.addr[2] = 2;
	me->addr.addr[3] = (uint8_t)(1 + i);
	me->inner4[0] = 10;
	me->inner4[3] = (uint8_t)(1 + i);
	me->inner6[0] = 0xfd;
	me->inner6[15] = (uint8_t)(1 + i);
	cwg_device_set_wall_offset(me->dev, 1700000000LL * 1000000000LL);
	/* Node 1 runs the core as the daemon does: staged packets a
	 * handshake or timer releases wait for cwg_device_flush. */
	cwg_device_set_deferred_flush(me->dev, i == 1);

	/* The other node's addresses, filled in symmetrically. */
	{
		uint8_t o4[4] = { 10, 0, 0, (uint8_t)(1 + other) };
		uint8_t o6[16] = { 0xfd };
		struct cwg_endpoint oep = { .family = 4,
					    .port = (uint16_t)(51821 + other),
					    .addr = { 192, 0, 2,
						      (uint8_t)(1 + other) } };

		o6[15] = (uint8_t)(1 + other);
		cwg_device_cfg_lock(me->dev);
		cwg_device_set_private_key(me->dev, k->priv[i]);
		ret = cwg_device_add_peer(me->dev, k->pub[other], &me->peer);
		if (!ret) {
			cwg_peer_set_endpoint(me->peer, &oep);
			cwg_peer_set_preshared_key(me->peer, k->psk);
			ret = cwg_peer_add_allowed_ip(me->peer, 4, o4, 32) |
			      cwg_peer_add_allowed_ip(me->peer, 6, o6, 128);
		}
		if (!ret)
			ret = cwg_device_add_peer(me->dev, k->pub[2],
						  &me->ghost);
		if (!ret) {
			cwg_peer_set_endpoint(me->ghost, &ghost);
			ret = cwg_peer_add_allowed_ip(me->ghost, 4, any4, 0);
		}
		cwg_device_cfg_unlock(me->dev);
	}
	return ret == 0;
}

/* Copy the first datagram of `type` (and length len, if non-zero) on node
 * i's wire into capture slot c. */
static bool capture(struct fuzz_net *net, int i, uint32_t type, uint32_t len,
		    int c)
{
	struct cwg_pkt *p;

	for (p = net->n[i].wire.head; p; p = p->next) {
		if (cwg_msg_type(p->data, p->len) != type ||
		    (len && p->len != len) || p->len > FUZZ_MSG_MAX)
			continue;
		net->cap[c].len = p->len;
		memcpy(net->cap[c].b, p->data, p->len);
		return true;
	}
	return false;
}

static void send_one(struct fuzz_net *net, int i, uint32_t seq)
{
	uint8_t b[128];
	uint32_t len = fuzz_net_ip_packet(net, i, 0, seq, b, sizeof(b));
	struct cwg_pkt_list in;
	struct cwg_pkt *p = fuzz_net_plaintext(net, i, b, len);

	cwg_pkt_list_init(&in);
	if (p)
		cwg_pkt_list_append(&in, p);
	fuzz_net_send(net, i, &in);
}

static bool handshake_script(struct fuzz_net *net)
{
	struct cwg_device_stats sa, sb;
	struct cwg_endpoint a = net->n[0].addr, b = net->n[1].addr;
	bool ok = true;

	send_one(net, 0, 0);
	ok &= capture(net, 0, CWG_MSG_INITIATION, 0, FUZZ_CAP_INIT);
	fuzz_net_deliver(net, 0, &a, FUZZ_WIRE_MAX);
	ok &= capture(net, 1, CWG_MSG_RESPONSE, 0, FUZZ_CAP_RESP);
	fuzz_net_deliver(net, 1, &b, FUZZ_WIRE_MAX);
	ok &= capture(net, 0, CWG_MSG_DATA, 0, FUZZ_CAP_DATA_A);
	fuzz_net_deliver(net, 0, &a, FUZZ_WIRE_MAX);
	send_one(net, 1, 0);
	ok &= capture(net, 1, CWG_MSG_DATA, 0, FUZZ_CAP_DATA_B);
	fuzz_net_deliver(net, 1, &b, FUZZ_WIRE_MAX);

	/* A heard B and said nothing: a keepalive 10 s later. */
	net->now += 10 * FUZZ_SEC;
	fuzz_net_tick(net, 0);
	fuzz_net_tick(net, 1);
	ok &= capture(net, 0, CWG_MSG_DATA, CWG_MSG_DATA_MIN_LEN,
		      FUZZ_CAP_KEEPALIVE);
	fuzz_net_deliver(net, 0, &a, FUZZ_WIRE_MAX);

	/* B under load answers the (replayed) initiation with a cookie. */
	cwg_device_set_handshake_backlog(net->n[1].dev, CWG_UNDER_LOAD_BACKLOG,
					 net->now);
	{
		struct cwg_pkt_list in;
		struct cwg_pkt *p = fuzz_pkt_new(0, net->cap[FUZZ_CAP_INIT].len,
						 0);

		cwg_pkt_list_init(&in);
		if (p) {
			memcpy(p->data, net->cap[FUZZ_CAP_INIT].b, p->len);
			p->ep = a;
			cwg_pkt_list_append(&in, p);
		}
		fuzz_net_receive(net, 1, &in);
	}
	cwg_device_set_handshake_backlog(net->n[1].dev, 0, net->now);
	ok &= capture(net, 1, CWG_MSG_COOKIE_REPLY, 0, FUZZ_CAP_COOKIE);
	fuzz_net_deliver(net, 1, &b, FUZZ_WIRE_MAX);

	/* Past the under-load second. */
	net->now += 2 * FUZZ_SEC;
	fuzz_net_tick(net, 0);
	fuzz_net_tick(net, 1);

	cwg_device_get_stats(net->n[0].dev, &sa);
	cwg_device_get_stats(net->n[1].dev, &sb);
	return ok && !net->err && sa.handshakes_completed == 1 &&
	       sb.handshakes_completed == 1 && sa.cookie_replies_rx == 1 &&
	       net->n[0].delivered == 1 && net->n[1].delivered == 1 &&
	       !net->n[0].wire.count && !net->n[1].wire.count;
}

static uint64_t live_at_start;

struct fuzz_net *fuzz_net_new(bool *setup_ok)
{
	const struct fuzz_keys *k;
	struct fuzz_net *net;

	*setup_ok = false;
	if (!fuzz_init() || !(k = net_keys()))
		return NULL;
	net = calloc(1, sizeof(*net));
	if (!net)
		return NULL;
	live_at_start = fuzz_pkts_live();
	net->now = 1000 * FUZZ_SEC;
	if (!node_init(net, 0, k) || !node_init(net, 1, k)) {
		fuzz_net_free(net);
		return NULL;
	}
	*setup_ok = handshake_script(net) && !fuzz_net_check(net);
	return net;
}

int fuzz_net_free(struct fuzz_net *net)
{
	uint32_t j;
	int i;

	for (i = 0; i < 2; i++) {
		fuzz_net_drop_wire(net, i);
		cwg_device_free(net->n[i].dev);
		for (j = 0; j < net->n[i].nlog; j++)
			free(net->n[i].log[j].bytes);
	}
	if (fuzz_pkts_live() != live_at_start)
		net_fail(net, "%llu packet buffers leaked (or freed twice)",
			 (unsigned long long)(fuzz_pkts_live() - live_at_start));
	i = net->err;
	free(net);
	return i;
}
