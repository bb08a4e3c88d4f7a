/* SPDX-License-Identifier: MIT */
/*
 * The Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s known-answer run (cacophony,
 * tests/vectors/noise-ikpsk2-25519-chachapoly-blake2s.json): the handshake
 * core, fed the vector's prologue, keys, PSK and payloads, must reproduce
 * both handshake messages, all four transport messages and the final
 * handshake hash byte for byte, as initiator and as responder.
 */
#include <string.h>

#include "core/noise.h"
#include "crypto/crypto.h"
#include "json.h"
#include "tap.h"

static size_t get_hex(const struct json *obj, const char *key, uint8_t *out,
		      size_t cap)
{
	const char *s = json_get_str(obj, key);
	long n = s ? hex_decode(out, cap, s) : -1;

	if (n < 0) {
		diag("bad or missing hex field %s", key);
		exit(1);
	}
	return (size_t)n;
}

int main(void)
{
	struct json *v = json_load_vector("noise-ikpsk2-25519-chachapoly-blake2s.json");
	const struct json *msgs, *psks, *m;
	uint8_t prologue[64], psk[32], s_i[32], e_i[32], s_r[32], e_r[32];
	uint8_t rs[32], s_i_pub[32], s_r_pub[32], ss_i[32], ss_r[32];
	uint8_t want_hash[32], payload[256], ct[512], out[512], got[256];
	uint8_t remote[32], k_i2r[32], k_r2i[32], k2_i2r[32], k2_r2i[32];
	struct noise_state ini, resp;
	size_t plen, clen, prologue_len, i;
	int matched = 0;

	if (!v)
		return 1;
	cwg_crypto_init();
	ok(strcmp(json_get_str(v, "protocol_name"),
		  "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s") == 0,
	   "vector is Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s");
	prologue_len = get_hex(v, "init_prologue", prologue, sizeof(prologue));
	psks = json_get(v, "init_psks");
	if (hex_decode(psk, 32, json_at(psks, 0)->str) != 32)
		return 1;
	get_hex(v, "init_static", s_i, 32);
	get_hex(v, "init_ephemeral", e_i, 32);
	get_hex(v, "init_remote_static", rs, 32);
	get_hex(v, "resp_static", s_r, 32);
	get_hex(v, "resp_ephemeral", e_r, 32);
	get_hex(v, "handshake_hash", want_hash, 32);
	msgs = json_get(v, "messages");
	ok(msgs && msgs->count == 6, "six messages (2 handshake, 4 transport)");

	cwg_x25519_public(s_i_pub, s_i);
	cwg_x25519_public(s_r_pub, s_r);
	ok(memcmp(s_r_pub, rs, 32) == 0, "responder static matches init_remote_static");
	cwg_x25519(ss_i, s_i, s_r_pub);
	cwg_x25519(ss_r, s_r, s_i_pub);

	/* Message 1: initiator writes, responder reads. */
	m = json_at(msgs, 0);
	plen = get_hex(m, "payload", payload, sizeof(payload));
	clen = get_hex(m, "ciphertext", ct, sizeof(ct));
	cwg_noise_state_init(&ini, prologue, prologue_len, rs);
	ok(cwg_noise_write_msg1(&ini, e_i, s_i_pub, rs, ss_i, payload, plen, out),
	   "initiator writes message 1");
	ok(clen == 80 + plen + 16 && memcmp(out, ct, clen) == 0,
	   "message 1 ciphertext matches (%zu bytes)", clen);
	matched += clen == 80 + plen + 16 && memcmp(out, ct, clen) == 0;
	cwg_noise_state_init(&resp, prologue, prologue_len, s_r_pub);
	ok(cwg_noise_read_msg1_static(&resp, s_r, ct, remote) &&
		   memcmp(remote, s_i_pub, 32) == 0,
	   "responder decrypts the initiator's static key");
	ok(cwg_noise_read_msg1_payload(&resp, ss_r, ct, got, plen) &&
		   memcmp(got, payload, plen) == 0,
	   "responder decrypts payload 1");

	/* Message 2: responder writes, initiator reads. */
	m = json_at(msgs, 1);
	plen = get_hex(m, "payload", payload, sizeof(payload));
	clen = get_hex(m, "ciphertext", ct, sizeof(ct));
	ok(cwg_noise_write_msg2(&resp, e_r, s_i_pub, psk, payload, plen, out),
	   "responder writes message 2");
	ok(clen == 32 + plen + 16 && memcmp(out, ct, clen) == 0,
	   "message 2 ciphertext matches (%zu bytes)", clen);
	matched += clen == 32 + plen + 16 && memcmp(out, ct, clen) == 0;
	ok(cwg_noise_read_msg2(&ini, s_i, psk, ct, got, plen) &&
		   memcmp(got, payload, plen) == 0,
	   "initiator decrypts payload 2");
	ok(memcmp(ini.h, want_hash, 32) == 0 && memcmp(resp.h, want_hash, 32) == 0,
	   "both sides end on the vector's handshake hash");

	/* Transport: messages alternate i->r, r->i with nonces 0, 0, 1, 1. */
	cwg_noise_split(&ini, k_i2r, k_r2i);
	cwg_noise_split(&resp, k2_i2r, k2_r2i);
	ok(memcmp(k_i2r, k2_i2r, 32) == 0 && memcmp(k_r2i, k2_r2i, 32) == 0,
	   "split gives both sides the same transport keys");
	for (i = 2; i < 6; i++) {
		const uint8_t *key = (i % 2 == 0) ? k_i2r : k_r2i;
		uint64_t nonce = (i - 2) / 2;

		m = json_at(msgs, i);
		plen = get_hex(m, "payload", payload, sizeof(payload));
		clen = get_hex(m, "ciphertext", ct, sizeof(ct));
		cwg_aead_seal(out, payload, plen, NULL, 0, nonce, key);
		ok(clen == plen + 16 && memcmp(out, ct, clen) == 0,
		   "transport message %zu matches", i + 1);
		matched += clen == plen + 16 && memcmp(out, ct, clen) == 0;
		ok(cwg_aead_open(got, ct, clen, NULL, 0, nonce, key) &&
			   memcmp(got, payload, plen) == 0,
		   "transport message %zu opens", i + 1);
	}
	ok(matched == 6, "noise-ikpsk2 vector: %d of 6 messages reproduced byte for byte",
	   matched);
	cwg_noise_state_wipe(&ini);
	cwg_noise_state_wipe(&resp);
	json_free(v);
	return done_testing();
}
