#!/bin/bash
# rundirs: what the daemon makes outside the tree has the right owner and
# mode whatever the umask and whatever an earlier run left there.  Each
# case runs wgcardd in a mount namespace of its own with an empty tmpfs on
# /run (so /run/wgcard and /run/wireguard do not exist, as on a fresh
# machine), never touching the host's run directories that other tests
# use:
#	- fresh, under umask 077: /run/wgcard and /run/wireguard 0755
#	  root:root, the control socket 0660 root:wgcard, the UAPI socket
#	  0700 as under wireguard-go (made under umask 077, as the
#	  cross-platform text asks), a new AuditLog file 0640; a member of group wgcard (not root)
#	  reaches the control socket, an outsider does not;
#	- left 0700 (or 0777, or group-owned) by an earlier run: set right,
#	  logged, a member gets through;
#	- owned by another user, or a symlink, or a file: refused, named,
#	  exit non-zero, no interface left;
#	- an AuditLog that is a FIFO or a directory: refused at once (no hang).
T_ID=rd
. "$(dirname "$0")/../lib/common.sh"

WGCARDCTL=${WGCARDCTL:-$T_ROOT/build/wgcardctl}
[ -x "$WGCARDD" ] || t_fatal "$WGCARDD is not built (make)"
[ -x "$WGCARDCTL" ] || t_fatal "$WGCARDCTL is not built (make)"
getent group wgcard >/dev/null || t_fatal "no group wgcard (contrib/install-deps.sh)"
command -v unshare >/dev/null && command -v nsenter >/dev/null ||
    t_fatal "unshare/nsenter missing (util-linux)"

NS=$(ns_name a)
ns_new "$NS" || t_fatal "namespace"
# Others go through $T_TMP (not list it) to the copy of wgcardctl.
chmod 711 "$T_TMP"
CTLCOPY=$T_TMP/wgcardctl
install -m 0755 "$WGCARDCTL" "$CTLCOPY"
MEMBER=(--reuid=nobody --regid=nogroup --groups=wgcard)
OUTSIDER=(--reuid=nobody --regid=nogroup --clear-groups)
N=0
wg genkey >"$T_TMP/key" || t_fatal "wg genkey"

# run_fresh SETUP ENV...: wgcardd -f IFNAME under umask 077 in $NS, in a
# private mount namespace whose /run is an empty tmpfs; SETUP (shell) runs
# there first.  Sets PID (the daemon, which is the exec'd shell), IFC, LOG.
run_fresh()
{
	local setup=$1
	shift
	N=$((N + 1))
	IFC="wg${T_ID}$$n$N"
	LOG=$T_TMP/$IFC.log
	T_IFACES+=("$IFC")
	ip netns exec "$NS" "${T_PDEATH[@]}" unshare --mount \
	    --propagation private sh -c '
		mount -t tmpfs -o mode=0755 rundirs-test /run || exit 97
		'"$setup"'
		umask 077
		exec env "$@"' sh LOG_LEVEL=verbose "$@" "$WGCARDD" -f "$IFC" \
	    >"$LOG" 2>&1 </dev/null &
	PID=$!
	T_PIDS+=("$PID")
	T_IF_PID[$IFC]=$PID
	T_IF_IMPL[$IFC]=wgcardd
	T_IF_LOG[$IFC]=$LOG
	T_IF_NS[$IFC]=$NS
}

# in_mnt CMD...: CMD in the daemon's mount and network namespaces.
in_mnt()
{
	nsenter -t "$PID" -m -n "$@"
}

_up()
{
	pid_alive "$PID" || return 2
	in_mnt test -S "/run/wireguard/$IFC.sock" &&
	    in_mnt test -S "/run/wgcard/$IFC.sock" || return 1
	# A key, so that show answers 0 (healthy), not 3 (no key).
	in_mnt wg set "$IFC" private-key "$T_TMP/key"
}

# stat_of PATH: "mode user group" of PATH in the daemon's mount namespace.
stat_of()
{
	in_mnt stat -c '%a %U %G' "$1" 2>/dev/null
}

# ctl_as WHO: wgcardctl show as WHO (setpriv args) in the daemon's mount ns.
ctl_as()
{
	local -n who=$1
	in_mnt setpriv "${who[@]}" "$CTLCOPY" -i "$IFC" show \
	    >"$T_TMP/out" 2>&1 </dev/null
}

stop_it()
{
	stop_pid "$PID"
	unset 'T_IF_PID[$IFC]'
}

# ---------------------------------------------------------------- fresh
AUDIT=$T_TMP/audit-fresh.jsonl
run_fresh "" WGCARD_AUDIT_LOG="$AUDIT"
if wait_for "$START_TIMEOUT" _up; then
	t_ok "fresh /run, umask 077: the daemon comes up"
	t_eq "fresh: /run/wgcard" "$(stat_of /run/wgcard)" "755 root root"
	t_eq "fresh: /run/wireguard" "$(stat_of /run/wireguard)" "755 root root"
	t_eq "fresh: control socket" "$(stat_of "/run/wgcard/$IFC.sock")" \
	    "660 root wgcard"
	t_eq "fresh: UAPI socket" "$(stat_of "/run/wireguard/$IFC.sock")" \
	    "700 root root"
	t_eq "fresh: new AuditLog file is 0640 root" \
	    "$(stat -c '%a %U' "$AUDIT" 2>/dev/null)" "640 root"
	ctl_as MEMBER
	t_eq "fresh: a wgcard member reaches the control socket (show)" "$?" 0
	ctl_as OUTSIDER
	rc=$?
	t_check "fresh: an outsider is refused (exit $rc)" [ "$rc" -ne 0 ]
	t_check "fresh: wg show works" in_mnt wg show "$IFC"
else
	t_fail "fresh /run, umask 077: the daemon comes up" "$(tail -n 20 "$LOG")"
fi
stop_it

# ---------------------------------------------------------------- left wrong
for bad in "700 root root" "777 root root" "750 root nogroup"; do
	read -r m _ g <<<"$bad"
	run_fresh "mkdir -m $m /run/wgcard /run/wireguard &&
	    chgrp $g /run/wgcard /run/wireguard"
	if wait_for "$START_TIMEOUT" _up; then
		t_eq "left $bad: /run/wgcard set right" \
		    "$(stat_of /run/wgcard)" "755 root root"
		t_eq "left $bad: /run/wireguard set right" \
		    "$(stat_of /run/wireguard)" "755 root root"
		ctl_as MEMBER
		t_eq "left $bad: a member reaches the control socket" "$?" 0
		if [ "$m" != 755 ]; then
			t_check "left $bad: the change is logged" \
			    grep -q "/run/wgcard: mode 0$m set to 0755" "$LOG"
		fi
	else
		t_fail "left $bad: the daemon comes up" "$(tail -n 20 "$LOG")"
	fi
	stop_it
done

# ---------------------------------------------------------------- refused
# refused NAME SETUP PATTERN [ENV...]: the daemon exits non-zero, its log
# matches PATTERN, and no interface is left.
refused()
{
	local name=$1 setup=$2 pat=$3 rc
	shift 3
	run_fresh "$setup" "$@"
	if wait_for 10 eval '! pid_alive "$PID"'; then
		wait "$PID"
		rc=$?
		t_check "$name: refused (exit $rc)" [ "$rc" -ne 0 ]
		t_check "$name: says why" grep -qE "$pat" "$LOG"
		t_check "$name: no interface left" \
		    eval '! ip -n "$NS" link show "$IFC" >/dev/null 2>&1'
	else
		t_fail "$name: refused within 10 s" "still running: $(tail -n 5 "$LOG")"
		stop_it
	fi
	unset 'T_IF_PID[$IFC]'
}

refused "/run/wgcard owned by nobody" \
    "mkdir -m 755 /run/wgcard && chown nobody /run/wgcard" \
    "/run/wgcard is owned by uid [0-9]+, not root"
refused "/run/wireguard a symlink" \
    "mkdir -m 755 /run/elsewhere && ln -s elsewhere /run/wireguard" \
    "/run/wireguard: not a directory we can use"
refused "/run/wgcard a file" "touch /run/wgcard" \
    "/run/wgcard: not a directory we can use|cannot create /run/wgcard"
mkfifo "$T_TMP/fifo"
refused "AuditLog a FIFO" "" "AuditLog .*: not a regular file" \
    WGCARD_AUDIT_LOG="$T_TMP/fifo"
mkdir "$T_TMP/adir"
refused "AuditLog a directory" "" "AuditLog .*(not a regular file|Is a directory)" \
    WGCARD_AUDIT_LOG="$T_TMP/adir"

t_done
