/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "core/ratelimiter.h"
#include "tap.h"

#define MS 1000000ULL

static struct cwg_endpoint v4(uint8_t a, uint8_t b)
{
	struct cwg_endpoint e = { .family = 4, .port = 1,
				  .addr = { 192, 0, a, b } };
	return e;
}

static int burst(struct cwg_ratelimiter *rl, const struct cwg_endpoint *e,
		 uint64_t now, int n)
{
	int allowed = 0;

	while (n--)
		allowed += cwg_ratelimiter_allow(rl, e, now);
	return allowed;
}

int main(void)
{
	static const uint8_t seed[16] = { 1, 2, 3 };
	struct cwg_ratelimiter rl;
	struct cwg_endpoint a = v4(2, 1), b = v4(2, 2), c;
	struct cwg_endpoint x6 = { .family = 6, .addr = { 0x20, 0x01, 0x0d, 0xb8 } };
	struct cwg_endpoint y6 = x6;
	uint64_t now = 1000 * MS * 1000;
	int i, n, total;

	cwg_ratelimiter_init(&rl, seed);
	ok(burst(&rl, &a, now, 10) == 5, "a new source gets a burst of 5");
	ok(burst(&rl, &b, now, 10) == 5, "another source has its own bucket");
	ok(burst(&rl, &a, now + 49 * MS, 1) == 0 &&
		   burst(&rl, &a, now + 50 * MS, 1) == 1,
	   "then one per 50 ms (20 per second)");
	total = 0;
	for (i = 1; i <= 100; i++)
		total += burst(&rl, &a, now + 50 * MS + i * 10 * MS, 3);
	ok(total == 20, "a steady flood gets 20 per second through (%d)", total);
	ok(burst(&rl, &a, now + 10000 * MS, 10) == 5,
	   "an idle source is back to a full burst");

	y6.addr[8] = 1;
	y6.addr[15] = 9; /* same /64 */
	n = burst(&rl, &x6, now, 3) + burst(&rl, &y6, now, 5);
	ok(n == 5, "IPv6 sources in one /64 share a bucket (%d)", n);
	y6.addr[7] = 2;
	ok(burst(&rl, &y6, now, 5) == 5, "another /64 does not");

	/* Fill the table with live sources: memory stays fixed, and new
	 * sources are refused rather than evicting live ones. */
	total = 0;
	for (i = 0; i < 3 * CWG_RATELIMIT_SLOTS; i++) {
		c = v4((uint8_t)(i >> 8), (uint8_t)i);
		c.addr[0] = (uint8_t)(10 + (i >> 16));
		total += cwg_ratelimiter_allow(&rl, &c, now + 20000 * MS);
	}
	ok(total <= CWG_RATELIMIT_SLOTS && total > CWG_RATELIMIT_SLOTS / 2,
	   "a flood of new sources fills at most the fixed table (%d admitted)",
	   total);
	ok(burst(&rl, &a, now + 22000 * MS, 1) == 1,
	   "a second later, stale entries make room again");
	cwg_ratelimiter_destroy(&rl);
	return done_testing();
}
