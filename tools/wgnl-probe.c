// SPDX-License-Identifier: MIT
/*
 * wgnl-probe: hostile and edge-case requests to the "wireguard" generic
 * netlink family (cwg.ko's kmod/netlink.c, or the in-tree wireguard.ko),
 * each checked for the errno the in-tree module (Linux 6.1) answers, and
 * for what it leaves of the interface: a dump before and after each
 * request must be equal, or differ exactly by what the case means to
 * change (including what the in-tree applies before a later part of the
 * request fails).
 *
 *   wgnl-probe IFACE        every case, against IFACE (an interface of
 *                           kind "wireguard" the probe may reconfigure at
 *                           will; keep it down, so that no handshake
 *                           changes what a dump shows). TAP output; exit
 *                           status 1 if any case failed.
 *   wgnl-probe dump IFACE   IFACE's configuration as the family dumps it,
 *                           one fact a line, for comparing two
 *                           implementations given the same `wg setconf`.
 *
 * Raw AF_NETLINK/NETLINK_GENERIC sockets, no libmnl, so that a static
 * build runs in the kernel checks' busybox initramfs:
 *   make -C kmod probe      -> build/kmod/wgnl-probe (gcc -static)
 *
 * Errno table: each case, what it sends, the errno the in-tree module
 * answers, and the function of Linux 6.1 that produces it
 * (drivers/net/wireguard/netlink.c unless a file is named; nlattr.c is
 * lib/nlattr.c, whose validate_nla and __nla_validate_parse check every
 * attribute against the family's policies with NL_VALIDATE_STRICT;
 * genetlink.c is net/netlink/genetlink.c). "0, unchanged" means success
 * with nothing changed; "applied" names what stays changed. Every row
 * holds for Debian's wireguard.ko (6.1.0-57): kmod/vm-netlink.sh runs
 * the probe against it before cwg.ko.
 *
 *  case  request                                        errno        where
 *  L1    SET, neither ifindex nor ifname                EBADR        lookup_interface
 *  L2    SET, both ifindex and ifname                   EBADR        lookup_interface
 *  L3    SET, ifname of no interface                    ENODEV       lookup_interface
 *  L4    SET, ifindex of no interface                   ENODEV       lookup_interface
 *  L5    SET, ifname "lo"                               EOPNOTSUPP   lookup_interface (kind)
 *  L6    SET, ifindex 1 (lo)                            EOPNOTSUPP   lookup_interface (kind)
 *  L7    GET, neither                                   EBADR        wg_get_device_start
 *  L8    GET, both                                      EBADR        wg_get_device_start
 *  L9    GET, ifname of no interface                    ENODEV       wg_get_device_start
 *  L10   GET, ifname "lo"                               EOPNOTSUPP   wg_get_device_start
 *  L11   GET by ifindex                                 0, same dump wg_get_device_dump
 *  L12   ifname without its NUL                         EINVAL       validate_nla (NLA_NUL_STRING)
 *  L13   ifname of 16 characters and a NUL              EINVAL       validate_nla (no NUL in len+1)
 *  L14   ifname "lo" NUL-padded to 20 bytes             ERANGE       validate_nla (NLA_STRING > len)
 *  L15   ifindex of 8 bytes                             EINVAL       validate_nla (strict length)
 *  C1    GET without NLM_F_DUMP                         EOPNOTSUPP   genl_family_rcv_msg_doit (no doit)
 *  C2    SET with NLM_F_DUMP                            EOPNOTSUPP   genl_family_rcv_msg_dumpit (no dumpit)
 *  C3    command 2                                      EOPNOTSUPP   genl_family_rcv_msg (genl_get_cmd)
 *  C4    genetlink header cut to 2 bytes                EINVAL       genl_family_rcv_msg (hdrlen)
 *  C5    SET, genetlink reserved field 1                0, unchanged genl_header_check (cmd < resv_start_op)
 *  C6    SET, genetlink version 7                       0, unchanged genetlink.c never checks it
 *  C7    SET without CAP_NET_ADMIN                      EPERM        genl_family_rcv_msg (GENL_UNS_ADMIN_PERM)
 *  C8    GET without CAP_NET_ADMIN                      EPERM        genl_family_rcv_msg (GENL_UNS_ADMIN_PERM)
 *  C9    SET with NLM_F_ROOT and NLM_F_APPEND           0, unchanged genl_header_check (cmd < resv_start_op)
 *  D1    private key of 31 bytes                        ERANGE       validate_nla (NLA_POLICY_EXACT_LEN)
 *  D2    private key of 33 bytes                        ERANGE       validate_nla (NLA_POLICY_EXACT_LEN)
 *  D3    public key of 31 bytes                         ERANGE       validate_nla (NLA_POLICY_EXACT_LEN)
 *  D4    public key of 32 bytes (SET ignores it)        0, unchanged wg_set_device
 *  D5    device flags 1<<1                              EOPNOTSUPP   wg_set_device
 *  D6    device flags 1<<31|1 and a new fwmark          EOPNOTSUPP   wg_set_device (before the fwmark)
 *  D7    device flags of 2 bytes                        EINVAL       validate_nla (strict length)
 *  D8    fwmark of 8 bytes                              EINVAL       validate_nla (strict length)
 *  D9    listen port of 4 bytes                         EINVAL       validate_nla (strict length)
 *  D10   attribute type 9 (past WGDEVICE_A_MAX)         EINVAL       __nla_validate_parse (maxtype)
 *  D11   attribute type 0                               EINVAL       __nla_validate_parse (type 0)
 *  D12   fwmark flagged NLA_F_NESTED                    EINVAL       validate_nla (NESTED not expected)
 *  D13   peers without NLA_F_NESTED                     EINVAL       validate_nla (NESTED missing)
 *  D14   peers nest of 2 bytes                          ERANGE       validate_nla (NLA_NESTED < NLA_HDRLEN)
 *  D15   last attribute longer than the message         EINVAL       __nla_validate_parse (leftover)
 *  D16   last attribute with nla_len 2                  EINVAL       __nla_validate_parse (leftover)
 *  D17   empty peers nest                               0, unchanged wg_set_device
 *  D18   peers nest whose member claims 100 bytes of 8  0, unchanged wg_set_device (nla_for_each_nested stops)
 *  D19   unclamped private key                          0, clamped   wg_noise_set_static_identity_private_key
 *  D20   all-zero private key                           0, no key    wg_noise_set_static_identity_private_key
 *  P1    peer member without NLA_F_NESTED               EINVAL       nla_parse_nested (wg_set_device)
 *  P2    peer without public key                        EINVAL       set_peer
 *  P3    peer public key of 31 bytes                    ERANGE       validate_nla (peer_policy)
 *  P4    preshared key of 33 bytes                      ERANGE       validate_nla (peer_policy)
 *  P5    peer flags 1<<3                                EOPNOTSUPP   set_peer
 *  P6    REMOVE_ME|1<<3 on a peer                       EOPNOTSUPP   set_peer (not removed)
 *  P7    protocol version 2, new key                    EPFNOSUPPORT set_peer (not created)
 *  P8    protocol version 1                             0, unchanged set_peer
 *  P9    peer attribute type 11                         EINVAL       __nla_validate_parse (maxtype)
 *  P10   peer's public key runs past its nest           EINVAL       __nla_validate_parse (leftover)
 *  P11   keepalive of 4 bytes                           EINVAL       validate_nla (strict length)
 *  P12   UPDATE_ONLY, unknown key                       0, unchanged set_peer
 *  P13   REMOVE_ME, unknown key                         0, unchanged set_peer
 *  P14   the device's own public key                    0, unchanged set_peer (ignored)
 *  P15   last-handshake time of 8 bytes                 ERANGE       validate_nla (peer_policy)
 *  P16   last-handshake time and rx bytes (well formed) 0, unchanged set_peer ignores them
 *  P17   rx bytes of 4 bytes                            EINVAL       validate_nla (strict length)
 *  E1    endpoint of 8 bytes                            ERANGE       validate_nla (NLA_POLICY_MIN_LEN)
 *  E2    AF_INET endpoint of 20 bytes                   0, unchanged set_peer (ignored)
 *  E3    AF_INET6 endpoint of 16 bytes                  0, unchanged set_peer (ignored)
 *  E4    AF_UNIX endpoint of 16 bytes                   0, unchanged set_peer (ignored)
 *  E5    AF_INET6 endpoint with a scope id              0, applied   set_peer
 *  A1    allowed IP family 1                            EINVAL       set_allowedip
 *  A2    IPv4 /33                                       EINVAL       set_allowedip
 *  A3    IPv6 /129                                      EINVAL       set_allowedip
 *  A4    AF_INET with a 16-byte address                 EINVAL       set_allowedip
 *  A5    AF_INET6 with a 4-byte address                 EINVAL       set_allowedip
 *  A6    address of 3 bytes                             ERANGE       validate_nla (NLA_POLICY_MIN_LEN)
 *  A7    no cidr                                        EINVAL       set_allowedip
 *  A8    no family                                      EINVAL       set_allowedip
 *  A9    allowed-IP member without NLA_F_NESTED         EINVAL       nla_parse_nested (set_peer)
 *  A10   allowed-IPs nest without NLA_F_NESTED          EINVAL       validate_nla (peer_policy, NESTED missing)
 *  A11   allowed-IP attribute type 4                    EINVAL       __nla_validate_parse (maxtype)
 *  A12   cidr of 2 bytes                                EINVAL       validate_nla (strict length)
 *  A13   a prefix, then a member claiming more bytes    0, applied   set_peer (nla_for_each_nested stops)
 *  A14   10.66.1.2/16                                   0, 10.66.0.0 wg_allowedips_read_node masks
 *  X1    psk, endpoint, keepalive, a good and a bad IP  EINVAL       set_allowedip; psk, endpoint, good IP applied, keepalive not
 *  X2    replace peers, private key, new peer, bad peer EINVAL       set_peer; the first three applied
 *  X3    peer updated, then a peer with flag 1<<3       EOPNOTSUPP   set_peer; the first applied
 *  X4    replace allowed IPs, then a bad one            EINVAL       set_allowedip; the old ones gone
 *  X5    new peer with psk, then a bad family           EINVAL       set_allowedip; the peer stays
 *  X6    new peer, then an address of 1 byte            ERANGE       validate_nla via nla_parse_nested in set_peer, after the peer was made: it stays
 *  X7    a prefix another peer holds                    0, moves     wg_allowedips_insert_v4 (to the end of the new holder's list)
 *  X8    a peer with the public key of priv2            0, applied   set_peer
 *  X9    private key priv2                              0, X8's peer gone  wg_set_device
 *  X10   REMOVE_ME (with allowed IPs)                   0, removed   set_peer
 *  X11   UPDATE_ONLY on a peer, keepalive 0             0, applied   set_peer
 *  X12   REPLACE_ALLOWEDIPS with a list incl. /0, /32   0, replaced  set_peer
 *  X13   listen port and fwmark 0                       0, applied   wg_set_device, set_port
 *  B1, B2, X0  the baseline configuration               0, applied   (every group starts from it)
 *  H1    20000 fwmark attributes (same value)           0, unchanged nla_parse keeps the last
 *  H2    16000 attributes of type 9                     EINVAL       __nla_validate_parse (maxtype)
 *  H3    2000 allowed IPs in one request                0, applied   set_peer; dumped over many messages
 *  H4    300 peers in one request                       0, applied   wg_set_device
 *  H5    1300 UPDATE_ONLY peers of unknown keys         0, unchanged set_peer
 *  H6    a request of 400000 bytes (send buffer 200000) EMSGSIZE     netlink_sendmsg (net/netlink/af_netlink.c), from sendmsg
 *  G1    GET with a valid extra attribute               0, same dump genl_start parses, the dump ignores it
 *  G2    GET with a private key of 31 bytes             ERANGE       validate_nla (from genl_start)
 *  G3    GET with attribute type 9                      EINVAL       __nla_validate_parse (from genl_start)
 *  G4    a change between two messages of a dump        0, NLM_F_DUMP_INTR  genl_dump_check_consistent
 *  G5    every peer replaced between two messages       0, NLM_F_DUMP_INTR, ends  wg_get_device_dump
 *  W1    key, a peer with psk, a bad peer with psk      EINVAL       set_peer; the echo of the request in the
 *        (the error echoes the request)                              error has the three keys zeroed (set_peer,
 *                                                                    wg_set_device wipe them)
 *
 * Known differences of cwg's core that the cases avoid (kmod/netlink.c
 * lists them): sin_zero and sin6_flowinfo are not echoed; an allowed IP
 * sent again for the peer that holds it keeps its place in the list (the
 * in-tree moves it to the end).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <linux/capability.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <linux/wireguard.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define KEYLEN WG_KEY_LEN
#define RECV_TIMEOUT_MS 20000

/* ---- failures that end the run ---- */

static void die(const char *fmt, ...)
{
	va_list ap;

	printf("Bail out! ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	exit(2);
}

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		die("out of memory");
	return p;
}

/* ---- requests ---- */

struct msg {
	uint8_t *b;
	size_t len, cap;
	size_t nest[16];
	int depth;
	uint32_t seq;
};

static uint32_t next_seq = 1;
static uint16_t wg_family;
static const char *ifname;
static uint32_t ifindex;

static void *room(struct msg *m, size_t n)
{
	void *p;

	if (m->len + n > m->cap) {
		m->cap = (m->len + n) * 2;
		m->b = xrealloc(m->b, m->cap);
	}
	p = m->b + m->len;
	memset(p, 0, n);
	m->len += n;
	return p;
}

static struct msg *msg_new(uint16_t type, uint16_t flags, uint8_t cmd)
{
	struct msg *m = calloc(1, sizeof(*m));
	struct nlmsghdr *nlh;
	struct genlmsghdr *g;

	if (!m)
		die("out of memory");
	nlh = room(m, NLMSG_HDRLEN);
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = flags;
	m->seq = nlh->nlmsg_seq = next_seq++;
	g = room(m, GENL_HDRLEN);
	g->cmd = cmd;
	g->version = WG_GENL_VERSION;
	return m;
}

static void msg_free(struct msg *m)
{
	if (m)
		free(m->b);
	free(m);
}

static struct genlmsghdr *genl_hdr(struct msg *m)
{
	return (struct genlmsghdr *)(m->b + NLMSG_HDRLEN);
}

/* An attribute whose header says len + 4 bytes, with len bytes of data
 * (data NULL: zeros), padded to 4. */
static void put(struct msg *m, uint16_t type, const void *data, size_t len)
{
	struct nlattr *a = room(m, NLA_HDRLEN);

	a->nla_type = type;
	a->nla_len = (uint16_t)(NLA_HDRLEN + len);
	if (data)
		memcpy(room(m, len), data, len);
	else
		room(m, len);
	room(m, NLA_ALIGN(len) - len);
}

static void put_u8(struct msg *m, uint16_t type, uint8_t v)
{
	put(m, type, &v, 1);
}

static void put_u16(struct msg *m, uint16_t type, uint16_t v)
{
	put(m, type, &v, 2);
}

static void put_u32(struct msg *m, uint16_t type, uint32_t v)
{
	put(m, type, &v, 4);
}

static void put_strz(struct msg *m, uint16_t type, const char *s)
{
	put(m, type, s, strlen(s) + 1);
}

/* Raw bytes, no header, no padding: for attributes that lie. */
static void put_raw(struct msg *m, const void *p, size_t n)
{
	memcpy(room(m, n), p, n);
}

/* A header claiming claimed bytes, followed by only have bytes. */
static void put_lying(struct msg *m, uint16_t type, uint16_t claimed,
		      size_t have)
{
	struct nlattr a = { .nla_len = claimed, .nla_type = type };

	put_raw(m, &a, sizeof(a));
	room(m, have);
}

static void nest_flags(struct msg *m, uint16_t type_and_flags)
{
	struct nlattr *a;

	if (m->depth == 16)
		die("nests too deep");
	m->nest[m->depth++] = m->len;
	a = room(m, NLA_HDRLEN);
	a->nla_type = type_and_flags;
}

static void nest(struct msg *m, uint16_t type)
{
	nest_flags(m, type | NLA_F_NESTED);
}

static void end(struct msg *m)
{
	struct nlattr *a = (struct nlattr *)(m->b + m->nest[--m->depth]);

	a->nla_len = (uint16_t)(m->len - m->nest[m->depth]);
}

static struct msg *req_set(void)
{
	struct msg *m = msg_new(wg_family, NLM_F_REQUEST | NLM_F_ACK,
				WG_CMD_SET_DEVICE);

	put_strz(m, WGDEVICE_A_IFNAME, ifname);
	return m;
}

static struct msg *req_get(void)
{
	struct msg *m = msg_new(wg_family,
				NLM_F_REQUEST | NLM_F_ACK | NLM_F_DUMP,
				WG_CMD_GET_DEVICE);

	put_strz(m, WGDEVICE_A_IFNAME, ifname);
	return m;
}

/* ---- sockets ---- */

static int nl_open(void)
{
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
	int one = 1, big = 1 << 20, sndbuf = 100000;
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };

	if (fd < 0)
		die("socket(NETLINK_GENERIC): %s", strerror(errno));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("bind: %s", strerror(errno));
	/* Errors without the request echoed (a huge request would make a
	 * huge error), with the kernel's message for the diagnostics. */
	setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
	setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	/* A known send buffer (the kernel doubles it: 200000 bytes), so
	 * that H6's request is too big for it whatever wmem_default is. */
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	return fd;
}

/* 0, or -errno from sendto (the kernel refuses some requests whole). */
static int nl_send(int fd, struct msg *m)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	struct nlmsghdr *nlh = (struct nlmsghdr *)m->b;

	nlh->nlmsg_len = (uint32_t)m->len;
	if (sendto(fd, m->b, m->len, 0, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -errno;
	return 0;
}

static uint8_t rbuf[1 << 17];

/* One datagram; its length, or dies after RECV_TIMEOUT_MS of silence. */
static ssize_t nl_recv(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	ssize_t n;

	if (poll(&p, 1, RECV_TIMEOUT_MS) <= 0)
		die("no answer from the kernel within %d ms", RECV_TIMEOUT_MS);
	n = recv(fd, rbuf, sizeof(rbuf), 0);
	if (n < 0)
		die("recv: %s", strerror(errno));
	return n;
}

static char last_extack[256];

static void note_extack(const struct nlmsghdr *nlh)
{
	const struct nlmsgerr *e = NLMSG_DATA(nlh);
	const uint8_t *p, *endp = (const uint8_t *)nlh + nlh->nlmsg_len;
	size_t off;

	last_extack[0] = 0;
	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
		return;
	off = sizeof(*e);
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
		off += e->msg.nlmsg_len - NLMSG_HDRLEN;
	p = (const uint8_t *)e + NLMSG_ALIGN(off);
	while (p + NLA_HDRLEN <= endp) {
		const struct nlattr *a = (const struct nlattr *)p;

		if (a->nla_len < NLA_HDRLEN || p + a->nla_len > endp)
			break;
		if ((a->nla_type & NLA_TYPE_MASK) == NLMSGERR_ATTR_MSG)
			snprintf(last_extack, sizeof(last_extack), "%.*s",
				 (int)(a->nla_len - NLA_HDRLEN),
				 (const char *)(a + 1));
		p += NLA_ALIGN(a->nla_len);
	}
}

/* Sends a request that wants an acknowledgement; its errno (negative),
 * or 0. The request is freed. */
static int transact(int fd, struct msg *m)
{
	uint32_t seq = m->seq;
	int ret = nl_send(fd, m);

	msg_free(m);
	if (ret)
		return ret;
	for (;;) {
		ssize_t n = nl_recv(fd);
		struct nlmsghdr *nlh;

		for (nlh = (struct nlmsghdr *)rbuf; NLMSG_OK(nlh, n);
		     nlh = NLMSG_NEXT(nlh, n)) {
			if (nlh->nlmsg_seq != seq || nlh->nlmsg_type != NLMSG_ERROR)
				continue;
			note_extack(nlh);
			return ((struct nlmsgerr *)NLMSG_DATA(nlh))->error;
		}
	}
}

/* ---- the model of a device, as a dump shows it ---- */

struct aip {
	uint16_t family;
	uint8_t cidr;
	uint8_t addr[16];
};

struct peer {
	uint8_t pub[KEYLEN], psk[KEYLEN];
	uint8_t ep[sizeof(struct sockaddr_in6)];
	uint32_t eplen;
	uint16_t keepalive;
	struct aip *ips;
	size_t nips, capips;
};

struct dev {
	bool has_priv, has_pub;
	uint8_t priv[KEYLEN], pub[KEYLEN];
	uint16_t port;
	uint32_t fwmark, ifindex;
	char ifname[IFNAMSIZ];
	struct peer *peers;
	size_t npeers, cap;
};

static void dev_free(struct dev *d)
{
	size_t i;

	for (i = 0; i < d->npeers; i++)
		free(d->peers[i].ips);
	free(d->peers);
	memset(d, 0, sizeof(*d));
}

static struct peer *peer_find(struct dev *d, const uint8_t *pub)
{
	size_t i;

	for (i = 0; i < d->npeers; i++)
		if (!memcmp(d->peers[i].pub, pub, KEYLEN))
			return &d->peers[i];
	return NULL;
}

static struct peer *peer_add(struct dev *d, const uint8_t *pub)
{
	struct peer *p;

	if (d->npeers == d->cap) {
		d->cap = d->cap ? d->cap * 2 : 8;
		d->peers = xrealloc(d->peers, d->cap * sizeof(*p));
	}
	p = &d->peers[d->npeers++];
	memset(p, 0, sizeof(*p));
	memcpy(p->pub, pub, KEYLEN);
	return p;
}

static void peer_del(struct dev *d, const uint8_t *pub)
{
	struct peer *p = peer_find(d, pub);
	size_t i;

	if (!p)
		die("model: no such peer");
	i = (size_t)(p - d->peers);
	free(p->ips);
	memmove(p, p + 1, (d->npeers - i - 1) * sizeof(*p));
	d->npeers--;
}

static void mask(struct aip *a)
{
	unsigned int bits = a->family == AF_INET6 ? 128 : 32, i;

	for (i = a->cidr; i < bits; i++)
		a->addr[i / 8] &= (uint8_t)~(0x80 >> (i % 8));
}

static int aip_index(const struct peer *p, const struct aip *a)
{
	size_t i;

	for (i = 0; i < p->nips; i++)
		if (p->ips[i].family == a->family && p->ips[i].cidr == a->cidr &&
		    !memcmp(p->ips[i].addr, a->addr, 16))
			return (int)i;
	return -1;
}

static void aip_remove_at(struct peer *p, size_t i)
{
	memmove(&p->ips[i], &p->ips[i + 1], (p->nips - i - 1) * sizeof(*p->ips));
	p->nips--;
}

/* The in-tree semantics: a prefix belongs to one peer; adding it moves it
 * to the end of this peer's list, taking it from whoever held it. */
static void aip_add(struct dev *d, struct peer *to, uint16_t family,
		    const void *addr, uint8_t cidr)
{
	struct aip a = { .family = family, .cidr = cidr };
	size_t i;
	int at;

	memcpy(a.addr, addr, family == AF_INET6 ? 16 : 4);
	mask(&a);
	for (i = 0; i < d->npeers; i++) {
		at = aip_index(&d->peers[i], &a);
		if (at >= 0)
			aip_remove_at(&d->peers[i], (size_t)at);
	}
	if (to->nips == to->capips) {
		to->capips = to->capips ? to->capips * 2 : 8;
		to->ips = xrealloc(to->ips, to->capips * sizeof(a));
	}
	to->ips[to->nips++] = a;
}

/* Equal, or a description of the first difference in why. */
static bool dev_eq(const struct dev *a, const struct dev *b, char *why,
		   size_t n)
{
	size_t i, j;

	if (a->has_priv != b->has_priv || a->has_pub != b->has_pub ||
	    (a->has_priv && memcmp(a->priv, b->priv, KEYLEN)) ||
	    (a->has_pub && memcmp(a->pub, b->pub, KEYLEN))) {
		snprintf(why, n, "device keys differ");
		return false;
	}
	if (a->port != b->port || a->fwmark != b->fwmark) {
		snprintf(why, n, "port %u/%u, fwmark %u/%u", a->port, b->port,
			 a->fwmark, b->fwmark);
		return false;
	}
	if (a->ifindex != b->ifindex || strcmp(a->ifname, b->ifname)) {
		snprintf(why, n, "ifindex or ifname differ");
		return false;
	}
	if (a->npeers != b->npeers) {
		snprintf(why, n, "%zu peers, want %zu", b->npeers, a->npeers);
		return false;
	}
	for (i = 0; i < a->npeers; i++) {
		const struct peer *p = &a->peers[i], *q = &b->peers[i];

		if (memcmp(p->pub, q->pub, KEYLEN)) {
			snprintf(why, n, "peer %zu: another public key", i);
			return false;
		}
		if (memcmp(p->psk, q->psk, KEYLEN)) {
			snprintf(why, n, "peer %zu: preshared key", i);
			return false;
		}
		if (p->eplen != q->eplen || memcmp(p->ep, q->ep, p->eplen)) {
			snprintf(why, n, "peer %zu: endpoint (%u bytes, want %u)",
				 i, q->eplen, p->eplen);
			return false;
		}
		if (p->keepalive != q->keepalive) {
			snprintf(why, n, "peer %zu: keepalive %u, want %u", i,
				 q->keepalive, p->keepalive);
			return false;
		}
		if (p->nips != q->nips) {
			snprintf(why, n, "peer %zu: %zu allowed IPs, want %zu", i,
				 q->nips, p->nips);
			return false;
		}
		for (j = 0; j < p->nips; j++)
			if (memcmp(&p->ips[j], &q->ips[j], sizeof(p->ips[j]))) {
				snprintf(why, n, "peer %zu: allowed IP %zu differs",
					 i, j);
				return false;
			}
	}
	return true;
}

/* ---- dumps ---- */

struct dump_info {
	int messages;
	bool intr;
	bool format_ok;
	char format_err[128];
};

static void bad_format(struct dump_info *di, const char *what)
{
	if (di->format_ok)
		snprintf(di->format_err, sizeof(di->format_err), "%s", what);
	di->format_ok = false;
}

/* Calls fn for each attribute of [p, p + len); false if they do not
 * tile it exactly. */
#define FOR_ATTRS(a, p, len)                                              \
	for (const struct nlattr *a = (const struct nlattr *)(p),         \
				 *a##_end = (const struct nlattr *)((const uint8_t *)(p) + (len)); \
	     (const uint8_t *)a + NLA_HDRLEN <= (const uint8_t *)a##_end && \
	     a->nla_len >= NLA_HDRLEN &&                                  \
	     (const uint8_t *)a + a->nla_len <= (const uint8_t *)a##_end; \
	     a = (const struct nlattr *)((const uint8_t *)a + NLA_ALIGN(a->nla_len)))

#define ATYPE(a) ((a)->nla_type & NLA_TYPE_MASK)
#define ALEN(a) ((size_t)((a)->nla_len - NLA_HDRLEN))
#define ADATA(a) ((const void *)((a) + 1))

/* Every byte of a nest accounted for by whole attributes. */
static bool tiles(const void *p, size_t len)
{
	size_t used = 0;

	FOR_ATTRS(a, p, len)
		used = (size_t)((const uint8_t *)a - (const uint8_t *)p) +
		       a->nla_len;
	return NLA_ALIGN(used) >= len || used == len;
}

static void parse_aip(struct dump_info *di, struct peer *p, const struct nlattr *n)
{
	struct aip a = { 0 };
	bool f = false, c = false, ad = false;
	size_t alen = 0;

	if (!(n->nla_type & NLA_F_NESTED))
		bad_format(di, "allowed IP without NLA_F_NESTED");
	if (!tiles(ADATA(n), ALEN(n)))
		bad_format(di, "allowed IP nest has stray bytes");
	FOR_ATTRS(x, ADATA(n), ALEN(n)) {
		switch (ATYPE(x)) {
		case WGALLOWEDIP_A_FAMILY:
			if (ALEN(x) != 2)
				bad_format(di, "family not a u16");
			memcpy(&a.family, ADATA(x), 2);
			f = true;
			break;
		case WGALLOWEDIP_A_CIDR_MASK:
			if (ALEN(x) != 1)
				bad_format(di, "cidr not a u8");
			memcpy(&a.cidr, ADATA(x), 1);
			c = true;
			break;
		case WGALLOWEDIP_A_IPADDR:
			alen = ALEN(x);
			if (alen > 16)
				alen = 16;
			memcpy(a.addr, ADATA(x), alen);
			ad = true;
			break;
		default:
			bad_format(di, "unknown allowed-IP attribute");
		}
	}
	if (!f || !c || !ad)
		bad_format(di, "allowed IP without family, cidr or address");
	if (!((a.family == AF_INET && alen == 4 && a.cidr <= 32) ||
	      (a.family == AF_INET6 && alen == 16 && a.cidr <= 128)))
		bad_format(di, "allowed IP of a wrong family, size or cidr");
	if (p->nips == p->capips) {
		p->capips = p->capips ? p->capips * 2 : 8;
		p->ips = xrealloc(p->ips, p->capips * sizeof(a));
	}
	p->ips[p->nips++] = a;
}

static void parse_peer(struct dump_info *di, struct dev *d, const struct nlattr *n)
{
	const struct nlattr *key = NULL;
	struct peer *p;
	bool cont;
	unsigned int fields = 0;

	if (!(n->nla_type & NLA_F_NESTED))
		bad_format(di, "peer without NLA_F_NESTED");
	if (!tiles(ADATA(n), ALEN(n)))
		bad_format(di, "peer nest has stray bytes");
	FOR_ATTRS(x, ADATA(n), ALEN(n))
		if (ATYPE(x) == WGPEER_A_PUBLIC_KEY)
			key = x;
	if (!key || ALEN(key) != KEYLEN) {
		bad_format(di, "peer without a public key");
		return;
	}
	/* A peer continued from the previous message (or nest), as `wg`
	 * joins them: only its public key and more allowed IPs. */
	cont = d->npeers &&
	       !memcmp(d->peers[d->npeers - 1].pub, ADATA(key), KEYLEN);
	p = cont ? &d->peers[d->npeers - 1] : peer_add(d, ADATA(key));
	FOR_ATTRS(x, ADATA(n), ALEN(n)) {
		size_t len = ALEN(x);

		switch (ATYPE(x)) {
		case WGPEER_A_PUBLIC_KEY:
			break;
		case WGPEER_A_PRESHARED_KEY:
			if (len != KEYLEN)
				bad_format(di, "preshared key of a wrong size");
			else
				memcpy(p->psk, ADATA(x), KEYLEN);
			fields |= 1;
			break;
		case WGPEER_A_ENDPOINT:
			if (len != sizeof(struct sockaddr_in) &&
			    len != sizeof(struct sockaddr_in6))
				bad_format(di, "endpoint of a wrong size");
			else {
				memcpy(p->ep, ADATA(x), len);
				p->eplen = (uint32_t)len;
			}
			fields |= 2;
			break;
		case WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL:
			if (len != 2)
				bad_format(di, "keepalive not a u16");
			else
				memcpy(&p->keepalive, ADATA(x), 2);
			fields |= 4;
			break;
		case WGPEER_A_LAST_HANDSHAKE_TIME:
			if (len != 16)
				bad_format(di, "handshake time not a timespec");
			fields |= 8;
			break;
		case WGPEER_A_RX_BYTES:
		case WGPEER_A_TX_BYTES:
			if (len != 8)
				bad_format(di, "byte count not a u64");
			fields |= ATYPE(x) == WGPEER_A_RX_BYTES ? 16 : 32;
			break;
		case WGPEER_A_PROTOCOL_VERSION: {
			uint32_t v = 0;

			if (len == 4)
				memcpy(&v, ADATA(x), 4);
			if (v != 1)
				bad_format(di, "protocol version not 1");
			fields |= 64;
			break;
		}
		case WGPEER_A_UNSPEC:
			/* the 64-bit alignment pad of the counters */
			if (len)
				bad_format(di, "padding attribute with data");
			break;
		case WGPEER_A_ALLOWEDIPS:
			if (!(x->nla_type & NLA_F_NESTED))
				bad_format(di, "allowed IPs without NLA_F_NESTED");
			if (!tiles(ADATA(x), len))
				bad_format(di, "allowed IPs nest has stray bytes");
			FOR_ATTRS(y, ADATA(x), len)
				parse_aip(di, p, y);
			break;
		default:
			bad_format(di, "unknown peer attribute");
		}
	}
	/* Every field but the endpoint (absent when unset) on the first
	 * appearance, none on a continuation. */
	if (cont ? fields != 0 : (fields | 2) != 127)
		bad_format(di, cont ? "a continued peer repeats its fields" :
				      "a peer lacks some of its fields");
}

static void parse_device_msg(struct dump_info *di, struct dev *d,
			     const struct nlmsghdr *nlh)
{
	const uint8_t *p = (const uint8_t *)NLMSG_DATA(nlh) + GENL_HDRLEN;
	size_t len = nlh->nlmsg_len - NLMSG_HDRLEN - GENL_HDRLEN;
	bool first = di->messages == 1;

	if (nlh->nlmsg_len < NLMSG_HDRLEN + GENL_HDRLEN) {
		bad_format(di, "short message");
		return;
	}
	if (((const struct genlmsghdr *)NLMSG_DATA(nlh))->cmd != WG_CMD_GET_DEVICE)
		bad_format(di, "reply with another command");
	if (!tiles(p, len))
		bad_format(di, "message has stray bytes");
	FOR_ATTRS(x, p, len) {
		size_t l = ALEN(x);

		switch (ATYPE(x)) {
		case WGDEVICE_A_IFINDEX:
			if (l == 4)
				memcpy(&d->ifindex, ADATA(x), 4);
			break;
		case WGDEVICE_A_IFNAME:
			snprintf(d->ifname, sizeof(d->ifname), "%.*s", (int)l,
				 (const char *)ADATA(x));
			break;
		case WGDEVICE_A_PRIVATE_KEY:
			if (l != KEYLEN)
				bad_format(di, "private key of a wrong size");
			memcpy(d->priv, ADATA(x), KEYLEN);
			d->has_priv = true;
			break;
		case WGDEVICE_A_PUBLIC_KEY:
			if (l != KEYLEN)
				bad_format(di, "public key of a wrong size");
			memcpy(d->pub, ADATA(x), KEYLEN);
			d->has_pub = true;
			break;
		case WGDEVICE_A_LISTEN_PORT:
			if (l == 2)
				memcpy(&d->port, ADATA(x), 2);
			break;
		case WGDEVICE_A_FWMARK:
			if (l == 4)
				memcpy(&d->fwmark, ADATA(x), 4);
			break;
		case WGDEVICE_A_PEERS:
			if (!(x->nla_type & NLA_F_NESTED))
				bad_format(di, "peers without NLA_F_NESTED");
			FOR_ATTRS(y, ADATA(x), l)
				parse_peer(di, d, y);
			break;
		default:
			bad_format(di, "unknown device attribute");
		}
		if (ATYPE(x) != WGDEVICE_A_PEERS && !first)
			bad_format(di, "device attributes after the first message");
	}
}

/* Reads a dump's messages for seq until its end: 0 with d filled, or
 * the errno of an error message or of NLMSG_DONE. between, if given,
 * runs before the first read: the kernel made the first message when
 * the request was sent and makes the next one as this one is read, so
 * what between changes comes between two messages. */
static int dump_read(int fd, uint32_t seq, struct dev *d, struct dump_info *di,
		     void (*between)(void *), void *ctx)
{
	if (between)
		between(ctx);
	for (;;) {
		ssize_t n = nl_recv(fd);
		struct nlmsghdr *nlh;

		for (nlh = (struct nlmsghdr *)rbuf; NLMSG_OK(nlh, n);
		     nlh = NLMSG_NEXT(nlh, n)) {
			if (nlh->nlmsg_seq != seq)
				continue;
			if (nlh->nlmsg_flags & NLM_F_DUMP_INTR)
				di->intr = true;
			if (nlh->nlmsg_type == NLMSG_ERROR) {
				note_extack(nlh);
				return ((struct nlmsgerr *)NLMSG_DATA(nlh))->error;
			}
			if (nlh->nlmsg_type == NLMSG_DONE) {
				int err = 0;

				if (nlh->nlmsg_len >= NLMSG_LENGTH(sizeof(int)))
					memcpy(&err, NLMSG_DATA(nlh), sizeof(err));
				return err;
			}
			if (nlh->nlmsg_type != wg_family) {
				bad_format(di, "a message of another type");
				continue;
			}
			if (!(nlh->nlmsg_flags & NLM_F_MULTI))
				bad_format(di, "a dump message without NLM_F_MULTI");
			di->messages++;
			parse_device_msg(di, d, nlh);
		}
	}
}

/* A GET dump request (m, freed): 0 and d, or the errno. */
static int dump_req(int fd, struct msg *m, struct dev *d, struct dump_info *di)
{
	uint32_t seq = m->seq;
	int ret = nl_send(fd, m);

	msg_free(m);
	memset(d, 0, sizeof(*d));
	memset(di, 0, sizeof(*di));
	di->format_ok = true;
	if (ret)
		return ret;
	ret = dump_read(fd, seq, d, di, NULL, NULL);
	if (ret)
		dev_free(d);
	return ret;
}

static int sock;

/* The device now, or the run ends. */
static void snap(struct dev *d)
{
	struct dump_info di;
	int ret = dump_req(sock, req_get(), d, &di);

	if (ret)
		die("GET %s: %s", ifname, strerror(-ret));
	if (!di.format_ok)
		die("GET %s: malformed dump: %s", ifname, di.format_err);
	if (di.intr)
		die("GET %s: flagged NLM_F_DUMP_INTR with nothing changing it",
		    ifname);
}

/* ---- the cases ---- */

static int tests, failures;

static void report(bool ok, const char *fmt, ...)
{
	va_list ap;

	tests++;
	if (!ok)
		failures++;
	printf("%s %d - ", ok ? "ok" : "not ok", tests);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

static const char *ename(int err)
{
	static char buf[32];

	switch (-err) {
	case 0: return "0";
	case EINVAL: return "EINVAL";
	case ERANGE: return "ERANGE";
	case EBADR: return "EBADR";
	case ENODEV: return "ENODEV";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	case EPFNOSUPPORT: return "EPFNOSUPPORT";
	case EPERM: return "EPERM";
	case EMSGSIZE: return "EMSGSIZE";
	case ENOMEM: return "ENOMEM";
	case ENOBUFS: return "ENOBUFS";
	}
	snprintf(buf, sizeof(buf), "errno %d", -err);
	return buf;
}

/* Sends m (freed); the answer must be want, and the device afterwards
 * exactly exp (the state before, for a case that changes nothing). */
static void expect(const char *id, const char *what, struct msg *m, int want,
		   const struct dev *exp)
{
	struct dev after;
	char why[160] = "";
	int got = transact(sock, m);
	bool same;

	snap(&after);
	same = dev_eq(exp, &after, why, sizeof(why));
	report(got == want && same, "%s %s: %s (want %s)%s%s%s%s", id, what,
	       ename(got), ename(want), same ? "" : "; device: ", why,
	       got != want && last_extack[0] ? "; kernel says: " : "",
	       got != want ? last_extack : "");
	dev_free(&after);
}

static void expect_same(const char *id, const char *what, struct msg *m,
			int want)
{
	struct dev before;

	snap(&before);
	expect(id, what, m, want, &before);
	dev_free(&before);
}

/* Keys: fixed patterns, so that runs are comparable. */
static void key(uint8_t *k, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < KEYLEN; i++)
		k[i] = (uint8_t)(n * 41 + i * 7 + 1);
	k[1] ^= (uint8_t)(n >> 8); /* n * 41 repeats every 256 */
}

static void clamp(uint8_t *k)
{
	k[0] &= 248;
	k[31] = (uint8_t)((k[31] & 127) | 64);
}

static uint8_t priv1[KEYLEN], pub1[KEYLEN], priv2[KEYLEN], pub2[KEYLEN];
static uint8_t pk1[KEYLEN], pk2[KEYLEN], pk3[KEYLEN], psk1[KEYLEN];

static void sin4(struct sockaddr_in *s, const char *ip, uint16_t port)
{
	memset(s, 0, sizeof(*s));
	s->sin_family = AF_INET;
	s->sin_port = htons(port);
	inet_pton(AF_INET, ip, &s->sin_addr);
}

static void sin6(struct sockaddr_in6 *s, const char *ip, uint16_t port,
		 uint32_t scope)
{
	memset(s, 0, sizeof(*s));
	s->sin6_family = AF_INET6;
	s->sin6_port = htons(port);
	inet_pton(AF_INET6, ip, &s->sin6_addr);
	s->sin6_scope_id = scope;
}

/* One allowed-IP member, well formed. */
static void put_aip(struct msg *m, uint16_t family, const char *ip, uint8_t cidr)
{
	uint8_t a[16];

	inet_pton(family, ip, a);
	nest(m, 0);
	put_u16(m, WGALLOWEDIP_A_FAMILY, family);
	put(m, WGALLOWEDIP_A_IPADDR, a, family == AF_INET6 ? 16 : 4);
	put_u8(m, WGALLOWEDIP_A_CIDR_MASK, cidr);
	end(m);
}

static void model_aip(struct dev *d, struct peer *p, uint16_t family,
		      const char *ip, uint8_t cidr)
{
	uint8_t a[16] = { 0 };

	inet_pton(family, ip, a);
	aip_add(d, p, family, a, cidr);
}

static void model_ep(struct peer *p, const void *sa, size_t len)
{
	memcpy(p->ep, sa, len);
	p->eplen = (uint32_t)len;
}

/*
 * The configuration every group starts from: keys, port, fwmark, three
 * peers (endpoints v4 and v6, preshared key, keepalive, allowed IPs v4
 * and v6, one peer with none). Checked against the model, which the
 * cases then change.
 */
static void baseline(const char *id)
{
	struct sockaddr_in s4;
	struct sockaddr_in6 s6;
	struct dev exp, before;
	struct peer *p;
	struct msg *m = req_set();

	snap(&before);
	put_u32(m, WGDEVICE_A_FLAGS, WGDEVICE_F_REPLACE_PEERS);
	put(m, WGDEVICE_A_PRIVATE_KEY, priv1, KEYLEN);
	put_u16(m, WGDEVICE_A_LISTEN_PORT, 51820);
	put_u32(m, WGDEVICE_A_FWMARK, 0x1234);
	nest(m, WGDEVICE_A_PEERS);
	nest(m, 0);
	put(m, WGPEER_A_PUBLIC_KEY, pk1, KEYLEN);
	put(m, WGPEER_A_PRESHARED_KEY, psk1, KEYLEN);
	sin4(&s4, "192.0.2.1", 51820);
	put(m, WGPEER_A_ENDPOINT, &s4, sizeof(s4));
	put_u16(m, WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL, 25);
	nest(m, WGPEER_A_ALLOWEDIPS);
	put_aip(m, AF_INET, "10.1.0.0", 16);
	put_aip(m, AF_INET6, "fd00:1::", 64);
	end(m);
	end(m);
	nest(m, 0);
	put(m, WGPEER_A_PUBLIC_KEY, pk2, KEYLEN);
	sin6(&s6, "2001:db8::2", 4242, 0);
	put(m, WGPEER_A_ENDPOINT, &s6, sizeof(s6));
	nest(m, WGPEER_A_ALLOWEDIPS);
	put_aip(m, AF_INET, "10.2.0.0", 24);
	end(m);
	end(m);
	nest(m, 0);
	put(m, WGPEER_A_PUBLIC_KEY, pk3, KEYLEN);
	end(m);
	end(m);

	memset(&exp, 0, sizeof(exp));
	exp.has_priv = exp.has_pub = true;
	memcpy(exp.priv, priv1, KEYLEN);
	memcpy(exp.pub, pub1, KEYLEN);
	exp.port = 51820;
	exp.fwmark = 0x1234;
	exp.ifindex = before.ifindex;
	snprintf(exp.ifname, sizeof(exp.ifname), "%s", before.ifname);
	p = peer_add(&exp, pk1);
	memcpy(p->psk, psk1, KEYLEN);
	model_ep(p, &s4, sizeof(s4));
	p->keepalive = 25;
	model_aip(&exp, p, AF_INET, "10.1.0.0", 16);
	model_aip(&exp, p, AF_INET6, "fd00:1::", 64);
	p = peer_add(&exp, pk2);
	model_ep(p, &s6, sizeof(s6));
	model_aip(&exp, p, AF_INET, "10.2.0.0", 24);
	peer_add(&exp, pk3);
	expect(id, "baseline configuration set and read back exactly", m, 0,
	       &exp);
	dev_free(&exp);
	dev_free(&before);
}

/* The public key of a private key, as the interface derives it: set it,
 * read it back. */
static void learn_public(const uint8_t *priv, uint8_t *pub)
{
	struct msg *m = req_set();
	struct dev d;
	int ret;

	put(m, WGDEVICE_A_PRIVATE_KEY, priv, KEYLEN);
	ret = transact(sock, m);
	if (ret)
		die("setting a private key: %s", ename(ret));
	snap(&d);
	if (!d.has_pub)
		die("no public key after setting a private key");
	memcpy(pub, d.pub, KEYLEN);
	dev_free(&d);
}

static uint32_t index_of(const char *name)
{
	unsigned int i = if_nametoindex(name);

	if (!i)
		die("no interface %s", name);
	return i;
}

static void lookup_cases(void)
{
	struct msg *m;

	m = msg_new(wg_family, NLM_F_REQUEST | NLM_F_ACK, WG_CMD_SET_DEVICE);
	put_u32(m, WGDEVICE_A_FWMARK, 7);
	expect_same("L1", "SET with neither ifindex nor ifname", m, -EBADR);
	m = req_set();
	put_u32(m, WGDEVICE_A_IFINDEX, ifindex);
	expect_same("L2", "SET with both ifindex and ifname", m, -EBADR);
	m = msg_new(wg_family, NLM_F_REQUEST | NLM_F_ACK, WG_CMD_SET_DEVICE);
	put_strz(m, WGDEVICE_A_IFNAME, "wgnl-nodev0");
	expect_same("L3", "SET of an interface that does not exist", m, -ENODEV);
	m = msg_new(wg_family, NLM_F_REQUEST | NLM_F_ACK, WG_CMD_SET_DEVICE);
	put_u32(m, WGDEVICE_A_IFINDEX, 0x7ffffff0);
	expect_same("L4", "SET of an ifindex that does not exist", m, -ENODEV);
	m = msg_new(wg_family, NLM_F_REQUEST | NLM_F_ACK, WG_CMD_SET_DEVICE);
	put_strz(m, WGDEVICE_A_IFNAME, "lo");
	expect_same("L5", "SET of lo, not a wireguard interface", m, -EOPNOTSUPP);
	m = msg_new(wg_family, NLM_F_REQUEST | NLM_F_ACK, WG_CMD_SET_DEVICE);
	put_u32(m, WGDEVICE_A_IFINDEX, index_of("lo"));
	expect_same("L6", "SET of lo by ifindex", m, -EOPNOTSUPP);

	{
		static const struct {
			const char *id, *what;
			int how, want;
		} g[] = {
			{ "L7", "GET with neither ifindex nor ifname", 0, -EBADR },
			{ "L8", "GET with both ifindex and ifname", 1, -EBADR },
			{ "L9", "GET of an interface that does not exist", 2, -ENODEV },
			{ "L10", "GET of lo", 3, -EOPNOTSUPP },
		};
		unsigned int i;

		for (i = 0; i < sizeof(g) / sizeof(g[0]); i++) {
			struct dev d;
			struct dump_info di;
			int got;

			m = msg_new(wg_family,
				    NLM_F_REQUEST | NLM_F_ACK | NLM_F_DUMP,
				    WG_CMD_GET_DEVICE);
			if (g[i].how == 1) {
				put_strz(m, WGDEVICE_A_IFNAME, ifname);
				put_u32(m, WGDEVICE_A_IFINDEX, ifindex);
			} else if (g[i].how == 2) {
				put_strz(m, WGDEVICE_A_IFNAME, "wgnl-nodev0");
			} else if (g[i].how == 3) {
				put_strz(m, WGDEVICE_A_IFNAME, "lo");
			}
			got = dump_req(sock, m, &d, &di);
			report(got == g[i].want, "%s %s: %s (want %s)", g[i].id,
			       g[i].what, ename(got), ename(g[i].want));
			if (!got)
				dev_free(&d);
		}
	}

	{
		struct dev a, b;
		struct dump_info di;
		char why[160] = "";
		int got;

		snap(&a);
		m = msg_new(wg_family, NLM_F_REQUEST | NLM_F_ACK | NLM_F_DUMP,
			    WG_CMD_GET_DEVICE);
		put_u32(m, WGDEVICE_A_IFINDEX, ifindex);
		got = dump_req(sock, m, &b, &di);
		report(!got && di.format_ok && dev_eq(&a, &b, why, sizeof(why)),
		       "L11 GET by ifindex: %s, the same as by name%s%s",
		       ename(got), why[0] ? ": " : "", why);
		if (!got)
			dev_free(&b);
		dev_free(&a);
	}

	m = msg_new(wg_family, NLM_F_REQUEST | NLM_F_ACK, WG_CMD_SET_DEVICE);
	put(m, WGDEVICE_A_IFNAME, ifname, strlen(ifname));
	expect_same("L12", "ifname without its NUL", m, -EINVAL);
	m = msg_new(wg_family, NLM_F_REQUEST | NLM_F_ACK, WG_CMD_SET_DEVICE);
	put_strz(m, WGDEVICE_A_IFNAME, "abcdefghijklmnop");
	expect_same("L13", "ifname of 16 characters", m, -EINVAL);
	{
		char pad[20] = "lo";

		m = msg_new(wg_family, NLM_F_REQUEST | NLM_F_ACK,
			    WG_CMD_SET_DEVICE);
		put(m, WGDEVICE_A_IFNAME, pad, sizeof(pad));
		expect_same("L14", "ifname \"lo\" NUL-padded to 20 bytes", m,
			    -ERANGE);
	}
	m = msg_new(wg_family, NLM_F_REQUEST | NLM_F_ACK, WG_CMD_SET_DEVICE);
	{
		uint64_t idx = ifindex;

		put(m, WGDEVICE_A_IFINDEX, &idx, 8);
	}
	expect_same("L15", "ifindex of 8 bytes", m, -EINVAL);
}

/* Drops CAP_NET_ADMIN in a child and answers what a SET and a GET got. */
static void no_admin_cases(void)
{
	int pipefd[2], res[2] = { 1, 1 };
	pid_t pid;

	if (pipe(pipefd))
		die("pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (!pid) {
		struct __user_cap_header_struct h = {
			.version = _LINUX_CAPABILITY_VERSION_3,
		};
		struct __user_cap_data_struct c[2];
		struct dev d;
		struct dump_info di;
		int fd;

		if (syscall(SYS_capget, &h, c))
			_exit(3);
		c[0].effective &= ~(1U << CAP_NET_ADMIN);
		c[0].permitted &= ~(1U << CAP_NET_ADMIN);
		c[0].inheritable &= ~(1U << CAP_NET_ADMIN);
		if (syscall(SYS_capset, &h, c))
			_exit(3);
		fd = nl_open();
		res[0] = transact(fd, req_set());
		res[1] = dump_req(fd, req_get(), &d, &di);
		if (write(pipefd[1], res, sizeof(res)) != sizeof(res))
			_exit(3);
		_exit(0);
	}
	close(pipefd[1]);
	if (read(pipefd[0], res, sizeof(res)) != sizeof(res))
		res[0] = res[1] = 1;
	close(pipefd[0]);
	waitpid(pid, NULL, 0);
	report(res[0] == -EPERM, "C7 SET without CAP_NET_ADMIN: %s (want EPERM)",
	       res[0] == 1 ? "no answer" : ename(res[0]));
	report(res[1] == -EPERM, "C8 GET without CAP_NET_ADMIN: %s (want EPERM)",
	       res[1] == 1 ? "no answer" : ename(res[1]));
}

static void command_cases(void)
{
	struct msg *m;

	m = msg_new(wg_family, NLM_F_REQUEST | NLM_F_ACK, WG_CMD_GET_DEVICE);
	put_strz(m, WGDEVICE_A_IFNAME, ifname);
	expect_same("C1", "GET without NLM_F_DUMP", m, -EOPNOTSUPP);
	m = msg_new(wg_family, NLM_F_REQUEST | NLM_F_ACK | NLM_F_DUMP,
		    WG_CMD_SET_DEVICE);
	put_strz(m, WGDEVICE_A_IFNAME, ifname);
	expect_same("C2", "SET with NLM_F_DUMP", m, -EOPNOTSUPP);
	m = msg_new(wg_family, NLM_F_REQUEST | NLM_F_ACK, 2);
	put_strz(m, WGDEVICE_A_IFNAME, ifname);
	expect_same("C3", "command 2", m, -EOPNOTSUPP);
	m = msg_new(wg_family, NLM_F_REQUEST | NLM_F_ACK, WG_CMD_SET_DEVICE);
	m->len = NLMSG_HDRLEN + 2;
	expect_same("C4", "genetlink header of 2 bytes", m, -EINVAL);
	m = req_set();
	genl_hdr(m)->reserved = 1;
	expect_same("C5", "SET with the reserved field 1", m, 0);
	m = req_set();
	genl_hdr(m)->version = 7;
	expect_same("C6", "SET with genetlink version 7", m, 0);
	m = req_set();
	((struct nlmsghdr *)m->b)->nlmsg_flags |= NLM_F_ROOT | NLM_F_APPEND;
	expect_same("C9", "SET with NLM_F_ROOT and NLM_F_APPEND", m, 0);
	no_admin_cases();
}

static void device_cases(void)
{
	uint8_t k[40] = { 0 };
	struct msg *m;
	struct dev d;

	m = req_set();
	put(m, WGDEVICE_A_PRIVATE_KEY, k, 31);
	expect_same("D1", "private key of 31 bytes", m, -ERANGE);
	m = req_set();
	put(m, WGDEVICE_A_PRIVATE_KEY, k, 33);
	expect_same("D2", "private key of 33 bytes", m, -ERANGE);
	m = req_set();
	put(m, WGDEVICE_A_PUBLIC_KEY, k, 31);
	expect_same("D3", "public key of 31 bytes", m, -ERANGE);
	m = req_set();
	put(m, WGDEVICE_A_PUBLIC_KEY, pk2, KEYLEN);
	expect_same("D4", "public key of 32 bytes, which SET ignores", m, 0);
	m = req_set();
	put_u32(m, WGDEVICE_A_FLAGS, 1U << 1);
	expect_same("D5", "device flag 1<<1", m, -EOPNOTSUPP);
	m = req_set();
	put_u32(m, WGDEVICE_A_FLAGS, 1U << 31 | WGDEVICE_F_REPLACE_PEERS);
	put_u32(m, WGDEVICE_A_FWMARK, 0x999);
	expect_same("D6", "device flags 1<<31|REPLACE_PEERS and a new fwmark", m,
		    -EOPNOTSUPP);
	m = req_set();
	put_u16(m, WGDEVICE_A_FLAGS, 0);
	expect_same("D7", "device flags of 2 bytes", m, -EINVAL);
	m = req_set();
	put(m, WGDEVICE_A_FWMARK, k, 8);
	expect_same("D8", "fwmark of 8 bytes", m, -EINVAL);
	m = req_set();
	put_u32(m, WGDEVICE_A_LISTEN_PORT, 1);
	expect_same("D9", "listen port of 4 bytes", m, -EINVAL);
	m = req_set();
	put_u32(m, WGDEVICE_A_MAX + 1, 1);
	expect_same("D10", "attribute type 9", m, -EINVAL);
	m = req_set();
	put_u32(m, 0, 1);
	expect_same("D11", "attribute type 0", m, -EINVAL);
	m = req_set();
	put_u32(m, WGDEVICE_A_FWMARK | NLA_F_NESTED, 0x1234);
	expect_same("D12", "fwmark flagged NLA_F_NESTED", m, -EINVAL);
	m = req_set();
	nest_flags(m, WGDEVICE_A_PEERS);
	end(m);
	expect_same("D13", "peers without NLA_F_NESTED", m, -EINVAL);
	m = req_set();
	put(m, WGDEVICE_A_PEERS | NLA_F_NESTED, k, 2);
	expect_same("D14", "peers nest of 2 bytes", m, -ERANGE);
	m = req_set();
	put_lying(m, WGDEVICE_A_FWMARK, 64, 4);
	expect_same("D15", "an attribute claiming more than the message holds",
		    m, -EINVAL);
	m = req_set();
	put_lying(m, WGDEVICE_A_FWMARK, 2, 0);
	room(m, 2);
	expect_same("D16", "an attribute with nla_len 2", m, -EINVAL);
	m = req_set();
	nest(m, WGDEVICE_A_PEERS);
	end(m);
	expect_same("D17", "empty peers nest", m, 0);
	m = req_set();
	nest(m, WGDEVICE_A_PEERS);
	put_lying(m, NLA_F_NESTED, 100, 4);
	end(m);
	expect_same("D18", "a peer member claiming 100 bytes of 8", m, 0);

	/* D19: an unclamped key reads back clamped (the public key is that
	 * of priv2, whose clamped form it is). */
	snap(&d);
	memcpy(k, priv2, KEYLEN);
	k[0] |= 7;
	k[31] = (uint8_t)((k[31] | 128) & ~64);
	m = req_set();
	put(m, WGDEVICE_A_PRIVATE_KEY, k, KEYLEN);
	memcpy(d.priv, priv2, KEYLEN);
	memcpy(d.pub, pub2, KEYLEN);
	d.has_priv = d.has_pub = true;
	expect("D19", "unclamped private key, read back clamped", m, 0, &d);
	dev_free(&d);
	snap(&d);
	memset(k, 0, sizeof(k));
	m = req_set();
	put(m, WGDEVICE_A_PRIVATE_KEY, k, KEYLEN);
	d.has_priv = d.has_pub = false;
	expect("D20", "all-zero private key clears both keys", m, 0, &d);
	dev_free(&d);
}

static void peer_cases(void)
{
	uint8_t k[40] = { 0 }, nk[KEYLEN];
	struct msg *m;

	key(nk, 77);
	m = req_set();
	nest(m, WGDEVICE_A_PEERS);
	nest_flags(m, 0);
	put(m, WGPEER_A_PUBLIC_KEY, nk, KEYLEN);
	end(m);
	end(m);
	expect_same("P1", "peer member without NLA_F_NESTED", m, -EINVAL);
	m = req_set();
	nest(m, WGDEVICE_A_PEERS);
	nest(m, 0);
	put_u16(m, WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL, 5);
	end(m);
	end(m);
	expect_same("P2", "peer without public key", m, -EINVAL);
	m = req_set();
	nest(m, WGDEVICE_A_PEERS);
	nest(m, 0);
	put(m, WGPEER_A_PUBLIC_KEY, nk, 31);
	end(m);
	end(m);
	expect_same("P3", "peer public key of 31 bytes", m, -ERANGE);
	m = req_set();
	nest(m, WGDEVICE_A_PEERS);
	nest(m, 0);
	put(m, WGPEER_A_PUBLIC_KEY, pk1, KEYLEN);
	put(m, WGPEER_A_PRESHARED_KEY, k, 33);
	end(m);
	end(m);
	expect_same("P4", "preshared key of 33 bytes", m, -ERANGE);
	m = req_set();
	nest(m, WGDEVICE_A_PEERS);
	nest(m, 0);
	put(m, WGPEER_A_PUBLIC_KEY, nk, KEYLEN);
	put_u32(m, WGPEER_A_FLAGS, 1U << 3);
	end(m);
	end(m);
	expect_same("P5", "peer flag 1<<3", m, -EOPNOTSUPP);
	m = req_set();
	nest(m, WGDEVICE_A_PEERS);
	nest(m, 0);
	put(m, WGPEER_A_PUBLIC_KEY, pk1, KEYLEN);
	put_u32(m, WGPEER_A_FLAGS, WGPEER_F_REMOVE_ME | 1U << 3);
	end(m);
	end(m);
	expect_same("P6", "REMOVE_ME|1<<3 on a peer: not removed", m, -EOPNOTSUPP);
	m = req_set();
	nest(m, WGDEVICE_A_PEERS);
	nest(m, 0);
	put(m, WGPEER_A_PUBLIC_KEY, nk, KEYLEN);
	put_u32(m, WGPEER_A_PROTOCOL_VERSION, 2);
	end(m);
	end(m);
	expect_same("P7", "protocol version 2 for a new key: not created", m,
		    -EPFNOSUPPORT);
	m = req_set();
	nest(m, WGDEVICE_A_PEERS);
	nest(m, 0);
	put(m, WGPEER_A_PUBLIC_KEY, pk1, KEYLEN);
	put_u32(m, WGPEER_A_PROTOCOL_VERSION, 1);
	end(m);
	end(m);
	expect_same("P8", "protocol version 1", m, 0);
	m = req_set();
	nest(m, WGDEVICE_A_PEERS);
	nest(m, 0);
	put(m, WGPEER_A_PUBLIC_KEY, nk, KEYLEN);
	put_u32(m, WGPEER_A_MAX + 1, 0);
	end(m);
	end(m);
	expect_same("P9", "peer attribute type 11", m, -EINVAL);
	m = req_set();
	nest(m, WGDEVICE_A_PEERS);
	nest(m, 0);
	put_lying(m, WGPEER_A_PUBLIC_KEY, NLA_HDRLEN + KEYLEN, 16);
	end(m);
	end(m);
	expect_same("P10", "peer public key running past its nest", m, -EINVAL);
	m = req_set();
	nest(m, WGDEVICE_A_PEERS);
	nest(m, 0);
	put(m, WGPEER_A_PUBLIC_KEY, pk1, KEYLEN);
	put_u32(m, WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL, 5);
	end(m);
	end(m);
	expect_same("P11", "keepalive of 4 bytes", m, -EINVAL);
	m = req_set();
	nest(m, WGDEVICE_A_PEERS);
	nest(m, 0);
	put(m, WGPEER_A_PUBLIC_KEY, nk, KEYLEN);
	put_u32(m, WGPEER_A_FLAGS, WGPEER_F_UPDATE_ONLY);
	put_u16(m, WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL, 5);
	end(m);
	end(m);
	expect_same("P12", "UPDATE_ONLY for an unknown key: not created", m, 0);
	m = req_set();
	nest(m, WGDEVICE_A_PEERS);
	nest(m, 0);
	put(m, WGPEER_A_PUBLIC_KEY, nk, KEYLEN);
	put_u32(m, WGPEER_A_FLAGS, WGPEER_F_REMOVE_ME);
	end(m);
	end(m);
	expect_same("P13", "REMOVE_ME for an unknown key", m, 0);
	m = req_set();
	nest(m, WGDEVICE_A_PEERS);
	nest(m, 0);
	put(m, WGPEER_A_PUBLIC_KEY, pub1, KEYLEN);
	nest(m, WGPEER_A_ALLOWEDIPS);
	put_aip(m, AF_INET, "10.55.0.0", 16);
	end(m);
	end(m);
	end(m);
	expect_same("P14", "a peer with the device's own public key: ignored", m,
		    0);
	m = req_set();
	nest(m, WGDEVICE_A_PEERS);
	nest(m, 0);
	put(m, WGPEER_A_PUBLIC_KEY, pk1, KEYLEN);
	put(m, WGPEER_A_LAST_HANDSHAKE_TIME, k, 8);
	end(m);
	end(m);
	expect_same("P15", "last-handshake time of 8 bytes", m, -ERANGE);
	m = req_set();
	nest(m, WGDEVICE_A_PEERS);
	nest(m, 0);
	put(m, WGPEER_A_PUBLIC_KEY, pk1, KEYLEN);
	put(m, WGPEER_A_LAST_HANDSHAKE_TIME, k, 16);
	put(m, WGPEER_A_RX_BYTES, k, 8);
	put(m, WGPEER_A_TX_BYTES, k, 8);
	end(m);
	end(m);
	expect_same("P16", "last-handshake time and byte counts: ignored", m, 0);
	m = req_set();
	nest(m, WGDEVICE_A_PEERS);
	nest(m, 0);
	put(m, WGPEER_A_PUBLIC_KEY, pk1, KEYLEN);
	put(m, WGPEER_A_RX_BYTES, k, 4);
	end(m);
	end(m);
	expect_same("P17", "rx bytes of 4 bytes", m, -EINVAL);
}

static struct msg *req_peer(const uint8_t *pub)
{
	struct msg *m = req_set();

	nest(m, WGDEVICE_A_PEERS);
	nest(m, 0);
	put(m, WGPEER_A_PUBLIC_KEY, pub, KEYLEN);
	return m;
}

static void end_peer(struct msg *m)
{
	end(m);
	end(m);
}

static void endpoint_cases(void)
{
	uint8_t raw[32] = { 0 };
	struct sockaddr_in s4;
	struct sockaddr_in6 s6;
	struct msg *m;
	struct dev d;

	m = req_peer(pk1);
	put(m, WGPEER_A_ENDPOINT, raw, 8);
	end_peer(m);
	expect_same("E1", "endpoint of 8 bytes", m, -ERANGE);
	sin4(&s4, "198.51.100.7", 1000);
	memcpy(raw, &s4, sizeof(s4));
	m = req_peer(pk1);
	put(m, WGPEER_A_ENDPOINT, raw, 20);
	end_peer(m);
	expect_same("E2", "AF_INET endpoint of 20 bytes: ignored", m, 0);
	sin6(&s6, "2001:db8::7", 1000, 0);
	m = req_peer(pk1);
	put(m, WGPEER_A_ENDPOINT, &s6, 16);
	end_peer(m);
	expect_same("E3", "AF_INET6 endpoint of 16 bytes: ignored", m, 0);
	memset(raw, 0, sizeof(raw));
	raw[0] = AF_UNIX;
	m = req_peer(pk1);
	put(m, WGPEER_A_ENDPOINT, raw, 16);
	end_peer(m);
	expect_same("E4", "AF_UNIX endpoint: ignored", m, 0);

	snap(&d);
	sin6(&s6, "fe80::1:2", 51821, ifindex);
	m = req_peer(pk2);
	put(m, WGPEER_A_ENDPOINT, &s6, sizeof(s6));
	end_peer(m);
	model_ep(peer_find(&d, pk2), &s6, sizeof(s6));
	expect("E5", "link-local AF_INET6 endpoint with its scope id", m, 0, &d);
	dev_free(&d);
}

static void aip_member(struct msg *m, int fam, const void *addr, int alen,
		       int cidr)
{
	nest(m, 0);
	if (fam >= 0)
		put_u16(m, WGALLOWEDIP_A_FAMILY, (uint16_t)fam);
	if (alen >= 0)
		put(m, WGALLOWEDIP_A_IPADDR, addr, (size_t)alen);
	if (cidr >= 0)
		put_u8(m, WGALLOWEDIP_A_CIDR_MASK, (uint8_t)cidr);
	end(m);
}

static struct msg *req_aips(const uint8_t *pub)
{
	struct msg *m = req_peer(pub);

	nest(m, WGPEER_A_ALLOWEDIPS);
	return m;
}

static void end_aips(struct msg *m)
{
	end(m);
	end_peer(m);
}

static void aip_cases(void)
{
	uint8_t a4[4] = { 10, 9, 0, 0 }, a6[16] = { 0xfd, 0, 9 };
	struct msg *m;
	struct dev d;

	m = req_aips(pk1);
	aip_member(m, 1, a4, 4, 16);
	end_aips(m);
	expect_same("A1", "allowed IP of family 1", m, -EINVAL);
	m = req_aips(pk1);
	aip_member(m, AF_INET, a4, 4, 33);
	end_aips(m);
	expect_same("A2", "IPv4 /33", m, -EINVAL);
	m = req_aips(pk1);
	aip_member(m, AF_INET6, a6, 16, 129);
	end_aips(m);
	expect_same("A3", "IPv6 /129", m, -EINVAL);
	m = req_aips(pk1);
	aip_member(m, AF_INET, a6, 16, 16);
	end_aips(m);
	expect_same("A4", "AF_INET with a 16-byte address", m, -EINVAL);
	m = req_aips(pk1);
	aip_member(m, AF_INET6, a4, 4, 16);
	end_aips(m);
	expect_same("A5", "AF_INET6 with a 4-byte address", m, -EINVAL);
	m = req_aips(pk1);
	aip_member(m, AF_INET, a4, 3, 16);
	end_aips(m);
	expect_same("A6", "address of 3 bytes", m, -ERANGE);
	m = req_aips(pk1);
	aip_member(m, AF_INET, a4, 4, -1);
	end_aips(m);
	expect_same("A7", "allowed IP without cidr", m, -EINVAL);
	m = req_aips(pk1);
	aip_member(m, -1, a4, 4, 16);
	end_aips(m);
	expect_same("A8", "allowed IP without family", m, -EINVAL);
	m = req_aips(pk1);
	nest_flags(m, 0);
	put_u16(m, WGALLOWEDIP_A_FAMILY, AF_INET);
	put(m, WGALLOWEDIP_A_IPADDR, a4, 4);
	put_u8(m, WGALLOWEDIP_A_CIDR_MASK, 16);
	end(m);
	end_aips(m);
	expect_same("A9", "allowed-IP member without NLA_F_NESTED", m, -EINVAL);
	m = req_peer(pk1);
	nest_flags(m, WGPEER_A_ALLOWEDIPS);
	aip_member(m, AF_INET, a4, 4, 16);
	end(m);
	end_peer(m);
	expect_same("A10", "allowed-IPs nest without NLA_F_NESTED", m, -EINVAL);
	m = req_aips(pk1);
	nest(m, 0);
	put_u16(m, WGALLOWEDIP_A_FAMILY, AF_INET);
	put(m, WGALLOWEDIP_A_IPADDR, a4, 4);
	put_u8(m, WGALLOWEDIP_A_CIDR_MASK, 16);
	put_u8(m, WGALLOWEDIP_A_MAX + 1, 0);
	end(m);
	end_aips(m);
	expect_same("A11", "allowed-IP attribute type 4", m, -EINVAL);
	m = req_aips(pk1);
	nest(m, 0);
	put_u16(m, WGALLOWEDIP_A_FAMILY, AF_INET);
	put(m, WGALLOWEDIP_A_IPADDR, a4, 4);
	put_u16(m, WGALLOWEDIP_A_CIDR_MASK, 16);
	end(m);
	end_aips(m);
	expect_same("A12", "cidr of 2 bytes", m, -EINVAL);

	snap(&d);
	m = req_aips(pk2);
	put_aip(m, AF_INET, "10.77.0.0", 16);
	put_lying(m, NLA_F_NESTED, 200, 8);
	end_aips(m);
	model_aip(&d, peer_find(&d, pk2), AF_INET, "10.77.0.0", 16);
	expect("A13", "a prefix, then a member claiming 200 bytes: the prefix "
		      "applied, the rest ignored", m, 0, &d);
	dev_free(&d);
	snap(&d);
	m = req_aips(pk2);
	put_aip(m, AF_INET, "10.66.1.2", 16);
	end_aips(m);
	model_aip(&d, peer_find(&d, pk2), AF_INET, "10.66.0.0", 16);
	expect("A14", "10.66.1.2/16 reads back as 10.66.0.0/16", m, 0, &d);
	dev_free(&d);
}

/* Requests whose later part fails, and what the in-tree keeps of them. */
static void partial_cases(void)
{
	uint8_t psk[KEYLEN], nk[KEYLEN], nk2[KEYLEN];
	struct sockaddr_in s4;
	struct peer *p;
	struct msg *m;
	struct dev d;

	key(psk, 90);
	key(nk, 91);
	key(nk2, 92);

	baseline("X0");
	snap(&d);
	sin4(&s4, "203.0.113.9", 7777);
	m = req_peer(pk1);
	put(m, WGPEER_A_PRESHARED_KEY, psk, KEYLEN);
	put(m, WGPEER_A_ENDPOINT, &s4, sizeof(s4));
	put_u16(m, WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL, 77);
	nest(m, WGPEER_A_ALLOWEDIPS);
	put_aip(m, AF_INET, "10.99.0.0", 16);
	aip_member(m, AF_INET, "\x0a\x63\x01\x00", 4, 33);
	end(m);
	end_peer(m);
	p = peer_find(&d, pk1);
	memcpy(p->psk, psk, KEYLEN);
	model_ep(p, &s4, sizeof(s4));
	model_aip(&d, p, AF_INET, "10.99.0.0", 16);
	expect("X1", "psk, endpoint, keepalive, a good and a bad allowed IP: "
		     "psk, endpoint and the good IP stay, keepalive not set",
	       m, -EINVAL, &d);
	dev_free(&d);

	snap(&d);
	m = req_set();
	put_u32(m, WGDEVICE_A_FLAGS, WGDEVICE_F_REPLACE_PEERS);
	put(m, WGDEVICE_A_PRIVATE_KEY, priv2, KEYLEN);
	nest(m, WGDEVICE_A_PEERS);
	nest(m, 0);
	put(m, WGPEER_A_PUBLIC_KEY, nk, KEYLEN);
	nest(m, WGPEER_A_ALLOWEDIPS);
	put_aip(m, AF_INET6, "fd00:77::", 48);
	end(m);
	end(m);
	nest(m, 0);
	put_u16(m, WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL, 1);
	end(m);
	end(m);
	while (d.npeers)
		peer_del(&d, d.peers[0].pub);
	memcpy(d.priv, priv2, KEYLEN);
	memcpy(d.pub, pub2, KEYLEN);
	p = peer_add(&d, nk);
	model_aip(&d, p, AF_INET6, "fd00:77::", 48);
	expect("X2", "replace peers, new private key, a new peer, a peer "
		     "without key: all but the last applied", m, -EINVAL, &d);
	dev_free(&d);

	baseline("X0");
	snap(&d);
	m = req_set();
	nest(m, WGDEVICE_A_PEERS);
	nest(m, 0);
	put(m, WGPEER_A_PUBLIC_KEY, pk3, KEYLEN);
	put_u16(m, WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL, 11);
	end(m);
	nest(m, 0);
	put(m, WGPEER_A_PUBLIC_KEY, pk2, KEYLEN);
	put_u32(m, WGPEER_A_FLAGS, 1U << 3);
	end(m);
	end(m);
	peer_find(&d, pk3)->keepalive = 11;
	expect("X3", "a peer updated, then a peer with flag 1<<3: the first "
		     "stays", m, -EOPNOTSUPP, &d);
	dev_free(&d);

	snap(&d);
	m = req_peer(pk1);
	put_u32(m, WGPEER_A_FLAGS, WGPEER_F_REPLACE_ALLOWEDIPS);
	nest(m, WGPEER_A_ALLOWEDIPS);
	aip_member(m, 9, "\x0a\x00\x00\x00", 4, 8);
	end(m);
	end_peer(m);
	peer_find(&d, pk1)->nips = 0;
	expect("X4", "replace allowed IPs, then a bad one: the old ones are "
		     "gone", m, -EINVAL, &d);
	dev_free(&d);

	snap(&d);
	m = req_peer(nk2);
	put(m, WGPEER_A_PRESHARED_KEY, psk, KEYLEN);
	nest(m, WGPEER_A_ALLOWEDIPS);
	aip_member(m, 9, "\x0a\x00\x00\x00", 4, 8);
	end(m);
	end_peer(m);
	memcpy(peer_add(&d, nk2)->psk, psk, KEYLEN);
	expect("X5", "a new peer with psk, then an allowed IP of family 9: "
		     "the peer stays", m, -EINVAL, &d);
	dev_free(&d);

	snap(&d);
	m = req_peer(nk);
	nest(m, WGPEER_A_ALLOWEDIPS);
	aip_member(m, AF_INET6, "\xfd", 1, 8);
	end(m);
	end_peer(m);
	peer_add(&d, nk);
	expect("X6", "a new peer, then an address of 1 byte: the policy "
		     "error comes after the peer was made", m, -ERANGE, &d);
	dev_free(&d);
}

static void change_cases(void)
{
	uint8_t nk[KEYLEN];
	struct peer *p;
	struct msg *m;
	struct dev d;

	key(nk, 93);
	baseline("X0");
	snap(&d);
	m = req_aips(pk3);
	put_aip(m, AF_INET, "10.1.0.0", 16);
	end_aips(m);
	model_aip(&d, peer_find(&d, pk3), AF_INET, "10.1.0.0", 16);
	expect("X7", "a prefix another peer holds moves to the end of this "
		     "one's list", m, 0, &d);
	dev_free(&d);

	/* A peer whose key is pub2, then the device's key becomes priv2. */
	snap(&d);
	m = req_peer(pub2);
	end_peer(m);
	peer_add(&d, pub2);
	expect("X8", "a peer with the public key of another private key", m, 0,
	       &d);
	dev_free(&d);
	snap(&d);
	m = req_set();
	put(m, WGDEVICE_A_PRIVATE_KEY, priv2, KEYLEN);
	peer_del(&d, pub2);
	memcpy(d.priv, priv2, KEYLEN);
	memcpy(d.pub, pub2, KEYLEN);
	expect("X9", "that private key set: the peer with its public key goes",
	       m, 0, &d);
	dev_free(&d);

	snap(&d);
	m = req_peer(pk2);
	put_u32(m, WGPEER_A_FLAGS, WGPEER_F_REMOVE_ME);
	nest(m, WGPEER_A_ALLOWEDIPS);
	put_aip(m, AF_INET, "10.88.0.0", 16);
	end(m);
	end_peer(m);
	peer_del(&d, pk2);
	expect("X10", "REMOVE_ME (with allowed IPs, ignored)", m, 0, &d);
	dev_free(&d);

	snap(&d);
	m = req_peer(pk1);
	put_u32(m, WGPEER_A_FLAGS, WGPEER_F_UPDATE_ONLY);
	put_u16(m, WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL, 0);
	end_peer(m);
	peer_find(&d, pk1)->keepalive = 0;
	expect("X11", "UPDATE_ONLY on a peer, keepalive off", m, 0, &d);
	dev_free(&d);

	snap(&d);
	m = req_peer(pk1);
	put_u32(m, WGPEER_A_FLAGS, WGPEER_F_REPLACE_ALLOWEDIPS);
	nest(m, WGPEER_A_ALLOWEDIPS);
	put_aip(m, AF_INET6, "2001:db8:5::", 48);
	put_aip(m, AF_INET, "0.0.0.0", 0);
	put_aip(m, AF_INET6, "::", 0);
	put_aip(m, AF_INET, "192.0.2.77", 32);
	end(m);
	end_peer(m);
	p = peer_find(&d, pk1);
	p->nips = 0;
	model_aip(&d, p, AF_INET6, "2001:db8:5::", 48);
	model_aip(&d, p, AF_INET, "0.0.0.0", 0);
	model_aip(&d, p, AF_INET6, "::", 0);
	model_aip(&d, p, AF_INET, "192.0.2.77", 32);
	expect("X12", "REPLACE_ALLOWEDIPS with a list, /0 and /32 among it", m,
	       0, &d);
	dev_free(&d);

	snap(&d);
	m = req_set();
	put_u16(m, WGDEVICE_A_LISTEN_PORT, 0);
	put_u32(m, WGDEVICE_A_FWMARK, 0);
	d.port = 0;
	d.fwmark = 0;
	expect("X13", "listen port and fwmark 0", m, 0, &d);
	dev_free(&d);
}

/* ---- volume ---- */

static void huge_cases(void)
{
	struct dump_info di;
	struct peer *p;
	struct msg *m;
	struct dev d, got;
	char why[160] = "";
	int i, ret;

	baseline("X0");
	m = req_set();
	for (i = 0; i < 20000; i++)
		put_u32(m, WGDEVICE_A_FWMARK, 0x1234);
	expect_same("H1", "20000 fwmark attributes, the value it has", m, 0);
	m = req_set();
	for (i = 0; i < 16000; i++)
		put_u32(m, WGDEVICE_A_MAX + 1, (uint32_t)i);
	expect_same("H2", "16000 attributes of type 9", m, -EINVAL);

	snap(&d);
	m = req_aips(pk3);
	p = peer_find(&d, pk3);
	/* 2000 members of 28 bytes: as many as the 16-bit nest length
	 * allows, with room to spare. */
	for (i = 0; i < 2000; i++) {
		uint8_t a[4] = { 10, 200, (uint8_t)(i >> 8), (uint8_t)i };

		nest(m, 0);
		put_u16(m, WGALLOWEDIP_A_FAMILY, AF_INET);
		put(m, WGALLOWEDIP_A_IPADDR, a, 4);
		put_u8(m, WGALLOWEDIP_A_CIDR_MASK, 32);
		end(m);
		aip_add(&d, p, AF_INET, a, 32);
	}
	end_aips(m);
	expect("H3", "2000 allowed IPs in one request, all dumped in order", m,
	       0, &d);
	dev_free(&d);
	ret = dump_req(sock, req_get(), &got, &di);
	report(!ret && di.messages > 1 && di.format_ok,
	       "H3 the dump took %d messages, every piece of a peer carrying "
	       "its key%s%s", di.messages, di.format_ok ? "" : ": ",
	       di.format_err);
	if (!ret)
		dev_free(&got);

	snap(&d);
	m = req_set();
	nest(m, WGDEVICE_A_PEERS);
	for (i = 0; i < 300; i++) {
		uint8_t k[KEYLEN], a[16] = { 0xfd, 0x42, (uint8_t)(i >> 8),
					     (uint8_t)i };
		uint8_t b[4] = { 10, 201, (uint8_t)(i >> 8), (uint8_t)i };

		key(k, 1000 + (unsigned int)i);
		nest(m, 0);
		put(m, WGPEER_A_PUBLIC_KEY, k, KEYLEN);
		put_u16(m, WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL,
			(uint16_t)(i + 1));
		nest(m, WGPEER_A_ALLOWEDIPS);
		nest(m, 0);
		put_u16(m, WGALLOWEDIP_A_FAMILY, AF_INET6);
		put(m, WGALLOWEDIP_A_IPADDR, a, 16);
		put_u8(m, WGALLOWEDIP_A_CIDR_MASK, 64);
		end(m);
		nest(m, 0);
		put_u16(m, WGALLOWEDIP_A_FAMILY, AF_INET);
		put(m, WGALLOWEDIP_A_IPADDR, b, 4);
		put_u8(m, WGALLOWEDIP_A_CIDR_MASK, 32);
		end(m);
		end(m);
		end(m);
		p = peer_add(&d, k);
		p->keepalive = (uint16_t)(i + 1);
		aip_add(&d, p, AF_INET6, a, 64);
		aip_add(&d, p, AF_INET, b, 32);
	}
	end(m);
	expect("H4", "300 peers in one request", m, 0, &d);
	dev_free(&d);

	m = req_set();
	nest(m, WGDEVICE_A_PEERS);
	for (i = 0; i < 1300; i++) { /* 48 bytes each, in one nest */
		uint8_t k[KEYLEN];

		key(k, 5000 + (unsigned int)i);
		nest(m, 0);
		put(m, WGPEER_A_PUBLIC_KEY, k, KEYLEN);
		put_u32(m, WGPEER_A_FLAGS, WGPEER_F_UPDATE_ONLY);
		end(m);
	}
	end(m);
	expect_same("H5", "1300 UPDATE_ONLY peers of unknown keys", m, 0);

	m = req_set();
	for (i = 0; i < 50000; i++)
		put_u32(m, WGDEVICE_A_FWMARK, 0x1234);
	ret = transact(sock, m);
	report(ret == -EMSGSIZE, "H6 a request of 400 KB: %s from sendmsg "
	       "(want EMSGSIZE)", ename(ret));
	(void)why;
}

/* ---- dumps ---- */

struct between_ctx {
	int fd;
	struct msg *m;
	int ret;
};

/* After the dump's first message was made: the change. */
static void change_between(void *arg)
{
	struct between_ctx *c = arg;

	c->ret = transact(c->fd, c->m);
}

static void dump_cases(void)
{
	struct between_ctx c;
	struct dump_info di;
	struct dev a, b;
	char why[160] = "";
	struct msg *m;
	uint32_t seq;
	int ret, other = nl_open();

	snap(&a);
	m = req_get();
	put_u32(m, WGDEVICE_A_FWMARK, 5);
	ret = dump_req(sock, m, &b, &di);
	report(!ret && dev_eq(&a, &b, why, sizeof(why)),
	       "G1 GET with a valid extra attribute: %s, the same dump%s%s",
	       ename(ret), why[0] ? ": " : "", why);
	if (!ret)
		dev_free(&b);
	dev_free(&a);
	m = req_get();
	put(m, WGDEVICE_A_PRIVATE_KEY, priv1, 31);
	ret = dump_req(sock, m, &b, &di);
	report(ret == -ERANGE, "G2 GET with a private key of 31 bytes: %s "
	       "(want ERANGE)", ename(ret));
	if (!ret)
		dev_free(&b);
	m = req_get();
	put_u32(m, WGDEVICE_A_MAX + 1, 0);
	ret = dump_req(sock, m, &b, &di);
	report(ret == -EINVAL, "G3 GET with attribute type 9: %s (want EINVAL)",
	       ename(ret));
	if (!ret)
		dev_free(&b);

	/* A dump of many messages, and a change after the first. */
	c.fd = other;
	c.m = req_set();
	put_u32(c.m, WGDEVICE_A_FWMARK, 0x4321);
	c.ret = 1;
	m = req_get();
	seq = m->seq;
	ret = nl_send(sock, m);
	msg_free(m);
	memset(&di, 0, sizeof(di));
	di.format_ok = true;
	memset(&b, 0, sizeof(b));
	if (!ret)
		ret = dump_read(sock, seq, &b, &di, change_between, &c);
	report(!ret && !c.ret && di.intr && di.messages > 1,
	       "G4 a change between two messages of a dump: %s, flagged "
	       "NLM_F_DUMP_INTR: %s (%d messages)", ename(ret),
	       di.intr ? "yes" : "no", di.messages);
	dev_free(&b);

	c.m = req_set();
	put_u32(c.m, WGDEVICE_A_FLAGS, WGDEVICE_F_REPLACE_PEERS);
	c.ret = 1;
	m = req_get();
	seq = m->seq;
	ret = nl_send(sock, m);
	msg_free(m);
	memset(&di, 0, sizeof(di));
	di.format_ok = true;
	memset(&b, 0, sizeof(b));
	if (!ret)
		ret = dump_read(sock, seq, &b, &di, change_between, &c);
	report(!ret && !c.ret && di.intr && di.format_ok,
	       "G5 every peer removed between two messages: the dump ends "
	       "(%s), flagged NLM_F_DUMP_INTR: %s%s%s", ename(ret),
	       di.intr ? "yes" : "no", di.format_ok ? "" : "; ",
	       di.format_err);
	dev_free(&b);
	close(other);
}

/* ---- keys in the request ---- */

static bool all_zero(const void *p, size_t n)
{
	const uint8_t *b = p;

	while (n--)
		if (*b++)
			return false;
	return true;
}

/*
 * W1: genetlink echoes a failed request in its error answer (unless the
 * socket asked for NETLINK_CAP_ACK), after the command ran: the private
 * key and the preshared keys of the peers the request reached must be
 * zeros by then.
 */
static void wipe_cases(void)
{
	uint8_t psk[KEYLEN];
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	bool ok = false, seen = false;
	int err = 1, keys = 0;
	struct msg *m;
	uint32_t seq;

	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)))
		die("socket: %s", strerror(errno));
	key(psk, 94);
	m = req_set();
	put(m, WGDEVICE_A_PRIVATE_KEY, priv1, KEYLEN);
	nest(m, WGDEVICE_A_PEERS);
	nest(m, 0);
	put(m, WGPEER_A_PUBLIC_KEY, pk1, KEYLEN);
	put(m, WGPEER_A_PRESHARED_KEY, psk, KEYLEN);
	end(m);
	nest(m, 0);
	put(m, WGPEER_A_PRESHARED_KEY, psk, KEYLEN); /* no public key */
	end(m);
	end(m);
	seq = m->seq;
	if (nl_send(fd, m))
		die("send: %s", strerror(errno));
	msg_free(m);
	while (!seen) {
		ssize_t n = nl_recv(fd);
		struct nlmsghdr *nlh;

		for (nlh = (struct nlmsghdr *)rbuf; NLMSG_OK(nlh, n);
		     nlh = NLMSG_NEXT(nlh, n)) {
			const struct nlmsgerr *e = NLMSG_DATA(nlh);
			const uint8_t *p;
			size_t len;

			if (nlh->nlmsg_seq != seq || nlh->nlmsg_type != NLMSG_ERROR)
				continue;
			seen = true;
			err = e->error;
			if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(*e)) ||
			    (nlh->nlmsg_flags & NLM_F_CAPPED) ||
			    e->msg.nlmsg_len < NLMSG_HDRLEN + GENL_HDRLEN ||
			    nlh->nlmsg_len < NLMSG_LENGTH(sizeof(*e)) +
						     e->msg.nlmsg_len - NLMSG_HDRLEN)
				break;
			p = (const uint8_t *)(&e->msg + 1) + GENL_HDRLEN;
			len = e->msg.nlmsg_len - NLMSG_HDRLEN - GENL_HDRLEN;
			ok = true;
			FOR_ATTRS(a, p, len) {
				if (ATYPE(a) == WGDEVICE_A_PRIVATE_KEY) {
					ok = ok && all_zero(ADATA(a), ALEN(a));
					keys++;
				}
				if (ATYPE(a) != WGDEVICE_A_PEERS)
					continue;
				FOR_ATTRS(b, ADATA(a), ALEN(a))
					FOR_ATTRS(c, ADATA(b), ALEN(b))
						if (ATYPE(c) == WGPEER_A_PRESHARED_KEY) {
							ok = ok && all_zero(ADATA(c), ALEN(c));
							keys++;
						}
			}
			break;
		}
	}
	close(fd);
	report(err == -EINVAL && ok && keys == 3,
	       "W1 a failed SET echoed back: %s (want EINVAL), its private key "
	       "and the preshared keys of the peers it reached wiped (%d keys "
	       "found, want 3): %s", ename(err), keys, ok ? "zeros" : "NOT zeros");
}

/* ---- the dump mode ---- */

static void hex(const uint8_t *k, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		printf("%02x", k[i]);
}

static void print_dev(const struct dev *d)
{
	char ip[INET6_ADDRSTRLEN];
	size_t i, j;

	printf("ifname %s\nifindex %u\n", d->ifname, d->ifindex);
	if (d->has_priv) {
		printf("private_key ");
		hex(d->priv, KEYLEN);
		printf("\n");
	}
	if (d->has_pub) {
		printf("public_key ");
		hex(d->pub, KEYLEN);
		printf("\n");
	}
	printf("listen_port %u\nfwmark %u\n", d->port, d->fwmark);
	for (i = 0; i < d->npeers; i++) {
		const struct peer *p = &d->peers[i];

		printf("peer ");
		hex(p->pub, KEYLEN);
		printf("\n  preshared_key ");
		hex(p->psk, KEYLEN);
		printf("\n  persistent_keepalive %u\n", p->keepalive);
		if (p->eplen == sizeof(struct sockaddr_in)) {
			struct sockaddr_in s;

			memcpy(&s, p->ep, sizeof(s));
			inet_ntop(AF_INET, &s.sin_addr, ip, sizeof(ip));
			printf("  endpoint %s:%u\n", ip, ntohs(s.sin_port));
		} else if (p->eplen == sizeof(struct sockaddr_in6)) {
			struct sockaddr_in6 s;

			memcpy(&s, p->ep, sizeof(s));
			inet_ntop(AF_INET6, &s.sin6_addr, ip, sizeof(ip));
			printf("  endpoint [%s%%%u]:%u flowinfo %u\n", ip,
			       s.sin6_scope_id, ntohs(s.sin6_port),
			       s.sin6_flowinfo);
		}
		if (p->eplen) {
			printf("  endpoint_raw ");
			hex(p->ep, p->eplen);
			printf("\n");
		}
		for (j = 0; j < p->nips; j++) {
			inet_ntop(p->ips[j].family, p->ips[j].addr, ip,
				  sizeof(ip));
			printf("  allowed_ip %s/%u\n", ip, p->ips[j].cidr);
		}
	}
}

/* ---- main ---- */

static uint16_t resolve_family(int fd, const char *name)
{
	struct msg *m = msg_new(GENL_ID_CTRL, NLM_F_REQUEST, CTRL_CMD_GETFAMILY);
	uint32_t seq = m->seq;
	int ret;

	put_strz(m, CTRL_ATTR_FAMILY_NAME, name);
	ret = nl_send(fd, m);
	msg_free(m);
	if (ret)
		die("resolving %s: %s", name, strerror(-ret));
	for (;;) {
		ssize_t n = nl_recv(fd);
		struct nlmsghdr *nlh;

		for (nlh = (struct nlmsghdr *)rbuf; NLMSG_OK(nlh, n);
		     nlh = NLMSG_NEXT(nlh, n)) {
			const uint8_t *p;
			size_t len;

			if (nlh->nlmsg_seq != seq)
				continue;
			if (nlh->nlmsg_type == NLMSG_ERROR)
				die("no generic netlink family %s (is the module "
				    "loaded?): %s", name,
				    strerror(-((struct nlmsgerr *)NLMSG_DATA(nlh))->error));
			p = (const uint8_t *)NLMSG_DATA(nlh) + GENL_HDRLEN;
			len = nlh->nlmsg_len - NLMSG_HDRLEN - GENL_HDRLEN;
			FOR_ATTRS(a, p, len)
				if (ATYPE(a) == CTRL_ATTR_FAMILY_ID && ALEN(a) == 2) {
					uint16_t id;

					memcpy(&id, ADATA(a), 2);
					return id;
				}
			die("family %s: no id in the answer", name);
		}
	}
}

int main(int argc, char **argv)
{
	bool dump_mode = argc == 3 && !strcmp(argv[1], "dump");

	if (!(argc == 2 && argv[1][0] != '-') && !dump_mode) {
		fprintf(stderr, "usage: %s IFACE | dump IFACE\n", argv[0]);
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	ifname = argv[argc - 1];
	ifindex = index_of(ifname);
	sock = nl_open();
	wg_family = resolve_family(sock, WG_GENL_NAME);
	if (dump_mode) {
		struct dev d;

		snap(&d);
		print_dev(&d);
		dev_free(&d);
		return 0;
	}

	key(priv1, 1);
	clamp(priv1);
	key(priv2, 2);
	clamp(priv2);
	key(pk1, 11);
	key(pk2, 12);
	key(pk3, 13);
	key(psk1, 21);
	learn_public(priv2, pub2);
	learn_public(priv1, pub1);

	baseline("B1");
	lookup_cases();
	command_cases();
	device_cases();
	baseline("B2");
	peer_cases();
	endpoint_cases();
	aip_cases();
	partial_cases();
	change_cases();
	huge_cases();
	dump_cases();
	wipe_cases();

	printf("1..%d\n", tests);
	printf("# %d passed, %d failed\n", tests - failures, failures);
	return failures ? 1 : 0;
}
