#!/bin/bash
# sanitize: the whole tree builds with -fsanitize=address,undefined and
# -Werror (build/asan; seccomp is left out of such builds, see
# common/sandbox.c), every unit test passes under the sanitizers, and the
# daemon built so carries tunnels: basic.sh (software key, against
# wireguard-go), card_faults.sh (the key on a virtual card that
# misbehaves) and gso_sweep.sh (super-packets of every UDP GSO size and
# TCP MSS, IPv4 and IPv6, both ways between two such daemons; its
# "sweep:" figure lines are repeated here) run with it, any sanitizer
# report fatal (halt_on_error, abort_on_error).
# (card_faults, not card_tunnel: its /proc/PID/mem scans would read the
# terabytes of shadow memory an ASan process maps.)
T_ID=sz
. "$(dirname "$0")/../lib/common.sh"

ASAN_B=$T_ROOT/build/asan
if make -C "$T_ROOT" B="$ASAN_B" SANITIZE=address,undefined WERROR=1 \
    -j"$(nproc)" all unit >"$T_TMP/make.log" 2>&1; then
	t_ok "make SANITIZE=address,undefined WERROR=1: clean"
else
	t_fail "sanitizer build" "$(grep -E 'error|warning' "$T_TMP/make.log" | head -n 20)"
	t_done
fi

export ASAN_OPTIONS=abort_on_error=1:detect_leaks=0
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
fails=0
for t in "$ASAN_B"/tests/test_*; do
	if ! "$t" >"$T_TMP/unit.log" 2>&1; then
		fails=$((fails + 1))
		t_fail "$(basename "$t") under the sanitizers" "$(tail -n 15 "$T_TMP/unit.log")"
	fi
done
[ "$fails" -eq 0 ] && t_ok "every unit test passes under the sanitizers"

for s in basic:wggo card_faults:wggo gso_sweep:wgcardd; do
	b=${s#*:} s=${s%:*}
	WGCARDD=$ASAN_B/wgcardd IMPL_A=wgcardd IMPL_B=$b \
	    "$T_ROOT/tests/integration/$s.sh" >"$T_TMP/$s.log" 2>&1
	rc=$?
	closing=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$T_TMP/$s.log" | tail -n 1)
	if [ "$rc" -eq 0 ] && ! grep -qE 'AddressSanitizer|runtime error|LeakSanitizer' "$T_TMP/$s.log"; then
		t_ok "$s.sh with the sanitizer build: $closing"
	else
		t_fail "$s.sh with the sanitizer build (exit $rc): $closing" \
		    "$(grep -E -A5 'FAIL|AddressSanitizer|runtime error' "$T_TMP/$s.log" | head -n 30)"
	fi
	grep '^sweep:' "$T_TMP/$s.log" | while read -r line; do
		t_log "$line"
	done
done
t_done
