#!/usr/bin/env bash
# Scenario 85: where a daemonized cwg logs (src/linux/log.c, cwg(8)
# ENVIRONMENT).  The script runs in a mount namespace of its own whose
# /dev is a small tmpfs (the host's null, zero, random, urandom and
# net/tun bound into it), so the /dev/log socket is ours: tests/tools/
# syslog_sink prints every datagram that reaches it.
#
# Two daemons at LOG_LEVEL=verbose, with the sandbox on, make a tunnel
# with a preshared key, hand-shake, see their MTU change, refuse a port
# that is taken, lose their syslog daemon to a restart, and stop: every
# line must be facility daemon (err, warning or info), ident cwg with the
# daemon's pid, the interface name first, and none may hold a key (the
# private and preshared keys in base64 and in hex, or anything shaped
# like a 32-byte key), and the daemon's stderr must be /dev/null. Then:
# LOG_LEVEL unset sends errors only; a foreground daemon (-f) keeps
# stderr and sends nothing; with no /dev/log the daemon keeps logging to
# stderr, as before.

if [[ ${CWGT_OWN_MNTNS:-} != 1 && $(id -u) -eq 0 ]] &&
   unshare -m --propagation private true 2>/dev/null; then
	CWGT_OWN_MNTNS=1 exec unshare -m --propagation private bash "$0" "$@"
fi

. "$(dirname "$0")/lib.sh"
# The daemons here must reach this script's /dev/log (lib.sh hides it).
T_DEVLOG=keep
T_REQUIRE_CMDS=(mount ping ss timeout ncat od base64)
require_env
[[ ${CWGT_OWN_MNTNS:-} == 1 ]] || skip_all "needs a mount namespace of its own (unshare -m)"
require_tools syslog_sink

PA=51820 PB=51821 BUSY=51899
IFA=$(ifname a) IFB=$(ifname b) IFC=$(ifname c) IFF=$(ifname f) IFN=$(ifname n)
LOG1="$T_TMP/syslog.1" LOG2="$T_TMP/syslog.2"

# private_dev: /dev becomes a tmpfs of this mount namespace holding bind
# mounts of the few nodes needed; the host's /dev is not touched.
private_dev() {
	local s n
	s=$(mktemp -d "/tmp/$T_PFX-dev.XXXXXX") || return 1
	if ! mount -t tmpfs -o mode=0755,size=64k "$T_PFX-dev" "$s"; then
		rmdir "$s"
		return 1
	fi
	for n in null zero random urandom net/tun; do
		mkdir -p "$(dirname "$s/$n")" && touch "$s/$n" &&
			mount --bind "/dev/$n" "$s/$n" || break
	done
	ln -s /proc/self/fd "$s/fd"
	ln -s /proc/self/fd/0 "$s/stdin"
	ln -s /proc/self/fd/1 "$s/stdout"
	ln -s /proc/self/fd/2 "$s/stderr"
	if [[ -c $s/net/tun ]] && mount --move "$s" /dev; then
		rmdir "$s"
		return 0
	fi
	umount -R "$s"
	rmdir "$s"
	return 1
}

# sink_start FILE: a syslog_sink at /dev/log writing to FILE.
sink_start() {
	"$TOOLS/syslog_sink" /dev/log >"$1" 2>>"$T_TMP/sink.err" </dev/null &
	SINK_PID=$!
	T_PIDS+=("$SINK_PID")
	wait_for 2 test -S /dev/log
}

sink_stop() {
	kill -TERM "$SINK_PID" 2>/dev/null
	wait "$SINK_PID" 2>/dev/null
	rm -f /dev/log
}

# lines FILE... : the syslog lines of IFACE ($IFX) in FILE...
lines() { cat "$@" 2>/dev/null | grep -E "^<[0-9]+>.* cwg\[[0-9]+\]: $IFX: "; }

private_dev || bail "a private /dev in this mount namespace"
pair_setup || bail "namespaces and veth"
keypair a && keypair b || bail "keys"
(umask 077 && wg genpsk >"$T_TMP/psk") || bail "preshared key"
sink_start "$LOG1" || bail "syslog_sink at /dev/log"

# ---- daemonized, LOG_LEVEL=verbose, sandbox on

LOG_LEVEL=verbose start_impl a "$IFA" || bail "start $IFA"
PIDA=$START_PID
LOG_LEVEL=verbose start_impl b "$IFB" || bail "start $IFB"
PIDB=$START_PID
MSG=$(pair_tunnel "$IFA" $PA "$IFB" $PB) || bail "tunnel: $MSG"
nsx a wg set "$IFA" peer "$(pub b)" preshared-key "$T_TMP/psk" &&
	nsx b wg set "$IFB" peer "$(pub a)" preshared-key "$T_TMP/psk" ||
	bail "preshared keys"
check "ping through the tunnel (a handshake with the preshared key)" \
	ping_some a "$IN4_B"
hs=$(nsx a wg show "$IFA" latest-handshakes | awk '{ print $2 }')
check "... and wg show has the handshake" test "${hs:-0}" -gt 0
if impl_sanitized; then
	pass "the daemon is sandboxed # SKIP sanitizer build: no sandbox"
else
	check_eq "the daemon is sandboxed (Seccomp: 2)" \
		"$(awk '$1 == "Seccomp:" { print $2 }' "/proc/$PIDA/status")" 2
fi
# The device, not the path: in a chroot or another mount namespace the
# path of /dev/null may read as the host's.
check_eq "its stderr is /dev/null, not the launcher's" \
	"$(stat -Lc '%F %t:%T' "/proc/$PIDA/fd/2")" \
	"$(stat -Lc '%F %t:%T' /dev/null)"

nsx a ip link set "$IFA" mtu 1380
check "an MTU change is logged at info" wait_for 3 \
	grep -q "^<30>.* cwg\[$PIDA\]: $IFA: MTU now 1380\$" "$LOG1"

nsx a timeout 120 ncat -u -l --recv-only "$BUSY" </dev/null >/dev/null 2>&1 &
T_PIDS+=($!)
wait_for 3 bash -c "ip netns exec $(ns a) ss -Huln | grep -q ':$BUSY '" ||
	bail "ncat holding UDP port $BUSY"
check_not "listen-port $BUSY (taken) is refused" \
	nsx a wg set "$IFA" listen-port "$BUSY"
check "... and logged at err" wait_for 3 grep -q \
	"^<27>.* cwg\[$PIDA\]: $IFA: Failed to bind port $BUSY: " "$LOG1"

# A syslog daemon restarted (a new socket at /dev/log): the next line
# reconnects, under the sandbox's filter.
sink_stop
sink_start "$LOG2" || bail "a second syslog_sink"
check_not "listen-port $BUSY refused again" \
	nsx a wg set "$IFA" listen-port "$BUSY"
check "... logged to the restarted syslog" wait_for 3 grep -q \
	"^<27>.* cwg\[$PIDA\]: $IFA: Failed to bind port $BUSY: " "$LOG2"
check "... by a daemon still alive" kill -0 "$PIDA"

stop_impl a "$IFA"
stop_impl b "$IFB"
check "the shutdown is logged at info" wait_for 3 \
	grep -q "^<30>.* cwg\[$PIDA\]: $IFA: Shutting down: SIGTERM\$" "$LOG2"

IFX=$IFA
n=$(lines "$LOG1" "$LOG2" | wc -l)
ninfo=$(lines "$LOG1" "$LOG2" | grep -c '^<30>')
check "$IFA: $n lines, $ninfo of them at info" test "$ninfo" -ge 5
check "... the sandbox's line among them" \
	grep -q "^<30>.* cwg\[$PIDA\]: $IFA: Sandbox" "$LOG1"
IFX=$IFB
check "$IFB: $(lines "$LOG1" "$LOG2" | wc -l) lines" \
	test "$(lines "$LOG1" "$LOG2" | wc -l)" -ge 5
check "stderr after start-up stays empty" \
	bash -c "! grep -q -e 'MTU now' -e 'Shutting down' $T_TMP/$IFA.log"

# Every line: facility daemon (3) at err (3), warning (4) or info (6),
# time stamp, ident cwg with the pid of the daemon of the interface named.
bad=$(cat "$LOG1" "$LOG2" | awk -v a="cwg[$PIDA]: $IFA: " -v b="cwg[$PIDB]: $IFB: " '
	!/^<(27|28|30)>[A-Z][a-z][a-z] [ 0-9][0-9] [0-9][0-9]:[0-9][0-9]:[0-9][0-9] cwg\[/ { print; next }
	{ s = substr($0, index($0, " cwg[") + 1) }
	index(s, a) != 1 && index(s, b) != 1 { print }')
check "every line: daemon.err/warning/info, ident cwg[pid], its interface" \
	test -z "$bad"
[[ -z $bad ]] || diag "$bad"

# hex KEYFILE: the key's 32 bytes in hex.
hex() { base64 -d <"$1" | od -An -v -tx1 | tr -d ' \n'; }
for s in "$(key a)" "$(key b)" "$T_TMP/psk"; do
	k=$(cat "$s") h=$(hex "$s")
	check "no $(basename "$s") in the log, in base64 or hex" \
		bash -c "[[ \${#1} -eq 64 ]] && ! grep -qiF -e \"\$2\" -e \"\$1\" $LOG1 $LOG2" _ "$h" "$k"
done
check "nothing shaped like a 32-byte key (base64 or 64 hex digits)" \
	bash -c "! grep -qE -e '[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=' -e '[0-9a-fA-F]{64}' $LOG1 $LOG2"

# ---- LOG_LEVEL unset: errors only

timeout 10 ip netns exec "$(ns a)" env -u LOG_LEVEL "$IMPL_PATH" "$IFC" \
	>"$T_TMP/$IFC.log" 2>&1 </dev/null || bail "start $IFC without LOG_LEVEL"
T_IFACES+=("$IFC")
wait_for 2 daemon_pid a "$IFC"
PIDC=$(daemon_pid a "$IFC") || bail "pid of $IFC"
T_PIDS+=("$PIDC")
nsx a wg set "$IFC" private-key "$(key a)" >/dev/null 2>&1
nsx a wg set "$IFC" listen-port "$BUSY" >/dev/null 2>&1
nsx a ip link set "$IFC" mtu 1300 up
sleep 1
stop_impl a "$IFC"
IFX=$IFC
check "LOG_LEVEL unset: the refused port is logged at err" \
	grep -q "^<27>.* cwg\[$PIDC\]: $IFC: Failed to bind port $BUSY: " "$LOG2"
check_eq "... and nothing at info" "$(lines "$LOG2" | grep -vc '^<27>')" 0

# ---- foreground: stderr, as before, and no syslog

LOG_LEVEL=verbose start_impl_fg a "$IFF" || bail "start -f $IFF"
FG=$START_PID
nsx a wg set "$IFF" listen-port "$BUSY" >/dev/null 2>&1
nsx a ip link set "$IFF" mtu 1300
sleep 1
kill -TERM "$FG"
wait "$FG"
check "foreground: the log is on stderr" \
	grep -q "^ERROR: ($IFF) .* Failed to bind port $BUSY: " "$T_TMP/$IFF.log"
check "... verbose lines too" grep -q "^DEBUG: ($IFF) .* MTU now 1300\$" "$T_TMP/$IFF.log"
IFX=$IFF
check_eq "... and nothing went to syslog" "$(lines "$LOG2" | wc -l)" 0

# ---- no /dev/log: stderr, as before

sink_stop
LOG_LEVEL=verbose start_impl a "$IFN" || bail "start $IFN without /dev/log"
PIDN=$START_PID
nsx a ip link set "$IFN" mtu 1300
check "no /dev/log: the daemon says so on stderr" \
	grep -q "No syslog at /dev/log" "$T_TMP/$IFN.log"
check "... and logs there after start-up too" wait_for 3 \
	grep -q "^DEBUG: ($IFN) .* MTU now 1300\$" "$T_TMP/$IFN.log"
check "... the stderr it kept (LOG_LEVEL is set)" \
	test "$(readlink "/proc/$PIDN/fd/2")" != /dev/null
stop_impl a "$IFN"

done_testing
