/*
 * keyd.c: wgcard-keyd, the key broker. Started by wgcardd (fork + exec),
 * never by hand. It is the only process that holds (software key) or
 * reaches (card) the interface's static private key, and it answers one
 * question only: X25519(static key, point). It talks to the parent on
 * fd 3 and to the handshake process on fd 4; there is no socket in the
 * file system that could ask it for anything.
 */
#include <sys/eventfd.h>
#include <sys/time.h>
#include <sys/types.h>

#include <errno.h>
#include <pthread.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event.h>
#include <sodium.h>

#include "backend.h"
#include "chan.h"
#include "compat.h"
#include "crypto.h"
#include "encoding.h"
#include "imsg.h"
#include "log.h"
#include "openpgp.h"
#include "proc.h"
#include "wgcard.h"

#define KEYD_AUDIT_Q	32

/* The broker's state: one instance, the event loop's unless said. */
struct keyd_state {
	struct chan		 parent;
	struct chan		 hs;
	const struct keyd_backend *backend;	/* -K */
	uint32_t		 generation;	/* of the key announced */
	uint64_t		 ops;		/* DH answered by the backend */
	uint32_t		 last_latency_us;
	struct event		 ev_load;
	struct event		 ev_sigterm;
	int			 pin_requests;	/* PINs from hs awaiting */
	int			 load_sent_full;
	/* A device's key as last announced (keyd_key_update). */
	uint8_t			 announced[32];
	int			 announced_has;
	/* KEY_SETs ignored by a device backend: one handled a second. */
	uint64_t		 keyset_last_us;
	uint64_t		 keyset_suppressed;
	const char		*keyset_from;	/* of the last one counted */
	/*
	 * The audit stream to the parent (for its audit file). Events of
	 * a backend's worker thread wait in a small queue (under
	 * audit_mtx) for the event loop, which alone writes to the
	 * channel; a full queue drops and counts.
	 */
	pthread_t		 main_thread;
	pthread_mutex_t		 audit_mtx;
	char			 audit_q[KEYD_AUDIT_Q][WGCARD_AUDIT_MAX];
	int			 audit_head, audit_count;
	uint64_t		 audit_lost;
	int			 audit_efd;
	struct event		 audit_ev;
};

static struct keyd_state	keyd = {
	.backend = &keyd_backend_file,
	.audit_mtx = PTHREAD_MUTEX_INITIALIZER,
	.audit_efd = -1,
};

/* The backends, chosen with -K; the first is the default. */
static const struct keyd_backend *const keyd_backends[] = {
	&keyd_backend_file,
	&keyd_backend_openpgp,
};
#define KEYD_NBACKENDS	(sizeof(keyd_backends) / sizeof(keyd_backends[0]))

static void	keyd_send_load(void);

static __dead void
usage(void)
{
	fprintf(stderr, "usage: wgcard-keyd [-dv] [-K file|openpgp] "
	    "-i ifname\n");
	exit(1);
}

/* The audit stream to the parent (see struct keyd_state). */

static void
keyd_audit_send(const char *kv)
{
	char	buf[WGCARD_AUDIT_MAX];

	snprintf(buf, sizeof(buf), "%s", kv);
	chan_send(&keyd.parent, IMSG_AUDIT, -1, buf, strlen(buf) + 1);
}

static void
keyd_audit_hook(const char *kv)
{
	uint64_t	one = 1;

	if (pthread_equal(pthread_self(), keyd.main_thread)) {
		keyd_audit_send(kv);
		return;
	}
	pthread_mutex_lock(&keyd.audit_mtx);
	if (keyd.audit_count == KEYD_AUDIT_Q)
		keyd.audit_lost++;
	else {
		snprintf(keyd.audit_q[(keyd.audit_head + keyd.audit_count) %
		    KEYD_AUDIT_Q], WGCARD_AUDIT_MAX, "%s", kv);
		keyd.audit_count++;
	}
	pthread_mutex_unlock(&keyd.audit_mtx);
	if (write(keyd.audit_efd, &one, sizeof(one)) == -1 && errno != EAGAIN)
		log_warn("%s: eventfd", __func__);
}

static void
keyd_audit_drain(int fd, short event, void *arg)
{
	char		kv[WGCARD_AUDIT_MAX];
	uint64_t	n, lost;

	if (read(fd, &n, sizeof(n)) == -1 && errno != EAGAIN)
		log_warn("%s: eventfd", __func__);
	for (;;) {
		pthread_mutex_lock(&keyd.audit_mtx);
		if (keyd.audit_count == 0) {
			lost = keyd.audit_lost;
			keyd.audit_lost = 0;
			pthread_mutex_unlock(&keyd.audit_mtx);
			break;
		}
		memcpy(kv, keyd.audit_q[keyd.audit_head], sizeof(kv));
		keyd.audit_head = (keyd.audit_head + 1) % KEYD_AUDIT_Q;
		keyd.audit_count--;
		pthread_mutex_unlock(&keyd.audit_mtx);
		keyd_audit_send(kv);
	}
	if (lost > 0) {
		snprintf(kv, sizeof(kv), "op=audit-dropped count=%llu",
		    (unsigned long long)lost);
		keyd_audit_send(kv);
	}
}

static void
keyd_audit_init(void)
{
	keyd.main_thread = pthread_self();
	if ((keyd.audit_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1)
		fatal("eventfd");
	event_set(&keyd.audit_ev, keyd.audit_efd, EV_READ | EV_PERSIST,
	    keyd_audit_drain, NULL);
	event_add(&keyd.audit_ev, NULL);
}

/* The key as the siblings learn it: generation, and the public key. */
static void
keyd_public(struct key_public *kp)
{
	memset(kp, 0, sizeof(*kp));
	kp->generation = keyd.generation;
	kp->has_key = keyd.backend->public_key(kp->pub);
}

static void
keyd_announce(void)
{
	struct key_public	kp;

	keyd_public(&kp);
	chan_send(&keyd.hs, IMSG_KEY_PUBLIC, -1, &kp, sizeof(kp));
	chan_send(&keyd.parent, IMSG_KEY_PUBLIC, -1, &kp, sizeof(kp));
}

/*
 * 1 if point, with its high bit masked, is not below p = 2^255 - 19: no
 * X25519 implementation makes such a public key, and a Nitrokey 3 has
 * been seen to fail on 32 bytes of 0xff. Refused before any backend.
 */
static int
keyd_point_noncanonical(const uint8_t point[static 32])
{
	unsigned int	acc = 0xff;
	int		i;

	for (i = 1; i < 31; i++)
		acc &= point[i];
	return acc == 0xff && (point[31] & 0x7f) == 0x7f && point[0] >= 0xed;
}

static void
keyd_dh_result(uint64_t id, int status, const uint8_t result[static 32])
{
	struct key_dh_res	res;

	memset(&res, 0, sizeof(res));
	res.id = id;
	res.generation = keyd.generation;
	res.status = status;
	if (status == 0)
		memcpy(res.result, result, sizeof(res.result));
	chan_send(&keyd.hs, IMSG_KEY_DH_RESULT, -1, &res, sizeof(res));
	sodium_memzero(&res, sizeof(res));
}

/*
 * An answer of an asynchronous backend: audited, counted, sent.
 */
static void
keyd_dh_done(uint64_t id, int status, const uint8_t result[static 32],
    const uint8_t point[static 32], uint32_t latency_us, const char *who)
{
	keyd.backend->audit_dh(who, point, status, latency_us, 0);
	keyd.last_latency_us = latency_us;
	keyd.ops++;
	keyd_dh_result(id, status, result);
}

/*
 * A device's key as last announced: a new generation only when it
 * really changes (a reload that names the same card keeps the sessions).
 */
static int
keyd_key_update(void)
{
	uint8_t	pub[32];
	int	has;

	has = keyd.backend->public_key(pub);
	if (has == keyd.announced_has && (!has ||
	    sodium_memcmp(pub, keyd.announced, 32) == 0))
		return 0;
	keyd.announced_has = has;
	memcpy(keyd.announced, pub, 32);
	keyd.generation++;
	keyd_announce();
	return 1;
}

static void
keyd_key_changed(void)
{
	/* The first device seen: the interface now has a key. */
	keyd_key_update();
}

static void
keyd_ready(void)
{
	struct key_public	kp;

	/*
	 * The same key again, to the handshake process only: it asks for
	 * the static-static DH of every peer that has none yet (those
	 * that failed while the card was locked or away).
	 */
	keyd_public(&kp);
	if (kp.has_key)
		chan_send(&keyd.hs, IMSG_KEY_PUBLIC, -1, &kp, sizeof(kp));
}

static void
keyd_pin_result(int status, int retries)
{
	struct key_pin_result	pr;

	if (status == 0)
		log_info("card unlocked");
	else if (status == -EALREADY)
		log_warnx("card PIN: the same wrong PIN again: not sent to "
		    "the card, no retry spent (%d left)", retries);
	else if (status == -EINVAL)
		log_warnx("card PIN: not %d to %d bytes long: not sent to the "
		    "card, no retry spent", OPGP_PIN_MIN, OPGP_PIN_MAX);
	else if (status == -EXDEV)
		log_warnx("card PIN: the card in the reader has another key "
		    "(wrong-card): kept, not sent to it");
	else if (status == -EAGAIN)
		log_warnx("card PIN: another card unlock came less than 5 s "
		    "ago: not sent to the card, no retry spent");
	else if (status == -ENOLCK)
		log_warnx("card PIN: pin-suspect: %d retries left, someone "
		    "entered a wrong PIN since the last good one: the "
		    "configured PIN is not sent; run wgcardctl card unlock",
		    retries);
	else if (status == -EDQUOT)
		log_warnx("card PIN: one retry left and UnlockLastTry = no: "
		    "not sent to the card");
	else
		log_warnx("card PIN: %s%s", status == -ENODEV ?
		    "no card now; kept, verified when the card comes" :
		    opgp_strerror(status), status == -EACCES ?
		    " (PIN forgotten)" : "");
	if (keyd.pin_requests == 0)
		return;		/* the parent's PIN: nobody waits */
	keyd.pin_requests--;
	memset(&pr, 0, sizeof(pr));
	pr.status = status;
	pr.retries = retries;
	chan_send(&keyd.hs, IMSG_KEY_PIN_RESULT, -1, &pr, sizeof(pr));
}

static const struct keyd_backend_cb keyd_backend_cbs = {
	.dh_done = keyd_dh_done,
	.key_changed = keyd_key_changed,
	.ready = keyd_ready,
	.pin_result = keyd_pin_result,
};

/*
 * X25519(static key, point) for the handshake process. who names the
 * peer in the audit log: the peer tag of the request, else the point's
 * first 8 base64 characters (for the static-static DH the point is the
 * peer's public key, so this is the peer's name as the handshake
 * process logs it). Small-order and non-canonical points never reach a
 * backend. A synchronous answer is counted and audited here; an
 * asynchronous one when it comes (keyd_dh_done), a refusal by the
 * device's state not at all (the backend says why, rate-limited).
 */
static void
keyd_dh(const struct key_dh_req *req)
{
	uint8_t		out[32];
	uint64_t	t0;
	uint32_t	latency_us;
	char		who[16], b64[WG_KEY_B64_LEN];
	int		status, refused;
	size_t		i;

	t0 = keyd_now_us();
	/* Printable characters only, for the log. */
	for (i = 0; i < sizeof(req->peer) && i < sizeof(who) - 1 &&
	    req->peer[i] > 0x20 && req->peer[i] < 0x7f; i++)
		who[i] = req->peer[i];
	who[i] = '\0';
	if (who[0] == '\0') {
		key_to_base64(b64, req->point);
		snprintf(who, sizeof(who), "%.8s", b64);
	}
	memset(out, 0, sizeof(out));
	refused = wg_x25519_small_order(req->point) ||
	    keyd_point_noncanonical(req->point);
	status = refused ? -EINVAL :
	    keyd.backend->dh(req->id, req->point, who, out);
	if (keyd.backend->async && !refused) {
		if (status != 0)
			keyd_dh_result(req->id, status, out);
		if (status == -EAGAIN ||
		    keyd.backend->queued() >= keyd.backend->capacity / 2) {
			/* Tell the handshake process now: cookies first. */
			if (!keyd.load_sent_full)
				keyd_send_load();
			keyd.load_sent_full = 1;
		}
		return;
	}
	latency_us = keyd_now_us() - t0;
	if (!keyd.backend->async) {
		keyd.last_latency_us = latency_us;
		keyd.ops++;
	}
	keyd.backend->audit_dh(who, req->point, status, latency_us, refused);
	keyd_dh_result(req->id, status, out);
	sodium_memzero(out, sizeof(out));
}

/*
 * The audit record of an ignored KEY_SET (the key is the device's), with
 * the count of those handled without one since the last record.
 */
static void
keyd_keyset_record(const char *from)
{
	log_audit(LOG_INFO, "op=set-key from=%s backend=%s result=ignored "
	    "suppressed=%llu", from, keyd.backend->name,
	    (unsigned long long)keyd.keyset_suppressed);
	keyd.keyset_suppressed = 0;
}

static void
keyd_set_key(struct chan *c, struct imsg *imsg)
{
	struct key_set	 ks;
	const char	*from = c->name;
	int		 r;

	memcpy(&ks, imsg->data, sizeof(ks));
	sodium_memzero(imsg->data, imsg->len);
	if (keyd.backend->set_key == NULL) {
		uint64_t	now = keyd_now_us();

		/*
		 * The key is the device's: nothing to install. Each one is
		 * answered with the key (and makes the parent log it), so a
		 * sender that repeats them could drown both logs: one a
		 * second is handled, the rest counted in the next record.
		 */
		if (keyd.keyset_last_us != 0 &&
		    now - keyd.keyset_last_us < 1000000) {
			struct key_public	kp;

			sodium_memzero(&ks, sizeof(ks));
			keyd.keyset_suppressed++;
			keyd.keyset_from = from;
			/*
			 * The sender still gets its answer (a UAPI set waits
			 * for it); only the parent's log and the audit
			 * record are spared.
			 */
			keyd_public(&kp);
			chan_send(c, IMSG_KEY_PUBLIC, -1, &kp, sizeof(kp));
			return;
		}
		keyd.keyset_last_us = now;
		if (!wg_key_is_zero(ks.key))
			log_warnx("set key from %s ignored: the private key "
			    "is on the card (KeySource = %s)", from,
			    keyd.backend->name);
		sodium_memzero(&ks, sizeof(ks));
		keyd_keyset_record(from);
		keyd_announce();
		return;
	}
	r = keyd.backend->set_key(ks.key);
	sodium_memzero(&ks, sizeof(ks));
	if (r < 0)
		log_warnx("set key: backend %s refused it: %s", keyd.backend->name,
		    strerror(-r));
	if (r != 1)
		keyd.generation++;
	log_audit(LOG_INFO, "op=set-key from=%s backend=%s result=%s", from,
	    keyd.backend->name, r == 1 ? "unchanged" : r == 0 ? "ok" : "error");
	keyd_announce();
}

/* What wgcardctl card status shows (IMSG_KEY_STATUS). */
static void
keyd_status(struct chan *c, struct imsg *imsg)
{
	struct key_status	ks;

	memset(&ks, 0, sizeof(ks));
	memcpy(&ks.id, imsg->data, sizeof(ks.id));
	ks.pin_retries = -1;
	ks.pin_retries_max = -1;
	keyd.backend->status(&ks);
	ks.ops = keyd.ops;
	ks.last_latency_us = keyd.last_latency_us;
	chan_send(&keyd.hs, IMSG_KEY_STATUS_RESULT, -1, &ks, sizeof(ks));
}

static void
keyd_card_config(struct chan *c, struct imsg *imsg)
{
	struct key_card_config	cfg;
	int			first;

	if (keyd.backend->configure == NULL)
		fatalx("%s: unexpected card configuration", __func__);
	memcpy(&cfg, imsg->data, sizeof(cfg));
	cfg.reader[sizeof(cfg.reader) - 1] = '\0';
	/* Again on a reload whose card settings changed: applied now. */
	first = keyd.backend->configure(&cfg);
	log_info("card backend%s: reader %s%s%s, serial %s, expected key %s",
	    first ? "" : " (new settings)",
	    cfg.reader[0] ? "\"" : "", cfg.reader[0] ? cfg.reader : "any",
	    cfg.reader[0] ? "\"" : "", cfg.has_serial ? "set" : "any",
	    cfg.has_pub ? "configured" : "the first card's");
	if (first)
		keyd.backend->start();
	/*
	 * With CardPublicKey the interface has its key before any card;
	 * at start without one, it learns that it has none yet.
	 */
	if (!keyd_key_update() && first)
		keyd_announce();
}

static void
keyd_pin(struct chan *c, struct imsg *imsg)
{
	struct key_pin		kp;
	struct key_pin_result	pr;
	int			r = -EOPNOTSUPP;

	memcpy(&kp, imsg->data, sizeof(kp));
	sodium_memzero(imsg->data, imsg->len);
	if (kp.len > KEY_PIN_MAX)
		kp.len = 0;	/* refused below without reaching a card */
	/* The parent's PIN is the configuration's: offered. */
	if (keyd.backend->pin != NULL)
		r = keyd.backend->pin(kp.pin, kp.len, c->peer == PROC_PARENT,
		    c->name);
	if (r == 0 && c->peer == PROC_HANDSHAKE)
		keyd.pin_requests++;
	else if (r != 0 && c->peer == PROC_HANDSHAKE) {
		memset(&pr, 0, sizeof(pr));
		pr.status = r;
		pr.retries = -1;
		chan_send(&keyd.hs, IMSG_KEY_PIN_RESULT, -1, &pr, sizeof(pr));
	}
	sodium_memzero(&kp, sizeof(kp));
}

static void
keyd_dh_req(struct chan *c, struct imsg *imsg)
{
	struct key_dh_req	req;

	memcpy(&req, imsg->data, sizeof(req));
	keyd_dh(&req);
}

#define KEYD_P	CHAN_FROM(PROC_PARENT)
#define KEYD_H	CHAN_FROM(PROC_HANDSHAKE)

/*
 * Every message the broker takes: who may send it, its exact size, no
 * descriptor ever. Anything else is fatal (chan.h).
 */
static const struct chan_rule keyd_rules[] = {
	CHAN_RULE(IMSG_KEY_SET, KEYD_P | KEYD_H, sizeof(struct key_set),
	    sizeof(struct key_set), CHAN_FD_NO, keyd_set_key),
	CHAN_RULE(IMSG_KEY_DH, KEYD_H, sizeof(struct key_dh_req),
	    sizeof(struct key_dh_req), CHAN_FD_NO, keyd_dh_req),
	CHAN_RULE(IMSG_KEY_STATUS, KEYD_H, sizeof(uint32_t), sizeof(uint32_t),
	    CHAN_FD_NO, keyd_status),
	CHAN_RULE(IMSG_KEY_PIN, KEYD_P | KEYD_H, sizeof(struct key_pin),
	    sizeof(struct key_pin), CHAN_FD_NO, keyd_pin),
	CHAN_RULE(IMSG_KEY_CARD_CONFIG, KEYD_P, sizeof(struct key_card_config),
	    sizeof(struct key_card_config), CHAN_FD_NO, keyd_card_config),
	CHAN_RULE(IMSG_CTL_LOG_SET, KEYD_P, sizeof(int32_t), sizeof(int32_t),
	    CHAN_FD_NO, chan_log_set),
};
#define KEYD_NRULES	(sizeof(keyd_rules) / sizeof(keyd_rules[0]))

static void
keyd_send_load(void)
{
	struct key_load	kl;

	memset(&kl, 0, sizeof(kl));
	kl.queued = keyd.backend->queued != NULL ? keyd.backend->queued() : 0;
	kl.capacity = keyd.backend->capacity;
	kl.ops = keyd.ops;
	kl.last_latency_us = keyd.last_latency_us;
	kl.answer_ms = keyd.backend->answer_ms != NULL ?
	    keyd.backend->answer_ms() : 0;
	chan_send(&keyd.hs, IMSG_KEY_LOAD, -1, &kl, sizeof(kl));
}

static void
keyd_load_timer(int fd, short event, void *arg)
{
	struct timeval	tv = { 1, 0 };

	keyd_send_load();
	keyd.load_sent_full = 0;
	/* KEY_SETs counted away a second ago are written now. */
	if (keyd.keyset_suppressed > 0 &&
	    keyd_now_us() - keyd.keyset_last_us >= 1000000)
		keyd_keyset_record(keyd.keyset_from);
	evtimer_add(&keyd.ev_load, &tv);
}

/* SIGTERM: the event loop ends, then the backend stops. */
static void
keyd_sigterm(int sig, short event, void *arg)
{
	event_loopexit(NULL);
}

int
main(int argc, char *argv[])
{
	const char	*ifname = NULL;
	int		 ch, debug = 0, verbose = 0;
	size_t		 i;
	struct timeval	 tv = { 1, 0 };

	proc_trim();
	proc_init_title(argc, argv);
	while ((ch = getopt(argc, argv, "dvi:K:")) != -1) {
		switch (ch) {
		case 'K':
			for (i = 0; i < KEYD_NBACKENDS; i++)
				if (strcmp(optarg, keyd_backends[i]->name) == 0)
					break;
			if (i == KEYD_NBACKENDS)
				usage();
			keyd.backend = keyd_backends[i];
			break;
		case 'd':
			debug = 1;
			break;
		case 'v':
			verbose++;
			break;
		case 'i':
			ifname = optarg;
			break;
		default:
			usage();
		}
	}
	if (ifname == NULL || optind != argc)
		usage();

	log_init(debug, LOG_DAEMON);
	log_setverbose(verbose);
	log_procinit("keyd");
	proc_nocore();
	wg_crypto_init();
	if (sodium_mlock(&keyd.generation, sizeof(keyd.generation)) == -1)
		log_debug("sodium_mlock: %s", strerror(errno));

	proc_setname("wgcard-keyd");
	proc_settitle("wgcardd: key broker [%s]", ifname);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, SIG_IGN);	/* the parent decides when we stop */
	signal(SIGHUP, SIG_IGN);

	proc_privdrop(WGCARD_USER, keyd.backend->chroot != NULL ?
	    keyd.backend->chroot() : WGCARD_CHROOT);
	event_init();
	/*
	 * The parent stops us with SIGTERM: the backend's stop runs (a
	 * card gets its PIN state reset), set up before the sandbox.
	 */
	signal_set(&keyd.ev_sigterm, SIGTERM, keyd_sigterm, NULL);
	signal_add(&keyd.ev_sigterm, NULL);
	keyd_audit_init();
	keyd.backend->init(&keyd_backend_cbs);
	keyd.backend->sandbox();

	/* Either sibling's going ends the loop: the parent stops us. */
	chan_init(&keyd.parent, "parent", PROC_PARENT, PROC_PARENT_FD,
	    keyd_rules, KEYD_NRULES, NULL);
	chan_init(&keyd.hs, "handshake", PROC_HANDSHAKE, PROC_SIBLING_FD,
	    keyd_rules, KEYD_NRULES, NULL);
	log_set_audit_hook(keyd_audit_hook);
	/* A device backend announces once the parent sent its settings. */
	if (keyd.backend->configure == NULL)
		keyd_announce();
	evtimer_set(&keyd.ev_load, keyd_load_timer, NULL);
	evtimer_add(&keyd.ev_load, &tv);

	event_dispatch();

	keyd.backend->stop();
	log_debug("exiting");
	return 0;
}
