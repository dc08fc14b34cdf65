/*
 * fwd_classic.c: the forwarder's classic I/O backend, for kernels without
 * io_uring (or with it disabled): poll(2) on the TUN fd, the UDP sockets
 * and the imsg channels; read(2)/write(2) on TUN, one packet each;
 * recvmmsg(2)/sendmmsg(2) on the UDP sockets, in batches.
 */
#include <sys/socket.h>
#include <sys/types.h>

#include <netinet/in.h>
#include <netinet/udp.h>

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "fwd.h"
#include "fwd_pool.h"
#include "log.h"
#include "sock.h"

#define CL_READ_BATCH	64	/* TUN reads per wakeup */
#define CL_RECV_BATCH	32	/* datagrams per recvmmsg */
#define CL_SEND_BATCH	64	/* messages per sendmmsg */
#define CL_KEEP_FREE	16	/* buffers left for sends of our own */

static struct {
	int		 tun;
	int		 udp[2];
	struct fwd_tx	*txq[2][FWD_TX_MAX];
	int		 ntx[2];
} cl = { .tun = -1, .udp = { -1, -1 } };

static void
cl_set_tun(int fd)
{
	if (cl.tun != -1)
		close(cl.tun);
	cl.tun = fd;
}

static void
cl_set_udp(int fam, int fd)
{
	if (cl.udp[fam] != -1)
		close(cl.udp[fam]);
	cl.udp[fam] = fd;
}

/* Sends what is queued for fam; fwd_tx_done may queue more (resends). */
static void
cl_flush_fam(int fam)
{
	struct mmsghdr	 msgs[CL_SEND_BATCH];
	struct fwd_tx	*txs[CL_SEND_BATCH];
	int		 n, i, sent, r;

	while (cl.ntx[fam] > 0) {
		n = cl.ntx[fam] > CL_SEND_BATCH ? CL_SEND_BATCH : cl.ntx[fam];
		memcpy(txs, cl.txq[fam], n * sizeof(txs[0]));
		memmove(cl.txq[fam], cl.txq[fam] + n,
		    (cl.ntx[fam] - n) * sizeof(txs[0]));
		cl.ntx[fam] -= n;
		for (i = 0; i < n; i++) {
			msgs[i].msg_hdr = txs[i]->mh;
			msgs[i].msg_len = 0;
		}
		sent = 0;
		while (sent < n) {
			if (cl.udp[fam] == -1) {
				fwd_tx_done(txs[sent++], ENETUNREACH);
				continue;
			}
			r = sendmmsg(cl.udp[fam], msgs + sent, n - sent,
			    MSG_DONTWAIT);
			if (r > 0) {
				for (i = 0; i < r; i++)
					fwd_tx_done(txs[sent + i], 0);
				sent += r;
				continue;
			}
			if (r == -1 && errno == EINTR)
				continue;
			fwd_tx_done(txs[sent++], r == -1 ? errno : EIO);
		}
	}
}

static void
cl_flush(void)
{
	cl_flush_fam(0);
	cl_flush_fam(1);
	/* Resends of one family never go to the other. */
}

static void
cl_tx(struct fwd_tx *tx)
{
	if (cl.ntx[tx->fam] == FWD_TX_MAX)
		cl_flush_fam(tx->fam);
	cl.txq[tx->fam][cl.ntx[tx->fam]++] = tx;
	if (cl.ntx[tx->fam] >= CL_SEND_BATCH)
		cl_flush_fam(tx->fam);
}

static void
cl_tun_write(struct fwd_buf *b, uint32_t off, uint32_t len)
{
	ssize_t	r;

	do {
		r = write(cl.tun, b->base + off, len);
	} while (r == -1 && errno == EINTR);
	if (r == -1 && (errno == EBADFD || errno == EIO))
		fwd_tun_gone();
	fwd_buf_put(b);
}

static void
cl_want_write(void)
{
}

static void
cl_tun_read(void)
{
	struct fwd_buf	*b;
	ssize_t		 n;
	int		 i;

	for (i = 0; i < CL_READ_BATCH && fwd_buf_nfree() > CL_KEEP_FREE;
	    i++) {
		b = fwd_buf_get();
		n = read(cl.tun, b->base + FWD_HEADROOM,
		    FWD_BUF_SIZE - FWD_HEADROOM - 64);
		if (n <= 0) {
			fwd_buf_put(b);
			if (n == -1 && errno == EINTR)
				continue;
			if (n == -1 && (errno == EAGAIN ||
			    errno == EWOULDBLOCK))
				break;
			if (n == 0 || errno == EBADFD || errno == EIO ||
			    errno == ENXIO) {
				fwd_tun_gone();
				break;
			}
			log_warn("read from TUN");
			break;
		}
		b->off = FWD_HEADROOM;
		b->len = n;
		fwd_in_tun(b);
	}
}

/* The UDP_GRO segment size of a receive, 0 for none. */
static unsigned
cl_gro_size(const struct msghdr *mh)
{
	struct cmsghdr	*cm;
	int		 v;

	for (cm = CMSG_FIRSTHDR(mh); cm != NULL;
	    cm = CMSG_NXTHDR((struct msghdr *)mh, cm))
		if (cm->cmsg_level == SOL_UDP && cm->cmsg_type == UDP_GRO &&
		    cm->cmsg_len >= CMSG_LEN(sizeof(v))) {
			memcpy(&v, CMSG_DATA(cm), sizeof(v));
			return v > 0 ? (unsigned)v : 0;
		}
	return 0;
}

static void
cl_udp_read(int fam)
{
	struct mmsghdr		 msgs[CL_RECV_BATCH];
	struct iovec		 iov[CL_RECV_BATCH];
	union wg_sockaddr	 from[CL_RECV_BATCH];
	union {
		struct cmsghdr	 align;
		uint8_t		 buf[128];
	}			 cbuf[CL_RECV_BATCH];
	struct fwd_buf		*bufs[CL_RECV_BATCH];
	struct wg_endpoint	 ep;
	int			 i, n, nb;

	for (nb = 0; nb < CL_RECV_BATCH && fwd_buf_nfree() > CL_KEEP_FREE;
	    nb++) {
		bufs[nb] = fwd_buf_get();
		memset(&msgs[nb].msg_hdr, 0, sizeof(msgs[nb].msg_hdr));
		iov[nb].iov_base = bufs[nb]->base + FWD_HEADROOM;
		iov[nb].iov_len = FWD_BUF_SIZE - FWD_HEADROOM - 64;
		msgs[nb].msg_hdr.msg_iov = &iov[nb];
		msgs[nb].msg_hdr.msg_iovlen = 1;
		msgs[nb].msg_hdr.msg_name = &from[nb];
		msgs[nb].msg_hdr.msg_namelen = sizeof(from[nb]);
		msgs[nb].msg_hdr.msg_control = cbuf[nb].buf;
		msgs[nb].msg_hdr.msg_controllen = sizeof(cbuf[nb].buf);
	}
	if (nb == 0)
		return;
	n = recvmmsg(cl.udp[fam], msgs, nb, MSG_DONTWAIT, NULL);
	for (i = 0; i < nb; i++) {
		if (i >= n || msgs[i].msg_len < 4 ||
		    (msgs[i].msg_hdr.msg_flags & MSG_TRUNC)) {
			fwd_buf_put(bufs[i]);
			continue;
		}
		memset(&ep, 0, sizeof(ep));
		memcpy(&ep.addr, &from[i], sizeof(from[i]));
		sock_cmsg_get_dst(&msgs[i].msg_hdr, &ep);
		bufs[i]->off = FWD_HEADROOM;
		bufs[i]->len = msgs[i].msg_len;
		fwd_in_udp(bufs[i], &ep, cl_gro_size(&msgs[i].msg_hdr));
	}
}

static __attribute__((__noreturn__)) void
cl_run(void)
{
	struct pollfd	pfd[5];
	int		i, n, timeout, pending;

	timeout = fwd_tick();
	for (;;) {
		pending = fwd_chan_flush();
		pfd[0].fd = fwd_conf.parent_fd;
		pfd[0].events = POLLIN | (pending ? POLLOUT : 0);
		pfd[1].fd = fwd_conf.hs_fd;
		pfd[1].events = POLLIN | (pending ? POLLOUT : 0);
		pfd[2].fd = fwd_conf.tun_gone ? -1 : cl.tun;
		pfd[2].events = POLLIN;
		pfd[3].fd = cl.udp[0];
		pfd[3].events = POLLIN;
		pfd[4].fd = cl.udp[1];
		pfd[4].events = POLLIN;
		if (!fwd_can_read()) {
			/* Only sends of our own hold buffers: let them go. */
			pfd[2].events = pfd[3].events = pfd[4].events = 0;
		}
		n = poll(pfd, 5, timeout);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			fatal("poll");
		}
		fwd_set_now();
		if (pfd[0].revents & (POLLIN | POLLHUP))
			fwd_chan_read(0);
		if (pfd[1].revents & (POLLIN | POLLHUP))
			fwd_chan_read(1);
		if (pfd[2].fd != -1 && (pfd[2].revents & (POLLERR | POLLHUP |
		    POLLNVAL)) && !(pfd[2].revents & POLLIN))
			fwd_tun_gone();
		else if (pfd[2].revents & POLLIN)
			cl_tun_read();
		for (i = 0; i < 2; i++)
			if (pfd[3 + i].revents & POLLIN)
				cl_udp_read(i);
		fwd_in_end();
		timeout = fwd_tick();
	}
}

const struct fwd_backend fwd_backend_classic = {
	.name = "classic",
	.bufs = CL_RECV_BATCH + CL_KEEP_FREE,
	.set_tun = cl_set_tun,
	.set_udp = cl_set_udp,
	.tx = cl_tx,
	.tun_write = cl_tun_write,
	.flush = cl_flush,
	.want_write = cl_want_write,
	.run = cl_run,
};
