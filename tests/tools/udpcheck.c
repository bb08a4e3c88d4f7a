/* SPDX-License-Identifier: MIT */
/*
 * udpcheck: UDP datagrams whose every byte is known in advance, sent in
 * bursts and checked one by one at the receiver, for tests/net/70-offload.sh
 * (coalesced TUN writes must hand every datagram over as it was sent).
 *
 *   udpcheck send -d ADDR -p PORT -n COUNT -l MAXLEN -s SEED [-b BURST]
 *                 [-g GAP_US]
 *   udpcheck recv -p PORT -n COUNT -l MAXLEN -s SEED [-b BURST]
 *                 [-w IDLE_S] [-m MIN_PERCENT] [-o]
 *
 * Datagram i is a pure function of (seed, i, burst, maxlen): its sequence
 * number, then pseudo-random bytes. Bursts of BURST datagrams go back to
 * back, GAP_US apart; within a burst all have one size (mostly MAXLEN,
 * sometimes a smaller one) and the last is sometimes shorter still, the
 * shapes a coalescer must group and split correctly.
 *
 * The receiver (IPv6 socket taking IPv4 too) stops when all COUNT came or
 * none came for IDLE_S seconds (10 s for the first), then prints
 * "received=N of COUNT corrupt=C dup=D late=L seed=S". It fails when any
 * datagram was damaged (wrong length or content, unknown sequence number)
 * or came twice, or fewer than MIN_PERCENT (default 95) percent came:
 * loss alone is UDP's right, damage never. With -o it also fails when
 * any datagram came late (after one sent later): for a path that
 * promises to keep one flow in order, as a WireGuard tunnel does.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tools.h"
#include "../common/splitmix.h"

#define MAX_LEN 65507
#define MIN_LEN 8

struct params {
	uint64_t seed;
	uint32_t count, maxlen, burst;
};

/* The content generator. */
static uint64_t mix(uint64_t z)
{
	return splitmix64_mix(z);
}

static uint32_t dgram_len(const struct params *pr, uint32_t i)
{
	uint32_t k = i / pr->burst, span = pr->maxlen - MIN_LEN + 1;
	uint64_t h = mix(pr->seed ^ mix(k));
	uint32_t size = pr->maxlen;

	if ((h & 3) == 3)
		size = MIN_LEN + (uint32_t)((h >> 8) % span);
	/* Half the bursts end short, as a message's tail would. */
	if ((h & 4) && (i % pr->burst == pr->burst - 1 || i == pr->count - 1))
		size = MIN_LEN + (uint32_t)((h >> 32) % (size - MIN_LEN + 1));
	return size;
}

static void dgram_fill(const struct params *pr, uint32_t i, uint8_t *p,
		       uint32_t len)
{
	uint64_t state = mix(pr->seed + 0x5851f42d4c957f2dULL * (i + 1ULL));

	p[0] = (uint8_t)(i >> 24);
	p[1] = (uint8_t)(i >> 16);
	p[2] = (uint8_t)(i >> 8);
	p[3] = (uint8_t)i;
	for (uint32_t o = 4; o < len; o += 8) {
		uint64_t v = mix(state++);
		uint32_t k = len - o < 8 ? len - o : 8;

		memcpy(p + o, &v, k);
	}
}

static int usage(void)
{
	fprintf(stderr, "usage: udpcheck send -d ADDR -p PORT -n COUNT "
		"-l MAXLEN -s SEED [-b BURST] [-g GAP_US]\n"
		"       udpcheck recv -p PORT -n COUNT -l MAXLEN -s SEED "
		"[-b BURST] [-w IDLE_S] [-m MIN_PERCENT] [-o]\n");
	return 2;
}

static int do_send(const struct params *pr, const char *addr,
		   const char *port, long gap_us)
{
	static uint8_t buf[MAX_LEN];
	struct addrinfo hints = { .ai_socktype = SOCK_DGRAM,
				  .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV };
	struct addrinfo *ai;
	struct timespec gap = { .tv_sec = gap_us / 1000000,
				.tv_nsec = gap_us % 1000000 * 1000 };
	uint32_t sent = 0, errors = 0;
	int fd, r;

	r = getaddrinfo(addr, port, &hints, &ai);
	if (r) {
		fprintf(stderr, "udpcheck: %s: %s\n", addr, gai_strerror(r));
		return 2;
	}
	fd = socket(ai->ai_family, SOCK_DGRAM, 0);
	if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen)) {
		perror("udpcheck: socket/connect");
		return 2;
	}
	freeaddrinfo(ai);
	for (uint32_t i = 0; i < pr->count; i++) {
		uint32_t len = dgram_len(pr, i);

		dgram_fill(pr, i, buf, len);
		/* A full queue (ENOBUFS) loses the datagram: counted, as
		 * the receiver counts the loss. */
		if (send(fd, buf, len, 0) == (ssize_t)len)
			sent++;
		else
			errors++;
		if (i % pr->burst == pr->burst - 1 && gap_us)
			nanosleep(&gap, NULL);
	}
	printf("sent=%u errors=%u seed=%llu\n", sent, errors,
	       (unsigned long long)pr->seed);
	close(fd);
	return 0;
}

static int do_recv(const struct params *pr, const char *port, int idle_s,
		   int min_pct, bool in_order)
{
	static uint8_t buf[MAX_LEN + 1], want[MAX_LEN];
	struct sockaddr_in6 sa = { .sin6_family = AF_INET6,
				   .sin6_addr = IN6ADDR_ANY_INIT };
	uint32_t got = 0, corrupt = 0, dup = 0, late = 0, highest = 0;
	int fd, off = 0, big = 8 << 20;
	uint8_t *seen = calloc(pr->count, 1);

	sa.sin6_port = htons((uint16_t)atoi(port));
	fd = socket(AF_INET6, SOCK_DGRAM, 0);
	if (!seen || fd < 0 ||
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off)) ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		perror("udpcheck: socket/bind");
		return 2;
	}
	/* Root may go past rmem_max: a burst must never overflow us. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big)))
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	while (got < pr->count) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t r;
		uint32_t i;

		if (poll(&pfd, 1, (got ? idle_s : 10) * 1000) <= 0)
			break;
		r = recv(fd, buf, sizeof(buf), 0);
		if (r < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			perror("udpcheck: recv");
			return 2;
		}
		if (r < 4) {
			corrupt++;
			continue;
		}
		i = (uint32_t)buf[0] << 24 | (uint32_t)buf[1] << 16 |
		    (uint32_t)buf[2] << 8 | buf[3];
		if (i >= pr->count || (uint32_t)r != dgram_len(pr, i)) {
			corrupt++;
			continue;
		}
		dgram_fill(pr, i, want, (uint32_t)r);
		if (memcmp(buf, want, (size_t)r)) {
			corrupt++;
			continue;
		}
		if (seen[i]++) {
			dup++;
			continue;
		}
		/* Reordering is no error for UDP, only worth a number. */
		if (got && i < highest)
			late++;
		if (i > highest)
			highest = i;
		got++;
	}
	printf("received=%u of %u corrupt=%u dup=%u late=%u seed=%llu\n", got,
	       pr->count, corrupt, dup, late, (unsigned long long)pr->seed);
	free(seen);
	close(fd);
	return corrupt || dup || (in_order && late) ||
	       (uint64_t)got * 100 < (uint64_t)pr->count * (uint64_t)min_pct;
}

int main(int argc, char **argv)
{
	struct params pr = { .burst = 32 };
	const char *addr = NULL, *port = NULL;
	long gap_us = 2000;
	int idle_s = 3, min_pct = 95, c;
	bool send_mode, in_order = false;

	if (argc < 2)
		return usage();
	send_mode = !strcmp(argv[1], "send");
	if (!send_mode && strcmp(argv[1], "recv"))
		return usage();
	optind = 2;
	while ((c = getopt(argc, argv, "d:p:n:l:s:b:g:w:m:o")) != -1) {
		switch (c) {
		case 'd': addr = optarg; break;
		case 'p': port = optarg; break;
		case 'n': pr.count = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'l': pr.maxlen = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 's': pr.seed = strtoull(optarg, NULL, 0); break;
		case 'b': pr.burst = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'g': gap_us = strtol(optarg, NULL, 0); break;
		case 'w': idle_s = atoi(optarg); break;
		case 'm': min_pct = atoi(optarg); break;
		case 'o': in_order = true; break;
		default: return usage();
		}
	}
	if (!port || !pr.count || pr.maxlen < MIN_LEN || pr.maxlen > MAX_LEN ||
	    !pr.burst || gap_us < 0 || idle_s <= 0 || (send_mode && !addr))
		return usage();
	return send_mode ? do_send(&pr, addr, port, gap_us) :
			   do_recv(&pr, port, idle_s, min_pct, in_order);
}
