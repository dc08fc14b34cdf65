#!/bin/bash
# card_profiles: the card tunnel against side B (wireguard-go in the
# default matrix) on every profile of the virtual card: default,
# nitrokey3, yubikey5, gnuk, smartpgp (docs/devices.md), and t0 (below), each with KDF
# as the token has it (all but default). On each: a PinFile with a wrong
# PIN costs exactly one retry and is refused as a wrong PIN (a raw PIN
# would get 6985/6700 from gnuk/smartpgp: "wrong-format"), the card
# stays locked (card status says why) and the PIN is not sent again; the
# right PIN through wgcardctl card unlock makes it ready with the
# counter back to 3 (under KDF only its hash can do that); then a
# handshake each way through the card, every card DH audited ok.
# card_tunnel.sh does the rest (key custody, many peers, B = wgcardd) on
# the default profile. About 50 s (nitrokey3's timings: 11 s of it).
T_ID=cp
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/card.sh"

CTL=$T_ROOT/build/wgcardctl
PIN=cp-PIN-2718
WRONG=cp-NOT-3141

card_start_pcscd cp || t_fatal "pcscd"
pair_net || t_fatal "hosts"
(umask 077; echo "$PIN" >"$T_TMP/pin"; echo "$WRONG" >"$T_TMP/wrong") ||
    t_fatal "PIN files"

ctl_a() { ip netns exec "$NS_A" "$CTL" -i "$IF_A" "$@"; }
deciphers() { card_status_field deciphers; }

# conf_a PUB SERIAL PINFILE: A's configuration for the card.
conf_a()
{
	cardd_conf "$T_TMP/$IF_A.conf" "$IF_A" "$3" "$1" "$2" "$PORT_A" \
	    "$PUB_B" "$OUT4_B:$PORT_B" "$IN4_B/32" "$IN4_A" "$IN6_A"
}

n=0
prev=
# t0: the default profile behind a T=0-only ATR with answers split into
# 16-byte parts (knobs t0, respmax: the broker drops Le from case 4
# commands and follows 61xx with GET RESPONSE).
for prof in default nitrokey3 yubikey5 gnuk smartpgp t0; do
	vprof=$prof knobs=
	[ $prof = t0 ] && vprof=default knobs="t0=1 respmax=16"
	n=$((n + 1))
	t0=$(date +%s.%N)
	serial=0000D00$n
	if [ -n "$CARD_VCARD_PID" ]; then
		card_stop_vcard
		card_wait_absent 5 || t_fail "$prof" "the previous card is still seen"
	fi
	pub=$(VCARD_PROFILE=$vprof card_init_state "$T_TMP/$prof.state" \
	    --generate --serial $serial --pin "$PIN") || t_fatal "$prof state"
	VCARD_PROFILE=$vprof VCARD_KNOBS=$knobs \
	    card_start_vcard "$T_TMP/$prof.state" ||
	    t_fatal "$prof vcard"
	card_wait_present || t_fatal "$prof card not seen"
	t_eq "$prof: KDF as the token has it" "$(card_status_field kdf)" \
	    "$([ $vprof = default ] && echo 0 || echo 1)"
	if [ -z "$prev" ]; then
		pair_b_start "$pub" endpoint || t_fatal "$IMPL_B on B"
	else
		wgx "$NS_B" set "$IF_B" peer "$prev" remove peer "$pub" \
		    allowed-ips "$IN4_A/32" endpoint "$OUT4_A:$PORT_A" ||
		    t_fail "$prof" "B: peer key changed"
	fi
	prev=$pub

	# A wrong PIN in the PinFile: one retry, then locked, never again.
	conf_a "$pub" $serial "$T_TMP/wrong"
	LOG_A=$T_TMP/$IF_A.log
	mark=$(cat "$LOG_A" 2>/dev/null | wc -l)
	since() { tail -n +$((mark + 1)) "$LOG_A"; }
	start_conf "$NS_A" "$IF_A" "$T_TMP/$IF_A.conf" || t_fatal "$prof: wgcardd A"
	t_check "$prof: wrong PIN refused by the card as a wrong PIN" \
	    wait_for 10 sh -c "tail -n +$((mark + 1)) '$LOG_A' | grep -q 'op=verify backend=openpgp result=wrong-pin'"
	t_eq "$prof: wrong PIN: exactly one retry spent" "$(card_status_field pw1)" 2
	t_check "$prof: wrong PIN: locked, and card status says so" sh -c \
	    "ip netns exec '$NS_A' '$CTL' -i '$IF_A' card status | grep -q '^  reason: wrong PIN, 2 retries left'"
	# The right one, by hand.
	echo "$PIN" | ctl_a card unlock >"$T_TMP/unlock.out" 2>&1
	t_eq "$prof: card unlock with the right PIN" "$?" 0
	t_check "$prof: ready" wait_for 5 sh -c \
	    "ip netns exec '$NS_A' '$CTL' -i '$IF_A' card status | grep -q '^  state: ready'"
	t_eq "$prof: the counter is back at 3" "$(card_status_field pw1)" 3
	t_eq "$prof: one wrong VERIFY and one good, nothing else" \
	    "$(grep -c 'INS 20 P1 00 P2 82 -> SW' "$VCARD_LOG")" 2
	# Handshakes through the card, each way.
	t_check "$prof: A->B ping (A initiates)" ping_retry "$NS_A" "$IN4_B" 15
	t_check "$prof: B->A ping" ping_ok "$NS_B" "$IN4_A"
	d=$(deciphers)
	t_check "$prof: the card did the DHs (static-static, initiation: $d)" \
	    test "$d" -ge 2
	t_eq "$prof: every card DH succeeded" \
	    "$(since | grep -c 'audit: op=ecdh backend=openpgp .*result=ok')" "$d"
	impl_stop "$IF_A"
	t_log "# $prof: $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s"
done

t_done
