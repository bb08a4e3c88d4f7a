/* SPDX-License-Identifier: MIT */
/*
 * Sessions: the keypair a finished handshake derives, the peer's three
 * slots (current, previous, next) and their rotation, and the end of a
 * keypair's life (see struct cwg_keypair for who holds references).
 */
#include "../crypto/crypto.h"
#include "peer.h"

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
	cwg_index_unregister(kp->peer->dev, &kp->idx);
	cwg_keypair_put(kp);
}

void cwg_peer_clear_keypairs(struct cwg_peer *peer)
{
	cwg_lock_assert_held(&peer->lock);
	keypair_retire(peer->kp_previous);
	keypair_retire(peer->kp_current);
	keypair_retire(peer->kp_next);
	peer->kp_previous = peer->kp_current = peer->kp_next = NULL;
}

void cwg_peer_expire_current_keypairs(struct cwg_peer *peer)
{
	cwg_lock_assert_held(&peer->lock);
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

bool cwg_peer_received_with_keypair(struct cwg_peer *peer,
				    struct cwg_keypair *kp)
{
	cwg_lock_assert_held(&peer->lock);
	if (peer->kp_next != kp)
		return false;
	keypair_retire(peer->kp_previous);
	peer->kp_previous = peer->kp_current;
	peer->kp_current = kp;
	peer->kp_next = NULL;
	return true;
}

bool cwg_session_begin(struct cwg_peer *peer, bool initiator, uint64_t now)
{
	struct cwg_handshake *hs = &peer->hs;
	struct cwg_keypair *kp;

	cwg_lock_assert_held(&peer->lock);
	kp = cwg_zalloc(sizeof(*kp));
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
	cwg_index_move(peer->dev, &hs->idx, &kp->idx, CWG_INDEX_KEYPAIR);
	add_new_keypair(peer, kp);
	cwg_handshake_clear(peer);
	cwg_count(peer->dev, handshakes_completed);
	cwg_timers_session_derived(peer, now);
	return true;
}
