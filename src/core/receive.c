/* SPDX-License-Identifier: MIT */
/*
 * Receiving. Handshake messages pass the MAC and cookie gate (mac1
 * always; under load mac2 and the per-source rate too) before any Noise
 * work, then go to handshake.c to be consumed, and what they complete is
 * sent from here. Data packets are opened in place under the keypair
 * their receiver index names, checked against the replay window, and
 * delivered only if their inner source address belongs to the peer that
 * sent them (cryptokey routing).
 */
#include "../crypto/crypto.h"
#include "messages.h"
#include "peer.h"

/* The inner packet's length from its own header (the rest is padding),
 * and its source address; 0 when it is not a well-formed IP packet. */
static uint32_t inner_packet(const uint8_t *p, uint32_t len, int *family,
			     const uint8_t **src)
{
	uint32_t total;

	if (len >= 20 && p[0] >> 4 == 4) {
		total = cwg_get_be16(p + 2);
		if (total < 20 || total > len || (uint32_t)(p[0] & 15) * 4 < 20)
			return 0;
		*family = 4;
		*src = p + 12;
		return total;
	}
	if (len >= 40 && p[0] >> 4 == 6) {
		total = 40 + (uint32_t)cwg_get_be16(p + 4);
		if (total > len)
			return 0;
		*family = 6;
		*src = p + 8;
		return total;
	}
	return 0;
}

/* Where a run's authenticated packets stand once opened and checked. */
struct data_run {
	struct cwg_pkt_list deliver;	/* plaintext for the TUN */
	struct cwg_endpoint ep;		/* the newest authenticated sender */
	uint64_t ep_counter;		/* and its packet's counter */
	uint64_t rx_bytes;		/* delivered, or keepalives */
	bool authenticated;		/* at least one packet was */
	bool data;			/* at least one carried a good packet */
};

/*
 * One authenticated, fresh packet: it counts for the peer's endpoint and
 * timers whatever it holds, and is delivered only if its inner source
 * belongs to the peer that sent it (cryptokey routing).
 */
static void run_classify(struct cwg_device *dev, struct cwg_peer *peer,
			 struct cwg_pkt *pkt, struct data_run *r)
{
	uint8_t *plain = pkt->data + CWG_DATA_PAYLOAD;
	uint32_t wire_len = pkt->len, inner_len;
	uint32_t plain_len = wire_len - CWG_DATA_PAYLOAD - CWG_AEAD_TAG_LEN;
	const uint8_t *src = NULL;
	uint64_t counter = cwg_get_le64(pkt->data + CWG_DATA_COUNTER);
	int family = 0;

	if (!r->authenticated || counter > r->ep_counter) {
		r->ep = pkt->ep;
		r->ep_counter = counter;
	}
	r->authenticated = true;
	if (!plain_len) {
		r->rx_bytes += wire_len;
		cwg_pkt_free(pkt); /* a keepalive */
		return;
	}
	inner_len = inner_packet(plain, plain_len, &family, &src);
	if (!inner_len) {
		cwg_drop_pkt(dev, pkt, CWG_DROP_BAD_INNER);
		return;
	}
	if (cwg_allowedips_lookup(&dev->allowedips, family, src) !=
	    &peer->allowedips) {
		cwg_drop_pkt(dev, pkt, CWG_DROP_NOT_ALLOWED);
		return;
	}
	r->data = true;
	r->rx_bytes += wire_len;
	pkt->data = plain;
	pkt->len = inner_len;
	pkt->peer = peer;
	cwg_pkt_list_append(&r->deliver, pkt);
}

/* Opens the run's packets under kp and checks them against the replay
 * window, all without the peer's lock; what survives lands in r. */
static void run_open(struct cwg_device *dev, struct cwg_keypair *kp,
		     struct cwg_pkt_list *run, uint64_t now,
		     struct data_run *r)
{
	struct cwg_pkt_list opened;
	struct cwg_pkt *pkt;

	cwg_pkt_list_init(&opened);
	while ((pkt = cwg_pkt_list_pop(run))) {
		uint8_t *msg = pkt->data;
		uint64_t counter = cwg_get_le64(msg + CWG_DATA_COUNTER);

		if (counter >= CWG_REJECT_AFTER_MESSAGES ||
		    cwg_expired(kp->birth, now, CWG_REJECT_AFTER_TIME_NS)) {
			cwg_drop_pkt(dev, pkt, CWG_DROP_KEY_EXPIRED);
			continue;
		}
		if (!cwg_aead_open(msg + CWG_DATA_PAYLOAD,
				   msg + CWG_DATA_PAYLOAD,
				   pkt->len - CWG_DATA_PAYLOAD, NULL, 0,
				   counter, kp->recv_key)) {
			cwg_drop_pkt(dev, pkt, CWG_DROP_BAD_TAG);
			continue;
		}
		cwg_pkt_list_append(&opened, pkt);
	}

	/* The window only ever sees authentic counters, in arrival order. */
	cwg_mutex_lock(&kp->replay_lock);
	while ((pkt = cwg_pkt_list_pop(&opened))) {
		if (!cwg_replay_check(&kp->replay,
				      cwg_get_le64(pkt->data +
						   CWG_DATA_COUNTER))) {
			cwg_drop_pkt(dev, pkt, CWG_DROP_REPLAYED_COUNTER);
			continue;
		}
		cwg_pkt_list_append(run, pkt);
	}
	cwg_mutex_unlock(&kp->replay_lock);

	while ((pkt = cwg_pkt_list_pop(run)))
		run_classify(dev, kp->peer, pkt, r);
}

/*
 * Under peer->lock: whether the packet with this counter under kp was
 * sent after the one whose source is the peer's endpoint now. Several
 * threads may open one peer's runs, and finish them, out of turn; the
 * endpoint must follow the packet the peer sent last, not the run that
 * happened to finish last, or a roaming peer could be sent back to the
 * address it just left. A newer session's packets are newer than all of
 * an older one's.
 */
static bool endpoint_newer(struct cwg_peer *peer, const struct cwg_keypair *kp,
			   uint64_t counter)
{
	if (kp->birth != peer->ep_birth)
		return kp->birth > peer->ep_birth;
	return counter >= peer->ep_counter;
}

/*
 * Under peer->lock: the receiving side's rule for keeping the key fresh.
 * The initiator starts a last-minute handshake once its session is
 * within a keepalive and a rekey timeout of expiry, so it is replaced
 * before it dies (send.c has the sending side's rule).
 */
static void keep_key_fresh(struct cwg_peer *peer, uint64_t now,
			   struct cwg_out *out)
{
	struct cwg_keypair *kp = peer->kp_current;

	if (kp && kp->initiator && !peer->sent_lastminute_handshake &&
	    cwg_expired(kp->birth, now,
			CWG_REJECT_AFTER_TIME_NS - CWG_KEEPALIVE_TIMEOUT_NS -
				CWG_REKEY_TIMEOUT_NS)) {
		peer->sent_lastminute_handshake = true;
		cwg_send_initiation(peer, false, now, out);
	}
}

/*
 * A run of data packets that name one receiver index: the index table,
 * the replay window and the peer each take their lock once per run, not
 * once per packet. The peer's state moves as if the run's packets had
 * come one by one, in the order they were sent: the endpoint is that of
 * the authenticated packet with the highest counter.
 */
static void receive_data_run(struct cwg_device *dev, struct cwg_pkt_list *run,
			     uint64_t now, struct cwg_out *out)
{
	struct cwg_keypair *kp;
	struct cwg_peer *peer;
	struct data_run r = { .authenticated = false };

	kp = NULL;
	cwg_index_lookup(dev, cwg_get_le32(run->head->data + CWG_DATA_RECEIVER),
			 CWG_INDEX_KEYPAIR, &kp);
	if (!kp) {
		struct cwg_pkt *pkt;

		while ((pkt = cwg_pkt_list_pop(run)))
			cwg_drop_pkt(dev, pkt, CWG_DROP_UNKNOWN_INDEX);
		return;
	}
	cwg_pkt_list_init(&r.deliver);
	run_open(dev, kp, run, now, &r);
	if (!r.authenticated) {
		cwg_keypair_put(kp);
		return;
	}

	peer = kp->peer;
	cwg_mutex_lock(&peer->lock);
	if (endpoint_newer(peer, kp, r.ep_counter)) {
		cwg_peer_set_endpoint_from(peer, &r.ep);
		peer->ep_birth = kp->birth;
		peer->ep_counter = r.ep_counter;
	}
	if (cwg_peer_received_with_keypair(peer, kp)) {
		cwg_timers_handshake_complete(peer, now);
		cwg_send_staged(peer, now, out);
	}
	keep_key_fresh(peer, now, out);
	cwg_timers_any_authenticated_packet_received(peer);
	cwg_timers_any_authenticated_packet_traversal(peer, now);
	if (r.data)
		cwg_timers_data_received(peer, now);
	cwg_mutex_unlock(&peer->lock);
	cwg_atomic_add_relaxed(&peer->rx_bytes, r.rx_bytes);
	cwg_pkt_list_concat(&out->tun, &r.deliver);
	cwg_keypair_put(kp);
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
 * The gate in front of every handshake message: mac1 always; under load,
 * mac2 too, and a message without a valid one is answered with a cookie
 * reply instead (in pkt's own buffer), and one with a valid mac2 still
 * passes only within its source's rate. true when the message may go on
 * to the expensive Noise work; otherwise pkt is gone.
 */
static bool check_macs(struct cwg_device *dev, struct cwg_pkt *pkt,
		       size_t mac_off, uint32_t sender, uint64_t now,
		       struct cwg_out *out)
{
	bool load = under_load(dev, now);
	enum cookie_mac_state st;
	uint8_t reply[CWG_MSG_COOKIE_REPLY_LEN];

	st = cwg_cookie_checker_validate(&dev->cookie, pkt->data, mac_off,
					 &pkt->ep, load, now, dev->rng,
					 dev->rng_ctx);
	if (st == COOKIE_MAC_INVALID) {
		cwg_drop_pkt(dev, pkt, CWG_DROP_BAD_MAC1);
		return false;
	}
	if (load && st != COOKIE_MAC_VALID_WITH_COOKIE) {
		cwg_cookie_checker_make_reply(&dev->cookie, reply, pkt->data,
					      mac_off, sender, &pkt->ep, now,
					      dev->rng, dev->rng_ctx);
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

/* The response goes out in the initiation's own buffer. */
static void receive_initiation(struct cwg_device *dev, struct cwg_pkt *pkt,
			       uint64_t now, struct cwg_out *out)
{
	uint32_t sender = cwg_get_le32(pkt->data + CWG_INIT_SENDER);
	uint32_t len = pkt->len;
	struct cwg_peer *peer;
	enum cwg_drop why;

	cwg_count(dev, handshake_initiations_rx);
	if (!check_macs(dev, pkt, CWG_INIT_MAC1, sender, now, out))
		return;
	peer = cwg_handshake_consume_initiation(dev, pkt->data, now, &why);
	if (!peer) {
		cwg_drop_pkt(dev, pkt, why);
		return;
	}
	cwg_mutex_lock(&peer->lock);
	if (!cwg_handshake_create_response(peer, now, pkt->data)) {
		cwg_mutex_unlock(&peer->lock);
		cwg_drop_pkt(dev, pkt, CWG_DROP_HANDSHAKE_INVALID);
		return;
	}
	cwg_atomic_add_relaxed(&peer->rx_bytes, len);
	cwg_peer_set_endpoint_from(peer, &pkt->ep);
	cwg_timers_any_authenticated_packet_received(peer);
	cwg_timers_any_authenticated_packet_traversal(peer, now);
	pkt->len = CWG_MSG_RESPONSE_LEN;
	cwg_send_response(peer, pkt, now, out);
	cwg_session_begin(peer, false, now);
	cwg_mutex_unlock(&peer->lock);
}

static void receive_response(struct cwg_device *dev, struct cwg_pkt *pkt,
			     uint64_t now, struct cwg_out *out)
{
	uint32_t sender = cwg_get_le32(pkt->data + CWG_RESP_SENDER);
	uint32_t receiver = cwg_get_le32(pkt->data + CWG_RESP_RECEIVER);
	struct cwg_peer *peer;

	cwg_count(dev, handshake_responses_rx);
	if (!check_macs(dev, pkt, CWG_RESP_MAC1, sender, now, out))
		return;
	peer = cwg_index_lookup(dev, receiver, CWG_INDEX_HANDSHAKE, NULL);
	if (!peer) {
		cwg_drop_pkt(dev, pkt, CWG_DROP_UNKNOWN_INDEX);
		return;
	}
	cwg_mutex_lock(&peer->lock);
	if (!cwg_handshake_consume_response(peer, pkt->data)) {
		cwg_mutex_unlock(&peer->lock);
		cwg_drop_pkt(dev, pkt, CWG_DROP_HANDSHAKE_INVALID);
		return;
	}
	cwg_atomic_add_relaxed(&peer->rx_bytes, pkt->len);
	cwg_peer_set_endpoint_from(peer, &pkt->ep);
	cwg_timers_any_authenticated_packet_received(peer);
	cwg_timers_any_authenticated_packet_traversal(peer, now);
	if (cwg_session_begin(peer, true, now)) {
		cwg_timers_handshake_complete(peer, now);
		/* Confirms the session to the responder and flushes what
		 * waited for it. */
		cwg_send_keepalive(peer, now, out);
	}
	cwg_mutex_unlock(&peer->lock);
	cwg_pkt_free(pkt);
}

static void receive_cookie_reply(struct cwg_device *dev, struct cwg_pkt *pkt,
				 uint64_t now)
{
	uint32_t receiver = cwg_get_le32(pkt->data + CWG_COOKIE_RECEIVER);
	struct cwg_peer *peer;
	bool ok;

	cwg_count(dev, cookie_replies_rx);
	peer = cwg_index_lookup(dev, receiver,
				CWG_INDEX_HANDSHAKE | CWG_INDEX_KEYPAIR, NULL);
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

bool cwg_datagram_is_handshake(const uint8_t *data, size_t len)
{
	uint32_t type = cwg_msg_type(data, len);

	return type == CWG_MSG_INITIATION || type == CWG_MSG_RESPONSE;
}

/* A handshake message of a valid type: its length, then its handler. */
static void receive_handshake(struct cwg_device *dev, struct cwg_pkt *pkt,
			      uint32_t type, uint64_t now, struct cwg_out *out)
{
	static const uint32_t len[] = {
		[CWG_MSG_INITIATION] = CWG_MSG_INITIATION_LEN,
		[CWG_MSG_RESPONSE] = CWG_MSG_RESPONSE_LEN,
		[CWG_MSG_COOKIE_REPLY] = CWG_MSG_COOKIE_REPLY_LEN,
	};

	if (pkt->len != len[type])
		cwg_drop_pkt(dev, pkt, CWG_DROP_BAD_LENGTH);
	else if (type == CWG_MSG_INITIATION)
		receive_initiation(dev, pkt, now, out);
	else if (type == CWG_MSG_RESPONSE)
		receive_response(dev, pkt, now, out);
	else
		receive_cookie_reply(dev, pkt, now);
}

void cwg_device_receive(struct cwg_device *dev, struct cwg_pkt_list *in,
			uint64_t now, struct cwg_out *out)
{
	struct cwg_pkt_list run;
	uint32_t run_index = 0, type;
	struct cwg_pkt *p;

	cwg_pkt_list_init(&run);
	cwg_rwlock_rdlock(&dev->cfg_lock);
	while ((p = cwg_pkt_list_pop(in))) {
		type = cwg_msg_type(p->data, p->len);
		if (type == CWG_MSG_DATA && p->len >= CWG_MSG_DATA_MIN_LEN) {
			uint32_t index = cwg_get_le32(p->data +
						      CWG_DATA_RECEIVER);

			if (run.count && index != run_index)
				receive_data_run(dev, &run, now, out);
			run_index = index;
			cwg_pkt_list_append(&run, p);
			continue;
		}
		/* A handshake message may change the session the run's
		 * packets belong to: finish the run first. */
		if (run.count)
			receive_data_run(dev, &run, now, out);
		if (type == CWG_MSG_DATA)
			cwg_drop_pkt(dev, p, CWG_DROP_BAD_LENGTH);
		else if (type >= CWG_MSG_INITIATION &&
			 type <= CWG_MSG_COOKIE_REPLY)
			receive_handshake(dev, p, type, now, out);
		else
			cwg_drop_pkt(dev, p, p->len < 4 ? CWG_DROP_BAD_LENGTH :
				     CWG_DROP_UNKNOWN_TYPE);
	}
	if (run.count)
		receive_data_run(dev, &run, now, out);
	cwg_rwlock_unlock(&dev->cfg_lock);
}
