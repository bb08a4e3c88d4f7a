#!/usr/bin/env bash
# The test command: install what is missing, build, run every test.
# As root, the network tests in tests/net/ run for real; otherwise they
# report themselves skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
make -j2
make check
