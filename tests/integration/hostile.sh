#!/bin/bash
# hostile: a compromised sibling cannot bend the processes above it. The
# daemon of `make hostile` starts tests/hostile/hostile.c in place of the
# forwarder or the handshake process; it sends a message of a type the
# receiver does not know, one it is not entitled to send, a wrong size, a
# descriptor where none belongs, or a flood. For every refusal case the
# receiver (the parent, or the key broker) must fail closed: the daemon
# exits non-zero within seconds and the log names the message, the
# sender and the fault. For a flood the parent must stay up and keep its
# audit file bounded, losing no count. A handshake process guessing PINs
# (IMSG_KEY_PIN, what wgcardctl card unlock sends) on a locked virtual
# card: one PIN per 5 s reaches the card, none at the last retry, so
# twelve guesses leave the card unblocked with one retry.
T_ID=ho
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/card.sh"
. "$(dirname "$0")/../lib/hostile.sh"
key_new hkey >/dev/null || t_fatal "wg genkey"

# start CASE ROLE N [AUDIT]: the hostile daemon for one case, in the
# background, in its own namespace; PID[CASE], LOG is $T_TMP/CASE.log.
declare -A PID T0
start()
{
	local case=$1 role=$2 n=$3 audit=${4:-} ns conf
	ns=$(ns_name "$n")
	ns_new "$ns" || t_fatal "netns"
	conf=$T_TMP/$case.conf
	{
		echo "[Interface]"
		if [ -n "${CARD_PUB:-}" ]; then
			echo "KeySource = openpgp"
			echo "CardPublicKey = $CARD_PUB"
		else
			echo "PrivateKey = $(cat "$T_TMP/hkey.key")"
		fi
		echo "ListenPort = 0"
		[ -n "$audit" ] && echo "AuditLog = $audit"
	} >"$conf"
	chmod 600 "$conf"
	hostile_launch "$ns" "$role" "$case" "$conf" "$T_TMP/$case.log" \
	    "ho${$}x$n"
	PID[$case]=$HPID
	T0[$case]=$(now_ms)
}

# finish CASE [MS]: waits for its daemon (until MS, default 15000, after
# its start); RC is its exit status, or "running".
finish()
{
	local pid=${PID[$1]}
	RC=running
	while [ $(($(now_ms) - T0[$1])) -lt "${2:-15000}" ]; do
		if ! pid_alive "$pid"; then
			wait "$pid"
			RC=$?
			break
		fi
		sleep 0.1
	done
	LOG=$T_TMP/$1.log
}

# refused CASE PATTERN [N]: the daemon exits non-zero, its log matches.
refused()
{
	local case=$1 pat=$2
	finish "$case"
	if [ "$RC" = running ]; then
		stop_pid "${PID[$case]}"
		t_fail "$case: the daemon fails closed" "still running after 15 s"
	elif [ "$RC" -eq 0 ] || [ "$RC" -eq 127 ]; then
		t_fail "$case: the daemon fails closed" "exit status $RC; log:
$(tail -n 8 "$LOG")"
	elif ! grep -Eq "$pat" "$LOG"; then
		t_fail "$case: the refusal is named" "no /$pat/ in the log:
$(tail -n 8 "$LOG")"
	else
		t_ok "$case: exit $RC, \"$(grep -Eo "$pat.*" "$LOG" | head -n 1 | cut -c1-90)\""
	fi
	case $case in hs-keyd-*)
		# The broker's refusal ends the daemon too, naming the broker.
		t_check "$case: the parent names the key broker's exit" \
		    grep -Eq "key broker.*(exited with status [1-9]|closed its socket)" "$LOG"
	esac
}

want_fwd='from (the )?forwarder'
want_hs='from (the )?handshake'
# A message the receiver takes from another sibling is "not a message X
# may send"; one it takes from none is an unknown type to it.
CASES=(
    forwarder:fwd-unknown-type:"unknown message type 9999 $want_fwd"
    forwarder:fwd-type-zero:"unknown message type 0 $want_fwd"
    forwarder:fwd-type-max:"unknown message type 4294967295 $want_fwd"
    forwarder:fwd-tun-gone-size:"IMSG_FWD_TUN_GONE $want_fwd: 4 bytes, want 0"
    forwarder:fwd-ready-size:"IMSG_FWD_READY $want_fwd: 1 bytes, want 0"
    forwarder:fwd-ready-fd:"IMSG_FWD_READY $want_fwd: unexpected descriptor"
    forwarder:fwd-sends-reload:"(IMSG_CTL_RELOAD $want_fwd: not a message|unknown message type [0-9]+ $want_fwd)"
    forwarder:fwd-sends-port:"(IMSG_PRIV_SET_PORT $want_fwd: not a message|unknown message type [0-9]+ $want_fwd)"
    forwarder:fwd-sends-audit:"(IMSG_AUDIT $want_fwd: not a message|unknown message type [0-9]+ $want_fwd)"
    forwarder:fwd-sends-cfg-done:"(IMSG_CFG_DONE $want_fwd: not a message|unknown message type [0-9]+ $want_fwd)"
    forwarder:fwd-sends-key-set:"(IMSG_KEY_SET $want_fwd: not a message|unknown message type [0-9]+ $want_fwd)"
    handshake:hs-sends-tun-gone:"(IMSG_FWD_TUN_GONE $want_hs: not a message|unknown message type [0-9]+ $want_hs)"
    handshake:hs-sends-fwd-ready:"(IMSG_FWD_READY $want_hs: not a message|unknown message type [0-9]+ $want_hs)"
    handshake:hs-port-size:"IMSG_PRIV_SET_PORT $want_hs: 4 bytes, want 2"
    handshake:hs-fwmark-fd:"IMSG_PRIV_SET_FWMARK $want_hs: unexpected descriptor"
    handshake:hs-reload-size:"IMSG_CTL_RELOAD $want_hs: 2 bytes, want 4"
    handshake:hs-unknown-type:"unknown message type 4242 $want_hs"
    handshake:hs-audit-huge:"IMSG_AUDIT $want_hs: 60000 bytes"
    handshake:hs-keyd-log-set:"(IMSG_CTL_LOG_SET $want_hs: not a message|unknown message type [0-9]+ $want_hs)"
    handshake:hs-keyd-card-config:"(IMSG_KEY_CARD_CONFIG $want_hs: not a message|unknown message type [0-9]+ $want_hs)"
    handshake:hs-keyd-dh-size:"IMSG_KEY_DH $want_hs: 3 bytes, want"
    handshake:hs-keyd-dh-fd:"IMSG_KEY_DH $want_hs: unexpected descriptor"
    handshake:hs-keyd-unknown-type:"unknown message type 31337 $want_hs"
    handshake:hs-keyd-sends-result:"(IMSG_KEY_DH_RESULT $want_hs: not a message|unknown message type [0-9]+ $want_hs)"
)
# Every case the program knows is run here, and no other.
t_eq "every case of hostile.c is run" \
    "$("$H/hostile" -l | awk '{ print $1 }' | grep -Ev 'flood|pin-guess' | sort | tr '\n' ' ')" \
    "$(printf '%s\n' "${CASES[@]}" | cut -d: -f2 | sort | tr '\n' ' ')"

# Six daemons at a time, each in its own namespace.
n=0
batch=()
for c in "${CASES[@]}" ""; do
	if [ -n "$c" ]; then
		IFS=: read -r role case pat <<<"$c"
		n=$((n + 1))
		start "$case" "$role" "$n"
		batch+=("$case:$n:$pat")
	fi
	if [ ${#batch[@]} -eq 6 ] || { [ -z "$c" ] && [ ${#batch[@]} -gt 0 ]; }; then
		for b in "${batch[@]}"; do
			IFS=: read -r case bn pat <<<"$b"
			refused "$case" "$pat"
			ns_del "$(ns_name "$bn")"
		done
		batch=()
	fi
done

# A flood of audit events: the parent stays up, writes a bounded number
# of lines and counts the rest, so that by the stop every event is in the
# file, one by one or in a count.
n=$((n + 1))
audit=$T_TMP/audit.jsonl
t0=$(date +%s)
start hs-audit-flood handshake "$n" "$audit"
finish hs-audit-flood 6000
# audit_events FILE: peer-add events written one by one or counted.
audit_events()
{
	python3 -c '
import json, re, sys
n = 0
for l in open(sys.argv[1]):
	e = json.loads(l)
	if e.get("op") == "peer-add":
		n += 1
	elif e.get("op") == "audit-aggregate":
		m = re.search(r"(?:^|,)peer-add:(\d+)", e.get("ops", ""))
		n += int(m.group(1)) if m else 0
print(n)' "$1" 2>&1
}
if [ "$RC" = running ]; then
	t_ok "hs-audit-flood: the parent stays up under 50000 events"
	secs=$(($(date +%s) - t0 + 1))
	lines=$(wc -l <"$audit")
	t_check "hs-audit-flood: $lines lines in ${secs} s: at most the burst, 200/s and one count a second" \
	    test "$lines" -le $((1000 + 201 * secs + 10))
	stop_pid "${PID[hs-audit-flood]}"
	t_eq "hs-audit-flood: every event written or counted, by the stop" \
	    "$(audit_events "$audit")" 50000
	t_check "hs-audit-flood: the counts are under the handshake's name" \
	    grep -q '"proc":"handshake",.*"op":"audit-aggregate"' "$audit"
else
	t_fail "hs-audit-flood: the parent stays up" "exit $RC: $(tail -n 5 "$LOG")"
fi
ns_del "$(ns_name "$n")"

# PIN guesses from a compromised handshake process, on a locked card
# (no PIN source) with three retries: the first reaches the card, the
# next four are too soon, the sixth reaches it (one retry left), every
# later one is refused as the last retry. The card is never blocked.
card_start_pcscd ho || t_fatal "pcscd"
CARD_PUB=$(card_init_state "$T_TMP/c.state" --generate --pin ho-pin-4711) ||
    t_fatal "card state"
card_start_vcard "$T_TMP/c.state" || t_fatal "vcard"
card_wait_present || t_fatal "card not seen"
t_eq "hs-keyd-pin-guess: the card starts with 3 retries" \
    "$(card_status_field pw1)" 3
n=$((n + 1))
start hs-keyd-pin-guess handshake "$n"
finish hs-keyd-pin-guess 16000
if [ "$RC" = running ]; then
	left=$(card_status_field pw1)
	t_check "hs-keyd-pin-guess: twelve guesses leave the card unblocked ($left retries left)" \
	    test "$left" -ge 1
	t_eq "hs-keyd-pin-guess: two guesses reached the card" "$left" 1
	t_check "hs-keyd-pin-guess: guesses within 5 s refused, audited" \
	    grep -q 'op=pin from=handshake source=unlock result=refused reason=rate-limited' "$LOG"
	t_check "hs-keyd-pin-guess: the last retry refused, audited" \
	    grep -q 'op=pin from=handshake source=unlock result=refused reason=last-retry' "$LOG"
	stop_pid "${PID[hs-keyd-pin-guess]}"
else
	t_fail "hs-keyd-pin-guess: the daemon stays up" "exit $RC: $(tail -n 5 "$LOG")"
fi
ns_del "$(ns_name "$n")"
card_stop_all

t_done
