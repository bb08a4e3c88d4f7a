/* SPDX-License-Identifier: MIT */
/*
 * The four WireGuard messages (whitepaper section 5.4), as byte offsets.
 * Every field is little-endian; the first four bytes are the type as a
 * 32-bit word, so the three reserved bytes are zero in every valid message.
 */
#ifndef CWG_MESSAGES_H
#define CWG_MESSAGES_H

#include "device.h"

enum cwg_msg_type {
	CWG_MSG_INITIATION = 1,
	CWG_MSG_RESPONSE = 2,
	CWG_MSG_COOKIE_REPLY = 3,
	CWG_MSG_DATA = 4,
};

/* Handshake initiation, 148 bytes. */
#define CWG_INIT_SENDER 4
#define CWG_INIT_EPHEMERAL 8
#define CWG_INIT_STATIC 40	/* 32 + 16 tag */
#define CWG_INIT_TIMESTAMP 88	/* 12 + 16 tag */
#define CWG_INIT_MAC1 116
#define CWG_INIT_MAC2 132

/* Handshake response, 92 bytes. */
#define CWG_RESP_SENDER 4
#define CWG_RESP_RECEIVER 8
#define CWG_RESP_EPHEMERAL 12
#define CWG_RESP_EMPTY 44	/* 0 + 16 tag */
#define CWG_RESP_MAC1 60
#define CWG_RESP_MAC2 76

/* Cookie reply, 64 bytes. */
#define CWG_COOKIE_RECEIVER 4
#define CWG_COOKIE_NONCE 8
#define CWG_COOKIE_ENCRYPTED 32 /* 16 + 16 tag */

/* Transport data: 16-byte header, then ciphertext + tag. */
#define CWG_DATA_RECEIVER 4
#define CWG_DATA_COUNTER 8
#define CWG_DATA_PAYLOAD 16

#define CWG_TAI64N_LEN 12

static inline uint32_t cwg_msg_type(const uint8_t *msg, size_t len)
{
	return len >= 4 ? cwg_get_le32(msg) : 0;
}

static inline void cwg_msg_set_type(uint8_t *msg, enum cwg_msg_type t)
{
	cwg_put_le32(msg, (uint32_t)t);
}

#endif
