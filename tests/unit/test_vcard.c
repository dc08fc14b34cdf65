/*
 * test_vcard.c: the virtual OpenPGP card's command interpreter, without
 * sockets: SELECT, GET DATA (6E parsed as GnuPG does), VERIFY (right,
 * wrong, blocked, status, reset), CHANGE REFERENCE DATA, RESET RETRY
 * COUNTER, PUT DATA (C2, fingerprints), GENERATE, key import (3FFF),
 * PSO:DECIPHER against wg_x25519, chaining, GET RESPONSE, extended
 * APDUs, terminate/activate, and the state file round trip. Then the
 * profiles that imitate real tokens (docs/devices.md): KDF (S2K known
 * answer, strict and comparing cards, PUT DATA F9), attribute quirks,
 * wrong-PIN status words, SELECT and PIN state, other applications,
 * low-order points, touch policy, knobs.
 */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include <sodium.h>

#include "crypto.h"
#include "../vcard/card.h"
#include "test.h"

static uint8_t	rbuf[VCARD_OUT_MAX];
static size_t	rlen;

/* Send an APDU given as bytes; returns the SW. */
static unsigned int
tx(struct vcard *c, const uint8_t *in, size_t n)
{
	return vcard_apdu(c, in, n, rbuf, &rlen);
}

/* Build CLA INS P1 P2 [Lc data] [Le] (short) and send it. */
static unsigned int
cmd(struct vcard *c, uint8_t cla, uint8_t ins, uint8_t p1, uint8_t p2,
    const void *data, size_t len, int le)
{
	uint8_t a[300];
	size_t n = 0;

	a[n++] = cla, a[n++] = ins, a[n++] = p1, a[n++] = p2;
	if (len > 0) {
		a[n++] = len;
		memcpy(a + n, data, len);
		n += len;
	}
	if (le >= 0)
		a[n++] = le;
	return tx(c, a, n);
}

static unsigned int
select_app(struct vcard *c)
{
	static const uint8_t aid[] = { 0xD2, 0x76, 0x00, 0x01, 0x24, 0x01 };

	return cmd(c, 0, 0xA4, 0x04, 0x00, aid, sizeof(aid), -1);
}

static unsigned int
verify(struct vcard *c, uint8_t p2, const char *pin)
{
	return cmd(c, 0, 0x20, 0x00, p2, pin, strlen(pin), -1);
}

/* VERIFY without data: 9000 when verified, else 63Cx (x retries left). */
static unsigned int
pin_status(struct vcard *c, uint8_t p2)
{
	return cmd(c, 0, 0x20, 0x00, p2, NULL, 0, -1);
}

/* Find a (possibly nested) BER-TLV tag; value pointer or NULL. */
static const uint8_t *
find_tag(const uint8_t *p, size_t len, unsigned int want, size_t *vlen)
{
	const uint8_t *end = p + len, *v, *r;
	unsigned int tag;
	size_t n;

	while (p < end) {
		int constructed = (*p & 0x20) != 0;

		tag = *p++;
		if ((tag & 0x1F) == 0x1F && p < end)
			tag = tag << 8 | *p++;
		if (p >= end)
			return NULL;
		n = *p++;
		if (n == 0x81 && p < end)
			n = *p++;
		else if (n == 0x82 && end - p >= 2) {
			n = (size_t)p[0] << 8 | p[1];
			p += 2;
		}
		if ((size_t)(end - p) < n)
			return NULL;
		v = p;
		if (tag == want) {
			*vlen = n;
			return v;
		}
		if (constructed && (r = find_tag(v, n, want, vlen)) != NULL)
			return r;
		p += n;
	}
	return NULL;
}

static void
test_select_and_get_data(void)
{
	struct vcard c;
	const uint8_t *v;
	size_t vl, total;
	uint8_t full[600];
	static const uint8_t cv[] = { 0x12, 0x2B, 0x06, 0x01, 0x04, 0x01,
	    0x97, 0x55, 0x01, 0x05, 0x01 };
	static const uint8_t wrong_aid[] = { 0xA0, 0x00, 0x00, 0x03, 0x08 };

	vcard_init(&c, 0x12345678);
	CHECK(cmd(&c, 0, 0xCA, 0x00, 0x4F, NULL, 0, 0) == 0x6985,
	    "GET DATA before SELECT is refused");
	CHECK(cmd(&c, 0, 0xA4, 0x04, 0x00, wrong_aid, sizeof(wrong_aid),
	    -1) == 0x6A82, "SELECT of another AID: 6A82");
	CHECK(select_app(&c) == 0x9000, "SELECT OpenPGP");
	CHECK(rlen == 2, "SELECT answers no data");

	CHECK(cmd(&c, 0, 0xCA, 0x00, 0x4F, NULL, 0, 0) == 0x9000, "GET 4F");
	CHECK(rlen == 18, "AID is 16 bytes (%zu)", rlen);
	CHECK(rbuf[6] == 3 && rbuf[7] == 4, "version 3.4");
	CHECK(rbuf[8] == 0xFF && rbuf[9] == 0x00, "manufacturer FF00");
	CHECK(rbuf[10] == 0x12 && rbuf[11] == 0x34 && rbuf[12] == 0x56 &&
	    rbuf[13] == 0x78, "serial in the AID");

	CHECK(cmd(&c, 0, 0xCA, 0x5F, 0x52, NULL, 0, 0) == 0x9000, "GET 5F52");
	CHECK(rlen - 2 >= 4 && rbuf[0] == 0x00, "historical bytes, category 0");
	/* GnuPG: card capabilities byte 3 of compact tag 73. */
	CHECK(rbuf[1] == 0x73 && (rbuf[4] & 0x80) && !(rbuf[4] & 0x40),
	    "chaining, no extended length");

	CHECK(cmd(&c, 0, 0xCA, 0x00, 0x6E, NULL, 0, 0) == 0x9000, "GET 6E");
	total = rlen - 2;
	memcpy(full, rbuf, total);
	CHECK(full[0] == 0x6E, "6E is wrapped in its tag");
	v = find_tag(full, total, 0xC2, &vl);
	CHECK(v != NULL && vl == sizeof(cv) && memcmp(v, cv, vl) == 0,
	    "C2 is cv25519 ECDH");
	v = find_tag(full, total, 0xC0, &vl);
	CHECK(v != NULL && vl == 10 && (v[0] & 0x20) && (v[0] & 0x04) &&
	    !(v[0] & 0x80), "C0: key import, attributes changeable, no SM");
	v = find_tag(full, total, 0xC4, &vl);
	CHECK(v != NULL && vl == 7 && v[4] == 3 && v[5] == 0 && v[6] == 3,
	    "C4: 3 0 3 retries");
	v = find_tag(full, total, 0xC5, &vl);
	CHECK(v != NULL && vl == 60, "C5: three fingerprints");
	v = find_tag(full, total, 0xCD, &vl);
	CHECK(v != NULL && vl == 12, "CD: three dates");
	v = find_tag(full, total, 0xDE, &vl);
	CHECK(v != NULL && vl == 6 && v[2] == 2 && v[3] == 0,
	    "DE: decryption key not present");
	v = find_tag(full, total, 0x4F, &vl);
	CHECK(v != NULL && vl == 16, "4F inside 6E");

	CHECK(cmd(&c, 0, 0xCA, 0x00, 0x65, NULL, 0, 0) == 0x9000, "GET 65");
	CHECK(find_tag(rbuf, rlen - 2, 0x5F2D, &vl) != NULL && vl == 2,
	    "65 has the language");
	CHECK(cmd(&c, 0, 0xCA, 0x00, 0x7A, NULL, 0, 0) == 0x9000, "GET 7A");
	CHECK(rlen == 9 && rbuf[2] == 0x93, "7A holds 93 with 3 bytes");
	CHECK(cmd(&c, 0, 0xCA, 0x00, 0xC4, NULL, 0, 0) == 0x9000 &&
	    rlen == 9, "GET C4 alone");
	CHECK(cmd(&c, 0, 0xCA, 0x7F, 0x74, NULL, 0, 0) == 0x6A88,
	    "no 7F74 (no button)");
	CHECK(cmd(&c, 0, 0xCA, 0x00, 0x01, NULL, 0, 0) == 0x6A88, "no DO 0001");
	CHECK(cmd(&c, 0, 0xCA, 0x01, 0x03, NULL, 0, 0) == 0x6982,
	    "private DO 3 needs PW1");
	CHECK(cmd(&c, 0x80, 0xCA, 0x00, 0x4F, NULL, 0, 0) == 0x6E00,
	    "CLA 80: 6E00");
	CHECK(cmd(&c, 0, 0x12, 0x00, 0x00, NULL, 0, -1) == 0x6D00,
	    "unknown INS: 6D00");
	CHECK(tx(&c, (const uint8_t *)"\x00\xCA", 2) == 0x6700,
	    "2-byte APDU: 6700");
	CHECK(tx(&c, (const uint8_t *)"\x00\xCA\x00\x4F\x05\x01", 6) ==
	    0x6700, "Lc beyond the APDU: 6700");

	/* Extended APDU: 00 CA 00 4F 00 00 00 (Le 65536). */
	CHECK(tx(&c, (const uint8_t *)"\x00\xCA\x00\x4F\x00\x00\x00", 7) ==
	    0x9000 && rlen == 18, "extended-length GET DATA");
	/* A short Le smaller than 6E: 61xx, then GET RESPONSE. */
	CHECK(cmd(&c, 0, 0xCA, 0x00, 0x6E, NULL, 0, 100) == (0x6100 |
	    (total - 100)), "Le 100 on 6E: 61xx");
	CHECK(rlen == 102 && memcmp(rbuf, full, 100) == 0, "first 100 bytes");
	CHECK(cmd(&c, 0, 0xC0, 0x00, 0x00, NULL, 0, 0) == 0x9000,
	    "GET RESPONSE");
	CHECK(rlen - 2 == total - 100 &&
	    memcmp(rbuf, full + 100, total - 100) == 0, "the rest");
	CHECK(cmd(&c, 0, 0xC0, 0x00, 0x00, NULL, 0, 0) == 0x6985,
	    "nothing left for GET RESPONSE");
	vcard_wipe(&c);
}

static void
test_verify(void)
{
	struct vcard c;

	vcard_init(&c, 1);
	select_app(&c);
	CHECK(pin_status(&c, 0x82) == 0x63C3,
	    "status of unverified PW1: 63C3");
	CHECK(verify(&c, 0x82, "123456") == 0x9000, "right PW1");
	CHECK(pin_status(&c, 0x82) == 0x9000,
	    "status of verified PW1: 9000");
	CHECK(pin_status(&c, 0x81) == 0x63C3,
	    "81 is verified apart from 82");
	CHECK(cmd(&c, 0, 0x20, 0xFF, 0x82, NULL, 0, -1) == 0x9000,
	    "VERIFY FF resets");
	CHECK(pin_status(&c, 0x82) == 0x63C3,
	    "PW1 no longer verified");
	CHECK(verify(&c, 0x82, "654321") == 0x63C2, "wrong PW1: 63C2");
	CHECK(c.dirty, "a wrong PIN marks the state for saving");
	CHECK(verify(&c, 0x81, "000000") == 0x63C1, "wrong PW1 via 81: 63C1");
	CHECK(verify(&c, 0x82, "123456") == 0x9000, "right PW1 resets to 3");
	CHECK(c.pw1_tries == 3, "counter back to 3");
	CHECK(verify(&c, 0x82, "1") == 0x63C2, "wrong 1");
	CHECK(verify(&c, 0x82, "2") == 0x63C1, "wrong 2");
	CHECK(verify(&c, 0x82, "3") == 0x63C0, "wrong 3: 63C0");
	CHECK(verify(&c, 0x82, "123456") == 0x6983, "blocked: 6983");
	CHECK(pin_status(&c, 0x82) == 0x6983,
	    "status of a blocked PIN: 6983");
	CHECK(verify(&c, 0x84, "123456") == 0x6B00, "P2 84: 6B00");

	/* Unblock with PW3. */
	CHECK(cmd(&c, 0, 0x2C, 0x02, 0x81, "abcdef", 6, -1) == 0x6982,
	    "RESET RETRY COUNTER needs PW3");
	CHECK(verify(&c, 0x83, "12345678") == 0x9000, "PW3");
	CHECK(cmd(&c, 0, 0x2C, 0x02, 0x81, "abc", 3, -1) == 0x6A80,
	    "a 3-digit PW1 is refused");
	CHECK(cmd(&c, 0, 0x2C, 0x02, 0x81, "abcdef", 6, -1) == 0x9000,
	    "PW1 reset by PW3");
	CHECK(verify(&c, 0x82, "abcdef") == 0x9000, "new PW1 works");

	/* Resetting code. */
	CHECK(cmd(&c, 0, 0x2C, 0x00, 0x81, "rcrcrcrc111111", 14, -1) ==
	    0x6982, "no resetting code set");
	CHECK(cmd(&c, 0, 0xDA, 0x00, 0xD3, "rcrcrcrc", 8, -1) == 0x9000,
	    "set resetting code");
	CHECK(c.rc_tries == 3, "RC counter 3");
	CHECK(cmd(&c, 0, 0x2C, 0x00, 0x81, "rcrcrcrX111111", 14, -1) ==
	    0x63C2, "wrong resetting code");
	CHECK(cmd(&c, 0, 0x2C, 0x00, 0x81, "rcrcrcrc111111", 14, -1) ==
	    0x9000, "PW1 reset by the resetting code");
	CHECK(verify(&c, 0x82, "111111") == 0x9000, "PW1 from RC works");

	/* CHANGE REFERENCE DATA. */
	CHECK(cmd(&c, 0, 0x24, 0x00, 0x81, "111112222222", 12, -1) ==
	    0x63C2, "change with a wrong old PIN");
	CHECK(cmd(&c, 0, 0x24, 0x00, 0x81, "111111222222", 12, -1) ==
	    0x9000, "change PW1");
	CHECK(verify(&c, 0x82, "222222") == 0x9000, "changed PW1 works");
	CHECK(cmd(&c, 0, 0x24, 0x00, 0x83, "12345678abcdefgh", 16, -1) ==
	    0x9000, "change PW3");
	CHECK(verify(&c, 0x83, "abcdefgh") == 0x9000, "changed PW3 works");
	CHECK(cmd(&c, 0, 0x24, 0x00, 0x83, "abcdefghshort", 13, -1) ==
	    0x6A80, "a short PW3 is refused");

	/* A new SELECT starts over. */
	select_app(&c);
	CHECK(pin_status(&c, 0x82) == 0x63C3,
	    "SELECT forgets the verification");
	CHECK(verify(&c, 0x82, "222222") == 0x9000, "PW1 again");
	vcard_reset_session(&c);
	CHECK(pin_status(&c, 0x82) == 0x6985,
	    "power cycle: not even selected");
	vcard_wipe(&c);
}

static void
test_keys(void)
{
	struct vcard c, d;
	uint8_t pub[32], pub2[32], eph[32], ephpub[32], want[32], apdu[64];
	uint8_t tmpl[128], scalar[32];
	size_t n, i;
	char path[] = "/tmp/test_vcard.XXXXXX";
	int fd;
	static const uint8_t cv[] = { 0x12, 0x2B, 0x06, 0x01, 0x04, 0x01,
	    0x97, 0x55, 0x01, 0x05, 0x01 };
	static const uint8_t ecdsa[] = { 0x12, 0x2A, 0x86, 0x48, 0xCE,
	    0x3D, 0x03, 0x01, 0x07 };

	vcard_init(&c, 2);
	select_app(&c);
	CHECK(cmd(&c, 0, 0x47, 0x81, 0x00, "\xB8\x00", 2, 0) == 0x6A88,
	    "no public key yet");
	CHECK(cmd(&c, 0, 0x47, 0x80, 0x00, "\xB8\x00", 2, 0) == 0x6982,
	    "GENERATE needs PW3");
	CHECK(verify(&c, 0x83, "12345678") == 0x9000, "PW3");
	CHECK(cmd(&c, 0, 0xDA, 0x00, 0xC2, ecdsa, sizeof(ecdsa), -1) ==
	    0x6A80, "C2 other than cv25519: 6A80");
	CHECK(cmd(&c, 0, 0xDA, 0x00, 0xC2, cv, sizeof(cv), -1) == 0x9000,
	    "C2 cv25519");
	CHECK(cmd(&c, 0, 0x47, 0x80, 0x00, "\xB8\x00", 2, 0) == 0x9000,
	    "GENERATE");
	CHECK(rlen == 2 + 37 && rbuf[0] == 0x7F && rbuf[1] == 0x49 &&
	    rbuf[2] == 0x22 && rbuf[3] == 0x86 && rbuf[4] == 0x20,
	    "7F49 { 86 20 <32> }");
	memcpy(pub, rbuf + 5, 32);
	CHECK(vcard_pubkey(&c, pub2) == 0 && memcmp(pub, pub2, 32) == 0,
	    "public key matches the scalar");
	wg_x25519_pub(pub2, c.dec_key);
	CHECK(memcmp(pub, pub2, 32) == 0, "public = X25519(scalar, 9)");
	CHECK(cmd(&c, 0, 0x47, 0x81, 0x00, "\xB8\x00", 2, 0) == 0x9000 &&
	    memcmp(rbuf + 5, pub, 32) == 0, "read the public key back");
	CHECK(cmd(&c, 0, 0x47, 0x80, 0x00, "\xB6\x00", 2, 0) == 0x6A81,
	    "no signature key generation");

	/* PSO:DECIPHER as GnuPG and wgcard-keyd send it. */
	wg_x25519_generate(eph, ephpub);
	n = 0;
	apdu[n++] = 0x00, apdu[n++] = 0x2A, apdu[n++] = 0x80;
	apdu[n++] = 0x86, apdu[n++] = 0x27, apdu[n++] = 0xA6;
	apdu[n++] = 0x25, apdu[n++] = 0x7F, apdu[n++] = 0x49;
	apdu[n++] = 0x22, apdu[n++] = 0x86, apdu[n++] = 0x20;
	memcpy(apdu + n, ephpub, 32);
	n += 32;
	apdu[n++] = 0x00;
	CHECK(tx(&c, apdu, n) == 0x6982, "DECIPHER needs PW1 (82)");
	CHECK(verify(&c, 0x81, "123456") == 0x9000, "PW1 81");
	CHECK(tx(&c, apdu, n) == 0x6982, "81 is not enough");
	CHECK(verify(&c, 0x82, "123456") == 0x9000, "PW1 82");
	CHECK(tx(&c, apdu, n) == 0x9000 && rlen == 34, "DECIPHER");
	CHECK(wg_x25519(want, eph, pub) == 0, "reference DH");
	CHECK(memcmp(rbuf, want, 32) == 0, "result = X25519(scalar, point)");
	CHECK(c.decipher_count == 1, "counted");
	CHECK(tx(&c, apdu, n) == 0x9000, "PIN state lasts");
	CHECK(tx(&c, apdu, n - 1) == 0x9000, "Le is optional");

	/* Malformed and degenerate points. */
	apdu[5] = 0xA7;
	CHECK(tx(&c, apdu, n) == 0x6A80, "not A6: 6A80");
	apdu[5] = 0xA6;
	apdu[10] = 0x87;
	CHECK(tx(&c, apdu, n) == 0x6A80, "not 86: 6A80");
	apdu[10] = 0x86;
	apdu[11] = 0x1F;
	CHECK(tx(&c, apdu, n) == 0x6A80, "31-byte point: 6A80");
	apdu[11] = 0x20;
	memset(apdu + 12, 0, 32);
	CHECK(tx(&c, apdu, n) == 0x6A80, "all-zero result: 6A80");
	memset(apdu + 12, 0, 32);
	apdu[12] = 1;
	CHECK(tx(&c, apdu, n) == 0x6A80, "point 1 (small order): 6A80");
	CHECK(cmd(&c, 0, 0x2A, 0x80, 0x86, "\xA6\x00", 2, 0) == 0x6A80,
	    "empty cipher DO: 6A80");
	CHECK(cmd(&c, 0, 0x2A, 0x80, 0x87, "\xA6\x00", 2, 0) == 0x6B00,
	    "PSO 80 87: 6B00");

	/* Command chaining: the same DECIPHER in two links. */
	memcpy(apdu + 12, ephpub, 32);
	CHECK(cmd(&c, 0x10, 0x2A, 0x80, 0x86, apdu + 5, 10, -1) == 0x9000,
	    "first link");
	CHECK(cmd(&c, 0x00, 0x2A, 0x80, 0x86, apdu + 15, 29, 0) == 0x9000 &&
	    memcmp(rbuf, want, 32) == 0, "last link: the same secret");

	/* A new attribute (even the same curve plus a format byte) drops
	 * the key and PW1; the same bytes again change nothing. */
	CHECK(cmd(&c, 0, 0xDA, 0x00, 0xC2, cv, sizeof(cv), -1) == 0x9000 &&
	    c.key_status[VCARD_KEY_DEC] != VCARD_KEY_NONE,
	    "same C2: key kept");
	memcpy(tmpl, cv, sizeof(cv));
	tmpl[sizeof(cv)] = 0xFF;
	CHECK(cmd(&c, 0, 0xDA, 0x00, 0xC2, tmpl, sizeof(cv) + 1, -1) ==
	    0x9000, "C2 cv25519 with format byte");
	CHECK(c.key_status[VCARD_KEY_DEC] == VCARD_KEY_NONE,
	    "attribute change deletes the key");
	CHECK(pin_status(&c, 0x82) == 0x63C3,
	    "attribute change resets PW1");
	CHECK(tx(&c, apdu, n) == 0x6982, "DECIPHER refused again");

	/* Import as GnuPG's keytocard: big-endian scalar, 3FFF. */
	wg_x25519_generate(scalar, pub);
	n = 0;
	tmpl[n++] = 0x4D;
	tmpl[n++] = 0;			/* length below */
	tmpl[n++] = 0xB8, tmpl[n++] = 0x00;
	tmpl[n++] = 0x7F, tmpl[n++] = 0x48, tmpl[n++] = 0x02;
	tmpl[n++] = 0x92, tmpl[n++] = 0x20;
	tmpl[n++] = 0x5F, tmpl[n++] = 0x48, tmpl[n++] = 0x20;
	for (i = 0; i < 32; i++)
		tmpl[n++] = scalar[31 - i];
	tmpl[1] = n - 2;
	CHECK(cmd(&c, 0, 0xDB, 0x3F, 0xFF, tmpl, n, -1) == 0x9000,
	    "key import");
	CHECK(vcard_pubkey(&c, pub2) == 0 && memcmp(pub, pub2, 32) == 0,
	    "imported scalar reversed to native");
	CHECK(c.key_status[VCARD_KEY_DEC] == VCARD_KEY_IMPORTED, "imported");
	tmpl[2] = 0xB6;
	CHECK(cmd(&c, 0, 0xDB, 0x3F, 0xFF, tmpl, n, -1) == 0x6A81,
	    "signature key import: 6A81");
	tmpl[2] = 0xB8;
	tmpl[1] = 0x7F;
	CHECK(cmd(&c, 0, 0xDB, 0x3F, 0xFF, tmpl, n, -1) == 0x6A80,
	    "bad outer length: 6A80");
	CHECK(verify(&c, 0x82, "123456") == 0x9000, "PW1 82");
	memcpy(apdu + 12, ephpub, 32);
	n = 45;
	CHECK(tx(&c, apdu, n) == 0x9000, "DECIPHER with the imported key");
	CHECK(wg_x25519(want, eph, pub) == 0 && memcmp(rbuf, want, 32) == 0,
	    "imported key's DH");

	/* PUT DATA: fingerprint, date, name; GET DATA sees them. */
	memset(tmpl, 0xAB, 20);
	CHECK(cmd(&c, 0, 0xDA, 0x00, 0xC8, tmpl, 20, -1) == 0x9000, "C8");
	CHECK(cmd(&c, 0, 0xDA, 0x00, 0xC8, tmpl, 19, -1) == 0x6700,
	    "C8 of 19 bytes: 6700");
	CHECK(cmd(&c, 0, 0xDA, 0x00, 0xCF, "\x01\x02\x03\x04", 4, -1) ==
	    0x9000, "CF");
	CHECK(cmd(&c, 0, 0xDA, 0x00, 0x5B, "Test<<Card", 10, -1) == 0x9000,
	    "5B");
	CHECK(cmd(&c, 0, 0xCA, 0x00, 0xC5, NULL, 0, 0) == 0x9000 &&
	    rlen == 62 && rbuf[20] == 0xAB && rbuf[39] == 0xAB &&
	    rbuf[0] == 0, "C5 has the decryption fingerprint");
	CHECK(cmd(&c, 0, 0xDA, 0x00, 0x99, "x", 1, -1) == 0x6A88,
	    "PUT unknown DO: 6A88");

	/* State file round trip. */
	fd = mkstemp(path);
	CHECK(fd != -1, "mkstemp");
	close(fd);
	CHECK(vcard_save(&c, path) == 0, "save");
	CHECK(vcard_load(&d, path) == 0, "load");
	CHECK(d.serial == 2, "serial kept");
	CHECK(vcard_pubkey(&d, pub2) == 0 && memcmp(pub, pub2, 32) == 0,
	    "key kept");
	CHECK(d.key_status[VCARD_KEY_DEC] == VCARD_KEY_IMPORTED, "status kept");
	CHECK(memcmp(d.fpr[1], c.fpr[1], 20) == 0 &&
	    memcmp(d.gendate[1], "\x01\x02\x03\x04", 4) == 0, "fpr, date kept");
	CHECK(d.name.len == 10 && memcmp(d.name.v, "Test<<Card", 10) == 0,
	    "name kept");
	CHECK(d.attr_len[1] == sizeof(cv) + 1 && d.attr[1][11] == 0xFF,
	    "attributes kept");
	CHECK(d.pw1_tries == c.pw1_tries && d.pw3_len == c.pw3_len &&
	    memcmp(d.pw3, c.pw3, c.pw3_len) == 0, "PINs kept");
	CHECK(!d.pw1_82_ok && !d.pw3_ok, "no verification survives a load");
	select_app(&d);
	verify(&d, 0x82, "123456");
	memcpy(apdu + 12, ephpub, 32);
	CHECK(tx(&d, apdu, 45) == 0x9000 && memcmp(rbuf, want, 32) == 0,
	    "the reloaded card computes the same DH");
	CHECK(d.decipher_count == 1, "counted on the reloaded card");
	vcard_wipe(&d);
	{
		FILE *f = fopen(path, "a");

		fputs("bogus 12\n", f);
		fclose(f);
	}
	CHECK(vcard_load(&d, path) == -1, "unknown key refused");
	unlink(path);
	CHECK(vcard_load(&d, path) == -1 && errno == ENOENT,
	    "missing file: ENOENT");

	/* Factory reset: TERMINATE needs PW3 (or PW3 blocked). */
	select_app(&c);
	CHECK(cmd(&c, 0, 0xE6, 0x00, 0x00, NULL, 0, -1) == 0x6982,
	    "TERMINATE needs PW3");
	verify(&c, 0x83, "x");
	verify(&c, 0x83, "x");
	verify(&c, 0x83, "x");
	CHECK(cmd(&c, 0, 0xE6, 0x00, 0x00, NULL, 0, -1) == 0x9000,
	    "TERMINATE with PW3 blocked");
	CHECK(cmd(&c, 0, 0xCA, 0x00, 0x6E, NULL, 0, 0) == 0x6285,
	    "terminated: 6285");
	CHECK(select_app(&c) == 0x6285, "SELECT of a terminated card: 6285");
	CHECK(cmd(&c, 0, 0x44, 0x00, 0x00, NULL, 0, -1) == 0x9000,
	    "ACTIVATE");
	CHECK(c.key_status[VCARD_KEY_DEC] == VCARD_KEY_NONE &&
	    c.pw3_tries == 3 && c.serial == 2 && c.name.len == 0,
	    "factory state, same serial");
	CHECK(verify(&c, 0x83, "12345678") == 0x9000, "default PW3 again");
	vcard_wipe(&c);
}

static void
test_atr(void)
{
	struct vcard_profile p;
	uint8_t atr[32];
	size_t n, i;
	uint8_t x = 0;

	CHECK(vcard_profile(&p, "default") == 0, "default profile");
	n = vcard_atr(&p, atr);
	CHECK(n > 4 && n <= 32 && atr[0] == 0x3B, "ATR");
	for (i = 1; i < n; i++)
		x ^= atr[i];
	CHECK(x == 0, "ATR checksum");
	CHECK(atr[1] & 0x80 && atr[2] == 0x80 && atr[3] == 0x01,
	    "ATR offers T=0 and T=1");
	CHECK(vcard_profile_set(&p, "t0=1") == 0, "knob t0=1");
	n = vcard_atr(&p, atr);
	CHECK(n == 2 + (size_t)(atr[1] & 0x0F) && (atr[1] & 0xF0) == 0,
	    "T=0 ATR: no interface bytes, no TCK");
}

/* ------------------------------------------------------------ profiles */

static void
hex_in(const char *h, uint8_t *out, size_t n)
{
	size_t i;
	unsigned int b;

	for (i = 0; i < n; i++) {
		sscanf(h + 2 * i, "%2x", &b);
		out[i] = b;
	}
}

/* A card with a profile, KDF applied, OpenPGP selected. */
static void
card_with(struct vcard *c, const char *profile)
{
	vcard_init(c, 0x1234);
	CHECK(vcard_profile(&c->prof, profile) == 0, "profile %s", profile);
	vcard_apply_profile(c);
	select_app(c);
}

/*
 * t0=1: a case 4 command with its Le is refused (what a T=0 card sees
 * from a reader that passes APDUs through), without it the answer comes
 * by 61xx and GET RESPONSE; respmax=N: at most N bytes per answer, the
 * rest by GET RESPONSE, whatever Le asked.
 */
static void
test_t0_respmax(void)
{
	static const uint8_t cv[] = { 0x12, 0x2B, 0x06, 0x01, 0x04, 0x01,
	    0x97, 0x55, 0x01, 0x05, 0x01 };
	struct vcard c;
	uint8_t got[64];
	size_t have;
	unsigned int sw;

	card_with(&c, "default");
	CHECK(vcard_profile_set(&c.prof, "t0=1") == 0, "t0=1");
	CHECK(verify(&c, 0x83, "12345678") == 0x9000, "T=0: VERIFY (case 3)");
	CHECK(cmd(&c, 0, 0xDA, 0x00, 0xC2, cv, sizeof(cv), -1) == 0x9000,
	    "T=0: PUT DATA (case 3)");
	CHECK(cmd(&c, 0, 0x47, 0x80, 0x00, "\xB8\x00", 2, 0) == 0x6700,
	    "T=0: case 4 with Le: 6700");
	sw = cmd(&c, 0, 0x47, 0x80, 0x00, "\xB8\x00", 2, -1);
	CHECK(sw == 0x6125 && rlen == 2, "T=0: case 4 without Le: 6125, "
	    "no data (%04x, %zu)", sw, rlen);
	CHECK(cmd(&c, 0, 0xC0, 0, 0, NULL, 0, 0x25) == 0x9000 &&
	    rlen == 2 + 37 && rbuf[0] == 0x7F && rbuf[1] == 0x49,
	    "T=0: GET RESPONSE gives the key");
	CHECK(cmd(&c, 0, 0xCA, 0x00, 0x4F, NULL, 0, 0) == 0x9000 &&
	    rlen == 2 + 16, "T=0: GET DATA (case 2)");
	vcard_wipe(&c);

	card_with(&c, "default");
	CHECK(vcard_profile_set(&c.prof, "respmax=0") == -1 &&
	    vcard_profile_set(&c.prof, "respmax=257") == -1,
	    "respmax out of range");
	CHECK(vcard_profile_set(&c.prof, "respmax=5") == 0, "respmax=5");
	sw = cmd(&c, 0, 0xCA, 0x00, 0x4F, NULL, 0, 0);
	CHECK(sw == 0x610B && rlen == 2 + 5, "AID: 5 bytes, 610B");
	memcpy(got, rbuf, 5);
	have = 5;
	while ((sw & 0xFF00) == 0x6100 && have < sizeof(got) - 5) {
		sw = cmd(&c, 0, 0xC0, 0, 0, NULL, 0, sw & 0xFF);
		CHECK(rlen >= 2 && rlen - 2 <= 5, "at most 5 bytes a time");
		memcpy(got + have, rbuf, rlen - 2);
		have += rlen - 2;
	}
	CHECK(sw == 0x9000 && have == 16 && got[0] == 0xD2 && got[5] == 0x01,
	    "the AID whole after GET RESPONSE (%zu bytes)", have);
	vcard_wipe(&c);
}

/* The S2K hash of a PIN under the card's own F9 (salt of PW1 or PW3). */
static void
kdf_pin(struct vcard *c, int admin, const char *pin, uint8_t h[32])
{
	const uint8_t *f9 = c->kdf;
	uint32_t count = (uint32_t)f9[8] << 24 | f9[9] << 16 | f9[10] << 8 |
	    f9[11];

	/* The short form (90 bytes) has one salt for all. */
	vcard_s2k((const uint8_t *)pin, strlen(pin),
	    f9 + (admin && c->kdf_len == 110 ? 34 : 14), count, h);
}

static unsigned int
verify_kdf(struct vcard *c, uint8_t p2, const char *pin)
{
	uint8_t h[32];

	kdf_pin(c, p2 == 0x83, pin, h);
	return cmd(c, 0, 0x20, 0x00, p2, h, 32, -1);
}

static unsigned int
decipher_point(struct vcard *c, const uint8_t pt[32])
{
	uint8_t d[39] = { 0xA6, 0x25, 0x7F, 0x49, 0x22, 0x86, 0x20 };

	memcpy(d + 7, pt, 32);
	return cmd(c, 0, 0x2A, 0x80, 0x86, d, sizeof(d), 0);
}

static void
test_s2k(void)
{
	uint8_t salt[8] = { 1, 2, 3, 4, 5, 6, 7, 8 }, h[32], want[32];

	/* Known answers from Python's hashlib over (salt || PIN) repeated. */
	vcard_s2k((const uint8_t *)"123456", 6, salt, 1024, h);
	hex_in("ac805e01eb42490a30fa9638ec25fab1c76ff397e6306244069c07854c781da5",
	    want, 32);
	CHECK(memcmp(h, want, 32) == 0, "S2K SHA-256, count 1024");
	vcard_s2k((const uint8_t *)"123456", 6, salt, 1, h);
	hex_in("1ae0f1043e1492a1acffc2319de52fa4713cf4bfd7123563345550f0da8eee9a",
	    want, 32);
	CHECK(memcmp(h, want, 32) == 0, "S2K: a count below salt+PIN "
	    "hashes them once");
}

static void
test_profile_knobs(void)
{
	struct vcard_profile p;

	CHECK(vcard_profile(&p, "nosuchtoken") == -1, "unknown profile");
	CHECK(vcard_profile(&p, "default") == 0 && p.kdf == VCARD_KDF_NONE &&
	    p.select_clears && p.wrong_pin_sw == 0, "default is today's card");
	CHECK(vcard_profile_set(&p, "kdf=6985") == 0 &&
	    p.kdf == VCARD_KDF_STRICT && p.kdf_sw == 0x6985, "kdf=6985");
	CHECK(vcard_profile_set(&p, "kdf=9000") == -1, "kdf=9000 refused");
	CHECK(vcard_profile_set(&p, "wrongpin=6982") == 0 &&
	    p.wrong_pin_sw == 0x6982, "wrongpin=6982");
	CHECK(vcard_profile_set(&p, "wrongpin=9000") == -1 &&
	    vcard_profile_set(&p, "wrongpin=0") == -1 &&
	    p.wrong_pin_sw == 0x6982, "wrongpin=9000, =0 refused, unchanged");
	CHECK(vcard_profile_set(&p, "wrongpin=63cx") == 0 &&
	    p.wrong_pin_sw == 0, "wrongpin=63cx");
	CHECK(vcard_profile_set(&p, "verifysw=6F00") == 0 &&
	    p.verify_sw == 0x6F00 && vcard_profile_set(&p, "verifysw=63cx") ==
	    -1 && vcard_profile_set(&p, "verifysw=0") == 0 && p.verify_sw == 0,
	    "verifysw=6F00, =63cx refused, =0");
	CHECK(vcard_profile_set(&p, "selectsw=6A82") == 0 &&
	    p.select_sw == 0x6A82 && vcard_profile_set(&p, "selectsw=9000") ==
	    -1 && vcard_profile_set(&p, "selectsw=0") == 0 && p.select_sw == 0,
	    "selectsw=6A82, =9000 refused, =0");
	CHECK(vcard_profile_set(&p, "unselected=0") == -1 &&
	    vcard_profile_set(&p, "foreign=6E00") == 0 &&
	    p.foreign_sw == 0x6E00, "unselected=0 refused, foreign=6E00");
	CHECK(vcard_profile_set(&p, "apps=piv,oath") == 0 &&
	    p.apps == (1 << VCARD_APP_PIV | 1 << VCARD_APP_OATH), "apps");
	CHECK(vcard_profile_set(&p, "apps=piv,nfc") == -1, "unknown app");
	CHECK(vcard_profile_set(&p, "verify=900") == 0 && p.verify_ms == 900,
	    "verify=900");
	CHECK(vcard_profile_set(&p, "verify=-1") == -1, "negative delay");
	CHECK(vcard_profile_set(&p, "touchtimeout=0") == -1,
	    "a zero touch timeout is refused");
	CHECK(vcard_profile_set(&p, "noequals") == -1, "no '='");
	CHECK(vcard_profile_set(&p, "color=red") == -1, "unknown knob");
}

static void
test_kdf(void)
{
	struct vcard c;
	uint8_t f9[110], h[32];
	size_t n;

	/* The default card has no KDF-DO, as before. */
	card_with(&c, "default");
	CHECK(cmd(&c, 0, 0xCA, 0x00, 0xC0, NULL, 0, 0) == 0x9000 &&
	    (rbuf[0] & 0x01) == 0, "default: C0 without the KDF bit");
	CHECK(cmd(&c, 0, 0xCA, 0x00, 0xF9, NULL, 0, 0) == 0x6A88 &&
	    !vcard_kdf_on(&c), "default: no F9");
	vcard_wipe(&c);

	/* Gnuk: strict; a raw PIN is 6985 and spends nothing. */
	card_with(&c, "gnuk");
	CHECK(cmd(&c, 0, 0xCA, 0x00, 0xC0, NULL, 0, 0) == 0x9000 &&
	    (rbuf[0] & 0x01) == 1, "gnuk: C0 has the KDF bit");
	CHECK(cmd(&c, 0, 0xCA, 0x00, 0xF9, NULL, 0, 0) == 0x9000 &&
	    rlen == 110 + 2, "gnuk: F9, the 110-byte form");
	CHECK(rbuf[0] == 0x81 && rbuf[2] == 0x03 && rbuf[3] == 0x82 &&
	    rbuf[5] == 0x08 && rbuf[6] == 0x83 && rbuf[12] == 0x84 &&
	    rbuf[22] == 0x85 && rbuf[32] == 0x86 && rbuf[42] == 0x87 &&
	    rbuf[76] == 0x88, "F9 laid out as GnuPG's kdf-setup writes it");
	CHECK(vcard_kdf_on(&c), "gnuk: KDF on");
	CHECK(verify(&c, 0x82, "123456") == 0x6985 && c.pw1_tries == 3,
	    "gnuk: a raw PIN is 6985, no retry spent");
	CHECK(verify_kdf(&c, 0x82, "123456") == 0x9000,
	    "gnuk: the S2K hash of the PIN verifies");
	kdf_pin(&c, 0, "123456", h);
	CHECK(memcmp(c.kdf + 44, h, 32) == 0, "87: hash of the factory PW1");
	CHECK(verify_kdf(&c, 0x83, "12345678") == 0x9000,
	    "gnuk: PW3 by its own salt");
	vcard_wipe(&c);

	/* Nitrokey 3: comparing; a raw PIN spends a retry. */
	card_with(&c, "nitrokey3");
	CHECK(verify(&c, 0x82, "123456") == 0x63C2,
	    "nitrokey3: a raw PIN spends a retry (63C2)");
	CHECK(verify_kdf(&c, 0x82, "123456") == 0x9000 && c.pw1_tries == 3,
	    "nitrokey3: the hash verifies, counter back to 3");
	vcard_wipe(&c);

	/* SmartPGP: strict with 6700. */
	card_with(&c, "smartpgp");
	CHECK(verify(&c, 0x82, "123456") == 0x6700 && c.pw1_tries == 3,
	    "smartpgp: a raw PIN is 6700, no retry spent");
	vcard_wipe(&c);

	/* PIN set while KDF is on is stored hashed. */
	card_with(&c, "yubikey5");
	CHECK(vcard_set_pin(&c, 1, "abcdefgh") == 0, "set PW1");
	CHECK(verify_kdf(&c, 0x82, "abcdefgh") == 0x9000,
	    "a PIN set with KDF on is its hash");

	/*
	 * PUT DATA F9 on a replacing card (YubiKey): 87/88 become the
	 * PINs, the resetting code goes. A short form with one salt.
	 */
	memset(f9, 0, sizeof(f9));
	memcpy(f9, "\x81\x01\x03\x82\x01\x08\x83\x04\x00\x00\x04\x00"
	    "\x84\x08", 14);
	memset(f9 + 14, 0x5A, 8);
	f9[22] = 0x87, f9[23] = 0x20;
	vcard_s2k((const uint8_t *)"123456", 6, f9 + 14, 1024, f9 + 24);
	f9[56] = 0x88, f9[57] = 0x20;
	vcard_s2k((const uint8_t *)"12345678", 8, f9 + 14, 1024, f9 + 58);
	CHECK(cmd(&c, 0, 0xDA, 0x00, 0xF9, f9, 90, -1) == 0x6982,
	    "PUT DATA F9 needs PW3");
	CHECK(verify_kdf(&c, 0x83, "12345678") == 0x9000, "PW3");
	f9[3] = 0x99;
	CHECK(cmd(&c, 0, 0xDA, 0x00, 0xF9, f9, 90, -1) == 0x6A80,
	    "a malformed F9 is refused");
	f9[3] = 0x82;
	CHECK(cmd(&c, 0, 0xDA, 0x00, 0xF9, f9, 90, -1) == 0x9000,
	    "PUT DATA F9, short form");
	CHECK(verify_kdf(&c, 0x82, "123456") == 0x9000,
	    "PW1 is the factory PIN's hash under the new salt");
	CHECK(cmd(&c, 0, 0xDA, 0x00, 0xF9, "\x81\x01\x00", 3, -1) == 0x6982,
	    "PUT DATA F9 forgot PW3");
	CHECK(verify_kdf(&c, 0x83, "12345678") == 0x9000, "PW3 again");
	CHECK(cmd(&c, 0, 0xDA, 0x00, 0xF9, "\x81\x01\x00", 3, -1) == 0x9000,
	    "KDF off");
	CHECK(verify(&c, 0x82, "123456") == 0x9000,
	    "KDF off: the raw factory PIN");
	n = cmd(&c, 0, 0xCA, 0x00, 0xF9, NULL, 0, 0);
	CHECK(n == 0x9000 && rlen == 5 && rbuf[2] == 0x00, "F9 reads 81 01 00");
	CHECK(!vcard_kdf_on(&c), "KDF off after PUT DATA F9 81 01 00");
	vcard_wipe(&c);

	/* A storing card (Nitrokey 3) keeps its PINs on PUT DATA F9. */
	card_with(&c, "nitrokey3");
	CHECK(verify_kdf(&c, 0x83, "12345678") == 0x9000, "nk3 PW3");
	memcpy(f9, c.kdf, 110);
	CHECK(cmd(&c, 0, 0xDA, 0x00, 0xF9, "\x81\x01\x00", 3, -1) == 0x9000,
	    "nk3: KDF off stored");
	CHECK(verify(&c, 0x82, "123456") == 0x63C2,
	    "nk3: the PINs stay hashes (GnuPG changes them itself)");
	vcard_wipe(&c);
}

static void
test_quirks(void)
{
	static const uint8_t piv[] = { 0xA0, 0x00, 0x00, 0x03, 0x08 };
	static const uint8_t mgmt[] = { 0xA0, 0x00, 0x00, 0x05, 0x27, 0x47,
	    0x11, 0x17 };
	struct vcard c;
	uint8_t pt[32], zero[32];
	const uint8_t *v;
	size_t vlen;

	/* Attributes: Nitrokey 3 appends FF, YubiKey 5.2 a bogus byte. */
	card_with(&c, "nitrokey3");
	CHECK(cmd(&c, 0, 0xCA, 0x00, 0xC2, NULL, 0, 0) == 0x9000 &&
	    rlen == 12 + 2 && rbuf[0] == 0x12 && rbuf[11] == 0xFF,
	    "nitrokey3: C2 ends in FF");
	CHECK(cmd(&c, 0, 0xCA, 0x00, 0x6E, NULL, 0, 0) == 0x9000 &&
	    (v = find_tag(rbuf, rlen - 2, 0xC2, &vlen)) != NULL &&
	    vlen == 12 && v[11] == 0xFF, "nitrokey3: and inside 6E");
	CHECK(cmd(&c, 0, 0xCA, 0x7F, 0x74, NULL, 0, 0) == 0x9000 &&
	    rlen == 5 && rbuf[2] == 0x20, "7F74: a button");
	CHECK(cmd(&c, 0, 0xCA, 0x00, 0xD7, NULL, 0, 0) == 0x9000 &&
	    rlen == 4 && rbuf[0] == 0 && rbuf[1] == 0x20, "UIF D7 off");
	CHECK(cmd(&c, 0, 0xDA, 0x00, 0xD7, "\x01\x20", 2, -1) == 0x6982,
	    "UIF needs PW3");
	CHECK(verify_kdf(&c, 0x83, "12345678") == 0x9000 &&
	    cmd(&c, 0, 0xDA, 0x00, 0xD7, "\x01\x20", 2, -1) == 0x9000,
	    "touch policy on for decryption");
	vcard_generate(&c, NULL);
	CHECK(verify_kdf(&c, 0x82, "123456") == 0x9000, "PW1");
	randombytes_buf(pt, 32);
	pt[31] &= 0x7F;
	CHECK(decipher_point(&c, pt) == 0x9000 && c.touch_pending,
	    "DECIPHER with UIF on waits for a touch");
	CHECK(pin_status(&c, 0x82) == 0x9000,
	    "nitrokey3: PW1 verified");
	select_app(&c);
	CHECK(pin_status(&c, 0x82) == 0x9000,
	    "nitrokey3: SELECT keeps PIN state");
	vcard_wipe(&c);

	card_with(&c, "yubikey5");
	CHECK(cmd(&c, 0, 0xCA, 0x00, 0xC2, NULL, 0, 0) == 0x9000 &&
	    rlen == 12 + 2 && rbuf[11] != 0x00 && rbuf[11] != 0xFF,
	    "yubikey5: C2 ends in a bogus byte");
	CHECK(cmd(&c, 0, 0xCA, 0x00, 0x4F, NULL, 0, 0) == 0x9000 &&
	    rbuf[8] == 0x00 && rbuf[9] == 0x06, "yubikey5: manufacturer 0006");
	/* Another application: PIN state gone, OpenPGP answers 6D00. */
	CHECK(verify_kdf(&c, 0x82, "123456") == 0x9000, "yk PW1");
	CHECK(cmd(&c, 0, 0xA4, 0x04, 0x00, piv, sizeof(piv), -1) == 0x9000 &&
	    c.app == VCARD_APP_PIV, "SELECT PIV");
	CHECK(cmd(&c, 0, 0xCA, 0x00, 0x6E, NULL, 0, 0) == 0x6D00,
	    "GET DATA to PIV: 6D00");
	CHECK(decipher_point(&c, pt) == 0x6D00, "DECIPHER to PIV: 6D00");
	select_app(&c);
	CHECK(pin_status(&c, 0x82) == 0x63C3,
	    "back to OpenPGP: PW1 no longer verified");
	CHECK(cmd(&c, 0, 0xA4, 0x04, 0x00, "\xA0\x00\x00\x03\x08\x00\x00"
	    "\x10\x00\x01\x00", 11, -1) == 0x9000 && c.app == VCARD_APP_PIV,
	    "SELECT PIV by its full AID");
	vcard_select_app(&c, VCARD_APP_OATH);
	CHECK(pin_status(&c, 0x82) == 0x6D00,
	    "OATH selected by someone else: 6D00");
	/* selectsw: SELECT OpenPGP fails, OATH stays selected. */
	CHECK(vcard_profile_set(&c.prof, "selectsw=6A82") == 0 &&
	    select_app(&c) == 0x6A82 && c.app == VCARD_APP_OATH &&
	    pin_status(&c, 0x82) == 0x6D00, "selectsw=6A82: SELECT OpenPGP "
	    "6A82, the other application still selected");
	CHECK(vcard_profile_set(&c.prof, "selectsw=0") == 0 &&
	    select_app(&c) == 0x9000 && c.app == VCARD_APP_OPENPGP,
	    "selectsw=0: SELECT OpenPGP again");
	vcard_select_app(&c, VCARD_APP_OATH);
	/* GnuPG's YubiKey detection: 3F00 fails, the management app reads. */
	CHECK(cmd(&c, 0, 0xA4, 0x00, 0x0C, "\x3F\x00", 2, -1) == 0x6D00,
	    "yubikey5: SELECT 3F00 6D00");
	CHECK(cmd(&c, 0, 0xA4, 0x04, 0x00, mgmt, sizeof(mgmt), -1) == 0x9000,
	    "SELECT management");
	CHECK(cmd(&c, 0, 0x1D, 0x00, 0x00, NULL, 0, 0) == 0x9000 &&
	    rlen == 15 + 2 && rbuf[0] == 14 &&
	    (v = find_tag(rbuf + 1, rlen - 3, 0x05, &vlen)) != NULL &&
	    vlen == 3 && v[0] == 5 && v[1] == 2, "read config: version 5.2");
	select_app(&c);
	CHECK(cmd(&c, 0, 0xF1, 0x00, 0x00, NULL, 0, 0) == 0x9000 &&
	    rlen == 3 + 2 && rbuf[0] == 0x05 && rbuf[1] == 0x02 &&
	    rbuf[2] == 0x07, "yubikey5: GET VERSION 05 02 07 (BCD)");
	CHECK(vcard_profile_set(&c.prof, "fw=5.12.1") == 0 &&
	    cmd(&c, 0, 0xF1, 0x00, 0x00, NULL, 0, 0) == 0x9000 &&
	    rbuf[0] == 0x05 && rbuf[1] == 0x12 && rbuf[2] == 0x01,
	    "fw=5.12.1: GET VERSION 05 12 01");
	CHECK(vcard_profile_set(&c.prof, "fw=5.2") == -1 &&
	    vcard_profile_set(&c.prof, "fw=5.2.100") == -1, "fw: X.Y.Z only");
	vcard_wipe(&c);
	card_with(&c, "default");
	CHECK(cmd(&c, 0, 0xF1, 0x00, 0x00, NULL, 0, 0) == 0x6D00,
	    "default: no GET VERSION (6D00)");
	vcard_wipe(&c);

	/* Gnuk: 6982 for a wrong PIN, zero for a low-order point. */
	card_with(&c, "gnuk");
	CHECK(verify_kdf(&c, 0x82, "654321") == 0x6982 && c.pw1_tries == 2,
	    "gnuk: a wrong PIN is 6982, one retry spent");
	CHECK(verify_kdf(&c, 0x82, "123456") == 0x9000, "gnuk PW1");
	vcard_generate(&c, NULL);
	memset(zero, 0, sizeof(zero));
	CHECK(decipher_point(&c, zero) == 0x9000 && rlen == 34 &&
	    memcmp(rbuf, zero, 32) == 0,
	    "gnuk: a low-order point is 9000 and 32 zero bytes");
	vcard_reset_session(&c);
	CHECK(cmd(&c, 0, 0xCA, 0x00, 0x6E, NULL, 0, 0) == 0x6A88,
	    "gnuk: before SELECT, 6A88");
	CHECK(cmd(&c, 0, 0xA4, 0x04, 0x00, piv, sizeof(piv), -1) == 0x6A82,
	    "gnuk: no PIV");
	vcard_wipe(&c);

	card_with(&c, "default");
	vcard_generate(&c, NULL);
	verify(&c, 0x82, "123456");
	CHECK(decipher_point(&c, zero) == 0x6A80,
	    "default: a low-order point is 6A80");
	vcard_wipe(&c);

	/* SmartPGP: 6982 for a wrong PIN; SELECT clears PIN state. */
	card_with(&c, "smartpgp");
	CHECK(verify_kdf(&c, 0x82, "654321") == 0x6982, "smartpgp: 6982");
	CHECK(verify_kdf(&c, 0x82, "123456") == 0x9000, "smartpgp PW1");
	select_app(&c);
	CHECK(pin_status(&c, 0x82) == 0x63C3,
	    "smartpgp: SELECT clears PIN state");
	/* Terminated: 6285 until ACTIVATE; the profile survives it. */
	CHECK(verify_kdf(&c, 0x83, "12345678") == 0x9000, "smartpgp PW3");
	CHECK(cmd(&c, 0, 0xE6, 0x00, 0x00, NULL, 0, -1) == 0x9000,
	    "TERMINATE");
	CHECK(select_app(&c) == 0x6285, "SELECT of a terminated app: 6285");
	CHECK(cmd(&c, 0, 0xCA, 0x00, 0x6E, NULL, 0, 0) == 0x6285,
	    "GET DATA: 6285");
	CHECK(cmd(&c, 0, 0x44, 0x00, 0x00, NULL, 0, -1) == 0x9000,
	    "ACTIVATE");
	CHECK(strcmp(c.prof.name, "smartpgp") == 0 && c.kdf_len == 0,
	    "ACTIVATE: same profile, factory state without KDF");
	CHECK(verify(&c, 0x82, "123456") == 0x9000,
	    "ACTIVATE: the factory PIN");
	vcard_wipe(&c);
}

static void
test_profile_state(void)
{
	struct vcard c, d;
	char path[] = "/tmp/test_vcard_kdf.XXXXXX";
	int fd;

	card_with(&c, "yubikey5");
	c.uif[1] = 1;
	fd = mkstemp(path);
	CHECK(fd != -1, "mkstemp");
	close(fd);
	CHECK(vcard_save(&c, path) == 0, "save with KDF");
	CHECK(vcard_load(&d, path) == 0, "load with KDF");
	CHECK(d.kdf_len == 110 && memcmp(d.kdf, c.kdf, 110) == 0 &&
	    d.uif[1] == 1 && d.pw1_len == 32 &&
	    memcmp(d.pw1, c.pw1, 32) == 0, "KDF-DO, UIF, hashed PIN kept");
	d.prof = c.prof;
	select_app(&d);
	CHECK(verify_kdf(&d, 0x82, "123456") == 0x9000,
	    "the loaded card verifies the hash");
	unlink(path);
	vcard_wipe(&c);
	vcard_wipe(&d);
}

int
main(void)
{
	wg_crypto_init();
	test_select_and_get_data();
	test_verify();
	test_keys();
	test_atr();
	test_t0_respmax();
	test_s2k();
	test_profile_knobs();
	test_kdf();
	test_quirks();
	test_profile_state();
	return test_done();
}
