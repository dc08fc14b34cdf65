#!/bin/bash
# tunstudy.sh: the TUN I/O study (docs/performance.md, "TUN I/O study").
#
# build/bench/tunecho answers ICMP echo requests on a TUN interface in its
# own network namespace (10.77.0.1/24 on the TUN, so 10.77.0.0/24 is
# routed into it), with each I/O method in turn, driven by
#   A: one flood ping, ping -f -c 20000 -q 10.77.0.2 (84-byte packets);
#   B: 5 flood pings at once, ping -f -c 20000 -s 1472 -q (1500-byte
#      packets), to 10.77.0.2 ... 10.77.0.6: one address each, so that a
#      multiqueue TUN, which picks the queue by a hash of the addresses,
#      can spread them (tunecho answers for every address).
# Timing runs (REPS times, medians): throughput from each ping's wall time
# (echoes a second; Mbit/s of the replies' IP packets), mean RTT (ping's
# avg; for B the mean of the 5), CPU time of tunecho (utime and stime
# from /proc/PID/stat, all its threads and io_uring workers), tunecho's
# own counters (packets per wakeup), the machine's CPU use. Then, in
# separate runs of A and of B: tunecho's system calls counted by perf stat
# (raw_syscalls:sys_enter, a counter: tunecho runs at nearly full speed),
# and a run under strace -c -f: the system calls again and the system
# time spent in them (strace stops tunecho at every call, so its echo
# rate there is not the timing runs', and fewer calls mean less of that
# overhead).
#
#   tests/bench/tunstudy.sh [REPS]	(root; REPS default 3; not in make check)
#   VARIANTS="name:method:queues[:opt] ..." overrides the list below;
#   N=count sets the pings' -c (20000); KEEP=1 keeps the work directory.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=$ROOT/build/bench/tunecho
REPS=${1:-3}
NS=tunstudy$$
TMP=$(mktemp -d /tmp/tunstudy.XXXXXX)
HZ=$(getconf CLK_TCK)
N=${N:-20000}
PID=
SPID=
PINGS=
IFN=0
VARIANTS=${VARIANTS:-"blocking:blocking:1 event:event:1 uring:uring:1
    uring-batch:uring-batch:1 uring-batch-w:uring-batch:1:-w
    uring-posted:uring-batch:1:-r
    event-mq2:event:2 uring-batch-mq2:uring-batch:2"}

[ "$(id -u)" -eq 0 ] || { echo "tunstudy.sh: run as root" >&2; exit 1; }
[ -x "$BIN" ] || { echo "tunstudy.sh: $BIN missing (make)" >&2; exit 1; }
for c in strace perf ping; do
	command -v $c >/dev/null ||
	    { echo "tunstudy.sh: $c missing" >&2; exit 1; }
done

cleanup()
{
	local p
	# Only what this script started, by pid.
	for p in $PINGS $SPID $PID; do
		kill "$p" 2>/dev/null
	done
	for p in $PINGS $SPID $PID; do
		wait "$p" 2>/dev/null
	done
	ip netns del "$NS" 2>/dev/null
	[ -n "${KEEP:-}" ] || rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP
ip netns add "$NS" || exit 1
ip -n "$NS" link set lo up || exit 1

# start METHOD QUEUES [OPT]: tunecho on a TUN of its own (a TUN whose ring
# has just gone may linger a moment), address up, first echo seen.
start()
{
	local ifn i
	IFN=$((IFN + 1))
	ifn=ts$$x$IFN
	# shellcheck disable=SC2086
	ip netns exec "$NS" "$BIN" -m "$1" -q "$2" ${3:-} "$ifn" \
	    >"$TMP/echo.out" 2>&1 &
	PID=$!
	for i in $(seq 50); do
		grep -q '^ready' "$TMP/echo.out" && break
		kill -0 "$PID" 2>/dev/null || break
		sleep 0.05
	done
	grep -q '^ready' "$TMP/echo.out" || { cat "$TMP/echo.out" >&2; return 1; }
	ip -n "$NS" addr add 10.77.0.1/24 dev "$ifn" &&
	    ip -n "$NS" link set "$ifn" up || return 1
	ip netns exec "$NS" ping -c 2 -i 0.2 -W 1 -q 10.77.0.2 >/dev/null ||
	    { echo "tunstudy.sh: no echo from tunecho -m $1" >&2; return 1; }
}

# stop [QFILE]: tunecho's counters line ("total echoed=...") in STOPLINE,
# its per-queue lines appended to QFILE.
stop()
{
	kill -TERM "$PID" 2>/dev/null
	wait "$PID" 2>/dev/null
	PID=
	STOPLINE=$(grep '^total' "$TMP/echo.out")
	[ -n "${1:-}" ] && grep '^queue' "$TMP/echo.out" >>"$1"
	grep -v -e '^ready' -e '^total' -e '^queue' "$TMP/echo.out" >&2
}

# utime and stime of tunecho, in clock ticks.
cpu() { awk '{ print $14, $15 }' "/proc/$PID/stat"; }
# Its time on CPU in ns, all threads (io_uring workers included): finer
# than the ticks.
cpu_ns() { cat /proc/"$PID"/task/*/schedstat 2>/dev/null |
    awk '{ s += $1 } END { printf "%.0f\n", s }'; }
# The whole machine: "busy total" jiffies from /proc/stat.
sys_cpu() { awk '/^cpu / { t = 0; for (i = 2; i <= 9; i++) t += $i
    print t - $5 - $6, t }' /proc/stat; }
now() { date +%s.%N; }

# flood A|B: FLOOD="echo_per_s mbit_per_s mean_rtt_ms lost"
flood()
{
	local t0 t1 i size=56 n=1 p
	[ "$1" = B ] && size=1472 n=5
	PINGS=
	t0=$(now)
	for i in $(seq "$n"); do
		ip netns exec "$NS" ping -f -c "$N" -s "$size" -q \
		    "10.77.0.$((i + 1))" >"$TMP/ping$i" 2>&1 &
		PINGS="$PINGS $!"
	done
	for p in $PINGS; do
		wait "$p"
	done
	t1=$(now)
	PINGS=
	FLOOD=$(cat "$TMP"/ping[1-$n] | awk -v t0="$t0" -v t1="$t1" \
	    -v bytes=$((size + 28)) -v n="$n" -v c="$N" '
	    / received/ { for (i = 2; i <= NF; i++)
		if ($i ~ /^received/) r += $(i - 1) }
	    /^rtt/ { split($4, a, "/"); s += a[2]; k++ }
	    END { d = t1 - t0
		printf "%.0f %.1f %.4f %d\n", r / d, r * bytes * 8 / d / 1e6,
		    k ? s / k : -1, n * c - r }')
}

# The value of key=... in tunecho's counters line.
counter() { tr ' ' '\n' <<<"$STOPLINE" | sed -n "s/^$1=//p"; }

# one_timing NAME METHOD QUEUES OPT TEST: a line of the timing file:
# echo/s Mbit/s rtt_ms lost usr_ms sys_ms cpu_ms per_wakeup echoed
# iou-wrk busy%
one_timing()
{
	local c0 c1 n0 n1 s0 s1 f wrk
	start "$2" "$3" "$4" || exit 1
	c0=$(cpu) n0=$(cpu_ns) s0=$(sys_cpu)
	flood "$5"
	f=$FLOOD
	s1=$(sys_cpu) n1=$(cpu_ns) c1=$(cpu)
	wrk=$(cat /proc/"$PID"/task/*/comm 2>/dev/null | grep -c '^iou-wrk')
	stop "$TMP/queues.$1.$5"
	echo "$f $c0 $c1 $n0 $n1 $s0 $s1 $(counter per_wakeup)" \
	    "$(counter echoed) $wrk" | awk -v hz="$HZ" -v ncpu="$(nproc)" '{
		printf "%s %s %s %s %.0f %.0f %.1f %s %s %s %.0f\n",
		    $1, $2, $3, $4, ($7 - $5) * 1000 / hz,
		    ($8 - $6) * 1000 / hz, ($10 - $9) / 1e6, $15, $16, $17,
		    (($14 - $12) > 0 ? ncpu * 100 * ($13 - $11) / ($14 - $12) : 0) }'
}

# one_perf NAME METHOD QUEUES OPT TEST: "calls echoed echo/s", the system
# calls counted by perf stat (a tracepoint counter: no stop per call).
one_perf()
{
	local out=$TMP/perf.$1.$5
	start "$2" "$3" "$4" || exit 1
	rm -f "$TMP/flooded"
	perf stat -e raw_syscalls:sys_enter -x, -o "$out" -p "$PID" -- \
	    sh -c "while [ ! -e '$TMP/flooded' ]; do sleep 0.02; done" &
	SPID=$!
	sleep 0.3
	flood "$5"
	touch "$TMP/flooded"
	wait "$SPID"
	SPID=
	stop
	echo "$(awk -F, '/sys_enter/ { print $1 + 0 }' "$out")" \
	    "$(counter echoed)" "${FLOOD%% *}"
}

# one_strace NAME METHOD QUEUES OPT TEST: "calls seconds echoed echo/s"
one_strace()
{
	local out=$TMP/strace.$1.$5
	start "$2" "$3" "$4" || exit 1
	strace -c -f -p "$PID" -o "$out" 2>/dev/null &
	SPID=$!
	sleep 0.5
	flood "$5"
	# INT is ignored by background jobs of a script; TERM detaches.
	kill -TERM "$SPID"
	wait "$SPID" 2>/dev/null
	SPID=
	stop
	echo "$(awk '$NF == "total" { print $4, $2 }' "$out")" \
	    "$(counter echoed)" "${FLOOD%% *}"
}

med() {
	awk -v c="$1" '{ print $c }' "$2" | sort -g |
	    awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

printf '# tests/bench/tunstudy.sh %s, %s UTC\n' "$REPS" "$(date -u '+%Y-%m-%d %H:%M')"
printf '# kernel %s, %s CPUs (%s), load %s\n' "$(uname -r)" "$(nproc)" \
    "$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)" \
    "$(cut -d' ' -f1-3 /proc/loadavg)"
printf '# %s; %s; %s\n' "$(strace -V | head -n 1)" \
    "$(ping -V | head -n 1)" "$(perf --version)"
T0=$(now)
for v in $VARIANTS; do
	IFS=: read -r name m q opt <<<"$v"
	for t in A B; do
		: >"$TMP/time.$name.$t"
		for _ in $(seq "$REPS"); do
			one_timing "$name" "$m" "$q" "${opt:-}" "$t" \
			    >>"$TMP/time.$name.$t"
		done
		one_perf "$name" "$m" "$q" "${opt:-}" "$t" \
		    >"$TMP/pcount.$name.$t"
		one_strace "$name" "$m" "$q" "${opt:-}" "$t" \
		    >"$TMP/scount.$name.$t"
	done
	echo "# $name done ($(awk -v t0="$T0" -v t1="$(now)" \
	    'BEGIN { printf "%.0f", t1 - t0 }') s)"
done

# The tables: medians of the timing runs, the counting runs, ratios.
for t in A B; do
	echo
	if [ "$t" = A ]; then
		echo "## A: 1 x ping -f -c $N (84-byte packets); timing: median of $REPS"
	else
		echo "## B: 5 x ping -f -c $N -s 1472 (1500-byte packets); timing: median of $REPS"
	fi
	printf '%-16s %7s %7s %7s %4s %6s %6s %7s %6s %5s %3s | %6s | %6s %6s %7s %7s\n' \
	    "" echo/s Mbit/s RTT lost usr sys CPU pkts/ busy iou \
	    calls/ calls/ strace strace echo/s
	printf '%-16s %7s %7s %7s %4s %6s %6s %7s %6s %5s %3s | %6s | %6s %6s %7s %7s\n' \
	    variant "" "" ms "" ms ms us/echo wakeup % wrk echo echo sys_s \
	    us/echo strace
	: >"$TMP/ratio.$t"
	for v in $VARIANTS; do
		IFS=: read -r name _ <<<"$v"
		f=$TMP/time.$name.$t
		read -r pcalls pech _ <"$TMP/pcount.$name.$t"
		read -r scalls ssecs sech spps <"$TMP/scount.$name.$t"
		awk -v n="$name" -v pps="$(med 1 "$f")" -v mbit="$(med 2 "$f")" \
		    -v rtt="$(med 3 "$f")" -v lost="$(med 4 "$f")" \
		    -v usr="$(med 5 "$f")" -v sys="$(med 6 "$f")" \
		    -v oncpu="$(med 7 "$f")" -v pw="$(med 8 "$f")" \
		    -v ech="$(med 9 "$f")" -v wrk="$(med 10 "$f")" \
		    -v busy="$(med 11 "$f")" \
		    -v pcalls="${pcalls:-0}" -v pech="${pech:-0}" \
		    -v scalls="${scalls:-0}" -v ssecs="${ssecs:-0}" \
		    -v sech="${sech:-0}" -v spps="${spps:-0}" \
		    -v rf="$TMP/ratio.$t" 'BEGIN {
			cpe = ech > 0 ? oncpu * 1000 / ech : 0
			pce = pech > 0 ? pcalls / pech : 0
			sce = sech > 0 ? scalls / sech : 0
			sse = sech > 0 ? ssecs * 1e6 / sech : 0
			printf "%-16s %7d %7.1f %7.4f %4d %6d %6d %7.2f %6.2f %5d %3d | %6.2f | %6.2f %6.3f %7.2f %7d\n",
			    n, pps, mbit, rtt, lost, usr, sys, cpe, pw, busy,
			    wrk, pce, sce, ssecs, sse, spps
			printf "%s %s %s %s %s %s\n", n, pps, rtt, cpe, pce,
			    sse >> rf
		    }'
	done
	echo
	echo "ratios to blocking (echo/s: higher is better; the rest: lower is better)"
	printf '%-16s %8s %8s %12s %12s %12s\n' variant echo/s RTT CPU/echo \
	    calls/echo strace_us/echo
	awk 'NR == 1 { for (i = 2; i <= 6; i++) b[i] = $i }
	    { printf "%-16s", $1
	      for (i = 2; i <= 6; i++) {
		w = i <= 3 ? 8 : 12
		if (b[i] > 0) printf " %*.2f", w, $i / b[i]
		else printf " %*s", w, "-" }
	      printf "\n" }' "$TMP/ratio.$t"
done
cat <<'LEGEND'

echo/s, Mbit/s: echoes a second over the pings' wall time (Mbit/s: the
replies' IP packets); RTT: ping's mean (B: mean of the 5); usr, sys:
tunecho's utime and stime during the flood (10 ms ticks); CPU us/echo:
its time on CPU (schedstat, all threads) per echo; pkts/wakeup: packets
per return from read/epoll_wait/io_uring_enter that brought any; busy:
the whole machine's CPU use during the flood (200% = both cores); iou wrk:
io-wq worker threads of tunecho at the end; calls/echo: tunecho's system
calls per echo counted by perf (a separate run); strace: a third run
under strace -c -f (calls/echo, system time in calls, its echo rate).
LEGEND
echo
echo "# strace -c -f, top calls per variant (counting run B):"
for v in $VARIANTS; do
	IFS=: read -r name _ <<<"$v"
	echo "## $name"
	grep -E '^ *[0-9]' "$TMP/strace.$name.B" | sort -k4 -n -r | head -n 4
done
echo
echo "# multiqueue: echoes per queue, all timing runs (packets per wakeup)"
for v in $VARIANTS; do
	IFS=: read -r name _ q _ <<<"$v"
	[ "$q" -gt 1 ] || continue
	for t in A B; do
		awk -v n="$name" -v t="$t" '
		    { split($2, e, "="); split($4, w, "=")
		      ec[$1] += e[2]; wk[$1] += w[2] }
		    END { printf "%-16s %s:", n, t
			for (k in ec) printf "  %s %d (%.2f)", k, ec[k],
			    wk[k] ? ec[k] / wk[k] : 0
			printf "\n" }' "$TMP/queues.$name.$t"
	done
done
printf '# load at end %s; %.0f s\n' "$(cut -d' ' -f1-3 /proc/loadavg)" \
    "$(awk -v t0="$T0" -v t1="$(now)" 'BEGIN { print t1 - t0 }')"
