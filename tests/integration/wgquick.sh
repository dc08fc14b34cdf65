#!/bin/bash
# wgquick: wg-quick(8) with WG_QUICK_USERSPACE_IMPLEMENTATION=wgcardd:
#  (a) a software key (PrivateKey in the wg-quick file): up, a tunnel to
#      the peer, wg show and wgcardctl show, down removes interface and
#      daemon;
#  (b) the key on the (virtual) card: the file has no PrivateKey and
#      WGCARD_KEY_SOURCE=openpgp, WGCARD_CARD_PUBLIC_KEY and
#      WGCARD_PIN_FILE tell wgcardd where the key is; the card does the
#      handshake; down as above;
#  (c) a bad WGCARD_ variable: up fails with the variable named, and
#      nothing is left behind.
# wg-quick tries the kernel's wireguard first; where the kernel has it,
# the test hides it (a mount namespace with an empty /sys/module and an
# `ip` that refuses "type wireguard"), so that wg-quick falls back to the
# userspace implementation as it does on a kernel without the module.
T_ID=wq
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/card.sh"

PIN=wgPIN-9u1ck
CTL=$T_ROOT/build/wgcardctl
command -v wg-quick >/dev/null || t_fatal "wg-quick is missing (wireguard-tools)"

# The `ip` shim for kernels that have wireguard.
mkdir -p "$T_TMP/shim"
cat >"$T_TMP/shim/ip" <<'EOS'
#!/bin/sh
case " $* " in
*" link add "*" type wireguard "*) echo "shim: no kernel wireguard" >&2; exit 2 ;;
esac
exec /sbin/ip "$@"
EOS
chmod 755 "$T_TMP/shim/ip"

# wgq NS ENV... -- ARGS: wg-quick ARGS in NS with the environment ENV,
# the kernel's wireguard hidden if there is one.
wgq()
{
	local ns=$1 envs=()
	shift
	while [ "$1" != -- ]; do
		envs+=("$1")
		shift
	done
	shift
	if [ -e /sys/module/wireguard ]; then
		ip netns exec "$ns" unshare -m sh -c '
		    mount -t tmpfs none /sys/module && exec "$@"' sh \
		    env PATH="$T_TMP/shim:$PATH" "${envs[@]}" \
		    WG_QUICK_USERSPACE_IMPLEMENTATION="$WGCARDD" wg-quick "$@"
	else
		ip netns exec "$ns" env "${envs[@]}" \
		    WG_QUICK_USERSPACE_IMPLEMENTATION="$WGCARDD" wg-quick "$@"
	fi
}

# daemon_of IFNAME: the pid of the wgcardd parent serving IFNAME.
daemon_of()
{
	pgrep -x -f "wgcardd: parent \[$1\]" | head -n 1
}

# up_checks TAG PUB: after wg-quick up, the tunnel and the tools.
up_checks()
{
	local tag=$1 pub=$2 pid
	pid=$(daemon_of "$IF_A")
	if [ -z "$pid" ]; then
		t_fail "$tag: wgcardd runs for $IF_A" "no process"
		return 1
	fi
	T_PIDS+=("$pid")	# stopped by the cleanup if the test fails
	DPID=$pid
	t_check "$tag: the interface has its address" \
	    sh -c "ip -n '$NS_A' addr show dev '$IF_A' | grep -q '$IN4_A/24'"
	t_check "$tag: ping through the tunnel" ping_retry "$NS_A" "$IN4_B" 15
	t_check "$tag: wg show: a handshake with the peer" \
	    wait_handshake "$NS_A" "$IF_A" "$PUB_B" 5
	t_check "$tag: the peer saw our key" wait_handshake "$NS_B" "$IF_B" "$pub" 5
	t_check "$tag: wgcardctl show answers (exit 0)" \
	    ip netns exec "$NS_A" "$CTL" -i "$IF_A" show
}

# down_checks TAG FILE: wg-quick down, then nothing is left.
down_checks()
{
	t_check "$1: wg-quick down" wgq "$NS_A" -- down "$2"
	t_check "$1: the daemon is gone" wait_for 5 bash -c "! kill -0 $DPID 2>/dev/null"
	t_check "$1: the interface is gone" \
	    wait_for 3 bash -c "! ip -n '$NS_A' link show '$IF_A' >/dev/null 2>&1"
	t_check "$1: the UAPI socket is gone" \
	    wait_for 3 test ! -e "$WG_RUNDIR/$IF_A.sock"
}

card_start_pcscd wq || t_fatal "pcscd"
PUB_C=$(card_init_state "$T_TMP/a.state" --generate --pin "$PIN") ||
    t_fatal "card"
card_start_vcard "$T_TMP/a.state" || t_fatal "vcard"
card_wait_present || t_fatal "card not seen"
PUB_S=$(key_new S) || t_fatal "key S"
pair_b_only "$PUB_S" || t_fatal "side B"
mkdir -p "$T_TMP/q" && chmod 700 "$T_TMP/q"
FILE=$T_TMP/q/$IF_A.conf

# (a) software key
(
	umask 077
	cat >"$FILE" <<EOC
[Interface]
PrivateKey = $(cat "$T_TMP/S.key")
ListenPort = $PORT_A
Address = $IN4_A/24

[Peer]
PublicKey = $PUB_B
AllowedIPs = $IN4_B/32
Endpoint = $OUT4_B:$PORT_B
EOC
)
if wgq "$NS_A" -- up "$FILE" >"$T_TMP/up-a.log" 2>&1; then
	t_ok "software key: wg-quick up"
	grep -q "Falling back to slow userspace implementation" "$T_TMP/up-a.log" &&
	    t_ok "software key: wg-quick used wgcardd (userspace)" ||
	    t_fail "software key: wg-quick used wgcardd" "$(cat "$T_TMP/up-a.log")"
	up_checks "software key" "$PUB_S" && down_checks "software key" "$FILE"
else
	t_fail "software key: wg-quick up" "$(cat "$T_TMP/up-a.log")"
fi

# (b) the key on the card
(umask 077; echo "$PIN" >"$T_TMP/pin") || t_fatal "pin file"
wgx "$NS_B" set "$IF_B" peer "$PUB_S" remove &&
    wgx "$NS_B" set "$IF_B" peer "$PUB_C" allowed-ips "$IN4_A/32" ||
    t_fatal "B knows the card's key"
sed -i '/^PrivateKey/d' "$FILE"
CARDENV=(PCSCLITE_CSOCK_NAME="$PCSCLITE_CSOCK_NAME" WGCARD_KEY_SOURCE=openpgp
    WGCARD_CARD_PUBLIC_KEY="$PUB_C" WGCARD_PIN_FILE="$T_TMP/pin")
d0=$(card_status_field deciphers)
if wgq "$NS_A" "${CARDENV[@]}" -- up "$FILE" >"$T_TMP/up-b.log" 2>&1; then
	t_ok "card: wg-quick up (no PrivateKey in the file)"
	if up_checks "card" "$PUB_C"; then
		t_check "card: the card did the handshake" \
		    test "$(card_status_field deciphers)" -gt "$d0"
		t_check "card: wgcardctl card status: ready" sh -c \
		    "ip netns exec '$NS_A' '$CTL' -i '$IF_A' card status | grep -q 'state: ready'"
		t_eq "card: wgcardctl card pubkey" \
		    "$(ip netns exec "$NS_A" "$CTL" -i "$IF_A" card pubkey)" "$PUB_C"
		down_checks "card" "$FILE"
	fi
else
	t_fail "card: wg-quick up" "$(cat "$T_TMP/up-b.log")"
fi
t_check "card: no PIN in wg-quick's output" bash -c "! grep -q '$PIN' '$T_TMP/up-b.log'"

# (c) a bad variable: refused, nothing left
if wgq "$NS_A" "${CARDENV[@]}" WGCARD_CARD_SERIAL=nothex -- up "$FILE" \
    >"$T_TMP/up-c.log" 2>&1; then
	t_fail "bad WGCARD_CARD_SERIAL: wg-quick up fails" "it succeeded"
	wgq "$NS_A" -- down "$FILE" >/dev/null 2>&1
else
	t_ok "bad WGCARD_CARD_SERIAL: wg-quick up fails"
fi
t_check "bad WGCARD_CARD_SERIAL: the error names the variable" \
    grep -q "environment: WGCARD_CARD_SERIAL:" "$T_TMP/up-c.log"
t_check "bad WGCARD_CARD_SERIAL: no interface left" \
    bash -c "! ip -n '$NS_A' link show '$IF_A' >/dev/null 2>&1"
t_check "bad WGCARD_CARD_SERIAL: no daemon left" test -z "$(daemon_of "$IF_A")"

t_done
