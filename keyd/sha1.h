/*
 * sha1.h: SHA-1 (FIPS 180-4), for OpenPGP v4 key fingerprints only (RFC
 * 4880 12.2), which are public identifiers; nothing secret is hashed
 * with it and it serves no security purpose here. libsodium has no SHA-1.
 */
#ifndef WGCARD_SHA1_H
#define WGCARD_SHA1_H

#include <stddef.h>
#include <stdint.h>

#define SHA1_LEN	20

struct sha1_ctx {
	uint32_t	h[5];
	uint64_t	len;		/* bytes so far */
	uint8_t		buf[64];
	size_t		nbuf;
};

void	sha1_init(struct sha1_ctx *);
void	sha1_update(struct sha1_ctx *, const void *, size_t);
void	sha1_final(struct sha1_ctx *, uint8_t out[static SHA1_LEN]);

#endif /* WGCARD_SHA1_H */
