#!/bin/bash
# roaming: B's outer address changes; A's endpoint for B follows B's
# authenticated packets and traffic keeps flowing, over v4 and over v6.
T_ID=ro
. "$(dirname "$0")/../lib/common.sh"

# wireguard-go 0.0.20220316 keeps sending from the removed source address:
# it retries without the sticky source only on EINVAL, and this kernel
# answers ENETUNREACH, so it recovers only when its handshake-retry timer
# clears the source (~15 s).  When B is wireguard-go, re-set its endpoint
# for A (which drops the cached source), as a roaming client script would.
# wgcardd as B must cope by itself.
roam_kick()
{
	if [ "$IMPL_B_CUR" = wggo ]; then
		pair_peer B "$1" || t_fail "re-set B's endpoint" "wg set"
	fi
}

pair_new 1 || t_fatal "pair"
pair_peer A 4 && pair_peer B 4 || t_fatal "peers"

t_check "ping B -> A" ping_retry "$NS_B" "$IN4_A" 10
t_eq "A's endpoint for B" "$(endpoint_of "$NS_A" "$IF_A" "$PUB_B")" \
    "$OUT4_B:$PORT_B"

# Continuous traffic from A during the moves.
ping_bg "$NS_A" "$IN4_B" "$T_TMP/ping.log"
ping_pid=$T_LASTPID

# v4: B moves from .2 to .3, then to .4.
cur=$OUT4_B
for new in 192.0.2.3 192.0.2.4; do
	addr_add "$NS_B" "$VETH_B" "$new/$OUT4_PLEN" &&
	    addr_del "$NS_B" "$VETH_B" "$cur/$OUT4_PLEN" ||
	    t_fail "v4 move $cur -> $new" "ip addr"
	cur=$new
	roam_kick 4
	t_check "v4 $new: B pings A after the move" \
	    ping_retry "$NS_B" "$IN4_A" 10
	if wait_for 5 _ep_is "$NS_A" "$IF_A" "$PUB_B" "$new:$PORT_B"; then
		t_ok "v4 $new: A's endpoint for B followed"
	else
		t_fail "v4 $new: A's endpoint for B followed" \
		    "$(endpoint_of "$NS_A" "$IF_A" "$PUB_B")"
	fi
	t_check "v4 $new: A pings B" ping_ok "$NS_A" "$IN4_B"
	t_check "v4 $new: A pings B over inner v6" ping_ok "$NS_A" "$IN6_B"
done

read -r rx lost <<<"$(ping_bg_stop "$ping_pid" "$T_TMP/ping.log")"
# The moves take a few seconds: most pings answered, a few lost at most.
if [ "${rx:-0}" -ge 5 ] && [ "${lost:-99}" -le "${rx:-0}" ]; then
	t_ok "continuous ping from A during the moves ($rx answered, $lost missed)"
else
	t_fail "continuous ping from A during the moves" "$rx answered, $lost missed"
fi

# v6: B switches to A's v6 address, then its own v6 address changes.  A
# sends nothing by itself from here on: if it did, B would follow A's v4
# packets back (both ends roam).
pair_peer B 6 || t_fail "B endpoint v6" "wg set"
t_check "v6: B pings A" ping_retry "$NS_B" "$IN6_A" 10
if wait_for 5 _ep_is "$NS_A" "$IF_A" "$PUB_B" "[$OUT6_B]:$PORT_B"; then
	t_ok "v6: A's endpoint for B is B's v6 address"
else
	t_fail "v6: A's endpoint for B is B's v6 address" \
	    "$(endpoint_of "$NS_A" "$IF_A" "$PUB_B")"
fi
new6=2001:db8:1::3
addr_add "$NS_B" "$VETH_B" "$new6/$OUT6_PLEN" &&
    addr_del "$NS_B" "$VETH_B" "$OUT6_B/$OUT6_PLEN" ||
    t_fail "v6 move" "ip addr"
roam_kick 6
t_check "v6 $new6: B pings A" ping_retry "$NS_B" "$IN4_A" 10
if wait_for 5 _ep_is "$NS_A" "$IF_A" "$PUB_B" "[$new6]:$PORT_B"; then
	t_ok "v6 $new6: A's endpoint for B followed"
else
	t_fail "v6 $new6: A's endpoint for B followed" \
	    "$(endpoint_of "$NS_A" "$IF_A" "$PUB_B")"
fi
t_check "v6 $new6: A pings B" ping_ok "$NS_A" "$IN4_B"


t_done
