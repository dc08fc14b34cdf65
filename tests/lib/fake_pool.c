/*
 * fake_pool.c: fwd_buf_get, fwd_buf_ref and fwd_buf_put for the tests
 * and fuzz targets of fwd_offload.c, which reaches the pool
 * (netd/fwd_pool.c) only through them. Unlike the pool's one mapping,
 * every buffer here is its own allocation of exactly FWD_BUF_SIZE
 * bytes, released when its last ref goes, so a write past a buffer's
 * end (into what would be the next buffer of the real pool) or a use
 * after the last put is seen: by ASan's redzones in a sanitizer build,
 * otherwise by inaccessible guard pages on both sides of the buffer
 * (SIGSEGV).
 */
#include <sys/mman.h>

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "fake_pool.h"

#if defined(__SANITIZE_ADDRESS__)
#define FAKE_POOL_ASAN	1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FAKE_POOL_ASAN	1
#endif
#endif

static unsigned	fp_limit, fp_out;
static uint16_t	fp_ids;

void
fake_pool_limit(unsigned n)
{
	fp_limit = n;
}

unsigned
fake_pool_out(void)
{
	return fp_out;
}

#ifdef FAKE_POOL_ASAN
#include <sanitizer/asan_interface.h>

/*
 * Released buffers are kept for reuse (a fresh 68 KiB allocation costs
 * more than the packet work), poisoned until then so a use after
 * release is still a report; the allocation's own redzone stays behind
 * each.
 */
static uint8_t	*fp_cache[64];
static unsigned	 fp_ncache;

static uint8_t *
fp_alloc(void)
{
	uint8_t	*p;

	if (fp_ncache > 0) {
		p = fp_cache[--fp_ncache];
		ASAN_UNPOISON_MEMORY_REGION(p, FWD_BUF_SIZE);
		return p;
	}
	return aligned_alloc(64, FWD_BUF_SIZE);
}

static void
fp_free(uint8_t *p)
{
	if (fp_ncache < 64) {
		ASAN_POISON_MEMORY_REGION(p, FWD_BUF_SIZE);
		fp_cache[fp_ncache++] = p;
		return;
	}
	free(p);
}
#else
/*
 * Released buffers are kept for reuse: fresh mappings (or ones made
 * inaccessible in between) cost a page fault a page. Uses after release
 * are the sanitizer build's to see.
 */
static uint8_t	*fp_cache[64];
static unsigned	 fp_ncache;

/* The buffer ends where the trailing guard page starts. */
static size_t
fp_span(size_t *page)
{
	*page = (size_t)sysconf(_SC_PAGESIZE);
	return (FWD_BUF_SIZE + *page - 1) / *page * *page;
}

static uint8_t *
fp_alloc(void)
{
	size_t	 page, span = fp_span(&page);
	uint8_t	*m;

	if (fp_ncache > 0)
		return fp_cache[--fp_ncache] + page + (span - FWD_BUF_SIZE);
	if ((m = mmap(NULL, span + 2 * page, PROT_NONE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)) == MAP_FAILED)
		return NULL;
	if (mprotect(m + page, span, PROT_READ | PROT_WRITE) == -1) {
		munmap(m, span + 2 * page);
		return NULL;
	}
	return m + page + (span - FWD_BUF_SIZE);
}

static void
fp_free(uint8_t *p)
{
	size_t	page, span = fp_span(&page);
	uint8_t	*m = p - (span - FWD_BUF_SIZE) - page;

	if (fp_ncache < 64) {
		fp_cache[fp_ncache++] = m;
		return;
	}
	munmap(m, span + 2 * page);
}
#endif

struct fwd_buf *
fwd_buf_get(void)
{
	struct fwd_buf	*b;

	if (fp_limit != 0 && fp_out >= fp_limit)
		return NULL;
	if ((b = calloc(1, sizeof(*b))) == NULL ||
	    (b->base = fp_alloc()) == NULL) {
		perror("fake pool");
		abort();
	}
	b->refs = 1;
	b->off = FWD_HEADROOM;
	b->id = fp_ids++;
	fp_out++;
	return b;
}

void
fwd_buf_ref(struct fwd_buf *b)
{
	if (b->refs == 0 || b->refs == UINT16_MAX) {
		fprintf(stderr, "fake pool: ref of buffer %u at %u refs\n",
		    b->id, b->refs);
		abort();
	}
	b->refs++;
}

void
fwd_buf_put(struct fwd_buf *b)
{
	if (b == NULL)
		return;
	if (b->refs == 0) {
		fprintf(stderr, "fake pool: buffer %u freed twice\n", b->id);
		abort();
	}
	if (--b->refs > 0)
		return;
	fp_free(b->base);
	free(b);
	fp_out--;
}
