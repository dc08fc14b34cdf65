#!/bin/bash
# privsep: the privilege separation of wgcardd, seen from /proc with a
# tunnel up.  For each child (key broker, handshake, forwarder): user and
# group _wgcard, no capability at all (bounding set included), no_new_privs,
# seccomp filter mode, chroot /var/empty, kernel name and title; the parent
# is root.  Open fds: the key broker has only its socketpairs, the
# handshake process no TUN and no UDP socket, the forwarder the TUN and its
# UDP sockets.  Then, for each child in turn, on a fresh daemon: SIGKILL
# the child; the parent must exit non-zero within a few seconds with a log
# line naming the child, and the other children must go too.
#
# Side A is always wgcardd (the side under test); side B is $IMPL_B.
T_ID=ps
. "$(dirname "$0")/../lib/common.sh"

TOOLS=$T_ROOT/tests/tools
KILL_TIMEOUT=5
CTL_RUNDIR=/var/run/wgcard	# wgcardctl's control sockets

# The three children: kernel name, title word, words a log line may use.
CHILDREN="wgcard-keyd wgcard-hs wgcard-fwd"
declare -A SEC_TITLE=(
	[wgcard-keyd]="key broker"
	[wgcard-hs]="handshake"
	[wgcard-fwd]="forwarder"
)
declare -A SEC_LOGNAME=(
	[wgcard-keyd]='wgcard-keyd|keyd|key broker'
	[wgcard-hs]='wgcard-hs|handshake'
	[wgcard-fwd]='wgcard-fwd|forwarder'
)

# sec_child PARENT COMM: the pid of PARENT's child whose comm is COMM.
sec_child()
{
	ps -o pid=,comm= --ppid "$1" 2>/dev/null |
	    awk -v c="$2" '$2 == c { print $1; exit }'
}

# sec_status PID FIELD: a /proc/PID/status field, tabs squeezed to spaces.
sec_status()
{
	awk -v f="$2:" '$1 == f { $1 = ""; sub(/^ /, ""); print; exit }' \
	    "/proc/$1/status" 2>/dev/null
}

# sec_title PID: the command line as one string (NULs to spaces, trimmed).
sec_title()
{
	tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | sed 's/ *$//'
}

# sec_fd_target PID FD
sec_fd_target()
{
	readlink "/proc/$1/fd/$2" 2>/dev/null
}

WG_UID=$(getent passwd _wgcard | cut -d: -f3)
WG_GID=$(getent passwd _wgcard | cut -d: -f4)
[ -n "$WG_UID" ] && [ -n "$WG_GID" ] ||
    t_fatal "user _wgcard does not exist (contrib/install-deps.sh makes it)"
[ "$IMPL_A" = wgcardd ] ||
    t_log "# IMPL_A=$IMPL_A: this test is about wgcardd; side A runs wgcardd"

# ------------------------------------------------------- with a tunnel up

pair_new 1 wgcardd "$IMPL_B" || t_fatal "pair"
pair_peer A 4 && pair_peer B none || t_fatal "peers"
t_check "tunnel: ping through the tunnel" ping_retry "$NS_A" "$IN4_B" 10
t_check "tunnel: handshake done" wait_handshake "$NS_A" "$IF_A" "$PUB_B" 5

ppid_d=${T_IF_PID[$IF_A]}
t_eq "parent: comm" "$(cat "/proc/$ppid_d/comm" 2>/dev/null)" wgcardd
t_eq "parent: uid root" "$(sec_status "$ppid_d" Uid)" "0 0 0 0"
t_eq "parent: title" "$(sec_title "$ppid_d")" "wgcardd: parent [$IF_A]"

nkids=$(ps -o pid= --ppid "$ppid_d" | wc -l)
t_eq "parent: has exactly three children" "$nkids" 3

zero=0000000000000000
for comm in $CHILDREN; do
	pid=$(sec_child "$ppid_d" "$comm")
	if [ -z "$pid" ]; then
		t_fail "$comm: running" "no child named $comm of $ppid_d"
		continue
	fi
	t_ok "$comm: running (pid $pid)"
	t_eq "$comm: Uid" "$(sec_status "$pid" Uid)" \
	    "$WG_UID $WG_UID $WG_UID $WG_UID"
	t_eq "$comm: Gid" "$(sec_status "$pid" Gid)" \
	    "$WG_GID $WG_GID $WG_GID $WG_GID"
	# setgroups to none or to the user's own group (OpenBSD style).
	grp=$(sec_status "$pid" Groups)
	case $grp in
	""|"$WG_GID")	t_ok "$comm: supplementary groups '$grp'" ;;
	*)		t_fail "$comm: supplementary groups" \
			    "got '$grp', want none or $WG_GID" ;;
	esac
	for cap in CapEff CapPrm CapInh CapBnd CapAmb; do
		t_eq "$comm: $cap" "$(sec_status "$pid" $cap)" $zero
	done
	t_eq "$comm: NoNewPrivs" "$(sec_status "$pid" NoNewPrivs)" 1
	t_eq "$comm: Seccomp filter mode" "$(sec_status "$pid" Seccomp)" 2
	# The broker's Landlock layer (ABI 6, Linux 6.12, closes abstract
	# sockets and signals; the kernel's ABI is asked by a tool).
	if [ "$comm" = wgcard-keyd ]; then
		ll=$("$T_ROOT/build/tests/test_landlock" -abi 2>/dev/null || echo 0)
		if [ "$ll" -ge 6 ]; then
			t_check "$comm: Landlock applied (kernel ABI $ll)" \
			    grep -Eq "keyd: Landlock ABI $ll: file system, TCP, abstract sockets and signals closed" \
			    "${T_IF_LOG[$IF_A]}"
		else
			t_skip "$comm: Landlock" "kernel Landlock ABI $ll < 6"
		fi
	fi
	t_eq "$comm: chroot" "$(readlink "/proc/$pid/root")" /var/empty
	t_eq "$comm: cwd inside the chroot" "$(readlink "/proc/$pid/cwd")" \
	    /var/empty
	t_eq "$comm: comm" "$(cat "/proc/$pid/comm" 2>/dev/null)" "$comm"
	t_eq "$comm: title" "$(sec_title "$pid")" \
	    "wgcardd: ${SEC_TITLE[$comm]} [$IF_A]"

	# Open fds.  0-2 may be what the parent has there (the log);
	# anything else is checked per process.
	python3 "$TOOLS/procfds.py" "$pid" >"$T_TMP/fds.$comm" 2>&1
	bad=
	ntun=0 nudp=0 nunix=0
	while read -r fd kind detail; do
		case $kind in
		tun)	ntun=$((ntun + 1)) ;;
		udp|udp6) nudp=$((nudp + 1)) ;;
		unix)	nunix=$((nunix + 1)) ;;
		esac
		if [ "$fd" -le 2 ]; then
			[ "$(sec_fd_target "$pid" "$fd")" = \
			    "$(sec_fd_target "$ppid_d" "$fd")" ] ||
			    bad="$bad fd$fd($kind $detail not the parent's)"
			continue
		fi
		case $comm:$kind in
		*:pipe|*:anon)	;;	# event loop, signal pipes, io_uring
		wgcard-keyd:unix)
			[ "$detail" = - ] ||
			    bad="$bad fd$fd(unix socket bound to $detail)" ;;
		wgcard-hs:unix)
			# socketpairs, the UAPI socket, the wgcardctl
			# control socket.
			[ "$detail" = - ] ||
			    [ "$detail" = "$WG_RUNDIR/$IF_A.sock" ] ||
			    [ "$detail" = "$CTL_RUNDIR/$IF_A.sock" ] ||
			    bad="$bad fd$fd(unix socket bound to $detail)" ;;
		wgcard-fwd:unix|wgcard-fwd:tun|wgcard-fwd:udp|wgcard-fwd:udp6) ;;
		*)	bad="$bad fd$fd($kind $detail)" ;;
		esac
	done <"$T_TMP/fds.$comm"
	if [ -z "$bad" ] && [ -s "$T_TMP/fds.$comm" ]; then
		t_ok "$comm: open fds are only what it needs"
	else
		t_fail "$comm: open fds are only what it needs" \
		    "unexpected:${bad:- no fd list}"
		sed 's/^/    /' "$T_TMP/fds.$comm"
	fi
	case $comm in
	wgcard-keyd)
		t_eq "$comm: no TUN" $ntun 0
		t_eq "$comm: no UDP socket" $nudp 0
		if [ $nunix -ge 1 ]; then
			t_ok "$comm: has its socketpair(s) ($nunix)"
		else
			t_fail "$comm: has its socketpair(s)" "no unix socket"
		fi ;;
	wgcard-hs)
		t_eq "$comm: no TUN" $ntun 0
		t_eq "$comm: no UDP socket" $nudp 0
		if grep -q " unix $WG_RUNDIR/$IF_A.sock\$" "$T_TMP/fds.$comm"
		then
			t_ok "$comm: serves the UAPI socket"
		else
			t_fail "$comm: serves the UAPI socket" \
			    "no fd on $WG_RUNDIR/$IF_A.sock"
		fi ;;
	wgcard-fwd)
		t_eq "$comm: has the TUN" $ntun 1
		if [ $nudp -ge 1 ]; then
			t_ok "$comm: has UDP sockets ($nudp)"
		else
			t_fail "$comm: has UDP sockets" "none"
		fi ;;
	esac
done

# The parent keeps no TUN? It may (it made it); only report.
t_log "# parent fds: $(python3 "$TOOLS/procfds.py" "$ppid_d" |
    awk '{printf "%s:%s ", $1, $2}')"

t_check "tunnel: still works after the inspection" ping_ok "$NS_A" "$IN4_B"
pair_del

# ------------------------------------------------- a child dies: fail closed

k=0
for comm in $CHILDREN; do
	k=$((k + 1))
	c="kill $comm"
	ns=$(ns_name "k$k")
	ifc="wg${T_ID}$$k$k"
	ns_new "$ns" || t_fatal "$c: namespace"
	if ! start_impl "$ns" wgcardd "$ifc"; then
		t_fail "$c: daemon starts" "see above"
		continue
	fi
	d=$T_LASTPID
	key_new "k$k" >/dev/null &&
	    wgx "$ns" set "$ifc" private-key "$T_TMP/k$k.key" ||
	    t_fail "$c: wg set private-key" "failed"
	victim=$(sec_child "$d" "$comm")
	others=
	for o in $CHILDREN; do
		[ "$o" = "$comm" ] && continue
		others="$others $(sec_child "$d" "$o")"
	done
	if [ -z "$victim" ] || [ "$(echo $others | wc -w)" -ne 2 ]; then
		t_fail "$c: find the children" \
		    "victim '$victim' others '$others'"
		ns_del "$ns"
		continue
	fi
	log=${T_IF_LOG[$ifc]}
	nlog=$(wc -l <"$log")
	t0=$(now_ms)
	kill -KILL "$victim"
	if wait_gone "$KILL_TIMEOUT" "$d"; then
		wait "$d"
		rc=$?
		t_ok "$c: parent exits ($(($(now_ms) - t0)) ms)"
		if [ "$rc" -ne 0 ]; then
			t_ok "$c: parent exit status non-zero ($rc)"
		else
			t_fail "$c: parent exit status non-zero" "status 0"
		fi
	else
		t_fail "$c: parent exits" "still running after ${KILL_TIMEOUT}s"
	fi
	if wait_gone "$KILL_TIMEOUT" $others; then
		t_ok "$c: the other children are gone"
	else
		alive=
		for o in $others; do
			pid_alive "$o" && alive="$alive $o($(cat /proc/$o/comm))"
		done
		t_fail "$c: the other children are gone" "alive:$alive"
		# Ours to clean: the daemon's children.
		kill -KILL $others 2>/dev/null
	fi
	for sock in "$WG_RUNDIR/$ifc.sock" "$CTL_RUNDIR/$ifc.sock"; do
		if [ -e "$sock" ]; then
			t_fail "$c: $sock removed on exit" "still there"
			rm -f "$sock"
		else
			t_ok "$c: $sock removed on exit"
		fi
	done
	# Only the lines written after the kill count.  The parent (the
	# supervisor) must name the child that died, with its pid; a
	# sibling noticing its socket closed is not enough.
	tail -n +$((nlog + 1)) "$log" >"$T_TMP/after.log"
	pat="parent: .*(${SEC_LOGNAME[$comm]}).*\\b$victim\\b"
	if grep -Eq "$pat" "$T_TMP/after.log"; then
		t_ok "$c: the parent's log line names the child and its pid"
		t_log "#   $(grep -E "$pat" "$T_TMP/after.log" | head -n 1)"
	else
		t_fail "$c: the parent's log line names the child and its pid" \
		    "no line matching '$pat' after the kill"
		sed 's/^/    /' "$T_TMP/after.log" | tail -n 10
	fi
	ns_del "$ns"
done

t_done
