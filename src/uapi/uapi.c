// SPDX-License-Identifier: MIT
/*
 * The cross-platform configuration protocol: a streaming parser for "set"
 * and a printer for "get", applied to a struct cwg_device.
 *
 * Behaviour follows wireguard-go's device/uapi.go, which is what `wg` and
 * other clients are tested against:
 *   - errno values are negative Linux errnos: `wg` reads "errno=%d" and
 *     sets errno = -value before perror(), so "errno=-22" prints "Invalid
 *     argument";
 *   - a line without '=' is -EPROTO, anything else malformed -EINVAL;
 *   - device keys (private_key, listen_port, fwmark, replace_peers) are
 *     accepted only before the first public_key line, peer keys only after;
 *   - a peer is created at its public_key line; update_only=true undoes a
 *     creation made by this request; remove=true removes it; the lines
 *     after either, and all lines of a peer whose key is the device's own,
 *     are still parsed (and rejected when malformed) but not applied;
 *   - allowed_ip=-PREFIX removes PREFIX, as newer wireguard-go does;
 *   - an unknown operation closes the connection without a reply.
 * Where we differ, it is said where it happens.
 *
 * Locking: a connection is used by one thread at a time. Configuration
 * lines are applied under the device's cfg write lock, taken lazily at the
 * first line of a feed call and dropped when the call returns, so a client
 * that stops mid-request holds nothing. The lock is also dropped around the
 * host's callbacks (listen_port, fwmark, interface names): rebinding
 * sockets may need the data path threads, which take the read side, to
 * make progress, and the host's locks are never taken inside it. Because the
 * lock is not held between feed calls, the current peer is remembered by
 * its public key and looked up again each time the lock is retaken.
 */
#include <cwg/uapi.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "crypto/crypto.h"

enum cwg_uapi_state {
	CWG_UAPI_OP,	 /* expecting "get=1" or "set=1" */
	CWG_UAPI_GET,	 /* after "get=1": expecting the blank line */
	CWG_UAPI_STATS,	 /* after "stats=1": expecting the blank line */
	CWG_UAPI_SET,	 /* inside a set: key=value lines */
	CWG_UAPI_SKIP,	 /* a set failed: discard up to its blank line */
	CWG_UAPI_CLOSED,
};

struct cwg_uapi_conn {
	struct cwg_device *dev;
	const struct cwg_uapi_host *host;
	enum cwg_uapi_state state;
	bool locked;		/* cfg write lock held (only inside feed) */
	bool skip_line_used;	/* SKIP: the current line has bytes */

	/* The set request in progress. */
	bool batch;		/* a set request is open: a device batch */
	bool in_peer;		/* a public_key line has been seen */
	bool peer_ignored;	/* removed, update_only, or our own key */
	bool peer_created;	/* created by this request */
	bool replacing;		/* its allowed IPs are being replaced */
	struct cwg_peer *peer;	/* valid only while locked */
	uint8_t peer_key[32];

	size_t line_len;
	char line[CWG_UAPI_MAX_LINE + 1];
};

/* ---- output ---- */

void cwg_uapi_buf_free(struct cwg_uapi_buf *b)
{
	if (b->data) {
		/* get output carries the private key and preshared keys */
		cwg_wipe(b->data, b->cap);
		free(b->data);
	}
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

/* Room for n more bytes. Grows by doubling; the old block is wiped rather
 * than handed to realloc, which would free it with secrets inside. */
static bool buf_reserve(struct cwg_uapi_buf *b, size_t n)
{
	size_t cap;
	char *p;

	if (b->cap - b->len >= n)
		return true;
	if (n > SIZE_MAX / 2 - b->len)
		return false;
	cap = b->cap ? b->cap : 256;
	while (cap - b->len < n)
		cap *= 2;
	p = malloc(cap);
	if (!p)
		return false;
	if (b->data) {
		memcpy(p, b->data, b->len);
		cwg_wipe(b->data, b->cap);
		free(b->data);
	}
	b->data = p;
	b->cap = cap;
	return true;
}

static bool buf_add(struct cwg_uapi_buf *b, const char *s, size_t n)
{
	if (!buf_reserve(b, n))
		return false;
	memcpy(b->data + b->len, s, n);
	b->len += n;
	return true;
}

static bool buf_add_str(struct cwg_uapi_buf *b, const char *s)
{
	return buf_add(b, s, strlen(s));
}

static bool buf_add_u64(struct cwg_uapi_buf *b, const char *key, uint64_t v)
{
	char tmp[64];
	int n = snprintf(tmp, sizeof(tmp), "%s=%llu\n", key,
			 (unsigned long long)v);

	return n > 0 && (size_t)n < sizeof(tmp) && buf_add(b, tmp, (size_t)n);
}

static bool buf_add_key(struct cwg_uapi_buf *b, const char *name,
			const uint8_t key[32])
{
	static const char digits[] = "0123456789abcdef";
	size_t nlen = strlen(name), i;
	char *p;

	if (!buf_reserve(b, nlen + 1 + 64 + 1))
		return false;
	p = b->data + b->len;
	memcpy(p, name, nlen);
	p += nlen;
	*p++ = '=';
	for (i = 0; i < 32; i++) {
		*p++ = digits[key[i] >> 4];
		*p++ = digits[key[i] & 15];
	}
	*p++ = '\n';
	b->len = (size_t)(p - b->data);
	return true;
}

static bool buf_add_errno(struct cwg_uapi_buf *b, int err)
{
	char tmp[32];
	int n = snprintf(tmp, sizeof(tmp), "errno=%d\n\n", err);

	return n > 0 && (size_t)n < sizeof(tmp) && buf_add(b, tmp, (size_t)n);
}

/* ---- value parsers (NUL-terminated input) ---- */

/*
 * 64 hex digits, either case (Go's hex.DecodeString accepts both). Keys
 * are secrets, so no branch or table index depends on a digit's value.
 */
static bool parse_key(uint8_t key[32], const char *s, size_t len)
{
	unsigned int bad = 0;
	size_t i;

	if (len != 64)
		return false;
	for (i = 0; i < 64; i++) {
		int c = (unsigned char)s[i], l = c | 0x20;
		/* -1 (all ones) when c is in range, else 0 */
		int is_dig = ((('0' - 1) - c) & (c - ('9' + 1))) >> 8;
		int is_let = ((('a' - 1) - l) & (l - ('f' + 1))) >> 8;
		int v = (is_dig & (c - '0')) | (is_let & (l - 'a' + 10));

		bad |= (unsigned int)~(is_dig | is_let) & 1;
		if (i & 1)
			key[i / 2] = (uint8_t)(key[i / 2] | v);
		else
			key[i / 2] = (uint8_t)(v << 4);
	}
	if (bad) {
		cwg_wipe(key, 32);
		return false;
	}
	return true;
}

/* Decimal digits only, no sign, leading zeros allowed, at most max: what
 * Go's strconv.ParseUint(s, 10, bits) accepts. */
static bool parse_uint(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (!*s)
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return false;
		v = v * 10 + (uint64_t)(*s - '0');
		if (v > max) /* max <= UINT32_MAX, so no wrap before this */
			return false;
	}
	*out = v;
	return true;
}

static bool parse_port(const char *s, uint16_t *port)
{
	uint64_t v;

	if (!parse_uint(s, 65535, &v))
		return false;
	*port = (uint16_t)v;
	return true;
}

/*
 * "a.b.c.d:port" or "[v6]:port", as Go's netip.ParseAddrPort: no IPv6
 * without brackets, no IPv4 inside them. An IPv6 address may carry a
 * zone, "[fe80::1%eth0]:port" or "[fe80::1%2]:port": *zone is then left
 * pointing at it (NUL-terminated), else NULL.
 */
static bool parse_endpoint(struct cwg_endpoint *ep, char *s, char **zone)
{
	char *end, *pct;

	memset(ep, 0, sizeof(*ep));
	*zone = NULL;
	if (s[0] == '[') {
		end = strchr(s, ']');
		if (!end || end[1] != ':')
			return false;
		*end = '\0';
		pct = strchr(s + 1, '%');
		if (pct) {
			if (!pct[1])
				return false;
			*pct = '\0';
			*zone = pct + 1;
		}
		if (inet_pton(AF_INET6, s + 1, ep->addr) != 1)
			return false;
		ep->family = 6;
		return parse_port(end + 2, &ep->port);
	}
	end = strrchr(s, ':');
	if (!end)
		return false;
	*end = '\0';
	if (inet_pton(AF_INET, s, ep->addr) != 1)
		return false;
	ep->family = 4;
	return parse_port(end + 1, &ep->port);
}

/* Link-local unicast (fe80::/10), or multicast of interface- or link-local
 * scope (ff01::/16, ff02::/16 and their flagged forms): the addresses for
 * which getaddrinfo looks a zone up as an interface name. */
static bool v6_zone_is_link(const uint8_t a[16])
{
	return (a[0] == 0xfe && (a[1] & 0xc0) == 0x80) ||
	       (a[0] == 0xff && ((a[1] & 0x0f) == 1 || (a[1] & 0x0f) == 2));
}

/* "addr/cidr" as Go's netip.ParsePrefix: the address family picks the
 * maximum length, the length has no sign and no leading zero. */
static bool parse_prefix(char *s, int *family, uint8_t addr[16],
			 uint8_t *cidr)
{
	char *slash = strchr(s, '/');
	uint64_t bits;

	if (!slash)
		return false;
	*slash = '\0';
	memset(addr, 0, 16);
	if (strchr(s, ':')) {
		if (inet_pton(AF_INET6, s, addr) != 1)
			return false;
		*family = 6;
	} else {
		if (inet_pton(AF_INET, s, addr) != 1)
			return false;
		*family = 4;
	}
	if (slash[1] == '0' && slash[2])
		return false;
	if (!parse_uint(slash + 1, *family == 4 ? 32 : 128, &bits))
		return false;
	*cidr = (uint8_t)bits;
	return true;
}

/* Zero the host bits, so that a removal names the prefix as stored. */
static void prefix_mask(uint8_t *addr, int family, uint8_t cidr)
{
	unsigned int len = family == 4 ? 4 : 16, i;

	for (i = 0; i < len; i++) {
		if (cidr >= 8) {
			cidr = (uint8_t)(cidr - 8);
			continue;
		}
		addr[i] &= (uint8_t)(0xff00u >> cidr);
		cidr = 0;
	}
}

/* ---- set ---- */

static void cfg_begin(struct cwg_uapi_conn *c)
{
	if (c->locked)
		return;
	cwg_device_cfg_lock(c->dev);
	c->locked = true;
	/* Another connection may have removed the peer while we were
	 * unlocked; from then on its lines are dropped. */
	if (c->in_peer && !c->peer_ignored) {
		c->peer = cwg_device_find_peer(c->dev, c->peer_key);
		if (!c->peer)
			c->peer_ignored = true;
	}
}

static void cfg_end(struct cwg_uapi_conn *c)
{
	if (!c->locked)
		return;
	c->peer = NULL;
	cwg_device_cfg_unlock(c->dev);
	c->locked = false;
}

static void set_reset(struct cwg_uapi_conn *c)
{
	c->replacing = false;
	c->in_peer = false;
	c->peer_ignored = false;
	c->peer_created = false;
	c->peer = NULL;
	cwg_wipe(c->peer_key, sizeof(c->peer_key));
}

/*
 * replace_allowed_ips=true followed by the peer's whole list (what `wg
 * syncconf` sends for every peer it keeps) replaces the list without a
 * gap: the old prefixes are only marked at that line, the ones sent again
 * keep routing, and the rest go here, when the peer's part of the request
 * is over: at the next public_key line, at the end of the request, and
 * when it fails or the connection goes. Under the lock.
 */
static void replace_end(struct cwg_uapi_conn *c)
{
	if (c->replacing && c->peer && !c->peer_ignored)
		cwg_peer_replace_allowed_ips_end(c->peer);
	c->replacing = false;
}

/*
 * A set request is one configuration batch of the device (see
 * cwg_device_cfg_batch_begin), however many feed calls it takes: the
 * routing lookup tables are rebuilt once after it, not after each part.
 */
static void request_begin(struct cwg_uapi_conn *c)
{
	cwg_device_cfg_batch_begin(c->dev);
	c->batch = true;
}

/* The request is over: done, failed, or its connection closed. May take
 * the lock (held until the feed call ends). */
static void request_end(struct cwg_uapi_conn *c)
{
	if (c->replacing) {
		cfg_begin(c);
		replace_end(c);
	}
	if (c->batch)
		cwg_device_cfg_batch_end(c->dev);
	c->batch = false;
}

static int set_device_line(struct cwg_uapi_conn *c, const char *key,
			   char *value, size_t vlen)
{
	const struct cwg_uapi_host *h = c->host;
	uint8_t sk[32];
	uint64_t v;
	int ret;

	if (!strcmp(key, "private_key")) {
		if (!parse_key(sk, value, vlen))
			return -CWG_EINVAL;
		/* Clamped as wireguard-go and the kernel do, so get shows the
		 * key actually in use; all zeros (removal) stays zeros. */
		if (!cwg_ct_equal(sk, (const uint8_t[32]){ 0 }, 32))
			cwg_x25519_clamp(sk);
		cwg_device_set_private_key(c->dev, sk);
		cwg_wipe(sk, sizeof(sk));
		return 0;
	}
	if (!strcmp(key, "listen_port")) {
		if (!parse_uint(value, 65535, &v))
			return -CWG_EINVAL;
		/* A host without sockets (tests, fuzzers) has no port. */
		if (!h || !h->set_listen_port)
			return 0;
		cfg_end(c);
		ret = h->set_listen_port(h->ctx, (uint16_t)v);
		return ret < 0 ? ret : 0;
	}
	if (!strcmp(key, "fwmark")) {
		if (!parse_uint(value, UINT32_MAX, &v))
			return -CWG_EINVAL;
		if (!h || !h->set_fwmark)
			return 0;
		cfg_end(c);
		ret = h->set_fwmark(h->ctx, (uint32_t)v);
		return ret < 0 ? ret : 0;
	}
	if (!strcmp(key, "replace_peers")) {
		if (strcmp(value, "true"))
			return -CWG_EINVAL;
		cwg_device_remove_all_peers(c->dev);
		return 0;
	}
	return -CWG_EINVAL;
}

static int set_public_key(struct cwg_uapi_conn *c, const char *value,
			  size_t vlen)
{
	uint8_t own[32];
	bool is_own;
	int ret;

	replace_end(c);
	set_reset(c);
	c->in_peer = true;
	if (!parse_key(c->peer_key, value, vlen)) {
		/* The request ends here; nothing more is applied to it. */
		c->peer_ignored = true;
		return -CWG_EINVAL;
	}
	is_own = cwg_device_get_public_key(c->dev, own) &&
		 !memcmp(own, c->peer_key, 32);
	if (is_own) {
		c->peer_ignored = true;
		return 0;
	}
	c->peer = cwg_device_find_peer(c->dev, c->peer_key);
	if (c->peer)
		return 0;
	ret = cwg_device_add_peer(c->dev, c->peer_key, &c->peer);
	if (ret < 0) {
		c->peer = NULL;
		c->peer_ignored = true;
		return ret;
	}
	c->peer_created = true;
	return 0;
}

static void peer_drop(struct cwg_uapi_conn *c)
{
	if (!c->peer_ignored && c->peer)
		cwg_device_remove_peer(c->dev, c->peer);
	c->peer = NULL;
	c->peer_ignored = true;
}

/*
 * An endpoint's zone as its scope id, read the way glibc's getaddrinfo
 * reads what `wg` sends (wg prints endpoints with getnameinfo, which
 * names the interface of a link-local address): for a link-local
 * address an interface name first, then for any IPv6 address a decimal
 * index. The host looks names up, with the cfg lock dropped as around
 * its other callbacks. 0, -CWG_EINVAL, or -CWG_ENODEV when no interface
 * has that name (wireguard-go keeps any zone as text, and fails only
 * when sending; wg itself refuses such a name before it asks).
 */
static int endpoint_zone(struct cwg_uapi_conn *c, struct cwg_endpoint *ep,
			 const char *zone)
{
	const struct cwg_uapi_host *h = c->host;
	bool link = v6_zone_is_link(ep->addr);
	uint32_t idx = 0;
	uint64_t v;

	if (link && h && h->ifname_to_index) {
		cfg_end(c);
		idx = h->ifname_to_index(h->ctx, zone);
		cfg_begin(c);
	}
	if (!idx) {
		if (!parse_uint(zone, UINT32_MAX, &v))
			return link && !(*zone >= '0' && *zone <= '9') ?
				       -CWG_ENODEV :
				       -CWG_EINVAL;
		idx = (uint32_t)v;
	}
	ep->scope_id = idx;
	return 0;
}

static int set_peer_line(struct cwg_uapi_conn *c, const char *key,
			 char *value, size_t vlen)
{
	bool apply = !c->peer_ignored && c->peer;
	struct cwg_endpoint ep;
	uint8_t psk[32], addr[16];
	uint8_t cidr;
	uint64_t v;
	int family, ret;
	char *zone;
	bool del;

	if (!strcmp(key, "allowed_ip")) {
		del = value[0] == '-';
		if (!parse_prefix(value + del, &family, addr, &cidr))
			return -CWG_EINVAL;
		if (!apply)
			return 0;
		if (del) {
			prefix_mask(addr, family, cidr);
			return cwg_peer_remove_allowed_ip(c->peer, family,
							  addr, cidr);
		}
		return cwg_peer_add_allowed_ip(c->peer, family, addr, cidr);
	}
	if (!strcmp(key, "endpoint")) {
		if (!parse_endpoint(&ep, value, &zone))
			return -CWG_EINVAL;
		if (zone) {
			ret = endpoint_zone(c, &ep, zone);
			if (ret)
				return ret;
			/* the lock may have been dropped: look again */
			apply = !c->peer_ignored && c->peer;
		}
		if (apply)
			cwg_peer_set_endpoint(c->peer, &ep);
		return 0;
	}
	if (!strcmp(key, "preshared_key")) {
		if (!parse_key(psk, value, vlen))
			return -CWG_EINVAL;
		if (apply)
			cwg_peer_set_preshared_key(c->peer, psk);
		cwg_wipe(psk, sizeof(psk));
		return 0;
	}
	if (!strcmp(key, "persistent_keepalive_interval")) {
		if (!parse_uint(value, 65535, &v))
			return -CWG_EINVAL;
		if (apply)
			cwg_peer_set_persistent_keepalive(c->peer,
							  (uint16_t)v);
		return 0;
	}
	if (!strcmp(key, "replace_allowed_ips")) {
		if (strcmp(value, "true"))
			return -CWG_EINVAL;
		if (apply) {
			cwg_peer_replace_allowed_ips_begin(c->peer);
			c->replacing = true;
		}
		return 0;
	}
	if (!strcmp(key, "remove")) {
		if (strcmp(value, "true"))
			return -CWG_EINVAL;
		peer_drop(c);
		return 0;
	}
	if (!strcmp(key, "update_only")) {
		if (strcmp(value, "true"))
			return -CWG_EINVAL;
		if (c->peer_created)
			peer_drop(c);
		return 0;
	}
	if (!strcmp(key, "protocol_version"))
		return strcmp(value, "1") ? -CWG_EINVAL : 0;
	return -CWG_EINVAL;
}

/* One non-blank line of a set: 0 or a negative errno. */
static int set_line(struct cwg_uapi_conn *c, char *line, size_t len)
{
	char *eq;
	size_t klen;

	if (memchr(line, '\0', len))
		return -CWG_EINVAL;
	eq = memchr(line, '=', len);
	if (!eq)
		return -CWG_EPROTO;
	*eq = '\0';
	klen = (size_t)(eq - line);
	cfg_begin(c);
	if (!strcmp(line, "public_key"))
		return set_public_key(c, eq + 1, len - klen - 1);
	if (!c->in_peer)
		return set_device_line(c, line, eq + 1, len - klen - 1);
	return set_peer_line(c, line, eq + 1, len - klen - 1);
}

/* ---- get ---- */

/*
 * Addresses as inet_ntop(3) spells them, without its stdio: a big peer's
 * get is mostly these. Decimal for IPv4; for IPv6, lowercase hex words
 * without leading zeros, the longest run of two or more zero words (the
 * first of equals) as "::". Addresses whose first five words are zero
 * are left to inet_ntop, which may end them in dotted IPv4.
 */
static char *fmt_dec(char *p, unsigned int v)
{
	if (v >= 100)
		*p++ = (char)('0' + v / 100);
	if (v >= 10)
		*p++ = (char)('0' + v / 10 % 10);
	*p++ = (char)('0' + v % 10);
	return p;
}

static char *fmt_hex16(char *p, unsigned int w)
{
	static const char digits[] = "0123456789abcdef";
	int shift = 12;

	while (shift && !(w >> shift))
		shift -= 4;
	for (; shift >= 0; shift -= 4)
		*p++ = digits[(w >> shift) & 15];
	return p;
}

/* NULL when inet_ntop must do it. */
static char *fmt_ip6(char *p, const uint8_t *a)
{
	unsigned int w[8], i, base = 8, len = 0, run = 0;

	for (i = 0; i < 8; i++) {
		w[i] = (unsigned int)a[2 * i] << 8 | a[2 * i + 1];
		run = w[i] ? 0 : run + 1;
		if (run > len) {
			len = run;
			base = i + 1 - run;
		}
	}
	if (base == 0 && len >= 5)
		return NULL;
	if (len < 2)
		base = 8;
	for (i = 0; i < 8; i++) {
		if (i == base) {
			*p++ = ':';
			*p++ = ':';
			i += len - 1;
			continue;
		}
		if (i && i != base + len)
			*p++ = ':';
		p = fmt_hex16(p, w[i]);
	}
	return p;
}

static int print_allowed_ip(void *ctx, int family, const uint8_t *addr,
			    uint8_t cidr)
{
	static const char key[] = "allowed_ip=";
	struct cwg_uapi_buf *out = ctx;
	char *p, *e;

	/* key, the longest address (45), "/128\n" */
	if (!buf_reserve(out, sizeof(key) + INET6_ADDRSTRLEN + 5))
		return 1;
	p = out->data + out->len;
	memcpy(p, key, sizeof(key) - 1);
	p += sizeof(key) - 1;
	if (family == 4) {
		for (int i = 0; i < 4; i++) {
			p = fmt_dec(p, addr[i]);
			*p++ = i < 3 ? '.' : '/';
		}
	} else {
		e = fmt_ip6(p, addr);
		if (!e) {
			if (!inet_ntop(AF_INET6, addr, p, INET6_ADDRSTRLEN))
				return 0;
			e = p + strlen(p);
		}
		p = e;
		*p++ = '/';
	}
	p = fmt_dec(p, cidr);
	*p++ = '\n';
	out->len = (size_t)(p - out->data);
	return 0;
}

static bool print_endpoint(struct cwg_uapi_buf *out,
			   const struct cwg_endpoint *ep)
{
	char ip[INET6_ADDRSTRLEN], tmp[INET6_ADDRSTRLEN + 48];
	int n;

	if (ep->family != 4 && ep->family != 6)
		return true;
	if (!inet_ntop(ep->family == 4 ? AF_INET : AF_INET6, ep->addr, ip,
		       sizeof(ip)))
		return true;
	/* The zone as a number, not a name: `wg` reads either with
	 * getaddrinfo and shows the name itself, as it does for the kernel's
	 * sin6_scope_id, but a name would fail its whole `get` wherever wg
	 * runs in a namespace without that interface. */
	if (ep->family == 4)
		n = snprintf(tmp, sizeof(tmp), "endpoint=%s:%u\n", ip,
			     (unsigned int)ep->port);
	else if (ep->scope_id)
		n = snprintf(tmp, sizeof(tmp), "endpoint=[%s%%%u]:%u\n", ip,
			     (unsigned int)ep->scope_id,
			     (unsigned int)ep->port);
	else
		n = snprintf(tmp, sizeof(tmp), "endpoint=[%s]:%u\n", ip,
			     (unsigned int)ep->port);
	return n > 0 && (size_t)n < sizeof(tmp) && buf_add(out, tmp, (size_t)n);
}

static bool print_peer(struct cwg_uapi_buf *out, struct cwg_peer *peer)
{
	struct cwg_peer_info info;
	bool ok;

	memset(&info, 0, sizeof(info));
	cwg_peer_get_info(peer, &info);
	/* Key order as wireguard-go prints it. */
	ok = buf_add_key(out, "public_key", info.public_key) &&
	     buf_add_key(out, "preshared_key", info.preshared_key) &&
	     buf_add_str(out, "protocol_version=1\n") &&
	     print_endpoint(out, &info.endpoint) &&
	     buf_add_u64(out, "last_handshake_time_sec",
			 info.last_handshake_wall_ns / 1000000000ULL) &&
	     buf_add_u64(out, "last_handshake_time_nsec",
			 info.last_handshake_wall_ns % 1000000000ULL) &&
	     buf_add_u64(out, "tx_bytes", info.tx_bytes) &&
	     buf_add_u64(out, "rx_bytes", info.rx_bytes) &&
	     buf_add_u64(out, "persistent_keepalive_interval",
			 info.persistent_keepalive) &&
	     !cwg_peer_walk_allowed_ips(peer, print_allowed_ip, out);
	cwg_wipe(&info, sizeof(info));
	return ok;
}

/* false only when out of memory. */
static bool do_get(struct cwg_uapi_conn *c, struct cwg_uapi_buf *out)
{
	const struct cwg_uapi_host *h = c->host;
	uint16_t port = 0;
	uint32_t mark = 0;
	struct cwg_peer *peer;
	uint8_t sk[32];
	bool ok = true;

	/* The host's own state, read before the device lock (its getters
	 * may take the host's locks). */
	if (h && h->get_listen_port)
		port = h->get_listen_port(h->ctx);
	if (h && h->get_fwmark)
		mark = h->get_fwmark(h->ctx);

	cfg_end(c); /* a set earlier in this feed; rdlock would deadlock */
	cwg_device_cfg_rdlock(c->dev);
	if (cwg_device_get_private_key(c->dev, sk))
		ok = buf_add_key(out, "private_key", sk);
	cwg_wipe(sk, sizeof(sk));
	if (ok && port)
		ok = buf_add_u64(out, "listen_port", port);
	if (ok && mark)
		ok = buf_add_u64(out, "fwmark", mark);
	for (peer = cwg_device_first_peer(c->dev); ok && peer;
	     peer = cwg_peer_next(peer))
		ok = print_peer(out, peer);
	cwg_device_cfg_unlock(c->dev);
	return ok && buf_add_errno(out, 0);
}

/*
 * "stats=1": cwg's own extension, never sent by wg. The device's drop
 * counters by reason and its handshake counters, one key=value per line,
 * so tests and operators can see what the daemon refused and why.
 */
static bool do_stats(struct cwg_device *dev, struct cwg_uapi_buf *out)
{
	struct cwg_device_stats st;
	char key[64];
	bool ok = true;
	int i;

	cwg_device_get_stats(dev, &st);
	for (i = 0; ok && i < CWG_DROP_MAX; i++) {
		snprintf(key, sizeof(key), "drop_%s", cwg_drop_names[i]);
		ok = buf_add_u64(out, key, st.drops[i]);
	}
	ok = ok &&
	     buf_add_u64(out, "handshake_initiations_rx",
			 st.handshake_initiations_rx) &&
	     buf_add_u64(out, "handshake_responses_rx",
			 st.handshake_responses_rx) &&
	     buf_add_u64(out, "cookie_replies_rx", st.cookie_replies_rx) &&
	     buf_add_u64(out, "cookie_replies_tx", st.cookie_replies_tx) &&
	     buf_add_u64(out, "handshakes_completed", st.handshakes_completed) &&
	     buf_add_u64(out, "keypairs_wiped", st.keypairs_wiped);
	return ok && buf_add_errno(out, 0);
}

/* ---- connection ---- */

struct cwg_uapi_conn *cwg_uapi_conn_new(struct cwg_device *dev,
					const struct cwg_uapi_host *host)
{
	struct cwg_uapi_conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->dev = dev;
	c->host = host;
	c->state = CWG_UAPI_OP;
	return c;
}

void cwg_uapi_conn_free(struct cwg_uapi_conn *c)
{
	if (!c)
		return;
	/* Gone in the middle of a set request. */
	request_end(c);
	cfg_end(c);
	cwg_wipe(c, sizeof(*c));
	free(c);
}

static bool line_is(const char *line, size_t len, const char *s)
{
	return len == strlen(s) && !memcmp(line, s, len);
}

/* One complete line (without its '\n'). 0, or -1 to close. */
static int handle_line(struct cwg_uapi_conn *c, char *line, size_t len,
		       struct cwg_uapi_buf *out)
{
	int err;

	switch (c->state) {
	case CWG_UAPI_OP:
		if (line_is(line, len, "get=1")) {
			c->state = CWG_UAPI_GET;
			return 0;
		}
		if (line_is(line, len, "stats=1")) {
			c->state = CWG_UAPI_STATS;
			return 0;
		}
		if (line_is(line, len, "set=1")) {
			set_reset(c);
			request_begin(c);
			c->state = CWG_UAPI_SET;
			return 0;
		}
		/* wireguard-go hangs up without a word here too. */
		return -1;
	case CWG_UAPI_GET:
		if (len) {
			/* wireguard-go answers -EINVAL, then fails to make
			 * an operation of what follows and hangs up. */
			buf_add_errno(out, -CWG_EINVAL);
			return -1;
		}
		c->state = CWG_UAPI_OP;
		return do_get(c, out) ? 0 : -1;
	case CWG_UAPI_STATS:
		if (len) {
			buf_add_errno(out, -CWG_EINVAL);
			return -1;
		}
		c->state = CWG_UAPI_OP;
		return do_stats(c->dev, out) ? 0 : -1;
	case CWG_UAPI_SET:
		if (!len) {
			request_end(c);
			set_reset(c);
			c->state = CWG_UAPI_OP;
			return buf_add_errno(out, 0) ? 0 : -1;
		}
		err = set_line(c, line, len);
		if (!err)
			return 0;
		request_end(c);
		/*
		 * wireguard-go stops reading the request here and then,
		 * reading its remaining lines as operations, hangs up. We
		 * skip to the request's blank line instead so that the
		 * connection stays usable.
		 */
		set_reset(c);
		c->state = CWG_UAPI_SKIP;
		c->skip_line_used = false;
		return buf_add_errno(out, err) ? 0 : -1;
	case CWG_UAPI_SKIP:
	case CWG_UAPI_CLOSED:
		break;
	}
	return -1;
}

/* SKIP: consume bytes up to and including a blank line; lines are not
 * buffered, so their length does not matter. Returns bytes consumed. */
static size_t skip_bytes(struct cwg_uapi_conn *c, const char *data,
			 size_t len)
{
	size_t used = 0;

	while (used < len) {
		const char *nl = memchr(data + used, '\n', len - used);
		size_t n;

		if (!nl) {
			c->skip_line_used = true;
			return len;
		}
		n = (size_t)(nl - (data + used));
		used += n + 1;
		if (!n && !c->skip_line_used) {
			c->state = CWG_UAPI_OP;
			return used;
		}
		c->skip_line_used = false;
	}
	return used;
}

int cwg_uapi_feed(struct cwg_uapi_conn *c, const char *data, size_t len,
		  struct cwg_uapi_buf *out)
{
	int ret = 0;

	if (c->state == CWG_UAPI_CLOSED)
		return -1;
	while (len) {
		const char *nl;
		size_t n;

		if (c->state == CWG_UAPI_SKIP) {
			n = skip_bytes(c, data, len);
			data += n;
			len -= n;
			continue;
		}
		nl = memchr(data, '\n', len);
		n = nl ? (size_t)(nl - data) : len;
		if (n > CWG_UAPI_MAX_LINE - c->line_len) {
			ret = -1;
			break;
		}
		memcpy(c->line + c->line_len, data, n);
		c->line_len += n;
		data += n;
		len -= n;
		if (!nl)
			break;
		data++;
		len--;
		c->line[c->line_len] = '\0';
		ret = handle_line(c, c->line, c->line_len, out);
		/* private_key and preshared_key lines die here */
		cwg_wipe(c->line, c->line_len);
		c->line_len = 0;
		if (ret < 0)
			break;
	}
	if (ret < 0)
		request_end(c);
	cfg_end(c);
	if (ret < 0) {
		c->state = CWG_UAPI_CLOSED;
		cwg_wipe(c->line, sizeof(c->line));
		c->line_len = 0;
		set_reset(c);
	}
	return ret;
}

int cwg_uapi_request(struct cwg_device *dev, const struct cwg_uapi_host *host,
		     const char *request, size_t len, struct cwg_uapi_buf *out)
{
	struct cwg_uapi_conn *c = cwg_uapi_conn_new(dev, host);
	int ret;

	if (!c)
		return -1;
	ret = cwg_uapi_feed(c, request, len, out);
	cwg_uapi_conn_free(c);
	return ret;
}
