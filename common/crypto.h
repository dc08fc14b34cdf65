/*
 * crypto.h: the primitives WireGuard needs, on top of libsodium, plus
 * BLAKE2s (libsodium has none) written here from RFC 7693.
 */
#ifndef WGCARD_CRYPTO_H
#define WGCARD_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#define BLAKE2S_BLOCK_LEN	64
#define BLAKE2S_OUT_LEN		32
#define BLAKE2S_KEY_LEN		32

struct blake2s_state {
	uint32_t	h[8];
	uint32_t	t[2];
	uint32_t	f[2];
	uint8_t		buf[BLAKE2S_BLOCK_LEN];
	size_t		buflen;
	size_t		outlen;
};

void	blake2s_init(struct blake2s_state *, size_t outlen);
void	blake2s_init_key(struct blake2s_state *, size_t outlen,
	    const uint8_t *key, size_t keylen);
void	blake2s_update(struct blake2s_state *, const uint8_t *, size_t);
void	blake2s_final(struct blake2s_state *, uint8_t *out);
/* One shot; key may be NULL with keylen 0. outlen 1..32, keylen 0..32. */
void	blake2s(uint8_t *out, size_t outlen, const uint8_t *in, size_t inlen,
	    const uint8_t *key, size_t keylen);

/* HMAC-BLAKE2s (RFC 2104 over BLAKE2s-256, 64-byte block). */
void	wg_hmac(uint8_t out[static 32], const uint8_t *key, size_t keylen,
	    const uint8_t *in, size_t inlen);
/*
 * WireGuard's HKDF: t0 = HMAC(ck, in); t1 = HMAC(t0, 0x1);
 * t2 = HMAC(t0, t1 || 0x2); t3 = HMAC(t0, t2 || 0x3).
 * t2 and t3 may be NULL. Temporaries are wiped.
 */
void	wg_kdf(uint8_t *t1, uint8_t *t2, uint8_t *t3,
	    const uint8_t ck[static 32], const uint8_t *in, size_t inlen);

/* X25519. wg_x25519 returns -1 (and a zeroed out) on an all-zero result. */
int	wg_x25519(uint8_t out[static 32], const uint8_t scalar[static 32],
	    const uint8_t point[static 32]);
void	wg_x25519_pub(uint8_t pub[static 32], const uint8_t priv[static 32]);
void	wg_x25519_generate(uint8_t priv[static 32], uint8_t pub[static 32]);
/* 1 if point is one of the known small-order points (any high bit). */
int	wg_x25519_small_order(const uint8_t point[static 32]);

/*
 * ChaCha20-Poly1305 (RFC 8439, 64-bit counter nonce as WireGuard uses it:
 * 4 zero bytes then the little-endian counter). dst may equal src.
 * encrypt writes len + 16 bytes. decrypt reads len bytes (tag included)
 * and returns 0, or -1 if the tag is wrong (dst then undefined).
 */
/* The 12-byte nonce of counter, as above. */
void	wg_aead_nonce(uint8_t n[12], uint64_t counter);
void	wg_aead_encrypt(uint8_t *dst, const uint8_t *src, size_t len,
	    const uint8_t *ad, size_t adlen, uint64_t nonce,
	    const uint8_t key[static 32]);
int	wg_aead_decrypt(uint8_t *dst, const uint8_t *src, size_t len,
	    const uint8_t *ad, size_t adlen, uint64_t nonce,
	    const uint8_t key[static 32]);
/* XChaCha20-Poly1305, for cookie replies. */
void	wg_xaead_encrypt(uint8_t *dst, const uint8_t *src, size_t len,
	    const uint8_t *ad, size_t adlen, const uint8_t nonce[static 24],
	    const uint8_t key[static 32]);
int	wg_xaead_decrypt(uint8_t *dst, const uint8_t *src, size_t len,
	    const uint8_t *ad, size_t adlen, const uint8_t nonce[static 24],
	    const uint8_t key[static 32]);

/* Constant-time helpers. */
int	wg_key_is_zero(const uint8_t key[static 32]);	/* no early exit */
int	wg_key_eq(const uint8_t a[static 32], const uint8_t b[static 32]);
/* 1 if equal; every byte compared, the verdict (only) public. */
int	wg_mem_eq(const uint8_t *a, const uint8_t *b, size_t len);

/* TAI64N timestamp of now, 12 bytes big-endian. */
void	wg_tai64n_now(uint8_t out[static 12]);

/* libsodium's sodium_init, once; fatal on failure. */
void	wg_crypto_init(void);

#endif /* WGCARD_CRYPTO_H */
