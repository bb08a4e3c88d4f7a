// SPDX-License-Identifier: MIT
/*
 * Build-time tool: reads the known-answer vectors in tests/vectors/ (JSON,
 * which the kernel cannot parse) and writes them as C for the module's
 * self-test (kmod/kv.h says the layout). Uses the unit tests' JSON reader.
 *
 *   gen_vectors VECTOR_DIR OUT.h
 *
 * Any file that is missing, malformed or not the expected shape fails
 * the build: a self-test that silently lost its vectors would pass.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "tap.h"

static const char *dir;
static FILE *out;

static uint8_t pool[1 << 20];
static size_t pool_len;

static void die(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "gen_vectors: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	exit(1);
}

static struct json *load(const char *name)
{
	char path[4096];
	struct json *j;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	j = json_load_file(path);
	if (!j)
		die("cannot read %s", path);
	return j;
}

/* Add bytes to the pool (reusing an identical run already there); the
 * offset. */
static uint32_t pool_add(const uint8_t *b, size_t n)
{
	size_t i;

	for (i = 0; n && i + n <= pool_len; i++)
		if (!memcmp(pool + i, b, n))
			return (uint32_t)i;
	if (pool_len + n > sizeof(pool))
		die("pool full");
	memcpy(pool + pool_len, b, n);
	pool_len += n;
	return (uint32_t)(pool_len - n);
}

/* A hex member into the pool; its length in *len. want: exact length
 * required, or -1 for any. */
static uint32_t hex(const struct json *obj, const char *key, size_t *len,
		    long want)
{
	static uint8_t buf[1 << 16];
	const char *s = json_get_str(obj, key);
	long n = s ? hex_decode(buf, sizeof(buf), s) : -1;

	if (n < 0)
		die("bad or missing hex member '%s'", key);
	if (want >= 0 && n != want)
		die("member '%s' is %ld bytes, not %ld", key, n, want);
	if (len)
		*len = (size_t)n;
	return pool_add(buf, (size_t)n);
}

static double num(const struct json *obj, const char *key)
{
	const struct json *n = json_get(obj, key);

	if (!n || n->type != JSON_NUMBER)
		die("missing number '%s'", key);
	return n->num;
}

static const char *str(const struct json *obj, const char *key)
{
	const char *s = json_get_str(obj, key);

	if (!s)
		die("missing string '%s'", key);
	return s;
}

/* Wycheproof AEAD: ChaCha20-Poly1305 vectors whose IV is WireGuard's
 * (4 zero bytes, a 64-bit counter), or every XChaCha20-Poly1305 one. */
static void aead(const char *file, const char *table, bool xchacha)
{
	struct json *root = load(file);
	const struct json *groups = json_get(root, "testGroups"), *g, *t;
	int taken = 0, seen = 0;

	if (!groups || groups->type != JSON_ARRAY)
		die("%s: no testGroups", file);
	fprintf(out, "static const struct kv_aead %s[] KV_SECTION = {\n", table);
	for (g = groups->child; g; g = g->next) {
		bool shape = num(g, "keySize") == 256 && num(g, "tagSize") == 128 &&
			     num(g, "ivSize") == (xchacha ? 192 : 96);

		for (t = json_get(g, "tests")->child; t; t = t->next) {
			size_t msglen, adlen, ctlen, taglen, ivlen;
			uint8_t iv[24], ct[1 << 16];
			uint32_t key, nonce, ad, msg, c;
			const char *res = str(t, "result");
			long n;

			seen++;
			if (!shape)
				continue;
			n = hex_decode(iv, sizeof(iv), str(t, "iv"));
			if (n < 0)
				die("%s: bad iv", file);
			ivlen = (size_t)n;
			if (!xchacha && (ivlen != 12 || iv[0] || iv[1] || iv[2] ||
					 iv[3]))
				continue;
			key = hex(t, "key", NULL, 32);
			nonce = pool_add(xchacha ? iv : iv + 4, xchacha ? 24 : 8);
			ad = hex(t, "aad", &adlen, -1);
			msg = hex(t, "msg", &msglen, -1);
			n = hex_decode(ct, sizeof(ct), str(t, "ct"));
			if (n < 0 || (size_t)n != msglen)
				die("%s: tcId %.0f: ct length", file,
				    num(t, "tcId"));
			ctlen = (size_t)n;
			n = hex_decode(ct + ctlen, sizeof(ct) - ctlen,
				       str(t, "tag"));
			if (n != 16)
				die("%s: tcId %.0f: tag length", file,
				    num(t, "tcId"));
			taglen = (size_t)n;
			c = pool_add(ct, ctlen + taglen);
			if (msglen > 0xffff || adlen > 0xffff)
				die("%s: vector too long", file);
			fprintf(out,
				"\t{ %u, %u, %u, %u, %u, %zu, %zu, %.0f, %d },\n",
				key, nonce, ad, msg, c, adlen, msglen,
				num(t, "tcId"), !strcmp(res, "valid"));
			taken++;
		}
	}
	fprintf(out, "};\n/* %s: %d of its %d vectors */\n\n", file, taken, seen);
	if (seen != (int)num(root, "numberOfTests") || !taken)
		die("%s: %d vectors seen, %d taken", file, seen, taken);
	json_free(root);
}

static bool all_zero(const uint8_t *p, size_t n)
{
	while (n--)
		if (*p++)
			return false;
	return true;
}

static void x25519(void)
{
	const char *file = "wycheproof-x25519_test.json";
	struct json *root = load(file);
	const struct json *groups = json_get(root, "testGroups"), *g, *t;
	int seen = 0;

	if (!groups)
		die("%s: no testGroups", file);
	fprintf(out, "static const struct kv_x25519 kv_x25519[] KV_SECTION = {\n");
	for (g = groups->child; g; g = g->next) {
		if (strcmp(str(g, "curve"), "curve25519"))
			die("%s: unexpected curve", file);
		for (t = json_get(g, "tests")->child; t; t = t->next) {
			uint32_t priv = hex(t, "private", NULL, 32);
			uint32_t pub = hex(t, "public", NULL, 32);
			uint32_t shared = hex(t, "shared", NULL, 32);
			const char *res = str(t, "result");
			int kind;

			if (json_array_has_str(json_get(t, "flags"),
					       "ZeroSharedSecret") ||
			    all_zero(pool + shared, 32))
				kind = 2; /* KV_X25519_ZERO */
			else if (!strcmp(res, "valid"))
				kind = 0;
			else if (!strcmp(res, "acceptable"))
				kind = 1;
			else
				die("%s: tcId %.0f: result %s", file,
				    num(t, "tcId"), res);
			fprintf(out, "\t{ %u, %u, %u, %.0f, %d },\n", priv, pub,
				shared, num(t, "tcId"), kind);
			seen++;
		}
	}
	fprintf(out, "};\n/* %s: all %d vectors */\n\n", file, seen);
	if (seen != (int)num(root, "numberOfTests"))
		die("%s: %d vectors seen", file, seen);
	json_free(root);
}

static void blake2s(void)
{
	const char *file = "blake2s-kat.json";
	struct json *root = load(file);
	const struct json *row;
	int seen = 0;

	if (!root || root->type != JSON_ARRAY)
		die("%s: not an array", file);
	fprintf(out, "static const struct kv_blake2s kv_blake2s[] KV_SECTION = {\n");
	for (row = root->child; row; row = row->next) {
		size_t inlen, keylen;
		uint32_t in, key, o;

		if (strcmp(str(row, "hash"), "blake2s"))
			continue;
		in = hex(row, "in", &inlen, -1);
		key = hex(row, "key", &keylen, -1);
		o = hex(row, "out", NULL, 32);
		if (inlen > 0xffff || keylen > 32)
			die("%s: row too long", file);
		fprintf(out, "\t{ %u, %u, %u, %zu, %zu },\n", in, key, o, inlen,
			keylen);
		seen++;
	}
	fprintf(out, "};\n/* %s: %d rows */\n\n", file, seen);
	if (seen != 512)
		die("%s: %d rows, expected 512", file, seen);
	json_free(root);
}

static void kdf(void)
{
	const char *file = "wireguard-kdf.json";
	struct json *root = load(file);
	const struct json *v = json_get(root, "vectors");
	int seen = 0;

	if (!v || v->type != JSON_ARRAY)
		die("%s: no vectors", file);
	fprintf(out, "static const struct kv_kdf kv_kdf[] KV_SECTION = {\n");
	for (v = v->child; v; v = v->next) {
		size_t keylen, inlen;
		uint32_t key = hex(v, "key", &keylen, -1);
		uint32_t in = hex(v, "input", &inlen, -1);
		uint32_t t0 = hex(v, "t0", NULL, 32);
		uint32_t t1 = hex(v, "t1", NULL, 32);
		uint32_t t2 = hex(v, "t2", NULL, 32);

		if (keylen > 64 || inlen > 255)
			die("%s: vector too long", file);
		fprintf(out, "\t{ %u, %u, %u, %u, %u, %zu, %zu },\n", key, in,
			t0, t1, t2, keylen, inlen);
		seen++;
	}
	fprintf(out, "};\n/* %s: %d vectors */\n\n", file, seen);
	if (seen != 3)
		die("%s: %d vectors, expected 3", file, seen);
	json_free(root);
}

static void noise(void)
{
	const char *file = "noise-ikpsk2-25519-chachapoly-blake2s.json";
	struct json *root = load(file);
	const struct json *msgs = json_get(root, "messages");
	const struct json *psks = json_get(root, "init_psks");
	uint8_t psk[32];
	size_t plen;
	uint32_t fields[9];
	int i;

	if (strcmp(str(root, "protocol_name"),
		   "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s"))
		die("%s: not Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s", file);
	if (!msgs || msgs->count != 6 || !psks || psks->count != 1 ||
	    hex_decode(psk, sizeof(psk), json_at(psks, 0)->str) != 32)
		die("%s: expected 6 messages and one 32-byte psk", file);
	fields[0] = hex(root, "init_prologue", &plen, -1);
	fields[1] = pool_add(psk, 32);
	fields[2] = hex(root, "init_static", NULL, 32);
	fields[3] = hex(root, "init_ephemeral", NULL, 32);
	fields[4] = hex(root, "init_remote_static", NULL, 32);
	fields[5] = hex(root, "resp_static", NULL, 32);
	fields[6] = hex(root, "resp_ephemeral", NULL, 32);
	fields[7] = hex(root, "handshake_hash", NULL, 32);
	fprintf(out, "static const struct kv_noise kv_noise KV_SECTION = {\n\t");
	for (i = 0; i < 8; i++)
		fprintf(out, "%u, ", fields[i]);
	fprintf(out, "%zu,\n\t{\n", plen);
	for (i = 0; i < 6; i++) {
		const struct json *m = json_at(msgs, (size_t)i);
		size_t pl, cl;
		uint32_t p = hex(m, "payload", &pl, -1);
		uint32_t c = hex(m, "ciphertext", &cl, -1);

		fprintf(out, "\t\t{ %u, %u, %zu, %zu },\n", p, c, pl, cl);
	}
	fprintf(out, "\t},\n};\n/* %s */\n\n", file);
	json_free(root);
}

int main(int argc, char **argv)
{
	FILE *body;
	char *text;
	size_t len, i;

	if (argc != 3) {
		fprintf(stderr, "usage: gen_vectors VECTOR_DIR OUT.h\n");
		return 2;
	}
	dir = argv[1];
	/* The tables first (into memory), since they fill the pool. */
	body = open_memstream(&text, &len);
	if (!body)
		die("out of memory");
	out = body;
	aead("wycheproof-chacha20_poly1305_test.json", "kv_chacha", false);
	aead("wycheproof-xchacha20_poly1305_test.json", "kv_xchacha", true);
	x25519();
	blake2s();
	kdf();
	noise();
	fclose(body);

	out = fopen(argv[2], "w");
	if (!out)
		die("cannot write %s", argv[2]);
	fprintf(out, "/* Generated by kmod/gen_vectors.c from tests/vectors/: "
		     "do not edit. */\n\n");
	fprintf(out, "static const uint8_t kv_pool[%zu] KV_SECTION = {",
		pool_len);
	for (i = 0; i < pool_len; i++)
		fprintf(out, "%s0x%02x,", i % 12 ? " " : "\n\t", pool[i]);
	fprintf(out, "\n};\n\n");
	fwrite(text, 1, len, out);
	free(text);
	if (fclose(out))
		die("cannot write %s", argv[2]);
	return 0;
}
