# The "wireguard" generic-netlink family, checked inside the VM by
# kmod/vm/run.sh (bash, as root).
#
# What it runs, against each module that provides the family in turn:
# Debian's in-tree wireguard.ko first when the initramfs carries it (the
# reference: every expectation below must hold for it too), then cwg.ko.
#   - tools/wgnl-probe.c: 112 malformed and edge-case requests, each
#     answered with the in-tree errno, the interface unchanged or changed
#     exactly as the case means (its errno table is in its header);
#   - `wg setconf` of a full configuration (private key, listen port,
#     fwmark, preshared key, endpoints v4, v6 and link-local with
#     %ifname, keepalive, allowed IPs v4 and v6) read back exactly by `wg
#     show dump`, a showconf/setconf round trip, `wg set` changes;
#   - `wg setconf` of one peer with 130,560 allowed IPs, read back whole
#     and in order;
#   - with the interface up (sockets): a listen port another interface
#     holds is refused and the old one kept (skipped when NL_SKIP_UP=1);
#   - namespaces: from another netns the interface is not found; moved
#     into a user namespace's netns, its root may set the key, not the
#     port (CAP_NET_ADMIN is wanted where the interface was created);
#   - interfaces deleted while being configured and dumped;
#   - when both modules ran: the family's dump of the same configuration
#     is the same from both (wgnl-probe dump, ifname and ifindex aside).
#
# The initramfs carries (scripts/kmod-vm.sh): /usr/local/bin/wgnl-probe
# (make -C kmod probe), wg and ip, and the modules of both modules
# (modules.list, modules-intree.list).

. /vm/lib.sh
PATH=$PATH:/usr/bin:/usr/sbin:/bin:/sbin
nl_now() { cut -d' ' -f1 /proc/uptime; }
nl_since() { awk -v a="$1" -v b="$(nl_now)" 'BEGIN { printf "%.1f", b - a }'; }

# The keys of every run (the same in both, so that their dumps compare).
nl_keys() {
	NL_PRIV=$(wg genkey)
	NL_PUB=$(echo "$NL_PRIV" | wg pubkey)
	NL_PK1=$(wg genkey | wg pubkey)
	NL_PK2=$(wg genkey | wg pubkey)
	NL_PK3=$(wg genkey | wg pubkey)
	NL_PSK=$(wg genpsk)
	cat >/tmp/nl.conf <<EOF
[Interface]
PrivateKey = $NL_PRIV
ListenPort = 51820
FwMark = 0x1234

[Peer]
PublicKey = $NL_PK1
PresharedKey = $NL_PSK
Endpoint = 192.0.2.1:51820
PersistentKeepalive = 25
AllowedIPs = 10.1.0.0/16, fd00:1::/64

[Peer]
PublicKey = $NL_PK2
Endpoint = [2001:db8::2]:4242
AllowedIPs = 10.2.0.0/24

[Peer]
PublicKey = $NL_PK3
Endpoint = [fe80::1%lo]:51821
PersistentKeepalive = 1
AllowedIPs = 0.0.0.0/0, ::/0, 192.0.2.77/32
EOF
	# `wg show dump`: the interface line, then one line a peer
	# (key, psk, endpoint, allowed IPs, handshake, rx, tx, keepalive).
	t=$(printf '\t')
	cat >/tmp/nl.expect <<EOF
$NL_PRIV$t$NL_PUB${t}51820${t}0x1234
$NL_PK1$t$NL_PSK${t}192.0.2.1:51820${t}10.1.0.0/16,fd00:1::/64${t}0${t}0${t}0${t}25
$NL_PK2${t}(none)${t}[2001:db8::2]:4242${t}10.2.0.0/24${t}0${t}0${t}0${t}off
$NL_PK3${t}(none)${t}[fe80::1%lo]:51821${t}0.0.0.0/0,::/0,192.0.2.77/32${t}0${t}0${t}0${t}1
EOF
	# After the `wg set` changes below.
	cat >/tmp/nl.expect2 <<EOF
$NL_PRIV$t$NL_PUB${t}51822${t}off
$NL_PK1$t$NL_PSK${t}192.0.2.9:9${t}10.9.0.0/16${t}0${t}0${t}0${t}off
$NL_PK3${t}(none)${t}[fe80::1%lo]:51821${t}0.0.0.0/0,::/0,192.0.2.77/32${t}0${t}0${t}0${t}1
EOF
	# One peer, 65,280 IPv4 and 65,280 IPv6 prefixes, 256 a line; and
	# what `wg show allowed-ips` prints of it, in the same order.
	awk -v priv="$NL_PRIV" -v pk="$NL_PK1" 'BEGIN {
		printf "[Interface]\nPrivateKey = %s\n\n[Peer]\nPublicKey = %s\n", priv, pk
		for (f = 0; f < 2; f++)
			for (a = 0; a < 255; a++) {
				printf "AllowedIPs = "
				for (b = 0; b < 256; b++) {
					if (f == 0)
						printf "10.%d.%d.0/24", a, b
					else
						printf "fd00:%x:%x::/48", a + 1, b + 1
					printf (b < 255 ? ", " : "\n")
				}
			}
	}' >/tmp/nl-big.conf
	awk -v pk="$NL_PK1" 'BEGIN {
		printf "%s\t", pk
		for (f = 0; f < 2; f++)
			for (a = 0; a < 255; a++)
				for (b = 0; b < 256; b++) {
					if (f == 0)
						printf "10.%d.%d.0/24", a, b
					else
						printf "fd00:%x:%x::/48", a + 1, b + 1
					printf ((f == 1 && a == 254 && b == 255) ? "\n" : " ")
				}
	}' >/tmp/nl-big.expect
}

# Everything against the module now providing the family; $1 names it.
nl_run() {
	l=$1
	ip link add wgp0 type wireguard
	ok $? "$l: ip link add wgp0 type wireguard"
	t0=$(nl_now)
	wgnl-probe wgp0 >"/tmp/nl-probe-$l.log" 2>&1
	r=$?
	grep -E '^(not ok|Bail)' "/tmp/nl-probe-$l.log" | sed "s/^/# $l: /"
	ok $r "$l: wgnl-probe: $(grep -c '^ok' "/tmp/nl-probe-$l.log") cases pass, $(grep -c '^not ok' "/tmp/nl-probe-$l.log") fail ($(nl_since "$t0") s)"
	ip link del wgp0

	ip link add wgc0 type wireguard &&
		wg setconf wgc0 /tmp/nl.conf
	ok $? "$l: wg setconf of a full configuration"
	wg show wgc0 dump >"/tmp/nl-show-$l.txt"
	cmp -s "/tmp/nl-show-$l.txt" /tmp/nl.expect
	r=$?
	[ $r = 0 ] || { echo "# $l: wg show dump:"; sed 's/^/#   /' "/tmp/nl-show-$l.txt"; }
	ok $r "$l: wg show dump reads it back exactly (keys, psk, endpoints v4/v6/link-local, keepalive, fwmark, port, allowed IPs)"
	wgnl-probe dump wgc0 | grep -v '^if' >"/tmp/nl-dump-$l.txt"
	wg showconf wgc0 >"/tmp/nl-showconf-$l.txt" &&
		ip link add wgc1 type wireguard &&
		wg setconf wgc1 "/tmp/nl-showconf-$l.txt" &&
		wg showconf wgc1 | cmp -s - "/tmp/nl-showconf-$l.txt"
	ok $? "$l: showconf, setconf on another interface, showconf: the same"
	ip link del wgc1
	wg set wgc0 listen-port 51822 fwmark 0 peer "$NL_PK2" remove \
		peer "$NL_PK1" endpoint 192.0.2.9:9 persistent-keepalive off \
		allowed-ips 10.9.0.0/16 &&
		wg show wgc0 dump | cmp -s - /tmp/nl.expect2
	ok $? "$l: wg set (port, fwmark off, a peer removed, endpoint, keepalive off, allowed IPs replaced) reads back exactly"
	if [ "${NL_SKIP_UP:-0}" != 1 ]; then
		ip link add wgc1 type wireguard &&
			wg set wgc1 listen-port 51823 &&
			ip link set wgc0 up && ip link set wgc1 up &&
			! wg set wgc1 listen-port 51822 2>/dev/null &&
			[ "$(wg show wgc1 listen-port)" = 51823 ]
		ok $? "$l: with both up, a listen port the other holds is refused, the old one kept"
		ip link del wgc1
	fi
	ip link del wgc0

	ip link add wgb0 type wireguard
	t0=$(nl_now)
	wg setconf wgb0 /tmp/nl-big.conf
	r=$?
	ok $r "$l: wg setconf of one peer with 130,560 allowed IPs ($(nl_since "$t0") s)"
	t1=$(nl_now)
	wg show wgb0 allowed-ips >"/tmp/nl-big-$l.txt"
	c=$(wc -w <"/tmp/nl-big-$l.txt")
	[ "$c" = 130561 ] && cmp -s "/tmp/nl-big-$l.txt" /tmp/nl-big.expect
	ok $? "$l: wg show allowed-ips gives all 130,560 back in order (counted $((c - 1)), read in $(nl_since "$t1") s)"
	ip link del wgb0

	nl_netns "$l"
	nl_churn "$l"
}

# The caller's namespace: a name is looked up where the request comes
# from, and the listen port needs CAP_NET_ADMIN where the interface was
# created, not only where it is now (a user namespace's root may set its
# key, not its port).
nl_netns() {
	l=$1
	ip link add wgn0 type wireguard
	unshare -n wg show wgn0 >/tmp/nl-ns0.out 2>&1
	r=$?
	[ $r != 0 ] && grep -q 'No such device' /tmp/nl-ns0.out
	ok $? "$l: from another network namespace, wgn0 is not found (the family answers there: ENODEV)"
	echo "$NL_PRIV" >/tmp/nl-key
	rm -f /tmp/nl-f1 /tmp/nl-f2
	mkfifo /tmp/nl-f1 /tmp/nl-f2
	unshare -r -n sh -c 'echo up >/tmp/nl-f1; read -r _ </tmp/nl-f2
		wg set wgn0 listen-port 1234 2>/tmp/nl-ns-port.err; echo "port $?"
		wg set wgn0 private-key /tmp/nl-key; echo "key $?"
		wg show wgn0 private-key' >/tmp/nl-ns.out 2>&1 &
	p=$!
	read -r _ </tmp/nl-f1
	ip link set wgn0 netns "$p"
	r=$?
	echo go >/tmp/nl-f2
	wait "$p"
	[ $r = 0 ] && [ "$(cat /tmp/nl-ns.out)" = "port 1
key 0
$NL_PRIV" ] && grep -q 'Operation not permitted' /tmp/nl-ns-port.err
	r=$?
	[ $r = 0 ] || sed "s/^/# $l: in the user namespace: /" /tmp/nl-ns.out /tmp/nl-ns-port.err
	ok $r "$l: moved into a user namespace's netns, its root may set the key but not the port (EPERM)"
	i=0
	while ip link show wgn0 >/dev/null 2>&1 && [ $i -lt 50 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	ip link del wgn0 2>/dev/null
	rm -f /tmp/nl-f1 /tmp/nl-f2 /tmp/nl-key
}

# Interfaces deleted while being configured and dumped: every command
# ends (with whatever error), nothing is left, nothing is logged (the
# log check at the end of vm-check.sh).
nl_churn() {
	l=$1
	bad=0
	i=0
	while [ $i -lt 10 ]; do
		ip link add wgx$i type wireguard && wg setconf wgx$i /tmp/nl.conf || bad=1
		wg show wgx$i dump >/dev/null 2>&1 &
		ip link del wgx$i || bad=1
		wait
		i=$((i + 1))
	done
	ip link add wgx0 type wireguard && wg setconf wgx0 /tmp/nl-big.conf || bad=1
	timeout 60 wg show wgx0 allowed-ips >/dev/null 2>&1 &
	p=$!
	ip link del wgx0 || bad=1
	wait "$p"
	[ $? = 143 ] && bad=1 # the dump did not end
	! ip link show wgx0 >/dev/null 2>&1 || bad=1
	ok $bad "$l: 11 interfaces configured and deleted while dumped"
}

nl_keys
# Neither module may be loaded while the other's family is checked.
grep -q '^cwg ' /proc/modules && rmmod cwg
grep -q '^wireguard ' /proc/modules && rmmod wireguard
if [ -s /modules-intree.list ]; then
	modules_load modules-intree.list && grep -q '^wireguard ' /proc/modules
	ok $? "the in-tree wireguard.ko loads (the reference run)"
	nl_run in-tree
	rmmod wireguard
	ok $? "rmmod wireguard"
fi
modules_load modules.list && insmod /cwg.ko selftest=0
ok $? "insmod cwg.ko for the netlink checks"
nl_run cwg
if [ -f /tmp/nl-dump-in-tree.txt ]; then
	cmp -s /tmp/nl-dump-in-tree.txt /tmp/nl-dump-cwg.txt
	r=$?
	[ $r = 0 ] || diff /tmp/nl-dump-in-tree.txt /tmp/nl-dump-cwg.txt | sed 's/^/# /'
	ok $r "cwg's dump of the full configuration is the in-tree's, attribute for attribute"
fi
rmmod cwg
ok $? "rmmod cwg after the netlink checks"
