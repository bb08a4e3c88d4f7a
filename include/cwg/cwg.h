/* SPDX-License-Identifier: MIT */
/*
 * libcwg: the WireGuard protocol core as a library. This header is its
 * device API, what a platform layer (the cwg daemon, a kernel glue, a
 * router, a test harness) drives; <cwg/tunnel.h> is a single-peer API
 * on top of it, <cwg/uapi.h> the `wg` text protocol on a device, and
 * <cwg/platform.h> what every host provides (libcwg brings a POSIX one).
 *
 * Three data entry points, each taking a batch and returning what to
 * emit in a struct cwg_out:
 *
 *   cwg_device_send()     plaintext IP packets from the tunnel
 *   cwg_device_receive()  UDP datagrams with their source endpoint
 *   cwg_device_tick()     the passage of time (timers)
 *
 * and configuration calls used by the UAPI. Time comes in as a monotonic
 * nanosecond count `now`; the wall clock (for TAI64N timestamps and
 * last-handshake times) is now + the offset the host keeps current with
 * cwg_device_set_wall_offset(). Randomness comes from the rng given at
 * creation.
 *
 * Locking inside the device, outermost first (for the curious: hosts
 * only take cfg_lock, through the calls below):
 *   dev->cfg_lock (rwlock)  read: one per data batch and per tick;
 *                           write: configuration (cwg_device_cfg_lock)
 *   peer->lock (mutex)      handshake, keypair slots, timers, endpoint
 *   dev->index_lock (mutex) the receiver-index table
 *   keypair->replay_lock    one keypair's replay window
 * Configuration calls (cwg_device_*peer*, cwg_peer_set_*, allowed IPs) must
 * be made between cwg_device_cfg_lock() and cwg_device_cfg_unlock(); the
 * info getters between cwg_device_cfg_rdlock() and cwg_device_cfg_unlock().
 */
#ifndef CWG_CWG_H
#define CWG_CWG_H

#include <cwg/platform.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The library's version; the ABI is libcwg.so.CWG_ABI_VERSION. */
#define CWG_VERSION_MAJOR 0
#define CWG_VERSION_MINOR 1
#define CWG_ABI_VERSION 0

/* At most this many packets wait for a handshake per peer, and all
 * peers together at most CWG_STAGED_LIMIT_DEFAULT unless the host says
 * otherwise (cwg_device_set_staged_limit). */
#define CWG_MAX_STAGED_PACKETS 128
#define CWG_STAGED_LIMIT_DEFAULT 1024

/* Wire sizes. */
#define CWG_MSG_INITIATION_LEN 148
#define CWG_MSG_RESPONSE_LEN 92
#define CWG_MSG_COOKIE_REPLY_LEN 64
#define CWG_MSG_DATA_HEADER_LEN 16
#define CWG_MSG_DATA_TAG_LEN 16
#define CWG_MSG_DATA_MIN_LEN 32 /* header + tag: a keepalive */
/* Bytes a sealed data packet needs beyond the plaintext: header before,
 * padding (< 16) and tag after. */
#define CWG_DATA_HEADROOM CWG_MSG_DATA_HEADER_LEN
#define CWG_DATA_TAILROOM (15 + CWG_MSG_DATA_TAG_LEN)

struct cwg_device;
struct cwg_peer;

/* The padded plaintext length the core seals for a len-byte packet when
 * the tunnel MTU is mtu (0: unknown): a multiple of 16, but never past the
 * MTU for a packet that fits it. */
static inline uint32_t cwg_data_padded_len(uint32_t len, uint32_t mtu)
{
	uint32_t padded = (len + 15) & ~15U;

	if (mtu && padded > mtu && len <= mtu)
		padded = mtu;
	return padded;
}

/* The datagram cwg_device_send makes of a len-byte plaintext packet: hosts
 * use it to lay segments out so the sealed datagrams end up contiguous
 * (one UDP GSO send). */
static inline uint32_t cwg_data_wire_len(uint32_t len, uint32_t mtu)
{
	return CWG_MSG_DATA_HEADER_LEN + cwg_data_padded_len(len, mtu) +
	       CWG_MSG_DATA_TAG_LEN;
}

/* A UDP endpoint. addr (and src_addr) are 4 or 16 bytes, network order. */
struct cwg_endpoint {
	uint8_t family;	  /* 0 (unset), 4 or 6 */
	uint16_t port;	  /* host order */
	uint8_t addr[16];
	/* IPv6 only: the interface index addr is reached through, as in
	 * sockaddr_in6's sin6_scope_id (what a link-local address needs);
	 * 0 none. It belongs to addr: set with it (from the UAPI's
	 * "[fe80::1%eth0]:port", from a received packet's source) and kept
	 * when the sticky source below is forgotten. */
	uint32_t scope_id;
	/* The local address the peer's packet arrived on, and its
	 * interface, used as the source of replies (sticky source); all
	 * zeros means "let routing choose". */
	uint8_t src_addr[16];
	uint32_t src_ifindex;
};

/*
 * A packet buffer from the host's pool. The bytes [buf, buf + cap) belong
 * to it; the packet is [data, data + len). The core moves data back (to
 * prepend the 16-byte header) and len forward (padding, tag) within that
 * space, so a plaintext packet handed to cwg_device_send needs
 * CWG_DATA_HEADROOM before and CWG_DATA_TAILROOM after it.
 */
struct cwg_pkt {
	struct cwg_pkt *next;
	uint8_t *buf;
	uint8_t *data;
	uint32_t cap;
	uint32_t len;
	/* receive: where the datagram came from (and to which local address);
	 * output to the network: where to send it (and from where). */
	struct cwg_endpoint ep;
	/* output: the peer this packet belongs to (for stats and grouping). */
	struct cwg_peer *peer;
	/* Between cwg_device_send_prepare (or cwg_device_flush) and
	 * cwg_device_send_seal: the session and counter it is sealed under.
	 * The last packet of a run under one session carries the reference
	 * the run holds on it (kp_last). */
	struct cwg_keypair *kp;
	uint64_t counter;
	bool kp_last;
};

struct cwg_pkt_list {
	struct cwg_pkt *head;
	struct cwg_pkt **tail;
	uint32_t count;
};

static inline void cwg_pkt_list_init(struct cwg_pkt_list *l)
{
	l->head = NULL;
	l->tail = &l->head;
	l->count = 0;
}
static inline void cwg_pkt_list_append(struct cwg_pkt_list *l,
				       struct cwg_pkt *p)
{
	p->next = NULL;
	*l->tail = p;
	l->tail = &p->next;
	l->count++;
}
static inline struct cwg_pkt *cwg_pkt_list_pop(struct cwg_pkt_list *l)
{
	struct cwg_pkt *p = l->head;
	if (p) {
		l->head = p->next;
		if (!l->head)
			l->tail = &l->head;
		l->count--;
		p->next = NULL;
	}
	return p;
}
/* Moves all of from onto the end of l, in order; from is left empty. */
static inline void cwg_pkt_list_concat(struct cwg_pkt_list *l,
				       struct cwg_pkt_list *from)
{
	if (!from->head)
		return;
	*l->tail = from->head;
	l->tail = from->tail;
	l->count += from->count;
	cwg_pkt_list_init(from);
}

/* What a call wants emitted. The caller initializes both lists and owns
 * every packet on them afterwards. */
struct cwg_out {
	struct cwg_pkt_list net; /* datagrams; pkt->ep is the destination */
	struct cwg_pkt_list tun; /* decrypted IP packets for the tunnel */
	/* With deferred flushing on: packets now wait for cwg_device_flush,
	 * which the host should call soon from its sending side. */
	bool flush;
};

static inline void cwg_out_init(struct cwg_out *o)
{
	cwg_pkt_list_init(&o->net);
	cwg_pkt_list_init(&o->tun);
	o->flush = false;
}

/* Why a packet was dropped; each is counted in the device's stats. */
enum cwg_drop {
	CWG_DROP_BAD_LENGTH,	  /* wrong size for its type */
	CWG_DROP_UNKNOWN_TYPE,	  /* first byte not 1..4 or reserved non-zero */
	CWG_DROP_BAD_MAC1,
	CWG_DROP_BAD_MAC2,	  /* under load with a stale or absent cookie */
	CWG_DROP_HANDSHAKE_INVALID, /* did not decrypt, unknown peer, bad key */
	CWG_DROP_REPLAYED_TIMESTAMP,
	CWG_DROP_FLOOD,		  /* initiations < 20 ms apart */
	CWG_DROP_RATE_LIMITED,
	CWG_DROP_UNKNOWN_INDEX,
	CWG_DROP_BAD_TAG,	  /* data packet failed authentication */
	CWG_DROP_REPLAYED_COUNTER,
	CWG_DROP_KEY_EXPIRED,	  /* keypair too old or counter exhausted */
	CWG_DROP_NO_ROUTE,	  /* no peer's allowed IPs hold the dest */
	CWG_DROP_NO_ENDPOINT,
	CWG_DROP_NOT_ALLOWED,	  /* inner source not the sender's */
	CWG_DROP_BAD_INNER,	  /* not a valid IPv4/IPv6 packet */
	CWG_DROP_STAGED_OVERFLOW, /* oldest waiting packet pushed out */
	CWG_DROP_NO_KEY,	  /* gave up on the handshake; queue flushed */
	CWG_DROP_NO_BUFFER,	  /* host pool empty or packet too big */
	CWG_DROP_NO_PRIVATE_KEY,
	CWG_DROP_MAX
};
CWG_EXPORT extern const char *const cwg_drop_names[CWG_DROP_MAX];

struct cwg_device_stats {
	uint64_t drops[CWG_DROP_MAX];
	uint64_t handshake_initiations_rx;
	uint64_t handshake_responses_rx;
	uint64_t cookie_replies_rx;
	uint64_t cookie_replies_tx;
	uint64_t handshakes_completed;
	uint64_t keypairs_wiped; /* sessions whose keys were destroyed */
};

/* Randomness: fill buf with len random bytes. Called under the device's
 * locks, from whichever thread is in the core. */
typedef void (*cwg_rng_fn)(void *ctx, uint8_t *buf, size_t len);

/*
 * Conventions for every call below.
 *
 * Buffers: a cwg_pkt passed in (on a list) becomes the core's; every
 * packet the core hands back (on out->net or out->tun) is the caller's,
 * to be freed with cwg_pkt_free when done. Keys are copied; the caller
 * keeps (and wipes) its own.
 * Time: now is a monotonic clock in nanoseconds that never goes back.
 * Threads: the data calls (send, prepare, seal, flush, receive, tick)
 * may run on any number of threads at once; the device takes its own
 * locks. Configuration runs between cwg_device_cfg_lock() and
 * cwg_device_cfg_unlock() (writer: data calls wait), the getters between
 * cwg_device_cfg_rdlock() and cwg_device_cfg_unlock(); a struct
 * cwg_peer pointer is valid only while the caller holds one of them,
 * and a peer on an output packet (pkt->peer) only for comparing.
 * Errors: 0 or a negative CWG_E* value; drops are counted by reason in
 * the device's stats, never reported per packet.
 */

/* A device with no key and no peers; rng NULL means the system's CSPRNG.
 * NULL when out of memory. Call cwg_init() once per process first. */
CWG_EXPORT struct cwg_device *cwg_device_new(cwg_rng_fn rng, void *rng_ctx);
/* Frees the device and every peer, wiping every secret. No other call on
 * it may be running or follow, and every packet between prepare and seal
 * must have been sealed. NULL is allowed. */
CWG_EXPORT void cwg_device_free(struct cwg_device *dev);

/* The wall clock minus the monotonic clock the host passes as now, in
 * ns: handshake timestamps and last-handshake times are wall-clock.
 * Keep it current (after the clock is set); any thread. */
CWG_EXPORT void cwg_device_set_wall_offset(struct cwg_device *dev,
					   int64_t wall_minus_mono_ns);
/* The tunnel MTU, used to cap padding (default 1420); any thread. */
CWG_EXPORT void cwg_device_set_mtu(struct cwg_device *dev, uint32_t mtu);
/* The host's count of handshake messages waiting to be processed: at
 * CWG_UNDER_LOAD_BACKLOG or more the device is under load (mac2 required,
 * cookie replies sent) until one second after it drops below. Any
 * thread; the highest report of the last second counts. */
#define CWG_UNDER_LOAD_BACKLOG 512
CWG_EXPORT void cwg_device_set_handshake_backlog(struct cwg_device *dev,
						 uint32_t backlog,
						 uint64_t now);
/* Whether a datagram is a handshake initiation or response, the
 * messages that cost a Diffie-Hellman: what a host counts for the
 * backlog above. Reads at most the first 4 bytes; any thread. */
CWG_EXPORT bool cwg_datagram_is_handshake(const uint8_t *data, size_t len);
/* A snapshot of the counters (each read atomically); any thread. */
CWG_EXPORT void cwg_device_get_stats(struct cwg_device *dev,
				     struct cwg_device_stats *st);
/*
 * Packets that wait for a handshake hold host buffers. All peers together
 * hold at most limit of them (default CWG_STAGED_LIMIT_DEFAULT), and each
 * at most its share: limit / (peers waiting + 1), at least 1 and at most
 * CWG_MAX_STAGED_PACKETS. A peer over its share, or over what the others
 * leave, loses its own oldest packets (CWG_DROP_STAGED_OVERFLOW), never
 * another peer's; peers trim themselves as their own packets come, so
 * when more peers start waiting the earlier ones shrink to make room.
 * While more peers wait than limit, a newcomer's packets are dropped but
 * its handshake still starts. Hosts with a fixed pool set limit well
 * below its size, so that peers which never answer cannot take the
 * buffers that live sessions need. Any thread.
 */
CWG_EXPORT void cwg_device_set_staged_limit(struct cwg_device *dev,
					    uint32_t limit);

/* ---- data path: any thread, each call one batch ---- */

/*
 * Plaintext IP packets from the host's tunnel (in, emptied): each goes to
 * the peer whose allowed IPs hold its destination, sealed onto out->net
 * (pkt->ep the destination) if that peer has a session, else staged while
 * a handshake starts (its initiation on out->net). Packets with no route,
 * or not IPv4/IPv6, are dropped and counted. out: initialized by the
 * caller (cwg_out_init), appended to.
 */
CWG_EXPORT void cwg_device_send(struct cwg_device *dev, struct cwg_pkt_list *in,
				uint64_t now, struct cwg_out *out);
/*
 * cwg_device_send in two steps, for a host that sends from several
 * threads and must keep each peer's packets in order. Prepare routes the
 * batch, stages it behind what already waits and reserves a session and
 * counters for whatever can go now, moving those packets onto ready
 * (caller-initialized) in the order they must leave (handshake
 * initiations go onto out->net). It is cheap: the host calls it, and
 * cwg_device_flush, in the order it read the packets (under one lock of
 * its own, say), and the counters then follow that order too. Seal does
 * the crypto, from any thread and without any lock, and appends ready's
 * packets, still in order, to out->net; every packet prepare put on
 * ready must go through seal, which drops the session references they
 * carry. A peer removed in between still gets its packets sealed.
 */
CWG_EXPORT void cwg_device_send_prepare(struct cwg_device *dev,
					struct cwg_pkt_list *in, uint64_t now,
					struct cwg_out *out,
					struct cwg_pkt_list *ready);
CWG_EXPORT void cwg_device_send_seal(struct cwg_device *dev,
				     struct cwg_pkt_list *ready,
				     struct cwg_out *out);
/*
 * Deferred flushing (off by default; set before any traffic): when a
 * handshake completes, or a timer wants a keepalive, the staged packets
 * are not sealed in that call (on the receiving thread, say) but left
 * for cwg_device_flush, and the call sets out->flush. The host then
 * calls cwg_device_flush where it calls cwg_device_send_prepare, so that
 * every data packet leaves in one order. Flush fills ready like prepare.
 */
CWG_EXPORT void cwg_device_set_deferred_flush(struct cwg_device *dev, bool on);
CWG_EXPORT void cwg_device_flush(struct cwg_device *dev, uint64_t now,
				 struct cwg_out *out,
				 struct cwg_pkt_list *ready);
/*
 * UDP datagrams (in, emptied; pkt->ep the source and the local address
 * it came to): decrypted packets whose inner source the sending peer may
 * use go onto out->tun (pkt->peer the peer), handshake answers and
 * cookie replies onto out->net. Everything else is dropped and counted:
 * nothing a datagram holds can make this fail.
 */
CWG_EXPORT void cwg_device_receive(struct cwg_device *dev,
				   struct cwg_pkt_list *in, uint64_t now,
				   struct cwg_out *out);
/* Timers: retransmissions, keepalives, rekeys, expiry; what they send
 * goes onto out->net. Call at least every 100 ms, and right after
 * configuration. */
CWG_EXPORT void cwg_device_tick(struct cwg_device *dev, uint64_t now,
				struct cwg_out *out);

/* ---- configuration: see the conventions above for the locks ---- */
CWG_EXPORT void cwg_device_cfg_lock(struct cwg_device *dev);
CWG_EXPORT void cwg_device_cfg_rdlock(struct cwg_device *dev);
CWG_EXPORT void cwg_device_cfg_unlock(struct cwg_device *dev);
/*
 * A configuration that spans several holds of the lock (a UAPI set
 * request, applied as its bytes arrive). Routing lookups use tables that
 * a tick rebuilds after the routes changed; between begin and end the
 * ticks leave them (lookups stay exact, walking the trie), so that they
 * are rebuilt once, by the first tick after the end, rather than after
 * every part. Batches are counted, so they may overlap; any thread, no
 * lock. One left open delays a rebuild by at most CWG_CFG_BATCH_MAX_NS.
 */
#define CWG_CFG_BATCH_MAX_NS 1000000000ULL
CWG_EXPORT void cwg_device_cfg_batch_begin(struct cwg_device *dev);
CWG_EXPORT void cwg_device_cfg_batch_end(struct cwg_device *dev);

/* Write lock. key NULL or all zeros removes it. The public key is
 * derived; peers whose key equals it are removed, as the kernel does;
 * every session is ended, since it was made with the old key. */
CWG_EXPORT void cwg_device_set_private_key(struct cwg_device *dev,
					   const uint8_t *key);
/* Read lock. false when no private key is set (key untouched). */
CWG_EXPORT bool cwg_device_get_private_key(struct cwg_device *dev,
					   uint8_t key[CWG_KEY_LEN]);
CWG_EXPORT bool cwg_device_get_public_key(struct cwg_device *dev,
					  uint8_t key[CWG_KEY_LEN]);

/* Read lock. The peer with that public key, or NULL. */
CWG_EXPORT struct cwg_peer *cwg_device_find_peer(
	struct cwg_device *dev, const uint8_t pubkey[CWG_KEY_LEN]);
/* Write lock. 0 and *peer set; -CWG_EEXIST when the key is a peer's
 * already, -CWG_EINVAL when it is the device's own, -CWG_ENOMEM. */
CWG_EXPORT int cwg_device_add_peer(struct cwg_device *dev,
				   const uint8_t pubkey[CWG_KEY_LEN],
				   struct cwg_peer **peer);
/* Write lock. The peer is gone for every lookup at once; its keys are
 * wiped; its memory lives until the last of its packets between prepare
 * and seal is sealed. The pointer must not be used again. */
CWG_EXPORT void cwg_device_remove_peer(struct cwg_device *dev,
				       struct cwg_peer *peer);
CWG_EXPORT void cwg_device_remove_all_peers(struct cwg_device *dev);
/* Read lock. Peers in the order they were added; NULL after the last. */
CWG_EXPORT struct cwg_peer *cwg_device_first_peer(struct cwg_device *dev);
CWG_EXPORT struct cwg_peer *cwg_peer_next(struct cwg_peer *peer);
CWG_EXPORT uint32_t cwg_device_peer_count(struct cwg_device *dev);

/* Write lock, for all of these. psk NULL or all zeros: none. */
CWG_EXPORT void cwg_peer_set_preshared_key(struct cwg_peer *peer,
					   const uint8_t *psk);
/* Where to send until the peer is heard from elsewhere (roaming): family,
 * port, addr and (IPv6) scope_id; the sticky source is forgotten. */
CWG_EXPORT void cwg_peer_set_endpoint(struct cwg_peer *peer,
				      const struct cwg_endpoint *ep);
/* Read lock is enough: forget the sticky source address (the host saw it
 * vanish); the next packet leaves from wherever routing says, to the same
 * address and scope_id. */
CWG_EXPORT void cwg_peer_clear_endpoint_src(struct cwg_peer *peer);
/*
 * No lock (it takes the read lock): forget the sticky source address of
 * each of the n peers named (pointers taken from output packets' ->peer:
 * peers removed since are skipped, never followed), or of every peer
 * when peers is NULL. For a host that saw a source address vanish, or
 * rebound its sockets.
 */
CWG_EXPORT void cwg_device_forget_sources(struct cwg_device *dev,
					  const struct cwg_peer *const *peers,
					  uint32_t n);
/* 0 turns it off; turning it on sends a keepalive at the next tick. */
CWG_EXPORT void cwg_peer_set_persistent_keepalive(struct cwg_peer *peer,
						  uint16_t secs);
/* family 4 or 6, addr 4 or 16 bytes (host bits are masked off). 0;
 * -CWG_EINVAL (bad family or cidr), -CWG_ENOMEM. A prefix another peer
 * holds moves to this one. */
CWG_EXPORT int cwg_peer_add_allowed_ip(struct cwg_peer *peer, int family,
				       const uint8_t *addr, uint8_t cidr);
/* 0, or -CWG_EINVAL. Removing a prefix the peer does not hold is not an
 * error. */
CWG_EXPORT int cwg_peer_remove_allowed_ip(struct cwg_peer *peer, int family,
					  const uint8_t *addr, uint8_t cidr);
CWG_EXPORT void cwg_peer_clear_allowed_ips(struct cwg_peer *peer);
/*
 * Replacing a peer's allowed IPs without a gap, as `wg syncconf` asks
 * (replace_allowed_ips=true, then the whole list again): begin marks
 * every prefix the peer holds, adding one of them again unmarks it (it
 * never stops routing), end removes those still marked. Write lock for
 * each; the lock may be dropped in between, and changes made meanwhile
 * stay (end removes only what is still marked). A prefix that moves to
 * another peer loses its mark.
 */
CWG_EXPORT void cwg_peer_replace_allowed_ips_begin(struct cwg_peer *peer);
CWG_EXPORT void cwg_peer_replace_allowed_ips_end(struct cwg_peer *peer);

struct cwg_peer_info {
	uint8_t public_key[CWG_KEY_LEN];
	uint8_t preshared_key[CWG_KEY_LEN]; /* zeros when unset */
	struct cwg_endpoint endpoint;
	uint64_t last_handshake_wall_ns; /* 0: never */
	uint64_t rx_bytes;
	uint64_t tx_bytes;
	uint16_t persistent_keepalive;
};
/* Read lock. A copy (with the preshared key: wipe it after use). */
CWG_EXPORT void cwg_peer_get_info(struct cwg_peer *peer,
				  struct cwg_peer_info *info);
/* Read lock. fn for each of the peer's prefixes, in the order they were
 * added; a non-zero return from fn stops the walk and is returned. */
CWG_EXPORT int cwg_peer_walk_allowed_ips(
	struct cwg_peer *peer,
	int (*fn)(void *ctx, int family, const uint8_t *addr, uint8_t cidr),
	void *ctx);

/* ---- the library itself ---- */

/* Process-wide set-up (the crypto library's algorithms); call once
 * before anything else. 0, or -CWG_ENOMEM. */
CWG_EXPORT int cwg_init(void);
/* Wipes the calling thread's crypto contexts, which hold the last keys
 * it used. Threads that end do this by themselves; call it from the
 * main thread before the process ends. */
CWG_EXPORT void cwg_thread_cleanup(void);
/* Zeroes n bytes in a way the compiler cannot remove. */
CWG_EXPORT void cwg_wipe(void *p, size_t n);
/* A new private key from the system's CSPRNG, clamped. */
CWG_EXPORT void cwg_key_generate(uint8_t priv[CWG_KEY_LEN]);
/* The public key of a private key. false only if the crypto library
 * fails. */
CWG_EXPORT bool cwg_key_public(uint8_t pub[CWG_KEY_LEN],
			       const uint8_t priv[CWG_KEY_LEN]);

/* Keys as `wg` writes them: 43 base64 characters and '='. From text:
 * 0, or -CWG_EINVAL (key untouched) for anything else; to text: out
 * gets the 44 characters and a NUL. Any thread. */
#define CWG_KEY_B64_LEN 44
CWG_EXPORT int cwg_key_from_base64(uint8_t key[CWG_KEY_LEN], const char *s);
CWG_EXPORT void cwg_key_to_base64(char out[CWG_KEY_B64_LEN + 1],
				  const uint8_t key[CWG_KEY_LEN]);

/*
 * Where cwg_pkt_alloc gets buffers. The default allocator recycles
 * buffers of CWG_PKT_DEFAULT_CAP bytes (pages are touched only as
 * packets fill them), growing on demand up to CWG_PKT_DEFAULT_MAX
 * buffers. A host with its own pool (the daemon) installs it before
 * creating any device; alloc returns a buffer with data at least
 * CWG_DATA_HEADROOM past buf, or NULL; both may be called from any
 * thread. NULL restores the default.
 */
#define CWG_PKT_DEFAULT_CAP (65536 + 64)
#define CWG_PKT_DEFAULT_MAX 4096
struct cwg_pkt_allocator {
	struct cwg_pkt *(*alloc)(void *ctx);
	void (*free)(void *ctx, struct cwg_pkt *pkt);
	void *ctx;
};
CWG_EXPORT void cwg_set_pkt_allocator(const struct cwg_pkt_allocator *a);

#ifdef __cplusplus
}
#endif

#endif
