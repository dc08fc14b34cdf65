#!/bin/bash
# card_faults: wgcardd (KeySource = openpgp, virtual card) against the
# matrix's side B (software key) when the card misbehaves:
#  - no card at start: DH refused, then the card comes and the tunnel
#    works without a restart;
#  - card pulled during a session: traffic goes on with the current keys,
#    a forced new handshake fails; after reinsertion keyd is ready again
#    within 3 s (pcscd's poll) and the next handshake succeeds, no restart;
#  - pcscd killed and restarted: same;
#  - a different card inserted: refused and logged; the right one back:
#    ready again;
#  - wrong PIN: tunnel refused, PW1 retry counter down by exactly one and
#    not touched again for 10 s while the peer keeps trying; the right PIN
#    given afterwards with wgcardctl card unlock opens it;
#  - a card that hangs: the request fails with a timeout after 3 s, the
#    event loop stays responsive; once the card answers, ready again;
#  - the application terminated by another client (6285): said with
#    what to run, the card no longer polled.
T_ID=cf
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/card.sh"

PIN=wgPIN-5e1d07

pw1() { card_status_field pw1; }
deciphers() { card_status_field deciphers; }

card_start_pcscd cf || t_fatal "pcscd"
PUB_A=$(card_init_state "$T_TMP/a.state" --generate --serial 0000CF01 \
    --pin "$PIN") || t_fatal "card A"
PUB_C=$(card_init_state "$T_TMP/c.state" --generate --serial 0000CF02 \
    --pin "$PIN") || t_fatal "card C"

pair_b_only "$PUB_A" endpoint || t_fatal "side B"

(umask 077; echo "$PIN" >"$T_TMP/pin"; echo "000000" >"$T_TMP/badpin") ||
    t_fatal "pin files"
LOG_A=$T_TMP/$IF_A.log
: >"$LOG_A"

# 1. No card at start.
card_conf "$T_TMP/$IF_A.conf" "$PUB_A" "$T_TMP/pin" "Reader = Virtual PCD"
start_conf "$NS_A" "$IF_A" "$T_TMP/$IF_A.conf" || t_fatal "wgcardd A"
t_check "no card: keyd says so" wait_for 5 logged 'card: absent'
t_check "no card: no tunnel" ping_fails "$NS_A" "$IN4_B"
t_check "no card: the DH refusal is logged" \
    logged 'op=ecdh backend=openpgp .*result=refused'
mark
card_start_vcard "$T_TMP/a.state" || t_fatal "vcard A"
t_check "card inserted: ready (stored PIN verified)" wait_for 10 \
    logged 'card: ready'
t_check "card inserted: tunnel up without a restart" \
    ping_retry "$NS_A" "$IN4_B" 15
t_check "B->A ping" ping_ok "$NS_B" "$IN4_A"

# 2. Card pulled during a session.
mark
card_ctl remove >/dev/null
t_check "pulled: keyd notices" wait_for 3 logged 'card: absent'
t_check "pulled: traffic goes on with the current keys" \
    ping_ok "$NS_A" "$IN4_B"
force_handshake || t_fail "force handshake"
d0=$(deciphers)
t_check "pulled: a new handshake fails" ping_fails "$NS_B" "$IN4_A"
t_check "pulled: the refusal is logged with the reason" \
    logged 'result=refused error="no card'
mark
t0=$(now_ms)
card_ctl insert >/dev/null
if wait_for 5 logged 'card: ready'; then
	dt=$(($(now_ms) - t0))
	t_ok "reinserted: ready again after ${dt} ms"
	# pcscd notices a card at its ~400 ms poll and the broker reconnects
	# at once: about 0.5-1.5 s on a quiet machine. The bound leaves room
	# for a loaded 2-core CI machine (2.3 s seen while six builds ran);
	# the latency itself is a figure, not a timed test.
	[ "$dt" -le 3000 ] && t_ok "reinserted: ready within 3 s (pcscd poll + reconnect)" ||
	    t_fail "reinserted: ready within 3 s" "${dt} ms"
else
	t_fail "reinserted: ready again" "not within 5 s"
fi
t_check "reinserted: the next handshake succeeds, no restart" \
    ping_retry "$NS_B" "$IN4_A" 15
t_check "reinserted: same daemon" pid_alive "${T_IF_PID[$IF_A]}"

# 3. pcscd killed and restarted.
mark
card_restart_pcscd || t_fatal "pcscd restart"
t_check "pcscd restart: keyd noticed" wait_for 5 logged 'card: no pcscd'
t_check "pcscd restart: ready again" wait_for 15 logged 'card: ready'
force_handshake || t_fail "force handshake"
t_check "pcscd restart: new handshake succeeds" \
    ping_retry "$NS_B" "$IN4_A" 15
t_check "pcscd restart: no seccomp kill, same daemon" \
    pid_alive "${T_IF_PID[$IF_A]}"

# 4. A different card in the reader.
mark
card_stop_vcard
card_start_vcard "$T_TMP/c.state" || t_fatal "vcard C"
t_check "different card: refused and logged" wait_for 10 \
    logged "has public key $PUB_C, not the expected one: refused"
force_handshake || t_fail "force handshake"
t_check "different card: no handshake" ping_fails "$NS_B" "$IN4_A"
t_eq "different card: it did no X25519" "$(deciphers)" 0
t_eq "different card: no PIN spent on it" "$(pw1)" 3
card_stop_vcard
mark
card_start_vcard "$T_TMP/a.state" || t_fatal "vcard A again"
t_check "right card back: ready" wait_for 10 logged 'card: ready'
t_check "right card back: handshake succeeds" ping_retry "$NS_B" "$IN4_A" 15

# 5. Wrong PIN.
impl_stop "$IF_A"
card_conf "$T_TMP/$IF_A.conf" "$PUB_A" "$T_TMP/badpin" "Reader = Virtual PCD"
r0=$(pw1)
mark
start_conf "$NS_A" "$IF_A" "$T_TMP/$IF_A.conf" || t_fatal "wgcardd A"
t_check "wrong PIN: logged with the retries left" wait_for 10 \
    logged "wrong PIN, $((r0 - 1)) retries left"
t_eq "wrong PIN: retry counter down by exactly one" "$(pw1)" $((r0 - 1))
force_handshake || t_fail "force handshake"
ping_bg "$NS_B" "$IN4_A" "$T_TMP/ping.log"
ppid=$T_LASTPID
sleep 10
read -r ans miss <<<"$(ping_bg_stop "$ppid" "$T_TMP/ping.log")"
t_eq "wrong PIN: tunnel refused while the peer keeps trying" "$ans" 0
t_eq "wrong PIN: no further attempt in 10 s" "$(pw1)" $((r0 - 1))
t_eq "wrong PIN: one VERIFY in the log" "$(logged_count 'op=verify')" 1
t_check "wrong PIN: locked message logged" logged 'card locked: run wgcardctl card unlock'
CTL=$T_ROOT/build/wgcardctl
if [ -x "$CTL" ]; then
	mark
	out=$(printf '%s\n' "$PIN" | ip netns exec "$NS_A" "$CTL" -i "$IF_A" \
	    card unlock 2>&1)
	if wait_for 5 logged 'card: ready'; then
		t_ok "card unlock with the right PIN: ready"
		t_check "after unlock: handshake succeeds" \
		    ping_retry "$NS_B" "$IN4_A" 15
		t_eq "after unlock: counter back to 3" "$(pw1)" 3
	else
		t_fail "card unlock with the right PIN" "wgcardctl said: $out"
	fi
else
	t_fail "card unlock" "build/wgcardctl is missing"
fi
# 6. A card that stops answering mid-operation.
mark
card_ctl hang >/dev/null
force_handshake || t_fail "force handshake"
ping_bg "$NS_B" "$IN4_A" "$T_TMP/ping2.log"
ppid=$T_LASTPID
t_check "hung card: the request fails after 3 s (DecipherTimeout)" wait_for 12 \
    logged 'result=timeout'
t_check "hung card: keyd says so" logged 'card: not answering'
t_check "hung card: event loop still answers (wg show)" \
    wgx "$NS_A" show "$IF_A" peers
ping_bg_stop "$ppid" "$T_TMP/ping2.log" >/dev/null
mark
card_ctl normal >/dev/null
t_check "card answers again: ready" wait_for 15 logged 'card: ready'
force_handshake || t_fail "force handshake"
t_check "card answers again: handshake succeeds" \
    ping_retry "$NS_B" "$IN4_A" 15
# 6b. A VERIFY whose answer never came (wgcardctl card unlock, a wrong
# PIN, the card slower than the 3 s VerifyTimeout): once the card answers again
# the counter is read and, having dropped, the PIN is not resent.
impl_stop "$IF_A"
card_conf "$T_TMP/$IF_A.conf" "$PUB_A" "$T_TMP/pin" "Reader = Virtual PCD"
sed -i '/^PinFile/d' "$T_TMP/$IF_A.conf"
mark
start_conf "$NS_A" "$IF_A" "$T_TMP/$IF_A.conf" || t_fatal "wgcardd A"
wait_for 10 logged 'no PIN: run wgcardctl card unlock' ||
    t_fail "no PIN: locked" "$(tail -n 3 "$LOG_A")"
r0=$(pw1)
card_ctl "set verify=4000" >/dev/null
mark
printf 'wrong-5555\n' | ip netns exec "$NS_A" "$CTL" -i "$IF_A" card unlock \
    >/dev/null 2>&1 &
T_PIDS+=("$!")
t_check "lost VERIFY: the broker times out" wait_for 10 logged 'card: not answering'
card_ctl "set verify=0" >/dev/null
t_check "lost VERIFY: the dropped counter tells, the PIN is not resent" \
    wait_for 15 logged 'result=lost reason=counter-dropped'
sleep 2
t_eq "lost VERIFY: exactly one retry spent" "$(pw1)" $((r0 - 1))
sleep 4
mark
printf '%s\n' "$PIN" | ip netns exec "$NS_A" "$CTL" -i "$IF_A" card unlock \
    >/dev/null 2>&1
t_check "lost VERIFY: the right PIN after it: ready" wait_for 10 logged 'card: ready'
# 7. The application terminated under the daemon by another client
# (TERMINATE DF, as before a factory reset): the next key check or
# DECIPHER answers 6285; keyd says what to run and stops polling it.
card_terminate_raw()
{
	card_raw_apdus 00A4040006D27600012401 \
	    "0020008308$(printf 12345678 | od -An -tx1 | tr -d ' \n')" 00E60000
}
mark
card_terminate_raw || t_fail "terminated" "TERMINATE DF refused"
force_handshake || t_fail "force handshake"
t_check "terminated: keyd says so, and what to run" wait_for 5 \
    logged 'card: unusable: .*terminated: activate it.*card init'
t_check "terminated: no handshake" ping_fails "$NS_A" "$IN4_B"
s0=$(grep -c 'INS A4' "$VCARD_LOG")
sleep 2
s1=$(grep -c 'INS A4' "$VCARD_LOG")
t_check "terminated: not SELECTed again and again ($((s1 - s0)) in 2 s)" \
    test $((s1 - s0)) -le 1
t_check "no seccomp kill of keyd" bash -c "! grep -q 'killed by signal' '$LOG_A'"

t_done
