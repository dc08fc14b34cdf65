#!/bin/bash
# audit: the audit file (AuditLog in wgcardd.conf(5)), software key.
#  - every line is one JSON object with the documented envelope (ts,
#    interface, proc, pid) and op; the pids are those of the processes;
#  - the events: start, key, peer-add, control commands (with the uid;
#    a group member's reload refused), reload ok and refused (naming the
#    file and line), peer-remove (reload and wg set), stop;
#  - the file is appended to (what was there stays), created 0640 when
#    new, reopened on reload after rotation, never holds a secret;
#  - an AuditLog that cannot be opened: the daemon does not start; on
#    reload, the reload is refused and the running file stays.
T_ID=au
. "$(dirname "$0")/../lib/common.sh"

WGCARDCTL=${WGCARDCTL:-$T_ROOT/build/wgcardctl}
[ -x "$WGCARDCTL" ] || t_fatal "build/wgcardctl is missing (run make)"
AUD=$T_TMP/audit/wg.jsonl

# conf_a [EXTRA_PEER_PUB] [AUDITLOG]: A's configuration.
conf_a()
{
	(
		umask 077
		{
		cat <<EOC
[Interface]
PrivateKey = $(cat "$T_TMP/A.key")
ListenPort = $PORT_A
Address = $IN4_A/24
AuditLog = ${2:-$AUD}

[Peer]
PublicKey = $PUB_B
PresharedKey = $(cat "$PSK")
AllowedIPs = $IN4_B/32
Endpoint = $OUT4_B:$PORT_B
EOC
		[ -n "${1:-}" ] && printf '\n[Peer]\nPublicKey = %s\nAllowedIPs = 10.77.1.0/24\n' "$1"
		} >"$T_TMP/$IF_A.conf.new"
		mv "$T_TMP/$IF_A.conf.new" "$T_TMP/$IF_A.conf"
	)
}

# aq PYEXPR: evaluate PYEXPR over L, the list of parsed lines of the
# audit file (every line must parse, or it exits 3); prints the result.
aq()
{
	python3 -c '
import json, sys
L = []
for n, line in enumerate(open(sys.argv[1], encoding="utf-8"), 1):
    if not line.endswith("\n"):
        print("line %d: no newline" % n); sys.exit(3)
    if n == 1 and line == "before\n":
        continue
    try:
        o = json.loads(line)
    except ValueError as e:
        print("line %d: %s: %r" % (n, e, line)); sys.exit(3)
    if not isinstance(o, dict):
        print("line %d: not an object" % n); sys.exit(3)
    L.append(o)
print(eval(sys.argv[2]))' "$AUD" "$1"
}

# has OP [KEY=VALUE...]: an event with op OP and those fields exists.
has()
{
	local op=$1 cond="o.get('op') == '$1'" kv
	shift
	for kv in "$@"; do
		cond="$cond and str(o.get('${kv%%=*}')) == '${kv#*=}'"
	done
	[ "$(aq "any($cond for o in L)")" = True ]
}

pair_b_only "$(key_new A)" endpoint || t_fatal "side B"
PUB_A=$(cat "$T_TMP/A.pub")
PSK=$(psk_new AB) || t_fatal "psk"
wgx "$NS_B" set "$IF_B" peer "$PUB_A" preshared-key "$PSK" || t_fatal "B psk"
PUB_X=$(key_new X) || t_fatal "key X"

mkdir -p "$T_TMP/audit" && chmod 700 "$T_TMP/audit"
echo before >"$AUD"
chmod 0600 "$AUD"

# An AuditLog that cannot be opened stops the start.
conf_a "" "$T_TMP/no/such/dir/audit.jsonl"
timeout 10 ip netns exec "$NS_A" "$WGCARDD" -d -c "$T_TMP/$IF_A.conf" \
    >"$T_TMP/bad.log" 2>&1 </dev/null
rc=$?
t_check "AuditLog in a missing directory: the daemon does not start (exit $rc)" \
    test "$rc" -ne 0
t_check "... and says which file" grep -q "AuditLog $T_TMP/no/such/dir" "$T_TMP/bad.log"
t_check "... and leaves no interface behind" \
    bash -c "! ip -n '$NS_A' link show '$IF_A' >/dev/null 2>&1"

conf_a
start_conf "$NS_A" "$IF_A" "$T_TMP/$IF_A.conf" || t_fatal "wgcardd A"
PID_A=${T_IF_PID[$IF_A]}
t_check "tunnel up" ping_retry "$NS_A" "$IN4_B" 10
t_eq "what was in the file stays first" "$(head -n 1 "$AUD")" before
t_eq "an existing file keeps its mode" "$(stat -c %a "$AUD")" 600
t_eq "every line parses as a JSON object" "$(aq 'len(L) > 0')" True
t_eq "envelope on every line" \
    "$(aq "all(set(('ts','interface','proc','pid','op')) <= set(o) for o in L)")" True
t_eq "interface on every line" "$(aq "set(o['interface'] for o in L)")" "{'$IF_A'}"
t_eq "ts is RFC 3339 UTC" \
    "$(aq "all(__import__('re').fullmatch(r'\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z', o['ts']) is not None for o in L)")" True
t_check "start event from the parent with its pid" has start proc=parent "pid=$PID_A"
t_check "key event with the public key" has key "public=$PUB_A"
t_check "peer-add event for B" has peer-add "peer=${PUB_B:0:8}"
t_check "set-key event from keyd" has set-key proc=keyd result=ok
KEYD_PID=$(aq "[o['pid'] for o in L if o['proc'] == 'keyd'][0]")
t_eq "keyd's pid is the key broker's" "$(cat "/proc/$KEYD_PID/comm" 2>/dev/null)" wgcard-keyd

# Control commands, with the caller's uid.
"$WGCARDCTL" -i "$IF_A" show >/dev/null || t_fail "wgcardctl show"
t_check "control show by uid 0" has control uid=0 command=show proc=handshake
CTLCOPY=$T_TMP/bin/wgcardctl
mkdir -p "$T_TMP/bin" && chmod 755 "$T_TMP/bin" &&
    install -m 0755 "$WGCARDCTL" "$CTLCOPY" || t_fatal "copy wgcardctl"
setpriv --reuid=nobody --regid=nogroup --groups=wgcard "$CTLCOPY" \
    -i "$IF_A" reload >/dev/null 2>&1
t_check "a member's reload refused, with its uid" \
    has control "uid=$(id -u nobody)" command=reload result=refused reason=root-only

# Reload: a peer added, then a broken file refused, then a peer removed.
conf_a "$PUB_X"
"$WGCARDCTL" -i "$IF_A" reload >/dev/null || t_fail "reload"
t_check "reload ok event" has reload result=ok peers=2
t_check "peer-add event for X" has peer-add "peer=${PUB_X:0:8}"
echo "Bogus = 1" >>"$T_TMP/$IF_A.conf"
"$WGCARDCTL" -i "$IF_A" reload >/dev/null 2>&1 && t_fail "broken file accepted"
t_eq "reload refused event names file and line" \
    "$(aq "any(o['op'] == 'reload' and o.get('result') == 'refused' and '$IF_A.conf:' in o.get('error', '') for o in L)")" True
conf_a
"$WGCARDCTL" -i "$IF_A" reload >/dev/null || t_fail "reload"
t_check "peer-remove event for X" has peer-remove "peer=${PUB_X:0:8}"
wgx "$NS_A" set "$IF_A" peer "$PUB_X" allowed-ips 10.77.1.0/24 &&
    wgx "$NS_A" set "$IF_A" peer "$PUB_X" remove || t_fail "wg set"
t_eq "wg set: peer-add and peer-remove for X again" \
    "$(aq "sum(1 for o in L if o['op'] in ('peer-add', 'peer-remove') and o.get('peer') == '${PUB_X:0:8}')")" 4

# Rotation: the file moved away, a reload opens a new one (0640).
mv "$AUD" "$AUD.1"
"$WGCARDCTL" -i "$IF_A" reload >/dev/null || t_fail "reload"
t_check "after rotation: a new file" test -s "$AUD"
t_eq "after rotation: created 0640" "$(stat -c %a "$AUD")" 640
t_check "after rotation: the reload is in the new file" has reload result=ok
# A reload naming a file that cannot be opened: refused, the file stays.
conf_a "" "$T_TMP/no/such/dir/audit.jsonl"
"$WGCARDCTL" -i "$IF_A" reload >"$T_TMP/r.out" 2>&1 &&
    t_fail "unopenable AuditLog accepted on reload"
t_check "unopenable AuditLog on reload: refused, naming it" \
    grep -q "AuditLog $T_TMP/no/such/dir" "$T_TMP/r.out"
t_check "... and the running file still gets the events" \
    has reload result=refused
t_check "tunnel untouched" ping_ok "$NS_A" "$IN4_B"

# Stop.
impl_stop "$IF_A"
t_check "stop event" has stop status=0 proc=parent
# No secret anywhere in the file (nor in the rotated one).
secrets_in()
{
	local f=$1 s
	for s in "$(cat "$T_TMP/A.key")" "$(cat "$PSK")" "$(cat "$T_TMP/X.key")"; do
		grep -qF -- "$s" "$f" && return 0
	done
	return 1
}
no_secrets() { ! secrets_in "$1"; }
t_check "no private key or PSK in the audit file" no_secrets "$AUD"
t_check "no private key or PSK in the rotated file" no_secrets "$AUD.1"
t_eq "every line still parses" "$(aq 'len(L) > 0')" True

t_done
