/*
 * fuzz_uapi.c: libFuzzer target for uapi_parse_set() on arbitrary
 * bytes. What parses must format back to text that parses to the same
 * change set (and formats to the same text again).
 *
 * The same bytes go to uapi_frame(), the socket protocol's framing, as
 * a client's stream: a request it counts is "get=1\n\n" or "set=1\n"
 * up to the first empty line, never more than it was given, and no
 * shorter piece of the stream is whole already; it waits for more only
 * while what came may still become a request.
 */
#include <sys/types.h>

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "uapi.h"
#include "wgconf.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* The first request of in (len bytes), checked against the rules. */
static ssize_t
fuzz_frame(const char *in, size_t len)
{
	const char	*end;
	ssize_t		 n, m;
	size_t		 i;

	if ((n = uapi_frame(NULL, in, len)) > (ssize_t)len || (n < 0 &&
	    n != -EINVAL))
		abort();
	if (n > 0 && !(n == 7 && memcmp(in, "get=1\n\n", 7) == 0) &&
	    (n < 7 || memcmp(in, "set=1\n", 6) != 0 ||
	    (end = memmem(in + 5, n - 5, "\n\n", 2)) == NULL ||
	    end + 2 != in + n))
		abort();
	/* Whole only once its last byte came (the start, and the end). */
	for (i = 1; n > 0 && i < (size_t)n; i++) {
		if (i == 8 && n > 10)
			i = n - 2;
		if ((m = uapi_frame(NULL, in, i)) != 0)
			abort();
	}
	if (n == 0 && len >= 16 && memchr(in, '\n', len) != NULL &&
	    memcmp(in, "set=1\n", 6) != 0 && memcmp(in, "get=1\n", 6) != 0)
		abort();
	return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wg_devconf	a, b;
	struct buf		t1, t2;
	char			err[256];
	const char		*in = (const char *)data;
	size_t			 off = 0;
	ssize_t			 n;

	/* The stream, request by request, as the server frames it. */
	while (off < size && (n = fuzz_frame(in + off, size - off)) > 0)
		off += n;

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
