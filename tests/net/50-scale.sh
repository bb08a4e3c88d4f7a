#!/usr/bin/env bash
# Scenario 50, on IMPL:
#  - `wg setconf` with one peer holding 130,560 allowed IPs (255 x 256 IPv4
#    /16s plus as many IPv6 /128s), read back complete and exact by
#    `wg show IFACE allowed-ips`;
#  - `wg setconf` with 40 peers holding 52 allowed IPs each (26 IPv4 /24 +
#    26 IPv6 /64), read back exact per peer;
#  - a TCP transfer with the tunnel at MTU 34816 (veth at 65535), SHA-256
#    checked, after a DF ping of exactly the tunnel MTU went through.
#
# Knobs: BYTES (default 67108864), SEED (random, printed).

. "$(dirname "$0")/lib.sh"
T_REQUIRE_CMDS=(ncat openssl ping ss timeout awk sort)
require_env

SEED=${SEED:-$RANDOM$RANDOM}
BYTES=${BYTES:-67108864}
TUN_MTU=34816
diag "seed=$SEED bytes=$BYTES"

pair_setup 65535 || bail "namespaces and veth"
keypair a && keypair b || bail keys
IFA=$(ifname a) IFB=$(ifname b)
start_impl a "$IFA" && start_impl b "$IFB" || bail "start daemons"

# ------------------------------------------------ 130,560 prefixes, 1 peer
keypair big || bail keys
awk 'BEGIN { for (a = 1; a <= 255; a++) for (b = 0; b <= 255; b++) {
	printf "%d.%d.0.0/16\n", a, b; printf "fd00:1::%x:%x/128\n", a, b } }' |
	LC_ALL=C sort >"$T_TMP/big.want"
{
	printf '[Interface]\nPrivateKey = %s\nListenPort = 51820\n\n[Peer]\nPublicKey = %s\n' \
		"$(cat "$(key a)")" "$(pub big)"
	# one AllowedIPs line per first octet, v4 then v6
	awk 'BEGIN { for (a = 1; a <= 255; a++) {
		s = ""; for (b = 0; b <= 255; b++) s = s (b ? ", " : "") sprintf("%d.%d.0.0/16", a, b)
		print "AllowedIPs = " s
		s = ""; for (b = 0; b <= 255; b++) s = s (b ? ", " : "") sprintf("fd00:1::%x:%x/128", a, b)
		print "AllowedIPs = " s } }'
} >"$T_TMP/big.conf"
check_eq "expected list has 130560 prefixes" "$(wc -l <"$T_TMP/big.want")" 130560

t0=$(date +%s)
check "setconf with 130560 allowed IPs on one peer" nsx a timeout 120 wg setconf "$IFA" "$T_TMP/big.conf"
nsx a timeout 120 wg show "$IFA" allowed-ips >"$T_TMP/big.got.raw"
diag "setconf + show took $(($(date +%s) - t0)) s"
check_eq "one peer listed" "$(wc -l <"$T_TMP/big.got.raw")" 1
check_eq "read back 130560 prefixes" "$(awk '{ print NF - 1 }' "$T_TMP/big.got.raw")" 130560
awk '{ for (i = 2; i <= NF; i++) print $i }' "$T_TMP/big.got.raw" | LC_ALL=C sort >"$T_TMP/big.got"
check "read back exactly the prefixes set" cmp -s "$T_TMP/big.want" "$T_TMP/big.got"
[[ $T_FAILED -eq 0 ]] || diag "$(diff "$T_TMP/big.want" "$T_TMP/big.got" | head -n 10)"
check_eq "showconf has them too" \
	"$(nsx a wg showconf "$IFA" | awk -F ' = ' '$1 == "AllowedIPs" { n += split($2, x, ", ") } END { print n }')" 130560

# ------------------------------------------------- 40 peers x 52 prefixes
# fd00:I:J::/64 as inet_ntop writes it (J = 0 folds into the "::")
V6='function v6(i, j) { return j ? sprintf("fd00:%x:%x::/64", i, j) : sprintf("fd00:%x::/64", i) }'
{
	printf '[Interface]\nPrivateKey = %s\nListenPort = 51820\n' "$(cat "$(key a)")"
	for i in $(seq 1 40); do
		keypair "p$i" || exit 1
		printf '\n[Peer]\nPublicKey = %s\nAllowedIPs = ' "$(pub "p$i")"
		awk -v i="$i" "$V6"'BEGIN { s = ""
			for (j = 0; j < 26; j++) s = s (j ? ", " : "") sprintf("10.%d.%d.0/24", 100 + i, j)
			for (j = 0; j < 26; j++) s = s ", " v6(i, j)
			print s }'
	done
} >"$T_TMP/many.conf" || bail "write config"
for i in $(seq 1 40); do
	awk -v i="$i" -v k="$(pub "p$i")" 'BEGIN {
		for (j = 0; j < 26; j++) printf "%s %d.%d.%d.0/24\n", k, 10, 100 + i, j
		for (j = 0; j < 26; j++) printf "%s %s\n", k, v6(i, j) }
		'"$V6"
done | LC_ALL=C sort >"$T_TMP/many.want"
check "setconf with 40 peers x 52 allowed IPs (replacing the big peer)" \
	nsx a timeout 60 wg setconf "$IFA" "$T_TMP/many.conf"
nsx a timeout 60 wg show "$IFA" allowed-ips >"$T_TMP/many.got.raw"
check_eq "40 peers listed" "$(wc -l <"$T_TMP/many.got.raw")" 40
check_eq "every peer has 52 prefixes" \
	"$(awk '{ print NF - 1 }' "$T_TMP/many.got.raw" | sort -u | paste -sd,)" 52
awk '{ for (i = 2; i <= NF; i++) print $1, $i }' "$T_TMP/many.got.raw" | LC_ALL=C sort >"$T_TMP/many.got"
check_eq "2080 prefixes in all" "$(wc -l <"$T_TMP/many.got")" 2080
check "each peer holds exactly its own prefixes" cmp -s "$T_TMP/many.want" "$T_TMP/many.got" ||
	diag "$(diff "$T_TMP/many.want" "$T_TMP/many.got" | head -n 10)"
check_not "the big peer is gone" grep -q "$(pub big)" "$T_TMP/many.got.raw"

# ------------------------------------------------------ MTU 34816 transfer
nsx a wg setconf "$IFA" /dev/null 2>/dev/null # empty the device
wg_up a "$IFA" a 51830 "$IN4_A/24" "$IN6_A/64" "$TUN_MTU" &&
	wg_up b "$IFB" b 51831 "$IN4_B/24" "$IN6_B/64" "$TUN_MTU" || bail "configure tunnel"
nsx a wg set "$IFA" peer "$(pub b)" allowed-ips "$IN4_B/32,$IN6_B/128" endpoint "$OUT4_B:51831" &&
	nsx b wg set "$IFB" peer "$(pub a)" allowed-ips "$IN4_A/32,$IN6_A/128" || bail "peers"
check_eq "tunnel MTU $TUN_MTU" "$(nsx a cat /sys/class/net/"$IFA"/mtu)" $TUN_MTU
check_eq "veth MTU 65535" "$(nsx a cat /sys/class/net/va/mtu)" 65535
check "tunnel up" ping_some a "$IN4_B"
check "DF ping of exactly $TUN_MTU bytes, IPv4" \
	nsx a timeout 15 ping -n -q -M do -s $((TUN_MTU - 28)) -c 3 -i 0.2 -w 10 "$IN4_B"
check "DF ping of exactly $TUN_MTU bytes, IPv6" \
	nsx a timeout 15 ping -n -q -M do -s $((TUN_MTU - 48)) -c 3 -i 0.2 -w 10 "$IN6_B"
check_not "one byte more does not fit" \
	nsx a timeout 5 ping -n -q -M do -s $((TUN_MTU - 27)) -c 1 -W 1 "$IN4_B"
rx0=$(nsx b cat /sys/class/net/"$IFB"/statistics/rx_bytes) rp0=$(nsx b cat /sys/class/net/"$IFB"/statistics/rx_packets)
check "TCP $BYTES bytes at MTU $TUN_MTU, sha256" \
	tcp_transfer a b "$IN4_B" "$BYTES" "$SEED" 5003
rx1=$(nsx b cat /sys/class/net/"$IFB"/statistics/rx_bytes) rp1=$(nsx b cat /sys/class/net/"$IFB"/statistics/rx_packets)
avg=$(( (rx1 - rx0) / (rp1 - rp0 > 0 ? rp1 - rp0 : 1) ))
check "the transfer used large packets (average $avg bytes)" test "$avg" -gt 16384

done_testing
