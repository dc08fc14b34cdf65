/*
 * test_replay.c: the replay window's edge cases (in order, out of
 * order, the window's two edges, big jumps, duplicates, counter 0, the
 * message limit), then a long random stream against a plain model.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "messages.h"
#include "replay.h"
#include "test.h"

#define W	((uint64_t)REPLAY_WINDOW)	/* 8128 */
#define LIMIT	WG_REJECT_AFTER_MESSAGES

struct step {
	uint64_t	counter;
	int		accept;
};

static void
run(const char *name, const struct step *s, size_t n)
{
	struct replay	r;
	size_t		i;

	replay_init(&r);
	for (i = 0; i < n; i++)
		CHECK(replay_check(&r, s[i].counter) == s[i].accept,
		    "%s step %zu: counter %llu should be %s", name, i,
		    (unsigned long long)s[i].counter,
		    s[i].accept ? "accepted" : "rejected");
}

static void
test_sequence(void)
{
	/* Expected results reasoned from the rule: accept a counter once,
	 * if below LIMIT and no more than W behind the highest + 1. */
	const struct step	s[] = {
		{ 0, 1 },		/* first packet */
		{ 0, 0 },		/* duplicate */
		{ 1, 1 },
		{ 5, 1 },		/* skip ahead */
		{ 3, 1 },		/* late, within window */
		{ 4, 1 },
		{ 3, 0 },
		{ 2, 1 },
		{ 5, 0 },
		{ W + 5, 1 },		/* highest is now W + 5 */
		{ 6, 1 },		/* W - 1 behind */
		{ 6, 0 },
		{ 5, 0 },		/* exactly W behind, but seen */
		{ 4, 0 },		/* W + 1 behind: too old */
		{ 7, 1 },
		{ W + 4, 1 },
		{ W + 4, 0 },
		{ W + 6, 1 },		/* moves the window by one */
		{ 7, 0 },		/* in the window, seen */
		{ 6, 0 },		/* exactly W behind, seen */
		{ 5, 0 },		/* now too old */
		{ 8, 1 },		/* W - 2 behind, new */
	};
	run("basic", s, sizeof(s) / sizeof(s[0]));
}

static void
test_window_edges(void)
{
	struct replay	r;
	uint64_t	i, hi;
	int		ok;

	/* With highest H, H - W is accepted and H - W - 1 is not. */
	hi = 100000;
	replay_init(&r);
	CHECK(replay_check(&r, hi) == 1, "set highest");
	CHECK(replay_check(&r, hi - W - 1) == 0, "H - W - 1 too old");
	CHECK(replay_check(&r, hi - W) == 1, "H - W accepted");
	CHECK(replay_check(&r, hi - W) == 0, "H - W duplicate");
	CHECK(replay_check(&r, hi - 1) == 1, "H - 1 accepted");

	/* Fill the whole window in order; then counter 0 still fits. */
	replay_init(&r);
	ok = 1;
	for (i = 1; i <= W; i++)
		ok &= replay_check(&r, i);
	CHECK(ok, "1..W in order");
	CHECK(replay_check(&r, 0) == 1, "0 is exactly W behind");
	CHECK(replay_check(&r, 0) == 0, "0 twice");

	/* One further and 0 drops out while 1 is a duplicate. */
	replay_init(&r);
	ok = 1;
	for (i = 2; i <= W + 1; i++)
		ok &= replay_check(&r, i);
	CHECK(ok, "2..W+1 in order");
	CHECK(replay_check(&r, 1) == 1, "1 is exactly W behind");
	CHECK(replay_check(&r, 0) == 0, "0 is W + 1 behind");

	/* The whole window in reverse order. */
	replay_init(&r);
	ok = 1;
	for (i = W + 1; i-- > 0;)
		ok &= replay_check(&r, i);
	CHECK(ok, "W..0 in reverse");

	replay_init(&r);
	ok = 1;
	for (i = W + 2; i-- > 1;)
		ok &= replay_check(&r, i);
	CHECK(ok, "W+1..1 in reverse");
	CHECK(replay_check(&r, 0) == 0, "then 0 is too old");

	/* Reverse, then a duplicate of the highest, then 0 and a new one. */
	replay_init(&r);
	ok = 1;
	for (i = W + 1; i-- > 1;)
		ok &= replay_check(&r, i);
	CHECK(ok, "W..1 in reverse");
	CHECK(replay_check(&r, W + 1) == 1, "W + 1 new");
	CHECK(replay_check(&r, W) == 0, "W duplicate");
	CHECK(replay_check(&r, 0) == 0, "0 now too old");
}

static void
test_jumps_and_limit(void)
{
	struct replay	r;
	uint64_t	big = 4 * (W + 1);

	replay_init(&r);
	CHECK(replay_check(&r, 10) == 1, "10");
	CHECK(replay_check(&r, big) == 1, "huge jump");
	CHECK(replay_check(&r, 10) == 0, "10 after the jump");
	CHECK(replay_check(&r, big - W) == 1, "lower edge after jump");
	CHECK(replay_check(&r, big - W - 1) == 0, "below it");
	CHECK(replay_check(&r, big - 64) == 1, "a word back");
	CHECK(replay_check(&r, big + 64 * 200) == 1,
	    "jump further than the bitmap");
	CHECK(replay_check(&r, big + 64 * 200 - 1) == 1, "just below");
	CHECK(replay_check(&r, big) == 0, "old highest now too old");
	CHECK(replay_check(&r, big + 64 * 200) == 0, "duplicate after jump");

	/* A word whose bits survived from before must have been cleared
	 * when the window came round to it again (128 words later). */
	replay_init(&r);
	CHECK(replay_check(&r, 63) == 1, "63");
	CHECK(replay_check(&r, 63 + 64 * 128) == 1, "same ring slot");
	CHECK(replay_check(&r, 63 + 64 * 128 - 64) == 1,
	    "earlier word is fresh");

	replay_init(&r);
	CHECK(replay_check(&r, LIMIT) == 0, "LIMIT rejected");
	CHECK(replay_check(&r, LIMIT + 1) == 0, "past LIMIT rejected");
	CHECK(replay_check(&r, UINT64_MAX) == 0, "UINT64_MAX rejected");
	CHECK(replay_check(&r, LIMIT - 1) == 1, "LIMIT - 1 accepted");
	CHECK(replay_check(&r, LIMIT - 1) == 0, "LIMIT - 1 duplicate");
	CHECK(replay_check(&r, LIMIT - 2) == 1, "LIMIT - 2 accepted");
	CHECK(replay_check(&r, LIMIT) == 0, "LIMIT still rejected");
	CHECK(replay_check(&r, LIMIT - 2) == 0, "LIMIT - 2 duplicate");
	CHECK(replay_check(&r, LIMIT - 1 - W) == 1, "lower edge at limit");
	CHECK(replay_check(&r, LIMIT - 2 - W) == 0, "below it at limit");
	CHECK(replay_check(&r, 0) == 0, "0 far too old");
}

/* A fast local generator: randombytes_uniform is a system call. */
static uint64_t	rng_state;

static uint32_t
rng_uniform(uint32_t n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)((rng_state >> 32) % n);
}

/* A long random stream checked against the plain rule on a set. */
static void
test_model(void)
{
	enum { N = 1 << 24 };
	struct replay	r;
	uint8_t		*seen;
	uint64_t	hi = 0, c;
	int		i, want, got, bad = 0, accepted = 0;

	seen = calloc(N, 1);
	if (seen == NULL)
		abort();
	replay_init(&r);
	randombytes_buf(&rng_state, sizeof(rng_state));
	rng_state |= 1;
	for (i = 0; i < 400000; i++) {
		switch (rng_uniform(500)) {
		case 0 ... 49:	/* replay something recent */
			c = hi > 50 ? hi - rng_uniform(50) : 0;
			break;
		case 50 ... 99:	/* near the lower edge */
			c = hi > W + 64 ? hi + 64 - W -
			    rng_uniform(128) : 0;
			break;
		case 100:	/* a jump */
			c = hi + rng_uniform(3 * W);
			break;
		default:	/* mostly ahead, some reordering */
			c = hi + rng_uniform(40);
			c = c > 20 ? c - 20 : 0;
			break;
		}
		if (c >= N - 1)
			break;
		want = !seen[c] && c + 1 + W >= hi;
		got = replay_check(&r, c);
		if (got != want)
			bad++;
		if (want) {
			seen[c] = 1;
			accepted++;
			if (c + 1 > hi)
				hi = c + 1;
		}
	}
	CHECK(bad == 0, "random stream: %d disagreements with the model",
	    bad);
	CHECK(accepted > 100000, "random stream exercised (%d accepted)",
	    accepted);
	free(seen);
}

int
main(void)
{
	if (sodium_init() < 0)
		return 1;
	test_sequence();
	test_window_edges();
	test_jumps_and_limit();
	test_model();
	return test_done();
}
