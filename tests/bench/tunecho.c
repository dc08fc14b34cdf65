/*
 * tunecho.c: the TUN I/O study (docs/performance.md, "TUN I/O study";
 * tests/bench/tunstudy.sh drives it). Reads IPv4 ICMP echo requests from
 * a TUN interface and writes the echo replies back (addresses swapped,
 * type 0, the ICMP checksum fixed incrementally; anything else is
 * counted and dropped), with one of four I/O methods:
 *
 *	blocking	blocking read(2) and write(2), one of each per packet
 *	event		non-blocking fd and epoll(7): on each wakeup, read until
 *			EAGAIN, each reply written at once with write(2)
 *	uring		io_uring as a drop-in: one READ SQE, wait for it, one
 *			WRITE SQE, wait for it (one io_uring_enter each)
 *	uring-batch	io_uring as the forwarder runs it (netd/fwd_uring.c),
 *			on a ring made by the forwarder's own
 *			fwd_ring_setup (netd/fwd_ring.c): the TUN a
 *			fixed file, the packet buffers one registered buffer,
 *			one multishot READ (Linux 6.7; -r or an older kernel:
 *			two READ_FIXED kept posted) into a provided-buffer
 *			ring, completions reaped in batches, each reply a
 *			WRITE_FIXED SQE, all of them submitted by the
 *			io_uring_enter that waits for the next completions
 *
 * The single-queue TUN is opened by netd/tun.c's tun_open_flags
 * (O_NONBLOCK, cleared again where the method wants a blocking fd, as
 * fwd_uring.c does). With -q N the TUN has N queues (IFF_MULTI_QUEUE),
 * each served by its own thread with its own fd, epoll instance or ring.
 *
 * uring-batch with -w waits, in each io_uring_enter, for the completions
 * of the replies it submits plus one more, not for any one completion (a
 * reply's write completes during the submit, which would end the wait at
 * once and cost a second io_uring_enter per packet at low load).
 *
 *	tunecho -m METHOD [-rw] [-q queues] ifname
 *
 * Prints "ready" once the interface exists; runs until SIGINT or
 * SIGTERM, then prints its counters: echoed (replies written), other
 * (packets ignored), wakeups (returns from a blocking wait that brought
 * packets: read, epoll_wait, io_uring_enter), echoed per wakeup, and the
 * largest batch of one wakeup; a line per queue when there are several.
 */
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include <net/if.h>
#include <linux/if_tun.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <liburing.h>

#include "fwd_ring.h"
#include "tun.h"

#define TE_BUF		2048		/* > MTU 1500 */
#define TE_NBUF		64		/* packet buffers per queue */
#define TE_BGID		1
#define TE_READS	2		/* posted READ_FIXED without multishot */
#define TE_QMAX		8
#define TE_EVMAX	16

enum te_method { TE_BLOCKING, TE_EVENT, TE_URING, TE_URING_BATCH };

static const char *const te_names[] = {
	"blocking", "event", "uring", "uring-batch",
};

struct te_queue {
	pthread_t		 th;
	int			 fd;
	int			 idx;
	unsigned long long	 echoed;
	unsigned long long	 other;
	unsigned long long	 wakeups;
	unsigned long long	 maxbatch;
	char			 err[128];
};

static volatile sig_atomic_t	te_stop;
static enum te_method		te_method;
static int			te_no_mshot;
static int			te_wait_writes;
static pthread_mutex_t		te_setup_mtx = PTHREAD_MUTEX_INITIALIZER;

static void
te_signal(int sig)
{
	if (sig != SIGUSR1)
		te_stop = 1;
}

/* One queue of a multiqueue TUN (tun.c knows no IFF_MULTI_QUEUE). */
static int
te_open_mq(const char *ifname)
{
	struct ifreq	ifr;
	int		fd, busy = 0, saved_errno;

	if ((fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC)) == -1)
		return -1;
	for (;;) {
		memset(&ifr, 0, sizeof(ifr));
		ifr.ifr_flags = IFF_TUN | IFF_NO_PI | IFF_MULTI_QUEUE;
		memcpy(ifr.ifr_name, ifname, strnlen(ifname, IFNAMSIZ - 1));
		if (ioctl(fd, TUNSETIFF, &ifr) == 0)
			return fd;
		/* The TUN of a run before may linger (as in tun.c). */
		if (errno != EBUSY || busy++ >= 40)
			break;
		usleep(50 * 1000);
	}
	saved_errno = errno;
	close(fd);
	errno = saved_errno;
	return -1;
}

static void
te_set_nonblock(int fd, int on)
{
	int	fl;

	if ((fl = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK) == -1)
		err(1, "fcntl");
}

/* Turns the echo request in p into its reply: 0, or -1 (not one). */
static int
te_echo(uint8_t *p, size_t len)
{
	uint8_t		tmp[4];
	uint32_t	sum;
	size_t		ihl;

	if (len < 20 || (p[0] >> 4) != 4 || p[9] != 1 /* ICMP */)
		return -1;
	ihl = (size_t)(p[0] & 15) * 4;
	if (ihl < 20 || len < ihl + 8 || p[ihl] != 8 || p[ihl + 1] != 0 ||
	    (p[6] & 0x3f) != 0 || p[7] != 0)	/* fragments */
		return -1;
	/* Swapped addresses leave the IP header checksum as it is. */
	memcpy(tmp, p + 12, 4);
	memcpy(p + 12, p + 16, 4);
	memcpy(p + 16, tmp, 4);
	p[ihl] = 0;
	/*
	 * RFC 1624: the type/code word went down by 0x0800, so the
	 * checksum (its one's complement sum's complement) goes up by it.
	 */
	sum = (uint32_t)((p[ihl + 2] << 8) | p[ihl + 3]) + 0x0800;
	sum = (sum & 0xffff) + (sum >> 16);
	p[ihl + 2] = (uint8_t)(sum >> 8);
	p[ihl + 3] = (uint8_t)sum;
	return 0;
}

static void
te_batch(struct te_queue *q, unsigned long long n)
{
	if (n == 0)
		return;
	q->wakeups++;
	if (n > q->maxbatch)
		q->maxbatch = n;
}

/* 1: blocking read, blocking write. */
static void
te_run_blocking(struct te_queue *q)
{
	uint8_t	buf[TE_BUF];
	ssize_t	n;

	te_set_nonblock(q->fd, 0);
	while (!te_stop) {
		if ((n = read(q->fd, buf, sizeof(buf))) <= 0) {
			if (n == -1 && errno != EINTR && errno != EAGAIN)
				snprintf(q->err, sizeof(q->err), "read: %s",
				    strerror(errno));
			if (n == -1 && errno != EINTR && errno != EAGAIN)
				return;
			continue;
		}
		te_batch(q, 1);
		if (te_echo(buf, (size_t)n) == -1)
			q->other++;
		else if (write(q->fd, buf, (size_t)n) == n)
			q->echoed++;
	}
}

/* 2: epoll, reads drained to EAGAIN, each reply written at once. */
static void
te_run_event(struct te_queue *q)
{
	struct epoll_event	ev, evs[TE_EVMAX];
	uint8_t			buf[TE_BUF];
	unsigned long long	got;
	ssize_t			n;
	int			ep;

	te_set_nonblock(q->fd, 1);
	if ((ep = epoll_create1(EPOLL_CLOEXEC)) == -1)
		err(1, "epoll_create1");
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, q->fd, &ev) == -1)
		err(1, "epoll_ctl");
	while (!te_stop) {
		if (epoll_wait(ep, evs, TE_EVMAX, -1) <= 0)
			continue;
		got = 0;
		while ((n = read(q->fd, buf, sizeof(buf))) > 0) {
			got++;
			if (te_echo(buf, (size_t)n) == -1)
				q->other++;
			else if (write(q->fd, buf, (size_t)n) == n)
				q->echoed++;
		}
		if (n == -1 && errno != EAGAIN && errno != EINTR) {
			snprintf(q->err, sizeof(q->err), "read: %s",
			    strerror(errno));
			break;
		}
		te_batch(q, got);
	}
	close(ep);
}

/* Submits what is queued and waits for one completion: res, or -errno. */
static int
te_uring_wait(struct io_uring *ring, int *res)
{
	struct io_uring_cqe	*cqe;
	int			 r;

	if ((r = io_uring_submit_and_wait(ring, 1)) < 0)
		return r;
	if ((r = io_uring_peek_cqe(ring, &cqe)) != 0)
		return r;
	*res = cqe->res;
	io_uring_cqe_seen(ring, cqe);
	return 0;
}

/* 3: io_uring as a drop-in for read(2) and write(2). */
static void
te_run_uring(struct te_queue *q)
{
	struct io_uring		 ring;
	struct io_uring_sqe	*sqe;
	uint8_t			 buf[TE_BUF];
	int			 n, r, pending = 0;

	/* A blocking fd: the ring waits for readiness (as fwd_uring.c). */
	te_set_nonblock(q->fd, 0);
	if ((r = io_uring_queue_init(8, &ring, 0)) < 0)
		errx(1, "io_uring_queue_init: %s", strerror(-r));
	while (!te_stop) {
		if (!pending) {
			sqe = io_uring_get_sqe(&ring);
			io_uring_prep_read(sqe, q->fd, buf, sizeof(buf), 0);
			pending = 1;
		}
		/* EINTR (the stop signal) leaves the read posted. */
		if (te_uring_wait(&ring, &n) < 0)
			continue;
		pending = 0;
		if (n <= 0) {
			if (n != -EINTR && n != -EAGAIN) {
				snprintf(q->err, sizeof(q->err), "read: %s",
				    strerror(-n));
				break;
			}
			continue;
		}
		te_batch(q, 1);
		if (te_echo(buf, (size_t)n) == -1) {
			q->other++;
			continue;
		}
		sqe = io_uring_get_sqe(&ring);
		io_uring_prep_write(sqe, q->fd, buf, (unsigned)n, 0);
		while ((r = te_uring_wait(&ring, &n)) == -EINTR)
			;
		if (r == 0 && n > 0)
			q->echoed++;
	}
	io_uring_queue_exit(&ring);
}

/* 4: the forwarder's way. */

/* user_data: kind << 32 | buffer id. */
#define TE_UD_MSHOT	1ULL
#define TE_UD_READ	2ULL
#define TE_UD_WRITE	3ULL
#define TE_UD(k, id)	((k) << 32 | (uint32_t)(id))

struct te_ring {
	struct io_uring			 ring;
	struct io_uring_buf_ring	*br;
	unsigned			 br_mask;
	int				 br_add;	/* added, not advanced */
	uint8_t				*bufs;
};

static uint8_t *
te_buf(struct te_ring *t, unsigned id)
{
	return t->bufs + (size_t)id * TE_BUF;
}

static int
te_pbuf_setup(struct io_uring *ring, void *arg)
{
	struct te_ring		*t = arg;
	struct io_uring_buf_reg	 reg;
	int			 r;

	t->br = mmap(NULL, TE_NBUF * sizeof(struct io_uring_buf),
	    PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
	if (t->br == MAP_FAILED)
		return -1;
	memset(&reg, 0, sizeof(reg));
	reg.ring_addr = (unsigned long)t->br;
	reg.ring_entries = TE_NBUF;
	reg.bgid = TE_BGID;
	if ((r = io_uring_register_buf_ring(ring, &reg, 0)) < 0) {
		errno = -r;
		return -1;
	}
	io_uring_buf_ring_init(t->br);
	t->br_mask = io_uring_buf_ring_mask(TE_NBUF);
	return 0;
}

/* A buffer goes back to the kernel (made visible by te_pbuf_flush). */
static void
te_pbuf_put(struct te_ring *t, unsigned id)
{
	io_uring_buf_ring_add(t->br, te_buf(t, id), TE_BUF,
	    (unsigned short)id, t->br_mask, t->br_add++);
}

static void
te_pbuf_flush(struct te_ring *t)
{
	if (t->br_add > 0)
		io_uring_buf_ring_advance(t->br, t->br_add);
	t->br_add = 0;
}

static void
te_run_uring_batch(struct te_queue *q)
{
	static struct te_ring	 rings[TE_QMAX];
	struct te_ring		*t = &rings[q->idx];
	struct io_uring_sqe	*sqe;
	struct io_uring_cqe	*cqe;
	const char		*why = "";
	uint8_t			*p;
	unsigned		 head, seen, id, kind, free_ids[TE_NBUF];
	unsigned		 nfree = 0;
	unsigned long long	 got;
	int			 armed = 0, reads = 0, writes = 0, mshot, r;

	te_set_nonblock(q->fd, 0);
	if ((t->bufs = aligned_alloc(4096, (size_t)TE_NBUF * TE_BUF)) == NULL)
		err(1, "aligned_alloc");
	pthread_mutex_lock(&te_setup_mtx);
	r = fwd_ring_setup(&t->ring, 256, 1024, t->bufs,
	    (size_t)TE_NBUF * TE_BUF, &q->fd, 1, te_pbuf_setup, t, &why);
	mshot = fwd_ring_read_mshot && !te_no_mshot;
	pthread_mutex_unlock(&te_setup_mtx);
	if (r == -1)
		err(1, "fwd_ring_setup: %s", why);
	if (mshot) {
		for (id = 0; id < TE_NBUF; id++)
			te_pbuf_put(t, id);
		te_pbuf_flush(t);
	} else
		for (id = 0; id < TE_NBUF; id++)
			free_ids[nfree++] = id;

	while (!te_stop) {
		/* Keep the reads posted. */
		if (mshot && !armed) {
			sqe = io_uring_get_sqe(&t->ring);
			io_uring_prep_rw(FWD_OP_READ_MULTISHOT, sqe, 0, NULL, 0,
			    0);
			sqe->flags |= IOSQE_FIXED_FILE | IOSQE_BUFFER_SELECT;
			sqe->buf_group = TE_BGID;
			io_uring_sqe_set_data64(sqe, TE_UD(TE_UD_MSHOT, 0));
			armed = 1;
		}
		while (!mshot && reads < TE_READS && nfree > 0) {
			id = free_ids[--nfree];
			sqe = io_uring_get_sqe(&t->ring);
			io_uring_prep_read_fixed(sqe, 0, te_buf(t, id), TE_BUF,
			    0, 0);
			sqe->flags |= IOSQE_FIXED_FILE;
			io_uring_sqe_set_data64(sqe, TE_UD(TE_UD_READ, id));
			reads++;
		}
		/*
		 * The replies queued last round go in with the wait. A TUN
		 * write completes at once, and its completion alone ends a
		 * wait for 1: with -w, the wait is for those and one more.
		 */
		r = io_uring_submit_and_wait(&t->ring, te_wait_writes ?
		    1 + (unsigned)writes : 1);
		writes = 0;
		if (r < 0 && r != -EINTR && r != -EAGAIN && r != -EBUSY) {
			snprintf(q->err, sizeof(q->err), "io_uring_enter: %s",
			    strerror(-r));
			break;
		}
		seen = 0;
		got = 0;
		io_uring_for_each_cqe(&t->ring, head, cqe) {
			seen++;
			kind = (unsigned)(cqe->user_data >> 32);
			if (kind == TE_UD_WRITE) {
				id = (uint32_t)cqe->user_data;
				if (cqe->res > 0)
					q->echoed++;
				if (mshot)
					te_pbuf_put(t, id);
				else
					free_ids[nfree++] = id;
				continue;
			}
			if (kind == TE_UD_MSHOT) {
				if (!(cqe->flags & IORING_CQE_F_MORE))
					armed = 0;	/* ENOBUFS: re-arm */
				if (!(cqe->flags & IORING_CQE_F_BUFFER))
					continue;
				id = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
			} else {
				id = (uint32_t)cqe->user_data;
				reads--;
			}
			if (cqe->res <= 0) {
				if (mshot)
					te_pbuf_put(t, id);
				else
					free_ids[nfree++] = id;
				continue;
			}
			got++;
			p = te_buf(t, id);
			if (te_echo(p, (size_t)cqe->res) == -1) {
				q->other++;
				if (mshot)
					te_pbuf_put(t, id);
				else
					free_ids[nfree++] = id;
				continue;
			}
			/* SQ (256) > buffers (64): never full here. */
			sqe = io_uring_get_sqe(&t->ring);
			io_uring_prep_write_fixed(sqe, 0, p, (unsigned)cqe->res,
			    0, 0);
			sqe->flags |= IOSQE_FIXED_FILE;
			io_uring_sqe_set_data64(sqe, TE_UD(TE_UD_WRITE, id));
			writes++;
		}
		io_uring_cq_advance(&t->ring, seen);
		te_pbuf_flush(t);
		te_batch(q, got);
	}
	io_uring_queue_exit(&t->ring);
}

static void *
te_thread(void *arg)
{
	struct te_queue	*q = arg;

	switch (te_method) {
	case TE_BLOCKING:
		te_run_blocking(q);
		break;
	case TE_EVENT:
		te_run_event(q);
		break;
	case TE_URING:
		te_run_uring(q);
		break;
	case TE_URING_BATCH:
		te_run_uring_batch(q);
		break;
	}
	return NULL;
}

static __attribute__((__noreturn__)) void
te_usage(void)
{
	fprintf(stderr, "usage: tunecho -m blocking|event|uring|uring-batch "
	    "[-rw] [-q queues] ifname\n");
	exit(1);
}

static void
te_print(const char *what, const struct te_queue *q)
{
	printf("%s echoed=%llu other=%llu wakeups=%llu per_wakeup=%.2f "
	    "max_batch=%llu\n", what, q->echoed, q->other, q->wakeups,
	    q->wakeups ? (double)(q->echoed + q->other) / q->wakeups : 0.0,
	    q->maxbatch);
}

int
main(int argc, char *argv[])
{
	static struct te_queue	 qs[TE_QMAX];
	struct te_queue		 sum;
	struct sigaction	 sa;
	struct timespec		 ts;
	sigset_t		 block, old;
	char			 ifname[IFNAMSIZ], what[32];
	const char		*m = NULL;
	int			 ch, nq = 1, i, rc = 0;

	while ((ch = getopt(argc, argv, "m:q:rw")) != -1) {
		switch (ch) {
		case 'm':
			m = optarg;
			break;
		case 'q':
			nq = atoi(optarg);
			break;
		case 'r':
			te_no_mshot = 1;
			break;
		case 'w':
			te_wait_writes = 1;
			break;
		default:
			te_usage();
		}
	}
	if (m == NULL || optind + 1 != argc || nq < 1 || nq > TE_QMAX ||
	    strlen(argv[optind]) >= IFNAMSIZ)
		te_usage();
	for (i = 0; i < 4; i++)
		if (strcmp(m, te_names[i]) == 0)
			break;
	if (i == 4)
		te_usage();
	te_method = (enum te_method)i;
	memset(ifname, 0, sizeof(ifname));
	memcpy(ifname, argv[optind], strlen(argv[optind]));

	/*
	 * SIGINT and SIGTERM are taken by the main thread only (the
	 * workers block them); it then kicks each worker out of its
	 * blocking call with SIGUSR1. No SA_RESTART anywhere.
	 */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = te_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &block, &old);

	for (i = 0; i < nq; i++) {
		qs[i].idx = i;
		if (nq == 1)
			qs[i].fd = tun_open_flags(ifname, 0, NULL);
		else
			qs[i].fd = te_open_mq(ifname);
		if (qs[i].fd == -1)
			err(1, "TUN %s", ifname);
	}
	printf("ready %s method=%s queues=%d\n", ifname, te_names[te_method],
	    nq);
	fflush(stdout);
	for (i = 0; i < nq; i++)
		if ((errno = pthread_create(&qs[i].th, NULL, te_thread,
		    &qs[i])) != 0)
			err(1, "pthread_create");
	while (!te_stop)
		sigsuspend(&old);
	/* Kick until each worker is out (a kick may come just too early). */
	for (i = 0; i < nq; i++) {
		for (;;) {
			pthread_kill(qs[i].th, SIGUSR1);
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 50 * 1000 * 1000;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			if (pthread_timedjoin_np(qs[i].th, NULL, &ts) == 0)
				break;
		}
	}
	memset(&sum, 0, sizeof(sum));
	for (i = 0; i < nq; i++) {
		sum.echoed += qs[i].echoed;
		sum.other += qs[i].other;
		sum.wakeups += qs[i].wakeups;
		if (qs[i].maxbatch > sum.maxbatch)
			sum.maxbatch = qs[i].maxbatch;
		if (qs[i].err[0] != '\0') {
			fprintf(stderr, "tunecho: queue %d: %s\n", i,
			    qs[i].err);
			rc = 1;
		}
		close(qs[i].fd);
	}
	te_print("total", &sum);
	if (nq > 1)
		for (i = 0; i < nq; i++) {
			snprintf(what, sizeof(what), "queue%d", i);
			te_print(what, &qs[i]);
		}
	return rc;
}
