# Check 50: stock wg-quick up and down.
#
# For each subject IMPL (the module; stand-ins cwg and wireguard-go):
# namespace a runs `wg-quick up` on a configuration with IPv4 and IPv6
# addresses, a listen port, PostUp/PostDown, and one peer (in namespace
# b, the same IMPL configured with wg) with AllowedIPs = 0.0.0.0/0, ::/0,
# which makes wg-quick take its fwmark policy routing path: fwmark 51820
# on the interface, `ip rule`s sending everything unmarked to table
# 51820, nft tables marking the tunnel's own datagrams, src_valid_mark.
# Checks after up: the implementation is the one asked for (link kind
# wireguard; or a tun with that daemon behind it), PostUp ran with %i
# expanded, the addresses, MTU 1420 (1500 - 80), the fwmark, the rules
# (IPv4 and IPv6), the nft tables, src_valid_mark; traffic to addresses
# that only b has (198.51.100.1, 2001:db8:100::1, on b's loopback) goes
# through the tunnel and comes back (pings, and BYTES by xfer), which
# also shows that the tunnel's own datagrams carry the fwmark (else they
# would be routed into the tunnel). After down: PostDown ran, and nothing
# is left: no interface, rule, route in table 51820, nft table, daemon
# or UAPI socket.
#
# The userspace path: wg-quick falls back to
# WG_QUICK_USERSPACE_IMPLEMENTATION only when `ip link add ... type
# wireguard` fails and /sys/module/wireguard does not exist. So for a
# stand-in, wg-quick runs as a byte-identical copy beside a wrapper `ip`
# that refuses exactly that command (wg-quick puts its own directory
# first in PATH), and where Debian's wireguard.ko is loaded
# (KMOD_MODULE=intree), with an empty tmpfs over /sys/module in the mount
# namespace `ip netns exec` made for that one command.
#
# Knobs: BYTES (lib.sh).

. /vm/lib.sh
net_modules || bail "the network modules"
keypair a b || bail keys

REMOTE4=198.51.100.1 REMOTE6=2001:db8:100::1
TABLE=51820

# The wrapper directory for the stand-ins.
mkdir -p "$T_TMP/bin"
cp /usr/bin/wg-quick "$T_TMP/bin/wg-quick" || bail "wg-quick copy"
cat >"$T_TMP/bin/ip" <<'EOF'
#!/bin/bash
# Refuse kernel WireGuard links, pass everything else on.
if [[ $1 == link && $2 == add && ${*: -2:1} == type && ${*: -1} == wireguard ]]; then
	echo "vm wrapper: no kernel WireGuard for this check" >&2
	exit 2
fi
exec /usr/bin/ip "$@"
EOF
chmod +x "$T_TMP/bin/ip"

# wgq IMPL up|down IFACE: wg-quick in namespace a; output to
# $T_TMP/wgq.ACTION.log.
wgq() {
	local impl=$1 act=$2 ifc=$3 bin
	if [ "$impl" = kmod ]; then
		ip netns exec "$(ns a)" timeout 60 wg-quick "$act" "$ifc" >"$T_TMP/wgq.$act.log" 2>&1 </dev/null
	else
		bin=cwg
		[ "$impl" = wggo ] && bin=wireguard-go
		ip netns exec "$(ns a)" timeout 60 bash -c '
			[ -e /sys/module/wireguard ] && mount -t tmpfs none /sys/module
			exec "$@"' _ env WG_QUICK_USERSPACE_IMPLEMENTATION="$bin" \
			"$T_TMP/bin/wg-quick" "$act" "$ifc" >"$T_TMP/wgq.$act.log" 2>&1 </dev/null
	fi
}

# rules FAMILY: this table's rules in namespace a.
rules() { ip -n "$(ns a)" "-$1" rule show | grep -E "lookup $TABLE|suppress_prefixlength" | sed 's/^[0-9]*:[[:space:]]*//'; }
nft_tables() { nsx a nft list tables 2>/dev/null | grep "wg-quick-$IFQ"; }

subjects "kmod" "cwg wggo"
k=0
for impl in "${SUBJECTS[@]}"; do
	k=$((k + 1))
	L=$(label "$impl")
	pair_setup || bail "namespaces and veth"
	ip -n "$(ns b)" addr add "$REMOTE4/32" dev lo &&
		ip -n "$(ns b)" addr add "$REMOTE6/128" dev lo || bail "b's remote addresses"
	IFQ=$(ifname q$k) IFB=$(ifname b$k) PA=51880 PB=51881
	wg_up b "$IFB" "$impl" b $PB 10.210.0.2/24 fd00:210::2/64 &&
		nsx b wg set "$IFB" peer "$(pub a)" allowed-ips 10.210.0.1/32,fd00:210::1/128 || bail "peer b"
	cat >"/etc/wireguard/$IFQ.conf" <<EOF
[Interface]
PrivateKey = $(cat "$(key a)")
ListenPort = $PA
Address = 10.210.0.1/24, fd00:210::1/64
PostUp = echo "up %i" >$T_TMP/postup
PostDown = echo "down %i" >$T_TMP/postdown

[Peer]
PublicKey = $(pub b)
Endpoint = $OUT4_B:$PB
AllowedIPs = 0.0.0.0/0, ::/0
EOF
	chmod 600 "/etc/wireguard/$IFQ.conf"

	if ! check "50-wgquick [$L]: wg-quick up" wgq "$impl" up "$IFQ"; then
		diag "$(cat "$T_TMP/wgq.up.log")"
	fi
	if [ "$impl" = kmod ]; then
		ip -n "$(ns a)" -d link show dev "$IFQ" | grep -qw wireguard
		ok $? "50-wgquick [$L]: the interface is a wireguard link" "$(ip -n "$(ns a)" -d link show dev "$IFQ" 2>&1)"
	else
		p=$(daemon_of "$IFQ")
		[ -n "$p" ] && case $(cat "/proc/$p/comm") in cwg) [ "$impl" = cwg ] ;; wireguard-go) [ "$impl" = wggo ] ;; *) false ;; esac &&
			grep -q 'vm wrapper' "$T_TMP/wgq.up.log"
		ok $? "50-wgquick [$L]: wg-quick fell back to $L, whose daemon serves it" "$(cat "$T_TMP/wgq.up.log")"
	fi
	is "50-wgquick [$L]: PostUp ran, %i expanded" "$(cat "$T_TMP/postup" 2>&1)" "up $IFQ"
	is "50-wgquick [$L]: addresses" \
		"$(ip -n "$(ns a)" -o addr show dev "$IFQ" | awk '{ print $4 }' | grep -v '^fe80' | sort | tr '\n' ' ')" \
		"10.210.0.1/24 fd00:210::1/64 "
	is "50-wgquick [$L]: MTU 1420" "$(ip -n "$(ns a)" -o link show dev "$IFQ" | sed -n 's/.* mtu \([0-9]*\).*/\1/p')" 1420
	is "50-wgquick [$L]: fwmark" "$(nsx a wg show "$IFQ" fwmark)" "0xca6c"
	is "50-wgquick [$L]: IPv4 rules" "$(rules 4 | sort | tr '\n' ';')" \
		"from all lookup main suppress_prefixlength 0;not from all fwmark 0xca6c lookup $TABLE;"
	is "50-wgquick [$L]: IPv6 rules" "$(rules 6 | sort | tr '\n' ';')" \
		"from all lookup main suppress_prefixlength 0;not from all fwmark 0xca6c lookup $TABLE;"
	is "50-wgquick [$L]: nft tables" "$(nft_tables | sort | tr '\n' ';')" \
		"table ip wg-quick-$IFQ;table ip6 wg-quick-$IFQ;"
	is "50-wgquick [$L]: src_valid_mark" "$(nsx a sysctl -n net.ipv4.conf.all.src_valid_mark)" 1
	check "50-wgquick [$L]: a ping to b's $REMOTE4 through the tunnel" ping_some a "$REMOTE4" 15
	check "50-wgquick [$L]: a ping to b's $REMOTE6 through the tunnel" ping_ok a "$REMOTE6"
	check "50-wgquick [$L]: $BYTES bytes to $REMOTE4 through the tunnel, whole" xfer a b "$REMOTE4" "$BYTES"

	if ! check "50-wgquick [$L]: wg-quick down" wgq "$impl" down "$IFQ"; then
		diag "$(cat "$T_TMP/wgq.down.log")"
	fi
	is "50-wgquick [$L]: PostDown ran" "$(cat "$T_TMP/postdown" 2>&1)" "down $IFQ"
	left=$(
		ip -n "$(ns a)" -o link show dev "$IFQ" 2>/dev/null
		rules 4
		rules 6
		ip -n "$(ns a)" -4 route show table $TABLE 2>/dev/null
		ip -n "$(ns a)" -6 route show table $TABLE 2>/dev/null
		nft_tables
		ls "/run/wireguard/$IFQ.sock" 2>/dev/null
		daemon_of "$IFQ"
	)
	is "50-wgquick [$L]: nothing left after down (link, rules, routes, nft, daemon, socket)" "$left" ""
	rm -f "/etc/wireguard/$IFQ.conf" "$T_TMP/postup" "$T_TMP/postdown"
	wg_del b "$IFB" "$impl"
	ns_del a b
done
