/* SPDX-License-Identifier: MIT */
/*
 * Cryptokey routing table: longest-prefix match from an IPv4 or IPv6
 * address to the owner (a peer) of the most specific allowed-IPs prefix.
 *
 * Locking: the table does no locking of its own. The device holds its
 * configuration rwlock (struct cwg_device.cfg_lock): lookups, walks and
 * cwg_allowedips_build_tables under the read side, taken once per batch
 * of packets by each data-path thread, and every change under the write
 * side. Nodes therefore never move or go away while a reader can see
 * them.
 */
#ifndef CWG_ALLOWEDIPS_H
#define CWG_ALLOWEDIPS_H

#include "../base.h"

/* Embedded in each peer: the list of the peer's prefixes, for walks and
 * for removing all of them at once. head is a node index (0: none). */
struct cwg_allowedips_owner {
	uint32_t head;
	uint32_t count;
	uint32_t marked; /* of them, marked (cwg_allowedips_mark_owner) */
};

/* The nodes of one shape and family, packed: node k of the store lives in
 * chunk chunk[k / (nodes a chunk holds)]. */
struct cwg_allowedips_store {
	uint32_t *chunk; /* chunk numbers, in order */
	uint32_t nchunks, cap;
	uint32_t count;	 /* live nodes */
};

struct cwg_allowedips_stride;

struct cwg_allowedips {
	uint32_t root4, root6; /* node indices, 0: empty */
	uint64_t nodes;	       /* live nodes, for memory accounting */
	uint64_t nodes6;       /* of which IPv6 */
	/* Node memory: chunks, found by number (see allowedips.c). */
	uint8_t **dir;
	uint32_t dir_cap, dir_hint;
	struct cwg_allowedips_store store[6];
	/*
	 * Big tries get a table indexed by an address's first 16 bits that
	 * holds where the walk continues and the best match so far, so a
	 * lookup skips the top of the trie (the levels every lookup walks).
	 * Any change makes the tables stale (lookups then ignore them) until
	 * new ones are installed; gen counts the changes, so tables built
	 * from an older trie are never installed.
	 */
	struct cwg_allowedips_stride *stride4, *stride6;
	bool stale;
	uint64_t gen;
	uint64_t stride_min_nodes; /* build a family's table from this size */
};

/* family is 4 or 6; addr is 4 or 16 bytes in network order. */
void cwg_allowedips_init(struct cwg_allowedips *t);
/* Frees every node; owners' lists are left dangling, so call it only when
 * every owner is going away too. */
void cwg_allowedips_free(struct cwg_allowedips *t);

/* Insert addr/cidr for owner, normalizing host bits away. A prefix held by
 * another owner moves to this one (to the end of its list); one the owner
 * holds already keeps its place, unless marked (see
 * cwg_allowedips_mark_owner): then it loses the mark and goes to the end.
 * 0 on success, -CWG_EINVAL on bad family/cidr, -CWG_ENOMEM when out of
 * memory (nothing changed). */
int cwg_allowedips_insert(struct cwg_allowedips *t, int family,
			  const uint8_t *addr, uint8_t cidr,
			  struct cwg_allowedips_owner *owner);
/* Remove addr/cidr if and only if owner holds exactly that prefix.
 * 0 when removed, 1 when it was not there, -CWG_EINVAL on bad
 * family/cidr. */
int cwg_allowedips_remove(struct cwg_allowedips *t, int family,
			  const uint8_t *addr, uint8_t cidr,
			  struct cwg_allowedips_owner *owner);
/* Remove all of owner's prefixes. */
void cwg_allowedips_remove_owner(struct cwg_allowedips *t,
				 struct cwg_allowedips_owner *owner);
/*
 * Replacing an owner's prefixes without a gap: mark them all, insert the
 * new set (a marked prefix inserted again for the same owner loses its
 * mark, and never stopped routing), then sweep: the ones still marked go,
 * and the list is in the order the new set was inserted. Marks change no
 * lookup.
 */
void cwg_allowedips_mark_owner(struct cwg_allowedips *t,
			       struct cwg_allowedips_owner *owner);
void cwg_allowedips_sweep_owner(struct cwg_allowedips *t,
				struct cwg_allowedips_owner *owner);
/* Longest-prefix match; NULL when nothing matches. */
struct cwg_allowedips_owner *
cwg_allowedips_lookup(const struct cwg_allowedips *t, int family,
		      const uint8_t *addr);

/*
 * The lookup tables. Building only reads the trie, so it runs under the
 * read lock, beside lookups; installing takes the write lock and keeps
 * them only if the trie has not changed since (*gen tells). Build gives
 * -CWG_ENOMEM, or 0 and the tables (NULL for a family too small to want
 * one); install takes them over either way. optimize does both, under
 * the write lock. A failed allocation just leaves lookups on the trie.
 */
struct cwg_allowedips_tables {
	struct cwg_allowedips_stride *stride4, *stride6;
	uint64_t gen;
};
int cwg_allowedips_build_tables(const struct cwg_allowedips *t,
				struct cwg_allowedips_tables *out);
/* true when installed (the trie had not changed). */
bool cwg_allowedips_install_tables(struct cwg_allowedips *t,
				   struct cwg_allowedips_tables *tabs);
void cwg_allowedips_optimize(struct cwg_allowedips *t);
static inline bool cwg_allowedips_stale(const struct cwg_allowedips *t)
{
	return t->stale;
}
/* Bytes the lookup tables take now. */
uint64_t cwg_allowedips_stride_bytes(const struct cwg_allowedips *t);
/* Bytes the whole table takes now: nodes (in their chunks), the chunk
 * directory and lists, and the lookup tables; every byte it allocated. */
uint64_t cwg_allowedips_bytes(const struct cwg_allowedips *t);

/* Call fn for each of owner's prefixes (addr normalized), in the order
 * they were inserted. Stops early and returns fn's value when fn returns
 * non-zero; 0 otherwise. */
typedef int (*cwg_allowedips_walk_fn)(void *ctx, int family,
				      const uint8_t *addr, uint8_t cidr);
int cwg_allowedips_walk(const struct cwg_allowedips *t,
			const struct cwg_allowedips_owner *owner,
			cwg_allowedips_walk_fn fn, void *ctx);

#endif
