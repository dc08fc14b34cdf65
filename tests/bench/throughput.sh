#!/bin/bash
# Fast-path benchmark (not part of make check).  Two namespaces joined by a
# veth pair, the same implementation at both ends; for each variant:
#
#   tcp1, tcp4	iperf3 TCP, 1 and 4 streams (-P 4), receiver Gbit/s
#   udp64, ...	iperf3 -u -b 0 -l LEN: packets/s received, loss
#   rtt		ping -i 0.01 during a 1-stream TCP transfer: mean, p99
#   cpu		CPU time (utime + stime) of the daemons at both ends over the
#		1-stream TCP run, per GB received
#   rss		peak RSS of one daemon: the sum of VmHWM of all its
#		processes (the larger of the two ends)
#
# and prints a markdown table of the figures and of wgcardd's ratios to
# wireguard-go and to the raw veth.
#
#	tests/bench/throughput.sh			(as root)
#	DURATION=2 VARIANTS="raw wggo uring-on" tests/bench/throughput.sh
#
# DURATION	seconds per measurement (default 5; BENCH_SECS is the old name)
# VARIANTS	any of: raw wggo uring-on uring-off classic-on classic-off
#		(default all, in that order); uring/classic is
#		WGCARD_FWD_BACKEND, on/off is WGCARD_OFFLOAD=1/0
# UDP_SIZES	UDP payload lengths (default "64 1420"; note that 1420 bytes
#		of payload make a 1448-byte IP packet, above the tunnel's
#		MTU of 1420, so each datagram is sent as two fragments
#		inside the tunnel; 1392 is the largest unfragmented payload)
#
# A full default run takes about 4 minutes (6 variants x 5 measurements).
T_ID=tp
. "$(dirname "$0")/../lib/common.sh"

DURATION=${DURATION:-${BENCH_SECS:-5}}
VARIANTS=${VARIANTS:-raw wggo uring-on uring-off classic-on classic-off}
UDP_SIZES=${UDP_SIZES:-64 1420}
CLK_TCK=$(getconf CLK_TCK)
IPERF_PORT=5201

case $DURATION in
''|*[!0-9]*)	t_fatal "DURATION must be a whole number of seconds" ;;
esac
[ "$DURATION" -ge 2 ] || t_fatal "DURATION must be at least 2"
for v in $VARIANTS; do
	case $v in
	raw|wggo|uring-on|uring-off|classic-on|classic-off) ;;
	*)	t_fatal "unknown variant '$v' (raw wggo uring-on uring-off classic-on classic-off)" ;;
	esac
done
for n in $UDP_SIZES; do
	case $n in
	''|*[!0-9]*)	t_fatal "UDP_SIZES: '$n' is not a length" ;;
	esac
done
for c in iperf3 ping jq; do
	command -v "$c" >/dev/null || t_fatal "$c is missing"
done

declare -A R=()		# R[variant,metric] = figure ("" = not measured)

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

# ratio A B: A / B with two decimals, "—" when either is missing or B is 0.
ratio()
{
	if [ -z "$1" ] || [ -z "$2" ]; then
		printf '—'
	else
		awk -v a="$1" -v b="$2" 'BEGIN {
			if (b == 0) printf("—"); else printf("%.2f", a / b) }'
	fi
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

# cpu_ticks PID...: utime + stime, in clock ticks, summed over PIDs.
# /proc/PID/stat holds the whole thread group's times (every thread in
# /proc/PID/task, including threads that already exited).
cpu_ticks()
{
	local p t sum=0
	for p in "$@"; do
		# The command name may hold blanks: cut after its ')'.
		t=$(sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null |
		    awk '{ print $12 + $13 }')
		sum=$((sum + ${t:-0}))
	done
	echo "$sum"
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
# after its end, the server when the client is done.
iperf_run()
{
	local nss=$1 nsc=$2 addr=$3 out=$4 rc
	shift 4
	: >"$out"
	iperf_srv "$nss" || return 1
	ip netns exec "$nsc" timeout -k 2 $((DURATION + 20)) iperf3 -c "$addr" \
	    -p "$IPERF_PORT" -t "$DURATION" -J "$@" >"$out" 2>/dev/null
	rc=$?
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

# bench_setup VARIANT: namespaces (and daemons); sets DST, DPIDS_A/B.
bench_setup()
{
	local v=$1 impl tag
	DST='' IF_A='' IF_B=''
	if [ "$v" = raw ]; then
		NS_A=$(ns_name ra) NS_B=$(ns_name rb)
		VETH_A="ve${T_ID}$$ra" VETH_B="ve${T_ID}$$rb"
		ns_new "$NS_A" && ns_new "$NS_B" &&
		    veth_pair "$NS_A" "$VETH_A" "$NS_B" "$VETH_B" &&
		    addr_add "$NS_A" "$VETH_A" "$OUT4_A/$OUT4_PLEN" &&
		    addr_add "$NS_B" "$VETH_B" "$OUT4_B/$OUT4_PLEN" || return 1
		ping_retry "$NS_A" "$OUT4_B" 5 || return 1
		DST=$OUT4_B
		return 0
	fi
	case $v in
	wggo)		impl=wggo tag=go ;;
	*)		impl=wgcardd tag=${v:0:1}
			export WGCARD_FWD_BACKEND=${v%-*}
			if [ "${v##*-}" = on ]; then
				export WGCARD_OFFLOAD=1; tag=${tag}1
			else
				export WGCARD_OFFLOAD=0; tag=${tag}0
			fi ;;
	esac
	pair_new "$tag" "$impl" "$impl" || return 1
	pair_peer A 4 && pair_peer B 4 || return 1
	ping_retry "$NS_A" "$IN4_B" 10 || return 1
	DST=$IN4_B
}

# m_tcp V NAME [args]: a TCP run; Gbit/s in R[V,NAME].  With CPU=1, also
# the daemons' CPU seconds per GB in R[V,cpu].
m_tcp()
{
	local v=$1 name=$2 out=$T_TMP/$1.$2.json c0 c1 fig bps bytes pids
	shift 2
	pids=$(bench_pids $IF_A $IF_B)
	c0=$(cpu_ticks $pids)
	iperf_run "$NS_B" "$NS_A" "$DST" "$out" "$@"
	c1=$(cpu_ticks $pids)
	fig=$(tcp_fig "$out")
	if [ -z "$fig" ]; then
		t_fail "$v $name" "no result from iperf3"
		return 1
	fi
	read -r bps bytes <<<"$fig"
	R[$v,$name]=$(awk -v b="$bps" 'BEGIN { printf("%.3f", b / 1e9) }')
	if [ "${CPU:-0}" = 1 ]; then
		if [ -n "$pids" ]; then
			R[$v,cpu]=$(awk -v t=$((c1 - c0)) -v hz="$CLK_TCK" \
			    -v b="$bytes" 'BEGIN {
				printf("%.3f", t / hz / (b / 1e9)) }')
		else
			# raw veth: iperf3's own CPU (client + server).
			R[$v,cpu]=$(jq -r '.end.cpu_utilization_percent |
			    "\(.host_total) \(.remote_total)"' "$out" |
			    awk -v d="$DURATION" -v b="$bytes" 'NF == 2 {
				printf("%.3f", ($1 + $2) / 100 * d / (b / 1e9)) }')
		fi
	fi
	t_ok "$(printf '%-11s %-7s %8s Gbit/s' "$v" "$name" "${R[$v,$name]}")${CPU:+  cpu ${R[$v,cpu]:-?} s/GB}"
}

# m_udp V LEN: received packets/s and loss at -b 0.
m_udp()
{
	local v=$1 len=$2 out=$T_TMP/$1.udp$2.json fig pps loss
	iperf_run "$NS_B" "$NS_A" "$DST" "$out" -u -b 0 -l "$len"
	fig=$(udp_fig "$out")
	if [ -z "$fig" ]; then
		t_fail "$v udp$len" "no result from iperf3"
		return 1
	fi
	read -r pps loss <<<"$fig"
	R[$v,udp$len]=$pps
	R[$v,loss$len]=$loss
	t_ok "$(printf '%-11s udp%-4s %8s pkt/s received, %s%% lost' \
	    "$v" "$len" "$pps" "$loss")"
}

# m_rtt V: ping every 10 ms during a 1-stream TCP transfer, from the
# second half-second to one second before the transfer ends.
m_rtt()
{
	local v=$1 out=$T_TMP/$1.rttload.json plog=$T_TMP/$1.ping cpid fig n
	: >"$out"
	iperf_srv "$NS_B" || { t_fail "$v rtt" "no iperf3 server"; return 1; }
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
		t_fail "$v rtt" "no ping answered under load"
		return 1
	fi
	read -r R[$v,rttmean] R[$v,rttp99] n <<<"$fig"
	if [ -z "$(tcp_fig "$out")" ]; then
		t_fail "$v rtt" "the TCP load did not run"
		return 1
	fi
	t_ok "$(printf '%-11s rtt     mean %s ms, p99 %s ms (%s answers, %s)' \
	    "$v" "${R[$v,rttmean]}" "${R[$v,rttp99]}" "$n" \
	    "$(grep -o '[0-9.]*% packet loss' "$plog")")"
}

# m_rss V: peak RSS (MiB) of one daemon, all its processes together.
m_rss()
{
	local v=$1 a b
	a=$(hwm_kib $(bench_pids "$IF_A"))
	b=$(hwm_kib $(bench_pids "$IF_B"))
	[ "$b" -gt "$a" ] && a=$b
	R[$v,rss]=$(awk -v k="$a" 'BEGIN { printf("%.1f", k / 1024) }')
	t_ok "$(printf '%-11s rss     %s MiB (processes: %s)' "$v" \
	    "${R[$v,rss]}" "$(bench_pids "$IF_A" | wc -l)")"
}

bench_variant()
{
	local v=$1 n
	t_log "# $v"
	if ! bench_setup "$v"; then
		t_fail "$v" "setup"
		pair_del
		return 1
	fi
	if [ "$v" != raw ]; then
		# Which backend really runs (wgcardd logs it).
		grep -h -m1 -i 'backend' "${T_IF_LOG[$IF_A]}" 2>/dev/null |
		    sed 's/^/# /'
	fi
	CPU=1 m_tcp "$v" tcp1
	m_tcp "$v" tcp4 -P 4
	for n in $UDP_SIZES; do
		m_udp "$v" "$n"
	done
	m_rtt "$v"
	[ "$v" != raw ] && m_rss "$v"
	pair_del
	unset WGCARD_FWD_BACKEND WGCARD_OFFLOAD
}

# ---------------------------------------------------------------- report

report()
{
	local v n hdr sep row cols ref
	cols="tcp1 tcp4"
	for n in $UDP_SIZES; do
		cols="$cols udp$n"
	done
	cols="$cols rttmean rttp99 cpu rss"

	echo
	echo '```'
	echo "\$ DURATION=$DURATION VARIANTS=\"$VARIANTS\" UDP_SIZES=\"$UDP_SIZES\" $BENCH_CMD"
	echo "nproc: $(nproc)"
	echo "cpu: $(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
	echo "kernel: $(uname -r)"
	echo "load average at start: $BENCH_LOAD"
	echo "iperf3: $(iperf3 --version 2>/dev/null | head -1)"
	echo "wireguard-go: $($WIREGUARD_GO --version 2>/dev/null | head -1)"
	echo '```'
	echo
	hdr="| variant | TCP 1 stream (Gbit/s) | TCP 4 streams (Gbit/s)"
	sep="|---|---:|---:"
	for n in $UDP_SIZES; do
		hdr="$hdr | UDP $n B (kpkt/s rx) | loss $n B"
		sep="$sep|---:|---:"
	done
	hdr="$hdr | RTT under load, mean (ms) | RTT p99 (ms) | CPU (s/GB) | peak RSS (MiB) |"
	sep="$sep|---:|---:|---:|---:|"
	echo "$hdr"
	echo "$sep"
	for v in $VARIANTS; do
		row="| $v | $(fmt %.2f "${R[$v,tcp1]}") | $(fmt %.2f "${R[$v,tcp4]}")"
		for n in $UDP_SIZES; do
			row="$row | $(fmt %.1f "$(awk -v p="${R[$v,udp$n]}" \
			    'BEGIN { if (p != "") print p / 1000 }')")"
			row="$row | $(fmt %.1f%% "${R[$v,loss$n]}")"
		done
		row="$row | $(fmt %.3f "${R[$v,rttmean]}") | $(fmt %.3f "${R[$v,rttp99]}")"
		if [ "$v" = raw ]; then
			row="$row | $(fmt %.2f "${R[$v,cpu]}")¹ | n/a |"
		else
			row="$row | $(fmt %.2f "${R[$v,cpu]}") | $(fmt %.1f "${R[$v,rss]}") |"
		fi
		echo "$row"
	done
	echo
	case " $VARIANTS " in
	*" raw "*)
		echo "¹ raw veth: the CPU time of the iperf3 client and server (no daemon)."
		echo ;;
	esac

	# Ratios: wgcardd / reference, for each wgcardd variant.
	case " $VARIANTS " in
	*" uring-"*|*" classic-"*) ;;
	*)	return 0 ;;
	esac
	case " $VARIANTS " in
	*" raw "*|*" wggo "*) ;;
	*)	return 0 ;;
	esac
	hdr="| wgcardd variant ÷ reference | TCP 1 | TCP 4"
	sep="|---|---:|---:"
	for n in $UDP_SIZES; do
		hdr="$hdr | UDP $n B"
		sep="$sep|---:"
	done
	hdr="$hdr | RTT mean | RTT p99 | CPU/GB | peak RSS |"
	sep="$sep|---:|---:|---:|---:|"
	echo "$hdr"
	echo "$sep"
	for v in $VARIANTS; do
		case $v in
		raw|wggo)	continue ;;
		esac
		for ref in wggo raw; do
			case " $VARIANTS " in
			*" $ref "*) ;;
			*) continue ;;
			esac
			row="| $v ÷ $( [ $ref = raw ] && echo raw veth || echo wireguard-go)"
			for n in tcp1 tcp4; do
				row="$row | $(ratio "${R[$v,$n]}" "${R[$ref,$n]}")"
			done
			for n in $UDP_SIZES; do
				row="$row | $(ratio "${R[$v,udp$n]}" "${R[$ref,udp$n]}")"
			done
			row="$row | $(ratio "${R[$v,rttmean]}" "${R[$ref,rttmean]}")"
			row="$row | $(ratio "${R[$v,rttp99]}" "${R[$ref,rttp99]}")"
			if [ $ref = raw ]; then
				row="$row | n/a | n/a |"
			else
				row="$row | $(ratio "${R[$v,cpu]}" "${R[$ref,cpu]}")"
				row="$row | $(ratio "${R[$v,rss]}" "${R[$ref,rss]}") |"
			fi
			echo "$row"
		done
	done
	echo
	echo "Ratios above 1 are better for Gbit/s and packets/s, below 1 for RTT, CPU and RSS."
	echo "UDP: iperf3 -u -b 0 -l LEN, the packets the receiver got per second and the share lost."
	echo "CPU: utime + stime of every process of the daemons at both ends during the 1-stream TCP run, per GB received."
	echo "Peak RSS: VmHWM summed over all processes of one daemon (wgcardd: parent, key broker, handshake, forwarder), the larger end."
	echo "RTT: ping -i 0.01 during a 1-stream TCP transfer in the same direction."
	echo "Each figure is one run of $DURATION s on a machine that may have been busy (see the load average)."
}

# ---------------------------------------------------------------- main

BENCH_CMD="$0${*:+ $*}"
BENCH_LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
n=0
for v in $VARIANTS; do
	n=$((n + 1))
done
m=$((3 + $(wc -w <<<"$UDP_SIZES")))
t_log "# $n variants x $m measurements of ${DURATION}s: about $((n * (m * (DURATION + 2) + 5))) s"
for v in $VARIANTS; do
	bench_variant "$v"
done
report
t_done
