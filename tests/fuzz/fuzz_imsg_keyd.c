/*
 * fuzz_imsg_keyd.c: libFuzzer target for every message the key broker
 * (keyd/keyd.c) receives: from the parent (key, card settings, PIN, log
 * level) and from the handshake process (DH requests, status, PIN, key).
 *
 * The broker's file is compiled into this one (its state and dispatch
 * are static), its main() renamed. The parent and the handshake process
 * are the harness at the far ends of two socketpairs (tests/fuzz/
 * harness.h: the input's first byte picks the backend, bit 0 the card,
 * then a sequence of messages). The file backend is the real one
 * (keyd/soft.c); the card (keyd/card.c: a worker thread on PC/SC) is a
 * fake below with the same interface, which answers every queued DH and
 * PIN through the broker's callbacks after each message, as the card's
 * event does in the daemon.
 *
 * A refused message is fatal for the broker, as in the daemon, and ends
 * the input; a memory or UB error, a descriptor left open after a run
 * without a fatal, or a malformed message sent on is a crash.
 */
#include "harness.h"

#define main	keyd_main
#include "../../keyd/keyd.c"
#undef main

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);
int	LLVMFuzzerInitialize(int *, char ***);
static void	fuzz_setup(struct fuzz_in *);
static void	fuzz_teardown(int);

/* Reached only from main(): never here. */
void sandbox_keyd(void) { abort(); }
void sandbox_keyd_card(void) { abort(); }

/* A fake card behind keyd/card.h. */

static struct {
	const struct card_cb	*cbs;
	struct key_card_config	 cfg;
	struct {
		uint64_t	id;
		uint8_t		point[32];
		char		who[16];
	}			 q[CARD_QUEUE_MAX];
	int			 nq;
	int			 pin_pending, pin_status;
	int			 started;
} fcard;

void
card_init(const struct card_cb *cbs)
{
	fcard.cbs = cbs;
}

void
card_configure(const struct key_card_config *cfg)
{
	/* The broker terminates the reader's name; it must have. */
	if (memchr(cfg->reader, '\0', sizeof(cfg->reader)) == NULL)
		abort();
	fcard.cfg = *cfg;
}

void
card_start(void)
{
	if (fcard.started++)
		abort();	/* once per broker */
}

void
card_stop(void)
{
}

int
card_submit(uint64_t id, const uint8_t point[static 32], const char *who)
{
	if (strlen(who) >= sizeof(fcard.q[0].who))
		abort();
	if (fcard.nq == CARD_QUEUE_MAX)
		return -EAGAIN;
	fcard.q[fcard.nq].id = id;
	memcpy(fcard.q[fcard.nq].point, point, 32);
	strlcpy(fcard.q[fcard.nq].who, who, sizeof(fcard.q[0].who));
	fcard.nq++;
	return 0;
}

void
card_set_pin(const uint8_t *pin, size_t len)
{
	if (len > KEY_PIN_MAX)
		abort();
	fcard.pin_pending++;
	fcard.pin_status = len < OPGP_PIN_MIN ? -EINVAL :
	    pin[0] == '0' ? -EACCES : 0;
}

void
card_offer_pin(const uint8_t *pin, size_t len)
{
	if (len > KEY_PIN_MAX)
		abort();
}

int
card_public_key(uint8_t pub[static 32])
{
	memcpy(pub, fcard.cfg.pub, 32);
	return fcard.cfg.has_pub != 0;
}

void
card_status(struct key_card_status *st)
{
	memset(st, 0, sizeof(*st));
	st->state = fcard.cfg.pub[0] % 9;
	st->has_pub = fcard.cfg.has_pub != 0;
	memcpy(st->pub, fcard.cfg.pub, 32);
	memcpy(st->fpr, fcard.cfg.pub, sizeof(st->fpr));
	st->serial = fcard.cfg.serial;
	st->pw1_retries = (int8_t)fcard.cfg.pub[1];
	st->queued = (uint32_t)fcard.nq;
	strlcpy(st->reader, fcard.cfg.reader, sizeof(st->reader));
}

uint32_t
card_queued(void)
{
	return (uint32_t)fcard.nq;
}

/* What the card's event would deliver now. */
static void
fcard_answer(void)
{
	uint8_t	out[32];
	int	i;

	for (i = 0; i < fcard.nq; i++) {
		memcpy(out, fcard.q[i].point, 32);
		out[0] ^= 1;
		fcard.cbs->dh_done(fcard.q[i].id, fcard.q[i].point[1] == 0xee ?
		    -EIO : 0, out, 100, fcard.q[i].who);
	}
	fcard.nq = 0;
	for (; fcard.pin_pending > 0; fcard.pin_pending--) {
		fcard.cbs->pin_result(fcard.pin_status, 3);
		if (fcard.pin_status == 0)
			fcard.cbs->ready();
	}
}

/* The harness's view of the broker. */

static struct fuzz_proc		 fuzz_keyd;
static struct keyd_chan *const	 fuzz_chans[] = { &chan_parent, &chan_hs };

static void
fuzz_dispatch(int chan)
{
	keyd_dispatch(fuzz_chans[chan]->ibuf.fd, EV_READ, fuzz_chans[chan]);
	if (card_mode)
		fcard_answer();
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	int	i;

	fuzz_init();
	wg_crypto_init();
	event_init();
	keyd_main_thread = pthread_self();
	log_set_audit_hook(keyd_audit_hook);
	card_init(&keyd_card_cbs);
	fuzz_keyd.nchan = 2;
	fuzz_keyd.dispatch = fuzz_dispatch;
	fuzz_keyd.setup = fuzz_setup;
	fuzz_keyd.teardown = fuzz_teardown;
	for (i = 0; i < 2; i++) {
		fuzz_chan_open(&fuzz_keyd.chan[i]);
		keyd_chan_init(fuzz_chans[i], fuzz_keyd.chan[i].proc_fd);
	}
	return 0;
}

static void
fuzz_setup(struct fuzz_in *in)
{
	card_mode = fuzz_u8(in) & 1;
	card_configured = 0;
	pin_requests = 0;
	load_sent_full = 0;
	key_generation = 0;
	ops_total = 0;
	card_announced_has = 0;
	memset(card_announced, 0, sizeof(card_announced));
	memset(&fcard.cfg, 0, sizeof(fcard.cfg));
	fcard.nq = 0;
	fcard.pin_pending = 0;
	fcard.started = 0;
	log_setverbose(0);
	/* As main() starts each backend. */
	if (!card_mode) {
		backend->set_key((const uint8_t [32]){ 0 });
		keyd_announce();
	}
}

/* The channels stay from one input to the next; a fatal's leftovers go. */
static void
fuzz_teardown(int fatal)
{
	int	i;

	backend->clear_key();
	for (i = 0; i < 2; i++)
		fuzz_chan_reset(&fuzz_keyd.chan[i], &fuzz_chans[i]->ibuf,
		    fatal);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_proc_input(&fuzz_keyd, data, size);
}
