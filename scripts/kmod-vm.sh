#!/usr/bin/env bash
# Boot Debian's packaged kernel in qemu with cwg.ko and run the module
# checks inside it (`make kmod-check`). The host kernel here cannot load
# modules, so every kernel test runs in a VM this script builds itself:
#
#   - the kernel: Debian's linux-image-KVER for the KVER the installed
#     linux-headers-amd64 names, from /boot and /lib/modules when that
#     package is installed, else downloaded and unpacked into
#     build/kmod-vm/ (KERNEL_UNPACK=1 forces that); booted as the
#     uncompressed ELF inside the bzImage (PVH entry), cached there too;
#   - an initramfs of two cpio archives, one after the other (the kernel
#     unpacks both):
#       base (cached; rebuilt when an input changes): busybox-static
#         (apt-get download, unpacked: it conflicts with the busybox
#         package), bash, iproute2's ip, wg and wg-quick, nft,
#         wireguard-go, each with its ldd closure (and the closure of this
#         tree's programs), and the kernel modules: what cwg.ko needs,
#         tun, veth, nftables' ct and fib expressions, and Debian's
#         wireguard.ko with its own (modprobe -S KVER --show-depends),
#         uncompressed; and /init;
#       run (every time): cwg.ko, a build of it whose self-test can be
#         sabotaged (only when check 00 runs), build/cwg, the tools
#         garbage, deadfeed and cookie_probe, kmod/vm/*.sh and /vm/env
#         (the knobs below);
#   - qemu: KVM when it boots the kernel to /init within 30 s, else TCG
#     (-cpu max); the guest's results come back on a second serial port.
#
# The guest runs kmod/vm/run.sh: the checks kmod/vm/NN-*.sh in order, one
# TAP stream and one verdict (kmod/README.md).
#
# Exits 0 when the guest's verdict is "pass". Output: the guest's TAP lines,
# the boot and check times; console log and results in build/kmod-vm/run/.
#
#   BUILD    build directory (default: build)
#   KVER     kernel version (default: what linux-headers-amd64 depends on)
#   KERNEL_UNPACK  1: boot the downloaded linux-image-KVER even when installed
#   ACCEL    auto (default), kvm or tcg
#   TIMEOUT  seconds for one boot and all checks (default 600)
#   MEM      the VM's memory in MiB (default 512)
#   CHECKS   which checks, by number (e.g. 10,20; default all)
#   VARIANTS auto (default), kmod, standin or all: which implementations
#            the network checks run (kmod/vm/lib.sh)
#   KMOD_MODULE  cwg (default) or intree: the module behind the "kmod"
#            implementation; intree is Debian's wireguard.ko, to prove the
#            checks' kernel paths against a known-good module
#   VM_NAME=VALUE  passed to the guest's checks as NAME=VALUE (knobs such
#            as VM_BYTES=4000000)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
CACHE=$BUILD/kmod-vm
RUN=$CACHE/run
ACCEL=${ACCEL:-auto}
TIMEOUT=${TIMEOUT:-600}
MEM=${MEM:-512}
CHECKS=${CHECKS:-}
CHECKS=${CHECKS// /,}
VARIANTS=${VARIANTS:-auto}
KMOD_MODULE=${KMOD_MODULE:-cwg}
MOD=$BUILD/kmod/cwg.ko
SABOTAGE_OUT=$BUILD/kmod-sabotage
# The guest's userland from the host's packages (scripts/packages.txt,
# profile kmod), at the same paths inside; wg-quick is a bash script.
HOST_BINS=(/usr/bin/bash /usr/bin/ip /usr/bin/wg /usr/bin/wireguard-go /usr/sbin/nft)
HOST_SCRIPTS=(/usr/bin/wg-quick)
# This tree's userspace programs the checks run, from BUILD.
OUR_BINS=(cwg tools/garbage tools/deadfeed tools/cookie_probe kmod/wgnl-probe)
# Kernel modules for the network checks besides what cwg.ko needs: veth
# pairs, tun (the userspace daemons), what wg-quick's nft rules use (ct
# mark, fib saddr type), and Debian's own wireguard.ko (KMOD_MODULE=intree).
NET_MODULES=(tun veth nft_ct nft_fib_ipv4 nft_fib_ipv6)
INTREE_MODULES=(wireguard)

say() { printf 'kmod-vm: %s\n' "$*" >&2; }
die() {
	say "$*"
	exit 1
}

dep_of() { # the versioned package a metapackage depends on
	dpkg-query -W -f='${Depends}' "$1" 2>/dev/null |
		sed -n "s/^$2-\([^ ,]*\).*/\1/p"
}
# The kernel cwg.ko is built for: what linux-headers-amd64 depends on.
KVER=${KVER:-$(dep_of linux-headers-amd64 linux-headers)}
[[ -n $KVER ]] || die "no packaged kernel headers: sudo scripts/deps.sh build kmod"
for t in qemu-system-x86_64 cpio modprobe modinfo depmod xz apt-get dpkg-deb ldd \
	"${HOST_BINS[@]}" "${HOST_SCRIPTS[@]}"; do
	command -v "$t" >/dev/null || die "$t missing: sudo scripts/deps.sh build kmod"
done
[[ -f $MOD ]] || die "$MOD missing: make kmod"
for b in "${OUR_BINS[@]}"; do
	[[ -x $BUILD/$b ]] || die "$BUILD/$b missing (make kmod-check builds it)"
done
case $VARIANTS in auto | kmod | standin | all) ;; *) die "VARIANTS must be auto, kmod, standin or all" ;; esac
case $KMOD_MODULE in cwg | intree) ;; *) die "KMOD_MODULE must be cwg or intree" ;; esac
[[ $CHECKS =~ ^[0-9,\ ]*$ ]] || die "CHECKS is a list of check numbers, such as 10,20"
mkdir -p "$CACHE"

# wanted NN: is check NN selected?
wanted() { [[ -z $CHECKS || ,$CHECKS, == *,$1,* ]]; }

# The negative control of check 00: the same module, built so that
# sabotage=N flips one expected byte of self-test family N.
if wanted 00; then
	say "building the sabotage build of cwg.ko"
	make -s -C "$ROOT/kmod" OUT="$SABOTAGE_OUT" SABOTAGE=1 >"$CACHE/sabotage-build.log" 2>&1 ||
		{
			cat "$CACHE/sabotage-build.log" >&2
			die "the sabotage build failed"
		}
fi

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

# The kernel image and its modules: the installed ones when
# linux-image-KVER is installed (KROOT empty), else the package unpacked
# into build/kmod-vm/kernel-KVER (apt-get download, dpkg-deb -x, then
# depmod there), as busybox-static is: the VM needs the files, not a
# kernel installed on the host with its initramfs hooks.
KROOT=""
kernel_get() {
	local root=$CACHE/kernel-$KVER deb
	if [[ ${KERNEL_UNPACK:-0} != 1 && -r /boot/vmlinuz-$KVER &&
		-f /lib/modules/$KVER/modules.dep ]]; then
		KROOT=""
		return
	fi
	KROOT=$root
	[[ -f $root/lib/modules/$KVER/modules.dep ]] && return
	rm -rf "$root" "$CACHE/kdeb" && mkdir -p "$CACHE/kdeb"
	say "unpacking linux-image-$KVER (apt-get download; not installed)"
	(cd "$CACHE/kdeb" && apt-get download "linux-image-$KVER" >/dev/null 2>"$CACHE/kdeb/log") ||
		die "apt-get download linux-image-$KVER failed (apt-get update first?): $(cat "$CACHE/kdeb/log")"
	deb=$(ls "$CACHE"/kdeb/linux-image-*.deb)
	dpkg-deb -x "$deb" "$root.tmp"
	depmod -b "$root.tmp" "$KVER"
	mv "$root.tmp" "$root"
	rm -rf "$CACHE/kdeb"
}

# The ELF kernel inside the bzImage: the boot protocol's header says
# where the compressed payload is (setup_sects at 0x1f1, payload_offset
# and payload_length at 0x248 and 0x24c); its magic says how it is
# compressed. qemu boots the ELF through its PVH note, seconds faster
# under TCG than the bzImage's own decompressor.
le32() { od -An -t u4 -j "$2" -N 4 "$1" | tr -d ' '; }
vmlinux_get() {
	local bz=$KROOT/boot/vmlinuz-$KVER out=$CACHE/vmlinux-$KVER
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

# closure FILE...: the shared libraries and the dynamic loader FILEs load
# (ldd), one path a line; nothing for a static executable.
closure() {
	local f
	for f in "$@"; do
		ldd "$f" 2>/dev/null | awk '
			$2 == "=>" && $3 ~ /^\// { print $3 }
			$1 ~ /^\// { print $1 }'
	done | LC_ALL=C sort -u
}

# put DIR FILE [DEST]: FILE's content (symlinks followed) at DEST (default
# the same path) under DIR, mode kept.
put() {
	local dest=$1/${3:-$2}
	mkdir -p "$(dirname "$dest")"
	cp -L --preserve=mode "$2" "$dest"
}

# The module names a list of modprobe arguments loads, in load order
# (modprobe -S KVER --show-depends), one "name path" a line.
module_order() {
	local m line path name
	for m in "$@"; do
		while read -r line; do
			[[ $line == insmod\ * ]] || continue
			path=${line#insmod }
			path=${path%% *}
			name=${path##*/}
			name=${name%%.ko*}
			echo "$name $path"
		done < <(modprobe -d "${KROOT:-/}" -S "$KVER" --show-depends "$m")
	done
}

# modules_put DIR LIST MODULE...: those modules and what they depend on,
# uncompressed into DIR/lib/NAME.ko, their paths in load order in
# DIR/LIST (each module once per list).
modules_put() {
	local dir=$1 list=$2 name path
	shift 2
	: >"$dir/$list"
	while read -r name path; do
		grep -qx "/lib/$name.ko" "$dir/$list" && continue
		if [[ ! -f $dir/lib/$name.ko ]]; then
			case $path in
			*.xz) xz -dc "$path" >"$dir/lib/$name.ko" ;;
			*.zst) zstd -dc "$path" >"$dir/lib/$name.ko" ;;
			*.gz) gzip -dc "$path" >"$dir/lib/$name.ko" ;;
			*) cp "$path" "$dir/lib/$name.ko" ;;
			esac
		fi
		echo "/lib/$name.ko" >>"$dir/$list"
	done < <(module_order "$@")
}

# The base archive: what changes only with the host's packages or this
# script. Its key is this script, the kernel, the modules' names and the
# size and time of every host file it takes.
base_make() {
	local dir=$CACHE/base key cwg_deps
	cwg_deps=$(modinfo -F depends "$MOD" | tr ',' ' ')
	key=$(
		{
			cat "$0"
			echo "$KVER $cwg_deps ${KROOT:-installed}"
			# shellcheck disable=SC2046 # one path a line
			stat -L -c '%n %s %Y' "$CACHE/busybox" "${HOST_BINS[@]}" "${HOST_SCRIPTS[@]}" \
				$(closure "${HOST_BINS[@]}" "${OUR_BINS[@]/#/$BUILD/}")
		} | sha256sum | cut -d' ' -f1
	)
	if [[ -s $CACHE/base.cpio && $(cat "$CACHE/base.key" 2>/dev/null) == "$key" ]]; then
		say "initramfs base: cached ($(du -h "$CACHE/base.cpio" | cut -f1))"
		return
	fi
	say "initramfs base: building"
	rm -rf "$dir" "$CACHE/base.key"
	mkdir -p "$dir"/{bin,dev,proc,sys,tmp,run,lib,vm,etc/wireguard,usr/local/bin}
	chmod 700 "$dir/etc/wireguard"
	mkdir -p "$dir/var" && ln -s ../run "$dir/var/run"
	cp "$CACHE/busybox" "$dir/bin/busybox"
	ln -s busybox "$dir/bin/sh"
	local f
	# The libraries of this tree's programs too: they come from the
	# host's packages, and so change as rarely.
	for f in "${HOST_BINS[@]}" "${HOST_SCRIPTS[@]}" $(closure "${HOST_BINS[@]}" "${OUR_BINS[@]/#/$BUILD/}"); do
		put "$dir" "$f"
	done
	# wg-quick's #! is /bin/bash; /lib64's loader is what the ELF files name.
	ln -s /usr/bin/bash "$dir/bin/bash"
	# shellcheck disable=SC2086
	modules_put "$dir" modules.list $cwg_deps
	modules_put "$dir" modules-net.list "${NET_MODULES[@]}"
	modules_put "$dir" modules-intree.list "${INTREE_MODULES[@]}"
	cat >"$dir/init" <<'EOF'
#!/bin/sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs -o mode=755 run /run
mkdir -p /run/wireguard
ln -s /proc/self/fd /dev/fd
ip link set lo up
export PATH=/usr/local/bin:/usr/bin:/usr/sbin:/bin:/sbin HOME=/tmp
exec 3>/dev/ttyS1
echo "init: started at $(cut -d' ' -f1 /proc/uptime) s" >&3
/usr/bin/bash /vm/run.sh >&3 2>&1 </dev/null
echo "init: done at $(cut -d' ' -f1 /proc/uptime) s" >&3
sync
reboot -f
EOF
	chmod +x "$dir/init"
	(cd "$dir" && find . | LC_ALL=C sort | cpio -o -H newc --quiet) >"$CACHE/base.cpio.tmp"
	mv "$CACHE/base.cpio.tmp" "$CACHE/base.cpio"
	(cd "$dir" && find . -type f | LC_ALL=C sort | sed 's/^\.//') >"$CACHE/base.files"
	echo "$key" >"$CACHE/base.key"
	say "initramfs base: $(du -h "$CACHE/base.cpio" | cut -f1), $(wc -l <"$CACHE/base.files") files"
}

# The run archive: this tree's module, programs and checks, and the knobs.
run_make() {
	local dir=$CACHE/overlay b f v
	rm -rf "$dir"
	mkdir -p "$dir/vm" "$dir/usr/local/bin"
	cp "$MOD" "$dir/cwg.ko"
	if wanted 00; then
		cp "$SABOTAGE_OUT/cwg.ko" "$dir/cwg-sabotage.ko"
	fi
	for b in "${OUR_BINS[@]}"; do
		put "$dir" "$BUILD/$b" "/usr/local/bin/${b##*/}"
	done
	for f in $(closure "${OUR_BINS[@]/#/$BUILD/}"); do
		grep -qx "$f" "$CACHE/base.files" || put "$dir" "$f"
	done
	cp "$ROOT"/kmod/vm/*.sh "$dir/vm/"
	{
		printf 'CHECKS=%q\nVARIANTS=%q\nKMOD_MODULE=%q\n' "$CHECKS" "$VARIANTS" "$KMOD_MODULE"
		for v in $(compgen -e | grep '^VM_[A-Z0-9_]*$' || true); do
			printf '%s=%q\n' "${v#VM_}" "${!v}"
		done
	} >"$dir/vm/env"
	(cd "$dir" && find . | LC_ALL=C sort | cpio -o -H newc --quiet) >"$CACHE/run.cpio"
	cat "$CACHE/base.cpio" "$CACHE/run.cpio" >"$CACHE/initramfs.cpio"
	say "initramfs: $(du -h "$CACHE/initramfs.cpio" | cut -f1) (run part $(du -h "$CACHE/run.cpio" | cut -f1))"
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
			-m "$MEM" -smp "${SMP:-2}" -nographic -no-reboot -monitor none \
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
kernel_get
vmlinux_get
base_make
run_make
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
