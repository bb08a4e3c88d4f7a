/* SPDX-License-Identifier: MIT */
/*
 * The single-tunnel API (<cwg/tunnel.h>) over the device API: one device,
 * one peer that owns every address, and a queue of results the caller
 * takes one at a time into its own buffers.
 */
#include <cwg/tunnel.h>

#include "../base.h"

struct cwg_tunnel {
	struct cwg_device *dev;
	struct cwg_peer *peer;
	/* Results not yet handed out, in order; a tunnel result is marked
	 * by ep.family 0 (a datagram always has a destination). */
	struct cwg_pkt_list order;
	/* Results pushed out of a full queue, reported among the device's
	 * no_buffer drops. */
	uint64_t overflow;
};

int cwg_tunnel_new(const struct cwg_tunnel_config *cfg,
		   struct cwg_tunnel **out)
{
	static const uint8_t any[16];
	struct cwg_tunnel *t;
	int r;

	if (!cfg || !cfg->private_key || !cfg->peer_public_key)
		return -CWG_EINVAL;
	t = cwg_zalloc(sizeof(*t));
	if (!t)
		return -CWG_ENOMEM;
	cwg_pkt_list_init(&t->order);
	t->dev = cwg_device_new(cfg->rng, cfg->rng_ctx);
	if (!t->dev) {
		cwg_free(t);
		return -CWG_ENOMEM;
	}
	cwg_device_set_wall_offset(t->dev, cfg->wall_minus_mono_ns);
	cwg_device_set_mtu(t->dev, cfg->mtu ? cfg->mtu : 1420);
	cwg_device_cfg_lock(t->dev);
	cwg_device_set_private_key(t->dev, cfg->private_key);
	r = cwg_device_add_peer(t->dev, cfg->peer_public_key, &t->peer);
	if (!r && cfg->preshared_key)
		cwg_peer_set_preshared_key(t->peer, cfg->preshared_key);
	if (!r && cfg->endpoint && cfg->endpoint->family)
		cwg_peer_set_endpoint(t->peer, cfg->endpoint);
	if (!r)
		cwg_peer_set_persistent_keepalive(t->peer,
						  cfg->persistent_keepalive);
	if (!r)
		r = cwg_peer_add_allowed_ip(t->peer, 4, any, 0);
	if (!r)
		r = cwg_peer_add_allowed_ip(t->peer, 6, any, 0);
	cwg_device_cfg_unlock(t->dev);
	if (r) {
		cwg_device_free(t->dev);
		cwg_free(t);
		return r;
	}
	*out = t;
	return 0;
}

void cwg_tunnel_free(struct cwg_tunnel *t)
{
	if (!t)
		return;
	while (t->order.head)
		cwg_pkt_free(cwg_pkt_list_pop(&t->order));
	cwg_device_free(t->dev);
	cwg_free(t);
}

/* Queues what a device call produced: datagrams first, so replies go
 * out promptly, then packets for the host's stack. */
static void take(struct cwg_tunnel *t, struct cwg_out *o)
{
	struct cwg_pkt *p;

	while ((p = cwg_pkt_list_pop(&o->net)))
		cwg_pkt_list_append(&t->order, p);
	while ((p = cwg_pkt_list_pop(&o->tun))) {
		p->ep.family = 0; /* a tunnel result */
		cwg_pkt_list_append(&t->order, p);
	}
	while (t->order.count > CWG_TUNNEL_MAX_QUEUED) {
		cwg_pkt_free(cwg_pkt_list_pop(&t->order));
		t->overflow++;
	}
}

int cwg_tunnel_poll(struct cwg_tunnel *t, struct cwg_tunnel_out *out)
{
	struct cwg_pkt *p = t->order.head;
	int r;

	out->len = 0;
	if (!p)
		return CWG_TUNNEL_DONE;
	if (p->len > out->cap)
		return -CWG_ENOSPC;
	cwg_pkt_list_pop(&t->order);
	cwg_memcpy(out->data, p->data, p->len);
	out->len = p->len;
	if (p->ep.family) {
		out->ep = p->ep;
		r = CWG_TUNNEL_NETWORK;
	} else {
		r = CWG_TUNNEL_TUNNEL;
	}
	cwg_pkt_free(p);
	return r;
}

/* The reason the last call dropped its input, if its drop count grew:
 * the device counts each drop by reason. */
static enum cwg_drop dropped(const struct cwg_device_stats *before,
			     struct cwg_device *dev)
{
	struct cwg_device_stats now;
	int i;

	cwg_device_get_stats(dev, &now);
	for (i = 0; i < CWG_DROP_MAX; i++)
		if (now.drops[i] != before->drops[i])
			return (enum cwg_drop)i;
	return CWG_DROP_MAX;
}

/* The result of a call that fed one input: the first queued output, or
 * why the input went nowhere. */
static int result(struct cwg_tunnel *t, const struct cwg_device_stats *before,
		  struct cwg_tunnel_out *out)
{
	int r = cwg_tunnel_poll(t, out);

	if (r != CWG_TUNNEL_DONE)
		return r;
	out->drop = dropped(before, t->dev);
	return out->drop == CWG_DROP_MAX ? CWG_TUNNEL_DONE :
					   CWG_TUNNEL_DROPPED;
}

/* A packet buffer holding a copy of data, with room for the core to
 * seal it in place. */
static struct cwg_pkt *copy_in(const uint8_t *data, size_t len,
			       uint32_t tailroom)
{
	struct cwg_pkt *p = cwg_pkt_alloc();

	if (!p)
		return NULL;
	if (p->data < p->buf + CWG_DATA_HEADROOM ||
	    len + tailroom > (size_t)(p->buf + p->cap - p->data)) {
		cwg_pkt_free(p);
		return NULL;
	}
	cwg_memcpy(p->data, data, len);
	p->len = (uint32_t)len;
	p->next = NULL;
	p->peer = NULL;
	return p;
}

/* One input through the device: a packet for the peer (src NULL) or a
 * datagram from src. */
static int feed(struct cwg_tunnel *t, const struct cwg_endpoint *src,
		const uint8_t *data, size_t len, uint64_t now,
		struct cwg_tunnel_out *out)
{
	struct cwg_device_stats before;
	struct cwg_pkt_list in;
	struct cwg_out o;
	struct cwg_pkt *p;

	cwg_device_get_stats(t->dev, &before);
	out->drop = CWG_DROP_MAX;
	p = copy_in(data, len, src ? 0 : CWG_DATA_TAILROOM);
	if (!p) {
		out->drop = CWG_DROP_NO_BUFFER;
		return CWG_TUNNEL_DROPPED;
	}
	cwg_pkt_list_init(&in);
	cwg_pkt_list_append(&in, p);
	cwg_out_init(&o);
	if (src) {
		p->ep = *src;
		cwg_device_receive(t->dev, &in, now, &o);
	} else {
		cwg_device_send(t->dev, &in, now, &o);
	}
	take(t, &o);
	return result(t, &before, out);
}

int cwg_tunnel_encapsulate(struct cwg_tunnel *t, const uint8_t *pkt,
			   size_t len, uint64_t now, struct cwg_tunnel_out *out)
{
	return feed(t, NULL, pkt, len, now, out);
}

int cwg_tunnel_decapsulate(struct cwg_tunnel *t,
			   const struct cwg_endpoint *src, const uint8_t *dgram,
			   size_t len, uint64_t now, struct cwg_tunnel_out *out)
{
	return feed(t, src, dgram, len, now, out);
}

int cwg_tunnel_update_timers(struct cwg_tunnel *t, uint64_t now,
			     struct cwg_tunnel_out *out)
{
	struct cwg_out o;

	cwg_out_init(&o);
	cwg_device_tick(t->dev, now, &o);
	take(t, &o);
	out->drop = CWG_DROP_MAX;
	return cwg_tunnel_poll(t, out);
}

void cwg_tunnel_get_stats(struct cwg_tunnel *t, struct cwg_tunnel_stats *st)
{
	struct cwg_peer_info info;

	cwg_device_cfg_rdlock(t->dev);
	cwg_peer_get_info(t->peer, &info);
	cwg_device_cfg_unlock(t->dev);
	st->tx_bytes = info.tx_bytes;
	st->rx_bytes = info.rx_bytes;
	st->last_handshake_wall_ns = info.last_handshake_wall_ns;
	st->endpoint = info.endpoint;
	cwg_wipe(&info, sizeof(info));
	cwg_device_get_stats(t->dev, &st->device);
	st->device.drops[CWG_DROP_NO_BUFFER] += t->overflow;
}
