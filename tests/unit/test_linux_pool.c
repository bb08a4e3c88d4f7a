/* SPDX-License-Identifier: MIT */
/* The Linux host's packet buffer pool (src/linux/platform.c). */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "linux/pool.h"
#include "tap.h"

#define POOL 64
#define THREADS 4
#define ROUNDS 20000

struct worker {
	unsigned int seed;
	uint8_t tag;
	int bad;
};

/* Each thread stamps its buffers and checks the stamp before freeing: a
 * buffer handed to two threads at once shows up as a foreign stamp. */
static void *stress(void *arg)
{
	struct worker *w = arg;
	struct cwg_pkt *held[8];

	for (int r = 0; r < ROUNDS; r++) {
		uint32_t want = (uint32_t)(rand_r(&w->seed) % 8) + 1, n;

		n = cwg_pkt_alloc_bulk(held, want, 0);
		for (uint32_t i = 0; i < n; i++) {
			memset(held[i]->data, w->tag, 64);
			held[i]->buf[held[i]->cap - 1] = w->tag;
		}
		for (uint32_t i = 0; i < n; i++) {
			for (int k = 0; k < 64; k++)
				w->bad += held[i]->data[k] != w->tag;
			w->bad += held[i]->buf[held[i]->cap - 1] != w->tag;
			if (r & 1) {
				cwg_pkt_free(held[i]);
			}
		}
		if (!(r & 1)) {
			struct cwg_pkt_list l;

			cwg_pkt_list_init(&l);
			for (uint32_t i = 0; i < n; i++)
				cwg_pkt_list_append(&l, held[i]);
			cwg_pkt_free_list(&l);
		}
	}
	return NULL;
}

int main(void)
{
	struct cwg_pkt *all[POOL + 1], *p;
	struct cwg_pkt_list l;
	struct worker w[THREADS];
	pthread_t th[THREADS];
	uint32_t n;
	int distinct = 1, fresh = 1, bad = 0;

	ok(cwg_pkt_pool_init(POOL) == 0, "pool of %d buffers", POOL);
	/* As the daemon does: libcwg's cwg_pkt_alloc now takes from it. */
	cwg_set_pkt_allocator(&cwg_pool_allocator);
	ok(cwg_pkt_pool_init(POOL + 1) != 0, "a second size is refused");
	ok(cwg_pkt_pool_size() == POOL, "size reported");
	ok(cwg_pkt_pool_available() == POOL, "all free at start");

	p = cwg_pkt_alloc();
	ok(p && p->cap == CWG_PKT_BUF_SIZE &&
	   p->data == p->buf + CWG_DATA_HEADROOM && p->len == 0 && !p->peer,
	   "a fresh buffer: full capacity, data after the headroom");
	ok(p && (size_t)(p->buf + p->cap - p->data) >=
		65535 + CWG_DATA_TAILROOM,
	   "room for a 65535-byte packet plus the core's tail");
	p->data += 5;
	p->len = 100;
	p->ep.family = 6;
	p->ep.port = 1;
	cwg_pkt_free(p);

	n = cwg_pkt_alloc_bulk(all, POOL + 1, 0);
	ok(n == POOL, "bulk allocation stops at the pool size (%u)", n);
	ok(cwg_pkt_alloc() == NULL, "empty pool: NULL, not malloc");
	ok(cwg_pkt_pool_available() == 0, "none available");
	for (uint32_t i = 0; i < n; i++) {
		for (uint32_t j = i + 1; j < n; j++)
			distinct &= all[i] != all[j] && all[i]->buf != all[j]->buf;
		fresh &= all[i]->len == 0 && all[i]->ep.family == 0 &&
			 all[i]->ep.port == 0 &&
			 all[i]->data == all[i]->buf + CWG_DATA_HEADROOM;
	}
	ok(distinct, "every buffer distinct");
	ok(fresh, "reused buffers are reset");

	cwg_pkt_list_init(&l);
	for (uint32_t i = 0; i < 10; i++)
		cwg_pkt_list_append(&l, all[i]);
	cwg_pkt_free_list(&l);
	ok(l.head == NULL && l.count == 0, "free_list empties the list");
	ok(cwg_pkt_pool_available() == 10, "free_list returned 10");
	ok(cwg_pkt_alloc_bulk(all, 10, 4) == 6,
	   "bulk with reserve 4 takes only 6 of 10");
	ok(cwg_pkt_alloc_bulk(all + 6, 10, 4) == 0, "... and nothing more");
	p = cwg_pkt_alloc();
	ok(p != NULL, "a single alloc may use the reserve");
	cwg_pkt_free(p);
	/* all[0..5] were reallocated above, all[6..9] are already free. */
	for (uint32_t i = 0; i < POOL; i++)
		if (i < 6 || i >= 10)
			cwg_pkt_free(all[i]);
	ok(cwg_pkt_pool_available() == POOL, "all back");

	diag("stress: %d threads x %d rounds, seeds 1..%d", THREADS, ROUNDS,
	     THREADS);
	for (int i = 0; i < THREADS; i++) {
		w[i] = (struct worker){ .seed = (unsigned)i + 1,
					.tag = (uint8_t)(0xa0 + i) };
		pthread_create(&th[i], NULL, stress, &w[i]);
	}
	for (int i = 0; i < THREADS; i++) {
		pthread_join(th[i], NULL);
		bad += w[i].bad;
	}
	ok(bad == 0, "no buffer held by two threads at once (%d bad)", bad);
	ok(cwg_pkt_pool_available() == POOL, "every buffer back after stress");
	return done_testing();
}
