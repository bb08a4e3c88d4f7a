// SPDX-License-Identifier: MIT
/*
 * SipHash-2-4 against the reference vectors, and the public-key and
 * receiver-index hash tables: growth, collisions, removal.
 */
#include <string.h>

#include "core/lookup.h"
#include "tap.h"

/* SipHash-2-4 reference outputs: key 00..0f, message 00 01 .. (len-1). */
static const uint64_t sip_vectors[64] = {
	0x726fdb47dd0e0e31ULL, 0x74f839c593dc67fdULL, 0x0d6c8009d9a94f5aULL,
	0x85676696d7fb7e2dULL, 0xcf2794e0277187b7ULL, 0x18765564cd99a68dULL,
	0xcbc9466e58fee3ceULL, 0xab0200f58b01d137ULL, 0x93f5f5799a932462ULL,
	0x9e0082df0ba9e4b0ULL, 0x7a5dbbc594ddb9f3ULL, 0xf4b32f46226bada7ULL,
	0x751e8fbc860ee5fbULL, 0x14ea5627c0843d90ULL, 0xf723ca908e7af2eeULL,
	0xa129ca6149be45e5ULL, 0x3f2acc7f57c29bdbULL, 0x699ae9f52cbe4794ULL,
	0x4bc1b3f0968dd39cULL, 0xbb6dc91da77961bdULL, 0xbed65cf21aa2ee98ULL,
	0xd0f2cbb02e3b67c7ULL, 0x93536795e3a33e88ULL, 0xa80c038ccd5ccec8ULL,
	0xb8ad50c6f649af94ULL, 0xbce192de8a85b8eaULL, 0x17d835b85bbb15f3ULL,
	0x2f2e6163076bcfadULL, 0xde4daaaca71dc9a5ULL, 0xa6a2506687956571ULL,
	0xad87a3535c49ef28ULL, 0x32d892fad841c342ULL, 0x7127512f72f27cceULL,
	0xa7f32346f95978e3ULL, 0x12e0b01abb051238ULL, 0x15e034d40fa197aeULL,
	0x314dffbe0815a3b4ULL, 0x027990f029623981ULL, 0xcadcd4e59ef40c4dULL,
	0x9abfd8766a33735cULL, 0x0e3ea96b5304a7d0ULL, 0xad0c42d6fc585992ULL,
	0x187306c89bc215a9ULL, 0xd4a60abcf3792b95ULL, 0xf935451de4f21df2ULL,
	0xa9538f0419755787ULL, 0xdb9acddff56ca510ULL, 0xd06c98cd5c0975ebULL,
	0xe612a3cb9ecba951ULL, 0xc766e62cfcadaf96ULL, 0xee64435a9752fe72ULL,
	0xa192d576b245165aULL, 0x0a8787bf8ecb74b2ULL, 0x81b3e73d20b49b6fULL,
	0x7fa8220ba3b2eceaULL, 0x245731c13ca42499ULL, 0xb78dbfaf3a8d83bdULL,
	0xea1ad565322a1a0bULL, 0x60e61c23a3795013ULL, 0x6606d7e446282b93ULL,
	0x6ca4ecb15c5f91e1ULL, 0x9f626da15c9625f3ULL, 0xe51b38608ef25f57ULL,
	0x958a324ceb064572ULL,
};

static uint64_t rng_state;

static uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

static void test_siphash(void)
{
	uint64_t key[2] = { 0x0706050403020100ULL, 0x0f0e0d0c0b0a0908ULL };
	uint64_t key2[2] = { key[0] ^ 1, key[1] };
	uint8_t msg[64];
	int i, bad = 0;

	for (i = 0; i < 64; i++)
		msg[i] = (uint8_t)i;
	for (i = 0; i < 64; i++) {
		if (cwg_siphash24(key, msg, (size_t)i) != sip_vectors[i]) {
			diag("siphash length %d: got %016llx", i,
			     (unsigned long long)cwg_siphash24(key, msg,
							       (size_t)i));
			bad++;
		}
	}
	ok(bad == 0, "SipHash-2-4: 64 reference vectors (lengths 0..63)");
	ok(cwg_siphash24(key2, msg, 32) != cwg_siphash24(key, msg, 32),
	   "a different key gives a different hash");
}

static void rand_bytes(uint8_t *p, size_t n)
{
	while (n--)
		*p++ = (uint8_t)rnd();
}

static unsigned int max_chain_pk(const struct cwg_pubkey_table *t)
{
	unsigned int max = 0, n;
	uint32_t b;
	struct cwg_hash_entry *e;

	for (b = 0; b <= t->ht.mask; b++) {
		for (n = 0, e = t->ht.buckets[b]; e; e = e->next)
			n++;
		if (n > max)
			max = n;
	}
	return max;
}

#define NPK 5000

static void test_pubkey(void)
{
	static struct cwg_pubkey_entry e[NPK];
	struct cwg_pubkey_table t;
	uint8_t seed[16], probe[32];
	int i, bad_find = 0, bad_add = 0, bad_absent = 0, load_bad = 0;
	uint32_t first_buckets;

	rand_bytes(seed, sizeof(seed));
	ok(cwg_pubkey_table_init(&t, seed) == 0, "pubkey table init");
	first_buckets = t.ht.mask + 1;
	ok(first_buckets >= 1 && (first_buckets & t.ht.mask) == 0 && t.ht.count == 0,
	   "starts with %u buckets (a power of two), empty", first_buckets);
	rand_bytes(probe, sizeof(probe));
	ok(!cwg_pubkey_table_find(&t, probe), "find on empty table: NULL");
	for (i = 0; i < NPK; i++) {
		rand_bytes(e[i].pubkey, 32);
		/* Make keys distinct regardless of the generator. */
		cwg_put_le32(e[i].pubkey, (uint32_t)i);
		if (cwg_pubkey_table_add(&t, &e[i]))
			bad_add++;
		if (t.ht.count > t.ht.mask + 1)
			load_bad++;
	}
	ok(bad_add == 0 && t.ht.count == NPK, "added %d keys", NPK);
	ok(load_bad == 0 && t.ht.mask + 1 >= NPK && t.ht.mask + 1 < 2 * 8192 &&
		   ((t.ht.mask + 1) & t.ht.mask) == 0,
	   "grew by doubling to %u buckets, load factor <= 1 throughout",
	   t.ht.mask + 1);
	for (i = 0; i < NPK; i++)
		if (cwg_pubkey_table_find(&t, e[i].pubkey) != &e[i])
			bad_find++;
	ok(bad_find == 0, "every key finds its own entry");
	for (i = 0; i < 1000; i++) {
		rand_bytes(probe, 32);
		cwg_put_le32(probe, (uint32_t)(NPK + i));
		if (cwg_pubkey_table_find(&t, probe))
			bad_absent++;
	}
	memcpy(probe, e[7].pubkey, 32);
	probe[31] ^= 1;
	ok(bad_absent == 0 && !cwg_pubkey_table_find(&t, probe),
	   "absent keys (including a one-bit neighbour) are not found");
	ok(max_chain_pk(&t) <= 12, "longest chain %u", max_chain_pk(&t));

	for (i = 0; i < NPK; i += 2)
		cwg_pubkey_table_remove(&t, &e[i]);
	bad_find = 0;
	for (i = 0; i < NPK; i++)
		if (cwg_pubkey_table_find(&t, e[i].pubkey) !=
		    (i % 2 ? &e[i] : NULL))
			bad_find++;
	ok(bad_find == 0 && t.ht.count == NPK / 2,
	   "removed the even half: they are gone, the odd half stays");
	ok(cwg_pubkey_table_add(&t, &e[0]) == 0 &&
		   cwg_pubkey_table_find(&t, e[0].pubkey) == &e[0],
	   "a removed entry can be added again");
	cwg_pubkey_table_free(&t);
	ok(!t.ht.buckets && t.ht.count == 0, "free clears the table");
}

#define NIDX 10000

static void test_index(void)
{
	static struct cwg_index_entry e[NIDX];
	struct cwg_index_entry dup, zero, ones;
	struct cwg_index_table t;
	uint8_t seed[16];
	int i, bad = 0, collisions = 0, inserted = 0, load_bad = 0;

	rand_bytes(seed, sizeof(seed));
	ok(cwg_index_table_init(&t, seed) == 0, "index table init");
	ok(!cwg_index_table_find(&t, 1234), "find on empty table: NULL");
	for (i = 0; i < NIDX; i++) {
		int r;

		/* A small index space so random draws collide. */
		e[i].index = (uint32_t)(rnd() % 40000);
		r = cwg_index_table_insert(&t, &e[i]);
		if (r == -CWG_EEXIST)
			collisions++;
		else if (r == 0)
			inserted++;
		else
			bad++;
		if (t.ht.count > t.ht.mask + 1)
			load_bad++;
	}
	ok(bad == 0 && collisions > 0 && inserted + collisions == NIDX &&
		   t.ht.count == (uint32_t)inserted,
	   "%d inserted, %d refused as taken", inserted, collisions);
	ok(load_bad == 0 && t.ht.mask + 1 >= (uint32_t)inserted,
	   "grew to %u buckets, load factor <= 1", t.ht.mask + 1);
	bad = 0;
	for (i = 0; i < NIDX; i++) {
		struct cwg_index_entry *f = cwg_index_table_find(&t,
								 e[i].index);

		/* A refused entry's index belongs to an earlier entry. */
		if (!f || f->index != e[i].index || f > &e[i])
			bad++;
	}
	ok(bad == 0, "every index finds its first holder");
	dup.index = e[0].index;
	ok(cwg_index_table_insert(&t, &dup) == -CWG_EEXIST &&
		   cwg_index_table_find(&t, dup.index) == &e[0] &&
		   t.ht.count == (uint32_t)inserted,
	   "inserting a taken index returns -EEXIST and changes nothing");
	zero.index = 0;
	ones.index = 0xffffffffu;
	if (cwg_index_table_find(&t, 0))
		cwg_index_table_remove(&t, cwg_index_table_find(&t, 0));
	if (cwg_index_table_find(&t, 0xffffffffu))
		cwg_index_table_remove(&t, cwg_index_table_find(&t, 0xffffffffu));
	ok(cwg_index_table_insert(&t, &zero) == 0 &&
		   cwg_index_table_insert(&t, &ones) == 0 &&
		   cwg_index_table_find(&t, 0) == &zero &&
		   cwg_index_table_find(&t, 0xffffffffu) == &ones,
	   "indices 0 and 0xffffffff work");

	cwg_index_table_remove(&t, &e[0]);
	ok(!cwg_index_table_find(&t, e[0].index), "removed index not found");
	dup.index = e[0].index;
	ok(cwg_index_table_insert(&t, &dup) == 0 &&
		   cwg_index_table_find(&t, dup.index) == &dup,
	   "a freed index can be taken again");
	bad = 0;
	for (i = 0; i < NIDX; i++) {
		struct cwg_index_entry *f = cwg_index_table_find(&t,
								 e[i].index);

		if (f == &e[i])
			cwg_index_table_remove(&t, &e[i]);
	}
	cwg_index_table_remove(&t, &dup);
	cwg_index_table_remove(&t, &zero);
	cwg_index_table_remove(&t, &ones);
	for (i = 0; i < NIDX; i++)
		if (cwg_index_table_find(&t, e[i].index))
			bad++;
	ok(bad == 0 && t.ht.count == 0, "all removed: table empty");
	cwg_index_table_free(&t);
}

int main(void)
{
	const char *env = getenv("CWG_SEED");
	uint64_t seed = env ? strtoull(env, NULL, 0) : 20240521;

	diag("seed %llu (set CWG_SEED to change)", (unsigned long long)seed);
	rng_state = seed ? seed : 1;
	test_siphash();
	test_pubkey();
	test_index();
	return done_testing();
}
