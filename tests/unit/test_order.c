/* SPDX-License-Identifier: MIT */
/*
 * The data threads' batch ordering (src/linux/order.c): threads take
 * numbered items from a shared source in batches, work on them for
 * random times with no lock held, and write them out; the output must be
 * the source's order exactly, and the work must really have overlapped.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cwg/cwg.h>

#include "linux/order.h"
#include "tap.h"

#define THREADS 4
#define ITEMS 20000
#define MAX_TAKE 7

static struct cwg_order order;
static uint32_t source;		/* next item; under order.in */
static uint32_t out[ITEMS];
static uint32_t nout;		/* under the turn */
static int busy, max_busy;	/* threads in the parallel part */
static int out_of_turn;		/* writers that found another writing */
static int writing;

struct worker {
	unsigned int seed;
	uint32_t batches, empty;
};

static void *run(void *arg)
{
	struct worker *w = arg;

	for (;;) {
		uint32_t first, n, want = (uint32_t)rand_r(&w->seed) % MAX_TAKE;
		uint64_t t;
		int b;

		cwg_order_in_lock(&order);
		first = source;
		n = ITEMS - first < want ? ITEMS - first : want;
		source += n;
		t = n ? cwg_order_ticket(&order) : CWG_ORDER_NONE;
		cwg_order_in_unlock(&order);
		if (!n) {
			if (first == ITEMS)
				return NULL;
			w->empty++; /* an empty read takes no ticket */
			continue;
		}
		w->batches++;
		b = __atomic_add_fetch(&busy, 1, __ATOMIC_RELAXED);
		for (int m = __atomic_load_n(&max_busy, __ATOMIC_RELAXED);
		     b > m && !__atomic_compare_exchange_n(&max_busy, &m, b,
							   false,
							   __ATOMIC_RELAXED,
							   __ATOMIC_RELAXED);)
			;
		if (rand_r(&w->seed) % 8 == 0)
			usleep((useconds_t)(rand_r(&w->seed) % 200));
		__atomic_sub_fetch(&busy, 1, __ATOMIC_RELAXED);

		cwg_order_wait(&order, t);
		if (__atomic_exchange_n(&writing, 1, __ATOMIC_ACQUIRE))
			out_of_turn++;
		for (uint32_t i = 0; i < n; i++)
			out[nout++] = first + i;
		if (rand_r(&w->seed) % 16 == 0)
			sched_yield();
		__atomic_store_n(&writing, 0, __ATOMIC_RELEASE);
		cwg_order_done(&order, t);
	}
}

/*
 * The handshake backlog several RX threads share for one socket: threads
 * taking full batches of handshakes in turn add up to one count, which a
 * drained batch restarts. With a count per thread (as before), two
 * threads splitting a 512-message flood each saw 256 and the device never
 * went under load.
 */
static uint32_t backlog, backlog_max;

static void *note_batches(void *arg)
{
	(void)arg;
	for (int i = 0; i < 8; i++) {
		cwg_order_in_lock(&order);
		uint32_t b = cwg_backlog_note(&backlog, 32, true);

		backlog_max = b > backlog_max ? b : backlog_max;
		cwg_order_in_unlock(&order);
		sched_yield();
	}
	return NULL;
}

static void test_backlog(void)
{
	pthread_t th[2];

	cwg_order_init(&order);
	for (int i = 0; i < 2; i++)
		pthread_create(&th[i], NULL, note_batches, NULL);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	ok(backlog == 512 && backlog_max == 512,
	   "two threads' 16 full batches of 32 handshakes: a backlog of %u "
	   "(the device's threshold is %u)", backlog, CWG_UNDER_LOAD_BACKLOG);
	ok(cwg_backlog_note(&backlog, 3, false) == 3,
	   "a batch that drains the socket restarts the count at its own");
	cwg_order_destroy(&order);
}

int main(void)
{
	struct worker w[THREADS];
	pthread_t th[THREADS];
	unsigned int seed = (unsigned int)time(NULL) ^ (unsigned int)getpid();
	uint32_t bad = 0, batches = 0;

	if (getenv("SEED"))
		seed = (unsigned int)strtoul(getenv("SEED"), NULL, 0);
	diag("seed=%u (rerun with SEED=%u)", seed, seed);
	cwg_order_init(&order);
	for (int i = 0; i < THREADS; i++) {
		w[i] = (struct worker){ .seed = seed + (unsigned int)i };
		pthread_create(&th[i], NULL, run, &w[i]);
	}
	for (int i = 0; i < THREADS; i++) {
		pthread_join(th[i], NULL);
		batches += w[i].batches;
		ok(w[i].batches > 0, "thread %d took batches (%u, %u empty)",
		   i, w[i].batches, w[i].empty);
	}
	cwg_order_destroy(&order);

	ok(nout == ITEMS, "every item written once (%u of %u)", nout, ITEMS);
	for (uint32_t i = 0; i < nout; i++)
		bad += out[i] != i;
	ok(!bad, "items written in the order taken (%u out of place)", bad);
	ok(!out_of_turn, "one writer at a time (%d overlaps)", out_of_turn);
	ok(max_busy >= 2, "the work itself ran in parallel (up to %d at once)",
	   max_busy);
	diag("%u batches", batches);
	test_backlog();
	return done_testing();
}
