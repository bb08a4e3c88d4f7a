/* SPDX-License-Identifier: MIT */
/*
 * The core's internal structures and the functions its files share. Only
 * src/core and white-box tests include this; hosts use <cwg/cwg.h>.
 */
#ifndef CWG_PEER_H
#define CWG_PEER_H

#include "allowedips.h"
#include "cookie.h"
#include <cwg/cwg.h>
#include "lookup.h"
#include "messages.h"
#include "noise.h"
#include "ratelimiter.h"
#include "replay.h"

/* Bits, so a lookup can accept either (cookie replies may name both). */
enum noise_index_kind {
	CWG_INDEX_HANDSHAKE = 1,
	CWG_INDEX_KEYPAIR = 2,
};

/* An entry of the device's receiver-index table. */
struct noise_index {
	struct cwg_index_entry entry;
	uint8_t kind;
	bool registered;
};

/*
 * A session's keys.
 *
 * Lifetime: allocated when a handshake completes (refcount 1: the slot it
 * lands in). References are held by each of the peer's slots (current,
 * previous, next), by a receive run while it opens packets (cwg_index_lookup,
 * under index_lock), and by each run of packets between
 * cwg_device_send_prepare or cwg_device_flush and cwg_device_send_seal
 * (carried by the run's last packet, kp_last). Retiring a keypair takes
 * its index out of the table, so no new lookup finds it, and drops the
 * slot's reference; the last cwg_keypair_put wipes and frees it. A keypair
 * holds a reference on its peer, so kp->peer is valid for as long as the
 * keypair is, even after the peer was removed.
 *
 * The slots and the index entry change only under peer->lock; the
 * counters are atomics; the replay window has its own lock so several
 * receive threads can share a session.
 */
struct cwg_keypair {
	struct noise_index idx; /* our index: incoming data carries it */
	struct cwg_peer *peer;
	uint32_t remote_index;	/* theirs: outgoing data carries it */
	uint32_t refcount;
	bool initiator;
	bool send_valid;	/* cleared to force a new handshake */
	uint64_t birth;
	uint64_t send_counter;	/* next nonce, atomic */
	uint8_t send_key[CWG_KEY_LEN];
	uint8_t recv_key[CWG_KEY_LEN];
	struct cwg_mutex replay_lock;
	struct cwg_replay replay;
};

enum handshake_state {
	HS_ZEROED,
	HS_CREATED_INITIATION,
	HS_CONSUMED_INITIATION,
	HS_CREATED_RESPONSE,
	HS_CONSUMED_RESPONSE,
};

struct cwg_handshake {
	struct noise_index idx; /* our index for this handshake */
	enum handshake_state state;
	struct noise_state ns;
	uint32_t remote_index;
	uint8_t latest_timestamp[12];
	uint64_t last_initiation_consumption;
	bool have_consumed_initiation;
};

/*
 * A peer.
 *
 * Lifetime: references are held by the device (from cwg_device_add_peer
 * until cwg_device_remove_peer) and by each of its keypairs (see
 * struct cwg_keypair). Every way of finding a peer (the peer list, the
 * pubkey table, the allowed-IPs trie, the index table, the flush list)
 * is used under dev->cfg_lock, read or write, and removal unlinks the
 * peer from all of them under cfg_lock (write): so whoever holds
 * cfg_lock sees only live peers and needs no reference of its own.
 * Removal also stops the timers, drops the staged packets, wipes the
 * handshake and retires the keypairs, then drops the device's reference.
 * What outlives it are packets between prepare and seal, which reach the
 * peer only through their keypair's reference; the last cwg_peer_put frees
 * the memory. pkt->peer on a packet the core has handed out (out->net,
 * out->tun) is not a reference: a host may compare it, or give it back to
 * the core under cfg_lock, but never follow it.
 *
 * peer->lock protects everything below it that is not marked atomic.
 * The fields above it change only under the device's cfg_lock (write).
 */
struct cwg_peer {
	uint32_t refcount;		/* atomic */
	struct cwg_pubkey_entry pubkey; /* in dev->peers_by_key */
	struct cwg_allowedips_owner allowedips;
	struct cwg_device *dev;
	struct cwg_peer *next, *prev;	/* dev's list, in order of addition */
	uint8_t ss[CWG_KEY_LEN];	/* DH(our private, their public) */
	uint16_t persistent_keepalive;	/* seconds, 0 off */

	struct cwg_mutex lock;
	uint8_t psk[CWG_KEY_LEN];
	struct cwg_handshake hs;
	struct cookie_maker cookie;
	struct cwg_keypair *kp_current, *kp_previous, *kp_next;
	struct cwg_endpoint endpoint;
	/* The data packet whose source the endpoint last became: its
	 * session's birth and its counter (receive.c). */
	uint64_t ep_birth, ep_counter;
	/* Packets waiting for a session, oldest first. staged_accounted is
	 * how many of them dev->staged_total counts (send.c). */
	struct cwg_pkt_list staged;
	uint32_t staged_accounted;

	/* Timers: absolute deadlines on the monotonic clock, 0 when off. */
	uint64_t t_retransmit_handshake;
	uint64_t t_send_keepalive;
	uint64_t t_new_handshake;
	uint64_t t_zero_key_material;
	uint64_t t_persistent_keepalive;
	bool need_another_keepalive;
	bool keepalive_requested; /* send one at the next tick */
	uint32_t handshake_attempts;
	uint64_t last_sent_handshake;
	bool have_sent_handshake;
	bool sent_lastminute_handshake;
	uint64_t last_handshake_wall_ns;

	uint64_t rx_bytes; /* atomic */
	uint64_t tx_bytes; /* atomic */

	/* On dev->flush_head's list (dev->flush_lock guards both). */
	struct cwg_peer *flush_next;
	bool flush_pending;
};

/*
 * cfg_lock: read by each data batch and tick, write by configuration; it
 * guards the peer list, the pubkey table, the allowed-IPs trie, the static
 * identity and each peer's fields above its lock.
 * index_lock: the index table (taken inside a peer's lock, never around
 * one).
 */
struct cwg_device {
	struct cwg_rwlock cfg_lock;
	struct cwg_mutex index_lock;
	struct cwg_index_table index;
	struct cwg_pubkey_table peers_by_key;
	struct cwg_allowedips allowedips;
	struct cwg_peer *first, *last;
	uint32_t peer_count;

	bool have_identity;
	uint8_t static_priv[CWG_KEY_LEN];
	uint8_t static_pub[CWG_KEY_LEN];
	struct cookie_checker cookie;
	struct cwg_ratelimiter ratelimiter;

	cwg_rng_fn rng;
	void *rng_ctx;
	int64_t wall_offset; /* atomic */
	uint32_t mtu;	     /* atomic */
	uint64_t last_under_load; /* atomic */
	uint32_t backlog;	  /* atomic */

	/* Packets staged by all peers together, and how many peers have
	 * some (atomics): the bound that keeps peers that cannot complete a
	 * handshake from taking the host's buffers from the others. */
	uint32_t staged_total;
	uint32_t staged_peers;
	uint32_t staged_limit;

	/* Deferred flushing: peers whose staged packets wait for
	 * cwg_device_flush. flush_lock is taken inside a peer's lock, never
	 * around one. */
	bool defer_flush;
	struct cwg_mutex flush_lock;
	struct cwg_peer *flush_head;

	struct cwg_device_stats stats; /* each field atomic */

	/* Configuration batches open, and since when (by the ticks' clock,
	 * 0: not yet seen) the routing lookup tables have been stale while
	 * one was (atomics). */
	uint32_t cfg_batches;
	uint64_t tables_stale_since;
};

#define cwg_count(dev, field) cwg_atomic_add_relaxed(&(dev)->stats.field, 1)
static inline void cwg_drop(struct cwg_device *dev, enum cwg_drop why)
{
	cwg_atomic_add_relaxed(&dev->stats.drops[why], 1);
}
void cwg_drop_pkt(struct cwg_device *dev, struct cwg_pkt *pkt,
		  enum cwg_drop why);

/* device.c */
void cwg_peer_get(struct cwg_peer *peer);
void cwg_peer_put(struct cwg_peer *peer);
/* Under peer->lock: the endpoint becomes ep (when it has a family). */
void cwg_peer_set_endpoint_from(struct cwg_peer *peer,
				const struct cwg_endpoint *ep);
/* Under peer->lock: forget the local source address (sticky source). */
void cwg_peer_forget_src(struct cwg_peer *peer);

/* lookup.c: the receiver-index table (dev->index_lock inside). */
/* 0, or -CWG_ENOMEM; idx gets a fresh random index. */
int cwg_index_register(struct cwg_device *dev, struct noise_index *idx,
		       enum noise_index_kind kind);
void cwg_index_unregister(struct cwg_device *dev, struct noise_index *idx);
/* Hands from's number to to in one step: no lookup sees it missing. */
void cwg_index_move(struct cwg_device *dev, struct noise_index *from,
		    struct noise_index *to, enum noise_index_kind kind);
/*
 * The peer that owns index, if its kind is among kinds (a mask of
 * enum noise_index_kind), else NULL. With kp non-NULL and the index a
 * session's, *kp gets that keypair with a reference taken. The caller
 * holds cfg_lock (read), which keeps the peer alive.
 */
struct cwg_peer *cwg_index_lookup(struct cwg_device *dev, uint32_t index,
				  unsigned int kinds, struct cwg_keypair **kp);

/* handshake.c: creating and consuming handshake messages. */
void cwg_handshake_clear(struct cwg_peer *peer);
/* Under peer->lock. CWG_DROP_MAX when msg holds a new initiation, else
 * why there is none. */
enum cwg_drop cwg_handshake_create_initiation(
	struct cwg_peer *peer, uint64_t now,
	uint8_t msg[CWG_MSG_INITIATION_LEN]);
/* Under cfg_lock (read), not peer->lock, which it takes: the peer whose
 * handshake the initiation msg now is, or NULL and *why. */
struct cwg_peer *cwg_handshake_consume_initiation(struct cwg_device *dev,
						  const uint8_t *msg,
						  uint64_t now,
						  enum cwg_drop *why);
/* Under peer->lock: the response to the initiation consumed last. */
bool cwg_handshake_create_response(struct cwg_peer *peer, uint64_t now,
				   uint8_t msg[CWG_MSG_RESPONSE_LEN]);
/* Under peer->lock: whether msg answers our initiation. */
bool cwg_handshake_consume_response(struct cwg_peer *peer, const uint8_t *msg);

/* keypair.c: sessions and the peer's keypair slots, under peer->lock. */
bool cwg_session_begin(struct cwg_peer *peer, bool initiator, uint64_t now);
void cwg_keypair_put(struct cwg_keypair *kp);
void cwg_peer_clear_keypairs(struct cwg_peer *peer);
void cwg_peer_expire_current_keypairs(struct cwg_peer *peer);
bool cwg_peer_received_with_keypair(struct cwg_peer *peer,
				    struct cwg_keypair *kp);

/* send.c, under peer->lock */
void cwg_send_initiation(struct cwg_peer *peer, bool is_retry, uint64_t now,
			 struct cwg_out *out);
void cwg_send_response(struct cwg_peer *peer, struct cwg_pkt *pkt, uint64_t now,
		       struct cwg_out *out);
void cwg_send_staged(struct cwg_peer *peer, uint64_t now, struct cwg_out *out);
void cwg_send_keepalive(struct cwg_peer *peer, uint64_t now,
			struct cwg_out *out);
void cwg_send_control(struct cwg_peer *peer, struct cwg_pkt *pkt,
		      struct cwg_out *out);
void cwg_staged_drop_all(struct cwg_peer *peer, enum cwg_drop why);

/* timers.c: the whitepaper's events, called under peer->lock. */
void cwg_timers_data_sent(struct cwg_peer *peer, uint64_t now);
void cwg_timers_data_received(struct cwg_peer *peer, uint64_t now);
void cwg_timers_any_authenticated_packet_sent(struct cwg_peer *peer);
void cwg_timers_any_authenticated_packet_received(struct cwg_peer *peer);
void cwg_timers_any_authenticated_packet_traversal(struct cwg_peer *peer,
						   uint64_t now);
void cwg_timers_handshake_initiated(struct cwg_peer *peer, uint64_t now);
void cwg_timers_handshake_complete(struct cwg_peer *peer, uint64_t now);
void cwg_timers_session_derived(struct cwg_peer *peer, uint64_t now);
void cwg_timers_stop(struct cwg_peer *peer);

#endif
