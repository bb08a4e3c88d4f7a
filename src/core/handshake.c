/* SPDX-License-Identifier: MIT */
/*
 * WireGuard's handshake messages around the Noise pattern (noise.c): the
 * index fields, TAI64N timestamps with replay and flood checks, MACs and
 * cookies, and the keypair slots a completed handshake fills.
 */
#include "../crypto/crypto.h"
#include "messages.h"
#include "peer.h"

static const uint8_t wg_identifier[] = "WireGuard v1 zx2c4 Jason@zx2c4.com";
#define WG_IDENTIFIER_LEN (sizeof(wg_identifier) - 1)

/* TAI64N rounded down to 2^24 ns (~16.8 ms, the power of two just below
 * 1 s / INITIATIONS_PER_SECOND), as the kernel does, so the timestamp does
 * not leak a precise clock. */
static void tai64n_now(const struct cwg_device *dev, uint64_t now,
		       uint8_t out[CWG_TAI64N_LEN])
{
	uint64_t wall = now + (uint64_t)cwg_atomic_load_relaxed(&dev->wall_offset);
	uint64_t sec = wall / CWG_NSEC_PER_SEC;
	uint32_t nsec = (uint32_t)(wall % CWG_NSEC_PER_SEC);

	nsec &= ~((1U << 24) - 1);
	cwg_put_be64(out, 0x400000000000000aULL + sec);
	cwg_put_be32(out + 8, nsec);
}

static void new_ephemeral(struct cwg_device *dev, uint8_t e[CWG_KEY_LEN])
{
	dev->rng(dev->rng_ctx, e, CWG_KEY_LEN);
	cwg_x25519_clamp(e);
}

/* Give idx a fresh random index, unique in the device's table. */
static bool index_register(struct cwg_device *dev, struct noise_index *idx,
			   enum noise_index_kind kind)
{
	uint8_t r[4];
	int ret;

	idx->kind = (uint8_t)kind;
	cwg_mutex_lock(&dev->index_lock);
	do {
		dev->rng(dev->rng_ctx, r, sizeof(r));
		idx->entry.index = cwg_get_le32(r);
		ret = cwg_index_table_insert(&dev->index, &idx->entry);
	} while (ret == 1);
	idx->registered = ret == 0;
	cwg_mutex_unlock(&dev->index_lock);
	return idx->registered;
}

static void index_unregister(struct cwg_device *dev, struct noise_index *idx)
{
	if (!idx->registered)
		return;
	cwg_mutex_lock(&dev->index_lock);
	cwg_index_table_remove(&dev->index, &idx->entry);
	idx->registered = false;
	cwg_mutex_unlock(&dev->index_lock);
}

/* Hand idx's index number over to a keypair: one table operation, so a
 * lookup never sees the index missing in between. */
static void index_move(struct cwg_device *dev, struct noise_index *from,
		       struct noise_index *to, enum noise_index_kind kind)
{
	to->kind = (uint8_t)kind;
	to->entry.index = from->entry.index;
	cwg_mutex_lock(&dev->index_lock);
	cwg_index_table_remove(&dev->index, &from->entry);
	from->registered = false;
	/* Cannot collide: the number was just freed, under the same lock. */
	to->registered = cwg_index_table_insert(&dev->index, &to->entry) == 0;
	cwg_mutex_unlock(&dev->index_lock);
}

void cwg_handshake_clear(struct cwg_peer *peer)
{
	struct cwg_handshake *hs = &peer->hs;
	uint8_t ts[12];
	uint64_t last = hs->last_initiation_consumption;
	bool consumed = hs->have_consumed_initiation;

	index_unregister(peer->dev, &hs->idx);
	/* The replay and flood state outlives the handshake: clearing it would
	 * let an old initiation be replayed. */
	cwg_memcpy(ts, hs->latest_timestamp, sizeof(ts));
	cwg_wipe(hs, sizeof(*hs));
	cwg_memcpy(hs->latest_timestamp, ts, sizeof(ts));
	hs->last_initiation_consumption = last;
	hs->have_consumed_initiation = consumed;
}

static void keypair_destroy(struct cwg_keypair *kp)
{
	struct cwg_peer *peer = kp->peer;

	cwg_mutex_destroy(&kp->replay_lock);
	cwg_wipe(kp, sizeof(*kp));
	cwg_free(kp);
	cwg_count(peer->dev, keypairs_wiped);
	cwg_peer_put(peer);
}

void cwg_keypair_put(struct cwg_keypair *kp)
{
	if (kp && cwg_atomic_sub_fetch(&kp->refcount, 1) == 0)
		keypair_destroy(kp);
}

/* Take a keypair out of service: no new lookups find it; the last holder
 * wipes it. */
static void keypair_retire(struct cwg_keypair *kp)
{
	if (!kp)
		return;
	index_unregister(kp->peer->dev, &kp->idx);
	cwg_keypair_put(kp);
}

void cwg_peer_clear_keypairs(struct cwg_peer *peer)
{
	keypair_retire(peer->kp_previous);
	keypair_retire(peer->kp_current);
	keypair_retire(peer->kp_next);
	peer->kp_previous = peer->kp_current = peer->kp_next = NULL;
}

void cwg_peer_expire_current_keypairs(struct cwg_peer *peer)
{
	cwg_handshake_clear(peer);
	peer->have_sent_handshake = false;
	if (peer->kp_next)
		peer->kp_next->send_valid = false;
	if (peer->kp_current)
		peer->kp_current->send_valid = false;
}

/*
 * Slot rotation, as the kernel does it. The initiator may send at once, so
 * its new keypair becomes current. The responder must wait for the
 * initiator's first data packet (proof that it has the keys) and parks the
 * new keypair in next.
 */
static void add_new_keypair(struct cwg_peer *peer, struct cwg_keypair *kp)
{
	if (kp->initiator) {
		if (peer->kp_next) {
			keypair_retire(peer->kp_previous);
			peer->kp_previous = peer->kp_next;
			peer->kp_next = NULL;
			keypair_retire(peer->kp_current);
		} else {
			keypair_retire(peer->kp_previous);
			peer->kp_previous = peer->kp_current;
		}
		peer->kp_current = kp;
	} else {
		keypair_retire(peer->kp_next);
		peer->kp_next = kp;
		keypair_retire(peer->kp_previous);
		peer->kp_previous = NULL;
	}
}

bool cwg_peer_received_with_keypair(struct cwg_peer *peer, struct cwg_keypair *kp)
{
	if (peer->kp_next != kp)
		return false;
	keypair_retire(peer->kp_previous);
	peer->kp_previous = peer->kp_current;
	peer->kp_current = kp;
	peer->kp_next = NULL;
	return true;
}

/* Derive the session from a finished handshake; it takes over the
 * handshake's index. */
static bool begin_session(struct cwg_peer *peer, bool initiator, uint64_t now)
{
	struct cwg_handshake *hs = &peer->hs;
	struct cwg_keypair *kp = cwg_zalloc(sizeof(*kp));

	if (!kp)
		return false;
	cwg_peer_get(peer);
	kp->peer = peer;
	kp->refcount = 1;
	kp->initiator = initiator;
	kp->send_valid = true;
	kp->birth = now;
	kp->remote_index = hs->remote_index;
	cwg_mutex_init(&kp->replay_lock);
	cwg_replay_init(&kp->replay);
	if (initiator)
		cwg_noise_split(&hs->ns, kp->send_key, kp->recv_key);
	else
		cwg_noise_split(&hs->ns, kp->recv_key, kp->send_key);
	index_move(peer->dev, &hs->idx, &kp->idx, NOISE_INDEX_KEYPAIR);
	add_new_keypair(peer, kp);
	cwg_handshake_clear(peer);
	cwg_count(peer->dev, handshakes_completed);
	cwg_timers_session_derived(peer, now);
	return true;
}

static struct cwg_pkt *control_pkt(struct cwg_device *dev, uint32_t len)
{
	struct cwg_pkt *pkt = cwg_pkt_alloc();

	if (!pkt) {
		cwg_drop(dev, CWG_DROP_NO_BUFFER);
		return NULL;
	}
	if (pkt->data < pkt->buf || pkt->data + len > pkt->buf + pkt->cap) {
		cwg_drop_pkt(dev, pkt, CWG_DROP_NO_BUFFER);
		return NULL;
	}
	pkt->len = len;
	pkt->peer = NULL;
	cwg_memset(pkt->data, 0, len);
	return pkt;
}

struct cwg_pkt *cwg_handshake_create_initiation(struct cwg_peer *peer, uint64_t now)
{
	struct cwg_device *dev = peer->dev;
	struct cwg_handshake *hs = &peer->hs;
	uint8_t e[CWG_KEY_LEN], ts[CWG_TAI64N_LEN];
	struct cwg_pkt *pkt;
	uint8_t *msg;
	bool ok;

	if (!dev->have_identity) {
		cwg_drop(dev, CWG_DROP_NO_PRIVATE_KEY);
		return NULL;
	}
	pkt = control_pkt(dev, CWG_MSG_INITIATION_LEN);
	if (!pkt)
		return NULL;
	msg = pkt->data;
	cwg_handshake_clear(peer);
	cwg_noise_state_init(&hs->ns, wg_identifier, WG_IDENTIFIER_LEN,
			 peer->pubkey.pubkey);
	new_ephemeral(dev, e);
	tai64n_now(dev, now, ts);
	ok = cwg_noise_write_msg1(&hs->ns, e, dev->static_pub, peer->pubkey.pubkey,
			      peer->ss, ts, sizeof(ts),
			      msg + CWG_INIT_EPHEMERAL);
	cwg_wipe(e, sizeof(e));
	if (!ok || !index_register(dev, &hs->idx, NOISE_INDEX_HANDSHAKE)) {
		cwg_handshake_clear(peer);
		cwg_drop_pkt(dev, pkt, CWG_DROP_HANDSHAKE_INVALID);
		return NULL;
	}
	cwg_msg_set_type(msg, CWG_MSG_INITIATION);
	cwg_put_le32(msg + CWG_INIT_SENDER, hs->idx.entry.index);
	cwg_cookie_maker_add_macs(&peer->cookie, msg, CWG_INIT_MAC1, now);
	hs->state = HS_CREATED_INITIATION;
	return pkt;
}

static bool under_load(struct cwg_device *dev, uint64_t now)
{
	uint64_t last;

	if (cwg_atomic_load_relaxed(&dev->backlog) >= CWG_UNDER_LOAD_BACKLOG) {
		cwg_atomic_store_relaxed(&dev->last_under_load, now);
		return true;
	}
	last = cwg_atomic_load_relaxed(&dev->last_under_load);
	return last && !cwg_expired(last, now, CWG_UNDER_LOAD_AFTER_NS);
}

/*
 * mac1 always; under load, mac2 too, and a message without a valid one
 * is answered with a cookie reply instead (in pkt's own buffer), and one
 * with a valid mac2 still passes only within its source's rate. Returns
 * true when the message may go on to the expensive Noise work.
 */
static bool check_macs(struct cwg_device *dev, struct cwg_pkt *pkt,
		       size_t mac_off, uint32_t sender, uint64_t now,
		       struct cwg_out *out)
{
	bool load = under_load(dev, now);
	enum cookie_mac_state st;
	uint8_t reply[CWG_MSG_COOKIE_REPLY_LEN];

	st = cwg_cookie_checker_validate(&dev->cookie, pkt->data, mac_off, &pkt->ep,
				     load, now, dev->rng, dev->rng_ctx);
	if (st == COOKIE_MAC_INVALID) {
		cwg_drop_pkt(dev, pkt, CWG_DROP_BAD_MAC1);
		return false;
	}
	if (load && st != COOKIE_MAC_VALID_WITH_COOKIE) {
		cwg_cookie_checker_make_reply(&dev->cookie, reply, pkt->data, mac_off,
					  sender, &pkt->ep, now, dev->rng,
					  dev->rng_ctx);
		cwg_memcpy(pkt->data, reply, sizeof(reply));
		pkt->len = sizeof(reply);
		pkt->peer = NULL;
		cwg_count(dev, cookie_replies_tx);
		cwg_drop(dev, CWG_DROP_BAD_MAC2);
		cwg_pkt_list_append(&out->net, pkt);
		return false;
	}
	if (load && !cwg_ratelimiter_allow(&dev->ratelimiter, &pkt->ep, now)) {
		cwg_drop_pkt(dev, pkt, CWG_DROP_RATE_LIMITED);
		return false;
	}
	return true;
}

static void receive_initiation(struct cwg_device *dev, struct cwg_pkt *pkt,
			       uint64_t now, struct cwg_out *out)
{
	uint8_t *msg = pkt->data;
	uint32_t sender = cwg_get_le32(msg + CWG_INIT_SENDER);
	struct noise_state ns;
	uint8_t remote[CWG_KEY_LEN], ts[CWG_TAI64N_LEN], e[CWG_KEY_LEN];
	struct cwg_pubkey_entry *ent;
	struct cwg_peer *peer;
	struct cwg_handshake *hs;
	enum cwg_drop why = CWG_DROP_HANDSHAKE_INVALID;
	bool ok;

	cwg_count(dev, handshake_initiations_rx);
	if (!check_macs(dev, pkt, CWG_INIT_MAC1, sender, now, out))
		return;
	if (!dev->have_identity)
		goto drop;
	cwg_noise_state_init(&ns, wg_identifier, WG_IDENTIFIER_LEN, dev->static_pub);
	if (!cwg_noise_read_msg1_static(&ns, dev->static_priv,
				    msg + CWG_INIT_EPHEMERAL, remote))
		goto drop;
	ent = cwg_pubkey_table_find(&dev->peers_by_key, remote);
	if (!ent)
		goto drop;
	peer = CWG_CONTAINER_OF(ent, struct cwg_peer, pubkey);
	hs = &peer->hs;

	cwg_mutex_lock(&peer->lock);
	if (!cwg_noise_read_msg1_payload(&ns, peer->ss, msg + CWG_INIT_EPHEMERAL,
				     ts, sizeof(ts)))
		goto unlock_drop;
	if (cwg_memcmp(ts, hs->latest_timestamp, sizeof(ts)) <= 0) {
		why = CWG_DROP_REPLAYED_TIMESTAMP;
		goto unlock_drop;
	}
	if (hs->have_consumed_initiation &&
	    !cwg_expired(hs->last_initiation_consumption, now,
			 CWG_INITIATION_MIN_INTERVAL_NS)) {
		why = CWG_DROP_FLOOD;
		goto unlock_drop;
	}

	/* Authenticated: it replaces whatever handshake we had going. */
	cwg_handshake_clear(peer);
	hs->ns = ns;
	hs->remote_index = sender;
	cwg_memcpy(hs->latest_timestamp, ts, sizeof(ts));
	hs->last_initiation_consumption = now;
	hs->have_consumed_initiation = true;
	hs->state = HS_CONSUMED_INITIATION;
	cwg_atomic_add_relaxed(&peer->rx_bytes, pkt->len);
	cwg_peer_set_endpoint_from(peer, &pkt->ep);
	cwg_timers_any_authenticated_packet_received(peer);
	cwg_timers_any_authenticated_packet_traversal(peer, now);

	/* The response goes out in the initiation's buffer. */
	cwg_memset(msg, 0, CWG_MSG_RESPONSE_LEN);
	new_ephemeral(dev, e);
	ok = cwg_noise_write_msg2(&hs->ns, e, remote, peer->psk, NULL, 0,
			      msg + CWG_RESP_EPHEMERAL);
	cwg_wipe(e, sizeof(e));
	if (!ok || !index_register(dev, &hs->idx, NOISE_INDEX_HANDSHAKE)) {
		cwg_handshake_clear(peer);
		goto unlock_drop;
	}
	hs->state = HS_CREATED_RESPONSE;
	cwg_msg_set_type(msg, CWG_MSG_RESPONSE);
	cwg_put_le32(msg + CWG_RESP_SENDER, hs->idx.entry.index);
	cwg_put_le32(msg + CWG_RESP_RECEIVER, sender);
	cwg_cookie_maker_add_macs(&peer->cookie, msg, CWG_RESP_MAC1, now);
	pkt->len = CWG_MSG_RESPONSE_LEN;
	/* A response is a handshake we sent, as the kernel counts it: our
	 * own data now waits for this session instead of starting another
	 * handshake that would cross this one. */
	peer->last_sent_handshake = now;
	peer->have_sent_handshake = true;
	cwg_timers_any_authenticated_packet_sent(peer);
	cwg_send_control(peer, pkt, now, out);
	begin_session(peer, false, now);
	cwg_mutex_unlock(&peer->lock);
	cwg_noise_state_wipe(&ns);
	return;

unlock_drop:
	cwg_mutex_unlock(&peer->lock);
drop:
	cwg_noise_state_wipe(&ns);
	cwg_drop_pkt(dev, pkt, why);
}

/* The peer whose handshake or keypair owns a receiver index, or NULL. */
static struct cwg_peer *peer_by_index(struct cwg_device *dev, uint32_t index,
				      bool keypair_ok)
{
	struct cwg_index_entry *e;
	struct noise_index *idx;
	struct cwg_peer *peer = NULL;

	cwg_mutex_lock(&dev->index_lock);
	e = cwg_index_table_find(&dev->index, index);
	if (e) {
		idx = CWG_CONTAINER_OF(e, struct noise_index, entry);
		if (idx->kind == NOISE_INDEX_HANDSHAKE)
			peer = CWG_CONTAINER_OF(idx, struct cwg_peer, hs.idx);
		else if (keypair_ok)
			peer = CWG_CONTAINER_OF(idx, struct cwg_keypair, idx)->peer;
	}
	cwg_mutex_unlock(&dev->index_lock);
	return peer;
}

static void receive_response(struct cwg_device *dev, struct cwg_pkt *pkt,
			     uint64_t now, struct cwg_out *out)
{
	uint8_t *msg = pkt->data;
	uint32_t sender = cwg_get_le32(msg + CWG_RESP_SENDER);
	uint32_t receiver = cwg_get_le32(msg + CWG_RESP_RECEIVER);
	struct cwg_peer *peer;
	struct cwg_handshake *hs;
	struct noise_state ns;

	cwg_count(dev, handshake_responses_rx);
	if (!check_macs(dev, pkt, CWG_RESP_MAC1, sender, now, out))
		return;
	peer = peer_by_index(dev, receiver, false);
	if (!peer) {
		cwg_drop_pkt(dev, pkt, CWG_DROP_UNKNOWN_INDEX);
		return;
	}
	hs = &peer->hs;
	cwg_mutex_lock(&peer->lock);
	if (hs->state != HS_CREATED_INITIATION || !hs->idx.registered ||
	    hs->idx.entry.index != receiver || !dev->have_identity)
		goto unlock_drop;
	ns = hs->ns;
	if (!cwg_noise_read_msg2(&ns, dev->static_priv, peer->psk,
			     msg + CWG_RESP_EPHEMERAL, NULL, 0)) {
		cwg_noise_state_wipe(&ns);
		goto unlock_drop;
	}
	hs->ns = ns;
	cwg_noise_state_wipe(&ns);
	hs->remote_index = sender;
	hs->state = HS_CONSUMED_RESPONSE;
	cwg_atomic_add_relaxed(&peer->rx_bytes, pkt->len);
	cwg_peer_set_endpoint_from(peer, &pkt->ep);
	cwg_timers_any_authenticated_packet_received(peer);
	cwg_timers_any_authenticated_packet_traversal(peer, now);
	if (begin_session(peer, true, now)) {
		cwg_timers_handshake_complete(peer, now);
		/* Confirms the session to the responder and flushes what
		 * waited for it. */
		cwg_send_keepalive(peer, now, out);
	}
	cwg_mutex_unlock(&peer->lock);
	cwg_pkt_free(pkt);
	return;

unlock_drop:
	cwg_mutex_unlock(&peer->lock);
	cwg_drop_pkt(dev, pkt, CWG_DROP_HANDSHAKE_INVALID);
}

static void receive_cookie_reply(struct cwg_device *dev, struct cwg_pkt *pkt,
				 uint64_t now)
{
	struct cwg_peer *peer;
	bool ok;

	cwg_count(dev, cookie_replies_rx);
	peer = peer_by_index(dev, cwg_get_le32(pkt->data + CWG_COOKIE_RECEIVER),
			     true);
	if (!peer) {
		cwg_drop_pkt(dev, pkt, CWG_DROP_UNKNOWN_INDEX);
		return;
	}
	cwg_mutex_lock(&peer->lock);
	ok = cwg_cookie_maker_consume_reply(&peer->cookie, pkt->data, now);
	cwg_mutex_unlock(&peer->lock);
	if (ok)
		cwg_pkt_free(pkt);
	else
		cwg_drop_pkt(dev, pkt, CWG_DROP_HANDSHAKE_INVALID);
}

void cwg_handshake_receive(struct cwg_device *dev, struct cwg_pkt *pkt,
		       uint64_t now, struct cwg_out *out)
{
	switch (cwg_msg_type(pkt->data, pkt->len)) {
	case CWG_MSG_INITIATION:
		if (pkt->len != CWG_MSG_INITIATION_LEN)
			break;
		receive_initiation(dev, pkt, now, out);
		return;
	case CWG_MSG_RESPONSE:
		if (pkt->len != CWG_MSG_RESPONSE_LEN)
			break;
		receive_response(dev, pkt, now, out);
		return;
	case CWG_MSG_COOKIE_REPLY:
		if (pkt->len != CWG_MSG_COOKIE_REPLY_LEN)
			break;
		receive_cookie_reply(dev, pkt, now);
		return;
	default:
		cwg_drop_pkt(dev, pkt, CWG_DROP_UNKNOWN_TYPE);
		return;
	}
	cwg_drop_pkt(dev, pkt, CWG_DROP_BAD_LENGTH);
}

void cwg_peer_set_endpoint_from(struct cwg_peer *peer, const struct cwg_endpoint *ep)
{
	if (ep->family)
		peer->endpoint = *ep;
}
