/* SPDX-License-Identifier: MIT */
/*
 * Two devices on a virtual clock and an in-memory wire, for fuzz_receive
 * and fuzz_send: the same idea as tests/unit/test_device.c, plus the
 * checks a fuzzer needs after every step (see fuzz_net.c).
 */
#ifndef CWG_FUZZ_NET_H
#define CWG_FUZZ_NET_H

#include "fuzz.h"

#define FUZZ_SEC 1000000000ULL
#define FUZZ_MS 1000000ULL
#define FUZZ_LOG_MAX 512   /* plaintexts remembered per node */
#define FUZZ_RING 16	   /* recent datagrams kept for replays */
#define FUZZ_MSG_MAX 2048  /* longest datagram kept or injected */
#define FUZZ_WIRE_MAX 256  /* datagrams in flight per direction */

/* A plaintext a node sent into its tunnel. */
struct fuzz_sent {
	uint8_t *bytes;
	uint32_t len;
	bool delivered;
};

struct fuzz_node {
	struct cwg_device *dev;
	struct fuzz_rng rng;
	struct cwg_endpoint addr;  /* its outer address */
	uint8_t inner4[4];	   /* its tunnel addresses */
	uint8_t inner6[16];
	struct cwg_peer *peer;	   /* the other node */
	struct cwg_peer *ghost;	   /* a peer that never answers, 0.0.0.0/0 */
	struct cwg_pkt_list wire;  /* datagrams on their way to the other */
	struct fuzz_sent log[FUZZ_LOG_MAX];
	uint32_t nlog;
	bool log_full;		   /* stopped remembering: no delivery check */
	/* log indices of what the other node delivered, in order */
	uint32_t order[FUZZ_LOG_MAX];
	uint32_t norder;
	uint32_t delivered;	   /* packets this node put out on its tunnel */
};

struct fuzz_msg {
	uint32_t len;
	uint8_t b[FUZZ_MSG_MAX];
};

/* Messages captured during the set-up handshake. */
enum {
	FUZZ_CAP_INIT,	    /* A -> B initiation */
	FUZZ_CAP_RESP,	    /* B -> A response */
	FUZZ_CAP_DATA_A,    /* A -> B first data */
	FUZZ_CAP_DATA_B,    /* B -> A data */
	FUZZ_CAP_KEEPALIVE, /* A -> B keepalive */
	FUZZ_CAP_COOKIE,    /* B -> A cookie reply */
	FUZZ_CAP_N
};

struct fuzz_net {
	struct fuzz_node n[2]; /* n[0] is A (initiator), n[1] is B */
	uint64_t now;
	struct fuzz_msg cap[FUZZ_CAP_N];
	struct fuzz_msg ring[FUZZ_RING];
	uint32_t ring_next;
	int err; /* first failure (-1) seen by a helper that returns void */
};

/* Fresh devices, keys and peers, and a completed handshake (data both
 * ways, a keepalive and a cookie reply captured). NULL only when out of
 * memory; *setup_ok says whether the handshake went as it must. */
struct fuzz_net *fuzz_net_new(bool *setup_ok);
/* Frees everything and checks that no packet buffer leaked. 0 or -1. */
int fuzz_net_free(struct fuzz_net *net);

/* Source endpoints the fuzzer may pick for an injected datagram. */
void fuzz_net_source(const struct fuzz_net *net, int from, uint8_t sel,
		     struct cwg_endpoint *ep);

/* Hand the batch to node i's receive / send / tick and sort the output. */
void fuzz_net_receive(struct fuzz_net *net, int i, struct cwg_pkt_list *in);
void fuzz_net_send(struct fuzz_net *net, int i, struct cwg_pkt_list *in);
void fuzz_net_tick(struct fuzz_net *net, int i);
/* Deliver up to max datagrams of node `from`'s wire to the other node,
 * all in one batch, as coming from src. Returns how many. */
uint32_t fuzz_net_deliver(struct fuzz_net *net, int from,
			  const struct cwg_endpoint *src, uint32_t max);
void fuzz_net_drop_wire(struct fuzz_net *net, int i);

/* A plaintext packet with the room the core needs, remembered in node
 * i's log for the delivery check. NULL when out of buffers. */
struct cwg_pkt *fuzz_net_plaintext(struct fuzz_net *net, int i,
				   const uint8_t *bytes, uint32_t len);
/* A well-formed UDP packet from node i: to the other node (kind 0 v4,
 * 1 v6), to the ghost (2), or to nowhere (3, v6 with no route). */
uint32_t fuzz_net_ip_packet(const struct fuzz_net *net, int i, int kind,
			    uint32_t seq, uint8_t *out, uint32_t cap);

/* Invariants of both devices' internal state. 0 or -1. */
int fuzz_net_check(struct fuzz_net *net);

/* The sum of both devices' statistics into fuzz_net_last. */
void fuzz_net_report(struct fuzz_net *net);

#endif
