/*
 * noise.c: the WireGuard handshake, Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s,
 * as in the WireGuard paper section 5.4, with every DH that needs the
 * local static private key done elsewhere (precomputed ss, or a point
 * handed out to the key broker and its result handed back in).
 *
 * Conventions: HASH(x) is BLAKE2s-256, MIX_HASH(h, x) is h = HASH(h || x),
 * KDFn as wg_kdf. All work happens on stack copies that are committed to
 * the peer only on success and wiped on every path.
 */
#include <endian.h>
#include <string.h>

#include <sodium.h>

#include "crypto.h"
#include "ct.h"
#include "messages.h"
#include "noise.h"

#define CTX_STAGE_NONE		0
#define CTX_STAGE_BEGUN		1
#define CTX_STAGE_FINISHED	2

static void
noise_mix_hash(uint8_t h[static WG_HASH_LEN], const uint8_t *in, size_t len)
{
	struct blake2s_state	s;

	blake2s_init(&s, BLAKE2S_OUT_LEN);
	blake2s_update(&s, h, WG_HASH_LEN);
	blake2s_update(&s, in, len);
	blake2s_final(&s, h);
	sodium_memzero(&s, sizeof(s));
}

/* ck = KDF1(ck, in) */
static void
noise_mix_key(uint8_t ck[static WG_HASH_LEN], const uint8_t in[static 32])
{
	wg_kdf(ck, NULL, NULL, ck, in, 32);
}

/* The chaining key every handshake starts from: HASH(CONSTRUCTION). */
static void
noise_initial_chaining_key(uint8_t ck[static WG_HASH_LEN])
{
	blake2s(ck, WG_HASH_LEN, (const uint8_t *)WG_CONSTRUCTION,
	    sizeof(WG_CONSTRUCTION) - 1, NULL, 0);
}

/* HASH(HASH(HASH(CONSTRUCTION) || IDENTIFIER) || responder's static). */
static void
noise_initial_hash(uint8_t h[static WG_HASH_LEN],
    const uint8_t responder_static[static WG_KEY_LEN])
{
	noise_initial_chaining_key(h);
	noise_mix_hash(h, (const uint8_t *)WG_IDENTIFIER,
	    sizeof(WG_IDENTIFIER) - 1);
	noise_mix_hash(h, responder_static, WG_KEY_LEN);
}

void
noise_local_init(struct noise_local *l,
    const uint8_t public_key[static WG_KEY_LEN])
{
	memset(l, 0, sizeof(*l));
	memcpy(l->public_key, public_key, WG_KEY_LEN);
	noise_initial_hash(l->initial_hash, l->public_key);
}

void
noise_peer_init(struct noise_peer *p,
    const uint8_t remote_static[static WG_KEY_LEN])
{
	sodium_memzero(p, sizeof(*p));
	memcpy(p->remote_static, remote_static, WG_KEY_LEN);
	noise_initial_hash(p->initial_hash, p->remote_static);
}

int
noise_peer_set_ss(struct noise_peer *p, const uint8_t ss[static WG_KEY_LEN])
{
	if (wg_key_is_zero(ss)) {
		noise_peer_clear_ss(p);
		return -1;
	}
	memcpy(p->precomputed_ss, ss, WG_KEY_LEN);
	p->has_ss = 1;
	return 0;
}

void
noise_peer_clear_ss(struct noise_peer *p)
{
	sodium_memzero(p->precomputed_ss, sizeof(p->precomputed_ss));
	p->has_ss = 0;
}

void
noise_peer_set_psk(struct noise_peer *p, const uint8_t *psk)
{
	if (psk == NULL)
		sodium_memzero(p->psk, sizeof(p->psk));
	else
		memcpy(p->psk, psk, WG_KEY_LEN);
}

void
noise_handshake_clear(struct noise_handshake *hs)
{
	sodium_memzero(hs, sizeof(*hs));
	hs->state = NOISE_HS_ZEROED;
}

void
noise_peer_wipe(struct noise_peer *p)
{
	sodium_memzero(p, sizeof(*p));
}

void
noise_keypair_wipe(struct noise_keypair *kp)
{
	sodium_memzero(kp, sizeof(*kp));
}

void
noise_initiation_ctx_wipe(struct noise_initiation_ctx *ctx)
{
	sodium_memzero(ctx, sizeof(*ctx));
}

void
noise_response_ctx_wipe(struct noise_response_ctx *ctx)
{
	sodium_memzero(ctx, sizeof(*ctx));
}

int
noise_create_initiation_ephemeral(const struct noise_local *l,
    struct noise_peer *p, uint32_t local_index,
    const uint8_t timestamp[static WG_TIMESTAMP_LEN],
    const uint8_t ephemeral_private[static WG_KEY_LEN],
    struct wg_msg_initiation *out)
{
	struct wg_msg_initiation m;
	struct noise_handshake	hs;
	uint8_t			epub[WG_KEY_LEN], dh[WG_KEY_LEN];
	uint8_t			key[WG_KEY_LEN];
	int			ret = -1;

	memset(&hs, 0, sizeof(hs));
	memset(&m, 0, sizeof(m));
	if (!p->has_ss)
		goto out;

	m.type = htole32(WG_MSG_INITIATION);
	m.sender = htole32(local_index);

	noise_initial_chaining_key(hs.chaining_key);
	memcpy(hs.hash, p->initial_hash, WG_HASH_LEN);

	/* e */
	memcpy(hs.ephemeral_private, ephemeral_private, WG_KEY_LEN);
	wg_x25519_pub(epub, hs.ephemeral_private);
	memcpy(m.ephemeral, epub, WG_KEY_LEN);
	noise_mix_key(hs.chaining_key, epub);
	noise_mix_hash(hs.hash, epub, WG_KEY_LEN);

	/* es */
	if (wg_x25519(dh, hs.ephemeral_private, p->remote_static) != 0)
		goto out;
	wg_kdf(hs.chaining_key, key, NULL, hs.chaining_key, dh, WG_KEY_LEN);

	/* s */
	wg_aead_encrypt(m.encrypted_static, l->public_key, WG_KEY_LEN,
	    hs.hash, WG_HASH_LEN, 0, key);
	noise_mix_hash(hs.hash, m.encrypted_static,
	    sizeof(m.encrypted_static));

	/* ss */
	wg_kdf(hs.chaining_key, key, NULL, hs.chaining_key,
	    p->precomputed_ss, WG_KEY_LEN);

	/* {t} */
	wg_aead_encrypt(m.encrypted_timestamp, timestamp, WG_TIMESTAMP_LEN,
	    hs.hash, WG_HASH_LEN, 0, key);
	noise_mix_hash(hs.hash, m.encrypted_timestamp,
	    sizeof(m.encrypted_timestamp));

	hs.state = NOISE_HS_CREATED_INITIATION;
	hs.local_index = local_index;
	memcpy(&p->hs, &hs, sizeof(hs));
	memcpy(out, &m, sizeof(m));
	ret = 0;
out:
	sodium_memzero(&hs, sizeof(hs));
	sodium_memzero(epub, sizeof(epub));
	sodium_memzero(dh, sizeof(dh));
	sodium_memzero(key, sizeof(key));
	return ret;
}

int
noise_create_initiation(const struct noise_local *l, struct noise_peer *p,
    uint32_t local_index, const uint8_t timestamp[static WG_TIMESTAMP_LEN],
    struct wg_msg_initiation *out)
{
	uint8_t	epriv[WG_KEY_LEN], epub[WG_KEY_LEN];
	int	ret;

	wg_x25519_generate(epriv, epub);
	ret = noise_create_initiation_ephemeral(l, p, local_index, timestamp,
	    epriv, out);
	sodium_memzero(epriv, sizeof(epriv));
	sodium_memzero(epub, sizeof(epub));
	return ret;
}

int
noise_consume_initiation_begin(const struct noise_local *l,
    const struct wg_msg_initiation *msg, struct noise_initiation_ctx *ctx,
    uint8_t point_out[static WG_KEY_LEN])
{
	sodium_memzero(ctx, sizeof(*ctx));
	if (le32toh(msg->type) != WG_MSG_INITIATION)
		return -1;
	/* Never hand a small-order point to the broker (or the card). */
	if (wg_x25519_small_order(msg->ephemeral))
		return -1;

	memcpy(&ctx->msg, msg, sizeof(ctx->msg));
	noise_initial_chaining_key(ctx->chaining_key);
	memcpy(ctx->hash, l->initial_hash, WG_HASH_LEN);

	/* e */
	noise_mix_key(ctx->chaining_key, ctx->msg.ephemeral);
	noise_mix_hash(ctx->hash, ctx->msg.ephemeral, WG_KEY_LEN);

	memcpy(point_out, ctx->msg.ephemeral, WG_KEY_LEN);
	ctx->stage = CTX_STAGE_BEGUN;
	return 0;
}

int
noise_consume_initiation_finish(struct noise_initiation_ctx *ctx,
    const uint8_t dh[static WG_KEY_LEN],
    uint8_t remote_static_out[static WG_KEY_LEN])
{
	uint8_t	key[WG_KEY_LEN], s[WG_KEY_LEN];
	int	ret = -1;

	if (ctx->stage != CTX_STAGE_BEGUN || wg_key_is_zero(dh))
		goto out;

	/* es, from the responder's side: DH(S_r, E_i) */
	wg_kdf(ctx->chaining_key, key, NULL, ctx->chaining_key, dh,
	    WG_KEY_LEN);

	/* s */
	if (wg_aead_decrypt(s, ctx->msg.encrypted_static,
	    sizeof(ctx->msg.encrypted_static), ctx->hash, WG_HASH_LEN, 0,
	    key) != 0)
		goto out;
	noise_mix_hash(ctx->hash, ctx->msg.encrypted_static,
	    sizeof(ctx->msg.encrypted_static));
	/* Authenticated: the initiator's public key, to look it up by. */
	CT_PUBLIC(s, sizeof(s));

	memcpy(ctx->remote_static, s, WG_KEY_LEN);
	memcpy(remote_static_out, s, WG_KEY_LEN);
	ctx->stage = CTX_STAGE_FINISHED;
	ret = 0;
out:
	if (ret != 0)
		noise_initiation_ctx_wipe(ctx);
	sodium_memzero(key, sizeof(key));
	sodium_memzero(s, sizeof(s));
	return ret;
}

int
noise_consume_initiation_peer(struct noise_initiation_ctx *ctx,
    struct noise_peer *p, uint64_t now_ms)
{
	uint8_t	key[WG_KEY_LEN], ck[WG_HASH_LEN], h[WG_HASH_LEN];
	uint8_t	t[WG_TIMESTAMP_LEN];
	int	ret = -1;

	if (ctx->stage != CTX_STAGE_FINISHED || !p->has_ss ||
	    !wg_key_eq(ctx->remote_static, p->remote_static))
		goto out;

	memcpy(ck, ctx->chaining_key, WG_HASH_LEN);
	memcpy(h, ctx->hash, WG_HASH_LEN);

	/* ss */
	wg_kdf(ck, key, NULL, ck, p->precomputed_ss, WG_KEY_LEN);

	/* {t} */
	if (wg_aead_decrypt(t, ctx->msg.encrypted_timestamp,
	    sizeof(ctx->msg.encrypted_timestamp), h, WG_HASH_LEN, 0, key) != 0)
		goto out;
	noise_mix_hash(h, ctx->msg.encrypted_timestamp,
	    sizeof(ctx->msg.encrypted_timestamp));
	/* Authenticated: the initiator's clock, no secret of ours. */
	CT_PUBLIC(t, sizeof(t));

	/* Replay: TAI64N is big-endian, so bytes compare as numbers. */
	if (memcmp(t, p->latest_timestamp, WG_TIMESTAMP_LEN) <= 0)
		goto out;
	/* Flood: at most one accepted initiation per rate interval. */
	if (p->has_last_initiation &&
	    now_ms < p->last_initiation_ms + WG_HANDSHAKE_INITIATION_RATE_MS)
		goto out;

	noise_handshake_clear(&p->hs);
	p->hs.state = NOISE_HS_CONSUMED_INITIATION;
	p->hs.remote_index = le32toh(ctx->msg.sender);
	memcpy(p->hs.remote_ephemeral, ctx->msg.ephemeral, WG_KEY_LEN);
	memcpy(p->hs.hash, h, WG_HASH_LEN);
	memcpy(p->hs.chaining_key, ck, WG_HASH_LEN);
	memcpy(p->latest_timestamp, t, WG_TIMESTAMP_LEN);
	if (!p->has_last_initiation || now_ms > p->last_initiation_ms)
		p->last_initiation_ms = now_ms;
	p->has_last_initiation = 1;
	ret = 0;
out:
	noise_initiation_ctx_wipe(ctx);
	sodium_memzero(key, sizeof(key));
	sodium_memzero(ck, sizeof(ck));
	sodium_memzero(h, sizeof(h));
	sodium_memzero(t, sizeof(t));
	return ret;
}

int
noise_create_response_ephemeral(struct noise_peer *p, uint32_t local_index,
    const uint8_t ephemeral_private[static WG_KEY_LEN],
    struct wg_msg_response *out)
{
	struct wg_msg_response	m;
	struct noise_handshake	hs;
	uint8_t			epub[WG_KEY_LEN], dh[WG_KEY_LEN];
	uint8_t			key[WG_KEY_LEN], tau[WG_HASH_LEN];
	uint8_t			empty[1] = { 0 };
	int			ret = -1;

	memset(&m, 0, sizeof(m));
	memcpy(&hs, &p->hs, sizeof(hs));
	if (hs.state != NOISE_HS_CONSUMED_INITIATION)
		goto out;

	m.type = htole32(WG_MSG_RESPONSE);
	m.sender = htole32(local_index);
	m.receiver = htole32(hs.remote_index);

	/* e */
	wg_x25519_pub(epub, ephemeral_private);
	memcpy(m.ephemeral, epub, WG_KEY_LEN);
	noise_mix_key(hs.chaining_key, epub);
	noise_mix_hash(hs.hash, epub, WG_KEY_LEN);

	/* ee */
	if (wg_x25519(dh, ephemeral_private, hs.remote_ephemeral) != 0)
		goto out;
	noise_mix_key(hs.chaining_key, dh);

	/* se, from the responder's side: DH(E_r, S_i) */
	if (wg_x25519(dh, ephemeral_private, p->remote_static) != 0)
		goto out;
	noise_mix_key(hs.chaining_key, dh);

	/* psk */
	wg_kdf(hs.chaining_key, tau, key, hs.chaining_key, p->psk,
	    WG_KEY_LEN);
	noise_mix_hash(hs.hash, tau, WG_HASH_LEN);

	/* {} */
	wg_aead_encrypt(m.encrypted_nothing, empty, 0, hs.hash,
	    WG_HASH_LEN, 0, key);
	noise_mix_hash(hs.hash, m.encrypted_nothing,
	    sizeof(m.encrypted_nothing));

	/* Our ephemeral is not needed past this point. */
	sodium_memzero(hs.ephemeral_private, sizeof(hs.ephemeral_private));
	hs.state = NOISE_HS_CREATED_RESPONSE;
	hs.local_index = local_index;
	memcpy(&p->hs, &hs, sizeof(hs));
	memcpy(out, &m, sizeof(m));
	ret = 0;
out:
	sodium_memzero(&hs, sizeof(hs));
	sodium_memzero(epub, sizeof(epub));
	sodium_memzero(dh, sizeof(dh));
	sodium_memzero(key, sizeof(key));
	sodium_memzero(tau, sizeof(tau));
	return ret;
}

int
noise_create_response(struct noise_peer *p, uint32_t local_index,
    struct wg_msg_response *out)
{
	uint8_t	epriv[WG_KEY_LEN], epub[WG_KEY_LEN];
	int	ret;

	wg_x25519_generate(epriv, epub);
	ret = noise_create_response_ephemeral(p, local_index, epriv, out);
	sodium_memzero(epriv, sizeof(epriv));
	sodium_memzero(epub, sizeof(epub));
	return ret;
}

int
noise_consume_response_begin(struct noise_peer *p,
    const struct wg_msg_response *msg, struct noise_response_ctx *ctx,
    uint8_t point_out[static WG_KEY_LEN])
{
	uint8_t	dh[WG_KEY_LEN];
	int	ret = -1;

	sodium_memzero(ctx, sizeof(*ctx));
	if (le32toh(msg->type) != WG_MSG_RESPONSE ||
	    p->hs.state != NOISE_HS_CREATED_INITIATION ||
	    le32toh(msg->receiver) != p->hs.local_index)
		goto out;
	/* Never hand a small-order point to the broker (or the card). */
	if (wg_x25519_small_order(msg->ephemeral))
		goto out;

	memcpy(&ctx->msg, msg, sizeof(ctx->msg));
	memcpy(ctx->chaining_key, p->hs.chaining_key, WG_HASH_LEN);
	memcpy(ctx->hash, p->hs.hash, WG_HASH_LEN);
	memcpy(ctx->hs_hash, p->hs.hash, WG_HASH_LEN);
	ctx->local_index = p->hs.local_index;

	/* e */
	noise_mix_key(ctx->chaining_key, ctx->msg.ephemeral);
	noise_mix_hash(ctx->hash, ctx->msg.ephemeral, WG_KEY_LEN);

	/* ee */
	if (wg_x25519(dh, p->hs.ephemeral_private, ctx->msg.ephemeral) != 0)
		goto out;
	noise_mix_key(ctx->chaining_key, dh);

	memcpy(point_out, ctx->msg.ephemeral, WG_KEY_LEN);
	ctx->stage = CTX_STAGE_BEGUN;
	ret = 0;
out:
	if (ret != 0)
		noise_response_ctx_wipe(ctx);
	sodium_memzero(dh, sizeof(dh));
	return ret;
}

int
noise_consume_response_finish(struct noise_response_ctx *ctx,
    struct noise_peer *p, const uint8_t dh[static WG_KEY_LEN])
{
	uint8_t	ck[WG_HASH_LEN], h[WG_HASH_LEN];
	uint8_t	key[WG_KEY_LEN], tau[WG_HASH_LEN];
	uint8_t	empty[1];
	int	ret = -1;

	memcpy(ck, ctx->chaining_key, WG_HASH_LEN);
	memcpy(h, ctx->hash, WG_HASH_LEN);
	if (ctx->stage != CTX_STAGE_BEGUN || wg_key_is_zero(dh))
		goto out;
	/* The handshake must still be the one the response answers. */
	if (p->hs.state != NOISE_HS_CREATED_INITIATION ||
	    p->hs.local_index != ctx->local_index ||
	    !wg_key_eq(p->hs.hash, ctx->hs_hash))
		goto out;

	/* se, from the initiator's side: DH(S_i, E_r) */
	noise_mix_key(ck, dh);

	/* psk */
	wg_kdf(ck, tau, key, ck, p->psk, WG_KEY_LEN);
	noise_mix_hash(h, tau, WG_HASH_LEN);

	/* {} */
	if (wg_aead_decrypt(empty, ctx->msg.encrypted_nothing,
	    sizeof(ctx->msg.encrypted_nothing), h, WG_HASH_LEN, 0, key) != 0)
		goto out;
	noise_mix_hash(h, ctx->msg.encrypted_nothing,
	    sizeof(ctx->msg.encrypted_nothing));

	/* The local index stays: it is the one the responder answered. */
	sodium_memzero(p->hs.ephemeral_private,
	    sizeof(p->hs.ephemeral_private));
	p->hs.state = NOISE_HS_CONSUMED_RESPONSE;
	p->hs.remote_index = le32toh(ctx->msg.sender);
	memcpy(p->hs.remote_ephemeral, ctx->msg.ephemeral, WG_KEY_LEN);
	memcpy(p->hs.hash, h, WG_HASH_LEN);
	memcpy(p->hs.chaining_key, ck, WG_HASH_LEN);
	ret = 0;
out:
	noise_response_ctx_wipe(ctx);
	sodium_memzero(ck, sizeof(ck));
	sodium_memzero(h, sizeof(h));
	sodium_memzero(key, sizeof(key));
	sodium_memzero(tau, sizeof(tau));
	return ret;
}

int
noise_begin_session(struct noise_handshake *hs, int is_initiator,
    struct noise_keypair *kp)
{
	uint8_t	t1[WG_KEY_LEN], t2[WG_KEY_LEN];
	uint8_t	empty[1] = { 0 };

	if (hs->state != (is_initiator ? NOISE_HS_CONSUMED_RESPONSE :
	    NOISE_HS_CREATED_RESPONSE))
		return -1;

	wg_kdf(t1, t2, NULL, hs->chaining_key, empty, 0);
	memset(kp, 0, sizeof(*kp));
	if (is_initiator) {
		memcpy(kp->send_key, t1, WG_KEY_LEN);
		memcpy(kp->recv_key, t2, WG_KEY_LEN);
	} else {
		memcpy(kp->send_key, t2, WG_KEY_LEN);
		memcpy(kp->recv_key, t1, WG_KEY_LEN);
	}
	kp->local_index = hs->local_index;
	kp->remote_index = hs->remote_index;
	kp->is_initiator = is_initiator ? 1 : 0;

	noise_handshake_clear(hs);
	sodium_memzero(t1, sizeof(t1));
	sodium_memzero(t2, sizeof(t2));
	return 0;
}
