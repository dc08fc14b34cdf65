/*
 * test_fwd_clock.c: a keypair's age on the forwarder's clock
 * (netd/forward.c).
 *
 * The forwarder reads its clock once a wakeup (fwd_set_now: fwd.now) and
 * ages every keypair against it. A keypair's birth used to be taken from
 * wg_now_ms() instead: one that came a millisecond after the wakeup's
 * reading was born in the future, fwd.now - birth wrapped to nearly
 * 2^64, and the housekeeping of that same wakeup (due after a quiet
 * second, as it usually is when a keypair comes after a slow card
 * operation) wiped it as past REJECT_AFTER_TIME; fwd_kp_can_send said no
 * (an initiator asked for a new handshake at once) and the receive path
 * refused data for it. In CI, card_slow.sh "DecipherTimeout: handshake
 * at 1 s gets through" failed under CPU load that way: the responder's
 * new session was gone before the initiator's first packet. Now the
 * birth is fwd.now and every age goes through fwd_kp_age(), which never
 * goes below 0.
 *
 * The wakeup is played here with a stale reading on purpose
 * (fwd.now = wg_now_ms() - 5, housekeeping due), so the test fails on
 * the old code every time, not one run in five.
 *
 * netd/forward.c is compiled into this file (its state is static). The
 * handshake process and the parent are this test, at the far ends of
 * two SOCK_SEQPACKET socketpairs: IMSG_FWD_PEER_ADD, _PEER_ENDPOINT,
 * _KEYPAIR and _KEEPALIVE go through imsg and the forwarder's rule table
 * and handlers (fwd_chan_read) exactly as in the daemon, and what it
 * sends back (IMSG_HS_KEYPAIR_GONE) is read there. The I/O backend is
 * a fake: every send succeeds at once and goes nowhere. Crypto runs
 * inline, on a pool of FWD_POOL_MIN buffers. A received data message is
 * sealed here with the keypair's receive key and handed to
 * fwd_decrypt_queue in a pool buffer, as fwd_in_udp does, then its
 * batch runs (fwd_in_end).
 *
 * Checks (each with a peer of its own):
 *  1. stale wakeup, responder: the keypair is born at fwd.now (age 0,
 *     can send) and is still the peer's next after fwd_tick's
 *     housekeeping, not reported gone; the initiator's first packets
 *     then open and confirm it. Initiator: the keypair stays current
 *     through the housekeeping and can send, a keepalive goes out on it
 *     and asks for no new handshake;
 *  2. stale wakeup, the initiator's first packet right after the
 *     keypair (before housekeeping): fwd_decrypt_queue takes it (0), it
 *     opens, and it confirms the responder keypair (next becomes
 *     current, HS_EV_CONFIRMED);
 *  3. ages at the edges, through fwd_kp_age, fwd_kp_can_send and
 *     fwd_housekeeping: born in the future (age 0, kept, can send);
 *     exactly REJECT_AFTER_TIME ago (wiped, reported gone, cannot send);
 *     a millisecond less (kept) or more (wiped); fwd.now at 0 and near
 *     UINT64_MAX, birth after it or long before (no wrap either way).
 *  4. fwd_tick_due (the io_uring backend submits a wakeup's sends
 *     before fwd_tick when it says so): due exactly when the second's
 *     housekeeping or the timer events' flush is, not a millisecond
 *     before, and not after fwd_tick has done it.
 * At the end no keypair was reported gone unexplained and every pool
 * buffer is back.
 */
#include <sys/socket.h>

#include <netinet/in.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../netd/forward.c"

#include "test.h"

/* Reached only from forwarder_main(): never here. */
void
sandbox_forwarder(int flags)
{
	abort();
}

/* A backend that sends nothing anywhere. */

static void
tc_be_set_tun(int fd)
{
	if (fd != -1)
		close(fd);
}

static void
tc_be_set_udp(int v6, int fd)
{
	if (fd != -1)
		close(fd);
}

static unsigned	tc_sent;	/* sends the backend "made" */

static void
tc_be_tx(struct fwd_tx *tx)
{
	tc_sent++;
	fwd_tx_done(tx, 0);
}

static void
tc_be_tun_write(struct fwd_buf *b, uint32_t off, uint32_t len)
{
	fwd_buf_put(b);
}

static void
tc_be_nothing(void)
{
}

static __dead void
tc_be_run(void)
{
	abort();
}

static const struct fwd_backend tc_backend = {
	.name = "test",
	.set_tun = tc_be_set_tun,
	.set_udp = tc_be_set_udp,
	.tx = tc_be_tx,
	.tun_write = tc_be_tun_write,
	.flush = tc_be_nothing,
	.want_write = tc_be_nothing,
	.run = tc_be_run,
};

/* The real backends (io_uring, classic) are not linked: never chosen. */
const struct fwd_backend fwd_backend_uring = {
	.name = "uring", .run = tc_be_run,
};
const struct fwd_backend fwd_backend_classic = {
	.name = "classic", .run = tc_be_run,
};

/* The far ends: the parent's and the handshake process's. */
static struct imsgbuf	tc_parent, tc_hs;

static void
tc_chan_open(int *proc_fd, struct imsgbuf *far)
{
	int	sv[2];

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0, sv) == -1 || imsgbuf_init(far, sv[1]) == -1)
		abort();
	*proc_fd = sv[0];
}

static void
tc_setup(void)
{
	int	pfd, hfd;

	log_init(1, LOG_DAEMON);
	log_setverbose(0);
	wg_crypto_init();
	tc_chan_open(&pfd, &tc_parent);
	tc_chan_open(&hfd, &tc_hs);
	fwd_chan_init(pfd, hfd);
	fwd_conf.parent_fd = pfd;
	fwd_conf.hs_fd = hfd;
	fwd_alloc(FWD_POOL_MIN);
	if (ratelimiter_init(&fwd.rl, 64) == -1 ||
	    ratelimiter_init(&fwd.rl_cookie, 64) == -1 ||
	    (fwd.aips = aip_new()) == NULL)
		abort();
	fwd.gso_seg_max = 65535;
	fwd.be = &tc_backend;
	fwd.gro = fwd_offload_init(0, fwd.be->tun_write);
	fwd_crypto_init(0);	/* inline, and aead_init */
	fwd.mtu = 1420;
	fwd_set_now();
}

/* A message from the handshake process, read as its wakeup reads it. */
static void
tc_from_hs(uint32_t type, const void *data, size_t len)
{
	if (imsg_compose(&tc_hs, type, 0, -1, data, len) == -1 ||
	    imsg_flush(&tc_hs) != 0)
		abort();
	fwd_chan_read(1);
}

/*
 * Reads what the forwarder sent the handshake process: how many
 * IMSG_HS_KEYPAIR_GONE for local index idx (all of them for 0).
 */
static int
tc_gone(uint32_t idx)
{
	struct imsg	imsg;
	uint32_t	v;
	int		n = 0;

	(void)fwd_chan_flush();
	while (imsg_recv(&tc_hs, &imsg) == 1)
		if (imsg.type == IMSG_HS_KEYPAIR_GONE &&
		    imsg.len == sizeof(v)) {
			memcpy(&v, imsg.data, sizeof(v));
			if (idx == 0 || v == idx)
				n++;
		}
	while (imsg_recv(&tc_parent, &imsg) == 1)
		;
	return n;
}

/* The keys of the keypair with local index idx (never secret here). */
static void
tc_keys(uint32_t idx, uint8_t send[32], uint8_t recv[32])
{
	int	i;

	for (i = 0; i < 32; i++) {
		send[i] = (uint8_t)(idx * 7 + i);
		recv[i] = (uint8_t)(idx * 13 + i + 0x80);
	}
}

static void
tc_peer_add(uint32_t id)
{
	tc_from_hs(IMSG_FWD_PEER_ADD, &id, sizeof(id));
}

static void
tc_endpoint(uint32_t id)
{
	struct fwd_endpoint	fe;

	memset(&fe, 0, sizeof(fe));
	fe.peer_id = id;
	fe.ep.addr.sin.sin_family = AF_INET;
	fe.ep.addr.sin.sin_port = htons(51820);
	fe.ep.addr.sin.sin_addr.s_addr = htonl(0x7f000001);
	tc_from_hs(IMSG_FWD_PEER_ENDPOINT, &fe, sizeof(fe));
}

/* IMSG_FWD_KEYPAIR as the handshake process sends it. */
static struct fwd_kp *
tc_keypair(uint32_t id, uint32_t idx, int initiator)
{
	struct fwd_keypair	k;

	memset(&k, 0, sizeof(k));
	k.peer_id = id;
	k.local_index = idx;
	k.remote_index = idx ^ 0xa5a5a5a5;
	k.initiator = initiator ? 1 : 0;
	tc_keys(idx, k.send_key, k.recv_key);
	tc_from_hs(IMSG_FWD_KEYPAIR, &k, sizeof(k));
	return fwd_kp_find(idx);
}

/* A wakeup whose clock reading is 5 ms old, its housekeeping due. */
static void
tc_stale_wakeup(void)
{
	fwd.now = wg_now_ms() - 5;
	fwd.last_house = fwd.now - 1000;
}

/*
 * A data message from the peer to the keypair with local index idx
 * (counter, a keepalive), sealed with its receive key, received as
 * fwd_in_udp receives it: fwd_decrypt_queue's result. When queued, the
 * batch runs (fwd_in_end) before this returns.
 */
static int
tc_receive(uint32_t idx, uint64_t counter)
{
	struct wg_endpoint	 ep;
	struct fwd_buf		*b;
	struct aead_key		*key;
	uint8_t			 skey[32], rkey[32], *msg;
	uint32_t		 v32;
	uint64_t		 v64;
	int			 epi, r;

	if ((b = fwd_buf_get()) == NULL)
		abort();
	msg = b->base + b->off;
	v32 = htole32(WG_MSG_DATA);
	memcpy(msg, &v32, 4);
	v32 = htole32(idx);
	memcpy(msg + 4, &v32, 4);
	v64 = htole64(counter);
	memcpy(msg + 8, &v64, 8);
	tc_keys(idx, skey, rkey);
	key = aead_key_new(rkey);
	aead_seal(key, 0, msg + 16, 0, NULL, 0, counter);
	aead_key_free(key);
	b->len = WG_MSG_DATA_MIN_LEN;

	memset(&ep, 0, sizeof(ep));
	ep.addr.sin.sin_family = AF_INET;
	ep.addr.sin.sin_port = htons(51820);
	ep.addr.sin.sin_addr.s_addr = htonl(0x7f000001);
	epi = batch.neps++;
	batch.eps[epi] = ep;
	if ((r = fwd_decrypt_queue(b, msg, b->len, epi)) == 0)
		batch.inbufs[batch.ninbufs++] = b;
	else
		fwd_buf_put(b);
	fwd_in_end();
	return r;
}

static void
tc_peer_del(uint32_t id)
{
	tc_from_hs(IMSG_FWD_PEER_DEL, &id, sizeof(id));
	CHECK(fwd_peer_find(id) == NULL, "peer %u gone", id);
}

/*
 * Check 1, the responder: in a stale wakeup its keypair comes and the
 * housekeeping runs; the keypair is still the peer's next, and then
 * opens the initiator's first packets.
 */
static void
check_stale_responder(void)
{
	struct fwd_peer	*p;
	struct fwd_kp	*kp;
	uint64_t	 rx;

	tc_peer_add(1);
	tc_stale_wakeup();
	kp = tc_keypair(1, 0x1001, 0);
	p = fwd_peer_find(1);
	CHECK(p != NULL && kp != NULL && p->next == kp,
	    "responder keypair taken as next");
	if (p == NULL || kp == NULL)
		return;
	CHECK(kp->birth_ms == fwd.now, "birth on the wakeup's clock: "
	    "%llu, now %llu", (unsigned long long)kp->birth_ms,
	    (unsigned long long)fwd.now);
	CHECK(fwd_kp_age(kp) == 0, "age 0 in the wakeup it came: %llu",
	    (unsigned long long)fwd_kp_age(kp));
	CHECK(fwd_kp_can_send(kp), "a new keypair can send");
	fwd_in_end();
	(void)fwd_tick();
	CHECK(fwd.last_house == fwd.now, "housekeeping ran in this wakeup");
	CHECK(p->next == kp, "responder keypair survives housekeeping");
	CHECK(tc_gone(0x1001) == 0, "responder keypair not reported gone");
	if (p->next == kp) {
		/* Still the same wakeup: the initiator's first packets. */
		rx = p->rx_bytes;
		CHECK(tc_receive(0x1001, 0) == 0,
		    "after housekeeping, fwd_decrypt_queue takes data for "
		    "the new keypair");
		CHECK(p->rx_bytes == rx + WG_MSG_DATA_MIN_LEN,
		    "the data message opened (rx_bytes %llu)",
		    (unsigned long long)p->rx_bytes);
		CHECK(p->current == kp && p->next == NULL,
		    "its first packet confirms the responder keypair");
		CHECK(tc_receive(0x1001, 1) == 0, "and the next packet too");
	}
	tc_peer_del(1);
}

/*
 * Check 2: in a stale wakeup a responder keypair comes and the
 * initiator's first packet with it (before any housekeeping): it is
 * queued, opens and confirms the keypair.
 */
static void
check_stale_receive(void)
{
	struct fwd_peer	*p;
	struct fwd_kp	*kp;

	tc_peer_add(4);
	tc_stale_wakeup();
	kp = tc_keypair(4, 0x4001, 0);
	p = fwd_peer_find(4);
	CHECK(p != NULL && kp != NULL && p->next == kp,
	    "responder keypair taken as next");
	if (p == NULL || kp == NULL)
		return;
	p->events = 0;
	CHECK(tc_receive(0x4001, 0) == 0,
	    "fwd_decrypt_queue takes data for the keypair just taken");
	CHECK(p->rx_bytes == WG_MSG_DATA_MIN_LEN,
	    "the data message opened (rx_bytes %llu)",
	    (unsigned long long)p->rx_bytes);
	CHECK(p->current == kp && p->next == NULL,
	    "its first packet confirms the responder keypair");
	CHECK(p->events & HS_EV_CONFIRMED, "confirmation reported");
	(void)fwd_tick();
	CHECK(p->current == kp, "confirmed keypair survives housekeeping");
	CHECK(tc_gone(0x4001) == 0, "confirmed keypair not reported gone");
	tc_peer_del(4);
}

/*
 * Check 1, the initiator: in a stale wakeup its keypair comes, a
 * keepalive is sent on it, the housekeeping runs; it is still current
 * and can send, and no new handshake was asked for.
 */
static void
check_stale_initiator(void)
{
	struct fwd_peer	*p;
	struct fwd_kp	*kp;

	tc_peer_add(2);
	tc_endpoint(2);
	tc_stale_wakeup();
	kp = tc_keypair(2, 0x2001, 1);
	p = fwd_peer_find(2);
	CHECK(p != NULL && kp != NULL && p->current == kp,
	    "initiator keypair taken as current");
	if (p == NULL || kp == NULL)
		return;
	CHECK(kp->birth_ms == fwd.now, "initiator birth on the wakeup's "
	    "clock");
	p->events = 0;
	tc_sent = 0;
	tc_from_hs(IMSG_FWD_KEEPALIVE, &p->id, sizeof(p->id));
	CHECK(tc_sent == 1 && p->tx_bytes == WG_MSG_DATA_MIN_LEN,
	    "a keepalive went out on it (%u sends)", tc_sent);
	CHECK(!(p->events & HS_EV_WANT_HANDSHAKE),
	    "no new handshake asked for");
	fwd_in_end();
	(void)fwd_tick();
	CHECK(fwd.last_house == fwd.now, "housekeeping ran in this wakeup");
	CHECK(p->current == kp, "initiator keypair survives housekeeping");
	CHECK(p->current != NULL && fwd_kp_can_send(p->current),
	    "initiator keypair can send");
	CHECK(tc_gone(0x2001) == 0, "initiator keypair not reported gone");
	if (p->current == kp)
		CHECK(tc_receive(0x2001, 0) == 0,
		    "fwd_decrypt_queue takes data for the initiator keypair");
	tc_peer_del(2);
}

/*
 * Check 3, one edge: a responder keypair taken at now, its birth then
 * set to birth; kept (or not) by housekeeping at now, and can send (or
 * not) before it.
 */
static void
check_edge(const char *what, uint64_t now, uint64_t birth, int kept,
    uint64_t age)
{
	static uint32_t	 idx = 0x3000;
	struct fwd_peer	*p;
	struct fwd_kp	*kp;
	uint32_t	 id = 3;

	idx++;
	tc_peer_add(id);
	fwd.now = now;
	kp = tc_keypair(id, idx, 0);
	p = fwd_peer_find(id);
	CHECK(p != NULL && kp != NULL && p->next == kp, "%s: taken", what);
	if (p == NULL || kp == NULL) {
		tc_peer_del(id);
		return;
	}
	CHECK(kp->birth_ms == now, "%s: born at fwd.now", what);
	kp->birth_ms = birth;
	CHECK(fwd_kp_age(kp) == age, "%s: age %llu, want %llu", what,
	    (unsigned long long)fwd_kp_age(kp), (unsigned long long)age);
	CHECK(fwd_kp_can_send(kp) == kept, "%s: can send %d, want %d", what,
	    fwd_kp_can_send(kp), kept);
	fwd_housekeeping();
	CHECK((p->next == kp) == kept, "%s: %s by housekeeping", what,
	    kept ? "wiped" : "kept");
	CHECK(tc_gone(idx) == !kept, "%s: reported gone %s", what,
	    kept ? "yet kept" : "not");
	tc_peer_del(id);
}

static void
check_edges(void)
{
	const uint64_t	reject = WG_REJECT_AFTER_TIME * 1000ULL;
	uint64_t	now;

	now = wg_now_ms();
	if (now < reject + 1)
		now = reject + 1;
	check_edge("born in the future", now, now + 1000, 1, 0);
	check_edge("born now", now, now, 1, 0);
	check_edge("born REJECT_AFTER_TIME ago", now, now - reject, 0,
	    reject);
	check_edge("born REJECT_AFTER_TIME - 1 ms ago", now, now - reject + 1,
	    1, reject - 1);
	check_edge("born REJECT_AFTER_TIME + 1 ms ago", now, now - reject - 1,
	    0, reject + 1);

	/* Clocks at the ends of the range: nothing wraps. */
	check_edge("now 0, born 1", 0, 1, 1, 0);
	check_edge("now 0, born UINT64_MAX", 0, UINT64_MAX, 1, 0);
	check_edge("now 0, born 0", 0, 0, 1, 0);
	check_edge("now UINT64_MAX, born then", UINT64_MAX, UINT64_MAX, 1,
	    0);
	check_edge("now UINT64_MAX, born REJECT_AFTER_TIME ago", UINT64_MAX,
	    UINT64_MAX - reject, 0, reject);
	check_edge("now UINT64_MAX, born REJECT_AFTER_TIME - 1 ms ago",
	    UINT64_MAX, UINT64_MAX - reject + 1, 1, reject - 1);
	check_edge("now UINT64_MAX - 1, born UINT64_MAX", UINT64_MAX - 1,
	    UINT64_MAX, 1, 0);
	check_edge("now UINT64_MAX, born 0", UINT64_MAX, 0, 0, UINT64_MAX);
	check_edge("now reject, born 0", reject, 0, 0, reject);
	check_edge("now reject - 1, born 0", reject - 1, 0, 1, reject - 1);
}

/*
 * fwd_tick_due, which tells the io_uring backend to submit a wakeup's
 * sends before fwd_tick (ur_flush): 0 until the second's housekeeping
 * or the timer events' flush is due, 1 from that millisecond on, 0 once
 * fwd_tick has done it; an urgent event counts from the last flush.
 */
static void
check_tick_due(void)
{
	struct fwd_peer	*p;
	uint64_t	 t;

	tc_peer_add(40);
	p = fwd_peer_find(40);
	t = wg_now_ms();
	fwd.now = t;
	(void)fwd_tick();
	fwd.last_house = t;
	CHECK(fwd.ndirty == 0 && !fwd_tick_due(), "nothing due after a tick");
	fwd.now = t + 999;
	CHECK(!fwd_tick_due(), "housekeeping not due at 999 ms");
	fwd.now = t + 1000;
	CHECK(fwd_tick_due(), "housekeeping due at 1000 ms");
	(void)fwd_tick();
	CHECK(fwd.last_house == t + 1000 && !fwd_tick_due(),
	    "housekeeping done: nothing due");

	t += 1000;
	fwd_event(p, HS_EV_DATA_SENT);
	CHECK(fwd.ndirty == 1 && !fwd_tick_due(), "a fresh event: not due");
	fwd.now = t + FWD_EVENT_MS - 1;
	CHECK(!fwd_tick_due(), "an event not due 1 ms early");
	fwd.now = t + FWD_EVENT_MS;
	CHECK(fwd_tick_due(), "an event due after FWD_EVENT_MS");
	(void)fwd_tick();
	CHECK(fwd.ndirty == 0 && !fwd_tick_due(), "events flushed: nothing due");

	/* Urgent, right after that flush: due FWD_EVENT_MS after it. */
	fwd_event(p, HS_EV_CONFIRMED);
	CHECK(fwd.urgent && !fwd_tick_due(), "an urgent event right after a "
	    "flush: not due");
	fwd.now = fwd.last_flush + FWD_EVENT_MS;
	CHECK(fwd_tick_due(), "an urgent event due FWD_EVENT_MS after the "
	    "last flush");
	(void)fwd_tick();
	CHECK(fwd.ndirty == 0 && !fwd_tick_due(), "urgent event flushed");
	tc_peer_del(40);
}

int
main(void)
{
	tc_setup();
	check_stale_responder();
	check_stale_receive();
	check_stale_initiator();
	check_edges();
	check_tick_due();
	fwd_set_now();
	CHECK(tc_gone(0) == 0, "no keypair reported gone unexplained");
	CHECK(fwd_buf_nfree() == fwd_pool_nbufs(),
	    "every pool buffer back: %u of %u", fwd_buf_nfree(),
	    fwd_pool_nbufs());
	CHECK(batch.n == 0 && batch.grave == NULL, "batch empty");
	aip_free(fwd.aips);
	ratelimiter_gc(&fwd.rl, UINT64_MAX);
	ratelimiter_gc(&fwd.rl_cookie, UINT64_MAX);
	imsgbuf_clear(&tc_parent);
	imsgbuf_clear(&tc_hs);
	return test_done();
}
