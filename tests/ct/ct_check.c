/*
 * ct_check.c: the constant-time check, ctgrind style. Run under
 * valgrind's memcheck by tests/ct/run.sh, which builds it with
 * -DWGCARD_CT: the secrets are marked undefined (CT_SECRET, common/ct.h),
 * so memcheck reports every branch and every memory index that depends
 * on one. What leaves a process on the wire is marked public again here;
 * what the protocol itself makes public is marked in the code (CT_PUBLIC).
 *
 * Covered: a whole handshake as the handshake process runs it (noise.c
 * with the static-static DH precomputed and the broker's DHs handed in,
 * a preshared key, common/crypto.c's HMAC and KDF over common/blake2s.c,
 * cookie.c's mac1, cookie reply and mac2), then the data path as the
 * forwarder runs it (fwd_crypto.c's jobs over common/aead.c, fwd_rx.c's
 * header checks, the replay window of common/replay.c; the counter is
 * public, the keys are not), a forged packet and a wrong mac1 included.
 * libsodium's own code (X25519, ChaCha20-Poly1305, its compares) and
 * libcrypto's (the data path's ChaCha20-Poly1305, its tag compare) are
 * constant time by design and outside the check: run.sh suppresses
 * reports inside them.
 *
 * Usage: ct_check		the check; exit 0 when every step worked
 *	  ct_check canary	a branch and a table index on a secret on
 *				purpose: run.sh makes sure memcheck reports
 *				both
 */
#include <sys/socket.h>

#include <netinet/in.h>

#include <endian.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>
#include <valgrind/memcheck.h>

#include "aead.h"
#include "cookie.h"
#include "crypto.h"
#include "ct.h"
#include "fwd.h"
#include "messages.h"
#include "noise.h"
#include "replay.h"

static int	ct_failed;

static void
ct_expect(int ok, const char *what)
{
	if (!ok) {
		printf("ct_check: FAIL %s\n", what);
		ct_failed = 1;
	} else
		printf("ct_check: ok %s\n", what);
}

/* a == b, for results only: the comparison is declared public first. */
static int
ct_same(const void *a, const void *b, size_t n)
{
	uint8_t	x[2048], y[2048];

	if (n > sizeof(x))
		return 0;
	memcpy(x, a, n);
	memcpy(y, b, n);
	CT_PUBLIC(x, n);
	CT_PUBLIC(y, n);
	return memcmp(x, y, n) == 0;
}

/*
 * 1 if every bit of p[0..n) is still secret (undefined to memcheck): the
 * marks reached what they should, so a clean run means something. 1 when
 * not under valgrind (nothing to ask).
 */
static int
ct_still_secret(const void *p, size_t n)
{
	uint8_t	vbits[64];
	size_t	k;

	if (!RUNNING_ON_VALGRIND)
		return 1;
	if (n > sizeof(vbits) || VALGRIND_GET_VBITS(p, vbits, n) != 1)
		return 0;
	for (k = 0; k < n; k++)
		if (vbits[k] != 0xff)
			return 0;
	return 1;
}

/* A key pair whose private half is secret from here on. */
static void
ct_keypair(uint8_t priv[static 32], uint8_t pub[static 32])
{
	wg_x25519_generate(priv, pub);
	CT_SECRET(priv, 32);
}

/* The key broker's answer: DH(priv, point), secret. */
static void
ct_broker_dh(uint8_t out[static 32], const uint8_t priv[static 32],
    const uint8_t point[static 32])
{
	if (wg_x25519(out, priv, point) != 0)
		memset(out, 0, 32);
	CT_SECRET(out, 32);
}

/* The two leaks memcheck must report: a branch and a table index. */
static int
ct_canary(void)
{
	static const uint8_t	table[256] = { 1, 2, 3 };
	uint8_t			secret[2];
	int			n = 0;

	randombytes_buf(secret, sizeof(secret));
	CT_SECRET(secret, sizeof(secret));
	if (secret[0] & 1)
		n = printf("ct_check: canary odd\n");
	n += printf("ct_check: canary %u\n", table[secret[1]]);
	return n;
}

/* Initiator I, responder R. */
struct ct_side {
	uint8_t			priv[32], pub[32], eph[32], epub[32];
	struct noise_local	local;
	struct noise_peer	peer;
	struct noise_keypair	kp;
};

static void
ct_side_init(struct ct_side *s)
{
	memset(s, 0, sizeof(*s));
	ct_keypair(s->priv, s->pub);
	ct_keypair(s->eph, s->epub);
	noise_local_init(&s->local, s->pub);
}

/* The peer entry for other, with ss = DH(our static, its static). */
static void
ct_side_peer(struct ct_side *s, const struct ct_side *other,
    const uint8_t psk[static 32])
{
	uint8_t	ss[32];

	noise_peer_init(&s->peer, other->pub);
	ct_broker_dh(ss, s->priv, other->pub);
	ct_expect(noise_peer_set_ss(&s->peer, ss) == 0, "set ss");
	noise_peer_set_psk(&s->peer, psk);
	sodium_memzero(ss, sizeof(ss));
}

static void
ct_handshake(struct ct_side *i, struct ct_side *r)
{
	struct wg_msg_initiation	init;
	struct wg_msg_response		resp;
	struct wg_msg_cookie		reply;
	struct noise_initiation_ctx	ictx;
	struct noise_response_ctx	rctx;
	struct cookie_checker		cc;
	struct cookie_maker		mk;
	struct sockaddr_in		src;
	uint8_t				ts[WG_TIMESTAMP_LEN], point[32];
	uint8_t				dh[32], rs[32];
	uint64_t			now = 1000;

	memset(&src, 0, sizeof(src));
	src.sin_family = AF_INET;
	src.sin_addr.s_addr = htonl(0xc0000201);
	src.sin_port = htons(51820);
	cookie_checker_init(&cc, r->local.public_key);
	cookie_maker_init(&mk, r->pub);

	/* Initiator: the message, then its macs; on the wire it is public. */
	wg_tai64n_now(ts);
	ct_expect(noise_create_initiation_ephemeral(&i->local, &i->peer, 7,
	    ts, i->eph, &init) == 0, "create initiation");
	CT_PUBLIC(&init, sizeof(init));		/* sent as it is */
	ct_expect(cookie_maker_add_macs(&mk, &init, sizeof(init), now) == 0,
	    "mac1 added");
	CT_PUBLIC(&init, sizeof(init));

	/* Responder under load: a cookie reply, with its secret secret. */
	ct_expect(cookie_checker_validate(&cc, &init, sizeof(init),
	    (struct sockaddr *)&src, now) == COOKIE_VALID_MAC1_ONLY,
	    "mac1 valid, no mac2 yet");
	ct_expect(cookie_checker_create_reply(&cc, &reply, 7, &init,
	    sizeof(init), (struct sockaddr *)&src, now) == 0, "cookie secret");
	CT_SECRET(cc.secret, sizeof(cc.secret));
	ct_expect(cookie_checker_create_reply(&cc, &reply, 7, &init,
	    sizeof(init), (struct sockaddr *)&src, now) == 0, "cookie reply");
	CT_PUBLIC(&reply, sizeof(reply));

	/* Initiator: takes the cookie (a MAC key: secret), sends again. */
	ct_expect(cookie_maker_consume_reply(&mk, &reply, now) == 0,
	    "cookie reply taken");
	CT_SECRET(mk.cookie, sizeof(mk.cookie));
	ct_expect(cookie_maker_add_macs(&mk, &init, sizeof(init), now) == 0,
	    "mac1 and mac2 added");
	CT_PUBLIC(&init, sizeof(init));

	/* Responder: macs, then Noise around the broker's DH. */
	ct_expect(cookie_checker_validate(&cc, &init, sizeof(init),
	    (struct sockaddr *)&src, now) == COOKIE_VALID_MAC2, "mac2 valid");
	init.macs.mac1[0] ^= 1;
	ct_expect(cookie_checker_validate(&cc, &init, sizeof(init),
	    (struct sockaddr *)&src, now) == COOKIE_MAC_INVALID,
	    "wrong mac1 refused");
	init.macs.mac1[0] ^= 1;
	ct_expect(noise_consume_initiation_begin(&r->local, &init, &ictx,
	    point) == 0, "consume initiation: begin");
	ct_broker_dh(dh, r->priv, point);
	ct_expect(noise_consume_initiation_finish(&ictx, dh, rs) == 0,
	    "consume initiation: finish");
	ct_expect(ct_same(rs, i->pub, 32), "initiator's static found");
	ct_expect(noise_consume_initiation_peer(&ictx, &r->peer, now) == 0,
	    "consume initiation: peer");
	ct_expect(noise_create_response_ephemeral(&r->peer, 9, r->eph,
	    &resp) == 0, "create response");
	CT_PUBLIC(&resp, sizeof(resp));
	ct_expect(cookie_maker_add_macs(&mk, &resp, sizeof(resp), now) == 0,
	    "response macs");
	CT_PUBLIC(&resp, sizeof(resp));
	ct_expect(noise_begin_session(&r->peer.hs, 0, &r->kp) == 0,
	    "responder session");

	/* Initiator: the response around the broker's DH. */
	ct_expect(noise_consume_response_begin(&i->peer, &resp, &rctx,
	    point) == 0, "consume response: begin");
	ct_broker_dh(dh, i->priv, point);
	ct_expect(noise_consume_response_finish(&rctx, &i->peer, dh) == 0,
	    "consume response: finish");
	ct_expect(noise_begin_session(&i->peer.hs, 1, &i->kp) == 0,
	    "initiator session");
	ct_expect(ct_still_secret(i->kp.send_key, 32) &&
	    ct_still_secret(r->kp.recv_key, 32) &&
	    ct_still_secret(mk.cookie, sizeof(mk.cookie)),
	    "session keys and cookie secret to memcheck");
	ct_expect(ct_same(i->kp.send_key, r->kp.recv_key, 32) &&
	    ct_same(i->kp.recv_key, r->kp.send_key, 32), "session keys agree");

	/* A replayed initiation is refused (same timestamp). */
	ct_expect(noise_consume_initiation_begin(&r->local, &init, &ictx,
	    point) == 0, "replay: begin");
	ct_broker_dh(dh, r->priv, point);
	ct_expect(noise_consume_initiation_finish(&ictx, dh, rs) == 0,
	    "replay: finish");
	ct_expect(noise_consume_initiation_peer(&ictx, &r->peer,
	    now + 60000) != 0, "replayed initiation refused");

	cookie_checker_wipe(&cc);
	cookie_maker_wipe(&mk);
	sodium_memzero(dh, sizeof(dh));
}

/*
 * One data message from I to R, as the two forwarders handle it: on
 * libcrypto, or (compact) on the compact path a packet after a quiet
 * spell takes (fwd_crypto.c).
 */
static void
ct_data(struct ct_side *i, struct ct_side *r, int compact)
{
	struct wg_msg_data	hdr;
	struct fwd_job		j;
	struct aead_key		*ks, *kr;
	struct replay		rp;
	uint8_t			msg[sizeof(hdr) + 64 + WG_AEAD_TAG_LEN];
	uint8_t			plain[64];
	uint32_t		idx;
	uint64_t		counter, now_ms = 0, before;

	fwd_crypto_set_compact(compact);
	before = fwd_crypto_ncompact();
	/* Keyed as the forwarder keys them when the keypair arrives. */
	ks = aead_key_new(i->kp.send_key);
	kr = aead_key_new(r->kp.recv_key);
	randombytes_buf(plain, sizeof(plain));
	replay_init(&rp);
	for (counter = 0; counter < 3; counter++) {
		now_ms += 100;	/* a quiet spell before each packet */
		hdr.type = htole32(WG_MSG_DATA);
		hdr.receiver = htole32(i->kp.remote_index);
		hdr.counter = htole64(counter);
		memcpy(msg, &hdr, sizeof(hdr));
		memcpy(msg + sizeof(hdr), plain, sizeof(plain));
		memset(&j, 0, sizeof(j));
		j.data = msg + sizeof(hdr);
		j.key = ks;
		j.counter = counter;
		j.len = sizeof(plain);
		j.enc = 1;
		fwd_crypto_run(&j, 1, now_ms);
		CT_PUBLIC(msg, sizeof(msg));	/* on the wire */

		ct_expect(fwd_rx_job(&j, msg, sizeof(msg), &idx) == 0 &&
		    idx == r->kp.local_index, "data header");
		j.key = kr;
		fwd_crypto_run(&j, 1, now_ms);
		ct_expect(j.result == 0, "data authenticated");
		ct_expect(replay_check(&rp, j.counter) == 1, "counter new");
		ct_expect(replay_check(&rp, j.counter) == 0, "counter replayed");
		/* Authenticated plaintext goes to the TUN device in clear. */
		CT_PUBLIC(j.data, sizeof(plain));
		ct_expect(memcmp(j.data, plain, sizeof(plain)) == 0,
		    "data decrypted");
	}

	/* A forged message: decrypted, refused, the window untouched. */
	memset(msg + sizeof(hdr), 0x5a, sizeof(msg) - sizeof(hdr));
	ct_expect(fwd_rx_job(&j, msg, sizeof(msg), &idx) == 0, "forged header");
	j.key = kr;
	fwd_crypto_run(&j, 1, now_ms);
	ct_expect(j.result != 0, "forged data refused");
	ct_expect((fwd_crypto_ncompact() - before == 7) == (compact != 0),
	    "the compact path taken when asked, and only then");
	fwd_crypto_set_compact(0);
	aead_key_free(ks);
	aead_key_free(kr);
}

int
main(int argc, char *argv[])
{
	struct ct_side	i, r;
	uint8_t		psk[32];

	wg_crypto_init();
	fwd_crypto_init(0);
	if (argc > 1 && strcmp(argv[1], "canary") == 0)
		return ct_canary() < 0;

	ct_side_init(&i);
	ct_side_init(&r);
	randombytes_buf(psk, sizeof(psk));
	CT_SECRET(psk, sizeof(psk));
	ct_side_peer(&i, &r, psk);
	ct_side_peer(&r, &i, psk);

	ct_handshake(&i, &r);
	ct_data(&i, &r, 0);
	ct_data(&i, &r, 1);

	noise_peer_wipe(&i.peer);
	noise_peer_wipe(&r.peer);
	noise_keypair_wipe(&i.kp);
	noise_keypair_wipe(&r.kp);
	sodium_memzero(&i, sizeof(i));
	sodium_memzero(&r, sizeof(r));
	sodium_memzero(psk, sizeof(psk));
	printf("ct_check: %s\n", ct_failed ? "FAILED" : "every step worked");
	return ct_failed;
}
