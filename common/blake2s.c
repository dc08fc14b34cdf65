/*
 * blake2s.c: BLAKE2s as specified in RFC 7693 (sequential mode, digest
 * length 1..32, optional key of up to 32 bytes). libsodium only ships
 * BLAKE2b, and WireGuard needs the 32-bit variant.
 */
#include <string.h>

#include <sodium.h>

#include "crypto.h"

static const uint32_t blake2s_iv[8] = {
	0x6a09e667UL, 0xbb67ae85UL, 0x3c6ef372UL, 0xa54ff53aUL,
	0x510e527fUL, 0x9b05688cUL, 0x1f83d9abUL, 0x5be0cd19UL
};

/* Message word permutations, RFC 7693 section 2.7. */
static const uint8_t blake2s_sigma[10][16] = {
	{  0,  1,  2,  3,  4,  5,  6,  7,  8,  9, 10, 11, 12, 13, 14, 15 },
	{ 14, 10,  4,  8,  9, 15, 13,  6,  1, 12,  0,  2, 11,  7,  5,  3 },
	{ 11,  8, 12,  0,  5,  2, 15, 13, 10, 14,  3,  6,  7,  1,  9,  4 },
	{  7,  9,  3,  1, 13, 12, 11, 14,  2,  6,  5, 10,  4,  0, 15,  8 },
	{  9,  0,  5,  7,  2,  4, 10, 15, 14,  1, 11, 12,  6,  8,  3, 13 },
	{  2, 12,  6, 10,  0, 11,  8,  3,  4, 13,  7,  5, 15, 14,  1,  9 },
	{ 12,  5,  1, 15, 14, 13,  4, 10,  0,  7,  6,  3,  9,  2,  8, 11 },
	{ 13, 11,  7, 14, 12,  1,  3,  9,  5,  0, 15,  4,  8,  6,  2, 10 },
	{  6, 15, 14,  9, 11,  3,  0,  8, 12,  2, 13,  7,  1,  4, 10,  5 },
	{ 10,  2,  8,  4,  7,  6,  1,  5, 15, 11,  9, 14,  3, 12, 13,  0 },
};

static inline uint32_t
blake2s_ror(uint32_t x, unsigned int n)
{
	return (x >> n) | (x << (32 - n));
}

static inline uint32_t
blake2s_load32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 |
	    (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline void
blake2s_store32(uint8_t *p, uint32_t v)
{
	p[0] = v;
	p[1] = v >> 8;
	p[2] = v >> 16;
	p[3] = v >> 24;
}

/* The mixing function G, RFC 7693 section 3.1. */
#define BLAKE2S_G(a, b, c, d, x, y) do {				\
	v[a] = v[a] + v[b] + (x);					\
	v[d] = blake2s_ror(v[d] ^ v[a], 16);				\
	v[c] = v[c] + v[d];						\
	v[b] = blake2s_ror(v[b] ^ v[c], 12);				\
	v[a] = v[a] + v[b] + (y);					\
	v[d] = blake2s_ror(v[d] ^ v[a], 8);				\
	v[c] = v[c] + v[d];						\
	v[b] = blake2s_ror(v[b] ^ v[c], 7);				\
} while (0)

/* The compression function F, RFC 7693 section 3.2. */
static void
blake2s_compress(struct blake2s_state *s, const uint8_t block[64])
{
	uint32_t	 m[16], v[16];
	const uint8_t	*sg;
	int		 i, r;

	for (i = 0; i < 16; i++)
		m[i] = blake2s_load32(block + 4 * i);
	for (i = 0; i < 8; i++) {
		v[i] = s->h[i];
		v[i + 8] = blake2s_iv[i];
	}
	v[12] ^= s->t[0];
	v[13] ^= s->t[1];
	v[14] ^= s->f[0];
	v[15] ^= s->f[1];

	for (r = 0; r < 10; r++) {
		sg = blake2s_sigma[r];
		BLAKE2S_G(0, 4,  8, 12, m[sg[ 0]], m[sg[ 1]]);
		BLAKE2S_G(1, 5,  9, 13, m[sg[ 2]], m[sg[ 3]]);
		BLAKE2S_G(2, 6, 10, 14, m[sg[ 4]], m[sg[ 5]]);
		BLAKE2S_G(3, 7, 11, 15, m[sg[ 6]], m[sg[ 7]]);
		BLAKE2S_G(0, 5, 10, 15, m[sg[ 8]], m[sg[ 9]]);
		BLAKE2S_G(1, 6, 11, 12, m[sg[10]], m[sg[11]]);
		BLAKE2S_G(2, 7,  8, 13, m[sg[12]], m[sg[13]]);
		BLAKE2S_G(3, 4,  9, 14, m[sg[14]], m[sg[15]]);
	}
	for (i = 0; i < 8; i++)
		s->h[i] ^= v[i] ^ v[i + 8];

	sodium_memzero(m, sizeof(m));
	sodium_memzero(v, sizeof(v));
}

static void
blake2s_add_counter(struct blake2s_state *s, uint32_t inc)
{
	s->t[0] += inc;
	if (s->t[0] < inc)
		s->t[1]++;
}

void
blake2s_init_key(struct blake2s_state *s, size_t outlen, const uint8_t *key,
    size_t keylen)
{
	int	i;

	if (outlen == 0 || outlen > BLAKE2S_OUT_LEN)
		outlen = BLAKE2S_OUT_LEN;
	if (key == NULL || keylen > BLAKE2S_KEY_LEN)
		keylen = 0;

	memset(s, 0, sizeof(*s));
	for (i = 0; i < 8; i++)
		s->h[i] = blake2s_iv[i];
	/* Parameter block: digest length, key length, fanout 1, depth 1. */
	s->h[0] ^= 0x01010000UL ^ ((uint32_t)keylen << 8) ^ (uint32_t)outlen;
	s->outlen = outlen;

	if (keylen > 0) {
		/* The key, zero padded, is the first block. */
		memcpy(s->buf, key, keylen);
		s->buflen = BLAKE2S_BLOCK_LEN;
	}
}

void
blake2s_init(struct blake2s_state *s, size_t outlen)
{
	blake2s_init_key(s, outlen, NULL, 0);
}

void
blake2s_update(struct blake2s_state *s, const uint8_t *in, size_t inlen)
{
	size_t	n;

	while (inlen > 0) {
		/*
		 * A full buffer is compressed only once more input arrives:
		 * the last block must go through blake2s_final.
		 */
		if (s->buflen == BLAKE2S_BLOCK_LEN) {
			blake2s_add_counter(s, BLAKE2S_BLOCK_LEN);
			blake2s_compress(s, s->buf);
			s->buflen = 0;
		}
		n = BLAKE2S_BLOCK_LEN - s->buflen;
		if (n > inlen)
			n = inlen;
		memcpy(s->buf + s->buflen, in, n);
		s->buflen += n;
		in += n;
		inlen -= n;
	}
}

void
blake2s_final(struct blake2s_state *s, uint8_t *out)
{
	uint8_t	digest[BLAKE2S_OUT_LEN];
	int	i;

	blake2s_add_counter(s, (uint32_t)s->buflen);
	memset(s->buf + s->buflen, 0, BLAKE2S_BLOCK_LEN - s->buflen);
	s->f[0] = 0xffffffffUL;
	blake2s_compress(s, s->buf);

	for (i = 0; i < 8; i++)
		blake2s_store32(digest + 4 * i, s->h[i]);
	memcpy(out, digest, s->outlen);

	sodium_memzero(digest, sizeof(digest));
	sodium_memzero(s, sizeof(*s));
}

void
blake2s(uint8_t *out, size_t outlen, const uint8_t *in, size_t inlen,
    const uint8_t *key, size_t keylen)
{
	struct blake2s_state	s;

	blake2s_init_key(&s, outlen, key, keylen);
	blake2s_update(&s, in, inlen);
	blake2s_final(&s, out);
}
