/*
 * openpgp.c: the OpenPGP card application (3.x), decryption slot as a
 * cv25519 key (see openpgp.h). Short APDUs only: nothing we send or
 * expect needs extended length. Every answer is parsed with bounds
 * checks; a card is not trusted to send what the specification says.
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "openpgp.h"
#include "sha1.h"

static const uint8_t opgp_aid[OPGP_AID_PREFIX_LEN] = {
	0xd2, 0x76, 0x00, 0x01, 0x24, 0x01
};

/* ECDH (0x12) with the OID of Curve25519 (1.3.6.1.4.1.3029.1.5.1). */
const uint8_t opgp_attr_cv25519[11] = {
	0x12, 0x2b, 0x06, 0x01, 0x04, 0x01, 0x97, 0x55, 0x01, 0x05, 0x01
};

/* BER-TLV. */

int
opgp_tlv_next(const uint8_t **pp, const uint8_t *end, unsigned int *tag,
    const uint8_t **val, size_t *vlen)
{
	const uint8_t	*p = *pp;
	unsigned int	 t;
	size_t		 len, i, nlen;

	/* 00 and FF may pad between and after TLVs (ISO 7816-4). */
	while (p < end && (*p == 0x00 || *p == 0xff))
		p++;
	if (p >= end) {
		*pp = p;
		return 0;
	}
	t = *p++;
	if ((t & 0x1f) == 0x1f) {
		/* Subsequent tag bytes: at most two more. */
		for (i = 0; ; i++) {
			if (p >= end || i == 2)
				return -1;
			t = (t << 8) | *p;
			if ((*p++ & 0x80) == 0)
				break;
		}
	}
	if (p >= end)
		return -1;
	len = *p++;
	if (len & 0x80) {
		nlen = len & 0x7f;
		if (nlen == 0 || nlen > 3 || (size_t)(end - p) < nlen)
			return -1;
		for (len = 0, i = 0; i < nlen; i++)
			len = (len << 8) | *p++;
	}
	if ((size_t)(end - p) < len)
		return -1;
	*tag = t;
	*val = p;
	*vlen = len;
	*pp = p + len;
	return 1;
}

/* 1 if the tag's first byte says constructed. */
static int
opgp_tag_constructed(unsigned int tag)
{
	while (tag > 0xff)
		tag >>= 8;
	return (tag & 0x20) != 0;
}

static int
opgp_tlv_find_depth(const uint8_t *buf, size_t len, unsigned int tag,
    const uint8_t **val, size_t *vlen, int depth)
{
	const uint8_t	*p = buf, *end = buf + len, *v;
	unsigned int	 t;
	size_t		 vl;
	int		 r;

	if (depth > 8)
		return -1;
	while ((r = opgp_tlv_next(&p, end, &t, &v, &vl)) == 1) {
		if (t == tag) {
			*val = v;
			*vlen = vl;
			return 1;
		}
		if (opgp_tag_constructed(t)) {
			r = opgp_tlv_find_depth(v, vl, tag, val, vlen,
			    depth + 1);
			if (r != 0)
				return r;
		}
	}
	return r;
}

int
opgp_tlv_find(const uint8_t *buf, size_t len, unsigned int tag,
    const uint8_t **val, size_t *vlen)
{
	return opgp_tlv_find_depth(buf, len, tag, val, vlen, 0);
}

/* APDUs. */

size_t
opgp_build_select(uint8_t *apdu)
{
	static const uint8_t hdr[] = { 0x00, 0xa4, 0x04, 0x00,
	    OPGP_AID_PREFIX_LEN };

	memcpy(apdu, hdr, sizeof(hdr));
	memcpy(apdu + sizeof(hdr), opgp_aid, sizeof(opgp_aid));
	apdu[sizeof(hdr) + sizeof(opgp_aid)] = 0x00;	/* Le */
	return sizeof(hdr) + sizeof(opgp_aid) + 1;
}

size_t
opgp_build_get_data(uint8_t *apdu, unsigned int tag)
{
	apdu[0] = 0x00;
	apdu[1] = 0xca;
	apdu[2] = (tag >> 8) & 0xff;
	apdu[3] = tag & 0xff;
	apdu[4] = 0x00;		/* Le: up to 256 */
	return 5;
}

size_t
opgp_build_verify(uint8_t *apdu, uint8_t mode, const uint8_t *pin,
    size_t pinlen)
{
	apdu[0] = 0x00;
	apdu[1] = 0x20;
	apdu[2] = 0x00;
	apdu[3] = mode;
	if (pin == NULL || pinlen == 0)
		return 4;	/* no data: asks the status, spends nothing */
	if (pinlen > 255)
		pinlen = 255;
	apdu[4] = (uint8_t)pinlen;
	memcpy(apdu + 5, pin, pinlen);
	return 5 + pinlen;
}

size_t
opgp_build_generate(uint8_t *apdu, int gen)
{
	apdu[0] = 0x00;
	apdu[1] = 0x47;
	apdu[2] = gen ? 0x80 : 0x81;
	apdu[3] = 0x00;
	apdu[4] = 0x02;
	apdu[5] = 0xb8;		/* CRT of the decryption key */
	apdu[6] = 0x00;
	apdu[7] = 0x00;		/* Le */
	return 8;
}

size_t
opgp_build_put_data(uint8_t *apdu, unsigned int tag, const uint8_t *data,
    size_t len)
{
	if (len > 255)
		len = 255;
	apdu[0] = 0x00;
	apdu[1] = 0xda;
	apdu[2] = (tag >> 8) & 0xff;
	apdu[3] = tag & 0xff;
	apdu[4] = (uint8_t)len;
	memcpy(apdu + 5, data, len);
	return 5 + len;
}

size_t
opgp_build_decipher(uint8_t *apdu, const uint8_t point[static 32])
{
	static const uint8_t hdr[] = {
		0x00, 0x2a, 0x80, 0x86, 0x27,	/* PSO:DECIPHER, Lc 39 */
		0xa6, 0x25,			/* cipher DO */
		0x7f, 0x49, 0x22,		/* public key DO */
		0x86, 0x20,			/* external public key */
	};

	memcpy(apdu, hdr, sizeof(hdr));
	memcpy(apdu + sizeof(hdr), point, 32);
	apdu[sizeof(hdr) + 32] = 0x00;	/* Le */
	return sizeof(hdr) + 32 + 1;
}

/* Answers. */

unsigned int
opgp_sw(const uint8_t *resp, size_t len)
{
	if (resp == NULL || len < 2)
		return 0;
	return (unsigned int)resp[len - 2] << 8 | resp[len - 1];
}

int
opgp_sw_errno(unsigned int sw, int *retries)
{
	if (sw == OPGP_SW_OK)
		return 0;
	if ((sw & 0xfff0) == 0x63c0) {
		if (retries != NULL)
			*retries = sw & 0x0f;
		return (sw & 0x0f) == 0 ? -EPERM : -EACCES;
	}
	switch (sw) {
	case OPGP_SW_SECURITY:
		return -EACCES;
	case OPGP_SW_BLOCKED:
		if (retries != NULL)
			*retries = 0;
		return -EPERM;
	case OPGP_SW_NOT_FOUND:
		return -ENOENT;
	case OPGP_SW_TERMINATED:
		return -ENOTRECOVERABLE;
	case 0x6a88:		/* referenced data not found: no key */
		return -ENOKEY;
	case 0x6700:		/* wrong length */
	case 0x6a80:		/* incorrect data */
	case 0x6b00:		/* wrong parameters */
		return -EINVAL;
	case 0x6985:		/* conditions of use not satisfied */
	case 0x6d00:		/* instruction not supported */
	case 0x6e00:		/* class not supported */
		return -EOPNOTSUPP;
	default:
		return -EIO;
	}
}

int
opgp_parse_decipher(const uint8_t *resp, size_t len, uint8_t out[static 32])
{
	const uint8_t	*p;
	int		 r;

	if ((r = opgp_sw_errno(opgp_sw(resp, len), NULL)) != 0)
		return r;
	len -= 2;
	if (len == 33 && resp[0] == 0x40)
		p = resp + 1;
	else if (len == 32)
		p = resp;
	else
		return -EPROTO;
	if (sodium_is_zero(p, 32))
		return -EINVAL;
	memcpy(out, p, 32);
	return 0;
}

/* 32 bytes, or 33 with the 0x40 prefix of a native point. */
static int
opgp_point(const uint8_t *v, size_t vlen, uint8_t out[static 32])
{
	if (vlen == 33 && v[0] == 0x40)
		v++;
	else if (vlen != 32)
		return -EPROTO;
	memcpy(out, v, 32);
	return 0;
}

int
opgp_parse_pubkey(const uint8_t *resp, size_t len, uint8_t out[static 32])
{
	const uint8_t	*v, *pt;
	size_t		 vlen, ptlen;
	int		 r;

	if ((r = opgp_sw_errno(opgp_sw(resp, len), NULL)) != 0)
		return r;
	len -= 2;
	if (opgp_tlv_find(resp, len, 0x7f49, &v, &vlen) != 1)
		return -EPROTO;
	if (opgp_tlv_find(v, vlen, 0x86, &pt, &ptlen) != 1)
		return -EPROTO;
	if ((r = opgp_point(pt, ptlen, out)) != 0)
		return r;
	if (sodium_is_zero(out, 32))
		return -ENOKEY;
	return 0;
}

int
opgp_parse_pw_status(const uint8_t *data, size_t len, int *pw1, int *pw3)
{
	if (data == NULL || len < 7)
		return -EPROTO;
	if (pw1 != NULL)
		*pw1 = data[4];
	if (pw3 != NULL)
		*pw3 = data[6];
	return 0;
}

int
opgp_attr_is_cv25519(const uint8_t *data, size_t len)
{
	/* The OID of RFC 8410 (1.3.101.110) that some cards use. */
	static const uint8_t	rfc[4] = { 0x12, 0x2b, 0x65, 0x6e };

	/*
	 * One trailing byte may follow the OID: an import format (00,
	 * FF on a Nitrokey 3) or anything at all (a YubiKey 5.2).
	 */
	if (data == NULL)
		return 0;
	if (len == sizeof(opgp_attr_cv25519) ||
	    len == sizeof(opgp_attr_cv25519) + 1)
		return memcmp(data, opgp_attr_cv25519,
		    sizeof(opgp_attr_cv25519)) == 0;
	if (len == sizeof(rfc) || len == sizeof(rfc) + 1)
		return memcmp(data, rfc, sizeof(rfc)) == 0;
	return 0;
}

static void
opgp_info_aid(struct opgp_info *info, const uint8_t *v, size_t vlen)
{
	if (vlen > sizeof(info->aid))
		vlen = sizeof(info->aid);
	memcpy(info->aid, v, vlen);
	info->aid_len = vlen;
	if (vlen >= 14) {
		info->version[0] = v[6];
		info->version[1] = v[7];
		info->manufacturer = (uint16_t)(v[8] << 8 | v[9]);
		info->serial = (uint32_t)v[10] << 24 | (uint32_t)v[11] << 16 |
		    (uint32_t)v[12] << 8 | v[13];
	}
}

int
opgp_parse_app_data(const uint8_t *data, size_t len, struct opgp_info *info)
{
	const uint8_t	*v;
	size_t		 vlen;
	int		 r;

	memset(info, 0, sizeof(*info));
	info->pw1_retries = -1;
	info->pw3_retries = -1;
	info->dec_key_status = -1;
	if ((r = opgp_tlv_find(data, len, 0x4f, &v, &vlen)) == -1)
		return -EPROTO;
	if (r == 1)
		opgp_info_aid(info, v, vlen);
	if ((r = opgp_tlv_find(data, len, 0xc2, &v, &vlen)) == -1)
		return -EPROTO;
	if (r == 1)
		info->is_cv25519 = opgp_attr_is_cv25519(v, vlen);
	if ((r = opgp_tlv_find(data, len, 0xc4, &v, &vlen)) == -1)
		return -EPROTO;
	if (r == 1)
		opgp_parse_pw_status(v, vlen, &info->pw1_retries,
		    &info->pw3_retries);
	if ((r = opgp_tlv_find(data, len, 0xc5, &v, &vlen)) == -1)
		return -EPROTO;
	if (r == 1 && vlen >= 40) {
		memcpy(info->dec_fpr, v + 20, 20);
		info->has_dec_fpr = !sodium_is_zero(info->dec_fpr, 20);
	}
	if ((r = opgp_tlv_find(data, len, 0xc0, &v, &vlen)) == -1)
		return -EPROTO;
	if (r == 1 && vlen >= 1)
		info->has_kdf_do = (v[0] & 0x01) != 0;
	/* Key information (3.3 and later): pairs of key reference, status. */
	if ((r = opgp_tlv_find(data, len, 0xde, &v, &vlen)) == -1)
		return -EPROTO;
	for (; r == 1 && vlen >= 2; v += 2, vlen -= 2)
		if (v[0] == 0x02)
			info->dec_key_status = v[1];
	return 0;
}

/* Touch: 7F74 and UIF (D6-D8). */

int
opgp_parse_features(const uint8_t *data, size_t len)
{
	const uint8_t	*v;
	size_t		 vlen;
	int		 r;

	/* 81 <bits> inside 7F74 (constructed: found with or without it). */
	if ((r = opgp_tlv_find(data, len, 0x81, &v, &vlen)) == -1)
		return -EPROTO;
	if (r == 0 || vlen == 0)
		return 0;
	return (v[0] & 0x20) != 0;
}

int
opgp_parse_uif(const uint8_t *data, size_t len)
{
	/* D6-D8 with their tag: D7 02 <policy> 20. */
	if (len >= 3 && data[0] >= 0xd6 && data[0] <= 0xd8 &&
	    data[1] == len - 2) {
		data += 2;
		len -= 2;
	}
	if (len < 1 || len > 2)
		return -EPROTO;
	return data[0];
}

int
opgp_uif_on(int policy)
{
	return policy > OPGP_UIF_OFF;
}

const char *
opgp_uif_name(int policy)
{
	switch (policy) {
	case OPGP_UIF_NONE:
		return "none";
	case OPGP_UIF_OFF:
		return "off";
	case OPGP_UIF_ON:
		return "on";
	case OPGP_UIF_FIXED:
		return "on (fixed)";
	case OPGP_UIF_CACHED:
		return "on (cached)";
	case OPGP_UIF_CACHED_FIXED:
		return "on (cached, fixed)";
	default:
		return "on (unknown policy)";
	}
}

int
opgp_parse_version(const uint8_t *resp, size_t len, uint8_t fw[static 3])
{
	size_t	i;

	if (len != 3 + 2 || opgp_sw(resp, len) != OPGP_SW_OK)
		return -EPROTO;
	for (i = 0; i < 3; i++) {
		if ((resp[i] >> 4) > 9 || (resp[i] & 0x0f) > 9)
			return -EPROTO;
		fw[i] = (resp[i] >> 4) * 10 + (resp[i] & 0x0f);
	}
	return 0;
}

int
opgp_parse_algo_info(const uint8_t *data, size_t len)
{
	const uint8_t	*p, *end, *v;
	unsigned int	 tag;
	size_t		 vlen;
	int		 r, found = 0;

	if (data == NULL)
		return -EPROTO;
	/* Some cards answer with the DO in its own tag. */
	p = data;
	if (opgp_tlv_next(&p, data + len, &tag, &v, &vlen) == 1 &&
	    tag == 0xfa) {
		data = v;
		len = vlen;
	}
	p = data;
	end = data + len;
	while ((r = opgp_tlv_next(&p, end, &tag, &v, &vlen)) == 1)
		if (tag == 0xc2 && opgp_attr_is_cv25519(v, vlen))
			found = 1;
	return r == -1 ? -EPROTO : found;
}

void
opgp_build_kdf_do(uint8_t f9[static OPGP_KDF_DO_LEN], uint32_t count,
    const uint8_t salts[static 24])
{
	size_t	i;

	f9[0] = 0x81, f9[1] = 0x01, f9[2] = 0x03;	/* ITERSALTED_S2K */
	f9[3] = 0x82, f9[4] = 0x01, f9[5] = 0x08;	/* SHA-256 */
	f9[6] = 0x83, f9[7] = 0x04;
	f9[8] = (uint8_t)(count >> 24);
	f9[9] = (uint8_t)(count >> 16);
	f9[10] = (uint8_t)(count >> 8);
	f9[11] = (uint8_t)count;
	for (i = 0; i < 3; i++) {
		f9[12 + 10 * i] = 0x84 + i;		/* PW1, RC, PW3 */
		f9[13 + 10 * i] = 0x08;
		memcpy(f9 + 14 + 10 * i, salts + 8 * i, 8);
	}
	f9[42] = 0x87, f9[43] = 0x20;
	opgp_s2k(32, salts, count, (const uint8_t *)"123456", 6, f9 + 44);
	f9[76] = 0x88, f9[77] = 0x20;
	opgp_s2k(32, salts + 16, count, (const uint8_t *)"12345678", 8,
	    f9 + 78);
}

/* KDF-DO (F9). */

int
opgp_parse_kdf(const uint8_t *data, size_t len, struct opgp_kdf *kdf)
{
	const uint8_t	*v;
	size_t		 vlen;
	int		 r;

	memset(kdf, 0, sizeof(*kdf));
	if (data == NULL || len == 0)
		return 0;		/* no KDF-DO: the PIN as it is */
	/* Some cards answer with the DO in its own tag. */
	if (opgp_tlv_find(data, len, 0xf9, &v, &vlen) == 1) {
		data = v;
		len = vlen;
	}
	if ((r = opgp_tlv_find(data, len, 0x81, &v, &vlen)) == -1)
		return -EPROTO;
	if (r == 0 || vlen != 1)
		return r == 0 ? 0 : -EPROTO;
	if (v[0] == 0x00)
		return 0;		/* KDF off */
	if (v[0] != 0x03)
		return -ENOSYS;		/* not iterated-salted S2K */
	if (opgp_tlv_find(data, len, 0x82, &v, &vlen) != 1 || vlen != 1)
		return -EPROTO;
	if (v[0] == 0x08)
		kdf->hashlen = crypto_hash_sha256_BYTES;
	else if (v[0] == 0x0a)
		kdf->hashlen = crypto_hash_sha512_BYTES;
	else
		return -ENOSYS;
	if (opgp_tlv_find(data, len, 0x83, &v, &vlen) != 1 || vlen != 4)
		return -EPROTO;
	kdf->count = (uint32_t)v[0] << 24 | (uint32_t)v[1] << 16 |
	    (uint32_t)v[2] << 8 | v[3];
	/* More than OpenPGP's largest S2K count would stall the worker. */
	if (kdf->count > OPGP_KDF_COUNT_MAX)
		return -ENOSYS;
	/* PW1's salt (84) is required; RC's and PW3's default to it. */
	if (opgp_tlv_find(data, len, 0x84, &v, &vlen) != 1 || vlen != 8)
		return -EPROTO;
	memcpy(kdf->salt_pw1, v, 8);
	memcpy(kdf->salt_rc, v, 8);
	memcpy(kdf->salt_pw3, v, 8);
	if (opgp_tlv_find(data, len, 0x85, &v, &vlen) == 1 && vlen == 8)
		memcpy(kdf->salt_rc, v, 8);
	if (opgp_tlv_find(data, len, 0x86, &v, &vlen) == 1 && vlen == 8)
		memcpy(kdf->salt_pw3, v, 8);
	kdf->on = 1;
	return 0;
}

/* Hashes n bytes of the endless salt || pin || salt || pin ... */
#define OPGP_S2K(type, st, salt, pin, pinlen, n, out) do {		\
	size_t	left_ = (n), k_;					\
									\
	type##_init(st);						\
	while (left_ > 0) {						\
		k_ = left_ < 8 ? left_ : 8;				\
		type##_update(st, salt, k_);				\
		left_ -= k_;						\
		k_ = left_ < (pinlen) ? left_ : (pinlen);		\
		type##_update(st, pin, k_);				\
		left_ -= k_;						\
	}								\
	type##_final(st, out);						\
} while (0)

void
opgp_s2k(size_t hashlen, const uint8_t salt[static 8], uint32_t count,
    const uint8_t *pin, size_t pinlen, uint8_t *out)
{
	crypto_hash_sha256_state	s256;
	crypto_hash_sha512_state	s512;
	size_t				n = count;

	/* RFC 4880 3.7.1.3: at least salt and PIN once. */
	if (n < 8 + pinlen)
		n = 8 + pinlen;
	if (hashlen == crypto_hash_sha512_BYTES) {
		OPGP_S2K(crypto_hash_sha512, &s512, salt, pin, pinlen, n, out);
		sodium_memzero(&s512, sizeof(s512));
	} else {
		OPGP_S2K(crypto_hash_sha256, &s256, salt, pin, pinlen, n, out);
		sodium_memzero(&s256, sizeof(s256));
	}
}

/* Commands. */

/*
 * One command with its answer (data and status word) in resp, following
 * 61xx (more data: GET RESPONSE) and 6Cxx (wrong Le: send again).
 */
static int
opgp_xfer(struct opgp_card *card, const uint8_t *apdu, size_t alen,
    uint8_t *resp, size_t cap, size_t *rlen)
{
	uint8_t		cmd[OPGP_APDU_MAX], part[258];
	size_t		have = 0, n;
	unsigned int	sw;
	int		r, rounds;

	if (alen > sizeof(cmd) || cap < 2)
		return -EINVAL;
	memcpy(cmd, apdu, alen);
	for (rounds = 0; rounds < 32; rounds++) {
		n = sizeof(part);
		r = card->transmit(card->arg, cmd, alen, part, &n);
		if (r != 0) {
			if (r > 0)	/* not a -errno: never a success */
				r = -EIO;
			goto out;
		}
		if (n < 2 || n > sizeof(part)) {
			r = -EPROTO;
			goto out;
		}
		sw = opgp_sw(part, n);
		/*
		 * 6Cxx: send again with Le = xx, on a command that has an
		 * Le (case 2: header and Le; case 4: header, Lc, data, Le).
		 * A case 3 command (VERIFY) ends with data, never touched.
		 */
		if ((sw & 0xff00) == 0x6c00 && rounds == 0 &&
		    (alen == 5 || (alen > 5 && alen == 6 + (size_t)cmd[4]))) {
			cmd[alen - 1] = sw & 0xff;
			continue;
		}
		if (have + n - 2 > cap - 2) {
			r = -EPROTO;
			goto out;
		}
		memcpy(resp + have, part, n - 2);
		have += n - 2;
		if ((sw & 0xff00) == 0x6100) {
			/* GET RESPONSE for the rest. */
			cmd[0] = 0x00;
			cmd[1] = 0xc0;
			cmd[2] = 0x00;
			cmd[3] = 0x00;
			cmd[4] = sw & 0xff;
			alen = 5;
			continue;
		}
		resp[have++] = sw >> 8;
		resp[have++] = sw & 0xff;
		*rlen = have;
		r = 0;
		goto out;
	}
	r = -EPROTO;
 out:
	sodium_memzero(cmd, sizeof(cmd));
	sodium_memzero(part, sizeof(part));
	return r;
}

int
opgp_select(struct opgp_card *card)
{
	uint8_t		apdu[OPGP_APDU_MAX], resp[258];
	size_t		alen, rlen;
	unsigned int	sw;
	int		r;

	alen = opgp_build_select(apdu);
	if ((r = opgp_xfer(card, apdu, alen, resp, sizeof(resp), &rlen)) != 0)
		return r;
	sw = opgp_sw(resp, rlen);
	if (sw == OPGP_SW_OK)
		return 0;
	/* Anything else: no OpenPGP application here. */
	return (sw & 0xff00) == 0x6a00 || (sw & 0xff00) == 0x6900 ||
	    (sw & 0xff00) == 0x6d00 || (sw & 0xff00) == 0x6e00 ?
	    -ENOENT : opgp_sw_errno(sw, NULL);
}

/*
 * A case-2 command (ins, P1 P2 = tag, Le 00) whose answer a card may
 * refuse: the answer in resp (*dlen: its length without the status
 * word), and 1 on 9000, 0 on any other status word; or -errno.
 */
static int
opgp_read_do(struct opgp_card *card, uint8_t ins, unsigned int tag,
    uint8_t *resp, size_t cap, size_t *dlen)
{
	uint8_t	apdu[OPGP_APDU_MAX];
	size_t	alen, rlen;
	int	r;

	*dlen = 0;
	alen = opgp_build_get_data(apdu, tag);
	apdu[1] = ins;
	if ((r = opgp_xfer(card, apdu, alen, resp, cap, &rlen)) != 0)
		return r;
	*dlen = rlen - 2;
	return opgp_sw(resp, rlen) == OPGP_SW_OK;
}

/* GET DATA tag into resp; data length (without SW) in *dlen. */
static int
opgp_get_data(struct opgp_card *card, unsigned int tag, uint8_t *resp,
    size_t cap, size_t *dlen)
{
	int	r;

	if ((r = opgp_read_do(card, 0xca, tag, resp, cap, dlen)) < 0)
		return r;
	return r == 1 ? 0 : opgp_sw_errno(opgp_sw(resp, *dlen + 2), NULL);
}

int
opgp_read_info(struct opgp_card *card, struct opgp_info *info)
{
	uint8_t	resp[1024];
	size_t	dlen;
	int	r;

	if ((r = opgp_get_data(card, 0x6e, resp, sizeof(resp), &dlen)) != 0)
		return r;
	if ((r = opgp_parse_app_data(resp, dlen, info)) != 0)
		return r;
	if (info->aid_len == 0) {
		/* Some cards leave the AID out of 6E. */
		if (opgp_get_data(card, 0x4f, resp, sizeof(resp), &dlen) == 0)
			opgp_info_aid(info, resp, dlen);
	}
	return 0;
}

/* -errno of a GET DATA: the card is gone or failed (not "no such DO"). */
static int
opgp_card_failed(int r)
{
	return r == -ENODEV || r == -ESHUTDOWN || r == -ETIMEDOUT ||
	    r == -EIO || r == -ENOTRECOVERABLE;
}

int
opgp_read_touch(struct opgp_card *card, struct opgp_touch *touch)
{
	uint8_t	resp[64];
	size_t	dlen;
	int	i, r;

	touch->button = 0;
	for (i = 0; i < 3; i++)
		touch->uif[i] = OPGP_UIF_NONE;
	/* A DO missing or malformed: no button, no policy; never fatal. */
	r = opgp_get_data(card, 0x7f74, resp, sizeof(resp), &dlen);
	if (opgp_card_failed(r))
		return r;
	if (r == 0 && opgp_parse_features(resp, dlen) > 0)
		touch->button = 1;
	/* A token may have UIF without 7F74 (GnuPG 2.2 never reads it). */
	for (i = 0; i < 3; i++) {
		r = opgp_get_data(card, 0xd6 + (unsigned int)i, resp,
		    sizeof(resp), &dlen);
		if (opgp_card_failed(r))
			return r;
		if (r == 0 && (r = opgp_parse_uif(resp, dlen)) >= 0)
			touch->uif[i] = r;
	}
	return 0;
}

int
opgp_read_pw_retries(struct opgp_card *card, int *pw1, int *pw3)
{
	uint8_t	resp[64];
	size_t	dlen;
	int	r;

	if ((r = opgp_get_data(card, 0xc4, resp, sizeof(resp), &dlen)) != 0)
		return r;
	/* Some cards wrap it in its tag. */
	if (dlen > 2 && resp[0] == 0xc4 && resp[1] == dlen - 2)
		return opgp_parse_pw_status(resp + 2, dlen - 2, pw1, pw3);
	return opgp_parse_pw_status(resp, dlen, pw1, pw3);
}

int
opgp_read_pw1_retries(struct opgp_card *card)
{
	int	r, pw1;

	if ((r = opgp_read_pw_retries(card, &pw1, NULL)) != 0)
		return r;
	return pw1;
}

int
opgp_read_pubkey(struct opgp_card *card, uint8_t pub[static 32])
{
	uint8_t	apdu[OPGP_APDU_MAX], resp[512];
	size_t	alen, rlen;
	int	r;

	alen = opgp_build_generate(apdu, 0);
	if ((r = opgp_xfer(card, apdu, alen, resp, sizeof(resp), &rlen)) != 0)
		return r;
	return opgp_parse_pubkey(resp, rlen, pub);
}

int
opgp_read_kdf(struct opgp_card *card, struct opgp_kdf *kdf)
{
	uint8_t	resp[512];
	size_t	dlen = 0;
	int	r;

	memset(kdf, 0, sizeof(*kdf));
	/* A card without a KDF-DO refuses the GET DATA: no KDF. */
	if ((r = opgp_read_do(card, 0xca, 0xf9, resp, sizeof(resp),
	    &dlen)) != 1)
		return r;
	return opgp_parse_kdf(resp, dlen, kdf);
}

int
opgp_read_version(struct opgp_card *card, uint8_t fw[static 3])
{
	uint8_t	resp[64];
	size_t	dlen = 0;
	int	r;

	/* GET VERSION: 00 F1 00 00, Le. */
	if ((r = opgp_read_do(card, 0xf1, 0, resp, sizeof(resp), &dlen)) != 1)
		return r == 0 ? -EOPNOTSUPP : r;
	return opgp_parse_version(resp, dlen + 2, fw);
}

int
opgp_read_algo_info(struct opgp_card *card)
{
	uint8_t	resp[2048];
	size_t	dlen = 0;
	int	r;

	/* Before 3.4 there is no FA: the card does not say. */
	if ((r = opgp_read_do(card, 0xca, 0xfa, resp, sizeof(resp),
	    &dlen)) != 1)
		return r == 0 ? -ENOENT : r;
	return opgp_parse_algo_info(resp, dlen);
}

/* One command whose answer is a status word only (data wiped after). */
static int
opgp_cmd(struct opgp_card *card, const uint8_t hdr[static 4],
    const uint8_t *data, size_t len, int *retries)
{
	uint8_t	apdu[OPGP_APDU_MAX], resp[64];
	size_t	rlen;
	int	r;

	if (len > 255)
		return -EINVAL;
	memcpy(apdu, hdr, 4);
	apdu[4] = (uint8_t)len;
	if (len > 0)
		memcpy(apdu + 5, data, len);
	r = opgp_xfer(card, apdu, 5 + len, resp, sizeof(resp), &rlen);
	sodium_memzero(apdu, sizeof(apdu));
	if (r != 0)
		return r;
	return opgp_sw_errno(opgp_sw(resp, rlen), retries);
}

/*
 * CHANGE REFERENCE DATA PW3 from old to new, both 32-byte S2K hashes
 * or PINs as the card takes them now.
 */
static int
opgp_change_pw3(struct opgp_card *card, const uint8_t *old, size_t oldlen,
    const uint8_t *new, size_t newlen, int *retries)
{
	static const uint8_t	hdr[4] = { 0x00, 0x24, 0x00, 0x83 };
	uint8_t			buf[2 * OPGP_PIN_MAX];
	int			r;

	if (oldlen > OPGP_PIN_MAX || newlen > OPGP_PIN_MAX)
		return -EINVAL;
	memcpy(buf, old, oldlen);
	memcpy(buf + oldlen, new, newlen);
	r = opgp_cmd(card, hdr, buf, oldlen + newlen, retries);
	sodium_memzero(buf, sizeof(buf));
	return r;
}

/* RESET RETRY COUNTER of PW1 to pin, PW3 verified (P1 02). */
static int
opgp_reset_pw1(struct opgp_card *card, const uint8_t *pin, size_t len)
{
	static const uint8_t	hdr[4] = { 0x00, 0x2c, 0x02, 0x81 };

	return opgp_cmd(card, hdr, pin, len, NULL);
}

static int
opgp_kdf_setup_io(struct opgp_card *card, int replaces,
    const uint8_t *admin_pin, size_t adminlen, const uint8_t *user_pin,
    size_t userlen, int *retries, uint8_t f9[static OPGP_KDF_DO_LEN],
    uint8_t h[static 32])
{
	static const uint8_t	put_f9[4] = { 0x00, 0xda, 0x00, 0xf9 };
	static const uint8_t	put_d3[4] = { 0x00, 0xda, 0x00, 0xd3 };
	struct opgp_kdf		kdf;
	uint8_t			salts[24];
	int			r;

	if ((r = opgp_read_kdf(card, &kdf)) != 0)
		return r;
	if (kdf.on)
		return -EALREADY;
	randombytes_buf(salts, sizeof(salts));
	opgp_build_kdf_do(f9, OPGP_KDF_COUNT_INIT, salts);
	if (replaces) {
		/* The card takes 87 and 88 as its PINs (GnuPG: YubiKey, Gnuk). */
		if ((r = opgp_verify(card, 0x83, admin_pin, adminlen,
		    retries)) != 0)
			return r;
	} else {
		/* GnuPG's way for every other card: PW3 := 88, PW1 := 87. */
		if ((r = opgp_change_pw3(card, admin_pin, adminlen, f9 + 78, 32,
		    retries)) != 0)
			return r;
		if ((r = opgp_verify(card, 0x83, f9 + 78, 32, retries)) != 0 ||
		    (r = opgp_reset_pw1(card, f9 + 44, 32)) != 0 ||
		    (r = opgp_cmd(card, put_d3, NULL, 0, NULL)) != 0)
			return r;
	}
	if ((r = opgp_cmd(card, put_f9, f9, OPGP_KDF_DO_LEN, NULL)) != 0)
		return r;
	/* KDF on, the factory PINs hashed: the admin's PINs back. */
	opgp_s2k(32, salts + 16, OPGP_KDF_COUNT_INIT, admin_pin, adminlen, h);
	r = opgp_change_pw3(card, f9 + 78, 32, h, 32, retries);
	if (r != 0)
		return r;
	if ((r = opgp_verify(card, 0x83, admin_pin, adminlen, retries)) != 0)
		return r;
	if (user_pin != NULL) {
		opgp_s2k(32, salts, OPGP_KDF_COUNT_INIT, user_pin, userlen, h);
		r = opgp_reset_pw1(card, h, 32);
	}
	return r;
}

int
opgp_kdf_setup(struct opgp_card *card, int replaces,
    const uint8_t *admin_pin, size_t adminlen, const uint8_t *user_pin,
    size_t userlen, int *retries)
{
	uint8_t	f9[OPGP_KDF_DO_LEN], h[32];
	int	r;

	if (adminlen < OPGP_ADMIN_PIN_MIN || adminlen > OPGP_PIN_MAX ||
	    (user_pin != NULL && (userlen < OPGP_PIN_MIN ||
	    userlen > OPGP_PIN_MAX)))
		return -EINVAL;
	r = opgp_kdf_setup_io(card, replaces, admin_pin, adminlen, user_pin,
	    userlen, retries, f9, h);
	sodium_memzero(f9, sizeof(f9));
	sodium_memzero(h, sizeof(h));
	return r;
}

int
opgp_verify(struct opgp_card *card, uint8_t mode, const uint8_t *pin,
    size_t pinlen, int *retries)
{
	struct opgp_kdf	kdf;
	uint8_t		apdu[OPGP_APDU_MAX], resp[64];
	uint8_t		hash[crypto_hash_sha512_BYTES];
	size_t		alen, rlen, min;
	unsigned int	sw;
	int		r, pw1 = -1, pw3 = -1;

	min = mode == 0x83 ? OPGP_ADMIN_PIN_MIN : OPGP_PIN_MIN;
	/* The card would count a PIN of a wrong length as wrong. */
	if (pin == NULL || pinlen < min || pinlen > OPGP_PIN_MAX)
		return -EINVAL;
	/* Read at every VERIFY, so in every card session. */
	if ((r = opgp_read_kdf(card, &kdf)) != 0)
		return r;
	if (kdf.on) {
		opgp_s2k(kdf.hashlen, mode == 0x83 ? kdf.salt_pw3 :
		    kdf.salt_pw1, kdf.count, pin, pinlen, hash);
		alen = opgp_build_verify(apdu, mode, hash, kdf.hashlen);
		sodium_memzero(hash, sizeof(hash));
	} else
		alen = opgp_build_verify(apdu, mode, pin, pinlen);
	r = opgp_xfer(card, apdu, alen, resp, sizeof(resp), &rlen);
	sodium_memzero(apdu, sizeof(apdu));
	if (r != 0)
		return r;
	sw = opgp_sw(resp, rlen);
	switch (sw) {
	case 0x6985:
	case 0x6700:
		/* Not a PIN in the form the card wants: nothing spent. */
		return -EBADMSG;
	case OPGP_SW_SECURITY:
		/* A wrong PIN on Gnuk, SmartPGP: the counter says more. */
		if (opgp_read_pw_retries(card, &pw1, &pw3) == 0 &&
		    retries != NULL)
			*retries = mode == 0x83 ? pw3 : pw1;
		return (mode == 0x83 ? pw3 : pw1) == 0 ? -EPERM : -EACCES;
	default:
		return opgp_sw_errno(sw, retries);
	}
}

int
opgp_reset_verify(struct opgp_card *card, uint8_t mode)
{
	uint8_t	apdu[OPGP_APDU_MAX], resp[64];
	size_t	alen, rlen;
	int	r;

	alen = opgp_build_verify(apdu, mode, NULL, 0);
	apdu[2] = 0xff;		/* P1 FF: reset the verified state */
	if ((r = opgp_xfer(card, apdu, alen, resp, sizeof(resp), &rlen)) != 0)
		return r;
	return opgp_sw_errno(opgp_sw(resp, rlen), NULL);
}

int
opgp_decipher(struct opgp_card *card, const uint8_t point[static 32],
    uint8_t out[static 32])
{
	uint8_t	apdu[OPGP_APDU_MAX], resp[128];
	size_t	alen, rlen;
	int	r;

	alen = opgp_build_decipher(apdu, point);
	r = opgp_xfer(card, apdu, alen, resp, sizeof(resp), &rlen);
	if (r == 0)
		r = opgp_parse_decipher(resp, rlen, out);
	sodium_memzero(resp, sizeof(resp));
	return r;
}

void
opgp_fingerprint_cv25519(const uint8_t pub[static 32], uint32_t created,
    uint8_t fpr[static 20])
{
	/* Curve25519's OID (1.3.6.1.4.1.3029.1.5.1) with its length. */
	static const uint8_t	oid[] = {
		0x0a, 0x2b, 0x06, 0x01, 0x04, 0x01, 0x97, 0x55, 0x01, 0x05, 0x01
	};
	/* KDF parameters: length 3, reserved 1, SHA-256, AES-128. */
	static const uint8_t	kdf[] = { 0x03, 0x01, 0x08, 0x07 };
	struct sha1_ctx		c;
	uint8_t			hdr[9], mpi[3];
	size_t			len;

	len = 6 + sizeof(oid) + sizeof(mpi) + 32 + sizeof(kdf);
	hdr[0] = 0x99;
	hdr[1] = (uint8_t)(len >> 8);
	hdr[2] = (uint8_t)len;
	hdr[3] = 4;				/* version */
	hdr[4] = (uint8_t)(created >> 24);
	hdr[5] = (uint8_t)(created >> 16);
	hdr[6] = (uint8_t)(created >> 8);
	hdr[7] = (uint8_t)created;
	hdr[8] = 18;				/* ECDH */
	/* The point 0x40 || u as an MPI of 263 bits. */
	mpi[0] = 0x01;
	mpi[1] = 0x07;
	mpi[2] = 0x40;
	sha1_init(&c);
	sha1_update(&c, hdr, sizeof(hdr));
	sha1_update(&c, oid, sizeof(oid));
	sha1_update(&c, mpi, sizeof(mpi));
	sha1_update(&c, pub, 32);
	sha1_update(&c, kdf, sizeof(kdf));
	sha1_final(&c, fpr);
}

static int
opgp_generate_io(struct opgp_card *card, const uint8_t *admin_pin,
    size_t pinlen, uint8_t pub[static 32], int *retries)
{
	uint8_t		apdu[OPGP_APDU_MAX], resp[512], fpr[20], ts[4];
	uint32_t	now;
	size_t		alen, rlen;
	int		r;

	if ((r = opgp_verify(card, 0x83, admin_pin, pinlen, retries)) != 0)
		return r;
	alen = opgp_build_put_data(apdu, 0xc2, opgp_attr_cv25519,
	    sizeof(opgp_attr_cv25519));
	if ((r = opgp_xfer(card, apdu, alen, resp, sizeof(resp), &rlen)) != 0)
		return r;
	if ((r = opgp_sw_errno(opgp_sw(resp, rlen), NULL)) != 0)
		return r;
	/* A key-attribute change may reset the PIN state: verify again. */
	if ((r = opgp_verify(card, 0x83, admin_pin, pinlen, retries)) != 0)
		return r;
	alen = opgp_build_generate(apdu, 1);
	if ((r = opgp_xfer(card, apdu, alen, resp, sizeof(resp), &rlen)) != 0)
		return r;
	if ((r = opgp_parse_pubkey(resp, rlen, pub)) != 0)
		return r;
	/* The key's name on the card: fingerprint, then creation time. */
	now = (uint32_t)time(NULL);
	opgp_fingerprint_cv25519(pub, now, fpr);
	ts[0] = (uint8_t)(now >> 24);
	ts[1] = (uint8_t)(now >> 16);
	ts[2] = (uint8_t)(now >> 8);
	ts[3] = (uint8_t)now;
	alen = opgp_build_put_data(apdu, 0xc8, fpr, sizeof(fpr));
	if ((r = opgp_xfer(card, apdu, alen, resp, sizeof(resp), &rlen)) != 0 ||
	    (r = opgp_sw_errno(opgp_sw(resp, rlen), NULL)) != 0)
		return r;
	alen = opgp_build_put_data(apdu, 0xcf, ts, sizeof(ts));
	if ((r = opgp_xfer(card, apdu, alen, resp, sizeof(resp), &rlen)) != 0)
		return r;
	return opgp_sw_errno(opgp_sw(resp, rlen), NULL);
}

int
opgp_generate_cv25519(struct opgp_card *card, const uint8_t *admin_pin,
    size_t pinlen, uint8_t pub[static 32], int *retries)
{
	int	r;

	if ((r = opgp_select(card)) != 0)
		return r;
	r = opgp_generate_io(card, admin_pin, pinlen, pub, retries);
	/*
	 * PW3 must not stay verified for the next program on the card:
	 * reset it whatever happened (a card older than 3.0 may refuse
	 * the reset; it ends with the card session then).
	 */
	(void)opgp_reset_verify(card, 0x83);
	return r;
}

const char *
opgp_strerror(int err)
{
	switch (err) {
	case 0:
		return "ok";
	case -ENODEV:
		return "no card (absent or removed)";
	case -ESHUTDOWN:
		return "PC/SC service unavailable";
	case -ETIMEDOUT:
		return "card did not answer in time";
	case -EPROTO:
		return "malformed answer from the card";
	case -EACCES:
		return "PIN wrong or not verified";
	case -EPERM:
		return "PIN blocked";
	case -ENOKEY:
		return "no cv25519 key in the decryption slot";
	case -ENOENT:
		return "no OpenPGP application";
	case -EINVAL:
		return "refused (invalid input or all-zero result)";
	case -EAGAIN:
		return "card queue full";
	case -EOPNOTSUPP:
		return "card refused the command";
	case -ENOLCK:
		return "card locked (no PIN)";
	case -EXDEV:
		return "a different card";
	case -EBADMSG:
		return "card refused the PIN's format (its KDF setting?); "
		    "nothing spent";
	case -ENOSYS:
		return "card's KDF setting (DO F9) is one wgcard cannot "
		    "do; no PIN sent";
	case -ETIME:
		return "not touched in time (the token's touch policy)";
	case -ESTALE:
		return "waited too long for the card: dropped unasked "
		    "(the peer has retried meanwhile)";
	case -EBUSY:
		return "card held by another program (scdaemon without "
		    "pcsc-shared?)";
	case -ECONNRESET:
		return "card reset by another program";
	case -ENOTRECOVERABLE:
		return "OpenPGP application terminated: activate it "
		    "(gpg --card-edit: admin, factory-reset), then run "
		    "wgcardctl card init";
	default:
		return "card I/O error";
	}
}
