#!/usr/bin/env bash
# Install, from Debian's packages, what the named profiles of
# scripts/packages.txt use and is missing; apt-get runs only then, with
# --no-install-recommends (wireguard-tools alone would otherwise pull in a
# kernel image through its Recommends).
#
#   scripts/deps.sh [PROFILE...]   build, demo, test, bench, deb, kmod; default
#                                  "build test", what scripts/test.sh needs
#   scripts/deps.sh --list [PROFILE...]   print the packages, install nothing
set -euo pipefail

LIST=$(cd "$(dirname "$0")" && pwd)/packages.txt

list=0
if [[ ${1:-} == --list ]]; then
	list=1
	shift
fi
[[ $# -gt 0 ]] || set -- build test

PKGS=()
for prof in "$@"; do
	case $prof in
	build | demo | test | bench | deb | kmod) ;;
	*)
		echo "deps: unknown profile '$prof' (build, demo, test, bench, deb, kmod)" >&2
		exit 2
		;;
	esac
	while read -r pkg profs _; do
		[[ -z $pkg || $pkg == \#* ]] && continue
		[[ ,$profs, == *,$prof,* ]] || continue
		[[ " ${PKGS[*]:-} " == *" $pkg "* ]] || PKGS+=("$pkg")
	done <"$LIST"
done

if ((list)); then
	printf '%s\n' "${PKGS[@]}"
	exit 0
fi

missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0
if [[ $(id -u) -ne 0 ]]; then
	echo "deps: missing ${missing[*]}; run as root to install them" >&2
	exit 1
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Wait for another apt or dpkg run rather than fail at once.
apt=(apt-get -o DPkg::Lock::Timeout=600)
"${apt[@]}" update -qq
"${apt[@]}" install -y -qq --no-install-recommends "${missing[@]}"
