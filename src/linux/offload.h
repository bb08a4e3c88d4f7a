/* SPDX-License-Identifier: MIT */
/*
 * Pure packet surgery for the kernel offloads, kept apart from the system
 * calls so it can be tested on its own:
 *
 *   - the virtio-net header a TUN with IFF_VNET_HDR puts before each
 *     packet (host byte order: the legacy rule on a TUN that was never
 *     told TUNSETVNETLE/BE);
 *   - Internet checksums (RFC 1071);
 *   - TSO/USO segmentation: a super-packet the kernel handed us becomes
 *     MTU-sized packets, each a valid IP packet with a full checksum;
 *   - TCP and UDP coalescing (GRO): in-order segments of one TCP flow,
 *     or consecutive equal-sized datagrams of one UDP flow, become one
 *     super-packet for a single TUN write.
 *
 * Nothing here allocates, locks or makes a system call. Every length is
 * checked before it is read; a malformed packet is an error value, never
 * a read past its end.
 */
#ifndef CWG_LINUX_OFFLOAD_H
#define CWG_LINUX_OFFLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* TCP flag bits the segmenter and coalescer handle. */
#define CWG_TCP_FIN 0x01
#define CWG_TCP_PSH 0x08
#define CWG_TCP_ACK 0x10
#define CWG_TCP_CWR 0x80

#define CWG_VNET_HDR_LEN 10

/* <linux/virtio_net.h> values, here because Debian's headers predate USO. */
#define CWG_VNET_F_NEEDS_CSUM 1
#define CWG_VNET_F_DATA_VALID 2
#define CWG_VNET_GSO_NONE 0
#define CWG_VNET_GSO_TCPV4 1
#define CWG_VNET_GSO_TCPV6 4
#define CWG_VNET_GSO_UDP_L4 5
#define CWG_VNET_GSO_ECN 0x80

/* Most segments one super-packet may become (the kernel's UDP GSO
 * limit, and a TCP super-packet of 64 KB at MSS >= 1024 stays below). */
#define CWG_OFFLOAD_MAX_SEGS 64

struct cwg_vnet_hdr {
	uint8_t flags;
	uint8_t gso_type;
	uint16_t hdr_len;
	uint16_t gso_size;
	uint16_t csum_start;
	uint16_t csum_offset;
};

void cwg_vnet_hdr_get(struct cwg_vnet_hdr *h, const uint8_t p[CWG_VNET_HDR_LEN]);
void cwg_vnet_hdr_put(uint8_t p[CWG_VNET_HDR_LEN], const struct cwg_vnet_hdr *h);

/*
 * Checksums. cwg_csum_partial adds the 16-bit words of [p, p + len) to
 * sum as loaded in the machine's byte order (an odd last byte padded
 * with zero); cwg_csum_fold folds such a sum to 16 bits, uncomplemented,
 * in that same representation: stored with memcpy, its bytes are the
 * network-order sum (RFC 1071's byte-order independence). A region must
 * start at an even offset from the start of what is being summed.
 */
uint64_t cwg_csum_partial(const uint8_t *p, size_t len, uint64_t sum);
uint16_t cwg_csum_fold(uint64_t sum);
/* The pseudo-header sum (RFC 768/793, RFC 8200 section 8.1). family 4
 * or 6; l4_len the transport header plus payload. */
uint64_t cwg_csum_pseudo(int family, const uint8_t *src, const uint8_t *dst,
			 uint8_t proto, uint32_t l4_len);
/* The IPv4 header checksum of hdr (ihl bytes), computed over the header
 * with its checksum field taken as zero, then stored in it. */
void cwg_ipv4_set_csum(uint8_t *hdr, uint32_t ihl);

/* Bits of CWG_DISABLE_OFFLOADS. */
enum {
	CWG_OFFLOAD_TUN_VNET = 1u << 0,
	CWG_OFFLOAD_TSO = 1u << 1,
	CWG_OFFLOAD_USO = 1u << 2,
	CWG_OFFLOAD_UDP_GSO = 1u << 3,
	CWG_OFFLOAD_UDP_GRO = 1u << 4,
};
/*
 * Parses a comma list such as "tso,udp_gro" ("all" names every one).
 * Returns the bits; *unknown (if not NULL) gets the number of names not
 * recognised, which are otherwise ignored. NULL or "" is 0.
 */
uint32_t cwg_offload_parse_disable(const char *list, unsigned *unknown);

/*
 * Completes the checksum of a packet flagged NEEDS_CSUM (and not GSO):
 * the field at csum_start + csum_offset holds the pseudo-header sum; the
 * sum from csum_start to the end replaces it. 0, or -EINVAL when the
 * offsets do not fit the packet.
 */
int cwg_offload_finish_csum(const struct cwg_vnet_hdr *h, uint8_t *pkt,
			    uint32_t len);

/*
 * How many segments the GSO packet [pkt, pkt + len) described by h makes:
 * > 0, or -EINVAL when it is malformed or of an unsupported kind (IPv6
 * extension headers, fragments, a header that does not fit) and -E2BIG
 * beyond CWG_OFFLOAD_MAX_SEGS.
 */
int cwg_offload_segment_count(const struct cwg_vnet_hdr *h, const uint8_t *pkt,
			      uint32_t len);
/*
 * Cuts the GSO packet into segments: segment i is written to out[i]
 * (room for out_cap bytes each) and its length to lens[i]. Each gets its
 * own IPv4 total length, ID (the first's plus i) and header checksum, or
 * IPv6 payload length; TCP sequence numbers advance by the payload, FIN
 * and PSH stay only on the last segment and CWR only on the first; UDP
 * length is the segment's; every TCP/UDP checksum is complete. Returns
 * the count (at most max), or the errors of cwg_offload_segment_count,
 * or -ENOSPC when max or out_cap is too small.
 */
int cwg_offload_segment(const struct cwg_vnet_hdr *h, const uint8_t *pkt,
			uint32_t len, uint8_t *const *out, uint32_t out_cap,
			uint32_t *lens, uint32_t max);

/* ---- TCP and UDP coalescing ---- */

/* What coalescing needs to know of one TCP segment or UDP datagram. */
struct cwg_gro_info {
	uint8_t family;		/* 4 or 6 */
	uint8_t proto;		/* 6 (TCP) or 17 (UDP) */
	uint8_t tcp_flags;
	uint16_t l4_off;	/* IP header length */
	uint16_t hdr_len;	/* IP + TCP or UDP headers */
	uint32_t payload_len;
	uint32_t seq;		/* TCP */
	uint16_t ip_id;		/* IPv4 */
	bool df;		/* IPv4 don't-fragment */
};

/*
 * true when the packet is a candidate: well-formed IPv4 (no fragment) or
 * IPv6 (TCP right after the fixed header), TCP with payload, ACK set and
 * no flag but ACK and PSH, lengths consistent with len.
 */
bool cwg_gro_parse(const uint8_t *pkt, uint32_t len, struct cwg_gro_info *gi);
/*
 * The same for UDP: well-formed IPv4 (no fragment, a valid header
 * checksum) or IPv6 (UDP right after the fixed header), a UDP length
 * that agrees with the IP one, some payload, and a checksum that is
 * present and verifies. A datagram that fails any of these goes to the
 * kernel as it came, to be dropped and counted there.
 */
bool cwg_gro_parse_udp(const uint8_t *pkt, uint32_t len,
		       struct cwg_gro_info *gi);

/* One super-packet being built: the head packet's headers stay, the
 * others contribute their payload only. */
struct cwg_gro_group {
	uint8_t *head;
	struct cwg_gro_info hi;
	uint32_t count;
	uint32_t payload;	/* all segments' payload bytes */
	uint32_t next_seq;
	uint16_t last_id;
	bool psh;
	bool closed;		/* a short or PSH segment ended it */
};

enum cwg_gro_verdict {
	CWG_GRO_APPEND,		/* the packet continues the group */
	CWG_GRO_OTHER_FLOW,	/* not the group's flow */
	CWG_GRO_FLUSH,		/* same flow, cannot follow: end the group */
};

void cwg_gro_start(struct cwg_gro_group *g, uint8_t *pkt,
		   const struct cwg_gro_info *gi);
/*
 * pkt (parsed into gi) against the group; only a flow match (protocol,
 * addresses, ports) decides between APPEND and FLUSH. A UDP datagram
 * follows when its IP header matches the head's in all but lengths, ID
 * and checksum, and its payload is no longer than the head's; a shorter
 * one is the group's last.
 */
enum cwg_gro_verdict cwg_gro_check(const struct cwg_gro_group *g,
				   const uint8_t *pkt,
				   const struct cwg_gro_info *gi);
void cwg_gro_append(struct cwg_gro_group *g, const struct cwg_gro_info *gi);
/*
 * For a group of two or more: rewrites the head's headers for the
 * coalesced packet (lengths, IPv4 checksum, TCP PSH or the UDP length,
 * the TCP or UDP checksum field set to the pseudo-header sum) and fills
 * h (NEEDS_CSUM; TCPV4, TCPV6 or UDP_L4; gso_size the head's payload).
 * The super-packet is the head's headers and payload followed by every
 * other packet's payload, in order.
 */
void cwg_gro_finish(struct cwg_gro_group *g, struct cwg_vnet_hdr *h);

#endif
