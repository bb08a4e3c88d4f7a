/* SPDX-License-Identifier: MIT */
/*
 * Hash tables for the two lookups that untrusted input drives: peer by
 * public key (handshake initiations name the peer only by its key) and
 * session by 32-bit receiver index (every response, cookie reply and data
 * packet). Both hash with SipHash-2-4 under a random per-device key, so an
 * attacker who picks keys or indices cannot aim for one bucket. Chained,
 * intrusive, growing by doubling (the load factor stays at or below 1).
 *
 * Locking: none inside; see the users in device.c.
 */
#ifndef CWG_LOOKUP_H
#define CWG_LOOKUP_H

#include "../base.h"

uint64_t cwg_siphash24(const uint64_t key[2], const uint8_t *in, size_t len);

/* The chained table both lookups use; entries embed a cwg_hash_entry. */
struct cwg_hash_entry {
	struct cwg_hash_entry *next;
	uint64_t hash;
};
struct cwg_hash_table {
	struct cwg_hash_entry **buckets;
	uint32_t mask; /* bucket count - 1 */
	uint32_t count;
	uint64_t key[2];
};

struct cwg_pubkey_entry {
	struct cwg_hash_entry h;
	uint8_t pubkey[CWG_KEY_LEN];
};
struct cwg_pubkey_table {
	struct cwg_hash_table ht;
};
/* seed: 16 random bytes. 0, or -CWG_ENOMEM. */
int cwg_pubkey_table_init(struct cwg_pubkey_table *t, const uint8_t seed[16]);
void cwg_pubkey_table_free(struct cwg_pubkey_table *t);
/* The caller has checked the key is not present. Cannot fail: 0. */
int cwg_pubkey_table_add(struct cwg_pubkey_table *t,
			 struct cwg_pubkey_entry *e);
void cwg_pubkey_table_remove(struct cwg_pubkey_table *t,
			     struct cwg_pubkey_entry *e);
struct cwg_pubkey_entry *cwg_pubkey_table_find(
	const struct cwg_pubkey_table *t, const uint8_t pubkey[CWG_KEY_LEN]);

struct cwg_index_entry {
	struct cwg_hash_entry h;
	uint32_t index;
};
struct cwg_index_table {
	struct cwg_hash_table ht;
};
int cwg_index_table_init(struct cwg_index_table *t, const uint8_t seed[16]);
void cwg_index_table_free(struct cwg_index_table *t);
/* Insert e under e->index. Returns 0, or -CWG_EEXIST when that index is
 * already taken (the caller draws another random index and tries
 * again). */
int cwg_index_table_insert(struct cwg_index_table *t,
			   struct cwg_index_entry *e);
void cwg_index_table_remove(struct cwg_index_table *t,
			    struct cwg_index_entry *e);
struct cwg_index_entry *cwg_index_table_find(const struct cwg_index_table *t,
					     uint32_t index);

#endif
