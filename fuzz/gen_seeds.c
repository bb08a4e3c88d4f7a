/* SPDX-License-Identifier: MIT */
/*
 * Writes the seed corpora into DIR/<target>/ (fuzz/run.sh --seeds).
 *
 * The receive and send seeds are operation lists in the harnesses' own
 * encodings (see the comments at the top of fuzz_receive.c and
 * fuzz_send.c); the real handshake messages among them come from the
 * in-process handshake of fuzz_net.c, which is deterministic, so these
 * files are the same on every run. The UAPI seeds are requests as `wg
 * setconf`, `wg set` and `wg show` send them.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz_net.h"

struct seed {
	uint8_t b[16384];
	size_t n;
};

static const char *out_dir;

static void put(struct seed *s, const void *p, size_t n)
{
	if (s->n + n > sizeof(s->b)) {
		fprintf(stderr, "gen_seeds: seed too long\n");
		exit(1);
	}
	memcpy(s->b + s->n, p, n);
	s->n += n;
}

static void put8(struct seed *s, uint8_t v)
{
	put(s, &v, 1);
}

static void put16(struct seed *s, uint16_t v)
{
	put8(s, (uint8_t)v);
	put8(s, (uint8_t)(v >> 8));
}

static void putf(struct seed *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void putf(struct seed *s, const char *fmt, ...)
{
	char tmp[4096];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(tmp))
		exit(1);
	put(s, tmp, (size_t)n);
}

static void write_seed(const char *target, const char *name,
		       const struct seed *s)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", out_dir, target);
	if (mkdir(path, 0755) && errno != EEXIST) {
		perror(path);
		exit(1);
	}
	snprintf(path, sizeof(path), "%s/%s/%s", out_dir, target, name);
	f = fopen(path, "wb");
	if (!f || fwrite(s->b, 1, s->n, f) != s->n || fclose(f)) {
		perror(path);
		exit(1);
	}
}

/* ---- fuzz_receive ---- */

enum { TICK, SEND, DELIVER, INJECT, RAW, LOAD, DROP, CONFIG, BATCH };
enum { DT_1MS, DT_20MS, DT_100MS, DT_1S, DT_5S, DT_5500MS, DT_10S, DT_15S,
       DT_25S, DT_60S, DT_120S, DT_135S, DT_165S, DT_180S, DT_181S,
       DT_540S };
#define A 0
#define B 1

static void op_tick(struct seed *s, int dt)
{
	put8(s, TICK);
	put8(s, (uint8_t)dt);
}
static void op_send(struct seed *s, int node, int kind, int count)
{
	put8(s, SEND);
	put8(s, (uint8_t)(node | kind << 1 | (count - 1) << 3));
}
static void op_deliver(struct seed *s, int from, int src, int max)
{
	put8(s, DELIVER);
	put8(s, (uint8_t)from);
	put8(s, (uint8_t)src);
	put8(s, (uint8_t)(max - 1));
}
static void op_inject(struct seed *s, int slot, int to, int src)
{
	put8(s, INJECT);
	put8(s, (uint8_t)slot);
	put8(s, (uint8_t)(to | src << 1));
}
static void op_config(struct seed *s, int node, int what, int arg)
{
	put8(s, CONFIG);
	put8(s, (uint8_t)(node | what << 1));
	put8(s, (uint8_t)arg);
}
static void op_load(struct seed *s, int node, bool on)
{
	put8(s, LOAD);
	put8(s, (uint8_t)(node | (on ? 2 : 0)));
}
static void pump(struct seed *s)
{
	int i;

	for (i = 0; i < 3; i++) {
		op_deliver(s, A, 0, 8);
		op_deliver(s, B, 0, 8);
	}
}

static void receive_seeds(void)
{
	static const char *const names[FUZZ_CAP_N] = {
		"initiation", "response", "data_a", "data_b", "keepalive",
		"cookie_reply",
	};
	static const int to[FUZZ_CAP_N] = { B, A, B, A, B, A };
	struct fuzz_net *net;
	struct seed s;
	bool ok;
	int i;

	net = fuzz_net_new(&ok);
	if (!net || !ok) {
		fprintf(stderr, "gen_seeds: set-up handshake failed: %s\n",
			fuzz_failure());
		exit(1);
	}
	memset(&s, 0, sizeof(s));
	write_seed("receive", "empty", &s);
	for (i = 0; i < FUZZ_CAP_N; i++) {
		char name[64];

		/* the message, replayed from where it came from */
		memset(&s, 0, sizeof(s));
		op_inject(&s, i, to[i], 0);
		snprintf(name, sizeof(name), "replay_%s", names[i]);
		write_seed("receive", name, &s);

		/* its bytes, as a raw datagram */
		memset(&s, 0, sizeof(s));
		put8(&s, RAW);
		put8(&s, (uint8_t)to[i]);
		put16(&s, (uint16_t)net->cap[i].len);
		put(&s, net->cap[i].b, net->cap[i].len);
		snprintf(name, sizeof(name), "raw_%s", names[i]);
		write_seed("receive", name, &s);
	}

	memset(&s, 0, sizeof(s));
	op_send(&s, A, 0, 2);
	op_send(&s, B, 1, 1);
	op_send(&s, A, 2, 1);
	op_send(&s, B, 3, 1);
	pump(&s);
	op_tick(&s, DT_10S);
	pump(&s);
	write_seed("receive", "traffic", &s);

	memset(&s, 0, sizeof(s));
	for (i = 0; i < 4; i++) {
		op_tick(&s, DT_120S);
		op_send(&s, A, 0, 1);
		op_send(&s, B, 1, 1);
		pump(&s);
	}
	write_seed("receive", "rekeys", &s);

	memset(&s, 0, sizeof(s));
	op_config(&s, A, 4, 0); /* A forgets the session */
	op_send(&s, A, 0, 1);
	op_load(&s, B, true);
	op_deliver(&s, A, 0, 8); /* B: cookie reply */
	op_deliver(&s, B, 0, 8);
	op_tick(&s, DT_5500MS);
	op_load(&s, B, true);
	pump(&s);
	op_load(&s, B, false);
	op_tick(&s, DT_5S);
	pump(&s);
	write_seed("receive", "under_load", &s);

	memset(&s, 0, sizeof(s));
	op_tick(&s, DT_180S);
	op_send(&s, A, 0, 1);
	pump(&s);
	op_tick(&s, DT_540S);
	op_send(&s, B, 0, 1);
	op_tick(&s, DT_5500MS);
	pump(&s);
	write_seed("receive", "expiry", &s);

	memset(&s, 0, sizeof(s));
	op_config(&s, B, 4, 0); /* B removes A and adds it back */
	op_send(&s, A, 0, 1);
	pump(&s);
	op_tick(&s, DT_15S);
	pump(&s);
	op_send(&s, A, 0, 1);
	pump(&s);
	write_seed("receive", "peer_readded", &s);

	memset(&s, 0, sizeof(s));
	op_config(&s, B, 0, 2); /* B's psk no longer matches */
	op_config(&s, A, 4, 0);
	op_send(&s, A, 0, 1);
	pump(&s);
	write_seed("receive", "psk_mismatch", &s);

	memset(&s, 0, sizeof(s));
	op_send(&s, A, 0, 1);
	op_deliver(&s, A, 2, 1); /* from a new IPv6 address */
	op_send(&s, B, 0, 1);
	op_deliver(&s, B, 0, 1);
	op_send(&s, A, 0, 1);
	op_deliver(&s, A, 4, 1);
	op_send(&s, B, 1, 1);
	op_deliver(&s, B, 0, 1);
	write_seed("receive", "roaming", &s);

	memset(&s, 0, sizeof(s));
	op_config(&s, A, 3, 3); /* MTU 64 */
	op_send(&s, A, 0, 4);
	op_send(&s, A, 1, 1);
	pump(&s);
	op_config(&s, A, 1, 1); /* persistent keepalive 1 s */
	op_tick(&s, DT_1S);
	pump(&s);
	write_seed("receive", "mtu_keepalive", &s);

	memset(&s, 0, sizeof(s));
	put8(&s, BATCH);
	put8(&s, (uint8_t)(B | (FUZZ_CAP_N - 1) << 1));
	for (i = 0; i < FUZZ_CAP_N; i++) {
		put8(&s, (uint8_t)i);
		put8(&s, (uint8_t)i);
	}
	write_seed("receive", "batch_all", &s);

	/* mutated initiation (mac1) and data (tag) */
	memset(&s, 0, sizeof(s));
	put8(&s, INJECT);
	put8(&s, FUZZ_CAP_INIT);
	put8(&s, (uint8_t)(B | 1 << 4));
	put8(&s, 0);
	put16(&s, 116);
	put8(&s, 1);
	put8(&s, INJECT);
	put8(&s, FUZZ_CAP_DATA_A);
	put8(&s, (uint8_t)(B | 1 << 4));
	put8(&s, 2); /* truncate */
	put16(&s, 40);
	write_seed("receive", "mutated", &s);

	memset(&s, 0, sizeof(s));
	op_config(&s, A, 6, 1); /* A drops its private key */
	op_send(&s, A, 0, 1);
	op_inject(&s, FUZZ_CAP_INIT, B, 0);
	pump(&s);
	op_config(&s, A, 6, 0);
	op_tick(&s, DT_5500MS);
	op_send(&s, A, 0, 1);
	pump(&s);
	op_config(&s, B, 7, 0); /* B drops the ghost */
	op_send(&s, B, 2, 1);
	write_seed("receive", "key_changes", &s);
	fuzz_net_free(net);
}

/* ---- fuzz_send ---- */

static void rec(struct seed *s, uint8_t ctl, const uint8_t *p, uint16_t len)
{
	put8(s, ctl);
	put16(s, len);
	put(s, p, len);
}

static void send_seeds(void)
{
	struct fuzz_net *net;
	uint8_t p[9000];
	struct seed s;
	uint32_t len;
	bool ok;
	int i;

	net = fuzz_net_new(&ok);
	if (!net || !ok)
		exit(1);
	memset(&s, 0, sizeof(s));
	put8(&s, 0);
	len = fuzz_net_ip_packet(net, 0, 0, 1, p, sizeof(p));
	rec(&s, 0x30, p, (uint16_t)len);
	write_seed("send", "udp4", &s);

	memset(&s, 0, sizeof(s));
	put8(&s, 1); /* B sends */
	len = fuzz_net_ip_packet(net, 1, 1, 1, p, sizeof(p));
	rec(&s, 0x30, p, (uint16_t)len);
	write_seed("send", "udp6_from_b", &s);

	/* ICMP echo, 84 bytes, with fixed-up header */
	memset(&s, 0, sizeof(s));
	put8(&s, 0);
	memset(p, 0, 84);
	p[0] = 0x45;
	p[8] = 64;
	p[9] = 1;
	p[20] = 8;
	for (i = 28; i < 84; i++)
		p[i] = (uint8_t)i;
	rec(&s, 0x0d | 0x30, p, 84);
	/* TCP SYN, 40 bytes */
	memset(p, 0, 40);
	p[0] = 0x45;
	p[9] = 6;
	p[33] = 0x02;
	rec(&s, 0x0d, p, 40);
	/* ICMPv6 echo, 104 bytes */
	memset(p, 0, 104);
	p[0] = 0x60;
	p[6] = 58;
	p[7] = 64;
	p[40] = 128;
	rec(&s, 0x0f | 0x10, p, 104);
	write_seed("send", "icmp_tcp_icmp6", &s);

	memset(&s, 0, sizeof(s));
	put8(&s, 0);
	len = fuzz_net_ip_packet(net, 0, 2, 1, p, sizeof(p));
	rec(&s, 0x10, p, (uint16_t)len); /* to the ghost */
	len = fuzz_net_ip_packet(net, 0, 3, 1, p, sizeof(p));
	rec(&s, 0x10, p, (uint16_t)len); /* no route */
	rec(&s, 0x10, p, 3);		 /* not IP */
	write_seed("send", "ghost_noroute_short", &s);

	memset(&s, 0, sizeof(s));
	put8(&s, 0x10 | 3 << 1); /* 121 s later, MTU 64 */
	memset(p, 0xab, 1500);
	rec(&s, 0x0d | 0x30, p, 1500);
	rec(&s, 0x0d, p, 33);
	rec(&s, 0x0f, p, 61);
	write_seed("send", "rekey_mtu", &s);

	memset(&s, 0, sizeof(s));
	put8(&s, 0);
	memset(p, 0, 6000);
	rec(&s, 0x0d | 0x30, p, 6000);
	write_seed("send", "big", &s);

	memset(&s, 0, sizeof(s));
	put8(&s, 0);
	for (i = 0; i < 150; i++) {
		len = fuzz_net_ip_packet(net, 0, i % 3, (uint32_t)i, p,
					 sizeof(p));
		rec(&s, i % 40 == 39 ? 0x30 : 0, p, (uint16_t)len);
	}
	write_seed("send", "many", &s);
	fuzz_net_free(net);
}

/* ---- fuzz_uapi ---- */

static const char *const K1 =
	"e84b5a6d2717c1003a13b431570353dbaca9146cf150c5f8575680feba52027a";
static const char *const K2 =
	"c2dd09a5e02da3b1f1e3c0f8a4d37c34a4f8ea1e5d1bd1c0b1fdaa2e8c6d6a44";
static const char *const K3 =
	"58402e695ba1772b1cc9309755f043251ea77fdcf10fbe63989ceb7e19321376";
static const char *const K4 =
	"662e14fd594556f522604703340351258903b64f35553763f19426ab2a515c58";

static void uapi_seed(const char *name, uint8_t mode, const char *text)
{
	struct seed s;

	memset(&s, 0, sizeof(s));
	put8(&s, mode);
	put(&s, text, strlen(text));
	write_seed("uapi", name, &s);
}

static void uapi_seeds(void)
{
	struct seed s;

	uapi_seed("get", 0, "get=1\n\n");

	/* wg setconf wg0 conf, with two peers */
	memset(&s, 0, sizeof(s));
	put8(&s, 0);
	putf(&s, "set=1\nprivate_key=%s\nlisten_port=51820\nfwmark=0\n"
		 "replace_peers=true\n", K1);
	putf(&s, "public_key=%s\npreshared_key=%s\nreplace_allowed_ips=true\n"
		 "endpoint=192.0.2.1:51820\npersistent_keepalive_interval=25\n"
		 "allowed_ip=10.0.0.2/32\nallowed_ip=fd00::2/128\n", K2, K3);
	putf(&s, "public_key=%s\nprotocol_version=1\nreplace_allowed_ips=true\n"
		 "endpoint=[2001:db8::1]:51821\nallowed_ip=0.0.0.0/0\n"
		 "allowed_ip=::/0\n\nget=1\n\n", K4);
	write_seed("uapi", "setconf", &s);
	s.b[0] = 1; /* byte by byte */
	write_seed("uapi", "setconf_bytewise", &s);
	s.b[0] = 13;
	write_seed("uapi", "setconf_chunked", &s);

	/* wg set: update, remove a prefix, remove a peer */
	memset(&s, 0, sizeof(s));
	put8(&s, 0);
	putf(&s, "set=1\npublic_key=%s\nendpoint=198.51.100.7:1\n"
		 "allowed_ip=10.1.0.0/16\nallowed_ip=10.2.0.0/16\n\n", K2);
	putf(&s, "set=1\npublic_key=%s\nallowed_ip=-10.1.0.0/16\n"
		 "update_only=true\n\n", K2);
	putf(&s, "set=1\npublic_key=%s\nupdate_only=true\nallowed_ip=1.2.3.4/32\n\n",
	     K3);
	putf(&s, "set=1\npublic_key=%s\nremove=true\n\nget=1\n\n", K2);
	write_seed("uapi", "set_update_remove", &s);

	memset(&s, 0, sizeof(s));
	put8(&s, 0);
	putf(&s, "set=1\nprivate_key=%s\npublic_key=%s\n"
		 "allowed_ip=10.0.0.0/8\n\n", K1, K2);
	/* a peer with our own public key, then the private key removed */
	putf(&s, "set=1\nprivate_key=%s\n\n", K2);
	putf(&s, "set=1\nprivate_key=%064d\n\nget=1\n\n", 0);
	write_seed("uapi", "own_key", &s);

	uapi_seed("errors", 0,
		  "set=1\nprivate_key=zz\n\nset=1\nnonsense\n\n"
		  "set=1\nlisten_port=65536\n\nset=1\nfwmark=-1\n\n"
		  "set=1\nlisten_port=666\n\n"
		  "set=1\npublic_key=00\nendpoint=1.2.3.4\n\n"
		  "set=1\nallowed_ip=10.0.0.0/8\n\nget=1\n\n");
	uapi_seed("endpoints", 0,
		  "set=1\npublic_key="
		  "0101010101010101010101010101010101010101010101010101010101010101\n"
		  "endpoint=[fe80::1%eth0]:51820\nendpoint=[::ffff:1.2.3.4]:9\n"
		  "allowed_ip=::ffff:10.0.0.1/128\nallowed_ip=10.0.0.1/33\n\n"
		  "get=1\n\n");
	uapi_seed("zones", 0,
		  "set=1\npublic_key="
		  "0202020202020202020202020202020202020202020202020202020202020202\n"
		  "endpoint=[fe80::1%2]:1\nendpoint=[fe80::1%eth1]:2\n"
		  "endpoint=[2001:db8::1%4294967295]:3\n"
		  "endpoint=[fe80::2%eth0]:4\n\nget=1\n\n");
	uapi_seed("get_garbage", 0, "get=1\nx\n");
	uapi_seed("unknown_op", 0, "hello=1\n\n");
}

/* ---- fuzz_allowedips ---- */

static void ai_insert4(struct seed *s, int owner, const uint8_t a[4],
		       uint8_t cidr)
{
	put8(s, (uint8_t)(0 | owner << 4));
	put8(s, 0); /* address from the input */
	put(s, a, 4);
	put8(s, cidr);
}

static void ai_insert6(struct seed *s, int owner, const uint8_t a[16],
		       uint8_t cidr)
{
	put8(s, (uint8_t)(0 | 8 | owner << 4));
	put8(s, 0);
	put(s, a, 16);
	put8(s, cidr);
}

static void allowedips_seeds(void)
{
	static const uint8_t n10[4] = { 10 }, n10_1[4] = { 10, 1 },
			     h[4] = { 10, 1, 2, 3 }, any[4] = { 0 };
	static const uint8_t fd[16] = { 0xfd }, fd1[16] = { 0xfd, 0, 0, 1 },
			     any6[16] = { 0 };
	struct seed s;

	memset(&s, 0, sizeof(s));
	ai_insert4(&s, 0, n10, 8);
	ai_insert4(&s, 1, n10_1, 16);
	ai_insert4(&s, 2, h, 32);
	ai_insert4(&s, 3, any, 0);
	put8(&s, 3); /* lookup near an existing prefix */
	put8(&s, 3);
	put8(&s, 31);
	put8(&s, 5); /* check all */
	put8(&s, 1 | 1 << 4); /* remove 10.1/16 from owner 1 */
	put8(&s, 0);
	put(&s, n10_1, 4);
	put8(&s, 16);
	put8(&s, 4); /* walk owner 0 */
	put8(&s, 0);
	write_seed("allowedips", "v4", &s);

	memset(&s, 0, sizeof(s));
	ai_insert6(&s, 0, fd, 8);
	ai_insert6(&s, 1, fd1, 32);
	ai_insert6(&s, 1, fd1, 128);
	ai_insert6(&s, 2, any6, 0);
	ai_insert4(&s, 2, h, 24);
	put8(&s, 5);
	put8(&s, 2 | 1 << 4); /* remove owner 1 */
	put8(&s, 5);
	write_seed("allowedips", "v6", &s);

	memset(&s, 0, sizeof(s));
	ai_insert4(&s, 0, h, 32);
	ai_insert4(&s, 1, h, 32); /* moves to owner 1 */
	ai_insert4(&s, 0, h, 33); /* invalid */
	ai_insert4(&s, 0, h, 255);
	put8(&s, 4 | 1 << 4);
	put8(&s, 1);
	write_seed("allowedips", "move_invalid", &s);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: gen_seeds DIR\n");
		return 2;
	}
	out_dir = argv[1];
	if (mkdir(out_dir, 0755) && errno != EEXIST) {
		perror(out_dir);
		return 1;
	}
	if (!fuzz_init())
		return 1;
	receive_seeds();
	send_seeds();
	uapi_seeds();
	allowedips_seeds();
	printf("gen_seeds: wrote the seeds into %s/\n", out_dir);
	return 0;
}
