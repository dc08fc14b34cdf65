/*
 * imsg.c: typed, framed messages over SOCK_SEQPACKET socketpairs.
 */
#include <sys/select.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "imsg.h"

struct imsg_wpkt {
	struct imsg_wpkt	*next;
	int			 fd;
	size_t			 len;
	uint8_t			 data[];
};

#define IMSG_RBUF_LEN	(sizeof(struct imsg_hdr) + IMSG_MAX_PAYLOAD)

/*
 * Fuzz builds with ASan: the read buffer past the message received is
 * poisoned, so a receiver that reads more than the payload's length
 * (accepts a message with a wrong size) is a crash, not a quiet read of
 * the buffer's leftovers.
 */
#if defined(WGCARD_FUZZ) && defined(__has_feature)
#if __has_feature(address_sanitizer)
#include <sanitizer/asan_interface.h>
#define IMSG_POISON(p, n)	ASAN_POISON_MEMORY_REGION((p), (n))
#define IMSG_UNPOISON(p, n)	ASAN_UNPOISON_MEMORY_REGION((p), (n))
#endif
#endif
#ifndef IMSG_POISON
#define IMSG_POISON(p, n)	do { } while (0)
#define IMSG_UNPOISON(p, n)	do { } while (0)
#endif

int
imsgbuf_init(struct imsgbuf *ib, int fd)
{
	memset(ib, 0, sizeof(*ib));
	ib->fd = fd;
	ib->wmax = IMSG_DEFAULT_WMAX;
	if ((ib->rbuf = malloc(IMSG_RBUF_LEN)) == NULL)
		return -1;
	return 0;
}

static void
imsg_wpkt_free(struct imsg_wpkt *p)
{
	if (p->fd != -1)
		close(p->fd);
	sodium_memzero(p->data, p->len);
	free(p);
}

void
imsgbuf_clear(struct imsgbuf *ib)
{
	struct imsg_wpkt	*p, *n;

	for (p = ib->whead; p != NULL; p = n) {
		n = p->next;
		imsg_wpkt_free(p);
	}
	ib->whead = ib->wtail = NULL;
	ib->wqueued = 0;
	if (ib->rbuf != NULL) {
		IMSG_UNPOISON(ib->rbuf, IMSG_RBUF_LEN);
		sodium_memzero(ib->rbuf, IMSG_RBUF_LEN);
		free(ib->rbuf);
		ib->rbuf = NULL;
	}
}

/* One sendmsg of a whole packet; 1 sent, 0 would block, -1 error. */
static int
imsg_sendpkt(int sock, const struct iovec *iov, int iovcnt, int fd)
{
	struct msghdr	 msg;
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int))];
	} cmsgbuf;
	struct cmsghdr	*cmsg;
	ssize_t		 n;

	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = (struct iovec *)iov;
	msg.msg_iovlen = iovcnt;
	if (fd != -1) {
		memset(&cmsgbuf, 0, sizeof(cmsgbuf));
		msg.msg_control = cmsgbuf.buf;
		msg.msg_controllen = sizeof(cmsgbuf.buf);
		cmsg = CMSG_FIRSTHDR(&msg);
		cmsg->cmsg_len = CMSG_LEN(sizeof(int));
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
	}
	for (;;) {
		n = sendmsg(sock, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n >= 0)
			return 1;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)
			return 0;
		return -1;
	}
}

int
imsg_composev(struct imsgbuf *ib, uint32_t type, uint32_t peerid, int fd,
    const struct iovec *iov, int iovcnt)
{
	struct imsg_hdr		 hdr;
	struct iovec		 v[1 + 8];
	struct imsg_wpkt	*p;
	size_t			 len = 0, off;
	int			 i, r;

	if (iovcnt > 8) {
		errno = EINVAL;
		goto fail;
	}
	for (i = 0; i < iovcnt; i++)
		len += iov[i].iov_len;
	if (len > IMSG_MAX_PAYLOAD) {
		errno = EMSGSIZE;
		goto fail;
	}
	memset(&hdr, 0, sizeof(hdr));
	hdr.type = type;
	hdr.peerid = peerid;
	hdr.len = len;
	hdr.flags = fd != -1 ? IMSGF_HASFD : 0;
	v[0].iov_base = &hdr;
	v[0].iov_len = sizeof(hdr);
	for (i = 0; i < iovcnt; i++)
		v[i + 1] = iov[i];

	if (ib->whead == NULL) {
		r = imsg_sendpkt(ib->fd, v, iovcnt + 1, fd);
		if (r == 1) {
			if (fd != -1)
				close(fd);
			return 0;
		}
		if (r == -1)
			goto fail;
	}
	if (ib->wqueued + len + sizeof(hdr) > ib->wmax) {
		errno = ENOBUFS;
		goto fail;
	}
	if ((p = malloc(sizeof(*p) + sizeof(hdr) + len)) == NULL)
		goto fail;
	p->next = NULL;
	p->fd = fd;
	p->len = sizeof(hdr) + len;
	memcpy(p->data, &hdr, sizeof(hdr));
	off = sizeof(hdr);
	for (i = 0; i < iovcnt; i++) {
		if (iov[i].iov_len == 0)
			continue;
		memcpy(p->data + off, iov[i].iov_base, iov[i].iov_len);
		off += iov[i].iov_len;
	}
	if (ib->wtail != NULL)
		ib->wtail->next = p;
	else
		ib->whead = p;
	ib->wtail = p;
	ib->wqueued += p->len;
	return 0;
fail:
	if (fd != -1) {
		int	saved = errno;

		close(fd);
		errno = saved;
	}
	return -1;
}

int
imsg_compose(struct imsgbuf *ib, uint32_t type, uint32_t peerid, int fd,
    const void *data, size_t len)
{
	struct iovec	iov;

	iov.iov_base = (void *)data;
	iov.iov_len = len;
	return imsg_composev(ib, type, peerid, fd, &iov, len ? 1 : 0);
}

int
imsg_flush(struct imsgbuf *ib)
{
	struct imsg_wpkt	*p;
	struct iovec		 iov;
	int			 r;

	while ((p = ib->whead) != NULL) {
		iov.iov_base = p->data;
		iov.iov_len = p->len;
		r = imsg_sendpkt(ib->fd, &iov, 1, p->fd);
		if (r == 0)
			return 1;
		if (r == -1)
			return -1;
		if (p->fd != -1) {
			close(p->fd);
			p->fd = -1;
		}
		ib->whead = p->next;
		if (ib->whead == NULL)
			ib->wtail = NULL;
		ib->wqueued -= p->len;
		imsg_wpkt_free(p);
	}
	return 0;
}

int
imsg_pending(const struct imsgbuf *ib)
{
	return ib->whead != NULL;
}

int
imsg_flush_blocking(struct imsgbuf *ib)
{
	int	r;

	while ((r = imsg_flush(ib)) == 1) {
		fd_set	wfds;

		FD_ZERO(&wfds);
		FD_SET(ib->fd, &wfds);
		if (select(ib->fd + 1, NULL, &wfds, NULL, NULL) == -1 &&
		    errno != EINTR)
			return -1;
	}
	return r;
}

int
imsg_recv(struct imsgbuf *ib, struct imsg *imsg)
{
	struct msghdr	 msg;
	struct iovec	 iov;
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int) * 4)];
	} cmsgbuf;
	struct cmsghdr	*cmsg;
	struct imsg_hdr	 hdr;
	ssize_t		 n;
	int		 fd = -1, i, nfds;

	if (ib->rlast) {
		sodium_memzero(ib->rbuf, ib->rlast);
		ib->rlast = 0;
	}
	IMSG_UNPOISON(ib->rbuf, IMSG_RBUF_LEN);
	memset(&msg, 0, sizeof(msg));
	iov.iov_base = ib->rbuf;
	iov.iov_len = IMSG_RBUF_LEN;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cmsgbuf.buf;
	msg.msg_controllen = sizeof(cmsgbuf.buf);
	do {
		n = recvmsg(ib->fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	} while (n == -1 && errno == EINTR);
	if (n == -1) {
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return 0;
		return -1;
	}
	if (n == 0) {
		errno = 0;
		return -1;
	}
	ib->rlast = n;
	for (cmsg = CMSG_FIRSTHDR(&msg); cmsg != NULL;
	    cmsg = CMSG_NXTHDR(&msg, cmsg)) {
		if (cmsg->cmsg_level != SOL_SOCKET ||
		    cmsg->cmsg_type != SCM_RIGHTS)
			continue;
		nfds = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < nfds; i++) {
			int	f;

			memcpy(&f, CMSG_DATA(cmsg) + i * sizeof(int),
			    sizeof(int));
			if (fd == -1)
				fd = f;
			else
				close(f);	/* more than one: malformed */
		}
		if (nfds != 1)
			goto bad;
	}
	if ((msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) ||
	    (size_t)n < sizeof(hdr))
		goto bad;
	memcpy(&hdr, ib->rbuf, sizeof(hdr));
	if (hdr.len != (size_t)n - sizeof(hdr) ||
	    ((hdr.flags & IMSGF_HASFD) != 0) != (fd != -1) ||
	    (hdr.flags & ~IMSGF_HASFD))
		goto bad;
	imsg->type = hdr.type;
	imsg->peerid = hdr.peerid;
	imsg->len = hdr.len;
	imsg->fd = fd;
	imsg->data = ib->rbuf + sizeof(hdr);
	IMSG_POISON(ib->rbuf + n, IMSG_RBUF_LEN - (size_t)n);
	return 1;
bad:
	if (fd != -1)
		close(fd);
	return -2;
}

int
imsg_status_ok(int32_t status)
{
	/* Linux errnos are 1 to 4095 (MAX_ERRNO). */
	return status <= 0 && status >= -4095;
}
