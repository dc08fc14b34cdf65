/*
 * test_blake2s.c: BLAKE2s against RFC 7693 (the "abc" vector and the
 * Appendix E self-test), the reference keyed known answers, incremental
 * hashing over random splits, and WireGuard's initial chaining key.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crypto.h"
#include "test.h"

static void
unhex(uint8_t *out, const char *hex, size_t len)
{
	size_t	bin_len;

	if (sodium_hex2bin(out, len, hex, strlen(hex), NULL, &bin_len,
	    NULL) != 0 || bin_len != len) {
		fprintf(stderr, "bad hex constant %s\n", hex);
		abort();
	}
}

/* RFC 7693 Appendix E: a Fibonacci-like deterministic byte sequence. */
static void
selftest_seq(uint8_t *out, size_t len, uint32_t seed)
{
	uint32_t	a, b, t;
	size_t		i;

	a = 0xdead4badU * seed;
	b = 1;
	for (i = 0; i < len; i++) {
		t = a + b;
		a = b;
		b = t;
		out[i] = (t >> 24) & 0xff;
	}
}

/* The RFC's self-test: a hash over unkeyed and keyed hashes of many
 * lengths, checked against the grand hash printed in the RFC. */
static void
test_rfc7693_selftest(void)
{
	static const uint8_t	res[32] = {
		0x6a, 0x41, 0x1f, 0x08, 0xce, 0x25, 0xad, 0xcd,
		0xfb, 0x02, 0xab, 0xa6, 0x41, 0x45, 0x1c, 0xec,
		0x53, 0xc5, 0x98, 0xb2, 0x4f, 0x4f, 0xc7, 0x87,
		0xfb, 0xdc, 0x88, 0x79, 0x7f, 0x4c, 0x1d, 0xfe
	};
	static const size_t	md_len[4] = { 16, 20, 28, 32 };
	static const size_t	in_len[6] = { 0, 3, 64, 65, 255, 1024 };
	struct blake2s_state	ctx;
	uint8_t			in[1024], md[32], key[32];
	size_t			i, j, outlen, inlen;

	blake2s_init(&ctx, 32);
	for (i = 0; i < 4; i++) {
		outlen = md_len[i];
		for (j = 0; j < 6; j++) {
			inlen = in_len[j];
			selftest_seq(in, inlen, (uint32_t)inlen);
			blake2s(md, outlen, in, inlen, NULL, 0);
			blake2s_update(&ctx, md, outlen);

			selftest_seq(key, outlen, (uint32_t)outlen);
			blake2s(md, outlen, in, inlen, key, outlen);
			blake2s_update(&ctx, md, outlen);
		}
	}
	blake2s_final(&ctx, md);
	CHECK_MEM(md, res, 32, "RFC 7693 Appendix E grand hash");
}

static void
test_abc(void)
{
	uint8_t	out[32], want[32];

	unhex(want, "508c5e8c327c14e2e1a72ba34eeb452f"
	    "37458b209ed63a294d999b4c86675982", 32);
	blake2s(out, 32, (const uint8_t *)"abc", 3, NULL, 0);
	CHECK_MEM(out, want, 32, "BLAKE2s-256(\"abc\")");
}

/* Keyed known answers (key 00..1f, input 00..n-1), as in the BLAKE2
 * reference's blake2s-kat.txt; cross-checked with Python's hashlib. */
static void
test_keyed_kat(void)
{
	static const struct {
		size_t		 n;
		const char	*hex;
	} kat[] = {
		{ 0, "48a8997da407876b3d79c0d92325ad3b"
		    "89cbb754d86ab71aee047ad345fd2c49" },
		{ 1, "40d15fee7c328830166ac3f918650f80"
		    "7e7e01e177258cdc0a39b11f598066f1" },
		{ 63, "c65382513f07460da39833cb666c5ed8"
		    "2e61b9e998f4b0c4287cee56c3cc9bcd" },
		{ 64, "8975b0577fd35566d750b362b0897a26"
		    "c399136df07bababbde6203ff2954ed4" },
		{ 65, "21fe0ceb0052be7fb0f004187cacd7de"
		    "67fa6eb0938d927677f2398c132317a8" },
		{ 255, "3fb735061abc519dfe979e54c1ee5bfa"
		    "d0a9d858b3315bad34bde999efd724dd" },
	};
	uint8_t	key[32], in[256], out[32], want[32];
	size_t	i;

	for (i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)i;
	for (i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)i;
	for (i = 0; i < sizeof(kat) / sizeof(kat[0]); i++) {
		unhex(want, kat[i].hex, 32);
		blake2s(out, 32, in, kat[i].n, key, 32);
		CHECK_MEM(out, want, 32, "keyed KAT n=%zu", kat[i].n);
	}
}

static void
test_incremental(void)
{
	struct blake2s_state	s;
	uint8_t			in[1000], key[32], one[32], inc[32];
	size_t			len, off, n;
	int			iter, keyed, ok = 1;

	randombytes_buf(in, sizeof(in));
	randombytes_buf(key, sizeof(key));
	for (iter = 0; iter < 500; iter++) {
		len = randombytes_uniform(sizeof(in) + 1);
		keyed = iter & 1;
		blake2s(one, 32, in, len, keyed ? key : NULL, keyed ? 32 : 0);
		blake2s_init_key(&s, 32, keyed ? key : NULL, keyed ? 32 : 0);
		for (off = 0; off < len; off += n) {
			n = randombytes_uniform(130);
			if (n > len - off)
				n = len - off;
			blake2s_update(&s, in + off, n);
		}
		blake2s_final(&s, inc);
		if (memcmp(one, inc, 32) != 0)
			ok = 0;
	}
	CHECK(ok, "incremental == one-shot over 500 random splits");

	/* Byte by byte across exact block boundaries. */
	for (len = 62; len <= 130; len++) {
		blake2s(one, 32, in, len, NULL, 0);
		blake2s_init(&s, 32);
		for (off = 0; off < len; off++)
			blake2s_update(&s, in + off, 1);
		blake2s_final(&s, inc);
		CHECK_MEM(one, inc, 32, "byte-wise len %zu", len);
	}
}

static void
test_wireguard_constants(void)
{
	static const char	construction[] =
	    "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s";
	static const char	identifier[] =
	    "WireGuard v1 zx2c4 Jason@zx2c4.com";
	struct blake2s_state	s;
	uint8_t			ck[32], h[32], want[32];

	blake2s(ck, 32, (const uint8_t *)construction,
	    strlen(construction), NULL, 0);
	unhex(want, "60e26daef327efc02ec335e2a025d2d0"
	    "16eb4206f87277f52d38d1988b78cd36", 32);
	CHECK_MEM(ck, want, 32, "initial chaining key");

	blake2s_init(&s, 32);
	blake2s_update(&s, ck, 32);
	blake2s_update(&s, (const uint8_t *)identifier, strlen(identifier));
	blake2s_final(&s, h);
	unhex(want, "2211b361081ac566691243db458ad532"
	    "2d9c6c662293e8b70ee19c65ba079ef3", 32);
	CHECK_MEM(h, want, 32, "initial hash");
}

int
main(void)
{
	if (sodium_init() < 0)
		return 1;
	test_rfc7693_selftest();
	test_abc();
	test_keyed_kat();
	test_incremental();
	test_wireguard_constants();
	return test_done();
}
