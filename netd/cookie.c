/*
 * cookie.c: mac1/mac2 and cookie replies, both sides.
 */
#include <sys/socket.h>
#include <netinet/in.h>

#include <endian.h>
#include <string.h>

#include <sodium.h>

#include "cookie.h"
#include "crypto.h"
#include "messages.h"

#define COOKIE_MACS_LEN		(2 * WG_COOKIE_LEN)
#define COOKIE_SRC_MAX		(16 + 2)

/* key = HASH(label || public key) */
static void
cookie_derive_key(uint8_t key[static WG_HASH_LEN], const char *label,
    const uint8_t pub[static WG_KEY_LEN])
{
	struct blake2s_state	s;

	blake2s_init(&s, BLAKE2S_OUT_LEN);
	blake2s_update(&s, (const uint8_t *)label, strlen(label));
	blake2s_update(&s, pub, WG_KEY_LEN);
	blake2s_final(&s, key);
}

/* MAC(key, in): keyed BLAKE2s, 16 bytes out. */
static void
cookie_mac(uint8_t out[static WG_COOKIE_LEN], const uint8_t *key,
    size_t keylen, const uint8_t *in, size_t inlen)
{
	blake2s(out, WG_COOKIE_LEN, in, inlen, key, keylen);
}

/*
 * The bytes a cookie is made of: address then port, network order. An
 * IPv4-mapped IPv6 address counts as its IPv4 address. Returns the
 * length, 0 for an unknown family.
 */
static size_t
cookie_src_bytes(uint8_t out[static COOKIE_SRC_MAX], const struct sockaddr *sa)
{
	const struct sockaddr_in	*sin;
	const struct sockaddr_in6	*sin6;

	if (sa == NULL)
		return 0;
	switch (sa->sa_family) {
	case AF_INET:
		sin = (const struct sockaddr_in *)sa;
		memcpy(out, &sin->sin_addr.s_addr, 4);
		memcpy(out + 4, &sin->sin_port, 2);
		return 6;
	case AF_INET6:
		sin6 = (const struct sockaddr_in6 *)sa;
		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
			memcpy(out, &sin6->sin6_addr.s6_addr[12], 4);
			memcpy(out + 4, &sin6->sin6_port, 2);
			return 6;
		}
		memcpy(out, sin6->sin6_addr.s6_addr, 16);
		memcpy(out + 16, &sin6->sin6_port, 2);
		return 18;
	default:
		return 0;
	}
}

static int
cookie_secret_fresh(const struct cookie_checker *c, uint64_t now_ms)
{
	return c->has_secret && now_ms >= c->secret_birth_ms &&
	    now_ms - c->secret_birth_ms <= WG_COOKIE_SECRET_MAX_AGE * 1000ULL;
}

/* cookie = MAC(secret, src); 0, or -1 on an unknown family. */
static int
cookie_make(const struct cookie_checker *c, uint8_t cookie[static WG_COOKIE_LEN],
    const struct sockaddr *src)
{
	uint8_t	buf[COOKIE_SRC_MAX];
	size_t	len;

	if ((len = cookie_src_bytes(buf, src)) == 0)
		return -1;
	cookie_mac(cookie, c->secret, sizeof(c->secret), buf, len);
	return 0;
}

void
cookie_checker_init(struct cookie_checker *c,
    const uint8_t local_public[static WG_KEY_LEN])
{
	sodium_memzero(c, sizeof(*c));
	cookie_derive_key(c->mac1_key, WG_LABEL_MAC1, local_public);
	cookie_derive_key(c->cookie_key, WG_LABEL_COOKIE, local_public);
}

void
cookie_checker_wipe(struct cookie_checker *c)
{
	sodium_memzero(c, sizeof(*c));
}

enum cookie_mac_state
cookie_checker_validate_mac1(const struct cookie_checker *c, const void *msg,
    size_t len)
{
	const uint8_t	*m = msg;
	uint8_t		 computed[WG_COOKIE_LEN];
	enum cookie_mac_state ret = COOKIE_MAC_INVALID;

	if (len < COOKIE_MACS_LEN)
		return COOKIE_MAC_INVALID;
	cookie_mac(computed, c->mac1_key, sizeof(c->mac1_key), m,
	    len - COOKIE_MACS_LEN);
	if (wg_mem_eq(computed, m + len - COOKIE_MACS_LEN, WG_COOKIE_LEN))
		ret = COOKIE_VALID_MAC1_ONLY;
	sodium_memzero(computed, sizeof(computed));
	return ret;
}

int
cookie_msg_has_mac2(const void *msg, size_t len)
{
	const uint8_t	*m = msg;

	if (len < COOKIE_MACS_LEN)
		return 0;
	return !sodium_is_zero(m + len - WG_COOKIE_LEN, WG_COOKIE_LEN);
}

enum cookie_mac_state
cookie_checker_validate(struct cookie_checker *c, const void *msg,
    size_t len, const struct sockaddr *src, uint64_t now_ms)
{
	const uint8_t	*m = msg;
	uint8_t		 computed[WG_COOKIE_LEN], cookie[WG_COOKIE_LEN];
	enum cookie_mac_state ret;

	if ((ret = cookie_checker_validate_mac1(c, msg, len)) ==
	    COOKIE_MAC_INVALID)
		return ret;

	if (!cookie_secret_fresh(c, now_ms) || cookie_make(c, cookie, src) != 0)
		goto out;
	cookie_mac(computed, cookie, sizeof(cookie), m, len - WG_COOKIE_LEN);
	if (!wg_mem_eq(computed, m + len - WG_COOKIE_LEN, WG_COOKIE_LEN))
		goto out;
	ret = COOKIE_VALID_MAC2;
out:
	sodium_memzero(computed, sizeof(computed));
	sodium_memzero(cookie, sizeof(cookie));
	return ret;
}

int
cookie_checker_create_reply(struct cookie_checker *c,
    struct wg_msg_cookie *out, uint32_t receiver_index, const void *msg,
    size_t len, const struct sockaddr *src, uint64_t now_ms)
{
	const uint8_t	*m = msg;
	uint8_t		 cookie[WG_COOKIE_LEN];
	int		 ret = -1;

	memset(out, 0, sizeof(*out));
	if (len < COOKIE_MACS_LEN)
		goto out;
	if (!cookie_secret_fresh(c, now_ms)) {
		randombytes_buf(c->secret, sizeof(c->secret));
		c->secret_birth_ms = now_ms;
		c->has_secret = 1;
	}
	if (cookie_make(c, cookie, src) != 0)
		goto out;

	out->type = htole32(WG_MSG_COOKIE);
	out->receiver = htole32(receiver_index);
	randombytes_buf(out->nonce, sizeof(out->nonce));
	/* AD: the mac1 of the message we answer. */
	wg_xaead_encrypt(out->encrypted_cookie, cookie, WG_COOKIE_LEN,
	    m + len - COOKIE_MACS_LEN, WG_COOKIE_LEN, out->nonce,
	    c->cookie_key);
	ret = 0;
out:
	sodium_memzero(cookie, sizeof(cookie));
	return ret;
}

void
cookie_maker_init(struct cookie_maker *mk,
    const uint8_t peer_public[static WG_KEY_LEN])
{
	sodium_memzero(mk, sizeof(*mk));
	cookie_derive_key(mk->mac1_key, WG_LABEL_MAC1, peer_public);
	cookie_derive_key(mk->cookie_key, WG_LABEL_COOKIE, peer_public);
}

void
cookie_maker_wipe(struct cookie_maker *mk)
{
	sodium_memzero(mk, sizeof(*mk));
}

int
cookie_maker_add_macs(struct cookie_maker *mk, void *msg, size_t len,
    uint64_t now_ms)
{
	uint8_t		*m = msg;
	uint8_t		*mac1, *mac2;
	const uint64_t	 max_age_ms = (WG_COOKIE_SECRET_MAX_AGE -
	    WG_COOKIE_SECRET_LATENCY) * 1000ULL;

	if (len < COOKIE_MACS_LEN)
		return -1;
	mac1 = m + len - COOKIE_MACS_LEN;
	mac2 = m + len - WG_COOKIE_LEN;

	cookie_mac(mac1, mk->mac1_key, sizeof(mk->mac1_key), m,
	    len - COOKIE_MACS_LEN);
	memcpy(mk->last_mac1, mac1, WG_COOKIE_LEN);
	mk->has_last_mac1 = 1;

	if (mk->has_cookie && now_ms >= mk->cookie_birth_ms &&
	    now_ms - mk->cookie_birth_ms < max_age_ms)
		cookie_mac(mac2, mk->cookie, sizeof(mk->cookie), m,
		    len - WG_COOKIE_LEN);
	else
		memset(mac2, 0, WG_COOKIE_LEN);
	return 0;
}

int
cookie_maker_consume_reply(struct cookie_maker *mk,
    const struct wg_msg_cookie *msg, uint64_t now_ms)
{
	uint8_t	cookie[WG_COOKIE_LEN];
	int	ret = -1;

	if (le32toh(msg->type) != WG_MSG_COOKIE || !mk->has_last_mac1)
		goto out;
	if (wg_xaead_decrypt(cookie, msg->encrypted_cookie,
	    sizeof(msg->encrypted_cookie), mk->last_mac1, WG_COOKIE_LEN,
	    msg->nonce, mk->cookie_key) != 0)
		goto out;
	memcpy(mk->cookie, cookie, WG_COOKIE_LEN);
	mk->cookie_birth_ms = now_ms;
	mk->has_cookie = 1;
	mk->has_last_mac1 = 0;
	ret = 0;
out:
	sodium_memzero(cookie, sizeof(cookie));
	return ret;
}
