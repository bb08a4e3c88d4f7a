#!/usr/bin/env bash
# Scenario 80: the daemon's sandbox (src/linux/sandbox.c, cwg(8) SECURITY
# MODEL).  With the sandbox on (the default) a running daemon, every one
# of its threads, must hold exactly CAP_NET_ADMIN and CAP_NET_BIND_SERVICE
# (effective, permitted, bounding; nothing inheritable or ambient), have
# no_new_privs and a seccomp filter; CWG_SANDBOX=0 and --no-sandbox must
# leave it unfiltered.  Then what the sandbox must not break: wg-quick
# up/ping/down (fwmark policy routing, so SO_MARK must work), a rebind to
# a port below 1024 (CAP_NET_BIND_SERVICE, new UDP sockets), fwmark
# changes, an interface moved to another namespace (setns is refused, not
# fatal) and a clean exit on SIGTERM (exit status 0, not SIGSYS's 159).
# Last, only root may talk to the UAPI socket.
#
# wg-quick's userspace path is forced as in 30-wgquick.sh: a wrapper ip(8)
# refuses `ip link add ... type wireguard`, and /sys/module is hidden when
# the kernel module is loaded.

. "$(dirname "$0")/lib.sh"
T_REQUIRE_CMDS=(wg-quick ping ss timeout setpriv)
require_env
impl_sanitized && skip_all "sanitizer build: its runtime needs ptrace and report files, so the sandbox is off there (tested on the regular build)"

# CAP_NET_BIND_SERVICE (10) and CAP_NET_ADMIN (12).
WANT_CAPS=0000000000001400

pair_setup || bail "namespaces and veth"
keypair a && keypair b || bail "keys"
IFS1=$(ifname s) IFN=$(ifname n) IFQ=$(ifname q) IFB=$(ifname b)
PA=51820 PB=51821 LOW=853

# status_field PID FIELD: one field of /proc/PID/status.
status_field() {
	awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status" 2>/dev/null
}

# threads_ok PID CAPS SECCOMP: every thread of PID has that CapEff and
# Seccomp mode; prints the offending threads otherwise.
threads_ok() {
	local t bad=0 n=0
	for t in /proc/"$1"/task/*; do
		n=$((n + 1))
		local c s
		c=$(awk '$1 == "CapEff:" { print $2 }' "$t/status")
		s=$(awk '$1 == "Seccomp:" { print $2 }' "$t/status")
		if [[ $c != "$2" || $s != "$3" ]]; then
			echo "thread ${t##*/}: CapEff $c Seccomp $s"
			bad=1
		fi
	done
	echo "$n threads"
	[[ $bad -eq 0 && $n -ge 3 ]]
}

# ---- the sandbox on, by default

start_impl a "$IFS1" || bail "start $IMPL_PATH"
pid=$START_PID
check_eq "CapEff is exactly NET_ADMIN|NET_BIND_SERVICE" "$(status_field "$pid" CapEff)" $WANT_CAPS
check_eq "CapPrm is the same" "$(status_field "$pid" CapPrm)" $WANT_CAPS
check_eq "CapBnd is the same" "$(status_field "$pid" CapBnd)" $WANT_CAPS
check_eq "CapInh is empty" "$(status_field "$pid" CapInh)" 0000000000000000
check_eq "CapAmb is empty" "$(status_field "$pid" CapAmb)" 0000000000000000
check_eq "NoNewPrivs: 1" "$(status_field "$pid" NoNewPrivs)" 1
check_eq "Seccomp: 2 (filter)" "$(status_field "$pid" Seccomp)" 2
check "every thread is sandboxed (control, TX, RX)" threads_ok "$pid" $WANT_CAPS 2
# A call outside the allow-list is trapped, named on stderr, then killed:
# SIGSYS (31) is caught.
sigcgt=$(status_field "$pid" SigCgt)
check "SIGSYS is caught, to name a call the list forgets (SigCgt ${sigcgt:-?})" \
	test $(((0x${sigcgt:-0} >> 30) & 1)) -eq 1

# Only root talks to the socket.
sock=$(sock_of "$IFS1")
check_eq "socket file owned by root" "$(stat -c %u "$sock")" 0
check_eq "socket file is mode 0600" "$(stat -c %a "$sock")" 600
check_eq "socket directory is mode 0755" "$(stat -c %a "$(dirname "$sock")")" 755
check "root can query the interface" nsx a wg show "$IFS1"
out=$(nsx a setpriv --reuid=65534 --regid=65534 --clear-groups wg show "$IFS1" 2>&1)
rc=$?
if [[ $rc -ne 0 && $out == *"ermission denied"* ]]; then
	pass "nobody (65534) cannot: permission denied"
else
	fail "nobody (65534) cannot: permission denied" "exit $rc: $out"
fi

# The filter is on for this architecture, and a verbose log says so.
if [[ $(uname -m) == x86_64 || $(uname -m) == aarch64 ]]; then
	ifv=$(ifname v)
	vlog="$T_TMP/$ifv.log"
	LOG_LEVEL=verbose start_impl a "$ifv" || bail "start with LOG_LEVEL=verbose"
	check "the verbose log says the seccomp filter is on" \
		grep -q "seccomp filter on" "$vlog"
	check "... and nothing says it is off" \
		bash -c "! grep -q 'without its seccomp filter' $vlog"
	stop_impl a "$ifv"
fi

# Moving the interface away makes the MTU follower try setns(), which the
# sandbox refuses with EPERM: the daemon must live on.
ns_new c || bail "namespace c"
nsx a ip link set "$IFS1" netns "$(ns c)" || bail "move $IFS1"
sleep 1.5
check "daemon survives its interface moving to another namespace" kill -0 "$pid"
check "... and still answers on its socket" nsx a wg show "$IFS1" listen-port
nsx c ip link del "$IFS1"
check "daemon exits once the moved interface is deleted" wait_for 5 pid_gone "$pid"
check "... removing its socket file (a clean exit)" wait_for 3 bash -c "! test -e $sock"

# A foreground daemon, so its exit status can be seen: SIGTERM gives 0;
# a call outside the allow-list would have given 159 (SIGSYS).
start_impl_fg a "$IFS1" || bail "start -f"
fg=$START_PID
wait_for 2 daemon_pid a "$IFS1"
dpid=$(daemon_pid a "$IFS1")
check_eq "foreground daemon is filtered too" "$(status_field "${dpid:-0}" Seccomp)" 2
nsx a wg set "$IFS1" private-key "$(key a)" listen-port $LOW fwmark 0x77 >/dev/null 2>&1
kill -TERM "$fg"
wait "$fg"
check_eq "SIGTERM: exit status 0" "$?" 0

# ---- the sandbox off

ifs_off=$(ifname o)
CWG_SANDBOX=0 start_impl a "$ifs_off" || bail "start with CWG_SANDBOX=0"
check_eq "CWG_SANDBOX=0: Seccomp: 0" "$(status_field "$START_PID" Seccomp)" 0
check "CWG_SANDBOX=0: capabilities not reduced" \
	test "$(status_field "$START_PID" CapEff)" != $WANT_CAPS
stop_impl a "$ifs_off"

timeout 10 ip netns exec "$(ns a)" "$IMPL_PATH" --no-sandbox "$IFN" >"$T_TMP/$IFN.log" 2>&1 </dev/null
rc=$?
check_eq "--no-sandbox accepted" "$rc" 0
T_IFACES+=("$IFN")
wait_for 2 daemon_pid a "$IFN"
npid=$(daemon_pid a "$IFN")
[[ -n $npid ]] && T_PIDS+=("$npid")
check_eq "--no-sandbox: Seccomp: 0" "$(status_field "${npid:-0}" Seccomp)" 0
stop_impl a "$IFN"

out=$(ip netns exec "$(ns a)" env CWG_SANDBOX=maybe "$IMPL_PATH" "$(ifname x)" 2>&1 </dev/null)
rc=$?
check_eq "CWG_SANDBOX=maybe refused (exit 1)" "$rc" 1
check "... saying why" grep -q CWG_SANDBOX <<<"$out"

# ---- wg-quick with the sandbox on

wgquick_prepare || bail "copy wg-quick"

start_impl b "$IFB" || bail "start $IMPL_PATH in b"
wg_up b "$IFB" b $PB "$IN4_B/24" "$IN6_B/64" || bail "configure b"
nsx b wg set "$IFB" peer "$(pub a)" allowed-ips "$IN4_A/32,$IN6_A/128" || bail "b peer"

mkdir -p "$T_TMP/q"
CONF="$T_TMP/q/$IFQ.conf"
(umask 077 && cat >"$CONF") <<EOF
[Interface]
PrivateKey = $(cat "$(key a)")
Address = $IN4_A/24, $IN6_A/64
ListenPort = $PA

[Peer]
PublicKey = $(pub b)
Endpoint = $OUT4_B:$PB
AllowedIPs = 0.0.0.0/0, ::/0
EOF

wgq up "$CONF"
rc=$?
if [[ $rc -eq 0 ]]; then pass "wg-quick up"; else fail "wg-quick up (exit $rc)" "$(cat "$T_TMP/wg-quick.up.log")"; fi
check "wg-quick took the userspace path" grep -q "userspace implementation" "$T_TMP/wg-quick.up.log"
qpid=$(daemon_pid a "$IFQ")
[[ -n $qpid ]] && T_PIDS+=("$qpid")
# By file, not by path: in a chroot the daemon's own mount namespace
# (ip netns exec) reads its exe path with the chroot's prefix.
check "the wg-quick daemon is IMPL" test "/proc/${qpid:-0}/exe" -ef "$IMPL_PATH"
check_eq "the wg-quick daemon is filtered" "$(status_field "${qpid:-0}" Seccomp)" 2
check_eq "fwmark set by wg-quick under the sandbox" "$(nsx a wg show "$IFQ" fwmark)" 0xca6c
# With AllowedIPs 0.0.0.0/0 only marked datagrams escape the tunnel: a
# ping through it proves SO_MARK took effect.
check "ping through the tunnel (policy routing by fwmark)" ping_some a "$IN4_B" &&
	check "... then all of 3" ping_ok a "$IN4_B"

check "rebind to port $LOW (below 1024)" nsx a wg set "$IFQ" listen-port $LOW
check_eq "listen-port reads back $LOW" "$(nsx a wg show "$IFQ" listen-port)" $LOW
check "the daemon holds UDP port $LOW" bash -c \
	"ip netns exec $(ns a) ss -Hulpn 'sport = :$LOW' | grep -q 'pid=$qpid,'"
check "ping through the tunnel from the new port" ping_some a "$IN4_B"
check_eq "far side now sees port $LOW" "$(endpoint_of b "$IFB" a)" "$OUT4_A:$LOW"
check "rebind to a random port" nsx a wg set "$IFQ" listen-port 0
check "... and back to $PA" nsx a wg set "$IFQ" listen-port $PA

check "fwmark change to 0x4242" nsx a wg set "$IFQ" fwmark 0x4242
check_eq "fwmark reads back 0x4242" "$(nsx a wg show "$IFQ" fwmark)" 0x4242
check "fwmark back to 0xca6c" nsx a wg set "$IFQ" fwmark 0xca6c
check "ping through the tunnel after the changes" ping_ok a "$IN4_B"
check "IPv6 too" ping_ok a "$IN6_B"
check "daemon alive after rebinds and fwmark changes" kill -0 "${qpid:-0}"
check "every thread still sandboxed" threads_ok "${qpid:-0}" $WANT_CAPS 2

wgq down "$CONF"
rc=$?
if [[ $rc -eq 0 ]]; then pass "wg-quick down"; else fail "wg-quick down (exit $rc)" "$(cat "$T_TMP/wg-quick.down.log")"; fi
check "daemon exited" wait_for 3 pid_gone "${qpid:-0}"
check "socket file removed (a clean exit)" wait_for 3 bash -c "! test -e $(sock_of "$IFQ")"

done_testing
