/*
 * test_openpgp.c: the OpenPGP card APDU layer (keyd/openpgp.c): command
 * bytes, answer parsing (0x40 prefix, all-zero refusal, retry counter),
 * the TLV parser on malformed and random input, and the command layer
 * against a canned card; KDF-DO (S2K known answers), status words to
 * VERIFY (6982, 6985, 6700, 6285), 6Cxx, C2 variants, PW3 reset.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "openpgp.h"
#include "sha1.h"
#include "test.h"

static void
test_build(void)
{
	uint8_t		apdu[OPGP_APDU_MAX], point[32];
	static const uint8_t sel[] = { 0x00, 0xa4, 0x04, 0x00, 0x06, 0xd2,
	    0x76, 0x00, 0x01, 0x24, 0x01, 0x00 };
	static const uint8_t dhdr[] = { 0x00, 0x2a, 0x80, 0x86, 0x27, 0xa6,
	    0x25, 0x7f, 0x49, 0x22, 0x86, 0x20 };
	static const uint8_t gen_read[] = { 0x00, 0x47, 0x81, 0x00, 0x02,
	    0xb8, 0x00, 0x00 };
	static const uint8_t put_c2[] = { 0x00, 0xda, 0x00, 0xc2, 0x0b, 0x12,
	    0x2b, 0x06, 0x01, 0x04, 0x01, 0x97, 0x55, 0x01, 0x05, 0x01 };
	size_t		n;
	int		i;

	n = opgp_build_select(apdu);
	CHECK(n == sizeof(sel) && memcmp(apdu, sel, n) == 0, "select");
	for (i = 0; i < 32; i++)
		point[i] = (uint8_t)(i + 1);
	n = opgp_build_decipher(apdu, point);
	CHECK(n == 45, "decipher length %zu", n);
	CHECK_MEM(apdu, dhdr, sizeof(dhdr), "decipher header");
	CHECK_MEM(apdu + 12, point, 32, "decipher point");
	CHECK(apdu[44] == 0x00, "decipher Le");
	n = opgp_build_generate(apdu, 0);
	CHECK(n == sizeof(gen_read) && memcmp(apdu, gen_read, n) == 0,
	    "generate read");
	n = opgp_build_generate(apdu, 1);
	CHECK(n == 8 && apdu[2] == 0x80, "generate");
	n = opgp_build_put_data(apdu, 0xc2, opgp_attr_cv25519,
	    sizeof(opgp_attr_cv25519));
	CHECK(n == sizeof(put_c2) && memcmp(apdu, put_c2, n) == 0, "put c2");
	n = opgp_build_verify(apdu, 0x82, (const uint8_t *)"123456", 6);
	CHECK(n == 11 && apdu[1] == 0x20 && apdu[3] == 0x82 && apdu[4] == 6 &&
	    memcmp(apdu + 5, "123456", 6) == 0, "verify");
	n = opgp_build_verify(apdu, 0x82, NULL, 0);
	CHECK(n == 4, "verify status (no data)");
	n = opgp_build_get_data(apdu, 0xc4);
	CHECK(n == 5 && apdu[1] == 0xca && apdu[2] == 0 && apdu[3] == 0xc4,
	    "get data c4");
	n = opgp_build_get_data(apdu, 0x7f49);
	CHECK(n == 5 && apdu[2] == 0x7f && apdu[3] == 0x49,
	    "get data two-byte tag");
}

static void
test_decipher_parse(void)
{
	uint8_t	resp[40], out[32];
	int	i;

	for (i = 0; i < 32; i++)
		resp[i] = (uint8_t)(0xa0 + i);
	resp[32] = 0x90;
	resp[33] = 0x00;
	CHECK(opgp_parse_decipher(resp, 34, out) == 0 &&
	    memcmp(out, resp, 32) == 0, "32-byte answer");
	/* 0x40 prefix. */
	memmove(resp + 1, resp, 34);
	resp[0] = 0x40;
	memset(out, 0, 32);
	CHECK(opgp_parse_decipher(resp, 35, out) == 0 &&
	    memcmp(out, resp + 1, 32) == 0, "33 bytes with 0x40");
	resp[0] = 0x41;
	CHECK(opgp_parse_decipher(resp, 35, out) == -EPROTO,
	    "33 bytes without 0x40");
	/* All zero. */
	memset(resp, 0, 32);
	resp[32] = 0x90;
	resp[33] = 0x00;
	CHECK(opgp_parse_decipher(resp, 34, out) == -EINVAL, "all zero");
	resp[0] = 0x40;
	memset(resp + 1, 0, 32);
	resp[33] = 0x90;
	resp[34] = 0x00;
	CHECK(opgp_parse_decipher(resp, 35, out) == -EINVAL,
	    "all zero with 0x40");
	/* Status words. */
	resp[0] = 0x69;
	resp[1] = 0x82;
	CHECK(opgp_parse_decipher(resp, 2, out) == -EACCES, "6982");
	resp[0] = 0x6a;
	resp[1] = 0x88;
	CHECK(opgp_parse_decipher(resp, 2, out) == -ENOKEY, "6a88");
	CHECK(opgp_parse_decipher(resp, 1, out) != 0, "one byte");
	CHECK(opgp_parse_decipher(resp, 0, out) != 0, "empty");
	resp[0] = 0x11;
	resp[1] = 0x90;
	resp[2] = 0x00;
	CHECK(opgp_parse_decipher(resp, 3, out) == -EPROTO, "short result");
}

static void
test_sw(void)
{
	int	retries = -1;

	CHECK(opgp_sw_errno(0x9000, &retries) == 0, "9000");
	CHECK(opgp_sw_errno(0x63c2, &retries) == -EACCES && retries == 2,
	    "63C2");
	CHECK(opgp_sw_errno(0x63c0, &retries) == -EPERM && retries == 0,
	    "63C0");
	retries = 5;
	CHECK(opgp_sw_errno(0x6983, &retries) == -EPERM && retries == 0,
	    "6983");
	CHECK(opgp_sw_errno(0x6a82, NULL) == -ENOENT, "6a82");
	CHECK(opgp_sw_errno(0x6f00, NULL) == -EIO, "6f00");
	CHECK(opgp_sw_errno(0x6285, NULL) == -ENOTRECOVERABLE,
	    "6285: terminated");
	CHECK(opgp_sw_errno(0x6a88, NULL) == -ENOKEY, "6a88");
	CHECK(opgp_sw_errno(0x6982, NULL) == -EACCES, "6982");
	CHECK(opgp_sw_errno(0x6d00, NULL) == -EOPNOTSUPP, "6d00");
	CHECK(opgp_strerror(-ENOTRECOVERABLE) != NULL &&
	    strstr(opgp_strerror(-ENOTRECOVERABLE), "card init") != NULL,
	    "6285's text says what to run");
}

static void
test_pw_status(void)
{
	static const uint8_t c4[] = { 0x00, 0x7f, 0x7f, 0x7f, 0x03, 0x00,
	    0x03 };
	int	pw1 = -1, pw3 = -1;

	CHECK(opgp_parse_pw_status(c4, sizeof(c4), &pw1, &pw3) == 0 &&
	    pw1 == 3 && pw3 == 3, "pw status");
	CHECK(opgp_parse_pw_status(c4, 6, &pw1, &pw3) == -EPROTO, "short");
	CHECK(opgp_parse_pw_status(NULL, 0, &pw1, &pw3) == -EPROTO, "null");
}

static void
test_tlv(void)
{
	/* 6E { 4F 02 aa bb, 73 { C2 0B <cv25519>, C4 07 ... } } */
	uint8_t		buf[64];
	const uint8_t	*v;
	size_t		vlen, n = 0;
	unsigned int	tag;
	const uint8_t	*p, *end;
	static const uint8_t bad1[] = { 0x4f, 0x05, 0x01 };
	static const uint8_t bad2[] = { 0x4f, 0x84, 0, 0, 0, 1, 0 };
	static const uint8_t bad3[] = { 0x7f };
	static const uint8_t bad4[] = { 0x5f, 0xff, 0xff, 0xff, 0x01, 0x00 };
	static const uint8_t bad5[] = { 0x4f, 0x82, 0x01 };
	static const uint8_t pad[] = { 0x00, 0xff, 0x00 };
	static const uint8_t longf[] = { 0xc2, 0x81, 0x02, 0xaa, 0xbb };

	buf[n++] = 0x6e;
	buf[n++] = 0;			/* length later */
	buf[n++] = 0x4f;
	buf[n++] = 0x02;
	buf[n++] = 0xaa;
	buf[n++] = 0xbb;
	buf[n++] = 0x73;
	buf[n++] = 2 + 11 + 2 + 7;
	buf[n++] = 0xc2;
	buf[n++] = 11;
	memcpy(buf + n, opgp_attr_cv25519, 11);
	n += 11;
	buf[n++] = 0xc4;
	buf[n++] = 7;
	memcpy(buf + n, "\x01\x7f\x7f\x7f\x02\x00\x03", 7);
	n += 7;
	buf[1] = (uint8_t)(n - 2);

	CHECK(opgp_tlv_find(buf, n, 0xc2, &v, &vlen) == 1 && vlen == 11 &&
	    opgp_attr_is_cv25519(v, vlen), "nested c2");
	CHECK(opgp_tlv_find(buf, n, 0x4f, &v, &vlen) == 1 && vlen == 2 &&
	    v[0] == 0xaa, "4f");
	CHECK(opgp_tlv_find(buf, n, 0xc5, &v, &vlen) == 0, "absent c5");
	CHECK(opgp_tlv_find(buf, n - 1, 0xc4, &v, &vlen) == -1,
	    "truncated");
	CHECK(opgp_tlv_find(bad1, sizeof(bad1), 0x4f, &v, &vlen) == -1,
	    "length past end");
	CHECK(opgp_tlv_find(bad2, sizeof(bad2), 0x4f, &v, &vlen) == -1,
	    "4-byte length");
	CHECK(opgp_tlv_find(bad3, sizeof(bad3), 0x7f49, &v, &vlen) == -1,
	    "cut tag");
	CHECK(opgp_tlv_find(bad4, sizeof(bad4), 0x5f, &v, &vlen) == -1,
	    "tag too long");
	CHECK(opgp_tlv_find(bad5, sizeof(bad5), 0x4f, &v, &vlen) == -1,
	    "cut long length");
	p = pad;
	end = pad + sizeof(pad);
	CHECK(opgp_tlv_next(&p, end, &tag, &v, &vlen) == 0, "padding");
	CHECK(opgp_tlv_find(longf, sizeof(longf), 0xc2, &v, &vlen) == 1 &&
	    vlen == 2 && v[1] == 0xbb, "81 length");
	CHECK(!opgp_attr_is_cv25519(opgp_attr_cv25519, 10), "short attr");
	CHECK(!opgp_attr_is_cv25519((const uint8_t *)"\x01\x08\x00\x00\x20"
	    "\x00", 6), "rsa attr");
}

/* C2 as tokens write it: trailing bytes, the OID of RFC 8410. */
static void
test_attr(void)
{
	uint8_t	a[16];

	memcpy(a, opgp_attr_cv25519, 11);
	CHECK(opgp_attr_is_cv25519(a, 11), "plain");
	a[11] = 0xff;
	CHECK(opgp_attr_is_cv25519(a, 12), "trailing FF (Nitrokey 3)");
	a[11] = 0x00;
	CHECK(opgp_attr_is_cv25519(a, 12), "trailing 00");
	a[11] = 0x5a;
	CHECK(opgp_attr_is_cv25519(a, 12), "trailing bogus byte (YubiKey)");
	CHECK(!opgp_attr_is_cv25519(a, 13), "two trailing bytes");
	memcpy(a, "\x12\x2b\x65\x6e\xff", 5);
	CHECK(opgp_attr_is_cv25519(a, 4), "OID 1.3.101.110");
	CHECK(opgp_attr_is_cv25519(a, 5), "OID 1.3.101.110 + trailing");
	a[3] = 0x70;	/* 1.3.101.112: Ed25519, not X25519 */
	CHECK(!opgp_attr_is_cv25519(a, 4), "Ed25519 OID");
	a[3] = 0x6e;
	a[0] = 0x16;	/* EdDSA */
	CHECK(!opgp_attr_is_cv25519(a, 4), "EdDSA algorithm");
	memcpy(a, opgp_attr_cv25519, 11);
	a[0] = 0x16;
	CHECK(!opgp_attr_is_cv25519(a, 11), "EdDSA with the GnuPG OID");
}

/* card init's reading: GET VERSION, FA, C0 and DE in 6E, F9's layout. */
static void
test_card_init_parse(void)
{
	static const uint8_t	ver[] = { 0x05, 0x02, 0x07, 0x90, 0x00 };
	static const uint8_t	badver[] = { 0x05, 0x0a, 0x07, 0x90, 0x00 };
	/* FA: C1 RSA 2048, C2 RSA 2048 and cv25519, C3 ed25519. */
	static const uint8_t	fa[] = {
		0xfa, 0x29,
		0xc1, 0x06, 0x01, 0x08, 0x00, 0x00, 0x20, 0x00,
		0xc2, 0x06, 0x01, 0x08, 0x00, 0x00, 0x20, 0x00,
		0xc2, 0x0b, 0x12, 0x2b, 0x06, 0x01, 0x04, 0x01, 0x97, 0x55,
		0x01, 0x05, 0x01,
		0xc3, 0x0a, 0x16, 0x2b, 0x06, 0x01, 0x04, 0x01, 0xda, 0x47,
		0x0f, 0x01,
	};
	/* 6E with C0 (KDF bit) and DE (decryption key generated). */
	static const uint8_t	app[] = {
		0x73, 0x10,
		0xc0, 0x0a, 0x7d, 0, 0, 0xff, 0, 0, 0, 0xff, 0, 0,
		0xde, 0x02, 0x02, 0x01,
	};
	struct opgp_info	info;
	struct opgp_kdf		kdf;
	uint8_t			fw[3], f9[OPGP_KDF_DO_LEN], salts[24], h[32];
	size_t			i;

	CHECK(opgp_parse_version(ver, sizeof(ver), fw) == 0 && fw[0] == 5 &&
	    fw[1] == 2 && fw[2] == 7, "GET VERSION 05 02 07: 5.2.7");
	CHECK(opgp_parse_version(badver, sizeof(badver), fw) == -EPROTO,
	    "GET VERSION: not BCD");
	CHECK(opgp_parse_version(ver, 4, fw) == -EPROTO, "GET VERSION short");
	CHECK(opgp_parse_algo_info(fa, sizeof(fa)) == 1, "FA lists cv25519");
	CHECK(opgp_parse_algo_info(fa + 2, sizeof(fa) - 2) == 1,
	    "FA without its tag");
	CHECK(opgp_parse_algo_info(fa + 2, 16) == 0,
	    "FA with RSA only for decryption");
	CHECK(opgp_parse_algo_info(fa + 2, sizeof(fa) - 3) == -EPROTO,
	    "FA cut short");
	CHECK(opgp_parse_app_data(app, sizeof(app), &info) == 0 &&
	    info.has_kdf_do && info.dec_key_status == 1, "C0 KDF bit, DE");
	CHECK(opgp_parse_app_data((const uint8_t *)"\x73\x00", 2, &info) == 0 &&
	    !info.has_kdf_do &&
	    info.dec_key_status == -1, "no C0, no DE");
	for (i = 0; i < sizeof(salts); i++)
		salts[i] = (uint8_t)i;
	opgp_build_kdf_do(f9, OPGP_KDF_COUNT_INIT, salts);
	CHECK(opgp_parse_kdf(f9, sizeof(f9), &kdf) == 0 && kdf.on &&
	    kdf.hashlen == 32 && kdf.count == OPGP_KDF_COUNT_INIT &&
	    memcmp(kdf.salt_pw1, salts, 8) == 0 &&
	    memcmp(kdf.salt_rc, salts + 8, 8) == 0 &&
	    memcmp(kdf.salt_pw3, salts + 16, 8) == 0,
	    "card init's F9 reads back: SHA-256, count, three salts");
	CHECK(f9[42] == 0x87 && f9[43] == 0x20 && f9[76] == 0x88 &&
	    f9[77] == 0x20, "F9: 87 and 88 at GnuPG's offsets");
	opgp_s2k(32, salts, OPGP_KDF_COUNT_INIT, (const uint8_t *)"123456", 6,
	    h);
	CHECK(memcmp(f9 + 44, h, 32) == 0, "F9 87: S2K of 123456, PW1 salt");
	opgp_s2k(32, salts + 16, OPGP_KDF_COUNT_INIT,
	    (const uint8_t *)"12345678", 8, h);
	CHECK(memcmp(f9 + 78, h, 32) == 0, "F9 88: S2K of 12345678, PW3 salt");
}

/* The long form of F9 (GnuPG kdf-setup), salts 01.., 11.., 21... */
static size_t
kdf_f9(uint8_t *f9, uint8_t hash, uint32_t count, int single)
{
	size_t	n = 0;
	int	i, s;

	memcpy(f9, "\x81\x01\x03\x82\x01", 5);
	n = 5;
	f9[n++] = hash;
	f9[n++] = 0x83;
	f9[n++] = 0x04;
	f9[n++] = (uint8_t)(count >> 24);
	f9[n++] = (uint8_t)(count >> 16);
	f9[n++] = (uint8_t)(count >> 8);
	f9[n++] = (uint8_t)count;
	for (s = 0; s < 3; s++) {
		if (single && s > 0)
			break;
		f9[n++] = (uint8_t)(0x84 + s);
		f9[n++] = 8;
		for (i = 0; i < 8; i++)
			f9[n++] = (uint8_t)(0x10 * s + i + 1);
	}
	/* 87, 88: hashes of the initial PINs, not used by the host. */
	for (s = 0; s < 2; s++) {
		f9[n++] = (uint8_t)(0x87 + s);
		f9[n++] = 32;
		memset(f9 + n, 0xee, 32);
		n += 32;
	}
	return n;
}

static void
hexn(const char *hex, uint8_t *out, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		sscanf(hex + 2 * i, "%2hhx", &out[i]);
}

/*
 * S2K known answers, from Python:
 *   def s2k(h, salt, count, pin):
 *       d = salt + pin; n = max(count, len(d))
 *       return h((d * (n // len(d) + 1))[:n]).hexdigest()
 *   salt = bytes(range(1, 9))
 *   s2k(hashlib.sha256, salt, 100000, b"123456")
 *   s2k(hashlib.sha512, salt, 100000, b"12345678")
 *   s2k(hashlib.sha256, salt, 3, b"123456")   # count below 8 + len
 */
static void
test_kdf(void)
{
	static const uint8_t	salt[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	struct opgp_kdf		kdf;
	uint8_t			f9[128], out[64], want[64];
	size_t			n;

	hexn("8fc77436ded3825377da921acc4fb1e0c619e426b926c30f06fbb428c6ac"
	    "9701", want, 32);
	opgp_s2k(32, salt, 100000, (const uint8_t *)"123456", 6, out);
	CHECK_MEM(out, want, 32, "S2K SHA-256, count 100000");
	hexn("765553e68fb8ef6abf16b18743c8b4821648af47149392d54618bbb84ee2"
	    "1db6c80819f2acfae7ec7b756e40fdce60f3f69ffcd96d11af34ef2d9857"
	    "4136c196", want, 64);
	opgp_s2k(64, salt, 100000, (const uint8_t *)"12345678", 8, out);
	CHECK_MEM(out, want, 64, "S2K SHA-512, count 100000");
	hexn("1ae0f1043e1492a1acffc2319de52fa4713cf4bfd7123563345550f0da8e"
	    "ee9a", want, 32);
	opgp_s2k(32, salt, 3, (const uint8_t *)"123456", 6, out);
	CHECK_MEM(out, want, 32, "S2K with a count below salt + PIN");

	n = kdf_f9(f9, 0x08, 0x100000, 0);
	CHECK(n == 110, "long F9 is 110 bytes (%zu)", n);
	CHECK(opgp_parse_kdf(f9, n, &kdf) == 0 && kdf.on &&
	    kdf.hashlen == 32 && kdf.count == 0x100000 &&
	    kdf.salt_pw1[0] == 1 && kdf.salt_rc[0] == 0x11 &&
	    kdf.salt_pw3[0] == 0x21, "long F9: salts at 14, 24, 34");
	CHECK(memcmp(kdf.salt_pw1, f9 + 14, 8) == 0 &&
	    memcmp(kdf.salt_rc, f9 + 24, 8) == 0 &&
	    memcmp(kdf.salt_pw3, f9 + 34, 8) == 0 &&
	    f9[2] == 0x03, "offsets as docs/devices.md states them");
	n = kdf_f9(f9, 0x08, 0x100000, 1);
	CHECK(n == 90, "short F9 is 90 bytes (%zu)", n);
	CHECK(opgp_parse_kdf(f9, n, &kdf) == 0 && kdf.on &&
	    kdf.salt_pw3[0] == 1 && kdf.salt_rc[0] == 1,
	    "short F9: one salt for all");
	n = kdf_f9(f9, 0x0a, 1000, 0);
	CHECK(opgp_parse_kdf(f9, n, &kdf) == 0 && kdf.on &&
	    kdf.hashlen == 64, "F9 with SHA-512");
	n = kdf_f9(f9, 0x09, 1000, 0);
	CHECK(opgp_parse_kdf(f9, n, &kdf) == -ENOSYS, "SHA-384 refused");
	n = kdf_f9(f9, 0x08, OPGP_KDF_COUNT_MAX + 1, 0);
	CHECK(opgp_parse_kdf(f9, n, &kdf) == -ENOSYS, "huge count refused");
	CHECK(opgp_parse_kdf((const uint8_t *)"\x81\x01\x00", 3, &kdf) ==
	    0 && !kdf.on, "81 = 00: KDF off");
	CHECK(opgp_parse_kdf(NULL, 0, &kdf) == 0 && !kdf.on, "empty F9");
	CHECK(opgp_parse_kdf((const uint8_t *)"\x81\x01\x03", 3, &kdf) ==
	    -EPROTO, "algorithm without parameters");
	CHECK(opgp_parse_kdf((const uint8_t *)"\x81\x01\x01", 3, &kdf) ==
	    -ENOSYS, "unknown algorithm");
	/* Wrapped in F9 itself. */
	n = kdf_f9(f9 + 2, 0x08, 5000, 1);
	f9[0] = 0xf9;
	f9[1] = (uint8_t)n;
	CHECK(opgp_parse_kdf(f9, n + 2, &kdf) == 0 && kdf.on &&
	    kdf.count == 5000, "F9 in its tag");
}

/*
 * A scripted card: F9 as given, VERIFY answered with vsw (the bytes it
 * got kept), C4 with retries, 6Cxx once to the first GET DATA when
 * asked.
 */
struct scard {
	uint8_t		f9[128];
	size_t		f9len;
	unsigned int	vsw;
	int		pw1, pw3;
	int		verifies, resets, six_c;
	uint8_t		last[OPGP_APDU_MAX];
	size_t		lastlen;
	uint8_t		feat[8], uif[3][4];	/* 7F74, D6-D8 contents */
	size_t		featlen, uiflen[3];	/* 0: 6A88 */
	int		gone_at_d7;		/* D7 answers: card removed */
};

static int
scard_transmit(void *arg, const uint8_t *apdu, size_t alen, uint8_t *resp,
    size_t *rlen)
{
	struct scard	*c = arg;
	size_t		 n = 0;
	unsigned int	 sw = 0x9000;

	memcpy(c->last, apdu, alen);
	c->lastlen = alen;
	switch (apdu[1]) {
	case 0x20:
		if (apdu[2] == 0xff) {
			c->resets++;
			break;
		}
		c->verifies++;
		sw = c->vsw;
		break;
	case 0xca:
		if (c->six_c && alen == 5 && apdu[4] == 0x00) {
			c->six_c = 0;
			sw = 0x6c00 | (c->f9len & 0xff);
		} else if (apdu[3] == 0xf9) {
			if (c->f9len == 0)
				sw = 0x6a88;
			memcpy(resp, c->f9, c->f9len);
			n = c->f9len;
		} else if (apdu[2] == 0x7f && apdu[3] == 0x74) {
			if (c->featlen == 0)
				sw = 0x6a88;
			memcpy(resp, c->feat, c->featlen);
			n = c->featlen;
		} else if (apdu[2] == 0 && apdu[3] >= 0xd6 && apdu[3] <= 0xd8) {
			if (apdu[3] == 0xd7 && c->gone_at_d7)
				return -ENODEV;
			if (c->uiflen[apdu[3] - 0xd6] == 0)
				sw = 0x6a88;
			memcpy(resp, c->uif[apdu[3] - 0xd6],
			    c->uiflen[apdu[3] - 0xd6]);
			n = c->uiflen[apdu[3] - 0xd6];
		} else if (apdu[3] == 0xc4) {
			memcpy(resp, "\x00\x7f\x7f\x7f", 4);
			resp[4] = (uint8_t)c->pw1;
			resp[5] = 0;
			resp[6] = (uint8_t)c->pw3;
			n = 7;
		} else
			sw = 0x6a88;
		break;
	default:
		sw = 0x6d00;
		break;
	}
	resp[n++] = (uint8_t)(sw >> 8);
	resp[n++] = (uint8_t)sw;
	*rlen = n;
	return 0;
}

static void
test_verify_kdf(void)
{
	struct scard		c = { .vsw = 0x9000, .pw1 = 3, .pw3 = 3 };
	struct opgp_card	card = { scard_transmit, &c };
	struct opgp_kdf		kdf;
	uint8_t			want[32];
	int			retries;

	/* No KDF-DO (6A88 to GET DATA F9): the PIN as it is. */
	CHECK(opgp_verify(&card, 0x82, (const uint8_t *)"123456", 6,
	    NULL) == 0 && c.lastlen == 11 &&
	    memcmp(c.last + 5, "123456", 6) == 0, "no KDF: raw PIN");

	/* KDF on: PW1 with salt 84, PW3 with salt 86. */
	c.f9len = kdf_f9(c.f9, 0x08, 100000, 0);
	CHECK(opgp_parse_kdf(c.f9, c.f9len, &kdf) == 0, "parse");
	CHECK(opgp_verify(&card, 0x82, (const uint8_t *)"123456", 6,
	    NULL) == 0 && c.lastlen == 5 + 32 && c.last[4] == 32,
	    "KDF: 32 bytes sent");
	opgp_s2k(32, kdf.salt_pw1, 100000, (const uint8_t *)"123456", 6,
	    want);
	CHECK_MEM(c.last + 5, want, 32, "KDF: PW1 hashed with salt 84");
	hexn("8fc77436ded3825377da921acc4fb1e0c619e426b926c30f06fbb428c6ac"
	    "9701", want, 32);
	CHECK_MEM(c.last + 5, want, 32, "KDF: PW1 matches Python's");
	CHECK(opgp_verify(&card, 0x83, (const uint8_t *)"12345678", 8,
	    NULL) == 0 && c.last[3] == 0x83 && c.lastlen == 37, "PW3");
	opgp_s2k(32, kdf.salt_pw3, 100000, (const uint8_t *)"12345678", 8,
	    want);
	CHECK_MEM(c.last + 5, want, 32, "KDF: PW3 hashed with salt 86");
	/* The 6Cxx to GET DATA F9 rewrites its Le. */
	c.six_c = 1;
	CHECK(opgp_verify(&card, 0x82, (const uint8_t *)"123456", 6,
	    NULL) == 0 && c.lastlen == 37, "KDF read after 6Cxx");

	/* A KDF we cannot do: nothing sent. */
	c.verifies = 0;
	c.f9len = kdf_f9(c.f9, 0x09, 1000, 0);
	CHECK(opgp_verify(&card, 0x82, (const uint8_t *)"123456", 6,
	    NULL) == -ENOSYS && c.verifies == 0, "SHA-384 F9: no VERIFY");
	CHECK(strstr(opgp_strerror(-ENOSYS), "KDF") != NULL, "says KDF");

	/* 6985 and 6700: the wrong form, nothing spent, no card lost. */
	c.f9len = 0;
	c.vsw = 0x6985;
	CHECK(opgp_verify(&card, 0x82, (const uint8_t *)"123456", 6,
	    NULL) == -EBADMSG && c.verifies == 1, "6985: -EBADMSG, once");
	c.vsw = 0x6700;
	CHECK(opgp_verify(&card, 0x82, (const uint8_t *)"123456", 6,
	    NULL) == -EBADMSG && c.verifies == 2, "6700: -EBADMSG, once");

	/* 6982: a wrong PIN; the counter read from C4. */
	c.vsw = 0x6982;
	c.pw1 = 2;
	retries = -1;
	CHECK(opgp_verify(&card, 0x82, (const uint8_t *)"654321", 6,
	    &retries) == -EACCES && retries == 2 && c.verifies == 3,
	    "6982: wrong PIN, 2 left from C4");
	c.pw3 = 0;
	retries = -1;
	CHECK(opgp_verify(&card, 0x83, (const uint8_t *)"87654321", 8,
	    &retries) == -EPERM && retries == 0, "6982 to PW3, C4 says 0");
	c.vsw = 0x63c1;
	CHECK(opgp_verify(&card, 0x82, (const uint8_t *)"654321", 6,
	    &retries) == -EACCES && retries == 1, "63C1");
	c.vsw = 0x6285;
	CHECK(opgp_verify(&card, 0x82, (const uint8_t *)"123456", 6,
	    NULL) == -ENOTRECOVERABLE, "6285 to VERIFY: terminated");

	/* PW3 reset: 00 20 FF 83, no data. */
	CHECK(opgp_reset_verify(&card, 0x83) == 0 && c.resets == 1 &&
	    c.lastlen == 4 && memcmp(c.last, "\x00\x20\xff\x83", 4) == 0,
	    "VERIFY FF 83");
}

/* 6Cxx never rewrites a case 3 command's last data byte. */
static int
six_c_transmit(void *arg, const uint8_t *apdu, size_t alen, uint8_t *resp,
    size_t *rlen)
{
	struct scard	*c = arg;

	memcpy(c->last, apdu, alen);
	c->lastlen = alen;
	c->verifies++;
	resp[0] = 0x6c;
	resp[1] = 0x10;
	*rlen = 2;
	return 0;
}

/* 7F74 and UIF D6-D8: parsing, and reading them from a canned card. */
static void
test_touch(void)
{
	struct scard		c = { .vsw = 0x9000, .pw1 = 3, .pw3 = 3 };
	struct opgp_card	card = { scard_transmit, &c };
	struct opgp_touch	t;
	uint8_t			buf[8];

	/* 7F74: 81 01 20 (Nitrokey 3, opcard), with or without its tag. */
	CHECK(opgp_parse_features((const uint8_t *)"\x81\x01\x20", 3) == 1,
	    "7F74 content: a button");
	CHECK(opgp_parse_features((const uint8_t *)"\x7f\x74\x03\x81\x01"
	    "\x20", 6) == 1, "7F74 with its tag: a button");
	CHECK(opgp_parse_features((const uint8_t *)"\x81\x01\x80", 3) == 0,
	    "a display, no button");
	CHECK(opgp_parse_features((const uint8_t *)"\x81\x00", 2) == 0,
	    "81 empty: no button");
	CHECK(opgp_parse_features((const uint8_t *)"\x81\x05\x20", 3) ==
	    -EPROTO, "81 longer than the data: malformed");
	CHECK(opgp_parse_features(NULL, 0) == 0, "empty: no button");

	/* UIF: policy, then 20. */
	CHECK(opgp_parse_uif((const uint8_t *)"\x01\x20", 2) == OPGP_UIF_ON,
	    "D7 01 20: on");
	CHECK(opgp_parse_uif((const uint8_t *)"\x02\x20", 2) ==
	    OPGP_UIF_FIXED, "02: fixed");
	CHECK(opgp_parse_uif((const uint8_t *)"\x00", 1) == OPGP_UIF_OFF,
	    "one byte 00: off");
	CHECK(opgp_parse_uif((const uint8_t *)"\xd7\x02\x04\x20", 4) ==
	    OPGP_UIF_CACHED_FIXED, "with its tag D7: cached fixed");
	CHECK(opgp_parse_uif((const uint8_t *)"\x01\x20\x00", 3) == -EPROTO,
	    "three bytes: malformed");
	CHECK(opgp_parse_uif(buf, 0) == -EPROTO, "empty: malformed");
	CHECK(opgp_uif_on(OPGP_UIF_ON) && opgp_uif_on(OPGP_UIF_CACHED) &&
	    opgp_uif_on(0x7f) && !opgp_uif_on(OPGP_UIF_OFF) &&
	    !opgp_uif_on(OPGP_UIF_NONE), "which policies ask for a touch");
	CHECK(strcmp(opgp_uif_name(OPGP_UIF_FIXED), "on (fixed)") == 0 &&
	    strcmp(opgp_uif_name(OPGP_UIF_NONE), "none") == 0 &&
	    strcmp(opgp_uif_name(0x55), "on (unknown policy)") == 0,
	    "policy names");

	/* No button, no UIF (our default vcard, Gnuk): all none. */
	CHECK(opgp_read_touch(&card, &t) == 0 && t.button == 0 &&
	    t.uif[0] == OPGP_UIF_NONE && t.uif[1] == OPGP_UIF_NONE &&
	    t.uif[2] == OPGP_UIF_NONE, "no 7F74, no UIF");
	/* Nitrokey 3 with decryption touch on (fixed). */
	memcpy(c.feat, "\x81\x01\x20", 3);
	c.featlen = 3;
	memcpy(c.uif[0], "\x00\x20", 2);
	memcpy(c.uif[1], "\x02\x20", 2);
	memcpy(c.uif[2], "\x01\x20", 2);
	c.uiflen[0] = c.uiflen[1] = c.uiflen[2] = 2;
	CHECK(opgp_read_touch(&card, &t) == 0 && t.button == 1 &&
	    t.uif[OPGP_UIF_SIG] == OPGP_UIF_OFF &&
	    t.uif[OPGP_UIF_DEC] == OPGP_UIF_FIXED &&
	    t.uif[OPGP_UIF_AUT] == OPGP_UIF_ON, "button, D6 off, D7 fixed, "
	    "D8 on");
	/* UIF without 7F74 (older YubiKeys); a malformed D8 is none. */
	c.featlen = 0;
	c.uiflen[2] = 3;
	CHECK(opgp_read_touch(&card, &t) == 0 && t.button == 0 &&
	    t.uif[OPGP_UIF_DEC] == OPGP_UIF_FIXED &&
	    t.uif[OPGP_UIF_AUT] == OPGP_UIF_NONE, "UIF without 7F74");
	/* A malformed 7F74: no button, not an error. */
	memcpy(c.feat, "\x81\x09", 2);
	c.featlen = 2;
	CHECK(opgp_read_touch(&card, &t) == 0 && t.button == 0,
	    "malformed 7F74: no button");
	/* The card went away meanwhile: said, not taken for "no touch". */
	c.gone_at_d7 = 1;
	CHECK(opgp_read_touch(&card, &t) == -ENODEV, "card gone: -ENODEV");
}

static void
test_six_c(void)
{
	struct scard		c = { .vsw = 0 };
	struct opgp_card	card = { six_c_transmit, &c };
	int			retries = -1;

	CHECK(opgp_verify(&card, 0x82, (const uint8_t *)"123456", 6,
	    &retries) != 0, "6Cxx to VERIFY is an error");
	/* GET DATA F9 (case 2, twice), then VERIFY (case 3, once). */
	CHECK(c.verifies == 3 && c.lastlen == 11 &&
	    memcmp(c.last + 5, "123456", 6) == 0,
	    "VERIFY sent once with its PIN untouched (%d sent)", c.verifies);
}

static void
test_pubkey_parse(void)
{
	uint8_t	resp[64], out[32];
	size_t	n = 0;
	int	i;

	resp[n++] = 0x7f;
	resp[n++] = 0x49;
	resp[n++] = 0x22;
	resp[n++] = 0x86;
	resp[n++] = 0x20;
	for (i = 0; i < 32; i++)
		resp[n++] = (uint8_t)(i + 7);
	resp[n++] = 0x90;
	resp[n++] = 0x00;
	CHECK(opgp_parse_pubkey(resp, n, out) == 0 && out[0] == 7 &&
	    out[31] == 38, "7f49 86");
	resp[2] = 0x23;
	resp[4] = 0x21;
	memmove(resp + 6, resp + 5, 34);
	resp[5] = 0x40;
	n++;
	CHECK(opgp_parse_pubkey(resp, n, out) == 0 && out[0] == 7,
	    "7f49 86 with 0x40");
	resp[2] = 0x40;
	CHECK(opgp_parse_pubkey(resp, n, out) == -EPROTO, "bad length");
	resp[0] = 0x6a;
	resp[1] = 0x88;
	CHECK(opgp_parse_pubkey(resp, 2, out) == -ENOKEY, "no key");
}

static void
test_fuzz(void)
{
	uint8_t		buf[300], out[32];
	const uint8_t	*v;
	size_t		vlen, n;
	struct opgp_info info;
	int		i, pw1, pw3;

	for (i = 0; i < 200000; i++) {
		n = randombytes_uniform(sizeof(buf) + 1);
		randombytes_buf(buf, n);
		/* Bias towards the tags we look for. */
		if (n > 3 && (i & 1)) {
			buf[0] = (i & 2) ? 0x7f : 0x6e;
			buf[1] = (i & 2) ? 0x49 : buf[1];
		}
		(void)opgp_tlv_find(buf, n, 0xc4, &v, &vlen);
		(void)opgp_tlv_find(buf, n, 0x7f49, &v, &vlen);
		(void)opgp_parse_app_data(buf, n, &info);
		(void)opgp_parse_pubkey(buf, n, out);
		(void)opgp_parse_decipher(buf, n, out);
		(void)opgp_parse_pw_status(buf, n, &pw1, &pw3);
		(void)opgp_attr_is_cv25519(buf, n);
	}
	CHECK(1, "fuzz: 200000 random answers without a crash");
}

/*
 * A canned card: answers by instruction byte, counts VERIFY and
 * DECIPHER, and can answer 61xx to exercise GET RESPONSE.
 */
struct canned {
	int	verifies;
	int	deciphers;
	int	retries;
	int	chain;
	uint8_t	pending[64];
	size_t	npending;
};

static int
canned_transmit(void *arg, const uint8_t *apdu, size_t alen, uint8_t *resp,
    size_t *rlen)
{
	struct canned	*c = arg;
	size_t		 n = 0;
	int		 i;

	switch (apdu[1]) {
	case 0xa4:
		break;
	case 0x20:
		c->verifies++;
		if (alen == 11 && memcmp(apdu + 5, "123456", 6) == 0) {
			c->retries = 3;
			break;
		}
		if (c->retries > 0)
			c->retries--;
		resp[n++] = 0x63;
		resp[n++] = 0xc0 | c->retries;
		*rlen = n;
		return 0;
	case 0xca:
		if (apdu[3] == 0xc4) {
			memcpy(resp, "\x00\x7f\x7f\x7f", 4);
			resp[4] = (uint8_t)c->retries;
			resp[5] = 0;
			resp[6] = 3;
			n = 7;
		}
		break;
	case 0x47:
		if (c->chain) {
			/* First part now, the rest with GET RESPONSE. */
			memcpy(c->pending, "\x7f\x49\x22\x86\x20", 5);
			for (i = 0; i < 32; i++)
				c->pending[5 + i] = (uint8_t)(0x10 + i);
			memcpy(resp, c->pending, 10);
			memmove(c->pending, c->pending + 10, 27);
			c->npending = 27;
			n = 10;
			resp[n++] = 0x61;
			resp[n++] = 27;
			*rlen = n;
			return 0;
		}
		memcpy(resp, "\x7f\x49\x22\x86\x20", 5);
		for (i = 0; i < 32; i++)
			resp[5 + i] = (uint8_t)(0x10 + i);
		n = 37;
		break;
	case 0xc0:
		memcpy(resp, c->pending, c->npending);
		n = c->npending;
		c->npending = 0;
		break;
	case 0x2a:
		c->deciphers++;
		resp[n++] = 0x40;
		for (i = 0; i < 32; i++)
			resp[n++] = apdu[12 + i] ^ 0x5a;
		break;
	default:
		resp[n++] = 0x6d;
		resp[n++] = 0x00;
		*rlen = n;
		return 0;
	}
	resp[n++] = 0x90;
	resp[n++] = 0x00;
	*rlen = n;
	return 0;
}

static void
test_commands(void)
{
	struct canned		c = { .retries = 3 };
	struct opgp_card	card = { canned_transmit, &c };
	uint8_t			pub[32], pt[32], out[32];
	int			retries = -1, i;

	CHECK(opgp_select(&card) == 0, "select");
	CHECK(opgp_read_pubkey(&card, pub) == 0 && pub[0] == 0x10 &&
	    pub[31] == 0x2f, "read pubkey");
	c.chain = 1;
	memset(pub, 0, sizeof(pub));
	CHECK(opgp_read_pubkey(&card, pub) == 0 && pub[0] == 0x10 &&
	    pub[31] == 0x2f, "read pubkey with GET RESPONSE");
	CHECK(opgp_read_pw1_retries(&card) == 3, "retries 3");
	CHECK(opgp_verify(&card, 0x82, (const uint8_t *)"654321", 6,
	    &retries) == -EACCES && retries == 2, "wrong PIN: 2 left");
	CHECK(opgp_read_pw1_retries(&card) == 2, "retries 2");
	CHECK(c.verifies == 1, "one VERIFY sent");
	CHECK(opgp_verify(&card, 0x82, (const uint8_t *)"123", 3,
	    &retries) == -EINVAL && c.verifies == 1,
	    "short PIN refused without spending a retry");
	CHECK(opgp_verify(&card, 0x82, (const uint8_t *)"123456", 6,
	    &retries) == 0, "right PIN");
	for (i = 0; i < 32; i++)
		pt[i] = (uint8_t)i;
	CHECK(opgp_decipher(&card, pt, out) == 0 && out[5] == (5 ^ 0x5a),
	    "decipher with 0x40 prefix");
	CHECK(c.deciphers == 1, "one DECIPHER");
}

static void
hex20(const char *hex, uint8_t out[20])
{
	int	i;

	for (i = 0; i < 20; i++)
		sscanf(hex + 2 * i, "%2hhx", &out[i]);
}

/* SHA-1 (FIPS 180-4 examples) and a fingerprint computed by GnuPG. */
static void
test_fingerprint(void)
{
	static const struct {
		const char	*in, *hex;
	} v[] = {
		{ "", "da39a3ee5e6b4b0d3255bfef95601890afd80709" },
		{ "abc", "a9993e364706816aba3e25717850c26c9cd0d89d" },
		{ "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
		    "84983e441c3bd26ebaae4aa1f95129e5e54670f1" },
	};
	struct sha1_ctx	c;
	uint8_t		out[20], want[20], pub[32], a[1000];
	size_t		i;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		sha1_init(&c);
		sha1_update(&c, v[i].in, strlen(v[i].in));
		sha1_final(&c, out);
		hex20(v[i].hex, want);
		CHECK_MEM(out, want, 20, "sha1 vector %zu", i);
	}
	memset(a, 'a', sizeof(a));
	sha1_init(&c);
	for (i = 0; i < 1000; i++)
		sha1_update(&c, a, sizeof(a));
	sha1_final(&c, out);
	hex20("34aa973cd4c4daa4f61eeb2bdbad27316534016f", want);
	CHECK_MEM(out, want, 20, "sha1 of a million 'a'");
	/*
	 * gpg --quick-add-key FPR cv25519 encr (GnuPG 2.2.40): created
	 * 1795581191, point 2A0156...DA565, fingerprint 63954BED...0602.
	 */
	for (i = 0; i < 32; i++)
		sscanf("2A01567773221C3C9D7599F4D6E17669E476C482D25FF8300B915C0E"
		    "710DA565" + 2 * i, "%2hhx", &pub[i]);
	opgp_fingerprint_cv25519(pub, 1795581191, out);
	hex20("63954BED122BE626682D1A55CD4F0733267B0602", want);
	CHECK_MEM(out, want, 20, "cv25519 fingerprint as GnuPG computes it");
	opgp_fingerprint_cv25519(pub, 1795581192, out);
	CHECK(memcmp(out, want, 20) != 0, "the creation time is hashed");
}

int
main(void)
{
	if (sodium_init() < 0)
		return 1;
	test_fingerprint();
	test_build();
	test_decipher_parse();
	test_sw();
	test_pw_status();
	test_tlv();
	test_attr();
	test_card_init_parse();
	test_kdf();
	test_verify_kdf();
	test_touch();
	test_six_c();
	test_pubkey_parse();
	test_commands();
	test_fuzz();
	return test_done();
}
