/*
 * test.h: the unit tests' tiny harness. Each test file calls CHECK()
 * for every assertion and ends main() with "return test_done();", which
 * prints the closing line "N passed, N failed" that tests/run.sh sums.
 */
#ifndef WGCARD_TEST_H
#define WGCARD_TEST_H

#include <stdio.h>
#include <string.h>

static int test_passed, test_failed;

#define CHECK(cond, ...) do {						\
	if (cond) {							\
		test_passed++;						\
	} else {							\
		test_failed++;						\
		fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);	\
		fprintf(stderr, __VA_ARGS__);				\
		fputc('\n', stderr);					\
	}								\
} while (0)

#define CHECK_MEM(a, b, n, ...)	CHECK(memcmp((a), (b), (n)) == 0, __VA_ARGS__)

static inline int
test_done(void)
{
	printf("%d passed, %d failed\n", test_passed, test_failed);
	return test_failed ? 1 : 0;
}

#endif /* WGCARD_TEST_H */
