// SPDX-License-Identifier: MIT
/*
 * The UDP side of a cwg interface: one IPv4 and one IPv6 kernel socket on
 * the listen port, made tunnel sockets (udp_tunnel) so that every
 * datagram for them comes to encap_rcv, and the sending of what the core
 * emits, with the sticky source the core asks for and the fwmark.
 *
 * encap_rcv runs in softirq with the socket's RCU read side held: it
 * only classifies the datagram (data, or a handshake message that costs
 * a Diffie-Hellman) and queues it for the interface's workers, which
 * call the core (whose locks sleep). Each queue is bounded; what does
 * not fit is dropped and counted as rx_dropped, as the in-tree module
 * bounds its handshake queue.
 *
 * Lifetime (kdev.h): a socket's sk_user_data is the kdev; it is cleared
 * by udp_tunnel_sock_release only after the socket was unpublished from
 * kdev->sock4/sock6 and synchronize_net() waited out every reader, so
 * neither encap_rcv nor a sending worker can see a freed socket or a
 * kdev past its uninit (which closes the sockets first).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/inetdevice.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/netdevice.h>
#include <linux/rcupdate.h>
#include <linux/udp.h>
#include <asm/unaligned.h>
#include <net/addrconf.h>
#include <net/ip.h>
#include <net/ip6_route.h>
#include <net/ipv6.h>
#include <net/ipv6_stubs.h>
#include <net/route.h>
#include <net/udp_tunnel.h>

#include <cwg/cwg.h>

#include "kdev.h"
#include "kpkt.h"

/* Datagrams waiting for a worker, per queue: the in-tree module's bound
 * for queued handshakes (MAX_QUEUED_INCOMING_HANDSHAKES), used for data
 * too. */
#define CWG_RX_QUEUE_MAX 4096
/* And in bytes (skb truesize), so that large datagrams (64 KiB over
 * loopback, or reassembled fragments) cannot pin a gigabyte. */
#define CWG_RX_QUEUE_BYTES (16 << 20)

static int encap_rcv(struct sock *sk, struct sk_buff *skb)
{
	struct cwg_kdev *kdev = rcu_dereference_sk_user_data(sk);
	struct sk_buff_head *q;
	struct work_struct *w;
	atomic_t *bytes;
	bool ok;
	int off;

	if (unlikely(!kdev))
		goto drop;
	/* The headers stay where they are (the worker reads the endpoint
	 * from them); data moves past the UDP header to the message, of
	 * which at least the type word must be there. */
	off = skb_transport_offset(skb) + (int)sizeof(struct udphdr);
	if (off < (int)sizeof(struct udphdr) || !pskb_may_pull(skb, off + 4))
		goto drop;
	__skb_pull(skb, off);
	skb_dst_drop(skb);
	/* Only what can be a message is queued: the type word and the
	 * exact length of each handshake message, or a data message's
	 * minimum (as the in-tree module checks before queueing). */
	switch (get_unaligned_le32(skb->data)) {
	case 1:
		ok = skb->len == CWG_MSG_INITIATION_LEN;
		break;
	case 2:
		ok = skb->len == CWG_MSG_RESPONSE_LEN;
		break;
	case 3:
		ok = skb->len == CWG_MSG_COOKIE_REPLY_LEN;
		break;
	case 4:
		ok = skb->len >= CWG_MSG_DATA_MIN_LEN;
		break;
	default:
		ok = false;
	}
	if (!ok)
		goto drop_invalid;
	if (skb->data[0] == 4) {
		q = &kdev->rx_queue;
		w = &kdev->rx_work;
		bytes = &kdev->rx_queued;
	} else {
		q = &kdev->hs_queue;
		w = &kdev->hs_work;
		bytes = &kdev->hs_queued;
	}
	if (skb_queue_len(q) >= CWG_RX_QUEUE_MAX ||
	    atomic_read(bytes) >= CWG_RX_QUEUE_BYTES)
		goto drop_full;
	atomic_add(skb->truesize, bytes);
	skb_queue_tail(q, skb);
	queue_work(kdev->wq, w);
	return 0;
drop_invalid:
	DEV_STATS_INC(kdev->dev, rx_errors);
	goto drop;
drop_full:
	DEV_STATS_INC(kdev->dev, rx_dropped);
drop:
	kfree_skb(skb);
	return 0;
}

static void set_sock_opts(struct socket *sock)
{
	/* Sending happens from workers holding nothing that forbids
	 * sleeping, but under rcu_read_lock_bh: no sleeping allocation. */
	sock->sk->sk_allocation = GFP_ATOMIC;
	sock->sk->sk_sndbuf = INT_MAX;
	sk_set_memalloc(sock->sk);
}

static int open_one(struct cwg_kdev *kdev, struct net *net, int family,
		     u16 port, struct socket **out)
{
	struct udp_port_cfg cfg = {
		.family = family,
		.local_udp_port = htons(port),
		.use_udp_checksums = true,
		.use_udp6_tx_checksums = true,
		.use_udp6_rx_checksums = true,
		.ipv6_v6only = true,
	};
	struct udp_tunnel_sock_cfg tcfg = {
		.sk_user_data = kdev,
		.encap_type = 1,
		.encap_rcv = encap_rcv,
	};
	int ret;

	if (family == AF_INET)
		cfg.local_ip.s_addr = htonl(INADDR_ANY);
	else
		cfg.local_ip6 = in6addr_any;
	ret = udp_sock_create(net, &cfg, out);
	if (ret)
		return ret;
	set_sock_opts(*out);
	setup_udp_tunnel_sock(net, *out, &tcfg);
	return 0;
}

static void publish(struct cwg_kdev *kdev, struct socket *s4,
		    struct socket *s6)
{
	struct socket *o4, *o6;

	o4 = rcu_replace_pointer(kdev->sock4, s4,
				 lockdep_is_held(&kdev->update_lock));
	o6 = rcu_replace_pointer(kdev->sock6, s6,
				 lockdep_is_held(&kdev->update_lock));
	if (!o4 && !o6)
		return;
	/* No new encap_rcv reaches us through the old sockets, and every
	 * sender and encap_rcv in flight is done after this. */
	if (o4)
		rcu_assign_sk_user_data(o4->sk, NULL);
	if (o6)
		rcu_assign_sk_user_data(o6->sk, NULL);
	synchronize_net();
	/* udp_tunnel_sock_release clears sk_user_data and waits for RCU
	 * again before the socket goes. */
	if (o4)
		udp_tunnel_sock_release(o4);
	if (o6)
		udp_tunnel_sock_release(o6);
}

int cwg_socket_open(struct cwg_kdev *kdev, u16 port)
{
	struct net *net = kdev->creating_net;
	struct socket *s4 = NULL, *s6 = NULL;
	unsigned int tries = 0;
	u16 got;
	int ret;

	lockdep_assert_held(&kdev->update_lock);
	if (!net)
		return -ENONET;
retry:
	ret = open_one(kdev, net, AF_INET, port, &s4);
	if (ret)
		return ret;
	got = ntohs(inet_sk(s4->sk)->inet_sport);
	if (ipv6_mod_enabled()) {
		ret = open_one(kdev, net, AF_INET6, got, &s6);
		if (ret == -EAFNOSUPPORT) {
			s6 = NULL;
		} else if (ret) {
			udp_tunnel_sock_release(s4);
			s4 = NULL;
			/* a random port free for IPv4 but not for IPv6:
			 * another random one, as the in-tree module does */
			if (ret == -EADDRINUSE && !port && tries++ < 100)
				goto retry;
			return ret;
		}
	}
	publish(kdev, s4, s6);
	kdev->incoming_port = got;
	/* New sockets: the sticky sources were the old ones' business. */
	cwg_device_forget_sources(kdev->core, NULL, 0);
	return 0;
}

void cwg_socket_close(struct cwg_kdev *kdev)
{
	lockdep_assert_held(&kdev->update_lock);
	publish(kdev, NULL, NULL);
}

/* A sticky source we could not send from: the core forgets it for the
 * peers collected here after the batch (it takes the core's read lock,
 * so not while we hold RCU). */
struct forget {
	const struct cwg_peer *peers[16];
	u32 n;
	bool all;
};

static void forget_note(struct forget *f, const struct cwg_peer *peer)
{
	u32 i;

	for (i = 0; i < f->n; i++)
		if (f->peers[i] == peer)
			return;
	if (f->n < ARRAY_SIZE(f->peers))
		f->peers[f->n++] = peer;
	else
		f->all = true;
}

static int send4(struct cwg_kdev *kdev, struct sock *sk, struct sk_buff *skb,
		 const struct cwg_endpoint *ep, bool *forget)
{
	struct net *net = sock_net(sk);
	struct flowi4 fl = {
		.flowi4_mark = kdev->fwmark,
		.flowi4_proto = IPPROTO_UDP,
		.fl4_dport = htons(ep->port),
		.fl4_sport = inet_sk(sk)->inet_sport,
	};
	struct rtable *rt;

	memcpy(&fl.daddr, ep->addr, 4);
	memcpy(&fl.saddr, ep->src_addr, 4);
	if (fl.saddr && !inet_confirm_addr(net, NULL, 0, fl.saddr,
					   RT_SCOPE_HOST)) {
		fl.saddr = 0;
		*forget = true;
	}
	rt = ip_route_output_flow(net, &fl, sk);
	if (IS_ERR(rt) && fl.saddr) {
		/* the source is no longer usable toward this peer */
		fl.saddr = 0;
		*forget = true;
		rt = ip_route_output_flow(net, &fl, sk);
	}
	if (IS_ERR(rt))
		return PTR_ERR(rt);
	if (unlikely(rt->dst.dev == kdev->dev)) {
		/* the peer's endpoint routes through this interface */
		ip_rt_put(rt);
		return -ELOOP;
	}
	skb->ignore_df = 1;
	udp_tunnel_xmit_skb(rt, sk, skb, fl.saddr, fl.daddr, 0,
			    ip4_dst_hoplimit(&rt->dst), 0, fl.fl4_sport,
			    fl.fl4_dport, false, false);
	return 0;
}

#if IS_ENABLED(CONFIG_IPV6)
static int send6(struct cwg_kdev *kdev, struct sock *sk, struct sk_buff *skb,
		 const struct cwg_endpoint *ep, bool *forget)
{
	struct net *net = sock_net(sk);
	struct flowi6 fl = {
		.flowi6_mark = kdev->fwmark,
		.flowi6_proto = IPPROTO_UDP,
		.fl6_dport = htons(ep->port),
		.fl6_sport = inet_sk(sk)->inet_sport,
	};
	struct dst_entry *dst;

	memcpy(&fl.daddr, ep->addr, 16);
	memcpy(&fl.saddr, ep->src_addr, 16);
	if (ipv6_addr_type(&fl.daddr) & IPV6_ADDR_LINKLOCAL)
		fl.flowi6_oif = ep->scope_id;
	if (!ipv6_addr_any(&fl.saddr) &&
	    !ipv6_chk_addr(net, &fl.saddr, NULL, 0)) {
		fl.saddr = in6addr_any;
		*forget = true;
	}
	dst = ipv6_stub->ipv6_dst_lookup_flow(net, sk, &fl, NULL);
	if (IS_ERR(dst) && !ipv6_addr_any(&fl.saddr)) {
		fl.saddr = in6addr_any;
		*forget = true;
		dst = ipv6_stub->ipv6_dst_lookup_flow(net, sk, &fl, NULL);
	}
	if (IS_ERR(dst))
		return PTR_ERR(dst);
	if (unlikely(dst->dev == kdev->dev)) {
		dst_release(dst);
		return -ELOOP;
	}
	skb->ignore_df = 1;
	udp_tunnel6_xmit_skb(dst, sk, skb, skb->dev, &fl.saddr, &fl.daddr, 0,
			     ip6_dst_hoplimit(dst), 0, fl.fl6_sport,
			     fl.fl6_dport, false);
	return 0;
}
#endif

/* Every packet on out->net leaves through the socket of its family, or
 * is dropped (tx_errors) when there is none or no route. */
void cwg_socket_send(struct cwg_kdev *kdev, struct cwg_out *out)
{
	struct forget f = { .n = 0 };
	struct cwg_pkt *p;

	while ((p = cwg_pkt_list_pop(&out->net))) {
		const struct cwg_peer *peer = p->peer;
		struct cwg_endpoint ep = p->ep;
		struct sk_buff *skb = kpkt_take_skb(p);
		struct socket *sock;
		bool forget = false;
		int ret = -ENETUNREACH;

		kpkt_reset(skb, true);
		skb->dev = kdev->dev;
		skb->mark = kdev->fwmark;
		rcu_read_lock_bh();
		if (ep.family == 4) {
			sock = rcu_dereference_bh(kdev->sock4);
			if (sock)
				ret = send4(kdev, sock->sk, skb, &ep, &forget);
		}
#if IS_ENABLED(CONFIG_IPV6)
		else if (ep.family == 6) {
			sock = rcu_dereference_bh(kdev->sock6);
			if (sock)
				ret = send6(kdev, sock->sk, skb, &ep, &forget);
		}
#endif
		rcu_read_unlock_bh();
		if (ret) {
			DEV_STATS_INC(kdev->dev, tx_errors);
			kfree_skb(skb);
		}
		if (forget && peer)
			forget_note(&f, peer);
	}
	if (f.all)
		cwg_device_forget_sources(kdev->core, NULL, 0);
	else if (f.n)
		cwg_device_forget_sources(kdev->core, f.peers, f.n);
}
