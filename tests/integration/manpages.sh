#!/bin/bash
# manpages: the manual pages against the code.  Every page in docs/ lints
# clean with `mandoc -T lint -W warning`; every key of the configuration
# parser's table (netd/config.c) is documented in wgcardd.conf(5); every
# command of wgcardctl's keyword tables (netd/wgcardctl/parser.c) in
# wgcardctl(8); each program's usage() text (it prints it on a bad
# option) is its page's SYNOPSIS, whitespace aside; every option of that
# SYNOPSIS has its ".It Fl" entry in the page and every entry is one of
# them; no word of a rendered page is a stray flag (a misplaced Fl);
# contrib/wgcard.bash-completion offers every command and option.
T_ID=mp
. "$(dirname "$0")/../lib/common.sh"

DOCS=$T_ROOT/docs
B=$T_ROOT/build

command -v mandoc >/dev/null || t_fatal "mandoc is not installed (contrib/install-deps.sh)"

# ---- lint
n=0
for page in "$DOCS"/*.[1-9]; do
	[ -f "$page" ] || continue
	n=$((n + 1))
	out=$(mandoc -T lint -W warning "$page" 2>&1)
	rc=$?
	if [ $rc -eq 0 ] && [ -z "$out" ]; then
		t_ok "lint $(basename "$page")"
	else
		t_fail "lint $(basename "$page")" "mandoc -T lint -W warning (status $rc): $out"
	fi
done
t_check "there are manual pages in docs/" test $n -ge 4

# ---- configuration keys: the names of the config_keywords[] table
keys=$(awk '
	/config_keywords\[\][[:space:]]*=/ { f = 1; next }
	f && /^};/ { exit }
	f && match($0, /\{[[:space:]]*"[^"]+"/) {
		s = substr($0, RSTART, RLENGTH)
		sub(/^\{[[:space:]]*"/, "", s)
		sub(/"$/, "", s)
		print s
	}' "$T_ROOT/netd/config.c")
nkeys=$(printf '%s\n' "$keys" | grep -c .)
t_check "config.c's key table read ($nkeys keys)" test "$nkeys" -ge 15
missing=
for k in $keys; do
	grep -qE "(^\.|[[:space:]])Ic $k([[:space:]]|$)" "$DOCS/wgcardd.conf.5" ||
	    missing="$missing $k"
done
t_eq "every configuration key is in wgcardd.conf(5)" "${missing# }" ""

# ---- wgcardctl commands: the words of parser.c's tables
# Each table is "static const struct keyword t_NAME[] = { { "word", ...,
# next, ... }, ... };"; a word whose next is a table has subcommands.
cmds=$(awk '
	match($0, /struct keyword[[:space:]]+t_[a-z_]+\[\]/) {
		t = substr($0, RSTART, RLENGTH)
		sub(/.*[[:space:]]/, "", t)
		sub(/\[\]$/, "", t)
		cur = t
		next
	}
	cur != "" && /^};/ { cur = ""; next }
	cur != "" && match($0, /\{[[:space:]]*"[^"]+"/) {
		w = substr($0, RSTART, RLENGTH)
		sub(/^\{[[:space:]]*"/, "", w)
		sub(/"$/, "", w)
		n = split($0, f, ",")
		nx = f[4]
		gsub(/[[:space:]]/, "", nx)
		word[cur, ++cnt[cur]] = w
		next_of[cur, cnt[cur]] = nx
	}
	END {
		for (i = 1; i <= cnt["t_main"]; i++) {
			w = word["t_main", i]
			nx = next_of["t_main", i]
			if (nx == "NULL" || !(nx in cnt))
				print w
			else
				for (j = 1; j <= cnt[nx]; j++)
					print w " " word[nx, j]
		}
	}' "$T_ROOT/netd/wgcardctl/parser.c")
ncmds=$(printf '%s\n' "$cmds" | grep -c .)
t_check "parser.c's command tables read ($ncmds commands)" test "$ncmds" -ge 8
missing=
while read -r w1 w2; do
	[ -n "$w1" ] || continue
	# An .It line of the command list naming the command (and for two
	# words, the second on the same line: ".It Cm log verbose | brief").
	if ! grep -E "^\.It Cm $w1([[:space:]]|$)" "$DOCS/wgcardctl.8" |
	    grep -qE "(^|[[:space:]])${w2:-$w1}([[:space:]]|$)"; then
		missing="$missing '$w1${w2:+ $w2}'"
	fi
done <<<"$cmds"
t_eq "every wgcardctl command is in wgcardctl(8)" "${missing# }" ""

# ---- usage() against SYNOPSIS
norm()
{
	tr -s ' \t\n' '   ' | sed -E 's/ *\| */|/g; s/^ +//; s/ +$//'
}

# synopsis PAGE: the SYNOPSIS section as mandoc renders it, normalised.
synopsis()
{
	mandoc -T ascii -O width=500 "$1" | sed 's/.\x08//g' |
	    awk '/^SYNOPSIS/ { f = 1; next } /^[A-Z]/ { f = 0 } f' | norm
}

# usage_text PROG: the usage lines of PROG -Z (an option none of them
# takes): from "usage:" on, while the lines go on with the program name.
usage_text()
{
	local name
	name=$(basename "$1")
	"$1" -Z 2>&1 >/dev/null </dev/null |
	    awk -v n="$name" '
		/^usage:/ { f = 1; sub(/^usage:/, ""); print; next }
		f && $1 == n { print; next }
		f { exit }' | norm
}

for prog in wgcardd wgcard-keyd wgcardctl; do
	page=$(ls "$DOCS/$prog".[1-9] 2>/dev/null | head -n 1)
	if [ -z "$page" ]; then
		t_fail "usage of $prog" "no manual page docs/$prog.N"
		continue
	fi
	if [ ! -x "$B/$prog" ]; then
		t_fail "usage of $prog" "$B/$prog is not built (make)"
		continue
	fi
	"$B/$prog" -Z >/dev/null 2>&1 </dev/null
	rc=$?
	t_eq "$prog -Z (a bad option) exits 1" "$rc" 1
	u=$(usage_text "$B/$prog")
	s=$(synopsis "$page")
	if [ -n "$u" ] && [ "$u" = "$s" ]; then
		t_ok "usage of $prog is the SYNOPSIS of $(basename "$page")"
	else
		t_fail "usage of $prog is the SYNOPSIS of $(basename "$page")" \
		    "usage: '$u' / SYNOPSIS: '$s'"
	fi
done

# ---- options: each one of the SYNOPSIS (= usage()) has its ".It Fl"
# entry in the page, and each entry is an option of the SYNOPSIS.
# opts_of_text: "-dfv" gives -d -f -v, "--json" gives --json.
opts_of_text()
{
	grep -oE '(^|[][ |])--?[A-Za-z][A-Za-z-]*' | sed -E 's/^[][ |]//' |
	    awk '/^--/ { print; next }
		{ for (i = 2; i <= length($0); i++) print "-" substr($0, i, 1) }' |
	    sort -u
}

# opts_of_items PAGE: the options of the page's ".It Fl X" lines
# (".It Fl h , Fl -help" gives -h and --help).
opts_of_items()
{
	grep -E '^\.It .*Fl ' "$1" |
	    grep -oE 'Fl [^ ]+' | awk '{ print "-" $2 }' | sort -u
}

for prog in wgcardd wgcard-keyd wgcardctl; do
	page=$(ls "$DOCS/$prog".[1-9] 2>/dev/null | head -n 1)
	[ -n "$page" ] || continue
	syn=$(synopsis "$page" | opts_of_text)
	items=$(opts_of_items "$page")
	t_check "$prog: options read from the SYNOPSIS and the page" \
	    test -n "$syn" -a -n "$items"
	t_eq "$prog: every option of usage() has its entry in $(basename "$page")" \
	    "$(comm -23 <(echo "$syn") <(echo "$items") | tr '\n' ' ')" ""
	t_eq "$prog: every option entry of $(basename "$page") is in usage()" \
	    "$(comm -13 <(echo "$syn") <(echo "$items") | tr '\n' ' ')" ""
done

# ---- bash completion (contrib/wgcard.bash-completion): it offers every
# command of parser.c's tables and every option of each usage().
COMP=$T_ROOT/contrib/wgcard.bash-completion
t_check "bash completion: bash -n" bash -n "$COMP"
# offered FUNCTION WORDS...: what completing the last word offers.
offered()
{
	bash -c 'src=$1 fn=$2; shift 2; . "$src"; COMP_WORDS=("$@")
	    COMP_CWORD=$(($# - 1)); "$fn"; printf "%s\n" "${COMPREPLY[@]}"' \
	    _ "$COMP" "$@" 2>&1
}
missing=
top=$(offered _wgcardctl wgcardctl "")
while read -r w1 w2; do
	[ -n "$w1" ] || continue
	grep -qx -- "$w1" <<<"$top" || missing="$missing '$w1'"
	[ -z "$w2" ] || offered _wgcardctl wgcardctl "$w1" "" | grep -qx -- "$w2" ||
	    missing="$missing '$w1 $w2'"
done <<<"$cmds"
t_eq "bash completion offers every wgcardctl command" "${missing# }" ""
for prog in wgcardd wgcardctl; do
	page=$(ls "$DOCS/$prog".[1-9] 2>/dev/null | head -n 1)
	[ -n "$page" ] || continue
	have=$(offered "_$prog" "$prog" -)
	missing=
	for o in $(synopsis "$page" | opts_of_text); do
		grep -qx -- "$o" <<<"$have" || missing="$missing $o"
	done
	t_eq "bash completion offers every option of $prog" "${missing# }" ""
done

# ---- rendering: no word turned into a flag by a stray Fl (".Fl n ,
# ends the check" renders "-n, -ends -the -check"): a flag-looking word
# in the text must be an option of some page's SYNOPSIS.
known=$(for page in "$DOCS"/*.[1-9]; do synopsis "$page" | opts_of_text; done |
    sort -u)
for page in "$DOCS"/*.[1-9]; do
	odd=$(mandoc -T ascii -O width=500 "$page" | sed 's/.\x08//g' |
	    grep -oE '(^|[ (])-[a-z][a-z-]{2,}' | sed -E 's/^[ (]//' | sort -u |
	    comm -23 - <(echo "$known") | tr '\n' ' ')
	t_eq "$(basename "$page"): no word rendered as a stray flag" "$odd" ""
done

t_done
