/*
 * aeadbench.c: ChaCha20-Poly1305 on the data path's packets, libsodium
 * (common/crypto.c, what the forwarder used before) against libcrypto
 * (common/aead.c, what it uses in a stream) and the compact path
 * (common/chapoly.c, what it uses for a lone packet after a quiet
 * spell), in one process, one thread, in place, one key, the counter
 * going up. tests/bench/aead.sh runs it.
 *
 *	aeadbench [-n PACKETS] [-r ROUNDS] [-s SIZE]
 *	aeadbench -c SAMPLES [-e] [-s SIZE]
 *
 * Warm (the default): each round times PACKETS seals, then PACKETS
 * opens, with each library in turn; the figure is the best round's, in
 * CPU time of this thread (a shared machine's other load steals wall
 * time, not CPU time), as nanoseconds a packet and GB/s of plaintext.
 * An open works on a fresh copy of one of 64 sealed packets (every open
 * is checked); the time of the copy alone is measured the same way and
 * taken off.
 *
 * Cold (-c): SAMPLES times, each library in turn, sleep 50 ms (with -e
 * after writing 64 MiB, which empties the caches and the TLB as the
 * other processes of a busy machine do), then time one seal, wall
 * clock: the cost of the forwarder's first packet after a quiet spell.
 * Prints the median and the mean.
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

enum { AB_SODIUM, AB_OPENSSL, AB_COMPACT, AB_N };
static const char *const ab_name[AB_N] = { "libsodium", "libcrypto",
    "compact" };

static double
ab_cpu_ns(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

enum { AB_SEAL, AB_OPEN, AB_COPY };

static void
ab_seal(int lib, struct aead_key *k, const uint8_t *key, uint8_t *work,
    size_t size, uint64_t counter)
{
	if (lib == AB_SODIUM)
		wg_aead_encrypt(work, work, size, NULL, 0, counter, key);
	else if (lib == AB_OPENSSL)
		aead_seal(k, 0, work, size, NULL, 0, counter);
	else
		aead_seal_compact(k, work, size, NULL, 0, counter);
}

static double
ab_wall_ns(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int
ab_cmp(const void *a, const void *b)
{
	double	x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* -c: one seal after a quiet spell, samples times per library. */
static void
ab_cold(struct aead_key *k, const uint8_t *key, uint8_t *work, size_t size,
    long samples, int evict)
{
	static const size_t	 bigsz = 64 << 20;
	volatile uint8_t	*big = NULL;
	double			*t[AB_N], t0, sum;
	size_t			 j;
	long			 i;
	int			 lib;

	if (evict && (big = malloc(bigsz)) == NULL)
		err(1, "malloc");
	for (lib = 0; lib < AB_N; lib++)
		if ((t[lib] = calloc((size_t)samples, sizeof(double))) == NULL)
			err(1, "calloc");
	for (i = 0; i < samples; i++)
		for (lib = 0; lib < AB_N; lib++) {
			if (evict)
				for (j = 0; j < bigsz; j += 64)
					big[j] = (uint8_t)i;
			usleep(50000);
			t0 = ab_wall_ns();
			ab_seal(lib, k, key, work, size, (uint64_t)i);
			t[lib][i] = ab_wall_ns() - t0;
		}
	printf("%zu-byte packets, one seal after 50 ms of sleep%s, %ld "
	    "samples, wall clock\n", size, evict ? " and 64 MiB written" :
	    "", samples);
	for (lib = 0; lib < AB_N; lib++) {
		for (sum = 0, i = 0; i < samples; i++)
			sum += t[lib][i];
		qsort(t[lib], (size_t)samples, sizeof(double), ab_cmp);
		printf("%-10s cold seal: median %7.2f us, mean %7.2f us\n",
		    ab_name[lib], t[lib][samples / 2] / 1e3,
		    sum / (double)samples / 1e3);
		free(t[lib]);
	}
	free((void *)big);
}

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
			ab_seal(lib, k, key, work, size, (uint64_t)i);
			continue;
		}
		memcpy(work, sealed + c * (size + 16), size + 16);
		if (op == AB_COPY)
			continue;
		if (lib == AB_SODIUM)
			r = wg_aead_decrypt(work, work, size + 16, NULL, 0, c,
			    key);
		else if (lib == AB_OPENSSL)
			r = aead_open(k, 0, work, size + 16, NULL, 0, c);
		else
			r = aead_open_compact(k, work, size + 16, NULL, 0, c);
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
	long		 n = 200000, rounds = 5, r, size = 1420, cold = 0;
	int		 ch, lib, op, evict = 0;

	while ((ch = getopt(argc, argv, "c:en:r:s:")) != -1) {
		switch (ch) {
		case 'c':
			cold = strtol(optarg, NULL, 10);
			if (cold < 1)
				errx(2, "-c: samples >= 1");
			break;
		case 'e':
			evict = 1;
			break;
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
			    "[-r rounds] [-s size]\n"
			    "       aeadbench -c samples [-e] [-s size]\n");
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
	if (cold > 0) {
		ab_cold(k, key, work, (size_t)size, cold, evict);
		goto done;
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
done:
	aead_key_free(k);
	free(work);
	free(sealed);
	return 0;
}
