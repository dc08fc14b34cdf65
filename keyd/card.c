/*
 * card.c: the "openpgp" backend of wgcard-keyd: one worker thread owns
 * the PC/SC connection and does every card operation; the event loop
 * (keyd.c) queues requests here and gets answers through an eventfd.
 *
 * States (struct key_card_status.state), kept under one mutex:
 *
 *	NO_SERVICE  no pcscd: the context is established again every
 *		    CARD_POLL_MS (pcscd restarts are followed).
 *	ABSENT      no matching card: readers are looked at again every
 *		    CARD_POLL_MS (a card's return is noticed within that).
 *	WRONG       a card whose decryption key is not the expected one
 *		    (CardPublicKey, or the first key seen since start):
 *		    refused and logged, not looked at again until it is
 *		    removed or reset; the empty slots and other cards
 *		    beside it do not change that (cardtool_open: -EXDEV). The
 *		    key is read again every CARD_KEYCHECK_MS while idle and
 *		    before every VERIFY: a card whose key was replaced while
 *		    open becomes WRONG and never gets the stored PIN.
 *	LOCKED      the right card, no PIN verified: DH requests fail at
 *		    once with -ENOLCK ("card locked: run wgcardctl card
 *		    unlock").
 *	PIN_SUSPECT the configuration's PIN, not verified by this process,
 *		    met a card whose retry counter is below its maximum
 *		    (card_pw1_max): someone failed since the last good
 *		    VERIFY, so it is not sent (each restart would spend
 *		    a retry); as LOCKED until wgcardctl card unlock.
 *	BLOCKED     PW1's retry counter is zero: nothing is ever tried.
 *	READY       PIN verified in this card session: requests go to the
 *		    card, one PSO:DECIPHER each.
 *	HELD        another PC/SC client holds the card: it connected
 *		    exclusively (GnuPG's scdaemon without pcsc-shared), or,
 *		    with Exclusive = yes, is connected at all (a sharing
 *		    violation), or it holds a transaction for longer than
 *		    CARD_HELD_MS (pcsclite then waits in
 *		    SCardBeginTransaction and SCardStatus as long as it
 *		    lasts). Requests fail at once with -EBUSY; the connect
 *		    is tried again with a back-off up to
 *		    CARD_HELD_POLL_MAX_MS, a waiting transaction goes on by
 *		    itself.
 *	HUNG        an operation has not returned within its bound (a
 *		    VERIFY VerifyTimeout, a DECIPHER DecipherTimeout, or
 *		    TouchTimeout when the card asks for a touch, any other
 *		    command CARD_IO_TIMEOUT_MS; see card_limit_ms): the
 *		    request fails with -ETIMEDOUT, new ones fail at once.
 *		    pcsclite has no way to abandon a blocked SCardTransmit
 *		    (SCardCancel only ends SCardGetStatusChange, and every
 *		    other call on the context waits for the blocked one), so
 *		    the worker is left to return; when it does, the card is
 *		    disconnected and opened afresh (SELECT, key check,
 *		    VERIFY with the stored PIN if it was good).
 *
 * PIN rules: a PIN is tried at most once, when the user gave it (start,
 * or card unlock), or again on a new card session (reinsertion, pcscd
 * restart, card reset by someone else) only if it was verified before.
 * A wrong PIN is forgotten at once and never retried: only a keyed hash
 * of it is kept (BLAKE2b, key random per process), so that the same PIN
 * given again (a reload with the unchanged PinFile, a repeated unlock)
 * is refused here without costing the card a retry. The PIN lives in
 * sodium_malloc'ed memory, wiped when replaced, forgotten and on exit.
 *
 * A PIN from the handshake process (wgcardctl card unlock; a process
 * that talks to the network, so possibly compromised) is never sent
 * while the card is ready (it is answered at once), is refused within
 * CARD_UNLOCK_INTERVAL_MS of the last one that could reach the card,
 * and is refused when the card has one retry left unless UnlockLastTry
 * is set: whatever the handshake process sends, it cannot block the
 * card. Every PIN is audited with its source.
 *
 * Another program on the card (docs/devices.md item 5): when a command
 * that worked before (DECIPHER, the idle key check) answers as if the
 * OpenPGP application were not selected (6D00, 6E00, 6A82, 6A88, 6985,
 * or 6982: PIN state gone) or the card was reset by another client
 * (SCARD_W_RESET_CARD), the card is selected again (after
 * SCardReconnect for a reset), its key checked and the stored PIN,
 * which proved good in this card session, verified again; the request
 * is then retried once (card_recover, audited as op=card-reselect).
 * After any SELECT the PIN state counts as gone (SmartPGP clears it).
 * A recovery that fails, or a retry that meets the same answer, takes
 * the lost-card path (closed, looked for again after the back-off):
 * never a loop on the card. The card closed so, while it stays in its
 * reader, is not turned down when its SELECT fails (pcsc_close_lost,
 * cardtool_open -EAGAIN): it is asked again after the back-off.
 *
 * Settings (reader, serial, expected key) may change while running
 * (wgcardctl reload): the worker then closes the card session, forgets
 * the cards it turned down and looks again with the new rules.
 */
#include <sys/eventfd.h>

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event.h>
#include <sodium.h>

#include "backend.h"
#include "cardtool.h"
#include "compat.h"
#include "crypto.h"
#include "encoding.h"
#include "log.h"
#include "openpgp.h"
#include "pcsc.h"
#include "sandbox.h"

#define CARD_QUEUE_MAX		16	/* requests waiting for the card */
/*
 * How long an operation may take before the card counts as hung
 * (docs/decisions.md 21): a Nitrokey 3 takes ~0.9 s per VERIFY and up to
 * ~1 s per DECIPHER, a DECIPHER under a touch policy waits for the
 * user (a YubiKey gives up after 15 s). VERIFY and DECIPHER are set by
 * VerifyTimeout, DecipherTimeout, TouchTimeout; other commands (SELECT,
 * GET DATA, reading the public key) answer at once on every token.
 */
#define CARD_IO_TIMEOUT_MS	2000
#define CARD_VERIFY_TIMEOUT_MS	3000	/* VerifyTimeout's default */
#define CARD_DECIPHER_TIMEOUT_MS 3000	/* DecipherTimeout's */
#define CARD_TOUCH_TIMEOUT_MS	20000	/* TouchTimeout's */
/*
 * A request that waited longer than this for the card is answered
 * -ESTALE without reaching it: WireGuard retransmits an initiation
 * after 5 s (REKEY_TIMEOUT) with a new ephemeral key, so a later answer
 * serves a handshake nobody waits for, and would cost a slow card (or a
 * user's touch) an operation that the current handshake needs.
 */
#define CARD_STALE_MS		5000
/*
 * Back-off: a card session that fails again and again without one
 * DECIPHER answered (a card that answers every VERIFY or DECIPHER with
 * an error at once, and is reconnected and verified at once) is opened
 * or verified again only after CARD_POLL_MS, doubled at each failure
 * up to CARD_BACKOFF_MAX_MS. A card not found (removed) starts afresh.
 */
#define CARD_BACKOFF_MAX_MS	8000
#define CARD_POLL_MS		250	/* card presence and return */
#define CARD_KEYCHECK_MS	1000	/* is the key still the expected one? */
/*
 * Waiting this long for another client's PC/SC transaction makes the
 * card HELD (requests fail at once instead of queueing behind it).
 */
#define CARD_HELD_MS		500
#define CARD_HELD_POLL_MAX_MS	2000	/* connect back-off while held */
/*
 * Between two PINs from the handshake process (wgcardctl card unlock)
 * that may reach the card: a person retyping a PIN is slower than that,
 * a compromised handshake process guessing is held to the same pace
 * (and never to the last retry: see card_unlock_pin).
 */
#define CARD_UNLOCK_INTERVAL_MS	5000
/*
 * PW1's retry counter when nobody failed since the last good VERIFY,
 * until the card says otherwise: C4 does not say the card's maximum;
 * 3 is every token's default (docs/devices.md). The counter read right
 * after a good VERIFY is the card's own maximum, remembered for that
 * serial (card_pw1_max; docs/decisions.md). A counter below the
 * maximum means someone failed.
 */
#define CARD_PW1_MAX		3
#define CARD_DONE_MAX		(CARD_QUEUE_MAX * 2 + 2)
#define CARD_PCSC_SOCK		"/run/pcscd/pcscd.comm"	/* pcsclite's default */

/* State of the card (card_status() maps it to struct key_status). */
#define KEY_CARD_NONE		0	/* not configured yet */
#define KEY_CARD_ABSENT		1	/* no matching card */
#define KEY_CARD_LOCKED		2	/* no PIN, or a wrong one */
#define KEY_CARD_READY		3	/* PIN verified */
#define KEY_CARD_WRONG		4	/* a different card: refused */
#define KEY_CARD_BLOCKED	5	/* PIN retry counter at zero */
#define KEY_CARD_NO_SERVICE	6	/* no pcscd */
#define KEY_CARD_HUNG		7	/* an operation did not return */
#define KEY_CARD_ERROR		8	/* unusable card (see reason) */
#define KEY_CARD_PIN_SUSPECT	9	/* locked: configured PIN not sent */
#define KEY_CARD_HELD		10	/* held by another PC/SC client */

struct key_card_status {
	uint8_t		state;		/* KEY_CARD_* */
	uint8_t		has_pin;
	uint8_t		has_pub;
	int8_t		pw1_retries;	/* -1 unknown */
	int8_t		pw1_max;	/* the card's maximum (card_pw1_max) */
	uint32_t	serial;
	uint16_t	manufacturer;
	uint32_t	queued;
	uint64_t	ops;
	uint64_t	errors;
	uint32_t	last_latency_us;
	struct opgp_touch touch;	/* 7F74, UIF: read at each session */
	uint8_t		pub[32];
	uint8_t		fpr[20];	/* decryption key fingerprint */
	char		reader[128];
	char		reason[192];
};

struct card_req {
	uint64_t	id;
	uint8_t		point[32];
	char		who[16];
	uint64_t	t_submit;
};

struct card_res {
	uint64_t	id;
	int		status;
	uint8_t		result[32];
	uint8_t		point[32];	/* asked for (public: for the audit) */
	uint32_t	latency_us;
	char		who[16];
};

/*
 * The whole backend, one instance. Three owners: the event loop's
 * thread, the worker, and what both touch under mtx.
 */
struct card_state {
	/* The event loop's own. */
	const struct keyd_backend_cb *cb;
	int			 efd;		/* the worker's news */
	struct event		 ev, ev_watch;
	pthread_t		 thread;
	int			 started;	/* worker running */
	int			 configured;	/* settings received */
	uint64_t		 last_refused_log;

	/* Shared, under mtx. */
	pthread_mutex_t		 mtx;
	pthread_cond_t		 cond;
	struct card_req		 q[CARD_QUEUE_MAX];
	int			 qhead, qcount;
	struct card_req		 inflight;
	int			 has_inflight, inflight_answered;
	uint64_t		 busy_since;	/* us, 0: not in card I/O */
	/*
	 * How long the running operation may take before the card counts
	 * as hung (card_watch); set with busy_since by card_busy(), from
	 * card_limit_ms().
	 */
	uint32_t		 busy_limit_ms;
	uint32_t		 verify_ms, decipher_ms, touch_ms; /* settings */
	int			 hung;
	uint64_t		 wait_since;	/* us, pcsc_begin waiting */
	int			 held_txn;	/* HELD by a transaction */
	uint8_t			 held_prev;	/* the state before it */
	char			 held_prev_reason[192];
	int			 exclusive;	/* Exclusive = yes */
	struct card_res		 done[CARD_DONE_MAX];
	int			 dhead, dcount;
	uint8_t			*pin;		/* KEY_PIN_MAX + 1, locked */
	size_t			 pin_len;	/* 0: no PIN */
	int			 pin_ok;	/* verified OK before */
	int			 pin_fresh;	/* from the user, not tried */
	int			 pin_gen;	/* bumped by card_set_pin */
	int			 pin_unlock;	/* from card unlock, not config */
	int			 verify_lost;	/* counter before a VERIFY whose
						 * answer never came, -1 none */
	int			 unlock_last_try; /* UnlockLastTry */
	uint64_t		 last_unlock;	/* us, last unlock PIN taken */
	int			 pin_res_pending, pin_res_status;
	int			 pin_res_retries;
	int			 ev_pub, ev_ready;
	struct key_card_status	 st;
	uint8_t			 expected[32];
	int			 has_expected;
	int			 has_configured_pub;	/* CardPublicKey */
	struct cardtool_sel	 sel;
	int			 quit;
	int			 reselect;	/* settings changed */
	uint8_t			 badpin[32];	/* keyed hash of a wrong PIN */
	int			 has_badpin;
	uint8_t			 badpin_key[crypto_generichash_KEYBYTES];
	/*
	 * PW1's maximum as read after a good VERIFY on the card with
	 * this serial (0: none read yet: CARD_PW1_MAX is assumed).
	 */
	int			 pw1_max_seen;
	uint32_t		 pw1_max_serial;

	/* Log lines that may repeat (log_repeat), flushed by card_watch. */
	struct log_repeat	 rep_hang, rep_touch, rep_backoff;

	/* The worker's own. */
	struct pcsc_conn	*conn;
	int			 verified;
	uint64_t		 last_keycheck;
	int			 fails;		/* in a row, see card_failed */
	uint64_t		 retry_at;	/* us: no new try before */
	uint32_t		 held_poll_ms;	/* back-off while HELD */
};

static struct card_state	card = {
	.efd = -1,
	.verify_lost = -1,
	.verify_ms = CARD_VERIFY_TIMEOUT_MS,
	.decipher_ms = CARD_DECIPHER_TIMEOUT_MS,
	.touch_ms = CARD_TOUCH_TIMEOUT_MS,
	.rep_hang = LOG_REPEAT_INITIALIZER,
	.rep_touch = LOG_REPEAT_INITIALIZER,
	.rep_backoff = LOG_REPEAT_INITIALIZER,
	.mtx = PTHREAD_MUTEX_INITIALIZER,
};

static void
card_notify(void)
{
	uint64_t	one = 1;

	if (write(card.efd, &one, sizeof(one)) == -1 && errno != EAGAIN)
		log_warn("%s: eventfd", __func__);
}

static const char *
card_state_name(int s)
{
	switch (s) {
	case KEY_CARD_ABSENT:
		return "absent";
	case KEY_CARD_LOCKED:
		return "locked";
	case KEY_CARD_READY:
		return "ready";
	case KEY_CARD_WRONG:
		return "wrong card";
	case KEY_CARD_BLOCKED:
		return "PIN blocked";
	case KEY_CARD_PIN_SUSPECT:
		return "pin-suspect";
	case KEY_CARD_NO_SERVICE:
		return "no pcscd";
	case KEY_CARD_HUNG:
		return "not answering";
	case KEY_CARD_ERROR:
		return "unusable";
	case KEY_CARD_HELD:
		return "held by another program";
	default:
		return "none";
	}
}

/* A state change as an audit event (the reason's quotes made single). */
static void
card_audit_state(int state, const char *reason)
{
	char	r[sizeof(card.st.reason)], name[32], *p;

	snprintf(r, sizeof(r), "%s", reason);
	for (p = r; *p; p++)
		if (*p == '"')
			*p = '\'';
	snprintf(name, sizeof(name), "%s", card_state_name(state));
	for (p = name; *p; p++)
		if (*p == ' ')
			*p = '-';
	log_audit(state == KEY_CARD_READY || state == KEY_CARD_LOCKED ||
	    state == KEY_CARD_ABSENT ? LOG_INFO : LOG_WARNING,
	    "op=card state=%s serial=%08X reason=\"%s\"", name,
	    card.st.serial, r);
}

/* With card.mtx held. Logs transitions only (the poll repeats). */
static void
card_set_state_locked(int state, const char *reason)
{
	if (card.st.state == state && strcmp(card.st.reason, reason) == 0)
		return;
	if (state == KEY_CARD_READY)
		log_info("card: ready (reader %s, serial %08X)",
		    card.st.reader, card.st.serial);
	else if (state == KEY_CARD_WRONG || state == KEY_CARD_BLOCKED ||
	    state == KEY_CARD_ERROR || state == KEY_CARD_HUNG ||
	    state == KEY_CARD_PIN_SUSPECT || state == KEY_CARD_HELD)
		log_warnx("card: %s: %s", card_state_name(state), reason);
	else
		log_info("card: %s: %s", card_state_name(state), reason);
	card.st.state = state;
	snprintf(card.st.reason, sizeof(card.st.reason), "%s", reason);
	card_audit_state(state, reason);
}

static void
card_set_state(int state, const char *reason)
{
	pthread_mutex_lock(&card.mtx);
	card_set_state_locked(state, reason);
	pthread_mutex_unlock(&card.mtx);
}

static int
card_state_errno(int state)
{
	switch (state) {
	case KEY_CARD_READY:
		return 0;
	case KEY_CARD_LOCKED:
	case KEY_CARD_PIN_SUSPECT:
		return -ENOLCK;
	case KEY_CARD_WRONG:
		return -EXDEV;
	case KEY_CARD_BLOCKED:
		return -EPERM;
	case KEY_CARD_NO_SERVICE:
		return -ESHUTDOWN;
	case KEY_CARD_HUNG:
		return -ETIMEDOUT;
	case KEY_CARD_ERROR:
		return -ENOKEY;
	case KEY_CARD_HELD:
		return -EBUSY;
	default:
		return -ENODEV;
	}
}

/* A state where a PIN is wanted (and card unlock may give one). */
static int
card_state_locked(int state)
{
	return state == KEY_CARD_LOCKED || state == KEY_CARD_PIN_SUSPECT;
}

/*
 * With card.mtx held: PW1's maximum retry count on the card in the
 * reader: what it said after a good VERIFY (the counter is then at its
 * maximum), else CARD_PW1_MAX, or the counter itself if it is higher
 * (no counter exceeds its card's maximum).
 */
static int
card_pw1_max_locked(void)
{
	int	max = CARD_PW1_MAX;

	if (card.pw1_max_seen > 0 && card.pw1_max_serial == card.st.serial)
		max = card.pw1_max_seen;
	else if (card.st.pw1_retries > max)
		max = card.st.pw1_retries;
	return max;
}

/*
 * With card.mtx held: a good VERIFY left the counter at retries, the
 * card's maximum; remembered for this card (said when it is news).
 */
static void
card_pw1_max_learn_locked(int retries)
{
	if (retries <= 0)
		return;
	if (card.pw1_max_serial == card.st.serial &&
	    card.pw1_max_seen == retries)
		return;
	if (retries != CARD_PW1_MAX || card.pw1_max_seen > 0)
		log_info("card: serial %08X allows %d PIN retries (the "
		    "counter after a good VERIFY)", card.st.serial, retries);
	card.pw1_max_seen = retries;
	card.pw1_max_serial = card.st.serial;
}

/* With card.mtx held: an answer for the event loop. */
static void
card_post_locked(const struct card_req *req, int status,
    const uint8_t out[32], uint32_t latency_us)
{
	struct card_res	*res;

	if (card.dcount == CARD_DONE_MAX) {
		/* Cannot happen: one answer per accepted request. */
		log_warnx("card: answer queue full; answer dropped");
		return;
	}
	res = &card.done[(card.dhead + card.dcount) % CARD_DONE_MAX];
	card.dcount++;
	memset(res, 0, sizeof(*res));
	res->id = req->id;
	res->status = status;
	if (status == 0 && out != NULL)
		memcpy(res->result, out, 32);
	res->latency_us = latency_us;
	memcpy(res->point, req->point, sizeof(res->point));
	memcpy(res->who, req->who, sizeof(res->who));
}

/* With card.mtx held: every queued request fails with status. */
static void
card_fail_queue_locked(int status)
{
	while (card.qcount > 0) {
		card_post_locked(&card.q[card.qhead], status, NULL, 0);
		sodium_memzero(&card.q[card.qhead], sizeof(card.q[0]));
		card.qhead = (card.qhead + 1) % CARD_QUEUE_MAX;
		card.qcount--;
	}
}

/* The bound of one card operation (CARD_OP_*), from the settings. */
#define CARD_OP_IO		0	/* SELECT, GET DATA, key read */
#define CARD_OP_VERIFY		1
#define CARD_OP_DECIPHER	2
#define CARD_OP_TOUCH		3	/* DECIPHER that waits for a touch */

static uint32_t
card_limit_ms(int op)
{
	uint32_t	ms;

	pthread_mutex_lock(&card.mtx);
	switch (op) {
	case CARD_OP_VERIFY:
		ms = card.verify_ms;
		break;
	case CARD_OP_DECIPHER:
		ms = card.decipher_ms;
		break;
	case CARD_OP_TOUCH:
		/* Never shorter than an untouched DECIPHER may take. */
		ms = card.touch_ms > card.decipher_ms ? card.touch_ms :
		    card.decipher_ms;
		break;
	default:
		ms = CARD_IO_TIMEOUT_MS;
		break;
	}
	pthread_mutex_unlock(&card.mtx);
	return ms;
}

/* Card I/O starts (limit_ms: how long it may take) or ends (0). */
static void
card_busy(uint32_t limit_ms)
{
	pthread_mutex_lock(&card.mtx);
	card.busy_since = limit_ms != 0 ? keyd_now_us() : 0;
	card.busy_limit_ms = limit_ms;
	card.wait_since = 0;
	if (limit_ms == 0 && card.held_txn) {
		/* The other program's transaction ended: as before it. */
		card.held_txn = 0;
		if (card.st.state == KEY_CARD_HELD) {
			log_info("card: the other program's transaction "
			    "ended");
			card_set_state_locked(card.held_prev,
			    card.held_prev_reason);
		}
	}
	pthread_mutex_unlock(&card.mtx);
}

/*
 * The card session failed (lost after it was opened, hung, forgot the
 * PIN): the next try waits, longer at each failure in a row, so a card
 * that answers every command with an error at once is not hammered.
 * Worker only.
 */
static void
card_failed(void)
{
	uint64_t	ms;

	if (card.fails < 16)
		card.fails++;
	ms = (uint64_t)CARD_POLL_MS << (card.fails - 1);
	if (ms > CARD_BACKOFF_MAX_MS)
		ms = CARD_BACKOFF_MAX_MS;
	card.retry_at = keyd_now_us() + ms * 1000;
	if (card.fails >= 3)
		log_repeat(&card.rep_backoff, LOG_ERR, "card: fails again "
		    "and again; backing off (at most one try every %u ms)",
		    CARD_BACKOFF_MAX_MS);
}

/* A DECIPHER answered, or no card at all: no back-off. Worker only. */
static void
card_failed_reset(void)
{
	card.fails = 0;
	card.retry_at = 0;
}

/* Worker only: ms to wait before the card may be tried again, or 0. */
static int
card_backoff_ms(void)
{
	uint64_t	now = keyd_now_us();

	if (card.retry_at <= now)
		return 0;
	return (int)((card.retry_at - now + 999) / 1000);
}

/*
 * After an operation: if it hung meanwhile, start over with a fresh
 * connection. 1 if that happened.
 */
static int
card_after_hang(void)
{
	int	was;

	pthread_mutex_lock(&card.mtx);
	was = card.hung;
	card.hung = 0;
	if (was)
		card_set_state_locked(KEY_CARD_ABSENT, "reconnecting after "
		    "the card stopped answering");
	pthread_mutex_unlock(&card.mtx);
	if (was) {
		log_repeat(&card.rep_hang, LOG_INFO, "card: answers again "
		    "after a hang; reconnecting");
		pcsc_close(card.conn);
		card.verified = 0;
		card_failed();
	}
	return was;
}

/* The card or pcscd went away (r: -ENODEV, -ESHUTDOWN, -EIO ...). */
static void
card_lost(int r)
{
	char	why[128];

	card.verified = 0;
	card_failed();
	if (r == -ESHUTDOWN) {
		pcsc_release(card.conn);
		card_set_state(KEY_CARD_NO_SERVICE, "PC/SC service went away; "
		    "reconnecting");
		return;
	}
	snprintf(why, sizeof(why), "%s (reader %s); waiting for it",
	    opgp_strerror(r), pcsc_reader(card.conn));
	pcsc_close_lost(card.conn);
	card_set_state(KEY_CARD_ABSENT, why);
}

/* The keyed hash that remembers a wrong PIN without keeping it. */
static void
card_pin_hash(const uint8_t *pin, size_t len, uint8_t out[static 32])
{
	crypto_generichash(out, 32, pin, len, card.badpin_key,
	    sizeof(card.badpin_key));
}

/*
 * In a transaction on the open card: is its decryption key still the
 * expected one? 1 yes, 0 no (pub has the card's), -errno cannot tell.
 * Another application (wgcardctl card init elsewhere, gpg --card-edit)
 * may generate a new key on a card we hold open, shared.
 */
static int
card_key_same(struct opgp_card *oc, uint8_t pub[static 32])
{
	int	r, same;

	if ((r = opgp_read_pubkey(oc, pub)) != 0)
		return r;
	pthread_mutex_lock(&card.mtx);
	same = !card.has_expected ||
	    sodium_memcmp(pub, card.expected, 32) == 0;
	pthread_mutex_unlock(&card.mtx);
	return same;
}

/*
 * The open card's key is no longer the expected one: refused as a
 * wrong card until it is removed or the settings change; nothing more
 * goes to it, the stored PIN least of all. Worker only.
 */
static void
card_key_replaced(const uint8_t pub[static 32])
{
	char	b64[WG_KEY_B64_LEN], why[sizeof(card.st.reason)];

	key_to_base64(b64, pub);
	pthread_mutex_lock(&card.mtx);
	card.verified = 0;
	snprintf(why, sizeof(why), "card %08X in reader %s now has public "
	    "key %s, not the expected one (its key was replaced): refused, "
	    "no PIN sent", card.st.serial, pcsc_reader(card.conn), b64);
	card_set_state_locked(KEY_CARD_WRONG, why);
	card_fail_queue_locked(-EXDEV);
	card_notify();
	pthread_mutex_unlock(&card.mtx);
	pcsc_reject_current(card.conn);
	pcsc_close(card.conn);
}

/*
 * The open card's OpenPGP application answered 6285: terminated (by
 * gpg --card-edit factory-reset, or TERMINATE DF). Unusable until
 * ACTIVATE: turned down until it is removed, so it is not polled and
 * SELECTed again and again. Worker only.
 */
static void
card_terminated(void)
{
	char	why[sizeof(card.st.reason)];

	snprintf(why, sizeof(why), "reader %s: %s", pcsc_reader(card.conn),
	    opgp_strerror(-ENOTRECOVERABLE));
	pthread_mutex_lock(&card.mtx);
	card.verified = 0;
	card_set_state_locked(KEY_CARD_ERROR, why);
	card_fail_queue_locked(-ENOTRECOVERABLE);
	card_notify();
	pthread_mutex_unlock(&card.mtx);
	pcsc_reject_current(card.conn);
	pcsc_close(card.conn);
}

/* With card.mtx held: the outcome of a PIN for the event loop. */
static void
card_pin_answer_locked(int status, int retries)
{
	card.pin_res_pending = 1;
	card.pin_res_status = status;
	card.pin_res_retries = retries;
	card_notify();
}

/*
 * In one transaction: is the key still the expected one (*same: 1 yes,
 * 0 no and pub has the card's, -errno cannot tell), then VERIFY PW1 and
 * the retry counter it left. left is the counter as last known: at 0
 * nothing is sent. The VERIFY's status, or -errno. Worker only.
 */
static int
card_verify_io(const uint8_t *pin, size_t len, int left, int *retries,
    int *same, uint8_t pub[static 32])
{
	struct opgp_card	oc = cardtool_card(card.conn);
	int			r;

	*same = 1;
	if (left == 0) {
		*retries = 0;
		return -EPERM;
	}
	card_busy(card_limit_ms(CARD_OP_VERIFY));
	if ((r = pcsc_begin(card.conn)) == 0) {
		if ((*same = card_key_same(&oc, pub)) < 0)
			r = *same;
		else if (*same)
			r = opgp_verify(&oc, 0x82, pin, len, retries);
		/* A good VERIFY resets the counter: read what it is. */
		if (*same > 0 && r == 0 &&
		    (*retries = opgp_read_pw1_retries(&oc)) < 0)
			*retries = -1;
		pcsc_end(card.conn);
	}
	card_busy(0);
	return r;
}

/* With card.mtx held: the stored PIN is wiped and forgotten. */
static void
card_pin_forget_locked(void)
{
	sodium_memzero(card.pin, KEY_PIN_MAX + 1);
	card.pin_len = 0;
	card.pin_ok = 0;
	card.pin_fresh = 0;
	card.pin_gen++;
}

/*
 * With card.mtx held: a PIN from card unlock meets a card with one retry
 * left and no UnlockLastTry: not sent, forgotten, answered -EDQUOT.
 */
static void
card_unlock_last_try_locked(void)
{
	card_pin_forget_locked();
	log_audit(LOG_WARNING, "op=verify backend=openpgp source=unlock "
	    "result=refused reason=last-retry retries_left=1");
	if (card_state_locked(card.st.state))
		card_set_state_locked(KEY_CARD_LOCKED, "one PIN retry left: "
		    "card unlock refused (UnlockLastTry = no); verify with "
		    "gpg --card-edit, or set UnlockLastTry = yes");
	card_pin_answer_locked(-EDQUOT, 1);
}

/*
 * With card.mtx held: the configuration's PIN, not yet verified here,
 * meets a card whose counter is below its maximum: someone failed
 * since the last good VERIFY (this PIN at an earlier start, perhaps), so
 * it is not sent automatically (each restart would spend a retry) but
 * forgotten, and the card waits for wgcardctl card unlock (a human).
 */
static void
card_pin_suspect_locked(int left, int max)
{
	char	why[sizeof(card.st.reason)];

	card_pin_forget_locked();
	log_audit(LOG_WARNING, "op=verify backend=openpgp source=configuration "
	    "result=refused reason=pin-suspect retries_left=%d "
	    "retries_max=%d", left, max);
	snprintf(why, sizeof(why), "configured PIN not sent: the retry "
	    "counter is %d of %d since the last good VERIFY (someone entered "
	    "a wrong PIN); run wgcardctl card unlock", left, max);
	card_set_state_locked(KEY_CARD_PIN_SUSPECT, why);
	card_pin_answer_locked(-ENOLCK, left);
}

/*
 * With card.mtx held: the card refused the PIN (r: -EACCES wrong,
 * -EPERM blocked, -EINVAL a length it refuses, -EBADMSG a form it
 * refuses (KDF), -ENOSYS a KDF we cannot do). It is never tried again:
 * forgotten, only a keyed hash of a wrong or refused one kept.
 */
static void
card_pin_refused_locked(int r, int retries)
{
	char	why[128];

	card.verified = 0;
	/* Never the same bytes again: a wrong PIN, or a wrong format. */
	if (r == -EACCES || r == -EBADMSG) {
		card_pin_hash(card.pin, card.pin_len, card.badpin);
		card.has_badpin = 1;
	}
	sodium_memzero(card.pin, KEY_PIN_MAX + 1);
	card.pin_len = 0;
	card.pin_ok = 0;
	card.pin_fresh = 0;
	if (retries >= 0)
		card.st.pw1_retries = (int8_t)retries;
	if (r == -EINVAL)
		snprintf(why, sizeof(why), "PIN of a length the card "
		    "refuses (%d to %d); not sent", OPGP_PIN_MIN,
		    OPGP_PIN_MAX);
	else if (r == -EBADMSG || r == -ENOSYS)
		snprintf(why, sizeof(why), "%s; PIN forgotten, not sent "
		    "again", opgp_strerror(r));
	else
		snprintf(why, sizeof(why), "wrong PIN, %d retries "
		    "left; PIN forgotten: run wgcardctl card unlock",
		    retries);
	log_audit(LOG_WARNING, "op=verify backend=openpgp result=%s "
	    "source=%s retries_left=%d", r == -EINVAL ? "refused" :
	    r == -EBADMSG ? "wrong-format" : r == -ENOSYS ? "kdf-unsupported" :
	    r == -EPERM ? "blocked" : "wrong-pin", card.pin_unlock ?
	    "unlock" : "configuration", retries);
	card_set_state_locked(r == -EPERM ? KEY_CARD_BLOCKED :
	    KEY_CARD_LOCKED, r == -EPERM ? "PIN blocked (retry "
	    "counter 0): reset it with the PUK or admin PIN" : why);
}

/*
 * VERIFY PW1 with the stored PIN, if the rules allow (see the top),
 * after checking that the card still has the expected key. Worker only.
 */
static void
card_verify(void)
{
	uint8_t	*pin, pub[32];
	size_t	 len;
	int	 fresh, gen, r, retries = -1, left, same, max;

	if ((pin = sodium_malloc(KEY_PIN_MAX + 1)) == NULL) {
		log_warnx("card: sodium_malloc failed");
		return;
	}
	pthread_mutex_lock(&card.mtx);
	len = card.pin_len;
	memcpy(pin, card.pin, len);
	fresh = card.pin_fresh;
	gen = card.pin_gen;
	left = card.st.pw1_retries;
	if (fresh && card.verify_lost > 0 && left >= 0 &&
	    left < card.verify_lost) {
		/*
		 * The last VERIFY of this PIN got no answer, and the counter
		 * (read when the card was opened again) dropped since: it
		 * was wrong. Never resent (docs/devices.md item 4).
		 */
		card.verify_lost = -1;
		log_audit(LOG_WARNING, "op=verify backend=openpgp result=lost "
		    "reason=counter-dropped retries_left=%d", left);
		card_pin_refused_locked(-EACCES, left);
		card_pin_answer_locked(-EACCES, left);
		pthread_mutex_unlock(&card.mtx);
		sodium_free(pin);
		return;
	}
	card.verify_lost = -1;
	if (fresh && card.pin_unlock && left == 1 && !card.unlock_last_try) {
		/* Kept when the card was away; now it has one retry left. */
		card_unlock_last_try_locked();
		pthread_mutex_unlock(&card.mtx);
		sodium_free(pin);
		return;
	}
	max = card_pw1_max_locked();
	if (fresh && !card.pin_unlock && left >= 0 && left < max) {
		card_pin_suspect_locked(left, max);
		pthread_mutex_unlock(&card.mtx);
		sodium_free(pin);
		return;
	}
	pthread_mutex_unlock(&card.mtx);

	r = card_verify_io(pin, len, left, &retries, &same, pub);
	sodium_free(pin);
	if (card_after_hang()) {
		/* No answer: the counter tells, once the card is back. */
		pthread_mutex_lock(&card.mtx);
		if (fresh && gen == card.pin_gen)
			card.verify_lost = left;
		pthread_mutex_unlock(&card.mtx);
		return;
	}
	if (same == 0) {
		card_key_replaced(pub);
		pthread_mutex_lock(&card.mtx);
		if (fresh && gen == card.pin_gen) {
			card.pin_fresh = 0;
			card_pin_answer_locked(-EXDEV, -1);
		}
		pthread_mutex_unlock(&card.mtx);
		return;
	}

	pthread_mutex_lock(&card.mtx);
	if (gen != card.pin_gen) {
		/* A new PIN came meanwhile; this result is for the old. */
		if (r == 0)
			card.verified = 1;
		pthread_mutex_unlock(&card.mtx);
		return;
	}
	if (r == 0) {
		card.verified = 1;
		card.pin_ok = 1;
		card.pin_fresh = 0;
		card.st.pw1_retries = (int8_t)retries;
		card_pw1_max_learn_locked(retries);
		card.has_badpin = 0;
		log_audit(LOG_INFO, "op=verify backend=openpgp result=ok "
		    "pin=%s source=%s retries_left=%d", fresh ? "new" :
		    "stored", card.pin_unlock ? "unlock" : "configuration",
		    retries);
		card_set_state_locked(KEY_CARD_READY, "PIN verified");
		card.ev_ready = 1;
	} else if (r == -EACCES || r == -EPERM || r == -EINVAL ||
	    r == -EBADMSG || r == -ENOSYS)
		card_pin_refused_locked(r, retries);
	else if (r == -ENOTRECOVERABLE) {
		pthread_mutex_unlock(&card.mtx);
		card_terminated();
		pthread_mutex_lock(&card.mtx);
	} else {
		/* The card went away mid-VERIFY: the PIN stays as it was. */
		card.verify_lost = fresh ? left : -1;
		pthread_mutex_unlock(&card.mtx);
		card_lost(r);
		pthread_mutex_lock(&card.mtx);
	}
	if (fresh)
		card_pin_answer_locked(r, retries);
	else if (card.ev_ready)
		card_notify();
	pthread_mutex_unlock(&card.mtx);
}

/* With card.mtx held: which card is in the reader (for status, audit). */
static void
card_set_card_locked(const struct opgp_info *info)
{
	snprintf(card.st.reader, sizeof(card.st.reader), "%s",
	    pcsc_reader(card.conn));
	card.st.serial = info->serial;
	card.st.manufacturer = info->manufacturer;
	card.st.pw1_retries = (int8_t)info->pw1_retries;
}

/*
 * The open card is an OpenPGP card with a cv25519 decryption key pub:
 * taken if that is the expected key (or the first seen), else refused
 * as a wrong card until it is removed. Worker only.
 */
static void
card_take(const struct opgp_info *info, const uint8_t pub[static 32],
    const struct opgp_touch *touch)
{
	char	why[sizeof(card.st.reason)], b64[WG_KEY_B64_LEN];
	int	expected_ok;

	key_to_base64(b64, pub);
	pthread_mutex_lock(&card.mtx);
	expected_ok = !card.has_expected ||
	    sodium_memcmp(pub, card.expected, 32) == 0;
	if (!expected_ok) {
		snprintf(why, sizeof(why), "card %08X in reader %s has public "
		    "key %s, not the expected one: refused", info->serial,
		    pcsc_reader(card.conn), b64);
		card_set_card_locked(info);
		card_set_state_locked(KEY_CARD_WRONG, why);
		pthread_mutex_unlock(&card.mtx);
		pcsc_reject_current(card.conn);
		pcsc_close(card.conn);
		return;
	}
	if (!card.has_expected) {
		memcpy(card.expected, pub, 32);
		card.has_expected = 1;
		card.ev_pub = 1;
	}
	card_set_card_locked(info);
	memcpy(card.st.pub, pub, 32);
	card.st.has_pub = 1;
	memcpy(card.st.fpr, info->dec_fpr, sizeof(card.st.fpr));
	card.st.touch = *touch;
	log_info("card: serial %08X in reader %s, public key %s, PIN retries "
	    "left %d", info->serial, card.st.reader, b64, info->pw1_retries);
	if (opgp_uif_on(touch->uif[OPGP_UIF_DEC]))
		log_info("card: touch policy for decryption %s: every "
		    "handshake waits for a touch of the token (at most %u ms, "
		    "TouchTimeout)", opgp_uif_name(touch->uif[OPGP_UIF_DEC]),
		    card.touch_ms);
	card.verified = 0;
	if (info->pw1_retries == 0)
		card_set_state_locked(KEY_CARD_BLOCKED, "PIN blocked (retry "
		    "counter 0)");
	else
		card_set_state_locked(KEY_CARD_LOCKED, card.pin_len > 0 ?
		    "verifying the PIN" : "no PIN: run wgcardctl card unlock");
	card_notify();
	pthread_mutex_unlock(&card.mtx);
}

/*
 * No card to take but one another PC/SC client holds (a sharing
 * violation; pcsc_open's why names the reader): HELD, said with what
 * frees it, looked at again after 250 ms, doubling up to
 * CARD_HELD_POLL_MAX_MS (a failed connect costs the card nothing).
 * Worker only.
 */
static void
card_held(const char *why)
{
	char	msg[PCSC_READER_MAX + 256];	/* cut to the reason's size */

	card.held_poll_ms = card.held_poll_ms == 0 ? CARD_POLL_MS :
	    card.held_poll_ms * 2;
	if (card.held_poll_ms > CARD_HELD_POLL_MAX_MS)
		card.held_poll_ms = CARD_HELD_POLL_MAX_MS;
	card.retry_at = keyd_now_us() + card.held_poll_ms * 1000ULL;
	pthread_mutex_lock(&card.mtx);
	if (card.exclusive)
		snprintf(msg, sizeof(msg), "%s; Exclusive = yes waits for "
		    "every other program to let go (gpgconf --kill "
		    "scdaemon)", why);
	else
		snprintf(msg, sizeof(msg), "%s (scdaemon? pcsc-shared and "
		    "disable-ccid in scdaemon.conf, or gpgconf --kill "
		    "scdaemon)", why);
	card_set_state_locked(KEY_CARD_HELD, msg);
	pthread_mutex_unlock(&card.mtx);
}

/* Finds, opens and checks the card. Worker only. */
static void
card_connect(void)
{
	struct opgp_info	info;
	struct opgp_card	oc;
	struct opgp_touch	touch;
	uint8_t			pub[32];
	char			why[sizeof(card.st.reason)];
	int			r, tr = 0;

	card_busy(CARD_IO_TIMEOUT_MS);
	r = cardtool_open(card.conn, &card.sel, &info, why, sizeof(why));
	card_busy(0);
	if (card_after_hang())
		return;
	if (r == -ESHUTDOWN) {
		pcsc_release(card.conn);
		card_set_state(KEY_CARD_NO_SERVICE, why);
		return;
	}
	if (r == -EXDEV)
		return;		/* only cards we turned down: keep saying why */
	if (r == -ENOTRECOVERABLE) {
		card_set_state(KEY_CARD_ERROR, why);	/* 6285 */
		return;
	}
	if (r == -EBUSY) {
		card_held(why);
		return;
	}
	card.held_poll_ms = 0;
	if (r == -EAGAIN) {
		/* Our card, still in, answers with an error: back off. */
		card_failed();
		card_set_state(KEY_CARD_ABSENT, why);
		return;
	}
	if (r != 0) {
		card_failed_reset();	/* not there: no loop to slow */
		card_set_state(KEY_CARD_ABSENT, why);
		return;
	}
	oc = cardtool_card(card.conn);
	card_busy(CARD_IO_TIMEOUT_MS);
	if ((r = pcsc_begin(card.conn)) == 0) {
		r = opgp_read_pubkey(&oc, pub);
		tr = opgp_read_touch(&oc, &touch);
		pcsc_end(card.conn);
	}
	card_busy(0);
	if (card_after_hang())
		return;
	if (r == -ENODEV || r == -ESHUTDOWN || r == -EIO || r == -ECONNRESET) {
		card_lost(r);
		return;
	}
	if (r == 0 && tr != 0) {
		card_lost(tr == -ESHUTDOWN ? tr : -ENODEV);
		return;
	}
	if (r != 0 || !info.is_cv25519) {
		snprintf(why, sizeof(why), "card %08X in reader %s: the "
		    "decryption key is not cv25519 (%s): run wgcardctl card "
		    "init", info.serial, pcsc_reader(card.conn),
		    r ? opgp_strerror(r) : "other algorithm");
		pcsc_reject_current(card.conn);
		pcsc_close(card.conn);
		card_set_state(KEY_CARD_ERROR, why);
		return;
	}
	card_take(&info, pub, &touch);
}

/*
 * Does this DECIPHER wait for a touch (UIF for decryption on)? Then the
 * user is told, once for this operation: the token blinks, and nothing
 * else says why the handshake waits. Worker only.
 */
static int
card_touch_wait(const struct card_req *req)
{
	int		on;
	uint32_t	ms;

	pthread_mutex_lock(&card.mtx);
	on = opgp_uif_on(card.st.touch.uif[OPGP_UIF_DEC]);
	pthread_mutex_unlock(&card.mtx);
	if (on) {
		ms = card_limit_ms(CARD_OP_TOUCH);
		log_info("card: touch the token to complete the handshake "
		    "(peer %s; waiting up to %u.%u s)", req->who[0] ?
		    req->who : "unknown", ms / 1000, ms % 1000 / 100);
	}
	return on;
}

/*
 * A DECIPHER that waited for a touch has its answer (r): 6985 is the
 * token giving up (YubiKey: after 15 s), a failed handshake, not a
 * lost card: -ETIME. Worker only.
 */
static int
card_touch_done(int r, uint64_t t0)
{
	uint64_t	ms = (keyd_now_us() - t0) / 1000;

	if (r == 0)
		log_debug("card: touched after %llu ms",
		    (unsigned long long)ms);
	else if (r == -EOPNOTSUPP) {
		r = -ETIME;
		log_repeat(&card.rep_touch, LOG_ERR, "card: not touched in "
		    "time (the token gave up): the handshake failed, the card "
		    "stays ready");
		log_debug("card: the token gave up after %llu ms",
		    (unsigned long long)ms);
	}
	return r;
}

/*
 * An answer that says another program came between us and the card:
 * it selected another application (6D00, 6E00: -EOPNOTSUPP with 6985;
 * 6A82: -ENOENT; 6A88: -ENOKEY) or the PIN state is gone (6982:
 * -EACCES), or it reset the card (-ECONNRESET).
 */
static int
card_foreign(int r)
{
	return r == -EOPNOTSUPP || r == -ENOENT || r == -ENOKEY ||
	    r == -EACCES || r == -ECONNRESET;
}

/*
 * The card answered card_foreign(cause) to a command that worked
 * before (after: "decipher", "check"). SCardReconnect if it was reset,
 * then in one transaction SELECT OpenPGP, the key check and, when the
 * stored PIN proved good in this card session, VERIFY with it (a
 * SELECT ends the PIN state on some cards, and another application did
 * on all). One try, audited (op=card-reselect). 0: the card is ours
 * again (card.verified says whether the PIN is verified); else -errno
 * and the card took the path of a lost, replaced, terminated or
 * refusing one. Worker only.
 */
static int
card_recover(int cause, const char *after)
{
	struct opgp_card	 oc = cardtool_card(card.conn);
	uint8_t			*pin = NULL, pub[32];
	size_t			 len = 0;
	uint64_t		 t0 = keyd_now_us(), dt;
	int			 r = 0, same = 1, retries = -1, gen, step = 0;
	const char		*res;

	pthread_mutex_lock(&card.mtx);
	card.verified = 0;
	gen = card.pin_gen;
	if (card.pin_ok && card.pin_len > 0 &&
	    (pin = sodium_malloc(KEY_PIN_MAX + 1)) != NULL) {
		len = card.pin_len;
		memcpy(pin, card.pin, len);
	}
	pthread_mutex_unlock(&card.mtx);

	card_busy(card_limit_ms(CARD_OP_VERIFY));
	if (cause == -ECONNRESET)
		r = pcsc_reconnect(card.conn);
	if (r == 0 && (r = pcsc_begin(card.conn)) == 0) {
		step = 1;
		if ((r = opgp_select(&oc)) == 0) {
			step = 2;
			if ((same = card_key_same(&oc, pub)) < 0)
				r = same;
		}
		if (r == 0 && same && pin != NULL) {
			step = 3;
			r = opgp_verify(&oc, 0x82, pin, len, &retries);
			if (r == 0 &&
			    (retries = opgp_read_pw1_retries(&oc)) < 0)
				retries = -1;
		}
		pcsc_end(card.conn);
	}
	card_busy(0);
	if (pin != NULL)
		sodium_free(pin);
	dt = keyd_now_us() - t0;
	if (card_after_hang())
		r = -ETIMEDOUT;
	res = r == -ETIMEDOUT ? "timeout" : same == 0 ? "wrong-card" :
	    r != 0 ? "failed" : step == 3 ? "ok" : "ok-locked";
	log_audit(r == 0 ? LOG_INFO : LOG_WARNING, "op=card-reselect "
	    "after=%s cause=\"%s\" result=%s%s%s%s retries_left=%d "
	    "latency_ms=%u.%03u", after, opgp_strerror(cause), res,
	    r != 0 ? " error=\"" : "", r != 0 ? opgp_strerror(r) : "",
	    r != 0 ? "\"" : "", retries, (unsigned)(dt / 1000),
	    (unsigned)(dt % 1000));
	if (r == -ETIMEDOUT)
		return r;		/* card_after_hang reconnects */
	if (same == 0) {
		card_key_replaced(pub);
		return -EXDEV;
	}
	if (r == -ENOTRECOVERABLE) {
		card_terminated();
		return r;
	}
	pthread_mutex_lock(&card.mtx);
	if (r == 0 && step == 3) {
		card.verified = 1;
		if (retries >= 0)
			card.st.pw1_retries = (int8_t)retries;
		log_info("card: another program used the card (%s); "
		    "OpenPGP selected and the PIN verified again",
		    opgp_strerror(cause));
		card_set_state_locked(KEY_CARD_READY, "PIN verified");
	} else if (r == 0) {
		if (card.st.state == KEY_CARD_READY)
			card_set_state_locked(KEY_CARD_LOCKED, "another "
			    "program used the card and its PIN state is gone; "
			    "no PIN kept: run wgcardctl card unlock");
	} else if (step == 3 && gen == card.pin_gen && (r == -EACCES ||
	    r == -EPERM || r == -EINVAL || r == -EBADMSG || r == -ENOSYS)) {
		/* The PIN that was good is refused (changed meanwhile?). */
		card_pin_refused_locked(r, retries);
		r = -ENOLCK;
	} else {
		pthread_mutex_unlock(&card.mtx);
		/* No second try: the lost card's path, with its back-off. */
		card_lost(r);
		return r;
	}
	card_notify();
	pthread_mutex_unlock(&card.mtx);
	return r;
}

/*
 * One PSO:DECIPHER in its own transaction; touch: it waits for the
 * user's touch (card_touch_wait said so). Worker only.
 */
static int
card_decipher_io(const uint8_t point[static 32], uint8_t out[static 32],
    int touch, uint64_t t0)
{
	struct opgp_card	oc = cardtool_card(card.conn);
	int			r;

	card_busy(card_limit_ms(touch ? CARD_OP_TOUCH : CARD_OP_DECIPHER));
	if ((r = pcsc_begin(card.conn)) == 0) {
		r = opgp_decipher(&oc, point, out);
		pcsc_end(card.conn);
	}
	card_busy(0);
	if (touch)
		r = card_touch_done(r, t0);
	return r;
}

/*
 * One X25519 on the card; after another program came in between
 * (card_foreign), the card is recovered and the request retried once.
 * Worker only.
 */
static void
card_dh(struct card_req *req)
{
	uint8_t			out[32];
	uint64_t		t0 = keyd_now_us();
	int			r, lost = 0, touch;

	memset(out, 0, sizeof(out));
	if (!pcsc_is_open(card.conn))
		r = -ENODEV;
	else if (!card.verified)
		r = -ENOLCK;
	else if (t0 - req->t_submit > CARD_STALE_MS * 1000ULL)
		r = -ESTALE;	/* the peer retransmitted meanwhile */
	else {
		touch = card_touch_wait(req);
		r = card_decipher_io(req->point, out, touch, t0);
		if (card_foreign(r) && !card_after_hang()) {
			if ((r = card_recover(r, "decipher")) == 0) {
				if (!card.verified)
					r = -ENOLCK;
				else if (card_foreign(r = card_decipher_io(
				    req->point, out, touch, t0)))
					lost = 1;	/* not twice */
			} else
				lost = -1;	/* card_recover saw to it */
		}
		if (lost == -1)
			lost = 0;
		else if (r == -ENODEV || r == -ESHUTDOWN || r == -EIO)
			lost = 1;
		else if (r == -ENOTRECOVERABLE)
			lost = 2;	/* 6285: terminated */
		if (r == 0)
			card_failed_reset();
	}
	pthread_mutex_lock(&card.mtx);
	if (!card.inflight_answered)
		card_post_locked(req, r, out, (uint32_t)(keyd_now_us() - t0));
	card.has_inflight = 0;
	sodium_memzero(&card.inflight, sizeof(card.inflight));
	card_notify();
	pthread_mutex_unlock(&card.mtx);
	sodium_memzero(out, sizeof(out));
	if (card_after_hang())
		return;
	if (lost == 2)
		card_terminated();
	else if (lost)
		card_lost(r);
}

/*
 * Is the card still there, and (every CARD_KEYCHECK_MS) still with the
 * expected key? Worker only, when idle.
 */
static void
card_check(void)
{
	struct opgp_card	 oc = cardtool_card(card.conn);
	uint8_t			 pub[32];
	uint64_t		 now = keyd_now_us();
	int			 r, same = 1;

	card_busy(CARD_IO_TIMEOUT_MS);
	r = pcsc_check(card.conn);
	if (r == 0 && now - card.last_keycheck >= CARD_KEYCHECK_MS * 1000ULL &&
	    pcsc_begin(card.conn) == 0) {
		/* Busy elsewhere (a transaction): asked next time. */
		card.last_keycheck = now;
		same = card_key_same(&oc, pub);
		pcsc_end(card.conn);
		/*
		 * Only a lost or reset card counts; an odd answer is asked
		 * again (another application selected: put right by the
		 * next request, so as not to cut in on the other program).
		 */
		if (same == -ENODEV || same == -ESHUTDOWN || same == -EIO ||
		    same == -ECONNRESET)
			r = same;
	}
	card_busy(0);
	if (card_after_hang())
		return;
	if (same == 0)
		card_key_replaced(pub);
	else if (same == -ENOTRECOVERABLE)
		card_terminated();
	else if (r == -ECONNRESET)
		/* Reset by another client: ours again at once. */
		(void)card_recover(r, "check");
	else if (r != 0)
		card_lost(r);
}

static void
card_timedwait_locked(int ms)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_nsec += (long)ms * 1000000L;
	ts.tv_sec += ts.tv_nsec / 1000000000L;
	ts.tv_nsec %= 1000000000L;
	pthread_cond_timedwait(&card.cond, &card.mtx, &ts);
}

/*
 * The card session ends by our choice (stop, new settings): VERIFY FF 82
 * resets PW1, so that no other PC/SC client of a card shared with us
 * may DECIPHER on the PIN we verified. Worker only.
 */
static void
card_release(void)
{
	struct opgp_card	oc;
	int			r;

	if (!card.verified || !pcsc_is_open(card.conn))
		return;
	oc = cardtool_card(card.conn);
	card_busy(card_limit_ms(CARD_OP_VERIFY));
	if ((r = pcsc_begin(card.conn)) == 0) {
		r = opgp_reset_verify(&oc, 0x82);
		pcsc_end(card.conn);
	}
	card_busy(0);
	pthread_mutex_lock(&card.mtx);
	card.verified = 0;
	pthread_mutex_unlock(&card.mtx);
	if (r == 0)
		log_info("card: PIN state reset on release (VERIFY FF 82)");
	else
		log_warnx("card: PIN state reset on release refused: %s; it "
		    "ends when the card is reset or removed", opgp_strerror(r));
}

static void *
card_worker(void *arg)
{
	struct card_req	req;
	int		open, need_verify, wait, excl;

	pthread_mutex_lock(&card.mtx);
	while (!card.quit) {
		if (card.reselect) {
			card.reselect = 0;
			pthread_mutex_unlock(&card.mtx);
			card_release();
			pcsc_close(card.conn);
			pcsc_forget_rejects(card.conn);
			card_failed_reset();
			pthread_mutex_lock(&card.mtx);
			continue;
		}
		excl = card.exclusive;
		pthread_mutex_unlock(&card.mtx);
		open = pcsc_is_open(card.conn);
		wait = card_backoff_ms();
		if (!open && wait == 0) {
			pcsc_set_exclusive(card.conn, excl);
			card_connect();
			open = pcsc_is_open(card.conn);
			wait = card_backoff_ms();
		}
		pthread_mutex_lock(&card.mtx);
		if (card.quit)
			break;
		if (!open) {
			/* Whatever slipped in before the state changed. */
			card_fail_queue_locked(card_state_errno(card.st.state));
			if (card.dcount > 0)
				card_notify();
			card_timedwait_locked(wait > CARD_POLL_MS ? wait :
			    CARD_POLL_MS);
			continue;
		}
		need_verify = card.pin_len > 0 &&
		    card.st.state != KEY_CARD_BLOCKED &&
		    (card.pin_fresh || (!card.verified && card.pin_ok));
		if (need_verify && wait > 0) {
			/* Requests wait (and go stale) meanwhile. */
			card_timedwait_locked(wait);
			continue;
		}
		if (need_verify) {
			pthread_mutex_unlock(&card.mtx);
			card_verify();
			pthread_mutex_lock(&card.mtx);
			continue;
		}
		if (card.qcount > 0) {
			req = card.q[card.qhead];
			sodium_memzero(&card.q[card.qhead], sizeof(req));
			card.qhead = (card.qhead + 1) % CARD_QUEUE_MAX;
			card.qcount--;
			card.inflight = req;
			card.has_inflight = 1;
			card.inflight_answered = 0;
			pthread_mutex_unlock(&card.mtx);
			card_dh(&req);
			sodium_memzero(&req, sizeof(req));
			pthread_mutex_lock(&card.mtx);
			continue;
		}
		card_timedwait_locked(CARD_POLL_MS);
		if (card.qcount == 0 && !card.quit &&
		    !(card.pin_len > 0 && card.pin_fresh)) {
			pthread_mutex_unlock(&card.mtx);
			card_check();
			pthread_mutex_lock(&card.mtx);
		}
	}
	pthread_mutex_unlock(&card.mtx);
	card_release();
	return NULL;
}

/* The event loop's side. */

/* The backend's audit hook (the point is a public value, unused). */
static void
card_audit_dh(const char *who, const uint8_t *point, int status,
    uint32_t latency_us, int refused)
{
	char	hex[65];

	/*
	 * Each record names the point it was asked for (public: the peer's
	 * ephemeral key, on the wire in its message), so that no sender can
	 * make one operation pass for another; the peer tag is what the
	 * handshake process said.
	 */
	if (point != NULL)
		sodium_bin2hex(hex, sizeof(hex), point, 32);
	else
		strlcpy(hex, "unknown", sizeof(hex));
	if (refused)
		log_audit(LOG_INFO, "op=ecdh backend=openpgp point=%s peer=%s "
		    "result=refused error=\"small-order or non-canonical "
		    "point\"", hex, who);
	else if (status == 0)
		log_audit(LOG_INFO, "op=ecdh backend=openpgp point=%s peer=%s "
		    "result=ok latency_ms=%u.%03u", hex, who,
		    latency_us / 1000, latency_us % 1000);
	else
		log_audit(LOG_INFO, "op=ecdh backend=openpgp point=%s peer=%s "
		    "result=%s error=\"%s\" latency_ms=%u.%03u", hex, who,
		    status == -ETIMEDOUT ? "timeout" : "error",
		    opgp_strerror(status), latency_us / 1000,
		    latency_us % 1000);
}

static void
card_event(int fd, short event, void *arg)
{
	struct card_res	res[CARD_DONE_MAX];
	uint64_t	v;
	int		n = 0, i, ev_pub, ev_ready, pin_res, pin_status;
	int		pin_retries;

	if (read(card.efd, &v, sizeof(v)) == -1 && errno != EAGAIN)
		log_warn("%s: eventfd", __func__);
	pthread_mutex_lock(&card.mtx);
	while (card.dcount > 0) {
		res[n++] = card.done[card.dhead];
		sodium_memzero(&card.done[card.dhead], sizeof(res[0]));
		card.dhead = (card.dhead + 1) % CARD_DONE_MAX;
		card.dcount--;
	}
	ev_pub = card.ev_pub;
	ev_ready = card.ev_ready;
	pin_res = card.pin_res_pending;
	pin_status = card.pin_res_status;
	pin_retries = card.pin_res_retries;
	card.ev_pub = card.ev_ready = card.pin_res_pending = 0;
	for (i = 0; i < n; i++) {
		card.st.ops++;
		if (res[i].status != 0)
			card.st.errors++;
		if (res[i].status == 0 || res[i].latency_us != 0)
			card.st.last_latency_us = res[i].latency_us;
	}
	pthread_mutex_unlock(&card.mtx);

	if (ev_pub)
		card.cb->key_changed();
	for (i = 0; i < n; i++)
		card.cb->dh_done(res[i].id, res[i].status, res[i].result,
		    res[i].point, res[i].latency_us, res[i].who);
	if (pin_res)
		card.cb->pin_result(pin_status, pin_retries);
	if (ev_ready)
		card.cb->ready();
	sodium_memzero(res, sizeof(res));
}

/* Every CARD_POLL_MS: has the worker been in card I/O for too long? */
static void
card_watch(int fd, short event, void *arg)
{
	struct timeval	tv = { 0, CARD_POLL_MS * 1000 };
	uint64_t	now = keyd_now_us();
	int		notify = 0;
	char		why[128];

	pthread_mutex_lock(&card.mtx);
	if (card.busy_since != 0 && !card.hung && card.conn != NULL &&
	    pcsc_waiting(card.conn)) {
		/*
		 * Waiting for another client's transaction: not a hang (the
		 * card's own clock starts when the transaction is ours), but
		 * held by that client once it lasts.
		 */
		if (card.wait_since == 0)
			card.wait_since = now;
		else if (now - card.wait_since > CARD_HELD_MS * 1000ULL &&
		    !card.held_txn) {
			card.held_txn = 1;
			card.held_prev = card.st.state;
			snprintf(card.held_prev_reason,
			    sizeof(card.held_prev_reason), "%s",
			    card.st.reason);
			snprintf(why, sizeof(why), "another program holds a "
			    "PC/SC transaction on the card; requests fail "
			    "until it ends");
			card_set_state_locked(KEY_CARD_HELD, why);
			if (card.has_inflight && !card.inflight_answered) {
				card_post_locked(&card.inflight, -EBUSY, NULL,
				    0);
				card.inflight_answered = 1;
			}
			card_fail_queue_locked(-EBUSY);
			notify = 1;
		}
		card.busy_since = now;
	} else if (card.busy_since != 0 && !card.hung &&
	    now - card.busy_since > card.busy_limit_ms * 1000ULL) {
		card.hung = 1;
		snprintf(why, sizeof(why), "no answer from the card within "
		    "%u ms; requests fail until it answers",
		    card.busy_limit_ms);
		card_set_state_locked(KEY_CARD_HUNG, why);
		if (card.has_inflight && !card.inflight_answered) {
			card_post_locked(&card.inflight, -ETIMEDOUT, NULL,
			    (uint32_t)(now - card.busy_since));
			card.inflight_answered = 1;
		}
		card_fail_queue_locked(-ETIMEDOUT);
		notify = 1;
	}
	pthread_mutex_unlock(&card.mtx);
	if (notify)
		card_notify();
	log_repeat_flush(&card.rep_hang);
	log_repeat_flush(&card.rep_touch);
	log_repeat_flush(&card.rep_backoff);
	evtimer_add(&card.ev_watch, &tv);
}

/* With card.mtx held: does cfg select the card as the settings do? */
static int
card_same_selection_locked(const struct key_card_config *cfg)
{
	return strncmp(cfg->reader, card.sel.reader,
	    sizeof(card.sel.reader)) == 0 &&
	    (cfg->has_serial != 0) == (card.sel.has_serial != 0) &&
	    cfg->serial == card.sel.serial &&
	    (cfg->has_pub != 0) == (card.has_configured_pub != 0) &&
	    (!cfg->has_pub || sodium_memcmp(cfg->pub, card.expected,
	    32) == 0) && (cfg->exclusive != 0) == (card.exclusive != 0);
}

/* The settings (IMSG_KEY_CARD_CONFIG): 1 the first time, else 0. */
static int
card_configure(const struct key_card_config *cfg)
{
	struct key_card_status	old;
	int			again, other, first = !card.configured;

	card.configured = 1;
	pthread_mutex_lock(&card.mtx);
	card.unlock_last_try = cfg->unlock_last_try != 0;
	card.verify_ms = cfg->verify_timeout_ms != 0 ?
	    cfg->verify_timeout_ms : CARD_VERIFY_TIMEOUT_MS;
	card.decipher_ms = cfg->decipher_timeout_ms != 0 ?
	    cfg->decipher_timeout_ms : CARD_DECIPHER_TIMEOUT_MS;
	card.touch_ms = cfg->touch_timeout_ms != 0 ?
	    cfg->touch_timeout_ms : CARD_TOUCH_TIMEOUT_MS;
	if (!first && card_same_selection_locked(cfg)) {
		/* Only the PIN policy or a bound: the card session stays. */
		pthread_mutex_unlock(&card.mtx);
		return 0;
	}
	again = card.started;
	other = !cfg->has_pub && (card.has_configured_pub ||
	    cfg->has_serial != card.sel.has_serial ||
	    cfg->serial != card.sel.serial ||
	    strncmp(cfg->reader, card.sel.reader, sizeof(card.sel.reader)));
	memset(&card.sel, 0, sizeof(card.sel));
	memcpy(card.sel.reader, cfg->reader, sizeof(card.sel.reader));
	card.sel.reader[sizeof(card.sel.reader) - 1] = '\0';
	card.sel.has_serial = cfg->has_serial;
	card.sel.serial = cfg->serial;
	card.exclusive = cfg->exclusive != 0;
	if (cfg->has_pub) {
		memcpy(card.expected, cfg->pub, 32);
		card.has_expected = 1;
	} else if (other) {
		/* Another card may be meant: its key is learned anew. */
		sodium_memzero(card.expected, sizeof(card.expected));
		card.has_expected = 0;
	}
	card.has_configured_pub = cfg->has_pub != 0;
	old = card.st;
	memset(&card.st, 0, sizeof(card.st));
	card.st.state = KEY_CARD_ABSENT;
	card.st.pw1_retries = -1;
	snprintf(card.st.reason, sizeof(card.st.reason), "starting");
	if (again) {
		/*
		 * A new card session under the new rules: the counters go
		 * on, the PIN is forgotten (the configuration's comes next,
		 * or wgcardctl card unlock), the worker looks anew.
		 */
		card.st.ops = old.ops;
		card.st.errors = old.errors;
		card.st.last_latency_us = old.last_latency_us;
		snprintf(card.st.reason, sizeof(card.st.reason), "card "
		    "settings changed; looking for the card");
		sodium_memzero(card.pin, KEY_PIN_MAX + 1);
		card.pin_len = 0;
		card.pin_ok = 0;
		card.pin_fresh = 0;
		card.pin_gen++;
		card.has_badpin = 0;
		card.reselect = 1;
		pthread_cond_signal(&card.cond);
	}
	pthread_mutex_unlock(&card.mtx);
	return first;
}

/*
 * Before the sandbox: an eventfd for the worker's news, locked memory
 * for the PIN, the PC/SC connection object.
 */
static void
card_init(const struct keyd_backend_cb *cbs)
{
	pthread_condattr_t	attr;
	struct timeval		tv = { 0, CARD_POLL_MS * 1000 };

	card.cb = cbs;
	if ((card.pin = sodium_malloc(KEY_PIN_MAX + 1)) == NULL)
		fatal("sodium_malloc");
	sodium_memzero(card.pin, KEY_PIN_MAX + 1);
	randombytes_buf(card.badpin_key, sizeof(card.badpin_key));
	if ((card.conn = pcsc_new()) == NULL)
		fatal("calloc");
	if (pthread_condattr_init(&attr) != 0 ||
	    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) != 0 ||
	    pthread_cond_init(&card.cond, &attr) != 0)
		fatalx("pthread_cond_init");
	pthread_condattr_destroy(&attr);
	if ((card.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1)
		fatal("eventfd");
	event_set(&card.ev, card.efd, EV_READ | EV_PERSIST, card_event, NULL);
	event_add(&card.ev, NULL);
	evtimer_set(&card.ev_watch, card_watch, NULL);
	evtimer_add(&card.ev_watch, &tv);
}

/* After the sandbox and the first settings: starts the worker. */
static void
card_start(void)
{
	if (pthread_create(&card.thread, NULL, card_worker, NULL) != 0)
		fatalx("cannot start the card worker thread");
	card.started = 1;
}

/* Stops the worker (not waiting for a hung one) and wipes the PIN. */
static void
card_stop(void)
{
	struct timespec	ts;
	int		stuck;

	pthread_mutex_lock(&card.mtx);
	card.quit = 1;
	stuck = card.busy_since != 0;
	pthread_cond_broadcast(&card.cond);
	pthread_mutex_unlock(&card.mtx);
	if (card.started && !stuck) {
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 2;
		if (pthread_timedjoin_np(card.thread, NULL, &ts) == 0) {
			card.started = 0;
			pcsc_free(card.conn);
			card.conn = NULL;
		}
	}
	pthread_mutex_lock(&card.mtx);
	if (card.pin != NULL) {
		sodium_memzero(card.pin, KEY_PIN_MAX + 1);
		card.pin_len = 0;
	}
	pthread_mutex_unlock(&card.mtx);
}

/*
 * The dh hook: queues X25519(card key, point) for the worker (out is
 * not used: the answer comes through dh_done).
 */
static int
card_dh_submit(uint64_t id, const uint8_t point[static 32], const char *who,
    uint8_t out[static 32])
{
	struct card_req	*req;
	uint64_t	 now;
	int		 r;

	pthread_mutex_lock(&card.mtx);
	if (card.hung)
		r = -ETIMEDOUT;
	else if ((r = card_state_errno(card.st.state)) == 0 &&
	    card.qcount == CARD_QUEUE_MAX)
		r = -EAGAIN;
	if (r == 0) {
		req = &card.q[(card.qhead + card.qcount) % CARD_QUEUE_MAX];
		card.qcount++;
		memset(req, 0, sizeof(*req));
		req->id = id;
		memcpy(req->point, point, 32);
		snprintf(req->who, sizeof(req->who), "%s", who);
		req->t_submit = keyd_now_us();
		pthread_cond_signal(&card.cond);
	}
	pthread_mutex_unlock(&card.mtx);
	if (r != 0 && r != -EAGAIN) {
		now = keyd_now_us();
		/* Said once a second at most: a peer may keep trying. */
		if (now - card.last_refused_log > 1000000) {
			card.last_refused_log = now;
			if (r == -ENOLCK)
				log_audit(LOG_WARNING, "op=ecdh backend=openpgp "
				    "peer=%s result=refused error=\"card "
				    "locked: run wgcardctl card unlock\"", who);
			else
				log_audit(LOG_WARNING, "op=ecdh backend=openpgp "
				    "peer=%s result=refused error=\"%s\"", who,
				    opgp_strerror(r));
		}
	}
	return r;
}

/*
 * With card.mtx held: may a PIN from card unlock (from: the channel)
 * go on towards the card? 0 yes, else refused (audited): -EAGAIN sooner
 * than CARD_UNLOCK_INTERVAL_MS after the last one taken, -EDQUOT one
 * retry left without UnlockLastTry.
 */
static int
card_unlock_allowed_locked(const char *from)
{
	uint64_t	 now = keyd_now_us();
	const char	*why;
	int		 r;

	if (card.last_unlock != 0 &&
	    now - card.last_unlock < CARD_UNLOCK_INTERVAL_MS * 1000ULL) {
		why = "rate-limited";
		r = -EAGAIN;
	} else if (card.st.pw1_retries == 1 && !card.unlock_last_try &&
	    card_state_locked(card.st.state)) {
		why = "last-retry";
		r = -EDQUOT;
	} else {
		card.last_unlock = now;
		log_audit(LOG_INFO, "op=pin from=%s source=unlock "
		    "result=taken retries_left=%d", from,
		    card.st.pw1_retries);
		return 0;
	}
	log_audit(LOG_WARNING, "op=pin from=%s source=unlock result=refused "
	    "reason=%s retries_left=%d", from, why, card.st.pw1_retries);
	return r;
}

/*
 * A PIN from the user (copied into locked memory); from: the channel of
 * a PIN from card unlock, NULL for the configuration's.
 */
static void
card_set_pin(const uint8_t *pin, size_t len, const char *from)
{
	int	same, r = 0;

	pthread_mutex_lock(&card.mtx);
	if (len < OPGP_PIN_MIN || len > KEY_PIN_MAX) {
		/* Sent to no card: it would count as a wrong PIN. */
		r = -EINVAL;
		goto result;
	}
	same = card.pin_len == len && sodium_memcmp(card.pin, pin, len) == 0;
	if (same && card.st.state == KEY_CARD_READY) {
		/* Verified already: nothing to spend. */
		r = 0;
		goto result;
	}
	if (card.has_badpin) {
		uint8_t	h[32];
		int	bad;

		card_pin_hash(pin, len, h);
		bad = sodium_memcmp(h, card.badpin, sizeof(h)) == 0;
		sodium_memzero(h, sizeof(h));
		if (bad) {
			/* The card said no to this one: not sent again. */
			log_audit(LOG_WARNING, "op=verify backend=openpgp "
			    "result=refused reason=known-wrong-pin");
			r = -EALREADY;
			goto result;
		}
	}
	if (from != NULL && (r = card_unlock_allowed_locked(from)) != 0)
		goto result;
	sodium_memzero(card.pin, KEY_PIN_MAX + 1);
	memcpy(card.pin, pin, len);
	card.pin_len = len;
	card.pin_ok = 0;
	card.pin_fresh = 1;
	card.pin_gen++;
	card.pin_unlock = from != NULL;
	if (!same)
		card.verify_lost = -1;	/* that was another PIN's */
	if (card.st.state == KEY_CARD_BLOCKED) {
		r = -EPERM;
		card.pin_fresh = 0;
		goto result;
	}
	if (!card_state_locked(card.st.state) &&
	    card.st.state != KEY_CARD_READY) {
		/* Kept; tried when the (right) card comes. */
		r = card.st.state == KEY_CARD_WRONG ? -EXDEV : -ENODEV;
		goto result;
	}
	/* The worker verifies it now, then answers. */
	pthread_cond_signal(&card.cond);
	pthread_mutex_unlock(&card.mtx);
	/* A verified card session ends with a new PIN: verify it. */
	return;
 result:
	card_pin_answer_locked(r, card.st.pw1_retries);
	pthread_mutex_unlock(&card.mtx);
}

/*
 * The configuration's PIN (start, reload): as card_set_pin, except that
 * a card already open is left alone (its session stays; no VERIFY).
 */
static void
card_offer_pin(const uint8_t *pin, size_t len)
{
	pthread_mutex_lock(&card.mtx);
	if (card.st.state == KEY_CARD_READY && !card.hung) {
		/* The card is open: nothing is spent on it. */
		card_pin_answer_locked(0, card.st.pw1_retries);
		pthread_mutex_unlock(&card.mtx);
		log_info("card: ready already; the configured PIN is not sent");
		return;
	}
	pthread_mutex_unlock(&card.mtx);
	card_set_pin(pin, len, NULL);
}

/*
 * A PIN from the handshake process (wgcardctl card unlock; from: the
 * channel): as card_set_pin, but a ready card is not touched, and see
 * card_unlock_allowed_locked.
 */
static void
card_unlock_pin(const uint8_t *pin, size_t len, const char *from)
{
	pthread_mutex_lock(&card.mtx);
	if (card.st.state == KEY_CARD_READY && !card.hung) {
		/* Verified: nothing to spend, whatever this PIN is. */
		log_audit(LOG_INFO, "op=pin from=%s source=unlock result=ok "
		    "reason=ready retries_left=%d", from,
		    card.st.pw1_retries);
		card_pin_answer_locked(0, card.st.pw1_retries);
		pthread_mutex_unlock(&card.mtx);
		return;
	}
	pthread_mutex_unlock(&card.mtx);
	card_set_pin(pin, len, from);
}

static int
card_public_key(uint8_t pub[static 32])
{
	int	has;

	pthread_mutex_lock(&card.mtx);
	has = card.has_expected;
	if (has)
		memcpy(pub, card.expected, 32);
	pthread_mutex_unlock(&card.mtx);
	return has;
}

/*
 * The touch line of card status: "decrypt on (fixed)", "decrypt off",
 * or "no button" when the token says neither.
 */
static void
card_touch_text(const struct opgp_touch *t, char *out, size_t len)
{
	if (t->uif[OPGP_UIF_DEC] == OPGP_UIF_NONE)
		snprintf(out, len, "%s", t->button ? "decrypt none (button, "
		    "no UIF)" : "no button");
	else
		snprintf(out, len, "decrypt %s",
		    opgp_uif_name(t->uif[OPGP_UIF_DEC]));
}

/* wgcardctl card status. */
static void
card_status(struct key_status *ks)
{
	struct key_card_status	st;
	size_t			i;

	strlcpy(ks->backend, "openpgp", sizeof(ks->backend));
	if (!card.configured) {
		ks->state = KEY_STATE_NOKEY;
		return;
	}
	pthread_mutex_lock(&card.mtx);
	st = card.st;
	st.queued = (uint32_t)(card.qcount + card.has_inflight);
	if (card.hung)
		st.state = KEY_CARD_HUNG;
	if (!st.has_pub && card.has_expected) {
		memcpy(st.pub, card.expected, 32);
		st.has_pub = 1;
	}
	st.pw1_max = st.pw1_retries >= 0 ? (int8_t)card_pw1_max_locked() : -1;
	pthread_mutex_unlock(&card.mtx);
	switch (st.state) {
	case KEY_CARD_READY:
		ks->state = KEY_STATE_READY;
		break;
	case KEY_CARD_LOCKED:
		ks->state = KEY_STATE_LOCKED;
		break;
	case KEY_CARD_PIN_SUSPECT:
		ks->state = KEY_STATE_PIN_SUSPECT;
		break;
	case KEY_CARD_BLOCKED:
		ks->state = KEY_STATE_BLOCKED;
		break;
	case KEY_CARD_WRONG:
		ks->state = KEY_STATE_WRONG_CARD;
		break;
	case KEY_CARD_HELD:
		ks->state = KEY_STATE_HELD;
		break;
	default:
		ks->state = KEY_STATE_ABSENT;
		break;
	}
	strlcpy(ks->reader, st.reader, sizeof(ks->reader));
	if (st.serial != 0)
		snprintf(ks->serial, sizeof(ks->serial), "%08X", st.serial);
	if (!sodium_is_zero(st.fpr, sizeof(st.fpr)))
		for (i = 0; i < sizeof(st.fpr); i++)
			snprintf(ks->fingerprint + 2 * i, 3, "%02X",
			    st.fpr[i]);
	ks->has_pub = st.has_pub;
	memcpy(ks->pub, st.pub, sizeof(ks->pub));
	ks->pin_retries = st.pw1_retries;
	ks->pin_retries_max = st.pw1_max;
	strlcpy(ks->reason, st.reason, sizeof(ks->reason));
	ks->queued = st.queued;
	if (st.state != KEY_CARD_NONE && st.has_pub)
		card_touch_text(&st.touch, ks->touch, sizeof(ks->touch));
}

/*
 * The longest a request may wait for its answer: CARD_STALE_MS in the
 * queue, then the bound of a DECIPHER (a touch's when the card has a
 * policy on); after that the watchdog answers it.
 */
static uint32_t
card_answer_ms(void)
{
	int	touch;

	pthread_mutex_lock(&card.mtx);
	touch = opgp_uif_on(card.st.touch.uif[OPGP_UIF_DEC]);
	pthread_mutex_unlock(&card.mtx);
	return CARD_STALE_MS + card_limit_ms(touch ? CARD_OP_TOUCH :
	    CARD_OP_DECIPHER);
}

/* Requests queued or running now. */
static uint32_t
card_queued(void)
{
	uint32_t	n;

	pthread_mutex_lock(&card.mtx);
	n = (uint32_t)(card.qcount + card.has_inflight);
	pthread_mutex_unlock(&card.mtx);
	return n;
}

/* The pin hook: taken once the settings are there. */
static int
card_pin_submit(const uint8_t *pin, size_t len, int offer, const char *from)
{
	if (!card.configured)
		return -EOPNOTSUPP;
	if (offer) {
		log_audit(LOG_INFO, "op=pin from=%s source=configuration",
		    from);
		card_offer_pin(pin, len);
	} else
		card_unlock_pin(pin, len, from);
	return 0;
}

/*
 * The chroot: the directory of pcscd's socket, so that pcsclite can
 * connect to it after the privilege drop; pcsclite is then pointed at
 * the socket's path inside the chroot. pcscd removes and creates the
 * socket file when it restarts (and systemd's pcscd.socket does the
 * same), but never the directory, so a restarted pcscd is reached
 * through the same chroot. Nothing else is in that directory but
 * pcscd's pid file (root's, read-only to us).
 */
static const char *
card_chroot(void)
{
	static char	 dir[PATH_MAX];
	const char	*sock;
	char		 tmp[PATH_MAX], base[PATH_MAX], env[PATH_MAX + 2];

	if ((sock = getenv("PCSCLITE_CSOCK_NAME")) == NULL || *sock != '/')
		sock = CARD_PCSC_SOCK;
	if (strlcpy(tmp, sock, sizeof(tmp)) >= sizeof(tmp))
		fatalx("PCSCLITE_CSOCK_NAME too long");
	strlcpy(dir, dirname(tmp), sizeof(dir));
	strlcpy(tmp, sock, sizeof(tmp));
	strlcpy(base, basename(tmp), sizeof(base));
	snprintf(env, sizeof(env), "/%s", base);
	if (setenv("PCSCLITE_CSOCK_NAME", env, 1) == -1)
		fatal("setenv");
	log_debug("card backend: chroot %s, pcscd socket %s", dir, env);
	return dir;
}

const struct keyd_backend keyd_backend_openpgp = {
	.name = "openpgp",
	.async = 1,
	.chroot = card_chroot,
	.sandbox = sandbox_keyd_card,
	.init = card_init,
	.configure = card_configure,
	.start = card_start,
	.stop = card_stop,
	.set_key = NULL,		/* the key is the card's */
	.public_key = card_public_key,
	.dh = card_dh_submit,
	.pin = card_pin_submit,
	.status = card_status,
	.queued = card_queued,
	.answer_ms = card_answer_ms,
	.capacity = CARD_QUEUE_MAX,
	.audit_dh = card_audit_dh,
};
