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
 *
 * A profile (struct vcard_profile) makes the card behave like a real
 * token: KDF-DO (F9) and hashed PINs, the status words of a raw or
 * wrong PIN, PIN state on SELECT, other applications (PIV, OATH, the
 * YubiKey management application), attribute quirks, the low-order
 * point answer, a button and touch policy (UIF), per-class latency
 * (the latter two carried out by vcard.c). docs/devices.md gives each
 * behaviour's source.
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
#define VCARD_KDF_MAX		110	/* DO F9, the long form */
#define VCARD_KDF_COUNT		1048576	/* S2K bytes hashed, when we set KDF */

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

/* What a VERIFY of the wrong length does while KDF is on (a raw PIN). */
enum vcard_kdf {
	VCARD_KDF_NONE,		/* no KDF-DO: C0 bit off, F9 6A88 */
	VCARD_KDF_COMPARE,	/* compared as it is: spends a retry */
	VCARD_KDF_STRICT,	/* refused with kdf_sw, nothing spent */
};

/* How DO C2 (decryption attributes) reads. */
enum vcard_attr {
	VCARD_ATTR_PLAIN,	/* 12 <OID> */
	VCARD_ATTR_FF,		/* 12 <OID> FF ("with public key") */
	VCARD_ATTR_BOGUS,	/* 12 <OID> <a byte that is neither 00 nor FF> */
};

/* Applications other than OpenPGP that a token may have selected. */
#define VCARD_APP_OPENPGP	0
#define VCARD_APP_PIV		1
#define VCARD_APP_OATH		2
#define VCARD_APP_MGMT		3	/* YubiKey management */

/*
 * How the card behaves: a named profile that imitates a real token
 * (docs/devices.md cites the source of each value), knobs on top.
 * Not saved: given on the command line each start.
 */
struct vcard_profile {
	char		name[16];
	enum vcard_kdf	kdf;
	unsigned int	kdf_sw;		/* STRICT: the answer to a raw PIN */
	int		kdf_replace;	/* PUT DATA F9 sets PW1/PW3 to 87/88 */
	unsigned int	wrong_pin_sw;	/* 0: 63Cx */
	unsigned int	verify_sw;	/* 0; else every VERIFY with data
					 * answers it, nothing spent */
	unsigned int	select_sw;	/* 0; else SELECT of OpenPGP answers
					 * it, the selection unchanged */
	unsigned int	unselected_sw;	/* commands before SELECT */
	unsigned int	foreign_sw;	/* OpenPGP commands to another app */
	int		apps;		/* other AIDs answered: bit per app */
	int		select_clears;	/* SELECT forgets verified PINs */
	int		lowpoint_zero;	/* 9000 + 32 zero bytes, not 6A80 */
	enum vcard_attr	attr;
	int		oid_rfc;	/* X25519 as OID 1.3.101.110 */
	int		button;		/* 7F74 and UIF DOs D6-D8 */
	uint16_t	manufacturer;
	uint8_t		fw[3];		/* YubiKey firmware (GET VERSION F1,
					 * management read config); 0.0.0:
					 * not a YubiKey, F1 unknown */
	int		verify_ms, decipher_ms, generate_ms;
	int		touch_timeout_ms;
	int		t0;		/* ATR offers T=0 only: see vcard_apdu */
	int		resp_max;	/* most data bytes per answer; 0: Le */
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
	uint8_t		kdf[VCARD_KDF_MAX];	/* DO F9; 0 bytes: none */
	size_t		kdf_len;
	uint8_t		uif[3];			/* DOs D6-D8, first byte */

	/* Session (power-on); not saved. */
	int		pw1_81_ok, pw1_82_ok, pw3_ok;
	int		selected;
	int		app;			/* VCARD_APP_* */
	uint8_t		chain[VCARD_CHAIN_MAX];
	size_t		chain_len;
	int		chain_ins;		/* -1: no chain under way */
	uint8_t		resp[VCARD_RESP_MAX];	/* left for GET RESPONSE */
	size_t		resp_len, resp_off;

	/* Bookkeeping for the caller. */
	int		dirty;			/* persistent state changed */
	unsigned long	decipher_count;
	int		touch_pending;		/* the last answer waits */

	struct vcard_profile prof;		/* kept by vcard_init */
};

/*
 * Factory defaults: PW1 123456, PW3 12345678, cv25519 decryption slot.
 * The profile is kept; a card never initialised has the default one.
 */
void	vcard_init(struct vcard *, uint32_t serial);
/*
 * Profiles: "default" (what this card always did), "nitrokey3",
 * "yubikey5", "gnuk", "smartpgp". 0, or -1 for an unknown name.
 */
int	vcard_profile(struct vcard_profile *, const char *name);
/* One knob, "key=value" (see vcard_knobs); 0, or -1 if bad. */
int	vcard_profile_set(struct vcard_profile *, const char *kv);
/* The knobs, for usage(). */
extern const char vcard_knobs[];
/*
 * Bring the card in line with its profile: KDF on (F9 written with
 * fresh salts, stored PINs replaced by their hashes) when the profile
 * has KDF and the card has none yet. Sets dirty when it changed.
 */
void	vcard_apply_profile(struct vcard *);
/*
 * OpenPGP's iterated and salted S2K (RFC 4880 3.7.1.3) with SHA-256,
 * as GnuPG's pin2hash_if_kdf() computes it: 32 bytes out.
 */
void	vcard_s2k(const uint8_t *pin, size_t pinlen, const uint8_t salt[8],
	    uint32_t count, uint8_t out[32]);
/* KDF is on: F9 holds an iterated-salted S2K (90 or 110 bytes). */
int	vcard_kdf_on(const struct vcard *);
/* Another application selected (VCARD_APP_*): PIN state gone. */
void	vcard_select_app(struct vcard *, int app);
/* Power on, power off, reset: forget verifications and pending data. */
void	vcard_reset_session(struct vcard *);
/*
 * One command APDU in, one response APDU (data + SW1 SW2) out; out must
 * hold VCARD_OUT_MAX bytes. Returns the status word.
 */
unsigned int	vcard_apdu(struct vcard *, const uint8_t *in, size_t inlen,
		    uint8_t *out, size_t *outlen);
/* The ATR (with the historical bytes of DO 5F52); atr holds 32 bytes. */
size_t	vcard_atr(const struct vcard_profile *, uint8_t *atr);

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
