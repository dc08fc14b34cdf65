/*
 * allowedips.c: the allowed-IPs table, a path-compressed binary trie per
 * address family. Every node holds a prefix (key masked to cidr bits);
 * nodes without an owner are glue joining two subtrees. Addresses are
 * kept as two host-order 64-bit words (IPv4 in the top 32 bits of the
 * first), so matching a node is two masked compares (the mask made from
 * its cidr: a node is 72 bytes, two per prefix at most, in both the
 * handshake process and the forwarder).
 *
 * Lookup allocates nothing and takes no lock: the forwarder owns its
 * table. Each owner has a list of its nodes (in insertion order) found
 * through a small hash table, so walking or removing one owner's
 * prefixes costs only that owner's prefixes.
 */
#include <sys/socket.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "allowedips.h"

struct aip_owner;

/* What lookup reads comes first. */
struct aip_node {
	uint64_t		 key[2];	/* masked to cidr */
	struct aip_node		*child[2];
	struct aip_node		*parent;
	struct aip_owner	*oent;		/* NULL for glue nodes */
	struct aip_node		*lnext;		/* the owner's list */
	struct aip_node		*lprev;
	uint8_t			 cidr;
	uint8_t			 family;
};

struct aip_owner {
	void			*owner;
	struct aip_node		*head, *tail;
	struct aip_owner	*hnext;		/* hash chain */
};

struct aip_table {
	struct aip_node		*root4, *root6;
	struct aip_owner	**buckets;
	size_t			 nbuckets;	/* a power of two */
	size_t			 nowners;
	size_t			 count;		/* prefixes with an owner */
};

static int
aip_maxbits(int family)
{
	if (family == AF_INET)
		return 32;
	if (family == AF_INET6)
		return 128;
	return -1;
}

static struct aip_node **
aip_root(struct aip_table *t, int family)
{
	return family == AF_INET ? &t->root4 : &t->root6;
}

static inline uint64_t
aip_load64(const uint8_t *p)
{
	return (uint64_t)p[0] << 56 | (uint64_t)p[1] << 48 |
	    (uint64_t)p[2] << 40 | (uint64_t)p[3] << 32 |
	    (uint64_t)p[4] << 24 | (uint64_t)p[5] << 16 |
	    (uint64_t)p[6] << 8 | (uint64_t)p[7];
}

static inline void
aip_store64(uint8_t *p, uint64_t v)
{
	int	i;

	for (i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (56 - 8 * i));
}

static inline void
aip_addr_to_key(uint64_t key[2], int family, const uint8_t *addr)
{
	if (family == AF_INET) {
		key[0] = ((uint64_t)addr[0] << 24 | (uint64_t)addr[1] << 16 |
		    (uint64_t)addr[2] << 8 | addr[3]) << 32;
		key[1] = 0;
	} else {
		key[0] = aip_load64(addr);
		key[1] = aip_load64(addr + 8);
	}
}

static void
aip_cidr_mask(uint64_t mask[2], unsigned int cidr)
{
	mask[0] = cidr == 0 ? 0 : cidr >= 64 ? ~0ULL : ~0ULL << (64 - cidr);
	mask[1] = cidr <= 64 ? 0 : cidr >= 128 ? ~0ULL :
	    ~0ULL << (128 - cidr);
}

/* Bit b (0 = most significant) of a key. */
static inline unsigned int
aip_bit(const uint64_t key[2], unsigned int b)
{
	if (b < 64)
		return (key[0] >> (63 - b)) & 1;
	return (key[1] >> (127 - b)) & 1;
}

static inline int
aip_match(const struct aip_node *n, const uint64_t key[2])
{
	uint64_t	mask[2];

	aip_cidr_mask(mask, n->cidr);
	return (((key[0] ^ n->key[0]) & mask[0]) |
	    ((key[1] ^ n->key[1]) & mask[1])) == 0;
}

/* The number of leading bits two keys share. */
static unsigned int
aip_common_bits(const uint64_t a[2], const uint64_t b[2])
{
	uint64_t	x;

	if ((x = a[0] ^ b[0]) != 0)
		return (unsigned int)__builtin_clzll(x);
	if ((x = a[1] ^ b[1]) != 0)
		return 64 + (unsigned int)__builtin_clzll(x);
	return 128;
}

/* Where the tree points at n: its parent's child slot or the root. */
static struct aip_node **
aip_slot(struct aip_table *t, struct aip_node *n)
{
	if (n->parent == NULL)
		return aip_root(t, n->family);
	return &n->parent->child[aip_bit(n->key, n->parent->cidr)];
}

static struct aip_node *
aip_node_new(int family, const uint64_t key[2], unsigned int cidr)
{
	struct aip_node	*n;
	uint64_t	 mask[2];

	if ((n = malloc(sizeof(*n))) == NULL)
		return NULL;
	memset(n, 0, sizeof(*n));
	aip_cidr_mask(mask, cidr);
	n->key[0] = key[0] & mask[0];
	n->key[1] = key[1] & mask[1];
	n->cidr = (uint8_t)cidr;
	n->family = (uint8_t)family;
	return n;
}

/* Owner entries. */

static size_t
aip_hash(const struct aip_table *t, const void *owner)
{
	uint64_t	h = (uint64_t)(uintptr_t)owner;

	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return (size_t)h & (t->nbuckets - 1);
}

static struct aip_owner *
aip_owner_find(const struct aip_table *t, const void *owner)
{
	struct aip_owner	*o;

	for (o = t->buckets[aip_hash(t, owner)]; o != NULL; o = o->hnext)
		if (o->owner == owner)
			return o;
	return NULL;
}

static int
aip_owner_grow(struct aip_table *t)
{
	struct aip_owner	**nb, **ob, *o, *next;
	size_t			  on, i, h;

	on = t->nbuckets;
	if ((nb = calloc(on * 2, sizeof(*nb))) == NULL)
		return -1;
	ob = t->buckets;
	t->buckets = nb;
	t->nbuckets = on * 2;
	for (i = 0; i < on; i++) {
		for (o = ob[i]; o != NULL; o = next) {
			next = o->hnext;
			h = aip_hash(t, o->owner);
			o->hnext = nb[h];
			nb[h] = o;
		}
	}
	free(ob);
	return 0;
}

static struct aip_owner *
aip_owner_get(struct aip_table *t, void *owner)
{
	struct aip_owner	*o;
	size_t			 h;

	if ((o = aip_owner_find(t, owner)) != NULL)
		return o;
	if (t->nowners >= t->nbuckets && aip_owner_grow(t) == -1)
		return NULL;
	if ((o = calloc(1, sizeof(*o))) == NULL)
		return NULL;
	o->owner = owner;
	h = aip_hash(t, owner);
	o->hnext = t->buckets[h];
	t->buckets[h] = o;
	t->nowners++;
	return o;
}

static void
aip_owner_drop(struct aip_table *t, struct aip_owner *o)
{
	struct aip_owner	**pp;

	for (pp = &t->buckets[aip_hash(t, o->owner)]; *pp != NULL;
	    pp = &(*pp)->hnext) {
		if (*pp == o) {
			*pp = o->hnext;
			break;
		}
	}
	t->nowners--;
	free(o);
}

static void
aip_list_append(struct aip_owner *o, struct aip_node *n)
{
	n->oent = o;
	n->lnext = NULL;
	n->lprev = o->tail;
	if (o->tail != NULL)
		o->tail->lnext = n;
	else
		o->head = n;
	o->tail = n;
}

/* Takes n off its owner's list; the caller drops an emptied entry. */
static void
aip_list_unlink(struct aip_node *n)
{
	struct aip_owner	*o = n->oent;

	if (n->lprev != NULL)
		n->lprev->lnext = n->lnext;
	else
		o->head = n->lnext;
	if (n->lnext != NULL)
		n->lnext->lprev = n->lprev;
	else
		o->tail = n->lprev;
	n->lnext = n->lprev = NULL;
	n->oent = NULL;
}

/*
 * n has just lost its owner: free it and any glue left with fewer
 * than two children, splicing a single child into its place.
 */
static void
aip_node_release(struct aip_table *t, struct aip_node *n)
{
	struct aip_node	*child, *parent;

	while (n != NULL && n->oent == NULL) {
		if (n->child[0] != NULL && n->child[1] != NULL)
			break;
		child = n->child[0] != NULL ? n->child[0] : n->child[1];
		parent = n->parent;
		*aip_slot(t, n) = child;
		if (child != NULL)
			child->parent = parent;
		free(n);
		if (child != NULL)
			break;
		n = parent;
	}
}

struct aip_table *
aip_new(void)
{
	struct aip_table	*t;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	t->nbuckets = 16;
	if ((t->buckets = calloc(t->nbuckets, sizeof(*t->buckets))) == NULL) {
		free(t);
		return NULL;
	}
	return t;
}

static void
aip_free_tree(struct aip_node *n)
{
	struct aip_node	*next;

	/* Iterative post-order using the parent pointers. */
	while (n != NULL) {
		if (n->child[0] != NULL) {
			next = n->child[0];
			n->child[0] = NULL;
			n = next;
		} else if (n->child[1] != NULL) {
			next = n->child[1];
			n->child[1] = NULL;
			n = next;
		} else {
			next = n->parent;
			free(n);
			n = next;
		}
	}
}

void
aip_free(struct aip_table *t)
{
	struct aip_owner	*o, *next;
	size_t			 i;

	if (t == NULL)
		return;
	aip_free_tree(t->root4);
	aip_free_tree(t->root6);
	for (i = 0; i < t->nbuckets; i++) {
		for (o = t->buckets[i]; o != NULL; o = next) {
			next = o->hnext;
			free(o);
		}
	}
	free(t->buckets);
	free(t);
}

/* Gives n (new or existing) to owner, moving it from any other owner. */
static int
aip_node_set_owner(struct aip_table *t, struct aip_node *n, void *owner)
{
	struct aip_owner	*o, *old;

	if (n->oent != NULL && n->oent->owner == owner)
		return 0;
	if ((o = aip_owner_get(t, owner)) == NULL)
		return -1;
	if ((old = n->oent) != NULL) {
		aip_list_unlink(n);
		if (old->head == NULL)
			aip_owner_drop(t, old);
	} else
		t->count++;
	aip_list_append(o, n);
	return 0;
}

int
aip_insert(struct aip_table *t, int family, const uint8_t *addr,
    uint8_t cidr, void *owner)
{
	struct aip_node	**slot, *n, *nn, *glue, *parent = NULL;
	uint64_t	  key[2], mask[2];
	unsigned int	  common;
	int		  maxbits;

	maxbits = aip_maxbits(family);
	if (maxbits < 0 || cidr > maxbits || owner == NULL || addr == NULL) {
		errno = EINVAL;
		return -1;
	}
	aip_addr_to_key(key, family, addr);
	aip_cidr_mask(mask, cidr);
	key[0] &= mask[0];
	key[1] &= mask[1];

	slot = aip_root(t, family);
	for (;;) {
		n = *slot;
		if (n == NULL) {
			/* An empty slot: the prefix hangs here. */
			if ((nn = aip_node_new(family, key, cidr)) == NULL)
				return -1;
			if (aip_node_set_owner(t, nn, owner) == -1) {
				free(nn);
				return -1;
			}
			nn->parent = parent;
			*slot = nn;
			return 0;
		}
		common = aip_common_bits(key, n->key);
		if (common > n->cidr)
			common = n->cidr;
		if (common > cidr)
			common = cidr;
		if (common == n->cidr && n->cidr == cidr)
			return aip_node_set_owner(t, n, owner);
		if (common == n->cidr) {
			/* n's prefix covers ours: descend. */
			parent = n;
			slot = &n->child[aip_bit(key, n->cidr)];
			continue;
		}
		/* The paths part (or ours ends) above n. */
		if ((nn = aip_node_new(family, key, cidr)) == NULL)
			return -1;
		if (common == cidr) {
			/* Ours is a prefix of n's: it becomes n's parent. */
			nn->child[aip_bit(n->key, cidr)] = n;
			nn->parent = parent;
			n->parent = nn;
			if (aip_node_set_owner(t, nn, owner) == -1) {
				n->parent = parent;
				free(nn);
				return -1;
			}
			*slot = nn;
			return 0;
		}
		/* Siblings under a new glue node at the common prefix. */
		if ((glue = aip_node_new(family, key, common)) == NULL) {
			free(nn);
			return -1;
		}
		if (aip_node_set_owner(t, nn, owner) == -1) {
			free(nn);
			free(glue);
			return -1;
		}
		glue->child[aip_bit(key, common)] = nn;
		glue->child[aip_bit(n->key, common)] = n;
		glue->parent = parent;
		nn->parent = glue;
		n->parent = glue;
		*slot = glue;
		return 0;
	}
}

/* The node holding exactly this (masked) prefix, or NULL. */
static struct aip_node *
aip_find_exact(struct aip_table *t, int family, const uint64_t key[2],
    unsigned int cidr)
{
	struct aip_node	*n = *aip_root(t, family);

	while (n != NULL && n->cidr <= cidr && aip_match(n, key)) {
		if (n->cidr == cidr)
			return n;
		n = n->child[aip_bit(key, n->cidr)];
	}
	return NULL;
}

int
aip_remove(struct aip_table *t, int family, const uint8_t *addr,
    uint8_t cidr, void *owner)
{
	struct aip_node		*n;
	struct aip_owner	*o;
	uint64_t		 key[2], mask[2];
	int			 maxbits;

	maxbits = aip_maxbits(family);
	if (maxbits < 0 || cidr > maxbits || addr == NULL)
		return -1;
	aip_addr_to_key(key, family, addr);
	aip_cidr_mask(mask, cidr);
	key[0] &= mask[0];
	key[1] &= mask[1];
	n = aip_find_exact(t, family, key, cidr);
	if (n == NULL || n->oent == NULL || n->oent->owner != owner)
		return -1;
	o = n->oent;
	aip_list_unlink(n);
	if (o->head == NULL)
		aip_owner_drop(t, o);
	t->count--;
	aip_node_release(t, n);
	return 0;
}

void
aip_remove_owner(struct aip_table *t, void *owner)
{
	struct aip_owner	*o;
	struct aip_node		*n, *next;

	if (owner == NULL || (o = aip_owner_find(t, owner)) == NULL)
		return;
	for (n = o->head; n != NULL; n = next) {
		next = n->lnext;
		n->lnext = n->lprev = NULL;
		n->oent = NULL;
		t->count--;
		aip_node_release(t, n);
	}
	o->head = o->tail = NULL;
	aip_owner_drop(t, o);
}

void *
aip_lookup(const struct aip_table *t, int family, const uint8_t *addr)
{
	const struct aip_node	*n;
	const struct aip_owner	*best = NULL;
	uint64_t		 key[2];
	unsigned int		 maxbits;

	if (family == AF_INET) {
		n = t->root4;
		maxbits = 32;
	} else if (family == AF_INET6) {
		n = t->root6;
		maxbits = 128;
	} else
		return NULL;
	aip_addr_to_key(key, family, addr);
	while (n != NULL && aip_match(n, key)) {
		if (n->oent != NULL)
			best = n->oent;
		if (n->cidr == maxbits)
			break;
		n = n->child[aip_bit(key, n->cidr)];
	}
	return best != NULL ? best->owner : NULL;
}

void
aip_walk_owner(const struct aip_table *t, void *owner,
    void (*fn)(int family, const uint8_t *addr, uint8_t cidr, void *arg),
    void *arg)
{
	const struct aip_owner	*o;
	const struct aip_node	*n;
	uint8_t			 addr[16];

	if (owner == NULL || (o = aip_owner_find(t, owner)) == NULL)
		return;
	for (n = o->head; n != NULL; n = n->lnext) {
		aip_store64(addr, n->key[0]);
		aip_store64(addr + 8, n->key[1]);
		fn(n->family, addr, n->cidr, arg);
	}
}

size_t
aip_count(const struct aip_table *t)
{
	return t->count;
}
