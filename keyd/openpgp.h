/*
 * openpgp.h: the OpenPGP card application (3.x) as wgcard uses it: the
 * decryption key slot holds a cv25519 key, PSO:DECIPHER does X25519.
 *
 * Two layers. The APDU layer (opgp_build_*, opgp_parse_*, opgp_tlv_*)
 * is pure: it builds commands and parses answers with bounds checks on
 * every byte, so a malformed answer from a card can never crash us; the
 * unit test feeds it random bytes. The command layer (opgp_select, ...)
 * talks to a card through a transport (struct opgp_card: a transmit
 * function; pcsc.c provides the PC/SC one, the unit test a canned one).
 *
 * Errors are -errno: -ENODEV card gone, -ESHUTDOWN PC/SC service gone,
 * -ETIMEDOUT no answer, -EIO transport error, -EPROTO malformed answer,
 * -EACCES wrong PIN or PIN needed, -EPERM PIN blocked, -ENOKEY no
 * cv25519 key in the decryption slot, -ENOENT no OpenPGP application,
 * -EINVAL bad argument (an all-zero DH result is -EINVAL too),
 * -EBADMSG the card refused a PIN's format (6985/6700 to VERIFY: KDF
 * on and a raw PIN sent, or the other way round; nothing spent),
 * -ENOSYS a KDF setting we cannot do (no PIN sent), -ENOTRECOVERABLE
 * the application is terminated (6285: needs ACTIVATE); from the
 * transport (pcsc.h): -EBUSY the card is held by another PC/SC client,
 * -ECONNRESET another client reset it.
 */
#ifndef WGCARD_OPENPGP_H
#define WGCARD_OPENPGP_H

#include <stddef.h>
#include <stdint.h>

#define OPGP_AID_PREFIX_LEN	6	/* D2 76 00 01 24 01 */
#define OPGP_APDU_MAX		(5 + 255 + 1)
#define OPGP_RESP_MAX		(4096 + 2)
#define OPGP_PIN_MIN		6	/* PW1, OpenPGP card 3.x */
#define OPGP_PIN_MAX		127
#define OPGP_ADMIN_PIN_MIN	8	/* PW3 */

/* Status words we act on. */
#define OPGP_SW_OK		0x9000
#define OPGP_SW_SECURITY	0x6982	/* PIN not verified */
#define OPGP_SW_BLOCKED		0x6983	/* PIN blocked */
#define OPGP_SW_NOT_FOUND	0x6a82	/* no such application */
#define OPGP_SW_TERMINATED	0x6285	/* application terminated */

/* OpenPGP's largest iterated S2K count (RFC 4880 3.7.1.3, c = 0xff). */
#define OPGP_KDF_COUNT_MAX	65011712
/*
 * What card init --kdf writes: 8 MiB hashed per PIN (c = 0xd0; tens of
 * ms on the host, once per card session; docs/wgcardctl.8).
 */
#define OPGP_KDF_COUNT_INIT	8388608
#define OPGP_KDF_DO_LEN		110	/* F9's long form (three salts) */

/* Manufacturers (AID bytes 8-9) whose card init needs telling apart. */
#define OPGP_MFR_YUBICO		0x0006
#define OPGP_MFR_NITROKEY	0x000f
#define OPGP_MFR_FSIJ		0xf517	/* Gnuk */

/* The algorithm attributes of a cv25519 decryption key (C2), without an
 * optional trailing import-format byte. */
extern const uint8_t opgp_attr_cv25519[11];

struct opgp_card {
	/*
	 * Sends one APDU, receives the answer with its status word at the
	 * end. 0 (and *rlen set), or -errno as above.
	 */
	int	(*transmit)(void *arg, const uint8_t *apdu, size_t alen,
		    uint8_t *resp, size_t *rlen);
	void	*arg;
};

struct opgp_info {
	uint8_t		aid[16];	/* the application identifier (4F) */
	size_t		aid_len;
	uint32_t	serial;		/* bytes 10..13 of the AID */
	uint16_t	manufacturer;	/* bytes 8..9 */
	uint8_t		version[2];	/* bytes 6..7: spec version */
	int		is_cv25519;	/* C2 is ECDH over Curve25519 */
	uint8_t		dec_fpr[20];	/* decryption key fingerprint (C5) */
	int		has_dec_fpr;	/* not all zero */
	int		pw1_retries;	/* C4 byte 5; -1 unknown */
	int		pw3_retries;	/* C4 byte 7; -1 unknown */
	int		has_kdf_do;	/* C0 bit 0: the card has a KDF-DO */
	int		dec_key_status;	/* DE for key 02: 0 none, 1
					 * generated, 2 imported; -1 unknown */
};

/*
 * The KDF-DO (F9): when on, every PIN the card gets is the iterated and
 * salted S2K (RFC 4880 3.7.1.3) of the PIN with the card's salt for
 * that PIN and its count: 32 bytes with SHA-256 (82 = 08), 64 with
 * SHA-512 (82 = 0A).
 */
struct opgp_kdf {
	int		on;
	size_t		hashlen;	/* 32 or 64 */
	uint32_t	count;		/* bytes hashed */
	uint8_t		salt_pw1[8];
	uint8_t		salt_rc[8];
	uint8_t		salt_pw3[8];
};

/*
 * Touch: the user interaction flag of each key (UIF, DO D6 sign, D7
 * decrypt, D8 authenticate: policy byte, then 20 = "a button"), and
 * DO 7F74 (general feature management: 81 <bits>, 20 = a button).
 * With a policy on, the card holds the operation's answer until the
 * button is pressed (YubiKey: for at most 15 s, then an error).
 */
#define OPGP_UIF_OFF		0x00
#define OPGP_UIF_ON		0x01
#define OPGP_UIF_FIXED		0x02	/* on; only a reset turns it off */
#define OPGP_UIF_CACHED		0x03	/* on; one touch lasts 15 s */
#define OPGP_UIF_CACHED_FIXED	0x04
#define OPGP_UIF_NONE		(-1)	/* no such DO on the card */
#define OPGP_UIF_SIG		0
#define OPGP_UIF_DEC		1
#define OPGP_UIF_AUT		2

struct opgp_touch {
	int		button;		/* 7F74 says a button; 0 no 7F74 */
	int		uif[3];		/* OPGP_UIF_*, by OPGP_UIF_SIG.. */
};

/* BER-TLV. */

/*
 * Reads the TLV at *p (bounded by end): 1 and tag/val/vlen set, *p moved
 * past it; 0 at the end (trailing 00/FF padding); -1 if malformed.
 * Tags of 1 to 3 bytes, lengths in short form or 81/82/83 long form.
 */
int	opgp_tlv_next(const uint8_t **p, const uint8_t *end,
	    unsigned int *tag, const uint8_t **val, size_t *vlen);
/*
 * Finds tag in buf, looking into constructed tags (depth at most 8):
 * 1 and val/vlen set, 0 not found, -1 malformed.
 */
int	opgp_tlv_find(const uint8_t *buf, size_t len, unsigned int tag,
	    const uint8_t **val, size_t *vlen);

/* APDUs. Each returns the length written into apdu (OPGP_APDU_MAX). */

size_t	opgp_build_select(uint8_t *apdu);
size_t	opgp_build_get_data(uint8_t *apdu, unsigned int tag);
size_t	opgp_build_verify(uint8_t *apdu, uint8_t mode, const uint8_t *pin,
	    size_t pinlen);
/* GENERATE ASYMMETRIC KEY PAIR on the decryption slot (CRT B8):
 * gen 0 reads the public key (P1=81), gen 1 generates (P1=80). */
size_t	opgp_build_generate(uint8_t *apdu, int gen);
size_t	opgp_build_put_data(uint8_t *apdu, unsigned int tag,
	    const uint8_t *data, size_t len);
/* PSO:DECIPHER 00 2A 80 86 27 A6 25 7F49 22 86 20 <point> 00. */
size_t	opgp_build_decipher(uint8_t *apdu, const uint8_t point[static 32]);

/* Answers. resp includes the status word. */

/* The status word at the end of resp; 0 if shorter than 2 bytes. */
unsigned int	opgp_sw(const uint8_t *resp, size_t len);
/* A status word as -errno (0 for 9000); *retries set for 63Cx. */
int	opgp_sw_errno(unsigned int sw, int *retries);
/* X25519 result: 32 bytes, or 33 with a leading 0x40; never all zero. */
int	opgp_parse_decipher(const uint8_t *resp, size_t len,
	    uint8_t out[static 32]);
/* 7F49 { 86 <32 or 0x40 + 32> } from GENERATE (read or generate). */
int	opgp_parse_pubkey(const uint8_t *resp, size_t len,
	    uint8_t out[static 32]);
/* PW status bytes (C4, 7 bytes): PW1 and PW3 retries left. */
int	opgp_parse_pw_status(const uint8_t *data, size_t len,
	    int *pw1_retries, int *pw3_retries);
/* 1 if C2 says ECDH on cv25519, 0 if another algorithm. */
int	opgp_attr_is_cv25519(const uint8_t *data, size_t len);
/*
 * F9's content (or F9 itself): 0 and kdf set (on 0 when F9 is empty or
 * says 81 = 00); -ENOSYS an algorithm, hash or count we do not do;
 * -EPROTO malformed.
 */
int	opgp_parse_kdf(const uint8_t *data, size_t len, struct opgp_kdf *kdf);
/* Iterated-salted S2K of pin into out (hashlen: 32 SHA-256, 64 SHA-512). */
void	opgp_s2k(size_t hashlen, const uint8_t salt[static 8], uint32_t count,
	    const uint8_t *pin, size_t pinlen, uint8_t *out);
/*
 * 7F74's content (or 7F74 with its tag): 1 the token has a button, 0
 * not; -EPROTO malformed.
 */
int	opgp_parse_features(const uint8_t *data, size_t len);
/*
 * A UIF DO's content (or the DO with its tag, D6 to D8): the policy
 * byte (OPGP_UIF_*, any value a card gives, 0-255); -EPROTO malformed.
 */
int	opgp_parse_uif(const uint8_t *data, size_t len);
/* 1 if the policy asks for a touch (any policy but OPGP_UIF_OFF). */
int	opgp_uif_on(int policy);
/* The policy as text: "off", "on", "on (fixed)", ..., "none". */
const char *opgp_uif_name(int policy);
/* Application related data (6E, data without the status word). */
int	opgp_parse_app_data(const uint8_t *data, size_t len,
	    struct opgp_info *info);
/*
 * Yubico's GET VERSION (00 F1 00 00 on the OpenPGP application, as
 * yubikey-manager sends it): the firmware as three BCD bytes, into fw
 * as numbers (05 02 07: 5.2.7). 0, or -EPROTO.
 */
int	opgp_parse_version(const uint8_t *resp, size_t len,
	    uint8_t fw[static 3]);
/*
 * Algorithm information (FA, OpenPGP card 3.4 4.4.3.11), with or
 * without its own tag: 1 if the decryption key (C2) may be cv25519, 0
 * if the list has no cv25519 for it, -EPROTO malformed.
 */
int	opgp_parse_algo_info(const uint8_t *data, size_t len);
/*
 * F9's long form as GnuPG's kdf-setup writes it: ITERSALTED_S2K,
 * SHA-256, count, the salts of PW1, RC and PW3 (8 bytes each, in that
 * order in salts), and the hashes of the factory PINs 123456 and
 * 12345678 (87, 88), which a YubiKey or Gnuk then takes as its PINs.
 */
void	opgp_build_kdf_do(uint8_t f9[static OPGP_KDF_DO_LEN], uint32_t count,
	    const uint8_t salts[static 24]);

/* Commands (through card->transmit). */

/* SELECT the OpenPGP application; 0 or -ENOENT/-errno. */
int	opgp_select(struct opgp_card *card);
/* GET DATA 6E (and 4F if needed): serial, C2, C4, C5. */
int	opgp_read_info(struct opgp_card *card, struct opgp_info *info);
/* GET DATA F9: the card's KDF setting (off when the card has none). */
int	opgp_read_kdf(struct opgp_card *card, struct opgp_kdf *kdf);
/*
 * GET DATA 7F74, D6, D7, D8: the button and each key's touch policy. A
 * DO the card does not have is "no button" or OPGP_UIF_NONE; 0, or
 * -errno when the card or the transport failed.
 */
int	opgp_read_touch(struct opgp_card *card, struct opgp_touch *touch);
/* GET DATA C4: PW1 and PW3 retries left (either may be NULL). */
int	opgp_read_pw_retries(struct opgp_card *card, int *pw1, int *pw3);
/* GET DATA C4 only: PW1 retries left, or -errno. */
int	opgp_read_pw1_retries(struct opgp_card *card);
/* The decryption key's public point (GENERATE P1=81). */
int	opgp_read_pubkey(struct opgp_card *card, uint8_t pub[static 32]);
/* GET VERSION (Yubico): 0 and fw, -EOPNOTSUPP no such command, -errno. */
int	opgp_read_version(struct opgp_card *card, uint8_t fw[static 3]);
/* GET DATA FA: as opgp_parse_algo_info; -ENOENT the card has no FA. */
int	opgp_read_algo_info(struct opgp_card *card);
/*
 * card init --kdf: turns KDF on (PUT DATA F9, fresh salts, count
 * OPGP_KDF_COUNT_INIT) with the admin PIN, as GnuPG's kdf-setup does:
 * a card that replaces its PINs by F9's 87/88 (replaces: YubiKey,
 * Gnuk) gets VERIFY PW3 and the PUT; any other first gets PW3 changed
 * to 88 and PW1 reset to 87, the resetting code removed (PUT DATA D3
 * empty). Both then hold the factory PINs, hashed; unlike kdf-setup,
 * PW3 is changed back to admin_pin and PW1 set to user_pin (when not
 * NULL), now hashed. -EALREADY KDF was on (nothing done); -ENOSYS the
 * card has no KDF-DO; else as opgp_verify. PW3 stays verified: the
 * caller resets it.
 */
int	opgp_kdf_setup(struct opgp_card *card, int replaces,
	    const uint8_t *admin_pin, size_t adminlen, const uint8_t *user_pin,
	    size_t userlen, int *retries);
/*
 * VERIFY (mode 0x82 PW1 for decipher, 0x83 PW3 admin), with the card's
 * KDF (F9 read first) applied to the PIN. 0; -EACCES wrong PIN (63Cx or
 * 6982; *retries set from the status word or C4); -EPERM blocked;
 * -EINVAL if the PIN's length is outside what the card accepts, and
 * -EBADMSG (6985, 6700) the card refused the PIN's form, -ENOSYS its
 * KDF cannot be done: no retry spent.
 */
int	opgp_verify(struct opgp_card *card, uint8_t mode, const uint8_t *pin,
	    size_t pinlen, int *retries);
/* VERIFY FF <mode>: the PIN's verified state is reset. */
int	opgp_reset_verify(struct opgp_card *card, uint8_t mode);
/* X25519 with the card's decryption key. */
int	opgp_decipher(struct opgp_card *card, const uint8_t point[static 32],
	    uint8_t out[static 32]);
/*
 * card init: with the admin PIN, sets C2 to cv25519 and generates a new
 * decryption key on the card; pub gets its public point. The key's
 * OpenPGP fingerprint and creation time (now) are then written to the
 * card (C8, CF), as GnuPG does, so that the card and gpg --card-status
 * name the key. PW3 is reset (VERIFY FF 83) at the end, whatever the
 * outcome.
 */
int	opgp_generate_cv25519(struct opgp_card *card, const uint8_t *admin_pin,
	    size_t pinlen, uint8_t pub[static 32], int *retries);
/*
 * The OpenPGP v4 fingerprint (RFC 4880 12.2) of a cv25519 ECDH key with
 * the given point and creation time, with GnuPG's KDF parameters
 * (SHA-256, AES-128).
 */
void	opgp_fingerprint_cv25519(const uint8_t pub[static 32],
	    uint32_t created, uint8_t fpr[static 20]);

/* A short text for an -errno from this module. */
const char *opgp_strerror(int err);

#endif /* WGCARD_OPENPGP_H */
