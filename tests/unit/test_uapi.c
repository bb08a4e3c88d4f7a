// SPDX-License-Identifier: MIT
/*
 * The configuration protocol against the real core device: exact get
 * output, every error class, the peer verbs, streaming (byte at a time,
 * several requests per connection, huge requests) and a set/get round trip
 * over random configurations checked against a small model.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "core/peer.h" /* the routing table, looked up between feeds */
#include "crypto/crypto.h"
#include "tap.h"
#include "../common/splitmix.h"
#include <cwg/uapi.h>

/* ---- a host with a listen port and a fwmark ---- */

struct fake_host {
	uint16_t port;
	uint32_t mark;
	int port_calls, mark_calls;
	int port_err; /* what set_listen_port returns */
	int ifname_calls;
	/* run by the next ifname lookup, on this device: another client's
	 * request while the looking-up one holds no lock */
	const char *ifname_intruder;
	struct cwg_device *dev;
};

static uint16_t fh_get_port(void *ctx)
{
	return ((struct fake_host *)ctx)->port;
}

static int fh_set_port(void *ctx, uint16_t port)
{
	struct fake_host *h = ctx;

	h->port_calls++;
	if (h->port_err)
		return h->port_err;
	h->port = port;
	return 0;
}

static uint32_t fh_get_mark(void *ctx)
{
	return ((struct fake_host *)ctx)->mark;
}

static int fh_set_mark(void *ctx, uint32_t mark)
{
	struct fake_host *h = ctx;

	h->mark_calls++;
	h->mark = mark;
	return 0;
}

/* Two interfaces: eth0 (2) and vb (7). */
static uint32_t fh_ifname_to_index(void *ctx, const char *name)
{
	struct fake_host *h = ctx;
	struct cwg_uapi_buf out = { 0 };
	const char *intruder = h->ifname_intruder;

	h->ifname_calls++;
	if (intruder) {
		h->ifname_intruder = NULL;
		cwg_uapi_request(h->dev, NULL, intruder, strlen(intruder),
				 &out);
		cwg_uapi_buf_free(&out);
	}
	if (!strcmp(name, "eth0"))
		return 2;
	if (!strcmp(name, "vb"))
		return 7;
	return 0;
}

static void host_init(struct cwg_uapi_host *uh, struct fake_host *fh)
{
	memset(fh, 0, sizeof(*fh));
	uh->ctx = fh;
	uh->get_listen_port = fh_get_port;
	uh->set_listen_port = fh_set_port;
	uh->get_fwmark = fh_get_mark;
	uh->set_fwmark = fh_set_mark;
	uh->ifname_to_index = fh_ifname_to_index;
}

/* ---- helpers ---- */

static uint64_t rng_state;

static uint64_t rnd(void)
{
	return splitmix64_next(&rng_state);
}

static void rnd_bytes(uint8_t *p, size_t n)
{
	while (n--)
		*p++ = (uint8_t)rnd();
}

static void keyhex(char out[65], const uint8_t k[32])
{
	hex_encode(out, k, 32);
}

/* A valid peer public key (from a random private key). */
static void rnd_pubkey(uint8_t pub[32])
{
	uint8_t sk[32];

	rnd_bytes(sk, 32);
	cwg_x25519_clamp(sk);
	cwg_x25519_public(pub, sk);
}

/* Run one exchange; returns the reply as a NUL-terminated string the
 * caller frees, and the return value in *ret. */
static char *xreq(struct cwg_device *dev, const struct cwg_uapi_host *h,
		  const char *s, size_t len, int *ret)
{
	struct cwg_uapi_buf out = { 0 };
	char *r;

	*ret = cwg_uapi_request(dev, h, s, len, &out);
	r = malloc(out.len + 1);
	if (out.len)
		memcpy(r, out.data, out.len);
	r[out.len] = '\0';
	cwg_uapi_buf_free(&out);
	return r;
}

static char *req(struct cwg_device *dev, const struct cwg_uapi_host *h,
		 const char *s, int *ret)
{
	return xreq(dev, h, s, strlen(s), ret);
}

static char *get(struct cwg_device *dev, const struct cwg_uapi_host *h)
{
	int ret;
	char *r = req(dev, h, "get=1\n\n", &ret);

	if (ret != 0)
		diag("get returned %d", ret);
	return r;
}

/* The errno a set of `body` answers (body without "set=1\n", with its
 * blank line); -1000 when the reply is not a lone errno line. */
static int set_errno(struct cwg_device *dev, const struct cwg_uapi_host *h,
		     const char *body)
{
	size_t n = strlen(body);
	char *s = malloc(n + 8), *r;
	int ret, e = -1000;

	memcpy(s, "set=1\n", 6);
	memcpy(s + 6, body, n + 1);
	r = req(dev, h, s, &ret);
	if (ret == 0 && sscanf(r, "errno=%d\n\n", &e) == 1) {
		char chk[32];

		snprintf(chk, sizeof(chk), "errno=%d\n\n", e);
		if (strcmp(chk, r))
			e = -1000;
	} else {
		e = -1000;
	}
	free(s);
	free(r);
	return e;
}

static uint32_t peer_count(struct cwg_device *dev)
{
	uint32_t n;

	cwg_device_cfg_rdlock(dev);
	n = cwg_device_peer_count(dev);
	cwg_device_cfg_unlock(dev);
	return n;
}

static int count_lines(const char *s, const char *prefix)
{
	size_t pl = strlen(prefix);
	int n = 0;

	while (*s) {
		if (!strncmp(s, prefix, pl))
			n++;
		s = strchr(s, '\n');
		if (!s)
			break;
		s++;
	}
	return n;
}

static bool has_line(const char *s, const char *line)
{
	size_t l = strlen(line);

	while (*s) {
		if (!strncmp(s, line, l) && s[l] == '\n')
			return true;
		s = strchr(s, '\n');
		if (!s)
			break;
		s++;
	}
	return false;
}

/* get's output turned into the set that should reproduce it: drop the
 * read-only keys and the errno, replace every peer. */
static char *get_to_set(const char *g)
{
	size_t n = strlen(g);
	char *out = malloc(n + 64), *p = out;
	const char *ro[] = { "last_handshake_time_sec=",
			     "last_handshake_time_nsec=", "tx_bytes=",
			     "rx_bytes=", "errno=" };

	p += sprintf(p, "set=1\nreplace_peers=true\n");
	while (*g) {
		const char *e = strchr(g, '\n');
		size_t l = e ? (size_t)(e - g) + 1 : strlen(g), i;
		bool skip = l == 1;

		for (i = 0; i < sizeof(ro) / sizeof(ro[0]); i++)
			if (!strncmp(g, ro[i], strlen(ro[i])))
				skip = true;
		if (!skip) {
			memcpy(p, g, l);
			p += l;
		}
		g += l;
	}
	*p++ = '\n';
	*p = '\0';
	return out;
}

/* ---- exact output ---- */

static void test_basic(void)
{
	struct cwg_device *dev = cwg_device_new(NULL, NULL);
	struct cwg_uapi_host uh;
	struct fake_host fh;
	uint8_t sk[32], pk1[32], pk2[32], psk[32];
	char skh[65], pk1h[65], pk2h[65], pskh[65], req_s[2048], exp[4096];
	char *r;
	int ret;

	host_init(&uh, &fh);
	r = get(dev, &uh);
	ok(!strcmp(r, "errno=0\n\n"), "empty device: get is just errno=0");
	free(r);

	rnd_bytes(sk, 32);
	sk[0] |= 7; /* not clamped: the device must clamp it */
	rnd_pubkey(pk1);
	rnd_pubkey(pk2);
	rnd_bytes(psk, 32);
	keyhex(skh, sk);
	keyhex(pk1h, pk1);
	keyhex(pk2h, pk2);
	keyhex(pskh, psk);
	snprintf(req_s, sizeof(req_s),
		 "set=1\nprivate_key=%s\nlisten_port=51820\nfwmark=0x10\n\n",
		 skh);
	r = req(dev, &uh, req_s, &ret);
	ok(ret == 0 && !strcmp(r, "errno=-22\n\n"), "fwmark=0x10 rejected");
	free(r);

	snprintf(req_s, sizeof(req_s),
		 "set=1\nprivate_key=%s\nlisten_port=51820\nfwmark=4096\n"
		 "public_key=%s\npreshared_key=%s\nendpoint=192.0.2.1:51820\n"
		 "persistent_keepalive_interval=25\nallowed_ip=10.1.0.0/16\n"
		 "allowed_ip=10.2.3.4/32\n"
		 "public_key=%s\nendpoint=[2001:db8::1]:1\n"
		 "allowed_ip=2001:db8:0:0:0:0:0:0/32\nprotocol_version=1\n\n",
		 skh, pk1h, pskh, pk2h);
	r = req(dev, &uh, req_s, &ret);
	ok(ret == 0 && !strcmp(r, "errno=0\n\n"), "set accepted");
	free(r);
	ok(fh.port == 51820 && fh.port_calls == 2 && fh.mark == 4096 &&
	   fh.mark_calls == 1, "host got listen_port and fwmark");

	cwg_x25519_clamp(sk);
	keyhex(skh, sk);
	snprintf(exp, sizeof(exp),
		 "private_key=%s\nlisten_port=51820\nfwmark=4096\n"
		 "public_key=%s\npreshared_key=%s\nprotocol_version=1\n"
		 "endpoint=192.0.2.1:51820\nlast_handshake_time_sec=0\n"
		 "last_handshake_time_nsec=0\ntx_bytes=0\nrx_bytes=0\n"
		 "persistent_keepalive_interval=25\n",
		 skh, pk1h, pskh);
	r = get(dev, &uh);
	ok(!strncmp(r, exp, strlen(exp)),
	   "get prints device and first peer in wireguard-go's order");
	ok(has_line(r, "allowed_ip=10.1.0.0/16") &&
	   has_line(r, "allowed_ip=10.2.3.4/32"), "first peer's allowed IPs");
	snprintf(exp, sizeof(exp),
		 "public_key=%s\npreshared_key=%064d\nprotocol_version=1\n"
		 "endpoint=[2001:db8::1]:1\nlast_handshake_time_sec=0\n"
		 "last_handshake_time_nsec=0\ntx_bytes=0\nrx_bytes=0\n"
		 "persistent_keepalive_interval=0\nallowed_ip=2001:db8::/32\n"
		 "errno=0\n\n",
		 pk2h, 0);
	ok(strlen(r) > strlen(exp) && !strcmp(r + strlen(r) - strlen(exp), exp),
	   "second peer: zero psk printed, v6 endpoint, v6 prefix");
	ok(count_lines(r, "allowed_ip=") == 3, "three allowed IPs");
	free(r);

	/* fwmark=0 clears; private_key of zeros removes the key. */
	r = req(dev, &uh, "set=1\nfwmark=0\nprivate_key="
			  "0000000000000000000000000000000000000000000000000000000000000000"
			  "\n\n", &ret);
	ok(ret == 0 && !strcmp(r, "errno=0\n\n"), "fwmark=0, zero private key");
	free(r);
	r = get(dev, &uh);
	ok(fh.mark == 0 && !strstr(r, "fwmark=") && !strstr(r, "private_key="),
	   "get omits cleared fwmark and absent private key");
	free(r);

	/* Uppercase hex is accepted; get prints lowercase. */
	{
		char up[65];
		size_t i;

		for (i = 0; i < 64; i++)
			up[i] = (char)(pk1h[i] >= 'a' ? pk1h[i] - 32 : pk1h[i]);
		up[64] = '\0';
		snprintf(req_s, sizeof(req_s),
			 "set=1\npublic_key=%s\npersistent_keepalive_interval=65535\n\n",
			 up);
		r = req(dev, &uh, req_s, &ret);
		ok(!strcmp(r, "errno=0\n\n") && peer_count(dev) == 2,
		   "uppercase public key names the same peer");
		free(r);
		r = get(dev, &uh);
		ok(has_line(r, "persistent_keepalive_interval=65535"),
		   "keepalive 65535 accepted");
		free(r);
	}

	/* The host refuses the port: its errno is the reply. */
	fh.port_err = -CWG_EADDRINUSE;
	ok(set_errno(dev, &uh, "listen_port=22\n\n") == -98,
	   "listen_port in use: errno=-98");
	ok(fh.port == 51820, "port unchanged");
	fh.port_err = 0;
	ok(set_errno(dev, &uh, "listen_port=0\n\n") == 0 && fh.port == 0,
	   "listen_port=0 passed to the host");
	r = get(dev, &uh);
	ok(!strstr(r, "listen_port="), "port 0 not printed");
	free(r);

	/* No host at all: listen_port/fwmark parsed, then ignored. */
	ok(set_errno(dev, NULL, "listen_port=1\nfwmark=2\n\n") == 0,
	   "no host: listen_port and fwmark accepted");
	ok(set_errno(dev, NULL, "listen_port=65536\n\n") == -22,
	   "no host: bad listen_port still rejected");

	cwg_device_free(dev);
}

/* ---- endpoint zones ---- */

/* The endpoint line get prints for the one peer pkh, or "" */
static void endpoint_line(struct cwg_device *dev,
			  const struct cwg_uapi_host *h, char *out, size_t n)
{
	char *r = get(dev, h), *e = strstr(r, "\nendpoint=");

	out[0] = '\0';
	if (e)
		snprintf(out, n, "%.*s", (int)strcspn(e + 1, "\n"), e + 1);
	free(r);
}

/*
 * "[fe80::1%eth0]:port" is what `wg` sends for a link-local endpoint (it
 * prints with getnameinfo, which names the interface); a number is what
 * it sends when the index names none, and for other addresses. The scope
 * is kept and printed back as a number, which wg's getaddrinfo reads and
 * its getnameinfo shows by name, as for the kernel.
 */
static void test_zones(void)
{
	struct cwg_device *dev = cwg_device_new(NULL, NULL);
	struct cwg_uapi_host uh, bare;
	struct fake_host fh;
	uint8_t pk[32];
	char pkh[65], body[512], line[128];
	size_t i;
	static const struct {
		const char *set, *printed;
	} good[] = {
		{ "[fe80::1%eth0]:65535", "[fe80::1%2]:65535" },
		{ "[fe80::1%vb]:1", "[fe80::1%7]:1" },
		{ "[fe80::1%7]:1", "[fe80::1%7]:1" },
		{ "[fe80::1%0042]:1", "[fe80::1%42]:1" },
		{ "[fe80::1%4294967295]:1", "[fe80::1%4294967295]:1" },
		{ "[fe80::1%0]:1", "[fe80::1]:1" },
		{ "[febf::1%eth0]:1", "[febf::1%2]:1" },
		{ "[ff02::1%eth0]:1", "[ff02::1%2]:1" },
		/* the kernel keeps a scope on any IPv6 address, and wg
		 * prints it (as a number: getnameinfo names only the link
		 * scopes' interfaces) */
		{ "[2001:db8::1%3]:51820", "[2001:db8::1%3]:51820" },
		{ "[fe80::1]:2", "[fe80::1]:2" },
	};
	static const struct {
		const char *set;
		int err;
	} bad[] = {
		{ "[fe80::1%nosuch]:1", -19 },
		{ "[fe80::1%eth0x]:1", -19 },
		{ "[fe80::1%4294967296]:1", -22 },
		{ "[fe80::1%-1]:1", -19 },
		{ "[fe80::1%]:1", -22 },
		/* names only where getaddrinfo looks them up */
		{ "[2001:db8::1%eth0]:1", -22 },
		{ "[fec0::1%eth0]:1", -22 },
		{ "192.0.2.1%eth0:1", -22 },
		{ "192.0.2.1%2:1", -22 },
	};

	host_init(&uh, &fh);
	fh.dev = dev;
	rnd_pubkey(pk);
	keyhex(pkh, pk);
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		char want[128];
		int e;

		snprintf(body, sizeof(body), "public_key=%s\nendpoint=%s\n\n",
			 pkh, good[i].set);
		e = set_errno(dev, &uh, body);
		endpoint_line(dev, &uh, line, sizeof(line));
		snprintf(want, sizeof(want), "endpoint=%s", good[i].printed);
		ok(e == 0 && !strcmp(line, want), "endpoint=%s -> %s (%d, %s)",
		   good[i].set, good[i].printed, e, line);
	}
	ok(set_errno(dev, &uh, "public_key=0000000000000000000000000000000000"
			       "000000000000000000000000000000\n\n") == 0,
	   "a second peer");
	snprintf(body, sizeof(body), "public_key=%s\nendpoint=[fe80::9%%vb]:9\n\n",
		 pkh);
	ok(set_errno(dev, &uh, body) == 0, "the peer at [fe80::9%%vb]:9");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int e;

		snprintf(body, sizeof(body), "public_key=%s\nendpoint=%s\n\n",
			 pkh, bad[i].set);
		e = set_errno(dev, &uh, body);
		endpoint_line(dev, &uh, line, sizeof(line));
		ok(e == bad[i].err && !strcmp(line, "endpoint=[fe80::9%7]:9"),
		   "endpoint=%s -> errno=%d, endpoint unchanged (%d, %s)",
		   bad[i].set, bad[i].err, e, line);
	}
	fh.ifname_calls = 0;
	snprintf(body, sizeof(body), "public_key=%s\nendpoint=[2001:db8::1%%2]:1\n"
		 "endpoint=[fe80::1%%12]:1\n\n", pkh);
	set_errno(dev, &uh, body);
	ok(fh.ifname_calls == 1,
	   "names looked up for link-local zones only (%d lookups)",
	   fh.ifname_calls);

	/* A host that cannot look names up takes numbers only. */
	bare = uh;
	bare.ifname_to_index = NULL;
	snprintf(body, sizeof(body), "public_key=%s\nendpoint=[fe80::1%%eth0]:3\n\n",
		 pkh);
	ok(set_errno(dev, &bare, body) == -19 &&
		   set_errno(dev, NULL, body) == -19,
	   "no lookup: a name is no such device");
	snprintf(body, sizeof(body), "public_key=%s\nendpoint=[fe80::1%%5]:3\n\n",
		 pkh);
	ok(set_errno(dev, NULL, body) == 0, "no lookup: a number is taken");
	endpoint_line(dev, NULL, line, sizeof(line));
	ok(!strcmp(line, "endpoint=[fe80::1%5]:3"), "... and printed (%s)",
	   line);

	/* The lock is dropped for the lookup: a peer removed meanwhile is
	 * not brought back, and the request goes on. */
	snprintf(body, sizeof(body), "set=1\npublic_key=%s\nremove=true\n\n",
		 pkh);
	fh.ifname_intruder = body;
	{
		char s2[512], *r;
		int ret;

		snprintf(s2, sizeof(s2), "set=1\npublic_key=%s\n"
			 "endpoint=[fe80::1%%eth0]:4\n"
			 "persistent_keepalive_interval=9\n\n", pkh);
		r = req(dev, &uh, s2, &ret);
		ok(ret == 0 && !strcmp(r, "errno=0\n\n") && peer_count(dev) == 1,
		   "peer removed during the name lookup stays removed");
		free(r);
	}
	cwg_device_free(dev);
}

/* ---- errors ---- */

static void test_errors(void)
{
	struct cwg_device *dev = cwg_device_new(NULL, NULL);
	struct cwg_uapi_host uh;
	struct fake_host fh;
	uint8_t pk[32], sk[32];
	char pkh[65], skh[65], buf[8192], *r;
	int ret;
	size_t i;
	static const struct {
		const char *body;
		int err;
	} dev_cases[] = {
		{ "private_key=zz00000000000000000000000000000000000000000000000000000000000000\n\n", -22 },
		{ "private_key=000000000000000000000000000000000000000000000000000000000000000\n\n", -22 },
		{ "private_key=00000000000000000000000000000000000000000000000000000000000000\n\n", -22 },
		{ "private_key=000000000000000000000000000000000000000000000000000000000000000000\n\n", -22 },
		{ "private_key=\n\n", -22 },
		{ "listen_port=65536\n\n", -22 },
		{ "listen_port=-1\n\n", -22 },
		{ "listen_port=+1\n\n", -22 },
		{ "listen_port=\n\n", -22 },
		{ "listen_port= 1\n\n", -22 },
		{ "listen_port=99999999999999999999999\n\n", -22 },
		{ "fwmark=4294967296\n\n", -22 },
		{ "fwmark=-1\n\n", -22 },
		{ "replace_peers=false\n\n", -22 },
		{ "replace_peers=\n\n", -22 },
		{ "foo=bar\n\n", -22 },
		{ "=\n\n", -22 },
		{ "Private_key=00\n\n", -22 },
		{ "no equals sign\n\n", -71 },
		{ "endpoint=192.0.2.1:1\n\n", -22 },
		{ "allowed_ip=10.0.0.0/8\n\n", -22 },
		{ "protocol_version=1\n\n", -22 },
		{ "remove=true\n\n", -22 },
		{ "public_key=00112233445566778899aabbccddeeff00112233445566778899aabbccddeef\n\n", -22 },
		{ "public_key=00112233445566778899aabbccddeeff00112233445566778899aabbccddeefg\n\n", -22 },
		{ "public_key=\n\n", -22 },
	};
	static const char *const peer_bad[] = {
		"preshared_key=00",
		"preshared_key=x0112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
		"endpoint=192.0.2.1",
		"endpoint=192.0.2.1:",
		"endpoint=192.0.2.1:65536",
		"endpoint=192.0.2.1:-1",
		"endpoint=192.0.2.256:1",
		"endpoint=01.2.3.4:1",
		"endpoint=1.2.3:1",
		"endpoint=::1:51820",
		"endpoint=[::1]",
		"endpoint=[::1]:",
		"endpoint=[::1]51820",
		"endpoint=[192.0.2.1]:1",
		"endpoint=[fe80::1%]:1",
		"endpoint=[::1:1",
		"endpoint=example.com:51820",
		"endpoint=",
		"persistent_keepalive_interval=65536",
		"persistent_keepalive_interval=",
		"persistent_keepalive_interval=1s",
		"allowed_ip=10.0.0.0/33",
		"allowed_ip=10.0.0.0",
		"allowed_ip=10.0.0.0/",
		"allowed_ip=10.0.0.0/08",
		"allowed_ip=10.0.0.0/-1",
		"allowed_ip=::/129",
		"allowed_ip=fe80::1%eth0/64",
		"allowed_ip=10.0.0/8",
		"allowed_ip=-",
		"allowed_ip=--10.0.0.0/8",
		"allowed_ip=",
		"replace_allowed_ips=false",
		"remove=1",
		"update_only=yes",
		"protocol_version=2",
		"protocol_version=01",
		"protocol_version=",
		"listen_port=1",
		"private_key=0000000000000000000000000000000000000000000000000000000000000000",
		"replace_peers=true",
		"last_handshake_time_sec=0",
		"tx_bytes=0",
		"bogus=1",
	};

	host_init(&uh, &fh);
	for (i = 0; i < sizeof(dev_cases) / sizeof(dev_cases[0]); i++) {
		int e = set_errno(dev, &uh, dev_cases[i].body);

		ok(e == dev_cases[i].err, "set %.*s -> errno=%d (got %d)",
		   (int)strcspn(dev_cases[i].body, "\n"), dev_cases[i].body,
		   dev_cases[i].err, e);
	}
	ok(peer_count(dev) == 0 && fh.port_calls == 0 && fh.mark_calls == 0,
	   "no bad line changed anything");

	rnd_pubkey(pk);
	keyhex(pkh, pk);
	for (i = 0; i < sizeof(peer_bad) / sizeof(peer_bad[0]); i++) {
		int e;

		snprintf(buf, sizeof(buf),
			 "replace_peers=true\npublic_key=%s\n%s\n"
			 "allowed_ip=10.9.9.9/32\n\n", pkh, peer_bad[i]);
		e = set_errno(dev, &uh, buf);
		r = get(dev, &uh);
		ok(e == -22 && peer_count(dev) == 1 &&
		   !strstr(r, "allowed_ip="),
		   "peer line %s -> errno=-22, earlier lines kept, later "
		   "skipped (got %d)", peer_bad[i], e);
		free(r);
	}

	/* A NUL byte inside a line. */
	{
		static const char nul[] = "set=1\nlisten_port=1\0\n\nget=1\n\n";

		r = xreq(dev, &uh, nul, sizeof(nul) - 1, &ret);
		ok(ret == 0 && !strncmp(r, "errno=-22\n\n", 11) &&
		   fh.port_calls == 0, "NUL byte: errno=-22, not applied");
		ok(strstr(r + 11, "errno=0\n\n") != NULL,
		   "connection goes on after the NUL error");
		free(r);
	}

	/* Earlier lines stay, later ones of the request are skipped, the
	 * next request runs. */
	rnd_bytes(sk, 32);
	cwg_x25519_clamp(sk);
	keyhex(skh, sk);
	snprintf(buf, sizeof(buf),
		 "set=1\nprivate_key=%s\nlisten_port=7\nbad\nfwmark=9\n"
		 "public_key=%s\n\nget=1\n\n", skh, pkh);
	r = req(dev, &uh, buf, &ret);
	{
		char want[128];

		snprintf(want, sizeof(want), "private_key=%s", skh);
		ok(ret == 0 && !strncmp(r, "errno=-71\n\n", 11) &&
		   has_line(r + 11, want) && has_line(r + 11, "listen_port=7") &&
		   !strstr(r, "fwmark=") && fh.mark_calls == 0,
		   "error keeps earlier lines, skips the rest, next request "
		   "answered");
	}
	free(r);

	/* Closing errors. */
	r = req(dev, &uh, "foo=1\n\n", &ret);
	ok(ret == -1 && !*r, "unknown operation: closed, no reply");
	free(r);
	r = req(dev, &uh, "\n", &ret);
	ok(ret == -1 && !*r, "blank operation line: closed");
	free(r);
	r = req(dev, &uh, "get=1\nx\n", &ret);
	ok(ret == -1 && !strcmp(r, "errno=-22\n\n"),
	   "get=1 with a trailing line: errno=-22 and closed");
	free(r);
	r = req(dev, &uh, "set=2\n\n", &ret);
	ok(ret == -1, "set=2: closed");
	free(r);

	memcpy(buf, "set=1\nallowed_ip=", 17);
	memset(buf + 17, '1', 5000);
	buf[5017] = '\0';
	r = req(dev, &uh, buf, &ret);
	ok(ret == -1 && !*r, "line longer than CWG_UAPI_MAX_LINE: closed");
	free(r);

	/* A line of exactly CWG_UAPI_MAX_LINE bytes is a normal (bad) line,
	 * and a skipped line may be any length. */
	{
		size_t n = CWG_UAPI_MAX_LINE;
		char *big = malloc(3 * n + 64), *p = big;

		p += sprintf(p, "set=1\n");
		memset(p, 'a', n);
		p += n;
		p += sprintf(p, "\n");
		memset(p, 'b', 2 * n);
		p += 2 * n;
		p += sprintf(p, "\n\nget=1\n\n");
		r = xreq(dev, &uh, big, (size_t)(p - big), &ret);
		ok(ret == 0 && !strncmp(r, "errno=-71\n\n", 11) &&
		   strstr(r, "errno=0\n\n"),
		   "max-length line parsed, long skipped line discarded");
		free(r);
		free(big);
	}

	/* A closed connection stays closed. */
	{
		struct cwg_uapi_conn *c = cwg_uapi_conn_new(dev, &uh);
		struct cwg_uapi_buf out = { 0 };

		ok(cwg_uapi_feed(c, "nope\n", 5, &out) == -1 &&
		   cwg_uapi_feed(c, "get=1\n\n", 7, &out) == -1 && out.len == 0,
		   "feed after close returns -1 and writes nothing");
		cwg_uapi_buf_free(&out);
		cwg_uapi_conn_free(c);
	}

	cwg_device_free(dev);
}

/* ---- peer verbs ---- */

static void test_verbs(void)
{
	struct cwg_device *dev = cwg_device_new(NULL, NULL);
	uint8_t pk[4][32], sk[32], own[32];
	char h[4][65], skh[65], ownh[65], buf[4096], *r;
	int i;

	for (i = 0; i < 4; i++) {
		rnd_pubkey(pk[i]);
		keyhex(h[i], pk[i]);
	}

	snprintf(buf, sizeof(buf),
		 "public_key=%s\nallowed_ip=10.0.0.0/24\n"
		 "public_key=%s\nallowed_ip=10.0.1.0/24\n\n", h[0], h[1]);
	ok(set_errno(dev, NULL, buf) == 0 && peer_count(dev) == 2,
	   "two peers added");
	snprintf(buf, sizeof(buf),
		 "replace_peers=true\npublic_key=%s\n\n", h[2]);
	ok(set_errno(dev, NULL, buf) == 0 && peer_count(dev) == 1,
	   "replace_peers=true leaves only the new peer");
	r = get(dev, NULL);
	ok(strstr(r, h[2]) && !strstr(r, h[0]) && !strstr(r, "allowed_ip"),
	   "it is the new one, with no allowed IPs");
	free(r);

	/* remove, and the lines after it are not applied */
	snprintf(buf, sizeof(buf),
		 "public_key=%s\nallowed_ip=10.0.0.0/24\n"
		 "public_key=%s\nremove=true\nallowed_ip=10.7.0.0/16\n"
		 "endpoint=192.0.2.9:9\n\n", h[0], h[2]);
	ok(set_errno(dev, NULL, buf) == 0 && peer_count(dev) == 1,
	   "remove=true removed the peer");
	r = get(dev, NULL);
	ok(strstr(r, h[0]) && !strstr(r, h[2]) && !strstr(r, "10.7.0.0") &&
	   !strstr(r, "endpoint="), "lines after remove were ignored");
	free(r);
	snprintf(buf, sizeof(buf), "public_key=%s\nremove=true\n\n", h[3]);
	ok(set_errno(dev, NULL, buf) == 0 && peer_count(dev) == 1,
	   "removing an unknown peer creates nothing");

	/* update_only */
	snprintf(buf, sizeof(buf),
		 "public_key=%s\nupdate_only=true\nallowed_ip=10.3.0.0/16\n\n",
		 h[3]);
	ok(set_errno(dev, NULL, buf) == 0 && peer_count(dev) == 1,
	   "update_only on an unknown peer: not created");
	snprintf(buf, sizeof(buf),
		 "public_key=%s\nallowed_ip=10.3.0.0/16\nupdate_only=true\n\n",
		 h[3]);
	ok(set_errno(dev, NULL, buf) == 0 && peer_count(dev) == 1,
	   "update_only after other lines still undoes the creation");
	snprintf(buf, sizeof(buf),
		 "public_key=%s\nupdate_only=true\nallowed_ip=10.4.0.0/16\n\n",
		 h[0]);
	ok(set_errno(dev, NULL, buf) == 0 && peer_count(dev) == 1,
	   "update_only on an existing peer");
	r = get(dev, NULL);
	ok(has_line(r, "allowed_ip=10.4.0.0/16") &&
	   has_line(r, "allowed_ip=10.0.0.0/24") && !strstr(r, "10.3.0.0"),
	   "existing peer updated");
	free(r);

	/* replace_allowed_ips */
	snprintf(buf, sizeof(buf),
		 "public_key=%s\nreplace_allowed_ips=true\n"
		 "allowed_ip=fd00::/8\n\n", h[0]);
	ok(set_errno(dev, NULL, buf) == 0, "replace_allowed_ips accepted");
	r = get(dev, NULL);
	ok(count_lines(r, "allowed_ip=") == 1 && has_line(r, "allowed_ip=fd00::/8"),
	   "replace_allowed_ips left only the new prefix");
	free(r);

	/* allowed_ip=-prefix */
	snprintf(buf, sizeof(buf),
		 "public_key=%s\nallowed_ip=10.0.0.0/8\nallowed_ip=10.1.0.0/16\n"
		 "allowed_ip=192.0.2.0/24\nallowed_ip=-10.255.0.1/8\n"
		 "allowed_ip=-fd00::/8\nallowed_ip=-172.16.0.0/12\n\n", h[0]);
	ok(set_errno(dev, NULL, buf) == 0, "allowed_ip=-prefix accepted");
	r = get(dev, NULL);
	ok(count_lines(r, "allowed_ip=") == 2 &&
	   has_line(r, "allowed_ip=10.1.0.0/16") &&
	   has_line(r, "allowed_ip=192.0.2.0/24"),
	   "removal (host bits ignored) left the other prefixes");
	free(r);
	/* Host bits on add are normalized away. */
	snprintf(buf, sizeof(buf), "public_key=%s\nallowed_ip=10.9.8.7/8\n\n",
		 h[0]);
	ok(set_errno(dev, NULL, buf) == 0, "prefix with host bits accepted");
	r = get(dev, NULL);
	ok(has_line(r, "allowed_ip=10.0.0.0/8"), "printed normalized");
	free(r);
	/* Removing another peer's prefix does nothing to it. */
	snprintf(buf, sizeof(buf),
		 "public_key=%s\nallowed_ip=-10.0.0.0/8\n\n", h[1]);
	ok(set_errno(dev, NULL, buf) == 0, "removal on a peer not holding it");
	r = get(dev, NULL);
	ok(has_line(r, "allowed_ip=10.0.0.0/8"), "holder keeps the prefix");
	free(r);
	snprintf(buf, sizeof(buf), "public_key=%s\nremove=true\n\n", h[1]);
	set_errno(dev, NULL, buf);

	/* A peer with the device's own public key is ignored entirely. */
	rnd_bytes(sk, 32);
	cwg_x25519_clamp(sk);
	cwg_x25519_public(own, sk);
	keyhex(skh, sk);
	keyhex(ownh, own);
	snprintf(buf, sizeof(buf),
		 "private_key=%s\npublic_key=%s\nallowed_ip=10.200.0.0/16\n"
		 "endpoint=192.0.2.1:1\nremove=true\n"
		 "public_key=%s\nallowed_ip=10.201.0.0/16\n\n", skh, ownh, h[0]);
	ok(set_errno(dev, NULL, buf) == 0 && peer_count(dev) == 1,
	   "own-key peer ignored, no error");
	r = get(dev, NULL);
	ok(!strstr(r, ownh) && !strstr(r, "10.200.") &&
	   has_line(r, "allowed_ip=10.201.0.0/16"),
	   "own-key peer's lines dropped; next peer applied");
	free(r);
	snprintf(buf, sizeof(buf),
		 "public_key=%s\nallowed_ip=10.200.0.0/33\n\n", ownh);
	ok(set_errno(dev, NULL, buf) == -22,
	   "own-key peer's lines are still parsed");

	/* public_key alone creates a peer. */
	snprintf(buf, sizeof(buf), "public_key=%s\n\n", h[3]);
	ok(set_errno(dev, NULL, buf) == 0 && peer_count(dev) == 2,
	   "a bare public_key line creates the peer");

	cwg_device_free(dev);
}

/* ---- streaming ---- */

/* Feed s in pieces of `step` bytes (0: at once) on one connection. */
static char *feed_steps(struct cwg_device *dev, const struct cwg_uapi_host *h,
			const char *s, size_t len, size_t step, int *ret)
{
	struct cwg_uapi_conn *c = cwg_uapi_conn_new(dev, h);
	struct cwg_uapi_buf out = { 0 };
	size_t off = 0;
	char *r;

	*ret = 0;
	if (!step)
		step = len;
	while (off < len && *ret == 0) {
		size_t n = len - off < step ? len - off : step;

		*ret = cwg_uapi_feed(c, s + off, n, &out);
		off += n;
	}
	cwg_uapi_conn_free(c);
	r = malloc(out.len + 1);
	memcpy(r, out.data ? out.data : "", out.len);
	r[out.len] = '\0';
	cwg_uapi_buf_free(&out);
	return r;
}

static void test_streaming(void)
{
	struct cwg_device *d1 = cwg_device_new(NULL, NULL),
			  *d2 = cwg_device_new(NULL, NULL),
			  *d3 = cwg_device_new(NULL, NULL);
	struct cwg_uapi_host uh1, uh2, uh3;
	struct fake_host f1, f2, f3;
	uint8_t pk[3][32], sk[32];
	char h[3][65], skh[65], s[8192], *r1, *r2, *r3, *g1, *g2;
	int ret1, ret2, ret3, n;

	host_init(&uh1, &f1);
	host_init(&uh2, &f2);
	host_init(&uh3, &f3);
	for (n = 0; n < 3; n++) {
		rnd_pubkey(pk[n]);
		keyhex(h[n], pk[n]);
	}
	rnd_bytes(sk, 32);
	keyhex(skh, sk);
	n = snprintf(s, sizeof(s),
		     "set=1\nprivate_key=%s\nlisten_port=4000\n"
		     "public_key=%s\nendpoint=[2001:db8::7]:7\n"
		     "allowed_ip=10.0.0.0/8\nallowed_ip=fd00::/64\n\n"
		     "get=1\n\n"
		     "set=1\npublic_key=%s\nallowed_ip=1.2.3.4/33\n"
		     "allowed_ip=5.6.7.8/32\n\n"
		     "set=1\npublic_key=%s\npersistent_keepalive_interval=5\n"
		     "allowed_ip=-10.0.0.0/8\n\n"
		     "set=1\nfwmark=77\n\n"
		     "get=1\n\n",
		     skh, h[0], h[1], h[2]);
	r1 = feed_steps(d1, &uh1, s, (size_t)n, 0, &ret1);
	r2 = feed_steps(d2, &uh2, s, (size_t)n, 1, &ret2);
	r3 = feed_steps(d3, &uh3, s, (size_t)n, 7, &ret3);
	ok(ret1 == 0 && ret2 == 0 && ret3 == 0, "six requests on one "
	   "connection, whole, byte at a time and 7 bytes at a time");
	ok(!strcmp(r1, r2) && !strcmp(r1, r3),
	   "the replies are identical however the bytes arrive");
	ok(count_lines(r1, "errno=0") == 5 && count_lines(r1, "errno=-22") == 1,
	   "five successes and one EINVAL");
	ok(strstr(r1, "errno=-22\n\nerrno=0\n\nerrno=0\n\nprivate_key=") != NULL,
	   "replies in request order");
	ok(has_line(r1, "fwmark=77") && has_line(r1, "listen_port=4000") &&
	   has_line(r1, "persistent_keepalive_interval=5") &&
	   count_lines(strstr(r1, "fwmark=77"), "allowed_ip=") == 2 &&
	   count_lines(strstr(r1, "fwmark=77"), "public_key=") == 3,
	   "requests after the failed one applied");
	ok(!strstr(r1, "5.6.7.8"), "line after the error not applied");
	g1 = get(d1, &uh1);
	g2 = get(d2, &uh2);
	ok(!strcmp(g1, g2), "device states identical");
	free(g1);
	free(g2);
	free(r1);
	free(r2);
	free(r3);

	/* A request split across feeds is applied line by line: after the
	 * first half the peer exists already (no lock held meanwhile). */
	{
		struct cwg_uapi_conn *c = cwg_uapi_conn_new(d1, NULL);
		struct cwg_uapi_buf out = { 0 };
		char part[256];

		n = snprintf(part, sizeof(part),
			     "set=1\nreplace_peers=true\npublic_key=%s\nallowed_ip=10.5", h[2]);
		ok(cwg_uapi_feed(c, part, (size_t)n, &out) == 0 &&
		   out.len == 0 && peer_count(d1) == 1,
		   "half a request: earlier lines applied, no reply yet");
		/* Another connection removes the peer meanwhile. */
		snprintf(part, sizeof(part),
			 "public_key=%s\nremove=true\n\n", h[2]);
		ok(set_errno(d1, NULL, part) == 0 && peer_count(d1) == 0,
		   "peer removed by another connection mid-request");
		ok(cwg_uapi_feed(c, ".0.0/16\nendpoint=192.0.2.1:1\n\n", 30,
				 &out) == 0 && out.len == 9 &&
		   !memcmp(out.data, "errno=0\n\n", 9) && peer_count(d1) == 0,
		   "rest of the request dropped for the vanished peer");
		cwg_uapi_buf_free(&out);
		cwg_uapi_conn_free(c);
	}

	cwg_device_free(d1);
	cwg_device_free(d2);
	cwg_device_free(d3);
}

/* 130,560 allowed IPs (the size of a full-mesh test config), fed in
 * 64 KiB chunks, then printed back. */
static void test_big(void)
{
	struct cwg_device *dev = cwg_device_new(NULL, NULL);
	struct cwg_uapi_buf out = { 0 };
	struct cwg_uapi_conn *c;
	uint8_t pk[32];
	char pkh[65], *s, *p, *r;
	const int count = 130560;
	size_t len, off;
	int i, ret = 0;

	rnd_pubkey(pk);
	keyhex(pkh, pk);
	s = malloc((size_t)count * 40 + 256);
	p = s;
	p += sprintf(p, "set=1\npublic_key=%s\n", pkh);
	/* 65536 distinct IPv4 /24s, the rest distinct IPv6 /32s */
	for (i = 0; i < count; i++) {
		if (i < 65536)
			p += sprintf(p, "allowed_ip=10.%d.%d.0/24\n",
				     (i >> 8) & 255, i & 255);
		else
			p += sprintf(p, "allowed_ip=fd00:%x::/32\n",
				     i - 65536);
	}
	p += sprintf(p, "\n");
	len = (size_t)(p - s);
	c = cwg_uapi_conn_new(dev, NULL);
	for (off = 0; off < len && ret == 0; off += 65536)
		ret = cwg_uapi_feed(c, s + off,
				    len - off < 65536 ? len - off : 65536, &out);
	ok(ret == 0 && out.len == 9 && !memcmp(out.data, "errno=0\n\n", 9),
	   "%d allowed IPs in 64 KiB chunks accepted", count);
	cwg_uapi_buf_free(&out);
	cwg_uapi_conn_free(c);
	r = get(dev, NULL);
	ok(count_lines(r, "allowed_ip=") == count && strlen(r) > 3000000,
	   "get prints all %d (%zu bytes)", count, strlen(r));
	ok(has_line(r, "allowed_ip=10.255.255.0/24") &&
	   has_line(r, "allowed_ip=fd00:fdff::/32"),
	   "first and last families present");
	free(r);
	free(s);
	cwg_device_free(dev);
}

/* ---- replacing allowed IPs, and the batch a set request is ---- */

/* The peer (public key) owning addr in dev's routing table, "" if none;
 * the keys are the hex strings given. */
static const char *route_of(struct cwg_device *dev, const char *addr,
			    char (*keys)[65], int nkeys)
{
	struct cwg_allowedips_owner *o;
	struct cwg_peer *peer;
	uint8_t a[16], pk[32];
	int family = strchr(addr, ':') ? 6 : 4, i;

	if (inet_pton(family == 4 ? AF_INET : AF_INET6, addr, a) != 1)
		return "bad address";
	cwg_device_cfg_rdlock(dev);
	o = cwg_allowedips_lookup(&dev->allowedips, family, a);
	peer = o ? CWG_CONTAINER_OF(o, struct cwg_peer, allowedips) : NULL;
	if (peer)
		memcpy(pk, peer->pubkey.pubkey, 32);
	cwg_device_cfg_unlock(dev);
	if (!peer)
		return "";
	for (i = 0; i < nkeys; i++) {
		uint8_t k[32];

		hex_decode(k, 32, keys[i]);
		if (!memcmp(k, pk, 32))
			return keys[i];
	}
	return "another peer";
}

/* Feed one piece on c; true when it produced no output. */
static bool feed_quiet(struct cwg_uapi_conn *c, const char *s)
{
	struct cwg_uapi_buf out = { 0 };
	bool quiet = cwg_uapi_feed(c, s, strlen(s), &out) == 0 && !out.len;

	cwg_uapi_buf_free(&out);
	return quiet;
}

static void test_replace(void)
{
	struct cwg_device *dev = cwg_device_new(NULL, NULL);
	struct cwg_uapi_buf out = { 0 };
	struct cwg_uapi_conn *c;
	char h[2][65], buf[1024], *r;
	uint8_t pk[32];
	bool kept;
	int i;

	for (i = 0; i < 2; i++) {
		rnd_pubkey(pk);
		keyhex(h[i], pk);
	}
	snprintf(buf, sizeof(buf),
		 "public_key=%s\nallowed_ip=10.1.0.0/16\nallowed_ip=10.2.0.0/16\n"
		 "allowed_ip=10.3.0.0/16\nallowed_ip=fd00::/64\n\n", h[0]);
	ok(set_errno(dev, NULL, buf) == 0, "replace: P holds four prefixes");

	/* Fed in pieces, as a big request arrives: between them the lock is
	 * free, and routing must never lose what is kept. */
	c = cwg_uapi_conn_new(dev, NULL);
	snprintf(buf, sizeof(buf),
		 "set=1\npublic_key=%s\nreplace_allowed_ips=true\n"
		 "allowed_ip=10.2.0.0/16\n", h[0]);
	ok(feed_quiet(c, buf) && dev->cfg_batches == 1,
	   "replace: first piece applied, one configuration batch open");
	kept = true;
	for (i = 1; i <= 3; i++) {
		snprintf(buf, sizeof(buf), "10.%d.0.1", i);
		kept &= route_of(dev, buf, h, 2) == h[0];
	}
	ok(kept && route_of(dev, "fd00::1", h, 2) == h[0],
	   "replace: between the pieces every old prefix still routes to P");
	r = get(dev, NULL);
	ok(count_lines(r, "allowed_ip=") == 4, "replace: and get lists them");
	free(r);
	ok(feed_quiet(c, "allowed_ip=10.1.0.0/16\nallowed_ip=10.4.0.0/16\n"),
	   "replace: second piece applied");
	ok(route_of(dev, "10.4.0.1", h, 2) == h[0] &&
		   route_of(dev, "10.3.0.1", h, 2) == h[0],
	   "replace: new prefixes route at once, dropped ones until the end");
	ok(cwg_uapi_feed(c, "\n", 1, &out) == 0 && out.len == 9 &&
		   !memcmp(out.data, "errno=0\n\n", 9) && dev->cfg_batches == 0,
	   "replace: the request ends, errno=0, the batch is closed");
	cwg_uapi_buf_free(&out);
	ok(route_of(dev, "10.1.0.1", h, 2) == h[0] &&
		   route_of(dev, "10.2.0.1", h, 2) == h[0] &&
		   route_of(dev, "10.4.0.1", h, 2) == h[0] &&
		   !*route_of(dev, "10.3.0.1", h, 2) &&
		   !*route_of(dev, "fd00::1", h, 2),
	   "replace: at the end exactly the prefixes sent remain");
	r = get(dev, NULL);
	ok(strstr(r, "allowed_ip=10.2.0.0/16\nallowed_ip=10.1.0.0/16\n"
		     "allowed_ip=10.4.0.0/16\n") &&
		   count_lines(r, "allowed_ip=") == 3,
	   "replace: the prefixes end in the order sent");
	free(r);

	/* The next public_key line ends the replacement; a prefix moved to
	 * another peer meanwhile stays there. */
	snprintf(buf, sizeof(buf),
		 "set=1\npublic_key=%s\nreplace_allowed_ips=true\n"
		 "allowed_ip=10.1.0.0/16\npublic_key=%s\n"
		 "allowed_ip=10.2.0.0/16\n",
		 h[0], h[1]);
	ok(feed_quiet(c, buf), "replace: then another peer's lines");
	ok(route_of(dev, "10.1.0.1", h, 2) == h[0] &&
		   route_of(dev, "10.2.0.1", h, 2) == h[1] &&
		   !*route_of(dev, "10.4.0.1", h, 2),
	   "replace: ended at the next public_key line");
	/* A connection that goes mid-request still ends it. */
	snprintf(buf, sizeof(buf),
		 "public_key=%s\nreplace_allowed_ips=true\n"
		 "allowed_ip=10.9.0.0/16\n", h[1]);
	ok(feed_quiet(c, buf) && route_of(dev, "10.2.0.1", h, 2) == h[1],
	   "replace: begun for the second peer");
	cwg_uapi_conn_free(c);
	ok(!*route_of(dev, "10.2.0.1", h, 2) &&
		   route_of(dev, "10.9.0.1", h, 2) == h[1] &&
		   dev->cfg_batches == 0,
	   "replace: a connection closed mid-request ends it and its batch");
	/* So does a bad line. */
	c = cwg_uapi_conn_new(dev, NULL);
	snprintf(buf, sizeof(buf),
		 "set=1\npublic_key=%s\nreplace_allowed_ips=true\n"
		 "allowed_ip=10.8.0.0/16\nallowed_ip=10.7.0.0/33\n",
		 h[1]);
	ok(cwg_uapi_feed(c, buf, strlen(buf), &out) == 0 && out.len == 11 &&
		   !memcmp(out.data, "errno=-22\n\n", 11) &&
		   dev->cfg_batches == 0,
	   "replace: a bad line fails the request and closes its batch");
	cwg_uapi_buf_free(&out);
	ok(!*route_of(dev, "10.9.0.1", h, 2) &&
		   route_of(dev, "10.8.0.1", h, 2) == h[1],
	   "replace: what was sent before the bad line replaced the rest");
	cwg_uapi_conn_free(c);
	cwg_device_free(dev);
}

/* The lookup tables are rebuilt by a tick once a request is over, not
 * while one is open (for a second at most). */
static void test_batch_tables(void)
{
	struct cwg_device *dev = cwg_device_new(NULL, NULL);
	struct cwg_uapi_conn *c = cwg_uapi_conn_new(dev, NULL);
	struct cwg_uapi_buf reply = { 0 };
	const uint64_t s = 1000000000ULL;
	struct cwg_out out;
	char h[65], buf[256];
	uint8_t pk[32];

	cwg_out_init(&out);
	dev->allowedips.stride_min_nodes = 0; /* tables for any size */
	rnd_pubkey(pk);
	keyhex(h, pk);
	snprintf(buf, sizeof(buf),
		 "set=1\npublic_key=%s\nallowed_ip=10.0.0.0/8\n", h);
	ok(feed_quiet(c, buf) && cwg_allowedips_stale(&dev->allowedips),
	   "batch: routes changed, the tables are stale");
	cwg_device_tick(dev, 10 * s, &out);
	cwg_device_tick(dev, 10 * s + s / 2, &out);
	ok(cwg_allowedips_stale(&dev->allowedips),
	   "batch: ticks leave them while the request is open");
	cwg_device_tick(dev, 11 * s + s / 10, &out);
	ok(!cwg_allowedips_stale(&dev->allowedips) && dev->allowedips.stride4,
	   "batch: ... for a second at most");
	ok(feed_quiet(c, "allowed_ip=10.1.0.0/16\n") &&
		   cwg_allowedips_stale(&dev->allowedips),
	   "batch: more changes");
	cwg_device_tick(dev, 11 * s + s / 5, &out);
	ok(cwg_allowedips_stale(&dev->allowedips),
	   "batch: and the second counts again from there");
	ok(cwg_uapi_feed(c, "\n", 1, &reply) == 0 && dev->cfg_batches == 0,
	   "batch: the request ends");
	cwg_uapi_buf_free(&reply);
	cwg_device_tick(dev, 11 * s + s / 4, &out);
	ok(!cwg_allowedips_stale(&dev->allowedips),
	   "batch: the next tick rebuilds them");
	cwg_device_cfg_batch_end(dev);
	ok(dev->cfg_batches == 0, "batch: an end without a begin is ignored");
	ok(!out.net.count, "batch: no peer with an endpoint, nothing sent");
	cwg_uapi_conn_free(c);
	cwg_device_free(dev);
}

/* Every allowed IP as inet_ntop(3) prints it, whatever its zeros. */
static void test_get_addresses(void)
{
	static const char *const fixed[] = {
		"::", "::1", "1::", "1::1", "::ffff:1.2.3.4", "::1.2.3.4",
		"::ffff:0:1.2.3.4", "::1:0:0:0:1", "1:0:0:1:0:0:1:0",
		"1:2:3:4:5:6:7:8", "1:0:2:0:3:0:4:0", "0:1::", "::1:0",
		"fe80::1", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
		"1:2:3:4:5:6:7::", "::2:3:4:5:6:7:8", "0:0:1::1",
		"abcd:ef01::", "0:0:0:0:1:0:0:0", "0:0:0:0:0:1:0:0",
	};
	struct cwg_device *dev = cwg_device_new(NULL, NULL);
	char h[65], want[64], *body, *p, *r;
	uint8_t pk[32], a[300][16];
	int n = 0, i, j, bad = 0;

	rnd_pubkey(pk);
	keyhex(h, pk);
	for (i = 0; i < (int)(sizeof(fixed) / sizeof(fixed[0])); i++)
		inet_pton(AF_INET6, fixed[i], a[n++]);
	/* random words, each zero with probability one half, all distinct */
	while (n < 300) {
		rnd_bytes(a[n], 16);
		for (j = 0; j < 8; j++)
			if (rnd() & 1)
				a[n][2 * j] = a[n][2 * j + 1] = 0;
		for (j = 0; j < n && memcmp(a[j], a[n], 16); j++)
			;
		n += j == n;
	}
	body = p = malloc(300 * 64 + 256);
	p += sprintf(p, "public_key=%s\n", h);
	for (i = 0; i < n; i++) {
		inet_ntop(AF_INET6, a[i], want, sizeof(want));
		p += sprintf(p, "allowed_ip=%s/128\n", want);
	}
	p += sprintf(p, "allowed_ip=0.0.0.0/0\nallowed_ip=255.255.255.255/32\n"
			"allowed_ip=10.200.3.0/24\n\n");
	ok(set_errno(dev, NULL, body) == 0, "%d IPv6 and 3 IPv4 prefixes set",
	   n);
	r = get(dev, NULL);
	for (i = 0; i < n; i++) {
		char line[96];

		inet_ntop(AF_INET6, a[i], want, sizeof(want));
		snprintf(line, sizeof(line), "allowed_ip=%s/128", want);
		if (!has_line(r, line)) {
			if (!bad)
				diag("not in get's output: %s", line);
			bad++;
		}
	}
	ok(!bad && count_lines(r, "allowed_ip=") == n + 3,
	   "get prints every IPv6 address as inet_ntop does (%d missing)",
	   bad);
	ok(has_line(r, "allowed_ip=0.0.0.0/0") &&
		   has_line(r, "allowed_ip=255.255.255.255/32") &&
		   has_line(r, "allowed_ip=10.200.3.0/24"),
	   "and IPv4 ones");
	free(r);
	free(body);
	cwg_device_free(dev);
}

/* ---- round trip over random configurations ---- */

#define RT_MAX_PEERS 6
#define RT_MAX_IPS 24

struct model_ip {
	int family;
	uint8_t addr[16];
	uint8_t cidr;
	int owner; /* peer index, or -1 once moved away or removed */
};

static void mask(uint8_t *a, int family, uint8_t cidr)
{
	int len = family == 4 ? 4 : 16, i;

	for (i = 0; i < len; i++) {
		int bits = (int)cidr - 8 * i;

		if (bits >= 8)
			continue;
		a[i] &= bits <= 0 ? 0 : (uint8_t)(0xff00u >> bits);
	}
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The allowed_ip lines of the section of get output g for peer hex,
 * sorted, joined. */
static char *section_ips(const char *g, const char *hex)
{
	char key[80], *lines[4096], *out, *o;
	const char *p, *end;
	int n = 0, i;
	size_t total = 1;

	snprintf(key, sizeof(key), "public_key=%s\n", hex);
	p = strstr(g, key);
	if (!p)
		return NULL;
	p += strlen(key);
	end = strstr(p, "public_key=");
	if (!end)
		end = p + strlen(p);
	while (p < end && n < 4096) {
		const char *e = strchr(p, '\n');

		if (!e || e > end)
			break;
		if (!strncmp(p, "allowed_ip=", 11)) {
			lines[n] = strndup(p, (size_t)(e - p));
			total += strlen(lines[n]) + 1;
			n++;
		}
		p = e + 1;
	}
	qsort(lines, (size_t)n, sizeof(lines[0]), cmp_str);
	out = o = malloc(total);
	*o = '\0';
	for (i = 0; i < n; i++) {
		o += sprintf(o, "%s\n", lines[i]);
		free(lines[i]);
	}
	return out;
}

static void test_roundtrip(uint64_t seed, int rounds)
{
	int round, bad_model = 0, bad_rt = 0, bad_set = 0;

	rng_state = seed;
	diag("round trip: seed %llu, %d rounds (CWG_TEST_SEED to repeat)",
	     (unsigned long long)seed, rounds);
	for (round = 0; round < rounds; round++) {
		struct cwg_device *d1 = cwg_device_new(NULL, NULL),
				  *d2 = cwg_device_new(NULL, NULL);
		struct cwg_uapi_host uh1, uh2;
		struct fake_host f1, f2;
		struct model_ip ips[RT_MAX_PEERS * RT_MAX_IPS];
		uint8_t pks[RT_MAX_PEERS][32];
		char pkh[RT_MAX_PEERS][65];
		char *s = malloc(65536), *p = s, *r, *g1, *g2, *s2;
		int npeers = (int)(rnd() % (RT_MAX_PEERS + 1)), nips = 0, i, j;
		uint8_t k[32];
		char kh[65];
		int ret;

		host_init(&uh1, &f1);
		host_init(&uh2, &f2);
		p += sprintf(p, "set=1\n");
		if (rnd() % 4) {
			rnd_bytes(k, 32);
			keyhex(kh, k);
			p += sprintf(p, "private_key=%s\n", kh);
		}
		if (rnd() % 2)
			p += sprintf(p, "listen_port=%u\n",
				     (unsigned int)(rnd() % 65536));
		if (rnd() % 2)
			p += sprintf(p, "fwmark=%u\n", (unsigned int)rnd());
		for (i = 0; i < npeers; i++) {
			int n = (int)(rnd() % (RT_MAX_IPS + 1));

			rnd_pubkey(pks[i]);
			keyhex(pkh[i], pks[i]);
			p += sprintf(p, "public_key=%s\n", pkh[i]);
			if (rnd() % 2) {
				rnd_bytes(k, 32);
				keyhex(kh, k);
				p += sprintf(p, "preshared_key=%s\n", kh);
			}
			switch (rnd() % 3) {
			case 1:
				p += sprintf(p, "endpoint=%u.%u.%u.%u:%u\n",
					     (unsigned int)(rnd() % 256),
					     (unsigned int)(rnd() % 256),
					     (unsigned int)(rnd() % 256),
					     (unsigned int)(rnd() % 256),
					     (unsigned int)(rnd() % 65536));
				break;
			case 2: {
				uint8_t a[16];
				char t[INET6_ADDRSTRLEN];

				rnd_bytes(a, 16);
				if (rnd() % 2)
					memset(a + 4, 0, 8);
				if (rnd() % 3 == 0) {
					a[0] = 0xfe;
					a[1] = 0x80;
				}
				inet_ntop(AF_INET6, a, t, sizeof(t));
				p += sprintf(p, "endpoint=[%s", t);
				if (rnd() % 2)
					p += sprintf(p, "%%%u",
						     (unsigned int)rnd());
				else if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80 &&
					 rnd() % 2)
					p += sprintf(p, "%%vb");
				p += sprintf(p, "]:%u\n",
					     (unsigned int)(rnd() % 65536));
				break;
			}
			default:
				break;
			}
			if (rnd() % 2)
				p += sprintf(p,
					     "persistent_keepalive_interval=%u\n",
					     (unsigned int)(rnd() % 65536));
			for (j = 0; j < n; j++) {
				struct model_ip *m = &ips[nips];
				char t[INET6_ADDRSTRLEN];
				int q;

				memset(m, 0, sizeof(*m));
				m->family = rnd() % 2 ? 4 : 6;
				/* small address space so prefixes collide
				 * and move between peers */
				rnd_bytes(m->addr, 16);
				m->addr[0] = (uint8_t)(m->addr[0] % 4);
				if (m->family == 4)
					memset(m->addr + 4, 0, 12);
				m->cidr = (uint8_t)(rnd() %
					  (m->family == 4 ? 33 : 129));
				if (rnd() % 3 == 0)
					m->cidr = (uint8_t)(m->cidr % 9);
				inet_ntop(m->family == 4 ? AF_INET : AF_INET6,
					  m->addr, t, sizeof(t));
				p += sprintf(p, "allowed_ip=%s/%u\n", t,
					     m->cidr);
				mask(m->addr, m->family, m->cidr);
				m->owner = i;
				for (q = 0; q < nips; q++)
					if (ips[q].family == m->family &&
					    ips[q].cidr == m->cidr &&
					    !memcmp(ips[q].addr, m->addr, 16))
						ips[q].owner = -1;
				nips++;
			}
		}
		p += sprintf(p, "\n");

		r = req(d1, &uh1, s, &ret);
		if (ret != 0 || strcmp(r, "errno=0\n\n")) {
			bad_set++;
			diag("round %d: set failed: %s", round, r);
		}
		free(r);
		g1 = get(d1, &uh1);

		/* model: each peer holds exactly its surviving prefixes */
		for (i = 0; i < npeers; i++) {
			char *got = section_ips(g1, pkh[i]), *want, *w;

			want = w = malloc((size_t)nips * 64 + 1);
			*w = '\0';
			{
				char *lines[RT_MAX_PEERS * RT_MAX_IPS];
				int n = 0, q;

				for (q = 0; q < nips; q++) {
					char t[INET6_ADDRSTRLEN], l[80];

					if (ips[q].owner != i)
						continue;
					inet_ntop(ips[q].family == 4 ? AF_INET :
						  AF_INET6, ips[q].addr, t,
						  sizeof(t));
					snprintf(l, sizeof(l),
						 "allowed_ip=%s/%u", t,
						 ips[q].cidr);
					lines[n++] = strdup(l);
				}
				qsort(lines, (size_t)n, sizeof(lines[0]),
				      cmp_str);
				for (q = 0; q < n; q++) {
					w += sprintf(w, "%s\n", lines[q]);
					free(lines[q]);
				}
			}
			if (!got || strcmp(got, want)) {
				if (!bad_model)
					diag("round %d peer %d: want\n%s got\n%s",
					     round, i, want, got ? got : "(none)");
				bad_model++;
			}
			free(got);
			free(want);
		}
		if (count_lines(g1, "public_key=") != npeers)
			bad_model++;

		s2 = get_to_set(g1);
		r = req(d2, &uh2, s2, &ret);
		g2 = get(d2, &uh2);
		if (ret != 0 || strcmp(r, "errno=0\n\n") || strcmp(g1, g2)) {
			if (!bad_rt)
				diag("round %d: reply %s\nfirst:\n%s\nsecond:\n%s",
				     round, r, g1, g2);
			bad_rt++;
		}
		free(r);
		free(s2);
		free(g1);
		free(g2);
		free(s);
		cwg_device_free(d1);
		cwg_device_free(d2);
	}
	ok(bad_set == 0, "random sets accepted (%d failures)", bad_set);
	ok(bad_model == 0, "get matches the model of each set (%d mismatches)",
	   bad_model);
	ok(bad_rt == 0, "get output fed back as set reproduces get exactly "
	   "(%d mismatches)", bad_rt);
}

/* cwg's "stats=1" extension reports the device's drop counters. */
static void test_stats(void)
{
	struct cwg_device *dev = cwg_device_new(NULL, NULL);
	struct cwg_uapi_buf out = { 0 };
	struct cwg_pkt_list in;
	struct cwg_out o;
	struct cwg_pkt *p = cwg_pkt_alloc();
	int r;

	memset(p->data, 0x42, 5); /* type 0x42424242: unknown */
	p->len = 5;
	cwg_pkt_list_init(&in);
	cwg_pkt_list_append(&in, p);
	cwg_out_init(&o);
	cwg_device_receive(dev, &in, 1, &o);
	r = cwg_uapi_request(dev, NULL, "stats=1\n\n", 9, &out);
	ok(r == 0 && out.len && strstr(out.data, "drop_unknown_type=1\n") &&
		   strstr(out.data, "drop_bad_mac1=0\n") &&
		   strstr(out.data, "handshakes_completed=0\n") &&
		   out.len >= 9 && !memcmp(out.data + out.len - 9, "errno=0\n\n", 9),
	   "stats=1 reports drop counters by reason");
	cwg_uapi_buf_free(&out);
	r = cwg_uapi_request(dev, NULL, "stats=1\nx=1\n\n", 13, &out);
	ok(r == -1 && strstr(out.data, "errno=-22"),
	   "stats=1 followed by anything but a blank line is refused");
	cwg_uapi_buf_free(&out);
	cwg_device_free(dev);
}

int main(void)
{
	uint64_t seed = 0x5eed0fc0ffeeULL;
	const char *env = getenv("CWG_TEST_SEED");

	if (cwg_crypto_init() != 0) {
		ok(0, "crypto init");
		return done_testing();
	}
	if (env)
		seed = strtoull(env, NULL, 0);
	rng_state = seed;
	diag("seed %llu", (unsigned long long)seed);
	test_basic();
	test_zones();
	test_errors();
	test_verbs();
	test_streaming();
	test_big();
	test_replace();
	test_batch_tables();
	test_get_addresses();
	test_roundtrip(seed, 200);
	test_stats();
	return done_testing();
}
