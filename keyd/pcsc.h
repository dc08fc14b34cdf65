/*
 * pcsc.h: reaching an OpenPGP card through pcsclite (PC/SC), and the
 * small card tools wgcardctl calls without a daemon (card pubkey, card
 * init, card info).
 *
 * A reader is chosen as the first one (in SCardListReaders order) whose
 * name contains the hint (any reader when NULL or ""), whose card
 * answers SELECT of the OpenPGP application and, when a serial is
 * given, whose application identifier carries that serial. The card is
 * opened SCARD_SHARE_SHARED, so GnuPG's scdaemon (pcsc-shared) can use
 * it too; each operation runs inside SCardBeginTransaction.
 */
#ifndef WGCARD_PCSC_H
#define WGCARD_PCSC_H

#include <stddef.h>
#include <stdint.h>

#include "openpgp.h"

#define PCSC_READER_MAX	128

struct pcsc_sel {
	char		reader[PCSC_READER_MAX];	/* substring, "" any */
	int		has_serial;
	uint32_t	serial;
	int		peek;	/* read before SELECT (selected already?) */
};

struct pcsc_conn;

struct pcsc_conn *pcsc_new(void);
void	pcsc_free(struct pcsc_conn *);
/*
 * Establishes the context if needed, finds and connects the card, then
 * SELECTs the application and reads its info. 0; -ENODEV no matching
 * card (why names the reason); -EXDEV none, and a card turned down
 * (pcsc_reject_current) is still in its reader; -ESHUTDOWN no pcscd;
 * -errno.
 */
int	pcsc_open(struct pcsc_conn *, const struct pcsc_sel *,
	    struct opgp_info *, char *why, size_t whylen);
/* Disconnects the card (SCARD_LEAVE_CARD); keeps the context. */
void	pcsc_close(struct pcsc_conn *);
/* Turns the open reader's card down until it is removed or reset. */
void	pcsc_reject_current(struct pcsc_conn *);
/* Forgets the cards turned down (the selection rules changed). */
void	pcsc_forget_rejects(struct pcsc_conn *);
/* Releases the context too (after a pcscd restart). */
void	pcsc_release(struct pcsc_conn *);
int	pcsc_is_open(const struct pcsc_conn *);
/* 0 card still there, -ENODEV gone or reset, -ESHUTDOWN no pcscd. */
int	pcsc_check(struct pcsc_conn *);
/* Transactions around an operation: 0 or -errno. */
int	pcsc_begin(struct pcsc_conn *);
void	pcsc_end(struct pcsc_conn *);
/* The transport for openpgp.c. */
struct opgp_card pcsc_card(struct pcsc_conn *);
const char *pcsc_reader(const struct pcsc_conn *);
/* A pcsclite LONG as -errno (see openpgp.h). */
int	pcsc_errno(long rv);

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
/*
 * card init: with the admin PIN (PW3), sets the decryption slot to
 * cv25519 and generates a key on the card. pub gets the new public key
 * (the interface's WireGuard public key); retries the admin PIN's
 * retries left after a wrong PIN. Replaces any key in that slot.
 */
int	openpgp_card_init(const char *reader_hint, const uint8_t *admin_pin,
	    size_t pinlen, uint8_t pub[static 32], int *retries);

#endif /* WGCARD_PCSC_H */
