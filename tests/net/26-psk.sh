#!/usr/bin/env bash
# Scenario 26: changing only a peer's preshared key keeps the peer, as the
# kernel does: its session, transfer counters and endpoint stay, and the
# new key is used from the next handshake on.
#
# IMPL at both ends, PSK1 on both.  With a session up and traffic counted:
#  1. `wg set A peer B preshared-key PSK2`, then
#  2. `wg syncconf` of A's own configuration with only PresharedKey = PSK3
#     changed.
# After each: `wg show preshared-keys` shows the new key; B's endpoint,
# latest handshake and A's rx/tx counters for B are what they were (the
# counters only grow); pings still pass on the old session, with no new
# handshake (for cwg also the stats=1 handshakes_completed count).
#  3. The next handshake uses PSK3: B forgets A and adds it back with the
#     old PSK1, so that B initiates: no answer gets through.  With PSK3 on
#     B as well, B's retry completes a handshake and traffic flows.
#
# Knobs: none.

. "$(dirname "$0")/lib.sh"
T_REQUIRE_CMDS=(ncat ping timeout awk)
require_env

pair_setup || bail "namespaces and veth"
keypair a && keypair b || bail keys
IFA=$(ifname a) IFB=$(ifname b) PA=51927 PB=51928
start_impl a "$IFA" || bail "start IMPL in a"
start_impl b "$IFB" || bail "start IMPL in b"
PSK1=$(wg genpsk) PSK2=$(wg genpsk) PSK3=$(wg genpsk)
(umask 077
 for i in 1 2 3; do v=PSK$i; printf '%s\n' "${!v}" >"$T_TMP/psk$i"; done) || bail "psk files"
pair_tunnel "$IFA" $PA "$IFB" $PB || bail "tunnel"
nsx a wg set "$IFA" peer "$(pub b)" preshared-key "$T_TMP/psk1" &&
	nsx b wg set "$IFB" peer "$(pub a)" preshared-key "$T_TMP/psk1" || bail "PSK1"
check "tunnel up with PSK1" ping_some a "$IN4_B"

field() { nsx a wg show "$IFA" "$1" | awk -v k="$(pub b)" '$1 == k { $1 = ""; sub(/^ /, ""); print }'; }
hs_done() {
	stats_to "$IFA" "$T_TMP/st" || { echo "-"; return; }
	sv "$T_TMP/st" handshakes_completed
}

HS0=$(field latest-handshakes) EP0=$(field endpoints) HSN0=$(hs_done)
read -r RX0 TX0 <<<"$(field transfer)"
diag "before: endpoint $EP0, latest handshake $HS0, rx/tx $RX0/$TX0, handshakes completed $HSN0"
[[ $HSN0 == - ]] && diag "no stats=1 answer: IMPL is not cwg, handshakes_completed not checked"

# kept STEP PSK: the peer is the one it was, with PSK in force.
kept() {
	local rx tx
	check_eq "$1: preshared key now the new one" "$(field preshared-keys)" "$2"
	check_eq "$1: endpoint unchanged" "$(field endpoints)" "$EP0"
	check_eq "$1: latest handshake unchanged" "$(field latest-handshakes)" "$HS0"
	read -r rx tx <<<"$(field transfer)"
	check "$1: counters kept (rx $RX0 -> $rx, tx $TX0 -> $tx)" \
		test "${rx:-0}" -ge "$RX0" -a "${tx:-0}" -ge "$TX0" -a "${rx:-0}" -gt 0
	check "$1: pings pass on the old session" ping_ok a "$IN4_B" 5
	read -r RX0 TX0 <<<"$(field transfer)"
	check "$1: and are counted (rx $rx -> $RX0, tx $tx -> $TX0)" \
		test "${RX0:-0}" -gt "${rx:-0}" -a "${TX0:-0}" -gt "${tx:-0}"
	check_eq "$1: no new handshake (latest)" "$(field latest-handshakes)" "$HS0"
	check_eq "$1: no new handshake (handshakes_completed)" "$(hs_done)" "$HSN0"
}

check "wg set: only the preshared key" \
	nsx a wg set "$IFA" peer "$(pub b)" preshared-key "$T_TMP/psk2"
kept "wg set" "$PSK2"

nsx a wg showconf "$IFA" | sed "s|^PresharedKey = .*|PresharedKey = $PSK3|" >"$T_TMP/a.conf"
check "showconf has the key to change" grep -q "^PresharedKey = $PSK3\$" "$T_TMP/a.conf"
check "wg syncconf: only the preshared key" nsx a wg syncconf "$IFA" "$T_TMP/a.conf"
kept "syncconf" "$PSK3"

# 3. B starts over with the old key: A answers with PSK3, B cannot finish.
nsx b wg set "$IFB" peer "$(pub a)" remove &&
	nsx b wg set "$IFB" peer "$(pub a)" endpoint "$OUT4_A:$PA" \
		allowed-ips "$IN4_A/32,$IN6_A/128" preshared-key "$T_TMP/psk1" ||
	fail "B: peer A again, with PSK1"
check_not "B with the old PSK1 gets no session with A" \
	nsx b timeout 8 ping -n -q -c 3 -i 1 -W 3 "$IN4_A"
check "B takes PSK3" nsx b wg set "$IFB" peer "$(pub a)" preshared-key "$T_TMP/psk3"
check "B with PSK3 completes a handshake and reaches A" ping_within b "$IN4_A" 20
HS1=$(field latest-handshakes)
check "A's latest handshake with B moved on ($HS0 -> $HS1)" test "${HS1:-0}" -gt "$HS0"
check_eq "A still has the one peer" "$(nsx a wg show "$IFA" peers)" "$(pub b)"

done_testing
