#!/usr/bin/env bash
# The README's two commands on a fresh Debian, as a new user would run
# them: a minimal bookworm root (debootstrap --variant=minbase, cached as
# a tarball after the first run) gets a clean copy of this repository's
# HEAD (git archive) in /root/cwg; then scripts/demo.sh and
# scripts/test.sh run there in turn, each as root in its own mount
# namespace (unshare -m) chrooted into that root, with /proc, /sys and
# /dev (so /dev/net/tun) bound in, as a container would, and each with a
# time limit. For each command it reports the exit status, the time, the
# packages the command installed (dpkg's list before and after) and, for
# the tests, prove's verdicts and skips. It fails when a command fails or
# when a kernel image (linux-image-*), initramfs-tools, udev or apparmor
# got installed: signs of apt following Recommends.
#
# The deb step checks the Debian package instead: `make deb` builds it on
# this host from a copy of HEAD (installing the deb profile's packages
# here if missing) and lintian checks it; then scripts/deb-check.sh, in
# the fresh root, installs it with apt-get, brings up a tunnel with
# wg-quick and the packaged cwg, removes and purges it, and checks that
# nothing of it is left.
#
#   sudo scripts/fresh-check.sh [demo] [test] [deb]  (default: demo test)
#
# Environment: DEMO_TIMEOUT (s, default 1200), TEST_TIMEOUT (s, 3600),
# DEB_TIMEOUT (s, 900, the build and the check each),
# CACHE (/var/cache/cwg-fresh-check), KEEP_ROOT=1 keeps the root for a
# look afterwards (under the work directory it prints).
#
# The only network it uses is Debian's archive, whose address it takes
# from apt's own configuration here (apt-get indextargets): the main
# suite for debootstrap, and the main, updates and security suites as
# the root's sources. Not part of CI: it takes 20-30 minutes.
#
# Everything it starts is cleaned up, also on failure or ^C: the mounts
# live only in the commands' mount namespaces, which end with their last
# process; every process whose root is the fresh root (daemons and
# namespaces' holders included) is killed after each command; the
# network namespaces the commands make go with them; the root itself is
# deleted (the logs are kept).
set -euo pipefail
export LC_ALL=C

SUITE=bookworm
REPO=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${CACHE:-/var/cache/cwg-fresh-check}
DEMO_TIMEOUT=${DEMO_TIMEOUT:-1200}
TEST_TIMEOUT=${TEST_TIMEOUT:-3600}
DEB_TIMEOUT=${DEB_TIMEOUT:-900}
KEEP_ROOT=${KEEP_ROOT:-0}
BASE_TAR=$CACHE/$SUITE-minbase.tar.gz
# Signs that apt followed Recommends: none of the commands uses these.
FORBIDDEN='^(linux-image-.*|initramfs-tools|udev|apparmor)$'

steps=("$@")
[[ ${#steps[@]} -gt 0 ]] || steps=(demo test)
for s in "${steps[@]}"; do
	[[ $s == demo || $s == test || $s == deb ]] || {
		echo "fresh-check: unknown step '$s' (demo, test, deb)" >&2
		exit 2
	}
done
if [[ $(id -u) -ne 0 ]]; then
	echo "fresh-check: needs root (chroot, mounts, namespaces)" >&2
	exit 1
fi

WORK=$(mktemp -d /var/tmp/cwg-fresh-check.XXXXXX)
ROOT=$WORK/root
LOGS=$WORK
SUMMARY=$WORK/summary.txt
FAILED=0

say() { printf '%s\n' "$*" | tee -a "$SUMMARY"; }

# Processes whose root directory is the fresh root, wherever they are.
root_pids() {
	local p
	[[ -d $ROOT ]] || return 0
	for p in /proc/[0-9]*; do
		[[ $p/root -ef $ROOT ]] 2>/dev/null && echo "${p#/proc/}"
	done
	return 0
}

# Kill them all: TERM, up to 5 s, then KILL; prints how many there were.
kill_root_pids() {
	local pids n=0 i
	for _ in 1 2 3; do
		pids=$(root_pids)
		[[ -n $pids ]] || break
		n=$((n + $(wc -w <<<"$pids")))
		kill -TERM $pids 2>/dev/null || true
		for i in $(seq 50); do
			[[ -n $(root_pids) ]] || break
			sleep 0.1
		done
		pids=$(root_pids)
		[[ -z $pids ]] || kill -KILL $pids 2>/dev/null || true
		sleep 0.2
	done
	echo "$n"
}

# Mounts under WORK in this (the host's) mount namespace: there should
# be none, as every mount is made inside a private namespace.
work_mounts() {
	awk -v w="$WORK" 'index($5, w) == 1 { print $5 }' /proc/self/mountinfo
}

cleanup() {
	local rc=$? m
	trap - EXIT INT TERM
	set +e
	kill_root_pids >/dev/null
	for m in $(work_mounts | sort -r); do
		echo "fresh-check: unmounting leftover $m" >&2
		umount -R -l "$m"
	done
	if [[ $KEEP_ROOT == 1 ]]; then
		echo "fresh-check: root kept in $ROOT"
	else
		[[ -z $(work_mounts) ]] && rm -rf --one-file-system "$ROOT" "$WORK/base" "$WORK/deb-src"
	fi
	echo "fresh-check: logs and summary in $WORK"
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- archive

# "URI CODENAME" of each Debian suite apt is configured with here.
debian_suites() {
	apt-get indextargets --format '$(REPO_URI) $(CODENAME)' \
		'Identifier: Packages' 'Origin: Debian' 2>/dev/null | sort -u
}
suites=$(debian_suites)
if ! grep -q " $SUITE\$" <<<"$suites"; then
	# indextargets knows the origin only from downloaded Release files.
	apt-get update -qq
	suites=$(debian_suites)
fi
MIRROR=$(awk -v s="$SUITE" '$2 == s { print $1; exit }' <<<"$suites")
if [[ -z $MIRROR ]]; then
	echo "fresh-check: apt here has no Debian $SUITE source" >&2
	exit 1
fi
SOURCES=$(awk -v s="$SUITE" '$2 == s || $2 == s "-updates" || $2 == s "-security" {
	print "deb " $1 " " $2 " main" }' <<<"$suites")

# ---------------------------------------------------------------- base root

if [[ ! -s $BASE_TAR ]]; then
	command -v debootstrap >/dev/null ||
		apt-get install -y -qq --no-install-recommends debootstrap
	say "base: debootstrap --variant=minbase $SUITE from $MIRROR (cached as $BASE_TAR)"
	mkdir -p "$CACHE" "$WORK/base"
	# In a private mount namespace, so that its /proc and /sys mounts
	# cannot outlive it.
	unshare -m --propagation private \
		debootstrap --variant=minbase "$SUITE" "$WORK/base" "$MIRROR" \
		>"$LOGS/debootstrap.log" 2>&1 || {
		echo "fresh-check: debootstrap failed, see $LOGS/debootstrap.log" >&2
		exit 1
	}
	printf '%s\n' "$SOURCES" >"$WORK/base/etc/apt/sources.list"
	# No service starts inside the root when a package is installed.
	printf '#!/bin/sh\nexit 101\n' >"$WORK/base/usr/sbin/policy-rc.d"
	chmod 755 "$WORK/base/usr/sbin/policy-rc.d"
	# As a Debian container image comes: no package lists, no debs.
	rm -rf "$WORK/base/var/lib/apt/lists/"* "$WORK/base/var/cache/apt/archives/"*.deb
	tar -C "$WORK/base" -czf "$BASE_TAR.tmp" .
	mv "$BASE_TAR.tmp" "$BASE_TAR"
	rm -rf --one-file-system "$WORK/base"
fi

mkdir "$ROOT"
tar -C "$ROOT" -xzf "$BASE_TAR"
cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
printf '%s\n' "$SOURCES" >"$ROOT/etc/apt/sources.list"
COMMIT=$(git -C "$REPO" rev-parse --short HEAD)
git -C "$REPO" archive --prefix=cwg/ HEAD | tar -C "$ROOT/root" -x
say "fresh root: $SUITE minbase, $(chroot "$ROOT" dpkg-query -W -f '.\n' | wc -l) packages; cwg at $COMMIT (HEAD, committed files only) in /root/cwg"

# ---------------------------------------------------------------- steps

pkg_list() {
	chroot "$ROOT" dpkg-query -W -f '${db:Status-Abbrev} ${Package} ${Installed-Size}\n' |
		awk '$1 ~ /^.i/ { print $2, $3 }' | sort
}

# in_root TIMEOUT CMD: CMD (a shell command line) as root in /root/cwg,
# in its own mount namespace chrooted into ROOT, with a clean
# environment and no input.
in_root() {
	timeout -k 30 "$1" unshare -m --propagation private bash -c '
		set -e
		r=$1
		mount --bind "$r" "$r"
		mount --bind /proc "$r/proc"
		mount --rbind /sys "$r/sys"
		mount --rbind /dev "$r/dev"
		exec chroot "$r" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM=dumb \
			PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
			bash -c "cd /root/cwg && $2"' _ "$ROOT" "$2" </dev/null
}

run_step() {
	local name=$1 limit=$2 cmd=$3 log=$LOGS/$1.log t0 t1 rc killed
	local new bad kib
	pkg_list >"$LOGS/$name.pkgs.before"
	say ""
	say "== $name: $cmd (time limit ${limit}s; log $log)"
	t0=$(date +%s)
	set +e
	in_root "$limit" "$cmd" >"$log" 2>&1
	rc=$?
	set -e
	t1=$(date +%s)
	killed=$(kill_root_pids)
	pkg_list >"$LOGS/$name.pkgs.after"
	new=$(join -v 2 "$LOGS/$name.pkgs.before" "$LOGS/$name.pkgs.after")
	kib=$(awk '{ s += $2 } END { print s + 0 }' <<<"$new")
	if [[ $rc -eq 124 || $rc -eq 137 ]]; then
		say "$name: TIMED OUT after $((t1 - t0)) s (exit $rc)"
	else
		say "$name: exit $rc after $((t1 - t0)) s"
	fi
	((rc == 0)) || FAILED=1
	say "$name: installed $(grep -c . <<<"$new" || true) packages, $((kib / 1024)) MiB:"
	fold -s -w 76 <<<"$(awk '{ printf "%s ", $1 }' <<<"$new")" | sed 's/^/  /' | tee -a "$SUMMARY"
	bad=$(awk '{ print $1 }' <<<"$new" | grep -E "$FORBIDDEN" || true)
	if [[ -n $bad ]]; then
		say "$name: FAIL: installed $(echo $bad) (apt followed Recommends?)"
		FAILED=1
	else
		say "$name: no kernel image, initramfs-tools, udev or apparmor installed"
	fi
	say "$name: $killed leftover processes killed; $(root_pids | wc -w) left; $(work_mounts | wc -l) mounts left outside its namespace"
}

demo_summary() {
	local log=$LOGS/demo.log
	say "demo: $(grep -c ' 0% packet loss' "$log" || true) of 2 pings without loss;" \
		"iperf3: $(grep -m1 -E 'receiver$' "$log" | awk '{ print $(NF-2), $(NF-1) }')"
}

test_summary() {
	local log=$LOGS/test.log
	say "test: prove's verdicts (plain, then ASan+UBSan):"
	grep -E '^(Result:|Files=)' "$log" | sed 's/^/  /' | tee -a "$SUMMARY" || true
	say "test: failed test points:"
	grep -E '^not ok' "$log" | grep -v '# TODO' | sed 's/^/  /' |
		tee -a "$SUMMARY" || say "  none"
	say "test: skipped scripts and test points:"
	grep -E '# SKIP' "$log" | sort | uniq -c | sed 's/^/  /' |
		tee -a "$SUMMARY" || say "  none"
	say "test: fuzzing:"
	grep -E '^fuzz(_[a-z]+)?: ' "$log" | grep -v ': running for' |
		sed 's/^/  /' | tee -a "$SUMMARY" || say "  no fuzz run"
}

# The package, built here from HEAD's files by `make deb` (lintian
# included); it and lintian's report are kept in WORK, and a copy goes
# into the root's /root.
DEB=""
build_deb() {
	local src=$WORK/deb-src log=$LOGS/deb-build.log t0 t1 rc
	mkdir "$src"
	git -C "$REPO" archive HEAD | tar -C "$src" -x
	say ""
	say "== deb-build (on the host): make deb in a copy of $COMMIT (time limit ${DEB_TIMEOUT}s; log $log)"
	t0=$(date +%s)
	set +e
	timeout -k 30 "$DEB_TIMEOUT" make -C "$src" deb </dev/null >"$log" 2>&1
	rc=$?
	set -e
	t1=$(date +%s)
	say "deb-build: exit $rc after $((t1 - t0)) s"
	grep -E '^(lintian|deb): ' "$log" | sed 's/^/  /' | tee -a "$SUMMARY" || true
	cp "$src"/build/deb/lintian.txt "$WORK/" 2>/dev/null || true
	if ((rc != 0)); then
		FAILED=1
		return 1
	fi
	DEB=$(find "$src/build/deb" -maxdepth 1 -name 'cwg_*.deb')
	cp "$src"/build/deb/*.deb "$src"/build/deb/*.changes "$WORK/"
	cp "$DEB" "$ROOT/root/"
	say "deb-build: $(basename "$DEB"), $(stat -c %s "$DEB") bytes:"
	dpkg-deb -f "$DEB" Depends Recommends | sed 's/^/  /' | tee -a "$SUMMARY"
}

deb_summary() {
	local log=$LOGS/deb.log
	say "deb: what the check saw:"
	grep -E '^deb-check: ' "$log" | sed 's/^/  /' | tee -a "$SUMMARY" || true
	grep -E 'packets transmitted' "$log" | sed 's/^/  ping: /' | tee -a "$SUMMARY" || true
}

for s in "${steps[@]}"; do
	case $s in
	demo)
		run_step demo "$DEMO_TIMEOUT" scripts/demo.sh
		demo_summary
		;;
	test)
		run_step test "$TEST_TIMEOUT" scripts/test.sh
		test_summary
		;;
	deb)
		if build_deb; then
			run_step deb "$DEB_TIMEOUT" "scripts/deb-check.sh /root/$(basename "$DEB")"
			deb_summary
		fi
		;;
	esac
done

say ""
if ((FAILED)); then
	say "fresh-check: FAIL"
	exit 1
fi
say "fresh-check: PASS"
