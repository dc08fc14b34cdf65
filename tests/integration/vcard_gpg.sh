#!/bin/bash
# The virtual card against an independent client: GnuPG's scdaemon
# (pcsc-shared, disable-ccid) must list it with `gpg --card-status`, take
# a cv25519 encryption subkey with keytocard (PUT DATA odd 3FFF import),
# and decrypt through it (VERIFY 82, PSO:DECIPHER).  Then: a wrong PIN
# costs one retry and is refused; the key survives a vcard restart (state
# file); pcscd restarts and card removal are seen by PC/SC clients.
# Then each profile that imitates a real token (nitrokey3, yubikey5,
# gnuk, smartpgp; docs/devices.md), KDF on: card-status shows "KDF
# setting: on" (and scdaemon sees the button where the token has one), and
# the same subkey, moved to that card, decrypts: GnuPG hashes the PINs
# itself, so the card's KDF-DO and PIN hashes are those a real host
# computes. On the yubikey5 profile with the touch policy on, the
# decryption waits for a touch, and fails without one.
#
# Own pcscd, own vcard, own GNUPGHOME in the test's temp dir; the real
# ~/.gnupg is never touched.  Set VCARD_GPG_DEBUG=1 for scdaemon's
# debug-all log in the temp dir (with KEEP_TMP=1 to keep it).

T_ID=vg
. "$(dirname "$0")/../lib/common.sh"
t_excl ctlsock || t_fatal "the ctlsock lock (tests/lib/common.sh t_excl)"
. "$(dirname "$0")/../lib/card.sh"

ADMIN_PIN=12345678
USER_PIN=123456

for prog in gpg gpg-agent gpgconf pcscd unshare perl; do
	command -v "$prog" >/dev/null 2>&1 ||
	    t_fatal "$prog is not installed"
done
[ -x /usr/lib/gnupg/scdaemon ] || t_fatal "scdaemon is not installed"
[ -f "$VPCD_DRIVER" ] || t_fatal "vsmartcard-vpcd is not installed"

export GNUPGHOME=$T_TMP/gnupg
mkdir -m 700 "$GNUPGHOME" || t_fatal "mkdir $GNUPGHOME"

_vg_cleanup()
{
	[ -d "$GNUPGHOME" ] || return 0
	gpgconf --kill all >/dev/null 2>&1
	gpgconf --remove-socketdir >/dev/null 2>&1
	return 0
}
trap 'rc=$?; _vg_cleanup; (exit $rc); _t_on_exit' EXIT

vg_fail_logs()
{
	card_dump_logs
	if [ -s "$T_TMP/scd.log" ]; then
		echo "---- last lines of the scdaemon log"
		tail -n 40 "$T_TMP/scd.log"
		echo "----"
	fi
}

# scd_kill: stop scdaemon (and with it its PIN state) and wait until the
# agent has noticed, or the next request fails with "Broken pipe".
scd_kill()
{
	gpgconf --kill scdaemon >/dev/null 2>&1
	wait_for 10 _scd_gone
}

_scd_gone()
{
	! gpg-connect-agent 'GETINFO scd_running' /bye 2>/dev/null | grep -q '^OK'
}

# gpgq ARGS...: gpg in batch mode, its output in $T_TMP/gpg.out.
gpgq()
{
	gpg --batch --no-tty "$@" >"$T_TMP/gpg.out" 2>&1
}

# ---------------------------------------------------------------- set up

card_start_pcscd g || t_fatal "pcscd"
card_start_vcard "$T_TMP/card.state" --serial 0C0FFEE5 || t_fatal "vcard"
card_wait_present 15 || { card_dump_logs; t_fatal "the card never showed up"; }
t_log "# pcscd socket $PCSCLITE_CSOCK_NAME, vpcd port $VCARD_PORT"

cat >"$GNUPGHOME/gpg-agent.conf" <<EOF
allow-loopback-pinentry
EOF
# scdaemon inherits PCSCLITE_CSOCK_NAME from gpg-agent, which inherits it
# from the first gpg (agent autostart): both read the environment.
{
	echo "pcsc-shared"
	echo "disable-ccid"
	echo "pcsc-driver /usr/lib/x86_64-linux-gnu/libpcsclite.so.1"
	echo "log-file $T_TMP/scd.log"
	[ -n "${VCARD_GPG_DEBUG:-}" ] && echo "debug-all"
} >"$GNUPGHOME/scdaemon.conf"
[ -f /usr/lib/x86_64-linux-gnu/libpcsclite.so.1 ] ||
    sed -i '/^pcsc-driver/d' "$GNUPGHOME/scdaemon.conf"

# ---------------------------------------------------------------- card-status

# vg_card_status [LABEL]: gpg --card-status lists a fresh card: a cv25519
# decryption slot, retry counters 3 0 3; its output in $T_TMP/gpg.out.
vg_card_status()
{
	local l=${1:+$1: }

	if gpgq --card-status; then
		t_ok "${l}gpg --card-status lists the card"
	else
		t_fail "${l}gpg --card-status lists the card" \
		    "$(tail -n 5 "$T_TMP/gpg.out")"
		vg_fail_logs
	fi
	grep -q '^Key attributes.*cv25519' "$T_TMP/gpg.out"
	t_eq "${l}decryption slot is cv25519" "$?" 0
	t_eq "${l}PIN retry counters" \
	    "$(sed -n 's/^PIN retry counter *: *//p' "$T_TMP/gpg.out")" "3 0 3"
}

vg_card_status
t_eq "serial number" \
    "$(sed -n 's/^Serial number *\.*: *//p' "$T_TMP/gpg.out")" "0C0FFEE5"
t_eq "empty encryption slot" \
    "$(sed -n 's/^Encryption key\.*: *//p' "$T_TMP/gpg.out")" "[none]"

# ---------------------------------------------------------------- keys

gpgq --pinentry-mode loopback --passphrase "$ADMIN_PIN" \
    --quick-gen-key 'vcard test <vcard@example.invalid>' ed25519 sign never ||
    t_fatal "quick-gen-key: $(tail -n 3 "$T_TMP/gpg.out")"
FPR=$(gpg --batch --with-colons --list-keys vcard@example.invalid 2>/dev/null |
    awk -F: '$1 == "fpr" { print $10; exit }')
[ -n "$FPR" ] || t_fatal "no primary key fingerprint"
gpgq --pinentry-mode loopback --passphrase "$ADMIN_PIN" \
    --quick-add-key "$FPR" cv25519 encr never ||
    t_fatal "quick-add-key: $(tail -n 3 "$T_TMP/gpg.out")"
SUBFPR=$(gpg --batch --with-colons --list-keys "$FPR" 2>/dev/null |
    awk -F: '$1 == "sub" { s = 1 } s && $1 == "fpr" { print $10; exit }')
[ -n "$SUBFPR" ] || t_fatal "no subkey fingerprint"
# Kept for the profiles below: keytocard takes the subkey off the disk.
gpg --batch --pinentry-mode loopback --passphrase "$ADMIN_PIN" \
    --export-secret-keys "$FPR" >"$T_TMP/secret.gpg" 2>/dev/null ||
    t_fatal "export-secret-keys"

# A message encrypted to the subkey while it is still on disk.
echo "the card decrypts this $$" >"$T_TMP/plain.txt"
gpgq --trust-model always --encrypt --recipient "$SUBFPR!" \
    --output "$T_TMP/msg.gpg" "$T_TMP/plain.txt" ||
    t_fatal "encrypt: $(tail -n 3 "$T_TMP/gpg.out")"

# keytocard: the key's passphrase and the admin PIN are the same string,
# so loopback answers both prompts.
printf 'key 1\nkeytocard\n2\nsave\n' |
    gpg --batch --no-tty --command-fd 0 --status-fd 2 \
    --pinentry-mode loopback --passphrase "$ADMIN_PIN" \
    --edit-key "$FPR" >"$T_TMP/gpg.out" 2>&1
rc=$?
if [ $rc -eq 0 ] && grep -q 'PUT DATA (key import).*SW 9000' "$VCARD_LOG"; then
	t_ok "keytocard moves the cv25519 subkey to the card"
else
	t_fail "keytocard moves the cv25519 subkey to the card" \
	    "status $rc: $(grep -v '^\[GNUPG:\] GET' "$T_TMP/gpg.out" | tail -n 5)"
	vg_fail_logs
fi
t_eq "the card reports the key as present" "$(card_status_field key)" 1

gpg --batch --with-colons --list-secret-keys "$FPR" >"$T_TMP/gpg.out" 2>&1
t_eq "the secret subkey is a card stub" \
    "$(awk -F: '$1 == "ssb" { print $15; exit }' "$T_TMP/gpg.out")" \
    "D276000124010304FF000C0FFEE50000"

gpgq --card-status
t_eq "card-status shows the subkey in the encryption slot" \
    "$(sed -n 's/^Encryption key\.*: *//p' "$T_TMP/gpg.out" | tr -d ' ')" \
    "$SUBFPR"

# ---------------------------------------------------------------- decrypt

# A fresh scdaemon: PIN state is the card's, not a cached one.
scd_kill
before=$(card_status_field deciphers)
if gpg --batch --no-tty --pinentry-mode loopback --passphrase "$USER_PIN" \
    --decrypt --output "$T_TMP/out.txt" "$T_TMP/msg.gpg" \
    >"$T_TMP/gpg.out" 2>&1 && cmp -s "$T_TMP/plain.txt" "$T_TMP/out.txt"; then
	t_ok "gpg --decrypt through the card"
else
	t_fail "gpg --decrypt through the card" "$(tail -n 5 "$T_TMP/gpg.out")"
	vg_fail_logs
fi
grep -q 'PSO:DECIPHER: .* SW 9000' "$VCARD_LOG"
t_eq "the vcard log shows a PSO:DECIPHER answered 9000" "$?" 0
t_eq "one decipher on the card" "$(card_status_field deciphers)" \
    "$((before + 1))"

# A wrong PIN: one retry spent, decryption refused, no decipher.
scd_kill
before=$(card_status_field deciphers)
gpg --batch --no-tty --pinentry-mode loopback --passphrase 654321 \
    --decrypt --output "$T_TMP/out2.txt" "$T_TMP/msg.gpg" \
    >"$T_TMP/gpg.out" 2>&1
t_eq "a wrong PIN is refused" "$?" 2
t_eq "a wrong PIN costs one retry" "$(card_status_field pw1)" 2
t_eq "no decipher without the PIN" "$(card_status_field deciphers)" "$before"

# The state file keeps the key: restart the card, decrypt again (the
# right PIN puts the counter back to 3).
card_stop_vcard
card_start_vcard "$T_TMP/card.state" || t_fatal "vcard restart"
card_wait_present 15 || t_fatal "the restarted card never showed up"
scd_kill
rm -f "$T_TMP/out.txt"
if gpg --batch --no-tty --pinentry-mode loopback --passphrase "$USER_PIN" \
    --decrypt --output "$T_TMP/out.txt" "$T_TMP/msg.gpg" \
    >"$T_TMP/gpg.out" 2>&1 && cmp -s "$T_TMP/plain.txt" "$T_TMP/out.txt"; then
	t_ok "decrypt after a card restart (state file)"
else
	t_fail "decrypt after a card restart (state file)" \
	    "$(tail -n 5 "$T_TMP/gpg.out")"
	vg_fail_logs
fi
t_eq "the right PIN resets the retry counter" "$(card_status_field pw1)" 3

# ---------------------------------------------------------------- PC/SC events

scd_kill
card_ctl remove >/dev/null
t_check "removal is seen by PC/SC clients" card_wait_absent 10
card_ctl insert >/dev/null
t_check "insertion is seen by PC/SC clients" card_wait_present 15
card_restart_pcscd || t_fatal "pcscd restart"
t_check "the card reconnects to a restarted pcscd" card_wait_present 15
if gpgq --card-status && grep -q "^Serial number.*0C0FFEE5" "$T_TMP/gpg.out"; then
	t_ok "card-status after a pcscd restart"
else
	t_fail "card-status after a pcscd restart" "$(tail -n 5 "$T_TMP/gpg.out")"
	vg_fail_logs
fi

# ------------------------------------------- wgcardctl card init, seen by gpg

# The key wgcardctl makes carries its OpenPGP fingerprint and creation
# time, as GnuPG's own keys do; checked with an independent SHA-1.
scd_kill
WGCARDCTL=$T_ROOT/build/wgcardctl
echo "$ADMIN_PIN" | "$WGCARDCTL" card init >/dev/null 2>"$T_TMP/init.err"
t_eq "wgcardctl card init over gpg's key: refused without --force" "$?" 1
t_check "wgcardctl card init over gpg's key: names its fingerprint" \
    grep -q 'the decryption slot holds a cv25519 key, OpenPGP fingerprint [0-9A-F]\{40\}' "$T_TMP/init.err"
pub=$(echo "$ADMIN_PIN" | "$WGCARDCTL" card init --force 2>"$T_TMP/init.err")
t_check "wgcardctl card init --force replaces the key" test -n "$pub"
if gpgq --card-status; then
	gfpr=$(sed -n 's/^Encryption key\.*: *//p' "$T_TMP/gpg.out" | tr -d ' ')
	created=$(sed -n '/^Encryption key/,/^[A-Z]/s/^ *created \.*: *//p' "$T_TMP/gpg.out" | head -n 1)
	want=$(python3 - "$pub" "$created" <<'EOP'
import base64, calendar, hashlib, sys, time
pub = base64.b64decode(sys.argv[1])
t = calendar.timegm(time.strptime(sys.argv[2].strip(), "%Y-%m-%d %H:%M:%S"))
body = bytes([4]) + t.to_bytes(4, "big") + bytes([18]) + \
    bytes.fromhex("0a2b060104019755010501") + bytes([1, 7, 0x40]) + pub + \
    bytes([3, 1, 8, 7])
print(hashlib.sha1(bytes([0x99]) + len(body).to_bytes(2, "big") + body).hexdigest().upper())
EOP
)
	t_eq "gpg --card-status shows the fingerprint of the new key" "$gfpr" "$want"
	t_check "... with its creation time" test -n "$created"
else
	t_fail "gpg --card-status after card init" "$(tail -n 5 "$T_TMP/gpg.out")"
fi

# ---------------------------------------------------------------- profiles

# vg_profile NAME: a fresh card that behaves like NAME, the subkey moved
# to it, one decryption through it.
vg_profile()
{
	local prof=$1 before rc want t0

	scd_kill
	card_stop_vcard
	VCARD_PROFILE=$prof card_start_vcard "$T_TMP/card-$prof.state" ||
	    t_fatal "vcard $prof"
	card_wait_present 15 || t_fatal "the $prof card never showed up"
	t_eq "$prof: the card runs the profile, KDF on" \
	    "$(card_status_field profile) $(card_status_field kdf)" "$prof 1"
	vg_card_status "$prof"
	t_eq "$prof: KDF setting" \
	    "$(sed -n 's/^KDF setting *\.*: *//p' "$T_TMP/gpg.out")" "on"
	# A button (DO 7F74): scdaemon's EXTCAP says bt=1 (GnuPG 2.2 shows
	# no "UIF setting" line; 2.3 and later read D6-D8 when bt=1).
	case $prof in
	nitrokey3|yubikey5) want=1 ;;
	*) want=0 ;;
	esac
	t_eq "$prof: scdaemon sees a button: bt=$want" \
	    "$(gpg-connect-agent 'SCD GETATTR EXTCAP' /bye 2>/dev/null |
	    sed -n 's/.*[+ ]bt=\([01]\).*/\1/p')" "$want"

	# The subkey back on disk, then onto this card.
	gpg --batch --yes --delete-secret-keys "$FPR" >/dev/null 2>&1
	gpg --batch --pinentry-mode loopback --passphrase "$ADMIN_PIN" \
	    --import "$T_TMP/secret.gpg" >/dev/null 2>&1 ||
	    t_fatal "$prof: import the secret key"
	printf 'key 1\nkeytocard\n2\nsave\n' |
	    gpg --batch --no-tty --command-fd 0 --status-fd 2 \
	    --pinentry-mode loopback --passphrase "$ADMIN_PIN" \
	    --edit-key "$FPR" >"$T_TMP/gpg.out" 2>&1
	rc=$?
	if [ $rc -eq 0 ] && [ "$(card_status_field key)" = 1 ]; then
		t_ok "$prof: keytocard with the admin PIN's KDF hash"
	else
		t_fail "$prof: keytocard with the admin PIN's KDF hash" \
		    "status $rc: $(grep -v '^\[GNUPG:\] GET' "$T_TMP/gpg.out" | tail -n 5)"
		vg_fail_logs
	fi
	grep -q 'VERIFY: INS 20 P1 00 P2 83 -> SW 9000' "$VCARD_LOG"
	t_eq "$prof: PW3 verified (its hash)" "$?" 0

	scd_kill
	before=$(card_status_field deciphers)
	t0=$(date +%s%N)
	if vg_decrypt; then
		t_ok "$prof: gpg --decrypt through the card, KDF on"
	else
		t_fail "$prof: gpg --decrypt through the card, KDF on" \
		    "$(tail -n 5 "$T_TMP/gpg.out")"
		vg_fail_logs
	fi
	t_log "# $prof: gpg --decrypt (fresh scdaemon) took" \
	    "$((($(date +%s%N) - t0) / 1000000)) ms"
	t_eq "$prof: one decipher, no retry spent" \
	    "$(card_status_field deciphers) $(card_status_field pw1)" \
	    "$((before + 1)) 3"
	case $prof in
	yubikey5) vg_touch "$prof" ;;
	esac
}

# vg_decrypt: gpg --decrypt of the test message with the user PIN.
vg_decrypt()
{
	rm -f "$T_TMP/out.txt"
	gpg --batch --no-tty --pinentry-mode loopback \
	    --passphrase "$USER_PIN" --decrypt --output "$T_TMP/out.txt" \
	    "$T_TMP/msg.gpg" >"$T_TMP/gpg.out" 2>&1 &&
	    cmp -s "$T_TMP/plain.txt" "$T_TMP/out.txt"
}

_vg_touch_waits()
{
	[ "$(card_status_field touchwait)" = 1 ]
}

# vg_touch NAME: with the touch policy on, a decryption waits for the
# touch, goes on after it, and fails when no touch comes in time.
vg_touch()
{
	local prof=$1 pid rc

	card_ctl "uif dec 1" >/dev/null
	card_ctl "set touchtimeout=30000" >/dev/null
	scd_kill
	vg_decrypt &
	pid=$!
	T_PIDS+=("$pid")
	t_check "$prof: with UIF on, DECIPHER waits for a touch" \
	    wait_for 20 _vg_touch_waits
	sleep 1
	t_check "$prof: ... and gpg still waits" pid_alive "$pid"
	card_touch
	wait "$pid"
	rc=$?
	t_eq "$prof: gpg --decrypt goes on after the touch" "$rc" 0

	card_ctl "set touchtimeout=1500" >/dev/null
	scd_kill
	vg_decrypt
	t_eq "$prof: no touch: the decryption fails" "$?" 2
	grep -q 'no touch in time' "$VCARD_LOG"
	t_eq "$prof: the card logged the touch timeout" "$?" 0
	card_ctl "uif dec 0" >/dev/null
}

for prof in nitrokey3 yubikey5 gnuk smartpgp; do
	vg_profile "$prof"
done

_vg_cleanup
card_stop_all
t_done
