/* SPDX-License-Identifier: MIT */
/*
 * MACs and cookies (whitepaper section 5.4.4 and 5.4.7): mac1 proves the
 * sender knows our public key; under load, mac2 proves it can receive at
 * its source address, via a cookie we sent it sealed in a cookie reply.
 */
#ifndef CWG_COOKIE_H
#define CWG_COOKIE_H

#include "../crypto/crypto.h"
#include <cwg/cwg.h>


/* Our side: checks mac1/mac2 of handshake messages sent to us and makes
 * cookie replies. Keys follow the device's public key. */
struct cookie_checker {
	struct cwg_mutex lock;	/* protects secret and secret_birth */
	uint8_t secret[CWG_KEY_LEN];
	uint64_t secret_birth;
	bool secret_valid;
	uint8_t mac1_key[CWG_KEY_LEN]; /* HASH("mac1----" || our public key) */
	uint8_t cookie_key[CWG_KEY_LEN]; /* HASH("cookie--" || our public key)
					  */
	bool have_keys;
};

/* Per peer: adds MACs to handshake messages we send it, and keeps the
 * cookie it gave us. Protected by the peer's lock. */
struct cookie_maker {
	uint8_t mac1_key[CWG_KEY_LEN]; /* HASH("mac1----" || peer's public key)
					*/
	uint8_t cookie_key[CWG_KEY_LEN]; /* HASH("cookie--" || peer's public
					    key) */
	uint8_t cookie[CWG_COOKIE_LEN];
	uint64_t cookie_birth;
	bool cookie_valid;
	uint8_t last_mac1[16];
	bool have_sent_mac1;
};

enum cookie_mac_state {
	COOKIE_MAC_INVALID,
	COOKIE_MAC_VALID_NO_COOKIE,  /* mac1 good; mac2 absent, stale or not checked */
	COOKIE_MAC_VALID_WITH_COOKIE,
};

void cwg_cookie_checker_init(struct cookie_checker *c);
void cwg_cookie_checker_destroy(struct cookie_checker *c);
/* Set or clear (pub NULL) the device's public key. */
void cwg_cookie_checker_set_key(struct cookie_checker *c, const uint8_t *pub);
/* msg is a whole initiation or response; mac_off is where mac1 starts
 * (mac2 follows). mac2 is checked only when check_mac2. */
enum cookie_mac_state cwg_cookie_checker_validate(struct cookie_checker *c,
					      const uint8_t *msg,
					      size_t mac_off,
					      const struct cwg_endpoint *src,
					      bool check_mac2, uint64_t now,
					      cwg_rng_fn rng, void *rng_ctx);
/* Build a 64-byte cookie reply to msg (whose sender index is
 * sender_index) from src. */
void cwg_cookie_checker_make_reply(struct cookie_checker *c, uint8_t out[64],
			       const uint8_t *msg, size_t mac_off,
			       uint32_t sender_index,
			       const struct cwg_endpoint *src, uint64_t now,
			       cwg_rng_fn rng, void *rng_ctx);

void cwg_cookie_maker_init(struct cookie_maker *m,
			   const uint8_t peer_pub[CWG_KEY_LEN]);
/* Fill mac1 (and mac2 when we hold a fresh cookie) of msg. */
void cwg_cookie_maker_add_macs(struct cookie_maker *m, uint8_t *msg,
			   size_t mac_off, uint64_t now);
/* Open a 64-byte cookie reply meant for m. false if it does not
 * authenticate or answers nothing we sent. */
bool cwg_cookie_maker_consume_reply(struct cookie_maker *m, const uint8_t *msg,
				uint64_t now);

#endif
