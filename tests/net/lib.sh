#!/usr/bin/env bash
# Helpers for the network-namespace tests in tests/net/, sourced by each
# scenario script.  Every scenario is parametrized by the implementation
# under test:
#
#   IMPL      the daemon under test (default: the repo's build/cwg)
#   REF_IMPL  the reference daemon for comparisons (default: wireguard-go)
#
# Both follow wireguard-go's command line contract: `IMPL [-f] IFACE`,
# daemonized unless -f or WG_PROCESS_FOREGROUND=1, UAPI socket at
# /var/run/wireguard/IFACE.sock.  Running a scenario with
# IMPL=wireguard-go validates the script itself against a known-good daemon.
#
# Output is TAP.  Everything created here (namespaces, which take their
# veths and tunnels with them, daemons, socket files, temp files) is named
# after this shell's pid and torn down on EXIT/INT/TERM, pass or fail.

# prove(1) runs every tests/net/*.sh it is given, this file included: when
# executed rather than sourced, say so in TAP and leave.
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
	echo "1..0 # SKIP lib.sh is the helper library, not a test"
	exit 0
fi

set -u -o pipefail

# Knobs for one script: NET_KNOBS_NN="NAME=VALUE ..." sets each variable
# for tests/net/NN-*.sh alone, before it reads its knobs. For the knobs
# whose name several scripts give different meanings and defaults
# (CYCLES, UDP_COUNT), when a run (scripts/test.sh's sanitizer passes)
# scales them down.
t_knobs=NET_KNOBS_$(basename "$0" | cut -d- -f1)
for t_kv in ${!t_knobs:-}; do
	if [[ $t_kv == [A-Z_]*=* ]]; then export "$t_kv"; fi
done
unset t_knobs t_kv

NET_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$NET_DIR/../.." && pwd)
WG_RUN_DIR=/var/run/wireguard

# Resolve a command name or path to an absolute path (empty if missing).
t_resolve() {
	local p
	p=$(command -v -- "$1" 2>/dev/null) || return 1
	[[ $p == /* ]] || p="$PWD/$p"
	[[ -x $p ]] || return 1
	printf '%s\n' "$p"
}

IMPL=${IMPL:-$REPO_DIR/build/cwg}
REF_IMPL=${REF_IMPL:-wireguard-go}
IMPL_PATH=$(t_resolve "$IMPL" || true)
REF_PATH=$(t_resolve "$REF_IMPL" || true)

T_ID=$$
T_PFX="cwgt-$T_ID"
T_NUM=0
T_FAILED=0
T_PLANNED=0
T_NAMESPACES=()
T_PIDS=()
T_IFACES=()
T_TMP=""
T_START=$(date +%s.%N)

# ---------------------------------------------------------------- TAP

diag() {
	local line
	while IFS= read -r line; do
		printf '# %s\n' "$line"
	done <<<"$*"
}

pass() {
	T_NUM=$((T_NUM + 1))
	echo "ok $T_NUM - $*"
}

fail() {
	T_NUM=$((T_NUM + 1))
	T_FAILED=$((T_FAILED + 1))
	echo "not ok $T_NUM - $1"
	shift
	[[ $# -gt 0 ]] && diag "$*"
	return 0
}

# check NAME CMD ARGS...: one test point, passing iff CMD exits 0.  The
# command's output is shown as diagnostics when it fails.
check() {
	local name=$1 out rc
	shift
	out=$("$@" 2>&1)
	rc=$?
	if [[ $rc -eq 0 ]]; then
		pass "$name"
		[[ -z $out ]] || diag "$out"
	else
		fail "$name" "command failed (exit $rc): $*"$'\n'"$out"
	fi
	return $rc
}

# check_not NAME CMD ARGS...: passes iff CMD fails.
check_not() {
	local name=$1 out rc
	shift
	out=$("$@" 2>&1)
	rc=$?
	if [[ $rc -ne 0 ]]; then
		pass "$name"
		return 0
	fi
	fail "$name" "command unexpectedly succeeded: $*"$'\n'"$out"
	return 1
}

# check_eq NAME GOT WANT
check_eq() {
	if [[ "$2" == "$3" ]]; then
		pass "$1"
		return 0
	fi
	fail "$1" "got:  '$2'"$'\n'"want: '$3'"
	return 1
}

skip_all() {
	echo "1..0 # SKIP $*"
	T_PLANNED=1
	exit 0
}

# Bail out of the whole script (cleanup still runs): used when a setup step
# fails and nothing after it can mean anything.
bail() {
	fail "setup: $*"
	done_testing
}

done_testing() {
	local t
	t=$(awk -v a="$T_START" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
	diag "$(basename "$0"): $T_NUM tests, $T_FAILED failed, ${t}s (IMPL=$IMPL_PATH)"
	echo "1..$T_NUM"
	T_PLANNED=1
	[[ $T_FAILED -eq 0 && $T_NUM -gt 0 ]] && exit 0
	exit 1
}

# ---------------------------------------------------------------- setup

# require_env [ref]: skip the whole script unless it can run here.  With
# "ref", the reference implementation is needed too.
require_env() {
	[[ $(id -u) -eq 0 ]] || skip_all "needs root"
	[[ -c /dev/net/tun ]] || skip_all "no /dev/net/tun"
	command -v ip >/dev/null || skip_all "no ip(8)"
	command -v wg >/dev/null || skip_all "no wg(8) (wireguard-tools)"
	ip netns list >/dev/null 2>&1 || skip_all "ip netns unavailable"
	local probe="$T_PFX-probe"
	ip netns add "$probe" >/dev/null 2>&1 || skip_all "cannot create a network namespace"
	ip netns del "$probe" >/dev/null 2>&1
	[[ -n $IMPL_PATH ]] || skip_all "implementation not found: $IMPL"
	if [[ ${1:-} == ref ]]; then
		[[ -n $REF_PATH ]] || skip_all "reference implementation not found: $REF_IMPL"
	fi
	local c
	for c in "${T_REQUIRE_CMDS[@]:-}"; do
		[[ -z $c ]] || command -v "$c" >/dev/null || skip_all "missing command: $c"
	done
	T_TMP=$(mktemp -d "/tmp/$T_PFX.XXXXXX")
	mkdir -p "$WG_RUN_DIR"
	trap t_cleanup EXIT
	trap 't_cleanup; exit 130' INT
	trap 't_cleanup; exit 143' TERM
	diag "IMPL=$IMPL_PATH REF_IMPL=${REF_PATH:-none} prefix=$T_PFX"
}

# impl_sanitized: is IMPL built with a sanitizer runtime?
impl_sanitized() {
	grep -aqE '__(asan|tsan|msan)_init' "$IMPL_PATH"
}

# require_tools NAME...: the traffic tools built from tests/tools/, found
# beside IMPL (build-san/tools under SANITIZE), else in build/tools; sets
# TOOLS, and SANITIZED when IMPL is a sanitizer build.
require_tools() {
	local t
	TOOLS=$(dirname "$IMPL_PATH")/tools
	[[ -d $TOOLS ]] || TOOLS=$REPO_DIR/build/tools
	SANITIZED=0
	impl_sanitized && SANITIZED=1
	for t in "$@"; do
		[[ -x $TOOLS/$t ]] || skip_all "missing $TOOLS/$t (make build/tools/$t)"
	done
}

# A daemonized cwg logs to syslog where /dev/log answers. The daemons the
# tests start must not write to the host's syslog, and the tests that read
# their log find it on stderr: in the command's own mount namespace (ip
# netns exec makes one, a slave of the host's), /dev/null covers
# /dev/log, which then refuses connections, and the daemon falls back to
# stderr. 85-syslog.sh sets T_DEVLOG=keep to reach its own /dev/log.
T_DEVLOG=${T_DEVLOG:-hide}
t_devlog() {
	[[ $T_DEVLOG == keep ]] ||
		printf '%s' 'if [[ -e /dev/log ]]; then mount --bind /dev/null /dev/log || exit 1; fi;'
}

# wgquick_prepare: $T_TMP/bin gets a byte-identical copy of the stock
# wg-quick beside an ip(8) wrapper that refuses only `ip link add ... type
# wireguard` (wg-quick puts its own directory first in PATH, so a wrapper
# elsewhere would lose to /usr/bin/ip). wg-quick then takes its userspace
# path even where the kernel has WireGuard; where the module is loaded,
# wgq also hides /sys/module, in the command's own mount namespace.
wgquick_prepare() {
	local real_ip
	real_ip=$(command -v ip)
	mkdir -p "$T_TMP/bin"
	cat >"$T_TMP/bin/ip" <<WRAPPER
#!/bin/bash
# Test wrapper: refuse kernel WireGuard links, pass everything else on.
if [[ \$1 == link && \$2 == add && \${*: -2:1} == type && \${*: -1} == wireguard ]]; then
	echo "cwg test wrapper: kernel WireGuard disabled for this test" >&2
	exit 2
fi
exec $real_ip "\$@"
WRAPPER
	chmod +x "$T_TMP/bin/ip"
	WGQ_STOCK=$(readlink -f "$(command -v wg-quick)")
	cp "$WGQ_STOCK" "$T_TMP/bin/wg-quick" || return 1
	HIDE_MOD=""
	if [[ -e /sys/module/wireguard ]]; then
		HIDE_MOD="mount -t tmpfs cwgt-nomod /sys/module &&"
		diag "kernel wireguard module loaded: hiding /sys/module from wg-quick"
	fi
}

# wgq ARGS...: that wg-quick in namespace a, starting IMPL. Output goes
# to $T_TMP/wg-quick.$1.log: the daemon it starts inherits wg-quick's
# stdout, and a pipe would stay open for the daemon's life.
wgq() {
	ip netns exec "$(ns a)" bash -c "$(t_devlog) $HIDE_MOD exec \"\$@\"" _ \
		env PATH="$T_TMP/bin:$PATH" WG_QUICK_USERSPACE_IMPLEMENTATION="$IMPL_PATH" \
		LOG_LEVEL="${LOG_LEVEL:-error}" timeout 30 "$T_TMP/bin/wg-quick" "$@" \
		>"$T_TMP/wg-quick.$1.log" 2>&1 </dev/null
}

# check_rss NAME CMD...: check, or a TAP skip under a sanitizer, where
# the daemon's RSS is mostly the sanitizer's (shadow memory, quarantine).
check_rss() {
	if ((SANITIZED)); then
		pass "$1 # SKIP sanitizer build"
		return 0
	fi
	check "$@"
}

t_cleanup() {
	local rc=$? ns pid pids=() i
	trap - EXIT INT TERM
	for ns in "${T_NAMESPACES[@]:-}"; do
		[[ -n $ns ]] || continue
		pids+=($(ip netns pids "$ns" 2>/dev/null))
	done
	pids+=("${T_PIDS[@]:-}")
	for pid in "${pids[@]:-}"; do
		[[ -n $pid ]] && kill -TERM "$pid" 2>/dev/null
	done
	for i in $(seq 20); do
		local alive=0
		for pid in "${pids[@]:-}"; do
			[[ -n $pid ]] && kill -0 "$pid" 2>/dev/null && alive=1
		done
		[[ $alive -eq 0 ]] && break
		sleep 0.1
	done
	for pid in "${pids[@]:-}"; do
		[[ -n $pid ]] && kill -KILL "$pid" 2>/dev/null
	done
	for ns in "${T_NAMESPACES[@]:-}"; do
		[[ -n $ns ]] && ip netns del "$ns" 2>/dev/null
	done
	# Sockets of daemons that died without unlinking them.
	# (tags start with a letter, so wg123a* never matches run 1234's files)
	rm -f "$WG_RUN_DIR"/wg"$T_ID"[a-z]*.sock "$WG_RUN_DIR"/wg"$T_ID"[a-z]*.name 2>/dev/null
	[[ -n $T_TMP && -d $T_TMP ]] && rm -rf "$T_TMP"
	if [[ $T_PLANNED -eq 0 ]]; then
		# Died before done_testing: close the TAP stream as a failure.
		echo "not ok $((T_NUM + 1)) - script ended early (exit $rc)"
		echo "1..$((T_NUM + 1))"
		exit 1
	fi
	exit $rc
}

# wait_for TIMEOUT_S CMD ARGS...: poll CMD every 50 ms until it succeeds;
# fails after TIMEOUT_S seconds (fractions allowed).
wait_for() {
	local timeout=$1 deadline
	shift
	deadline=$(awk -v n="$(date +%s.%N)" -v t="$timeout" 'BEGIN { printf "%.3f", n + t }')
	while :; do
		"$@" >/dev/null 2>&1 && return 0
		awk -v n="$(date +%s.%N)" -v d="$deadline" 'BEGIN { exit !(n > d) }' && break
		sleep 0.05
	done
	"$@" >/dev/null 2>&1
}

# ---------------------------------------------------------------- names

# ns NAME: full namespace name for a short tag.
ns() { printf '%s-%s\n' "$T_PFX" "$1"; }

# nsx TAG CMD...: run CMD in namespace TAG.
nsx() {
	local n=$1
	shift
	ip netns exec "$(ns "$n")" "$@"
}

# ifname TAG: a per-run interface name, <= 15 chars, unique in the shared
# /var/run/wireguard directory.
ifname() {
	local n="wg$T_ID$1"
	if [[ $1 != [a-z]* ]]; then
		echo "ifname: tag '$1' must start with a lowercase letter" >&2
		return 1
	fi
	if [[ ${#n} -gt 15 ]]; then
		echo "ifname: '$n' longer than 15 characters" >&2
		return 1
	fi
	printf '%s\n' "$n"
}

# ns_new TAG...: create namespaces with lo up and IPv6 DAD off.
ns_new() {
	local t n
	for t in "$@"; do
		n=$(ns "$t")
		ip netns add "$n" || return 1
		T_NAMESPACES+=("$n")
		ip -n "$n" link set lo up
		ip netns exec "$n" sysctl -qw net.ipv6.conf.all.accept_dad=0 \
			net.ipv6.conf.default.accept_dad=0 || return 1
	done
}

# veth TAG1 IF1 TAG2 IF2 [MTU]: a veth pair between two namespaces, up.
veth() {
	local a b
	a=$(ns "$1")
	b=$(ns "$3")
	ip link add "$2" netns "$a" type veth peer name "$4" netns "$b" || return 1
	if [[ -n ${5:-} ]]; then
		ip -n "$a" link set "$2" mtu "$5" || return 1
		ip -n "$b" link set "$4" mtu "$5" || return 1
	fi
	ip -n "$a" link set "$2" up && ip -n "$b" link set "$4" up
}

# Outer (transport) addresses of the standard pair, documentation ranges.
OUT4_A=192.0.2.1 OUT4_B=192.0.2.2
OUT6_A=2001:db8::1 OUT6_B=2001:db8::2
# Inner (tunnel) addresses.
IN4_A=10.200.0.1 IN4_B=10.200.0.2
IN6_A=fd00:200::1 IN6_B=fd00:200::2

# pair_setup [MTU]: namespaces "a" and "b" joined by veth va <-> vb with
# OUT4_*/OUT6_* addresses.
pair_setup() {
	ns_new a b || return 1
	veth a va b vb "${1:-}" || return 1
	ip -n "$(ns a)" addr add "$OUT4_A/24" dev va &&
	ip -n "$(ns a)" addr add "$OUT6_A/64" dev va nodad &&
	ip -n "$(ns b)" addr add "$OUT4_B/24" dev vb &&
	ip -n "$(ns b)" addr add "$OUT6_B/64" dev vb nodad
}

# ---------------------------------------------------------------- keys

# keypair NAME: writes $T_TMP/NAME.key and $T_TMP/NAME.pub.
keypair() {
	(umask 077 && wg genkey >"$T_TMP/$1.key") && wg pubkey <"$T_TMP/$1.key" >"$T_TMP/$1.pub"
}
pub() { cat "$T_TMP/$1.pub"; }
key() { printf '%s\n' "$T_TMP/$1.key"; }

# ---------------------------------------------------------------- daemons

sock_of() { printf '%s/%s.sock\n' "$WG_RUN_DIR" "$1"; }

# daemon_pid TAG IFACE: pid of the process listening on IFACE's UAPI socket
# (unix sockets are listed per network namespace), else by command line.
daemon_pid() {
	local p
	p=$(nsx "$1" ss -Hxlp 2>/dev/null | awk -v s="$(sock_of "$2")" '
		$5 == s { if (match($0, /pid=[0-9]+/)) { print substr($0, RSTART + 4, RLENGTH - 4); exit } }')
	if [[ -z $p ]]; then
		p=$(pgrep -f -- "(^|/)[^ ]* (-f |--foreground )?$2\$" | head -n1)
	fi
	[[ -n $p ]] || return 1
	printf '%s\n' "$p"
}

# start_impl TAG IFACE [BINARY]: start BINARY (default IMPL) the default
# (daemonizing) way in namespace TAG and wait up to 5 s for its interface and
# socket.  Sets START_PID.  LOG_LEVEL is passed through (default error);
# the log is in $T_TMP/IFACE.log (see t_devlog).
start_impl() {
	local tag=$1 ifc=$2 bin=${3:-$IMPL_PATH} rc
	START_PID=""
	# Never capture the output with $(...): the daemonized child may keep
	# the pipe open for its whole life.
	timeout 10 ip netns exec "$(ns "$tag")" bash -c "$(t_devlog) exec \"\$@\"" _ \
		env LOG_LEVEL="${LOG_LEVEL:-error}" \
		"$bin" "$ifc" >"$T_TMP/$ifc.log" 2>&1 </dev/null
	rc=$?
	if [[ $rc -ne 0 ]]; then
		echo "$bin $ifc exited $rc: $(head -c 2000 "$T_TMP/$ifc.log")" >&2
		return 1
	fi
	T_IFACES+=("$ifc")
	if ! wait_for 5 test -S "$(sock_of "$ifc")" || ! wait_for 5 nsx "$tag" ip link show dev "$ifc"; then
		echo "$bin $ifc: no socket/interface after 5 s" >&2
		return 1
	fi
	wait_for 2 daemon_pid "$tag" "$ifc"
	START_PID=$(daemon_pid "$tag" "$ifc") || { echo "$bin $ifc: no pid found" >&2; return 1; }
	T_PIDS+=("$START_PID")
}

# start_impl_fg TAG IFACE [BINARY]: same, in the foreground (-f), as a
# background job of this shell; output goes to $T_TMP/IFACE.log.
start_impl_fg() {
	local tag=$1 ifc=$2 bin=${3:-$IMPL_PATH}
	ip netns exec "$(ns "$tag")" env LOG_LEVEL="${LOG_LEVEL:-error}" \
		"$bin" -f "$ifc" >"$T_TMP/$ifc.log" 2>&1 </dev/null &
	START_PID=$!
	T_PIDS+=("$START_PID")
	T_IFACES+=("$ifc")
	wait_for 5 test -S "$(sock_of "$ifc")" && wait_for 5 nsx "$tag" ip link show dev "$ifc"
}

# stop_impl TAG IFACE: SIGTERM the daemon, wait up to 3 s for it to go.
stop_impl() {
	local p
	p=$(daemon_pid "$1" "$2") || return 0
	kill -TERM "$p" 2>/dev/null
	wait_for 3 bash -c "! kill -0 $p" || kill -KILL "$p" 2>/dev/null
	wait_for 1 bash -c "! test -e $(sock_of "$2")"
}

pid_gone() { ! kill -0 "$1" 2>/dev/null || [[ $(ps -o stat= -p "$1" 2>/dev/null) == Z* ]]; }

# wg_up TAG IFACE KEYNAME PORT ADDR4/LEN ADDR6/LEN [MTU]: configure a
# running daemon's interface: key, port, addresses, link up.
wg_up() {
	local tag=$1 ifc=$2 k=$3 port=$4 a4=$5 a6=$6 mtu=${7:-}
	nsx "$tag" wg set "$ifc" private-key "$(key "$k")" listen-port "$port" || return 1
	nsx "$tag" ip addr add "$a4" dev "$ifc" || return 1
	nsx "$tag" ip addr add "$a6" dev "$ifc" nodad || return 1
	[[ -z $mtu ]] || nsx "$tag" ip link set "$ifc" mtu "$mtu" || return 1
	nsx "$tag" ip link set "$ifc" up
}

# pair_tunnel IFACE_A PORT_A IFACE_B PORT_B: the standard pair's running
# daemons configured (keys a and b, inner addresses, link up) and peered
# with each other's outer IPv4 endpoint; on failure, prints which step.
pair_tunnel() {
	local ifa=$1 pa=$2 ifb=$3 pb=$4
	if ! wg_up a "$ifa" a "$pa" "$IN4_A/24" "$IN6_A/64" ||
	   ! wg_up b "$ifb" b "$pb" "$IN4_B/24" "$IN6_B/64"; then
		echo "configure interfaces"
		return 1
	fi
	nsx a wg set "$ifa" peer "$(pub b)" endpoint "$OUT4_B:$pb" \
		allowed-ips "$IN4_B/32,$IN6_B/128" || { echo "wg set A"; return 1; }
	nsx b wg set "$ifb" peer "$(pub a)" endpoint "$OUT4_A:$pa" \
		allowed-ips "$IN4_A/32,$IN6_A/128" || { echo "wg set B"; return 1; }
}

# endpoint_of TAG IFACE PEERKEYNAME: the endpoint IFACE holds for a peer.
endpoint_of() {
	nsx "$1" wg show "$2" endpoints | awk -v k="$(pub "$3")" '$1 == k { print $2 }'
}

# ping_ok TAG ADDR [COUNT]: COUNT (default 3) pings within a bounded time;
# succeeds iff all were answered.
ping_ok() {
	local c=${3:-3}
	nsx "$1" timeout $((c + 10)) ping -n -q -c "$c" -i 0.2 -W 2 -w $((c + 5)) "$2" >/dev/null 2>&1 || return 1
}

# ping_some TAG ADDR: at least one of up to 10 pings answered within 10 s
# (for the first packet after a handshake or roam).
ping_some() {
	nsx "$1" timeout 12 ping -n -q -c 1 -i 0.5 -w 10 "$2" >/dev/null 2>&1
}

# ping_within TAG ADDR SECONDS: single pings until one is answered or
# SECONDS passed; prints how long it took.
ping_within() {
	local t0 t1
	t0=$(date +%s.%N)
	if wait_for "$3" nsx "$1" ping -n -q -c 1 -W 1 "$2"; then
		t1=$(date +%s.%N)
		awk -v a="$t0" -v b="$t1" 'BEGIN { printf "answered after %.1f s\n", b - a }'
		return 0
	fi
	echo "no answer within $3 s"
	return 1
}

# stats_to IFACE FILE: cwg's stats=1 answer on IFACE's UAPI socket,
# complete (errno=0); fails for daemons without it.
stats_to() {
	printf 'stats=1\n\n' | timeout 5 ncat -U "$(sock_of "$1")" >"$2" 2>/dev/null
	grep -qx 'errno=0' "$2"
}
# sv FILE KEY: a counter from a stats file (empty if absent).
sv() { awk -F= -v k="$2" '$1 == k { print $2 }' "$1"; }
# delta FILE0 FILE1 KEY: how much KEY grew between two stats files ("?"
# if either lacks it).
delta() {
	local a b
	a=$(sv "$1" "$3") b=$(sv "$2" "$3")
	[[ -n $a && -n $b ]] || { echo "?"; return; }
	echo $((b - a))
}

# ---------------------------------------------------------------- data

# Deterministic pseudo-random bytes: data_gen SEED BYTES.  AES-CTR keyed by
# the printed seed, so a failing transfer can be replayed.
data_gen() {
	local k
	k=$(printf '%s' "$1" | sha256sum | cut -c1-32)
	head -c "$2" /dev/zero | openssl enc -aes-128-ctr -K "$k" -iv 0 -nosalt 2>/dev/null
}

# tcp_transfer SRC_TAG DST_TAG DST_ADDR BYTES SEED [PORT]: send BYTES over
# TCP with ncat; checks byte count and SHA-256 at the receiver.
tcp_transfer() {
	local src=$1 dst=$2 addr=$3 bytes=$4 seed=$5 port=${6:-5001}
	local rx tx lpid want got wantn gotn
	# Unique names: concurrent transfers share $$, and $RANDOM has only
	# 15 bits (two flows of a 30-minute soak collided on one).
	rx=$(mktemp "$T_TMP/rx.XXXXXX") && tx=$(mktemp "$T_TMP/tx.XXXXXX") || return 1
	nsx "$dst" timeout 180 ncat -l --recv-only "$port" \
		| tee >(sha256sum | cut -d' ' -f1 >"$rx.sha") | wc -c >"$rx.n" &
	lpid=$!
	if ! wait_for 5 bash -c "ip netns exec $(ns "$dst") ss -Htln | awk '{print \$4}' | grep -q ':$port\$'"; then
		echo "receiver not listening" >&2
		kill "$lpid" 2>/dev/null
		return 1
	fi
	[[ $addr == *:* ]] && addr="$addr"
	data_gen "$seed" "$bytes" | tee >(sha256sum | cut -d' ' -f1 >"$tx.sha") \
		| nsx "$src" timeout 170 ncat --send-only "$addr" "$port"
	local src_rc=$?
	wait "$lpid"
	# the process substitutions may lag the pipeline's end by a moment
	wait_for 5 test -s "$rx.sha" && wait_for 5 test -s "$tx.sha"
	want=$(cat "$tx.sha" 2>/dev/null) got=$(cat "$rx.sha" 2>/dev/null)
	gotn=$(cat "$rx.n" 2>/dev/null)
	wantn=$bytes
	rm -f "$rx" "$tx" "$rx.sha" "$tx.sha" "$rx.n"
	if [[ $src_rc -ne 0 ]]; then
		echo "sender exited $src_rc" >&2
		return 1
	fi
	if [[ $gotn != "$wantn" ]]; then
		echo "received $gotn bytes, sent $wantn" >&2
		return 1
	fi
	if [[ -z $want || $want != "$got" ]]; then
		echo "sha256 mismatch: sent $want received $got" >&2
		return 1
	fi
	echo "$bytes bytes, sha256 $got"
}

# flood_ping TAG ADDR COUNT: ping -f, succeeds iff 0% loss.
flood_ping() {
	local out
	out=$(nsx "$1" timeout 60 ping -n -q -f -c "$3" -w 50 "$2" 2>&1)
	local rc=$?
	echo "$out" | tail -n 2
	[[ $rc -eq 0 ]] && grep -q " 0% packet loss" <<<"$out"
}
