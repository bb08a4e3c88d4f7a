/* SPDX-License-Identifier: MIT */
/*
 * Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s, the handshake WireGuard runs.
 *
 * These functions are the pattern itself, with the prologue and payloads as
 * parameters, so one code path serves WireGuard (prologue "WireGuard v1
 * zx2c4 Jason@zx2c4.com", a 12-byte TAI64N payload in the initiation, an
 * empty one in the response) and the generic Noise test vectors. They know
 * nothing of indices, MACs, peers or time; handshake.c wraps them into
 * WireGuard messages.
 *
 * Message 1 (initiator -> responder):  e, es, s, ss  + payload
 *   e.pub (32) || AEAD(s.pub) (48) || AEAD(payload) (len + 16)
 * Message 2 (responder -> initiator):  e, ee, se, psk + payload
 *   e.pub (32) || AEAD(payload) (len + 16)
 */
#ifndef CWG_NOISE_H
#define CWG_NOISE_H

#include "../base.h"

/* The running chaining key and handshake hash, plus what each side keeps
 * between messages. Wiped by cwg_noise_state_wipe. */
struct noise_state {
	uint8_t ck[CWG_HASH_LEN];
	uint8_t h[CWG_HASH_LEN];
	uint8_t e_priv[CWG_KEY_LEN];   /* our ephemeral private key */
	uint8_t e_remote[CWG_KEY_LEN]; /* their ephemeral public key */
};

void cwg_noise_state_wipe(struct noise_state *st);

/* ck = h = HASH(protocol name); h = HASH(h || prologue); h = HASH(h || rs).
 * rs is the responder's static public key (both sides know it). */
void cwg_noise_state_init(struct noise_state *st, const uint8_t *prologue,
			  size_t prologue_len,
			  const uint8_t responder_pub[CWG_KEY_LEN]);

/*
 * Initiator writes message 1 into out (80 + payload_len + 16 bytes).
 * e_priv is the (already clamped) ephemeral private key, ss the
 * precomputed DH(s_i, S_r). false if a DH result is zero.
 */
bool cwg_noise_write_msg1(struct noise_state *st,
			  const uint8_t e_priv[CWG_KEY_LEN],
			  const uint8_t s_pub[CWG_KEY_LEN],
			  const uint8_t responder_pub[CWG_KEY_LEN],
			  const uint8_t ss[CWG_KEY_LEN], const uint8_t *payload,
			  size_t payload_len, uint8_t *out);

/*
 * Responder reads message 1 in two steps, because the static-static DH and
 * the PSK belong to the peer whose key step one reveals.
 * Step one (e, es, s): msg holds at least 80 bytes. Writes the initiator's
 * static public key to remote_pub. false if it does not decrypt.
 */
bool cwg_noise_read_msg1_static(struct noise_state *st,
				const uint8_t s_priv[CWG_KEY_LEN],
				const uint8_t *msg,
				uint8_t remote_pub[CWG_KEY_LEN]);
/* Step two (ss, payload): reads payload_len + 16 bytes at msg + 80. */
bool cwg_noise_read_msg1_payload(struct noise_state *st,
				 const uint8_t ss[CWG_KEY_LEN],
				 const uint8_t *msg, uint8_t *payload,
				 size_t payload_len);

/* Responder writes message 2 (32 + payload_len + 16 bytes) into out. */
bool cwg_noise_write_msg2(struct noise_state *st,
			  const uint8_t e_priv[CWG_KEY_LEN],
			  const uint8_t initiator_pub[CWG_KEY_LEN],
			  const uint8_t psk[CWG_KEY_LEN],
			  const uint8_t *payload, size_t payload_len,
			  uint8_t *out);

/* Initiator reads message 2. s_priv is its static private key. */
bool cwg_noise_read_msg2(struct noise_state *st,
			 const uint8_t s_priv[CWG_KEY_LEN],
			 const uint8_t psk[CWG_KEY_LEN], const uint8_t *msg,
			 uint8_t *payload, size_t payload_len);

/* Split: the two transport keys. initiator_key encrypts initiator ->
 * responder. */
void cwg_noise_split(const struct noise_state *st,
		     uint8_t initiator_key[CWG_KEY_LEN],
		     uint8_t responder_key[CWG_KEY_LEN]);

#endif
