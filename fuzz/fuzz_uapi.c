/* SPDX-License-Identifier: MIT */
/*
 * fuzz_uapi: the configuration protocol's parser and printer.
 *
 * Input: one byte choosing how the rest is cut into cwg_uapi_feed calls
 * (0: all at once, else chunks of pseudo-random sizes up to that byte),
 * then the bytes a client sends. Checked:
 *   - every reply is well formed: key=value lines of known keys, each
 *     errno line closing its reply with a blank line;
 *   - a closed connection stays closed and says nothing more;
 *   - round trip: whatever state the input left, `get` printed, turned
 *     into a `set` (read-only keys dropped, as tests/unit/test_uapi.c
 *     does) and applied to a fresh device, is accepted and prints the
 *     same `get` byte for byte.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include <cwg/uapi.h>

struct fua_host {
	uint16_t port;
	uint32_t mark;
};

static uint16_t fua_get_port(void *ctx)
{
	return ((struct fua_host *)ctx)->port;
}

static int fua_set_port(void *ctx, uint16_t port)
{
	/* One port is "taken", for the error path. */
	if (port == 666)
		return -CWG_EADDRINUSE;
	((struct fua_host *)ctx)->port = port;
	return 0;
}

static uint32_t fua_get_mark(void *ctx)
{
	return ((struct fua_host *)ctx)->mark;
}

static int fua_set_mark(void *ctx, uint32_t mark)
{
	((struct fua_host *)ctx)->mark = mark;
	return 0;
}

/* One interface, eth0, index 2: a name in an endpoint's zone. */
static uint32_t fua_ifname_to_index(void *ctx, const char *name)
{
	(void)ctx;
	return strcmp(name, "eth0") ? 0 : 2;
}

static void fua_host_init(struct cwg_uapi_host *h, struct fua_host *f)
{
	memset(f, 0, sizeof(*f));
	h->ctx = f;
	h->get_listen_port = fua_get_port;
	h->set_listen_port = fua_set_port;
	h->get_fwmark = fua_get_mark;
	h->set_fwmark = fua_set_mark;
	h->ifname_to_index = fua_ifname_to_index;
}

static const char *const fua_keys[] = {
	"private_key", "listen_port", "fwmark", "public_key",
	"preshared_key", "protocol_version", "endpoint",
	"last_handshake_time_sec", "last_handshake_time_nsec", "tx_bytes",
	"rx_bytes", "persistent_keepalive_interval", "allowed_ip", "errno",
	/* the stats=1 extension */
	"handshake_initiations_rx", "handshake_responses_rx",
	"cookie_replies_rx", "cookie_replies_tx", "handshakes_completed",
	"keypairs_wiped",
};

static bool fua_known_key(const char *k, size_t n)
{
	char drop[64];
	size_t i;

	for (i = 0; i < sizeof(fua_keys) / sizeof(fua_keys[0]); i++)
		if (strlen(fua_keys[i]) == n && !memcmp(fua_keys[i], k, n))
			return true;
	for (i = 0; i < CWG_DROP_MAX; i++) {
		snprintf(drop, sizeof(drop), "drop_%s", cwg_drop_names[i]);
		if (strlen(drop) == n && !memcmp(drop, k, n))
			return true;
	}
	return false;
}

/* Replies are whole: lines of known keys, each errno line followed by a
 * blank line, blank lines nowhere else. */
static int fua_check_output(const char *s, size_t len)
{
	bool after_errno = false;
	size_t i = 0;

	if (len && s[len - 1] != '\n')
		return fuzz_fail("uapi: output does not end a line");
	while (i < len) {
		const char *nl = memchr(s + i, '\n', len - i), *eq;
		size_t n = (size_t)(nl - (s + i));

		if (!n) {
			if (!after_errno)
				return fuzz_fail("uapi: blank line not after "
						 "errno at %zu", i);
			after_errno = false;
		} else {
			if (after_errno)
				return fuzz_fail("uapi: errno line not followed "
						 "by a blank line at %zu", i);
			eq = memchr(s + i, '=', n);
			if (!eq || !fua_known_key(s + i, (size_t)(eq - (s + i))))
				return fuzz_fail("uapi: bad output line "
						 "\"%.*s\"", (int)n, s + i);
			if (memchr(s + i, '\0', n))
				return fuzz_fail("uapi: NUL in output");
			after_errno = eq - (s + i) == 5 &&
				      !memcmp(s + i, "errno", 5);
		}
		i += n + 1;
	}
	if (after_errno)
		return fuzz_fail("uapi: reply ends without its blank line");
	return 0;
}

/* `get` on dev as a NUL-terminated string, or NULL. */
static char *fua_get(struct cwg_device *dev, const struct cwg_uapi_host *h)
{
	struct cwg_uapi_buf out = { 0 };
	char *s;

	if (cwg_uapi_request(dev, h, "get=1\n\n", 7, &out) != 0) {
		cwg_uapi_buf_free(&out);
		return NULL;
	}
	s = malloc(out.len + 1);
	if (s) {
		memcpy(s, out.data, out.len);
		s[out.len] = '\0';
	}
	cwg_uapi_buf_free(&out);
	return s;
}

static bool fua_starts(const char *line, const char *key)
{
	return !strncmp(line, key, strlen(key));
}

/* get's output as the set that should reproduce it. */
static char *fua_get_to_set(const char *g)
{
	static const char *const ro[] = {
		"last_handshake_time_sec=", "last_handshake_time_nsec=",
		"tx_bytes=", "rx_bytes=", "errno=",
	};
	size_t n = strlen(g), i;
	char *out = malloc(n + 64), *p = out;

	if (!out)
		return NULL;
	p += sprintf(p, "set=1\nreplace_peers=true\n");
	while (*g) {
		const char *e = strchr(g, '\n');
		size_t len = e ? (size_t)(e - g) : strlen(g);
		bool skip = len == 0;

		for (i = 0; i < sizeof(ro) / sizeof(ro[0]) && !skip; i++)
			skip = fua_starts(g, ro[i]);
		if (!skip) {
			memcpy(p, g, len);
			p += len;
			*p++ = '\n';
		}
		g += len + (e ? 1 : 0);
	}
	*p++ = '\n';
	*p = '\0';
	return out;
}

static int fua_roundtrip(struct cwg_device *d1,
			 const struct cwg_uapi_host *h1)
{
	struct cwg_uapi_host h2;
	struct fua_host f2;
	struct fuzz_rng r2 = { 0xd2 };
	struct cwg_device *d2 = NULL;
	struct cwg_uapi_buf out = { 0 };
	char *g1 = NULL, *g2 = NULL, *s2 = NULL;
	int ret = -1;

	g1 = fua_get(d1, h1);
	if (!g1) {
		fuzz_fail("uapi: get failed");
		goto out;
	}
	if (fua_check_output(g1, strlen(g1)))
		goto out;
	if (strlen(g1) < 9 || strcmp(g1 + strlen(g1) - 9, "errno=0\n\n")) {
		fuzz_fail("uapi: get does not end with errno=0");
		goto out;
	}
	s2 = fua_get_to_set(g1);
	d2 = cwg_device_new(fuzz_rng_fill, &r2);
	if (!s2 || !d2) {
		fuzz_fail("uapi: out of memory");
		goto out;
	}
	fua_host_init(&h2, &f2);
	if (cwg_uapi_request(d2, &h2, s2, strlen(s2), &out) != 0 ||
	    out.len != 9 || memcmp(out.data, "errno=0\n\n", 9)) {
		fuzz_fail("uapi: get output refused as a set: \"%.*s\"",
			  (int)(out.len < 64 ? out.len : 64),
			  out.data ? out.data : "");
		goto out;
	}
	g2 = fua_get(d2, &h2);
	if (!g2 || strcmp(g1, g2)) {
		fuzz_fail("uapi: round trip differs:\n%.200s\n---\n%.200s", g1,
			  g2 ? g2 : "(none)");
		goto out;
	}
	ret = 0;
out:
	cwg_uapi_buf_free(&out);
	free(g1);
	free(g2);
	free(s2);
	cwg_device_free(d2);
	return ret;
}

int fuzz_uapi(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	uint8_t mode = fuzz_u8(&in);
	uint32_t x = (uint32_t)mode * 0x9e3779b9u | 1;
	struct cwg_uapi_host h1;
	struct fua_host f1;
	struct fuzz_rng r1 = { 0xd1 };
	struct cwg_device *d1;
	struct cwg_uapi_conn *c;
	struct cwg_uapi_buf out = { 0 };
	int ret = 0, fed = 0;

	if (!fuzz_init())
		return fuzz_fail("uapi: crypto init failed");
	fua_host_init(&h1, &f1);
	d1 = cwg_device_new(fuzz_rng_fill, &r1);
	c = d1 ? cwg_uapi_conn_new(d1, &h1) : NULL;
	if (!c) {
		cwg_device_free(d1);
		return fuzz_fail("uapi: out of memory");
	}
	while (!fuzz_in_empty(&in)) {
		size_t n = in.n;

		if (mode) {
			x ^= x << 13;
			x ^= x >> 17;
			x ^= x << 5;
			n = 1 + x % mode;
			if (n > in.n)
				n = in.n;
		}
		fed = cwg_uapi_feed(c, (const char *)in.p, n, &out);
		in.p += n;
		in.n -= n;
		if (fua_check_output(out.data, out.len)) {
			ret = -1;
			break;
		}
		cwg_uapi_buf_free(&out);
		if (fed < 0)
			break;
	}
	if (!ret && fed < 0) {
		/* closed stays closed, silently */
		if (cwg_uapi_feed(c, "get=1\n\n", 7, &out) != -1 || out.len)
			ret = fuzz_fail("uapi: a closed connection answered");
	}
	cwg_uapi_buf_free(&out);
	cwg_uapi_conn_free(c);
	if (!ret)
		ret = fua_roundtrip(d1, &h1);
	cwg_device_free(d1);
	return ret;
}

#ifdef CWG_LIBFUZZER
CWG_FUZZ_TARGET(fuzz_uapi)
#endif
