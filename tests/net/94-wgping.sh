#!/usr/bin/env bash
# Scenario 94: examples/wgping, a program outside the tree built against
# the installed libcwg with pkg-config alone (make api-check), run as
# nobody with one UDP socket and no TUN: it completes a handshake with a
# real peer and pings an address on the peer's side through the tunnel.
# Each peer is tried (IMPL and REF_IMPL), over outer IPv4 and IPv6, with
# inner IPv4 and IPv6; a wrong peer key gets no answer and exit status 1.
#
# Knobs: COUNT (3).

. "$(dirname "$0")/lib.sh"
T_REQUIRE_CMDS=(setpriv timeout)
require_env ref

BUILD_DIR=$(dirname "$IMPL_PATH")
WGPING=$BUILD_DIR/api/wgping
[[ -x $WGPING ]] || skip_all "no $WGPING (make api-check builds it)"
COUNT=${COUNT:-3}
# nobody may not reach the build tree (a clone under /root, say): run a
# copy of wgping and the library from a directory it can.
chmod 711 "$T_TMP"
mkdir -m 755 "$T_TMP/bin" && cp "$WGPING" "$BUILD_DIR"/libcwg.so* "$T_TMP/bin/" ||
	bail "copy wgping for nobody"
WGPING=$T_TMP/bin/wgping
# Under a sanitizer the runtime writes reports to its log_path and reads
# its suppressions file, both in the tree, which nobody may not reach
# (TSan then dies at start with 66): wgping logs where nobody can write,
# reads a copy of the suppressions, and reports are handed on to the
# log path afterwards, where the make target looks for them.
SAN_DIR=$T_TMP/san
mkdir -m 1777 "$SAN_DIR" || bail "sanitizer log directory"
SAN_ENV=() SAN_LOG_PATH=""
for v in ASAN_OPTIONS UBSAN_OPTIONS TSAN_OPTIONS; do
	val=${!v:-}
	[[ -n $val ]] || continue
	if [[ $val == *log_path=* ]]; then
		SAN_LOG_PATH=$(sed -E 's/.*log_path=([^:]*).*/\1/' <<<"$val")
		val=$(sed -E "s|log_path=[^:]*|log_path=$SAN_DIR/log|" <<<"$val")
	fi
	if [[ $val == *suppressions=* ]]; then
		supp=$(sed -E 's/.*suppressions=([^:]*).*/\1/' <<<"$val")
		install -m 644 "$supp" "$SAN_DIR/$v.supp" || bail "copy $supp"
		val=$(sed -E "s|suppressions=[^:]*|suppressions=$SAN_DIR/$v.supp|" <<<"$val")
	fi
	SAN_ENV+=("$v=$val")
done
san_handoff() {
	local f
	for f in "$SAN_DIR"/log.*; do
		[[ -e $f && -n $SAN_LOG_PATH ]] || continue
		mv "$f" "$SAN_LOG_PATH.wgping-${f##*.}"
	done
}

pair_setup || bail "namespaces and veth"
keypair b && keypair w && keypair x || bail "keys"
W4=10.200.0.9 W6=fd00:200::9

# wgping_as_nobody TAG ARGS...: wgping in namespace TAG without root; the
# private key arrives on a pipe, as nobody could not open the key file.
wgping_as_nobody() {
	local tag=$1
	shift
	cat "$(key w)" | nsx "$tag" timeout 30 setpriv --reuid=nobody \
		--regid=nogroup --clear-groups --inh-caps=-all \
		env LD_LIBRARY_PATH="$T_TMP/bin" "${SAN_ENV[@]}" "$WGPING" -k - "$@"
	local rc=$?
	san_handoff
	return $rc
}

# ping_through NAME BIN OUTER INNER: a peer daemon BIN in namespace b;
# wgping from namespace a; checks its output and exit status.
n=0
ping_through() {
	local name=$1 bin=$2 outer=$3 inner=$4 ifb ep src dst out rc label
	n=$((n + 1))
	ifb=$(ifname b$n)
	label="[$n] $name, outer IPv$outer, inner IPv$inner"
	if ! start_impl b "$ifb" "$bin" ||
	   ! wg_up b "$ifb" b $((51900 + n)) "$IN4_B/24" "$IN6_B/64"; then
		fail "$label: start the peer"
		return
	fi
	nsx b wg set "$ifb" peer "$(pub w)" allowed-ips "$W4/32,$W6/128" ||
		fail "$label: wg set"
	[[ $outer == 4 ]] && ep="$OUT4_B:$((51900 + n))" || ep="[$OUT6_B]:$((51900 + n))"
	[[ $inner == 4 ]] && src=$W4 dst=$IN4_B || src=$W6 dst=$IN6_B
	out=$(wgping_as_nobody a -p "$(pub b)" -e "$ep" -a "$src" \
		-c "$COUNT" -i 0.2 -W 3 "$dst" 2>&1)
	rc=$?
	diag "$out"
	check_eq "$label: wgping exits 0" "$rc" 0
	check "$label: handshake completed" grep -q "^handshake with the peer completed" <<<"$out"
	check "$label: $COUNT of $COUNT echo replies" \
		grep -q "^$COUNT packets transmitted, $COUNT received, 0% packet loss" <<<"$out"
	check "$label: replies name the target and a time" \
		grep -qE "bytes from $dst: icmp_seq=1 ttl=[0-9]+ time=[0-9.]+ ms" <<<"$out"
	check "$label: the peer lists wgping's handshake" \
		bash -c "[[ \$(ip netns exec $(ns b) wg show $ifb latest-handshakes | awk '{print \$2}') -gt 0 ]]"
	stop_impl b "$ifb"
}

impl_name=$(basename "$IMPL_PATH")
ref_name=$(basename "$REF_PATH")
ping_through "$impl_name" "$IMPL_PATH" 4 4
ping_through "$impl_name" "$IMPL_PATH" 6 6
ping_through "$ref_name" "$REF_PATH" 4 4
ping_through "$ref_name" "$REF_PATH" 6 4

# A peer that does not know our key never answers: exit 1, no reply.
ifb=$(ifname bz)
if start_impl b "$ifb" && wg_up b "$ifb" b 51999 "$IN4_B/24" "$IN6_B/64"; then
	nsx b wg set "$ifb" peer "$(pub x)" allowed-ips "$W4/32"
	out=$(wgping_as_nobody a -p "$(pub b)" -e "$OUT4_B:51999" -a "$W4" \
		-c 2 -i 0.2 -W 1 "$IN4_B" 2>&1)
	rc=$?
	check_eq "unknown to the peer: wgping exits 1" "$rc" 1
	check "unknown to the peer: 0 received" \
		grep -q "2 packets transmitted, 0 received, 100% packet loss" <<<"$out"
	stop_impl b "$ifb"
else
	fail "start the peer that does not know us"
fi

done_testing
