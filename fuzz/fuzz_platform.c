/* SPDX-License-Identifier: MIT */
/*
 * The packet buffers for the fuzz builds, in place of src/linux/pool.c
 * (the locks and configuration memory come from src/linux/platform.c, as
 * in the daemon). The daemon's pool carves
 * every buffer out of one mapping, so an overrun of one packet lands in
 * the next and ASan cannot see it. Here every buffer is its own malloc
 * block of exactly the size asked for, and every header carries a magic
 * number, so overruns, use after free, double frees and frees of foreign
 * pointers are all reported where they happen.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base.h"
#include "fuzz.h"
#include "linux/pool.h"

#define FUZZ_PKT_MAGIC 0x70c4e7f0u

struct fuzz_pkt {
	struct cwg_pkt pkt;
	uint32_t magic;
};

static uint64_t live; /* single-threaded: the harnesses use no threads */

struct cwg_pkt *fuzz_pkt_new(uint32_t headroom, uint32_t len,
			     uint32_t tailroom)
{
	struct fuzz_pkt *f = calloc(1, sizeof(*f));
	size_t size = (size_t)headroom + len + tailroom;

	if (!f)
		return NULL;
	/* malloc(0) may return NULL: one byte keeps buf non-NULL, and with
	 * cap 0 nothing may touch it. */
	f->pkt.buf = malloc(size ? size : 1);
	if (!f->pkt.buf || size > UINT32_MAX) {
		free(f->pkt.buf);
		free(f);
		return NULL;
	}
	f->pkt.data = f->pkt.buf + headroom;
	f->pkt.cap = (uint32_t)size;
	f->pkt.len = len;
	f->magic = FUZZ_PKT_MAGIC;
	live++;
	return &f->pkt;
}

uint64_t fuzz_pkts_live(void)
{
	return live;
}

/* As the daemon's pool: a full-size buffer with the header room before. */
struct cwg_pkt *cwg_pkt_alloc(void)
{
	return fuzz_pkt_new(CWG_DATA_HEADROOM, 0,
			    CWG_PKT_BUF_SIZE - CWG_DATA_HEADROOM);
}

void cwg_pkt_free(struct cwg_pkt *p)
{
	struct fuzz_pkt *f;

	if (!p)
		return;
	f = CWG_CONTAINER_OF(p, struct fuzz_pkt, pkt);
	if (f->magic != FUZZ_PKT_MAGIC) {
		fprintf(stderr, "fuzz: cwg_pkt_free of a packet not in use\n");
		abort();
	}
	f->magic = 0;
	free(f->pkt.buf);
	free(f);
	live--;
}
