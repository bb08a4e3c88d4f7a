// SPDX-License-Identifier: MIT
/*
 * src/crypto/crypto.h over the kernel's crypto library (lib/crypto and
 * its x86 versions): ChaCha20-Poly1305 and XChaCha20-Poly1305
 * (<crypto/chacha20poly1305.h>), X25519 (<crypto/curve25519.h>), BLAKE2s
 * (<crypto/blake2s.h>), HChaCha20 (<crypto/chacha.h>) and the random
 * pool. HMAC-BLAKE2s and the KDF are src/crypto/kdf.c, compiled
 * unchanged. Every function here may be called from any context that
 * may use the FPU (the library functions save it themselves); none
 * sleeps or allocates.
 *
 * The kernel's ChaCha20-Poly1305 takes WireGuard's nonce as it is (4 zero
 * bytes, then the 64-bit counter little-endian), and its XChaCha20 does
 * the HChaCha20 step itself, so src/crypto/hchacha20.c and the raw-nonce
 * functions of crypto_internal.h are not needed here.
 */
#include <crypto/algapi.h>
#include <crypto/blake2s.h>
#include <crypto/chacha.h>
#include <crypto/chacha20poly1305.h>
#include <crypto/curve25519.h>
#include <linux/random.h>
#include <linux/string.h>

#include "../src/crypto/crypto.h"

int cwg_crypto_init(void)
{
	return 0;
}

/* Nothing thread-local to wipe: the library keeps no state between calls
 * and wipes its own stack copies of keys. */
void cwg_crypto_thread_cleanup(void)
{
}

void cwg_aead_seal(uint8_t *dst, const uint8_t *src, size_t len,
		   const uint8_t *ad, size_t adlen, uint64_t nonce,
		   const uint8_t key[CWG_KEY_LEN])
{
	chacha20poly1305_encrypt(dst, src, len, ad, adlen, nonce, key);
}

/* The library leaves dst untouched when the tag is wrong; the interface
 * promises zeros there. */
bool cwg_aead_open(uint8_t *dst, const uint8_t *src, size_t srclen,
		   const uint8_t *ad, size_t adlen, uint64_t nonce,
		   const uint8_t key[CWG_KEY_LEN])
{
	if (srclen < CWG_AEAD_TAG_LEN)
		return false;
	if (chacha20poly1305_decrypt(dst, src, srclen, ad, adlen, nonce, key))
		return true;
	memzero_explicit(dst, srclen - CWG_AEAD_TAG_LEN);
	return false;
}

void cwg_xaead_seal(uint8_t *dst, const uint8_t *src, size_t len,
		    const uint8_t *ad, size_t adlen,
		    const uint8_t nonce[CWG_XAEAD_NONCE_LEN],
		    const uint8_t key[CWG_KEY_LEN])
{
	xchacha20poly1305_encrypt(dst, src, len, ad, adlen, nonce, key);
}

bool cwg_xaead_open(uint8_t *dst, const uint8_t *src, size_t srclen,
		    const uint8_t *ad, size_t adlen,
		    const uint8_t nonce[CWG_XAEAD_NONCE_LEN],
		    const uint8_t key[CWG_KEY_LEN])
{
	if (srclen < CWG_AEAD_TAG_LEN)
		return false;
	if (xchacha20poly1305_decrypt(dst, src, srclen, ad, adlen, nonce, key))
		return true;
	memzero_explicit(dst, srclen - CWG_AEAD_TAG_LEN);
	return false;
}

/* Not used by the core (the library's XChaCha20 has its own); here so
 * that crypto.h is whole, and checked by the self-test. */
void cwg_hchacha20(uint8_t out[32], const uint8_t nonce[16],
		   const uint8_t key[32])
{
	u32 state[16], words[8];
	int i;

	chacha_init_consts(state);
	for (i = 0; i < 8; i++)
		state[4 + i] = get_unaligned_le32(key + 4 * i);
	for (i = 0; i < 4; i++)
		state[12 + i] = get_unaligned_le32(nonce + 4 * i);
	hchacha_block(state, words, 20);
	for (i = 0; i < 8; i++)
		put_unaligned_le32(words[i], out + 4 * i);
	memzero_explicit(state, sizeof(state));
	memzero_explicit(words, sizeof(words));
}

/* curve25519() clamps the scalar and reports an all-zero result (a
 * small-order point) as false, as the interface wants. */
bool cwg_x25519(uint8_t out[CWG_KEY_LEN], const uint8_t scalar[CWG_KEY_LEN],
		const uint8_t point[CWG_KEY_LEN])
{
	if (curve25519(out, scalar, point))
		return true;
	memzero_explicit(out, CWG_KEY_LEN);
	return false;
}

/* Through curve25519() with the base point rather than
 * curve25519_generate_public(), which refuses an all-zero private key:
 * the interface (and OpenSSL) derive a public key from any 32 bytes, and
 * the core decides itself what an all-zero key means. */
bool cwg_x25519_public(uint8_t pub[CWG_KEY_LEN],
		       const uint8_t priv[CWG_KEY_LEN])
{
	return cwg_x25519(pub, priv, curve25519_base_point);
}

void cwg_x25519_clamp(uint8_t key[CWG_KEY_LEN])
{
	curve25519_clamp_secret(key);
}

void cwg_blake2s(uint8_t *out, size_t outlen, const uint8_t *key,
		 size_t keylen, const uint8_t *in1, size_t len1,
		 const uint8_t *in2, size_t len2)
{
	struct blake2s_state st;

	if (outlen == 0 || outlen > CWG_HASH_LEN || keylen > CWG_KEY_LEN ||
	    (keylen == 0 && outlen != CWG_HASH_LEN)) {
		/* A caller's bug: answer with zeros rather than a hash. */
		if (outlen <= CWG_HASH_LEN)
			memzero_explicit(out, outlen);
		return;
	}
	if (keylen)
		blake2s_init_key(&st, outlen, key, keylen);
	else
		blake2s_init(&st, outlen);
	if (len1)
		blake2s_update(&st, in1, len1);
	if (len2)
		blake2s_update(&st, in2, len2);
	blake2s_final(&st, out); /* wipes st */
}

bool cwg_ct_equal(const void *a, const void *b, size_t n)
{
	return !crypto_memneq(a, b, n);
}

void cwg_wipe(void *p, size_t n)
{
	memzero_explicit(p, n);
}

/* The kernel's CRNG. At module load it is long seeded on any machine
 * that got this far (and get_random_bytes never fails or blocks). */
void cwg_random(uint8_t *buf, size_t len)
{
	get_random_bytes(buf, len);
}
