#!/bin/bash
# Fast-path benchmark (not part of make check): issue 15's figures.  Two
# namespaces joined by a veth pair, the same implementation at both ends;
# for each variant:
#
#   tcp1, tcp4	iperf3 TCP, 1 and 4 streams (-P 4), receiver Gbit/s
#   udp64, ...	iperf3 -u -b 0 -l LEN: packets/s received, loss
#   rtt		ping -i 0.01 during a 1-stream TCP transfer: mean, p99
#   cpu		CPU time (utime + stime) of the daemons at both ends over the
#		1-stream TCP run, per GB received
#   rss		peak RSS of one daemon: the sum of VmHWM of all its
#		processes (the larger of the two ends)
#
# Every measurement is made RUNS times, the runs interleaved (run 1 of
# every variant, then run 2, ...) so that a change in the machine's load
# falls on all variants alike; the report gives the median and the range
# of each figure, and the ratios of wgcardd to wireguard-go and to the
# raw veth taken within each run (then their median and range), with the
# load average beside every run.  Scaling with cores: the default wgcardd
# variant again with 1, 2, ... crypto workers (WORKERS).
#
#	tests/bench/throughput.sh			(as root)
#	RUNS=5 TESTS=tcp1 VARIANTS=uring-on ALT=/tmp/old/wgcardd tests/bench/throughput.sh
#
# DURATION	seconds per measurement (default 5; BENCH_SECS is the old name)
# RUNS		runs of every measurement (default 3)
# VARIANTS	any of: raw wggo uring-on uring-off classic-on classic-off
#		(default "raw wggo uring-on"); uring/classic is
#		WGCARD_FWD_BACKEND, on/off is WGCARD_OFFLOAD=1/0.  A wgcardd
#		variant may end in +wN: N crypto workers (WGCARD_FWD_THREADS);
#		without it, the daemon's default for this machine.
# WORKERS	crypto workers for the scaling table (default "1 2 4"): adds
#		uring-on+w0 and uring-on+wN for each N up to nproc (a larger
#		N is skipped, and the reason printed); "" for none
# TESTS		any of: tcp1 tcp4 udp rtt (default all; cpu and rss come
#		with tcp1)
# UDP_SIZES	UDP payload lengths (default "64 1420"; note that 1420 bytes
#		of payload make a 1448-byte IP packet, above the tunnel's
#		MTU of 1420, so each datagram is sent as two fragments
#		inside the tunnel; 1392 is the largest unfragmented payload)
# ALT		another wgcardd binary (wgcard-keyd beside it, as in build/):
#		every wgcardd variant V is also run as V@alt with it,
#		interleaved (a before/after comparison; the ratios V ÷ V@alt
#		are taken within each run)
# PROFILE	1: in the last run, perf records both forwarders of each
#		wgcardd variant during the 1-stream TCP transfer (999 Hz,
#		call graphs); the report lists their top entries
#
# Defaults on two CPUs take about 15 minutes.
# Then tests/bench/memory.sh (peak RSS with 1, 100 and 1000 peers, about
# 2 minutes) and tests/bench/latency.sh (idle ping RTT, about 3 minutes)
# print the rest of issue 15's figures.
T_ID=tp
. "$(dirname "$0")/../lib/common.sh"

DURATION=${DURATION:-${BENCH_SECS:-5}}
RUNS=${RUNS:-3}
VARIANTS=${VARIANTS:-raw wggo uring-on}
WORKERS=${WORKERS-1 2 4}
TESTS=${TESTS:-tcp1 tcp4 udp rtt}
UDP_SIZES=${UDP_SIZES-64 1420}
ALT=${ALT:-}
PROFILE=${PROFILE:-0}
CLK_TCK=$(getconf CLK_TCK)
IPERF_PORT=5201
NCPU=$(nproc)

case $DURATION in
''|*[!0-9]*)	t_fatal "DURATION must be a whole number of seconds" ;;
esac
[ "$DURATION" -ge 2 ] || t_fatal "DURATION must be at least 2"
case $RUNS in
''|*[!0-9]*|0)	t_fatal "RUNS must be a number of runs, at least 1" ;;
esac
for t in $TESTS; do
	case $t in
	tcp1|tcp4|udp|rtt) ;;
	*)	t_fatal "unknown test '$t' (tcp1 tcp4 udp rtt)" ;;
	esac
done
has_test()
{
	case " $TESTS " in
	*" $1 "*) return 0 ;;
	esac
	return 1
}
has_test udp || UDP_SIZES=
for n in $UDP_SIZES; do
	case $n in
	''|*[!0-9]*)	t_fatal "UDP_SIZES: '$n' is not a length" ;;
	esac
done
for c in iperf3 ping jq; do
	command -v "$c" >/dev/null || t_fatal "$c is missing"
done
if [ -n "$ALT" ] && { [ ! -x "$ALT" ] ||
    [ ! -x "$(dirname "$ALT")/wgcard-keyd" ]; }; then
	t_fatal "ALT=$ALT: not an executable with wgcard-keyd beside it"
fi
if [ "$PROFILE" = 1 ] && ! command -v perf >/dev/null; then
	t_fatal "PROFILE=1 needs perf"
fi

# The variant list: VARIANTS, the scaling variants, the ALT twins.
SKIPPED_WORKERS=
LIST=
for v in $VARIANTS; do
	case ${v%+w*} in
	raw|wggo|uring-on|uring-off|classic-on|classic-off) ;;
	*)	t_fatal "unknown variant '$v' (raw wggo uring-on uring-off classic-on classic-off, optionally +wN)" ;;
	esac
	case $v in
	raw+w*|wggo+w*)	t_fatal "$v: workers are wgcardd's" ;;
	*+w*)	n=${v##*+w}
		case $n in
		''|*[!0-9]*)	t_fatal "$v: +wN takes a number" ;;
		esac ;;
	esac
	LIST="$LIST $v"
done
if [ -n "$WORKERS" ]; then
	LIST="$LIST uring-on+w0"
	for n in $WORKERS; do
		case $n in
		''|*[!0-9]*)	t_fatal "WORKERS: '$n' is not a number" ;;
		esac
		[ "$n" = 0 ] && continue
		if [ "$n" -gt "$NCPU" ]; then
			SKIPPED_WORKERS="$SKIPPED_WORKERS $n"
			continue
		fi
		LIST="$LIST uring-on+w$n"
	done
fi
if [ -n "$ALT" ]; then
	for v in $LIST; do
		case $v in
		raw|wggo)	;;
		*)		LIST="$LIST $v@alt" ;;
		esac
	done
fi
# Once each, in order.
LIST=$(printf '%s\n' $LIST | awk '!seen[$0]++' | tr '\n' ' ')

declare -A R=()		# R[variant,metric,run] = figure ("" = not measured)
declare -A LOAD=()	# LOAD[variant,run] = 1-minute load average at its start
declare -A PROF=()	# PROF[variant] = perf data file
DEFAULT_WORKERS=	# what wgcardd chose here (its log)

# ---------------------------------------------------------------- helpers

# fmt FORMAT VALUE: printf of a number, "—" when there is none.
fmt()
{
	if [ -z "$2" ]; then
		printf '—'
	else
		awk -v f="$1" -v x="$2" 'BEGIN { printf(f, x) }'
	fi
}

# stats FORMAT VALUE...: "median (min–max)" of the values, "—" for none;
# with one value, only it.
stats()
{
	local f=$1
	shift
	printf '%s\n' "$@" | awk -v f="$f" 'NF { v[n++] = $1 }
	END {
		if (n == 0) { printf("—"); exit }
		# insertion sort: a handful of values
		for (i = 1; i < n; i++)
			for (j = i; j > 0 && v[j - 1] > v[j]; j--) {
				t = v[j]; v[j] = v[j - 1]; v[j - 1] = t
			}
		m = n % 2 ? v[(n - 1) / 2] : (v[n / 2 - 1] + v[n / 2]) / 2
		if (n == 1)
			printf(f, m)
		else
			printf(f " (" f "–" f ")", m, v[0], v[n - 1])
	}'
}

# median VALUE...: the median alone, nothing when there is none.
median()
{
	printf '%s\n' "$@" | sort -g | awk 'NF { v[n++] = $1 }
	END {
		if (n == 0)
			exit
		if (n % 2)
			m = v[(n - 1) / 2]
		else
			m = (v[n / 2 - 1] + v[n / 2]) / 2
		printf("%g", m)
	}'
}

# ratio A B: A / B, nothing when either is missing or B is 0.
ratio()
{
	[ -n "$1" ] && [ -n "$2" ] || return 0
	awk -v a="$1" -v b="$2" 'BEGIN { if (b != 0) printf("%.4f", a / b) }'
}

# runs_of V METRIC: the figures of every run.
runs_of()
{
	local r
	for ((r = 1; r <= RUNS; r++)); do
		echo "${R[$1,$2,$r]}"
	done
}

# ratios_of V REF METRIC: V / REF within each run.
ratios_of()
{
	local r
	for ((r = 1; r <= RUNS; r++)); do
		ratio "${R[$1,$3,$r]}" "${R[$2,$3,$r]}"
		echo
	done
}

is_wgcardd()
{
	case $1 in
	raw|wggo)	return 1 ;;
	esac
	return 0
}

# bench_pids IFNAME...: the pids of the daemons serving IFNAMEs and of all
# their descendants (wgcardd's key broker, handshake and forwarder).
bench_pids()
{
	local ifc pid
	for ifc in "$@"; do
		pid=${T_IF_PID[$ifc]}
		[ -n "$pid" ] || continue
		echo "$pid"
		descendants "$pid"
	done
}

# fwd_pids IFNAME...: wgcardd's forwarders among them.
fwd_pids()
{
	local p
	for p in $(bench_pids "$@"); do
		[ "$(cat "/proc/$p/comm" 2>/dev/null)" = wgcard-fwd ] && echo "$p"
	done
}

# hwm_kib PID...: the sum of VmHWM (KiB) over PIDs.
hwm_kib()
{
	local p sum=0 r
	for p in "$@"; do
		r=$(awk '/^VmHWM:/ { print $2 }' "/proc/$p/status" 2>/dev/null)
		sum=$((sum + ${r:-0}))
	done
	echo "$sum"
}

# iperf_srv NS: start a one-off iperf3 server in NS; pid in IPERF_SPID.
iperf_srv()
{
	t_bg_ns "$1" iperf3 -s -1 -p "$IPERF_PORT" >>"$T_TMP/iperf-s.log" 2>&1
	IPERF_SPID=$T_LASTPID
	if ! wait_for 5 _listening "$1" "$IPERF_PORT"; then
		stop_pid "$IPERF_SPID" 1
		return 1
	fi
}

# iperf_run NS_S NS_C ADDR OUT [client args]: one iperf3 run of DURATION
# seconds, its JSON report in OUT.  Bounded: the client is killed 20 s
# after its end, the server when the client is done.  With PERF_OUT set,
# perf records the pids PERF_PIDS from the second second for DURATION - 2
# seconds meanwhile.
iperf_run()
{
	local nss=$1 nsc=$2 addr=$3 out=$4 rc cpid ppid=
	shift 4
	: >"$out"
	iperf_srv "$nss" || return 1
	ip netns exec "$nsc" timeout -k 2 $((DURATION + 20)) iperf3 -c "$addr" \
	    -p "$IPERF_PORT" -t "$DURATION" -J "$@" >"$out" 2>/dev/null &
	cpid=$!
	T_PIDS+=("$cpid")
	if [ -n "${PERF_OUT:-}" ] && [ "$DURATION" -ge 3 ]; then
		sleep 1
		perf record -q -F 999 -g -p "$PERF_PIDS" -o "$PERF_OUT" \
		    -- sleep $((DURATION - 2)) >/dev/null 2>&1 &
		ppid=$!
		T_PIDS+=("$ppid")
	fi
	wait "$cpid"
	rc=$?
	[ -n "$ppid" ] && wait "$ppid"
	stop_pid "$IPERF_SPID" 2
	return $rc
}

# tcp_fig JSON: "BITS_PER_SECOND BYTES" received, or nothing.
tcp_fig()
{
	jq -r '.end.sum_received | "\(.bits_per_second) \(.bytes)"' "$1" \
	    2>/dev/null | awk 'NF == 2 && $2 > 0 { printf("%.0f %.0f\n", $1, $2) }'
}

# udp_fig JSON: "RECEIVED_PPS LOSS_PERCENT" as the server counted them.
udp_fig()
{
	jq -r '.end.sum | "\(.packets) \(.lost_packets) \(.seconds)"' "$1" \
	    2>/dev/null | awk 'NF == 3 && $1 > 0 && $3 > 0 {
		printf("%.0f %.2f\n", ($1 - $2) / $3, 100 * $2 / $1) }'
}

# ---------------------------------------------------------------- one variant

# bench_setup VARIANT: namespaces (and daemons); sets DST.
bench_setup()
{
	local v=$1 base=${1%@alt} impl tag nw
	DST='' IF_A='' IF_B=''
	if [ "$v" = raw ]; then
		raw_pair
		return
	fi
	case $base in
	wggo)		impl=wggo tag=go ;;
	*)		impl=wgcardd tag=${base:0:1}
			nw=
			case $base in
			*+w*)	nw=${base##*+w}
				base=${base%+w*} ;;
			esac
			export WGCARD_FWD_BACKEND=${base%-*}
			if [ "${base##*-}" = on ]; then
				export WGCARD_OFFLOAD=1; tag=${tag}1
			else
				export WGCARD_OFFLOAD=0; tag=${tag}0
			fi
			if [ -n "$nw" ]; then
				export WGCARD_FWD_THREADS=$nw
			else
				unset WGCARD_FWD_THREADS
			fi ;;
	esac
	[ "$v" != "${v%@alt}" ] && tag=${tag}x
	if [ "$v" != "${v%@alt}" ]; then
		WGCARDD=$ALT pair_new "$tag" "$impl" "$impl" || return 1
	else
		pair_new "$tag" "$impl" "$impl" || return 1
	fi
	pair_peer A 4 && pair_peer B 4 || return 1
	ping_retry "$NS_A" "$IN4_B" 10 || return 1
	DST=$IN4_B
}

# m_tcp V RUN NAME [args]: a TCP run; Gbit/s in R[V,NAME,RUN].  With
# CPU=1, also the daemons' CPU seconds per GB in R[V,cpu,RUN] (and the
# forwarders' alone in R[V,fwdcpu,RUN]).
m_tcp()
{
	local v=$1 run=$2 name=$3 out=$T_TMP/$1.$3.$2.json c0 c1 f0 f1 fig bps
	local bytes pids fwds
	shift 3
	pids=$(bench_pids $IF_A $IF_B)
	fwds=$(fwd_pids $IF_A $IF_B)
	c0=$(cpu_ticks $pids)
	f0=$(cpu_ticks $fwds)
	iperf_run "$NS_B" "$NS_A" "$DST" "$out" "$@"
	c1=$(cpu_ticks $pids)
	f1=$(cpu_ticks $fwds)
	fig=$(tcp_fig "$out")
	if [ -z "$fig" ]; then
		t_fail "$v $name run $run" "no result from iperf3"
		return 1
	fi
	read -r bps bytes <<<"$fig"
	R[$v,$name,$run]=$(awk -v b="$bps" 'BEGIN { printf("%.3f", b / 1e9) }')
	if [ "${CPU:-0}" = 1 ]; then
		if [ -n "$pids" ]; then
			R[$v,cpu,$run]=$(awk -v t=$((c1 - c0)) -v hz="$CLK_TCK" \
			    -v b="$bytes" 'BEGIN {
				printf("%.3f", t / hz / (b / 1e9)) }')
		else
			# raw veth: iperf3's own CPU (client + server).
			R[$v,cpu,$run]=$(jq -r '.end.cpu_utilization_percent |
			    "\(.host_total) \(.remote_total)"' "$out" |
			    awk -v d="$DURATION" -v b="$bytes" 'NF == 2 {
				printf("%.3f", ($1 + $2) / 100 * d / (b / 1e9)) }')
		fi
		if [ -n "$fwds" ]; then
			R[$v,fwdcpu,$run]=$(awk -v t=$((f1 - f0)) \
			    -v hz="$CLK_TCK" -v b="$bytes" 'BEGIN {
				printf("%.3f", t / hz / (b / 1e9)) }')
		fi
	fi
	t_ok "$(printf 'run %d %-16s %-7s %8s Gbit/s' "$run" "$v" "$name" \
	    "${R[$v,$name,$run]}")${CPU:+  cpu ${R[$v,cpu,$run]:-?} s/GB}"
}

# m_udp V RUN LEN: received packets/s and loss at -b 0.
m_udp()
{
	local v=$1 run=$2 len=$3 out=$T_TMP/$1.udp$3.$2.json fig pps loss
	iperf_run "$NS_B" "$NS_A" "$DST" "$out" -u -b 0 -l "$len"
	fig=$(udp_fig "$out")
	if [ -z "$fig" ]; then
		t_fail "$v udp$len run $run" "no result from iperf3"
		return 1
	fi
	read -r pps loss <<<"$fig"
	R[$v,udp$len,$run]=$pps
	R[$v,loss$len,$run]=$loss
	t_ok "$(printf 'run %d %-16s udp%-4s %8s pkt/s received, %s%% lost' \
	    "$run" "$v" "$len" "$pps" "$loss")"
}

# m_rtt V RUN: ping every 10 ms during a 1-stream TCP transfer, from the
# second half-second to one second before the transfer ends.
m_rtt()
{
	local v=$1 run=$2 out=$T_TMP/$1.rttload.$2.json plog=$T_TMP/$1.ping.$2
	local cpid fig n mean p99
	: >"$out"
	iperf_srv "$NS_B" || { t_fail "$v rtt run $run" "no iperf3 server"; return 1; }
	t_bg_ns "$NS_A" timeout -k 2 $((DURATION + 20)) iperf3 -c "$DST" \
	    -p "$IPERF_PORT" -t "$DURATION" -J >"$out" 2>/dev/null
	cpid=$T_LASTPID
	sleep 0.5
	ip netns exec "$NS_A" ping -n -i 0.01 -W 1 -w $((DURATION - 1)) \
	    "$DST" >"$plog" 2>&1
	wait_gone $((DURATION + 25)) "$cpid"
	stop_pid "$cpid" 1
	stop_pid "$IPERF_SPID" 2
	fig=$(grep -o 'time=[0-9.]*' "$plog" | cut -d= -f2 | sort -g |
	    awk '{ t[NR] = $1; s += $1 }
	    END {
		if (NR == 0)
			exit
		i = int(NR * 0.99 + 0.999999)
		if (i < 1) i = 1
		printf("%.3f %.3f %d\n", s / NR, t[i], NR)
	    }')
	if [ -z "$fig" ]; then
		t_fail "$v rtt run $run" "no ping answered under load"
		return 1
	fi
	read -r mean p99 n <<<"$fig"
	R[$v,rttmean,$run]=$mean
	R[$v,rttp99,$run]=$p99
	if [ -z "$(tcp_fig "$out")" ]; then
		t_fail "$v rtt run $run" "the TCP load did not run"
		return 1
	fi
	t_ok "$(printf 'run %d %-16s rtt     mean %s ms, p99 %s ms (%s answers, %s)' \
	    "$run" "$v" "$mean" "$p99" "$n" \
	    "$(grep -o '[0-9.]*% packet loss' "$plog")")"
}

# m_rss V RUN: peak RSS (MiB) of one daemon, all its processes together.
m_rss()
{
	local v=$1 run=$2 a b
	a=$(hwm_kib $(bench_pids "$IF_A"))
	b=$(hwm_kib $(bench_pids "$IF_B"))
	[ "$b" -gt "$a" ] && a=$b
	R[$v,rss,$run]=$(awk -v k="$a" 'BEGIN { printf("%.1f", k / 1024) }')
}

bench_variant()
{
	local v=$1 run=$2 n perf=
	LOAD[$v,$run]=$(cut -d' ' -f1 /proc/loadavg)
	t_log "# run $run: $v (load ${LOAD[$v,$run]})"
	if ! bench_setup "$v"; then
		t_fail "$v run $run" "setup"
		pair_del
		unset WGCARD_FWD_BACKEND WGCARD_OFFLOAD WGCARD_FWD_THREADS
		return 1
	fi
	if is_wgcardd "$v" && [ "$run" = 1 ]; then
		# Which backend really runs, with how many workers.
		grep -h -m1 -i 'backend' "${T_IF_LOG[$IF_A]}" 2>/dev/null |
		    sed 's/^/# /'
		if [ "$v" = uring-on ] && [ -z "$DEFAULT_WORKERS" ]; then
			DEFAULT_WORKERS=$(grep -h -m1 -o '[0-9]* crypto worker' \
			    "${T_IF_LOG[$IF_A]}" 2>/dev/null | cut -d' ' -f1)
		fi
	fi
	if has_test tcp1; then
		if [ "$PROFILE" = 1 ] && [ "$run" = "$RUNS" ] &&
		    is_wgcardd "$v"; then
			perf="$T_TMP/perf.$v.data"
			PROF[$v]=$perf
		fi
		PERF_OUT=$perf PERF_PIDS=$(fwd_pids $IF_A $IF_B | paste -sd,) \
		    CPU=1 m_tcp "$v" "$run" tcp1
	fi
	has_test tcp4 && m_tcp "$v" "$run" tcp4 -P 4
	for n in $UDP_SIZES; do
		m_udp "$v" "$run" "$n"
	done
	has_test rtt && m_rtt "$v" "$run"
	[ "$v" != raw ] && has_test tcp1 && m_rss "$v" "$run"
	pair_del
	unset WGCARD_FWD_BACKEND WGCARD_OFFLOAD WGCARD_FWD_THREADS
}

# ---------------------------------------------------------------- report

# The columns measured, in order.
columns()
{
	local n
	has_test tcp1 && echo tcp1
	has_test tcp4 && echo tcp4
	for n in $UDP_SIZES; do
		echo "udp$n"
		echo "loss$n"
	done
	if has_test rtt; then
		echo rttmean
		echo rttp99
	fi
	if has_test tcp1; then
		echo cpu
		echo fwdcpu
		echo rss
	fi
}

col_title()
{
	case $1 in
	tcp1)		echo "TCP 1 stream (Gbit/s)" ;;
	tcp4)		echo "TCP 4 streams (Gbit/s)" ;;
	udp*)		echo "UDP ${1#udp} B (kpkt/s rx)" ;;
	loss*)		echo "loss ${1#loss} B (%)" ;;
	rttmean)	echo "RTT under load, mean (ms)" ;;
	rttp99)		echo "RTT p99 (ms)" ;;
	cpu)		echo "CPU (s/GB)" ;;
	fwdcpu)		echo "forwarders' CPU (s/GB)" ;;
	rss)		echo "peak RSS (MiB)" ;;
	esac
}

col_fmt()
{
	case $1 in
	tcp*|cpu|fwdcpu)	echo '%.2f' ;;
	udp*|loss*|rss)		echo '%.1f' ;;
	*)			echo '%.3f' ;;
	esac
}

# cell V COL: median (range) of V's figures in COL.
cell()
{
	local v=$1 c=$2 r vals=()
	for ((r = 1; r <= RUNS; r++)); do
		case $c in
		udp*)	vals+=("$(awk -v p="${R[$v,$c,$r]}" \
			    'BEGIN { if (p != "") print p / 1000 }')") ;;
		*)	vals+=("${R[$v,$c,$r]}") ;;
		esac
	done
	stats "$(col_fmt "$c")" "${vals[@]}"
}

report_header()
{
	local flags
	flags=$(grep -m1 -o -w -E 'avx2|avx512f|avx512vl|ssse3|sha_ni' \
	    /proc/cpuinfo | sort -u | tr '\n' ' ')
	echo
	echo '```'
	echo "\$ DURATION=$DURATION RUNS=$RUNS VARIANTS=\"$VARIANTS\" WORKERS=\"$WORKERS\" TESTS=\"$TESTS\" UDP_SIZES=\"$UDP_SIZES\"${ALT:+ ALT=$ALT}$( [ "$PROFILE" = 1 ] && echo " PROFILE=1") $BENCH_CMD"
	echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "nproc: $NCPU"
	echo "cpu: $(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)${flags:+ ($flags)}"
	echo "kernel: $(uname -r)"
	echo "load average at start: $BENCH_LOAD; at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "iperf3: $(iperf3 --version 2>/dev/null | head -1)"
	echo "wireguard-go: $($WIREGUARD_GO --version 2>/dev/null | head -1)"
	echo "wgcardd: $WGCARDD${ALT:+; @alt: $ALT}"
	echo '```'
}

report_figures()
{
	local v c hdr sep row cols
	cols=$(columns)
	echo
	echo "Figures: median (lowest–highest) of $RUNS runs of $DURATION s."
	echo
	hdr="| variant | load (1 min)"
	sep="|---|---:"
	for c in $cols; do
		hdr="$hdr | $(col_title "$c")"
		sep="$sep|---:"
	done
	echo "$hdr |"
	echo "$sep|"
	for v in $LIST; do
		row="| $v | $(stats %.1f $(for ((r = 1; r <= RUNS; r++)); do
		    echo "${LOAD[$v,$r]}"; done))"
		for c in $cols; do
			if [ "$v" = raw ] && [ "$c" = rss ] || { ! is_wgcardd "$v" &&
			    [ "$c" = fwdcpu ]; }; then
				row="$row | n/a"
			else
				row="$row | $(cell "$v" "$c")"
			fi
		done
		echo "$row |"
	done
	echo
	case " $LIST " in
	*" raw "*)
		echo "raw veth's CPU: the CPU time of the iperf3 client and server (no daemon)."
		;;
	esac
	echo "CPU: utime + stime of every process of the daemons at both ends during the 1-stream TCP run, per GB received; forwarders': of wgcardd's two forwarders alone."
	echo "Peak RSS: VmHWM summed over all processes of one daemon (wgcardd: parent, key broker, handshake, forwarder), the larger end."
	echo "RTT: ping -i 0.01 during a 1-stream TCP transfer in the same direction."
}

# The same-run ratios of every wgcardd variant to a reference.
report_ratios()
{
	local v ref c hdr sep row name cols=
	for c in tcp1 tcp4 $(for n in $UDP_SIZES; do echo "udp$n"; done) \
	    rttmean cpu rss; do
		case $c in
		tcp1|tcp4)	has_test "$c" || continue ;;
		rttmean)	has_test rtt || continue ;;
		cpu|rss)	has_test tcp1 || continue ;;
		esac
		cols="$cols $c"
	done
	case " $LIST " in
	*" raw "*|*" wggo "*|*"@alt "*) ;;
	*)	return 0 ;;
	esac
	echo
	echo "Ratios within each run: median (lowest–highest) over the runs."
	echo
	hdr="| wgcardd variant ÷ reference"
	sep="|---"
	for c in $cols; do
		case $c in
		tcp1)		hdr="$hdr | TCP 1" ;;
		tcp4)		hdr="$hdr | TCP 4" ;;
		udp*)		hdr="$hdr | UDP ${c#udp} B" ;;
		rttmean)	hdr="$hdr | RTT mean" ;;
		cpu)		hdr="$hdr | CPU/GB" ;;
		rss)		hdr="$hdr | peak RSS" ;;
		esac
		sep="$sep|---:"
	done
	echo "$hdr |"
	echo "$sep|"
	for v in $LIST; do
		is_wgcardd "$v" || continue
		for ref in wggo raw "$v@alt"; do
			case " $LIST " in
			*" $ref "*) ;;
			*) continue ;;
			esac
			case $ref in
			wggo)	name=wireguard-go ;;
			raw)	name="raw veth" ;;
			*)	name=$ref ;;
			esac
			row="| $v ÷ $name"
			for c in $cols; do
				if [ "$ref" = raw ] && { [ "$c" = cpu ] ||
				    [ "$c" = rss ]; }; then
					row="$row | n/a"
				else
					row="$row | $(stats %.2f \
					    $(ratios_of "$v" "$ref" "$c"))"
				fi
			done
			echo "$row |"
		done
	done
	echo
	echo "Ratios above 1 are better for Gbit/s and packets/s, below 1 for RTT, CPU and RSS."
}

# Issue 15's targets for single-stream TCP, from the same-run ratios.
report_targets()
{
	local v m verdict
	has_test tcp1 || return 0
	v=uring-on
	case " $LIST " in
	*" $v "*) ;;
	*)	v=$(printf '%s\n' $LIST | grep -v -E '^(raw|wggo)$' | head -1) ;;
	esac
	[ -n "$v" ] || return 0
	case " $LIST " in
	*" raw "*|*" wggo "*) ;;
	*)	return 0 ;;
	esac
	echo
	echo "Targets (issue 15, single-stream TCP, $v, medians of the same-run ratios):"
	case " $LIST " in
	*" wggo "*)
		m=$(median $(ratios_of "$v" wggo tcp1))
		verdict=$(awk -v m="$m" 'BEGIN { print ((m != "" && m >= 10) ? "met" : "not met") }')
		echo "- at least 10x wireguard-go: $(fmt %.2f "$m")x, $verdict" ;;
	esac
	case " $LIST " in
	*" raw "*)
		m=$(median $(ratios_of "$v" raw tcp1))
		verdict=$(awk -v m="$m" 'BEGIN { print ((m != "" && m >= 0.25) ? "met" : "not met") }')
		echo "- at least 25 % of raw veth: $(fmt %.1f "$(awk -v m="${m:-0}" 'BEGIN { print 100 * m }')") %, $verdict" ;;
	esac
}

# Crypto workers: the default variant with 0, 1, 2... workers.
report_scaling()
{
	local v n base row
	[ -n "$WORKERS" ] || return 0
	echo
	echo "Scaling with crypto workers (uring-on, WGCARD_FWD_THREADS=N at both ends; $NCPU CPUs${DEFAULT_WORKERS:+; wgcardd chose $DEFAULT_WORKERS}):"
	echo
	echo "| workers | TCP 1 stream (Gbit/s) | TCP 4 streams (Gbit/s) | CPU (s/GB) | TCP 1 ÷ 0 workers, same run | TCP 4 ÷ 0 workers, same run |"
	echo "|---:|---:|---:|---:|---:|---:|"
	base=uring-on+w0
	for v in $LIST; do
		case $v in
		uring-on+w*)	;;
		*)		continue ;;
		esac
		n=${v#uring-on+w}
		row="| $n | $(cell "$v" tcp1) | $(cell "$v" tcp4) | $(cell "$v" cpu)"
		row="$row | $(stats %.2f $(ratios_of "$v" "$base" tcp1))"
		row="$row | $(stats %.2f $(ratios_of "$v" "$base" tcp4)) |"
		echo "$row"
	done
	for n in $SKIPPED_WORKERS; do
		echo
		echo "$n workers: skipped, this machine has $NCPU CPUs (a worker pays only with a core of its own)."
	done
}

report_runs()
{
	local v r c row cols
	cols=$(columns)
	echo
	echo "<details><summary>Every run</summary>"
	echo
	row="| run | variant | load (1 min)"
	for c in $cols; do
		row="$row | $c"
	done
	echo "$row |"
	echo "|---:|---|---:$(for c in $cols; do printf '|---:'; done)|"
	for ((r = 1; r <= RUNS; r++)); do
		for v in $LIST; do
			row="| $r | $v | ${LOAD[$v,$r]}"
			for c in $cols; do
				row="$row | ${R[$v,$c,$r]:-—}"
			done
			echo "$row |"
		done
	done
	echo
	echo "</details>"
}

report_profiles()
{
	local v
	[ "$PROFILE" = 1 ] || return 0
	for v in $LIST; do
		[ -s "${PROF[$v]:-}" ] || continue
		echo
		echo "Profile of both forwarders, $v, run $RUNS (perf record -F 999 -g, $((DURATION - 2)) s of the 1-stream TCP transfer):"
		echo
		echo '```'
		perf report -i "${PROF[$v]}" --no-children --sort dso --stdio \
		    -g none 2>/dev/null | grep '%' | head -6
		echo
		# Code without symbols (Debian's libcrypto assembly) summed
		# as one entry per library.
		perf report -i "${PROF[$v]}" --no-children --sort dso,sym \
		    --stdio -g none 2>/dev/null | awk '
		$1 ~ /%$/ && NF >= 4 {
			p = $1; sub(/%/, "", p)
			k = $2 "  " $3 " " $4
			if ($4 ~ /^0x/)
				k = $2 "  (code without symbols)"
			s[k] += p
		}
		END { for (k in s) printf("%7.2f%%  %s\n", s[k], k) }' |
		    sort -rn | head -25
		echo '```'
	done
}

# ---------------------------------------------------------------- main

BENCH_CMD="$0${*:+ $*}"
BENCH_LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
nv=$(wc -w <<<"$LIST")
m=$(( $(wc -w <<<"$TESTS $UDP_SIZES") ))
has_test udp && m=$((m - 1))
t_log "# nproc $NCPU; $nv variants ($LIST) x $m measurements x $RUNS runs of ${DURATION}s: about $((nv * RUNS * (m * (DURATION + 2) + 5))) s"
for n in $SKIPPED_WORKERS; do
	t_log "# $n workers skipped: $NCPU CPUs"
done
for ((run = 1; run <= RUNS; run++)); do
	for v in $LIST; do
		bench_variant "$v" "$run"
	done
done
report_header
report_figures
report_ratios
report_targets
report_scaling
report_runs
report_profiles
"$(dirname "$0")/memory.sh" || t_fail "memory.sh" "see its output above"
VARIANTS="raw wggo wgcardd${ALT:+ base}" WGCARDD_BASE=${ALT:-} "$(dirname "$0")/latency.sh" || t_fail "latency.sh" "see its output above"
t_done
