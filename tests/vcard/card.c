/*
 * card.c: the virtual OpenPGP card's command interpreter and its state
 * file. See card.h for what is implemented and why.
 */
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "crypto.h"
#include "card.h"

#define SW_OK			0x9000
#define SW_TERMINATED		0x6285
#define SW_WRONG_LENGTH		0x6700
#define SW_SECURITY		0x6982
#define SW_BLOCKED		0x6983
#define SW_CONDITIONS		0x6985
#define SW_WRONG_DATA		0x6A80
#define SW_FUNC_UNSUPPORTED	0x6A81
#define SW_FILE_NOT_FOUND	0x6A82
#define SW_NOT_FOUND		0x6A88
#define SW_WRONG_P1P2		0x6B00
#define SW_INS_UNSUPPORTED	0x6D00
#define SW_CLA_UNSUPPORTED	0x6E00
#define SW_CHAIN_EXPECTED	0x6883

/* D2 76 00 01 24 01: the OpenPGP RID and application; 03 04: version. */
static const uint8_t vcard_rid[] = { 0xD2, 0x76, 0x00, 0x01, 0x24, 0x01 };
/*
 * Historical bytes: category 00, card capabilities (compact TLV 73:
 * DF selection by full and partial name, no data coding byte, command
 * chaining but no extended Lc/Le), status 05 90 00.
 */
static const uint8_t vcard_hist[] = {
	0x00, 0x73, 0xC0, 0x01, 0x80, 0x05, 0x90, 0x00
};
/*
 * Extended capabilities: GET CHALLENGE, key import, PW status
 * changeable, private DOs, algorithm attributes changeable; no secure
 * messaging; challenge up to 255 bytes; no cardholder certificate;
 * special DOs up to 255 bytes; no PIN block 2; no MSE.
 */
static const uint8_t vcard_extcap[] = {
	0x7C, 0x00, 0x00, 0xFF, 0x00, 0x00, 0x00, 0xFF, 0x00, 0x00
};
/* ECDH (18) on Curve25519, OID 1.3.6.1.4.1.3029.1.5.1. */
static const uint8_t vcard_attr_cv25519[] = {
	0x12, 0x2B, 0x06, 0x01, 0x04, 0x01, 0x97, 0x55, 0x01, 0x05, 0x01
};
/* EdDSA (22) on Ed25519, OID 1.3.6.1.4.1.11591.15.1. */
static const uint8_t vcard_attr_ed25519[] = {
	0x16, 0x2B, 0x06, 0x01, 0x04, 0x01, 0xDA, 0x47, 0x0F, 0x01
};
static const uint8_t vcard_crt[3] = { 0xB6, 0xB8, 0xA4 };

struct apdu {
	uint8_t		cla, ins, p1, p2;
	const uint8_t	*data;
	size_t		lc;
	size_t		le;	/* 0: none given */
};

/* A bounded output buffer; overflow sets err and drops bytes. */
struct obuf {
	uint8_t		*p;
	size_t		len, cap;
	int		err;
};

static void
ob_put(struct obuf *ob, const void *v, size_t n)
{
	if (ob->err || n > ob->cap - ob->len) {
		ob->err = 1;
		return;
	}
	memcpy(ob->p + ob->len, v, n);
	ob->len += n;
}

static void
ob_byte(struct obuf *ob, uint8_t b)
{
	ob_put(ob, &b, 1);
}

static void
ob_tag(struct obuf *ob, unsigned int tag)
{
	if (tag > 0xFF)
		ob_byte(ob, tag >> 8);
	ob_byte(ob, tag & 0xFF);
}

static void
ob_len(struct obuf *ob, size_t n)
{
	if (n < 0x80) {
		ob_byte(ob, n);
	} else if (n < 0x100) {
		ob_byte(ob, 0x81);
		ob_byte(ob, n);
	} else {
		ob_byte(ob, 0x82);
		ob_byte(ob, n >> 8);
		ob_byte(ob, n & 0xFF);
	}
}

static void
ob_tlv(struct obuf *ob, unsigned int tag, const void *v, size_t n)
{
	ob_tag(ob, tag);
	ob_len(ob, n);
	ob_put(ob, v, n);
}

/* Wrap what was written from offset start in tag + length. */
static void
ob_wrap(struct obuf *ob, size_t start, unsigned int tag)
{
	uint8_t hdr[5];
	struct obuf h = { hdr, 0, sizeof(hdr), 0 };
	size_t n;

	if (ob->err)
		return;
	n = ob->len - start;
	ob_tag(&h, tag);
	ob_len(&h, n);
	if (h.len > ob->cap - ob->len) {
		ob->err = 1;
		return;
	}
	memmove(ob->p + start + h.len, ob->p + start, n);
	memcpy(ob->p + start, hdr, h.len);
	ob->len += h.len;
}

/*
 * BER-TLV reader: one tag (1 or 2 bytes) and its length at *pp; moves
 * *pp to the value. -1 if malformed or longer than what is left.
 */
static int
tlv_next(const uint8_t **pp, const uint8_t *end, unsigned int *tag,
    size_t *len)
{
	const uint8_t *p = *pp;
	size_t n;

	if (p >= end)
		return -1;
	*tag = *p++;
	if ((*tag & 0x1F) == 0x1F) {
		if (p >= end)
			return -1;
		*tag = (*tag << 8) | *p++;
	}
	if (p >= end)
		return -1;
	n = *p++;
	if (n == 0x81) {
		if (p >= end)
			return -1;
		n = *p++;
	} else if (n == 0x82) {
		if (end - p < 2)
			return -1;
		n = (size_t)p[0] << 8 | p[1];
		p += 2;
	} else if (n > 0x80) {
		return -1;
	}
	if ((size_t)(end - p) < n)
		return -1;
	*len = n;
	*pp = p;
	return 0;
}

/* ------------------------------------------------------------ state */

static void
bytes_set(struct vcard_bytes *b, const void *v, size_t n)
{
	memcpy(b->v, v, n);
	b->len = n;
}

void
vcard_init(struct vcard *s, uint32_t serial)
{
	sodium_memzero(s, sizeof(*s));
	s->serial = serial;
	memcpy(s->pw1, "123456", 6);
	s->pw1_len = 6;
	memcpy(s->pw3, "12345678", 8);
	s->pw3_len = 8;
	s->pw1_tries = s->pw3_tries = VCARD_TRIES;
	s->rc_tries = 0;
	s->pw1_multi = 1;
	memcpy(s->attr[0], vcard_attr_ed25519, sizeof(vcard_attr_ed25519));
	s->attr_len[0] = sizeof(vcard_attr_ed25519);
	memcpy(s->attr[1], vcard_attr_cv25519, sizeof(vcard_attr_cv25519));
	s->attr_len[1] = sizeof(vcard_attr_cv25519);
	memcpy(s->attr[2], vcard_attr_ed25519, sizeof(vcard_attr_ed25519));
	s->attr_len[2] = sizeof(vcard_attr_ed25519);
	bytes_set(&s->lang, "en", 2);
	bytes_set(&s->sex, "9", 1);
	s->chain_ins = -1;
	s->dirty = 1;
}

void
vcard_reset_session(struct vcard *s)
{
	s->pw1_81_ok = s->pw1_82_ok = s->pw3_ok = 0;
	s->selected = 0;
	sodium_memzero(s->chain, sizeof(s->chain));
	s->chain_len = 0;
	s->chain_ins = -1;
	sodium_memzero(s->resp, sizeof(s->resp));
	s->resp_len = s->resp_off = 0;
}

void
vcard_wipe(struct vcard *s)
{
	sodium_memzero(s, sizeof(*s));
}

size_t
vcard_atr(uint8_t *atr)
{
	size_t n = 0, i;
	uint8_t tck = 0;

	atr[n++] = 0x3B;			/* direct convention */
	atr[n++] = 0x80 | sizeof(vcard_hist);	/* TD1, K historical */
	atr[n++] = 0x80;			/* TD1: TD2 follows, T=0 */
	atr[n++] = 0x01;			/* TD2: T=1 */
	memcpy(atr + n, vcard_hist, sizeof(vcard_hist));
	n += sizeof(vcard_hist);
	for (i = 1; i < n; i++)
		tck ^= atr[i];
	atr[n++] = tck;
	return n;
}

static int
dec_is_cv25519(const struct vcard *s)
{
	size_t n = s->attr_len[VCARD_KEY_DEC];

	/* An import-format byte (00 or FF) may follow the OID. */
	if (n == sizeof(vcard_attr_cv25519) + 1)
		n--;
	return n == sizeof(vcard_attr_cv25519) &&
	    memcmp(s->attr[VCARD_KEY_DEC], vcard_attr_cv25519, n) == 0;
}

void
vcard_generate(struct vcard *s, uint8_t pub[32])
{
	uint8_t p[32];

	wg_x25519_generate(s->dec_key, p);
	s->key_status[VCARD_KEY_DEC] = VCARD_KEY_GENERATED;
	memset(s->fpr[VCARD_KEY_DEC], 0, 20);
	memset(s->gendate[VCARD_KEY_DEC], 0, 4);
	if (pub != NULL)
		memcpy(pub, p, 32);
	s->dirty = 1;
}

int
vcard_pubkey(const struct vcard *s, uint8_t pub[32])
{
	if (s->key_status[VCARD_KEY_DEC] == VCARD_KEY_NONE)
		return -1;
	wg_x25519_pub(pub, s->dec_key);
	return 0;
}

int
vcard_set_pin(struct vcard *s, int which, const char *pin)
{
	size_t n = strlen(pin);

	if (which == 3) {
		if (n < 8 || n > VCARD_PIN_MAX)
			return -1;
		memcpy(s->pw3, pin, n);
		s->pw3_len = n;
		s->pw3_tries = VCARD_TRIES;
	} else {
		if (n < 6 || n > VCARD_PIN_MAX)
			return -1;
		memcpy(s->pw1, pin, n);
		s->pw1_len = n;
		s->pw1_tries = VCARD_TRIES;
	}
	s->dirty = 1;
	return 0;
}

/* ------------------------------------------------------------ PINs */

static int
pin_eq(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	if (alen != blen || alen == 0)
		return 0;
	return sodium_memcmp(a, b, alen) == 0;
}

/* Check a PIN against its counter; the SW of a failure, or SW_OK. */
static unsigned int
pin_check(struct vcard *s, const uint8_t *pin, size_t pinlen,
    const uint8_t *data, size_t len, int *tries)
{
	if (*tries <= 0)
		return SW_BLOCKED;
	if (!pin_eq(pin, pinlen, data, len)) {
		(*tries)--;
		s->dirty = 1;
		return 0x63C0 | *tries;
	}
	if (*tries != VCARD_TRIES) {
		*tries = VCARD_TRIES;
		s->dirty = 1;
	}
	return SW_OK;
}

static unsigned int
cmd_verify(struct vcard *s, const struct apdu *a)
{
	int *ok, *tries;
	const uint8_t *pin;
	size_t pinlen;
	unsigned int sw;

	switch (a->p2) {
	case 0x81:
		ok = &s->pw1_81_ok;
		pin = s->pw1, pinlen = s->pw1_len, tries = &s->pw1_tries;
		break;
	case 0x82:
		ok = &s->pw1_82_ok;
		pin = s->pw1, pinlen = s->pw1_len, tries = &s->pw1_tries;
		break;
	case 0x83:
		ok = &s->pw3_ok;
		pin = s->pw3, pinlen = s->pw3_len, tries = &s->pw3_tries;
		break;
	default:
		return SW_WRONG_P1P2;
	}
	if (a->p1 == 0xFF) {
		if (a->lc != 0)
			return SW_WRONG_LENGTH;
		*ok = 0;
		return SW_OK;
	}
	if (a->p1 != 0x00)
		return SW_WRONG_P1P2;
	if (a->lc == 0) {
		/* The verification status, spending nothing. */
		if (*ok)
			return SW_OK;
		if (*tries <= 0)
			return SW_BLOCKED;
		return 0x63C0 | *tries;
	}
	*ok = 0;
	sw = pin_check(s, pin, pinlen, a->data, a->lc, tries);
	if (sw == SW_OK)
		*ok = 1;
	return sw;
}

static unsigned int
cmd_change_reference(struct vcard *s, const struct apdu *a)
{
	uint8_t *pin;
	size_t *pinlen, minlen;
	int *tries;
	unsigned int sw;

	if (a->p1 != 0x00)
		return SW_WRONG_P1P2;
	if (a->p2 == 0x81) {
		pin = s->pw1, pinlen = &s->pw1_len, tries = &s->pw1_tries;
		minlen = 6;
	} else if (a->p2 == 0x83) {
		pin = s->pw3, pinlen = &s->pw3_len, tries = &s->pw3_tries;
		minlen = 8;
	} else {
		return SW_WRONG_P1P2;
	}
	/* Old PIN then new PIN; the old one's length splits them. */
	if (a->lc <= *pinlen)
		return SW_WRONG_LENGTH;
	if (*tries <= 0)
		return SW_BLOCKED;
	sw = pin_check(s, pin, *pinlen, a->data, *pinlen, tries);
	if (sw != SW_OK)
		return sw;
	if (a->lc - *pinlen < minlen || a->lc - *pinlen > VCARD_PIN_MAX)
		return SW_WRONG_DATA;
	sodium_memzero(pin, VCARD_PIN_MAX);
	memcpy(pin, a->data + *pinlen, a->lc - *pinlen);
	*pinlen = a->lc - *pinlen;
	*tries = VCARD_TRIES;
	s->dirty = 1;
	return SW_OK;
}

static unsigned int
cmd_reset_retry(struct vcard *s, const struct apdu *a)
{
	const uint8_t *newpin;
	size_t newlen;
	unsigned int sw;

	if (a->p2 != 0x81)
		return SW_WRONG_P1P2;
	if (a->p1 == 0x00) {
		/* Resetting code, then the new PW1. */
		if (s->rc_len == 0)
			return SW_SECURITY;
		if (s->rc_tries <= 0)
			return SW_BLOCKED;
		if (a->lc <= s->rc_len)
			return SW_WRONG_LENGTH;
		sw = pin_check(s, s->rc, s->rc_len, a->data, s->rc_len,
		    &s->rc_tries);
		if (sw != SW_OK)
			return sw;
		newpin = a->data + s->rc_len;
		newlen = a->lc - s->rc_len;
	} else if (a->p1 == 0x02) {
		if (!s->pw3_ok)
			return SW_SECURITY;
		newpin = a->data;
		newlen = a->lc;
	} else {
		return SW_WRONG_P1P2;
	}
	if (newlen < 6 || newlen > VCARD_PIN_MAX)
		return SW_WRONG_DATA;
	sodium_memzero(s->pw1, sizeof(s->pw1));
	memcpy(s->pw1, newpin, newlen);
	s->pw1_len = newlen;
	s->pw1_tries = VCARD_TRIES;
	s->dirty = 1;
	return SW_OK;
}

/* ------------------------------------------------------------ GET DATA */

static void
put_pw_status(const struct vcard *s, struct obuf *ob)
{
	ob_byte(ob, s->pw1_multi ? 0x01 : 0x00);
	ob_byte(ob, VCARD_PIN_MAX);	/* PW1 max length, UTF-8 */
	ob_byte(ob, VCARD_PIN_MAX);	/* resetting code */
	ob_byte(ob, VCARD_PIN_MAX);	/* PW3 */
	ob_byte(ob, s->pw1_tries);
	ob_byte(ob, s->rc_tries);
	ob_byte(ob, s->pw3_tries);
}

static void
put_aid(const struct vcard *s, struct obuf *ob)
{
	ob_put(ob, vcard_rid, sizeof(vcard_rid));
	ob_byte(ob, 0x03);
	ob_byte(ob, 0x04);
	ob_byte(ob, VCARD_MANUFACTURER >> 8);
	ob_byte(ob, VCARD_MANUFACTURER & 0xFF);
	ob_byte(ob, s->serial >> 24);
	ob_byte(ob, s->serial >> 16);
	ob_byte(ob, s->serial >> 8);
	ob_byte(ob, s->serial);
	ob_byte(ob, 0x00);
	ob_byte(ob, 0x00);
}

static void
put_app_data(const struct vcard *s, struct obuf *ob)
{
	uint8_t tmp[3 * 20];
	size_t start, dd, i;

	start = ob->len;
	ob_tag(ob, 0x4F);
	ob_len(ob, 16);
	put_aid(s, ob);
	ob_tlv(ob, 0x5F52, vcard_hist, sizeof(vcard_hist));
	dd = ob->len;
	ob_tlv(ob, 0xC0, vcard_extcap, sizeof(vcard_extcap));
	for (i = 0; i < 3; i++)
		ob_tlv(ob, 0xC1 + i, s->attr[i], s->attr_len[i]);
	ob_tag(ob, 0xC4);
	ob_len(ob, 7);
	put_pw_status(s, ob);
	for (i = 0; i < 3; i++)
		memcpy(tmp + 20 * i, s->fpr[i], 20);
	ob_tlv(ob, 0xC5, tmp, 60);
	for (i = 0; i < 3; i++)
		memcpy(tmp + 20 * i, s->cafpr[i], 20);
	ob_tlv(ob, 0xC6, tmp, 60);
	for (i = 0; i < 3; i++)
		memcpy(tmp + 4 * i, s->gendate[i], 4);
	ob_tlv(ob, 0xCD, tmp, 12);
	ob_tag(ob, 0xDE);
	ob_len(ob, 6);
	for (i = 0; i < 3; i++) {
		ob_byte(ob, i + 1);
		ob_byte(ob, s->key_status[i]);
	}
	ob_wrap(ob, dd, 0x73);
	ob_wrap(ob, start, 0x6E);
}

static unsigned int
cmd_get_data(struct vcard *s, const struct apdu *a, struct obuf *ob)
{
	unsigned int tag = (unsigned int)a->p1 << 8 | a->p2;
	uint8_t tmp[60];
	size_t start, i;

	switch (tag) {
	case 0x004F:
		put_aid(s, ob);
		break;
	case 0x5F52:
		ob_put(ob, vcard_hist, sizeof(vcard_hist));
		break;
	case 0x006E:
		put_app_data(s, ob);
		break;
	case 0x0065:
		start = ob->len;
		ob_tlv(ob, 0x5B, s->name.v, s->name.len);
		ob_tlv(ob, 0x5F2D, s->lang.v, s->lang.len);
		ob_tlv(ob, 0x5F35, s->sex.v, s->sex.len);
		ob_wrap(ob, start, 0x65);
		break;
	case 0x005B:
		ob_put(ob, s->name.v, s->name.len);
		break;
	case 0x5F2D:
		ob_put(ob, s->lang.v, s->lang.len);
		break;
	case 0x5F35:
		ob_put(ob, s->sex.v, s->sex.len);
		break;
	case 0x005E:
		ob_put(ob, s->login.v, s->login.len);
		break;
	case 0x5F50:
		ob_put(ob, s->url.v, s->url.len);
		break;
	case 0x007A:
	case 0x0093:
		start = ob->len;
		ob_tag(ob, 0x93);
		ob_len(ob, 3);
		ob_byte(ob, s->sig_count >> 16);
		ob_byte(ob, s->sig_count >> 8);
		ob_byte(ob, s->sig_count);
		if (tag == 0x0093) {
			/* The bare counter. */
			memmove(ob->p + start, ob->p + start + 2, 3);
			ob->len -= 2;
		} else {
			ob_wrap(ob, start, 0x7A);
		}
		break;
	case 0x00C0:
		ob_put(ob, vcard_extcap, sizeof(vcard_extcap));
		break;
	case 0x00C1:
	case 0x00C2:
	case 0x00C3:
		ob_put(ob, s->attr[tag - 0xC1], s->attr_len[tag - 0xC1]);
		break;
	case 0x00C4:
		put_pw_status(s, ob);
		break;
	case 0x00C5:
	case 0x00C6:
		for (i = 0; i < 3; i++)
			memcpy(tmp + 20 * i,
			    tag == 0xC5 ? s->fpr[i] : s->cafpr[i], 20);
		ob_put(ob, tmp, 60);
		break;
	case 0x00CD:
		for (i = 0; i < 3; i++)
			ob_put(ob, s->gendate[i], 4);
		break;
	case 0x00DE:
		for (i = 0; i < 3; i++) {
			ob_byte(ob, i + 1);
			ob_byte(ob, s->key_status[i]);
		}
		break;
	case 0x0101:
	case 0x0102:
		ob_put(ob, s->privdo[tag - 0x101].v, s->privdo[tag - 0x101].len);
		break;
	case 0x0103:
		if (!s->pw1_82_ok)
			return SW_SECURITY;
		ob_put(ob, s->privdo[2].v, s->privdo[2].len);
		break;
	case 0x0104:
		if (!s->pw3_ok)
			return SW_SECURITY;
		ob_put(ob, s->privdo[3].v, s->privdo[3].len);
		break;
	default:
		/* 7F21, 7F74, 7F66, D6-D8, F9, FA ...: not on this card. */
		return SW_NOT_FOUND;
	}
	return ob->err ? SW_WRONG_LENGTH : SW_OK;
}

/* ------------------------------------------------------------ PUT DATA */

static int
attr_valid(int slot, const uint8_t *v, size_t n)
{
	if (n < 2 || n > VCARD_ATTR_MAX)
		return 0;
	if (slot == VCARD_KEY_DEC) {
		/* Only X25519 can be done here. */
		if (n == sizeof(vcard_attr_cv25519) + 1 &&
		    v[n - 1] != 0x00 && v[n - 1] != 0xFF)
			return 0;
		return (n == sizeof(vcard_attr_cv25519) ||
		    n == sizeof(vcard_attr_cv25519) + 1) &&
		    memcmp(v, vcard_attr_cv25519,
		    sizeof(vcard_attr_cv25519)) == 0;
	}
	/* Signature, authentication: any ECDSA or EdDSA curve (no key). */
	return (v[0] == 0x13 || v[0] == 0x16) && n >= 4;
}

static void
key_delete(struct vcard *s, int slot)
{
	if (slot == VCARD_KEY_DEC)
		sodium_memzero(s->dec_key, sizeof(s->dec_key));
	s->key_status[slot] = VCARD_KEY_NONE;
	memset(s->fpr[slot], 0, 20);
	memset(s->gendate[slot], 0, 4);
}

static unsigned int
put_bytes(struct vcard *s, struct vcard_bytes *b, const struct apdu *a,
    size_t max)
{
	if (a->lc > max)
		return SW_WRONG_LENGTH;
	sodium_memzero(b->v, sizeof(b->v));
	memcpy(b->v, a->data, a->lc);
	b->len = a->lc;
	s->dirty = 1;
	return SW_OK;
}

static unsigned int
cmd_put_data(struct vcard *s, const struct apdu *a)
{
	unsigned int tag = (unsigned int)a->p1 << 8 | a->p2;
	int slot;

	/* Private DOs 1 and 3 are the user's; everything else the admin's. */
	if (tag == 0x0101 || tag == 0x0103) {
		if (!s->pw1_82_ok)
			return SW_SECURITY;
		return put_bytes(s, &s->privdo[tag - 0x101], a, VCARD_DO_MAX);
	}
	if (!s->pw3_ok)
		return SW_SECURITY;
	switch (tag) {
	case 0x0102:
	case 0x0104:
		return put_bytes(s, &s->privdo[tag - 0x101], a, VCARD_DO_MAX);
	case 0x005B:
		return put_bytes(s, &s->name, a, 39);
	case 0x5F2D:
		return put_bytes(s, &s->lang, a, 8);
	case 0x5F35:
		if (a->lc != 1)
			return SW_WRONG_LENGTH;
		return put_bytes(s, &s->sex, a, 1);
	case 0x005E:
		return put_bytes(s, &s->login, a, VCARD_DO_MAX);
	case 0x5F50:
		return put_bytes(s, &s->url, a, VCARD_DO_MAX);
	case 0x00C4:
		if (a->lc != 1 && a->lc != 4)
			return SW_WRONG_LENGTH;
		if (a->data[0] > 1)
			return SW_WRONG_DATA;
		s->pw1_multi = a->data[0];
		s->dirty = 1;
		return SW_OK;
	case 0x00C1:
	case 0x00C2:
	case 0x00C3:
		slot = tag - 0xC1;
		if (!attr_valid(slot, a->data, a->lc))
			return SW_WRONG_DATA;
		if (a->lc == s->attr_len[slot] &&
		    memcmp(a->data, s->attr[slot], a->lc) == 0)
			return SW_OK;
		/* New attributes delete the key and end PW1's session. */
		memset(s->attr[slot], 0, VCARD_ATTR_MAX);
		memcpy(s->attr[slot], a->data, a->lc);
		s->attr_len[slot] = a->lc;
		key_delete(s, slot);
		s->pw1_81_ok = s->pw1_82_ok = 0;
		s->dirty = 1;
		return SW_OK;
	case 0x00C7:
	case 0x00C8:
	case 0x00C9:
		if (a->lc != 20)
			return SW_WRONG_LENGTH;
		memcpy(s->fpr[tag - 0xC7], a->data, 20);
		s->dirty = 1;
		return SW_OK;
	case 0x00CA:
	case 0x00CB:
	case 0x00CC:
		if (a->lc != 20)
			return SW_WRONG_LENGTH;
		memcpy(s->cafpr[tag - 0xCA], a->data, 20);
		s->dirty = 1;
		return SW_OK;
	case 0x00CE:
	case 0x00CF:
	case 0x00D0:
		if (a->lc != 4)
			return SW_WRONG_LENGTH;
		memcpy(s->gendate[tag - 0xCE], a->data, 4);
		s->dirty = 1;
		return SW_OK;
	case 0x00D3:
		if (a->lc != 0 && (a->lc < 8 || a->lc > VCARD_PIN_MAX))
			return SW_WRONG_DATA;
		sodium_memzero(s->rc, sizeof(s->rc));
		memcpy(s->rc, a->data, a->lc);
		s->rc_len = a->lc;
		s->rc_tries = a->lc ? VCARD_TRIES : 0;
		s->dirty = 1;
		return SW_OK;
	default:
		return SW_NOT_FOUND;
	}
}

static int
crt_slot(const uint8_t *data, size_t len)
{
	size_t i;

	if (len < 2)
		return -1;
	for (i = 0; i < 3; i++)
		if (data[0] == vcard_crt[i])
			return i;
	return -1;
}

/*
 * Key import (PUT DATA odd, 3FFF): 4D { CRT, 7F48 { 92 len [99 len] },
 * 5F48 { scalar [public] } }. GnuPG sends the X25519 scalar big-endian,
 * left-padded to 32 bytes (or shorter when leading zeros were stripped).
 */
static unsigned int
cmd_import(struct vcard *s, const struct apdu *a)
{
	const uint8_t *p, *end, *crt = NULL, *tmpl = NULL, *kd = NULL;
	const uint8_t *q;
	size_t len, crtlen = 0, tmpllen = 0, kdlen = 0, dlen = 0, n;
	unsigned int tag;
	uint8_t scalar[32];
	int slot, i;

	if (a->p1 != 0x3F || a->p2 != 0xFF)
		return SW_WRONG_P1P2;
	if (!s->pw3_ok)
		return SW_SECURITY;
	p = a->data;
	end = a->data + a->lc;
	if (tlv_next(&p, end, &tag, &len) == -1 || tag != 0x4D ||
	    p + len != end)
		return SW_WRONG_DATA;
	while (p < end) {
		if (tlv_next(&p, end, &tag, &len) == -1)
			return SW_WRONG_DATA;
		if (tag == 0xB6 || tag == 0xB8 || tag == 0xA4) {
			crt = p - 2;
			crtlen = len + 2;
		} else if (tag == 0x7F48) {
			tmpl = p;
			tmpllen = len;
		} else if (tag == 0x5F48) {
			kd = p;
			kdlen = len;
		}
		p += len;
	}
	if (crt == NULL || tmpl == NULL || kd == NULL)
		return SW_WRONG_DATA;
	if ((slot = crt_slot(crt, crtlen)) == -1)
		return SW_WRONG_DATA;
	if (slot != VCARD_KEY_DEC)
		return SW_FUNC_UNSUPPORTED;
	if (!dec_is_cv25519(s))
		return SW_CONDITIONS;
	/*
	 * The template holds tags and lengths only (no values); the first
	 * is the scalar (92), other parts (99: public key) follow it.
	 */
	q = tmpl;
	end = tmpl + tmpllen;
	for (i = 0; q < end; i++) {
		tag = *q++;
		if (q >= end)
			return SW_WRONG_DATA;
		n = *q++;
		if (n == 0x81 && q < end)
			n = *q++;
		else if (n >= 0x80)
			return SW_WRONG_DATA;
		if (i == 0) {
			if (tag != 0x92)
				return SW_WRONG_DATA;
			dlen = n;
		}
	}
	if (dlen == 0 || dlen > 32 || dlen > kdlen)
		return SW_WRONG_DATA;
	memset(scalar, 0, sizeof(scalar));
	for (n = 0; n < dlen; n++)
		scalar[n] = kd[dlen - 1 - n];	/* big- to little-endian */
	if (wg_key_is_zero(scalar)) {
		sodium_memzero(scalar, sizeof(scalar));
		return SW_WRONG_DATA;
	}
	memcpy(s->dec_key, scalar, 32);
	sodium_memzero(scalar, sizeof(scalar));
	s->key_status[VCARD_KEY_DEC] = VCARD_KEY_IMPORTED;
	memset(s->fpr[VCARD_KEY_DEC], 0, 20);
	memset(s->gendate[VCARD_KEY_DEC], 0, 4);
	s->dirty = 1;
	return SW_OK;
}

/* ------------------------------------------------------------ keys */

static unsigned int
cmd_generate(struct vcard *s, const struct apdu *a, struct obuf *ob)
{
	uint8_t pub[32];
	size_t start;
	int slot;

	if ((a->p1 != 0x80 && a->p1 != 0x81) || a->p2 != 0x00)
		return SW_WRONG_P1P2;
	if ((slot = crt_slot(a->data, a->lc)) == -1)
		return SW_WRONG_DATA;
	if (a->p1 == 0x80) {
		if (!s->pw3_ok)
			return SW_SECURITY;
		if (slot != VCARD_KEY_DEC)
			return SW_FUNC_UNSUPPORTED;
		if (!dec_is_cv25519(s))
			return SW_CONDITIONS;
		vcard_generate(s, pub);
	} else {
		if (slot != VCARD_KEY_DEC || vcard_pubkey(s, pub) == -1)
			return SW_NOT_FOUND;
	}
	start = ob->len;
	ob_tlv(ob, 0x86, pub, 32);
	ob_wrap(ob, start, 0x7F49);
	return SW_OK;
}

/* PSO:DECIPHER, cv25519: A6 { 7F49 { 86 20 <point> } } -> 32 bytes. */
static unsigned int
cmd_decipher(struct vcard *s, const struct apdu *a, struct obuf *ob)
{
	const uint8_t *p, *end;
	unsigned int tag;
	size_t len;
	uint8_t shared[32];

	if (!s->pw1_82_ok)
		return SW_SECURITY;
	if (s->key_status[VCARD_KEY_DEC] == VCARD_KEY_NONE)
		return SW_NOT_FOUND;
	p = a->data;
	end = a->data + a->lc;
	if (tlv_next(&p, end, &tag, &len) == -1 || tag != 0xA6 ||
	    p + len != end)
		return SW_WRONG_DATA;
	if (tlv_next(&p, end, &tag, &len) == -1 || tag != 0x7F49 ||
	    p + len != end)
		return SW_WRONG_DATA;
	if (tlv_next(&p, end, &tag, &len) == -1 || tag != 0x86 ||
	    len != 32 || p + len != end)
		return SW_WRONG_DATA;
	if (wg_x25519(shared, s->dec_key, p) == -1)
		return SW_WRONG_DATA;	/* all-zero result */
	ob_put(ob, shared, 32);
	sodium_memzero(shared, sizeof(shared));
	s->decipher_count++;
	return SW_OK;
}

static unsigned int
cmd_pso(struct vcard *s, const struct apdu *a, struct obuf *ob)
{
	if (a->p1 == 0x80 && a->p2 == 0x86)
		return cmd_decipher(s, a, ob);
	if (a->p1 == 0x9E && a->p2 == 0x9A) {
		if (!s->pw1_81_ok)
			return SW_SECURITY;
		return SW_NOT_FOUND;	/* no signature key here */
	}
	return SW_WRONG_P1P2;
}

/* ------------------------------------------------------------ others */

static unsigned int
cmd_select(struct vcard *s, const struct apdu *a)
{
	uint8_t aid[16];
	struct obuf ob = { aid, 0, sizeof(aid), 0 };

	if (a->p1 != 0x04)
		return SW_FILE_NOT_FOUND;
	put_aid(s, &ob);
	if (a->lc < 5 || a->lc > sizeof(aid) ||
	    memcmp(a->data, aid, a->lc) != 0) {
		s->selected = 0;
		return SW_FILE_NOT_FOUND;
	}
	/* Selecting the application starts over: no PIN is verified. */
	vcard_reset_session(s);
	s->selected = 1;
	return s->terminated ? SW_TERMINATED : SW_OK;
}

static unsigned int
cmd_challenge(const struct apdu *a, struct obuf *ob)
{
	uint8_t r[255];
	size_t n;

	if (a->p1 != 0 || a->p2 != 0)
		return SW_WRONG_P1P2;
	n = a->le;
	if (n == 0 || n > sizeof(r))
		n = sizeof(r);
	randombytes_buf(r, n);
	ob_put(ob, r, n);
	return SW_OK;
}

static unsigned int
cmd_terminate(struct vcard *s, const struct apdu *a)
{
	if (a->p1 != 0 || a->p2 != 0)
		return SW_WRONG_P1P2;
	if (!s->pw3_ok && s->pw3_tries > 0)
		return SW_SECURITY;
	s->terminated = 1;
	s->dirty = 1;
	s->pw1_81_ok = s->pw1_82_ok = s->pw3_ok = 0;
	return SW_OK;
}

static unsigned int
cmd_activate(struct vcard *s, const struct apdu *a)
{
	uint32_t serial = s->serial;
	unsigned long ops = s->decipher_count;

	if (a->p1 != 0 || a->p2 != 0)
		return SW_WRONG_P1P2;
	if (!s->terminated)
		return SW_OK;
	vcard_init(s, serial);		/* factory reset, same serial */
	s->decipher_count = ops;
	s->selected = 1;
	return SW_OK;
}

/* ------------------------------------------------------------ APDUs */

/* Split a command APDU (short or extended); -1 if its length is wrong. */
static int
apdu_parse(const uint8_t *in, size_t inlen, struct apdu *a)
{
	size_t rest;

	memset(a, 0, sizeof(*a));
	if (inlen < 4)
		return -1;
	a->cla = in[0], a->ins = in[1], a->p1 = in[2], a->p2 = in[3];
	a->data = in + 4;
	rest = inlen - 4;
	if (rest == 0)
		return 0;
	if (rest == 1) {				/* short Le */
		a->le = in[4] ? in[4] : 256;
		return 0;
	}
	if (in[4] != 0) {				/* short Lc */
		a->lc = in[4];
		a->data = in + 5;
		if (rest == 1 + a->lc)
			return 0;
		if (rest == 2 + a->lc) {
			a->le = in[5 + a->lc] ? in[5 + a->lc] : 256;
			return 0;
		}
		return -1;
	}
	/* Extended: 00 then two bytes of Lc or Le. */
	if (rest == 3) {
		a->le = (size_t)in[5] << 8 | in[6];
		if (a->le == 0)
			a->le = 65536;
		return 0;
	}
	if (rest < 3)
		return -1;
	a->lc = (size_t)in[5] << 8 | in[6];
	if (a->lc == 0)
		return -1;
	a->data = in + 7;
	if (rest == 3 + a->lc)
		return 0;
	if (rest == 5 + a->lc) {
		a->le = (size_t)in[7 + a->lc] << 8 | in[8 + a->lc];
		if (a->le == 0)
			a->le = 65536;
		return 0;
	}
	return -1;
}

/* Send (part of) the pending answer: SW 9000 or 61xx while more is left. */
static unsigned int
respond(struct vcard *s, size_t le, uint8_t *out, size_t *outlen)
{
	size_t left = s->resp_len - s->resp_off, n;

	if (le == 0)
		le = 256;
	n = left < le ? left : le;
	memcpy(out, s->resp + s->resp_off, n);
	s->resp_off += n;
	*outlen = n;
	left -= n;
	if (left == 0) {
		sodium_memzero(s->resp, sizeof(s->resp));
		s->resp_len = s->resp_off = 0;
		return SW_OK;
	}
	return 0x6100 | (left > 0xFF ? 0 : left);
}

static unsigned int
dispatch(struct vcard *s, const struct apdu *a, struct obuf *ob)
{
	if (s->terminated && a->ins != 0xA4 && a->ins != 0x44)
		return SW_TERMINATED;
	if (!s->selected && a->ins != 0xA4 && a->ins != 0x84)
		return SW_CONDITIONS;
	switch (a->ins) {
	case 0xA4:
		return cmd_select(s, a);
	case 0xCA:
		return cmd_get_data(s, a, ob);
	case 0xDA:
		return cmd_put_data(s, a);
	case 0xDB:
		return cmd_import(s, a);
	case 0x20:
		return cmd_verify(s, a);
	case 0x24:
		return cmd_change_reference(s, a);
	case 0x2C:
		return cmd_reset_retry(s, a);
	case 0x47:
		return cmd_generate(s, a, ob);
	case 0x2A:
		return cmd_pso(s, a, ob);
	case 0x88:
		if (!s->pw1_82_ok)
			return SW_SECURITY;
		return SW_NOT_FOUND;	/* no authentication key here */
	case 0x84:
		return cmd_challenge(a, ob);
	case 0xE6:
		return cmd_terminate(s, a);
	case 0x44:
		return cmd_activate(s, a);
	default:
		return SW_INS_UNSUPPORTED;
	}
}

unsigned int
vcard_apdu(struct vcard *s, const uint8_t *in, size_t inlen, uint8_t *out,
    size_t *outlen)
{
	struct apdu a;
	struct obuf ob;
	unsigned int sw;
	size_t n = 0;

	if (apdu_parse(in, inlen, &a) == -1) {
		sw = SW_WRONG_LENGTH;
		goto done;
	}
	if ((a.cla & ~0x10) != 0x00) {
		sw = SW_CLA_UNSUPPORTED;
		goto done;
	}
	if (a.ins == 0xC0) {				/* GET RESPONSE */
		if (s->resp_off >= s->resp_len)
			sw = SW_CONDITIONS;
		else
			sw = respond(s, a.le, out, &n);
		goto done;
	}
	/* Any other command drops what GET RESPONSE had left. */
	sodium_memzero(s->resp, sizeof(s->resp));
	s->resp_len = s->resp_off = 0;

	if (s->chain_ins != -1 && s->chain_ins != a.ins) {
		sodium_memzero(s->chain, sizeof(s->chain));
		s->chain_len = 0;
		s->chain_ins = -1;
	}
	if (a.cla & 0x10) {				/* chaining */
		if (a.lc > sizeof(s->chain) - s->chain_len) {
			sodium_memzero(s->chain, sizeof(s->chain));
			s->chain_len = 0;
			s->chain_ins = -1;
			sw = SW_WRONG_LENGTH;
			goto done;
		}
		memcpy(s->chain + s->chain_len, a.data, a.lc);
		s->chain_len += a.lc;
		s->chain_ins = a.ins;
		sw = SW_OK;
		goto done;
	}
	if (s->chain_ins != -1) {			/* the last link */
		if (a.lc > sizeof(s->chain) - s->chain_len) {
			sw = SW_WRONG_LENGTH;
		} else {
			memcpy(s->chain + s->chain_len, a.data, a.lc);
			s->chain_len += a.lc;
			a.data = s->chain;
			a.lc = s->chain_len;
			sw = 0;
		}
		if (sw != 0) {
			sodium_memzero(s->chain, sizeof(s->chain));
			s->chain_len = 0;
			s->chain_ins = -1;
			goto done;
		}
	}

	ob.p = s->resp;
	ob.len = 0;
	ob.cap = sizeof(s->resp);
	ob.err = 0;
	sw = dispatch(s, &a, &ob);
	if (s->chain_ins != -1) {
		sodium_memzero(s->chain, sizeof(s->chain));
		s->chain_len = 0;
		s->chain_ins = -1;
	}
	if (sw == SW_OK && ob.len > 0) {
		s->resp_len = ob.len;
		s->resp_off = 0;
		sw = respond(s, a.le, out, &n);
	} else {
		sodium_memzero(s->resp, ob.len);
	}
done:
	out[n] = sw >> 8;
	out[n + 1] = sw & 0xFF;
	*outlen = n + 2;
	return sw;
}

/* ------------------------------------------------------------ state file */

static void
put_hex(FILE *f, const char *key, const uint8_t *v, size_t n)
{
	size_t i;

	fprintf(f, "%s ", key);
	if (n == 0)
		fputc('-', f);
	for (i = 0; i < n; i++)
		fprintf(f, "%02x", v[i]);
	fputc('\n', f);
}

int
vcard_save(const struct vcard *s, const char *path)
{
	char tmp[PATH_MAX], key[32];
	FILE *f;
	int fd, i, serr;

	if (snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >= (int)sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((fd = mkstemp(tmp)) == -1)
		return -1;
	if (fchmod(fd, 0600) == -1 || (f = fdopen(fd, "w")) == NULL) {
		serr = errno;
		close(fd);
		unlink(tmp);
		errno = serr;
		return -1;
	}
	fprintf(f, "wgcard-vcard 1\n");
	fprintf(f, "serial %08x\n", s->serial);
	put_hex(f, "pw1", s->pw1, s->pw1_len);
	put_hex(f, "pw3", s->pw3, s->pw3_len);
	put_hex(f, "rc", s->rc, s->rc_len);
	fprintf(f, "tries %d %d %d\n", s->pw1_tries, s->rc_tries,
	    s->pw3_tries);
	fprintf(f, "pw1multi %d\n", s->pw1_multi);
	for (i = 0; i < 3; i++) {
		snprintf(key, sizeof(key), "attr%d", i + 1);
		put_hex(f, key, s->attr[i], s->attr_len[i]);
		snprintf(key, sizeof(key), "fpr%d", i + 1);
		put_hex(f, key, s->fpr[i], 20);
		snprintf(key, sizeof(key), "cafpr%d", i + 1);
		put_hex(f, key, s->cafpr[i], 20);
		snprintf(key, sizeof(key), "date%d", i + 1);
		put_hex(f, key, s->gendate[i], 4);
	}
	fprintf(f, "keystatus %d %d %d\n", s->key_status[0],
	    s->key_status[1], s->key_status[2]);
	put_hex(f, "deckey", s->dec_key,
	    s->key_status[VCARD_KEY_DEC] ? 32 : 0);
	put_hex(f, "name", s->name.v, s->name.len);
	put_hex(f, "lang", s->lang.v, s->lang.len);
	put_hex(f, "sex", s->sex.v, s->sex.len);
	put_hex(f, "login", s->login.v, s->login.len);
	put_hex(f, "url", s->url.v, s->url.len);
	for (i = 0; i < 4; i++) {
		snprintf(key, sizeof(key), "privdo%d", i + 1);
		put_hex(f, key, s->privdo[i].v, s->privdo[i].len);
	}
	fprintf(f, "sigcount %u\n", s->sig_count);
	fprintf(f, "terminated %d\n", s->terminated);
	if (fflush(f) == EOF || fsync(fileno(f)) == -1) {
		serr = errno;
		fclose(f);
		unlink(tmp);
		errno = serr;
		return -1;
	}
	if (fclose(f) == EOF || rename(tmp, path) == -1) {
		serr = errno;
		unlink(tmp);
		errno = serr;
		return -1;
	}
	return 0;
}

/* Hex (or "-" for empty) into v; the length, or -1. */
static long
get_hex(const char *h, uint8_t *v, size_t max)
{
	size_t n = 0;
	unsigned int b;

	if (strcmp(h, "-") == 0)
		return 0;
	while (h[0] != '\0') {
		if (n == max || h[1] == '\0' || sscanf(h, "%2x", &b) != 1 ||
		    !isxdigit((unsigned char)h[0]) ||
		    !isxdigit((unsigned char)h[1]))
			return -1;
		v[n++] = b;
		h += 2;
	}
	return n;
}

static int
get_fixed(const char *h, uint8_t *v, size_t len)
{
	return get_hex(h, v, len) == (long)len ? 0 : -1;
}

static int
get_bytes(const char *h, struct vcard_bytes *b)
{
	long n = get_hex(h, b->v, sizeof(b->v));

	if (n < 0)
		return -1;
	b->len = n;
	return 0;
}

static int
load_line(struct vcard *s, const char *k, const char *v)
{
	long n;
	int i;

	if (strcmp(k, "wgcard-vcard") == 0)
		return strcmp(v, "1") == 0 ? 0 : -1;
	if (strcmp(k, "serial") == 0) {
		char *e;
		unsigned long x = strtoul(v, &e, 16);

		if (*v == '\0' || *e != '\0' || x > 0xFFFFFFFFUL)
			return -1;
		s->serial = x;
		return 0;
	}
	if (strcmp(k, "pw1") == 0 || strcmp(k, "pw3") == 0 ||
	    strcmp(k, "rc") == 0) {
		uint8_t *p = k[0] == 'r' ? s->rc : k[2] == '1' ? s->pw1 : s->pw3;
		size_t *l = k[0] == 'r' ? &s->rc_len : k[2] == '1' ?
		    &s->pw1_len : &s->pw3_len;

		if ((n = get_hex(v, p, VCARD_PIN_MAX)) < 0)
			return -1;
		*l = n;
		return 0;
	}
	if (strcmp(k, "tries") == 0)
		return sscanf(v, "%d %d %d", &s->pw1_tries, &s->rc_tries,
		    &s->pw3_tries) == 3 ? 0 : -1;
	if (strcmp(k, "pw1multi") == 0)
		return sscanf(v, "%d", &s->pw1_multi) == 1 ? 0 : -1;
	if (strcmp(k, "keystatus") == 0)
		return sscanf(v, "%d %d %d", &s->key_status[0],
		    &s->key_status[1], &s->key_status[2]) == 3 ? 0 : -1;
	if (strcmp(k, "sigcount") == 0)
		return sscanf(v, "%u", &s->sig_count) == 1 ? 0 : -1;
	if (strcmp(k, "terminated") == 0)
		return sscanf(v, "%d", &s->terminated) == 1 ? 0 : -1;
	if (strcmp(k, "deckey") == 0) {
		n = get_hex(v, s->dec_key, 32);
		return n == 0 || n == 32 ? 0 : -1;
	}
	if (strcmp(k, "name") == 0)
		return get_bytes(v, &s->name);
	if (strcmp(k, "lang") == 0)
		return get_bytes(v, &s->lang);
	if (strcmp(k, "sex") == 0)
		return get_bytes(v, &s->sex);
	if (strcmp(k, "login") == 0)
		return get_bytes(v, &s->login);
	if (strcmp(k, "url") == 0)
		return get_bytes(v, &s->url);
	if (strncmp(k, "privdo", 6) == 0 && k[6] >= '1' && k[6] <= '4' &&
	    k[7] == '\0')
		return get_bytes(v, &s->privdo[k[6] - '1']);
	for (i = 0; i < 3; i++) {
		char key[32];

		snprintf(key, sizeof(key), "attr%d", i + 1);
		if (strcmp(k, key) == 0) {
			if ((n = get_hex(v, s->attr[i], VCARD_ATTR_MAX)) < 2)
				return -1;
			s->attr_len[i] = n;
			return 0;
		}
		snprintf(key, sizeof(key), "fpr%d", i + 1);
		if (strcmp(k, key) == 0)
			return get_fixed(v, s->fpr[i], 20);
		snprintf(key, sizeof(key), "cafpr%d", i + 1);
		if (strcmp(k, key) == 0)
			return get_fixed(v, s->cafpr[i], 20);
		snprintf(key, sizeof(key), "date%d", i + 1);
		if (strcmp(k, key) == 0)
			return get_fixed(v, s->gendate[i], 4);
	}
	return -1;
}

int
vcard_load(struct vcard *s, const char *path)
{
	char line[1024], *sp, *nl;
	FILE *f;
	int bad = 0, i;

	if ((f = fopen(path, "r")) == NULL)
		return -1;
	vcard_init(s, 0);
	while (!bad && fgets(line, sizeof(line), f) != NULL) {
		if ((nl = strchr(line, '\n')) != NULL)
			*nl = '\0';
		if (line[0] == '\0' || line[0] == '#')
			continue;
		if ((sp = strchr(line, ' ')) == NULL) {
			bad = 1;
			break;
		}
		*sp++ = '\0';
		if (load_line(s, line, sp) == -1)
			bad = 1;
	}
	sodium_memzero(line, sizeof(line));
	fclose(f);
	for (i = 0; i < 3; i++)
		if (s->key_status[i] < 0 || s->key_status[i] > 2)
			bad = 1;
	if (s->pw1_len < 6 || s->pw3_len < 8 || s->pw1_tries < 0 ||
	    s->pw1_tries > VCARD_TRIES || s->pw3_tries < 0 ||
	    s->pw3_tries > VCARD_TRIES || s->rc_tries < 0 ||
	    s->rc_tries > VCARD_TRIES)
		bad = 1;
	if (s->key_status[VCARD_KEY_DEC] != VCARD_KEY_NONE &&
	    wg_key_is_zero(s->dec_key))
		bad = 1;
	if (bad) {
		vcard_wipe(s);
		errno = EINVAL;
		return -1;
	}
	s->chain_ins = -1;
	s->dirty = 0;
	return 0;
}
