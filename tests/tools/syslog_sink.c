/* SPDX-License-Identifier: MIT */
/*
 * syslog_sink: a stand-in for the syslog daemon, for tests/net/85-syslog.sh.
 *
 *   syslog_sink PATH
 *
 * Binds an AF_UNIX datagram socket at PATH (/dev/log in a mount namespace
 * of the test's own) and prints each datagram it receives as one line on
 * stdout, flushed at once: bytes outside printable ASCII as \xNN, so a
 * datagram can never pass for two lines. Removes PATH and exits 0 on
 * SIGTERM or SIGINT; exits 1 when PATH cannot be bound.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

int main(int argc, char **argv)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct sigaction sa = { .sa_handler = on_signal };
	static unsigned char buf[65536];
	int fd;

	if (argc != 2 || strlen(argv[1]) >= sizeof(a.sun_path)) {
		fprintf(stderr, "usage: syslog_sink PATH\n");
		return 1;
	}
	memcpy(a.sun_path, argv[1], strlen(argv[1]) + 1);
	/* No SA_RESTART: recv returns EINTR and the loop sees stop. */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		fprintf(stderr, "syslog_sink: %s: %s\n", argv[1],
			strerror(errno));
		return 1;
	}
	while (!stop) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "syslog_sink: recv: %s\n",
				strerror(errno));
			break;
		}
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] >= 0x20 && buf[i] < 0x7f && buf[i] != '\\')
				putchar(buf[i]);
			else
				printf("\\x%02x", buf[i]);
		}
		putchar('\n');
		fflush(stdout);
	}
	unlink(argv[1]);
	return stop ? 0 : 1;
}
