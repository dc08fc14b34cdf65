/*
 * card.h: the "openpgp" backend of the key broker. Card operations run
 * in one worker thread (pcsclite calls block, a card takes hundreds of
 * ms and may hang); the broker's event loop only queues requests and
 * collects answers. See card.c for the state machine and wgcard-keyd(8).
 */
#ifndef WGCARD_KEYD_CARD_H
#define WGCARD_KEYD_CARD_H

#include <stddef.h>
#include <stdint.h>

#include "wgcard.h"

#define CARD_QUEUE_MAX		16	/* requests waiting for the card */
#define CARD_TIMEOUT_MS		2000	/* an operation taking longer hangs */
#define CARD_POLL_MS		250	/* card presence and return */
#define CARD_KEYCHECK_MS	1000	/* is the key still the expected one? */

/* State of the card backend (keyd.c maps it to struct key_status). */
#define KEY_CARD_NONE		0	/* file backend: no card */
#define KEY_CARD_ABSENT		1	/* no matching card */
#define KEY_CARD_LOCKED		2	/* no PIN, or a wrong one */
#define KEY_CARD_READY		3	/* PIN verified */
#define KEY_CARD_WRONG		4	/* a different card: refused */
#define KEY_CARD_BLOCKED	5	/* PIN retry counter at zero */
#define KEY_CARD_NO_SERVICE	6	/* no pcscd */
#define KEY_CARD_HUNG		7	/* an operation did not return */
#define KEY_CARD_ERROR		8	/* unusable card (see reason) */

struct key_card_status {
	uint8_t		state;		/* KEY_CARD_* */
	uint8_t		has_pin;
	uint8_t		has_pub;
	int8_t		pw1_retries;	/* -1 unknown */
	uint32_t	serial;
	uint16_t	manufacturer;
	uint16_t	pad;
	uint32_t	queued;
	uint32_t	capacity;
	uint32_t	last_latency_us;
	uint64_t	ops;
	uint64_t	errors;
	uint8_t		pub[32];
	uint8_t		fpr[20];	/* decryption key fingerprint */
	char		reader[128];
	char		reason[192];
};

/* Called in the event loop's thread. */
struct card_cb {
	/* One per accepted request: status 0 or -errno. */
	void	(*dh_done)(uint64_t id, int status,
		    const uint8_t result[static 32], uint32_t latency_us,
		    const char *who);
	/* The card's public key became known (first card seen). */
	void	(*pubkey)(const uint8_t pub[static 32]);
	/* The card became usable (PIN verified after start, unlock or
	 * reinsertion): peers whose static-static DH failed may retry. */
	void	(*ready)(void);
	/* Outcome of a PIN given with card_set_pin. */
	void	(*pin_result)(int status, int retries);
};

/*
 * Before the sandbox: an eventfd for the worker's news, locked memory
 * for the PIN, the PC/SC connection object. Needs event_init() done.
 */
void	card_init(const struct card_cb *);
/* The settings (IMSG_KEY_CARD_CONFIG), before card_start. */
void	card_configure(const struct key_card_config *);
/* After the sandbox: starts the worker thread. */
void	card_start(void);
/* Stops the worker (not waiting for a hung one) and wipes the PIN. */
void	card_stop(void);
/*
 * Queues X25519(card key, point); who names the peer in the audit log.
 * 0 queued (dh_done follows); -EAGAIN queue full; else the card's
 * state as -errno (-ENODEV absent, -ENOLCK locked, -ETIMEDOUT hung, ...)
 * and nothing follows.
 */
int	card_submit(uint64_t id, const uint8_t point[static 32],
	    const char *who);
/* A PIN from the user (copied into locked memory; wipe yours). */
void	card_set_pin(const uint8_t *pin, size_t len);
/*
 * The configuration's PIN (start, reload): as card_set_pin, except that
 * a card already open is left alone (its session stays; no VERIFY).
 */
void	card_offer_pin(const uint8_t *pin, size_t len);
/* 1 and pub set if the card's public key is known (configured or read). */
int	card_public_key(uint8_t pub[static 32]);
void	card_status(struct key_card_status *);
/* Requests queued or running now. */
uint32_t card_queued(void);

#endif /* WGCARD_KEYD_CARD_H */
