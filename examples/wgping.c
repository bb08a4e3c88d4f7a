/* SPDX-License-Identifier: MIT */
/*
 * wgping: ping a host on the far side of a WireGuard peer, from user
 * space, with one UDP socket and libcwg's single-tunnel API. No TUN, no
 * root: it completes a handshake with the peer and sends ICMP echo
 * requests through the tunnel as if from ADDR, printing round-trip times
 * like ping(8). A diagnostic for the question "does this peer answer, and
 * does its side route my tunnel address back?".
 *
 *   wgping -k KEYFILE -p PEERKEY -e HOST:PORT -a ADDR [-c N] [-i SECS]
 *          [-W SECS] [-s BYTES] [-P PSKFILE] TARGET
 *
 * KEYFILE holds our private key as `wg genkey` prints it ("-": read it
 * from standard input); PEERKEY is the
 * peer's public key (base64); the peer must list ADDR in our AllowedIPs.
 * ADDR and TARGET are IPv4 or IPv6 (both the same family); HOST an IPv4
 * or IPv6 address. Exit status as ping's: 0 when a reply came, 1 when
 * none did, 2 on an error.
 *
 *   cc wgping.c $(pkg-config --cflags --libs cwg) -o wgping
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

#include <cwg/tunnel.h>

#define MS 1000000ULL

static uint64_t clock_ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* A WireGuard key as `wg` writes it. */
static int parse_key(uint8_t key[32], const char *s)
{
	return cwg_key_from_base64(key, s);
}

/* From a file, or from standard input for "-". */
static int read_key(uint8_t key[32], const char *path)
{
	char line[128] = "";
	FILE *f = strcmp(path, "-") ? fopen(path, "r") : stdin;
	int r;

	if (!f)
		return -1;
	if (!fgets(line, sizeof(line), f))
		line[0] = 0;
	if (f != stdin)
		fclose(f);
	line[strcspn(line, "\r\n")] = 0;
	r = parse_key(key, line);
	cwg_wipe(line, sizeof(line));
	return r;
}

/* HOST:PORT or [HOST]:PORT. */
static int parse_endpoint(struct cwg_endpoint *ep, const char *s)
{
	char host[64];
	const char *colon = strrchr(s, ':');
	size_t n;

	memset(ep, 0, sizeof(*ep));
	if (!colon || colon == s)
		return -1;
	n = (size_t)(colon - s);
	if (s[0] == '[' && colon[-1] == ']')
		s++, n -= 2;
	if (n >= sizeof(host))
		return -1;
	memcpy(host, s, n);
	host[n] = 0;
	ep->port = (uint16_t)atoi(colon + 1);
	if (inet_pton(AF_INET, host, ep->addr) == 1)
		ep->family = 4;
	else if (inet_pton(AF_INET6, host, ep->addr) == 1)
		ep->family = 6;
	return ep->family && ep->port ? 0 : -1;
}

/* Where a datagram came from, as the tunnel wants it. */
static int from_sockaddr(struct cwg_endpoint *ep,
			 const struct sockaddr_storage *ss)
{
	memset(ep, 0, sizeof(*ep));
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)ss;

		ep->family = 4;
		ep->port = ntohs(s4->sin_port);
		memcpy(ep->addr, &s4->sin_addr, 4);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)ss;

		ep->family = 6;
		ep->port = ntohs(s6->sin6_port);
		memcpy(ep->addr, &s6->sin6_addr, 16);
	} else {
		return -1;
	}
	return 0;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t len)
{
	for (; len > 1; p += 2, len -= 2)
		sum += (uint32_t)(p[0] << 8 | p[1]);
	if (len)
		sum += (uint32_t)(p[0] << 8);
	return sum;
}

/* An ICMP(v6) echo request from src to dst into p; its length. */
static size_t echo_request(uint8_t *p, int v6, const uint8_t *src,
			   const uint8_t *dst, uint16_t id, uint16_t seq,
			   size_t payload)
{
	size_t hl = v6 ? 40 : 20, len = hl + 8 + payload, alen = v6 ? 16 : 4;
	uint8_t *icmp = p + hl;
	uint32_t sum = 0;
	uint16_t c;

	memset(p, 0, len);
	for (size_t i = 0; i < payload; i++)
		icmp[8 + i] = (uint8_t)i;
	icmp[0] = v6 ? 128 : 8;
	icmp[4] = (uint8_t)(id >> 8), icmp[5] = (uint8_t)id;
	icmp[6] = (uint8_t)(seq >> 8), icmp[7] = (uint8_t)seq;
	if (v6) {
		p[0] = 0x60;
		p[4] = (uint8_t)((len - 40) >> 8), p[5] = (uint8_t)(len - 40);
		p[6] = 58, p[7] = 64;
		memcpy(p + 8, src, 16), memcpy(p + 24, dst, 16);
		sum = csum_add(csum_add(0, src, 16), dst, 16);
		sum += (uint32_t)(len - 40) + 58;
	} else {
		p[0] = 0x45;
		p[2] = (uint8_t)(len >> 8), p[3] = (uint8_t)len;
		p[8] = 64, p[9] = 1;
		memcpy(p + 12, src, alen), memcpy(p + 16, dst, alen);
		c = csum_fold(csum_add(0, p, 20));
		p[10] = (uint8_t)(c >> 8), p[11] = (uint8_t)c;
	}
	c = csum_fold(csum_add(sum, icmp, 8 + payload));
	icmp[2] = (uint8_t)(c >> 8), icmp[3] = (uint8_t)c;
	return len;
}

struct pinger {
	int fd, v6;
	const char *target;
	struct cwg_tunnel *t;
	uint8_t src[16], dst[16];
	uint16_t id;
	uint32_t sent, received;
	uint64_t sent_at[65536 / 64]; /* by seq, wrapping */
	double min, max, sum;
	uint64_t hs_started;
	int handshaken;
};

static void send_dgram(struct pinger *pg, const struct cwg_tunnel_out *o)
{
	struct sockaddr_storage ss;
	socklen_t sl;

	memset(&ss, 0, sizeof(ss));
	if (o->ep.family == 4) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(o->ep.port);
		memcpy(&s4->sin_addr, o->ep.addr, 4);
		sl = sizeof(*s4);
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(o->ep.port);
		memcpy(&s6->sin6_addr, o->ep.addr, 16);
		sl = sizeof(*s6);
	}
	if (sendto(pg->fd, o->data, o->len, 0, (struct sockaddr *)&ss, sl) < 0)
		fprintf(stderr, "wgping: sendto: %s\n", strerror(errno));
}

/* An IP packet out of the tunnel: an echo reply of ours, or not. */
static void deliver(struct pinger *pg, const uint8_t *p, size_t len,
		    uint64_t now)
{
	size_t hl = pg->v6 ? 40 : (size_t)(p[0] & 15) * 4;
	const uint8_t *icmp = p + hl;
	uint16_t seq;
	double ms;

	if (len < hl + 8 || icmp[0] != (pg->v6 ? 129 : 0) ||
	    (icmp[4] << 8 | icmp[5]) != pg->id)
		return;
	seq = (uint16_t)(icmp[6] << 8 | icmp[7]);
	ms = (double)(now - pg->sent_at[seq % (65536 / 64)]) / 1e6;
	pg->received++;
	pg->sum += ms;
	if (pg->received == 1 || ms < pg->min)
		pg->min = ms;
	if (ms > pg->max)
		pg->max = ms;
	printf("%zu bytes from %s: icmp_seq=%u ttl=%u time=%.3f ms\n",
	       len - hl, pg->target, seq, pg->v6 ? p[7] : p[8], ms);
	fflush(stdout);
}

/* Carries out one result and everything queued behind it. */
static void act(struct pinger *pg, int r, struct cwg_tunnel_out *o,
		uint64_t now)
{
	struct cwg_tunnel_stats st;

	for (; r != CWG_TUNNEL_DONE; r = cwg_tunnel_poll(pg->t, o)) {
		if (r == CWG_TUNNEL_NETWORK)
			send_dgram(pg, o);
		else if (r == CWG_TUNNEL_TUNNEL)
			deliver(pg, o->data, o->len, now);
		else if (r < 0)
			break;
	}
	if (!pg->handshaken) {
		cwg_tunnel_get_stats(pg->t, &st);
		if (st.device.handshakes_completed) {
			pg->handshaken = 1;
			printf("handshake with the peer completed in %.3f ms\n",
			       (double)(now - pg->hs_started) / 1e6);
		}
	}
}

static void usage(void)
{
	fprintf(stderr, "usage: wgping -k KEYFILE -p PEERKEY -e HOST:PORT "
			"-a ADDR [-c N] [-i SECS] [-W SECS] [-s BYTES] "
			"[-P PSKFILE] TARGET\n");
	exit(2);
}

int main(int argc, char **argv)
{
	uint8_t priv[32], peer[32], psk[32], buf[2048], ip[1500];
	struct cwg_tunnel_out o = { .data = buf, .cap = sizeof(buf) };
	struct cwg_tunnel_config cfg = { 0 };
	struct cwg_endpoint ep;
	struct pinger pg = { .fd = -1 };
	const char *keyfile = NULL, *peerkey = NULL, *endpoint = NULL;
	const char *addr = NULL, *pskfile = NULL, *target;
	double interval = 1, wait_s = 5;
	long count = 4, size = 56;
	uint64_t now, next_ping, next_tick, deadline = 0;
	int c;

	while ((c = getopt(argc, argv, "k:p:e:a:c:i:W:s:P:")) != -1) {
		switch (c) {
		case 'k': keyfile = optarg; break;
		case 'p': peerkey = optarg; break;
		case 'e': endpoint = optarg; break;
		case 'a': addr = optarg; break;
		case 'c': count = atol(optarg); break;
		case 'i': interval = atof(optarg); break;
		case 'W': wait_s = atof(optarg); break;
		case 's': size = atol(optarg); break;
		case 'P': pskfile = optarg; break;
		default: usage();
		}
	}
	if (optind != argc - 1 || !keyfile || !peerkey || !endpoint || !addr ||
	    count < 1 || interval < 0.01 || size < 0 || size > 1400)
		usage();
	target = pg.target = argv[optind];
	pg.v6 = strchr(addr, ':') != NULL;
	if (read_key(priv, keyfile) || parse_key(peer, peerkey) ||
	    (pskfile && read_key(psk, pskfile)) ||
	    parse_endpoint(&ep, endpoint) ||
	    inet_pton(pg.v6 ? AF_INET6 : AF_INET, addr, pg.src) != 1 ||
	    inet_pton(pg.v6 ? AF_INET6 : AF_INET, target, pg.dst) != 1) {
		fprintf(stderr, "wgping: bad key, endpoint or address\n");
		return 2;
	}
	if (cwg_init())
		return 2;
	pg.fd = socket(ep.family == 6 ? AF_INET6 : AF_INET, SOCK_DGRAM, 0);
	if (pg.fd < 0) {
		perror("wgping: socket");
		return 2;
	}
	cfg.private_key = priv;
	cfg.peer_public_key = peer;
	cfg.preshared_key = pskfile ? psk : NULL;
	cfg.endpoint = &ep;
	cfg.wall_minus_mono_ns = (int64_t)(clock_ns(CLOCK_REALTIME) -
					   clock_ns(CLOCK_MONOTONIC));
	if ((c = cwg_tunnel_new(&cfg, &pg.t))) {
		fprintf(stderr, "wgping: cannot create the tunnel (%d)\n", c);
		return 2;
	}
	cwg_wipe(priv, sizeof(priv));
	cwg_wipe(psk, sizeof(psk));
	pg.id = (uint16_t)getpid();
	printf("PING %s from %s through the WireGuard peer at %s: %ld data "
	       "bytes\n", target, addr, endpoint, size);

	now = clock_ns(CLOCK_MONOTONIC);
	pg.hs_started = next_ping = next_tick = now;
	for (;;) {
		struct pollfd pfd = { .fd = pg.fd, .events = POLLIN };
		uint64_t wake;
		struct sockaddr_storage from;
		socklen_t fl = sizeof(from);
		struct cwg_endpoint src;
		ssize_t n;

		now = clock_ns(CLOCK_MONOTONIC);
		if (pg.sent < count && now >= next_ping) {
			size_t len = echo_request(ip, pg.v6, pg.src, pg.dst,
						  pg.id, (uint16_t)(pg.sent + 1),
						  (size_t)size);

			pg.sent_at[(pg.sent + 1) % (65536 / 64)] = now;
			pg.sent++;
			act(&pg, cwg_tunnel_encapsulate(pg.t, ip, len, now, &o),
			    &o, now);
			next_ping = now + (uint64_t)(interval * 1e9);
			if (pg.sent == count)
				deadline = now + (uint64_t)(wait_s * 1e9);
		}
		if (now >= next_tick) {
			act(&pg, cwg_tunnel_update_timers(pg.t, now, &o), &o,
			    now);
			next_tick = now + 100 * MS;
		}
		if (deadline && (now >= deadline || pg.received == pg.sent))
			break;
		wake = next_tick;
		if (pg.sent < count && next_ping < wake)
			wake = next_ping;
		if (deadline && deadline < wake)
			wake = deadline;
		if (poll(&pfd, 1, wake > now ? (int)((wake - now) / MS) + 1 : 0) <= 0)
			continue;
		n = recvfrom(pg.fd, buf, sizeof(buf), 0,
			     (struct sockaddr *)&from, &fl);
		if (n <= 0 || from_sockaddr(&src, &from))
			continue;
		now = clock_ns(CLOCK_MONOTONIC);
		act(&pg,
		    cwg_tunnel_decapsulate(pg.t, &src, buf, (size_t)n, now, &o),
		    &o, now);
	}
	printf("--- %s wgping statistics ---\n%u packets transmitted, %u "
	       "received, %.0f%% packet loss\n",
	       target, pg.sent, pg.received,
	       100.0 * (pg.sent - pg.received) / pg.sent);
	if (pg.received)
		printf("rtt min/avg/max = %.3f/%.3f/%.3f ms\n", pg.min,
		       pg.sum / pg.received, pg.max);
	cwg_tunnel_free(pg.t);
	close(pg.fd);
	cwg_thread_cleanup();
	return pg.received ? 0 : 1;
}
