# Check 90: memory returns to its baseline once the interfaces are
# deleted and the module removed.
#
# For each subject IMPL (the module; stand-in cwg): one cycle is
#   the module loaded (IMPL=kmod), namespaces a and b, an interface in
#   each, peered and passing a ping and 200 kB, a gets PEERS more peers
#   (keys from tests/tools/deadfeed, an IPv4 and an IPv6 allowed IP
#   each), then both interfaces deleted, the namespaces deleted, the
#   module removed.
# A first cycle warms the caches up; then the baseline (SUnreclaim and
# MemAvailable of /proc/meminfo, after dropping the page cache and
# waiting for the numbers to settle: namespaces and RCU-freed objects go
# asynchronously); then LEAK_CYCLES cycles and the same measure. Checks:
# unreclaimable slab grew by at most SLAB_MAX_KB, MemAvailable fell by
# at most AVAIL_MAX_KB; nothing of the cycles is left (module, namespaces,
# daemons, UAPI sockets).
#
# Knobs: PEERS (200), LEAK_CYCLES (3), SLAB_MAX_KB (512), AVAIL_MAX_KB
# (2048); LEAK_CONTROL=1 is the negative control: each cycle leaves its
# namespace b (with its veth end) behind, which must fail the slab check.

. /vm/lib.sh
net_modules || bail "the network modules"
PEERS=${PEERS:-200}
LEAK_CYCLES=${LEAK_CYCLES:-3}
SLAB_MAX_KB=${SLAB_MAX_KB:-512}
AVAIL_MAX_KB=${AVAIL_MAX_KB:-2048}
LEAK_CONTROL=${LEAK_CONTROL:-0}
keypair a b || bail keys

deadfeed keys -n "$PEERS" -s 1 | awk '{
	i = NR; printf "[Peer]\nPublicKey = %s\nAllowedIPs = 10.%d.%d.%d/32, fd00:100::%x/128\n\n", $1, 100 + int(i / 65536), int(i / 256) % 256, i % 256, i
}' >"$T_TMP/peers.conf" || bail "deadfeed keys"

mem() { awk -v k="$1:" '$1 == k { print $2 }' /proc/meminfo; }
# slab_used: kB in objects in use, by /proc/slabinfo (active objects
# times their size, every cache).
slab_used() { awk 'NR > 2 { n += $2 * $4 } END { printf "%d", n / 1024 }' /proc/slabinfo; }
# shrink: the page cache dropped, and every slab cache's empty and
# per-CPU partial slabs given back (SLUB's /sys/kernel/slab/*/shrink),
# so that SUnreclaim counts what is in use rather than what SLUB keeps
# at hand.
shrink() {
	local f
	sync
	echo 3 >/proc/sys/vm/drop_caches
	for f in /sys/kernel/slab/*/shrink; do echo 1 >"$f"; done 2>/dev/null
}
# settle: shrink, then again every second until SUnreclaim moves by less
# than 32 kB over a second (at most 15 s): namespaces and RCU-freed
# objects go asynchronously.
settle() {
	local a b _
	shrink
	a=$(mem SUnreclaim)
	for _ in $(seq 15); do
		sleep 1
		shrink
		b=$(mem SUnreclaim)
		[ $((b > a ? b - a : a - b)) -lt 32 ] && break
		a=$b
	done
}
snap() { echo "SUnreclaim $(mem SUnreclaim) kB, slab objects $(slab_used) kB, MemAvailable $(mem MemAvailable) kB"; }

# cycle IMPL N: one cycle, in namespaces aN and bN; fails with what went
# wrong.
cycle() {
	local impl=$1 c=$2 ifa ifb a=a$2 b=b$2 t tr
	t=$(now)
	ifa=$(ifname a$c) ifb=$(ifname b$c)
	if [ "$impl" = kmod ]; then
		kmod_load || return 1
	fi
	pair_setup "$a" "$b" || return 1
	wg_up "$a" "$ifa" "$impl" a 51820 "$IN4_A/24" "$IN6_A/64" &&
		wg_up "$b" "$ifb" "$impl" b 51821 "$IN4_B/24" "$IN6_B/64" || return 1
	nsx "$a" wg set "$ifa" peer "$(pub b)" endpoint "$OUT4_B:51821" allowed-ips "$IN4_B/32,$IN6_B/128" &&
		nsx "$b" wg set "$ifb" peer "$(pub a)" allowed-ips "$IN4_A/32,$IN6_A/128" &&
		nsx "$a" wg addconf "$ifa" "$T_TMP/peers.conf" || return 1
	[ "$(nsx "$a" wg show "$ifa" peers | wc -l)" = $((PEERS + 1)) ] || {
		echo "cycle $c: $(nsx "$a" wg show "$ifa" peers | wc -l) peers on a"
		return 1
	}
	tr="set up $(since "$t") s, SUnreclaim then $(mem SUnreclaim) kB"
	ping_some "$a" "$IN4_B" 15 || {
		echo "cycle $c: no ping"
		return 1
	}
	xfer "$a" "$b" "$IN4_B" 200000 >/dev/null || {
		echo "cycle $c: transfer"
		return 1
	}
	tr+="; traffic $(since "$t") s"
	wg_del "$a" "$ifa" "$impl" && wg_del "$b" "$ifb" "$impl" || return 1
	tr+="; deleted $(since "$t") s"
	ns_del "$a"
	# The negative control leaves namespace bN, and its veth end, behind.
	[ "$LEAK_CONTROL" = 1 ] || ns_del "$b"
	if [ "$impl" = kmod ]; then
		kmod_unload || return 1
	fi
	echo "cycle $c: $tr; done $(since "$t") s" >&2
}

subjects "kmod" "cwg"
for impl in "${SUBJECTS[@]}"; do
	L=$(label "$impl")
	[ "$impl" != kmod ] || kmod_unload || bail "$KMOD_NAME would not unload before the baseline"
	check "90-leaks [$L]: a warm-up cycle" cycle "$impl" 0
	settle
	s0=$(mem SUnreclaim) a0=$(mem MemAvailable) o0=$(slab_used)
	diag "[$L] baseline: $(snap)"
	bad=0 why=""
	t0=$(now)
	for c in $(seq "$LEAK_CYCLES"); do
		if ! why=$(cycle "$impl" "$c" 2>"$T_TMP/trace"); then
			bad=1
			break
		fi
		[ ! -s "$T_TMP/trace" ] || diag "$(cat "$T_TMP/trace")"
		diag "[$L] after cycle $c: $(snap)"
	done
	ok $bad "90-leaks [$L]: $LEAK_CYCLES cycles with $PEERS extra peers each ($(since "$t0") s)" "$why"
	settle
	s1=$(mem SUnreclaim) a1=$(mem MemAvailable) o1=$(slab_used)
	diag "[$L] settled: $(snap); slab objects $((o1 - o0)) kB"
	[ $((s1 - s0)) -le "$SLAB_MAX_KB" ]
	ok $? "90-leaks [$L]: unreclaimable slab back to its baseline: $((s1 - s0)) kB more, at most $SLAB_MAX_KB"
	[ $((a0 - a1)) -le "$AVAIL_MAX_KB" ]
	ok $? "90-leaks [$L]: MemAvailable back to its baseline: $((a0 - a1)) kB less, at most $AVAIL_MAX_KB"
	left=$(
		[ "$impl" != kmod ] || ! kmod_loaded || echo "$KMOD_NAME loaded"
		[ "$LEAK_CONTROL" = 1 ] || ip netns list | grep "^vm$T_ID"
		for f in /run/wireguard/wg"$T_ID"*; do [ ! -e "$f" ] || echo "$f"; done
		pidof cwg wireguard-go
	)
	is "90-leaks [$L]: nothing left (module, namespaces, daemons, sockets)" "$left" ""
done
