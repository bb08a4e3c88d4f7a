#!/usr/bin/env bash
# Scenario 43: an interface that is down sends nothing.
#
# The kernel's module stops a peer's timers while its interface is down
# (kmod/vm/40-show checks Debian's wireguard.ko and cwg.ko so);
# cwg's daemon ticked regardless and sent a handshake initiation to a
# peer with an endpoint and a persistent keepalive before wg-quick (or
# anyone) brought the link up. Debian's wireguard-go (0.0.20220316) does
# send in this case (it completed a handshake here while down), so the
# kernel's rule is the one held, and wireguard-go is not run.
#
# A's interface is configured down with a peer that has an endpoint and
# persistent keepalive 1; B listens, up. After 2.5 s, A has sent nothing
# (transfer counters 0, no handshake) and B has heard nothing. Then A
# goes up: a handshake within 5 s, and a ping through the tunnel.
#
. "$(dirname "$0")/lib.sh"
require_env

pair_setup || bail "namespaces and veth"
keypair a && keypair b || bail "keys"

n=0
for impl in "$IMPL_PATH"; do
	n=$((n + 1))
	name=$(basename "$impl")
	ifa=$(ifname a$n) ifb=$(ifname b$n)
	pa=$((51900 + 2 * n)) pb=$((51901 + 2 * n))
	start_impl a "$ifa" "$impl" || bail "start $name in a"
	start_impl b "$ifb" "$impl" || bail "start $name in b"
	wg_up b "$ifb" b "$pb" "$IN4_B/24" "$IN6_B/64" || bail "configure b"
	nsx b wg set "$ifb" peer "$(pub a)" allowed-ips "$IN4_A/32" || bail "peer a"
	nsx a wg set "$ifa" private-key "$(key a)" listen-port "$pa" \
		peer "$(pub b)" endpoint "$OUT4_B:$pb" persistent-keepalive 1 \
		allowed-ips "$IN4_B/32" || bail "configure a"
	nsx a ip addr add "$IN4_A/24" dev "$ifa" || bail "address a"
	sleep 2.5
	check_eq "[$name] down: A sent nothing (transfer rx tx, latest handshake)" \
		"$(nsx a wg show "$ifa" transfer | awk '{ print $2, $3 }') $(nsx a wg show "$ifa" latest-handshakes | awk '{ print $2 }')" \
		"0 0 0"
	check_eq "[$name] down: B heard nothing" \
		"$(nsx b wg show "$ifb" transfer | awk '{ print $2 }')" 0
	nsx a ip link set "$ifa" up || bail "link up"
	check "[$name] up: a handshake within 5 s" wait_for 5 bash -c \
		"[[ \$(ip netns exec $(ns a) wg show $ifa latest-handshakes | awk '{ print \$2 }') -gt 0 ]]"
	check "[$name] up: a ping through the tunnel" ping_some a "$IN4_B"
	stop_impl a "$ifa"
	stop_impl b "$ifb"
	nsx a ip link del "$ifa" 2>/dev/null
	nsx b ip link del "$ifb" 2>/dev/null
done

done_testing
