#!/usr/bin/env bash
# Scenario 70: the data plane's kernel offloads and each of their
# fallbacks.  For every setting of CWG_DISABLE_OFFLOADS in the list below
# (none, each offload alone, all), IMPL<->IMPL and IMPL<->REF_IMPL move
# data both ways over inner IPv4 and IPv6 (ncat, SHA-256 and byte count
# checked), and the daemon's verbose "Offloads:" line must say that
# exactly the disabled ones are off and the others on (USO may be off on
# kernels before 6.2; that is said, not failed).
#
# Knobs: BYTES (default 52428800) for IMPL<->IMPL, REF_BYTES (16777216)
# for the slower IMPL<->REF_IMPL, SEED (random, printed), CONFIGS (the
# list, space separated, "-" meaning none disabled).

. "$(dirname "$0")/lib.sh"
T_REQUIRE_CMDS=(ncat openssl sha256sum ss timeout grep)
require_env ref

SEED=${SEED:-$RANDOM$RANDOM}
BYTES=${BYTES:-52428800}
REF_BYTES=${REF_BYTES:-16777216}
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

# run_round DISABLED BIN_B BYTES
run_round() {
	local dis=$1 bb=$2 bytes=$3 ifa ifb pa pb label nb
	round=$((round + 1))
	ifa=$(ifname a$round) ifb=$(ifname b$round)
	pa=$((52820 + 2 * round)) pb=$((52821 + 2 * round))
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
	if ! wg_up a "$ifa" a "$pa" "$IN4_A/24" "$IN6_A/64" ||
	   ! wg_up b "$ifb" b "$pb" "$IN4_B/24" "$IN6_B/64"; then
		fail "$label: configure interfaces"
		return
	fi
	nsx a wg set "$ifa" peer "$(pub b)" endpoint "$OUT4_B:$pb" \
		allowed-ips "$IN4_B/32,$IN6_B/128" || fail "$label: wg set A"
	nsx b wg set "$ifb" peer "$(pub a)" endpoint "$OUT4_A:$pa" \
		allowed-ips "$IN4_A/32,$IN6_A/128" || fail "$label: wg set B"
	check "$label: handshake (ping)" ping_some a "$IN4_B" || return
	check "$label: TCP/IPv4 $bytes bytes A->B, sha256" \
		tcp_transfer a b "$IN4_B" "$bytes" "$SEED-$round-1" 5001
	check "$label: TCP/IPv4 $bytes bytes B->A, sha256" \
		tcp_transfer b a "$IN4_A" "$bytes" "$SEED-$round-2" 5002
	check "$label: TCP/IPv6 $((bytes / 4)) bytes A->B, sha256" \
		tcp_transfer a b "$IN6_B" "$((bytes / 4))" "$SEED-$round-3" 5003
	check "$label: TCP/IPv6 $((bytes / 4)) bytes B->A, sha256" \
		tcp_transfer b a "$IN6_A" "$((bytes / 4))" "$SEED-$round-4" 5004
	check "$label: ping after the transfers" ping_ok a "$IN6_B"
	stop_impl a "$ifa"
	stop_impl b "$ifb"
}

for dis in $CONFIGS; do
	run_round "$dis" "$IMPL_PATH" "$BYTES"
	run_round "$dis" "$REF_PATH" "$REF_BYTES"
done

done_testing
