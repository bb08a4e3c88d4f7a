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
	cwg_blake2s(st->h, CWG_HASH_LEN, NULL, 0, st->h, CWG_HASH_LEN, in, len);
}

/* ck = KDF1(ck, in): the "MixKey" of a token whose key is not needed. */
static void mix_ck(struct noise_state *st, const uint8_t *in, size_t len)
{
	cwg_kdf(st->ck, NULL, NULL, st->ck, CWG_HASH_LEN, in, len);
}

/* (ck, k) = KDF2(ck, dh): MixKey with a DH result, false if it is zero. */
static bool mix_dh(struct noise_state *st, uint8_t key[CWG_KEY_LEN],
		   const uint8_t priv[CWG_KEY_LEN],
		   const uint8_t pub[CWG_KEY_LEN])
{
	uint8_t dh[CWG_KEY_LEN];
	bool ok = cwg_x25519(dh, priv, pub);

	if (ok)
		cwg_kdf(st->ck, key, NULL, st->ck, CWG_HASH_LEN, dh,
			CWG_KEY_LEN);
	cwg_wipe(dh, sizeof(dh));
	return ok;
}

static bool mix_precomputed(struct noise_state *st, uint8_t key[CWG_KEY_LEN],
			    const uint8_t dh[CWG_KEY_LEN])
{
	static const uint8_t zero[CWG_KEY_LEN];

	if (cwg_ct_equal(dh, zero, CWG_KEY_LEN))
		return false;
	cwg_kdf(st->ck, key, NULL, st->ck, CWG_HASH_LEN, dh, CWG_KEY_LEN);
	return true;
}

static void encrypt_and_hash(struct noise_state *st,
			     const uint8_t key[CWG_KEY_LEN], const uint8_t *in,
			     size_t len, uint8_t *out)
{
	cwg_aead_seal(out, in, len, st->h, CWG_HASH_LEN, 0, key);
	mix_hash(st, out, len + CWG_AEAD_TAG_LEN);
}

static bool decrypt_and_hash(struct noise_state *st,
			     const uint8_t key[CWG_KEY_LEN], const uint8_t *in,
			     size_t len, uint8_t *out)
{
	if (!cwg_aead_open(out, in, len + CWG_AEAD_TAG_LEN, st->h, CWG_HASH_LEN,
			   0, key))
		return false;
	mix_hash(st, in, len + CWG_AEAD_TAG_LEN);
	return true;
}

void cwg_noise_state_init(struct noise_state *st, const uint8_t *prologue,
			  size_t prologue_len,
			  const uint8_t responder_pub[CWG_KEY_LEN])
{
	cwg_memset(st, 0, sizeof(*st));
	cwg_blake2s(st->ck, CWG_HASH_LEN, NULL, 0,
		    (const uint8_t *)noise_construction,
		    sizeof(noise_construction) - 1, NULL, 0);
	cwg_memcpy(st->h, st->ck, CWG_HASH_LEN);
	mix_hash(st, prologue, prologue_len);
	mix_hash(st, responder_pub, CWG_KEY_LEN);
}

/* The "e" token in a PSK handshake: MixHash(e.pub) then MixKey(e.pub). */
static void mix_ephemeral(struct noise_state *st,
			  const uint8_t e_pub[CWG_KEY_LEN])
{
	mix_hash(st, e_pub, CWG_KEY_LEN);
	mix_ck(st, e_pub, CWG_KEY_LEN);
}

bool cwg_noise_write_msg1(struct noise_state *st,
			  const uint8_t e_priv[CWG_KEY_LEN],
			  const uint8_t s_pub[CWG_KEY_LEN],
			  const uint8_t responder_pub[CWG_KEY_LEN],
			  const uint8_t ss[CWG_KEY_LEN], const uint8_t *payload,
			  size_t payload_len, uint8_t *out)
{
	uint8_t key[CWG_KEY_LEN];
	bool ok = false;

	cwg_memcpy(st->e_priv, e_priv, CWG_KEY_LEN);
	if (!cwg_x25519_public(out, e_priv))
		goto out;
	mix_ephemeral(st, out);
	if (!mix_dh(st, key, e_priv, responder_pub))
		goto out;
	encrypt_and_hash(st, key, s_pub, CWG_KEY_LEN, out + CWG_KEY_LEN);
	if (!mix_precomputed(st, key, ss))
		goto out;
	encrypt_and_hash(st, key, payload, payload_len, out + 80);
	ok = true;
out:
	cwg_wipe(key, sizeof(key));
	return ok;
}

bool cwg_noise_read_msg1_static(struct noise_state *st,
				const uint8_t s_priv[CWG_KEY_LEN],
				const uint8_t *msg,
				uint8_t remote_pub[CWG_KEY_LEN])
{
	uint8_t key[CWG_KEY_LEN];
	bool ok = false;

	cwg_memcpy(st->e_remote, msg, CWG_KEY_LEN);
	mix_ephemeral(st, msg);
	if (!mix_dh(st, key, s_priv, msg))
		goto out;
	ok = decrypt_and_hash(st, key, msg + CWG_KEY_LEN, CWG_KEY_LEN,
			      remote_pub);
out:
	cwg_wipe(key, sizeof(key));
	return ok;
}

bool cwg_noise_read_msg1_payload(struct noise_state *st,
				 const uint8_t ss[CWG_KEY_LEN],
				 const uint8_t *msg, uint8_t *payload,
				 size_t payload_len)
{
	uint8_t key[CWG_KEY_LEN];
	bool ok = false;

	if (!mix_precomputed(st, key, ss))
		goto out;
	ok = decrypt_and_hash(st, key, msg + 80, payload_len, payload);
out:
	cwg_wipe(key, sizeof(key));
	return ok;
}

/* The "psk" token: (ck, t, k) = KDF3(ck, psk); MixHash(t). */
static void mix_psk(struct noise_state *st, uint8_t key[CWG_KEY_LEN],
		    const uint8_t psk[CWG_KEY_LEN])
{
	uint8_t t[CWG_KEY_LEN];

	cwg_kdf(st->ck, t, key, st->ck, CWG_HASH_LEN, psk, CWG_KEY_LEN);
	mix_hash(st, t, CWG_KEY_LEN);
	cwg_wipe(t, sizeof(t));
}

bool cwg_noise_write_msg2(struct noise_state *st,
			  const uint8_t e_priv[CWG_KEY_LEN],
			  const uint8_t initiator_pub[CWG_KEY_LEN],
			  const uint8_t psk[CWG_KEY_LEN],
			  const uint8_t *payload, size_t payload_len,
			  uint8_t *out)
{
	uint8_t key[CWG_KEY_LEN];
	bool ok = false;

	cwg_memcpy(st->e_priv, e_priv, CWG_KEY_LEN);
	if (!cwg_x25519_public(out, e_priv))
		goto out;
	mix_ephemeral(st, out);
	if (!mix_dh(st, key, e_priv, st->e_remote))	/* ee */
		goto out;
	if (!mix_dh(st, key, e_priv, initiator_pub))	/* se */
		goto out;
	mix_psk(st, key, psk);
	encrypt_and_hash(st, key, payload, payload_len, out + CWG_KEY_LEN);
	ok = true;
out:
	cwg_wipe(key, sizeof(key));
	return ok;
}

bool cwg_noise_read_msg2(struct noise_state *st,
			 const uint8_t s_priv[CWG_KEY_LEN],
			 const uint8_t psk[CWG_KEY_LEN], const uint8_t *msg,
			 uint8_t *payload, size_t payload_len)
{
	uint8_t key[CWG_KEY_LEN];
	bool ok = false;

	cwg_memcpy(st->e_remote, msg, CWG_KEY_LEN);
	mix_ephemeral(st, msg);
	if (!mix_dh(st, key, st->e_priv, msg))		/* ee */
		goto out;
	if (!mix_dh(st, key, s_priv, msg))		/* se */
		goto out;
	mix_psk(st, key, psk);
	ok = decrypt_and_hash(st, key, msg + CWG_KEY_LEN, payload_len, payload);
out:
	cwg_wipe(key, sizeof(key));
	return ok;
}

void cwg_noise_split(const struct noise_state *st,
		     uint8_t initiator_key[CWG_KEY_LEN],
		     uint8_t responder_key[CWG_KEY_LEN])
{
	cwg_kdf(initiator_key, responder_key, NULL, st->ck, CWG_HASH_LEN, NULL,
		0);
}
