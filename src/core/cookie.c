/* SPDX-License-Identifier: MIT */
#include "cookie.h"

#include "../crypto/crypto.h"
#include "messages.h"

static const uint8_t label_mac1[8] = "mac1----";
static const uint8_t label_cookie[8] = "cookie--";

static void derive_key(uint8_t out[CWG_KEY_LEN], const uint8_t label[8],
		       const uint8_t pub[CWG_KEY_LEN])
{
	cwg_blake2s(out, CWG_KEY_LEN, NULL, 0, label, 8, pub, CWG_KEY_LEN);
}

void cwg_cookie_checker_init(struct cookie_checker *c)
{
	cwg_memset(c, 0, sizeof(*c));
	cwg_mutex_init(&c->lock);
}

void cwg_cookie_checker_destroy(struct cookie_checker *c)
{
	cwg_mutex_destroy(&c->lock);
	cwg_wipe(c, sizeof(*c));
}

void cwg_cookie_checker_set_key(struct cookie_checker *c, const uint8_t *pub)
{
	if (pub) {
		derive_key(c->mac1_key, label_mac1, pub);
		derive_key(c->cookie_key, label_cookie, pub);
		c->have_keys = true;
	} else {
		cwg_wipe(c->mac1_key, CWG_KEY_LEN);
		cwg_wipe(c->cookie_key, CWG_KEY_LEN);
		c->have_keys = false;
	}
}

/* The cookie for a source address: MAC(secret, ip || port), the secret
 * replaced every two minutes. */
static void make_cookie(struct cookie_checker *c, uint8_t cookie[16],
			const struct cwg_endpoint *src, uint64_t now,
			cwg_rng_fn rng, void *rng_ctx)
{
	uint8_t port[2] = { (uint8_t)(src->port >> 8), (uint8_t)src->port };

	cwg_mutex_lock(&c->lock);
	if (!c->secret_valid ||
	    cwg_expired(c->secret_birth, now, CWG_COOKIE_SECRET_MAX_AGE_NS)) {
		rng(rng_ctx, c->secret, sizeof(c->secret));
		c->secret_birth = now;
		c->secret_valid = true;
	}
	cwg_blake2s(cookie, 16, c->secret, CWG_KEY_LEN, src->addr,
		    src->family == 6 ? 16 : 4, port, 2);
	cwg_mutex_unlock(&c->lock);
}

enum cookie_mac_state cwg_cookie_checker_validate(struct cookie_checker *c,
					      const uint8_t *msg,
					      size_t mac_off,
					      const struct cwg_endpoint *src,
					      bool check_mac2, uint64_t now,
					      cwg_rng_fn rng, void *rng_ctx)
{
	uint8_t mac[16], cookie[16];
	enum cookie_mac_state ret = COOKIE_MAC_INVALID;

	if (!c->have_keys)
		return ret;
	cwg_blake2s(mac, 16, c->mac1_key, CWG_KEY_LEN, msg, mac_off, NULL, 0);
	if (!cwg_ct_equal(mac, msg + mac_off, 16))
		return ret;
	ret = COOKIE_MAC_VALID_NO_COOKIE;
	if (!check_mac2)
		return ret;
	make_cookie(c, cookie, src, now, rng, rng_ctx);
	cwg_blake2s(mac, 16, cookie, 16, msg, mac_off + 16, NULL, 0);
	if (cwg_ct_equal(mac, msg + mac_off + 16, 16))
		ret = COOKIE_MAC_VALID_WITH_COOKIE;
	cwg_wipe(cookie, sizeof(cookie));
	return ret;
}

void cwg_cookie_checker_make_reply(struct cookie_checker *c, uint8_t out[64],
			       const uint8_t *msg, size_t mac_off,
			       uint32_t sender_index,
			       const struct cwg_endpoint *src, uint64_t now,
			       cwg_rng_fn rng, void *rng_ctx)
{
	uint8_t cookie[16];

	cwg_msg_set_type(out, CWG_MSG_COOKIE_REPLY);
	cwg_put_le32(out + CWG_COOKIE_RECEIVER, sender_index);
	rng(rng_ctx, out + CWG_COOKIE_NONCE, CWG_XAEAD_NONCE_LEN);
	make_cookie(c, cookie, src, now, rng, rng_ctx);
	cwg_xaead_seal(out + CWG_COOKIE_ENCRYPTED, cookie, 16, msg + mac_off,
		       16, out + CWG_COOKIE_NONCE, c->cookie_key);
	cwg_wipe(cookie, sizeof(cookie));
}

void cwg_cookie_maker_init(struct cookie_maker *m,
			   const uint8_t peer_pub[CWG_KEY_LEN])
{
	cwg_memset(m, 0, sizeof(*m));
	derive_key(m->mac1_key, label_mac1, peer_pub);
	derive_key(m->cookie_key, label_cookie, peer_pub);
}

void cwg_cookie_maker_add_macs(struct cookie_maker *m, uint8_t *msg,
			   size_t mac_off, uint64_t now)
{
	cwg_blake2s(msg + mac_off, 16, m->mac1_key, CWG_KEY_LEN, msg, mac_off,
		    NULL, 0);
	cwg_memcpy(m->last_mac1, msg + mac_off, 16);
	m->have_sent_mac1 = true;
	if (m->cookie_valid &&
	    !cwg_expired(m->cookie_birth, now,
			 CWG_COOKIE_SECRET_MAX_AGE_NS -
				 CWG_COOKIE_SECRET_LATENCY_NS))
		cwg_blake2s(msg + mac_off + 16, 16, m->cookie, 16, msg,
			    mac_off + 16, NULL, 0);
	else
		cwg_memset(msg + mac_off + 16, 0, 16);
}

bool cwg_cookie_maker_consume_reply(struct cookie_maker *m, const uint8_t *msg,
				uint64_t now)
{
	uint8_t cookie[16];

	if (!m->have_sent_mac1)
		return false;
	if (!cwg_xaead_open(cookie, msg + CWG_COOKIE_ENCRYPTED,
			    CWG_COOKIE_LEN + CWG_AEAD_TAG_LEN, m->last_mac1, 16,
			    msg + CWG_COOKIE_NONCE, m->cookie_key))
		return false;
	cwg_memcpy(m->cookie, cookie, 16);
	m->cookie_birth = now;
	m->cookie_valid = true;
	m->have_sent_mac1 = false;
	cwg_wipe(cookie, sizeof(cookie));
	return true;
}
