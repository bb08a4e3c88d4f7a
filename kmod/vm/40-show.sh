# Check 40: `wg show`, `wg showconf` and `wg show dump` print the same for
# the module as for a userspace daemon given the same configuration.
#
# Subjects X:Y, two implementations compared: the module against cwg and
# against wireguard-go (stand-in: wireguard-go against cwg). One interface
# of each, in namespaces of their own, given one configuration with
# `wg setconf`: private key, listen port, fwmark, and three peers (one
# with a preshared key, IPv4 and IPv6 allowed IPs, an IPv4 endpoint and a
# persistent keepalive; one with an IPv6 endpoint; one bare). Compared:
#   1. interfaces down: all three outputs;
#   2. interfaces up: the same;
#   3. after `wg set`: a peer removed, allowed IPs replaced, the keepalive
#      off, the fwmark off, another listen port: all three again.
# What may legitimately differ and is normalised away before comparing:
# the interface's name (`wg show` prints it; the two must differ, the
# daemons' UAPI sockets share /run/wireguard), the order of the peers
# (the kernel keeps them in insertion order, wireguard-go in a Go map; wg
# prints them as it gets them), the order of a peer's allowed IPs (each
# implementation walks its own trie), and the latest handshake and the
# transfer counters (the dump's fields 5-7, `wg show`'s "latest
# handshake" and "transfer" lines): they are state, not configuration;
# with a persistent keepalive and an endpoint set, an implementation that
# is up sends at once (to an unreachable address here), and whether and
# when the attempt counts is its own. One test point per implementation
# checks them where they must agree: while an interface is down nothing
# is sent (transfer 0 both ways, no handshake), as the in-tree module
# does (cwg's daemon did not, until it learned its tun's link state:
# tests/net/43-linkdown.sh).

. /vm/lib.sh
net_modules || bail "the network modules"
keypair s p1 p2 p3 || bail keys
(umask 077 && wg genpsk >"$T_TMP/psk") || bail "psk"

cat >"$T_TMP/show.conf" <<EOF || bail "configuration"
[Interface]
PrivateKey = $(cat "$(key s)")
ListenPort = 51870
FwMark = 0x1234

[Peer]
PublicKey = $(pub p1)
PresharedKey = $(cat "$T_TMP/psk")
AllowedIPs = 10.9.1.0/24, fd00:9:1::/48, 192.168.77.5/32
Endpoint = 192.0.2.77:51000
PersistentKeepalive = 25

[Peer]
PublicKey = $(pub p2)
AllowedIPs = 10.9.2.1/32, fd00:9:2::1/128
Endpoint = [2001:db8::77]:51001

[Peer]
PublicKey = $(pub p3)
EOF

# sort_list: "a, b" or "a,b" -> the items sorted, joined with SEP ($1).
sort_list() { tr ',' '\n' | sed 's/^ *//' | sort | awk -v s="$1" '{ printf "%s%s", (NR > 1 ? s : ""), $0 }'; }

# norm_blocks IFACE: `wg show` or `wg showconf` output on stdin,
# normalised: the interface's name replaced, allowed IPs sorted, the
# latest handshake and transfer lines dropped, the first block first and
# the peers' blocks sorted.
norm_blocks() {
	local ifc=$1 line block="" blocks=()
	while IFS= read -r line || [ -n "$line" ]; do
		case $line in
		"interface: $ifc") line="interface: IFACE" ;;
		"AllowedIPs = "*) line="AllowedIPs = $(sort_list ', ' <<<"${line#AllowedIPs = }")" ;;
		"  allowed ips: "*) line="  allowed ips: $(sort_list ', ' <<<"${line#  allowed ips: }")" ;;
		"  latest handshake: "* | "  transfer: "*) continue ;;
		esac
		if [ -z "$line" ]; then
			[ -z "$block" ] || blocks+=("$block")
			block=""
		else
			block+="$line"$'\x01'
		fi
	done
	[ -z "$block" ] || blocks+=("$block")
	{
		printf '%s\n' "${blocks[0]:-}"
		printf '%s\n' "${blocks[@]:1}" | sort
	} | tr '\001' '\n'
}

# norm_dump: `wg show IFACE dump` on stdin, normalised: the peers' lines
# sorted, their allowed IPs sorted, the latest handshake and the transfer
# counters replaced by "-".
norm_dump() {
	local first pk psk ep aips hs rx tx ka
	IFS= read -r first
	echo "$first"
	while IFS=$'\t' read -r pk psk ep aips hs rx tx ka; do
		aips=$(sort_list , <<<"$aips")
		hs=- rx=- tx=-
		printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$pk" "$psk" "$ep" "$aips" "$hs" "$rx" "$tx" "$ka"
	done | sort
}

# compare PHASE: the three outputs of both interfaces, one test point
# each.
compare() {
	local phase=$1 what t
	for what in show showconf dump; do
		for t in x y; do
			case $what in
			show) nsx "$t" wg show "${IFN[$t]}" | norm_blocks "${IFN[$t]}" ;;
			showconf) nsx "$t" wg showconf "${IFN[$t]}" | norm_blocks "${IFN[$t]}" ;;
			dump) nsx "$t" wg show "${IFN[$t]}" dump | norm_dump ;;
			esac >"$T_TMP/$what.$t"
		done
		if [ -s "$T_TMP/$what.x" ] && cmp -s "$T_TMP/$what.x" "$T_TMP/$what.y"; then
			ok 0 "40-show [$L] $phase: wg $what prints the same"
		else
			ok 1 "40-show [$L] $phase: wg $what prints the same" \
				"$(diff -u "$T_TMP/$what.x" "$T_TMP/$what.y" | sed "s/^---.*/--- $(label "${IMP[x]}")/; s/^+++.*/+++ $(label "${IMP[y]}")/")"
		fi
	done
}

subjects "kmod:cwg kmod:wggo" "wggo:cwg"
declare -A IFN IMP
k=0
for s in "${SUBJECTS[@]}"; do
	IMP[x]=${s%%:*} IMP[y]=${s##*:}
	k=$((k + 1))
	L=$(slabel "$s")
	ns_new x y || bail "namespaces"
	IFN[x]=$(ifname x$k) IFN[y]=$(ifname y$k)
	for t in x y; do
		wg_add "$t" "${IFN[$t]}" "${IMP[$t]}" || bail "interface of $(label "${IMP[$t]}")"
		nsx "$t" wg setconf "${IFN[$t]}" "$T_TMP/show.conf" || bail "wg setconf on $(label "${IMP[$t]}")"
	done
	compare "interfaces down"
	for t in x y; do
		impl=${IMP[$t]}
		sent=$(nsx "$t" wg show "${IFN[$t]}" dump | awk 'NR > 1 { n += $5 + $6 + $7 } END { print n + 0 }')
		d="40-show [$L] interfaces down: $(label "$impl") sends nothing (handshake and transfer fields 0: $sent)"
		[ "$sent" = 0 ]
		ok $? "$d"
	done
	for t in x y; do
		ip -n "$(ns "$t")" link set "${IFN[$t]}" up || bail "link up"
	done
	compare "interfaces up"
	for t in x y; do
		nsx "$t" wg set "${IFN[$t]}" listen-port 51872 fwmark 0 peer "$(pub p3)" remove \
			peer "$(pub p2)" allowed-ips 10.9.3.0/24,fd00:9:3::/64 \
			peer "$(pub p1)" persistent-keepalive 0 || bail "wg set on $(label "${IMP[$t]}")"
	done
	compare "after wg set"
	for t in x y; do
		wg_del "$t" "${IFN[$t]}" "${IMP[$t]}"
	done
	ns_del x y
done
