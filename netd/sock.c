/*
 * sock.c: the daemon's UDP sockets (one per address family on the same
 * port) and the "sticky source" of each peer: replies leave from the
 * local address the peer wrote to, carried in IP_PKTINFO/IPV6_PKTINFO
 * control messages both ways.
 */
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <unistd.h>

#include "sock.h"

#define SOCK_BUFSZ	(7 << 20)	/* 7 MiB each way, as wireguard-go */
#define SOCK_PORT_TRIES	16

/* The errors that mean "this family does not exist here". */
static int
sock_family_missing(int e)
{
	return e == EAFNOSUPPORT || e == EPROTONOSUPPORT ||
	    e == EADDRNOTAVAIL;
}

static void
sock_close_keep_errno(int fd)
{
	int	saved_errno = errno;

	close(fd);
	errno = saved_errno;
}

/* Large buffers: the forced variants (root) ignore rmem_max/wmem_max. */
static void
sock_set_buffers(int s)
{
	int	sz = SOCK_BUFSZ;

	if (setsockopt(s, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)) == -1)
		(void)setsockopt(s, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	if (setsockopt(s, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz)) == -1)
		(void)setsockopt(s, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
}

/* One bound socket of family on port; the fd or -1 with errno. */
static int
sock_open_one(int family, uint16_t port, uint32_t fwmark)
{
	union wg_sockaddr	sa;
	int			s, one = 1;
	int			pmtu4 = IP_PMTUDISC_DONT;
	int			pmtu6 = IPV6_PMTUDISC_DONT;

	if ((s = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    IPPROTO_UDP)) == -1)
		return -1;
	if (fwmark != 0 && sock_set_fwmark(s, fwmark) == -1)
		goto fail;
	sock_set_buffers(s);

	memset(&sa, 0, sizeof(sa));
	if (family == AF_INET) {
		if (setsockopt(s, IPPROTO_IP, IP_PKTINFO, &one,
		    sizeof(one)) == -1 ||
		    setsockopt(s, IPPROTO_IP, IP_MTU_DISCOVER, &pmtu4,
		    sizeof(pmtu4)) == -1)
			goto fail;
		sa.sin.sin_family = AF_INET;
		sa.sin.sin_addr.s_addr = htonl(INADDR_ANY);
		sa.sin.sin_port = htons(port);
	} else {
		/*
		 * IPv6 packets have no DF bit; PMTUDISC_DONT lets the
		 * kernel fragment locally instead of failing with
		 * EMSGSIZE, like the IPv4 side.
		 */
		if (setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &one,
		    sizeof(one)) == -1 ||
		    setsockopt(s, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one,
		    sizeof(one)) == -1 ||
		    setsockopt(s, IPPROTO_IPV6, IPV6_MTU_DISCOVER, &pmtu6,
		    sizeof(pmtu6)) == -1)
			goto fail;
		sa.sin6.sin6_family = AF_INET6;
		sa.sin6.sin6_addr = in6addr_any;
		sa.sin6.sin6_port = htons(port);
	}
	if (bind(s, &sa.sa, sock_addrlen(&sa)) == -1)
		goto fail;
	return s;
 fail:
	sock_close_keep_errno(s);
	return -1;
}

static int
sock_local_port(int s, uint16_t *port)
{
	union wg_sockaddr	sa;
	socklen_t		len = sizeof(sa);

	memset(&sa, 0, sizeof(sa));
	if (getsockname(s, &sa.sa, &len) == -1)
		return -1;
	*port = ntohs(sa.sa.sa_family == AF_INET ? sa.sin.sin_port :
	    sa.sin6.sin6_port);
	return 0;
}

int
sock_open_pair(uint16_t port, uint32_t fwmark, int *fd4, int *fd6,
    uint16_t *bound_port)
{
	uint16_t	p = port;
	int		s4, s6, try;

	*fd4 = *fd6 = -1;
	for (try = 0; try < SOCK_PORT_TRIES; try++) {
		p = port;
		if ((s4 = sock_open_one(AF_INET, port, fwmark)) == -1) {
			if (!sock_family_missing(errno))
				return -1;
		} else if (sock_local_port(s4, &p) == -1) {
			sock_close_keep_errno(s4);
			return -1;
		}

		if ((s6 = sock_open_one(AF_INET6, p, fwmark)) == -1) {
			if (errno == EADDRINUSE && port == 0 && s4 != -1) {
				/* Free in v4, taken in v6: another port. */
				close(s4);
				continue;
			}
			if (!sock_family_missing(errno) || s4 == -1) {
				if (s4 != -1)
					sock_close_keep_errno(s4);
				return -1;
			}
		} else if (s4 == -1 && sock_local_port(s6, &p) == -1) {
			sock_close_keep_errno(s6);
			return -1;
		}
		*fd4 = s4;
		*fd6 = s6;
		if (bound_port != NULL)
			*bound_port = p;
		return 0;
	}
	errno = EADDRINUSE;
	return -1;
}

int
sock_set_fwmark(int fd, uint32_t mark)
{
	/* The kernel takes it as a u32 (sk_mark). */
	return setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof(mark));
}

socklen_t
sock_addrlen(const union wg_sockaddr *sa)
{
	switch (sa->sa.sa_family) {
	case AF_INET:
		return sizeof(struct sockaddr_in);
	case AF_INET6:
		return sizeof(struct sockaddr_in6);
	default:
		return 0;
	}
}

size_t
sock_cmsg_space(void)
{
	return SOCK_CMSG_BUFSZ;
}

void
sock_cmsg_set_src(struct msghdr *msg, void *cbuf,
    const struct wg_endpoint *ep)
{
	struct cmsghdr		*cm;
	struct in_pktinfo	 pi4;
	struct in6_pktinfo	 pi6;

	msg->msg_control = NULL;
	msg->msg_controllen = 0;
	memset(cbuf, 0, SOCK_CMSG_BUFSZ);

	if (ep->addr.sa.sa_family == AF_INET && ep->src.v4.s_addr != 0) {
		memset(&pi4, 0, sizeof(pi4));
		pi4.ipi_spec_dst = ep->src.v4;
		pi4.ipi_ifindex = 0;	/* the route decides the way out */
		msg->msg_control = cbuf;
		msg->msg_controllen = CMSG_SPACE(sizeof(pi4));
		cm = CMSG_FIRSTHDR(msg);
		cm->cmsg_level = IPPROTO_IP;
		cm->cmsg_type = IP_PKTINFO;
		cm->cmsg_len = CMSG_LEN(sizeof(pi4));
		memcpy(CMSG_DATA(cm), &pi4, sizeof(pi4));
	} else if (ep->addr.sa.sa_family == AF_INET6 &&
	    !IN6_IS_ADDR_UNSPECIFIED(&ep->src.v6)) {
		memset(&pi6, 0, sizeof(pi6));
		pi6.ipi6_addr = ep->src.v6;
		/* A link-local source only means something with its link. */
		if (IN6_IS_ADDR_LINKLOCAL(&ep->src.v6) && ep->src_ifindex > 0)
			pi6.ipi6_ifindex = (unsigned int)ep->src_ifindex;
		msg->msg_control = cbuf;
		msg->msg_controllen = CMSG_SPACE(sizeof(pi6));
		cm = CMSG_FIRSTHDR(msg);
		cm->cmsg_level = IPPROTO_IPV6;
		cm->cmsg_type = IPV6_PKTINFO;
		cm->cmsg_len = CMSG_LEN(sizeof(pi6));
		memcpy(CMSG_DATA(cm), &pi6, sizeof(pi6));
	}
}

void
sock_cmsg_get_dst(const struct msghdr *msg, struct wg_endpoint *ep)
{
	struct cmsghdr		*cm;
	struct in_pktinfo	 pi4;
	struct in6_pktinfo	 pi6;

	sock_endpoint_clear_src(ep);
	for (cm = CMSG_FIRSTHDR(msg); cm != NULL;
	    cm = CMSG_NXTHDR((struct msghdr *)msg, cm)) {
		if (cm->cmsg_level == IPPROTO_IP &&
		    cm->cmsg_type == IP_PKTINFO &&
		    cm->cmsg_len >= CMSG_LEN(sizeof(pi4))) {
			memcpy(&pi4, CMSG_DATA(cm), sizeof(pi4));
			/*
			 * ipi_spec_dst is the local address to answer from:
			 * the destination itself for unicast, the
			 * interface's address for a broadcast.
			 */
			ep->src.v4 = pi4.ipi_spec_dst.s_addr != 0 ?
			    pi4.ipi_spec_dst : pi4.ipi_addr;
			ep->src_ifindex = pi4.ipi_ifindex;
			return;
		}
		if (cm->cmsg_level == IPPROTO_IPV6 &&
		    cm->cmsg_type == IPV6_PKTINFO &&
		    cm->cmsg_len >= CMSG_LEN(sizeof(pi6))) {
			memcpy(&pi6, CMSG_DATA(cm), sizeof(pi6));
			ep->src.v6 = pi6.ipi6_addr;
			ep->src_ifindex = (int)pi6.ipi6_ifindex;
			return;
		}
	}
}

void
sock_endpoint_clear_src(struct wg_endpoint *ep)
{
	memset(&ep->src, 0, sizeof(ep->src));
	ep->src_ifindex = 0;
}

int
sock_endpoint_eq(const struct wg_endpoint *a, const struct wg_endpoint *b)
{
	if (a->addr.sa.sa_family != b->addr.sa.sa_family)
		return 0;
	switch (a->addr.sa.sa_family) {
	case AF_INET:
		return a->addr.sin.sin_addr.s_addr ==
		    b->addr.sin.sin_addr.s_addr &&
		    a->addr.sin.sin_port == b->addr.sin.sin_port &&
		    a->src.v4.s_addr == b->src.v4.s_addr;
	case AF_INET6:
		return memcmp(&a->addr.sin6.sin6_addr, &b->addr.sin6.sin6_addr,
		    sizeof(struct in6_addr)) == 0 &&
		    a->addr.sin6.sin6_port == b->addr.sin6.sin6_port &&
		    a->addr.sin6.sin6_scope_id == b->addr.sin6.sin6_scope_id &&
		    memcmp(&a->src.v6, &b->src.v6,
		    sizeof(struct in6_addr)) == 0;
	case AF_UNSPEC:
		return 1;
	default:
		return 0;
	}
}

int
sock_src_gone(int e)
{
	return e == EINVAL || e == ENETUNREACH || e == EADDRNOTAVAIL;
}
