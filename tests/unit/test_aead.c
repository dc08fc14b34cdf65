/*
 * test_aead.c: the data path's AEAD (common/aead.c, libcrypto) against
 * RFC 8439's test vector with WireGuard's nonce layout (A.5: 4 zero
 * bytes, then a 64-bit counter) and against libsodium (common/crypto.c)
 * on random inputs of every size 0..2000 with the counter's edges; both
 * ways (one seals, the other opens), forgeries refused, lanes
 * independent, and no allocation by libcrypto per packet. Every test
 * but the last runs twice: on libcrypto (aead_seal, aead_open), then on
 * the compact path (aead_seal_compact, aead_open_compact: libsodium's
 * primitives, no lane), which must give the same bytes and refuse the
 * same forgeries with the buffer left as it was.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <sodium.h>

#include "aead.h"
#include "crypto.h"
#include "test.h"

#define TA_LANES	3
#define TA_MAXLEN	2000

/* 0: libcrypto; 1: the compact path. */
static int	ta_compact;

static void
ta_seal(struct aead_key *k, int lane, uint8_t *buf, size_t len,
    const uint8_t *ad, size_t adlen, uint64_t counter)
{
	if (ta_compact)
		aead_seal_compact(k, buf, len, ad, adlen, counter);
	else
		aead_seal(k, lane, buf, len, ad, adlen, counter);
}

static int
ta_open(struct aead_key *k, int lane, uint8_t *buf, size_t len,
    const uint8_t *ad, size_t adlen, uint64_t counter)
{
	if (ta_compact)
		return aead_open_compact(k, buf, len, ad, adlen, counter);
	return aead_open(k, lane, buf, len, ad, adlen, counter);
}

/* RFC 8439, appendix A.5. */
static const uint8_t ta_key[32] = {
	0x1c, 0x92, 0x40, 0xa5, 0xeb, 0x55, 0xd3, 0x8a,
	0xf3, 0x33, 0x88, 0x86, 0x04, 0xf6, 0xb5, 0xf0,
	0x47, 0x39, 0x17, 0xc1, 0x40, 0x2b, 0x80, 0x09,
	0x9d, 0xca, 0x5c, 0xbc, 0x20, 0x70, 0x75, 0xc0,
};
/* Nonce 00 00 00 00 01 02 03 04 05 06 07 08: the counter, little-endian. */
#define TA_COUNTER	0x0807060504030201ULL
static const uint8_t ta_ad[12] = {
	0xf3, 0x33, 0x88, 0x86, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x4e, 0x91,
};
static const char ta_pt[] = "Internet-Drafts are draft documents valid "
    "for a maximum of six months and may be updated, replaced, or "
    "obsoleted by other documents at any time. It is inappropriate to "
    "use Internet-Drafts as reference material or to cite them other "
    "than as /\xe2\x80\x9cwork in progress./\xe2\x80\x9d";
/* The ciphertext (265 bytes), then the tag. */
static const uint8_t ta_ct[265 + 16] = {
	0x64, 0xa0, 0x86, 0x15, 0x75, 0x86, 0x1a, 0xf4,
	0x60, 0xf0, 0x62, 0xc7, 0x9b, 0xe6, 0x43, 0xbd,
	0x5e, 0x80, 0x5c, 0xfd, 0x34, 0x5c, 0xf3, 0x89,
	0xf1, 0x08, 0x67, 0x0a, 0xc7, 0x6c, 0x8c, 0xb2,
	0x4c, 0x6c, 0xfc, 0x18, 0x75, 0x5d, 0x43, 0xee,
	0xa0, 0x9e, 0xe9, 0x4e, 0x38, 0x2d, 0x26, 0xb0,
	0xbd, 0xb7, 0xb7, 0x3c, 0x32, 0x1b, 0x01, 0x00,
	0xd4, 0xf0, 0x3b, 0x7f, 0x35, 0x58, 0x94, 0xcf,
	0x33, 0x2f, 0x83, 0x0e, 0x71, 0x0b, 0x97, 0xce,
	0x98, 0xc8, 0xa8, 0x4a, 0xbd, 0x0b, 0x94, 0x81,
	0x14, 0xad, 0x17, 0x6e, 0x00, 0x8d, 0x33, 0xbd,
	0x60, 0xf9, 0x82, 0xb1, 0xff, 0x37, 0xc8, 0x55,
	0x97, 0x97, 0xa0, 0x6e, 0xf4, 0xf0, 0xef, 0x61,
	0xc1, 0x86, 0x32, 0x4e, 0x2b, 0x35, 0x06, 0x38,
	0x36, 0x06, 0x90, 0x7b, 0x6a, 0x7c, 0x02, 0xb0,
	0xf9, 0xf6, 0x15, 0x7b, 0x53, 0xc8, 0x67, 0xe4,
	0xb9, 0x16, 0x6c, 0x76, 0x7b, 0x80, 0x4d, 0x46,
	0xa5, 0x9b, 0x52, 0x16, 0xcd, 0xe7, 0xa4, 0xe9,
	0x90, 0x40, 0xc5, 0xa4, 0x04, 0x33, 0x22, 0x5e,
	0xe2, 0x82, 0xa1, 0xb0, 0xa0, 0x6c, 0x52, 0x3e,
	0xaf, 0x45, 0x34, 0xd7, 0xf8, 0x3f, 0xa1, 0x15,
	0x5b, 0x00, 0x47, 0x71, 0x8c, 0xbc, 0x54, 0x6a,
	0x0d, 0x07, 0x2b, 0x04, 0xb3, 0x56, 0x4e, 0xea,
	0x1b, 0x42, 0x22, 0x73, 0xf5, 0x48, 0x27, 0x1a,
	0x0b, 0xb2, 0x31, 0x60, 0x53, 0xfa, 0x76, 0x99,
	0x19, 0x55, 0xeb, 0xd6, 0x31, 0x59, 0x43, 0x4e,
	0xce, 0xbb, 0x4e, 0x46, 0x6d, 0xae, 0x5a, 0x10,
	0x73, 0xa6, 0x72, 0x76, 0x27, 0x09, 0x7a, 0x10,
	0x49, 0xe6, 0x17, 0xd9, 0x1d, 0x36, 0x10, 0x94,
	0xfa, 0x68, 0xf0, 0xff, 0x77, 0x98, 0x71, 0x30,
	0x30, 0x5b, 0xea, 0xba, 0x2e, 0xda, 0x04, 0xdf,
	0x99, 0x7b, 0x71, 0x4d, 0x6c, 0x6f, 0x2c, 0x29,
	0xa6, 0xad, 0x5c, 0xb4, 0x02, 0x2b, 0x02, 0x70,
	0x9b, 0xee, 0xad, 0x9d, 0x67, 0x89, 0x0c, 0xbb,
	0x22, 0x39, 0x23, 0x36, 0xfe, 0xa1, 0x85, 0x1f,
	0x38,
};

/* libcrypto's allocations, counted (CRYPTO_set_mem_functions). */
static long	ta_allocs;

static void *
ta_malloc(size_t n, const char *file, int line)
{
	(void)file, (void)line;
	ta_allocs++;
	return malloc(n);
}

static void *
ta_realloc(void *p, size_t n, const char *file, int line)
{
	(void)file, (void)line;
	ta_allocs++;
	return realloc(p, n);
}

static void
ta_free(void *p, const char *file, int line)
{
	(void)file, (void)line;
	free(p);
}

static void
test_rfc8439(void)
{
	struct aead_key	*k = aead_key_new(ta_key);
	uint8_t		 buf[sizeof(ta_ct)], ad[sizeof(ta_ad)];
	size_t		 ptlen = sizeof(ta_pt) - 1;
	int		 lane;

	CHECK(ptlen == 265, "plaintext is %zu bytes", ptlen);
	for (lane = 0; lane < TA_LANES; lane++) {
		memcpy(buf, ta_pt, ptlen);
		ta_seal(k, lane, buf, ptlen, ta_ad, sizeof(ta_ad),
		    TA_COUNTER);
		CHECK_MEM(buf, ta_ct, sizeof(ta_ct), "A.5 sealed, lane %d",
		    lane);
		memcpy(buf, ta_ct, sizeof(ta_ct));
		CHECK(ta_open(k, lane, buf, sizeof(buf), ta_ad,
		    sizeof(ta_ad), TA_COUNTER) == 0, "A.5 opens, lane %d",
		    lane);
		CHECK_MEM(buf, ta_pt, ptlen, "A.5 plaintext, lane %d", lane);
	}
	/* Another counter, another AD, a flipped bit: refused. */
	memcpy(buf, ta_ct, sizeof(ta_ct));
	CHECK(ta_open(k, 0, buf, sizeof(buf), ta_ad, sizeof(ta_ad),
	    TA_COUNTER + 1) == -1, "A.5 with another counter refused");
	memcpy(ad, ta_ad, sizeof(ad));
	ad[11] ^= 1;
	memcpy(buf, ta_ct, sizeof(ta_ct));
	CHECK(ta_open(k, 0, buf, sizeof(buf), ad, sizeof(ad),
	    TA_COUNTER) == -1, "A.5 with another AD refused");
	memcpy(buf, ta_ct, sizeof(ta_ct));
	buf[100] ^= 0x80;
	CHECK(ta_open(k, 0, buf, sizeof(buf), ta_ad, sizeof(ta_ad),
	    TA_COUNTER) == -1, "A.5 with a flipped ciphertext bit refused");
	memcpy(buf, ta_ct, sizeof(ta_ct));
	buf[sizeof(buf) - 1] ^= 1;
	CHECK(ta_open(k, 0, buf, sizeof(buf), ta_ad, sizeof(ta_ad),
	    TA_COUNTER) == -1, "A.5 with a flipped tag bit refused");
	/* Still good after the refusals (the context is reset per packet). */
	memcpy(buf, ta_ct, sizeof(ta_ct));
	CHECK(ta_open(k, 0, buf, sizeof(buf), ta_ad, sizeof(ta_ad),
	    TA_COUNTER) == 0, "A.5 opens after forgeries");
	CHECK(ERR_peek_error() == 0, "a forgery leaves an error queued");
	aead_key_free(k);
}

/*
 * Every size 0..2000, a fresh random key every 97 sizes, the counter
 * going through its edges: libsodium and libcrypto give the same bytes,
 * each opens what the other sealed, and a flipped bit is refused.
 */
static void
test_against_libsodium(void)
{
	static const uint64_t	 edges[] = {
		0, 1, 2, 0xffffffffULL, 0x100000000ULL, 0x100000001ULL,
		(1ULL << 60) - 1, 1ULL << 60, (1ULL << 63) - 1, 1ULL << 63,
		UINT64_MAX - 1, UINT64_MAX,
	};
	static uint8_t		 pt[TA_MAXLEN], ref[TA_MAXLEN + 16];
	static uint8_t		 buf[TA_MAXLEN + 16];
	struct aead_key		*k = NULL;
	uint8_t			 key[32];
	uint64_t		 counter;
	size_t			 len, i, bad = 0, badopen = 0, badforge = 0;
	size_t			 badsodium = 0, nedges = sizeof(edges) /
				    sizeof(edges[0]);
	int			 lane;

	for (len = 0; len <= TA_MAXLEN; len++) {
		if (len % 97 == 0) {
			aead_key_free(k);
			randombytes_buf(key, sizeof(key));
			k = aead_key_new(key);
		}
		if (len % 2 == 0)
			counter = edges[(len / 2) % nedges];
		else
			randombytes_buf(&counter, sizeof(counter));
		lane = (int)(len % TA_LANES);
		randombytes_buf(pt, len);

		wg_aead_encrypt(ref, pt, len, NULL, 0, counter, key);
		memcpy(buf, pt, len);
		ta_seal(k, lane, buf, len, NULL, 0, counter);
		if (memcmp(buf, ref, len + 16) != 0)
			bad++;
		/* libsodium opens ours... */
		if (wg_aead_decrypt(ref, buf, len + 16, NULL, 0, counter,
		    key) != 0 || memcmp(ref, pt, len) != 0)
			badsodium++;
		/* ...and we open libsodium's (sealed again: ref is spent). */
		wg_aead_encrypt(buf, pt, len, NULL, 0, counter, key);
		if (ta_open(k, (lane + 1) % TA_LANES, buf, len + 16, NULL,
		    0, counter) != 0 || memcmp(buf, pt, len) != 0)
			badopen++;
		/* A flipped bit anywhere, the tag included, is refused. */
		wg_aead_encrypt(buf, pt, len, NULL, 0, counter, key);
		i = len == 0 ? 0 : (size_t)randombytes_uniform(
		    (uint32_t)(len + 16));
		buf[i] ^= (uint8_t)(1U << (len % 8));
		if (ta_open(k, lane, buf, len + 16, NULL, 0, counter) == 0)
			badforge++;
	}
	aead_key_free(k);
	CHECK(bad == 0, "%zu of %d sizes sealed unlike libsodium", bad,
	    TA_MAXLEN + 1);
	CHECK(badsodium == 0, "libsodium refused %zu of ours", badsodium);
	CHECK(badopen == 0, "%zu of libsodium's refused", badopen);
	CHECK(badforge == 0, "%zu forgeries opened", badforge);
	CHECK(ERR_peek_error() == 0, "forgeries leave an error queued");
	sodium_memzero(key, sizeof(key));
}

/*
 * Around the end of aead.c's scratch (4096 bytes: the key block and the
 * text in one call below it, in two above) and far past it, with and
 * without additional data: as libsodium, and a flipped bit refused with
 * the buffer left as it was.
 */
static void
test_long(void)
{
	static const size_t	 sizes[] = {
		4031, 4032, 4033, 4095, 4096, 4097, 4098, 4160, 9000, 65000,
	};
	static uint8_t		 pt[65000], ref[65000 + 16], buf[65000 + 16];
	static uint8_t		 ad[37];
	struct aead_key		*k;
	uint8_t			 key[32];
	size_t			 s, adlen, bad = 0, badopen = 0, badforge = 0;
	size_t			 n = sizeof(sizes) / sizeof(sizes[0]);

	randombytes_buf(key, sizeof(key));
	randombytes_buf(ad, sizeof(ad));
	k = aead_key_new(key);
	for (s = 0; s < 2 * n; s++) {
		size_t	len = sizes[s % n];

		adlen = s < n ? 0 : sizeof(ad);
		randombytes_buf(pt, len);
		wg_aead_encrypt(ref, pt, len, adlen ? ad : NULL, adlen, s,
		    key);
		memcpy(buf, pt, len);
		ta_seal(k, (int)(s % TA_LANES), buf, len, ad, adlen, s);
		if (memcmp(buf, ref, len + 16) != 0)
			bad++;
		if (ta_open(k, (int)((s + 1) % TA_LANES), buf, len + 16, ad,
		    adlen, s) != 0 || memcmp(buf, pt, len) != 0)
			badopen++;
		memcpy(buf, ref, len + 16);
		buf[len / 2] ^= 4;
		if (ta_open(k, 0, buf, len + 16, ad, adlen, s) == 0 ||
		    buf[len / 2] != (ref[len / 2] ^ 4) ||
		    memcmp(buf + len, ref + len, 16) != 0)
			badforge++;
	}
	aead_key_free(k);
	CHECK(bad == 0, "long packets: %zu of %zu sealed unlike libsodium",
	    bad, 2 * n);
	CHECK(badopen == 0, "long packets: %zu not opened", badopen);
	CHECK(badforge == 0, "long packets: %zu forgeries opened or the "
	    "buffer changed", badforge);
	sodium_memzero(key, sizeof(key));
}

/* Too short to hold a tag; and two lanes of one key do not meet. */
static void
test_edges(void)
{
	static const uint8_t	 key[32] = { 1, 2, 3 };
	struct aead_key		*k = aead_key_new(key);
	uint8_t			 a[64 + 16], b[64 + 16], ref[64 + 16];
	size_t			 len;

	for (len = 0; len < 16; len++) {
		memset(a, 0, sizeof(a));
		CHECK(ta_open(k, 0, a, len, NULL, 0, 0) == -1,
		    "%zu bytes opened", len);
	}
	/* Interleaved on two lanes: each packet as if alone. */
	memset(a, 0xaa, 64);
	memset(b, 0xbb, 64);
	CHECK(aead_lanes() == TA_LANES, "%d lanes", aead_lanes());
	ta_seal(k, 1, a, 32, NULL, 0, 7);
	ta_seal(k, 2, b, 64, NULL, 0, 8);
	memset(ref, 0xaa, 64);
	wg_aead_encrypt(ref, ref, 32, NULL, 0, 7, key);
	CHECK_MEM(a, ref, 48, "lane 1 beside lane 2");
	memset(ref, 0xbb, 64);
	wg_aead_encrypt(ref, ref, 64, NULL, 0, 8, key);
	CHECK_MEM(b, ref, 80, "lane 2 beside lane 1");
	aead_key_free(k);
	aead_key_free(NULL);
}

/* Per packet libcrypto allocates nothing: only the key did. */
static void
test_no_allocation(void)
{
	static const uint8_t	 key[32] = { 9 };
	struct aead_key		*k;
	uint8_t			 buf[1420 + 16];
	long			 before;
	int			 i, bad = 0;

	before = ta_allocs;
	k = aead_key_new(key);
	CHECK(ta_allocs > before, "libcrypto's allocations are not counted");
	before = ta_allocs;
	memset(buf, 0, sizeof(buf));
	for (i = 0; i < 1000; i++) {
		ta_seal(k, i % TA_LANES, buf, 1420, NULL, 0, (uint64_t)i);
		if (ta_open(k, i % TA_LANES, buf, sizeof(buf), NULL, 0,
		    (uint64_t)i) != 0)
			bad++;
		buf[0] ^= 1;
		if (ta_open(k, i % TA_LANES, buf, sizeof(buf), NULL, 0,
		    (uint64_t)i) == 0)
			bad++;
	}
	CHECK(bad == 0, "%d of 1000 round trips wrong", bad);
	CHECK(ta_allocs == before, "%ld allocations in 3000 packets",
	    ta_allocs - before);
	aead_key_free(k);
}

/*
 * The two paths on one key interleave: libcrypto seals, the compact path
 * opens, and the other way round, over the sizes a lone packet has.
 */
static void
test_mixed(void)
{
	static const uint8_t	 key[32] = { 5, 4, 3 };
	struct aead_key		*k = aead_key_new(key);
	uint8_t			 pt[600], buf[600 + 16];
	size_t			 len;
	int			 bad = 0;

	for (len = 0; len <= 600; len++) {
		randombytes_buf(pt, len);
		memcpy(buf, pt, len);
		aead_seal(k, (int)(len % TA_LANES), buf, len, NULL, 0, len);
		if (aead_open_compact(k, buf, len + 16, NULL, 0, len) != 0 ||
		    memcmp(buf, pt, len) != 0)
			bad++;
		aead_seal_compact(k, buf, len, NULL, 0, ~(uint64_t)len);
		if (aead_open(k, 0, buf, len + 16, NULL, 0,
		    ~(uint64_t)len) != 0 || memcmp(buf, pt, len) != 0)
			bad++;
	}
	CHECK(bad == 0, "%d of 1202 mixed round trips wrong", bad);
	aead_key_free(k);
}

int
main(void)
{
	/* Before libcrypto allocates anything. */
	CHECK(CRYPTO_set_mem_functions(ta_malloc, ta_realloc, ta_free) == 1,
	    "CRYPTO_set_mem_functions");
	wg_crypto_init();
	aead_init(TA_LANES);
	for (ta_compact = 0; ta_compact < 2; ta_compact++) {
		test_rfc8439();
		test_against_libsodium();
		test_long();
		test_edges();
	}
	ta_compact = 0;
	test_no_allocation();
	test_mixed();
	return test_done();
}
