/*
 * aeadbench.c: ChaCha20-Poly1305 on the data path's packets, libsodium
 * (common/crypto.c, what the forwarder used before) against libcrypto
 * (common/aead.c, what it uses now), in one process, one thread, in
 * place, one key, the counter going up. tests/bench/aead.sh runs it.
 *
 *	aeadbench [-n PACKETS] [-r ROUNDS] [-s SIZE]
 *
 * Each round times PACKETS seals, then PACKETS opens, with each library
 * in turn; the figure is the best round's, in CPU time of this thread
 * (a shared machine's other load steals wall time, not CPU time), as
 * nanoseconds a packet and GB/s of plaintext. An open works on a fresh
 * copy of one of 64 sealed packets (every open is checked); the time of
 * the copy alone is measured the same way and taken off.
 */
#include <err.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "aead.h"
#include "crypto.h"

enum { AB_SODIUM, AB_OPENSSL, AB_N };
static const char *const ab_name[AB_N] = { "libsodium", "libcrypto" };

static double
ab_cpu_ns(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

enum { AB_SEAL, AB_OPEN, AB_COPY };

/*
 * ns a packet for n packets of size bytes: seal in place (sealed: 64
 * packets sealed with counters 0..63, to open from), open a copy of
 * one of them, or only copy it.
 */
static double
ab_run(int lib, int op, struct aead_key *k, const uint8_t *key,
    uint8_t *work, const uint8_t *sealed, size_t size, long n)
{
	double		 t0, t1;
	long		 i;
	uint64_t	 c;
	int		 r;

	t0 = ab_cpu_ns();
	for (i = 0; i < n; i++) {
		c = (uint64_t)(i % 64);
		if (op == AB_SEAL) {
			if (lib == AB_SODIUM)
				wg_aead_encrypt(work, work, size, NULL, 0,
				    (uint64_t)i, key);
			else
				aead_seal(k, 0, work, size, NULL, 0,
				    (uint64_t)i);
			continue;
		}
		memcpy(work, sealed + c * (size + 16), size + 16);
		if (op == AB_COPY)
			continue;
		r = lib == AB_SODIUM ?
		    wg_aead_decrypt(work, work, size + 16, NULL, 0, c, key) :
		    aead_open(k, 0, work, size + 16, NULL, 0, c);
		if (r != 0)
			errx(1, "%s: packet %ld does not open", ab_name[lib], i);
	}
	t1 = ab_cpu_ns();
	return (t1 - t0) / (double)n;
}

int
main(int argc, char *argv[])
{
	struct aead_key	*k;
	uint8_t		 key[32], *work, *sealed;
	double		 best[AB_N][2], copy = 1e30, ns;
	uint64_t	 c;
	long		 n = 200000, rounds = 5, r, size = 1420;
	int		 ch, lib, op;

	while ((ch = getopt(argc, argv, "n:r:s:")) != -1) {
		switch (ch) {
		case 'n':
			n = strtol(optarg, NULL, 10);
			break;
		case 'r':
			rounds = strtol(optarg, NULL, 10);
			break;
		case 's':
			size = strtol(optarg, NULL, 10);
			break;
		default:
			fprintf(stderr, "usage: aeadbench [-n packets] "
			    "[-r rounds] [-s size]\n");
			return 2;
		}
	}
	if (n < 1 || rounds < 1 || size < 0 || size > 65535)
		errx(2, "packets >= 1, rounds >= 1, size 0..65535");

	wg_crypto_init();
	aead_init(1);
	memset(key, 0x42, sizeof(key));
	k = aead_key_new(key);
	if ((work = calloc(1, (size_t)size + 16)) == NULL ||
	    (sealed = calloc(64, (size_t)size + 16)) == NULL)
		err(1, "calloc");
	for (c = 0; c < 64; c++) {
		memset(sealed + c * ((size_t)size + 16), (int)c, (size_t)size);
		wg_aead_encrypt(sealed + c * ((size_t)size + 16),
		    sealed + c * ((size_t)size + 16), (size_t)size, NULL, 0,
		    c, key);
	}
	for (lib = 0; lib < AB_N; lib++)
		best[lib][0] = best[lib][1] = 1e30;
	for (r = 0; r < rounds; r++) {
		for (lib = 0; lib < AB_N; lib++)
			for (op = AB_SEAL; op <= AB_OPEN; op++) {
				ns = ab_run(lib, op, k, key, work, sealed,
				    (size_t)size, n);
				if (ns < best[lib][op])
					best[lib][op] = ns;
			}
		ns = ab_run(AB_SODIUM, AB_COPY, k, key, work, sealed,
		    (size_t)size, n);
		if (ns < copy)
			copy = ns;
	}
	for (lib = 0; lib < AB_N; lib++)
		best[lib][AB_OPEN] -= copy;
	printf("%ld-byte packets, best of %ld rounds of %ld, thread CPU "
	    "time (open: %.1f ns of copy taken off)\n", size, rounds, n,
	    copy);
	for (lib = 0; lib < AB_N; lib++)
		printf("%-10s seal %8.1f ns %6.2f GB/s   open %8.1f ns "
		    "%6.2f GB/s\n", ab_name[lib],
		    best[lib][0], (double)size / best[lib][0],
		    best[lib][1], (double)size / best[lib][1]);
	printf("libcrypto / libsodium: seal %.2fx, open %.2fx\n",
	    best[AB_SODIUM][0] / best[AB_OPENSSL][0],
	    best[AB_SODIUM][1] / best[AB_OPENSSL][1]);
	aead_key_free(k);
	free(work);
	free(sealed);
	return 0;
}
