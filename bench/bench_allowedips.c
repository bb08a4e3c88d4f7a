// SPDX-License-Identifier: MIT
/*
 * Cryptokey routing table benchmark. Prints one "name value" line per
 * measurement:
 *
 *   (a) inserting 255 x 256 IPv4 /16s plus as many IPv6 /128s for one
 *       owner, and removing them again with remove_owner;
 *   (b) longest-prefix lookups of random addresses, one core, against
 *       100,000 random prefixes of random lengths over 16 owners, per
 *       family;
 *   (c) bytes allocated per stored prefix for (a), lookup tables
 *       included, and the time to build those tables.
 *
 * The bench provides cwg_zalloc/cwg_free itself to count the bytes the
 * table asks for (the library's calloc-backed ones are then not linked).
 * Counting needs a size header per block, which changes the heap layout,
 * so the lookup measurements run with plain calloc.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/allowedips.h"

static long long live_bytes;
static int counting; /* only switched while nothing is allocated */

void *cwg_zalloc(size_t size)
{
	size_t *p;

	if (!counting)
		return calloc(1, size);
	p = calloc(1, size + 16);
	if (!p)
		return NULL;
	p[0] = size;
	live_bytes += (long long)size;
	return (char *)p + 16;
}

void cwg_free(void *q)
{
	size_t *p;

	if (!q || !counting) {
		free(q);
		return;
	}
	p = (size_t *)(void *)((char *)q - 16);
	live_bytes -= (long long)p[0];
	free(p);
}

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static inline uint64_t rnd(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545f4914f6cdd1dULL;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int bench_insert(void)
{
	struct cwg_allowedips t;
	struct cwg_allowedips_owner o = { 0 };
	uint8_t a[16] = { 0 };
	long long b4;
	double t0, t1, t2;
	int i, err = 0;
	const int n = 255 * 256;

	cwg_allowedips_init(&t);
	t0 = now();
	for (i = 0; i < n; i++) {
		a[0] = (uint8_t)(1 + i / 256);
		a[1] = (uint8_t)(i % 256);
		err |= cwg_allowedips_insert(&t, 4, a, 16, &o);
	}
	t1 = now();
	b4 = live_bytes;
	for (i = 0; i < n; i++) {
		/* 2001:db8::/32 with 96 random bits. */
		cwg_put_be32(a, 0x20010db8);
		cwg_put_be64(a + 4, rnd());
		cwg_put_be32(a + 12, (uint32_t)rnd());
		err |= cwg_allowedips_insert(&t, 6, a, 128, &o);
	}
	t2 = now();
	if (err || o.count != 2u * n) {
		fprintf(stderr, "insert failed (count %u)\n", o.count);
		return 1;
	}
	printf("allowedips_insert_130560_s %.4f\n", t2 - t0);
	printf("allowedips_insert_65280_v4_s %.4f\n", t1 - t0);
	printf("allowedips_insert_65280_v6_s %.4f\n", t2 - t1);
	printf("allowedips_nodes_130560 %llu\n", (unsigned long long)t.nodes);
	printf("allowedips_nodes_per_prefix %.4f\n", (double)t.nodes / o.count);
	printf("allowedips_node_bytes_per_prefix_v4 %.2f\n", (double)b4 / n);
	printf("allowedips_node_bytes_per_prefix_v6 %.2f\n",
	       (double)(live_bytes - b4) / n);
	t0 = now();
	cwg_allowedips_optimize(&t);
	t1 = now();
	printf("allowedips_optimize_130560_s %.4f\n", t1 - t0);
	printf("allowedips_table_bytes_per_prefix %.2f\n",
	       (double)cwg_allowedips_stride_bytes(&t) / o.count);
	printf("allowedips_bytes_per_prefix %.2f\n",
	       (double)live_bytes / o.count);
	if ((uint64_t)live_bytes != cwg_allowedips_bytes(&t)) {
		fprintf(stderr, "allocated %lld bytes, the table counts %llu\n",
			live_bytes,
			(unsigned long long)cwg_allowedips_bytes(&t));
		return 1;
	}
	t0 = now();
	cwg_allowedips_remove_owner(&t, &o);
	t1 = now();
	printf("allowedips_remove_owner_130560_s %.4f\n", t1 - t0);
	cwg_allowedips_free(&t); /* the tables */
	if (t.nodes || live_bytes) {
		fprintf(stderr, "remove_owner left %llu nodes\n",
			(unsigned long long)t.nodes);
		return 1;
	}
	return 0;
}

static int bench_lookup(int family)
{
	struct cwg_allowedips t;
	struct cwg_allowedips_owner owners[16];
	int bits = family == 4 ? 32 : 128, i;
	uint8_t a[16];
	uintptr_t sink = 0;
	long long lookups = 0, hits = 0;
	double t0, t1;
	int pass;

	memset(owners, 0, sizeof(owners));
	cwg_allowedips_init(&t);
	for (i = 0; i < 100000; i++) {
		cwg_put_be64(a, rnd());
		cwg_put_be64(a + 8, rnd());
		if (cwg_allowedips_insert(&t, family, a,
					  (uint8_t)(rnd() % (uint64_t)(bits + 1)),
					  &owners[rnd() % 16])) {
			fprintf(stderr, "insert failed\n");
			return 1;
		}
	}
	printf("allowedips_random_v%d_nodes %llu\n", family,
	       (unsigned long long)t.nodes);

	for (pass = 0; pass < 2; pass++) {
		/* First the bare trie, then with the tables the device builds
		 * after each configuration change. */
		if (pass == 1) {
			t0 = now();
			cwg_allowedips_optimize(&t);
			printf("allowedips_optimize%d_s %.4f\n", family, now() - t0);
		}
		lookups = hits = 0;
		t0 = now();
		do {
			for (i = 0; i < 1 << 20; i++) {
				struct cwg_allowedips_owner *o;

				cwg_put_be64(a, rnd());
				if (family == 6)
					cwg_put_be64(a + 8, rnd());
				o = cwg_allowedips_lookup(&t, family, a);
				sink ^= (uintptr_t)o;
				hits += o != NULL;
			}
			lookups += 1 << 20;
			t1 = now();
		} while (t1 - t0 < 1.0);
		printf("allowedips_lookup%d%s_per_s %.0f\n", family,
		       pass ? "" : "_trie_only", (double)lookups / (t1 - t0));
	}
	printf("allowedips_lookup%d_hit_ratio %.3f\n", family,
	       (double)hits / (double)lookups);
	printf("allowedips_lookup%d_table_bytes_per_prefix %.1f\n", family,
	       (double)cwg_allowedips_stride_bytes(&t) / 100000);
	for (i = 0; i < 16; i++)
		cwg_allowedips_remove_owner(&t, &owners[i]);
	if (t.nodes) {
		fprintf(stderr, "leftover nodes %llu (sink %lx)\n",
			(unsigned long long)t.nodes, (unsigned long)sink);
		return 1;
	}
	return 0;
}

int main(void)
{
	counting = 1;
	if (bench_insert())
		return 1;
	counting = 0;
	if (bench_lookup(4) || bench_lookup(6))
		return 1;
	return 0;
}
