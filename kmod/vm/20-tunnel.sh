# Check 20: a tunnel between two namespaces, IPv4 and IPv6 inside and
# outside, with data checked end to end.
#
# For each subject A:B (the module on both sides; stand-in cwg against
# wireguard-go): namespaces a and b joined by a veth, one interface in
# each, peered over the outer IPv4 addresses. Then, over outer IPv4 and
# again after both endpoints were switched to the outer IPv6 addresses:
# BYTES over TCP inside IPv4 from a to b and inside IPv6 from b to a,
# each compared by byte count and SHA-256 (lib.sh's xfer); pings of the
# largest size the inner MTU takes unfragmented; the endpoints each side
# holds are the other's outer address of that family.
#
# Knobs: BYTES (lib.sh).

. /vm/lib.sh
keypair a b || bail keys
net_modules || bail "the network modules"

subjects "kmod:kmod" "cwg:wggo"
for s in "${SUBJECTS[@]}"; do
	IA=${s%%:*} IB=${s##*:}
	L=$(slabel "$s")
	pair_setup || bail "namespaces and veth"
	IFA=$(ifname a) IFB=$(ifname b) PA=51820 PB=51821
	wg_up a "$IFA" "$IA" a $PA "$IN4_A/24" "$IN6_A/64" || bail "interface in a ($IA)"
	wg_up b "$IFB" "$IB" b $PB "$IN4_B/24" "$IN6_B/64" || bail "interface in b ($IB)"
	nsx a wg set "$IFA" peer "$(pub b)" endpoint "$OUT4_B:$PB" allowed-ips "$IN4_B/32,$IN6_B/128" &&
		nsx b wg set "$IFB" peer "$(pub a)" endpoint "$OUT4_A:$PA" allowed-ips "$IN4_A/32,$IN6_A/128" ||
		bail "peers"
	mtu=$(ip -n "$(ns a)" -o link show dev "$IFA" | sed -n 's/.* mtu \([0-9]*\).*/\1/p')
	diag "[$L] inner MTU $mtu"

	for fam in 4 6; do
		if [ $fam = 6 ]; then
			nsx a wg set "$IFA" peer "$(pub b)" endpoint "[$OUT6_B]:$PB" &&
				nsx b wg set "$IFB" peer "$(pub a)" endpoint "[$OUT6_A]:$PA" || bail "IPv6 endpoints"
			ea="[$OUT6_B]:$PB" eb="[$OUT6_A]:$PA"
		else
			ea="$OUT4_B:$PB" eb="$OUT4_A:$PA"
		fi
		check "20-tunnel [$L] outer IPv$fam: a handshake, and pings inside IPv4" ping_some a "$IN4_B" 15
		check "20-tunnel [$L] outer IPv$fam: pings inside IPv6" ping_ok b "$IN6_A"
		check "20-tunnel [$L] outer IPv$fam: $BYTES bytes inside IPv4, a to b, whole" xfer a b "$IN4_B" "$BYTES"
		check "20-tunnel [$L] outer IPv$fam: $BYTES bytes inside IPv6, b to a, whole" xfer b a "$IN6_A" "$BYTES"
		# Largest unfragmented: MTU - 20 (IPv4) - 8 (ICMP) and - 40 - 8.
		check "20-tunnel [$L] outer IPv$fam: full-MTU pings, IPv4 and IPv6 inside" \
			bash -c "ip netns exec $(ns a) ping -q -c 2 -W 3 -s $((mtu - 28)) $IN4_B >/dev/null && ip netns exec $(ns a) ping -q -c 2 -W 3 -s $((mtu - 48)) $IN6_B >/dev/null"
		is "20-tunnel [$L] outer IPv$fam: each side's endpoint is the other's IPv$fam address" \
			"$(endpoint_of a "$IFA" b) $(endpoint_of b "$IFB" a)" "$ea $eb"
	done
	wg_del a "$IFA" "$IA"
	wg_del b "$IFB" "$IB"
	ns_del a b
done
