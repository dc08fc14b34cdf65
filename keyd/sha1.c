/*
 * sha1.c: SHA-1 (FIPS 180-4) for OpenPGP fingerprints; see sha1.h.
 */
#include <string.h>

#include "sha1.h"

static uint32_t
sha1_rol(uint32_t x, int n)
{
	return (x << n) | (x >> (32 - n));
}

static void
sha1_block(struct sha1_ctx *c, const uint8_t *p)
{
	uint32_t	w[80], a, b, d, e, f, k, t, cc;
	int		i;

	for (i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
		    (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
	for (i = 16; i < 80; i++)
		w[i] = sha1_rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
	a = c->h[0];
	b = c->h[1];
	cc = c->h[2];
	d = c->h[3];
	e = c->h[4];
	for (i = 0; i < 80; i++) {
		if (i < 20) {
			f = (b & cc) | (~b & d);
			k = 0x5a827999;
		} else if (i < 40) {
			f = b ^ cc ^ d;
			k = 0x6ed9eba1;
		} else if (i < 60) {
			f = (b & cc) | (b & d) | (cc & d);
			k = 0x8f1bbcdc;
		} else {
			f = b ^ cc ^ d;
			k = 0xca62c1d6;
		}
		t = sha1_rol(a, 5) + f + e + k + w[i];
		e = d;
		d = cc;
		cc = sha1_rol(b, 30);
		b = a;
		a = t;
	}
	c->h[0] += a;
	c->h[1] += b;
	c->h[2] += cc;
	c->h[3] += d;
	c->h[4] += e;
}

void
sha1_init(struct sha1_ctx *c)
{
	static const uint32_t	iv[5] = {
		0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0
	};

	memset(c, 0, sizeof(*c));
	memcpy(c->h, iv, sizeof(iv));
}

void
sha1_update(struct sha1_ctx *c, const void *data, size_t len)
{
	const uint8_t	*p = data;
	size_t		 n;

	c->len += len;
	while (len > 0) {
		n = 64 - c->nbuf;
		if (n > len)
			n = len;
		memcpy(c->buf + c->nbuf, p, n);
		c->nbuf += n;
		p += n;
		len -= n;
		if (c->nbuf == 64) {
			sha1_block(c, c->buf);
			c->nbuf = 0;
		}
	}
}

void
sha1_final(struct sha1_ctx *c, uint8_t out[static SHA1_LEN])
{
	uint64_t	bits = c->len * 8;
	uint8_t		pad = 0x80, zero = 0, lenb[8];
	int		i;

	sha1_update(c, &pad, 1);
	while (c->nbuf != 56)
		sha1_update(c, &zero, 1);
	for (i = 0; i < 8; i++)
		lenb[i] = (uint8_t)(bits >> (56 - 8 * i));
	sha1_update(c, lenb, 8);
	for (i = 0; i < 5; i++) {
		out[4 * i] = (uint8_t)(c->h[i] >> 24);
		out[4 * i + 1] = (uint8_t)(c->h[i] >> 16);
		out[4 * i + 2] = (uint8_t)(c->h[i] >> 8);
		out[4 * i + 3] = (uint8_t)c->h[i];
	}
	memset(c, 0, sizeof(*c));
}
