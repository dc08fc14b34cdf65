#!/bin/sh
# Crypto micro-benchmark (not part of make check): ChaCha20-Poly1305 on
# the data path's packets, libsodium, libcrypto (OpenSSL) and the
# compact path (common/chapoly.c), in one
# process on one thread, with build/bench/aeadbench (tests/bench/aeadbench.c).
# Prints the machine (CPU model and count, load) and the library versions
# first, so that a figure is read with its machine.
#
#	tests/bench/aead.sh			(1420-byte packets)
#	SIZES="64 1420 8192" tests/bench/aead.sh
#	COLD=40 SIZES="96 1420" tests/bench/aead.sh
#
# SIZES		plaintext lengths (default 1420, a full packet at MTU 1420)
# PACKETS	packets per timed round (default 200000)
# ROUNDS	rounds; the best is printed (default 5)
# COLD		instead: this many single seals per library after 50 ms of
#		sleep, then as many after 64 MiB written as well (caches
#		and TLB emptied): the forwarder's first packet after a
#		quiet spell; median and mean, wall clock
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=$root/build/bench/aeadbench
[ -x "$bin" ] || { echo "aead.sh: $bin is missing (make all)" >&2; exit 1; }

echo "cpu: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)," \
    "$(getconf _NPROCESSORS_ONLN) online;" \
    "flags: $(grep -o -w 'avx512f\|avx512vl\|avx2\|ssse3' /proc/cpuinfo |
	sort -u | tr '\n' ' ')"
echo "load average: $(cut -d ' ' -f 1-3 /proc/loadavg)"
echo "libsodium $(pkg-config --modversion libsodium)," \
    "libcrypto $(pkg-config --modversion libcrypto)" \
    "(OPENSSL_ia32cap=${OPENSSL_ia32cap:-unset})"
for s in ${SIZES:-1420}; do
	if [ -n "${COLD:-}" ]; then
		"$bin" -s "$s" -c "$COLD"
		"$bin" -s "$s" -c "$COLD" -e
	else
		"$bin" -s "$s" -n "${PACKETS:-200000}" -r "${ROUNDS:-5}"
	fi
done
