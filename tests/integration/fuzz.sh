#!/bin/bash
# fuzz: every libFuzzer target in tests/fuzz/ (fuzz_NAME.c, found by
# tests/fuzz/run.sh) built with clang and run for FUZZ_SECONDS each
# (default 8) with ASan and UBSan. Longer runs: make fuzz
# (FUZZ_SECONDS=600 make fuzz), or tests/fuzz/run.sh SECONDS [TARGET...].
T_ID=fz
. "$(dirname "$0")/../lib/common.sh"

command -v clang >/dev/null || t_fatal "clang is missing (contrib/install-deps.sh installs it)"
secs=${FUZZ_SECONDS:-8}
for f in "$T_ROOT"/tests/fuzz/fuzz_*.c; do
	t=${f##*/fuzz_}; t=${t%.c}
	if (cd "$T_ROOT" && tests/fuzz/run.sh "$secs" "$t") \
	    >"$T_TMP/$t.log" 2>&1; then
		t_ok "fuzz_$t: no crash in $secs s ($(grep -o 'number_of_executed_units: *[0-9]*' "$T_ROOT/build/fuzz/fuzz_$t.log" | awk '{print $2}') inputs)"
	else
		t_fail "fuzz_$t" "$(tail -n 20 "$T_TMP/$t.log")"
	fi
done
t_done
