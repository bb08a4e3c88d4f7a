/* SPDX-License-Identifier: MIT */
/* Small helpers shared by the traffic tools in tests/tools/. */
#ifndef CWG_TEST_TOOLS_H
#define CWG_TEST_TOOLS_H

#include <stdint.h>
#include <string.h>
#include <time.h>

static inline double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline int b64_val(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* A WireGuard key: 43 base64 characters and one '='. */
static inline int parse_key(const char *s, uint8_t key[32])
{
	uint32_t acc = 0;
	int bits = 0, i, n = 0;

	if (strlen(s) != 44 || s[43] != '=')
		return -1;
	for (i = 0; i < 43; i++) {
		int v = b64_val((unsigned char)s[i]);

		if (v < 0)
			return -1;
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			key[n++] = (uint8_t)(acc >> bits);
		}
	}
	return n == 32 ? 0 : -1;
}

#endif
