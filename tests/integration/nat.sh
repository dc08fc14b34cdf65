#!/bin/bash
# nat: B sits behind a masquerading NAT and has persistent-keepalive 1;
# A has no endpoint for B.  A must learn B's (translated) endpoint from
# B's packets alone, then reach B without B sending anything else first.
T_ID=nt
. "$(dirname "$0")/../lib/common.sh"

NS_A=$(ns_name a) NS_N=$(ns_name n) NS_B=$(ns_name b)
IF_A="wg${T_ID}$$a" IF_B="wg${T_ID}$$b"
V_AN="ve${T_ID}$$an" V_NA="ve${T_ID}$$na"
V_NB="ve${T_ID}$$nb" V_BN="ve${T_ID}$$bn"
PUB_N4=192.0.2.254	# the NAT's outside address, on A's network
PRIV_N4=198.51.100.1	# the NAT's inside address
PRIV_B4=198.51.100.2	# B, inside

ns_new "$NS_A" && ns_new "$NS_N" && ns_new "$NS_B" || t_fatal "namespaces"
veth_pair "$NS_A" "$V_AN" "$NS_N" "$V_NA" &&
    veth_pair "$NS_N" "$V_NB" "$NS_B" "$V_BN" || t_fatal "veth"
addr_add "$NS_A" "$V_AN" "$OUT4_A/24" &&
    addr_add "$NS_N" "$V_NA" "$PUB_N4/24" &&
    addr_add "$NS_N" "$V_NB" "$PRIV_N4/24" &&
    addr_add "$NS_B" "$V_BN" "$PRIV_B4/24" &&
    ip -n "$NS_B" route add default via "$PRIV_N4" || t_fatal "addresses"
nsx "$NS_N" sysctl -q -w net.ipv4.ip_forward=1 >/dev/null || t_fatal "forwarding"
t_log "# iptables: $(iptables --version 2>&1)"
nsx "$NS_N" iptables -t nat -A POSTROUTING -o "$V_NA" -j MASQUERADE ||
    t_fatal "iptables MASQUERADE in the NAT namespace"

t_check "A cannot reach B's inside address directly" \
    ping_fails "$NS_A" "$PRIV_B4"
t_check "B reaches A through the NAT" ping_ok "$NS_B" "$OUT4_A"

pair_start || t_fatal "$IMPL_A on A, $IMPL_B on B"

# A: B as a peer, no endpoint.  B: A without an endpoint yet.
wgx "$NS_A" set "$IF_A" peer "$PUB_B" allowed-ips "$IN4_B/32,$IN6_B/128" &&
    wgx "$NS_B" set "$IF_B" peer "$PUB_A" allowed-ips "$IN4_A/32,$IN6_A/128" ||
    t_fatal "peers"
t_check "A cannot reach B while it knows no endpoint" \
    ping_fails "$NS_A" "$IN4_B"
t_eq "A has no endpoint for B" "$(endpoint_of "$NS_A" "$IF_A" "$PUB_B")" \
    "(none)"

# B: endpoint and keepalive.  Nothing else is sent by B from now on.
wgx "$NS_B" set "$IF_B" peer "$PUB_A" endpoint "$OUT4_A:$PORT_A" \
    persistent-keepalive 1 || t_fatal "B endpoint + keepalive"
if wait_for 10 _ep_host_is "$NS_A" "$IF_A" "$PUB_B" "$PUB_N4"; then
	t_ok "A learnt B's endpoint (the NAT's address): $(endpoint_of "$NS_A" "$IF_A" "$PUB_B")"
else
	t_fail "A learnt B's endpoint" "$(endpoint_of "$NS_A" "$IF_A" "$PUB_B")"
fi
t_check "handshake seen by A" wait_handshake "$NS_A" "$IF_A" "$PUB_B" 5
t_eq "B's keepalive interval" \
    "$(wg_field "$NS_B" "$IF_B" persistent-keepalive "$PUB_A")" 1

# Keepalives keep coming: A's received bytes grow while nobody pings.
read -r rx0 tx0 <<<"$(transfer_of "$NS_A" "$IF_A" "$PUB_B")"
if wait_for 5 _rx_above "$NS_A" "$IF_A" "$PUB_B" "$rx0"; then
	t_ok "keepalives from B arrive through the NAT"
else
	t_fail "keepalives from B arrive through the NAT" "rx stayed at $rx0"
fi

t_check "A pings B (v4 inner) first" ping_ok "$NS_A" "$IN4_B"
t_check "A pings B (v6 inner)" ping_ok "$NS_A" "$IN6_B"
t_check "B pings A" ping_ok "$NS_B" "$IN4_A"
bps=$(iperf_bps "$NS_B" "$NS_A" "$IN4_B" 2)
if [ "${bps:-0}" -gt 0 ]; then
	t_ok "iperf3 A -> B through the NAT: $((bps / 1000000)) Mbit/s"
else
	t_fail "iperf3 A -> B through the NAT" "no throughput"
fi
n=$(nsx "$NS_N" iptables -t nat -L POSTROUTING -v -n -x |
    awk '/MASQUERADE/ { print $1; exit }')
if [ "${n:-0}" -gt 0 ]; then
	t_ok "the NAT translated B's flows ($n new connections)"
else
	t_fail "the NAT translated B's flows" "MASQUERADE counter ${n:-none}"
fi

t_done
