/*
 * tun.h: the TUN device of the parent (IFF_TUN | IFF_NO_PI: each read
 * or write is one bare IP packet).
 *
 * Deletion: after "ip link del IFNAME", read(2) on the TUN fd fails with
 * EBADFD and poll(2) reports POLLERR. That is how the daemon notices its
 * interface is gone, even when the interface was moved into another
 * network namespace (where netlink events of the starting namespace
 * never mention it).
 */
#ifndef WGCARD_TUN_H
#define WGCARD_TUN_H

#include <net/if.h>

/*
 * Opens /dev/net/tun, O_NONBLOCK | O_CLOEXEC. ifname may be "" for the
 * kernel to choose; on return it holds the real name. Returns the fd, or
 * -1 with errno set. flags: TUN_OPEN_VNET asks for IFF_VNET_HDR (every
 * read and write starts with a 10-byte virtio_net_hdr) and the offloads
 * TSO4/TSO6 (TUNSETOFFLOAD with TUN_F_CSUM), and USO4/USO6 where the
 * kernel has them. *offl (when not NULL) says what took: TUN_OFFL_VNET
 * (the header is there), TUN_OFFL_TSO, TUN_OFFL_USO. A kernel that
 * refuses the header gets a plain device and *offl 0.
 */
#define TUN_OPEN_VNET	0x01
#define TUN_OFFL_VNET	0x01
#define TUN_OFFL_TSO	0x02
#define TUN_OFFL_USO	0x04
int	tun_open_flags(char ifname[IFNAMSIZ], int flags, int *offl);
/* The MTU, or -1 with errno (an ioctl on an AF_INET datagram socket). */
int	tun_get_mtu(const char *ifname);

#endif /* WGCARD_TUN_H */
