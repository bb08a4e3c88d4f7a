// SPDX-License-Identifier: MIT
/*
 * The kernel's implementation of <cwg/platform.h>: what the core asks of
 * every host (locks, configuration memory, packet buffers), for cwg.ko.
 *
 * Locks sleep. The core holds its locks across handshake crypto and
 * takes them from every data call, so they are a struct mutex and a
 * struct rw_semaphore, and every core call runs in process context: the
 * configuration from netlink, the data path from workqueues (as the
 * in-tree module's encryption and decryption workers do), the timers
 * from a delayed work item. Nothing calls into the core from softirq or
 * with a spinlock held; the UDP receive hook and ndo_start_xmit only
 * queue skbs and kick a worker.
 *
 * Lockdep: every cwg_mutex is initialised at one call site below and so
 * shares one lock class (likewise every cwg_rwlock). The core nests
 * mutexes of different roles (peer->lock, then dev->index_lock, then a
 * keypair's replay_lock), which a lockdep kernel would report as
 * recursive locking; such a build needs a class per role first (see
 * kmod/README.md). Debian's kernel has no lockdep.
 */
#include <linux/build_bug.h>
#include <linux/lockdep.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/rwsem.h>
#include <linux/sched.h>
#include <linux/slab.h>

#include <cwg/cwg.h>

#include "kmod.h"

/*
 * The core's structures embed struct cwg_mutex and struct cwg_rwlock (64
 * bytes each) and never look inside; the kernel object lives in that
 * storage. A kernel whose mutex or rwsem outgrows it (lockdep, mutex
 * debugging) fails here at build time rather than overrunning.
 */
static struct mutex *km(struct cwg_mutex *m)
{
	BUILD_BUG_ON(sizeof(struct mutex) > sizeof(struct cwg_mutex));
	BUILD_BUG_ON(__alignof__(struct mutex) > __alignof__(struct cwg_mutex));
	return (struct mutex *)(void *)m;
}

/*
 * The core releases read and write holds with one call, so the storage
 * also records the writing task: a task that finds itself there is the
 * writer (a rw_semaphore is not recursive, so no task is ever reader and
 * writer at once, and a reader never sees its own task there).
 */
struct kmod_rwlock {
	struct rw_semaphore sem;
	struct task_struct *writer;
};

static struct kmod_rwlock *kl(struct cwg_rwlock *l)
{
	BUILD_BUG_ON(sizeof(struct kmod_rwlock) > sizeof(struct cwg_rwlock));
	BUILD_BUG_ON(__alignof__(struct kmod_rwlock) >
		     __alignof__(struct cwg_rwlock));
	return (struct kmod_rwlock *)(void *)l;
}

void cwg_mutex_init(struct cwg_mutex *m)
{
	mutex_init(km(m));
}

void cwg_mutex_destroy(struct cwg_mutex *m)
{
	mutex_destroy(km(m));
}

void cwg_mutex_lock(struct cwg_mutex *m)
{
	mutex_lock(km(m));
}

void cwg_mutex_unlock(struct cwg_mutex *m)
{
	mutex_unlock(km(m));
}

/* rw_semaphore: a waiting writer holds back new readers, so
 * configuration is not starved by a busy data path (the POSIX host asks
 * pthreads for the same with PREFER_WRITER). */
void cwg_rwlock_init(struct cwg_rwlock *l)
{
	init_rwsem(&kl(l)->sem);
	kl(l)->writer = NULL;
}

void cwg_rwlock_destroy(struct cwg_rwlock *l)
{
	WARN_ON_ONCE(rwsem_is_locked(&kl(l)->sem));
}

void cwg_rwlock_rdlock(struct cwg_rwlock *l)
{
	down_read(&kl(l)->sem);
}

void cwg_rwlock_wrlock(struct cwg_rwlock *l)
{
	down_write(&kl(l)->sem);
	WRITE_ONCE(kl(l)->writer, current);
}

void cwg_rwlock_unlock(struct cwg_rwlock *l)
{
	struct kmod_rwlock *k = kl(l);

	if (READ_ONCE(k->writer) == current) {
		WRITE_ONCE(k->writer, NULL);
		up_write(&k->sem);
	} else {
		up_read(&k->sem);
	}
}

#ifdef CWG_DEBUG_LOCKS
/* Without lockdep the kernel cannot say who holds a mutex; it can say
 * that somebody does, which still catches a forgotten lock. */
void cwg_mutex_assert_held(struct cwg_mutex *m)
{
	lockdep_assert_held(km(m));
	WARN_ON_ONCE(!mutex_is_locked(km(m)));
}

void cwg_rwlock_assert_wrlocked(struct cwg_rwlock *l)
{
	lockdep_assert_held_write(&kl(l)->sem);
	WARN_ON_ONCE(READ_ONCE(kl(l)->writer) != current);
}
#endif

/*
 * Configuration and handshake memory (peers, trie nodes, keypairs, the
 * index table, which grows with the peer count): kvzalloc, so a large
 * table may come from vmalloc instead of failing for want of contiguous
 * pages. Never called per data packet. GFP_KERNEL: the core allocates
 * only in process context (see the top of this file).
 */
void *cwg_zalloc(size_t size)
{
	if (size > INT_MAX)
		return NULL; /* kvmalloc would warn; the core reports ENOMEM */
	return kvzalloc(size, GFP_KERNEL);
}

void cwg_free(void *p)
{
	kvfree(p);
}

/*
 * Packet buffers. Stage 1: the core only takes buffers for control
 * messages (the largest, an initiation, is 148 bytes; a keepalive is 32
 * sealed), so a kmalloc'd header plus CWG_KMOD_PKT_CAP bytes serves, and
 * the self-test's device pair uses the same for its data packets. The
 * plan for skb-backed packets is in kmod/README.md.
 */
struct cwg_pkt *cwg_pkt_alloc(void)
{
	struct cwg_pkt *p = kmalloc(sizeof(*p) + CWG_KMOD_PKT_CAP, GFP_KERNEL);

	if (!p)
		return NULL;
	memset(p, 0, sizeof(*p));
	p->buf = (uint8_t *)(p + 1);
	p->cap = CWG_KMOD_PKT_CAP;
	p->data = p->buf + CWG_DATA_HEADROOM;
	return p;
}

void cwg_pkt_free(struct cwg_pkt *pkt)
{
	kfree(pkt);
}
