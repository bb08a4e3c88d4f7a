/* SPDX-License-Identifier: MIT */
/*
 * Core microbenchmarks, printed as "name value" lines for bench/run:
 *   handshakes per second on one core (initiation + response + keepalive,
 *   both sides' work counted as one handshake, as on a real pair);
 *   creating 10,000 peers with one allowed IP each;
 *   memory per idle peer.
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/peer.h"
#include "crypto/crypto.h"
#include "linux/pool.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static size_t heap_in_use(void)
{
	struct mallinfo2 mi = mallinfo2();

	return mi.uordblks + mi.hblkhd;
}

static void bench_handshakes(void)
{
	struct cwg_device *a = cwg_device_new(NULL, NULL);
	struct cwg_device *b = cwg_device_new(NULL, NULL);
	uint8_t ka[32], kb[32], pa[32], pb[32], ip[4] = { 10, 0, 0, 2 };
	struct cwg_peer *peer_a, *peer_b;
	struct cwg_endpoint ea = { .family = 4, .port = 1, .addr = { 127, 0, 0, 1 } };
	struct cwg_endpoint eb = { .family = 4, .port = 2, .addr = { 127, 0, 0, 1 } };
	struct cwg_out out;
	struct cwg_pkt_list in;
	uint64_t t = 1000000000ULL;
	double start, el;
	int n = 0;

	cwg_random(ka, 32);
	cwg_random(kb, 32);
	cwg_x25519_clamp(ka);
	cwg_x25519_clamp(kb);
	cwg_x25519_public(pa, ka);
	cwg_x25519_public(pb, kb);
	cwg_device_cfg_lock(a);
	cwg_device_set_private_key(a, ka);
	cwg_device_add_peer(a, pb, &peer_a);
	cwg_peer_set_endpoint(peer_a, &eb);
	cwg_peer_add_allowed_ip(peer_a, 4, ip, 32);
	cwg_device_cfg_unlock(a);
	cwg_device_cfg_lock(b);
	cwg_device_set_private_key(b, kb);
	cwg_device_add_peer(b, pa, &peer_b);
	cwg_device_cfg_unlock(b);

	start = now_s();
	do {
		struct cwg_pkt *p;

		/* Each round is a fresh initiation 5 s of virtual time later. */
		t += 6000000000ULL;
		cwg_out_init(&out);
		cwg_mutex_lock(&peer_a->lock);
		cwg_send_initiation(peer_a, false, t, &out);
		cwg_mutex_unlock(&peer_a->lock);
		cwg_pkt_list_init(&in);
		while ((p = cwg_pkt_list_pop(&out.net))) {
			p->ep = ea;
			cwg_pkt_list_append(&in, p);
		}
		cwg_out_init(&out);
		cwg_device_receive(b, &in, t, &out);
		cwg_pkt_list_init(&in);
		while ((p = cwg_pkt_list_pop(&out.net))) {
			p->ep = eb;
			cwg_pkt_list_append(&in, p);
		}
		cwg_out_init(&out);
		cwg_device_receive(a, &in, t, &out);
		while ((p = cwg_pkt_list_pop(&out.net)))
			cwg_pkt_free(p);
		n++;
		el = now_s() - start;
	} while (el < 1.0);
	printf("handshakes_per_s_one_core %.0f\n", n / el);
	cwg_device_free(a);
	cwg_device_free(b);
}

static void bench_peers(void)
{
	struct cwg_device *dev = cwg_device_new(NULL, NULL);
	uint8_t key[32], pub[32], ip[4];
	struct cwg_peer *peer;
	size_t before, after;
	double start, el;
	int i;

	cwg_random(key, 32);
	cwg_device_cfg_lock(dev);
	cwg_device_set_private_key(dev, key);
	before = heap_in_use();
	start = now_s();
	for (i = 0; i < 10000; i++) {
		cwg_random(pub, 32);
		if (cwg_device_add_peer(dev, pub, &peer) < 0) {
			fprintf(stderr, "add_peer failed\n");
			exit(1);
		}
		ip[0] = 10;
		ip[1] = (uint8_t)(i >> 16);
		ip[2] = (uint8_t)(i >> 8);
		ip[3] = (uint8_t)i;
		cwg_peer_add_allowed_ip(peer, 4, ip, 32);
	}
	el = now_s() - start;
	after = heap_in_use();
	cwg_device_cfg_unlock(dev);
	printf("peers_10000_create_s %.3f\n", el);
	printf("idle_peer_bytes %.0f\n", (double)(after - before) / 10000);
	printf("sizeof_struct_peer %zu\n", sizeof(struct cwg_peer));
	cwg_device_free(dev);
}

int main(void)
{
	cwg_crypto_init();
	bench_handshakes();
	bench_peers();
	return 0;
}
