#!/bin/bash
# demo.sh: the main job on the embedded defaults. Two hosts (network
# namespaces joined by a veth pair). Host A runs wgcardd from a config
# file with its private key on a virtual OpenPGP card (build/wgcard-vcard
# behind a pcscd of our own, through vsmartcard-vpcd): the key is made on
# the card and never leaves it. Host B runs wgcardd in xplatform mode with
# a software key, configured with the stock wg(8).
# Shows the handshake, a ping through the tunnel and `wg show`, then
# removes everything it made. Run as root from the repository root.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
wgcardd=$top/build/wgcardd
vcard=$top/build/wgcard-vcard
[ -x "$wgcardd" ] && [ -x "$vcard" ] ||
    { echo "demo: build first (make)" >&2; exit 1; }
vpcd_driver=$(ls /usr/lib/pcsc/drivers/serial/libifdvpcd.so 2>/dev/null) ||
    { echo "demo: vsmartcard-vpcd is missing (contrib/install-deps.sh)" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || { echo "demo: must run as root" >&2; exit 1; }

tag=d$$
nsa=wgdemo-a-$tag
nsb=wgdemo-b-$tag
ifa=wgdemoa$$
ifb=wgdemob$$
tmp=$(mktemp -d)
pida= pidb= pidpcscd= pidcard=

cleanup() {
	for p in $pida $pidb $pidcard $pidpcscd; do kill "$p" 2>/dev/null || true; done
	for p in $pida $pidb $pidcard $pidpcscd; do
		for _ in 1 2 3 4 5 6 7 8 9 10; do
			kill -0 "$p" 2>/dev/null || break
			sleep 0.2
		done
		kill -9 "$p" 2>/dev/null || true
	done
	ip netns del "$nsa" 2>/dev/null || true
	ip netns del "$nsb" 2>/dev/null || true
	[ -n "${KEEP:-}" ] && echo "logs in $tmp" || rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

ip netns add "$nsa"
ip netns add "$nsb"
ip link add veth0 netns "$nsa" type veth peer name veth0 netns "$nsb"
ip -n "$nsa" addr add 192.0.2.1/24 dev veth0
ip -n "$nsb" addr add 192.0.2.2/24 dev veth0
for ns in "$nsa" "$nsb"; do
	ip -n "$ns" link set lo up
	ip -n "$ns" link set veth0 up
done

umask 077
# A pcscd of our own (its socket in our directory, seen through a private
# mount namespace) with a vpcd reader on a free port, and the card.
port=$(( 36000 + ($$ % 1000) * 2 ))
mkdir -p "$tmp/pcscd/conf" "$tmp/pcscd/run"
printf 'FRIENDLYNAME "Virtual PCD"\nDEVICENAME   /dev/null:0x%X\nLIBPATH      %s\nCHANNELID    0x%X\n' \
    "$port" "$vpcd_driver" "$port" > "$tmp/pcscd/conf/vpcd"
export PCSCLITE_CSOCK_NAME=$tmp/pcscd/run/pcscd.comm
unshare --mount --propagation private sh -c \
    'mkdir -p /run/pcscd && mount --bind "$1" /run/pcscd && exec pcscd -f -c "$2"' \
    sh "$tmp/pcscd/run" "$tmp/pcscd/conf" > "$tmp/pcscd.log" 2>&1 &
pidpcscd=$!
for _ in $(seq 50); do [ -S "$PCSCLITE_CSOCK_NAME" ] && break; sleep 0.1; done
echo "== virtual OpenPGP card: key generated on the card (PIN 123456)"
pa=$("$vcard" --init-state "$tmp/card.state" --generate --pin 123456)
"$vcard" --state "$tmp/card.state" --port "$port" > "$tmp/vcard.log" 2>&1 &
pidcard=$!
echo 123456 > "$tmp/pin"
echo "   card public key: $pa"

kb=$(wg genkey)
pb=$(echo "$kb" | wg pubkey)

cat > "$tmp/$ifa.conf" <<EOC
[Interface]
KeySource = openpgp
CardPublicKey = $pa
PinFile = $tmp/pin
ListenPort = 51820
Address = 10.200.0.1/24

[Peer]
PublicKey = $pb
AllowedIPs = 10.200.0.2/32
Endpoint = 192.0.2.2:51820
EOC

echo "== host A: wgcardd -c $ifa.conf (key on the card, config mode)"
ip netns exec "$nsa" "$wgcardd" -d -c "$tmp/$ifa.conf" >"$tmp/a.log" 2>&1 &
pida=$!
echo "== host B: wgcardd -f $ifb, configured with wg(8)"
ip netns exec "$nsb" "$wgcardd" -f "$ifb" >"$tmp/b.log" 2>&1 &
pidb=$!
for _ in $(seq 50); do
	[ -S /var/run/wireguard/$ifa.sock ] && [ -S /var/run/wireguard/$ifb.sock ] && break
	sleep 0.1
done
echo "$kb" > "$tmp/kb"
ip netns exec "$nsb" wg set "$ifb" private-key "$tmp/kb" listen-port 51820 \
    peer "$pa" allowed-ips 10.200.0.1/32 endpoint 192.0.2.1:51820
ip -n "$nsb" addr add 10.200.0.2/24 dev "$ifb"
ip -n "$nsb" link set "$ifb" up

echo "== waiting for host A's card (pcscd polls the reader, then one VERIFY)"
for _ in $(seq 100); do
	"$top/build/wgcardctl" -i "$ifa" card status 2>/dev/null |
	    grep -q 'state: ready' && break
	sleep 0.2
done
echo "== ping from B to A through the tunnel"
ip netns exec "$nsb" ping -c 3 -i 0.3 -W 2 10.200.0.1 || {
	echo "== no answer; logs:" >&2
	cat "$tmp/a.log" "$tmp/b.log" >&2
	exit 1
}
echo "== wg show on B"
ip netns exec "$nsb" wg show "$ifb"
echo "== wg show on A"
ip netns exec "$nsa" wg show "$ifa"
hs=$(ip netns exec "$nsa" wg show "$ifa" latest-handshakes | awk '{print $2}')
if [ "${hs:-0}" -gt 0 ]; then
	echo "== tunnel up: handshake done, ping answered"
else
	echo "== no handshake recorded" >&2
	cat "$tmp/a.log" "$tmp/b.log" >&2
	exit 1
fi
echo "== processes of host A (privilege separation)"
ps -o pid,user,comm,args --ppid "$pida" -p "$pida" || true
echo "== wgcardctl card status on A"
"$top/build/wgcardctl" -i "$ifa" card status || true
echo "== card operations (host A's key broker audit log)"
grep 'audit: op=' "$tmp/a.log" || true
