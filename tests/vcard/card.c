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
#define SW_UNKNOWN		0xFFFF	/* for knobs: not a status word */

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
/* X25519 by the OID of RFC 8410 (1.3.101.110), as some cards name it. */
static const uint8_t vcard_attr_x25519_rfc[] = { 0x12, 0x2B, 0x65, 0x6E };
static const uint8_t vcard_crt[3] = { 0xB6, 0xB8, 0xA4 };

/* Other applications' AIDs, index VCARD_APP_* (0: OpenPGP, by RID). */
static const struct {
	const char	*name;
	uint8_t		aid[8];
	size_t		len;
} vcard_apps[] = {
	{ "openpgp", { 0 }, 0 },
	{ "piv", { 0xA0, 0x00, 0x00, 0x03, 0x08 }, 5 },
	{ "oath", { 0xA0, 0x00, 0x00, 0x05, 0x27, 0x21, 0x01 }, 7 },
	{ "mgmt", { 0xA0, 0x00, 0x00, 0x05, 0x27, 0x47, 0x11, 0x17 }, 8 },
};
#define VCARD_NAPPS	(sizeof(vcard_apps) / sizeof(vcard_apps[0]))

/* KDF-DO (F9) offsets, GnuPG's scd/app-openpgp.c pin2hash_if_kdf(). */
#define KDF_SHORT		90	/* one salt */
#define KDF_COUNT_OFF		8
#define KDF_SALT_PW1		14
#define KDF_SALT_RC		24
#define KDF_SALT_PW3		34
#define KDF_INIT_PW1		44	/* long form; short: 24 */
#define KDF_INIT_PW3		78	/* long form; short: 58 */

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

/* ------------------------------------------------------------ profiles */

const char vcard_knobs[] =
    "kdf=none|compare|SW  kdfput=replace|store  wrongpin=63cx|SW  "
    "verifysw=0|SW\nselectsw=0|SW  "
    "unselected=SW  foreign=SW  apps=none|piv,oath,mgmt  selectclears=0|1\n"
    "lowpoint=zero|error  attr=plain|ff|bogus  oid=gnupg|rfc  button=0|1\n"
    "manufacturer=HEX  fw=X.Y.Z  verify=MS  decipher=MS  generate=MS  "
    "touchtimeout=MS\nt0=0|1  respmax=N";

static void
profile_default(struct vcard_profile *p)
{
	memset(p, 0, sizeof(*p));
	snprintf(p->name, sizeof(p->name), "default");
	p->unselected_sw = SW_CONDITIONS;
	p->foreign_sw = SW_INS_UNSUPPORTED;
	p->select_clears = 1;
	p->manufacturer = VCARD_MANUFACTURER;
	p->touch_timeout_ms = 15000;
}

/* Each value's source is in docs/devices.md. */
int
vcard_profile(struct vcard_profile *p, const char *name)
{
	profile_default(p);
	if (strcmp(name, "default") == 0)
		return 0;
	if (strcmp(name, "nitrokey3") == 0) {
		p->kdf = VCARD_KDF_COMPARE;
		p->attr = VCARD_ATTR_FF;
		p->select_clears = 0;
		p->apps = 1 << VCARD_APP_PIV | 1 << VCARD_APP_OATH;
		p->button = 1;
		p->manufacturer = 0x000F;
		p->verify_ms = 900;
		p->decipher_ms = 1000;
		p->generate_ms = 5000;
	} else if (strcmp(name, "yubikey5") == 0) {
		p->kdf = VCARD_KDF_COMPARE;
		p->kdf_replace = 1;
		p->attr = VCARD_ATTR_BOGUS;
		p->select_clears = 0;
		p->apps = 1 << VCARD_APP_PIV | 1 << VCARD_APP_OATH |
		    1 << VCARD_APP_MGMT;
		p->button = 1;
		p->manufacturer = 0x0006;
		p->fw[0] = 5;
		p->fw[1] = 2;
		p->fw[2] = 7;
	} else if (strcmp(name, "gnuk") == 0) {
		p->kdf = VCARD_KDF_STRICT;
		p->kdf_sw = SW_CONDITIONS;
		p->kdf_replace = 1;
		p->wrong_pin_sw = SW_SECURITY;
		p->unselected_sw = SW_NOT_FOUND;
		p->select_clears = 0;
		p->lowpoint_zero = 1;
		p->manufacturer = 0xF517;
	} else if (strcmp(name, "smartpgp") == 0) {
		p->kdf = VCARD_KDF_STRICT;
		p->kdf_sw = SW_WRONG_LENGTH;
		p->wrong_pin_sw = SW_SECURITY;
		p->select_clears = 1;
		p->foreign_sw = SW_INS_UNSUPPORTED;
	} else {
		return -1;
	}
	snprintf(p->name, sizeof(p->name), "%s", name);
	return 0;
}

/* A status word in hex (61xx-6Fxx, 9000); SW_UNKNOWN if not one. */
static unsigned int
knob_sw(const char *v)
{
	char *e;
	unsigned long x;

	errno = 0;
	x = strtoul(v, &e, 16);
	if (*v == '\0' || *e != '\0' || errno != 0 ||
	    !((x >= 0x6100 && x <= 0x6FFF) || x == SW_OK))
		return SW_UNKNOWN;
	return x;
}

/*
 * An error status word knob (not 9000) in *out; the word off (when not
 * NULL: "0", "63cx") is 0, the knob's usual behaviour. -1 if neither.
 */
static int
knob_err_sw(const char *v, const char *off, unsigned int *out)
{
	unsigned int sw;

	if (off != NULL && strcmp(v, off) == 0) {
		*out = 0;
		return 0;
	}
	if ((sw = knob_sw(v)) == SW_UNKNOWN || sw == SW_OK)
		return -1;
	*out = sw;
	return 0;
}

static int
knob_int(const char *v, long max, int *out)
{
	char *e;
	long x;

	errno = 0;
	x = strtol(v, &e, 10);
	if (*v == '\0' || *e != '\0' || errno != 0 || x < 0 || x > max)
		return -1;
	*out = x;
	return 0;
}

static int
knob_apps(const char *v, int *out)
{
	char buf[64], *tok, *save;
	size_t i;
	int apps = 0;

	if (strcmp(v, "none") == 0) {
		*out = 0;
		return 0;
	}
	if (strlen(v) >= sizeof(buf))
		return -1;
	strcpy(buf, v);
	for (tok = strtok_r(buf, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		for (i = 1; i < VCARD_NAPPS; i++)
			if (strcmp(tok, vcard_apps[i].name) == 0)
				break;
		if (i == VCARD_NAPPS)
			return -1;
		apps |= 1 << i;
	}
	*out = apps;
	return 0;
}

int
vcard_profile_set(struct vcard_profile *p, const char *kv)
{
	const char *v;
	char k[16];
	size_t n;
	int x;

	if ((v = strchr(kv, '=')) == NULL || (n = v - kv) >= sizeof(k))
		return -1;
	memcpy(k, kv, n);
	k[n] = '\0';
	v++;
	if (strcmp(k, "kdf") == 0) {
		if (strcmp(v, "none") == 0)
			p->kdf = VCARD_KDF_NONE;
		else if (strcmp(v, "compare") == 0)
			p->kdf = VCARD_KDF_COMPARE;
		else if (knob_err_sw(v, NULL, &p->kdf_sw) == 0)
			p->kdf = VCARD_KDF_STRICT;
		else
			return -1;
	} else if (strcmp(k, "kdfput") == 0) {
		if (strcmp(v, "replace") != 0 && strcmp(v, "store") != 0)
			return -1;
		p->kdf_replace = v[0] == 'r';
	} else if (strcmp(k, "wrongpin") == 0) {
		return knob_err_sw(v, "63cx", &p->wrong_pin_sw);
	} else if (strcmp(k, "verifysw") == 0) {
		return knob_err_sw(v, "0", &p->verify_sw);
	} else if (strcmp(k, "selectsw") == 0) {
		return knob_err_sw(v, "0", &p->select_sw);
	} else if (strcmp(k, "unselected") == 0) {
		return knob_err_sw(v, NULL, &p->unselected_sw);
	} else if (strcmp(k, "foreign") == 0) {
		return knob_err_sw(v, NULL, &p->foreign_sw);
	} else if (strcmp(k, "apps") == 0) {
		return knob_apps(v, &p->apps);
	} else if (strcmp(k, "selectclears") == 0) {
		return knob_int(v, 1, &p->select_clears);
	} else if (strcmp(k, "lowpoint") == 0) {
		if (strcmp(v, "zero") != 0 && strcmp(v, "error") != 0)
			return -1;
		p->lowpoint_zero = v[0] == 'z';
	} else if (strcmp(k, "attr") == 0) {
		if (strcmp(v, "plain") == 0)
			p->attr = VCARD_ATTR_PLAIN;
		else if (strcmp(v, "ff") == 0)
			p->attr = VCARD_ATTR_FF;
		else if (strcmp(v, "bogus") == 0)
			p->attr = VCARD_ATTR_BOGUS;
		else
			return -1;
	} else if (strcmp(k, "oid") == 0) {
		if (strcmp(v, "gnupg") != 0 && strcmp(v, "rfc") != 0)
			return -1;
		p->oid_rfc = v[0] == 'r';
	} else if (strcmp(k, "button") == 0) {
		return knob_int(v, 1, &p->button);
	} else if (strcmp(k, "manufacturer") == 0) {
		char *e;
		unsigned long m = strtoul(v, &e, 16);

		if (*v == '\0' || *e != '\0' || m > 0xFFFF)
			return -1;
		p->manufacturer = m;
	} else if (strcmp(k, "fw") == 0) {
		unsigned int a, b, c;
		char e;

		if (sscanf(v, "%u.%u.%u%c", &a, &b, &c, &e) != 3 || a > 99 ||
		    b > 99 || c > 99)
			return -1;
		p->fw[0] = a;
		p->fw[1] = b;
		p->fw[2] = c;
	} else if (strcmp(k, "verify") == 0) {
		return knob_int(v, 600000, &p->verify_ms);
	} else if (strcmp(k, "decipher") == 0) {
		return knob_int(v, 600000, &p->decipher_ms);
	} else if (strcmp(k, "generate") == 0) {
		return knob_int(v, 600000, &p->generate_ms);
	} else if (strcmp(k, "t0") == 0) {
		return knob_int(v, 1, &p->t0);
	} else if (strcmp(k, "respmax") == 0) {
		if (knob_int(v, 256, &x) == -1 || x == 0)
			return -1;
		p->resp_max = x == 256 ? 0 : x;
	} else if (strcmp(k, "touchtimeout") == 0) {
		if (knob_int(v, 600000, &x) == -1 || x == 0)
			return -1;
		p->touch_timeout_ms = x;
	} else {
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------ KDF */

void
vcard_s2k(const uint8_t *pin, size_t pinlen, const uint8_t salt[8],
    uint32_t count, uint8_t out[32])
{
	crypto_hash_sha256_state st;
	uint8_t buf[8 + VCARD_PIN_MAX];
	size_t n, k;
	uint64_t left;

	if (pinlen > VCARD_PIN_MAX)
		pinlen = VCARD_PIN_MAX;
	memcpy(buf, salt, 8);
	memcpy(buf + 8, pin, pinlen);
	n = 8 + pinlen;
	/* At least one whole salt + PIN, however small the count. */
	left = count < n ? n : count;
	crypto_hash_sha256_init(&st);
	while (left > 0) {
		k = left < n ? left : n;
		crypto_hash_sha256_update(&st, buf, k);
		left -= k;
	}
	crypto_hash_sha256_final(&st, out);
	sodium_memzero(&st, sizeof(st));
	sodium_memzero(buf, sizeof(buf));
}

int
vcard_kdf_on(const struct vcard *s)
{
	return (s->kdf_len == KDF_SHORT || s->kdf_len == VCARD_KDF_MAX) &&
	    s->kdf[2] == 0x03;
}

/* The salt of PW1 (1), the resetting code (0) or PW3 (3). */
static const uint8_t *
kdf_salt(const struct vcard *s, int which)
{
	if (s->kdf_len == KDF_SHORT)
		return s->kdf + KDF_SALT_PW1;
	return s->kdf + (which == 3 ? KDF_SALT_PW3 : which == 0 ?
	    KDF_SALT_RC : KDF_SALT_PW1);
}

static uint32_t
kdf_count(const struct vcard *s)
{
	const uint8_t *c = s->kdf + KDF_COUNT_OFF;

	return (uint32_t)c[0] << 24 | (uint32_t)c[1] << 16 |
	    (uint32_t)c[2] << 8 | c[3];
}

/* Replace a stored PIN by its hash (KDF just turned on). */
static void
kdf_hash_pin(struct vcard *s, int which, uint8_t *pin, size_t *len)
{
	uint8_t h[32];

	if (*len == 0)
		return;
	vcard_s2k(pin, *len, kdf_salt(s, which), kdf_count(s), h);
	sodium_memzero(pin, VCARD_PIN_MAX);
	memcpy(pin, h, 32);
	*len = 32;
	sodium_memzero(h, sizeof(h));
}

/*
 * Write the long form of F9 (what GnuPG's kdf-setup writes): SHA-256,
 * VCARD_KDF_COUNT, three fresh salts, the hashes of the factory PINs.
 */
static void
kdf_enable(struct vcard *s)
{
	uint8_t *k = s->kdf;
	uint32_t c = VCARD_KDF_COUNT;
	size_t i;

	k[0] = 0x81, k[1] = 0x01, k[2] = 0x03;		/* ITERSALTED_S2K */
	k[3] = 0x82, k[4] = 0x01, k[5] = 0x08;		/* SHA-256 */
	k[6] = 0x83, k[7] = 0x04;
	k[8] = c >> 24, k[9] = c >> 16, k[10] = c >> 8, k[11] = c;
	for (i = 0; i < 3; i++) {
		k[12 + 10 * i] = 0x84 + i;
		k[13 + 10 * i] = 0x08;
		randombytes_buf(k + 14 + 10 * i, 8);
	}
	k[42] = 0x87, k[43] = 0x20;
	k[76] = 0x88, k[77] = 0x20;
	s->kdf_len = VCARD_KDF_MAX;
	vcard_s2k((const uint8_t *)"123456", 6, kdf_salt(s, 1), c,
	    k + KDF_INIT_PW1);
	vcard_s2k((const uint8_t *)"12345678", 8, kdf_salt(s, 3), c,
	    k + KDF_INIT_PW3);
	kdf_hash_pin(s, 1, s->pw1, &s->pw1_len);
	kdf_hash_pin(s, 0, s->rc, &s->rc_len);
	kdf_hash_pin(s, 3, s->pw3, &s->pw3_len);
	s->dirty = 1;
}

/*
 * A KDF profile turns KDF on when the card has no F9 yet; an F9 that
 * says "off" (81 01 00, a state written so, or KDF turned off) is left
 * so: a card that can do KDF with KDF off (wgcardctl card init --kdf).
 */
void
vcard_apply_profile(struct vcard *s)
{
	if (s->prof.kdf != VCARD_KDF_NONE && s->kdf_len == 0)
		kdf_enable(s);
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
	profile_default(&s->prof);
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
	s->app = VCARD_APP_OPENPGP;
	s->touch_pending = 0;
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

/*
 * The ATR: T=0 and T=1 (TD1, TD2, TCK), or with the t0 knob T=0 alone
 * (no interface bytes, hence no TCK: ISO 7816-3 8.2.5), as many
 * contact cards and some readers' ATRs are.
 */
size_t
vcard_atr(const struct vcard_profile *p, uint8_t *atr)
{
	size_t n = 0, i;
	uint8_t tck = 0;

	atr[n++] = 0x3B;			/* direct convention */
	if (p->t0) {
		atr[n++] = sizeof(vcard_hist);	/* T0: K historical */
		memcpy(atr + n, vcard_hist, sizeof(vcard_hist));
		return n + sizeof(vcard_hist);
	}
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
	if (vcard_kdf_on(s)) {
		if (which == 3)
			kdf_hash_pin(s, 3, s->pw3, &s->pw3_len);
		else
			kdf_hash_pin(s, 1, s->pw1, &s->pw1_len);
	}
	s->dirty = 1;
	return 0;
}

void
vcard_select_app(struct vcard *s, int app)
{
	vcard_reset_session(s);
	s->app = app;
	s->selected = app == VCARD_APP_OPENPGP;
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
		if (s->prof.wrong_pin_sw != 0)
			return s->prof.wrong_pin_sw;
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
	/* A token failing inside (verifysw): the same error, at once. */
	if (s->prof.verify_sw != 0)
		return s->prof.verify_sw;
	/* A strict KDF card refuses what cannot be a hash, spending nothing. */
	if (vcard_kdf_on(s) && s->prof.kdf == VCARD_KDF_STRICT && a->lc != 32)
		return s->prof.kdf_sw;
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
	ob_byte(ob, s->prof.manufacturer >> 8);
	ob_byte(ob, s->prof.manufacturer & 0xFF);
	ob_byte(ob, s->serial >> 24);
	ob_byte(ob, s->serial >> 16);
	ob_byte(ob, s->serial >> 8);
	ob_byte(ob, s->serial);
	ob_byte(ob, 0x00);
	ob_byte(ob, 0x00);
}

/* The extended capabilities: the KDF-DO bit when the profile has KDF. */
static void
put_extcap(const struct vcard *s, struct obuf *ob)
{
	ob_byte(ob, vcard_extcap[0] |
	    (s->prof.kdf != VCARD_KDF_NONE ? 0x01 : 0x00));
	ob_put(ob, vcard_extcap + 1, sizeof(vcard_extcap) - 1);
}

/*
 * Algorithm attributes as the profile's token shows them; the quirks
 * touch the decryption slot only (X25519): the OID of RFC 8410, a
 * trailing FF, a bogus trailing byte.
 */
static void
put_attr(const struct vcard *s, int slot, struct obuf *ob)
{
	size_t n = s->attr_len[slot];

	if (slot != VCARD_KEY_DEC || !dec_is_cv25519(s) ||
	    (s->prof.attr == VCARD_ATTR_PLAIN && !s->prof.oid_rfc)) {
		ob_put(ob, s->attr[slot], n);
		return;
	}
	if (s->prof.oid_rfc)
		ob_put(ob, vcard_attr_x25519_rfc,
		    sizeof(vcard_attr_x25519_rfc));
	else
		ob_put(ob, vcard_attr_cv25519, sizeof(vcard_attr_cv25519));
	if (s->prof.attr == VCARD_ATTR_FF)
		ob_byte(ob, 0xFF);
	else if (s->prof.attr == VCARD_ATTR_BOGUS)
		ob_byte(ob, 0x01);
	else if (n > sizeof(vcard_attr_cv25519))
		ob_byte(ob, s->attr[slot][n - 1]);
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
	ob_tag(ob, 0xC0);
	ob_len(ob, sizeof(vcard_extcap));
	put_extcap(s, ob);
	for (i = 0; i < 3; i++) {
		size_t at = ob->len;

		put_attr(s, i, ob);
		ob_wrap(ob, at, 0xC1 + i);
	}
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
	for (i = 0; s->prof.button && i < 3; i++) {
		ob_tag(ob, 0xD6 + i);
		ob_len(ob, 2);
		ob_byte(ob, s->uif[i]);
		ob_byte(ob, 0x20);
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
		put_extcap(s, ob);
		break;
	case 0x00C1:
	case 0x00C2:
	case 0x00C3:
		put_attr(s, tag - 0xC1, ob);
		break;
	case 0x00F9:
		if (s->prof.kdf == VCARD_KDF_NONE)
			return SW_NOT_FOUND;
		if (s->kdf_len == 0) {
			static const uint8_t off[] = { 0x81, 0x01, 0x00 };

			ob_put(ob, off, sizeof(off));
		} else
			ob_put(ob, s->kdf, s->kdf_len);
		break;
	case 0x7F74:
		if (!s->prof.button)
			return SW_NOT_FOUND;
		ob_byte(ob, 0x81);
		ob_byte(ob, 0x01);
		ob_byte(ob, 0x20);	/* a button */
		break;
	case 0x00D6:
	case 0x00D7:
	case 0x00D8:
		if (!s->prof.button)
			return SW_NOT_FOUND;
		ob_byte(ob, s->uif[tag - 0xD6]);
		ob_byte(ob, 0x20);
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
		/* 7F21, 7F66, FA ...: not on this card. */
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

/* The OID of RFC 8410 for X25519 stored as GnuPG's, import byte kept. */
static void
attr_canon(const uint8_t *v, size_t n, uint8_t *out, size_t *outlen)
{
	size_t rfc = sizeof(vcard_attr_x25519_rfc);

	if ((n == rfc || n == rfc + 1) &&
	    memcmp(v, vcard_attr_x25519_rfc, rfc) == 0) {
		memcpy(out, vcard_attr_cv25519, sizeof(vcard_attr_cv25519));
		*outlen = sizeof(vcard_attr_cv25519);
		if (n == rfc + 1)
			out[(*outlen)++] = v[rfc];
		return;
	}
	*outlen = n > VCARD_ATTR_MAX ? VCARD_ATTR_MAX + 1 : n;
	memcpy(out, v, n > VCARD_ATTR_MAX ? VCARD_ATTR_MAX : n);
}

/*
 * PUT DATA F9 (after PW3): "81 01 00" (or nothing) turns KDF off, the
 * short (90) or long (110) form of GnuPG's kdf-setup turns it on, the
 * layout checked as Gnuk's openpgp-do.c rw_kdf() does. A replacing
 * card (Gnuk, YubiKey) then takes the factory PINs' hashes (87, 88)
 * as PW1 and PW3 and forgets the resetting code; a storing card
 * (Nitrokey 3) keeps its PINs: GnuPG changes them itself.
 */
static unsigned int
put_kdf(struct vcard *s, const struct apdu *a)
{
	const uint8_t *d = a->data;
	size_t n = a->lc, h1, h3;

	if (s->prof.kdf == VCARD_KDF_NONE)
		return SW_NOT_FOUND;
	if (!(n == 0 || (n == 3 && d[0] == 0x81 && d[1] == 0x01 &&
	    d[2] == 0x00) ||
	    (n == KDF_SHORT && d[0] == 0x81 && d[3] == 0x82 && d[6] == 0x83 &&
	    d[12] == 0x84 && d[22] == 0x87 && d[23] == 0x20 && d[56] == 0x88 &&
	    d[57] == 0x20) ||
	    (n == VCARD_KDF_MAX && d[0] == 0x81 && d[3] == 0x82 &&
	    d[6] == 0x83 && d[12] == 0x84 && d[22] == 0x85 && d[32] == 0x86 &&
	    d[42] == 0x87 && d[43] == 0x20 && d[76] == 0x88 &&
	    d[77] == 0x20)))
		return SW_WRONG_DATA;
	memset(s->kdf, 0, sizeof(s->kdf));
	memcpy(s->kdf, d, n);
	s->kdf_len = n;
	s->dirty = 1;
	if (!s->prof.kdf_replace)
		return SW_OK;
	sodium_memzero(s->pw1, sizeof(s->pw1));
	sodium_memzero(s->pw3, sizeof(s->pw3));
	sodium_memzero(s->rc, sizeof(s->rc));
	s->rc_len = 0;
	s->rc_tries = 0;
	s->pw1_tries = s->pw3_tries = VCARD_TRIES;
	s->pw1_81_ok = s->pw1_82_ok = s->pw3_ok = 0;
	if (vcard_kdf_on(s)) {
		h1 = n == KDF_SHORT ? 24 : KDF_INIT_PW1;
		h3 = n == KDF_SHORT ? 58 : KDF_INIT_PW3;
		memcpy(s->pw1, d + h1, 32);
		memcpy(s->pw3, d + h3, 32);
		s->pw1_len = s->pw3_len = 32;
	} else {
		memcpy(s->pw1, "123456", 6);
		s->pw1_len = 6;
		memcpy(s->pw3, "12345678", 8);
		s->pw3_len = 8;
	}
	return SW_OK;
}

static unsigned int
cmd_put_data(struct vcard *s, const struct apdu *a)
{
	unsigned int tag = (unsigned int)a->p1 << 8 | a->p2;
	uint8_t attr[VCARD_ATTR_MAX + 1];
	size_t attrlen;
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
		attr_canon(a->data, a->lc, attr, &attrlen);
		if (!attr_valid(slot, attr, attrlen))
			return SW_WRONG_DATA;
		if (attrlen == s->attr_len[slot] &&
		    memcmp(attr, s->attr[slot], attrlen) == 0)
			return SW_OK;
		/* New attributes delete the key and end PW1's session. */
		memset(s->attr[slot], 0, VCARD_ATTR_MAX);
		memcpy(s->attr[slot], attr, attrlen);
		s->attr_len[slot] = attrlen;
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
		/* With KDF on, the host sends the hash (GnuPG does). */
		s->rc_tries = a->lc ? VCARD_TRIES : 0;
		s->dirty = 1;
		return SW_OK;
	case 0x00D6:
	case 0x00D7:
	case 0x00D8:
		if (!s->prof.button)
			return SW_NOT_FOUND;
		if (a->lc < 1 || a->lc > 2)
			return SW_WRONG_LENGTH;
		if (a->data[0] > 4)
			return SW_WRONG_DATA;
		s->uif[tag - 0xD6] = a->data[0];
		s->dirty = 1;
		return SW_OK;
	case 0x00F9:
		return put_kdf(s, a);
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
	/* An all-zero result (a low-order point): Gnuk answers it. */
	if (wg_x25519(shared, s->dec_key, p) == -1 && !s->prof.lowpoint_zero)
		return SW_WRONG_DATA;
	ob_put(ob, shared, 32);
	sodium_memzero(shared, sizeof(shared));
	s->decipher_count++;
	if (s->prof.button && s->uif[VCARD_KEY_DEC] != 0)
		s->touch_pending = 1;
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

	size_t i, n;

	if (a->p1 != 0x04) {
		/*
		 * By file ID (GnuPG's 3F00 probe): a YubiKey answers with
		 * something GnuPG maps to GPG_ERR_CARD, which makes GnuPG
		 * look for the management application.
		 */
		if (s->prof.apps & 1 << VCARD_APP_MGMT)
			return SW_INS_UNSUPPORTED;
		return SW_FILE_NOT_FOUND;
	}
	/* Another application, by its AID or a longer one (PIV's version). */
	for (i = 1; i < VCARD_NAPPS; i++) {
		n = a->lc < vcard_apps[i].len ? a->lc : vcard_apps[i].len;
		if ((s->prof.apps & 1 << i) && a->lc >= 5 &&
		    memcmp(a->data, vcard_apps[i].aid, n) == 0) {
			vcard_select_app(s, i);
			return SW_OK;
		}
	}
	put_aid(s, &ob);
	if (a->lc < 5 || a->lc > sizeof(aid) ||
	    memcmp(a->data, aid, a->lc) != 0) {
		s->selected = 0;
		return SW_FILE_NOT_FOUND;
	}
	/* A token failing inside (selectsw): nothing changes. */
	if (s->prof.select_sw != 0)
		return s->prof.select_sw;
	/*
	 * Selecting the application starts over: no PIN is verified (on
	 * the tokens whose profile says so; all forget them when another
	 * application was selected in between).
	 */
	if (s->prof.select_clears || s->app != VCARD_APP_OPENPGP)
		vcard_select_app(s, VCARD_APP_OPENPGP);
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
	struct vcard_profile prof = s->prof;
	uint32_t serial = s->serial;
	unsigned long ops = s->decipher_count;

	if (a->p1 != 0 || a->p2 != 0)
		return SW_WRONG_P1P2;
	if (!s->terminated)
		return SW_OK;
	vcard_init(s, serial);		/* factory reset, same serial */
	s->prof = prof;
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
	if (s->prof.resp_max != 0 && le > (size_t)s->prof.resp_max)
		le = s->prof.resp_max;
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

/*
 * The YubiKey management application's "read config" (INS 1D), which
 * GnuPG's scd/app.c app_new_register() reads to know a YubiKey: a
 * length byte, then TLVs: 02 serial, 04 form factor, 05 version.
 */
static unsigned int
mgmt_config(const struct vcard *s, struct obuf *ob)
{
	size_t start;

	ob_byte(ob, 0);
	start = ob->len;
	ob_byte(ob, 0x02);
	ob_byte(ob, 0x04);
	ob_byte(ob, s->serial >> 24);
	ob_byte(ob, s->serial >> 16);
	ob_byte(ob, s->serial >> 8);
	ob_byte(ob, s->serial);
	ob_byte(ob, 0x04);
	ob_byte(ob, 0x01);
	ob_byte(ob, 0x01);		/* USB-A keychain */
	ob_byte(ob, 0x05);
	ob_byte(ob, 0x03);
	ob_byte(ob, s->prof.fw[0]);	/* firmware (fw=, 5.2.7) */
	ob_byte(ob, s->prof.fw[1]);
	ob_byte(ob, s->prof.fw[2]);
	if (!ob->err)
		ob->p[start - 1] = ob->len - start;
	return ob->err ? SW_WRONG_LENGTH : SW_OK;
}

/*
 * Yubico's GET VERSION (INS F1) on the OpenPGP application: the
 * firmware as three BCD bytes (yubikey-manager's OpenPGP controller,
 * INS.GET_VERSION). Only cards with a firmware version (YubiKeys).
 */
static unsigned int
cmd_get_version(const struct vcard *s, struct obuf *ob)
{
	int i;

	if (s->prof.fw[0] == 0 && s->prof.fw[1] == 0 && s->prof.fw[2] == 0)
		return SW_INS_UNSUPPORTED;
	for (i = 0; i < 3; i++)
		ob_byte(ob, (s->prof.fw[i] / 10) << 4 | s->prof.fw[i] % 10);
	return ob->err ? SW_WRONG_LENGTH : SW_OK;
}

static unsigned int
dispatch(struct vcard *s, const struct apdu *a, struct obuf *ob)
{
	/* Another application has the card: it answers, not OpenPGP. */
	if (s->app != VCARD_APP_OPENPGP && a->ins != 0xA4) {
		if (s->app == VCARD_APP_MGMT && a->ins == 0x1D)
			return mgmt_config(s, ob);
		return s->prof.foreign_sw;
	}
	if (s->terminated && a->ins != 0xA4 && a->ins != 0x44)
		return SW_TERMINATED;
	if (!s->selected && a->ins != 0xA4 && a->ins != 0x84)
		return s->prof.unselected_sw;
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
	case 0xF1:
		return cmd_get_version(s, ob);
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
	/*
	 * T=0 carries no Le after command data and no extended lengths
	 * (ISO 7816-3 12.2): a reader that passes the APDU through as it
	 * came (vpcd does; a CCID driver in TPDU mode drops the Le itself)
	 * leaves the card a byte too many. Answer what such a card says.
	 */
	if (s->prof.t0 && ((a.lc > 0 && a.le != 0) || a.lc > 255 ||
	    a.le > 256)) {
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
		/* T=0, case 4: the data only through GET RESPONSE. */
		if (s->prof.t0 && a.lc > 0)
			sw = 0x6100 | (ob.len > 0xFF ? 0 : ob.len);
		else
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
	put_hex(f, "kdf", s->kdf, s->kdf_len);
	fprintf(f, "uif %d %d %d\n", s->uif[0], s->uif[1], s->uif[2]);
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
	if (strcmp(k, "kdf") == 0) {
		n = get_hex(v, s->kdf, sizeof(s->kdf));
		if (n != 0 && n != 3 && n != KDF_SHORT && n != VCARD_KDF_MAX)
			return -1;
		s->kdf_len = n;
		return 0;
	}
	if (strcmp(k, "uif") == 0) {
		int u[3];

		if (sscanf(v, "%d %d %d", &u[0], &u[1], &u[2]) != 3)
			return -1;
		for (i = 0; i < 3; i++) {
			if (u[i] < 0 || u[i] > 4)
				return -1;
			s->uif[i] = u[i];
		}
		return 0;
	}
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
