#!/usr/bin/env bash
# Scenario 72: several data threads per direction (CWG_THREADS). The
# threads of one direction seal or open their batches in parallel, and
# the batches must still leave in the order they came in: a tunnel that
# reorders one flow's packets is broken for TCP, however fast.
#
# Rounds: IMPL with 1 thread against IMPL with 1 (the single-thread
# path), IMPL with 3 against IMPL with 3 (more threads than this
# machine's 2 cores, so they are preempted mid-batch), and IMPL with 4
# against REF_IMPL (which must accept the counters of batches sealed out
# of turn: they stay inside its replay window). In each, the verbose log
# must name the thread count, TCP moves BYTES both ways intact (ncat,
# SHA-256), and UDP_COUNT datagrams of one flow, sent back to back in
# bursts of 256, must arrive undamaged and in order both ways (udpcheck
# -o): loss is allowed (5% must come; REF_IMPL as the sender loses most
# of such bursts with one thread on our side as with four), a late
# datagram is not.
#
# Before any of that, A sends from a cold start COLD times: its session
# with B is dropped (the peer removed and added again), and UDP_COLD
# datagrams in bursts of 64, 100 us apart, go at once, so the first wait
# for the handshake while later ones come in behind them. The waiting
# packets must still leave first (udpcheck -o at B). That is the
# handshake-completion path: it is the receiving side that learns the
# session is up, and a build that sealed the waiting packets there raced
# the TX threads and let a later burst overtake them (late > 0 in about
# one cold start in six, 1 thread or 3).
#
# Then each of 0, 9, "two" and "1x" in CWG_THREADS must be refused with
# a message naming it, before any interface or socket is made.
#
# Knobs: BYTES (default 52428800), UDP_COUNT (20000), COLD (5),
# UDP_COLD (4000), SEED (random, printed).

. "$(dirname "$0")/lib.sh"
T_REQUIRE_CMDS=(ncat openssl ss timeout grep)
require_env ref
require_tools udpcheck

SEED=${SEED:-$RANDOM$RANDOM}
BYTES=${BYTES:-52428800}
UDP_COUNT=${UDP_COUNT:-20000}
COLD=${COLD:-5}
UDP_COLD=${UDP_COLD:-4000}
diag "seed=$SEED bytes=$BYTES udp_count=$UDP_COUNT cold=$COLD (rerun with SEED=$SEED)"

pair_setup || bail "namespaces and veth"
keypair a && keypair b || bail "keys"
round=0

# udp_ordered SRC DST ADDR SEED PORT [COUNT BURST GAP_US]: COUNT
# (UDP_COUNT) datagrams in bursts of BURST (256) GAP_US (1000) apart,
# checked for damage and order at the receiver; at least 5% must arrive.
udp_ordered() {
	local src=$1 dst=$2 addr=$3 seed=$4 port=$5 out rpid rc
	local args=(-p "$port" -n "${6:-$UDP_COUNT}" -l 1392 -s "$seed"
		-b "${7:-256}")
	out="$T_TMP/udp.$port.$RANDOM"
	nsx "$dst" timeout 60 "$TOOLS/udpcheck" recv "${args[@]}" -w 2 -m 5 \
		-o >"$out" 2>&1 &
	rpid=$!
	if ! wait_for 5 bash -c "ip netns exec $(ns "$dst") ss -Huln | awk '{print \$4}' | grep -q ':$port\$'"; then
		echo "receiver not listening"
		kill "$rpid" 2>/dev/null
		return 1
	fi
	nsx "$src" timeout 60 "$TOOLS/udpcheck" send -d "$addr" "${args[@]}" \
		-g "${8:-1000}" || { kill "$rpid" 2>/dev/null; }
	wait "$rpid"
	rc=$?
	cat "$out"
	return $rc
}

# want_threads LOG N: the verbose log names N data threads each way.
want_threads() {
	local line
	line=$(grep -m1 -o 'Data threads: .*' "$1") || {
		echo "no 'Data threads:' line in $1"
		return 1
	}
	echo "$line"
	[[ $line == "Data threads: $2 TX, $2 RX" ]]
}

# cold_start IFA PB IFB: A forgets its session with B (the peer removed
# and added again as pair_tunnel adds it), so its next packets wait for
# a handshake.
cold_start() {
	nsx a wg set "$1" peer "$(pub b)" remove &&
		nsx a wg set "$1" peer "$(pub b)" endpoint "$OUT4_B:$2" \
			allowed-ips "$IN4_B/32,$IN6_B/128" &&
		[[ -z $(nsx a wg show "$1" latest-handshakes | awk '$2 != 0')
		]] || { echo "A kept its session"; return 1; }
}

# run_round THREADS_A BIN_B THREADS_B
run_round() {
	local ta=$1 bb=$2 tb=$3 ifa ifb pa pb label us why
	round=$((round + 1))
	ifa=$(ifname a$round) ifb=$(ifname b$round)
	pa=$((53820 + 2 * round)) pb=$((53821 + 2 * round))
	us=$((SEED * 10 + round * 4))
	label="[$round] A=$(basename "$IMPL_PATH") x$ta B=$(basename "$bb")${tb:+ x$tb}"
	if ! CWG_THREADS=$ta LOG_LEVEL=verbose start_impl a "$ifa" ||
	   ! CWG_THREADS=$tb LOG_LEVEL=verbose start_impl b "$ifb" "$bb"; then
		fail "$label: start daemons"
		return
	fi
	if ! why=$(pair_tunnel "$ifa" "$pa" "$ifb" "$pb"); then
		fail "$label: $why"
		return
	fi
	check "$label: A's log names its threads" \
		want_threads "$T_TMP/$ifa.log" "$ta"
	if [[ -n $tb ]]; then
		check "$label: B's log names its threads" \
			want_threads "$T_TMP/$ifb.log" "$tb"
	fi
	for ((k = 1; k <= COLD; k++)); do
		if ((k > 1)) && ! why=$(cold_start "$ifa" "$pb" "$ifb"); then
			fail "$label: cold start $k: $why"
			continue
		fi
		check "$label: UDP A->B from cold start $k, in order" \
			udp_ordered a b "$IN4_B" $((us * 8 + k)) $((5100 + k)) \
			"$UDP_COLD" 64 100
	done
	check "$label: ping" ping_some a "$IN4_B"
	check "$label: TCP A->B over inner IPv4, sha256" \
		tcp_transfer a b "$IN4_B" "$BYTES" "$SEED-$round-1" 5011
	check "$label: TCP B->A over inner IPv6, sha256" \
		tcp_transfer b a "$IN6_A" "$BYTES" "$SEED-$round-2" 5012
	check "$label: UDP A->B, intact and in order" \
		udp_ordered a b "$IN4_B" $((us + 1)) 5013
	check "$label: UDP B->A, intact and in order" \
		udp_ordered b a "$IN6_A" $((us + 2)) 5014
	stop_impl a "$ifa"
	stop_impl b "$ifb"
}

run_round 1 "$IMPL_PATH" 1
run_round 3 "$IMPL_PATH" 3
run_round 4 "$REF_PATH" ""

# refused VALUE: CWG_THREADS=VALUE makes the daemon exit 1 with a message
# naming the variable, leaving no interface and no socket behind.
refused() {
	local ifc out rc
	ifc=$(ifname bad$RANDOM)
	out=$(CWG_THREADS=$1 nsx a timeout 10 "$IMPL_PATH" "$ifc" 2>&1 </dev/null)
	rc=$?
	echo "exit $rc: $out"
	T_IFACES+=("$ifc")
	((rc == 1)) && [[ $out == *CWG_THREADS* ]] &&
		! nsx a ip link show dev "$ifc" >/dev/null 2>&1 &&
		! test -e "$(sock_of "$ifc")"
}
for bad in 0 9 two 1x; do
	check "CWG_THREADS=$bad is refused" refused "$bad"
done

done_testing
