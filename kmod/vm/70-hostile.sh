# Check 70: hostile datagrams at the listen port do not stop a transfer.
#
# Subjects P:T, a peer and the target (the module on both; stand-in
# wireguard-go against cwg). A third namespace x, the attacker, reaches
# the target's namespace over its own veth (198.18.0.0/15 and
# 2001:db8:ff::/64). tests/tools/garbage fires at the target's port:
#   1. garbage (random lengths and bytes, every message type with right
#      and wrong lengths, unknown types, data messages with random
#      receiver indices), over IPv4 and IPv6 at once, at full rate;
#   2. a flood of handshake initiations with a valid mac1 for the
#      target's public key (random bodies; the costly kind), from
#      FLOOD_SRCS source addresses at FLOOD_PPS a second.
# During each, BYTES go from the peer to the target through the tunnel
# and must arrive whole (lib.sh's xfer); the attack must still be running
# when the transfer ends (else it proved nothing), and it must have sent
# something. During the flood a second peer, new to the target, must
# also complete its first handshake within HS_MAX_S seconds (a target
# under load answers with a cookie first, and the initiator comes back
# after its 5 s retry). Afterwards the target still answers `wg show`
# and pings.
#
# FLOOD_PPS: above what a target doing one X25519 per initiation can
# absorb (the script prints cookie_probe's measure of one X25519 in the
# VM: about 0.7 ms under TCG here, so some 1400 a second on one CPU), and
# within what the attacker's own CPU can send under TCG.
#
# Knobs: BYTES (lib.sh), FLOOD_PPS (2000), FLOOD_SRCS (16), HS_MAX_S (15).

. /vm/lib.sh
net_modules || bail "the network modules"
keypair a b c || bail keys
FLOOD_PPS=${FLOOD_PPS:-2000}
FLOOD_SRCS=${FLOOD_SRCS:-16}
HS_MAX_S=${HS_MAX_S:-15}
SEED=${SEED:-$RANDOM$RANDOM}
diag "seed $SEED (SEED=$SEED repeats the attack's bytes)"
diag "one X25519 in this VM: $(cookie_probe -B | sed -n 's/^x25519_us=//p') us (cookie_probe -B); flood at $FLOOD_PPS/s"
ATK4=198.18.0.1 ATK6=2001:db8:ff::1 SRC4=198.18.0.2 SRC6=2001:db8:ff::2 FLOOD4=198.18.1.0

# attack NAME ARGS...: garbage in namespace x, in the background, its
# output in $T_TMP/NAME.out; its pid appended to ATTACKERS.
attack() {
	local name=$1
	shift
	ip netns exec "$(ns x)" garbage "$@" >"$T_TMP/$name.out" 2>&1 </dev/null &
	ATTACKERS+=($!)
}
# stop_attack: true iff every attacker was still running; then
# stops them (SIGTERM: garbage prints its totals and exits).
stop_attack() {
	local p dead=0
	for p in "${ATTACKERS[@]}"; do
		kill -0 "$p" 2>/dev/null || dead=1
	done
	for p in "${ATTACKERS[@]}"; do
		kill -TERM "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	ATTACKERS=()
	return $dead
}
# txp: packets the target's namespace sent to the attacker's.
txp() { nsx b cat /sys/class/net/vbx/statistics/tx_packets; }
sent() { awk -F'[ =]' '/^sent=/ { n += $2 } END { print n + 0 }' "$@"; }

subjects "kmod:kmod" "wggo:cwg"
for s in "${SUBJECTS[@]}"; do
	IP=${s%%:*} IT=${s##*:}
	L=$(slabel "$s")
	pair_setup && ns_new x && veth x vx b vbx || bail "namespaces and veths"
	ip -n "$(ns b)" addr add "$ATK4/15" dev vbx && ip -n "$(ns b)" addr add "$ATK6/64" dev vbx nodad &&
		ip -n "$(ns x)" addr add "$SRC4/15" dev vx && ip -n "$(ns x)" addr add "$SRC6/64" dev vx nodad ||
		bail "attacker addresses"
	for i in $(seq 0 $((FLOOD_SRCS - 1))); do echo "addr add 198.18.1.$i/15 dev vx"; done |
		ip -n "$(ns x)" -batch - || bail "flood sources"
	IFA=$(ifname a) IFB=$(ifname b) IFC=$(ifname c) PA=51890 PB=51891 PC=51892
	wg_up a "$IFA" "$IP" a $PA "$IN4_A/24" "$IN6_A/64" || bail "peer ($IP)"
	wg_up b "$IFB" "$IT" b $PB "$IN4_B/24" "$IN6_B/64" || bail "target ($IT)"
	nsx a wg set "$IFA" peer "$(pub b)" endpoint "$OUT4_B:$PB" allowed-ips "$IN4_B/32" &&
		nsx b wg set "$IFB" peer "$(pub a)" allowed-ips "$IN4_A/32" || bail "peers"
	check "70-hostile [$L]: the tunnel is up before the attack" ping_some a "$IN4_B" 15

	# 1. Garbage, IPv4 and IPv6 at once.
	ATTACKERS=()
	attack g4 -m garbage -s "$SEED" -t 600 -d "$ATK4" -p $PB -S "$SRC4"
	attack g6 -m garbage -s "$((SEED + 1))" -t 600 -d "$ATK6" -p $PB -S "$SRC6"
	sleep 1
	check "70-hostile [$L]: garbage: $BYTES bytes through the tunnel meanwhile, whole" xfer a b "$IN4_B" "$BYTES"
	stop_attack
	ok $? "70-hostile [$L]: garbage: still being sent when the transfer ended"
	n=$(sent "$T_TMP/g4.out" "$T_TMP/g6.out")
	[ "$n" -gt 0 ]
	ok $? "70-hostile [$L]: garbage: $n datagrams sent" "$(cat "$T_TMP/g4.out" "$T_TMP/g6.out")"
	if [ "$IT" = kmod ]; then
		# Malformed messages (a wrong length for their type, an
		# unknown type) stop at the socket, counted, before any
		# queue or worker: the interface's rx_errors.
		e=$(nsx b cat "/sys/class/net/$IFB/statistics/rx_errors")
		[ "${e:-0}" -gt 0 ]
		ok $? "70-hostile [$L]: garbage: malformed datagrams dropped at the socket and counted (rx_errors $e)"
	fi

	# 2. mac1-valid initiations.
	tx0=$(txp)
	attack fl -m flood -s "$SEED" -t 600 -r "$FLOOD_PPS" -d "$ATK4" -p $PB -S "$FLOOD4" -N "$FLOOD_SRCS" -k "$(pub b)"
	sleep 1
	check "70-hostile [$L]: initiation flood: $BYTES bytes through the tunnel meanwhile, whole" xfer a b "$IN4_B" "$BYTES"
	# A new peer's first handshake under the flood.
	wg_up a "$IFC" "$IP" c $PC 10.201.0.1/24 fd00:201::1/64 &&
		ip -n "$(ns b)" addr add 10.201.0.2/24 dev "$IFB" &&
		nsx a wg set "$IFC" peer "$(pub b)" endpoint "$OUT4_B:$PB" allowed-ips 10.201.0.2/32 &&
		nsx b wg set "$IFB" peer "$(pub c)" allowed-ips 10.201.0.1/32 || bail "second peer"
	t0=$(now)
	ping_some a 10.201.0.2 "$HS_MAX_S"
	ok $? "70-hostile [$L]: initiation flood: a new peer's first handshake and ping within $HS_MAX_S s ($(since "$t0") s)"
	stop_attack
	ok $? "70-hostile [$L]: initiation flood: still being sent when the transfer and the handshake ended"
	n=$(sent "$T_TMP/fl.out")
	[ "$n" -gt 0 ]
	ok $? "70-hostile [$L]: initiation flood: $n initiations sent" "$(cat "$T_TMP/fl.out")"
	# Its bodies are random: a target answers only when under load, with
	# a cookie reply.
	diag "[$L] the target sent $(($(txp) - tx0)) datagrams back to the flood's sources (cookie replies, under load)"
	diag "$(cat "$T_TMP/g4.out" "$T_TMP/g6.out" "$T_TMP/fl.out" | grep '^sent=')"

	check "70-hostile [$L]: the target still answers wg show" nsx b timeout 10 wg show "$IFB" listen-port
	check "70-hostile [$L]: the tunnel still pings" ping_ok a "$IN4_B"
	wg_del a "$IFA" "$IP"
	wg_del a "$IFC" "$IP"
	wg_del b "$IFB" "$IT"
	ns_del a b x
done
