#!/bin/bash
# Idle-latency benchmark (not part of make check; issue 15, part 4): the
# round-trip time of a slow ping through an idle tunnel, wgcardd against
# wireguard-go and the raw veth in the same run, and the daemons' CPU
# while the tunnel is idle.
#
# Each run sets up, in turn, every variant (two namespaces joined by a
# veth pair; for the tunnels the same implementation at both ends, the
# handshake done and one idle second before measuring) and pings
# through it with `ping -i 0.2 -c COUNT` (so each echo meets an idle
# tunnel). Then, with no traffic at all for IDLE seconds, the CPU time
# of the daemons at both ends (utime + stime of every process, keepalive
# off). Printed: each run's mean, minimum and maximum RTT, and over the
# runs the median of the means with their range, the ratio of each
# variant's median to wireguard-go's, and the idle CPU in percent of one
# core.
#
#	tests/bench/latency.sh				(as root)
#	RUNS=5 COUNT=100 tests/bench/latency.sh
#
# RUNS		runs (default 3), each over all variants
# COUNT		echoes per measurement (default 50, 0.2 s apart)
# VARIANTS	any of: raw wggo wgcardd wgcardd-classic (default "raw wggo
#		wgcardd"); wgcardd-classic is WGCARD_FWD_BACKEND=classic
# IDLE		seconds of the idle-CPU window (default 5; 0: none)
# WGCARDD_BASE	another wgcardd binary (say, an older build) measured
#		as the variant "base" (add it to VARIANTS), to compare
#		before and after in one run
#
# The target (issue 15) is a wgcardd mean at most 0.5x wireguard-go's.
T_ID=lt
. "$(dirname "$0")/../lib/common.sh"

RUNS=${RUNS:-3}
COUNT=${COUNT:-50}
VARIANTS=${VARIANTS:-raw wggo wgcardd}
IDLE=${IDLE:-5}
CLK_TCK=$(getconf CLK_TCK)

for x in RUNS COUNT IDLE; do
	case ${!x} in
	''|*[!0-9]*)	t_fatal "$x must be a whole number" ;;
	esac
done
[ "$RUNS" -ge 1 ] && [ "$COUNT" -ge 2 ] || t_fatal "RUNS >= 1 and COUNT >= 2"
for v in $VARIANTS; do
	case $v in
	raw|wggo|wgcardd|wgcardd-classic) ;;
	base)	[ -x "${WGCARDD_BASE:-}" ] ||
		    t_fatal "variant base: WGCARDD_BASE is not an executable" ;;
	*)	t_fatal "unknown variant '$v' (raw wggo wgcardd wgcardd-classic base)" ;;
	esac
done

t_log "# command: $0 (RUNS=$RUNS COUNT=$COUNT VARIANTS=\"$VARIANTS\" IDLE=$IDLE)"
t_log "# machine: nproc=$(nproc) kernel=$(uname -r) load=$(cut -d' ' -f1-3 /proc/loadavg)"
t_log "# $(wireguard-go --version 2>/dev/null | head -n 1); $(ping -V 2>&1 | head -n 1)"

declare -A R=()		# R[variant,run] = "mean min max"; R[variant,cpu,run]

# daemon_pids: the daemons of the current pair and their children.
daemon_pids()
{
	local ifc pid
	for ifc in "$IF_A" "$IF_B"; do
		[ -n "$ifc" ] || continue
		pid=${T_IF_PID[$ifc]:-}
		[ -n "$pid" ] || continue
		echo "$pid"
		descendants "$pid"
	done
}

# setup V: namespaces (and daemons) for V; sets DST.
setup()
{
	local v=$1 impl=$v tag WGCARDD=$WGCARDD
	IF_A='' IF_B=''
	unset WGCARD_FWD_BACKEND
	if [ "$v" = raw ]; then
		raw_pair
		return
	fi
	tag=${v:0:1}
	if [ "$v" = wgcardd-classic ]; then
		impl=wgcardd tag=c
		export WGCARD_FWD_BACKEND=classic
	elif [ "$v" = base ]; then
		impl=wgcardd tag=o
		WGCARDD=$WGCARDD_BASE
	fi
	pair_new "$tag" "$impl" "$impl" || return 1
	pair_peer A 4 && pair_peer B 4 || return 1
	ping_retry "$NS_A" "$IN4_B" 10 || return 1
	DST=$IN4_B
}

# measure V RUN
measure()
{
	local v=$1 r=$2 log=$T_TMP/$1.$2.ping fig pids c0 c1
	if ! setup "$v"; then
		t_fail "$v run $r" "setup"
		pair_del
		return 1
	fi
	sleep 1
	ip netns exec "$NS_A" ping -n -i 0.2 -W 1 -c "$COUNT" "$DST" \
	    >"$log" 2>&1
	# Each echo's time=: mean, min, max, median.
	fig=$(grep -o 'time=[0-9.]*' "$log" | cut -d= -f2 | sort -g |
	    awk '{ v[NR] = $1; s += $1 } END {
		if (NR == 0) exit
		m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		printf("%.3f %.3f %.3f %.3f\n", s / NR, v[1], v[NR], m) }')
	if [ -z "$fig" ] || ! grep -q ' 0% packet loss' "$log"; then
		t_fail "$v run $r" "ping: $(grep -m1 'packet loss' "$log")"
		pair_del
		return 1
	fi
	R[$v,$r]=$fig
	t_ok "$(printf '%-15s run %d: mean %s ms, min %s, max %s, median %s (%d echoes)' \
	    "$v" "$r" $fig "$COUNT")"
	pids=$(daemon_pids)
	if [ "$IDLE" -gt 0 ] && [ -n "$pids" ]; then
		c0=$(cpu_ticks $pids)
		sleep "$IDLE"
		c1=$(cpu_ticks $pids)
		R[$v,cpu,$r]=$(awk -v t=$((c1 - c0)) -v hz="$CLK_TCK" \
		    -v s="$IDLE" 'BEGIN { printf("%.2f", 100 * t / hz / s) }')
		t_log "#   idle: both ends' daemons used ${R[$v,cpu,$r]} % of a core over ${IDLE} s"
	fi
	pair_del
	unset WGCARD_FWD_BACKEND
}

for r in $(seq 1 "$RUNS"); do
	t_log "# run $r, load $(cut -d' ' -f1-3 /proc/loadavg)"
	for v in $VARIANTS; do
		measure "$v" "$r"
	done
done

# stat V FIELD: "median min max" over the runs of field FIELD (1 mean,
# 2 min, 3 max, 4 median), or nothing.
stat()
{
	local r
	for r in $(seq 1 "$RUNS"); do
		[ -n "${R[$1,$r]:-}" ] && echo "${R[$1,$r]}" | cut -d' ' -f"$2"
	done | sort -g | awk '{ v[NR] = $1 } END {
		if (NR == 0) exit
		m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		printf("%.3f %.3f %.3f\n", m, v[1], v[NR]) }'
}

cpu_stat()
{
	local r
	for r in $(seq 1 "$RUNS"); do
		[ -n "${R[$1,cpu,$r]:-}" ] && echo "${R[$1,cpu,$r]}"
	done | sort -g | awk '{ v[NR] = $1 } END {
		if (NR == 0) exit
		printf("%.2f (%.2f-%.2f)", v[int((NR + 1) / 2)], v[1], v[NR]) }'
}

echo
# div A B: A / B with two decimals, "—" without both.
div()
{
	if [ -n "$1" ] && [ -n "$2" ]; then
		awk -v a="$1" -v b="$2" 'BEGIN {
		    if (b > 0) printf("%.2f", a / b); else printf("—") }'
	else
		printf '—'
	fi
}

echo "Idle ping RTT through the tunnel (ms; ping -i 0.2 -c $COUNT, $RUNS runs): over the runs, the median (and range) of each run's mean, and the medians of each run's median and minimum echo; nproc $(nproc), load at end $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| variant | mean RTT (range) | median RTT (range) | min RTT | mean ÷ wireguard-go | median ÷ wireguard-go | idle CPU, % of a core (range) |"
echo "|---|---:|---:|---:|---:|---:|---:|"
refm=$(stat wggo 1 | cut -d' ' -f1)
refd=$(stat wggo 4 | cut -d' ' -f1)
for v in $VARIANTS; do
	read -r m lo hi <<<"$(stat "$v" 1)"
	read -r d dlo dhi <<<"$(stat "$v" 4)"
	read -r mn _ _ <<<"$(stat "$v" 2)"
	if [ -z "$m" ]; then
		printf '| %s | — | — | — | — | — | — |\n' "$v"
		continue
	fi
	printf '| %s | %s (%s-%s) | %s (%s-%s) | %s | %s | %s | %s |\n' "$v" \
	    "$m" "$lo" "$hi" "$d" "$dlo" "$dhi" "$mn" "$(div "$m" "$refm")" \
	    "$(div "$d" "$refd")" "$(c=$(cpu_stat "$v"); echo "${c:-—}")"
done
echo
t_done
