/*
 * test_cookie.c: mac1 and mac2 between a cookie_maker (sender) and a
 * cookie_checker (receiver): mac1 validation, the whole cookie round
 * trip, forged and unexpected replies, cookie and secret expiry.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <endian.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <sodium.h>

#include "cookie.h"
#include "crypto.h"
#include "messages.h"
#include "test.h"

#define SEC	1000ULL

static struct sockaddr_in
v4(const char *a, uint16_t port)
{
	struct sockaddr_in	sin;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	inet_pton(AF_INET, a, &sin.sin_addr);
	return sin;
}

static struct sockaddr_in6
v6(const char *a, uint16_t port)
{
	struct sockaddr_in6	sin6;

	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	sin6.sin6_port = htons(port);
	inet_pton(AF_INET6, a, &sin6.sin6_addr);
	return sin6;
}

/* A stand-in initiation: random bytes with a proper header. */
static void
fake_initiation(struct wg_msg_initiation *m)
{
	randombytes_buf(m, sizeof(*m));
	m->type = htole32(WG_MSG_INITIATION);
	memset(&m->macs, 0, sizeof(m->macs));
}

static void
test_mac1(void)
{
	uint8_t			 priv[32], pub[32], opriv[32], opub[32];
	struct cookie_checker	 ck;
	struct cookie_maker	 mk, other;
	struct wg_msg_initiation m, bad;
	struct wg_msg_response	 r;
	struct sockaddr_in	 src = v4("192.0.2.1", 51820);
	size_t			 i;
	int			 fails = 0;

	wg_x25519_generate(priv, pub);
	wg_x25519_generate(opriv, opub);
	cookie_checker_init(&ck, pub);
	cookie_maker_init(&mk, pub);
	cookie_maker_init(&other, opub);

	fake_initiation(&m);
	CHECK(cookie_checker_validate(&ck, &m, sizeof(m),
	    (struct sockaddr *)&src, 0) == COOKIE_MAC_INVALID,
	    "no mac1: invalid");
	CHECK(cookie_maker_add_macs(&mk, &m, sizeof(m), 0) == 0, "add macs");
	CHECK(sodium_is_zero(m.macs.mac2, 16), "no cookie: mac2 zero");
	CHECK(!sodium_is_zero(m.macs.mac1, 16), "mac1 set");
	CHECK(cookie_checker_validate(&ck, &m, sizeof(m),
	    (struct sockaddr *)&src, 0) == COOKIE_VALID_MAC1_ONLY,
	    "mac1 valid");
	CHECK(cookie_checker_validate_mac1(&ck, &m, sizeof(m)) ==
	    COOKIE_VALID_MAC1_ONLY, "mac1 alone: valid");
	CHECK(!cookie_msg_has_mac2(&m, sizeof(m)), "zero mac2: none");

	/* Any flipped bit up to mac2 breaks mac1. */
	for (i = 0; i < offsetof(struct wg_msg_initiation, macs.mac2); i++) {
		memcpy(&bad, &m, sizeof(bad));
		((uint8_t *)&bad)[i] ^= 0x10;
		if (cookie_checker_validate(&ck, &bad, sizeof(bad),
		    (struct sockaddr *)&src, 0) != COOKIE_MAC_INVALID ||
		    cookie_checker_validate_mac1(&ck, &bad, sizeof(bad)) !=
		    COOKIE_MAC_INVALID)
			fails++;
	}
	CHECK(fails == 0, "corrupted mac1 region accepted %d times", fails);

	/* Sent for another peer's key. */
	cookie_maker_add_macs(&other, &m, sizeof(m), 0);
	CHECK(cookie_checker_validate(&ck, &m, sizeof(m),
	    (struct sockaddr *)&src, 0) == COOKIE_MAC_INVALID,
	    "mac1 for another key invalid");

	/* Responses work the same. */
	randombytes_buf(&r, sizeof(r));
	cookie_maker_add_macs(&mk, &r, sizeof(r), 0);
	CHECK(cookie_checker_validate(&ck, &r, sizeof(r),
	    (struct sockaddr *)&src, 0) == COOKIE_VALID_MAC1_ONLY,
	    "response mac1 valid");

	/* Short messages. */
	CHECK(cookie_checker_validate(&ck, &m, 31, NULL, 0) ==
	    COOKIE_MAC_INVALID, "short message");
	CHECK(cookie_checker_validate_mac1(&ck, &m, 31) ==
	    COOKIE_MAC_INVALID, "short message, mac1 alone");
	CHECK(!cookie_msg_has_mac2(&m, 31), "short message: no mac2");
	CHECK(cookie_maker_add_macs(&mk, &m, 31, 0) != 0, "short add");
	cookie_checker_wipe(&ck);
	cookie_maker_wipe(&mk);
	cookie_maker_wipe(&other);
}

static void
test_mac2_flow(void)
{
	uint8_t			 priv[32], pub[32];
	struct cookie_checker	 ck;
	struct cookie_maker	 mk, mk0;
	struct wg_msg_initiation m, m2;
	struct wg_msg_cookie	 reply, bad;
	struct sockaddr_in	 src = v4("192.0.2.1", 51820);
	struct sockaddr_in	 src_port = v4("192.0.2.1", 51821);
	struct sockaddr_in	 src_ip = v4("192.0.2.2", 51820);
	struct sockaddr_in6	 src6 = v6("2001:db8::1", 51820);
	struct sockaddr_in6	 mapped = v6("::ffff:192.0.2.1", 51820);
	uint64_t		 t0 = 5 * SEC;

	wg_x25519_generate(priv, pub);
	cookie_checker_init(&ck, pub);
	cookie_maker_init(&mk, pub);

	/* A cookie reply before we sent anything is unexpected. */
	fake_initiation(&m);
	CHECK(cookie_checker_create_reply(&ck, &reply, 0x1234, &m, sizeof(m),
	    (struct sockaddr *)&src, t0) == 0, "reply");
	CHECK(cookie_maker_consume_reply(&mk, &reply, t0) != 0,
	    "unsolicited reply refused");

	/* The round trip. */
	cookie_maker_add_macs(&mk, &m, sizeof(m), t0);
	CHECK(cookie_checker_validate(&ck, &m, sizeof(m),
	    (struct sockaddr *)&src, t0) == COOKIE_VALID_MAC1_ONLY,
	    "mac1 only");
	CHECK(cookie_checker_create_reply(&ck, &reply, 0x1234, &m, sizeof(m),
	    (struct sockaddr *)&src, t0) == 0, "reply");
	CHECK(le32toh(reply.type) == WG_MSG_COOKIE &&
	    le32toh(reply.receiver) == 0x1234, "reply header");
	memcpy(&mk0, &mk, sizeof(mk));

	/* Wrong AD (not the mac1 we sent), forged bytes, wrong type. */
	memcpy(&bad, &reply, sizeof(bad));
	bad.encrypted_cookie[3] ^= 1;
	CHECK(cookie_maker_consume_reply(&mk, &bad, t0) != 0, "forged");
	memcpy(&bad, &reply, sizeof(bad));
	bad.nonce[0] ^= 1;
	CHECK(cookie_maker_consume_reply(&mk, &bad, t0) != 0, "bad nonce");
	memcpy(&bad, &reply, sizeof(bad));
	bad.type = htole32(WG_MSG_RESPONSE);
	CHECK(cookie_maker_consume_reply(&mk, &bad, t0) != 0, "bad type");
	mk.last_mac1[0] ^= 1;
	CHECK(cookie_maker_consume_reply(&mk, &reply, t0) != 0,
	    "wrong AD refused");
	mk.last_mac1[0] ^= 1;
	CHECK(memcmp(&mk, &mk0, sizeof(mk)) == 0, "maker unchanged");

	CHECK(cookie_maker_consume_reply(&mk, &reply, t0) == 0,
	    "reply consumed");
	CHECK(cookie_maker_consume_reply(&mk, &reply, t0) != 0,
	    "only one reply per message");

	/* The next message carries a valid mac2. */
	fake_initiation(&m2);
	cookie_maker_add_macs(&mk, &m2, sizeof(m2), t0 + SEC);
	CHECK(!sodium_is_zero(m2.macs.mac2, 16), "mac2 set");
	CHECK(cookie_msg_has_mac2(&m2, sizeof(m2)), "has a mac2");
	CHECK(cookie_checker_validate_mac1(&ck, &m2, sizeof(m2)) ==
	    COOKIE_VALID_MAC1_ONLY, "mac1 alone does not look at mac2");
	CHECK(cookie_checker_validate(&ck, &m2, sizeof(m2),
	    (struct sockaddr *)&src, t0 + SEC) == COOKIE_VALID_MAC2,
	    "mac2 valid");
	CHECK(cookie_checker_validate(&ck, &m2, sizeof(m2),
	    (struct sockaddr *)&mapped, t0 + SEC) == COOKIE_VALID_MAC2,
	    "mac2 valid from the v4-mapped address");
	CHECK(cookie_checker_validate(&ck, &m2, sizeof(m2),
	    (struct sockaddr *)&src_port, t0 + SEC) ==
	    COOKIE_VALID_MAC1_ONLY, "other port: no mac2");
	CHECK(cookie_checker_validate(&ck, &m2, sizeof(m2),
	    (struct sockaddr *)&src_ip, t0 + SEC) == COOKIE_VALID_MAC1_ONLY,
	    "other address: no mac2");
	CHECK(cookie_checker_validate(&ck, &m2, sizeof(m2),
	    (struct sockaddr *)&src6, t0 + SEC) == COOKIE_VALID_MAC1_ONLY,
	    "v6 address: no mac2");
	CHECK(cookie_checker_validate(&ck, &m2, sizeof(m2), NULL,
	    t0 + SEC) == COOKIE_VALID_MAC1_ONLY, "no address: no mac2");
	memcpy(&m, &m2, sizeof(m));
	m.macs.mac2[15] ^= 1;
	CHECK(cookie_checker_validate(&ck, &m, sizeof(m),
	    (struct sockaddr *)&src, t0 + SEC) == COOKIE_VALID_MAC1_ONLY,
	    "corrupted mac2");
	m.macs.mac2[15] ^= 1;
	m.macs.mac1[0] ^= 1;
	CHECK(cookie_checker_validate(&ck, &m, sizeof(m),
	    (struct sockaddr *)&src, t0 + SEC) == COOKIE_MAC_INVALID,
	    "corrupted mac1 with good mac2");

	/* An IPv6 source gets its own cookie. */
	cookie_maker_add_macs(&mk, &m, sizeof(m), t0 + SEC);
	CHECK(cookie_checker_create_reply(&ck, &reply, 1, &m, sizeof(m),
	    (struct sockaddr *)&src6, t0 + SEC) == 0, "v6 reply");
	CHECK(cookie_maker_consume_reply(&mk, &reply, t0 + SEC) == 0,
	    "v6 reply consumed");
	cookie_maker_add_macs(&mk, &m, sizeof(m), t0 + SEC);
	CHECK(cookie_checker_validate(&ck, &m, sizeof(m),
	    (struct sockaddr *)&src6, t0 + SEC) == COOKIE_VALID_MAC2,
	    "v6 mac2 valid");
	CHECK(cookie_checker_validate(&ck, &m, sizeof(m),
	    (struct sockaddr *)&src, t0 + SEC) == COOKIE_VALID_MAC1_ONLY,
	    "v6 cookie not good for v4");
	cookie_checker_wipe(&ck);
	cookie_maker_wipe(&mk);
}

static void
test_expiry(void)
{
	uint8_t			 priv[32], pub[32];
	struct cookie_checker	 ck;
	struct cookie_maker	 mk;
	struct wg_msg_initiation m;
	struct wg_msg_cookie	 reply;
	struct sockaddr_in	 src = v4("198.51.100.7", 4000);
	const uint64_t		 t0 = 1000 * SEC;
	const uint64_t		 maker_age = (WG_COOKIE_SECRET_MAX_AGE -
	    WG_COOKIE_SECRET_LATENCY) * SEC;

	wg_x25519_generate(priv, pub);
	cookie_checker_init(&ck, pub);
	cookie_maker_init(&mk, pub);

	fake_initiation(&m);
	cookie_maker_add_macs(&mk, &m, sizeof(m), t0);
	CHECK(cookie_checker_create_reply(&ck, &reply, 7, &m, sizeof(m),
	    (struct sockaddr *)&src, t0) == 0, "reply");
	CHECK(cookie_maker_consume_reply(&mk, &reply, t0) == 0, "consumed");

	/* The maker stops using its cookie before the checker's secret ages. */
	cookie_maker_add_macs(&mk, &m, sizeof(m), t0 + maker_age - 1);
	CHECK(!sodium_is_zero(m.macs.mac2, 16), "young cookie used");
	CHECK(cookie_checker_validate(&ck, &m, sizeof(m),
	    (struct sockaddr *)&src, t0 + maker_age - 1) == COOKIE_VALID_MAC2,
	    "young cookie valid");
	cookie_maker_add_macs(&mk, &m, sizeof(m), t0 + maker_age);
	CHECK(sodium_is_zero(m.macs.mac2, 16), "old cookie not used");

	/* The checker refuses a mac2 made with a secret past its max age. */
	cookie_maker_add_macs(&mk, &m, sizeof(m), t0 + SEC);
	CHECK(cookie_checker_validate(&ck, &m, sizeof(m),
	    (struct sockaddr *)&src, t0 + WG_COOKIE_SECRET_MAX_AGE * SEC) ==
	    COOKIE_VALID_MAC2, "valid at max age");
	CHECK(cookie_checker_validate(&ck, &m, sizeof(m),
	    (struct sockaddr *)&src, t0 + WG_COOKIE_SECRET_MAX_AGE * SEC + 1) ==
	    COOKIE_VALID_MAC1_ONLY, "secret expired: mac2 refused");

	/* A new reply rotates the secret: the old cookie stays invalid. */
	CHECK(cookie_checker_create_reply(&ck, &reply, 7, &m, sizeof(m),
	    (struct sockaddr *)&src, t0 + 200 * SEC) == 0, "new reply");
	CHECK(cookie_checker_validate(&ck, &m, sizeof(m),
	    (struct sockaddr *)&src, t0 + 200 * SEC) ==
	    COOKIE_VALID_MAC1_ONLY, "old cookie, new secret: refused");
	CHECK(cookie_maker_consume_reply(&mk, &reply, t0 + 200 * SEC) == 0,
	    "new cookie consumed");
	cookie_maker_add_macs(&mk, &m, sizeof(m), t0 + 200 * SEC);
	CHECK(cookie_checker_validate(&ck, &m, sizeof(m),
	    (struct sockaddr *)&src, t0 + 200 * SEC) == COOKIE_VALID_MAC2,
	    "new cookie valid");
	cookie_checker_wipe(&ck);
	cookie_maker_wipe(&mk);
}

int
main(void)
{
	wg_crypto_init();
	test_mac1();
	test_mac2_flow();
	test_expiry();
	return test_done();
}
