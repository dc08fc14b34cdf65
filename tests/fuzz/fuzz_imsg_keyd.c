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
 * fake "openpgp" entry of the backend table below, which answers every
 * queued DH and PIN through the broker's callbacks after each message,
 * as the card's event does in the daemon.
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

/*
 * A fake "openpgp" backend (keyd/backend.h), asynchronous as the card
 * is: its requests and PINs are answered after each message.
 */
#define FCARD_QUEUE_MAX	16

static struct {
	const struct keyd_backend_cb *cbs;
	struct key_card_config	 cfg;
	struct {
		uint64_t	id;
		uint8_t		point[32];
		char		who[16];
	}			 q[FCARD_QUEUE_MAX];
	int			 nq;
	int			 pin_pending, pin_status;
	int			 configured, started;
} fcard;

static void
fcard_init(const struct keyd_backend_cb *cbs)
{
	fcard.cbs = cbs;
}

static int
fcard_configure(const struct key_card_config *cfg)
{
	int	first = !fcard.configured;

	/* The broker terminates the reader's name; it must have. */
	if (memchr(cfg->reader, '\0', sizeof(cfg->reader)) == NULL)
		abort();
	fcard.cfg = *cfg;
	fcard.configured = 1;
	return first;
}

static void
fcard_start(void)
{
	if (!fcard.configured || fcard.started++)
		abort();	/* once per broker, after the settings */
}

static void
fcard_stop(void)
{
}

static int
fcard_dh(uint64_t id, const uint8_t point[static 32], const char *who,
    uint8_t out[static 32])
{
	if (strlen(who) >= sizeof(fcard.q[0].who))
		abort();
	if (wg_x25519_small_order(point) || keyd_point_noncanonical(point))
		abort();	/* the broker refuses these itself */
	if (fcard.nq == FCARD_QUEUE_MAX)
		return -EAGAIN;
	fcard.q[fcard.nq].id = id;
	memcpy(fcard.q[fcard.nq].point, point, 32);
	strlcpy(fcard.q[fcard.nq].who, who, sizeof(fcard.q[0].who));
	fcard.nq++;
	return 0;
}

static int
fcard_pin(const uint8_t *pin, size_t len, int offer, const char *from)
{
	if (len > KEY_PIN_MAX)
		abort();
	if (!fcard.configured)
		return -EOPNOTSUPP;
	if (offer)
		return 0;
	fcard.pin_pending++;
	fcard.pin_status = len < OPGP_PIN_MIN ? -EINVAL :
	    pin[0] == '0' ? -EACCES : 0;
	return 0;
}

static int
fcard_public_key(uint8_t pub[static 32])
{
	memcpy(pub, fcard.cfg.pub, 32);
	return fcard.cfg.has_pub != 0;
}

static void
fcard_status(struct key_status *ks)
{
	strlcpy(ks->backend, "openpgp", sizeof(ks->backend));
	ks->state = fcard.cfg.pub[0] % 6;
	ks->has_pub = fcard.cfg.has_pub != 0;
	memcpy(ks->pub, fcard.cfg.pub, 32);
	snprintf(ks->serial, sizeof(ks->serial), "%08X", fcard.cfg.serial);
	ks->pin_retries = (int8_t)fcard.cfg.pub[1];
	ks->queued = (uint32_t)fcard.nq;
	strlcpy(ks->reader, fcard.cfg.reader, sizeof(ks->reader));
}

static uint32_t
fcard_queued(void)
{
	return (uint32_t)fcard.nq;
}

static void
fcard_audit_dh(const char *who, const uint8_t *point, int status,
    uint32_t latency_us, int refused)
{
	(void)status;
	(void)latency_us;
	(void)refused;
	if (strlen(who) >= 16 || point == NULL)
		abort();	/* every record names its point */
}

const struct keyd_backend keyd_backend_openpgp = {
	.name = "openpgp",
	.async = 1,
	.init = fcard_init,
	.configure = fcard_configure,
	.start = fcard_start,
	.stop = fcard_stop,
	.public_key = fcard_public_key,
	.dh = fcard_dh,
	.pin = fcard_pin,
	.status = fcard_status,
	.queued = fcard_queued,
	.capacity = FCARD_QUEUE_MAX,
	.audit_dh = fcard_audit_dh,
};

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
		    -EIO : 0, out, fcard.q[i].point, 100, fcard.q[i].who);
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
static struct chan *const	 fuzz_chans[] = { &keyd.parent, &keyd.hs };

static void
fuzz_dispatch(int chan)
{
	chan_read(fuzz_chans[chan]);
	if (keyd.backend == &keyd_backend_openpgp)
		fcard_answer();
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	int	i;

	fuzz_init();
	wg_crypto_init();
	event_init();
	keyd.main_thread = pthread_self();
	log_set_audit_hook(keyd_audit_hook);
	keyd_backend_openpgp.init(&keyd_backend_cbs);
	fuzz_keyd.nchan = 2;
	fuzz_keyd.dispatch = fuzz_dispatch;
	fuzz_keyd.setup = fuzz_setup;
	fuzz_keyd.teardown = fuzz_teardown;
	for (i = 0; i < 2; i++)
		fuzz_chan_open(&fuzz_keyd.chan[i]);
	chan_init(&keyd.parent, "parent", PROC_PARENT,
	    fuzz_keyd.chan[0].proc_fd, keyd_rules, KEYD_NRULES, NULL);
	chan_init(&keyd.hs, "handshake", PROC_HANDSHAKE,
	    fuzz_keyd.chan[1].proc_fd, keyd_rules, KEYD_NRULES, NULL);
	return 0;
}

static void
fuzz_setup(struct fuzz_in *in)
{
	keyd.backend = fuzz_u8(in) & 1 ? &keyd_backend_openpgp :
	    &keyd_backend_file;
	keyd.pin_requests = 0;
	keyd.load_sent_full = 0;
	keyd.generation = 0;
	keyd.ops = 0;
	keyd.announced_has = 0;
	memset(keyd.announced, 0, sizeof(keyd.announced));
	memset(&fcard.cfg, 0, sizeof(fcard.cfg));
	fcard.nq = 0;
	fcard.pin_pending = 0;
	fcard.configured = 0;
	fcard.started = 0;
	log_setverbose(0);
	/* As main() starts each backend. */
	keyd.backend->init(&keyd_backend_cbs);
	if (keyd.backend->configure == NULL)
		keyd_announce();
}

/* The channels stay from one input to the next; a fatal's leftovers go. */
static void
fuzz_teardown(int fatal)
{
	int	i;

	keyd.backend->stop();
	for (i = 0; i < 2; i++)
		fuzz_chan_reset(&fuzz_keyd.chan[i], &fuzz_chans[i]->ibuf,
		    fatal);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_proc_input(&fuzz_keyd, data, size);
}
