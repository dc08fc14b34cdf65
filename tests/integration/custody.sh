#!/bin/bash
# custody: where the software private key lives.  With a tunnel up, scan
# the memory (/proc/PID/maps + /proc/PID/mem) of the four wgcardd
# processes for the private key, raw (32 bytes), in base64 and in hex text
# (the UAPI carries it as hex).  The raw key must be in the key broker and
# nowhere else; its text forms nowhere at all.  Then a new key with
# `wg set private-key`: the new key only in the key broker, the old one
# wiped everywhere.  Then config mode (the parent reads PrivateKey from the
# file): the key only in the key broker.  The preshared key is reported
# (the handshake process legitimately holds it).
#
# Side A is always wgcardd (the side under test); side B is $IMPL_B.
T_ID=cu
. "$(dirname "$0")/../lib/common.sh"

TOOLS=$T_ROOT/tests/tools
CHILDREN="wgcard-keyd wgcard-hs wgcard-fwd"

sec_child()
{
	ps -o pid=,comm= --ppid "$1" 2>/dev/null |
	    awk -v c="$2" '$2 == c { print $1; exit }'
}

# sec_procs PARENT: sets SEC_PID[parent|wgcard-keyd|wgcard-hs|wgcard-fwd].
declare -A SEC_PID=()
sec_procs()
{
	local comm
	SEC_PID=([parent]=$1)
	for comm in $CHILDREN; do
		SEC_PID[$comm]=$(sec_child "$1" "$comm")
		[ -n "${SEC_PID[$comm]}" ] || return 1
	done
}

# sec_scan TAG LABEL=KEYFILE...: scan the four processes; the results go
# to $T_TMP/scan.TAG.PROC.  Fails (with a check) if a scan did not run.
sec_scan()
{
	local tag=$1 p out
	shift
	for p in parent $CHILDREN; do
		out=$T_TMP/scan.$tag.$p
		if python3 "$TOOLS/memscan.py" "${SEC_PID[$p]}" "$@" \
		    >"$out" 2>&1 && grep -q '^scanned ' "$out"; then
			t_ok "$tag: scan of $p ($(grep '^scanned' "$out" |
			    cut -d' ' -f2-))"
		else
			t_fail "$tag: scan of $p" "$(tail -n 3 "$out")"
		fi
		if grep -q '^error ' "$out"; then
			t_log "# $tag: $p: $(grep -c '^error ' "$out") unreadable region(s):"
			grep '^error ' "$out" | head -n 5 | sed 's/^/#     /'
		fi
	done
}

# sec_hits TAG PROC LABEL FORM: how many times.
sec_hits()
{
	awk -v l="$3" -v f="$4" '$1 == l && $2 == f { print $3; exit }' \
	    "$T_TMP/scan.$1.$2"
}

sec_where()
{
	awk -v l="$3" -v f="$4" '$1 == l && $2 == f {
	    $1 = $2 = $3 = ""; sub(/^ +/, ""); print; exit }' "$T_TMP/scan.$1.$2"
}

# sec_expect TAG LABEL WHAT: WHAT is "keyd" (the raw key in the key broker
# only, no text form anywhere) or "none" (no form anywhere).
sec_expect()
{
	local tag=$1 label=$2 what=$3 p form n want
	for p in parent $CHILDREN; do
		for form in raw b64 hex; do
			n=$(sec_hits "$tag" "$p" "$label" "$form")
			n=${n:-missing}
			if [ "$what" = keyd ] && [ "$p" = wgcard-keyd ] &&
			    [ "$form" = raw ]; then
				if [ "$n" != missing ] && [ "$n" -ge 1 ]; then
					t_ok "$tag: $label raw in $p ($n copies)"
				else
					t_fail "$tag: $label raw in $p" \
					    "found $n times, want at least once"
				fi
				continue
			fi
			if [ "$n" = 0 ]; then
				t_ok "$tag: $label $form not in $p"
			else
				t_fail "$tag: $label $form not in $p" \
				    "found $n times: $(sec_where "$tag" "$p" "$label" "$form")"
			fi
		done
	done
}

# sec_psk TAG: the preshared key: the handshake process holds it (raw);
# the key broker and the forwarder never; the parent is only reported.
sec_psk()
{
	local tag=$1 p form n
	sec_report "$tag" psk
	for p in wgcard-keyd wgcard-fwd; do
		for form in raw b64 hex; do
			n=$(sec_hits "$tag" "$p" psk "$form")
			t_eq "$tag: psk $form not in $p" "${n:-missing}" 0
		done
	done
	n=$(sec_hits "$tag" wgcard-hs psk raw)
	if [ "${n:-0}" -ge 1 ]; then
		t_ok "$tag: psk raw in wgcard-hs ($n copies)"
	else
		t_fail "$tag: psk raw in wgcard-hs" "found ${n:-?} times"
	fi
	for form in raw b64 hex; do
		n=$(sec_hits "$tag" parent psk "$form")
		[ "${n:-0}" = 0 ] ||
		    t_log "# NOTE $tag: the parent holds the psk ($form, $n times: $(sec_where "$tag" parent psk "$form"))"
	done
}

# sec_report TAG LABEL: where LABEL was found, as a log line (no check).
sec_report()
{
	local tag=$1 label=$2 p form n line=
	for p in parent $CHILDREN; do
		for form in raw b64 hex; do
			n=$(sec_hits "$tag" "$p" "$label" "$form")
			line="$line $p:$form=${n:-?}"
		done
	done
	t_log "# $tag: $label found:$line"
}

[ "$IMPL_A" = wgcardd ] ||
    t_log "# IMPL_A=$IMPL_A: this test is about wgcardd; side A runs wgcardd"

# ----------------------------------------- xplatform mode, wg set private-key

pair_new 1 wgcardd "$IMPL_B" || t_fatal "pair"
PSK=$(psk_new p1) || t_fatal "psk"
pair_peer A 4 "$PSK" && pair_peer B none "$PSK" || t_fatal "peers"
t_check "key 1: ping through the tunnel" ping_retry "$NS_A" "$IN4_B" 10
t_check "key 1: handshake done" wait_handshake "$NS_A" "$IF_A" "$PUB_B" 5
# (wg show public-key is "(none)": wg derives it from the private key,
# which the UAPI never returns.  The daemon logs it.)
t_check "key 1: the daemon logs the public key" \
    grep -q "public key $PUB_A" "${T_IF_LOG[$IF_A]}"
sec_procs "${T_IF_PID[$IF_A]}" || t_fatal "cannot find the four processes"

sec_scan "key 1" key1="$KEY_A" psk="$PSK"
sec_expect "key 1" key1 keyd
sec_psk "key 1"

# --------------------------------------------------- a new key replaces it

PUB_A2=$(key_new A2) || t_fatal "key A2"
KEY_A2=$T_TMP/A2.key
t_check "key 2: wg set private-key" \
    wgx "$NS_A" set "$IF_A" private-key "$KEY_A2"
t_check "key 2: the daemon logs the new public key" \
    wait_for 5 grep -q "public key $PUB_A2" "${T_IF_LOG[$IF_A]}"
# B learns the new public key, so a handshake uses the new private key.
wgx "$NS_B" set "$IF_B" peer "$PUB_A" remove &&
    wgx "$NS_B" set "$IF_B" peer "$PUB_A2" preshared-key "$PSK" \
    allowed-ips "$IN4_A/32,$IN6_A/128" || t_fail "key 2: reconfigure B"
hs0=$(handshake_time "$NS_A" "$IF_A" "$PUB_B")
t_check "key 2: ping through the tunnel" ping_retry "$NS_A" "$IN4_B" 15
t_check "key 2: new handshake done" \
    wait_handshake "$NS_A" "$IF_A" "$PUB_B" 10 "$((hs0 - 1))"
sec_procs "${T_IF_PID[$IF_A]}" || t_fatal "cannot find the four processes"

sec_scan "key 2" key2="$KEY_A2" key1="$KEY_A" psk="$PSK"
sec_expect "key 2" key2 keyd
sec_expect "key 2" key1 none
sec_psk "key 2"

# ------------------------------------------- config mode: the parent reads it

impl_stop "$IF_A"
wgx "$NS_B" set "$IF_B" peer "$PUB_A2" remove
PUB_A3=$(key_new A3) || t_fatal "key A3"
IF_C="wg${T_ID}$$c"
CONF=$T_TMP/$IF_C.conf
(
	umask 077
	cat >"$CONF" <<EOC
[Interface]
PrivateKey = $(cat "$T_TMP/A3.key")
ListenPort = $PORT_A
Address = $IN4_A/$IN4_PLEN
Address = $IN6_A/$IN6_PLEN

[Peer]
PublicKey = $PUB_B
PresharedKey = $(cat "$PSK")
AllowedIPs = $IN4_B/32, $IN6_B/128
Endpoint = $OUT4_B:$PORT_B
EOC
)
wgx "$NS_B" set "$IF_B" peer "$PUB_A3" preshared-key "$PSK" \
    allowed-ips "$IN4_A/32,$IN6_A/128" || t_fail "config: reconfigure B"
start_conf "$NS_A" "$IF_C" "$CONF" "$IF_C" || t_fatal "config mode daemon"
t_check "config: ping through the tunnel" ping_retry "$NS_A" "$IN4_B" 15
t_check "config: handshake done" wait_handshake "$NS_A" "$IF_C" "$PUB_B" 5
t_check "config: the daemon logs the public key from the file" \
    grep -q "public key $PUB_A3" "${T_IF_LOG[$IF_C]}"
sec_procs "${T_IF_PID[$IF_C]}" || t_fatal "cannot find the four processes"

sec_scan "config" key3="$T_TMP/A3.key" psk="$PSK"
sec_expect "config" key3 keyd
sec_psk "config"

t_done
