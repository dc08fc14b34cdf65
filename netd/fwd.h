/*
 * fwd.h: what the forwarder's parts share. forward.c holds the packet
 * logic (routing, keypairs, encryption and decryption, staging, timer
 * events) and knows nothing of how packets are read and written; an I/O
 * backend (fwd_classic.c: poll(2), read/write, recvmmsg/sendmmsg;
 * fwd_uring.c: io_uring) moves them and calls back into it; fwd_crypto.c
 * runs the AEAD of a batch on worker threads. Packet buffers are
 * fwd_pool.c's, below all of them. forward.c reaches a backend only
 * through its struct fwd_backend.
 *
 * Everything here runs on the forwarder's one I/O thread except the
 * AEAD jobs of fwd_crypto_run.
 */
#ifndef WGCARD_FWD_H
#define WGCARD_FWD_H

#include <sys/socket.h>
#include <sys/uio.h>

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#include "fwd_pool.h"
#include "messages.h"
#include "wgcard.h"

#define FWD_GSO_MAX		64	/* segments of one UDP GSO send */
#define FWD_GSO_BYTES		65000	/* UDP payload of one GSO send */
#define FWD_TX_MAX		512	/* send units in flight */
/*
 * Of those, what data may not take: handshake messages of our own (from
 * the handshake process) always find a send unit, and cookie replies
 * (at most FWD_COOKIE_INFLIGHT at once) may take half of the reserve.
 */
#define FWD_TX_RESERVE		64
#define FWD_COOKIE_INFLIGHT	128

/* What a send unit carries: the reserve above is by kind. */
enum fwd_tx_kind {
	FWD_TX_DATA = 0,	/* pool buffers (data, keepalives) */
	FWD_TX_HS,		/* a handshake message from the handshake
				 * process, in small[] */
	FWD_TX_COOKIE,		/* a cookie reply of ours, in small[] */
};

/* One sendmsg: a message, or equal segments of one UDP GSO send. */
struct fwd_tx {
	struct fwd_tx		*next;
	struct msghdr		 mh;
	struct iovec		 iov[FWD_GSO_MAX];
	struct fwd_buf		*bufs[FWD_GSO_MAX];
	int			 nbufs;
	union wg_sockaddr	 addr;
	struct wg_endpoint	 ep;
	union {
		struct cmsghdr	 align;
		uint8_t		 buf[CMSG_SPACE(sizeof(struct in6_pktinfo)) +
				     CMSG_SPACE(sizeof(uint16_t))];
	}			 cbuf;
	uint32_t		 peer_id;	/* 0: none */
	uint32_t		 bytes;
	uint16_t		 gso_size;	/* 0: one message */
	uint16_t		 id;
	int			 fam;		/* 0 AF_INET, 1 AF_INET6 */
	enum fwd_tx_kind	 kind;
	/* A handshake message or cookie reply: no pool buffer. */
	uint8_t			 small[WG_MSG_INITIATION_LEN];
};

/* What a backend does for the packet logic. */
struct fwd_backend {
	const char	*name;
	/*
	 * Sets the backend up before privileges are dropped and the
	 * seccomp filter is installed (NULL: nothing to do): 0, or -1 with
	 * errno and *why saying what failed.
	 */
	int		(*init)(const char **why);
	int		 sandbox;	/* flags for sandbox_forwarder */
	/*
	 * Pool buffers the backend holds when busy: the reads it keeps
	 * posted (or takes in one wakeup) and those it leaves free for
	 * sends of our own. The pool is this plus FWD_POOL_WORK.
	 */
	unsigned	 bufs;
	/* New descriptors from the parent (-1: none); the old are closed. */
	void		(*set_tun)(int fd);
	void		(*set_udp)(int fam, int fd);
	/* Sends tx (fwd_tx_done is called once it is sent or failed). */
	void		(*tx)(struct fwd_tx *);
	/* Writes len bytes at b->base + off to TUN; holds a ref of b. */
	void		(*tun_write)(struct fwd_buf *b, uint32_t off,
			    uint32_t len);
	/* Pushes out what tx and tun_write queued. */
	void		(*flush)(void);
	/* The imsg channels have something to write. */
	void		(*want_write)(void);
	/* The event loop; never returns. */
	void		(*run)(void) __attribute__((__noreturn__));
};

/* Global knobs and state the backends read. */
struct fwd_conf {
	int		 vnet_hdr;	/* TUN has IFF_VNET_HDR (10 bytes) */
	int		 offloads;	/* offloads allowed at all */
	int		 udp_gso;	/* UDP_SEGMENT sends work */
	int		 udp_gro;	/* UDP_GRO asked for on the sockets */
	int		 tun_uso;	/* TUN takes UDP super-packets */
	int		 tun_gone;
	int		 parent_fd, hs_fd;
};
extern struct fwd_conf	fwd_conf;

/* forward.c: the send unit with index id; fatal if out of range. */
struct fwd_tx	*fwd_tx_by_id(unsigned id);

/* forward.c: input from the backend. */
/* One read from TUN in b (b->off, b->len); the core takes b's ref. */
void		 fwd_in_tun(struct fwd_buf *b);
/* One receive in b: a datagram, or segments of gro_size (0: none). */
void		 fwd_in_udp(struct fwd_buf *b, const struct wg_endpoint *ep,
		    unsigned gro_size);
/* End of what arrived at once: encrypt/decrypt, send, write. */
void		 fwd_in_end(void);
/* A send completed: err 0 or an errno. */
void		 fwd_tx_done(struct fwd_tx *tx, int err);
/* The TUN fd failed: the interface is gone. */
void		 fwd_tun_gone(void);
/* The imsg channel (0 parent, 1 handshake) is readable. */
void		 fwd_chan_read(int from_hs);
/* Flushes the imsg channels; 1 when something is still pending. */
int		 fwd_chan_flush(void);
/* Time passes: timers, event reports; returns the next timeout (ms). */
int		 fwd_tick(void);
/* Whether fwd_tick has housekeeping or events due now. */
int		 fwd_tick_due(void);
/* Saves the time once per wakeup. */
void		 fwd_set_now(void);
/* Whether the backend may read more now (buffers, queues). */
int		 fwd_can_read(void);

/* fwd_classic.c, fwd_uring.c */
extern const struct fwd_backend	fwd_backend_classic;
extern const struct fwd_backend	fwd_backend_uring;

/* fwd_crypto.c: AEAD jobs, run by the I/O thread and the workers. */
struct fwd_job {
	uint8_t		*data;		/* in place */
	struct aead_key	*key;		/* aead.h */
	uint64_t	 counter;
	uint32_t	 len;		/* plaintext (enc) or with tag (dec) */
	uint8_t		 enc;
	int8_t		 result;	/* dec: 0 ok, -1 forged */
};
/* Starts nthreads workers (0: none); before the seccomp filter. */
void		 fwd_crypto_init(int nthreads);
/* on: a small batch after a quiet spell takes the compact AEAD (aead.h). */
void		 fwd_crypto_set_compact(int on);
/* Runs every job (now_ms: the forwarder's clock); returns when done. */
void		 fwd_crypto_run(struct fwd_job *jobs, int n, uint64_t now_ms);
/* The jobs run on the compact path so far. */
uint64_t	 fwd_crypto_ncompact(void);

/*
 * fwd_rx.c: the checks of a received data message that need no state.
 * fwd_rx_job: the header of a message of len bytes at msg (type, length,
 * counter below the limit); fills j to decrypt it in place (j->key left
 * to set) and *idx with the receiver index: 0, or -1 to drop it.
 * fwd_rx_inner: the plaintext of plen > 0 bytes (padding included) of a
 * message from peer that authenticated and passed the replay window: an
 * IPv4 or IPv6 packet whose total length fits and whose source address
 * maps to peer in aips. Its length without the padding, or 0 to drop it.
 */
struct aip_table;
int		 fwd_rx_job(struct fwd_job *j, uint8_t *msg, size_t len,
		    uint32_t *idx);
size_t		 fwd_rx_inner(const struct aip_table *aips, const void *peer,
		    const uint8_t *ip, size_t plen);

#endif /* WGCARD_FWD_H */
