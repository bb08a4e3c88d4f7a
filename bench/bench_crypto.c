// SPDX-License-Identifier: MIT
/*
 * Throughput of the crypto layer on one thread: the data path (seal and
 * open of 1420-byte packets, WireGuard's default MTU payload) and the
 * handshake primitives. Prints one "name value" line per measurement for
 * scripts; MB is 10^6 bytes of payload (not counting the tag), which is
 * the unit `openssl speed` uses (its k = 1000 bytes).
 *
 * Usage: bench_crypto [seconds per measurement, default 1]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto/crypto.h"

#define PKT_LEN 1420

static double clock_s(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double bench_seconds = 1.0;

/* Keeps the optimiser from discarding results. */
static volatile uint8_t sink;

/*
 * Wall time is what the figures are; CPU time of this thread is printed
 * beside the packet figures because on a shared machine it is the steadier
 * of the two (it leaves out time spent descheduled).
 */
struct result {
	unsigned long ops;
	double secs, cpu_secs;
};

/* Runs op in batches until the time is up; op returns false on error. */
static struct result run(bool (*op)(unsigned long i), unsigned long batch)
{
	struct result r = { 0, 0, 0 };
	double start = clock_s(CLOCK_MONOTONIC);
	double cpu_start = clock_s(CLOCK_THREAD_CPUTIME_ID);
	unsigned long i;

	do {
		for (i = 0; i < batch; i++) {
			if (!op(r.ops + i)) {
				fprintf(stderr, "bench: operation failed\n");
				exit(1);
			}
		}
		r.ops += batch;
		r.secs = clock_s(CLOCK_MONOTONIC) - start;
	} while (r.secs < bench_seconds);
	r.cpu_secs = clock_s(CLOCK_THREAD_CPUTIME_ID) - cpu_start;
	return r;
}

static uint8_t key[CWG_KEY_LEN], pkt[PKT_LEN + CWG_AEAD_TAG_LEN];
static uint8_t sealed[PKT_LEN + CWG_AEAD_TAG_LEN], opened[PKT_LEN];
static uint8_t priv[CWG_KEY_LEN], peer_pub[CWG_KEY_LEN], shared[CWG_KEY_LEN];
static uint8_t ck[CWG_HASH_LEN];

static bool op_seal(unsigned long i)
{
	/* In place with a fresh counter, as the send path does. */
	cwg_aead_seal(pkt, pkt, PKT_LEN, NULL, 0, i, key);
	sink ^= pkt[0];
	return true;
}

static bool op_open(unsigned long i)
{
	(void)i;
	return cwg_aead_open(opened, sealed, sizeof(sealed), NULL, 0, 0, key);
}

static bool op_x25519(unsigned long i)
{
	priv[0] ^= (uint8_t)i;
	return cwg_x25519(shared, priv, peer_pub);
}

static bool op_x25519_public(unsigned long i)
{
	priv[1] ^= (uint8_t)i;
	return cwg_x25519_public(shared, priv);
}

static bool op_kdf3(unsigned long i)
{
	uint8_t t1[CWG_HASH_LEN], t2[CWG_HASH_LEN];

	(void)i;
	cwg_kdf(ck, t1, t2, ck, sizeof(ck), shared, sizeof(shared));
	sink ^= t2[0];
	return true;
}

static bool op_mac1(unsigned long i)
{
	/* mac1: keyed BLAKE2s-128 over a 116-byte initiation prefix. */
	uint8_t mac[CWG_COOKIE_LEN];

	(void)i;
	cwg_blake2s(mac, sizeof(mac), key, sizeof(key), pkt, 116, NULL, 0);
	sink ^= mac[0];
	return true;
}

static void report_packets(const char *name, struct result r)
{
	printf("%s_%d_ns %.1f\n", name, PKT_LEN, r.secs * 1e9 / (double)r.ops);
	printf("%s_%d_MBps %.1f\n", name, PKT_LEN,
	       (double)r.ops * PKT_LEN / r.secs / 1e6);
	printf("%s_%d_cpu_ns %.1f\n", name, PKT_LEN,
	       r.cpu_secs * 1e9 / (double)r.ops);
}

static void report_ops(const char *name, struct result r)
{
	printf("%s_ops_per_s %.0f\n", name, (double)r.ops / r.secs);
}

int main(int argc, char **argv)
{
	uint8_t peer_priv[CWG_KEY_LEN];

	if (argc > 1) {
		bench_seconds = strtod(argv[1], NULL);
		if (!(bench_seconds > 0))
			bench_seconds = 1.0;
	}
	if (cwg_crypto_init()) {
		fprintf(stderr, "bench: cwg_crypto_init failed\n");
		return 1;
	}
	cwg_random(key, sizeof(key));
	cwg_random(pkt, sizeof(pkt));
	cwg_random(priv, sizeof(priv));
	cwg_random(peer_priv, sizeof(peer_priv));
	cwg_x25519_clamp(peer_priv);
	if (!cwg_x25519_public(peer_pub, peer_priv))
		return 1;
	cwg_aead_seal(sealed, pkt, PKT_LEN, NULL, 0, 0, key);

	report_packets("seal", run(op_seal, 1000));
	report_packets("open", run(op_open, 1000));
	report_ops("x25519", run(op_x25519, 100));
	report_ops("x25519_public", run(op_x25519_public, 100));
	report_ops("kdf3", run(op_kdf3, 1000));
	report_ops("mac1_blake2s128", run(op_mac1, 1000));
	cwg_wipe(key, sizeof(key));
	cwg_wipe(priv, sizeof(priv));
	cwg_wipe(peer_priv, sizeof(peer_priv));
	return 0;
}
