// SPDX-License-Identifier: MIT
/*
 * The self-test cwg.ko runs at load (module parameter selftest, on by
 * default): the known-answer vectors of tests/vectors/ through the kernel
 * crypto backend (crypto.c) and the core, the same checks the unit tests
 * (tests/unit/test_crypto.c, test_noise.c) make of the OpenSSL one, then
 * a WireGuard handshake and a packet each way between two devices through
 * the public device API, which puts host.c's locks, memory and packets to
 * work in the kernel. Any failure and the module refuses to load.
 *
 * Everything here and the vectors live in init memory, gone after load.
 *
 * Built with CWG_SELFTEST_SABOTAGE (kmod-check's negative control only),
 * the module takes sabotage=N: one byte of the first expected value of
 * family N (enum kv_family) is flipped, and the load must fail.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <asm/unaligned.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/string.h>

#include <cwg/cwg.h>

#include "../src/core/noise.h"
#include "../src/crypto/crypto.h"
#include "kmod.h"
#include "kv.h"

#define KV_SECTION __initconst
#include "vectors.h"

enum kv_family {
	KV_CHACHA = 1,
	KV_XCHACHA,
	KV_HCHACHA,
	KV_X25519,
	KV_BLAKE2S,
	KV_KDF,
	KV_NOISE,
	KV_DEVICE,
	KV_FAMILIES
};

static const char *const family_names[KV_FAMILIES] __initconst = {
	[KV_CHACHA] = "chacha20poly1305",
	[KV_XCHACHA] = "xchacha20poly1305",
	[KV_HCHACHA] = "hchacha20",
	[KV_X25519] = "x25519",
	[KV_BLAKE2S] = "blake2s",
	[KV_KDF] = "kdf",
	[KV_NOISE] = "noise-ikpsk2",
	[KV_DEVICE] = "device-pair",
};

static int sabotage;
#ifdef CWG_SELFTEST_SABOTAGE
module_param(sabotage, int, 0444);
MODULE_PARM_DESC(sabotage, "test builds only: corrupt one expected byte of this self-test family");
#endif

#define KV(off) (kv_pool + (off))

/* got == want, except that a sabotaged family's first comparison is made
 * against want with its first byte flipped. */
static bool __init same(enum kv_family f, const u8 *got, const u8 *want,
			size_t n)
{
	if (unlikely(sabotage == (int)f) && n) {
		sabotage = 0;
		return got[0] == (u8)(want[0] ^ 1) &&
		       !memcmp(got + 1, want + 1, n - 1);
	}
	return !memcmp(got, want, n);
}

static bool __init all_zero(const u8 *p, size_t n)
{
	return !memchr_inv(p, 0, n);
}

struct tally {
	unsigned int passed, failed;
};

static void __init count(struct tally *t, enum kv_family f, bool good,
			 unsigned int id)
{
	if (good) {
		t->passed++;
		return;
	}
	if (t->failed++ < 5)
		pr_err("self-test %s: vector %u failed\n", family_names[f], id);
}

/* One AEAD vector: sealing gives the ciphertext (also in place), opening
 * gives the message; a wrong tag, or an invalid vector, is refused with
 * dst zeroed and nothing written past it. */
static bool __init aead_one(const struct kv_aead *v, bool x)
{
	enum kv_family f = x ? KV_XCHACHA : KV_CHACHA;
	const u8 *key = KV(v->key), *n = KV(v->nonce), *ad = KV(v->ad);
	const u8 *ct = KV(v->ct);
	size_t len = v->len, adlen = v->adlen;
	u64 ctr = get_unaligned_le64(n);
	u8 *buf, *sealed;
	bool good = true, r;

	buf = kmalloc(len + CWG_AEAD_TAG_LEN + 1, GFP_KERNEL);
	sealed = kmalloc(len + CWG_AEAD_TAG_LEN, GFP_KERNEL);
	if (!buf || !sealed) {
		good = false;
		goto out;
	}
	if (v->valid) {
		if (x)
			cwg_xaead_seal(sealed, KV(v->msg), len, ad, adlen, n,
				       key);
		else
			cwg_aead_seal(sealed, KV(v->msg), len, ad, adlen, ctr,
				      key);
		good &= same(f, sealed, ct, len + CWG_AEAD_TAG_LEN);
		memcpy(buf, KV(v->msg), len);
		if (x)
			cwg_xaead_seal(buf, buf, len, ad, adlen, n, key);
		else
			cwg_aead_seal(buf, buf, len, ad, adlen, ctr, key);
		good &= !memcmp(buf, ct, len + CWG_AEAD_TAG_LEN);
	}
	memcpy(sealed, ct, len + CWG_AEAD_TAG_LEN);
	memset(buf, 0xaa, len + 1);
	r = x ? cwg_xaead_open(buf, sealed, len + CWG_AEAD_TAG_LEN, ad, adlen,
			       n, key) :
		cwg_aead_open(buf, sealed, len + CWG_AEAD_TAG_LEN, ad, adlen,
			      ctr, key);
	good &= r == !!v->valid && buf[len] == 0xaa;
	good &= v->valid ? !memcmp(buf, KV(v->msg), len) : all_zero(buf, len);
	if (v->valid) {
		/* The same message with its tag's last bit flipped. */
		sealed[len + CWG_AEAD_TAG_LEN - 1] ^= 1;
		memset(buf, 0xaa, len + 1);
		r = x ? cwg_xaead_open(buf, sealed, len + CWG_AEAD_TAG_LEN, ad,
				       adlen, n, key) :
			cwg_aead_open(buf, sealed, len + CWG_AEAD_TAG_LEN, ad,
				      adlen, ctr, key);
		good &= !r && all_zero(buf, len) && buf[len] == 0xaa;
	}
out:
	kfree(buf);
	kfree(sealed);
	return good;
}

static void __init test_aead(struct tally *t, const struct kv_aead *tab,
			     size_t n, bool x)
{
	size_t i;

	for (i = 0; i < n; i++)
		count(t, x ? KV_XCHACHA : KV_CHACHA, aead_one(&tab[i], x),
		      tab[i].id);
}

/* draft-irtf-cfrg-xchacha-03 section 2.2.1, as in test_crypto.c. */
static void __init test_hchacha(struct tally *t)
{
	static const u8 nonce[16] __initconst = {
		0x00, 0x00, 0x00, 0x09, 0x00, 0x00, 0x00, 0x4a,
		0x00, 0x00, 0x00, 0x00, 0x31, 0x41, 0x59, 0x27
	};
	static const u8 want[32] __initconst = {
		0x82, 0x41, 0x3b, 0x42, 0x27, 0xb2, 0x7b, 0xfe,
		0xd3, 0x0e, 0x42, 0x50, 0x8a, 0x87, 0x7d, 0x73,
		0xa0, 0xf9, 0xe4, 0xd5, 0x8a, 0x74, 0xa8, 0x53,
		0xc1, 0x2e, 0xc4, 0x13, 0x26, 0xd3, 0xec, 0xdc
	};
	u8 key[32], out[32];
	int i;

	for (i = 0; i < 32; i++)
		key[i] = (u8)i;
	cwg_hchacha20(out, nonce, key);
	count(t, KV_HCHACHA, same(KV_HCHACHA, out, want, 32), 1);
}

static void __init test_x25519(struct tally *t)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(kv_x25519); i++) {
		const struct kv_x25519 *v = &kv_x25519[i];
		u8 out[CWG_KEY_LEN];
		bool r, good;

		memset(out, 0xaa, sizeof(out));
		r = cwg_x25519(out, KV(v->priv), KV(v->pub));
		if (v->result == KV_X25519_ZERO)
			good = !r && all_zero(out, sizeof(out));
		else if (v->result == KV_X25519_VALID)
			good = r && same(KV_X25519, out, KV(v->shared), 32);
		else /* acceptable: either answer, but a yes must be right */
			good = r ? same(KV_X25519, out, KV(v->shared), 32) :
				   all_zero(out, sizeof(out));
		count(t, KV_X25519, good, v->id);
	}
}

static void __init test_blake2s(struct tally *t)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(kv_blake2s); i++) {
		const struct kv_blake2s *v = &kv_blake2s[i];
		size_t split = v->inlen * 7 / 13; /* in1 || in2, varied */
		u8 out[32];

		cwg_blake2s(out, 32, KV(v->key), v->keylen, KV(v->in), split,
			    KV(v->in) + split, v->inlen - split);
		count(t, KV_BLAKE2S, same(KV_BLAKE2S, out, KV(v->out), 32), i);
	}
}

/* KDF1, KDF2 and KDF3, and the chaining key as its own output. */
static void __init test_kdf(struct tally *t)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(kv_kdf); i++) {
		const struct kv_kdf *v = &kv_kdf[i];
		u8 t0[32], t1[32], t2[32], alias[64];
		bool good;

		cwg_kdf(t0, NULL, NULL, KV(v->key), v->keylen, KV(v->in),
			v->inlen);
		good = same(KV_KDF, t0, KV(v->t0), 32);
		cwg_kdf(t0, t1, t2, KV(v->key), v->keylen, KV(v->in), v->inlen);
		good &= !memcmp(t0, KV(v->t0), 32) &&
			!memcmp(t1, KV(v->t1), 32) &&
			!memcmp(t2, KV(v->t2), 32);
		memcpy(alias, KV(v->key), v->keylen);
		cwg_kdf(alias, t1, NULL, alias, v->keylen, KV(v->in), v->inlen);
		good &= !memcmp(alias, KV(v->t0), 32) &&
			!memcmp(t1, KV(v->t1), 32);
		count(t, KV_KDF, good, i);
	}
}

/*
 * The cacophony Noise_IKpsk2 run through the core's noise.c: both
 * handshake messages, the handshake hash and the four transport messages
 * byte for byte, as initiator and as responder. The state is heap
 * memory: two noise_states and the message buffers would make this the
 * module's largest stack frame.
 */
struct noise_run {
	struct noise_state ini, resp;
	u8 s_i_pub[32], s_r_pub[32], ss_i[32], ss_r[32], remote[32];
	u8 k_i2r[32], k_r2i[32], k2_i2r[32], k2_r2i[32];
	u8 out[256], got[256];
};

static bool __init noise_msg_ok(const struct kv_noise_msg *m, size_t head,
				const u8 *out)
{
	return m->clen == head + m->plen + CWG_AEAD_TAG_LEN &&
	       m->clen <= 256 && same(KV_NOISE, out, KV(m->ct), m->clen);
}

static bool __init noise_run(struct noise_run *s)
{
	const struct kv_noise *v = &kv_noise;
	const struct kv_noise_msg *m = v->msgs;
	bool good = true;
	int i;

	cwg_x25519_public(s->s_i_pub, KV(v->s_i));
	cwg_x25519_public(s->s_r_pub, KV(v->s_r));
	good &= !memcmp(s->s_r_pub, KV(v->rs), 32);
	good &= cwg_x25519(s->ss_i, KV(v->s_i), s->s_r_pub);
	good &= cwg_x25519(s->ss_r, KV(v->s_r), s->s_i_pub);

	/* Message 1: the initiator writes, the responder reads. */
	cwg_noise_state_init(&s->ini, KV(v->prologue), v->prologue_len,
			     KV(v->rs));
	good &= cwg_noise_write_msg1(&s->ini, KV(v->e_i), s->s_i_pub,
				     KV(v->rs), s->ss_i, KV(m[0].payload),
				     m[0].plen, s->out);
	good &= noise_msg_ok(&m[0], 80, s->out);
	cwg_noise_state_init(&s->resp, KV(v->prologue), v->prologue_len,
			     s->s_r_pub);
	good &= cwg_noise_read_msg1_static(&s->resp, KV(v->s_r), KV(m[0].ct),
					   s->remote) &&
		!memcmp(s->remote, s->s_i_pub, 32);
	good &= cwg_noise_read_msg1_payload(&s->resp, s->ss_r, KV(m[0].ct),
					    s->got, m[0].plen) &&
		!memcmp(s->got, KV(m[0].payload), m[0].plen);

	/* Message 2: the responder writes, the initiator reads. */
	good &= cwg_noise_write_msg2(&s->resp, KV(v->e_r), s->s_i_pub,
				     KV(v->psk), KV(m[1].payload), m[1].plen,
				     s->out);
	good &= noise_msg_ok(&m[1], 32, s->out);
	good &= cwg_noise_read_msg2(&s->ini, KV(v->s_i), KV(v->psk),
				    KV(m[1].ct), s->got, m[1].plen) &&
		!memcmp(s->got, KV(m[1].payload), m[1].plen);
	good &= !memcmp(s->ini.h, KV(v->hash), 32) &&
		!memcmp(s->resp.h, KV(v->hash), 32);

	/* Transport: i->r, r->i alternately, nonces 0, 0, 1, 1. */
	cwg_noise_split(&s->ini, s->k_i2r, s->k_r2i);
	cwg_noise_split(&s->resp, s->k2_i2r, s->k2_r2i);
	good &= !memcmp(s->k_i2r, s->k2_i2r, 32) &&
		!memcmp(s->k_r2i, s->k2_r2i, 32);
	for (i = 2; i < 6; i++) {
		const u8 *key = i % 2 == 0 ? s->k_i2r : s->k_r2i;
		u64 nonce = (i - 2) / 2;

		if (m[i].plen > 200) {
			good = false;
			continue;
		}
		cwg_aead_seal(s->out, KV(m[i].payload), m[i].plen, NULL, 0,
			      nonce, key);
		good &= noise_msg_ok(&m[i], 0, s->out);
		good &= cwg_aead_open(s->got, KV(m[i].ct), m[i].clen, NULL, 0,
				      nonce, key) &&
			!memcmp(s->got, KV(m[i].payload), m[i].plen);
	}
	cwg_noise_state_wipe(&s->ini);
	cwg_noise_state_wipe(&s->resp);
	return good;
}

static void __init test_noise(struct tally *t)
{
	struct noise_run *s = kzalloc(sizeof(*s), GFP_KERNEL);

	count(t, KV_NOISE, s && noise_run(s), 1);
	kfree_sensitive(s);
}

/* ---- two devices, one handshake, a packet each way ---- */

static void kmod_rng(void *ctx, uint8_t *buf, size_t len)
{
	cwg_random(buf, len);
}

struct side {
	struct cwg_device *dev;
	struct cwg_endpoint ep; /* where this side's datagrams come from */
	u8 priv[CWG_KEY_LEN], pub[CWG_KEY_LEN];
	struct cwg_pkt_list tun; /* what it delivered */
};

/* 10.0.0.src -> 10.0.0.dst, protocol 253 (experiments), text after. */
static struct cwg_pkt *__init ip_packet(u8 src, u8 dst, const char *text)
{
	struct cwg_pkt *p = cwg_pkt_alloc();
	size_t len = 20 + strlen(text);
	u8 *h;

	if (!p || p->data + len + CWG_DATA_TAILROOM > p->buf + p->cap) {
		cwg_pkt_free(p);
		return NULL;
	}
	h = p->data;
	memset(h, 0, 20);
	h[0] = 0x45;
	put_unaligned_be16(len, h + 2);
	h[8] = 64;
	h[9] = 253;
	h[12] = 10, h[15] = src;
	h[16] = 10, h[19] = dst;
	memcpy(h + 20, text, len - 20);
	p->len = len;
	return p;
}

static void __init free_list(struct cwg_pkt_list *l)
{
	struct cwg_pkt *p;

	while ((p = cwg_pkt_list_pop(l)))
		cwg_pkt_free(p);
}

/* Hand what from sent to the other side, and what that answers back,
 * until the wire is quiet (a perfect network, bounded). */
static void __init pump(struct side *from, struct side *to,
			struct cwg_out *out, u64 now)
{
	int rounds;

	for (rounds = 0; rounds < 8 && out->net.head; rounds++) {
		struct cwg_pkt_list in;
		struct cwg_out next;
		struct cwg_pkt *p;
		struct side *tmp;

		cwg_pkt_list_init(&in);
		while ((p = cwg_pkt_list_pop(&out->net))) {
			p->ep = from->ep; /* now the source */
			cwg_pkt_list_append(&in, p);
		}
		cwg_pkt_list_concat(&from->tun, &out->tun);
		cwg_out_init(&next);
		cwg_device_receive(to->dev, &in, now, &next);
		*out = next;
		tmp = from, from = to, to = tmp;
	}
	cwg_pkt_list_concat(&from->tun, &out->tun);
	free_list(&out->net);
}

static int __init side_setup(struct side *me, const struct side *peer,
			     u8 peer_host, bool endpoint)
{
	const u8 allowed[4] = { 10, 0, 0, peer_host };
	struct cwg_peer *p;
	int ret;

	cwg_device_cfg_lock(me->dev);
	cwg_device_set_private_key(me->dev, me->priv);
	ret = cwg_device_add_peer(me->dev, peer->pub, &p);
	if (!ret)
		ret = cwg_peer_add_allowed_ip(p, 4, allowed, 32);
	if (!ret && endpoint)
		cwg_peer_set_endpoint(p, &peer->ep);
	cwg_device_cfg_unlock(me->dev);
	return ret;
}

/* The one packet delivered, equal to what the other side sent. */
static bool __init delivered(struct side *s, const u8 *want, size_t len)
{
	const struct cwg_pkt *p = s->tun.head;

	return s->tun.count == 1 && p->len == len &&
	       same(KV_DEVICE, p->data, want, len);
}

static u64 __init handshakes(struct cwg_device *dev)
{
	struct cwg_device_stats st;

	cwg_device_get_stats(dev, &st);
	return st.handshakes_completed;
}

static bool __init device_pair(struct side *a, struct side *b)
{
	u8 sent[64];
	struct cwg_pkt_list in;
	struct cwg_out out;
	struct cwg_pkt *p;
	u64 now = 10ULL * CWG_NSEC_PER_SEC; /* a virtual clock */
	bool good = true;
	size_t len;

	a->ep = (struct cwg_endpoint){ .family = 4, .port = 51820,
				       .addr = { 192, 0, 2, 1 } };
	b->ep = (struct cwg_endpoint){ .family = 4, .port = 51821,
				       .addr = { 192, 0, 2, 2 } };
	cwg_key_generate(a->priv);
	cwg_key_generate(b->priv);
	if (!cwg_key_public(a->pub, a->priv) ||
	    !cwg_key_public(b->pub, b->priv))
		return false;
	a->dev = cwg_device_new(kmod_rng, NULL);
	b->dev = cwg_device_new(kmod_rng, NULL);
	if (!a->dev || !b->dev || side_setup(a, b, 2, true) ||
	    side_setup(b, a, 1, false))
		return false;

	/* A's packet waits for the handshake and leaves once it is done. */
	p = ip_packet(1, 2, "cwg.ko self-test: a to b");
	if (!p)
		return false;
	len = p->len;
	memcpy(sent, p->data, len);
	cwg_pkt_list_init(&in);
	cwg_pkt_list_append(&in, p);
	cwg_out_init(&out);
	cwg_device_send(a->dev, &in, now, &out);
	pump(a, b, &out, now);
	good &= delivered(b, sent, len);
	free_list(&b->tun);

	p = ip_packet(2, 1, "cwg.ko self-test: b to a");
	if (!p)
		return false;
	len = p->len;
	memcpy(sent, p->data, len);
	cwg_pkt_list_init(&in);
	cwg_pkt_list_append(&in, p);
	cwg_out_init(&out);
	cwg_device_send(b->dev, &in, now + 1000, &out);
	pump(b, a, &out, now + 1000);
	good &= delivered(a, sent, len);
	free_list(&a->tun);

	return good && handshakes(a->dev) == 1 && handshakes(b->dev) == 1;
}

static void __init test_device(struct tally *t)
{
	struct side *s = kcalloc(2, sizeof(*s), GFP_KERNEL);
	bool good = false;

	if (s) {
		cwg_pkt_list_init(&s[0].tun);
		cwg_pkt_list_init(&s[1].tun);
		good = device_pair(&s[0], &s[1]);
		free_list(&s[0].tun);
		free_list(&s[1].tun);
		cwg_device_free(s[0].dev);
		cwg_device_free(s[1].dev);
	}
	count(t, KV_DEVICE, good, 1);
	kfree_sensitive(s);
}

int __init cwg_selftest(void)
{
	struct tally t[KV_FAMILIES] = { { 0, 0 } };
	unsigned int passed = 0, failed = 0;
	int f;

	test_aead(&t[KV_CHACHA], kv_chacha, ARRAY_SIZE(kv_chacha), false);
	test_aead(&t[KV_XCHACHA], kv_xchacha, ARRAY_SIZE(kv_xchacha), true);
	test_hchacha(&t[KV_HCHACHA]);
	test_x25519(&t[KV_X25519]);
	test_blake2s(&t[KV_BLAKE2S]);
	test_kdf(&t[KV_KDF]);
	test_noise(&t[KV_NOISE]);
	test_device(&t[KV_DEVICE]);

	for (f = 1; f < KV_FAMILIES; f++) {
		pr_info("self-test %s: %u passed, %u failed\n", family_names[f],
			t[f].passed, t[f].failed);
		passed += t[f].passed;
		failed += t[f].failed;
	}
	if (failed || !passed) {
		pr_err("self-test: %u passed, %u failed: refusing to load\n",
		       passed, failed);
		return -EINVAL;
	}
	pr_info("self-test: %u passed, 0 failed\n", passed);
	return 0;
}
