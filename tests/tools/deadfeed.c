/* SPDX-License-Identifier: MIT */
/*
 * deadfeed: keys for many peers that will never answer, and a steady
 * stream of datagrams towards their allowed IPs, for
 * tests/net/93-starve.sh (peers waiting for a handshake must not starve
 * a live one).
 *
 *   deadfeed keys -n COUNT [-s SEED]
 *   deadfeed send -a ADDR -n COUNT -r PPS [-t SECONDS] [-p PORT] [-l LEN]
 *
 * keys: COUNT public keys, one a line, base64 as wg(8) writes them: 32
 *   pseudo-random bytes each (any 32 bytes are a public key wg accepts),
 *   a pure function of SEED.
 * send: LEN-byte UDP datagrams (default 64) to port PORT (default 9) of
 *   the COUNT consecutive IPv4 addresses from ADDR, round-robin, at PPS a
 *   second in 1 ms ticks, until SECONDS pass (default: until SIGTERM or
 *   SIGINT). A sender that falls behind does not catch up in one burst:
 *   at most 100 ms worth is sent at once. Prints "sent=N errors=E
 *   seconds=S pps=P" (totals so far) every second and at the end, so a
 *   script can watch its progress; exits non-zero if nothing was sent.
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

#include "../common/splitmix.h"
#include "tools.h"

#define BATCH 64
#define MAX_LEN 1400
#define MAX_COUNT (1u << 20)

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int cmd_keys(uint32_t count, uint64_t seed)
{
	uint64_t state = seed;
	uint8_t key[32];
	char text[45];

	for (uint32_t i = 0; i < count; i++) {
		splitmix64_fill(&state, key, sizeof(key));
		cwg_key_to_base64(text, key);
		if (printf("%s\n", text) < 0)
			return 1;
	}
	return fflush(stdout) ? 1 : 0;
}

struct feed {
	int fd;
	uint32_t base, count, next, len;
	uint16_t port;
	struct sockaddr_in dst[BATCH];
	struct iovec iov[BATCH];
	struct mmsghdr msg[BATCH];
	uint8_t payload[MAX_LEN];
};

/* Up to n datagrams to the next addresses in turn; returns how many went. */
static int feed_batch(struct feed *f, int n, uint64_t *errors)
{
	int i, r;

	for (i = 0; i < n; i++) {
		f->dst[i].sin_family = AF_INET;
		f->dst[i].sin_port = htons(f->port);
		f->dst[i].sin_addr.s_addr = htonl(f->base + f->next);
		f->next = (f->next + 1) % f->count;
		f->iov[i].iov_base = f->payload;
		f->iov[i].iov_len = f->len;
		memset(&f->msg[i], 0, sizeof(f->msg[i]));
		f->msg[i].msg_hdr.msg_name = &f->dst[i];
		f->msg[i].msg_hdr.msg_namelen = sizeof(f->dst[i]);
		f->msg[i].msg_hdr.msg_iov = &f->iov[i];
		f->msg[i].msg_hdr.msg_iovlen = 1;
	}
	r = sendmmsg(f->fd, f->msg, (unsigned int)n, 0);
	if (r < 0) {
		/* ENOBUFS, EAGAIN and friends: the datagram is lost, go on.
		 * The address it was for comes round again. */
		(*errors)++;
		return 0;
	}
	/* A short count: the next message failed, and it and the rest of
	 * the batch are lost, as above. */
	if (r < n)
		(*errors)++;
	return r;
}

static void report(uint64_t sent, uint64_t errors, double t)
{
	printf("sent=%llu errors=%llu seconds=%.2f pps=%.0f\n",
	       (unsigned long long)sent, (unsigned long long)errors, t,
	       t > 0 ? (double)sent / t : 0.0);
	fflush(stdout);
}

static int cmd_send(struct feed *f, double pps, double seconds)
{
	struct timespec tick = { 0, 1000000 };
	uint64_t sent = 0, errors = 0, tried = 0;
	double t0 = now_s(), t, next_report = 1;

	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	while (!stop) {
		uint64_t due;

		t = now_s() - t0;
		if (seconds > 0 && t >= seconds)
			break;
		if (t >= next_report) {
			report(sent, errors, t);
			next_report += 1;
		}
		due = (uint64_t)(t * pps);
		/* Behind by more than 100 ms: drop the backlog, keep the rate. */
		if (due > tried + (uint64_t)(pps / 10))
			tried = due - (uint64_t)(pps / 10);
		while (tried < due && !stop) {
			int n = due - tried > BATCH ? BATCH : (int)(due - tried);

			sent += (uint64_t)feed_batch(f, n, &errors);
			tried += (uint64_t)n;
		}
		nanosleep(&tick, NULL);
	}
	report(sent, errors, now_s() - t0);
	return sent ? 0 : 1;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: deadfeed keys -n COUNT [-s SEED]\n"
		"       deadfeed send -a ADDR -n COUNT -r PPS [-t SECONDS] "
		"[-p PORT] [-l LEN]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static struct feed f;
	const char *addr = NULL;
	double pps = 0, seconds = 0;
	unsigned long long seed = 1;
	unsigned long count = 0, port = 9, len = 64;
	struct in_addr a;
	int c;

	if (argc < 2)
		usage();
	optind = 2;
	while ((c = getopt(argc, argv, "a:n:r:t:p:l:s:")) != -1) {
		switch (c) {
		case 'a': addr = optarg; break;
		case 'n': count = strtoul(optarg, NULL, 0); break;
		case 'r': pps = strtod(optarg, NULL); break;
		case 't': seconds = strtod(optarg, NULL); break;
		case 'p': port = strtoul(optarg, NULL, 0); break;
		case 'l': len = strtoul(optarg, NULL, 0); break;
		case 's': seed = strtoull(optarg, NULL, 0); break;
		default: usage();
		}
	}
	if (!count || count > MAX_COUNT)
		usage();
	if (!strcmp(argv[1], "keys"))
		return cmd_keys((uint32_t)count, seed);
	if (strcmp(argv[1], "send") || !addr || pps <= 0 || !port ||
	    port > 65535 || len > MAX_LEN || inet_pton(AF_INET, addr, &a) != 1)
		usage();
	f.fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (f.fd < 0) {
		perror("socket");
		return 1;
	}
	f.base = ntohl(a.s_addr);
	f.count = (uint32_t)count;
	f.port = (uint16_t)port;
	f.len = (uint32_t)len;
	memset(f.payload, 0xa5, sizeof(f.payload));
	return cmd_send(&f, pps, seconds);
}
