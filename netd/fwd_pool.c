/*
 * fwd_pool.c: the forwarder's packet buffers (see fwd_pool.h). One
 * mapping of FWD_BUF_SIZE-byte buffers, populated at start and never
 * grown; a free list; reference counts for a buffer that several
 * packets (segments of one read) or queues (a TUN write and a held GRO
 * packet) share.
 */
#include <sys/mman.h>

#include <stdlib.h>

#include "fwd_pool.h"
#include "log.h"

static struct {
	uint8_t		*base;
	size_t		 size;
	struct fwd_buf	*bufs;
	struct fwd_buf	*free;
	unsigned	 nbufs, nfree;
} pool;

void
fwd_pool_init(unsigned nbufs)
{
	unsigned	i;

	pool.nbufs = nbufs;
	pool.size = (size_t)nbufs * FWD_BUF_SIZE;
	/* Populated at once: no page fault on the fast path. */
	pool.base = mmap(NULL, pool.size, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (pool.base == MAP_FAILED)
		fatal("mmap packet pool");
	/* Packets are plaintext before encryption. */
	(void)madvise(pool.base, pool.size, MADV_DONTDUMP);
	if ((pool.bufs = calloc(nbufs, sizeof(*pool.bufs))) == NULL)
		fatal("calloc");
	for (i = nbufs; i-- > 0;) {
		pool.bufs[i].base = pool.base + (size_t)i * FWD_BUF_SIZE;
		pool.bufs[i].id = i;
		pool.bufs[i].next = pool.free;
		pool.free = &pool.bufs[i];
	}
	pool.nfree = nbufs;
}

struct fwd_buf *
fwd_buf_get(void)
{
	struct fwd_buf	*b;

	if ((b = pool.free) == NULL)
		return NULL;
	pool.free = b->next;
	pool.nfree--;
	b->next = NULL;
	b->refs = 1;
	b->off = FWD_HEADROOM;
	b->len = 0;
	return b;
}

void
fwd_buf_ref(struct fwd_buf *b)
{
	b->refs++;
}

void
fwd_buf_put(struct fwd_buf *b)
{
	if (b == NULL)
		return;
	if (b->refs == 0)
		fatalx("%s: buffer %u freed twice", __func__, b->id);
	if (--b->refs > 0)
		return;
	b->next = pool.free;
	pool.free = b;
	pool.nfree++;
}

struct fwd_buf *
fwd_buf_by_id(unsigned id)
{
	if (id >= pool.nbufs)
		fatalx("%s: bad buffer id %u", __func__, id);
	return &pool.bufs[id];
}

unsigned
fwd_buf_nfree(void)
{
	return pool.nfree;
}

unsigned
fwd_pool_nbufs(void)
{
	return pool.nbufs;
}

uint8_t *
fwd_pool_base(void)
{
	return pool.base;
}

size_t
fwd_pool_size(void)
{
	return pool.size;
}
