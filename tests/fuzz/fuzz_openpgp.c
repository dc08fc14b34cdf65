/*
 * fuzz_openpgp.c: libFuzzer target for the key broker's card-answer
 * parsing (keyd/openpgp.c): BER-TLV, application related data (6E),
 * key attributes (C2), PW status (C4), the public key DO (7F49/86),
 * status words, PSO:DECIPHER results and response chaining (61xx,
 * 6Cxx), Yubico's GET VERSION, algorithm information (FA), and card
 * init's commands (KDF setup).
 *
 * Input: one flags byte, then a stream of card answers, each a 2-byte
 * big-endian length and that many bytes (lengths from 0xfff0 up are
 * transport errors instead). The parse functions get the stream's bytes
 * directly; then the command layer runs what the broker (keyd/card.c
 * through pcsc.c) and wgcardctl card init do, against a fake card that
 * answers from the stream and checks every command APDU it is sent.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "harness.h"
#include "openpgp.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const int fuzz_errs[] = {
	-ENODEV, -ESHUTDOWN, -ETIMEDOUT, -EIO, -EPROTO, -EACCES,
};

/* A short APDU as ISO 7816-4 frames it: cases 1, 2, 3 and 4. */
static void
fuzz_check_apdu(const uint8_t *a, size_t n)
{
	if (n < 4 || n > OPGP_APDU_MAX)
		abort();
	if (n == 4 || n == 5)
		return;
	if (a[4] == 0 || (n != 5 + (size_t)a[4] && n != 6 + (size_t)a[4]))
		abort();
}

static int
fuzz_transmit(void *arg, const uint8_t *apdu, size_t alen, uint8_t *resp,
    size_t *rlen)
{
	struct fuzz_in	*in = arg;
	uint16_t	 len;

	fuzz_check_apdu(apdu, alen);
	if (in->left == 0)
		return -ENODEV;		/* the card went away */
	len = fuzz_u16(in);
	if (len >= 0xfff0)
		return fuzz_errs[(len - 0xfff0) % (sizeof(fuzz_errs) /
		    sizeof(fuzz_errs[0]))];
	/* A reader never hands back more than the buffer holds. */
	if (len > *rlen)
		len = (uint16_t)*rlen;
	*rlen = fuzz_bytes(in, resp, len);
	return 0;
}

/* Each TLV found lies inside the buffer, and the walk ends. */
static void
fuzz_tlv_walk(const uint8_t *buf, size_t len)
{
	const uint8_t	*p = buf, *end = buf + len, *v;
	unsigned int	 tag;
	size_t		 vlen;
	int		 r;

	while ((r = opgp_tlv_next(&p, end, &tag, &v, &vlen)) == 1) {
		if (v < buf || v > end || vlen > (size_t)(end - v) ||
		    p != v + vlen || tag > 0xffffff)
			abort();
	}
	if (r != 0 && r != -1)
		abort();
}

static void
fuzz_parse(const uint8_t *data, size_t size)
{
	static const unsigned int tags[] = { 0x4f, 0x6e, 0x73, 0xc2, 0xc4,
	    0xc5, 0x7f49, 0x86, 0x5f52 };
	struct opgp_info	 info;
	const uint8_t		*v;
	uint8_t			 out[32];
	size_t			 vlen, i;
	int			 r, pw1, pw3;

	fuzz_tlv_walk(data, size);
	for (i = 0; i < sizeof(tags) / sizeof(tags[0]); i++) {
		r = opgp_tlv_find(data, size, tags[i], &v, &vlen);
		if (r == 1 && (v < data || vlen > size - (size_t)(v - data)))
			abort();
		if (r < -1 || r > 1)
			abort();
	}
	r = opgp_parse_app_data(data, size, &info);
	if (r == 0 && (info.aid_len > sizeof(info.aid) ||
	    info.pw1_retries < -1 || info.pw1_retries > 255 ||
	    info.pw3_retries < -1 || info.pw3_retries > 255 ||
	    info.dec_key_status < -1 || info.dec_key_status > 255))
		abort();
	if (r != 0 && r != -EPROTO)
		abort();
	if (opgp_parse_decipher(data, size, out) == 0 &&
	    sodium_is_zero(out, 32))
		abort();
	if (opgp_parse_pubkey(data, size, out) == 0 &&
	    sodium_is_zero(out, 32))
		abort();
	if (opgp_parse_pw_status(data, size, &pw1, &pw3) == 0 &&
	    (pw1 < 0 || pw1 > 255 || pw3 < 0 || pw3 > 255))
		abort();
	(void)opgp_attr_is_cv25519(data, size);
	r = opgp_parse_features(data, size);
	if (r < -EPROTO || r > 1 || (r < 0 && r != -EPROTO))
		abort();
	r = opgp_parse_uif(data, size);
	if (r > 255 || (r < 0 && r != -EPROTO))
		abort();
	if (opgp_uif_name(r) == NULL)
		abort();
	if (opgp_parse_version(data, size, out) == 0 &&
	    (out[0] > 99 || out[1] > 99 || out[2] > 99))
		abort();
	if ((r = opgp_parse_algo_info(data, size)) != 0 && r != 1 &&
	    r != -EPROTO)
		abort();
	if (opgp_sw_errno(opgp_sw(data, size), &pw1) > 0)
		abort();
}

/* What the broker and wgcardctl ask a card, in their order. */
static void
fuzz_commands(struct fuzz_in *in, uint8_t flags)
{
	struct opgp_card	card = { fuzz_transmit, in };
	struct opgp_info	info;
	struct opgp_touch	touch;
	uint8_t			pub[32], out[32], point[32];
	static const uint8_t	pin[] = "123456", admin[] = "12345678";
	int			r, retries, i;

	memset(point, 0x09, sizeof(point));
	if ((r = opgp_select(&card)) > 0)
		abort();
	if ((r = opgp_read_info(&card, &info)) > 0)
		abort();
	if (r == 0 && (info.aid_len > sizeof(info.aid) ||
	    info.pw1_retries < -1 || info.pw1_retries > 255))
		abort();
	if ((r = opgp_read_pubkey(&card, pub)) > 0 ||
	    (r == 0 && sodium_is_zero(pub, 32)))
		abort();
	if ((r = opgp_read_touch(&card, &touch)) > 0 ||
	    (r == 0 && (touch.button < 0 || touch.button > 1)))
		abort();
	for (i = 0; r == 0 && i < 3; i++)
		if (touch.uif[i] < OPGP_UIF_NONE || touch.uif[i] > 255)
			abort();
	retries = -2;
	if ((r = opgp_verify(&card, 0x82, pin, sizeof(pin) - 1,
	    &retries)) > 0 || retries < -2 || retries > 255)
		abort();
	if ((r = opgp_read_pw1_retries(&card)) > 255)
		abort();
	for (i = 0; i < 1 + (flags & 3); i++) {
		memset(out, 0, sizeof(out));
		if ((r = opgp_decipher(&card, point, out)) > 0 ||
		    (r == 0 && sodium_is_zero(out, 32)))
			abort();
	}
	if ((r = opgp_read_version(&card, out)) > 0 ||
	    (r = opgp_read_algo_info(&card)) > 1)
		abort();
	if (flags & 8) {
		retries = -2;
		r = opgp_kdf_setup(&card, flags & 16, admin, sizeof(admin) - 1,
		    (flags & 32) ? pin : NULL, sizeof(pin) - 1, &retries);
		if (r > 0 || retries < -2 || retries > 255)
			abort();
	}
	if (flags & 4) {
		retries = -2;
		r = opgp_generate_cv25519(&card, admin, sizeof(admin) - 1,
		    pub, &retries);
		if (r > 0 || retries < -2 || retries > 255 ||
		    (r == 0 && sodium_is_zero(pub, 32)))
			abort();
	}
	if (opgp_strerror(r) == NULL)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in	in = { data, size };
	uint8_t		flags;

	if (size == 0)
		return 0;
	flags = fuzz_u8(&in);
	fuzz_parse(in.p, in.left);
	fuzz_commands(&in, flags);
	return 0;
}
