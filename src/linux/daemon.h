/* SPDX-License-Identifier: MIT */
/*
 * The running daemon: one control thread (main) and, for each direction,
 * nthreads data threads (one per two CPUs by default, CWG_THREADS
 * otherwise).
 *
 *   TX threads  TUN reads, a batch at a time -> cwg_device_send_prepare
 *               (in read order) -> cwg_device_send_seal (in parallel) ->
 *               UDP (in read order); also the staged packets a handshake
 *               or timer released, when flush_fd says so
 *   RX threads  UDP recvmmsg -> cwg_device_receive -> TUN writes, UDP
 *   control     UAPI clients, timers (cwg_device_tick), signals, MTU and
 *               socket-file watch, start-up and shutdown
 *
 * The threads of one direction share an epoll set (tx_epfd or rx_epfd)
 * and take batches in turn; each seals or opens its own batch in parallel
 * with the others, and tx_order / rx_order (linux/order.h) make the
 * batches leave in the order they were taken, so no flow is reordered.
 * Each data thread owns its scratch (struct cwg_udp_io) and the packets
 * it is working on; the threads share only the device (which locks
 * itself), the UDP sockets (udp.lock), the packet pool (its own lock) and
 * the order state. Stopping: the control thread sets `stopping` and makes
 * stop_fd readable; every data thread watches it. A data thread that
 * finds the interface gone sets tun_dead and makes notify_fd readable for
 * the control thread.
 */
#ifndef CWG_LINUX_DAEMON_H
#define CWG_LINUX_DAEMON_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <cwg/cwg.h>
#include "order.h"
#include "tun.h"
#include "udp.h"
#include "uapi_server.h"

/* Data threads per direction, at most. Counters follow the send order,
 * but a batch taken later may be opened before an earlier one: with at
 * most 8 threads, what the core sees out of order stays thousands of
 * messages inside its 8128-message replay window. */
#define CWG_MAX_DATA_THREADS 8

struct cwg_daemon;

struct cwg_worker {
	struct cwg_daemon *d;
	pthread_t thread;
	uint32_t index;
	bool started;
};

struct cwg_daemon {
	const char *ifname;
	struct cwg_device *dev;
	struct cwg_tun tun;
	struct cwg_udp udp;
	struct cwg_uapi_server uapi;
	struct cwg_uapi_host host;
	int ctl_epfd;
	int tx_epfd;
	int rx_epfd;
	int stop_fd;
	int notify_fd;
	int flush_fd;		/* readable: cwg_device_flush is due */
	bool stopping;		/* atomic */
	bool tun_dead;		/* atomic */
	uint32_t nthreads;	/* data threads per direction */
	struct cwg_worker tx[CWG_MAX_DATA_THREADS];
	struct cwg_worker rx[CWG_MAX_DATA_THREADS];
	struct cwg_order tx_order;
	struct cwg_order rx_order;
	/* Each UDP socket's handshake backlog (cwg_backlog_note), under
	 * rx_order's in lock. */
	uint32_t hs_backlog[2];
	/* Coalesced TUN writes and the packets they held, summed by the RX
	 * threads as they end, for the exit log. */
	uint64_t rx_tcp_writes, rx_tcp_segs, rx_udp_writes, rx_udp_segs;
	/* TUN packets the TX threads could not segment or buffer. */
	uint64_t tx_offload_drops;	/* atomic */
	/* Configured since freed memory was last returned (control
	 * thread). */
	bool trim_due;
};

uint64_t cwg_now_ns(void);
/* Data threads per direction for CWG_THREADS=env (NULL or empty: one per
 * two CPUs this process may run on, at least 1 and at most
 * CWG_MAX_DATA_THREADS); -1 when env is not a number from 1 to
 * CWG_MAX_DATA_THREADS. */
int cwg_datapath_threads(const char *env);
/* 0 or a negative errno; the threads run until cwg_datapath_stop. */
int cwg_datapath_start(struct cwg_daemon *d);
/* After a core call set out.flush: a TX thread will flush, in order. */
void cwg_datapath_flush_soon(struct cwg_daemon *d);
void cwg_datapath_stop(struct cwg_daemon *d);

#endif
