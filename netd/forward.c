/*
 * forward.c: the forwarder, wgcardd's fast path. Unprivileged, chrooted,
 * under seccomp. It moves packets between the TUN interface and the UDP
 * sockets: IP packets read from TUN are routed to a peer by the
 * allowed-IPs trie, encrypted with that peer's current session key and
 * sent; UDP datagrams are received, data messages are decrypted, checked
 * against the replay window and the peer's allowed IPs, and written to
 * TUN; handshake messages go to the handshake process with the address
 * they came from and the local address they were sent to.
 *
 * This file is the packet logic only. An I/O backend (fwd_classic.c or
 * fwd_uring.c, chosen at start) reads and writes, and hands what arrived
 * at once to fwd_in_tun / fwd_in_udp, then calls fwd_in_end. Packets
 * collect in a batch: each is routed, given its keypair and nonce
 * counter here, in arrival order; the AEAD of the whole batch runs in
 * parallel (fwd_crypto.c); then the batch completes in order on this
 * thread (replay window, keypair confirmation, roaming, allowed IPs,
 * events) and goes out. So a packet never overtakes an earlier one of
 * the same peer, and every piece of state is touched by this thread
 * alone. Messages from the handshake process are handled between
 * batches only; a keypair retired while a batch is in flight is wiped
 * when the batch is done.
 *
 * Memory: packet buffers come from one fixed pool (fwd_pool.c); packets
 * waiting for a session are copied into a fixed staging arena; send
 * descriptors come from a fixed table. When one runs out the packet is
 * dropped and counted; nothing is allocated per packet.
 *
 * The forwarder holds session keys only: the handshake process derives
 * them and hands them over (IMSG_FWD_KEYPAIR); they are wiped when they
 * are replaced, when the peer goes, and at REJECT_AFTER_TIME.
 *
 * Timer events (data sent/received, authenticated packets) are collected
 * per peer and reported to the handshake process at most every
 * FWD_EVENT_MS, with the time of the last event of each kind so it can
 * tell their order. Those a handshake waits for (WANT_HANDSHAKE,
 * CONFIRMED) go at the end of the wakeup that raised them; the others
 * FWD_EVENT_MS after the first of them, in a wakeup of their own: the
 * message wakes the handshake process, which then takes the CPU from
 * this one, and a packet of an idle tunnel (a ping) would otherwise
 * wait for it on every hop (70-200 us here, docs/performance.md).
 *
 * Handshake messages are screened here, before they cost the handshake
 * process a wakeup, as the kernel screens them in its receive path:
 * mac1 is checked (its key comes from the interface's public key,
 * IMSG_FWD_IDENTITY); under load (more than FWD_LOAD_RATE of them a
 * second, a backlog to the handshake process, or the handshake process
 * says so with IMSG_FWD_LOAD) one without a valid mac2 is answered here
 * with a cookie reply, and one with a valid mac2 passes the per-source
 * rate limit first. The cookie secret lives here for that (see
 * docs/threat-model.md). What goes on to the handshake process has a
 * bounded share of the channel (FWD_HSQ_*), so timer events and
 * keypair-gone messages always find room; handshake messages of our own
 * and cookie replies are sent from send units the data path cannot
 * exhaust (FWD_TX_RESERVE). Every message dropped is counted by cause
 * (struct fwd_hs_stats, reported each second for wgcardctl show).
 */
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/types.h>

#include <netinet/in.h>
#include <netinet/udp.h>

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "aead.h"
#include "allowedips.h"
#include "chan.h"
#include "compat.h"
#include "cookie.h"
#include "crypto.h"
#include "forward.h"
#include "fwd.h"
#include "fwd_offload.h"
#include "fwd_pool.h"
#include "imsg.h"
#include "log.h"
#include "messages.h"
#include "proc.h"
#include "ratelimiter.h"
#include "replay.h"
#include "sandbox.h"
#include "sock.h"
#include "wgcard.h"
#include "wgcardd.h"

#define FWD_BATCH_MAX		512	/* packets encrypted/decrypted at once */
#define FWD_STAGED_MAX		128	/* per peer, as the kernel */
#define FWD_STAGE_SLOT		2048
#define FWD_STAGE_SLOTS		512	/* 1 MiB of staged packets in all */
#define FWD_EVENT_MS		5
#define FWD_EVENT_URGENT	(HS_EV_WANT_HANDSHAKE | HS_EV_CONFIRMED)
#define FWD_INDEX_BUCKETS	4096
#define FWD_PEER_BUCKETS	1024
#define FWD_HS_QUEUE_MAX	(1024 * 1024)
/*
 * Of the channel to the handshake process, handshake messages may fill
 * FWD_HSQ_PACKETS (with mac2 checked under load: FWD_HSQ_CHECKED); the
 * rest is for control messages. A backlog of an eighth of the first
 * share puts us under load.
 */
#define FWD_HSQ_PACKETS		(128 * 1024)
#define FWD_HSQ_CHECKED		(512 * 1024)
#define FWD_LOAD_RATE		100	/* initiations and responses a second */

struct fwd_peer;

struct fwd_kp {
	struct fwd_kp	*hnext;
	struct fwd_kp	*gnext;		/* retired, wiped after the batch */
	struct fwd_peer	*peer;
	uint32_t	 local_index;
	uint32_t	 remote_index;
	uint64_t	 send_counter;
	uint64_t	 birth_ms;	/* fwd.now when it came: fwd_kp_age */
	int		 initiator;
	int		 send_expired;
	int		 dead;
	struct replay	 replay;
	struct aead_key	*send_key, *recv_key;
};

struct fwd_staged {
	uint32_t	 len;
	int		 first;		/* slot chain in the arena */
};

struct fwd_peer {
	struct fwd_peer		*hnext;
	struct fwd_peer		*fnext;		/* staged flush list */
	uint32_t		 id;
	struct wg_endpoint	 ep;
	struct fwd_kp		*current, *previous, *next;
	/* FWD_STAGED_MAX of them, allocated by the first packet staged. */
	struct fwd_staged	*staged;
	int			 staged_head, nstaged;
	int			 flush_queued;
	int			 sent_lastminute;
	/* Reported to the handshake process. */
	int			 dirty;
	uint32_t		 events;
	uint32_t		 keypairs;	/* IMSG_FWD_KEYPAIRs taken */
	uint64_t		 rx_bytes, tx_bytes, drops;
	uint64_t		 t_data_sent, t_data_received;
	uint64_t		 t_auth_sent, t_auth_received;
};

/* One packet of the batch. */
struct fwd_item {
	struct fwd_buf	*b;
	struct fwd_peer	*p;
	struct fwd_kp	*kp;
	uint8_t		*msg;		/* the WireGuard message */
	uint32_t	 msglen;
	uint32_t	 plen;		/* out: plaintext length */
	uint16_t	 ep;		/* in: index in batch.eps */
	uint8_t		 in;		/* 1 received, 0 to send */
};

static struct {
	struct fwd_item		 items[FWD_BATCH_MAX];
	struct fwd_job		 jobs[FWD_BATCH_MAX];
	struct wg_endpoint	 eps[FWD_BATCH_MAX];
	struct fwd_buf		*inbufs[FWD_BATCH_MAX];
	int			 n, neps, ninbufs;
	int			 running;
	struct fwd_kp		*grave;
	struct fwd_peer		*flush_peers;
} batch;

struct fwd_conf	fwd_conf;

static struct {
	struct chan	 parent, hs;
	const struct fwd_backend *be;
	int		 have_tun;
	int		 mtu;
	uint64_t	 now;
	uint64_t	 last_flush, last_house;
	int		 ndirty;
	int		 urgent;	/* a dirty peer has FWD_EVENT_URGENT */
	uint64_t	 first_dirty;	/* when ndirty left 0 */
	struct aip_table *aips;
	struct fwd_peer	*peers[FWD_PEER_BUCKETS];
	struct fwd_kp	*index[FWD_INDEX_BUCKETS];
	/* Send units. */
	struct fwd_tx	*txs;
	struct fwd_tx	*free_txs;
	unsigned	 txs_used;	/* txs[txs_used..] never handed out */
	/* The staging arena. */
	uint8_t		*stage;
	int		 stage_next[FWD_STAGE_SLOTS];
	int		 stage_free, stage_nfree;
	unsigned	 ntxfree, cookie_inflight;
	uint64_t	 drops_noroute, drops_nobuf;
	uint64_t	 compact_logged;	/* fwd_crypto_ncompact() */
	uint64_t	 drops_logged;
	/* Handshake messages: screening, load, figures. */
	struct cookie_checker checker;
	int		 has_identity;
	struct ratelimiter rl;		/* mac2 good, under load */
	struct ratelimiter rl_cookie;	/* cookie replies */
	int		 hs_load;	/* the handshake process says so */
	uint64_t	 last_under_load;
	uint64_t	 rate_window;
	unsigned	 rate_count;
	struct fwd_hs_stats st, st_sent;
	size_t		 gso_seg_max;	/* larger segments: no GSO */
	struct fwd_gro	*gro;
} fwd;

static void	fwd_batch_run(void);
static void	fwd_kp_drop(struct fwd_kp *, int);

static inline uint32_t
le32_get(const uint8_t *p)
{
	uint32_t	v;

	memcpy(&v, p, 4);
	return le32toh(v);
}

static inline uint64_t
le64_get(const uint8_t *p)
{
	uint64_t	v;

	memcpy(&v, p, 8);
	return le64toh(v);
}

int
fwd_can_read(void)
{
	return fwd_buf_nfree() > 8 && !batch.running;
}

/* The packet pool, the send units and the staging arena, once. */
static void
fwd_alloc(unsigned nbufs)
{
	unsigned	i;

	fwd_pool_init(nbufs);
	/*
	 * The send units (1.9 KiB each) are handed out in index order the
	 * first time (fwd.txs_used), so only those a load has needed at
	 * once are ever touched: a few dozen, not all FWD_TX_MAX.
	 */
	if ((fwd.txs = calloc(FWD_TX_MAX, sizeof(*fwd.txs))) == NULL)
		fatal("calloc");
	fwd.ntxfree = FWD_TX_MAX;
	fwd.stage = mmap(NULL, (size_t)FWD_STAGE_SLOTS * FWD_STAGE_SLOT,
	    PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (fwd.stage == MAP_FAILED)
		fatal("mmap staging arena");
	(void)madvise(fwd.stage, (size_t)FWD_STAGE_SLOTS * FWD_STAGE_SLOT,
	    MADV_DONTDUMP);
	for (i = 0; i < FWD_STAGE_SLOTS; i++)
		fwd.stage_next[i] = i + 1 < FWD_STAGE_SLOTS ? (int)i + 1 : -1;
	fwd.stage_free = 0;
	fwd.stage_nfree = FWD_STAGE_SLOTS;
}

/* A send unit for kind, within its share (FWD_TX_RESERVE); NULL if none. */
static struct fwd_tx *
fwd_tx_get(enum fwd_tx_kind kind)
{
	struct fwd_tx	*tx;

	if ((kind == FWD_TX_DATA && fwd.ntxfree <= FWD_TX_RESERVE) ||
	    (kind == FWD_TX_COOKIE && (fwd.ntxfree <= FWD_TX_RESERVE / 2 ||
	    fwd.cookie_inflight >= FWD_COOKIE_INFLIGHT)))
		return NULL;
	if ((tx = fwd.free_txs) != NULL)
		fwd.free_txs = tx->next;
	else if (fwd.txs_used < FWD_TX_MAX) {
		tx = &fwd.txs[fwd.txs_used];
		tx->id = fwd.txs_used++;
	} else
		return NULL;
	fwd.ntxfree--;
	if (kind == FWD_TX_COOKIE)
		fwd.cookie_inflight++;
	tx->kind = kind;
	tx->next = NULL;
	tx->nbufs = 0;
	tx->bytes = 0;
	tx->gso_size = 0;
	tx->peer_id = 0;
	return tx;
}

struct fwd_tx *
fwd_tx_by_id(unsigned id)
{
	if (id >= fwd.txs_used)
		fatalx("%s: bad send id %u", __func__, id);
	return &fwd.txs[id];
}

static void
fwd_tx_free(struct fwd_tx *tx)
{
	int	i;

	for (i = 0; i < tx->nbufs; i++)
		fwd_buf_put(tx->bufs[i]);
	tx->nbufs = 0;
	if (tx->kind == FWD_TX_COOKIE)
		fwd.cookie_inflight--;
	tx->next = fwd.free_txs;
	fwd.free_txs = tx;
	fwd.ntxfree++;
}

static void
fwd_hs_send(uint32_t type, const void *data, size_t len)
{
	if (chan_compose(&fwd.hs, type, -1, data, len) == -1) {
		if (errno == ENOBUFS) {
			fwd.st.control_queue_full++;
			return;
		}
		fatal("%s: to handshake", __func__);
	}
	fwd.be->want_write();
}

/* Peers and keypairs. */

static struct fwd_peer *
fwd_peer_find(uint32_t id)
{
	struct fwd_peer	*p;

	for (p = fwd.peers[id % FWD_PEER_BUCKETS]; p != NULL; p = p->hnext)
		if (p->id == id)
			return p;
	return NULL;
}

static struct fwd_kp *
fwd_kp_find(uint32_t idx)
{
	struct fwd_kp	*kp;

	for (kp = fwd.index[idx % FWD_INDEX_BUCKETS]; kp != NULL; kp = kp->hnext)
		if (kp->local_index == idx)
			return kp;
	return NULL;
}

static void
fwd_kp_wipe(struct fwd_kp *kp)
{
	aead_key_free(kp->send_key);
	aead_key_free(kp->recv_key);
	sodium_memzero(kp, sizeof(*kp));
	free(kp);
}

/*
 * Retires a keypair: out of the index at once, told to the handshake
 * process (its index is free), wiped now or, when a batch may still use
 * it, as soon as that batch is done.
 */
static void
fwd_kp_drop(struct fwd_kp *kp, int report)
{
	struct fwd_kp	**pp;

	if (kp == NULL || kp->dead)
		return;
	for (pp = &fwd.index[kp->local_index % FWD_INDEX_BUCKETS]; *pp != NULL;
	    pp = &(*pp)->hnext)
		if (*pp == kp) {
			*pp = kp->hnext;
			break;
		}
	if (report)
		fwd_hs_send(IMSG_HS_KEYPAIR_GONE, &kp->local_index,
		    sizeof(kp->local_index));
	kp->dead = 1;
	if (batch.n > 0 || batch.running) {
		kp->gnext = batch.grave;
		batch.grave = kp;
	} else
		fwd_kp_wipe(kp);
}

/* The staging arena: packets are chains of slots. */

static void
fwd_stage_free_chain(int s)
{
	int	next;

	while (s != -1) {
		next = fwd.stage_next[s];
		sodium_memzero(fwd.stage + (size_t)s * FWD_STAGE_SLOT,
		    FWD_STAGE_SLOT);
		fwd.stage_next[s] = fwd.stage_free;
		fwd.stage_free = s;
		fwd.stage_nfree++;
		s = next;
	}
}

static void
fwd_staged_pop(struct fwd_peer *p)
{
	struct fwd_staged	*s = &p->staged[p->staged_head];

	fwd_stage_free_chain(s->first);
	s->first = -1;
	p->staged_head = (p->staged_head + 1) % FWD_STAGED_MAX;
	p->nstaged--;
}

static void
fwd_staged_clear(struct fwd_peer *p)
{
	while (p->nstaged > 0)
		fwd_staged_pop(p);
	p->staged_head = 0;
}

static int
fwd_stage_slots(size_t len)
{
	return len == 0 ? 1 : (int)((len + FWD_STAGE_SLOT - 1) /
	    FWD_STAGE_SLOT);
}

static void
fwd_stage(struct fwd_peer *p, const uint8_t *pkt, size_t len)
{
	struct fwd_staged	*s;
	int			 need = fwd_stage_slots(len), first = -1, last = -1;
	int			 slot;
	size_t			 off, n;

	if (p->staged == NULL && (p->staged = calloc(FWD_STAGED_MAX,
	    sizeof(*p->staged))) == NULL) {
		p->drops++;
		return;
	}
	if (p->nstaged == FWD_STAGED_MAX) {
		/* Drop the oldest, as the kernel does. */
		fwd_staged_pop(p);
		p->drops++;
	}
	while (fwd.stage_nfree < need && p->nstaged > 0) {
		fwd_staged_pop(p);
		p->drops++;
	}
	if (fwd.stage_nfree < need) {
		p->drops++;
		return;
	}
	for (off = 0; off < len || first == -1; off += n) {
		slot = fwd.stage_free;
		fwd.stage_free = fwd.stage_next[slot];
		fwd.stage_nfree--;
		fwd.stage_next[slot] = -1;
		if (first == -1)
			first = slot;
		else
			fwd.stage_next[last] = slot;
		last = slot;
		n = len - off > FWD_STAGE_SLOT ? FWD_STAGE_SLOT : len - off;
		memcpy(fwd.stage + (size_t)slot * FWD_STAGE_SLOT, pkt + off, n);
		if (n == 0)
			break;
	}
	s = &p->staged[(p->staged_head + p->nstaged) % FWD_STAGED_MAX];
	s->first = first;
	s->len = len;
	p->nstaged++;
}

static void
fwd_stage_copy_out(const struct fwd_staged *s, uint8_t *dst)
{
	size_t	off, n;
	int	slot = s->first;

	for (off = 0; off < s->len; off += n) {
		n = s->len - off > FWD_STAGE_SLOT ? FWD_STAGE_SLOT :
		    s->len - off;
		memcpy(dst + off, fwd.stage + (size_t)slot * FWD_STAGE_SLOT, n);
		slot = fwd.stage_next[slot];
	}
}

static void
fwd_peer_clear_keys(struct fwd_peer *p, int report)
{
	fwd_kp_drop(p->current, report);
	fwd_kp_drop(p->previous, report);
	fwd_kp_drop(p->next, report);
	p->current = p->previous = p->next = NULL;
}

static void
fwd_event(struct fwd_peer *p, uint32_t ev)
{
	if (ev & HS_EV_DATA_SENT)
		p->t_data_sent = fwd.now;
	if (ev & HS_EV_DATA_RECEIVED)
		p->t_data_received = fwd.now;
	if (ev & HS_EV_AUTH_SENT)
		p->t_auth_sent = fwd.now;
	if (ev & HS_EV_AUTH_RECEIVED)
		p->t_auth_received = fwd.now;
	p->events |= ev;
	if (ev & FWD_EVENT_URGENT)
		fwd.urgent = 1;
	if (!p->dirty) {
		if (fwd.ndirty++ == 0)
			fwd.first_dirty = fwd.now;
		p->dirty = 1;
	}
}

static void
fwd_flush_events(void)
{
	struct hs_events	 ev;
	struct fwd_peer		*p;
	int			 i;

	if (fwd.ndirty == 0)
		return;
	for (i = 0; i < FWD_PEER_BUCKETS; i++)
		for (p = fwd.peers[i]; p != NULL; p = p->hnext) {
			if (!p->dirty)
				continue;
			memset(&ev, 0, sizeof(ev));
			ev.peer_id = p->id;
			ev.events = p->events;
			ev.keypairs = p->keypairs;
			ev.rx_bytes = p->rx_bytes;
			ev.tx_bytes = p->tx_bytes;
			ev.t_data_sent = p->t_data_sent;
			ev.t_data_received = p->t_data_received;
			ev.t_auth_sent = p->t_auth_sent;
			ev.t_auth_received = p->t_auth_received;
			ev.drops = p->drops;
			ev.ep = p->ep;
			fwd_hs_send(IMSG_HS_EVENTS, &ev, sizeof(ev));
			p->events = 0;
			p->dirty = 0;
		}
	fwd.ndirty = 0;
	fwd.urgent = 0;
	fwd.last_flush = fwd.now;
}

static void
fwd_peer_del(uint32_t id)
{
	struct fwd_peer	**pp, *p;

	for (pp = &fwd.peers[id % FWD_PEER_BUCKETS]; (p = *pp) != NULL;
	    pp = &p->hnext)
		if (p->id == id)
			break;
	if (p == NULL)
		return;
	*pp = p->hnext;
	aip_remove_owner(fwd.aips, p);
	fwd_peer_clear_keys(p, 0);
	fwd_staged_clear(p);
	free(p->staged);
	if (p->dirty)
		fwd.ndirty--;
	sodium_memzero(p, sizeof(*p));
	free(p);
}

/* Sending. */

/*
 * A keypair's age on the forwarder's clock, which is read once a wakeup
 * (fwd_set_now). Its birth is taken from that clock too: taken from
 * wg_now_ms(), a keypair that came a millisecond after the wakeup's
 * reading was "born in the future", the difference wrapped, and the
 * housekeeping of that same wakeup wiped it as past REJECT_AFTER_TIME
 * (the responder's new session gone before its first packet: card_slow.sh
 * "DecipherTimeout" failed under load). Never negative, whatever the
 * clocks do.
 */
static uint64_t
fwd_kp_age(const struct fwd_kp *kp)
{
	return fwd.now > kp->birth_ms ? fwd.now - kp->birth_ms : 0;
}

static int
fwd_kp_can_send(const struct fwd_kp *kp)
{
	return kp != NULL && !kp->send_expired &&
	    kp->send_counter < WG_REJECT_AFTER_MESSAGES &&
	    fwd_kp_age(kp) < WG_REJECT_AFTER_TIME * 1000ULL;
}

static void
fwd_want_handshake(struct fwd_peer *p)
{
	fwd_event(p, HS_EV_WANT_HANDSHAKE);
}

static int
fwd_fam(const union wg_sockaddr *sa)
{
	if (sa->sa.sa_family == AF_INET)
		return 0;
	if (sa->sa.sa_family == AF_INET6)
		return 1;
	return -1;
}

/* Sets up tx's msghdr for its iovecs, address, source and GSO size. */
static void
fwd_tx_prepare(struct fwd_tx *tx)
{
	struct msghdr	*mh = &tx->mh;
	struct cmsghdr	*cm;
	uint16_t	 gso = tx->gso_size;

	memset(mh, 0, sizeof(*mh));
	tx->addr = tx->ep.addr;
	mh->msg_name = &tx->addr;
	mh->msg_namelen = tx->fam ? sizeof(struct sockaddr_in6) :
	    sizeof(struct sockaddr_in);
	mh->msg_iov = tx->iov;
	mh->msg_iovlen = tx->nbufs;
	sock_cmsg_set_src(mh, tx->cbuf.buf, &tx->ep);
	if (gso != 0) {
		if (mh->msg_control == NULL)
			mh->msg_control = tx->cbuf.buf;
		cm = (struct cmsghdr *)(tx->cbuf.buf + mh->msg_controllen);
		memset(cm, 0, CMSG_SPACE(sizeof(gso)));
		cm->cmsg_level = SOL_UDP;
		cm->cmsg_type = UDP_SEGMENT;
		cm->cmsg_len = CMSG_LEN(sizeof(gso));
		memcpy(CMSG_DATA(cm), &gso, sizeof(gso));
		mh->msg_controllen += CMSG_SPACE(sizeof(gso));
	}
}

static struct fwd_tx	*fwd_pending_tx;

static void
fwd_tx_submit(struct fwd_tx *tx)
{
	if (tx->nbufs > 1)
		tx->gso_size = tx->iov[0].iov_len;
	else
		tx->gso_size = 0;
	fwd_tx_prepare(tx);
	fwd.be->tx(tx);
}

static void
fwd_tx_pending_flush(void)
{
	if (fwd_pending_tx != NULL) {
		fwd_tx_submit(fwd_pending_tx);
		fwd_pending_tx = NULL;
	}
}

/*
 * Queues the message at msg (len bytes, in b, whose ref the caller
 * gives) to ep: appended to the pending UDP GSO send when it is for the
 * same endpoint and of the same size, else a send of its own.
 */
static void
fwd_queue_out(struct fwd_peer *p, const struct wg_endpoint *ep,
    struct fwd_buf *b, uint8_t *msg, size_t len)
{
	struct fwd_tx	*tx = fwd_pending_tx;
	int		 fam;

	if ((fam = fwd_fam(&ep->addr)) == -1) {
		fwd_buf_put(b);
		return;
	}
	if (tx != NULL && fwd_conf.udp_gso && p != NULL &&
	    tx->iov[0].iov_len <= fwd.gso_seg_max &&
	    tx->peer_id == p->id && tx->fam == fam &&
	    tx->nbufs < FWD_GSO_MAX && len <= tx->iov[0].iov_len &&
	    tx->iov[tx->nbufs - 1].iov_len == tx->iov[0].iov_len &&
	    tx->bytes + len <= FWD_GSO_BYTES &&
	    sock_endpoint_eq(&tx->ep, ep)) {
		tx->iov[tx->nbufs].iov_base = msg;
		tx->iov[tx->nbufs].iov_len = len;
		tx->bufs[tx->nbufs++] = b;
		tx->bytes += len;
		return;
	}
	fwd_tx_pending_flush();
	if ((tx = fwd_tx_get(FWD_TX_DATA)) == NULL) {
		fwd.drops_nobuf++;
		if (p != NULL)
			p->drops++;
		fwd_buf_put(b);
		return;
	}
	tx->ep = *ep;
	tx->fam = fam;
	tx->peer_id = p != NULL ? p->id : 0;
	tx->iov[0].iov_base = msg;
	tx->iov[0].iov_len = len;
	tx->bufs[0] = b;
	tx->nbufs = 1;
	tx->bytes = len;
	if (fwd_conf.udp_gso && p != NULL)
		fwd_pending_tx = tx;
	else
		fwd_tx_submit(tx);
}

void
fwd_tx_done(struct fwd_tx *tx, int err)
{
	struct fwd_peer	*p;
	struct fwd_tx	*one;
	int		 i;

	if (err == 0) {
		if (tx->kind == FWD_TX_COOKIE)
			fwd.st.cookie_replies++;
		fwd_tx_free(tx);
		return;
	}
	p = tx->peer_id ? fwd_peer_find(tx->peer_id) : NULL;
	if (sock_src_gone(err) && tx->mh.msg_controllen != 0 &&
	    (tx->fam ? !IN6_IS_ADDR_UNSPECIFIED(&tx->ep.src.v6) :
	    tx->ep.src.v4.s_addr != 0)) {
		/* Our source address is gone: let routing choose. */
		if (p != NULL && sock_endpoint_eq(&p->ep, &tx->ep))
			sock_endpoint_clear_src(&p->ep);
		sock_endpoint_clear_src(&tx->ep);
		fwd_tx_prepare(tx);
		fwd.be->tx(tx);
		return;
	}
	if (tx->gso_size != 0 && fwd_conf.udp_gso &&
	    (err == EIO || err == EINVAL || err == EOPNOTSUPP ||
	    err == ENOPROTOOPT)) {
		if (err == EINVAL) {
			/* Segments larger than the way out allows. */
			if (fwd.gso_seg_max >= tx->gso_size)
				fwd.gso_seg_max = tx->gso_size - 1;
			log_debug("UDP GSO of %u-byte segments refused; "
			    "sending them one by one", tx->gso_size);
		} else {
			/* No UDP GSO here after all. */
			log_info("UDP GSO failed (%s): sending one message "
			    "at a time", strerror(err));
			fwd_conf.udp_gso = 0;
		}
		for (i = 0; i < tx->nbufs; i++) {
			if ((one = fwd_tx_get(FWD_TX_DATA)) == NULL) {
				fwd_buf_put(tx->bufs[i]);
				continue;
			}
			one->ep = tx->ep;
			one->fam = tx->fam;
			one->peer_id = tx->peer_id;
			one->iov[0] = tx->iov[i];
			one->bufs[0] = tx->bufs[i];
			one->nbufs = 1;
			one->bytes = tx->iov[i].iov_len;
			fwd_tx_submit(one);
		}
		tx->nbufs = 0;
		fwd_tx_free(tx);
		fwd.be->flush();
		return;
	}
	/* Full socket or unreachable: dropped. */
	if (tx->kind != FWD_TX_DATA)
		fwd.st.send_failed++;
	else if (p != NULL)
		p->drops += tx->nbufs;
	fwd_tx_free(tx);
}

/*
 * Adds the packet at buf->base + off (len bytes, the IP packet) to the
 * batch, to be encrypted for p's current keypair. b's ref goes with it.
 * Returns 0, or -1 when there is no usable keypair (b is the caller's).
 */
static int
fwd_encrypt_queue(struct fwd_peer *p, struct fwd_buf *b, uint32_t off,
    uint32_t len)
{
	struct fwd_kp	*kp = p->current;
	struct fwd_item	*it;
	struct fwd_job	*j;
	uint64_t	 counter, le;
	uint32_t	 v;
	size_t		 padded;
	uint8_t		*msg;

	if (!fwd_kp_can_send(kp) || p->ep.addr.sa.sa_family == 0)
		return -1;
	if (batch.n == FWD_BATCH_MAX)
		fwd_batch_run();
	counter = kp->send_counter++;
	padded = (len + WG_PADDING_MULTIPLE - 1) &
	    ~(size_t)(WG_PADDING_MULTIPLE - 1);
	if (len != 0 && padded > (size_t)fwd.mtu)
		padded = len > (size_t)fwd.mtu ? len : (size_t)fwd.mtu;
	msg = b->base + off - 16;
	memset(msg + 16 + len, 0, padded - len);
	v = htole32(WG_MSG_DATA);
	memcpy(msg, &v, 4);
	v = htole32(kp->remote_index);
	memcpy(msg + 4, &v, 4);
	le = htole64(counter);
	memcpy(msg + 8, &le, 8);

	it = &batch.items[batch.n];
	j = &batch.jobs[batch.n];
	it->in = 0;
	it->b = b;
	it->p = p;
	it->kp = kp;
	it->msg = msg;
	it->msglen = 16 + padded + WG_AEAD_TAG_LEN;
	it->plen = len;
	j->data = msg + 16;
	j->key = kp->send_key;
	j->counter = counter;
	j->len = padded;
	j->enc = 1;
	j->result = 0;
	batch.n++;
	/* Keep the key fresh. */
	if (counter > WG_REKEY_AFTER_MESSAGES || (kp->initiator &&
	    fwd_kp_age(kp) > WG_REKEY_AFTER_TIME * 1000ULL))
		fwd_want_handshake(p);
	return 0;
}

/* Queues what was staged while there was no session. */
static void
fwd_send_staged(struct fwd_peer *p)
{
	struct fwd_staged	*s;
	struct fwd_buf		*b;

	while (p->nstaged > 0 && fwd_kp_can_send(p->current) &&
	    p->ep.addr.sa.sa_family != 0) {
		s = &p->staged[p->staged_head];
		if ((b = fwd_buf_get()) == NULL) {
			fwd.drops_nobuf++;
			break;
		}
		fwd_stage_copy_out(s, b->base + FWD_HEADROOM);
		if (fwd_encrypt_queue(p, b, FWD_HEADROOM, s->len) == -1) {
			fwd_buf_put(b);
			break;
		}
		fwd_staged_pop(p);
	}
}

static void
fwd_send_keepalive(struct fwd_peer *p)
{
	struct fwd_buf	*b;

	if (p->nstaged > 0 && fwd_kp_can_send(p->current)) {
		fwd_send_staged(p);
		if (p->nstaged == 0)
			return;
	}
	if (!fwd_kp_can_send(p->current) || p->ep.addr.sa.sa_family == 0) {
		fwd_want_handshake(p);
		return;
	}
	if ((b = fwd_buf_get()) == NULL) {
		fwd.drops_nobuf++;
		return;
	}
	if (fwd_encrypt_queue(p, b, FWD_HEADROOM, 0) == -1) {
		fwd_buf_put(b);
		fwd_want_handshake(p);
	}
}

void
fwd_tun_gone(void)
{
	if (fwd_conf.tun_gone)
		return;
	fwd_conf.tun_gone = 1;
	log_info("the TUN interface is gone");
	chan_send(&fwd.parent, IMSG_FWD_TUN_GONE, -1, NULL, 0);
	fwd.be->want_write();
}

/* One IP packet from TUN at b->base + off (len bytes); b's ref given. */
static void
fwd_route_out(struct fwd_buf *b, uint32_t off, uint32_t len)
{
	struct fwd_peer	*p;
	const uint8_t	*ip = b->base + off;

	if (len >= 20 && (ip[0] >> 4) == 4)
		p = aip_lookup(fwd.aips, AF_INET, ip + 16);
	else if (len >= 40 && (ip[0] >> 4) == 6)
		p = aip_lookup(fwd.aips, AF_INET6, ip + 24);
	else {
		fwd_buf_put(b);
		return;
	}
	if (p == NULL) {
		fwd.drops_noroute++;
		fwd_buf_put(b);
		return;
	}
	if (p->nstaged > 0)
		fwd_send_staged(p);
	if (fwd_encrypt_queue(p, b, off, len) == -1) {
		fwd_stage(p, ip, len);
		fwd_buf_put(b);
		fwd_want_handshake(p);
	}
}

void
fwd_in_tun(struct fwd_buf *b)
{
	if (!fwd_conf.vnet_hdr) {
		fwd_route_out(b, b->off, b->len);
		return;
	}
	fwd_offload_tun_in(b, fwd_route_out);
}

/* Receiving. */

static int
fwd_decrypt_queue(struct fwd_buf *b, uint8_t *msg, size_t len, int ep)
{
	struct fwd_kp	*kp;
	struct fwd_item	*it;
	struct fwd_job	*j = &batch.jobs[batch.n];
	uint32_t	 idx;

	if (fwd_rx_job(j, msg, len, &idx) == -1 ||
	    (kp = fwd_kp_find(idx)) == NULL ||
	    fwd_kp_age(kp) >= WG_REJECT_AFTER_TIME * 1000ULL)
		return -1;
	it = &batch.items[batch.n];
	it->in = 1;
	it->b = b;
	it->p = kp->peer;
	it->kp = kp;
	it->msg = msg;
	it->msglen = len;
	it->ep = ep;
	j->key = kp->recv_key;
	batch.n++;
	return 0;
}

/*
 * Whether we answer handshake messages without a valid mac2 with a
 * cookie reply: more than FWD_LOAD_RATE initiations and responses came
 * in this second (any mac: under load mac1 is not always computed) or
 * the channel to the handshake process has a backlog, and for
 * WG_UNDER_LOAD_AFTER_TIME after, as the kernel; or, for as long as it
 * says so, the handshake process is loaded (its key broker's backlog:
 * IMSG_FWD_LOAD). That one has no time after it: the handshake process
 * measures its backlog where it is and says when it is gone, and a
 * response to our own initiation that comes just after a slow card
 * operation (a touch) would otherwise get a cookie reply and the
 * handshake wait for the next retransmit, 5 s (card_slow.sh "hold").
 */
static int
fwd_under_load(void)
{
	/* The rate counts in its own second only. */
	if (fwd.now - fwd.rate_window >= 1000) {
		fwd.rate_window = fwd.now;
		fwd.rate_count = 0;
	}
	if (fwd.rate_count >= FWD_LOAD_RATE ||
	    fwd.hs.ibuf.wqueued >= FWD_HSQ_PACKETS / 8) {
		fwd.last_under_load = fwd.now;
		return 1;
	}
	if (fwd.hs_load)
		return 1;
	return fwd.last_under_load != 0 && fwd.now - fwd.last_under_load <
	    WG_UNDER_LOAD_AFTER_TIME * 1000ULL;
}

/*
 * A send unit of kind (FWD_TX_HS, FWD_TX_COOKIE) for a message of len
 * bytes to ep, to be written in tx->small; NULL when its share is used
 * up or ep has no family we send to (*nofam set).
 */
static struct fwd_tx *
fwd_small_get(enum fwd_tx_kind kind, const struct wg_endpoint *ep,
    size_t len, int *nofam)
{
	struct fwd_tx	*tx;
	int		 fam;

	*nofam = 0;
	if ((fam = fwd_fam(&ep->addr)) == -1) {
		*nofam = 1;
		return NULL;
	}
	if (len > sizeof(tx->small) || (tx = fwd_tx_get(kind)) == NULL)
		return NULL;
	tx->ep = *ep;
	tx->fam = fam;
	tx->iov[0].iov_base = tx->small;
	tx->iov[0].iov_len = len;
	tx->bufs[0] = NULL;
	tx->nbufs = 1;
	tx->bytes = len;
	return tx;
}

/*
 * Whether a source may be sent a cookie reply now: at most at the rate
 * limit's pace per source, so that a flood from many sources costs a
 * table look-up per message beyond it while a peer at an address of its
 * own always gets its cookie. When the table is full, a new source is
 * answered all the same (the cookie share of send units bounds it).
 */
static int
fwd_cookie_allow(const struct wg_endpoint *ep)
{
	if (ratelimiter_allow(&fwd.rl_cookie, &ep->addr.sa, fwd.now) ||
	    ratelimiter_full(&fwd.rl_cookie))
		return 1;
	fwd.st.cookie_ratelimited++;
	return 0;
}

/* Answers m (an initiation or response, valid mac1) with a cookie reply. */
static void
fwd_cookie_reply(const uint8_t *m, size_t len, const struct wg_endpoint *ep)
{
	struct fwd_tx		*tx;
	struct wg_msg_cookie	 c;
	int			 nofam;

	if ((tx = fwd_small_get(FWD_TX_COOKIE, ep, sizeof(c), &nofam)) ==
	    NULL) {
		if (!nofam)
			fwd.st.cookie_no_buffer++;
		return;
	}
	if (cookie_checker_create_reply(&fwd.checker, &c, le32_get(m + 4), m,
	    len, &ep->addr.sa, fwd.now) == -1) {
		fwd_tx_free(tx);
		return;
	}
	memcpy(tx->small, &c, sizeof(c));
	fwd_tx_pending_flush();
	fwd_tx_submit(tx);
}

/*
 * A handshake message from the network: screened, then queued to the
 * handshake process within its share of the channel. Not under load:
 * mac1. Under load, cheapest test first: a message with no mac2 at all
 * (zeros) is owed a cookie reply, so its source's cookie rate is looked
 * up before mac1 is computed (a flood beyond it costs no MAC); one with
 * a mac2 has mac1 and mac2 checked, then the source's rate limit.
 */
static void
fwd_hs_packet(const uint8_t *m, size_t len, const struct wg_endpoint *ep)
{
	struct hs_packet	 hp;
	struct iovec		 hiov[2];
	enum cookie_mac_state	 mac;
	uint32_t		 type = le32_get(m);
	size_t			 share = FWD_HSQ_PACKETS;
	int			 under_load;

	if ((type == WG_MSG_INITIATION && len != WG_MSG_INITIATION_LEN) ||
	    (type == WG_MSG_RESPONSE && len != WG_MSG_RESPONSE_LEN) ||
	    (type == WG_MSG_COOKIE && len != WG_MSG_COOKIE_LEN))
		return;
	memset(&hp, 0, sizeof(hp));
	hp.ep = *ep;
	if (type != WG_MSG_COOKIE) {
		if (!fwd.has_identity) {
			fwd.st.no_key++;
			return;
		}
		under_load = fwd_under_load();
		fwd.rate_count++;
		if (under_load && !cookie_msg_has_mac2(m, len)) {
			if (!fwd_cookie_allow(ep))
				return;
			mac = cookie_checker_validate_mac1(&fwd.checker, m,
			    len);
		} else if (under_load)
			mac = cookie_checker_validate(&fwd.checker, m, len,
			    &ep->addr.sa, fwd.now);
		else
			mac = cookie_checker_validate_mac1(&fwd.checker, m,
			    len);
		if (mac == COOKIE_MAC_INVALID) {
			fwd.st.bad_mac1++;
			return;
		}
		if (under_load) {
			if (mac != COOKIE_VALID_MAC2) {
				if (cookie_msg_has_mac2(m, len) &&
				    !fwd_cookie_allow(ep))
					return;
				fwd_cookie_reply(m, len, ep);
				return;
			}
			if (!ratelimiter_allow(&fwd.rl, &ep->addr.sa,
			    fwd.now)) {
				fwd.st.ratelimited++;
				return;
			}
			hp.flags |= HS_PKT_MAC2;
			share = FWD_HSQ_CHECKED;
		}
	}
	if (fwd.hs.ibuf.wqueued + sizeof(hp) + len + 64 > share) {
		fwd.st.queue_full++;
		return;
	}
	hiov[0].iov_base = &hp;
	hiov[0].iov_len = sizeof(hp);
	hiov[1].iov_base = (void *)m;
	hiov[1].iov_len = len;
	/* On the imsgbuf itself: a full queue drops, never fatal. */
	if (imsg_composev(&fwd.hs.ibuf, IMSG_HS_PACKET, 0, -1, hiov, 2) ==
	    -1) {
		if (errno != ENOBUFS)
			fatal("to handshake");
		fwd.st.queue_full++;
		return;
	}
	fwd.be->want_write();
}

void
fwd_in_udp(struct fwd_buf *b, const struct wg_endpoint *ep,
    unsigned gro_size)
{
	uint8_t		*m, *end = b->base + b->off + b->len;
	size_t		 len;
	uint32_t	 type;
	int		 epi = -1, queued = 0;

	if (gro_size == 0)
		gro_size = b->len;
	for (m = b->base + b->off; m < end; m += len) {
		len = (size_t)(end - m) > gro_size ? gro_size :
		    (size_t)(end - m);
		if (len < 4)
			break;
		type = le32_get(m);
		if (type == WG_MSG_DATA) {
			if (len < WG_MSG_DATA_MIN_LEN)
				continue;
			if (batch.n == FWD_BATCH_MAX ||
			    (epi == -1 && batch.neps == FWD_BATCH_MAX)) {
				fwd_batch_run();
				epi = -1;
				queued = 0;
			}
			if (epi == -1) {
				epi = batch.neps++;
				batch.eps[epi] = *ep;
			}
			if (fwd_decrypt_queue(b, m, len, epi) == 0)
				queued = 1;
		} else if (type == WG_MSG_INITIATION ||
		    type == WG_MSG_RESPONSE || type == WG_MSG_COOKIE)
			fwd_hs_packet(m, len, ep);
	}
	/* The batch's items point into b: it keeps b until it is done. */
	if (queued)
		batch.inbufs[batch.ninbufs++] = b;
	else
		fwd_buf_put(b);
}

static void
fwd_kp_received(struct fwd_peer *p, struct fwd_kp *kp)
{
	/* The responder's next keypair is confirmed by its first use. */
	if (kp == p->next) {
		fwd_kp_drop(p->previous, 1);
		p->previous = p->current;
		p->current = p->next;
		p->next = NULL;
		/* The handshake process dates the handshake from this. */
		fwd_event(p, HS_EV_CONFIRMED);
		if (p->nstaged && !p->flush_queued) {
			p->flush_queued = 1;
			p->fnext = batch.flush_peers;
			batch.flush_peers = p;
		}
	}
}

/* Completes one received data message whose decryption worked. */
static void
fwd_in_done(struct fwd_item *it)
{
	struct fwd_kp	*kp = it->kp;
	struct fwd_peer	*p = kp->peer;
	uint8_t		*ip;
	size_t		 plen, tot;

	if (kp->dead || !replay_check(&kp->replay, le64_get(it->msg + 8)))
		return;
	fwd_kp_received(p, kp);
	/* Roaming: the endpoint follows the last authenticated packet. */
	if (!sock_endpoint_eq(&p->ep, &batch.eps[it->ep])) {
		p->ep = batch.eps[it->ep];
		fwd_event(p, HS_EV_ENDPOINT);
	}
	p->rx_bytes += it->msglen;
	fwd_event(p, HS_EV_AUTH_RECEIVED | HS_EV_TRAVERSAL);
	if (kp == p->current && kp->initiator && !p->sent_lastminute &&
	    fwd_kp_age(kp) > (WG_REJECT_AFTER_TIME -
	    WG_KEEPALIVE_TIMEOUT - WG_REKEY_TIMEOUT) * 1000ULL) {
		p->sent_lastminute = 1;
		fwd_want_handshake(p);
	}
	plen = it->msglen - WG_DATA_OVERHEAD;
	if (plen == 0)
		return;		/* keepalive */
	fwd_event(p, HS_EV_DATA_RECEIVED);
	ip = it->msg + 16;
	if ((tot = fwd_rx_inner(fwd.aips, p, ip, plen)) == 0 ||
	    fwd_conf.tun_gone || !fwd.have_tun)
		goto drop;
	if (fwd_conf.vnet_hdr)
		fwd_offload_tun_out(fwd.gro, it->b, ip - it->b->base, tot);
	else {
		fwd_buf_ref(it->b);
		fwd.be->tun_write(it->b, ip - it->b->base, tot);
	}
	return;
drop:
	p->drops++;
}

/* Completes one encrypted message: out it goes. */
static void
fwd_out_done(struct fwd_item *it)
{
	struct fwd_peer	*p = it->p;

	fwd_queue_out(p, &p->ep, it->b, it->msg, it->msglen);
	p->tx_bytes += it->msglen;
	fwd_event(p, HS_EV_AUTH_SENT | HS_EV_TRAVERSAL |
	    (it->plen ? HS_EV_DATA_SENT : 0));
}

/*
 * Runs the batch: every AEAD at once (in parallel), then each packet in
 * order. Sending staged packets of a peer whose keypair was confirmed in
 * the batch makes another batch, run at once too.
 */
static void
fwd_batch_run(void)
{
	struct fwd_kp	*kp;
	struct fwd_peer	*p;
	int		 i;

	while (batch.n > 0 || batch.ninbufs > 0) {
		batch.running = 1;
		fwd_crypto_run(batch.jobs, batch.n, fwd.now);
		for (i = 0; i < batch.n; i++) {
			if (batch.items[i].in) {
				if (batch.jobs[i].result == 0)
					fwd_in_done(&batch.items[i]);
			} else
				fwd_out_done(&batch.items[i]);
		}
		fwd_tx_pending_flush();
		if (fwd_conf.vnet_hdr)
			fwd_offload_flush(fwd.gro);
		for (i = 0; i < batch.ninbufs; i++)
			fwd_buf_put(batch.inbufs[i]);
		batch.n = batch.neps = batch.ninbufs = 0;
		batch.running = 0;
		while ((kp = batch.grave) != NULL) {
			batch.grave = kp->gnext;
			fwd_kp_wipe(kp);
		}
		while ((p = batch.flush_peers) != NULL) {
			batch.flush_peers = p->fnext;
			p->flush_queued = 0;
			fwd_send_staged(p);
		}
	}
	batch.neps = 0;
}

void
fwd_in_end(void)
{
	fwd_batch_run();
	fwd.be->flush();
}

/*
 * Messages from the handshake process and the parent. Each arrives
 * checked against fwd_rules (sender, size, descriptor), so a handler
 * copies a payload of the size its row names.
 */

/* The uint32 of a message (a peer id or a flag). */
static uint32_t
fwd_u32(struct imsg *imsg)
{
	uint32_t	v;

	memcpy(&v, imsg->data, sizeof(v));
	return v;
}

static void
fwd_m_peer_add(struct chan *c, struct imsg *imsg)
{
	struct fwd_peer	*p;
	uint32_t	 id = fwd_u32(imsg);

	if (fwd_peer_find(id) != NULL)
		fatalx("peer %u added twice", id);
	if ((p = calloc(1, sizeof(*p))) == NULL)
		fatal("calloc");
	p->id = id;
	p->hnext = fwd.peers[id % FWD_PEER_BUCKETS];
	fwd.peers[id % FWD_PEER_BUCKETS] = p;
}

static void
fwd_m_peer_del(struct chan *c, struct imsg *imsg)
{
	fwd_peer_del(fwd_u32(imsg));
}

static void
fwd_m_endpoint(struct chan *c, struct imsg *imsg)
{
	struct fwd_endpoint	 fe;
	struct fwd_peer		*p;

	memcpy(&fe, imsg->data, sizeof(fe));
	if ((p = fwd_peer_find(fe.peer_id)) != NULL)
		p->ep = fe.ep;
}

static void
fwd_m_keypair(struct chan *c, struct imsg *imsg)
{
	struct fwd_keypair	 k;
	struct fwd_peer		*p, *op;
	struct fwd_kp		*kp, *old;

	memcpy(&k, imsg->data, sizeof(k));
	sodium_memzero(imsg->data, imsg->len);
	if ((p = fwd_peer_find(k.peer_id)) == NULL) {
		/* Removed meanwhile: give the index back. */
		fwd_hs_send(IMSG_HS_KEYPAIR_GONE, &k.local_index,
		    sizeof(k.local_index));
		sodium_memzero(&k, sizeof(k));
		return;
	}
	if ((kp = calloc(1, sizeof(*kp))) == NULL)
		fatal("calloc");
	p->keypairs++;
	kp->peer = p;
	kp->local_index = k.local_index;
	kp->remote_index = k.remote_index;
	kp->initiator = k.initiator;
	kp->birth_ms = fwd.now;
	kp->send_key = aead_key_new(k.send_key);
	kp->recv_key = aead_key_new(k.recv_key);
	sodium_memzero(&k, sizeof(k));
	replay_init(&kp->replay);
	/*
	 * An index given again: the keypair that had it goes, and its peer
	 * (maybe this one) forgets it, or it would keep a freed keypair.
	 */
	if ((old = fwd_kp_find(kp->local_index)) != NULL) {
		op = old->peer;
		if (op->current == old)
			op->current = NULL;
		if (op->previous == old)
			op->previous = NULL;
		if (op->next == old)
			op->next = NULL;
		fwd_kp_drop(old, 1);
	}
	kp->hnext = fwd.index[kp->local_index % FWD_INDEX_BUCKETS];
	fwd.index[kp->local_index % FWD_INDEX_BUCKETS] = kp;

	/* The rotation of the kernel's noise_add_new_keypair. */
	if (kp->initiator) {
		if (p->next != NULL) {
			fwd_kp_drop(p->previous, 1);
			p->previous = p->next;
			p->next = NULL;
			fwd_kp_drop(p->current, 1);
		} else {
			fwd_kp_drop(p->previous, 1);
			p->previous = p->current;
		}
		p->current = kp;
		/*
		 * It can send: a handshake asked for before it came, not yet
		 * reported, is not wanted any more.
		 */
		p->events &= ~HS_EV_WANT_HANDSHAKE;
	} else {
		fwd_kp_drop(p->next, 1);
		p->next = kp;
		fwd_kp_drop(p->previous, 1);
		p->previous = NULL;
	}
	p->sent_lastminute = 0;
}

/* The header's count says how many entries follow. */
static void
fwd_m_aip(struct chan *c, struct imsg *imsg)
{
	struct fwd_aip_hdr	 h;
	struct fwd_aip_entry	 e;
	struct fwd_peer		*p;
	size_t			 i;

	memcpy(&h, imsg->data, sizeof(h));
	if (imsg->len != sizeof(h) + (size_t)h.count * sizeof(e))
		fatalx("%s: bad size", __func__);
	if ((p = fwd_peer_find(h.peer_id)) == NULL)
		return;
	if (h.clear)
		aip_remove_owner(fwd.aips, p);
	for (i = 0; i < h.count; i++) {
		memcpy(&e, imsg->data + sizeof(h) + i * sizeof(e), sizeof(e));
		if ((e.family != AF_INET && e.family != AF_INET6) ||
		    e.cidr > (e.family == AF_INET ? 32 : 128))
			fatalx("%s: bad entry", __func__);
		if (e.remove)
			aip_remove(fwd.aips, e.family, e.addr, e.cidr, p);
		else if (aip_insert(fwd.aips, e.family, e.addr, e.cidr, p) == -1)
			fatal("aip_insert");
	}
}

static void
fwd_m_expire(struct chan *c, struct imsg *imsg)
{
	struct fwd_peer	*p;

	if ((p = fwd_peer_find(fwd_u32(imsg))) != NULL && p->current != NULL)
		p->current->send_expired = 1;
}

static void
fwd_m_clear_keys(struct chan *c, struct imsg *imsg)
{
	struct fwd_peer	*p;

	if ((p = fwd_peer_find(fwd_u32(imsg))) != NULL)
		fwd_peer_clear_keys(p, 1);
}

/* The only message that queues packets: their batch runs at once. */
static void
fwd_m_keepalive(struct chan *c, struct imsg *imsg)
{
	struct fwd_peer	*p;

	if ((p = fwd_peer_find(fwd_u32(imsg))) != NULL) {
		fwd_send_keepalive(p);
		fwd_batch_run();
	}
}

static void
fwd_m_flush_staged(struct chan *c, struct imsg *imsg)
{
	struct fwd_peer	*p;

	if ((p = fwd_peer_find(fwd_u32(imsg))) != NULL)
		fwd_staged_clear(p);
}

/* A handshake message of ours: sent from the reserve, never a pool buffer. */
static void
fwd_m_send(struct chan *c, struct imsg *imsg)
{
	struct fwd_send	 s;
	struct fwd_peer	*p = NULL;
	struct fwd_tx	*tx;
	size_t		 len;
	int		 nofam;

	memcpy(&s, imsg->data, sizeof(s));
	len = imsg->len - sizeof(s);
	if (s.peer_id != 0 && (p = fwd_peer_find(s.peer_id)) != NULL) {
		p->tx_bytes += len;
		fwd_event(p, HS_EV_TRAVERSAL);
		/* The handshake process has the endpoint we should use. */
	}
	if ((tx = fwd_small_get(FWD_TX_HS, &s.ep, len, &nofam)) == NULL) {
		if (!nofam)
			fwd.st.send_no_buffer++;
		return;
	}
	memcpy(tx->small, imsg->data + sizeof(s), len);
	fwd_tx_pending_flush();
	fwd_tx_submit(tx);
}

/* The interface's public key: the mac1 and cookie keys derive from it. */
static void
fwd_m_identity(struct chan *c, struct imsg *imsg)
{
	struct fwd_identity	id;

	memcpy(&id, imsg->data, sizeof(id));
	if (id.has_key)
		cookie_checker_init(&fwd.checker, id.public_key);
	else
		cookie_checker_wipe(&fwd.checker);
	fwd.has_identity = id.has_key != 0;
}

static void
fwd_m_load(struct chan *c, struct imsg *imsg)
{
	fwd.hs_load = fwd_u32(imsg) != 0;
}

static void
fwd_m_tun(struct chan *c, struct imsg *imsg)
{
	int32_t	mtu;

	memcpy(&mtu, imsg->data, sizeof(mtu));
	fwd.be->set_tun(imsg->fd);
	fwd.have_tun = 1;
	fwd.mtu = mtu;
	fwd_conf.tun_gone = 0;
}

static void
fwd_m_sockets(struct chan *c, struct imsg *imsg)
{
	uint8_t	fam = imsg->data[0];

	if (fam != AF_INET && fam != AF_INET6)
		fatalx("bad socket family %u", fam);
	if (imsg->fd != -1 && fwd_conf.udp_gro)
		fwd_offload_sock_gro(imsg->fd);
	fwd.be->set_udp(fam == AF_INET6, imsg->fd);
	if (fwd.have_tun && fam == AF_INET6) {
		chan_send(&fwd.parent, IMSG_FWD_READY, -1, NULL, 0);
		fwd.be->want_write();
	}
}

static void
fwd_m_mtu(struct chan *c, struct imsg *imsg)
{
	int32_t	mtu;

	memcpy(&mtu, imsg->data, sizeof(mtu));
	fwd.mtu = mtu;
}

#define FWD_FROM_P	CHAN_FROM(PROC_PARENT)
#define FWD_FROM_H	CHAN_FROM(PROC_HANDSHAKE)
#define FWD_I32		sizeof(int32_t)
#define FWD_U32		sizeof(uint32_t)

/*
 * Who may send the forwarder what (wgcard.h has each payload). Only the
 * TUN and the sockets come with a descriptor, from the parent; the
 * handshake process sends none.
 */
static const struct chan_rule fwd_rules[] = {
	CHAN_RULE(IMSG_FWD_TUN, FWD_FROM_P, FWD_I32, FWD_I32, CHAN_FD_YES,
	    fwd_m_tun),
	/* Without a descriptor: no socket of that family. */
	CHAN_RULE(IMSG_FWD_SOCKETS, FWD_FROM_P, 1, 1, CHAN_FD_MAYBE,
	    fwd_m_sockets),
	CHAN_RULE(IMSG_FWD_MTU, FWD_FROM_P, FWD_I32, FWD_I32, CHAN_FD_NO,
	    fwd_m_mtu),
	CHAN_RULE(IMSG_CTL_LOG_SET, FWD_FROM_P, FWD_I32, FWD_I32, CHAN_FD_NO,
	    chan_log_set),
	CHAN_RULE(IMSG_FWD_PEER_ADD, FWD_FROM_H, FWD_U32, FWD_U32, CHAN_FD_NO,
	    fwd_m_peer_add),
	CHAN_RULE(IMSG_FWD_PEER_DEL, FWD_FROM_H, FWD_U32, FWD_U32, CHAN_FD_NO,
	    fwd_m_peer_del),
	CHAN_RULE(IMSG_FWD_PEER_ENDPOINT, FWD_FROM_H,
	    sizeof(struct fwd_endpoint), sizeof(struct fwd_endpoint),
	    CHAN_FD_NO, fwd_m_endpoint),
	/* The header's count is checked against the size by the handler. */
	CHAN_RULE(IMSG_FWD_AIP, FWD_FROM_H, sizeof(struct fwd_aip_hdr),
	    IMSG_MAX_PAYLOAD, CHAN_FD_NO, fwd_m_aip),
	CHAN_RULE(IMSG_FWD_KEYPAIR, FWD_FROM_H, sizeof(struct fwd_keypair),
	    sizeof(struct fwd_keypair), CHAN_FD_NO, fwd_m_keypair),
	CHAN_RULE(IMSG_FWD_EXPIRE, FWD_FROM_H, FWD_U32, FWD_U32, CHAN_FD_NO,
	    fwd_m_expire),
	CHAN_RULE(IMSG_FWD_CLEAR_KEYS, FWD_FROM_H, FWD_U32, FWD_U32,
	    CHAN_FD_NO, fwd_m_clear_keys),
	CHAN_RULE(IMSG_FWD_KEEPALIVE, FWD_FROM_H, FWD_U32, FWD_U32,
	    CHAN_FD_NO, fwd_m_keepalive),
	CHAN_RULE(IMSG_FWD_FLUSH_STAGED, FWD_FROM_H, FWD_U32, FWD_U32,
	    CHAN_FD_NO, fwd_m_flush_staged),
	/* A handshake message: at least a byte, at most an initiation. */
	CHAN_RULE(IMSG_FWD_SEND, FWD_FROM_H, sizeof(struct fwd_send) + 1,
	    sizeof(struct fwd_send) + WG_MSG_INITIATION_LEN, CHAN_FD_NO,
	    fwd_m_send),
	CHAN_RULE(IMSG_FWD_IDENTITY, FWD_FROM_H, sizeof(struct fwd_identity),
	    sizeof(struct fwd_identity), CHAN_FD_NO, fwd_m_identity),
	CHAN_RULE(IMSG_FWD_LOAD, FWD_FROM_H, FWD_U32, FWD_U32, CHAN_FD_NO,
	    fwd_m_load),
};

/* The parent or the handshake process is gone: so are we. */
static void
fwd_chan_closed(struct chan *c)
{
	log_debug("%s closed its socket", c->name);
	exit(0);
}

static void
fwd_chan_init(int parent_fd, int hs_fd)
{
	chan_init_noevent(&fwd.parent, "parent", PROC_PARENT, parent_fd,
	    fwd_rules, sizeof(fwd_rules) / sizeof(fwd_rules[0]),
	    fwd_chan_closed);
	chan_init_noevent(&fwd.hs, "handshake", PROC_HANDSHAKE, hs_fd,
	    fwd_rules, sizeof(fwd_rules) / sizeof(fwd_rules[0]),
	    fwd_chan_closed);
	fwd.hs.ibuf.wmax = FWD_HS_QUEUE_MAX;
}

/* Reads every message that is there; exits when the peer is gone. */
void
fwd_chan_read(int from_hs)
{
	/* Keys change only between batches. */
	fwd_batch_run();
	(void)chan_read(from_hs ? &fwd.hs : &fwd.parent);
	fwd_tx_pending_flush();
	fwd.be->flush();
}

int
fwd_chan_flush(void)
{
	int	left;

	left = chan_flush(&fwd.hs);
	left |= chan_flush(&fwd.parent);
	return left;
}

/*
 * Once a second: wipe keypairs past REJECT_AFTER_TIME; say when packets
 * were dropped for want of a route, a buffer or room in a queue.
 */
static void
fwd_housekeeping(void)
{
	struct fwd_peer	*p;
	struct fwd_kp	**slots[3];
	uint64_t	 drops;
	int		 i, j;

	drops = fwd.drops_noroute + fwd.drops_nobuf + fwd_offload_nobuf() +
	    fwd_offload_drops();
	if (drops != fwd.drops_logged) {
		log_debug("drops: %llu no route, %llu no buffer, %llu offload",
		    (unsigned long long)fwd.drops_noroute,
		    (unsigned long long)(fwd.drops_nobuf + fwd_offload_nobuf()),
		    (unsigned long long)fwd_offload_drops());
		fwd.drops_logged = drops;
	}
	if (fwd_crypto_ncompact() != fwd.compact_logged) {
		fwd.compact_logged = fwd_crypto_ncompact();
		log_debug("crypto: %llu packets on the compact path",
		    (unsigned long long)fwd.compact_logged);
	}
	/* The handshake figures, when they changed. */
	fwd.st.under_load = fwd_under_load();
	if (memcmp(&fwd.st, &fwd.st_sent, sizeof(fwd.st)) != 0) {
		fwd_hs_send(IMSG_HS_FWD_STATS, &fwd.st, sizeof(fwd.st));
		fwd.st_sent = fwd.st;
	}
	ratelimiter_gc(&fwd.rl, fwd.now);
	ratelimiter_gc(&fwd.rl_cookie, fwd.now);

	for (i = 0; i < FWD_PEER_BUCKETS; i++)
		for (p = fwd.peers[i]; p != NULL; p = p->hnext) {
			slots[0] = &p->current;
			slots[1] = &p->previous;
			slots[2] = &p->next;
			for (j = 0; j < 3; j++)
				if (*slots[j] != NULL &&
				    fwd_kp_age(*slots[j]) >=
				    WG_REJECT_AFTER_TIME * 1000ULL) {
					fwd_kp_drop(*slots[j], 1);
					*slots[j] = NULL;
				}
		}
}

void
fwd_set_now(void)
{
	fwd.now = wg_now_ms();
}

/* Events are due FWD_EVENT_MS after the first, or the last flush. */
static uint64_t
fwd_events_due(void)
{
	return (fwd.urgent ? fwd.last_flush : fwd.first_dirty) + FWD_EVENT_MS;
}

static int
fwd_house_due(void)
{
	return fwd.now - fwd.last_house >= 1000;
}

/*
 * Whether fwd_tick has work now beyond a glance: timer events to flush
 * (a message that may wake the handshake process, which then takes this
 * CPU) or the second's housekeeping. A backend that queues its sends
 * submits them first (ur_flush), so that a packet does not wait for
 * either.
 */
int
fwd_tick_due(void)
{
	return (fwd.ndirty && fwd.now >= fwd_events_due()) || fwd_house_due();
}

int
fwd_tick(void)
{
	uint64_t	due;

	if (fwd.ndirty && fwd.now >= fwd_events_due())
		fwd_flush_events();
	if (fwd_house_due()) {
		fwd.last_house = fwd.now;
		fwd_housekeeping();
	}
	(void)fwd_chan_flush();
	if (fwd.ndirty == 0)
		return 1000;
	due = fwd_events_due();
	return fwd.now < due ? (int)(due - fwd.now) : 1;
}

#ifdef WGCARD_TEST_HOOKS
/*
 * Test builds only (-DWGCARD_TEST_HOOKS, never a production build):
 * SIGUSR2 makes the forwarder call mkdirat(2), which its seccomp filter
 * forbids, so tests/integration/fwd_sandbox.sh sees the filter kill it.
 * Production builds ignore SIGUSR2.
 */
static void
fwd_test_forbidden(int sig)
{
	(void)sig;
	(void)syscall(SYS_mkdirat, AT_FDCWD, "/wgcard-test-hook", 0700);
}
#endif

/* Backend selection. */

static int
fwd_uring_sysctl(void)
{
	FILE	*f;
	int	 v = 0;

	if ((f = fopen("/proc/sys/kernel/io_uring_disabled", "r")) == NULL)
		return 0;	/* older kernels: no such knob */
	if (fscanf(f, "%d", &v) != 1)
		v = 0;
	fclose(f);
	return v;
}

static const struct fwd_backend *
fwd_choose_backend(int want, char *why, size_t whylen)
{
	const char	*err = NULL;
	int		 dis;

	if (want == FWD_BACKEND_CLASSIC) {
		snprintf(why, whylen, "chosen with -B classic");
		return &fwd_backend_classic;
	}
	if ((dis = fwd_uring_sysctl()) == 2) {
		if (want == FWD_BACKEND_URING)
			fatalx("-B uring: io_uring is disabled "
			    "(kernel.io_uring_disabled=2)");
		snprintf(why, whylen, "io_uring is disabled "
		    "(kernel.io_uring_disabled=2)");
		return &fwd_backend_classic;
	}
#ifdef WGCARD_TEST_HOOKS
	/* Test builds: the fallback of auto, as on a kernel without it. */
	if (getenv("WGCARD_TEST_NO_URING") != NULL) {
		if (want == FWD_BACKEND_URING)
			fatalx("-B uring: io_uring refused by the test hook");
		snprintf(why, whylen, "io_uring unavailable: test hook");
		return &fwd_backend_classic;
	}
#endif
	if (fwd_backend_uring.init(&err) == -1) {
		if (want == FWD_BACKEND_URING)
			fatal("-B uring: %s", err);
		snprintf(why, whylen, "io_uring unavailable: %s: %s", err,
		    strerror(errno));
		return &fwd_backend_classic;
	}
	snprintf(why, whylen, "%s%s", want == FWD_BACKEND_URING ?
	    "chosen with -B uring" : "auto: io_uring is available", dis == 1 ?
	    ", set up while privileged (kernel.io_uring_disabled=1)" : "");
	return &fwd_backend_uring;
}

/*
 * The pool's size: what the backend that will run keeps posted, plus
 * FWD_POOL_WORK (fwd_pool.h). Needed before the backend is set up (the
 * io_uring backend registers the pool): io_uring unless classic is
 * asked for or the kernel refuses io_uring to everyone. Should io_uring
 * fail later, classic runs on this pool with smaller batches.
 */
static unsigned
fwd_pool_default(int want)
{
	const struct fwd_backend *be = &fwd_backend_uring;
	unsigned		 n;

	if (want == FWD_BACKEND_CLASSIC || fwd_uring_sysctl() == 2)
		be = &fwd_backend_classic;
	n = be->bufs + FWD_POOL_WORK;
	return n < FWD_POOL_MIN ? FWD_POOL_MIN : n;
}

static unsigned
fwd_env_uint(const char *name, unsigned def, unsigned min, unsigned max)
{
	const char	*s = getenv(name);
	char		*end;
	unsigned long	 v;

	if (s == NULL || *s == '\0')
		return def;
	v = strtoul(s, &end, 10);
	if (*end != '\0' || v < min || v > max) {
		log_warnx("%s=%s: not a number in %u..%u; using %u", name, s,
		    min, max, def);
		return def;
	}
	return v;
}

/*
 * Crypto workers: the I/O thread encrypts too, and a worker pays off only
 * when it has a core of its own. With two CPUs or fewer (where the
 * kernel's side of TUN and UDP and the applications want them as well)
 * none: measured on two cores, one worker cost a quarter of single-flow
 * throughput. Otherwise one fewer than half the CPUs, at most 7.
 */
static int
fwd_default_threads(void)
{
	long	n = sysconf(_SC_NPROCESSORS_ONLN);

	if (n <= 2)
		return 0;
	n = n / 2 - 1;
	if (n < 1)
		n = 1;
	return n > 7 ? 7 : (int)n;
}

/*
 * The I/O thread's time slice (Linux 6.12 and later, EEVDF), if
 * WGCARD_FWD_SLICE asks for one (microseconds; 0, the default, keeps
 * the kernel's, 1.4 ms on two CPUs): a task with a shorter slice than
 * the one running gets the earlier deadline when it wakes, so it may
 * run at once instead of after the running task's slice. It gets no
 * more CPU than its share: it is preempted sooner as well. Any task may
 * shorten its own slice (the kernel clamps it to 0.1-100 ms); older
 * kernels ignore it. Off by default: 100 us did not lower the idle
 * echo's RTT measurably on a loaded two-CPU machine (docs/decisions.md
 * 23). The policy and nice value stay as they were (a real-time policy
 * set by the administrator is left alone). Set before the seccomp
 * filter, which has no sched_setattr.
 */
#define FWD_SLICE_US	0

struct fwd_sched_attr {		/* struct sched_attr, sched_setattr(2) */
	uint32_t	size;
	uint32_t	sched_policy;
	uint64_t	sched_flags;
	int32_t		sched_nice;
	uint32_t	sched_priority;
	uint64_t	sched_runtime;
	uint64_t	sched_deadline;
	uint64_t	sched_period;
};

static void
fwd_sched(void)
{
	struct fwd_sched_attr	a;
	unsigned		us;

	us = fwd_env_uint("WGCARD_FWD_SLICE", FWD_SLICE_US, 0, 100000);
	if (us == 0)
		return;
	memset(&a, 0, sizeof(a));
	if (syscall(SYS_sched_getattr, 0, &a, sizeof(a), 0) == -1) {
		log_warn("sched_getattr");
		return;
	}
	if (a.sched_policy != SCHED_OTHER && a.sched_policy != SCHED_BATCH)
		return;
	a.size = sizeof(a);
	a.sched_runtime = (uint64_t)us * 1000;
	if (syscall(SYS_sched_setattr, 0, &a, 0) == -1)
		log_warn("sched_setattr: a slice of %u us", us);
}

void
forwarder_main(const struct proc_opts *opts)
{
	char	why[256];
	int	nthreads;

	log_init(opts->debug, LOG_DAEMON);
	log_setverbose(opts->verbose);
	log_procinit("forwarder");
	proc_nocore();
	wg_crypto_init();
	proc_setname("wgcard-fwd");
	proc_settitle("wgcardd: forwarder [%s]", opts->ifname);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
#ifdef WGCARD_TEST_HOOKS
	signal(SIGUSR2, fwd_test_forbidden);
#else
	signal(SIGUSR2, SIG_IGN);
#endif

	fwd_chan_init(PROC_PARENT_FD, PROC_SIBLING_FD);
	fwd_conf.parent_fd = PROC_PARENT_FD;
	fwd_conf.hs_fd = PROC_SIBLING_FD;
	if ((fwd.aips = aip_new()) == NULL)
		fatal("aip_new");
	if (ratelimiter_init(&fwd.rl, 0) == -1 ||
	    ratelimiter_init(&fwd.rl_cookie, 0) == -1)
		fatal("ratelimiter_init");

	/*
	 * libcrypto first (while /usr is in view), then what start-up
	 * touched goes, then every buffer the fast path uses, once.
	 */
	nthreads = fwd_env_uint("WGCARD_FWD_THREADS", fwd_default_threads(),
	    0, 64);
	aead_init(nthreads + 1);
	proc_trim();
	fwd_alloc(fwd_env_uint("WGCARD_FWD_POOL",
	    fwd_pool_default(opts->backend), FWD_POOL_MIN, FWD_POOL_MAX));
	fwd_conf.offloads = (opts->offloads & FWD_OFFLOAD_ON) != 0;
	fwd_conf.vnet_hdr = fwd_conf.offloads;
	fwd_conf.udp_gso = fwd_conf.offloads;
	fwd_conf.udp_gro = fwd_conf.offloads;
	fwd_conf.tun_uso = (opts->offloads & FWD_OFFLOAD_USO) != 0;
	fwd.gso_seg_max = 65535;

	/* The ring is set up while we may still lock memory. */
	fwd.be = fwd_choose_backend(opts->backend, why, sizeof(why));
	fwd.gro = fwd_offload_init(fwd_conf.tun_uso, fwd.be->tun_write);
	proc_privdrop(WGCARD_USER, WGCARD_CHROOT);
	fwd_crypto_init(nthreads);
	fwd_crypto_set_compact(fwd_env_uint("WGCARD_FWD_COMPACT", 1, 0, 1));
	fwd_sched();	/* the I/O thread only */
	/* After the threads exist: the filter covers them all (TSYNC). */
	sandbox_forwarder(fwd.be->sandbox);
	log_info("%s backend (%s), %d crypto worker%s, "
	    "offloads %s, %u buffers", fwd.be->name, why, nthreads,
	    nthreads == 1 ? "" : "s", forward_offloads_name(opts->offloads),
	    fwd_pool_nbufs());
	{
		struct fwd_info	fi;

		memset(&fi, 0, sizeof(fi));
		strlcpy(fi.backend, fwd.be->name, sizeof(fi.backend));
		strlcpy(fi.offloads, forward_offloads_name(opts->offloads),
		    sizeof(fi.offloads));
		fi.crypto_workers = (uint32_t)nthreads;
		fi.pool_bufs = fwd_pool_nbufs();
		fwd_hs_send(IMSG_HS_FWD_INFO, &fi, sizeof(fi));
	}
	/* And what the rest of start-up touched (the filter's build...). */
	proc_trim();
	fwd_set_now();
	fwd.be->run();
}

/* Option parsing, for the parent and the forwarder's command line. */

int
forward_parse_backend(const char *s)
{
	if (strcmp(s, "auto") == 0)
		return FWD_BACKEND_AUTO;
	if (strcmp(s, "classic") == 0)
		return FWD_BACKEND_CLASSIC;
	if (strcmp(s, "uring") == 0 || strcmp(s, "io_uring") == 0)
		return FWD_BACKEND_URING;
	return -1;
}

const char *
forward_backend_name(int b)
{
	switch (b) {
	case FWD_BACKEND_CLASSIC:
		return "classic";
	case FWD_BACKEND_URING:
		return "uring";
	default:
		return "auto";
	}
}

int
forward_parse_offloads(const char *s)
{
	if (strcmp(s, "off") == 0 || strcmp(s, "0") == 0)
		return FWD_OFFLOAD_OFF;
	if (strcmp(s, "on") == 0 || strcmp(s, "1") == 0)
		return FWD_OFFLOAD_ON;
	if (strcmp(s, "uso") == 0)
		return FWD_OFFLOAD_ON | FWD_OFFLOAD_USO;
	return -1;
}

const char *
forward_offloads_name(int o)
{
	if (!(o & FWD_OFFLOAD_ON))
		return "off";
	return (o & FWD_OFFLOAD_USO) ? "uso" : "on";
}
