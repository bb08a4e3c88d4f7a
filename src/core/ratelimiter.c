/* SPDX-License-Identifier: MIT */
#include "ratelimiter.h"

#include "lookup.h"

#define PACKET_COST (CWG_NSEC_PER_SEC / CWG_RATELIMIT_PER_SECOND)
#define TOKEN_MAX (PACKET_COST * CWG_RATELIMIT_BURST)
/* An entry idle this long is full again, so it can be forgotten. */
#define ENTRY_IDLE_NS CWG_NSEC_PER_SEC
#define PROBES 16

struct cwg_ratelimiter_entry {
	uint64_t last;	 /* 0: free */
	uint64_t tokens; /* nanoseconds of credit */
	uint8_t family;
	uint8_t addr[8]; /* IPv4 address, or the IPv6 /64 */
};

void cwg_ratelimiter_init(struct cwg_ratelimiter *rl, const uint8_t seed[16])
{
	cwg_memset(rl, 0, sizeof(*rl));
	cwg_mutex_init(&rl->lock);
	rl->key[0] = cwg_get_le64(seed);
	rl->key[1] = cwg_get_le64(seed + 8);
}

void cwg_ratelimiter_destroy(struct cwg_ratelimiter *rl)
{
	cwg_free(rl->slots);
	cwg_mutex_destroy(&rl->lock);
}

bool cwg_ratelimiter_allow(struct cwg_ratelimiter *rl,
			   const struct cwg_endpoint *src, uint64_t now)
{
	struct cwg_ratelimiter_entry *e, *victim = NULL;
	uint8_t key[9];
	uint64_t h;
	uint32_t i;
	bool allow = false;

	if (!now)
		now = 1; /* 0 marks a free slot */
	cwg_memset(key, 0, sizeof(key));
	key[0] = src->family;
	cwg_memcpy(key + 1, src->addr, src->family == 6 ? 8 : 4);
	h = cwg_siphash24(rl->key, key, sizeof(key));

	cwg_mutex_lock(&rl->lock);
	if (!rl->slots) {
		rl->slots = cwg_zalloc(CWG_RATELIMIT_SLOTS * sizeof(*rl->slots));
		if (!rl->slots)
			goto out;
	}
	for (i = 0; i < PROBES; i++) {
		e = &rl->slots[(h + i) & (CWG_RATELIMIT_SLOTS - 1)];
		if (e->last && e->family == key[0] &&
		    !cwg_memcmp(e->addr, key + 1, 8)) {
			uint64_t t = e->tokens + (now > e->last ? now - e->last : 0);

			e->last = now;
			e->tokens = t > TOKEN_MAX ? TOKEN_MAX : t;
			if (e->tokens >= PACKET_COST) {
				e->tokens -= PACKET_COST;
				allow = true;
			}
			goto out;
		}
		if (!victim && (!e->last || now - e->last >= ENTRY_IDLE_NS ||
				now < e->last))
			victim = e;
	}
	if (victim) {
		/* A new source starts with a full burst, this packet paid. */
		victim->last = now;
		victim->tokens = TOKEN_MAX - PACKET_COST;
		victim->family = key[0];
		cwg_memcpy(victim->addr, key + 1, 8);
		allow = true;
	}
out:
	cwg_mutex_unlock(&rl->lock);
	return allow;
}
