#!/bin/bash
# card_neighbours: wgcardd (KeySource = openpgp, virtual card) against the
# matrix's side B while other programs use the same token (issue 14,
# docs/devices.md "What the broker must do" item 5), on the default,
# nitrokey3, smartpgp and gnuk profiles (6D00, 6985, 6A82 and 6A88 as the
# foreign answers):
#  - another application selected mid-traffic, by the vcard's control
#    (`app piv`, default and smartpgp) and by a second PC/SC client
#    (tests/tools/pcscpeer `select`: PIV on nitrokey3, 6A82 and the
#    OpenPGP application deselected on the others): the next handshake
#    succeeds (the broker selects OpenPGP again, verifies the stored PIN,
#    retries once), no card operation fails, the PIN retry counter is
#    unchanged (the vcard's own count);
#  - the card reset by another client (SCARD_RESET_CARD): the same, and
#    the card is never taken for absent;
#  - on default, a recovery that fails (vcard knobs: SELECT of OpenPGP
#    6A82, or VERIFY 6F00): the lost card's path with its back-off, no
#    loop, state and reason shown, no retry spent, ready once the card
#    answers again;
#  - on smartpgp, another client's SELECT of OpenPGP (the PIN state goes):
#    the same;
# and on the default profile:
#  - another client holding the card exclusively when the daemon starts:
#    `card status` says held and what frees it, so does the log; ready
#    once the other program lets go;
#  - another client's PC/SC transaction held for 5 s: held, then ready;
#  - Exclusive = yes: another client's connect is a sharing violation,
#    so it cannot use the verified PIN (with Exclusive = no it can: the
#    trade-off of docs/decisions.md 22).
T_ID=nb
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/card.sh"

PEER=$T_ROOT/build/tools/pcscpeer
CTL=$T_ROOT/build/wgcardctl
PIN=nbPIN-3c0ffe
[ -x "$PEER" ] || t_fatal "$PEER is missing (make unit builds it)"
[ -x "$CTL" ] || t_fatal "$CTL is missing (make builds it)"

MARK=0
mark() { MARK=$(wc -l <"$LOG_A"); }
logged() { tail -n +"$((MARK + 1))" "$LOG_A" | grep -q -- "$1"; }
not_logged() { ! logged "$1"; }
peer() { "$PEER" -r "Virtual PCD" "$@"; }
pw1() { card_status_field pw1; }
status_says() { "$CTL" -i "$IF_A" card status 2>/dev/null | grep -q -- "$1"; }

# force_handshake: B forgets its session with A and initiates anew.
force_handshake()
{
	wgx "$NS_B" set "$IF_B" peer "$CUR_PUB" remove &&
	wgx "$NS_B" set "$IF_B" peer "$CUR_PUB" allowed-ips "$IN4_A/32" \
	    endpoint "$OUT4_A:$PORT_A"
}

# peer_bg ARGS...: pcscpeer in the background until it says "held".
peer_bg()
{
	: >"$T_TMP/peer.out"
	peer "$@" >"$T_TMP/peer.out" 2>&1 &
	PEER_PID=$!
	T_PIDS+=("$PEER_PID")
	wait_for 5 grep -q '^held' "$T_TMP/peer.out"
}

# recovered WHAT: the handshake B starts now succeeds at the first
# attempt, after the broker's reselect, with no card operation failed
# and no PIN retry spent.
recovered()
{
	local what=$1
	force_handshake || t_fail "$what: force handshake"
	t_check "$what: the next handshake succeeds" ping_retry "$NS_B" "$IN4_A" 8
	t_check "$what: OpenPGP selected again, PIN verified (audit)" \
	    logged 'op=card-reselect .*result=ok '
	t_check "$what: no card operation failed" \
	    not_logged 'op=ecdh backend=openpgp .*result=\(error\|timeout\)'
	t_eq "$what: PIN retry counter unchanged" "$(pw1)" 3
	t_eq "$what: OpenPGP is the card's application" \
	    "$(card_status_field app)" openpgp
}

# apdus PATTERN: the current vcard's APDUs so far that match PATTERN.
apdus() { grep -c -- "$1" "$VCARD_LOG"; }

# failed_recovery KNOB REASON WHAT: PIV selected by another program while
# the vcard's KNOB makes the broker's recovery fail (selectsw=6A82: its
# SELECT of OpenPGP; verifysw=6F00: its VERIFY with the kept PIN). The
# broker takes the lost card's path with its back-off: no loop (a few
# SELECTs and VERIFYs in 8 s), card status says absent and why (REASON),
# no PIN retry spent; once KNOB is cleared the card is ready again and
# the tunnel works.
failed_recovery()
{
	local knob=$1 reason=$2 what=$3 s0 v0 s1 v1 n
	mark
	card_ctl "set $knob" >/dev/null
	card_select_app piv
	s0=$(apdus 'INS A4 P1 04')
	v0=$(apdus 'INS 20 ')
	force_handshake || t_fail "$what: force handshake"
	ping_one "$NS_B" "$IN4_A"
	t_check "$what: the recovery fails (audit)" wait_for 8 \
	    logged 'op=card-reselect .*result=failed'
	sleep 8
	s1=$(apdus 'INS A4 P1 04')
	v1=$(apdus 'INS 20 ')
	t_log "# $what: $((s1 - s0)) SELECTs, $((v1 - v0)) VERIFYs in the 8 s after"
	t_check "$what: no loop ($((s1 - s0)) SELECTs, $((v1 - v0)) VERIFYs)" \
	    test $((s1 - s0)) -le 8 -a $((v1 - v0)) -le 8
	t_check "$what: the lost card's back-off, said" \
	    logged 'card: fails again and again; backing off'
	n=$(tail -n +"$((MARK + 1))" "$LOG_A" | grep -vc 'audit:')
	t_check "$what: the log stays short ($n lines, audit aside)" \
	    test "$n" -le 40
	t_check "$what: card status says absent" status_says 'state: absent'
	t_check "$what: card status says why" status_says "reason: .*$reason"
	t_eq "$what: PIN retry counter unchanged" "$(pw1)" 3
	card_ctl "set ${knob%%=*}=0" >/dev/null
	t_check "$what: ready once the card answers again" wait_for 12 \
	    logged 'card: ready'
	force_handshake || t_fail "$what: force handshake"
	t_check "$what: then the tunnel works" ping_retry "$NS_B" "$IN4_A" 10
	t_eq "$what: PIN retry counter still unchanged" "$(pw1)" 3
	t_eq "$what: OpenPGP is the card's application" \
	    "$(card_status_field app)" openpgp
}

T0=$(now_ms)
card_start_pcscd nb || t_fatal "pcscd"
(umask 077; echo "$PIN" >"$T_TMP/pin") || t_fatal "pin file"
pair_net || t_fatal "hosts"
CONF=$T_TMP/$IF_A.conf
LOG_A=$T_TMP/$IF_A.log
: >"$LOG_A"
CUR_PUB=

# use_card PROFILE SERIAL: a fresh card of PROFILE, B peered with its key.
use_card()
{
	local pub
	pub=$(VCARD_PROFILE=$1 card_init_state "$T_TMP/$2.state" --generate \
	    --serial "$2" --pin "$PIN" 2>"$T_TMP/init.err") ||
	    t_fatal "$1: card state: $(cat "$T_TMP/init.err")"
	VCARD_PROFILE=$1 card_start_vcard "$T_TMP/$2.state" || t_fatal "$1: vcard"
	card_wait_present 15 || t_fatal "$1: card not seen: $(card_ctl status)"
	if [ -z "$CUR_PUB" ]; then
		pair_b_start "$pub" endpoint || t_fatal "$IMPL_B on B"
	else
		wgx "$NS_B" set "$IF_B" peer "$CUR_PUB" remove &&
		wgx "$NS_B" set "$IF_B" peer "$pub" allowed-ips "$IN4_A/32" \
		    endpoint "$OUT4_A:$PORT_A" || t_fatal "B: peer $1"
	fi
	CUR_PUB=$pub
}

for prof in default nitrokey3 smartpgp gnuk; do
	case $prof in
	default) serial=00004E01 ;;
	nitrokey3) serial=00004E02 ;;
	smartpgp) serial=00004E03 ;;
	*) serial=00004E05 ;;
	esac
	use_card "$prof" "$serial"
	card_conf "$CONF" "$CUR_PUB" "$T_TMP/pin" "Reader = Virtual PCD"
	mark
	start_conf "$NS_A" "$IF_A" "$CONF" || t_fatal "$prof: wgcardd A"
	wait_for 10 logged 'card: ready' || t_fatal "$prof: card not ready"
	t_check "$prof: tunnel up" ping_retry "$NS_B" "$IN4_A" 15

	case $prof in
	default|smartpgp)
		# The vcard's own "another application" (all its state
		# gone, 6D00 to OpenPGP commands); pcscpeer's SELECT below
		# gives the profile's own answer.
		mark
		card_select_app piv
		recovered "$prof: PIV selected (vcard control)"
		;;
	esac
	if [ "$prof" = default ]; then
		failed_recovery selectsw=6A82 'no OpenPGP application' \
		    "$prof: recovery's SELECT fails"
		failed_recovery verifysw=6F00 'reader ' \
		    "$prof: recovery's VERIFY fails"
	fi

	mark
	t_log "# $prof: pcscpeer select PIV: $(peer select A000000308)"
	recovered "$prof: PIV selected by another PC/SC client"

	mark
	peer reset || t_fail "$prof: pcscpeer reset"
	recovered "$prof: card reset by another client"
	t_check "$prof: reset: the card was never taken for absent" \
	    not_logged 'card: absent'

	if [ "$prof" = smartpgp ]; then
		# SmartPGP clears the PIN state on every SELECT of OpenPGP.
		mark
		t_log "# $prof: pcscpeer select OpenPGP: $(peer select D27600012401)"
		recovered "$prof: OpenPGP selected again by another client"
	fi
	impl_stop "$IF_A"
	card_stop_vcard
	# pcscd must see the slot empty before the next card dials in.
	card_wait_absent 5 || t_fail "$prof: card removed"
	t_log "# $prof done at $(( ($(now_ms) - T0) / 1000 )) s"
done

# PC/SC neighbours, on a default card.
use_card default 00004E04
card_conf "$CONF" "$CUR_PUB" "$T_TMP/pin" "Reader = Virtual PCD"
peer_bg hold 5 || t_fatal "pcscpeer hold: $(cat "$T_TMP/peer.out")"
mark
start_conf "$NS_A" "$IF_A" "$CONF" || t_fatal "wgcardd A (held)"
t_check "held exclusively: card status says held" wait_for 5 \
    status_says 'state: held'
t_check "held exclusively: card status says what frees it" \
    status_says 'reason: .*holds it exclusively (scdaemon? pcsc-shared and disable-ccid'
t_check "held exclusively: the log says what frees it" \
    logged 'card: held by another program: .*pcsc-shared and disable-ccid'
t_check "held exclusively: ready once the other program lets go" \
    wait_for 10 logged 'card: ready'
t_check "held exclusively: tunnel up after" ping_retry "$NS_B" "$IN4_A" 15
t_eq "held exclusively: PIN retry counter unchanged" "$(pw1)" 3

mark
peer_bg transaction 5 || t_fatal "pcscpeer transaction: $(cat "$T_TMP/peer.out")"
force_handshake || t_fail "transaction: force handshake"
ping_one "$NS_B" "$IN4_A"
t_check "transaction held: card status says held" wait_for 4 \
    status_says 'state: held'
t_check "transaction held: ready when it ends" wait_for 10 \
    logged 'transaction ended'
t_check "transaction held: tunnel up after" ping_retry "$NS_B" "$IN4_A" 15
t_eq "transaction held: PIN retry counter unchanged" "$(pw1)" 3

out=$(peer decipher 2>&1)
t_log "# Exclusive = no: another client's DECIPHER on the broker's PIN: $out"
impl_stop "$IF_A"
card_conf "$CONF" "$CUR_PUB" "$T_TMP/pin" "Reader = Virtual PCD" \
    "Exclusive = yes"
mark
start_conf "$NS_A" "$IF_A" "$CONF" || t_fatal "wgcardd A (exclusive)"
t_check "Exclusive = yes: ready" wait_for 10 logged 'card: ready'
d0=$(card_status_field deciphers)
peer decipher >"$T_TMP/peer.out" 2>&1
t_eq "Exclusive = yes: another client's connect is a sharing violation" \
    "$?" 3
t_eq "Exclusive = yes: no DECIPHER by another client on the broker's PIN" \
    "$(card_status_field deciphers)" "$d0"
force_handshake || t_fail "exclusive: force handshake"
t_check "Exclusive = yes: tunnel up" ping_retry "$NS_B" "$IN4_A" 15
impl_stop "$IF_A"
t_log "# wall time $(( ($(now_ms) - T0) / 1000 )) s"

t_done
