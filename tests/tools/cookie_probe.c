/* SPDX-License-Identifier: MIT */
/*
 * cookie_probe: drives a WireGuard responder's cookie and rate-limit path,
 * for tests/net/90-hostile.sh.
 *
 *   cookie_probe -d ADDR -p PORT -k PUBKEY [-b SRCADDR] [-n COUNT]
 *                [-w MS] [-t SECONDS]
 *   cookie_probe -B          (microseconds per X25519, this host)
 *
 * With a responder under load: sends initiations with a valid mac1 (random
 * body, mac2 zero) until a cookie reply for one of them comes back, opens
 * the cookie (XChaCha20-Poly1305 under BLAKE2s("cookie--" || pub), the
 * mac1 it answers as associated data), then sends COUNT initiations with a
 * valid mac1 and a valid mac2 spread evenly over MS milliseconds from the
 * same address and port (the cookie is bound to both), and counts what
 * comes back: a cookie reply to one of them means its mac2 was refused.
 *
 * Prints key=value lines; exits 0 when it got a cookie and sent them all,
 * 3 when no cookie reply came within -t seconds (not under load?).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "crypto/crypto.h"
#include "tools.h"

#define INIT_LEN 148
#define INIT_MAC1 116
#define INIT_MAC2 132
#define COOKIE_LEN 64
#define COOKIE_NONCE 8
#define COOKIE_ENC 32
#define MAX_PENDING 4096

static int parse_addr(const char *s, uint16_t port,
		      struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, s, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons(port);
		*len = sizeof(*a4);
		return 0;
	}
	if (inet_pton(AF_INET6, s, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons(port);
		*len = sizeof(*a6);
		return 0;
	}
	return -1;
}

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

/* What the probe remembers of each initiation it sent, to match replies. */
struct sent_init {
	uint32_t sender;
	uint8_t mac1[16];
};

static struct sent_init pending[MAX_PENDING];
static unsigned npending;

static void make_init(uint8_t m[INIT_LEN], const uint8_t mac1_key[32],
		      const uint8_t *cookie)
{
	put_le32(m, 1);
	cwg_random(m + 4, INIT_MAC1 - 4);
	cwg_blake2s(m + INIT_MAC1, 16, mac1_key, 32, m, INIT_MAC1, NULL, 0);
	if (cookie)
		cwg_blake2s(m + INIT_MAC2, 16, cookie, 16, m, INIT_MAC2, NULL,
			    0);
	else
		memset(m + INIT_MAC2, 0, 16);
	if (npending < MAX_PENDING) {
		pending[npending].sender = get_le32(m + 4);
		memcpy(pending[npending].mac1, m + INIT_MAC1, 16);
		npending++;
	}
}

static const struct sent_init *find_sent(uint32_t sender)
{
	for (unsigned i = 0; i < npending; i++)
		if (pending[i].sender == sender)
			return &pending[i];
	return NULL;
}

static int dh_bench(void)
{
	uint8_t a[32], b[32], pb[32], out[32];
	double t0, t;
	int i, n = 2000;

	cwg_random(a, 32);
	cwg_random(b, 32);
	cwg_x25519_clamp(a);
	cwg_x25519_clamp(b);
	if (!cwg_x25519_public(pb, b))
		return 1;
	t0 = now_s();
	for (i = 0; i < n; i++)
		if (!cwg_x25519(out, a, pb))
			return 1;
	t = now_s() - t0;
	printf("x25519_us=%.1f\n", t / n * 1e6);
	cwg_wipe(a, 32);
	cwg_wipe(b, 32);
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: cookie_probe -d ADDR -p PORT -k PUBKEY "
			"[-b SRCADDR] [-n COUNT] [-w MS] [-t SECONDS] | -B\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *dst_s = NULL, *src_s = NULL, *key_s = NULL;
	unsigned long port = 0, count = 100, window_ms = 1000;
	double timeout = 10, t0, t_cookie = -1, t_start;
	uint8_t pub[32], mac1_key[32], cookie_key[32], cookie[16];
	uint8_t msg[INIT_LEN], rx[2048];
	struct sockaddr_storage dst, src;
	socklen_t dlen, slen;
	unsigned long sent_first = 0, sent_mac2 = 0, cookies_after = 0,
		      responses = 0, other = 0;
	bool got_cookie = false;
	int s, opt;

	if (cwg_crypto_init()) {
		fprintf(stderr, "cookie_probe: crypto init failed\n");
		return 1;
	}
	while ((opt = getopt(argc, argv, "d:p:k:b:n:w:t:B")) != -1) {
		switch (opt) {
		case 'd': dst_s = optarg; break;
		case 'p': port = strtoul(optarg, NULL, 10); break;
		case 'k': key_s = optarg; break;
		case 'b': src_s = optarg; break;
		case 'n': count = strtoul(optarg, NULL, 10); break;
		case 'w': window_ms = strtoul(optarg, NULL, 10); break;
		case 't': timeout = atof(optarg); break;
		case 'B': return dh_bench();
		default: usage();
		}
	}
	if (!dst_s || !key_s || !port || port > 65535 || !count ||
	    count >= MAX_PENDING / 2)
		usage();
	if (parse_key(key_s, pub) < 0 ||
	    parse_addr(dst_s, (uint16_t)port, &dst, &dlen) < 0) {
		fprintf(stderr, "cookie_probe: bad key or address\n");
		return 2;
	}
	cwg_blake2s(mac1_key, 32, NULL, 0, (const uint8_t *)"mac1----", 8,
		    pub, 32);
	cwg_blake2s(cookie_key, 32, NULL, 0, (const uint8_t *)"cookie--", 8,
		    pub, 32);
	s = socket(dst.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0) {
		perror("cookie_probe: socket");
		return 1;
	}
	if (src_s) {
		if (parse_addr(src_s, 0, &src, &slen) < 0 ||
		    bind(s, (struct sockaddr *)&src, slen) < 0) {
			perror("cookie_probe: bind");
			return 1;
		}
	}

	/* Phase 1: a cookie for this address and port. */
	t0 = now_s();
	while (!got_cookie && now_s() - t0 < timeout) {
		double t_send = now_s();

		make_init(msg, mac1_key, NULL);
		if (sendto(s, msg, sizeof(msg), 0, (struct sockaddr *)&dst,
			   dlen) == (ssize_t)sizeof(msg))
			sent_first++;
		while (!got_cookie && now_s() - t_send < 0.1) {
			struct pollfd p = { .fd = s, .events = POLLIN };
			const struct sent_init *si;
			ssize_t n;

			if (poll(&p, 1, 20) <= 0)
				continue;
			n = recv(s, rx, sizeof(rx), MSG_DONTWAIT);
			if (n != COOKIE_LEN || get_le32(rx) != 3)
				continue;
			si = find_sent(get_le32(rx + 4));
			if (!si)
				continue;
			if (!cwg_xaead_open(cookie, rx + COOKIE_ENC, 32,
					    si->mac1, 16, rx + COOKIE_NONCE,
					    cookie_key)) {
				fprintf(stderr, "cookie_probe: a cookie reply "
						"did not open\n");
				continue;
			}
			got_cookie = true;
			t_cookie = now_s() - t0;
		}
	}
	printf("initiations_without_mac2=%lu\n", sent_first);
	if (!got_cookie) {
		printf("cookie=none\n");
		return 3;
	}
	printf("cookie_after_ms=%.0f\n", t_cookie * 1e3);

	/* Phase 2: COUNT initiations with mac2, evenly over the window;
	 * replies drained as they come. */
	npending = 0;
	t_start = now_s();
	for (;;) {
		double el = now_s() - t_start;
		double due = (double)sent_mac2 * (double)window_ms / 1e3 /
			     (double)count;
		struct pollfd p = { .fd = s, .events = POLLIN };
		int wait_ms;

		if (sent_mac2 < count && el >= due) {
			make_init(msg, mac1_key, cookie);
			if (sendto(s, msg, sizeof(msg), 0,
				   (struct sockaddr *)&dst, dlen) ==
			    (ssize_t)sizeof(msg))
				sent_mac2++;
			continue;
		}
		/* Listen 500 ms past the last send for late replies. */
		if (sent_mac2 >= count && el > (double)window_ms / 1e3 + 0.5)
			break;
		wait_ms = sent_mac2 < count ? (int)((due - el) * 1e3) + 1 : 50;
		if (poll(&p, 1, wait_ms) > 0) {
			ssize_t n = recv(s, rx, sizeof(rx), MSG_DONTWAIT);

			/* A response names our index as its receiver
			 * (offset 8), a cookie reply at offset 4. */
			if (n == COOKIE_LEN && get_le32(rx) == 3 &&
			    find_sent(get_le32(rx + 4)))
				cookies_after++;
			else if (n == 92 && get_le32(rx) == 2 &&
				 find_sent(get_le32(rx + 8)))
				responses++;
			else if (n > 0)
				other++;
		}
	}
	printf("initiations_with_mac2=%lu\nwindow_ms=%.0f\n"
	       "cookie_replies_to_mac2=%lu\nresponses=%lu\nother_replies=%lu\n",
	       sent_mac2, (now_s() - t_start - 0.5) * 1e3, cookies_after,
	       responses, other);
	cwg_wipe(cookie, sizeof(cookie));
	cwg_wipe(cookie_key, sizeof(cookie_key));
	cwg_wipe(mac1_key, sizeof(mac1_key));
	return sent_mac2 == count ? 0 : 1;
}
