#!/usr/bin/env bash
# Demo (`sudo make demo`): a WireGuard tunnel between two network
# namespaces, each end brought up by stock wg-quick running cwg through
# WG_QUICK_USERSPACE_IMPLEMENTATION.  Shows ping, a 3 s iperf3 throughput
# figure and `wg show`, then tears everything down, also on failure or ^C.
#
#   IMPL=wireguard-go scripts/demo.sh    # same demo with another daemon
#   CWG_DEMO_FORCE_USERSPACE=1           # take the forcing path below always
#
# wg-quick only falls back to the userspace daemon when the kernel has no
# WireGuard.  Where it has, the demo runs a byte-identical copy of wg-quick
# from a private directory holding an `ip` wrapper that refuses exactly
# `ip link add ... type wireguard` (wg-quick puts its own directory first in
# PATH), with /sys/module hidden by a tmpfs in the command's own mount
# namespace, so wg-quick takes the userspace path and starts IMPL.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
IMPL=${IMPL:-$REPO/build/cwg}

if [[ $(id -u) -ne 0 ]]; then
	echo "demo: needs root (sudo make demo)" >&2
	exit 1
fi

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

# ------------------------------------------------------------ dependencies
# scripts/packages.txt: the demo profile, and the build one when cwg is
# still to be built.
BUILD_CWG=0
[[ $IMPL == "$REPO/build/cwg" && ! -x $IMPL ]] && BUILD_CWG=1
if ((BUILD_CWG)); then
	"$REPO/scripts/deps.sh" demo build
else
	"$REPO/scripts/deps.sh" demo
fi
if ((BUILD_CWG)); then
	say "building cwg"
	make -C "$REPO" -j"$(nproc)" build/cwg
fi
IMPL_PATH=$(command -v "$IMPL" || true)
if [[ -z $IMPL_PATH || ! -x $IMPL_PATH ]]; then
	echo "demo: implementation not found: $IMPL" >&2
	exit 1
fi
[[ $IMPL_PATH == /* ]] || IMPL_PATH="$PWD/$IMPL_PATH"

# ------------------------------------------------------------ setup
ID=$$
NSA="cwgdemo-$ID-a" NSB="cwgdemo-$ID-b"
IFA="wgd${ID}a" IFB="wgd${ID}b"
TMP=$(mktemp -d "/tmp/cwgdemo.XXXXXX")
IPERF_PID=""

cleanup() {
	local rc=$? p
	trap - EXIT INT TERM
	set +e
	say "tearing down"
	[[ -f $TMP/$IFA.conf ]] && wgq "$NSA" down "$TMP/$IFA.conf" 2>/dev/null
	[[ -f $TMP/$IFB.conf ]] && wgq "$NSB" down "$TMP/$IFB.conf" 2>/dev/null
	[[ -n $IPERF_PID ]] && kill "$IPERF_PID" 2>/dev/null
	for n in "$NSA" "$NSB"; do
		for p in $(ip netns pids "$n" 2>/dev/null); do kill "$p" 2>/dev/null; done
	done
	sleep 0.5
	for n in "$NSA" "$NSB"; do
		for p in $(ip netns pids "$n" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
		ip netns del "$n" 2>/dev/null
	done
	rm -f "/var/run/wireguard/$IFA.sock" "/var/run/wireguard/$IFB.sock"
	rm -rf "$TMP"
	echo "done"
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

ip netns add "$NSA"
ip netns add "$NSB"
for n in "$NSA" "$NSB"; do
	ip -n "$n" link set lo up
	ip netns exec "$n" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
done
ip link add va netns "$NSA" type veth peer name vb netns "$NSB"
ip -n "$NSA" addr add 192.0.2.1/24 dev va
ip -n "$NSB" addr add 192.0.2.2/24 dev vb
ip -n "$NSA" link set va up
ip -n "$NSB" link set vb up

# Does the kernel have WireGuard?  Then force wg-quick onto the userspace path.
FORCE=${CWG_DEMO_FORCE_USERSPACE:-0}
if [[ $FORCE == 1 || -e /sys/module/wireguard ]] || ip -n "$NSA" link add wgprobe type wireguard 2>/dev/null; then
	ip -n "$NSA" link del wgprobe 2>/dev/null || true
	FORCE=1
	mkdir -p "$TMP/bin"
	cp "$(readlink -f "$(command -v wg-quick)")" "$TMP/bin/wg-quick"
	cat >"$TMP/bin/ip" <<EOF
#!/bin/bash
if [[ \$1 == link && \$2 == add && \${*: -2:1} == type && \${*: -1} == wireguard ]]; then
	echo "demo: kernel WireGuard refused, so wg-quick uses $IMPL_PATH" >&2
	exit 2
fi
exec $(command -v ip) "\$@"
EOF
	chmod +x "$TMP/bin/ip"
fi

# wgq NS up|down CONF: wg-quick in a namespace, running IMPL.
wgq() {
	local n=$1
	shift
	if [[ $FORCE -eq 1 ]]; then
		ip netns exec "$n" bash -c '[[ -e /sys/module/wireguard ]] && mount -t tmpfs none /sys/module; exec "$@"' _ \
			env PATH="$TMP/bin:$PATH" WG_QUICK_USERSPACE_IMPLEMENTATION="$IMPL_PATH" \
			"$TMP/bin/wg-quick" "$@"
	else
		ip netns exec "$n" env WG_QUICK_USERSPACE_IMPLEMENTATION="$IMPL_PATH" wg-quick "$@"
	fi
}

KA=$(wg genkey) KB=$(wg genkey)
umask 077
cat >"$TMP/$IFA.conf" <<EOF
[Interface]
PrivateKey = $KA
Address = 10.200.0.1/24, fd00:200::1/64
ListenPort = 51820

[Peer]
PublicKey = $(wg pubkey <<<"$KB")
Endpoint = 192.0.2.2:51820
AllowedIPs = 10.200.0.2/32, fd00:200::2/128
EOF
cat >"$TMP/$IFB.conf" <<EOF
[Interface]
PrivateKey = $KB
Address = 10.200.0.2/24, fd00:200::2/64
ListenPort = 51820

[Peer]
PublicKey = $(wg pubkey <<<"$KA")
Endpoint = 192.0.2.1:51820
AllowedIPs = 10.200.0.1/32, fd00:200::1/128
EOF
umask 022

# ------------------------------------------------------------ demo
say "wg-quick up in $NSA and $NSB with $IMPL_PATH"
wgq "$NSA" up "$TMP/$IFA.conf"
wgq "$NSB" up "$TMP/$IFB.conf"

say "ping through the tunnel"
ip netns exec "$NSA" ping -c 3 -i 0.3 -w 10 10.200.0.2
ip netns exec "$NSA" ping -c 3 -i 0.3 -w 10 fd00:200::2

say "iperf3, 3 seconds, $NSA -> $NSB through the tunnel"
ip netns exec "$NSB" iperf3 -s -1 -B 10.200.0.2 >/dev/null 2>&1 &
IPERF_PID=$!
for _ in $(seq 50); do
	ip netns exec "$NSB" ss -Htln 2>/dev/null | grep -q ':5201 ' && break
	sleep 0.1
done
ip netns exec "$NSA" timeout 30 iperf3 -c 10.200.0.2 -t 3 -f m

say "wg show"
ip netns exec "$NSA" wg show "$IFA"
echo
ip netns exec "$NSB" wg show "$IFB"
