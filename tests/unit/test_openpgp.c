/*
 * test_openpgp.c: the OpenPGP card APDU layer (keyd/openpgp.c): command
 * bytes, answer parsing (0x40 prefix, all-zero refusal, retry counter),
 * the TLV parser on malformed and random input, and the command layer
 * against a canned card.
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
	CHECK(apdu[2] == 0x7f && apdu[3] == 0x49, "get data two-byte tag");
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
	test_pubkey_parse();
	test_commands();
	test_fuzz();
	return test_done();
}
