#!/bin/bash
# demo.sh: the main job on the embedded defaults. Two hosts (network
# namespaces joined by a veth pair), wgcardd on one from a config file,
# wgcardd on the other in xplatform mode configured with the stock wg(8).
# Shows the handshake, a ping through the tunnel and `wg show`, then
# removes everything it made. Run as root from the repository root.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
wgcardd=$top/build/wgcardd
[ -x "$wgcardd" ] || { echo "demo: build first (make)" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || { echo "demo: must run as root" >&2; exit 1; }

tag=d$$
nsa=wgdemo-a-$tag
nsb=wgdemo-b-$tag
ifa=wgdemoa$$
ifb=wgdemob$$
tmp=$(mktemp -d)
pida= pidb=

cleanup() {
	for p in $pida $pidb; do kill "$p" 2>/dev/null || true; done
	for p in $pida $pidb; do
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

ka=$(wg genkey)
kb=$(wg genkey)
pa=$(echo "$ka" | wg pubkey)
pb=$(echo "$kb" | wg pubkey)

umask 077
cat > "$tmp/$ifa.conf" <<EOC
[Interface]
PrivateKey = $ka
ListenPort = 51820
Address = 10.200.0.1/24

[Peer]
PublicKey = $pb
AllowedIPs = 10.200.0.2/32
Endpoint = 192.0.2.2:51820
EOC

echo "== host A: wgcardd -c $ifa.conf (software key, config mode)"
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

echo "== ping from B to A through the tunnel"
ip netns exec "$nsb" ping -c 3 -i 0.3 -W 2 10.200.0.1
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
