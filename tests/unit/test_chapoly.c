/*
 * test_chapoly.c: common/chapoly.c's scalar ChaCha20 and Poly1305 on
 * their own, against libsodium's (crypto_stream_chacha20_ietf_xor_ic,
 * crypto_onetimeauth_poly1305) and RFC 8439's vectors: every length
 * 0..1100 with random keys, nonces and counters; Poly1305 on the inputs
 * that reach the edges of its arithmetic (RFC 8439 appendix A.3's
 * vectors 5-11, where the accumulator is at or just past 2^130 - 5 at
 * the end; r and s at their largest; every message byte 0xff); the
 * AEAD with additional data of every length 0..70 and forgeries
 * refused with the buffer left as it was; no block counter past
 * 2^32 - 1. test_aead.c covers the AEAD through aead.h's compact path.
 */
#include <sys/resource.h>
#include <sys/wait.h>

#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "chapoly.h"
#include "test.h"

#define TC_MAXLEN	1100

/* RFC 8439 2.4.2: ChaCha20, block counter 1. */
static void
test_chacha20_rfc(void)
{
	static const uint8_t	nonce[12] = {
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x4a,
		0x00, 0x00, 0x00, 0x00,
	};
	static const char	pt[] = "Ladies and Gentlemen of the class of "
	    "'99: If I could offer you only one tip for the future, "
	    "sunscreen would be it.";
	static const uint8_t	ct_head[16] = {
		0x6e, 0x2e, 0x35, 0x9a, 0x25, 0x68, 0xf9, 0x80,
		0x41, 0xba, 0x07, 0x28, 0xdd, 0x0d, 0x69, 0x81,
	};
	static const uint8_t	ct_tail[2] = { 0x87, 0x4d };
	uint8_t			key[32], buf[sizeof(pt) - 1];
	int			i;

	for (i = 0; i < 32; i++)
		key[i] = (uint8_t)i;
	memcpy(buf, pt, sizeof(buf));
	chapoly_chacha20(buf, sizeof(buf), key, nonce, 1);
	CHECK_MEM(buf, ct_head, sizeof(ct_head), "RFC 8439 2.4.2, first "
	    "16 bytes");
	CHECK_MEM(buf + sizeof(buf) - 2, ct_tail, 2, "RFC 8439 2.4.2, last "
	    "2 bytes");
	chapoly_chacha20(buf, sizeof(buf), key, nonce, 1);
	CHECK_MEM(buf, pt, sizeof(buf), "ChaCha20 twice is the identity");
}

/* RFC 8439 2.5.2: Poly1305. */
static void
test_poly1305_rfc(void)
{
	static const uint8_t	key[32] = {
		0x85, 0xd6, 0xbe, 0x78, 0x57, 0x55, 0x6d, 0x33,
		0x7f, 0x44, 0x52, 0xfe, 0x42, 0xd5, 0x06, 0xa8,
		0x01, 0x03, 0x80, 0x8a, 0xfb, 0x0d, 0xb2, 0xfd,
		0x4a, 0xbf, 0xf6, 0xaf, 0x41, 0x49, 0xf5, 0x1b,
	};
	static const uint8_t	want[16] = {
		0xa8, 0x06, 0x1d, 0xc1, 0x30, 0x51, 0x36, 0xc6,
		0xc2, 0x2b, 0x8b, 0xaf, 0x0c, 0x01, 0x27, 0xa9,
	};
	static const char	msg[] = "Cryptographic Forum Research Group";
	uint8_t			tag[16];

	chapoly_poly1305(tag, (const uint8_t *)msg, sizeof(msg) - 1, key);
	CHECK_MEM(tag, want, sizeof(want), "RFC 8439 2.5.2");
}

/* ChaCha20 at every length, random nonces, counters low and high. */
static void
test_chacha20_sodium(void)
{
	static uint8_t	a[TC_MAXLEN], b[TC_MAXLEN];
	uint8_t		key[32], nonce[12];
	uint32_t	ctr;
	size_t		len, bad = 0;

	for (len = 0; len <= TC_MAXLEN; len++) {
		randombytes_buf(key, sizeof(key));
		randombytes_buf(nonce, sizeof(nonce));
		/* Far enough from 2^32 for the length: no wrap. */
		ctr = len % 3 == 0 ? 0 : len % 3 == 1 ? 1 :
		    randombytes_uniform(0xffffff00U - 64);
		randombytes_buf(a, len);
		memcpy(b, a, len);
		chapoly_chacha20(a, len, key, nonce, ctr);
		crypto_stream_chacha20_ietf_xor_ic(b, b, len, nonce, ctr, key);
		if (memcmp(a, b, len) != 0)
			bad++;
	}
	CHECK(bad == 0, "ChaCha20 unlike libsodium at %zu of %d lengths", bad,
	    TC_MAXLEN + 1);
}

static int
tc_poly_same(const uint8_t *m, size_t len, const uint8_t key[32])
{
	uint8_t	a[16], b[16];

	chapoly_poly1305(a, m, len, key);
	crypto_onetimeauth_poly1305(b, m, len, key);
	return memcmp(a, b, sizeof(a)) == 0;
}

/* Poly1305 at every length, random, and where its arithmetic is tight. */
static void
test_poly1305_sodium(void)
{
	static uint8_t	m[TC_MAXLEN];
	uint8_t		key[32];
	size_t		len, bad = 0, badff = 0;
	int		k;

	for (len = 0; len <= TC_MAXLEN; len++) {
		randombytes_buf(key, sizeof(key));
		randombytes_buf(m, len);
		if (!tc_poly_same(m, len, key))
			bad++;
	}
	CHECK(bad == 0, "Poly1305 unlike libsodium at %zu of %d lengths", bad,
	    TC_MAXLEN + 1);

	/*
	 * Every byte 0xff, with keys whose r (clamped) and s are the
	 * largest, zero, and random: the accumulator's limbs at their
	 * largest at every step, the final + s carrying out of 2^128.
	 */
	memset(m, 0xff, sizeof(m));
	for (k = 0; k < 4; k++)
		for (len = 0; len <= 300; len++) {
			memset(key, k == 0 || k == 2 ? 0xff : 0x00, 16);
			memset(key + 16, k < 2 ? 0xff : 0x00, 16);
			if (k == 3)
				randombytes_buf(key, 16);
			if (!tc_poly_same(m, len, key))
				badff++;
		}
	CHECK(badff == 0, "Poly1305 unlike libsodium for %zu all-0xff "
	    "messages", badff);
}

/*
 * RFC 8439 appendix A.3, vectors 5-11: a final accumulator equal to,
 * just above or just below 2^130 - 5, carries through every limb. The
 * expected tags are the RFC's; libsodium agrees.
 */
static void
test_poly1305_edges(void)
{
	static const struct {
		uint8_t	r0, r8;		/* r's byte 0 and byte 8 */
		uint8_t	s;		/* every byte of s */
		uint8_t	msg[64];
		size_t	len;
		uint8_t	tag0, tag8;	/* the tag's byte 0 and 8; rest */
		uint8_t	rest;		/* ...its other bytes */
	} v[] = {
		/* 5: 2^130 - 5 + (2^128 - 1) * 2 mod p */
		{ 2, 0, 0x00, { [0 ... 15] = 0xff }, 16, 3, 0, 0x00 },
		/* 6: s = 2^128 - 1 */
		{ 2, 0, 0xff, { 2 }, 16, 3, 0, 0x00 },
		/* 7 */
		{ 1, 0, 0x00, { [0 ... 15] = 0xff, 0xf0, [17 ... 31] = 0xff,
		    0x11 }, 48, 5, 0, 0x00 },
		/* 8 */
		{ 1, 0, 0x00, { [0 ... 15] = 0xff, 0xfb, [17 ... 31] = 0xfe,
		    [32 ... 47] = 0x01 }, 48, 0, 0, 0x00 },
		/* 9 */
		{ 2, 0, 0x00, { 0xfd, [1 ... 15] = 0xff }, 16, 0xfa, 0xff,
		    0xff },
		/* 10 */
		{ 1, 4, 0x00, { 0xe3, 0x35, 0x94, 0xd7, 0x50, 0x5e, 0x43,
		    0xb9, [16] = 0x33, 0x94, 0xd7, 0x50, 0x5e, 0x43, 0x79,
		    0xcd, 0x01, [48] = 0x01 }, 64, 0x14, 0x55, 0x00 },
		/* 11: vector 10's first 48 bytes */
		{ 1, 4, 0x00, { 0xe3, 0x35, 0x94, 0xd7, 0x50, 0x5e, 0x43,
		    0xb9, [16] = 0x33, 0x94, 0xd7, 0x50, 0x5e, 0x43, 0x79,
		    0xcd, 0x01 }, 48, 0x13, 0x00, 0x00 },
	};
	uint8_t		key[32], tag[16], want[16], ref[16];
	size_t		i;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		memset(key, 0, 16);
		key[0] = v[i].r0;
		key[8] = v[i].r8;
		memset(key + 16, v[i].s, 16);
		memset(want, v[i].rest, sizeof(want));
		want[0] = v[i].tag0;
		want[8] = v[i].tag8;
		chapoly_poly1305(tag, v[i].msg, v[i].len, key);
		crypto_onetimeauth_poly1305(ref, v[i].msg, v[i].len, key);
		CHECK_MEM(tag, want, sizeof(want), "RFC 8439 A.3 vector %zu",
		    i + 5);
		CHECK_MEM(ref, want, sizeof(want), "libsodium on RFC 8439 A.3 "
		    "vector %zu", i + 5);
	}
}

/* The AEAD with additional data of every length; forgeries refused. */
static void
test_aead_ad(void)
{
	static uint8_t	pt[200], buf[200 + 16], ref[200 + 16], ad[70];
	uint8_t		key[32], nonce[12];
	unsigned long long rlen;
	size_t		adlen, len, i, bad = 0, badopen = 0, badforge = 0;
	size_t		badleft = 0;

	for (adlen = 0; adlen <= sizeof(ad); adlen++) {
		randombytes_buf(key, sizeof(key));
		randombytes_buf(nonce, sizeof(nonce));
		randombytes_buf(ad, adlen);
		len = randombytes_uniform(sizeof(pt) + 1);
		randombytes_buf(pt, len);
		memcpy(buf, pt, len);
		chapoly_seal(buf, len, adlen > 0 ? ad : NULL, adlen, nonce,
		    key);
		crypto_aead_chacha20poly1305_ietf_encrypt(ref, &rlen, pt, len,
		    ad, adlen, NULL, nonce, key);
		if (rlen != len + 16 || memcmp(buf, ref, len + 16) != 0)
			bad++;
		if (chapoly_open(buf, len + 16, ad, adlen, nonce, key) != 0 ||
		    memcmp(buf, pt, len) != 0)
			badopen++;
		/* A flipped bit in the text, the tag or the data. */
		memcpy(buf, ref, len + 16);
		i = randombytes_uniform((uint32_t)(len + 16 + adlen));
		if (i < len + 16)
			buf[i] ^= 0x80;
		else
			ad[i - len - 16] ^= 0x01;
		if (chapoly_open(buf, len + 16, ad, adlen, nonce, key) == 0)
			badforge++;
		if (i < len + 16)
			buf[i] ^= 0x80;
		if (memcmp(buf, ref, len + 16) != 0)
			badleft++;
	}
	CHECK(bad == 0, "%zu seals unlike libsodium with additional data",
	    bad);
	CHECK(badopen == 0, "%zu own seals not opened", badopen);
	CHECK(badforge == 0, "%zu forgeries opened", badforge);
	CHECK(badleft == 0, "%zu forgeries changed the buffer", badleft);
	/* Shorter than a tag: refused, untouched. */
	memset(buf, 0x5a, 16);
	for (len = 0; len < 16; len++)
		CHECK(chapoly_open(buf, len, NULL, 0, nonce, key) == -1 &&
		    buf[0] == 0x5a, "open of %zu bytes refused", len);
	sodium_memzero(key, sizeof(key));
}

/*
 * What tc_limit's child did: its exit status, or 128 + the signal that
 * ended it.
 */
static int
tc_child(int what)
{
	static uint8_t		buf[128];
	const uint8_t		key[32] = { 1 }, nonce[12] = { 2 };
	const struct rlimit	nocore = { 0, 0 };
	int			status;
	pid_t			pid;

	if ((pid = fork()) == -1)
		exit(2);
	if (pid == 0) {
		setrlimit(RLIMIT_CORE, &nocore);
		switch (what) {
		case 0:
			chapoly_chacha20(buf, 64, key, nonce, 0xffffffffU);
			break;
		case 1:
			chapoly_chacha20(buf, 65, key, nonce, 0xffffffffU);
			break;
		case 2:
			chapoly_chacha20(buf, 64 * 2 + 1, key, nonce,
			    0xfffffffeU);
			break;
		case 3:
			chapoly_seal(buf, CHAPOLY_MAX_LEN + 1, NULL, 0, nonce,
			    key);
			break;
		case 4:
			/* Refused before a byte of it is read. */
			_exit(chapoly_open(buf, CHAPOLY_MAX_LEN + 17, NULL,
			    0, nonce, key) == -1 ? 0 : 1);
		}
		_exit(0);
	}
	if (waitpid(pid, &status, 0) == -1)
		exit(2);
	return WIFSIGNALED(status) ? 128 + WTERMSIG(status) :
	    WEXITSTATUS(status);
}

/*
 * No block counter past 2^32 - 1 (RFC 8439 2.4): it would wrap to 0,
 * whose keystream in the AEAD is the Poly1305 key's block. ChaCha20 and
 * seal abort there (as libsodium does); open refuses.
 */
static void
test_counter_limit(void)
{
	CHECK(tc_child(0) == 0, "ChaCha20: the block at counter 2^32 - 1");
	CHECK(tc_child(1) == 128 + SIGABRT, "ChaCha20: a block past "
	    "counter 2^32 - 1 aborts");
	CHECK(tc_child(2) == 128 + SIGABRT, "ChaCha20: from 2^32 - 2, "
	    "three blocks abort");
	CHECK(tc_child(3) == 128 + SIGABRT, "seal of CHAPOLY_MAX_LEN + 1 "
	    "bytes aborts");
	CHECK(tc_child(4) == 0, "open of CHAPOLY_MAX_LEN + 1 bytes and a "
	    "tag refused");
}

int
main(void)
{
	if (sodium_init() < 0)
		return 1;
	test_chacha20_rfc();
	test_poly1305_rfc();
	test_chacha20_sodium();
	test_poly1305_sodium();
	test_poly1305_edges();
	test_aead_ad();
	test_counter_limit();
	return test_done();
}
