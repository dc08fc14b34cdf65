/*
 * fuzz_chapoly.c: libFuzzer target for common/chapoly.c, the compact
 * path's own ChaCha20-Poly1305, differentially against libsodium's
 * ChaCha20, Poly1305 and AEAD; its open must refuse a flipped bit.
 *
 * Input: a mode byte, then a 32-byte key, a 12-byte nonce, a 32-bit
 * block counter (big-endian), a 32-byte Poly1305 key, a byte of AD
 * length, a 16-bit bit position (big-endian) and the rest: the AD (its
 * first bytes, as many as the length byte says and are left), then the
 * message. The mode byte makes the values at the edges reachable
 * without the fuzzer having to find them: bits 0-1 Poly1305's r as
 * given, all 0xff (clamped: the largest r), small (its first byte
 * only) or zero; bit 2 s all 0xff (the final + s carries out of
 * 2^128); bit 3 the message all 0xff (with a small r the accumulator
 * comes to 2^130 - 5 and past it); bit 4 the AD all 0xff; bit 5 the key
 * all 0xff; bit 6 the counter the largest the length allows (its last
 * block at 2^32 - 1); bit 7 the nonce all 0xff.
 *
 * Checked, with abort() on any difference: chapoly_chacha20 against
 * crypto_stream_chacha20_ietf_xor_ic from the counter (kept within the
 * length chapoly.h allows: no block past 2^32 - 1); chapoly_poly1305
 * against crypto_onetimeauth_poly1305; chapoly_seal against
 * crypto_aead_chacha20poly1305_ietf_encrypt; chapoly_open opens the
 * seal to the message, refuses it with the one bit of the position
 * flipped (in the text, the tag or the AD) or cut short, and then
 * leaves the buffer as it was. Buffers are exact allocations (ASan
 * sees a byte past them).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "chapoly.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define FZ_HDR	(1 + 32 + 12 + 4 + 32 + 1 + 2)

static void
fz_check(int ok)
{
	if (!ok)
		abort();
}

/* A copy of n bytes in an allocation of its own (NULL for 0 bytes). */
static uint8_t *
fz_dup(const uint8_t *p, size_t n, size_t room)
{
	uint8_t	*q;

	if (n + room == 0)
		return NULL;
	if ((q = malloc(n + room)) == NULL)
		abort();
	if (n > 0)
		memcpy(q, p, n);
	return q;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int	 inited;
	uint8_t		 mode, key[32], nonce[12], pkey[32];
	uint8_t		 tag[16], ref[16];
	uint8_t		*ad, *msg, *buf, *sealed, *ct;
	unsigned long long clen;
	uint32_t	 ctr;
	uint64_t	 nblocks;
	size_t		 adlen, len, bit, cut;
	const uint8_t	*p;

	if (!inited) {
		if (sodium_init() < 0)
			abort();
		inited = 1;
	}
	if (size < FZ_HDR)
		return 0;
	p = data;
	mode = *p++;
	memcpy(key, p, 32);
	p += 32;
	memcpy(nonce, p, 12);
	p += 12;
	ctr = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
	p += 4;
	memcpy(pkey, p, 32);
	p += 32;
	adlen = *p++;
	bit = (size_t)p[0] << 8 | p[1];
	p += 2;
	len = size - FZ_HDR;
	if (adlen > len)
		adlen = len;
	len -= adlen;

	switch (mode & 3) {
	case 1:
		memset(pkey, 0xff, 16);
		break;
	case 2:
		memset(pkey + 1, 0, 15);
		break;
	case 3:
		memset(pkey, 0, 16);
		break;
	}
	if (mode & 4)
		memset(pkey + 16, 0xff, 16);
	if (mode & 32)
		memset(key, 0xff, sizeof(key));
	if (mode & 128)
		memset(nonce, 0xff, sizeof(nonce));
	ad = fz_dup(p, adlen, 0);
	msg = fz_dup(p + adlen, len, 0);
	if ((mode & 8) && len > 0)
		memset(msg, 0xff, len);
	if ((mode & 16) && adlen > 0)
		memset(ad, 0xff, adlen);
	/* No block past 2^32 - 1 (chapoly.h; libsodium aborts there). */
	nblocks = ((uint64_t)len + 63) / 64;
	if ((mode & 64) || (uint64_t)ctr + nblocks > (1ULL << 32))
		ctr = (uint32_t)((1ULL << 32) - (nblocks > 0 ? nblocks : 1));

	/* ChaCha20 from the counter. */
	buf = fz_dup(msg, len, 0);
	ct = fz_dup(msg, len, 0);
	chapoly_chacha20(buf, len, key, nonce, ctr);
	if (len > 0)
		crypto_stream_chacha20_ietf_xor_ic(ct, ct, len, nonce, ctr,
		    key);
	fz_check(len == 0 || memcmp(buf, ct, len) == 0);
	free(buf);
	free(ct);

	/* Poly1305 of the message under the one-time key. */
	chapoly_poly1305(tag, msg, len, pkey);
	crypto_onetimeauth_poly1305(ref, msg, len, pkey);
	fz_check(memcmp(tag, ref, sizeof(tag)) == 0);

	/* The AEAD: the same bytes as libsodium's. */
	sealed = fz_dup(msg, len, 16);
	ct = fz_dup(NULL, 0, len + 16);
	chapoly_seal(sealed, len, ad, adlen, nonce, key);
	crypto_aead_chacha20poly1305_ietf_encrypt(ct, &clen, msg, len, ad,
	    adlen, NULL, nonce, key);
	fz_check(clen == len + 16 && memcmp(sealed, ct, len + 16) == 0);

	/* Opened, to the message. */
	buf = fz_dup(sealed, len + 16, 0);
	fz_check(chapoly_open(buf, len + 16, ad, adlen, nonce, key) == 0);
	fz_check(len == 0 || memcmp(buf, msg, len) == 0);

	/* One bit flipped: refused, the buffer as it was. */
	memcpy(buf, sealed, len + 16);
	bit %= (len + 16 + adlen) * 8;
	if (bit / 8 < len + 16)
		buf[bit / 8] ^= (uint8_t)(1 << (bit % 8));
	else
		ad[bit / 8 - len - 16] ^= (uint8_t)(1 << (bit % 8));
	memcpy(ct, buf, len + 16);
	fz_check(chapoly_open(buf, len + 16, ad, adlen, nonce, key) == -1);
	fz_check(memcmp(buf, ct, len + 16) == 0);
	if (bit / 8 >= len + 16)
		ad[bit / 8 - len - 16] ^= (uint8_t)(1 << (bit % 8));

	/* Cut short (shorter than a tag too): refused, untouched. */
	memcpy(buf, sealed, len + 16);
	cut = len + 16 - 1 - bit / 8 % (len + 16);
	fz_check(chapoly_open(buf, cut, ad, adlen, nonce, key) == -1);
	fz_check(memcmp(buf, sealed, len + 16) == 0);

	/* The other way round: libsodium opens chapoly's seal. */
	fz_check(crypto_aead_chacha20poly1305_ietf_decrypt(ct, &clen, NULL,
	    sealed, len + 16, ad, adlen, nonce, key) == 0 && clen == len &&
	    (len == 0 || memcmp(ct, msg, len) == 0));

	free(buf);
	free(ct);
	free(sealed);
	free(msg);
	free(ad);
	return 0;
}
