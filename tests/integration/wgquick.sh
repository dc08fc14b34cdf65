#!/bin/bash
# wgquick: wg-quick(8) with WG_QUICK_USERSPACE_IMPLEMENTATION=wgcardd:
#  (a) a software key (PrivateKey in the wg-quick file): up, a tunnel to
#      the peer, wg show and wgcardctl show, down removes interface and
#      daemon;
#  (b) the key on the (virtual) card: the file has no PrivateKey and
#      WGCARD_KEY_SOURCE=openpgp, WGCARD_CARD_PUBLIC_KEY and
#      WGCARD_PIN_FILE tell wgcardd where the key is; the card does the
#      handshake; down as above;
#      wg set private-key is ignored then (the card's key stays);
#  (c) bad WGCARD_ values (serial, key source, public key, a PIN file
#      readable by others, a PIN credential without systemd): up fails
#      with the variable named, and nothing is left behind;
#  (d) with -c the file wins: the variables are ignored, with a warning.
# wg-quick tries the kernel's wireguard first; the test hides it on
# every kernel (a mount namespace with an empty /sys/module and an `ip`
# that refuses "type wireguard"), so that wg-quick falls back to the
# userspace implementation as it does on a kernel without the module,
# and the hiding itself is exercised here too.
T_ID=wq
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/card.sh"

PIN=wgPIN-9u1ck
CTL=$T_ROOT/build/wgcardctl
command -v wg-quick >/dev/null || t_fatal "wg-quick is missing (wireguard-tools)"

# wg-quick runs the userspace implementation only when `ip link add
# type wireguard` fails and /sys/module/wireguard does not exist.  So
# that the test takes that path on every kernel, wg-quick runs in a mount
# namespace of its own where an empty tmpfs hides /sys/module and a shim
# is bind-mounted over the `ip` binary (over the file, because wg-quick
# puts its own directory, /usr/bin, first in PATH): the shim refuses
# "link add ... type wireguard" and runs the real ip, bind-mounted at
# $T_TMP/shim/ip.real, for the rest.  The daemon wg-quick starts stays in
# that namespace; it does not use either.
mkdir -p "$T_TMP/shim"
cat >"$T_TMP/shim/ip" <<EOS
#!/bin/sh
case " \$* " in
*" link add "*" type wireguard "*)
	echo "wgquick.sh: kernel wireguard hidden" >&2; exit 2 ;;
esac
exec "$T_TMP/shim/ip.real" "\$@"
EOS
chmod 755 "$T_TMP/shim/ip"
: >"$T_TMP/shim/ip.real"
# shellcheck disable=SC2016
HIDE_SCRIPT='
	shim=$1
	shift
	mount -t tmpfs wgquick-test /sys/module || exit 125
	first=
	for p in $(PATH=/usr/bin:$PATH type -ap ip); do
		r=$(readlink -f "$p") || continue
		case " $seen " in *" $r "*) continue ;; esac
		if [ -z "$first" ]; then
			mount --bind "$r" "$shim/ip.real" || exit 125
			first=$r
		fi
		mount --bind "$shim/ip" "$r" || exit 125
		seen="$seen $r"
	done
	[ -n "$first" ] || exit 125
	exec "$@"'

# hidden NS CMD...: CMD in NS, the kernel's wireguard hidden (see above).
hidden()
{
	local ns=$1
	shift
	if [ "$HIDE" = 1 ]; then
		ip netns exec "$ns" unshare -m --propagation private \
		    bash -c "$HIDE_SCRIPT" hide "$T_TMP/shim" "$@"
	else
		ip netns exec "$ns" "$@"
	fi
}

# wgq NS ENV... -- ARGS: wg-quick ARGS in NS, wgcardd its userspace
# implementation.
wgq()
{
	local ns=$1 envs=()
	shift
	while [ "$1" != -- ]; do
		envs+=("$1")
		shift
	done
	shift
	hidden "$ns" env "${envs[@]}" \
	    WG_QUICK_USERSPACE_IMPLEMENTATION="$WGCARDD" wg-quick "$@"
}

# Can this machine make the mount namespace?  Without it, a kernel
# without wireguard still runs the test; one with it cannot.
if unshare -m --propagation private bash -c "$HIDE_SCRIPT" hide \
    "$T_TMP/shim" true 2>"$T_TMP/hide.err"; then
	HIDE=1
elif [ ! -e /sys/module/wireguard ]; then
	HIDE=0
	t_log "# no mount namespace ($(head -n 1 "$T_TMP/hide.err")); the kernel has no wireguard, so wg-quick falls back anyway"
else
	t_skip "wg-quick" "the kernel has wireguard and it cannot be hidden from wg-quick: $(head -n 1 "$T_TMP/hide.err")"
	T_DONE=1	# nothing else can run: a skip, not a failure
	t_cleanup
	echo "0 passed, 0 failed, 1 skipped"
	exit 0
fi
t_log "# kernel wireguard module: $([ -e /sys/module/wireguard ] && echo present || echo absent); hidden from wg-quick: $([ "$HIDE" = 1 ] && echo yes || echo "not needed")"

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

# ctl_pubkey: the interface's public key as wgcardctl show has it.
ctl_pubkey()
{
	ip netns exec "$NS_A" "$CTL" -i "$IF_A" show |
	    awk '$1 == "public" && $2 == "key:" { print $3; exit }'
}

# card_set_key_checks: in card mode a private key given over the UAPI
# (wg set private-key, or a PrivateKey line wg-quick passes on) is
# ignored by the key broker: the card's key stays, and a new handshake
# is still the card's.
card_set_key_checks()
{
	local d1
	t_check "card: wg set private-key is answered" \
	    wgx "$NS_A" set "$IF_A" private-key "$T_TMP/S.key"
	t_eq "card: after wg set private-key, the key is still the card's" \
	    "$(ctl_pubkey)" "$PUB_C"
	# A new session: A forgets the peer and meets it again.
	d1=$(card_status_field deciphers)
	if ! wgx "$NS_A" set "$IF_A" peer "$PUB_B" remove ||
	    ! wgx "$NS_A" set "$IF_A" peer "$PUB_B" allowed-ips "$IN4_B/32" \
	    endpoint "$OUT4_B:$PORT_B"; then
		t_fail "card: re-adding the peer" "wg set failed"
	fi
	t_check "card: a new handshake after wg set private-key" \
	    ping_retry "$NS_A" "$IN4_B" 15
	t_check "card: ... done by the card" \
	    test "$(card_status_field deciphers)" -gt "$d1"
}

card_start_pcscd wq || t_fatal "pcscd"
PUB_C=$(card_init_state "$T_TMP/a.state" --generate --pin "$PIN") ||
    t_fatal "card"
card_start_vcard "$T_TMP/a.state" || t_fatal "vcard"
card_wait_present || t_fatal "card not seen"
PUB_S=$(key_new S) || t_fatal "key S"
pair_b_only "$PUB_S" || t_fatal "side B"
mkdir -p "$T_TMP/q" && chmod 700 "$T_TMP/q"
if [ "$HIDE" = 1 ]; then
	# What wg-quick will see: /usr/bin first in PATH, as it sets it.
	t_check "wg-quick's view: no /sys/module/wireguard, ip refuses type wireguard" \
	    hidden "$NS_A" bash -c '[ ! -e /sys/module/wireguard ] &&
	    PATH=/usr/bin:$PATH ip link add wqprobe0 type wireguard 2>&1 |
	    grep -q "kernel wireguard hidden" &&
	    PATH=/usr/bin:$PATH ip link show lo >/dev/null'
fi
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
t0=$(now_ms)
if wgq "$NS_A" -- up "$FILE" >"$T_TMP/up-a.log" 2>&1; then
	t_ok "software key: wg-quick up"
	t_log "#   wg-quick up took $(($(now_ms) - t0)) ms"
	grep -q "Falling back to slow userspace implementation" "$T_TMP/up-a.log" &&
	    t_ok "software key: wg-quick used wgcardd (userspace)" ||
	    t_fail "software key: wg-quick used wgcardd" "$(cat "$T_TMP/up-a.log")"
	up_checks "software key" "$PUB_S" && down_checks "software key" "$FILE"
else
	t_fail "software key: wg-quick up" "$(cat "$T_TMP/up-a.log")"
fi

# (a2) SaveConfig = true with a software key: wg-quick would write the
# file back from wg showconf, which has no PrivateKey (it never leaves
# the key broker). Refused at up, naming the file, line and key.
sed -i 's/^ListenPort.*/&\nSaveConfig = true/' "$FILE"
sum0=$(sha256sum <"$FILE")
if wgq "$NS_A" -- up "$FILE" >"$T_TMP/up-s.log" 2>&1; then
	t_fail "SaveConfig with a software key: wg-quick up refused" "$(cat "$T_TMP/up-s.log")"
	wgq "$NS_A" -- down "$FILE" >>"$T_TMP/up-s.log" 2>&1
else
	t_ok "SaveConfig with a software key: wg-quick up refused"
fi
t_check "SaveConfig with a software key: the error names file:line:key" \
    grep -q "$FILE:4: SaveConfig: .*PrivateKey" "$T_TMP/up-s.log"
t_eq "SaveConfig with a software key: the file is untouched" \
    "$(sha256sum <"$FILE")" "$sum0"
t_check "SaveConfig with a software key: no interface left" \
    bash -c "! ip -n '$NS_A' link show '$IF_A' >/dev/null 2>&1"
sed -i '/^SaveConfig/d' "$FILE"

# (b) the key on the card
(umask 077; echo "$PIN" >"$T_TMP/pin") || t_fatal "pin file"
wgx "$NS_B" set "$IF_B" peer "$PUB_S" remove &&
    wgx "$NS_B" set "$IF_B" peer "$PUB_C" allowed-ips "$IN4_A/32" ||
    t_fatal "B knows the card's key"
sed -i '/^PrivateKey/d' "$FILE"
# The recipe of docs/operations.md: wgcardctl -r READER card pubkey
# reads the key from the card itself.
PUB_CTL=$(ip netns exec "$NS_A" "$CTL" -r "Virtual PCD" card pubkey 2>/dev/null)
t_eq "card: wgcardctl card pubkey before up (from the card)" "$PUB_CTL" "$PUB_C"
CARDENV_NOPIN=(PCSCLITE_CSOCK_NAME="$PCSCLITE_CSOCK_NAME"
    WGCARD_KEY_SOURCE=openpgp WGCARD_CARD_PUBLIC_KEY="$PUB_CTL")
CARDENV=("${CARDENV_NOPIN[@]}" WGCARD_PIN_FILE="$T_TMP/pin")
d0=$(card_status_field deciphers)
t0=$(now_ms)
if wgq "$NS_A" "${CARDENV[@]}" -- up "$FILE" >"$T_TMP/up-b.log" 2>&1; then
	t_ok "card: wg-quick up (no PrivateKey in the file)"
	t_log "#   wg-quick up took $(($(now_ms) - t0)) ms"
	if up_checks "card" "$PUB_C"; then
		t_check "card: the card did the handshake" \
		    test "$(card_status_field deciphers)" -gt "$d0"
		t_check "card: wgcardctl card status: ready" sh -c \
		    "ip netns exec '$NS_A' '$CTL' -i '$IF_A' card status | grep -q 'state: ready'"
		t_eq "card: wgcardctl card pubkey" \
		    "$(ip netns exec "$NS_A" "$CTL" -i "$IF_A" card pubkey)" "$PUB_C"
		card_set_key_checks
		down_checks "card" "$FILE"
	fi
else
	t_fail "card: wg-quick up" "$(cat "$T_TMP/up-b.log")"
fi
t_check "card: no PIN in wg-quick's output" bash -c "! grep -q '$PIN' '$T_TMP/up-b.log'"

# (c) bad values: refused before anything is made, naming the variable
# bad_env TAG ENV...: wg-quick up with the card's environment (BADBASE)
# and ENV fails, the error names TAG's variable, and nothing is left behind.
bad_env()
{
	local tag=$1 log=$T_TMP/up-$1.log
	shift
	if wgq "$NS_A" "${BADBASE[@]}" "$@" -- up "$FILE" >"$log" 2>&1; then
		t_fail "bad $tag: wg-quick up fails" "it succeeded"
		wgq "$NS_A" -- down "$FILE" >/dev/null 2>&1
	else
		t_ok "bad $tag: wg-quick up fails"
	fi
	if grep -q "environment: $tag: " "$log"; then
		t_ok "bad $tag: the error names the variable"
		t_log "#   $(grep "environment: $tag: " "$log" | head -n 1)"
	else
		t_fail "bad $tag: the error names the variable" "$(cat "$log")"
	fi
	t_check "bad $tag: no interface left" \
	    bash -c "! ip -n '$NS_A' link show '$IF_A' >/dev/null 2>&1"
	t_check "bad $tag: no daemon left" test -z "$(daemon_of "$IF_A")"
	t_check "bad $tag: no UAPI socket left" test ! -e "$WG_RUNDIR/$IF_A.sock"
}
BADBASE=("${CARDENV[@]}")
bad_env WGCARD_CARD_SERIAL WGCARD_CARD_SERIAL=nothex
bad_env WGCARD_KEY_SOURCE WGCARD_KEY_SOURCE=piv
bad_env WGCARD_CARD_PUBLIC_KEY WGCARD_CARD_PUBLIC_KEY=c2hvcnQ=
(umask 022; echo "$PIN" >"$T_TMP/pin644") || t_fatal "pin file"
bad_env WGCARD_PIN_FILE WGCARD_PIN_FILE="$T_TMP/pin644"
BADBASE=("${CARDENV_NOPIN[@]}")
bad_env WGCARD_PIN_CREDENTIAL WGCARD_PIN_CREDENTIAL=wg0.pin
t_check "bad values: no PIN in wg-quick's output" \
    bash -c "! cat '$T_TMP'/up-WGCARD_*.log | grep -q '$PIN'"

# (d) with -c the file wins: the variables are ignored, with a warning.
(
	umask 077
	printf '[Interface]\nPrivateKey = %s\nListenPort = %s\n' \
	    "$(cat "$T_TMP/S.key")" "$PORT_A" >"$T_TMP/q/wqcheck0.conf"
)
if ip netns exec "$NS_A" env WGCARD_CARD_SERIAL=nothex "$WGCARDD" -n \
    -c "$T_TMP/q/wqcheck0.conf" >"$T_TMP/d.log" 2>&1; then
	t_ok "-c with WGCARD_ variables: the file is used (wgcardd -n: OK)"
else
	t_fail "-c with WGCARD_ variables: the file is used" "$(cat "$T_TMP/d.log")"
fi
t_check "-c with WGCARD_ variables: a warning names the variable" \
    grep -q "WGCARD_CARD_SERIAL .*ignored: with -c" "$T_TMP/d.log"

t_done
