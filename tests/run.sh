#!/bin/bash
# The test runner behind `make check`:
#
#	tests/run.sh [unit|integration|all]	(default all)
#
# unit: every build/tests/test_NAME built from tests/unit/test_NAME.c.
# integration: every tests/integration/*.sh, once per (IMPL_A:IMPL_B) pair
# of the matrix, JOBS at a time, slow scripts first.  Each script's output
# goes to a log, printed when the script fails.  Every script must end with
# its `N passed, N failed[, N skipped]` line; the runner sums them into one
# closing line and exits non-zero on any failure or missing closing line.
#
# Environment:
#	MATRIX="wgcardd:wggo wgcardd:wgcardd"	implementation pairs (A:B)
#	JOBS=4				scripts run at once
#	SCRIPTS="basic nat"		only these integration scripts
#	SCRIPT_TIMEOUT=900		seconds before a script is stopped
#	KEEP_LOGS=1			keep the log directory

mode=${1:-all}
case $mode in
unit|integration|all) ;;
*)	echo "usage: $0 [unit|integration|all]" >&2; exit 2 ;;
esac

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
# The default: io_uring with offloads (auto) against wireguard-go and
# itself, and the classic backend without offloads against both.
MATRIX=${MATRIX:-"wgcardd:wggo wgcardd:wgcardd wgcardd:wggo:WGCARD_FWD_BACKEND=classic+WGCARD_OFFLOAD=0 wgcardd:wgcardd:WGCARD_FWD_BACKEND=classic+WGCARD_OFFLOAD=0"}
MATRIX=${MATRIX//,/ }
JOBS=${JOBS:-4}
SCRIPT_TIMEOUT=${SCRIPT_TIMEOUT:-900}
SLOW=${SLOW:-"soak.sh rekey.sh card_rekey.sh sanitize.sh fuzz.sh badinput.sh basic.sh"}	# started first (longest)
# Scripts about side A alone (B is not an implementation choice there, or
# they use fixed host resources): run once, with the first pair.
ONCE=${ONCE:-"soak.sh ct.sh demo.sh rundirs.sh hardening.sh services.sh manpages.sh ctl.sh ctl_card.sh card_neighbours.sh card_profiles.sh privsep.sh custody.sh config.sh vcard_gpg.sh fwd_sandbox.sh audit.sh card_reload.sh fuzz.sh sanitize.sh flood_card.sh wgquick.sh polkit.sh hostile.sh hostile_card.sh msgtable.sh"}
PATH=$PATH:/usr/sbin:/sbin

if [ "$mode" != unit ] && [ "$(id -u)" -ne 0 ]; then
	echo "$0: the integration tests must run as root (network namespaces," \
	    "TUN devices); run it with sudo, or '$0 unit'" >&2
	exit 1
fi

LOGDIR=$(mktemp -d /tmp/wgcard-check.XXXXXX) || exit 1
TOTAL_PASS=0
TOTAL_FAIL=0
TOTAL_SKIP=0
BAD=()
BAD_LOG=()

declare -A JOB_NAME=() JOB_LOG=() JOB_START=()

cleanup()
{
	local pid
	for pid in "${!JOB_NAME[@]}"; do
		kill -TERM "$pid" 2>/dev/null	# timeout(1) passes it on
	done
	for pid in "${!JOB_NAME[@]}"; do
		wait "$pid" 2>/dev/null
	done
	[ -n "${KEEP_LOGS:-}" ] || rm -rf "$LOGDIR"
}
trap cleanup EXIT
trap 'echo "interrupted"; exit 130' INT TERM

now()
{
	date +%s.%N
}

# closing LOG: "P F S" from the last closing line of LOG, or nothing.
closing()
{
	grep -E '^([A-Za-z_-]+: )?[0-9]+ passed, [0-9]+ failed(, [0-9]+ skipped)?$' "$1" |
	    tail -n 1 |
	    sed -E 's/^([A-Za-z_-]+: )?([0-9]+) passed, ([0-9]+) failed(, ([0-9]+) skipped)?$/\2 \3 \5/' |
	    awk '{ print $1, $2, ($3 == "" ? 0 : $3) }'
}

# account NAME LOG RC SECONDS: add one script's or binary's results.
account()
{
	local name=$1 log=$2 rc=$3 secs=$4 res p f s verdict note=
	res=$(closing "$log")
	if [ -z "$res" ]; then
		p=0 f=1 s=0
		note=" (no closing line, exit status $rc)"
	else
		read -r p f s <<<"$res"
		if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
			f=1
			note=" (exit status $rc)"
		fi
	fi
	[ "$rc" -eq 124 ] && note="$note (timed out after ${SCRIPT_TIMEOUT}s)"
	TOTAL_PASS=$((TOTAL_PASS + p))
	TOTAL_FAIL=$((TOTAL_FAIL + f))
	TOTAL_SKIP=$((TOTAL_SKIP + s))
	verdict=PASS
	[ "$f" -gt 0 ] && verdict=FAIL
	printf '[%6.1fs] %s %s: %s passed / %s failed / %s skipped%s\n' \
	    "$secs" "$verdict" "$name" "$p" "$f" "$s" "$note"
	if [ $verdict = FAIL ]; then
		BAD+=("$name")
		BAD_LOG+=("$log")
		echo "-------- log of $name (last 300 lines)"
		if ! grep -q '^---- failures:' "$log"; then
			grep '^FAIL ' "$log" | head -n 50 | sed 's/^/| /'
			echo "| ..."
		fi
		tail -n 300 "$log" | sed 's/^/| /'
		echo "-------- end of $name"
	fi
}

elapsed()
{
	awk -v a="$1" -v b="$(now)" 'BEGIN { printf("%.1f", b - a) }'
}

run_unit()
{
	local src name bin log start rc n=0
	echo "== unit tests"
	for src in tests/unit/test_*.c; do
		[ -e "$src" ] || continue
		name=$(basename "$src" .c)
		bin=build/tests/$name
		log=$LOGDIR/unit-$name.log
		n=$((n + 1))
		if [ ! -x "$bin" ]; then
			echo "$bin is not built (make unit)" >"$log"
			account "$name" "$log" 1 0
			continue
		fi
		start=$(now)
		timeout -k 10 "$SCRIPT_TIMEOUT" "$bin" >"$log" 2>&1 </dev/null
		rc=$?
		account "$name" "$log" "$rc" "$(elapsed "$start")"
	done
	[ $n -eq 0 ] && echo "(no unit tests in tests/unit)"
}

# start_job NAME LOG IMPL_A IMPL_B SCRIPT
start_job()
{
	# A third field of the pair sets wgcardd's environment (both sides):
	# wgcardd:wggo:WGCARD_FWD_BACKEND=classic+WGCARD_OFFLOAD=0
	local envs=() e
	if [ -n "${6:-}" ]; then
		IFS=+ read -r -a envs <<<"$6"
	fi
	for e in "${envs[@]}"; do
		case $e in WGCARD_*=*) ;; *) echo "bad matrix env: $e" >&2 ;; esac
	done
	env "${envs[@]}" IMPL_A="$3" IMPL_B="$4" \
	    timeout -k 30 "$SCRIPT_TIMEOUT" "$5" >"$2" 2>&1 </dev/null &
	JOB_NAME[$!]=$1
	JOB_LOG[$!]=$2
	JOB_START[$!]=$(now)
}

# reap: wait for any job, account for it.
reap()
{
	local pid rc
	wait -n -p pid
	rc=$?
	[ -n "$pid" ] || return 1
	account "${JOB_NAME[$pid]}" "${JOB_LOG[$pid]}" "$rc" \
	    "$(elapsed "${JOB_START[$pid]}")"
	unset 'JOB_NAME[$pid]' 'JOB_LOG[$pid]' 'JOB_START[$pid]'
}

run_integration()
{
	local scripts=() queue=() s base pair a b want ok item start envspec tag
	for s in tests/integration/*.sh; do
		[ -e "$s" ] || continue
		base=$(basename "$s")
		if [ -n "${SCRIPTS:-}" ]; then
			ok=0
			for want in $SCRIPTS; do
				[ "$base" = "$want" ] || [ "$base" = "$want.sh" ] && ok=1
			done
			[ $ok = 1 ] || continue
		fi
		scripts+=("$s")
	done
	if [ ${#scripts[@]} -eq 0 ]; then
		echo "no integration scripts selected"
		TOTAL_FAIL=$((TOTAL_FAIL + 1))
		return
	fi
	# Slow ones first, for every pair of the matrix (ONCE: the first).
	first=${MATRIX%% *}
	for pair in $MATRIX; do
		for s in "${scripts[@]}"; do
			case " $ONCE " in *" $(basename "$s") "*)
				[ "$pair" = "$first" ] || continue ;; esac
			case " $SLOW " in *" $(basename "$s") "*)
				queue+=("$pair $s") ;; esac
		done
	done
	for pair in $MATRIX; do
		for s in "${scripts[@]}"; do
			case " $ONCE " in *" $(basename "$s") "*)
				[ "$pair" = "$first" ] || continue ;; esac
			case " $SLOW " in *" $(basename "$s") "*) ;;
			*)	queue+=("$pair $s") ;; esac
		done
	done
	echo "== integration tests: matrix (A:B) $MATRIX, ${#queue[@]} runs, $JOBS at a time"
	start=$(now)
	for item in "${queue[@]}"; do
		pair=${item%% *}
		s=${item#* }
		IFS=: read -r a b envspec <<<"$pair"
		while [ ${#JOB_NAME[@]} -ge "$JOBS" ]; do
			reap || break
		done
		base=$(basename "$s" .sh)
		tag=$a-$b${envspec:+-$(echo "$envspec" | tr -c 'A-Za-z0-9\n' '_' | sed 's/WGCARD_//g')}
		start_job "$base.sh [$pair]" "$LOGDIR/$base-$tag.log" "$a" "$b" \
		    "$s" "$envspec"
	done
	while [ ${#JOB_NAME[@]} -gt 0 ]; do
		reap || break
	done
	echo "== integration wall time: $(elapsed "$start")s"
}

case $mode in
unit)		run_unit ;;
integration)	run_integration ;;
all)		run_unit; run_integration ;;
esac

# The failed checks again, last: a CI that keeps only the tail of the
# output still shows which checks failed, not only which scripts.
if [ ${#BAD[@]} -gt 0 ]; then
	for i in "${!BAD[@]}"; do
		echo "== failed: ${BAD[$i]}"
		grep -E '^(FAIL|SKIP) |^not ok ' "${BAD_LOG[$i]}" |
		    awk '{ k = $0; sub(/ \[at [0-9]+s\]$/, "", k) } !seen[k]++' |
		    head -n 8 |
		    cut -c1-200 | sed 's/^/==   /'
	done
fi
[ -n "${KEEP_LOGS:-}" ] && echo "== logs kept in $LOGDIR"
echo "$TOTAL_PASS passed, $TOTAL_FAIL failed, $TOTAL_SKIP skipped"
[ "$TOTAL_FAIL" -eq 0 ]
