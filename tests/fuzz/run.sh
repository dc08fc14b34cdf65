#!/bin/sh
# Builds the libFuzzer targets into build/fuzz/ with clang and runs each
# for SECONDS (default 20). Exits non-zero if a target crashes; the
# crashing input is left in build/fuzz/ (crash-*).
#
# Usage: tests/fuzz/run.sh [SECONDS] [TARGET...]
set -eu

cd "$(dirname "$0")/../.."
secs=${1:-20}
[ $# -gt 0 ] && shift
targets=${*:-"uapi config audit"}
out=build/fuzz
CC=${FUZZ_CC:-clang}
CFLAGS="-std=gnu17 -g -O1 -D_GNU_SOURCE -Icommon -Inetd
    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined"
SODIUM="$(pkg-config --cflags --libs libsodium)"

mkdir -p "$out"
srcs_uapi="netd/uapi.c common/buf.c common/encoding.c common/wgconf.c"
srcs_config="netd/config.c $srcs_uapi"
srcs_audit="netd/audit.c common/log.c common/compat.c common/encoding.c"

for t in $targets; do
	case $t in
	uapi)	srcs=$srcs_uapi ;;
	config)	srcs=$srcs_config ;;
	audit)	srcs=$srcs_audit ;;
	*)	echo "run.sh: unknown target $t" >&2; exit 2 ;;
	esac
	echo "fuzz: building fuzz_$t"
	# shellcheck disable=SC2086
	$CC $CFLAGS -o "$out/fuzz_$t" "tests/fuzz/fuzz_$t.c" $srcs $SODIUM -ldl

	# Seeds: the golden config files, and their set=1 renderings.
	corpus=$out/corpus_$t
	mkdir -p "$corpus"
	if [ "$t" = config ]; then
		cp tests/config/*.conf "$corpus/" 2>/dev/null || true
	elif [ "$t" = audit ]; then
		printf 'op=ecdh backend=openpgp peer=4eYnNt38 result=ok latency_ms=0.7' >"$corpus/ecdh"
		printf 'op=control uid=0 command="card unlock"' >"$corpus/control"
		printf 'op=card state=absent serial=0000A001 reason="no card"' >"$corpus/card"
	else
		for f in tests/config/*.out; do
			[ -f "$f" ] && grep -v -e '^mtu=' -e '^address=' \
			    -e '^key_source=' "$f" > "$corpus/$(basename "$f")"
		done
	fi

	echo "fuzz: running fuzz_$t for $secs s"
	if ! (cd "$out" && "./fuzz_$t" -max_total_time="$secs" \
	    -max_len=8192 -timeout=10 -rss_limit_mb=2048 \
	    -print_final_stats=1 "corpus_$t" >"fuzz_$t.log" 2>&1); then
		tail -n 40 "$out/fuzz_$t.log" >&2
		echo "fuzz: fuzz_$t FAILED (log: $out/fuzz_$t.log)" >&2
		exit 1
	fi
	grep -E '^(stat::number_of_executed_units|#[0-9]+ *DONE)' \
	    "$out/fuzz_$t.log" || true
	echo "fuzz: fuzz_$t ok"
done
