/*
 * crypto.c: the primitives WireGuard needs, as thin wrappers over
 * libsodium, plus HMAC-BLAKE2s and WireGuard's KDF over blake2s.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "crypto.h"
#include "ct.h"

void
wg_crypto_init(void)
{
	if (sodium_init() < 0) {
		fprintf(stderr, "%s: sodium_init failed\n", __func__);
		abort();
	}
}

void
wg_hmac(uint8_t out[static 32], const uint8_t *key, size_t keylen,
    const uint8_t *in, size_t inlen)
{
	struct blake2s_state	s;
	uint8_t			kbuf[BLAKE2S_BLOCK_LEN];
	uint8_t			pad[BLAKE2S_BLOCK_LEN];
	uint8_t			ihash[BLAKE2S_OUT_LEN];
	size_t			i;

	memset(kbuf, 0, sizeof(kbuf));
	if (keylen > BLAKE2S_BLOCK_LEN)
		blake2s(kbuf, BLAKE2S_OUT_LEN, key, keylen, NULL, 0);
	else if (keylen > 0)
		memcpy(kbuf, key, keylen);

	for (i = 0; i < sizeof(pad); i++)
		pad[i] = kbuf[i] ^ 0x36;
	blake2s_init(&s, BLAKE2S_OUT_LEN);
	blake2s_update(&s, pad, sizeof(pad));
	blake2s_update(&s, in, inlen);
	blake2s_final(&s, ihash);

	for (i = 0; i < sizeof(pad); i++)
		pad[i] = kbuf[i] ^ 0x5c;
	blake2s_init(&s, BLAKE2S_OUT_LEN);
	blake2s_update(&s, pad, sizeof(pad));
	blake2s_update(&s, ihash, sizeof(ihash));
	blake2s_final(&s, out);

	sodium_memzero(kbuf, sizeof(kbuf));
	sodium_memzero(pad, sizeof(pad));
	sodium_memzero(ihash, sizeof(ihash));
}

void
wg_kdf(uint8_t *t1, uint8_t *t2, uint8_t *t3, const uint8_t ck[static 32],
    const uint8_t *in, size_t inlen)
{
	uint8_t	t0[32], out[3][32], buf[33];

	/* Outputs may alias ck or in: everything goes through temporaries. */
	wg_hmac(t0, ck, 32, in, inlen);

	buf[0] = 0x1;
	wg_hmac(out[0], t0, 32, buf, 1);

	memcpy(buf, out[0], 32);
	buf[32] = 0x2;
	wg_hmac(out[1], t0, 32, buf, 33);

	if (t3 != NULL) {
		memcpy(buf, out[1], 32);
		buf[32] = 0x3;
		wg_hmac(out[2], t0, 32, buf, 33);
	}

	if (t1 != NULL)
		memcpy(t1, out[0], 32);
	if (t2 != NULL)
		memcpy(t2, out[1], 32);
	if (t3 != NULL)
		memcpy(t3, out[2], 32);

	sodium_memzero(t0, sizeof(t0));
	sodium_memzero(out, sizeof(out));
	sodium_memzero(buf, sizeof(buf));
}

int
wg_x25519(uint8_t out[static 32], const uint8_t scalar[static 32],
    const uint8_t point[static 32])
{
	int	bad;

	/*
	 * libsodium fails on an all-zero result (a small-order point): a
	 * fact about the public point, so the verdict is public.
	 */
	bad = crypto_scalarmult(out, scalar, point);
	CT_PUBLIC(&bad, sizeof(bad));
	if (bad != 0 || wg_key_is_zero(out)) {
		sodium_memzero(out, 32);
		return -1;
	}
	return 0;
}

void
wg_x25519_pub(uint8_t pub[static 32], const uint8_t priv[static 32])
{
	if (crypto_scalarmult_base(pub, priv) != 0)
		sodium_memzero(pub, 32);
}

void
wg_x25519_generate(uint8_t priv[static 32], uint8_t pub[static 32])
{
	/* Clamped as "wg genkey" does, so the stored key is canonical. */
	randombytes_buf(priv, 32);
	priv[0] &= 248;
	priv[31] &= 127;
	priv[31] |= 64;
	wg_x25519_pub(pub, priv);
}

/*
 * The u-coordinates of small order on Curve25519 and its twist, as
 * little-endian 255-bit values (the high bit is masked off before the
 * compare): 0, 1, the two points of order 8, p - 1, p and p + 1.
 */
static const uint8_t x25519_small_order[7][32] = {
	{ 0 },
	{ 0x01 },
	{ 0xe0, 0xeb, 0x7a, 0x7c, 0x3b, 0x41, 0xb8, 0xae,
	  0x16, 0x56, 0xe3, 0xfa, 0xf1, 0x9f, 0xc4, 0x6a,
	  0xda, 0x09, 0x8d, 0xeb, 0x9c, 0x32, 0xb1, 0xfd,
	  0x86, 0x62, 0x05, 0x16, 0x5f, 0x49, 0xb8, 0x00 },
	{ 0x5f, 0x9c, 0x95, 0xbc, 0xa3, 0x50, 0x8c, 0x24,
	  0xb1, 0xd0, 0xb1, 0x55, 0x9c, 0x83, 0xef, 0x5b,
	  0x04, 0x44, 0x5c, 0xc4, 0x58, 0x1c, 0x8e, 0x86,
	  0xd8, 0x22, 0x4e, 0xdd, 0xd0, 0x9f, 0x11, 0x57 },
	{ 0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f },
	{ 0xed, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f },
	{ 0xee, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f },
};

int
wg_x25519_small_order(const uint8_t point[static 32])
{
	unsigned int	found = 0, diff;
	size_t		i, j;
	uint8_t		b;

	/* No early exit: every entry and every byte is looked at. */
	for (i = 0; i < 7; i++) {
		diff = 0;
		for (j = 0; j < 32; j++) {
			b = point[j];
			if (j == 31)
				b &= 0x7f;
			diff |= b ^ x25519_small_order[i][j];
		}
		/* 1 when diff == 0, without a branch. */
		found |= (diff - 1) >> 8 & 1;
	}
	return (int)found;
}

void
wg_aead_nonce(uint8_t n[12], uint64_t counter)
{
	int	i;

	memset(n, 0, 4);
	for (i = 0; i < 8; i++)
		n[4 + i] = (uint8_t)(counter >> (8 * i));
}

void
wg_aead_encrypt(uint8_t *dst, const uint8_t *src, size_t len,
    const uint8_t *ad, size_t adlen, uint64_t nonce,
    const uint8_t key[static 32])
{
	uint8_t	n[crypto_aead_chacha20poly1305_ietf_NPUBBYTES];

	wg_aead_nonce(n, nonce);
	crypto_aead_chacha20poly1305_ietf_encrypt(dst, NULL, src, len,
	    ad, adlen, NULL, n, key);
}

int
wg_aead_decrypt(uint8_t *dst, const uint8_t *src, size_t len,
    const uint8_t *ad, size_t adlen, uint64_t nonce,
    const uint8_t key[static 32])
{
	uint8_t	n[crypto_aead_chacha20poly1305_ietf_NPUBBYTES];
	int	bad;

	if (len < crypto_aead_chacha20poly1305_ietf_ABYTES)
		return -1;
	wg_aead_nonce(n, nonce);
	bad = crypto_aead_chacha20poly1305_ietf_decrypt(dst, NULL, NULL, src,
	    len, ad, adlen, n, key);
	/* Whether the tag verified is public: the packet is kept or not. */
	CT_PUBLIC(&bad, sizeof(bad));
	return bad != 0 ? -1 : 0;
}

void
wg_xaead_encrypt(uint8_t *dst, const uint8_t *src, size_t len,
    const uint8_t *ad, size_t adlen, const uint8_t nonce[static 24],
    const uint8_t key[static 32])
{
	crypto_aead_xchacha20poly1305_ietf_encrypt(dst, NULL, src, len,
	    ad, adlen, NULL, nonce, key);
}

int
wg_xaead_decrypt(uint8_t *dst, const uint8_t *src, size_t len,
    const uint8_t *ad, size_t adlen, const uint8_t nonce[static 24],
    const uint8_t key[static 32])
{
	int	bad;

	if (len < crypto_aead_xchacha20poly1305_ietf_ABYTES)
		return -1;
	bad = crypto_aead_xchacha20poly1305_ietf_decrypt(dst, NULL, NULL, src,
	    len, ad, adlen, nonce, key);
	CT_PUBLIC(&bad, sizeof(bad));	/* as wg_aead_decrypt */
	return bad != 0 ? -1 : 0;
}

int
wg_key_is_zero(const uint8_t key[static 32])
{
	volatile uint8_t	acc = 0;
	size_t			i;

	int			zero;

	for (i = 0; i < 32; i++)
		acc |= key[i];
	zero = (int)((((unsigned int)acc) - 1) >> 8 & 1);
	/*
	 * The verdict is public: an all-zero key is "none" (no psk) or a
	 * DH with a small-order point, both said by public data.
	 */
	CT_PUBLIC(&zero, sizeof(zero));
	return zero;
}

int
wg_mem_eq(const uint8_t *a, const uint8_t *b, size_t len)
{
	int	eq;

	eq = sodium_memcmp(a, b, len) == 0;
	/* Whether a MAC or key matched is public: the message is kept or not. */
	CT_PUBLIC(&eq, sizeof(eq));
	return eq;
}

int
wg_key_eq(const uint8_t a[static 32], const uint8_t b[static 32])
{
	return wg_mem_eq(a, b, 32);
}

/*
 * TAI64N: the TAI64 label (2^62 + 10 + Unix seconds) then nanoseconds,
 * both big-endian. Nanoseconds are rounded down to a multiple of 2^24
 * (about 16.8 ms), as the other implementations do, so the timestamp
 * does not leak fine-grained timing.
 */
#define TAI64_BASE	0x400000000000000aULL
#define TAI64N_WHITEN	((1U << 24) - 1)

void
wg_tai64n_now(uint8_t out[static 12])
{
	struct timespec	ts;
	uint64_t	secs;
	uint32_t	nsec;
	int		i;

	clock_gettime(CLOCK_REALTIME, &ts);
	secs = TAI64_BASE + (uint64_t)ts.tv_sec;
	nsec = (uint32_t)ts.tv_nsec & ~TAI64N_WHITEN;
	for (i = 0; i < 8; i++)
		out[i] = (uint8_t)(secs >> (56 - 8 * i));
	for (i = 0; i < 4; i++)
		out[8 + i] = (uint8_t)(nsec >> (24 - 8 * i));
}
