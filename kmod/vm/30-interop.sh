# Check 30: the module against the userspace implementations in the same
# VM, each side initiating.
#
# Subjects I:R, I the initiator: the module against this tree's cwg
# daemon and against Debian's wireguard-go, both ways round (stand-ins:
# cwg against wireguard-go, both ways). Only I is given the other's
# endpoint, so only I can start the handshake; R learns I's endpoint from
# it. The outer family alternates with the subject (IPv4, IPv6, ...).
# Checks: I's first ping gets through (a handshake I started), both sides
# record the handshake, R holds I's outer address and port as endpoint,
# BYTES inside IPv4 from I to R and inside IPv6 from R back to I arrive
# whole (lib.sh's xfer).
#
# Knobs: BYTES (lib.sh).

. /vm/lib.sh
keypair a b || bail keys
net_modules || bail "the network modules"

subjects "kmod:cwg cwg:kmod kmod:wggo wggo:kmod" "cwg:wggo wggo:cwg"
pair_setup || bail "namespaces and veth"
k=0
for s in "${SUBJECTS[@]}"; do
	II=${s%%:*} IR=${s##*:}
	fam=$((k % 2 == 0 ? 4 : 6))
	k=$((k + 1))
	L="$(label "$II") initiating, $(label "$IR") responding, outer IPv$fam"
	IFA=$(ifname a$k) IFB=$(ifname b$k) PA=$((51820 + 2 * k)) PB=$((51821 + 2 * k))
	if [ $fam = 4 ]; then ep="$OUT4_B:$PB" back="$OUT4_A:$PA"; else ep="[$OUT6_B]:$PB" back="[$OUT6_A]:$PA"; fi
	wg_up a "$IFA" "$II" a $PA "$IN4_A/24" "$IN6_A/64" || bail "interface in a ($II)"
	wg_up b "$IFB" "$IR" b $PB "$IN4_B/24" "$IN6_B/64" || bail "interface in b ($IR)"
	nsx a wg set "$IFA" peer "$(pub b)" endpoint "$ep" allowed-ips "$IN4_B/32,$IN6_B/128" &&
		nsx b wg set "$IFB" peer "$(pub a)" allowed-ips "$IN4_A/32,$IN6_A/128" || bail "peers"

	check "30-interop [$L]: the initiator's ping gets through" ping_some a "$IN4_B" 15
	hs="$(handshake_of a "$IFA" b) $(handshake_of b "$IFB" a)"
	case $hs in
	0\ * | *\ 0 | *\ | \ *) r=1 ;;
	*) r=0 ;;
	esac
	ok $r "30-interop [$L]: both sides record the handshake" "latest handshakes (initiator, responder): $hs"
	is "30-interop [$L]: the responder learned the initiator's endpoint" "$(endpoint_of b "$IFB" a)" "$back"
	check "30-interop [$L]: $BYTES bytes inside IPv4, initiator to responder, whole" xfer a b "$IN4_B" "$BYTES"
	check "30-interop [$L]: $BYTES bytes inside IPv6, responder to initiator, whole" xfer b a "$IN6_A" "$BYTES"
	wg_del a "$IFA" "$II"
	wg_del b "$IFB" "$IR"
done
