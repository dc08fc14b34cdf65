/*
 * messages.h: WireGuard wire formats and every protocol constant.
 * All multi-byte integers on the wire are little-endian.
 */
#ifndef WGCARD_MESSAGES_H
#define WGCARD_MESSAGES_H

#include <stdint.h>

#define WG_KEY_LEN		32
#define WG_HASH_LEN		32
#define WG_AEAD_TAG_LEN		16
#define WG_COOKIE_LEN		16
#define WG_COOKIE_NONCE_LEN	24
#define WG_TIMESTAMP_LEN	12

#define WG_CONSTRUCTION	"Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s"
#define WG_IDENTIFIER	"WireGuard v1 zx2c4 Jason@zx2c4.com"
#define WG_LABEL_MAC1	"mac1----"
#define WG_LABEL_COOKIE	"cookie--"

/* Timers and limits, in seconds unless named otherwise. */
#define WG_REKEY_AFTER_MESSAGES		(1ULL << 60)
#define WG_REJECT_AFTER_MESSAGES	(UINT64_MAX - (1ULL << 13))
#define WG_REKEY_AFTER_TIME		120
#define WG_REKEY_ATTEMPT_TIME		90
#define WG_REKEY_TIMEOUT		5
#define WG_MAX_TIMER_HANDSHAKES		(WG_REKEY_ATTEMPT_TIME / WG_REKEY_TIMEOUT)
#define WG_REKEY_TIMEOUT_JITTER_MS	334
#define WG_REJECT_AFTER_TIME		180
#define WG_KEEPALIVE_TIMEOUT		10
#define WG_COOKIE_SECRET_MAX_AGE	120
#define WG_COOKIE_SECRET_LATENCY	5
#define WG_HANDSHAKE_INITIATION_RATE_MS	20	/* 50 per second per peer */
#define WG_PADDING_MULTIPLE		16
#define WG_UNDER_LOAD_AFTER_TIME	1

#define WG_MAX_PEERS			(1 << 16)
#define WG_MAX_SEGMENT			65535

enum wg_message_type {
	WG_MSG_INVALID		= 0,
	WG_MSG_INITIATION	= 1,
	WG_MSG_RESPONSE		= 2,
	WG_MSG_COOKIE		= 3,
	WG_MSG_DATA		= 4,
};

struct wg_macs {
	uint8_t		mac1[WG_COOKIE_LEN];
	uint8_t		mac2[WG_COOKIE_LEN];
} __attribute__((packed));

struct wg_msg_initiation {
	uint32_t	type;		/* 1, with three zero bytes */
	uint32_t	sender;
	uint8_t		ephemeral[WG_KEY_LEN];
	uint8_t		encrypted_static[WG_KEY_LEN + WG_AEAD_TAG_LEN];
	uint8_t		encrypted_timestamp[WG_TIMESTAMP_LEN + WG_AEAD_TAG_LEN];
	struct wg_macs	macs;
} __attribute__((packed));

struct wg_msg_response {
	uint32_t	type;		/* 2 */
	uint32_t	sender;
	uint32_t	receiver;
	uint8_t		ephemeral[WG_KEY_LEN];
	uint8_t		encrypted_nothing[WG_AEAD_TAG_LEN];
	struct wg_macs	macs;
} __attribute__((packed));

struct wg_msg_cookie {
	uint32_t	type;		/* 3 */
	uint32_t	receiver;
	uint8_t		nonce[WG_COOKIE_NONCE_LEN];
	uint8_t		encrypted_cookie[WG_COOKIE_LEN + WG_AEAD_TAG_LEN];
} __attribute__((packed));

struct wg_msg_data {
	uint32_t	type;		/* 4 */
	uint32_t	receiver;
	uint64_t	counter;
	/* then the encrypted, padded packet and its 16-byte tag */
} __attribute__((packed));

#define WG_MSG_INITIATION_LEN	148
#define WG_MSG_RESPONSE_LEN	92
#define WG_MSG_COOKIE_LEN	64
#define WG_MSG_DATA_MIN_LEN	32	/* header + tag: a keepalive */
#define WG_DATA_OVERHEAD	32

_Static_assert(sizeof(struct wg_msg_initiation) == WG_MSG_INITIATION_LEN,
    "initiation size");
_Static_assert(sizeof(struct wg_msg_response) == WG_MSG_RESPONSE_LEN,
    "response size");
_Static_assert(sizeof(struct wg_msg_cookie) == WG_MSG_COOKIE_LEN,
    "cookie size");
_Static_assert(sizeof(struct wg_msg_data) == 16, "data header size");

#endif /* WGCARD_MESSAGES_H */
