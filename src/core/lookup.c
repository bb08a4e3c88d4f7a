// SPDX-License-Identifier: MIT
/*
 * SipHash-2-4 and the two keyed hash tables built on it.
 *
 * The tables grow by doubling once the count passes the bucket count. A
 * failed growth is not an error: chains just get longer until the next
 * attempt, so an add never fails after init succeeded.
 */
#include "lookup.h"
#include "peer.h"

#define CWG_LOOKUP_MIN_BUCKETS 16u

static inline uint64_t sip_rotl(uint64_t x, unsigned int b)
{
	return (x << b) | (x >> (64 - b));
}

#define SIP_ROUND(v0, v1, v2, v3)                                      \
	do {                                                           \
		v0 += v1;                                              \
		v1 = sip_rotl(v1, 13);                                 \
		v1 ^= v0;                                              \
		v0 = sip_rotl(v0, 32);                                 \
		v2 += v3;                                              \
		v3 = sip_rotl(v3, 16);                                 \
		v3 ^= v2;                                              \
		v0 += v3;                                              \
		v3 = sip_rotl(v3, 21);                                 \
		v3 ^= v0;                                              \
		v2 += v1;                                              \
		v1 = sip_rotl(v1, 17);                                 \
		v1 ^= v2;                                              \
		v2 = sip_rotl(v2, 32);                                 \
	} while (0)

uint64_t cwg_siphash24(const uint64_t key[2], const uint8_t *in, size_t len)
{
	uint64_t v0 = key[0] ^ 0x736f6d6570736575ULL;
	uint64_t v1 = key[1] ^ 0x646f72616e646f6dULL;
	uint64_t v2 = key[0] ^ 0x6c7967656e657261ULL;
	uint64_t v3 = key[1] ^ 0x7465646279746573ULL;
	uint64_t m, b = (uint64_t)len << 56;
	size_t i, tail = len & 7;

	for (i = 0; i + 8 <= len; i += 8) {
		m = cwg_get_le64(in + i);
		v3 ^= m;
		SIP_ROUND(v0, v1, v2, v3);
		SIP_ROUND(v0, v1, v2, v3);
		v0 ^= m;
	}
	/* The last 0..7 bytes, little-endian, under the length byte. */
	while (tail--)
		b |= (uint64_t)in[i + tail] << (8 * tail);
	v3 ^= b;
	SIP_ROUND(v0, v1, v2, v3);
	SIP_ROUND(v0, v1, v2, v3);
	v0 ^= b;
	v2 ^= 0xff;
	SIP_ROUND(v0, v1, v2, v3);
	SIP_ROUND(v0, v1, v2, v3);
	SIP_ROUND(v0, v1, v2, v3);
	SIP_ROUND(v0, v1, v2, v3);
	return v0 ^ v1 ^ v2 ^ v3;
}

/*
 * One chained table serves both lookups. Each entry keeps its full 64-bit
 * hash, so growing never rehashes and a chain walk compares keys only on a
 * hash match.
 */

static int table_init(struct cwg_hash_table *t, const uint8_t seed[16])
{
	t->buckets = cwg_zalloc(CWG_LOOKUP_MIN_BUCKETS * sizeof(*t->buckets));
	if (!t->buckets)
		return -CWG_ENOMEM;
	t->mask = CWG_LOOKUP_MIN_BUCKETS - 1;
	t->count = 0;
	t->key[0] = cwg_get_le64(seed);
	t->key[1] = cwg_get_le64(seed + 8);
	return 0;
}

static void table_free(struct cwg_hash_table *t)
{
	cwg_free(t->buckets);
	t->buckets = NULL;
	t->mask = 0;
	t->count = 0;
	cwg_memset(t->key, 0, sizeof(t->key));
}

/* Double the buckets; on allocation failure keep the old ones. */
static void table_grow(struct cwg_hash_table *t)
{
	uint32_t i, n = t->mask + 1;
	struct cwg_hash_entry **nb, *e;

	if (n > UINT32_MAX / 2)
		return;
	nb = cwg_zalloc((size_t)n * 2 * sizeof(*nb));
	if (!nb)
		return;
	for (i = 0; i < n; i++) {
		while ((e = t->buckets[i])) {
			uint32_t b = (uint32_t)e->hash & (2 * n - 1);

			t->buckets[i] = e->next;
			e->next = nb[b];
			nb[b] = e;
		}
	}
	cwg_free(t->buckets);
	t->buckets = nb;
	t->mask = 2 * n - 1;
}

static void table_add(struct cwg_hash_table *t, struct cwg_hash_entry *e,
		      uint64_t hash)
{
	uint32_t b;

	if (t->count >= t->mask + 1)
		table_grow(t);
	e->hash = hash;
	b = (uint32_t)hash & t->mask;
	e->next = t->buckets[b];
	t->buckets[b] = e;
	t->count++;
}

static void table_remove(struct cwg_hash_table *t, struct cwg_hash_entry *e)
{
	struct cwg_hash_entry **p;

	for (p = &t->buckets[(uint32_t)e->hash & t->mask]; *p; p = &(*p)->next) {
		if (*p == e) {
			*p = e->next;
			e->next = NULL;
			t->count--;
			return;
		}
	}
}

/* The chain a hash falls in; callers skip entries whose hash differs. */
static struct cwg_hash_entry *table_chain(const struct cwg_hash_table *t,
					  uint64_t hash)
{
	return t->buckets[(uint32_t)hash & t->mask];
}

/* Peer by public key. */

int cwg_pubkey_table_init(struct cwg_pubkey_table *t, const uint8_t seed[16])
{
	return table_init(&t->ht, seed);
}

void cwg_pubkey_table_free(struct cwg_pubkey_table *t)
{
	table_free(&t->ht);
}

int cwg_pubkey_table_add(struct cwg_pubkey_table *t,
			 struct cwg_pubkey_entry *e)
{
	table_add(&t->ht, &e->h,
		  cwg_siphash24(t->ht.key, e->pubkey, CWG_KEY_LEN));
	return 0;
}

void cwg_pubkey_table_remove(struct cwg_pubkey_table *t,
			     struct cwg_pubkey_entry *e)
{
	table_remove(&t->ht, &e->h);
}

struct cwg_pubkey_entry *cwg_pubkey_table_find(const struct cwg_pubkey_table *t,
					       const uint8_t pubkey[CWG_KEY_LEN])
{
	uint64_t hash = cwg_siphash24(t->ht.key, pubkey, CWG_KEY_LEN);
	struct cwg_hash_entry *h;
	struct cwg_pubkey_entry *e;

	for (h = table_chain(&t->ht, hash); h; h = h->next) {
		e = CWG_CONTAINER_OF(h, struct cwg_pubkey_entry, h);
		if (h->hash == hash &&
		    !cwg_memcmp(e->pubkey, pubkey, CWG_KEY_LEN))
			return e;
	}
	return NULL;
}

/* Session by receiver index. */

static uint64_t index_hash(const struct cwg_index_table *t, uint32_t index)
{
	uint8_t buf[4];

	cwg_put_le32(buf, index);
	return cwg_siphash24(t->ht.key, buf, sizeof(buf));
}

int cwg_index_table_init(struct cwg_index_table *t, const uint8_t seed[16])
{
	return table_init(&t->ht, seed);
}

void cwg_index_table_free(struct cwg_index_table *t)
{
	table_free(&t->ht);
}

int cwg_index_table_insert(struct cwg_index_table *t,
			   struct cwg_index_entry *e)
{
	if (cwg_index_table_find(t, e->index))
		return -CWG_EEXIST;
	table_add(&t->ht, &e->h, index_hash(t, e->index));
	return 0;
}

void cwg_index_table_remove(struct cwg_index_table *t,
			    struct cwg_index_entry *e)
{
	table_remove(&t->ht, &e->h);
}

struct cwg_index_entry *cwg_index_table_find(const struct cwg_index_table *t,
					     uint32_t index)
{
	uint64_t hash = index_hash(t, index);
	struct cwg_hash_entry *h;
	struct cwg_index_entry *e;

	for (h = table_chain(&t->ht, hash); h; h = h->next) {
		e = CWG_CONTAINER_OF(h, struct cwg_index_entry, h);
		if (e->index == index)
			return e;
	}
	return NULL;
}

/*
 * The device's receiver indices: one table for handshakes in flight and
 * sessions, under dev->index_lock, which is taken inside a peer's lock
 * and never around one.
 */

int cwg_index_register(struct cwg_device *dev, struct noise_index *idx,
		       enum noise_index_kind kind)
{
	uint8_t r[4];
	int ret;

	idx->kind = (uint8_t)kind;
	cwg_mutex_lock(&dev->index_lock);
	do {
		dev->rng(dev->rng_ctx, r, sizeof(r));
		idx->entry.index = cwg_get_le32(r);
		ret = cwg_index_table_insert(&dev->index, &idx->entry);
	} while (ret == -CWG_EEXIST);
	idx->registered = ret == 0;
	cwg_mutex_unlock(&dev->index_lock);
	return ret;
}

void cwg_index_unregister(struct cwg_device *dev, struct noise_index *idx)
{
	if (!idx->registered)
		return;
	cwg_mutex_lock(&dev->index_lock);
	cwg_index_table_remove(&dev->index, &idx->entry);
	idx->registered = false;
	cwg_mutex_unlock(&dev->index_lock);
}

void cwg_index_move(struct cwg_device *dev, struct noise_index *from,
		    struct noise_index *to, enum noise_index_kind kind)
{
	to->kind = (uint8_t)kind;
	to->entry.index = from->entry.index;
	cwg_mutex_lock(&dev->index_lock);
	cwg_index_table_remove(&dev->index, &from->entry);
	from->registered = false;
	/* Cannot collide: the number was just freed, under the same lock. */
	to->registered = cwg_index_table_insert(&dev->index, &to->entry) == 0;
	cwg_mutex_unlock(&dev->index_lock);
}

struct cwg_peer *cwg_index_lookup(struct cwg_device *dev, uint32_t index,
				  unsigned int kinds, struct cwg_keypair **kp)
{
	struct cwg_index_entry *e;
	struct noise_index *idx;
	struct cwg_keypair *k;
	struct cwg_peer *peer = NULL;

	cwg_mutex_lock(&dev->index_lock);
	e = cwg_index_table_find(&dev->index, index);
	idx = e ? CWG_CONTAINER_OF(e, struct noise_index, entry) : NULL;
	if (!idx || !(idx->kind & kinds)) {
		/* not ours, or not the kind of message that may name it */
	} else if (idx->kind == CWG_INDEX_HANDSHAKE) {
		peer = CWG_CONTAINER_OF(idx, struct cwg_peer, hs.idx);
	} else {
		k = CWG_CONTAINER_OF(idx, struct cwg_keypair, idx);
		peer = k->peer;
		if (kp) {
			cwg_atomic_add_relaxed(&k->refcount, 1);
			*kp = k;
		}
	}
	cwg_mutex_unlock(&dev->index_lock);
	return peer;
}
