#!/bin/sh
# The constant-time check (ctgrind style): builds tests/ct/ct_check.c
# with the sources in tests/ct/ct_check.deps and -DWGCARD_CT into
# build/ct/, then runs it under valgrind's memcheck, where secrets are
# undefined bytes: every branch or memory index that depends on one is
# reported. libsodium's and libcrypto's own code is suppressed
# (tests/ct/libsodium.supp, tests/ct/libcrypto.supp).
#
# First a canary (a branch and a table index on a secret, on purpose)
# must be reported, or the check could not fail; then the check itself must pass every step
# with no report. Exits 0 when both hold; the reports are in
# build/ct/ct_check.vg (with the secret's origin).
#
# Usage: tests/ct/run.sh		(make ct)
#	CT_CFLAGS	optimisation flags (default -O2 -g, as `make`)
set -eu

cd "$(dirname "$0")/../.."
out=build/ct
CC=${CC:-cc}
command -v valgrind >/dev/null || {
	echo "ct: valgrind is missing (contrib/install-deps.sh installs it)" >&2
	exit 2
}
[ -f /usr/include/valgrind/memcheck.h ] || {
	echo "ct: <valgrind/memcheck.h> is missing (package valgrind)" >&2
	exit 2
}
mkdir -p "$out"
srcs=$(sed -e 's/#.*//' tests/ct/ct_check.deps | tr -s ' \n' '  ')
# shellcheck disable=SC2086
$CC -std=gnu17 -Wall -Wextra -Wno-unused-parameter -Werror \
    ${CT_CFLAGS:--O2 -g} -D_GNU_SOURCE -DWGCARD_CT \
    -Icommon -Inetd -o "$out/ct_check" tests/ct/ct_check.c $srcs \
    $(pkg-config --cflags --libs libsodium libcrypto) -lpthread

vg()
{
	valgrind --tool=memcheck --error-exitcode=99 --track-origins=yes \
	    --num-callers=30 --suppressions=tests/ct/libsodium.supp \
	    --suppressions=tests/ct/libcrypto.supp \
	    --log-file="$1" "$out/ct_check" "$2"
}

errors()
{
	sed -n 's/.*ERROR SUMMARY: \([0-9]*\) errors.*/\1/p' "$1" | tail -n 1
}

rc=0
vg "$out/canary.vg" canary >/dev/null 2>&1 || rc=$?
n=$(errors "$out/canary.vg")
if [ "$rc" -ne 99 ] || [ "${n:-0}" -lt 2 ] ||
    ! grep -q 'Conditional jump' "$out/canary.vg" ||
    ! grep -q 'Use of uninitialised value' "$out/canary.vg" ||
    ! grep -q 'ct_canary' "$out/canary.vg"; then
	echo "ct: FAIL the canary's branch and index on a secret were not both reported (exit $rc, ${n:-no} errors): the check cannot see leaks"
	exit 1
fi
echo "ct: canary reported (a branch and an index, $n errors)"

rc=0
vg "$out/ct_check.vg" "" >"$out/ct_check.out" 2>&1 || rc=$?
n=$(errors "$out/ct_check.vg")
grep -c '^ct_check: ok' "$out/ct_check.out" | sed 's/^/ct: steps ok: /'
grep '^ct_check: FAIL' "$out/ct_check.out" || true
if [ "$rc" -eq 99 ] || [ "${n:-1}" -ne 0 ]; then
	echo "ct: FAIL $n report(s) of secret-dependent branches or indexes:"
	grep -E '^==[0-9]+== (Conditional|Use of|   (at|by) 0x)' \
	    "$out/ct_check.vg" | sed 's/^==[0-9]*== //' | head -n 200
	exit 1
fi
if [ "$rc" -ne 0 ]; then
	echo "ct: FAIL a step of the check failed (exit $rc)"
	cat "$out/ct_check.out"
	exit 1
fi
echo "ct: no secret-dependent branch or index ($n errors)"
