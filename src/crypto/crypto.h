/* SPDX-License-Identifier: MIT */
/*
 * The crypto interface the protocol core sees. One implementation today:
 * src/crypto/openssl.c over OpenSSL's libcrypto (ChaCha20-Poly1305, X25519,
 * BLAKE2s) plus what libcrypto lacks, written here by hand: HChaCha20 (for
 * XChaCha20-Poly1305 cookie replies) and the WireGuard KDF composition.
 *
 * This header must stay freestanding-clean: it includes only the public
 * headers and the freestanding base.
 */
#ifndef CWG_CRYPTO_H
#define CWG_CRYPTO_H

#include <cwg/cwg.h>

#include "../base.h"

#define CWG_AEAD_TAG_LEN 16
#define CWG_XAEAD_NONCE_LEN 24
#define CWG_COOKIE_LEN 16

/* Process-wide set-up (fetching algorithm implementations once). 0 on success. */
int cwg_crypto_init(void);

/*
 * ChaCha20-Poly1305 (RFC 8439) with WireGuard's nonce: 4 zero bytes then the
 * 64-bit counter, little-endian. seal writes len + 16 bytes to dst; dst may
 * equal src (in place). open reads srclen bytes (ciphertext + tag) and
 * writes srclen - 16 bytes; on failure it returns false and dst holds zeros,
 * never unauthenticated plaintext. Safe to call from many threads at once.
 */
void cwg_aead_seal(uint8_t *dst, const uint8_t *src, size_t len,
		   const uint8_t *ad, size_t adlen, uint64_t nonce,
		   const uint8_t key[CWG_KEY_LEN]);
bool cwg_aead_open(uint8_t *dst, const uint8_t *src, size_t srclen,
		   const uint8_t *ad, size_t adlen, uint64_t nonce,
		   const uint8_t key[CWG_KEY_LEN]);

/* XChaCha20-Poly1305 (HChaCha20 subkey + ChaCha20-Poly1305), same contract. */
void cwg_xaead_seal(uint8_t *dst, const uint8_t *src, size_t len,
		    const uint8_t *ad, size_t adlen,
		    const uint8_t nonce[CWG_XAEAD_NONCE_LEN],
		    const uint8_t key[CWG_KEY_LEN]);
bool cwg_xaead_open(uint8_t *dst, const uint8_t *src, size_t srclen,
		    const uint8_t *ad, size_t adlen,
		    const uint8_t nonce[CWG_XAEAD_NONCE_LEN],
		    const uint8_t key[CWG_KEY_LEN]);

/* HChaCha20 (draft-irtf-cfrg-xchacha section 2.2). */
void cwg_hchacha20(uint8_t out[32], const uint8_t nonce[16],
		   const uint8_t key[32]);

/*
 * X25519. Returns false (and zeros out) when the shared secret is all zeros,
 * i.e. the peer's point has small order, or when the library fails.
 */
bool cwg_x25519(uint8_t out[CWG_KEY_LEN], const uint8_t scalar[CWG_KEY_LEN],
		const uint8_t point[CWG_KEY_LEN]);
/* Public key from private key. false only if the library fails. */
bool cwg_x25519_public(uint8_t pub[CWG_KEY_LEN],
		       const uint8_t priv[CWG_KEY_LEN]);
/* Clamp a private key as RFC 7748 and the whitepaper require. */
void cwg_x25519_clamp(uint8_t key[CWG_KEY_LEN]);

/*
 * BLAKE2s over the concatenation in1 || in2 (either may be empty). Keyed
 * (keylen 1..32): outlen 1..32, the keyed MAC. Unkeyed: outlen must be 32
 * (the hash); WireGuard needs no other, and libcrypto offers no other.
 * A call outside these gets zeros.
 */
void cwg_blake2s(uint8_t *out, size_t outlen, const uint8_t *key,
		 size_t keylen, const uint8_t *in1, size_t len1,
		 const uint8_t *in2, size_t len2);

/* HMAC-BLAKE2s (RFC 2104 with BLAKE2s-256, 64-byte block). */
void cwg_hmac_blake2s(uint8_t out[CWG_HASH_LEN], const uint8_t *key,
		      size_t keylen, const uint8_t *in, size_t inlen);

/*
 * WireGuard KDF (whitepaper 5.4): tau0 = HMAC(key, input),
 * tau1 = HMAC(tau0, 0x1), tau_i = HMAC(tau0, tau_{i-1} || i).
 * t1/t2 may be NULL for KDF1/KDF2. key is 32 bytes (the chaining key),
 * except in the known-answer test which passes other lengths.
 */
void cwg_kdf(uint8_t t0[CWG_HASH_LEN], uint8_t *t1, uint8_t *t2,
	     const uint8_t *key, size_t keylen, const uint8_t *in,
	     size_t inlen);

/* Constant-time equality: true when the n bytes are equal. */
bool cwg_ct_equal(const void *a, const void *b, size_t n);
/* cwg_wipe: in <cwg/cwg.h>. */
/* Fill buf from the operating system's CSPRNG. */
void cwg_random(uint8_t *buf, size_t len);
/* Wipe and free the calling thread's library contexts, which hold the last
 * keys it used. Other threads do this at exit by themselves; the main
 * thread calls it before the process ends. */
void cwg_crypto_thread_cleanup(void);

#endif
