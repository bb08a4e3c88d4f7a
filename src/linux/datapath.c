/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "linux/daemon.h"
#include "linux/log.h"
#include "linux/platform.h"

/* epoll tags in the data threads' sets: 0 and 1 are the UDP sockets. */
#define TAG_STOP 2
#define TAG_TUN 3
#define TUN_BATCH 64
/* Batches one thread takes from one source before looking at the others
 * (and at stop_fd) again. */
#define BATCHES_PER_WAKEUP 8

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

static void tun_discard_one(struct cwg_daemon *d, struct cwg_udp_io *io)
{
	if (read(d->tun.fd, io->discard, sizeof(io->discard)) < 0 &&
	    tun_err_fatal(errno))
		tun_gone(d, errno);
}

/* Reads one batch from the TUN and sends it; false when drained. */
static bool tx_batch(struct cwg_daemon *d, struct cwg_udp_io *io)
{
	struct cwg_pkt *bufs[TUN_BATCH];
	struct cwg_pkt_list in;
	struct cwg_out out;
	uint32_t n, i;
	bool more = true;

	n = cwg_pkt_alloc_bulk(bufs, TUN_BATCH, tx_reserve());
	if (!n) {
		/* Out of buffers: drop rather than spin on a readable fd. */
		tun_discard_one(d, io);
		return true;
	}
	cwg_pkt_list_init(&in);
	for (i = 0; i < n; i++) {
		ssize_t r = read(d->tun.fd, bufs[i]->data,
				 tun_read_room(bufs[i]));

		if (r < 0 && errno == EINTR) {
			i--;
			continue;
		}
		if (r <= 0) {
			if (r < 0 && tun_err_fatal(errno))
				tun_gone(d, errno);
			more = false;
			break;
		}
		bufs[i]->len = (uint32_t)r;
		cwg_pkt_list_append(&in, bufs[i]);
	}
	for (uint32_t j = i; j < n; j++)
		cwg_pkt_free(bufs[j]);
	if (!in.count)
		return false;
	cwg_out_init(&out);
	cwg_device_send(d->dev, &in, cwg_now_ns(), &out);
	cwg_pkt_free_list(&in); /* whatever the core left there */
	cwg_udp_send(&d->udp, io, d->dev, &out.net);
	cwg_pkt_free_list(&out.tun);
	return more;
}

static void *tx_main(void *arg)
{
	struct cwg_daemon *d = arg;
	struct cwg_udp_io *io = malloc(sizeof(*io));

	if (!io) {
		cwg_log_error("TX thread: out of memory");
		tun_gone(d, ENOMEM);
		return NULL;
	}
	while (!stopping(d)) {
		struct epoll_event ev[2];
		int n = epoll_wait(d->tx_epfd, ev, 2, -1);

		for (int i = 0; i < n && !stopping(d); i++) {
			if (ev[i].data.u32 != TAG_TUN)
				continue;
			for (int b = 0; b < BATCHES_PER_WAKEUP; b++)
				if (!tx_batch(d, io))
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
	return NULL;
}

static bool is_handshake(const struct cwg_pkt *p)
{
	/* Initiations and responses are what cost a DH each. */
	return p->len >= 4 && (p->data[0] == 1 || p->data[0] == 2) &&
	       !p->data[1] && !p->data[2] && !p->data[3];
}

struct rx_state {
	struct cwg_udp_io *io;
	/* Handshakes seen since the socket was last found drained: while
	 * every batch comes back full the kernel queue holds more, so this
	 * running count is the backlog estimate the core's load check uses. */
	uint32_t hs_backlog;
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

/* One batch from socket `which`; false when drained. */
static bool rx_batch(struct cwg_daemon *d, struct rx_state *st, int which)
{
	struct cwg_pkt_list in;
	struct cwg_out out;
	uint32_t got, hs = 0;
	uint64_t now;

	cwg_pkt_list_init(&in);
	/* A few buffers stay for the core's own handshake messages. */
	got = cwg_udp_recv(&d->udp, st->io, which, &in, 32);
	if (!got)
		return false;
	for (struct cwg_pkt *p = in.head; p; p = p->next)
		hs += is_handshake(p);
	st->hs_backlog = got == CWG_UDP_BATCH ? st->hs_backlog + hs : hs;
	now = cwg_now_ns();
	cwg_device_set_handshake_backlog(d->dev, st->hs_backlog, now);
	cwg_out_init(&out);
	cwg_device_receive(d->dev, &in, now, &out);
	cwg_pkt_free_list(&in);
	tun_write_all(d, &out.tun);
	cwg_udp_send(&d->udp, st->io, d->dev, &out.net);
	return got == CWG_UDP_BATCH;
}

static void *rx_main(void *arg)
{
	struct cwg_daemon *d = arg;
	struct rx_state st = { .io = malloc(sizeof(*st.io)) };

	if (!st.io) {
		cwg_log_error("RX thread: out of memory");
		tun_gone(d, ENOMEM);
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
				if (!rx_batch(d, &st, (int)which))
					break;
		}
		if (__atomic_load_n(&d->tun_dead, __ATOMIC_ACQUIRE))
			break;
	}
	free(st.io);
	return NULL;
}

static int add_fd(int epfd, int fd, uint32_t tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = tag };

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

int cwg_datapath_start(struct cwg_daemon *d)
{
	sigset_t all, old;
	int r;

	r = add_fd(d->tx_epfd, d->tun.fd, TAG_TUN);
	if (!r)
		r = add_fd(d->tx_epfd, d->stop_fd, TAG_STOP);
	if (!r)
		r = add_fd(d->rx_epfd, d->stop_fd, TAG_STOP);
	if (r)
		return r;
	/* Signals are the control thread's business (signalfd). */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	r = -pthread_create(&d->tx_thread, NULL, tx_main, d);
	d->tx_started = !r;
	if (!r) {
		r = -pthread_create(&d->rx_thread, NULL, rx_main, d);
		d->rx_started = !r;
	}
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
	if (d->tx_started)
		pthread_join(d->tx_thread, NULL);
	if (d->rx_started)
		pthread_join(d->rx_thread, NULL);
	d->tx_started = d->rx_started = false;
}
