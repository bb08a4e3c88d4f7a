/* SPDX-License-Identifier: MIT */
/*
 * libcwg's single-tunnel API: one WireGuard peer, no threads, no sockets,
 * caller-owned buffers. For programs that want one tunnel and bring their
 * own I/O (an app's VPN, a test tool, a diagnostic such as
 * examples/wgping.c); the daemon uses the device API of <cwg/cwg.h>,
 * which this is built on.
 *
 * The host moves bytes and time:
 *
 *   IP packet from the host  -> cwg_tunnel_encapsulate
 *   UDP datagram from peer   -> cwg_tunnel_decapsulate
 *   every 100 ms or so       -> cwg_tunnel_update_timers
 *
 * Each call returns what the host must do with out: send it to out->ep
 * (CWG_TUNNEL_NETWORK), hand the IP packet to its stack
 * (CWG_TUNNEL_TUNNEL), nothing (CWG_TUNNEL_DONE), or note that the input
 * was dropped and why (CWG_TUNNEL_DROPPED). One input may produce several
 * outputs (a completed handshake releases the packets that waited for
 * it): after any result other than CWG_TUNNEL_DONE, call cwg_tunnel_poll
 * until it returns CWG_TUNNEL_DONE.
 *
 * Threads: a tunnel is not locked for the caller; calls on one tunnel
 * must not overlap. Different tunnels are independent.
 * Memory: buffers come from libcwg's packet allocator
 * (cwg_set_pkt_allocator), recycled, so a steady flow allocates nothing;
 * at most CWG_TUNNEL_MAX_QUEUED outputs wait for cwg_tunnel_poll.
 */
#ifndef CWG_TUNNEL_H
#define CWG_TUNNEL_H

#include <cwg/cwg.h>

#ifdef __cplusplus
extern "C" {
#endif

struct cwg_tunnel;

struct cwg_tunnel_config {
	/* Required: our private key and the peer's public key. */
	const uint8_t *private_key;
	const uint8_t *peer_public_key;
	/* Optional (NULL: none). */
	const uint8_t *preshared_key;
	/* Where the peer is; NULL or family 0 to learn it from the first
	 * authenticated packet the peer sends (a responder). */
	const struct cwg_endpoint *endpoint;
	/* Seconds between keepalives when idle; 0 off. */
	uint16_t persistent_keepalive;
	/* The tunnel MTU: padding never makes a packet that fits it
	 * exceed it. 0: 1420. */
	uint32_t mtu;
	/* Wall clock minus the monotonic clock the host passes as now, in
	 * nanoseconds: handshake timestamps are wall-clock time, and a peer
	 * refuses one older than the last it saw from this key. */
	int64_t wall_minus_mono_ns;
	/* Randomness for keys and indices; NULL: the system's CSPRNG. */
	cwg_rng_fn rng;
	void *rng_ctx;
};

enum cwg_tunnel_result {
	CWG_TUNNEL_DONE = 0,	/* nothing (more) to do */
	CWG_TUNNEL_NETWORK = 1, /* send out's bytes to out->ep */
	CWG_TUNNEL_TUNNEL = 2,	/* out holds a decrypted IP packet */
	CWG_TUNNEL_DROPPED = 3, /* the input was dropped: out->drop says why */
};

/* The caller's buffer for one result. data and cap are the caller's;
 * the call sets len, and ep or drop. */
struct cwg_tunnel_out {
	uint8_t *data;
	size_t cap;
	size_t len;
	struct cwg_endpoint ep;	/* CWG_TUNNEL_NETWORK: the destination */
	enum cwg_drop drop;	/* CWG_TUNNEL_DROPPED: the reason */
};

/* Outputs waiting for cwg_tunnel_poll at most; past it the oldest go
 * (counted as CWG_DROP_NO_BUFFER). */
#define CWG_TUNNEL_MAX_QUEUED 256

/*
 * 0 and *out set; -CWG_EINVAL (a key missing, or the peer's key equal to
 * our own); -CWG_ENOMEM. cfg is not kept; keys are copied and wiped with
 * the tunnel. Call cwg_init() once per process first.
 */
CWG_EXPORT int cwg_tunnel_new(const struct cwg_tunnel_config *cfg,
			      struct cwg_tunnel **out);
/* Wipes every key; NULL is allowed. */
CWG_EXPORT void cwg_tunnel_free(struct cwg_tunnel *t);

/*
 * An IP packet (pkt, len bytes; the caller keeps it) bound for the peer:
 * sealed into a datagram (CWG_TUNNEL_NETWORK), or queued while a
 * handshake starts, whose initiation is then the result. Also
 * CWG_TUNNEL_DROPPED (not IPv4/IPv6, no endpoint yet, ...) or, when
 * out->cap is too small for the result, -CWG_ENOSPC with the result
 * still queued for cwg_tunnel_poll. now: monotonic nanoseconds.
 */
CWG_EXPORT int cwg_tunnel_encapsulate(struct cwg_tunnel *t, const uint8_t *pkt,
				      size_t len, uint64_t now,
				      struct cwg_tunnel_out *out);
/*
 * A UDP datagram from src: a decrypted packet for the host's stack
 * (CWG_TUNNEL_TUNNEL, already checked against the peer's allowed IPs,
 * which for this API are everything), a handshake message to send back
 * (CWG_TUNNEL_NETWORK), nothing (a keepalive), or CWG_TUNNEL_DROPPED
 * (forged, replayed, not ours, ...). -CWG_ENOSPC as above.
 */
CWG_EXPORT int cwg_tunnel_decapsulate(struct cwg_tunnel *t,
				      const struct cwg_endpoint *src,
				      const uint8_t *dgram, size_t len,
				      uint64_t now, struct cwg_tunnel_out *out);
/* The protocol's timers: retransmissions, keepalives, rekeys, expiry.
 * Call at least every 250 ms (100 ms keeps retransmits punctual). */
CWG_EXPORT int cwg_tunnel_update_timers(struct cwg_tunnel *t, uint64_t now,
					struct cwg_tunnel_out *out);
/* The next queued result, or CWG_TUNNEL_DONE. */
CWG_EXPORT int cwg_tunnel_poll(struct cwg_tunnel *t,
			       struct cwg_tunnel_out *out);

struct cwg_tunnel_stats {
	uint64_t tx_bytes, rx_bytes;	  /* on the wire, as `wg` counts */
	uint64_t last_handshake_wall_ns; /* 0: none yet */
	struct cwg_endpoint endpoint;	  /* where the peer is now */
	struct cwg_device_stats device;	  /* drops by reason, handshakes */
};
CWG_EXPORT void cwg_tunnel_get_stats(struct cwg_tunnel *t,
				     struct cwg_tunnel_stats *st);

#ifdef __cplusplus
}
#endif

#endif
