#!/bin/bash
# Memory benchmark (not part of make check; issue 15, part 3): the peak
# RSS of a daemon under load with 1, 100 and 1000 peers, wgcardd against
# wireguard-go in the same run.
#
# For each peer count N and each implementation: two namespaces joined
# by a veth pair, the same implementation at both ends, each end with
# the other as its real peer plus N-1 more peers (allowed IPs, an
# endpoint, a persistent keepalive of 0: state a server keeps for peers
# that are not talking); then DURATION seconds of single-stream TCP each
# way and DURATION seconds of UDP at full rate (1392-byte datagrams);
# then VmHWM (/proc/PID/status) of every process of each end. The figure
# is the larger end's; per process for wgcardd (parent, key broker,
# handshake, forwarder).
#
# VmHWM counts a shared library's pages in every process that maps them
# (libc in each of the four). Beside the target figure, and not instead
# of it, the same end's footprint at the end of the load: the resident
# pages of all its processes counted once (their page frames, from
# /proc/PID/pagemap), which is what the machine spends, and the sum of
# their PSS (shared pages divided among the processes mapping them,
# other programs' share included, so it is the smaller).
#
#	tests/bench/memory.sh				(as root)
#	PEERS="1 1000" IMPLS=wgcardd DETAIL=1 tests/bench/memory.sh
#
# PEERS		peer counts (default "1 100 1000")
# IMPLS		any of: wggo wgcardd (default both)
# DURATION	seconds per load (default 3)
# DETAIL	1: also the largest mappings of each wgcardd process
#		(/proc/PID/smaps, Rss) at the end of the load
#
# The target (issue 15) is a sum of at most 16 MiB for wgcardd.
T_ID=mm
. "$(dirname "$0")/../lib/common.sh"

PEERS=${PEERS:-1 100 1000}
IMPLS=${IMPLS:-wggo wgcardd}
DURATION=${DURATION:-3}
DETAIL=${DETAIL:-0}
TARGET_KIB=$((16 * 1024))
IPERF_PORT=5201

for n in $PEERS; do
	case $n in
	''|*[!0-9]*|0)	t_fatal "PEERS: '$n' is not a peer count" ;;
	esac
	[ "$n" -le 60000 ] || t_fatal "PEERS: $n is more than 60000"
done
for i in $IMPLS; do
	case $i in
	wggo|wgcardd) ;;
	*)	t_fatal "unknown implementation '$i' (wggo wgcardd)" ;;
	esac
done
case $DURATION in
''|*[!0-9]*|0)	t_fatal "DURATION must be a whole number of seconds" ;;
esac
for c in iperf3 python3; do
	command -v "$c" >/dev/null || t_fatal "$c is missing"
done

t_log "# command: $0 (PEERS=\"$PEERS\" IMPLS=\"$IMPLS\" DURATION=$DURATION)"
t_log "# machine: nproc=$(nproc) kernel=$(uname -r) load=$(cut -d' ' -f1-3 /proc/loadavg)"
t_log "# $(wireguard-go --version 2>/dev/null | head -n 1)"

declare -A R=()		# R[impl,n,proc] = VmHWM KiB; proc "sum" too;
			# "uniq" and "pss": the footprint at the end

# footprint PID...: "UNIQ PSS" in KiB: the resident pages of the
# processes counted once (page frame numbers from /proc/PID/pagemap,
# which needs root), and their PSS summed (smaps_rollup).
footprint()
{
	python3 - "$@" <<'EOF'
import os, struct, sys
pg = os.sysconf("SC_PAGE_SIZE")
frames, pss = set(), 0
for pid in sys.argv[1:]:
    try:
        with open("/proc/%s/smaps_rollup" % pid) as f:
            for line in f:
                if line.startswith("Pss:"):
                    pss += int(line.split()[1])
        maps = open("/proc/%s/maps" % pid).read().splitlines()
        pm = open("/proc/%s/pagemap" % pid, "rb")
    except OSError:
        continue
    for m in maps:
        if m.endswith("[vsyscall]"):
            continue
        lo, hi = (int(x, 16) for x in m.split()[0].split("-"))
        pm.seek(lo // pg * 8)
        data = pm.read((hi - lo) // pg * 8)
        for (e,) in struct.iter_unpack("<Q", data):
            if e >> 63 & 1:
                pfn = e & ((1 << 55) - 1)
                if pfn == 0:
                    print("pagemap gives no page frame numbers (not root?)")
                    sys.exit(1)
                frames.add(pfn)
    pm.close()
print(len(frames) * pg // 1024, pss)
EOF
}

# hwm PID: VmHWM (KiB) of PID, 0 when it is gone.
hwm()
{
	awk '/^VmHWM:/ { print $2; f = 1 } END { if (!f) print 0 }' \
	    "/proc/$1/status" 2>/dev/null || echo 0
}

# proc_role PID: parent, keyd, hs, fwd (wgcardd's kernel names), or the
# command name.
proc_role()
{
	case $(cat "/proc/$1/comm" 2>/dev/null) in
	wgcardd)	echo parent ;;
	wgcard-keyd)	echo keyd ;;
	wgcard-hs)	echo hs ;;
	wgcard-fwd)	echo fwd ;;
	*)		cat "/proc/$1/comm" 2>/dev/null ;;
	esac
}

# peers_conf N SIDE OUT: N-1 made-up peers for `wg addconf`, in OUT.
# Random public keys (never a small-order point in practice), allowed
# IPs 10.(128 + i / 250).(i % 250).0/24 and fd77::i/128, endpoints in
# 198.18.0.0/15 (no one there: nothing is sent to them).
peers_conf()
{
	python3 - "$1" "$2" >"$3" <<'EOF'
import base64, os, sys
n = int(sys.argv[1])
for i in range(1, n):
    key = base64.b64encode(os.urandom(32)).decode()
    print("[Peer]")
    print("PublicKey = %s" % key)
    print("AllowedIPs = 10.%d.%d.0/24, fd77::%x/128" %
          (128 + i // 250, i % 250, i))
    print("Endpoint = 198.%d.%d.%d:51820" %
          (18 + (i >> 16), (i >> 8) & 255, i & 255))
    print()
EOF
}

# load NS_S NS_C ADDR ARGS...: one iperf3 run of DURATION seconds.
load()
{
	local nss=$1 nsc=$2 addr=$3 spid
	shift 3
	t_bg_ns "$nss" iperf3 -s -1 -p "$IPERF_PORT" >>"$T_TMP/iperf-s.log" 2>&1
	spid=$T_LASTPID
	if ! wait_for 5 _listening "$nss" "$IPERF_PORT"; then
		stop_pid "$spid" 1
		return 1
	fi
	ip netns exec "$nsc" timeout -k 2 $((DURATION + 20)) iperf3 -c "$addr" \
	    -p "$IPERF_PORT" -t "$DURATION" "$@" >"$T_TMP/iperf-c.log" 2>&1
	local rc=$?
	stop_pid "$spid" 2
	return $rc
}

# smaps_top PID: the mappings of PID holding the most resident memory.
smaps_top()
{
	awk '
	/^[0-9a-f]+-[0-9a-f]+ / {
		name = (NF >= 6) ? $6 : "[anon]"
		if (NF >= 6 && $6 !~ /^\[/) { n = split($6, a, "/"); name = a[n] }
		next
	}
	/^Rss:/ { rss[name] += $2 }
	END { for (k in rss) if (rss[k] > 0) printf("%8d kB  %s\n", rss[k], k) }
	' "/proc/$1/smaps" 2>/dev/null | sort -rn | head -n 12 | sed 's/^/#     /'
}

# one IMPL N
one()
{
	local impl=$1 n=$2 tag f pid role side sum best=0 line ok=1 pids fp
	tag=${impl:0:1}$n
	t_log "# $impl, $n peer(s)"
	if ! pair_new "$tag" "$impl" "$impl"; then
		t_fail "$impl $n: setup"
		pair_del
		return 1
	fi
	pair_peer A 4 && pair_peer B 4 || ok=0
	if [ "$n" -gt 1 ] && [ $ok = 1 ]; then
		peers_conf "$n" A "$T_TMP/peers-a.conf" &&
		    peers_conf "$n" B "$T_TMP/peers-b.conf" &&
		    wgx "$NS_A" addconf "$IF_A" "$T_TMP/peers-a.conf" &&
		    wgx "$NS_B" addconf "$IF_B" "$T_TMP/peers-b.conf" || ok=0
	fi
	if [ $ok = 0 ]; then
		t_fail "$impl $n: peers"
		pair_del
		return 1
	fi
	t_eq "$impl $n: peers configured" \
	    "$(wgx "$NS_A" show "$IF_A" peers | wc -l)" "$n"
	if ! ping_retry "$NS_A" "$IN4_B" 10; then
		t_fail "$impl $n: ping through the tunnel"
		pair_del
		return 1
	fi
	load "$NS_B" "$NS_A" "$IN4_B" &&
	    load "$NS_B" "$NS_A" "$IN4_B" -R &&
	    load "$NS_B" "$NS_A" "$IN4_B" -u -b 0 -l 1392 ||
	    t_fail "$impl $n: load" "iperf3 failed ($(tail -n 1 "$T_TMP/iperf-c.log"))"
	for side in A B; do
		if [ $side = A ]; then f=$IF_A; else f=$IF_B; fi
		sum=0 line=
		pids="${T_IF_PID[$f]} $(descendants "${T_IF_PID[$f]}")"
		fp=$(footprint $pids) || { t_fail "$impl $n: footprint" "$fp"; fp=; }
		for pid in $pids; do
			role=$(proc_role "$pid")
			R[$impl,$n,$side,$role]=$(hwm "$pid")
			sum=$((sum + R[$impl,$n,$side,$role]))
			line="$line $role=${R[$impl,$n,$side,$role]}"
			if [ "$DETAIL" = 1 ] && [ "$impl" = wgcardd ] &&
			    [ $side = A ]; then
				t_log "#   $role (pid $pid), largest mappings:"
				smaps_top "$pid"
			fi
		done
		t_log "#   side $side: VmHWM kB$line sum=$sum;" \
		    "at the end: resident once ${fp% *}, PSS ${fp#* }"
		if [ "$sum" -gt "$best" ]; then
			best=$sum
			R[$impl,$n,uniq]=${fp% *}
			R[$impl,$n,pss]=${fp#* }
			for role in parent keyd hs fwd "$(proc_role "${T_IF_PID[$f]}")"; do
				R[$impl,$n,$role]=${R[$impl,$n,$side,$role]:-}
			done
		fi
	done
	R[$impl,$n,sum]=$best
	t_ok "$(printf '%-8s %5d peers: peak RSS %6.1f MiB' "$impl" "$n" \
	    "$(awk -v k="$best" 'BEGIN { print k / 1024 }')")"
	if [ "$impl" = wgcardd ] && [ "$best" -gt "$TARGET_KIB" ]; then
		t_log "#   above the target of $((TARGET_KIB / 1024)) MiB"
	fi
	pair_del
}

for n in $PEERS; do
	for impl in $IMPLS; do
		one "$impl" "$n"
	done
done

mib()
{
	if [ -z "$1" ]; then
		printf '—'
	else
		awk -v k="$1" 'BEGIN { printf("%.1f", k / 1024) }'
	fi
}

echo
echo "Peak RSS (VmHWM, MiB) after ${DURATION} s of TCP each way and ${DURATION} s of UDP at full rate; the larger end; nproc $(nproc), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| peers | wgcardd parent | key broker | handshake | forwarder | wgcardd sum | wireguard-go | wgcardd ÷ wireguard-go |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|"
for n in $PEERS; do
	w=${R[wgcardd,$n,sum]:-} g=${R[wggo,$n,sum]:-}
	printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$n" \
	    "$(mib "${R[wgcardd,$n,parent]:-}")" "$(mib "${R[wgcardd,$n,keyd]:-}")" \
	    "$(mib "${R[wgcardd,$n,hs]:-}")" "$(mib "${R[wgcardd,$n,fwd]:-}")" \
	    "$(mib "$w")" "$(mib "$g")" \
	    "$(if [ -n "$w" ] && [ -n "$g" ] && [ "$g" -gt 0 ]; then
		awk -v a="$w" -v b="$g" 'BEGIN { printf("%.2f", a / b) }'
	    else printf '—'; fi)"
done
echo
echo "The target (issue 15) is the wgcardd sum above: VmHWM, each shared library counted in every process that maps it."
echo "Beside it, what the machine spends: the same end at the end of the load (MiB), its resident pages counted once, and its PSS summed:"
echo
echo "| peers | wgcardd resident once | wgcardd PSS | wireguard-go resident once | wireguard-go PSS |"
echo "|---:|---:|---:|---:|---:|"
for n in $PEERS; do
	printf '| %s | %s | %s | %s | %s |\n' "$n" \
	    "$(mib "${R[wgcardd,$n,uniq]:-}")" "$(mib "${R[wgcardd,$n,pss]:-}")" \
	    "$(mib "${R[wggo,$n,uniq]:-}")" "$(mib "${R[wggo,$n,pss]:-}")"
done
echo
t_done
