/*
 * chapoly.h: ChaCha20-Poly1305 (RFC 8439) in portable scalar C, for
 * the forwarder's compact path (aead.h): a lone packet after a quiet
 * spell, when every cache line of code it needs has to come from memory.
 * Its code is about two kilobytes in one place; libsodium's dispatch,
 * ChaCha20 and Poly1305 spread a packet over several times that, and
 * libcrypto's EVP path over about forty pages. Cold, one 96-byte seal
 * costs about 1.6 us here against 11 us in libsodium; warm it is about
 * as fast as libsodium up to a few hundred bytes, slower beyond (it has
 * no vector code). docs/decisions.md 25 has the figures.
 *
 * Nothing is allocated; every secret (the key schedule, the keystream,
 * the Poly1305 key and state) lives on the stack and is wiped before
 * return. No branch and no memory address depends on a secret; whether
 * a tag matched is public.
 */
#ifndef WGCARD_CHAPOLY_H
#define WGCARD_CHAPOLY_H

#include <stddef.h>
#include <stdint.h>

#define CHAPOLY_KEY_LEN		32
#define CHAPOLY_NONCE_LEN	12
#define CHAPOLY_TAG_LEN		16
/* The AEAD's longest text: 2^32 - 1 blocks from counter 1 (2^38 - 64). */
#define CHAPOLY_MAX_LEN		(64 * ((1ULL << 32) - 1))

/*
 * ChaCha20 with a 96-bit nonce (RFC 8439 2.4): buf xored, in place, with
 * the keystream from block counter ctr on. len is at most 64 * (2^32 -
 * ctr): no block past counter 2^32 - 1 (the data path's packets are a
 * few kilobytes); longer aborts, as libsodium does, rather than wrap the
 * counter to 0.
 */
void	chapoly_chacha20(uint8_t *buf, size_t len,
	    const uint8_t key[static CHAPOLY_KEY_LEN],
	    const uint8_t nonce[static CHAPOLY_NONCE_LEN], uint32_t ctr);

/* Poly1305 (RFC 8439 2.5) of m under a one-time key. */
void	chapoly_poly1305(uint8_t tag[static CHAPOLY_TAG_LEN],
	    const uint8_t *m, size_t len, const uint8_t key[static 32]);

/*
 * The AEAD (RFC 8439 2.8), in place. seal: len bytes of plaintext at
 * buf become ciphertext and the tag after it (buf has room for len +
 * 16; len at most CHAPOLY_MAX_LEN, longer aborts). open: len bytes of
 * ciphertext and tag become len - 16 bytes of plaintext; 0, or -1 when
 * len < 16, len - 16 > CHAPOLY_MAX_LEN or the tag does not match, and
 * then buf is left as it was (the tag is checked before anything is
 * decrypted). ad may be NULL when adlen is 0.
 */
void	chapoly_seal(uint8_t *buf, size_t len, const uint8_t *ad,
	    size_t adlen, const uint8_t nonce[static CHAPOLY_NONCE_LEN],
	    const uint8_t key[static CHAPOLY_KEY_LEN]);
int	chapoly_open(uint8_t *buf, size_t len, const uint8_t *ad,
	    size_t adlen, const uint8_t nonce[static CHAPOLY_NONCE_LEN],
	    const uint8_t key[static CHAPOLY_KEY_LEN]);

#endif /* WGCARD_CHAPOLY_H */
