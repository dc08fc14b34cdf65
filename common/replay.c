/*
 * replay.c: the sliding-window replay check of RFC 6479 (a ring of
 * 64-bit words, one of them spare so the window can move by whole
 * words), as WireGuard's receive path uses it. Not locked: the caller
 * owns the keypair it belongs to.
 */
#include <string.h>

#include "messages.h"
#include "replay.h"

#define REPLAY_WORD_BITS	64

void
replay_init(struct replay *r)
{
	memset(r, 0, sizeof(*r));
}

int
replay_check(struct replay *r, uint64_t counter)
{
	uint64_t	c, word, cur, n, i, bit;

	if (counter >= WG_REJECT_AFTER_MESSAGES)
		return 0;
	/* Stored off by one so that greatest == 0 means "none yet". */
	c = counter + 1;
	if (c + REPLAY_WINDOW < r->greatest)
		return 0;			/* too old */

	word = c / REPLAY_WORD_BITS;
	if (c > r->greatest) {
		/* Slide forward: clear the words we move into. */
		cur = r->greatest / REPLAY_WORD_BITS;
		n = word - cur;
		if (n > REPLAY_WORDS)
			n = REPLAY_WORDS;
		for (i = 1; i <= n; i++)
			r->bitmap[(cur + i) % REPLAY_WORDS] = 0;
		r->greatest = c;
	}

	word %= REPLAY_WORDS;
	bit = 1ULL << (c % REPLAY_WORD_BITS);
	if (r->bitmap[word] & bit)
		return 0;			/* replayed */
	r->bitmap[word] |= bit;
	return 1;
}
