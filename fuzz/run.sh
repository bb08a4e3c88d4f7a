#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Build the fuzz targets with clang (libFuzzer + ASan + UBSan) into
# fuzz/build/ and run each for FUZZ_SECONDS (default 30).
#
#   fuzz/run.sh                      all targets
#   fuzz/run.sh receive uapi         some of them
#   fuzz/run.sh --build              build only
#   fuzz/run.sh --seeds              rebuild the seed files in fuzz/corpus/
#
# Environment: FUZZ_SECONDS, FUZZ_CC (clang), FUZZ_ARGS (extra libFuzzer
# options, e.g. "-jobs=2 -workers=2").
#
# The project's sources are compiled here with the same sanitizer and
# coverage flags as the harnesses (not through the Makefile), and linked
# with fuzz/fuzz_platform.c instead of src/posix/pkt.c: see that file
# for why. New corpus entries go to fuzz/build/corpus/<target>/ (not the
# committed seeds); a crash lands in fuzz/build/artifacts/<target>/ and
# makes this script exit non-zero. Save a crash that is fixed as a
# regression: cp fuzz/build/artifacts/<target>/crash-* fuzz/regressions/<target>/
set -u

cd "$(dirname "$0")/.." || exit 2

CC=${FUZZ_CC:-clang}
SECS=${FUZZ_SECONDS:-30}
OUT=fuzz/build
ALL_TARGETS="receive send uapi allowedips"
SAN="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
# 8-bit allowed-IPs lookup tables: the same code, cheap to rebuild per input;
# node chunks of two nodes, so that chunks come and go within one input.
BASE="-std=c11 -D_GNU_SOURCE -DCWG_DEBUG_LOCKS -DCWG_ALLOWEDIPS_STRIDE_BITS=8 -DCWG_ALLOWEDIPS_CHUNK_NODES_SHIFT=1 -Iinclude -Isrc -Ifuzz -O1 -g -pthread $SAN"
WARN="-Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes"

mode=run
case "${1:-}" in
--build) mode=build; shift ;;
--seeds) mode=seeds; shift ;;
esac
TARGETS=${*:-$ALL_TARGETS}

max_len() {
	case $1 in
	receive) echo 4096 ;;
	send) echo 16384 ;;
	uapi) echo 65536 ;;
	allowedips) echo 8192 ;;
	esac
}

mkdir -p "$OUT/obj" || exit 2

# Rebuild an object when its source, any header, this script or the
# compiler flags are newer than it.
flags_stamp="$OUT/obj/flags"
flags="$CC $BASE $WARN"
if [ ! -f "$flags_stamp" ] || [ "$(cat "$flags_stamp")" != "$flags" ]; then
	rm -f "$OUT"/obj/*.o
	printf '%s\n' "$flags" >"$flags_stamp"
fi
newest_hdr=$(ls -t include/cwg/*.h src/*/*.h fuzz/*.h fuzz/run.sh 2>/dev/null | head -n 1)

compile() { # src obj extra-flags...
	src=$1 obj=$2
	shift 2
	if [ -f "$obj" ] && [ ! "$src" -nt "$obj" ] &&
	   [ ! "$newest_hdr" -nt "$obj" ]; then
		return 0
	fi
	echo "  CC $src"
	"$CC" $BASE "$@" -c -o "$obj" "$src"
}

objname() { echo "$OUT/obj/$(echo "$1" | tr / _ | sed 's/\.c$/.o/')"; }

LIB_OBJS=
build_lib() {
	for f in src/core/*.c src/crypto/*.c src/uapi/*.c src/posix/host.c src/lib.c; do
		o=$(objname "$f")
		# Other people's warnings must not stop the fuzzing.
		compile "$f" "$o" -fsanitize=fuzzer-no-link $WARN -Wno-error ||
			return 1
		LIB_OBJS="$LIB_OBJS $o"
	done
	for f in fuzz/fuzz_common.c fuzz/fuzz_net.c fuzz/fuzz_platform.c; do
		o=$(objname "$f")
		compile "$f" "$o" -fsanitize=fuzzer-no-link $WARN -Werror ||
			return 1
		LIB_OBJS="$LIB_OBJS $o"
	done
}

build_target() { # target
	src=fuzz/fuzz_$1.c
	o=$(objname "$src")
	compile "$src" "$o" -fsanitize=fuzzer-no-link -DCWG_LIBFUZZER \
		$WARN -Werror || return 1
	if [ ! -f "$OUT/fuzz_$1" ] || [ -n "$(find $LIB_OBJS "$o" \
	     -newer "$OUT/fuzz_$1" 2>/dev/null | head -n 1)" ]; then
		echo "  LD $OUT/fuzz_$1"
		"$CC" $BASE -fsanitize=fuzzer -o "$OUT/fuzz_$1" $LIB_OBJS "$o" \
			-lcrypto || return 1
	fi
}

build_lib || { echo "fuzz: build failed" >&2; exit 2; }
for t in $TARGETS; do
	[ -f "fuzz/fuzz_$t.c" ] || { echo "fuzz: no target $t" >&2; exit 2; }
	build_target "$t" || { echo "fuzz: build of $t failed" >&2; exit 2; }
done

if [ "$mode" = build ]; then
	exit 0
fi

if [ "$mode" = seeds ]; then
	o=$(objname fuzz/gen_seeds.c)
	compile fuzz/gen_seeds.c "$o" $WARN -Werror &&
		"$CC" $BASE -o "$OUT/gen_seeds" $(echo $LIB_OBJS) "$o" -lcrypto \
			-fsanitize=fuzzer-no-link || exit 2
	exec "$OUT/gen_seeds" fuzz/corpus
fi

export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
status=0
for t in $TARGETS; do
	work="$OUT/corpus/$t"
	art="$OUT/artifacts/$t"
	log="$OUT/fuzz_$t.log"
	mkdir -p "$work" "$art" "fuzz/corpus/$t"
	dirs="$work fuzz/corpus/$t"
	[ -d "fuzz/regressions/$t" ] && dirs="$dirs fuzz/regressions/$t"
	dict=
	[ -f "fuzz/$t.dict" ] && dict="-dict=fuzz/$t.dict"
	echo "fuzz_$t: running for ${SECS}s (log: $log)"
	# shellcheck disable=SC2086
	"$OUT/fuzz_$t" -max_total_time="$SECS" -print_final_stats=1 \
		-max_len="$(max_len "$t")" -timeout=20 -rss_limit_mb=2048 \
		-artifact_prefix="$art/" $dict ${FUZZ_ARGS:-} $dirs \
		>"$log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
	last=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
	cov=$(echo "$last" | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
	ft=$(echo "$last" | sed -n 's/.*ft: \([0-9]*\).*/\1/p')
	corp=$(echo "$last" | sed -n 's/.*corp: \([0-9]*\/[0-9a-zA-Z]*\).*/\1/p')
	crashes=$(grep -c 'Test unit written to' "$log")
	echo "fuzz_$t: ${execs:-?} execs (${rate:-?}/s), cov: ${cov:-?} ft: ${ft:-?}, corpus ${corp:-?}, crashes: $crashes"
	if [ "$rc" -ne 0 ] || [ "$crashes" -ne 0 ]; then
		status=1
		echo "fuzz_$t: FAILED (exit $rc); the end of $log:"
		grep -E 'ERROR|SUMMARY|fuzz_[a-z]*: |Test unit written|#[0-9]+ in ' "$log" |
			head -n 40
	fi
done
exit $status
