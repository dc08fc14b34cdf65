/*
 * encoding.c: base64 (RFC 4648, with padding) and hex for 32-byte keys,
 * in constant time: no branch and no table lookup depends on a key
 * byte or character, only on the (public) length of the string.
 */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "encoding.h"

#define KEY_LEN		32
#define B64_CHARS	(WG_KEY_B64_LEN - 1)	/* 44 */
#define HEX_CHARS	(WG_KEY_HEX_LEN - 1)	/* 64 */

/*
 * All ones if lo <= c <= hi, else zero. Both differences are negative
 * only inside the range; the arithmetic shift spreads the sign bit.
 */
static inline int
enc_in_range(int c, int lo, int hi)
{
	return ((lo - 1 - c) & (c - (hi + 1))) >> 8;
}

/* 0..63 to the base64 alphabet. */
static inline char
b64_enc6(unsigned int v)
{
	int	c = 'A' + (int)v;

	c += (int)(((25U - v) >> 8) & 6);	/* 26..51: 'a'.. */
	c -= (int)(((51U - v) >> 8) & 75);	/* 52..61: '0'.. */
	c -= (int)(((61U - v) >> 8) & 15);	/* 62: '+' */
	c += (int)(((62U - v) >> 8) & 3);	/* 63: '/' */
	return (char)c;
}

/* A base64 character to 0..63, or -1. */
static inline int
b64_dec6(int c)
{
	int	v = -1;

	v += enc_in_range(c, 'A', 'Z') & (c - 'A' + 1);
	v += enc_in_range(c, 'a', 'z') & (c - 'a' + 27);
	v += enc_in_range(c, '0', '9') & (c - '0' + 53);
	v += enc_in_range(c, '+', '+') & 63;
	v += enc_in_range(c, '/', '/') & 64;
	return v;
}

void
key_to_base64(char out[static WG_KEY_B64_LEN], const uint8_t key[static 32])
{
	unsigned int	w;
	size_t		i;

	for (i = 0; i < KEY_LEN / 3; i++) {
		w = (unsigned int)key[3 * i] << 16 |
		    (unsigned int)key[3 * i + 1] << 8 | key[3 * i + 2];
		out[4 * i] = b64_enc6(w >> 18 & 63);
		out[4 * i + 1] = b64_enc6(w >> 12 & 63);
		out[4 * i + 2] = b64_enc6(w >> 6 & 63);
		out[4 * i + 3] = b64_enc6(w & 63);
	}
	/* The last two bytes: 16 bits in three characters, then '='. */
	w = (unsigned int)key[30] << 16 | (unsigned int)key[31] << 8;
	out[40] = b64_enc6(w >> 18 & 63);
	out[41] = b64_enc6(w >> 12 & 63);
	out[42] = b64_enc6(w >> 6 & 63);
	out[43] = '=';
	out[44] = '\0';
}

int
key_from_base64(uint8_t key[static 32], const char *s)
{
	uint8_t	tmp[KEY_LEN];
	unsigned int	v;
	int		a, b, c, d, err = 0;
	size_t		i;

	if (s == NULL || strlen(s) != B64_CHARS || s[B64_CHARS - 1] != '=')
		return -1;

	for (i = 0; i < KEY_LEN / 3; i++) {
		a = b64_dec6((unsigned char)s[4 * i]);
		b = b64_dec6((unsigned char)s[4 * i + 1]);
		c = b64_dec6((unsigned char)s[4 * i + 2]);
		d = b64_dec6((unsigned char)s[4 * i + 3]);
		err |= a | b | c | d;	/* negative if any is -1 */
		v = (unsigned int)a << 18 | (unsigned int)b << 12 |
		    (unsigned int)c << 6 | (unsigned int)d;
		tmp[3 * i] = (uint8_t)(v >> 16);
		tmp[3 * i + 1] = (uint8_t)(v >> 8);
		tmp[3 * i + 2] = (uint8_t)v;
	}
	a = b64_dec6((unsigned char)s[40]);
	b = b64_dec6((unsigned char)s[41]);
	c = b64_dec6((unsigned char)s[42]);
	err |= a | b | c;
	/* The two leftover bits must be zero (canonical encoding). */
	err |= -((c & 3) != 0);
	v = (unsigned int)a << 18 | (unsigned int)b << 12 |
	    (unsigned int)c << 6;
	tmp[30] = (uint8_t)(v >> 16);
	tmp[31] = (uint8_t)(v >> 8);

	if (err < 0) {
		sodium_memzero(tmp, sizeof(tmp));
		return -1;
	}
	memcpy(key, tmp, KEY_LEN);
	sodium_memzero(tmp, sizeof(tmp));
	return 0;
}

void
key_to_hex(char out[static WG_KEY_HEX_LEN], const uint8_t key[static 32])
{
	unsigned int	n;
	size_t		i;

	for (i = 0; i < KEY_LEN; i++) {
		n = key[i] >> 4;
		out[2 * i] = (char)('0' + n + (((9U - n) >> 8) & 39));
		n = key[i] & 15;
		out[2 * i + 1] = (char)('0' + n + (((9U - n) >> 8) & 39));
	}
	out[HEX_CHARS] = '\0';
}

/* A hex digit (either case) to 0..15, or -1. */
static inline int
hex_dec4(int c)
{
	int	v = -1;

	v += enc_in_range(c, '0', '9') & (c - '0' + 1);
	v += enc_in_range(c, 'a', 'f') & (c - 'a' + 11);
	v += enc_in_range(c, 'A', 'F') & (c - 'A' + 11);
	return v;
}

int
key_from_hex(uint8_t key[static 32], const char *s)
{
	uint8_t	tmp[KEY_LEN];
	int	hi, lo, err = 0;
	size_t	i;

	if (s == NULL || strlen(s) != HEX_CHARS)
		return -1;
	for (i = 0; i < KEY_LEN; i++) {
		hi = hex_dec4((unsigned char)s[2 * i]);
		lo = hex_dec4((unsigned char)s[2 * i + 1]);
		err |= hi | lo;
		tmp[i] = (uint8_t)((unsigned int)hi << 4 | (unsigned int)lo);
	}
	if (err < 0) {
		sodium_memzero(tmp, sizeof(tmp));
		return -1;
	}
	memcpy(key, tmp, KEY_LEN);
	sodium_memzero(tmp, sizeof(tmp));
	return 0;
}

size_t
utf8_seq_len(const uint8_t *s, size_t n)
{
	size_t		len, i;
	uint32_t	cp;

	if (n == 0 || s[0] < 0xc2 || s[0] > 0xf4)
		return 0;
	len = s[0] < 0xe0 ? 2 : s[0] < 0xf0 ? 3 : 4;
	if (len > n)
		return 0;
	cp = s[0] & (0x7f >> len);
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/* json_quote's output: what fits, and the length in any case. */
static void
json_put(char *dst, size_t dstlen, size_t *len, const char *p, size_t n)
{
	if (*len + n < dstlen)
		memcpy(dst + *len, p, n);
	*len += n;
}

size_t
json_quote(char *dst, size_t dstlen, const char *s, size_t n)
{
	const uint8_t	*u = (const uint8_t *)s;
	char		 esc[8];
	size_t		 i, l, len = 0;

	json_put(dst, dstlen, &len, "\"", 1);
	for (i = 0; i < n; ) {
		if (u[i] == '"' || u[i] == '\\') {
			esc[0] = '\\';
			esc[1] = (char)u[i++];
			json_put(dst, dstlen, &len, esc, 2);
		} else if (u[i] < 0x20 || u[i] == 0x7f) {
			snprintf(esc, sizeof(esc), "\\u%04x", u[i++]);
			json_put(dst, dstlen, &len, esc, 6);
		} else if (u[i] < 0x80) {
			json_put(dst, dstlen, &len, s + i, 1);
			i++;
		} else if ((l = utf8_seq_len(u + i, n - i)) != 0) {
			json_put(dst, dstlen, &len, s + i, l);
			i += l;
		} else {
			json_put(dst, dstlen, &len, "\\ufffd", 6);
			i++;
		}
	}
	json_put(dst, dstlen, &len, "\"", 1);
	if (dstlen > 0)
		dst[len < dstlen ? len : dstlen - 1] = '\0';
	return len;
}
