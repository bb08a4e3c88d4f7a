/* SPDX-License-Identifier: MIT */
/*
 * Per-source limit on handshake messages that passed the cookie check
 * while the device is under load, as the kernel does: a token bucket of
 * 20 per second with a burst of 5, keyed by the IPv4 address or the IPv6
 * /64. The table is fixed-size and allocated on first use, so a flood
 * from many addresses costs bounded memory; when it is full of live
 * entries, new sources are refused.
 */
#ifndef CWG_RATELIMITER_H
#define CWG_RATELIMITER_H

#include <cwg/cwg.h>

#define CWG_RATELIMIT_PER_SECOND 20
#define CWG_RATELIMIT_BURST 5
#define CWG_RATELIMIT_SLOTS 8192 /* a power of two */

struct cwg_ratelimiter_entry;

struct cwg_ratelimiter {
	struct cwg_mutex lock; /* protects everything below */
	struct cwg_ratelimiter_entry *slots;
	uint64_t key[2];
};

void cwg_ratelimiter_init(struct cwg_ratelimiter *rl, const uint8_t seed[16]);
void cwg_ratelimiter_destroy(struct cwg_ratelimiter *rl);
/* true when a message from src may be processed now. */
bool cwg_ratelimiter_allow(struct cwg_ratelimiter *rl,
			   const struct cwg_endpoint *src, uint64_t now);

#endif
