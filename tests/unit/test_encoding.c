/*
 * test_encoding.c: key base64/hex round trips, agreement with
 * libsodium's encoders, and rejection of every malformed form.
 */
#include <stdint.h>
#include <string.h>

#include <sodium.h>

#include "encoding.h"
#include "test.h"

static const char b64_alpha[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void
test_known(void)
{
	uint8_t	key[32], back[32];
	char	b64[WG_KEY_B64_LEN], hex[WG_KEY_HEX_LEN];
	size_t	i;

	memset(key, 0, 32);
	key_to_base64(b64, key);
	CHECK(strcmp(b64, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=") == 0,
	    "zero key base64");
	memset(key, 0xff, 32);
	key_to_base64(b64, key);
	CHECK(strcmp(b64, "//////////////////////////////////////////8=") == 0,
	    "ff key base64: %s", b64);
	for (i = 0; i < 32; i++)
		key[i] = (uint8_t)i;
	key_to_hex(hex, key);
	CHECK(strcmp(hex, "000102030405060708090a0b0c0d0e0f"
	    "101112131415161718191a1b1c1d1e1f") == 0, "hex 00..1f");
	CHECK(key_from_hex(back, "000102030405060708090A0B0C0D0E0F"
	    "101112131415161718191A1B1C1D1E1F") == 0 &&
	    memcmp(back, key, 32) == 0, "upper-case hex accepted");
	/* Every alphabet character appears in some position: decode a
	 * string that walks the whole alphabet, compare with libsodium. */
	{
		char		s[WG_KEY_B64_LEN];
		uint8_t		ref[32];
		size_t		rlen;

		for (i = 0; i < 43; i++)
			s[i] = b64_alpha[(i * 3) % 64];
		s[42] = 'A';
		s[43] = '=';
		s[44] = '\0';
		CHECK(sodium_base642bin(ref, 32, s, 44, NULL, &rlen, NULL,
		    sodium_base64_VARIANT_ORIGINAL) == 0 && rlen == 32,
		    "libsodium decodes");
		CHECK(key_from_base64(back, s) == 0 &&
		    memcmp(back, ref, 32) == 0, "decode agrees with libsodium");
	}
}

static void
test_random(void)
{
	uint8_t	key[32], back[32];
	char	b64[WG_KEY_B64_LEN], ref[WG_KEY_B64_LEN];
	char	hex[WG_KEY_HEX_LEN], rhex[WG_KEY_HEX_LEN];
	int	i, ok = 1;

	for (i = 0; i < 2000; i++) {
		randombytes_buf(key, 32);
		key_to_base64(b64, key);
		sodium_bin2base64(ref, sizeof(ref), key, 32,
		    sodium_base64_VARIANT_ORIGINAL);
		if (strcmp(b64, ref) != 0)
			ok = 0;
		memset(back, 0, 32);
		if (key_from_base64(back, b64) != 0 ||
		    memcmp(back, key, 32) != 0)
			ok = 0;
		key_to_hex(hex, key);
		sodium_bin2hex(rhex, sizeof(rhex), key, 32);
		if (strcmp(hex, rhex) != 0)
			ok = 0;
		memset(back, 0, 32);
		if (key_from_hex(back, hex) != 0 ||
		    memcmp(back, key, 32) != 0)
			ok = 0;
	}
	CHECK(ok, "2000 random keys: encoders match libsodium, round trip");
}

static void
test_reject_b64(void)
{
	uint8_t	key[32], out[32], sentinel[32];
	char	good[WG_KEY_B64_LEN], s[64];
	size_t	i;
	int	c, ok;

	randombytes_buf(key, 32);
	key_to_base64(good, key);
	memset(sentinel, 0x5a, 32);

	CHECK(key_from_base64(out, "") == -1, "empty");
	memcpy(s, good, 43);
	s[43] = '\0';
	CHECK(key_from_base64(out, s) == -1, "43 chars");
	memcpy(s, good, 44);
	s[44] = '=';
	s[45] = '\0';
	CHECK(key_from_base64(out, s) == -1, "45 chars");
	memcpy(s, good, 45);
	s[43] = 'A';
	CHECK(key_from_base64(out, s) == -1, "no padding");

	/* A bad character in each position leaves the output untouched. */
	ok = 1;
	for (i = 0; i < 43; i++) {
		const char bad[] = { '=', '-', '_', ' ', '.', '@', '[', '`',
		    '{', '\x80', '\xff' };
		size_t j;

		for (j = 0; j < sizeof(bad); j++) {
			memcpy(s, good, 45);
			s[i] = bad[j];
			memcpy(out, sentinel, 32);
			if (key_from_base64(out, s) != -1 ||
			    memcmp(out, sentinel, 32) != 0)
				ok = 0;
		}
	}
	CHECK(ok, "bad character in every position rejected");

	/* Non-canonical last character: low two bits set. */
	ok = 1;
	for (c = 0; c < 64; c++) {
		memcpy(s, good, 45);
		s[42] = b64_alpha[c];
		if ((key_from_base64(out, s) == 0) != ((c & 3) == 0))
			ok = 0;
	}
	CHECK(ok, "last character must have its low two bits clear");
	CHECK(key_from_base64(out, NULL) == -1, "NULL");
}

static void
test_reject_hex(void)
{
	uint8_t	key[32], out[32];
	char	good[WG_KEY_HEX_LEN], s[80];
	size_t	i;
	int	ok = 1;

	randombytes_buf(key, 32);
	key_to_hex(good, key);
	memcpy(s, good, 63);
	s[63] = '\0';
	CHECK(key_from_hex(out, s) == -1, "63 hex chars");
	memcpy(s, good, 64);
	s[64] = '0';
	s[65] = '\0';
	CHECK(key_from_hex(out, s) == -1, "65 hex chars");
	for (i = 0; i < 64; i++) {
		const char bad[] = { 'g', 'G', ' ', '/', ':', '@', '`', 'x' };
		size_t j;

		for (j = 0; j < sizeof(bad); j++) {
			memcpy(s, good, 65);
			s[i] = bad[j];
			if (key_from_hex(out, s) != -1)
				ok = 0;
		}
	}
	CHECK(ok, "bad hex character in every position rejected");
	CHECK(key_from_hex(out, NULL) == -1, "NULL hex");
}

int
main(void)
{
	if (sodium_init() < 0)
		return 1;
	test_known();
	test_random();
	test_reject_b64();
	test_reject_hex();
	return test_done();
}
