/* SPDX-License-Identifier: MIT */
/*
 * The receive counter window (whitepaper 5.4.6, RFC 6479's bitmap): 8192
 * bits as the kernels use, so packets reordered by up to 8128 positions
 * (multi-core senders reorder) are still accepted once each.
 */
#ifndef CWG_REPLAY_H
#define CWG_REPLAY_H

#include "../base.h"

#define CWG_REPLAY_BITS 8192
#define CWG_REPLAY_WORDS (CWG_REPLAY_BITS / 64)
/* The window trails the newest counter by this much: one word is always
 * being recycled. */
#define CWG_REPLAY_WINDOW (CWG_REPLAY_BITS - 64)

struct cwg_replay {
	uint64_t next;	/* one past the greatest counter accepted */
	uint64_t bitmap[CWG_REPLAY_WORDS];
};

void cwg_replay_init(struct cwg_replay *r);
/* Accept counter once: false if it was seen, is too old for the window, or
 * is at or beyond REJECT_AFTER_MESSAGES. Only call with authenticated
 * counters. */
bool cwg_replay_check(struct cwg_replay *r, uint64_t counter);

#endif
