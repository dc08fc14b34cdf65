#!/bin/bash
# rekey: traffic across the real REKEY_AFTER_TIME (120 s): the initiator
# starts a new handshake by itself, the handshake time advances on both
# sides, and at most a couple of pings are lost.  Two pairs run side by
# side: one where A initiated the session, one where B did.
T_ID=rk
. "$(dirname "$0")/../lib/common.sh"

REKEY_WAIT=${REKEY_WAIT:-170}	# 120 s + jitter + margin
MAX_LOST=${MAX_LOST:-3}

declare -A P
for init in A B; do
	tag=$init
	pair_new "$tag" || t_fatal "pair $init"
	if [ $init = A ]; then
		pair_peer A 4 && pair_peer B none || t_fatal "peers"
		P[$init.ns_i]=$NS_A P[$init.if_i]=$IF_A P[$init.pub_r]=$PUB_B
		P[$init.ns_r]=$NS_B P[$init.if_r]=$IF_B P[$init.pub_i]=$PUB_A
		P[$init.dst]=$IN4_B
	else
		pair_peer B 6 && pair_peer A none || t_fatal "peers"
		P[$init.ns_i]=$NS_B P[$init.if_i]=$IF_B P[$init.pub_r]=$PUB_A
		P[$init.ns_r]=$NS_A P[$init.if_r]=$IF_A P[$init.pub_i]=$PUB_B
		P[$init.dst]=$IN4_A
	fi
done

for init in A B; do
	c="initiator $init"
	ping_retry "${P[$init.ns_i]}" "${P[$init.dst]}" 10 ||
	    t_fail "$c: first ping" "no answer"
	wait_handshake "${P[$init.ns_i]}" "${P[$init.if_i]}" "${P[$init.pub_r]}" 5 ||
	    t_fail "$c: first handshake" "none"
	P[$init.hs_i]=$(handshake_time "${P[$init.ns_i]}" "${P[$init.if_i]}" "${P[$init.pub_r]}")
	P[$init.hs_r]=$(handshake_time "${P[$init.ns_r]}" "${P[$init.if_r]}" "${P[$init.pub_i]}")
	ping_bg "${P[$init.ns_i]}" "${P[$init.dst]}" "$T_TMP/ping$init.log"
	P[$init.ping]=$T_LASTPID
	P[$init.t0]=$(date +%s)
done
t_log "# waiting for the rekeys (up to ${REKEY_WAIT}s)"

# Poll both pairs until both initiators saw a new handshake.
end=$(($(date +%s) + REKEY_WAIT))
while [ "$(date +%s)" -lt $end ]; do
	left=0
	for init in A B; do
		[ -n "${P[$init.rekeyed]:-}" ] && continue
		if _handshake_after "${P[$init.ns_i]}" "${P[$init.if_i]}" \
		    "${P[$init.pub_r]}" "${P[$init.hs_i]}"; then
			P[$init.rekeyed]=$(($(date +%s) - ${P[$init.t0]}))
		else
			left=1
		fi
	done
	[ $left = 0 ] && break
	sleep 0.5
done
# Let traffic run a little on the new session.
sleep 3

for init in A B; do
	c="initiator $init"
	if [ -n "${P[$init.rekeyed]:-}" ]; then
		t_ok "$c: new handshake after ~${P[$init.rekeyed]}s of traffic"
	else
		t_fail "$c: new handshake" "none within ${REKEY_WAIT}s"
	fi
	if wait_handshake "${P[$init.ns_r]}" "${P[$init.if_r]}" \
	    "${P[$init.pub_i]}" 3 "${P[$init.hs_r]}"; then
		t_ok "$c: responder saw the new handshake"
	else
		t_fail "$c: responder saw the new handshake" \
		    "still ${P[$init.hs_r]}"
	fi
	read -r ans lost <<<"$(ping_bg_stop "${P[$init.ping]}" "$T_TMP/ping$init.log")"
	if [ "${ans:-0}" -gt 100 ] && [ "${lost:-99}" -le "$MAX_LOST" ]; then
		t_ok "$c: pings across the rekey: $ans answered, $lost lost"
	else
		t_fail "$c: pings across the rekey" "$ans answered, $lost lost (max $MAX_LOST)"
	fi
	t_check "$c: ping after the rekey" \
	    ping_ok "${P[$init.ns_i]}" "${P[$init.dst]}"
done

t_done
