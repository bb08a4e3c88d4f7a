/* SPDX-License-Identifier: MIT */
/*
 * garbage: hostile UDP traffic at full rate (or a given rate) into a
 * WireGuard listen port, for tests/net/90-hostile.sh.
 *
 *   garbage [-m garbage|flood] -d ADDR -p PORT [-s SEED] [-t SECONDS]
 *           [-n COUNT] [-r PPS [-u BURST]] [-S SRCADDR [-N NSRC]]
 *           [-k PUBKEY]
 *
 * garbage: datagrams of every shape a parser can trip on: random bytes of
 *   random length (0..65507), each message type with its right and wrong
 *   length, non-zero reserved bytes, unknown types, and well-formed-looking
 *   data messages with random receiver indices and counters.
 * flood: 148-byte handshake initiations whose mac1 is valid for the
 *   responder's public key (-k, base64) and whose body is random, so each
 *   one passes the cheap check and would cost the responder a DH if it were
 *   not under load; mac2 is zero.
 *
 * -r: at most PPS datagrams a second, in batches as soon as they are due, or
 * with -u in bursts of BURST back to back every BURST/PPS seconds (a burst
 * larger than a receiver's batch fills its socket queue for a moment).
 * -S/-N: send from NSRC consecutive source addresses starting at SRCADDR
 * (one socket bound to each, round-robin per batch); they must be assigned
 * to a local interface. Stops after -t seconds or -n datagrams, whichever
 * comes first, or at SIGTERM or SIGINT (so a script can run it for as long
 * as something else lasts). Content is a pure function of the printed seed.
 * Prints "sent=N errors=E seconds=S pps=P seed=X" at the end.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "crypto/crypto.h"
#include "tools.h"

#define MAX_UDP 65507
#define BATCH 32
#define POOL_LEN (2 * 65536)
#define MAX_SRCS 4096
#define INIT_LEN 148
#define INIT_MAC1 116

struct addr {
	int family;
	union {
		struct sockaddr_in v4;
		struct sockaddr_in6 v6;
	} sa;
	socklen_t len;
};

static uint64_t rng_state;
static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/* splitmix64: reproducible from the seed, fast enough for line rate. */
static uint64_t rnd(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint32_t rnd_below(uint32_t n)
{
	return n ? (uint32_t)(rnd() % n) : 0;
}

static void rnd_fill(uint8_t *p, size_t n)
{
	while (n) {
		uint64_t v = rnd();
		size_t k = n < 8 ? n : 8;

		memcpy(p, &v, k);
		p += k;
		n -= k;
	}
}

static int parse_addr(const char *s, uint16_t port, struct addr *a)
{
	memset(a, 0, sizeof(*a));
	if (inet_pton(AF_INET, s, &a->sa.v4.sin_addr) == 1) {
		a->family = AF_INET;
		a->sa.v4.sin_family = AF_INET;
		a->sa.v4.sin_port = htons(port);
		a->len = sizeof(a->sa.v4);
		return 0;
	}
	if (inet_pton(AF_INET6, s, &a->sa.v6.sin6_addr) == 1) {
		a->family = AF_INET6;
		a->sa.v6.sin6_family = AF_INET6;
		a->sa.v6.sin6_port = htons(port);
		a->len = sizeof(a->sa.v6);
		return 0;
	}
	return -1;
}

/* The i-th address after a: big-endian addition on the last bytes. */
static void addr_add(struct addr *a, uint32_t i)
{
	uint8_t *b;
	int n, k;

	if (a->family == AF_INET) {
		b = (uint8_t *)&a->sa.v4.sin_addr;
		n = 4;
	} else {
		b = (uint8_t *)&a->sa.v6.sin6_addr;
		n = 16;
	}
	for (k = n - 1; k >= 0 && i; k--) {
		uint32_t v = b[k] + (i & 0xff);

		b[k] = (uint8_t)v;
		i = (i >> 8) + (v >> 8);
	}
}

static void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

/* A length in [lo, hi] other than not. */
static uint32_t len_except(uint32_t lo, uint32_t hi, uint32_t not)
{
	uint32_t l;

	do
		l = lo + rnd_below(hi - lo + 1);
	while (l == not);
	return l;
}

/*
 * One garbage datagram: a header of up to 16 crafted bytes in hdr, then
 * body bytes taken from the random pool. Returns the total length and sets
 * *hlen; hdr holds the type word and, for data messages, receiver index and
 * counter.
 */
static uint32_t make_garbage(uint8_t hdr[16], uint32_t *hlen)
{
	uint32_t c = rnd_below(100), len, type;

	*hlen = 0;
	if (c < 10) /* anything at all, up to the largest UDP payload */
		return rnd_below(MAX_UDP + 1);
	if (c < 20) /* runts */
		return rnd_below(8);
	if (c < 30) {
		type = 1;
		len = 148;
	} else if (c < 35) {
		type = 1;
		len = len_except(4, 400, 148);
	} else if (c < 42) {
		type = 2;
		len = 92;
	} else if (c < 46) {
		type = 2;
		len = len_except(4, 400, 92);
	} else if (c < 53) {
		type = 3;
		len = 64;
	} else if (c < 57) {
		type = 3;
		len = len_except(4, 400, 64);
	} else if (c < 85) {
		/* Looks like transport data: header + at least a tag. */
		put_le32(hdr, 4);
		put_le32(hdr + 4, (uint32_t)rnd());
		rnd_fill(hdr + 8, 8);
		*hlen = 16;
		return 32 + rnd_below(1500 - 32 + 1);
	} else if (c < 88) {
		type = 4; /* shorter than header + tag */
		len = 4 + rnd_below(28);
	} else if (c < 94) {
		/* A known type with reserved bytes set. */
		type = (1 + rnd_below(4)) | (1 + rnd_below(0xffffff)) << 8;
		len = 4 + rnd_below(300);
	} else {
		/* Unknown type byte: 0 or 5..255. */
		type = rnd_below(252);
		type = type ? type + 4 : 0;
		len = 4 + rnd_below(1500);
	}
	put_le32(hdr, type);
	*hlen = 4;
	if (type == 1 || type == 2 || type == 3) {
		/* Sender/receiver index right after the type. */
		if (len >= 8) {
			put_le32(hdr + 4, (uint32_t)rnd());
			*hlen = 8;
		}
	}
	return len;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: garbage [-m garbage|flood] -d ADDR -p PORT [-s SEED] "
		"[-t SECONDS] [-n COUNT] [-r PPS [-u BURST]] [-S SRCADDR [-N NSRC]] "
		"[-k PUBKEY]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *mode = "garbage", *dst_s = NULL, *src_s = NULL,
		   *key_s = NULL;
	unsigned long long seed = 0, count = ~0ULL, sent = 0, errors = 0;
	double seconds = 10, rate = 0, t0, t;
	unsigned long port = 0, nsrc = 1, burst = 0;
	bool have_seed = false, flood;
	uint8_t pub[32], mac1_key[32];
	static uint8_t pool[POOL_LEN];
	static uint8_t hdrs[BATCH][INIT_LEN];
	struct iovec iov[BATCH][2];
	struct mmsghdr msgs[BATCH];
	struct addr dst, src;
	int *socks, opt, i;
	uint32_t si = 0;

	while ((opt = getopt(argc, argv, "m:d:p:s:t:n:r:u:S:N:k:")) != -1) {
		switch (opt) {
		case 'm': mode = optarg; break;
		case 'd': dst_s = optarg; break;
		case 'p': port = strtoul(optarg, NULL, 10); break;
		case 's': seed = strtoull(optarg, NULL, 10); have_seed = true; break;
		case 't': seconds = atof(optarg); break;
		case 'n': count = strtoull(optarg, NULL, 10); break;
		case 'r': rate = atof(optarg); break;
		case 'u': burst = strtoul(optarg, NULL, 10); break;
		case 'S': src_s = optarg; break;
		case 'N': nsrc = strtoul(optarg, NULL, 10); break;
		case 'k': key_s = optarg; break;
		default: usage();
		}
	}
	flood = !strcmp(mode, "flood");
	if (!dst_s || !port || port > 65535 || !nsrc || nsrc > MAX_SRCS ||
	    seconds <= 0 || (!flood && strcmp(mode, "garbage")))
		usage();
	if (parse_addr(dst_s, (uint16_t)port, &dst) < 0) {
		fprintf(stderr, "garbage: bad address %s\n", dst_s);
		return 2;
	}
	if (flood) {
		if (!key_s || parse_key(key_s, pub) < 0) {
			fprintf(stderr, "garbage: flood needs -k PUBKEY\n");
			return 2;
		}
		if (cwg_crypto_init()) {
			fprintf(stderr, "garbage: crypto init failed\n");
			return 1;
		}
		cwg_blake2s(mac1_key, 32, NULL, 0, (const uint8_t *)"mac1----",
			    8, pub, 32);
	}
	if (!have_seed) {
		cwg_random((uint8_t *)&seed, sizeof(seed));
		seed %= 1000000000000ULL;
	}
	rng_state = seed;
	printf("garbage: mode=%s seed=%llu (rerun with -s %llu)\n", mode, seed,
	       seed);
	fflush(stdout);
	rnd_fill(pool, sizeof(pool));

	socks = calloc(nsrc, sizeof(*socks));
	if (!socks)
		return 1;
	for (i = 0; i < (int)nsrc; i++) {
		int sbuf = 4 << 20;

		socks[i] = socket(dst.family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (socks[i] < 0) {
			perror("garbage: socket");
			return 1;
		}
		setsockopt(socks[i], SOL_SOCKET, SO_SNDBUF, &sbuf, sizeof(sbuf));
		if (src_s) {
			if (parse_addr(src_s, 0, &src) < 0 ||
			    src.family != dst.family) {
				fprintf(stderr, "garbage: bad source %s\n",
					src_s);
				return 2;
			}
			addr_add(&src, (uint32_t)i);
			if (bind(socks[i], (struct sockaddr *)&src.sa,
				 src.len) < 0) {
				perror("garbage: bind");
				return 1;
			}
		}
	}

	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	t0 = now_s();
	t = t0;
	while (!stop && sent < count && (t = now_s()) - t0 < seconds) {
		int n = (int)(count - sent < BATCH ? count - sent : BATCH), r;

		if (rate > 0) {
			double due = rate * (t - t0);

			/* With bursts: everything up to the end of the
			 * current burst is due at its start. */
			if (burst)
				due = ((unsigned long long)(due / (double)burst) + 1) *
				      (double)burst;
			if ((double)sent >= due) {
				usleep(500);
				continue;
			}
		}
		memset(msgs, 0, sizeof(msgs));
		for (i = 0; i < n; i++) {
			uint32_t len, hlen, off;

			if (flood) {
				uint8_t *m = hdrs[i];

				put_le32(m, 1);
				rnd_fill(m + 4, INIT_MAC1 - 4);
				cwg_blake2s(m + INIT_MAC1, 16, mac1_key, 32, m,
					    INIT_MAC1, NULL, 0);
				memset(m + INIT_MAC1 + 16, 0, 16);
				iov[i][0].iov_base = m;
				iov[i][0].iov_len = INIT_LEN;
				msgs[i].msg_hdr.msg_iovlen = 1;
			} else {
				len = make_garbage(hdrs[i], &hlen);
				if (hlen > len)
					hlen = len;
				off = rnd_below(POOL_LEN - (len - hlen) + 1);
				iov[i][0].iov_base = hdrs[i];
				iov[i][0].iov_len = hlen;
				iov[i][1].iov_base = pool + off;
				iov[i][1].iov_len = len - hlen;
				msgs[i].msg_hdr.msg_iovlen = 2;
			}
			msgs[i].msg_hdr.msg_iov = iov[i];
			msgs[i].msg_hdr.msg_name = &dst.sa;
			msgs[i].msg_hdr.msg_namelen = dst.len;
		}
		r = sendmmsg(socks[si], msgs, (unsigned int)n, 0);
		si = (si + 1) % (uint32_t)nsrc;
		if (r < 0) {
			/* ENOBUFS, a transient ICMP error: keep going. */
			if (errno != EINTR)
				errors++;
			continue;
		}
		/* What sendmmsg did not take counts as sent and lost: the
		 * stream stays a function of the seed. */
		sent += (unsigned long long)n;
		if (r < n)
			errors++;
	}
	t = now_s() - t0;
	printf("sent=%llu errors=%llu seconds=%.2f pps=%.0f seed=%llu\n",
	       sent, errors, t, t > 0 ? (double)sent / t : 0.0, seed);
	cwg_wipe(mac1_key, sizeof(mac1_key));
	for (i = 0; i < (int)nsrc; i++)
		close(socks[i]);
	free(socks);
	return 0;
}
