#!/bin/bash
# fwd_bench.sh: single-stream TCP throughput through the tunnel, for the
# forwarder's backends and offloads, and wireguard-go for comparison.
# Two namespaces joined by a veth pair, the same implementation on both
# ends, iperf3 for SECS seconds (default 5), ROUNDS rounds (default 1);
# also the ping RTT and the largest RSS of any daemon process under load.
#
#	tests/tools/fwd_bench.sh [VARIANT...]
#
# VARIANT: classic-off classic-on uring-off uring-on wggo (default all);
# BACKEND-OFFLOADS-tN also sets WGCARD_FWD_THREADS=N (crypto workers).
# Root only; prints one line per run.
T_ID=fb
. "$(dirname "$0")/../lib/common.sh"

SECS=${SECS:-5}
ROUNDS=${ROUNDS:-1}
variants=("$@")
[ ${#variants[@]} -eq 0 ] &&
    variants=(classic-off classic-on uring-off uring-on wggo)

# max_rss IFNAME...: the largest VmRSS (KiB) of the daemons' processes.
max_rss()
{
	local ifc pid p max=0 r
	for ifc in "$@"; do
		pid=${T_IF_PID[$ifc]}
		[ -n "$pid" ] || continue
		for p in $pid $(descendants "$pid"); do
			r=$(awk '/^VmRSS/ { print $2 }' "/proc/$p/status" \
			    2>/dev/null)
			[ "${r:-0}" -gt "$max" ] && max=$r
		done
	done
	echo "$max"
}

run_one()
{
	local v=$1 round=$2 impl backend offl bps rtt rss tag threads=
	case $v in
	wggo)	impl=wggo ;;
	*-t*)	impl=wgcardd threads=${v##*-t}
		backend=${v%%-*} offl=${v#*-}; offl=${offl%%-*} ;;
	*)	impl=wgcardd backend=${v%-*} offl=${v#*-} ;;
	esac
	export WGCARD_FWD_THREADS=$threads
	[ "$offl" = on ] && offl=1 || offl=0
	tag=$round${v:0:1}${offl}${threads:-d}
	export WGCARD_FWD_BACKEND=$backend WGCARD_OFFLOAD=$offl
	pair_new "$tag" "$impl" "$impl" || { t_fail "$v" "pair"; return; }
	pair_peer A 4 && pair_peer B none || { t_fail "$v" "peers"; return; }
	ping_retry "$NS_A" "$IN4_B" 10 || { t_fail "$v" "no ping"; pair_del; return; }
	rtt=$(ip netns exec "$NS_A" ping -n -q -c 20 -i 0.05 "$IN4_B" |
	    awk -F/ '/^rtt/ { print $5 }')
	(sleep $((SECS / 2 + 1)); max_rss "$IF_A" "$IF_B" >"$T_TMP/rss") &
	rsspid=$!
	bps=$(iperf_bps "$NS_B" "$NS_A" "$IN4_B" "$SECS")
	wait "$rsspid"
	rss=$(cat "$T_TMP/rss" 2>/dev/null)
	t_ok "$(printf '%-12s %6.2f Gbit/s  ping %s ms  max RSS %s KiB' \
	    "$v" "$(echo "${bps:-0} / 1000000000" | bc -l)" "${rtt:-?}" \
	    "${rss:-?}")"
	if [ "$impl" = wgcardd ]; then
		grep -h 'forwarder:.*backend' "${T_IF_LOG[$IF_A]}" | head -1
	fi
	pair_del
}

for r in $(seq 1 "$ROUNDS"); do
	for v in "${variants[@]}"; do
		run_one "$v" "$r"
	done
done
t_done
