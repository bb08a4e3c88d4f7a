/* SPDX-License-Identifier: MIT */
/*
 * The four WireGuard messages (whitepaper section 5.4), as byte offsets.
 * Every field is little-endian; the first four bytes are the type as a
 * 32-bit word, so the three reserved bytes are zero in every valid message.
 */
#ifndef CWG_MESSAGES_H
#define CWG_MESSAGES_H

#include "../crypto/crypto.h"
#include <cwg/cwg.h>

/* Whitepaper section 6 (timers and limits), with the Linux module's
 * names. */
#define CWG_REKEY_AFTER_MESSAGES (1ULL << 60)
#define CWG_REJECT_AFTER_MESSAGES (UINT64_MAX - (1ULL << 13))
#define CWG_REKEY_TIMEOUT_NS (5ULL * CWG_NSEC_PER_SEC)
#define CWG_REKEY_TIMEOUT_JITTER_MAX_NS (CWG_NSEC_PER_SEC / 1000 * 333)
#define CWG_KEEPALIVE_TIMEOUT_NS (10ULL * CWG_NSEC_PER_SEC)
#define CWG_REKEY_AFTER_TIME_NS (120ULL * CWG_NSEC_PER_SEC)
#define CWG_REJECT_AFTER_TIME_NS (180ULL * CWG_NSEC_PER_SEC)
#define CWG_REKEY_ATTEMPT_TIME_NS (90ULL * CWG_NSEC_PER_SEC)
#define CWG_INITIATIONS_PER_SECOND 50
#define CWG_COOKIE_SECRET_MAX_AGE_NS (120ULL * CWG_NSEC_PER_SEC)

/* A cookie is sent only while younger than the secret it came from can
 * be, less this margin for the time it took to reach us. */
#define CWG_COOKIE_SECRET_LATENCY_NS (5 * CWG_NSEC_PER_SEC)
/* Initiations from one peer closer than this are a flood. */
#define CWG_INITIATION_MIN_INTERVAL_NS \
	(CWG_NSEC_PER_SEC / CWG_INITIATIONS_PER_SECOND)
/* Under load until this long after the backlog drops. */
#define CWG_UNDER_LOAD_AFTER_NS CWG_NSEC_PER_SEC

/*
 * Whether something stamped at birth is at least age old at now. Hosts
 * call the core from several threads, each passing the clock it read
 * before the call, so a stamp made by another thread may be later than
 * now by a moment: that thing is brand new, not expired.
 */
static inline bool cwg_expired(uint64_t birth, uint64_t now, uint64_t age)
{
	return now >= birth && now - birth >= age;
}

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

/* The public lengths (device.h) are these layouts' ends. */
_Static_assert(CWG_INIT_MAC2 + CWG_COOKIE_LEN == CWG_MSG_INITIATION_LEN,
	       "initiation layout");
_Static_assert(CWG_RESP_MAC2 + CWG_COOKIE_LEN == CWG_MSG_RESPONSE_LEN,
	       "response layout");
_Static_assert(CWG_COOKIE_ENCRYPTED + CWG_COOKIE_LEN + CWG_AEAD_TAG_LEN ==
		       CWG_MSG_COOKIE_REPLY_LEN,
	       "cookie reply layout");
_Static_assert(CWG_DATA_PAYLOAD == CWG_MSG_DATA_HEADER_LEN &&
		       CWG_MSG_DATA_TAG_LEN == CWG_AEAD_TAG_LEN,
	       "data layout");

static inline uint32_t cwg_msg_type(const uint8_t *msg, size_t len)
{
	return len >= 4 ? cwg_get_le32(msg) : 0;
}

static inline void cwg_msg_set_type(uint8_t *msg, enum cwg_msg_type t)
{
	cwg_put_le32(msg, (uint32_t)t);
}

#endif
