#!/usr/bin/env bash
# The Debian package, as a user gets it: install the .deb that `make deb`
# built with apt-get, bring up a tunnel between two network namespaces
# with `WG_QUICK_USERSPACE_IMPLEMENTATION=cwg wg-quick up` at both ends
# (the packaged /usr/bin/cwg each time), ping through it, take it down,
# then `apt-get remove` and `purge` the package and check that none of
# its files and no cwg process is left.
#
#   scripts/deb-check.sh PATH/cwg_VERSION_ARCH.deb
#
# It installs and removes packages, so it is meant for a throwaway
# Debian root: `scripts/fresh-check.sh deb` builds the package on the
# host and runs this in a fresh minimal bookworm root. The package goes
# in with --no-install-recommends (wireguard-tools, its Recommends,
# would pull in a kernel image through its own); the tools the test uses
# come from the demo profile of scripts/packages.txt afterwards, so what
# the package brings with it is reported on its own.
#
# Where the kernel has WireGuard, wg-quick would never start cwg: then
# it runs a byte-identical copy of wg-quick beside an ip(8) wrapper that
# refuses only `ip link add ... type wireguard`, as scripts/demo.sh does.
# The namespaces, daemons and temporary files go on exit, also on
# failure.
set -euo pipefail
export LC_ALL=C DEBIAN_FRONTEND=noninteractive

HERE=$(cd "$(dirname "$0")" && pwd)
if [[ $# -ne 1 || ! -f $1 ]]; then
	echo "usage: deb-check.sh PATH/cwg_VERSION_ARCH.deb" >&2
	exit 2
fi
DEB=$(readlink -f "$1")
if [[ $(id -u) -ne 0 ]]; then
	echo "deb-check: needs root (apt-get, namespaces)" >&2
	exit 1
fi
APT=(apt-get -o DPkg::Lock::Timeout=600 -y -q)
FORBIDDEN='^(linux-image-.*|initramfs-tools|udev|apparmor)$'

ID=$$
NSA=cwgdeb-$ID-a NSB=cwgdeb-$ID-b
IFA=wgdeb${ID}a IFB=wgdeb${ID}b
TMP=$(mktemp -d /tmp/cwg-deb-check.XXXXXX)
WGQ=wg-quick
HIDE_MOD=""

fail() {
	echo "deb-check: FAIL: $*"
	exit 1
}

# cwg processes running from this root (a chroot sees the host's /proc).
cwg_pids() {
	local p
	for p in /proc/[0-9]*; do
		[[ $p/root -ef / ]] 2>/dev/null || continue
		[[ $(cat "$p/comm" 2>/dev/null) == cwg ]] && echo "${p#/proc/}"
	done
	return 0
}

cleanup() {
	local rc=$? n p
	trap - EXIT INT TERM
	set +e
	for n in "$NSA:$IFA" "$NSB:$IFB"; do
		[[ -f $TMP/${n#*:}.conf ]] &&
			wgq "${n%:*}" down "$TMP/${n#*:}.conf" >/dev/null 2>&1
	done
	for p in $(cwg_pids); do kill "$p"; done
	sleep 0.5
	for p in $(cwg_pids); do kill -KILL "$p"; done
	for n in "$NSA" "$NSB"; do
		ip netns del "$n" 2>/dev/null
	done
	rm -f "/var/run/wireguard/$IFA.sock" "/var/run/wireguard/$IFB.sock"
	rm -rf "$TMP"
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

installed() {
	dpkg-query -W -f '${db:Status-Abbrev} ${Package}\n' |
		awk '$1 ~ /^.i/ { print $2 }' | sort
}

# wgq NS up|down CONF: wg-quick in a namespace, told to run cwg by name,
# as README.Debian says. Its output goes to a file: the daemon it starts
# inherits its stdout.
wgq() {
	local n=$1
	shift
	ip netns exec "$n" bash -c "$HIDE_MOD exec \"\$@\"" _ \
		env PATH="$TMP/bin:$PATH" WG_QUICK_USERSPACE_IMPLEMENTATION=cwg \
		timeout 30 "$WGQ" "$@" >>"$TMP/wg-quick.log" 2>&1 </dev/null
}

# ------------------------------------------------------------ install
"${APT[@]}" update -qq
installed >"$TMP/pkgs.0"
would=$("${APT[@]}" install -s "$DEB" | awk '/^Inst / { printf "%s ", $2 }')
echo "deb-check: with Recommends (apt's default) it would bring: $would"

echo "== apt-get install --no-install-recommends $DEB"
"${APT[@]}" install --no-install-recommends "$DEB" >"$TMP/apt.log" 2>&1 ||
	{ cat "$TMP/apt.log"; fail "apt-get install of the package failed"; }
installed >"$TMP/pkgs.1"
came=$(comm -13 "$TMP/pkgs.0" "$TMP/pkgs.1" | tr '\n' ' ')
echo "deb-check: installed with it: $came"
[[ " $came " == *" cwg "* ]] || fail "cwg is not installed"
bad=$(comm -13 "$TMP/pkgs.0" "$TMP/pkgs.1" | grep -E "$FORBIDDEN" || true)
[[ -z $bad ]] || fail "the package pulled in $bad"
echo "deb-check: Depends: $(dpkg-query -W -f '${Depends}' cwg)"
rec=$(dpkg-query -W -f '${Recommends}' cwg)
echo "deb-check: Recommends: $rec"
[[ $rec == wireguard-tools ]] || fail "Recommends is '$rec', not wireguard-tools"
dpkg -L cwg >"$TMP/files"
echo "deb-check: $(wc -l <"$TMP/files") paths from dpkg -L cwg; $(command -v cwg): $(cwg --version)"

echo "== the test's tools (scripts/deps.sh demo)"
installed >"$TMP/pkgs.2"
"$HERE/deps.sh" demo >"$TMP/deps.log" 2>&1 ||
	{ cat "$TMP/deps.log"; fail "installing the test's tools failed"; }
installed >"$TMP/pkgs.3"
echo "deb-check: for the test: $(comm -13 "$TMP/pkgs.2" "$TMP/pkgs.3" | tr '\n' ' ')"

# ------------------------------------------------------------ tunnel
ip netns add "$NSA"
ip netns add "$NSB"
for n in "$NSA" "$NSB"; do
	ip -n "$n" link set lo up
	ip netns exec "$n" sysctl -qw net.ipv6.conf.all.accept_dad=0 \
		net.ipv6.conf.default.accept_dad=0
done
ip link add va netns "$NSA" type veth peer name vb netns "$NSB"
ip -n "$NSA" addr add 192.0.2.1/24 dev va
ip -n "$NSB" addr add 192.0.2.2/24 dev vb
ip -n "$NSA" link set va up
ip -n "$NSB" link set vb up

mkdir "$TMP/bin"
if [[ -e /sys/module/wireguard ]] ||
	ip -n "$NSA" link add wgprobe type wireguard 2>/dev/null; then
	ip -n "$NSA" link del wgprobe 2>/dev/null || true
	echo "deb-check: the kernel has WireGuard: wg-quick runs beside an ip wrapper"
	cp "$(readlink -f "$(command -v wg-quick)")" "$TMP/bin/wg-quick"
	cat >"$TMP/bin/ip" <<EOF
#!/bin/bash
if [[ \$1 == link && \$2 == add && \${*: -2:1} == type && \${*: -1} == wireguard ]]; then
	exit 2
fi
exec $(command -v ip) "\$@"
EOF
	chmod +x "$TMP/bin/ip"
	WGQ=$TMP/bin/wg-quick
	[[ -e /sys/module/wireguard ]] && HIDE_MOD="mount -t tmpfs none /sys/module &&"
fi

KA=$(wg genkey) KB=$(wg genkey)
umask 077
cat >"$TMP/$IFA.conf" <<EOF
[Interface]
PrivateKey = $KA
Address = 10.201.0.1/24, fd00:201::1/64
ListenPort = 51820

[Peer]
PublicKey = $(wg pubkey <<<"$KB")
Endpoint = 192.0.2.2:51820
AllowedIPs = 10.201.0.2/32, fd00:201::2/128
EOF
cat >"$TMP/$IFB.conf" <<EOF
[Interface]
PrivateKey = $KB
Address = 10.201.0.2/24, fd00:201::2/64
ListenPort = 51820

[Peer]
PublicKey = $(wg pubkey <<<"$KA")
Endpoint = 192.0.2.1:51820
AllowedIPs = 10.201.0.1/32, fd00:201::1/128
EOF
umask 022

echo "== WG_QUICK_USERSPACE_IMPLEMENTATION=cwg wg-quick up, in $NSA and $NSB"
wgq "$NSA" up "$TMP/$IFA.conf" || { cat "$TMP/wg-quick.log"; fail "wg-quick up $IFA"; }
wgq "$NSB" up "$TMP/$IFB.conf" || { cat "$TMP/wg-quick.log"; fail "wg-quick up $IFB"; }
grep -F '[!]' "$TMP/wg-quick.log" | sort | uniq -c | sed 's/^/  /'
n=0
for p in $(cwg_pids); do
	# By file: the path readlink gives depends on the mount namespaces.
	[[ /proc/$p/exe -ef /usr/bin/cwg ]] && n=$((n + 1))
done
echo "deb-check: $n cwg processes running /usr/bin/cwg"
((n == 2)) || { cat "$TMP/wg-quick.log"; fail "expected 2 daemons from /usr/bin/cwg, found $n"; }

ip netns exec "$NSA" ping -c 3 -i 0.3 -w 10 10.201.0.2 ||
	fail "no IPv4 ping through the tunnel"
ip netns exec "$NSA" ping -c 3 -i 0.3 -w 10 fd00:201::2 ||
	fail "no IPv6 ping through the tunnel"
hs=$(ip netns exec "$NSA" wg show "$IFA" latest-handshakes | awk '{ print $2 }')
rx=$(ip netns exec "$NSA" wg show "$IFA" transfer | awk '{ print $2 }')
echo "deb-check: $IFA: latest handshake $hs, $rx bytes received"
[[ $hs -gt 0 && $rx -gt 0 ]] || fail "no handshake or no data in wg show"

wgq "$NSA" down "$TMP/$IFA.conf" || fail "wg-quick down $IFA"
wgq "$NSB" down "$TMP/$IFB.conf" || fail "wg-quick down $IFB"
rm -f "$TMP/$IFA.conf" "$TMP/$IFB.conf"
for _ in $(seq 50); do
	[[ -z $(cwg_pids) ]] && break
	sleep 0.1
done
[[ -z $(cwg_pids) ]] || fail "cwg still running after wg-quick down: $(cwg_pids)"
left=$(ls -A /var/run/wireguard 2>/dev/null || true)
[[ -z $left ]] || fail "left in /var/run/wireguard after wg-quick down: $left"
echo "deb-check: wg-quick down: no daemon, no socket left"

# ------------------------------------------------------------ remove
# Whether each path was a directory, while the package is installed.
while read -r f; do
	if [[ -d $f && ! -L $f ]]; then echo "d $f"; else echo "f $f"; fi
done <"$TMP/files" >"$TMP/kinds"
echo "== apt-get remove cwg (and purge, if dpkg still knows it)"
"${APT[@]}" remove cwg >"$TMP/apt.log" 2>&1 ||
	{ cat "$TMP/apt.log"; fail "apt-get remove cwg"; }
st=$(dpkg-query -W -f '${db:Status-Abbrev}' cwg 2>/dev/null || echo none)
echo "deb-check: after remove, dpkg status: $st"
# A package without conffiles is forgotten at remove; apt, which only
# knew it from the .deb, would not find one to purge then.
if [[ $st != none && $st != "un " ]]; then
	"${APT[@]}" purge cwg >"$TMP/apt.log" 2>&1 ||
		{ cat "$TMP/apt.log"; fail "apt-get purge cwg"; }
	st=$(dpkg-query -W -f '${db:Status-Abbrev}' cwg 2>/dev/null || echo none)
	echo "deb-check: after purge, dpkg status: $st"
else
	echo "deb-check: nothing left to purge (no conffiles)"
fi
[[ $st == none || $st == "un " ]] || fail "cwg still known to dpkg: '$st'"

# Files must be gone; a directory may stay only while another package
# owns it (/usr/bin, /usr/share/man/man8, ...), and / stays.
nf=0 nd=0 kept=0
while read -r kind f; do
	if [[ $kind == f ]]; then
		nf=$((nf + 1))
		[[ ! -e $f && ! -L $f ]] || fail "left behind: $f"
	else
		nd=$((nd + 1))
		[[ -e $f ]] || continue
		[[ $f -ef / ]] && { kept=$((kept + 1)); continue; } # dpkg's "/."
		dpkg-query -S "$f" >/dev/null 2>&1 || fail "left behind: $f/"
		kept=$((kept + 1))
	fi
done <"$TMP/kinds"
echo "deb-check: of $nf files none left; of $nd directories $kept left, each owned by another package"
[[ -z $(cwg_pids) ]] || fail "a cwg process runs: $(cwg_pids)"
command -v cwg >/dev/null && fail "cwg still on PATH: $(command -v cwg)"
echo "deb-check: no cwg process, no cwg on PATH"
# Its dependencies stay, marked automatic, unless the test's tools hold them.
auto=$("${APT[@]}" -s autoremove | awk '/^Remv / { printf "%s ", $2 }')
echo "deb-check: apt-get autoremove would now remove: ${auto:-nothing}"
echo "deb-check: PASS"
