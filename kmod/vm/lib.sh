# Helpers for the checks in kmod/vm/NN-*.sh, which kmod/vm/run.sh runs
# inside the VM (bash, as root, busybox for the small tools). Sourced by
# each check script.
#
# TAP: one numbering across all the scripts of a run. The driver keeps
# "TESTS FAILED TODO SKIPPED" in $TAP_STATE; every test point updates
# it, so a script that dies still leaves the count right.
#
# Implementations ("IMPL") of a WireGuard interface, so every check runs
# against any of them:
#   kmod   the module under test: /cwg.ko (KMOD_MODULE=cwg, the default),
#          or Debian's own wireguard.ko (KMOD_MODULE=intree), which proves
#          the checks' kernel paths while cwg.ko has no link kind yet;
#          interfaces are `ip link add NAME type wireguard`;
#   cwg    this tree's userspace daemon (build/cwg, /usr/local/bin/cwg);
#   wggo   Debian's wireguard-go.
# The two userspace ones are also the stand-ins: each script names the
# subjects it runs with the module (kmod:kmod, kmod:cwg, ...) and the
# userspace subjects it runs instead while the module cannot (VARIANTS).
#
# Everything a script creates (namespaces, which take their interfaces
# with them, daemons, files) is named after its pid and removed on exit,
# pass or fail.

set -u -o pipefail

T_SCRIPT=$(basename "$0" .sh)
TAP_STATE=${TAP_STATE:-/tmp/tap.state}
T_ID=$$
T_TMP=/tmp/t$T_ID
T_NAMESPACES=()
KLOG=/tmp/kern.log
VARIANTS=${VARIANTS:-auto}
KMOD_MODULE=${KMOD_MODULE:-cwg}
LOG_LEVEL=${LOG_LEVEL:-error}
export LOG_LEVEL
# The driver (run.sh) sources this file for SPLAT and klog alone.
[ -n "${T_DRIVER:-}" ] || mkdir -p "$T_TMP" /run/wireguard

# ---------------------------------------------------------------- TAP

read -r T_N T_FAILED T_TODO T_SKIP <"$TAP_STATE" 2>/dev/null || {
	T_N=0 T_FAILED=0 T_TODO=0 T_SKIP=0
}
t_save() { echo "$T_N $T_FAILED ${T_TODO:-0} ${T_SKIP:-0}" >"$TAP_STATE"; }

diag() {
	local line
	while IFS= read -r line; do
		printf '# %s\n' "$line"
	done <<<"$*"
}

# ok STATUS DESCRIPTION [DIAG]: a test point, passing iff STATUS is 0;
# DIAG is printed when it fails.
ok() {
	T_N=$((T_N + 1))
	if [ "$1" = 0 ]; then
		echo "ok $T_N - $2"
	else
		T_FAILED=$((T_FAILED + 1))
		echo "not ok $T_N - $2"
		[ -z "${3:-}" ] || diag "$3"
	fi
	t_save
	return "$1"
}

# todo STATUS DESCRIPTION WHY: a test point for a known fault that is not
# the module's (TAP's TODO): reported, not counted as a failure.
todo() {
	T_N=$((T_N + 1)) T_TODO=$((${T_TODO:-0} + 1))
	if [ "$1" = 0 ]; then
		echo "ok $T_N - $2 # TODO $3"
	else
		echo "not ok $T_N - $2 # TODO $3"
	fi
	t_save
}

# skip DESCRIPTION REASON: a test point that could not run.
skip() {
	T_N=$((T_N + 1)) T_SKIP=$((${T_SKIP:-0} + 1))
	echo "ok $T_N - $1 # SKIP $2"
	t_save
}

# check DESCRIPTION CMD ARGS...: passes iff CMD exits 0; its output is
# printed as diagnostics when it fails.
check() {
	local d=$1 out rc
	shift
	out=$("$@" 2>&1)
	rc=$?
	ok $rc "$d" "$(printf 'command (exit %s): %s\n%s' "$rc" "$*" "$out")"
	[ $rc != 0 ] || [ -z "$out" ] || diag "$out"
	return $rc
}

# check_not DESCRIPTION CMD ARGS...: passes iff CMD fails.
check_not() {
	local d=$1 out rc
	shift
	out=$("$@" 2>&1)
	rc=$?
	[ $rc -ne 0 ]
	ok $? "$d" "$(printf 'command succeeded: %s\n%s' "$*" "$out")"
}

# is DESCRIPTION GOT WANT
is() {
	[ "$2" = "$3" ]
	ok $? "$1" "$(printf 'got:  %s\nwant: %s' "$2" "$3")"
}

# bail WHY: a set-up step failed: one failing test point, and the script
# ends (its cleanup runs).
bail() {
	ok 1 "$T_SCRIPT: set-up: $*"
	exit 1
}

# ---------------------------------------------------------------- time

now() { cut -d' ' -f1 /proc/uptime; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# wait_for SECONDS CMD ARGS...: CMD every 0.1 s until it succeeds;
# fails after SECONDS.
wait_for() {
	local end
	end=$(awk -v n="$(now)" -v t="$1" 'BEGIN { print n + t }')
	shift
	while :; do
		"$@" >/dev/null 2>&1 && return 0
		awk -v n="$(now)" -v e="$end" 'BEGIN { exit !(n > e) }' && break
		sleep 0.1
	done
	"$@" >/dev/null 2>&1
}

# ---------------------------------------------------------------- kernel log

# klog: the kernel's new messages appended to $KLOG (dmesg -c), which the
# driver reads for splats after each script.
klog() { dmesg -c >>"$KLOG"; }
# shellcheck disable=SC2034 # for the driver
SPLAT='WARNING:|BUG:|Oops|Call Trace|general protection|refcount_t|lockdep|possible recursive|circular locking|UBSAN|KASAN|kernel BUG|stack-protector|list_add corruption|list_del corruption|scheduling while atomic|sleeping function called|page allocation failure|unregister_netdevice: waiting'

# ---------------------------------------------------------------- modules

# modules_load LIST: insmod each module of /LIST not loaded yet.
modules_load() {
	local m name bad=0
	for m in $(cat "/$1"); do
		name=${m##*/}
		name=${name%.ko}
		grep -q "^${name//-/_} " /proc/modules && continue
		insmod "$m" || bad=1
	done
	return $bad
}
net_modules() { modules_load modules-net.list; }

# The module behind IMPL=kmod.
if [ "$KMOD_MODULE" = intree ]; then
	KMOD_NAME=wireguard KMOD_LABEL=wireguard.ko
else
	KMOD_NAME=cwg KMOD_LABEL=cwg.ko
fi
kmod_loaded() { grep -q "^$KMOD_NAME " /proc/modules; }
kmod_load() {
	kmod_loaded && return 0
	if [ "$KMOD_MODULE" = intree ]; then
		modules_load modules-intree.list
	else
		modules_load modules.list && insmod /cwg.ko
	fi
}
kmod_unload() { ! kmod_loaded || rmmod "$KMOD_NAME"; }

# kmod_avail: can IMPL=kmod run here? The answer is kept for the run in
# /tmp/kmod.avail: "yes"; "skip: WHY" while the module lacks a part of
# stage 2 (the link kind: `ip link add` says "Unknown device type"; or
# the generic-netlink family: wg says "Protocol not supported"); "fail:
# WHY" when it is broken otherwise (it does not load, `ip link add` or
# `wg show` fail another way), which subjects() reports as a failure: a
# broken module must not pass for one that is not there yet.
kmod_avail() {
	local out
	if [ ! -f /tmp/kmod.avail ]; then
		if ! out=$(kmod_load 2>&1); then
			echo "fail: $KMOD_LABEL does not load: $out"
		elif ! out=$(ip link add cwgprobe0 type wireguard 2>&1); then
			case $out in
			*"Unknown device type"*) echo "skip: $KMOD_LABEL has no link kind \"wireguard\" yet (ip link add: $out)" ;;
			*) echo "fail: ip link add type wireguard with $KMOD_LABEL loaded: $out" ;;
			esac
		elif ! out=$(wg show cwgprobe0 2>&1); then
			ip link del cwgprobe0
			case $out in
			*"Protocol not supported"*) echo "skip: $KMOD_LABEL has no \"wireguard\" generic netlink family yet (wg show: $out)" ;;
			*) echo "fail: wg show on a $KMOD_LABEL link: $out" ;;
			esac
		else
			ip link del cwgprobe0
			echo yes
		fi >/tmp/kmod.avail
	fi
	# An earlier check may have removed it.
	[ "$(cat /tmp/kmod.avail)" = yes ] && kmod_load
}
kmod_why() { sed 's/^[a-z]*: //' /tmp/kmod.avail; }

# ---------------------------------------------------------------- subjects

# label IMPL: how TAP lines name an implementation.
label() {
	case $1 in
	kmod) echo "$KMOD_LABEL" ;;
	cwg) echo cwg ;;
	wggo) echo wireguard-go ;;
	*) echo "$1" ;;
	esac
}
# slabel SUBJECT: "kmod:cwg" -> "cwg.ko/cwg".
slabel() {
	local s=$1 out="" i
	for i in ${s//:/ }; do out+="${out:+/}$(label "$i")"; done
	echo "$out"
}

# subjects "KMOD SUBJECTS" "STAND-IN SUBJECTS": which subjects (one IMPL,
# or IMPL:IMPL) this script runs, into SUBJECTS, by VARIANTS:
#   auto     the module's when it can run, else the stand-ins'
#   kmod     the module's only
#   standin  the stand-ins' only
#   all      both
# A module subject that cannot run is one SKIP line with the reason, or
# a failure when the module is broken (kmod_avail).
subjects() {
	local s k=0 st=0
	SUBJECTS=()
	case $VARIANTS in
	auto) k=1 ;;
	kmod) k=1 ;;
	standin) st=1 ;;
	all) k=1 st=1 ;;
	esac
	if ((k)); then
		if kmod_avail; then
			for s in $1; do SUBJECTS+=("$s"); done
		else
			for s in $1; do
				if grep -q '^fail:' /tmp/kmod.avail; then
					ok 1 "$T_SCRIPT [$(slabel "$s")]: $(kmod_why)"
				else
					skip "$T_SCRIPT [$(slabel "$s")]" "$(kmod_why)"
				fi
			done
			[ "$VARIANTS" = auto ] && st=1
		fi
	fi
	if ((st)); then
		for s in $2; do SUBJECTS+=("$s"); done
	fi
}

# ---------------------------------------------------------------- namespaces

# ns TAG: this script's namespace TAG.
ns() { echo "vm$T_ID$1"; }
nsx() {
	local n=$1
	shift
	ip netns exec "$(ns "$n")" "$@"
}

# ns_new TAG...: namespaces with lo up and IPv6 DAD off.
ns_new() {
	local t n
	for t in "$@"; do
		n=$(ns "$t")
		ip netns add "$n" || return 1
		T_NAMESPACES+=("$n")
		ip -n "$n" link set lo up || return 1
		nsx "$t" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 || return 1
	done
}
ns_del() {
	local t n p
	for t in "$@"; do
		n=$(ns "$t")
		for p in $(ip netns pids "$n" 2>/dev/null); do kill -TERM "$p" 2>/dev/null; done
		ip netns del "$n" 2>/dev/null
	done
}

# veth TAG1 IF1 TAG2 IF2: a veth pair between two namespaces, up.
veth() {
	ip link add "$2" netns "$(ns "$1")" type veth peer name "$4" netns "$(ns "$3")" &&
		ip -n "$(ns "$1")" link set "$2" up && ip -n "$(ns "$3")" link set "$4" up
}

# The outer (transport) addresses of the standard pair, and the inner
# (tunnel) ones; documentation and ULA ranges.
# shellcheck disable=SC2034 # for the scripts
OUT4_A=192.0.2.1 OUT4_B=192.0.2.2
OUT6_A=2001:db8::1 OUT6_B=2001:db8::2
# shellcheck disable=SC2034
IN4_A=10.200.0.1 IN4_B=10.200.0.2
# shellcheck disable=SC2034
IN6_A=fd00:200::1 IN6_B=fd00:200::2

# pair_setup [A B]: namespaces A and B (a and b), veth va <-> vb, the
# OUT addresses.
pair_setup() {
	local a=${1:-a} b=${2:-b}
	ns_new "$a" "$b" && veth "$a" va "$b" vb &&
		ip -n "$(ns "$a")" addr add "$OUT4_A/24" dev va &&
		ip -n "$(ns "$a")" addr add "$OUT6_A/64" dev va nodad &&
		ip -n "$(ns "$b")" addr add "$OUT4_B/24" dev vb &&
		ip -n "$(ns "$b")" addr add "$OUT6_B/64" dev vb nodad
}

t_cleanup() {
	local rc=$? n p
	trap - EXIT INT TERM
	for n in "${T_NAMESPACES[@]:-}"; do
		[ -n "$n" ] || continue
		for p in $(ip netns pids "$n" 2>/dev/null); do kill -TERM "$p" 2>/dev/null; done
	done
	for n in "${T_NAMESPACES[@]:-}"; do
		[ -n "$n" ] && ip netns del "$n" 2>/dev/null
	done
	rm -f /run/wireguard/wg"$T_ID"[a-z]*.sock
	rm -rf "$T_TMP"
	exit $rc
}
if [ -z "${T_DRIVER:-}" ]; then
	trap t_cleanup EXIT
	trap 'exit 143' TERM
	trap 'exit 130' INT
fi

# ---------------------------------------------------------------- keys

# keypair NAME: $T_TMP/NAME.key and NAME.pub.
keypair() {
	local k
	for k in "$@"; do
		(umask 077 && wg genkey >"$T_TMP/$k.key") && wg pubkey <"$T_TMP/$k.key" >"$T_TMP/$k.pub" || return 1
	done
}
pub() { cat "$T_TMP/$1.pub"; }
key() { echo "$T_TMP/$1.key"; }

# ---------------------------------------------------------------- interfaces

# ifname TAG: an interface name unique in the VM (the userspace daemons'
# UAPI sockets share /run/wireguard across namespaces).
ifname() { echo "wg$T_ID$1"; }

# wg_add NS IFACE IMPL: a WireGuard interface IFACE in namespace NS.
wg_add() {
	local n=$1 ifc=$2 impl=$3 bin
	case $impl in
	kmod) ip -n "$(ns "$n")" link add "$ifc" type wireguard || return 1 ;;
	cwg | wggo)
		bin=cwg
		[ "$impl" = wggo ] && bin=wireguard-go
		nsx "$n" "$bin" "$ifc" >"$T_TMP/$ifc.log" 2>&1 </dev/null || {
			echo "$bin $ifc failed: $(cat "$T_TMP/$ifc.log")" >&2
			return 1
		}
		wait_for 10 test -S "/run/wireguard/$ifc.sock" || {
			echo "$bin $ifc: no UAPI socket" >&2
			return 1
		}
		;;
	*)
		echo "wg_add: unknown IMPL $impl" >&2
		return 1
		;;
	esac
	wait_for 5 ip -n "$(ns "$n")" link show dev "$ifc"
}

# daemon_of IFACE: the pid of the userspace daemon serving IFACE.
daemon_of() {
	local p
	for p in $(pidof cwg wireguard-go 2>/dev/null); do
		tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -qE "(^| )$1 ?$" && echo "$p"
	done
}

# wg_del NS IFACE IMPL: delete it; for a userspace daemon, also wait for
# it to go (and kill it after 5 s).
wg_del() {
	local n=$1 ifc=$2 impl=$3 p
	p=$(daemon_of "$ifc")
	ip -n "$(ns "$n")" link del "$ifc" || return 1
	case $impl in
	cwg | wggo)
		if [ -n "$p" ] && ! wait_for 5 bash -c "! kill -0 $p"; then
			kill -KILL $p 2>/dev/null
			echo "$impl daemon $p for $ifc still running 5 s after the link went" >&2
			return 1
		fi
		;;
	esac
	return 0
}

# wg_up NS IFACE IMPL KEYNAME PORT ADDR4/LEN ADDR6/LEN: an interface,
# keyed, listening on PORT, addressed and up.
wg_up() {
	local n=$1 ifc=$2 impl=$3 k=$4 port=$5 a4=$6 a6=$7
	wg_add "$n" "$ifc" "$impl" || return 1
	nsx "$n" wg set "$ifc" private-key "$(key "$k")" listen-port "$port" || return 1
	ip -n "$(ns "$n")" addr add "$a4" dev "$ifc" || return 1
	ip -n "$(ns "$n")" addr add "$a6" dev "$ifc" nodad || return 1
	ip -n "$(ns "$n")" link set "$ifc" up
}

# endpoint_of NS IFACE PEERKEY: the endpoint IFACE has for that peer.
endpoint_of() {
	nsx "$1" wg show "$2" endpoints | awk -v k="$(pub "$3")" '$1 == k { print $2 }'
}
# handshake_of NS IFACE PEERKEY: its latest handshake (0: none).
handshake_of() {
	nsx "$1" wg show "$2" latest-handshakes | awk -v k="$(pub "$3")" '$1 == k { print $2 }'
}

# ---------------------------------------------------------------- traffic

# ping_ok NS ADDR [COUNT]: COUNT (3) pings, all answered.
ping_ok() {
	nsx "$1" ping -q -c "${3:-3}" -i 0.2 -W 2 -w $((${3:-3} + 8)) "$2" >/dev/null 2>&1
}
# ping_some NS ADDR [SECONDS]: one answer within SECONDS (10), for the
# first packets that wait for a handshake: a ping a second until one is
# answered within the second.
ping_some() {
	wait_for "${3:-10}" nsx "$1" ping -q -c 1 -W 1 "$2"
}

# data BYTES: a file of BYTES random bytes, made once per size.
data() {
	local f=/tmp/data.$1
	[ -s "$f" ] || head -c "$1" /dev/urandom >"$f"
	echo "$f"
}

# xfer SRC DST ADDR BYTES [PORT]: BYTES over TCP from namespace SRC to
# ADDR:PORT (5001) in namespace DST (busybox nc listening, bash's
# /dev/tcp sending). Passes iff the receiver got exactly the bytes sent:
# the byte counts and the SHA-256 of what was sent and what arrived are
# compared. Prints what it measured. At most XFER_TIMEOUT seconds.
xfer() {
	local src=$1 dst=$2 addr=$3 bytes=$4 port=${5:-5001}
	local f rx lpid t0 t want got n rc
	f=$(data "$bytes")
	rx=$(mktemp "$T_TMP/rx.XXXXXX")
	# Every descriptor redirected: a caller capturing our output ($(...))
	# must not wait for the listener.
	ip netns exec "$(ns "$dst")" timeout $((XFER_TIMEOUT + 5)) nc -l -p "$port" >"$rx" 2>/dev/null </dev/null &
	lpid=$!
	if ! wait_for 5 bash -c "ip netns exec $(ns "$dst") netstat -ltn | grep -q ':$port '"; then
		echo "receiver not listening on $port"
		kill "$lpid" 2>/dev/null
		return 1
	fi
	t0=$(now)
	nsx "$src" timeout "$XFER_TIMEOUT" bash -c 'cat "$1" >"/dev/tcp/$2/$3"' _ "$f" "$addr" "$port"
	rc=$?
	wait "$lpid"
	t=$(since "$t0")
	want=$(sha256sum <"$f" | cut -d' ' -f1)
	got=$(sha256sum <"$rx" | cut -d' ' -f1)
	n=$(wc -c <"$rx")
	rm -f "$rx"
	echo "$n of $bytes bytes in $t s ($(awk -v n="$n" -v t="$t" 'BEGIN { printf "%.0f", (t > 0 ? n / t / 1024 : 0) }') KiB/s), sha256 sent ${want:0:16}.. received ${got:0:16}.."
	[ $rc = 0 ] || {
		echo "sender exited $rc"
		return 1
	}
	[ "$n" = "$bytes" ] && [ "$want" = "$got" ]
}

# An xfer's default size: a few MB, small enough for TCG; and how long it
# may take.
BYTES=${BYTES:-2000000}
XFER_TIMEOUT=${XFER_TIMEOUT:-60}
