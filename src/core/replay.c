/* SPDX-License-Identifier: MIT */
#include "replay.h"

#include "messages.h"

void cwg_replay_init(struct cwg_replay *r)
{
	cwg_memset(r, 0, sizeof(*r));
}

bool cwg_replay_check(struct cwg_replay *r, uint64_t counter)
{
	uint64_t word, bit, top, cur, i, n;

	if (counter >= CWG_REJECT_AFTER_MESSAGES)
		return false;
	/* Too old: below the window that trails the newest counter. */
	if (counter + CWG_REPLAY_WINDOW < r->next)
		return false;
	word = counter >> 6;
	bit = counter & 63;
	if (counter >= r->next) {
		/* Slide: clear the words between the newest and this one. */
		cur = r->next ? (r->next - 1) >> 6 : 0;
		top = word - cur;
		n = top < CWG_REPLAY_WORDS ? top : CWG_REPLAY_WORDS;
		if (r->next == 0) {
			/* Fresh window: nothing to keep. */
			cwg_memset(r->bitmap, 0, sizeof(r->bitmap));
		} else {
			for (i = 1; i <= n; i++)
				r->bitmap[(cur + i) & (CWG_REPLAY_WORDS - 1)] = 0;
		}
		r->next = counter + 1;
	}
	word &= CWG_REPLAY_WORDS - 1;
	if (r->bitmap[word] & (1ULL << bit))
		return false;
	r->bitmap[word] |= 1ULL << bit;
	return true;
}
