/*
 * test_netlink.c: netd/netlink.c and netd/tun.c in a private network
 * namespace (needs root; skipped otherwise): a TUN interface, its MTU
 * and flags, IPv4 and IPv6 addresses and routes checked against ip(8),
 * error cases, and how the TUN fd reports the interface's deletion.
 */
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "netlink.h"
#include "tun.h"
#include "test.h"

/* Whether the output of cmd has a line containing every one of needles. */
static int
cmd_has(const char *cmd, const char *n1, const char *n2)
{
	char	 line[1024];
	FILE	*f;
	int	 found = 0;

	if ((f = popen(cmd, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strstr(line, n1) != NULL &&
		    (n2 == NULL || strstr(line, n2) != NULL))
			found = 1;
	pclose(f);
	return found;
}

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

static int
if_flags(const char *ifname)
{
	struct ifreq	ifr;
	int		s, r;

	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if ((s = socket(AF_INET, SOCK_DGRAM, 0)) == -1)
		return -1;
	r = ioctl(s, SIOCGIFFLAGS, &ifr);
	close(s);
	return r == -1 ? -1 : ifr.ifr_flags;
}

static void
test_tun(void)
{
	char	name[IFNAMSIZ] = "", cmd[128];
	int	fd, fd2, idx;

	fd = tun_open_flags(name, 0, NULL);
	CHECK(fd >= 0, "tun_open_flags(\"\"): %s", strerror(errno));
	CHECK(name[0] != '\0', "kernel-chosen name returned");
	CHECK(fcntl(fd, F_GETFL) & O_NONBLOCK, "TUN fd non-blocking");
	CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC, "TUN fd close-on-exec");
	idx = nl_link_index(name);
	CHECK(idx > 0, "index of %s: %d", name, idx);

	/* The same name again is the same device, busy. */
	fd2 = tun_open_flags(name, 0, NULL);
	CHECK(fd2 == -1 && errno == EBUSY, "second open of %s: %d %s", name,
	    fd2, strerror(errno));
	if (fd2 >= 0)
		close(fd2);

	CHECK(nl_link_set_mtu(idx, 1280) == 0, "nl_link_set_mtu 1280");
	CHECK(tun_get_mtu(name) == 1280, "mtu %d", tun_get_mtu(name));
	CHECK(nl_link_set_mtu(idx, 9000) == 0, "nl_link_set_mtu 9000");
	CHECK(tun_get_mtu(name) == 9000, "mtu %d", tun_get_mtu(name));
	CHECK(nl_link_set_mtu(idx, 1420) == 0, "nl_link_set_mtu 1420");
	CHECK(tun_get_mtu(name) == 1420, "mtu %d", tun_get_mtu(name));
	CHECK(nl_link_set_mtu(idx, 70000) < 0, "mtu 70000 refused");
	CHECK(tun_get_mtu(name) == 1420, "mtu %d after the refusal",
	    tun_get_mtu(name));
	CHECK(tun_get_mtu("nosuchif0") == -1 && errno == ENODEV,
	    "tun_get_mtu of a missing interface: %s", strerror(errno));

	CHECK(!(if_flags(name) & IFF_UP), "down at first");
	CHECK(nl_link_set_up(idx) == 0, "nl_link_set_up");
	CHECK(if_flags(name) & IFF_UP, "up after nl_link_set_up");
	snprintf(cmd, sizeof(cmd), "ip -o link show dev %s", name);
	CHECK(cmd_has(cmd, ",UP", NULL) == 1, "ip link shows UP");
	close(fd);
	/* Closing a non-persistent TUN fd removes the interface. */
	CHECK(nl_link_index(name) == -ENODEV, "%s gone after close", name);
}

static void
test_addr_route(void)
{
	char			 name[IFNAMSIZ] = "wgtest0";
	struct wg_prefix	 p;
	int			 fd, idx;
	const char		*addr = "ip -o addr show dev wgtest0";
	const char		*route4 = "ip -o -4 route show dev wgtest0";
	const char		*route6 = "ip -o -6 route show dev wgtest0";

	fd = tun_open_flags(name, 0, NULL);
	CHECK(fd >= 0 && strcmp(name, "wgtest0") == 0,
	    "tun_open_flags wgtest0");
	if (fd == -1)
		return;
	idx = nl_link_index(name);
	CHECK(nl_link_set_up(idx) == 0, "nl_link_set_up");
	CHECK(if_flags(name) & IFF_UP, "up after nl_link_set_up");

	/* Addresses. */
	p = pfx("10.77.0.1", 24);
	CHECK(nl_addr_add(idx, &p) == 0, "v4 addr add");
	CHECK(nl_addr_add(idx, &p) == 0, "v4 addr add again (replace)");
	p = pfx("fd00:77::1", 64);
	CHECK(nl_addr_add(idx, &p) == 0, "v6 addr add");
	CHECK(cmd_has(addr, "inet 10.77.0.1/24", NULL) == 1, "v4 addr shown");
	CHECK(cmd_has(addr, "inet6 fd00:77::1/64", NULL) == 1,
	    "v6 addr shown");
	p = pfx("10.77.0.2", 32);
	CHECK(nl_addr_add(idx, &p) == 0, "second v4 addr");
	CHECK(cmd_has(addr, "inet 10.77.0.2/32", NULL) == 1, "/32 shown");
	CHECK(nl_addr_del(idx, &p) == 0, "second v4 addr del");
	CHECK(cmd_has(addr, "10.77.0.2/32", NULL) == 0, "/32 gone");
	CHECK(nl_addr_del(idx, &p) == -EADDRNOTAVAIL, "del again: %d",
	    nl_addr_del(idx, &p));
	p = pfx("fd00:77::1", 64);
	CHECK(nl_addr_del(idx, &p) == 0, "v6 addr del");
	CHECK(cmd_has(addr, "fd00:77::1/64", NULL) == 0, "v6 addr gone");

	/* Routes, host bits masked. */
	p = pfx("10.78.1.5", 16);
	CHECK(nl_route_add(idx, &p) == 0, "v4 route add");
	CHECK(cmd_has(route4, "10.78.0.0/16 proto static scope link", NULL)
	    == 1, "v4 route shown");
	CHECK(nl_route_add(idx, &p) == 0, "v4 route add again (EEXIST ok)");
	p = pfx("fd00:78::1234", 48);
	CHECK(nl_route_add(idx, &p) == 0, "v6 route add");
	CHECK(cmd_has(route6, "fd00:78::/48 proto static", NULL) == 1,
	    "v6 route shown");
	p = pfx("0.0.0.0", 0);
	CHECK(nl_route_add(idx, &p) == 0, "v4 default route add");
	CHECK(cmd_has(route4, "default proto static scope link", NULL) == 1,
	    "default route shown");
	p = pfx("::", 0);
	CHECK(nl_route_add(idx, &p) == 0, "v6 default route add");
	CHECK(cmd_has(route6, "default proto static", NULL) == 1,
	    "v6 default route shown");
	p = pfx("10.79.2.3", 32);
	CHECK(nl_route_add(idx, &p) == 0, "v4 host route");
	CHECK(cmd_has(route4, "10.79.2.3 proto static", NULL) == 1,
	    "host route shown");
	/* The address's own prefix route already exists: fine. */
	p = pfx("10.77.0.0", 24);
	CHECK(nl_route_add(idx, &p) == 0, "route over the kernel's own");

	p = pfx("10.78.255.255", 16);
	CHECK(nl_route_del(idx, &p) == 0, "v4 route del (host bits)");
	CHECK(cmd_has(route4, "10.78.0.0/16", NULL) == 0, "v4 route gone");
	CHECK(nl_route_del(idx, &p) == -ESRCH, "v4 route del again: %d",
	    nl_route_del(idx, &p));
	p = pfx("fd00:78::", 48);
	CHECK(nl_route_del(idx, &p) == 0, "v6 route del");
	CHECK(cmd_has(route6, "fd00:78::/48", NULL) == 0, "v6 route gone");
	CHECK(nl_route_del(idx, &p) < 0, "v6 route del again");
	p = pfx("0.0.0.0", 0);
	CHECK(nl_route_del(idx, &p) == 0, "v4 default del");
	CHECK(cmd_has(route4, "default", NULL) == 0, "v4 default gone");
	p = pfx("::", 0);
	CHECK(nl_route_del(idx, &p) == 0, "v6 default del");

	/* Error cases. */
	p = pfx("10.80.0.1", 24);
	CHECK(nl_addr_add(99999, &p) == -ENODEV, "addr on bad ifindex: %d",
	    nl_addr_add(99999, &p));
	CHECK(nl_route_add(99999, &p) == -ENODEV, "route on bad ifindex: %d",
	    nl_route_add(99999, &p));
	CHECK(nl_route_del(99999, &p) < 0, "route del on bad ifindex");
	CHECK(nl_link_set_mtu(99999, 1400) == -ENODEV, "mtu bad ifindex: %d",
	    nl_link_set_mtu(99999, 1400));
	CHECK(nl_link_set_up(99999) == -ENODEV, "up bad ifindex");
	CHECK(nl_addr_add(0, &p) == -ENODEV, "ifindex 0");
	CHECK(nl_link_del(99999) == -ENODEV, "del bad ifindex");
	p.cidr = 33;
	CHECK(nl_route_add(idx, &p) == -EINVAL, "cidr 33");
	p.family = AF_UNIX;
	CHECK(nl_addr_add(idx, &p) == -EINVAL, "bad family");
	CHECK(nl_link_index("nosuchif0") == -ENODEV, "index of missing");

	close(fd);
}

/*
 * What the daemon relies on: after "ip link del", read(2) on the TUN fd
 * fails with EBADFD and poll(2) says POLLERR.
 */
static void
test_tun_deleted(void)
{
	char		name[IFNAMSIZ] = "wgtest1";
	char		buf[2048];
	struct pollfd	pfd;
	int		fd, idx;
	ssize_t		n;

	fd = tun_open_flags(name, 0, NULL);
	CHECK(fd >= 0, "tun_open_flags wgtest1");
	if (fd == -1)
		return;
	idx = nl_link_index(name);
	CHECK(nl_link_set_up(idx) == 0, "up");
	/* The kernel may have sent something already (IPv6 MLD, RS). */
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		;
	CHECK(n == -1 && errno == EAGAIN, "idle read: EAGAIN (%zd, %s)", n,
	    strerror(errno));
	CHECK(nl_link_del(idx) == 0, "nl_link_del");
	CHECK(nl_link_index(name) == -ENODEV, "gone");
	pfd.fd = fd;
	pfd.events = POLLIN;
	pfd.revents = 0;
	CHECK(poll(&pfd, 1, 1000) == 1 && (pfd.revents & POLLERR),
	    "POLLERR after deletion (revents %#x)", pfd.revents);
	n = read(fd, buf, sizeof(buf));
	CHECK(n == -1 && errno == EBADFD, "read after deletion: %zd %s", n,
	    strerror(errno));
	close(fd);
}

/*
 * The same after the interface was moved into another namespace and
 * deleted there (the WireGuard "netns" trick).
 */
static void
test_tun_moved(void)
{
	char		name[IFNAMSIZ] = "wgtest2";
	char		buf[2048], cmd[160];
	struct pollfd	pfd;
	pid_t		pid;
	int		fd, p[2], status;
	ssize_t		n;

	fd = tun_open_flags(name, 0, NULL);
	CHECK(fd >= 0, "tun_open_flags wgtest2");
	if (fd == -1 || pipe(p) == -1)
		return;
	if ((pid = fork()) == 0) {
		/* The other namespace lives as long as this child. */
		close(p[0]);
		if (unshare(CLONE_NEWNET) == -1)
			_exit(1);
		if (write(p[1], "x", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	close(p[1]);
	CHECK(read(p[0], buf, 1) == 1, "child namespace ready");
	close(p[0]);
	snprintf(cmd, sizeof(cmd), "ip link set dev %s netns %d", name,
	    (int)pid);
	CHECK(system(cmd) == 0, "%s", cmd);
	CHECK(nl_link_index(name) == -ENODEV, "moved out of our namespace");
	pfd.fd = fd;
	pfd.events = POLLIN;
	pfd.revents = 0;
	CHECK(poll(&pfd, 1, 0) == 0, "no POLLERR while it lives elsewhere");
	snprintf(cmd, sizeof(cmd), "nsenter -t %d -n ip link del %s",
	    (int)pid, name);
	CHECK(system(cmd) == 0, "%s", cmd);
	CHECK(poll(&pfd, 1, 1000) == 1 && (pfd.revents & POLLERR),
	    "POLLERR after deletion elsewhere (revents %#x)", pfd.revents);
	n = read(fd, buf, sizeof(buf));
	CHECK(n == -1 && errno == EBADFD, "read after deletion elsewhere: "
	    "%zd %s", n, strerror(errno));
	close(fd);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
}

static void
test_dummy(void)
{
	int	r, idx;

	r = nl_link_add_dummy("wgdummy0");
	if (r == -EOPNOTSUPP) {
		printf("dummy driver missing: dummy test skipped\n");
		return;
	}
	CHECK(r == 0, "nl_link_add_dummy: %d", r);
	CHECK(nl_link_add_dummy("wgdummy0") == -EEXIST, "twice");
	idx = nl_link_index("wgdummy0");
	CHECK(idx > 0, "dummy index");
	CHECK(nl_link_del(idx) == 0, "dummy del");
	CHECK(nl_link_index("wgdummy0") == -ENODEV, "dummy gone");
}

int
main(void)
{
	log_init(1, LOG_DAEMON);
	log_setverbose(1);
	log_procinit("test_netlink");
	if (geteuid() != 0 || unshare(CLONE_NEWNET) == -1) {
		printf("not root or no unshare(CLONE_NEWNET): skipped\n");
		return test_done();
	}
	CHECK(nl_link_set_up(nl_link_index("lo")) == 0, "lo up");
	test_tun();
	test_addr_route();
	test_tun_deleted();
	test_tun_moved();
	test_dummy();
	return test_done();
}
