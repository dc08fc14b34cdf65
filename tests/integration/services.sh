#!/bin/bash
# services: wgcardd as a service.  The SysV init script (contrib/wgcardd.init)
# runs inside a network namespace of ours, with CONFDIR, PIDDIR and LOGDIR
# in our temp dir and DAEMON=build/wgcardd: start (waits for READY=1),
# status, reload after a peer is added to the file (and a broken file
# refused before it reaches the daemon), a start that fails, a killed
# daemon, stop, and nothing left running.  Then `make install` into a
# DESTDIR puts every file where it belongs, and the installed systemd unit
# passes `systemd-analyze verify` and `systemd-analyze security` (exposure
# at most 4.0); its syscall filter keeps what the daemon calls, and the
# daemon runs with only the unit's capability bounding set.  The OpenRC
# script cannot run here (no OpenRC): its syntax is checked.
T_ID=sv
. "$(dirname "$0")/../lib/common.sh"

INIT=$T_ROOT/contrib/wgcardd.init
OPENRC=$T_ROOT/contrib/wgcardd.openrc
UNIT=$T_ROOT/contrib/wgcardd@.service
WGCARDCTL=${WGCARDCTL:-$T_ROOT/build/wgcardctl}
EXPOSURE_MAX=4.0

[ -x "$WGCARDD" ] || t_fatal "$WGCARDD is not built (make)"

NS=$(ns_name x)
IFC="wg${T_ID}$$"
CONFDIR=$T_TMP/conf
PIDDIR=$T_TMP/run
LOGDIR=$T_TMP/log
mkdir -p "$CONFDIR" "$PIDDIR" "$LOGDIR"
chmod 700 "$CONFDIR"
ns_new "$NS" || t_fatal "namespace"
T_IFACES+=("$IFC")
PUB=$(key_new me) && PUB_P1=$(key_new p1) && PUB_P2=$(key_new p2) ||
    t_fatal "keys"

sv_conf()
{
	# sv_conf [PEER_PUB...]
	local p i=10
	cat <<EOC
[Interface]
PrivateKey = $(cat "$T_TMP/me.key")
ListenPort = 51820
Address = 10.61.0.1/24
EOC
	for p in "$@"; do
		i=$((i + 1))
		printf '\n[Peer]\nPublicKey = %s\nAllowedIPs = 10.61.%d.0/24\n' \
		    "$p" "$i"
	done
}

write_conf()
{
	(umask 077; sv_conf "$@" >"$CONFDIR/$IFC.conf.new") &&
	    mv "$CONFDIR/$IFC.conf.new" "$CONFDIR/$IFC.conf"
}

# initx ACTION [ARGS]: the init script, in our namespace, on our dirs; it
# runs under /bin/sh (dash on Debian) as init would run it.
initx()
{
	ip netns exec "$NS" env -u WGCARD_INTERFACES DEFAULTFILE=/nonexistent \
	    DAEMON="$WGCARDD" CONFDIR="$CONFDIR" PIDDIR="$PIDDIR" \
	    LOGDIR="$LOGDIR" START_TIMEOUT=20 /bin/sh "$INIT" "$@" \
	    >"$T_TMP/init.out" 2>&1
	local rc=$?
	sed 's/^/  | /' "$T_TMP/init.out"
	return $rc
}

PIDFILE=$PIDDIR/wgcardd.$IFC.pid

daemon_pid()
{
	cat "$PIDFILE" 2>/dev/null
}

# Registers the init-started daemon so t_cleanup stops it if we die.
adopt()
{
	local pid
	pid=$(daemon_pid)
	[ -n "$pid" ] || return 1
	T_PIDS+=("$pid")
	T_IF_PID[$IFC]=$pid
	T_IF_IMPL[$IFC]=wgcardd
	T_IF_LOG[$IFC]=$LOGDIR/wgcardd.$IFC.log
	T_IF_NS[$IFC]=$NS
	echo "$pid"
}

peers_now()
{
	wgx "$NS" show "$IFC" peers 2>/dev/null | sort | tr '\n' ' '
}

_has_peers()
{
	[ "$(peers_now)" = "$1" ]
}

# ---------------------------------------------------------------- syntax

t_check "init script: sh -n" sh -n "$INIT"
t_check "init script: dash -n" dash -n "$INIT"
t_check "init script has an LSB header" \
    grep -q '^### BEGIN INIT INFO' "$INIT"
t_check "OpenRC script: sh -n (no OpenRC here to run it)" sh -n "$OPENRC"
t_skip "OpenRC script run" "this Debian test machine has no OpenRC (openrc-run)"

# ---------------------------------------------------------------- init script

initx status
t_eq "status before start: 3 (not running)" "$?" 3
initx bogus
t_eq "an unknown action: exit 2" "$?" 2

write_conf "$PUB_P1"
start_ms=$(now_ms)
initx start
rc=$?
t_eq "start: exit 0" "$rc" 0
pid=$(adopt)
t_check "start: a pid file with a live wgcardd" pid_alive "${pid:-0}"
t_log "  started and ready in $(($(now_ms) - start_ms)) ms, pid ${pid:-?}"
t_check "start: waited for readiness (the log says ready)" \
    grep -q 'parent: ready' "$LOGDIR/wgcardd.$IFC.log"
kids=$(descendants "${pid:-0}" | tr '\n' ' ')
t_eq "start: the daemon has its 3 children" "$(echo $kids | wc -w)" 3
t_check "start: UAPI socket" test -S "$WG_RUNDIR/$IFC.sock"
t_check "start: control socket" test -S "/var/run/wgcard/$IFC.sock"
t_check "start: the interface is in our namespace" \
    sh -c "ip -n '$NS' link show '$IFC' >/dev/null"
t_check "start: its address is set" \
    sh -c "ip -n '$NS' -4 addr show dev '$IFC' | grep -q 10.61.0.1/24"
t_eq "start: wg show lists the peer" "$(peers_now)" "$PUB_P1 "
t_eq "start: listen port" "$(wgx "$NS" show "$IFC" listen-port)" 51820

initx status
t_eq "status while running: 0" "$?" 0
t_check "status names the pid" grep -q "pid $pid" "$T_TMP/init.out"

initx start
t_eq "start again: exit 0" "$?" 0
t_check "start again: says it runs already" grep -q "already running" "$T_TMP/init.out"
t_eq "start again: same pid" "$(daemon_pid)" "$pid"

# reload: a peer added to the file
write_conf "$PUB_P1" "$PUB_P2"
initx reload
t_eq "reload: exit 0" "$?" 0
want=$(printf '%s\n%s\n' "$PUB_P1" "$PUB_P2" | sort | tr '\n' ' ')
t_check "reload: the added peer is in wg show" \
    wait_for 10 _has_peers "$want"
t_check "reload: same daemon" pid_alive "$pid"

# reload: a broken file is refused before SIGHUP, the daemon untouched
cp "$CONFDIR/$IFC.conf" "$T_TMP/good.conf"
(umask 077; printf '\n[Peer]\nPublicKey = notakey\n' >>"$CONFDIR/$IFC.conf")
initx reload
rc=$?
t_check "reload of a broken file: fails (exit $rc)" test "$rc" -ne 0
t_check "reload of a broken file: names the line and key" \
    grep -q "PublicKey" "$T_TMP/init.out"
sleep 0.5
t_eq "reload of a broken file: peers unchanged" "$(peers_now)" "$want"
t_check "reload of a broken file: daemon still runs" pid_alive "$pid"
cp "$T_TMP/good.conf" "$CONFDIR/$IFC.conf"

# a freeze and thaw (SIGSTOP/SIGCONT to every process, as a cgroup
# freezer or a debugger would): all processes survive, it still serves
freeze_thaw()
{
	local p
	for p in "$@"; do kill -STOP "$p"; done
	sleep 0.5
	for p in "$@"; do kill -CONT "$p"; done
	sleep 1
}
freeze_thaw $pid $kids
alive=0
for p in $pid $kids; do pid_alive "$p" && alive=$((alive + 1)); done
t_eq "stopped and continued (io_uring backend): all 4 processes alive" \
    "$alive" 4

# stop
initx stop
t_eq "stop: exit 0" "$?" 0
t_check "stop: the daemon and its children are gone" \
    wait_gone 5 "$pid" $kids
t_check "stop: pid file removed" test ! -e "$PIDFILE"
t_check "stop: UAPI socket removed" test ! -e "$WG_RUNDIR/$IFC.sock"
t_check "stop: control socket removed" test ! -e "/var/run/wgcard/$IFC.sock"
t_check "stop: the interface is gone" \
    wait_for 5 sh -c "! ip -n '$NS' link show '$IFC' >/dev/null 2>&1"
unset 'T_IF_PID[$IFC]'
initx status
t_eq "status after stop: 3" "$?" 3
initx stop
t_eq "stop when stopped: exit 0" "$?" 0

# the instance list: an interface named on the command line only
WGCARD_FWD_BACKEND=classic initx start "$IFC"
t_eq "start IFNAME (classic backend): exit 0" "$?" 0
pid=$(adopt)
t_check "start IFNAME: running" pid_alive "${pid:-0}"
kids=$(descendants "${pid:-0}" | tr '\n' ' ')
t_check "the forwarder runs the classic backend" \
    grep -q "forwarder: classic backend" "$LOGDIR/wgcardd.$IFC.log"
freeze_thaw $pid $kids
alive=0
for p in $pid $kids; do pid_alive "$p" && alive=$((alive + 1)); done
if [ "$alive" = 4 ]; then
	t_ok "stopped and continued (classic backend): all 4 processes alive"
else
	t_fail "stopped and continued (classic backend): all 4 processes alive" \
	    "$alive alive: $(grep -E 'killed by' "$LOGDIR/wgcardd.$IFC.log" | tail -n 1)"
	# The rest expects a running daemon.
	initx stop "$IFC" >/dev/null
	initx start "$IFC"
	pid=$(adopt)
	kids=$(descendants "${pid:-0}" | tr '\n' ' ')
fi

# a daemon killed hard: status 1 (dead, pid file left), children follow
kill -KILL "$pid" 2>/dev/null
t_check "killed daemon: its children exit on their own" \
    wait_gone 5 "$pid" $kids
initx status "$IFC"
t_eq "killed daemon: status 1 (dead, pid file exists)" "$?" 1
initx stop "$IFC"
t_eq "killed daemon: stop cleans up, exit 0" "$?" 0
t_check "killed daemon: pid file removed" test ! -e "$PIDFILE"
unset 'T_IF_PID[$IFC]'
rm -f "$WG_RUNDIR/$IFC.sock" "/var/run/wgcard/$IFC.sock"

# a start that fails after the fork (port taken): reported, quickly
ip netns exec "$NS" "${T_PDEATH[@]}" python3 -c '
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 51820))
time.sleep(60)' &
blocker=$!
T_PIDS+=("$blocker")
# (python's start may take seconds on a loaded machine)
wait_for 30 _udp_bound "$NS" 51820 || t_fail "port blocker bound" "not after 30 s"
start_ms=$(now_ms)
initx start
rc=$?
took=$(($(now_ms) - start_ms))
t_check "start with the port taken: fails (exit $rc)" test "$rc" -ne 0
t_check "start with the port taken: reported in ${took} ms (< 10 s)" \
    test "$took" -lt 10000
t_check "start with the port taken: the log's reason shown" \
    grep -q "Address already in use" "$T_TMP/init.out"
t_check "start with the port taken: the file, line and key named" \
    grep -qE "\.conf:[0-9]+: ListenPort: cannot listen on UDP port 51820" "$T_TMP/init.out"
initx status
t_eq "start with the port taken: status 3" "$?" 3
stop_pid "$blocker" 1
rm -f "$WG_RUNDIR/$IFC.sock" "/var/run/wgcard/$IFC.sock"

# a broken file: refused by start, nothing started
(umask 077; printf '[Interface]\nListenPort = x\n' >"$CONFDIR/$IFC.conf")
initx start
rc=$?
t_check "start with a broken file: fails (exit $rc)" test "$rc" -ne 0
t_check "start with a broken file: names file and key" \
    grep -q "ListenPort" "$T_TMP/init.out"
t_check "start with a broken file: no pid file" test ! -e "$PIDFILE"
t_check "nothing of ours runs in the namespace" \
    test -z "$(ip netns pids "$NS" 2>/dev/null)"

# ---------------------------------------------------------------- install

DEST=$T_TMP/dest
if make -C "$T_ROOT" install DESTDIR="$DEST" PREFIX=/usr >"$T_TMP/install.log" 2>&1; then
	t_ok "make install DESTDIR=... PREFIX=/usr"
else
	tail -n 20 "$T_TMP/install.log"
	t_fail "make install DESTDIR=... PREFIX=/usr" "see above"
fi
# FILE MODE
for fm in usr/sbin/wgcardd:755 usr/sbin/wgcard-keyd:755 \
    usr/bin/wgcardctl:755 \
    usr/share/man/man8/wgcardd.8:644 usr/share/man/man8/wgcard-keyd.8:644 \
    usr/share/man/man8/wgcardctl.8:644 usr/share/man/man5/wgcardd.conf.5:644 \
    usr/lib/systemd/system/wgcardd@.service:644 \
    etc/init.d/wgcardd:755 \
    usr/lib/sysusers.d/wgcard.conf:644 usr/lib/tmpfiles.d/wgcard.conf:644 \
    usr/share/polkit-1/rules.d/50-wgcard-pcscd.rules:644 \
    usr/share/wgcard/wgcardd.openrc:755 etc/wgcard:700 \
    usr/share/bash-completion/completions/wgcardctl:644 \
    usr/share/wgcard/virtual-card.sh:755; do
	f=${fm%:*}
	m=$(stat -c %a "$DEST/$f" 2>/dev/null)
	t_eq "installed /$f (mode)" "${m:-missing}" "${fm##*:}"
done
IUNIT=$DEST/usr/lib/systemd/system/wgcardd@.service
t_eq "the unit runs /usr/sbin/wgcardd" \
    "$(grep '^ExecStart=' "$IUNIT" | awk '{print $1}')" \
    "ExecStart=/usr/sbin/wgcardd"
t_check "the unit's reload waits for the daemon's answer (wgcardctl reload)" \
    grep -qx "ExecReload=/bin/sh -c 'exec wgcardctl -i %i reload'" "$IUNIT"
t_check "the unit refers to no /usr/local path" \
    sh -c "! grep -v '^#' '$IUNIT' | grep -q /usr/local"
t_check "the init script's default daemon is /usr/sbin/wgcardd" \
    grep -q '^DAEMON=${DAEMON:-/usr/sbin/wgcardd}' "$DEST/etc/init.d/wgcardd"
t_check "the installed init script: sh -n" sh -n "$DEST/etc/init.d/wgcardd"
t_check "nothing installed outside DESTDIR's usr/ and etc/" \
    test "$(ls "$DEST" | tr '\n' ' ')" = "etc usr "
t_check "bash completion for wgcardd too (link to wgcardctl's)" \
    test "$(readlink "$DEST/usr/share/bash-completion/completions/wgcardd")" = wgcardctl
# Under another prefix the polkit rule goes where polkit reads it (/etc).
make -s -C "$T_ROOT" install DESTDIR="$DEST.local" PREFIX=/usr/local \
    >"$T_TMP/install-local.log" 2>&1
t_check "PREFIX=/usr/local: polkit rule in /etc/polkit-1/rules.d" \
    test -f "$DEST.local/etc/polkit-1/rules.d/50-wgcard-pcscd.rules"
rm -rf "$DEST.local"

# sysusers and tmpfiles, applied to an empty root
if command -v systemd-sysusers >/dev/null; then
	mkdir -p "$T_TMP/sysroot/etc"
	systemd-sysusers --root="$T_TMP/sysroot" \
	    "$DEST/usr/lib/sysusers.d/wgcard.conf" >/dev/null 2>&1
	gid=$(awk -F: '$1 == "wgcard" { print $3 }' "$T_TMP/sysroot/etc/group")
	t_check "sysusers: group wgcard" test -n "$gid"
	t_eq "sysusers: user _wgcard, in group wgcard, home /var/empty" \
	    "$(awk -F: '$1 == "_wgcard" { print $4 ":" $6 ":" $7 }' \
	    "$T_TMP/sysroot/etc/passwd")" "$gid:/var/empty:/usr/sbin/nologin"
	systemd-tmpfiles --root="$T_TMP/sysroot" --create \
	    "$DEST/usr/lib/tmpfiles.d/wgcard.conf" >/dev/null 2>&1
	for d in run/wireguard run/wgcard var/empty; do
		t_eq "tmpfiles: /$d" \
		    "$(stat -c '%a %U' "$T_TMP/sysroot/$d" 2>/dev/null)" \
		    "755 root"
	done
else
	t_skip "sysusers/tmpfiles" "systemd-sysusers is not installed"
fi

# the polkit rule: valid JavaScript that grants _wgcard, and only it
if command -v node >/dev/null; then
	out=$(node -e '
	var rules = [];
	var polkit = { addRule: function (f) { rules.push(f); },
	    Result: { YES: "yes" } };
	eval(require("fs").readFileSync(process.argv[1], "utf8"));
	var r = rules[0];
	console.log([r({ id: "org.debian.pcsc-lite.access_pcsc" }, { user: "_wgcard" }),
	    r({ id: "org.debian.pcsc-lite.access_card" }, { user: "_wgcard" }),
	    r({ id: "org.debian.pcsc-lite.access_card" }, { user: "nobody" }),
	    r({ id: "org.freedesktop.login1.reboot" }, { user: "_wgcard" })].join(","));
	' "$DEST/usr/share/polkit-1/rules.d/50-wgcard-pcscd.rules" 2>&1)
	t_eq "polkit rule: pcscd access for _wgcard only" "$out" "yes,yes,,"
else
	t_skip "polkit rule" "no JavaScript interpreter (node) to evaluate it"
fi

# ---------------------------------------------------------------- systemd

if ! command -v systemd-analyze >/dev/null; then
	t_fail "systemd-analyze" "not installed (contrib/install-deps.sh installs systemd)"
else
	# verify: the installed unit, with the installed binary and man pages
	# visible at their /usr paths (overlays in a private mount namespace,
	# so the host's /usr is untouched), as it would be after installing.
	out=$(unshare -m --propagation private sh -c '
		set -e
		d=$1
		mount -t overlay overlay -o "lowerdir=$d/usr/sbin:/usr/sbin" /usr/sbin
		mount -t overlay overlay -o "lowerdir=$d/usr/share/man:/usr/share/man" /usr/share/man
		set +e
		systemd-analyze verify "$d/usr/lib/systemd/system/wgcardd@.service" 2>&1
		echo "rc=$?"
		systemd-analyze verify "$d/usr/lib/systemd/system/wgcardd@wg0.service" 2>&1
		echo "rc=$?"' sh "$DEST" 2>&1)
	if printf '%s\n' "$out" | grep -q "overlay\|unshare"; then
		t_log "$out"
		t_fail "systemd-analyze verify" "could not set up the overlay: $out"
	elif [ "$out" = "$(printf 'rc=0\nrc=0')" ]; then
		t_ok "systemd-analyze verify wgcardd@.service, wgcardd@wg0.service: clean"
	else
		t_fail "systemd-analyze verify" "$(printf '%s' "$out" | tr '\n' ' ')"
	fi

	sec=$(systemd-analyze security --offline=yes "$IUNIT" 2>&1)
	exposure=$(printf '%s\n' "$sec" |
	    sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
	t_log "  systemd-analyze security --offline=yes: exposure ${exposure:-?}"
	printf '%s\n' "$sec" | grep '✗' | sed 's/  */ /g; s/^/  | /'
	if [ -z "$exposure" ]; then
		t_fail "systemd-analyze security" "no exposure figure: $sec"
	else
		t_check "exposure $exposure <= $EXPOSURE_MAX" awk -v e="$exposure" \
		    -v m="$EXPOSURE_MAX" 'BEGIN { exit !(e + 0 <= m + 0) }'
	fi

	# The syscall filter: what @system-service and the additions allow,
	# less the denied groups, must hold what the processes call.
	declare -A seen=()
	expand()
	{
		local g=$1 s
		[ -n "${seen[$g]:-}" ] && return
		seen[$g]=1
		for s in $(systemd-analyze syscall-filter "$g" 2>/dev/null |
		    awk 'NR > 1 && $1 !~ /^#/ && NF { print $1 }'); do
			case $s in
			@*)	expand "$s" ;;
			*)	echo "$s" ;;
			esac
		done
	}
	allow=() deny=()
	while read -r line; do
		line=${line#SystemCallFilter=}
		if [ "${line:0:1}" = "~" ]; then
			deny+=(${line#\~})
		else
			allow+=($line)
		fi
	done < <(grep '^SystemCallFilter=' "$IUNIT")
	allowed=$( { for g in "${allow[@]}"; do
		case $g in @*) seen=(); expand "$g" ;; *) echo "$g" ;; esac
	done; } | sort -u)
	denied=$( { for g in "${deny[@]}"; do
		case $g in @*) seen=(); expand "$g" ;; *) echo "$g" ;; esac
	done; } | sort -u)
	effective=$(comm -23 <(echo "$allowed") <(echo "$denied"))
	t_check "the syscall filter allows a few hundred calls ($(echo "$effective" | wc -l))" \
	    test "$(echo "$effective" | wc -l)" -gt 200
	missing=
	for s in chroot seccomp prctl setresuid setresgid setgroups capset \
	    execve clone fork setsid ioctl socket bind sendmmsg recvmmsg \
	    sendmsg recvmsg io_uring_setup io_uring_enter io_uring_register \
	    inotify_init1 inotify_add_watch setrlimit prlimit64 mlock \
	    fchown chown chmod fchmod kill epoll_wait mmap; do
		grep -qx "$s" <<<"$effective" || missing="$missing $s"
	done
	t_eq "the syscall filter keeps what wgcardd calls" "${missing# }" ""

	# The capability bounding set: the daemon runs with only it (as
	# systemd would start it: no new privileges, umask 077).
	caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$IUNIT")
	t_check "the unit has a capability bounding set" test -n "$caps"
	for c in CAP_SYS_ADMIN CAP_DAC_OVERRIDE CAP_SYS_PTRACE CAP_NET_RAW; do
		t_check "the bounding set has no $c" \
		    sh -c "! echo '$caps' | grep -qw $c"
	done
	bset="-all"
	for c in $caps; do
		c=${c#CAP_}
		bset="$bset,+${c,,}"
	done
	write_conf "$PUB_P1"
	log=$T_TMP/capped.log
	ip netns exec "$NS" "${T_PDEATH[@]}" setpriv --bounding-set "$bset" \
	    --inh-caps -all --no-new-privs sh -c 'umask 077; exec "$@"' sh \
	    "$WGCARDD" -d -c "$CONFDIR/$IFC.conf" >"$log" 2>&1 </dev/null &
	cpid=$!
	T_PIDS+=("$cpid")
	T_IF_PID[$IFC]=$cpid
	T_IF_IMPL[$IFC]=wgcardd
	T_IF_LOG[$IFC]=$log
	if wait_for 15 grep -q 'parent: ready' "$log"; then
		t_ok "with the unit's capabilities only: the daemon is ready"
	else
		t_fail "with the unit's capabilities only: the daemon is ready" \
		    "$(tail -n 5 "$log" | tr '\n' ' ')"
	fi
	t_eq "capped: the parent's bounding set" \
	    "$(awk '/^CapBnd/ { print $2 }' "/proc/$cpid/status" 2>/dev/null)" \
	    "$(setpriv --bounding-set "$bset" sh -c 'awk "/^CapBnd/ { print \$2 }" /proc/self/status')"
	t_eq "capped: control socket root:wgcard 0660 (CAP_CHOWN)" \
	    "$(stat -c '%U:%G %a' "/var/run/wgcard/$IFC.sock" 2>/dev/null)" \
	    "root:wgcard 660"
	t_check "capped: wgcardctl show" \
	    sh -c "'$WGCARDCTL' -i '$IFC' show >/dev/null; [ \$? -ne 2 ]"
	write_conf "$PUB_P1" "$PUB_P2"
	kill -HUP "$cpid"
	t_check "capped: SIGHUP reload adds the peer" \
	    wait_for 10 _has_peers "$want"
	t_check "capped: its route is in (netlink, CAP_NET_ADMIN)" \
	    sh -c "ip -n '$NS' route show dev '$IFC' | grep -q '^10\.61\.'"
	ckids=$(descendants "$cpid" | tr '\n' ' ')
	kill -TERM "$cpid"
	t_check "capped: SIGTERM stops it and its children within 5 s" \
	    wait_gone 5 "$cpid" $ckids
	if grep -q "Operation not permitted" "$log"; then
		t_fail "capped: no EPERM in its log" \
		    "$(grep "Operation not permitted" "$log" | head -n 3 | tr '\n' ' ')"
	else
		t_ok "capped: no EPERM in its log"
	fi
	wait "$cpid" 2>/dev/null
	t_eq "capped: exit status 0" "$?" 0
	unset 'T_IF_PID[$IFC]'

	# Without CAP_IPC_LOCK (and RLIMIT_MEMLOCK at systemd's 8 MiB), the
	# io_uring buffers cannot be registered: the forwarder must fall back
	# to the classic backend and keep running.
	bset2=${bset/,+ipc_lock/}
	log=$T_TMP/capped2.log
	ip netns exec "$NS" "${T_PDEATH[@]}" setpriv --bounding-set "$bset2" \
	    --inh-caps -all --no-new-privs sh -c \
	    'ulimit -l 8192 2>/dev/null; umask 077; exec "$@"' sh \
	    "$WGCARDD" -d -c "$CONFDIR/$IFC.conf" >"$log" 2>&1 </dev/null &
	cpid=$!
	T_PIDS+=("$cpid")
	T_IF_PID[$IFC]=$cpid
	T_IF_IMPL[$IFC]=wgcardd
	T_IF_LOG[$IFC]=$log
	wait_for 15 grep -q 'parent: ready' "$log"
	sleep 3
	if grep -q 'forwarder: classic backend' "$log"; then
		t_log "  without CAP_IPC_LOCK: $(grep -o 'classic backend ([^)]*)' "$log")"
		if pid_alive "$cpid"; then
			t_ok "without CAP_IPC_LOCK: the classic fallback keeps running"
		else
			# The kernel's audit line names the system call.
			fpid=$(sed -n 's/.*forwarder (pid \([0-9]*\)) was killed.*/\1/p' "$log")
			audit=$(dmesg 2>/dev/null | grep "type=1326" |
			    grep "pid=${fpid:-none} " | grep -o 'syscall=[0-9]*' | tail -n 1)
			t_fail "without CAP_IPC_LOCK: the classic fallback keeps running" \
			    "$(grep -E 'killed|closed' "$log" | tr '\n' ' ')${audit:+(audit: $audit)}"
		fi
	else
		t_log "  without CAP_IPC_LOCK the io_uring backend still started"
		t_check "without CAP_IPC_LOCK: the daemon runs" pid_alive "$cpid"
	fi
	impl_stop "$IFC"
fi

t_check "nothing of ours is left in the namespace" \
    test -z "$(ip netns pids "$NS" 2>/dev/null)"
t_done
