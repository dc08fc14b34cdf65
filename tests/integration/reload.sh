#!/bin/bash
# reload: wgcardd -c FILE, then the file changes and `wgcardctl reload`
# (and SIGHUP) applies the difference under traffic: a peer added and one
# removed while the unchanged peer's ping keeps going with no new
# handshake; a new address applied; a broken file refused whole, the
# running tunnel untouched, the error naming file, line and key.
T_ID=rl
. "$(dirname "$0")/../lib/common.sh"

WGCARDCTL=${WGCARDCTL:-$T_ROOT/build/wgcardctl}

rl_conf()
{
	# rl_conf EXTRA_PEER_PUB EXTRA_ADDR: the config file of A.
	cat <<EOC
[Interface]
PrivateKey = $(cat "$T_TMP/A.key")
ListenPort = $PORT_A
Address = $IN4_A/24, $IN6_A/64
$( [ -n "$2" ] && echo "Address = $2" )

[Peer]
PublicKey = $PUB_B
AllowedIPs = $IN4_B/32, $IN6_B/128
Endpoint = $OUT4_B:$PORT_B

[Peer]
PublicKey = $1
AllowedIPs = ${3:-10.77.1.0/24}
Endpoint = 192.0.2.77:4000
EOC
}

PUB_A=$(key_new A) || t_fatal "keys"
PUB_X=$(key_new X) && PUB_Y=$(key_new Y) || t_fatal "keys"
pair_b_only "$PUB_A" endpoint v6 || t_fatal "hosts, $IMPL_B on B"

conf=$T_TMP/$IF_A.conf
( umask 077; rl_conf "$PUB_X" "" > "$conf" )
start_conf "$NS_A" "$IF_A" "$conf" || t_fatal "start A"
t_check "ping A -> B" ping_retry "$NS_A" "$IN4_B" 10
hs0=$(handshake_time "$NS_A" "$IF_A" "$PUB_B")
t_check "A has a handshake with B" test "${hs0:-0}" -gt 0

ping_bg "$NS_A" "$IN4_B" "$T_TMP/ping.log"
ping_pid=$T_LASTPID
sleep 1

# ---- X removed, Y added, an address added: wgcardctl reload
( umask 077; rl_conf "$PUB_Y" "10.88.0.1/24" 10.77.2.0/24 > "$conf" )
t_check "wgcardctl reload succeeds" "$WGCARDCTL" -i "$IF_A" reload
peers=$(wgx "$NS_A" show "$IF_A" peers | sort | tr '\n' ' ')
want=$(printf '%s\n' "$PUB_B" "$PUB_Y" | sort | tr '\n' ' ')
t_eq "peers after reload: B kept, X gone, Y new" "$peers" "$want"
t_eq "Y's allowed IPs" "$(wg_field "$NS_A" "$IF_A" allowed-ips "$PUB_Y")" \
    "10.77.2.0/24"
t_check "new address on the interface" \
    sh -c "ip -n '$NS_A' addr show dev '$IF_A' | grep -q '10.88.0.1/24'"
t_check "route for Y's allowed IPs" \
    sh -c "ip -n '$NS_A' route show dev '$IF_A' | grep -q '10.77.2.0/24'"
t_check "X's route is gone" \
    sh -c "! ip -n '$NS_A' route show dev '$IF_A' | grep -q '10.77.1.0/24'"
sleep 2
t_eq "B's session kept: no new handshake" \
    "$(handshake_time "$NS_A" "$IF_A" "$PUB_B")" "$hs0"

# ---- SIGHUP does the same
( umask 077; rl_conf "$PUB_X" "10.88.0.1/24" > "$conf" )
kill -HUP "${T_IF_PID[$IF_A]}"
t_check "SIGHUP reload: X back" wait_for 5 sh -c \
    "ip netns exec '$NS_A' wg show '$IF_A' peers | grep -q '$PUB_X'"

# ---- a broken file is refused whole
cp "$conf" "$T_TMP/good.conf"
( umask 077; rl_conf "$PUB_Y" "" > "$conf"; echo "Bogus = 1" >> "$conf" )
out=$("$WGCARDCTL" -i "$IF_A" reload 2>&1)
rc=$?
t_check "broken file: wgcardctl reload fails" test "$rc" -ne 0
t_check "broken file: the error names file, line and key" \
    sh -c "echo '$out' | grep -q '$conf:[0-9]*: [Bb]ogus'"
t_check "broken file: X still there (nothing applied)" sh -c \
    "ip netns exec '$NS_A' wg show '$IF_A' peers | grep -q '$PUB_X'"
t_eq "broken file: B's session still the first one" \
    "$(handshake_time "$NS_A" "$IF_A" "$PUB_B")" "$hs0"

read -r ans lost <<<"$(ping_bg_stop "$ping_pid" "$T_TMP/ping.log")"
t_check "background ping answered throughout ($ans answered, $lost lost)" \
    test "${ans:-0}" -gt 10 -a "${lost:-99}" -le 1
t_check "daemon A alive" pid_alive "${T_IF_PID[$IF_A]}"
t_done
