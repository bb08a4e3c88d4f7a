/* SPDX-License-Identifier: MIT */
/*
 * Entry points shared between the files of src/crypto/ and its known-answer
 * test. Not part of the interface the core sees (that is crypto.h): the core
 * only ever needs WireGuard's counter nonce, but XChaCha20-Poly1305 and the
 * Wycheproof vectors need ChaCha20-Poly1305 with an arbitrary 96-bit nonce.
 */
#ifndef CWG_CRYPTO_INTERNAL_H
#define CWG_CRYPTO_INTERNAL_H

#include "crypto.h"

#define CWG_AEAD_NONCE_LEN 12

/* ChaCha20-Poly1305 with a raw 12-byte nonce; same contract as cwg_aead_*. */
void cwg_aead_seal_raw(uint8_t *dst, const uint8_t *src, size_t len,
		       const uint8_t *ad, size_t adlen,
		       const uint8_t nonce[CWG_AEAD_NONCE_LEN],
		       const uint8_t key[CWG_KEY_LEN]);
bool cwg_aead_open_raw(uint8_t *dst, const uint8_t *src, size_t srclen,
		       const uint8_t *ad, size_t adlen,
		       const uint8_t nonce[CWG_AEAD_NONCE_LEN],
		       const uint8_t key[CWG_KEY_LEN]);

#endif
