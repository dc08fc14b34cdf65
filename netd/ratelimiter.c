/*
 * ratelimiter.c: token buckets in a fixed-size chained hash table.
 * Tokens are counted in milliseconds of credit: a packet costs 1000 / 20
 * ms, a bucket holds at most 5 packets' worth.
 */
#include <sys/socket.h>
#include <netinet/in.h>

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "ratelimiter.h"

#define PACKET_COST	(1000ULL / RATELIMITER_PACKETS_PER_SECOND)
#define TOKEN_MAX	(PACKET_COST * RATELIMITER_PACKETS_BURST)

_Static_assert(crypto_shorthash_KEYBYTES == 16, "siphash key size");

struct ratelimiter_entry {
	uint8_t		key[9];		/* family (4 or 6), then address */
	uint32_t	next;		/* index + 1; 0 end of chain */
	uint64_t	last_ms;
	uint64_t	tokens;
};

/* IPv4: the address; IPv6: the /64. 0 on success, -1 unknown family. */
static int
ratelimiter_key(uint8_t key[static 9], const struct sockaddr *sa)
{
	const struct sockaddr_in	*sin;
	const struct sockaddr_in6	*sin6;

	memset(key, 0, 9);
	if (sa == NULL)
		return -1;
	switch (sa->sa_family) {
	case AF_INET:
		sin = (const struct sockaddr_in *)sa;
		key[0] = 4;
		memcpy(key + 1, &sin->sin_addr.s_addr, 4);
		return 0;
	case AF_INET6:
		sin6 = (const struct sockaddr_in6 *)sa;
		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
			key[0] = 4;
			memcpy(key + 1, &sin6->sin6_addr.s6_addr[12], 4);
		} else {
			key[0] = 6;
			memcpy(key + 1, sin6->sin6_addr.s6_addr, 8);
		}
		return 0;
	default:
		return -1;
	}
}

static uint32_t
ratelimiter_bucket(const struct ratelimiter *rl, const uint8_t key[static 9])
{
	uint8_t		h[crypto_shorthash_BYTES];
	uint64_t	v = 0;
	size_t		i;

	crypto_shorthash(h, key, 9, rl->hash_key);
	for (i = 0; i < sizeof(v); i++)
		v |= (uint64_t)h[i] << (8 * i);
	return (uint32_t)(v & (rl->nbuckets - 1));
}

int
ratelimiter_init(struct ratelimiter *rl, size_t max_entries)
{
	memset(rl, 0, sizeof(*rl));
	if (max_entries == 0)
		max_entries = RATELIMITER_MAX_ENTRIES;
	if (max_entries > (1U << 24))
		max_entries = 1U << 24;
	rl->max_entries = (uint32_t)max_entries;
	/* About one entry per bucket when full. */
	rl->nbuckets = 1;
	while (rl->nbuckets < rl->max_entries)
		rl->nbuckets <<= 1;

	rl->entries = calloc(rl->max_entries, sizeof(*rl->entries));
	rl->buckets = calloc(rl->nbuckets, sizeof(*rl->buckets));
	if (rl->entries == NULL || rl->buckets == NULL) {
		ratelimiter_destroy(rl);
		return -1;
	}
	/*
	 * Entries are taken in index order the first time (rl->used), so
	 * the table's pages are touched only as sources come: the two
	 * tables of the forwarder are 8192 entries each.
	 */
	rl->free_head = 0;
	rl->used = 0;
	randombytes_buf(rl->hash_key, sizeof(rl->hash_key));
	return 0;
}

void
ratelimiter_destroy(struct ratelimiter *rl)
{
	free(rl->entries);
	free(rl->buckets);
	sodium_memzero(rl, sizeof(*rl));
}

int
ratelimiter_allow(struct ratelimiter *rl, const struct sockaddr *src,
    uint64_t now_ms)
{
	struct ratelimiter_entry	*e;
	uint8_t				 key[9];
	uint32_t			 b, i;
	uint64_t			 tokens;

	if (rl->entries == NULL || ratelimiter_key(key, src) != 0)
		return 0;
	b = ratelimiter_bucket(rl, key);

	for (i = rl->buckets[b]; i != 0; i = e->next) {
		e = &rl->entries[i - 1];
		if (memcmp(e->key, key, sizeof(key)) != 0)
			continue;
		tokens = e->tokens;
		if (now_ms > e->last_ms)
			tokens += now_ms - e->last_ms;
		if (tokens > TOKEN_MAX)
			tokens = TOKEN_MAX;
		if (now_ms > e->last_ms)
			e->last_ms = now_ms;
		if (tokens >= PACKET_COST) {
			e->tokens = tokens - PACKET_COST;
			return 1;
		}
		e->tokens = tokens;
		return 0;
	}

	/* A new source: refuse it when the table is full. */
	if (rl->free_head != 0) {
		i = rl->free_head;
		e = &rl->entries[i - 1];
		rl->free_head = e->next;
	} else if (rl->used < rl->max_entries) {
		i = ++rl->used;
		e = &rl->entries[i - 1];
	} else
		return 0;
	memcpy(e->key, key, sizeof(key));
	e->last_ms = now_ms;
	e->tokens = TOKEN_MAX - PACKET_COST;
	e->next = rl->buckets[b];
	rl->buckets[b] = i;
	rl->count++;
	return 1;
}

void
ratelimiter_gc(struct ratelimiter *rl, uint64_t now_ms)
{
	struct ratelimiter_entry	*e;
	uint32_t			*link, b, i;

	/*
	 * Nothing to expire: no walk. The buckets are 32 KiB at the
	 * default size, and an idle forwarder runs this once a second,
	 * often in the wakeup of a packet whose caches it would empty.
	 */
	if (rl->entries == NULL || rl->count == 0)
		return;
	for (b = 0; b < rl->nbuckets; b++) {
		link = &rl->buckets[b];
		while ((i = *link) != 0) {
			e = &rl->entries[i - 1];
			if (now_ms > e->last_ms &&
			    now_ms - e->last_ms > RATELIMITER_ENTRY_TIMEOUT_MS) {
				*link = e->next;
				memset(e, 0, sizeof(*e));
				e->next = rl->free_head;
				rl->free_head = i;
				rl->count--;
			} else
				link = &e->next;
		}
	}
}

size_t
ratelimiter_count(const struct ratelimiter *rl)
{
	return rl->count;
}

int
ratelimiter_full(const struct ratelimiter *rl)
{
	/* No entry freed to reuse, and none left untouched. */
	return rl->entries != NULL && rl->free_head == 0 &&
	    rl->used >= rl->max_entries;
}
