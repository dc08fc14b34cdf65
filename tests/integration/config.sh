#!/bin/bash
# config: config mode end to end.  wgcardd -d -c FILE on host A, with
# Address (v4 and v6), MTU, ListenPort and a peer with AllowedIPs and an
# Endpoint; the interface name comes from the file name.  Checks the
# interface (addresses, MTU, up, routes for the peer's allowed IPs, with
# ip -j), `wg show` (port, peer, endpoint, allowed ips), pings v4 and v6
# through the tunnel to $IMPL_B on host B (configured with wg(8)), then
# SIGTERM: exit 0, interface and UAPI socket gone.
T_ID=cf
. "$(dirname "$0")/../lib/common.sh"

MTU_A=1380
EXTRA4=10.98.0.0/16
EXTRA6=fd98::/48

sec_quiet()
{
	"$@" >/dev/null 2>&1
}

# sec_json_q NS PYEXPR ARGS...: run `ip -j ARGS` in NS and evaluate PYEXPR
# on the parsed list `d`; prints the result.
sec_ipj()
{
	local ns=$1 expr=$2
	shift 2
	ip -n "$ns" -j "$@" 2>/dev/null | python3 -c '
import json, sys
try:
	d = json.load(sys.stdin)
except Exception:
	d = []
print('"$expr"')'
}

[ "$IMPL_A" = wgcardd ] ||
    t_log "# IMPL_A=$IMPL_A: this test is about wgcardd; side A runs wgcardd"

PUB_A=$(key_new A) || t_fatal "key A"
# Host B: the reference peer, configured with wg(8).
pair_b_only "$PUB_A" v6 || t_fatal "hosts, $IMPL_B on B"

# Host A: wgcardd from a file.
CONF=$T_TMP/$IF_A.conf
(
	umask 077
	cat >"$CONF" <<EOC
# config.sh: host A
[Interface]
PrivateKey = $(cat "$T_TMP/A.key")
ListenPort = $PORT_A
Address = $IN4_A/$IN4_PLEN
Address = $IN6_A/$IN6_PLEN
MTU = $MTU_A

[Peer]
PublicKey = $PUB_B
AllowedIPs = $IN4_B/32, $IN6_B/128, $EXTRA4
AllowedIPs = $EXTRA6
Endpoint = $OUT4_B:$PORT_B
EOC
)
t_check "check mode accepts the file" sec_quiet "$WGCARDD" -n -c "$CONF"
start_conf "$NS_A" "$IF_A" "$CONF" || t_fatal "wgcardd -c"
D=$T_LASTPID
t_ok "wgcardd -d -c starts, interface $IF_A from the file name"

# ---------------------------------------------------------------- the link

t_eq "link: MTU" "$(sec_ipj "$NS_A" 'd[0]["mtu"] if d else "none"' \
    link show dev "$IF_A")" "$MTU_A"
t_eq "link: up" "$(sec_ipj "$NS_A" '"UP" in d[0]["flags"] if d else "none"' \
    link show dev "$IF_A")" True
addrs=$(sec_ipj "$NS_A" '" ".join(sorted("%s/%s" % (a["local"], a["prefixlen"])
    for i in d for a in i.get("addr_info", [])
    if a.get("scope") == "global"))' addr show dev "$IF_A")
t_eq "link: addresses" "$addrs" \
    "$(printf '%s\n' "$IN4_A/$IN4_PLEN" "$IN6_A/$IN6_PLEN" | sort | tr '\n' ' ' |
    sed 's/ $//')"
routes4=$(sec_ipj "$NS_A" '" ".join(sorted(r["dst"] for r in d))' \
    -4 route show dev "$IF_A")
routes6=$(sec_ipj "$NS_A" '" ".join(sorted(r["dst"] for r in d))' \
    -6 route show dev "$IF_A")
t_log "# routes on $IF_A: v4: $routes4; v6: $routes6"
case " $routes4 " in
*" $EXTRA4 "*)	t_ok "route: $EXTRA4 via $IF_A" ;;
*)		t_fail "route: $EXTRA4 via $IF_A" "v4 routes: $routes4" ;;
esac
case " $routes6 " in
*" $EXTRA6 "*)	t_ok "route: $EXTRA6 via $IF_A" ;;
*)		t_fail "route: $EXTRA6 via $IF_A" "v6 routes: $routes6" ;;
esac
for dst in "$IN4_B" "$IN6_B" 10.98.7.7 fd98::7; do
	dev=$(sec_ipj "$NS_A" 'd[0].get("dev", "none") if d else "none"' \
	    route get "$dst")
	t_eq "route: $dst goes to $IF_A" "$dev" "$IF_A"
done

# ---------------------------------------------------------------- wg show

t_eq "wg show: listening port" \
    "$(wgx "$NS_A" show "$IF_A" listen-port 2>&1)" "$PORT_A"
t_eq "wg show: the peer" "$(wgx "$NS_A" show "$IF_A" peers 2>&1)" "$PUB_B"
t_eq "wg show: the endpoint" "$(endpoint_of "$NS_A" "$IF_A" "$PUB_B")" \
    "$OUT4_B:$PORT_B"
aips=$(wg_field "$NS_A" "$IF_A" allowed-ips "$PUB_B" | tr ' ' '\n' |
    sort | tr '\n' ' ' | sed 's/ $//')
t_eq "wg show: allowed ips" "$aips" \
    "$(printf '%s\n' "$IN4_B/32" "$IN6_B/128" "$EXTRA4" "$EXTRA6" | sort |
    tr '\n' ' ' | sed 's/ $//')"
t_check "wg show: the daemon logs the public key from the file" \
    grep -q "public key $PUB_A" "${T_IF_LOG[$IF_A]}"
if wgx "$NS_A" showconf "$IF_A" 2>&1 | grep -q PrivateKey; then
	t_fail "wg showconf: no private key" "the UAPI returned it"
else
	t_ok "wg showconf: no private key (by design)"
fi

# ---------------------------------------------------------------- traffic

t_check "ping v4 through the tunnel" ping_retry "$NS_A" "$IN4_B" 10
t_check "handshake seen by A" wait_handshake "$NS_A" "$IF_A" "$PUB_B" 5
t_check "handshake seen by B" wait_handshake "$NS_B" "$IF_B" "$PUB_A" 5
t_check "ping v6 through the tunnel" ping_ok "$NS_A" "$IN6_B"
t_check "B pings A back (v4)" ping_ok "$NS_B" "$IN4_A"
t_check "B pings A back (v6)" ping_ok "$NS_B" "$IN6_A"
t_check "a full-MTU packet passes (DF)" sec_quiet ip netns exec "$NS_A" \
    ping -n -q -c 2 -i 0.2 -W 2 -M do -s $((MTU_A - 28)) "$IN4_B"
t_check "a larger one does not (DF)" sec_quiet bash -c \
    "! ip netns exec '$NS_A' ping -n -q -c 1 -W 1 -M do -s $((MTU_A - 27)) '$IN4_B'"

# ---------------------------------------------------------------- stop

kill -TERM "$D"
if wait_gone 5 "$D"; then
	wait "$D"
	t_eq "SIGTERM: exit status" "$?" 0
else
	t_fail "SIGTERM: exits within 5 s" "still running"
fi
t_check "SIGTERM: interface gone" wait_for 5 \
    sec_quiet bash -c "! ip -n '$NS_A' link show '$IF_A'"
t_check "SIGTERM: UAPI socket removed" wait_for 5 \
    test ! -e "$WG_RUNDIR/$IF_A.sock"

# ---------------------------------------------------------------- logs
# Under systemd (stderr is the journal's stream, JOURNAL_STREAM=DEV:INO):
# "<N>" priorities and no "wgcardd[PID]: " of our own (journald adds it).
LOGJ=$T_TMP/journal.log
: >"$LOGJ"
ip netns exec "$NS_A" env JOURNAL_STREAM="$(stat -c '%d:%i' "$LOGJ")" \
    "$WGCARDD" -d -c "$CONF" 2>>"$LOGJ" </dev/null &
D=$!
T_PIDS+=("$D")
t_check "journal stream: the start logged with its priority" wait_for 10 \
    grep -q '^<6>parent: wgcardd .* starting on' "$LOGJ"
# (the broker logs after the parent's start line: wait for it)
t_check "journal stream: the children's lines too" wait_for 10 \
    grep -q '^<[0-7]>keyd: ' "$LOGJ"
t_check "journal stream: no prefix of our own" \
    bash -c "! grep -q '^wgcard' '$LOGJ'"
stop_pid "$D" 5
wait_for 5 test ! -e "$WG_RUNDIR/$IF_A.sock"

# Detached with no syslog socket (/dev/log; hidden if there is one): the
# log goes to stderr, not into the void.
LOGD=$T_TMP/detached.log
: >"$LOGD"
ip netns exec "$NS_A" unshare -m --propagation private sh -c '
	[ ! -e /dev/log ] || mount --bind /dev/null /dev/log || exit 125
	exec "$@"' sh "$WGCARDD" -c "$CONF" 2>>"$LOGD" </dev/null
t_eq "detached: the start returns 0" "$?" 0
D=$(pgrep -x -f "wgcardd: parent \[$IF_A\]" | head -n 1)
[ -n "$D" ] && T_PIDS+=("$D")
t_check "detached without /dev/log: its log is on stderr" wait_for 10 \
    grep -q 'parent: wgcardd .* starting on' "$LOGD"
[ -n "$D" ] && stop_pid "$D" 5

t_done
