#!/bin/bash
# wgconf: the stock wg(8) round trip: setconf/showconf, addconf, syncconf,
# and `wg set` for every option, as seen by `wg show` and `wg showconf`.
T_ID=wc
. "$(dirname "$0")/../lib/common.sh"

# normconf FILE: a canonical, sorted, secret-free form of a wg config:
# one "SECTION Key = value" line per value; AllowedIPs split; secrets
# replaced by a short hash (PrivateKey dropped when NOPRIV=1, as wgcardd
# never returns it); PersistentKeepalive off/0 and FwMark 0/off dropped.
normconf()
{
	python3 - "$1" <<'PY'
import hashlib, os, sys
nopriv = os.environ.get("NOPRIV") == "1"
out, sec, block = [], None, []
def flush():
	global block
	if sec is None:
		return
	name = "IF"
	if sec == "peer":
		keys = [v for k, v in block if k == "publickey"]
		name = "PEER " + (keys[0] if keys else "?")
	for k, v in block:
		if k == "publickey":
			continue
		out.append("%s %s = %s" % (name, k, v))
	if sec == "peer":
		out.append(name)
	block = []
for line in open(sys.argv[1]):
	line = line.split("#", 1)[0].strip()
	if not line:
		continue
	if line.startswith("["):
		flush()
		sec = "peer" if line.lower() == "[peer]" else "if"
		continue
	k, v = [x.strip() for x in line.split("=", 1)]
	k = k.lower()
	if k in ("privatekey", "presharedkey"):
		if k == "privatekey" and nopriv:
			continue
		v = "h:" + hashlib.sha256(v.encode()).hexdigest()[:12]
	elif k == "allowedips":
		for a in v.split(","):
			if a.strip():
				block.append((k, a.strip()))
		continue
	elif k == "fwmark":
		v = "off" if v == "off" else hex(int(v, 0))
		if v in ("off", "0x0"):
			continue
	elif k == "persistentkeepalive":
		if v in ("off", "0"):
			continue
		v = str(int(v))
	elif k == "listenport":
		v = str(int(v))
	block.append((k, v))
flush()
print("\n".join(sorted(out)))
PY
}

# conf_matches NAME FILE: `wg showconf` on A equals FILE, normalised.
conf_matches()
{
	local name=$1 want=$2 nopriv=0
	[ "$IMPL_A_CUR" = wgcardd ] && nopriv=1
	if ! wgx "$NS_A" showconf "$IF_A" >"$T_TMP/showconf" 2>"$T_TMP/showconf.err"; then
		t_fail "$name" "wg showconf: $(cat "$T_TMP/showconf.err")"
		return
	fi
	NOPRIV=$nopriv normconf "$want" >"$T_TMP/want.n"
	NOPRIV=$nopriv normconf "$T_TMP/showconf" >"$T_TMP/got.n"
	if cmp -s "$T_TMP/want.n" "$T_TMP/got.n"; then
		t_ok "$name"
	else
		t_fail "$name" "showconf differs (normalised, secrets hashed):"
		diff -u "$T_TMP/want.n" "$T_TMP/got.n" | sed 's/^/    /'
	fi
}

pair_new 1 || t_fatal "pair"
PSK_B=$(psk_new pb) PSK_X=$(psk_new px) PSK_Y=$(psk_new py) || t_fatal "psk"
PUB_X=$(key_new X) PUB_Y=$(key_new Y) PUB_Z=$(key_new Z) PUB_W=$(key_new W) ||
    t_fatal "keys"

# B knows A (with the PSK A will have for B).
pair_peer B 4 "$PSK_B" || t_fatal "B's peer"

# ---- setconf / showconf
cat >"$T_TMP/c1.conf" <<EOC
[Interface]
PrivateKey = $(cat "$KEY_A")
ListenPort = $PORT_A
FwMark = 0x42

[Peer]
PublicKey = $PUB_B
PresharedKey = $(cat "$PSK_B")
AllowedIPs = $IN4_B/32, $IN6_B/128
Endpoint = $OUT4_B:$PORT_B
PersistentKeepalive = 25

[Peer]
PublicKey = $PUB_X
PresharedKey = $(cat "$PSK_X")
AllowedIPs = 10.60.0.0/16, 10.61.1.0/24, fd60::/64, fd61:1::/48
Endpoint = [2001:db8:1::99]:1234

[Peer]
PublicKey = $PUB_Y
PresharedKey = $(cat "$PSK_Y")
AllowedIPs = 10.62.0.1/32
AllowedIPs = 10.62.0.2/32
PersistentKeepalive = 5
EOC
t_check "wg setconf (3 peers)" wgx "$NS_A" setconf "$IF_A" "$T_TMP/c1.conf"
conf_matches "showconf equals the setconf file" "$T_TMP/c1.conf"
t_eq "wg show peers" "$(wgx "$NS_A" show "$IF_A" peers | sort)" \
    "$(printf '%s\n' "$PUB_B" "$PUB_X" "$PUB_Y" | sort)"
t_eq "wg show listen-port" "$(wgx "$NS_A" show "$IF_A" listen-port)" "$PORT_A"
t_eq "wg show fwmark" "$(wgx "$NS_A" show "$IF_A" fwmark)" 0x42
t_eq "wg show endpoints (v6)" "$(endpoint_of "$NS_A" "$IF_A" "$PUB_X")" \
    "[2001:db8:1::99]:1234"
t_eq "wg show persistent-keepalive" \
    "$(wg_field "$NS_A" "$IF_A" persistent-keepalive "$PUB_Y")" 5
t_eq "wg show persistent-keepalive off" \
    "$(wg_field "$NS_A" "$IF_A" persistent-keepalive "$PUB_X")" off
if [ "$(wg_field "$NS_A" "$IF_A" preshared-keys "$PUB_X")" = "$(cat "$PSK_X")" ]; then
	t_ok "wg show preshared-keys (compared, not printed)"
else
	t_fail "wg show preshared-keys" "differs"
fi
t_check "the configured tunnel works (PSK)" ping_retry "$NS_A" "$IN4_B" 10
if [ "$IMPL_A_CUR" = wgcardd ]; then
	t_eq "wgcardd does not return the private key" \
	    "$(wgx "$NS_A" showconf "$IF_A" | grep -ci '^PrivateKey')" 0
else
	t_eq "wg show public-key" "$(wgx "$NS_A" show "$IF_A" public-key)" "$PUB_A"
fi
hs_b=$(handshake_time "$NS_A" "$IF_A" "$PUB_B")

# ---- addconf
cat >"$T_TMP/add.conf" <<EOC
[Peer]
PublicKey = $PUB_Z
AllowedIPs = 10.63.0.0/24
Endpoint = 192.0.2.63:6363
EOC
t_check "wg addconf" wgx "$NS_A" addconf "$IF_A" "$T_TMP/add.conf"
cat "$T_TMP/c1.conf" "$T_TMP/add.conf" >"$T_TMP/c2.conf"
conf_matches "showconf after addconf = old + new" "$T_TMP/c2.conf"

# conf_sync KEYFILE FWMARK: A's file for syncconf and what follows it:
# B unchanged, X changed, W new.
conf_sync()
{
	cat <<EOC
[Interface]
PrivateKey = $(cat "$1")
ListenPort = $PORT_A
FwMark = $2

[Peer]
PublicKey = $PUB_B
PresharedKey = $(cat "$PSK_B")
AllowedIPs = $IN4_B/32, $IN6_B/128
Endpoint = $OUT4_B:$PORT_B
PersistentKeepalive = 25

[Peer]
PublicKey = $PUB_X
PresharedKey = $(cat "$PSK_X")
AllowedIPs = 10.60.0.0/16, fd62::/64
Endpoint = 192.0.2.98:4321

[Peer]
PublicKey = $PUB_W
AllowedIPs = 10.64.0.0/24
EOC
}

# ---- syncconf: B unchanged, X changed, Y and Z gone, W new.  (X keeps its
# PSK: wg before v1.0.20250521 leaves a PSK or keepalive that the file
# drops untouched, later ones clear it; Debian 12 has v1.0.20210914.)
conf_sync "$KEY_A" 0x42 >"$T_TMP/c3.conf"
t_check "wg syncconf" wgx "$NS_A" syncconf "$IF_A" "$T_TMP/c3.conf"
conf_matches "showconf after syncconf = the file" "$T_TMP/c3.conf"
t_eq "syncconf kept B's session (same handshake time)" \
    "$(handshake_time "$NS_A" "$IF_A" "$PUB_B")" "$hs_b"
t_check "the tunnel works after syncconf" ping_ok "$NS_A" "$IN4_B"

# ---- wg set, option by option
wgx "$NS_A" set "$IF_A" listen-port 51999
t_eq "set listen-port" "$(wgx "$NS_A" show "$IF_A" listen-port)" 51999
t_check "set listen-port: UDP socket on 51999" \
    wait_for 3 _udp_bound "$NS_A" 51999
t_check "set listen-port: the tunnel works from the new port" \
    ping_retry "$NS_A" "$IN4_B" 5
t_eq "set listen-port: B saw A move to the new port" \
    "$(endpoint_of "$NS_B" "$IF_B" "$PUB_A")" "$OUT4_A:51999"

wgx "$NS_A" set "$IF_A" fwmark 0x1234
t_eq "set fwmark" "$(wgx "$NS_A" show "$IF_A" fwmark)" 0x1234
wgx "$NS_A" set "$IF_A" fwmark 0
t_eq "set fwmark 0" "$(wgx "$NS_A" show "$IF_A" fwmark)" off

PUB_A2=$(key_new A2)
wgx "$NS_A" set "$IF_A" private-key "$T_TMP/A2.key" || t_fail "set private-key" "wg set"
if [ "$IMPL_A_CUR" != wgcardd ]; then
	t_eq "set private-key: public-key" \
	    "$(wgx "$NS_A" show "$IF_A" public-key)" "$PUB_A2"
fi
# Functional check: B must now know A by the new key.
wgx "$NS_B" set "$IF_B" peer "$PUB_A" remove &&
    wgx "$NS_B" set "$IF_B" peer "$PUB_A2" allowed-ips "$IN4_A/32,$IN6_A/128" \
    endpoint "$OUT4_A:51999" preshared-key "$PSK_B" ||
    t_fail "B knows A's new key" "wg set"
t_check "set private-key: handshake with the new key" \
    ping_retry "$NS_B" "$IN4_A" 10
t_check "set private-key: B saw the handshake" \
    wait_handshake "$NS_B" "$IF_B" "$PUB_A2" 5

V=$(key_new V)
wgx "$NS_A" set "$IF_A" peer "$V" allowed-ips 10.70.0.0/24,fd70::/64
t_eq "set peer: added" "$(wgx "$NS_A" show "$IF_A" peers | grep -c "$V")" 1
t_eq "set peer: allowed-ips" \
    "$(wg_field "$NS_A" "$IF_A" allowed-ips "$V" | tr ' ' '\n' | sort | xargs)" \
    "10.70.0.0/24 fd70::/64"
wgx "$NS_A" set "$IF_A" peer "$V" allowed-ips 10.71.0.0/16
t_eq "set peer: allowed-ips replaced" \
    "$(wg_field "$NS_A" "$IF_A" allowed-ips "$V")" "10.71.0.0/16"
wgx "$NS_A" set "$IF_A" peer "$V" allowed-ips ""
t_eq "set peer: allowed-ips cleared" \
    "$(wg_field "$NS_A" "$IF_A" allowed-ips "$V")" "(none)"
wgx "$NS_A" set "$IF_A" peer "$V" allowed-ips 10.72.0.1/32
t_eq "set peer: allowed-ips again" \
    "$(wg_field "$NS_A" "$IF_A" allowed-ips "$V")" "10.72.0.1/32"

PSK_V=$(psk_new pv)
wgx "$NS_A" set "$IF_A" peer "$V" preshared-key "$PSK_V"
if [ "$(wg_field "$NS_A" "$IF_A" preshared-keys "$V")" = "$(cat "$PSK_V")" ]; then
	t_ok "set preshared-key"
else
	t_fail "set preshared-key" "differs (not printed)"
fi
wgx "$NS_A" set "$IF_A" peer "$V" preshared-key /dev/null
t_eq "set preshared-key /dev/null clears it" \
    "$(wg_field "$NS_A" "$IF_A" preshared-keys "$V")" "(none)"

wgx "$NS_A" set "$IF_A" peer "$V" endpoint 192.0.2.77:999
t_eq "set endpoint v4" "$(endpoint_of "$NS_A" "$IF_A" "$V")" "192.0.2.77:999"
wgx "$NS_A" set "$IF_A" peer "$V" endpoint "[2001:db8:1::77]:1000"
t_eq "set endpoint v6" "$(endpoint_of "$NS_A" "$IF_A" "$V")" "[2001:db8:1::77]:1000"

wgx "$NS_A" set "$IF_A" peer "$V" persistent-keepalive 7
t_eq "set persistent-keepalive" \
    "$(wg_field "$NS_A" "$IF_A" persistent-keepalive "$V")" 7
wgx "$NS_A" set "$IF_A" peer "$V" persistent-keepalive off
t_eq "set persistent-keepalive off" \
    "$(wg_field "$NS_A" "$IF_A" persistent-keepalive "$V")" off

wgx "$NS_A" set "$IF_A" peer "$V" remove
t_eq "set peer remove" "$(wgx "$NS_A" show "$IF_A" peers | grep -c "$V")" 0

# Everything at once in one `wg set`, then compared with showconf.
wgx "$NS_A" set "$IF_A" listen-port "$PORT_A" fwmark 0x99 \
    peer "$PUB_Y" allowed-ips 10.62.0.0/24 endpoint 192.0.2.62:62 \
    persistent-keepalive 9 preshared-key "$PSK_Y" ||
    t_fail "combined wg set" "failed"
{
	conf_sync "$T_TMP/A2.key" 0x99
	cat <<EOC

[Peer]
PublicKey = $PUB_Y
PresharedKey = $(cat "$PSK_Y")
AllowedIPs = 10.62.0.0/24
Endpoint = 192.0.2.62:62
PersistentKeepalive = 9
EOC
} >"$T_TMP/c4.conf"
conf_matches "showconf after the wg set sequence" "$T_TMP/c4.conf"
t_check "the daemon survived" pid_alive "${T_IF_PID[$IF_A]}"

t_done
