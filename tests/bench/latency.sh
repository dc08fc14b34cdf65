#!/bin/bash
# Idle-latency benchmark (not part of make check; issue 15, part 4): the
# round-trip time of a slow ping through an idle tunnel, wgcardd against
# wireguard-go and the raw veth in the same run, and the daemons' CPU
# while the tunnel is idle. The floor-* variants are the least a tunnel in
# user space can cost: build/bench/relay (tests/bench/relay.c) at both
# ends, each packet moved between TUN and UDP unchanged, with no crypto
# and no logic, waiting in one of three ways.
#
# Each run sets up every variant (two namespaces joined by a veth pair;
# for the tunnels the same implementation at both ends, the handshake
# done and one idle second before measuring) and pings through it with
# `ping -i 0.2 -c COUNT` (so each echo meets an idle tunnel): by
# default all variants at once, their pings interleaved (one starts
# 0.2 s / the number of variants after the other), so that every
# variant meets the same load on a shared machine; TOGETHER=0 sets up
# and measures one variant after the other, alone. Then, with no
# traffic at all for IDLE seconds, the CPU time of the daemons at both
# ends (utime + stime of every process, keepalive off). Printed: each
# run's mean, minimum and maximum RTT, and over the runs the median of
# the means with their range, the mean of all echoes (on a loaded
# machine a few echoes of tens of ms make each run's mean; pooled, they
# weigh by their number), the medians, the ratios of each to
# wireguard-go's, and the idle CPU in percent of one core.
#
#	tests/bench/latency.sh				(as root)
#	RUNS=5 COUNT=100 tests/bench/latency.sh
#
# RUNS		runs (default 3), each over all variants
# COUNT		echoes per measurement (default 50, 0.2 s apart)
# VARIANTS	any of: raw wggo wgcardd wgcardd-classic wgcardd-slice
#		wgcardd-libcrypto floor-uring floor-poll floor-threads
#		(default "raw wggo wgcardd");
#		wgcardd-classic is WGCARD_FWD_BACKEND=classic,
#		wgcardd-libcrypto is WGCARD_FWD_COMPACT=0 (every packet on
#		libcrypto, none on the compact path), wgcardd-slice is
#		WGCARD_FWD_SLICE=SLICE_US (default 100; the forwarder's time
#		slice in microseconds, see wgcardd(8)); floor-MODE is
#		`relay MODE` at both ends (uring: one io_uring waited on as
#		the forwarder does; poll: ppoll(2) on TUN and the socket;
#		threads: a thread blocking in read(2) on TUN, another in
#		recvfrom(2); see tests/bench/relay.c)
# TOGETHER	1 (default): the variants measured at the same time; 0: in
#		turn
# SESSIONS	1: each daemon started in a session of its own (setsid),
#		as it runs as a daemon or a service, hence in an autogroup
#		of its own; default 0: in the benchmark's session
# IDLE		seconds of the idle-CPU window (default 5; 0: none)
# ECHO_LOG	a file to which every echo's time is appended as
#		"variant run ms" (to pool the runs or plot them)
# RELAY		the relay of the floor-* variants (default
#		build/bench/relay)
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
TOGETHER=${TOGETHER:-1}
CLK_TCK=$(getconf CLK_TCK)
SESSIONS=${SESSIONS:-0}
RELAY=${RELAY:-$T_ROOT/build/bench/relay}

for x in RUNS COUNT IDLE TOGETHER SESSIONS; do
	case ${!x} in
	''|*[!0-9]*)	t_fatal "$x must be a whole number" ;;
	esac
done
[ "$RUNS" -ge 1 ] && [ "$COUNT" -ge 2 ] || t_fatal "RUNS >= 1 and COUNT >= 2"
if [ "$SESSIONS" = 1 ]; then
	T_PDEATH+=(setsid)
fi
for v in $VARIANTS; do
	case $v in
	raw|wggo|wgcardd|wgcardd-classic|wgcardd-slice|wgcardd-libcrypto) ;;
	floor-uring|floor-poll|floor-threads)
		[ -x "$RELAY" ] ||
		    t_fatal "variant $v: $RELAY is not an executable (make)" ;;
	base)	[ -x "${WGCARDD_BASE:-}" ] ||
		    t_fatal "variant base: WGCARDD_BASE is not an executable" ;;
	*)	t_fatal "unknown variant '$v' (raw wggo wgcardd wgcardd-classic wgcardd-slice wgcardd-libcrypto floor-uring floor-poll floor-threads base)" ;;
	esac
done

t_log "# command: $0 (RUNS=$RUNS COUNT=$COUNT VARIANTS=\"$VARIANTS\" IDLE=$IDLE TOGETHER=$TOGETHER SESSIONS=$SESSIONS)"
t_log "# machine: nproc=$(nproc) kernel=$(uname -r) load=$(cut -d' ' -f1-3 /proc/loadavg)"
t_log "# $(wireguard-go --version 2>/dev/null | head -n 1); $(ping -V 2>&1 | head -n 1)"

declare -A R=()		# R[variant,run] = "mean min max"; R[variant,cpu,run]

declare -A V_NSA=() V_NSB=() V_DST=() V_IFS=()

# daemon_pids V: the daemons of V's pair and their children.
daemon_pids()
{
	local ifc pid
	for ifc in ${V_IFS[$1]:-}; do
		pid=${T_IF_PID[$ifc]:-}
		[ -n "$pid" ] || continue
		echo "$pid"
		descendants "$pid"
	done
}

# relay_start NS IFNAME LOCALPORT PEERADDR PEERPORT MODE: the relay in NS
# (it makes the TUN IFNAME), registered as a daemon of IFNAME (so that
# ns_del stops it, by pid, and daemon_pids finds it); waits until it is
# ready.
relay_start()
{
	local ns=$1 ifc=$2 log=$T_TMP/$2.log pid
	ip netns exec "$ns" "${T_PDEATH[@]}" "$RELAY" "$6" "$ifc" "$3" \
	    "$4" "$5" >"$log" 2>&1 </dev/null &
	pid=$!
	T_PIDS+=("$pid")
	T_IF_PID[$ifc]=$pid
	T_IF_IMPL[$ifc]=relay
	T_IF_LOG[$ifc]=$log
	T_IF_NS[$ifc]=$ns
	if ! wait_for "$START_TIMEOUT" _relay_ready "$log" "$pid"; then
		echo "relay_start: relay $6 $ifc not ready: $(tail -n 3 "$log")"
		return 1
	fi
}

_relay_ready()
{
	pid_alive "$2" || return 2
	grep -q '^ready' "$1"
}

# floor_pair TAG MODE: pair_net's namespaces and veth, a relay MODE at each
# end on the tunnel interfaces' names and ports, the TUNs up with the
# tunnel addresses. Sets DST.
floor_pair()
{
	pair_net "$1" &&
	    relay_start "$NS_A" "$IF_A" "$PORT_A" "$OUT4_B" "$PORT_B" "$2" &&
	    relay_start "$NS_B" "$IF_B" "$PORT_B" "$OUT4_A" "$PORT_A" "$2" &&
	    tun_up "$NS_A" "$IF_A" "$IN4_A" "$IN6_A" &&
	    tun_up "$NS_B" "$IF_B" "$IN4_B" "$IN6_B" &&
	    ping_retry "$NS_A" "$IN4_B" 10 || return 1
	DST=$IN4_B
}

# setup V TAG: namespaces (and daemons) for V, named with TAG; records
# them in V_NSA V_NSB V_DST V_IFS.
setup()
{
	local v=$1 tag=$2 impl=$1 WGCARDD=$WGCARDD r=0
	IF_A='' IF_B='' NS_A='' NS_B=''
	unset WGCARD_FWD_BACKEND WGCARD_FWD_SLICE WGCARD_FWD_COMPACT
	case $v in
	raw)		raw_pair || r=1 ;;
	floor-*)	floor_pair "$tag" "${v#floor-}" || r=1 ;;
	wgcardd-classic)
		export WGCARD_FWD_BACKEND=classic
		impl=wgcardd ;;
	wgcardd-slice)
		export WGCARD_FWD_SLICE=${SLICE_US:-100}
		impl=wgcardd ;;
	wgcardd-libcrypto)
		export WGCARD_FWD_COMPACT=0
		impl=wgcardd ;;
	base)		impl=wgcardd WGCARDD=$WGCARDD_BASE ;;
	esac
	if [ "$v" != raw ] && [ "${v#floor-}" = "$v" ]; then
		if pair_new "$tag" "$impl" "$impl" && pair_peer A 4 &&
		    pair_peer B 4 && ping_retry "$NS_A" "$IN4_B" 10; then
			DST=$IN4_B
		else
			r=1
		fi
	fi
	unset WGCARD_FWD_BACKEND WGCARD_FWD_SLICE WGCARD_FWD_COMPACT
	V_NSA[$v]=$NS_A V_NSB[$v]=$NS_B V_DST[$v]=$DST V_IFS[$v]="$IF_A $IF_B"
	return $r
}

# teardown V
teardown()
{
	local v=$1 ifc
	NS_A=${V_NSA[$v]:-} NS_B=${V_NSB[$v]:-}
	[ -z "$NS_A" ] || pair_del
	# The relays' counters, printed as they exit.
	for ifc in ${V_IFS[$v]:-}; do
		[ "${T_IF_IMPL[$ifc]:-}" = relay ] || continue
		t_log "#   $v: $ifc: $(grep -h '^relay' "${T_IF_LOG[$ifc]}")"
	done
	V_NSA[$v]='' V_NSB[$v]='' V_IFS[$v]=''
}

# ping_start V RUN: COUNT echoes through V's pair, in the background;
# sets PING_PID.
ping_start()
{
	ip netns exec "${V_NSA[$1]}" ping -n -i 0.2 -W 1 -c "$COUNT" \
	    "${V_DST[$1]}" >"$T_TMP/$1.$2.ping" 2>&1 &
	PING_PID=$!
}

# result V RUN: the figures of V's pings in RUN.
result()
{
	local v=$1 r=$2 log=$T_TMP/$1.$2.ping fig
	# Each echo's time=: mean, min, max, median.
	fig=$(grep -o 'time=[0-9.]*' "$log" | cut -d= -f2 | sort -g |
	    awk '{ v[NR] = $1; s += $1 } END {
		if (NR == 0) exit
		m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		printf("%.3f %.3f %.3f %.3f %.3f %d\n", s / NR, v[1], v[NR], m,
		    s, NR) }')
	if [ -z "$fig" ] || ! grep -q ' 0% packet loss' "$log"; then
		t_fail "$v run $r" "ping: $(grep -m1 'packet loss' "$log")"
		return 1
	fi
	R[$v,$r]=$fig
	[ -z "${ECHO_LOG:-}" ] || grep -o 'time=[0-9.]*' "$log" |
	    sed "s/^time=/$v $r /" >>"$ECHO_LOG"
	t_ok "$(printf '%-15s run %d: mean %s ms, min %s, max %s, median %s (%d echoes)' \
	    "$v" "$r" ${fig% * *} "$COUNT")"
}

# idle_cpu RUN V...: the CPU of each V's daemons over the same IDLE
# seconds.
idle_cpu()
{
	local r=$1 v pids
	declare -A c0=() c1=()
	shift
	[ "$IDLE" -gt 0 ] || return 0
	for v; do
		pids=$(daemon_pids "$v")
		[ -n "$pids" ] && c0[$v]=$(cpu_ticks $pids)
	done
	sleep "$IDLE"
	for v; do
		[ -n "${c0[$v]:-}" ] || continue
		c1[$v]=$(cpu_ticks $(daemon_pids "$v"))
		R[$v,cpu,$r]=$(awk -v t=$((c1[$v] - c0[$v])) -v hz="$CLK_TCK" \
		    -v s="$IDLE" 'BEGIN { printf("%.2f", 100 * t / hz / s) }')
		t_log "#   idle: $v: both ends' daemons used ${R[$v,cpu,$r]} % of a core over ${IDLE} s"
	done
}

# measure_apart RUN: each variant in turn, alone.
measure_apart()
{
	local r=$1 v
	for v in $VARIANTS; do
		if ! setup "$v" k; then
			t_fail "$v run $r" "setup"
			teardown "$v"
			continue
		fi
		sleep 1
		ping_start "$v" "$r"
		wait "$PING_PID"
		result "$v" "$r" && idle_cpu "$r" "$v"
		teardown "$v"
	done
}

# measure_together RUN: every variant's pair up at once, their pings
# interleaved (each starts 0.2 s / the number of variants after the
# last), so that all meet the same load.
measure_together()
{
	local r=$1 v tags=klmnopqstu i=0 up=() ok=() pids=() gap
	for v in $VARIANTS; do
		if setup "$v" "${tags:i:1}"; then
			up+=("$v")
		else
			t_fail "$v run $r" "setup"
			teardown "$v"
		fi
		i=$((i + 1))
	done
	[ ${#up[@]} -gt 0 ] || return 0
	gap=$(awk -v n=${#up[@]} 'BEGIN { printf("%.3f", 0.2 / n) }')
	sleep 1
	for v in "${up[@]}"; do
		ping_start "$v" "$r"
		pids+=("$PING_PID")
		sleep "$gap"
	done
	wait "${pids[@]}"
	for v in "${up[@]}"; do
		result "$v" "$r" && ok+=("$v")
	done
	idle_cpu "$r" "${ok[@]}"
	for v in "${up[@]}"; do
		teardown "$v"
	done
}

for r in $(seq 1 "$RUNS"); do
	t_log "# run $r, load $(cut -d' ' -f1-3 /proc/loadavg)"
	if [ "$TOGETHER" = 1 ]; then
		measure_together "$r"
	else
		measure_apart "$r"
	fi
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

# pooled V: the mean of every echo of V over all runs, or nothing.
pooled()
{
	local r
	for r in $(seq 1 "$RUNS"); do
		[ -n "${R[$1,$r]:-}" ] && echo "${R[$1,$r]}" | cut -d' ' -f5-6
	done | awk '{ s += $1; n += $2 } END {
		if (n > 0) printf("%.3f", s / n) }'
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

echo "Idle ping RTT through the tunnel (ms; ping -i 0.2 -c $COUNT, $RUNS runs): over the runs, the median (and range) of each run's mean, the mean of all echoes of all runs, and the medians of each run's median and minimum echo; nproc $(nproc), load at end $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| variant | mean RTT (range) | all echoes' mean | median RTT (range) | min RTT | mean ÷ wireguard-go | all echoes' mean ÷ wireguard-go | median ÷ wireguard-go | idle CPU, % of a core (range) |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
refm=$(stat wggo 1 | cut -d' ' -f1)
refp=$(pooled wggo)
refd=$(stat wggo 4 | cut -d' ' -f1)
for v in $VARIANTS; do
	read -r m lo hi <<<"$(stat "$v" 1)"
	read -r d dlo dhi <<<"$(stat "$v" 4)"
	read -r mn _ _ <<<"$(stat "$v" 2)"
	p=$(pooled "$v")
	if [ -z "$m" ]; then
		printf '| %s | — | — | — | — | — | — | — | — |\n' "$v"
		continue
	fi
	printf '| %s | %s (%s-%s) | %s | %s (%s-%s) | %s | %s | %s | %s | %s |\n' \
	    "$v" "$m" "$lo" "$hi" "$p" "$d" "$dlo" "$dhi" "$mn" \
	    "$(div "$m" "$refm")" "$(div "$p" "$refp")" "$(div "$d" "$refd")" \
	    "$(c=$(cpu_stat "$v"); echo "${c:-—}")"
done
echo
t_done
