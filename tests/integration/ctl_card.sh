#!/bin/bash
# ctl_card: wgcardctl's card commands on the virtual card. Without a
# daemon: `card pubkey` fails on an empty card, `card init` refuses a wrong
# admin PIN (one retry spent, reported) and with the right one makes a
# cv25519 key on the card and prints it, `card pubkey` then reads the same
# key. With a daemon (KeySource = openpgp, no PIN source: locked):
# `card status` says locked with the reader, serial and retries; `card
# unlock` with a wrong PIN is refused (retries drop by one), with the right
# PIN unlocks (a second PIN within 5 s of the last one taken is refused
# unsent); `card status` then says ready, and a wrong PIN given while
# ready is not sent; `card pubkey` via the daemon.
# show --json (validated against the schema) and --prometheus (parsed by
# prometheus_client) while locked (exit 3) and once ready. `card init`
# on the nitrokey3 and gnuk profiles (KDF on): hashed admin PIN, nothing
# spent, PW3 reset. A terminated card (6285): said, not polled. 6985 to
# VERIFY: one VERIFY, locked, not lost, not resent. A daemon that closes
# the connection at once: said, exit 2, no SIGPIPE.
T_ID=cc
. "$(dirname "$0")/../lib/common.sh"
t_excl ctlsock || t_fatal "the ctlsock lock (tests/lib/common.sh t_excl)"
. "$(dirname "$0")/../lib/card.sh"

WGCARDCTL=${WGCARDCTL:-$T_ROOT/build/wgcardctl}
PIN=cc-pin-4711
ADMIN=12345678

# ctl ARGS: wgcardctl with this script's pcscd, and in a mount namespace
# whose /var/run/wgcard holds only this script's daemons' control
# sockets: card init asks every daemon there whether it uses the card
# and refuses when one cannot say; the other scripts' daemons (starting,
# stopping, frozen, flooded, under a load of 20) are not this test's.
ctl()
{
	local socks=() ifc
	for ifc in "${!T_IF_PID[@]}"; do
		[ -S "/var/run/wgcard/$ifc.sock" ] && socks+=("$ifc.sock")
	done
	mkdir -p "$T_TMP/ctlview"
	env PCSCLITE_CSOCK_NAME="$PCSCLITE_CSOCK_NAME" \
	    unshare --mount --propagation private sh -c '
		v=$1 d=/var/run/wgcard; shift
		n=$1; shift
		mkdir -p "$d" && mount --bind "$d" "$v" &&
		    mount -t tmpfs -o mode=0755 wgcard-ctlview "$d" || exit 70
		while [ "$n" -gt 0 ]; do
			: >"$d/$1" && mount --bind "$v/$1" "$d/$1" || exit 70
			shift; n=$((n - 1))
		done
		exec "$@"' sh "$T_TMP/ctlview" "${#socks[@]}" "${socks[@]}" \
	    "$WGCARDCTL" "$@"
}

card_start_pcscd cc || t_fatal "pcscd"
card_init_state "$T_TMP/c.state" --serial 0000C001 --pin "$PIN" \
    --admin-pin "$ADMIN" >/dev/null || t_fatal "card state"
card_start_vcard "$T_TMP/c.state" || t_fatal "vcard"
card_wait_present || t_fatal "card not seen"

# ---- a daemon that closes the connection at once (one starting or
# stopping may; card init asks every daemon): wgcardctl says so and
# exits 2, never killed by SIGPIPE without a word (seen as a silent card
# init under load, when another test's daemon stopped).
python3 -c '
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1])
s.listen(64)
while True:
    s.accept()[0].close()' "$T_TMP/closer.sock" &
T_PIDS+=("$!")
wait_for 5 test -S "$T_TMP/closer.sock" || t_fail "closing server" "no socket"
n141=0
nsaid=0
for i in $(seq 1 40); do
	ctl -s "$T_TMP/closer.sock" card status >/dev/null 2>"$T_TMP/closer.err"
	rc=$?
	[ "$rc" -eq 141 ] && n141=$((n141 + 1))
	[ "$rc" -eq 2 ] && grep -q 'closer.sock: ' "$T_TMP/closer.err" &&
	    nsaid=$((nsaid + 1))
done
t_eq "a daemon closing at once: never killed by SIGPIPE (40 tries)" "$n141" 0
t_eq "a daemon closing at once: exit 2 and said, each time" "$nsaid" 40

# ---- no daemon
out=$(ctl -r "Virtual PCD" card pubkey 2>&1)
t_check "card pubkey on an empty card fails" test $? -ne 0
# -i names a daemon: none for it is an error, not a card read.
out=$(ctl -i nosuch$$ card pubkey 2>&1)
t_eq "card pubkey -i with no such daemon: exit 2" "$?" 2
t_check "card pubkey -i with no such daemon: says so" \
    sh -c "echo '$out' | grep -q 'nosuch$$: no wgcardd runs for this interface'"
out=$(echo 00000000 | ctl card init 2>&1)
rc=$?
t_check "card init: a wrong admin PIN is refused" test "$rc" -ne 0
t_check "card init: the error says how many retries are left" \
    sh -c "echo '$out' | grep -q 'wrong admin PIN, 2 retries left'"
pub=$(echo "$ADMIN" | ctl card init 2>"$T_TMP/init.err")
t_check "card init with the admin PIN" test -n "$pub"
t_eq "card init: the printed key is the card's" "$pub" \
    "$(card_ctl pubkey)"
t_check "card init: says which card (reader, manufacturer, serial, version)" \
    grep -q 'card init: reader "Virtual PCD.*": test card (manufacturer FF00), serial 0000C001, OpenPGP application 3\.4; KDF not supported' "$T_TMP/init.err"
# A second card init finds the key: refused before any PIN, unless --force.
v83() { grep -c 'INS 20 P1 00 P2 83' "$VCARD_LOG"; }
n83=$(v83)
out=$(echo "$ADMIN" | ctl card init 2>&1)
t_eq "card init over a key: refused, exit 1" "$?" 1
t_check "card init over a key: names it and says --force" \
    sh -c "echo '$out' | grep -q 'the decryption slot holds a cv25519 key, OpenPGP fingerprint [0-9A-F]\{40\}, WireGuard public key $pub' && echo '$out' | grep -q 'Nothing done; to replace it: wgcardctl card init --force'"
t_eq "card init over a key: no PIN sent" "$(v83)" "$n83"
t_eq "card init over a key: the key stays" "$(card_ctl pubkey)" "$pub"
out=$(echo "$ADMIN" | ctl card init --force 2>&1 >"$T_TMP/init2.out")
t_eq "card init --force: exit 0" "$?" 0
t_check "card init --force: says the key is replaced" \
    sh -c "echo '$out' | grep -q 'public key $pub: replaced (--force)'"
pub2=$(cat "$T_TMP/init2.out")
t_check "card init --force: a new key" test -n "$pub2" -a "$pub2" != "$pub"
t_eq "card init --force: the printed key is the card's" "$pub2" \
    "$(card_ctl pubkey)"
pub=$pub2
out=$(ctl card status --force 2>&1)
t_eq "--force with another command: usage, exit 1" "$?" 1
t_eq "card pubkey -r without a daemon" \
    "$(ctl -r "Virtual PCD" card pubkey 2>"$T_TMP/pk.err")" "$pub"
t_check "card pubkey -r: says it read the card" \
    grep -q 'read from the card in reader "Virtual PCD' "$T_TMP/pk.err"
t_eq "card pubkey -r: a reader that is not there" \
    "$(ctl -r "no such reader" card pubkey >/dev/null 2>&1; echo $?)" 3

# ---- with a daemon, locked (no PIN source)
NS_A=$(ns_name a)
IF_A="wg${T_ID}$$a"
ns_new "$NS_A" || t_fatal "namespace"
conf=$T_TMP/$IF_A.conf
(umask 077; printf '[Interface]\nKeySource = openpgp\nCardSerial = 0000C001\nListenPort = 51820\n' >"$conf")
start_conf "$NS_A" "$IF_A" "$conf" &&
    wait_for 10 test -S "/var/run/wgcard/$IF_A.sock" || t_fatal "daemon"
wait_for 10 sh -c "'$WGCARDCTL' -i '$IF_A' card status | grep -q 'state: locked'"
st=$(ctl -i "$IF_A" card status)
rc=$?
t_check "card status: locked" sh -c "echo '$st' | grep -q 'state: locked'"
t_eq "card status: exit 3 while locked" "$rc" 3
t_check "card status: reader named" sh -c "echo '$st' | grep -q 'reader: Virtual PCD'"
t_check "card status: serial" sh -c "echo '$st' | grep -qi 'serial: .*c001'"
t_check "card status: public key" sh -c "echo '$st' | grep -q 'public key: $pub'"
t_check "card status: 3 PIN retries" sh -c "echo '$st' | grep -q 'PIN retries left: 3'"
# show --json and --prometheus while locked: exit 3, the same state.
SCHEMA=$T_ROOT/docs/wgcardctl-show.schema.json
ctl -i "$IF_A" show >"$T_TMP/locked.txt"
t_eq "show while locked: exit 3" "$?" 3
t_check "show while locked: key not available, the card locked" \
    sh -c "grep -qx '  key: not available (no key, or card locked/absent)' '$T_TMP/locked.txt' && grep -q '^  key backend: openpgp, locked, card 0000C001, PIN retries 3$' '$T_TMP/locked.txt'"
ctl -i "$IF_A" show --json >"$T_TMP/locked.json"
t_eq "show --json while locked: exit 3" "$?" 3
if /usr/bin/python3 - "$SCHEMA" "$T_TMP/locked.json" "$pub" >"$T_TMP/j.out" 2>&1 <<'EOP'
import json, sys, jsonschema
d = json.load(open(sys.argv[2]))
jsonschema.Draft202012Validator(json.load(open(sys.argv[1]))).validate(d)
i = d["interfaces"][0]
k = i["key"]
print(json.dumps(i))
sys.exit(0 if (i["key_ready"] is False and i["public_key"] == sys.argv[3] and
               k["backend"] == "openpgp" and k["state"] == "locked" and
               k["pin_retries"] == 3 and k["serial"] == "0000C001") else 1)
EOP
then
	t_ok "show --json while locked: valid; the card's public key, key_ready false, state locked, 3 PIN retries"
else
	t_fail "show --json while locked" "$(tail -n 3 "$T_TMP/j.out")"
fi
# pcheck FILE NAME PYEXPR: FILE parsed by the Prometheus client's parser;
# PYEXPR over m, {(name, frozenset(labels)): value}, and l, the labels of
# the interface alone.
pcheck()
{
	if /usr/bin/python3 - "$1" "$IF_A" "$3" >"$T_TMP/p.out" 2>&1 <<'EOP'
import sys
from prometheus_client.parser import text_string_to_metric_families
m = {}
for fam in text_string_to_metric_families(open(sys.argv[1]).read()):
    for s in fam.samples:
        m[(s.name, frozenset(s.labels.items()))] = s.value
l = frozenset({("interface", sys.argv[2])})
ok = eval(sys.argv[3])
print("expression: %r; %d samples" % (ok, len(m)))
sys.exit(0 if ok is True else 1)
EOP
	then
		t_ok "$2"
	else
		t_fail "$2" "$(tail -n 3 "$T_TMP/p.out")"
	fi
}
ctl -i "$IF_A" show --prometheus >"$T_TMP/locked.prom"
t_eq "show --prometheus while locked: exit 3" "$?" 3
pcheck "$T_TMP/locked.prom" "show --prometheus while locked: up 1, key_ready 0, 3 PIN retries, key_state locked" \
    "m[('wgcard_up', l)] == 1 and m[('wgcard_key_ready', l)] == 0 and m[('wgcard_card_pin_retries', l)] == 3 and any(n == 'wgcard_info' and ('key_state', 'locked') in k for (n, k) in m)"
out=$(echo bad-9931 | ctl -i "$IF_A" card unlock 2>&1)
rc=$?
t_check "card unlock: a wrong PIN is refused" test "$rc" -ne 0
t_check "card unlock: 2 retries left" sh -c "echo '$out' | grep -q '2 retries left'"
# At once (a loaded machine takes seconds for the checks below).
out=$(echo bad-7720 | ctl -i "$IF_A" card unlock 2>&1)
t_check "another PIN within 5 s of the last: refused" test $? -ne 0
t_check "another PIN within 5 s of the last: says it was not sent" \
    sh -c "echo '$out' | grep -q 'another unlock less than 5 s ago: not sent to the card, no retry spent'"
t_eq "another PIN within 5 s of the last: nothing spent" "$(card_status_field pw1)" 2
t_eq "the card's counter dropped by one" "$(card_status_field pw1)" 2
sleep 2
t_eq "and no further attempt" "$(card_status_field pw1)" 2
out=$(echo bad-9931 | ctl -i "$IF_A" card unlock 2>&1)
t_check "the same wrong PIN again: refused" test $? -ne 0
t_check "the same wrong PIN again: says it was not sent" \
    sh -c "echo '$out' | grep -q 'the same wrong PIN as before: not sent to the card, no retry spent (2 left)'"
t_eq "the same wrong PIN again: nothing spent" "$(card_status_field pw1)" 2
out=$(echo 12345 | ctl -i "$IF_A" card unlock 2>&1)
t_eq "a 5-character PIN: refused, exit 1" "$?" 1
t_check "a 5-character PIN: the length rule, nothing sent" \
    sh -c "echo '$out' | grep -q 'has 6 to 127. Nothing was sent, no retry spent'"
t_eq "a 5-character PIN: nothing spent" "$(card_status_field pw1)" 2
sleep 3
t_check "card unlock with the right PIN" sh -c "echo '$PIN' | env PCSCLITE_CSOCK_NAME='$PCSCLITE_CSOCK_NAME' '$WGCARDCTL' -i '$IF_A' card unlock"
t_check "card status: ready" wait_for 5 sh -c \
    "'$WGCARDCTL' -i '$IF_A' card status | grep -q 'state: ready'"
t_eq "the counter is back at 3" "$(card_status_field pw1)" 3
t_check "card unlock while ready: a wrong PIN is answered, not sent" \
    sh -c "echo bad-5150 | '$WGCARDCTL' -i '$IF_A' card unlock >/dev/null 2>&1"
t_eq "card unlock while ready: nothing spent" "$(card_status_field pw1)" 3
t_check "card unlock while ready: still ready" sh -c \
    "'$WGCARDCTL' -i '$IF_A' card status | grep -q 'state: ready'"
t_eq "card pubkey via the daemon" "$(ctl -i "$IF_A" card pubkey 2>"$T_TMP/pk.err")" "$pub"
t_check "card pubkey via the daemon: says it is the card's key" \
    grep -q "$IF_A: the key wgcardd expects on its card (card 0000C001, state ready)" "$T_TMP/pk.err"
# show --json and --prometheus with the card's state, ready.
ctl -i "$IF_A" show --json >"$T_TMP/show.json"
if /usr/bin/python3 - "$T_ROOT/docs/wgcardctl-show.schema.json" \
    "$T_TMP/show.json" "$pub" >"$T_TMP/j.out" 2>&1 <<'EOP'
import json, sys, jsonschema
d = json.load(open(sys.argv[2]))
jsonschema.Draft202012Validator(json.load(open(sys.argv[1]))).validate(d)
i = d["interfaces"][0]
k = i["key"]
ok = (i["public_key"] == sys.argv[3] and i["key_ready"] is True and
      k["backend"] == "openpgp" and k["state"] == "ready" and
      k["serial"] == "0000C001" and k["pin_retries"] == 3 and
      "Virtual PCD" in k["reader"])
print(json.dumps(k))
sys.exit(0 if ok else 1)
EOP
then
	t_ok "show --json: valid, the card ready, serial, PIN retries 3, reader"
else
	t_fail "show --json with the card" "$(tail -n 3 "$T_TMP/j.out")"
fi
ctl -i "$IF_A" show --prometheus >"$T_TMP/show.prom"
t_check "show --prometheus: wgcard_card_pin_retries 3" \
    grep -qx "wgcard_card_pin_retries{interface=\"$IF_A\"} 3" "$T_TMP/show.prom"
t_check "show --prometheus: key_state ready, openpgp" \
    grep -q "key_backend=\"openpgp\",key_state=\"ready\"" "$T_TMP/show.prom"
pcheck "$T_TMP/show.prom" "show --prometheus (parsed): key_ready 1, 3 PIN retries, key operations counted" \
    "m[('wgcard_key_ready', l)] == 1 and m[('wgcard_card_pin_retries', l)] == 3 and m[('wgcard_key_operations_total', l)] >= 0"
# ---- card init while the daemon uses the card: refused, nothing spent.
pw3_0=$(card_status_field pw3)
out=$(echo "$ADMIN" | ctl card init 2>&1)
rc=$?
t_check "card init while $IF_A uses the card: refused" test "$rc" -ne 0
t_check "card init refused: names the interface and what to do" \
    sh -c "echo '$out' | grep -q 'in use by wgcardd on $IF_A' && echo '$out' | grep -q 'stop'"
t_eq "card init refused: the card's key is unchanged" "$(card_ctl pubkey)" "$pub"
t_eq "card init refused: no admin PIN spent or sent" "$(card_status_field pw3)" "$pw3_0"
t_check "card init refused: the daemon is still ready" sh -c \
    "'$WGCARDCTL' -i '$IF_A' card status | grep -q 'state: ready'"

# ---- the key replaced behind the daemon's back (another PC/SC client,
# as gpg --card-edit would): the broker says wrong-card at once and
# never sends the stored PIN to the card.
card_regen_raw()
{
	card_raw_apdus 00A4040006D27600012401 \
	    "$(printf '002000%02X%02X' 0x83 ${#ADMIN})$(printf %s "$ADMIN" | od -An -tx1 | tr -d ' \n')" \
	    0047800002B80000
}
verifies() { grep -c 'INS 20 P1 00 P2 82' "$VCARD_LOG"; }
v0=$(verifies)
card_regen_raw || t_fail "a new key made on the card by another client"
t_check "new key on the card: different from the daemon's" \
    test "$(card_ctl pubkey)" != "$pub"
t_check "key replaced: card status says wrong-card within 3 s" wait_for 3 \
    sh -c "'$WGCARDCTL' -i '$IF_A' card status | grep -q 'state: wrong-card'"
ctl -i "$IF_A" card status >/dev/null
t_eq "key replaced: card status exits 3" "$?" 3
ctl -i "$IF_A" show >/dev/null
t_eq "key replaced: show exits 3" "$?" 3
t_check "key replaced: logged at the default level" \
    grep -q 'card: wrong card: .*not the expected' "$T_TMP/$IF_A.log"
sleep 1
t_eq "key replaced: the stored PIN was not sent to the card" "$(verifies)" "$v0"
if grep -n -e "$PIN" -e bad-9931 "$T_TMP/$IF_A.log" >"$T_TMP/pinlog"; then
	t_fail "no PIN in the daemon's log" "$(wc -l <"$T_TMP/pinlog") lines, first at line $(cut -d: -f1 "$T_TMP/pinlog" | head -1)"
	sed 's/'"$PIN"'/<PIN>/g; s/bad-9931/<WRONG>/g' "$T_TMP/pinlog" | head -3
else
	t_ok "no PIN in the daemon's log"
fi
t_check "daemon alive" pid_alive "${T_IF_PID[$IF_A]}"

# ---- card init on every profile; with KDF on (nitrokey3, yubikey5: a
# raw PIN is compared and spends a retry; gnuk 6985, smartpgp 6700) the
# admin PIN goes as its S2K hash, no retry is spent, PW3 is reset at the
# end (VERIFY FF 83). A second init without --force is refused before
# any PIN, with --force it replaces the key.
n=0
for prof in default nitrokey3 yubikey5 gnuk smartpgp; do
	n=$((n + 1))
	card_stop_vcard
	card_wait_absent 5 || t_fail "$prof" "the previous card is still seen"
	VCARD_PROFILE=$prof card_init_state "$T_TMP/k$n.state" \
	    --serial 0000C0F$n --pin "$PIN" --admin-pin "$ADMIN" >/dev/null ||
	    t_fatal "$prof card state"
	VCARD_PROFILE=$prof card_start_vcard "$T_TMP/k$n.state" ||
	    t_fatal "$prof vcard"
	card_wait_present || t_fatal "$prof card not seen"
	kdf=$(card_status_field kdf)
	t_eq "$prof: KDF as the profile has it" "$kdf" \
	    "$([ "$prof" = default ] && echo 0 || echo 1)"
	kpub=$(echo "$ADMIN" | ctl -r "Virtual PCD" card init 2>"$T_TMP/k$n.err")
	t_check "$prof: card init with the admin PIN (KDF $kdf)" test -n "$kpub"
	[ -n "$kpub" ] || sed 's/^/# /' "$T_TMP/k$n.err"
	t_eq "$prof: the printed key is the card's" "$kpub" "$(card_ctl pubkey)"
	t_eq "$prof: no admin PIN retry spent" "$(card_status_field pw3)" 3
	t_check "$prof: PW3 reset at the end (VERIFY FF 83)" \
	    grep -q 'INS 20 P1 FF P2 83' "$VCARD_LOG"
	t_eq "$prof: the raw admin PIN never refused (no 6985, 6700, 63Cx)" \
	    "$(grep -c 'INS 20 P1 00 P2 83 -> SW \(6985\|6700\|63C\)' "$VCARD_LOG")" 0
	n83=$(v83)
	echo "$ADMIN" | ctl -r "Virtual PCD" card init >/dev/null 2>&1
	t_eq "$prof: card init over the key: refused" "$?" 1
	t_eq "$prof: card init over the key: no PIN sent" "$(v83)" "$n83"
	fpub=$(echo "$ADMIN" | ctl -r "Virtual PCD" card init --force 2>/dev/null)
	t_check "$prof: card init --force: a new key" \
	    test -n "$fpub" -a "$fpub" != "$kpub"
	t_eq "$prof: card init --force: the card's key" "$fpub" \
	    "$(card_ctl pubkey)"
	t_eq "$prof: card init --force: no admin PIN retry spent" \
	    "$(card_status_field pw3)" 3
	if [ "$prof" = yubikey5 ]; then
		t_check "yubikey5: the firmware said (GET VERSION)" grep -q \
		    'Yubico card (manufacturer 0006), serial 0000C0F3, .*YubiKey firmware 5\.2\.7; KDF on' \
		    "$T_TMP/k$n.err"
		card_ctl "set fw=5.2.1" >/dev/null
		n83=$(v83)
		out=$(echo "$ADMIN" | ctl -r "Virtual PCD" card init --force 2>&1)
		t_eq "yubikey5 5.2.1: card init refused" "$?" 1
		t_check "yubikey5 5.2.1: says why (cv25519 from 5.2.3)" \
		    sh -c "echo '$out' | grep -q 'firmware 5.2.1 has no cv25519 (Yubico: 5.2.3 and later). Nothing done'"
		t_eq "yubikey5 5.2.1: no PIN sent" "$(v83)" "$n83"
		t_eq "yubikey5 5.2.1: the key stays" "$(card_ctl pubkey)" "$fpub"
	fi
done

# ---- card init --kdf: a card that can do KDF with KDF off (F9 81 01
# 00). nitrokey3 keeps its PINs when F9 is written (wgcardctl changes
# them, as GnuPG does), yubikey5 replaces them by F9's factory hashes:
# either way KDF ends on with the admin PIN and the user PIN given,
# nothing spent; a default card (no KDF-DO) is refused before any PIN.
for prof in nitrokey3 yubikey5 default; do
	n=$((n + 1))
	card_stop_vcard
	card_wait_absent 5 || t_fail "kdf $prof" "the previous card is still seen"
	card_init_state "$T_TMP/k$n.state" --serial 0000C0E$n \
	    --pin "$PIN" --admin-pin "$ADMIN" >/dev/null || t_fatal "card state"
	sed -i 's/^kdf -$/kdf 810100/' "$T_TMP/k$n.state"
	VCARD_PROFILE=$prof card_start_vcard "$T_TMP/k$n.state" \
	    --set verify=0 --set generate=0 || t_fatal "kdf $prof vcard"
	card_wait_present || t_fatal "kdf $prof card not seen"
	t_eq "kdf $prof: KDF off at first" "$(card_status_field kdf)" 0
	n83=$(v83)
	kpub=$(printf '%s\n%s\n' "$ADMIN" "$PIN" |
	    ctl -r "Virtual PCD" card init --kdf 2>"$T_TMP/k$n.err")
	rc=$?
	if [ "$prof" = default ]; then
		t_eq "kdf default: refused" "$rc" 1
		t_check "kdf default: says the card has no KDF-DO" grep -q \
		    -- '--kdf: this card has no KDF-DO' "$T_TMP/k$n.err"
		t_eq "kdf default: no PIN sent" "$(v83)" "$n83"
		continue
	fi
	t_check "kdf $prof: card init --kdf" test "$rc" -eq 0 -a -n "$kpub"
	[ "$rc" -eq 0 ] || sed 's/^/# /' "$T_TMP/k$n.err"
	t_eq "kdf $prof: KDF on" "$(card_status_field kdf)" 1
	t_check "kdf $prof: says so, and that the PINs are the ones given" \
	    grep -q 'KDF on (SHA-256, 8388608 bytes hashed); the admin PIN is the one given, the user PIN the one given' "$T_TMP/k$n.err"
	t_eq "kdf $prof: no retry spent (PW1, PW3)" \
	    "$(card_status_field pw1) $(card_status_field pw3)" "3 3"
	t_eq "kdf $prof: the printed key is the card's" "$kpub" "$(card_ctl pubkey)"
	# The admin PIN, now hashed: another init takes it, nothing spent.
	fpub=$(echo "$ADMIN" | ctl -r "Virtual PCD" card init --force --kdf 2>"$T_TMP/k$n.err2")
	t_check "kdf $prof: the admin PIN works hashed (card init --force)" \
	    test -n "$fpub" -a "$fpub" != "$kpub"
	t_check "kdf $prof: --kdf again: KDF was on, PINs unchanged" \
	    grep -q 'KDF was on already; PINs unchanged' "$T_TMP/k$n.err2"
	t_eq "kdf $prof: still no retry spent" "$(card_status_field pw3)" 3
done
# The user PIN under KDF: the broker of a daemon with that PIN in its
# PinFile verifies it (the last card: yubikey5, the card's own reset).
IF_K="wg${T_ID}$$k"
(umask 077; echo "$PIN" >"$T_TMP/k.pin"
 printf '[Interface]\nKeySource = openpgp\nCardSerial = 0000C0E%s\nPinFile = %s\nListenPort = 51822\n' \
    "$((n - 1))" "$T_TMP/k.pin" >"$T_TMP/$IF_K.conf")
card_stop_vcard
card_wait_absent 5 || t_fail "kdf daemon" "the previous card is still seen"
VCARD_PROFILE=yubikey5 card_start_vcard "$T_TMP/k$((n - 1)).state" ||
    t_fatal "kdf yubikey5 vcard again"
card_wait_present || t_fatal "kdf yubikey5 card not seen"
start_conf "$NS_A" "$IF_K" "$T_TMP/$IF_K.conf" &&
    wait_for 10 test -S "/var/run/wgcard/$IF_K.sock" || t_fatal "daemon K"
t_check "kdf: the user PIN given to card init --kdf unlocks the card" \
    wait_for 10 grep -q 'card: ready' "$T_TMP/$IF_K.log"
t_eq "kdf: and spends nothing" "$(card_status_field pw1)" 3
impl_stop "$IF_K"

# ---- a terminated application (6285 to SELECT and to everything but
# ACTIVATE): the tools and the daemon say what to run, and the daemon
# does not SELECT it again and again.
card_stop_vcard
card_wait_absent 5 || t_fail "terminated" "the previous card is still seen"
card_init_state "$T_TMP/t.state" --generate --serial 0000C0F9 \
    --pin "$PIN" --admin-pin "$ADMIN" >/dev/null || t_fatal "card state"
sed -i 's/^terminated 0$/terminated 1/' "$T_TMP/t.state"
t_check "terminated: the card's state says so" \
    grep -qx 'terminated 1' "$T_TMP/t.state"
card_start_vcard "$T_TMP/t.state" || t_fatal "vcard"
card_wait_present || t_fatal "terminated card not seen"
out=$(ctl -r "Virtual PCD" card pubkey 2>&1)
t_check "terminated: card pubkey says to activate and run card init" \
    sh -c "echo '$out' | grep -q 'terminated: activate it.*card init'"
t_check "terminated: the daemon says so, and what to run" wait_for 5 \
    grep -q 'card: unusable: .*terminated: activate it.*card init' \
    "$T_TMP/$IF_A.log"
t_check "terminated: card status gives the reason" sh -c \
    "'$WGCARDCTL' -i '$IF_A' card status | grep -q '^  reason: .*terminated: activate it.*card init'"
s0=$(grep -c 'INS A4' "$VCARD_LOG")
sleep 2
s1=$(grep -c 'INS A4' "$VCARD_LOG")
t_check "terminated: not SELECTed again and again ($((s1 - s0)) in 2 s)" \
    test $((s1 - s0)) -le 1
t_eq "terminated: said once" \
    "$(grep -c 'card: unusable: .*terminated' "$T_TMP/$IF_A.log")" 1

# ---- 6985 to VERIFY (what Gnuk answers a PIN in the wrong form, KDF):
# a second daemon with a PinFile; the card answers 6985 to a wrong PIN.
# Not a lost card, no reconnect loop: one VERIFY, the state stays
# locked, and the same bytes are not sent again by an unlock.
card_stop_vcard
card_wait_absent 5 || t_fail "6985" "the previous card is still seen"
card_init_state "$T_TMP/f.state" --generate --serial 0000C0FA \
    --pin "$PIN" --admin-pin "$ADMIN" >/dev/null || t_fatal "card state"
card_start_vcard "$T_TMP/f.state" --set wrongpin=6985 || t_fatal "vcard"
card_wait_present || t_fatal "6985 card not seen"
IF_F="wg${T_ID}$$f"
(umask 077; echo wrong-form-55 >"$T_TMP/f.pin"
 printf '[Interface]\nKeySource = openpgp\nCardSerial = 0000C0FA\nPinFile = %s\nListenPort = 51821\n' \
    "$T_TMP/f.pin" >"$T_TMP/$IF_F.conf")
start_conf "$NS_A" "$IF_F" "$T_TMP/$IF_F.conf" &&
    wait_for 10 test -S "/var/run/wgcard/$IF_F.sock" || t_fatal "daemon F"
t_check "6985: the broker says the card refused the PIN's form" \
    wait_for 10 grep -q "refused the PIN's format" "$T_TMP/$IF_F.log"
t_check "6985: audited as wrong-format" \
    grep -q 'op=verify backend=openpgp result=wrong-format' "$T_TMP/$IF_F.log"
sleep 2
fv() { grep -c 'INS 20 P1 00 P2 82' "$VCARD_LOG"; }
t_eq "6985: one VERIFY, not a reconnect loop" "$(fv)" 1
t_check "6985: the card is not taken for lost (state locked)" sh -c \
    "'$WGCARDCTL' -i '$IF_F' card status | grep -q 'state: locked'"
echo wrong-form-55 | ctl -i "$IF_F" card unlock >/dev/null 2>&1
t_eq "6985: the same PIN by unlock is not sent again" "$(fv)" 1
echo wrong-form-66 | ctl -i "$IF_F" card unlock >"$T_TMP/f.out" 2>&1
t_eq "6985: another PIN by unlock is sent" "$(fv)" 2
t_check "6985: unlock says the card refused the PIN's format" \
    grep -q "refused the PIN's format (its KDF setting?)" "$T_TMP/f.out"

# ---- contrib/virtual-card.sh: "try it without hardware" as the
# operations guide gives it: its own pcscd and card, what to export,
# pull and insert.
TRY=$T_TMP/try
tport=$(card_pick_port try) || t_fatal "no free port pair for the try"
VCARD_PORT=$tport "$T_ROOT/contrib/virtual-card.sh" start "$TRY" \
    >"$T_TMP/try.out" 2>&1
t_eq "virtual-card.sh start: exit 0" "$?" 0
for f in "$TRY/pcscd.pid" "$TRY/card.pid"; do
	[ -f "$f" ] && T_PIDS+=("$(cat "$f")")
done
tsock=$(sed -n 's/^  export PCSCLITE_CSOCK_NAME=//p' "$T_TMP/try.out")
tpub=$(sed -n 's/^card public key (CardPublicKey): //p' "$T_TMP/try.out")
t_eq "virtual-card.sh: says what to export" "$tsock" "$TRY/run/pcscd.comm"
t_check "virtual-card.sh: its card answers with the key it printed" \
    wait_for 5 sh -c "test \"\$(env PCSCLITE_CSOCK_NAME='$tsock' '$WGCARDCTL' -r '' card pubkey 2>/dev/null)\" = '$tpub'"
"$T_ROOT/contrib/virtual-card.sh" remove "$TRY" >/dev/null
t_check "virtual-card.sh remove: the card is gone" \
    wait_for 5 sh -c "! env PCSCLITE_CSOCK_NAME='$tsock' '$WGCARDCTL' -r '' card pubkey >/dev/null 2>&1"
"$T_ROOT/contrib/virtual-card.sh" insert "$TRY" >/dev/null
for f in "$TRY/card.pid"; do
	[ -f "$f" ] && T_PIDS+=("$(cat "$f")")
done
t_check "virtual-card.sh insert: it is back" \
    wait_for 5 sh -c "test \"\$(env PCSCLITE_CSOCK_NAME='$tsock' '$WGCARDCTL' -r '' card pubkey 2>/dev/null)\" = '$tpub'"
tpids="$(cat "$TRY/pcscd.pid" "$TRY/card.pid" 2>/dev/null)"
"$T_ROOT/contrib/virtual-card.sh" stop "$TRY" >/dev/null
t_check "virtual-card.sh stop: pcscd and the card are gone" wait_gone 5 $tpids
t_done
