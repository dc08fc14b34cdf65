/*
 * card.h: the virtual OpenPGP card (application version 3.4) of the
 * tests and of the demo. The card logic is one function, vcard_apdu(),
 * free of sockets so unit tests call it directly; the persistent state
 * is a small text file (vcard_save/vcard_load).
 *
 * What is implemented is what GnuPG's scdaemon and wgcard-keyd use:
 * SELECT, GET DATA, PUT DATA (even and odd: key import through the 3FFF
 * extended header list), VERIFY, CHANGE REFERENCE DATA, RESET RETRY
 * COUNTER, GENERATE ASYMMETRIC KEY PAIR, PSO:DECIPHER (cv25519 only),
 * GET CHALLENGE, GET RESPONSE, TERMINATE DF, ACTIVATE FILE. Only the
 * decryption slot holds a key (X25519); the signature and
 * authentication slots answer 6A88 / 6A81. Short APDUs are what the
 * card advertises (command chaining, GET RESPONSE); extended-length
 * APDUs are parsed anyway.
 */
#ifndef WGCARD_VCARD_CARD_H
#define WGCARD_VCARD_CARD_H

#include <stddef.h>
#include <stdint.h>

#define VCARD_PIN_MAX		127
#define VCARD_ATTR_MAX		16
#define VCARD_DO_MAX		255	/* login, URL, private DOs */
#define VCARD_CHAIN_MAX		4096
#define VCARD_RESP_MAX		4096
/* The largest answer vcard_apdu() writes: data and the status word. */
#define VCARD_OUT_MAX		(VCARD_RESP_MAX + 2)
#define VCARD_TRIES		3
#define VCARD_MANUFACTURER	0xFF00	/* "unmanaged S/N range" */

/* Key slots: 0 signature (B6), 1 decryption (B8), 2 authentication (A4). */
#define VCARD_KEY_SIG		0
#define VCARD_KEY_DEC		1
#define VCARD_KEY_AUT		2

/* Key status (DO DE). */
#define VCARD_KEY_NONE		0
#define VCARD_KEY_GENERATED	1
#define VCARD_KEY_IMPORTED	2

struct vcard_bytes {
	uint8_t		v[VCARD_DO_MAX];
	size_t		len;
};

struct vcard {
	/* Persistent. */
	uint32_t	serial;
	uint8_t		pw1[VCARD_PIN_MAX];
	size_t		pw1_len;
	uint8_t		pw3[VCARD_PIN_MAX];
	size_t		pw3_len;
	uint8_t		rc[VCARD_PIN_MAX];	/* resetting code, 0: none */
	size_t		rc_len;
	int		pw1_tries, rc_tries, pw3_tries;
	int		pw1_multi;		/* C4 byte 0 */
	uint8_t		attr[3][VCARD_ATTR_MAX];
	size_t		attr_len[3];
	uint8_t		fpr[3][20];
	uint8_t		cafpr[3][20];
	uint8_t		gendate[3][4];
	int		key_status[3];
	uint8_t		dec_key[32];		/* X25519 scalar, native */
	struct vcard_bytes name, lang, sex, login, url;
	struct vcard_bytes privdo[4];
	uint32_t	sig_count;
	int		terminated;

	/* Session (power-on); not saved. */
	int		pw1_81_ok, pw1_82_ok, pw3_ok;
	int		selected;
	uint8_t		chain[VCARD_CHAIN_MAX];
	size_t		chain_len;
	int		chain_ins;		/* -1: no chain under way */
	uint8_t		resp[VCARD_RESP_MAX];	/* left for GET RESPONSE */
	size_t		resp_len, resp_off;

	/* Bookkeeping for the caller. */
	int		dirty;			/* persistent state changed */
	unsigned long	decipher_count;
};

/* Factory defaults: PW1 123456, PW3 12345678, cv25519 decryption slot. */
void	vcard_init(struct vcard *, uint32_t serial);
/* Power on, power off, reset: forget verifications and pending data. */
void	vcard_reset_session(struct vcard *);
/*
 * One command APDU in, one response APDU (data + SW1 SW2) out; out must
 * hold VCARD_OUT_MAX bytes. Returns the status word.
 */
unsigned int	vcard_apdu(struct vcard *, const uint8_t *in, size_t inlen,
		    uint8_t *out, size_t *outlen);
/* The ATR (with the historical bytes of DO 5F52); atr holds 32 bytes. */
size_t	vcard_atr(uint8_t *atr);

/* Generate the decryption key now (as GENERATE would); pub may be NULL. */
void	vcard_generate(struct vcard *, uint8_t pub[32]);
/* The decryption key's public key; -1 if there is none. */
int	vcard_pubkey(const struct vcard *, uint8_t pub[32]);
/* Set PW1 or PW3 (3: admin); -1 if the length is out of range. */
int	vcard_set_pin(struct vcard *, int which, const char *pin);

/* Atomic save (temp file + rename, mode 0600); 0 or -1 with errno. */
int	vcard_save(const struct vcard *, const char *path);
/* 0, or -1 (errno ENOENT when there is no file; EINVAL when bad). */
int	vcard_load(struct vcard *, const char *path);
/* Wipe everything secret. */
void	vcard_wipe(struct vcard *);

#endif /* WGCARD_VCARD_CARD_H */
