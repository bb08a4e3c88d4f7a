/* SPDX-License-Identifier: MIT */
/*
 * Sending: staged packets are sealed under the peer's current keypair, or
 * wait (at most CWG_MAX_STAGED_PACKETS, oldest dropped) while a handshake
 * is started.
 *
 * The bulk path splits the work the way the kernel does: under the peer's
 * lock it only takes a reference on the keypair and reserves a run of
 * counters (struct send_job, then written onto each packet); the sealing
 * itself runs after the lock is dropped, so several threads can seal for
 * one peer at once. The kernel keeps order with one queue per peer that
 * both the transmit path and the handshake path feed; here the host does,
 * by preparing in one order (cwg_device_send_prepare, cwg_device_flush)
 * and emitting in that order.
 */
#include "../crypto/crypto.h"
#include "messages.h"
#include "peer.h"

struct send_job {
	struct cwg_peer *peer;
	struct cwg_keypair *kp;
	uint64_t counter;
	struct cwg_pkt_list pkts;
	struct cwg_endpoint ep;
};

void cwg_drop_pkt(struct cwg_device *dev, struct cwg_pkt *pkt,
		  enum cwg_drop why)
{
	cwg_drop(dev, why);
	cwg_pkt_free(pkt);
}

static void drop_list(struct cwg_device *dev, struct cwg_pkt_list *l,
		      enum cwg_drop why)
{
	struct cwg_pkt *p;

	while ((p = cwg_pkt_list_pop(l)))
		cwg_drop_pkt(dev, p, why);
}

/*
 * The staged queue's bound. Every change to a peer's queue happens under
 * its lock and is followed by staged_sync, which brings the device's
 * totals up to date; staged_trim keeps the queue within the peer's share.
 */
static void staged_sync(struct cwg_peer *peer)
{
	struct cwg_device *dev = peer->dev;
	uint32_t was = peer->staged_accounted, is = peer->staged.count;

	cwg_lock_assert_held(&peer->lock);
	if (was == is)
		return;
	if (is > was)
		cwg_atomic_add_relaxed(&dev->staged_total, is - was);
	else
		cwg_atomic_sub_fetch(&dev->staged_total, was - is);
	if (!was)
		cwg_atomic_add_relaxed(&dev->staged_peers, 1);
	else if (!is)
		cwg_atomic_sub_fetch(&dev->staged_peers, 1);
	peer->staged_accounted = is;
}

void cwg_staged_drop_all(struct cwg_peer *peer, enum cwg_drop why)
{
	struct cwg_pkt *p;

	while ((p = cwg_pkt_list_pop(&peer->staged))) {
		if (why == CWG_DROP_MAX)
			cwg_pkt_free(p);
		else
			cwg_drop_pkt(peer->dev, p, why);
	}
	staged_sync(peer);
}

/*
 * A peer's share: the device's limit split between the peers that wait
 * and one more, from 1 to CWG_MAX_STAGED_PACKETS, and never more than
 * the others leave of the limit. The one more is room for a peer that
 * starts waiting: once it holds packets it counts, and everyone's share
 * shrinks again. Only the peer's own oldest packets go
 * (cwg_device_set_staged_limit).
 */
static void staged_trim(struct cwg_peer *peer)
{
	struct cwg_device *dev = peer->dev;
	uint32_t limit = cwg_atomic_load_relaxed(&dev->staged_limit);
	uint32_t waiting = cwg_atomic_load_relaxed(&dev->staged_peers);
	uint32_t others, share;

	if (!peer->staged_accounted)
		waiting++; /* this one, not counted yet */
	share = CWG_MIN(CWG_MAX_STAGED_PACKETS, limit / (waiting + 1));
	share = CWG_MAX(share, 1U);
	others = cwg_atomic_load_relaxed(&dev->staged_total) -
		 peer->staged_accounted;
	if (others >= limit)
		share = 0;
	else
		share = CWG_MIN(share, limit - others);
	while (peer->staged.count > share)
		cwg_drop_pkt(dev, cwg_pkt_list_pop(&peer->staged),
			     CWG_DROP_STAGED_OVERFLOW);
	staged_sync(peer);
}

void cwg_send_control(struct cwg_peer *peer, struct cwg_pkt *pkt,
		      struct cwg_out *out)
{
	if (!peer->endpoint.family) {
		cwg_drop_pkt(peer->dev, pkt, CWG_DROP_NO_ENDPOINT);
		return;
	}
	pkt->ep = peer->endpoint;
	pkt->peer = peer;
	cwg_atomic_add_relaxed(&peer->tx_bytes, pkt->len);
	cwg_pkt_list_append(&out->net, pkt);
}

/* A buffer for a len-byte handshake message, or NULL (counted). */
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
	return pkt;
}

/* A handshake we sent, initiation or response: the rate limit of
 * initiations counts both, as the kernel's does. */
static void handshake_sent(struct cwg_peer *peer, uint64_t now)
{
	peer->last_sent_handshake = now;
	peer->have_sent_handshake = true;
	cwg_timers_any_authenticated_packet_traversal(peer, now);
	cwg_timers_any_authenticated_packet_sent(peer);
}

/* Rate limited to one per REKEY_TIMEOUT. */
void cwg_send_initiation(struct cwg_peer *peer, bool is_retry, uint64_t now,
			 struct cwg_out *out)
{
	struct cwg_pkt *pkt;
	enum cwg_drop why;

	cwg_lock_assert_held(&peer->lock);
	if (!is_retry)
		peer->handshake_attempts = 0;
	if (peer->have_sent_handshake &&
	    !cwg_expired(peer->last_sent_handshake, now, CWG_REKEY_TIMEOUT_NS))
		return;
	peer->last_sent_handshake = now;
	peer->have_sent_handshake = true;
	pkt = control_pkt(peer->dev, CWG_MSG_INITIATION_LEN);
	if (!pkt)
		return;
	why = cwg_handshake_create_initiation(peer, now, pkt->data);
	if (why != CWG_DROP_MAX) {
		cwg_drop_pkt(peer->dev, pkt, why);
		return;
	}
	handshake_sent(peer, now);
	cwg_timers_handshake_initiated(peer, now);
	cwg_send_control(peer, pkt, out);
}

/* A response is a handshake we sent, as the kernel counts it: our own
 * data then waits for this session instead of starting another handshake
 * that would cross this one. */
void cwg_send_response(struct cwg_peer *peer, struct cwg_pkt *pkt, uint64_t now,
		       struct cwg_out *out)
{
	cwg_lock_assert_held(&peer->lock);
	handshake_sent(peer, now);
	cwg_send_control(peer, pkt, out);
}

static bool keypair_usable_for_send(const struct cwg_keypair *kp, uint64_t now)
{
	return kp && kp->send_valid &&
	       !cwg_expired(kp->birth, now, CWG_REJECT_AFTER_TIME_NS) &&
	       cwg_atomic_load_relaxed(&kp->send_counter) <
		       CWG_REJECT_AFTER_MESSAGES;
}

/*
 * The sending side's rule for keeping the key fresh: rekey by message
 * count, and by age on the side that initiated (the responder waits, so
 * both do not race). sent is the counter after this batch. receive.c has
 * the receiving side's rule.
 */
static void keep_key_fresh(struct cwg_peer *peer, const struct cwg_keypair *kp,
			   uint64_t sent, uint64_t now, struct cwg_out *out)
{
	if (sent > CWG_REKEY_AFTER_MESSAGES ||
	    (kp->initiator &&
	     cwg_expired(kp->birth, now, CWG_REKEY_AFTER_TIME_NS)))
		cwg_send_initiation(peer, false, now, out);
}

/*
 * Under peer->lock: move the staged packets into job with a keypair
 * reference and their counters, or start a handshake and leave them
 * staged (trimmed to the queue's bound). false when nothing is to be
 * sealed.
 */
static bool send_prepare(struct cwg_peer *peer, uint64_t now,
			 struct cwg_out *out, struct send_job *job)
{
	struct cwg_keypair *kp = peer->kp_current;
	struct cwg_pkt *p;
	bool data = false;
	uint32_t n = peer->staged.count;

	cwg_lock_assert_held(&peer->lock);
	job->kp = NULL;
	if (!n)
		return false;
	if (!peer->endpoint.family) {
		cwg_staged_drop_all(peer, CWG_DROP_NO_ENDPOINT);
		return false;
	}
	if (!keypair_usable_for_send(kp, now))
		goto need_handshake;
	job->counter = cwg_atomic_fetch_add(&kp->send_counter, (uint64_t)n);
	if (job->counter + n > CWG_REJECT_AFTER_MESSAGES) {
		kp->send_valid = false;
		goto need_handshake;
	}
	cwg_atomic_add_relaxed(&kp->refcount, 1);
	job->kp = kp;
	job->peer = peer;
	job->ep = peer->endpoint;
	job->pkts = peer->staged; /* non-empty: tail points into a packet */
	cwg_pkt_list_init(&peer->staged);
	staged_sync(peer);

	for (p = job->pkts.head; p; p = p->next)
		if (p->len) {
			data = true;
			break;
		}
	if (data)
		cwg_timers_data_sent(peer, now);
	cwg_timers_any_authenticated_packet_traversal(peer, now);
	cwg_timers_any_authenticated_packet_sent(peer);
	keep_key_fresh(peer, kp, job->counter + n, now, out);
	return true;

need_handshake:
	staged_trim(peer);
	cwg_send_initiation(peer, false, now, out);
	return false;
}

/* Gives each packet of a prepared job its session and counter and moves
 * them onto ready; the job's keypair reference goes with its last packet. */
static void job_ready(struct send_job *job, struct cwg_pkt_list *ready)
{
	uint64_t counter = job->counter;
	struct cwg_pkt *p;

	for (p = job->pkts.head; p; p = p->next) {
		p->kp = job->kp;
		p->counter = counter++;
		p->kp_last = !p->next;
		p->ep = job->ep;
		p->peer = job->peer;
	}
	cwg_pkt_list_concat(ready, &job->pkts);
	job->kp = NULL;
}

/* Seal one packet in place: header before, padding and tag after. */
static bool seal_one(struct cwg_pkt *p, uint32_t mtu,
		     const struct cwg_keypair *kp)
{
	uint32_t len = p->len, padded = cwg_data_padded_len(len, mtu);
	uint8_t *hdr;

	if (p->data < p->buf + CWG_DATA_HEADROOM ||
	    p->data + padded + CWG_AEAD_TAG_LEN > p->buf + p->cap)
		return false;
	cwg_memset(p->data + len, 0, padded - len);
	hdr = p->data - CWG_DATA_HEADROOM;
	cwg_msg_set_type(hdr, CWG_MSG_DATA);
	cwg_put_le32(hdr + CWG_DATA_RECEIVER, kp->remote_index);
	cwg_put_le64(hdr + CWG_DATA_COUNTER, p->counter);
	cwg_aead_seal(hdr + CWG_DATA_PAYLOAD, hdr + CWG_DATA_PAYLOAD, padded,
		      NULL, 0, p->counter, kp->send_key);
	p->data = hdr;
	p->len = CWG_DATA_HEADROOM + padded + CWG_AEAD_TAG_LEN;
	return true;
}

/*
 * Seals ready onto out->net. Needs no lock: each run of packets under
 * one keypair carries a reference on it (on its last packet), and the
 * keypair one on its peer, whose byte count is added to before that
 * reference goes. The peer may have been removed meanwhile; its packets
 * still leave, as the kernel's do from its queues.
 */
static void seal_list(struct cwg_device *dev, struct cwg_pkt_list *ready,
		      struct cwg_out *out)
{
	uint32_t mtu = cwg_atomic_load_relaxed(&dev->mtu);
	uint64_t bytes = 0;
	struct cwg_pkt *p;

	while ((p = cwg_pkt_list_pop(ready))) {
		struct cwg_keypair *kp = p->kp;
		bool last = p->kp_last;

		p->kp = NULL;
		p->kp_last = false;
		if (seal_one(p, mtu, kp)) {
			bytes += p->len;
			cwg_pkt_list_append(&out->net, p);
		} else {
			cwg_drop_pkt(dev, p, CWG_DROP_NO_BUFFER);
		}
		if (last) {
			cwg_atomic_add_relaxed(&kp->peer->tx_bytes, bytes);
			bytes = 0;
			cwg_keypair_put(kp);
		}
	}
}

void cwg_device_send_seal(struct cwg_device *dev, struct cwg_pkt_list *ready,
			  struct cwg_out *out)
{
	seal_list(dev, ready, out);
}

/* Under peer->lock: its staged packets are left for cwg_device_flush. */
static void flush_defer(struct cwg_peer *peer, struct cwg_out *out)
{
	struct cwg_device *dev = peer->dev;

	cwg_mutex_lock(&dev->flush_lock);
	if (!peer->flush_pending) {
		peer->flush_pending = true;
		peer->flush_next = dev->flush_head;
		/* Atomic for cwg_device_flush's look without the lock. */
		cwg_atomic_store(&dev->flush_head, peer);
	}
	cwg_mutex_unlock(&dev->flush_lock);
	out->flush = true;
}

void cwg_send_staged(struct cwg_peer *peer, uint64_t now, struct cwg_out *out)
{
	struct send_job job;
	struct cwg_pkt_list ready;

	cwg_lock_assert_held(&peer->lock);
	if (peer->dev->defer_flush) {
		if (peer->staged.count)
			flush_defer(peer, out);
		return;
	}
	if (!send_prepare(peer, now, out, &job))
		return;
	/* Called under the peer's lock, with cfg_lock held for reading. */
	cwg_pkt_list_init(&ready);
	job_ready(&job, &ready);
	seal_list(peer->dev, &ready, out);
}

void cwg_send_keepalive(struct cwg_peer *peer, uint64_t now, struct cwg_out *out)
{
	struct cwg_pkt *p;

	if (!peer->staged.count) {
		p = cwg_pkt_alloc();
		if (!p) {
			cwg_drop(peer->dev, CWG_DROP_NO_BUFFER);
			return;
		}
		p->len = 0;
		cwg_pkt_list_append(&peer->staged, p);
		staged_sync(peer);
	}
	cwg_send_staged(peer, now, out);
}

/* The peer that owns a plaintext packet's destination; CWG_DROP_MAX when
 * found, else why the packet has none. */
static enum cwg_drop route(struct cwg_device *dev, const struct cwg_pkt *p,
			   struct cwg_peer **peer)
{
	struct cwg_allowedips_owner *o;

	if (p->len >= 20 && p->data[0] >> 4 == 4)
		o = cwg_allowedips_lookup(&dev->allowedips, 4, p->data + 16);
	else if (p->len >= 40 && p->data[0] >> 4 == 6)
		o = cwg_allowedips_lookup(&dev->allowedips, 6, p->data + 24);
	else
		return CWG_DROP_BAD_INNER;
	if (!o)
		return CWG_DROP_NO_ROUTE;
	*peer = CWG_CONTAINER_OF(o, struct cwg_peer, allowedips);
	return CWG_DROP_MAX;
}

static void send_group(struct cwg_device *dev, struct cwg_peer *peer,
		       struct cwg_pkt_list *group, uint64_t now,
		       struct cwg_out *out, struct cwg_pkt_list *ready)
{
	struct send_job job;

	cwg_mutex_lock(&peer->lock);
	if (!peer->endpoint.family) {
		cwg_mutex_unlock(&peer->lock);
		drop_list(dev, group, CWG_DROP_NO_ENDPOINT);
		return;
	}
	/* Append the group to what already waits, preserving order. */
	cwg_pkt_list_concat(&peer->staged, group);
	if (send_prepare(peer, now, out, &job))
		job_ready(&job, ready);
	cwg_mutex_unlock(&peer->lock);
}

void cwg_device_send_prepare(struct cwg_device *dev, struct cwg_pkt_list *in,
			     uint64_t now, struct cwg_out *out,
			     struct cwg_pkt_list *ready)
{
	struct cwg_pkt_list group;
	struct cwg_peer *cur = NULL, *peer = NULL;
	struct cwg_pkt *p;
	enum cwg_drop why;

	cwg_pkt_list_init(&group);
	cwg_rwlock_rdlock(&dev->cfg_lock);
	while ((p = cwg_pkt_list_pop(in))) {
		why = route(dev, p, &peer);
		if (why != CWG_DROP_MAX) {
			cwg_drop_pkt(dev, p, why);
			continue;
		}
		if (peer != cur && group.count)
			send_group(dev, cur, &group, now, out, ready);
		cur = peer;
		cwg_pkt_list_append(&group, p);
	}
	if (group.count)
		send_group(dev, cur, &group, now, out, ready);
	cwg_rwlock_unlock(&dev->cfg_lock);
}

void cwg_device_send(struct cwg_device *dev, struct cwg_pkt_list *in,
		     uint64_t now, struct cwg_out *out)
{
	struct cwg_pkt_list ready;

	cwg_pkt_list_init(&ready);
	cwg_device_send_prepare(dev, in, now, out, &ready);
	cwg_device_send_seal(dev, &ready, out);
}

void cwg_device_set_deferred_flush(struct cwg_device *dev, bool on)
{
	dev->defer_flush = on;
}

/*
 * Peers are taken off the list one at a time, each marked not pending
 * before its staged packets are looked at: a handshake that completes
 * meanwhile puts the peer back on, so nothing staged is left behind.
 */
void cwg_device_flush(struct cwg_device *dev, uint64_t now,
		      struct cwg_out *out, struct cwg_pkt_list *ready)
{
	struct cwg_peer *peer;
	struct send_job job;

	/* Hosts call this with every batch: nothing pending costs a load.
	 * A peer put on the list after this look is the next call's. */
	if (!cwg_atomic_load(&dev->flush_head))
		return;
	cwg_rwlock_rdlock(&dev->cfg_lock);
	for (;;) {
		cwg_mutex_lock(&dev->flush_lock);
		peer = dev->flush_head;
		if (peer) {
			cwg_atomic_store(&dev->flush_head, peer->flush_next);
			peer->flush_next = NULL;
			peer->flush_pending = false;
		}
		cwg_mutex_unlock(&dev->flush_lock);
		if (!peer)
			break;
		cwg_mutex_lock(&peer->lock);
		if (send_prepare(peer, now, out, &job))
			job_ready(&job, ready);
		cwg_mutex_unlock(&peer->lock);
	}
	cwg_rwlock_unlock(&dev->cfg_lock);
}
