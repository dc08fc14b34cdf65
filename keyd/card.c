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
 *		    beside it do not change that (pcsc_open: -EXDEV). The
 *		    key is read again every CARD_KEYCHECK_MS while idle and
 *		    before every VERIFY: a card whose key was replaced while
 *		    open becomes WRONG and never gets the stored PIN.
 *	LOCKED      the right card, no PIN verified: DH requests fail at
 *		    once with -ENOLCK ("card locked: run wgcardctl card
 *		    unlock").
 *	BLOCKED     PW1's retry counter is zero: nothing is ever tried.
 *	READY       PIN verified in this card session: requests go to the
 *		    card, one PSO:DECIPHER each.
 *	HUNG        an operation has not returned for CARD_TIMEOUT_MS:
 *		    the request fails with -ETIMEDOUT, new ones fail at once.
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
 * Settings (reader, serial, expected key) may change while running
 * (wgcardctl reload): the worker then closes the card session, forgets
 * the cards it turned down and looks again with the new rules.
 */
#include <sys/eventfd.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event.h>
#include <sodium.h>

#include "card.h"
#include "crypto.h"
#include "encoding.h"
#include "log.h"
#include "openpgp.h"
#include "pcsc.h"

#define CARD_DONE_MAX	(CARD_QUEUE_MAX * 2 + 2)

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
	uint32_t	latency_us;
	char		who[16];
};

static pthread_mutex_t	 card_mtx = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t	 card_cond;
static pthread_t	 card_thread;
static int		 card_thread_started;
static int		 card_efd = -1;
static struct event	 card_ev, card_ev_watch;
static const struct card_cb *card_cbs;

/* Shared, under card_mtx. */
static struct card_req	 card_q[CARD_QUEUE_MAX];
static int		 card_qhead, card_qcount;
static struct card_req	 card_inflight;
static int		 card_has_inflight, card_inflight_answered;
static uint64_t		 card_busy_since;	/* us, 0: not in card I/O */
static int		 card_hung;
static struct card_res	 card_done[CARD_DONE_MAX];
static int		 card_dhead, card_dcount;
static uint8_t		*card_pin;		/* KEY_PIN_MAX + 1, locked */
static size_t		 card_pin_len;		/* 0: no PIN */
static int		 card_pin_ok;		/* verified OK before */
static int		 card_pin_fresh;	/* from the user, not tried */
static int		 card_pin_gen;		/* bumped by card_set_pin */
static int		 card_pin_res_pending, card_pin_res_status;
static int		 card_pin_res_retries;
static int		 card_ev_pub, card_ev_ready;
static struct key_card_status card_st;
static uint8_t		 card_expected[32];
static int		 card_has_expected;
static int		 card_has_configured_pub;	/* CardPublicKey */
static struct pcsc_sel	 card_sel;
static int		 card_quit;
static int		 card_reselect;		/* settings changed */
static uint8_t		 card_badpin[32];	/* keyed hash of a wrong PIN */
static int		 card_has_badpin;
static uint8_t		 card_badpin_key[crypto_generichash_KEYBYTES];
static uint64_t		 card_last_locked_log;

/* The worker's own. */
static struct pcsc_conn	*card_conn;
static int		 card_verified;

static uint64_t
card_now_us(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void
card_notify(void)
{
	uint64_t	one = 1;

	if (write(card_efd, &one, sizeof(one)) == -1 && errno != EAGAIN)
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
	case KEY_CARD_NO_SERVICE:
		return "no pcscd";
	case KEY_CARD_HUNG:
		return "not answering";
	case KEY_CARD_ERROR:
		return "unusable";
	default:
		return "none";
	}
}

/* A state change as an audit event (the reason's quotes made single). */
static void
card_audit_state(int state, const char *reason)
{
	char	r[sizeof(card_st.reason)], name[32], *p;

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
	    card_st.serial, r);
}

/* With card_mtx held. Logs transitions only (the poll repeats). */
static void
card_set_state_locked(int state, const char *reason)
{
	if (card_st.state == state && strcmp(card_st.reason, reason) == 0)
		return;
	if (state == KEY_CARD_READY)
		log_info("card: ready (reader %s, serial %08X)",
		    card_st.reader, card_st.serial);
	else if (state == KEY_CARD_WRONG || state == KEY_CARD_BLOCKED ||
	    state == KEY_CARD_ERROR || state == KEY_CARD_HUNG)
		log_warnx("card: %s: %s", card_state_name(state), reason);
	else
		log_info("card: %s: %s", card_state_name(state), reason);
	card_st.state = state;
	snprintf(card_st.reason, sizeof(card_st.reason), "%s", reason);
	card_audit_state(state, reason);
}

static void
card_set_state(int state, const char *reason)
{
	pthread_mutex_lock(&card_mtx);
	card_set_state_locked(state, reason);
	pthread_mutex_unlock(&card_mtx);
}

static int
card_state_errno(int state)
{
	switch (state) {
	case KEY_CARD_READY:
		return 0;
	case KEY_CARD_LOCKED:
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
	default:
		return -ENODEV;
	}
}

/* With card_mtx held: an answer for the event loop. */
static void
card_post_locked(const struct card_req *req, int status,
    const uint8_t out[32], uint32_t latency_us)
{
	struct card_res	*res;

	if (card_dcount == CARD_DONE_MAX) {
		/* Cannot happen: one answer per accepted request. */
		log_warnx("card: answer queue full; answer dropped");
		return;
	}
	res = &card_done[(card_dhead + card_dcount) % CARD_DONE_MAX];
	card_dcount++;
	memset(res, 0, sizeof(*res));
	res->id = req->id;
	res->status = status;
	if (status == 0 && out != NULL)
		memcpy(res->result, out, 32);
	res->latency_us = latency_us;
	memcpy(res->who, req->who, sizeof(res->who));
}

/* With card_mtx held: every queued request fails with status. */
static void
card_fail_queue_locked(int status)
{
	while (card_qcount > 0) {
		card_post_locked(&card_q[card_qhead], status, NULL, 0);
		sodium_memzero(&card_q[card_qhead], sizeof(card_q[0]));
		card_qhead = (card_qhead + 1) % CARD_QUEUE_MAX;
		card_qcount--;
	}
}

static void
card_busy(int on)
{
	pthread_mutex_lock(&card_mtx);
	card_busy_since = on ? card_now_us() : 0;
	pthread_mutex_unlock(&card_mtx);
}

/*
 * After an operation: if it hung meanwhile, start over with a fresh
 * connection. 1 if that happened.
 */
static int
card_after_hang(void)
{
	int	was;

	pthread_mutex_lock(&card_mtx);
	was = card_hung;
	card_hung = 0;
	if (was)
		card_set_state_locked(KEY_CARD_ABSENT, "reconnecting after "
		    "the card stopped answering");
	pthread_mutex_unlock(&card_mtx);
	if (was) {
		log_info("card: answers again after a hang; reconnecting");
		pcsc_close(card_conn);
		card_verified = 0;
	}
	return was;
}

/* The card or pcscd went away (r: -ENODEV, -ESHUTDOWN, -EIO ...). */
static void
card_lost(int r)
{
	char	why[128];

	card_verified = 0;
	if (r == -ESHUTDOWN) {
		pcsc_release(card_conn);
		card_set_state(KEY_CARD_NO_SERVICE, "PC/SC service went away; "
		    "reconnecting");
		return;
	}
	snprintf(why, sizeof(why), "%s (reader %s); waiting for it",
	    opgp_strerror(r), pcsc_reader(card_conn));
	pcsc_close(card_conn);
	card_set_state(KEY_CARD_ABSENT, why);
}

/* The keyed hash that remembers a wrong PIN without keeping it. */
static void
card_pin_hash(const uint8_t *pin, size_t len, uint8_t out[static 32])
{
	crypto_generichash(out, 32, pin, len, card_badpin_key,
	    sizeof(card_badpin_key));
}

/*
 * In a transaction on the open card: is its decryption key still the
 * expected one? 1 yes, 0 no (pub has the card's), -errno cannot tell.
 * Another application (wgcardctl card init elsewhere, gpg --card-edit)
 * may generate a new key on a card we hold open, shared.
 */
static int
card_key_same(struct opgp_card *card, uint8_t pub[static 32])
{
	int	r, same;

	if ((r = opgp_read_pubkey(card, pub)) != 0)
		return r;
	pthread_mutex_lock(&card_mtx);
	same = !card_has_expected ||
	    sodium_memcmp(pub, card_expected, 32) == 0;
	pthread_mutex_unlock(&card_mtx);
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
	char	b64[WG_KEY_B64_LEN], why[sizeof(card_st.reason)];

	key_to_base64(b64, pub);
	pthread_mutex_lock(&card_mtx);
	card_verified = 0;
	snprintf(why, sizeof(why), "card %08X in reader %s now has public "
	    "key %s, not the expected one (its key was replaced): refused, "
	    "no PIN sent", card_st.serial, pcsc_reader(card_conn), b64);
	card_set_state_locked(KEY_CARD_WRONG, why);
	card_fail_queue_locked(-EXDEV);
	card_notify();
	pthread_mutex_unlock(&card_mtx);
	pcsc_reject_current(card_conn);
	pcsc_close(card_conn);
}

/*
 * VERIFY PW1 with the stored PIN, if the rules allow (see the top),
 * after checking that the card still has the expected key. Worker only.
 */
static void
card_verify(void)
{
	struct opgp_card	 card = pcsc_card(card_conn);
	uint8_t			*pin, pub[32];
	size_t			 len;
	int			 fresh, gen, r, retries = -1, left, same = 1;
	char			 why[128];

	if ((pin = sodium_malloc(KEY_PIN_MAX + 1)) == NULL) {
		log_warnx("card: sodium_malloc failed");
		return;
	}
	pthread_mutex_lock(&card_mtx);
	len = card_pin_len;
	memcpy(pin, card_pin, len);
	fresh = card_pin_fresh;
	gen = card_pin_gen;
	left = card_st.pw1_retries;
	pthread_mutex_unlock(&card_mtx);

	if (left == 0) {
		r = -EPERM;
		retries = 0;
	} else {
		card_busy(1);
		if ((r = pcsc_begin(card_conn)) == 0) {
			if ((same = card_key_same(&card, pub)) < 0)
				r = same;
			else if (same)
				r = opgp_verify(&card, 0x82, pin, len,
				    &retries);
			/* A good VERIFY resets the counter: read what it is. */
			if (same > 0 && r == 0 &&
			    (retries = opgp_read_pw1_retries(&card)) < 0)
				retries = -1;
			pcsc_end(card_conn);
		}
		card_busy(0);
	}
	sodium_free(pin);
	if (card_after_hang())
		return;
	if (same == 0) {
		card_key_replaced(pub);
		pthread_mutex_lock(&card_mtx);
		if (fresh && gen == card_pin_gen) {
			card_pin_fresh = 0;
			card_pin_res_pending = 1;
			card_pin_res_status = -EXDEV;
			card_pin_res_retries = -1;
			card_notify();
		}
		pthread_mutex_unlock(&card_mtx);
		return;
	}

	pthread_mutex_lock(&card_mtx);
	if (gen != card_pin_gen) {
		/* A new PIN came meanwhile; this result is for the old. */
		if (r == 0)
			card_verified = 1;
		pthread_mutex_unlock(&card_mtx);
		return;
	}
	if (r == 0) {
		card_verified = 1;
		card_pin_ok = 1;
		card_pin_fresh = 0;
		card_st.pw1_retries = (int8_t)retries;
		card_has_badpin = 0;
		log_audit(LOG_INFO, "op=verify backend=openpgp result=ok "
		    "pin=%s retries_left=%d", fresh ? "new" : "stored",
		    retries);
		card_set_state_locked(KEY_CARD_READY, "PIN verified");
		card_ev_ready = 1;
	} else if (r == -EACCES || r == -EPERM || r == -EINVAL) {
		/* Never again with this PIN. */
		card_verified = 0;
		if (r == -EACCES) {
			card_pin_hash(card_pin, card_pin_len, card_badpin);
			card_has_badpin = 1;
		}
		sodium_memzero(card_pin, KEY_PIN_MAX + 1);
		card_pin_len = 0;
		card_pin_ok = 0;
		card_pin_fresh = 0;
		if (retries >= 0)
			card_st.pw1_retries = (int8_t)retries;
		if (r == -EINVAL)
			snprintf(why, sizeof(why), "PIN of a length the card "
			    "refuses (%d to %d); not sent", OPGP_PIN_MIN,
			    OPGP_PIN_MAX);
		else
			snprintf(why, sizeof(why), "wrong PIN, %d retries "
			    "left; PIN forgotten: run wgcardctl card unlock",
			    retries);
		log_audit(LOG_WARNING, "op=verify backend=openpgp result=%s "
		    "retries_left=%d", r == -EINVAL ? "refused" :
		    r == -EPERM ? "blocked" : "wrong-pin", retries);
		card_set_state_locked(r == -EPERM ? KEY_CARD_BLOCKED :
		    KEY_CARD_LOCKED, r == -EPERM ? "PIN blocked (retry "
		    "counter 0): reset it with the PUK or admin PIN" : why);
	} else {
		/* The card went away mid-VERIFY: the PIN stays as it was. */
		pthread_mutex_unlock(&card_mtx);
		card_lost(r);
		pthread_mutex_lock(&card_mtx);
	}
	if (fresh) {
		card_pin_res_pending = 1;
		card_pin_res_status = r;
		card_pin_res_retries = retries;
		card_notify();
	} else if (card_ev_ready)
		card_notify();
	pthread_mutex_unlock(&card_mtx);
}

/* With card_mtx held: which card is in the reader (for status, audit). */
static void
card_set_card_locked(const struct opgp_info *info)
{
	snprintf(card_st.reader, sizeof(card_st.reader), "%s",
	    pcsc_reader(card_conn));
	card_st.serial = info->serial;
	card_st.manufacturer = info->manufacturer;
	card_st.pw1_retries = (int8_t)info->pw1_retries;
}

/* Finds, opens and checks the card. Worker only. */
static void
card_connect(void)
{
	struct opgp_info	info;
	struct opgp_card	card;
	uint8_t			pub[32];
	char			why[sizeof(card_st.reason)], b64[WG_KEY_B64_LEN];
	int			r, expected_ok;

	card_busy(1);
	r = pcsc_open(card_conn, &card_sel, &info, why, sizeof(why));
	card_busy(0);
	if (card_after_hang())
		return;
	if (r == -ESHUTDOWN) {
		pcsc_release(card_conn);
		card_set_state(KEY_CARD_NO_SERVICE, why);
		return;
	}
	if (r == -EXDEV)
		return;		/* only cards we turned down: keep saying why */
	if (r != 0) {
		card_set_state(KEY_CARD_ABSENT, why);
		return;
	}
	card = pcsc_card(card_conn);
	card_busy(1);
	if ((r = pcsc_begin(card_conn)) == 0) {
		r = opgp_read_pubkey(&card, pub);
		pcsc_end(card_conn);
	}
	card_busy(0);
	if (card_after_hang())
		return;
	if (r == -ENODEV || r == -ESHUTDOWN || r == -EIO) {
		card_lost(r);
		return;
	}
	if (r != 0 || !info.is_cv25519) {
		snprintf(why, sizeof(why), "card %08X in reader %s: the "
		    "decryption key is not cv25519 (%s): run wgcardctl card "
		    "init", info.serial, pcsc_reader(card_conn),
		    r ? opgp_strerror(r) : "other algorithm");
		pcsc_reject_current(card_conn);
		pcsc_close(card_conn);
		card_set_state(KEY_CARD_ERROR, why);
		return;
	}
	key_to_base64(b64, pub);
	pthread_mutex_lock(&card_mtx);
	expected_ok = !card_has_expected ||
	    sodium_memcmp(pub, card_expected, 32) == 0;
	if (!expected_ok) {
		snprintf(why, sizeof(why), "card %08X in reader %s has public "
		    "key %s, not the expected one: refused", info.serial,
		    pcsc_reader(card_conn), b64);
		card_set_card_locked(&info);
		card_set_state_locked(KEY_CARD_WRONG, why);
		pthread_mutex_unlock(&card_mtx);
		pcsc_reject_current(card_conn);
		pcsc_close(card_conn);
		return;
	}
	if (!card_has_expected) {
		memcpy(card_expected, pub, 32);
		card_has_expected = 1;
		card_ev_pub = 1;
	}
	card_set_card_locked(&info);
	memcpy(card_st.pub, pub, 32);
	card_st.has_pub = 1;
	memcpy(card_st.fpr, info.dec_fpr, sizeof(card_st.fpr));
	log_info("card: serial %08X in reader %s, public key %s, PIN retries "
	    "left %d", info.serial, card_st.reader, b64, info.pw1_retries);
	card_verified = 0;
	if (info.pw1_retries == 0)
		card_set_state_locked(KEY_CARD_BLOCKED, "PIN blocked (retry "
		    "counter 0)");
	else
		card_set_state_locked(KEY_CARD_LOCKED, card_pin_len > 0 ?
		    "verifying the PIN" : "no PIN: run wgcardctl card unlock");
	card_notify();
	pthread_mutex_unlock(&card_mtx);
}

/* One X25519 on the card. Worker only. */
static void
card_dh(struct card_req *req)
{
	struct opgp_card	card = pcsc_card(card_conn);
	uint8_t			out[32];
	uint64_t		t0 = card_now_us();
	int			r, lost = 0;

	memset(out, 0, sizeof(out));
	if (!pcsc_is_open(card_conn))
		r = -ENODEV;
	else if (!card_verified)
		r = -ENOLCK;
	else {
		card_busy(1);
		if ((r = pcsc_begin(card_conn)) == 0) {
			r = opgp_decipher(&card, req->point, out);
			pcsc_end(card_conn);
		}
		card_busy(0);
		if (r == -ENODEV || r == -ESHUTDOWN || r == -EIO)
			lost = 1;
		else if (r == -EACCES) {
			/*
			 * Security status lost (another application reset
			 * the card): a new card session. The stored PIN was
			 * good, so verify it once more; this request fails.
			 */
			card_verified = 0;
			card_set_state(KEY_CARD_LOCKED, "the card forgot the "
			    "PIN (reset by another application?)");
		}
	}
	pthread_mutex_lock(&card_mtx);
	if (!card_inflight_answered)
		card_post_locked(req, r, out, (uint32_t)(card_now_us() - t0));
	card_has_inflight = 0;
	sodium_memzero(&card_inflight, sizeof(card_inflight));
	card_notify();
	pthread_mutex_unlock(&card_mtx);
	sodium_memzero(out, sizeof(out));
	if (card_after_hang())
		return;
	if (lost)
		card_lost(r);
}

/*
 * Is the card still there, and (every CARD_KEYCHECK_MS) still with the
 * expected key? Worker only, when idle.
 */
static void
card_check(void)
{
	static uint64_t		 last_keycheck;
	struct opgp_card	 card = pcsc_card(card_conn);
	uint8_t			 pub[32];
	uint64_t		 now = card_now_us();
	int			 r, same = 1;

	card_busy(1);
	r = pcsc_check(card_conn);
	if (r == 0 && now - last_keycheck >= CARD_KEYCHECK_MS * 1000ULL &&
	    pcsc_begin(card_conn) == 0) {
		/* Busy elsewhere (a transaction): asked next time. */
		last_keycheck = now;
		same = card_key_same(&card, pub);
		pcsc_end(card_conn);
		/* Only a lost card counts; an odd answer is asked again. */
		if (same == -ENODEV || same == -ESHUTDOWN || same == -EIO)
			r = same;
	}
	card_busy(0);
	if (card_after_hang())
		return;
	if (same == 0)
		card_key_replaced(pub);
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
	pthread_cond_timedwait(&card_cond, &card_mtx, &ts);
}

static void *
card_worker(void *arg)
{
	struct card_req	req;
	int		open, need_verify;

	pthread_mutex_lock(&card_mtx);
	while (!card_quit) {
		if (card_reselect) {
			card_reselect = 0;
			card_verified = 0;
			pthread_mutex_unlock(&card_mtx);
			pcsc_close(card_conn);
			pcsc_forget_rejects(card_conn);
			pthread_mutex_lock(&card_mtx);
			continue;
		}
		pthread_mutex_unlock(&card_mtx);
		open = pcsc_is_open(card_conn);
		if (!open) {
			card_connect();
			open = pcsc_is_open(card_conn);
		}
		pthread_mutex_lock(&card_mtx);
		if (card_quit)
			break;
		if (!open) {
			/* Whatever slipped in before the state changed. */
			card_fail_queue_locked(card_state_errno(card_st.state));
			if (card_dcount > 0)
				card_notify();
			card_timedwait_locked(CARD_POLL_MS);
			continue;
		}
		need_verify = card_pin_len > 0 &&
		    card_st.state != KEY_CARD_BLOCKED &&
		    (card_pin_fresh || (!card_verified && card_pin_ok));
		if (need_verify) {
			pthread_mutex_unlock(&card_mtx);
			card_verify();
			pthread_mutex_lock(&card_mtx);
			continue;
		}
		if (card_qcount > 0) {
			req = card_q[card_qhead];
			sodium_memzero(&card_q[card_qhead], sizeof(req));
			card_qhead = (card_qhead + 1) % CARD_QUEUE_MAX;
			card_qcount--;
			card_inflight = req;
			card_has_inflight = 1;
			card_inflight_answered = 0;
			pthread_mutex_unlock(&card_mtx);
			card_dh(&req);
			sodium_memzero(&req, sizeof(req));
			pthread_mutex_lock(&card_mtx);
			continue;
		}
		card_timedwait_locked(CARD_POLL_MS);
		if (card_qcount == 0 && !card_quit &&
		    !(card_pin_len > 0 && card_pin_fresh)) {
			pthread_mutex_unlock(&card_mtx);
			card_check();
			pthread_mutex_lock(&card_mtx);
		}
	}
	pthread_mutex_unlock(&card_mtx);
	return NULL;
}

/* The event loop's side. */

static void
card_audit(const struct card_res *res)
{
	if (res->status == 0)
		log_audit(LOG_INFO, "op=ecdh backend=openpgp peer=%s result=ok "
		    "latency_ms=%u.%03u", res->who, res->latency_us / 1000,
		    res->latency_us % 1000);
	else
		log_audit(LOG_INFO, "op=ecdh backend=openpgp peer=%s result=%s "
		    "error=\"%s\" latency_ms=%u.%03u", res->who,
		    res->status == -ETIMEDOUT ? "timeout" : "error",
		    opgp_strerror(res->status), res->latency_us / 1000,
		    res->latency_us % 1000);
}

static void
card_event(int fd, short event, void *arg)
{
	struct card_res	res[CARD_DONE_MAX];
	uint64_t	v;
	uint8_t		pub[32];
	int		n = 0, i, ev_pub, ev_ready, pin_res, pin_status;
	int		pin_retries;

	if (read(card_efd, &v, sizeof(v)) == -1 && errno != EAGAIN)
		log_warn("%s: eventfd", __func__);
	pthread_mutex_lock(&card_mtx);
	while (card_dcount > 0) {
		res[n++] = card_done[card_dhead];
		sodium_memzero(&card_done[card_dhead], sizeof(res[0]));
		card_dhead = (card_dhead + 1) % CARD_DONE_MAX;
		card_dcount--;
	}
	ev_pub = card_ev_pub;
	ev_ready = card_ev_ready;
	pin_res = card_pin_res_pending;
	pin_status = card_pin_res_status;
	pin_retries = card_pin_res_retries;
	card_ev_pub = card_ev_ready = card_pin_res_pending = 0;
	memcpy(pub, card_expected, 32);
	for (i = 0; i < n; i++) {
		card_st.ops++;
		if (res[i].status != 0)
			card_st.errors++;
		if (res[i].status == 0 || res[i].latency_us != 0)
			card_st.last_latency_us = res[i].latency_us;
	}
	pthread_mutex_unlock(&card_mtx);

	if (ev_pub)
		card_cbs->pubkey(pub);
	for (i = 0; i < n; i++) {
		card_audit(&res[i]);
		card_cbs->dh_done(res[i].id, res[i].status, res[i].result,
		    res[i].latency_us, res[i].who);
	}
	if (pin_res)
		card_cbs->pin_result(pin_status, pin_retries);
	if (ev_ready)
		card_cbs->ready();
	sodium_memzero(res, sizeof(res));
}

/* Every CARD_POLL_MS: has the worker been in card I/O for too long? */
static void
card_watch(int fd, short event, void *arg)
{
	struct timeval	tv = { 0, CARD_POLL_MS * 1000 };
	uint64_t	now = card_now_us();
	int		notify = 0;

	pthread_mutex_lock(&card_mtx);
	if (card_busy_since != 0 && !card_hung &&
	    now - card_busy_since > CARD_TIMEOUT_MS * 1000ULL) {
		card_hung = 1;
		card_set_state_locked(KEY_CARD_HUNG, "no answer from the card "
		    "within 2000 ms; requests fail until it answers");
		if (card_has_inflight && !card_inflight_answered) {
			card_post_locked(&card_inflight, -ETIMEDOUT, NULL,
			    (uint32_t)(now - card_busy_since));
			card_inflight_answered = 1;
		}
		card_fail_queue_locked(-ETIMEDOUT);
		notify = 1;
	}
	pthread_mutex_unlock(&card_mtx);
	if (notify)
		card_notify();
	evtimer_add(&card_ev_watch, &tv);
}

void
card_configure(const struct key_card_config *cfg)
{
	struct key_card_status	old;
	int			again, other;

	pthread_mutex_lock(&card_mtx);
	again = card_thread_started;
	other = !cfg->has_pub && (card_has_configured_pub ||
	    cfg->has_serial != card_sel.has_serial ||
	    cfg->serial != card_sel.serial ||
	    strncmp(cfg->reader, card_sel.reader, sizeof(card_sel.reader)));
	memset(&card_sel, 0, sizeof(card_sel));
	memcpy(card_sel.reader, cfg->reader, sizeof(card_sel.reader));
	card_sel.reader[sizeof(card_sel.reader) - 1] = '\0';
	card_sel.has_serial = cfg->has_serial;
	card_sel.serial = cfg->serial;
	if (cfg->has_pub) {
		memcpy(card_expected, cfg->pub, 32);
		card_has_expected = 1;
	} else if (other) {
		/* Another card may be meant: its key is learned anew. */
		sodium_memzero(card_expected, sizeof(card_expected));
		card_has_expected = 0;
	}
	card_has_configured_pub = cfg->has_pub != 0;
	old = card_st;
	memset(&card_st, 0, sizeof(card_st));
	card_st.state = KEY_CARD_ABSENT;
	card_st.pw1_retries = -1;
	card_st.capacity = CARD_QUEUE_MAX;
	snprintf(card_st.reason, sizeof(card_st.reason), "starting");
	if (again) {
		/*
		 * A new card session under the new rules: the counters go
		 * on, the PIN is forgotten (the configuration's comes next,
		 * or wgcardctl card unlock), the worker looks anew.
		 */
		card_st.ops = old.ops;
		card_st.errors = old.errors;
		card_st.last_latency_us = old.last_latency_us;
		snprintf(card_st.reason, sizeof(card_st.reason), "card "
		    "settings changed; looking for the card");
		sodium_memzero(card_pin, KEY_PIN_MAX + 1);
		card_pin_len = 0;
		card_pin_ok = 0;
		card_pin_fresh = 0;
		card_pin_gen++;
		card_has_badpin = 0;
		card_reselect = 1;
		pthread_cond_signal(&card_cond);
	}
	pthread_mutex_unlock(&card_mtx);
}

void
card_init(const struct card_cb *cbs)
{
	pthread_condattr_t	attr;
	struct timeval		tv = { 0, CARD_POLL_MS * 1000 };

	card_cbs = cbs;
	if ((card_pin = sodium_malloc(KEY_PIN_MAX + 1)) == NULL)
		fatal("sodium_malloc");
	sodium_memzero(card_pin, KEY_PIN_MAX + 1);
	randombytes_buf(card_badpin_key, sizeof(card_badpin_key));
	if ((card_conn = pcsc_new()) == NULL)
		fatal("calloc");
	if (pthread_condattr_init(&attr) != 0 ||
	    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) != 0 ||
	    pthread_cond_init(&card_cond, &attr) != 0)
		fatalx("pthread_cond_init");
	pthread_condattr_destroy(&attr);
	if ((card_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1)
		fatal("eventfd");
	event_set(&card_ev, card_efd, EV_READ | EV_PERSIST, card_event, NULL);
	event_add(&card_ev, NULL);
	evtimer_set(&card_ev_watch, card_watch, NULL);
	evtimer_add(&card_ev_watch, &tv);
}

void
card_start(void)
{
	if (pthread_create(&card_thread, NULL, card_worker, NULL) != 0)
		fatalx("cannot start the card worker thread");
	card_thread_started = 1;
}

void
card_stop(void)
{
	struct timespec	ts;
	int		stuck;

	pthread_mutex_lock(&card_mtx);
	card_quit = 1;
	stuck = card_busy_since != 0;
	pthread_cond_broadcast(&card_cond);
	pthread_mutex_unlock(&card_mtx);
	if (card_thread_started && !stuck) {
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 2;
		if (pthread_timedjoin_np(card_thread, NULL, &ts) == 0) {
			card_thread_started = 0;
			pcsc_free(card_conn);
			card_conn = NULL;
		}
	}
	pthread_mutex_lock(&card_mtx);
	if (card_pin != NULL) {
		sodium_memzero(card_pin, KEY_PIN_MAX + 1);
		card_pin_len = 0;
	}
	pthread_mutex_unlock(&card_mtx);
}

int
card_submit(uint64_t id, const uint8_t point[static 32], const char *who)
{
	struct card_req	*req;
	uint64_t	 now;
	int		 r;

	pthread_mutex_lock(&card_mtx);
	if (card_hung)
		r = -ETIMEDOUT;
	else if ((r = card_state_errno(card_st.state)) == 0 &&
	    card_qcount == CARD_QUEUE_MAX)
		r = -EAGAIN;
	if (r == 0) {
		req = &card_q[(card_qhead + card_qcount) % CARD_QUEUE_MAX];
		card_qcount++;
		memset(req, 0, sizeof(*req));
		req->id = id;
		memcpy(req->point, point, 32);
		snprintf(req->who, sizeof(req->who), "%s", who);
		req->t_submit = card_now_us();
		pthread_cond_signal(&card_cond);
	}
	pthread_mutex_unlock(&card_mtx);
	if (r != 0 && r != -EAGAIN) {
		now = card_now_us();
		/* Said once a second at most: a peer may keep trying. */
		if (now - card_last_locked_log > 1000000) {
			card_last_locked_log = now;
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

void
card_set_pin(const uint8_t *pin, size_t len)
{
	int	same, r = 0;

	pthread_mutex_lock(&card_mtx);
	if (len < OPGP_PIN_MIN || len > KEY_PIN_MAX) {
		/* Sent to no card: it would count as a wrong PIN. */
		r = -EINVAL;
		goto result;
	}
	same = card_pin_len == len && sodium_memcmp(card_pin, pin, len) == 0;
	if (same && card_st.state == KEY_CARD_READY) {
		/* Verified already: nothing to spend. */
		r = 0;
		goto result;
	}
	if (card_has_badpin) {
		uint8_t	h[32];
		int	bad;

		card_pin_hash(pin, len, h);
		bad = sodium_memcmp(h, card_badpin, sizeof(h)) == 0;
		sodium_memzero(h, sizeof(h));
		if (bad) {
			/* The card said no to this one: not sent again. */
			log_audit(LOG_WARNING, "op=verify backend=openpgp "
			    "result=refused reason=known-wrong-pin");
			r = -EALREADY;
			goto result;
		}
	}
	sodium_memzero(card_pin, KEY_PIN_MAX + 1);
	memcpy(card_pin, pin, len);
	card_pin_len = len;
	card_pin_ok = 0;
	card_pin_fresh = 1;
	card_pin_gen++;
	if (card_st.state == KEY_CARD_BLOCKED) {
		r = -EPERM;
		card_pin_fresh = 0;
		goto result;
	}
	if (card_st.state != KEY_CARD_LOCKED &&
	    card_st.state != KEY_CARD_READY) {
		/* Kept; tried when the (right) card comes. */
		r = card_st.state == KEY_CARD_WRONG ? -EXDEV : -ENODEV;
		goto result;
	}
	/* The worker verifies it now, then answers. */
	pthread_cond_signal(&card_cond);
	pthread_mutex_unlock(&card_mtx);
	/* A verified card session ends with a new PIN: verify it. */
	return;
 result:
	card_pin_res_pending = 1;
	card_pin_res_status = r;
	card_pin_res_retries = card_st.pw1_retries;
	pthread_mutex_unlock(&card_mtx);
	card_notify();
}

void
card_offer_pin(const uint8_t *pin, size_t len)
{
	pthread_mutex_lock(&card_mtx);
	if (card_st.state == KEY_CARD_READY && !card_hung) {
		/* The card is open: nothing is spent on it. */
		card_pin_res_pending = 1;
		card_pin_res_status = 0;
		card_pin_res_retries = card_st.pw1_retries;
		pthread_mutex_unlock(&card_mtx);
		log_info("card: ready already; the configured PIN is not sent");
		card_notify();
		return;
	}
	pthread_mutex_unlock(&card_mtx);
	card_set_pin(pin, len);
}

int
card_public_key(uint8_t pub[static 32])
{
	int	has;

	pthread_mutex_lock(&card_mtx);
	has = card_has_expected;
	if (has)
		memcpy(pub, card_expected, 32);
	pthread_mutex_unlock(&card_mtx);
	return has;
}

void
card_status(struct key_card_status *st)
{
	pthread_mutex_lock(&card_mtx);
	*st = card_st;
	st->queued = (uint32_t)(card_qcount + card_has_inflight);
	st->capacity = CARD_QUEUE_MAX;
	st->has_pin = card_pin_len > 0;
	if (card_hung)
		st->state = KEY_CARD_HUNG;
	if (!st->has_pub && card_has_expected) {
		memcpy(st->pub, card_expected, 32);
		st->has_pub = 1;
	}
	pthread_mutex_unlock(&card_mtx);
}

uint32_t
card_queued(void)
{
	uint32_t	n;

	pthread_mutex_lock(&card_mtx);
	n = (uint32_t)(card_qcount + card_has_inflight);
	pthread_mutex_unlock(&card_mtx);
	return n;
}
