/*
 * cardtool.h: the OpenPGP application on a PC/SC card: finding the card
 * (SELECT, application data, serial) for the broker's openpgp backend,
 * and the small card tools wgcardctl calls without a daemon (card
 * pubkey, card init, card info). openpgp.c speaks the application's
 * commands, pcsc.c carries them; this file joins the two.
 */
#ifndef WGCARD_CARDTOOL_H
#define WGCARD_CARDTOOL_H

#include <stddef.h>
#include <stdint.h>

#include "openpgp.h"
#include "pcsc.h"

/* Which card: see pcsc.h for how readers are walked. */
struct cardtool_sel {
	char		reader[PCSC_READER_MAX];	/* substring, "" any */
	int		has_serial;
	uint32_t	serial;
	int		peek;	/* read before SELECT (selected already?) */
};

/*
 * Opens the first card that answers SELECT of the OpenPGP application
 * and, when a serial is given, whose application identifier carries it
 * (a card with another serial, or without the application, is turned
 * down until removed); info gets its application data. As pcsc_open,
 * and -EAGAIN: none, and the card closed by pcsc_close_lost is still
 * in its reader but answered with an error (why says which): ask
 * again later, not at once.
 */
int	cardtool_open(struct pcsc_conn *, const struct cardtool_sel *,
	    struct opgp_info *, char *why, size_t whylen);
/* The open card as openpgp.c's transport. */
struct opgp_card cardtool_card(struct pcsc_conn *);

/*
 * For wgcardctl, no daemon needed. reader_hint may be NULL (any reader);
 * reader_out (may be NULL) gets the reader's name. Each returns 0 or
 * -errno (opgp_strerror() words it).
 */
int	openpgp_read_pubkey(const char *reader_hint, uint8_t pub[static 32],
	    char *reader_out, size_t reader_len);
int	openpgp_read_info(const char *reader_hint, struct opgp_info *info,
	    uint8_t pub[static 32], int *has_pub, char *reader_out,
	    size_t reader_len);
/*
 * The serial of the card the tools above would use, read without a
 * SELECT when the OpenPGP application is selected already (a daemon
 * holds the card): on some cards a SELECT ends every PIN session.
 */
int	openpgp_peek_serial(const char *reader_hint, uint32_t *serial);
/* What card init shows of a card and checks before it asks a PIN. */
struct cardtool_probe_info {
	struct opgp_info	info;
	char			reader[PCSC_READER_MAX];
	uint8_t			pub[32];	/* the decryption key's, */
	int			has_pub;	/* when it is cv25519 */
	int			has_key;	/* any key in the slot */
	int			kdf_on;		/* F9 says KDF on */
	uint8_t			fw[3];		/* a YubiKey's firmware */
	int			has_fw;
	int			algo;		/* FA lists cv25519 for
						 * decryption: 1, 0; -1 no FA */
};
/* Reads it, without a PIN: 0 or -errno. */
int	openpgp_card_probe(const char *reader_hint,
	    struct cardtool_probe_info *);
/* 1 if a YubiKey older than 5.2.3, which cannot do cv25519. */
int	cardtool_no_cv25519(const struct cardtool_probe_info *);

/* card init's request: the admin PIN (PW3), and what to do. */
struct cardtool_init {
	uint32_t	 serial;	/* the card probed: no other */
	const uint8_t	*admin_pin;
	size_t		 admin_len;
	int		 kdf;		/* turn KDF on first (if off) */
	const uint8_t	*user_pin;	/* --kdf: PW1 to set; NULL 123456 */
	size_t		 user_len;
};
/*
 * card init: with the admin PIN (PW3), turns KDF on if asked
 * (opgp_kdf_setup: *kdf_done 1 done, 0 on already), sets the
 * decryption slot to cv25519 and generates a key on the card. pub gets
 * the new public key (the interface's WireGuard public key); retries the
 * admin PIN's retries left after a wrong PIN. Replaces any key in that
 * slot (the caller asks first). PW3 is reset at the end, whatever the
 * outcome.
 */
int	openpgp_card_init(const char *reader_hint, const struct cardtool_init *,
	    uint8_t pub[static 32], int *retries, int *kdf_done);

#endif /* WGCARD_CARDTOOL_H */
