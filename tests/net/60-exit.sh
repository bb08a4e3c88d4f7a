#!/usr/bin/env bash
# Scenario 60: the daemon exits on `ip link del`, on removal of its UAPI
# socket file and on SIGTERM (and, in the foreground, on SIGINT), each
# within EXIT_S seconds (default 1); afterwards the process, the socket
# file and the interface are gone.  Each case runs on a fresh, configured
# daemon with a live peer, so the exit also has to tear down a session.

. "$(dirname "$0")/lib.sh"
T_REQUIRE_CMDS=(ping timeout)
require_env

EXIT_S=${EXIT_S:-1}
pair_setup || bail "namespaces and veth"
keypair a && keypair b || bail keys
IFB=$(ifname b)
start_impl b "$IFB" || bail "start far side"
wg_up b "$IFB" b 51821 "$IN4_B/24" "$IN6_B/64" || bail "configure far side"
nsx b wg set "$IFB" peer "$(pub a)" allowed-ips "$IN4_A/32"

n=0
# up_a [fg]: a fresh daemon in namespace a with a session to b.
up_a() {
	n=$((n + 1))
	IFA=$(ifname "a$n")
	if [[ ${1:-} == fg ]]; then
		start_impl_fg a "$IFA" || return 1
	else
		start_impl a "$IFA" || return 1
	fi
	PID=$START_PID
	wg_up a "$IFA" a $((51830 + n)) "$IN4_A/24" "$IN6_A/64" &&
		nsx a wg set "$IFA" peer "$(pub b)" allowed-ips "$IN4_B/32" endpoint "$OUT4_B:51821" &&
		ping_some a "$IN4_B"
}

# gone CASE T0: the three checks after an exit trigger at time T0.
gone() {
	local what=$1 t0=$2 t
	if wait_for "$EXIT_S" pid_gone "$PID"; then
		t=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
		pass "$what: process exited within $EXIT_S s (${t} s)"
	else
		wait_for 5 pid_gone "$PID"
		t=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
		fail "$what: process exited within $EXIT_S s" "$(pid_gone "$PID" && echo "it took ${t} s" || echo "still running after ${t} s")"
	fi
	check "$what: socket file gone" wait_for 0.5 bash -c "! test -e $(sock_of "$IFA")"
	check "$what: interface gone" wait_for 0.5 bash -c "! ip -n $(ns a) link show dev $IFA"
	kill -KILL "$PID" 2>/dev/null
	wait "$PID" 2>/dev/null
	return 0
}

if up_a; then
	pass "ip link del: daemon up with a session"
	t0=$(date +%s.%N)
	ip -n "$(ns a)" link del dev "$IFA"
	gone "ip link del" "$t0"
else
	fail "ip link del: daemon up with a session"
fi

if up_a; then
	pass "socket removal: daemon up with a session"
	t0=$(date +%s.%N)
	rm -f "$(sock_of "$IFA")"
	gone "socket removal" "$t0"
else
	fail "socket removal: daemon up with a session"
fi

if up_a; then
	pass "SIGTERM: daemon up with a session"
	t0=$(date +%s.%N)
	kill -TERM "$PID"
	gone "SIGTERM" "$t0"
else
	fail "SIGTERM: daemon up with a session"
fi

if up_a fg; then
	pass "foreground SIGINT: daemon up with a session"
	t0=$(date +%s.%N)
	kill -INT "$PID"
	gone "foreground SIGINT" "$t0"
	wait "$PID" 2>/dev/null
else
	fail "foreground SIGINT: daemon up with a session"
fi

check "far side still running" kill -0 "$(daemon_pid b "$IFB")"

done_testing
