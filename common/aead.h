/*
 * aead.h: the data path's ChaCha20-Poly1305 (RFC 8439) with WireGuard's
 * nonce (4 zero bytes, then the 64-bit counter little-endian), from
 * OpenSSL's libcrypto. The handshake, the cookie replies (XChaCha20),
 * X25519 and key memory stay on libsodium (crypto.h).
 *
 * A key is made once per keypair direction (aead_key_new) and holds one
 * keyed ChaCha20 EVP_CIPHER_CTX per lane; a packet only sets the nonce of
 * its lane's context and keys the lane's Poly1305 (aead.c says why the
 * two are composed here): no allocation and no ChaCha20 key setup per
 * packet (the key's bytes are kept too, for aead_seal_compact). A lane is
 * a thread: the threads that seal or open at the same time with one key
 * use different lanes (the forwarder: 0 its I/O thread, 1..n its crypto
 * workers). aead_key_free wipes the contexts (libcrypto clears the
 * cipher state it frees) and the key's bytes, and frees them.
 *
 * aead_load maps libcrypto (dlopen, only the forwarder pays for it)
 * while the file system is still in view, before chroot. aead_init
 * comes next, once, before any seccomp filter: it loads libcrypto if
 * that was not done, initialises it without reading its configuration,
 * fetches the cipher and runs it once, so that nothing is loaded later
 * (see docs/decisions.md). Failures there and in aead_key_new are fatal.
 */
#ifndef WGCARD_AEAD_H
#define WGCARD_AEAD_H

#include <stddef.h>
#include <stdint.h>

#define AEAD_KEY_LEN	32
#define AEAD_TAG_LEN	16
#define AEAD_LANES_MAX	65	/* the I/O thread and 64 workers */

struct aead_key;

/* libcrypto mapped and its functions found; again: nothing. */
void		 aead_load(void);
/* libcrypto ready for nlanes lanes (1..AEAD_LANES_MAX); once. */
void		 aead_init(int nlanes);
/* The lanes aead_init was given (0 before it). */
int		 aead_lanes(void);

/* A key for every lane; the caller wipes its copy of key. */
struct aead_key	*aead_key_new(const uint8_t key[static AEAD_KEY_LEN]);
void		 aead_key_free(struct aead_key *);	/* NULL: nothing */

/*
 * In place. seal: len bytes of plaintext at buf become len + 16 bytes
 * (the tag after them: buf has room for it). open: len bytes of
 * ciphertext and tag become len - 16 bytes of plaintext; 0, or -1 when
 * len < 16 or the tag is wrong (the tag is checked first: buf is then
 * left as it was). ad may be NULL
 * when adlen is 0 (the data path has none). len is at most INT_MAX.
 */
void		 aead_seal(struct aead_key *, int lane, uint8_t *buf,
		    size_t len, const uint8_t *ad, size_t adlen,
		    uint64_t counter);
int		 aead_open(struct aead_key *, int lane, uint8_t *buf,
		    size_t len, const uint8_t *ad, size_t adlen,
		    uint64_t counter);

/*
 * The same AEAD, the same contract, from chapoly.c's scalar ChaCha20 and
 * Poly1305 (no lane: nothing but the stack). Slower than the two above in
 * a stream, but its code is about two kilobytes in one place where
 * libcrypto's EVP path touches about forty pages and libsodium's several:
 * a lone packet after a quiet spell, every cache and TLB entry gone, is
 * sealed in about 1.6 us against 11 (libsodium) and 25 (libcrypto)
 * (docs/decisions.md 25). The forwarder takes it for such packets
 * (fwd_crypto.c).
 */
void		 aead_seal_compact(struct aead_key *, uint8_t *buf, size_t len,
		    const uint8_t *ad, size_t adlen, uint64_t counter);
int		 aead_open_compact(struct aead_key *, uint8_t *buf, size_t len,
		    const uint8_t *ad, size_t adlen, uint64_t counter);

#endif /* WGCARD_AEAD_H */
