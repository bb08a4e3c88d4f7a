/* SPDX-License-Identifier: MIT */
/*
 * Where the log goes, and in which form.
 *
 * In the foreground: stderr, in wireguard-go's format,
 *     ERROR: (wg0) 2024/01/02 03:04:05 Failed to bind port 51820: ...
 * A daemonized cwg has no terminal, and wg-quick's stderr is gone once it
 * returns, so the daemon sends its lines to syslog from the fork on
 * (journald takes /dev/log on systemd machines), and to stderr as well
 * only until its launcher returns, which prints the errors of a start-up
 * that fails. Choices:
 *
 *  - Facility LOG_DAEMON. Error lines are LOG_ERR; verbose lines are
 *    LOG_INFO, not LOG_DEBUG: they are events an operator asked for with
 *    LOG_LEVEL=verbose (start, stop, ports, MTU, offloads, sandbox), not
 *    traces, and many syslog setups file *.info but drop debug. LOG_LEVEL
 *    still decides what is sent; the syslog daemon's filters come after.
 *    The one line of our own, the count of lost lines, is LOG_WARNING.
 *  - The datagram syslog(3) sends to /dev/log, which journald, rsyslog,
 *    syslog-ng and busybox's syslogd all parse:
 *        <27>Jan  2 03:04:05 cwg[1234]: wg0: Failed to bind port ...
 *    ident "cwg" with the pid, and the interface name first in the
 *    message, as the kernel module's "wireguard: wg0: ..." lines have it.
 *  - Not syslog(3) itself: it blocks while the reader is behind, opens a
 *    new socket when a send fails (the sandbox forbids new sockets) and
 *    may open /dev/console. Ours is opened and connected before the
 *    sandbox and never blocks, because the data threads log too (a TUN
 *    that refused a write, a sticky source refused): a line that finds
 *    the syslog daemon's queue full is dropped and counted, and the next
 *    line that gets through is followed by the count.
 *  - A syslog daemon restarted without socket activation leaves a new
 *    socket at /dev/log: the next line reconnects once (the sandbox lets
 *    this one descriptor connect) and is resent.
 *  - No syslog socket at start-up (a container, a minimal system): the
 *    daemon logs to stderr as before, which it keeps when LOG_LEVEL is
 *    set, so a LOG_LEVEL that someone set still shows somewhere.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

/* A formatted message, and a whole syslog datagram: RFC 3164's limit. */
#define LOG_MSG_MAX 512
#define LOG_DGRAM_MAX 1024
#define LOG_ASYNC_PIECES 6

static enum cwg_log_level level = CWG_LOG_ERROR;
static bool requested;
static char log_ifname[32];
static char prefix[40];

/* Set before any other thread exists (cwg_log_open_syslog), then only
 * read, except sl_stderr_too and sl_lost, which every thread may touch
 * and which are atomic. */
static int sl_fd = -1;
static struct sockaddr_un sl_addr;
static socklen_t sl_addr_len;
static char sl_tag[64];		/* "cwg[1234]: wg0: " */
static char sl_async_head[72];	/* "<27>cwg[1234]: wg0: " */
static size_t sl_async_head_len;
static bool sl_stderr_too;
static uint64_t sl_lost;

void cwg_log_init(const char *ifname)
{
	const char *s = getenv("LOG_LEVEL");

	snprintf(log_ifname, sizeof(log_ifname), "%s", ifname ? ifname : "");
	snprintf(prefix, sizeof(prefix), "(%s) ", log_ifname);
	requested = false;
	level = CWG_LOG_ERROR;
	if (!s || !*s)
		return;
	if (!strcmp(s, "verbose") || !strcmp(s, "debug"))
		level = CWG_LOG_VERBOSE;
	else if (!strcmp(s, "silent"))
		level = CWG_LOG_SILENT;
	requested = level != CWG_LOG_SILENT;
}

enum cwg_log_level cwg_log_level(void)
{
	return level;
}

bool cwg_log_requested(void)
{
	return requested;
}

int cwg_log_syslog_fd(void)
{
	return sl_fd;
}

int cwg_log_open_syslog(const char *path)
{
	size_t len = strlen(path);
	int fd, err, n;

	if (level == CWG_LOG_SILENT)
		return -ECANCELED;
	if (sl_fd >= 0)
		return -EALREADY;
	if (len >= sizeof(sl_addr.sun_path))
		return -ENAMETOOLONG;
	sl_addr.sun_family = AF_UNIX;
	memcpy(sl_addr.sun_path, path, len + 1);
	sl_addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
				  len + 1);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sl_addr, sl_addr_len) < 0) {
		err = errno;
		close(fd);
		cwg_log_verbose("No syslog at %s (%s): logging to standard "
				"error", path, strerror(err));
		return -err;
	}
	snprintf(sl_tag, sizeof(sl_tag), "cwg[%ld]: %s: ", (long)getpid(),
		 log_ifname);
	n = snprintf(sl_async_head, sizeof(sl_async_head), "<%d>%s",
		     LOG_DAEMON | LOG_ERR, sl_tag);
	sl_async_head_len = n > 0 && (size_t)n < sizeof(sl_async_head) ?
			    (size_t)n : 0;
	sl_stderr_too = true;
	sl_fd = fd;
	return 0;
}

void cwg_log_detach(void)
{
	if (sl_fd >= 0)
		__atomic_store_n(&sl_stderr_too, false, __ATOMIC_RELAXED);
}

/* The whole syslog path but the formatting; async-signal-safe. */
static bool sl_sendmsg(struct iovec *iov, int n)
{
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = (size_t)n };
	const int flags = MSG_DONTWAIT | MSG_NOSIGNAL;

	if (sendmsg(sl_fd, &mh, flags) >= 0)
		return true;
	if (errno != ECONNREFUSED && errno != ENOTCONN)
		return false; /* EAGAIN above all: the reader is behind */
	/* The socket we were connected to is gone; a new one may be there. */
	if (connect(sl_fd, (struct sockaddr *)&sl_addr, sl_addr_len) < 0)
		return false;
	return sendmsg(sl_fd, &mh, flags) >= 0;
}

static bool sl_line(int severity, const char *msg)
{
	char head[64], when[32];
	time_t t = time(NULL);
	struct tm tm;
	struct iovec iov[2];
	int n;

	/* C locale month names: the daemon never calls setlocale(). */
	if (!localtime_r(&t, &tm) ||
	    !strftime(when, sizeof(when), "%b %e %H:%M:%S ", &tm))
		when[0] = '\0';
	n = snprintf(head, sizeof(head), "<%d>%s%s", LOG_DAEMON | severity,
		     when, sl_tag);
	if (n < 0)
		return false;
	iov[0].iov_base = head;
	iov[0].iov_len = (size_t)n < sizeof(head) ? (size_t)n :
			 sizeof(head) - 1;
	iov[1].iov_base = (void *)msg;
	iov[1].iov_len = strnlen(msg, LOG_DGRAM_MAX - iov[0].iov_len);
	return sl_sendmsg(iov, 2);
}

static void sl_log(int severity, const char *msg)
{
	char note[96];
	uint64_t lost;

	if (!sl_line(severity, msg)) {
		__atomic_add_fetch(&sl_lost, 1, __ATOMIC_RELAXED);
		return;
	}
	lost = __atomic_exchange_n(&sl_lost, 0, __ATOMIC_RELAXED);
	if (!lost)
		return;
	snprintf(note, sizeof(note), "%llu earlier log lines were lost: the "
		 "syslog socket was full or gone", (unsigned long long)lost);
	if (!sl_line(LOG_WARNING, note))
		__atomic_add_fetch(&sl_lost, lost, __ATOMIC_RELAXED);
}

static void stderr_line(const char *tag, const char *msg)
{
	char when[32];
	time_t t = time(NULL);
	struct tm tm;

	if (!localtime_r(&t, &tm) ||
	    !strftime(when, sizeof(when), "%Y/%m/%d %H:%M:%S", &tm))
		when[0] = '\0';
	/* One write per line so threads do not interleave mid-line. */
	fprintf(stderr, "%s: %s%s %s\n", tag, prefix, when, msg);
}

static void log_line(int severity, const char *tag, const char *fmt,
		     va_list ap)
{
	char msg[LOG_MSG_MAX];
	int saved = errno;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (sl_fd >= 0)
		sl_log(severity, msg);
	if (sl_fd < 0 || __atomic_load_n(&sl_stderr_too, __ATOMIC_RELAXED))
		stderr_line(tag, msg);
	errno = saved;
}

void cwg_log_error(const char *fmt, ...)
{
	va_list ap;

	if (level < CWG_LOG_ERROR)
		return;
	va_start(ap, fmt);
	log_line(LOG_ERR, "ERROR", fmt, ap);
	va_end(ap);
}

void cwg_log_verbose(const char *fmt, ...)
{
	va_list ap;

	if (level < CWG_LOG_VERBOSE)
		return;
	va_start(ap, fmt);
	log_line(LOG_INFO, "DEBUG", fmt, ap);
	va_end(ap);
}

void cwg_log_error_async(const struct iovec *iov, int n)
{
	struct iovec v[LOG_ASYNC_PIECES + 2];
	int saved = errno;

	if (level < CWG_LOG_ERROR || n < 0 || n > LOG_ASYNC_PIECES)
		return;
	memcpy(&v[1], iov, (size_t)n * sizeof(*iov));
	/* No time stamp here (localtime is not async-signal-safe): the
	 * syslog daemon stamps a line that has none when it receives it. */
	if (sl_fd >= 0 && sl_async_head_len) {
		v[0].iov_base = sl_async_head;
		v[0].iov_len = sl_async_head_len;
		if (!sl_sendmsg(v, n + 1))
			__atomic_add_fetch(&sl_lost, 1, __ATOMIC_RELAXED);
	}
	if (sl_fd < 0 || __atomic_load_n(&sl_stderr_too, __ATOMIC_RELAXED)) {
		v[0].iov_base = (void *)"cwg: ";
		v[0].iov_len = 5;
		v[n + 1].iov_base = (void *)"\n";
		v[n + 1].iov_len = 1;
		(void)!writev(STDERR_FILENO, v, n + 2);
	}
	errno = saved;
}
