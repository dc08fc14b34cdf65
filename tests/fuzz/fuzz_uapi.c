/*
 * fuzz_uapi.c: libFuzzer target for uapi_parse_set() on arbitrary
 * bytes. What parses must format back to text that parses to the same
 * change set (and formats to the same text again).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "uapi.h"
#include "wgconf.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wg_devconf	a, b;
	struct buf		t1, t2;
	char			err[256];

	if (uapi_parse_set((const char *)data, size, &a, err,
	    sizeof(err)) != 0) {
		/* Errors leave an empty change set and one line. */
		if (a.npeers != 0 || a.flags != 0 || a.peers != NULL ||
		    err[0] == '\0' || strchr(err, '\n') != NULL)
			abort();
		wgconf_free(&a);
		return 0;
	}
	buf_init(&t1);
	buf_init(&t2);
	if (uapi_format_set(&a, &t1, 1) != 0)
		abort();
	if (uapi_parse_set(t1.data ? t1.data : "", t1.len, &b, err,
	    sizeof(err)) != 0)
		abort();
	if (uapi_format_set(&b, &t2, 1) != 0 || t1.len != t2.len ||
	    (t1.len > 0 && memcmp(t1.data, t2.data, t1.len) != 0))
		abort();
	if (a.flags != b.flags || a.npeers != b.npeers || a.port != b.port ||
	    a.fwmark != b.fwmark || memcmp(a.privkey, b.privkey, 32) != 0)
		abort();
	wgconf_free(&a);
	wgconf_free(&b);
	buf_free(&t1);
	buf_free(&t2);
	return 0;
}
