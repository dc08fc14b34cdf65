#!/bin/bash
# peers: removing and re-adding a peer under traffic; tens of peers; a
# large allowed-IPs set through setconf; the real peer keeps working.
T_ID=pe
. "$(dirname "$0")/../lib/common.sh"

NDUMMY=${NDUMMY:-30}
NBIG=${NBIG:-100000}

# aips_count: the number of allowed IPs over all peers, from
# `wg show allowed-ips` on stdin.
aips_count()
{
	awk -F'\t' '{ n2 = split($2, a, " "); for (i = 1; i <= n2; i++)
	    if (a[i] ~ /\//) n++ } END { print n + 0 }'
}

pair_new 1 || t_fatal "pair"
pair_peer A 4 && pair_peer B 4 || t_fatal "peers"
t_check "ping A -> B" ping_retry "$NS_A" "$IN4_B" 10

# ---- removal and re-adding under traffic
ping_bg "$NS_A" "$IN4_B" "$T_TMP/ping.log"
ping_pid=$T_LASTPID
wait_for 5 grep -q 'bytes from' "$T_TMP/ping.log"
wgx "$NS_A" set "$IF_A" peer "$PUB_B" remove || t_fail "remove" "wg set"
t_eq "peer gone from wg show" \
    "$(wgx "$NS_A" show "$IF_A" peers | grep -c "$PUB_B")" 0
t_check "ping fails without the peer" ping_fails "$NS_A" "$IN4_B"
t_check "ping fails without the peer (v6)" ping_fails "$NS_A" "$IN6_B"
t_readd=$(date +%s)
pair_peer A 4 || t_fail "re-add" "wg set"
t_check "ping works again after re-adding" ping_retry "$NS_A" "$IN4_B" 10
t_check "new handshake after re-adding" \
    wait_handshake "$NS_A" "$IF_A" "$PUB_B" 5 $((t_readd - 1))
t_check "inner v6 too" ping_ok "$NS_A" "$IN6_B"
t_check "the daemon survived (A)" pid_alive "${T_IF_PID[$IF_A]}"
read -r ans lost <<<"$(ping_bg_stop "$ping_pid" "$T_TMP/ping.log")"
if [ "${ans:-0}" -gt 2 ] && [ "${lost:-0}" -gt 0 ]; then
	t_ok "background ping: answered before and after, lost while removed ($ans/$lost)"
else
	t_fail "background ping" "$ans answered, $lost lost"
fi

# ---- tens of peers with `wg set`
for i in $(seq 1 "$NDUMMY"); do
	pub=$(key_new "d$i") || break
	wgx "$NS_A" set "$IF_A" peer "$pub" allowed-ips "10.50.$i.0/24,fd50::$i/128" \
	    endpoint "192.0.2.$((100 + i)):$((40000 + i))" || break
done
t_eq "$NDUMMY dummy peers + 1 real peer" \
    "$(wgx "$NS_A" show "$IF_A" peers | wc -l)" $((NDUMMY + 1))
t_eq "allowed-ips count" \
    "$(wgx "$NS_A" show "$IF_A" allowed-ips | aips_count)" \
    $((NDUMMY * 2 + 2))
t_eq "a dummy peer's allowed IPs" \
    "$(wg_field "$NS_A" "$IF_A" allowed-ips "$(cat "$T_TMP/d7.pub")" | tr ' ' '\n' | sort | tr '\n' ' ')" \
    "10.50.7.0/24 fd50::7/128 "
t_check "real peer still pings with $NDUMMY more peers" ping_ok "$NS_A" "$IN4_B"

# ---- a large allowed-IPs set, through setconf
bigpub=$(key_new big)
conf=$T_TMP/big.conf
{
	echo "[Interface]"
	echo "PrivateKey = $(cat "$KEY_A")"
	echo "ListenPort = $PORT_A"
	echo
	echo "[Peer]"
	echo "PublicKey = $PUB_B"
	echo "Endpoint = $OUT4_B:$PORT_B"
	echo "AllowedIPs = $IN4_B/32, $IN6_B/128"
	for i in $(seq 1 "$NDUMMY"); do
		echo
		echo "[Peer]"
		echo "PublicKey = $(cat "$T_TMP/d$i.pub")"
		echo "AllowedIPs = 10.50.$i.0/24, fd50::$i/128"
	done
	echo
	echo "[Peer]"
	echo "PublicKey = $bigpub"
	# 10.100.0.0 upwards, 200 per line.
	awk -v n="$NBIG" 'BEGIN {
		for (i = 0; i < n; i++) {
			if (i % 200 == 0)
				printf("%sAllowedIPs = ", i ? "\n" : "");
			else
				printf(", ");
			printf("10.%d.%d.%d/32", 100 + int(i / 65536),
			    int(i / 256) % 256, i % 256);
		}
		printf("\n");
	}'
} >"$conf"
chmod 600 "$conf"
t0=$(now_ms)
if wgx "$NS_A" setconf "$IF_A" "$conf"; then
	t_ok "setconf with $NBIG allowed IPs ($(( $(now_ms) - t0 )) ms)"
else
	t_fail "setconf with $NBIG allowed IPs" "wg setconf failed"
fi
t_eq "peers after setconf" "$(wgx "$NS_A" show "$IF_A" peers | wc -l)" \
    $((NDUMMY + 2))
t0=$(now_ms)
wgx "$NS_A" show "$IF_A" allowed-ips >"$T_TMP/aips" 2>&1
t_log "# wg show allowed-ips took $(( $(now_ms) - t0 )) ms"
t_eq "allowed-ips count after setconf" \
    "$(aips_count <"$T_TMP/aips")" \
    $((NDUMMY * 2 + 2 + NBIG))
t_eq "the big peer's allowed-ips count" \
    "$(awk -v k="$bigpub" -F'\t' '$1 == k { print $2 }' "$T_TMP/aips" | tr ' ' '\n' | grep -c /)" \
    "$NBIG"
last=$((NBIG - 1))
lastip="10.$((100 + last / 65536)).$(((last / 256) % 256)).$((last % 256))/32"
t_check "the big peer holds the last address $lastip" \
    grep -q "$lastip" "$T_TMP/aips"
t_check "real peer pings after setconf" ping_retry "$NS_A" "$IN4_B" 10
t_check "real peer pings after setconf (v6)" ping_ok "$NS_A" "$IN6_B"
# Routing through the big table: one of the /32s is B's if B claims it.
wgx "$NS_A" set "$IF_A" peer "$PUB_B" allowed-ips "$IN4_B/32,$IN6_B/128,10.100.0.5/32" &&
    ip -n "$NS_A" route add 10.100.0.0/16 dev "$IF_A" &&
    addr_add "$NS_B" "$IF_B" 10.100.0.5/32 &&
    wgx "$NS_B" set "$IF_B" peer "$PUB_A" allowed-ips "$IN4_A/32,$IN6_A/128" ||
    t_fail "move 10.100.0.5/32 to B" "wg set / ip"
t_check "10.100.0.5 moved from the big peer to B: ping" \
    ping_retry "$NS_A" 10.100.0.5 5
t_eq "the big peer now has one fewer" \
    "$(wg_field "$NS_A" "$IF_A" allowed-ips "$bigpub" | tr ' ' '\n' | grep -c /)" \
    $((NBIG - 1))
t_check "an address of the big peer is not routed to B" \
    ping_fails "$NS_A" 10.100.0.6

wgx "$NS_A" set "$IF_A" peer "$bigpub" remove || t_fail "remove big" "wg set"
t_eq "allowed-ips count after removing the big peer" \
    "$(wgx "$NS_A" show "$IF_A" allowed-ips | aips_count)" \
    $((NDUMMY * 2 + 3))
t_check "the daemon survived (A)" pid_alive "${T_IF_PID[$IF_A]}"

t_done
