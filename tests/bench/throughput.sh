#!/bin/bash
# Throughput benchmark (not part of make check): single-stream iperf3 TCP
# between two namespaces on a veth pair, through the raw veth, through
# wireguard-go <-> wireguard-go and through wgcardd <-> wgcardd.
#
#	sudo tests/bench/throughput.sh		(BENCH_SECS=10 by default)
T_ID=tp
. "$(dirname "$0")/../lib/common.sh"
t_log "# (IMPL_A/IMPL_B are not used here: each pair runs one implementation)"

SECS=${BENCH_SECS:-10}

gbps()
{
	awk -v b="$1" 'BEGIN { printf("%.2f", b / 1e9) }'
}

# measure LABEL IMPL: one pair (or the raw veth when IMPL is "raw").
measure()
{
	local label=$1 impl=$2 bps dst
	if [ "$impl" = raw ]; then
		NS_A=$(ns_name ra) NS_B=$(ns_name rb)
		ns_new "$NS_A" && ns_new "$NS_B" &&
		    veth_pair "$NS_A" "ve${T_ID}$$a" "$NS_B" "ve${T_ID}$$b" &&
		    addr_add "$NS_A" "ve${T_ID}$$a" "$OUT4_A/24" &&
		    addr_add "$NS_B" "ve${T_ID}$$b" "$OUT4_B/24" ||
		    { t_fail "$label" "setup"; return 1; }
		dst=$OUT4_B
	else
		pair_new "${impl:0:2}" "$impl" "$impl" ||
		    { t_fail "$label" "setup"; return 1; }
		pair_peer A 4 && pair_peer B 4 ||
		    { t_fail "$label" "peers"; return 1; }
		ping_retry "$NS_A" "$IN4_B" 10 ||
		    { t_fail "$label" "no tunnel"; pair_del; return 1; }
		dst=$IN4_B
	fi
	bps=$(iperf_bps "$NS_B" "$NS_A" "$dst" "$SECS")
	pair_del
	if [ "${bps:-0}" -gt 0 ]; then
		t_ok "$label: $(gbps "$bps") Gbit/s"
		echo "$bps" >"$T_TMP/$impl.bps"
	else
		t_fail "$label" "no throughput"
	fi
}

measure "raw veth" raw
measure "wireguard-go <-> wireguard-go" wggo
measure "wgcardd <-> wgcardd" wgcardd

if [ -s "$T_TMP/wggo.bps" ] && [ -s "$T_TMP/wgcardd.bps" ]; then
	t_log "ratio wgcardd / wireguard-go: $(awk -v a="$(cat "$T_TMP/wgcardd.bps")" \
	    -v b="$(cat "$T_TMP/wggo.bps")" 'BEGIN { printf("%.2f", a / b) }')"
fi

t_done
