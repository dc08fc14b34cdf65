/*
 * sock.h: the daemon's UDP sockets and sending from the address a peer
 * wrote to ("sticky source", as the kernel's WireGuard does).
 */
#ifndef WGCARD_SOCK_H
#define WGCARD_SOCK_H

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#include "wgcard.h"	/* struct wg_endpoint */

/*
 * Opens an AF_INET and an AF_INET6 (IPV6_V6ONLY) UDP socket bound to the
 * same port; port 0 picks one free in both families and *bound_port says
 * which. Both are non-blocking and close-on-exec, with SO_MARK (when
 * fwmark != 0), IP_PKTINFO / IPV6_RECVPKTINFO, large buffers and path MTU
 * discovery off (packets leave with DF clear). A family the namespace
 * lacks leaves its fd at -1 and the call succeeds with the other.
 * Returns 0, or -1 with errno (EADDRINUSE when the port is taken).
 */
int	sock_open_pair(uint16_t port, uint32_t fwmark, int *fd4, int *fd6,
	    uint16_t *bound_port);
/* SO_MARK (0 clears it); 0 or -1 with errno. */
int	sock_set_fwmark(int fd, uint32_t mark);

/* The length of a sockaddr of ep's family (0 for none). */
socklen_t	sock_addrlen(const union wg_sockaddr *);

/*
 * Control buffer room for one pktinfo of either family; a buffer should
 * be aligned for struct cmsghdr, e.g.
 *	union { struct cmsghdr hdr; uint8_t buf[SOCK_CMSG_BUFSZ]; } cbuf;
 */
#define SOCK_CMSG_BUFSZ	CMSG_SPACE(sizeof(struct in6_pktinfo))
size_t	sock_cmsg_space(void);
/*
 * Points msg_control/msg_controllen at cbuf (sock_cmsg_space() bytes)
 * holding an IP_PKTINFO (ipi_spec_dst = src) or IPV6_PKTINFO cmsg, so the
 * packet leaves from ep's src; without a src, no cmsg (NULL, 0).
 */
void	sock_cmsg_set_src(struct msghdr *, void *cbuf,
	    const struct wg_endpoint *);
/*
 * After recvmsg on a socket of sock_open_pair: sets ep's src and
 * src_ifindex from the pktinfo (the local address the packet came to);
 * zero when there is none. ep->addr is the caller's to fill (msg_name).
 */
void	sock_cmsg_get_dst(const struct msghdr *, struct wg_endpoint *);
/* Forgets the source address (after EINVAL: address gone). */
void	sock_endpoint_clear_src(struct wg_endpoint *);
/* 1 when family, address, port (and v6 scope) and src are the same. */
int	sock_endpoint_eq(const struct wg_endpoint *,
	    const struct wg_endpoint *);

/*
 * Whether a send with a source address failed because that address is
 * no longer ours (roaming, renumbering): then clear the source and send
 * once more without it. The kernel says EINVAL (IPv6, or a source that
 * cannot be one), ENETUNREACH (IPv4: a source that is not local) or
 * EADDRNOTAVAIL. Batch senders (sendmmsg) apply the same rule.
 */
int	sock_src_gone(int err);

#endif /* WGCARD_SOCK_H */
