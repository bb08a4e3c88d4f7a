/* SPDX-License-Identifier: MIT */
/*
 * The UDP side: one socket per address family on the listen port, batched
 * receive and send, sticky source addresses, fwmark, and rebinding that
 * never leaves the device without sockets.
 *
 * Locking: udp->lock (a pthread rwlock) protects fd[], port and fwmark.
 * The data threads hold it for reading only around their socket calls;
 * rebinding and fwmark changes hold it for writing just long enough to
 * swap descriptors. Never held while calling into the core. The UAPI
 * drops the device's cfg write lock before it calls our rebind, fwmark
 * change or interface lookup (uapi.c: the data threads, which take its
 * read side, must keep going meanwhile), so neither lock is ever taken
 * inside the other.
 */
#ifndef CWG_LINUX_UDP_H
#define CWG_LINUX_UDP_H

#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include <cwg/cwg.h>

#define CWG_UDP_BATCH 64
/* Datagrams one cwg_udp_send round hands to one sendmmsg. */
#define CWG_UDP_SEND_BATCH 256
/* With UDP GRO: messages per recvmmsg, each up to 64 KB of datagrams. */
#define CWG_UDP_GRO_MSGS 8
#define CWG_UDP_GRO_BUF 65536

struct cwg_udp {
	pthread_rwlock_t lock;
	int fd[2];	/* [0] IPv4, [1] IPv6 (V6ONLY); -1 when absent */
	uint16_t port;
	uint32_t fwmark;
	int epfd;	/* the receive thread's epoll; data.u32 = 0 or 1 */
	/*
	 * Offloads: gso is cleared (for good) the first time the kernel
	 * refuses a UDP_SEGMENT send; gro is set when every socket took
	 * UDP_GRO at the last bind. `disabled` holds CWG_DISABLE_OFFLOADS.
	 * Atomics: the data threads read them without the lock.
	 */
	bool gso;
	bool gro;
	uint32_t disabled;
	uint32_t gso_refusals;
	/* Counters for what the host itself dropped. */
	uint64_t send_errors;
	uint64_t recv_no_buffer;
	/* Sends the kernel refused with a sticky source, resent without. */
	uint64_t src_refusals;
};

union cwg_sockaddr {
	struct sockaddr sa;
	struct sockaddr_in in4;
	struct sockaddr_in6 in6;
};

/* Per-thread scratch for one batch; too big for comfort on a stack. */
struct cwg_udp_io {
	struct mmsghdr msgs[CWG_UDP_SEND_BATCH];
	struct iovec iov[CWG_UDP_SEND_BATCH];
	union cwg_sockaddr addr[CWG_UDP_SEND_BATCH];
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(struct in6_pktinfo)) +
			 CMSG_SPACE(sizeof(struct in_pktinfo)) +
			 CMSG_SPACE(sizeof(int))];
	} ctl[CWG_UDP_SEND_BATCH];
	struct cwg_pkt *pkts[CWG_UDP_SEND_BATCH];
	struct cwg_pkt *pkts6[CWG_UDP_SEND_BATCH];
	/* Message m sends packets [first[m], first[m] + count[m]). */
	uint16_t first[CWG_UDP_SEND_BATCH];
	uint16_t count[CWG_UDP_SEND_BATCH];
	/* Peers whose sticky source the kernel refused in this batch (one
	 * entry per refused send, so repeats), and the first refusal's errno;
	 * the pointers are not references: see udp_clear_stale. */
	struct cwg_peer *stale_src[CWG_UDP_SEND_BATCH];
	int stale_errno;
	uint8_t discard[65536];
};

void cwg_udp_init(struct cwg_udp *u, int epfd);
/*
 * Binds to port (0: the kernel picks one, the same for both families)
 * with new sockets, then swaps them in for the old ones. 0, or a negative
 * errno (-EADDRINUSE) with the old sockets untouched. Binding the port
 * already bound is a no-op.
 */
int cwg_udp_bind(struct cwg_udp *u, uint16_t port);
int cwg_udp_set_fwmark(struct cwg_udp *u, uint32_t mark);
uint16_t cwg_udp_get_port(struct cwg_udp *u);
uint32_t cwg_udp_get_fwmark(struct cwg_udp *u);
/* The index of the interface called name in the sockets' network
 * namespace (where endpoint scopes apply), or 0: no such interface, a
 * name too long for one, or no socket. */
uint32_t cwg_udp_ifindex(struct cwg_udp *u, const char *name);
void cwg_udp_close(struct cwg_udp *u);

/*
 * Receives up to one batch from socket `which` onto `in`, taking buffers
 * from the pool while more than `reserve` stay free. Returns the number
 * of datagrams received; *full says the batch was full (more may wait).
 * Datagrams for which the pool had no buffer are read and dropped, so a
 * readable socket never spins. With UDP GRO on, gro_scratch (NULL: GRO
 * not used by this caller) must hold CWG_UDP_GRO_MSGS * CWG_UDP_GRO_BUF
 * bytes: coalesced datagrams land there and are split into buffers.
 */
uint32_t cwg_udp_recv(struct cwg_udp *u, struct cwg_udp_io *io, int which,
		      struct cwg_pkt_list *in, uint32_t reserve,
		      uint8_t *gro_scratch, bool *full);
/*
 * Sends every packet on l to its pkt->ep and frees it. Runs of packets
 * to one endpoint, all of one length but a shorter last, go out as one
 * UDP GSO send while the kernel takes those. A send whose sticky source
 * the kernel refuses (EINVAL, ENETUNREACH, ENODEV: the address or its
 * link is gone) is resent once without it, counted in src_refusals, and
 * the source dropped from the peer under dev's cfg read lock.
 */
void cwg_udp_send(struct cwg_udp *u, struct cwg_udp_io *io,
		  struct cwg_device *dev, struct cwg_pkt_list *l);

/* Pure conversions, exposed for tests. */
int cwg_endpoint_to_sockaddr(const struct cwg_endpoint *ep,
			     union cwg_sockaddr *sa, socklen_t *len);
int cwg_endpoint_from_sockaddr(struct cwg_endpoint *ep,
			       const struct sockaddr *sa, socklen_t len);

#endif
