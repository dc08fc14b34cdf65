/*
 * handshake.c: the handshake process of wgcardd. Unprivileged, chrooted,
 * under seccomp. It owns the peers, runs the Noise_IKpsk2 handshakes
 * (noise.c), the macs of its own messages and the cookies it is sent
 * (cookie.c), and the WireGuard timers, and serves the UAPI socket the
 * parent opened. Handshake messages from the network reach it screened
 * by the forwarder (mac1; under load mac2, cookie replies and the
 * per-source rate limit), which it tells when it is loaded itself
 * (IMSG_FWD_LOAD). It never holds the static private key: every DH with it
 * is asked of the key broker (IMSG_KEY_DH), asynchronously. Session keys
 * it derives go to the forwarder (IMSG_FWD_KEYPAIR) and are wiped here.
 */
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <arpa/inet.h>

#include <errno.h>
#include <stddef.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event.h>
#include <sodium.h>

#include "allowedips.h"
#include "buf.h"
#include "chan.h"
#include "compat.h"
#include "control.h"
#include "cookie.h"
#include "crypto.h"
#include "encoding.h"
#include "imsg.h"
#include "log.h"
#include "messages.h"
#include "noise.h"
#include "proc.h"
#include "sandbox.h"
#include "timerq.h"
#include "uapi.h"
#include "wgcard.h"
#include "wgcardd.h"

#define HS_INDEX_BUCKETS	4096
#define HS_PEER_BUCKETS		1024
#define HS_DH_MAX		256	/* requests in flight to the broker */
#define HS_DH_TIMEOUT_MS	5000
#define HS_SS_INFLIGHT		8	/* static-static DHs at once */
#define HS_LOAD_PENDING		8	/* initiations waiting for the broker */
/*
 * Or requests waiting for the broker that would take it this long at
 * its last latency: a slow card (a Nitrokey 3: ~1 s per X25519) is
 * loaded with two; a touch policy (seconds per operation) with one.
 */
#define HS_LOAD_WAIT_MS		2000
/* Bounds of a UAPI get's lines (hs_uapi_get). */
#define HS_UAPI_DEVICE_MAX	128
#define HS_UAPI_PEER_MAX	512
#define HS_UAPI_AIP_MAX		64

enum hs_idx_kind {
	IDX_HANDSHAKE,
	IDX_KEYPAIR,
};

struct hs_index {
	struct hs_index		*next;
	uint32_t		 idx;
	uint32_t		 peer_id;
	enum hs_idx_kind	 kind;
};

/* A peer's timers, named for the kernel's (entries of hs.timers). */
enum hs_timer {
	HS_T_RETRANSMIT,	/* handshake not answered: initiate again */
	HS_T_KEEPALIVE,		/* data received, none sent: a keepalive */
	HS_T_NEW_HANDSHAKE,	/* data sent, nothing received: initiate */
	HS_T_ZERO,		/* no new session for 3 x REJECT_AFTER_TIME */
	HS_T_PERSISTENT,	/* persistent keepalive */
	HS_T_MAX
};

struct hs_peer {
	TAILQ_ENTRY(hs_peer)	 entry;
	struct hs_peer		*hnext;		/* by id */
	uint32_t		 id;
	struct noise_peer	 noise;
	struct cookie_maker	 cm;
	int			 has_psk;
	int			 ss_pending;
	int			 ss_retry;	/* the broker was busy: ask again */
	struct wg_endpoint	 ep;
	uint16_t		 keepalive;
	uint64_t		 rx_bytes, tx_bytes;	/* from the forwarder */
	uint64_t		 hs_rx_bytes;		/* handshake messages */
	uint64_t		 drops;			/* from the forwarder */
	struct timespec		 last_handshake;
	int			 attempts;
	uint64_t		 last_sent_handshake;	/* ms, 0: never */
	uint64_t		 last_held_log;	/* ms: "no new initiation" */
	uint32_t		 keypairs;	/* IMSG_FWD_KEYPAIRs sent */
	uint32_t		 hs_index;	/* handshake in progress, 0: none */
	int			 need_another_keepalive;
	struct timerq_entry	 t[HS_T_MAX];	/* tag: its enum hs_timer */
};

enum hs_dh_kind {
	DH_SS,
	DH_INITIATION,
	DH_RESPONSE,
};

struct hs_dh {
	TAILQ_ENTRY(hs_dh)	 entry;
	uint64_t		 id;
	enum hs_dh_kind		 kind;
	uint32_t		 peer_id;
	uint32_t		 generation;
	uint64_t		 started;
	struct wg_endpoint	 ep;
	union {
		struct noise_initiation_ctx	ini;
		struct noise_response_ctx	resp;
	} ctx;
};

#define WAIT_KEY	0x1
#define WAIT_PORT	0x2
#define WAIT_FWMARK	0x4

/*
 * A change set applied, waiting for the privileged steps it asked for
 * (WAIT_*: the broker's new key, the parent's port and fwmark) before it
 * is answered. Each of those answers the oldest request of its kind (the
 * broker and the parent answer in order), so waits are kept in the order
 * they were made, and stay when their client leaves: its answer is then
 * dropped, never given to another.
 */
struct hs_wait {
	TAILQ_ENTRY(hs_wait)	 entry;
	uint32_t		 conn;		/* UAPI client; 0: the parent */
	int			 waiting;	/* WAIT_* */
	int			 result;	/* positive errno, or 0 */
};

static void	hs_send_initiation(struct hs_peer *, int);
static void	hs_unwait(int, int);
static void	hs_load_update(void);

static struct {
	const struct proc_opts	*opts;
	struct chan		 parent, keyd, fwd;
	int			 uapi_started;	/* IMSG_CFG_UAPI_FD came (once) */
	struct event		 ev_tick;
	/* Every peer's timers, behind one event at the earliest deadline. */
	struct timerq		 timers;
	struct event		 ev_timer;
	uint64_t		 timer_due;	/* ev_timer's, ms; 0: unarmed */
	TAILQ_HEAD(, hs_wait)	 waits;		/* in the order made */
	/* Identity: public data only. */
	int			 has_key;
	uint32_t		 generation;
	int			 key_change_pending;
	struct noise_local	 local;
	struct cookie_checker	 checker;
	/* Device. */
	uint16_t		 port;
	uint32_t		 fwmark;
	uint32_t		 fwmark_req;
	TAILQ_HEAD(, hs_peer)	 peers;
	struct hs_peer		*peer_hash[HS_PEER_BUCKETS];
	uint32_t		 next_peer_id;
	size_t			 npeers;
	struct aip_table	*aips;
	struct hs_index		*index[HS_INDEX_BUCKETS];
	/* Broker. */
	TAILQ_HEAD(, hs_dh)	 dh;
	size_t			 ndh, ndh_init, ndh_ss;
	uint64_t		 next_dh_id;
	uint32_t		 keyd_queued, keyd_capacity;
	uint32_t		 keyd_latency_us;	/* last operation */
	uint32_t		 keyd_answer_ms;	/* its longest wait */
	/* Load: ours as the forwarder was told, and its figures. */
	int			 loaded;
	struct fwd_hs_stats	 fwd_stats;
	struct fwd_info		 fwd_info;	/* from the forwarder */
	struct buf		 cfg;		/* config text from the parent */
	gid_t			 ctl_group;
	int			 ctl_started;	/* IMSG_CTL_FD came (once) */
	uint32_t		 ctl_status_conn;	/* card status waiting */
	uint32_t		 ctl_pin_conn;		/* card unlock waiting */
	uint32_t		 ctl_reload_conn;	/* reload waiting */
	/* Handshake messages dropped here, by cause. */
	uint64_t		 drop_bad_mac1;		/* key changed */
	uint64_t		 drop_under_load;	/* no mac2 checked */
	uint64_t		 drop_broker_busy;	/* HS_DH_MAX pending */
} hs;

/* Channels (the one table of what they may carry: hs_rules, below). */

static void
hs_send(struct chan *c, uint32_t type, const void *data, size_t len)
{
	chan_send(c, type, -1, data, len);
}

static void
hs_send_u32(struct chan *c, uint32_t type, uint32_t v)
{
	chan_send(c, type, -1, &v, sizeof(v));
}

/* Indices. */

static struct hs_index *
hs_idx_find(uint32_t idx)
{
	struct hs_index	*e;

	for (e = hs.index[idx % HS_INDEX_BUCKETS]; e != NULL; e = e->next)
		if (e->idx == idx)
			return e;
	return NULL;
}

static uint32_t
hs_idx_alloc(uint32_t peer_id, enum hs_idx_kind kind)
{
	struct hs_index	*e;
	uint32_t	 idx;

	do {
		idx = randombytes_random();
	} while (idx == 0 || hs_idx_find(idx) != NULL);
	if ((e = calloc(1, sizeof(*e))) == NULL)
		fatal("calloc");
	e->idx = idx;
	e->peer_id = peer_id;
	e->kind = kind;
	e->next = hs.index[idx % HS_INDEX_BUCKETS];
	hs.index[idx % HS_INDEX_BUCKETS] = e;
	return idx;
}

static void
hs_idx_free(uint32_t idx)
{
	struct hs_index	**pp, *e;

	for (pp = &hs.index[idx % HS_INDEX_BUCKETS]; (e = *pp) != NULL;
	    pp = &e->next)
		if (e->idx == idx) {
			*pp = e->next;
			free(e);
			return;
		}
}

static void
hs_idx_free_peer(uint32_t peer_id)
{
	struct hs_index	**pp, *e;
	int		  i;

	for (i = 0; i < HS_INDEX_BUCKETS; i++)
		for (pp = &hs.index[i]; (e = *pp) != NULL;) {
			if (e->peer_id == peer_id) {
				*pp = e->next;
				free(e);
			} else
				pp = &e->next;
		}
}

/* Peers. */

static struct hs_peer *
hs_peer_by_id(uint32_t id)
{
	struct hs_peer	*p;

	for (p = hs.peer_hash[id % HS_PEER_BUCKETS]; p != NULL; p = p->hnext)
		if (p->id == id)
			return p;
	return NULL;
}

static struct hs_peer *
hs_peer_by_key(const uint8_t key[static 32])
{
	struct hs_peer	*p;

	TAILQ_FOREACH(p, &hs.peers, entry)
		if (wg_key_eq(p->noise.remote_static, key))
			return p;
	return NULL;
}

static void
hs_peer_name(const struct hs_peer *p, char out[static 12])
{
	char	b64[WG_KEY_B64_LEN];

	key_to_base64(b64, p->noise.remote_static);
	memcpy(out, b64, 8);
	out[8] = '\0';
}

/* The audit stream to the parent, for its audit file. */
static void
hs_audit_hook(const char *kv)
{
	char	buf[WGCARD_AUDIT_MAX];

	snprintf(buf, sizeof(buf), "%s", kv);
	hs_send(&hs.parent, IMSG_AUDIT, buf, strlen(buf) + 1);
}

/* Keeps hs.ev_timer at the earliest deadline. */
static void
hs_timer_sync(void)
{
	struct timerq_entry	*e;
	struct timeval		 tv;
	uint64_t		 now, ms;

	if ((e = timerq_first(&hs.timers)) == NULL) {
		if (hs.timer_due != 0)
			evtimer_del(&hs.ev_timer);
		hs.timer_due = 0;
		return;
	}
	if (e->due == hs.timer_due)
		return;
	hs.timer_due = e->due;
	now = wg_now_ms();
	ms = e->due > now ? e->due - now : 0;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(&hs.ev_timer, &tv);
}

static void
hs_timer_mod(struct hs_peer *p, enum hs_timer t, uint64_t ms)
{
	timerq_add(&hs.timers, &p->t[t], wg_now_ms() + ms);
	hs_timer_sync();
}

static void
hs_timer_del(struct hs_peer *p, enum hs_timer t)
{
	timerq_del(&hs.timers, &p->t[t]);
	hs_timer_sync();
}

static int
hs_timer_pending(const struct hs_peer *p, enum hs_timer t)
{
	return timerq_pending(&p->t[t]);
}

static uint64_t
hs_jitter(void)
{
	return randombytes_uniform(WG_REKEY_TIMEOUT_JITTER_MS);
}

static void
hs_request_dh(enum hs_dh_kind kind, struct hs_peer *p, const uint8_t point[32],
    struct hs_dh *d)
{
	struct key_dh_req	req;

	d->id = ++hs.next_dh_id;
	d->kind = kind;
	d->peer_id = p != NULL ? p->id : 0;
	d->generation = hs.generation;
	d->started = wg_now_ms();
	TAILQ_INSERT_TAIL(&hs.dh, d, entry);
	hs.ndh++;
	if (kind == DH_INITIATION)
		hs.ndh_init++;
	if (kind == DH_SS)
		hs.ndh_ss++;
	memset(&req, 0, sizeof(req));
	req.id = d->id;
	memcpy(req.point, point, 32);
	if (p != NULL) {
		char	b64[WG_KEY_B64_LEN];

		/* Named, for the broker's audit line. */
		key_to_base64(b64, p->noise.remote_static);
		memcpy(req.peer, b64, sizeof(req.peer));
	}
	hs_send(&hs.keyd, IMSG_KEY_DH, &req, sizeof(req));
}

static void
hs_dh_free(struct hs_dh *d)
{
	TAILQ_REMOVE(&hs.dh, d, entry);
	hs.ndh--;
	if (d->kind == DH_INITIATION)
		hs.ndh_init--;
	if (d->kind == DH_SS)
		hs.ndh_ss--;
	sodium_memzero(d, sizeof(*d));
	free(d);
}

static void
hs_peer_request_ss(struct hs_peer *p)
{
	struct hs_dh	*d;

	if (!hs.has_key || hs.key_change_pending || p->ss_pending)
		return;
	/*
	 * A card's queue is short: a few at a time, the rest from the
	 * once-a-second tick, so a config with many peers does not fill it.
	 */
	if (hs.ndh_ss >= HS_SS_INFLIGHT) {
		p->ss_retry = 1;
		return;
	}
	if ((d = calloc(1, sizeof(*d))) == NULL)
		fatal("calloc");
	p->ss_pending = 1;
	p->ss_retry = 0;
	hs_request_dh(DH_SS, p, p->noise.remote_static, d);
}

static void
hs_peer_clear_handshake(struct hs_peer *p)
{
	noise_handshake_clear(&p->noise.hs);
	if (p->hs_index != 0) {
		hs_idx_free(p->hs_index);
		p->hs_index = 0;
	}
}

/* Timers, named for the kernel's hooks. */

static void
hs_send_keepalive(struct hs_peer *p)
{
	hs_send_u32(&hs.fwd, IMSG_FWD_KEEPALIVE, p->id);
}

static void
hs_clear_src(struct hs_peer *p)
{
	struct fwd_endpoint	fe;

	memset(&p->ep.src, 0, sizeof(p->ep.src));
	p->ep.src_ifindex = 0;
	memset(&fe, 0, sizeof(fe));
	fe.peer_id = p->id;
	fe.ep = p->ep;
	hs_send(&hs.fwd, IMSG_FWD_PEER_ENDPOINT, &fe, sizeof(fe));
}

/* Does a response from p wait for the broker's DH? */
static int
hs_peer_response_pending(const struct hs_peer *p)
{
	const struct hs_dh	*d;

	TAILQ_FOREACH(d, &hs.dh, entry)
		if (d->kind == DH_RESPONSE && d->peer_id == p->id)
			return 1;
	return 0;
}

static void
hs_t_retransmit(struct hs_peer *p)
{
	char		 name[12];

	hs_peer_name(p, name);
	if (p->attempts > WG_MAX_TIMER_HANDSHAKES) {
		log_debug("peer %s: handshake did not complete after %d "
		    "attempts, giving up", name, p->attempts + 2);
		hs_timer_del(p, HS_T_KEEPALIVE);
		hs_send_u32(&hs.fwd, IMSG_FWD_FLUSH_STAGED, p->id);
		if (!hs_timer_pending(p, HS_T_ZERO))
			hs_timer_mod(p, HS_T_ZERO, WG_REJECT_AFTER_TIME * 3000);
		return;
	}
	if (hs_peer_response_pending(p)) {
		/*
		 * Its response waits for the card (a slow one, or a touch):
		 * a new initiation would make that answer useless and cost
		 * the card (or the user) another operation.
		 */
		log_debug("peer %s: the response waits for the card; not "
		    "retrying yet", name);
		hs_timer_mod(p, HS_T_RETRANSMIT, WG_REKEY_TIMEOUT * 1000 +
		    hs_jitter());
		return;
	}
	p->attempts++;
	log_debug("peer %s: handshake did not complete after %d seconds, "
	    "retrying (try %d)", name, WG_REKEY_TIMEOUT, p->attempts + 1);
	hs_clear_src(p);
	hs_send_initiation(p, 1);
}

static void
hs_t_keepalive(struct hs_peer *p)
{

	hs_send_keepalive(p);
	if (p->need_another_keepalive) {
		p->need_another_keepalive = 0;
		hs_timer_mod(p, HS_T_KEEPALIVE, WG_KEEPALIVE_TIMEOUT * 1000);
	}
}

static void
hs_t_new_handshake(struct hs_peer *p)
{
	char		 name[12];

	hs_peer_name(p, name);
	log_debug("peer %s: no reply to our data for %d seconds, new "
	    "handshake", name, WG_KEEPALIVE_TIMEOUT + WG_REKEY_TIMEOUT);
	hs_clear_src(p);
	hs_send_initiation(p, 0);
}

static void
hs_t_zero(struct hs_peer *p)
{

	hs_send_u32(&hs.fwd, IMSG_FWD_CLEAR_KEYS, p->id);
	hs_peer_clear_handshake(p);
}

static void
hs_t_persistent(struct hs_peer *p)
{

	if (p->keepalive)
		hs_send_keepalive(p);
}

static void (*const hs_timer_fn[HS_T_MAX])(struct hs_peer *) = {
	[HS_T_RETRANSMIT] = hs_t_retransmit,
	[HS_T_KEEPALIVE] = hs_t_keepalive,
	[HS_T_NEW_HANDSHAKE] = hs_t_new_handshake,
	[HS_T_ZERO] = hs_t_zero,
	[HS_T_PERSISTENT] = hs_t_persistent,
};

/* hs.ev_timer: every timer due now, in the order of their deadlines. */
static void
hs_timer_fire(int fd, short ev, void *arg)
{
	struct timerq_entry	*e;
	struct hs_peer		*p;
	uint64_t		 now = wg_now_ms();

	hs.timer_due = 0;
	while ((e = timerq_expired(&hs.timers, now)) != NULL) {
		p = (struct hs_peer *)((char *)(e - e->tag) -
		    offsetof(struct hs_peer, t));
		hs_timer_fn[e->tag](p);
	}
	hs_timer_sync();
}

static void
hs_timers_traversal(struct hs_peer *p)
{
	if (p->keepalive)
		hs_timer_mod(p, HS_T_PERSISTENT, p->keepalive * 1000ULL);
}

static void
hs_timers_session_derived(struct hs_peer *p)
{
	hs_timer_mod(p, HS_T_ZERO, WG_REJECT_AFTER_TIME * 3000ULL);
}

static void
hs_timers_handshake_complete(struct hs_peer *p)
{
	hs_timer_del(p, HS_T_RETRANSMIT);
	p->attempts = 0;
	clock_gettime(CLOCK_REALTIME, &p->last_handshake);
}

/* Sending handshake messages. */

static void
hs_send_packet(struct hs_peer *p, const struct wg_endpoint *ep,
    const void *msg, size_t len)
{
	struct fwd_send	s;
	struct iovec	iov[2];

	memset(&s, 0, sizeof(s));
	s.ep = *ep;
	s.peer_id = p != NULL ? p->id : 0;
	iov[0].iov_base = &s;
	iov[0].iov_len = sizeof(s);
	iov[1].iov_base = (void *)msg;
	iov[1].iov_len = len;
	chan_sendv(&hs.fwd, IMSG_FWD_SEND, -1, iov, 2);
}

static void
hs_send_initiation(struct hs_peer *p, int is_retry)
{
	struct wg_msg_initiation	msg;
	uint8_t				ts[WG_TIMESTAMP_LEN];
	uint64_t			now = wg_now_ms();
	char				name[12];

	/*
	 * A response from p waits for the card (a slow one, or a touch):
	 * a new initiation would make p forget the session that response
	 * completes, and cost the card (or the user) another operation.
	 * Data asks for a handshake at every packet once REKEY_TIMEOUT has
	 * passed; the retransmit timer, which runs, tries again after it.
	 */
	if (hs_peer_response_pending(p)) {
		if (now - p->last_held_log >= WG_REKEY_TIMEOUT * 1000ULL) {
			p->last_held_log = now;
			hs_peer_name(p, name);
			log_debug("peer %s: the response waits for the card; "
			    "no new initiation", name);
		}
		return;
	}
	if (!is_retry)
		p->attempts = 0;
	/* Rate limited: one per REKEY_TIMEOUT. */
	if (p->last_sent_handshake != 0 &&
	    now - p->last_sent_handshake < WG_REKEY_TIMEOUT * 1000ULL)
		return;
	hs_peer_name(p, name);
	if (!hs.has_key || !p->noise.has_ss) {
		log_debug("peer %s: no handshake: %s", name, !hs.has_key ?
		    "the interface has no private key" :
		    "static-static DH not available");
		return;
	}
	if (p->ep.addr.sa.sa_family == 0) {
		log_debug("peer %s: no handshake: no endpoint", name);
		return;
	}
	p->last_sent_handshake = now;
	hs_peer_clear_handshake(p);
	p->hs_index = hs_idx_alloc(p->id, IDX_HANDSHAKE);
	wg_tai64n_now(ts);
	if (noise_create_initiation(&hs.local, &p->noise, p->hs_index, ts,
	    &msg) == -1) {
		log_warnx("peer %s: cannot create an initiation", name);
		hs_peer_clear_handshake(p);
		return;
	}
	cookie_maker_add_macs(&p->cm, &msg, sizeof(msg), now);
	log_debug("peer %s: sending handshake initiation", name);
	hs_send_packet(p, &p->ep, &msg, sizeof(msg));
	sodium_memzero(&msg, sizeof(msg));
	/* Traversal, authenticated packet sent, handshake initiated. */
	hs_timers_traversal(p);
	hs_timer_del(p, HS_T_KEEPALIVE);
	hs_timer_mod(p, HS_T_RETRANSMIT, WG_REKEY_TIMEOUT * 1000ULL +
	    hs_jitter());
}

/* Peer life. */

static struct hs_peer *
hs_peer_new(const uint8_t pubkey[static 32])
{
	struct hs_peer	*p;
	char		 name[12];
	int		 t;

	if (hs.npeers >= WG_MAX_PEERS)
		return NULL;
	if ((p = calloc(1, sizeof(*p))) == NULL)
		fatal("calloc");
	do {
		p->id = ++hs.next_peer_id;
	} while (p->id == 0 || hs_peer_by_id(p->id) != NULL);
	noise_peer_init(&p->noise, pubkey);
	cookie_maker_init(&p->cm, pubkey);
	for (t = 0; t < HS_T_MAX; t++)
		p->t[t].tag = t;
	TAILQ_INSERT_TAIL(&hs.peers, p, entry);
	p->hnext = hs.peer_hash[p->id % HS_PEER_BUCKETS];
	hs.peer_hash[p->id % HS_PEER_BUCKETS] = p;
	hs.npeers++;
	hs_send_u32(&hs.fwd, IMSG_FWD_PEER_ADD, p->id);
	hs_peer_name(p, name);
	log_audit(LOG_INFO, "op=peer-add peer=%s peers=%zu", name, hs.npeers);
	hs_peer_request_ss(p);
	return p;
}

static void
hs_peer_remove(struct hs_peer *p)
{
	struct hs_peer	**pp;
	char		  name[12];
	int		  t;

	hs_peer_name(p, name);
	log_audit(LOG_INFO, "op=peer-remove peer=%s peers=%zu", name,
	    hs.npeers - 1);
	for (t = 0; t < HS_T_MAX; t++)
		timerq_del(&hs.timers, &p->t[t]);
	hs_timer_sync();
	hs_send_u32(&hs.fwd, IMSG_FWD_PEER_DEL, p->id);
	hs_idx_free_peer(p->id);
	aip_remove_owner(hs.aips, p);
	TAILQ_REMOVE(&hs.peers, p, entry);
	for (pp = &hs.peer_hash[p->id % HS_PEER_BUCKETS]; *pp != NULL;
	    pp = &(*pp)->hnext)
		if (*pp == p) {
			*pp = p->hnext;
			break;
		}
	hs.npeers--;
	noise_peer_wipe(&p->noise);
	cookie_maker_wipe(&p->cm);
	sodium_memzero(p, sizeof(*p));
	free(p);
}

static void
hs_peer_set_endpoint(struct hs_peer *p, const struct wg_endpoint *ep)
{
	struct fwd_endpoint	fe;

	p->ep = *ep;
	memset(&fe, 0, sizeof(fe));
	fe.peer_id = p->id;
	fe.ep = *ep;
	hs_send(&hs.fwd, IMSG_FWD_PEER_ENDPOINT, &fe, sizeof(fe));
}

/* Allowed IPs go to the forwarder in batches. */
struct hs_aip_batch {
	uint32_t		peer_id;
	int			clear;
	size_t			n;
	struct fwd_aip_entry	e[1024];
};

static void
hs_aip_flush(struct hs_aip_batch *b)
{
	struct fwd_aip_hdr	h;
	struct iovec		iov[2];

	if (b->n == 0 && !b->clear)
		return;
	memset(&h, 0, sizeof(h));
	h.peer_id = b->peer_id;
	h.count = b->n;
	h.clear = b->clear;
	iov[0].iov_base = &h;
	iov[0].iov_len = sizeof(h);
	iov[1].iov_base = b->e;
	iov[1].iov_len = b->n * sizeof(b->e[0]);
	chan_sendv(&hs.fwd, IMSG_FWD_AIP, -1, iov, b->n ? 2 : 1);
	b->n = 0;
	b->clear = 0;
}

/*
 * Applies one peer's changes; b batches its allowed IPs for the
 * forwarder. 0, or -ENOSPC (no room for a new peer).
 */
static int
hs_apply_peer(struct wg_peerconf *pc, struct hs_aip_batch *b)
{
	struct hs_peer		*p;
	struct fwd_aip_entry	*e;
	const struct wg_prefix	*a;
	struct wg_endpoint	 ep;
	uint16_t		 old;
	size_t			 j;

	/* Our own public key is not a peer (the kernel's rule). */
	if (hs.has_key && !hs.key_change_pending &&
	    wg_key_eq(pc->pubkey, hs.local.public_key)) {
		log_warnx("a peer with the interface's own public key "
		    "is ignored (as the kernel does)");
		return 0;
	}
	p = hs_peer_by_key(pc->pubkey);
	if (pc->flags & WGPEER_REMOVE) {
		if (p != NULL)
			hs_peer_remove(p);
		return 0;
	}
	if (p == NULL) {
		if (pc->flags & WGPEER_UPDATE_ONLY)
			return 0;
		if ((p = hs_peer_new(pc->pubkey)) == NULL)
			return -ENOSPC;
	}
	if (pc->flags & WGPEER_HAS_PSK) {
		noise_peer_set_psk(&p->noise, pc->psk);
		p->has_psk = !wg_key_is_zero(pc->psk);
		sodium_memzero(pc->psk, sizeof(pc->psk));
	}
	if (pc->flags & WGPEER_HAS_ENDPOINT) {
		memset(&ep, 0, sizeof(ep));
		ep.addr = pc->endpoint;
		hs_peer_set_endpoint(p, &ep);
	}
	b->peer_id = p->id;
	if (pc->flags & WGPEER_REPLACE_AIPS) {
		aip_remove_owner(hs.aips, p);
		b->clear = 1;
	}
	for (j = 0; j < pc->naips; j++) {
		a = &pc->aips[j];
		if (a->remove)
			aip_remove(hs.aips, a->family, a->addr.bytes,
			    a->cidr, p);
		else if (aip_insert(hs.aips, a->family, a->addr.bytes,
		    a->cidr, p) == -1)
			fatal("aip_insert");
		e = &b->e[b->n++];
		memset(e, 0, sizeof(*e));
		e->family = a->family;
		e->cidr = a->cidr;
		e->remove = a->remove;
		memcpy(e->addr, a->addr.bytes, 16);
		if (b->n == sizeof(b->e) / sizeof(b->e[0]))
			hs_aip_flush(b);
	}
	hs_aip_flush(b);
	if (pc->flags & WGPEER_HAS_KEEPALIVE) {
		old = p->keepalive;
		p->keepalive = pc->keepalive;
		if (p->keepalive && p->keepalive != old)
			hs_send_keepalive(p);
		if (!p->keepalive)
			hs_timer_del(p, HS_T_PERSISTENT);
	}
	return 0;
}

/*
 * Applies one change set (UAPI set=1 or the config file): 0 or -errno;
 * *waits gets the privileged steps (WAIT_*) whose answers are to come.
 */
static int
hs_apply(struct wg_devconf *c, int *waits)
{
	struct hs_aip_batch	*b;
	struct hs_peer		*p, *tmp;
	struct key_set		 ks;
	size_t			 i;
	int			 r = 0;

	if (c->flags & WGDEV_HAS_PRIVKEY) {
		memcpy(ks.key, c->privkey, 32);
		sodium_memzero(c->privkey, sizeof(c->privkey));
		hs_send(&hs.keyd, IMSG_KEY_SET, &ks, sizeof(ks));
		sodium_memzero(&ks, sizeof(ks));
		/* The broker's socket buffer is not ours; our copy is gone. */
		chan_flush(&hs.keyd);
		hs.key_change_pending++;
		*waits |= WAIT_KEY;
	}
	if (c->flags & WGDEV_HAS_PORT) {
		hs_send(&hs.parent, IMSG_PRIV_SET_PORT, &c->port,
		    sizeof(c->port));
		*waits |= WAIT_PORT;
	}
	if (c->flags & WGDEV_HAS_FWMARK) {
		hs.fwmark_req = c->fwmark;
		hs_send(&hs.parent, IMSG_PRIV_SET_FWMARK, &c->fwmark,
		    sizeof(c->fwmark));
		*waits |= WAIT_FWMARK;
	}
	if (c->flags & WGDEV_REPLACE_PEERS)
		TAILQ_FOREACH_SAFE(p, &hs.peers, entry, tmp)
			hs_peer_remove(p);
	if ((b = calloc(1, sizeof(*b))) == NULL)
		fatal("calloc");
	for (i = 0; i < c->npeers && r == 0; i++) {
		r = hs_apply_peer(&c->peers[i], b);
		/*
		 * Each peer's messages into the forwarder's socket as they
		 * are made (as the loop would write them, only sooner):
		 * queued until the loop runs, a thousand peers' were some
		 * hundreds of kB of heap, and the holes they left.
		 */
		chan_flush(&hs.fwd);
	}
	free(b);
	return r;
}

/*
 * A reload: the file is the whole truth about peers, as with wg syncconf.
 * Peers not in it go; the others are updated in place (keeping their
 * sessions), and what the file no longer sets is cleared.
 */
static void
hs_sync(struct wg_devconf *c)
{
	struct hs_peer	*p, *tmp;
	char		 name[12];
	size_t		 i;
	int		 found;

	c->flags &= ~WGDEV_REPLACE_PEERS;
	TAILQ_FOREACH_SAFE(p, &hs.peers, entry, tmp) {
		found = 0;
		for (i = 0; i < c->npeers && !found; i++)
			found = wg_key_eq(c->peers[i].pubkey,
			    p->noise.remote_static);
		if (!found) {
			hs_peer_name(p, name);
			log_info("reload: peer %s removed", name);
			hs_peer_remove(p);
		}
	}
	for (i = 0; i < c->npeers; i++) {
		struct wg_peerconf	*pc = &c->peers[i];

		if (!(pc->flags & WGPEER_HAS_PSK)) {
			memset(pc->psk, 0, sizeof(pc->psk));
			pc->flags |= WGPEER_HAS_PSK;
		}
		if (!(pc->flags & WGPEER_HAS_KEEPALIVE)) {
			pc->keepalive = 0;
			pc->flags |= WGPEER_HAS_KEEPALIVE;
		}
		if ((p = hs_peer_by_key(pc->pubkey)) == NULL)
			continue;
		/* An unchanged endpoint keeps what roaming taught us. */
		if ((pc->flags & WGPEER_HAS_ENDPOINT) &&
		    p->ep.addr.sa.sa_family == pc->endpoint.sa.sa_family &&
		    memcmp(&p->ep.addr, &pc->endpoint,
		    sizeof(pc->endpoint)) == 0)
			pc->flags &= ~WGPEER_HAS_ENDPOINT;
	}
}

/* The key broker. */

static void
hs_key_public(const struct key_public *kp)
{
	struct fwd_identity	 id;
	struct hs_peer		*p, *tmp;
	char			 b64[WG_KEY_B64_LEN], name[12];
	int			 changed, answer;

	/* The answer to a key change (a UAPI set, a configuration)? */
	if ((answer = hs.key_change_pending > 0))
		hs.key_change_pending--;
	changed = kp->generation != hs.generation ||
	    kp->has_key != hs.has_key ||
	    (kp->has_key && !wg_key_eq(kp->pub, hs.local.public_key));
	hs.generation = kp->generation;
	if (!changed) {
		log_debug("private key unchanged");
		goto done;
	}
	hs.has_key = kp->has_key;
	memset(&id, 0, sizeof(id));
	if (hs.has_key) {
		noise_local_init(&hs.local, kp->pub);
		cookie_checker_init(&hs.checker, kp->pub);
		key_to_base64(b64, kp->pub);
		log_info("interface public key %s", b64);
		memcpy(id.public_key, kp->pub, sizeof(id.public_key));
		id.has_key = 1;
	} else {
		memset(&hs.local, 0, sizeof(hs.local));
		cookie_checker_wipe(&hs.checker);
		log_info("interface has no private key");
	}
	/* Public data: the forwarder checks mac1 with it. */
	hs_send(&hs.fwd, IMSG_FWD_IDENTITY, &id, sizeof(id));
	TAILQ_FOREACH_SAFE(p, &hs.peers, entry, tmp) {
		if (hs.has_key && wg_key_eq(p->noise.remote_static,
		    hs.local.public_key)) {
			hs_peer_name(p, name);
			log_warnx("peer %s removed: it has the interface's new "
			    "public key (as the kernel does)", name);
			hs_peer_remove(p);
			continue;
		}
		noise_peer_clear_ss(&p->noise);
		p->ss_pending = 0;
		hs_peer_clear_handshake(p);
		hs_send_u32(&hs.fwd, IMSG_FWD_EXPIRE, p->id);
		hs_peer_request_ss(p);
	}
done:
	/* Peers added while the key was changing still need their ss. */
	if (hs.key_change_pending == 0 && hs.has_key)
		TAILQ_FOREACH(p, &hs.peers, entry)
			if (!p->noise.has_ss)
				hs_peer_request_ss(p);
	if (answer)
		hs_unwait(WAIT_KEY, 0);
}

/* Hands a derived session to the forwarder; wipes every copy here. */
static void
hs_send_keypair(struct hs_peer *p, struct noise_keypair *kp)
{
	struct fwd_keypair	fk;

	memset(&fk, 0, sizeof(fk));
	fk.peer_id = p->id;
	p->keypairs++;
	fk.local_index = kp->local_index;
	fk.remote_index = kp->remote_index;
	fk.initiator = kp->is_initiator != 0;
	memcpy(fk.send_key, kp->send_key, 32);
	memcpy(fk.recv_key, kp->recv_key, 32);
	noise_keypair_wipe(kp);
	hs_send(&hs.fwd, IMSG_FWD_KEYPAIR, &fk, sizeof(fk));
	sodium_memzero(&fk, sizeof(fk));
}

/* Static-static DHs held back by HS_SS_INFLIGHT, as room frees up. */
static void
hs_ss_kick(void)
{
	struct hs_peer	*p;

	TAILQ_FOREACH(p, &hs.peers, entry) {
		if (hs.ndh_ss >= HS_SS_INFLIGHT)
			break;
		if (p->ss_retry && !p->ss_pending)
			hs_peer_request_ss(p);
	}
}

static void
hs_dh_ss(struct hs_dh *d, const struct key_dh_res *res)
{
	struct hs_peer	*p;
	char		 name[12];

	if ((p = hs_peer_by_id(d->peer_id)) == NULL)
		return;
	p->ss_pending = 0;
	if (res->generation != hs.generation || hs.key_change_pending) {
		hs_peer_request_ss(p);
		return;
	}
	hs_peer_name(p, name);
	if (res->status == -EAGAIN || res->status == -EBUSY ||
	    res->status == -ESTALE || res->status == -ETIME) {
		/*
		 * The broker's queue was full, the request waited in it too
		 * long (a slow card: dropped before it reached the card), or
		 * the token's touch did not come: ask again soon. (A locked
		 * or absent card announces itself when ready; then every
		 * peer without its DH asks again.)
		 */
		log_debug("peer %s: static-static DH deferred: %s", name,
		    strerror(-res->status));
		p->ss_retry = 1;
		return;
	}
	if (res->status == -ENODEV || res->status == -EACCES ||
	    res->status == -ETIMEDOUT || res->status == -ENOKEY ||
	    res->status == -EPERM || res->status == -ENOLCK ||
	    res->status == -EXDEV || res->status == -ESHUTDOWN) {
		/*
		 * Asked again when the broker announces the key ready: every
		 * card state that is not "ready" (absent, locked or still
		 * verifying its PIN, wrong card, blocked, no pcscd, hung,
		 * error) ends in that announcement or in a human's action.
		 */
		log_info("peer %s: static-static DH waits for the key: %s",
		    name, strerror(-res->status));
		return;
	}
	if (res->status != 0 || noise_peer_set_ss(&p->noise,
	    res->result) == -1) {
		log_warnx("peer %s: static-static DH failed (%s); this peer "
		    "cannot handshake", name, res->status ?
		    strerror(-res->status) : "all-zero result");
		return;
	}
	log_debug("peer %s: static-static DH ready", name);
}

static void
hs_dh_initiation(struct hs_dh *d, const struct key_dh_res *res)
{
	struct wg_msg_response	 resp;
	struct noise_keypair	 kp;
	struct hs_peer		*p;
	uint8_t			 remote[32];
	uint64_t		 now = wg_now_ms();
	char			 name[12];

	if (res->status != 0 || res->generation != hs.generation) {
		log_debug("initiation dropped: the key broker said %s",
		    res->status ? strerror(-res->status) : "key changed");
		noise_initiation_ctx_wipe(&d->ctx.ini);
		return;
	}
	if (noise_consume_initiation_finish(&d->ctx.ini, res->result,
	    remote) == -1) {
		log_debug("initiation dropped: cannot decrypt static key");
		return;
	}
	if ((p = hs_peer_by_key(remote)) == NULL) {
		char	b64[WG_KEY_B64_LEN];

		key_to_base64(b64, remote);
		log_debug("initiation from unknown peer %.8s dropped", b64);
		noise_initiation_ctx_wipe(&d->ctx.ini);
		return;
	}
	hs_peer_name(p, name);
	if (noise_consume_initiation_peer(&d->ctx.ini, &p->noise, now) == -1) {
		log_debug("peer %s: initiation refused (replay, flood or "
		    "bad payload)", name);
		return;
	}
	log_debug("peer %s: received handshake initiation", name);
	p->hs_rx_bytes += WG_MSG_INITIATION_LEN;
	/* Authenticated: the endpoint follows it. */
	hs_peer_set_endpoint(p, &d->ep);
	hs_timers_traversal(p);
	hs_timer_del(p, HS_T_NEW_HANDSHAKE);	/* authenticated received */

	if (p->hs_index != 0)
		hs_idx_free(p->hs_index);
	p->hs_index = 0;
	if (noise_create_response(&p->noise, hs_idx_alloc(p->id,
	    IDX_KEYPAIR), &resp) == -1 ||
	    noise_begin_session(&p->noise.hs, 0, &kp) == -1) {
		log_warnx("peer %s: cannot create a response", name);
		noise_handshake_clear(&p->noise.hs);
		return;
	}
	cookie_maker_add_macs(&p->cm, &resp, sizeof(resp), now);
	/*
	 * A response counts as a handshake sent (the kernel's and
	 * wireguard-go's rule): our data, which cannot go on this session
	 * before the initiator's first packet confirms it, does not start
	 * an initiation of ours that would cross it for REKEY_TIMEOUT.
	 */
	p->last_sent_handshake = now;
	/* The keypair first: data may follow the response at once. */
	hs_send_keypair(p, &kp);
	log_debug("peer %s: sending handshake response", name);
	hs_send_packet(p, &p->ep, &resp, sizeof(resp));
	hs_timer_del(p, HS_T_KEEPALIVE);		/* authenticated sent */
	hs_timers_session_derived(p);
	/*
	 * The handshake is complete (and dated) when the initiator's first
	 * data arrives on the new session: HS_EV_CONFIRMED.
	 */
}

static void
hs_dh_response(struct hs_dh *d, const struct key_dh_res *res)
{
	struct noise_keypair	 kp;
	struct hs_peer		*p;
	struct hs_index		*e;
	char			 name[12];

	if ((p = hs_peer_by_id(d->peer_id)) == NULL ||
	    res->status != 0 || res->generation != hs.generation) {
		noise_response_ctx_wipe(&d->ctx.resp);
		return;
	}
	hs_peer_name(p, name);
	if (noise_consume_response_finish(&d->ctx.resp, &p->noise,
	    res->result) == -1) {
		log_debug("peer %s: response refused", name);
		return;
	}
	if (noise_begin_session(&p->noise.hs, 1, &kp) == -1) {
		log_warnx("peer %s: cannot derive the session", name);
		return;
	}
	log_debug("peer %s: received handshake response", name);
	p->hs_rx_bytes += WG_MSG_RESPONSE_LEN;
	/* The handshake's index is now the keypair's. */
	if ((e = hs_idx_find(kp.local_index)) != NULL)
		e->kind = IDX_KEYPAIR;
	p->hs_index = 0;
	hs_peer_set_endpoint(p, &d->ep);
	hs_send_keypair(p, &kp);
	hs_timers_traversal(p);
	hs_timer_del(p, HS_T_NEW_HANDSHAKE);	/* authenticated received */
	hs_timers_handshake_complete(p);
	hs_timers_session_derived(p);
	/* Staged packets, or a keepalive to confirm the session. */
	hs_send_keepalive(p);
}

static void
hs_dh_result(const struct key_dh_res *res)
{
	struct hs_dh	*d;

	TAILQ_FOREACH(d, &hs.dh, entry)
		if (d->id == res->id)
			break;
	if (d == NULL)
		return;		/* timed out meanwhile */
	switch (d->kind) {
	case DH_SS:
		hs_dh_ss(d, res);
		hs_dh_free(d);
		hs_ss_kick();
		return;
	case DH_INITIATION:
		hs_dh_initiation(d, res);
		break;
	case DH_RESPONSE:
		hs_dh_response(d, res);
		break;
	}
	hs_dh_free(d);
	hs_load_update();
}

static void
hs_m_key_public(struct chan *c, struct imsg *imsg)
{
	struct key_public	kp;

	memcpy(&kp, imsg->data, sizeof(kp));
	hs_key_public(&kp);
}

static void
hs_m_dh_result(struct chan *c, struct imsg *imsg)
{
	struct key_dh_res	res;

	memcpy(&res, imsg->data, sizeof(res));
	sodium_memzero(imsg->data, imsg->len);
	if (!imsg_status_ok(res.status))
		fatalx("bad DH status %d from key broker", res.status);
	hs_dh_result(&res);
	sodium_memzero(&res, sizeof(res));
}

static void
hs_m_key_load(struct chan *c, struct imsg *imsg)
{
	struct key_load		kl;

	memcpy(&kl, imsg->data, sizeof(kl));
	hs.keyd_queued = kl.queued;
	hs.keyd_capacity = kl.capacity;
	hs.keyd_latency_us = kl.last_latency_us;
	hs.keyd_answer_ms = kl.answer_ms;
	hs_load_update();
}

/* Handshake messages from the network. */

/*
 * Whether the key broker has a backlog (initiations waiting for it, or
 * its queue half full); the forwarder is told when that changes and
 * then demands mac2 (it keeps it up for WG_UNDER_LOAD_AFTER_TIME).
 */
static void
hs_load_update(void)
{
	int	load;

	load = hs.ndh_init >= HS_LOAD_PENDING ||
	    (hs.keyd_capacity && hs.keyd_queued >= hs.keyd_capacity / 2) ||
	    (uint64_t)hs.ndh * hs.keyd_latency_us >= HS_LOAD_WAIT_MS * 1000ULL;
	if (load != hs.loaded) {
		hs.loaded = load;
		hs_send_u32(&hs.fwd, IMSG_FWD_LOAD, (uint32_t)load);
	}
}

static void
hs_packet(const struct wg_endpoint *ep, uint32_t flags, uint8_t *msg,
    size_t len)
{
	enum cookie_mac_state	 mac;
	struct hs_dh		*d;
	struct hs_index		*e;
	struct hs_peer		*p;
	uint8_t			 point[32];
	uint32_t		 type, receiver;
	uint64_t		 now = wg_now_ms();

	memcpy(&type, msg, 4);
	type = le32toh(type);
	if (type == WG_MSG_COOKIE && len == WG_MSG_COOKIE_LEN) {
		struct wg_msg_cookie	c;

		memcpy(&c, msg, sizeof(c));
		if ((e = hs_idx_find(le32toh(c.receiver))) == NULL ||
		    (p = hs_peer_by_id(e->peer_id)) == NULL)
			return;
		if (cookie_maker_consume_reply(&p->cm, &c, now) == 0)
			log_debug("received a cookie reply");
		return;
	}
	if (!((type == WG_MSG_INITIATION && len == WG_MSG_INITIATION_LEN) ||
	    (type == WG_MSG_RESPONSE && len == WG_MSG_RESPONSE_LEN)))
		return;
	/*
	 * The forwarder checked mac1 with the key it was told; a key
	 * change may cross the message. mac2 only it can check.
	 */
	mac = hs.has_key ? cookie_checker_validate_mac1(&hs.checker, msg,
	    len) : COOKIE_MAC_INVALID;
	if (mac == COOKIE_MAC_INVALID) {
		hs.drop_bad_mac1++;
		return;
	}
	/* Loaded before the forwarder knew: it answers the next. */
	hs_load_update();
	if (hs.loaded && !(flags & HS_PKT_MAC2)) {
		hs.drop_under_load++;
		return;
	}
	if (hs.ndh >= HS_DH_MAX) {
		hs.drop_broker_busy++;
		return;
	}
	if ((d = calloc(1, sizeof(*d))) == NULL)
		fatal("calloc");
	d->ep = *ep;
	if (type == WG_MSG_INITIATION) {
		if (noise_consume_initiation_begin(&hs.local,
		    (const struct wg_msg_initiation *)msg, &d->ctx.ini,
		    point) == -1) {
			free(d);
			return;
		}
		hs_request_dh(DH_INITIATION, NULL, point, d);
		return;
	}
	memcpy(&receiver, msg + 8, 4);
	if ((e = hs_idx_find(le32toh(receiver))) == NULL ||
	    e->kind != IDX_HANDSHAKE ||
	    (p = hs_peer_by_id(e->peer_id)) == NULL ||
	    noise_consume_response_begin(&p->noise,
	    (const struct wg_msg_response *)msg, &d->ctx.resp, point) == -1) {
		sodium_memzero(d, sizeof(*d));
		free(d);
		return;
	}
	hs_request_dh(DH_RESPONSE, p, point, d);
}

/* What the forwarder's timer events do to a peer's two data timers. */
static void
hs_ev_handshake_stop(struct hs_peer *p)
{
	hs_timer_del(p, HS_T_NEW_HANDSHAKE);
}

static void
hs_ev_handshake_start(struct hs_peer *p)
{
	if (!hs_timer_pending(p, HS_T_NEW_HANDSHAKE))
		hs_timer_mod(p, HS_T_NEW_HANDSHAKE,
		    (WG_KEEPALIVE_TIMEOUT + WG_REKEY_TIMEOUT) * 1000ULL +
		    hs_jitter());
}

static void
hs_ev_keepalive_stop(struct hs_peer *p)
{
	hs_timer_del(p, HS_T_KEEPALIVE);
}

static void
hs_ev_keepalive_start(struct hs_peer *p)
{
	if (!hs_timer_pending(p, HS_T_KEEPALIVE))
		hs_timer_mod(p, HS_T_KEEPALIVE, WG_KEEPALIVE_TIMEOUT * 1000ULL);
	else
		p->need_another_keepalive = 1;
}

/*
 * One timer's pair of events from a report: ev_stop stops it, ev_start
 * starts it. When the report holds both, they are replayed in the order
 * their times give (at equal times start goes last if start_on_tie).
 * Taking only the later of the two left a responder's timer running:
 * each report held a request received and then the reply sent, so the
 * timer was never stopped and the responder began a handshake every 15
 * s under steady traffic.
 */
static void
hs_events_pair(struct hs_peer *p, uint32_t e, uint32_t ev_stop,
    uint64_t t_stop, uint32_t ev_start, uint64_t t_start, int start_on_tie,
    void (*stop)(struct hs_peer *), void (*start)(struct hs_peer *))
{
	int	both, start_last;

	both = (e & ev_stop) && (e & ev_start);
	start_last = both && (t_start > t_stop ||
	    (start_on_tie && t_start == t_stop));
	if ((e & ev_stop) && (!(e & ev_start) || start_last))
		stop(p);
	if (e & ev_start)
		start(p);
	if (both && !start_last)
		stop(p);
}

static void
hs_events(const struct hs_events *ev)
{
	struct hs_peer	*p;
	uint32_t	 e = ev->events;
	char		 name[12];

	if ((p = hs_peer_by_id(ev->peer_id)) == NULL)
		return;
	p->rx_bytes = ev->rx_bytes;
	p->tx_bytes = ev->tx_bytes;
	p->drops = ev->drops;
	if (e & HS_EV_ENDPOINT)
		p->ep = ev->ep;
	/*
	 * The events of one report are replayed in the order they
	 * happened, as the kernel's timers see them one by one: an
	 * authenticated packet received stops the new-handshake timer,
	 * data sent starts it unless it runs; data received starts the
	 * keepalive timer (or asks for another), an authenticated packet
	 * sent stops it.
	 */
	hs_events_pair(p, e, HS_EV_AUTH_RECEIVED, ev->t_auth_received,
	    HS_EV_DATA_SENT, ev->t_data_sent, 1, hs_ev_handshake_stop,
	    hs_ev_handshake_start);
	hs_events_pair(p, e, HS_EV_AUTH_SENT, ev->t_auth_sent,
	    HS_EV_DATA_RECEIVED, ev->t_data_received, 0, hs_ev_keepalive_stop,
	    hs_ev_keepalive_start);
	if (e & HS_EV_CONFIRMED)
		hs_timers_handshake_complete(p);
	if (e & HS_EV_TRAVERSAL)
		hs_timers_traversal(p);
	/*
	 * Data asked for a handshake. If it asked before the forwarder had
	 * the newest keypair (one derived while the report was on its way:
	 * the response a card answered late, say), that keypair may carry
	 * the data: a new initiation would make the peer forget it. The
	 * forwarder asks again if it cannot. Behind, not merely different
	 * (mod 2^32): a count that drifted would never silence it.
	 */
	if (!(e & HS_EV_WANT_HANDSHAKE))
		return;
	if ((int32_t)(p->keypairs - ev->keypairs) <= 0)
		hs_send_initiation(p, 0);
	else {
		hs_peer_name(p, name);
		log_debug("peer %s: a handshake asked for before the newest "
		    "session reached the forwarder: not started", name);
	}
}

static void
hs_m_packet(struct chan *c, struct imsg *imsg)
{
	struct hs_packet	hp;

	/* At least the message type (hs_packet reads it): hs_rules. */
	memcpy(&hp, imsg->data, sizeof(hp));
	hs_packet(&hp.ep, hp.flags, imsg->data + sizeof(hp),
	    imsg->len - sizeof(hp));
}

static void
hs_m_fwd_stats(struct chan *c, struct imsg *imsg)
{
	memcpy(&hs.fwd_stats, imsg->data, sizeof(hs.fwd_stats));
}

static void
hs_m_events(struct chan *c, struct imsg *imsg)
{
	struct hs_events	ev;

	memcpy(&ev, imsg->data, sizeof(ev));
	hs_events(&ev);
}

static void
hs_m_fwd_info(struct chan *c, struct imsg *imsg)
{
	memcpy(&hs.fwd_info, imsg->data, sizeof(hs.fwd_info));
	hs.fwd_info.backend[sizeof(hs.fwd_info.backend) - 1] = '\0';
	hs.fwd_info.offloads[sizeof(hs.fwd_info.offloads) - 1] = '\0';
}

static void
hs_m_keypair_gone(struct chan *c, struct imsg *imsg)
{
	struct hs_index	*e;
	uint32_t	 idx;

	memcpy(&idx, imsg->data, sizeof(idx));
	if ((e = hs_idx_find(idx)) != NULL && e->kind == IDX_KEYPAIR)
		hs_idx_free(idx);
}

/* UAPI. */

static void
hs_aip_fmt(int family, const uint8_t *addr, uint8_t cidr, void *arg)
{
	uapi_fmt_aip(arg, family, addr, cidr);
}

static void
hs_uapi_get(struct buf *out)
{
	struct uapi_peer_info	 info;
	struct hs_peer		*p;

	/*
	 * The whole answer's room at once: growing by doubling held the
	 * old block and its copy together (with 1000 peers 256 + 512 KiB
	 * for a 300 KiB answer). The bound is above any peer's lines (a
	 * key, a psk, an IPv6 endpoint with a scope, 20-digit counters)
	 * and any prefix's; what is not written stays unmapped. (Without
	 * it, the answer grows as it is written.)
	 */
	(void)buf_expect(out, HS_UAPI_DEVICE_MAX + hs.npeers *
	    HS_UAPI_PEER_MAX + aip_count(hs.aips) * HS_UAPI_AIP_MAX);
	uapi_fmt_device(out, hs.port, hs.fwmark);
	TAILQ_FOREACH(p, &hs.peers, entry) {
		memset(&info, 0, sizeof(info));
		memcpy(info.pubkey, p->noise.remote_static, 32);
		if (p->has_psk) {
			memcpy(info.psk, p->noise.psk, 32);
			info.has_psk = 1;
		}
		info.endpoint = p->ep.addr;
		info.last_handshake_sec = p->last_handshake.tv_sec;
		info.last_handshake_nsec = p->last_handshake.tv_nsec;
		info.rx_bytes = p->rx_bytes + p->hs_rx_bytes;
		info.tx_bytes = p->tx_bytes;
		info.keepalive = p->keepalive;
		info.protocol_version = 1;
		uapi_fmt_peer(out, &info);
		sodium_memzero(&info, sizeof(info));
		aip_walk_owner(hs.aips, p, hs_aip_fmt, out);
	}
	uapi_fmt_errno(out, 0);
}

/* A change set's answer, once nothing it asked for is to come. */
static void
hs_wait_done(struct hs_wait *w)
{
	int32_t	status = -w->result;

	if (w->conn == 0)
		hs_send(&hs.parent, IMSG_CFG_DONE, &status, sizeof(status));
	else
		control_finish(w->conn, w->result, NULL);
}

/*
 * Applies a change set for conn (0: the parent's configuration): the
 * answer, a positive errno, or CONTROL_PENDING when the privileged steps
 * it asked for are to come (then hs_unwait() answers).
 */
static int
hs_change(struct wg_devconf *conf, uint32_t conn)
{
	struct hs_wait	*w;
	int		 r, waits = 0;

	r = -hs_apply(conf, &waits);
	if (waits == 0)
		return r;
	if ((w = calloc(1, sizeof(*w))) == NULL)
		fatal("%s", __func__);
	w->conn = conn;
	w->waiting = waits;
	w->result = r;
	TAILQ_INSERT_TAIL(&hs.waits, w, entry);
	return CONTROL_PENDING;
}

/* A privileged step is done (status 0 or -errno): the oldest its kind. */
static void
hs_unwait(int flag, int status)
{
	struct hs_wait	*w;

	TAILQ_FOREACH(w, &hs.waits, entry)
		if (w->waiting & flag)
			break;
	if (w == NULL)
		return;
	w->waiting &= ~flag;
	if (status && !w->result)
		w->result = -status;
	if (w->waiting)
		return;
	TAILQ_REMOVE(&hs.waits, w, entry);
	hs_wait_done(w);
	free(w);
}

/* One UAPI request, framed by uapi_frame(). */
static int
hs_uapi_serve(struct control_conn *c, char *req, size_t len, struct buf *out)
{
	struct wg_devconf	 conf;
	char			 err[256];
	int			 r;

	if (len == 7 && memcmp(req, "get=1\n\n", 7) == 0) {
		hs_uapi_get(out);
		return 0;
	}
	/* "set=1\n", the lines, "\n": the parser takes the lines. */
	wgconf_init(&conf);
	r = uapi_parse_set(req + 6, len - 6 - 1, &conf, err, sizeof(err));
	if (r != 0)
		log_warnx("UAPI set refused: %s", err);
	else
		r = hs_change(&conf, control_conn_id(c));
	wgconf_free(&conf);
	if (r != CONTROL_PENDING)
		uapi_fmt_errno(out, r);
	return r == CONTROL_PENDING ? CONTROL_PENDING : 0;
}

static const struct control_proto hs_uapi_proto = {
	.name = "UAPI",
	.max_request = UAPI_MAX_REQUEST,
	.max_clients = UAPI_MAX_CLIENTS,
	.idle_sec = UAPI_IDLE_SEC,
	.frame = uapi_frame,
	.serve = hs_uapi_serve,
	.end = uapi_end,
};

/*
 * The parent's configuration (IMSG_CFG_CHUNK...IMSG_CFG_END), applied as
 * a UAPI set is; sync: a reload (hs_sync). The answer, IMSG_CFG_DONE,
 * goes now or when the privileged steps it asked for are done.
 */
static void
hs_configure(int sync)
{
	struct wg_devconf	 conf;
	char			 err[256];
	int32_t			 r;

	wgconf_init(&conf);
	r = uapi_parse_set(hs.cfg.data ? hs.cfg.data : "", hs.cfg.len, &conf,
	    err, sizeof(err));
	buf_free(&hs.cfg);
	if (r != 0)
		log_warnx("configuration refused: %s", err);
	else {
		if (sync)
			hs_sync(&conf);
		r = hs_change(&conf, 0);
	}
	wgconf_free(&conf);
	if (r == CONTROL_PENDING)
		return;
	r = -r;
	hs_send(&hs.parent, IMSG_CFG_DONE, &r, sizeof(r));
}

/* The control socket (control.c serves it; these answer). */

static const char *
hs_key_state_name(uint32_t state)
{
	switch (state) {
	case KEY_STATE_NOKEY:
		return "nokey";
	case KEY_STATE_READY:
		return "ready";
	case KEY_STATE_LOCKED:
		return "locked";
	case KEY_STATE_ABSENT:
		return "absent";
	case KEY_STATE_BLOCKED:
		return "blocked";
	case KEY_STATE_WRONG_CARD:
		return "wrong-card";
	case KEY_STATE_PIN_SUSPECT:
		return "pin-suspect";
	case KEY_STATE_HELD:
		return "held";
	}
	return "unknown";
}

static void
hs_aip_ctl(int family, const uint8_t *addr, uint8_t cidr, void *arg)
{
	struct buf	*b = arg;
	char		 s[INET6_ADDRSTRLEN];

	inet_ntop(family, addr, s, sizeof(s));
	buf_printf(b, "allowed_ip=%s/%u\n", s, cidr);
}

/*
 * Cookie replies sent, and handshake messages dropped: in all, then by
 * cause (drop_*; wgcardctl(8) says what each means). The forwarder's
 * figures are those of its last report (each second they change).
 */
static void
hs_ctl_drops(struct buf *out)
{
	const struct fwd_hs_stats *f = &hs.fwd_stats;
	const struct {
		const char	*name;
		uint64_t	 n;
	} drops[] = {
		{ "no_key", f->no_key },
		{ "bad_mac1", f->bad_mac1 + hs.drop_bad_mac1 },
		{ "ratelimited", f->ratelimited },
		{ "cookie_ratelimited", f->cookie_ratelimited },
		{ "queue_full", f->queue_full },
		{ "cookie_no_buffer", f->cookie_no_buffer },
		{ "send_no_buffer", f->send_no_buffer },
		{ "send_failed", f->send_failed },
		{ "control_queue_full", f->control_queue_full },
		{ "under_load", hs.drop_under_load },
		{ "broker_busy", hs.drop_broker_busy },
	};
	uint64_t	total = 0;
	size_t		i;

	for (i = 0; i < sizeof(drops) / sizeof(drops[0]); i++)
		total += drops[i].n;
	buf_printf(out, "cookie_replies=%llu\nhandshakes_dropped=%llu\n",
	    (unsigned long long)f->cookie_replies, (unsigned long long)total);
	for (i = 0; i < sizeof(drops) / sizeof(drops[0]); i++)
		buf_printf(out, "drop_%s=%llu\n", drops[i].name,
		    (unsigned long long)drops[i].n);
}

static int
hs_ctl_show(struct control_req *req, struct buf *out)
{
	struct hs_peer	*p;
	char		 b64[WG_KEY_B64_LEN], ep[INET6_ADDRSTRLEN + 16];

	if (req->argc != 0)
		return EINVAL;
	buf_printf(out, "interface=%s\n", hs.opts->ifname);
	if (hs.has_key) {
		key_to_base64(b64, hs.local.public_key);
		buf_printf(out, "public_key=%s\n", b64);
	}
	buf_printf(out, "listen_port=%u\nfwmark=%u\n", hs.port, hs.fwmark);
	buf_printf(out, "key_ready=%d\n", hs.has_key);
	if (hs.fwd_info.backend[0] != '\0')
		buf_printf(out, "forwarder=%s\noffloads=%s\ncrypto_workers=%u\n",
		    hs.fwd_info.backend, hs.fwd_info.offloads,
		    hs.fwd_info.crypto_workers);
	buf_printf(out, "under_load=%d\n", hs.loaded ||
	    hs.fwd_stats.under_load);
	buf_printf(out, "broker_pending=%zu\nbroker_queued=%u\n", hs.ndh,
	    hs.keyd_queued);
	hs_ctl_drops(out);
	buf_printf(out, "peers=%zu\n", hs.npeers);
	TAILQ_FOREACH(p, &hs.peers, entry) {
		key_to_base64(b64, p->noise.remote_static);
		buf_printf(out, "peer=%s\n", b64);
		if (p->ep.addr.sa.sa_family == AF_INET) {
			inet_ntop(AF_INET, &p->ep.addr.sin.sin_addr, ep,
			    sizeof(ep));
			buf_printf(out, "endpoint=%s:%u\n", ep,
			    ntohs(p->ep.addr.sin.sin_port));
		} else if (p->ep.addr.sa.sa_family == AF_INET6) {
			inet_ntop(AF_INET6, &p->ep.addr.sin6.sin6_addr, ep,
			    sizeof(ep));
			buf_printf(out, "endpoint=[%s]:%u\n", ep,
			    ntohs(p->ep.addr.sin6.sin6_port));
		}
		aip_walk_owner(hs.aips, p, hs_aip_ctl, out);
		buf_printf(out, "latest_handshake=%lld\n",
		    (long long)p->last_handshake.tv_sec);
		buf_printf(out, "rx_bytes=%llu\ntx_bytes=%llu\n",
		    (unsigned long long)(p->rx_bytes + p->hs_rx_bytes),
		    (unsigned long long)p->tx_bytes);
		buf_printf(out, "persistent_keepalive=%u\n", p->keepalive);
		buf_printf(out, "preshared_key=%s\n", p->has_psk ? "yes" : "no");
		buf_printf(out, "drops=%llu\n", (unsigned long long)p->drops);
	}
	return 0;
}

static int
hs_ctl_version(struct control_req *req, struct buf *out)
{
	buf_printf(out, "version=%s\n", WGCARD_VERSION);
	return 0;
}

static int
hs_ctl_card_status(struct control_req *req, struct buf *out)
{
	uint32_t	id = control_conn_id(req->conn);

	if (req->argc != 0)
		return EINVAL;
	if (hs.ctl_status_conn != 0)
		return EBUSY;
	hs.ctl_status_conn = id;
	hs_send(&hs.keyd, IMSG_KEY_STATUS, &id, sizeof(id));
	return CONTROL_PENDING;
}

static int
hs_ctl_card_pubkey(struct control_req *req, struct buf *out)
{
	char	b64[WG_KEY_B64_LEN];

	if (req->argc != 0)
		return EINVAL;
	if (!hs.has_key)
		return ENOKEY;
	key_to_base64(b64, hs.local.public_key);
	buf_printf(out, "public_key=%s\n", b64);
	return 0;
}

static int
hs_ctl_card_unlock(struct control_req *req, struct buf *out)
{
	struct key_pin	kp;
	size_t		len;

	if (req->argc != 0 || req->secret == NULL)
		return EINVAL;
	if ((len = strlen(req->secret)) == 0 || len >= KEY_PIN_MAX)
		return EINVAL;
	if (hs.ctl_pin_conn != 0)
		return EBUSY;
	memset(&kp, 0, sizeof(kp));
	hs.ctl_pin_conn = control_conn_id(req->conn);
	kp.len = len;
	memcpy(kp.pin, req->secret, len);
	/* In transit only: it goes to the broker and is wiped here. */
	hs_send(&hs.keyd, IMSG_KEY_PIN, &kp, sizeof(kp));
	sodium_memzero(&kp, sizeof(kp));
	chan_flush(&hs.keyd);
	return CONTROL_PENDING;
}

static int
hs_ctl_reload(struct control_req *req, struct buf *out)
{
	uint32_t	uid = req->uid;

	if (req->argc != 0)
		return EINVAL;
	if (hs.ctl_reload_conn != 0)
		return EBUSY;
	hs.ctl_reload_conn = control_conn_id(req->conn);
	hs_send(&hs.parent, IMSG_CTL_RELOAD, &uid, sizeof(uid));
	return CONTROL_PENDING;
}

static int
hs_ctl_log(struct control_req *req, struct buf *out)
{
	int32_t	v;

	if (req->argc != 1)
		return EINVAL;
	if (strcmp(req->argv[0], "verbose") == 0)
		v = 1;
	else if (strcmp(req->argv[0], "brief") == 0)
		v = 0;
	else
		return EINVAL;
	log_setverbose(v);
	hs_send(&hs.parent, IMSG_CTL_LOG, &v, sizeof(v));
	buf_printf(out, "log=%s\n", v ? "verbose" : "brief");
	return 0;
}

static const struct control_cmd hs_ctl_cmds[] = {
	{ { "show", NULL }, 0, 0, hs_ctl_show },
	{ { "version", NULL }, 0, 0, hs_ctl_version },
	{ { "card", "status", NULL }, 0, 0, hs_ctl_card_status },
	{ { "card", "pubkey", NULL }, 0, 0, hs_ctl_card_pubkey },
	{ { "card", "unlock", NULL }, 1, 1, hs_ctl_card_unlock },
	{ { "reload", NULL }, 1, 0, hs_ctl_reload },
	{ { "log", NULL }, 1, 0, hs_ctl_log },
	{ { NULL }, 0, 0, NULL }
};

/* A text from the broker made one line of a control answer. */
static void
hs_one_line(char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = ' ';
}

static void
hs_m_key_status(struct chan *c, struct imsg *imsg)
{
	struct key_status	ks;
	struct buf		b;
	char			b64[WG_KEY_B64_LEN];

	memcpy(&ks, imsg->data, sizeof(ks));
	ks.backend[sizeof(ks.backend) - 1] = '\0';
	ks.reader[sizeof(ks.reader) - 1] = '\0';
	ks.serial[sizeof(ks.serial) - 1] = '\0';
	ks.fingerprint[sizeof(ks.fingerprint) - 1] = '\0';
	ks.reason[sizeof(ks.reason) - 1] = '\0';
	ks.touch[sizeof(ks.touch) - 1] = '\0';
	/* One line of the answer each: no control character from the broker. */
	hs_one_line(ks.reason);
	hs_one_line(ks.touch);
	/* An answer nobody asked for (id 0: no request waits) is dropped. */
	if (hs.ctl_status_conn == 0 || ks.id != hs.ctl_status_conn)
		return;
	hs.ctl_status_conn = 0;
	buf_init(&b);
	buf_printf(&b, "backend=%s\nstate=%s\n", ks.backend,
	    hs_key_state_name(ks.state));
	if (ks.reader[0])
		buf_printf(&b, "reader=%s\n", ks.reader);
	if (ks.serial[0])
		buf_printf(&b, "serial=%s\n", ks.serial);
	if (ks.fingerprint[0])
		buf_printf(&b, "fingerprint=%s\n", ks.fingerprint);
	if (ks.has_pub) {
		key_to_base64(b64, ks.pub);
		buf_printf(&b, "public_key=%s\n", b64);
	}
	if (ks.pin_retries >= 0)
		buf_printf(&b, "pin_retries=%d\n", ks.pin_retries);
	if (ks.pin_retries >= 0 && ks.pin_retries_max > 0)
		buf_printf(&b, "pin_retries_max=%d\n", ks.pin_retries_max);
	if (ks.reason[0])
		buf_printf(&b, "reason=%s\n", ks.reason);
	if (ks.touch[0])
		buf_printf(&b, "touch=%s\n", ks.touch);
	buf_printf(&b, "operations=%llu\nlast_latency_us=%u\nqueued=%u\n",
	    (unsigned long long)ks.ops, ks.last_latency_us, ks.queued);
	control_finish(ks.id, 0, b.data);
	buf_free(&b);
}

/*
 * What wgcardctl card unlock says for each answer of the key broker to
 * a PIN; any other status says its strerror. A text's one conversion,
 * where it has one, is a %d for the retries left.
 */
static const struct {
	int		 status;
	const char	*text;
} hs_pin_texts[] = {
	{ 0,		"unlocked=yes\npin_retries=%d\n" },
	{ -EACCES,	"wrong PIN, %d retries left" },
	{ -EALREADY,	"the same wrong PIN as before: not sent to the card, "
			"no retry spent (%d left)" },
	{ -EINVAL,	"a PIN has 6 to 127 characters: not sent to the card, "
			"no retry spent" },
	{ -EXDEV,	"the card in the reader is not the expected one "
			"(wrong-card): the PIN is kept, not sent" },
	{ -EPERM,	"the PIN is blocked: reset it with the admin PIN (see "
			"the operations guide)" },
	{ -EAGAIN,	"another unlock less than 5 s ago: not sent to the "
			"card, no retry spent; try again" },
	{ -EDQUOT,	"one retry left: not sent (UnlockLastTry = no); verify "
			"with gpg --card-edit" },
	{ -ENODEV,	"no card now: the PIN is kept and verified when the "
			"card comes" },
	{ -EOPNOTSUPP,	"the key backend takes no PIN" },	/* = ENOTSUP */
	{ -EBADMSG,	"the card refused the PIN's format (its KDF "
			"setting?); nothing spent" },
	{ -ENOSYS,	"the card's KDF setting (DO F9) is one wgcard cannot "
			"do; no PIN sent" },
};
_Static_assert(ENOTSUP == EOPNOTSUPP, "one row for ENOTSUP, EOPNOTSUPP");

static void
hs_m_pin_result(struct chan *c, struct imsg *imsg)
{
	struct key_pin_result	r;
	char			msg[128];
	size_t			i;

	memcpy(&r, imsg->data, sizeof(r));
	if (!imsg_status_ok(r.status))
		fatalx("bad PIN status %d from key broker", r.status);
	if (hs.ctl_pin_conn == 0)
		return;
	snprintf(msg, sizeof(msg), "%s", strerror(-r.status));
	for (i = 0; i < sizeof(hs_pin_texts) / sizeof(hs_pin_texts[0]); i++)
		if (hs_pin_texts[i].status == r.status) {
			snprintf(msg, sizeof(msg), hs_pin_texts[i].text,
			    r.retries);
			break;
		}
	control_finish(hs.ctl_pin_conn, -r.status, msg);
	hs.ctl_pin_conn = 0;
}

/* The parent. */

static void
hs_m_uapi_fd(struct chan *c, struct imsg *imsg)
{
	if (hs.uapi_started)
		fatalx("a second UAPI socket from the parent");
	hs.uapi_started = 1;
	control_listen(imsg->fd, &hs_uapi_proto);
}

static void
hs_m_ctl_fd(struct chan *c, struct imsg *imsg)
{
	if (hs.ctl_started)
		fatalx("a second control socket from the parent");
	hs.ctl_started = 1;
	control_init(imsg->fd, hs_ctl_cmds, hs.ctl_group);
}

static void
hs_m_reload_done(struct chan *c, struct imsg *imsg)
{
	struct ctl_result	cr;

	memcpy(&cr, imsg->data, sizeof(cr));
	if (!imsg_status_ok(cr.status))
		fatalx("bad reload status %d from parent", cr.status);
	cr.message[sizeof(cr.message) - 1] = '\0';
	if (hs.ctl_reload_conn != 0)
		control_finish(hs.ctl_reload_conn, -cr.status, cr.message);
	hs.ctl_reload_conn = 0;
}

static void
hs_m_cfg_chunk(struct chan *c, struct imsg *imsg)
{
	if (buf_append(&hs.cfg, imsg->data, imsg->len) == -1)
		fatal("config");
	sodium_memzero(imsg->data, imsg->len);
}

static void
hs_m_cfg_end(struct chan *c, struct imsg *imsg)
{
	uint32_t	sync;

	memcpy(&sync, imsg->data, sizeof(sync));
	hs_configure(sync != 0);
}

static void
hs_m_port(struct chan *c, struct imsg *imsg)
{
	struct priv_port	pp;

	memcpy(&pp, imsg->data, sizeof(pp));
	if (!imsg_status_ok(pp.status))
		fatalx("bad port status %d from parent", pp.status);
	hs.port = pp.port;
	hs_unwait(WAIT_PORT, pp.status);
}

static void
hs_m_fwmark(struct chan *c, struct imsg *imsg)
{
	int32_t	r;

	memcpy(&r, imsg->data, sizeof(r));
	if (!imsg_status_ok(r))
		fatalx("bad fwmark status %d from parent", r);
	if (r == 0)
		hs.fwmark = hs.fwmark_req;
	hs_unwait(WAIT_FWMARK, r);
}

#define FROM_PARENT	CHAN_FROM(PROC_PARENT)
#define FROM_KEYD	CHAN_FROM(PROC_KEYD)
#define FROM_FWD	CHAN_FROM(PROC_FORWARDER)
/* A message of exactly one struct (or integer), without descriptor. */
#define HS_EXACT(t, from, type, h)					\
	CHAN_RULE(t, from, sizeof(type), sizeof(type), CHAN_FD_NO, h)

/*
 * Every message the handshake process takes, who may send it, its size
 * (bytes: min, max) and whether it carries a descriptor. chan_read()
 * checks each against this before its handler runs: anything else is
 * fatal (a broken or compromised sibling).
 */
static const struct chan_rule hs_rules[] = {
	/* From the parent. */
	CHAN_RULE(IMSG_CFG_UAPI_FD, FROM_PARENT, 0, 0, CHAN_FD_YES,
	    hs_m_uapi_fd),
	CHAN_RULE(IMSG_CTL_FD, FROM_PARENT, 0, 0, CHAN_FD_YES, hs_m_ctl_fd),
	CHAN_RULE(IMSG_CFG_CHUNK, FROM_PARENT, 1, IMSG_MAX_PAYLOAD,
	    CHAN_FD_NO, hs_m_cfg_chunk),
	HS_EXACT(IMSG_CFG_END, FROM_PARENT, uint32_t, hs_m_cfg_end),
	HS_EXACT(IMSG_PRIV_PORT, FROM_PARENT, struct priv_port, hs_m_port),
	HS_EXACT(IMSG_PRIV_FWMARK, FROM_PARENT, int32_t, hs_m_fwmark),
	HS_EXACT(IMSG_CTL_RELOAD_DONE, FROM_PARENT, struct ctl_result,
	    hs_m_reload_done),
	/* From the key broker. */
	HS_EXACT(IMSG_KEY_PUBLIC, FROM_KEYD, struct key_public,
	    hs_m_key_public),
	HS_EXACT(IMSG_KEY_DH_RESULT, FROM_KEYD, struct key_dh_res,
	    hs_m_dh_result),
	HS_EXACT(IMSG_KEY_STATUS_RESULT, FROM_KEYD, struct key_status,
	    hs_m_key_status),
	HS_EXACT(IMSG_KEY_PIN_RESULT, FROM_KEYD, struct key_pin_result,
	    hs_m_pin_result),
	HS_EXACT(IMSG_KEY_LOAD, FROM_KEYD, struct key_load, hs_m_key_load),
	/* From the forwarder: a packet has at least its type. */
	CHAN_RULE(IMSG_HS_PACKET, FROM_FWD,
	    sizeof(struct hs_packet) + sizeof(uint32_t),
	    sizeof(struct hs_packet) + WG_MSG_INITIATION_LEN, CHAN_FD_NO,
	    hs_m_packet),
	HS_EXACT(IMSG_HS_FWD_STATS, FROM_FWD, struct fwd_hs_stats,
	    hs_m_fwd_stats),
	HS_EXACT(IMSG_HS_EVENTS, FROM_FWD, struct hs_events, hs_m_events),
	HS_EXACT(IMSG_HS_FWD_INFO, FROM_FWD, struct fwd_info, hs_m_fwd_info),
	HS_EXACT(IMSG_HS_KEYPAIR_GONE, FROM_FWD, uint32_t, hs_m_keypair_gone),
};
#define HS_NRULES	(sizeof(hs_rules) / sizeof(hs_rules[0]))

/* The channels to the parent and the siblings (also the tests' way in). */
static void
hs_chans_init(int parent_fd, int keyd_fd, int fwd_fd)
{
	chan_init(&hs.parent, "parent", PROC_PARENT, parent_fd, hs_rules,
	    HS_NRULES, NULL);
	chan_init(&hs.keyd, "key broker", PROC_KEYD, keyd_fd, hs_rules,
	    HS_NRULES, NULL);
	chan_init(&hs.fwd, "forwarder", PROC_FORWARDER, fwd_fd, hs_rules,
	    HS_NRULES, NULL);
}

/* Once a second: broker timeouts, rate limiter upkeep. */
static void
hs_tick(int fd, short event, void *arg)
{
	struct timeval	 tv = { 1, 0 };
	struct hs_dh	*d, *tmp;
	struct hs_peer	*p;
	uint64_t	 now = wg_now_ms(), limit = HS_DH_TIMEOUT_MS;
	unsigned int	 dropped = 0;

	/* A slow card, a touch policy: the broker says how long it may take. */
	if (hs.keyd_answer_ms + 1000ULL > limit)
		limit = hs.keyd_answer_ms + 1000ULL;
	TAILQ_FOREACH_SAFE(d, &hs.dh, entry, tmp) {
		if (now - d->started < limit)
			continue;
		dropped++;
		if (d->kind == DH_SS && (p = hs_peer_by_id(d->peer_id)) != NULL)
			p->ss_pending = 0;
		hs_dh_free(d);
	}
	if (dropped > 0)
		log_warnx("key broker did not answer %u request%s within "
		    "%llu ms; dropped", dropped, dropped == 1 ? "" : "s",
		    (unsigned long long)limit);
	hs_load_update();
	TAILQ_FOREACH(p, &hs.peers, entry)
		if (p->ss_retry && !p->ss_pending)
			hs_peer_request_ss(p);
	evtimer_add(&hs.ev_tick, &tv);
}

/* The process's state before any message (the fuzz target's too). */
static void
hs_state_init(void)
{
	TAILQ_INIT(&hs.peers);
	TAILQ_INIT(&hs.dh);
	TAILQ_INIT(&hs.waits);
	buf_init(&hs.cfg);
	if ((hs.aips = aip_new()) == NULL)
		fatal("aip_new");
	timerq_init(&hs.timers);
	evtimer_set(&hs.ev_timer, hs_timer_fire, NULL);
}

void
handshake_main(const struct proc_opts *opts)
{
	struct timeval	tv = { 1, 0 };

	hs.opts = opts;
	log_init(opts->debug, LOG_DAEMON);
	log_setverbose(opts->verbose);
	log_procinit("handshake");
	proc_nocore();
	wg_crypto_init();
	proc_setname("wgcard-hs");
	proc_settitle("wgcardd: handshake [%s]", opts->ifname);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);

	{
		struct group	*gr;

		/* Resolved before the chroot, where there is no /etc/group. */
		hs.ctl_group = (gr = getgrnam(CONTROL_GROUP)) != NULL ?
		    gr->gr_gid : 0;
	}
	proc_privdrop(WGCARD_USER, WGCARD_CHROOT);
	event_init();
	hs_state_init();
	sandbox_handshake();

	hs_chans_init(PROC_PARENT_FD, PROC_SIBLING_FD, PROC_SIBLING2_FD);
	log_set_audit_hook(hs_audit_hook);
	evtimer_set(&hs.ev_tick, hs_tick, NULL);
	evtimer_add(&hs.ev_tick, &tv);

	/* Start-up's file pages go before the peers come (proc_trim). */
	proc_trim();
	event_dispatch();
	exit(0);
}
