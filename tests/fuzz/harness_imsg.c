/*
 * harness_imsg.c: what the fuzz_imsg_* targets share (see harness.h):
 * channels to the process under test, the input's messages sent on
 * them, what the process sends read back and checked, one input run
 * from setup to teardown. Those targets list it and common/imsg.c in
 * their .deps.
 */
#include <sys/socket.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

void
fuzz_chan_open(struct fuzz_chan *c)
{
	int	sv[2];

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0, sv) == -1)
		abort();
	c->proc_fd = sv[0];
	c->peer_fd = sv[1];
}

void
fuzz_chan_close(struct fuzz_chan *c)
{
	if (c->proc_fd != -1)
		close(c->proc_fd);
	if (c->peer_fd != -1)
		close(c->peer_fd);
	c->proc_fd = c->peer_fd = -1;
}

/*
 * One packet from fd into buf (len bytes): its length, or -1 when none
 * is ready. Descriptors that came with it are closed and counted in
 * *nfds; *mflags gets the message flags (MSG_TRUNC, MSG_CTRUNC).
 */
static ssize_t
fuzz_recv(int fd, uint8_t *buf, size_t len, int *nfds, int *mflags)
{
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int) * 4)];
	} cm;
	struct msghdr	 msg;
	struct iovec	 iov;
	struct cmsghdr	*cmsg;
	ssize_t		 n;
	int		 i, f;

	memset(&msg, 0, sizeof(msg));
	iov.iov_base = buf;
	iov.iov_len = len;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cm.buf;
	msg.msg_controllen = sizeof(cm.buf);
	n = recvmsg(fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return -1;
	if (n <= 0)
		abort();	/* the harness holds both ends */
	*nfds = 0;
	*mflags = msg.msg_flags;
	for (cmsg = CMSG_FIRSTHDR(&msg); cmsg != NULL;
	    cmsg = CMSG_NXTHDR(&msg, cmsg)) {
		if (cmsg->cmsg_level != SOL_SOCKET ||
		    cmsg->cmsg_type != SCM_RIGHTS)
			abort();
		for (i = 0; i < (int)((cmsg->cmsg_len - CMSG_LEN(0)) /
		    sizeof(int)); i++) {
			memcpy(&f, CMSG_DATA(cmsg) + i * sizeof(int),
			    sizeof(f));
			close(f);
			(*nfds)++;
		}
	}
	return n;
}

static uint8_t	fuzz_rbuf[sizeof(struct imsg_hdr) + IMSG_MAX_PAYLOAD + 16];

void
fuzz_chan_reset(struct fuzz_chan *c, struct imsgbuf *ib, int fatal)
{
	int	nfds, mflags;

	if (fatal || imsg_pending(ib)) {
		imsgbuf_clear(ib);
		if (imsgbuf_init(ib, c->proc_fd) == -1)
			abort();
		while (fuzz_recv(c->proc_fd, fuzz_rbuf, sizeof(fuzz_rbuf),
		    &nfds, &mflags) != -1)
			;
	}
	fuzz_chan_drain(c);
}

int
fuzz_chan_drain(struct fuzz_chan *c)
{
	struct imsg_hdr	hdr;
	ssize_t		n;
	int		count = 0, nfds, mflags;

	while ((n = fuzz_recv(c->peer_fd, fuzz_rbuf, sizeof(fuzz_rbuf), &nfds,
	    &mflags)) != -1) {
		/* What the process sends is framed as imsg_recv demands. */
		if ((size_t)n < sizeof(hdr) ||
		    (mflags & (MSG_TRUNC | MSG_CTRUNC)))
			abort();
		memcpy(&hdr, fuzz_rbuf, sizeof(hdr));
		if (hdr.len != (size_t)n - sizeof(hdr) ||
		    (hdr.flags & ~IMSGF_HASFD) ||
		    ((hdr.flags & IMSGF_HASFD) ? 1 : 0) != nfds)
			abort();
		count++;
	}
	return count;
}

int
fuzz_msg_next(struct fuzz_in *in, struct fuzz_msg *m)
{
	uint8_t	ctl;

	if (in->left < 2)
		return 0;
	ctl = fuzz_u8(in);
	m->chan = ctl & 3;
	m->with_fd = (ctl & 4) != 0;
	m->type = fuzz_u8(in);
	m->peerid = (ctl & 8) ? fuzz_u32(in) : 0;
	m->corrupt = (ctl & 16) ? fuzz_u8(in) : 0;
	m->len = fuzz_bytes(in, m->data, fuzz_u16(in));
	return 1;
}

void
fuzz_msg_send(const struct fuzz_chan *c, const struct fuzz_msg *m, int fd)
{
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int))];
	} cm;
	struct imsg_hdr	 hdr;
	struct msghdr	 msg;
	struct iovec	 iov[2];
	struct cmsghdr	*cmsg;

	memset(&hdr, 0, sizeof(hdr));
	hdr.type = m->type;
	hdr.peerid = m->peerid;
	hdr.len = (uint32_t)m->len + (m->corrupt & 0x0f);
	hdr.flags = fd != -1 ? IMSGF_HASFD : 0;
	if (m->corrupt & 0x10)
		hdr.flags ^= IMSGF_HASFD;
	if (m->corrupt & 0x20)
		hdr.flags |= 0x80;
	memset(&msg, 0, sizeof(msg));
	iov[0].iov_base = &hdr;
	iov[0].iov_len = sizeof(hdr);
	iov[1].iov_base = (void *)m->data;
	iov[1].iov_len = m->len;
	msg.msg_iov = iov;
	msg.msg_iovlen = 2;
	if (fd != -1) {
		memset(&cm, 0, sizeof(cm));
		msg.msg_control = cm.buf;
		msg.msg_controllen = sizeof(cm.buf);
		cmsg = CMSG_FIRSTHDR(&msg);
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		cmsg->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
	}
	if (sendmsg(c->peer_fd, &msg, MSG_NOSIGNAL) !=
	    (ssize_t)(sizeof(hdr) + m->len))
		abort();
}


int
fuzz_proc_run(struct fuzz_proc *p, struct fuzz_in *in)
{
	static struct fuzz_msg	 m;
	unsigned long		 fatals = fuzz_fatals;
	int			 fd, i;

	if (FUZZ_TRY()) {
		while ((p->ended == NULL || !p->ended()) &&
		    fuzz_msg_next(in, &m)) {
			m.chan %= (unsigned int)p->nchan;
			fd = !m.with_fd ? -1 : p->mkfd != NULL ?
			    p->mkfd(m.type) : fuzz_null_fd();
			fuzz_msg_send(&p->chan[m.chan], &m, fd);
			if (fd != -1)
				close(fd);
			p->dispatch((int)m.chan);
			for (i = 0; i < p->nchan; i++)
				fuzz_chan_drain(&p->chan[i]);
		}
	}
	FUZZ_DONE();
	return fuzz_fatals != fatals;
}

int
fuzz_proc_input(struct fuzz_proc *p, const uint8_t *data, size_t size)
{
	struct fuzz_in	in = { data, size };
	struct fuzz_fds	fds;
	int		fatal;

	fuzz_fds_mark(&fds);
	p->setup(&in);
	fatal = fuzz_proc_run(p, &in);
	p->teardown(fatal);
	/* After a fatal the process would have exited, closing them all. */
	if (fuzz_fds_new(&fds, fatal) != 0 && !fatal)
		abort();
	return 0;
}
