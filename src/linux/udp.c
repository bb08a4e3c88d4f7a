/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <net/if.h>
#include <netinet/udp.h>

#include "log.h"
#include "offload.h"
#include "pool.h"
#include "udp.h"

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif
#ifndef SOL_UDP
#define SOL_UDP 17
#endif

#define UDP_BUF_BYTES (4 << 20)
#define UDP_BIND_TRIES 16
/* Bytes one GSO send may carry: an IP datagram's limit, with room. */
#define UDP_GSO_MAX_BYTES 65000
/* GSO sends the kernel may refuse as invalid (a path MTU below the
 * tunnel's, say) before we stop trying; each is resent unsegmented. */
#define UDP_GSO_MAX_REFUSALS 64

static bool addr_is_zero(const uint8_t *a, size_t n)
{
	uint8_t acc = 0;

	for (size_t i = 0; i < n; i++)
		acc |= a[i];
	return !acc;
}

static bool v6_is_linklocal(const uint8_t *a)
{
	return a[0] == 0xfe && (a[1] & 0xc0) == 0x80;
}

int cwg_endpoint_to_sockaddr(const struct cwg_endpoint *ep,
			     union cwg_sockaddr *sa, socklen_t *len)
{
	memset(sa, 0, sizeof(*sa));
	if (ep->family == 4) {
		sa->in4.sin_family = AF_INET;
		sa->in4.sin_port = htons(ep->port);
		memcpy(&sa->in4.sin_addr, ep->addr, 4);
		*len = sizeof(sa->in4);
		return 0;
	}
	if (ep->family == 6) {
		sa->in6.sin6_family = AF_INET6;
		sa->in6.sin6_port = htons(ep->port);
		memcpy(&sa->in6.sin6_addr, ep->addr, 16);
		/* The link a link-local peer is on; the kernel ignores it for
		 * other addresses. */
		sa->in6.sin6_scope_id = ep->scope_id;
		*len = sizeof(sa->in6);
		return 0;
	}
	return -EAFNOSUPPORT;
}

int cwg_endpoint_from_sockaddr(struct cwg_endpoint *ep,
			       const struct sockaddr *sa, socklen_t len)
{
	memset(ep, 0, sizeof(*ep));
	if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *s = (const void *)sa;

		ep->family = 4;
		ep->port = ntohs(s->sin_port);
		memcpy(ep->addr, &s->sin_addr, 4);
		return 0;
	}
	if (sa->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *s = (const void *)sa;

		ep->family = 6;
		ep->port = ntohs(s->sin6_port);
		memcpy(ep->addr, &s->sin6_addr, 16);
		/* the arrival interface for a link-local source, else 0 */
		ep->scope_id = s->sin6_scope_id;
		return 0;
	}
	return -EAFNOSUPPORT;
}

void cwg_udp_init(struct cwg_udp *u, int epfd)
{
	memset(u, 0, sizeof(*u));
	pthread_rwlock_init(&u->lock, NULL);
	u->fd[0] = u->fd[1] = -1;
	u->epfd = epfd;
	u->disabled = cwg_offload_parse_disable(getenv("CWG_DISABLE_OFFLOADS"),
						NULL);
	u->gso = !(u->disabled & CWG_OFFLOAD_UDP_GSO);
}

/* What a fresh socket took: bit 0 UDP_SEGMENT, bit 1 UDP_GRO. */
static unsigned udp_offloads(int s, uint32_t disabled)
{
	int zero = 0, one = 1;
	unsigned got = 0;

	/* gso_size 0 is the default; setting it only proves the option. */
	if (!(disabled & CWG_OFFLOAD_UDP_GSO) &&
	    !setsockopt(s, SOL_UDP, UDP_SEGMENT, &zero, sizeof(zero)))
		got |= 1;
	if (!(disabled & CWG_OFFLOAD_UDP_GRO) &&
	    !setsockopt(s, SOL_UDP, UDP_GRO, &one, sizeof(one)))
		got |= 2;
	return got;
}

static int udp_open(int family, uint16_t port, uint32_t fwmark, int *out,
		    uint16_t *bound)
{
	union cwg_sockaddr sa;
	socklen_t len;
	int one = 1, bufsz = UDP_BUF_BYTES, s, r;

	*out = -1;
	s = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return errno == EAFNOSUPPORT ? 0 : -errno;
	memset(&sa, 0, sizeof(sa));
	if (family == AF_INET) {
		sa.in4.sin_family = AF_INET;
		sa.in4.sin_port = htons(port);
		len = sizeof(sa.in4);
		r = setsockopt(s, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one));
	} else {
		sa.in6.sin6_family = AF_INET6;
		sa.in6.sin6_port = htons(port);
		len = sizeof(sa.in6);
		r = setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
		if (!r)
			r = setsockopt(s, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one,
				       sizeof(one));
	}
	if (!r && fwmark)
		r = setsockopt(s, SOL_SOCKET, SO_MARK, &fwmark,
			       sizeof(fwmark));
	if (r < 0)
		goto fail;
	/* Bigger buffers ride out bursts; without privilege, best effort. */
	if (setsockopt(s, SOL_SOCKET, SO_RCVBUFFORCE, &bufsz, sizeof(bufsz)))
		(void)setsockopt(s, SOL_SOCKET, SO_RCVBUF, &bufsz, sizeof(bufsz));
	if (setsockopt(s, SOL_SOCKET, SO_SNDBUFFORCE, &bufsz, sizeof(bufsz)))
		(void)setsockopt(s, SOL_SOCKET, SO_SNDBUF, &bufsz, sizeof(bufsz));
	if (bind(s, &sa.sa, len) < 0)
		goto fail;
	len = sizeof(sa);
	if (getsockname(s, &sa.sa, &len) < 0)
		goto fail;
	*bound = ntohs(family == AF_INET ? sa.in4.sin_port : sa.in6.sin6_port);
	*out = s;
	return 0;
fail:
	r = -errno;
	close(s);
	return r;
}

/* A fresh pair on port; the same port for both, even when port is 0. */
static int udp_open_pair(uint16_t port, uint32_t fwmark, int fd[2],
			 uint16_t *bound)
{
	int r = 0;

	for (int tries = 0; tries < UDP_BIND_TRIES; tries++) {
		uint16_t p = port;

		r = udp_open(AF_INET, port, fwmark, &fd[0], &p);
		if (r)
			return r;
		r = udp_open(AF_INET6, fd[0] >= 0 ? p : port, fwmark, &fd[1],
			     &p);
		if (!r && fd[0] < 0 && fd[1] < 0)
			return -EAFNOSUPPORT;
		if (!r) {
			*bound = p;
			return 0;
		}
		if (fd[0] >= 0)
			close(fd[0]);
		fd[0] = -1;
		/* The kernel's pick for IPv4 may be taken in IPv6: pick
		 * again, but a port the user chose is simply taken. */
		if (r != -EADDRINUSE || port)
			return r;
	}
	return r;
}

int cwg_udp_bind(struct cwg_udp *u, uint16_t port)
{
	int nfd[2], old[2], r;
	uint16_t bound = 0;
	uint32_t mark;
	unsigned offl = 3;

	pthread_rwlock_rdlock(&u->lock);
	mark = u->fwmark;
	r = port && port == u->port && (u->fd[0] >= 0 || u->fd[1] >= 0);
	pthread_rwlock_unlock(&u->lock);
	if (r)
		return 0;
	r = udp_open_pair(port, mark, nfd, &bound);
	if (r)
		return r;
	for (int i = 0; i < 2; i++)
		if (nfd[i] >= 0)
			offl &= udp_offloads(nfd[i], u->disabled);
	pthread_rwlock_wrlock(&u->lock);
	/* A receiver without UDP_GRO on every socket splits nothing;
	 * GSO, once refused, stays off. */
	__atomic_store_n(&u->gro, (offl & 2) != 0, __ATOMIC_RELEASE);
	if (!(offl & 1))
		__atomic_store_n(&u->gso, false, __ATOMIC_RELEASE);
	for (int i = 0; i < 2; i++) {
		struct epoll_event ev = { .events = EPOLLIN, .data.u32 = i };

		old[i] = u->fd[i];
		if (old[i] >= 0)
			epoll_ctl(u->epfd, EPOLL_CTL_DEL, old[i], NULL);
		u->fd[i] = nfd[i];
		if (nfd[i] >= 0)
			epoll_ctl(u->epfd, EPOLL_CTL_ADD, nfd[i], &ev);
	}
	u->port = bound;
	/* The mark may have changed while we were binding. */
	if (u->fwmark != mark)
		for (int i = 0; i < 2; i++)
			if (u->fd[i] >= 0)
				setsockopt(u->fd[i], SOL_SOCKET, SO_MARK,
					   &u->fwmark, sizeof(u->fwmark));
	pthread_rwlock_unlock(&u->lock);
	for (int i = 0; i < 2; i++)
		if (old[i] >= 0)
			close(old[i]);
	cwg_log_verbose("UDP bound to port %u", bound);
	return 0;
}

int cwg_udp_set_fwmark(struct cwg_udp *u, uint32_t mark)
{
	int r = 0;

	pthread_rwlock_wrlock(&u->lock);
	for (int i = 0; i < 2 && !r; i++)
		if (u->fd[i] >= 0 && setsockopt(u->fd[i], SOL_SOCKET, SO_MARK,
						&mark, sizeof(mark)) < 0)
			r = -errno;
	if (!r)
		u->fwmark = mark;
	pthread_rwlock_unlock(&u->lock);
	return r;
}

uint16_t cwg_udp_get_port(struct cwg_udp *u)
{
	uint16_t p;

	pthread_rwlock_rdlock(&u->lock);
	p = u->port;
	pthread_rwlock_unlock(&u->lock);
	return p;
}

uint32_t cwg_udp_get_fwmark(struct cwg_udp *u)
{
	uint32_t m;

	pthread_rwlock_rdlock(&u->lock);
	m = u->fwmark;
	pthread_rwlock_unlock(&u->lock);
	return m;
}

uint32_t cwg_udp_ifindex(struct cwg_udp *u, const char *name)
{
	struct ifreq ifr;
	uint32_t idx = 0;
	size_t len = strlen(name);
	int fd;

	if (!len || len >= sizeof(ifr.ifr_name))
		return 0;
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, name, len);
	/* On one of our own sockets, not if_nametoindex's new one: it must
	 * be the sockets' namespace, and the sandbox allows no new socket
	 * but UDP. */
	pthread_rwlock_rdlock(&u->lock);
	fd = u->fd[1] >= 0 ? u->fd[1] : u->fd[0];
	if (fd >= 0 && !ioctl(fd, SIOCGIFINDEX, &ifr) && ifr.ifr_ifindex > 0)
		idx = (uint32_t)ifr.ifr_ifindex;
	pthread_rwlock_unlock(&u->lock);
	return idx;
}

void cwg_udp_close(struct cwg_udp *u)
{
	for (int i = 0; i < 2; i++) {
		if (u->fd[i] >= 0)
			close(u->fd[i]);
		u->fd[i] = -1;
	}
	pthread_rwlock_destroy(&u->lock);
}

/* The local address a datagram was sent to, for replies from it; the
 * segment size of a GRO-coalesced one (0: a single datagram). */
static uint32_t udp_parse_pktinfo(struct msghdr *mh, struct cwg_endpoint *ep)
{
	uint32_t gro = 0;

	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO &&
		    c->cmsg_len >= CMSG_LEN(sizeof(int))) {
			int v;

			memcpy(&v, CMSG_DATA(c), sizeof(v));
			gro = v > 0 ? (uint32_t)v : 0;
		} else if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO &&
		    c->cmsg_len >= CMSG_LEN(sizeof(struct in_pktinfo))) {
			struct in_pktinfo pi;

			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			memcpy(ep->src_addr, &pi.ipi_addr, 4);
			ep->src_ifindex = (uint32_t)pi.ipi_ifindex;
		} else if (c->cmsg_level == IPPROTO_IPV6 &&
			   c->cmsg_type == IPV6_PKTINFO &&
			   c->cmsg_len >= CMSG_LEN(sizeof(struct in6_pktinfo))) {
			struct in6_pktinfo pi;

			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			memcpy(ep->src_addr, &pi.ipi6_addr, 16);
			ep->src_ifindex = pi.ipi6_ifindex;
		}
	}
	return gro;
}

static void udp_recv_prepare(struct cwg_udp_io *io, uint32_t i, void *base,
			     size_t len)
{
	struct msghdr *mh = &io->msgs[i].msg_hdr;

	io->iov[i].iov_base = base;
	io->iov[i].iov_len = len;
	memset(mh, 0, sizeof(*mh));
	mh->msg_name = &io->addr[i];
	mh->msg_namelen = sizeof(io->addr[i]);
	mh->msg_iov = &io->iov[i];
	mh->msg_iovlen = 1;
	mh->msg_control = io->ctl[i].buf;
	mh->msg_controllen = sizeof(io->ctl[i].buf);
}

static int udp_recvmmsg(struct cwg_udp *u, struct cwg_udp_io *io, int which,
			uint32_t n)
{
	int fd, r;

	pthread_rwlock_rdlock(&u->lock);
	fd = u->fd[which];
	do
		r = fd < 0 ? 0 : recvmmsg(fd, io->msgs, n, MSG_DONTWAIT, NULL);
	while (r < 0 && errno == EINTR);
	pthread_rwlock_unlock(&u->lock);
	return r;
}

/*
 * GRO: each message may hold several datagrams of one sender, all of the
 * cmsg's size but a shorter last. Each is copied into its own buffer,
 * as the core wants one datagram per packet; the copy is small beside
 * the decryption that follows.
 */
static uint32_t udp_recv_gro(struct cwg_udp *u, struct cwg_udp_io *io,
			     int which, struct cwg_pkt_list *in,
			     uint32_t reserve, uint8_t *scratch, bool *full)
{
	uint32_t got = 0;
	int r;

	for (uint32_t i = 0; i < CWG_UDP_GRO_MSGS; i++)
		udp_recv_prepare(io, i, scratch + (size_t)i * CWG_UDP_GRO_BUF,
				 CWG_UDP_GRO_BUF);
	r = udp_recvmmsg(u, io, which, CWG_UDP_GRO_MSGS);
	*full = r == CWG_UDP_GRO_MSGS;
	for (int i = 0; i < r; i++) {
		struct msghdr *mh = &io->msgs[i].msg_hdr;
		const uint8_t *src = io->iov[i].iov_base;
		uint32_t len = io->msgs[i].msg_len, seg, n, have;
		struct cwg_endpoint ep;

		if ((mh->msg_flags & MSG_TRUNC) || !len ||
		    cwg_endpoint_from_sockaddr(&ep, &io->addr[i].sa,
					       mh->msg_namelen))
			continue;
		seg = udp_parse_pktinfo(mh, &ep);
		if (!seg || seg > len)
			seg = len;
		n = (len + seg - 1) / seg;
		if (n > CWG_UDP_SEND_BATCH)
			n = CWG_UDP_SEND_BATCH;
		have = cwg_pkt_alloc_bulk(io->pkts, n, reserve);
		if (have < n)
			__atomic_add_fetch(&u->recv_no_buffer, n - have,
					   __ATOMIC_RELAXED);
		for (uint32_t k = 0; k < have; k++) {
			struct cwg_pkt *p = io->pkts[k];
			uint32_t off = k * seg, l = len - off < seg ?
						     len - off : seg;

			memcpy(p->data, src + off, l);
			p->len = l;
			p->ep = ep;
			cwg_pkt_list_append(in, p);
		}
		got += have;
	}
	return got;
}

uint32_t cwg_udp_recv(struct cwg_udp *u, struct cwg_udp_io *io, int which,
		      struct cwg_pkt_list *in, uint32_t reserve,
		      uint8_t *gro_scratch, bool *full)
{
	uint32_t n, got = 0;
	int r;

	if (gro_scratch && __atomic_load_n(&u->gro, __ATOMIC_ACQUIRE))
		return udp_recv_gro(u, io, which, in, reserve, gro_scratch,
				    full);
	n = cwg_pkt_alloc_bulk(io->pkts, CWG_UDP_BATCH, reserve);
	for (uint32_t i = 0; i < (n ? n : CWG_UDP_BATCH); i++) {
		if (n)
			udp_recv_prepare(io, i, io->pkts[i]->data,
					 (size_t)(io->pkts[i]->buf +
						  io->pkts[i]->cap -
						  io->pkts[i]->data));
		else
			udp_recv_prepare(io, i, io->discard,
					 sizeof(io->discard));
	}
	r = udp_recvmmsg(u, io, which, n ? n : CWG_UDP_BATCH);
	*full = r == CWG_UDP_BATCH;
	if (!n) {
		if (r > 0)
			__atomic_add_fetch(&u->recv_no_buffer, (uint64_t)r,
					   __ATOMIC_RELAXED);
		return 0;
	}
	for (int i = 0; i < r; i++) {
		struct cwg_pkt *p = io->pkts[i];
		struct msghdr *mh = &io->msgs[i].msg_hdr;

		/* Without GRO asked for, a coalesced datagram cannot come. */
		if ((mh->msg_flags & MSG_TRUNC) ||
		    cwg_endpoint_from_sockaddr(&p->ep, &io->addr[i].sa,
					       mh->msg_namelen)) {
			cwg_pkt_free(p);
			continue;
		}
		udp_parse_pktinfo(mh, &p->ep);
		p->len = io->msgs[i].msg_len;
		cwg_pkt_list_append(in, p);
		got++;
	}
	for (uint32_t i = r > 0 ? (uint32_t)r : 0; i < n; i++)
		cwg_pkt_free(io->pkts[i]);
	return got;
}

/*
 * One message: n packets' iovecs at iov (already filled), to ep, from
 * its sticky source if any, in GSO segments of seg bytes when seg != 0.
 */
static void udp_fill_msg(struct msghdr *mh, union cwg_sockaddr *addr,
			 char *ctl, size_t ctl_len, struct iovec *iov,
			 uint32_t n, const struct cwg_endpoint *ep,
			 uint16_t seg)
{
	socklen_t alen = 0;
	struct cmsghdr *c;
	size_t used = 0;

	memset(mh, 0, sizeof(*mh));
	cwg_endpoint_to_sockaddr(ep, addr, &alen);
	mh->msg_name = addr;
	mh->msg_namelen = alen;
	mh->msg_iov = iov;
	mh->msg_iovlen = n;
	if (addr_is_zero(ep->src_addr, ep->family == 4 ? 4 : 16) && !seg)
		return;
	memset(ctl, 0, ctl_len);
	mh->msg_control = ctl;
	mh->msg_controllen = ctl_len;
	c = CMSG_FIRSTHDR(mh);
	if (!addr_is_zero(ep->src_addr, ep->family == 4 ? 4 : 16)) {
		if (ep->family == 4) {
			struct in_pktinfo pi;

			/* Source address only: routing still picks the way
			 * out. */
			memset(&pi, 0, sizeof(pi));
			memcpy(&pi.ipi_spec_dst, ep->src_addr, 4);
			c->cmsg_level = IPPROTO_IP;
			c->cmsg_type = IP_PKTINFO;
			c->cmsg_len = CMSG_LEN(sizeof(pi));
			memcpy(CMSG_DATA(c), &pi, sizeof(pi));
			used += CMSG_SPACE(sizeof(pi));
		} else {
			struct in6_pktinfo pi;

			memset(&pi, 0, sizeof(pi));
			memcpy(&pi.ipi6_addr, ep->src_addr, 16);
			/* A link-local source means nothing without its
			 * link. */
			if (v6_is_linklocal(ep->src_addr))
				pi.ipi6_ifindex = ep->src_ifindex;
			c->cmsg_level = IPPROTO_IPV6;
			c->cmsg_type = IPV6_PKTINFO;
			c->cmsg_len = CMSG_LEN(sizeof(pi));
			memcpy(CMSG_DATA(c), &pi, sizeof(pi));
			used += CMSG_SPACE(sizeof(pi));
		}
		c = CMSG_NXTHDR(mh, c);
	}
	if (seg && c) {
		c->cmsg_level = SOL_UDP;
		c->cmsg_type = UDP_SEGMENT;
		c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
		memcpy(CMSG_DATA(c), &seg, sizeof(seg));
		used += CMSG_SPACE(sizeof(uint16_t));
	}
	mh->msg_controllen = used;
}

static bool ep_same(const struct cwg_endpoint *a, const struct cwg_endpoint *b)
{
	return a->family == b->family && a->port == b->port &&
	       !memcmp(a->addr, b->addr, sizeof(a->addr)) &&
	       a->scope_id == b->scope_id &&
	       !memcmp(a->src_addr, b->src_addr, sizeof(a->src_addr)) &&
	       a->src_ifindex == b->src_ifindex;
}

/*
 * Messages for io->pkts[from, to): with gso, each run to one endpoint of
 * equal lengths (a shorter one ends it) becomes one message. Message m
 * goes in msgs[m]; returns how many.
 */
static uint32_t udp_build(struct cwg_udp_io *io, uint32_t from, uint32_t to,
			  bool gso)
{
	uint32_t m = 0, i = from;

	while (i < to) {
		struct cwg_pkt *p = io->pkts[i];
		uint32_t n = 1, seg = p->len, total = p->len;

		io->iov[i].iov_base = p->data;
		io->iov[i].iov_len = p->len;
		while (gso && seg && i + n < to && n < CWG_OFFLOAD_MAX_SEGS) {
			struct cwg_pkt *q = io->pkts[i + n];

			if (!q->len || q->len > seg ||
			    total + q->len > UDP_GSO_MAX_BYTES ||
			    !ep_same(&p->ep, &q->ep))
				break;
			io->iov[i + n].iov_base = q->data;
			io->iov[i + n].iov_len = q->len;
			total += q->len;
			n++;
			if (q->len < seg)
				break;
		}
		io->first[m] = (uint16_t)i;
		io->count[m] = (uint16_t)n;
		udp_fill_msg(&io->msgs[m].msg_hdr, &io->addr[m],
			     io->ctl[m].buf, sizeof(io->ctl[m].buf),
			     &io->iov[i], n, &p->ep,
			     n > 1 ? (uint16_t)seg : 0);
		m++;
		i += n;
	}
	return m;
}

/*
 * What the kernel (6.18, measured) says when a send names a source that
 * can no longer be used: a UDP socket, IP_PKTINFO with ipi_spec_dst /
 * IPV6_PKTINFO with ipi6_addr, ifindex 0 or the source's link; two links
 * to the peer. sendmsg and sendmmsg agreed in every case.
 *
 *   the source address ...         IPv4, ifindex 0 / set      IPv6, 0 / set
 *   replaced (add NEW, del OLD)    ENETUNREACH / ENETUNREACH  EINVAL / EINVAL
 *   deleted, its link's last one   ENETUNREACH / ENETUNREACH  EINVAL / EINVAL
 *   its link down                  sent (*)    / ENETUNREACH  EINVAL / EINVAL
 *   its link deleted               ENETUNREACH / ENETUNREACH  EINVAL / ENODEV
 *   still there, route via its     sent        / sent         sent   / sent
 *   link deleted (another stays)
 *   (no route to the peer at all   ENETUNREACH / sent (**)    ENETUNREACH)
 *
 * A link-local IPv6 source behaves the same: EINVAL when gone or down,
 * ENODEV when its link is deleted. So EINVAL, ENETUNREACH and ENODEV mean
 * "maybe the source": the message is resent once without it, and the peer
 * forgets it (the next packet from the peer teaches a good one). Where the
 * source was not the cause (no route at all), the resend fails alike and
 * is counted as a send error; the source forgotten costs nothing.
 *
 * (*) IPv4 keeps the address of a downed link, so the packet leaves by
 * another link with it; the Linux module notices because its route's
 * device differs from the one the source came in on, which we could only
 * learn with a route lookup per send. The new-handshake timer clears it.
 * (**) with an ifindex and no route, IPv4 assumes the peer is on that
 * link: one reason IPv4 sends name only the address.
 */
static bool udp_src_errno(int err)
{
	return err == EINVAL || err == ENETUNREACH || err == ENODEV;
}

/* A send that named a sticky source failed with err: true if it is worth
 * resending without it (the caller does), with the peer noted to forget. */
static bool udp_src_refused(struct cwg_udp *u, struct cwg_udp_io *io,
			    struct cwg_pkt *p, int err, uint32_t *nstale)
{
	if (!udp_src_errno(err))
		return false;
	__atomic_add_fetch(&u->src_refusals, 1, __ATOMIC_RELAXED);
	if (!*nstale)
		io->stale_errno = err;
	if (p->peer)
		io->stale_src[(*nstale)++] = p->peer;
	return true;
}

static bool udp_gso_errno(int err)
{
	return err == EIO || err == EINVAL || err == EMSGSIZE ||
	       err == ENOPROTOOPT || err == EOPNOTSUPP;
}

static void udp_gso_refused(struct cwg_udp *u, int err)
{
	bool hard = err == EIO || err == ENOPROTOOPT || err == EOPNOTSUPP;

	if (hard || __atomic_add_fetch(&u->gso_refusals, 1, __ATOMIC_RELAXED) >=
			    UDP_GSO_MAX_REFUSALS) {
		if (__atomic_exchange_n(&u->gso, false, __ATOMIC_ACQ_REL))
			cwg_log_verbose("UDP GSO refused (%s): sending "
					"datagrams one by one", strerror(err));
	}
}

/* One packet alone, for a GSO message the kernel refused. */
static void udp_send_single(struct cwg_udp *u, struct cwg_udp_io *io, int fd,
			    uint32_t k, uint32_t *nstale)
{
	struct cwg_pkt *p = io->pkts[k];
	union cwg_sockaddr addr;
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(struct in6_pktinfo)) +
			 CMSG_SPACE(sizeof(int))];
	} ctl;
	struct iovec iov = { .iov_base = p->data, .iov_len = p->len };
	struct msghdr mh;
	ssize_t r;

	udp_fill_msg(&mh, &addr, ctl.buf, sizeof(ctl.buf), &iov, 1, &p->ep, 0);
	for (;;) {
		r = sendmsg(fd, &mh, 0);
		if (r >= 0)
			return;
		if (errno == EINTR)
			continue;
		if (mh.msg_control &&
		    udp_src_refused(u, io, p, errno, nstale)) {
			mh.msg_control = NULL;
			mh.msg_controllen = 0;
			continue;
		}
		__atomic_add_fetch(&u->send_errors, 1, __ATOMIC_RELAXED);
		return;
	}
}

/* Sends io->pkts[from, to) on fd. Peers whose sticky source the kernel
 * refused are appended to io->stale_src at *nstale. */
static void udp_send_range(struct cwg_udp *u, struct cwg_udp_io *io, int fd,
			   uint32_t from, uint32_t to, uint32_t *nstale)
{
	bool gso = __atomic_load_n(&u->gso, __ATOMIC_ACQUIRE);
	uint32_t nm, m = 0;

	if (from >= to)
		return;
	nm = udp_build(io, from, to, gso);
	while (m < nm) {
		struct msghdr *mh = &io->msgs[m].msg_hdr;
		uint32_t first = io->first[m], cnt = io->count[m];
		struct cwg_pkt *p = io->pkts[first];
		int r = sendmmsg(fd, &io->msgs[m], nm - m, 0), err = errno;

		if (r > 0) {
			m += (uint32_t)r;
			continue;
		}
		if (r < 0 && err == EINTR)
			continue;
		if (r < 0 && mh->msg_control &&
		    !addr_is_zero(p->ep.src_addr, 16) &&
		    udp_src_refused(u, io, p, err, nstale)) {
			/* Forget the source and let routing choose, once:
			 * with it cleared this branch cannot come again. */
			for (uint32_t k = first; k < first + cnt; k++)
				memset(io->pkts[k]->ep.src_addr, 0,
				       sizeof(p->ep.src_addr));
			udp_fill_msg(mh, &io->addr[m], io->ctl[m].buf,
				     sizeof(io->ctl[m].buf), &io->iov[first],
				     cnt, &p->ep,
				     cnt > 1 ? (uint16_t)p->len : 0);
			continue;
		}
		if (r < 0 && cnt > 1 && udp_gso_errno(err)) {
			udp_gso_refused(u, err);
			for (uint32_t k = first; k < first + cnt; k++)
				udp_send_single(u, io, fd, k, nstale);
			m++;
			continue;
		}
		__atomic_add_fetch(&u->send_errors, cnt, __ATOMIC_RELAXED);
		m++;
	}
}

static void udp_clear_stale(struct cwg_device *dev, struct cwg_peer **peers,
			    uint32_t n, int err)
{
	if (!n)
		return;
	cwg_log_verbose("sticky source refused (%s): %u sends resent from "
			"the routing's choice", strerror(err), n);
	/* The packets were built before: the core looks the peers up again,
	 * since pkt->peer is no reference. */
	cwg_device_forget_sources(dev, (const struct cwg_peer *const *)peers,
				  n);
}

void cwg_udp_send(struct cwg_udp *u, struct cwg_udp_io *io,
		  struct cwg_device *dev, struct cwg_pkt_list *l)
{
	while (l->head) {
		struct cwg_pkt_list done;
		uint32_t n = 0, nv4 = 0, nstale = 0;
		struct cwg_pkt *p;

		/* One batch, IPv4 first, each family in its original order
		 * (a peer's packets should not overtake each other). */
		cwg_pkt_list_init(&done);
		while (n < CWG_UDP_SEND_BATCH && (p = cwg_pkt_list_pop(l))) {
			if (p->ep.family == 4) {
				io->pkts[n++] = p;
				nv4++;
			} else if (p->ep.family == 6) {
				io->pkts6[n++ - nv4] = p;
			} else {
				__atomic_add_fetch(&u->send_errors, 1,
						   __ATOMIC_RELAXED);
				cwg_pkt_list_append(&done, p);
			}
		}
		for (uint32_t i = nv4; i < n; i++)
			io->pkts[i] = io->pkts6[i - nv4];
		pthread_rwlock_rdlock(&u->lock);
		if (u->fd[0] >= 0)
			udp_send_range(u, io, u->fd[0], 0, nv4, &nstale);
		else
			__atomic_add_fetch(&u->send_errors, nv4,
					   __ATOMIC_RELAXED);
		if (u->fd[1] >= 0)
			udp_send_range(u, io, u->fd[1], nv4, n, &nstale);
		else
			__atomic_add_fetch(&u->send_errors, n - nv4,
					   __ATOMIC_RELAXED);
		pthread_rwlock_unlock(&u->lock);
		udp_clear_stale(dev, io->stale_src, nstale, io->stale_errno);
		for (uint32_t i = 0; i < n; i++)
			cwg_pkt_list_append(&done, io->pkts[i]);
		cwg_pkt_free_list(&done);
	}
}
