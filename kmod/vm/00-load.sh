# Check 00: cwg.ko loads with its self-test, unloads, loads and unloads
# 20 times, and refuses to load when one expected byte of a self-test
# family is flipped (the sabotage build).
#
# In the initramfs: /cwg.ko, /cwg-sabotage.ko (its self-test can be
# made to fail with sabotage=N), the modules they need in
# /modules.list order.

. /vm/lib.sh

loaded() { grep -q '^cwg ' /proc/modules; }
now() { cut -d' ' -f1 /proc/uptime; }
# Empty the kernel log (into the driver's, which it checks for splats).
log_mark() { klog; }

# This check loads and unloads cwg.ko itself.
if grep -q '^cwg ' /proc/modules; then rmmod cwg; fi
bad=0
modules_load modules.list || bad=1
ok $bad "the crypto library modules cwg.ko needs load ($(wc -l </modules.list))"

# One load with the self-test, its summary, and an unload.
t0=$(now)
insmod /cwg.ko
ok $? "insmod cwg.ko (self-test on) succeeds"
t1=$(now)
echo "# load with self-test: $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') s"
dmesg | grep 'cwg: self-test' | sed 's/^/# /'
dmesg | grep -q 'cwg: self-test: [1-9][0-9]* passed, 0 failed'
ok $? "the self-test reports its vectors passed, none failed"
dmesg | grep -q 'cwg: self-test device-pair: 1 passed'
ok $? "the device pair (handshake, a packet each way) passed"
loaded
ok $? "cwg is in /proc/modules"
rmmod cwg
ok $? "rmmod cwg succeeds"
! loaded
ok $? "cwg is gone from /proc/modules"

# Without the self-test.
log_mark
insmod /cwg.ko selftest=0 && dmesg | grep -q 'cwg: loaded (self-test skipped)'
ok $? "insmod cwg.ko selftest=0 loads without the self-test"
rmmod cwg
ok $? "and unloads"

# 20 loads and unloads, each with its self-test.
log_mark
slab0=$(sed -n 's/^SUnreclaim: *\([0-9]*\).*/\1/p' /proc/meminfo)
t0=$(now)
bad=0
i=0
while [ $i -lt 20 ]; do
	insmod /cwg.ko || bad=1
	rmmod cwg || bad=1
	i=$((i + 1))
done
t1=$(now)
slab1=$(sed -n 's/^SUnreclaim: *\([0-9]*\).*/\1/p' /proc/meminfo)
ok $bad "20 cycles of insmod (self-test on) and rmmod"
[ "$(dmesg | grep -c 'cwg: self-test: [1-9][0-9]* passed, 0 failed')" = 20 ]
ok $? "20 self-tests passed"
echo "# 20 cycles: $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s; unreclaimable slab ${slab0} -> ${slab1} kB"
! loaded
ok $? "cwg is not loaded after the cycles"

# The negative control: one flipped expected byte in each family, and
# the module must refuse to load, naming that family.
log_mark
insmod /cwg-sabotage.ko && rmmod cwg
ok $? "the sabotage build loads when nothing is sabotaged"
for f in 1 2 3 4 5 6 7 8; do
	log_mark
	if insmod /cwg-sabotage.ko sabotage=$f 2>/dev/null; then
		rmmod cwg
		ok 1 "sabotage=$f: insmod must fail"
		continue
	fi
	# busybox's insmod tries finit_module, then init_module: the
	# self-test may run (and fail) twice, naming its family each time.
	fam=$(dmesg | sed -n 's/.*cwg: self-test \([a-z0-9-]*\): [0-9]* passed, [1-9][0-9]* failed$/\1/p' |
		sort -u)
	dmesg | grep -q 'refusing to load' && ! loaded &&
		[ -n "$fam" ] && [ "$(echo "$fam" | wc -l)" = 1 ]
	ok $? "sabotage=$f: insmod fails, the self-test names $fam alone"
done
