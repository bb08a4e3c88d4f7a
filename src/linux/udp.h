/* SPDX-License-Identifier: MIT */
/*
 * The UDP side: one socket per address family on the listen port, batched
 * receive and send, sticky source addresses, fwmark, and rebinding that
 * never leaves the device without sockets.
 *
 * Locking: udp->lock (a pthread rwlock) protects fd[], port and fwmark.
 * The data threads hold it for reading only around their socket calls;
 * rebinding and fwmark changes hold it for writing just long enough to
 * swap descriptors. Never held while calling into the core; when both are
 * needed the device's cfg lock comes first (the UAPI calls our rebind
 * while it holds the cfg write lock).
 */
#ifndef CWG_LINUX_UDP_H
#define CWG_LINUX_UDP_H

#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/device.h"

#define CWG_UDP_BATCH 64

struct cwg_udp {
	pthread_rwlock_t lock;
	int fd[2];	/* [0] IPv4, [1] IPv6 (V6ONLY); -1 when absent */
	uint16_t port;
	uint32_t fwmark;
	int epfd;	/* the receive thread's epoll; data.u32 = 0 or 1 */
	/* Counters for what the host itself dropped. */
	uint64_t send_errors;
	uint64_t recv_no_buffer;
};

union cwg_sockaddr {
	struct sockaddr sa;
	struct sockaddr_in in4;
	struct sockaddr_in6 in6;
};

/* Per-thread scratch for one batch; too big for comfort on a stack. */
struct cwg_udp_io {
	struct mmsghdr msgs[CWG_UDP_BATCH];
	struct iovec iov[CWG_UDP_BATCH];
	union cwg_sockaddr addr[CWG_UDP_BATCH];
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(struct in6_pktinfo)) +
			 CMSG_SPACE(sizeof(struct in_pktinfo))];
	} ctl[CWG_UDP_BATCH];
	struct cwg_pkt *pkts[CWG_UDP_BATCH];
	struct cwg_pkt *pkts6[CWG_UDP_BATCH];
	struct cwg_peer *stale_src[CWG_UDP_BATCH];
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
void cwg_udp_close(struct cwg_udp *u);

/*
 * Receives up to one batch from socket `which` onto `in`, taking buffers
 * from the pool while more than `reserve` stay free. Returns the number
 * received; datagrams for which the pool had no buffer are read and
 * dropped, so a readable socket never spins.
 */
uint32_t cwg_udp_recv(struct cwg_udp *u, struct cwg_udp_io *io, int which,
		      struct cwg_pkt_list *in, uint32_t reserve);
/*
 * Sends every packet on l to its pkt->ep and frees it. A sticky source
 * address the kernel refuses (gone from the host) is dropped from the
 * peer, under dev's cfg read lock, and the packet resent without it.
 */
void cwg_udp_send(struct cwg_udp *u, struct cwg_udp_io *io,
		  struct cwg_device *dev, struct cwg_pkt_list *l);

/* Pure conversions, exposed for tests. */
int cwg_endpoint_to_sockaddr(const struct cwg_endpoint *ep,
			     union cwg_sockaddr *sa, socklen_t *len);
int cwg_endpoint_from_sockaddr(struct cwg_endpoint *ep,
			       const struct sockaddr *sa, socklen_t len);

#endif
