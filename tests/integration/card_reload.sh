#!/bin/bash
# card_reload: the card settings change on reload, without a restart
# (wgcardd with KeySource = openpgp on the virtual card, against the
# matrix's side B):
#  - a reload with the same card settings and PIN file keeps the card
#    session: no VERIFY, no new handshake, the ping goes on;
#  - a reload whose PinFile holds a wrong PIN while the card is open
#    spends nothing on the card;
#  - the card is replaced (new serial, new key, new PIN): a reload with
#    CardSerial/CardPublicKey/PinFile of the new card switches to it, the
#    interface takes the new public key and the peer (told the new key)
#    gets a tunnel again, same daemon;
#  - a reload whose PIN file cannot be read is refused whole, naming it;
#  - a reload back to a card state where the PIN is wrong costs exactly
#    one retry, and the same wrong PIN in a second reload costs none.
T_ID=cr
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/card.sh"

PIN_A=wgPIN-a11ce
PIN_C=wgPIN-c4r0l
CTL=$T_ROOT/build/wgcardctl
[ -x "$CTL" ] || t_fatal "build/wgcardctl is missing (run make)"

MARK=0
mark() { MARK=$(wc -l <"$LOG_A"); }
logged() { tail -n +"$((MARK + 1))" "$LOG_A" | grep -q -- "$1"; }
logged_count() { tail -n +"$((MARK + 1))" "$LOG_A" | grep -c -- "$1"; }
pw1() { card_status_field pw1; }
deciphers() { card_status_field deciphers; }
ctl_a() { ip netns exec "$NS_A" "$CTL" -i "$IF_A" "$@"; }
reload_a() { ctl_a reload >"$T_TMP/reload.out" 2>&1; }
# reload_refused LABEL: a reload must fail.
reload_refused()
{
	if reload_a; then
		t_fail "$1" "$(cat "$T_TMP/reload.out")"
	else
		t_ok "$1"
	fi
}

card_start_pcscd cr || t_fatal "pcscd"
PUB_A=$(card_init_state "$T_TMP/a.state" --generate --serial 0000C401 \
    --pin "$PIN_A") || t_fatal "card A"
PUB_C=$(card_init_state "$T_TMP/c.state" --generate --serial 0000C402 \
    --pin "$PIN_C") || t_fatal "card C"

pair_b_only "$PUB_A" endpoint || t_fatal "side B"

# conf_a SERIAL PUBKEY PINFILE: A's configuration file.
conf_a()
{
	card_conf "$T_TMP/$IF_A.conf" "$2" "$3" "Reader = Virtual PCD" \
	    "CardSerial = $1" "AuditLog = $T_TMP/audit.jsonl"
}
(umask 077; echo "$PIN_A" >"$T_TMP/pin_a"; echo "$PIN_C" >"$T_TMP/pin_c";
    echo "wrongPIN-77" >"$T_TMP/badpin") || t_fatal "pin files"
LOG_A=$T_TMP/$IF_A.log
: >"$LOG_A"

card_start_vcard "$T_TMP/a.state" || t_fatal "vcard A"
conf_a 0000C401 "$PUB_A" "$T_TMP/pin_a"
start_conf "$NS_A" "$IF_A" "$T_TMP/$IF_A.conf" || t_fatal "wgcardd A"
PID_A=${T_IF_PID[$IF_A]}
t_check "card A: ready" wait_for 10 logged 'card: ready'
t_check "card A: tunnel up" ping_retry "$NS_A" "$IN4_B" 15
t_eq "card A: PIN retries shown when ready" \
    "$(ctl_a card status | awk -F': ' '/PIN retries left/ { print $2 }')" 3
# 1. Same settings, same PIN file: nothing happens to the card session.
hs0=$(handshake_time "$NS_B" "$IF_B" "$PUB_A")
r0=$(pw1)
mark
ping_bg "$NS_B" "$IN4_A" "$T_TMP/ping1.log"
ppid=$T_LASTPID
t_check "unchanged: reload accepted" reload_a
sleep 2
read -r ans miss <<<"$(ping_bg_stop "$ppid" "$T_TMP/ping1.log")"
t_check "unchanged: the ping went on (${ans:-0} answered, ${miss:-?} lost)" \
    test "${ans:-0}" -gt 0 -a "${miss:-1}" -eq 0
t_eq "unchanged: no VERIFY sent" "$(logged_count 'op=verify')" 0
t_eq "unchanged: retry counter untouched" "$(pw1)" "$r0"
t_eq "unchanged: no new handshake" "$(handshake_time "$NS_B" "$IF_B" "$PUB_A")" "$hs0"
t_check "unchanged: no 'new settings' line" bash -c "! tail -n +$((MARK + 1)) '$LOG_A' | grep -q 'new settings'"

# 2. A wrong PIN in the file while the card is open: not sent.
conf_a 0000C401 "$PUB_A" "$T_TMP/badpin"
mark
t_check "wrong PIN file, card open: reload accepted" reload_a
t_check "wrong PIN file, card open: said so" wait_for 5 \
    logged 'ready already; the configured PIN is not sent'
t_eq "wrong PIN file, card open: counter untouched" "$(pw1)" "$r0"
t_check "wrong PIN file, card open: tunnel still up" ping_ok "$NS_B" "$IN4_A"

# 2b. PIN sources checked by -n, each error with file:line:key.
check_n() { ip netns exec "$NS_A" "$T_ROOT/build/wgcardd" -n -c "$T_TMP/$IF_A.conf" >"$T_TMP/n.out" 2>&1; }
(umask 077; echo 12345 >"$T_TMP/shortpin")
conf_a 0000C401 "$PUB_A" "$T_TMP/shortpin"
check_n
t_check "-n: a 5-byte PIN file fails" test $? -ne 0
t_check "-n: ... with file:line:key and the length rule" \
    grep -q "$IF_A.conf:4: PinFile: $T_TMP/shortpin: not a PIN of 6 to 127 bytes" "$T_TMP/n.out"
conf_a 0000C401 "$PUB_A" "$T_TMP/no-such-pin"
check_n
t_check "-n: a missing PIN file fails, with file:line:key" \
    grep -q "$IF_A.conf:4: PinFile: $T_TMP/no-such-pin: No such file" "$T_TMP/n.out"
conf_a 0000C401 "$PUB_A" "$T_TMP/pin_a"
sed -i "s|^PinFile.*|PinCredential = wg0.pin|" "$T_TMP/$IF_A.conf"
env -u CREDENTIALS_DIRECTORY ip netns exec "$NS_A" "$T_ROOT/build/wgcardd" -n \
    -c "$T_TMP/$IF_A.conf" >"$T_TMP/n.out" 2>&1
t_eq "-n from a shell: a PinCredential is not an error" "$?" 0
t_check "-n from a shell: ... but a warning with file:line:key" \
    grep -q "warning: .*$IF_A.conf:4: PinCredential: .*not under systemd" "$T_TMP/n.out"
conf_a 0000C401 "$PUB_A" "$T_TMP/pin_a"

# 3. An unreadable PIN file: refused whole.
conf_a 0000C401 "$PUB_A" "$T_TMP/no-such-pin"
mark
reload_refused "missing PIN file: reload refused"
t_check "missing PIN file: the error names the file, line and key" \
    grep -q "$IF_A.conf:4: PinFile: $T_TMP/no-such-pin" "$T_TMP/reload.out"
t_check "missing PIN file: tunnel untouched" ping_ok "$NS_B" "$IN4_A"

# 4. The card is replaced: new serial, new key, new PIN.
card_stop_vcard
card_start_vcard "$T_TMP/c.state" || t_fatal "vcard C"
t_check "card C in the reader: not used before the reload" \
    bash -c "sleep 1; ip netns exec '$NS_A' '$CTL' -i '$IF_A' card status | grep -q 'state: absent'"
conf_a 0000C402 "$PUB_C" "$T_TMP/pin_c"
mark
t_check "new card: reload accepted" reload_a
t_check "new card: the broker takes the new settings" wait_for 5 \
    logged 'card backend (new settings)'
t_check "new card: ready with its PIN" wait_for 10 logged 'card: ready'
t_check "new card: the interface has the new key" wait_for 5 \
    logged "interface public key $PUB_C"
t_eq "new card: card pubkey says so" "$(ctl_a card pubkey 2>/dev/null)" "$PUB_C"
t_eq "new card: its PIN counter is full" "$(pw1)" 3
wgx "$NS_B" set "$IF_B" peer "$PUB_A" remove &&
wgx "$NS_B" set "$IF_B" peer "$PUB_C" allowed-ips "$IN4_A/32" \
    endpoint "$OUT4_A:$PORT_A" || t_fail "B: peer key changed"
t_check "new card: tunnel with the peer again" ping_retry "$NS_B" "$IN4_A" 15
t_check "new card: the card did the handshake" test "$(deciphers)" -ge 1
t_eq "new card: same daemon" "${T_IF_PID[$IF_A]}" "$PID_A"
t_check "new card: daemon alive" pid_alive "$PID_A"

# 5. New settings with a wrong PIN: one retry spent, then never again.
card_stop_vcard
card_start_vcard "$T_TMP/a.state" || t_fatal "vcard A again"
r0=$(pw1)
conf_a 0000C401 "$PUB_A" "$T_TMP/badpin"
mark
t_check "wrong PIN: reload accepted" reload_a
t_check "wrong PIN: logged" wait_for 10 logged 'result=wrong-pin'
t_eq "wrong PIN: exactly one retry spent" "$(pw1)" $((r0 - 1))
# The same settings with one change elsewhere, and the same wrong PIN.
conf_a 0000C401 "$PUB_A" "$T_TMP/badpin"
sed -i "s/^ListenPort.*/&\nMTU = 1400/" "$T_TMP/$IF_A.conf"
mark
t_check "same wrong PIN again: reload accepted" reload_a
t_check "same wrong PIN again: refused without the card" wait_for 5 \
    logged 'reason=known-wrong-pin'
t_eq "same wrong PIN again: nothing spent" "$(pw1)" $((r0 - 1))
t_eq "same wrong PIN again: no VERIFY" "$(logged_count 'op=verify backend=openpgp result=wrong')" 0
# A restart with the same wrong PinFile: the new broker has no memory of
# the refused PIN, but the counter below 3 says someone failed since the
# last good VERIFY, so the configured PIN is not sent (each restart used
# to spend a retry; three blocked the card).
mark
impl_stop "$IF_A"
start_conf "$NS_A" "$IF_A" "$T_TMP/$IF_A.conf" || t_fatal "wgcardd A again"
PID_A=${T_IF_PID[$IF_A]}
t_check "restart, same wrong PIN: pin-suspect, not sent" wait_for 10 \
    logged 'result=refused reason=pin-suspect'
t_eq "restart, same wrong PIN: nothing spent" "$(pw1)" $((r0 - 1))
st=$(ctl_a card status)
t_check "restart, same wrong PIN: card status says pin-suspect" \
    sh -c "echo '$st' | grep -q '^  state: pin-suspect$'"
t_check "restart, same wrong PIN: card status says why and what to run" \
    sh -c "echo '$st' | grep -q '^  reason: configured PIN not sent: the retry counter is $((r0 - 1)) of 3 since the last good VERIFY.*run wgcardctl card unlock$'"
t_check "restart, same wrong PIN: card status gives the maximum" \
    sh -c "echo '$st' | grep -q '^  PIN retries maximum: 3$'"
t_eq "restart, same wrong PIN: no VERIFY" "$(logged_count 'op=verify backend=openpgp result=wrong')" 0
printf '%s\n' "$PIN_A" | ctl_a card unlock >/dev/null 2>&1
t_check "right PIN by card unlock: ready" wait_for 10 logged 'card: ready'
t_eq "right PIN: counter back to 3" "$(pw1)" 3

# 6. A CardPublicKey that the card in the reader does not have: the card
# is refused and stays "wrong-card" (vpcd's second, empty slot must not
# turn it into "absent"), the audit line names its serial and the whole
# reason; the right key again brings the tunnel back.
conf_a 0000C401 "$PUB_C" "$T_TMP/pin_a"
mark
t_check "wrong key: reload accepted" reload_a
t_check "wrong key: card status says wrong-card" wait_for 5 \
    bash -c "ip netns exec '$NS_A' '$CTL' -i '$IF_A' card status | grep -q 'state: wrong-card'"
flap=
for i in 1 2 3 4 5 6 7 8; do
	sleep 0.3
	flap="$flap $(ctl_a card status | awk -F': ' '/ state:/ { print $2 }')"
done
t_eq "wrong key: the state does not flap between readers" \
    "$(echo $flap | tr ' ' '\n' | sort -u | tr '\n' ' ')" "wrong-card "
t_eq "wrong key: show --json says wrong-card" \
    "$(ctl_a show --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["interfaces"][0]["key"]["state"])')" \
    wrong-card
t_check "wrong key: not overwritten by the empty slot in the log" \
    bash -c "! tail -n +$((MARK + 1)) '$LOG_A' | grep -q 'card: absent: reader Virtual PCD 00 01'"
t_check "wrong key: no PIN sent to it" bash -c "! tail -n +$((MARK + 1)) '$LOG_A' | grep -q 'op=verify'"
conf_a 0000C401 "$PUB_A" "$T_TMP/pin_a"
wgx "$NS_B" set "$IF_B" peer "$PUB_C" remove &&
wgx "$NS_B" set "$IF_B" peer "$PUB_A" allowed-ips "$IN4_A/32" \
    endpoint "$OUT4_A:$PORT_A" || t_fail "B: peer key back to A's"
mark
t_check "right key again: reload accepted" reload_a
t_check "right key again: ready" wait_for 10 logged 'card: ready'
t_check "right key again: tunnel up" ping_retry "$NS_B" "$IN4_A" 15

# 7. The peer's key pasted into CardPublicKey: the file is refused (at
# -n and at reload), naming both lines, and the peer is not lost.
conf_a 0000C401 "$PUB_B" "$T_TMP/pin_a"
ip netns exec "$NS_A" "$T_ROOT/build/wgcardd" -n -c "$T_TMP/$IF_A.conf" \
    >"$T_TMP/n.out" 2>&1
t_check "CardPublicKey = a peer's key: -n fails" test $? -ne 0
t_check "CardPublicKey = a peer's key: -n names file:line:key" \
    grep -q "$IF_A.conf:[0-9]*: PublicKey: .*CardPublicKey, line" "$T_TMP/n.out"
mark
reload_refused "CardPublicKey = a peer's key: reload refused"
t_check "CardPublicKey = a peer's key: the refusal says why" \
    grep -q 'CardPublicKey' "$T_TMP/reload.out"
t_eq "CardPublicKey = a peer's key: the peer is still there" \
    "$(wgx "$NS_A" show "$IF_A" peers)" "$PUB_B"
t_check "CardPublicKey = a peer's key: tunnel up" ping_retry "$NS_B" "$IN4_A" 5
conf_a 0000C401 "$PUB_A" "$T_TMP/pin_a"
t_check "the right key again: reload accepted" reload_a
t_eq "the right key again: the peer is there" \
    "$(wgx "$NS_A" show "$IF_A" peers)" "$PUB_B"
t_check "the right key again: tunnel up" ping_retry "$NS_B" "$IN4_A" 15
t_check "no seccomp kill" bash -c "! grep -q 'killed by signal' '$LOG_A'"

# The card's events in the audit file (from keyd's worker thread too).
aud_has()
{
	python3 - "$T_TMP/audit.jsonl" "$@" <<'EOP'
import json, sys
L = [json.loads(l) for l in open(sys.argv[1])]
want = dict(a.split("=", 1) for a in sys.argv[2:])
sys.exit(0 if any(all(str(o.get(k)) == v for k, v in want.items())
                  for o in L) else 1)
EOP
}
t_check "audit file: VERIFY with a new PIN" aud_has op=verify proc=keyd pin=new result=ok
t_check "audit file: card ready, with its serial" aud_has op=card state=ready serial=0000C402
t_check "audit file: card absent" aud_has op=card state=absent
t_check "audit file: the wrong card, with its serial" aud_has op=card state=wrong-card serial=0000C401
t_check "audit file: the wrong card's reason whole" python3 -c '
import json, sys
L = [json.loads(l) for l in open(sys.argv[1])]
sys.exit(0 if any(o.get("state") == "wrong-card" and sys.argv[2] in o.get("reason", "") and "not the" in o.get("reason", "") for o in L) else 1)' "$T_TMP/audit.jsonl" "$PUB_A"
t_check "audit file: X25519 on the card" aud_has op=ecdh proc=keyd backend=openpgp result=ok
t_check "audit file: the wrong PIN" aud_has op=verify result=wrong-pin retries_left=2
t_check "audit file: the wrong PIN not sent again" aud_has op=verify result=refused reason=known-wrong-pin
t_check "audit file: the PIN from card unlock" aud_has op=pin from=handshake
t_check "audit file: the new key" aud_has op=key "public=$PUB_C"
t_check "audit file: no PIN in it" bash -c "! grep -qe '$PIN_A' -e '$PIN_C' -e wrongPIN-77 '$T_TMP/audit.jsonl'"

t_done
