# Helpers for bench/run, sourced, not executed.  Nothing here measures
# anything by itself: it installs tools, builds and tears down the two
# namespaces, starts daemons the wireguard-go way, and reads /proc.
#
# Everything created is named after the pid of the running bench/run
# (B_ID) so that two runs, or a run and tests/net, never share a name.

B_ID=$$
B_PFX="cwgb-$B_ID"
B_NS_A="$B_PFX-a"
B_NS_B="$B_PFX-b"
B_TMP=""
B_PIDS=()
WG_RUN_DIR=/var/run/wireguard

# Outer addresses (veth) and inner addresses (tunnel): documentation
# ranges, and only ever assigned inside the two namespaces made here.
# shellcheck disable=SC2034  # used by bench/run
B_OUT_A=192.0.2.1 B_OUT_B=192.0.2.2
# shellcheck disable=SC2034
B_IN_A=198.51.100.1 B_IN_B=198.51.100.2

log() { printf '[bench %s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# ---------------------------------------------------------------- tools

# ensure_tools: install, with apt-get, whatever a fresh Debian lacks.
# Only the packages that are actually missing are asked for.
ensure_tools() {
	local want=() c
	local -A pkg_of=(
		[iperf3]=iperf3 [jq]=jq [wg]=wireguard-tools
		[ping]=iputils-ping [ip]=iproute2 [ss]=iproute2
		[openssl]=openssl [pgrep]=procps [timeout]=coreutils
		[awk]=mawk
	)
	for c in "${!pkg_of[@]}"; do
		command -v "$c" >/dev/null 2>&1 || want+=("${pkg_of[$c]}")
	done
	# wireguard-go is only needed when one side is named that way.
	for c in "$@"; do
		[[ $c == wireguard-go ]] || continue
		command -v wireguard-go >/dev/null 2>&1 || want+=(wireguard-go)
	done
	[[ ${#want[@]} -eq 0 ]] && return 0
	# one package may be wanted for two commands
	mapfile -t want < <(printf '%s\n' "${want[@]}" | sort -u)
	command -v apt-get >/dev/null 2>&1 ||
		die "missing ${want[*]} and no apt-get to install them"
	log "installing: ${want[*]}"
	export DEBIAN_FRONTEND=noninteractive
	if ! timeout 600 apt-get install -y -q "${want[@]}" >/dev/null 2>&1; then
		timeout 600 apt-get update -q >/dev/null 2>&1
		timeout 600 apt-get install -y -q "${want[@]}" >/dev/null ||
			die "apt-get install ${want[*]} failed"
	fi
}

# resolve CMD: absolute path of a command name or path, or fail.
resolve() {
	local p
	p=$(command -v -- "$1" 2>/dev/null) || return 1
	[[ $p == /* ]] || p="$PWD/$p"
	[[ -x $p ]] || return 1
	printf '%s\n' "$p"
}

# ---------------------------------------------------------------- waiting

# now_s: wall clock seconds with a fraction.
now_s() { date +%s.%N; }

# wait_for TIMEOUT_S CMD...: poll CMD every 50 ms, at most TIMEOUT_S.
wait_for() {
	local deadline
	deadline=$(awk -v n="$(now_s)" -v t="$1" 'BEGIN { printf "%.3f", n + t }')
	shift
	while ! "$@" >/dev/null 2>&1; do
		awk -v n="$(now_s)" -v d="$deadline" 'BEGIN { exit !(n > d) }' &&
			return 1
		sleep 0.05
	done
}

# wait_pid TIMEOUT_S PID: wait for a background job of this shell, bounded;
# a job still running at the deadline is killed.  Returns its status.
wait_pid() {
	if ! wait_for "$1" bash -c "! kill -0 $2 2>/dev/null"; then
		log "pid $2 still running after $1 s: killing it"
		kill -KILL "$2" 2>/dev/null
	fi
	wait "$2" 2>/dev/null
}

# ---------------------------------------------------------------- namespaces

nsx() {
	local n=$1
	shift
	ip netns exec "$n" "$@"
}

# ns_pair_setup: namespaces A and B, lo up, joined by veth va <-> vb
# (default MTU 1500) carrying the outer addresses.
ns_pair_setup() {
	local n
	for n in "$B_NS_A" "$B_NS_B"; do
		ip netns add "$n" || return 1
		ip -n "$n" link set lo up || return 1
	done
	ip link add va netns "$B_NS_A" type veth peer name vb netns "$B_NS_B" ||
		return 1
	ip -n "$B_NS_A" addr add "$B_OUT_A/24" dev va &&
	ip -n "$B_NS_B" addr add "$B_OUT_B/24" dev vb &&
	ip -n "$B_NS_A" link set va up &&
	ip -n "$B_NS_B" link set vb up
}

# cleanup: stop whatever this run started, delete its namespaces (which
# takes the veth and any tunnel interface with them), remove its sockets.
cleanup() {
	local rc=$? ns pid pids=()
	trap - EXIT INT TERM
	for ns in "$B_NS_A" "$B_NS_B"; do
		ip netns list 2>/dev/null | grep -q "^$ns\b" || continue
		mapfile -t -O "${#pids[@]}" pids < <(ip netns pids "$ns" 2>/dev/null)
	done
	pids+=("${B_PIDS[@]:-}")
	for pid in "${pids[@]:-}"; do
		[[ -n $pid ]] && kill -TERM "$pid" 2>/dev/null
	done
	for pid in "${pids[@]:-}"; do
		[[ -n $pid ]] || continue
		wait_for 3 bash -c "! kill -0 $pid 2>/dev/null" ||
			kill -KILL "$pid" 2>/dev/null
	done
	for ns in "$B_NS_A" "$B_NS_B"; do
		ip netns del "$ns" 2>/dev/null
	done
	rm -f "$WG_RUN_DIR"/cwgb"$B_ID"*.sock "$WG_RUN_DIR"/cwgb"$B_ID"*.name 2>/dev/null
	[[ -n $B_TMP && -d $B_TMP ]] && rm -rf "$B_TMP"
	exit "$rc"
}

# ---------------------------------------------------------------- daemons

sock_of() { printf '%s/%s.sock\n' "$WG_RUN_DIR" "$1"; }

# socket_pid NS IFACE: pid of the process listening on IFACE's UAPI socket.
# Unix sockets belong to a network namespace, so ss runs inside it.
socket_pid() {
	local p
	p=$(nsx "$1" ss -Hxlp 2>/dev/null | awk -v s="$(sock_of "$2")" '
		$5 == s && match($0, /pid=[0-9]+/) {
			print substr($0, RSTART + 4, RLENGTH - 4); exit
		}')
	[[ -n $p ]] || return 1
	printf '%s\n' "$p"
}

# proc_tree PID: PID and all its descendants, one a line.  A daemon that
# forks helpers (privilege separation, workers) is charged for all of them.
proc_tree() {
	local p=$1 c
	printf '%s\n' "$p"
	for c in $(pgrep -P "$p" 2>/dev/null); do
		proc_tree "$c"
	done
}

# daemon_start NS BIN IFACE: start BIN IFACE the default (daemonizing)
# way inside NS; wait up to 5 s for its socket and interface.  Prints the
# daemon's pid.
daemon_start() {
	local ns=$1 bin=$2 ifc=$3 pid logf="$B_TMP/$3.log"
	# The daemonized child may keep the launcher's stdout and stderr (as
	# wireguard-go does when LOG_LEVEL is set): a file, never a pipe that
	# a command substitution would wait on forever.
	if ! timeout 15 ip netns exec "$ns" env LOG_LEVEL=error \
		WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1 \
		"$bin" "$ifc" >"$logf" 2>&1 </dev/null; then
		log "$bin $ifc failed to start: $(head -c 500 "$logf")"
		return 1
	fi
	if ! wait_for 5 test -S "$(sock_of "$ifc")" ||
	   ! wait_for 5 ip -n "$ns" link show dev "$ifc"; then
		log "$bin $ifc: no UAPI socket or interface after 5 s"
		return 1
	fi
	wait_for 3 socket_pid "$ns" "$ifc"
	pid=$(socket_pid "$ns" "$ifc") || {
		log "$bin $ifc: cannot find the daemon's pid"
		return 1
	}
	printf '%s\n' "$pid"
}

# daemon_stop NS IFACE PID: SIGTERM, at most 3 s, then SIGKILL; make sure
# the interface and socket are gone so the next implementation starts clean.
daemon_stop() {
	local ns=$1 ifc=$2 pid=$3 p
	for p in $(proc_tree "$pid"); do
		kill -TERM "$p" 2>/dev/null
	done
	wait_for 3 bash -c "! kill -0 $pid 2>/dev/null" || {
		log "$ifc (pid $pid) ignored SIGTERM for 3 s: SIGKILL"
		kill -KILL "$pid" 2>/dev/null
	}
	ip -n "$ns" link del "$ifc" 2>/dev/null
	rm -f "$(sock_of "$ifc")"
	return 0
}

# ---------------------------------------------------------------- /proc

# cpu_ticks PID...: utime + stime (clock ticks) summed over the processes
# and all their threads.  Field numbers count from after the ")" that ends
# the command name, which may itself hold spaces or parentheses.
cpu_ticks() {
	local p total=0 rest t
	for p in "$@"; do
		rest=$(cat "/proc/$p/stat" 2>/dev/null) || continue
		rest=${rest##*) }
		# after "comm) ": state is field 1, utime field 12, stime 13
		t=$(awk '{ print $12 + $13 }' <<<"$rest")
		total=$((total + t))
	done
	printf '%s\n' "$total"
}

# status_kb FIELD PID: a kB field (VmRSS, VmHWM) of /proc/PID/status.
status_kb() {
	awk -v f="$1:" '$1 == f { print $2; exit }' "/proc/$2/status" 2>/dev/null
}

# ---------------------------------------------------------------- stats

# stats: read numbers, one a line; print "median min max n" (nothing
# for no input).
stats() {
	sort -g | awk '
		{ v[++n] = $1 }
		END {
			if (n == 0) exit
			m = (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
			printf "%.6g %.6g %.6g %d\n", m, v[1], v[n], n
		}'
}
