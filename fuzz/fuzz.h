/* SPDX-License-Identifier: MIT */
/*
 * The fuzz harnesses, shared by two hosts:
 *
 *   - fuzz/run.sh links each target with libFuzzer, ASan and UBSan and
 *     with fuzz/fuzz_platform.c, whose packet buffers are sized exactly so
 *     that an overrun of a packet is an ASan report rather than a silent
 *     write into the next buffer of the daemon's pool;
 *   - tests/unit/test_fuzz_regressions.c includes the same sources and
 *     replays fuzz/regressions/ and fuzz/corpus/ against build/libcwg.a
 *     and its real pool.
 *
 * Each target is a function of its input only: fresh devices, a
 * deterministic RNG and a virtual clock per input, so any failure
 * reproduces from the saved input alone. A target returns 0, or -1 after
 * recording why in fuzz_failure(); the libFuzzer entry points abort() on
 * -1 so the input is saved as a crash.
 */
#ifndef CWG_FUZZ_H
#define CWG_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cwg/cwg.h>

/* ---- provided by the host (fuzz_platform.c or the unit test) ---- */

/* A packet whose buffer is exactly headroom + len + tailroom bytes, with
 * data at buf + headroom and len set. NULL when none is available. */
struct cwg_pkt *fuzz_pkt_new(uint32_t headroom, uint32_t len,
			     uint32_t tailroom);
/* Packet buffers currently handed out (to the harness or the core). */
uint64_t fuzz_pkts_live(void);

/* ---- fuzz_common.c ---- */

/* Record a failure; always returns -1. */
int fuzz_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
const char *fuzz_failure(void);
/* cwg_crypto_init once; false if it failed. */
bool fuzz_init(void);

/* The input as a stream: reads past the end yield zeros. */
struct fuzz_in {
	const uint8_t *p;
	size_t n;
};

static inline bool fuzz_in_empty(const struct fuzz_in *in)
{
	return in->n == 0;
}

static inline uint8_t fuzz_u8(struct fuzz_in *in)
{
	uint8_t v = 0;

	if (in->n) {
		v = in->p[0];
		in->p++;
		in->n--;
	}
	return v;
}

static inline uint16_t fuzz_u16(struct fuzz_in *in)
{
	uint16_t lo = fuzz_u8(in);

	return (uint16_t)(lo | (uint16_t)fuzz_u8(in) << 8);
}

/* Copy up to n bytes (zero-filling the rest); returns how many were real. */
size_t fuzz_bytes(struct fuzz_in *in, uint8_t *dst, size_t n);

/* splitmix64: a per-device reproducible RNG (cwg_rng_fn). */
struct fuzz_rng {
	uint64_t s;
};
void fuzz_rng_fill(void *ctx, uint8_t *buf, size_t len);

/* ---- the targets ---- */

int fuzz_receive(const uint8_t *data, size_t size);
int fuzz_send(const uint8_t *data, size_t size);
int fuzz_uapi(const uint8_t *data, size_t size);
int fuzz_allowedips(const uint8_t *data, size_t size);

/* What the last fuzz_receive/fuzz_send run did, for the unit test's
 * sanity checks (a harness that silently stopped reaching the core would
 * still pass every input). */
struct fuzz_net_report {
	bool setup_ok;		  /* the in-process handshake completed */
	uint32_t ops;		  /* operations decoded from the input */
	uint32_t delivered;	  /* packets that reached a tunnel */
	uint32_t expected;	  /* fuzz_send: packets the model expected */
	uint64_t drops[CWG_DROP_MAX]; /* summed over both devices */
};
extern struct fuzz_net_report fuzz_net_last;

#ifdef CWG_LIBFUZZER
#include <stdio.h>
#include <stdlib.h>

/*
 * The libFuzzer entry points around one harness: fn returns non-zero on
 * a failed check, which becomes an abort with fuzz_failure()'s message.
 */
#define CWG_FUZZ_TARGET(fn)                                                \
	int LLVMFuzzerInitialize(int *argc, char ***argv);                 \
	int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);      \
	int LLVMFuzzerInitialize(int *argc, char ***argv)                  \
	{                                                                  \
		(void)argc;                                                \
		(void)argv;                                                \
		if (!fuzz_init())                                          \
			abort();                                           \
		return 0;                                                  \
	}                                                                  \
	int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)       \
	{                                                                  \
		if (fn(data, size)) {                                      \
			fprintf(stderr, #fn ": %s\n", fuzz_failure());     \
			abort();                                           \
		}                                                          \
		return 0;                                                  \
	}
#endif

#endif
