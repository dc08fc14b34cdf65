#!/bin/bash
# ctl: wgcardctl against running daemons.  Every command on a config-mode
# daemon with a software key (show, card status, card pubkey, card unlock
# refused with "takes no PIN", reload, log verbose/brief, version); the
# monitoring exit codes (0 healthy, 4 a peer with an endpoint but no
# handshake, 3 no key, 2 no daemon); the socket's access rules (a user
# outside group wgcard cannot connect, a member may read but not unlock,
# reload or set the log level); garbage on the control socket gets an
# error or is dropped and the daemon keeps serving.  show --json (checked
# against the schema and against wg show) and --prometheus (parsed by
# prometheus_client); a fake daemon with hostile answers (the documents keep
# their shape, nothing reaches the terminal raw) and one that never answers
# (given up after 10 s, exit 2).
T_ID=ct
. "$(dirname "$0")/../lib/common.sh"

WGCARDCTL=${WGCARDCTL:-$T_ROOT/build/wgcardctl}
CTL_DIR=/var/run/wgcard

[ -x "$WGCARDD" ] || t_fatal "$WGCARDD is not built (make)"
[ -x "$WGCARDCTL" ] || t_fatal "$WGCARDCTL is not built (make)"
getent group wgcard >/dev/null || t_fatal "no group wgcard (contrib/install-deps.sh)"

IF_K="wg${T_ID}$$k"		# xplatform, no key
IF_NONE="wg${T_ID}$$none"	# no daemon
pair_net || t_fatal "hosts"
PUB_A=$(key_new A) && PUB_X=$(key_new X) && PUB_Y=$(key_new Y) ||
    t_fatal "keys"
# Others may go through $T_TMP (not list it) to the copy of wgcardctl;
# the keys and the config in it stay mode 0600.
chmod 711 "$T_TMP"

# ctl ARGS...: wgcardctl as root; stdout in $OUT, stderr in $ERR, the exit
# status returned (and in $RC).
ctl()
{
	"$WGCARDCTL" "$@" >"$T_TMP/out" 2>"$T_TMP/err" </dev/null
	RC=$?
	OUT=$(cat "$T_TMP/out")
	ERR=$(cat "$T_TMP/err")
	return $RC
}

# ctl_as SETPRIV_ARGS -- ARGS...: wgcardctl as another user.
ctl_as()
{
	local pv=()
	while [ "$1" != -- ]; do
		pv+=("$1")
		shift
	done
	shift
	setpriv "${pv[@]}" "$CTLCOPY" "$@" >"$T_TMP/out" 2>"$T_TMP/err" \
	    </dev/null
	RC=$?
	OUT=$(cat "$T_TMP/out")
	ERR=$(cat "$T_TMP/err")
	return $RC
}

conf_a()
{
	# conf_a [EXTRA_PEER_PUB [ENDPOINT]]
	cat <<EOC
[Interface]
PrivateKey = $(cat "$T_TMP/A.key")
ListenPort = $PORT_A
Address = $IN4_A/24

[Peer]
PublicKey = $PUB_B
AllowedIPs = $IN4_B/32
Endpoint = $OUT4_B:$PORT_B
EOC
	[ -n "${1:-}" ] || return 0
	printf '\n[Peer]\nPublicKey = %s\nAllowedIPs = 10.77.1.0/24\n' "$1"
	[ -n "${2:-}" ] && printf 'Endpoint = %s\n' "$2"
	return 0
}

write_conf_a()
{
	(umask 077; conf_a "$@" >"$T_TMP/$IF_A.conf.new") &&
	    mv "$T_TMP/$IF_A.conf.new" "$T_TMP/$IF_A.conf"
}

# ---------------------------------------------------------------- setup

pair_b_start "$PUB_A" endpoint || t_fatal "$IMPL_B on B"

write_conf_a
start_conf "$NS_A" "$IF_A" "$T_TMP/$IF_A.conf" &&
    wait_for 5 test -S "$CTL_DIR/$IF_A.sock" || t_fatal "start A (config mode)"
PID_A=${T_IF_PID[$IF_A]}
t_check "ping A -> B (a handshake)" ping_retry "$NS_A" "$IN4_B" 15

t_eq "control socket: root:wgcard 0660" \
    "$(stat -c '%U:%G %a' "$CTL_DIR/$IF_A.sock")" "root:wgcard 660"

# ---------------------------------------------------------------- commands

ctl -i "$IF_A" show
t_eq "show: exit 0 (key ready, recent handshake)" "$RC" 0
t_check "show: the interface" grep -qx "interface: $IF_A" "$T_TMP/out"
t_check "show: its public key" grep -qx "  public key: $PUB_A" "$T_TMP/out"
t_check "show: says why wg show has no public key line" \
    grep -qx "    (wg show has no public key line: the private key is kept out of the process it asks)" "$T_TMP/out"
t_check "show: the key is ready" grep -qx "  key: ready" "$T_TMP/out"
t_check "show: listening port" grep -qx "  listening port: $PORT_A" "$T_TMP/out"
t_check "show: the peer" grep -qx "peer: $PUB_B" "$T_TMP/out"
t_check "show: the peer's endpoint" \
    grep -qx "  endpoint: $OUT4_B:$PORT_B" "$T_TMP/out"
t_check "show: a recent handshake" \
    grep -qE "^  latest handshake: [0-9]+ seconds ago$" "$T_TMP/out"
# (the forwarder reports its counters in batches: ask again until they came)
transfer_seen()
{
	ctl -i "$IF_A" show &&
	    grep -qE "^  transfer: [1-9][0-9]* B received, [1-9][0-9]* B sent$" "$T_TMP/out"
}
t_check "show: transfer counts" wait_for 3 transfer_seen
ctl show "$IF_A"
t_eq "show IFNAME (argument form): exit 0" "$RC" 0
t_check "show IFNAME: the interface" grep -qx "interface: $IF_A" "$T_TMP/out"

# ---- show --json: valid against the schema, and the same as wg show.
SCHEMA=$T_ROOT/docs/wgcardctl-show.schema.json
PY=/usr/bin/python3	# Debian's, with python3-jsonschema and -prometheus-client
# jcheck NAME FILE PYEXPR: FILE validates against the schema and PYEXPR
# (over d, the document) is true.
jcheck()
{
	if $PY - "$SCHEMA" "$2" "$3" >"$T_TMP/jcheck.out" 2>&1 <<'EOP'
import json, sys, jsonschema
schema = json.load(open(sys.argv[1]))
d = json.load(open(sys.argv[2]))
jsonschema.Draft202012Validator(schema).validate(d)
ok = eval(sys.argv[3])
print("expression: %r" % (ok,))
sys.exit(0 if ok is True else 1)
EOP
	then
		t_ok "$1"
	else
		t_fail "$1" "$(tail -n 5 "$T_TMP/jcheck.out")"
	fi
}
ctl -i "$IF_A" show --json
t_eq "show --json: exit 0" "$RC" 0
cp "$T_TMP/out" "$T_TMP/show.json"
jcheck "show --json: valid, schema_version 1, one interface" "$T_TMP/show.json" \
    "d['schema_version'] == 1 and [i['interface'] for i in d['interfaces']] == ['$IF_A']"
jcheck "show --json: public key, port, key ready, file backend" "$T_TMP/show.json" \
    "(lambda i: i['public_key'] == '$PUB_A' and i['listen_port'] == $PORT_A and i['key_ready'] is True and i['key']['backend'] == 'file' and i['key']['state'] == 'ready')(d['interfaces'][0])"
jcheck "show --json: the forwarder backend the daemon logged" "$T_TMP/show.json" \
    "d['interfaces'][0]['forwarder']['backend'] in ('io_uring', 'classic')"
t_check "show --json: forwarder backend as logged" grep -q \
    "$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["interfaces"][0]["forwarder"]["backend"])' "$T_TMP/show.json") backend" \
    "$T_TMP/$IF_A.log"
jcheck "show --json: B with its endpoint, allowed IPs, handshake and bytes as wg show has them" "$T_TMP/show.json" \
    "(lambda p: p['public_key'] == '$PUB_B' and p['endpoint'] == '$(endpoint_of "$NS_A" "$IF_A" "$PUB_B")' and p['allowed_ips'] == ['$IN4_B/32'] and p['latest_handshake'] == $(handshake_time "$NS_A" "$IF_A" "$PUB_B") and p['rx_bytes'] > 0 and p['tx_bytes'] > 0)(d['interfaces'][0]['peers'][0])"
# The validation can fail: a document with a wrong type is refused.
sed 's/"listen_port":[0-9]*/"listen_port":"x"/' "$T_TMP/show.json" >"$T_TMP/bad.json"
if $PY - "$SCHEMA" "$T_TMP/bad.json" <<'EOP' >/dev/null 2>&1
import json, sys, jsonschema
jsonschema.Draft202012Validator(json.load(open(sys.argv[1]))).validate(json.load(open(sys.argv[2])))
EOP
then
	t_fail "the schema refuses a wrong document" "it validated"
else
	t_ok "the schema refuses a wrong document"
fi

# ---- show --prometheus: parsed by the Prometheus client's own parser.
ctl -i "$IF_A" show --prometheus
t_eq "show --prometheus: exit 0" "$RC" 0
cp "$T_TMP/out" "$T_TMP/show.prom"
# pcheck NAME PYEXPR: over m, {(name, frozenset(labels)): value}.
pcheck()
{
	if $PY - "$T_TMP/show.prom" "$2" >"$T_TMP/pcheck.out" 2>&1 <<'EOP'
import sys
from prometheus_client.parser import text_string_to_metric_families
m = {}
for fam in text_string_to_metric_families(open(sys.argv[1]).read()):
    for s in fam.samples:
        m[(s.name, frozenset(s.labels.items()))] = s.value
ok = eval(sys.argv[2])
print("expression: %r; %d samples" % (ok, len(m)))
sys.exit(0 if ok is True else 1)
EOP
	then
		t_ok "$1"
	else
		t_fail "$1" "$(tail -n 5 "$T_TMP/pcheck.out")"
	fi
}
pcheck "show --prometheus: parses; up and key ready" \
    "m[('wgcard_up', frozenset({('interface', '$IF_A')}))] == 1 and m[('wgcard_key_ready', frozenset({('interface', '$IF_A')}))] == 1"
pcheck "show --prometheus: B's bytes and handshake as in wg show" \
    "(lambda l: m[('wgcard_peer_receive_bytes_total', l)] > 0 and m[('wgcard_peer_latest_handshake_seconds', l)] == $(handshake_time "$NS_A" "$IF_A" "$PUB_B"))(frozenset({('interface', '$IF_A'), ('peer', '$PUB_B')}))"
pcheck "show --prometheus: info series with the public key" \
    "any(n == 'wgcard_info' and ('public_key', '$PUB_A') in l for (n, l) in m)"
pcheck "show --prometheus: every metric there, with its interface (and peer) labels" \
    "(lambda i, p: all((n, i) in m for n in ('wgcard_up', 'wgcard_key_ready', 'wgcard_under_load', 'wgcard_broker_pending', 'wgcard_broker_queued', 'wgcard_cookie_replies_total', 'wgcard_handshakes_dropped_total', 'wgcard_key_operations_total', 'wgcard_peers')) and all((n, p) in m for n in ('wgcard_peer_receive_bytes_total', 'wgcard_peer_transmit_bytes_total', 'wgcard_peer_latest_handshake_seconds', 'wgcard_peer_drops_total')) and m[('wgcard_under_load', i)] == 0 and m[('wgcard_peer_transmit_bytes_total', p)] > 0 and m[('wgcard_peers', i)] == 1)(frozenset({('interface', '$IF_A')}), frozenset({('interface', '$IF_A'), ('peer', '$PUB_B')}))"
pcheck "show --prometheus: B's endpoint and allowed IPs in wgcard_peer_info, as in wg show" \
    "m[('wgcard_peer_info', frozenset({('interface', '$IF_A'), ('peer', '$PUB_B'), ('endpoint', '$(endpoint_of "$NS_A" "$IF_A" "$PUB_B")'), ('allowed_ips', '$IN4_B/32')}))] == 1"
t_eq "show --prometheus: HELP and TYPE once per metric" \
    "$(grep '^# TYPE' "$T_TMP/show.prom" | sort | uniq -d | wc -l)" 0
ctl -i "$IF_A" show --json --prometheus
t_eq "show --json --prometheus: refused, exit 1" "$RC" 1
ctl -i "$IF_A" version --json
t_eq "--json with another command: refused, exit 1" "$RC" 1

ctl -i "$IF_A" card status
t_eq "card status: exit 0" "$RC" 0
t_check "card status: backend file" grep -qx "  backend: file" "$T_TMP/out"
t_check "card status: state ready" grep -qx "  state: ready" "$T_TMP/out"
t_check "card status: the public key" \
    grep -qx "  public key: $PUB_A" "$T_TMP/out"
t_check "card status: operations counted" \
    grep -qE "^  operations: [1-9][0-9]*$" "$T_TMP/out"

# -h, --help, --version: asked for, so on stdout with exit 0.
for o in -h --help; do
	ctl $o
	t_eq "$o: exit 0" "$RC" 0
	t_check "$o: usage and commands on stdout" \
	    sh -c "grep -q '^usage: wgcardctl' '$T_TMP/out' && grep -q 'card unlock' '$T_TMP/out'"
done
ctl --version
t_eq "--version: exit 0" "$RC" 0
t_check "--version: the version" grep -qx 'wgcardctl [0-9][0-9.]*' "$T_TMP/out"
ctl --nosuch
t_eq "a bad option: exit 1, usage on stderr" "$RC:$(grep -c '^usage:' "$T_TMP/err")" 1:1
"$T_ROOT/build/wgcard-vcard" --help >"$T_TMP/out" 2>&1
t_eq "wgcard-vcard --help: exit 0" "$?" 0
t_check "wgcard-vcard --help: usage" grep -q '^usage: wgcard-vcard' "$T_TMP/out"

ctl -i "$IF_A" card pubkey
t_eq "card pubkey: exit 0" "$RC" 0
t_eq "card pubkey: the key" "$OUT" "$PUB_A"
t_check "card pubkey: says it is a software key, not a card's" \
    grep -q "$IF_A: the key of wgcardd's software key (backend file), not a card's" "$T_TMP/err"

echo 123456 | "$WGCARDCTL" -i "$IF_A" card unlock >"$T_TMP/out" 2>"$T_TMP/err"
RC=$?
t_eq "card unlock (software key): exit 1" "$RC" 1
t_check "card unlock: refused, the key takes no PIN" \
    grep -q "takes no PIN" "$T_TMP/err"
"$WGCARDCTL" -i "$IF_A" card unlock </dev/null >/dev/null 2>"$T_TMP/err"
t_eq "card unlock with no PIN given: exit 1" "$?" 1

ctl -i "$IF_A" version
want_v=$(sed -n 's/^#define WGCARD_VERSION[[:space:]]*"\(.*\)"/\1/p' \
    "$T_ROOT/common/wgcard.h")
t_eq "version: exit 0" "$RC" 0
t_eq "version: the source's version" "$OUT" "$IF_A: wgcardd $want_v"

ctl -i "$IF_A" log verbose
t_eq "log verbose: exit 0" "$RC" 0
t_eq "log verbose: answer" "$OUT" "log: verbose"
t_check "log verbose: the daemon says so" \
    wait_for 3 grep -q "log level now verbose" "$T_TMP/$IF_A.log"
# All its processes: the forwarder was not told before session 8.
for proc in keyd forwarder; do
	t_check "log verbose: the $proc follows" wait_for 3 \
	    grep -q " $proc: log level now verbose" "$T_TMP/$IF_A.log"
done
ctl -i "$IF_A" log brief
t_eq "log brief: exit 0" "$RC" 0
t_eq "log brief: answer" "$OUT" "log: brief"
ctl -i "$IF_A" log loud
t_eq "log loud (not a level): exit 1" "$RC" 1

ctl -i "$IF_A" reload
t_eq "reload (unchanged file): exit 0" "$RC" 0
t_check "reload: the same daemon runs" pid_alive "$PID_A"

ctl -i "$IF_A" frobnicate
t_eq "an unknown command: exit 1" "$RC" 1
ctl -i "$IF_A"
t_eq "no command: exit 1" "$RC" 1
ctl -i "$IF_A" card
t_eq "an incomplete command: exit 1" "$RC" 1
ctl -i "$IF_A" show "$IF_A" extra
t_eq "an extra argument: exit 1" "$RC" 1

# ---------------------------------------------------------------- exit codes

# 4: a peer with an endpoint that never had a handshake
write_conf_a "$PUB_X" 192.0.2.77:4000
ctl -i "$IF_A" reload
t_eq "reload (peer X with an endpoint added): exit 0" "$RC" 0
ctl -i "$IF_A" show
t_eq "show: exit 4 (peer X: endpoint, latest_handshake 0)" "$RC" 4
t_check "show: X's handshake is 'never'" \
    sh -c "grep -A4 -x 'peer: $PUB_X' '$T_TMP/out' | grep -qx '  latest handshake: never'"
ctl -i "$IF_A" show --json
t_eq "show --json: exit 4 too" "$RC" 4
cp "$T_TMP/out" "$T_TMP/show4.json"
jcheck "show --json: X has latest_handshake 0 and its endpoint" "$T_TMP/show4.json" \
    "any(p['public_key'] == '$PUB_X' and p['latest_handshake'] == 0 and p['endpoint'] == '192.0.2.77:4000' for p in d['interfaces'][0]['peers'])"
ctl -i "$IF_A" show --prometheus
t_eq "show --prometheus: exit 4 too" "$RC" 4

# 0 again: a peer without an endpoint is not watched
write_conf_a "$PUB_Y"
ctl -i "$IF_A" reload
t_eq "reload (X out, Y without endpoint in): exit 0" "$RC" 0
ctl -i "$IF_A" show
t_eq "show: exit 0 (Y has no endpoint, B a recent handshake)" "$RC" 0

# reload of a broken file: exit 1, names line and key, nothing changed
cp "$T_TMP/$IF_A.conf" "$T_TMP/good.conf"
(umask 077; printf '\n[Peer]\nAllowedIPs = 10.9.9.0/24\nPublicKey = bad\n' \
    >>"$T_TMP/$IF_A.conf")
ctl -i "$IF_A" reload
t_eq "reload of a broken file: exit 1" "$RC" 1
t_check "reload of a broken file: names the key" grep -q "PublicKey" "$T_TMP/err"
cp "$T_TMP/good.conf" "$T_TMP/$IF_A.conf"
ctl -i "$IF_A" show
t_eq "after the refused reload: show exit 0" "$RC" 0

# 3: an xplatform daemon with no private key
start_impl "$NS_A" wgcardd "$IF_K" || t_fatal "start keyless wgcardd"
wait_for 5 test -S "$CTL_DIR/$IF_K.sock"
ctl -i "$IF_K" show
t_eq "show (no private key): exit 3" "$RC" 3
t_check "show (no private key): says so" \
    grep -q "  key: not available" "$T_TMP/out"
ctl -i "$IF_K" show --json
t_eq "show --json (no private key): exit 3" "$RC" 3
cp "$T_TMP/out" "$T_TMP/show3.json"
jcheck "show --json (no private key): public_key null, key_ready false, state nokey" "$T_TMP/show3.json" \
    "(lambda i: i['public_key'] is None and i['key_ready'] is False and i['key']['state'] == 'nokey')(d['interfaces'][0])"
ctl show --json
cp "$T_TMP/out" "$T_TMP/showall.json"
# (other tests' daemons may run too: both of ours must be there)
jcheck "show --json without -i: both daemons in one document" "$T_TMP/showall.json" \
    "{'$IF_A', '$IF_K'} <= set(i['interface'] for i in d['interfaces'])"
ctl -i "$IF_K" card status
t_eq "card status (no private key): exit 3" "$RC" 3
t_check "card status (no private key): state nokey" \
    grep -qx "  state: nokey" "$T_TMP/out"
ctl -i "$IF_K" card pubkey
t_eq "card pubkey (no private key): exit 3" "$RC" 3
ctl -i "$IF_K" reload
t_eq "reload (xplatform, no file): exit 1" "$RC" 1
t_check "reload (xplatform): says there is no file" \
    grep -q "no configuration file" "$T_TMP/err"
wgx "$NS_A" set "$IF_K" private-key "$T_TMP/Y.key"
ctl -i "$IF_K" show
t_eq "show once wg set gave it a key: exit 0" "$RC" 0

# 2: no daemon
ctl -i "$IF_NONE" show
t_eq "show, no such daemon (-i): exit 2" "$RC" 2
ctl -s "$T_TMP/nosuch.sock" version
t_eq "version, no such socket (-s): exit 2" "$RC" 2
ctl -s "$CTL_DIR/$IF_A.sock" version
t_eq "version through -s SOCKET: exit 0" "$RC" 0
# several daemons (ours at least): changes need -i
ctl reload
t_eq "reload without -i while several daemons run: exit 1" "$RC" 1
t_check "reload without -i: asks for one" grep -q "choose one" "$T_TMP/err"

# ---------------------------------------------------------------- hostile

# A fake daemon whose answers are what a compromised handshake process could
# send: quotes, backslashes, control bytes, bytes that are not UTF-8, a line
# that looks like a Prometheus comment, fields out of order or twice, a peer
# twice, numbers that are not numbers.  Another that accepts and never
# answers.  The documents keep their shape; nothing hangs.
cat >"$T_TMP/fake.py" <<'EOP'
import os, socket, sys, threading
evil, hang = sys.argv[1], sys.argv[2]
K1 = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
SHOW = (b"interface=evil\npublic_key=x\"}],\"evil\":1,\"y\\\n"
    b"listen_port=0051820\nfwmark=-1\nkey_ready=1\n"
    b"forwarder=io_uring\x1b[2J\n# TYPE wgcard_up counter\noffloads=\xff\xfe\n"
    b"crypto_workers=1e3\nunder_load=1\ncookie_replies=18446744073709551616\n"
    b"peer=" + K1.encode() + b"\nlatest_handshake=1\nallowed_ip=10.0.0.1/32\n"
    b"endpoint=1.2.3.4:5\"\\\x01\x7f\xc3\x28\nrx_bytes=7\nrx_bytes=8\n"
    b"peer=" + K1.encode() + b"\nrx_bytes=9\n"
    b"peer=B\xe9\\\"\ntx_bytes=3\npreshared_key=yes\nend=0\n")
STATUS = (b"backend=openpgp\x07\nstate=ready\nreader=R\"\\\x00x\nserial=0000C001\n"
    b"pin_retries=003\noperations=5\nend=0\n")
def serve(c):
    f = c.makefile("rb")
    for line in f:
        if line.startswith(b"show"):
            c.sendall(SHOW)
        elif line.startswith(b"card status"):
            c.sendall(STATUS)
        else:
            c.sendall(b"error=unknown\nend=22\n")
    c.close()
def accept(path, answer):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.listen(8)
    held = []
    while True:
        c, _ = s.accept()
        if answer:
            threading.Thread(target=serve, args=(c,), daemon=True).start()
        else:
            held.append(c)
threading.Thread(target=accept, args=(hang, False), daemon=True).start()
accept(evil, True)
EOP
EVIL=$T_TMP/evil.sock
HANG=$T_TMP/hang.sock
"${T_PDEATH[@]}" /usr/bin/python3 "$T_TMP/fake.py" "$EVIL" "$HANG" &
T_PIDS+=("$!")
FAKE_PID=$!
wait_for 5 test -S "$HANG" || t_fatal "fake daemon"

ctl -s "$EVIL" show --json
t_eq "hostile daemon: show --json exit 4 (its peer's handshake is old, whatever the line order)" "$RC" 4
cp "$T_TMP/out" "$T_TMP/evil.json"
# The schema without its patterns, enums and lengths: the shape only.
if $PY - "$SCHEMA" "$T_TMP/evil.json" >"$T_TMP/evil.out" 2>&1 <<'EOP'
import json, sys, jsonschema
def shape(x):
    if isinstance(x, dict):
        return {k: shape(v) for k, v in x.items()
                if k not in ("pattern", "enum", "maxLength", "maximum")}
    if isinstance(x, list):
        return [shape(v) for v in x]
    return x
raw = open(sys.argv[2], "rb").read()
d = json.loads(raw.decode("utf-8"))	# strict: no raw control bytes
jsonschema.Draft202012Validator(shape(json.load(open(sys.argv[1])))).validate(d)
i = d["interfaces"][0]
p = i["peers"]
ok = (len(d["interfaces"]) == 1 and i["interface"] == "evil" and
      i["public_key"] == 'x"}],"evil":1,"y\\' and i["listen_port"] == 0 and
      i["fwmark"] == 0 and i["handshake"]["cookie_replies"] == 0 and
      i["forwarder"]["crypto_workers"] == 0 and
      i["forwarder"]["offloads"] == "\ufffd\ufffd" and
      i["key"]["reader"] == 'R"\\' and i["key"]["pin_retries"] is None and
      i["key"]["backend"] == "openpgp\x07" and i["key_ready"] is True and
      len(p) == 2 and p[0]["rx_bytes"] == 7 and
      p[0]["endpoint"] == '1.2.3.4:5"\\\x01\x7f\ufffd(' and
      p[1]["public_key"] == 'B\ufffd\\"' and p[1]["preshared_key"] is True)
print(json.dumps(d)[:300])
sys.exit(0 if ok else 1)
EOP
then
	t_ok "hostile daemon: --json parses, has the schema's shape, strings intact or U+FFFD, non-numbers 0 or null, a peer given twice once"
else
	t_fail "hostile daemon: --json" "$(tail -n 5 "$T_TMP/evil.out")"
fi
ctl -s "$EVIL" show --prometheus
cp "$T_TMP/out" "$T_TMP/evil.prom"
if $PY - "$T_TMP/evil.prom" >"$T_TMP/evil.out" 2>&1 <<'EOP'
import sys
from prometheus_client.parser import text_string_to_metric_families
seen = set()
for fam in text_string_to_metric_families(open(sys.argv[1], "rb").read().decode("utf-8")):
    for s in fam.samples:
        key = (s.name, frozenset(s.labels.items()))
        assert key not in seen, "twice: %r" % (key,)
        seen.add(key)
types = [l.split()[2:] for l in open(sys.argv[1]) if l.startswith("# TYPE")]
assert ["wgcard_up", "gauge"] in types and ["wgcard_up", "counter"] not in types, types
assert ("wgcard_up", frozenset({("interface", "evil")})) in seen
print(len(seen), "samples")
EOP
then
	t_ok "hostile daemon: --prometheus parses, no series twice, no line injected"
else
	t_fail "hostile daemon: --prometheus" "$(tail -n 5 "$T_TMP/evil.out")"
fi
ctl -s "$EVIL" show
t_eq "hostile daemon: show exit 4 too" "$RC" 4
no_cntrl()
{
	! tr -d '\n' <"$1" | LC_ALL=C grep -q '[[:cntrl:]]'
}
t_check "hostile daemon: the human output has no escape or control byte" \
    no_cntrl "$T_TMP/out"
t_check "hostile daemon: the escape shown as \\x1b" grep -qF 'io_uring\x1b[2J' "$T_TMP/out"

t0=$(date +%s)
# (timeout: a wgcardctl that waits forever must not hold up the script)
timeout 30 "$WGCARDCTL" -s "$HANG" show --json >"$T_TMP/out" 2>"$T_TMP/err" \
    </dev/null
RC=$?
t1=$(date +%s)
t_eq "a daemon that never answers: show --json exit 2" "$RC" 2
t_check "a daemon that never answers: given up within 15 s ($((t1 - t0)) s)" \
    test $((t1 - t0)) -le 15
jcheck "a daemon that never answers: listed with its error" "$T_TMP/out" \
    "d['interfaces'] == [{'interface': 'hang', 'error': 'Connection timed out'}]"
stop_pid "$FAKE_PID"

# ---------------------------------------------------------------- access

CTLCOPY=$T_TMP/bin/wgcardctl
mkdir -p "$T_TMP/bin" && chmod 755 "$T_TMP/bin" &&
    install -m 0755 "$WGCARDCTL" "$CTLCOPY" || t_fatal "copy wgcardctl"
NOBODY=(--reuid=nobody --regid=nogroup --clear-groups)
MEMBER=(--reuid=nobody --regid=nogroup --groups=wgcard)
PRIMARY=(--reuid=nobody --regid=wgcard --clear-groups)

ctl_as "${NOBODY[@]}" -- -i "$IF_A" show
t_eq "not in group wgcard: show refused, exit 2" "$RC" 2
t_check "not in group wgcard: permission denied" \
    grep -qi "permission denied" "$T_TMP/err"
t_check "not in group wgcard: the message names the group that grants access" \
    grep -q "members of group wgcard (usermod -aG wgcard" "$T_TMP/err"
ctl_as "${NOBODY[@]}" -- -i "$IF_A" version
t_eq "not in group wgcard: version refused, exit 2" "$RC" 2

ctl_as "${MEMBER[@]}" -- -i "$IF_A" show
t_eq "member (supplementary group): show, exit 0" "$RC" 0
t_check "member: show has the peer" grep -qx "peer: $PUB_B" "$T_TMP/out"
ctl_as "${PRIMARY[@]}" -- -i "$IF_A" show
t_eq "member (primary group): show, exit 0" "$RC" 0
ctl_as "${MEMBER[@]}" -- -i "$IF_A" card status
t_eq "member: card status, exit 0" "$RC" 0
ctl_as "${MEMBER[@]}" -- -i "$IF_A" card pubkey
t_eq "member: card pubkey" "$RC:$OUT" "0:$PUB_A"
ctl_as "${MEMBER[@]}" -- -i "$IF_A" version
t_eq "member: version, exit 0" "$RC" 0
for cmd in reload "log verbose"; do
	ctl_as "${MEMBER[@]}" -- -i "$IF_A" $cmd
	t_eq "member: $cmd refused, exit 1" "$RC" 1
	t_check "member: $cmd: permission denied" \
	    grep -q "permission denied" "$T_TMP/err"
done
echo 123456 | setpriv "${MEMBER[@]}" "$CTLCOPY" -i "$IF_A" card unlock \
    >"$T_TMP/out" 2>"$T_TMP/err"
t_eq "member: card unlock refused, exit 1" "$?" 1
t_check "member: card unlock: permission denied" \
    grep -q "permission denied" "$T_TMP/err"
t_check "the refusals are logged with the uid" \
    grep -q "op=control uid=65534 command=\"reload\" result=refused reason=root-only" "$T_TMP/$IF_A.log"

# ---------------------------------------------------------------- garbage

pids_a="$PID_A $(descendants "$PID_A" | tr '\n' ' ')"
t_eq "A has a parent and 3 children" "$(echo $pids_a | wc -w)" 4

out=$(python3 - "$CTL_DIR/$IF_A.sock" <<'EOF' 2>&1
import os, socket, sys, time

path = sys.argv[1]
fails = []

def conn():
	s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
	s.connect(path)		# blocking: waits for room in the backlog
	s.settimeout(5)
	return s

def answer(s):
	"""Everything until end=N\\n or until the daemon closes."""
	data = b""
	while b"end=" not in data or not data.endswith(b"\n"):
		try:
			chunk = s.recv(65536)
		except socket.timeout:
			return data + b"<timeout>"
		except ConnectionResetError:
			return data + b"<reset>"
		if not chunk:
			return data + b"<closed>"
		data += chunk
	return data

def check(name, ok, detail=""):
	print(("PASS " if ok else "FAIL ") + name + ("" if ok else ": " + detail))

def closed_after(s):
	try:
		return s.recv(100) == b""
	except (socket.timeout, ConnectionResetError):
		return False

# random bytes without a newline, then close
s = conn(); s.sendall(os.urandom(600)); s.close()
# random bytes with newlines
s = conn()
s.sendall(bytes(b for b in os.urandom(300) if b != 10) + b"\n")
a = answer(s)
check("garbage line: an error answer", b"error=" in a and b"end=22" in a, repr(a[:200]))
check("garbage line: then the connection is closed", closed_after(s))
s.close()
# a NUL and control bytes inside a word (the NUL ends the string)
s = conn(); s.sendall(b"sh\x00ow\x01\n"); a = answer(s)
check("NUL in a request: an error answer", b"error=" in a and b"end=22" in a, repr(a[:200]))
s.close()
s = conn(); s.sendall(b"show\x01\n"); a = answer(s)
check("a control byte in a request: malformed", b"malformed" in a, repr(a[:200]))
s.close()
# an unknown command, then a good one on the same connection
s = conn(); s.sendall(b"frobnicate now\n"); a = answer(s)
check("unknown command: error, EINVAL", b"error=unknown command" in a and b"end=22" in a, repr(a))
s.sendall(b"version\n"); a = answer(s)
check("same connection: version still answered", b"version=" in a and b"end=0" in a, repr(a))
s.close()
# an over-long line (more than 1024 bytes, less than the buffer)
s = conn(); s.sendall(b"show " + b"x" * 1500 + b"\n"); a = answer(s)
check("over-long line: 'request too long'", b"too long" in a and b"end=22" in a, repr(a[:200]))
s.close()
# more than a line without a newline: answered, then dropped
s = conn()
try:
	s.sendall(b"y" * 100000)
except (BrokenPipeError, ConnectionResetError):
	pass
a = answer(s)
check("100 kB without a newline: 'request too long'", b"too long" in a and b"end=22" in a, repr(a[:200]))
b = answer(s)
check("100 kB without a newline: then dropped", b.endswith(b"<closed>") or b.endswith(b"<reset>"), repr(b[:200]))
s.close()
# a half line, then close
s = conn(); s.sendall(b"sho"); s.close()
# card unlock without its PIN line, then close
s = conn(); s.sendall(b"card unlock\n"); time.sleep(0.2); s.close()
# a request split over several writes
s = conn()
for ch in b"version\n":
	s.sendall(bytes([ch])); time.sleep(0.01)
a = answer(s)
check("request one byte at a time: answered", b"end=0" in a, repr(a))
s.close()
# many requests in one write
s = conn(); s.sendall(b"version\n" * 50)
data = b""
while data.count(b"end=0") < 50:
	c = s.recv(65536)
	if not c:
		break
	data += c
check("50 pipelined requests: 50 answers", data.count(b"end=0") == 50, str(data.count(b"end=0")))
s.close()
# many connections at once, each with half a request: more than the
# daemon takes (it keeps 64 and closes the others at once)
socks = []
for i in range(200):
	s = conn()
	try:
		s.sendall(b"ver")
	except OSError:
		pass
	socks.append(s)
time.sleep(0.5)
dropped = kept = 0
for s in socks:
	s.settimeout(0.01)
	try:
		if s.recv(10) == b"":
			dropped += 1
	except ConnectionResetError:
		dropped += 1
	except socket.timeout:
		kept += 1
print("# 200 connections: %d kept, %d dropped at once" % (kept, dropped))
# 64 served, at most the listen backlog (16) waiting to be accepted
check("200 connections: the daemon keeps at most 64 (+16 queued)", kept <= 80, "%d kept" % kept)
# while they are held, a new client is dropped, not left hanging
s = conn(); s.settimeout(5)
try:
	s.sendall(b"version\n")
except OSError:
	pass
a = answer(s)
print("# a client while 200 are held: %r" % a[:60])
check("a client while the table is full: answered or dropped, no hang", not a.endswith(b"<timeout>"), repr(a))
s.close()
for s in socks:
	s.close()
# connect, close at once, many times
for i in range(300):
	s = conn(); s.close()
time.sleep(0.3)
s = conn(); s.sendall(b"show\n"); a = answer(s)
check("after all that: show answered", b"end=0" in a and b"peer=" in a, repr(a[:200]))
s.close()
EOF
)
printf '%s\n' "$out" | grep '^#'
while read -r verdict rest; do
	case $verdict in
	PASS)	t_ok "$rest" ;;
	FAIL)	t_fail "${rest%%: *}" "${rest#*: }" ;;
	esac
done <<<"$(printf '%s\n' "$out" | grep -E '^(PASS|FAIL) ')"
printf '%s\n' "$out" | grep -q '^Traceback' &&
    t_fail "garbage client" "$(printf '%s\n' "$out" | tail -n 3 | tr '\n' ' ')"

alive=0
for p in $pids_a; do
	pid_alive "$p" && alive=$((alive + 1))
done
t_eq "after the garbage: all 4 processes of A alive" "$alive" 4
ctl -i "$IF_A" show
t_eq "after the garbage: wgcardctl show, exit 0" "$RC" 0
ctl -i "$IF_A" card status
t_eq "after the garbage: card status, exit 0" "$RC" 0
t_check "after the garbage: the tunnel still works" ping_ok "$NS_A" "$IN4_B"

# A peer with the interface's own key: ignored as the kernel does, and
# said at the default level (it was silent).
wgx "$NS_A" set "$IF_A" peer "$PUB_A" allowed-ips 10.250.0.1/32
t_check "own key as a peer: not added" \
    bash -c "! ip netns exec '$NS_A' wg show '$IF_A' peers | grep -qx '$PUB_A'"
t_check "own key as a peer: a warning says so" wait_for 3 \
    grep -q "a peer with the interface's own public key is ignored" "${T_IF_LOG[$IF_A]}"

# stop: the detached way to end a daemon (root only).
ctl_as "${MEMBER[@]}" -- -i "$IF_A" stop
t_eq "stop as a member of wgcard: refused, exit 1" "$RC" 1
t_check "stop as a member: says only root may" grep -q "only root may stop it" "$T_TMP/err"
t_check "stop as a member: the daemon still runs" pid_alive "${T_IF_PID[$IF_A]}"
ctl -i "$IF_A" stop
t_eq "stop: exit 0" "$RC" 0
t_check "stop: says which process stopped" \
    grep -qx "$IF_A: wgcardd (pid ${T_IF_PID[$IF_A]}) stopped" "$T_TMP/out"
t_check "stop: all 4 processes gone" wait_gone 2 $pids_a
t_check "stop: control socket gone" test ! -e "/var/run/wgcard/$IF_A.sock"
ctl -i "$IF_A" stop
t_eq "stop with no daemon: exit 2" "$RC" 2

t_done
