#!/bin/bash
# basic: handshakes initiated from either side, over v4 and v6 outer
# addresses, with and without a preshared key; inner v4 and v6 pings, an
# iperf3 TCP transfer, `wg show` counters and handshake times.
T_ID=bs
. "$(dirname "$0")/../lib/common.sh"

n=0
for init in A B; do
	for fam in 4 6; do
		for usepsk in no yes; do
			n=$((n + 1))
			c="init=$init outer=v$fam psk=$usepsk"
			pair_new "$n" || t_fatal "pair $c"
			psk=
			[ $usepsk = yes ] && psk=$(psk_new "p$n")
			# Only the initiator knows an endpoint, so only it can
			# start the handshake.
			if [ $init = A ]; then
				pair_peer A "$fam" "$psk" && pair_peer B none "$psk"
				ns_i=$NS_A if_i=$IF_A pub_r=$PUB_B in4_r=$IN4_B in6_r=$IN6_B
				ns_r=$NS_B if_r=$IF_B pub_i=$PUB_A in4_i=$IN4_A in6_i=$IN6_A
			else
				pair_peer B "$fam" "$psk" && pair_peer A none "$psk"
				ns_i=$NS_B if_i=$IF_B pub_r=$PUB_A in4_r=$IN4_A in6_r=$IN6_A
				ns_r=$NS_A if_r=$IF_A pub_i=$PUB_B in4_i=$IN4_B in6_i=$IN6_B
			fi
			[ $? -eq 0 ] || t_fatal "peers $c"

			t_eq "$c: no handshake before traffic" \
			    "$(handshake_time "$ns_i" "$if_i" "$pub_r")" 0
			t_check "$c: ping v4 inner" ping_retry "$ns_i" "$in4_r" 10
			t_check "$c: handshake seen by initiator" \
			    wait_handshake "$ns_i" "$if_i" "$pub_r" 5
			t_check "$c: handshake seen by responder" \
			    wait_handshake "$ns_r" "$if_r" "$pub_i" 5
			t_check "$c: ping v6 inner" ping_ok "$ns_i" "$in6_r"
			t_check "$c: responder pings back v4" ping_ok "$ns_r" "$in4_i"
			t_check "$c: responder pings back v6" ping_ok "$ns_r" "$in6_i"
			# The responder learnt the initiator's endpoint.
			if [ $init = A ]; then
				o4=$OUT4_A o6=$OUT6_A port=$PORT_A
			else
				o4=$OUT4_B o6=$OUT6_B port=$PORT_B
			fi
			if [ "$fam" = 4 ]; then
				want_r=$o4:$port
			else
				want_r="[$o6]:$port"
			fi
			got=$(endpoint_of "$ns_r" "$if_r" "$pub_i")
			t_eq "$c: responder learnt the endpoint" "$got" "$want_r"

			read -r rx0 tx0 <<<"$(transfer_of "$ns_i" "$if_i" "$pub_r")"
			if [ "$fam" = 4 ]; then dst=$in4_r; else dst=$in6_r; fi
			bps=$(iperf_bps "$ns_r" "$ns_i" "$dst" 2)
			if [ "${bps:-0}" -gt 0 ]; then
				t_ok "$c: iperf3 TCP $((bps / 1000000)) Mbit/s"
			else
				t_fail "$c: iperf3 TCP" "no throughput"
			fi
			read -r rx1 tx1 <<<"$(transfer_of "$ns_i" "$if_i" "$pub_r")"
			if [ "${tx1:-0}" -gt $((${tx0:-0} + 1000000)) ] &&
			    [ "${rx1:-0}" -gt "${rx0:-0}" ]; then
				t_ok "$c: transfer counters grew"
			else
				t_fail "$c: transfer counters grew" \
				    "rx $rx0 -> $rx1, tx $tx0 -> $tx1"
			fi
			hs=$(handshake_time "$ns_i" "$if_i" "$pub_r")
			nowt=$(date +%s)
			if [ "$hs" -gt $((nowt - 60)) ] && [ "$hs" -le $((nowt + 1)) ]; then
				t_ok "$c: latest handshake is recent"
			else
				t_fail "$c: latest handshake is recent" "$hs vs now $nowt"
			fi
			pair_del
		done
	done
done

# Negative control: mismatched preshared keys must not give a session.
pair_new 9 || t_fatal "pair 9"
pair_peer A 4 "$(psk_new m1)" && pair_peer B none "$(psk_new m2)" ||
    t_fatal "peers 9"
t_check "PSK mismatch: no ping" ping_fails "$NS_A" "$IN4_B"
t_eq "PSK mismatch: no handshake" "$(handshake_time "$NS_A" "$IF_A" "$PUB_B")" 0
t_check "PSK mismatch: no ping from the responder either" \
    ping_fails "$NS_B" "$IN4_A"
t_eq "PSK mismatch: still no handshake" \
    "$(handshake_time "$NS_A" "$IF_A" "$PUB_B")" 0
pair_del

t_done
