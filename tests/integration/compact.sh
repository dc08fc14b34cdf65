#!/bin/bash
# compact: the AEAD a lone packet takes after a quiet spell (the compact
# path of common/aead.c, chosen by netd/fwd_crypto.c) against IMPL_B.
# Slow pings (0.2 s apart, each meeting an idle tunnel) are all answered:
# B opens what A's compact path sealed and A's compact path opens what B
# sealed; A's forwarder counts them (its "crypto: N packets on the
# compact path" line, once a second when it changed). A flood of 2000
# echoes of 1400 bytes is all answered too (a stream: libcrypto, with a
# compact packet wherever the stream pauses). With WGCARD_FWD_COMPACT=0
# nothing takes the compact path and the pings are answered as well.
T_ID=cp
. "$(dirname "$0")/../lib/common.sh"

# compact_count IFACE: the forwarder's last count (0 when none logged).
compact_count()
{
	local n
	n=$(grep -o 'forwarder: crypto: [0-9]* packets on the compact path' \
	    "${T_IF_LOG[$1]}" | tail -n 1 | awk '{ print $3 }')
	echo "${n:-0}"
}

# pings NAME COUNT ARGS...: COUNT echoes from A to B, every one answered.
pings()
{
	local name=$1 count=$2 out
	shift 2
	out=$(nsx "$NS_A" ping -n -q -W 2 -c "$count" "$@" "$IN4_B" 2>&1)
	if printf '%s\n' "$out" | grep -q " $count received"; then
		t_ok "$name: $count of $count answered"
	else
		t_fail "$name: $count of $count answered" \
		    "$(printf '%s\n' "$out" | grep -m1 'packet loss')"
	fi
}

n=0
for compact in 1 0; do
	n=$((n + 1))
	export WGCARD_FWD_COMPACT=$compact
	pair_new "$n" || t_fatal "pair (WGCARD_FWD_COMPACT=$compact)"
	pair_peer A 4 && pair_peer B 4 || t_fatal "peers"
	t_check "compact=$compact: tunnel up" ping_retry "$NS_A" "$IN4_B" 10
	sleep 1.2
	c0=$(compact_count "$IF_A")
	pings "compact=$compact: slow pings" 10 -i 0.2
	sleep 1.2
	c1=$(compact_count "$IF_A")
	if [ "$compact" = 1 ]; then
		# Each echo: A seals the request, opens the answer (20 jobs;
		# one echo may share a wakeup with other traffic).
		t_check "compact=1: the slow pings took the compact path ($((c1 - c0)) of 20 jobs)" \
		    [ $((c1 - c0)) -ge 16 ] && [ $((c1 - c0)) -le 20 ]
	else
		t_eq "compact=0: nothing on the compact path" "$c1" 0
	fi
	pings "compact=$compact: flood" 2000 -f -s 1400
	pings "compact=$compact: slow pings after the flood" 5 -i 0.2
	t_check "compact=$compact: daemon A alive" pid_alive "${T_IF_PID[$IF_A]}"
	pair_del
done
unset WGCARD_FWD_COMPACT

t_done
