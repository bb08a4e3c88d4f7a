// SPDX-License-Identifier: MIT
/*
 * HChaCha20 (draft-irtf-cfrg-xchacha section 2.2), which libcrypto does not
 * export, and XChaCha20-Poly1305 built from it and the raw-nonce
 * ChaCha20-Poly1305 in openssl.c. WireGuard needs the extended nonce only
 * for cookie replies, where the 24-byte nonce is random and a 96-bit one
 * would risk collisions.
 */
#include "crypto.h"
#include "crypto_internal.h"

static inline uint32_t rotl32(uint32_t v, int n)
{
	return v << n | v >> (32 - n);
}

static inline void quarter_round(uint32_t x[16], int a, int b, int c, int d)
{
	x[a] += x[b];
	x[d] = rotl32(x[d] ^ x[a], 16);
	x[c] += x[d];
	x[b] = rotl32(x[b] ^ x[c], 12);
	x[a] += x[b];
	x[d] = rotl32(x[d] ^ x[a], 8);
	x[c] += x[d];
	x[b] = rotl32(x[b] ^ x[c], 7);
}

void cwg_hchacha20(uint8_t out[32], const uint8_t nonce[16],
		   const uint8_t key[32])
{
	uint32_t x[16];
	int i;

	/* "expand 32-byte k", as in the ChaCha20 block function. */
	x[0] = 0x61707865;
	x[1] = 0x3320646e;
	x[2] = 0x79622d32;
	x[3] = 0x6b206574;
	for (i = 0; i < 8; i++)
		x[4 + i] = cwg_get_le32(key + 4 * i);
	for (i = 0; i < 4; i++)
		x[12 + i] = cwg_get_le32(nonce + 4 * i);

	for (i = 0; i < 10; i++) {
		quarter_round(x, 0, 4, 8, 12);
		quarter_round(x, 1, 5, 9, 13);
		quarter_round(x, 2, 6, 10, 14);
		quarter_round(x, 3, 7, 11, 15);
		quarter_round(x, 0, 5, 10, 15);
		quarter_round(x, 1, 6, 11, 12);
		quarter_round(x, 2, 7, 8, 13);
		quarter_round(x, 3, 4, 9, 14);
	}

	/*
	 * Unlike the block function there is no feed-forward of the input:
	 * the subkey is rows 0 and 3 of the permuted state.
	 */
	for (i = 0; i < 4; i++) {
		cwg_put_le32(out + 4 * i, x[i]);
		cwg_put_le32(out + 16 + 4 * i, x[12 + i]);
	}
	cwg_wipe(x, sizeof(x));
}

/* Subkey and 96-bit nonce (4 zero bytes || nonce[16..24]) for one message. */
static void xchacha_derive(uint8_t subkey[CWG_KEY_LEN],
			   uint8_t n12[CWG_AEAD_NONCE_LEN],
			   const uint8_t nonce[CWG_XAEAD_NONCE_LEN],
			   const uint8_t key[CWG_KEY_LEN])
{
	cwg_hchacha20(subkey, nonce, key);
	cwg_memset(n12, 0, 4);
	cwg_memcpy(n12 + 4, nonce + 16, 8);
}

void cwg_xaead_seal(uint8_t *dst, const uint8_t *src, size_t len,
		    const uint8_t *ad, size_t adlen,
		    const uint8_t nonce[CWG_XAEAD_NONCE_LEN],
		    const uint8_t key[CWG_KEY_LEN])
{
	uint8_t subkey[CWG_KEY_LEN], n12[CWG_AEAD_NONCE_LEN];

	xchacha_derive(subkey, n12, nonce, key);
	cwg_aead_seal_raw(dst, src, len, ad, adlen, n12, subkey);
	cwg_wipe(subkey, sizeof(subkey));
}

bool cwg_xaead_open(uint8_t *dst, const uint8_t *src, size_t srclen,
		    const uint8_t *ad, size_t adlen,
		    const uint8_t nonce[CWG_XAEAD_NONCE_LEN],
		    const uint8_t key[CWG_KEY_LEN])
{
	uint8_t subkey[CWG_KEY_LEN], n12[CWG_AEAD_NONCE_LEN];
	bool ret;

	xchacha_derive(subkey, n12, nonce, key);
	ret = cwg_aead_open_raw(dst, src, srclen, ad, adlen, n12, subkey);
	cwg_wipe(subkey, sizeof(subkey));
	return ret;
}
