// SPDX-License-Identifier: MIT
/*
 * The "wireguard" link kind of cwg.ko: a net_device per interface whose
 * traffic goes through the cwg core (kdev.h has the per-interface state
 * and its lifetime rules).
 *
 * The core's locks sleep, so nothing here calls it from the transmit
 * path or softirq: ndo_start_xmit and the socket's encap_rcv queue skbs
 * and kick the interface's workqueue, whose workers call the core in
 * process context:
 *   tx_work   plaintext, in the order it was queued (one work item never
 *             runs on two CPUs at once), through cwg_device_send;
 *   rx_work   data messages, through cwg_device_receive;
 *   hs_work   handshake and cookie messages, through cwg_device_receive,
 *             apart from the data so that a flood of initiations (a
 *             Diffie-Hellman each) holds back neither; its queue's length
 *             is the handshake backlog the core's under-load gate reads;
 *   tick_work every 100 ms, cwg_device_tick (and the wall clock offset).
 * All queues are bounded; what does not fit is dropped and counted.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/if_arp.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/netdevice.h>
#include <linux/rtnetlink.h>
#include <linux/timekeeping.h>
#include <linux/udp.h>
#include <net/ipv6.h>
#include <net/net_namespace.h>
#include <net/rtnetlink.h>

#include <cwg/cwg.h>

#include "kdev.h"
#include "kpkt.h"

/* Packets a worker hands the core at once. */
#define CWG_BATCH 64
/* Plaintext waiting for the tx worker. */
#define CWG_TX_QUEUE_MAX 1024

/* Every cwg interface, for the namespace hook; under rtnl. */
static LIST_HEAD(kdev_list);

/* Per receiving worker: the descriptors of one batch (kpkt.h). Kept out
 * of the worker's stack (CWG_BATCH * ~130 bytes) and out of the kdev, in
 * which rx and hs each have one. */
struct rx_slots {
	struct kpkt k[CWG_BATCH];
};

struct cwg_kdev_priv {
	struct cwg_kdev kdev;
	struct rx_slots rx_slots, hs_slots;
};

u64 cwg_kdev_now(void)
{
	return ktime_get_boottime_ns();
}

static void core_rng(void *ctx, uint8_t *buf, size_t len)
{
	get_random_bytes(buf, len);
}

/* Decrypted packets to the stack, as if received on the interface. */
static void deliver(struct cwg_kdev *kdev, struct cwg_pkt_list *tun)
{
	struct net_device *dev = kdev->dev;
	struct cwg_pkt *p;

	/* BH off: the per-CPU counters below are not updated atomically,
	 * and netif_rx's backlog is per CPU too */
	local_bh_disable();
	while ((p = cwg_pkt_list_pop(tun))) {
		struct sk_buff *skb = kpkt_take_skb(p);
		unsigned int len = skb->len;

		/* the core let through only whole IPv4 or IPv6 packets
		 * whose source the sending peer may use */
		kpkt_reset(skb, false);
		skb->dev = dev;
		skb->protocol = (skb->data[0] >> 4) == 4 ? htons(ETH_P_IP) :
							     htons(ETH_P_IPV6);
		skb->pkt_type = PACKET_HOST;
		skb_probe_transport_header(skb);
		/* authenticated end to end by the AEAD */
		skb->ip_summed = CHECKSUM_UNNECESSARY;
		skb->csum_level = ~0;
		if (netif_rx(skb) == NET_RX_SUCCESS)
			dev_sw_netstats_rx_add(dev, len);
		else
			DEV_STATS_INC(dev, rx_dropped);
	}
	local_bh_enable();
}

/* Everything a core call emitted: datagrams out, packets in. */
static void emit(struct cwg_kdev *kdev, struct cwg_out *out)
{
	cwg_socket_send(kdev, out);
	deliver(kdev, &out->tun);
}

static void tx_work(struct work_struct *w)
{
	struct cwg_kdev *kdev = container_of(w, struct cwg_kdev, tx_work);
	struct cwg_pkt_list in;
	struct cwg_out out;
	struct sk_buff *skb;
	struct cwg_pkt *p;

	for (;;) {
		cwg_pkt_list_init(&in);
		while (in.count < CWG_BATCH &&
		       (skb = skb_dequeue(&kdev->tx_queue))) {
			p = kpkt_from_tx(skb);
			if (p)
				cwg_pkt_list_append(&in, p);
			else
				DEV_STATS_INC(kdev->dev, tx_dropped);
		}
		if (!in.count)
			break;
		cwg_out_init(&out);
		cwg_device_send(kdev->core, &in, cwg_kdev_now(), &out);
		emit(kdev, &out);
		cond_resched();
	}
}

/* The endpoint a datagram came from, read off its IP and UDP headers:
 * the source, and the local address and interface it came to (the
 * sticky source of replies). */
static bool endpoint_of(struct sk_buff *skb, struct cwg_endpoint *ep)
{
	const struct udphdr *uh = udp_hdr(skb);

	memset(ep, 0, sizeof(*ep));
	ep->port = ntohs(uh->source);
	ep->src_ifindex = skb->skb_iif;
	if (skb->protocol == htons(ETH_P_IP)) {
		const struct iphdr *ih = ip_hdr(skb);

		ep->family = 4;
		memcpy(ep->addr, &ih->saddr, 4);
		memcpy(ep->src_addr, &ih->daddr, 4);
		return true;
	}
	if (skb->protocol == htons(ETH_P_IPV6)) {
		const struct ipv6hdr *ih = ipv6_hdr(skb);

		ep->family = 6;
		memcpy(ep->addr, &ih->saddr, 16);
		memcpy(ep->src_addr, &ih->daddr, 16);
		if (ipv6_addr_type(&ih->saddr) & IPV6_ADDR_LINKLOCAL)
			ep->scope_id = skb->skb_iif;
		return true;
	}
	return false;
}

static void rx_run(struct cwg_kdev *kdev, struct sk_buff_head *q,
		   atomic_t *queued, struct rx_slots *slots, bool handshakes)
{
	struct cwg_endpoint ep;
	struct cwg_pkt_list in;
	struct cwg_out out;
	struct sk_buff *skb;
	struct cwg_pkt *p;
	unsigned int i;

	for (;;) {
		cwg_pkt_list_init(&in);
		i = 0;
		if (handshakes)
			cwg_device_set_handshake_backlog(
				kdev->core, skb_queue_len(q), cwg_kdev_now());
		while (i < CWG_BATCH && (skb = skb_dequeue(q))) {
			atomic_sub(skb->truesize, queued);
			if (!endpoint_of(skb, &ep)) {
				kfree_skb(skb);
				continue;
			}
			p = kpkt_from_rx(&slots->k[i], skb, &ep);
			if (!p) {
				DEV_STATS_INC(kdev->dev, rx_dropped);
				continue;
			}
			cwg_pkt_list_append(&in, p);
			i++;
		}
		if (!in.count)
			break;
		cwg_out_init(&out);
		cwg_device_receive(kdev->core, &in, cwg_kdev_now(), &out);
		emit(kdev, &out);
		/* The core keeps no datagram past the call: each was freed
		 * or handed back, and so every slot is empty again. */
		for (i = 0; i < CWG_BATCH; i++)
			if (WARN_ON_ONCE(slots->k[i].skb)) {
				kfree_skb(slots->k[i].skb);
				slots->k[i].skb = NULL;
			}
		cond_resched();
	}
}

static void rx_work(struct work_struct *w)
{
	struct cwg_kdev *kdev = container_of(w, struct cwg_kdev, rx_work);
	struct cwg_kdev_priv *priv = container_of(kdev, struct cwg_kdev_priv,
						  kdev);

	rx_run(kdev, &kdev->rx_queue, &kdev->rx_queued, &priv->rx_slots,
	       false);
}

static void hs_work(struct work_struct *w)
{
	struct cwg_kdev *kdev = container_of(w, struct cwg_kdev, hs_work);
	struct cwg_kdev_priv *priv = container_of(kdev, struct cwg_kdev_priv,
						  kdev);

	rx_run(kdev, &kdev->hs_queue, &kdev->hs_queued, &priv->hs_slots,
	       true);
}

/*
 * `wg setconf` of many allowed IPs arrives as many SET requests, each a
 * configuration batch of its own; a tick between two of them would
 * rebuild the routing tables each time. So the first change opens a
 * batch of the interface's, and the tick closes it once no change came
 * for CWG_CFG_QUIET (the core bounds an open batch at
 * CWG_CFG_BATCH_MAX_NS anyway). batch_open and last_change are under
 * update_lock.
 */
#define CWG_CFG_QUIET (HZ / 50)

static void tick_work(struct work_struct *w)
{
	struct cwg_kdev *kdev =
		container_of(to_delayed_work(w), struct cwg_kdev, tick_work);
	u64 now = cwg_kdev_now();
	struct cwg_out out;

	mutex_lock(&kdev->update_lock);
	if (kdev->batch_open &&
	    time_after_eq(jiffies, kdev->last_change + CWG_CFG_QUIET)) {
		cwg_device_cfg_batch_end(kdev->core);
		kdev->batch_open = false;
	}
	mutex_unlock(&kdev->update_lock);
	/* Down, the interface sends nothing, as the in-tree module stops
	 * its peers' timers; the first tick after up catches up. */
	if (netif_running(kdev->dev)) {
		cwg_device_set_wall_offset(kdev->core,
					   (s64)(ktime_get_real_ns() - now));
		cwg_out_init(&out);
		cwg_device_tick(kdev->core, now, &out);
		emit(kdev, &out);
	}
	if (!READ_ONCE(kdev->dying))
		queue_delayed_work(kdev->wq, &kdev->tick_work,
				   kdev->batch_open ? CWG_CFG_QUIET : HZ / 10);
}

void cwg_kdev_changed(struct cwg_kdev *kdev)
{
	lockdep_assert_held(&kdev->update_lock);
	kdev->update_gen++;
	if (kdev->dying)
		return;
	if (!kdev->batch_open) {
		cwg_device_cfg_batch_begin(kdev->core);
		kdev->batch_open = true;
	}
	kdev->last_change = jiffies;
	/* Never later than it is due: a stream of requests must not hold
	 * the timers back (the tick runs every CWG_CFG_QUIET meanwhile,
	 * leaving the batch open). */
	queue_delayed_work(kdev->wq, &kdev->tick_work, CWG_CFG_QUIET);
}

int cwg_kdev_set_port(struct cwg_kdev *kdev, u16 port)
{
	ASSERT_RTNL();
	lockdep_assert_held(&kdev->update_lock);
	if (kdev->incoming_port == port)
		return 0;
	kdev->update_gen++;
	if (!netif_running(kdev->dev)) {
		kdev->incoming_port = port;
		cwg_device_forget_sources(kdev->core, NULL, 0);
		return 0;
	}
	return cwg_socket_open(kdev, port);
}

void cwg_kdev_set_fwmark(struct cwg_kdev *kdev, u32 fwmark)
{
	lockdep_assert_held(&kdev->update_lock);
	/* the in-tree module forgets the sources even for the same mark */
	kdev->fwmark = fwmark;
	kdev->update_gen++;
	cwg_device_forget_sources(kdev->core, NULL, 0);
}

static netdev_tx_t kdev_xmit(struct sk_buff *skb, struct net_device *dev)
{
	struct cwg_kdev *kdev = netdev_priv(dev);

	/* The route that brought the packet here is of no use past this
	 * point; the worker may run after it is gone. */
	skb_dst_drop(skb);
	/* the core encrypts in place: a shared skb (pktgen) gets a clone,
	 * which kpkt_from_tx then unshares */
	skb = skb_share_check(skb, GFP_ATOMIC);
	if (unlikely(!skb)) {
		DEV_STATS_INC(dev, tx_dropped);
		return NETDEV_TX_OK;
	}
	if (unlikely(skb_queue_len(&kdev->tx_queue) >= CWG_TX_QUEUE_MAX)) {
		DEV_STATS_INC(dev, tx_dropped);
		kfree_skb(skb);
		return NETDEV_TX_OK;
	}
	skb_queue_tail(&kdev->tx_queue, skb);
	queue_work(kdev->wq, &kdev->tx_work);
	return NETDEV_TX_OK;
}

static int kdev_open(struct net_device *dev)
{
	struct cwg_kdev *kdev = netdev_priv(dev);
	int ret;

	mutex_lock(&kdev->update_lock);
	ret = cwg_socket_open(kdev, kdev->incoming_port);
	mutex_unlock(&kdev->update_lock);
	if (!ret)
		mod_delayed_work(kdev->wq, &kdev->tick_work, 0);
	return ret;
}

/* Down: the sockets go, and so does whatever they or the stack queued,
 * so that nothing is delivered to an interface that is down (or, on
 * deletion, after the stack flushed its backlogs). The workers take
 * neither rtnl nor update_lock, so waiting for them here is safe. */
static void kdev_quiesce(struct cwg_kdev *kdev)
{
	cancel_work_sync(&kdev->tx_work);
	cancel_work_sync(&kdev->rx_work);
	cancel_work_sync(&kdev->hs_work);
	skb_queue_purge(&kdev->tx_queue);
	skb_queue_purge(&kdev->rx_queue);
	skb_queue_purge(&kdev->hs_queue);
	atomic_set(&kdev->rx_queued, 0);
	atomic_set(&kdev->hs_queued, 0);
}

static int kdev_stop(struct net_device *dev)
{
	struct cwg_kdev *kdev = netdev_priv(dev);

	mutex_lock(&kdev->update_lock);
	cwg_socket_close(kdev);
	mutex_unlock(&kdev->update_lock);
	kdev_quiesce(kdev);
	return 0;
}

static int kdev_init(struct net_device *dev)
{
	struct cwg_kdev *kdev = netdev_priv(dev);

	dev->tstats = netdev_alloc_pcpu_stats(struct pcpu_sw_netstats);
	if (!dev->tstats)
		return -ENOMEM;
	kdev->wq = alloc_workqueue("cwg-%s", WQ_UNBOUND | WQ_MEM_RECLAIM, 0,
				   dev->name);
	if (!kdev->wq)
		goto fail;
	kdev->core = cwg_device_new(core_rng, NULL);
	if (!kdev->core)
		goto fail;
	cwg_device_set_mtu(kdev->core, dev->mtu);
	list_add(&kdev->list, &kdev_list);
	queue_delayed_work(kdev->wq, &kdev->tick_work, 0);
	return 0;
fail:
	if (kdev->wq)
		destroy_workqueue(kdev->wq);
	kdev->wq = NULL;
	free_percpu(dev->tstats);
	dev->tstats = NULL;
	return -ENOMEM;
}

/*
 * After unregistration (dev_close already ran kdev_stop): no transmit
 * comes any more. The order is the lifetime rule of kdev.h: dying set
 * under update_lock (so netlink, which may still hold the net_device,
 * touches nothing after), the sockets gone (no encap_rcv after
 * synchronize_net), every worker cancelled, their queues emptied. The
 * core and the workqueue stay until kdev_destruct, after the last
 * reference to the net_device is dropped.
 */
static void kdev_uninit(struct net_device *dev)
{
	struct cwg_kdev *kdev = netdev_priv(dev);

	ASSERT_RTNL();
	list_del(&kdev->list);
	mutex_lock(&kdev->update_lock);
	WRITE_ONCE(kdev->dying, true);
	cwg_socket_close(kdev);
	mutex_unlock(&kdev->update_lock);
	cancel_delayed_work_sync(&kdev->tick_work);
	kdev_quiesce(kdev);
}

/* With the net_device, after its last reference: no core call can be in
 * flight (the workers were cancelled and nothing requeues them once
 * dying is set; netlink checks dying under update_lock). */
static void kdev_destruct(struct net_device *dev)
{
	struct cwg_kdev *kdev = netdev_priv(dev);

	if (kdev->wq)
		destroy_workqueue(kdev->wq);
	cwg_device_free(kdev->core);
	free_percpu(dev->tstats);
}

static int kdev_change_mtu(struct net_device *dev, int mtu)
{
	struct cwg_kdev *kdev = netdev_priv(dev);

	dev->mtu = mtu;
	cwg_device_set_mtu(kdev->core, mtu);
	return 0;
}

static const struct net_device_ops kdev_ops = {
	.ndo_init = kdev_init,
	.ndo_uninit = kdev_uninit,
	.ndo_open = kdev_open,
	.ndo_stop = kdev_stop,
	.ndo_start_xmit = kdev_xmit,
	.ndo_change_mtu = kdev_change_mtu,
	.ndo_get_stats64 = dev_get_tstats64,
};

static void kdev_setup(struct net_device *dev)
{
	struct cwg_kdev *kdev = netdev_priv(dev);

	/* As the in-tree module: 1420 leaves room for IPv6, UDP and the
	 * data message's header and tag within a 1500-byte path. */
	dev->netdev_ops = &kdev_ops;
	dev->header_ops = NULL;
	dev->type = ARPHRD_NONE;
	dev->flags = IFF_POINTOPOINT | IFF_NOARP;
	dev->priv_flags |= IFF_NO_QUEUE;
	dev->features |= NETIF_F_LLTX;
	dev->hard_header_len = 0;
	dev->addr_len = 0;
	dev->needed_headroom = KPKT_HEADROOM + KPKT_OUTER_HEADROOM;
	dev->needed_tailroom = CWG_DATA_TAILROOM;
	dev->mtu = ETH_DATA_LEN - CWG_MSG_DATA_MIN_LEN -
		   sizeof(struct udphdr) - sizeof(struct ipv6hdr);
	dev->min_mtu = 0;
	dev->max_mtu = 65535 - CWG_MSG_DATA_MIN_LEN - sizeof(struct udphdr) -
		       sizeof(struct iphdr);
	dev->needs_free_netdev = true;
	dev->priv_destructor = kdev_destruct;

	kdev->dev = dev;
	mutex_init(&kdev->update_lock);
	skb_queue_head_init(&kdev->tx_queue);
	skb_queue_head_init(&kdev->rx_queue);
	skb_queue_head_init(&kdev->hs_queue);
	INIT_WORK(&kdev->tx_work, tx_work);
	INIT_WORK(&kdev->rx_work, rx_work);
	INIT_WORK(&kdev->hs_work, hs_work);
	INIT_DELAYED_WORK(&kdev->tick_work, tick_work);
	INIT_LIST_HEAD(&kdev->list);
}

static int kdev_newlink(struct net *src_net, struct net_device *dev,
			struct nlattr *tb[], struct nlattr *data[],
			struct netlink_ext_ack *extack)
{
	struct cwg_kdev *kdev = netdev_priv(dev);

	/* The sockets live where the interface was made, wherever it is
	 * moved afterwards (the in-tree module's "birthplace"). */
	kdev->creating_net = src_net;
	return register_netdevice(dev);
}

struct rtnl_link_ops cwg_link_ops __read_mostly = {
	.kind = "wireguard",
	.priv_size = sizeof(struct cwg_kdev_priv),
	.setup = kdev_setup,
	.newlink = kdev_newlink,
};

/* A namespace going away takes its sockets along: interfaces born there
 * (and moved elsewhere) lose theirs; interfaces still in it are deleted
 * by the namespace's own teardown. */
static void kdev_netns_pre_exit(struct net *net)
{
	struct cwg_kdev *kdev;

	rtnl_lock();
	list_for_each_entry(kdev, &kdev_list, list) {
		if (kdev->creating_net != net)
			continue;
		netif_carrier_off(kdev->dev);
		mutex_lock(&kdev->update_lock);
		kdev->creating_net = NULL;
		cwg_socket_close(kdev);
		mutex_unlock(&kdev->update_lock);
	}
	rtnl_unlock();
}

static struct pernet_operations kdev_net_ops = {
	.pre_exit = kdev_netns_pre_exit,
};

int cwg_kdev_init(void)
{
	int ret = register_pernet_device(&kdev_net_ops);

	if (ret)
		return ret;
	ret = rtnl_link_register(&cwg_link_ops);
	if (ret)
		unregister_pernet_device(&kdev_net_ops);
	return ret;
}

void cwg_kdev_exit(void)
{
	/* deletes every interface of the kind, under rtnl */
	rtnl_link_unregister(&cwg_link_ops);
	unregister_pernet_device(&kdev_net_ops);
}
