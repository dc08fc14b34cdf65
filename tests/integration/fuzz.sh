#!/bin/bash
# fuzz: the libFuzzer targets (tests/fuzz/: the UAPI parser, the config
# parser, the audit event converter) built with clang and run for
# FUZZ_SECONDS each (default 15) with ASan and UBSan. Longer runs:
# tests/fuzz/run.sh SECONDS.
T_ID=fz
. "$(dirname "$0")/../lib/common.sh"

command -v clang >/dev/null || t_fatal "clang is missing (contrib/install-deps.sh installs it)"
for t in uapi config audit; do
	if (cd "$T_ROOT" && tests/fuzz/run.sh "${FUZZ_SECONDS:-15}" "$t") \
	    >"$T_TMP/$t.log" 2>&1; then
		t_ok "fuzz_$t: no crash in ${FUZZ_SECONDS:-15} s ($(grep -o 'number_of_executed_units: *[0-9]*' "$T_TMP/$t.log" | awk '{print $2}') inputs)"
	else
		t_fail "fuzz_$t" "$(tail -n 20 "$T_TMP/$t.log")"
	fi
done
t_done
