/*
 * test_ratelimiter.c: burst then refusal, refill over simulated time,
 * IPv4 per address and IPv6 per /64, garbage collection, a full table.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdint.h>
#include <string.h>

#include <sodium.h>

#include "crypto.h"
#include "ratelimiter.h"
#include "test.h"

static struct sockaddr_in
v4(const char *a)
{
	struct sockaddr_in	sin;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(51820);
	inet_pton(AF_INET, a, &sin.sin_addr);
	return sin;
}

static struct sockaddr_in6
v6(const char *a)
{
	struct sockaddr_in6	sin6;

	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	sin6.sin6_port = htons(51820);
	inet_pton(AF_INET6, a, &sin6.sin6_addr);
	return sin6;
}

#define SA(x)	((const struct sockaddr *)&(x))

/* How many of n packets at time now pass. */
static int
burst(struct ratelimiter *rl, const struct sockaddr *sa, int n, uint64_t now)
{
	int	i, ok = 0;

	for (i = 0; i < n; i++)
		ok += ratelimiter_allow(rl, sa, now);
	return ok;
}

static void
test_burst_refill(void)
{
	struct ratelimiter	rl;
	struct sockaddr_in	a = v4("192.0.2.1"), b = v4("192.0.2.2");
	struct sockaddr_in6	mapped = v6("::ffff:192.0.2.1");
	uint64_t		t = 10000;
	int			i, ok;

	CHECK(ratelimiter_init(&rl, 0) == 0, "init");
	CHECK(burst(&rl, SA(a), 10, t) == RATELIMITER_PACKETS_BURST,
	    "burst of %d", RATELIMITER_PACKETS_BURST);
	CHECK(!ratelimiter_allow(&rl, SA(a), t), "refused after burst");
	CHECK(!ratelimiter_allow(&rl, SA(mapped), t),
	    "v4-mapped is the same source");
	CHECK(burst(&rl, SA(b), 10, t) == RATELIMITER_PACKETS_BURST,
	    "another address has its own bucket");

	/* One packet's worth of tokens every 50 ms. */
	CHECK(!ratelimiter_allow(&rl, SA(a), t + 49), "49 ms: not yet");
	CHECK(ratelimiter_allow(&rl, SA(a), t + 50), "50 ms: one more");
	CHECK(!ratelimiter_allow(&rl, SA(a), t + 50), "and only one");

	/* Sustained 20 per second passes; faster does not. */
	t += 50;
	ok = 0;
	for (i = 1; i <= 100; i++)
		ok += ratelimiter_allow(&rl, SA(a), t + (uint64_t)i * 50);
	CHECK(ok == 100, "20/s sustained: %d of 100", ok);
	t += 100 * 50;
	ok = 0;
	for (i = 1; i <= 100; i++)
		ok += ratelimiter_allow(&rl, SA(a), t + (uint64_t)i * 25);
	CHECK(ok >= 50 && ok <= 51, "40/s offered: %d of 100 pass", ok);
	t += 100 * 25;

	/* A long pause refills to the burst, no more. */
	t += 60000;
	CHECK(burst(&rl, SA(a), 20, t) == RATELIMITER_PACKETS_BURST,
	    "refilled to the burst only");

	/* Unknown family. */
	a.sin_family = AF_UNIX;
	CHECK(!ratelimiter_allow(&rl, SA(a), t), "unknown family refused");
	CHECK(!ratelimiter_allow(&rl, NULL, t), "no address refused");
	ratelimiter_destroy(&rl);
}

static void
test_ipv6(void)
{
	struct ratelimiter	rl;
	struct sockaddr_in6	a = v6("2001:db8:1:2::1");
	struct sockaddr_in6	same64 = v6("2001:db8:1:2:ffff:eeee:dddd:cccc");
	struct sockaddr_in6	other64 = v6("2001:db8:1:3::1");
	uint64_t		t = 0;

	CHECK(ratelimiter_init(&rl, 0) == 0, "init");
	CHECK(burst(&rl, SA(a), 3, t) == 3, "three from one address");
	CHECK(burst(&rl, SA(same64), 5, t) == RATELIMITER_PACKETS_BURST - 3,
	    "the rest of the /64's burst from another address in it");
	CHECK(burst(&rl, SA(other64), 10, t) == RATELIMITER_PACKETS_BURST,
	    "the next /64 is separate");
	CHECK(ratelimiter_count(&rl) == 2, "two entries");
	ratelimiter_destroy(&rl);
}

static void
test_gc_and_full(void)
{
	struct ratelimiter	rl;
	struct sockaddr_in	sa = v4("10.0.0.0");
	uint32_t		i;
	uint64_t		t = 1000;
	int			ok = 0;

	CHECK(ratelimiter_init(&rl, 64) == 0, "init 64");
	CHECK(!ratelimiter_full(&rl), "empty: not full");
	sa.sin_addr.s_addr = htonl(0x0a0000ff);
	CHECK(ratelimiter_allow(&rl, SA(sa), t) && !ratelimiter_full(&rl),
	    "one source: not full");
	ratelimiter_gc(&rl, t + 1001);
	CHECK(ratelimiter_count(&rl) == 0 && !ratelimiter_full(&rl),
	    "collected: not full");
	for (i = 0; i < 64; i++) {
		sa.sin_addr.s_addr = htonl(0x0a000000 + i);
		ok += ratelimiter_allow(&rl, SA(sa), t);
	}
	CHECK(ok == 64, "64 sources fit");
	CHECK(ratelimiter_count(&rl) == 64, "count 64");
	CHECK(ratelimiter_full(&rl), "full at 64");
	sa.sin_addr.s_addr = htonl(0x0b000000);
	CHECK(!ratelimiter_allow(&rl, SA(sa), t), "65th refused: full");
	sa.sin_addr.s_addr = htonl(0x0a000005);
	CHECK(ratelimiter_allow(&rl, SA(sa), t + 10),
	    "a known source still passes");

	/* Idle entries go after a second; recently seen ones stay. */
	ratelimiter_gc(&rl, t + 1000);
	CHECK(ratelimiter_count(&rl) == 64, "nothing idle for > 1 s yet");
	ratelimiter_gc(&rl, t + 1001);
	CHECK(ratelimiter_count(&rl) == 1, "idle entries collected");
	CHECK(!ratelimiter_full(&rl), "not full after the collection");
	sa.sin_addr.s_addr = htonl(0x0b000000);
	CHECK(ratelimiter_allow(&rl, SA(sa), t + 1001), "room again");
	/* The surviving entry kept its state: 4 of its 5 used, 1 s later. */
	sa.sin_addr.s_addr = htonl(0x0a000005);
	CHECK(burst(&rl, SA(sa), 10, t + 1002) == RATELIMITER_PACKETS_BURST,
	    "survivor refilled");
	ratelimiter_gc(&rl, t + 100000);
	CHECK(ratelimiter_count(&rl) == 0, "all collected");
	for (i = 0; i < 64; i++) {
		sa.sin_addr.s_addr = htonl(0x0c000000 + i);
		ok += ratelimiter_allow(&rl, SA(sa), t + 100000);
	}
	CHECK(ratelimiter_count(&rl) == 64, "free list reusable");
	ratelimiter_destroy(&rl);

	/* The default size. */
	CHECK(ratelimiter_init(&rl, 0) == 0, "init default");
	ok = 0;
	for (i = 0; i < RATELIMITER_MAX_ENTRIES + 100; i++) {
		sa.sin_addr.s_addr = htonl(0x0a000000 + i);
		ok += ratelimiter_allow(&rl, SA(sa), t);
	}
	CHECK(ok == RATELIMITER_MAX_ENTRIES, "default table holds %d",
	    RATELIMITER_MAX_ENTRIES);
	ratelimiter_gc(&rl, t + 5000);
	CHECK(ratelimiter_count(&rl) == 0, "default table collected");
	ratelimiter_destroy(&rl);
}

int
main(void)
{
	wg_crypto_init();
	test_burst_refill();
	test_ipv6();
	test_gc_and_full();
	return test_done();
}
