/* SPDX-License-Identifier: MIT */
/* The daemon's packet buffer pool: what libcwg's cwg_pkt_alloc() and
 * cwg_pkt_free() hand out once main installs it. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <cwg/cwg.h>
#include "pool.h"

/*
 * The packet pool. Headers live in their own array and the bytes in one
 * MAP_NORESERVE mapping, so untouched buffers cost no resident memory.
 * pool.lock protects the free stack, nfree and the owned[] flags; nothing
 * else is shared. The stack is LIFO so the same few buffers (and their
 * already-resident pages) are reused while traffic is light. owned[]
 * catches a double free, which would otherwise hand one buffer to two
 * threads at once.
 */
static struct {
	pthread_mutex_t lock;
	pthread_once_t once;
	uint32_t want;
	uint32_t count;
	uint32_t nfree;
	struct cwg_pkt *headers;
	struct cwg_pkt **stack;
	uint8_t *owned;
	uint8_t *mem;
} pool = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.once = PTHREAD_ONCE_INIT,
	.want = CWG_PKT_POOL_DEFAULT,
};

static void pool_setup(void)
{
	size_t n = pool.want, bytes = n * (size_t)CWG_PKT_BUF_SIZE;
	void *mem;

	mem = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (mem == MAP_FAILED)
		return;
	pool.headers = calloc(n, sizeof(*pool.headers));
	pool.stack = calloc(n, sizeof(*pool.stack));
	pool.owned = calloc(n, 1);
	if (!pool.headers || !pool.stack || !pool.owned) {
		free(pool.headers);
		free(pool.stack);
		free(pool.owned);
		munmap(mem, bytes);
		return;
	}
	pool.mem = mem;
	for (size_t i = 0; i < n; i++) {
		pool.headers[i].buf = pool.mem + i * (size_t)CWG_PKT_BUF_SIZE;
		pool.headers[i].cap = CWG_PKT_BUF_SIZE;
		/* Pushed in reverse so the first allocations use buffer 0.. */
		pool.stack[i] = &pool.headers[n - 1 - i];
	}
	pool.nfree = (uint32_t)n;
	pool.count = (uint32_t)n;
}

static bool pool_ready(void)
{
	pthread_once(&pool.once, pool_setup);
	return pool.count != 0;
}

int cwg_pkt_pool_init(uint32_t count)
{
	if (!count)
		return -EINVAL;
	pthread_mutex_lock(&pool.lock);
	pool.want = count;
	pthread_mutex_unlock(&pool.lock);
	if (!pool_ready())
		return -ENOMEM;
	return pool.count == count ? 0 : -EEXIST;
}

uint32_t cwg_pkt_pool_size(void)
{
	return pool_ready() ? pool.count : 0;
}

uint32_t cwg_pkt_pool_available(void)
{
	uint32_t n;

	if (!pool_ready())
		return 0;
	pthread_mutex_lock(&pool.lock);
	n = pool.nfree;
	pthread_mutex_unlock(&pool.lock);
	return n;
}

static void pkt_reset(struct cwg_pkt *p)
{
	p->next = NULL;
	p->data = p->buf + CWG_DATA_HEADROOM;
	p->len = 0;
	p->cap = CWG_PKT_BUF_SIZE;
	memset(&p->ep, 0, sizeof(p->ep));
	p->peer = NULL;
	p->kp = NULL;
	p->kp_last = false;
}

static size_t pkt_index(const struct cwg_pkt *p)
{
	size_t i = (size_t)(p - pool.headers);

	if (p < pool.headers || i >= pool.count || !pool.owned[i]) {
		/* Memory corruption in the making: stop here, loudly. */
		fprintf(stderr, "cwg: freeing a packet buffer not in use\n");
		abort();
	}
	return i;
}

uint32_t cwg_pkt_alloc_bulk(struct cwg_pkt **out, uint32_t n,
			    uint32_t reserve)
{
	uint32_t got = 0;

	if (!pool_ready())
		return 0;
	pthread_mutex_lock(&pool.lock);
	while (got < n && pool.nfree > reserve) {
		struct cwg_pkt *p = pool.stack[--pool.nfree];

		pool.owned[p - pool.headers] = 1;
		out[got++] = p;
	}
	pthread_mutex_unlock(&pool.lock);
	for (uint32_t i = 0; i < got; i++)
		pkt_reset(out[i]);
	return got;
}

static struct cwg_pkt *pool_alloc(void *ctx)
{
	struct cwg_pkt *p;

	(void)ctx;
	return cwg_pkt_alloc_bulk(&p, 1, 0) ? p : NULL;
}

static void pool_free(void *ctx, struct cwg_pkt *p)
{
	(void)ctx;
	if (!p)
		return;
	pthread_mutex_lock(&pool.lock);
	pool.owned[pkt_index(p)] = 0;
	pool.stack[pool.nfree++] = p;
	pthread_mutex_unlock(&pool.lock);
}

void cwg_pkt_free_list(struct cwg_pkt_list *l)
{
	struct cwg_pkt *p = l->head;

	if (p) {
		pthread_mutex_lock(&pool.lock);
		while (p) {
			struct cwg_pkt *next = p->next;

			pool.owned[pkt_index(p)] = 0;
			pool.stack[pool.nfree++] = p;
			p = next;
		}
		pthread_mutex_unlock(&pool.lock);
	}
	cwg_pkt_list_init(l);
}

const struct cwg_pkt_allocator cwg_pool_allocator = {
	.alloc = pool_alloc,
	.free = pool_free,
};
