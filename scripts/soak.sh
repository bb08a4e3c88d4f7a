#!/usr/bin/env bash
# soak: DURATION seconds (default 1800) of UDP and TCP both ways through
# two cwg daemons, A (2 data threads each way) and B, while the churn of
# tests/net/92-churn.sh goes on at a gentler pace: every ROUND_PAUSE (5)
# s, ROUND_CYCLES (20) removals and re-additions of each one's peer, and
# every third round one other change (syncconf, B's private key, listen
# port, fwmark, MTU, preshared key), with `wg show` polling both.
#
# A third cwg daemon, P, is A's second peer; nothing touches its session
# with A but the protocol's timers, so its handshakes, as A's `wg show
# latest-handshakes` shows them, are rekeys (one each 120 s a session
# lives): at least DURATION / 120 - 1 must be seen (REKEYS_MIN).
# VmRSS of A, B and P is sampled every RSS_EVERY (30) s; from WARMUP
# (180) s on, the last sample may exceed the first by RSS_SLACK_KB (1024)
# at most. A table of the samples ends the output (TAP, from the test).
#
# Usage (root): [DURATION=1800] [IMPL=build/cwg] scripts/soak.sh
# Not part of CI: `make soak` runs it. Every knob of 92-churn.sh applies.
set -u
cd "$(dirname "$0")/.."

DURATION=${DURATION:-1800}
WARMUP=${WARMUP:-180}
if ! [[ $DURATION =~ ^[0-9]+$ && $WARMUP =~ ^[0-9]+$ ]] ||
   ((DURATION <= WARMUP)); then
	echo "soak: DURATION ($DURATION) must be a number of seconds above WARMUP ($WARMUP)" >&2
	exit 2
fi
if [[ $(id -u) -ne 0 ]]; then
	echo "soak: needs root (network namespaces)" >&2
	exit 2
fi
IMPL=${IMPL:-$PWD/build/cwg}
if [[ ! -x $IMPL ]]; then
	echo "soak: no daemon at $IMPL (make first, or set IMPL)" >&2
	exit 2
fi
echo "soak: ${DURATION} s, IMPL=$IMPL, VmRSS checked after ${WARMUP} s"
export IMPL WARMUP CHURN_SOAK_S=$DURATION
exec bash tests/net/92-churn.sh
