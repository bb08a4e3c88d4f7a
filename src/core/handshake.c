/* SPDX-License-Identifier: MIT */
/*
 * WireGuard's handshake messages around the Noise pattern (noise.c):
 * creating and consuming initiations and responses, with their index
 * fields, TAI64N timestamps (replay and flood checks) and mac1/mac2.
 * Nothing here sends, gates on load or touches sessions: receive.c checks
 * the MACs and dispatches, send.c sends, keypair.c turns a finished
 * handshake into a session.
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
	uint64_t wall =
		now + (uint64_t)cwg_atomic_load_relaxed(&dev->wall_offset);
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

void cwg_handshake_clear(struct cwg_peer *peer)
{
	struct cwg_handshake *hs = &peer->hs;
	uint8_t ts[CWG_TAI64N_LEN];
	uint64_t last = hs->last_initiation_consumption;
	bool consumed = hs->have_consumed_initiation;

	cwg_lock_assert_held(&peer->lock);
	cwg_index_unregister(peer->dev, &hs->idx);
	/* The replay and flood state outlives the handshake: clearing it would
	 * let an old initiation be replayed. */
	cwg_memcpy(ts, hs->latest_timestamp, sizeof(ts));
	cwg_wipe(hs, sizeof(*hs));
	cwg_memcpy(hs->latest_timestamp, ts, sizeof(ts));
	hs->last_initiation_consumption = last;
	hs->have_consumed_initiation = consumed;
}

enum cwg_drop cwg_handshake_create_initiation(
	struct cwg_peer *peer, uint64_t now,
	uint8_t msg[CWG_MSG_INITIATION_LEN])
{
	struct cwg_device *dev = peer->dev;
	struct cwg_handshake *hs = &peer->hs;
	uint8_t e[CWG_KEY_LEN], ts[CWG_TAI64N_LEN];
	bool ok;

	cwg_lock_assert_held(&peer->lock);
	if (!dev->have_identity)
		return CWG_DROP_NO_PRIVATE_KEY;
	cwg_memset(msg, 0, CWG_MSG_INITIATION_LEN);
	cwg_handshake_clear(peer);
	cwg_noise_state_init(&hs->ns, wg_identifier, WG_IDENTIFIER_LEN,
			     peer->pubkey.pubkey);
	new_ephemeral(dev, e);
	tai64n_now(dev, now, ts);
	ok = cwg_noise_write_msg1(&hs->ns, e, dev->static_pub,
				  peer->pubkey.pubkey, peer->ss, ts, sizeof(ts),
				  msg + CWG_INIT_EPHEMERAL);
	cwg_wipe(e, sizeof(e));
	if (!ok || cwg_index_register(dev, &hs->idx, CWG_INDEX_HANDSHAKE)) {
		cwg_handshake_clear(peer);
		return CWG_DROP_HANDSHAKE_INVALID;
	}
	cwg_msg_set_type(msg, CWG_MSG_INITIATION);
	cwg_put_le32(msg + CWG_INIT_SENDER, hs->idx.entry.index);
	cwg_cookie_maker_add_macs(&peer->cookie, msg, CWG_INIT_MAC1, now);
	hs->state = HS_CREATED_INITIATION;
	return CWG_DROP_MAX;
}

/*
 * Step one needs no peer: the initiator's static key comes out of the
 * message. Step two is under the peer's lock: the timestamp must be newer
 * than any before it and the last initiation at least
 * CWG_INITIATION_MIN_INTERVAL_NS old; then the message replaces whatever
 * handshake the peer had going.
 */
struct cwg_peer *cwg_handshake_consume_initiation(struct cwg_device *dev,
						  const uint8_t *msg,
						  uint64_t now,
						  enum cwg_drop *why)
{
	struct noise_state ns;
	uint8_t remote[CWG_KEY_LEN], ts[CWG_TAI64N_LEN];
	struct cwg_pubkey_entry *ent;
	struct cwg_peer *peer = NULL;
	struct cwg_handshake *hs;

	*why = CWG_DROP_HANDSHAKE_INVALID;
	if (!dev->have_identity)
		return NULL;
	cwg_noise_state_init(&ns, wg_identifier, WG_IDENTIFIER_LEN,
			     dev->static_pub);
	if (!cwg_noise_read_msg1_static(&ns, dev->static_priv,
					msg + CWG_INIT_EPHEMERAL, remote))
		goto out;
	ent = cwg_pubkey_table_find(&dev->peers_by_key, remote);
	if (!ent)
		goto out;
	peer = CWG_CONTAINER_OF(ent, struct cwg_peer, pubkey);
	hs = &peer->hs;
	cwg_mutex_lock(&peer->lock);
	if (!cwg_noise_read_msg1_payload(
		    &ns, peer->ss, msg + CWG_INIT_EPHEMERAL, ts, sizeof(ts))) {
		*why = CWG_DROP_HANDSHAKE_INVALID;
	} else if (cwg_memcmp(ts, hs->latest_timestamp, sizeof(ts)) <= 0) {
		*why = CWG_DROP_REPLAYED_TIMESTAMP;
	} else if (hs->have_consumed_initiation &&
		   !cwg_expired(hs->last_initiation_consumption, now,
				CWG_INITIATION_MIN_INTERVAL_NS)) {
		*why = CWG_DROP_FLOOD;
	} else {
		cwg_handshake_clear(peer);
		hs->ns = ns;
		hs->remote_index = cwg_get_le32(msg + CWG_INIT_SENDER);
		cwg_memcpy(hs->latest_timestamp, ts, sizeof(ts));
		hs->last_initiation_consumption = now;
		hs->have_consumed_initiation = true;
		hs->state = HS_CONSUMED_INITIATION;
		*why = CWG_DROP_MAX;
	}
	cwg_mutex_unlock(&peer->lock);
	if (*why != CWG_DROP_MAX)
		peer = NULL;
out:
	cwg_noise_state_wipe(&ns);
	return peer;
}

bool cwg_handshake_create_response(struct cwg_peer *peer, uint64_t now,
				   uint8_t msg[CWG_MSG_RESPONSE_LEN])
{
	struct cwg_device *dev = peer->dev;
	struct cwg_handshake *hs = &peer->hs;
	uint8_t e[CWG_KEY_LEN];
	bool ok;

	cwg_lock_assert_held(&peer->lock);
	if (hs->state != HS_CONSUMED_INITIATION)
		return false;
	cwg_memset(msg, 0, CWG_MSG_RESPONSE_LEN);
	new_ephemeral(dev, e);
	ok = cwg_noise_write_msg2(&hs->ns, e, peer->pubkey.pubkey, peer->psk,
				  NULL, 0, msg + CWG_RESP_EPHEMERAL);
	cwg_wipe(e, sizeof(e));
	if (!ok || cwg_index_register(dev, &hs->idx, CWG_INDEX_HANDSHAKE)) {
		cwg_handshake_clear(peer);
		return false;
	}
	hs->state = HS_CREATED_RESPONSE;
	cwg_msg_set_type(msg, CWG_MSG_RESPONSE);
	cwg_put_le32(msg + CWG_RESP_SENDER, hs->idx.entry.index);
	cwg_put_le32(msg + CWG_RESP_RECEIVER, hs->remote_index);
	cwg_cookie_maker_add_macs(&peer->cookie, msg, CWG_RESP_MAC1, now);
	return true;
}

bool cwg_handshake_consume_response(struct cwg_peer *peer, const uint8_t *msg)
{
	struct cwg_device *dev = peer->dev;
	struct cwg_handshake *hs = &peer->hs;
	uint32_t receiver = cwg_get_le32(msg + CWG_RESP_RECEIVER);
	struct noise_state ns;

	cwg_lock_assert_held(&peer->lock);
	if (hs->state != HS_CREATED_INITIATION || !hs->idx.registered ||
	    hs->idx.entry.index != receiver || !dev->have_identity)
		return false;
	ns = hs->ns;
	if (!cwg_noise_read_msg2(&ns, dev->static_priv, peer->psk,
				 msg + CWG_RESP_EPHEMERAL, NULL, 0)) {
		cwg_noise_state_wipe(&ns);
		return false;
	}
	hs->ns = ns;
	cwg_noise_state_wipe(&ns);
	hs->remote_index = cwg_get_le32(msg + CWG_RESP_SENDER);
	hs->state = HS_CONSUMED_RESPONSE;
	return true;
}
