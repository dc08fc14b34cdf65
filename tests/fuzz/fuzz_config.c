/*
 * fuzz_config.c: libFuzzer target for config_parse_file(). Each input
 * is written to a temporary file of mode 0600 and parsed; what parses
 * must also survive the UAPI round trip the parent uses to hand the
 * configuration to the handshake process.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <dlfcn.h>
#include <fcntl.h>
#include <netdb.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "uapi.h"
#include "wgconf.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/*
 * Endpoint names must never reach DNS from the fuzzer: every lookup is
 * made numeric.
 */
int
getaddrinfo(const char *host, const char *serv, const struct addrinfo *hints,
    struct addrinfo **res)
{
	int		(*real)(const char *, const char *,
			    const struct addrinfo *, struct addrinfo **);
	struct addrinfo	h;

	real = (int (*)(const char *, const char *, const struct addrinfo *,
	    struct addrinfo **))dlsym(RTLD_NEXT, "getaddrinfo");
	if (real == NULL)
		return EAI_FAIL;
	memset(&h, 0, sizeof(h));
	if (hints != NULL)
		h = *hints;
	h.ai_flags |= AI_NUMERICHOST;
	return real(host, serv, &h, res);
}

static char	path[64];

static void
fuzz_cleanup(void)
{
	unlink(path);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wg_devconf	a, b;
	struct config_extra	x;
	struct buf		t;
	char			err[CONFIG_ERR_MAX];
	int			fd;

	if (path[0] == '\0') {
		snprintf(path, sizeof(path), "/tmp/fuzz_config.%ld.conf",
		    (long)getpid());
		atexit(fuzz_cleanup);
	}
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1)
		abort();
	if (size > 0 && write(fd, data, size) != (ssize_t)size)
		abort();
	close(fd);

	if (config_parse_file(path, &a, &x, err, sizeof(err)) != 0) {
		if (a.npeers != 0 || a.flags != 0 || a.naddrs != 0 ||
		    err[0] == '\0' || strchr(err, '\n') != NULL)
			abort();
		wgconf_free(&a);
		config_extra_free(&x);
		return 0;
	}
	buf_init(&t);
	if (uapi_format_set(&a, &t, 1) != 0)
		abort();
	if (uapi_parse_set(t.data ? t.data : "", t.len, &b, err,
	    sizeof(err)) != 0)
		abort();
	if (a.flags != b.flags || a.npeers != b.npeers ||
	    memcmp(a.privkey, b.privkey, 32) != 0)
		abort();
	wgconf_free(&a);
	wgconf_free(&b);
	config_extra_free(&x);
	buf_free(&t);
	return 0;
}
