#!/usr/bin/env bash
# Scenario 40, on IMPL at both ends:
#  1. roaming: the initiator changes its outer source address and port, then
#     its outer address family; the responder's `wg show endpoints` follows
#     and traffic continues both ways;
#  2. persistent keepalive through a NAT: a middle namespace masquerades
#     with 2 s UDP conntrack timeouts; without keepalive the inside peer is
#     unreachable from outside once the mapping expired, with a 1 s
#     keepalive it stays reachable after the same wait;
#  3. the crypto-routing source filter: B sends with an inner source that
#     belongs to C's allowed IPs, A must not deliver it (counted by an
#     iptables raw PREROUTING rule on A's tunnel interface, which sees every
#     packet the daemon writes to the TUN device);
#  4. sticky source with failover: the responder has two addresses, the
#     initiator targets the second; replies must come from it (else the
#     initiator's endpoint would move to the first); after the second
#     address is deleted, the responder must fall back to the first and the
#     initiator's endpoint follows (within FAILOVER_S, default 25 s).

. "$(dirname "$0")/lib.sh"
T_REQUIRE_CMDS=(iptables ping timeout)
require_env

# tunnel TAG IFACE KEY PORT ADDR4/LEN: start IMPL and configure it (v4 only
# inside, the v6 inner address is unused here but harmless).
tunnel() {
	start_impl "$1" "$2" || return 1
	nsx "$1" wg set "$2" private-key "$(key "$3")" listen-port "$4" || return 1
	nsx "$1" ip addr add "$5" dev "$2" && nsx "$1" ip link set "$2" up
}

# -------------------------------------------------------------- 1. roaming
diag "--- roaming"
ns_new ra rb && veth ra va rb vb || bail "roaming namespaces"
nsx rb sysctl -qw net.ipv4.conf.all.promote_secondaries=1 net.ipv4.conf.vb.promote_secondaries=1
ip -n "$(ns ra)" addr add 192.0.2.1/24 dev va
ip -n "$(ns ra)" addr add 2001:db8::1/64 dev va nodad
ip -n "$(ns rb)" addr add 192.0.2.2/24 dev vb
ip -n "$(ns rb)" addr add 192.0.2.3/24 dev vb
ip -n "$(ns rb)" addr add 2001:db8::2/64 dev vb nodad
keypair ra && keypair rb || bail keys
IFA=$(ifname ra) IFB=$(ifname rb)
tunnel ra "$IFA" ra 51820 10.200.0.1/24 && tunnel rb "$IFB" rb 51821 10.200.0.2/24 ||
	bail "roaming daemons"
nsx ra wg set "$IFA" peer "$(pub rb)" allowed-ips 10.200.0.2/32
nsx rb wg set "$IFB" peer "$(pub ra)" allowed-ips 10.200.0.1/32 endpoint 192.0.2.1:51820

check "B reaches A" ping_some rb 10.200.0.1
check_eq "A sees B at 192.0.2.2:51821" "$(endpoint_of ra "$IFA" rb)" "192.0.2.2:51821"
nsx rb wg set "$IFB" listen-port 51831
ip -n "$(ns rb)" addr del 192.0.2.2/24 dev vb
check "B reaches A from a new address and port" ping_some rb 10.200.0.1
check_eq "A's endpoint for B followed to 192.0.2.3:51831" "$(endpoint_of ra "$IFA" rb)" "192.0.2.3:51831"
check "A reaches B at its new endpoint" ping_ok ra 10.200.0.2
nsx rb wg set "$IFB" peer "$(pub ra)" endpoint "[2001:db8::1]:51820"
check "B reaches A over IPv6 outer" ping_some rb 10.200.0.1
check_eq "A's endpoint for B followed to [2001:db8::2]:51831" "$(endpoint_of ra "$IFA" rb)" "[2001:db8::2]:51831"
check "A reaches B over IPv6 outer" ping_ok ra 10.200.0.2

# ------------------------------------------------- 2. keepalive through NAT
diag "--- persistent keepalive through a NAT with 2 s UDP timeouts"
ns_new ki km ko && veth ki ki0 km km0 && veth km km1 ko ko0 || bail "NAT namespaces"
ip -n "$(ns ki)" addr add 198.51.100.2/24 dev ki0
ip -n "$(ns ki)" route add default via 198.51.100.1
ip -n "$(ns km)" addr add 198.51.100.1/24 dev km0
ip -n "$(ns km)" addr add 203.0.113.1/24 dev km1
ip -n "$(ns ko)" addr add 203.0.113.2/24 dev ko0
nsx km sysctl -qw net.ipv4.ip_forward=1
check "NAT: masquerade rule" nsx km iptables -t nat -A POSTROUTING -o km1 -j MASQUERADE
check "NAT: conntrack UDP timeouts 2 s (per namespace)" nsx km sysctl -qw \
	net.netfilter.nf_conntrack_udp_timeout=2 net.netfilter.nf_conntrack_udp_timeout_stream=2
keypair ki && keypair ko || bail keys
IFI=$(ifname ki) IFO=$(ifname ko)
tunnel ki "$IFI" ki 51820 10.200.1.1/24 && tunnel ko "$IFO" ko 51820 10.200.1.2/24 ||
	bail "NAT daemons"
nsx ki wg set "$IFI" peer "$(pub ko)" allowed-ips 10.200.1.2/32 endpoint 203.0.113.2:51820
nsx ko wg set "$IFO" peer "$(pub ki)" allowed-ips 10.200.1.1/32

check "inside reaches outside through the NAT" ping_some ki 10.200.1.2 &&
	check "... then all of 3" ping_ok ki 10.200.1.2
ep=$(endpoint_of ko "$IFO" ki)
check "outside sees inside at the NAT's address ($ep)" test "${ep%:*}" = 203.0.113.1
check "outside reaches inside while the mapping is fresh" ping_ok ko 10.200.1.1 1
# The inside peer's passive keepalive fires 10 s after it last received;
# the mapping is gone 2 s after the last packet.  Probe at about 5 s.
sleep 5
check_not "without keepalive: outside cannot reach inside after 5 s idle" \
	nsx ko timeout 5 ping -n -q -c 2 -i 0.5 -W 1 10.200.1.1
check "inside reaches outside again (new mapping)" ping_some ki 10.200.1.2
check "outside reaches inside right after" ping_ok ko 10.200.1.1 1
check "persistent-keepalive 1 set on the inside peer" \
	nsx ki wg set "$IFI" peer "$(pub ko)" persistent-keepalive 1
check_eq "keepalive shown" "$(nsx ki wg show "$IFI" persistent-keepalive | awk '{print $2}')" 1
sleep 5
check "with keepalive: outside reaches inside after 5 s idle" ping_ok ko 10.200.1.1 2

# ------------------------------------------------ 3. crypto-routing filter
diag "--- crypto-routing source filter"
ns_new fa fb fc && veth fa fa0 fb fb0 && veth fa fa1 fc fc0 || bail "filter namespaces"
ip -n "$(ns fa)" addr add 192.0.2.1/24 dev fa0
ip -n "$(ns fb)" addr add 192.0.2.2/24 dev fb0
ip -n "$(ns fa)" addr add 198.51.100.1/24 dev fa1
ip -n "$(ns fc)" addr add 198.51.100.2/24 dev fc0
keypair fa && keypair fb && keypair fc || bail keys
IFFA=$(ifname fa) IFFB=$(ifname fb) IFFC=$(ifname fc)
tunnel fa "$IFFA" fa 51820 10.200.2.1/24 && tunnel fb "$IFFB" fb 51821 10.200.2.2/24 &&
	tunnel fc "$IFFC" fc 51822 10.200.2.3/24 || bail "filter daemons"
nsx fa wg set "$IFFA" peer "$(pub fb)" allowed-ips 10.200.2.2/32 peer "$(pub fc)" allowed-ips 10.200.2.3/32
nsx fb wg set "$IFFB" peer "$(pub fa)" allowed-ips 10.200.2.0/24 endpoint 192.0.2.1:51820
nsx fc wg set "$IFFC" peer "$(pub fa)" allowed-ips 10.200.2.0/24 endpoint 198.51.100.1:51820
nsx fb ip addr add 10.200.2.3/32 dev "$IFFB" # C's address, on B
nsx fa iptables -t raw -A PREROUTING -i "$IFFA" -s 10.200.2.3 -p icmp -j ACCEPT
nsx fa iptables -t raw -A PREROUTING -i "$IFFA" -s 10.200.2.2 -p icmp -j ACCEPT
# rx_count SRC: ICMP packets from SRC that came out of A's tunnel.
rx_count() {
	nsx fa iptables -t raw -nvxL PREROUTING | awk -v s="$1" '$8 == s { print $1 }'
}
tx_to_a() { nsx fb wg show "$IFFB" transfer | awk '{ print $3 }'; }

check "B reaches A from its own address" ping_some fb 10.200.2.1 &&
	check "... then all of 3" ping_ok fb 10.200.2.1
check "C reaches A" ping_some fc 10.200.2.1
c_legit=$(rx_count 10.200.2.3) b_legit=$(rx_count 10.200.2.2)
check "A's counter saw C's pings ($c_legit)" test "${c_legit:-0}" -ge 1
check "A's counter saw B's pings ($b_legit)" test "${b_legit:-0}" -ge 3
tx0=$(tx_to_a)
check_not "B spoofing C's address gets no answer" \
	nsx fb timeout 6 ping -n -q -c 3 -i 0.3 -W 1 -I 10.200.2.3 10.200.2.1
tx1=$(tx_to_a)
check "B did encrypt and send them to A (tx ${tx0:-?} -> ${tx1:-?})" \
	test "${tx1:-0}" -ge $((${tx0:-0} + 3 * 84))
check_eq "A delivered none of B's spoofed packets" "$(rx_count 10.200.2.3)" "$c_legit"
check_eq "... nor counted them as B's" "$(rx_count 10.200.2.2)" "$b_legit"
check "C still reaches A" ping_ok fc 10.200.2.1
check "A's counter sees C's packets again" test "$(rx_count 10.200.2.3)" -ge $((c_legit + 3))

# ----------------------------------------- 4. sticky source with failover
diag "--- sticky source with failover"
ns_new sr si && veth sr sr0 si si0 || bail "sticky namespaces"
ip -n "$(ns sr)" addr add 192.0.2.1/24 dev sr0
ip -n "$(ns sr)" addr add 192.0.2.11/24 dev sr0
ip -n "$(ns si)" addr add 192.0.2.2/24 dev si0
keypair sr && keypair si || bail keys
IFR=$(ifname sr) IFS_=$(ifname si)
tunnel sr "$IFR" sr 51820 10.200.3.1/24 && tunnel si "$IFS_" si 51821 10.200.3.2/24 ||
	bail "sticky daemons"
nsx sr wg set "$IFR" peer "$(pub si)" allowed-ips 10.200.3.2/32
nsx si wg set "$IFS_" peer "$(pub sr)" allowed-ips 10.200.3.1/32 endpoint 192.0.2.11:51820

check "initiator reaches responder at its second address" ping_some si 10.200.3.1 &&
	check "... then all of 3" ping_ok si 10.200.3.1
check "responder pings back" ping_ok sr 10.200.3.2
check_eq "replies came from the second address (initiator's endpoint kept)" \
	"$(endpoint_of si "$IFS_" sr)" "192.0.2.11:51820"
check "second address deleted" ip -n "$(ns sr)" addr del 192.0.2.11/24 dev sr0
# The kernel drops a stale source as soon as the address is gone;
# wireguard-go keeps it until its handshake retransmit timer clears it
# (REKEY_TIMEOUT + KEEPALIVE_TIMEOUT = 15 s of unanswered data), so the
# bound covers that with margin.  The time taken is reported.
check "responder reaches initiator from its remaining address" \
	ping_within sr 10.200.3.2 "${FAILOVER_S:-25}"
check_eq "initiator's endpoint moved to the first address" \
	"$(endpoint_of si "$IFS_" sr)" "192.0.2.1:51820"
check "initiator reaches responder again" ping_ok si 10.200.3.1

done_testing
