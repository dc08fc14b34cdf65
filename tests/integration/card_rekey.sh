#!/bin/bash
# card_rekey: real-time rekey on a card-keyed interface.  wgcardd with
# KeySource = openpgp (virtual card) against the matrix's side B keeps
# traffic flowing past REKEY_AFTER_TIME (120 s): the initiator starts a
# new handshake by itself, the tunnel never drops, and that rekey costs
# exactly one card operation on side A (no new static-static DH).
T_ID=ck
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/card.sh"

PIN=wgPIN-c0ffee

card_start_pcscd ck || t_fatal "pcscd"
PUB_A=$(card_init_state "$T_TMP/a.state" --generate --pin "$PIN") ||
    t_fatal "card A"
card_start_vcard "$T_TMP/a.state" || t_fatal "vcard A"
card_wait_present || t_fatal "card not seen"

NS_A=$(ns_name a)
NS_B=$(ns_name b)
IF_A="wg${T_ID}$$a"
IF_B="wg${T_ID}$$b"
ns_new "$NS_A" && ns_new "$NS_B" || t_fatal "namespaces"
veth_pair "$NS_A" "ve${T_ID}$$a" "$NS_B" "ve${T_ID}$$b" || t_fatal "veth"
addr_add "$NS_A" "ve${T_ID}$$a" "$OUT4_A/$OUT4_PLEN" &&
addr_add "$NS_B" "ve${T_ID}$$b" "$OUT4_B/$OUT4_PLEN" || t_fatal "addresses"
PUB_B=$(key_new B) || t_fatal "key B"
start_impl "$NS_B" "$IMPL_B" "$IF_B" || t_fatal "start $IMPL_B"
wgx "$NS_B" set "$IF_B" private-key "$T_TMP/B.key" listen-port "$PORT_B" \
    peer "$PUB_A" allowed-ips "$IN4_A/32" || t_fatal "configure B"
tun_up "$NS_B" "$IF_B" "$IN4_B" "$IN6_B" || t_fatal "B up"

(umask 077; echo "$PIN" >"$T_TMP/pin") || t_fatal "pin file"
CONF=$T_TMP/$IF_A.conf
(
	umask 077
	cat >"$CONF" <<EOC
[Interface]
KeySource = openpgp
CardPublicKey = $PUB_A
PinFile = $T_TMP/pin
ListenPort = $PORT_A
Address = $IN4_A/$IN4_PLEN

[Peer]
PublicKey = $PUB_B
AllowedIPs = $IN4_B/32
Endpoint = $OUT4_B:$PORT_B
EOC
)
LOG=$T_TMP/$IF_A.log
T_IFACES+=("$IF_A")
rm -f "$WG_RUNDIR/$IF_A.sock"
ip netns exec "$NS_A" env PCSCLITE_CSOCK_NAME="$PCSCLITE_CSOCK_NAME" \
    "$WGCARDD" -d -c "$CONF" >"$LOG" 2>&1 </dev/null &
T_IF_PID[$IF_A]=$!
T_PIDS+=("$!")
T_IF_IMPL[$IF_A]=wgcardd
T_IF_LOG[$IF_A]=$LOG
T_IF_NS[$IF_A]=$NS_A
wait_for "$START_TIMEOUT" _impl_ready "$NS_A" "$IF_A" "${T_IF_PID[$IF_A]}" ||
    t_fatal "wgcardd A"
wait_for 10 grep -q 'card: ready' "$LOG" || t_fatal "card not ready"

t_check "A->B ping (A initiates)" ping_retry "$NS_A" "$IN4_B" 10
hs0=$(handshake_time "$NS_A" "$IF_A" "$PUB_B")
d0=$(card_status_field deciphers)
t_log "# waiting for REKEY_AFTER_TIME (120 s) with traffic"
ping_bg "$NS_A" "$IN4_B" "$T_TMP/ping.log"
ppid=$T_LASTPID
end=$(($(date +%s) + 150))
while [ "$(date +%s)" -lt "$end" ]; do
	hs=$(handshake_time "$NS_A" "$IF_A" "$PUB_B")
	[ "$hs" -gt "$hs0" ] && break
	sleep 2
done
sleep 2
read -r ans miss <<<"$(ping_bg_stop "$ppid" "$T_TMP/ping.log")"
hs1=$(handshake_time "$NS_A" "$IF_A" "$PUB_B")
if [ "$hs1" -gt "$hs0" ]; then
	t_ok "rekeyed after $((hs1 - hs0)) s"
	[ $((hs1 - hs0)) -ge 115 ] && [ $((hs1 - hs0)) -le 140 ] &&
	    t_ok "rekey at REKEY_AFTER_TIME" ||
	    t_fail "rekey at REKEY_AFTER_TIME" "$((hs1 - hs0)) s"
else
	t_fail "rekeyed" "no new handshake in 150 s"
fi
t_eq "the rekey cost exactly one card operation" \
    $(($(card_status_field deciphers) - d0)) 1
[ "${miss:-1}" -le 2 ] && t_ok "no outage during the rekey ($ans answered, $miss missed)" ||
    t_fail "no outage during the rekey" "$ans answered, $miss missed"
t_done
