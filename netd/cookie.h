/*
 * cookie.h: WireGuard's mac1/mac2 and cookie replies (paper section 5.4.4
 * and 5.4.7). No I/O, no clock, no global state: the time is passed in
 * as now_ms, milliseconds of a monotonic clock (CLOCK_MONOTONIC or
 * CLOCK_BOOTTIME), the same clock for every call on one object.
 *
 * mac1 = MAC(HASH(LABEL_MAC1 || S_pub_receiver), msg up to mac1)
 * mac2 = MAC(cookie, msg up to mac2), or zeros without a fresh cookie
 * cookie = MAC(secret, source address bytes || source port, big-endian)
 * where MAC is keyed BLAKE2s with a 16-byte output. The cookie's input is
 * only ever computed by the side that checks it, so its exact layout is
 * ours (we follow the kernel: network order; IPv4-mapped IPv6 addresses
 * count as IPv4).
 *
 * The functions work on whole handshake messages (initiation or
 * response), whose last 32 bytes are mac1 then mac2.
 */
#ifndef WGCARD_COOKIE_H
#define WGCARD_COOKIE_H

#include <sys/socket.h>

#include <stddef.h>
#include <stdint.h>

#include "messages.h"

enum cookie_mac_state {
	COOKIE_MAC_INVALID = 0,		/* drop silently */
	COOKIE_VALID_MAC1_ONLY,		/* under load: answer with a cookie */
	COOKIE_VALID_MAC2,		/* mac1 and mac2 good: process */
};

/* Our side, as receiver of handshake messages (one per interface). */
struct cookie_checker {
	uint8_t		mac1_key[WG_HASH_LEN];
	uint8_t		cookie_key[WG_HASH_LEN];
	uint8_t		secret[WG_HASH_LEN];
	uint64_t	secret_birth_ms;
	int		has_secret;
};

/* Our side, as sender of handshake messages to one peer. */
struct cookie_maker {
	uint8_t		mac1_key[WG_HASH_LEN];
	uint8_t		cookie_key[WG_HASH_LEN];
	uint8_t		cookie[WG_COOKIE_LEN];
	uint64_t	cookie_birth_ms;
	int		has_cookie;
	uint8_t		last_mac1[WG_COOKIE_LEN];
	int		has_last_mac1;	/* a reply to it is welcome */
};

/* Keys from our public key; the secret is made on first need. */
void	cookie_checker_init(struct cookie_checker *,
	    const uint8_t local_public[static WG_KEY_LEN]);
void	cookie_checker_wipe(struct cookie_checker *);
/*
 * Checks mac1 (constant time), then mac2 against the cookie of src.
 * mac2 is never valid when the secret is older than
 * WG_COOKIE_SECRET_MAX_AGE seconds (or not made yet).
 */
enum cookie_mac_state cookie_checker_validate(struct cookie_checker *,
	    const void *msg, size_t len, const struct sockaddr *src,
	    uint64_t now_ms);
/* mac1 only (constant time): COOKIE_VALID_MAC1_ONLY or COOKIE_MAC_INVALID. */
enum cookie_mac_state cookie_checker_validate_mac1(
	    const struct cookie_checker *, const void *msg, size_t len);
/*
 * 1 if msg's mac2 is not all zeros: whether it may carry a cookie at
 * all (a sender without one sends zeros), before the cost of checking.
 */
int	cookie_msg_has_mac2(const void *msg, size_t len);
/*
 * Fills a cookie reply to msg (an initiation or response that had a
 * valid mac1) from src, for receiver_index (the message's sender index,
 * host order). Makes a new secret when the old one is too old.
 * -1 on a short message or an unknown address family.
 */
int	cookie_checker_create_reply(struct cookie_checker *,
	    struct wg_msg_cookie *out, uint32_t receiver_index,
	    const void *msg, size_t len, const struct sockaddr *src,
	    uint64_t now_ms);

/* Keys from the peer's public key. */
void	cookie_maker_init(struct cookie_maker *,
	    const uint8_t peer_public[static WG_KEY_LEN]);
void	cookie_maker_wipe(struct cookie_maker *);
/*
 * Writes mac1, and mac2 if we hold a cookie younger than
 * WG_COOKIE_SECRET_MAX_AGE - WG_COOKIE_SECRET_LATENCY seconds (zeros
 * otherwise), into the last 32 bytes of msg. Call it last, on the final
 * bytes of the message. -1 on a short message.
 */
int	cookie_maker_add_macs(struct cookie_maker *, void *msg, size_t len,
	    uint64_t now_ms);
/*
 * Takes the cookie from a reply to the last message we sent (its mac1 is
 * the AD). At most one reply per message sent. -1 if unexpected or forged.
 * The caller finds the maker by msg->receiver.
 */
int	cookie_maker_consume_reply(struct cookie_maker *,
	    const struct wg_msg_cookie *, uint64_t now_ms);

#endif /* WGCARD_COOKIE_H */
