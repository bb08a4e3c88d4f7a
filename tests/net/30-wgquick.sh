#!/usr/bin/env bash
# Scenario 30: stock wg-quick brings IMPL up and down from a config file
# with Address (v4 and v6), ListenPort, MTU, PostUp/PostDown and a peer with
# AllowedIPs = 0.0.0.0/0, ::/0, which makes wg-quick take its fwmark policy
# routing path.  Traffic must flow through the tunnel, and after
# `wg-quick down` no daemon, socket file or interface may be left.
#
# Forcing the userspace path: wg-quick runs WG_QUICK_USERSPACE_IMPLEMENTATION
# only when `ip link add IFACE type wireguard` fails AND /sys/module/wireguard
# does not exist.  So:
#  - a wrapper `ip` fails exactly `ip link add ... type wireguard` and execs
#    the real ip for everything else.  wg-quick puts its own directory
#    (after readlink -f) first in PATH, so a wrapper merely first in PATH
#    loses to /usr/bin/ip: the test runs a byte-identical copy of the stock
#    wg-quick from the wrapper's directory instead (checked with cmp);
#  - when the kernel has the wireguard module loaded, an empty tmpfs is
#    mounted over /sys/module inside the mount namespace that `ip netns
#    exec` creates for that one command (it vanishes with it).
# The test checks that the wrapper refused the kernel link, that wg-quick
# said it fell back to userspace, and that the process behind the UAPI
# socket is IMPL.

. "$(dirname "$0")/lib.sh"
T_REQUIRE_CMDS=(wg-quick ncat openssl ping ss timeout)
require_env

SEED=${SEED:-$RANDOM$RANDOM}
BYTES=${BYTES:-20971520}
diag "seed=$SEED bytes=$BYTES"

# is_impl PID: PID runs IMPL. The file itself is compared (-ef: device
# and inode), not the text of /proc/PID/exe: in a chroot, that link of a
# daemon in another mount namespace (ip netns exec makes one) reads as
# the path from that namespace's root, chroot directory included, which
# does not resolve inside the chroot.
is_impl() {
	[[ -n $1 && /proc/$1/exe -ef $IMPL_PATH ]] && return 0
	echo "pid '$1': exe '$(readlink "/proc/${1:-0}/exe" 2>/dev/null)', not $IMPL_PATH"
	return 1
}

# no_impl_in TAG: no process in namespace TAG runs IMPL.
no_impl_in() {
	local p
	for p in $(ip netns pids "$(ns "$1")"); do
		! is_impl "$p" >/dev/null || { echo "pid $p is IMPL"; return 1; }
	done
}

pair_setup || bail "namespaces and veth"
keypair a && keypair b || bail "keys"
IFQ=$(ifname q) IFB=$(ifname b)
PA=51820 PB=51821

wgquick_prepare || bail "copy wg-quick"
check "wg-quick copy is byte-identical to $WGQ_STOCK" cmp "$WGQ_STOCK" "$T_TMP/bin/wg-quick"

# The far side, configured by hand.
start_impl b "$IFB" || bail "start $IMPL_PATH in b"
wg_up b "$IFB" b $PB "$IN4_B/24" "$IN6_B/64" || bail "configure b"
nsx b wg set "$IFB" peer "$(pub a)" allowed-ips "$IN4_A/32,$IN6_A/128" || bail "b peer"

mkdir -p "$T_TMP/q"
CONF="$T_TMP/q/$IFQ.conf"
(umask 077 && cat >"$CONF") <<EOF
[Interface]
PrivateKey = $(cat "$(key a)")
Address = $IN4_A/24, $IN6_A/64
ListenPort = $PA
MTU = 1380
PostUp = echo "up %i" >$T_TMP/postup
PostDown = echo "down %i" >$T_TMP/postdown

[Peer]
PublicKey = $(pub b)
Endpoint = $OUT4_B:$PB
AllowedIPs = 0.0.0.0/0, ::/0
EOF

wgq up "$CONF"
rc=$?
log=$(cat "$T_TMP/wg-quick.up.log")
if [[ $rc -eq 0 ]]; then pass "wg-quick up $IFQ.conf"; else fail "wg-quick up $IFQ.conf (exit $rc)" "$log"; fi
diag "$log"
check "wg-quick took the userspace path" grep -q "userspace implementation" <<<"$log"
check "the wrapper refused the kernel link" grep -q "cwg test wrapper" <<<"$log"
pid=$(daemon_pid a "$IFQ")
[[ -n $pid ]] && T_PIDS+=("$pid")
check "the daemon behind the socket is IMPL" is_impl "$pid"

check_eq "ListenPort applied" "$(nsx a wg show "$IFQ" listen-port)" $PA
check_eq "MTU applied" "$(nsx a cat /sys/class/net/"$IFQ"/mtu 2>/dev/null)" 1380
check "IPv4 Address applied" bash -c "ip -n $(ns a) -4 addr show dev $IFQ | grep -q 'inet $IN4_A/24'"
check "IPv6 Address applied" bash -c "ip -n $(ns a) -6 addr show dev $IFQ | grep -q 'inet6 $IN6_A/64'"
check_eq "PostUp ran with %i substituted" "$(cat "$T_TMP/postup" 2>/dev/null)" "up $IFQ"
check_eq "fwmark set by wg-quick (51820)" "$(nsx a wg show "$IFQ" fwmark)" 0xca6c
check "IPv4 policy rule installed" bash -c "ip -n $(ns a) -4 rule | grep -q 'not from all fwmark 0xca6c lookup 51820'"
check "IPv6 policy rule installed" bash -c "ip -n $(ns a) -6 rule | grep -q 'not from all fwmark 0xca6c lookup 51820'"
check "unmarked IPv4 goes into the tunnel" bash -c "ip -n $(ns a) route get 198.51.100.7 | grep -q 'dev $IFQ'"
check "unmarked IPv6 goes into the tunnel" bash -c "ip -n $(ns a) -6 route get 2001:db8:1::7 | grep -q 'dev $IFQ'"
check "marked (tunnel) packets go out the veth" bash -c "ip -n $(ns a) route get $OUT4_B mark 0xca6c | grep -q 'dev va'"

check "ping inner IPv4 through the tunnel" ping_some a "$IN4_B" &&
	check "... then all of 5" ping_ok a "$IN4_B" 5
check "ping inner IPv6 through the tunnel" ping_ok a "$IN6_B"
check_eq "far side sees the tunnel from $OUT4_A:$PA" "$(endpoint_of b "$IFB" a)" "$OUT4_A:$PA"
check "far side pings back" ping_ok b "$IN4_A"
check "TCP $BYTES bytes through the tunnel, sha256" \
	tcp_transfer a b "$IN4_B" "$BYTES" "$SEED" 5002
tx=$(nsx a wg show "$IFQ" transfer | awk '{ print $3 }')
check "transfer counter shows the bytes sent (${tx:-0})" test "${tx:-0}" -gt "$BYTES"

wgq down "$CONF"
rc=$?
if [[ $rc -eq 0 ]]; then pass "wg-quick down"; else fail "wg-quick down (exit $rc)" "$(cat "$T_TMP/wg-quick.down.log")"; fi
diag "$(cat "$T_TMP/wg-quick.down.log")"
check_eq "PostDown ran" "$(cat "$T_TMP/postdown" 2>/dev/null)" "down $IFQ"
check "daemon exited within 3 s" wait_for 3 pid_gone "${pid:-0}"
check "socket file removed" wait_for 3 bash -c "! test -e $(sock_of "$IFQ")"
check "interface gone" wait_for 3 bash -c "! ip -n $(ns a) link show dev $IFQ"
check "policy rules gone" bash -c "! ip -n $(ns a) rule | grep -q 'lookup 51820' && ! ip -n $(ns a) -6 rule | grep -q 'lookup 51820'"
check "no process of IMPL left in the namespace" no_impl_in a
check_not "tunnel unusable after down" nsx a timeout 5 ping -n -q -c 1 -W 1 "$IN4_B"

done_testing
