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

pair_b_only "$PUB_A" || t_fatal "side B"

(umask 077; echo "$PIN" >"$T_TMP/pin") || t_fatal "pin file"
CONF=$T_TMP/$IF_A.conf
card_conf "$CONF" "$PUB_A" "$T_TMP/pin" || t_fatal "config"
LOG=$T_TMP/$IF_A.log
start_conf "$NS_A" "$IF_A" "$CONF" || t_fatal "wgcardd A"
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
