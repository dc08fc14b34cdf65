#!/bin/sh
# Builds the libFuzzer targets into build/fuzz/ with clang (ASan + UBSan)
# and runs each for SECONDS (default 20). Exits non-zero if a target
# crashes; the crashing input is left in build/fuzz/ (crash-*).
#
# A target is tests/fuzz/fuzz_NAME.c with tests/fuzz/fuzz_NAME.deps (the
# project sources it links, one per line, # comments allowed) and seeds
# in tests/fuzz/corpus/NAME/ (checked in). An optional
# tests/fuzz/fuzz_NAME.seed is a shell fragment run from the top of the
# tree with $corpus set, for seeds made from other files of the tree.
# Targets are found, not listed: adding one needs no change here.
#
# Usage: tests/fuzz/run.sh [SECONDS] [TARGET...]
#	FUZZ_STATS=FILE	append "NAME execs=N cov=N ft=N crashes=N secs=S"
set -eu

cd "$(dirname "$0")/../.."
secs=${1:-20}
[ $# -gt 0 ] && shift
if [ $# -gt 0 ]; then
	targets=$*
else
	targets=$(for f in tests/fuzz/fuzz_*.c; do
		n=${f#tests/fuzz/fuzz_}; echo "${n%.c}"; done)
fi
out=build/fuzz
CC=${FUZZ_CC:-clang}
CFLAGS="-std=gnu17 -g -O1 -D_GNU_SOURCE -DWGCARD_FUZZ -Icommon -Inetd -Ikeyd
    -Inetd/wgcardctl -Itests/fuzz
    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined"
PKGS="libsodium libcrypto libevent libpcsclite"
LIBS="$(pkg-config --cflags --libs $PKGS)"

mkdir -p "$out"
for t in $targets; do
	src=tests/fuzz/fuzz_$t.c
	deps=tests/fuzz/fuzz_$t.deps
	if [ ! -f "$src" ] || [ ! -f "$deps" ]; then
		echo "run.sh: no target $t ($src and $deps)" >&2
		exit 2
	fi
	srcs=$(sed -e 's/#.*//' "$deps" | tr -s ' \n' '  ')
	echo "fuzz: building fuzz_$t"
	# shellcheck disable=SC2086
	$CC $CFLAGS -o "$out/fuzz_$t" "$src" $srcs $LIBS -ldl -lpthread

	# Seeds: the checked-in corpus, then whatever the .seed fragment makes.
	corpus=$out/corpus_$t
	mkdir -p "$corpus"
	if [ -d "tests/fuzz/corpus/$t" ]; then
		cp tests/fuzz/corpus/"$t"/* "$corpus/" 2>/dev/null || true
	fi
	if [ -f "tests/fuzz/fuzz_$t.seed" ]; then
		# shellcheck disable=SC1090
		. "./tests/fuzz/fuzz_$t.seed"
	fi

	echo "fuzz: running fuzz_$t for $secs s"
	rm -f "$out"/crash-* 2>/dev/null || true
	if ! (cd "$out" && "./fuzz_$t" -max_total_time="$secs" \
	    -max_len=8192 -timeout=10 -rss_limit_mb=2048 \
	    -print_final_stats=1 "corpus_$t" >"fuzz_$t.log" 2>&1); then
		tail -n 40 "$out/fuzz_$t.log" >&2
		echo "fuzz: fuzz_$t FAILED (log: $out/fuzz_$t.log)" >&2
		[ -n "${FUZZ_STATS:-}" ] &&
		    echo "$t execs=? cov=? ft=? crashes=1 secs=$secs" >>"$FUZZ_STATS"
		exit 1
	fi
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/fuzz_$t.log")
	cov=$(grep -o 'cov: [0-9]*' "$out/fuzz_$t.log" | tail -n 1 | awk '{print $2}')
	ft=$(grep -o 'ft: [0-9]*' "$out/fuzz_$t.log" | tail -n 1 | awk '{print $2}')
	echo "fuzz: fuzz_$t ok: ${execs:-0} inputs, cov ${cov:-?}, ft ${ft:-?}"
	[ -n "${FUZZ_STATS:-}" ] &&
	    echo "$t execs=${execs:-0} cov=${cov:-0} ft=${ft:-0} crashes=0 secs=$secs" >>"$FUZZ_STATS"
done
exit 0
