/* SPDX-License-Identifier: MIT */
/*
 * The host side of src/core/platform.h for Linux user space: pthread locks
 * and calloc-backed configuration memory. The packet buffers are in
 * pool.c (the fuzzers bring their own).
 */
#include <pthread.h>
#include <stdlib.h>

#include "core/platform.h"

_Static_assert(sizeof(pthread_mutex_t) <= sizeof(struct cwg_mutex),
	       "struct cwg_mutex too small for pthread_mutex_t");
_Static_assert(sizeof(pthread_rwlock_t) <= sizeof(struct cwg_rwlock),
	       "struct cwg_rwlock too small for pthread_rwlock_t");

void cwg_mutex_init(struct cwg_mutex *m)
{
	pthread_mutex_init((pthread_mutex_t *)(void *)m, NULL);
}
void cwg_mutex_destroy(struct cwg_mutex *m)
{
	pthread_mutex_destroy((pthread_mutex_t *)(void *)m);
}
void cwg_mutex_lock(struct cwg_mutex *m)
{
	pthread_mutex_lock((pthread_mutex_t *)(void *)m);
}
void cwg_mutex_unlock(struct cwg_mutex *m)
{
	pthread_mutex_unlock((pthread_mutex_t *)(void *)m);
}
void cwg_rwlock_init(struct cwg_rwlock *l)
{
	pthread_rwlockattr_t attr;

	/* Writers (configuration) must not starve behind a busy data path. */
	pthread_rwlockattr_init(&attr);
	pthread_rwlockattr_setkind_np(&attr,
				      PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init((pthread_rwlock_t *)(void *)l, &attr);
	pthread_rwlockattr_destroy(&attr);
}
void cwg_rwlock_destroy(struct cwg_rwlock *l)
{
	pthread_rwlock_destroy((pthread_rwlock_t *)(void *)l);
}
void cwg_rwlock_rdlock(struct cwg_rwlock *l)
{
	pthread_rwlock_rdlock((pthread_rwlock_t *)(void *)l);
}
void cwg_rwlock_wrlock(struct cwg_rwlock *l)
{
	pthread_rwlock_wrlock((pthread_rwlock_t *)(void *)l);
}
void cwg_rwlock_unlock(struct cwg_rwlock *l)
{
	pthread_rwlock_unlock((pthread_rwlock_t *)(void *)l);
}

void *cwg_zalloc(size_t size)
{
	return calloc(1, size);
}
void cwg_free(void *p)
{
	free(p);
}
