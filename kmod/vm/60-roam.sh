# Check 60: roaming, sticky source, peer removal and `wg syncconf` under
# traffic.
#
# Subjects C:S, client and server (the module on both; stand-in cwg
# against wireguard-go): the server is the one under test, and the client
# where it roams. Namespace
# b (the server) has a second outer address of each family, 192.0.2.9
# and 2001:db8::9, which is not the one its routing would pick as the
# source towards a (192.0.2.2, and 2001:db8::2 by longest match); the
# client is given that second address as the server's endpoint, and the
# server has no endpoint for the client.
#   - sticky source, IPv4 then IPv6: after pings both ways, the client
#     still holds the second address as the server's endpoint: the server
#     answered, and sent on its own, from the address the client reached
#     it at (a reply from another address would have moved the client's
#     endpoint there);
#   - roaming: the client's address changes (192.0.2.1 -> 192.0.2.11, the
#     old one removed): its pings still get through (it must drop the
#     source it remembered), the server's endpoint for it follows, and
#     the server reaches it there;
#   - peer removal under traffic: while the client pings every 20 ms, the
#     server removes it: the removal succeeds, the peer is gone from `wg
#     show`, pings no longer get through; given back (with an endpoint),
#     the server reaches the client again;
#   - wg syncconf under traffic: while BYTES go from client to server,
#     the server is resynchronised again and again between two
#     configurations that keep the client (one adding an allowed IP to
#     it) and swap other peers in and out, from before the transfer
#     starts until after it ends. The transfer arrives whole, every
#     syncconf succeeds, at least one completed during it, the client's
#     session survived (latest handshake unchanged), and the peers are
#     the last configuration's.
#
# Knobs: BYTES (lib.sh).

. /vm/lib.sh
net_modules || bail "the network modules"
keypair a b d e f || bail keys
SRC4=192.0.2.9 SRC6=2001:db8::9 ROAM4=192.0.2.11

subjects "kmod:kmod" "cwg:wggo"
for s in "${SUBJECTS[@]}"; do
	IC=${s%%:*} IS=${s##*:}
	L=$(slabel "$s")
	pair_setup || bail "namespaces and veth"
	ip -n "$(ns b)" addr add "$SRC4/24" dev vb && ip -n "$(ns b)" addr add "$SRC6/64" dev vb nodad ||
		bail "b's second addresses"
	IFA=$(ifname a) IFB=$(ifname b) PA=51860 PB=51861
	wg_up a "$IFA" "$IC" a $PA "$IN4_A/24" "$IN6_A/64" || bail "client ($IC)"
	wg_up b "$IFB" "$IS" b $PB "$IN4_B/24" "$IN6_B/64" || bail "server ($IS)"
	nsx a wg set "$IFA" peer "$(pub b)" endpoint "$SRC4:$PB" allowed-ips "$IN4_B/32,$IN6_B/128" &&
		nsx b wg set "$IFB" peer "$(pub a)" allowed-ips "$IN4_A/32,$IN6_A/128" || bail "peers"

	# Sticky source.
	check "60-roam [$L]: client to server, first ping" ping_some a "$IN4_B" 15
	check "60-roam [$L]: server to client" ping_ok b "$IN4_A"
	is "60-roam [$L]: sticky source IPv4: the client's endpoint for the server is still $SRC4" \
		"$(endpoint_of a "$IFA" b)" "$SRC4:$PB"
	nsx a wg set "$IFA" peer "$(pub b)" endpoint "[$SRC6]:$PB" || bail "IPv6 endpoint"
	check "60-roam [$L]: over IPv6, client to server" ping_ok a "$IN6_B"
	check "60-roam [$L]: over IPv6, server to client" ping_ok b "$IN6_A"
	is "60-roam [$L]: sticky source IPv6: the client's endpoint for the server is still $SRC6" \
		"$(endpoint_of a "$IFA" b)" "[$SRC6]:$PB"
	is "60-roam [$L]: the server's endpoint for the client is its IPv6 address" \
		"$(endpoint_of b "$IFB" a)" "[$OUT6_A]:$PA"

	# Roaming: the client's IPv4 address changes.
	nsx a wg set "$IFA" peer "$(pub b)" endpoint "$SRC4:$PB" || bail "back to IPv4"
	check "60-roam [$L]: back over IPv4" ping_ok a "$IN4_B"
	ip -n "$(ns a)" addr del "$OUT4_A/24" dev va && ip -n "$(ns a)" addr add "$ROAM4/24" dev va ||
		bail "client's new address"
	check "60-roam [$L]: roamed client ($OUT4_A -> $ROAM4): its pings get through" ping_some a "$IN4_B" 10
	is "60-roam [$L]: the server's endpoint for the client followed it" "$(endpoint_of b "$IFB" a)" "$ROAM4:$PA"
	check "60-roam [$L]: the server reaches the roamed client" ping_ok b "$IN4_A"

	# Peer removal under traffic.
	nsx a ping -q -i 0.02 -c 150 "$IN4_B" >/dev/null 2>&1 &
	pinger=$!
	sleep 1
	check "60-roam [$L]: the server removes the client while it pings every 20 ms" \
		nsx b wg set "$IFB" peer "$(pub a)" remove
	wait "$pinger"
	is "60-roam [$L]: the removed peer is gone from wg show" \
		"$(nsx b wg show "$IFB" peers | grep -c "$(pub a)")" 0
	check_not "60-roam [$L]: pings no longer get through" ping_some a "$IN4_B" 3
	nsx b wg set "$IFB" peer "$(pub a)" endpoint "$ROAM4:$PA" allowed-ips "$IN4_A/32,$IN6_A/128" ||
		bail "peer given back"
	check "60-roam [$L]: given back, the server reaches the client again" ping_some b "$IN4_A" 15
	hs0=$(handshake_of a "$IFA" b)

	# wg syncconf under traffic.
	for v in 0 1; do
		{
			printf '[Interface]\nPrivateKey = %s\nListenPort = %s\n\n' "$(cat "$(key b)")" $PB
			printf '[Peer]\nPublicKey = %s\nEndpoint = %s\nAllowedIPs = %s/32, %s/128%s\n\n' \
				"$(pub a)" "$ROAM4:$PA" "$IN4_A" "$IN6_A" "$([ $v = 1 ] && echo ", 10.200.9.0/24")"
			printf '[Peer]\nPublicKey = %s\nAllowedIPs = 10.77.0.%s/32\n\n' "$(pub d)" 1
			other=e
			[ $v = 1 ] && other=f
			printf '[Peer]\nPublicKey = %s\nAllowedIPs = 10.77.0.%s/32\n\n' "$(pub "$other")" 2
		} >"$T_TMP/sync$v.conf"
	done
	rm -f "$T_TMP/xfer.done" "$T_TMP/sync.err"
	echo 0 >"$T_TMP/sync.count"
	(
		i=0
		while [ ! -e "$T_TMP/xfer.done" ]; do
			nsx b wg syncconf "$IFB" "$T_TMP/sync$((i % 2)).conf" 2>>"$T_TMP/sync.err" ||
				echo "syncconf $i failed" >>"$T_TMP/sync.err"
			i=$((i + 1))
			echo $i >"$T_TMP/sync.count"
		done
	) &
	syncer=$!
	wait_for 10 bash -c "[ \$(cat $T_TMP/sync.count) -ge 1 ]"
	n0=$(cat "$T_TMP/sync.count")
	check "60-roam [$L]: $BYTES bytes client to server during repeated wg syncconf, whole" xfer a b "$IN4_B" "$BYTES"
	n1=$(cat "$T_TMP/sync.count")
	touch "$T_TMP/xfer.done"
	wait "$syncer"
	n=$(cat "$T_TMP/sync.count")
	# The last one run is sync$(((n - 1) % 2)).
	last=$(((n - 1) % 2))
	[ -z "$(cat "$T_TMP/sync.err" 2>/dev/null)" ] && [ "$n0" -ge 1 ] && [ "$n1" -gt "$n0" ]
	ok $? "60-roam [$L]: wg syncconf ran before, during ($((n1 - n0)) done) and after the transfer, all $n succeeded" \
		"$(cat "$T_TMP/sync.err" 2>/dev/null)"
	is "60-roam [$L]: the client's session survived them (latest handshake unchanged)" \
		"$(handshake_of a "$IFA" b)" "$hs0"
	want=$( (
		pub a
		pub d
		if [ $last = 1 ]; then pub f; else pub e; fi
	) | sort | tr '\n' ' ')
	is "60-roam [$L]: the peers are the last configuration's" \
		"$(nsx b wg show "$IFB" peers | sort | tr '\n' ' ')" "$want"
	wg_del a "$IFA" "$IC"
	wg_del b "$IFB" "$IS"
	ns_del a b
done
