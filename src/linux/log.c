/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

static enum cwg_log_level level = CWG_LOG_ERROR;
static bool requested;
static char prefix[40];

void cwg_log_init(const char *ifname)
{
	const char *s = getenv("LOG_LEVEL");

	snprintf(prefix, sizeof(prefix), "(%s) ", ifname ? ifname : "");
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

static void log_line(const char *tag, const char *fmt, va_list ap)
{
	char msg[512], when[32];
	time_t t = time(NULL);
	struct tm tm;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (!localtime_r(&t, &tm) ||
	    !strftime(when, sizeof(when), "%Y/%m/%d %H:%M:%S", &tm))
		when[0] = '\0';
	/* One write per line so threads do not interleave mid-line. */
	fprintf(stderr, "%s: %s%s %s\n", tag, prefix, when, msg);
}

void cwg_log_error(const char *fmt, ...)
{
	va_list ap;

	if (level < CWG_LOG_ERROR)
		return;
	va_start(ap, fmt);
	log_line("ERROR", fmt, ap);
	va_end(ap);
}

void cwg_log_verbose(const char *fmt, ...)
{
	va_list ap;

	if (level < CWG_LOG_VERBOSE)
		return;
	va_start(ap, fmt);
	log_line("DEBUG", fmt, ap);
	va_end(ap);
}
