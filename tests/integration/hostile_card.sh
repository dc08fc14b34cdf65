#!/bin/bash
# hostile_card: a compromised handshake process against the broker in
# card mode (make hostile; see hostile.sh). A flood of IMSG_KEY_SET: with
# the key on the card each one was ignored but answered with the key,
# which the parent logged and audited, 5000 times in a second; now the
# broker handles one a second and counts the rest in its next record.
# The daemon must stay up and the card must stay usable.
T_ID=hc
. "$(dirname "$0")/../lib/common.sh"
. "$T_ROOT/tests/lib/card.sh"
. "$T_ROOT/tests/lib/hostile.sh"

card_start_pcscd hc || t_fatal "pcscd"
PIN=hcPIN-31337
PUB=$(card_init_state "$T_TMP/c.state" --generate --pin "$PIN") ||
    t_fatal "card state"
card_start_vcard "$T_TMP/c.state" || t_fatal "vcard"
card_wait_present || t_fatal "card not seen"
(umask 077; printf '%s\n' "$PIN" >"$T_TMP/pin")
(umask 077; printf '[Interface]\nKeySource = openpgp\nCardPublicKey = %s\nPinFile = %s\nListenPort = 0\nAuditLog = %s\n' \
    "$PUB" "$T_TMP/pin" "$T_TMP/audit.jsonl" >"$T_TMP/c.conf")

ns=$(ns_name 1)
ns_new "$ns" || t_fatal "netns"
LOG=$T_TMP/keyset.log
hostile_launch "$ns" handshake hs-keyd-keyset-flood "$T_TMP/c.conf" "$LOG" \
    "hc${$}x"
pid=$HPID
t0=$(now_ms)
t_check "the hostile handshake process sent its 5000 KEY_SETs" \
    wait_for 20 grep -q "hostile: sent 5000" "$LOG"
sleep 2
secs=$(( ($(now_ms) - t0) / 1000 + 1 ))
t_check "the daemon stays up" pid_alive "$pid"
keys=$(grep -c 'op=key public=' "$LOG")
t_check "the parent announced the key $keys times in ${secs} s: at most one a second, plus the start" \
    test "$keys" -le $((secs + 2))
t_check "the broker counted the rest in a record (suppressed=N)" \
    grep -Eq 'op=set-key from=handshake backend=openpgp result=ignored suppressed=[1-9]' "$LOG"
t_log "# $(grep -E 'op=set-key from=handshake' "$LOG" | tail -n 1)"
stop_pid "$pid"
ns_del "$ns"
t_done
