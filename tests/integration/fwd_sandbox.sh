#!/bin/bash
# fwd_sandbox: the forwarder is confined, with each backend (classic, and
# io_uring where the kernel has it). With a tunnel up and carrying
# traffic: every thread of the forwarder is under seccomp (Seccomp: 2 in
# /proc/PID/task/*/status) and, traced from before the first handshake
# to the end of the load, opens no file and no socket (strace),
# NoNewPrivs is set, it runs as _wgcard, the
# io_uring backend holds a ring and the log names the backend. A system
# call outside the filter kills it (SIGSYS), and the daemon goes down
# with it, saying so: a test build (-DWGCARD_TEST_HOOKS, built here into
# build-testhooks/) makes a forbidden call on SIGUSR2. A production build
# has no such hook: SIGUSR2 changes nothing there. With auto, a kernel
# without io_uring (simulated by the test build) gets the classic backend. (That the ring refuses
# opcodes outside its allowlist is tests/unit/test_fwd_ring.c.)
T_ID=fs
. "$(dirname "$0")/../lib/common.sh"

PROD=$WGCARDD
HOOKS_B=build-testhooks
HOOKS=$T_ROOT/$HOOKS_B/wgcardd

# The test build, next to the production one, from the same sources (one
# make at a time: the runner may start this script twice at once).
if ! flock /tmp/wgcard-testhooks.lock make -s -C "$T_ROOT" B=$HOOKS_B \
    CFLAGS="-O2 -g -DWGCARD_TEST_HOOKS" $HOOKS_B/wgcardd \
    $HOOKS_B/wgcard-keyd >"$T_TMP/make.log" 2>&1; then
	cat "$T_TMP/make.log"
	t_fatal "cannot build the test-hook binary"
fi

# fwd_pid IFNAME: the forwarder's pid of the daemon serving IFNAME.
fwd_pid()
{
	local p
	for p in $(descendants "${T_IF_PID[$1]}"); do
		[ "$(cat "/proc/$p/comm" 2>/dev/null)" = wgcard-fwd ] &&
		    { echo "$p"; return 0; }
	done
	return 1
}

# all_threads_seccomp PID: every thread in filter mode.
all_threads_seccomp()
{
	local st n=0
	for st in /proc/"$1"/task/*/status; do
		grep -q '^Seccomp:[[:space:]]*2$' "$st" || return 1
		n=$((n + 1))
	done
	[ $n -ge 1 ]
}

# strace_start NAME: traces the forwarder of IF_A (every thread), from
# before its first handshake, for the calls its filter refuses quietly
# (EPERM: open, openat, socket, connect; any other call outside the
# filter kills it) and for its packet I/O, to show that the trace works.
# libcrypto (the data path's AEAD) must load nothing once the filter is
# on: no configuration, engine, provider or /proc file.
strace_start()
{
	local fpid i
	STRACE_PID=
	if ! command -v strace >/dev/null; then
		t_skip "$1: strace" "strace is missing (contrib/install-deps.sh)"
		return 0
	fi
	fpid=$(fwd_pid "$IF_A") || { t_fail "$1: strace" "no wgcard-fwd"; return 0; }
	for i in $(seq 50); do
		all_threads_seccomp "$fpid" && break
		sleep 0.1
	done
	strace -f -qq -o "$T_TMP/strace.$1" -p "$fpid" -e trace=open,openat,openat2,socket,connect,io_uring_enter,recvmmsg,sendmmsg &
	STRACE_PID=$!
	T_PIDS+=("$STRACE_PID")
	for i in $(seq 50); do
		awk '/^TracerPid/ { exit $2 == 0 }' /proc/"$fpid"/status && return 0
		sleep 0.1
	done
	t_fail "$1: strace attached" "TracerPid still 0"
}

# strace_check NAME: stops the trace and reads it.
strace_check()
{
	local io bad
	[ -n "$STRACE_PID" ] || return 0
	kill "$STRACE_PID" 2>/dev/null
	wait "$STRACE_PID" 2>/dev/null
	io=$(grep -c -E '^[0-9]+ +(io_uring_enter|recvmmsg|sendmmsg)\(' "$T_TMP/strace.$1")
	bad=$(grep -E '^[0-9]+ +(open|openat|openat2|socket|connect)\(' "$T_TMP/strace.$1")
	t_check "$1: strace saw the forwarder's packet I/O ($io calls)" [ "$io" -gt 0 ]
	t_eq "$1: no open or socket call under the filter (strace)" "$bad" ""
}

uring_ok=1
if [ "$(cat /proc/sys/kernel/io_uring_disabled 2>/dev/null || echo 0)" = 2 ]; then
	uring_ok=0
fi

n=0
for backend in classic uring; do
	n=$((n + 1))
	if [ $backend = uring ] && [ $uring_ok = 0 ]; then
		t_skip "$backend" "kernel.io_uring_disabled=2 on this machine"
		continue
	fi
	# Two crypto workers whatever the CPUs: the filter must cover them.
	export WGCARD_FWD_BACKEND=$backend WGCARD_FWD_THREADS=2
	WGCARDD=$HOOKS
	pair_new "$n" wgcardd wgcardd || t_fatal "pair ($backend)"
	strace_start "$backend"
	pair_peer A 4 && pair_peer B none || t_fatal "peers ($backend)"
	t_check "$backend: tunnel up" ping_retry "$NS_A" "$IN4_B" 10
	pid=$(fwd_pid "$IF_A")
	if [ -z "$pid" ]; then
		t_fail "$backend: forwarder found" "no wgcard-fwd under ${T_IF_PID[$IF_A]}"
		pair_del
		continue
	fi
	# Some load, so the crypto workers have run.
	nsx "$NS_A" ping -q -f -c 2000 -s 1400 "$IN4_B" >/dev/null 2>&1
	strace_check "$backend"
	t_check "$backend: Seccomp: 2 in every thread" all_threads_seccomp "$pid"
	nthreads=$(ls /proc/"$pid"/task | wc -l)
	t_check "$backend: the forwarder has its 3 threads ($nthreads)" \
	    [ "$nthreads" -ge 3 ]
	t_eq "$backend: NoNewPrivs" \
	    "$(awk '/^NoNewPrivs/ { print $2 }' /proc/"$pid"/status)" 1
	t_eq "$backend: runs as _wgcard" \
	    "$(ps -o user= -p "$pid" | tr -d ' ')" _wgcard
	want=classic
	[ $backend = uring ] && want=io_uring
	if grep -q "forwarder: $want backend" "${T_IF_LOG[$IF_A]}"; then
		t_ok "$backend: the log names the $want backend"
	else
		t_fail "$backend: the log names the $want backend" \
		    "$(grep 'backend' "${T_IF_LOG[$IF_A]}" | head -2)"
	fi
	rings=$(ls -l /proc/"$pid"/fd 2>/dev/null | grep -c 'io_uring')
	if [ $backend = uring ]; then
		t_check "$backend: holds an io_uring" [ "$rings" -ge 1 ]
	else
		t_eq "$backend: holds no io_uring" "$rings" 0
	fi

	# The forbidden call: the filter kills the forwarder, the daemon goes.
	dpid=${T_IF_PID[$IF_A]}
	kill -USR2 "$pid"
	t_check "$backend: forbidden call kills the forwarder" wait_gone 5 "$pid"
	t_check "$backend: the daemon goes down with it" wait_gone 10 "$dpid"
	if grep -q 'forwarder.*killed by signal 31' "${T_IF_LOG[$IF_A]}"; then
		t_ok "$backend: the parent names SIGSYS"
	else
		t_fail "$backend: the parent names SIGSYS" \
		    "$(tail -n 5 "${T_IF_LOG[$IF_A]}")"
	fi
	pair_del
done

# auto falls back to classic where io_uring cannot be set up (the test
# build refuses it when asked), and says so.
n=$((n + 1))
export WGCARD_FWD_BACKEND=auto WGCARD_TEST_NO_URING=1
WGCARDD=$HOOKS
pair_new "$n" wgcardd wgcardd || t_fatal "pair (fallback)"
pair_peer A 4 && pair_peer B none || t_fatal "peers (fallback)"
t_check "auto without io_uring: tunnel up" ping_retry "$NS_A" "$IN4_B" 10
if grep -q 'forwarder: classic backend (io_uring unavailable' \
    "${T_IF_LOG[$IF_A]}"; then
	t_ok "auto without io_uring: classic, and the log says why"
else
	t_fail "auto without io_uring: classic, and the log says why" \
	    "$(grep backend "${T_IF_LOG[$IF_A]}" | head -2)"
fi
pair_del
unset WGCARD_TEST_NO_URING

# The production build: no hook.
n=$((n + 1))
unset WGCARD_FWD_BACKEND WGCARD_FWD_THREADS
WGCARDD=$PROD
pair_new "$n" wgcardd wgcardd || t_fatal "pair (production)"
pair_peer A 4 && pair_peer B none || t_fatal "peers (production)"
t_check "production: tunnel up" ping_retry "$NS_A" "$IN4_B" 10
pid=$(fwd_pid "$IF_A")
if [ -n "$pid" ]; then
	t_check "production: Seccomp: 2 in every thread" all_threads_seccomp "$pid"
	kill -USR2 "$pid"
	sleep 1
	t_check "production: SIGUSR2 changes nothing" pid_alive "$pid"
	t_check "production: tunnel still up" ping_ok "$NS_A" "$IN4_B"
else
	t_fail "production: forwarder found" "no wgcard-fwd"
fi
pair_del

t_done
