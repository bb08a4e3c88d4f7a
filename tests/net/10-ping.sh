#!/usr/bin/env bash
# Scenario 10: IMPL<->IMPL and IMPL<->REF_IMPL, each side initiating in
# turn, over IPv4 and IPv6 outer transport: ping over inner IPv4 and IPv6
# both ways, a 200 MB TCP transfer checked by SHA-256 and byte count, and a
# 1000-packet flood ping with 0% loss.
#
# Only the initiator is given the peer's endpoint, so the handshake can only
# start from its side; the responder must learn the initiator's endpoint
# from it (checked with `wg show endpoints`).
#
# Knobs: BYTES (default 209715200), FLOOD (1000), SEED (random, printed).

. "$(dirname "$0")/lib.sh"
T_REQUIRE_CMDS=(ncat openssl ping ss timeout)
require_env ref

SEED=${SEED:-$RANDOM$RANDOM}
BYTES=${BYTES:-209715200}
FLOOD=${FLOOD:-1000}
diag "seed=$SEED bytes=$BYTES flood=$FLOOD (rerun with SEED=$SEED)"

pair_setup || bail "namespaces and veth"
keypair a && keypair b || bail "keys"

declare -A IN4=([a]=$IN4_A [b]=$IN4_B) IN6=([a]=$IN6_A [b]=$IN6_B)
declare -A O4=([a]=$OUT4_A [b]=$OUT4_B) O6=([a]=$OUT6_A [b]=$OUT6_B)
round=0

# round NAME_A BIN_A NAME_B BIN_B INITIATOR FAMILY
run_round() {
	local na=$1 ba=$2 nb=$3 bb=$4 ini=$5 fam=$6
	local rsp ifa ifb pa pb label ep want
	round=$((round + 1))
	[[ $ini == a ]] && rsp=b || rsp=a
	ifa=$(ifname a$round) ifb=$(ifname b$round)
	pa=$((51820 + 2 * round)) pb=$((51821 + 2 * round))
	declare -A IF=([a]=$ifa [b]=$ifb) PORT=([a]=$pa [b]=$pb)
	label="[$round] A=$na B=$nb, $( [[ $ini == a ]] && echo "A" || echo "B") initiates, outer IPv$fam"
	if ! start_impl a "$ifa" "$ba" || ! start_impl b "$ifb" "$bb"; then
		fail "$label: start daemons"
		return
	fi
	if ! wg_up a "$ifa" a "$pa" "$IN4_A/24" "$IN6_A/64" ||
	   ! wg_up b "$ifb" b "$pb" "$IN4_B/24" "$IN6_B/64"; then
		fail "$label: configure interfaces"
		return
	fi
	if [[ $fam == 4 ]]; then
		ep="${O4[$rsp]}:${PORT[$rsp]}" want="${O4[$ini]}:${PORT[$ini]}"
	else
		ep="[${O6[$rsp]}]:${PORT[$rsp]}" want="[${O6[$ini]}]:${PORT[$ini]}"
	fi
	nsx "$ini" wg set "${IF[$ini]}" peer "$(pub "$rsp")" endpoint "$ep" \
		allowed-ips "${IN4[$rsp]}/32,${IN6[$rsp]}/128" || fail "$label: wg set initiator"
	nsx "$rsp" wg set "${IF[$rsp]}" peer "$(pub "$ini")" \
		allowed-ips "${IN4[$ini]}/32,${IN6[$ini]}/128" || fail "$label: wg set responder"

	check_not "$label: responder without endpoint cannot reach initiator" \
		nsx "$rsp" timeout 5 ping -n -q -c 1 -W 1 "${IN4[$ini]}"
	check "$label: initiator pings inner IPv4" ping_some "$ini" "${IN4[$rsp]}" &&
		check "$label: ... then all of 3" ping_ok "$ini" "${IN4[$rsp]}"
	check_eq "$label: responder learned initiator's endpoint" \
		"$(endpoint_of "$rsp" "${IF[$rsp]}" "$ini")" "$want"
	check "$label: responder pings inner IPv4" ping_ok "$rsp" "${IN4[$ini]}"
	check "$label: initiator pings inner IPv6" ping_ok "$ini" "${IN6[$rsp]}"
	check "$label: responder pings inner IPv6" ping_ok "$rsp" "${IN6[$ini]}"
	check "$label: TCP $BYTES bytes initiator->responder, sha256" \
		tcp_transfer "$ini" "$rsp" "${IN4[$rsp]}" "$BYTES" "$SEED-$round" 5001
	check "$label: flood ping x$FLOOD, 0% loss" \
		flood_ping "$ini" "${IN4[$rsp]}" "$FLOOD"
	stop_impl a "$ifa"
	stop_impl b "$ifb"
}

impl_name=$(basename "$IMPL_PATH")
ref_name=$(basename "$REF_PATH")
for fam in 4 6; do
	run_round "$impl_name" "$IMPL_PATH" "$impl_name" "$IMPL_PATH" a $fam
	run_round "$impl_name" "$IMPL_PATH" "$impl_name" "$IMPL_PATH" b $fam
	run_round "$impl_name" "$IMPL_PATH" "$ref_name" "$REF_PATH" a $fam
	run_round "$impl_name" "$IMPL_PATH" "$ref_name" "$REF_PATH" b $fam
done

done_testing
