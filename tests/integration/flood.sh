#!/bin/bash
# flood: a handshake-initiation flood (valid mac1, random content: each
# would cost a static-key DH) from a third host while A (wgcardd) and B
# (the matrix's side B) have a tunnel:
#  - A answers the flood with cookie replies (under load), so the flood
#    reaches the key broker for only a small share of its packets;
#  - the established tunnel keeps carrying B's pings with no loss;
#  - B, made to handshake again in the middle of the flood, gets through
#    (cookie reply, then an initiation with mac2) within seconds;
#  - once the flood stops, cookie mode ends and the same daemon serves on.
T_ID=fl
. "$(dirname "$0")/../lib/common.sh"

CTL=$T_ROOT/build/wgcardctl
RATE=${FLOOD_RATE:-4000}
OUT4_C=198.18.77.2

# ops: the key broker's operation count (wgcardctl card status).
ops()
{
	ip netns exec "$NS_A" "$CTL" -i "$IF_A" card status 2>/dev/null |
	    awk -F': ' '/operations/ { print $2 + 0; exit }'
}

# flood SECONDS: the flood from C, summary in $T_TMP/flood.out.
flood()
{
	hs_flood "$NS_C" "$OUT4_CA" "$PORT_A" "$PUB_A" "$RATE" "$1" \
	    "$T_TMP/flood.out"
}
field() { flood_field "$T_TMP/flood.out" "$1"; }

pair_new 1 || t_fatal "pair"
pair_peer A 4 && pair_peer B 4 || t_fatal "peers"
# C: the flooder, on its own link to A.
NS_C=$(ns_name c)
OUT4_CA=198.18.77.1
ns_new "$NS_C" || t_fatal "namespace C"
veth_pair "$NS_A" "vc${T_ID}$$a" "$NS_C" "vc${T_ID}$$c" || t_fatal "veth C"
addr_add "$NS_A" "vc${T_ID}$$a" "$OUT4_CA/24" &&
addr_add "$NS_C" "vc${T_ID}$$c" "$OUT4_C/24" || t_fatal "addresses C"

t_check "tunnel up" ping_retry "$NS_B" "$IN4_A" 10

# 1. The flood against an established tunnel.
ops0=$(ops)
ping_bg "$NS_B" "$IN4_A" "$T_TMP/ping1.log"
ppid=$T_LASTPID
flood 6
read -r ans lost <<<"$(ping_bg_stop "$ppid" "$T_TMP/ping1.log")"
ops1=$(ops)
sent=$(field sent)
cookies=$(field cookies)
t_log "# flood: $(cat "$T_TMP/flood.out"); key broker operations: $ops0 -> $ops1"
t_check "the flood was sent (${sent:-0} initiations)" test "${sent:-0}" -ge $((RATE * 3))
t_check "A answered with cookie replies (${cookies:-0})" test "${cookies:-0}" -gt 0
t_check "few initiations reached the key broker ($((ops1 - ops0)) of ${sent:-0})" \
    test $((ops1 - ops0)) -lt $(( ${sent:-0} / 10 ))
t_check "the tunnel carried every ping during the flood ($ans answered, $lost lost)" \
    test "${ans:-0}" -ge 20 -a "${lost:-1}" -eq 0
t_check "A is still running" pid_alive "${T_IF_PID[$IF_A]}"

# 2. B must handshake again during a flood.
flood 10 &
fpid=$!
sleep 1.5
t0=$(date +%s)
wgx "$NS_B" set "$IF_B" peer "$PUB_A" remove && pair_peer B 4 ||
    t_fail "B forgets A" "wg set"
t_check "B's new handshake gets through the flood" \
    ping_retry "$NS_B" "$IN4_A" 8
t_check "... and is a new one" wait_handshake "$NS_B" "$IF_B" "$PUB_A" 5 $((t0 - 1))
wait "$fpid"
t_log "# flood 2: $(cat "$T_TMP/flood.out")"

# 3. After the flood.
t_check "A serves on after the flood" ping_ok "$NS_A" "$IN4_B"
if [ "$IMPL_A" = wgcardd ] && [ -x "$CTL" ]; then
	undercookie() { ip netns exec "$NS_A" "$CTL" -i "$IF_A" show 2>/dev/null | grep -qi 'cookie mode: off\|"under_load": *false\|under_load 0'; }
	t_check "cookie mode ends once the flood stops" wait_for 5 undercookie
fi
t_check "same daemon" pid_alive "${T_IF_PID[$IF_A]}"

t_done
