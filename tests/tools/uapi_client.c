/* SPDX-License-Identifier: MIT */
/*
 * uapi_client: unusual UAPI clients, for tests/net/91-uapi-abuse.sh.
 *
 *   uapi_client hold SOCK N [PREFIX]
 *	Opens N connections, sends PREFIX (C escapes: \n \0 \\ \xHH) on each,
 *	prints "held=N" once all are open and keeps them, reading nothing,
 *	until SIGTERM or SIGINT; then closes them all and exits 0 (1 if any
 *	connect failed).
 *   uapi_client send SOCK [TIMEOUT_S]
 *	Sends stdin as is (any bytes, any line length), half-closes, and
 *	prints whatever comes back until the server closes or TIMEOUT_S
 *	(default 10) passes. The server may stop reading and hang up while
 *	we still send: that is reported as "# send: ..." on stderr and is not
 *	an error; the exit status is 0 when the server closed the connection,
 *	4 on timeout.
 *   uapi_client vanish SOCK PREFIX
 *	Sends PREFIX and closes at once without reading (a client that
 *	dies mid-request).
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static int uapi_connect(const char *path)
{
	struct sockaddr_un sa;
	int s;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa.sun_path))
		return -1;
	memcpy(sa.sun_path, path, strlen(path));
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -1;
	if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(s);
		return -1;
	}
	return s;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes the escapes in s into out (at most strlen(s) bytes). */
static size_t unescape(const char *s, char *out)
{
	size_t n = 0;

	while (*s) {
		if (*s != '\\' || !s[1]) {
			out[n++] = *s++;
			continue;
		}
		s++;
		switch (*s) {
		case 'n': out[n++] = '\n'; s++; break;
		case '0': out[n++] = '\0'; s++; break;
		case '\\': out[n++] = '\\'; s++; break;
		case 'x':
			if (hexval(s[1]) >= 0 && hexval(s[2]) >= 0) {
				out[n++] = (char)(hexval(s[1]) << 4 |
						  hexval(s[2]));
				s += 3;
				break;
			}
			/* fall through */
		default: out[n++] = '\\'; break;
		}
	}
	return n;
}

static int send_all(int s, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(s, p, n, MSG_NOSIGNAL);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int do_hold(const char *path, int n, const char *prefix)
{
	char *buf = malloc(strlen(prefix) + 1);
	size_t len;
	int *fds = calloc((size_t)n, sizeof(*fds)), i, bad = 0, sig;
	sigset_t set;

	if (!buf || !fds)
		return 1;
	/* Blocked before anything else, so an early TERM is not lost. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	len = unescape(prefix, buf);
	for (i = 0; i < n; i++) {
		fds[i] = uapi_connect(path);
		if (fds[i] < 0) {
			fprintf(stderr, "connect %d: %s\n", i, strerror(errno));
			bad++;
			continue;
		}
		if (len && send_all(fds[i], buf, len) < 0)
			bad++;
	}
	printf("held=%d\n", n - bad);
	fflush(stdout);
	while (sigwait(&set, &sig))
		;
	for (i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	free(fds);
	free(buf);
	return bad ? 1 : 0;
}

static int do_send(const char *path, double timeout)
{
	static char buf[65536];
	struct timespec t0, t;
	bool in_open = true, send_ok = true;
	int s = uapi_connect(path);

	if (s < 0) {
		perror("uapi_client: connect");
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct pollfd p[2] = {
			{ .fd = s, .events = POLLIN },
			{ .fd = 0, .events = POLLIN },
		};
		double el;
		ssize_t n;

		clock_gettime(CLOCK_MONOTONIC, &t);
		el = (double)(t.tv_sec - t0.tv_sec) +
		     (double)(t.tv_nsec - t0.tv_nsec) / 1e9;
		if (el > timeout) {
			fprintf(stderr, "# timeout after %.1f s\n", el);
			return 4;
		}
		if (poll(p, in_open ? 2 : 1, 100) < 0 && errno != EINTR)
			return 1;
		if (p[0].revents) {
			n = recv(s, buf, sizeof(buf), 0);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				if (n < 0)
					fprintf(stderr, "# recv: %s\n",
						strerror(errno));
				break;
			}
			fwrite(buf, 1, (size_t)n, stdout);
			continue;
		}
		if (in_open && p[1].revents) {
			n = read(0, buf, sizeof(buf));
			if (n <= 0) {
				in_open = false;
				shutdown(s, SHUT_WR);
				continue;
			}
			if (send_ok && send_all(s, buf, (size_t)n) < 0) {
				fprintf(stderr, "# send: %s\n",
					strerror(errno));
				send_ok = false;
			}
		}
	}
	close(s);
	fflush(stdout);
	return 0;
}

static int do_vanish(const char *path, const char *prefix)
{
	char *buf = malloc(strlen(prefix) + 1);
	size_t len;
	int s = uapi_connect(path);

	if (!buf || s < 0)
		return 1;
	len = unescape(prefix, buf);
	if (send_all(s, buf, len) < 0)
		return 1;
	close(s);
	free(buf);
	return 0;
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	if (argc >= 4 && !strcmp(argv[1], "hold"))
		return do_hold(argv[2], atoi(argv[3]), argc > 4 ? argv[4] : "");
	if (argc >= 3 && !strcmp(argv[1], "send"))
		return do_send(argv[2], argc > 3 ? atof(argv[3]) : 10);
	if (argc == 4 && !strcmp(argv[1], "vanish"))
		return do_vanish(argv[2], argv[3]);
	fprintf(stderr, "usage: uapi_client hold SOCK N [PREFIX] | "
			"send SOCK [TIMEOUT_S] | vanish SOCK PREFIX\n");
	return 2;
}
