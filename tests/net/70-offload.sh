#!/usr/bin/env bash
# Scenario 70: the data plane's kernel offloads and each of their
# fallbacks.  For every setting of CWG_DISABLE_OFFLOADS in the list below
# (none, each offload alone, all), IMPL<->IMPL and IMPL<->REF_IMPL move
# data both ways over inner IPv4 and IPv6 (ncat, SHA-256 and byte count
# checked), and the daemon's verbose "Offloads:" line must say that
# exactly the disabled ones are off and the others on (USO may be off on
# kernels before 6.2; that is said, not failed).
#
# Each round also sends UDP datagrams both ways over both inner families,
# in bursts of one flow with size changes and short tails (udpcheck from
# tests/tools/), 32 back to back every UDP_GAP_US: every datagram must
# arrive undamaged, and at most 5% may be lost besides what the kernel
# counted as dropped at a full queue in front of a reader that did not
# keep up (the transmit queues in the sending namespace, the sending
# TUN's among them; the UDP receive buffers in the receiving one). On a
# loaded machine a daemon starved of CPU loses datagrams there, which is
# UDP's right (cwg under ASan sending to Debian's wireguard-go, whose
# receive buffer is the default size, lost up to 79% with bursts 2 ms
# apart and both cores busy, nearly all at that buffer); a datagram lost
# anywhere else, inside a daemon or refused by the kernel as malformed,
# is not. The RX threads' exit line ("RX threads: ... N coalesced UDP
# writes ...") must then show coalesced UDP writes exactly when the
# daemon's Offloads line says uso=on.
#
# Knobs: BYTES (default 52428800) for IMPL<->IMPL, REF_BYTES (16777216)
# for the slower IMPL<->REF_IMPL, UDP_COUNT (2000 datagrams per transfer),
# UDP_GAP_US (10000 between bursts), SEED (random, printed), CONFIGS (the
# list, space separated, "-" meaning none disabled).

. "$(dirname "$0")/lib.sh"
T_REQUIRE_CMDS=(ncat openssl sha256sum ss timeout grep)
require_env ref
require_tools udpcheck

SEED=${SEED:-$RANDOM$RANDOM}
BYTES=${BYTES:-52428800}
REF_BYTES=${REF_BYTES:-16777216}
UDP_COUNT=${UDP_COUNT:-2000}
UDP_GAP_US=${UDP_GAP_US:-10000}
CONFIGS=${CONFIGS:-"- tun_vnet tso uso udp_gso udp_gro all"}
diag "seed=$SEED bytes=$BYTES ref_bytes=$REF_BYTES (rerun with SEED=$SEED)"

pair_setup || bail "namespaces and veth"
keypair a && keypair b || bail "keys"
round=0

# want_offloads LOG DISABLED: the "Offloads:" line matches DISABLED.
want_offloads() {
	local log=$1 dis=$2 line name want got
	line=$(grep -m1 -o 'Offloads: .*' "$log") || {
		echo "no Offloads line in $log:"
		head -c 2000 "$log"
		return 1
	}
	echo "$line"
	for name in tun_vnet tso uso udp_gso udp_gro; do
		want=on
		[[ ",$dis," == *",$name,"* || $dis == all ]] && want=off
		# Without the virtio header there are no TUN offloads.
		[[ $name == tso || $name == uso ]] &&
			[[ ",$dis," == *",tun_vnet,"* || $dis == all ]] && want=off
		got=$(grep -o "$name=[a-z]*" <<<"$line" | head -n1 | cut -d= -f2)
		if [[ $name == uso && $want == on && $got == off ]]; then
			echo "uso refused by this kernel (before 6.2?)"
			continue
		fi
		if [[ $got != "$want" ]]; then
			echo "$name: got '$got', want '$want'"
			return 1
		fi
	done
}

# tx_drops TAG: packets the interfaces of namespace TAG dropped for a
# full transmit queue (a TUN's is the queue its daemon reads).
tx_drops() {
	nsx "$1" sh -c 'cat /sys/class/net/*/statistics/tx_dropped' |
		awk '{ s += $1 } END { print s + 0 }'
}

# rcvbuf_drops TAG: datagrams that found a full UDP receive buffer in
# namespace TAG, IPv4 and IPv6.
rcvbuf_drops() {
	nsx "$1" awk '
		$1 == "Udp:" && !c { for (i = 2; i <= NF; i++) if ($i == "RcvbufErrors") c = i; next }
		$1 == "Udp:" { s += $c }
		$1 == "Udp6RcvbufErrors" { s += $2 }
		END { print s + 0 }' /proc/net/snmp /proc/net/snmp6
}

# udp_transfer SRC_TAG DST_TAG DST_ADDR MAXLEN SEED PORT: UDP_COUNT
# datagrams of up to MAXLEN bytes, each checked at the receiver; the
# loss is judged here, against the kernel's counts of queue overflows.
udp_transfer() {
	local src=$1 dst=$2 addr=$3 len=$4 seed=$5 port=$6 out rpid rc
	local args=(-p "$port" -n "$UDP_COUNT" -l "$len" -s "$seed")
	local tx0 rb0 tx rb sent got lost errs
	out="$T_TMP/udp.$port.$RANDOM"
	tx0=$(tx_drops "$src") rb0=$(rcvbuf_drops "$dst")
	nsx "$dst" timeout 60 "$TOOLS/udpcheck" recv "${args[@]}" -w 2 -m 0 \
		>"$out" 2>&1 &
	rpid=$!
	if ! wait_for 5 bash -c "ip netns exec $(ns "$dst") ss -Huln | awk '{print \$4}' | grep -q ':$port\$'"; then
		echo "receiver not listening"
		kill "$rpid" 2>/dev/null
		return 1
	fi
	if ! sent=$(nsx "$src" timeout 60 "$TOOLS/udpcheck" send -d "$addr" \
		"${args[@]}" -g "$UDP_GAP_US"); then
		echo "$sent"
		kill "$rpid" 2>/dev/null
		wait "$rpid"
		cat "$out"
		return 1
	fi
	wait "$rpid"
	rc=$?
	echo "$sent"
	cat "$out"
	# With -m 0 the receiver fails only for damaged or doubled datagrams.
	((rc == 0)) || return 1
	got=$(sed -n 's/^received=\([0-9]*\) .*/\1/p' "$out")
	errs=$(sed -n 's/.*errors=\([0-9]*\) .*/\1/p' <<<"$sent")
	[[ -n $got && -n $errs ]] || { echo "no counts from udpcheck"; return 1; }
	tx=$(($(tx_drops "$src") - tx0)) rb=$(($(rcvbuf_drops "$dst") - rb0))
	lost=$((UDP_COUNT - got))
	echo "lost $lost: $errs refused by the sender's socket, $tx at full" \
		"transmit queues in $src, $rb at full receive buffers in $dst"
	if (((lost - errs - tx - rb) * 100 > UDP_COUNT * 5)); then
		echo "more than 5% lost besides the queue overflows"
		return 1
	fi
}

# want_udp_coalesced LOG: the exit line counts coalesced UDP writes, some
# exactly when the Offloads line says uso=on.
want_udp_coalesced() {
	local log=$1 line n uso
	line=$(grep -m1 -o 'RX threads: .*' "$log") || {
		echo "no 'RX threads:' line in $log"
		return 1
	}
	echo "$line"
	n=$(sed -n 's/.* \([0-9]*\) coalesced UDP writes.*/\1/p' <<<"$line")
	uso=$(grep -m1 -o 'uso=[a-z]*' "$log" | cut -d= -f2)
	[[ -n $n ]] || { echo "no count of coalesced UDP writes"; return 1; }
	if [[ $uso == on ]] && ((n == 0)); then
		echo "uso=on, yet no coalesced UDP write"
		return 1
	fi
	if [[ $uso != on ]] && ((n != 0)); then
		echo "uso=$uso, yet $n coalesced UDP writes"
		return 1
	fi
}

# run_round DISABLED BIN_B BYTES
run_round() {
	local dis=$1 bb=$2 bytes=$3 ifa ifb pa pb label nb us why
	round=$((round + 1))
	ifa=$(ifname a$round) ifb=$(ifname b$round)
	pa=$((52820 + 2 * round)) pb=$((52821 + 2 * round))
	us=$((SEED * 100 + round * 4))
	nb=$(basename "$bb")
	label="[$round] disabled=$dis A=$(basename "$IMPL_PATH") B=$nb"
	[[ $dis == - ]] && dis=""
	if ! CWG_DISABLE_OFFLOADS=$dis LOG_LEVEL=verbose start_impl a "$ifa" ||
	   ! CWG_DISABLE_OFFLOADS=$dis LOG_LEVEL=verbose start_impl b "$ifb" "$bb"; then
		fail "$label: start daemons"
		return
	fi
	check "$label: A's Offloads line" want_offloads "$T_TMP/$ifa.log" "$dis"
	if [[ $bb == "$IMPL_PATH" ]]; then
		check "$label: B's Offloads line" want_offloads "$T_TMP/$ifb.log" "$dis"
	fi
	if ! why=$(pair_tunnel "$ifa" "$pa" "$ifb" "$pb"); then
		fail "$label: $why"
		return
	fi
	check "$label: handshake (ping)" ping_some a "$IN4_B" || return
	check "$label: TCP/IPv4 $bytes bytes A->B, sha256" \
		tcp_transfer a b "$IN4_B" "$bytes" "$SEED-$round-1" 5001
	check "$label: TCP/IPv4 $bytes bytes B->A, sha256" \
		tcp_transfer b a "$IN4_A" "$bytes" "$SEED-$round-2" 5002
	check "$label: TCP/IPv6 $((bytes / 4)) bytes A->B, sha256" \
		tcp_transfer a b "$IN6_B" "$((bytes / 4))" "$SEED-$round-3" 5003
	check "$label: TCP/IPv6 $((bytes / 4)) bytes B->A, sha256" \
		tcp_transfer b a "$IN6_A" "$((bytes / 4))" "$SEED-$round-4" 5004
	check "$label: UDP/IPv4 A->B, datagrams intact" \
		udp_transfer a b "$IN4_B" 1392 $((us + 1)) 5005
	check "$label: UDP/IPv4 B->A, datagrams intact" \
		udp_transfer b a "$IN4_A" 1392 $((us + 2)) 5006
	check "$label: UDP/IPv6 A->B, datagrams intact" \
		udp_transfer a b "$IN6_B" 1372 $((us + 3)) 5007
	check "$label: UDP/IPv6 B->A, datagrams intact" \
		udp_transfer b a "$IN6_A" 1372 $((us + 4)) 5008
	check "$label: ping after the transfers" ping_ok a "$IN6_B"
	stop_impl a "$ifa"
	stop_impl b "$ifb"
	# The counts are logged as the RX threads end.
	check "$label: A's coalesced UDP writes" \
		want_udp_coalesced "$T_TMP/$ifa.log"
	if [[ $bb == "$IMPL_PATH" ]]; then
		check "$label: B's coalesced UDP writes" \
			want_udp_coalesced "$T_TMP/$ifb.log"
	fi
}

for dis in $CONFIGS; do
	run_round "$dis" "$IMPL_PATH" "$BYTES"
	run_round "$dis" "$REF_PATH" "$REF_BYTES"
done

done_testing
