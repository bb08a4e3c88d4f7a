/* SPDX-License-Identifier: MIT */
#include "order.h"

void cwg_order_init(struct cwg_order *o)
{
	pthread_mutex_init(&o->in, NULL);
	pthread_mutex_init(&o->lock, NULL);
	pthread_cond_init(&o->cond, NULL);
	o->next = 0;
	o->turn = 0;
}

void cwg_order_destroy(struct cwg_order *o)
{
	pthread_cond_destroy(&o->cond);
	pthread_mutex_destroy(&o->lock);
	pthread_mutex_destroy(&o->in);
}

void cwg_order_in_lock(struct cwg_order *o)
{
	pthread_mutex_lock(&o->in);
}

void cwg_order_in_unlock(struct cwg_order *o)
{
	pthread_mutex_unlock(&o->in);
}

uint64_t cwg_order_ticket(struct cwg_order *o)
{
	return o->next++;
}

void cwg_order_wait(struct cwg_order *o, uint64_t t)
{
	/* The common case with one thread, or with the other threads
	 * idle: our turn already. An unlocked peek would race with done's
	 * store only in the direction of taking the lock needlessly. */
	if (__atomic_load_n(&o->turn, __ATOMIC_ACQUIRE) == t)
		return;
	pthread_mutex_lock(&o->lock);
	while (__atomic_load_n(&o->turn, __ATOMIC_RELAXED) != t)
		pthread_cond_wait(&o->cond, &o->lock);
	pthread_mutex_unlock(&o->lock);
}

void cwg_order_done(struct cwg_order *o, uint64_t t)
{
	pthread_mutex_lock(&o->lock);
	__atomic_store_n(&o->turn, t + 1, __ATOMIC_RELEASE);
	pthread_cond_broadcast(&o->cond);
	pthread_mutex_unlock(&o->lock);
}
