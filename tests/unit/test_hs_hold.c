/*
 * test_hs_hold.c: when the handshake process holds back a new initiation,
 * with the process compiled in (netd/handshake.c: its state is static)
 * and the test as the parent, the key broker (it knows the interface's
 * private key and answers every IMSG_KEY_DH itself) and the forwarder at
 * the far ends of three socketpairs, and as the peer, whose side of the
 * handshake it computes with noise.c and the peer's own private key.
 *
 * CI failed card_slow.sh "hold": A's initiation was answered, the card
 * took seconds (a touch) for the response's DH, and a WANT_HANDSHAKE the
 * forwarder wrote before the touched DECIPHER's keypair reached it made
 * A send a new initiation more than REKEY_TIMEOUT after the first. B
 * answered that one and forgot the session A had just completed. The
 * rules checked here (the clock is never waited for: last_sent_handshake
 * is moved back by more than REKEY_TIMEOUT instead):
 *
 * 1. While a response from the peer waits for the broker's DH, neither a
 *    WANT_HANDSHAKE report nor the retransmit timer sends an initiation;
 *    the response, answered late, completes the handshake.
 * 2. A WANT_HANDSHAKE report written before the newest IMSG_FWD_KEYPAIR
 *    reached the forwarder (its keypairs count behind ours) is stale and
 *    starts nothing; one with the current count does.
 * 3. A response we send counts as a handshake sent: WANT_HANDSHAKE right
 *    after it starts no initiation for REKEY_TIMEOUT (as in the kernel and
 *    wireguard-go); after that it does.
 */
#include "../../netd/handshake.c"

#include "test.h"

/* Reached only from handshake_main(): never here. */
void sandbox_handshake(void) { abort(); }

#define GENERATION	7	/* the broker's key generation */
#define QMAX		64	/* messages kept per channel */

/* A message the process sent to one of the test's ends. */
struct sent {
	uint32_t	type;
	size_t		len;	/* as sent; data holds its first bytes */
	uint8_t		data[sizeof(struct fwd_send) + WG_MSG_INITIATION_LEN];
};

struct end {
	struct imsgbuf	ib;
	struct sent	q[QMAX];
	size_t		n;
};

static struct end	parent, keyd, fwd;

/* The interface's keys (the broker's) and the peer's, B. */
static uint8_t			a_priv[32], a_pub[32], b_priv[32], b_pub[32];
/* B's side of the handshake. */
static struct noise_local	b_local;
static struct noise_peer	b_peer;		/* B's view of A */
static struct cookie_maker	b_cm;		/* B's macs to A */
static struct cookie_checker	b_checker;	/* A's macs to B */
static struct wg_endpoint	b_ep;
static uint32_t			b_index = 1000;

static void
pump(int n)
{
	while (n-- > 0)
		event_loop(EVLOOP_NONBLOCK);
}

static void
channels(void)
{
	int	sp[3][2], i;

	for (i = 0; i < 3; i++)
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0,
		    sp[i]) == -1)
			abort();
	hs_chans_init(sp[0][0], sp[1][0], sp[2][0]);
	if (imsgbuf_init(&parent.ib, sp[0][1]) == -1 ||
	    imsgbuf_init(&keyd.ib, sp[1][1]) == -1 ||
	    imsgbuf_init(&fwd.ib, sp[2][1]) == -1)
		abort();
}

static void
end_read(struct end *e)
{
	struct imsg	imsg;
	struct sent	*s;

	while (imsg_recv(&e->ib, &imsg) == 1) {
		if (imsg.fd != -1)
			close(imsg.fd);
		if (e->n == QMAX)
			abort();
		s = &e->q[e->n++];
		s->type = imsg.type;
		s->len = imsg.len;
		memcpy(s->data, imsg.data, imsg.len < sizeof(s->data) ?
		    imsg.len : sizeof(s->data));
	}
}

/* Forgets what the process sent so far. */
static void
forget(void)
{
	sodium_memzero(parent.q, sizeof(parent.q));
	sodium_memzero(keyd.q, sizeof(keyd.q));
	sodium_memzero(fwd.q, sizeof(fwd.q));
	parent.n = keyd.n = fwd.n = 0;
}

/* Runs the process and keeps what it sends. */
static void
collect(void)
{
	int	i;

	for (i = 0; i < 5; i++) {
		pump(1);
		end_read(&parent);
		end_read(&keyd);
		end_read(&fwd);
	}
}

/* Sends one message to the process, which runs; what it sends is kept. */
static void
tell(struct end *e, uint32_t type, const void *data, size_t len)
{
	if (imsg_compose(&e->ib, type, 0, -1, data, len) == -1 ||
	    imsg_flush_blocking(&e->ib) == -1)
		abort();
	collect();
}

/* How many messages of type e got; the last one's data to out. */
static int
got(const struct end *e, uint32_t type, void *out, size_t len)
{
	size_t	i;
	int	n = 0;

	for (i = 0; i < e->n; i++) {
		if (e->q[i].type != type)
			continue;
		n++;
		if (out != NULL && e->q[i].len == len)
			memcpy(out, e->q[i].data, len);
	}
	return n;
}

/* How many handshake messages of wire type t went out (IMSG_FWD_SEND). */
static int
sent_wire(uint32_t t, size_t wlen, void *out)
{
	const struct sent	*s;
	uint32_t		 wt;
	size_t			 i;
	int			 n = 0;

	for (i = 0; i < fwd.n; i++) {
		s = &fwd.q[i];
		if (s->type != IMSG_FWD_SEND ||
		    s->len != sizeof(struct fwd_send) + wlen)
			continue;
		memcpy(&wt, s->data + sizeof(struct fwd_send), 4);
		if (le32toh(wt) != t)
			continue;
		n++;
		if (out != NULL)
			memcpy(out, s->data + sizeof(struct fwd_send), wlen);
	}
	return n;
}

static int
initiations(struct wg_msg_initiation *out)
{
	return sent_wire(WG_MSG_INITIATION, sizeof(*out), out);
}

/* The broker: the DH of the last IMSG_KEY_DH with the interface's key. */
static void
broker_answer(const struct key_dh_req *req)
{
	struct key_dh_res	res;

	memset(&res, 0, sizeof(res));
	res.id = req->id;
	res.generation = GENERATION;
	if (wg_x25519(res.result, a_priv, req->point) == -1)
		abort();
	tell(&keyd, IMSG_KEY_DH_RESULT, &res, sizeof(res));
	sodium_memzero(&res, sizeof(res));
}

/* The forwarder's report for p. */
static void
report(const struct hs_peer *p, uint32_t events, uint32_t keypairs)
{
	struct hs_events	ev;

	memset(&ev, 0, sizeof(ev));
	ev.peer_id = p->id;
	ev.events = events;
	ev.keypairs = keypairs;
	tell(&fwd, IMSG_HS_EVENTS, &ev, sizeof(ev));
}

/* A handshake message from B, as the forwarder hands it over. */
static void
deliver(const void *msg, size_t len)
{
	uint8_t			buf[sizeof(struct hs_packet) +
				    WG_MSG_INITIATION_LEN];
	struct hs_packet	hp;

	memset(&hp, 0, sizeof(hp));
	hp.ep = b_ep;
	memcpy(buf, &hp, sizeof(hp));
	memcpy(buf + sizeof(hp), msg, len);
	tell(&fwd, IMSG_HS_PACKET, buf, sizeof(hp) + len);
}

/* More than REKEY_TIMEOUT since p's last handshake message. */
static void
age(struct hs_peer *p)
{
	uint64_t	now = wg_now_ms();
	uint64_t	back = WG_REKEY_TIMEOUT * 1000ULL + 1000;

	p->last_sent_handshake = now > back ? now - back : 0;
}

/* B answers A's initiation: the response to out, B's keypair to kp. */
static int
b_respond(const struct wg_msg_initiation *ini, struct wg_msg_response *out,
    struct noise_keypair *kp)
{
	struct noise_initiation_ctx	ctx;
	uint8_t				point[32], dh[32], remote[32];
	int				r = -1;

	if (cookie_checker_validate_mac1(&b_checker, ini,
	    sizeof(*ini)) == COOKIE_MAC_INVALID ||
	    noise_consume_initiation_begin(&b_local, ini, &ctx,
	    point) == -1 ||
	    wg_x25519(dh, b_priv, point) == -1 ||
	    noise_consume_initiation_finish(&ctx, dh, remote) == -1 ||
	    !wg_key_eq(remote, a_pub) ||
	    noise_consume_initiation_peer(&ctx, &b_peer, wg_now_ms()) == -1 ||
	    noise_create_response(&b_peer, ++b_index, out) == -1 ||
	    noise_begin_session(&b_peer.hs, 0, kp) == -1)
		goto out;
	cookie_maker_add_macs(&b_cm, out, sizeof(*out), wg_now_ms());
	r = 0;
out:
	noise_initiation_ctx_wipe(&ctx);
	sodium_memzero(dh, sizeof(dh));
	return r;
}

/* B reads A's response to its initiation: B's keypair to kp. */
static int
b_consume_response(const struct wg_msg_response *resp,
    struct noise_keypair *kp)
{
	struct noise_response_ctx	ctx;
	uint8_t				point[32], dh[32];
	int				r = -1;

	memset(&ctx, 0, sizeof(ctx));
	if (cookie_checker_validate_mac1(&b_checker, resp,
	    sizeof(*resp)) == COOKIE_MAC_INVALID ||
	    noise_consume_response_begin(&b_peer, resp, &ctx, point) == -1 ||
	    wg_x25519(dh, b_priv, point) == -1 ||
	    noise_consume_response_finish(&ctx, &b_peer, dh) == -1 ||
	    noise_begin_session(&b_peer.hs, 1, kp) == -1)
		goto out;
	r = 0;
out:
	noise_response_ctx_wipe(&ctx);
	sodium_memzero(dh, sizeof(dh));
	return r;
}

/* A's keypair is B's seen from the other side. */
static int
keys_match(const struct fwd_keypair *fk, const struct noise_keypair *kp)
{
	return memcmp(fk->send_key, kp->recv_key, 32) == 0 &&
	    memcmp(fk->recv_key, kp->send_key, 32) == 0 &&
	    fk->local_index == kp->remote_index &&
	    fk->remote_index == kp->local_index;
}

/* The interface's key from the broker, B with an endpoint from the parent. */
static struct hs_peer *
setup(void)
{
	struct key_public	 kp;
	struct key_dh_req	 req = { 0 };
	struct hs_peer		*p;
	struct sockaddr_in	*sin;
	char			 cfg[256], hex[65];
	uint32_t		 sync = 0;
	int32_t			 status = -1;
	uint8_t			 ss[32];
	size_t			 i;

	wg_x25519_generate(a_priv, a_pub);
	wg_x25519_generate(b_priv, b_pub);
	noise_local_init(&b_local, b_pub);
	noise_peer_init(&b_peer, a_pub);
	if (wg_x25519(ss, b_priv, a_pub) == -1 ||
	    noise_peer_set_ss(&b_peer, ss) == -1)
		abort();
	sodium_memzero(ss, sizeof(ss));
	cookie_maker_init(&b_cm, a_pub);
	cookie_checker_init(&b_checker, b_pub);
	memset(&b_ep, 0, sizeof(b_ep));
	sin = &b_ep.addr.sin;
	sin->sin_family = AF_INET;
	sin->sin_port = htons(51820);
	sin->sin_addr.s_addr = htonl(0xc0000202);	/* 192.0.2.2 */

	memset(&kp, 0, sizeof(kp));
	kp.has_key = 1;
	kp.generation = GENERATION;
	memcpy(kp.pub, a_pub, 32);
	tell(&keyd, IMSG_KEY_PUBLIC, &kp, sizeof(kp));
	CHECK(hs.has_key && got(&fwd, IMSG_FWD_IDENTITY, NULL, 0) == 1,
	    "the interface's public key is taken, the forwarder told");

	for (i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", b_pub[i]);
	snprintf(cfg, sizeof(cfg), "public_key=%s\nendpoint=192.0.2.2:51820\n",
	    hex);
	forget();
	tell(&parent, IMSG_CFG_CHUNK, cfg, strlen(cfg));
	tell(&parent, IMSG_CFG_END, &sync, sizeof(sync));
	CHECK(got(&parent, IMSG_CFG_DONE, &status, sizeof(status)) == 1 &&
	    status == 0, "the configuration applied: %d", status);
	p = TAILQ_FIRST(&hs.peers);
	CHECK(p != NULL && hs.npeers == 1, "one peer: %zu", hs.npeers);
	if (p == NULL)
		return NULL;
	CHECK(wg_key_eq(p->noise.remote_static, b_pub) &&
	    p->ep.addr.sa.sa_family == AF_INET, "the peer is B, with an "
	    "endpoint");
	CHECK(got(&keyd, IMSG_KEY_DH, &req, sizeof(req)) == 1 &&
	    wg_key_eq(req.point, b_pub), "B's static-static DH is asked for");
	forget();
	broker_answer(&req);
	CHECK(p->noise.has_ss, "B's static-static DH ready");
	return p;
}

/*
 * A initiates; B's response waits for the broker (rule 1) and completes
 * the handshake when answered.
 */
static void
test_response_waits(struct hs_peer *p)
{
	struct wg_msg_initiation	ini = { 0 };
	struct wg_msg_response		resp;
	struct noise_keypair		bkp = { 0 };
	struct fwd_keypair		fk = { 0 };
	struct key_dh_req		req = { 0 };
	int				attempts;

	forget();
	report(p, HS_EV_WANT_HANDSHAKE, 0);
	CHECK(initiations(&ini) == 1, "data asks for a handshake: one "
	    "initiation (148 bytes, type 1)");
	CHECK(p->hs_index != 0 && le32toh(ini.sender) == p->hs_index,
	    "the initiation carries the handshake's index");
	CHECK(b_respond(&ini, &resp, &bkp) == 0,
	    "B takes A's initiation and answers it");

	forget();
	deliver(&resp, sizeof(resp));
	CHECK(got(&keyd, IMSG_KEY_DH, &req, sizeof(req)) == 1 &&
	    memcmp(req.point, resp.ephemeral, 32) == 0,
	    "the response's DH is asked of the broker");
	CHECK(hs_peer_response_pending(p), "the response waits for it");
	CHECK(got(&fwd, IMSG_FWD_KEYPAIR, NULL, 0) == 0, "no keypair yet");

	/*
	 * Rule 1: REKEY_TIMEOUT passed, the card has not answered. The
	 * retransmit timer fires (taken off the queue as hs_timer_fire
	 * takes it), then data asks for a handshake.
	 */
	age(p);
	attempts = p->attempts;
	forget();
	hs_timer_del(p, HS_T_RETRANSMIT);
	hs_t_retransmit(p);
	collect();
	CHECK(initiations(NULL) == 0, "rule 1: the retransmit timer sends "
	    "no initiation while the response waits (%d sent)",
	    initiations(NULL));
	CHECK(hs_timer_pending(p, HS_T_RETRANSMIT) && p->attempts == attempts,
	    "it is set again, and counts no attempt");
	age(p);
	forget();
	report(p, HS_EV_WANT_HANDSHAKE, 0);
	report(p, HS_EV_WANT_HANDSHAKE | HS_EV_DATA_SENT, 0);
	CHECK(initiations(NULL) == 0, "rule 1: nor does data asking for a "
	    "handshake (%d sent)", initiations(NULL));
	CHECK(got(&keyd, IMSG_KEY_DH, NULL, 0) == 0,
	    "nothing more is asked of the broker");

	/* The card answers: the handshake completes. */
	forget();
	broker_answer(&req);
	CHECK(got(&fwd, IMSG_FWD_KEYPAIR, &fk, sizeof(fk)) == 1 &&
	    fk.peer_id == p->id && fk.initiator == 1,
	    "answered late, the response gives the forwarder a keypair");
	CHECK(keys_match(&fk, &bkp), "its keys are the ones B derived");
	CHECK(p->keypairs == 1, "one keypair sent: %u", p->keypairs);
	CHECK(!hs_peer_response_pending(p) && p->hs_index == 0 &&
	    !hs_timer_pending(p, HS_T_RETRANSMIT) &&
	    p->last_handshake.tv_sec != 0, "the handshake is complete");
	CHECK(got(&fwd, IMSG_FWD_KEEPALIVE, NULL, 0) == 1,
	    "a keepalive confirms the session");
	CHECK(initiations(NULL) == 0, "and no initiation");
	sodium_memzero(&fk, sizeof(fk));
	noise_keypair_wipe(&bkp);
}

/* Rule 2: a report written before the newest keypair is stale. */
static void
test_stale_report(struct hs_peer *p)
{
	age(p);
	forget();
	report(p, HS_EV_WANT_HANDSHAKE, p->keypairs - 1);
	CHECK(initiations(NULL) == 0, "rule 2: a WANT_HANDSHAKE written "
	    "before the keypair reached the forwarder starts no initiation "
	    "(%d sent)", initiations(NULL));
	age(p);
	forget();
	report(p, HS_EV_WANT_HANDSHAKE, p->keypairs);
	CHECK(initiations(NULL) == 1, "rule 2: one written after it starts "
	    "one (%d sent)", initiations(NULL));
	/* Only a count behind is stale: one ahead never silences it. */
	age(p);
	forget();
	report(p, HS_EV_WANT_HANDSHAKE, p->keypairs + 1);
	CHECK(initiations(NULL) == 1, "rule 2: a count ahead of ours starts "
	    "one");
}

/* Rule 3: a response we send counts as a handshake sent. */
static void
test_response_sent(struct hs_peer *p)
{
	struct wg_msg_initiation	ini = { 0 };
	struct wg_msg_response		resp;
	struct noise_keypair		bkp = { 0 };
	struct fwd_keypair		fk = { 0 };
	struct key_dh_req		req = { 0 };
	uint8_t				ts[WG_TIMESTAMP_LEN];
	uint32_t			before = p->keypairs;

	/* B initiates (A's own initiation of rule 2 is left unanswered). */
	wg_tai64n_now(ts);
	if (noise_create_initiation(&b_local, &b_peer, ++b_index, ts,
	    &ini) == -1)
		abort();
	cookie_maker_add_macs(&b_cm, &ini, sizeof(ini), wg_now_ms());
	/* Only the response can make A's last handshake recent. */
	age(p);
	forget();
	deliver(&ini, sizeof(ini));
	CHECK(got(&keyd, IMSG_KEY_DH, &req, sizeof(req)) == 1 &&
	    memcmp(req.point, ini.ephemeral, 32) == 0,
	    "B's initiation: its DH is asked of the broker");
	forget();
	broker_answer(&req);
	CHECK(sent_wire(WG_MSG_RESPONSE, sizeof(resp), &resp) == 1,
	    "a response goes out (92 bytes, type 2)");
	CHECK(got(&fwd, IMSG_FWD_KEYPAIR, &fk, sizeof(fk)) == 1 &&
	    fk.initiator == 0 && p->keypairs == before + 1,
	    "with a responder's keypair first");
	CHECK(b_consume_response(&resp, &bkp) == 0 && keys_match(&fk, &bkp),
	    "B takes the response: the same keys");
	CHECK(initiations(NULL) == 0, "no initiation with it");

	forget();
	report(p, HS_EV_WANT_HANDSHAKE | HS_EV_DATA_SENT, p->keypairs);
	CHECK(initiations(NULL) == 0, "rule 3: data asking for a handshake "
	    "right after our response starts no initiation (%d sent)",
	    initiations(NULL));
	age(p);
	forget();
	report(p, HS_EV_WANT_HANDSHAKE, p->keypairs);
	CHECK(initiations(NULL) == 1, "rule 3: REKEY_TIMEOUT after it, one "
	    "(%d sent)", initiations(NULL));
	sodium_memzero(&fk, sizeof(fk));
	noise_keypair_wipe(&bkp);
}

int
main(void)
{
	struct hs_peer	*p;

	log_init(1, LOG_DAEMON);
	signal(SIGPIPE, SIG_IGN);
	wg_crypto_init();
	event_init();
	hs_state_init();
	channels();

	if ((p = setup()) != NULL) {
		test_response_waits(p);
		test_stale_report(p);
		test_response_sent(p);
	}
	forget();
	sodium_memzero(a_priv, sizeof(a_priv));
	sodium_memzero(b_priv, sizeof(b_priv));
	return test_done();
}
