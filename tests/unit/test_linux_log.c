/* SPDX-License-Identifier: MIT */
/*
 * The daemon's log (src/linux/log.c) against a syslog socket of the
 * test's own: the datagram's form (facility daemon, LOG_ERR and LOG_INFO,
 * ident cwg with the pid, the interface name), stderr until detach and
 * not after, LOG_LEVEL, a syslog socket missing at start, one that is
 * full (no wait: the line is dropped, and counted on the next line that
 * gets through), one that was replaced (reconnect), and the
 * async-signal-safe path.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "linux/log.h"
#include "tap.h"

#define FLOOD 1000

static char dir[] = "/tmp/cwg-test-log.XXXXXX";
static char path[96];
static char err_path[160];

static int sink_open(void)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		diag("sink at %s: %s", path, strerror(errno));
		return -1;
	}
	return fd;
}

/* The next datagram waiting at the sink, or "" when none is. */
static const char *sink_next(int fd)
{
	static char buf[2048];
	ssize_t n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);

	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

/*
 * "<PRI>Mmm dd hh:mm:ss cwg[PID]: wgunit: MSG": PRI, and MSG, or NULL
 * when the line has another form.
 */
static const char *parse(const char *s, int *pri)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	char month[4], want[64];
	int off = 0;

	if (sscanf(s, "<%d>%n", pri, &off) != 1 || !off)
		return NULL;
	s += off;
	memcpy(month, s, 3);
	month[3] = '\0';
	if (strlen(s) < 16 || !strstr(months, month) || s[3] != ' ' ||
	    !(s[4] == ' ' || isdigit((unsigned char)s[4])) ||
	    !isdigit((unsigned char)s[5]) || s[6] != ' ' || s[9] != ':' ||
	    s[12] != ':' || s[15] != ' ')
		return NULL;
	snprintf(want, sizeof(want), "cwg[%ld]: wgunit: ", (long)getpid());
	s += 16;
	if (strncmp(s, want, strlen(want)))
		return NULL;
	return s + strlen(want);
}

/* Whether the line is PRI with message msg. */
static int is(const char *line, int pri, const char *msg)
{
	int p = -1;
	const char *m = parse(line, &p);

	if (!m || p != pri || strcmp(m, msg)) {
		diag("got '%s'", line);
		return 0;
	}
	return 1;
}

static int stderr_has(const char *what)
{
	char buf[8192];
	FILE *f = fopen(err_path, "r");
	size_t n;

	fflush(stderr);
	if (!f)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return strstr(buf, what) != NULL;
}

static void test_flood(int sink)
{
	char want[128];
	int got = 0;
	const char *l;

	/* A sink that is not reading: the queue fills after a few lines
	 * (net.unix.max_dgram_qlen). A blocking send would hang here, and
	 * the alarm would end the test. */
	alarm(30);
	for (int i = 0; i < FLOOD; i++)
		cwg_log_error("flood %d", i);
	alarm(0);
	while (*(l = sink_next(sink)))
		got++;
	ok(got > 0 && got < FLOOD, "a full syslog queue: %d of %d lines "
	   "delivered, the rest dropped without waiting", got, FLOOD);
	cwg_log_error("after the flood");
	ok(is(sink_next(sink), 27, "after the flood"),
	   "the next line gets through");
	snprintf(want, sizeof(want), "%d earlier log lines were lost: the "
		 "syslog socket was full or gone", FLOOD - got);
	ok(is(sink_next(sink), 28, want),
	   "... followed by the count of lost lines, LOG_WARNING");
	ok(!*sink_next(sink), "... once");
}

int main(void)
{
	struct iovec iov[] = { { "a ", 2 }, { "b", 1 } };
	int sink, sink2, fd, r;

	if (!mkdtemp(dir)) {
		printf("1..0 # SKIP mkdtemp: %s\n", strerror(errno));
		return 0;
	}
	snprintf(path, sizeof(path), "%s/log", dir);
	snprintf(err_path, sizeof(err_path), "%s/stderr", dir);
	fflush(stderr);
	if (!freopen(err_path, "w", stderr)) {
		printf("1..0 # SKIP %s: %s\n", err_path, strerror(errno));
		return 0;
	}
	setvbuf(stderr, NULL, _IONBF, 0);

	setenv("LOG_LEVEL", "verbose", 1);
	cwg_log_init("wgunit");
	r = cwg_log_open_syslog(path);
	ok(r == -ENOENT && cwg_log_syslog_fd() < 0,
	   "no syslog socket: not opened (%d)", r);
	ok(stderr_has("DEBUG: (wgunit) ") && stderr_has("No syslog at"),
	   "... and the log says so on stderr, where it stays");

	sink = sink_open();
	r = cwg_log_open_syslog(path);
	fd = cwg_log_syslog_fd();
	ok(!r && fd >= 0, "syslog socket connected (%d)", r);
	ok(fd >= 0 && (fcntl(fd, F_GETFL) & O_NONBLOCK) &&
	   (fcntl(fd, F_GETFD) & FD_CLOEXEC),
	   "... non-blocking, close-on-exec");
	cwg_log_error("boom %d", 7);
	ok(is(sink_next(sink), 27, "boom 7"),
	   "error: <27> (daemon.err), time, ident cwg[pid], interface name");
	ok(stderr_has("ERROR: (wgunit) ") && stderr_has(" boom 7"),
	   "... and stderr too until the launcher is gone");
	cwg_log_detach();
	cwg_log_verbose("fine");
	ok(is(sink_next(sink), 30, "fine"), "verbose: <30> (daemon.info)");
	ok(!stderr_has("fine"), "... and no longer on stderr once detached");

	setenv("LOG_LEVEL", "error", 1);
	cwg_log_init("wgunit");
	cwg_log_verbose("hidden");
	cwg_log_error("shown");
	ok(is(sink_next(sink), 27, "shown"), "LOG_LEVEL=error: errors only");
	ok(!*sink_next(sink), "... the verbose line was not sent");

	test_flood(sink);

	close(sink);
	unlink(path);
	sink2 = sink_open();
	cwg_log_error("again");
	ok(is(sink_next(sink2), 27, "again"),
	   "a syslog daemon restarted with a new socket: reconnected");

	cwg_log_error_async(iov, 2);
	{
		const char *l = sink_next(sink2);
		char want[64];

		snprintf(want, sizeof(want), "<27>cwg[%ld]: wgunit: a b",
			 (long)getpid());
		ok(!strcmp(l, want), "async-signal-safe line: '%s'", l);
	}

	setenv("LOG_LEVEL", "silent", 1);
	cwg_log_init("wgunit");
	cwg_log_error("nothing");
	ok(!*sink_next(sink2), "LOG_LEVEL=silent: nothing sent");

	close(sink2);
	unlink(path);
	unlink(err_path);
	rmdir(dir);
	return done_testing();
}
