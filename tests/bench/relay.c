/*
 * relay.c: the floor of a user-space tunnel (docs/performance.md, "Idle
 * latency: the floor of a user-space tunnel"; tests/bench/latency.sh,
 * variants floor-uring, floor-poll and floor-threads). Each packet read
 * from a TUN device goes out unchanged as one UDP datagram to the peer,
 * each datagram received goes into the TUN device unchanged: no
 * encryption, no header, no lookup, no timer. Two of these, one at each
 * end of a veth pair, make a "tunnel" with the same wakeups and kernel
 * paths as wgcardd's or wireguard-go's (TUN read, UDP send, UDP receive,
 * TUN write) and none of their work.
 *
 *	relay MODE TUNNAME LOCALPORT PEERADDR PEERPORT
 *
 * MODE, each a complete way of waiting:
 *
 *	uring	as the forwarder waits (netd/fwd_uring.c): one ring made by
 *		the forwarder's own fwd_ring_setup (netd/fwd_ring.c:
 *		COOP_TASKRUN | SINGLE_ISSUER, the TUN and the socket fixed
 *		files, the buffers one registered buffer), one multishot
 *		READ on TUN and one multishot RECVMSG on the socket, each
 *		into a provided-buffer ring; each packet becomes a SENDMSG
 *		or WRITE_FIXED SQE, submitted by the next
 *		io_uring_submit_and_wait_timeout, which also waits.
 *	poll	ppoll(2) on both (non-blocking) descriptors, then one
 *		read(2) and sendto(2), or one recvfrom(2) and write(2), per
 *		descriptor found readable (at idle each wakeup brings one
 *		packet: draining to EAGAIN would cost one more call).
 *	threads	two threads: one blocks in read(2) on TUN and sends with
 *		sendto(2), the other blocks in recvfrom(2) and writes to
 *		TUN (wireguard-go's kernel path without its goroutine
 *		hand-offs).
 *
 * The TUN device (IFF_TUN | IFF_NO_PI, netd/tun.c's tun_open_flags) is
 * made, or attached to, by the program; the caller addresses it and sets
 * it up. The socket is bound to LOCALPORT on every address of PEERADDR's
 * family (IPv4 or IPv6, numeric). Prints "ready" once both are there;
 * runs until SIGINT, SIGTERM or its parent's death (PR_SET_PDEATHSIG),
 * then prints its counters: packets TUN to UDP and UDP to TUN, those it
 * failed to send or write (dropped; the IPv6 packets a TUN sends as it
 * comes up, before the other end's is up, are), and waits: returns from
 * the wait (ppoll, io_uring_enter; for threads, the blocking read or
 * receive) that brought packets, whether the wait slept or not (the
 * ICMP answer that a TUN write makes is there when the next wait begins).
 */
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <netinet/in.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <liburing.h>

#include "fwd_ring.h"
#include "tun.h"

#define RL_BUF		2048		/* > MTU 1500 + recvmsg header */
#define RL_HALF		32		/* buffers for each direction */
#define RL_NBUF		(2 * RL_HALF)
#define RL_GRP_UDP	0		/* provided buffers, ids 0..31 */
#define RL_GRP_TUN	1		/* ids 32..63 */
#define RL_SLOT_TUN	0		/* fixed files */
#define RL_SLOT_UDP	1
#define RL_NAMELEN	CMSG_ALIGN(sizeof(struct sockaddr_in6))
#define RL_WAIT_MS	1000		/* the ring's wait, as a timer's */

/* user_data: kind << 32 | buffer id. */
enum { RL_K_TUNREAD = 1, RL_K_RECV, RL_K_SEND, RL_K_WRITE };
#define RL_UD(k, id)	((uint64_t)(k) << 32 | (uint32_t)(id))

struct rl_count {
	unsigned long long	tun_udp;	/* TUN -> UDP */
	unsigned long long	udp_tun;	/* UDP -> TUN */
	unsigned long long	dropped;
	unsigned long long	waits;
};

static volatile sig_atomic_t	 rl_stop;
static int			 rl_tun = -1, rl_udp = -1;
static struct sockaddr_storage	 rl_peer;
static socklen_t		 rl_peerlen;
static sigset_t			 rl_waitmask;	/* the mask while waiting */
static struct rl_count		 rl_cnt;

static void
rl_signal(int sig)
{
	(void)sig;
	rl_stop = 1;
}

static void
rl_set_nonblock(int fd, int on)
{
	int	fl;

	if ((fl = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK) == -1)
		err(1, "fcntl");
}

/* Counted from two threads in threads mode. */
static void
rl_add(unsigned long long *c)
{
	__atomic_fetch_add(c, 1, __ATOMIC_RELAXED);
}

static unsigned long long
rl_get(unsigned long long *c)
{
	return __atomic_load_n(c, __ATOMIC_RELAXED);
}

/* A read(2) or recvfrom(2) error that ends the relay. */
static void
rl_check_read(ssize_t n, const char *what)
{
	if (n == 0)
		errx(1, "%s: end of file", what);
	if (errno == EINTR || errno == EAGAIN)
		return;
	/* EBADFD: the TUN device was deleted (netd/tun.h). */
	err(1, "%s", what);
}

/* ---------------------------------------------------------------- poll */

static void
rl_run_poll(void)
{
	struct pollfd	pfd[2];
	uint8_t		buf[RL_BUF];
	ssize_t		n;
	int		r;

	rl_set_nonblock(rl_tun, 1);
	rl_set_nonblock(rl_udp, 1);
	pfd[0].fd = rl_tun;
	pfd[1].fd = rl_udp;
	while (!rl_stop) {
		pfd[0].events = pfd[1].events = POLLIN;
		pfd[0].revents = pfd[1].revents = 0;
		if ((r = ppoll(pfd, 2, NULL, &rl_waitmask)) == -1) {
			if (errno == EINTR)
				continue;
			err(1, "ppoll");
		}
		if (r > 0)
			rl_cnt.waits++;
		if (pfd[0].revents != 0) {
			if ((n = read(rl_tun, buf, sizeof(buf))) <= 0)
				rl_check_read(n, "read(TUN)");
			else if (sendto(rl_udp, buf, (size_t)n, 0,
			    (struct sockaddr *)&rl_peer, rl_peerlen) == n)
				rl_cnt.tun_udp++;
			else
				rl_cnt.dropped++;
		}
		if (pfd[1].revents != 0) {
			if ((n = recvfrom(rl_udp, buf, sizeof(buf), 0, NULL,
			    NULL)) <= 0)
				rl_check_read(n, "recvfrom");
			else if (write(rl_tun, buf, (size_t)n) == n)
				rl_cnt.udp_tun++;
			else
				rl_cnt.dropped++;
		}
	}
}

/* ------------------------------------------------------------- threads */

static void *
rl_thread_tun(void *arg)
{
	uint8_t	buf[RL_BUF];
	ssize_t	n;

	(void)arg;
	for (;;) {
		if ((n = read(rl_tun, buf, sizeof(buf))) <= 0) {
			rl_check_read(n, "read(TUN)");
			continue;
		}
		rl_add(&rl_cnt.waits);
		if (sendto(rl_udp, buf, (size_t)n, 0,
		    (struct sockaddr *)&rl_peer, rl_peerlen) == n)
			rl_add(&rl_cnt.tun_udp);
		else
			rl_add(&rl_cnt.dropped);
	}
	return NULL;
}

static void *
rl_thread_udp(void *arg)
{
	uint8_t	buf[RL_BUF];
	ssize_t	n;

	(void)arg;
	for (;;) {
		if ((n = recvfrom(rl_udp, buf, sizeof(buf), 0, NULL,
		    NULL)) <= 0) {
			rl_check_read(n, "recvfrom");
			continue;
		}
		rl_add(&rl_cnt.waits);
		if (write(rl_tun, buf, (size_t)n) == n)
			rl_add(&rl_cnt.udp_tun);
		else
			rl_add(&rl_cnt.dropped);
	}
	return NULL;
}

/*
 * The threads start with SIGINT and SIGTERM blocked (main's mask), so
 * only main takes them, in sigwait(3); exit(3) then ends the threads in
 * their blocking calls.
 */
static void
rl_run_threads(void)
{
	pthread_t	th[2];
	sigset_t	set;
	int		sig;

	rl_set_nonblock(rl_tun, 0);
	rl_set_nonblock(rl_udp, 0);
	if ((errno = pthread_create(&th[0], NULL, rl_thread_tun, NULL)) != 0 ||
	    (errno = pthread_create(&th[1], NULL, rl_thread_udp, NULL)) != 0)
		err(1, "pthread_create");
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	while (sigwait(&set, &sig) != 0)
		;
}

/* --------------------------------------------------------------- uring */

struct rl_ring {
	struct io_uring			 ring;
	struct io_uring_buf_ring	*br[2];		/* by group */
	unsigned			 br_mask;
	int				 br_add[2];	/* added, not advanced */
	uint8_t				*bufs;
	struct msghdr			 rmsg;		/* the receive's layout */
	struct msghdr			 mh[RL_NBUF];	/* sends, by buffer */
	struct iovec			 iov[RL_NBUF];
};

static uint8_t *
rl_buf(struct rl_ring *t, unsigned id)
{
	return t->bufs + (size_t)id * RL_BUF;
}

static int
rl_grp(unsigned id)
{
	return id < RL_HALF ? RL_GRP_UDP : RL_GRP_TUN;
}

static int
rl_pbuf_setup(struct io_uring *ring, void *arg)
{
	struct rl_ring		*t = arg;
	struct io_uring_buf_reg	 reg;
	int			 g, r;

	for (g = 0; g < 2; g++) {
		t->br[g] = mmap(NULL, RL_HALF * sizeof(struct io_uring_buf),
		    PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
		if (t->br[g] == MAP_FAILED)
			return -1;
		memset(&reg, 0, sizeof(reg));
		reg.ring_addr = (unsigned long)t->br[g];
		reg.ring_entries = RL_HALF;
		reg.bgid = (unsigned short)g;
		if ((r = io_uring_register_buf_ring(ring, &reg, 0)) < 0) {
			errno = -r;
			return -1;
		}
		io_uring_buf_ring_init(t->br[g]);
	}
	t->br_mask = io_uring_buf_ring_mask(RL_HALF);
	return 0;
}

/* A buffer back to its group's ring (made visible by rl_pbuf_flush). */
static void
rl_pbuf_put(struct rl_ring *t, unsigned id)
{
	int	g = rl_grp(id);

	if (id >= RL_NBUF)
		errx(1, "buffer id %u out of range", id);
	io_uring_buf_ring_add(t->br[g], rl_buf(t, id), RL_BUF,
	    (unsigned short)id, t->br_mask, t->br_add[g]++);
}

static void
rl_pbuf_flush(struct rl_ring *t)
{
	int	g;

	for (g = 0; g < 2; g++) {
		if (t->br_add[g] > 0)
			io_uring_buf_ring_advance(t->br[g], t->br_add[g]);
		t->br_add[g] = 0;
	}
}

static struct io_uring_sqe *
rl_sqe(struct rl_ring *t)
{
	struct io_uring_sqe	*sqe;

	/* SQ entries (256) > buffers (64) + 2 multishots. */
	if ((sqe = io_uring_get_sqe(&t->ring)) == NULL)
		errx(1, "submission queue full");
	return sqe;
}

/* A completion: 1 if it brought a packet, else 0. */
static int
rl_uring_cqe(struct rl_ring *t, const struct io_uring_cqe *cqe,
    int *tun_armed, int *udp_armed)
{
	struct io_uring_recvmsg_out	*o;
	struct io_uring_sqe		*sqe;
	unsigned			 kind, id;
	uint8_t				*p;

	kind = (unsigned)(cqe->user_data >> 32);
	id = (uint32_t)cqe->user_data;
	switch (kind) {
	case RL_K_SEND:
	case RL_K_WRITE:
		if (cqe->res < 0)
			rl_cnt.dropped++;
		else if (kind == RL_K_SEND)
			rl_cnt.tun_udp++;
		else
			rl_cnt.udp_tun++;
		rl_pbuf_put(t, id);
		return 0;
	case RL_K_TUNREAD:
	case RL_K_RECV:
		break;
	default:
		errx(1, "unknown completion %#llx",
		    (unsigned long long)cqe->user_data);
	}
	if (!(cqe->flags & IORING_CQE_F_MORE)) {
		/* ENOBUFS (all buffers in flight) or an error: re-arm. */
		if (kind == RL_K_TUNREAD)
			*tun_armed = 0;
		else
			*udp_armed = 0;
	}
	if (!(cqe->flags & IORING_CQE_F_BUFFER)) {
		if (cqe->res < 0 && cqe->res != -ENOBUFS &&
		    cqe->res != -EINTR && cqe->res != -EAGAIN)
			errx(1, "%s: %s", kind == RL_K_TUNREAD ?
			    "read(TUN)" : "recvmsg", strerror(-cqe->res));
		return 0;
	}
	id = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
	if (cqe->res <= 0) {
		rl_pbuf_put(t, id);
		return 0;
	}
	p = rl_buf(t, id);
	if (kind == RL_K_TUNREAD) {
		sqe = rl_sqe(t);
		t->iov[id].iov_base = p;
		t->iov[id].iov_len = (size_t)cqe->res;
		t->mh[id].msg_name = &rl_peer;
		t->mh[id].msg_namelen = rl_peerlen;
		t->mh[id].msg_iov = &t->iov[id];
		t->mh[id].msg_iovlen = 1;
		io_uring_prep_sendmsg(sqe, RL_SLOT_UDP, &t->mh[id], 0);
		io_uring_sqe_set_data64(sqe, RL_UD(RL_K_SEND, id));
	} else {
		o = io_uring_recvmsg_validate(p, cqe->res, &t->rmsg);
		if (o == NULL || (o->flags & MSG_TRUNC)) {
			rl_cnt.dropped++;
			rl_pbuf_put(t, id);
			return 1;
		}
		sqe = rl_sqe(t);
		io_uring_prep_write_fixed(sqe, RL_SLOT_TUN,
		    io_uring_recvmsg_payload(o, &t->rmsg),
		    io_uring_recvmsg_payload_length(o, cqe->res, &t->rmsg),
		    0, 0);
		io_uring_sqe_set_data64(sqe, RL_UD(RL_K_WRITE, id));
	}
	sqe->flags |= IOSQE_FIXED_FILE;
	return 1;
}

static void
rl_run_uring(void)
{
	static struct rl_ring	 rr;
	struct rl_ring		*t = &rr;
	struct io_uring_sqe	*sqe;
	struct io_uring_cqe	*cqe;
	struct __kernel_timespec ts;
	const char		*why = "";
	unsigned		 head, seen, id;
	int			 fds[2], tun_armed = 0, udp_armed = 0, got, r;

	/* Blocking files: the ring waits for readiness (as fwd_uring.c). */
	rl_set_nonblock(rl_tun, 0);
	rl_set_nonblock(rl_udp, 0);
	if ((t->bufs = aligned_alloc(4096, (size_t)RL_NBUF * RL_BUF)) == NULL)
		err(1, "aligned_alloc");
	memset(t->bufs, 0, (size_t)RL_NBUF * RL_BUF);
	fds[RL_SLOT_TUN] = rl_tun;
	fds[RL_SLOT_UDP] = rl_udp;
	if (fwd_ring_setup(&t->ring, 256, 1024, t->bufs,
	    (size_t)RL_NBUF * RL_BUF, fds, 2, rl_pbuf_setup, t, &why) == -1)
		err(1, "fwd_ring_setup: %s", why);
	if (!fwd_ring_read_mshot)
		errx(1, "this kernel has no multishot read (Linux 6.7)");
	for (id = 0; id < RL_NBUF; id++)
		rl_pbuf_put(t, id);
	rl_pbuf_flush(t);
	t->rmsg.msg_namelen = RL_NAMELEN;

	while (!rl_stop) {
		/* Keep the reads posted, as ur_post. */
		if (!tun_armed) {
			sqe = rl_sqe(t);
			io_uring_prep_rw(FWD_OP_READ_MULTISHOT, sqe,
			    RL_SLOT_TUN, NULL, 0, 0);
			sqe->flags |= IOSQE_FIXED_FILE | IOSQE_BUFFER_SELECT;
			sqe->buf_group = RL_GRP_TUN;
			io_uring_sqe_set_data64(sqe, RL_UD(RL_K_TUNREAD, 0));
			tun_armed = 1;
		}
		if (!udp_armed) {
			sqe = rl_sqe(t);
			io_uring_prep_recvmsg_multishot(sqe, RL_SLOT_UDP,
			    &t->rmsg, 0);
			sqe->flags |= IOSQE_FIXED_FILE | IOSQE_BUFFER_SELECT;
			sqe->buf_group = RL_GRP_UDP;
			io_uring_sqe_set_data64(sqe, RL_UD(RL_K_RECV, 0));
			udp_armed = 1;
		}
		/* The sends and writes queued last round go in with it. */
		ts.tv_sec = RL_WAIT_MS / 1000;
		ts.tv_nsec = (long long)(RL_WAIT_MS % 1000) * 1000000;
		r = io_uring_submit_and_wait_timeout(&t->ring, &cqe, 1, &ts,
		    &rl_waitmask);
		if (r < 0 && r != -ETIME && r != -EINTR && r != -EAGAIN &&
		    r != -EBUSY)
			errx(1, "io_uring_enter: %s", strerror(-r));
		seen = 0;
		got = 0;
		io_uring_for_each_cqe(&t->ring, head, cqe) {
			seen++;
			got += rl_uring_cqe(t, cqe, &tun_armed, &udp_armed);
		}
		io_uring_cq_advance(&t->ring, seen);
		rl_pbuf_flush(t);
		if (got > 0)
			rl_cnt.waits++;
	}
	io_uring_queue_exit(&t->ring);
}

/* ---------------------------------------------------------------- main */

static __attribute__((__noreturn__)) void
rl_usage(void)
{
	fprintf(stderr, "usage: relay uring|poll|threads TUNNAME LOCALPORT "
	    "PEERADDR PEERPORT\n");
	exit(2);
}

static unsigned short
rl_port(const char *s)
{
	char	*end;
	long	 v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *s == '\0' || *end != '\0' || v < 1 || v > 65535)
		errx(2, "bad port '%s'", s);
	return (unsigned short)v;
}

int
main(int argc, char *argv[])
{
	struct sigaction	 sa;
	struct addrinfo		 hints, *ai;
	struct sockaddr_storage	 local;
	sigset_t		 block;
	char			 ifname[IFNAMSIZ];
	const char		*mode;
	unsigned short		 lport;
	pid_t			 parent;
	int			 r;

	if (argc != 6)
		rl_usage();
	mode = argv[1];
	if (strcmp(mode, "uring") != 0 && strcmp(mode, "poll") != 0 &&
	    strcmp(mode, "threads") != 0)
		rl_usage();
	if (strlen(argv[2]) >= IFNAMSIZ)
		errx(2, "interface name '%s' too long", argv[2]);
	lport = rl_port(argv[3]);
	memset(&hints, 0, sizeof(hints));
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	hints.ai_socktype = SOCK_DGRAM;
	if ((r = getaddrinfo(argv[4], argv[5], &hints, &ai)) != 0)
		errx(2, "peer %s port %s: %s", argv[4], argv[5],
		    gai_strerror(r));
	(void)rl_port(argv[5]);
	memcpy(&rl_peer, ai->ai_addr, ai->ai_addrlen);
	rl_peerlen = ai->ai_addrlen;
	freeaddrinfo(ai);

	/* Nothing outlives the script that started it. */
	parent = getppid();
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) == -1)
		err(1, "prctl(PR_SET_PDEATHSIG)");
	/*
	 * SIGINT and SIGTERM are blocked but while waiting (ppoll's and
	 * io_uring_enter's mask; sigwait in threads mode), so a stop that
	 * comes between two waits ends the next one at once.
	 */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = rl_signal;
	if (sigaction(SIGINT, &sa, NULL) == -1 ||
	    sigaction(SIGTERM, &sa, NULL) == -1)
		err(1, "sigaction");
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	if ((errno = pthread_sigmask(SIG_BLOCK, &block, &rl_waitmask)) != 0)
		err(1, "pthread_sigmask");
	sigdelset(&rl_waitmask, SIGINT);
	sigdelset(&rl_waitmask, SIGTERM);
	if (getppid() != parent)
		errx(1, "parent gone");

	memset(ifname, 0, sizeof(ifname));
	memcpy(ifname, argv[2], strlen(argv[2]));
	if ((rl_tun = tun_open_flags(ifname, 0, NULL)) == -1)
		err(1, "TUN %s", argv[2]);
	if ((rl_udp = socket(rl_peer.ss_family, SOCK_DGRAM | SOCK_CLOEXEC,
	    0)) == -1)
		err(1, "socket");
	memset(&local, 0, sizeof(local));
	if (rl_peer.ss_family == AF_INET6) {
		struct sockaddr_in6	*s6 = (struct sockaddr_in6 *)&local;

		s6->sin6_family = AF_INET6;
		s6->sin6_addr = in6addr_any;
		s6->sin6_port = htons(lport);
	} else {
		struct sockaddr_in	*s4 = (struct sockaddr_in *)&local;

		s4->sin_family = AF_INET;
		s4->sin_addr.s_addr = htonl(INADDR_ANY);
		s4->sin_port = htons(lport);
	}
	if (bind(rl_udp, (struct sockaddr *)&local, rl_peerlen) == -1)
		err(1, "bind to port %u", lport);
	printf("ready %s mode=%s\n", ifname, mode);
	fflush(stdout);

	if (strcmp(mode, "uring") == 0)
		rl_run_uring();
	else if (strcmp(mode, "poll") == 0)
		rl_run_poll();
	else
		rl_run_threads();
	printf("relay %s: tun_to_udp=%llu udp_to_tun=%llu dropped=%llu "
	    "waits=%llu\n", mode, rl_get(&rl_cnt.tun_udp),
	    rl_get(&rl_cnt.udp_tun), rl_get(&rl_cnt.dropped),
	    rl_get(&rl_cnt.waits));
	return 0;
}
