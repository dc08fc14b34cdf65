# tests/lib/hostile.sh: the compromised-sibling harness shared by
# hostile.sh and hostile_card.sh. Source after common.sh (and card.sh
# when a card is used: PCSCLITE_CSOCK_NAME is exported there and passes
# through to the daemon's environment).
#
# The daemon of `make hostile` starts tests/hostile/hostile.c in place of
# the forwarder or the handshake process (WGCARD_HOSTILE_ROLE), which
# plays the case named by HOSTILE_CASE. Such scripts take the ctlsock
# lock: a daemon whose handshake process is hostile never answers
# wgcardctl, and `card init` asks every running daemon.

t_excl ctlsock || t_fatal "the ctlsock lock (tests/lib/common.sh t_excl)"

H=$T_ROOT/build/hostile
make -s -C "$T_ROOT" -j"$(nproc)" hostile >"$T_TMP/make.log" 2>&1 ||
    t_fatal "make hostile: $(tail -n 5 "$T_TMP/make.log")"

# hostile_launch NS ROLE CASE CONF LOG IFNAME: the hostile daemon in the
# background in namespace NS; its pid in HPID (and in T_PIDS).
hostile_launch()
{
	local ns=$1 role=$2 case=$3 conf=$4 log=$5 ifname=$6

	ip netns exec "$ns" "${T_PDEATH[@]}" env WGCARD_HOSTILE_ROLE="$role" \
	    WGCARD_HOSTILE_EXEC="$H/hostile" HOSTILE_CASE="$case" \
	    "$H/wgcardd" -d -c "$conf" "$ifname" >"$log" 2>&1 </dev/null &
	HPID=$!
	T_PIDS+=("$HPID")
}
