#!/bin/bash
# netns_move: A's interface is moved to another namespace C after creation
# (the WireGuard netns isolation trick): the UDP sockets stay in A's
# namespace, the tunnel is used from C; deleting the interface in C makes
# the daemon exit.
T_ID=nm
. "$(dirname "$0")/../lib/common.sh"

pair_new 1 || t_fatal "pair"
NS_C=$(ns_name 1c)
ns_new "$NS_C" || t_fatal "namespace C"
pair_peer A 4 && pair_peer B 4 || t_fatal "peers"
t_check "ping before the move" ping_retry "$NS_A" "$IN4_B" 10

pid_a=${T_IF_PID[$IF_A]}
ip -n "$NS_A" link set "$IF_A" netns "$NS_C" || t_fatal "ip link set netns"
t_check "interface gone from A's namespace" \
    wait_for 3 eval "! ip -n $NS_A link show $IF_A >/dev/null 2>&1"
t_check "interface present in C" eval "ip -n $NS_C link show $IF_A >/dev/null"
tun_up "$NS_C" "$IF_A" "$IN4_A" "$IN6_A" || t_fail "addresses in C" "ip"
t_check "daemon alive after the move" pid_alive "$pid_a"
t_check "UDP socket still in A's namespace" _udp_bound "$NS_A" "$PORT_A"
t_check "no UDP socket in C" eval "! _udp_bound $NS_C $PORT_A"
t_check "wg show works after the move (from C)" \
    eval "wgx $NS_C show $IF_A listen-port | grep -qx $PORT_A"
t_check "ping v4 from C through the moved interface" \
    ping_retry "$NS_C" "$IN4_B" 10
t_check "ping v6 from C" ping_ok "$NS_C" "$IN6_B"
t_check "B pings C" ping_ok "$NS_B" "$IN4_A"
t_check "A's namespace has no route into the tunnel" \
    ping_fails "$NS_A" "$IN4_B"
bps=$(iperf_bps "$NS_B" "$NS_C" "$IN4_B" 2)
if [ "${bps:-0}" -gt 0 ]; then
	t_ok "iperf3 from C: $((bps / 1000000)) Mbit/s"
else
	t_fail "iperf3 from C" "no throughput"
fi

# A new peer set from C works too.
wgx "$NS_C" set "$IF_A" peer "$PUB_B" persistent-keepalive 1 ||
    t_fail "wg set from C" "failed"
t_eq "wg set from C applied" \
    "$(wg_field "$NS_C" "$IF_A" persistent-keepalive "$PUB_B")" 1

kids=$(descendants "$pid_a")
ip -n "$NS_C" link del "$IF_A" || t_fail "ip link del in C" "failed"
if wait_gone 5 "$pid_a"; then
	t_ok "daemon exited after its interface was deleted in C"
else
	t_fail "daemon exited after its interface was deleted in C" \
	    "pid $pid_a still there after 5s"
fi
if [ -z "$kids" ] || wait_gone 5 $kids; then
	t_ok "no process of the daemon left"
else
	t_fail "no process of the daemon left" "$kids"
fi
t_check "its UAPI socket is gone" \
    wait_for 3 eval "[ ! -e $WG_RUNDIR/$IF_A.sock ]"

t_done
