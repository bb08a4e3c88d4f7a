#!/usr/bin/env bash
# A live peer's data under a handshake flood, with and without a `wg set`
# every 100 ms on top, for cwg (default data threads, and CWG_THREADS=2)
# and wireguard-go side by side.
#
# Namespaces A and B hold the two ends of a tunnel (bench/lib.sh); B is
# flooded from a third namespace X: FLOOD_N handshake initiations with a
# valid mac1 for B's public key and random bodies, from NSRC source
# addresses, paced over the measurement (tests/tools/garbage -m flood).
# Meanwhile A pushes one TCP stream through the tunnel to B (iperf3) and
# pings B every 50 ms.  Each implementation gets fresh daemons and four
# phases of DURATION seconds:
#
#   idle        nothing else
#   wgset       `wg set` on B every 100 ms (a dummy peer's allowed-ips)
#   flood       the flood
#   flood+wgset both
#
# Per phase: TCP throughput and its lowest 0.5 s interval, pings answered
# of sent, the largest RTT and the longest gap between two answers (with a
# 50 ms interval, a data path that stalls shows as a gap far above 50 ms),
# how long each configuration write took, B's CPU, and for cwg its
# counters: initiations received (the rest of the flood was dropped by the
# kernel, with whatever tunnel data shared the socket queue), cookie
# replies sent and Noise work done (drop_handshake_invalid: a random body
# fails only after the DH).  The lines come out on stderr as each phase
# ends, and as one table on stdout at the end.
#
# Knobs (environment):
#   IMPL_A     cwg binary (default: build/cwg)
#   IMPL_B     the other implementation (default: wireguard-go)
#   TOOLS      directory of tests/tools binaries (default: build/tools)
#   DURATION   seconds per phase (default 10)
#   FLOOD_N    initiations per flood (default 436000)
#   NSRC       flood source addresses (default 500)
#   FLOOD_BURST  send the flood in bursts of this many (default 0: smooth)
#   THREADS    CWG_THREADS values to run cwg with, "default" leaving it
#              unset (default: "default 2")
#   SETTER     wg (default): `wg set`; uapi: the same request on one UAPI
#              connection, so its time is the daemon's alone
#   SEED       the flood's content (default random, printed)
#   HOOK       a command run alongside each phase's measurement with
#              TAG PHASE PID_B DURATION (a profiler, a thread sampler);
#              its output goes to stderr, prefixed
#
# Needs root.  Everything it creates is named after its pid and removed on
# exit, as in bench/run.

set -u -o pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$BENCH_DIR/.." && pwd)
. "$BENCH_DIR/lib.sh"

IMPL_A=${IMPL_A:-$REPO_DIR/build/cwg}
IMPL_B=${IMPL_B:-wireguard-go}
TOOLS=${TOOLS:-$REPO_DIR/build/tools}
DURATION=${DURATION:-10}
FLOOD_N=${FLOOD_N:-436000}
NSRC=${NSRC:-500}
FLOOD_BURST=${FLOOD_BURST:-0}
THREADS=${THREADS:-default 2}
SEED=${SEED:-$RANDOM$RANDOM}
SETTER=${SETTER:-wg}
HOOK=${HOOK:-}
MTU=1420
PORT_A=51820 PORT_B=51821
IPERF_PORT=5201
# The attacker link: B holds ATK_DST, X the NSRC sources after ATK_SRC.
ATK_DST=198.18.0.1 ATK_SRC=198.18.1.0
B_NS_X="$B_PFX-x"

[[ $(id -u) -eq 0 ]] || die "needs root (network namespaces, TUN)"
[[ -c /dev/net/tun ]] || die "no /dev/net/tun"
[[ $DURATION =~ ^[1-9][0-9]*$ ]] || die "DURATION must be a positive integer"
[[ $FLOOD_N =~ ^[1-9][0-9]*$ ]] || die "FLOOD_N must be a positive integer"
if ! [[ $NSRC =~ ^[1-9][0-9]*$ ]] || ((NSRC > 4096)); then
	die "NSRC: 1 to 4096"
fi
ensure_tools "$IMPL_A" "$IMPL_B"
PATH_A=$(resolve "$IMPL_A") || die "IMPL_A not found: $IMPL_A (run make?)"
PATH_B=$(resolve "$IMPL_B") || die "IMPL_B not found: $IMPL_B"
[[ -x $TOOLS/garbage ]] || die "no $TOOLS/garbage (run make?)"

B_TMP=$(mktemp -d "/tmp/$B_PFX.XXXXXX")
mkdir -p "$WG_RUN_DIR"

# lib.sh's cleanup knows A and B; X and its flood go first.
hs_cleanup() {
	local rc=$? pid
	trap - EXIT INT TERM
	for pid in $(ip netns pids "$B_NS_X" 2>/dev/null); do
		kill -KILL "$pid" 2>/dev/null
	done
	ip netns del "$B_NS_X" 2>/dev/null
	(exit "$rc")
	cleanup
}
trap hs_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

ns_pair_setup || die "namespaces A and B"
ip netns add "$B_NS_X" && ip -n "$B_NS_X" link set lo up &&
	ip link add vx netns "$B_NS_X" type veth peer name vbx netns "$B_NS_B" &&
	ip -n "$B_NS_B" addr add "$ATK_DST/15" dev vbx &&
	ip -n "$B_NS_B" link set vbx up && ip -n "$B_NS_X" link set vx up ||
	die "attacker namespace"
# NSRC consecutive addresses from ATK_SRC, inside 198.18.0.0/15.
awk -v n="$NSRC" 'BEGIN {
	for (i = 0; i < n; i++)
		printf "addr add 198.18.%d.%d/15 dev vx\n", 1 + int(i / 256), i % 256
}' | ip -n "$B_NS_X" -batch - || die "attacker addresses"

(umask 077
 for k in a b d; do
	wg genkey >"$B_TMP/$k.key" && wg pubkey <"$B_TMP/$k.key" >"$B_TMP/$k.pub"
 done) || die "wg genkey failed"
PUB_A=$(cat "$B_TMP/a.pub") PUB_B=$(cat "$B_TMP/b.pub") PUB_D=$(cat "$B_TMP/d.pub")
HEX_D=$(base64 -d <<<"$PUB_D" | od -An -v -tx1 | tr -d ' \n')

# ---------------------------------------------------------------- phases

# wgset_loop IFACE FILE: a configuration write on B every 100 ms until
# killed (a dummy peer's allowed-ips, a new one each time); the duration
# of each, in ms, one a line in FILE.  SETTER=wg runs `wg set` (its time
# includes starting two processes); SETTER=uapi sends the same set=1
# request wg would on one UAPI connection, timed from request to reply.
wgset_loop() {
	local i=0 t0 t1 ip line
	if [[ $SETTER == uapi ]]; then
		coproc UAPI { exec ip netns exec "$B_NS_B" ncat -U "$(sock_of "$1")"; }
		# shellcheck disable=SC2064 # the pid now
		trap "kill $UAPI_PID 2>/dev/null; exit 0" TERM
	fi
	while :; do
		ip="10.255.$((i / 250 % 250)).$((i % 250 + 1))/32"
		t0=${EPOCHREALTIME/./}
		if [[ $SETTER == uapi ]]; then
			printf 'set=1\npublic_key=%s\nreplace_allowed_ips=true\nallowed_ip=%s\n\n' \
				"$HEX_D" "$ip" >&"${UAPI[1]}" || break
			line=x
			while [[ -n $line ]] && read -r -t 10 line <&"${UAPI[0]}"; do :; done
		else
			nsx "$B_NS_B" wg set "$1" peer "$PUB_D" allowed-ips "$ip" \
				>/dev/null 2>&1
		fi
		t1=${EPOCHREALTIME/./}
		echo $(((t1 - t0) / 1000)) >>"$2"
		i=$((i + 1))
		sleep 0.1
	done
}

# ping_summary FILE: "answered/sent max_rtt_ms max_gap_ms" of a ping -D
# run, the gap being the longest between two consecutive answers.
ping_summary() {
	awk '
		/ bytes from / {
			t = substr($1, 2, length($1) - 2) + 0
			if (last && t - last > gap) gap = t - last
			last = t
			n++
			if (match($0, /time=[0-9.]+/)) {
				r = substr($0, RSTART + 5, RLENGTH - 5) + 0
				if (r > rtt) rtt = r
			}
		}
		/ packets transmitted/ { sent = $1 }
		END { printf "%d/%d %.1f %.0f\n", n, sent, rtt, gap * 1000 }' "$1"
}

# cwg_stats IFACE FILE: cwg's stats=1 counters of B (nothing for others).
cwg_stats() {
	printf 'stats=1\n\n' | timeout 5 ip netns exec "$B_NS_B" \
		ncat -U "$(sock_of "$1")" >"$2" 2>/dev/null
}
sv() { awk -F= -v k="$2" '$1 == k { print $2 }' "$1" 2>/dev/null; }
delta() {
	local a b
	a=$(sv "$1" "$3") b=$(sv "$2" "$3")
	[[ -n $a && -n $b ]] && echo $((b - a)) || echo "-"
}

# phase TAG NAME IFB PIDB FLOOD WGSET: one measurement; one result line.
phase() {
	local tag=$1 name=$2 ifb=$3 pidb=$4 flood=$5 wgset=$6
	local j="$B_TMP/$tag.$name" fl_pid="" ws_pid="" hook_pid="" srv cli pg
	local c0 c1 rate
	local mbps min_mbps pings ws_med ws_max st burst

	: >"$j.wgset"
	sleep 2 # a load state left by the phase before lapses after 1 s
	cwg_stats "$ifb" "$j.s0"
	if [[ $flood == 1 ]]; then
		rate=$((FLOOD_N / (DURATION + 1)))
		burst=()
		((FLOOD_BURST)) && burst=(-u "$FLOOD_BURST")
		nsx "$B_NS_X" timeout $((DURATION + 10)) "$TOOLS/garbage" -m flood \
			-s "$SEED" -n "$FLOOD_N" -r "$rate" "${burst[@]}" \
			-t $((DURATION + 5)) -d "$ATK_DST" -p "$PORT_B" \
			-S "$ATK_SRC" -N "$NSRC" -k "$PUB_B" >"$j.flood" 2>&1 &
		fl_pid=$!
	fi
	if [[ $wgset == 1 ]]; then
		wgset_loop "$ifb" "$j.wgset" &
		ws_pid=$!
		B_PIDS+=("$ws_pid")
	fi
	c0=$(cpu_ticks "$pidb")
	if [[ -n $HOOK ]]; then
		$HOOK "$tag" "$name" "$pidb" "$DURATION" >"$j.hook" 2>&1 &
		hook_pid=$!
	fi
	timeout $((DURATION + 30)) ip netns exec "$B_NS_B" \
		iperf3 -s -1 -p "$IPERF_PORT" >/dev/null 2>&1 &
	srv=$!
	wait_for 5 bash -c "ip netns exec $B_NS_B ss -Htln | grep -q ':$IPERF_PORT '"
	timeout $((DURATION + 20)) ip netns exec "$B_NS_A" \
		iperf3 -c "$B_IN_B" -p "$IPERF_PORT" -t "$DURATION" -i 0.5 -J \
		>"$j.json" 2>"$j.json.err" &
	cli=$!
	timeout $((DURATION + 10)) ip netns exec "$B_NS_A" \
		ping -n -D -i 0.05 -W 1 -w "$DURATION" "$B_IN_B" >"$j.ping" 2>&1 &
	pg=$!
	wait_pid $((DURATION + 25)) "$cli"
	wait_pid 15 "$pg"
	wait_pid 10 "$srv"
	c1=$(cpu_ticks "$pidb")
	[[ -n $ws_pid ]] && { kill "$ws_pid" 2>/dev/null; wait "$ws_pid" 2>/dev/null; }
	[[ -n $fl_pid ]] && wait_pid $((DURATION + 15)) "$fl_pid"
	if [[ -n $hook_pid ]]; then
		wait_pid 30 "$hook_pid"
		sed "s/^/# $tag $name: /" "$j.hook" >&2
	fi
	cwg_stats "$ifb" "$j.s1"

	mbps=$(jq -r '.end.sum_received.bits_per_second // empty' "$j.json" 2>/dev/null |
		awk '{ printf "%.0f", $1 / 1e6 }')
	min_mbps=$(jq -r '[.intervals[].sum.bits_per_second] | min // empty' \
		"$j.json" 2>/dev/null | awk '{ printf "%.0f", $1 / 1e6 }')
	pings=$(ping_summary "$j.ping")
	read -r ws_med ws_max < <(sort -n "$j.wgset" | awk '
		{ v[++n] = $1 } END { if (n) print v[int((n + 1) / 2)], v[n]; else print "- -" }')
	st=$(delta "$j.s0" "$j.s1" handshake_initiations_rx)
	st="$st $(delta "$j.s0" "$j.s1" cookie_replies_tx)"
	st="$st $(delta "$j.s0" "$j.s1" drop_handshake_invalid)"
	printf '%-22s %-12s %6s %6s %11s %7s %7s %5s/%-4s %4s%% %s %s\n' \
		"$tag" "$name" "${mbps:-FAIL}" "${min_mbps:--}" $pings \
		"$ws_med" "$ws_max" \
		"$(awk -v a="$c0" -v b="$c1" -v hz="$(getconf CLK_TCK)" \
			-v d="$DURATION" 'BEGIN { printf "%.0f", (b - a) / hz / d * 100 }')" \
		"$st" "$(sed -n 's/^sent=\([0-9]*\).*/sent=\1/p' "$j.flood" 2>/dev/null)" |
		tee -a "$B_TMP/results" >&2
	[[ -n $mbps ]] || log "$tag $name: iperf3: $(head -c 300 "$j.json.err")"
}

# run_impl TAG BIN [THREADS]: fresh daemons, a tunnel, the four phases.
run_impl() {
	local tag=$1 bin=$2 ifa="hsf$((B_ID % 100000))a" ifb="hsf$((B_ID % 100000))b"
	local pa pb
	log "$tag: starting $bin"
	pa=$(CWG_THREADS=${3:-} daemon_start "$B_NS_A" "$bin" "$ifa") ||
		{ log "$tag: start A failed"; return 1; }
	B_PIDS+=("$pa")
	pb=$(CWG_THREADS=${3:-} daemon_start "$B_NS_B" "$bin" "$ifb") ||
		{ log "$tag: start B failed"; daemon_stop "$B_NS_A" "$ifa" "$pa"; return 1; }
	B_PIDS+=("$pb")
	if ! nsx "$B_NS_A" wg set "$ifa" private-key "$B_TMP/a.key" listen-port $PORT_A \
		peer "$PUB_B" endpoint "$B_OUT_B:$PORT_B" allowed-ips "$B_IN_B/32" ||
	   ! nsx "$B_NS_B" wg set "$ifb" private-key "$B_TMP/b.key" listen-port $PORT_B \
		peer "$PUB_A" endpoint "$B_OUT_A:$PORT_A" allowed-ips "$B_IN_A/32" ||
	   ! ip -n "$B_NS_A" addr add "$B_IN_A/24" dev "$ifa" ||
	   ! ip -n "$B_NS_B" addr add "$B_IN_B/24" dev "$ifb" ||
	   ! ip -n "$B_NS_A" link set "$ifa" mtu $MTU up ||
	   ! ip -n "$B_NS_B" link set "$ifb" mtu $MTU up ||
	   ! timeout 15 ip netns exec "$B_NS_A" ping -n -q -c 1 -w 10 "$B_IN_B" >/dev/null; then
		log "$tag: no tunnel"
	else
		phase "$tag" idle "$ifb" "$pb" 0 0
		phase "$tag" wgset "$ifb" "$pb" 0 1
		phase "$tag" flood "$ifb" "$pb" 1 0
		phase "$tag" flood+wgset "$ifb" "$pb" 1 1
		kill -0 "$pb" 2>/dev/null || log "$tag: B died"
	fi
	daemon_stop "$B_NS_A" "$ifa" "$pa"
	daemon_stop "$B_NS_B" "$ifb" "$pb"
}

[[ $SETTER == wg || $SETTER == uapi ]] || die "SETTER: wg or uapi"
log "A=$PATH_A B=$PATH_B duration=${DURATION}s flood=$FLOOD_N from $NSRC sources burst=$FLOOD_BURST setter=$SETTER seed=$SEED (rerun with SEED=$SEED)"
: >"$B_TMP/results"
for t in $THREADS; do
	[[ $t == default ]] && t=""
	run_impl "$(basename "$PATH_A")${t:+ CWG_THREADS=$t}" "$PATH_A" "$t"
done
run_impl "$(basename "$PATH_B")" "$PATH_B"

echo
echo "# hs_flood: ${DURATION}s phases, flood $FLOOD_N initiations (mac1 valid) from $NSRC sources, burst $FLOOD_BURST, seed $SEED"
echo "# Mbit/s: one TCP stream A->B; min: lowest 0.5 s interval; pings: -i 0.05, answered/sent; rtt, gap: largest (ms)"
echo "# wg set ($SETTER): median and largest time of one (ms$([[ $SETTER == wg ]] && echo ", starting wg included")); cpu: B's daemon"
echo "# cwg counters on B: initiations received, cookie replies sent, Noise work done (- for others)"
printf '%-22s %-12s %6s %6s %11s %7s %7s %5s/%-4s %5s %s\n' impl phase Mbit/s min pings rtt gap "wg set" max cpu "init cookie noise"
cat "$B_TMP/results"
