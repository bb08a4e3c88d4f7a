#!/usr/bin/env bash
# Scenario 41, on IMPL at both ends, once over IPv4 and once over IPv6
# outer endpoints: the sticky source address of a peer disappears and the
# very next packet must still leave, from an address the host has.
#
#  1. The responder R learns its sticky source from the initiator's
#     packets.  Then R's outer address is replaced (`ip addr add NEW;
#     ip addr del OLD`): the kernel refuses a send from OLD (IPv4:
#     ENETUNREACH, IPv6: EINVAL), so R must resend from the routing's
#     choice at once.  One `ping -c 1 -W 1` from R through the tunnel is
#     answered, and the initiator's endpoint for R moved to NEW.  Without
#     the resend the packet is lost and only the 15 s new-handshake timer
#     clears the source.
#  2. Reply-to-sender right after: the initiator I replaces its own outer
#     address the same way and pings once; R's endpoint for I follows and
#     R's next single ping goes there and is answered.
#  3. The same under a bulk TCP flow from R (iperf3, 3 s), so the refused
#     sends are UDP GSO batches: R's address is replaced a second time
#     1 s in, and the flow's last second must still move data.
#
# With LOG_LEVEL=verbose the daemon logs each batch whose sticky source was
# refused; that line is checked too (cwg's wording: with another IMPL those
# checks fail), so a pass shows the resend happened.

. "$(dirname "$0")/lib.sh"
T_REQUIRE_CMDS=(iperf3 jq ping ss timeout)
require_env

# tunnel TAG IFACE KEY PORT ADDR4/LEN: start IMPL (verbose, to see the
# resends) and configure it.
tunnel() {
	LOG_LEVEL=verbose start_impl "$1" "$2" || return 1
	nsx "$1" wg set "$2" private-key "$(key "$3")" listen-port "$4" ||
		return 1
	nsx "$1" ip addr add "$5" dev "$2" && nsx "$1" ip link set "$2" up
}

# addr TAG IFACE ADDR/LEN: add an address (IPv6 without DAD).
addr() {
	local nodad=()
	[[ $3 == *:* ]] && nodad=(nodad)
	ip -n "$(ns "$1")" addr add "$3" dev "$2" "${nodad[@]}"
}

# replace TAG IFACE OLD NEW PREFIXLEN: add NEW, then delete OLD.
replace() {
	addr "$1" "$2" "$4/$5" && ip -n "$(ns "$1")" addr del "$3/$5" dev "$2"
}

# once TAG ADDR: a single ping, answered within 1 s (quiet unless not).
once() {
	local out
	out=$(nsx "$1" timeout 5 ping -n -q -c 1 -W 1 "$2" 2>&1) ||
		{ printf '%s\n' "$out"; return 1; }
}

# hostport FAMILY ADDR PORT: how `wg show endpoints` prints it.
hostport() {
	if [[ $1 == 6 ]]; then
		printf '[%s]:%s\n' "$2" "$3"
	else
		printf '%s:%s\n' "$2" "$3"
	fi
}

# refused IFACE: the daemon logged a refused sticky source (shows it).
refused() { grep -m 1 "sticky source refused" "$T_TMP/$1.log"; }

# refusals IFACE: how many batches the daemon logged as refused.
refusals() { grep -c "sticky source refused" "$T_TMP/$1.log"; }

# bulk FROM TO ADDR JSON: a 3 s TCP flow FROM -> TO's ADDR, iperf3's report
# in JSON; a stalled flow is cut after 10 s (and leaves no report).
bulk() {
	nsx "$2" timeout 15 iperf3 -s -1 >/dev/null 2>&1 &
	T_PIDS+=("$!")
	wait_for 5 bash -c "ip netns exec $(ns "$2") ss -Htln |
		grep -q ':5201 '" || return 1
	nsx "$1" timeout 10 iperf3 -c "$3" -t 3 -i 1 -J >"$4" 2>&1
}

# scenario FAMILY PREFIX PREFIXLEN: R starts at PREFIX1, moves to PREFIX11
# then PREFIX21; I starts at PREFIX2 and moves to PREFIX12.
scenario() {
	local f=$1 len=$3 r=r$1 i=i$1 ifr ifi n json
	local or=${2}1 nr=${2}11 tr=${2}21 oi=${2}2 ni=${2}12
	local inr=10.200.$f.1 ini=10.200.$f.2

	diag "--- IPv$f outer endpoints"
	ns_new "$r" "$i" && veth "$r" r0 "$i" i0 || bail "IPv$f namespaces"
	# Deleting a primary IPv4 address would take the new (secondary)
	# one with it unless it is promoted.
	nsx "$r" sysctl -qw net.ipv4.conf.all.promote_secondaries=1 \
		net.ipv4.conf.r0.promote_secondaries=1 || bail sysctl
	nsx "$i" sysctl -qw net.ipv4.conf.all.promote_secondaries=1 \
		net.ipv4.conf.i0.promote_secondaries=1 || bail sysctl
	addr "$r" r0 "$or/$len" && addr "$i" i0 "$oi/$len" ||
		bail "IPv$f addresses"
	keypair "$r" && keypair "$i" || bail keys
	ifr=$(ifname "$r") ifi=$(ifname "$i")
	tunnel "$r" "$ifr" "$r" 51820 "$inr/24" &&
		tunnel "$i" "$ifi" "$i" 51821 "$ini/24" || bail "IPv$f daemons"
	nsx "$r" wg set "$ifr" peer "$(pub "$i")" allowed-ips "$ini/32"
	nsx "$i" wg set "$ifi" peer "$(pub "$r")" allowed-ips "$inr/32" \
		endpoint "$(hostport "$f" "$or" 51820)"

	check "I reaches R" ping_some "$i" "$inr" &&
		check "... then all of 3" ping_ok "$i" "$inr"
	check "R pings back" ping_ok "$r" "$ini"
	check_eq "I sees R at its old address" \
		"$(endpoint_of "$i" "$ifi" "$r")" "$(hostport "$f" "$or" 51820)"
	check_not "no sticky source refused yet" refused "$ifr"

	check "R: $nr added, $or deleted" replace "$r" r0 "$or" "$nr" "$len"
	check "R's first single ping after that is answered" once "$r" "$ini"
	check_eq "I's endpoint for R followed to $nr" \
		"$(endpoint_of "$i" "$ifi" "$r")" "$(hostport "$f" "$nr" 51820)"
	check "R logged the refused source and resent" refused "$ifr"

	check "I: $ni added, $oi deleted" replace "$i" i0 "$oi" "$ni" "$len"
	check "I's first single ping after that is answered" once "$i" "$inr"
	check_eq "R's endpoint for I followed to $ni" \
		"$(endpoint_of "$r" "$ifr" "$i")" "$(hostport "$f" "$ni" 51821)"
	check "R's replies follow: its next single ping is answered" \
		once "$r" "$ini"
	check "... and I's" once "$i" "$inr"

	n=$(refusals "$ifr") json=$T_TMP/bulk$f.json
	bulk "$r" "$i" "$ini" "$json" &
	local bp=$!
	sleep 1
	check "R: $tr added, $nr deleted, 1 s into a bulk flow" \
		replace "$r" r0 "$nr" "$tr" "$len"
	wait "$bp"
	check "the flow's last second still moved data" \
		jq -e '.intervals[-1].sum | "\(.bytes) bytes in "
			+ "\(.start)-\(.end) s", .bytes > 0' "$json"
	check "R logged one more refused batch" \
		test "$(refusals "$ifr")" -gt "$n"
	check_eq "I's endpoint for R followed to $tr" \
		"$(endpoint_of "$i" "$ifi" "$r")" "$(hostport "$f" "$tr" 51820)"
	check "R's next single ping is answered" once "$r" "$ini"
}

scenario 4 192.0.2. 24
scenario 6 2001:db8:: 64

done_testing
