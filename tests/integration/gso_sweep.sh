#!/bin/bash
# gso_sweep: super-packets of every segment size through a tunnel
# between IMPL_A and IMPL_B (wgcardd against wgcardd runs the sender's
# TUN-in split and the receiver's GRO both ways; sanitize.sh runs it so
# on the sanitizer build), inner IPv4 and IPv6, A -> B and B -> A:
#  - UDP GSO: one UDP_SEGMENT send of full segments for every gso size
#    from 1 to the largest the interface MTU takes (MTU - 28 over IPv4,
#    MTU - 48 over IPv6), each as many segments as one send carries;
#  - TCP: one connection for every MSS (TCP_MAXSEG on both ends, so the
#    server's SYN-ACK picks it as a remote server would) from 88 (the
#    kernel's least) to MTU - 40 (IPv4) or MTU - 60 (IPv6), with a large
#    initial window so that TUN hands over full 64 KiB super-packets.
# tests/tools/gsosweep.py paces every send by what arrives at the other
# end: every datagram and byte must arrive (and every byte be right), the
# receiving namespace count no bad checksum (what a packet overwritten in
# a forwarder becomes), both daemons must live through it, and no
# AddressSanitizer or UBSan report may show in their logs (sanitize.sh runs this script with
# WGCARDD set to the sanitizer build; standalone it runs build/wgcardd).
# A UDP send that loses datagrams is tried again (3 tries); datagrams the
# receiving namespace's kernel counted as dropped at a full socket buffer
# (wireguard-go's tunnel socket keeps the 208 KiB default: a burst of
# ~100 small datagrams overflows it, seen on the classic backend) are
# counted apart (lost_to_peer_rcvbuf), not as a failure: an overrun in a
# forwarder loses datagrams at the same size every try, uncounted.
# One figure line per family/direction ("sweep: ...") for
# docs/reliability.md. GSO_SWEEP_STEP=N takes every Nth size only (quick
# looks; the default, 1, is every size).
T_ID=gs
. "$(dirname "$0")/../lib/common.sh"

step=${GSO_SWEEP_STEP:-1}
tool=$T_ROOT/tests/tools/gsosweep.py

pair_new 1 || t_fatal "pair"
pair_peer A 4 && pair_peer B 4 || t_fatal "peers"
t_check "tunnel up (ping A -> B)" ping_retry "$NS_A" "$IN4_B" 10
t_check "tunnel up (ping B -> A)" ping_retry "$NS_B" "$IN4_A" 10
# What the wgcardd sides do with super-packets (WGCARD_OFFLOAD=0 of the
# matrix: none reach them, the kernel segments before TUN).
offl=
for s in A B; do
	[ $s = A ] && ifc=$IF_A || ifc=$IF_B
	[ "${T_IF_IMPL[$ifc]}" = wgcardd ] || continue
	o=$(sed -n 's/.*forwarder: .*offloads \([a-z]*\),.*/\1/p' "${T_IF_LOG[$ifc]}" | head -n 1)
	offl="$offl $s:${o:-?}"
done
t_log "sweep: $IMPL_A_CUR (A) and $IMPL_B_CUR (B), forwarder offloads$offl"
mtu=$(ip -n "$NS_A" -o link show "$IF_A" | sed -n 's/.* mtu \([0-9]*\).*/\1/p')
[ -n "$mtu" ] || t_fatal "no MTU for $IF_A"
# Full-size TSO bursts from the first round trip.
for ns in "$NS_A" "$NS_B"; do
	ip -n "$ns" route replace "${IN4_A%.*}.0/$IN4_PLEN" dev \
	    "$([ "$ns" = "$NS_A" ] && echo "$IF_A" || echo "$IF_B")" \
	    initcwnd 1000 initrwnd 1000 || t_fatal "route initcwnd"
	ip -n "$ns" -6 route replace "${IN6_A%::*}::/$IN6_PLEN" dev \
	    "$([ "$ns" = "$NS_A" ] && echo "$IF_A" || echo "$IF_B")" \
	    initcwnd 1000 initrwnd 1000 || t_fatal "route initcwnd v6"
done

# reports: sanitizer reports in both daemons' logs so far.
reports()
{
	cat "${T_IF_LOG[$IF_A]}" "${T_IF_LOG[$IF_B]}" |
	    grep -cE 'AddressSanitizer|runtime error:|LeakSanitizer'
}

# sweep MODE FAM DIR FIRST LAST
sweep()
{
	local mode=$1 fam=$2 dir=$3 first=$4 last=$5 sns rns dst out rc
	if [ "$dir" = AB ]; then
		sns=$NS_A rns=$NS_B
		[ "$fam" = 4 ] && dst=$IN4_B || dst=$IN6_B
	else
		sns=$NS_B rns=$NS_A
		[ "$fam" = 4 ] && dst=$IN4_A || dst=$IN6_A
	fi
	out=$T_TMP/$mode$fam$dir.out
	python3 "$tool" --send-ns "$sns" --recv-ns "$rns" --dst "$dst" \
	    --mode "$mode" --first "$first" --last "$last" \
	    ${step:+--step "$step"} >"$out" 2>&1
	rc=$?
	line=$(grep '^mode=' "$out")
	t_log "sweep: $mode v$fam ${dir:0:1}->${dir:1:1} $line sanitizer_reports=$(reports)"
	if [ "$rc" -eq 0 ] && [ -n "$line" ]; then
		t_ok "$mode v$fam ${dir:0:1} -> ${dir:1:1}: every size $first..$last through ($line)"
	else
		t_fail "$mode v$fam ${dir:0:1} -> ${dir:1:1}: sizes $first..$last (exit $rc)" \
		    "$(tail -n 12 "$out")"
	fi
}

t0=$(date +%s)
for dir in AB BA; do
	sweep udp 4 "$dir" 1 $((mtu - 28))
	sweep udp 6 "$dir" 1 $((mtu - 48))
	sweep tcp 4 "$dir" 88 $((mtu - 40))
	sweep tcp 6 "$dir" 88 $((mtu - 60))
done
t_log "sweep: MTU $mtu, step $step, $(($(date +%s) - t0)) s"

# The forwarder logs its drops once a second when they change: none may be
# the offload's (a super-packet refused, or a segment without a buffer;
# before the fix, TUN reads overwritten by a neighbour's segments were).
sleep 1.5
for s in A B; do
	[ $s = A ] && ifc=$IF_A || ifc=$IF_B
	t_check "daemon $s alive after the sweep" pid_alive "${T_IF_PID[$ifc]}"
	[ "${T_IF_IMPL[$ifc]}" = wgcardd ] || continue
	last=$(grep 'forwarder: drops:' "${T_IF_LOG[$ifc]}" | tail -n 1)
	od=$(printf '%s' "$last" | sed -n 's/.* \([0-9][0-9]*\) offload.*/\1/p')
	if [ -z "$last" ]; then
		t_ok "daemon $s: no drop at all"
	elif [ -z "$od" ]; then
		t_skip "daemon $s: offload drops" "the forwarder's drops line has no offload count: $last"
	elif [ "$od" -eq 0 ]; then
		t_ok "daemon $s: 0 offload drops ($last)"
	else
		t_fail "daemon $s: $od offload drops" "$last"
	fi
	reports=$(grep -cE 'AddressSanitizer|runtime error:|LeakSanitizer' \
	    "${T_IF_LOG[$ifc]}")
	if [ "$reports" -eq 0 ]; then
		t_ok "daemon $s: sanitizer reports 0"
	else
		t_fail "daemon $s: $reports sanitizer reports" \
		    "$(grep -E -A12 'AddressSanitizer|runtime error:' "${T_IF_LOG[$ifc]}" | head -n 30)"
	fi
done
t_log "sweep: sanitizer reports $(reports) (both daemons, $WGCARDD)"
t_done
