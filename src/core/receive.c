/* SPDX-License-Identifier: MIT */
/*
 * Receiving: handshake messages go to handshake.c; data packets are
 * opened in place under the keypair their receiver index names, checked
 * against the replay window, and delivered only if their inner source
 * address belongs to the peer that sent them (cryptokey routing).
 */
#include "../crypto/crypto.h"
#include "messages.h"
#include "peer.h"

/* Take a reference on the keypair that owns index, or NULL. */
static struct cwg_keypair *keypair_get(struct cwg_device *dev, uint32_t index)
{
	struct cwg_index_entry *e;
	struct noise_index *idx;
	struct cwg_keypair *kp = NULL;

	cwg_mutex_lock(&dev->index_lock);
	e = cwg_index_table_find(&dev->index, index);
	if (e) {
		idx = CWG_CONTAINER_OF(e, struct noise_index, entry);
		if (idx->kind == NOISE_INDEX_KEYPAIR) {
			kp = CWG_CONTAINER_OF(idx, struct cwg_keypair, idx);
			cwg_atomic_add_relaxed(&kp->refcount, 1);
		}
	}
	cwg_mutex_unlock(&dev->index_lock);
	return kp;
}

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

static void receive_data(struct cwg_device *dev, struct cwg_pkt *pkt,
			 uint64_t now, struct cwg_out *out)
{
	uint8_t *msg = pkt->data;
	uint32_t wire_len = pkt->len, plain_len, inner_len = 0;
	uint64_t counter = cwg_get_le64(msg + CWG_DATA_COUNTER);
	struct cwg_keypair *kp;
	struct cwg_peer *peer;
	struct cwg_allowedips_owner *owner;
	const uint8_t *src = NULL;
	int family = 0;
	enum cwg_drop why = CWG_DROP_MAX;
	bool ok;

	kp = keypair_get(dev, cwg_get_le32(msg + CWG_DATA_RECEIVER));
	if (!kp) {
		cwg_drop_pkt(dev, pkt, CWG_DROP_UNKNOWN_INDEX);
		return;
	}
	if (counter >= CWG_REJECT_AFTER_MESSAGES ||
	    cwg_expired(kp->birth, now, CWG_REJECT_AFTER_TIME_NS)) {
		why = CWG_DROP_KEY_EXPIRED;
		goto out;
	}
	plain_len = wire_len - CWG_DATA_PAYLOAD - CWG_AEAD_TAG_LEN;
	if (!cwg_aead_open(msg + CWG_DATA_PAYLOAD, msg + CWG_DATA_PAYLOAD,
			   wire_len - CWG_DATA_PAYLOAD, NULL, 0, counter,
			   kp->recv_key)) {
		why = CWG_DROP_BAD_TAG;
		goto out;
	}
	cwg_mutex_lock(&kp->replay_lock);
	ok = cwg_replay_check(&kp->replay, counter);
	cwg_mutex_unlock(&kp->replay_lock);
	if (!ok) {
		why = CWG_DROP_REPLAYED_COUNTER;
		goto out;
	}

	peer = kp->peer;
	if (plain_len) {
		inner_len = inner_packet(msg + CWG_DATA_PAYLOAD, plain_len,
					 &family, &src);
		if (!inner_len)
			why = CWG_DROP_BAD_INNER;
		else {
			owner = cwg_allowedips_lookup(&dev->allowedips, family,
						      src);
			if (owner != &peer->allowedips)
				why = CWG_DROP_NOT_ALLOWED;
		}
	}

	cwg_mutex_lock(&peer->lock);
	peer_set_endpoint_from(peer, &pkt->ep);
	if (peer_received_with_keypair(peer, kp)) {
		timers_handshake_complete(peer, now);
		send_staged(peer, now, out);
	}
	/* Rekey before the initiator's keys die: a last-minute handshake once
	 * the session is within a keepalive and a rekey timeout of expiry. */
	if (peer->kp_current && peer->kp_current->initiator &&
	    !peer->sent_lastminute_handshake &&
	    cwg_expired(peer->kp_current->birth, now,
			CWG_REJECT_AFTER_TIME_NS - CWG_KEEPALIVE_TIMEOUT_NS -
				CWG_REKEY_TIMEOUT_NS)) {
		peer->sent_lastminute_handshake = true;
		send_initiation(peer, false, now, out);
	}
	timers_any_authenticated_packet_received(peer);
	timers_any_authenticated_packet_traversal(peer, now);
	if (plain_len && why == CWG_DROP_MAX)
		timers_data_received(peer, now);
	cwg_mutex_unlock(&peer->lock);
	if (why != CWG_DROP_MAX)
		goto out;
	cwg_atomic_add_relaxed(&peer->rx_bytes, wire_len);
	if (!plain_len) {
		cwg_pkt_free(pkt); /* a keepalive */
	} else {
		pkt->data = msg + CWG_DATA_PAYLOAD;
		pkt->len = inner_len;
		pkt->peer = peer;
		cwg_pkt_list_append(&out->tun, pkt);
	}
	keypair_put(kp);
	return;
out:
	keypair_put(kp);
	cwg_drop_pkt(dev, pkt, why);
}

void cwg_device_receive(struct cwg_device *dev, struct cwg_pkt_list *in,
			uint64_t now, struct cwg_out *out)
{
	struct cwg_pkt *p;
	uint32_t type;

	cwg_rwlock_rdlock(&dev->cfg_lock);
	while ((p = cwg_pkt_list_pop(in))) {
		type = cwg_msg_type(p->data, p->len);
		if (type == CWG_MSG_DATA) {
			if (p->len < CWG_MSG_DATA_MIN_LEN)
				cwg_drop_pkt(dev, p, CWG_DROP_BAD_LENGTH);
			else
				receive_data(dev, p, now, out);
		} else if (type >= CWG_MSG_INITIATION &&
			   type <= CWG_MSG_COOKIE_REPLY) {
			handshake_receive(dev, p, now, out);
		} else {
			cwg_drop_pkt(dev, p, p->len < 4 ? CWG_DROP_BAD_LENGTH :
				     CWG_DROP_UNKNOWN_TYPE);
		}
	}
	cwg_rwlock_unlock(&dev->cfg_lock);
}
