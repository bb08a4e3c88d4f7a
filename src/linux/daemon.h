/* SPDX-License-Identifier: MIT */
/*
 * The running daemon: one control thread (main) and two data threads.
 *
 *   TX thread   TUN reads, a batch at a time -> cwg_device_send -> UDP
 *   RX thread   UDP recvmmsg -> cwg_device_receive -> TUN writes, UDP
 *   control     UAPI clients, timers (cwg_device_tick), signals, MTU and
 *               socket-file watch, start-up and shutdown
 *
 * Each data thread owns its epoll set, its scratch (struct cwg_udp_io) and
 * the packets it is working on; they share only the device (which locks
 * itself), the UDP sockets (udp.lock) and the packet pool (its own lock).
 * Stopping: the control thread sets `stopping` and makes stop_fd readable;
 * both data threads watch it. A data thread that finds the interface gone
 * sets tun_dead and makes notify_fd readable for the control thread.
 */
#ifndef CWG_LINUX_DAEMON_H
#define CWG_LINUX_DAEMON_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/device.h"
#include "linux/tun.h"
#include "linux/udp.h"
#include "linux/uapi_server.h"

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
	bool stopping;		/* atomic */
	bool tun_dead;		/* atomic */
	pthread_t tx_thread;
	pthread_t rx_thread;
	bool tx_started;
	bool rx_started;
	/* TUN packets the TX thread could not segment or buffer. */
	uint64_t tx_offload_drops;	/* atomic */
};

uint64_t cwg_now_ns(void);
/* 0 or a negative errno; the threads run until cwg_datapath_stop. */
int cwg_datapath_start(struct cwg_daemon *d);
void cwg_datapath_stop(struct cwg_daemon *d);

#endif
