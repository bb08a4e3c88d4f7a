# Check 10: interfaces come and go.
#
# For each subject IMPL (the module; stand-ins cwg and wireguard-go):
#   - CYCLES times: an interface created, keyed, given a port and a peer,
#     brought up, deleted; nothing of it left (link, UAPI socket, daemon);
# and with the module only:
#   - rmmod while interfaces live: a tunnel between two namespaces with
#     pings running through it, a second interface down, a third moved to
#     another namespace; rmmod succeeds, every one of them is gone, and
#     the module loads again and makes interfaces;
#   - the namespace an interface was created in goes away while the
#     interface lives in another: it stays and `wg show` still answers;
#     then its own namespace goes (the driver checks the kernel log).
#
# Knobs: CYCLES (10 for the module, 3 for a stand-in: a daemon's start
# takes about a second under TCG).

. /vm/lib.sh
keypair a b || bail keys
net_modules || bail "the network modules"

subjects "kmod" "cwg wggo"
for impl in "${SUBJECTS[@]}"; do
	L=$(label "$impl")
	n=${CYCLES:-10}
	[ "$impl" = kmod ] || n=${CYCLES:-3}
	ns_new c || bail "namespace"
	IFC=$(ifname c)
	t0=$(now)
	bad=0 why=""
	for i in $(seq "$n"); do
		if ! out=$(wg_add c "$IFC" "$impl" 2>&1 &&
			nsx c wg set "$IFC" private-key "$(key a)" listen-port 51820 \
				peer "$(pub b)" endpoint 192.0.2.2:51820 allowed-ips 10.0.0.2/32 2>&1 &&
			ip -n "$(ns c)" link set "$IFC" up 2>&1 &&
			[ "$(nsx c wg show "$IFC" listen-port)" = 51820 ] &&
			wg_del c "$IFC" "$impl" 2>&1); then
			bad=1 why="cycle $i: $out"
			break
		fi
	done
	ok $bad "10-link [$L]: $n cycles of create, configure, up, delete ($(since "$t0") s)" "$why"
	left=$(ip -n "$(ns c)" -o link show dev "$IFC" 2>/dev/null; ls /run/wireguard/"$IFC".sock 2>/dev/null; daemon_of "$IFC")
	is "10-link [$L]: nothing left of it (link, socket, daemon)" "$left" ""
	ns_del c

	if [ "$impl" != kmod ]; then
		skip "10-link [$L]: rmmod with live interfaces" "a module check; $L is userspace"
		skip "10-link [$L]: the creating namespace goes first" "a module check; $L is userspace"
		continue
	fi

	# rmmod with live interfaces, one of them carrying pings.
	pair_setup && ns_new d || bail "namespaces"
	IFA=$(ifname a) IFB=$(ifname b) IFX=$(ifname x) IFM=$(ifname m)
	wg_up a "$IFA" kmod a 51820 "$IN4_A/24" "$IN6_A/64" &&
		wg_up b "$IFB" kmod b 51820 "$IN4_B/24" "$IN6_B/64" &&
		nsx a wg set "$IFA" peer "$(pub b)" endpoint "$OUT4_B:51820" allowed-ips "$IN4_B/32" &&
		nsx b wg set "$IFB" peer "$(pub a)" endpoint "$OUT4_A:51820" allowed-ips "$IN4_A/32" &&
		wg_add a "$IFX" kmod && wg_add a "$IFM" kmod &&
		ip -n "$(ns a)" link set "$IFM" netns "$(ns d)" || bail "interfaces for rmmod"
	check "10-link [$L]: the tunnel pings before rmmod" ping_some a "$IN4_B"
	nsx a ping -q -i 0.05 -c 400 "$IN4_B" >/dev/null 2>&1 &
	pinger=$!
	sleep 1
	t0=$(now)
	check "10-link [$L]: rmmod $KMOD_NAME with 4 live interfaces, pings running" timeout 60 rmmod "$KMOD_NAME"
	diag "rmmod took $(since "$t0") s"
	kill "$pinger" 2>/dev/null
	wait "$pinger" 2>/dev/null
	left=$(for t in a b d; do ip -n "$(ns "$t")" -o link show type wireguard 2>/dev/null; done)
	is "10-link [$L]: the module took its interfaces with it" "$left" ""
	check_not "10-link [$L]: the module is gone" kmod_loaded
	reload() { kmod_load && ip -n "$(ns a)" link add "$IFX" type wireguard && ip -n "$(ns a)" link del "$IFX"; }
	check "10-link [$L]: it loads again and makes an interface" reload
	ns_del a b d

	# The creating namespace goes away first.
	ns_new e f || bail "namespaces"
	IFE=$(ifname e)
	wg_add e "$IFE" kmod && nsx e wg set "$IFE" private-key "$(key a)" listen-port 51830 &&
		ip -n "$(ns e)" link set "$IFE" up &&
		ip -n "$(ns e)" link set "$IFE" netns "$(ns f)" || bail "an interface moved away"
	ns_del e
	sleep 1
	check "10-link [$L]: the moved interface outlives its creating namespace, and wg show answers" \
		bash -c "ip -n $(ns f) link show dev $IFE && ip netns exec $(ns f) wg show $IFE"
	# Its namespace's exit takes it; the driver reads the kernel log.
	ns_del f
	sleep 1
done
