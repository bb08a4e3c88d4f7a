/* SPDX-License-Identifier: MIT */
/*
 * The daemon's packet buffer pool, behind libcwg's cwg_pkt_alloc and
 * cwg_pkt_free once installed (cwg_set_pkt_allocator(&cwg_pool_allocator)).
 *
 * The pool is a fixed number of fixed-size buffers carved out of one
 * anonymous mapping at start-up, so the data path never calls malloc and
 * the daemon's packet memory is bounded. Each buffer holds the largest
 * packet a TUN (MTU up to 65535) or a UDP socket can hand over, plus the
 * core's header and tag room. Only the pages actually written become
 * resident, so a 1420-byte MTU costs about one page per buffer in use.
 */
#ifndef CWG_LINUX_POOL_H
#define CWG_LINUX_POOL_H

#include <cwg/cwg.h>

/* 65535-byte plaintext + header before + padding and tag after, rounded. */
#define CWG_PKT_BUF_SIZE (65536 + 64)
#define CWG_PKT_POOL_DEFAULT 2048

/*
 * Sets the pool size before its first use (the first cwg_pkt_alloc sets
 * it up with CWG_PKT_POOL_DEFAULT otherwise). 0, -ENOMEM, or -EEXIST when
 * the pool already exists with another size.
 */
int cwg_pkt_pool_init(uint32_t count);
uint32_t cwg_pkt_pool_size(void);
uint32_t cwg_pkt_pool_available(void);

/*
 * Up to n buffers into out[], but only while more than `reserve` stay
 * free: bulk readers (the TUN) leave room for the packets that keep
 * sessions alive (handshakes, received data). Returns how many.
 */
uint32_t cwg_pkt_alloc_bulk(struct cwg_pkt **out, uint32_t n,
			    uint32_t reserve);
/* Frees every packet on the list (one lock round trip) and empties it. */
void cwg_pkt_free_list(struct cwg_pkt_list *l);

extern const struct cwg_pkt_allocator cwg_pool_allocator;

#endif
