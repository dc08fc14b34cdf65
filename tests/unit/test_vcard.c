/*
 * test_vcard.c: the virtual OpenPGP card's command interpreter, without
 * sockets: SELECT, GET DATA (6E parsed as GnuPG does), VERIFY (right,
 * wrong, blocked, status, reset), CHANGE REFERENCE DATA, RESET RETRY
 * COUNTER, PUT DATA (C2, fingerprints), GENERATE, key import (3FFF),
 * PSO:DECIPHER against wg_x25519, chaining, GET RESPONSE, extended
 * APDUs, terminate/activate, and the state file round trip.
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
	CHECK(cmd(&c, 0, 0x20, 0x00, 0x82, NULL, 0, -1) == 0x63C3,
	    "status of unverified PW1: 63C3");
	CHECK(verify(&c, 0x82, "123456") == 0x9000, "right PW1");
	CHECK(cmd(&c, 0, 0x20, 0x00, 0x82, NULL, 0, -1) == 0x9000,
	    "status of verified PW1: 9000");
	CHECK(cmd(&c, 0, 0x20, 0x00, 0x81, NULL, 0, -1) == 0x63C3,
	    "81 is verified apart from 82");
	CHECK(cmd(&c, 0, 0x20, 0xFF, 0x82, NULL, 0, -1) == 0x9000,
	    "VERIFY FF resets");
	CHECK(cmd(&c, 0, 0x20, 0x00, 0x82, NULL, 0, -1) == 0x63C3,
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
	CHECK(cmd(&c, 0, 0x20, 0x00, 0x82, NULL, 0, -1) == 0x6983,
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
	CHECK(cmd(&c, 0, 0x20, 0x00, 0x82, NULL, 0, -1) == 0x63C3,
	    "SELECT forgets the verification");
	CHECK(verify(&c, 0x82, "222222") == 0x9000, "PW1 again");
	vcard_reset_session(&c);
	CHECK(cmd(&c, 0, 0x20, 0x00, 0x82, NULL, 0, -1) == 0x6985,
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
	CHECK(cmd(&c, 0, 0x20, 0x00, 0x82, NULL, 0, -1) == 0x63C3,
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
	uint8_t atr[32];
	size_t n = vcard_atr(atr), i;
	uint8_t x = 0;

	CHECK(n > 4 && n <= 32 && atr[0] == 0x3B, "ATR");
	for (i = 1; i < n; i++)
		x ^= atr[i];
	CHECK(x == 0, "ATR checksum");
}

int
main(void)
{
	wg_crypto_init();
	test_select_and_get_data();
	test_verify();
	test_keys();
	test_atr();
	return test_done();
}
