# The guest's driver, run by scripts/kmod-vm.sh's /init (bash, as root;
# output to the results serial port): the checks /vm/NN-*.sh in order,
# each in its own bash, with one TAP numbering across them, then the plan
# and one "verdict: pass" or "verdict: fail".
#
# /vm/env (written by kmod-vm.sh) sets the knobs: CHECKS (which NN run;
# all when empty), VARIANTS and KMOD_MODULE (lib.sh), and whatever
# VM_NAME=VALUE the host was given, as NAME=VALUE.
#
# After each script the driver adds one test point of its own: the
# kernel logged no warning, oops or splat while it ran. It also ends
# what a script left behind when it was killed (its namespaces and the
# processes in them), and reports a script that died or timed out
# (SCRIPT_TIMEOUT seconds, default 240) as a failure.

set -a
. /vm/env
set +a
export TAP_STATE=/tmp/tap.state
echo "0 0 0 0" >"$TAP_STATE"
SCRIPT_TIMEOUT=${SCRIPT_TIMEOUT:-240}
KLOG=/tmp/kern.log
: >"$KLOG"

now() { cut -d' ' -f1 /proc/uptime; }
tap() { read -r N FAILED TODO SKIP <"$TAP_STATE"; }
point() { # point STATUS DESCRIPTION
	tap
	N=$((N + 1))
	if [ "$1" = 0 ]; then
		echo "ok $N - $2"
	else
		FAILED=$((FAILED + 1))
		echo "not ok $N - $2"
	fi
	echo "$N $FAILED $TODO $SKIP" >"$TAP_STATE"
}
T_DRIVER=1 . /vm/lib.sh

wanted() { [ -z "${CHECKS:-}" ] || case ",$CHECKS," in *",$1,"*) true ;; *) false ;; esac; }

# What the kernel logged before the first check is the boot's.
dmesg -c >/tmp/boot.log
grep -Eh "$SPLAT" /tmp/boot.log | sed 's/^/# boot log (not counted): /'

echo "# checks: ${CHECKS:-all}; VARIANTS=$VARIANTS KMOD_MODULE=$KMOD_MODULE; $(nproc) CPUs, $(awk '/^MemTotal/ { print $2 / 1024 " MiB" }' /proc/meminfo)"
times=""
for f in /vm/[0-9][0-9]-*.sh; do
	name=$(basename "$f" .sh)
	nn=${name%%-*}
	wanted "$nn" || continue
	tap
	n0=$N f0=$FAILED
	t0=$(now)
	klog
	off=$(wc -c <"$KLOG")
	echo "# ---- $name"
	timeout -s TERM -k 10 "$SCRIPT_TIMEOUT" bash "$f" </dev/null
	rc=$?
	# What a killed script could not clean up.
	for n in $(ip netns list 2>/dev/null | awk '{ print $1 }'); do
		for p in $(ip netns pids "$n" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
		ip netns del "$n" 2>/dev/null
	done
	tap
	if [ $rc != 0 ] && [ "$FAILED" = "$f0" ]; then
		case $rc in
		124 | 137 | 143) why=" (killed at its timeout, ${SCRIPT_TIMEOUT} s)" ;;
		*) why="" ;;
		esac
		point 1 "$name: the script ended with status $rc$why"
	fi
	klog
	tail -c +$((off + 1)) "$KLOG" >/tmp/script.log
	if grep -Eq "$SPLAT" /tmp/script.log; then
		grep -Eh -B2 -A12 "$SPLAT" /tmp/script.log | head -n 60 | sed 's/^/# /'
		point 1 "$name: no warning, oops or splat in the kernel log"
	else
		point 0 "$name: no warning, oops or splat in the kernel log"
	fi
	tap
	t=$(awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }')
	echo "# $name: $((N - n0)) tests, $((FAILED - f0)) failed, $t s"
	times+="$name ${t}s, "
done

tap
echo "# times: ${times%, }"
echo "1..$N"
echo "$((N - FAILED - TODO - SKIP)) passed, $FAILED failed, $SKIP skipped, $TODO todo (not counted)"
if [ "$FAILED" = 0 ] && [ "$N" -gt 0 ]; then
	echo "verdict: pass"
else
	echo "verdict: fail"
fi
