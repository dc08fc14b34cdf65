/*
 * fwd_uring.c: the forwarder's io_uring backend.
 *
 * One ring, set up before privileges are dropped and before the seccomp
 * filter (ur_init, the backend's init): created disabled
 * (IORING_SETUP_R_DISABLED), given its fixed-file table (TUN, the two
 * UDP sockets, the two imsg channels; empty slots are filled later with
 * IORING_OP_FILES_UPDATE), the packet pool as one registered buffer,
 * and a provided-buffer ring for receives; then restricted to the
 * opcode and SQE-flag allowlists of fwd_ring.c, with no register
 * operation left, and enabled. The seccomp filter that
 * follows allows io_uring_enter(2) but neither io_uring_setup(2) nor
 * io_uring_register(2).
 *
 * Reads stay posted so the kernel always has somewhere to put a packet:
 * one multishot READ on TUN (Linux 6.7; before, two READ_FIXED) and one
 * multishot RECVMSG per UDP socket, each taking buffers from its
 * provided-buffer ring, and a multishot POLL_ADD on each imsg channel. Completions are reaped in batches and handed to the
 * packet logic, which queues sends (SENDMSG, with UDP_SEGMENT for GSO)
 * and TUN writes (WRITE_FIXED) as SQEs; one io_uring_enter submits them
 * all and waits for more.
 *
 * The TUN fd and the sockets are made blocking: io_uring then waits for
 * readiness itself (an O_NONBLOCK file would complete reads with
 * -EAGAIN).
 */
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/types.h>

#include <netinet/in.h>
#include <netinet/udp.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <liburing.h>

#include "fwd.h"
#include "fwd_pool.h"
#include "fwd_ring.h"
#include "log.h"
#include "sandbox.h"
#include "sock.h"

/*
 * Ring sizes. A submission queue that fills is submitted at once
 * (ur_sqe). The completion queue holds what completes between two
 * reaps: at most a completion per posted read (UR_PBUF_ENTRIES +
 * UR_TBUF_ENTRIES), per send unit (FWD_TX_MAX) and per TUN write (one
 * per pool buffer), and the channels' polls; the kernel keeps an
 * overflow beyond it (IORING_FEAT_NODROP).
 */
#define UR_ENTRIES	256
#define UR_CQ_ENTRIES	1024
#define UR_TUN_READS	2	/* without READ_MULTISHOT (see ur_post) */
/*
 * Receive buffers (a power of 2), 64 KiB each: a UDP GRO receive fills
 * one with up to 64 KiB of datagrams, so 16 take 1 MiB at a wakeup;
 * when they run out the receive stays queued in the socket until the
 * next wakeup posts them again.
 */
#define UR_PBUF_ENTRIES	16
#define UR_PBUF_GROUP	0
#define UR_TBUF_ENTRIES	8	/* TUN read buffers (power of 2) */
#define UR_TBUF_GROUP	1
#define UR_KEEP_FREE	16	/* buffers kept for sends of our own */
/*
 * A multishot recvmsg lays out, from the start of a (page-aligned) pool
 * buffer: struct io_uring_recvmsg_out, msg_namelen bytes of address, the
 * cmsgs, the payload. The address room is rounded up so the cmsgs are
 * aligned for struct cmsghdr (with 28 bytes for a sockaddr_in6 they were
 * not, and every cmsghdr access was misaligned).
 */
#define UR_NAMELEN	CMSG_ALIGN(sizeof(struct sockaddr_in6))
_Static_assert((sizeof(struct io_uring_recvmsg_out) + UR_NAMELEN) %
    _Alignof(struct cmsghdr) == 0, "recvmsg cmsgs misaligned");

/* Fixed-file slots. */
#define UR_SLOT_TUN	0
#define UR_SLOT_UDP4	1
#define UR_SLOT_UDP6	2
#define UR_SLOT_PARENT	3
#define UR_SLOT_HS	4

/* user_data: kind << 56 | generation << 40 | slot << 32 | id. */
enum {
	UR_K_TUNREAD = 1,
	UR_K_TUNREAD_MS,
	UR_K_TUNWRITE,
	UR_K_RECV,
	UR_K_SEND,
	UR_K_POLLIN,
	UR_K_POLLOUT,
	UR_K_UPDATE,
	UR_K_CANCEL,
};

#define UR_UD(k, g, s, id)	((uint64_t)(k) << 56 | \
				    (uint64_t)((g) & 0xffff) << 40 | \
				    (uint64_t)((s) & 0xff) << 32 | (uint32_t)(id))
#define UR_UD_KIND(u)		((unsigned)((u) >> 56))
#define UR_UD_GEN(u)		((unsigned)(((u) >> 40) & 0xffff))
#define UR_UD_SLOT(u)		((unsigned)(((u) >> 32) & 0xff))
#define UR_UD_ID(u)		((uint32_t)(u))

struct ur_slot {
	int		 fd;		/* ours; the table holds its own ref */
	int		 newfd;		/* the fd FILES_UPDATE installs */
	unsigned	 gen;
	int		 live;		/* installed: reads may be posted */
	int		 armed;		/* multishot recv / poll armed */
	int		 reads;		/* TUN reads in flight */
};

static struct {
	struct io_uring		 ring;
	struct io_uring_buf_ring *br;
	size_t			 br_size;
	unsigned		 br_mask;
	int			 br_avail;	/* buffers the kernel holds */
	int			 br_queued;	/* added, not yet advanced */
	struct io_uring_buf_ring *tbr;		/* TUN reads (multishot) */
	size_t			 tbr_size;
	unsigned		 tbr_mask;
	int			 tbr_avail;
	struct msghdr		 rmsg;		/* multishot recv template */
	struct ur_slot		 slots[FWD_RING_FILES];
	int			 pollout;
	int			 ready;
} ur;

static struct io_uring_buf_ring *
ur_setup_one_pbuf(struct io_uring *ring, unsigned entries, unsigned group,
    size_t *size)
{
	struct io_uring_buf_reg	 reg;
	struct io_uring_buf_ring *br;
	int			 r;

	*size = entries * sizeof(struct io_uring_buf);
	br = mmap(NULL, *size, PROT_READ | PROT_WRITE,
	    MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
	if (br == MAP_FAILED)
		return NULL;
	memset(&reg, 0, sizeof(reg));
	reg.ring_addr = (unsigned long)br;
	reg.ring_entries = entries;
	reg.bgid = group;
	if ((r = io_uring_register_buf_ring(ring, &reg, 0)) < 0) {
		munmap(br, *size);
		errno = -r;
		return NULL;
	}
	io_uring_buf_ring_init(br);
	return br;
}

/* The provided-buffer rings: UDP receives, and TUN reads. */
static int
ur_setup_pbuf(struct io_uring *ring, void *arg)
{
	(void)arg;
	if ((ur.br = ur_setup_one_pbuf(ring, UR_PBUF_ENTRIES, UR_PBUF_GROUP,
	    &ur.br_size)) == NULL ||
	    (ur.tbr = ur_setup_one_pbuf(ring, UR_TBUF_ENTRIES, UR_TBUF_GROUP,
	    &ur.tbr_size)) == NULL)
		return -1;
	ur.br_mask = io_uring_buf_ring_mask(UR_PBUF_ENTRIES);
	ur.tbr_mask = io_uring_buf_ring_mask(UR_TBUF_ENTRIES);
	return 0;
}

static int
ur_init(const char **why)
{
	int	fds[FWD_RING_FILES], i;

	for (i = 0; i < FWD_RING_FILES; i++) {
		fds[i] = -1;
		ur.slots[i].fd = ur.slots[i].newfd = -1;
	}
	fds[UR_SLOT_PARENT] = fwd_conf.parent_fd;
	fds[UR_SLOT_HS] = fwd_conf.hs_fd;
	if (fwd_ring_setup(&ur.ring, UR_ENTRIES, UR_CQ_ENTRIES,
	    fwd_pool_base(), fwd_pool_size(), fds, FWD_RING_FILES,
	    ur_setup_pbuf, NULL, why) == -1)
		return -1;
	ur.slots[UR_SLOT_PARENT].live = 1;
	ur.slots[UR_SLOT_HS].live = 1;
	/* The receive template: source address and two cmsgs. */
	ur.rmsg.msg_namelen = UR_NAMELEN;
	ur.rmsg.msg_controllen = CMSG_SPACE(sizeof(struct in6_pktinfo)) +
	    CMSG_SPACE(sizeof(int));
	ur.ready = 1;
	return 0;
}

static struct io_uring_sqe *
ur_sqe(void)
{
	struct io_uring_sqe	*sqe;

	while ((sqe = io_uring_get_sqe(&ur.ring)) == NULL)
		if (io_uring_submit(&ur.ring) < 0)
			fatal("io_uring_submit");
	return sqe;
}

/* The descriptor a slot should hold from now on (-1: none). */
static void
ur_slot_replace(unsigned s, int fd)
{
	struct ur_slot		*sl = &ur.slots[s];
	struct io_uring_sqe	*sqe;
	int			 fl;

	if (fd != -1 && (fl = fcntl(fd, F_GETFL)) != -1 &&
	    (fl & O_NONBLOCK))
		(void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
	if (sl->live) {
		/* What is posted on the old file goes. */
		sqe = ur_sqe();
		io_uring_prep_cancel_fd(sqe, s, IORING_ASYNC_CANCEL_ALL |
		    IORING_ASYNC_CANCEL_FD_FIXED);
		io_uring_sqe_set_data64(sqe, UR_UD(UR_K_CANCEL, 0, s, 0));
	}
	sl->live = 0;
	sl->armed = 0;
	sl->reads = 0;
	sl->gen++;
	if (sl->fd != -1)
		close(sl->fd);
	sl->fd = fd;
	sl->newfd = fd;
	sqe = ur_sqe();
	io_uring_prep_files_update(sqe, &sl->newfd, 1, s);
	io_uring_sqe_set_data64(sqe, UR_UD(UR_K_UPDATE, sl->gen, s, 0));
}

static void
ur_set_tun(int fd)
{
	ur_slot_replace(UR_SLOT_TUN, fd);
}

static void
ur_set_udp(int fam, int fd)
{
	ur_slot_replace(fam ? UR_SLOT_UDP6 : UR_SLOT_UDP4, fd);
}

static void
ur_tx(struct fwd_tx *tx)
{
	struct io_uring_sqe	*sqe;
	unsigned		 s = tx->fam ? UR_SLOT_UDP6 : UR_SLOT_UDP4;

	if (ur.slots[s].fd == -1) {
		fwd_tx_done(tx, ENETUNREACH);
		return;
	}
	sqe = ur_sqe();
	io_uring_prep_sendmsg(sqe, s, &tx->mh, 0);
	sqe->flags |= IOSQE_FIXED_FILE;
	io_uring_sqe_set_data64(sqe, UR_UD(UR_K_SEND, 0, s, tx->id));
}

static void
ur_tun_write(struct fwd_buf *b, uint32_t off, uint32_t len)
{
	struct io_uring_sqe	*sqe;

	if (ur.slots[UR_SLOT_TUN].fd == -1) {
		fwd_buf_put(b);
		return;
	}
	sqe = ur_sqe();
	io_uring_prep_write_fixed(sqe, UR_SLOT_TUN, b->base + off, len, 0, 0);
	sqe->flags |= IOSQE_FIXED_FILE;
	io_uring_sqe_set_data64(sqe, UR_UD(UR_K_TUNWRITE, 0, UR_SLOT_TUN,
	    b->id));
}

static void
ur_flush(void)
{
	/*
	 * The loop submits before it waits, after fwd_tick; when that has
	 * housekeeping or a message due, what this wakeup queued leaves
	 * first (one more io_uring_enter, at most a few a second). An error
	 * here is the loop's to see: what was not taken stays queued.
	 */
	if (fwd_tick_due() && io_uring_sq_ready(&ur.ring) > 0)
		(void)io_uring_submit(&ur.ring);
}

static void
ur_want_write(void)
{
}

/* Keeps reads posted: TUN reads, receive buffers, multishot receives. */
static void
ur_post(void)
{
	struct ur_slot		*sl;
	struct io_uring_sqe	*sqe;
	struct fwd_buf		*b;
	unsigned		 s;
	int			 n = 0;

	/* Receive buffers first: they cost nothing until a packet comes. */
	while (ur.br_avail < UR_PBUF_ENTRIES &&
	    fwd_buf_nfree() > UR_KEEP_FREE) {
		b = fwd_buf_get();
		io_uring_buf_ring_add(ur.br, b->base, FWD_BUF_SIZE - 64, b->id,
		    ur.br_mask, n++);
		ur.br_avail++;
	}
	if (n > 0)
		io_uring_buf_ring_advance(ur.br, n);
	for (s = UR_SLOT_UDP4; s <= UR_SLOT_UDP6; s++) {
		sl = &ur.slots[s];
		if (!sl->live || sl->armed || sl->fd == -1 || ur.br_avail == 0)
			continue;
		sqe = ur_sqe();
		io_uring_prep_recvmsg_multishot(sqe, s, &ur.rmsg, 0);
		sqe->flags |= IOSQE_FIXED_FILE | IOSQE_BUFFER_SELECT;
		sqe->buf_group = UR_PBUF_GROUP;
		io_uring_sqe_set_data64(sqe, UR_UD(UR_K_RECV, sl->gen, s, 0));
		sl->armed = 1;
	}
	sl = &ur.slots[UR_SLOT_TUN];
	if (fwd_ring_read_mshot) {
		/*
		 * One multishot read: several reads posted on TUN would all
		 * wake for each packet, and those that find nothing are
		 * sent to io-wq threads to block there.
		 */
		n = 0;
		while (ur.tbr_avail < UR_TBUF_ENTRIES &&
		    fwd_buf_nfree() > UR_KEEP_FREE) {
			b = fwd_buf_get();
			io_uring_buf_ring_add(ur.tbr, b->base + FWD_HEADROOM,
			    FWD_BUF_SIZE - FWD_HEADROOM - 64, b->id,
			    ur.tbr_mask, n++);
			ur.tbr_avail++;
		}
		if (n > 0)
			io_uring_buf_ring_advance(ur.tbr, n);
		if (sl->live && sl->fd != -1 && !fwd_conf.tun_gone &&
		    !sl->armed && ur.tbr_avail > 0) {
			sqe = ur_sqe();
			io_uring_prep_rw(FWD_OP_READ_MULTISHOT, sqe, UR_SLOT_TUN,
			    NULL, 0, 0);
			sqe->flags |= IOSQE_FIXED_FILE | IOSQE_BUFFER_SELECT;
			sqe->buf_group = UR_TBUF_GROUP;
			io_uring_sqe_set_data64(sqe, UR_UD(UR_K_TUNREAD_MS,
			    sl->gen, UR_SLOT_TUN, 0));
			sl->armed = 1;
		}
	}
	while (!fwd_ring_read_mshot && sl->live && sl->fd != -1 &&
	    !fwd_conf.tun_gone && sl->reads < UR_TUN_READS &&
	    fwd_buf_nfree() > UR_KEEP_FREE) {
		b = fwd_buf_get();
		sqe = ur_sqe();
		io_uring_prep_read_fixed(sqe, UR_SLOT_TUN,
		    b->base + FWD_HEADROOM, FWD_BUF_SIZE - FWD_HEADROOM - 64,
		    0, 0);
		sqe->flags |= IOSQE_FIXED_FILE;
		io_uring_sqe_set_data64(sqe, UR_UD(UR_K_TUNREAD, sl->gen,
		    UR_SLOT_TUN, b->id));
		sl->reads++;
	}
	for (s = UR_SLOT_PARENT; s <= UR_SLOT_HS; s++) {
		sl = &ur.slots[s];
		if (sl->armed)
			continue;
		sqe = ur_sqe();
		io_uring_prep_poll_multishot(sqe, s, POLLIN);
		sqe->flags |= IOSQE_FIXED_FILE;
		io_uring_sqe_set_data64(sqe, UR_UD(UR_K_POLLIN, 0, s, 0));
		sl->armed = 1;
	}
}

static unsigned
ur_gro_size(struct msghdr *mh)
{
	struct cmsghdr	*cm;
	int		 v;

	for (cm = CMSG_FIRSTHDR(mh); cm != NULL; cm = CMSG_NXTHDR(mh, cm))
		if (cm->cmsg_level == SOL_UDP && cm->cmsg_type == UDP_GRO &&
		    cm->cmsg_len >= CMSG_LEN(sizeof(v))) {
			memcpy(&v, CMSG_DATA(cm), sizeof(v));
			return v > 0 ? (unsigned)v : 0;
		}
	return 0;
}

static void
ur_recv(const struct io_uring_cqe *cqe)
{
	struct ur_slot			*sl = &ur.slots[UR_UD_SLOT(cqe->user_data)];
	struct io_uring_recvmsg_out	*o;
	struct fwd_buf			*b = NULL;
	struct wg_endpoint		 ep;
	struct msghdr			 mh;
	uint8_t				*payload;
	unsigned			 plen, namelen;

	if (cqe->flags & IORING_CQE_F_BUFFER) {
		b = fwd_buf_by_id(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
		ur.br_avail--;
	}
	if (!(cqe->flags & IORING_CQE_F_MORE) &&
	    UR_UD_GEN(cqe->user_data) == (sl->gen & 0xffff))
		sl->armed = 0;	/* re-armed by ur_post */
	if (b == NULL)
		return;
	if (cqe->res <= 0 || UR_UD_GEN(cqe->user_data) != (sl->gen & 0xffff) ||
	    (o = io_uring_recvmsg_validate(b->base, cqe->res, &ur.rmsg)) ==
	    NULL || (o->flags & MSG_TRUNC)) {
		fwd_buf_put(b);
		return;
	}
	payload = io_uring_recvmsg_payload(o, &ur.rmsg);
	plen = io_uring_recvmsg_payload_length(o, cqe->res, &ur.rmsg);
	namelen = o->namelen < sizeof(ep.addr) ? o->namelen : sizeof(ep.addr);
	memset(&ep, 0, sizeof(ep));
	memcpy(&ep.addr, io_uring_recvmsg_name(o), namelen);
	memset(&mh, 0, sizeof(mh));
	mh.msg_control = (uint8_t *)io_uring_recvmsg_name(o) +
	    ur.rmsg.msg_namelen;
	mh.msg_controllen = o->controllen;
	sock_cmsg_get_dst(&mh, &ep);
	if (plen < 4) {
		fwd_buf_put(b);
		return;
	}
	b->off = payload - b->base;
	b->len = plen;
	fwd_in_udp(b, &ep, ur_gro_size(&mh));
}

/*
 * A read on the current TUN file completed with res into b (NULL: no
 * buffer): the packet goes to the packet logic, or b back to the pool
 * and the error is looked at.
 */
static void
ur_tun_read(struct fwd_buf *b, int res)
{
	if (res > 0 && b != NULL) {
		b->off = FWD_HEADROOM;
		b->len = res;
		fwd_in_tun(b);
		return;
	}
	fwd_buf_put(b);
	if (res == -ECANCELED || res == -EINTR || res == -EAGAIN)
		return;
	if (res == 0 || res == -EBADFD || res == -EIO || res == -ENXIO ||
	    res == -EBADF)
		fwd_tun_gone();
	else
		log_warnx("read from TUN: %s", strerror(-res));
}

static void
ur_cqe(const struct io_uring_cqe *cqe)
{
	uint64_t	 ud = cqe->user_data;
	unsigned	 s = UR_UD_SLOT(ud);
	struct ur_slot	*sl = &ur.slots[s < FWD_RING_FILES ? s : 0];
	struct fwd_buf	*b;

	switch (UR_UD_KIND(ud)) {
	case UR_K_TUNREAD:
		b = fwd_buf_by_id(UR_UD_ID(ud));
		if (UR_UD_GEN(ud) != (sl->gen & 0xffff)) {
			fwd_buf_put(b);
			return;
		}
		sl->reads--;
		ur_tun_read(b, cqe->res);
		return;
	case UR_K_TUNREAD_MS:
		b = NULL;
		if (cqe->flags & IORING_CQE_F_BUFFER) {
			b = fwd_buf_by_id(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
			ur.tbr_avail--;
		}
		if (UR_UD_GEN(ud) != (sl->gen & 0xffff)) {
			fwd_buf_put(b);
			return;
		}
		if (!(cqe->flags & IORING_CQE_F_MORE))
			sl->armed = 0;
		/* The TUN buffer ring ran dry: ur_post re-arms. */
		if (cqe->res == -ENOBUFS) {
			fwd_buf_put(b);
			return;
		}
		ur_tun_read(b, cqe->res);
		return;
	case UR_K_TUNWRITE:
		if (cqe->res == -EBADFD || cqe->res == -EIO)
			fwd_tun_gone();
		fwd_buf_put(fwd_buf_by_id(UR_UD_ID(ud)));
		return;
	case UR_K_RECV:
		ur_recv(cqe);
		return;
	case UR_K_SEND:
		if (UR_UD_ID(ud) >= FWD_TX_MAX)
			fatalx("%s: bad send id", __func__);
		fwd_tx_done(fwd_tx_by_id(UR_UD_ID(ud)),
		    cqe->res < 0 ? -cqe->res : 0);
		return;
	case UR_K_POLLIN:
		if (!(cqe->flags & IORING_CQE_F_MORE))
			sl->armed = 0;
		if (cqe->res < 0 && cqe->res != -ECANCELED)
			fatalx("poll on imsg channel: %s",
			    strerror(-cqe->res));
		if (cqe->res > 0)
			fwd_chan_read(s == UR_SLOT_HS);
		return;
	case UR_K_POLLOUT:
		ur.pollout &= ~(1 << s);
		return;
	case UR_K_UPDATE:
		if (cqe->res < 0)
			fatalx("IORING_OP_FILES_UPDATE: %s",
			    strerror(-cqe->res));
		if (UR_UD_GEN(ud) == (sl->gen & 0xffff) && sl->fd != -1)
			sl->live = 1;
		return;
	case UR_K_CANCEL:
		return;
	default:
		fatalx("%s: unknown completion %#llx", __func__,
		    (unsigned long long)ud);
	}
}

/* Waits for POLLOUT on the channels that have something queued. */
static void
ur_chan_out(void)
{
	struct io_uring_sqe	*sqe;
	unsigned		 s;

	if (!fwd_chan_flush())
		return;
	for (s = UR_SLOT_PARENT; s <= UR_SLOT_HS; s++) {
		if (ur.pollout & (1 << s))
			continue;
		sqe = ur_sqe();
		io_uring_prep_poll_add(sqe, s, POLLOUT);
		sqe->flags |= IOSQE_FIXED_FILE;
		io_uring_sqe_set_data64(sqe, UR_UD(UR_K_POLLOUT, 0, s, 0));
		ur.pollout |= 1 << s;
	}
}

static __attribute__((__noreturn__)) void
ur_run(void)
{
	struct io_uring_cqe	*cqes[256], *cqe;
	struct __kernel_timespec ts;
	unsigned		 i, n;
	int			 timeout, r;

	timeout = fwd_tick();
	for (;;) {
		ur_post();
		ur_chan_out();
		ts.tv_sec = timeout / 1000;
		ts.tv_nsec = (long long)(timeout % 1000) * 1000000;
		r = io_uring_submit_and_wait_timeout(&ur.ring, &cqe, 1, &ts,
		    NULL);
		if (r < 0 && r != -ETIME && r != -EINTR && r != -EAGAIN &&
		    r != -EBUSY)
			fatalx("io_uring_enter: %s", strerror(-r));
		fwd_set_now();
		while ((n = io_uring_peek_batch_cqe(&ur.ring, cqes,
		    sizeof(cqes) / sizeof(cqes[0]))) > 0) {
			for (i = 0; i < n; i++)
				ur_cqe(cqes[i]);
			io_uring_cq_advance(&ur.ring, n);
			if (n < sizeof(cqes) / sizeof(cqes[0]))
				break;
		}
		fwd_in_end();
		timeout = fwd_tick();
	}
}

const struct fwd_backend fwd_backend_uring = {
	.name = "io_uring",
	.init = ur_init,
	.sandbox = SANDBOX_FWD_URING,
	.bufs = UR_PBUF_ENTRIES + UR_TBUF_ENTRIES + UR_KEEP_FREE,
	.set_tun = ur_set_tun,
	.set_udp = ur_set_udp,
	.tx = ur_tx,
	.tun_write = ur_tun_write,
	.flush = ur_flush,
	.want_write = ur_want_write,
	.run = ur_run,
};
