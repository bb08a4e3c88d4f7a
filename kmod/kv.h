/* SPDX-License-Identifier: MIT */
/*
 * The known-answer vectors as the self-test reads them. The data is
 * generated at build time from the JSON files of tests/vectors/ by
 * kmod/gen_vectors.c into vectors.h: every byte string lives in one
 * pool, kv_pool, and the tables below hold offsets into it. Both files
 * are included by selftest.c only, which places them in init memory.
 */
#ifndef CWG_KMOD_KV_H
#define CWG_KMOD_KV_H

/* ChaCha20-Poly1305 (nonce: WireGuard's 64-bit counter, i.e. a Wycheproof
 * IV whose first 4 bytes are zero) and XChaCha20-Poly1305 (24-byte nonce).
 * ct is the ciphertext followed by the 16-byte tag. */
struct kv_aead {
	uint32_t key, nonce, ad, msg, ct;
	uint16_t adlen, len;
	uint16_t id; /* Wycheproof tcId */
	uint8_t valid;
};

enum kv_x25519_result {
	KV_X25519_VALID,      /* must give exactly shared */
	KV_X25519_ACCEPTABLE, /* shared, or a refusal with zeros */
	KV_X25519_ZERO,	      /* a zero shared secret: must be refused */
};
struct kv_x25519 {
	uint32_t priv, pub, shared;
	uint16_t id;
	uint8_t result;
};

struct kv_blake2s {
	uint32_t in, key, out;
	uint16_t inlen;
	uint8_t keylen;
};

struct kv_kdf {
	uint32_t key, in, t0, t1, t2;
	uint8_t keylen, inlen;
};

struct kv_noise_msg {
	uint32_t payload, ct;
	uint16_t plen, clen;
};
struct kv_noise {
	uint32_t prologue, psk, s_i, e_i, rs, s_r, e_r, hash;
	uint16_t prologue_len;
	struct kv_noise_msg msgs[6];
};

#endif
