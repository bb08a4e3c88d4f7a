// SPDX-License-Identifier: MIT
/*
 * Cryptokey routing: a path-compressed binary trie per address family.
 *
 * Memory is the constraint that shapes this file. n disjoint prefixes need
 * n - 1 branch nodes, so a trie of one node type pays for two full nodes
 * per prefix. Nodes therefore come in three shapes, and they link to each
 * other by 32-bit index rather than by pointer:
 *
 *   branch  header + two children                      12 bytes
 *   leaf    prefix part + header                       24 (v4) / 40 (v6)
 *   full    prefix part + header + two children        32 (v4) / 48 (v6)
 *
 * The prefix part (owner, owner-list links and the key) sits immediately
 * *before* the 4-byte header, so an index reaches the prefix part at a
 * negative offset and the children at a positive one whatever the shape,
 * and the lookup loop needs no per-shape offsets. For the benchmark's
 * 255 x 256 IPv4 /16s plus as many IPv6 /128s that is 44 bytes a prefix,
 * 52 with the lookup tables (whose slots hold indices too); with 8-byte
 * pointers it was 64 and 80, and malloc's block headers added some 24.
 *
 * Nodes live in chunks of AI_CHUNK_NODES nodes of one shape and family
 * (a store's chunks), found by number in a directory: an index is the
 * chunk's number and the node header's offset in it, so a lookup step
 * costs one load (of a directory entry, which stays cached) more than a
 * pointer would. Each store stays packed: freeing a node moves the
 * store's last node into its place (found again by walking down to it;
 * its owner-list neighbours and owner learn the new index), so memory
 * follows the live count, and trailing chunks are freed once empty.
 * Frees are therefore deferred to the end of each operation (struct
 * ai_op), which may hold indices until then.
 *
 * Branch nodes keep no key: every node below a branch shares its prefix, so
 * insertion reads the bits from any prefix node underneath (as crit-bit
 * trees do), and lookup only checks a match where there is an owner (if a
 * branch's prefix does not match, no owner below it can match either).
 *
 * There are no parent links; removal finds the parent slots by walking
 * down from the root, at most 33 or 129 steps. A shape changes (leaf to
 * full when a leaf gains a child, branch to full when a branch gains an
 * owner, and back) by making a node of the new shape and replacing every
 * reference to the old one. Shrinking is only an economy: if that
 * allocation fails, the bigger node stays, ownerless or childless.
 *
 * Invariants: cidr strictly increases down every path; every node without
 * an owner has exactly two children; every IPv6 node, branches included,
 * carries AI_V6 (so the per-family node counts are exact); v4 keys live in
 * the upper 32 bits of the 128-bit working key so both families share the
 * bit arithmetic; index 0 is no node (chunk number 0 is never used).
 */
#include "allowedips.h"

#define AI_V6 0x01
#define AI_PFX 0x02  /* has the prefix part: owner, links, key */
#define AI_KIDS 0x04 /* has two child slots */
#define AI_MARK 0x08 /* to go at the owner's next sweep */

struct ai_hdr {
	uint8_t cidr; /* prefix length; a node with children branches on
		       * bit number cidr */
	uint8_t flags;
	uint16_t pad;
	/* uint32_t child[2], only with AI_KIDS */
};

struct ai_pfx {
	struct cwg_allowedips_owner *owner;
	/* Circular list of the owner's prefixes in insertion order; the
	 * owner's head's prev is the tail, so appends are O(1). */
	uint32_t next;
	uint32_t prev;
};

/* An IPv6 key sits just before struct ai_pfx, an IPv4 one just after. */
struct ai_key {
	uint64_t hi, lo;
};

_Static_assert(sizeof(struct ai_hdr) == 4, "node header");
_Static_assert(sizeof(struct ai_pfx) == 16, "prefix part");
_Static_assert(sizeof(struct ai_key) == 16, "v6 key");

/* Chunks: 128 nodes each by default (1.5 to 6 KiB, by shape), a power of
 * two so that finding node k of a store is a shift; the fuzzer and a unit
 * test build with two, so that chunks come and go all the time. An index
 * is the chunk's number above AI_UNIT_BITS and the header's offset in
 * the chunk, in 4-byte units, below: 48-byte nodes need 12 units each. */
#ifndef CWG_ALLOWEDIPS_CHUNK_NODES_SHIFT
#define CWG_ALLOWEDIPS_CHUNK_NODES_SHIFT 7
#endif
_Static_assert(CWG_ALLOWEDIPS_CHUNK_NODES_SHIFT >= 1 &&
		       CWG_ALLOWEDIPS_CHUNK_NODES_SHIFT <= 12,
	       "chunk numbers and offsets share 32 bits");
#define AI_CHUNK_SHIFT CWG_ALLOWEDIPS_CHUNK_NODES_SHIFT
#define AI_CHUNK_NODES (1u << AI_CHUNK_SHIFT)
#define AI_UNIT_BITS (AI_CHUNK_SHIFT + 4)
#define AI_UNIT_MASK ((1u << AI_UNIT_BITS) - 1)
#define AI_MAX_CHUNKS (1u << (32 - AI_UNIT_BITS))

enum { AI_BRANCH, AI_LEAF, AI_FULL };
#define AI_KIND(v6, shape) ((v6) ? 3 + (shape) : (shape))

/* Per kind (family x shape): node size and bytes before the header. */
static const struct {
	uint16_t size, pre;
} ai_kinds[6] = {
	{ 12, 0 }, { 24, 20 }, { 32, 20 }, /* v4 branch, leaf, full */
	{ 12, 0 }, { 40, 32 }, { 48, 32 }, /* v6 */
};

static inline unsigned int ai_kind_of(uint8_t flags)
{
	unsigned int shape = !(flags & AI_PFX) ? AI_BRANCH :
			     (flags & AI_KIDS) ? AI_FULL : AI_LEAF;

	return AI_KIND(flags & AI_V6, shape);
}

/* A chunk's bytes. It is as aligned as cwg_zalloc's blocks, and the
 * sizes with an owner pointer are multiples of 8. */
static inline uint32_t ai_chunk_bytes(unsigned int kind)
{
	return AI_CHUNK_NODES * ai_kinds[kind].size;
}

static inline struct ai_hdr *ai_at(const struct cwg_allowedips *t,
				   uint32_t i)
{
	return (struct ai_hdr *)(void *)(t->dir[i >> AI_UNIT_BITS] +
					 ((i & AI_UNIT_MASK) << 2));
}

static inline uint32_t *ai_kids(struct ai_hdr *h)
{
	return (uint32_t *)(void *)(h + 1);
}

static inline struct ai_pfx *ai_pfx(struct ai_hdr *h)
{
	return (struct ai_pfx *)(void *)((char *)h -
					 ((h->flags & AI_V6) ? 16 : 20));
}

/* The same, for a node of known family. */
static inline struct ai_pfx *ai_pfx4(struct ai_hdr *h)
{
	return (struct ai_pfx *)(void *)((char *)h - 20);
}

static inline struct ai_pfx *ai_pfx6(struct ai_hdr *h)
{
	return (struct ai_pfx *)(void *)((char *)h - 16);
}

static inline uint32_t *ai_key4(struct ai_hdr *h)
{
	return (uint32_t *)(void *)((char *)h - 4);
}

static inline struct ai_key *ai_key6(struct ai_hdr *h)
{
	return (struct ai_key *)(void *)((char *)h - 32);
}

static inline struct cwg_allowedips_owner *ai_owner(struct ai_hdr *h)
{
	return (h->flags & AI_PFX) ? ai_pfx(h)->owner : NULL;
}

static inline unsigned int ai_nkids(struct ai_hdr *h)
{
	if (!(h->flags & AI_KIDS))
		return 0;
	return (ai_kids(h)[0] != 0) + (ai_kids(h)[1] != 0);
}

/* ---- node memory ---- */

/* Index of node k of a store. */
static uint32_t ai_index(const struct cwg_allowedips *t, unsigned int kind,
			 uint32_t k)
{
	uint32_t off = (k & (AI_CHUNK_NODES - 1)) * ai_kinds[kind].size +
		       ai_kinds[kind].pre;

	return t->store[kind].chunk[k >> AI_CHUNK_SHIFT] << AI_UNIT_BITS |
	       off >> 2;
}

/* A free chunk number (not yet taken: dir_hint moves when it is). */
static int ai_dir_find(struct cwg_allowedips *t, uint32_t *out)
{
	uint32_t c = t->dir_hint ? t->dir_hint : 1, cap;
	uint8_t **d;

	while (c < t->dir_cap && t->dir[c])
		c++;
	if (c >= t->dir_cap) {
		cap = t->dir_cap ? t->dir_cap * 2 : 16;
		if (cap > AI_MAX_CHUNKS)
			cap = AI_MAX_CHUNKS;
		if (c >= cap)
			return -CWG_ENOMEM;
		d = cwg_zalloc(cap * sizeof(*d));
		if (!d)
			return -CWG_ENOMEM;
		if (t->dir)
			cwg_memcpy(d, t->dir, t->dir_cap * sizeof(*d));
		cwg_free(t->dir);
		t->dir = d;
		t->dir_cap = cap;
	}
	*out = c;
	return 0;
}

/* Room for one more node of this kind. */
static int ai_reserve(struct cwg_allowedips *t, unsigned int kind)
{
	struct cwg_allowedips_store *s = &t->store[kind];
	uint32_t c, *list;
	uint8_t *ch;

	if (s->count < s->nchunks << AI_CHUNK_SHIFT)
		return 0;
	if (s->nchunks == s->cap) {
		uint32_t cap = s->cap ? s->cap * 2 : 4;

		list = cwg_zalloc(cap * sizeof(*list));
		if (!list)
			return -CWG_ENOMEM;
		if (s->chunk)
			cwg_memcpy(list, s->chunk, s->nchunks * sizeof(*list));
		cwg_free(s->chunk);
		s->chunk = list;
		s->cap = cap;
	}
	if (ai_dir_find(t, &c))
		return -CWG_ENOMEM;
	ch = cwg_zalloc(ai_chunk_bytes(kind));
	if (!ch)
		return -CWG_ENOMEM;
	t->dir[c] = ch;
	t->dir_hint = c + 1; /* every number below it is taken */
	s->chunk[s->nchunks++] = c;
	return 0;
}

/* A zeroed node; 0 when out of memory. */
static uint32_t ai_new(struct cwg_allowedips *t, uint8_t flags, uint8_t cidr)
{
	unsigned int kind = ai_kind_of(flags);
	struct ai_hdr *h;
	uint32_t i;

	if (ai_reserve(t, kind))
		return 0;
	i = ai_index(t, kind, t->store[kind].count++);
	h = ai_at(t, i);
	cwg_memset((char *)h - ai_kinds[kind].pre, 0, ai_kinds[kind].size);
	h->flags = flags;
	h->cidr = cidr;
	t->nodes++;
	t->nodes6 += flags & AI_V6 ? 1 : 0;
	return i;
}

/*
 * Free the trailing chunks the stores no longer need, keeping half a
 * chunk of room in each so that an insert and a removal in turn do not
 * churn one; with no node left, free everything. Also what a failed
 * insert calls, for the room it made.
 */
static void ai_trim(struct cwg_allowedips *t)
{
	const uint32_t per = AI_CHUNK_NODES;
	struct cwg_allowedips_store *s;
	unsigned int k;
	uint32_t c;

	for (k = 0; k < 6; k++) {
		s = &t->store[k];
		while (s->nchunks &&
		       (!s->count ||
			s->count + per / 2 <= (s->nchunks - 1) * per)) {
			c = s->chunk[--s->nchunks];
			cwg_free(t->dir[c]);
			t->dir[c] = NULL;
			if (c < t->dir_hint)
				t->dir_hint = c;
		}
		if (!s->nchunks) {
			cwg_free(s->chunk);
			s->chunk = NULL;
			s->cap = 0;
		}
	}
	if (!t->nodes) {
		cwg_free(t->dir);
		t->dir = NULL;
		t->dir_cap = 0;
		t->dir_hint = 0;
	}
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

static void ai_key_of(struct ai_key *k, struct ai_hdr *h)
{
	if (h->flags & AI_V6) {
		*k = *ai_key6(h);
	} else {
		k->hi = (uint64_t)*ai_key4(h) << 32;
		k->lo = 0;
	}
}

static void ai_key_set(struct ai_hdr *h, const struct ai_key *k)
{
	if (h->flags & AI_V6)
		*ai_key6(h) = *k;
	else
		*ai_key4(h) = (uint32_t)(k->hi >> 32);
}

/* ---- moving and freeing nodes ---- */

/* Nodes unlinked by an operation, freed at its end (see the top), and
 * an index the caller keeps across it (0 or a live node) that follows
 * its node if that moves or changes shape. */
struct ai_op {
	uint32_t dead[4];
	unsigned int ndead;
	uint32_t *watch;
};

static void ai_kill(struct ai_op *op, uint32_t n)
{
	op->dead[op->ndead++] = n;
}

/* Everything that refers to live node from (its parent's child slot or
 * the root, its owner-list neighbours, its owner's head) now says to. */
static void ai_redirect(struct cwg_allowedips *t, uint32_t from, uint32_t to)
{
	struct ai_hdr *h = ai_at(t, from), *p;
	uint32_t *slot, d = from;
	struct ai_key k;

	while (!(ai_at(t, d)->flags & AI_PFX))
		d = ai_kids(ai_at(t, d))[0];
	ai_key_of(&k, ai_at(t, d));
	slot = (h->flags & AI_V6) ? &t->root6 : &t->root4;
	while (*slot != from) {
		p = ai_at(t, *slot);
		slot = &ai_kids(p)[ai_bit(&k, p->cidr)];
	}
	*slot = to;
	if (!ai_owner(h))
		return;
	if (ai_pfx(h)->next != from) {
		ai_pfx(ai_at(t, ai_pfx(h)->prev))->next = to;
		ai_pfx(ai_at(t, ai_pfx(h)->next))->prev = to;
	}
	if (ai_pfx(h)->owner->head == from)
		ai_pfx(h)->owner->head = to;
}

/* Free the operation's dead nodes, each store's last node taking the
 * place of each (a dead last node just moves: later entries follow). */
static void ai_release(struct cwg_allowedips *t, struct ai_op *op)
{
	unsigned int i, j, kind;

	for (i = 0; i < op->ndead; i++) {
		uint32_t n = op->dead[i], last;
		struct ai_hdr *h = ai_at(t, n), *lh;
		bool live = true;

		kind = ai_kind_of(h->flags);
		t->nodes--;
		t->nodes6 -= h->flags & AI_V6 ? 1 : 0;
		last = ai_index(t, kind, --t->store[kind].count);
		if (last != n) {
			for (j = i + 1; j < op->ndead; j++) {
				if (op->dead[j] == last) {
					op->dead[j] = n;
					live = false;
				}
			}
			if (live)
				ai_redirect(t, last, n);
			if (op->watch && *op->watch == last)
				*op->watch = n;
			lh = ai_at(t, last);
			cwg_memcpy((char *)h - ai_kinds[kind].pre,
				   (char *)lh - ai_kinds[kind].pre,
				   ai_kinds[kind].size);
			if (live && ai_owner(h) && ai_pfx(h)->next == last)
				ai_pfx(h)->next = ai_pfx(h)->prev = n;
		}
	}
	if (op->ndead)
		ai_trim(t);
	op->ndead = 0;
}

/* ---- owner lists ---- */

static void ai_list_append(struct cwg_allowedips *t,
			   struct cwg_allowedips_owner *o, uint32_t n)
{
	struct ai_pfx *p = ai_pfx(ai_at(t, n)), *hp;
	uint32_t tail;

	p->owner = o;
	if (!o->head) {
		p->next = p->prev = n;
		o->head = n;
	} else {
		hp = ai_pfx(ai_at(t, o->head));
		tail = hp->prev;
		p->prev = tail;
		p->next = o->head;
		ai_pfx(ai_at(t, tail))->next = n;
		hp->prev = n;
	}
	o->count++;
}

static void ai_list_unlink(struct cwg_allowedips *t, uint32_t n)
{
	struct ai_hdr *h = ai_at(t, n);
	struct ai_pfx *p = ai_pfx(h);
	struct cwg_allowedips_owner *o = p->owner;

	if (p->next == n) {
		o->head = 0;
	} else {
		ai_pfx(ai_at(t, p->prev))->next = p->next;
		ai_pfx(ai_at(t, p->next))->prev = p->prev;
		if (o->head == n)
			o->head = p->next;
	}
	o->count--;
	if (h->flags & AI_MARK)
		o->marked--;
	p->owner = NULL;
	p->next = p->prev = 0;
	h->flags &= (uint8_t)~AI_MARK;
}

/*
 * Give node n (referenced from *slot) the shape flags: a new node takes
 * over everything both shapes have, and the slot and the owner-list
 * neighbours; n dies with op. Returns the new node, or 0 with nothing
 * changed.
 */
static uint32_t ai_reshape(struct cwg_allowedips *t, uint32_t *slot,
			   uint32_t n, uint8_t flags, struct ai_op *op)
{
	uint32_t m = ai_new(t, flags, ai_at(t, n)->cidr);
	struct ai_hdr *nh, *mh;
	struct ai_pfx *np, *mp;
	struct ai_key k;

	if (!m)
		return 0;
	nh = ai_at(t, n);
	mh = ai_at(t, m);
	if ((flags & AI_KIDS) && (nh->flags & AI_KIDS)) {
		ai_kids(mh)[0] = ai_kids(nh)[0];
		ai_kids(mh)[1] = ai_kids(nh)[1];
	}
	if ((flags & AI_PFX) && (nh->flags & AI_PFX)) {
		ai_key_of(&k, nh);
		ai_key_set(mh, &k);
		mh->flags |= nh->flags & AI_MARK;
		np = ai_pfx(nh);
		mp = ai_pfx(mh);
		mp->owner = np->owner;
		if (np->owner) {
			if (np->next == n) {
				mp->next = mp->prev = m;
			} else {
				mp->next = np->next;
				mp->prev = np->prev;
				ai_pfx(ai_at(t, np->prev))->next = m;
				ai_pfx(ai_at(t, np->next))->prev = m;
			}
			if (np->owner->head == n)
				np->owner->head = m;
		}
	}
	*slot = m;
	if (op->watch && *op->watch == n)
		*op->watch = m;
	ai_kill(op, n);
	return m;
}

static uint32_t *ai_root(struct cwg_allowedips *t, int family)
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

/* Routes changed: the lookup tables no longer hold. */
static void ai_changed(struct cwg_allowedips *t)
{
	t->stale = true;
	t->gen++;
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
	uint32_t sub;  /* where the walk goes on */
	uint32_t best; /* the prefix node matching above sub, or 0 */
};
struct cwg_allowedips_stride {
	struct ai_stride_slot slot[AI_STRIDE_SLOTS];
};

void cwg_allowedips_init(struct cwg_allowedips *t)
{
	cwg_memset(t, 0, sizeof(*t));
	t->stride_min_nodes = AI_STRIDE_MIN_NODES;
}

void cwg_allowedips_free(struct cwg_allowedips *t)
{
	uint32_t c;
	int k;

	for (c = 1; c < t->dir_cap; c++)
		cwg_free(t->dir[c]);
	cwg_free(t->dir);
	t->dir = NULL;
	t->dir_cap = t->dir_hint = 0;
	for (k = 0; k < 6; k++) {
		cwg_free(t->store[k].chunk);
		cwg_memset(&t->store[k], 0, sizeof(t->store[k]));
	}
	t->root4 = t->root6 = 0;
	t->nodes = t->nodes6 = 0;
	cwg_free(t->stride4);
	cwg_free(t->stride6);
	t->stride4 = t->stride6 = NULL;
	t->stale = false;
	t->gen++;
}

/* The prefix exists as node n (at *slot, its cidr is the prefix's). */
static int ai_insert_at(struct cwg_allowedips *t, uint32_t *slot, uint32_t n,
			const struct ai_key *k,
			struct cwg_allowedips_owner *owner)
{
	struct ai_op op = { .ndead = 0 };
	struct ai_hdr *h = ai_at(t, n);

	if (!(h->flags & AI_PFX)) {
		n = ai_reshape(t, slot, n,
			       (uint8_t)((h->flags & AI_V6) | AI_PFX | AI_KIDS),
			       &op);
		if (!n) {
			ai_trim(t);
			return -CWG_ENOMEM;
		}
		h = ai_at(t, n);
		ai_key_set(h, k);
	}
	if (ai_pfx(h)->owner == owner) {
		/* Already there: no route changes. Sent again in a
		 * replacement, it is kept, and goes to the end of the list,
		 * so that the list ends in the order the replacement sent. */
		if (h->flags & AI_MARK) {
			ai_list_unlink(t, n);
			ai_list_append(t, owner, n);
		}
	} else {
		ai_changed(t);
		if (ai_pfx(h)->owner)
			ai_list_unlink(t, n);
		ai_list_append(t, owner, n);
	}
	ai_release(t, &op);
	return 0;
}

int cwg_allowedips_insert(struct cwg_allowedips *t, int family,
			  const uint8_t *addr, uint8_t cidr,
			  struct cwg_allowedips_owner *owner)
{
	uint8_t v6 = family == 6 ? AI_V6 : 0, leaf_flags;
	struct ai_op op = { .ndead = 0 };
	uint32_t *root, *slot, n, c, leaf, mid;
	struct ai_hdr *h;
	struct ai_key k, r;
	unsigned int l;

	if (ai_check(family, cidr) || !owner)
		return -CWG_EINVAL;
	ai_key_load(&k, family, addr);
	k.hi &= ai_mask_hi(cidr);
	k.lo &= ai_mask_lo(cidr);
	root = ai_root(t, family);

	if (!*root) {
		leaf = ai_new(t, v6 | AI_PFX, cidr);
		if (!leaf) {
			ai_trim(t);
			return -CWG_ENOMEM;
		}
		ai_changed(t);
		ai_key_set(ai_at(t, leaf), &k);
		ai_list_append(t, owner, leaf);
		*root = leaf;
		return 0;
	}

	/* Find a prefix node on k's path to learn the bits of the skipped
	 * stretches; below a branch, any prefix node will do. */
	n = *root;
	for (;;) {
		h = ai_at(t, n);
		if (h->cidr >= cidr || !(h->flags & AI_KIDS))
			break;
		c = ai_kids(h)[ai_bit(&k, h->cidr)];
		if (!c)
			break;
		n = c;
	}
	while (!(ai_at(t, n)->flags & AI_PFX))
		n = ai_kids(ai_at(t, n))[0];
	h = ai_at(t, n);
	ai_key_of(&r, h);
	l = ai_first_diff(&k, &r);
	l = CWG_MIN(l, (unsigned int)CWG_MIN(cidr, h->cidr));

	/* Every node with cidr < l is an ancestor of that prefix node and
	 * agrees with k, so the walk down cannot fall off the trie. */
	slot = root;
	while ((h = ai_at(t, *slot))->cidr < l)
		slot = &ai_kids(h)[ai_bit(&k, h->cidr)];
	n = *slot;
	if (h->cidr == l && l == cidr)
		return ai_insert_at(t, slot, n, &k, owner);

	/* A new prefix node, and at most one other: make room for both
	 * first, so that nothing changes when memory is short. */
	leaf_flags = (uint8_t)(v6 | AI_PFX | (l == cidr ? AI_KIDS : 0));
	if (ai_reserve(t, ai_kind_of(leaf_flags)) ||
	    (h->cidr == l && !(h->flags & AI_KIDS) &&
	     ai_reserve(t, AI_KIND(v6, AI_FULL))) ||
	    (h->cidr != l && l != cidr &&
	     ai_reserve(t, AI_KIND(v6, AI_BRANCH)))) {
		ai_trim(t);
		return -CWG_ENOMEM;
	}
	ai_changed(t);

	if (h->cidr == l) {
		/* n is the reference prefix node itself and k extends it
		 * into an empty child slot. */
		if (!(h->flags & AI_KIDS))
			n = ai_reshape(t, slot, n, v6 | AI_PFX | AI_KIDS, &op);
		leaf = ai_new(t, leaf_flags, cidr);
		ai_kids(ai_at(t, n))[ai_bit(&k, l)] = leaf;
	} else if (l == cidr) {
		/* k is a strict prefix of n's: it goes above n. */
		leaf = ai_new(t, leaf_flags, cidr);
		ai_kids(ai_at(t, leaf))[ai_bit(&r, l)] = n;
		*slot = leaf;
	} else {
		/* k and n part ways at bit l: a branch node joins them. */
		leaf = ai_new(t, leaf_flags, cidr);
		mid = ai_new(t, v6 | AI_KIDS, (uint8_t)l);
		ai_kids(ai_at(t, mid))[ai_bit(&k, l)] = leaf;
		ai_kids(ai_at(t, mid))[!ai_bit(&k, l)] = n;
		*slot = mid;
	}
	ai_key_set(ai_at(t, leaf), &k);
	ai_list_append(t, owner, leaf);
	ai_release(t, &op);
	return 0;
}

/*
 * Take n's prefix away and drop the nodes that no longer earn their keep.
 * slot holds n, pslot the slot holding n's parent (NULL at the root).
 */
static void ai_remove_node(struct cwg_allowedips *t, uint32_t *slot,
			   uint32_t *pslot, uint32_t n, struct ai_op *op)
{
	struct ai_hdr *h = ai_at(t, n), *ph;
	unsigned int kids = ai_nkids(h);
	uint32_t parent;

	ai_list_unlink(t, n);
	if (kids == 2) {
		/* On failure n stays, ownerless, doing a branch's job. */
		ai_reshape(t, slot, n, (uint8_t)((h->flags & AI_V6) | AI_KIDS),
			   op);
		return;
	}
	if (kids == 1) {
		*slot = ai_kids(h)[0] ? ai_kids(h)[0] : ai_kids(h)[1];
		ai_kill(op, n);
		return;
	}
	*slot = 0;
	ai_kill(op, n);
	if (!pslot)
		return;
	parent = *pslot;
	ph = ai_at(t, parent);
	if (!ai_owner(ph)) {
		/* An ownerless node had two children; now it has one. */
		*pslot = ai_kids(ph)[0] ? ai_kids(ph)[0] : ai_kids(ph)[1];
		ai_kill(op, parent);
	} else if (!ai_kids(ph)[0] && !ai_kids(ph)[1]) {
		ai_reshape(t, pslot, parent, (uint8_t)(ph->flags & ~AI_KIDS),
			   op);
	}
}

/* The slots holding n and its parent, by walking n's key. */
static uint32_t *ai_find_slots(struct cwg_allowedips *t, uint32_t n,
			       uint32_t **pslot)
{
	struct ai_hdr *h = ai_at(t, n), *p;
	uint32_t *slot = (h->flags & AI_V6) ? &t->root6 : &t->root4;
	struct ai_key k;

	ai_key_of(&k, h);
	*pslot = NULL;
	while (*slot != n) {
		*pslot = slot;
		p = ai_at(t, *slot);
		slot = &ai_kids(p)[ai_bit(&k, p->cidr)];
	}
	return slot;
}

static void ai_remove_prefix(struct cwg_allowedips *t, uint32_t n,
			     uint32_t *watch)
{
	struct ai_op op = { .ndead = 0, .watch = watch };
	uint32_t *slot, *pslot;

	ai_changed(t);
	slot = ai_find_slots(t, n, &pslot);
	ai_remove_node(t, slot, pslot, n, &op);
	ai_release(t, &op);
}

int cwg_allowedips_remove(struct cwg_allowedips *t, int family,
			  const uint8_t *addr, uint8_t cidr,
			  struct cwg_allowedips_owner *owner)
{
	struct ai_op op = { .ndead = 0 };
	uint32_t *slot, *pslot = NULL, n;
	struct ai_hdr *h = NULL;
	struct ai_key k, nk;

	if (ai_check(family, cidr))
		return -CWG_EINVAL;
	ai_key_load(&k, family, addr);
	k.hi &= ai_mask_hi(cidr);
	k.lo &= ai_mask_lo(cidr);

	slot = ai_root(t, family);
	while ((n = *slot) && (h = ai_at(t, n))->cidr < cidr) {
		if (!(h->flags & AI_KIDS))
			return 1;
		pslot = slot;
		slot = &ai_kids(h)[ai_bit(&k, h->cidr)];
	}
	if (!n || h->cidr != cidr || !owner || ai_owner(h) != owner)
		return 1;
	ai_key_of(&nk, h);
	if (nk.hi != k.hi || nk.lo != k.lo)
		return 1;
	ai_changed(t);
	ai_remove_node(t, slot, pslot, n, &op);
	ai_release(t, &op);
	return 0;
}

void cwg_allowedips_remove_owner(struct cwg_allowedips *t,
				 struct cwg_allowedips_owner *owner)
{
	/* Newest first: their nodes tend to be the last of their stores,
	 * whose places need no other node moved into them. */
	while (owner->head)
		ai_remove_prefix(t, ai_pfx(ai_at(t, owner->head))->prev, NULL);
}

void cwg_allowedips_mark_owner(struct cwg_allowedips *t,
			       struct cwg_allowedips_owner *owner)
{
	uint32_t n = owner->head, left = owner->count;

	while (left--) {
		struct ai_hdr *h = ai_at(t, n);

		h->flags |= AI_MARK;
		n = ai_pfx(h)->next;
	}
	owner->marked = owner->count;
}

void cwg_allowedips_sweep_owner(struct cwg_allowedips *t,
				struct cwg_allowedips_owner *owner)
{
	uint32_t left = owner->count, first = 0;

	/* Round the list from the head: the head moves past each node
	 * kept and on from each removed, until no mark is left; then the
	 * first node kept is the head again, so the order stays. */
	while (owner->marked && left--) {
		struct ai_hdr *h = ai_at(t, owner->head);

		if (h->flags & AI_MARK) {
			ai_remove_prefix(t, owner->head, &first);
		} else {
			if (!first)
				first = owner->head;
			owner->head = ai_pfx(h)->next;
		}
	}
	if (first)
		owner->head = first;
}

/* The lookup loops: owners are checked for a match, branches are not. */

static struct cwg_allowedips_owner *
ai_lookup4(const struct cwg_allowedips *t, uint32_t n, uint32_t a)
{
	struct cwg_allowedips_owner *best = NULL, *o;

	while (n) {
		struct ai_hdr *h = ai_at(t, n);

		if ((h->flags & AI_PFX) && (o = ai_pfx4(h)->owner)) {
			uint32_t mask = (uint32_t)(~(uint64_t)0 << (32 - h->cidr));

			if ((a ^ *ai_key4(h)) & mask)
				break;
			best = o;
		}
		if (!(h->flags & AI_KIDS))
			break;
		n = ai_kids(h)[(a >> (31 - h->cidr)) & 1];
	}
	return best;
}

static struct cwg_allowedips_owner *
ai_lookup6(const struct cwg_allowedips *t, uint32_t n, const struct ai_key *k)
{
	struct cwg_allowedips_owner *best = NULL, *o;

	while (n) {
		struct ai_hdr *h = ai_at(t, n);

		if ((h->flags & AI_PFX) && (o = ai_pfx6(h)->owner)) {
			const struct ai_key *nk = ai_key6(h);

			if (((k->hi ^ nk->hi) & ai_mask_hi(h->cidr)) ||
			    ((k->lo ^ nk->lo) & ai_mask_lo(h->cidr)))
				break;
			best = o;
		}
		if (!(h->flags & AI_KIDS))
			break;
		n = ai_kids(h)[ai_bit(k, h->cidr)];
	}
	return best;
}

static struct cwg_allowedips_owner *
ai_slot_best(const struct cwg_allowedips *t, const struct ai_stride_slot *sl)
{
	return sl->best ? ai_pfx(ai_at(t, sl->best))->owner : NULL;
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
			return ai_lookup4(t, t->root4, a);
		sl = &t->stride4->slot[a >> (32 - AI_STRIDE_BITS)];
		o = sl->sub ? ai_lookup4(t, sl->sub, a) : NULL;
		return o ? o : ai_slot_best(t, sl);
	}
	if (family != 6)
		return NULL;
	ai_key_load(&k, 6, addr);
	if (!t->stride6 || t->stale)
		return ai_lookup6(t, t->root6, &k);
	sl = &t->stride6->slot[k.hi >> (64 - AI_STRIDE_BITS)];
	o = sl->sub ? ai_lookup6(t, sl->sub, &k) : NULL;
	return o ? o : ai_slot_best(t, sl);
}

/*
 * A slot holds what a walk from the root makes of the slot's first
 * AI_STRIDE_BITS bits: the nodes that branch inside them (cidr <
 * AI_STRIDE_BITS) every address of the slot walks alike, collecting the
 * best match; the walk stops at the first node that branches on a later
 * bit, where lookups resume. Slots go in order, and slot s differs from
 * slot s - 1 first at bit d: the nodes with cidr < d behave alike for
 * both, so the walk resumes from the first node of the last one that
 * does not (or, when there is none, slot s is slot s - 1). The whole
 * table takes about two steps a slot.
 */
static struct cwg_allowedips_stride *
ai_stride_build(const struct cwg_allowedips *t, uint32_t root)
{
	struct cwg_allowedips_stride *tab = cwg_zalloc(sizeof(*tab));
	struct {
		uint32_t n, best; /* a node walked, the best before it */
	} path[AI_STRIDE_BITS];
	unsigned int np = 0, i, d;
	struct ai_key k = { 0, 0 }, nk;
	uint32_t s, n, best;
	struct ai_hdr *h;

	if (!tab)
		return NULL;
	for (s = 0; s < AI_STRIDE_SLOTS; s++) {
		n = root;
		best = 0;
		if (s) {
			d = AI_STRIDE_BITS - 1 - (unsigned int)__builtin_ctz(s);
			for (i = 0; i < np && ai_at(t, path[i].n)->cidr < d; i++)
				;
			if (i == np) {
				tab->slot[s] = tab->slot[s - 1];
				continue;
			}
			n = path[i].n;
			best = path[i].best;
			np = i;
		}
		k.hi = (uint64_t)s << (64 - AI_STRIDE_BITS);
		while (n && (h = ai_at(t, n))->cidr < AI_STRIDE_BITS) {
			path[np].n = n;
			path[np++].best = best;
			if ((h->flags & AI_PFX) && ai_pfx(h)->owner) {
				ai_key_of(&nk, h);
				if ((k.hi ^ nk.hi) & ai_mask_hi(h->cidr)) {
					n = 0;
					break;
				}
				best = n;
			}
			if (!(h->flags & AI_KIDS)) {
				n = 0;
				break;
			}
			n = ai_kids(h)[ai_bit(&k, h->cidr)];
		}
		tab->slot[s].sub = n;
		tab->slot[s].best = best;
	}
	return tab;
}

int cwg_allowedips_build_tables(const struct cwg_allowedips *t,
				struct cwg_allowedips_tables *out)
{
	out->gen = t->gen;
	out->stride4 = out->stride6 = NULL;
	if (t->nodes - t->nodes6 >= t->stride_min_nodes) {
		out->stride4 = ai_stride_build(t, t->root4);
		if (!out->stride4)
			return -CWG_ENOMEM;
	}
	if (t->nodes6 >= t->stride_min_nodes) {
		out->stride6 = ai_stride_build(t, t->root6);
		if (!out->stride6)
			return -CWG_ENOMEM;
	}
	return 0;
}

bool cwg_allowedips_install_tables(struct cwg_allowedips *t,
				   struct cwg_allowedips_tables *tabs)
{
	struct cwg_allowedips_stride *old4 = tabs->stride4,
				     *old6 = tabs->stride6;
	bool ok = tabs->gen == t->gen;

	if (ok) {
		old4 = t->stride4;
		old6 = t->stride6;
		t->stride4 = tabs->stride4;
		t->stride6 = tabs->stride6;
		t->stale = false;
	}
	cwg_free(old4);
	cwg_free(old6);
	tabs->stride4 = tabs->stride6 = NULL;
	return ok;
}

void cwg_allowedips_optimize(struct cwg_allowedips *t)
{
	struct cwg_allowedips_tables tabs;

	/* Short of memory, a family has no table: lookups walk the trie. */
	cwg_allowedips_build_tables(t, &tabs);
	cwg_allowedips_install_tables(t, &tabs);
}

uint64_t cwg_allowedips_stride_bytes(const struct cwg_allowedips *t)
{
	return ((t->stride4 ? 1 : 0) + (t->stride6 ? 1 : 0)) *
	       (uint64_t)sizeof(struct cwg_allowedips_stride);
}

uint64_t cwg_allowedips_bytes(const struct cwg_allowedips *t)
{
	uint64_t b = cwg_allowedips_stride_bytes(t) +
		     (uint64_t)t->dir_cap * sizeof(*t->dir);
	int k;

	for (k = 0; k < 6; k++)
		b += (uint64_t)t->store[k].nchunks * ai_chunk_bytes(k) +
		     (uint64_t)t->store[k].cap * sizeof(uint32_t);
	return b;
}

int cwg_allowedips_walk(const struct cwg_allowedips *t,
			const struct cwg_allowedips_owner *owner,
			cwg_allowedips_walk_fn fn, void *ctx)
{
	uint32_t n = owner->head;
	uint8_t addr[16];
	struct ai_hdr *h;
	struct ai_key k;
	int ret;

	if (!n)
		return 0;
	do {
		h = ai_at(t, n);
		ai_key_of(&k, h);
		cwg_put_be64(addr, k.hi);
		cwg_put_be64(addr + 8, k.lo);
		ret = fn(ctx, (h->flags & AI_V6) ? 6 : 4, addr, h->cidr);
		if (ret)
			return ret;
		n = ai_pfx(h)->next;
	} while (n != owner->head);
	return 0;
}
