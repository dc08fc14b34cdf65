/*
 * netlink.c: synchronous rtnetlink requests of the parent: one request,
 * one acknowledgement (NLMSG_ERROR with error 0, or -errno), on a fresh
 * socket each time. The parent makes few of these (at start, on reload),
 * so simplicity wins over keeping a socket open.
 */
#include <sys/socket.h>
#include <sys/time.h>

#include <errno.h>
#include <net/if.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include "log.h"
#include "netlink.h"

#define NL_BUFSZ	8192
#define NL_TIMEOUT_S	5

struct nl_req {
	struct nlmsghdr	hdr;
	/* The family header (ifinfomsg, ifaddrmsg, rtmsg) and attributes. */
	uint8_t		body[512];
} __attribute__((__aligned__(NLMSG_ALIGNTO)));

static uint32_t	nl_seq;

static void
nl_init(struct nl_req *req, uint16_t type, uint16_t flags, const void *fam,
    size_t famlen)
{
	memset(req, 0, sizeof(*req));
	req->hdr.nlmsg_len = NLMSG_LENGTH(famlen);
	req->hdr.nlmsg_type = type;
	req->hdr.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
	memcpy(NLMSG_DATA(&req->hdr), fam, famlen);
}

/* Appends an attribute; returns its header (to nest) or NULL if full. */
static struct rtattr *
nl_attr(struct nl_req *req, uint16_t type, const void *data, size_t len)
{
	struct rtattr	*rta;
	size_t		 off = NLMSG_ALIGN(req->hdr.nlmsg_len);

	if (off + RTA_SPACE(len) > sizeof(*req))
		return NULL;
	rta = (struct rtattr *)((uint8_t *)req + off);
	rta->rta_type = type;
	rta->rta_len = RTA_LENGTH(len);
	if (len > 0)
		memcpy(RTA_DATA(rta), data, len);
	req->hdr.nlmsg_len = off + RTA_SPACE(len);
	return rta;
}

static void
nl_nest_end(struct nl_req *req, struct rtattr *nest)
{
	nest->rta_len = (uint16_t)((uint8_t *)req + req->hdr.nlmsg_len -
	    (uint8_t *)nest);
}

/* The kernel's extended-ack text, if it sent one, to the debug log. */
static void
nl_log_extack(const struct nlmsghdr *h, const struct nlmsgerr *e)
{
	const struct rtattr	*rta;
	size_t			 off;
	int			 len;

	if (!(h->nlmsg_flags & NLM_F_ACK_TLVS))
		return;
	off = sizeof(*e);
	if (!(h->nlmsg_flags & NLM_F_CAPPED))
		off += e->msg.nlmsg_len - sizeof(e->msg);
	if (NLMSG_LENGTH(off) > h->nlmsg_len)
		return;
	rta = (const struct rtattr *)((const uint8_t *)e + NLMSG_ALIGN(off));
	len = (int)(h->nlmsg_len - NLMSG_LENGTH(NLMSG_ALIGN(off)));
	for (; RTA_OK(rta, len); rta = RTA_NEXT(rta, len)) {
		if (rta->rta_type == NLMSGERR_ATTR_MSG &&
		    RTA_PAYLOAD(rta) > 0) {
			log_debug("netlink: %.*s", (int)RTA_PAYLOAD(rta) - 1,
			    (const char *)RTA_DATA(rta));
		}
	}
}

/* Sends req and waits for its acknowledgement: 0 or -errno. */
static int
nl_request(struct nl_req *req)
{
	struct sockaddr_nl	 sa;
	struct timeval		 tv = { .tv_sec = NL_TIMEOUT_S };
	struct nlmsghdr		*h;
	struct nlmsgerr		*e;
	uint8_t			 buf[NL_BUFSZ]
				    __attribute__((__aligned__(NLMSG_ALIGNTO)));
	ssize_t			 n;
	size_t			 len;
	int			 s, one = 1, r;

	if ((s = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC,
	    NETLINK_ROUTE)) == -1)
		return -errno;
	/* Best effort: older kernels lack extended acknowledgements. */
	(void)setsockopt(s, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	(void)setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));

	if (nl_seq == 0)
		nl_seq = (uint32_t)time(NULL);
	req->hdr.nlmsg_seq = ++nl_seq;

	memset(&sa, 0, sizeof(sa));
	sa.nl_family = AF_NETLINK;
	do {
		n = sendto(s, req, req->hdr.nlmsg_len, 0,
		    (struct sockaddr *)&sa, sizeof(sa));
	} while (n == -1 && errno == EINTR);
	if (n == -1) {
		r = -errno;
		goto out;
	}

	for (;;) {
		n = recv(s, buf, sizeof(buf), 0);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			r = errno == EAGAIN ? -ETIMEDOUT : -errno;
			goto out;
		}
		if (n == 0) {
			r = -ECONNRESET;
			goto out;
		}
		len = (size_t)n;
		for (h = (struct nlmsghdr *)buf; NLMSG_OK(h, len);
		    h = NLMSG_NEXT(h, len)) {
			if (h->nlmsg_seq != req->hdr.nlmsg_seq)
				continue;
			if (h->nlmsg_type != NLMSG_ERROR)
				continue;
			if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*e))) {
				r = -EBADMSG;
				goto out;
			}
			e = NLMSG_DATA(h);
			if (e->error != 0)
				nl_log_extack(h, e);
			r = e->error > 0 ? -e->error : e->error;
			goto out;
		}
	}
 out:
	close(s);
	return r;
}

static int
nl_prefix_check(int ifindex, const struct wg_prefix *p)
{
	if (ifindex <= 0)
		return -ENODEV;
	if (p->family == AF_INET && p->cidr <= 32)
		return 0;
	if (p->family == AF_INET6 && p->cidr <= 128)
		return 0;
	return -EINVAL;
}

static size_t
nl_addrlen(const struct wg_prefix *p)
{
	return p->family == AF_INET ? 4 : 16;
}

static int
nl_addr(uint16_t type, uint16_t flags, int ifindex, const struct wg_prefix *p)
{
	struct nl_req		req;
	struct ifaddrmsg	ifa;
	uint32_t		flags32 = 0;
	int			r;

	if ((r = nl_prefix_check(ifindex, p)) != 0)
		return r;
	memset(&ifa, 0, sizeof(ifa));
	ifa.ifa_family = p->family;
	ifa.ifa_prefixlen = p->cidr;
	/* As ip(8): IPv4 loopback addresses are host scope (or refused). */
	if (p->family == AF_INET && p->addr.bytes[0] == 127)
		ifa.ifa_scope = RT_SCOPE_HOST;
	else
		ifa.ifa_scope = RT_SCOPE_UNIVERSE;
	ifa.ifa_index = (uint32_t)ifindex;
	/*
	 * No duplicate address detection for IPv6: on a point-to-point
	 * tunnel it only delays the address (tentative, unbindable) until
	 * the kernel's DAD work runs.
	 */
	if (p->family == AF_INET6 && type == RTM_NEWADDR) {
		ifa.ifa_flags = IFA_F_NODAD;
		flags32 = IFA_F_NODAD;
	}
	nl_init(&req, type, flags, &ifa, sizeof(ifa));
	if (nl_attr(&req, IFA_LOCAL, p->addr.bytes, nl_addrlen(p)) == NULL ||
	    nl_attr(&req, IFA_ADDRESS, p->addr.bytes, nl_addrlen(p)) == NULL ||
	    (flags32 != 0 &&
	    nl_attr(&req, IFA_FLAGS, &flags32, sizeof(flags32)) == NULL))
		return -ENOBUFS;
	return nl_request(&req);
}

int
nl_link_index(const char *ifname)
{
	unsigned int	idx;

	if ((idx = if_nametoindex(ifname)) == 0)
		return errno != 0 ? -errno : -ENODEV;
	return (int)idx;
}

int
nl_addr_add(int ifindex, const struct wg_prefix *p)
{
	return nl_addr(RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE, ifindex, p);
}

int
nl_addr_del(int ifindex, const struct wg_prefix *p)
{
	return nl_addr(RTM_DELADDR, 0, ifindex, p);
}

/* p's address with the host bits cleared, into dst (16 bytes). */
static void
nl_mask(const struct wg_prefix *p, uint8_t dst[static 16])
{
	size_t	len = nl_addrlen(p), i;
	int	bits;

	memset(dst, 0, 16);
	for (i = 0; i < len; i++) {
		bits = (int)p->cidr - (int)i * 8;
		if (bits >= 8)
			dst[i] = p->addr.bytes[i];
		else if (bits > 0)
			dst[i] = p->addr.bytes[i] & (uint8_t)(0xff << (8 - bits));
	}
}

static int
nl_route(uint16_t type, uint16_t flags, int ifindex, const struct wg_prefix *p)
{
	struct nl_req	req;
	struct rtmsg	rtm;
	uint8_t		dst[16];
	uint32_t	oif = (uint32_t)ifindex, table = RT_TABLE_MAIN;
	int		r;

	if ((r = nl_prefix_check(ifindex, p)) != 0)
		return r;
	memset(&rtm, 0, sizeof(rtm));
	rtm.rtm_family = p->family;
	rtm.rtm_dst_len = p->cidr;
	rtm.rtm_table = RT_TABLE_MAIN;
	if (type == RTM_NEWROUTE) {
		rtm.rtm_protocol = RTPROT_STATIC;
		rtm.rtm_scope = RT_SCOPE_LINK;
		rtm.rtm_type = RTN_UNICAST;
	} else {
		/* Match any protocol, scope and type, as ip(8) does. */
		rtm.rtm_protocol = RTPROT_UNSPEC;
		rtm.rtm_scope = RT_SCOPE_NOWHERE;
		rtm.rtm_type = RTN_UNSPEC;
	}
	nl_init(&req, type, flags, &rtm, sizeof(rtm));
	nl_mask(p, dst);
	if ((p->cidr > 0 &&
	    nl_attr(&req, RTA_DST, dst, nl_addrlen(p)) == NULL) ||
	    nl_attr(&req, RTA_OIF, &oif, sizeof(oif)) == NULL ||
	    nl_attr(&req, RTA_TABLE, &table, sizeof(table)) == NULL)
		return -ENOBUFS;
	return nl_request(&req);
}

int
nl_route_add(int ifindex, const struct wg_prefix *p)
{
	int	r;

	r = nl_route(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, ifindex, p);
	return r == -EEXIST ? 0 : r;
}

int
nl_route_del(int ifindex, const struct wg_prefix *p)
{
	return nl_route(RTM_DELROUTE, 0, ifindex, p);
}

static void
nl_link(uint16_t type, uint16_t flags, int ifindex, unsigned int ifflags,
    unsigned int change, struct nl_req *req)
{
	struct ifinfomsg	ifi;

	memset(&ifi, 0, sizeof(ifi));
	ifi.ifi_family = AF_UNSPEC;
	ifi.ifi_index = ifindex;
	ifi.ifi_flags = ifflags;
	ifi.ifi_change = change;
	nl_init(req, type, flags, &ifi, sizeof(ifi));
}

int
nl_link_set_mtu(int ifindex, int mtu)
{
	struct nl_req	req;
	uint32_t	m = (uint32_t)mtu;

	if (ifindex <= 0)
		return -ENODEV;
	if (mtu <= 0)
		return -EINVAL;
	nl_link(RTM_NEWLINK, 0, ifindex, 0, 0, &req);
	if (nl_attr(&req, IFLA_MTU, &m, sizeof(m)) == NULL)
		return -ENOBUFS;
	return nl_request(&req);
}

int
nl_link_set_up(int ifindex)
{
	struct nl_req	req;

	if (ifindex <= 0)
		return -ENODEV;
	nl_link(RTM_NEWLINK, 0, ifindex, IFF_UP, IFF_UP, &req);
	return nl_request(&req);
}

int
nl_link_add_dummy(const char *name)
{
	struct nl_req	 req;
	struct rtattr	*info;
	size_t		 len = strnlen(name, IFNAMSIZ);
	int		 r;

	if (len == 0 || len >= IFNAMSIZ)
		return -EINVAL;
	nl_link(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, 0, 0, 0, &req);
	if (nl_attr(&req, IFLA_IFNAME, name, len + 1) == NULL ||
	    (info = nl_attr(&req, IFLA_LINKINFO, NULL, 0)) == NULL ||
	    nl_attr(&req, IFLA_INFO_KIND, "dummy", sizeof("dummy")) == NULL)
		return -ENOBUFS;
	nl_nest_end(&req, info);
	r = nl_request(&req);
	/* Without the driver the kernel answers "Unknown device type". */
	return r == -EOPNOTSUPP || r == -ENOENT ? -EOPNOTSUPP : r;
}

int
nl_link_del(int ifindex)
{
	struct nl_req	req;

	if (ifindex <= 0)
		return -ENODEV;
	nl_link(RTM_DELLINK, 0, ifindex, 0, 0, &req);
	return nl_request(&req);
}
