/* SPDX-License-Identifier: MIT */
/*
 * One cwg interface in the kernel (link kind "wireguard"): the net_device,
 * the core device behind it, its UDP sockets and its workers. device.c
 * and socket.c own it; netlink.c configures it through the calls below.
 *
 * Lifetime and locks:
 *   - struct cwg_kdev lives in the net_device's private area
 *     (netdev_priv) and goes with it: made by ndo_init, stopped by
 *     ndo_uninit (after unregistration: no transmit; sockets closed,
 *     workers cancelled, dying set), and its core and workqueue freed
 *     by the destructor after the net_device's last reference. So a
 *     netlink request, or a dump spanning several messages, holds the
 *     net_device (dev_hold) and, under update_lock, checks dying before
 *     each use of the core.
 *   - update_lock (a mutex, taken after rtnl_lock) serialises every
 *     configuration change: netlink's SET_DEVICE, the listen port and
 *     fwmark, opening and closing the sockets; it is the in-tree
 *     module's device_update_lock. The core's own cfg lock is taken
 *     inside it (cwg_device_cfg_lock), never the other way round.
 *   - sock4/sock6 are published with RCU: the workers read them under
 *     rcu_read_lock_bh() and send; a socket is released only after it
 *     was unpublished, its sk_user_data cleared and synchronize_net()
 *     waited out every reader and every encap_rcv in flight.
 *   - core is created with the kdev and freed by uninit after the
 *     sockets are gone and the workers are cancelled, so no core call
 *     is in flight (the core's rule for cwg_device_free).
 */
#ifndef CWG_KMOD_KDEV_H
#define CWG_KMOD_KDEV_H

#include <linux/mutex.h>
#include <linux/netdevice.h>
#include <linux/skbuff.h>
#include <linux/workqueue.h>

struct cwg_device;
struct cwg_out;

struct cwg_kdev {
	struct net_device *dev;
	struct cwg_device *core;
	/* The namespace the interface was created in: its sockets live
	 * there even if the interface is moved (as in the in-tree
	 * module). NULL once that namespace is going away. */
	struct net *creating_net;
	struct list_head list; /* cwg_kdev_list, under rtnl */

	struct mutex update_lock;
	u16 incoming_port; /* what was asked, or what a port 0 got */
	u32 fwmark;
	/* Bumped by every change a dump could see (peers, keys, port):
	 * netlink's dump consistency check (NLM_F_DUMP_INTR). */
	u32 update_gen;
	/* A configuration batch of the core held open across a stream of
	 * SET requests, closed by the tick when they stop (device.c). */
	bool batch_open;
	unsigned long last_change; /* jiffies */

	struct socket __rcu *sock4;
	struct socket __rcu *sock6;

	struct workqueue_struct *wq;
	/* Plaintext from ndo_start_xmit, in order (one worker). */
	struct sk_buff_head tx_queue;
	struct work_struct tx_work;
	/* Datagrams from encap_rcv: data messages, and handshake
	 * messages (initiation, response, cookie) apart, so a flood of
	 * the expensive ones cannot hold back the data. */
	struct sk_buff_head rx_queue;
	struct work_struct rx_work;
	struct sk_buff_head hs_queue;
	struct work_struct hs_work;
	/* Bytes (truesize) in rx_queue and hs_queue: both are bounded in
	 * packets and in bytes (socket.c). */
	atomic_t rx_queued, hs_queued;
	struct delayed_work tick_work;
	/* Set by uninit under update_lock: the interface is being
	 * deleted. Whoever holds the net_device past that (a netlink
	 * request or dump) checks it under update_lock and stops with
	 * -ENODEV; the tick does not rearm. */
	bool dying;
};

/* The link kind, for telling our net_devices apart. */
extern struct rtnl_link_ops cwg_link_ops;

static inline bool cwg_kdev_is_ours(const struct net_device *dev)
{
	return dev->rtnl_link_ops == &cwg_link_ops;
}

/*
 * Configuration, each under rtnl_lock and kdev->update_lock:
 *   cwg_kdev_set_port: the listen port (0: the kernel picks one); when
 *     the interface is up the sockets are rebound at once, and on
 *     failure (-EADDRINUSE, say) the old ones stay. Every peer's sticky
 *     source is forgotten, as the in-tree module does on a new socket.
 *   cwg_kdev_set_fwmark: the mark on every datagram sent; sticky
 *     sources are forgotten.
 *   cwg_kdev_changed: after any change to keys or peers, so that a
 *     tick runs soon (the core wants one right after configuration;
 *     it comes once the changes pause for a moment, so that a stream
 *     of requests rebuilds the routing tables once) and dumps see a
 *     new generation.
 */
int cwg_kdev_set_port(struct cwg_kdev *kdev, u16 port);
void cwg_kdev_set_fwmark(struct cwg_kdev *kdev, u32 fwmark);
void cwg_kdev_changed(struct cwg_kdev *kdev);

/* socket.c: open both sockets on port (0: any), close them, and send
 * what a core call emitted (every packet on out->net is consumed). */
int cwg_socket_open(struct cwg_kdev *kdev, u16 port);
void cwg_socket_close(struct cwg_kdev *kdev);
void cwg_socket_send(struct cwg_kdev *kdev, struct cwg_out *out);

/* netlink.c: the "wireguard" generic-netlink family. */
int cwg_netlink_init(void);
void cwg_netlink_exit(void);

/* device.c: the link kind and the namespace hooks. */
int cwg_kdev_init(void);
void cwg_kdev_exit(void);

/* The core's clock: monotonic including suspend, in ns. */
u64 cwg_kdev_now(void);

#endif
