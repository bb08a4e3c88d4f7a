// SPDX-License-Identifier: MIT
/*
 * The "wireguard" generic-netlink family of cwg.ko: the commands,
 * attributes, flags and errors of the in-tree module
 * (<uapi/linux/wireguard.h>), so that stock `wg` configures a cwg
 * interface as it configures an in-tree one.
 *
 *   WG_CMD_GET_DEVICE  a dump: the device's keys, port and fwmark, then
 *                      its peers, each with its allowed IPs; spread over
 *                      as many messages as it takes.
 *   WG_CMD_SET_DEVICE  a doit: applies a request in the in-tree order
 *                      (flags, permission, fwmark, port, peer replacement,
 *                      private key, peers), keeping whatever was applied
 *                      before a part that fails, as the in-tree does.
 *
 * Errors a caller sees, and where they come from (the in-tree module
 * gives the same for the same input; tools/wgnl-probe.c checks each):
 *   the policies below, through genetlink's strict parsing: -EINVAL
 *     (unknown attribute, wrong length of a fixed-size integer, missing
 *     or unexpected NLA_F_NESTED, bytes left over), -ERANGE (a key or an
 *     endpoint of the wrong size, a nest shorter than its header);
 *   find_kdev: -EBADR (not exactly one of ifindex and ifname), -ENODEV
 *     (no such interface in the caller's namespace), -EOPNOTSUPP (not a
 *     cwg interface);
 *   set_device: -EOPNOTSUPP (unknown device flag), -EPERM (port or
 *     fwmark without CAP_NET_ADMIN where the interface was created),
 *     whatever cwg_kdev_set_port returns;
 *   set_peer: -EINVAL (no public key), -EOPNOTSUPP (unknown peer flag),
 *     -EPFNOSUPPORT (protocol version other than 1), -ENOMEM;
 *   set_allowedip: -EINVAL (an attribute missing, a family other than
 *     AF_INET/AF_INET6, a cidr past the family's width, an address whose
 *     length is not the family's).
 *
 * Where cwg's core (or this file) makes it differ from the in-tree
 * module; none of it changes what `wg` configures:
 *   - an endpoint is kept as family, port, address and (IPv6) scope id:
 *     a GET gives sin_zero and sin6_flowinfo back as zeros, where the
 *     in-tree echoes whatever bytes were set;
 *   - an allowed IP sent again for the peer that holds it keeps its
 *     place in the peer's list; the in-tree moves it to the end (so
 *     `wg show` may list a peer's prefixes in another order after a
 *     `wg addconf` that repeats some);
 *   - a private key equal to the current one once clamped is not set
 *     again (the in-tree compares the unclamped bytes, so an unclamped
 *     spelling of the same key ends every session);
 *   - the core has no cap on the number of peers (the in-tree refuses
 *     the 2^20th with -ENOSPC);
 *   - a keepalive switched on, staged packets after a new key or peer:
 *     sent by the next tick, which cwg_kdev_changed brings forward,
 *     rather than from within the request;
 *   - a request for an interface being deleted fails with -ENODEV, and
 *     so does the rest of a dump (the in-tree configures and dumps the
 *     dying device);
 *   - a dump resumes at a peer by its public key and within a peer by
 *     the number of allowed IPs sent (the in-tree keeps pointers to the
 *     peer and the trie node, and skips the rest of a peer's prefixes
 *     when they changed meanwhile); a dump whose generation changed is
 *     flagged NLM_F_DUMP_INTR as in-tree, also when its first message
 *     was made at generation 0 (which the in-tree cannot flag).
 */
#include <linux/bug.h>
#include <linux/capability.h>
#include <linux/if.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <linux/math64.h>
#include <linux/mm.h>
#include <linux/netdevice.h>
#include <linux/rtnetlink.h>
#include <linux/slab.h>
#include <linux/socket.h>
#include <linux/string.h>
#include <linux/time64.h>
#include <crypto/algapi.h>
#include <net/genetlink.h>
#include <net/netlink.h>
#include <net/sock.h>
#include <uapi/linux/wireguard.h>

#include <cwg/cwg.h>

#include "kdev.h"

static struct genl_family cwg_genl_family;

/* The in-tree policies, attribute for attribute: genetlink validates
 * the top level against device_policy before a command runs; the peers
 * and allowed IPs are parsed (strictly) one by one as they are applied. */
static const struct nla_policy device_policy[WGDEVICE_A_MAX + 1] = {
	[WGDEVICE_A_IFINDEX] = { .type = NLA_U32 },
	[WGDEVICE_A_IFNAME] = { .type = NLA_NUL_STRING, .len = IFNAMSIZ - 1 },
	[WGDEVICE_A_PRIVATE_KEY] = NLA_POLICY_EXACT_LEN(WG_KEY_LEN),
	[WGDEVICE_A_PUBLIC_KEY] = NLA_POLICY_EXACT_LEN(WG_KEY_LEN),
	[WGDEVICE_A_FLAGS] = { .type = NLA_U32 },
	[WGDEVICE_A_LISTEN_PORT] = { .type = NLA_U16 },
	[WGDEVICE_A_FWMARK] = { .type = NLA_U32 },
	[WGDEVICE_A_PEERS] = { .type = NLA_NESTED },
};

static const struct nla_policy peer_policy[WGPEER_A_MAX + 1] = {
	[WGPEER_A_PUBLIC_KEY] = NLA_POLICY_EXACT_LEN(WG_KEY_LEN),
	[WGPEER_A_PRESHARED_KEY] = NLA_POLICY_EXACT_LEN(WG_KEY_LEN),
	[WGPEER_A_FLAGS] = { .type = NLA_U32 },
	[WGPEER_A_ENDPOINT] = NLA_POLICY_MIN_LEN(sizeof(struct sockaddr)),
	[WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL] = { .type = NLA_U16 },
	[WGPEER_A_LAST_HANDSHAKE_TIME] =
		NLA_POLICY_EXACT_LEN(sizeof(struct __kernel_timespec)),
	[WGPEER_A_RX_BYTES] = { .type = NLA_U64 },
	[WGPEER_A_TX_BYTES] = { .type = NLA_U64 },
	[WGPEER_A_ALLOWEDIPS] = { .type = NLA_NESTED },
	[WGPEER_A_PROTOCOL_VERSION] = { .type = NLA_U32 },
};

static const struct nla_policy allowedip_policy[WGALLOWEDIP_A_MAX + 1] = {
	[WGALLOWEDIP_A_FAMILY] = { .type = NLA_U16 },
	[WGALLOWEDIP_A_IPADDR] = NLA_POLICY_MIN_LEN(sizeof(struct in_addr)),
	[WGALLOWEDIP_A_CIDR_MASK] = { .type = NLA_U8 },
};

/* The core's errors are negative CWG_E* values; the kernel's spelling
 * of each (equal numbers on Linux, but the core does not promise it). */
static int kerr(int ret)
{
	switch (ret) {
	case 0:
		return 0;
	case -CWG_ENOMEM:
		return -ENOMEM;
	case -CWG_EEXIST:
		return -EEXIST;
	case -CWG_ENOSPC:
		return -ENOSPC;
	default:
		return -EINVAL;
	}
}

/*
 * The interface a request names: exactly one of ifindex and ifname, in
 * the namespace of the socket the request came from, and of our kind.
 * Returns it held (dev_hold), or the in-tree module's error for each
 * case: -EBADR, -ENODEV, -EOPNOTSUPP.
 */
static struct cwg_kdev *find_kdev(struct sk_buff *skb, struct nlattr **attrs)
{
	struct net *net = sock_net(skb->sk);
	struct net_device *dev;

	if (!attrs[WGDEVICE_A_IFINDEX] == !attrs[WGDEVICE_A_IFNAME])
		return ERR_PTR(-EBADR);
	if (attrs[WGDEVICE_A_IFINDEX])
		dev = dev_get_by_index(net,
				       (int)nla_get_u32(attrs[WGDEVICE_A_IFINDEX]));
	else
		dev = dev_get_by_name(net, nla_data(attrs[WGDEVICE_A_IFNAME]));
	if (!dev)
		return ERR_PTR(-ENODEV);
	if (!cwg_kdev_is_ours(dev)) {
		dev_put(dev);
		return ERR_PTR(-EOPNOTSUPP);
	}
	return netdev_priv(dev);
}

/*
 * Under rtnl and update_lock: the interface is still registered and its
 * uninit (under rtnl, setting dying under update_lock) has not begun, so
 * the core is there and stays while we hold both.
 */
static bool kdev_alive(struct cwg_kdev *kdev)
{
	ASSERT_RTNL();
	lockdep_assert_held(&kdev->update_lock);
	return kdev->dev->reg_state == NETREG_REGISTERED &&
	       !READ_ONCE(kdev->dying) && kdev->core;
}

/* ---- WG_CMD_GET_DEVICE ---- */

/*
 * A peer's allowed IPs go out of chunks copied from the core. One peer
 * may take hundreds of messages, and the core walks a peer's prefixes
 * only from the first, so resuming each message by walking past those
 * already sent would cost the square of their number (130,560 prefixes
 * in messages of ~130: 63 million steps, 6.5 s under qemu's TCG). A
 * chunk costs one such walk per DUMP_CHUNK prefixes sent, in bounded
 * memory (72 KiB).
 */
#define DUMP_CHUNK 4096

struct dump_ip {
	u8 family; /* 4 or 6, as the core says */
	u8 cidr;
	u8 addr[16];
};

/*
 * Where a dump stands between two of its messages (cb->ctx holds a
 * pointer to it). Peers are named by public key, never by pointer: a
 * struct cwg_peer is valid only under the core's cfg lock, which is not
 * held between messages.
 */
struct dump_state {
	struct cwg_kdev *kdev; /* held (dev_hold) from start to done */
	bool started;	       /* the device's own attributes went out */
	bool have_cursor;      /* else: from the first peer */
	bool in_peer;	       /* the cursor peer's fields went out */
	u8 cursor[WG_KEY_LEN]; /* the first peer not sent completely */
	u32 ips_sent;	       /* of the cursor peer's prefixes */
	/* Prefixes [chunk_start, chunk_start + chunk_len) of the cursor
	 * peer; fewer than DUMP_CHUNK: its list ended there. */
	bool chunk_valid;
	u32 chunk_start, chunk_len;
	struct dump_ip *chunk;
	/* The peer being put, copied under the core's lock: here rather
	 * than on the stack (~140 bytes); its preshared key is wiped after
	 * each use. */
	struct cwg_peer_info pi;
};

static struct dump_state **dump_slot(struct netlink_callback *cb)
{
	BUILD_BUG_ON(sizeof(struct dump_state *) > sizeof(cb->ctx));
	return (struct dump_state **)cb->ctx;
}

static int get_start(struct netlink_callback *cb)
{
	struct cwg_kdev *kdev =
		find_kdev(cb->skb, genl_dumpit_info(cb)->attrs);
	struct dump_state *st;

	if (IS_ERR(kdev))
		return PTR_ERR(kdev);
	st = kzalloc(sizeof(*st), GFP_KERNEL);
	if (!st) {
		dev_put(kdev->dev);
		return -ENOMEM;
	}
	st->kdev = kdev;
	*dump_slot(cb) = st;
	return 0;
}

static int get_done(struct netlink_callback *cb)
{
	struct dump_state *st = *dump_slot(cb);

	if (st) {
		dev_put(st->kdev->dev);
		kvfree(st->chunk);
		kfree(st);
	}
	*dump_slot(cb) = NULL;
	return 0;
}

/* The device's own attributes, in the first message only. */
static int put_device_attrs(struct sk_buff *skb, struct cwg_kdev *kdev)
{
	u8 key[WG_KEY_LEN];
	int ret = 0;

	if (nla_put_u16(skb, WGDEVICE_A_LISTEN_PORT, kdev->incoming_port) ||
	    nla_put_u32(skb, WGDEVICE_A_FWMARK, kdev->fwmark) ||
	    nla_put_u32(skb, WGDEVICE_A_IFINDEX, kdev->dev->ifindex) ||
	    nla_put_string(skb, WGDEVICE_A_IFNAME, kdev->dev->name))
		return -EMSGSIZE;
	/* Both keys, or neither: there is no public key without the
	 * private one. */
	if (cwg_device_get_private_key(kdev->core, key)) {
		if (nla_put(skb, WGDEVICE_A_PRIVATE_KEY, WG_KEY_LEN, key))
			ret = -EMSGSIZE;
		else if (cwg_device_get_public_key(kdev->core, key) &&
			 nla_put(skb, WGDEVICE_A_PUBLIC_KEY, WG_KEY_LEN, key))
			ret = -EMSGSIZE;
	}
	memzero_explicit(key, sizeof(key));
	return ret;
}

static int put_endpoint(struct sk_buff *skb, const struct cwg_endpoint *ep)
{
	if (ep->family == 4) {
		struct sockaddr_in sin;

		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_port = htons(ep->port);
		memcpy(&sin.sin_addr, ep->addr, sizeof(sin.sin_addr));
		return nla_put(skb, WGPEER_A_ENDPOINT, sizeof(sin), &sin);
	}
	if (ep->family == 6) {
		struct sockaddr_in6 sin6;

		memset(&sin6, 0, sizeof(sin6));
		sin6.sin6_family = AF_INET6;
		sin6.sin6_port = htons(ep->port);
		memcpy(&sin6.sin6_addr, ep->addr, sizeof(sin6.sin6_addr));
		sin6.sin6_scope_id = ep->scope_id;
		return nla_put(skb, WGPEER_A_ENDPOINT, sizeof(sin6), &sin6);
	}
	return 0; /* no endpoint: no attribute, as in-tree */
}

/* A peer's fields but its allowed IPs: the first message it appears in. */
static int put_peer_fields(struct sk_buff *skb, const struct cwg_peer_info *pi)
{
	struct __kernel_timespec ts = { 0 };
	u32 nsec;

	ts.tv_sec = (s64)div_u64_rem(pi->last_handshake_wall_ns, NSEC_PER_SEC,
				     &nsec);
	ts.tv_nsec = nsec;
	if (nla_put(skb, WGPEER_A_PRESHARED_KEY, WG_KEY_LEN,
		    pi->preshared_key) ||
	    nla_put(skb, WGPEER_A_LAST_HANDSHAKE_TIME, sizeof(ts), &ts) ||
	    nla_put_u16(skb, WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL,
			pi->persistent_keepalive) ||
	    nla_put_u64_64bit(skb, WGPEER_A_TX_BYTES, pi->tx_bytes,
			      WGPEER_A_UNSPEC) ||
	    nla_put_u64_64bit(skb, WGPEER_A_RX_BYTES, pi->rx_bytes,
			      WGPEER_A_UNSPEC) ||
	    nla_put_u32(skb, WGPEER_A_PROTOCOL_VERSION, 1) ||
	    put_endpoint(skb, &pi->endpoint))
		return -EMSGSIZE;
	return 0;
}

static int put_allowedip(struct sk_buff *skb, const struct dump_ip *ip)
{
	struct nlattr *nest = nla_nest_start(skb, 0);

	if (!nest)
		return -EMSGSIZE;
	if (nla_put_u8(skb, WGALLOWEDIP_A_CIDR_MASK, ip->cidr) ||
	    nla_put_u16(skb, WGALLOWEDIP_A_FAMILY,
			ip->family == 6 ? AF_INET6 : AF_INET) ||
	    nla_put(skb, WGALLOWEDIP_A_IPADDR,
		    ip->family == 6 ? sizeof(struct in6_addr) :
				      sizeof(struct in_addr),
		    ip->addr)) {
		nla_nest_cancel(skb, nest);
		return -EMSGSIZE;
	}
	nla_nest_end(skb, nest);
	return 0;
}

/* cwg_peer_walk_allowed_ips's callback: past the first skip prefixes,
 * copies up to DUMP_CHUNK. */
struct chunk_fill {
	struct dump_ip *out;
	u32 skip, n;
};

static int fill_ip(void *arg, int family, const uint8_t *addr, uint8_t cidr)
{
	struct chunk_fill *f = arg;
	struct dump_ip *ip;

	if (f->skip) {
		f->skip--;
		return 0;
	}
	if (f->n == DUMP_CHUNK)
		return 1;
	ip = &f->out[f->n++];
	ip->family = family == 6 ? 6 : 4;
	ip->cidr = cidr;
	memcpy(ip->addr, addr, family == 6 ? 16 : 4);
	return 0;
}

/*
 * The cursor peer's prefixes from ips_sent on, each counted in *sent: 0
 * when the last went out, -EMSGSIZE when the message is full, -ENOMEM.
 * Under the core's read lock.
 */
static int put_ips(struct sk_buff *skb, struct dump_state *st,
		   struct cwg_peer *peer, u32 *sent)
{
	struct chunk_fill f;

	for (;;) {
		if (!st->chunk_valid ||
		    st->ips_sent >= st->chunk_start + st->chunk_len) {
			if (st->chunk_valid && st->chunk_len < DUMP_CHUNK)
				return 0; /* the list ended in this chunk */
			if (!st->chunk) {
				st->chunk = kvmalloc_array(DUMP_CHUNK,
							   sizeof(*st->chunk),
							   GFP_KERNEL);
				if (!st->chunk)
					return -ENOMEM;
			}
			f.out = st->chunk;
			f.skip = st->ips_sent;
			f.n = 0;
			cwg_peer_walk_allowed_ips(peer, fill_ip, &f);
			st->chunk_start = st->ips_sent;
			st->chunk_len = f.n;
			st->chunk_valid = true;
			if (!f.n)
				return 0;
		}
		if (put_allowedip(skb,
				  &st->chunk[st->ips_sent - st->chunk_start]))
			return -EMSGSIZE;
		st->ips_sent++;
		(*sent)++;
	}
}

/*
 * One peer (pi: its copy, taken under the same lock), or as much of it
 * as fits: 0 when it went out whole, -EMSGSIZE when the message is full
 * (st then says where to go on), -ENOMEM. Every piece of a peer
 * carries its public key, which `wg` uses to join the pieces. Under the
 * core's read lock.
 */
static int put_peer(struct sk_buff *skb, struct cwg_peer *peer,
		    struct dump_state *st, const struct cwg_peer_info *pi)
{
	struct nlattr *peer_nest, *ips_nest;
	u32 sent = 0;
	int ret;

	peer_nest = nla_nest_start(skb, 0);
	if (!peer_nest)
		return -EMSGSIZE;
	if (nla_put(skb, WGPEER_A_PUBLIC_KEY, WG_KEY_LEN, pi->public_key) ||
	    (!st->in_peer && put_peer_fields(skb, pi)))
		goto cancel;
	ips_nest = nla_nest_start(skb, WGPEER_A_ALLOWEDIPS);
	if (!ips_nest)
		goto cancel;
	if (!st->in_peer) {
		st->in_peer = true;
		st->ips_sent = 0;
		st->chunk_valid = false;
	}
	ret = put_ips(skb, st, peer, &sent);
	/* No empty ALLOWEDIPS nest: a peer without prefixes has none,
	 * as in-tree. */
	if (sent)
		nla_nest_end(skb, ips_nest);
	else
		nla_nest_cancel(skb, ips_nest);
	nla_nest_end(skb, peer_nest);
	if (!ret)
		st->in_peer = false;
	return ret;

cancel:
	nla_nest_cancel(skb, peer_nest);
	return -EMSGSIZE;
}

/* The device's attributes (first message only) and the peers from the
 * cursor on, under the core's read lock: 0 when the last peer went out,
 * 1 when the message is full, or an error (-EMSGSIZE: nothing fit). */
static int put_peers(struct sk_buff *skb, struct dump_state *st)
{
	struct cwg_device *core = st->kdev->core;
	struct nlattr *peers_nest;
	struct cwg_peer *peer;
	int ret = 0;

	if (!st->started && put_device_attrs(skb, st->kdev))
		return -EMSGSIZE;
	peers_nest = nla_nest_start(skb, WGDEVICE_A_PEERS);
	if (!peers_nest)
		return -EMSGSIZE;
	/* A cursor peer removed since the last message ends the dump
	 * here, as in-tree; the generation it changed flags the dump
	 * NLM_F_DUMP_INTR. */
	peer = st->have_cursor ? cwg_device_find_peer(core, st->cursor) :
				 cwg_device_first_peer(core);
	if (!peer) {
		nla_nest_cancel(skb, peers_nest);
		return 0;
	}
	for (; peer; peer = cwg_peer_next(peer)) {
		cwg_peer_get_info(peer, &st->pi);
		ret = put_peer(skb, peer, st, &st->pi);
		memzero_explicit(st->pi.preshared_key,
				 sizeof(st->pi.preshared_key));
		if (ret == -EMSGSIZE) {
			memcpy(st->cursor, st->pi.public_key, WG_KEY_LEN);
			st->have_cursor = true;
			ret = 1;
		}
		if (ret)
			break;
	}
	nla_nest_end(skb, peers_nest);
	return ret;
}

/*
 * One message of the dump, under rtnl and the interface's update_lock
 * (as in-tree: the listen port, fwmark and generation are read where
 * they are written), and the core's read lock for the keys and peers.
 * Returns skb->len while there is more, 0 after the last message.
 */
static int get_dump(struct sk_buff *skb, struct netlink_callback *cb)
{
	struct dump_state *st = *dump_slot(cb);
	struct cwg_kdev *kdev = st->kdev;
	void *hdr;
	int ret;

	rtnl_lock();
	mutex_lock(&kdev->update_lock);
	ret = -ENODEV;
	if (!kdev_alive(kdev))
		goto out;
	/* Never 0, which genl_dump_check_consistent reads as "nothing to
	 * compare with"; any change of the generation changes it. */
	cb->seq = (kdev->update_gen << 1) | 1;
	ret = -EMSGSIZE;
	hdr = genlmsg_put(skb, NETLINK_CB(cb->skb).portid, cb->nlh->nlmsg_seq,
			  &cwg_genl_family, NLM_F_MULTI, WG_CMD_GET_DEVICE);
	if (!hdr)
		goto out;
	genl_dump_check_consistent(cb, hdr);
	cwg_device_cfg_rdlock(kdev->core);
	ret = put_peers(skb, st);
	cwg_device_cfg_unlock(kdev->core);
	if (ret < 0) {
		genlmsg_cancel(skb, hdr);
		goto out;
	}
	st->started = true;
	genlmsg_end(skb, hdr);
	ret = ret ? skb->len : 0;
out:
	mutex_unlock(&kdev->update_lock);
	rtnl_unlock();
	return ret;
}

/* ---- WG_CMD_SET_DEVICE ---- */

/* An endpoint is a sockaddr_in or sockaddr_in6 by its length and family;
 * anything else is ignored without an error, as in-tree. */
static void set_endpoint(struct cwg_peer *peer, const struct nlattr *attr)
{
	const struct sockaddr *sa = nla_data(attr);
	struct cwg_endpoint ep;

	memset(&ep, 0, sizeof(ep));
	if (nla_len(attr) == sizeof(struct sockaddr_in) &&
	    sa->sa_family == AF_INET) {
		struct sockaddr_in sin;

		memcpy(&sin, sa, sizeof(sin));
		ep.family = 4;
		ep.port = ntohs(sin.sin_port);
		memcpy(ep.addr, &sin.sin_addr, sizeof(sin.sin_addr));
	} else if (nla_len(attr) == sizeof(struct sockaddr_in6) &&
		   sa->sa_family == AF_INET6) {
		struct sockaddr_in6 sin6;

		memcpy(&sin6, sa, sizeof(sin6));
		ep.family = 6;
		ep.port = ntohs(sin6.sin6_port);
		memcpy(ep.addr, &sin6.sin6_addr, sizeof(sin6.sin6_addr));
		ep.scope_id = sin6.sin6_scope_id;
	} else {
		return;
	}
	cwg_peer_set_endpoint(peer, &ep);
}

static int set_allowedip(struct cwg_peer *peer, struct nlattr **tb)
{
	const struct nlattr *addr = tb[WGALLOWEDIP_A_IPADDR];
	u16 family;
	u8 cidr;

	if (!tb[WGALLOWEDIP_A_FAMILY] || !addr || !tb[WGALLOWEDIP_A_CIDR_MASK])
		return -EINVAL;
	family = nla_get_u16(tb[WGALLOWEDIP_A_FAMILY]);
	cidr = nla_get_u8(tb[WGALLOWEDIP_A_CIDR_MASK]);
	if (family == AF_INET && cidr <= 32 &&
	    nla_len(addr) == sizeof(struct in_addr))
		return kerr(cwg_peer_add_allowed_ip(peer, 4, nla_data(addr),
						    cidr));
	if (family == AF_INET6 && cidr <= 128 &&
	    nla_len(addr) == sizeof(struct in6_addr))
		return kerr(cwg_peer_add_allowed_ip(peer, 6, nla_data(addr),
						    cidr));
	return -EINVAL;
}

static bool is_own_key(struct cwg_device *core, const u8 *pub)
{
	u8 own[WG_KEY_LEN];
	bool same = cwg_device_get_public_key(core, own) &&
		    !crypto_memneq(own, pub, WG_KEY_LEN);

	memzero_explicit(own, sizeof(own));
	return same;
}

/*
 * One peer of a SET request, in the in-tree order: the checks that can
 * fail without changing anything first (public key, flags, protocol
 * version), then creation or removal, preshared key, endpoint,
 * replacement of the allowed IPs, the allowed IPs one by one (a bad one
 * stops here, the earlier ones stay), persistent keepalive. Under the
 * core's write lock.
 */
static int set_peer(struct cwg_device *core, struct nlattr **tb,
		    struct netlink_ext_ack *extack)
{
	struct cwg_peer *peer;
	const u8 *pub;
	u32 flags = 0;
	int ret;

	if (!tb[WGPEER_A_PUBLIC_KEY])
		return -EINVAL;
	pub = nla_data(tb[WGPEER_A_PUBLIC_KEY]);
	if (tb[WGPEER_A_FLAGS])
		flags = nla_get_u32(tb[WGPEER_A_FLAGS]);
	if (flags & ~__WGPEER_F_ALL)
		return -EOPNOTSUPP;
	if (tb[WGPEER_A_PROTOCOL_VERSION] &&
	    nla_get_u32(tb[WGPEER_A_PROTOCOL_VERSION]) != 1)
		return -EPFNOSUPPORT;

	peer = cwg_device_find_peer(core, pub);
	if (!peer) {
		if (flags & (WGPEER_F_REMOVE_ME | WGPEER_F_UPDATE_ONLY))
			return 0;
		/* Nothing to replace on a new peer. */
		flags &= ~WGPEER_F_REPLACE_ALLOWEDIPS;
		/* The device's own key: ignored without an error, as
		 * in-tree, so one request can serve every member of a
		 * mesh. */
		if (is_own_key(core, pub))
			return 0;
		ret = kerr(cwg_device_add_peer(core, pub, &peer));
		if (ret)
			return ret;
	}
	if (flags & WGPEER_F_REMOVE_ME) {
		cwg_device_remove_peer(core, peer);
		return 0;
	}
	if (tb[WGPEER_A_PRESHARED_KEY])
		cwg_peer_set_preshared_key(peer,
					   nla_data(tb[WGPEER_A_PRESHARED_KEY]));
	if (tb[WGPEER_A_ENDPOINT])
		set_endpoint(peer, tb[WGPEER_A_ENDPOINT]);
	if (flags & WGPEER_F_REPLACE_ALLOWEDIPS)
		cwg_peer_clear_allowed_ips(peer);
	if (tb[WGPEER_A_ALLOWEDIPS]) {
		struct nlattr *ip_tb[WGALLOWEDIP_A_MAX + 1];
		struct nlattr *attr;
		int rem;

		nla_for_each_nested(attr, tb[WGPEER_A_ALLOWEDIPS], rem) {
			ret = nla_parse_nested(ip_tb, WGALLOWEDIP_A_MAX, attr,
					       allowedip_policy, extack);
			if (ret < 0)
				return ret;
			ret = set_allowedip(peer, ip_tb);
			if (ret < 0)
				return ret;
		}
	}
	if (tb[WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL])
		cwg_peer_set_persistent_keepalive(
			peer,
			nla_get_u16(tb[WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL]));
	return 0;
}

/* The core's part of a SET request, under its write lock. */
static int set_core(struct cwg_device *core, struct genl_info *info,
		    u32 flags)
{
	struct nlattr **attrs = info->attrs;
	struct nlattr *tb[WGPEER_A_MAX + 1];
	struct nlattr *attr;
	int ret = 0, rem;

	if (flags & WGDEVICE_F_REPLACE_PEERS)
		cwg_device_remove_all_peers(core);
	/* The core leaves an unchanged key alone and removes the peer
	 * whose public key becomes the device's own. */
	if (attrs[WGDEVICE_A_PRIVATE_KEY])
		cwg_device_set_private_key(core,
					   nla_data(attrs[WGDEVICE_A_PRIVATE_KEY]));
	if (!attrs[WGDEVICE_A_PEERS])
		return 0;
	/* As in-tree, the nest's members are walked whatever their type,
	 * and a truncated last member ends the walk without an error. */
	nla_for_each_nested(attr, attrs[WGDEVICE_A_PEERS], rem) {
		ret = nla_parse_nested(tb, WGPEER_A_MAX, attr, peer_policy,
				       info->extack);
		if (ret < 0)
			break;
		ret = set_peer(core, tb, info->extack);
		if (ret < 0)
			break;
	}
	return ret;
}

/* Under rtnl and update_lock. */
static int set_locked(struct cwg_kdev *kdev, struct genl_info *info)
{
	struct nlattr **attrs = info->attrs;
	u32 flags = 0;
	int ret;

	if (attrs[WGDEVICE_A_FLAGS])
		flags = nla_get_u32(attrs[WGDEVICE_A_FLAGS]);
	if (flags & ~__WGDEVICE_F_ALL)
		return -EOPNOTSUPP;
	/* The port and mark act on sockets in the namespace the interface
	 * was created in: the caller needs CAP_NET_ADMIN there, not only
	 * where the interface is now. */
	if (attrs[WGDEVICE_A_LISTEN_PORT] || attrs[WGDEVICE_A_FWMARK]) {
		struct net *net = READ_ONCE(kdev->creating_net);

		if (!net || !ns_capable(net->user_ns, CAP_NET_ADMIN))
			return -EPERM;
	}

	kdev->update_gen++;
	/* Outside the core's lock: both forget the peers' sticky sources,
	 * which takes it. */
	if (attrs[WGDEVICE_A_FWMARK])
		cwg_kdev_set_fwmark(kdev,
				    nla_get_u32(attrs[WGDEVICE_A_FWMARK]));
	if (attrs[WGDEVICE_A_LISTEN_PORT]) {
		u16 port = nla_get_u16(attrs[WGDEVICE_A_LISTEN_PORT]);

		if (port != kdev->incoming_port) {
			ret = cwg_kdev_set_port(kdev, port);
			if (ret)
				return ret;
		}
	}

	/* One routing-table rebuild for the whole request, however many
	 * prefixes it brings. */
	cwg_device_cfg_batch_begin(kdev->core);
	cwg_device_cfg_lock(kdev->core);
	ret = set_core(kdev->core, info, flags);
	cwg_device_cfg_unlock(kdev->core);
	cwg_device_cfg_batch_end(kdev->core);
	cwg_kdev_changed(kdev);
	return ret;
}

/*
 * The keys a SET request carries, wiped before genetlink may echo the
 * request in its answer: the private key and every peer's preshared
 * key, also those of peers the request never reached (the in-tree wipes
 * only those it applied). The walk is bounded by each nest, whatever its
 * members hold.
 */
static void wipe_request_keys(struct nlattr **attrs)
{
	struct nlattr *peer, *attr;
	int rem, rem2;

	if (attrs[WGDEVICE_A_PRIVATE_KEY])
		memzero_explicit(nla_data(attrs[WGDEVICE_A_PRIVATE_KEY]),
				 nla_len(attrs[WGDEVICE_A_PRIVATE_KEY]));
	if (!attrs[WGDEVICE_A_PEERS])
		return;
	nla_for_each_nested(peer, attrs[WGDEVICE_A_PEERS], rem)
		nla_for_each_nested(attr, peer, rem2)
			if (nla_type(attr) == WGPEER_A_PRESHARED_KEY)
				memzero_explicit(nla_data(attr), nla_len(attr));
}

static int set_device(struct sk_buff *skb, struct genl_info *info)
{
	struct cwg_kdev *kdev = find_kdev(skb, info->attrs);
	int ret;

	if (IS_ERR(kdev)) {
		ret = PTR_ERR(kdev);
		goto out;
	}
	rtnl_lock();
	mutex_lock(&kdev->update_lock);
	ret = kdev_alive(kdev) ? set_locked(kdev, info) : -ENODEV;
	mutex_unlock(&kdev->update_lock);
	rtnl_unlock();
	dev_put(kdev->dev);
out:
	wipe_request_keys(info->attrs);
	return ret;
}

static const struct genl_ops cwg_genl_ops[] = {
	{
		.cmd = WG_CMD_GET_DEVICE,
		.start = get_start,
		.dumpit = get_dump,
		.done = get_done,
		.flags = GENL_UNS_ADMIN_PERM,
	},
	{
		.cmd = WG_CMD_SET_DEVICE,
		.doit = set_device,
		.flags = GENL_UNS_ADMIN_PERM,
	},
};

/*
 * resv_start_op past both commands: the in-tree family (6.1) leaves the
 * genetlink header's reserved field unchecked for them, and so do we;
 * the attributes are validated strictly all the same (no
 * GENL_DONT_VALIDATE_* on the ops).
 */
static struct genl_family cwg_genl_family __ro_after_init = {
	.ops = cwg_genl_ops,
	.n_ops = ARRAY_SIZE(cwg_genl_ops),
	.resv_start_op = WG_CMD_SET_DEVICE + 1,
	.name = WG_GENL_NAME,
	.version = WG_GENL_VERSION,
	.maxattr = WGDEVICE_A_MAX,
	.policy = device_policy,
	.module = THIS_MODULE,
	.netnsok = true,
};

int cwg_netlink_init(void)
{
	return genl_register_family(&cwg_genl_family);
}

void cwg_netlink_exit(void)
{
	genl_unregister_family(&cwg_genl_family);
}
