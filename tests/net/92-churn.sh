#!/usr/bin/env bash
# Scenario 92: churn. Two IMPL daemons, A (CWG_THREADS=2, so several data
# threads hold packets at once) and B, carry UDP and TCP both ways without
# pause while their configuration is pulled from under the traffic:
#
# - CYCLES remove + re-add cycles of each one's peer, A and B in turn, in
#   three ways: one UAPI request that removes and re-adds (most), a remove
#   and a re-add SPLIT_MS apart (one in four), and two `wg set` runs
#   (every tenth); random gaps of 0..GAP_MS ms between cycles.
# - Every CHANGE_EVERY cycles one change of another kind, on A or B in
#   turn: `wg syncconf` to a set without the peer and back, a new private
#   key (the other side and the third peer replace the old public key),
#   a new listen port, fwmark 0x66 (an ip rule sends it to an unreachable
#   route: nothing must get out), then 0x67 and 0, a new MTU (1420, 1280)
#   on one side then the other, a new preshared key on both (none, one,
#   another).
# - `wg show IF dump` and `wg show IF` poll both daemons all along.
# - A third peer P of A (REF_IMPL where there is one: wireguard-go) stays
#   configured throughout, pinged without pause.
#
# Recovery: after each change that lets traffic through again (each
# non-peer change, every SAMPLE_EVERY-th re-add), a ping must be answered
# within 1 s. The ping goes from the side whose fresh state can start a
# handshake at once: a side whose initiation was lost waits 5 s
# (REKEY_TIMEOUT) before it retries, by the protocol. So these steps are
# timed with the UDP senders stopped (SIGSTOP; TCP runs on) and QUIET_MS
# (100) ms given to the queues: a socket the blast overflows drops
# handshake packets as well, which says nothing of the daemon. The pause
# also lets a responder's 20 ms flood window (INITIATIONS_PER_SECOND)
# pass, and TAI64N stamps, rounded to 2^24 ns, move on.
#
# At the end: both daemons alive; every set answered errno=0; the UDP
# flows (udpcheck, fresh seed each round) had no damaged or duplicated
# datagram and moved data both ways; every TCP transfer (ncat, SHA-256)
# was intact and at least one finished each way; no `wg show` failed; a
# last ping and a TCP transfer each way get through; each daemon exits on
# SIGTERM; no sanitizer report names them. Under a sanitizer build run
# alone, reports go to a file in the test's directory (make check sets
# its own log_path, which is used instead).
#
# This caught: a peer removed while a TX thread still held its packets
# (use after free: cwg-tx0 segfault after a few hundred cycles, ASan
# within about a hundred).
#
# Soak mode (scripts/soak.sh sets CHURN_SOAK_S): the same traffic for
# CHURN_SOAK_S seconds with the churn at a gentler pace (ROUND_CYCLES
# cycles, then ROUND_PAUSE s), P a third IMPL daemon whose session with A
# nothing touches (A keeps its key, fwmark never blocks), so its
# handshakes are the timer's rekeys: at least REKEYS_MIN (CHURN_SOAK_S /
# 120 - 1) must be seen. VmRSS of A, B and P every RSS_EVERY s; after
# WARMUP s none may grow by more than RSS_SLACK_KB (1024).
#
# Knobs: SEED (random, printed), CYCLES (1000), SAMPLE_EVERY (50),
# CHANGE_EVERY (50), GAP_MS (10), SPLIT_MS (5), UDP_GAP_US (1000, 2000
# under a sanitizer: the pause after each burst of 32 datagrams of 1392
# bytes), TCP_CHUNK (4194304), HOLD_MS (200), P3_IMPL.

. "$(dirname "$0")/lib.sh" || { echo "not ok 1 - no lib.sh"; exit 1; }
T_REQUIRE_CMDS=(ncat openssl ss timeout awk od base64 ping tee sha256sum)
require_env
require_tools udpcheck uapi_client
[[ -n $T_TMP && -d $T_TMP ]] || bail "no test directory"
UC=$TOOLS/uapi_client

SOAK=${CHURN_SOAK_S:-}
SEED=${SEED:-$RANDOM$RANDOM}
if [[ -n $SOAK ]]; then
	CYCLES=0
	SAMPLE_EVERY=${SAMPLE_EVERY:-10}
	CHANGE_EVERY=${CHANGE_EVERY:-60}
	ROUND_CYCLES=${ROUND_CYCLES:-20}
	ROUND_PAUSE=${ROUND_PAUSE:-5}
	UDP_GAP_US=${UDP_GAP_US:-4000}
	WARMUP=${WARMUP:-180}
	RSS_EVERY=${RSS_EVERY:-30}
	RSS_SLACK_KB=${RSS_SLACK_KB:-1024}
	REKEYS_MIN=${REKEYS_MIN:-$((SOAK / 120 - 1))}
	FWMARK_BLOCK=0
	P3_IMPL=${P3_IMPL:-$IMPL_PATH}
else
	CYCLES=${CYCLES:-1000}
	SAMPLE_EVERY=${SAMPLE_EVERY:-50}
	CHANGE_EVERY=${CHANGE_EVERY:-50}
	ROUND_CYCLES=0
	# A sanitized daemon seals several times slower: a gentler blast
	# leaves the churn its share of two cores (12478c9's use after free
	# still showed within 400 cycles at 3000).
	UDP_GAP_US=${UDP_GAP_US:-$((SANITIZED ? 2000 : 1000))}
	FWMARK_BLOCK=1
	P3_IMPL=${P3_IMPL:-${REF_PATH:-$IMPL_PATH}}
fi
GAP_MS=${GAP_MS:-10}
SPLIT_MS=${SPLIT_MS:-5}
QUIET_MS=${QUIET_MS:-100}
HOLD_MS=${HOLD_MS:-200}
TCP_CHUNK=${TCP_CHUNK:-4194304}
P3_PATH=$(t_resolve "$P3_IMPL") || bail "third peer not found: $P3_IMPL"
RANDOM=$SEED
diag "seed=$SEED cycles=$CYCLES soak=${SOAK:-no} P=$P3_PATH (rerun with SEED=$SEED)"

# ------------------------------------------------------------ sanitizers

# Reports of a daemon go where the sanitizer options' log_path says (make
# check sets one); run alone, into this test's directory.
SAN_PATH=""
if ((SANITIZED)); then
	SAN_PATH=$(printf '%s\n' "${ASAN_OPTIONS:-}" "${TSAN_OPTIONS:-}" \
		"${UBSAN_OPTIONS:-}" | sed -n 's/.*log_path=\([^:]*\).*/\1/p' | head -n 1)
	if [[ -z $SAN_PATH ]]; then
		SAN_PATH=$T_TMP/san
		export ASAN_OPTIONS="log_path=$SAN_PATH${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
		export TSAN_OPTIONS="log_path=$SAN_PATH${TSAN_OPTIONS:+:$TSAN_OPTIONS}"
		export UBSAN_OPTIONS="log_path=$SAN_PATH:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
	fi
fi
touch "$T_TMP/start.mark"

# san_reports: report files written since this test started.
san_reports() {
	[[ -n $SAN_PATH ]] || return 0
	find "$(dirname "$SAN_PATH")" -maxdepth 1 -name "$(basename "$SAN_PATH").*" \
		-newer "$T_TMP/start.mark" 2>/dev/null
}

# ---------------------------------------------------------------- setup

pair_setup || bail "namespaces and veth"
for k in a a2 b b2 p x1 x2 x3; do
	keypair "$k" || bail "keys"
done
(umask 077 && wg genpsk >"$T_TMP/psk1" && wg genpsk >"$T_TMP/psk2") || bail "psk"

hexkey() { base64 -d <"$1" | od -An -v -tx1 | tr -d ' \n'; }
declare -A HEX
for k in a a2 b b2; do
	HEX[$k]=$(hexkey "$T_TMP/$k.pub")
done
HEX[psk1]=$(hexkey "$T_TMP/psk1") HEX[psk2]=$(hexkey "$T_TMP/psk2")

IFA=$(ifname a) IFB=$(ifname b) IFP=$(ifname p)
PA=51961 PB=51962 PP=51963
IN4_P=10.201.0.2 IN4_AP=10.201.0.1
declare -A IFC=([a]=$IFA [b]=$IFB) OTHER=([a]=b [b]=a)
declare -A OUT4=([a]=$OUT4_A [b]=$OUT4_B) IN4=([a]=$IN4_A [b]=$IN4_B)
declare -A IN6=([a]=$IN6_A [b]=$IN6_B)
# What each side is now: its key's name, its port, its MTU, and the
# preshared key of the A-B pair ("" for none).
declare -A KEYN=([a]=a [b]=b) PORT=([a]=$PA [b]=$PB) MTU=([a]=1420 [b]=1420)
declare -A PORT0=([a]=$PA [b]=$PB)
PSK=""

CWG_THREADS=2 start_impl a "$IFA" || bail "start A"
PID_A=$START_PID
start_impl b "$IFB" || bail "start B"
PID_B=$START_PID
start_impl b "$IFP" "$P3_PATH" || bail "start P"
PID_P=$START_PID
declare -A PID=([a]=$PID_A [b]=$PID_B) SOCK=([a]=$(sock_of "$IFA") [b]=$(sock_of "$IFB"))

wg_up a "$IFA" a "$PA" "$IN4_A/24" "$IN6_A/64" 1420 &&
	nsx a ip addr add "$IN4_AP/24" dev "$IFA" &&
	wg_up b "$IFB" b "$PB" "$IN4_B/24" "$IN6_B/64" 1420 &&
	wg_up b "$IFP" p "$PP" "$IN4_P/24" fd00:201::2/64 1420 ||
	bail "configure interfaces"
# fwmark 0x66 leads to a route that refuses everything.
for t in a b; do
	nsx "$t" ip rule add fwmark 0x66 lookup 66 pref 100 &&
		nsx "$t" ip route add unreachable default table 66 ||
		bail "policy route for fwmark 0x66"
done

# peer_uapi X: UAPI lines that (re)create X's peer, the other side, as
# it is now.
peer_uapi() {
	local y=${OTHER[$1]}
	printf 'public_key=%s\n' "${HEX[${KEYN[$y]}]}"
	[[ -z $PSK ]] || printf 'preshared_key=%s\n' "${HEX[$PSK]}"
	printf 'endpoint=%s:%s\nallowed_ip=%s/32\nallowed_ip=%s/128\n' \
		"${OUT4[$y]}" "${PORT[$y]}" "${IN4[$y]}" "${IN6[$y]}"
}
# peer_args X: the same as `wg set` arguments.
peer_args() {
	local y=${OTHER[$1]}
	printf '%s\n' peer "$(pub "${KEYN[$y]}")" preshared-key \
		"${PSK:+$T_TMP/$PSK}" endpoint "${OUT4[$y]}:${PORT[$y]}" \
		allowed-ips "${IN4[$y]}/32,${IN6[$y]}/128" | sed 's|^$|/dev/null|'
}
# p_args: P as A's peer; a_args_p: A as P's peer.
p_args() {
	echo peer "$(pub p)" endpoint "$OUT4_B:$PP" allowed-ips "$IN4_P/32"
}
a_args_p() {
	echo peer "$(pub "${KEYN[a]}")" endpoint "$OUT4_A:${PORT[a]}" \
		allowed-ips "$IN4_AP/32"
}

nsx a wg set "$IFA" $(peer_args a) $(p_args) &&
	nsx b wg set "$IFB" $(peer_args b) &&
	nsx b wg set "$IFP" $(a_args_p) || bail "peers"
check "A reaches B" ping_some a "$IN4_B" || bail "no tunnel A-B"
check "A reaches P" ping_some a "$IN4_P" || bail "no tunnel A-P"

# ------------------------------------------------------------ samples

NSAMP=0 SAMP_FAIL=0 SAMP_MAX=0 SAMP_DIAG=""
now_ms() { local t=${EPOCHREALTIME/./}; echo $((t / 1000)); }
sleep_ms() { (($1 > 0)) && sleep "$(printf '0.%03d' "$1")"; return 0; }

# ping_1s FROM ADDR: answered within 1 s (ping's own deadline, after its
# start); prints the time taken, or, when not, how long recovery took.
ping_1s() {
	local t0 t1 rc
	t0=$(now_ms)
	nsx "$1" ping -n -q -c 1 -i 0.05 -w 1 "$2" >/dev/null 2>&1
	rc=$?
	t1=$(now_ms)
	LAST_MS=$((t1 - t0))
	if ((rc == 0)); then
		echo "answered after $LAST_MS ms"
		return 0
	fi
	if nsx "$1" ping -n -q -c 1 -i 0.1 -w 10 "$2" >/dev/null 2>&1; then
		echo "no answer within 1 s; answered after $(($(now_ms) - t0)) ms"
	else
		echo "no answer within 1 s, nor in the 10 s after"
	fi
	why_slow
	return 1
}

# counters: each daemon's counters (cwg's stats=1) and the kernel's UDP
# error counts in each namespace, one NAME=VALUE a line.
counters() {
	local t
	for t in a b; do
		printf 'stats=1\n\n' |
			ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=0" \
			"$UC" send "${SOCK[$t]}" 2 2>/dev/null |
			grep -v '^errno=' | sed "s/^/$t./"
		nsx "$t" awk -v t="$t" '
			$1 == "Udp:" && !h { split($0, n); h = 1; next }
			$1 == "Udp:" { for (f = 2; f <= NF; f++) if (n[f] ~ /Errors/)
				printf "%s.kernel_%s=%s\n", t, n[f], $f }' /proc/net/snmp
	done
}
# mark: remember the counters, for why_slow.
mark() { counters >"$T_TMP/counters.mark"; }
# why_slow: which counters moved since the last mark.
why_slow() {
	echo "since the step began: $(counters | awk -F= '
		NR == FNR { was[$1] = $2; next }
		$2 != was[$1] { printf "%s+%d ", $1, $2 - was[$1] }' \
		"$T_TMP/counters.mark" -)"
}

# sample NAME FROM ADDR: a counted ping_1s, for the aggregate test points.
sample() {
	NSAMP=$((NSAMP + 1))
	if ping_1s "$2" "$3" >"$T_TMP/sample.out"; then
		((LAST_MS > SAMP_MAX)) && SAMP_MAX=$LAST_MS
		return 0
	fi
	SAMP_FAIL=$((SAMP_FAIL + 1))
	((SAMP_FAIL <= 5)) && SAMP_DIAG+="$1: $(cat "$T_TMP/sample.out")"$'\n'
	return 1
}

# recovers NAME FROM ADDR: one test point for a ping_1s.
recovers() {
	local out
	if out=$(ping_1s "$2" "$3"); then
		pass "$1 ($out)"
	else
		fail "$1" "$out"
	fi
}

alive() { kill -0 "$PID_A" 2>/dev/null && kill -0 "$PID_B" 2>/dev/null; }

# ------------------------------------------------------------ traffic

STOP=$T_TMP/stop
UDP_COUNT=${UDP_COUNT:-20000000}
UDP_IDLE=5
RUN_MAX=$((${SOAK:-600} + 600))

udp_listening() {
	nsx "$1" ss -Huln | awk '{ print $4 }' | grep -q ":$2\$"
}

# udp_flow SRC DST ADDR PORT TAG: rounds of udpcheck until $STOP, each
# with its own seed. A round ends when nothing came for UDP_IDLE s (a
# stall, or the sender was stopped); its result line goes to the log.
udp_flow() {
	local src=$1 dst=$2 addr=$3 port=$4 tag=$5 r=0 seed rpid spid rc
	local args
	while [[ ! -e $STOP ]]; do
		r=$((r + 1))
		seed=$((SEED * 1000 + r))
		args=(-p "$port" -n "$UDP_COUNT" -l 1392 -s "$seed")
		nsx "$dst" timeout "$RUN_MAX" "$TOOLS/udpcheck" recv "${args[@]}" \
			-w "$UDP_IDLE" -m 0 >"$T_TMP/udp.$tag.out" 2>&1 &
		rpid=$!
		wait_for 5 udp_listening "$dst" "$port"
		# Not nsx (a function, hence a subshell): $! must be the
		# sender itself, to pause and stop, and `ip netns exec`
		# execs it.
		ip netns exec "$(ns "$src")" "$TOOLS/udpcheck" send -d "$addr" \
			"${args[@]}" -g "$UDP_GAP_US" >/dev/null 2>&1 &
		spid=$!
		echo "$spid" >"$T_TMP/udp.$tag.spid"
		wait "$rpid"
		rc=$?
		kill "$spid" 2>/dev/null
		kill -CONT "$spid" 2>/dev/null
		wait "$spid"
		echo "rc=$rc $(tail -n 1 "$T_TMP/udp.$tag.out")" \
			>>"$T_TMP/udp.$tag.log"
	done
}

# tcp_flow SRC DST ADDR PORT TAG: TCP_CHUNK-byte transfers until $STOP.
tcp_flow() {
	local k=0 out
	RANDOM=$BASHPID
	while [[ ! -e $STOP ]]; do
		k=$((k + 1))
		if out=$(tcp_transfer "$1" "$2" "$3" "$TCP_CHUNK" \
			"$SEED-$5-$k" "$4" 2>&1); then
			echo "ok $k $out"
		else
			echo "FAIL $k $(tr '\n' ' ' <<<"$out")"
		fi >>"$T_TMP/tcp.$5.log"
	done
}

# poll_flow TAG IFACE: `wg show IFACE dump`, every fourth time `wg show
# IFACE`, until $STOP; counts what failed.
poll_flow() {
	local n=0 bad=0 out
	while [[ ! -e $STOP ]]; do
		n=$((n + 1))
		if ((n % 4)); then
			out=$(nsx "$1" timeout 5 wg show "$2" dump 2>&1 >/dev/null)
		else
			out=$(nsx "$1" timeout 5 wg show "$2" 2>&1 >/dev/null)
		fi || {
			bad=$((bad + 1))
			((bad <= 3)) && echo "poll $n: $out" >>"$T_TMP/poll.$1.err"
		}
		sleep 0.05
	done
	echo "$n $bad" >"$T_TMP/poll.$1.n"
}

# udp_hold STOP|CONT: pause or resume both UDP senders.
udp_hold() {
	local tag p
	for tag in ab ba; do
		p=$(cat "$T_TMP/udp.$tag.spid" 2>/dev/null) &&
			kill -"$1" "$p" 2>/dev/null
	done
	return 0
}

FLOWS=()
start_flow() {
	"$@" &
	FLOWS+=($!)
	T_PIDS+=($!)
}
start_flow udp_flow a b "$IN4_B" 5201 ab
start_flow udp_flow b a "$IN6_A" 5202 ba
start_flow tcp_flow a b "$IN4_B" 5211 ab
start_flow tcp_flow b a "$IN6_A" 5212 ba
start_flow poll_flow a "$IFA"
start_flow poll_flow b "$IFB"
# P is pinged all along; SIGINT at the end makes ping print its loss.
ip netns exec "$(ns a)" ping -n -q -i 0.2 "$IN4_P" >"$T_TMP/ping.p" 2>&1 &
PING_P=$!
T_PIDS+=("$PING_P")
sleep 1

# ------------------------------------------------------------ churn

declare -A NCYC=([a]=0 [b]=0) NMODE=([one]=0 [split]=0 [wg]=0)
SET_FAIL=0 SET_DIAG=""

# uc_set SOCK: stdin as one request; its answer must be errno=0. (A
# sanitized uapi_client skips the leak scan at exit: ~5 ms a cycle.)
uc_set() {
	local out
	out=$(ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=0" "$UC" send "$1" 5 2>&1)
	[[ $out == errno=0* ]] && return 0
	echo "reply: $(head -c 200 <<<"$out" | tr '\n' ' ')"
	return 1
}

# cycle X MODE: X removes its peer and adds it again as it is now.
cycle() {
	local x=$1 y=${OTHER[$1]} hk
	hk=${HEX[${KEYN[${OTHER[$1]}]}]}
	case $2 in
	one)
		{ printf 'set=1\npublic_key=%s\nremove=true\n' "$hk"; peer_uapi "$x"
		  echo; } | uc_set "${SOCK[$x]}" ;;
	split)
		printf 'set=1\npublic_key=%s\nremove=true\n\n' "$hk" |
			uc_set "${SOCK[$x]}" || return 1
		sleep_ms $((RANDOM % (SPLIT_MS + 1)))
		{ printf 'set=1\n'; peer_uapi "$x"; echo; } | uc_set "${SOCK[$x]}" ;;
	wg)
		nsx "$x" wg set "${IFC[$x]}" peer "$(pub "${KEYN[$y]}")" remove &&
			nsx "$x" wg set "${IFC[$x]}" $(peer_args "$x") ;;
	esac
}

# ------------------------------------------------------------ changes

# conf X WITH_PEER: a wg(8) configuration of side X as it is now, with
# or without its peer; A's always has P. Without the peer, three others.
conf() {
	local x=$1 y=${OTHER[$1]} k
	printf '[Interface]\nPrivateKey = %s\nListenPort = %s\n' \
		"$(cat "$(key "${KEYN[$x]}")")" "${PORT[$x]}"
	if (($2)); then
		printf '\n[Peer]\nPublicKey = %s\n' "$(pub "${KEYN[$y]}")"
		[[ -z $PSK ]] || printf 'PresharedKey = %s\n' "$(cat "$T_TMP/$PSK")"
		printf 'Endpoint = %s:%s\nAllowedIPs = %s/32, %s/128\n' \
			"${OUT4[$y]}" "${PORT[$y]}" "${IN4[$y]}" "${IN6[$y]}"
	else
		for k in 1 2 3; do
			printf '\n[Peer]\nPublicKey = %s\n' "$(pub "x$k")"
			printf 'Endpoint = 192.0.2.%d:51820\n' $((100 + k))
			printf 'AllowedIPs = 10.250.0.%d/32\n' "$k"
		done
	fi
	[[ $x == b ]] ||
		printf '\n[Peer]\nPublicKey = %s\nEndpoint = %s:%s\nAllowedIPs = %s/32\n' \
			"$(pub p)" "$OUT4_B" "$PP" "$IN4_P"
}
# peers_are X NAME...: X's peers are exactly these keys.
peers_are() {
	local want got k
	want=$(for k in "${@:2}"; do pub "$k"; done | sort)
	got=$(nsx "$1" wg show "${IFC[$1]}" peers | sort)
	[[ $got == "$want" ]] || { echo "peers: $got"; return 1; }
}

change_syncconf() {
	local x=$1 y=${OTHER[$1]} p=() out
	[[ $x == a ]] && p=(p)
	conf "$x" 0 >"$T_TMP/s2.conf"
	conf "$x" 1 >"$T_TMP/s1.conf"
	if out=$(nsx "$x" wg syncconf "${IFC[$x]}" "$T_TMP/s2.conf" 2>&1 &&
		peers_are "$x" x1 x2 x3 "${p[@]}" &&
		nsx "$x" wg syncconf "${IFC[$x]}" "$T_TMP/s1.conf" 2>&1 &&
		peers_are "$x" "${KEYN[$y]}" "${p[@]}"); then
		pass "$x: wg syncconf to a set without its peer and back"
	else
		fail "$x: wg syncconf to a set without its peer and back" "$out"
	fi
	recovers "$x: ... then reaches ${OTHER[$x]} within 1 s" "$x" "${IN4[$y]}"
	[[ $x == b ]] || recovers "a: ... and P, kept in both sets" a "$IN4_P"
}

# A new private key on X, and its peers (the other side; P, for A) learn
# the new public key, in an order that leaves one handshake to make: the
# peers drop the old key, X takes the new one, and its first initiation
# (its traffic sends one at once) is refused, which holds X off for
# REKEY_TIMEOUT; HOLD_MS later the peers add the new key and start the
# handshake, which X answers. Had both sides initiated at once, each
# would answer the other and drop the answer to its own (the kernel's
# handshake state does the same), and both would wait 5 s.
change_key() {
	local x=$1 y=${OTHER[$1]} old=${KEYN[$1]} new out
	new=$x
	[[ $old == "$x" ]] && new=${x}2
	if out=$(nsx "$y" wg set "${IFC[$y]}" peer "$(pub "$old")" remove 2>&1 &&
		{ [[ $x == b ]] || nsx b wg set "$IFP" peer "$(pub "$old")" remove 2>&1; } &&
		nsx "$x" wg set "${IFC[$x]}" private-key "$(key "$new")" 2>&1 &&
		KEYN[$x]=$new && sleep_ms "$HOLD_MS" &&
		nsx "$y" wg set "${IFC[$y]}" $(peer_args "$y") 2>&1 &&
		{ [[ $x == b ]] || nsx b wg set "$IFP" $(a_args_p) 2>&1; }); then
		pass "$x: private key $old -> $new, peers told"
	else
		fail "$x: private key $old -> $new, peers told" "$out"
	fi
	KEYN[$x]=$new
	recovers "$x: ... $y reaches it within 1 s" "$y" "${IN4[$x]}"
	[[ $x == b ]] || recovers "a: ... P reaches it within 1 s" b "$IN4_AP"
}

change_port() {
	local x=$1 new=$((PORT0[$1] + 1000))
	((PORT[$x] == new)) && new=${PORT0[$x]}
	PORT[$x]=$new
	check "$x: listen-port $new" nsx "$x" wg set "${IFC[$x]}" listen-port "$new" &&
		check_eq "$x: ... reads back" \
			"$(nsx "$x" wg show "${IFC[$x]}" listen-port)" "$new"
	recovers "$x: ... reaches ${OTHER[$x]} within 1 s" "$x" "${IN4[${OTHER[$x]}]}"
	[[ $x == b ]] || recovers "a: ... and P within 1 s" a "$IN4_P"
}

change_fwmark() {
	local x=$1 y=${OTHER[$1]} m
	if ((FWMARK_BLOCK)); then
		nsx "$x" wg set "${IFC[$x]}" fwmark 0x66
		check_not "$x: fwmark 0x66 (routed to unreachable) stops it" \
			nsx "$x" ping -n -q -c 1 -w 1 "${IN4[$y]}"
	fi
	for m in 0x67 0; do
		check "$x: fwmark $m" nsx "$x" wg set "${IFC[$x]}" fwmark "$m"
		recovers "$x: ... reaches $y within 1 s" "$x" "${IN4[$y]}"
	done
}

# A new MTU on X, then on the other side: a receiver with a smaller MTU
# than its sender's is a black hole for some (wireguard-go drops).
mtu_both() {
	nsx "$1" ip link set "${IFC[$1]}" mtu "$3" &&
		nsx "$2" ip link set "${IFC[$2]}" mtu "$3"
}
change_mtu() {
	local x=$1 y=${OTHER[$1]} new=1280
	((MTU[$1] == new)) && new=1420
	MTU[$x]=$new MTU[$y]=$new
	check "$x, then $y: mtu $new" mtu_both "$x" "$y" "$new"
	recovers "$x: ... reaches $y within 1 s" "$x" "${IN4[$y]}"
}

# A new preshared key on both sides; then X re-adds its peer, so the next
# handshake must use it.
change_psk() {
	local x=$1 new out
	case $PSK in
	"") new=psk1 ;; psk1) new=psk2 ;; *) new="" ;;
	esac
	PSK=$new
	if out=$(nsx a wg set "$IFA" $(peer_args a) 2>&1 &&
		nsx b wg set "$IFB" $(peer_args b) 2>&1 && cycle "$x" one); then
		pass "$x: preshared key ${new:-none} on both, peer re-added"
	else
		fail "$x: preshared key ${new:-none} on both, peer re-added" "$out"
	fi
	recovers "$x: ... handshakes and reaches ${OTHER[$x]} within 1 s" \
		"$x" "${IN4[${OTHER[$x]}]}"
}

KINDS=(syncconf key port fwmark mtu psk)
NCHANGE=0
change() {
	local kind=${KINDS[$((NCHANGE % ${#KINDS[@]}))]} x=a
	(((NCHANGE / ${#KINDS[@]}) % 2)) && x=b
	# In a soak, A keeps its key: P's session must only ever rekey.
	[[ -n $SOAK && $kind == key ]] && x=b
	NCHANGE=$((NCHANGE + 1))
	udp_hold STOP
	sleep_ms "$QUIET_MS"
	mark
	"change_$kind" "$x"
	udp_hold CONT
}

# ------------------------------------------------------------ soak

declare -A RSS0 RSSMAX RSSLAST
RSS_ROWS="" HS_LAST="" HS_N=0 HS_TIMES="" NEXT_RSS=${WARMUP:-0}
T0=$(date +%s)
rss_of() { awk '$1 == "VmRSS:" { print $2 }' "/proc/$1/status" 2>/dev/null; }

# soak_tick: counts P's handshakes as A sees them, samples VmRSS.
soak_tick() {
	local t hs tag r row pv
	t=$(($(date +%s) - T0))
	hs=$(nsx a wg show "$IFA" latest-handshakes |
		awk -v k="$(pub p)" '$1 == k { print $2 }')
	if [[ -n $hs && $hs != 0 && $hs != "$HS_LAST" ]]; then
		[[ -n $HS_LAST ]] && HS_N=$((HS_N + 1)) && HS_TIMES+=" $t"
		HS_LAST=$hs
	fi
	((t >= NEXT_RSS)) || return 0
	NEXT_RSS=$((t + RSS_EVERY))
	row=$(printf '%6d' "$t")
	for tag in a b p; do
		pv=PID_${tag^^}
		r=$(rss_of "${!pv}")
		[[ -n $r ]] || r=0
		[[ -n ${RSS0[$tag]:-} ]] || RSS0[$tag]=$r
		((r > ${RSSMAX[$tag]:-0})) && RSSMAX[$tag]=$r
		RSSLAST[$tag]=$r
		row+=$(printf ' %8d' "$r")
	done
	row+=$(printf ' %8d %7d %7d' "$((NCYC[a] + NCYC[b]))" "$NCHANGE" "$HS_N")
	RSS_ROWS+="$row"$'\n'
	diag "$row"
}

more() {
	if [[ -n $SOAK ]]; then
		(($(date +%s) - T0 < SOAK))
	else
		((i < CYCLES))
	fi
}

[[ -z $SOAK ]] || diag "     t    rss_a    rss_b    rss_p   cycles changes rekeys_p (kB)"
i=0
DEAD=""
SMODES=(wg one split)
T_CHURN=$(now_ms)
while more; do
	i=$((i + 1))
	x=a
	((i % 2)) || x=b
	mode=one
	((RANDOM % 4)) || mode=split
	((i % 10)) || mode=wg
	# Sampled: one cycle in SAMPLE_EVERY, A's and B's in turn, each mode
	# in turn.
	sampled=0
	if ((i % SAMPLE_EVERY == (i / SAMPLE_EVERY) % 2)); then
		sampled=1
		mode=${SMODES[$((NSAMP % 3))]}
		udp_hold STOP
		sleep_ms "$QUIET_MS"
		mark
	fi
	if out=$(cycle "$x" "$mode" 2>&1); then
		NCYC[$x]=$((NCYC[$x] + 1))
		NMODE[$mode]=$((NMODE[$mode] + 1))
	else
		SET_FAIL=$((SET_FAIL + 1))
		((SET_FAIL <= 5)) && SET_DIAG+="cycle $i ($x, $mode): $out"$'\n'
		# A dying daemon (a sanitizer writing its report) may
		# still hold its pid for a while.
		wait_for 5 bash -c "! kill -0 ${PID[$x]} 2>/dev/null"
	fi
	alive || { DEAD="at cycle $i ($x, $mode)"; break; }
	if ((sampled)); then
		sample "cycle $i ($x re-added, $mode)" "$x" "${IN4[${OTHER[$x]}]}"
		udp_hold CONT
	else
		sleep_ms $((RANDOM % (GAP_MS + 1)))
	fi
	((i % CHANGE_EVERY)) || change
	alive || { DEAD="after change $NCHANGE"; break; }
	if ((ROUND_CYCLES && i % ROUND_CYCLES == 0)); then
		soak_tick
		sleep "$ROUND_PAUSE"
	fi
done
[[ -z $SOAK ]] || soak_tick

# A daemon gone: say which and how, and stop (what comes after needs both).
if [[ -n $DEAD ]]; then
	for t in a b; do
		kill -0 "${PID[$t]}" 2>/dev/null && continue
		# give a sanitizer's report time to be written
		wait_for 20 bash -c "! kill -0 ${PID[$t]} 2>/dev/null"
		fail "$t survives the churn" "$t (pid ${PID[$t]}) died $DEAD, after \
$((NCYC[a] + NCYC[b])) cycles and $NCHANGE other changes"
	done
	reports=$(san_reports)
	[[ -z $reports ]] ||
		diag "sanitizer reports $reports:"$'\n'"$(head -n 40 $reports)"
	[[ -n $reports ]] || diag "$(cat "$T_TMP/$IFA.log" "$T_TMP/$IFB.log" | tail -n 20)"
	done_testing
fi
pass "both daemons survive the churn"
diag "cycles: A ${NCYC[a]}, B ${NCYC[b]} (one request ${NMODE[one]}," \
	"split ${NMODE[split]}, wg ${NMODE[wg]}); changes $NCHANGE;" \
	"$((($(now_ms) - T_CHURN) / 1000)) s"
check_eq "every remove/re-add accepted ($SET_FAIL refused)" "$SET_FAIL" 0 ||
	diag "$SET_DIAG"
if [[ -z $SOAK ]]; then
	check "at least 1000 remove/re-add cycles ($((NCYC[a] + NCYC[b])))" \
		test $((NCYC[a] + NCYC[b])) -ge $((CYCLES < 1000 ? CYCLES : 1000))
fi
check_eq "a ping within 1 s after each of $NSAMP sampled re-adds (slowest ${SAMP_MAX} ms)" \
	"$SAMP_FAIL" 0 || diag "$SAMP_DIAG"

# ------------------------------------------------------------ the end

# Stop: each flow ends its round and sees $STOP; the UDP senders are
# stopped until then (a new round may just have begun).
touch "$STOP"
flows_done() {
	local p
	for p in "${FLOWS[@]}"; do
		kill -0 "$p" 2>/dev/null && return 1
	done
	return 0
}
for ((k = 0; k < 600; k++)); do
	flows_done && break
	udp_hold TERM
	udp_hold CONT
	sleep 0.2
done
check "traffic and polls stop within 120 s" flows_done
kill -INT "$PING_P" 2>/dev/null
wait "$PING_P" 2>/dev/null

# udp_result TAG NAME
udp_result() {
	local log=$T_TMP/udp.$1.log
	awk '{ delete v
		for (f = 1; f <= NF; f++) { split($f, kv, "="); v[kv[1]] = kv[2] }
		rounds++; got += v["received"]; bad += v["corrupt"] + v["dup"]
		if (v["rc"] != 0 || v["received"] == "") failed++ }
		END { printf "%d rounds, %d datagrams received, %d damaged or " \
			"duplicated, %d rounds failed\n", rounds, got, bad, failed
			exit !(rounds > 0 && got > 0 && bad == 0 && failed == 0) }' "$log"
}
check "UDP A->B: intact, moved" udp_result ab || diag "$(tail -n 5 "$T_TMP/udp.ab.log")"
check "UDP B->A (IPv6): intact, moved" udp_result ba || diag "$(tail -n 5 "$T_TMP/udp.ba.log")"

tcp_result() {
	local ok bad
	ok=$(grep -c '^ok ' "$T_TMP/tcp.$1.log")
	bad=$(grep -c '^FAIL ' "$T_TMP/tcp.$1.log")
	echo "$ok transfers of $TCP_CHUNK bytes intact, $bad failed"
	((bad == 0 && ok > 0)) || { grep -m 3 '^FAIL ' "$T_TMP/tcp.$1.log"; return 1; }
}
check "TCP A->B: every transfer intact" tcp_result ab
check "TCP B->A (IPv6): every transfer intact" tcp_result ba

for t in a b; do
	read -r n bad <"$T_TMP/poll.$t.n" || n=0 bad=x
	check_eq "$t: $n polls of wg show, none failed" "$bad" 0 ||
		diag "$(cat "$T_TMP/poll.$t.err" 2>/dev/null)"
done
loss=$(grep -o '[0-9.]*% packet loss' "$T_TMP/ping.p" | cut -d% -f1)
diag "pings A->P all along: $(grep 'packets transmitted' "$T_TMP/ping.p")"
check "A->P pinged all along, at most 20% lost (${loss:-?}%)" \
	awk -v l="${loss:-100}" 'BEGIN { exit !(l <= 20) }'

if [[ -n $SOAK ]]; then
	diag "     t    rss_a    rss_b    rss_p   cycles changes rekeys_p (kB)"
	diag "${RSS_ROWS%$'\n'}"
	diag "P's handshakes seen from A after the first: $HS_N, at s:$HS_TIMES"
	check "P rekeyed at least $REKEYS_MIN times ($HS_N)" test "$HS_N" -ge "$REKEYS_MIN"
	diag "VmRSS (kB)  at ${WARMUP}s  max  last  growth"
	for t in a b p; do
		r0=${RSS0[$t]:-} r1=${RSSLAST[$t]:-0}
		diag "  $t  ${r0:-?}  ${RSSMAX[$t]:-?}  $r1  $((r1 - ${r0:-0}))"
		[[ $t == p && $P3_PATH != "$IMPL_PATH" ]] && continue
		name="$t: VmRSS grew at most $RSS_SLACK_KB kB after warm-up"
		check_rss "$name (${r0:-?} -> $r1 kB)" \
			test -n "$r0" -a $((r1 - ${r0:-0})) -le "$RSS_SLACK_KB"
	done
fi

check "both daemons alive" alive
check "A reaches B" ping_ok a "$IN4_B"
check "A reaches P" ping_ok a "$IN4_P"
check "TCP A->B after the churn, sha256" \
	tcp_transfer a b "$IN4_B" 16777216 "$SEED-end-ab" 5221
check "TCP B->A after the churn (IPv6), sha256" \
	tcp_transfer b a "$IN6_A" 16777216 "$SEED-end-ba" 5222

exits() {
	kill -TERM "$1" 2>/dev/null || return 1
	wait_for 10 pid_gone "$1"
}
check "A exits on SIGTERM" exits "$PID_A"
check "B exits on SIGTERM" exits "$PID_B"
check "P exits on SIGTERM" exits "$PID_P"
reports=$(san_reports)
if [[ -n $reports ]]; then
	fail "no sanitizer report" "$(head -c 4000 $reports)"
elif ((SANITIZED)); then
	pass "no sanitizer report (in ${SAN_PATH}.*)"
fi

done_testing
