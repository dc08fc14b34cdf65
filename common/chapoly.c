/*
 * chapoly.c: ChaCha20-Poly1305 as RFC 8439 defines it, in scalar C
 * (chapoly.h says why). ChaCha20 keeps its state in sixteen 32-bit
 * words; Poly1305 computes modulo 2^130 - 5 in three limbs of 44, 44
 * and 42 bits with 64 x 64 -> 128-bit products, so a block is nine
 * multiplications. The limbs' sizes make every reduction a multiply by
 * 5 (by 20 for a product that lands two bits past 2^130).
 */
#include <endian.h>
#include <stdlib.h>
#include <string.h>

#include "chapoly.h"
#include "ct.h"

#ifndef __SIZEOF_INT128__
#error "chapoly.c needs unsigned __int128 (a 64-bit target)"
#endif

typedef unsigned __int128 chapoly_u128;

#define CHAPOLY_M44	0xfffffffffffULL
#define CHAPOLY_M42	0x3ffffffffffULL
#define CHAPOLY_HIBIT	(1ULL << 40)	/* 2^128 in the top limb */

#define CHAPOLY_ROTL(v, n)	(((v) << (n)) | ((v) >> (32 - (n))))
#define CHAPOLY_QR(a, b, c, d) do {					\
	a += b; d ^= a; d = CHAPOLY_ROTL(d, 16);			\
	c += d; b ^= c; b = CHAPOLY_ROTL(b, 12);			\
	a += b; d ^= a; d = CHAPOLY_ROTL(d, 8);				\
	c += d; b ^= c; b = CHAPOLY_ROTL(b, 7);				\
} while (0)

struct chapoly_mac {
	uint64_t	r0, r1, r2;	/* r, clamped */
	uint64_t	s1, s2;		/* r1 * 20, r2 * 20 */
	uint64_t	h0, h1, h2;	/* the accumulator */
	uint64_t	pad0, pad1;	/* s, the key's second half */
};

static inline uint32_t
chapoly_le32(const uint8_t *p)
{
	uint32_t	v;

	memcpy(&v, p, sizeof(v));
	return le32toh(v);
}

static inline uint64_t
chapoly_le64(const uint8_t *p)
{
	uint64_t	v;

	memcpy(&v, p, sizeof(v));
	return le64toh(v);
}

/*
 * Wipe n bytes at p: memset, then an empty asm that takes p and clobbers
 * memory, so that the compiler cannot drop the stores as dead (Linux's
 * memzero_explicit). Inline on purpose: sodium_memzero, a call into
 * another library, costs about 3.7 us from cold caches, more than this
 * file's whole seal of a small packet (docs/decisions.md 25).
 */
static inline void
chapoly_wipe(void *p, size_t n)
{
	memset(p, 0, n);
	__asm__ __volatile__("" : : "r"(p) : "memory");
}

/*
 * 0 when the two tags are equal, 1 when not, in time that does not
 * depend on where they differ; the asm hides the difference from the
 * optimizer, which could otherwise test it byte by byte.
 */
static inline int
chapoly_tag_differs(const uint8_t a[static 16], const uint8_t b[static 16])
{
	uint64_t	x;

	x = (chapoly_le64(a) ^ chapoly_le64(b)) |
	    (chapoly_le64(a + 8) ^ chapoly_le64(b + 8));
	__asm__ ("" : "+r"(x));
	return (int)((x | (0 - x)) >> 63);
}

/* The state of RFC 8439 2.3: constants, key, block counter, nonce. */
static void
chapoly_state(uint32_t st[16], const uint8_t key[static CHAPOLY_KEY_LEN],
    const uint8_t nonce[static CHAPOLY_NONCE_LEN], uint32_t ctr)
{
	int	i;

	st[0] = 0x61707865;	/* "expand 32-byte k" */
	st[1] = 0x3320646e;
	st[2] = 0x79622d32;
	st[3] = 0x6b206574;
	for (i = 0; i < 8; i++)
		st[4 + i] = chapoly_le32(key + 4 * i);
	st[12] = ctr;
	for (i = 0; i < 3; i++)
		st[13 + i] = chapoly_le32(nonce + 4 * i);
}

/* One block of keystream for st (20 rounds, then the state added). */
static void
chapoly_block(const uint32_t st[16], uint8_t out[64])
{
	uint32_t	x[16], v;
	int		i;

	memcpy(x, st, sizeof(x));
	for (i = 0; i < 10; i++) {
		CHAPOLY_QR(x[0], x[4], x[8], x[12]);
		CHAPOLY_QR(x[1], x[5], x[9], x[13]);
		CHAPOLY_QR(x[2], x[6], x[10], x[14]);
		CHAPOLY_QR(x[3], x[7], x[11], x[15]);
		CHAPOLY_QR(x[0], x[5], x[10], x[15]);
		CHAPOLY_QR(x[1], x[6], x[11], x[12]);
		CHAPOLY_QR(x[2], x[7], x[8], x[13]);
		CHAPOLY_QR(x[3], x[4], x[9], x[14]);
	}
	for (i = 0; i < 16; i++) {
		v = htole32(x[i] + st[i]);
		memcpy(out + 4 * i, &v, sizeof(v));
	}
	chapoly_wipe(x, sizeof(x));
}

/* buf ^= the keystream from st's counter on; the counter advances. */
static void
chapoly_xor(uint32_t st[16], uint8_t *buf, size_t len)
{
	uint8_t		ks[64];
	uint64_t	a, b;
	size_t		n, i;

	while (len > 0) {
		chapoly_block(st, ks);
		st[12]++;
		n = len < sizeof(ks) ? len : sizeof(ks);
		for (i = 0; i + 8 <= n; i += 8) {
			memcpy(&a, buf + i, 8);
			memcpy(&b, ks + i, 8);
			a ^= b;
			memcpy(buf + i, &a, 8);
		}
		for (; i < n; i++)
			buf[i] ^= ks[i];
		buf += n;
		len -= n;
	}
	chapoly_wipe(ks, sizeof(ks));
}

void
chapoly_chacha20(uint8_t *buf, size_t len,
    const uint8_t key[static CHAPOLY_KEY_LEN],
    const uint8_t nonce[static CHAPOLY_NONCE_LEN], uint32_t ctr)
{
	uint32_t	st[16];

	/* No wrap of the counter to 0 (RFC 8439); libsodium aborts too. */
	if ((uint64_t)(len / 64 + (len % 64 != 0)) > (1ULL << 32) - ctr)
		abort();
	chapoly_state(st, key, nonce, ctr);
	chapoly_xor(st, buf, len);
	chapoly_wipe(st, sizeof(st));
}

static void
chapoly_mac_init(struct chapoly_mac *m, const uint8_t key[static 32])
{
	uint64_t	t0, t1;

	t0 = chapoly_le64(key);
	t1 = chapoly_le64(key + 8);
	/* r &= 0x0ffffffc0ffffffc0ffffffc0fffffff, split 44/44/42 */
	m->r0 = t0 & 0xffc0fffffffULL;
	m->r1 = ((t0 >> 44) | (t1 << 20)) & 0xfffffc0ffffULL;
	m->r2 = (t1 >> 24) & 0x00ffffffc0fULL;
	m->s1 = m->r1 * 20;
	m->s2 = m->r2 * 20;
	m->h0 = m->h1 = m->h2 = 0;
	m->pad0 = chapoly_le64(key + 16);
	m->pad1 = chapoly_le64(key + 24);
}

/* h = (h + block) * r for nblocks blocks of 16 bytes; hibit: 2^128 or 0. */
static void
chapoly_mac_blocks(struct chapoly_mac *m, const uint8_t *p, size_t nblocks,
    uint64_t hibit)
{
	uint64_t	r0 = m->r0, r1 = m->r1, r2 = m->r2;
	uint64_t	s1 = m->s1, s2 = m->s2;
	uint64_t	h0 = m->h0, h1 = m->h1, h2 = m->h2;
	uint64_t	t0, t1, c;
	chapoly_u128	d0, d1, d2;

	for (; nblocks > 0; nblocks--, p += 16) {
		t0 = chapoly_le64(p);
		t1 = chapoly_le64(p + 8);
		h0 += t0 & CHAPOLY_M44;
		h1 += ((t0 >> 44) | (t1 << 20)) & CHAPOLY_M44;
		h2 += ((t1 >> 24) & CHAPOLY_M42) | hibit;

		d0 = (chapoly_u128)h0 * r0 + (chapoly_u128)h1 * s2 +
		    (chapoly_u128)h2 * s1;
		d1 = (chapoly_u128)h0 * r1 + (chapoly_u128)h1 * r0 +
		    (chapoly_u128)h2 * s2;
		d2 = (chapoly_u128)h0 * r2 + (chapoly_u128)h1 * r1 +
		    (chapoly_u128)h2 * r0;

		c = (uint64_t)(d0 >> 44);
		h0 = (uint64_t)d0 & CHAPOLY_M44;
		d1 += c;
		c = (uint64_t)(d1 >> 44);
		h1 = (uint64_t)d1 & CHAPOLY_M44;
		d2 += c;
		c = (uint64_t)(d2 >> 42);
		h2 = (uint64_t)d2 & CHAPOLY_M42;
		h0 += c * 5;
		c = h0 >> 44;
		h0 &= CHAPOLY_M44;
		h1 += c;
	}
	m->h0 = h0;
	m->h1 = h1;
	m->h2 = h2;
}

/* The AEAD's input: p, then zeros to a multiple of 16 (RFC 8439 2.8). */
static void
chapoly_mac_padded(struct chapoly_mac *m, const uint8_t *p, size_t len)
{
	uint8_t	last[16];

	chapoly_mac_blocks(m, p, len / 16, CHAPOLY_HIBIT);
	if (len % 16 != 0) {
		memset(last, 0, sizeof(last));
		memcpy(last, p + len - len % 16, len % 16);
		chapoly_mac_blocks(m, last, 1, CHAPOLY_HIBIT);
		chapoly_wipe(last, sizeof(last));
	}
}

/* h fully reduced modulo 2^130 - 5, plus s, modulo 2^128; m wiped. */
static void
chapoly_mac_final(struct chapoly_mac *m, uint8_t tag[static 16])
{
	uint64_t	h0 = m->h0, h1 = m->h1, h2 = m->h2;
	uint64_t	g0, g1, g2, c, t0, t1;
	int		i;

	/* Carry twice through all three limbs: h < 2^130 after it. */
	for (i = 0; i < 2; i++) {
		c = h1 >> 44;
		h1 &= CHAPOLY_M44;
		h2 += c;
		c = h2 >> 42;
		h2 &= CHAPOLY_M42;
		h0 += c * 5;
		c = h0 >> 44;
		h0 &= CHAPOLY_M44;
		h1 += c;
	}
	c = h1 >> 44;
	h1 &= CHAPOLY_M44;
	h2 += c;

	/* g = h + 5 - 2^130; h = g when that did not borrow (h >= p). */
	g0 = h0 + 5;
	c = g0 >> 44;
	g0 &= CHAPOLY_M44;
	g1 = h1 + c;
	c = g1 >> 44;
	g1 &= CHAPOLY_M44;
	g2 = h2 + c - (1ULL << 42);
	c = (g2 >> 63) - 1;	/* all ones: no borrow, take g */
	g0 &= c;
	g1 &= c;
	g2 &= c;
	c = ~c;
	h0 = (h0 & c) | g0;
	h1 = (h1 & c) | g1;
	h2 = (h2 & c) | g2;

	/* + s, modulo 2^128 */
	t0 = m->pad0;
	t1 = m->pad1;
	h0 += t0 & CHAPOLY_M44;
	c = h0 >> 44;
	h0 &= CHAPOLY_M44;
	h1 += (((t0 >> 44) | (t1 << 20)) & CHAPOLY_M44) + c;
	c = h1 >> 44;
	h1 &= CHAPOLY_M44;
	h2 += (t1 >> 24) + c;
	h2 &= CHAPOLY_M42;

	t0 = htole64(h0 | h1 << 44);
	t1 = htole64(h1 >> 20 | h2 << 24);
	memcpy(tag, &t0, 8);
	memcpy(tag + 8, &t1, 8);
	chapoly_wipe(m, sizeof(*m));
}

void
chapoly_poly1305(uint8_t tag[static CHAPOLY_TAG_LEN], const uint8_t *p,
    size_t len, const uint8_t key[static 32])
{
	struct chapoly_mac	m;
	uint8_t			last[16];

	chapoly_mac_init(&m, key);
	chapoly_mac_blocks(&m, p, len / 16, CHAPOLY_HIBIT);
	if (len % 16 != 0) {
		/* The last block: its bytes, 0x01, zeros; no 2^128. */
		memset(last, 0, sizeof(last));
		memcpy(last, p + len - len % 16, len % 16);
		last[len % 16] = 1;
		chapoly_mac_blocks(&m, last, 1, 0);
		chapoly_wipe(last, sizeof(last));
	}
	chapoly_mac_final(&m, tag);
}

/*
 * The AEAD's tag over ad and the ciphertext ct; st holds the key and
 * nonce (its counter is set to 0 here for the Poly1305 key).
 */
static void
chapoly_tag(uint32_t st[16], const uint8_t *ad, size_t adlen,
    const uint8_t *ct, size_t len, uint8_t tag[static CHAPOLY_TAG_LEN])
{
	struct chapoly_mac	m;
	uint8_t			block[64], lens[16];
	uint64_t		v;

	st[12] = 0;
	chapoly_block(st, block);
	chapoly_mac_init(&m, block);
	chapoly_wipe(block, sizeof(block));
	if (adlen > 0)
		chapoly_mac_padded(&m, ad, adlen);
	chapoly_mac_padded(&m, ct, len);
	v = htole64((uint64_t)adlen);
	memcpy(lens, &v, 8);
	v = htole64((uint64_t)len);
	memcpy(lens + 8, &v, 8);
	chapoly_mac_blocks(&m, lens, 1, CHAPOLY_HIBIT);
	chapoly_mac_final(&m, tag);
}

void
chapoly_seal(uint8_t *buf, size_t len, const uint8_t *ad, size_t adlen,
    const uint8_t nonce[static CHAPOLY_NONCE_LEN],
    const uint8_t key[static CHAPOLY_KEY_LEN])
{
	uint32_t	st[16];

	/* Past it, block 0 (the Poly1305 key's) would encrypt text. */
	if (len > CHAPOLY_MAX_LEN)
		abort();
	chapoly_state(st, key, nonce, 1);
	chapoly_xor(st, buf, len);
	chapoly_tag(st, ad, adlen, buf, len, buf + len);
	chapoly_wipe(st, sizeof(st));
}

int
chapoly_open(uint8_t *buf, size_t len, const uint8_t *ad, size_t adlen,
    const uint8_t nonce[static CHAPOLY_NONCE_LEN],
    const uint8_t key[static CHAPOLY_KEY_LEN])
{
	uint32_t	st[16];
	uint8_t		mine[CHAPOLY_TAG_LEN];
	int		bad;

	if (len < CHAPOLY_TAG_LEN || len - CHAPOLY_TAG_LEN > CHAPOLY_MAX_LEN)
		return -1;
	len -= CHAPOLY_TAG_LEN;
	chapoly_state(st, key, nonce, 0);
	chapoly_tag(st, ad, adlen, buf, len, mine);
	bad = chapoly_tag_differs(mine, buf + len);
	/* Public: whether the tag matched is what the peer sees. */
	CT_PUBLIC(&bad, sizeof(bad));
	if (bad == 0) {
		st[12] = 1;
		chapoly_xor(st, buf, len);
	}
	chapoly_wipe(st, sizeof(st));
	chapoly_wipe(mine, sizeof(mine));
	return bad == 0 ? 0 : -1;
}
