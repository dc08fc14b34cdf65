#!/bin/bash
# msgtable: docs/architecture.md's message table is the code's. Each
# process's one table of rules (CHAN_RULE rows) is read by
# tests/tools/msgtable.py; the copy in the document must be the same, and
# every process must have a table (a process whose channels were written
# by hand again would vanish from it).
T_ID=mt
. "$(dirname "$0")/../lib/common.sh"

TOOL=$T_ROOT/tests/tools/msgtable.py
t_check "the tool reads the tables" python3 "$TOOL" "$T_ROOT"
for recv in parent "key broker" handshake forwarder; do
	n=$(python3 "$TOOL" "$T_ROOT" | grep -c "^| $recv |")
	t_check "$recv: a table of rules ($n rows)" test "$n" -ge 3
done
if python3 "$TOOL" --check "$T_ROOT" 2>"$T_TMP/err"; then
	t_ok "docs/architecture.md's message table is the code's"
else
	t_fail "docs/architecture.md's message table is the code's" \
	    "$(cat "$T_TMP/err"); diff:
$(python3 "$TOOL" "$T_ROOT" | diff - <(sed -n '/msgtable begin/,/msgtable end/p' \
    "$T_ROOT/docs/architecture.md" | sed '1d;$d') | head -n 20)"
fi
# It can fail: a row changed in a copy of the code must be seen.
mkdir -p "$T_TMP/tree/docs" "$T_TMP/tree/netd" "$T_TMP/tree/keyd"
cp "$T_ROOT/docs/architecture.md" "$T_TMP/tree/docs/"
cp "$T_ROOT"/netd/{wgcardd,handshake,forward}.c "$T_TMP/tree/netd/"
cp "$T_ROOT/keyd/keyd.c" "$T_TMP/tree/keyd/"
sed -i '0,/CHAN_FD_NO/s//CHAN_FD_MAYBE/' "$T_TMP/tree/keyd/keyd.c"
t_check "a changed rule makes the check fail" \
    sh -c "! python3 '$TOOL' --check '$T_TMP/tree' 2>/dev/null"
t_done
