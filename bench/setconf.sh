#!/usr/bin/env bash
# Reconfiguration, side by side: implementation A (default: build/cwg) and
# B (default: Debian's wireguard-go) given one peer with 130,560 allowed
# IPs (255 x 256 IPv4 /16s and as many IPv6 /128s) by `wg setconf`, then
# asked for them all by `wg show IFACE allowed-ips`, then given the same
# file again by `wg syncconf`.  See bench/README.md for how each number is
# taken.
#
# Knobs (environment):
#   IMPL_A    daemon A, path or command (default: build/cwg)
#   IMPL_B    daemon B (default: wireguard-go)
#   RUNS      rounds, each a fresh daemon of A then of B (default 5)
#   N4        IPv4 prefixes, at most 65280 (default 65280); as many IPv6
#   OUT       raw results file (default bench/setconf-DATE.txt)
#
# Needs root (a network namespace, TUN).  Everything it creates is named
# after its pid and removed on exit, as in bench/run.

set -u -o pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$BENCH_DIR/.." && pwd)
. "$BENCH_DIR/lib.sh"

IMPL_A=${IMPL_A:-$REPO_DIR/build/cwg}
IMPL_B=${IMPL_B:-wireguard-go}
RUNS=${RUNS:-5}
N4=${N4:-65280}
OUT=${OUT:-$BENCH_DIR/setconf-$(date +%Y%m%d-%H%M%S).txt}
BENCH_BIN_DIR=${BENCH_BIN_DIR:-$REPO_DIR/build/bench}

[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive integer"
if ! [[ $N4 =~ ^[1-9][0-9]*$ ]] || ((N4 > 65280)); then
	die "N4: 1 to 65280"
fi
[[ $(id -u) -eq 0 ]] || die "needs root (network namespaces, TUN)"
[[ -c /dev/net/tun ]] || die "no /dev/net/tun"
ensure_tools "$IMPL_A" "$IMPL_B"
PATH_A=$(resolve "$IMPL_A") || die "IMPL_A not found: $IMPL_A (run make?)"
PATH_B=$(resolve "$IMPL_B") || die "IMPL_B not found: $IMPL_B"
LABEL_A=$(basename "$PATH_A") LABEL_B=$(basename "$PATH_B")
if [[ $LABEL_A == "$LABEL_B" ]]; then
	LABEL_A="$LABEL_A (A)" LABEL_B="$LABEL_B (B)"
fi
NPFX=$((2 * N4))

B_TMP=$(mktemp -d "/tmp/$B_PFX.XXXXXX")
RAW="$B_TMP/raw"
: >"$RAW"
mkdir -p "$WG_RUN_DIR" "$(dirname "$OUT")"
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
IFC="cwgb${B_ID}s"

record() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$RAW"; }
FAILURES=0
failed() {
	FAILURES=$((FAILURES + 1))
	log "FAILED: $*"
}

# The configuration: an interface key and one peer, its allowed IPs on
# 256-prefix lines; the IPv6 ones are fd00::A:B/128.
(umask 077 && wg genkey >"$B_TMP/if.key" && wg genkey >"$B_TMP/peer.key") ||
	die "wg genkey failed"
PEER_PUB=$(wg pubkey <"$B_TMP/peer.key")
{
	printf '[Interface]\nPrivateKey = %s\nListenPort = 51999\n\n' "$(cat "$B_TMP/if.key")"
	printf '[Peer]\nPublicKey = %s\n' "$PEER_PUB"
	awk -v n="$N4" 'BEGIN {
		for (f = 4; f <= 6; f += 2) {
			for (i = 0; i < n; i++) {
				a = 1 + int(i / 256)
				b = i % 256
				if (b == 0)
					printf "%sAllowedIPs = ", i ? "\n" : ""
				else
					printf ","
				if (f == 4)
					printf "%d.%d.0.0/16", a, b
				else
					printf "fd00::%x:%x/128", a, b
			}
			printf "\n"
		}
	}'
} >"$B_TMP/big.conf"
chmod 600 "$B_TMP/big.conf"

ip netns add "$B_NS_A" && ip -n "$B_NS_A" link set lo up || die "namespace"

# cpu_ns PID: nanoseconds on a CPU, all threads (schedstat: finer than
# the clock ticks of /proc/PID/stat, which a 0.1 s command would make
# coarse).
cpu_ns() {
	cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ s += $1 } END { printf "%.0f\n", s }'
}
now_us() { echo "${EPOCHREALTIME/./}"; }

# timed TAG RUN METRIC PID CMD...: run CMD in the namespace, recording its
# wall time and the daemon's CPU time (seconds); fails with CMD.
timed() {
	local tag=$1 run=$2 metric=$3 pid=$4 t0 t1 c0 c1
	shift 4
	c0=$(cpu_ns "$pid")
	t0=$(now_us)
	timeout 120 ip netns exec "$B_NS_A" "$@" || return 1
	t1=$(now_us)
	c1=$(cpu_ns "$pid")
	record "$tag" "${metric}_s" "$run" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print (b - a) / 1e6 }')"
	record "$tag" "${metric}_cpu_s" "$run" "$(awk -v a="$c0" -v b="$c1" 'BEGIN { print (b - a) / 1e9 }')"
}

# one_run TAG BIN RUN: a fresh daemon; setconf, show, syncconf; memory.
one_run() {
	local tag=$1 bin=$2 run=$3 pid rss0 rss1 rss2 got
	pid=$(daemon_start "$B_NS_A" "$bin" "$IFC") || { failed "$tag run $run: start"; return; }
	B_PIDS+=("$pid")
	sleep 0.5 # settled: its start-up allocations are done
	rss0=$(status_kb VmRSS "$pid")
	timed "$tag" "$run" setconf "$pid" wg setconf "$IFC" "$B_TMP/big.conf" ||
		failed "$tag run $run: setconf"
	rss1=$(status_kb VmRSS "$pid")
	timed "$tag" "$run" show "$pid" \
		bash -c "wg show $IFC allowed-ips >$B_TMP/show.$tag" ||
		failed "$tag run $run: show"
	rss2=$(status_kb VmRSS "$pid")
	got=$(awk '{ print NF - 1 }' "$B_TMP/show.$tag")
	[[ $got == "$NPFX" ]] ||
		failed "$tag run $run: wg show listed ${got:-no} prefixes, not $NPFX"
	timed "$tag" "$run" syncconf "$pid" wg syncconf "$IFC" "$B_TMP/big.conf" ||
		failed "$tag run $run: syncconf"
	record "$tag" total_s "$run" "$(awk -F '\t' -v t="$tag" -v r="$run" '
		$1 == t && $3 == r && ($2 == "setconf_s" || $2 == "show_s") { s += $4 }
		END { print s }' "$RAW")"
	record "$tag" rss_setconf_B_per_prefix "$run" \
		"$(awk -v a="$rss0" -v b="$rss1" -v n="$NPFX" 'BEGIN { print (b - a) * 1024 / n }')"
	record "$tag" rss_show_B_per_prefix "$run" \
		"$(awk -v a="$rss0" -v b="$rss2" -v n="$NPFX" 'BEGIN { print (b - a) * 1024 / n }')"
	log "$tag run $run: $(awk -F '\t' -v t="$tag" -v r="$run" '$1 == t && $3 == r { printf "%s=%.3f ", $2, $4 }' "$RAW")"
	daemon_stop "$B_NS_A" "$IFC" "$pid"
}

# ---------------------------------------------------------------- report

summary() {
	awk -F '\t' -v t="$1" -v m="$2" '$1 == t && $2 == m { print $4 }' "$RAW" | stats
}
cell() {
	local s
	s=$(summary "$1" "$2")
	[[ -n $s ]] || { echo "n/a"; return; }
	awk -v f="$3" -v s="$s" 'BEGIN {
		split(s, a, " ")
		if (a[4] == 1 || a[2] == a[3]) printf f, a[1]
		else printf f " [" f "–" f "]", a[1], a[2], a[3]
	}'
}
ratio() {
	local x y
	x=$(summary A "$1") y=$(summary B "$1")
	x=${x%% *} y=${y%% *}
	[[ -n $x && -n $y ]] || { echo "—"; return; }
	awk -v x="$x" -v y="$y" 'BEGIN { if (y == 0) print "—"; else printf "%.2f", x / y }'
}

table() {
	local metric f title
	echo "| $NPFX prefixes, one peer | $LABEL_A (median [min–max]) | $LABEL_B | A/B |"
	echo "|---|---|---|---|"
	while IFS='|' read -r metric f title; do
		printf '| %s | %s | %s | %s |\n' "$title" "$(cell A "$metric" "$f")" \
			"$(cell B "$metric" "$f")" "$(ratio "$metric")"
	done <<EOF
setconf_s|%.3f|wg setconf, wall (s)
show_s|%.3f|wg show allowed-ips, wall (s)
total_s|%.3f|setconf + show, wall (s)
setconf_cpu_s|%.3f|daemon CPU in setconf (s)
show_cpu_s|%.3f|daemon CPU in show (s)
syncconf_s|%.3f|wg syncconf of the same file, wall (s)
syncconf_cpu_s|%.3f|daemon CPU in syncconf (s)
rss_setconf_B_per_prefix|%.1f|VmRSS growth by setconf, bytes per prefix
rss_show_B_per_prefix|%.1f|VmRSS growth by setconf + show, bytes per prefix
EOF
}

LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
awk -v l="${LOAD0%% *}" 'BEGIN { exit !(l > 0.5) }' &&
	log "warning: load average $LOAD0 before starting: numbers will be noisy"
log "A=$PATH_A B=$PATH_B runs=$RUNS prefixes=$NPFX out=$OUT"
for run in $(seq 1 "$RUNS"); do
	one_run A "$PATH_A" "$run"
	one_run B "$PATH_B" "$run"
done
# The core's own count, from the allowed-IPs microbenchmark (the same
# 130,560 prefixes): what the table allocates, lookup tables included.
CORE=""
if [[ -x $BENCH_BIN_DIR/bench_allowedips ]]; then
	CORE=$(timeout 120 "$BENCH_BIN_DIR/bench_allowedips" 2>/dev/null |
		awk '$1 ~ /^allowedips_(bytes_per_prefix|table_bytes_per_prefix)$/ { printf "%s=%s ", $1, $2 }')
fi

{
	echo "# cwg bench/setconf.sh, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "# host: $(uname -srm), $(nproc) cpus"
	echo "# A ($LABEL_A): $PATH_A, sha256 $(sha256sum "$PATH_A" | cut -c1-16)"
	echo "# B ($LABEL_B): $PATH_B, sha256 $(sha256sum "$PATH_B" | cut -c1-16)"
	echo "# load average: $LOAD0 at start, $(cut -d' ' -f1-3 /proc/loadavg) at end"
	echo "# runs=$RUNS prefixes=$NPFX failures=$FAILURES"
	echo "# bench_allowedips (A's core, same prefixes): ${CORE:-not run}"
	cat "$RAW"
	echo
	table
} >"$OUT"
echo
table
echo
echo "A's core (bench_allowedips, same prefixes): ${CORE:-not run}"
echo "raw numbers: $OUT ($FAILURES failures)"
[[ $FAILURES -eq 0 ]]
