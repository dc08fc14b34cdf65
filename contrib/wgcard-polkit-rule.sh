#!/bin/sh
# wgcard-polkit-rule: writes pcscd's polkit rule for wgcard's key broker
# (user _wgcard) from the configurations, so that the broker may open only
# the readers they name. pcscd (built with polkit) asks two actions: access
# to the daemon (org.debian.pcsc-lite.access_pcsc, granted) and to a card
# (org.debian.pcsc-lite.access_card, with the reader's name as the detail
# "reader": granted when it contains one of the configured Reader
# substrings, as wgcardd matches them). A card configuration without
# Reader makes the rule allow every reader (said on stderr); no card
# configuration at all, no card.
#
# usage: wgcard-polkit-rule [-o file] [config ...]
#	config	default /etc/wgcard/*.conf
#	-o	write to file (mode 0644, replaced atomically), else stdout
set -eu

out=
while getopts o: opt; do
	case $opt in
	o)	out=$OPTARG ;;
	*)	echo "usage: wgcard-polkit-rule [-o file] [config ...]" >&2
		exit 1 ;;
	esac
done
shift $((OPTIND - 1))
[ $# -gt 0 ] || set -- /etc/wgcard/*.conf

# One line per card configuration: "file<TAB>reader" (reader may be
# empty). Keys are case-insensitive and only [Interface] counts.
scan()
{
	awk '
	function flush() { if (card) printf "%s\t%s\n", file, reader }
	FNR == 1 { if (NR > 1) flush(); file = FILENAME; sect = "";
	    card = 0; reader = "" }
	{ sub(/#.*/, ""); gsub(/^[ \t]+|[ \t]+$/, "") }
	/^\[/ { sect = tolower($0); next }
	sect != "[interface]" || !/=/ { next }
	{
		k = tolower($0); sub(/[ \t]*=.*/, "", k)
		v = $0; sub(/^[^=]*=[ \t]*/, "", v)
	}
	k == "keysource" && tolower(v) == "openpgp" { card = 1 }
	k == "reader" { reader = v }
	END { if (NR > 0) flush() }
	' "$@"
}

for f; do
	if [ ! -r "$f" ]; then
		echo "wgcard-polkit-rule: $f: cannot read" >&2
		exit 1
	fi
done
list=$(scan "$@")
any=0
readers=
sources=
while IFS='	' read -r f r; do
	[ -n "$f" ] || continue
	sources="$sources $f"
	if [ -z "$r" ]; then
		echo "wgcard-polkit-rule: $f names no Reader: every reader" \
		    "allowed (set Reader = to limit it)" >&2
		any=1
		continue
	fi
	case $r in
	*[![:print:]]*)
		echo "wgcard-polkit-rule: $f: Reader has a control character" >&2
		exit 1 ;;
	esac
	# A JavaScript string: backslash and double quote escaped.
	esc=$(printf '%s' "$r" | sed 's/\\/\\\\/g; s/"/\\"/g')
	readers="$readers${readers:+, }\"$esc\""
done <<EOT
$list
EOT
[ -n "$sources" ] || echo "wgcard-polkit-rule: no card configuration" \
    "(KeySource = openpgp) in: $*; the broker gets no card" >&2
if [ "$any" = 1 ]; then
	allowed=null
else
	allowed="[$readers]"
fi

rule()
{
	cat <<EOT
// polkit rule for pcscd, written by wgcard-polkit-rule from:
//  ${sources:- (no card configuration)}
// wgcard's key broker (user _wgcard) may talk to pcscd and open only the
// readers whose name contains one of these (null: any reader). Run
// wgcard-polkit-rule again after changing Reader in a configuration.
polkit.addRule(function(action, subject) {
	var allowed = $allowed;
	var reader, i;

	if (subject.user != "_wgcard")
		return polkit.Result.NOT_HANDLED;
	if (action.id == "org.debian.pcsc-lite.access_pcsc")
		return $( [ -n "$sources" ] && echo polkit.Result.YES || echo polkit.Result.NO );
	if (action.id != "org.debian.pcsc-lite.access_card")
		return polkit.Result.NOT_HANDLED;
	if (allowed === null)
		return polkit.Result.YES;
	reader = action.lookup("reader") || "";
	for (i = 0; i < allowed.length; i++)
		if (reader.indexOf(allowed[i]) != -1)
			return polkit.Result.YES;
	return polkit.Result.NO;
});
EOT
}

if [ -z "$out" ]; then
	rule
else
	tmp=$(mktemp "$out.XXXXXX")
	trap 'rm -f "$tmp"' EXIT
	rule >"$tmp"
	chmod 0644 "$tmp"
	mv -f "$tmp" "$out"
	trap - EXIT
fi
