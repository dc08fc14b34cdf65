#!/bin/bash
# card_slow: wgcardd on a slow token with a touch policy (the virtual
# card's nitrokey3 profile: VERIFY 0.9 s, DECIPHER 1 s, a button, KDF)
# against the matrix's side B; docs/devices.md items 9 and 10:
#  - the token's timings fit the bounds: ready, tunnel up, never "not
#    answering";
#  - DecipherTimeout is the bound that counts: a DECIPHER slower than it
#    (3.5 s for 2 s here) makes the card "not answering", one faster does not;
#  - UIF for decryption on (read at the next card session): card status,
#    show --json and show --prometheus say so; a handshake waits for the touch, the broker says "touch the
#    token" once for that wait, the touch completes it;
#  - no touch: the token gives up (3 s here), a failed handshake, the
#    card stays ready (no reconnect, no VERIFY); the next one gets through
#    with a touch;
#  - a token that answers every VERIFY with an error at once (6F00):
#    the card sessions it ends are opened again with back-off, and the
#    log does not fill.
T_ID=cs
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/card.sh"

PIN=wgPIN-5104
CTL=$T_ROOT/build/wgcardctl
export VCARD_PROFILE=nitrokey3

# status_a FIELD: one line of wgcardctl card status on A ("touch", ...).
status_a()
{
	ip netns exec "$NS_A" "$CTL" -i "$IF_A" card status 2>/dev/null |
	    sed -n "s/^  $1: //p"
}

touchwait() { [ "$(card_status_field touchwait)" = 1 ]; }
# nudge: a packet from A to B (one echo request), then touchwait.
nudge() { ping_one "$NS_A" "$IN4_B"; touchwait; }

# touch_shown WANT GAUGE: show --json on A validates against the schema
# with key.touch WANT, and show --prometheus has wgcard_info's key_touch
# label WANT and wgcard_card_touch_required GAUGE (parsed by
# prometheus_client). Prints what it saw when it did not.
touch_shown()
{
	ip netns exec "$NS_A" "$CTL" -i "$IF_A" show --json \
	    >"$T_TMP/touch.json" 2>&1 &&
	ip netns exec "$NS_A" "$CTL" -i "$IF_A" show --prometheus \
	    >"$T_TMP/touch.prom" 2>&1 || { tail -n 3 "$T_TMP/touch.json"; return 1; }
	/usr/bin/python3 - "$T_ROOT/docs/wgcardctl-show.schema.json" \
	    "$T_TMP/touch.json" "$T_TMP/touch.prom" "$IF_A" "$1" "$2" <<'EOP' 2>&1
import json, sys, jsonschema
from prometheus_client.parser import text_string_to_metric_families
schema, js, prom, ifname, want, gauge = sys.argv[1:]
d = json.load(open(js))
jsonschema.Draft202012Validator(json.load(open(schema))).validate(d)
j = d['interfaces'][0]['key']['touch']
info = req = None
for fam in text_string_to_metric_families(open(prom).read()):
    for s in fam.samples:
        if s.labels.get('interface') != ifname:
            continue
        if s.name == 'wgcard_info':
            info = s.labels.get('key_touch')
        elif s.name == 'wgcard_card_touch_required':
            req = s.value
print("json %r, key_touch %r, touch_required %r" % (j, info, req))
sys.exit(0 if j == want and info == want and req == float(gauge) else 1)
EOP
}

card_start_pcscd cs || t_fatal "pcscd"
PUB_A=$(card_init_state "$T_TMP/a.state" --generate --pin "$PIN") ||
    t_fatal "card A"
card_start_vcard "$T_TMP/a.state" --set decipher=1000 || t_fatal "vcard A"
card_wait_present || t_fatal "card not seen"
pair_b_only "$PUB_A" endpoint || t_fatal "side B"
(umask 077; echo "$PIN" >"$T_TMP/pin") || t_fatal "pin file"
LOG_A=$T_TMP/$IF_A.log
: >"$LOG_A"
card_conf "$T_TMP/$IF_A.conf" "$PUB_A" "$T_TMP/pin" \
    "DecipherTimeout = 2000" "TouchTimeout = 15000"
start_conf "$NS_A" "$IF_A" "$T_TMP/$IF_A.conf" || t_fatal "wgcardd A"

# 1. The token's own timings.
t_check "slow token: ready (VERIFY 0.9 s)" wait_for 10 logged 'card: ready'
t_check "slow token: tunnel up (DECIPHER 1 s)" ping_retry "$NS_B" "$IN4_A" 15
t_eq "slow token: no touch policy" "$(status_a touch)" "decrypt off"
t_check "slow token: show --json and --prometheus say so too" \
    touch_shown "decrypt off" 0
t_check "slow token: never 'not answering'" \
    bash -c "! grep -q 'not answering' '$LOG_A'"

# 2. DecipherTimeout (2000 ms) is the bound: 3.5 s is too slow.
mark
card_ctl "set decipher=3500" >/dev/null
force_handshake || t_fail "force handshake"
ping_one "$NS_B" "$IN4_A"
t_check "DecipherTimeout: a 3.5 s DECIPHER hangs the card" wait_for 8 \
    logged 'not answering: no answer from the card within 2000 ms'
card_ctl "set decipher=1000" >/dev/null
t_check "DecipherTimeout: ready again once it answers" wait_for 10 \
    logged 'card: ready'
t_check "DecipherTimeout: handshake at 1 s gets through" \
    ping_retry "$NS_B" "$IN4_A" 15

# 3. Touch policy for decryption, read at the next card session.
card_ctl "uif dec 2" >/dev/null
card_ctl "set touchtimeout=8000" >/dev/null
mark
card_ctl remove >/dev/null
t_check "touch: card pulled" wait_for 5 logged 'card: absent'
card_ctl insert >/dev/null
t_check "touch: card back, ready" wait_for 10 logged 'card: ready'
t_check "touch: the policy is read and logged" \
    logged 'touch policy for decryption on (fixed)'
t_eq "touch: card status shows it" "$(status_a touch)" "decrypt on (fixed)"
t_check "touch: show --json (schema-valid) and --prometheus show it" \
    touch_shown "decrypt on (fixed)" 1
mark
force_handshake || t_fail "force handshake"
ping_one "$NS_B" "$IN4_A"
t_check "touch: the DECIPHER waits for the touch" wait_for 5 touchwait
t_check "touch: the broker says so" logged 'touch the token to complete the handshake'
card_touch
t_check "touch: touched, the handshake completes" \
    ping_retry "$NS_B" "$IN4_A" 5
t_eq "touch: one line for that wait" \
    "$(logged_count 'touch the token to complete')" 1

# 4. No touch: the token gives up after 3 s (6985).
card_ctl "set touchtimeout=3000" >/dev/null
mark
v0=$(grep -c 'INS 20' "$VCARD_LOG")
force_handshake || t_fail "force handshake"
ping_one "$NS_B" "$IN4_A"
t_check "no touch: the token gives up, the broker says so" wait_for 8 \
    logged 'not touched in time'
t_check "no touch: a failed handshake (audited)" \
    logged 'op=ecdh .*error="not touched in time'
t_check "no touch: the card stays ready (no reconnect)" \
    bash -c "! tail -n +$((MARK + 1)) '$LOG_A' | grep -q 'card: \(absent\|not answering\|locked\)'"
t_eq "no touch: no VERIFY sent" "$(grep -c 'INS 20' "$VCARD_LOG")" "$v0"
t_check "no touch: B retries, the next wait is touched" wait_for 8 touchwait
card_touch
t_check "no touch: then the handshake completes" \
    ping_retry "$NS_B" "$IN4_A" 6

# 5. A initiates and the touch comes after 8 s: longer than REKEY_TIMEOUT
# (5 s, when A would retransmit) and than the handshake process's own
# wait for the broker (5 s), within what the broker says its answer may
# take (key_load.answer_ms: 5 s in its queue and TouchTimeout, 15 s).
# A's retransmits are held, its request is not dropped: one initiation
# leaves A, one DECIPHER (B's response) reaches the card, no storm; the
# touch completes the handshake. A forgets B first (removed and added
# again), so that A initiates: the new static-static DH is a DECIPHER
# too, touched at once.
card_ctl "set touchtimeout=20000" >/dev/null
ip netns exec "$NS_A" "$CTL" -i "$IF_A" log verbose >/dev/null 2>&1 ||
    t_fail "hold: wgcardctl log verbose"
# inits: UDP datagrams of an initiation's size (148 bytes, 176 with the
# IPv4 and UDP headers; no data message has that size) from A to B.
inits() {
	ip netns exec "$NS_A" iptables -w -nvxL OUTPUT |
	    awk '/length 176/ { print $1; exit }'
}
if ! ip netns exec "$NS_A" iptables -w -A OUTPUT -p udp -d "$OUT4_B" \
    --dport "$PORT_B" -m length --length 176 2>"$T_TMP/ipt.err"; then
	t_skip "hold: initiations not counted" \
	    "iptables in $NS_A: $(head -n 1 "$T_TMP/ipt.err")"
fi
mark
d0=$(card_status_field deciphers)
i0=$(inits)
wgx "$NS_A" set "$IF_A" peer "$PUB_B" remove &&
wgx "$NS_A" set "$IF_A" peer "$PUB_B" allowed-ips "$IN4_B/32" \
    endpoint "$OUT4_B:$PORT_B" || t_fail "hold: A re-adds B"
ping_one "$NS_A" "$IN4_B"
t_check "hold: the static-static DH waits for a touch" wait_for 5 touchwait
card_touch
t_check "hold: the static-static DH done" wait_for 5 logged 'op=ecdh .*result=ok'
t_check "hold: A initiates on traffic; B's response waits for a touch" \
    wait_for 10 nudge
sleep 8
d1=$(card_status_field deciphers)
i1=$(inits)
t_log "# hold: after 8 s untouched: $((d1 - d0)) DECIPHERs, $((${i1:-0} - ${i0:-0})) initiations from A"
t_check "hold: still waiting for the touch after 8 s" touchwait
t_check "hold: A's retransmit held (the response waits for the card)" \
    logged 'the response waits for the card; not retrying yet'
t_check "hold: no retransmit" \
    bash -c "! tail -n +$((MARK + 1)) '$LOG_A' | grep -q 'retrying (try'"
t_check "hold: the request to the broker not dropped" \
    bash -c "! tail -n +$((MARK + 1)) '$LOG_A' | grep -q 'did not answer'"
t_eq "hold: two DECIPHERs (static-static, B's response), no more" \
    $((d1 - d0)) 2
[ -n "$i0" ] && t_eq "hold: one initiation sent by A" $((i1 - i0)) 1
# Data while the response waits, more than REKEY_TIMEOUT after the
# initiation, and while the touch completes it: each packet asks for a
# handshake, and a new initiation would make B forget the session that
# the touch completes (B answers it with another response: another
# DECIPHER, another touch). Neither the requests made while the
# response waits nor those made before the new session reached the
# forwarder start one.
ip netns exec "$NS_A" ping -n -q -i 0.02 -c 150 -W 1 "$IN4_B" \
    >/dev/null 2>&1 &
pinger=$!
t_check "hold: data meanwhile starts no initiation (A says so)" \
    wait_for 3 logged 'the response waits for the card; no new initiation'
card_touch
wait "$pinger"
t_check "hold: touched, the handshake completes" \
    ping_retry "$NS_A" "$IN4_B" 5
t_check "hold: A has the handshake" wait_handshake "$NS_A" "$IF_A" "$PUB_B" 5
t_eq "hold: still two DECIPHERs" \
    $(($(card_status_field deciphers) - d0)) 2
[ -n "$i0" ] && t_eq "hold: still one initiation" $(($(inits) - i0)) 1
t_eq "hold: one \"touch the token\" line per wait" \
    "$(logged_count 'touch the token to complete')" 2
ip netns exec "$NS_A" "$CTL" -i "$IF_A" log brief >/dev/null 2>&1
card_ctl "uif dec 0" >/dev/null

# 6. A token that answers every VERIFY at once with an error (6F00,
# nothing spent): each answer ends the card session and the next one
# VERIFYs again; the broker backs off (0.25, 0.5, 1, 2, 4, 8 s), and
# the log does not fill.
card_ctl "set decipher=0" >/dev/null
card_ctl "set verify=0" >/dev/null
card_ctl "set verifysw=6F00" >/dev/null
mark
v0=$(grep -c 'INS 20' "$VCARD_LOG")
card_ctl remove >/dev/null
wait_for 5 logged 'card: absent'
card_ctl insert >/dev/null
sleep 10
v1=$(grep -c 'INS 20' "$VCARD_LOG")
n=$(tail -n +"$((MARK + 1))" "$LOG_A" | grep -vc 'audit:')
t_log "# VERIFY 6F00: $((v1 - v0)) VERIFYs, $n log lines (audit aside) in 10 s"
t_check "VERIFY 6F00: the broker backs off ($((v1 - v0)) VERIFYs in 10 s)" \
    test $((v1 - v0)) -ge 2 -a $((v1 - v0)) -le 8
t_check "VERIFY 6F00: said once" logged 'card: fails again and again; backing off'
t_check "VERIFY 6F00: the log stays short ($n lines in 10 s)" \
    test "$n" -le 40
t_eq "VERIFY 6F00: no retry spent" "$(card_status_field pw1)" 3
card_ctl "set verifysw=0" >/dev/null
t_check "VERIFY answers again: ready" wait_for 12 logged 'card: ready'
t_check "same daemon" pid_alive "${T_IF_PID[$IF_A]}"
t_check "no seccomp kill of keyd" bash -c "! grep -q 'killed by signal' '$LOG_A'"

t_done
