// SPDX-License-Identifier: MIT
/*
 * Cryptokey routing: a path-compressed binary trie per address family.
 *
 * Memory is the constraint that shapes this file. n disjoint prefixes need
 * n - 1 branch nodes, so a trie of one node type pays for two full nodes
 * per prefix. Nodes therefore come in three shapes, all sharing an 8-byte
 * header (cidr, flags, and the IPv4 key, which fits in the padding):
 *
 *   branch  header + two children                      24 bytes
 *   leaf    prefix part + header                       32 (v4) / 48 (v6)
 *   full    prefix part + header + two children        48 (v4) / 64 (v6)
 *
 * The prefix part (owner, owner-list links and, for IPv6, the key) sits
 * immediately *before* the header, so one node pointer reaches the prefix
 * part at a negative offset and the children at a positive one whatever the
 * shape, and the lookup loop needs no per-shape offsets.
 *
 * Branch nodes keep no key: every node below a branch shares its prefix, so
 * insertion reads the bits from any prefix node underneath (as crit-bit
 * trees do), and lookup only checks a match where there is an owner (if a
 * branch's prefix does not match, no owner below it can match either).
 *
 * There are no parent pointers (8 bytes a node); removal finds the parent
 * slots by walking down from the root, at most 33 or 129 steps. A shape
 * changes (leaf to full when a leaf gains a child, branch to full when a
 * branch gains an owner, and back) by allocating the new shape and
 * replacing every pointer to the old node. Shrinking is only an economy: if
 * the allocation fails, the bigger node stays, ownerless or childless.
 *
 * Invariants: cidr strictly increases down every path; every node without
 * an owner has exactly two children; every IPv6 node, branches included,
 * carries AI_V6 (so the per-family node counts are exact); v4 keys live in the upper 32 bits of
 * the 128-bit working key so both families share the bit arithmetic.
 */
#include "allowedips.h"

#define AI_V6 0x01
#define AI_PFX 0x02 /* has the prefix part: owner, links, key */
#define AI_KIDS 0x04 /* has two child slots */

struct cwg_allowedips_node {
	uint8_t cidr; /* prefix length; a node with children branches on
		       * bit number cidr */
	uint8_t flags;
	uint8_t pad[2];
	uint32_t key4; /* IPv4 prefix, host order, when AI_PFX */
	struct cwg_allowedips_node *child[]; /* only with AI_KIDS */
};

struct ai_pfx {
	struct cwg_allowedips_owner *owner;
	/* Circular list of the owner's prefixes in insertion order; the
	 * owner's head->prev is the tail, so appends are O(1). */
	struct cwg_allowedips_node *next;
	struct cwg_allowedips_node *prev;
};

/* An IPv6 key sits just before struct ai_pfx. */
struct ai_key {
	uint64_t hi, lo;
};

#define AI_HDR_SIZE sizeof(struct cwg_allowedips_node)
#define AI_KIDS_SIZE (2 * sizeof(struct cwg_allowedips_node *))

_Static_assert(sizeof(struct cwg_allowedips_node) == 8, "node header");
_Static_assert(sizeof(struct ai_key) == 16, "v6 key");

static inline struct ai_pfx *ai_pfx(const struct cwg_allowedips_node *n)
{
	return (struct ai_pfx *)(void *)n - 1;
}

static inline struct ai_key *ai_key6(const struct cwg_allowedips_node *n)
{
	return (struct ai_key *)(void *)ai_pfx(n) - 1;
}

static size_t ai_pfx_size(uint8_t flags)
{
	if (!(flags & AI_PFX))
		return 0;
	return sizeof(struct ai_pfx) +
	       ((flags & AI_V6) ? sizeof(struct ai_key) : 0);
}

static size_t ai_alloc_size(uint8_t flags)
{
	return ai_pfx_size(flags) + AI_HDR_SIZE +
	       ((flags & AI_KIDS) ? AI_KIDS_SIZE : 0);
}

static struct cwg_allowedips_node *ai_new(struct cwg_allowedips *t,
					  uint8_t flags, uint8_t cidr)
{
	char *base = cwg_zalloc(ai_alloc_size(flags));
	struct cwg_allowedips_node *n;

	if (!base)
		return NULL;
	n = (struct cwg_allowedips_node *)(void *)(base + ai_pfx_size(flags));
	n->flags = flags;
	n->cidr = cidr;
	t->nodes++;
	t->nodes6 += flags & AI_V6 ? 1 : 0;
	return n;
}

static void ai_del(struct cwg_allowedips *t, struct cwg_allowedips_node *n)
{
	t->nodes--;
	t->nodes6 -= n->flags & AI_V6 ? 1 : 0;
	cwg_free((char *)n - ai_pfx_size(n->flags));
}

static inline struct cwg_allowedips_owner *
ai_owner(const struct cwg_allowedips_node *n)
{
	return (n->flags & AI_PFX) ? ai_pfx(n)->owner : NULL;
}

static inline unsigned int ai_nkids(const struct cwg_allowedips_node *n)
{
	if (!(n->flags & AI_KIDS))
		return 0;
	return (n->child[0] != NULL) + (n->child[1] != NULL);
}

/* 128-bit key helpers. Bit 0 is the most significant bit of the address. */

static inline uint64_t ai_mask_hi(unsigned int cidr)
{
	if (cidr >= 64)
		return ~(uint64_t)0;
	return cidr ? ~(uint64_t)0 << (64 - cidr) : 0;
}

static inline uint64_t ai_mask_lo(unsigned int cidr)
{
	return cidr > 64 ? ~(uint64_t)0 << (128 - cidr) : 0;
}

static inline unsigned int ai_bit(const struct ai_key *k, unsigned int i)
{
	if (i < 64)
		return (unsigned int)(k->hi >> (63 - i)) & 1;
	return (unsigned int)(k->lo >> (127 - i)) & 1;
}

static unsigned int ai_first_diff(const struct ai_key *a,
				  const struct ai_key *b)
{
	uint64_t x = a->hi ^ b->hi;

	if (x)
		return (unsigned int)__builtin_clzll(x);
	x = a->lo ^ b->lo;
	if (x)
		return 64 + (unsigned int)__builtin_clzll(x);
	return 128;
}

static void ai_key_load(struct ai_key *k, int family, const uint8_t *addr)
{
	if (family == 4) {
		k->hi = (uint64_t)cwg_get_be32(addr) << 32;
		k->lo = 0;
	} else {
		k->hi = (uint64_t)cwg_get_be32(addr) << 32 |
			cwg_get_be32(addr + 4);
		k->lo = (uint64_t)cwg_get_be32(addr + 8) << 32 |
			cwg_get_be32(addr + 12);
	}
}

static void ai_key_of(struct ai_key *k, const struct cwg_allowedips_node *n)
{
	if (n->flags & AI_V6) {
		*k = *ai_key6(n);
	} else {
		k->hi = (uint64_t)n->key4 << 32;
		k->lo = 0;
	}
}

static void ai_key_set(struct cwg_allowedips_node *n, const struct ai_key *k)
{
	if (n->flags & AI_V6)
		*ai_key6(n) = *k;
	else
		n->key4 = (uint32_t)(k->hi >> 32);
}

/* Owner lists. */

static void ai_list_append(struct cwg_allowedips_owner *o,
			   struct cwg_allowedips_node *n)
{
	struct ai_pfx *p = ai_pfx(n);

	p->owner = o;
	if (!o->head) {
		p->next = p->prev = n;
		o->head = n;
	} else {
		struct cwg_allowedips_node *tail = ai_pfx(o->head)->prev;

		p->prev = tail;
		p->next = o->head;
		ai_pfx(tail)->next = n;
		ai_pfx(o->head)->prev = n;
	}
	o->count++;
}

static void ai_list_unlink(struct cwg_allowedips_node *n)
{
	struct ai_pfx *p = ai_pfx(n);
	struct cwg_allowedips_owner *o = p->owner;

	if (p->next == n) {
		o->head = NULL;
	} else {
		ai_pfx(p->prev)->next = p->next;
		ai_pfx(p->next)->prev = p->prev;
		if (o->head == n)
			o->head = p->next;
	}
	o->count--;
	p->owner = NULL;
	p->next = p->prev = NULL;
}

/*
 * Give node n (referenced from *slot) the shape flags; copies everything
 * both shapes have and redirects the slot and the owner-list neighbours.
 * Returns the new node, or NULL with nothing changed.
 */
static struct cwg_allowedips_node *
ai_reshape(struct cwg_allowedips *t, struct cwg_allowedips_node **slot,
	   struct cwg_allowedips_node *n, uint8_t flags)
{
	struct cwg_allowedips_node *m = ai_new(t, flags, n->cidr);

	if (!m)
		return NULL;
	if ((flags & AI_KIDS) && (n->flags & AI_KIDS)) {
		m->child[0] = n->child[0];
		m->child[1] = n->child[1];
	}
	if ((flags & AI_PFX) && (n->flags & AI_PFX)) {
		struct ai_pfx *np = ai_pfx(n), *mp = ai_pfx(m);
		struct ai_key k;

		ai_key_of(&k, n);
		ai_key_set(m, &k);
		mp->owner = np->owner;
		if (np->owner) {
			if (np->next == n) {
				mp->next = mp->prev = m;
			} else {
				mp->next = np->next;
				mp->prev = np->prev;
				ai_pfx(np->prev)->next = m;
				ai_pfx(np->next)->prev = m;
			}
			if (np->owner->head == n)
				np->owner->head = m;
		}
	}
	*slot = m;
	ai_del(t, n);
	return m;
}

static struct cwg_allowedips_node **ai_root(struct cwg_allowedips *t,
					    int family)
{
	return family == 4 ? &t->root4 : &t->root6;
}

static int ai_check(int family, uint8_t cidr)
{
	if (family == 4)
		return cidr <= 32 ? 0 : -CWG_EINVAL;
	if (family == 6)
		return cidr <= 128 ? 0 : -CWG_EINVAL;
	return -CWG_EINVAL;
}

/* The first-16-bits table; see struct cwg_allowedips. The fuzzer builds
 * with fewer bits so that rebuilding per input stays cheap. */
#ifndef CWG_ALLOWEDIPS_STRIDE_BITS
#define CWG_ALLOWEDIPS_STRIDE_BITS 16
#endif
#define AI_STRIDE_BITS CWG_ALLOWEDIPS_STRIDE_BITS
#define AI_STRIDE_SLOTS (1u << AI_STRIDE_BITS)
#define AI_STRIDE_MIN_NODES 8192

struct ai_stride_slot {
	const struct cwg_allowedips_node *sub; /* where the walk goes on */
	struct cwg_allowedips_owner *best;	/* match above sub, or NULL */
};
struct cwg_allowedips_stride {
	struct ai_stride_slot slot[AI_STRIDE_SLOTS];
};

void cwg_allowedips_init(struct cwg_allowedips *t)
{
	cwg_memset(t, 0, sizeof(*t));
	t->stride_min_nodes = AI_STRIDE_MIN_NODES;
}

static void ai_free_tree(struct cwg_allowedips *t,
			 struct cwg_allowedips_node *n)
{
	/* Depth is at most 129, so recursion is bounded. */
	while (n) {
		struct cwg_allowedips_node *next = NULL;

		if (n->flags & AI_KIDS) {
			ai_free_tree(t, n->child[0]);
			next = n->child[1];
		}
		ai_del(t, n);
		n = next;
	}
}

void cwg_allowedips_free(struct cwg_allowedips *t)
{
	ai_free_tree(t, t->root4);
	ai_free_tree(t, t->root6);
	t->root4 = NULL;
	t->root6 = NULL;
	cwg_free(t->stride4);
	cwg_free(t->stride6);
	t->stride4 = t->stride6 = NULL;
	t->stale = false;
}

int cwg_allowedips_insert(struct cwg_allowedips *t, int family,
			  const uint8_t *addr, uint8_t cidr,
			  struct cwg_allowedips_owner *owner)
{
	struct cwg_allowedips_node **root, **slot, *n, *leaf, *mid;
	uint8_t v6 = family == 6 ? AI_V6 : 0;
	struct ai_key k, r;
	unsigned int l;

	if (ai_check(family, cidr) || !owner)
		return -CWG_EINVAL;
	t->stale = true;
	ai_key_load(&k, family, addr);
	k.hi &= ai_mask_hi(cidr);
	k.lo &= ai_mask_lo(cidr);
	root = ai_root(t, family);

	if (!*root) {
		leaf = ai_new(t, v6 | AI_PFX, cidr);
		if (!leaf)
			return -CWG_ENOMEM;
		ai_key_set(leaf, &k);
		ai_list_append(owner, leaf);
		*root = leaf;
		return 0;
	}

	/* Find a prefix node on k's path to learn the bits of the skipped
	 * stretches; below a branch, any prefix node will do. */
	n = *root;
	while (n->cidr < cidr && (n->flags & AI_KIDS) &&
	       n->child[ai_bit(&k, n->cidr)])
		n = n->child[ai_bit(&k, n->cidr)];
	while (!(n->flags & AI_PFX))
		n = n->child[0];
	ai_key_of(&r, n);
	l = ai_first_diff(&k, &r);
	l = CWG_MIN(l, (unsigned int)CWG_MIN(cidr, n->cidr));

	/* Every node with cidr < l is an ancestor of that prefix node and
	 * agrees with k, so the walk down cannot fall off the trie. */
	slot = root;
	while ((*slot)->cidr < l)
		slot = &(*slot)->child[ai_bit(&k, (*slot)->cidr)];
	n = *slot;

	if (n->cidr == l && l == cidr) {
		/* The prefix already has a node. */
		if (!(n->flags & AI_PFX)) {
			n = ai_reshape(t, slot, n, v6 | AI_PFX | AI_KIDS);
			if (!n)
				return -CWG_ENOMEM;
			ai_key_set(n, &k);
		}
		if (ai_pfx(n)->owner == owner)
			return 0;
		if (ai_pfx(n)->owner)
			ai_list_unlink(n);
		ai_list_append(owner, n);
		return 0;
	}

	leaf = ai_new(t, v6 | AI_PFX | (l == cidr ? AI_KIDS : 0), cidr);
	if (!leaf)
		return -CWG_ENOMEM;
	ai_key_set(leaf, &k);

	if (n->cidr == l) {
		/* n is the reference prefix node itself and k extends it
		 * into an empty child slot. */
		if (!(n->flags & AI_KIDS)) {
			n = ai_reshape(t, slot, n, v6 | AI_PFX | AI_KIDS);
			if (!n) {
				ai_del(t, leaf);
				return -CWG_ENOMEM;
			}
		}
		n->child[ai_bit(&k, l)] = leaf;
	} else if (l == cidr) {
		/* k is a strict prefix of n's: it goes above n. */
		leaf->child[ai_bit(&r, l)] = n;
		*slot = leaf;
	} else {
		/* k and n part ways at bit l: a branch node joins them. */
		mid = ai_new(t, v6 | AI_KIDS, (uint8_t)l);
		if (!mid) {
			ai_del(t, leaf);
			return -CWG_ENOMEM;
		}
		mid->child[ai_bit(&k, l)] = leaf;
		mid->child[!ai_bit(&k, l)] = n;
		*slot = mid;
	}
	ai_list_append(owner, leaf);
	return 0;
}

/*
 * Take n's prefix away and drop the nodes that no longer earn their keep.
 * slot points at n, pslot at the slot holding n's parent (NULL at the root).
 */
static void ai_remove_node(struct cwg_allowedips *t,
			   struct cwg_allowedips_node **slot,
			   struct cwg_allowedips_node **pslot,
			   struct cwg_allowedips_node *n)
{
	struct cwg_allowedips_node *parent, *other;
	unsigned int kids = ai_nkids(n);

	ai_list_unlink(n);
	if (kids == 2) {
		/* On failure n stays, ownerless, doing a branch's job. */
		ai_reshape(t, slot, n, (uint8_t)((n->flags & AI_V6) | AI_KIDS));
		return;
	}
	if (kids == 1) {
		*slot = n->child[0] ? n->child[0] : n->child[1];
		ai_del(t, n);
		return;
	}
	*slot = NULL;
	ai_del(t, n);
	if (!pslot)
		return;
	parent = *pslot;
	if (!ai_owner(parent)) {
		/* An ownerless node had two children; now it has one. */
		other = parent->child[0] ? parent->child[0] : parent->child[1];
		*pslot = other;
		ai_del(t, parent);
	} else if (!parent->child[0] && !parent->child[1]) {
		ai_reshape(t, pslot, parent,
			   (uint8_t)(parent->flags & ~AI_KIDS));
	}
}

/* The slots pointing at target and at its parent, by walking target's key. */
static struct cwg_allowedips_node **
ai_find_slots(struct cwg_allowedips_node **root,
	      const struct cwg_allowedips_node *target,
	      struct cwg_allowedips_node ***pslot)
{
	struct cwg_allowedips_node **slot = root;
	struct ai_key k;

	ai_key_of(&k, target);
	*pslot = NULL;
	while (*slot != target) {
		*pslot = slot;
		slot = &(*slot)->child[ai_bit(&k, (*slot)->cidr)];
	}
	return slot;
}

int cwg_allowedips_remove(struct cwg_allowedips *t, int family,
			  const uint8_t *addr, uint8_t cidr,
			  struct cwg_allowedips_owner *owner)
{
	struct cwg_allowedips_node **slot, **pslot = NULL, *n;
	struct ai_key k, nk;

	if (ai_check(family, cidr))
		return -CWG_EINVAL;
	t->stale = true;
	ai_key_load(&k, family, addr);
	k.hi &= ai_mask_hi(cidr);
	k.lo &= ai_mask_lo(cidr);

	slot = ai_root(t, family);
	while ((n = *slot) && n->cidr < cidr) {
		if (!(n->flags & AI_KIDS))
			return 1;
		pslot = slot;
		slot = &n->child[ai_bit(&k, n->cidr)];
	}
	if (!n || n->cidr != cidr || !owner || ai_owner(n) != owner)
		return 1;
	ai_key_of(&nk, n);
	if (nk.hi != k.hi || nk.lo != k.lo)
		return 1;
	ai_remove_node(t, slot, pslot, n);
	return 0;
}

void cwg_allowedips_remove_owner(struct cwg_allowedips *t,
				 struct cwg_allowedips_owner *owner)
{
	if (owner->head)
		t->stale = true;
	while (owner->head) {
		struct cwg_allowedips_node *n = owner->head, **slot, **pslot;

		slot = ai_find_slots(ai_root(t, (n->flags & AI_V6) ? 6 : 4),
				     n, &pslot);
		ai_remove_node(t, slot, pslot, n);
	}
}

/* The lookup loops: owners are checked for a match, branches are not. */

static struct cwg_allowedips_owner *
ai_lookup4(const struct cwg_allowedips_node *n, uint32_t a)
{
	struct cwg_allowedips_owner *best = NULL, *o;

	while (n) {
		if ((n->flags & AI_PFX) && (o = ai_pfx(n)->owner)) {
			uint32_t mask = (uint32_t)(~(uint64_t)0 << (32 - n->cidr));

			if ((a ^ n->key4) & mask)
				break;
			best = o;
		}
		if (!(n->flags & AI_KIDS))
			break;
		n = n->child[(a >> (31 - n->cidr)) & 1];
	}
	return best;
}

static struct cwg_allowedips_owner *
ai_lookup6(const struct cwg_allowedips_node *n, const struct ai_key *k)
{
	struct cwg_allowedips_owner *best = NULL, *o;

	while (n) {
		if ((n->flags & AI_PFX) && (o = ai_pfx(n)->owner)) {
			const struct ai_key *nk = ai_key6(n);

			if (((k->hi ^ nk->hi) & ai_mask_hi(n->cidr)) ||
			    ((k->lo ^ nk->lo) & ai_mask_lo(n->cidr)))
				break;
			best = o;
		}
		if (!(n->flags & AI_KIDS))
			break;
		n = n->child[ai_bit(k, n->cidr)];
	}
	return best;
}

struct cwg_allowedips_owner *
cwg_allowedips_lookup(const struct cwg_allowedips *t, int family,
		      const uint8_t *addr)
{
	const struct ai_stride_slot *sl;
	struct cwg_allowedips_owner *o;
	struct ai_key k;
	uint32_t a;

	if (family == 4) {
		a = cwg_get_be32(addr);
		if (!t->stride4 || t->stale)
			return ai_lookup4(t->root4, a);
		sl = &t->stride4->slot[a >> (32 - AI_STRIDE_BITS)];
		o = sl->sub ? ai_lookup4(sl->sub, a) : NULL;
		return o ? o : sl->best;
	}
	if (family != 6)
		return NULL;
	ai_key_load(&k, 6, addr);
	if (!t->stride6 || t->stale)
		return ai_lookup6(t->root6, &k);
	sl = &t->stride6->slot[k.hi >> (64 - AI_STRIDE_BITS)];
	o = sl->sub ? ai_lookup6(sl->sub, &k) : NULL;
	return o ? o : sl->best;
}

/*
 * One slot: walk the nodes whose branching bit lies inside the first
 * AI_STRIDE_BITS bits (cidr < AI_STRIDE_BITS), which every address of the
 * slot walks alike, collecting the best match; stop at the first node
 * that branches on a later bit, where lookups resume.
 */
static void ai_stride_fill(struct ai_stride_slot *sl,
			   const struct cwg_allowedips_node *n,
			   const struct ai_key *k)
{
	struct cwg_allowedips_owner *best = NULL, *o;

	while (n && n->cidr < AI_STRIDE_BITS) {
		if ((n->flags & AI_PFX) && (o = ai_pfx(n)->owner)) {
			struct ai_key nk;

			ai_key_of(&nk, n);
			if ((k->hi ^ nk.hi) & ai_mask_hi(n->cidr)) {
				n = NULL;
				break;
			}
			best = o;
		}
		if (!(n->flags & AI_KIDS)) {
			n = NULL;
			break;
		}
		n = n->child[ai_bit(k, n->cidr)];
	}
	sl->sub = n;
	sl->best = best;
}

static void ai_stride_build(struct cwg_allowedips_stride **tab,
			    const struct cwg_allowedips_node *root, bool want)
{
	struct ai_key k = { 0, 0 };
	uint32_t i;

	if (!want) {
		cwg_free(*tab);
		*tab = NULL;
		return;
	}
	if (!*tab)
		*tab = cwg_zalloc(sizeof(**tab));
	if (!*tab)
		return;
	for (i = 0; i < AI_STRIDE_SLOTS; i++) {
		k.hi = (uint64_t)i << (64 - AI_STRIDE_BITS);
		ai_stride_fill(&(*tab)->slot[i], root, &k);
	}
}

void cwg_allowedips_optimize(struct cwg_allowedips *t)
{
	ai_stride_build(&t->stride4, t->root4,
			t->nodes - t->nodes6 >= t->stride_min_nodes);
	ai_stride_build(&t->stride6, t->root6,
			t->nodes6 >= t->stride_min_nodes);
	t->stale = false;
}

uint64_t cwg_allowedips_stride_bytes(const struct cwg_allowedips *t)
{
	return ((t->stride4 ? 1 : 0) + (t->stride6 ? 1 : 0)) *
	       (uint64_t)sizeof(struct cwg_allowedips_stride);
}

int cwg_allowedips_walk(const struct cwg_allowedips_owner *owner,
			cwg_allowedips_walk_fn fn, void *ctx)
{
	const struct cwg_allowedips_node *n = owner->head;
	uint8_t addr[16];
	struct ai_key k;
	int ret;

	if (!n)
		return 0;
	do {
		ai_key_of(&k, n);
		cwg_put_be64(addr, k.hi);
		cwg_put_be64(addr + 8, k.lo);
		ret = fn(ctx, (n->flags & AI_V6) ? 6 : 4, addr, n->cidr);
		if (ret)
			return ret;
		n = ai_pfx(n)->next;
	} while (n != owner->head);
	return 0;
}
