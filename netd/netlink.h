/*
 * netlink.h: addresses, routes and link settings through rtnetlink
 * (NETLINK_ROUTE). Each call opens a socket, sends one request, waits
 * for the kernel's acknowledgement and closes the socket. Each returns 0
 * or -errno (the kernel's error from NLMSG_ERROR, or a local failure).
 */
#ifndef WGCARD_NETLINK_H
#define WGCARD_NETLINK_H

#include "wgconf.h"

/* The interface index (if_nametoindex), or -errno (-ENODEV). */
int	nl_link_index(const char *ifname);

/*
 * Adds an address (IFA_LOCAL = IFA_ADDRESS = p->addr, prefix length
 * p->cidr). An existing identical address is replaced, not an error.
 * IPv6 addresses skip duplicate address detection (usable at once);
 * IPv4 loopback addresses get host scope as ip(8) gives them.
 */
int	nl_addr_add(int ifindex, const struct wg_prefix *p);
int	nl_addr_del(int ifindex, const struct wg_prefix *p);

/*
 * A device route to p (host bits masked first) through ifindex in the
 * main table, proto static, scope link. EEXIST counts as success.
 */
int	nl_route_add(int ifindex, const struct wg_prefix *p);
/* Deletes the route to p through ifindex, whatever its protocol: 0 or
 * -errno (-ESRCH when there is none). */
int	nl_route_del(int ifindex, const struct wg_prefix *p);

int	nl_link_set_mtu(int ifindex, int mtu);
int	nl_link_set_up(int ifindex);

/* For tests: a dummy interface (-EOPNOTSUPP without the driver). */
int	nl_link_add_dummy(const char *name);
int	nl_link_del(int ifindex);

#endif /* WGCARD_NETLINK_H */
