/* SPDX-License-Identifier: MIT */
/*
 * splitmix64: the one seeded generator of the unit tests, the fuzz
 * harnesses and the traffic tools, so that a printed seed reproduces a
 * run everywhere. Not for keys that protect anything.
 */
#ifndef CWG_TESTS_SPLITMIX_H
#define CWG_TESTS_SPLITMIX_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* The mixing function alone: a well-spread value from any z. */
static inline uint64_t splitmix64_mix(uint64_t z)
{
	z += 0x9e3779b97f4a7c15ULL;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* The next value of the stream whose state is *s. */
static inline uint64_t splitmix64_next(uint64_t *s)
{
	uint64_t z = splitmix64_mix(*s);

	*s += 0x9e3779b97f4a7c15ULL;
	return z;
}

/* len bytes of the stream, 8 at a time (the last word cut short). */
static inline void splitmix64_fill(uint64_t *s, uint8_t *buf, size_t len)
{
	while (len) {
		uint64_t z = splitmix64_next(s);
		size_t n = len < 8 ? len : 8;

		memcpy(buf, &z, n);
		buf += n;
		len -= n;
	}
}

#endif
