#!/bin/bash
# flood_card: the handshake flood of flood.sh (tests/bench/hsflood, as
# fast as C can send, from FLOOD_SOURCES addresses) against wgcardd whose
# key is on the (virtual) card, the slowest and scarcest resource: the
# card does a few hundred X25519 a second at best (a real one: tens). The
# flood must not become card operations: cookie mode keeps the card for
# the peers that answer cookies; the established tunnel carries on; a
# peer that must handshake again gets through; the card stays ready.
# Then again with the card as slow as a Nitrokey 3.
T_ID=fc
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/card.sh"

PIN=wgPIN-f100d
SOURCES=${FLOOD_SOURCES:-250}	# FLOOD_RATE paces the flood (default: none)
[ -x "$T_ROOT/build/bench/hsflood" ] ||
    t_fatal "build/bench/hsflood is missing (run make)"
flood_lock || t_fatal "another flood test held the machine for 11 minutes"

card_start_pcscd fc || t_fatal "pcscd"
PUB_A=$(card_init_state "$T_TMP/a.state" --generate --pin "$PIN") ||
    t_fatal "card A"
card_start_vcard "$T_TMP/a.state" || t_fatal "vcard A"
card_wait_present || t_fatal "card not seen"
pair_b_only "$PUB_A" endpoint || t_fatal "side B"
flood_host_new 198.18.78 && flood_sources "$SOURCES" 198.18.82 ||
    t_fatal "host C"

(umask 077; echo "$PIN" >"$T_TMP/pin") || t_fatal "pin file"
card_conf "$T_TMP/$IF_A.conf" "$PUB_A" "$T_TMP/pin" || t_fatal "config"
start_conf "$NS_A" "$IF_A" "$T_TMP/$IF_A.conf" || t_fatal "wgcardd A"
t_check "card ready" wait_for 10 grep -q 'card: ready' "$T_TMP/$IF_A.log"
t_check "tunnel up" ping_retry "$NS_B" "$IN4_A" 10

d0=$(card_status_field deciphers)
ping_bg "$NS_B" "$IN4_A" "$T_TMP/ping.log"
ppid=$T_LASTPID
hs_flood_max 6 "$T_TMP/flood.out" 198.18.82 "$SOURCES"
read -r ans lost <<<"$(ping_bg_stop "$ppid" "$T_TMP/ping.log")"
d1=$(card_status_field deciphers)
sent=$(flood_field "$T_TMP/flood.out" sent)
t_log "# flood: $(cat "$T_TMP/flood.out"); card deciphers $d0 -> $d1"
t_check "the flood was sent (${sent:-0})" test "${sent:-0}" -ge 60000
t_check "cookie replies came back" \
    test "$(flood_field "$T_TMP/flood.out" cookies)" -gt 0
t_check "the card did few X25519 for it ($((d1 - d0)) of ${sent:-0})" \
    test $((d1 - d0)) -lt 200
t_check "the tunnel carried the pings ($ans answered, $lost lost)" \
    test "${ans:-0}" -ge 20 -a "${lost:-99}" -le 1
t_log "# $(ip netns exec "$NS_A" "$T_ROOT/build/wgcardctl" -i "$IF_A" show |
    grep -i 'cookie replies\|dropped' | tr -s ' \n' ' ')"

hs_flood_max 10 "$T_TMP/flood2.out" 198.18.82 "$SOURCES" &
fpid=$!
sleep 1.5
t0=$(date +%s)
d2=$(card_status_field deciphers)
force_handshake || t_fail "B forgets A" "wg set"
t_check "a new handshake gets through the flood (within two retry intervals)" \
    ping_retry "$NS_B" "$IN4_A" 12
t_check "... and is new" wait_handshake "$NS_B" "$IF_B" "$PUB_A" 5 $((t0 - 1))
t_check "... done on the card" test "$(card_status_field deciphers)" -gt "$d2"
wait "$fpid"
t_check "the card is still ready" \
    bash -c "! tail -n 50 '$T_TMP/$IF_A.log' | grep -q 'card: \(hung\|not answering\|absent\)'"
t_check "same daemon" pid_alive "${T_IF_PID[$IF_A]}"

# The same card as slow as a Nitrokey 3 (the vcard's nitrokey3 profile
# timings, set on the running card: DECIPHER 1 s, VERIFY 0.9 s): about
# one X25519 a second. The flood must still not reach it beyond that:
# DECIPHERs per second at most the card's, its queue short (the
# handshake process asks for cookies once the broker's backlog is 2 s of
# work), no card "lost", the tunnel carries on, and a new handshake
# gets through. (Restarting the vcard with --profile nitrokey3 instead
# races vpcd's listener when other card tests run beside this one.)
card_ctl "set decipher=1000" >/dev/null && card_ctl "set verify=900" >/dev/null ||
    t_fatal "nitrokey3 timings"
MARK_NK=$(wc -l <"$T_TMP/$IF_A.log")
force_handshake || t_fail "nitrokey3: B forgets A" "wg set"
t_check "nitrokey3: a handshake at 1 s a DECIPHER" ping_retry "$NS_B" "$IN4_A" 15
d0=$(card_status_field deciphers)
ping_bg "$NS_B" "$IN4_A" "$T_TMP/ping3.log"
ppid=$T_LASTPID
(
	while :; do
		ip netns exec "$NS_A" "$T_ROOT/build/wgcardctl" -i "$IF_A" \
		    card status 2>/dev/null | sed -n 's/^  queued: //p'
		sleep 0.5
	done
) >"$T_TMP/queued.log" &
qpid=$!
T_PIDS+=("$qpid")
t0=$(now_ms)
hs_flood_max 10 "$T_TMP/flood3.out" 198.18.82 "$SOURCES"
t1=$(now_ms)
kill "$qpid" 2>/dev/null
read -r ans lost <<<"$(ping_bg_stop "$ppid" "$T_TMP/ping3.log")"
d1=$(card_status_field deciphers)
qmax=$(sort -n "$T_TMP/queued.log" | tail -n 1)
secs=$(( (t1 - t0 + 999) / 1000 ))
t_log "# nitrokey3 flood: $(cat "$T_TMP/flood3.out"); card deciphers $d0 -> $d1 in ${secs} s; broker queue at most ${qmax:-?}"
t_check "nitrokey3: the flood was sent ($(flood_field "$T_TMP/flood3.out" sent))" \
    test "$(flood_field "$T_TMP/flood3.out" sent)" -ge 60000
t_check "nitrokey3: DECIPHERs at most the card's rate ($((d1 - d0)) in ${secs} s)" \
    test $((d1 - d0)) -le $((secs + 2))
# Short: at most half the broker's queue (CARD_QUEUE_MAX 16), where the
# broker reports its load at once. The handshake process's earlier
# signal (2 s of card work pending) needs the card's new latency, which
# reaches it by the once-a-second load report: in that second under a
# loaded machine the queue reached 8 (fresh-machine run on e26452b).
t_check "nitrokey3: the broker's queue stays short (at most ${qmax:-?})" \
    test "${qmax:-99}" -le 8
# (losses here are the data path's under the flood, not the card's: at
# most one in ten, as a loaded two-core machine running other tests
# beside this one drops some on the UDP socket)
t_check "nitrokey3: the tunnel carried the pings ($ans answered, $lost lost)" \
    test "${ans:-0}" -ge 30 -a "${lost:-99}" -le $(( ${ans:-0} / 10 ))
hs_flood_max 12 "$T_TMP/flood4.out" 198.18.82 "$SOURCES" &
fpid=$!
sleep 1.5
t0=$(date +%s)
force_handshake || t_fail "nitrokey3: B forgets A" "wg set"
t_check "nitrokey3: a new handshake gets through the flood" \
    ping_retry "$NS_B" "$IN4_A" 14
t_check "nitrokey3: ... and is new" \
    wait_handshake "$NS_B" "$IF_B" "$PUB_A" 5 $((t0 - 1))
wait "$fpid"
t_check "nitrokey3: the card was never lost or hung" \
    bash -c "! tail -n +$((MARK_NK + 1)) '$T_TMP/$IF_A.log' | grep -q 'card: \(hung\|not answering\|absent\)'"
t_check "nitrokey3: same daemon" pid_alive "${T_IF_PID[$IF_A]}"
flood_unlock
t_done
