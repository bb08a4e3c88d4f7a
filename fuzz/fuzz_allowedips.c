/* SPDX-License-Identifier: MIT */
/*
 * fuzz_allowedips: the trie against a list searched the slow, obvious
 * way. Any disagreement is a failure.
 *
 * Input: operations, each a byte (kind in bits 0-2, IPv6 in bit 3, owner
 * in bits 4-5, rebuild the lookup tables first in bit 6, a variant in
 * bit 7) and then, as the kind needs, an address (mode byte: bytes from
 * the input, a short address, or an existing prefix with one bit
 * flipped) and a prefix length (which may be invalid on purpose):
 *   0 insert  1 remove  2 remove_owner (variant: mark the owner's
 *   prefixes with bit 3, else sweep the marked ones)  3 lookup  4 walk
 *   (with an early stop)  5 look up every stored prefix at both its ends
 * Checked after every step: return values, each owner's count and walk,
 * the node count bound (a trie of n prefixes has at most 2n - 1 nodes per
 * family), and at the end that removing every owner leaves nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/allowedips.h"
#include "fuzz.h"

#define FAI_OWNERS 4
#define FAI_MAX 1024 /* prefixes in the model */

struct fai_entry {
	int family;
	uint8_t addr[16]; /* normalized: host bits zero */
	uint8_t cidr;
	int owner;
	bool marked; /* to go at the owner's next sweep */
};

struct fai_state {
	struct cwg_allowedips t;
	struct cwg_allowedips_owner owners[FAI_OWNERS];
	struct fai_entry e[FAI_MAX];
	uint32_t n;
};

static void fai_mask(uint8_t *a, int family, uint8_t cidr)
{
	unsigned int len = family == 4 ? 4 : 16, i;

	for (i = 0; i < len; i++) {
		if (cidr >= 8) {
			cidr = (uint8_t)(cidr - 8);
			continue;
		}
		a[i] &= (uint8_t)(0xff00u >> cidr);
		cidr = 0;
	}
	for (i = len; i < 16; i++)
		a[i] = 0;
}

static bool fai_prefix_has(const struct fai_entry *e, const uint8_t *addr)
{
	uint8_t a[16];

	memcpy(a, addr, e->family == 4 ? 4 : 16);
	fai_mask(a, e->family, e->cidr);
	return !memcmp(a, e->addr, 16);
}

static int fai_find(const struct fai_state *s, int family,
		    const uint8_t *norm, uint8_t cidr)
{
	uint32_t i;

	for (i = 0; i < s->n; i++)
		if (s->e[i].family == family && s->e[i].cidr == cidr &&
		    !memcmp(s->e[i].addr, norm, 16))
			return (int)i;
	return -1;
}

/* The model's longest-prefix match: an owner number or -1. */
static int fai_model_lookup(const struct fai_state *s, int family,
			    const uint8_t *addr)
{
	int best = -1, best_cidr = -1;
	uint32_t i;

	for (i = 0; i < s->n; i++)
		if (s->e[i].family == family && s->e[i].cidr > best_cidr &&
		    fai_prefix_has(&s->e[i], addr)) {
			best = s->e[i].owner;
			best_cidr = s->e[i].cidr;
		}
	return best;
}

static int fai_owner_index(const struct fai_state *s,
			   const struct cwg_allowedips_owner *o)
{
	int i;

	if (!o)
		return -1;
	for (i = 0; i < FAI_OWNERS; i++)
		if (o == &s->owners[i])
			return i;
	return -2; /* a pointer that is no owner at all */
}

static int fai_check_lookup(const struct fai_state *s, int family,
			    const uint8_t *addr)
{
	int got = fai_owner_index(s, cwg_allowedips_lookup(&s->t, family,
							   addr));
	int want = fai_model_lookup(s, family, addr);

	if (got != want)
		return fuzz_fail("allowedips: lookup v%d %02x%02x%02x%02x..: "
				 "trie says owner %d, model %d", family,
				 addr[0], addr[1], addr[2], addr[3], got, want);
	return 0;
}

struct fai_walk {
	const struct fai_state *s;
	int owner;
	uint32_t seen, stop_at;
	int err;
};

static int fai_walk_fn(void *ctx, int family, const uint8_t *addr,
		       uint8_t cidr)
{
	struct fai_walk *w = ctx;
	uint8_t norm[16] = { 0 };
	int k;

	memcpy(norm, addr, family == 4 ? 4 : 16);
	fai_mask(norm, family, cidr);
	k = (family == 4 || family == 6) ?
		    fai_find(w->s, family, norm, cidr) : -1;
	if (k < 0 || w->s->e[k].owner != w->owner ||
	    memcmp(norm, addr, family == 4 ? 4 : 16))
		w->err = 1;
	w->seen++;
	return w->seen == w->stop_at ? 7 : 0;
}

/* The walk yields exactly the owner's prefixes, normalized, each once
 * (the count matches and each is the owner's), and stops when asked. */
static int fai_check_owner(const struct fai_state *s, int owner,
			   uint32_t stop_at)
{
	struct fai_walk w = { s, owner, 0, stop_at, 0 };
	uint32_t want = 0, i;
	int ret;

	for (i = 0; i < s->n; i++)
		want += s->e[i].owner == owner;
	if (s->owners[owner].count != want)
		return fuzz_fail("allowedips: owner %d count %u, model %u",
				 owner, s->owners[owner].count, want);
	ret = cwg_allowedips_walk(&s->t, &s->owners[owner], fai_walk_fn,
				  &w);
	if (w.err)
		return fuzz_fail("allowedips: owner %d walk yields a prefix "
				 "it does not hold", owner);
	if (stop_at && stop_at <= want) {
		if (ret != 7 || w.seen != stop_at)
			return fuzz_fail("allowedips: walk did not stop at %u "
					 "(ret %d, %u calls)", stop_at, ret,
					 w.seen);
	} else if (ret != 0 || w.seen != want) {
		return fuzz_fail("allowedips: owner %d walk: %u of %u, ret %d",
				 owner, w.seen, want, ret);
	}
	return 0;
}

static int fai_check_nodes(const struct fai_state *s)
{
	uint32_t n4 = 0, n6 = 0, i;

	for (i = 0; i < s->n; i++) {
		if (s->e[i].family == 4)
			n4++;
		else
			n6++;
	}
	if (s->t.nodes > (uint64_t)(n4 ? 2 * n4 - 1 : 0) +
				 (n6 ? 2 * n6 - 1 : 0))
		return fuzz_fail("allowedips: %llu nodes for %u + %u prefixes",
				 (unsigned long long)s->t.nodes, n4, n6);
	return 0;
}

/* An address: from the input, short, or near a stored prefix. */
static void fai_addr(const struct fai_state *s, struct fuzz_in *in,
		     int family, uint8_t *a)
{
	uint8_t mode = fuzz_u8(in);
	unsigned int bits = family == 4 ? 32 : 128;

	memset(a, 0, 16);
	switch (mode & 3) {
	case 0:
		fuzz_bytes(in, a, family == 4 ? 4 : 16);
		break;
	case 1: /* first byte only, many collisions */
		a[0] = fuzz_u8(in);
		break;
	default: { /* an existing prefix of this family, one bit flipped */
		uint32_t i, k = mode >> 2, cand = 0;

		for (i = 0; i < s->n; i++)
			cand += s->e[i].family == family;
		if (!cand) {
			a[0] = fuzz_u8(in);
			break;
		}
		k %= cand;
		for (i = 0; i < s->n; i++)
			if (s->e[i].family == family && !k--)
				break;
		memcpy(a, s->e[i].addr, 16);
		if ((mode & 3) == 3) {
			unsigned int bit = fuzz_u8(in) % bits;

			a[bit / 8] ^= (uint8_t)(0x80u >> (bit % 8));
		}
		break;
	}
	}
}

static int fai_insert(struct fai_state *s, int family, const uint8_t *a,
		      uint8_t cidr, int owner)
{
	unsigned int bits = family == 4 ? 32 : 128;
	uint8_t norm[16];
	int ret, k;

	ret = cwg_allowedips_insert(&s->t, family, a, cidr,
				    &s->owners[owner]);
	if (cidr > bits) {
		if (ret != -CWG_EINVAL)
			return fuzz_fail("allowedips: insert /%u v%d returned "
					 "%d, not -EINVAL",
					 cidr, family, ret);
		return 0;
	}
	if (ret != 0)
		return fuzz_fail("allowedips: insert returned %d", ret);
	memcpy(norm, a, 16);
	fai_mask(norm, family, cidr);
	k = fai_find(s, family, norm, cidr);
	if (k >= 0) {
		s->e[k].owner = owner;
		s->e[k].marked = false;
		return 0;
	}
	if (s->n == FAI_MAX)
		return fuzz_fail("allowedips: harness model full");
	s->e[s->n].family = family;
	memcpy(s->e[s->n].addr, norm, 16);
	s->e[s->n].cidr = cidr;
	s->e[s->n].owner = owner;
	s->e[s->n].marked = false;
	s->n++;
	return 0;
}

static int fai_remove(struct fai_state *s, int family, const uint8_t *a,
		      uint8_t cidr, int owner)
{
	unsigned int bits = family == 4 ? 32 : 128;
	uint8_t norm[16];
	int ret, k, want;

	ret = cwg_allowedips_remove(&s->t, family, a, cidr,
				    &s->owners[owner]);
	if (cidr > bits)
		return ret == -CWG_EINVAL
			       ? 0
			       : fuzz_fail("allowedips: remove /%u returned %d",
					   cidr, ret);
	memcpy(norm, a, 16);
	fai_mask(norm, family, cidr);
	k = fai_find(s, family, norm, cidr);
	want = k >= 0 && s->e[k].owner == owner ? 0 : 1;
	if (ret != want)
		return fuzz_fail("allowedips: remove returned %d, model %d",
				 ret, want);
	if (!want)
		s->e[k] = s->e[--s->n];
	return 0;
}

/* Remove the owner's entries (only the marked ones when marked). */
static void fai_model_remove_owner(struct fai_state *s, int owner,
				   bool marked)
{
	uint32_t i = 0;

	while (i < s->n) {
		if (s->e[i].owner == owner && (!marked || s->e[i].marked))
			s->e[i] = s->e[--s->n];
		else
			i++;
	}
}

static void fai_model_mark(struct fai_state *s, int owner)
{
	uint32_t i;

	for (i = 0; i < s->n; i++)
		if (s->e[i].owner == owner)
			s->e[i].marked = true;
}

/* Every stored prefix looked up at its first and last address. */
static int fai_check_all(const struct fai_state *s)
{
	uint32_t i;

	for (i = 0; i < s->n; i++) {
		uint8_t hi[16];
		unsigned int len = s->e[i].family == 4 ? 4 : 16, b;

		memcpy(hi, s->e[i].addr, 16);
		for (b = s->e[i].cidr; b < len * 8; b++)
			hi[b / 8] |= (uint8_t)(0x80u >> (b % 8));
		if (fai_check_lookup(s, s->e[i].family, s->e[i].addr) ||
		    fai_check_lookup(s, s->e[i].family, hi))
			return -1;
	}
	return 0;
}

static int fai_run(struct fai_state *s, struct fuzz_in *in)
{
	uint8_t a[16] = { 0 };
	int i;

	while (!fuzz_in_empty(in)) {
		uint8_t op = fuzz_u8(in), c;
		int family = (op & 8) ? 6 : 4, owner = (op >> 4) & 3;
		int ret = 0;

		/* Bit 6: rebuild the lookup tables first, so lookups run
		 * through fresh, stale and rebuilt tables alike. */
		if (op & 0x40)
			cwg_allowedips_optimize(&s->t);

		switch (op & 7) {
		case 0:
		case 6: /* inserts are the common case */
			fai_addr(s, in, family, a);
			c = fuzz_u8(in);
			/* mostly valid lengths, sometimes one past, or 255 */
			c = c == 255 ? c : (uint8_t)(c % (family == 4 ? 34 : 130));
			ret = fai_insert(s, family, a, c, owner);
			break;
		case 1:
		case 7:
			fai_addr(s, in, family, a);
			c = fuzz_u8(in);
			c = c == 255 ? c : (uint8_t)(c % (family == 4 ? 34 : 130));
			ret = fai_remove(s, family, a, c, owner);
			break;
		case 2:
			if (!(op & 0x80)) {
				cwg_allowedips_remove_owner(&s->t,
							    &s->owners[owner]);
				fai_model_remove_owner(s, owner, false);
			} else if (op & 8) {
				cwg_allowedips_mark_owner(&s->t,
							  &s->owners[owner]);
				fai_model_mark(s, owner);
			} else {
				cwg_allowedips_sweep_owner(&s->t,
							   &s->owners[owner]);
				fai_model_remove_owner(s, owner, true);
			}
			break;
		case 3:
			fai_addr(s, in, family, a);
			ret = fai_check_lookup(s, family, a);
			break;
		case 4:
			ret = fai_check_owner(s, owner, fuzz_u8(in) % 8);
			break;
		case 5:
			ret = fai_check_all(s);
			break;
		}
		if (!ret && (op & 7) != 4)
			ret = fai_check_owner(s, owner, 0);
		if (!ret)
			ret = fai_check_nodes(s);
		if (ret)
			return ret;
	}
	if (fai_check_all(s))
		return -1;
	for (i = 0; i < FAI_OWNERS; i++)
		if (fai_check_owner(s, i, 0))
			return -1;
	/* The wrong family is refused, never looked at. */
	if (cwg_allowedips_insert(&s->t, 5, a, 0, &s->owners[0]) !=
		    -CWG_EINVAL ||
	    cwg_allowedips_lookup(&s->t, 5, a) != NULL)
		return fuzz_fail("allowedips: family 5 accepted");
	for (i = 0; i < FAI_OWNERS; i++) {
		cwg_allowedips_remove_owner(&s->t, &s->owners[i]);
		fai_model_remove_owner(s, i, false);
		if (fai_check_owner(s, i, 0) || fai_check_all(s))
			return -1;
	}
	if (s->t.root4 || s->t.root6 || s->t.nodes)
		return fuzz_fail("allowedips: %llu nodes left after removing "
				 "every owner",
				 (unsigned long long)s->t.nodes);
	return 0;
}

int fuzz_allowedips(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	struct fai_state *s = calloc(1, sizeof(*s));
	int ret;

	if (!s)
		return fuzz_fail("allowedips: out of memory");
	cwg_allowedips_init(&s->t);
	s->t.stride_min_nodes = 0; /* tables even for tiny tries */
	ret = fai_run(s, &in);
	cwg_allowedips_free(&s->t);
	free(s);
	return ret;
}

#ifdef CWG_LIBFUZZER
CWG_FUZZ_TARGET(fuzz_allowedips)
#endif
