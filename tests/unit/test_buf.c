/*
 * test_buf.c: the growable buffer keeps its text across growth, wipes
 * what was written, and leaves a large block's unwritten pages alone
 * (buf_expect, buf_reset, buf_free).
 */
#include <sys/mman.h>

#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "buf.h"
#include "test.h"

#define BIG	(4 * 1024 * 1024)

/* Resident pages of [p, p + len). */
static size_t
resident(const void *p, size_t len)
{
	uintptr_t	 pg = (uintptr_t)sysconf(_SC_PAGESIZE);
	uintptr_t	 lo = (uintptr_t)p & ~(pg - 1);
	size_t		 n = ((uintptr_t)p + len - lo + pg - 1) / pg, i, r = 0;
	unsigned char	*vec;

	if ((vec = malloc(n)) == NULL || mincore((void *)lo, n * pg, vec) == -1) {
		free(vec);
		return (size_t)-1;
	}
	for (i = 0; i < n; i++)
		r += vec[i] & 1;
	free(vec);
	return r;
}

int
main(void)
{
	struct buf	 b;
	char		*at;
	size_t		 i, nz;
	int		 bad = 0;

	buf_init(&b);
	for (i = 0; i < 10000; i++)
		bad |= buf_printf(&b, "line %zu\n", i) == -1;
	CHECK(!bad && b.len == 98890 && memcmp(b.data + b.len - 10,
	    "line 9999\n", 10) == 0, "text lost in growth (len %zu)", b.len);
	buf_free(&b);
	CHECK(b.data == NULL && b.len == 0 && b.cap == 0 && b.used == 0,
	    "a freed buffer is not empty");

	/* Room ahead: one block, no copy however it fills. */
	CHECK(buf_expect(&b, BIG) == 0 && b.cap > BIG, "buf_expect failed");
	at = b.data;
	for (i = 0; i < 1000 && !bad; i++)
		bad |= buf_append(&b, "0123456789", 10) == -1;
	CHECK(!bad && b.data == at && b.len == 10000,
	    "the expected block moved (or len %zu)", b.len);

	/* The wipe covers what was written, and no more. */
	buf_reset(&b);
	for (i = nz = 0; i < 10001; i++)
		nz += b.data[i] != 0;
	CHECK(nz == 0, "%zu written bytes left after the reset", nz);
	CHECK(b.data == at && b.len == 0, "the reset gave the block up");
	i = resident(b.data, b.cap);
	CHECK(i != (size_t)-1 && i <= 4, "%zu pages of the %d MiB block "
	    "resident after a wipe of 10000 bytes", i, BIG >> 20);
	CHECK(buf_printf(&b, "%s=%d\n", "a", 1) == 0 &&
	    strcmp(b.data, "a=1\n") == 0, "no text after the reset");
	buf_free(&b);
	return test_done();
}
