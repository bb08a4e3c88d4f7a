// SPDX-License-Identifier: MIT
/*
 * The crypto interface over OpenSSL 3's libcrypto: ChaCha20-Poly1305,
 * X25519 and BLAKE2s come from the library; constant-time compare and
 * cleanse too. HChaCha20 (hchacha20.c) and the KDF (kdf.c) are ours.
 *
 * Algorithm objects are fetched once per process (cwg_crypto_init, or
 * lazily on first use). The data path must not allocate per packet and
 * runs on several threads at once with different keys, so every thread
 * keeps its own cipher, digest and MAC contexts, created on first use,
 * re-keyed when the key changes and freed (the remembered keys wiped)
 * when the thread exits. A consequence worth knowing: the last key a
 * thread used stays inside its contexts, and in a copy beside them,
 * until another key replaces it or the thread exits.
 *
 * Every failure of the library lands in the same place: outputs are
 * zeroed (a sealed message the peer will refuse, never plaintext), opens
 * and X25519 report false, and the error queue is cleared so attacker-
 * driven failures leave nothing behind.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "crypto.h"
#include "crypto_internal.h"

static pthread_once_t crypto_once = PTHREAD_ONCE_INIT;
static bool crypto_ready;
static pthread_key_t crypto_tls_key;

/* Fetched once and held for the life of the process. */
static EVP_CIPHER *chacha20_poly1305;
static EVP_MD *blake2s_256;
static EVP_MAC *blake2s_mac;

/*
 * One AEAD context per direction, each remembering the key it holds:
 * re-keying ChaCha20-Poly1305 costs about a third of sealing a full
 * packet, and a data thread seals or opens run after run under one key,
 * so a call under the same key only sets the nonce.
 */
struct aead_slot {
	EVP_CIPHER_CTX *ctx;
	bool keyed;
	uint8_t key[CWG_KEY_LEN];
};

struct crypto_tls {
	struct aead_slot aead[2]; /* [0] open, [1] seal */
	EVP_MD_CTX *md;
	EVP_MAC_CTX *mac;
	EVP_PKEY_CTX *x25519_import;
};

static _Thread_local struct crypto_tls *crypto_tls;

/* pthread key destructor: runs at thread exit (the contexts hold keys). */
static void crypto_tls_free(void *p)
{
	struct crypto_tls *t = p;

	for (int i = 0; i < 2; i++) {
		EVP_CIPHER_CTX_free(t->aead[i].ctx);
		OPENSSL_cleanse(t->aead[i].key, sizeof(t->aead[i].key));
	}
	EVP_MD_CTX_free(t->md);
	EVP_MAC_CTX_free(t->mac);
	EVP_PKEY_CTX_free(t->x25519_import);
	free(t);
}

static void crypto_init_once(void)
{
	if (pthread_key_create(&crypto_tls_key, crypto_tls_free))
		return;
	/*
	 * The algorithms are fixed by the protocol and come from the default
	 * provider, so the system's openssl.cnf has nothing to say to us:
	 * not reading it keeps a file read out of the sandbox's way and a
	 * FIPS-only system default from refusing ChaCha20.
	 */
	if (!OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG, NULL))
		return;
	chacha20_poly1305 = EVP_CIPHER_fetch(NULL, "ChaCha20-Poly1305", NULL);
	blake2s_256 = EVP_MD_fetch(NULL, "BLAKE2S-256", NULL);
	blake2s_mac = EVP_MAC_fetch(NULL, "BLAKE2SMAC", NULL);
	crypto_ready = chacha20_poly1305 && blake2s_256 && blake2s_mac;
	if (crypto_ready) {
		/*
		 * EVP_PKEY has no constructor taking a fetched keymgmt, so
		 * X25519 is looked up by name per call; only check here that
		 * the provider has it (the fetch also warms the method cache).
		 */
		EVP_KEYMGMT *km = EVP_KEYMGMT_fetch(NULL, "X25519", NULL);
		EVP_KEYEXCH *kx = EVP_KEYEXCH_fetch(NULL, "X25519", NULL);

		crypto_ready = km && kx;
		EVP_KEYMGMT_free(km);
		EVP_KEYEXCH_free(kx);
	}
	if (!crypto_ready)
		ERR_clear_error();
}

static bool crypto_ensure_init(void)
{
	/* pthread_once also orders the reads of what it initialised. */
	pthread_once(&crypto_once, crypto_init_once);
	return crypto_ready;
}

int cwg_crypto_init(void)
{
	return crypto_ensure_init() ? 0 : -1;
}

void cwg_crypto_thread_cleanup(void)
{
	struct crypto_tls *t = crypto_tls;

	if (!t)
		return;
	crypto_tls = NULL;
	pthread_setspecific(crypto_tls_key, NULL);
	crypto_tls_free(t);
}

static struct crypto_tls *tls_get(void)
{
	struct crypto_tls *t = crypto_tls;

	if (t)
		return t;
	if (!crypto_ensure_init())
		return NULL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	if (pthread_setspecific(crypto_tls_key, t)) {
		free(t);
		return NULL;
	}
	crypto_tls = t;
	return t;
}

/* Constant time, and a few word operations where CRYPTO_memcmp's byte
 * loop is a measurable part of sealing a small packet. */
static bool key_equal(const uint8_t a[CWG_KEY_LEN],
		      const uint8_t b[CWG_KEY_LEN])
{
	uint64_t x, y, diff = 0;

	for (size_t i = 0; i < CWG_KEY_LEN; i += sizeof(x)) {
		cwg_memcpy(&x, a + i, sizeof(x));
		cwg_memcpy(&y, b + i, sizeof(y));
		diff |= x ^ y;
	}
	return !diff;
}

/*
 * The thread's context for direction enc, keyed with key and set to
 * nonce, ready for AAD and data; NULL on failure.
 */
static EVP_CIPHER_CTX *tls_aead_ctx(int enc, const uint8_t *key,
				    const uint8_t *nonce)
{
	struct crypto_tls *t = tls_get();
	struct aead_slot *s;
	bool same;

	if (!t)
		return NULL;
	s = &t->aead[enc];
	if (!s->ctx) {
		EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();

		/* Bind the cipher once; each call then only sets key and IV. */
		if (!ctx || !EVP_CipherInit_ex(ctx, chacha20_poly1305, NULL,
					       NULL, NULL, enc)) {
			EVP_CIPHER_CTX_free(ctx);
			return NULL;
		}
		s->ctx = ctx;
	}
	same = s->keyed && key_equal(s->key, key);
	/* The IV alone restarts the AEAD state (counters, Poly1305 key). */
	if (!EVP_CipherInit_ex(s->ctx, NULL, NULL, same ? NULL : key, nonce,
			       enc)) {
		s->keyed = false;
		return NULL;
	}
	if (!same) {
		cwg_memcpy(s->key, key, CWG_KEY_LEN);
		s->keyed = true;
	}
	return s->ctx;
}

static EVP_MD_CTX *tls_md_ctx(void)
{
	struct crypto_tls *t = tls_get();

	if (!t)
		return NULL;
	if (!t->md)
		t->md = EVP_MD_CTX_new();
	return t->md;
}

static EVP_MAC_CTX *tls_mac_ctx(void)
{
	struct crypto_tls *t = tls_get();

	if (!t)
		return NULL;
	if (!t->mac)
		t->mac = EVP_MAC_CTX_new(blake2s_mac);
	return t->mac;
}

/* EVP takes int lengths; feed anything longer in pieces. */
#define EVP_CHUNK (1 << 30)

static bool aead_update(EVP_CIPHER_CTX *ctx, uint8_t *out, const uint8_t *in,
			size_t len)
{
	while (len) {
		int n = len > EVP_CHUNK ? EVP_CHUNK : (int)len, outl;

		if (!EVP_CipherUpdate(ctx, out, &outl, in, n))
			return false;
		/* A stream cipher: whatever goes in comes straight out. */
		if (out && outl != n)
			return false;
		if (out)
			out += n;
		in += n;
		len -= (size_t)n;
	}
	return true;
}

/*
 * Gets (seal) or sets (open) the tag. The parameter call directly: the
 * EVP_CTRL_AEAD_*_TAG controls translate to it on every call, which
 * costs a few percent of a small packet.
 */
static bool aead_tag_param(EVP_CIPHER_CTX *ctx, uint8_t tag[CWG_AEAD_TAG_LEN],
			   bool set)
{
	OSSL_PARAM p[2] = {
		OSSL_PARAM_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, tag,
					CWG_AEAD_TAG_LEN),
		OSSL_PARAM_END,
	};

	return set ? EVP_CIPHER_CTX_set_params(ctx, p) :
		     EVP_CIPHER_CTX_get_params(ctx, p);
}

void cwg_aead_seal_raw(uint8_t *dst, const uint8_t *src, size_t len,
		       const uint8_t *ad, size_t adlen,
		       const uint8_t nonce[CWG_AEAD_NONCE_LEN],
		       const uint8_t key[CWG_KEY_LEN])
{
	EVP_CIPHER_CTX *ctx = tls_aead_ctx(1, key, nonce);
	uint8_t none[1];
	int outl;

	/* Final emits nothing for a stream cipher; none is a safe target. */
	if (ctx && aead_update(ctx, NULL, ad, adlen) &&
	    aead_update(ctx, dst, src, len) &&
	    EVP_CipherFinal_ex(ctx, none, &outl) && outl == 0 &&
	    aead_tag_param(ctx, dst + len, false))
		return;
	cwg_wipe(dst, len + CWG_AEAD_TAG_LEN);
	ERR_clear_error();
}

bool cwg_aead_open_raw(uint8_t *dst, const uint8_t *src, size_t srclen,
		       const uint8_t *ad, size_t adlen,
		       const uint8_t nonce[CWG_AEAD_NONCE_LEN],
		       const uint8_t key[CWG_KEY_LEN])
{
	EVP_CIPHER_CTX *ctx;
	uint8_t tag[CWG_AEAD_TAG_LEN], none[1];
	size_t len;
	int outl;

	if (srclen < CWG_AEAD_TAG_LEN)
		return false;
	len = srclen - CWG_AEAD_TAG_LEN;
	/* Copied because OSSL_PARAM wants a mutable pointer. */
	cwg_memcpy(tag, src + len, sizeof(tag));

	ctx = tls_aead_ctx(0, key, nonce);
	if (ctx && aead_tag_param(ctx, tag, true) &&
	    aead_update(ctx, NULL, ad, adlen) &&
	    aead_update(ctx, dst, src, len) &&
	    EVP_CipherFinal_ex(ctx, none, &outl) > 0 && outl == 0)
		return true;
	/* libcrypto decrypts before it checks the tag: take it back. */
	cwg_wipe(dst, len);
	ERR_clear_error();
	return false;
}

static void aead_wg_nonce(uint8_t n12[CWG_AEAD_NONCE_LEN], uint64_t counter)
{
	cwg_memset(n12, 0, 4);
	cwg_put_le64(n12 + 4, counter);
}

void cwg_aead_seal(uint8_t *dst, const uint8_t *src, size_t len,
		   const uint8_t *ad, size_t adlen, uint64_t nonce,
		   const uint8_t key[CWG_KEY_LEN])
{
	uint8_t n12[CWG_AEAD_NONCE_LEN];

	aead_wg_nonce(n12, nonce);
	cwg_aead_seal_raw(dst, src, len, ad, adlen, n12, key);
}

bool cwg_aead_open(uint8_t *dst, const uint8_t *src, size_t srclen,
		   const uint8_t *ad, size_t adlen, uint64_t nonce,
		   const uint8_t key[CWG_KEY_LEN])
{
	uint8_t n12[CWG_AEAD_NONCE_LEN];

	aead_wg_nonce(n12, nonce);
	return cwg_aead_open_raw(dst, src, srclen, ad, adlen, n12, key);
}

static const uint8_t zero32[CWG_KEY_LEN];

/*
 * Our side of a DH as an EVP_PKEY. EVP_PKEY_new_raw_private_key would also
 * compute the matching public key, a second scalar multiplication that
 * derive never reads (it uses our private scalar and the peer's point), so
 * it nearly halves handshake throughput. Importing the scalar together with
 * a placeholder public key skips that. The key object lives for one derive
 * and is never exported; the Wycheproof X25519 vectors and the
 * DH-symmetry test in tests/unit/test_crypto.c guard the shortcut.
 */
static EVP_PKEY *x25519_scalar_key(const uint8_t scalar[CWG_KEY_LEN])
{
	struct crypto_tls *t = tls_get();
	EVP_PKEY *pkey = NULL;
	OSSL_PARAM params[3];

	if (!t)
		return NULL;
	if (!t->x25519_import) {
		EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "X25519",
							       NULL);

		if (!ctx || EVP_PKEY_fromdata_init(ctx) <= 0) {
			EVP_PKEY_CTX_free(ctx);
			return NULL;
		}
		t->x25519_import = ctx;
	}
	params[0] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PRIV_KEY,
						      (void *)scalar,
						      CWG_KEY_LEN);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY,
						      (void *)zero32,
						      CWG_KEY_LEN);
	params[2] = OSSL_PARAM_construct_end();
	if (EVP_PKEY_fromdata(t->x25519_import, &pkey, EVP_PKEY_KEYPAIR,
			      params) <= 0)
		return NULL;
	return pkey;
}

bool cwg_x25519(uint8_t out[CWG_KEY_LEN], const uint8_t scalar[CWG_KEY_LEN],
		const uint8_t point[CWG_KEY_LEN])
{
	EVP_PKEY *priv = NULL, *peer = NULL;
	EVP_PKEY_CTX *pctx = NULL;
	size_t outlen = CWG_KEY_LEN;
	bool ret = false;

	if (!crypto_ensure_init())
		goto out;
	priv = x25519_scalar_key(scalar);
	peer = EVP_PKEY_new_raw_public_key_ex(NULL, "X25519", NULL, point,
					      CWG_KEY_LEN);
	if (!priv || !peer)
		goto out;
	pctx = EVP_PKEY_CTX_new_from_pkey(NULL, priv, NULL);
	/* No peer validation: X25519 accepts any 32 bytes as a point. */
	if (!pctx || EVP_PKEY_derive_init(pctx) <= 0 ||
	    EVP_PKEY_derive_set_peer_ex(pctx, peer, 0) <= 0 ||
	    EVP_PKEY_derive(pctx, out, &outlen) <= 0 ||
	    outlen != CWG_KEY_LEN)
		goto out;
	/*
	 * A small-order point gives all zeros whatever our scalar; libcrypto
	 * refuses that itself today, but the whitepaper's rule is ours to
	 * keep, so check again without branching on secret bytes.
	 */
	ret = CRYPTO_memcmp(out, zero32, CWG_KEY_LEN) != 0;
out:
	if (!ret) {
		cwg_wipe(out, CWG_KEY_LEN);
		ERR_clear_error();
	}
	EVP_PKEY_CTX_free(pctx);
	EVP_PKEY_free(peer);
	EVP_PKEY_free(priv);
	return ret;
}

bool cwg_x25519_public(uint8_t pub[CWG_KEY_LEN],
		       const uint8_t priv[CWG_KEY_LEN])
{
	EVP_PKEY *pkey = NULL;
	size_t len = CWG_KEY_LEN;
	bool ret = false;

	if (!crypto_ensure_init())
		goto out;
	pkey = EVP_PKEY_new_raw_private_key_ex(NULL, "X25519", NULL, priv,
					       CWG_KEY_LEN);
	ret = pkey && EVP_PKEY_get_raw_public_key(pkey, pub, &len) > 0 &&
	      len == CWG_KEY_LEN;
out:
	if (!ret) {
		cwg_wipe(pub, CWG_KEY_LEN);
		ERR_clear_error();
	}
	EVP_PKEY_free(pkey);
	return ret;
}

void cwg_x25519_clamp(uint8_t key[CWG_KEY_LEN])
{
	key[0] &= 248;
	key[31] &= 127;
	key[31] |= 64;
}

void cwg_blake2s(uint8_t *out, size_t outlen, const uint8_t *key,
		 size_t keylen, const uint8_t *in1, size_t len1,
		 const uint8_t *in2, size_t len2)
{
	size_t n;

	if (outlen == 0 || outlen > CWG_HASH_LEN || keylen > CWG_KEY_LEN ||
	    (keylen == 0 && outlen != CWG_HASH_LEN)) {
		/* A caller's bug: answer with zeros rather than a hash. */
		if (outlen <= CWG_HASH_LEN)
			cwg_wipe(out, outlen);
		return;
	}

	if (keylen == 0) {
		EVP_MD_CTX *md = tls_md_ctx();
		unsigned int mdlen = 0;

		if (md && EVP_DigestInit_ex2(md, blake2s_256, NULL) &&
		    (!len1 || EVP_DigestUpdate(md, in1, len1)) &&
		    (!len2 || EVP_DigestUpdate(md, in2, len2)) &&
		    EVP_DigestFinal_ex(md, out, &mdlen) &&
		    mdlen == CWG_HASH_LEN)
			return;
	} else {
		EVP_MAC_CTX *mac = tls_mac_ctx();
		OSSL_PARAM params[2];

		/* The digest length is a BLAKE2 parameter, set per call. */
		params[0] = OSSL_PARAM_construct_size_t(OSSL_MAC_PARAM_SIZE,
							&outlen);
		params[1] = OSSL_PARAM_construct_end();
		if (mac && EVP_MAC_init(mac, key, keylen, params) &&
		    (!len1 || EVP_MAC_update(mac, in1, len1)) &&
		    (!len2 || EVP_MAC_update(mac, in2, len2)) &&
		    EVP_MAC_final(mac, out, &n, outlen) && n == outlen)
			return;
	}
	cwg_wipe(out, outlen);
	ERR_clear_error();
}

bool cwg_ct_equal(const void *a, const void *b, size_t n)
{
	return CRYPTO_memcmp(a, b, n) == 0;
}

void cwg_wipe(void *p, size_t n)
{
	OPENSSL_cleanse(p, n);
}

void cwg_random(uint8_t *buf, size_t len)
{
	while (len) {
		ssize_t n = getrandom(buf, len, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			/* Carrying on would mean keys nobody can trust. */
			fprintf(stderr, "cwg: getrandom: %s\n",
				strerror(errno));
			abort();
		}
		buf += n;
		len -= (size_t)n;
	}
}
