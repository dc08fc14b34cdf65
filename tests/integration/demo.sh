#!/bin/bash
# demo: the README's first command's main job, contrib/demo.sh, shows a
# working tunnel with host A's key on the virtual card and leaves nothing
# running (no namespace, no socket, none of its processes).
T_ID=dm
. "$(dirname "$0")/../lib/common.sh"

out=$T_TMP/demo.out
if timeout 120 "$T_ROOT/contrib/demo.sh" >"$out" 2>&1; then
	t_ok "demo.sh exits 0"
else
	t_fail "demo.sh exits 0" "exit $?"
	tail -n 30 "$out"
fi
t_check "handshake and ping shown" grep -q "== tunnel up: handshake done, ping answered" "$out"
t_check "ping answered" grep -q "3 received" "$out"
t_check "wg show output" grep -q "latest handshake:" "$out"
t_check "the key is on the card (card status ready)" grep -q "state: ready" "$out"
t_check "card operations in the audit log" grep -q "audit: op=ecdh backend=openpgp .*result=ok" "$out"
pid=$(sed -n 's/^ *\([0-9]*\) root *wgcardd .*/\1/p' "$out" | head -1)
t_check "the daemon it started is gone" test -n "$pid" -a ! -d "/proc/${pid:-0}"
t_check "no demo namespace left" sh -c "! ip netns list | grep -q wgdemo"
t_check "no demo socket left" sh -c "! ls /var/run/wireguard/ /var/run/wgcard/ 2>/dev/null | grep -q wgdemo"
t_done
