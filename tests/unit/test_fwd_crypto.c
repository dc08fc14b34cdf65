/*
 * test_fwd_crypto.c: the forwarder's choice of AEAD (netd/fwd_crypto.c).
 * A batch of one or two packets after a quiet spell (fewer than 8 jobs in
 * this millisecond and the one before) takes the compact path; a bigger
 * batch, a stream, or the switch off (WGCARD_FWD_COMPACT=0) takes
 * libcrypto. Either way every packet is sealed as libsodium seals it and
 * a forgery is refused.
 */
#include <stdint.h>
#include <string.h>

#include <sodium.h>

#include "aead.h"
#include "crypto.h"
#include "fwd.h"
#include "test.h"

static uint8_t		 tf_key[32];
static struct aead_key	*tf_k;
static uint64_t		 tf_counter;
static int		 tf_bad;

/*
 * n packets sealed at now_ms, then opened (2n jobs); how many of the 2n
 * took the compact path.
 */
static uint64_t
tf_run(int n, uint64_t now_ms)
{
	struct fwd_job	jobs[4];
	uint8_t		buf[4][100 + 16], ref[100 + 16];
	uint64_t	before = fwd_crypto_ncompact();
	int		i;

	for (i = 0; i < n; i++) {
		memset(buf[i], i, 100);
		memset(&jobs[i], 0, sizeof(jobs[i]));
		jobs[i].data = buf[i];
		jobs[i].key = tf_k;
		jobs[i].counter = tf_counter + (uint64_t)i;
		jobs[i].len = 100;
		jobs[i].enc = 1;
	}
	fwd_crypto_run(jobs, n, now_ms);
	for (i = 0; i < n; i++) {
		memset(ref, i, 100);
		wg_aead_encrypt(ref, ref, 100, NULL, 0, tf_counter +
		    (uint64_t)i, tf_key);
		if (memcmp(ref, buf[i], sizeof(ref)) != 0)
			tf_bad++;
		/* Opened again, on the same path: then a flipped bit. */
		jobs[i].enc = 0;
		jobs[i].len = 116;
	}
	fwd_crypto_run(jobs, n, now_ms);
	for (i = 0; i < n; i++) {
		memset(ref, i, 100);
		if (jobs[i].result != 0 || memcmp(buf[i], ref, 100) != 0)
			tf_bad++;
	}
	tf_counter += (uint64_t)n;
	return fwd_crypto_ncompact() - before;
}

/* A forged packet on each path: refused, the buffer as it was. */
static void
test_forgery(void)
{
	struct fwd_job	j;
	uint8_t		buf[64 + 16], copy[64 + 16];
	int		compact;

	for (compact = 0; compact < 2; compact++) {
		fwd_crypto_set_compact(compact);
		memset(buf, 7, 64);
		wg_aead_encrypt(buf, buf, 64, NULL, 0, 99, tf_key);
		buf[70] ^= 1;
		memcpy(copy, buf, sizeof(buf));
		memset(&j, 0, sizeof(j));
		j.data = buf;
		j.key = tf_k;
		j.counter = 99;
		j.len = sizeof(buf);
		fwd_crypto_run(&j, 1, 1000000 + 1000 * (uint64_t)compact);
		CHECK(j.result == -1, "forgery opened (compact %d)", compact);
		CHECK_MEM(buf, copy, sizeof(buf), "forgery changed the buffer "
		    "(compact %d)", compact);
	}
}

int
main(void)
{
	uint64_t	t, n;
	int		i;

	wg_crypto_init();
	fwd_crypto_init(0);
	randombytes_buf(tf_key, sizeof(tf_key));
	tf_k = aead_key_new(tf_key);

	/* Off (the state before fwd_crypto_set_compact): never. */
	CHECK(tf_run(1, 100) == 0, "compact path taken before it was asked");
	fwd_crypto_set_compact(1);
	/* A lone packet, and its answer in the same millisecond. */
	CHECK(tf_run(1, 1000) == 2, "a lone packet took libcrypto");
	CHECK(tf_run(1, 1000) == 2, "its answer took libcrypto");
	CHECK(tf_run(2, 1000) == 4, "a batch of two took libcrypto");
	/* 8 jobs in ms 1000: busy from here on. */
	CHECK(tf_run(1, 1000) == 0, "the 9th job of a millisecond was compact");
	CHECK(tf_run(1, 1001) == 0, "the millisecond after a busy one was "
	    "compact");
	/* A batch of three is never a quiet spell's. */
	CHECK(tf_run(3, 5000) == 0, "a batch of three was compact");
	/* Quiet again: nothing in the millisecond before. */
	CHECK(tf_run(1, 5002) == 2, "a lone packet after 2 ms took libcrypto");
	/* A packet and its answer every millisecond: compact. */
	for (n = 0, t = 10000; t < 10100; t++)
		n += tf_run(1, t);
	CHECK(n == 200, "%llu of 200 sparse jobs compact",
	    (unsigned long long)n);
	/* 8 jobs a millisecond: libcrypto after the first millisecond. */
	for (n = 0, t = 20000; t < 20100; t++)
		for (i = 0; i < 4; i++)
			n += tf_run(1, t);
	CHECK(n == 8, "%llu of 800 jobs of a stream compact",
	    (unsigned long long)n);
	/* The clock going back (a new window) is a quiet spell too. */
	CHECK(tf_run(1, 50) == 2, "a lone packet after the clock went back");
	fwd_crypto_set_compact(0);
	CHECK(tf_run(1, 90000) == 0, "compact path taken when switched off");
	test_forgery();
	CHECK(tf_bad == 0, "%d packets sealed or opened wrong", tf_bad);
	aead_key_free(tf_k);
	sodium_memzero(tf_key, sizeof(tf_key));
	return test_done();
}
