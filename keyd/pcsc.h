/*
 * pcsc.h: the PC/SC transport (pcsclite): the context, the readers, one
 * card connection, its transactions and APDUs. It knows no card
 * application: which card in which reader is the one wanted is the
 * caller's probe (cardtool.c for the OpenPGP application).
 *
 * A reader is chosen as the first one (in SCardListReaders order) whose
 * name contains the hint (any reader when NULL or ""), that holds a
 * card not turned down before, and whose card the probe takes. The card
 * is opened SCARD_SHARE_SHARED, so GnuPG's scdaemon (pcsc-shared) can
 * use it too, or SCARD_SHARE_EXCLUSIVE (pcsc_set_exclusive: no other
 * PC/SC client may even connect); each operation runs inside a
 * transaction (pcsc_begin).
 *
 * Errors are -errno as in openpgp.h: -ENODEV card or reader gone,
 * -ESHUTDOWN no pcscd, -ETIMEDOUT, -ENOMEM, -EIO; -EBUSY another PC/SC
 * client holds the card (a sharing violation: it connected exclusively,
 * or we asked for exclusive and it is connected); -ECONNRESET another
 * client reset the card (SCARD_W_RESET_CARD: every PIN state and the
 * selected application are gone; pcsc_reconnect, then SELECT again).
 */
#ifndef WGCARD_PCSC_H
#define WGCARD_PCSC_H

#include <stddef.h>
#include <stdint.h>

#define PCSC_READER_MAX	128

struct pcsc_conn;

/*
 * Looks at the card just connected in a reader (pcsc_reader() names
 * it): 1 it is the one (stays connected), 0 not this one, 2 not this
 * one and not to be looked at again until it is removed or reset,
 * -ESHUTDOWN no pcscd. On 0 and 2, why says why.
 */
typedef int	(*pcsc_probe_fn)(struct pcsc_conn *, void *arg, char *why,
		    size_t whylen);

struct pcsc_conn *pcsc_new(void);
void	pcsc_free(struct pcsc_conn *);
/*
 * Establishes the context if needed, then connects the first card that
 * the probe takes. 0; -ENODEV no such card (why names the reason);
 * -EXDEV none, and a card turned down (probe 2, pcsc_reject_current)
 * is still in its reader; -EBUSY none, and a reader's card is held by
 * another client (why says which); -ESHUTDOWN no pcscd; -errno.
 */
int	pcsc_open(struct pcsc_conn *, const char *reader_hint,
	    pcsc_probe_fn probe, void *arg, char *why, size_t whylen);
/* Exclusive (1) or shared (0, the default) from the next pcsc_open. */
void	pcsc_set_exclusive(struct pcsc_conn *, int);
/*
 * After -ECONNRESET: the same card again on the same handle
 * (SCardReconnect, the card left as it is). 0 or -errno.
 */
int	pcsc_reconnect(struct pcsc_conn *);
/*
 * 1 while pcsc_begin or pcsc_check is in the pcsclite call that waits
 * as long as another client's transaction lasts; from any thread.
 */
int	pcsc_waiting(const struct pcsc_conn *);
/* Disconnects the card (SCARD_LEAVE_CARD); keeps the context. */
void	pcsc_close(struct pcsc_conn *);
/*
 * pcsc_close, remembering the card as lost in its reader: until it is
 * removed (or taken again), the probe that pcsc_open runs on it sees
 * pcsc_lost_here() 1.
 */
void	pcsc_close_lost(struct pcsc_conn *);
/* In a probe: 1 if this card is the one pcsc_close_lost closed. */
int	pcsc_lost_here(const struct pcsc_conn *);
/* Turns the open reader's card down until it is removed or reset. */
void	pcsc_reject_current(struct pcsc_conn *);
/* Forgets the cards turned down (the selection rules changed). */
void	pcsc_forget_rejects(struct pcsc_conn *);
/* Releases the context too (after a pcscd restart). */
void	pcsc_release(struct pcsc_conn *);
int	pcsc_is_open(const struct pcsc_conn *);
/* 0 card still there, -ENODEV gone, -ECONNRESET reset by another
 * client, -ESHUTDOWN no pcscd. */
int	pcsc_check(struct pcsc_conn *);
/* Transactions around an operation: 0 or -errno. */
int	pcsc_begin(struct pcsc_conn *);
void	pcsc_end(struct pcsc_conn *);
/*
 * One APDU to the open card; resp gets the answer with its status word,
 * *rlen its size (in: resp's size). 0 or -errno.
 */
int	pcsc_transmit(struct pcsc_conn *, const uint8_t *apdu, size_t alen,
	    uint8_t *resp, size_t *rlen);
const char *pcsc_reader(const struct pcsc_conn *);
/* A pcsclite LONG as -errno. */
int	pcsc_errno(long rv);

#endif /* WGCARD_PCSC_H */
