/* SPDX-License-Identifier: MIT */
/* What every harness shares: failure reporting, input reading, the RNG. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "crypto/crypto.h"
#include "fuzz.h"
#include "../tests/common/splitmix.h"

static char fuzz_failure_msg[512];

struct fuzz_net_report fuzz_net_last;

int fuzz_fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(fuzz_failure_msg, sizeof(fuzz_failure_msg), fmt, ap);
	va_end(ap);
	return -1;
}

const char *fuzz_failure(void)
{
	return fuzz_failure_msg;
}

bool fuzz_init(void)
{
	static int state; /* 0 not yet, 1 ok, -1 failed */

	if (!state)
		state = cwg_crypto_init() == 0 ? 1 : -1;
	return state == 1;
}

size_t fuzz_bytes(struct fuzz_in *in, uint8_t *dst, size_t n)
{
	size_t got = n < in->n ? n : in->n;

	memcpy(dst, in->p, got);
	memset(dst + got, 0, n - got);
	in->p += got;
	in->n -= got;
	return got;
}

void fuzz_rng_fill(void *ctx, uint8_t *buf, size_t len)
{
	struct fuzz_rng *r = ctx;

	splitmix64_fill(&r->s, buf, len);
}
