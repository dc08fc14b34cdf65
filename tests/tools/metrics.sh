#!/bin/sh
# metrics.sh: the structure figures issue 12 asks for, from the tree as
# it is: lines per process file, the longest functions, file-scope
# variables per directory, and the duplicated blocks (the duplicates
# tool, when it is on PATH). Run from the repo root; prints, changes
# nothing.
set -eu
cd "${1:-.}"

echo "== lines of the process files"
wc -l netd/wgcardd.c netd/handshake.c netd/forward.c keyd/keyd.c \
    netd/control.c netd/uapi.c | sed 's/^/  /'

# A function: a line at column 0 that starts with a name and "(" (KNF
# puts the type on the line above) up to the next "}" at column 0.
echo "== longest functions (lines, file:line name)"
for f in netd/*.c keyd/*.c common/*.c; do
	awk -v f="$f" '
	/^[A-Za-z_][A-Za-z0-9_]*\(/ { name = $0; sub(/\(.*/, "", name);
	    start = NR; next }
	/^}/ && start { print NR - start + 1, f ":" start, name; start = 0 }
	' "$f"
done | sort -rn | head -"${TOP:-12}" | sed 's/^/  /'

# File-scope variables: "static" at column 0 that declares no function
# (no "(" before "=" or ";"), and the same without "static".
echo "== file-scope variable declarations (lines)"
for d in keyd netd common; do
	n=$(cat $d/*.c | awk '
	    /^(static )?(const )?(volatile )?(struct|enum|union|unsigned|signed|int|char|size_t|ssize_t|uint[0-9]+_t|int[0-9]+_t|u_int|long|short|pid_t|time_t|bool|sig_atomic_t|pthread_[a-z]+_t|SCARDCONTEXT|SCARDHANDLE|DWORD|LONG)[ \t]/ &&
	    !/\(/ && !/^(struct|enum|union)[ \t]+[A-Za-z0-9_]+[ \t]*\{/ &&
	    !/^(struct|enum|union)[ \t]+[A-Za-z0-9_]+;/ { n++ }
	    /^static struct[ \t]*\{/ || /^static struct [A-Za-z0-9_]+[ \t]*\{/ { n++ }
	    END { print n + 0 }')
	echo "  $d: $n"
done

if command -v duplicates >/dev/null 2>&1; then
	echo "== duplicated blocks (duplicates on the tree)"
	duplicates --seconds 60 | head -1 | sed 's/^/  /'
fi
