/*
 * test_sock.c: netd/sock.c in a private network namespace (needs root;
 * skipped otherwise): the socket pair and its options, replies leaving
 * from the address the peer wrote to (IPv4 and IPv6), the EINVAL retry,
 * fwmarks, and port conflicts.
 */
#include <sys/socket.h>
#include <sys/uio.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "netlink.h"
#include "sock.h"
#include "test.h"

static struct wg_prefix
pfx(const char *s, int cidr)
{
	struct wg_prefix	p;

	memset(&p, 0, sizeof(p));
	if (inet_pton(AF_INET, s, &p.addr.v4) == 1)
		p.family = AF_INET;
	else if (inet_pton(AF_INET6, s, &p.addr.v6) == 1)
		p.family = AF_INET6;
	p.cidr = (uint8_t)cidr;
	return p;
}

static void
mkaddr(union wg_sockaddr *sa, const char *s, uint16_t port)
{
	memset(sa, 0, sizeof(*sa));
	if (inet_pton(AF_INET, s, &sa->sin.sin_addr) == 1) {
		sa->sin.sin_family = AF_INET;
		sa->sin.sin_port = htons(port);
	} else if (inet_pton(AF_INET6, s, &sa->sin6.sin6_addr) == 1) {
		sa->sin6.sin6_family = AF_INET6;
		sa->sin6.sin6_port = htons(port);
	}
}

static const char *
ntop(const union wg_sockaddr *sa)
{
	static char	buf[INET6_ADDRSTRLEN];

	if (sa->sa.sa_family == AF_INET)
		return inet_ntop(AF_INET, &sa->sin.sin_addr, buf, sizeof(buf));
	return inet_ntop(AF_INET6, &sa->sin6.sin6_addr, buf, sizeof(buf));
}

static uint16_t
sa_port(const union wg_sockaddr *sa)
{
	return ntohs(sa->sa.sa_family == AF_INET ? sa->sin.sin_port :
	    sa->sin6.sin6_port);
}

static uint16_t
local_port(int fd)
{
	union wg_sockaddr	sa;
	socklen_t		len = sizeof(sa);

	memset(&sa, 0, sizeof(sa));
	if (getsockname(fd, &sa.sa, &len) == -1)
		return 0;
	return sa_port(&sa);
}

static int
count_fds(void)
{
	DIR	*d;
	int	 n = 0;

	if ((d = opendir("/proc/self/fd")) == NULL)
		return -1;
	while (readdir(d) != NULL)
		n++;
	closedir(d);
	return n;
}

static int
getint(int fd, int level, int opt)
{
	int		v = -1;
	socklen_t	len = sizeof(v);

	if (getsockopt(fd, level, opt, &v, &len) == -1)
		return -1;
	return v;
}

/* A client socket bound to addr (port chosen by the kernel). */
static int
client(const char *addr)
{
	union wg_sockaddr	sa;
	int			fd;

	mkaddr(&sa, addr, 0);
	if ((fd = socket(sa.sa.sa_family, SOCK_DGRAM, 0)) == -1)
		return -1;
	if (bind(fd, &sa.sa, sock_addrlen(&sa)) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * Until a datagram to addr arrives: a new IPv6 address's local route is
 * installed by the kernel's address work, a moment after the ACK.
 */
static int
wait_usable(const char *addr)
{
	union wg_sockaddr	sa;
	socklen_t		len;
	struct pollfd		pfd;
	int			i, fd, ok = 0;

	memset(&sa, 0, sizeof(sa));

	for (i = 0; i < 100 && !ok; i++) {
		if ((fd = client(addr)) == -1) {
			usleep(20000);
			continue;
		}
		len = sizeof(sa);
		getsockname(fd, &sa.sa, &len);
		(void)sendto(fd, "x", 1, 0, &sa.sa, len);
		pfd.fd = fd;
		pfd.events = POLLIN;
		ok = poll(&pfd, 1, 20) == 1;
		close(fd);
	}
	return ok;
}

static ssize_t
wait_recvmsg(int fd, struct msghdr *msg)
{
	struct pollfd	pfd = { .fd = fd, .events = POLLIN };

	if (poll(&pfd, 1, 2000) != 1)
		return -1;
	return recvmsg(fd, msg, 0);
}

/*
 * The forwarder's way of sending (fwd_tx_prepare, fwd_tx_done): one
 * datagram to ep from ep's src; when that fails and sock_src_gone(errno),
 * ep's src is cleared and the send tried once more without it.
 */
static ssize_t
send_ep(int fd, struct wg_endpoint *ep, const struct iovec *iov,
    int iovcnt)
{
	union {
		struct cmsghdr	hdr;
		uint8_t		buf[SOCK_CMSG_BUFSZ];
	}			 cbuf;
	struct msghdr		 msg;
	ssize_t			 n;

	if (sock_addrlen(&ep->addr) == 0) {
		errno = EDESTADDRREQ;
		return -1;
	}
	memset(&msg, 0, sizeof(msg));
	msg.msg_name = &ep->addr;
	msg.msg_namelen = sock_addrlen(&ep->addr);
	msg.msg_iov = (struct iovec *)(uintptr_t)iov;
	msg.msg_iovlen = (size_t)iovcnt;
	sock_cmsg_set_src(&msg, &cbuf, ep);

	n = sendmsg(fd, &msg, 0);
	if (n == -1 && sock_src_gone(errno) && msg.msg_controllen != 0) {
		/* Our address is gone: let the route pick a new one. */
		sock_endpoint_clear_src(ep);
		sock_cmsg_set_src(&msg, &cbuf, ep);
		n = sendmsg(fd, &msg, 0);
	}
	return n;
}

/*
 * The client at caddr writes to the daemon's socket fd at saddr:port;
 * the daemon learns the endpoint and answers with send_ep; the
 * answer must come from saddr. Returns the learnt endpoint in *epout.
 */
static void
roundtrip(int fd, const char *caddr, const char *saddr, uint16_t port,
    struct wg_endpoint *epout)
{
	union {
		struct cmsghdr	hdr;
		uint8_t		buf[SOCK_CMSG_BUFSZ];
	}			 cbuf;
	union wg_sockaddr	 to, from, want;
	struct wg_endpoint	 ep;
	struct msghdr		 msg;
	struct iovec		 iov;
	socklen_t		 fromlen = sizeof(from);
	char			 buf[64];
	ssize_t			 n;
	int			 c;

	memset(&from, 0, sizeof(from));

	CHECK(sock_cmsg_space() >= CMSG_SPACE(sizeof(struct in_pktinfo)),
	    "cmsg space");
	c = client(caddr);
	CHECK(c >= 0, "client at %s: %s", caddr, strerror(errno));
	if (c == -1)
		return;
	mkaddr(&to, saddr, port);
	CHECK(sendto(c, "ping", 4, 0, &to.sa, sock_addrlen(&to)) == 4,
	    "client sendto %s: %s", saddr, strerror(errno));

	memset(&ep, 0, sizeof(ep));
	memset(&msg, 0, sizeof(msg));
	iov.iov_base = buf;
	iov.iov_len = sizeof(buf);
	msg.msg_name = &ep.addr;
	msg.msg_namelen = sizeof(ep.addr);
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = &cbuf;
	msg.msg_controllen = sock_cmsg_space();
	n = wait_recvmsg(fd, &msg);
	CHECK(n == 4 && memcmp(buf, "ping", 4) == 0, "daemon recvmsg: %zd",
	    n);
	CHECK(!(msg.msg_flags & MSG_CTRUNC), "control not truncated");
	sock_cmsg_get_dst(&msg, &ep);
	mkaddr(&want, saddr, 0);
	if (want.sa.sa_family == AF_INET)
		CHECK(ep.src.v4.s_addr == want.sin.sin_addr.s_addr,
		    "learnt src %s", inet_ntoa(ep.src.v4));
	else
		CHECK(memcmp(&ep.src.v6, &want.sin6.sin6_addr, 16) == 0,
		    "learnt v6 src");
	CHECK(ep.src_ifindex == 1, "arrived on lo: %d", ep.src_ifindex);

	iov.iov_base = "pong";
	iov.iov_len = 4;
	n = send_ep(fd, &ep, &iov, 1);
	CHECK(n == 4, "send_ep: %zd %s", n, strerror(errno));
	memset(&from, 0, sizeof(from));
	{
		struct pollfd	pfd = { .fd = c, .events = POLLIN };

		CHECK(poll(&pfd, 1, 2000) == 1, "reply arrives");
	}
	n = recvfrom(c, buf, sizeof(buf), MSG_DONTWAIT, &from.sa, &fromlen);
	CHECK(n == 4 && memcmp(buf, "pong", 4) == 0, "client recv: %zd", n);
	CHECK(strcmp(ntop(&from), saddr) == 0, "reply from %s, want %s",
	    ntop(&from), saddr);
	CHECK(sa_port(&from) == port, "reply from port %u", sa_port(&from));
	close(c);
	if (epout != NULL)
		*epout = ep;
}

/* A reply to ep after setting its src to bad: must arrive from want. */
static void
retry_src_gone(int fd, const char *caddr, const char *bad, const char *want)
{
	union wg_sockaddr	 ca, from, b;
	struct wg_endpoint	 ep;
	struct iovec		 iov = { .iov_base = "pong", .iov_len = 4 };
	socklen_t		 len = sizeof(ca);
	char			 buf[16];
	ssize_t			 n;
	int			 c;

	memset(&ca, 0, sizeof(ca));
	memset(&from, 0, sizeof(from));

	c = client(caddr);
	CHECK(c >= 0, "client");
	if (c == -1)
		return;
	memset(&ep, 0, sizeof(ep));
	getsockname(c, &ca.sa, &len);
	ep.addr = ca;
	mkaddr(&b, bad, 0);
	if (b.sa.sa_family == AF_INET)
		ep.src.v4 = b.sin.sin_addr;
	else
		ep.src.v6 = b.sin6.sin6_addr;
	n = send_ep(fd, &ep, &iov, 1);
	CHECK(n == 4, "send with stale src %s: %zd %s", bad, n,
	    strerror(errno));
	if (b.sa.sa_family == AF_INET)
		CHECK(ep.src.v4.s_addr == 0, "stale v4 src cleared");
	else
		CHECK(IN6_IS_ADDR_UNSPECIFIED(&ep.src.v6),
		    "stale v6 src cleared");
	len = sizeof(from);
	{
		struct pollfd	pfd = { .fd = c, .events = POLLIN };

		CHECK(poll(&pfd, 1, 2000) == 1, "retried reply arrives");
	}
	n = recvfrom(c, buf, sizeof(buf), MSG_DONTWAIT, &from.sa, &len);
	CHECK(n == 4, "client recv after retry: %zd", n);
	CHECK(strcmp(ntop(&from), want) == 0, "from %s, want %s", ntop(&from),
	    want);
	close(c);
}

static void
test_pair(void)
{
	struct wg_endpoint	ep4, ep6, e;
	uint16_t		port = 0;
	int			fd4, fd6, r;

	r = sock_open_pair(0, 0, &fd4, &fd6, &port);
	CHECK(r == 0, "sock_open_pair(0): %s", strerror(errno));
	if (r != 0)
		return;
	CHECK(fd4 >= 0 && fd6 >= 0, "both families: %d %d", fd4, fd6);
	CHECK(port != 0, "port chosen");
	CHECK(local_port(fd4) == port && local_port(fd6) == port,
	    "same port: %u %u %u", local_port(fd4), local_port(fd6), port);
	CHECK(fcntl(fd4, F_GETFL) & O_NONBLOCK, "v4 non-blocking");
	CHECK(fcntl(fd6, F_GETFL) & O_NONBLOCK, "v6 non-blocking");
	CHECK(fcntl(fd4, F_GETFD) & FD_CLOEXEC, "v4 cloexec");
	CHECK(fcntl(fd6, F_GETFD) & FD_CLOEXEC, "v6 cloexec");
	CHECK(getint(fd6, IPPROTO_IPV6, IPV6_V6ONLY) == 1, "v6only");
	CHECK(getint(fd4, IPPROTO_IP, IP_PKTINFO) == 1, "IP_PKTINFO");
	CHECK(getint(fd6, IPPROTO_IPV6, IPV6_RECVPKTINFO) == 1,
	    "IPV6_RECVPKTINFO");
	CHECK(getint(fd4, IPPROTO_IP, IP_MTU_DISCOVER) == IP_PMTUDISC_DONT,
	    "IP_PMTUDISC_DONT");
	CHECK(getint(fd6, IPPROTO_IPV6, IPV6_MTU_DISCOVER) ==
	    IPV6_PMTUDISC_DONT, "IPV6_PMTUDISC_DONT");
	/* The kernel reports twice what was set. */
	CHECK(getint(fd4, SOL_SOCKET, SO_RCVBUF) >= 4 << 20, "rcvbuf %d",
	    getint(fd4, SOL_SOCKET, SO_RCVBUF));
	CHECK(getint(fd6, SOL_SOCKET, SO_SNDBUF) >= 4 << 20, "sndbuf %d",
	    getint(fd6, SOL_SOCKET, SO_SNDBUF));
	CHECK(getint(fd4, SOL_SOCKET, SO_MARK) == 0, "no mark");

	/* Sticky source, and the route's own choice for contrast. */
	roundtrip(fd4, "127.0.0.1", "127.0.0.2", port, &ep4);
	roundtrip(fd4, "127.0.0.1", "127.0.0.1", port, NULL);
	roundtrip(fd4, "127.0.0.2", "127.0.0.1", port, NULL);
	roundtrip(fd6, "fd00:1::1", "fd00:1::2", port, &ep6);
	roundtrip(fd6, "::1", "::1", port, NULL);

	/* A source address that is not ours: refused, cleared, resent. */
	retry_src_gone(fd4, "127.0.0.1", "192.0.2.1", "127.0.0.1");
	retry_src_gone(fd6, "fd00:1::1", "2001:db8::1", "fd00:1::1");

	/* Endpoint equality. */
	e = ep4;
	CHECK(sock_endpoint_eq(&e, &ep4), "eq self");
	e.src.v4.s_addr = htonl(0x7f000001);
	CHECK(!sock_endpoint_eq(&e, &ep4), "src differs");
	e = ep4;
	e.addr.sin.sin_port ^= 1;
	CHECK(!sock_endpoint_eq(&e, &ep4), "port differs");
	e = ep4;
	e.src_ifindex = 7;
	CHECK(sock_endpoint_eq(&e, &ep4), "ifindex ignored");
	CHECK(!sock_endpoint_eq(&ep4, &ep6), "families differ");
	e = ep6;
	CHECK(sock_endpoint_eq(&e, &ep6), "v6 eq self");
	e.src.v6.s6_addr[15] ^= 1;
	CHECK(!sock_endpoint_eq(&e, &ep6), "v6 src differs");
	e = ep6;
	e.addr.sin6.sin6_addr.s6_addr[0] ^= 1;
	CHECK(!sock_endpoint_eq(&e, &ep6), "v6 addr differs");
	memset(&e, 0, sizeof(e));
	memset(&ep4, 0, sizeof(ep4));
	CHECK(sock_endpoint_eq(&e, &ep4), "both unset");

	/* No source: no cmsg; no address: EDESTADDRREQ. */
	{
		union {
			struct cmsghdr	hdr;
			uint8_t		buf[SOCK_CMSG_BUFSZ];
		}		cbuf;
		struct msghdr	msg;
		struct iovec	iov = { .iov_base = "x", .iov_len = 1 };

		memset(&msg, 0, sizeof(msg));
		e = ep6;
		sock_endpoint_clear_src(&e);
		sock_cmsg_set_src(&msg, &cbuf, &e);
		CHECK(msg.msg_control == NULL && msg.msg_controllen == 0,
		    "no cmsg without src");
		memset(&e, 0, sizeof(e));
		CHECK(send_ep(fd4, &e, &iov, 1) == -1 &&
		    errno == EDESTADDRREQ, "no address");
	}

	/* The port is taken now. */
	{
		int	a = -2, b = -2, nfd = count_fds();

		errno = 0;
		r = sock_open_pair(port, 0, &a, &b, NULL);
		CHECK(r == -1 && errno == EADDRINUSE, "port %u taken: %d %s",
		    port, r, strerror(errno));
		CHECK(a == -1 && b == -1, "fds -1 on failure");
		CHECK(count_fds() == nfd, "no fd leaked");
	}
	close(fd4);
	close(fd6);

	/* An explicit free port. */
	r = sock_open_pair(port, 0, &fd4, &fd6, &port);
	CHECK(r == 0 && local_port(fd4) == port && local_port(fd6) == port,
	    "explicit port %u", port);
	if (r == 0) {
		close(fd4);
		close(fd6);
	}
}

static void
test_fwmark(void)
{
	uint16_t	port;
	int		fd4, fd6;

	CHECK(sock_open_pair(0, 0x1234, &fd4, &fd6, &port) == 0,
	    "pair with fwmark");
	CHECK(getint(fd4, SOL_SOCKET, SO_MARK) == 0x1234, "v4 mark %#x",
	    getint(fd4, SOL_SOCKET, SO_MARK));
	CHECK(getint(fd6, SOL_SOCKET, SO_MARK) == 0x1234, "v6 mark");
	CHECK(sock_set_fwmark(fd4, 0xca6c) == 0, "set mark");
	CHECK(getint(fd4, SOL_SOCKET, SO_MARK) == 0xca6c, "new mark");
	CHECK(sock_set_fwmark(fd4, 0) == 0, "clear mark");
	CHECK(getint(fd4, SOL_SOCKET, SO_MARK) == 0, "mark cleared");
	close(fd4);
	close(fd6);
	CHECK(sock_set_fwmark(-1, 1) == -1 && errno == EBADF, "bad fd");
}

static int
set_port_range(int lo, int hi)
{
	FILE	*f;

	if ((f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "w")) ==
	    NULL)
		return -1;
	fprintf(f, "%d %d\n", lo, hi);
	return fclose(f) == 0 ? 0 : -1;
}

/*
 * Port 0 with a two-port ephemeral range (per namespace) and one port
 * taken in IPv6 only: the pair must land on the other port; with both
 * taken in IPv6, EADDRINUSE.
 */
static void
test_port_retry(void)
{
	union wg_sockaddr	sa;
	uint16_t		port = 0;
	int			v6a, v6b, fd4, fd6, r, i, nfd;

	if (set_port_range(40000, 40001) == -1) {
		printf("ip_local_port_range not writable: retry test "
		    "skipped\n");
		return;
	}
	mkaddr(&sa, "::", 40000);
	v6a = socket(AF_INET6, SOCK_DGRAM, 0);
	CHECK(bind(v6a, &sa.sa, sock_addrlen(&sa)) == 0, "bind v6 40000");
	for (i = 0; i < 8; i++) {
		r = sock_open_pair(0, 0, &fd4, &fd6, &port);
		CHECK(r == 0 && port == 40001, "retry lands on 40001: %d %u",
		    r, port);
		if (r == 0) {
			close(fd4);
			close(fd6);
		}
	}
	mkaddr(&sa, "::", 40001);
	v6b = socket(AF_INET6, SOCK_DGRAM, 0);
	CHECK(bind(v6b, &sa.sa, sock_addrlen(&sa)) == 0, "bind v6 40001");
	nfd = count_fds();
	r = sock_open_pair(0, 0, &fd4, &fd6, &port);
	CHECK(r == -1 && errno == EADDRINUSE, "no port left: %d %s", r,
	    strerror(errno));
	CHECK(count_fds() == nfd, "no fd leaked");
	close(v6a);
	close(v6b);
	set_port_range(32768, 60999);
}

int
main(void)
{
	struct wg_prefix	p;

	log_init(1, LOG_DAEMON);
	log_setverbose(1);
	log_procinit("test_sock");
	if (geteuid() != 0 || unshare(CLONE_NEWNET) == -1) {
		printf("not root or no unshare(CLONE_NEWNET): skipped\n");
		return test_done();
	}
	CHECK(nl_link_set_up(nl_link_index("lo")) == 0, "lo up");
	p = pfx("127.0.0.2", 8);
	CHECK(nl_addr_add(1, &p) == 0, "127.0.0.2 on lo");
	p = pfx("fd00:1::1", 128);
	CHECK(nl_addr_add(1, &p) == 0, "fd00:1::1 on lo");
	p = pfx("fd00:1::2", 128);
	CHECK(nl_addr_add(1, &p) == 0, "fd00:1::2 on lo");
	CHECK(wait_usable("127.0.0.2") && wait_usable("fd00:1::1") &&
	    wait_usable("fd00:1::2") && wait_usable("::1"),
	    "addresses usable");
	test_pair();
	test_fwmark();
	test_port_retry();
	return test_done();
}
