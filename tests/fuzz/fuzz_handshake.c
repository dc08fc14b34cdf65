/*
 * fuzz_handshake.c: libFuzzer target for the consumption of handshake
 * messages: initiation (responder), response (initiator) and cookie
 * reply (initiator), with mac1/mac2 (cookie.c) and the Noise state
 * machine (noise.c), between two fixed static identities, I and R, whose
 * "key broker" is an in-process software X25519.
 *
 * An input is a sequence of operations; the first byte of each:
 *   bits 0-2: 0 I sends an initiation to R; 1 R's last response goes to
 *             I; 2 R answers I's last message with a cookie reply, which
 *             goes to I; 3 the clock moves on; 4 raw bytes as an
 *             initiation to R; 5 raw bytes as a response to I; 6 raw
 *             bytes as a cookie reply to I; 7 R is under load (or not).
 *   bit 3: the message's bytes are flipped as the next bytes say (a
 *          count, then offset and xor pairs);
 *   bit 4: its macs are computed again after that (so that flipped bytes
 *          reach the Noise checks);
 *   bit 5: it comes from another source address;
 *   bit 6 (initiation): from J, a static key R does not know;
 *   bit 7 (initiation): I's last message again, a replay on the wire.
 * The ephemeral keys, indices and timestamps come from the input too.
 * Every message is in an allocation of its exact size.
 *
 * What must hold, against a model kept here: a message whose bytes are
 * what the sender made (or flipped only where no check covers them: the
 * sender index, a cookie reply's receiver index) is accepted exactly when
 * the protocol says (timestamp newer than the last accepted, not within
 * 20 ms of it, a response to the current initiation not consumed yet, a
 * cookie reply to the last message sent, at most once); any other byte
 * flipped, or raw bytes, are never accepted; mac2 is valid exactly when
 * the initiator holds a fresh cookie of R's current secret for its
 * address; sessions that both sides derive have matching keys.
 */
#include <sys/socket.h>
#include <netinet/in.h>

#include <endian.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cookie.h"
#include "crypto.h"
#include "messages.h"
#include "noise.h"

#define FH_OPS		24	/* each costs a few X25519 */

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Static keys: I (initiator), R (responder), J (unknown to R). */
static uint8_t	fh_priv_i[32], fh_priv_r[32], fh_priv_j[32];
static uint8_t	fh_pub_i[32], fh_pub_r[32], fh_pub_j[32];
static uint8_t	fh_ss_ir[32], fh_ss_jr[32];	/* static-static DH */

static struct {
	const uint8_t	*p, *end;
	uint64_t	 now;
	/* I's side: its view of R, and J's (same peer R). */
	struct noise_local	 li, lj;
	struct noise_peer	 r_at_i, r_at_j;
	struct cookie_maker	 mk_i;
	/* R's side. */
	struct noise_local	 lr;
	struct noise_peer	 i_at_r;
	struct cookie_checker	 ck_r;
	int			 under_load;
	/* I's last message (what a cookie reply answers), by generation. */
	uint8_t			 last_sent[WG_MSG_INITIATION_LEN];
	size_t			 last_sent_len;
	int			 last_sent_src;
	uint32_t		 last_sent_sender;
	int			 last_sent_j;	/* from J */
	int			 last_sent_mac2; /* with a cookie: */
	int			 last_sent_cookie_src;	/* the cookie's */
	uint64_t		 last_sent_cookie_birth;
	uint8_t			 last_sent_ts[WG_TIMESTAMP_LEN];
	unsigned		 sent_gen;	/* I's initiations */
	uint32_t		 i_sender;	/* I's last sender index */
	uint8_t			 ts_clock[WG_TIMESTAMP_LEN];
	/* The model. */
	uint8_t			 latest_ts[WG_TIMESTAMP_LEN]; /* R's */
	int			 has_last_init;
	uint64_t		 last_init_ms;
	struct wg_msg_response	 resp;		/* R's last response */
	int			 has_resp;
	unsigned		 resp_gen;	/* the initiation it answers */
					/* (0: none, or not I's current) */
	struct noise_keypair	 kp_r;		/* R's session for it */
	int			 cookie_src;	/* I's cookie: for which src */
	uint64_t		 cookie_secret_birth;
} fh;

static const uint8_t *
fh_take(size_t n)
{
	const uint8_t	*q = fh.p;

	if ((size_t)(fh.end - fh.p) < n)
		return NULL;
	fh.p += n;
	return q;
}

static int
fh_byte(uint8_t *b)
{
	const uint8_t	*q;

	if ((q = fh_take(1)) == NULL)
		return -1;
	*b = *q;
	return 0;
}

static void
fh_keys(uint8_t priv[32], uint8_t pub[32], uint8_t seed)
{
	memset(priv, seed, 32);
	priv[0] &= 248;
	priv[31] = (priv[31] & 127) | 64;
	wg_x25519_pub(pub, priv);
}

/* An ephemeral private key from one byte of the input (and the op). */
static int
fh_ephemeral(uint8_t priv[32], unsigned op)
{
	uint8_t	b, in[2];

	if (fh_byte(&b) == -1)
		return -1;
	in[0] = b;
	in[1] = (uint8_t)op;
	blake2s(priv, 32, in, sizeof(in), NULL, 0);
	return 0;
}

static void
fh_src(struct sockaddr_in *sin, int other)
{
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_port = htons(other ? 40000 : 51820);
	sin->sin_addr.s_addr = htonl(other ? 0xc6336401 : 0xc0000201);
}

/*
 * Flips bytes of m (len bytes, made as orig) as the input says (bit 3 of
 * op), then tells what differs: FH_FREE bytes in [lo, hi) (covered by
 * no check but the macs), FH_BODY other bytes before the macs, FH_MAC1,
 * FH_MAC2 (macs at offset macs; len for none).
 */
#define FH_FREE		1
#define FH_BODY		2
#define FH_MAC1		4
#define FH_MAC2		8

static int
fh_flip(uint8_t *m, const uint8_t *orig, size_t len, uint8_t op, size_t lo,
    size_t hi, size_t macs)
{
	const uint8_t	*q;
	uint8_t		 n, i;
	size_t		 off;
	int		 what = 0;

	if ((op & 0x08) && fh_byte(&n) == 0)
		for (i = 0; i < (n & 7) && (q = fh_take(2)) != NULL; i++)
			m[q[0] % len] ^= q[1];
	for (off = 0; off < len; off++) {
		if (m[off] == orig[off])
			continue;
		if (off >= macs + 16)
			what |= FH_MAC2;
		else if (off >= macs)
			what |= FH_MAC1;
		else if (off >= lo && off < hi)
			what |= FH_FREE;
		else
			what |= FH_BODY;
	}
	return what;
}

/*
 * The message an op delivers, in an allocation of its len bytes: raw
 * bytes of the input, or orig flipped as the input says, with *diff as
 * fh_flip tells. NULL at the end of the input.
 */
static uint8_t *
fh_message(uint8_t op, int raw, const void *orig, size_t len, size_t lo,
    size_t hi, size_t macs, int *diff)
{
	const uint8_t	*q;
	uint8_t		*m;

	if (raw && (q = fh_take(len)) == NULL)
		return NULL;
	if ((m = malloc(len)) == NULL)
		abort();
	if (raw) {
		memcpy(m, q, len);
		*diff = FH_BODY | FH_MAC1 | FH_MAC2;
	} else {
		memcpy(m, orig, len);
		*diff = fh_flip(m, orig, len, op, lo, hi, macs);
	}
	return m;
}

/* Computes the macs of m again, with no cookie (mac2 zero). */
static void
fh_remac(uint8_t *m, size_t len, const uint8_t to[static 32])
{
	struct cookie_maker	mk;

	cookie_maker_init(&mk, to);
	if (cookie_maker_add_macs(&mk, m, len, fh.now) != 0)
		abort();
	cookie_maker_wipe(&mk);
}

/* The responder's whole path for an initiation of len bytes. */
static int
fh_r_initiation(const uint8_t *m, size_t len, int src_other, int *mac2)
{
	struct noise_initiation_ctx	ctx;
	struct sockaddr_in		sin;
	uint8_t				point[32], dh[32], s[32];
	enum cookie_mac_state		st;

	fh_src(&sin, src_other);
	st = cookie_checker_validate(&fh.ck_r, m, len,
	    (struct sockaddr *)&sin, fh.now);
	*mac2 = st == COOKIE_VALID_MAC2;
	if (st == COOKIE_MAC_INVALID)
		return -1;
	if (fh.under_load && st != COOKIE_VALID_MAC2)
		return -1;			/* a cookie reply instead */
	if (len != sizeof(struct wg_msg_initiation))
		return -1;
	if (noise_consume_initiation_begin(&fh.lr,
	    (const struct wg_msg_initiation *)m, &ctx, point) != 0)
		return -1;
	/* The broker. */
	if (wg_x25519(dh, fh_priv_r, point) != 0) {
		noise_initiation_ctx_wipe(&ctx);
		return -1;
	}
	if (noise_consume_initiation_finish(&ctx, dh, s) != 0)
		return -1;
	if (!wg_key_eq(s, fh.i_at_r.remote_static)) {
		noise_initiation_ctx_wipe(&ctx);
		return -1;			/* no such peer */
	}
	return noise_consume_initiation_peer(&ctx, &fh.i_at_r, fh.now);
}

/* Whether I's maker holds a cookie it puts in mac2 now. */
static int
fh_maker_has_cookie(void)
{
	return fh.mk_i.has_cookie && fh.now >= fh.mk_i.cookie_birth_ms &&
	    fh.now - fh.mk_i.cookie_birth_ms < (WG_COOKIE_SECRET_MAX_AGE -
	    WG_COOKIE_SECRET_LATENCY) * 1000ULL;
}

/* I (or J) makes an initiation; it is I's last message sent. */
static int
fh_make_initiation(uint8_t op, unsigned opn)
{
	struct noise_peer		*peer = (op & 0x40) ? &fh.r_at_j :
					    &fh.r_at_i;
	const struct noise_local	*l = (op & 0x40) ? &fh.lj : &fh.li;
	struct wg_msg_initiation	 made;
	const uint8_t			*q;
	uint8_t				 eph[32], ts[WG_TIMESTAMP_LEN], b;
	uint32_t			 sender;
	size_t				 i;
	int				 mac2;

	/*
	 * Timestamp: I's clock moves on by a step (0: the same as the last
	 * one), or (bit 7) one far from it, once.
	 */
	if (fh_ephemeral(eph, opn) == -1 || (q = fh_take(4)) == NULL ||
	    fh_byte(&b) == -1)
		return -1;
	memcpy(&sender, q, 4);
	memcpy(ts, fh.ts_clock, sizeof(ts));
	ts[11] = (uint8_t)(ts[11] + (b & 0x7f));
	if (ts[11] < fh.ts_clock[11])
		ts[10]++;
	if (b & 0x80)
		ts[4] ^= 0x80;
	else
		memcpy(fh.ts_clock, ts, sizeof(ts));
	if (noise_create_initiation_ephemeral(l, peer, sender, ts, eph,
	    &made) != 0)
		abort();
	mac2 = fh_maker_has_cookie();
	if (cookie_maker_add_macs(&fh.mk_i, &made, sizeof(made), fh.now) != 0)
		abort();
	for (i = 0; i < WG_COOKIE_LEN && made.macs.mac2[i] == 0; i++)
		;
	if ((i < WG_COOKIE_LEN) != mac2)
		abort();
	memcpy(fh.last_sent, &made, sizeof(made));
	fh.last_sent_len = sizeof(made);
	fh.last_sent_src = !!(op & 0x20);
	fh.last_sent_sender = sender;
	fh.last_sent_j = !!(op & 0x40);
	fh.last_sent_mac2 = mac2;
	fh.last_sent_cookie_src = fh.cookie_src;
	fh.last_sent_cookie_birth = fh.cookie_secret_birth;
	memcpy(fh.last_sent_ts, ts, sizeof(ts));
	if (!(op & 0x40)) {
		fh.sent_gen++;
		fh.i_sender = sender;
	}
	return 0;
}

/*
 * Op 0 and 4: an initiation to R: a new one I (or J) makes, I's last
 * one again (bit 7: a replay on the wire), or raw bytes.
 */
static int
fh_op_initiation(uint8_t op, unsigned opn, int raw)
{
	struct wg_msg_initiation	*w;
	const uint8_t			*q;
	uint8_t				*m, eph[32];
	uint32_t			 sender;
	size_t				 len = sizeof(*w);
	int				 diff, r, mac2, mac1_ok, mac2_ok;
	int				 expect_mac2, accept;

	if (!raw && (!(op & 0x80) || fh.last_sent_len == 0) &&
	    fh_make_initiation(op, opn) == -1)
		return -1;
	if ((m = fh_message(op, raw, fh.last_sent, len, 4, 8,
	    offsetof(struct wg_msg_initiation, macs), &diff)) == NULL)
		return -1;
	mac1_ok = !(diff & (FH_FREE | FH_BODY | FH_MAC1));
	mac2_ok = mac1_ok && !(diff & FH_MAC2) && !raw && fh.last_sent_mac2;
	if (op & 0x10) {
		fh_remac(m, len, fh_pub_r);
		mac1_ok = 1;
		mac2_ok = 0;
	}
	r = fh_r_initiation(m, len, !!(op & 0x20), &mac2);

	/*
	 * mac2: valid exactly when the cookie the message was made with
	 * (I's then) is of R's current secret, fresh, for this src.
	 */
	expect_mac2 = mac2_ok && fh.last_sent_cookie_src == !!(op & 0x20) &&
	    fh.ck_r.has_secret &&
	    fh.last_sent_cookie_birth == fh.ck_r.secret_birth_ms &&
	    fh.now >= fh.ck_r.secret_birth_ms && fh.now -
	    fh.ck_r.secret_birth_ms <= WG_COOKIE_SECRET_MAX_AGE * 1000ULL;
	if (mac2 != expect_mac2)
		abort();

	/* Accepted exactly when the protocol says so. */
	accept = !raw && mac1_ok && !(diff & FH_BODY) && !fh.last_sent_j &&
	    (!fh.under_load || expect_mac2) &&
	    memcmp(fh.last_sent_ts, fh.latest_ts, WG_TIMESTAMP_LEN) > 0 &&
	    (!fh.has_last_init ||
	    fh.now >= fh.last_init_ms + WG_HANDSHAKE_INITIATION_RATE_MS);
	if ((r == 0) != accept)
		abort();
	if (r != 0) {
		free(m);
		return 0;
	}
	w = (struct wg_msg_initiation *)m;
	memcpy(fh.latest_ts, fh.last_sent_ts, WG_TIMESTAMP_LEN);
	if (!fh.has_last_init || fh.now > fh.last_init_ms)
		fh.last_init_ms = fh.now;
	fh.has_last_init = 1;
	if (fh.i_at_r.hs.state != NOISE_HS_CONSUMED_INITIATION ||
	    fh.i_at_r.hs.remote_index != le32toh(w->sender))
		abort();
	/* R answers at once, as the handshake process does. */
	if (fh_ephemeral(eph, opn + 1000) == -1 || (q = fh_take(4)) == NULL) {
		noise_handshake_clear(&fh.i_at_r.hs);
		free(m);
		return -1;
	}
	memcpy(&sender, q, 4);
	if (noise_create_response_ephemeral(&fh.i_at_r, sender, eph,
	    &fh.resp) != 0)
		abort();
	fh_remac((uint8_t *)&fh.resp, sizeof(fh.resp), fh_pub_i);
	if (noise_begin_session(&fh.i_at_r.hs, 0, &fh.kp_r) != 0)
		abort();
	fh.has_resp = 1;
	/* It answers I's current initiation if its sender index is I's. */
	fh.resp_gen = le32toh(w->sender) == fh.i_sender ? fh.sent_gen : 0;
	free(m);
	return 0;
}

/* The initiator's whole path for a response of len bytes. */
static int
fh_i_response(const uint8_t *m, size_t len, struct noise_keypair *kp)
{
	struct noise_response_ctx	ctx;
	struct cookie_checker		ck;
	struct sockaddr_in		sin;
	uint8_t				point[32], dh[32];
	enum cookie_mac_state		st;

	fh_src(&sin, 0);
	cookie_checker_init(&ck, fh_pub_i);
	st = cookie_checker_validate(&ck, m, len, (struct sockaddr *)&sin,
	    fh.now);
	cookie_checker_wipe(&ck);
	if (st == COOKIE_MAC_INVALID || len != sizeof(struct wg_msg_response))
		return -1;
	if (noise_consume_response_begin(&fh.r_at_i,
	    (const struct wg_msg_response *)m, &ctx, point) != 0)
		return -1;
	if (wg_x25519(dh, fh_priv_i, point) != 0) {
		noise_response_ctx_wipe(&ctx);
		return -1;
	}
	if (noise_consume_response_finish(&ctx, &fh.r_at_i, dh) != 0)
		return -1;
	if (noise_begin_session(&fh.r_at_i.hs, 1, kp) != 0)
		abort();
	return 0;
}

/* Op 1 and 5: R's last response (or raw bytes) to I. */
static int
fh_op_response(uint8_t op, int raw)
{
	struct noise_keypair	 kp;
	uint8_t			*m;
	int			 diff, r, expect, mac1_ok;
	size_t			 len = sizeof(struct wg_msg_response);

	if (!raw && !fh.has_resp)
		return 0;
	if ((m = fh_message(op, raw, &fh.resp, len, 4, 8,
	    offsetof(struct wg_msg_response, macs), &diff)) == NULL)
		return -1;
	/* I is not under load: mac2 is not looked at. */
	mac1_ok = !(diff & (FH_FREE | FH_BODY | FH_MAC1));
	if (op & 0x10) {
		fh_remac(m, len, fh_pub_i);
		mac1_ok = 1;
	}
	expect = !raw && mac1_ok && !(diff & FH_BODY) && fh.resp_gen != 0 &&
	    fh.resp_gen == fh.sent_gen &&
	    fh.r_at_i.hs.state == NOISE_HS_CREATED_INITIATION;
	r = fh_i_response(m, len, &kp);
	if ((r == 0) != expect)
		abort();
	if (r == 0) {
		/* Both sides derived the same session. */
		if (!wg_key_eq(kp.send_key, fh.kp_r.recv_key) ||
		    !wg_key_eq(kp.recv_key, fh.kp_r.send_key) ||
		    kp.local_index != fh.i_sender ||
		    kp.remote_index != le32toh(
		    ((struct wg_msg_response *)m)->sender) ||
		    fh.kp_r.remote_index != fh.i_sender ||
		    kp.is_initiator != 1 || fh.kp_r.is_initiator != 0)
			abort();
		noise_keypair_wipe(&kp);
	}
	if (r == 0)
		fh.resp_gen = 0;		/* consumed: once */
	free(m);
	return 0;
}

/* Op 2 and 6: a cookie reply from R to I's last message, or raw. */
static int
fh_op_cookie(uint8_t op, int raw)
{
	struct wg_msg_cookie	 reply;
	struct sockaddr_in	 sin;
	uint8_t			*m;
	int			 diff, r, expect, had_last;
	size_t			 len = sizeof(reply);

	if (!raw) {
		if (fh.last_sent_len == 0)
			return 0;
		fh_src(&sin, fh.last_sent_src);
		if (cookie_checker_create_reply(&fh.ck_r, &reply,
		    fh.last_sent_sender, fh.last_sent, fh.last_sent_len,
		    (struct sockaddr *)&sin, fh.now) != 0)
			abort();
	}
	if ((m = fh_message(op, raw, &reply, len, 4, 8, len, &diff)) == NULL)
		return -1;
	/* No macs on a cookie reply: the receiver index is not checked. */
	had_last = fh.mk_i.has_last_mac1;
	expect = !raw && !(diff & FH_BODY) && had_last;
	r = cookie_maker_consume_reply(&fh.mk_i, (struct wg_msg_cookie *)m,
	    fh.now);
	if ((r == 0) != expect)
		abort();
	if (r == 0) {
		if (fh.mk_i.has_last_mac1 || !fh.mk_i.has_cookie)
			abort();
		fh.cookie_src = fh.last_sent_src;
		fh.cookie_secret_birth = fh.ck_r.secret_birth_ms;
	}
	free(m);
	return 0;
}

static void
fh_setup(void)
{
	static int	done;

	if (!done) {
		wg_crypto_init();
		fh_keys(fh_priv_i, fh_pub_i, 0x11);
		fh_keys(fh_priv_r, fh_pub_r, 0x22);
		fh_keys(fh_priv_j, fh_pub_j, 0x33);
		if (wg_x25519(fh_ss_ir, fh_priv_i, fh_pub_r) != 0 ||
		    wg_x25519(fh_ss_jr, fh_priv_j, fh_pub_r) != 0)
			abort();
		done = 1;
	}
}

static void
fh_start(const uint8_t *data, size_t size)
{
	memset(&fh, 0, sizeof(fh));
	fh.p = data;
	fh.end = data + size;
	fh.now = 1000000;
	noise_local_init(&fh.li, fh_pub_i);
	noise_local_init(&fh.lj, fh_pub_j);
	noise_local_init(&fh.lr, fh_pub_r);
	noise_peer_init(&fh.r_at_i, fh_pub_r);
	noise_peer_init(&fh.r_at_j, fh_pub_r);
	noise_peer_init(&fh.i_at_r, fh_pub_i);
	if (noise_peer_set_ss(&fh.r_at_i, fh_ss_ir) != 0 ||
	    noise_peer_set_ss(&fh.i_at_r, fh_ss_ir) != 0 ||
	    noise_peer_set_ss(&fh.r_at_j, fh_ss_jr) != 0)
		abort();
	cookie_maker_init(&fh.mk_i, fh_pub_r);
	cookie_checker_init(&fh.ck_r, fh_pub_r);
	/* I's clock: a TAI64N timestamp of 2026. */
	fh.ts_clock[0] = 0x40;
	fh.ts_clock[4] = 0x69;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t	*q;
	uint8_t		 op;
	unsigned	 n;

	fh_setup();
	fh_start(data, size);
	for (n = 0; n < FH_OPS && fh_byte(&op) == 0; n++) {
		switch (op & 7) {
		case 0:
		case 4:
			if (fh_op_initiation(op, n, (op & 7) == 4) == -1)
				return 0;
			break;
		case 1:
		case 5:
			if (fh_op_response(op, (op & 7) == 5) == -1)
				return 0;
			break;
		case 2:
		case 6:
			if (fh_op_cookie(op, (op & 7) == 6) == -1)
				return 0;
			break;
		case 3:
			if ((q = fh_take(2)) == NULL)
				return 0;
			/* Milliseconds, or (bit 7) seconds. */
			fh.now += (op & 0x80) ? (uint64_t)(q[0] | q[1] << 8) *
			    1000 : (uint64_t)(q[0] | q[1] << 8);
			break;
		default:
			fh.under_load = !!(op & 0x08);
			break;
		}
	}
	return 0;
}
