/* SPDX-License-Identifier: MIT */
/*
 * The whitepaper's section 6 timers, as absolute deadlines checked by
 * cwg_device_tick. The events mirror the kernel's timers.c one to one;
 * all run under peer->lock.
 */
#include "../crypto/crypto.h"
#include "peer.h"

/* REKEY_TIMEOUT * 90 s / 5 s: retries before giving up. */
#define MAX_TIMER_HANDSHAKES (CWG_REKEY_ATTEMPT_TIME_NS / CWG_REKEY_TIMEOUT_NS)

static uint64_t jitter(struct cwg_device *dev)
{
	uint8_t r[4];

	dev->rng(dev->rng_ctx, r, sizeof(r));
	return cwg_get_le32(r) % CWG_REKEY_TIMEOUT_JITTER_MAX_NS;
}

void cwg_timers_data_sent(struct cwg_peer *peer, uint64_t now)
{
	if (!peer->t_new_handshake)
		peer->t_new_handshake = now + CWG_KEEPALIVE_TIMEOUT_NS +
					CWG_REKEY_TIMEOUT_NS + jitter(peer->dev);
}

void cwg_timers_data_received(struct cwg_peer *peer, uint64_t now)
{
	if (!peer->t_send_keepalive)
		peer->t_send_keepalive = now + CWG_KEEPALIVE_TIMEOUT_NS;
	else
		peer->need_another_keepalive = true;
}

void cwg_timers_any_authenticated_packet_sent(struct cwg_peer *peer)
{
	peer->t_send_keepalive = 0;
}

void cwg_timers_any_authenticated_packet_received(struct cwg_peer *peer)
{
	peer->t_new_handshake = 0;
}

void cwg_timers_any_authenticated_packet_traversal(struct cwg_peer *peer,
					       uint64_t now)
{
	if (peer->persistent_keepalive)
		peer->t_persistent_keepalive =
			now + (uint64_t)peer->persistent_keepalive * CWG_NSEC_PER_SEC;
}

void cwg_timers_handshake_initiated(struct cwg_peer *peer, uint64_t now)
{
	peer->t_retransmit_handshake =
		now + CWG_REKEY_TIMEOUT_NS + jitter(peer->dev);
}

void cwg_timers_handshake_complete(struct cwg_peer *peer, uint64_t now)
{
	peer->t_retransmit_handshake = 0;
	peer->handshake_attempts = 0;
	peer->sent_lastminute_handshake = false;
	peer->last_handshake_wall_ns =
		now + (uint64_t)cwg_atomic_load_relaxed(&peer->dev->wall_offset);
}

void cwg_timers_session_derived(struct cwg_peer *peer, uint64_t now)
{
	peer->t_zero_key_material = now + 3 * CWG_REJECT_AFTER_TIME_NS;
}

void cwg_timers_stop(struct cwg_peer *peer)
{
	peer->t_retransmit_handshake = 0;
	peer->t_send_keepalive = 0;
	peer->t_new_handshake = 0;
	peer->t_zero_key_material = 0;
	peer->t_persistent_keepalive = 0;
	peer->keepalive_requested = false;
}

static bool due(uint64_t *deadline, uint64_t now)
{
	if (!*deadline || *deadline > now)
		return false;
	*deadline = 0;
	return true;
}

static void peer_tick(struct cwg_peer *peer, uint64_t now, struct cwg_out *out)
{
	cwg_lock_assert_held(&peer->lock);
	if (due(&peer->t_retransmit_handshake, now)) {
		if (peer->handshake_attempts > MAX_TIMER_HANDSHAKES) {
			/* Give up; new traffic starts over. */
			peer->t_send_keepalive = 0;
			cwg_staged_drop_all(peer, CWG_DROP_NO_KEY);
			if (!peer->t_zero_key_material)
				peer->t_zero_key_material =
					now + 3 * CWG_REJECT_AFTER_TIME_NS;
		} else {
			peer->handshake_attempts++;
			/* The sticky source may be why nothing came back. */
			cwg_peer_forget_src(peer);
			cwg_send_initiation(peer, true, now, out);
		}
	}
	if (due(&peer->t_send_keepalive, now)) {
		cwg_send_keepalive(peer, now, out);
		if (peer->need_another_keepalive) {
			peer->need_another_keepalive = false;
			peer->t_send_keepalive = now + CWG_KEEPALIVE_TIMEOUT_NS;
		}
	}
	if (due(&peer->t_new_handshake, now)) {
		/* We sent data and heard nothing back for 15 s. */
		cwg_peer_forget_src(peer);
		cwg_send_initiation(peer, false, now, out);
	}
	if (due(&peer->t_zero_key_material, now)) {
		cwg_handshake_clear(peer);
		cwg_peer_clear_keypairs(peer);
	}
	if (due(&peer->t_persistent_keepalive, now) && peer->persistent_keepalive)
		cwg_send_keepalive(peer, now, out);
	if (peer->keepalive_requested) {
		peer->keepalive_requested = false;
		cwg_send_keepalive(peer, now, out);
	}
}

/*
 * Under cfg_lock (read): whether to rebuild the routing lookup tables now.
 * They are stale after any change of routes; while a configuration batch
 * is open they wait for its end (each part of a long `wg setconf` would
 * otherwise pay for a rebuild), but never longer than CWG_CFG_BATCH_MAX_NS.
 */
static bool tables_due(struct cwg_device *dev, uint64_t now)
{
	uint64_t since;

	if (!cwg_allowedips_stale(&dev->allowedips)) {
		cwg_atomic_store_relaxed(&dev->tables_stale_since, 0);
		return false;
	}
	if (!cwg_atomic_load(&dev->cfg_batches))
		return true;
	since = cwg_atomic_load_relaxed(&dev->tables_stale_since);
	if (!since) {
		cwg_atomic_store_relaxed(&dev->tables_stale_since, now | 1);
		return false;
	}
	return now - since >= CWG_CFG_BATCH_MAX_NS;
}

void cwg_device_tick(struct cwg_device *dev, uint64_t now, struct cwg_out *out)
{
	struct cwg_allowedips_tables tabs;
	struct cwg_peer *peer;
	bool rebuild;

	cwg_rwlock_rdlock(&dev->cfg_lock);
	for (peer = dev->first; peer; peer = peer->next) {
		cwg_mutex_lock(&peer->lock);
		peer_tick(peer, now, out);
		cwg_mutex_unlock(&peer->lock);
	}
	/* The tables are built beside the data path (reading the trie is
	 * what lookups do too) and only swapped in under the write lock,
	 * if no change came in between; else the next tick tries again. */
	rebuild = tables_due(dev, now);
	if (rebuild)
		cwg_allowedips_build_tables(&dev->allowedips, &tabs);
	cwg_rwlock_unlock(&dev->cfg_lock);
	if (rebuild) {
		cwg_rwlock_wrlock(&dev->cfg_lock);
		cwg_allowedips_install_tables(&dev->allowedips, &tabs);
		cwg_atomic_store_relaxed(&dev->tables_stale_since, 0);
		cwg_rwlock_unlock(&dev->cfg_lock);
	}
}
