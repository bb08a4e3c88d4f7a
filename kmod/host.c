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
#include <linux/netdevice.h>

#include <cwg/cwg.h>

#include "kmod.h"
#include "kpkt.h"

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
	/* charged to the memory cgroup of whoever configures (a container's
	 * root may, in its own namespace) */
	return kvzalloc(size, GFP_KERNEL_ACCOUNT);
}

void cwg_free(void *p)
{
	kvfree(p);
}

/*
 * Packet buffers: sk_buffs with the core's descriptor in front (kpkt.h).
 * cwg_pkt_alloc serves control messages and keepalives: an skb with room
 * for the descriptor, the outer headers and CWG_KMOD_PKT_CAP bytes.
 * GFP_KERNEL: the core asks only from process context.
 */
/* The descriptor of an skb with room for it at skb->head (KPKT_HEAD):
 * data and len are the skb's. */
static struct cwg_pkt *kpkt_in_head(struct sk_buff *skb)
{
	struct kpkt *k = (struct kpkt *)skb->head;

	memset(k, 0, sizeof(*k));
	k->skb = skb;
	k->where = KPKT_HEAD;
	k->pkt.buf = skb->head + KPKT_RESERVE;
	k->pkt.data = skb->data;
	k->pkt.len = skb->len;
	k->pkt.cap = skb_end_pointer(skb) - k->pkt.buf;
	return &k->pkt;
}

struct cwg_pkt *cwg_pkt_alloc(void)
{
	unsigned int front = KPKT_RESERVE + CWG_DATA_HEADROOM +
			     KPKT_OUTER_HEADROOM + LL_MAX_HEADER;
	struct sk_buff *skb = alloc_skb(front + CWG_KMOD_PKT_CAP, GFP_KERNEL);

	if (!skb)
		return NULL;
	skb_reserve(skb, front);
	return kpkt_in_head(skb);
}

void cwg_pkt_free(struct cwg_pkt *pkt)
{
	struct kpkt *k;
	struct sk_buff *skb;

	if (!pkt)
		return;
	k = to_kpkt(pkt);
	skb = k->skb;
	if (k->where == KPKT_SLOT)
		k->skb = NULL;
	kfree_skb(skb);
}

struct cwg_pkt *kpkt_from_tx(struct sk_buff *skb)
{
	int head, tail;

	if (skb_linearize(skb))
		goto drop;
	head = KPKT_HEADROOM + KPKT_OUTER_HEADROOM - (int)skb_headroom(skb);
	tail = CWG_DATA_TAILROOM - (int)skb_tailroom(skb);
	if ((head > 0 || tail > 0 || skb_cloned(skb)) &&
	    pskb_expand_head(skb, head > 0 ? ALIGN(head, NET_SKB_PAD) : 0,
			     tail > 0 ? tail : 0, GFP_KERNEL))
		goto drop;
	return kpkt_in_head(skb);
drop:
	kfree_skb(skb);
	return NULL;
}

struct cwg_pkt *kpkt_from_rx(struct kpkt *k, struct sk_buff *skb,
			     const struct cwg_endpoint *ep)
{
	if (skb_linearize(skb) ||
	    (skb_cloned(skb) && pskb_expand_head(skb, 0, 0, GFP_KERNEL))) {
		kfree_skb(skb);
		return NULL;
	}
	memset(k, 0, sizeof(*k));
	k->skb = skb;
	k->where = KPKT_SLOT;
	k->pkt.buf = skb->head;
	k->pkt.data = skb->data;
	k->pkt.len = skb->len;
	k->pkt.cap = skb_end_pointer(skb) - skb->head;
	k->pkt.ep = *ep;
	return &k->pkt;
}

struct sk_buff *kpkt_take_skb(struct cwg_pkt *p)
{
	struct kpkt *k = to_kpkt(p);
	struct sk_buff *skb = k->skb;
	u8 *data = p->data;
	u32 len = p->len;

	if (k->where == KPKT_SLOT)
		k->skb = NULL;
	/* Linear, and [data, data + len) inside [head, end): the core kept
	 * within buf and cap, which lie inside the skb. */
	skb->data = data;
	skb->len = 0;
	skb_reset_tail_pointer(skb);
	__skb_put(skb, len);
	return skb;
}

void kpkt_reset(struct sk_buff *skb, bool sending)
{
	u32 hash = skb->hash;
	u8 l4_hash = skb->l4_hash, sw_hash = skb->sw_hash;

	skb_scrub_packet(skb, true);
	memset(&skb->headers, 0, sizeof(skb->headers));
	if (sending) {
		skb->hash = hash;
		skb->l4_hash = l4_hash;
		skb->sw_hash = sw_hash;
	}
	skb->queue_mapping = 0;
	skb->nohdr = 0;
	skb->peeked = 0;
	skb->mac_len = 0;
	skb->dev = NULL;
	skb->hdr_len = skb_headroom(skb);
	skb_reset_mac_header(skb);
	skb_reset_network_header(skb);
	skb_reset_transport_header(skb);
	skb_reset_inner_headers(skb);
}
