/*
 * ratelimiter.h: per-source token buckets for handshake messages, as the
 * kernel's WireGuard does: 20 packets a second sustained, bursts of 5,
 * keyed by the whole IPv4 address or the IPv6 /64 (IPv4-mapped IPv6
 * addresses count as IPv4). The table is bounded; when it is full, new
 * sources are refused. Entries idle for more than a second are dropped
 * by ratelimiter_gc(), which the caller runs every second.
 *
 * No I/O, no clock, no global state: now_ms is milliseconds of a
 * monotonic clock, the same for every call on one limiter. The bucket
 * hash is keyed with a random key so that collisions cannot be aimed.
 */
#ifndef WGCARD_RATELIMITER_H
#define WGCARD_RATELIMITER_H

#include <sys/socket.h>

#include <stddef.h>
#include <stdint.h>

#define RATELIMITER_PACKETS_PER_SECOND	20
#define RATELIMITER_PACKETS_BURST	5
#define RATELIMITER_MAX_ENTRIES		8192
#define RATELIMITER_ENTRY_TIMEOUT_MS	1000

struct ratelimiter_entry;

struct ratelimiter {
	struct ratelimiter_entry *entries;	/* max_entries of them */
	uint32_t	*buckets;		/* entry index + 1; 0 empty */
	uint32_t	 nbuckets;		/* a power of two */
	uint32_t	 max_entries;
	uint32_t	 count;
	uint32_t	 free_head;		/* entry index + 1; 0 none */
	uint32_t	 used;			/* entries[used..] never used */
	uint8_t		 hash_key[16];
};

/* max_entries 0 means RATELIMITER_MAX_ENTRIES. -1 if out of memory. */
int	ratelimiter_init(struct ratelimiter *, size_t max_entries);
void	ratelimiter_destroy(struct ratelimiter *);
/* 1 if a packet from src may pass now, 0 if not (or unknown family). */
int	ratelimiter_allow(struct ratelimiter *, const struct sockaddr *src,
	    uint64_t now_ms);
/* Drops the entries idle for more than RATELIMITER_ENTRY_TIMEOUT_MS. */
void	ratelimiter_gc(struct ratelimiter *, uint64_t now_ms);
size_t	ratelimiter_count(const struct ratelimiter *);
/* 1 when the table is full: a new source is refused, whatever its rate. */
int	ratelimiter_full(const struct ratelimiter *);

#endif /* WGCARD_RATELIMITER_H */
