/* SPDX-License-Identifier: MIT */
/* libcwg's process-wide calls and key helpers (<cwg/cwg.h>). */
#include <cwg/cwg.h>

#include "base.h"
#include "crypto/crypto.h"

int cwg_init(void)
{
	return cwg_crypto_init() ? -CWG_ENOMEM : 0;
}

void cwg_thread_cleanup(void)
{
	cwg_crypto_thread_cleanup();
}

void cwg_key_generate(uint8_t priv[CWG_KEY_LEN])
{
	cwg_random(priv, CWG_KEY_LEN);
	cwg_x25519_clamp(priv);
}

bool cwg_key_public(uint8_t pub[CWG_KEY_LEN], const uint8_t priv[CWG_KEY_LEN])
{
	return cwg_x25519_public(pub, priv);
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
			  "0123456789+/";

static int b64_value(char c)
{
	for (int i = 0; i < 64; i++)
		if (b64[i] == c)
			return i;
	return -1;
}

int cwg_key_from_base64(uint8_t key[CWG_KEY_LEN], const char *s)
{
	uint8_t k[CWG_KEY_LEN];
	uint32_t acc = 0;
	int bits = 0, n = 0, i;

	for (i = 0; i < CWG_KEY_B64_LEN - 1; i++) {
		int v = s[i] ? b64_value(s[i]) : -1;

		if (v < 0)
			goto bad;
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			k[n++] = (uint8_t)(acc >> bits);
		}
	}
	/* The last character holds 2 bits of padding, which must be 0. */
	if (s[i] != '=' || s[i + 1] || (acc & 3))
		goto bad;
	cwg_memcpy(key, k, CWG_KEY_LEN);
	cwg_wipe(k, sizeof(k));
	return 0;
bad:
	cwg_wipe(k, sizeof(k));
	return -CWG_EINVAL;
}

void cwg_key_to_base64(char out[CWG_KEY_B64_LEN + 1],
		       const uint8_t key[CWG_KEY_LEN])
{
	uint32_t acc = 0;
	int bits = 0, n = 0, i;

	for (i = 0; i < CWG_KEY_LEN; i++) {
		acc = acc << 8 | key[i];
		bits += 8;
		while (bits >= 6) {
			bits -= 6;
			out[n++] = b64[(acc >> bits) & 63];
		}
	}
	out[n++] = b64[(acc << (6 - bits)) & 63];
	out[n++] = '=';
	out[n] = '\0';
}
