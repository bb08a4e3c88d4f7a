// SPDX-License-Identifier: MIT
/*
 * HMAC-BLAKE2s and the WireGuard KDF (whitepaper section 5.4), composed by
 * hand over cwg_blake2s. Composing HMAC here rather than going through
 * EVP_MAC "HMAC" keeps the handshake path free of per-call allocation: the
 * two hashes run on the thread's reusable digest context.
 */
#include "crypto.h"

#define BLAKE2S_BLOCK_LEN 64

void cwg_hmac_blake2s(uint8_t out[CWG_HASH_LEN], const uint8_t *key,
		      size_t keylen, const uint8_t *in, size_t inlen)
{
	uint8_t k[BLAKE2S_BLOCK_LEN], pad[BLAKE2S_BLOCK_LEN];
	uint8_t inner[CWG_HASH_LEN];
	size_t i;

	/* RFC 2104: keys longer than a block are hashed first. */
	cwg_memset(k, 0, sizeof(k));
	if (keylen > BLAKE2S_BLOCK_LEN)
		cwg_blake2s(k, CWG_HASH_LEN, NULL, 0, key, keylen, NULL, 0);
	else if (keylen)
		cwg_memcpy(k, key, keylen);

	for (i = 0; i < BLAKE2S_BLOCK_LEN; i++)
		pad[i] = k[i] ^ 0x36;
	cwg_blake2s(inner, CWG_HASH_LEN, NULL, 0, pad, sizeof(pad), in, inlen);
	for (i = 0; i < BLAKE2S_BLOCK_LEN; i++)
		pad[i] = k[i] ^ 0x5c;
	/* out is written last, so it may alias key or in. */
	cwg_blake2s(out, CWG_HASH_LEN, NULL, 0, pad, sizeof(pad), inner,
		    sizeof(inner));

	cwg_wipe(k, sizeof(k));
	cwg_wipe(pad, sizeof(pad));
	cwg_wipe(inner, sizeof(inner));
}

void cwg_kdf(uint8_t t0[CWG_HASH_LEN], uint8_t *t1, uint8_t *t2,
	     const uint8_t *key, size_t keylen, const uint8_t *in,
	     size_t inlen)
{
	/* prk is the whitepaper's tau0; out[i] is tau_{i+1}. */
	uint8_t prk[CWG_HASH_LEN], out[3][CWG_HASH_LEN];
	uint8_t msg[CWG_HASH_LEN + 1];

	cwg_hmac_blake2s(prk, key, keylen, in, inlen);

	msg[0] = 1;
	cwg_hmac_blake2s(out[0], prk, sizeof(prk), msg, 1);
	if (t1 || t2) {
		cwg_memcpy(msg, out[0], CWG_HASH_LEN);
		msg[CWG_HASH_LEN] = 2;
		cwg_hmac_blake2s(out[1], prk, sizeof(prk), msg, sizeof(msg));
	}
	if (t2) {
		cwg_memcpy(msg, out[1], CWG_HASH_LEN);
		msg[CWG_HASH_LEN] = 3;
		cwg_hmac_blake2s(out[2], prk, sizeof(prk), msg, sizeof(msg));
	}

	/*
	 * Outputs are stored only now: callers routinely pass the chaining
	 * key as both key and t0 (ck = KDF(ck, ...)).
	 */
	cwg_memcpy(t0, out[0], CWG_HASH_LEN);
	if (t1)
		cwg_memcpy(t1, out[1], CWG_HASH_LEN);
	if (t2)
		cwg_memcpy(t2, out[2], CWG_HASH_LEN);

	cwg_wipe(prk, sizeof(prk));
	cwg_wipe(out, sizeof(out));
	cwg_wipe(msg, sizeof(msg));
}
