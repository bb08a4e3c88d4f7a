#!/usr/bin/env bash
# Install, from Debian's packages, whatever of cwg's build and test
# dependencies is missing. Runs apt-get only when something is missing.
set -euo pipefail

# build: compilers (clang with its sanitizer and libFuzzer runtimes),
# libcrypto, libseccomp; tests: prove (perl), the real
# peers and tools (wg/wg-quick, wireguard-go, iperf3, ncat, ping), the
# namespace and firewall tools wg-quick and the tests use, openssl for the
# tests' seeded random data, jq for bench/run.
PKGS=(build-essential clang libclang-rt-14-dev make libssl-dev libseccomp-dev perl openssl
      wireguard-tools wireguard-go iproute2 iptables nftables iputils-ping
      ncat iperf3 procps kmod jq)

missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "deps: missing ${missing[*]}; run as root to install them" >&2
		exit 1
	fi
	echo "deps: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq "${missing[@]}"
fi
