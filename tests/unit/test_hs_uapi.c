/*
 * test_hs_uapi.c: the handshake process's UAPI answers, with the process
 * compiled in (netd/handshake.c: its state is static) and the test as
 * the parent, the key broker and the forwarder at the far ends of three
 * socketpairs and as UAPI clients on a listening socket it passes as the
 * parent does (IMSG_CFG_UAPI_FD).
 *
 * - A set that waits for the parent (listen_port) whose client leaves
 *   before the answer: the answer is that request's, never the next
 *   waiting client's (issue 13: the next one got it).
 * - The parent's configuration waiting behind a UAPI set: each gets its
 *   own answer, in order (IMSG_CFG_DONE for the configuration).
 * - wg setconf of 1000 peers with allowed IPs fits one request; a request
 *   longer than UAPI_MAX_REQUEST is answered with an error and closed.
 * - No more than UAPI_MAX_CLIENTS clients at once.
 */
#include "../../netd/handshake.c"

#include <sys/un.h>

#include <fcntl.h>

#include "test.h"

/* Reached only from handshake_main(): never here. */
void sandbox_handshake(void) { abort(); }

static struct imsgbuf	parent, keyd, fwd;
static char		sockpath[108];

static void
pump(int n)
{
	while (n-- > 0)
		event_loop(EVLOOP_NONBLOCK);
}

static void
channels(void)
{
	int	sp[3][2], i;

	for (i = 0; i < 3; i++)
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0,
		    sp[i]) == -1)
			abort();
	hs_chans_init(sp[0][0], sp[1][0], sp[2][0]);
	if (imsgbuf_init(&parent, sp[0][1]) == -1 ||
	    imsgbuf_init(&keyd, sp[1][1]) == -1 ||
	    imsgbuf_init(&fwd, sp[2][1]) == -1)
		abort();
}

/* The next message from the process to the parent of this type, or -1. */
static int
parent_next(uint32_t type, void *data, size_t len)
{
	struct imsg	imsg;
	int		r, i;

	for (i = 0; i < 50; i++) {
		pump(1);
		while ((r = imsg_recv(&parent, &imsg)) == 1) {
			if (imsg.type != type)
				continue;
			if (imsg.len != len)
				return -1;
			memcpy(data, imsg.data, len);
			return 0;
		}
		if (r < 0)
			return -1;
	}
	return -1;
}

static void
parent_send(uint32_t type, int fd, const void *data, size_t len)
{
	if (imsg_compose(&parent, type, 0, fd, data, len) == -1 ||
	    imsg_flush_blocking(&parent) == -1)
		abort();
	pump(3);
}

static int
client(void)
{
	struct sockaddr_un	sun;
	int			s;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	strlcpy(sun.sun_path, sockpath, sizeof(sun.sun_path));
	if ((s = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0)) == -1 ||
	    connect(s, (struct sockaddr *)&sun, sizeof(sun)) == -1)
		abort();
	pump(2);
	return s;
}

/* Sends all of req (the process reads meanwhile); 0, or -1 if closed. */
static int
client_send(int s, const char *req, size_t len)
{
	ssize_t	n;
	size_t	off = 0;
	int	idle = 0;

	while (off < len && idle < 1000) {
		n = send(s, req + off, len - off, MSG_NOSIGNAL);
		if (n > 0) {
			off += n;
			idle = 0;
		} else if (n == -1 && errno != EAGAIN)
			return -1;
		else
			idle++;
		pump(1);
	}
	pump(3);
	return off == len ? 0 : -1;
}

/* What the process answered s so far (a NUL-terminated copy). */
static char *
client_read(int s)
{
	static char	ans[1 << 16];
	size_t		len = 0;
	ssize_t		n;

	pump(3);
	while (len < sizeof(ans) - 1 &&
	    (n = read(s, ans + len, sizeof(ans) - 1 - len)) > 0)
		len += n;
	ans[len] = '\0';
	return ans;
}

static void
test_gone_client(void)
{
	struct priv_port	pp;
	uint16_t		port;
	const char		*ans;
	int			a, b;

	a = client();
	client_send(a, "set=1\nlisten_port=1111\n\n", 25);
	CHECK(parent_next(IMSG_PRIV_SET_PORT, &port, sizeof(port)) == 0 &&
	    port == 1111, "A's port goes to the parent");
	close(a);
	pump(3);
	b = client();
	client_send(b, "set=1\nlisten_port=2222\n\n", 25);
	CHECK(parent_next(IMSG_PRIV_SET_PORT, &port, sizeof(port)) == 0 &&
	    port == 2222, "B's port goes to the parent");
	/* A's answer: the port was taken. B must not get it. */
	memset(&pp, 0, sizeof(pp));
	pp.status = -EADDRINUSE;
	parent_send(IMSG_PRIV_PORT, -1, &pp, sizeof(pp));
	ans = client_read(b);
	CHECK(strcmp(ans, "") == 0,
	    "the gone client's answer is not B's: got \"%s\"", ans);
	pp.status = 0;
	pp.port = 2222;
	parent_send(IMSG_PRIV_PORT, -1, &pp, sizeof(pp));
	CHECK(strcmp(client_read(b), "errno=0\n\n") == 0, "B's own answer");
	CHECK(hs.port == 2222, "the port is B's: %u", hs.port);
	close(b);
	pump(3);
}

static void
test_config_behind_uapi(void)
{
	struct priv_port	pp;
	uint16_t		port;
	int32_t			status;
	uint32_t		sync = 0;
	const char		*cfg = "listen_port=4444\n";
	int			a;

	a = client();
	client_send(a, "set=1\nlisten_port=3333\n\n", 25);
	CHECK(parent_next(IMSG_PRIV_SET_PORT, &port, sizeof(port)) == 0 &&
	    port == 3333, "the UAPI set's port goes to the parent");
	parent_send(IMSG_CFG_CHUNK, -1, cfg, strlen(cfg));
	parent_send(IMSG_CFG_END, -1, &sync, sizeof(sync));
	CHECK(parent_next(IMSG_PRIV_SET_PORT, &port, sizeof(port)) == 0 &&
	    port == 4444, "the configuration's port goes to the parent");
	memset(&pp, 0, sizeof(pp));
	pp.status = -EACCES;
	parent_send(IMSG_PRIV_PORT, -1, &pp, sizeof(pp));
	CHECK(strcmp(client_read(a), "errno=-13\n\n") == 0,
	    "the UAPI set's answer is its own");
	pp.status = 0;
	pp.port = 4444;
	parent_send(IMSG_PRIV_PORT, -1, &pp, sizeof(pp));
	CHECK(parent_next(IMSG_CFG_DONE, &status, sizeof(status)) == 0 &&
	    status == 0, "the configuration's answer: IMSG_CFG_DONE 0");
	close(a);
	pump(3);
}

static void
test_limits(void)
{
	struct buf	 req;
	char		*big;
	int		 s[UAPI_MAX_CLIENTS + 1], i, j;

	/* wg setconf: 1000 peers, each with what wg(8) may send. */
	buf_init(&req);
	buf_printf(&req, "set=1\nreplace_peers=true\n");
	for (i = 0; i < 1000; i++) {
		buf_printf(&req, "public_key=%064x\npreshared_key=%064x\n"
		    "endpoint=[2001:db8::%x]:51820\n"
		    "persistent_keepalive_interval=25\n"
		    "replace_allowed_ips=true\n", i + 1, i + 1, i);
		for (j = 0; j < 8; j++)
			buf_printf(&req, "allowed_ip=10.%d.%d.%d/32\n",
			    i / 256, i % 256, j);
	}
	buf_printf(&req, "\n");
	log_info("1000 peers, 8 allowed IPs each: %zu bytes", req.len);
	s[0] = client();
	CHECK(client_send(s[0], req.data, req.len) == 0,
	    "1000 peers sent whole");
	CHECK(strcmp(client_read(s[0]), "errno=0\n\n") == 0 &&
	    hs.npeers == 1000, "1000 peers applied: %zu", hs.npeers);
	close(s[0]);
	buf_free(&req);

	if ((big = malloc(UAPI_MAX_REQUEST + 4096 + 16)) == NULL)
		abort();
	memcpy(big, "set=1\n", 6);
	for (i = 6; i < UAPI_MAX_REQUEST + 4096; i += 16)
		memcpy(big + i, "listen_port=1\n\0\0", 16);
	s[0] = client();
	client_send(s[0], big, UAPI_MAX_REQUEST + 4096);
	CHECK(strcmp(client_read(s[0]), "errno=-22\n\n") == 0,
	    "a request over the limit: an error");
	CHECK(read(s[0], big, 1) == 0, "and closed");
	close(s[0]);
	free(big);

	for (i = 0; i < UAPI_MAX_CLIENTS + 1; i++)
		s[i] = client();
	pump(3);
	CHECK(read(s[UAPI_MAX_CLIENTS], &i, 1) == 0,
	    "client %d over the cap is closed at once", UAPI_MAX_CLIENTS + 1);
	client_send(s[0], "get=1\n\n", 7);
	CHECK(strncmp(client_read(s[0]), "listen_port=", 12) == 0,
	    "the first ones are served");
	for (i = 0; i < UAPI_MAX_CLIENTS + 1; i++)
		close(s[i]);
	pump(3);
}

int
main(void)
{
	struct sockaddr_un	sun;
	int			l;

	log_init(1, LOG_DAEMON);
	signal(SIGPIPE, SIG_IGN);
	wg_crypto_init();
	event_init();
	hs_state_init();
	channels();

	snprintf(sockpath, sizeof(sockpath), "/tmp/test_hs_uapi.%d.sock",
	    (int)getpid());
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	strlcpy(sun.sun_path, sockpath, sizeof(sun.sun_path));
	if ((l = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0)) == -1 ||
	    bind(l, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    listen(l, 64) == -1)
		abort();
	parent_send(IMSG_CFG_UAPI_FD, l, NULL, 0);

	test_gone_client();
	test_config_behind_uapi();
	test_limits();
	unlink(sockpath);
	return test_done();
}
