#!/bin/bash
# hardening: the binaries `make` builds carry the hardening the Makefile
# promises, read back from the ELF files themselves (readelf), not from
# the Makefile:
#	- PIE (ELF type DYN, DF_1_PIE), full RELRO (PT_GNU_RELRO + BIND_NOW);
#	- the stack protector (__stack_chk_fail imported) and FORTIFY
#	  (checked __*_chk functions imported);
#	- every compilation unit's DW_AT_producer records
#	  -fstack-protector-strong, -fstack-clash-protection, -fcf-protection
#	  and -fPIE;
#	- every object file of ours carries the x86 IBT and SHSTK property
#	  (the linked binary keeps it only if the C library's start files
#	  have it too: Debian 12's do not, which is printed, not hidden);
#	- distribution flags win: a FORTIFY level in CPPFLAGS is kept (no
#	  redefinition, -Werror clean), HARDEN=0 leaves the flags out.
T_ID=hd
. "$(dirname "$0")/../lib/common.sh"

B=${HARDEN_B:-$T_ROOT/build}
command -v readelf >/dev/null || t_fatal "readelf missing (binutils)"
BINS=(wgcardd wgcard-keyd wgcardctl wgcard-vcard)
for b in "${BINS[@]}"; do
	[ -x "$B/$b" ] || t_fatal "$B/$b is not built (make)"
done

for b in "${BINS[@]}"; do
	f=$B/$b
	t_check "$b: PIE (type DYN, FLAGS_1 PIE)" eval \
	    'readelf -hW "$f" | grep -q "Type: *DYN" &&
	     readelf -dW "$f" | grep -E "FLAGS_1" | grep -qw PIE'
	t_check "$b: RELRO segment" eval 'readelf -lW "$f" | grep -q GNU_RELRO'
	t_check "$b: bind now (full RELRO, no lazy binding)" eval \
	    'readelf -dW "$f" | grep -qE "\(FLAGS\).*BIND_NOW|FLAGS_1.*\bNOW\b"'
	t_check "$b: stack protector (__stack_chk_fail)" eval \
	    'readelf --dyn-syms -W "$f" | grep -q " __stack_chk_fail"'
	chk=$(readelf --dyn-syms -W "$f" | grep -oE '__[a-z0-9_]+_chk\b' |
	    grep -v __stack_chk | sort -u | tr '\n' ' ')
	t_check "$b: FORTIFY (checked functions: ${chk:-none})" [ -n "$chk" ]
	# Every unit compiled here (ours have DWARF; the libraries' do not
	# come in statically).
	prods=$(readelf --debug-dump=info "$f" 2>/dev/null |
	    sed -n 's/.*DW_AT_producer *: (.*): //p; s/.*DW_AT_producer *: //p' |
	    sort -u)
	if [ -z "$prods" ]; then
		t_fail "$b: compiler flags" "no DW_AT_producer (built without -g?)"
		continue
	fi
	for flag in -fstack-protector-strong -fstack-clash-protection \
	    -fcf-protection -fPIE; do
		miss=$(grep -c -v -e "$flag" <<<"$prods")
		t_eq "$b: every unit built with $flag" "$miss" 0
	done
done

# CET: the objects of ours, and the binaries where the toolchain allows.
objs=$(find "$B/obj" -name '*.o' ! -path '*/tests/*' | sort)
nobj=$(wc -l <<<"$objs")
bad=$(for o in $objs; do
	readelf -nW "$o" | grep -q 'x86 feature: IBT, SHSTK' || echo "$o"
done)
t_eq "all $nobj objects carry the IBT and SHSTK property" "${bad:-none}" none
crt=$(${CC:-cc} -print-file-name=Scrt1.o)
if readelf -nW "$crt" 2>/dev/null | grep -q 'IBT, SHSTK'; then
	for b in "${BINS[@]}"; do
		t_check "$b: CET property kept in the linked binary" eval \
		    'readelf -nW "$B/$b" | grep -q "x86 feature: IBT, SHSTK"'
	done
else
	t_log "note: $crt (the C library's start file) has no CET property," \
	    "so the linker drops it from every binary here; the objects above have it"
fi

# The Makefile honours distribution flags and HARDEN=0 (dry runs, plus one
# real compile with a distribution FORTIFY level under -Werror).
dry=$(make -s -n -C "$T_ROOT" B="$T_TMP/b1" "$T_TMP/b1/obj/common/buf.o" 2>&1)
t_check "default: FORTIFY 3 on the compile line" grep -q -- '-D_FORTIFY_SOURCE=3' <<<"$dry"
dry=$(make -s -n -C "$T_ROOT" B="$T_TMP/b2" CPPFLAGS=-D_FORTIFY_SOURCE=2 \
    "$T_TMP/b2/obj/common/buf.o" 2>&1)
t_check "CPPFLAGS=-D_FORTIFY_SOURCE=2: kept, not redefined" eval \
    'grep -q -- "-D_FORTIFY_SOURCE=2" <<<"$dry" && ! grep -q -- "-D_FORTIFY_SOURCE=3" <<<"$dry"'
if make -s -C "$T_ROOT" B="$T_TMP/b3" WERROR=1 CPPFLAGS=-D_FORTIFY_SOURCE=2 \
    "$T_TMP/b3/obj/common/buf.o" >"$T_TMP/b3.log" 2>&1; then
	t_ok "CPPFLAGS=-D_FORTIFY_SOURCE=2 WERROR=1: compiles clean"
else
	t_fail "CPPFLAGS=-D_FORTIFY_SOURCE=2 WERROR=1" "$(tail -n 5 "$T_TMP/b3.log")"
fi
dry=$(make -s -n -C "$T_ROOT" B="$T_TMP/b4" HARDEN=0 "$T_TMP/b4/obj/common/buf.o" 2>&1)
t_check "HARDEN=0: no hardening flags added" eval \
    '! grep -qE -- "-fstack-clash-protection|_FORTIFY_SOURCE" <<<"$dry"'
t_done
