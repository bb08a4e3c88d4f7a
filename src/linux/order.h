/* SPDX-License-Identifier: MIT */
/*
 * Keeping batches in order across data threads.
 *
 * Several threads serve one direction (TUN to UDP, or UDP to TUN). Each
 * takes a batch from the shared source, works on it with no lock held
 * (segmenting, sealing or opening), and writes it out. What must not
 * change is the order: a TCP flow whose segments overtake each other
 * slows to a crawl. So a thread takes its batch and a ticket together,
 * and waits for its ticket's turn before writing:
 *
 *	cwg_order_in_lock(o);
 *	n = read a batch;
 *	t = n ? cwg_order_ticket(o) : CWG_ORDER_NONE;
 *	cwg_order_in_unlock(o);
 *	... work on the batch, in parallel with the other threads ...
 *	cwg_order_wait(o, t);
 *	... write the batch out ...
 *	cwg_order_done(o, t);
 *
 * Every ticket taken must be passed to cwg_order_done, or the threads
 * holding later tickets wait forever. Locks are taken per batch (up to a
 * few hundred packets), never per packet.
 */
#ifndef CWG_LINUX_ORDER_H
#define CWG_LINUX_ORDER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define CWG_ORDER_NONE UINT64_MAX

struct cwg_order {
	pthread_mutex_t in;	/* held while a batch is taken */
	uint64_t next;		/* the next ticket; under in */
	pthread_mutex_t lock;	/* protects turn */
	pthread_cond_t cond;
	uint64_t turn;		/* the ticket that may write now */
};

void cwg_order_init(struct cwg_order *o);
void cwg_order_destroy(struct cwg_order *o);
void cwg_order_in_lock(struct cwg_order *o);
void cwg_order_in_unlock(struct cwg_order *o);
/* Under cwg_order_in_lock: the ticket of the batch just taken. */
uint64_t cwg_order_ticket(struct cwg_order *o);
/* Returns once every earlier ticket is done. */
void cwg_order_wait(struct cwg_order *o, uint64_t t);
void cwg_order_done(struct cwg_order *o, uint64_t t);

/*
 * The handshake backlog of one UDP socket, shared by the RX threads that
 * read it: handshake messages taken since the socket was last found
 * drained. While every batch comes back full the kernel queue holds
 * more, so the running count is what the core's load check
 * (cwg_device_set_handshake_backlog) compares with its threshold. One
 * count per socket, not per thread: two threads splitting a flood each
 * saw half of it. Updated under the RX order's in lock, where the batch
 * is taken, so the batches count in the order the socket gave them.
 */
static inline uint32_t cwg_backlog_note(uint32_t *backlog, uint32_t hs,
					bool full)
{
	*backlog = full ? *backlog + hs : hs;
	return *backlog;
}

#endif
