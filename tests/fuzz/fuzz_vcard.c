/*
 * fuzz_vcard.c: libFuzzer target for the virtual OpenPGP card's APDU
 * parser and command logic (tests/vcard/card.c), which GnuPG's
 * scdaemon, OpenSC and wgcard-keyd talk to in the tests.
 *
 * Input: one flags byte (bit 0: the decryption key exists, bit 1: PW1
 * verified for PSO:DECIPHER, bit 2: PW3 verified, bits 3-5: the
 * profile, bit 6: a KDF-DO in place, bit 7: T=0 alone and at most 7
 * data bytes per answer, the knobs t0 and respmax), then command APDUs,
 * each a 2-byte big-endian length and that many bytes, sent in turn to
 * one card. Every answer must fit VCARD_OUT_MAX and end with the status
 * word vcard_apdu() returns.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "../vcard/card.h"
#include "harness.h"

#define FUZZ_APDU_MAX	(7 + 65535 + 3)

static const char *profiles[] = {
	"default", "nitrokey3", "yubikey5", "gnuk", "smartpgp"
};

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct vcard	 card;
	static uint8_t		 apdu[FUZZ_APDU_MAX], out[VCARD_OUT_MAX + 64];
	struct fuzz_in		 in = { data, size };
	size_t			 len, outlen;
	unsigned int		 sw;
	uint8_t			 flags;

	if (size == 0)
		return 0;
	flags = fuzz_u8(&in);
	vcard_init(&card, 0x12345678);
	if (flags & 1) {
		/* A fixed key: the same input, the same answers. */
		memset(card.dec_key, 0x42, sizeof(card.dec_key));
		card.key_status[VCARD_KEY_DEC] = VCARD_KEY_GENERATED;
	}
	vcard_profile(&card.prof, profiles[(flags >> 3 & 7) % 5]);
	if (flags & 0x40) {
		/* Laid out as F9's long form; no S2K run (it is slow). */
		memset(card.kdf, 0, sizeof(card.kdf));
		card.kdf[0] = 0x81, card.kdf[1] = 0x01, card.kdf[2] = 0x03;
		card.kdf_len = VCARD_KDF_MAX;
	}
	if (flags & 0x80) {
		card.prof.t0 = 1;
		card.prof.resp_max = 7;
	}
	card.pw1_82_ok = (flags & 2) != 0;
	card.pw3_ok = (flags & 4) != 0;
	while (in.left > 0) {
		len = fuzz_bytes(&in, apdu, fuzz_u16(&in));
		/* A canary past the end: an answer must not reach it. */
		memset(out + VCARD_OUT_MAX, 0xa5, 64);
		outlen = (size_t)-1;
		sw = vcard_apdu(&card, apdu, len, out, &outlen);
		if (outlen < 2 || outlen > VCARD_OUT_MAX ||
		    sw != ((unsigned int)out[outlen - 2] << 8 |
		    out[outlen - 1]))
			abort();
		for (len = VCARD_OUT_MAX; len < sizeof(out); len++)
			if (out[len] != 0xa5)
				abort();
	}
	vcard_wipe(&card);
	return 0;
}
