/* SPDX-License-Identifier: MIT */
/*
 * Logging to stderr, wireguard-go style: LOG_LEVEL=silent|error|verbose
 * (debug is accepted for verbose), default error. Never pass key material.
 */
#ifndef CWG_LINUX_LOG_H
#define CWG_LINUX_LOG_H

#include <stdbool.h>

enum cwg_log_level {
	CWG_LOG_SILENT,
	CWG_LOG_ERROR,
	CWG_LOG_VERBOSE,
};

/* Reads LOG_LEVEL; the prefix names the interface in every line. */
void cwg_log_init(const char *ifname);
enum cwg_log_level cwg_log_level(void);
/* True when LOG_LEVEL was given explicitly and is not silent. */
bool cwg_log_requested(void);

void cwg_log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cwg_log_verbose(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

#endif
