/* SPDX-License-Identifier: MIT */
#include "noise.h"

#include "../crypto/crypto.h"

static const char noise_construction[] = "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s";

void cwg_noise_state_wipe(struct noise_state *st)
{
	cwg_wipe(st, sizeof(*st));
}

static void mix_hash(struct noise_state *st, const uint8_t *in, size_t len)
{
	cwg_blake2s(st->h, 32, NULL, 0, st->h, 32, in, len);
}

/* ck = KDF1(ck, in): the "MixKey" of a token whose key is not needed. */
static void mix_ck(struct noise_state *st, const uint8_t *in, size_t len)
{
	cwg_kdf(st->ck, NULL, NULL, st->ck, 32, in, len);
}

/* (ck, k) = KDF2(ck, dh): MixKey with a DH result, false if it is zero. */
static bool mix_dh(struct noise_state *st, uint8_t key[32],
		   const uint8_t priv[32], const uint8_t pub[32])
{
	uint8_t dh[32];
	bool ok = cwg_x25519(dh, priv, pub);

	if (ok)
		cwg_kdf(st->ck, key, NULL, st->ck, 32, dh, 32);
	cwg_wipe(dh, sizeof(dh));
	return ok;
}

static bool mix_precomputed(struct noise_state *st, uint8_t key[32],
			    const uint8_t dh[32])
{
	static const uint8_t zero[32];

	if (cwg_ct_equal(dh, zero, 32))
		return false;
	cwg_kdf(st->ck, key, NULL, st->ck, 32, dh, 32);
	return true;
}

static void encrypt_and_hash(struct noise_state *st, const uint8_t key[32],
			     const uint8_t *in, size_t len, uint8_t *out)
{
	cwg_aead_seal(out, in, len, st->h, 32, 0, key);
	mix_hash(st, out, len + CWG_AEAD_TAG_LEN);
}

static bool decrypt_and_hash(struct noise_state *st, const uint8_t key[32],
			     const uint8_t *in, size_t len, uint8_t *out)
{
	if (!cwg_aead_open(out, in, len + CWG_AEAD_TAG_LEN, st->h, 32, 0, key))
		return false;
	mix_hash(st, in, len + CWG_AEAD_TAG_LEN);
	return true;
}

void cwg_noise_state_init(struct noise_state *st, const uint8_t *prologue,
		      size_t prologue_len, const uint8_t responder_pub[32])
{
	cwg_memset(st, 0, sizeof(*st));
	cwg_blake2s(st->ck, 32, NULL, 0, (const uint8_t *)noise_construction,
		    sizeof(noise_construction) - 1, NULL, 0);
	cwg_memcpy(st->h, st->ck, 32);
	mix_hash(st, prologue, prologue_len);
	mix_hash(st, responder_pub, 32);
}

/* The "e" token in a PSK handshake: MixHash(e.pub) then MixKey(e.pub). */
static void mix_ephemeral(struct noise_state *st, const uint8_t e_pub[32])
{
	mix_hash(st, e_pub, 32);
	mix_ck(st, e_pub, 32);
}

bool cwg_noise_write_msg1(struct noise_state *st, const uint8_t e_priv[32],
		      const uint8_t s_pub[32], const uint8_t responder_pub[32],
		      const uint8_t ss[32], const uint8_t *payload,
		      size_t payload_len, uint8_t *out)
{
	uint8_t key[32];
	bool ok = false;

	cwg_memcpy(st->e_priv, e_priv, 32);
	if (!cwg_x25519_public(out, e_priv))
		goto out;
	mix_ephemeral(st, out);
	if (!mix_dh(st, key, e_priv, responder_pub))
		goto out;
	encrypt_and_hash(st, key, s_pub, 32, out + 32);
	if (!mix_precomputed(st, key, ss))
		goto out;
	encrypt_and_hash(st, key, payload, payload_len, out + 80);
	ok = true;
out:
	cwg_wipe(key, sizeof(key));
	return ok;
}

bool cwg_noise_read_msg1_static(struct noise_state *st, const uint8_t s_priv[32],
			    const uint8_t *msg, uint8_t remote_pub[32])
{
	uint8_t key[32];
	bool ok = false;

	cwg_memcpy(st->e_remote, msg, 32);
	mix_ephemeral(st, msg);
	if (!mix_dh(st, key, s_priv, msg))
		goto out;
	ok = decrypt_and_hash(st, key, msg + 32, 32, remote_pub);
out:
	cwg_wipe(key, sizeof(key));
	return ok;
}

bool cwg_noise_read_msg1_payload(struct noise_state *st, const uint8_t ss[32],
			     const uint8_t *msg, uint8_t *payload,
			     size_t payload_len)
{
	uint8_t key[32];
	bool ok = false;

	if (!mix_precomputed(st, key, ss))
		goto out;
	ok = decrypt_and_hash(st, key, msg + 80, payload_len, payload);
out:
	cwg_wipe(key, sizeof(key));
	return ok;
}

/* The "psk" token: (ck, t, k) = KDF3(ck, psk); MixHash(t). */
static void mix_psk(struct noise_state *st, uint8_t key[32],
		    const uint8_t psk[32])
{
	uint8_t t[32];

	cwg_kdf(st->ck, t, key, st->ck, 32, psk, 32);
	mix_hash(st, t, 32);
	cwg_wipe(t, sizeof(t));
}

bool cwg_noise_write_msg2(struct noise_state *st, const uint8_t e_priv[32],
		      const uint8_t initiator_pub[32], const uint8_t psk[32],
		      const uint8_t *payload, size_t payload_len, uint8_t *out)
{
	uint8_t key[32];
	bool ok = false;

	cwg_memcpy(st->e_priv, e_priv, 32);
	if (!cwg_x25519_public(out, e_priv))
		goto out;
	mix_ephemeral(st, out);
	if (!mix_dh(st, key, e_priv, st->e_remote))	/* ee */
		goto out;
	if (!mix_dh(st, key, e_priv, initiator_pub))	/* se */
		goto out;
	mix_psk(st, key, psk);
	encrypt_and_hash(st, key, payload, payload_len, out + 32);
	ok = true;
out:
	cwg_wipe(key, sizeof(key));
	return ok;
}

bool cwg_noise_read_msg2(struct noise_state *st, const uint8_t s_priv[32],
		     const uint8_t psk[32], const uint8_t *msg,
		     uint8_t *payload, size_t payload_len)
{
	uint8_t key[32];
	bool ok = false;

	cwg_memcpy(st->e_remote, msg, 32);
	mix_ephemeral(st, msg);
	if (!mix_dh(st, key, st->e_priv, msg))		/* ee */
		goto out;
	if (!mix_dh(st, key, s_priv, msg))		/* se */
		goto out;
	mix_psk(st, key, psk);
	ok = decrypt_and_hash(st, key, msg + 32, payload_len, payload);
out:
	cwg_wipe(key, sizeof(key));
	return ok;
}

void cwg_noise_split(const struct noise_state *st, uint8_t initiator_key[32],
		 uint8_t responder_key[32])
{
	cwg_kdf(initiator_key, responder_key, NULL, st->ck, 32, NULL, 0);
}
