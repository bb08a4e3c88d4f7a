#!/usr/bin/env bash
# Scenario 20: the wg(8) configuration commands against IMPL print exactly
# what they print against REF_IMPL for the same configuration.
#
# IMPL runs in namespace "i", REF_IMPL in namespace "r", so both can hold
# the same listen port.  Every step is applied to both, then `wg showconf`
# and `wg show IFACE dump` are compared after normalization:
#   - latest-handshake, rx and tx bytes replaced by "-" (they differ by
#     nature),
#   - listen ports replaced by "-" only in the step that asks for a random
#     port (after checking they are non-zero),
#   - peers sorted by public key and each peer's allowed IPs sorted:
#     wireguard-go returns peers in Go map order (random per call), so no
#     fixed order can be asked of the implementation.
# Each step also checks absolute facts (peer counts, keys, prefixes) so that
# comparing an implementation with itself can still fail.
#
# The interfaces stay down: configuration must work without them up, and no
# handshake is attempted towards the made-up endpoints.

. "$(dirname "$0")/lib.sh"
T_REQUIRE_CMDS=(awk sort)
require_env ref

ns_new i r || bail "namespaces"
IFI=$(ifname i) IFR=$(ifname r)
start_impl i "$IFI" "$IMPL_PATH" || bail "start $IMPL_PATH"
start_impl r "$IFR" "$REF_PATH" || bail "start $REF_PATH"

for k in dev dev2 p1 p2 p3 p4 p5; do keypair $k || bail "keys"; done
PSK1=$(wg genpsk) PSK2=$(wg genpsk)
C=$T_TMP

cat >"$C/conf1" <<EOF
[Interface]
PrivateKey = $(cat "$(key dev)")
ListenPort = 51900
FwMark = 0x1234

[Peer]
PublicKey = $(pub p1)
PresharedKey = $PSK1
Endpoint = 192.0.2.10:51820
AllowedIPs = 10.1.0.0/16, 10.2.3.4/32, fd00:1::/64
PersistentKeepalive = 25

[Peer]
PublicKey = $(pub p2)
Endpoint = [2001:db8::10]:51821
AllowedIPs = 10.3.0.0/24, 10.4.5.6/24, fd00:2::1/128

[Peer]
PublicKey = $(pub p3)
AllowedIPs = 0.0.0.0/0, ::/0
EOF

# addconf: a new peer, more allowed IPs and a new endpoint for old ones.
cat >"$C/conf2" <<EOF
[Peer]
PublicKey = $(pub p4)
PresharedKey = $PSK2
Endpoint = 198.51.100.7:4500
AllowedIPs = 10.9.0.0/24
PersistentKeepalive = 1

[Peer]
PublicKey = $(pub p2)
AllowedIPs = 10.5.0.0/16

[Peer]
PublicKey = $(pub p1)
Endpoint = [2001:db8::99]:1234
EOF

# syncconf: p3 goes, p1 loses its psk and keepalive and gets other IPs,
# p2's set shrinks, p5 arrives, port and fwmark change.
cat >"$C/conf3" <<EOF
[Interface]
PrivateKey = $(cat "$(key dev)")
ListenPort = 51901

[Peer]
PublicKey = $(pub p1)
Endpoint = [2001:db8::99]:1234
AllowedIPs = 10.1.2.0/24

[Peer]
PublicKey = $(pub p2)
Endpoint = [2001:db8::10]:51821
AllowedIPs = 10.3.0.0/24

[Peer]
PublicKey = $(pub p4)
PresharedKey = $PSK2
Endpoint = 198.51.100.7:4500
AllowedIPs = 10.9.0.0/24
PersistentKeepalive = 1

[Peer]
PublicKey = $(pub p5)
AllowedIPs = 10.8.0.0/16, fd00:8::/48
EOF

# norm_conf: showconf with peers sorted and allowed IPs sorted, one line
# per section.
norm_conf() {
	awk -v portnorm="${PORTNORM:-0}" '
		function flush() { if (rec != "") print rec; rec = "" }
		/^\[Interface\]/ { flush(); rec = "0 [Interface]"; next }
		/^\[Peer\]/ { flush(); rec = "1 [Peer]"; next }
		/^[[:space:]]*$/ { next }
		{
			split($0, kv, " = ")
			if (kv[1] == "AllowedIPs") {
				n = split(kv[2], ips, ", "); s = ""
				# insertion sort, the lists are small here
				for (i = 2; i <= n; i++) { v = ips[i]; j = i - 1
					while (j > 0 && ips[j] > v) { ips[j + 1] = ips[j]; j-- }
					ips[j + 1] = v }
				for (i = 1; i <= n; i++) s = s (i > 1 ? "," : "") ips[i]
				kv[2] = s
			}
			if (kv[1] == "ListenPort" && portnorm) kv[2] = "-"
			if (kv[1] == "PublicKey" && rec ~ /^1 \[Peer\]$/)
				rec = "1 " kv[2] " [Peer]"
			rec = rec " | " kv[1] "=" kv[2]
		}
		END { flush() }' | LC_ALL=C sort
}

# norm_dump: wg show IFACE dump with volatile fields masked.
norm_dump() {
	awk -F '\t' -v OFS='\t' -v portnorm="${PORTNORM:-0}" '
		NR == 1 { if (portnorm) $3 = "-"; print "0", $0; next }
		{
			n = split($4, ips, ","); s = ""
			for (i = 2; i <= n; i++) { v = ips[i]; j = i - 1
				while (j > 0 && ips[j] > v) { ips[j + 1] = ips[j]; j-- }
				ips[j + 1] = v }
			for (i = 1; i <= n; i++) s = s (i > 1 ? "," : "") ips[i]
			$4 = s; $5 = "-"; $6 = "-"; $7 = "-"
			print "1", $0
		}' | LC_ALL=C sort
}

norm_show_aips() {
	awk '{ for (i = 2; i <= NF; i++) print $1 "\t" $i }' | LC_ALL=C sort
}

both_ok() {
	local what=$1
	shift
	nsx i "$@" "$IFI" "${WG_ARGS[@]}" >/dev/null 2>"$C/err.i" || { cat "$C/err.i"; return 1; }
	nsx r "$@" "$IFR" "${WG_ARGS[@]}" >/dev/null 2>"$C/err.r" || { cat "$C/err.r"; return 1; }
}

# compare STEP: showconf and dump, normalized, IMPL vs REF.
compare() {
	local step=$1 a b
	a=$(nsx i wg showconf "$IFI" | norm_conf) b=$(nsx r wg showconf "$IFR" | norm_conf)
	if [[ -n $a && $a == "$b" ]]; then
		pass "$step: showconf matches the reference"
	else
		fail "$step: showconf matches the reference" "$(diff <(echo "$b") <(echo "$a"))"
	fi
	a=$(nsx i wg show "$IFI" dump | norm_dump) b=$(nsx r wg show "$IFR" dump | norm_dump)
	if [[ -n $a && $a == "$b" ]]; then
		pass "$step: show dump matches the reference"
	else
		fail "$step: show dump matches the reference" "$(diff <(echo "$b") <(echo "$a"))"
	fi
}

# Absolute checks, on IMPL.
npeers() { nsx i wg show "$IFI" peers | grep -c .; }
aips() { nsx i wg show "$IFI" allowed-ips | awk -v k="$(pub "$1")" '$1 == k { $1 = ""; s = substr($0, 2); if (s != "(none)") print s }' | tr ' ' '\n' | LC_ALL=C sort | paste -sd' '; }
field() { nsx i wg show "$IFI" "$1" | awk -v k="$(pub "$2")" '$1 == k { print $2 }'; }

WG_ARGS=("$C/conf1")
check "setconf accepted by both" both_ok setconf wg setconf
compare setconf
check_eq "setconf: 3 peers" "$(npeers)" 3
check_eq "setconf: public key" "$(nsx i wg show "$IFI" public-key)" "$(pub dev)"
check_eq "setconf: listen port" "$(nsx i wg show "$IFI" listen-port)" 51900
check_eq "setconf: fwmark" "$(nsx i wg show "$IFI" fwmark)" 0x1234
check_eq "setconf: p1 psk" "$(field preshared-keys p1)" "$PSK1"
check_eq "setconf: p2 psk none" "$(field preshared-keys p2)" "(none)"
check_eq "setconf: p1 keepalive" "$(field persistent-keepalive p1)" 25
check_eq "setconf: p2 endpoint" "$(field endpoints p2)" "[2001:db8::10]:51821"
check_eq "setconf: p2 allowed IPs masked to their prefix" "$(aips p2)" \
	"10.3.0.0/24 10.4.5.0/24 fd00:2::1/128"
check_eq "setconf: p3 default routes" "$(aips p3)" "0.0.0.0/0 ::/0"
check_eq "setconf: no handshake yet" "$(field latest-handshakes p1)" 0

WG_ARGS=("$C/conf2")
check "addconf accepted by both" both_ok addconf wg addconf
compare addconf
check_eq "addconf: 4 peers" "$(npeers)" 4
# wg sends every [Peer] section of a file with "replace_allowed_ips".
check_eq "addconf: p2's allowed IPs replaced by the file's" "$(aips p2)" "10.5.0.0/16"
check_eq "addconf: p1's allowed IPs replaced by none" "$(aips p1)" ""
check_eq "addconf: p1 endpoint moved" "$(field endpoints p1)" "[2001:db8::99]:1234"
check_eq "addconf: p1 kept its psk" "$(field preshared-keys p1)" "$PSK1"
check_eq "addconf: p4 keepalive" "$(field persistent-keepalive p4)" 1

WG_ARGS=("$C/conf3")
check "syncconf accepted by both" both_ok syncconf wg syncconf
compare syncconf
check_eq "syncconf: 4 peers" "$(npeers)" 4
check_eq "syncconf: p3 gone" "$(field endpoints p3)" ""
check_eq "syncconf: p1 allowed IPs replaced" "$(aips p1)" "10.1.2.0/24"
# syncconf leaves alone what the file does not mention for a kept peer.
check_eq "syncconf: p1 psk kept" "$(field preshared-keys p1)" "$PSK1"
check_eq "syncconf: p1 keepalive kept" "$(field persistent-keepalive p1)" 25
check_eq "syncconf: p5 added" "$(aips p5)" "10.8.0.0/16 fd00:8::/48"
check_eq "syncconf: listen port" "$(nsx i wg show "$IFI" listen-port)" 51901
check_eq "syncconf: fwmark off" "$(nsx i wg show "$IFI" fwmark)" off

WG_ARGS=(peer "$(pub p4)" remove)
check "set peer remove accepted by both" both_ok remove wg set
compare "peer remove"
check_eq "peer remove: 3 peers" "$(npeers)" 3
check_eq "peer remove: p4 gone" "$(field endpoints p4)" ""

WG_ARGS=(peer "$(pub p2)" allowed-ips "" peer "$(pub p5)" allowed-ips "fd00:9::/64,10.8.0.0/16" persistent-keepalive 7)
check "set allowed-ips replace accepted by both" both_ok replace wg set
compare "allowed-ips replace"
check_eq "allowed-ips replace: p2 none" "$(aips p2)" ""
check_eq "allowed-ips replace: p5 replaced" "$(aips p5)" "10.8.0.0/16 fd00:9::/64"

# A prefix moves from one peer to another when given to the second.
WG_ARGS=(peer "$(pub p2)" allowed-ips "10.1.2.0/24")
check "set moving a prefix accepted by both" both_ok move wg set
compare "prefix move"
check_eq "prefix move: p1 lost it" "$(aips p1)" ""
check_eq "prefix move: p2 has it" "$(aips p2)" "10.1.2.0/24"

# New private key, random port: ports differ between the daemons.
WG_ARGS=(private-key "$(key dev2)" listen-port 0 fwmark 0x42)
check "set private-key, listen-port 0, fwmark accepted by both" both_ok rekey wg set
PORTNORM=1 compare "random port"
check_eq "random port: public key follows private key" \
	"$(nsx i wg show "$IFI" public-key)" "$(pub dev2)"
port=$(nsx i wg show "$IFI" listen-port)
check "random port: a port was chosen ($port)" test "${port:-0}" -gt 0
check_eq "random port: fwmark" "$(nsx i wg show "$IFI" fwmark)" 0x42

# Every `wg show` field, one by one, against the reference.
for f in public-key private-key fwmark peers endpoints allowed-ips \
	preshared-keys persistent-keepalive latest-handshakes; do
	a=$(nsx i wg show "$IFI" "$f" | LC_ALL=C sort)
	b=$(nsx r wg show "$IFR" "$f" | LC_ALL=C sort)
	[[ $f == allowed-ips ]] && a=$(echo "$a" | norm_show_aips) b=$(echo "$b" | norm_show_aips)
	check_eq "wg show $f matches the reference" "$a" "$b"
done 2>/dev/null

# showconf | setconf round trip on IMPL alone, and on an emptied device.
nsx i wg showconf "$IFI" >"$C/saved"
printf '[Interface]\nPrivateKey = %s\n' "$(cat "$(key dev)")" >"$C/empty"
check "setconf of an empty config accepted" nsx i wg setconf "$IFI" "$C/empty"
check_eq "empty config: no peers" "$(npeers)" 0
check "setconf of showconf output accepted" nsx i wg setconf "$IFI" "$C/saved"
check_eq "showconf round trip" "$(nsx i wg showconf "$IFI" | PORTNORM=1 norm_conf)" \
	"$(PORTNORM=1 norm_conf <"$C/saved")"

# The raw UAPI: invalid requests get a non-zero errno and change nothing
# (wg validates its own input, so these go to the socket directly).
uapi() { printf '%b' "$2" | nsx "$1" timeout 5 ncat -U "$(sock_of "$3")" 2>/dev/null; }
errno_of() { awk -F= '$1 == "errno" { print $2 }' | tail -n1; }
before=$(nsx i wg showconf "$IFI" | norm_conf)
p4hex=$(base64 -d <"$T_TMP/p4.pub" | od -An -tx1 | tr -d ' \n')
for req in 'set=1\nlisten_port=notanumber\n\n' \
	'set=1\npublic_key=zz\n\n' \
	"set=1\npublic_key=$p4hex\nallowed_ip=10.0.0.0/33\n\n" \
	'set=1\nno_such_key=1\n\n'; do
	e_i=$(uapi i "$req" "$IFI" | errno_of)
	e_r=$(uapi r "$req" "$IFR" | errno_of)
	shown=$(printf '%b' "$req" | head -n3 | paste -sd' ' | cut -c1-60)
	check "raw UAPI '$shown' refused with an errno (impl: ${e_i:-none}, ref: ${e_r:-none})" \
		test -n "$e_i" -a "${e_i:-0}" != 0
done
# A request is applied up to its first error (as the kernel does), so only
# the peer created before the bad prefix may have appeared.
after=$(nsx i wg showconf "$IFI" | norm_conf | grep -v "^1 $(pub p4) ")
check_eq "refused requests changed nothing else" "$after" "$before"
PORTNORM=1 compare "after refused requests"
WG_ARGS=(peer "$(pub p4)" remove)
both_ok remove wg set
get=$(uapi i 'get=1\n\n' "$IFI")
check_eq "raw UAPI get ends with errno=0" "$(tail -n1 <<<"$get")" "errno=0"
check "raw UAPI get has hex keys" grep -Eq "^private_key=[0-9a-f]{64}$" <<<"$get"

pretty=$(nsx i wg show "$IFI")
check "wg show pretty output lists the interface and every peer" bash -c '
	grep -q "^interface: '"$IFI"'" <<<"$1" || exit 1
	for k in $2; do grep -q "^peer: $k" <<<"$1" || exit 1; done' _ "$pretty" \
	"$(nsx i wg show "$IFI" peers | paste -sd' ')"

done_testing
