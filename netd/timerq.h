/*
 * timerq.h: many timers behind one event: a binary min-heap of
 * deadlines (ms on a monotonic clock). An entry is embedded in its
 * owner (16 bytes where a libevent `struct event` is 128) and found from
 * the heap by pointer; the heap holds only the armed ones. The caller
 * keeps one timer event at timerq_first's deadline and pops what is due
 * with timerq_expired.
 */
#ifndef WGCARD_TIMERQ_H
#define WGCARD_TIMERQ_H

#include <stddef.h>
#include <stdint.h>

struct timerq_entry {
	uint64_t	due;	/* ms */
	uint32_t	pos;	/* 1 + its place in the heap; 0: not armed */
	uint32_t	tag;	/* the caller's (which timer of the owner) */
};

struct timerq {
	struct timerq_entry	**heap;
	size_t			  n, cap;
};

void	timerq_init(struct timerq *);
void	timerq_free(struct timerq *);
/* Arms e at due (ms), or moves it there if it is armed. */
void	timerq_add(struct timerq *, struct timerq_entry *, uint64_t due);
void	timerq_del(struct timerq *, struct timerq_entry *);
int	timerq_pending(const struct timerq_entry *);
/* The earliest armed entry, or NULL. */
struct timerq_entry *timerq_first(const struct timerq *);
/* Disarms and returns the earliest entry due at or before now, or NULL. */
struct timerq_entry *timerq_expired(struct timerq *, uint64_t now);

#endif /* WGCARD_TIMERQ_H */
