/*
 * keyd.c: wgcard-keyd, the key broker. Started by wgcardd (fork + exec),
 * never by hand. It is the only process that holds (software key) or
 * reaches (card) the interface's static private key, and it answers one
 * question only: X25519(static key, point). It talks to the parent on
 * fd 3 and to the handshake process on fd 4; there is no socket in the
 * file system that could ask it for anything.
 */
#include <sys/time.h>
#include <sys/types.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event.h>
#include <sodium.h>

#include "backend.h"
#include "compat.h"
#include "crypto.h"
#include "encoding.h"
#include "imsg.h"
#include "log.h"
#include "proc.h"
#include "sandbox.h"
#include "wgcard.h"

#define KEYD_QUEUE_MAX	64

struct keyd_chan {
	const char	*name;
	struct imsgbuf	 ibuf;
	struct event	 ev;
	short		 events;
};

static struct keyd_chan		 chan_parent = { .name = "parent" };
static struct keyd_chan		 chan_hs = { .name = "handshake" };
static const struct keyd_backend *backend = &keyd_backend_file;
static uint32_t			 key_generation;
static uint64_t			 ops_total;
static uint32_t			 last_latency_us;
static struct event		 ev_load;

static void	keyd_dispatch(int, short, void *);

static __dead void
usage(void)
{
	fprintf(stderr, "usage: wgcard-keyd [-dv] -i ifname\n");
	exit(1);
}

static void
keyd_chan_update(struct keyd_chan *c)
{
	short	events = EV_READ;

	if (imsg_pending(&c->ibuf))
		events |= EV_WRITE;
	if (events == c->events)
		return;
	event_del(&c->ev);
	event_set(&c->ev, c->ibuf.fd, events | EV_PERSIST, keyd_dispatch, c);
	event_add(&c->ev, NULL);
	c->events = events;
}

static void
keyd_send(struct keyd_chan *c, uint32_t type, const void *data, size_t len)
{
	if (imsg_compose(&c->ibuf, type, 0, -1, data, len) == -1)
		fatal("%s: imsg_compose to %s", __func__, c->name);
	keyd_chan_update(c);
}

static void
keyd_announce(void)
{
	struct key_public	kp;

	memset(&kp, 0, sizeof(kp));
	kp.generation = key_generation;
	kp.has_key = backend->public_key(kp.pub);
	keyd_send(&chan_hs, IMSG_KEY_PUBLIC, &kp, sizeof(kp));
	keyd_send(&chan_parent, IMSG_KEY_PUBLIC, &kp, sizeof(kp));
}

static uint64_t
keyd_now_us(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
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
keyd_dh(const struct key_dh_req *req)
{
	struct key_dh_res	res;
	uint64_t		t0;
	char			peer[WG_KEY_B64_LEN];

	memset(&res, 0, sizeof(res));
	res.id = req->id;
	res.generation = key_generation;
	t0 = keyd_now_us();
	/* Small-order and non-canonical points never reach the key. */
	if (wg_x25519_small_order(req->point) ||
	    keyd_point_noncanonical(req->point))
		res.status = -EINVAL;
	else
		res.status = backend->dh(res.result, req->point);
	last_latency_us = keyd_now_us() - t0;
	ops_total++;
	if (res.status != 0)
		sodium_memzero(res.result, sizeof(res.result));
	/*
	 * Audit: the operation, the point it was asked about (a public
	 * value), the result code and latency. Never the key or the result.
	 */
	key_to_base64(peer, req->point);
	log_debug("audit: op=ecdh backend=%s point=%.8s result=%d "
	    "latency_us=%u", backend->name, peer, res.status,
	    last_latency_us);
	keyd_send(&chan_hs, IMSG_KEY_DH_RESULT, &res, sizeof(res));
	sodium_memzero(&res, sizeof(res));
}

static void
keyd_set_key(struct imsg *imsg, const char *from)
{
	struct key_set	ks;
	int		r;

	IMSG_SIZE_CHECK(imsg, sizeof(ks), from);
	memcpy(&ks, imsg->data, sizeof(ks));
	sodium_memzero(imsg->data, imsg->len);
	r = backend->set_key(ks.key);
	sodium_memzero(&ks, sizeof(ks));
	if (r < 0)
		log_warnx("set key: backend %s refused it: %s", backend->name,
		    strerror(-r));
	if (r != 1)
		key_generation++;
	log_info("audit: op=set-key from=%s backend=%s result=%s", from,
	    backend->name, r == 1 ? "unchanged" : r == 0 ? "ok" : "error");
	keyd_announce();
}

/* What wgcardctl card status shows (IMSG_KEY_STATUS). */
static void
keyd_status(uint32_t id)
{
	struct key_status	ks;

	memset(&ks, 0, sizeof(ks));
	ks.id = id;
	strlcpy(ks.backend, backend->name, sizeof(ks.backend));
	ks.has_pub = backend->public_key(ks.pub);
	ks.state = ks.has_pub ? KEY_STATE_READY : KEY_STATE_NOKEY;
	ks.pin_retries = -1;
	ks.ops = ops_total;
	ks.last_latency_us = last_latency_us;
	keyd_send(&chan_hs, IMSG_KEY_STATUS_RESULT, &ks, sizeof(ks));
}

/* A PIN for a backend that takes none: refused, and wiped. */
static void
keyd_pin(struct imsg *imsg, const char *from)
{
	struct key_pin		kp;
	struct key_pin_result	r;

	IMSG_SIZE_CHECK(imsg, sizeof(kp), from);
	memcpy(&kp, imsg->data, sizeof(kp));
	sodium_memzero(imsg->data, imsg->len);
	memset(&r, 0, sizeof(r));
	r.status = -EOPNOTSUPP;
	r.retries = -1;
	sodium_memzero(&kp, sizeof(kp));
	log_info("audit: op=pin from=%s backend=%s result=not-applicable",
	    from, backend->name);
	keyd_send(&chan_hs, IMSG_KEY_PIN_RESULT, &r, sizeof(r));
}

static void
keyd_dispatch(int fd, short event, void *arg)
{
	struct keyd_chan	*c = arg;
	struct imsg		 imsg;
	struct key_dh_req	 req;
	int			 r;

	if (event & EV_WRITE) {
		if (imsg_flush(&c->ibuf) == -1)
			fatal("%s: write to %s", __func__, c->name);
	}
	if (event & EV_READ) {
		for (;;) {
			r = imsg_recv(&c->ibuf, &imsg);
			if (r == 0)
				break;
			if (r == -1) {
				if (errno == 0) {
					/* The parent went away: we go too. */
					log_debug("%s closed its socket",
					    c->name);
					event_loopexit(NULL);
					return;
				}
				fatal("%s: read from %s", __func__, c->name);
			}
			if (r == -2)
				fatalx("%s: malformed message from %s",
				    __func__, c->name);
			if (imsg.fd != -1)
				fatalx("%s: unexpected fd from %s", __func__,
				    c->name);
			switch (imsg.type) {
			case IMSG_KEY_SET:
				keyd_set_key(&imsg, c->name);
				break;
			case IMSG_KEY_STATUS:
				if (c != &chan_hs)
					fatalx("%s: status request from %s",
					    __func__, c->name);
				IMSG_SIZE_CHECK(&imsg, sizeof(uint32_t),
				    c->name);
				{
					uint32_t	id;

					memcpy(&id, imsg.data, sizeof(id));
					keyd_status(id);
				}
				break;
			case IMSG_KEY_PIN:
				keyd_pin(&imsg, c->name);
				break;
			case IMSG_CTL_LOG_SET:
				if (c != &chan_parent)
					fatalx("%s: log level from %s",
					    __func__, c->name);
				IMSG_SIZE_CHECK(&imsg, sizeof(int32_t),
				    c->name);
				{
					int32_t	v;

					memcpy(&v, imsg.data, sizeof(v));
					log_setverbose(v);
				}
				break;
			case IMSG_KEY_DH:
				if (c != &chan_hs)
					fatalx("%s: DH request from %s",
					    __func__, c->name);
				IMSG_SIZE_CHECK(&imsg, sizeof(req), c->name);
				memcpy(&req, imsg.data, sizeof(req));
				keyd_dh(&req);
				break;
			default:
				fatalx("%s: unexpected imsg %u from %s",
				    __func__, imsg.type, c->name);
			}
		}
	}
	keyd_chan_update(c);
}

static void
keyd_load_timer(int fd, short event, void *arg)
{
	struct key_load	kl;
	struct timeval	tv = { 1, 0 };

	memset(&kl, 0, sizeof(kl));
	kl.queued = 0;
	kl.capacity = KEYD_QUEUE_MAX;
	kl.ops = ops_total;
	kl.last_latency_us = last_latency_us;
	keyd_send(&chan_hs, IMSG_KEY_LOAD, &kl, sizeof(kl));
	evtimer_add(&ev_load, &tv);
}

static void
keyd_chan_init(struct keyd_chan *c, int fd)
{
	if (imsgbuf_init(&c->ibuf, fd) == -1)
		fatal("imsgbuf_init");
	c->events = 0;
	event_set(&c->ev, fd, EV_READ | EV_PERSIST, keyd_dispatch, c);
	event_add(&c->ev, NULL);
	c->events = EV_READ;
}

int
main(int argc, char *argv[])
{
	const char	*ifname = NULL;
	int		 ch, debug = 0, verbose = 0;
	struct timeval	 tv = { 1, 0 };

	proc_init_title(argc, argv);
	while ((ch = getopt(argc, argv, "dvi:")) != -1) {
		switch (ch) {
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
	if (sodium_mlock(&key_generation, sizeof(key_generation)) == -1)
		log_debug("sodium_mlock: %s", strerror(errno));

	proc_setname("wgcard-keyd");
	proc_settitle("wgcardd: key broker [%s]", ifname);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, SIG_IGN);	/* the parent decides when we stop */
	signal(SIGHUP, SIG_IGN);

	proc_privdrop(WGCARD_USER, WGCARD_CHROOT);
	event_init();
	sandbox_keyd();

	keyd_chan_init(&chan_parent, PROC_PARENT_FD);
	keyd_chan_init(&chan_hs, PROC_SIBLING_FD);
	backend->set_key((const uint8_t [32]){ 0 });
	keyd_announce();
	evtimer_set(&ev_load, keyd_load_timer, NULL);
	evtimer_add(&ev_load, &tv);

	event_dispatch();

	backend->clear_key();
	log_debug("exiting");
	return 0;
}
