/*
 * test_imsg.c: the status check receivers apply to a sibling's result
 * (imsg_status_ok): 0 and -errno pass; INT32_MIN (whose negation for
 * strerror overflowed in the parent, found by fuzz_imsg_parent),
 * positive values and values below -4095 do not.
 */
#include <errno.h>
#include <stdint.h>

#include "imsg.h"
#include "test.h"

int
main(void)
{
	CHECK(imsg_status_ok(0), "0");
	CHECK(imsg_status_ok(-EINVAL), "-EINVAL");
	CHECK(imsg_status_ok(-4095), "-4095 (MAX_ERRNO)");
	CHECK(!imsg_status_ok(-4096), "-4096");
	CHECK(!imsg_status_ok(INT32_MIN), "INT32_MIN");
	CHECK(!imsg_status_ok(INT32_MIN + 1), "INT32_MIN + 1");
	CHECK(!imsg_status_ok(1), "1");
	CHECK(!imsg_status_ok(EINVAL), "EINVAL (positive)");
	CHECK(!imsg_status_ok(INT32_MAX), "INT32_MAX");
	return test_done();
}
