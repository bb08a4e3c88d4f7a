/* SPDX-License-Identifier: MIT */
/*
 * libcwg's POSIX host for <cwg/platform.h>: pthread locks and
 * calloc-backed configuration memory. The packet buffers are in pkt.c
 * (the fuzzers bring their own).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "../base.h"

/*
 * The opaque storage holds the pthread object and, for CWG_DEBUG_LOCKS,
 * the thread that holds it (0: none; written by the holder, read by
 * anyone, hence atomics).
 */
struct host_mutex {
	pthread_mutex_t m;
	pthread_t owner;
};
struct host_rwlock {
	pthread_rwlock_t l;
	pthread_t writer;
};
_Static_assert(sizeof(struct host_mutex) <= sizeof(struct cwg_mutex),
	       "struct cwg_mutex too small");
_Static_assert(sizeof(struct host_rwlock) <= sizeof(struct cwg_rwlock),
	       "struct cwg_rwlock too small");

static struct host_mutex *hm(struct cwg_mutex *m)
{
	return (struct host_mutex *)(void *)m;
}

static struct host_rwlock *hl(struct cwg_rwlock *l)
{
	return (struct host_rwlock *)(void *)l;
}

#ifdef CWG_DEBUG_LOCKS
static void set_owner(pthread_t *slot, bool mine)
{
	__atomic_store_n(slot, mine ? pthread_self() : (pthread_t)0,
			 __ATOMIC_RELAXED);
}

static bool is_owner(pthread_t *slot)
{
	return __atomic_load_n(slot, __ATOMIC_RELAXED) == pthread_self();
}

static void lock_violation(const char *what, const void *lock)
{
	fprintf(stderr,
		"cwg: lock rule broken: %s %p not held by this "
		"thread\n",
		what, lock);
	abort();
}

void cwg_mutex_assert_held(struct cwg_mutex *m)
{
	if (!is_owner(&hm(m)->owner))
		lock_violation("mutex", m);
}

void cwg_rwlock_assert_wrlocked(struct cwg_rwlock *l)
{
	if (!is_owner(&hl(l)->writer))
		lock_violation("rwlock (write)", l);
}
#else
static void set_owner(pthread_t *slot, bool mine)
{
	(void)slot;
	(void)mine;
}

static bool is_owner(pthread_t *slot)
{
	(void)slot;
	return false;
}
#endif

void cwg_mutex_init(struct cwg_mutex *m)
{
	pthread_mutex_init(&hm(m)->m, NULL);
	hm(m)->owner = 0;
}
void cwg_mutex_destroy(struct cwg_mutex *m)
{
	pthread_mutex_destroy(&hm(m)->m);
}
void cwg_mutex_lock(struct cwg_mutex *m)
{
	pthread_mutex_lock(&hm(m)->m);
	set_owner(&hm(m)->owner, true);
}
void cwg_mutex_unlock(struct cwg_mutex *m)
{
	set_owner(&hm(m)->owner, false);
	pthread_mutex_unlock(&hm(m)->m);
}
void cwg_rwlock_init(struct cwg_rwlock *l)
{
	pthread_rwlockattr_t attr;

	/* Writers (configuration) must not starve behind a busy data path. */
	pthread_rwlockattr_init(&attr);
	pthread_rwlockattr_setkind_np(&attr,
				      PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&hl(l)->l, &attr);
	pthread_rwlockattr_destroy(&attr);
	hl(l)->writer = 0;
}
void cwg_rwlock_destroy(struct cwg_rwlock *l)
{
	pthread_rwlock_destroy(&hl(l)->l);
}
void cwg_rwlock_rdlock(struct cwg_rwlock *l)
{
	pthread_rwlock_rdlock(&hl(l)->l);
}
void cwg_rwlock_wrlock(struct cwg_rwlock *l)
{
	pthread_rwlock_wrlock(&hl(l)->l);
	set_owner(&hl(l)->writer, true);
}
void cwg_rwlock_unlock(struct cwg_rwlock *l)
{
	/* A reader cannot be the writer: only the writer clears it. */
	if (is_owner(&hl(l)->writer))
		set_owner(&hl(l)->writer, false);
	pthread_rwlock_unlock(&hl(l)->l);
}

void *cwg_zalloc(size_t size)
{
	return calloc(1, size);
}
void cwg_free(void *p)
{
	free(p);
}
