/*
 * test_proc.c: proc_wipe_stack zeroes what a deeper call left on the
 * stack, and makes no untouched page of it resident; proc_trim drops
 * resident pages of the read-only segments of the loaded objects.
 */
#include <sys/mman.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "proc.h"
#include "test.h"

#define FILL_LEN	(64 * 1024)
#define FILL_BYTE	0xa5
#define FILL_WORD	0xa5a5a5a5a5a5a5a5ULL

/* What a deeper call leaves behind (on the real stack, not ASan's). */
static __attribute__((noinline, no_sanitize("address"))) uintptr_t
fill(void)
{
	volatile uint8_t	area[FILL_LEN];
	size_t			i;

	for (i = 0; i < sizeof(area); i++)
		area[i] = FILL_BYTE;
	return (uintptr_t)area;
}

/*
 * Whole 8-byte words of the fill left at at: a return address or a saved
 * register of a later call may hold a byte 0xa5 by chance (ASLR's random
 * bits: 1-3 % of runs counted a few such bytes), never eight in a row.
 */
static __attribute__((noinline, no_sanitize("address"))) size_t
count(uintptr_t at)
{
	const volatile uint64_t	*p = (const volatile uint64_t *)at;
	size_t			 i, n = 0;

	for (i = 0; i < FILL_LEN / sizeof(*p); i++)
		n += p[i] == FILL_WORD;
	return n * sizeof(*p);
}

/* Is the page at addr resident? -1: not mapped. */
static int
resident(uintptr_t addr)
{
	uintptr_t	pg = (uintptr_t)sysconf(_SC_PAGESIZE);
	unsigned char	vec;

	if (mincore((void *)(addr & ~(pg - 1)), pg, &vec) == -1)
		return -1;
	return vec & 1;
}

/* kB resident in the read-only file mappings (read whole first). */
static long
ro_file_rss(void)
{
	static char	text[1 << 20];
	char		*line, *save, perms[5];
	FILE		*f;
	size_t		 n;
	long		 rss = 0, kb;
	int		 ro = 0;

	if ((f = fopen("/proc/self/smaps", "r")) == NULL)
		return -1;
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	for (line = strtok_r(text, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		if (sscanf(line, "%*x-%*x %4s", perms) == 1 &&
		    strchr(line, '/') != NULL)
			ro = perms[1] == '-';
		else if (sscanf(line, "%*x-%*x %4s", perms) == 1)
			ro = 0;
		else if (ro && sscanf(line, "Rss: %ld kB", &kb) == 1)
			rss += kb;
	}
	return rss;
}

int
main(void)
{
	volatile uint8_t	here;
	uintptr_t		at, deep;
	int			before;

	/* Without a wipe what fill wrote is still there (the check can fail). */
	at = fill();
	CHECK(count(at) == FILL_LEN, "the filled area is not where it was "
	    "(%zu of %d bytes)", count(at), FILL_LEN);
	at = fill();
	proc_wipe_stack();
	CHECK(count(at) == 0, "%zu bytes left after the wipe", count(at));

	/* 200 KiB down, below anything this test touched. */
	deep = (uintptr_t)&here - 200 * 1024;
	before = resident(deep);
	CHECK(before != 1, "the page 200 KiB down is resident before the wipe");
	proc_wipe_stack();
	CHECK(resident(deep) == before, "the wipe made an untouched page "
	    "resident (%d -> %d)", before, resident(deep));

	/* What start-up faulted in goes; what runs after comes back. */
	{
		long	kb_before = ro_file_rss(), kb_after;

		proc_trim();
		kb_after = ro_file_rss();
		CHECK(kb_before > 0 && kb_after >= 0 && kb_after < kb_before,
		    "read-only file pages: %ld kB before the trim, %ld after",
		    kb_before, kb_after);
	}
	return test_done();
}
