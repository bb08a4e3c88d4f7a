/* SPDX-License-Identifier: MIT */
/*
 * cwg_pkt_alloc and cwg_pkt_free for libcwg: the host's allocator when it
 * installed one (cwg_set_pkt_allocator: the daemon's fixed pool), else a
 * free list of malloc'd buffers, grown on demand up to
 * CWG_PKT_DEFAULT_MAX and recycled, so a steady flow allocates nothing.
 * A buffer's pages become resident only as packets fill them.
 *
 * Locking: lock guards the free list and the count; the installed
 * allocator is read with acquire loads (it is set before any device
 * exists, and restored only after the last one is gone).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <cwg/cwg.h>

#include "../base.h"

static struct {
	pthread_mutex_t lock;
	struct cwg_pkt *free_list;
	uint32_t count; /* buffers that exist, free or not */
	const struct cwg_pkt_allocator *host;
} pkts = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
};

void cwg_set_pkt_allocator(const struct cwg_pkt_allocator *a)
{
	__atomic_store_n(&pkts.host, a, __ATOMIC_RELEASE);
}

static void pkt_reset(struct cwg_pkt *p)
{
	p->next = NULL;
	p->data = p->buf + CWG_DATA_HEADROOM;
	p->len = 0;
	memset(&p->ep, 0, sizeof(p->ep));
	p->peer = NULL;
	p->kp = NULL;
	p->counter = 0;
	p->kp_last = false;
}

/* One allocation holds the header and the bytes after it. */
static struct cwg_pkt *pkt_new(void)
{
	struct cwg_pkt *p = malloc(sizeof(*p) + CWG_PKT_DEFAULT_CAP);

	if (!p)
		return NULL;
	p->buf = (uint8_t *)(p + 1);
	p->cap = CWG_PKT_DEFAULT_CAP;
	return p;
}

struct cwg_pkt *cwg_pkt_alloc(void)
{
	const struct cwg_pkt_allocator *a =
		__atomic_load_n(&pkts.host, __ATOMIC_ACQUIRE);
	struct cwg_pkt *p = NULL;
	bool grow = false;

	if (a)
		return a->alloc(a->ctx);
	pthread_mutex_lock(&pkts.lock);
	if (pkts.free_list) {
		p = pkts.free_list;
		pkts.free_list = p->next;
	} else if (pkts.count < CWG_PKT_DEFAULT_MAX) {
		pkts.count++;
		grow = true;
	}
	pthread_mutex_unlock(&pkts.lock);
	if (grow) {
		p = pkt_new();
		if (!p) {
			pthread_mutex_lock(&pkts.lock);
			pkts.count--;
			pthread_mutex_unlock(&pkts.lock);
		}
	}
	if (p)
		pkt_reset(p);
	return p;
}

void cwg_pkt_free(struct cwg_pkt *p)
{
	const struct cwg_pkt_allocator *a =
		__atomic_load_n(&pkts.host, __ATOMIC_ACQUIRE);

	if (!p)
		return;
	if (a) {
		a->free(a->ctx, p);
		return;
	}
	pthread_mutex_lock(&pkts.lock);
	p->next = pkts.free_list;
	pkts.free_list = p;
	pthread_mutex_unlock(&pkts.lock);
}
