/*
 * encoding.h: constant-time base64 and hex for 32-byte keys; UTF-8
 * checking for the JSON writers (audit file, wgcardctl show --json).
 */
#ifndef WGCARD_ENCODING_H
#define WGCARD_ENCODING_H

#include <stddef.h>
#include <stdint.h>

#define WG_KEY_B64_LEN	45	/* 44 characters and the NUL */
#define WG_KEY_HEX_LEN	65	/* 64 characters and the NUL */

void	key_to_base64(char out[static WG_KEY_B64_LEN],
	    const uint8_t key[static 32]);
int	key_from_base64(uint8_t key[static 32], const char *);	/* 0 or -1 */
void	key_to_hex(char out[static WG_KEY_HEX_LEN],
	    const uint8_t key[static 32]);
int	key_from_hex(uint8_t key[static 32], const char *);	/* 0 or -1 */
/*
 * The length (2 to 4) of the well-formed UTF-8 sequence of a non-ASCII
 * character at s, n bytes left; 0 if there is none (overlong forms,
 * surrogates, beyond U+10FFFF, truncated).
 */
size_t	utf8_seq_len(const uint8_t *s, size_t n);
/*
 * s (n bytes) as a JSON string, quotes included, into dst (NUL-terminated
 * when dstlen > 0); returns the length it needs without the NUL, as
 * snprintf does. Quote and backslash escaped, control bytes and DEL as
 * \u00XX, bytes that are not well-formed UTF-8 as \ufffd.
 */
size_t	json_quote(char *dst, size_t dstlen, const char *s, size_t n);

#endif /* WGCARD_ENCODING_H */
