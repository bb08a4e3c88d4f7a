#!/usr/bin/env bash
# Scenario 91: abuse of IMPL's UAPI socket (/var/run/wireguard/IFACE.sock).
#
# - Malformed requests, one connection each (tests/tools/uapi_client): an
#   unknown operation, stray lines, lines without '=', unknown keys,
#   multi-megabyte lines with and without a newline, NUL bytes in keys and
#   values, seeded binary junk, keys of the wrong length or alphabet,
#   out-of-range ports, marks, keepalive intervals, endpoints and prefixes.
#   Each must get an error reply (errno=-N) or a closed connection, never
#   errno=0; afterwards the daemon still runs, `wg show` answers and the
#   configuration (`wg showconf`) is exactly what it was.
# - 1000 pipelined get=1 on one connection: 1000 answers.
# - One peer with 1,000,000 distinct /32s in one set request: accepted
#   (errno=0) within BIG_MAX_S, read back by get=1 exactly; then removed.
# - 8 clients that send get=1 with that peer present and never read: the
#   memory they pin stays under 32 MiB.
# - 100 clients that connect and never send, plus 100 that sent half a
#   request (mid-line, and mid-set): `wg show` answers within 1 s and
#   `wg set` works while they are held; once they close, the daemon's open
#   file count returns to its level.
# - 300 clients that connect and never send: `wg show` still answers.
# - A full table (256 idle clients), and in one epoll batch a new
#   connection and the hang-up of the client its accept evicts: the daemon
#   keeps running and serving (freed at eviction, that client's event was
#   a use-after-free).
# - 100 clients that send half a request and vanish: the daemon keeps
#   serving, its file count returns to its level.
# - Memory: VmRSS at the end (big peer removed, clients gone) within
#   RSS_SLACK_KB of the level before the abuse; the peak is reported.
#
# Knobs: SEED (random, printed), BIG_N (1000000), BIG_MAX_S (60),
# RSS_SLACK_KB (8192).

. "$(dirname "$0")/lib.sh"
T_REQUIRE_CMDS=(openssl ss timeout awk sort cmp od base64)
require_env

require_tools uapi_client
UC=$TOOLS/uapi_client

SEED=${SEED:-$RANDOM$RANDOM}
BIG_N=${BIG_N:-1000000}
BIG_MAX_S=${BIG_MAX_S:-60}
RSS_SLACK_KB=${RSS_SLACK_KB:-8192}
diag "seed=$SEED big=$BIG_N (rerun with SEED=$SEED)"

ns_new u || bail "namespace"
keypair u && keypair p1 && keypair big || bail keys
IFU=$(ifname u)
SOCK=$(sock_of "$IFU")
start_impl u "$IFU" || bail "start IMPL"
PID=$START_PID
nsx u wg set "$IFU" private-key "$(key u)" listen-port 51930 \
	peer "$(pub p1)" endpoint 192.0.2.9:51931 allowed-ips 10.9.0.1/32,fd00:9::1/128 \
	persistent-keepalive 0 || bail "configure"

hexkey() { base64 -d <<<"$1" | od -An -v -tx1 | tr -d ' \n'; }
P1_HEX=$(hexkey "$(pub p1)")
BIG_HEX=$(hexkey "$(pub big)")
[[ ${#P1_HEX} -eq 64 && ${#BIG_HEX} -eq 64 ]] || bail "hex keys"

conf_now() { nsx u timeout 5 wg showconf "$IFU" 2>&1; }
BASE_CONF=$(conf_now)
vm_kb() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$PID/status"; }
nfds() { ls "/proc/$PID/fd" 2>/dev/null | wc -l; }
alive() { kill -0 "$PID" 2>/dev/null && ! pid_gone "$PID"; }
# Let the daemon settle, then take its levels.
sleep 0.5
RSS0=$(vm_kb VmRSS) FD0=$(nfds)
diag "before: VmRSS $RSS0 kB, $FD0 open files"

# ---------------------------------------------------- malformed requests

# refused: the reply is empty (connection closed) or an errno=-N, and
# never errno=0.
refused() {
	! grep -qx 'errno=0' "$T_TMP/reply" &&
		{ [[ ! -s $T_TMP/reply ]] || grep -qxE 'errno=-[1-9][0-9]*' "$T_TMP/reply"; }
}
# abuse NAME: sends stdin as one request on a fresh connection and checks
# the four outcomes: refused, daemon alive, `wg show` answers, config intact.
abuse() {
	local name=$1 why="" rc got
	timeout 20 "$UC" send "$SOCK" 10 >"$T_TMP/reply" 2>"$T_TMP/reply.err"
	rc=$?
	[[ $rc -eq 0 ]] || why+="client exit $rc: $(head -c 300 "$T_TMP/reply.err")"$'\n'
	refused || why+="accepted or odd reply: $(head -c 300 "$T_TMP/reply" | tr '\0\n' '@|')"$'\n'
	alive || why+="daemon died"$'\n'
	nsx u timeout 2 wg show "$IFU" >/dev/null 2>&1 || why+="wg show fails afterwards"$'\n'
	got=$(conf_now)
	[[ $got == "$BASE_CONF" ]] || why+="configuration changed:"$'\n'"$(diff <(echo "$BASE_CONF") <(echo "$got") | head -n 10)"
	if [[ -z $why ]]; then
		got=$(grep -m1 '^errno=' "$T_TMP/reply" || echo "connection closed")
		pass "uapi: $name -> $got"
	else
		fail "uapi: $name" "$why"
	fi
}
# Requests for the device, and for the existing peer p1.
dev_set() { printf 'set=1\n%s\n\n' "$1"; }
peer_set() { printf 'set=1\npublic_key=%s\n%s\n\n' "$P1_HEX" "$1"; }

abuse "unknown operation" < <(printf 'bogus=1\n\n')
abuse "blank lines as an operation" < <(printf '\n\n\n')
abuse "get=1 with a stray line" < <(printf 'get=1\nextra=1\n\n')
abuse "get=2" < <(printf 'get=2\n\n')
abuse "a line without '='" < <(dev_set 'listen_port')
abuse "an empty key" < <(dev_set '=51940')
abuse "unknown device key" < <(dev_set 'no_such_key=1')
abuse "unknown peer key" < <(peer_set 'no_such_key=1')
abuse "key in upper case" < <(dev_set 'LISTEN_PORT=51940')
abuse "a 3 MB line" < <({ printf 'set=1\nprivate_key='; head -c 3000000 /dev/zero | tr '\0' a; printf '\n\n'; })
abuse "a 20 MB line of digits" < <({ printf 'set=1\nlisten_port='; head -c 20000000 /dev/zero | tr '\0' 1; printf '\n\n'; })
abuse "2 MB without a newline, then EOF" < <(head -c 2000000 /dev/zero | tr '\0' x)
abuse "NUL inside a value" < <({ printf 'set=1\nlisten_port=5'; printf '\0'; printf '1940\n\n'; })
abuse "NUL inside a key" < <({ printf 'set=1\nlisten'; printf '\0'; printf '_port=51940\n\n'; })
abuse "NUL after get=1" < <({ printf 'get=1'; printf '\0'; printf '\n\n'; })
abuse "a line of NULs" < <({ printf 'set=1\n'; printf '\0\0\0\0\n\n'; })
abuse "1 MB of seeded binary junk" < <(data_gen "$SEED-junk" 1048576)
abuse "a 64 kB binary line inside set" < <({ printf 'set=1\n'; data_gen "$SEED-junk2" 65536 | tr -d '\n'; printf '\n\n'; })

H63=$(printf '%063d' 7) H65=$(printf '%065d' 7)
abuse "private_key of 63 hex digits" < <(dev_set "private_key=$H63")
abuse "private_key of 65 hex digits" < <(dev_set "private_key=$H65")
abuse "private_key with a non-hex character" < <(dev_set "private_key=${H63}g")
abuse "private_key in base64" < <(dev_set "private_key=$(cat "$(key p1)")")
abuse "public_key of 62 hex digits" < <(dev_set "public_key=${P1_HEX:0:62}")
abuse "public_key with a non-hex character" < <(dev_set "public_key=${P1_HEX:0:63}z")
abuse "public_key in base64" < <(dev_set "public_key=$(pub p1)")
abuse "preshared_key of 63 hex digits" < <(peer_set "preshared_key=${H63}")
for v in 65536 -1 99999999999999999999999 '' ' 51940' '51940 ' 0x1f 1e3 '+5'; do
	abuse "listen_port='$v'" < <(dev_set "listen_port=$v")
done
for v in 4294967296 -1 18446744073709551616 0x; do
	abuse "fwmark='$v'" < <(dev_set "fwmark=$v")
done
for v in 65536 -1 18446744073709551616 ten; do
	abuse "persistent_keepalive_interval='$v'" < <(peer_set "persistent_keepalive_interval=$v")
done
for v in 192.0.2.1:65536 '[2001:db8::1' 192.0.2.1 'host.invalid:1' '[2001:db8::1]:-1' '300.0.0.1:1'; do
	abuse "endpoint='$v'" < <(peer_set "endpoint=$v")
done
for v in 10.0.0.1/33 ::/129 10.0.0/8 10.0.0.1/-1 'fd00::1/1x' 10.0.0.256/32; do
	abuse "allowed_ip='$v'" < <(peer_set "allowed_ip=$v")
done
abuse "protocol_version=2" < <(peer_set 'protocol_version=2')
abuse "replace_allowed_ips=maybe" < <(peer_set 'replace_allowed_ips=maybe')
abuse "replace_peers=yes" < <(dev_set 'replace_peers=yes')

# ------------------------------------------------------------ pipelining
n_ok=$(for i in $(seq 1000); do printf 'get=1\n\n'; done |
	timeout 30 "$UC" send "$SOCK" 20 2>/dev/null | grep -cx 'errno=0')
check_eq "uapi: 1000 pipelined get=1 on one connection, 1000 answers" "$n_ok" 1000

# hold_start NAME N PREFIX: N connections kept open by one uapi_client
# until hold_release NAME (SIGTERM: it closes them all and exits 0).
declare -A HOLD_PID
hold_start() {
	"$UC" hold "$SOCK" "$2" "$3" </dev/null >"$T_TMP/hold.$1.out" 2>&1 &
	HOLD_PID[$1]=$!
	T_PIDS+=("${HOLD_PID[$1]}")
	wait_for 10 grep -q '^held=' "$T_TMP/hold.$1.out"
	grep -qx "held=$2" "$T_TMP/hold.$1.out"
}
hold_release() {
	local rc
	kill -TERM "${HOLD_PID[$1]}" 2>/dev/null
	wait "${HOLD_PID[$1]}"
	rc=$?
	[[ $rc -eq 0 ]] || echo "uapi_client hold exited $rc: $(cat "$T_TMP/hold.$1.out")"
	return $rc
}
fds_back() { (($(nfds) <= FD0)); }
# held NAME N PREFIX DESCRIPTION: one test point for hold_start.
held() {
	if hold_start "$1" "$2" "$3"; then
		pass "uapi: $4"
	else
		fail "uapi: $4" "$(cat "$T_TMP/hold.$1.out" 2>/dev/null)"
	fi
}
released() {
	if hold_release "$1" >"$T_TMP/hold.err"; then
		pass "uapi: $2"
	else
		fail "uapi: $2" "$(cat "$T_TMP/hold.err")"
	fi
}

# ------------------------------------------------- 1,000,000 allowed IPs
awk -v n="$BIG_N" 'BEGIN { for (i = 0; i < n; i++)
	printf "100.%d.%d.%d/32\n", 64 + int(i / 65536), int(i / 256) % 256, i % 256 }' |
	LC_ALL=C sort >"$T_TMP/big.want"
{
	printf 'set=1\npublic_key=%s\nreplace_allowed_ips=true\n' "$BIG_HEX"
	sed 's/^/allowed_ip=/' "$T_TMP/big.want"
	printf '\n'
} >"$T_TMP/big.req"
t0=$(date +%s.%N)
timeout $((BIG_MAX_S + 30)) "$UC" send "$SOCK" $((BIG_MAX_S + 20)) <"$T_TMP/big.req" >"$T_TMP/big.reply" 2>&1
t1=$(date +%s.%N)
set_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
diag "set with $BIG_N allowed_ip lines ($(stat -c %s "$T_TMP/big.req") bytes): ${set_s} s"
check_eq "uapi: $BIG_N allowed_ip lines for one peer accepted" "$(head -n1 "$T_TMP/big.reply")" "errno=0"
check "uapi: ... within $BIG_MAX_S s (${set_s} s)" awk -v t="$set_s" -v m="$BIG_MAX_S" 'BEGIN { exit !(t <= m) }'
RSS_BIG=$(vm_kb VmRSS)
diag "VmRSS with $BIG_N allowed IPs: $RSS_BIG kB"
t0=$(date +%s.%N)
printf 'get=1\n\n' | timeout $((BIG_MAX_S + 30)) "$UC" send "$SOCK" $((BIG_MAX_S + 20)) >"$T_TMP/big.get" 2>&1
t1=$(date +%s.%N)
diag "get=1 with them: $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s, $(stat -c %s "$T_TMP/big.get") bytes"
awk -v k="$BIG_HEX" -F= '$1 == "public_key" { in_big = ($2 == k) }
	in_big && $1 == "allowed_ip" { print $2 }' "$T_TMP/big.get" | LC_ALL=C sort >"$T_TMP/big.got"
check_eq "uapi: get=1 reads back $BIG_N prefixes for the peer" "$(wc -l <"$T_TMP/big.got")" "$BIG_N"
check "uapi: ... exactly the ones set" cmp -s "$T_TMP/big.want" "$T_TMP/big.got"
check_eq "uapi: get=1 ends with errno=0" "$(tail -n 2 "$T_TMP/big.get" | head -n1)" "errno=0"
# Clients that ask for this configuration and never read the answer: what
# the daemon keeps for them should not grow with the configuration's size
# times their number (an answer produced as the socket drains, or a cap on
# unread output, needs a few MiB at most).
rss_max=0
if hold_start slowread 8 'get=1\n\n'; then
	pass "uapi: 8 clients sent get=1 and read nothing"
	for i in $(seq 10); do
		r=$(vm_kb VmRSS)
		((r > rss_max)) && rss_max=$r
		sleep 0.5
	done
	diag "VmRSS with 8 unread answers of $BIG_N prefixes: $rss_max kB (was $RSS_BIG kB)"
	check_rss "uapi: 8 unread get=1 answers pin at most 32 MiB (+$(((rss_max - RSS_BIG) / 1024)) MiB)" \
		test $((rss_max - RSS_BIG)) -le 32768
	check "uapi: wg show answers within 1 s while they sit" nsx u timeout 1 wg show "$IFU" listen-port
else
	fail "uapi: 8 clients sent get=1 and read nothing" "$(cat "$T_TMP/hold.slowread.out")"
fi
released slowread "the get=1 clients close"
printf 'set=1\npublic_key=%s\nremove=true\n\n' "$BIG_HEX" |
	timeout 30 "$UC" send "$SOCK" 20 >"$T_TMP/reply" 2>&1
check_eq "uapi: the big peer removed" "$(head -n1 "$T_TMP/reply")" "errno=0"
check_eq "uapi: configuration back to what it was" "$(conf_now)" "$BASE_CONF"
rm -f "$T_TMP/big.req" "$T_TMP/big.get" "$T_TMP/big.got" "$T_TMP/big.want"

# ------------------------------------------------- idle and half clients
held silent 100 "" "100 clients connected that never send"
held midline 50 'set=1\nprivate_key=ab' "50 clients stopped mid-line (set=1, private_key=ab)"
held midset 50 "set=1\npublic_key=$P1_HEX\npersistent_keepalive_interval=0\n" \
	"50 clients stopped mid-set (a complete line, no blank line)"
# (cwg holds exactly one descriptor per client; wireguard-go one less.)
check "uapi: the daemon holds a descriptor for (about) each of the 200 (>= $((FD0 + 195)))" \
	wait_for 3 bash -c "(( \$(ls /proc/$PID/fd | wc -l) >= $((FD0 + 195)) ))"
diag "daemon now has $(nfds) open files (was $FD0)"
t0=$(date +%s.%N)
nsx u timeout 1 wg show "$IFU" >/dev/null 2>&1
rc=$?
show_s=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.3f", b - a }')
check_eq "uapi: wg show answers within 1 s while 200 clients hang (${show_s} s)" "$rc" 0
check "uapi: wg set works while they hang (no lock held)" \
	nsx u timeout 2 wg set "$IFU" peer "$(pub p1)" persistent-keepalive 25
check_eq "uapi: ... and took effect" \
	"$(nsx u timeout 2 wg show "$IFU" persistent-keepalive | awk '{ print $2 }')" 25
nsx u timeout 2 wg set "$IFU" peer "$(pub p1)" persistent-keepalive 0
released silent "the silent clients close"
released midline "the mid-line clients close"
released midset "the mid-set clients close"
check "uapi: the daemon closed them all (open files back to $FD0 within 3 s)" wait_for 3 fds_back
check_eq "uapi: configuration intact after the half requests" "$(conf_now)" "$BASE_CONF"

# More idle clients than a daemon may care to keep: whatever it does with
# them (serve them all, drop idle ones), `wg` must still get through, or a
# leaky monitoring script locks the administrator out for good.
held idle300 300 "" "300 clients connected that never send"
t0=$(date +%s.%N)
nsx u timeout 1 wg show "$IFU" listen-port >"$T_TMP/show.out" 2>&1
rc=$?
show_s=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.3f", b - a }')
check_eq "uapi: wg show answers within 1 s while 300 idle clients are connected (${show_s} s: $(head -c 100 "$T_TMP/show.out"))" "$rc" 0
released idle300 "the 300 idle clients close"
check "uapi: open files back to $FD0 within 3 s" wait_for 3 fds_back

# Eviction and hang-up in one batch. The daemon is stopped while the 200
# oldest of 256 idle clients hang up and one more connects; resumed, it
# gets the listener's event first and the hang-ups after it in the same
# epoll_wait batch, so accept evicts the oldest client and only then does
# that client's hang-up come up for dispatch.
fds_at_least() { (($(nfds) >= $1)); }
held oldest 200 "" "200 idle clients (the oldest)"
wait_for 5 fds_at_least $((FD0 + 195))
held younger 56 "" "56 more idle clients: 256, the table is full"
wait_for 5 fds_at_least $((FD0 + 250))
kill -STOP "$PID"
hold_start newest 1 ""
rc_new=$?
hold_release oldest >"$T_TMP/hold.err"
rc_old=$?
kill -CONT "$PID"
check_eq "uapi: while the daemon was stopped, one connected and the oldest 200 closed" \
	"$rc_new/$rc_old" "0/0"
check "uapi: wg show answers after that batch" nsx u timeout 2 wg show "$IFU" listen-port
check "uapi: daemon running" alive
released younger "the 56 younger clients close"
released newest "the newest client closes"
check "uapi: open files back to $FD0 within 3 s" wait_for 3 fds_back

# Half a request, then gone.
vanish_all() {
	local i
	for i in $(seq 25); do
		"$UC" vanish "$SOCK" 'set=1\nprivate_key=0123' || return 1
		"$UC" vanish "$SOCK" 'get=1' || return 1
		"$UC" vanish "$SOCK" "set=1\npublic_key=$P1_HEX\nallowed_ip=10.9.0." || return 1
		"$UC" vanish "$SOCK" 'stats=1\n' || return 1
	done
}
check "uapi: 100 clients sent half a request and vanished" vanish_all
check "uapi: daemon running" alive
check "uapi: wg show answers after them" nsx u timeout 1 wg show "$IFU" listen-port
check "uapi: open files back to $FD0 within 3 s" wait_for 3 fds_back
check_eq "uapi: configuration intact" "$(conf_now)" "$BASE_CONF"

# ---------------------------------------------------------------- memory
sleep 0.5
RSS1=$(vm_kb VmRSS) HWM=$(vm_kb VmHWM)
diag "VmRSS before $RSS0 kB, after $RSS1 kB, peak (VmHWM) $HWM kB"
check_rss "uapi: VmRSS back within $RSS_SLACK_KB kB of its level ($RSS0 -> $RSS1 kB)" \
	test "$RSS1" -le $((RSS0 + RSS_SLACK_KB))

done_testing
