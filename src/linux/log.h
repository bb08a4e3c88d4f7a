/* SPDX-License-Identifier: MIT */
/*
 * The daemon's log: LOG_LEVEL=silent|error|verbose (debug is accepted for
 * verbose), default error, as wireguard-go reads it. Lines go to stderr
 * in wireguard-go's format; a daemonized cwg sends them to syslog instead
 * (log.c says how and why). Never pass key material.
 */
#ifndef CWG_LINUX_LOG_H
#define CWG_LINUX_LOG_H

#include <stdbool.h>
#include <sys/uio.h>

enum cwg_log_level {
	CWG_LOG_SILENT,
	CWG_LOG_ERROR,
	CWG_LOG_VERBOSE,
};

/* Reads LOG_LEVEL; the interface name goes into every line. */
void cwg_log_init(const char *ifname);
enum cwg_log_level cwg_log_level(void);
/* True when LOG_LEVEL was given explicitly and is not silent. */
bool cwg_log_requested(void);

/*
 * For a daemon, after the fork and before the sandbox: connects a
 * datagram socket to the syslog socket at path (_PATH_LOG, /dev/log) and
 * sends every line there from now on, and to stderr as well until
 * cwg_log_detach(). 0, or a negative errno when there is no syslog to
 * talk to (lines then keep going to stderr alone) or nothing to log
 * (LOG_LEVEL=silent: -ECANCELED). Call it once.
 */
int cwg_log_open_syslog(const char *path);
/* The launcher has returned and nobody reads stderr: with syslog open,
 * lines go there alone from now on. */
void cwg_log_detach(void);
/* The syslog socket, -1 when none: the sandbox allows connect() on it,
 * and on nothing else, to reach a restarted syslog daemon. */
int cwg_log_syslog_fd(void);

void cwg_log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cwg_log_verbose(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
/* An error line made of n (at most 6) pieces, without formatting, locks
 * or a time stamp: async-signal-safe, for a signal handler. */
void cwg_log_error_async(const struct iovec *iov, int n);

#endif
