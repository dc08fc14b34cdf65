#!/bin/bash
# mtu: interface MTU changes, up to large MTUs. The forwarder pads to the
# MTU it knows (the parent follows ip-link changes) and its buffers take
# any MTU up to 65535: packets just under the MTU cross the tunnel in both
# directions (outer UDP fragmented by the kernel, DF off), after raising
# the MTU to 9000 and to 60000 and after lowering it again.
T_ID=mt
. "$(dirname "$0")/../lib/common.sh"

# mtu_ping_fails_big NS ADDR SIZE: a DF ping of SIZE does not leave.
ping_fails_big()
{
	! nsx "$1" ping -c 1 -W 1 -M do -s "$3" "$2" >/dev/null 2>&1
}

# quiet_ping NS ARGS...: ping without the chatter.
quiet_ping()
{
	local ns=$1
	shift
	nsx "$ns" ping -q "$@" >/dev/null 2>&1
}

pair_new 1 || t_fatal "pair"
pair_peer A 4 && pair_peer B 4 || t_fatal "peers"
t_check "ping A -> B at the default MTU" ping_retry "$NS_A" "$IN4_B" 10

for mtu in 9000 60000 1280 1420; do
	ip -n "$NS_A" link set "$IF_A" mtu "$mtu" || t_fail "set mtu $mtu" "ip"
	ip -n "$NS_B" link set "$IF_B" mtu "$mtu" || t_fail "set mtu $mtu" "ip"
	sleep 1.5	# the parent looks once a second
	size=$((mtu - 28))
	t_check "MTU $mtu: v4 ping of $size bytes A -> B (DF set)" \
	    quiet_ping "$NS_A" -c 2 -W 3 -M do -s "$size" "$IN4_B"
	t_check "MTU $mtu: v4 ping of $size bytes B -> A" \
	    quiet_ping "$NS_B" -c 2 -W 3 -M do -s "$size" "$IN4_A"
	size6=$((mtu - 48))
	t_check "MTU $mtu: v6 ping of $size6 bytes A -> B" \
	    quiet_ping "$NS_A" -6 -c 2 -W 3 -M do -s "$size6" "$IN6_B"
	t_check "MTU $mtu: one byte over the MTU is refused locally" \
	    ping_fails_big "$NS_A" "$IN4_B" $((size + 1))
done
t_check "daemon A alive" pid_alive "${T_IF_PID[$IF_A]}"
t_check "daemon B alive" pid_alive "${T_IF_PID[$IF_B]}"
t_done
