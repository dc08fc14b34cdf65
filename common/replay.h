/*
 * replay.h: the sliding-window replay check of RFC 6479, as WireGuard
 * uses it (window of 8192 - 64 counters, rejecting counters at or past
 * WG_REJECT_AFTER_MESSAGES).
 */
#ifndef WGCARD_REPLAY_H
#define WGCARD_REPLAY_H

#include <stdint.h>

#define REPLAY_WORDS		128	/* 8192 bits */
#define REPLAY_WINDOW		((REPLAY_WORDS - 1) * 64)

struct replay {
	uint64_t	greatest;	/* highest counter seen + 1 */
	uint64_t	bitmap[REPLAY_WORDS];
};

void	replay_init(struct replay *);
/* Call only after the packet authenticated: 1 accepted (and recorded),
 * 0 replayed, too old or past the limit. */
int	replay_check(struct replay *, uint64_t counter);

#endif /* WGCARD_REPLAY_H */
