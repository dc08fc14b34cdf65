/*
 * allowedips.h: longest-prefix-match trie mapping IPv4/IPv6 prefixes to
 * an opaque owner (a peer). One prefix has one owner: inserting a prefix
 * that another owner holds moves it. Used for both routing (destination
 * -> peer) and the source check of decrypted packets.
 */
#ifndef WGCARD_ALLOWEDIPS_H
#define WGCARD_ALLOWEDIPS_H

#include <stddef.h>
#include <stdint.h>

struct aip_table;

struct aip_table	*aip_new(void);
void			 aip_free(struct aip_table *);
/* addr is 4 or 16 network-order bytes; bits past cidr are ignored
 * (masked off on insert). Returns 0 or -1 (ENOMEM, bad cidr). */
int	aip_insert(struct aip_table *, int family, const uint8_t *addr,
	    uint8_t cidr, void *owner);
/* Removes the exact prefix if owner holds it; 0 if removed, -1 if not. */
int	aip_remove(struct aip_table *, int family, const uint8_t *addr,
	    uint8_t cidr, void *owner);
/* Removes every prefix of owner. */
void	aip_remove_owner(struct aip_table *, void *owner);
/* Longest match for a full address, or NULL. */
void	*aip_lookup(const struct aip_table *, int family, const uint8_t *addr);
/* Calls fn for every prefix of owner, in a stable order. */
void	aip_walk_owner(const struct aip_table *, void *owner,
	    void (*fn)(int family, const uint8_t *addr, uint8_t cidr,
	    void *arg), void *arg);
size_t	aip_count(const struct aip_table *);

#endif /* WGCARD_ALLOWEDIPS_H */
