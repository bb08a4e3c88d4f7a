/* SPDX-License-Identifier: MIT */
/* libcwg's process-wide calls and key helpers (<cwg/cwg.h>). */
#include <cwg/cwg.h>

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
