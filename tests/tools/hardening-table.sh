#!/bin/bash
# hardening-table.sh [BUILD_DIR]: a Markdown table of the hardening found
# in each binary (read with readelf), for docs/reliability.md.
B=${1:-$(dirname "$0")/../../build}
yn() { if "$@" >/dev/null 2>&1; then echo yes; else echo NO; fi; }
echo "| binary | PIE | RELRO | bind now | stack protector | FORTIFY (checked functions) | stack-clash, CET flags (every unit) | IBT+SHSTK note |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
for b in wgcardd wgcard-keyd wgcardctl wgcard-vcard; do
	f=$B/$b
	[ -x "$f" ] || continue
	pie=$(yn eval 'readelf -dW "$f" | grep FLAGS_1 | grep -qw PIE')
	relro=$(yn eval 'readelf -lW "$f" | grep -q GNU_RELRO')
	now=$(yn eval 'readelf -dW "$f" | grep -qE "\(FLAGS\).*BIND_NOW"')
	ssp=$(yn eval 'readelf --dyn-syms -W "$f" | grep -q " __stack_chk_fail"')
	chk=$(readelf --dyn-syms -W "$f" | grep -oE '__[a-z0-9_]+_chk\b' |
	    grep -v __stack_chk | sort -u | wc -l)
	prods=$(readelf --debug-dump=info "$f" 2>/dev/null |
	    sed -n 's/.*DW_AT_producer *: (.*): //p; s/.*DW_AT_producer *: //p' | sort -u)
	flags=$(yn eval '[ -n "$prods" ] && ! grep -v -e -fstack-clash-protection <<<"$prods" | grep -q . &&
	    ! grep -v -e -fcf-protection <<<"$prods" | grep -q .')
	cet=$(yn eval 'readelf -nW "$f" | grep -q "IBT, SHSTK"')
	echo "| $b | $pie | $relro | $now | $ssp | $chk | $flags | $cet |"
done
