#!/bin/bash
# lifecycle: SIGTERM makes the daemon exit cleanly (status 0), removing its
# socket and interface; deleting the interface makes it exit (wgcardd:
# status 2, so that a service manager restarts it); deleting the UAPI
# socket file makes it exit (the xplatform rules).  Each case uses a
# fresh daemon A, configured with a live session to B.
T_ID=lc
. "$(dirname "$0")/../lib/common.sh"

# live_pair TAG: a pair with a working session; sets PID (A's daemon) and
# KIDS (its children, if any).
live_pair()
{
	pair_new "$1" || return 1
	pair_peer A 4 && pair_peer B 4 || return 1
	ping_retry "$NS_A" "$IN4_B" 10 || return 1
	PID=${T_IF_PID[$IF_A]}
	KIDS=$(descendants "$PID")
}

# exited NAME: PID (and its children) gone within 5 s; sets STATUS.
exited()
{
	if wait_gone 5 "$PID"; then
		wait "$PID"
		STATUS=$?
		t_ok "$1: daemon exited (status $STATUS)"
	else
		STATUS=
		t_fail "$1: daemon exited" "pid $PID still there after 5s"
		return 1
	fi
	if [ -z "$KIDS" ] || wait_gone 5 $KIDS; then
		t_ok "$1: no process of the daemon left"
	else
		t_fail "$1: no process of the daemon left" "$KIDS"
	fi
}

sock_gone()
{
	[ ! -e "$WG_RUNDIR/$1.sock" ]
}

link_gone()
{
	! ip -n "$1" link show "$2" >/dev/null 2>&1
}

# ---- SIGTERM
live_pair 1 || t_fatal "pair 1"
kill -TERM "$PID"
if exited "SIGTERM"; then
	t_eq "SIGTERM: exit status" "$STATUS" 0
fi
t_check "SIGTERM: UAPI socket removed" wait_for 3 sock_gone "$IF_A"
t_check "SIGTERM: interface removed" wait_for 3 link_gone "$NS_A" "$IF_A"
t_check "SIGTERM: the peer daemon is unaffected" pid_alive "${T_IF_PID[$IF_B]}"
pair_del

# ---- SIGTERM right after start, before any configuration
ns=$(ns_name 2a)
ns_new "$ns" || t_fatal "namespace"
ifc="wg${T_ID}$$2a"
start_impl "$ns" "$IMPL_A" "$ifc" || t_fatal "start"
PID=$T_LASTPID KIDS=$(descendants "$PID")
kill -TERM "$PID"
if exited "SIGTERM unconfigured"; then
	t_eq "SIGTERM unconfigured: exit status" "$STATUS" 0
fi
t_check "SIGTERM unconfigured: UAPI socket removed" wait_for 3 sock_gone "$ifc"
ns_del "$ns"

# ---- SIGINT (our background jobs start with SIGINT ignored; a daemon
# installs its own handler, as xplatform asks it to exit on SIGINT)
ns=$(ns_name 5a)
ns_new "$ns" || t_fatal "namespace"
ifc="wg${T_ID}$$5a"
start_impl "$ns" "$IMPL_A" "$ifc" || t_fatal "start"
PID=$T_LASTPID KIDS=$(descendants "$PID")
kill -INT "$PID"
if exited "SIGINT"; then
	t_eq "SIGINT: exit status" "$STATUS" 0
fi
t_check "SIGINT: UAPI socket removed" wait_for 3 sock_gone "$ifc"
ns_del "$ns"

# ---- interface deleted
live_pair 3 || t_fatal "pair 3"
ip -n "$NS_A" link del "$IF_A" || t_fail "ip link del" "failed"
if exited "interface deleted"; then
	# Not a stop anybody asked for: non-zero, so that systemd's
	# Restart=on-failure restarts (docs/decisions.md 18); it was 0.
	if [ "$IMPL_A" = wgcardd ]; then
		t_eq "interface deleted: exit status 2" "$STATUS" 2
	else
		t_skip "interface deleted: exit status" \
		    "$IMPL_A is not wgcardd; its status is its own"
	fi
fi
t_check "interface deleted: UAPI socket removed" wait_for 3 sock_gone "$IF_A"
pair_del

# ---- UAPI socket file deleted
live_pair 4 || t_fatal "pair 4"
rm -f "$WG_RUNDIR/$IF_A.sock"
exited "socket deleted"
t_check "socket deleted: interface removed" wait_for 3 link_gone "$NS_A" "$IF_A"
pair_del

# ---- stopped and started again at once, five times (a service restart):
# the interface and the UDP port of the one before may still be going away
# in the kernel (an io_uring drops its registered files after its exit).
ns=$(ns_name 3a)
ns_new "$ns" || t_fatal "namespace"
ifc="wg${T_ID}$$3a"
key_new R >/dev/null || t_fatal "key"
(umask 077; printf '[Interface]\nPrivateKey = %s\nListenPort = %s\n' \
    "$(cat "$T_TMP/R.key")" "$PORT_A" >"$T_TMP/$ifc.conf")
ok=0
for i in 1 2 3 4 5; do
	start_conf "$ns" "$ifc" "$T_TMP/$ifc.conf" >"$T_TMP/restart.out" 2>&1 ||
	    break
	impl_stop "$ifc"
	ok=$i
done
t_eq "restart right after stop, five times" "$ok" 5
[ "$ok" -eq 5 ] || cat "$T_TMP/restart.out"
ns_del "$ns"

t_done
