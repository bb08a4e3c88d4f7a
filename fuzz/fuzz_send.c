/* SPDX-License-Identifier: MIT */
/*
 * fuzz_send: arbitrary bytes from the tunnel into a device with a live
 * session, and everything it seals delivered to the other device.
 *
 * Beyond memory safety this checks the whole path against a model: the
 * packets that come out of the other tunnel are exactly, in order, the
 * ones the sender's allowed IPs route to the other node and that the
 * receiver must accept (a whole IPv4/IPv6 packet by its header, counting
 * the zero padding the sender added, from a source the receiver allows),
 * each cut to its header's length.
 *
 * Input: a configuration byte (sender, MTU, a 121 s jump that makes the
 * initiator rekey while sending), then records
 *   ctl len16 bytes[len]
 * ctl bit 0: aim the packet at the other node (bit 1 picks IPv6), bit 2:
 * give it the sender's own source address, bit 3: make its length field
 * true, bit 4: end the batch here, bit 5: deliver the wire after it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/peer.h"
#include "fuzz_net.h"

#define FTX_MAX_PACKETS 400
#define FTX_MAX_LEN 65535

static const uint32_t ftx_mtu[5] = { 1420, 0, 1280, 64, 1 };

/* Patch the header fields the ctl byte asks for. */
static void ftx_fix(const struct fuzz_net *net, int i, uint8_t ctl,
		    uint8_t *b, uint32_t len)
{
	const struct fuzz_node *me = &net->n[i], *to = &net->n[1 - i];
	bool v6 = ctl & 2;

	if (len < (v6 ? 40u : 20u) || !(ctl & 0x0d))
		return;
	b[0] = (uint8_t)((b[0] & 0x0f) | (v6 ? 0x60 : 0x40));
	if (ctl & 1)
		memcpy(v6 ? b + 24 : b + 16, v6 ? to->inner6 : to->inner4,
		       v6 ? 16 : 4);
	if (ctl & 4)
		memcpy(v6 ? b + 8 : b + 12, v6 ? me->inner6 : me->inner4,
		       v6 ? 16 : 4);
	if (!(ctl & 8))
		return;
	if (v6) {
		b[4] = (uint8_t)((len - 40) >> 8);
		b[5] = (uint8_t)(len - 40);
	} else {
		b[2] = (uint8_t)(len >> 8);
		b[3] = (uint8_t)len;
	}
}

/* The model: will the other node put this packet out, and how long? */
static uint32_t ftx_expect(const struct fuzz_net *net, int i,
			   const uint8_t *b, uint32_t len, uint32_t mtu)
{
	const struct fuzz_node *me = &net->n[i], *to = &net->n[1 - i];
	struct cwg_allowedips_owner *o;
	uint32_t padded = (len + 15) & ~15U, total;
	int family;

	if (!me->peer || !to->peer)
		return 0;
	/* routing at the sender, by destination */
	if (len >= 20 && b[0] >> 4 == 4)
		family = 4;
	else if (len >= 40 && b[0] >> 4 == 6)
		family = 6;
	else
		return 0;
	o = cwg_allowedips_lookup(&me->dev->allowedips, family,
				  b + (family == 4 ? 16 : 24));
	if (o != &me->peer->allowedips)
		return 0;
	/* the receiver sees the padded plaintext */
	if (mtu && padded > mtu && len <= mtu)
		padded = mtu;
	if (family == 4) {
		total = cwg_get_be16(b + 2);
		if (total < 20 || total > padded || (b[0] & 15) * 4 < 20)
			return 0;
	} else {
		total = 40 + (uint32_t)cwg_get_be16(b + 4);
		if (total > padded)
			return 0;
	}
	o = cwg_allowedips_lookup(&to->dev->allowedips, family,
				  b + (family == 4 ? 12 : 8));
	if (o != &to->peer->allowedips)
		return 0;
	return total;
}

int fuzz_send(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	struct fuzz_net *net;
	uint32_t expect[FTX_MAX_PACKETS], nexp = 0, npk = 0, mtu, k;
	struct cwg_pkt_list batch;
	struct cwg_endpoint src;
	bool setup_ok;
	uint8_t cfg, *b;
	int i;

	memset(&fuzz_net_last, 0, sizeof(fuzz_net_last));
	cwg_pkt_list_init(&batch);
	b = malloc(FTX_MAX_LEN);
	net = b ? fuzz_net_new(&setup_ok) : NULL;
	if (!net) {
		free(b);
		return fuzz_fail("fuzz_send: out of memory in set-up");
	}
	fuzz_net_last.setup_ok = setup_ok;
	if (!setup_ok) {
		if (!net->err)
			net->err = fuzz_fail("fuzz_send: the set-up handshake "
					     "did not complete");
		goto out;
	}
	cfg = fuzz_u8(&in);
	i = cfg & 1;
	mtu = ftx_mtu[(cfg >> 1) % 5];
	cwg_device_set_mtu(net->n[i].dev, mtu);
	if (cfg & 0x10)
		net->now += 121 * FUZZ_SEC;
	fuzz_net_source(net, i, 0, &src);

	while (!fuzz_in_empty(&in) && npk < FTX_MAX_PACKETS && !net->err) {
		uint8_t ctl = fuzz_u8(&in);
		uint32_t len = fuzz_u16(&in);
		struct cwg_pkt *p;

		if (len > in.n)
			len = (uint32_t)in.n;
		fuzz_bytes(&in, b, len);
		ftx_fix(net, i, ctl, b, len);
		if (net->n[i].nlog != npk + 1) {
			/* the set-up's packet is log entry 0 */
			net->err = fuzz_fail("fuzz_send: log out of step");
			break;
		}
		p = fuzz_net_plaintext(net, i, b, len);
		if (!p)
			break;
		k = ftx_expect(net, i, b, len, mtu);
		if (k)
			expect[nexp++] = net->n[i].nlog - 1;
		npk++;
		cwg_pkt_list_append(&batch, p);
		if (ctl & 0x10) {
			fuzz_net_send(net, i, &batch);
			if ((ctl & 0x20) || net->n[i].wire.count > 128)
				fuzz_net_deliver(net, i, &src, FUZZ_WIRE_MAX);
		}
		fuzz_net_check(net);
	}
	if (!net->err) {
		fuzz_net_send(net, i, &batch);
		fuzz_net_deliver(net, i, &src, FUZZ_WIRE_MAX);
		fuzz_net_check(net);
	}
	fuzz_net_last.ops = npk;
	fuzz_net_last.expected = nexp;
	if (!net->err && !net->n[i].log_full) {
		/* order[0] is the set-up's packet */
		uint32_t got = net->n[i].norder - 1;

		if (got != nexp) {
			net->err = fuzz_fail("fuzz_send: node %d delivered %u "
					     "packets, the model expects %u",
					     1 - i, got, nexp);
		} else {
			for (k = 0; k < nexp; k++)
				if (net->n[i].order[k + 1] != expect[k])
					break;
			if (k < nexp)
				net->err = fuzz_fail(
					"fuzz_send: delivery %u was packet %u, "
					"the model expects packet %u",
					k, net->n[i].order[k + 1], expect[k]);
		}
	}
out:
	{
		struct cwg_pkt *p;

		while ((p = cwg_pkt_list_pop(&batch)))
			cwg_pkt_free(p);
	}
	fuzz_net_report(net);
	free(b);
	return fuzz_net_free(net);
}

#ifdef CWG_LIBFUZZER
CWG_FUZZ_TARGET(fuzz_send)
#endif
