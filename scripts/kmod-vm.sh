#!/usr/bin/env bash
# Boot Debian's packaged kernel in qemu with cwg.ko and run the module
# checks inside it (`make kmod-check`). The host kernel here cannot load
# modules, so every kernel test runs in a VM this script builds itself:
#
#   - the kernel: /boot/vmlinuz-KVER (linux-image-amd64), booted as the
#     uncompressed ELF inside it (PVH entry), cached in build/kmod-vm/;
#   - an initramfs: busybox-static (apt-get download, unpacked: it
#     conflicts with the busybox package), the kernel modules cwg.ko
#     needs (modprobe -S KVER --show-depends), cwg.ko, a build of it whose
#     self-test can be sabotaged, kmod/vm-check.sh and an /init;
#   - qemu: KVM when it boots the kernel to /init within 30 s, else TCG
#     (-cpu max); the guest's results come back on a second serial port.
#
# Exits 0 when the guest's verdict is "pass". Output: the guest's TAP lines,
# the boot and check times; console log and results in build/kmod-vm/run/.
#
#   BUILD    build directory (default: build)
#   KVER     kernel version (default: what linux-image-amd64 depends on)
#   ACCEL    auto (default), kvm or tcg
#   TIMEOUT  seconds for one boot and all checks (default 600)
#   CHECK    the guest-side check script (default kmod/vm-check.sh)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
CACHE=$BUILD/kmod-vm
RUN=$CACHE/run
ACCEL=${ACCEL:-auto}
TIMEOUT=${TIMEOUT:-600}
CHECK=${CHECK:-$ROOT/kmod/vm-check.sh}
MOD=$BUILD/kmod/cwg.ko
SABOTAGE_OUT=$BUILD/kmod-sabotage

say() { printf 'kmod-vm: %s\n' "$*" >&2; }
die() {
	say "$*"
	exit 1
}

dep_of() { # the versioned package a metapackage depends on
	dpkg-query -W -f='${Depends}' "$1" 2>/dev/null |
		sed -n "s/^$2-\([^ ,]*\).*/\1/p"
}
KVER=${KVER:-$(dep_of linux-image-amd64 linux-image)}
[[ -n $KVER && -r /boot/vmlinuz-$KVER && -d /lib/modules/$KVER ]] ||
	die "no packaged kernel '$KVER' to boot: sudo scripts/deps.sh kmod"
for t in qemu-system-x86_64 cpio modprobe modinfo xz apt-get dpkg-deb; do
	command -v "$t" >/dev/null || die "$t missing: sudo scripts/deps.sh kmod"
done
[[ -f $MOD ]] || die "$MOD missing: make kmod"
mkdir -p "$CACHE"

# The negative control: the same module, built so that sabotage=N flips
# one expected byte of self-test family N.
say "building the sabotage build of cwg.ko"
make -s -C "$ROOT/kmod" OUT="$SABOTAGE_OUT" SABOTAGE=1 >"$CACHE/sabotage-build.log" 2>&1 ||
	{
		cat "$CACHE/sabotage-build.log" >&2
		die "the sabotage build failed"
	}

# busybox-static from Debian's archive, unpacked, never installed.
busybox_get() {
	local bb=$CACHE/busybox deb
	[[ -x $bb ]] && return
	rm -rf "$CACHE/bb" && mkdir -p "$CACHE/bb"
	(cd "$CACHE/bb" && apt-get download busybox-static >/dev/null 2>"$CACHE/bb/log") ||
		die "apt-get download busybox-static failed (apt-get update first?): $(cat "$CACHE/bb/log")"
	deb=$(ls "$CACHE"/bb/busybox-static_*.deb)
	dpkg-deb -x "$deb" "$CACHE/bb/root"
	cp "$CACHE/bb/root/bin/busybox" "$bb"
	rm -rf "$CACHE/bb"
}

# The ELF kernel inside the bzImage: the boot protocol's header says
# where the compressed payload is (setup_sects at 0x1f1, payload_offset
# and payload_length at 0x248 and 0x24c); its magic says how it is
# compressed. qemu boots the ELF through its PVH note, seconds faster
# under TCG than the bzImage's own decompressor.
le32() { od -An -t u4 -j "$2" -N 4 "$1" | tr -d ' '; }
vmlinux_get() {
	local bz=/boot/vmlinuz-$KVER out=$CACHE/vmlinux-$KVER
	local setup off len magic
	[[ -s $out && $out -nt $bz ]] && return
	setup=$(od -An -t u1 -j $((0x1f1)) -N 1 "$bz" | tr -d ' ')
	((setup)) || setup=4
	off=$(((setup + 1) * 512 + $(le32 "$bz" $((0x248)))))
	len=$(le32 "$bz" $((0x24c)))
	magic=$(od -An -t x1 -j "$off" -N 4 "$bz" | tr -d ' ')
	case $magic in
	fd377a58) dd if="$bz" bs=1 skip="$off" count="$len" status=none iflag=skip_bytes,count_bytes |
		xz -dc >"$out.tmp" 2>/dev/null || true ;;
	1f8b*) tail -c +$((off + 1)) "$bz" | head -c "$len" | gzip -dc >"$out.tmp" 2>/dev/null || true ;;
	28b52ffd) tail -c +$((off + 1)) "$bz" | head -c "$len" | zstd -dc >"$out.tmp" 2>/dev/null || true ;;
	*) die "$bz: unknown payload compression (magic $magic)" ;;
	esac
	[[ $(od -An -c -N 4 "$out.tmp" | tr -d ' ') == 177ELF ]] ||
		die "$bz: no ELF kernel inside"
	mv "$out.tmp" "$out"
}

# The modules cwg.ko needs, in load order, uncompressed.
modules_get() {
	local dir=$1 deps d line path name
	deps=$(modinfo -F depends "$MOD" | tr ',' ' ')
	: >"$dir/modules.list"
	for d in $deps; do
		while read -r line; do
			[[ $line == insmod\ * ]] || continue
			path=${line#insmod }
			path=${path%% *}
			name=${path##*/}
			name=${name%%.ko*}
			grep -qx "/lib/$name.ko" "$dir/modules.list" && continue
			case $path in
			*.xz) xz -dc "$path" >"$dir/lib/$name.ko" ;;
			*.zst) zstd -dc "$path" >"$dir/lib/$name.ko" ;;
			*.gz) gzip -dc "$path" >"$dir/lib/$name.ko" ;;
			*) cp "$path" "$dir/lib/$name.ko" ;;
			esac
			echo "/lib/$name.ko" >>"$dir/modules.list"
		done < <(modprobe -S "$KVER" --show-depends "$d")
	done
}

initramfs_make() {
	local dir=$CACHE/initramfs
	rm -rf "$dir"
	mkdir -p "$dir"/{bin,dev,proc,sys,tmp,lib}
	cp "$CACHE/busybox" "$dir/bin/busybox"
	ln -s busybox "$dir/bin/sh"
	modules_get "$dir"
	cp "$MOD" "$dir/cwg.ko"
	cp "$SABOTAGE_OUT/cwg.ko" "$dir/cwg-sabotage.ko"
	cp "$CHECK" "$dir/check.sh"
	cat >"$dir/init" <<'EOF'
#!/bin/sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
exec 3>/dev/ttyS1
echo "init: started at $(cut -d' ' -f1 /proc/uptime) s" >&3
. /check.sh >&3 2>&1
echo "init: done at $(cut -d' ' -f1 /proc/uptime) s" >&3
sync
reboot -f
EOF
	chmod +x "$dir/init"
	(cd "$dir" && find . | LC_ALL=C sort | cpio -o -H newc --quiet) >"$CACHE/initramfs.cpio"
}

# One boot. Returns 0 when the guest got to its verdict; 2 when it did not
# reach /init within the first 30 s, or qemu gave up before (a KVM that
# cannot run this kernel: here qemu aborts on an MSR the host's KVM
# refuses).
boot() {
	local accel=$1 cpu=max pid waited=0
	[[ $accel == kvm ]] && cpu=host
	rm -rf "$RUN" && mkdir -p "$RUN"
	: >"$RUN/result.txt"
	# In a subshell that outlives qemu (hence the echo), which reports a
	# qemu killed by a signal (an abort, the timeout) to qemu.log rather
	# than to our stderr.
	(
		timeout "$TIMEOUT" qemu-system-x86_64 -accel "$accel" -cpu "$cpu" \
			-m 512 -smp "${SMP:-2}" -nographic -no-reboot -monitor none \
			-serial "file:$RUN/console.log" -serial "file:$RUN/result.txt" \
			-kernel "$CACHE/vmlinux-$KVER" -initrd "$CACHE/initramfs.cpio" \
			-append "console=ttyS0 panic=-1 quiet"
		echo "qemu: exit status $?"
	) >"$RUN/qemu.log" 2>&1 &
	pid=$!
	while kill -0 "$pid" 2>/dev/null; do
		if ((waited == 30)) && ! grep -q '^init: started' "$RUN/result.txt"; then
			kill "$pid" 2>/dev/null || true
			wait "$pid" 2>/dev/null || true
			return 2
		fi
		sleep 1
		waited=$((waited + 1))
	done
	wait "$pid" || true
	grep -q '^init: started' "$RUN/result.txt" || return 2
	grep -q '^verdict: ' "$RUN/result.txt"
}

busybox_get
vmlinux_get
initramfs_make
start=$(date +%s.%N)
case $ACCEL in
auto | kvm)
	if [[ -w /dev/kvm ]]; then
		used=kvm
		boot kvm && rc=0 || rc=$?
		if ((rc == 2)) && [[ $ACCEL == auto ]]; then
			say "KVM did not reach /init ($(head -n 1 "$RUN/qemu.log")): falling back to TCG"
			used=tcg
			start=$(date +%s.%N)
			boot tcg && rc=0 || rc=$?
		fi
	else
		[[ $ACCEL == kvm ]] && die "/dev/kvm not usable"
		used=tcg
		boot tcg && rc=0 || rc=$?
	fi
	;;
tcg)
	used=tcg
	boot tcg && rc=0 || rc=$?
	;;
*) die "ACCEL must be auto, kvm or tcg" ;;
esac
elapsed=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')

# The guest's tty turned each newline into CR LF.
tr -d '\r' <"$RUN/result.txt" >"$RUN/result.log"
grep -v '^init: ' "$RUN/result.log" || true
boot_s=$(sed -n 's/^init: started at \(.*\) s$/\1/p' "$RUN/result.log")
done_s=$(sed -n 's/^init: done at \(.*\) s$/\1/p' "$RUN/result.log")
say "accel $used, kernel $KVER; guest reached /init at ${boot_s:-?} s," \
	"checks ended at ${done_s:-?} s; ${elapsed} s on the host"
if ((rc != 0)); then
	say "no verdict from the guest (timeout ${TIMEOUT} s, or a panic); console:"
	tail -n 40 "$RUN/console.log" >&2 || true
	exit 1
fi
grep -q '^verdict: pass$' "$RUN/result.log"
