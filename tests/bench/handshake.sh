#!/bin/bash
# Handshake benchmark (not part of make check): how long the first packet
# through a fresh tunnel waits for its handshake, and how many card
# operations per second the key broker sustains with the key on the
# virtual OpenPGP card (pcscd + vsmartcard-vpcd + build/wgcard-vcard).
#
#	sudo tests/bench/handshake.sh		(BENCH_N=20, BENCH_BURST=12)
#	sudo VCARD_PROFILE=nitrokey3 tests/bench/handshake.sh
#
# VCARD_PROFILE makes the virtual card behave as that token
# (docs/devices.md): nitrokey3 answers VERIFY after 0.9 s and each
# PSO:DECIPHER after 1 s, with KDF on, as a Nitrokey 3 does.
#
# 1. Latency: the RTT of `ping -c 1` through a tunnel whose peers were
#    just removed and added again on both sides (no session, no cached
#    handshake), BENCH_N times after one warm-up, for
#	sw    wgcardd, key in the software broker <-> wireguard-go
#	card  wgcardd, key on the virtual card     <-> wireguard-go
#	ref   wireguard-go                         <-> wireguard-go
#    each with side A (wgcardd) initiating (A pings B: A's card operation
#    is on the response) and responding (B pings A: A's card operation is
#    on the initiation).  A card side re-adding a peer also pays the
#    static-static DH; the ping waits until that is done (a configured
#    peer has it), so only the handshake is timed.
# 2. Card operations: per-operation latency from keyd's audit lines
#    (`audit: op=ecdh backend=openpgp ... latency_ms=X`) and the vcard's
#    own PSO:DECIPHER count; then two bursts with BENCH_BURST peers, each
#    a wireguard-go interface in B: all peers added to A at once (one
#    static-static DH each, queued together: pure card throughput) and
#    all of them initiating to A at once (handshakes, the server's case;
#    beyond 8 pending initiations wgcardd answers with cookies, as
#    WireGuard does, and those peers come back about 5 s later).
#
# Numbers from a shared machine are noisy: read the spread, not one value.
T_ID=hb
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/card.sh"
t_log "# (IMPL_A/IMPL_B are not used here: each setup fixes its own)"

N=${BENCH_N:-20}
BURST=${BENCH_BURST:-12}
SETTLE=${BENCH_SETTLE:-0.1}
# A slow token (VCARD_PROFILE) answers about once a second: the bursts
# get longer to finish and the card's pauses between operations are
# that long.
if [ -n "${VCARD_PROFILE:-}" ]; then
	BURST_WAIT=${BENCH_BURST_WAIT:-40} GAP=${BENCH_GAP:-2.5}
else
	BURST_WAIT=${BENCH_BURST_WAIT:-12} GAP=${BENCH_GAP:-1}
fi
WGCARDCTL=${WGCARDCTL:-$T_ROOT/build/wgcardctl}
PIN=hbPIN-51c0de
RES=$T_TMP/results
mkdir -p "$RES"

if [ "$BURST" -gt 16 ]; then
	t_log "# note: BENCH_BURST=$BURST is above keyd's card queue (16):"
	t_log "#   static-static DHs past the 16th are refused, those peers cannot handshake"
fi

t_log "# command: $0 $* (BENCH_N=$N BENCH_BURST=$BURST VCARD_PROFILE=${VCARD_PROFILE:-default})"
t_log "# machine: nproc=$(nproc) kernel=$(uname -r) load=$(cut -d' ' -f1-3 /proc/loadavg)"
t_log "# $(wireguard-go --version 2>/dev/null | head -n 1)"

# ---------------------------------------------------------------- helpers

# stats FILE: "n min median p90 max mean" of the numbers in FILE, one a
# line ("0 - - - - -" when empty).
stats()
{
	sort -g "$1" | awk '
	{ v[NR] = $1; s += $1 }
	END {
		if (NR == 0) { print "0 - - - - -"; exit }
		m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		p = int(0.9 * NR); if (p < 0.9 * NR) p++
		printf("%d %.3f %.3f %.3f %.3f %.3f\n", NR, v[1], m, v[p], v[NR],
		    s / NR)
	}'
}

# audit_n LOG: card X25519 operations keyd has finished (any result; not
# the requests a slow card's queue dropped unasked, "waited too long").
audit_n()
{
	grep 'audit: op=ecdh backend=openpgp .*latency_ms=' "$1" |
	    grep -vc 'waited too long'
}

audit_ok()
{
	grep -c 'audit: op=ecdh backend=openpgp .*result=ok' "$1"
}

_audit_at_least()
{
	[ "$(audit_n "$1")" -ge "$2" ]
}

_audit_ok_at_least()
{
	[ "$(audit_ok "$1")" -ge "$2" ]
}

# first_rtt NS DST: the RTT (ms) of one echo request, nothing if lost.
first_rtt()
{
	ip netns exec "$1" ping -n -c 1 -W 5 "$2" 2>/dev/null |
	    sed -n 's/.* time=\([0-9.]*\) ms.*/\1/p'
}

# hb_start_vcard STATEFILE: card_start_vcard (tests/lib/card.sh), but
# its -v log (one line per APDU, written as the card answers) goes
# through a filter that puts the wall-clock time in front of every line:
# the bursts are timed from the card's own PSO:DECIPHER lines.  The
# filter ends with the card (end of file).
hb_start_vcard()
{
	VCARD_STATE=$1
	VCARD_CTL=$T_TMP/vcard-hb.ctl
	VCARD_LOG=$T_TMP/vcard-hb.log
	rm -f "$VCARD_CTL"
	"${T_PDEATH[@]}" "$VCARD_BIN" --state "$1" --port "$VCARD_PORT" \
	    --control "$VCARD_CTL" -v \
	    ${VCARD_PROFILE:+--profile "$VCARD_PROFILE"} </dev/null \
	    > >(perl -MTime::HiRes=time -ne \
		'$| = 1; printf("%.6f %s", time, $_)' >"$VCARD_LOG") 2>&1 &
	CARD_VCARD_PID=$!
	T_PIDS+=("$CARD_VCARD_PID")
	CARD_PIDS+=("$CARD_VCARD_PID")
	export VCARD_CTL VCARD_LOG VCARD_STATE
	wait_for 5 _card_vcard_ready
}

# refresh CARDLOG: forget the session on both sides (peer removed and
# added again); with a card log, wait for A's new static-static DH.
refresh()
{
	local log=$1 n=0
	[ -n "$log" ] && n=$(audit_n "$log")
	wgx "$NS_A" set "$IF_A" peer "$PUB_B" remove &&
	wgx "$NS_B" set "$IF_B" peer "$PUB_A" remove &&
	wgx "$NS_A" set "$IF_A" peer "$PUB_B" allowed-ips "$IN4_B/32" \
	    endpoint "$OUT4_B:$PORT_B" &&
	wgx "$NS_B" set "$IF_B" peer "$PUB_A" allowed-ips "$IN4_A/32" \
	    endpoint "$OUT4_A:$PORT_A" || return 1
	if [ -n "$log" ]; then
		wait_for 10 _audit_at_least "$log" $((n + 1)) || return 1
	fi
	sleep "$SETTLE"
}

# latency SETUP DIR CARDLOG: N+1 fresh first pings (the first is a
# warm-up: neighbour caches, page faults); RTTs in $RES/SETUP.DIR.
latency()
{
	local setup=$1 dir=$2 log=$3 i rtt ns dst lost=0 out=$RES/$1.$2
	if [ "$dir" = A2B ]; then
		ns=$NS_A dst=$IN4_B
	else
		ns=$NS_B dst=$IN4_A
	fi
	: >"$out"
	for i in $(seq 0 "$N"); do
		refresh "$log" || { t_fail "$setup $dir" "refresh failed"; return 1; }
		rtt=$(first_rtt "$ns" "$dst")
		if [ -z "$rtt" ]; then
			lost=$((lost + 1))
			continue
		fi
		[ "$i" -gt 0 ] && echo "$rtt" >>"$out"
	done
	echo "$lost" >"$out.lost"
	if [ "$(wc -l <"$out")" -gt 0 ]; then
		t_ok "$setup $dir: $(wc -l <"$out") fresh handshakes timed, $lost lost"
	else
		t_fail "$setup $dir" "no first ping answered"
	fi
}

# ---------------------------------------------------------------- sw, ref

run_pair()
{
	local setup=$1 ia=$2
	if ! pair_new "$setup" "$ia" wggo; then
		t_fail "$setup" "setup"
		pair_del
		return 1
	fi
	if ! pair_peer A 4 || ! pair_peer B 4 ||
	    ! ping_retry "$NS_A" "$IN4_B" 10; then
		t_fail "$setup" "no tunnel"
		pair_del
		return 1
	fi
	latency "$setup" A2B ""
	latency "$setup" B2A ""
	pair_del
}

t_log "# latency: $N fresh handshakes per line (+1 warm-up), ping -c 1 -W 5"
run_pair ref wggo
run_pair sw wgcardd

# ---------------------------------------------------------------- card

card_start_pcscd hb || t_fatal "pcscd"
CARD_PUB=$(card_init_state "$T_TMP/card.state" --generate --serial 0000B5E1 \
    --pin "$PIN") || t_fatal "card state"
hb_start_vcard "$T_TMP/card.state" || t_fatal "vcard"
card_wait_present || t_fatal "card not seen"
(umask 077; echo "$PIN" >"$T_TMP/pin") || t_fatal "pin file"

NS_A=$(ns_name ca)
NS_B=$(ns_name cb)
IF_A="wg${T_ID}$$ca"
IF_B="wg${T_ID}$$cb"
ns_new "$NS_A" && ns_new "$NS_B" || t_fatal "namespaces"
veth_pair "$NS_A" "ve${T_ID}$$ca" "$NS_B" "ve${T_ID}$$cb" || t_fatal "veth"
addr_add "$NS_A" "ve${T_ID}$$ca" "$OUT4_A/$OUT4_PLEN" &&
addr_add "$NS_B" "ve${T_ID}$$cb" "$OUT4_B/$OUT4_PLEN" || t_fatal "addresses"
PUB_A=$CARD_PUB
PUB_B=$(key_new cB) || t_fatal "key B"
CONF_A=$T_TMP/$IF_A.conf
LOG_A=$T_TMP/$IF_A.log
cardd_conf "$CONF_A" "$IF_A" "$T_TMP/pin" "$PUB_A" 0000B5E1 "$PORT_A" "$PUB_B" \
    "$OUT4_B:$PORT_B" "$IN4_B/32" "$IN4_A" "$IN6_A"
start_impl "$NS_B" wggo "$IF_B" || t_fatal "wireguard-go B"
wgx "$NS_B" set "$IF_B" private-key "$T_TMP/cB.key" listen-port "$PORT_B" \
    peer "$PUB_A" allowed-ips "$IN4_A/32" endpoint "$OUT4_A:$PORT_A" ||
    t_fatal "configure B"
tun_up "$NS_B" "$IF_B" "$IN4_B" "$IN6_B" || t_fatal "B up"
start_conf "$NS_A" "$IF_A" "$CONF_A" || t_fatal "wgcardd (card)"
wait_for 10 grep -q 'card: ready' "$LOG_A" || t_fatal "card not ready"
wait_for 10 _audit_at_least "$LOG_A" 1 || t_fatal "no static-static DH"
ping_retry "$NS_A" "$IN4_B" 10 || t_fatal "no card tunnel"

d0=$(card_status_field deciphers)
a0=$(audit_n "$LOG_A")
latency card A2B "$LOG_A"
latency card B2A "$LOG_A"
d1=$(card_status_field deciphers)
a1=$(audit_n "$LOG_A")
# Each round: one static-static DH and one handshake operation.
t_eq "card: vcard DECIPHERs = keyd audit lines during the latency runs" \
    $((d1 - d0)) $((a1 - a0))
grep 'audit: op=ecdh backend=openpgp .*result=ok' "$LOG_A" |
    sed -n 's/.*latency_ms=\([0-9.]*\).*/\1/p' >"$RES/card.ops"

# ------------------------------------------------ bursts of BURST peers

# B gets BURST more wireguard-go interfaces, peer i on 10.98.i.0/24.
burst_setup()
{
	local i ifc set=()
	for i in $(seq 1 "$BURST"); do
		ifc="wg${T_ID}$$k$i"
		BK_PUB[$i]=$(key_new "k$i") || return 1
		start_impl "$NS_B" wggo "$ifc" || return 1
		wgx "$NS_B" set "$ifc" private-key "$T_TMP/k$i.key" \
		    listen-port $((52000 + i)) peer "$PUB_A" \
		    allowed-ips "10.98.$i.1/32" endpoint "$OUT4_A:$PORT_A" &&
		addr_add "$NS_B" "$ifc" "10.98.$i.2/24" &&
		ip -n "$NS_B" link set "$ifc" up &&
		addr_add "$NS_A" "$IF_A" "10.98.$i.1/24" || return 1
		set+=(peer "${BK_PUB[$i]}" allowed-ips "10.98.$i.2/32"
		    endpoint "$OUT4_B:$((52000 + i))")
	done
	BK_SET=("${set[@]}")
}

# _card_idle: the broker has nothing queued or running.
_card_idle()
{
	"$WGCARDCTL" -i "$IF_A" card status 2>/dev/null | grep -q '^  queued: 0$'
}

declare -a BK_PUB BK_SET
burst_ok=0 ops_ss=- ops_wave=-
if burst_setup; then
	burst_ok=1
else
	t_fail "burst" "setup of $BURST wireguard-go peers"
fi

# card_span FROM GAP: the card's sustained rate over the PSO:DECIPHERs
# in the vcard's log after line FROM, up to the first pause longer than
# GAP seconds: "OPS MS OPS_PER_S", MS from the first answer to the last
# (OPS - 1 intervals).
card_span()
{
	tail -n +"$(($1 + 1))" "$VCARD_LOG" | grep 'INS 2A P1 80 P2 86' |
	    awk -v gap="$2" '
	{
		if (n > 0 && $1 - last > gap)
			exit
		if (n == 0)
			first = $1
		last = $1
		n++
	}
	END {
		ms = (last - first) * 1000
		if (n < 2 || ms <= 0) { printf("%d - -\n", n); exit }
		r = (n - 1) * 1000 / ms
		printf(r < 10 ? "%d %.1f %.2f\n" : "%d %.1f %.0f\n", n, ms, r)
	}'
}

# Burst 1: all BURST peers added to A in one UAPI set: BURST static-static
# DHs queued at once, no network involved: the card's own rate.
if [ "$burst_ok" = 1 ]; then
	l0=$(wc -l <"$VCARD_LOG")
	n0=$(audit_n "$LOG_A")
	ok0=$(audit_ok "$LOG_A")
	dd0=$(card_status_field deciphers)
	wgx "$NS_A" set "$IF_A" "${BK_SET[@]}" || t_fail "burst 1" "wg set"
	# (a slow card's queue drops requests older than 5 s unasked: those
	# come again, so the successes are what is counted)
	wait_for "$BURST_WAIT" _audit_ok_at_least "$LOG_A" $((ok0 + BURST))
	ss_ok=$(($(audit_ok "$LOG_A") - ok0))
	ss_dec=$(($(card_status_field deciphers) - dd0))
	read -r ss_n ss_ms ops_ss <<<"$(card_span "$l0" "$GAP")"
	t_eq "burst 1: $BURST static-static DHs succeeded" "$ss_ok" "$BURST"
fi

# Burst 2: one process in B sends an echo request through each of the
# BURST interfaces back to back, so BURST initiations reach A together
# and A's card answers them in a row.  Printed: "i RTT_MS" or "i lost",
# then "span MS" (first request sent to last reply).
burst_ping()
{
	ip netns exec "$NS_B" "${T_PDEATH[@]}" python3 - "$BURST" "$BURST_WAIT" <<'EOP'
import os, select, socket, struct, sys, time

def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xffff)
    s += s >> 16
    return ~s & 0xffff

n, timeout = int(sys.argv[1]), float(sys.argv[2])
ident = os.getpid() & 0xffff
sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
dst = {"10.98.%d.1" % i: i for i in range(1, n + 1)}
sent, rtt = {}, {}
for a, i in dst.items():
    pay = b"wgcard-hb" * 4
    h = struct.pack("!BBHHH", 8, 0, 0, ident, i)
    h = struct.pack("!BBHHH", 8, 0, csum(h + pay), ident, i)
    sent[i] = time.monotonic()
    sock.sendto(h + pay, (a, 0))
t0 = min(sent.values())
end = t0 + timeout
while len(rtt) < n and time.monotonic() < end:
    r, _, _ = select.select([sock], [], [], end - time.monotonic())
    if not r:
        break
    pkt, (src, _) = sock.recvfrom(2048)
    now = time.monotonic()
    ihl = (pkt[0] & 15) * 4
    t, _, _, pid, seq = struct.unpack("!BBHHH", pkt[ihl:ihl + 8])
    if t == 0 and pid == ident and dst.get(src) == seq and seq not in rtt:
        rtt[seq] = now
for i in range(1, n + 1):
    print(i, "%.3f" % ((rtt[i] - sent[i]) * 1000) if i in rtt else "lost")
print("span", "%.1f" % ((max(rtt.values()) - t0) * 1000) if rtt else "-")
EOP
}

if [ "$burst_ok" = 1 ]; then
	sleep 1.5	# out of the under-load second of burst 1, if any
	l0=$(wc -l <"$VCARD_LOG")
	n0=$(audit_n "$LOG_A")
	dd0=$(card_status_field deciphers)
	ck0=$("$WGCARDCTL" -i "$IF_A" show 2>/dev/null |
	    sed -n 's/.*cookie replies sent: //p')
	burst_ping >"$RES/burst.out" 2>&1
	# The last answers' audit lines may still be on their way (and a
	# slow card's last operation may still be running).
	wait_for "$BURST_WAIT" _card_idle
	hs_n=$(($(audit_n "$LOG_A") - n0))
	hs_dec=$(($(card_status_field deciphers) - dd0))
	ck1=$("$WGCARDCTL" -i "$IF_A" show 2>/dev/null |
	    sed -n 's/.*cookie replies sent: //p')
	awk '$1 ~ /^[0-9]+$/ && $2 != "lost" { print $2 }' "$RES/burst.out" \
	    >"$RES/burst.rtt"
	hs_ans=$(wc -l <"$RES/burst.rtt")
	ck=-
	[ -n "$ck0" ] && [ -n "$ck1" ] && ck=$((ck1 - ck0))
	hs_ms=$(awk '$1 == "span" { print $2 }' "$RES/burst.out")
	read -r wave_n wave_ms ops_wave <<<"$(card_span "$l0" "$GAP")"
	t_eq "burst 2: all $BURST simultaneous first pings answered" \
	    "$hs_ans" "$BURST"
	t_eq "burst 2: vcard DECIPHERs = keyd audit lines" "$hs_dec" "$hs_n"
fi

# ---------------------------------------------------------------- report

# row LABEL FILE: one latency line.
row()
{
	local n mn md p9 mx lost=-
	read -r n mn md p9 mx _ <<<"$(stats "$2")"
	[ -f "$2.lost" ] && lost=$(cat "$2.lost")
	printf '%-44s %4s %5s %9s %9s %9s %9s\n' "$1" "$n" "$lost" "$mn" "$md" \
	    "$p9" "$mx"
}

echo
echo "== first packet through a fresh tunnel (ping RTT incl. handshake, ms)"
printf '%-44s %4s %5s %9s %9s %9s %9s\n' setup n lost min median p90 max
row "ref  wireguard-go -> wireguard-go"		"$RES/ref.A2B"
row "sw   wgcardd(sw) -> wireguard-go"		"$RES/sw.A2B"
row "card wgcardd(card) -> wireguard-go"	"$RES/card.A2B"
row "ref  wireguard-go <- wireguard-go (resp.)"	"$RES/ref.B2A"
row "sw   wgcardd(sw) <- wireguard-go (resp.)"	"$RES/sw.B2A"
row "card wgcardd(card) <- wireguard-go (resp.)"	"$RES/card.B2A"

echo
echo "== card operations (virtual card, profile ${VCARD_PROFILE:-default}, PSO:DECIPHER through pcscd/vpcd)"
read -r on omn omd op9 omx omean <<<"$(stats "$RES/card.ops")"
printf 'per-op latency (keyd audit, %s ops): min %s median %s p90 %s max %s mean %s ms\n' \
    "$on" "$omn" "$omd" "$op9" "$omx" "$omean"
# ops/s: whole numbers, two decimals below 10 (a slow token's ~1/s)
ops_rate()
{
	awk -v m="$1" 'BEGIN { if (m > 0) printf(1000 / m < 10 ? "%.2f" : "%.0f", 1000 / m); else print "-" }'
}
ops_audit=$(ops_rate "$omean")
ops_med=$(ops_rate "$omd")
printf 'ops/s from audit latency: %s (1000 / mean), %s (1000 / median)\n' \
    "$ops_audit" "$ops_med"
printf 'vcard DECIPHER count during the latency runs: %s (audit lines: %s)\n' \
    "$((d1 - d0))" "$((a1 - a0))"
if [ "$burst_ok" = 1 ]; then
	printf 'burst 1, %s peers added in one set: %s static-static DHs (%s ok, vcard %s), first to last DECIPHER %s ms = %s ops/s\n' \
	    "$BURST" "$ss_n" "$ss_ok" "$ss_dec" "$ss_ms" "$ops_ss"
	read -r _ bmn bmd _ bmx _ <<<"$(stats "$RES/burst.rtt")"
	printf 'burst 2, %s peers initiate at once: %s/%s answered within %s ms; first-ping RTT min %s median %s max %s ms\n' \
	    "$BURST" "$hs_ans" "$BURST" "${hs_ms:--}" "$bmn" "$bmd" "$bmx"
	printf '  card: %s DECIPHERs in the first wave, first to last %s ms = %s ops/s; %s ops in all (vcard %s); cookie replies %s\n' \
	    "$wave_n" "$wave_ms" "$ops_wave" "$hs_n" "$hs_dec" "$ck"
	t_log "  (burst 2 also counts how fast $BURST wireguard-go processes get their initiations out)"
fi

med()
{
	stats "$1" | awk '{ print $3 }'
}
echo
t_log "summary: fresh-handshake median ms A->B ref $(med "$RES/ref.A2B") sw $(med "$RES/sw.A2B") card $(med "$RES/card.A2B"); B->A ref $(med "$RES/ref.B2A") sw $(med "$RES/sw.B2A") card $(med "$RES/card.B2A"); card op median $omd ms, $ops_med ops/s (audit, 1000/median; $ops_audit by mean), burst $ops_ss ops/s (DH queue), $ops_wave ops/s (handshakes); N=$N, nproc $(nproc), load $(cut -d' ' -f1 /proc/loadavg), noisy"

t_done
