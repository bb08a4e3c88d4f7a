#!/usr/bin/env bash
# The test command (README): install what is missing, then
#   1. build and run every test (make check): unit tests, the public
#      API's tests and examples built against an installed libcwg with
#      pkg-config alone (make api-check), the library's ABI against the
#      stored one (make abi-check), and as root the
#      network tests in tests/net/ against wg, wg-quick and wireguard-go;
#   2. the same tests again with everything built under ASan+UBSan
#      (make check SANITIZE=address,undefined), with smaller transfers, a
#      smaller UAPI scale test and only the all-on and all-off offload
#      configurations (the plain run covers each fallback and the full
#      sizes) so the run stays short: any sanitizer report, leaks at
#      daemon exit included, fails it;
#   3. the same tests under ThreadSanitizer (make check SANITIZE=thread,
#      built in build-tsan/) with 2 data threads per direction, smaller
#      still: any data race or lock-order report fails it;
#   4. a fuzzing smoke run of every libFuzzer target (FUZZ_SECONDS each).
# Without root the network tests report themselves skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh

make -j2
make check
make abi-check

make -j2 SANITIZE=address,undefined
BYTES=${SAN_BYTES:-33554432} REF_BYTES=${SAN_REF_BYTES:-8388608} \
	CONFIGS=${SAN_CONFIGS:-"- all"} BIG_N=${SAN_BIG_N:-200000} \
	make check SANITIZE=address,undefined

# TSan makes the daemon several times slower than ASan does, so less of
# everything: the races are in how the threads meet, which small runs
# reach as well, and the offload test keeps only the default (all on)
# configuration, whose threads share what the fallbacks' do. The hostile
# flood is cut to what the slower cookie path absorbs (the test's premise:
# the socket must not overflow); 72's cold starts send 8000 datagrams, so
# more of them leave after the slower handshake than the 128 it stages;
# 93's throughput ratio is not required (under TSan it measures the
# sanitizer, not the live peer's isolation) while its dead peers and feed
# still run.
make -j2 SANITIZE=thread
BYTES=${TSAN_BYTES:-8388608} REF_BYTES=${TSAN_REF_BYTES:-4194304} \
	CONFIGS=${TSAN_CONFIGS:-"-"} BIG_N=${TSAN_BIG_N:-50000} \
	FLOOD=300 GARBAGE_S=10 FLOOD_PPS=5000 \
	NET_KNOBS_72="UDP_COUNT=5000 COLD=3 UDP_COLD=8000" \
	NET_KNOBS_92="CYCLES=100" \
	NET_KNOBS_93="DEAD_PEERS=200 FEED_PPS=2000 CYCLES=1 MIN_PCT=0" \
	make check SANITIZE=thread

make fuzz FUZZ_SECONDS="${FUZZ_SECONDS:-30}"
