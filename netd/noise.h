/*
 * noise.h: the WireGuard handshake (Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s)
 * as pure state machines: no I/O, no clock, no global state.
 *
 * The handshake process never holds the local static private key. Every
 * DH with it is done by the key broker, asynchronously, so the two
 * consume steps that need one are split around the broker round trip:
 *
 *   responder (initiation in):
 *	noise_consume_initiation_begin()   -> point P = E_i to the broker
 *	noise_consume_initiation_finish()  <- DH(S_local, P); gives S_i
 *	(caller looks the peer up by S_i)
 *	noise_consume_initiation_peer()    -> peer handshake CONSUMED_INITIATION
 *	noise_create_response()            -> CREATED_RESPONSE
 *	noise_begin_session(hs, 0, kp)
 *
 *   initiator:
 *	noise_create_initiation()          -> CREATED_INITIATION (synchronous:
 *					      uses the precomputed ss)
 *	(caller finds the peer by the response's receiver index)
 *	noise_consume_response_begin()     -> point P = E_r to the broker
 *	noise_consume_response_finish()    <- DH(S_local, P); CONSUMED_RESPONSE
 *	noise_begin_session(hs, 1, kp)
 *
 * The static-static DH, ss = DH(S_local, S_remote), is computed once per
 * peer by the broker and installed with noise_peer_set_ss(); a peer without
 * it can neither initiate nor answer.
 *
 * Indices are host-order values chosen by the caller; on the wire they are
 * little-endian, as every integer. The functions fill every field of the
 * messages they create except the macs (zeroed): cookie_maker_add_macs()
 * adds them. Callers check mac1 (cookie_checker_validate) before handing
 * a message here.
 *
 * Every function returns 0 on success and -1 on failure. A failure never
 * changes the peer's state nor the output message; the caller-owned contexts are wiped by the
 * finishing steps whatever their outcome, and by noise_*_ctx_wipe() when
 * the caller gives up (broker error, timeout).
 */
#ifndef WGCARD_NOISE_H
#define WGCARD_NOISE_H

#include <stdint.h>

#include "messages.h"

/* Our own identity: public data only. */
struct noise_local {
	uint8_t		public_key[WG_KEY_LEN];
	/* HASH(HASH(HASH(CONSTRUCTION) || IDENTIFIER) || public_key) */
	uint8_t		initial_hash[WG_HASH_LEN];
};

enum noise_hs_state {
	NOISE_HS_ZEROED = 0,
	NOISE_HS_CREATED_INITIATION,	/* initiator, waiting for a response */
	NOISE_HS_CONSUMED_INITIATION,	/* responder, ready to respond */
	NOISE_HS_CREATED_RESPONSE,	/* responder, ready for begin_session */
	NOISE_HS_CONSUMED_RESPONSE,	/* initiator, ready for begin_session */
};

/* One handshake in progress with one peer (secret). */
struct noise_handshake {
	enum noise_hs_state	state;
	uint32_t		local_index;
	uint32_t		remote_index;
	uint8_t			ephemeral_private[WG_KEY_LEN];
	uint8_t			remote_ephemeral[WG_KEY_LEN];
	uint8_t			hash[WG_HASH_LEN];
	uint8_t			chaining_key[WG_HASH_LEN];
};

/* Per-peer Noise state (secret: wipe with noise_peer_wipe). */
struct noise_peer {
	uint8_t			remote_static[WG_KEY_LEN];
	/* HASH(HASH(HASH(CONSTRUCTION) || IDENTIFIER) || remote_static) */
	uint8_t			initial_hash[WG_HASH_LEN];
	uint8_t			precomputed_ss[WG_KEY_LEN];
	int			has_ss;
	uint8_t			psk[WG_KEY_LEN];	/* all zero: none */
	uint8_t			latest_timestamp[WG_TIMESTAMP_LEN];
	uint64_t		last_initiation_ms;	/* last accepted */
	int			has_last_initiation;
	struct noise_handshake	hs;
};

/* A derived session, as the forwarder needs it (secret). */
struct noise_keypair {
	uint8_t		send_key[WG_KEY_LEN];
	uint8_t		recv_key[WG_KEY_LEN];
	uint32_t	local_index;	/* ours: data messages to us carry it */
	uint32_t	remote_index;	/* theirs: we put it in data messages */
	int		is_initiator;
};

/* Responder's state across the broker round trip (secret). */
struct noise_initiation_ctx {
	struct wg_msg_initiation msg;		/* copy of the message */
	uint8_t		hash[WG_HASH_LEN];
	uint8_t		chaining_key[WG_HASH_LEN];
	uint8_t		remote_static[WG_KEY_LEN];
	int		stage;			/* internal */
};

/* Initiator's state across the broker round trip (secret). */
struct noise_response_ctx {
	struct wg_msg_response msg;		/* copy of the message */
	uint8_t		hash[WG_HASH_LEN];
	uint8_t		chaining_key[WG_HASH_LEN];
	/* hs.hash when begin ran: finish refuses if the handshake moved on. */
	uint8_t		hs_hash[WG_HASH_LEN];
	uint32_t	local_index;
	int		stage;			/* internal */
};

/* Setup. */
void	noise_local_init(struct noise_local *,
	    const uint8_t public_key[static WG_KEY_LEN]);
void	noise_peer_init(struct noise_peer *,
	    const uint8_t remote_static[static WG_KEY_LEN]);
/* ss from the broker; -1 (and no ss) if it is all zero. */
int	noise_peer_set_ss(struct noise_peer *,
	    const uint8_t ss[static WG_KEY_LEN]);
void	noise_peer_clear_ss(struct noise_peer *);
/* psk NULL or all zero: no preshared key. */
void	noise_peer_set_psk(struct noise_peer *, const uint8_t *psk);
/* Forget the handshake in progress (timeout, rekey, key change). */
void	noise_handshake_clear(struct noise_handshake *);
void	noise_peer_wipe(struct noise_peer *);
void	noise_keypair_wipe(struct noise_keypair *);

/*
 * Initiator. timestamp is TAI64N (wg_tai64n_now()). The peer's handshake
 * becomes CREATED_INITIATION with local_index, whatever it was.
 */
int	noise_create_initiation(const struct noise_local *, struct noise_peer *,
	    uint32_t local_index, const uint8_t timestamp[static WG_TIMESTAMP_LEN],
	    struct wg_msg_initiation *out);

/*
 * Responder, step 1: checks the type, refuses a small-order ephemeral,
 * mixes it and writes to point_out the point the broker must multiply by
 * the local static private key (the initiator's ephemeral).
 */
int	noise_consume_initiation_begin(const struct noise_local *,
	    const struct wg_msg_initiation *, struct noise_initiation_ctx *,
	    uint8_t point_out[static WG_KEY_LEN]);
/*
 * Step 2: dh = DH(S_local_priv, point) from the broker. Decrypts the
 * initiator's static key into remote_static_out, for the peer lookup.
 * The context is wiped on failure.
 */
int	noise_consume_initiation_finish(struct noise_initiation_ctx *,
	    const uint8_t dh[static WG_KEY_LEN],
	    uint8_t remote_static_out[static WG_KEY_LEN]);
/*
 * Step 3, with the peer whose remote_static matched: decrypts the
 * timestamp with the peer's ss, refuses a replay (timestamp not greater
 * than the last accepted) or a flood (previous accepted initiation less
 * than WG_HANDSHAKE_INITIATION_RATE_MS before now_ms, a monotonic clock),
 * then makes the peer's handshake CONSUMED_INITIATION. Wipes the context.
 */
int	noise_consume_initiation_peer(struct noise_initiation_ctx *,
	    struct noise_peer *, uint64_t now_ms);
void	noise_initiation_ctx_wipe(struct noise_initiation_ctx *);

/*
 * Responder: from CONSUMED_INITIATION to CREATED_RESPONSE, with a fresh
 * ephemeral and local_index as our sender index.
 */
int	noise_create_response(struct noise_peer *, uint32_t local_index,
	    struct wg_msg_response *out);

/*
 * Initiator, step 1: the peer (found by msg->receiver) must be in
 * CREATED_INITIATION with that local index. Refuses a small-order
 * ephemeral, does ee locally and writes to point_out the point for the
 * broker (the responder's ephemeral).
 */
int	noise_consume_response_begin(struct noise_peer *,
	    const struct wg_msg_response *, struct noise_response_ctx *,
	    uint8_t point_out[static WG_KEY_LEN]);
/*
 * Step 2: dh = DH(S_local_priv, point). Mixes it and the psk, checks the
 * empty payload; on success the peer's handshake is CONSUMED_RESPONSE.
 * Fails if the handshake changed since step 1. Wipes the context.
 */
int	noise_consume_response_finish(struct noise_response_ctx *,
	    struct noise_peer *, const uint8_t dh[static WG_KEY_LEN]);
void	noise_response_ctx_wipe(struct noise_response_ctx *);

/*
 * (T_send, T_recv) = KDF2(ck, empty), swapped for the responder. The
 * handshake must be CONSUMED_RESPONSE (is_initiator) or CREATED_RESPONSE
 * (responder); it is zeroed afterwards.
 */
int	noise_begin_session(struct noise_handshake *, int is_initiator,
	    struct noise_keypair *out);

/* For known-answer tests only: the same with a given ephemeral. */
int	noise_create_initiation_ephemeral(const struct noise_local *,
	    struct noise_peer *, uint32_t local_index,
	    const uint8_t timestamp[static WG_TIMESTAMP_LEN],
	    const uint8_t ephemeral_private[static WG_KEY_LEN],
	    struct wg_msg_initiation *out);
int	noise_create_response_ephemeral(struct noise_peer *,
	    uint32_t local_index,
	    const uint8_t ephemeral_private[static WG_KEY_LEN],
	    struct wg_msg_response *out);

#endif /* WGCARD_NOISE_H */
