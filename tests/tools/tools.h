/* SPDX-License-Identifier: MIT */
/* Small helpers shared by the traffic tools in tests/tools/. */
#ifndef CWG_TEST_TOOLS_H
#define CWG_TEST_TOOLS_H

#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cwg/cwg.h>

static inline double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A WireGuard key: 43 base64 characters and one '=' (libcwg parses). */
static inline int parse_key(const char *s, uint8_t key[32])
{
	return cwg_key_from_base64(key, s);
}

#endif
