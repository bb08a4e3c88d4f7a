#!/usr/bin/env bash
# The test command (README): install what is missing, then
#   1. build and run every test (make check): unit tests, and as root the
#      network tests in tests/net/ against wg, wg-quick and wireguard-go;
#   2. the same tests again with everything built under ASan+UBSan
#      (make check SANITIZE=address,undefined), with smaller transfers, a
#      smaller UAPI scale test and only the all-on and all-off offload
#      configurations (the plain run covers each fallback and the full
#      sizes) so the run stays short: any sanitizer report, leaks at
#      daemon exit included, fails it;
#   3. a fuzzing smoke run of every libFuzzer target (FUZZ_SECONDS each).
# Without root the network tests report themselves skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh

make -j2
make check

make -j2 SANITIZE=address,undefined
BYTES=${SAN_BYTES:-33554432} REF_BYTES=${SAN_REF_BYTES:-8388608} \
	CONFIGS=${SAN_CONFIGS:-"- all"} BIG_N=${SAN_BIG_N:-200000} \
	make check SANITIZE=address,undefined

make fuzz FUZZ_SECONDS="${FUZZ_SECONDS:-30}"
