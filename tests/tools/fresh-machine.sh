#!/bin/bash
# fresh-machine.sh: the README's test command as a new user would meet it.
# Removes what the project makes outside its tree (its user and group, its
# run directories, the chroot it asked for), clones the repository's HEAD
# into a new directory, and runs the README's second command there under
# umask 077 (the strictest a root shell is likely to have; wg-quick runs
# under it too).  Prints the closing line and the time taken; the full
# log is kept (printed path).  As root, on a test machine: it deletes the
# _wgcard user and the wgcard group.
#
#	tests/tools/fresh-machine.sh [REPO]	(default: this checkout)
set -u
REPO=$(cd "${1:-$(dirname "$0")/../..}" && pwd)
[ "$(id -u)" -eq 0 ] || { echo "fresh-machine.sh: run as root" >&2; exit 2; }

# Refuse while a daemon of ours runs: its sockets live in these dirs.
if pgrep -x wgcardd >/dev/null || pgrep -x wgcard-keyd >/dev/null; then
	echo "fresh-machine.sh: a wgcardd is running; stop it first" >&2
	exit 2
fi
echo "== removing what the project made outside its tree"
for u in _wgcard; do getent passwd "$u" >/dev/null && userdel "$u"; done
for g in wgcard; do getent group "$g" >/dev/null && groupdel "$g"; done
rm -rf /var/run/wgcard /var/run/wireguard
rmdir /var/empty 2>/dev/null
for p in /var/run/wgcard /var/run/wireguard /var/empty; do
	[ -e "$p" ] && echo "   still there: $p (not empty?)"
done
getent passwd _wgcard || echo "   user _wgcard: gone"
getent group wgcard || echo "   group wgcard: gone"

WORK=$(mktemp -d /tmp/wgcard-fresh.XXXXXX)
LOG=$WORK/check.log
git clone -q "$REPO" "$WORK/wgcard" || exit 1
cmd=$(awk '/^```/ { n++; next } n == 1 { print }' "$REPO/README.md" | sed -n 2p)
echo "== $(git -C "$WORK/wgcard" log --oneline -1)"
echo "== umask 077; $cmd   (in $WORK/wgcard)"
start=$(date +%s)
(cd "$WORK/wgcard" && umask 077 && sh -c "$cmd") >"$LOG" 2>&1
rc=$?
end=$(date +%s)
echo "== exit status $rc after $(( (end - start) / 60 )) min $(( (end - start) % 60 )) s"
grep -E '^(\[ *[0-9.]+s\] FAIL|== )' "$LOG" | head -n 40
tail -n 3 "$LOG"
echo "== full log: $LOG"
exit $rc
