/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"
#include "offload.h"
#include "pool.h"

/* epoll tags in the data threads' sets: 0 and 1 are the UDP sockets. */
#define TAG_STOP 2
#define TAG_TUN 3
#define TAG_FLUSH 4
#define TUN_BATCH 64
/* Batches one thread takes from one source before looking at the others
 * (and at stop_fd) again. */
#define BATCHES_PER_WAKEUP 8
/* With TSO one TUN read can be 64 segments: a TX batch stops reading
 * once it holds this many, which bounds the buffers it takes. */
#define TX_MAX_SEGS 192
/* One TUN read: the virtio header and the largest IP packet. */
#define TUN_SCRATCH (CWG_VNET_HDR_LEN + 65536)
/* TCP and UDP flows the RX side coalesces at once. */
#define GRO_GROUPS 8

uint64_t cwg_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static bool stopping(struct cwg_daemon *d)
{
	return __atomic_load_n(&d->stopping, __ATOMIC_ACQUIRE);
}

static void tun_gone(struct cwg_daemon *d, int err)
{
	uint64_t one = 1;

	if (!__atomic_exchange_n(&d->tun_dead, true, __ATOMIC_ACQ_REL))
		cwg_log_verbose("TUN device gone (%s)", strerror(err));
	if (write(d->notify_fd, &one, sizeof(one)) < 0) {
		/* eventfd counter full cannot happen at one write per death. */
	}
}

/* EBADFD: the interface was deleted and our queue detached from it. */
static bool tun_err_fatal(int err)
{
	return err == EBADFD || err == EBADF;
}

/* Room a TUN read may fill: the core seals in place around it. */
static size_t tun_read_room(const struct cwg_pkt *p)
{
	return (size_t)(p->buf + p->cap - p->data) - CWG_DATA_TAILROOM;
}

/* Pool reserve the TUN reader leaves for handshakes and received data:
 * the core may hold many staged TUN packets while a handshake is pending,
 * and that handshake must still find buffers to complete. */
static uint32_t tx_reserve(void)
{
	return cwg_pkt_pool_size() / 4;
}

/* One packet from the TUN: its length, or 0 when there is none now or
 * the device is gone (and then the control thread has been told). */
static size_t tun_read_one(struct cwg_daemon *d, void *buf, size_t room)
{
	ssize_t r;

	do
		r = read(d->tun.fd, buf, room);
	while (r < 0 && errno == EINTR);
	if (r < 0 && tun_err_fatal(errno))
		tun_gone(d, errno);
	return r > 0 ? (size_t)r : 0;
}

static void tun_discard_one(struct cwg_daemon *d, struct cwg_udp_io *io)
{
	tun_read_one(d, io->discard, sizeof(io->discard));
}

void cwg_datapath_flush_soon(struct cwg_daemon *d)
{
	uint64_t one = 1;

	if (write(d->flush_fd, &one, sizeof(one)) < 0) {
		/* EAGAIN: the counter is full, so a flush is due anyway. */
	}
}

/*
 * What a TX thread does under tx_order.in, after reading a batch into in
 * (or with in empty, for a flush): the core routes, stages and reserves
 * counters for it, and for whatever a handshake or timer released
 * (cwg_device_flush), in this one order; the batch then takes its ticket.
 * This is where every peer's data packets get their order, on the wire
 * and in counters alike, however many threads seal them afterwards.
 */
static uint64_t tx_prepare(struct cwg_daemon *d, struct cwg_pkt_list *in,
			   struct cwg_out *out, struct cwg_pkt_list *ready)
{
	uint64_t now = cwg_now_ns();

	cwg_out_init(out);
	cwg_pkt_list_init(ready);
	cwg_device_flush(d->dev, now, out, ready);
	if (in->count)
		cwg_device_send_prepare(d->dev, in, now, out, ready);
	if (!ready->count && !out->net.count)
		return CWG_ORDER_NONE;
	return cwg_order_ticket(&d->tx_order);
}

/*
 * Seals a batch prepared with ticket t and sends it in its turn: the
 * sealing runs alongside the other TX threads, the sending in the order
 * the batches were prepared.
 */
static void tx_finish(struct cwg_daemon *d, struct cwg_udp_io *io,
		      struct cwg_out *out, struct cwg_pkt_list *ready,
		      uint64_t t)
{
	if (t == CWG_ORDER_NONE)
		return;
	cwg_device_send_seal(d->dev, ready, out);
	cwg_order_wait(&d->tx_order, t);
	cwg_udp_send(&d->udp, io, d->dev, &out->net);
	cwg_order_done(&d->tx_order, t);
	cwg_pkt_free_list(&out->tun);
}

/* Sends what handshakes and timers released (cwg_datapath_flush_soon). */
static void tx_flush(struct cwg_daemon *d, struct cwg_udp_io *io)
{
	struct cwg_pkt_list none, ready;
	struct cwg_out out;
	uint64_t t, n;

	if (read(d->flush_fd, &n, sizeof(n)) < 0)
		return; /* another TX thread took it */
	cwg_pkt_list_init(&none);
	cwg_order_in_lock(&d->tx_order);
	t = tx_prepare(d, &none, &out, &ready);
	cwg_order_in_unlock(&d->tx_order);
	tx_finish(d, io, &out, &ready, t);
}

/* Reads one batch from the TUN and sends it; false when drained. */
static bool tx_batch(struct cwg_daemon *d, struct cwg_udp_io *io)
{
	struct cwg_pkt *bufs[TUN_BATCH];
	struct cwg_pkt_list in, ready;
	struct cwg_out out;
	uint32_t n, i;
	uint64_t t;
	bool more = true;

	n = cwg_pkt_alloc_bulk(bufs, TUN_BATCH, tx_reserve());
	if (!n) {
		/* Out of buffers: drop rather than spin on a readable fd. */
		tun_discard_one(d, io);
		return true;
	}
	cwg_pkt_list_init(&in);
	cwg_order_in_lock(&d->tx_order);
	for (i = 0; i < n; i++) {
		size_t r = tun_read_one(d, bufs[i]->data, tun_read_room(bufs[i]));

		if (!r) {
			more = false;
			break;
		}
		bufs[i]->len = (uint32_t)r;
		cwg_pkt_list_append(&in, bufs[i]);
	}
	if (!in.count) {
		cwg_order_in_unlock(&d->tx_order);
		for (uint32_t j = 0; j < n; j++)
			cwg_pkt_free(bufs[j]);
		return false;
	}
	t = tx_prepare(d, &in, &out, &ready);
	cwg_order_in_unlock(&d->tx_order);
	for (uint32_t j = i; j < n; j++)
		cwg_pkt_free(bufs[j]);
	tx_finish(d, io, &out, &ready, t);
	return more;
}

static void tx_drop(struct cwg_daemon *d, uint32_t n)
{
	__atomic_add_fetch(&d->tx_offload_drops, n, __ATOMIC_RELAXED);
}

/*
 * One packet read with its virtio header, onto in: a GSO super-packet as
 * its segments, anything else as itself with its checksum completed.
 * The read lands in scratch, not in a pool buffer, so pool pages only
 * ever hold MTU-sized packets and the resident set stays small.
 */
static void tx_take_vnet(struct cwg_daemon *d, const uint8_t *scratch,
			 uint32_t r, struct cwg_pkt_list *in)
{
	struct cwg_pkt *bufs[CWG_OFFLOAD_MAX_SEGS];
	uint8_t *outs[CWG_OFFLOAD_MAX_SEGS];
	uint32_t lens[CWG_OFFLOAD_MAX_SEGS], len, n, got;
	struct cwg_vnet_hdr vh;
	const uint8_t *pkt = scratch + CWG_VNET_HDR_LEN;
	int c;

	if (r <= CWG_VNET_HDR_LEN) {
		tx_drop(d, 1);
		return;
	}
	len = r - CWG_VNET_HDR_LEN;
	cwg_vnet_hdr_get(&vh, scratch);
	if ((vh.gso_type & ~CWG_VNET_GSO_ECN) == CWG_VNET_GSO_NONE) {
		if (!cwg_pkt_alloc_bulk(bufs, 1, tx_reserve())) {
			tx_drop(d, 1);
			return;
		}
		if (len > tun_read_room(bufs[0])) {
			cwg_pkt_free(bufs[0]);
			tx_drop(d, 1);
			return;
		}
		memcpy(bufs[0]->data, pkt, len);
		bufs[0]->len = len;
		if (cwg_offload_finish_csum(&vh, bufs[0]->data, len)) {
			cwg_pkt_free(bufs[0]);
			tx_drop(d, 1);
			return;
		}
		cwg_pkt_list_append(in, bufs[0]);
		return;
	}
	c = cwg_offload_segment_count(&vh, pkt, len);
	if (c <= 0) {
		tx_drop(d, 1);
		return;
	}
	n = (uint32_t)c;
	got = cwg_pkt_alloc_bulk(bufs, n, tx_reserve());
	if (got < n) {
		/* All or nothing: a TCP super-packet with a hole costs the
		 * sender a retransmission either way. */
		for (uint32_t i = 0; i < got; i++)
			cwg_pkt_free(bufs[i]);
		tx_drop(d, n);
		return;
	}
	for (uint32_t i = 0; i < n; i++)
		outs[i] = bufs[i]->data;
	c = cwg_offload_segment(&vh, pkt, len, outs, tun_read_room(bufs[0]),
				lens, n);
	if (c != (int)n) {
		for (uint32_t i = 0; i < n; i++)
			cwg_pkt_free(bufs[i]);
		tx_drop(d, n);
		return;
	}
	for (uint32_t i = 0; i < n; i++) {
		bufs[i]->len = lens[i];
		cwg_pkt_list_append(in, bufs[i]);
	}
}

/* tx_batch for a TUN with virtio headers; false when drained. */
static bool tx_batch_vnet(struct cwg_daemon *d, struct cwg_udp_io *io,
			  uint8_t *scratch)
{
	struct cwg_pkt_list in, ready;
	struct cwg_out out;
	uint64_t t = CWG_ORDER_NONE;
	bool more = true;

	cwg_pkt_list_init(&in);
	cwg_order_in_lock(&d->tx_order);
	for (uint32_t reads = 0; reads < TUN_BATCH && in.count < TX_MAX_SEGS;
	     reads++) {
		size_t r = tun_read_one(d, scratch, TUN_SCRATCH);

		if (!r) {
			more = false;
			break;
		}
		tx_take_vnet(d, scratch, (uint32_t)r, &in);
	}
	if (in.count)
		t = tx_prepare(d, &in, &out, &ready);
	cwg_order_in_unlock(&d->tx_order);
	if (t != CWG_ORDER_NONE)
		tx_finish(d, io, &out, &ready, t);
	return more;
}

/* Names the calling thread "cwg-tx0" and so on, for top -H and perf. */
static void name_thread(const char *dir, uint32_t index)
{
	char name[16];

	snprintf(name, sizeof(name), "cwg-%s%u", dir, index);
	pthread_setname_np(pthread_self(), name);
}

static void *tx_main(void *arg)
{
	struct cwg_worker *w = arg;
	struct cwg_daemon *d = w->d;
	struct cwg_udp_io *io = malloc(sizeof(*io));
	uint8_t *scratch = d->tun.vnet ? malloc(TUN_SCRATCH) : NULL;

	name_thread("tx", w->index);
	if (!io || (d->tun.vnet && !scratch)) {
		cwg_log_error("TX thread: out of memory");
		tun_gone(d, ENOMEM);
		free(io);
		free(scratch);
		return NULL;
	}
	while (!stopping(d)) {
		struct epoll_event ev[3];
		int n = epoll_wait(d->tx_epfd, ev, 3, -1);

		for (int i = 0; i < n && !stopping(d); i++) {
			if (ev[i].data.u32 == TAG_FLUSH)
				tx_flush(d, io);
			if (ev[i].data.u32 != TAG_TUN)
				continue;
			for (int b = 0; b < BATCHES_PER_WAKEUP; b++)
				if (scratch ? !tx_batch_vnet(d, io, scratch) :
					      !tx_batch(d, io))
					break;
			if ((ev[i].events & (EPOLLERR | EPOLLHUP)) &&
			    !cwg_tun_alive(&d->tun)) {
				tun_gone(d, EBADFD);
				goto out;
			}
		}
		if (__atomic_load_n(&d->tun_dead, __ATOMIC_ACQUIRE))
			break;
	}
out:
	free(io);
	free(scratch);
	return NULL;
}

struct rx_state {
	struct cwg_udp_io *io;
	uint8_t *gro_scratch;	/* UDP GRO receive buffers, or NULL */
	struct cwg_gro_group groups[GRO_GROUPS];
	struct cwg_pkt_list members[GRO_GROUPS];
	uint32_t ngroups;
	/* TCP and UDP coalescing, each cleared if the kernel refuses our
	 * GSO writes of it. */
	bool coalesce;
	bool coalesce_udp;
	/* Coalesced writes the kernel did not refuse (a full queue drops
	 * one silently) and the packets they held, for the exit log. */
	uint64_t tcp_writes, tcp_segs, udp_writes, udp_segs;
};

static void tun_write_all(struct cwg_daemon *d, struct cwg_pkt_list *l)
{
	for (struct cwg_pkt *p = l->head; p; p = p->next) {
		ssize_t r;

		do
			r = write(d->tun.fd, p->data, p->len);
		while (r < 0 && errno == EINTR);
		/* EIO while the link is down, EAGAIN when the queue is
		 * full: the packet is dropped, as a NIC would. */
		if (r < 0 && tun_err_fatal(errno)) {
			tun_gone(d, errno);
			break;
		}
	}
	cwg_pkt_free_list(l);
}

static bool tun_write_iov(struct cwg_daemon *d, const struct iovec *iov,
			  int n)
{
	ssize_t r;

	do
		r = writev(d->tun.fd, iov, n);
	while (r < 0 && errno == EINTR);
	if (r < 0 && tun_err_fatal(errno)) {
		tun_gone(d, errno);
		return true;
	}
	/* EIO while the link is down, EAGAIN when the queue is full: the
	 * packet is dropped, as a NIC would. EINVAL is our header. */
	return r >= 0 || errno != EINVAL;
}

static void tun_write_single(struct cwg_daemon *d, struct cwg_pkt *p)
{
	static const uint8_t none[CWG_VNET_HDR_LEN];
	struct iovec iov[2] = {
		{ .iov_base = (void *)none, .iov_len = sizeof(none) },
		{ .iov_base = p->data, .iov_len = p->len },
	};

	tun_write_iov(d, iov, 2);
}

/* Writes group k (as one super-packet when it has several) and moves
 * its packets onto done. */
static void gro_flush(struct cwg_daemon *d, struct rx_state *st, uint32_t k,
		      struct cwg_pkt_list *done)
{
	struct cwg_gro_group *g = &st->groups[k];
	struct cwg_pkt_list *l = &st->members[k];
	struct iovec iov[CWG_OFFLOAD_MAX_SEGS + 1];
	uint8_t hdr[CWG_VNET_HDR_LEN];
	struct cwg_vnet_hdr vh;
	bool udp = g->hi.proto == IPPROTO_UDP;
	int n = 0;
	struct cwg_pkt *p;

	if (g->count == 1) {
		tun_write_single(d, l->head);
	} else {
		cwg_gro_finish(g, &vh);
		cwg_vnet_hdr_put(hdr, &vh);
		iov[n].iov_base = hdr;
		iov[n++].iov_len = sizeof(hdr);
		for (p = l->head; p; p = p->next) {
			uint32_t skip = p == l->head ? 0 : g->hi.hdr_len;

			iov[n].iov_base = p->data + skip;
			iov[n++].iov_len = p->len - skip;
		}
		if (!tun_write_iov(d, iov, n)) {
			/* The group is lost (its head is rewritten); later
			 * packets of its protocol go singly. */
			if (udp)
				st->coalesce_udp = false;
			else
				st->coalesce = false;
			cwg_log_error("TUN refused a coalesced %s packet; "
				      "writing %s packets singly from now on",
				      udp ? "UDP" : "TCP", udp ? "UDP" : "TCP");
		} else if (udp) {
			st->udp_writes++;
			st->udp_segs += g->count;
		} else {
			st->tcp_writes++;
			st->tcp_segs += g->count;
		}
	}
	while ((p = cwg_pkt_list_pop(l)))
		cwg_pkt_list_append(done, p);
}

static void gro_flush_all(struct cwg_daemon *d, struct rx_state *st,
			  struct cwg_pkt_list *done)
{
	for (uint32_t k = 0; k < st->ngroups; k++)
		gro_flush(d, st, k, done);
	st->ngroups = 0;
}

/* Whether p may be coalesced (then gi describes it). */
static bool gro_candidate(const struct rx_state *st, const struct cwg_pkt *p,
			  struct cwg_gro_info *gi)
{
	if (st->coalesce && cwg_gro_parse(p->data, p->len, gi))
		return true;
	return st->coalesce_udp && cwg_gro_parse_udp(p->data, p->len, gi);
}

/*
 * Decrypted packets to a TUN with virtio headers. In-order TCP segments
 * of one flow, and consecutive equal-sized datagrams of one UDP flow
 * (when the TUN took USO), are coalesced into one super-packet (the
 * kernel takes it as GRO would have made it); everything else goes out
 * singly. A flow's packets never overtake each other: a packet that
 * cannot join its flow's group flushes that group first, and one that
 * is no candidate at all flushes every group.
 */
static void tun_write_vnet(struct cwg_daemon *d, struct rx_state *st,
			   struct cwg_pkt_list *l)
{
	struct cwg_pkt_list done;
	struct cwg_gro_info gi;
	struct cwg_pkt *p;

	cwg_pkt_list_init(&done);
	st->ngroups = 0;
	while ((p = cwg_pkt_list_pop(l))) {
		uint32_t k;
		enum cwg_gro_verdict v = CWG_GRO_OTHER_FLOW;

		if (!gro_candidate(st, p, &gi)) {
			gro_flush_all(d, st, &done);
			tun_write_single(d, p);
			cwg_pkt_list_append(&done, p);
			continue;
		}
		for (k = 0; k < st->ngroups; k++) {
			v = cwg_gro_check(&st->groups[k], p->data, &gi);
			if (v != CWG_GRO_OTHER_FLOW)
				break;
		}
		if (v == CWG_GRO_APPEND) {
			cwg_gro_append(&st->groups[k], &gi);
			cwg_pkt_list_append(&st->members[k], p);
			continue;
		}
		if (v == CWG_GRO_OTHER_FLOW) {
			/* A new flow: take a free slot, or the oldest's. */
			k = st->ngroups < GRO_GROUPS ? st->ngroups++ : 0;
			if (st->members[k].count)
				gro_flush(d, st, k, &done);
		} else {
			gro_flush(d, st, k, &done);
		}
		cwg_gro_start(&st->groups[k], p->data, &gi);
		cwg_pkt_list_append(&st->members[k], p);
	}
	gro_flush_all(d, st, &done);
	cwg_pkt_free_list(&done);
}

/*
 * One batch from socket `which`; false when drained. The batch is opened
 * alongside the other RX threads and written to the TUN in the order the
 * batches were received.
 */
static bool rx_batch(struct cwg_daemon *d, struct rx_state *st, int which)
{
	struct cwg_pkt_list in;
	struct cwg_out out;
	uint32_t got, hs = 0, backlog = 0;
	uint64_t now, t;
	bool full = false;

	cwg_pkt_list_init(&in);
	cwg_order_in_lock(&d->rx_order);
	/* A few buffers stay for the core's own handshake messages. */
	got = cwg_udp_recv(&d->udp, st->io, which, &in, 32, st->gro_scratch,
			   &full);
	t = got ? cwg_order_ticket(&d->rx_order) : CWG_ORDER_NONE;
	if (got) {
		for (struct cwg_pkt *p = in.head; p; p = p->next)
			hs += cwg_datagram_is_handshake(p->data, p->len);
		backlog = cwg_backlog_note(&d->hs_backlog[which], hs, full);
	}
	cwg_order_in_unlock(&d->rx_order);
	if (!got)
		return full;
	now = cwg_now_ns();
	cwg_device_set_handshake_backlog(d->dev, backlog, now);
	cwg_out_init(&out);
	cwg_device_receive(d->dev, &in, now, &out);
	cwg_pkt_free_list(&in);
	cwg_order_wait(&d->rx_order, t);
	if (d->tun.vnet)
		tun_write_vnet(d, st, &out.tun);
	else
		tun_write_all(d, &out.tun);
	cwg_order_done(&d->rx_order, t);
	/* Handshake replies and cookies: no order to keep. Data released by
	 * a completed handshake goes out through a TX thread, in order. */
	cwg_udp_send(&d->udp, st->io, d->dev, &out.net);
	if (out.flush)
		cwg_datapath_flush_soon(d);
	return full;
}

static void *rx_main(void *arg)
{
	struct cwg_worker *w = arg;
	struct cwg_daemon *d = w->d;
	struct rx_state *st = calloc(1, sizeof(*st));

	name_thread("rx", w->index);
	if (st) {
		st->io = malloc(sizeof(*st->io));
		st->coalesce = true;
		/* Kernels that take GSO_UDP_L4 writes (6.2) are the ones
		 * that have USO; tun.c asks for both families or neither. */
		st->coalesce_udp = (d->tun.offloads & CWG_TUN_F_USO4) &&
				   (d->tun.offloads & CWG_TUN_F_USO6);
		for (int k = 0; k < GRO_GROUPS; k++)
			cwg_pkt_list_init(&st->members[k]);
		/* Pages are only touched as GRO fills them. */
		if (!(d->udp.disabled & CWG_OFFLOAD_UDP_GRO))
			st->gro_scratch = malloc((size_t)CWG_UDP_GRO_MSGS *
						 CWG_UDP_GRO_BUF);
	}
	if (!st || !st->io) {
		cwg_log_error("RX thread: out of memory");
		tun_gone(d, ENOMEM);
		if (st)
			free(st->io);
		free(st);
		return NULL;
	}
	while (!stopping(d)) {
		struct epoll_event ev[3];
		int n = epoll_wait(d->rx_epfd, ev, 3, -1);

		for (int i = 0; i < n && !stopping(d); i++) {
			uint32_t which = ev[i].data.u32;

			if (which > 1)
				continue;
			for (int b = 0; b < BATCHES_PER_WAKEUP; b++)
				if (!rx_batch(d, st, (int)which))
					break;
		}
		if (__atomic_load_n(&d->tun_dead, __ATOMIC_ACQUIRE))
			break;
	}
	__atomic_add_fetch(&d->rx_tcp_writes, st->tcp_writes, __ATOMIC_RELAXED);
	__atomic_add_fetch(&d->rx_tcp_segs, st->tcp_segs, __ATOMIC_RELAXED);
	__atomic_add_fetch(&d->rx_udp_writes, st->udp_writes, __ATOMIC_RELAXED);
	__atomic_add_fetch(&d->rx_udp_segs, st->udp_segs, __ATOMIC_RELAXED);
	free(st->io);
	free(st->gro_scratch);
	free(st);
	return NULL;
}

static int add_fd(int epfd, int fd, uint32_t tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = tag };

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

int cwg_datapath_threads(const char *env)
{
	cpu_set_t cpus;
	char *end;
	long v;
	int n;

	if (env && *env) {
		errno = 0;
		v = strtol(env, &end, 10);
		if (errno || *end || v < 1 || v > CWG_MAX_DATA_THREADS)
			return -1;
		return (int)v;
	}
	/* Half the CPUs: the kernel's share of moving each packet (TUN,
	 * UDP, the veth or NIC) and the applications' take about as much
	 * CPU as ours, and threads beyond the free cores cost more in
	 * hand-offs than they gain (on 2 CPUs, 2 threads moved 15% less
	 * TCP than 1). */
	n = sched_getaffinity(0, sizeof(cpus), &cpus) ? 1 : CPU_COUNT(&cpus);
	n /= 2;
	if (n < 1)
		n = 1;
	return n > CWG_MAX_DATA_THREADS ? CWG_MAX_DATA_THREADS : n;
}

static int start_workers(struct cwg_daemon *d, struct cwg_worker *w,
			 void *(*fn)(void *))
{
	for (uint32_t i = 0; i < d->nthreads; i++) {
		int r;

		w[i].d = d;
		w[i].index = i;
		r = -pthread_create(&w[i].thread, NULL, fn, &w[i]);
		if (r)
			return r;
		w[i].started = true;
	}
	return 0;
}

static void join_workers(struct cwg_worker *w)
{
	for (uint32_t i = 0; i < CWG_MAX_DATA_THREADS; i++) {
		if (w[i].started)
			pthread_join(w[i].thread, NULL);
		w[i].started = false;
	}
}

int cwg_datapath_start(struct cwg_daemon *d)
{
	sigset_t all, old;
	int r;

	if (!d->nthreads)
		d->nthreads = 1;
	{
		char tun[96];

		cwg_tun_describe(&d->tun, tun, sizeof(tun));
		cwg_log_verbose("Offloads: %s udp_gso=%s udp_gro=%s", tun,
				__atomic_load_n(&d->udp.gso, __ATOMIC_ACQUIRE) ?
					"on" : "off",
				__atomic_load_n(&d->udp.gro, __ATOMIC_ACQUIRE) ?
					"on" : "off");
		cwg_log_verbose("Data threads: %u TX, %u RX", d->nthreads,
				d->nthreads);
	}
	r = add_fd(d->tx_epfd, d->tun.fd, TAG_TUN);
	if (!r)
		r = add_fd(d->tx_epfd, d->stop_fd, TAG_STOP);
	if (!r)
		r = add_fd(d->tx_epfd, d->flush_fd, TAG_FLUSH);
	if (!r)
		r = add_fd(d->rx_epfd, d->stop_fd, TAG_STOP);
	if (r)
		return r;
	cwg_order_init(&d->tx_order);
	cwg_order_init(&d->rx_order);
	/* Signals are the control thread's business (signalfd). */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	r = start_workers(d, d->tx, tx_main);
	if (!r)
		r = start_workers(d, d->rx, rx_main);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r)
		cwg_datapath_stop(d);
	return r;
}

void cwg_datapath_stop(struct cwg_daemon *d)
{
	uint64_t one = 1;

	__atomic_store_n(&d->stopping, true, __ATOMIC_RELEASE);
	if (write(d->stop_fd, &one, sizeof(one)) < 0)
		cwg_log_error("waking data threads: %s", strerror(errno));
	join_workers(d->tx);
	join_workers(d->rx);
	cwg_order_destroy(&d->tx_order);
	cwg_order_destroy(&d->rx_order);
	cwg_log_verbose("RX threads: %llu coalesced TCP writes of %llu "
			"segments, %llu coalesced UDP writes of %llu datagrams",
			(unsigned long long)d->rx_tcp_writes,
			(unsigned long long)d->rx_tcp_segs,
			(unsigned long long)d->rx_udp_writes,
			(unsigned long long)d->rx_udp_segs);
}
