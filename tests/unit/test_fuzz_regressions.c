/* SPDX-License-Identifier: MIT */
/*
 * The fuzz harnesses (fuzz/), compiled without libFuzzer against
 * build/libcwg.a and its real packet pool, replaying every input saved in
 * fuzz/regressions/<target>/ (crashes found and fixed) and the seeds in
 * fuzz/corpus/<target>/. Each input must pass the harness's own checks
 * (device state consistent, nothing forged or replayed delivered, the
 * UAPI round trip, the allowed-IPs model) and leave no packet buffer in
 * use. A few built-in inputs check first that the harnesses still reach
 * what they are meant to (a handshake, the data path, a delivery), so an
 * empty regressions directory still tests something.
 *
 * CWG_FUZZ_DIR overrides where fuzz/ is (default: ./fuzz, then the one
 * next to this source file).
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "linux/pool.h"
#include "tap.h"

/* The harnesses, built into this test as they are into the fuzzers. */
#include "../../fuzz/fuzz.h"
#include "../../fuzz/fuzz_common.c"
#include "../../fuzz/fuzz_net.c"
#include "../../fuzz/fuzz_receive.c"
#include "../../fuzz/fuzz_send.c"
#include "../../fuzz/fuzz_uapi.c"
#include "../../fuzz/fuzz_allowedips.c"

/* ---- the host side fuzz.h asks for, over the daemon's pool ---- */

struct cwg_pkt *fuzz_pkt_new(uint32_t headroom, uint32_t len,
			     uint32_t tailroom)
{
	struct cwg_pkt *p;

	if ((uint64_t)headroom + len + tailroom > CWG_PKT_BUF_SIZE)
		return NULL;
	p = cwg_pkt_alloc();
	if (!p)
		return NULL;
	p->data = p->buf + headroom;
	p->len = len;
	return p;
}

uint64_t fuzz_pkts_live(void)
{
	return cwg_pkt_pool_size() - cwg_pkt_pool_available();
}

/* ---- replaying directories ---- */

typedef int (*harness_fn)(const uint8_t *data, size_t size);

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static uint8_t *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 &&
	    fseek(f, 0, SEEK_SET) == 0) {
		buf = malloc((size_t)n + 1);
		if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
			free(buf);
			buf = NULL;
		}
		*len = (size_t)n;
	}
	fclose(f);
	return buf;
}

/* Every regular file of dir through fn; how many there were and how many
 * passed. A missing directory has none. */
static void replay_dir(const char *dir, harness_fn fn, unsigned int *files,
		       unsigned int *passed)
{
	char **names = NULL, path[4096];
	size_t n = 0, cap = 0, i;
	struct dirent *d;
	DIR *dh = opendir(dir);

	*files = *passed = 0;
	if (!dh)
		return;
	while ((d = readdir(dh))) {
		if (d->d_name[0] == '.')
			continue;
		if (n == cap) {
			char **nn;

			cap = cap ? cap * 2 : 64;
			nn = realloc(names, cap * sizeof(*names));
			if (!nn)
				break;
			names = nn;
		}
		names[n++] = strdup(d->d_name);
	}
	closedir(dh);
	if (n)
		qsort(names, n, sizeof(*names), cmp_name);
	for (i = 0; i < n; i++) {
		struct stat st;
		uint64_t live0 = fuzz_pkts_live();
		uint8_t *buf;
		size_t len = 0;
		int ret;

		if (!names[i] ||
		    snprintf(path, sizeof(path), "%s/%s", dir, names[i]) >=
			    (int)sizeof(path) ||
		    stat(path, &st) || !S_ISREG(st.st_mode)) {
			free(names[i]);
			continue;
		}
		(*files)++;
		buf = read_file(path, &len);
		if (!buf) {
			diag("%s: unreadable", path);
		} else {
			ret = fn(buf, len);
			if (ret)
				diag("%s: %s", path, fuzz_failure());
			else if (fuzz_pkts_live() != live0)
				diag("%s: packet buffers leaked", path);
			else
				(*passed)++;
		}
		free(buf);
		free(names[i]);
	}
	free(names);
}

static const char *fuzz_dir(void)
{
	static char buf[4096];
	const char *env = getenv("CWG_FUZZ_DIR");
	struct stat st;
	const char *tail = "tests/unit/test_fuzz_regressions.c";
	const char *file = __FILE__;
	size_t flen = strlen(file), tlen = strlen(tail);

	if (env)
		return env;
	if (!stat("fuzz/fuzz.h", &st))
		return "fuzz";
	if (flen >= tlen && !strcmp(file + flen - tlen, tail)) {
		snprintf(buf, sizeof(buf), "%.*sfuzz", (int)(flen - tlen),
			 file);
		return buf;
	}
	return "fuzz";
}

/* ---- built-in inputs: do the harnesses still reach the core? ---- */

static void test_harnesses_reach(void)
{
	/* INJECT the set-up's data packet A -> B into B with one ciphertext
	 * byte flipped (mutation: xor at offset 20). */
	static const uint8_t bad_tag[] = { 3, FUZZ_CAP_DATA_A, 1 | 1 << 4,
					   0, 20, 0, 0x40 };
	/* SEND one packet A -> B, DELIVER it. */
	static const uint8_t traffic[] = { 1, 0, 2, 0, 0, 7 };
	uint8_t pkt[3 + 128];
	uint32_t len;
	struct fuzz_net *net;
	bool setup_ok;
	int ret;
	static const char conf[] =
		"\x00set=1\nprivate_key="
		"e84b5a6d2717c1003a13b431570353dbaca9146cf150c5f8575680feba52027a\n"
		"public_key="
		"c2dd09a5e02da3b1f1e3c0f8a4d37c34a4f8ea1e5d1bd1c0b1fdaa2e8c6d6a44\n"
		"endpoint=[2001:db8::1]:51820\nallowed_ip=10.0.0.0/8\n\n";
	/* insert 10.0.0.0/8 for owner 1, look up 10.1.2.3 */
	static const uint8_t trie[] = { 0x10, 0, 10, 0, 0, 0, 8,
					0x03, 0, 10, 1, 2, 3 };

	ret = fuzz_receive(NULL, 0);
	ok(ret == 0 && fuzz_net_last.setup_ok && fuzz_net_last.delivered == 2,
	   "receive harness: the set-up handshake completes, one packet "
	   "each way (%s)", ret ? fuzz_failure() : "ok");
	ret = fuzz_receive(bad_tag, sizeof(bad_tag));
	ok(ret == 0 && fuzz_net_last.drops[CWG_DROP_BAD_TAG] == 1,
	   "receive harness: a mutated data packet reaches the AEAD and is "
	   "dropped (bad_tag %llu)",
	   (unsigned long long)fuzz_net_last.drops[CWG_DROP_BAD_TAG]);
	ret = fuzz_receive(traffic, sizeof(traffic));
	ok(ret == 0 && fuzz_net_last.delivered == 3 && fuzz_net_last.ops == 2,
	   "receive harness: a packet sent and delivered reaches B's tunnel "
	   "(%u delivered)", fuzz_net_last.delivered);

	/* fuzz_send: one well-formed UDP packet, in the record format */
	net = fuzz_net_new(&setup_ok);
	len = net ? fuzz_net_ip_packet(net, 0, 0, 1, pkt + 4,
				       sizeof(pkt) - 4) : 0;
	if (net)
		fuzz_net_free(net);
	pkt[0] = 0;	/* A sends, MTU 1420 */
	pkt[1] = 0x30;	/* end the batch, deliver */
	pkt[2] = (uint8_t)len;
	pkt[3] = 0;
	ret = len ? fuzz_send(pkt, 4 + len) : -1;
	ok(ret == 0 && fuzz_net_last.expected == 1 &&
		   fuzz_net_last.delivered == 3,
	   "send harness: the model expects the packet and B delivers it "
	   "(%u expected, %u delivered)", fuzz_net_last.expected,
	   fuzz_net_last.delivered);
	pkt[4] ^= 0xf0; /* version nibble 0xb: not IP */
	ret = fuzz_send(pkt, 4 + len);
	ok(ret == 0 && fuzz_net_last.expected == 0 &&
		   fuzz_net_last.drops[CWG_DROP_BAD_INNER] == 1,
	   "send harness: a non-IP packet is dropped as the model expects");

	ret = fuzz_uapi((const uint8_t *)conf, sizeof(conf) - 1);
	ok(ret == 0, "uapi harness: a setconf request round-trips (%s)",
	   ret ? fuzz_failure() : "ok");
	ret = fuzz_allowedips(trie, sizeof(trie));
	ok(ret == 0, "allowedips harness: insert and lookup agree with the "
	   "model (%s)", ret ? fuzz_failure() : "ok");
}

int main(void)
{
	static const struct {
		const char *name;
		harness_fn fn;
	} targets[] = {
		{ "receive", fuzz_receive },
		{ "send", fuzz_send },
		{ "uapi", fuzz_uapi },
		{ "allowedips", fuzz_allowedips },
	};
	static const char *const kinds[] = { "regressions", "corpus" };
	const char *dir = fuzz_dir();
	char path[4096];
	size_t t, k;

	if (!fuzz_init()) {
		ok(0, "crypto init");
		return done_testing();
	}
	diag("fuzz directory: %s", dir);
	test_harnesses_reach();
	for (k = 0; k < 2; k++) {
		for (t = 0; t < CWG_ARRAY_SIZE(targets); t++) {
			unsigned int files, passed;

			files = passed = 0;
			if (snprintf(path, sizeof(path), "%s/%s/%s", dir,
				     kinds[k], targets[t].name) <
			    (int)sizeof(path))
				replay_dir(path, targets[t].fn, &files,
					   &passed);
			/* regressions may be empty, the seeds may not */
			ok(passed == files && (k == 0 || files > 0),
			   "%s/%s: %u of %u inputs replay cleanly", kinds[k],
			   targets[t].name, passed, files);
		}
	}
	ok(fuzz_pkts_live() == 0, "no packet buffer left in use (%llu)",
	   (unsigned long long)fuzz_pkts_live());
	return done_testing();
}
