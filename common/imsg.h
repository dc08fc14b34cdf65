/*
 * imsg.h: typed, framed messages between wgcard processes.
 *
 * Each process pair is joined by an AF_UNIX SOCK_SEQPACKET socketpair, so
 * one imsg is one packet: a fixed header, then the payload, optionally
 * with one file descriptor (SCM_RIGHTS). Packet boundaries are kept by the
 * kernel, so a short or oversized packet can never be misread as the next
 * message. Every buffer that held a message is wiped after use: session
 * keys and, in transit, the static key cross these sockets.
 */
#ifndef WGCARD_IMSG_H
#define WGCARD_IMSG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define IMSG_MAX_PAYLOAD	(64 * 1024)
#define IMSG_DEFAULT_WMAX	(8 * 1024 * 1024)

struct imsg_hdr {
	uint32_t	type;
	uint32_t	peerid;
	uint32_t	len;		/* payload bytes */
	uint32_t	flags;
};
#define IMSGF_HASFD	0x1

struct imsg {
	uint32_t	 type;
	uint32_t	 peerid;
	size_t		 len;
	int		 fd;		/* -1 if none; the receiver owns it */
	uint8_t		*data;		/* valid until the next imsg_recv */
};

struct imsg_wpkt;

struct imsgbuf {
	int			 fd;
	struct imsg_wpkt	*whead;
	struct imsg_wpkt	*wtail;
	size_t			 wqueued;	/* bytes queued */
	size_t			 wmax;		/* bound on wqueued */
	size_t			 rlast;		/* bytes of the last message */
	uint8_t			*rbuf;
};

int	imsgbuf_init(struct imsgbuf *, int fd);
void	imsgbuf_clear(struct imsgbuf *);	/* wipes and frees; keeps fd */
/*
 * Queues (or sends at once) one message; fd (or -1) is closed once sent.
 * Returns 0, or -1 with errno ENOBUFS when the queue is over wmax (the
 * message is dropped and fd closed), EMSGSIZE, or another error.
 */
int	imsg_compose(struct imsgbuf *, uint32_t type, uint32_t peerid, int fd,
	    const void *data, size_t len);
int	imsg_composev(struct imsgbuf *, uint32_t type, uint32_t peerid, int fd,
	    const struct iovec *iov, int iovcnt);
/* Sends what is queued: 0 all sent, 1 some left (wait for POLLOUT), -1. */
int	imsg_flush(struct imsgbuf *);
int	imsg_pending(const struct imsgbuf *);
/* Blocks until everything queued is sent; 0 or -1. */
int	imsg_flush_blocking(struct imsgbuf *);
/*
 * Receives one message: 1 got one, 0 none ready (EAGAIN), -1 closed or
 * error (errno; 0 on EOF), -2 malformed (size mismatch, truncated).
 */
int	imsg_recv(struct imsgbuf *, struct imsg *);

/*
 * A status a sibling reports (0 or -errno): 1 if it is one. Anything
 * else breaks the protocol: a receiver that negated INT32_MIN for
 * strerror() would overflow, and a positive value is no errno.
 */
int	imsg_status_ok(int32_t status);

/* Exact-size payload check for receivers: fatalx on mismatch. */
#define IMSG_SIZE_CHECK(imsg, sz, from) do {				\
	if ((imsg)->len != (sz))					\
		fatalx("%s: bad size %zu for imsg type %u from %s",	\
		    __func__, (imsg)->len, (imsg)->type, (from));	\
} while (0)

#endif /* WGCARD_IMSG_H */
