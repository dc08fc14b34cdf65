#!/bin/bash
# badinput: garbage at wgcardd while a tunnel carries a ping.
#  (a) UDP to the daemon's port: random bytes, every message type with
#      wrong lengths, valid-length messages of random content, initiations
#      with a valid mac1 (and small-order ephemerals), data messages with
#      random and with the real receiver index and bad tags;
#  (b) UAPI: malformed requests (each malformed `set` must answer errno=N,
#      N != 0, and change nothing: `wg showconf` before and after),
#      truncated requests, megabytes of junk, incomplete requests held open
#      while `wg show` must still answer;
#  (c) config mode: `wgcardd -n -c` on bad files names the file, the line
#      and the key; a good file passes.
# At the end all four processes are alive, the ping lost (almost) nothing,
# a fresh ping and `wg show` work.
#
# Side A is always wgcardd (the side under test); side B is $IMPL_B.
T_ID=bi
. "$(dirname "$0")/../lib/common.sh"

TOOLS=$T_ROOT/tests/tools
CHILDREN="wgcard-keyd wgcard-hs wgcard-fwd"
MAX_LOSS_PCT=${MAX_LOSS_PCT:-5}

sec_child()
{
	ps -o pid=,comm= --ppid "$1" 2>/dev/null |
	    awk -v c="$2" '$2 == c { print $1; exit }'
}

# sec_all_alive: the four processes recorded in SEC_PIDS are all alive.
sec_all_alive()
{
	local p
	for p in $SEC_PIDS; do
		pid_alive "$p" || return 1
	done
}

sec_dead_list()
{
	local p out=
	for p in $SEC_PIDS; do
		pid_alive "$p" || out="$out $p"
	done
	echo "${out:- none}"
}

sec_quiet()
{
	"$@" >/dev/null 2>&1
}

sec_showconf()
{
	timeout 10 ip netns exec "$NS_A" wg showconf "$IF_A" 2>&1
}

sec_b64hex()
{
	base64 -d <<<"$1" | od -An -tx1 | tr -d ' \n'
}

[ "$IMPL_A" = wgcardd ] ||
    t_log "# IMPL_A=$IMPL_A: this test is about wgcardd; side A runs wgcardd"

pair_new 1 wgcardd "$IMPL_B" || t_fatal "pair"
pair_peer A 4 && pair_peer B none || t_fatal "peers"
t_check "tunnel: ping through the tunnel" ping_retry "$NS_A" "$IN4_B" 10
t_check "tunnel: handshake done" wait_handshake "$NS_A" "$IF_A" "$PUB_B" 5
D=${T_IF_PID[$IF_A]}
SEC_PIDS=$D
for comm in $CHILDREN; do
	p=$(sec_child "$D" "$comm")
	[ -n "$p" ] || t_fatal "no $comm child"
	SEC_PIDS="$SEC_PIDS $p"
done
PEERHEX=$(sec_b64hex "$PUB_B")
[ ${#PEERHEX} -eq 64 ] || t_fatal "cannot convert the peer key to hex"
sec_showconf >"$T_TMP/conf.before"
grep -q "^PublicKey = $PUB_B" "$T_TMP/conf.before" ||
    t_fatal "wg showconf does not show the peer: $(cat "$T_TMP/conf.before")"

# The ping that runs through all of it (A's inner v4 to B's); B's answers
# are data messages to A, from which the fuzzer learns A's receiver index.
ping_bg "$NS_A" "$IN4_B" "$T_TMP/ping.log"
PING=$T_LASTPID

# ---------------------------------------------------------------- (a) UDP

if nsx "$NS_B" python3 "$TOOLS/udpfuzz.py" --dst "$OUT4_A" --dst "$OUT6_A" \
    --port "$PORT_A" --pubkey "$PUB_A" --sniff "$VETH_B" --seed $$ \
    >"$T_TMP/udp1.log" 2>&1; then
	t_ok "udp: fuzz from the peer's host ($(tail -n 1 "$T_TMP/udp1.log"))"
else
	t_fail "udp: fuzz from the peer's host" "$(tail -n 3 "$T_TMP/udp1.log")"
fi
sed 's/^/#   /' "$T_TMP/udp1.log"
if nsx "$NS_A" python3 "$TOOLS/udpfuzz.py" --dst 127.0.0.1 --dst ::1 \
    --port "$PORT_A" --pubkey "$PUB_A" --seed $((($$ + 1) % 65536)) \
    >"$T_TMP/udp2.log" 2>&1; then
	t_ok "udp: fuzz from inside the daemon's namespace ($(tail -n 1 "$T_TMP/udp2.log"))"
else
	t_fail "udp: fuzz from inside the daemon's namespace" \
	    "$(tail -n 3 "$T_TMP/udp2.log")"
fi
if sec_all_alive; then
	t_ok "udp: all four processes alive"
else
	t_fail "udp: all four processes alive" "dead:$(sec_dead_list)"
fi
t_check "udp: ping after the fuzz" ping_ok "$NS_A" "$IN4_B"
t_check "udp: wg show answers" sec_quiet timeout 10 ip netns exec "$NS_A" wg show "$IF_A"
# Unauthenticated packets must not move the peer's endpoint.
t_eq "udp: the peer's endpoint did not move" \
    "$(endpoint_of "$NS_A" "$IF_A" "$PUB_B")" "$OUT4_B:$PORT_B"

# ---------------------------------------------------------------- (b) UAPI

SOCK=$WG_RUNDIR/$IF_A.sock
died=
while read -r name kind; do
	[ -n "$died" ] && break
	ans=$(timeout 60 python3 "$TOOLS/uapifuzz.py" case "$SOCK" "$name" \
	    "$PEERHEX" 2>&1)
	case $kind in
	set)
		# wireguard-go answers negative errnos; any non-zero will do.
		case $ans in
		"errno 0")
			t_fail "uapi $name: errno != 0" "answer '$ans'" ;;
		errno\ *)
			t_ok "uapi $name: answer $ans" ;;
		*)	t_fail "uapi $name: errno != 0" "answer '$ans'" ;;
		esac ;;
	close)
		t_eq "uapi $name: sent and closed" "$ans" sent-closed
		sleep 0.3 ;;
	other)
		case $ans in
		connect-error*|"no such case"|"")
			t_fail "uapi $name" "answer '$ans'" ;;
		*)	t_ok "uapi $name: survived ($ans)" ;;
		esac ;;
	esac
	if ! sec_all_alive; then
		t_fail "uapi $name: all four processes alive" \
		    "dead:$(sec_dead_list)"
		died=$name
		break
	fi
	if [ "$kind" != other ]; then
		sec_showconf >"$T_TMP/conf.after"
		if cmp -s "$T_TMP/conf.before" "$T_TMP/conf.after"; then
			t_ok "uapi $name: configuration unchanged"
		else
			t_fail "uapi $name: configuration unchanged" \
			    "$(diff "$T_TMP/conf.before" "$T_TMP/conf.after" |
			    grep '^[<>]' | tr '\n' ' ')"
			# Put it back, so the next case is judged alone.
			wgx "$NS_A" setconf "$IF_A" "$T_TMP/conf.before"
		fi
	fi
done < <(python3 "$TOOLS/uapifuzz.py" list)

# Incomplete requests held open must not block other clients.
if [ -z "$died" ]; then
	rm -f "$T_TMP/held"
	t_bg_ns "$NS_A" python3 "$TOOLS/uapifuzz.py" hold "$SOCK" 8 "$T_TMP/held"
	HOLD=$T_LASTPID
	# (python may take seconds to start on a loaded machine)
	if wait_for 20 test -s "$T_TMP/held"; then
		t_ok "uapi: $(cat "$T_TMP/held") incomplete requests held open"
		t_check "uapi: wg show answers meanwhile" \
		    sec_quiet timeout 5 ip netns exec "$NS_A" wg show "$IF_A"
		sec_showconf >"$T_TMP/conf.after"
		t_check "uapi: wg showconf answers meanwhile, unchanged" \
		    cmp -s "$T_TMP/conf.before" "$T_TMP/conf.after"
		t_check "uapi: ping meanwhile" ping_ok "$NS_A" "$IN4_B"
	else
		t_fail "uapi: hold incomplete requests open" "holder not ready"
	fi
	wait_gone 15 "$HOLD" || stop_pid "$HOLD" 1
	sleep 0.3
	sec_showconf >"$T_TMP/conf.after"
	t_check "uapi: configuration unchanged after the held requests closed" \
	    cmp -s "$T_TMP/conf.before" "$T_TMP/conf.after"
fi
if sec_all_alive; then
	t_ok "uapi: all four processes alive"
else
	t_fail "uapi: all four processes alive" "dead:$(sec_dead_list)"
fi
t_check "uapi: a good set still works" \
    wgx "$NS_A" set "$IF_A" peer "$PUB_B" persistent-keepalive 25
t_eq "uapi: and is applied" \
    "$(wg_field "$NS_A" "$IF_A" persistent-keepalive "$PUB_B")" 25
wgx "$NS_A" set "$IF_A" peer "$PUB_B" persistent-keepalive 0

# ---------------------------------------------------------- (c) config files

CFG=$T_TMP/cfg
mkdir -p "$CFG"
chmod 700 "$CFG"
K=$(cat "$KEY_A")
P1=$PUB_B
P2=$PUB_A

# sec_conf_case NAME MODE LINE KEY: the file $CFG/NAME.conf (already
# written) must be refused by `wgcardd -n -c`, with an error naming the
# file, LINE (if not -) and KEY (if not -).
sec_conf_case()
{
	local name=$1 mode=$2 line=$3 key=$4 f=$CFG/$1.conf rc err
	[ "$mode" != - ] && chmod "$mode" "$f"
	"$WGCARDD" -n -c "$f" >"$T_TMP/cfg.out" 2>&1
	rc=$?
	err=$(head -n 3 "$T_TMP/cfg.out" | tr '\n' ' ')
	if [ $rc -eq 0 ]; then
		t_fail "config $name: refused" "exit 0: $err"
		return
	fi
	t_ok "config $name: refused (exit $rc)"
	if [ "$line" != - ]; then
		if grep -qF "$name.conf:$line:" "$T_TMP/cfg.out"; then
			t_ok "config $name: names the file and line $line"
		else
			t_fail "config $name: names the file and line $line" \
			    "error: $err"
		fi
	else
		if grep -qF "$name.conf" "$T_TMP/cfg.out"; then
			t_ok "config $name: names the file"
		else
			t_fail "config $name: names the file" "error: $err"
		fi
	fi
	if [ "$key" != - ]; then
		if grep -qF "$key" "$T_TMP/cfg.out"; then
			t_ok "config $name: names the key $key"
		else
			t_fail "config $name: names the key $key" "error: $err"
		fi
	fi
	if grep -qF "$K" "$T_TMP/cfg.out"; then
		t_fail "config $name: the error does not show the private key" \
		    "it does"
	fi
}

sec_conf()
{
	(umask 077; cat >"$CFG/$1.conf")
}

sec_conf unknown_key <<EOC
[Interface]
PrivateKey = $K
Frobnicate = 1
EOC
sec_conf_case unknown_key - 3 Frobnicate

sec_conf bad_privkey <<EOC
[Interface]
ListenPort = 1
PrivateKey = not-a-key
EOC
sec_conf_case bad_privkey - 3 PrivateKey

sec_conf bad_pubkey <<EOC
[Interface]
PrivateKey = $K

[Peer]
PublicKey = AAAA
EOC
sec_conf_case bad_pubkey - 5 PublicKey

sec_conf bad_port <<EOC
[Interface]
PrivateKey = $K
ListenPort = 70000
EOC
sec_conf_case bad_port - 3 ListenPort

sec_conf bad_cidr <<EOC
[Interface]
PrivateKey = $K

[Peer]
PublicKey = $P1
AllowedIPs = 10.0.0.0/8, 10.1.0.0/33
EOC
sec_conf_case bad_cidr - 6 AllowedIPs

sec_conf bad_address <<EOC
[Interface]
PrivateKey = $K
Address = 10.0.0.256/24
EOC
sec_conf_case bad_address - 3 Address

sec_conf bad_mtu <<EOC
[Interface]
PrivateKey = $K
MTU = 12
EOC
sec_conf_case bad_mtu - 3 MTU

sec_conf bad_endpoint <<EOC
[Interface]
PrivateKey = $K

[Peer]
PublicKey = $P1
Endpoint = 192.0.2.1
EOC
sec_conf_case bad_endpoint - 6 Endpoint

sec_conf bad_keepalive <<EOC
[Interface]
PrivateKey = $K

[Peer]
PublicKey = $P1
PersistentKeepalive = 65536
EOC
sec_conf_case bad_keepalive - 6 PersistentKeepalive

sec_conf dup_peer <<EOC
[Interface]
PrivateKey = $K

[Peer]
PublicKey = $P1

[Peer]
PublicKey = $P2

[Peer]
PublicKey = $P1
EOC
sec_conf_case dup_peer - 10 PublicKey

sec_conf outside_section <<EOC
# comment
ListenPort = 51820
[Interface]
PrivateKey = $K
EOC
sec_conf_case outside_section - 2 ListenPort

sec_conf unknown_section <<EOC
[Interface]
PrivateKey = $K
[Frob]
EOC
sec_conf_case unknown_section - 3 -

sec_conf bad_psk <<EOC
[Interface]
PrivateKey = $K

[Peer]
PublicKey = $P1
PresharedKey = 1234
EOC
sec_conf_case bad_psk - 6 PresharedKey

sec_conf group_readable <<EOC
[Interface]
PrivateKey = $K
EOC
sec_conf_case group_readable 0640 - -

sec_conf other_readable <<EOC
[Interface]
PrivateKey = $K
EOC
sec_conf_case other_readable 0604 - -

sec_conf_case missing_file - - -

sec_conf good <<EOC
# a good file
[Interface]
PrivateKey = $K
ListenPort = 51999
Address = 10.98.0.1/24, fd98::1/64
MTU = 1400

[Peer]
PublicKey = $P1
AllowedIPs = 10.98.0.2/32, fd98::2/128
Endpoint = 192.0.2.2:51821
PersistentKeepalive = 25
EOC
if "$WGCARDD" -n -c "$CFG/good.conf" >"$T_TMP/cfg.out" 2>&1; then
	t_ok "config good: accepted"
else
	t_fail "config good: accepted" "$(head -n 3 "$T_TMP/cfg.out")"
fi

# ---------------------------------------------------------------- the end

read -r recvd missed <<<"$(ping_bg_stop "$PING" "$T_TMP/ping.log")"
sent=$((${recvd:-0} + ${missed:-0}))
if [ "$sent" -gt 0 ]; then
	loss=$((missed * 100 / sent))
	if [ "$loss" -le "$MAX_LOSS_PCT" ]; then
		t_ok "ping during it all: $recvd of $sent answered"
	else
		t_fail "ping during it all: loss <= $MAX_LOSS_PCT%" \
		    "$recvd of $sent answered"
	fi
else
	t_fail "ping during it all" "no statistics: $(tail -n 3 "$T_TMP/ping.log")"
fi
if sec_all_alive; then
	t_ok "end: all four processes alive"
else
	t_fail "end: all four processes alive" "dead:$(sec_dead_list)"
fi
t_check "end: a fresh ping works" ping_ok "$NS_A" "$IN4_B"
t_check "end: a fresh v6 ping works" ping_ok "$NS_A" "$IN6_B"
t_check "end: wg show works" sec_quiet timeout 10 ip netns exec "$NS_A" wg show "$IF_A"
t_check "end: the handshake is still recorded" \
    wait_handshake "$NS_A" "$IF_A" "$PUB_B" 1

# New handshakes after all that: A as initiator (a fresh peer on A), then
# A as responder (a fresh peer on B, which initiates).
# (the re-made peer starts with no handshake)
wgx "$NS_A" set "$IF_A" peer "$PUB_B" remove &&
    pair_peer A 4 || t_fail "end: re-add B on A" "wg set failed"
t_check "end: A initiates a new handshake, ping" \
    ping_retry "$NS_A" "$IN4_B" 10
t_check "end: A's new handshake recorded" \
    wait_handshake "$NS_A" "$IF_A" "$PUB_B" 5 0
sleep 1
hs1=$(handshake_time "$NS_A" "$IF_A" "$PUB_B")
wgx "$NS_B" set "$IF_B" peer "$PUB_A" remove &&
    pair_peer B 4 || t_fail "end: re-add A on B" "wg set failed"
t_check "end: B initiates a new handshake, ping" \
    ping_retry "$NS_B" "$IN4_A" 10
t_check "end: A answered it (handshake newer on A)" \
    wait_handshake "$NS_A" "$IF_A" "$PUB_B" 5 "$hs1"
t_log "# key broker DH operations in all: $(grep -c 'audit: op=ecdh' \
    "${T_IF_LOG[$IF_A]}")"
if sec_all_alive; then
	t_ok "end: all four processes still alive"
else
	t_fail "end: all four processes still alive" "dead:$(sec_dead_list)"
fi

t_done
