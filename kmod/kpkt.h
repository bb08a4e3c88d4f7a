/* SPDX-License-Identifier: MIT */
/*
 * Packets of cwg.ko: every struct cwg_pkt the core sees is backed by an
 * sk_buff (host.c). The core's descriptor (about 120 bytes) does not fit
 * in skb->cb, so it lives in one of two places:
 *
 *   - in the skb's own headroom, at skb->head (KPKT_HEAD): plaintext from
 *     ndo_start_xmit (the interface asks for that headroom with
 *     needed_headroom, so the stack leaves it) and every buffer the core
 *     asks for with cwg_pkt_alloc (control messages, keepalives). It goes
 *     with the skb; the outer IP and UDP headers overwrite it only after
 *     the core is done with the packet.
 *   - in a worker's array (KPKT_SLOT): received datagrams, whose headroom
 *     holds the headers the endpoint is read from. The core never keeps
 *     a received datagram past the call it came in (it frees it or puts
 *     it on an output list), so one array per receiving worker, reused
 *     batch after batch, is enough.
 *
 * Ownership follows the core's rule: a packet on an input list is the
 * core's; one on an output list is the host's, which takes its skb back
 * with kpkt_take_skb (the descriptor is spent after that).
 * cwg_pkt_free frees the skb (and so a KPKT_HEAD descriptor).
 */
#ifndef CWG_KMOD_KPKT_H
#define CWG_KMOD_KPKT_H

#include <linux/ipv6.h>
#include <linux/skbuff.h>
#include <linux/udp.h>

#include <cwg/cwg.h>

enum kpkt_where { KPKT_HEAD = 1, KPKT_SLOT = 2 };

struct kpkt {
	struct cwg_pkt pkt;
	struct sk_buff *skb;
	u8 where;
};

/* The headroom an skb needs in front of its data for a KPKT_HEAD
 * descriptor and the core's data header. */
#define KPKT_RESERVE ALIGN(sizeof(struct kpkt), 16)
#define KPKT_HEADROOM (KPKT_RESERVE + CWG_DATA_HEADROOM)
/* What the outer headers need in front of a sealed datagram, beyond the
 * link layer's own reserve: IPv6 and UDP. */
#define KPKT_OUTER_HEADROOM (sizeof(struct ipv6hdr) + sizeof(struct udphdr))

static inline struct kpkt *to_kpkt(struct cwg_pkt *p)
{
	return container_of(p, struct kpkt, pkt);
}

/*
 * A plaintext skb from the stack as a core packet with its descriptor in
 * the headroom: linear, unshared, with KPKT_HEADROOM before the data and
 * CWG_DATA_TAILROOM after it (the head is reallocated only when the skb
 * lacks them). NULL when that fails; the skb is then freed.
 */
struct cwg_pkt *kpkt_from_tx(struct sk_buff *skb);
/* A received datagram (data at the WireGuard message) as a core packet
 * in the slot k, with ep its source and the local address it came to.
 * Linear and writable (the core decrypts in place). NULL, the skb freed,
 * when that fails. */
struct cwg_pkt *kpkt_from_rx(struct kpkt *k, struct sk_buff *skb,
			     const struct cwg_endpoint *ep);
/* The skb of a packet the core handed back, with data and len as the
 * core left them. The descriptor must not be used afterwards. */
struct sk_buff *kpkt_take_skb(struct cwg_pkt *p);
/*
 * An skb the core handed back, made a new packet: nothing of the one it
 * came from (routing, conntrack, marks, checksum and offload state,
 * encapsulation and inner headers, the headers' offsets) goes with it,
 * so a tunnel inside the tunnel leaves no inner-header state that a NIC
 * would act on. The flow hash stays for a datagram being sent (it
 * spreads the outer packets as the inner ones were), not for a packet
 * delivered. Headers point at data; the caller sets dev and protocol.
 */
void kpkt_reset(struct sk_buff *skb, bool sending);

#endif
