/*
 * tun.c: opening and configuring the TUN device through ioctls.
 */
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <linux/if_tun.h>

#include "tun.h"

#define TUN_DEV		"/dev/net/tun"

/* Older headers lack USO (Linux 6.2). */
#ifndef TUN_F_USO4
#define TUN_F_USO4	0x20
#endif
#ifndef TUN_F_USO6
#define TUN_F_USO6	0x40
#endif

/* Asks for TSO (and USO); returns the TUN_OFFL_* bits that took. */
static int
tun_set_offloads(int fd)
{
	unsigned int	f = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6;

	if (ioctl(fd, TUNSETOFFLOAD, f | TUN_F_USO4 | TUN_F_USO6) == 0)
		return TUN_OFFL_VNET | TUN_OFFL_TSO | TUN_OFFL_USO;
	if (ioctl(fd, TUNSETOFFLOAD, f) == 0)
		return TUN_OFFL_VNET | TUN_OFFL_TSO;
	return TUN_OFFL_VNET;
}

int
tun_open_flags(char ifname[IFNAMSIZ], int flags, int *offl)
{
	struct ifreq	ifr;
	int		fd, saved_errno, vnet = (flags & TUN_OPEN_VNET) != 0;
	int		busy = 0;

	if (strnlen(ifname, IFNAMSIZ) >= IFNAMSIZ) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((fd = open(TUN_DEV, O_RDWR | O_NONBLOCK | O_CLOEXEC)) == -1)
		return -1;
	if (offl != NULL)
		*offl = 0;
again:
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI | (vnet ? IFF_VNET_HDR : 0);
	memcpy(ifr.ifr_name, ifname, strnlen(ifname, IFNAMSIZ - 1));
	if (ioctl(fd, TUNSETIFF, &ifr) == -1) {
		if (vnet && errno == EINVAL) {
			/* No virtio-net header here: plain packets. */
			vnet = 0;
			goto again;
		}
		/*
		 * A TUN of this name whose last holder just exited lingers
		 * while the kernel unregisters it (a restart right after a
		 * stop): wait for it, up to 2 s. One still held stays busy.
		 */
		if (errno == EBUSY && busy++ < 40) {
			usleep(50 * 1000);
			goto again;
		}
		saved_errno = errno;
		close(fd);
		errno = saved_errno;
		return -1;
	}
	if (vnet && offl != NULL)
		*offl = tun_set_offloads(fd);
	memset(ifname, 0, IFNAMSIZ);
	memcpy(ifname, ifr.ifr_name, strnlen(ifr.ifr_name, IFNAMSIZ - 1));
	return fd;
}

/*
 * One interface ioctl on a throwaway datagram socket: AF_INET, or
 * AF_INET6 where IPv4 is missing.
 */
static int
tun_ifioctl(unsigned long req, struct ifreq *ifr)
{
	int	s, r, saved_errno;

	if ((s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1 &&
	    (s = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	r = ioctl(s, req, ifr);
	saved_errno = errno;
	close(s);
	errno = saved_errno;
	return r;
}

static int
tun_ifreq(struct ifreq *ifr, const char *ifname)
{
	size_t	len = strnlen(ifname, IFNAMSIZ);

	if (len == 0 || len >= IFNAMSIZ) {
		errno = len == 0 ? ENODEV : ENAMETOOLONG;
		return -1;
	}
	memset(ifr, 0, sizeof(*ifr));
	memcpy(ifr->ifr_name, ifname, len);
	return 0;
}

int
tun_get_mtu(const char *ifname)
{
	struct ifreq	ifr;

	if (tun_ifreq(&ifr, ifname) == -1)
		return -1;
	if (tun_ifioctl(SIOCGIFMTU, &ifr) == -1)
		return -1;
	return ifr.ifr_mtu;
}
