// SPDX-License-Identifier: MIT
/*
 * Cryptokey routing table: directed cases, then a randomized differential
 * test against a plain array scanned for the longest match.
 *
 * This file provides cwg_zalloc/cwg_free itself (so the library's
 * src/linux/platform.o is not linked in): the allocator counts live blocks
 * and bytes, which catches leaks independently of the table's own node
 * counter, and can be told to fail, which exercises the out-of-memory
 * paths.
 */
#include <string.h>

#include "core/allowedips.h"
#include "tap.h"

/* test_allowedips_chunks.c includes this file with tiny chunks. */
#ifdef CWG_ALLOWEDIPS_CHUNK_NODES_SHIFT
#define TINY_CHUNKS 1
#else
#define TINY_CHUNKS 0
#endif

/* Allocator with accounting and fault injection. */

static long live_allocs;
static long live_bytes;
static int fail_every; /* 0: never fail; n: fail one call in n (random) */
static long fail_next = -1; /* >= 0: fail when this many calls remain */

static uint64_t rng_state;

static uint64_t rnd(void)
{
	/* xorshift64*: good enough for test data, reproducible by seed. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

static uint32_t rndn(uint32_t n)
{
	return (uint32_t)((rnd() >> 32) % n);
}

void *cwg_zalloc(size_t size)
{
	size_t *p;

	if (fail_next >= 0 && fail_next-- == 0)
		return NULL;
	if (fail_every && rndn((uint32_t)fail_every) == 0)
		return NULL;
	p = calloc(1, size + 16);
	if (!p)
		return NULL;
	p[0] = size;
	live_allocs++;
	live_bytes += (long)size;
	return (char *)p + 16;
}

void cwg_free(void *q)
{
	size_t *p;

	if (!q)
		return;
	p = (size_t *)(void *)((char *)q - 16);
	live_allocs--;
	live_bytes -= (long)p[0];
	free(p);
}

/* Helpers. */

static void ip4(uint8_t *a, int b0, int b1, int b2, int b3)
{
	a[0] = (uint8_t)b0;
	a[1] = (uint8_t)b1;
	a[2] = (uint8_t)b2;
	a[3] = (uint8_t)b3;
}

static void ip6(uint8_t *a, const char *hex)
{
	if (hex_decode(a, 16, hex) != 16)
		abort();
}

struct walked {
	int n;
	int fam[64];
	uint8_t addr[64][16];
	uint8_t cidr[64];
};

static int collect(void *ctx, int family, const uint8_t *addr, uint8_t cidr)
{
	struct walked *w = ctx;

	if (w->n >= 64)
		return -7;
	w->fam[w->n] = family;
	memcpy(w->addr[w->n], addr, 16);
	w->cidr[w->n] = cidr;
	w->n++;
	return 0;
}

static int stop_at_second(void *ctx, int family, const uint8_t *addr,
			  uint8_t cidr)
{
	int *calls = ctx;

	(void)family;
	(void)addr;
	(void)cidr;
	return ++*calls == 2 ? 42 : 0;
}

/* The v4 stores' counts: full << 16 | leaf << 8 | branch. */
static unsigned int shapes4(const struct cwg_allowedips *t)
{
	return t->store[2].count << 16 | t->store[1].count << 8 |
	       t->store[0].count;
}

static struct cwg_allowedips_owner *lk4(struct cwg_allowedips *t, int b0,
					int b1, int b2, int b3)
{
	uint8_t a[4];

	ip4(a, b0, b1, b2, b3);
	return cwg_allowedips_lookup(t, 4, a);
}

static struct cwg_allowedips_owner *lk6(struct cwg_allowedips *t,
					const char *hex)
{
	uint8_t a[16];

	ip6(a, hex);
	return cwg_allowedips_lookup(t, 6, a);
}

static int ins4(struct cwg_allowedips *t, int b0, int b1, int b2, int b3,
		int cidr, struct cwg_allowedips_owner *o)
{
	uint8_t a[4];

	ip4(a, b0, b1, b2, b3);
	return cwg_allowedips_insert(t, 4, a, (uint8_t)cidr, o);
}

static int rm4(struct cwg_allowedips *t, int b0, int b1, int b2, int b3,
	       int cidr, struct cwg_allowedips_owner *o)
{
	uint8_t a[4];

	ip4(a, b0, b1, b2, b3);
	return cwg_allowedips_remove(t, 4, a, (uint8_t)cidr, o);
}

static int ins6(struct cwg_allowedips *t, const char *hex, int cidr,
		struct cwg_allowedips_owner *o)
{
	uint8_t a[16];

	ip6(a, hex);
	return cwg_allowedips_insert(t, 6, a, (uint8_t)cidr, o);
}

static void test_directed(void)
{
	struct cwg_allowedips t;
	struct cwg_allowedips_owner a = { 0 }, b = { 0 }, c = { 0 }, d = { 0 };
	struct walked w;
	uint8_t x[16];
	int calls, i, bad;

	cwg_allowedips_init(&t);
	ok(!lk4(&t, 1, 2, 3, 4) && !lk6(&t, "20010db8000000000000000000000001"),
	   "empty table matches nothing");

	/* Normalization. */
	ok(ins4(&t, 10, 1, 2, 3, 8, &a) == 0, "insert 10.1.2.3/8");
	memset(&w, 0, sizeof(w));
	cwg_allowedips_walk(&t, &a, collect, &w);
	ip4(x, 10, 0, 0, 0);
	ok(w.n == 1 && w.fam[0] == 4 && w.cidr[0] == 8 &&
		   !memcmp(w.addr[0], x, 4),
	   "10.1.2.3/8 is stored as 10.0.0.0/8");
	ok(lk4(&t, 10, 255, 0, 1) == &a && !lk4(&t, 11, 0, 0, 0),
	   "/8 matches inside, not outside");
	ok(rm4(&t, 10, 9, 9, 9, 8, &a) == 0 && a.count == 0 && !a.head,
	   "remove by un-normalized 10.9.9.9/8");
	ok(t.nodes == 0 && !t.root4, "trie empty again");

	/* Default routes, nested and adjacent prefixes. */
	ok(ins4(&t, 0, 0, 0, 0, 0, &a) == 0 && ins4(&t, 10, 0, 0, 0, 8, &b) == 0,
	   "insert 0.0.0.0/0 and 10.0.0.0/8");
	ok(lk4(&t, 1, 1, 1, 1) == &a && lk4(&t, 255, 255, 255, 255) == &a &&
		   lk4(&t, 10, 1, 1, 1) == &b,
	   "/0 catches everything not more specific");
	ok(!lk6(&t, "00000000000000000000000000000000"),
	   "v4 /0 does not match IPv6");
	ok(ins4(&t, 10, 1, 0, 0, 16, &c) == 0 &&
		   ins4(&t, 10, 1, 1, 0, 24, &d) == 0 &&
		   ins4(&t, 10, 1, 1, 7, 32, &a) == 0,
	   "insert nested /16 /24 /32");
	ok(lk4(&t, 10, 1, 1, 7) == &a && lk4(&t, 10, 1, 1, 8) == &d &&
		   lk4(&t, 10, 1, 2, 1) == &c && lk4(&t, 10, 2, 0, 0) == &b,
	   "each nesting level wins for its own range");
	ok(rm4(&t, 10, 1, 0, 0, 16, &c) == 0, "remove the middle /16");
	ok(lk4(&t, 10, 1, 2, 1) == &b && lk4(&t, 10, 1, 1, 8) == &d,
	   "after removing /16: /8 and /24 still answer");
	ok(ins4(&t, 192, 168, 0, 0, 25, &c) == 0 &&
		   ins4(&t, 192, 168, 0, 128, 25, &d) == 0,
	   "insert adjacent /25s");
	ok(lk4(&t, 192, 168, 0, 127) == &c && lk4(&t, 192, 168, 0, 128) == &d &&
		   lk4(&t, 192, 168, 1, 0) == &a,
	   "adjacent /25s split at .128, outside falls to /0");

	/* Moving a prefix; removal by the old owner is a no-op. */
	ok(ins4(&t, 192, 168, 0, 0, 25, &b) == 0, "move 192.168.0.0/25 to b");
	ok(lk4(&t, 192, 168, 0, 1) == &b && c.count == 0 && !c.head,
	   "moved prefix routes to b and left c's list");
	ok(rm4(&t, 192, 168, 0, 0, 25, &c) == 1 &&
		   lk4(&t, 192, 168, 0, 1) == &b,
	   "remove by the previous owner is a no-op");
	ok(rm4(&t, 192, 168, 0, 0, 24, &b) == 1 &&
		   rm4(&t, 192, 168, 0, 0, 26, &b) == 1,
	   "remove of a covering or covered prefix that is not stored: 1");
	ok(ins4(&t, 192, 168, 0, 0, 25, &b) == 0 && b.count == 2,
	   "re-insert by the same owner does not duplicate");

	/* Bad arguments. */
	ok(ins4(&t, 1, 2, 3, 4, 33, &a) == -CWG_EINVAL &&
		   rm4(&t, 1, 2, 3, 4, 33, &a) == -CWG_EINVAL,
	   "v4 cidr 33 rejected");
	ip6(x, "20010db8000000000000000000000000");
	ok(cwg_allowedips_insert(&t, 6, x, 129, &a) == -CWG_EINVAL &&
		   cwg_allowedips_insert(&t, 5, x, 8, &a) == -CWG_EINVAL &&
		   cwg_allowedips_remove(&t, 7, x, 8, &a) == -CWG_EINVAL &&
		   !cwg_allowedips_lookup(&t, 5, x),
	   "v6 cidr 129 and unknown families rejected");

	/* remove_owner leaves the others intact. */
	cwg_allowedips_remove_owner(&t, &a);
	ok(!a.head && a.count == 0 && !lk4(&t, 1, 1, 1, 1) &&
		   lk4(&t, 10, 1, 1, 7) == &d && lk4(&t, 192, 168, 0, 1) == &b,
	   "remove_owner(a) removes /0 and /32 only");
	cwg_allowedips_remove_owner(&t, &b);
	cwg_allowedips_remove_owner(&t, &c);
	cwg_allowedips_remove_owner(&t, &d);
	ok(t.nodes == 0 && !t.root4 && live_allocs == 0,
	   "all owners removed: no nodes, no live allocations");

	/* v4 versus v4-mapped IPv6. */
	ins4(&t, 192, 0, 2, 0, 24, &a);
	ok(!lk6(&t, "00000000000000000000ffffc0000201"),
	   "v4-mapped address does not match a v4 prefix");
	ok(ins6(&t, "00000000000000000000ffff00000000", 96, &b) == 0,
	   "insert ::ffff:0:0/96");
	ok(lk6(&t, "00000000000000000000ffffc0000201") == &b &&
		   lk4(&t, 192, 0, 2, 1) == &a && !lk4(&t, 10, 0, 0, 1),
	   "::ffff:0:0/96 answers v6 only");
	ok(ins6(&t, "00000000000000000000000000000000", 0, &c) == 0 &&
		   ins6(&t, "20010db8000000000000000000000001", 128, &d) == 0,
	   "insert ::/0 and a /128");
	ok(lk6(&t, "20010db8000000000000000000000001") == &d &&
		   lk6(&t, "20010db8000000000000000000000000") == &c &&
		   lk6(&t, "20010db8000000000000000000000003") == &c &&
		   !lk4(&t, 32, 1, 13, 184),
	   "/128 matches only itself, ::/0 the rest, v4 none");

	/* Walk order and early stop, mixing families in one list. */
	ins6(&t, "fd000000000000000000000000000000", 8, &a);
	ins4(&t, 172, 16, 0, 0, 12, &a);
	ins4(&t, 192, 0, 2, 0, 24, &a); /* again: keeps its place */
	memset(&w, 0, sizeof(w));
	ok(cwg_allowedips_walk(&t, &a, collect, &w) == 0 && w.n == 3 &&
		   w.fam[0] == 4 && w.cidr[0] == 24 && w.fam[1] == 6 &&
		   w.cidr[1] == 8 && w.addr[1][0] == 0xfd && w.fam[2] == 4 &&
		   w.cidr[2] == 12 && w.addr[2][0] == 172 && a.count == 3,
	   "walk yields insertion order across families");
	calls = 0;
	ok(cwg_allowedips_walk(&t, &a, stop_at_second, &calls) == 42 && calls == 2,
	   "walk stops early with the callback's value");
	cwg_allowedips_remove_owner(&t, &a);
	ok(lk6(&t, "fd000000000000000000000000000001") == &c,
	   "after remove_owner fd00::/8 falls to ::/0");
	cwg_allowedips_free(&t);
	ok(t.nodes == 0 && live_allocs == 0, "free releases every node");
	/* free leaves owners' lists dangling, by contract. */
	b.head = c.head = d.head = 0;
	b.count = c.count = d.count = 0;

	/* Nodes shrink back to the smaller shape when they lose their
	 * children or their owner (counted per store: v4 branch, leaf,
	 * full). */
	{
		ins4(&t, 10, 0, 0, 0, 8, &a);
		ins4(&t, 10, 1, 0, 0, 16, &b);
		ok(shapes4(&t) == 0x010100,
		   "a leaf that gains a child becomes a full node");
		rm4(&t, 10, 1, 0, 0, 16, &b);
		ok(shapes4(&t) == 0x000100 && t.nodes == 1,
		   "a prefix node that loses its last child shrinks back");
		rm4(&t, 10, 0, 0, 0, 8, &a);
		ins4(&t, 10, 0, 0, 0, 16, &b);
		ins4(&t, 10, 128, 0, 0, 16, &c);
		ok(shapes4(&t) == 0x000201, "two /16s: two leaves, a branch");
		ins4(&t, 10, 0, 0, 0, 8, &a);
		ok(shapes4(&t) == 0x010200 && lk4(&t, 10, 0, 0, 1) == &b &&
			   lk4(&t, 10, 128, 0, 1) == &c &&
			   lk4(&t, 10, 64, 0, 1) == &a,
		   "a prefix landing on a branch node takes it over");
		rm4(&t, 10, 0, 0, 0, 8, &a);
		ok(shapes4(&t) == 0x000201 && !lk4(&t, 10, 64, 0, 1),
		   "a prefix node with two children becomes a branch again");
		cwg_allowedips_remove_owner(&t, &b);
		cwg_allowedips_remove_owner(&t, &c);
		ok(t.nodes == 0 && live_allocs == 0, "and everything goes");
	}

	/* Out of memory: a failed insert changes nothing. */
	cwg_allowedips_init(&t);
	fail_next = 0;
	ok(ins4(&t, 10, 0, 0, 0, 8, &a) == -CWG_ENOMEM && t.nodes == 0 &&
		   !a.head && live_allocs == 0,
	   "insert into empty trie: -2 on OOM, nothing changed, no leak");
	ins4(&t, 10, 0, 0, 0, 8, &a);
	fail_next = 0;
	ok(ins4(&t, 10, 1, 0, 0, 16, &b) == -CWG_ENOMEM && t.nodes == 1 &&
		   lk4(&t, 10, 1, 0, 0) == &a && !b.head,
	   "leaf growing a child: -2 on OOM, nothing changed");
	fail_next = 1;
	ok(ins4(&t, 10, 1, 0, 0, 16, &b) == -CWG_ENOMEM && t.nodes == 1 &&
		   !b.head,
	   "second allocation failing: -2, no leak");
	ok(live_bytes == (long)cwg_allowedips_bytes(&t),
	   "the table accounts for every byte it holds");
	ins4(&t, 10, 1, 0, 0, 16, &b);
	ins4(&t, 10, 2, 0, 0, 16, &c);
	fail_next = 0;
	ok(rm4(&t, 10, 0, 0, 0, 8, &a) == 0 && !lk4(&t, 10, 3, 0, 0) &&
		   lk4(&t, 10, 1, 0, 1) == &b && lk4(&t, 10, 2, 0, 1) == &c,
	   "remove works while allocations fail");
	fail_next = -1;
	ok(rm4(&t, 10, 1, 0, 0, 16, &b) == 0 && t.nodes == 1 &&
		   lk4(&t, 10, 2, 255, 255) == &c,
	   "and then removes the rest");
	cwg_allowedips_remove_owner(&t, &c);
	ok(t.nodes == 0 && live_allocs == 0, "OOM paths leak nothing");

	/* Replacing an owner's prefixes: kept ones never stop routing. */
	ins4(&t, 10, 0, 0, 0, 8, &a);
	ins4(&t, 10, 1, 0, 0, 16, &a);
	ins4(&t, 192, 0, 2, 0, 24, &a);
	ins6(&t, "fd000000000000000000000000000000", 8, &a);
	cwg_allowedips_mark_owner(&t, &a);
	ok(lk4(&t, 10, 1, 0, 1) == &a && lk4(&t, 192, 0, 2, 1) == &a &&
		   a.count == 4,
	   "marking changes no lookup");
	ins4(&t, 192, 0, 2, 0, 24, &a);
	ins4(&t, 10, 0, 0, 0, 8, &a);
	ins4(&t, 172, 16, 0, 0, 12, &a);
	ins4(&t, 10, 1, 0, 0, 16, &b); /* taken by b meanwhile */
	cwg_allowedips_sweep_owner(&t, &a);
	memset(&w, 0, sizeof(w));
	cwg_allowedips_walk(&t, &a, collect, &w);
	ok(a.count == 3 && w.n == 3 && w.cidr[0] == 24 && w.cidr[1] == 8 &&
		   w.cidr[2] == 12 && lk4(&t, 10, 1, 0, 1) == &b &&
		   !lk6(&t, "fd000000000000000000000000000001"),
	   "sweep removes the prefixes not sent again; the rest in the "
	   "order sent");
	cwg_allowedips_sweep_owner(&t, &a);
	ok(a.count == 3, "a second sweep removes nothing");
	cwg_allowedips_remove_owner(&t, &a);
	cwg_allowedips_remove_owner(&t, &b);
	ok(t.nodes == 0 && live_allocs == 0, "replacement leaks nothing");

	/* Memory per prefix: 255 x 256 IPv4 /16s plus as many IPv6 /128s. */
	cwg_allowedips_init(&t);
	memset(&a, 0, sizeof(a));
	bad = 0;
	for (i = 0; i < 255 * 256; i++) {
		bad |= ins4(&t, 1 + i / 256, i % 256, 0, 0, 16, &a);
		memset(x, 0, 16);
		x[0] = 0x20;
		x[1] = 0x01;
		cwg_put_be32(x + 12, (uint32_t)rnd());
		cwg_put_be32(x + 8, (uint32_t)i);
		bad |= cwg_allowedips_insert(&t, 6, x, 128, &a);
	}
	ok(!bad && a.count == 2 * 255 * 256, "130560 inserts");
	cwg_allowedips_optimize(&t);
	diag("nodes %llu for %u prefixes (%.3f nodes/prefix), %.1f bytes/prefix "
	     "(%.1f of them lookup tables)",
	     (unsigned long long)t.nodes, a.count, (double)t.nodes / a.count,
	     (double)live_bytes / a.count,
	     (double)cwg_allowedips_stride_bytes(&t) / a.count);
	ok(t.stride4 && t.stride6 &&
		   live_bytes == (long)cwg_allowedips_bytes(&t) &&
		   (TINY_CHUNKS || live_bytes <= 64L * a.count),
	   "at most 64 bytes per stored prefix, lookup tables included");
	cwg_allowedips_remove_owner(&t, &a);
	cwg_allowedips_free(&t); /* the tables outlive the nodes */
	ok(t.nodes == 0 && live_allocs == 0 && !t.root4 && !t.root6,
	   "remove_owner of 130560 prefixes frees everything");
}

/* The reference: a flat array of prefixes. */

#define NOWNERS 16
#define POOL 24

struct ref {
	int fam;
	uint8_t addr[16];
	uint8_t cidr;
	int owner;
	uint64_t seq; /* position in the owner's list */
	bool marked;  /* in a replacement, not yet inserted again */
};

static struct ref *refs;
static size_t nrefs, caprefs;
static uint64_t seq_counter;
static uint8_t pool[2][POOL][16];

static int fam_bits(int fam)
{
	return fam == 4 ? 32 : 128;
}

static void normalize(uint8_t *a, int fam, int cidr)
{
	int i, bytes = fam_bits(fam) / 8;

	for (i = 0; i < bytes; i++) {
		int keep = cidr - 8 * i;

		if (keep <= 0)
			a[i] = 0;
		else if (keep < 8)
			a[i] &= (uint8_t)(0xff << (8 - keep));
	}
	for (; i < 16; i++)
		a[i] = 0;
}

static int prefix_contains(const struct ref *r, const uint8_t *a)
{
	uint8_t tmp[16];

	memcpy(tmp, a, 16);
	normalize(tmp, r->fam, r->cidr);
	return !memcmp(tmp, r->addr, 16);
}

static struct ref *ref_find(int fam, const uint8_t *a, int cidr)
{
	size_t i;

	for (i = 0; i < nrefs; i++)
		if (refs[i].fam == fam && refs[i].cidr == cidr &&
		    !memcmp(refs[i].addr, a, 16))
			return &refs[i];
	return NULL;
}

static void ref_insert(int fam, const uint8_t *a, int cidr, int owner)
{
	struct ref *r = ref_find(fam, a, cidr);

	if (r) {
		/* Moved, or sent again in a replacement: to the end. */
		if (r->owner != owner || r->marked) {
			r->owner = owner;
			r->seq = ++seq_counter;
		}
		r->marked = false;
		return;
	}
	if (nrefs == caprefs) {
		caprefs = caprefs ? caprefs * 2 : 256;
		refs = realloc(refs, caprefs * sizeof(*refs));
		if (!refs)
			abort();
	}
	r = &refs[nrefs++];
	r->fam = fam;
	memcpy(r->addr, a, 16);
	r->cidr = (uint8_t)cidr;
	r->owner = owner;
	r->seq = ++seq_counter;
	r->marked = false;
}

static void ref_del(struct ref *r)
{
	*r = refs[--nrefs];
}

static int ref_lookup(int fam, const uint8_t *a, int *matched_cidr)
{
	int best = -1, best_cidr = -1;
	size_t i;

	for (i = 0; i < nrefs; i++)
		if (refs[i].fam == fam && refs[i].cidr > best_cidr &&
		    prefix_contains(&refs[i], a)) {
			best = refs[i].owner;
			best_cidr = refs[i].cidr;
		}
	*matched_cidr = best_cidr;
	return best;
}

/* Addresses near the pool so that prefixes overlap heavily. */
static void gen_addr(uint8_t *a, int fam)
{
	int bits = fam_bits(fam), i, from;

	memset(a, 0, 16);
	memcpy(a, pool[fam == 6][rndn(POOL)], 16);
	switch (rndn(5)) {
	case 0:
		break;
	case 1:
		i = (int)rndn((uint32_t)bits);
		a[i / 8] ^= (uint8_t)(0x80 >> (i % 8));
		break;
	case 2:
	case 3:
		from = (int)rndn((uint32_t)bits + 1);
		for (i = from; i < bits; i++)
			if (rnd() & 1)
				a[i / 8] ^= (uint8_t)(0x80 >> (i % 8));
		break;
	default:
		for (i = 0; i < bits / 8; i++)
			a[i] = (uint8_t)rnd();
	}
}

static int gen_cidr(int fam)
{
	int bits = fam_bits(fam);
	static const int specials[] = { 0, 1, 8, 16, 24, 31, 32, 64, 96, 127,
					128 };
	int s;

	if (rndn(4) == 0) {
		s = specials[rndn(CWG_ARRAY_SIZE(specials))];
		return s <= bits ? s : bits;
	}
	return (int)rndn((uint32_t)bits + 1);
}

struct walk_check {
	int owner;
	int fam[4096];
	uint8_t addr[4096][16];
	uint8_t cidr[4096];
	int n, overflow;
};

static int collect_big(void *ctx, int family, const uint8_t *addr,
		       uint8_t cidr)
{
	struct walk_check *w = ctx;

	if (w->n >= 4096) {
		w->overflow = 1;
		return 1;
	}
	w->fam[w->n] = family;
	memcpy(w->addr[w->n], addr, 16);
	w->cidr[w->n] = cidr;
	w->n++;
	return 0;
}

static int cmp_seq(const void *x, const void *y)
{
	const struct ref *a = *(const struct ref *const *)x;
	const struct ref *b = *(const struct ref *const *)y;

	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* Every owner's walk must list its reference prefixes in insertion order. */
static int check_walks(const struct cwg_allowedips *t,
		       struct cwg_allowedips_owner *owners)
{
	static struct walk_check w;
	static const struct ref **mine;
	size_t i, n;
	int o;

	mine = realloc(mine, (nrefs + 1) * sizeof(*mine));
	if (!mine)
		abort();
	for (o = 0; o < NOWNERS; o++) {
		for (n = 0, i = 0; i < nrefs; i++)
			if (refs[i].owner == o)
				mine[n++] = &refs[i];
		qsort(mine, n, sizeof(*mine), cmp_seq);
		w.n = 0;
		w.overflow = 0;
		cwg_allowedips_walk(t, &owners[o], collect_big, &w);
		if (w.overflow || (size_t)w.n != n || owners[o].count != n) {
			diag("owner %d: walked %d, count %u, reference %zu", o,
			     w.n, owners[o].count, n);
			return 0;
		}
		for (i = 0; i < n; i++) {
			if (w.fam[i] != mine[i]->fam ||
			    w.cidr[i] != mine[i]->cidr ||
			    memcmp(w.addr[i], mine[i]->addr, 16)) {
				diag("owner %d: walk entry %zu differs", o, i);
				return 0;
			}
		}
	}
	return 1;
}

/* stride: build the first-16-bits lookup tables at random points (with no
 * size threshold), so lookups run through fresh, stale and rebuilt
 * tables. */
static void test_random(int fail_rate, long ops_per_family, bool stride)
{
	struct cwg_allowedips t;
	struct cwg_allowedips_owner owners[NOWNERS];
	long ops[2] = { 0, 0 }, lookups[2] = { 0, 0 }, ins = 0, rem = 0;
	long rem_owner = 0, oom = 0, lookup_bad = 0, ret_bad = 0;
	long walk_bad = 0, acct_bad = 0, hits = 0, deep = 0, replaces = 0;
	size_t max_live = 0;
	uint8_t a[16];
	int f, i, j;

	memset(owners, 0, sizeof(owners));
	cwg_allowedips_init(&t);
	if (stride)
		t.stride_min_nodes = 0;
	nrefs = 0;
	for (f = 0; f < 2; f++)
		for (i = 0; i < POOL; i++)
			for (j = 0; j < 16; j++)
				pool[f][i][j] = (uint8_t)rnd();
	/* Some v6 pool entries are v4-mapped copies of the v4 pool. */
	for (i = 0; i < POOL / 4; i++) {
		memset(pool[1][i], 0, 10);
		pool[1][i][10] = pool[1][i][11] = 0xff;
		memcpy(pool[1][i] + 12, pool[0][i], 4);
	}

	while (ops[0] < ops_per_family || ops[1] < ops_per_family) {
		int fam = (rnd() & 1) ? 6 : 4, owner = (int)rndn(NOWNERS);
		uint32_t op = rndn(1000);
		int cidr, ret, want;

		fail_every = fail_rate;
		if (stride && rndn(500) == 0)
			cwg_allowedips_optimize(&t);
		if (op < 450) {
			gen_addr(a, fam);
			cidr = gen_cidr(fam);
			ret = cwg_allowedips_insert(&t, fam, a, (uint8_t)cidr,
						    &owners[owner]);
			normalize(a, fam, cidr);
			if (ret == -CWG_ENOMEM && fail_rate)
				oom++;
			else if (ret != 0)
				ret_bad++;
			else
				ref_insert(fam, a, cidr, owner);
			ins++;
		} else if (op < 600) {
			/* Half the time an existing prefix, with host bits
			 * set and perhaps the wrong owner. */
			struct ref *r = NULL;

			if (nrefs && (rnd() & 1)) {
				r = &refs[rndn((uint32_t)nrefs)];
				fam = r->fam;
				memcpy(a, r->addr, 16);
				cidr = r->cidr;
				for (i = cidr; i < fam_bits(fam); i++)
					if (rnd() & 1)
						a[i / 8] |= (uint8_t)(0x80 >> (i % 8));
				if (rnd() & 1)
					owner = r->owner;
			} else {
				gen_addr(a, fam);
				cidr = gen_cidr(fam);
			}
			ret = cwg_allowedips_remove(&t, fam, a, (uint8_t)cidr,
						    &owners[owner]);
			normalize(a, fam, cidr);
			r = ref_find(fam, a, cidr);
			want = r && r->owner == owner ? 0 : 1;
			if (ret != want)
				ret_bad++;
			if (!want)
				ref_del(r);
			rem++;
		} else if (op < 608) {
			/* A replacement of the owner's prefixes: half of them
			 * sent again (host bits set), a few new ones, other
			 * owners' changes and lookups in between. */
			size_t k, n = nrefs;

			cwg_allowedips_mark_owner(&t, &owners[owner]);
			for (k = 0; k < n; k++)
				if (refs[k].owner == owner)
					refs[k].marked = true;
			for (k = 0; k < n; k++) {
				struct ref r = refs[k];
				int o = owner;

				if (r.owner != owner || (rnd() & 1))
					continue;
				if (rndn(8) == 0)
					o = (int)rndn(NOWNERS); /* taken */
				for (i = r.cidr; i < fam_bits(r.fam); i++)
					if (rnd() & 1)
						r.addr[i / 8] |= (uint8_t)(0x80 >> (i % 8));
				ret = cwg_allowedips_insert(&t, r.fam, r.addr,
							    r.cidr, &owners[o]);
				if (ret == -CWG_ENOMEM && fail_rate)
					oom++;
				else if (ret)
					ret_bad++;
				else
					ref_insert(r.fam, refs[k].addr, r.cidr, o);
			}
			for (k = rndn(4); k > 0; k--) {
				gen_addr(a, fam);
				cidr = gen_cidr(fam);
				ret = cwg_allowedips_insert(&t, fam, a,
							    (uint8_t)cidr,
							    &owners[owner]);
				normalize(a, fam, cidr);
				if (ret == -CWG_ENOMEM && fail_rate)
					oom++;
				else if (ret)
					ret_bad++;
				else
					ref_insert(fam, a, cidr, owner);
				gen_addr(a, fam);
				want = ref_lookup(fam, a, &cidr);
				if (cwg_allowedips_lookup(&t, fam, a) !=
				    (want < 0 ? NULL : &owners[want]))
					lookup_bad++;
			}
			cwg_allowedips_sweep_owner(&t, &owners[owner]);
			for (k = 0; k < nrefs;) {
				if (refs[k].owner == owner && refs[k].marked)
					ref_del(&refs[k]);
				else
					k++;
			}
			replaces++;
		} else if (op < 612) {
			size_t k;

			cwg_allowedips_remove_owner(&t, &owners[owner]);
			for (k = 0; k < nrefs;) {
				if (refs[k].owner == owner)
					ref_del(&refs[k]);
				else
					k++;
			}
			if (owners[owner].head || owners[owner].count)
				ret_bad++;
			rem_owner++;
		} else {
			struct cwg_allowedips_owner *got;

			if (nrefs && rndn(3) == 0) {
				struct ref *r = &refs[rndn((uint32_t)nrefs)];

				fam = r->fam;
				memcpy(a, r->addr, 16);
				for (i = r->cidr; i < fam_bits(fam); i++)
					if (rnd() & 1)
						a[i / 8] |= (uint8_t)(0x80 >> (i % 8));
			} else {
				gen_addr(a, fam);
			}
			got = cwg_allowedips_lookup(&t, fam, a);
			want = ref_lookup(fam, a, &cidr);
			if (want >= 0)
				hits++;
			if (cidr > fam_bits(fam) / 2)
				deep++;
			if (got != (want < 0 ? NULL : &owners[want])) {
				if (!lookup_bad)
					diag("first bad lookup: family %d, got "
					     "%ld want %d",
					     fam, got ? (long)(got - owners) : -1,
					     want);
				lookup_bad++;
			}
			lookups[fam == 6]++;
		}
		fail_every = 0;
		ops[fam == 6]++;
		max_live = CWG_MAX(max_live, nrefs);
		if (cwg_allowedips_bytes(&t) != (uint64_t)live_bytes ||
		    t.nodes > 2 * nrefs)
			acct_bad++;
		if ((ops[0] + ops[1]) % 4000 == 0 && !check_walks(&t, owners))
			walk_bad++;
	}
	ok(check_walks(&t, owners), "final walks match the reference");
	if (stride) {
		long bad = 0, n;

		cwg_allowedips_optimize(&t);
		for (n = 0; n < 100000; n++) {
			int fam = (n & 1) ? 6 : 4, want, cidr;
			struct cwg_allowedips_owner *got;

			gen_addr(a, fam);
			got = cwg_allowedips_lookup(&t, fam, a);
			want = ref_lookup(fam, a, &cidr);
			bad += got != (want < 0 ? NULL : &owners[want]);
		}
		ok(!t.stale && (t.stride4 || t.stride6 || fail_rate) && bad == 0,
		   "100000 lookups through freshly built tables agree (%ld bad)",
		   bad);
	}

	diag("%s: ops v4 %ld v6 %ld; inserts %ld (%ld failed by injected OOM), "
	     "removes %ld, remove_owner %ld, replacements %ld, lookups v4 %ld "
	     "v6 %ld (%ld hit, %ld longer than half the address); %zu prefixes "
	     "live (max %zu), %llu nodes",
	     fail_rate ? "with OOM injection" : stride ? "with lookup tables" : "plain", ops[0], ops[1], ins,
	     oom, rem, rem_owner, replaces, lookups[0], lookups[1], hits, deep,
	     nrefs, max_live, (unsigned long long)t.nodes);
	ok(ops[0] >= ops_per_family && ops[1] >= ops_per_family,
	   "at least %ld random operations per family", ops_per_family);
	ok(lookup_bad == 0, "%ld lookups agree with the reference (%ld bad)",
	   lookups[0] + lookups[1], lookup_bad);
	ok(deep > lookups[0] / 20,
	   "the data exercise long matches, not only short prefixes");
	ok(ret_bad == 0, "insert/remove return values agree (%ld bad)",
	   ret_bad);
	ok(walk_bad == 0, "periodic owner walks agree (%ld bad)", walk_bad);
	ok(acct_bad == 0,
	   "the table's byte count equals the allocator's, nodes <= 2 x "
	   "prefixes "
	   "(%ld bad)",
	   acct_bad);
	if (fail_rate)
		ok(oom > 0, "injected allocation failures happened");

	for (i = 0; i < NOWNERS; i++)
		cwg_allowedips_remove_owner(&t, &owners[i]);
	if (stride)
		cwg_allowedips_free(&t); /* the tables outlive the nodes */
	ok(t.nodes == 0 && live_allocs == 0 && !t.root4 && !t.root6,
	   "removing every owner leaves no nodes and no allocations");
}

int main(void)
{
	const char *env = getenv("CWG_SEED");
	uint64_t seed = env ? strtoull(env, NULL, 0) : 20240521;

	diag("seed %llu (set CWG_SEED to change)", (unsigned long long)seed);
	rng_state = seed ? seed : 1;
	test_directed();
	test_random(0, 100000, false);
	test_random(0, 100000, true);
	test_random(8, 20000, true);
	free(refs);
	return done_testing();
}
