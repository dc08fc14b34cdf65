/*
 * fwd_pool.h: the forwarder's packet buffers, one fixed pool mapped (and
 * with io_uring registered) once at start. The lowest part of the
 * forwarder: the packet logic (forward.c), the offloads (fwd_offload.c)
 * and the I/O backends take and give back buffers here, and this module
 * calls none of them. tests/lib/fake_pool.c stands in for it in the
 * tests of fwd_offload.c.
 *
 * Single-threaded: only the forwarder's I/O thread takes, refs and puts
 * buffers.
 */
#ifndef WGCARD_FWD_POOL_H
#define WGCARD_FWD_POOL_H

#include <stddef.h>
#include <stdint.h>

/*
 * A buffer holds the largest IP packet (65535) plus a virtio-net header
 * in front, room for the WireGuard header before the packet and padding
 * and tag after it.
 */
#define FWD_BUF_SIZE		(68 * 1024)
#define FWD_HEADROOM		64	/* >= vnet header + 16 */
/*
 * The pool's size comes from the backend (struct fwd_backend's bufs:
 * the reads it keeps posted and the buffers it leaves free for the
 * packet logic: those segments of a TUN super-packet are packed into,
 * 40 or more to a buffer, GRO super-packets gathered for TUN, packets
 * of our own) plus FWD_POOL_WORK, so that all its reads are posted
 * again while a few buffers are still out (TUN writes in flight);
 * holding more only posts fewer reads until they come back.
 * WGCARD_FWD_POOL overrides it.
 */
#define FWD_POOL_WORK		4
#define FWD_POOL_MIN		32
#define FWD_POOL_MAX		1024

struct fwd_buf {
	uint8_t		*base;		/* FWD_BUF_SIZE bytes */
	struct fwd_buf	*next;		/* free list */
	uint32_t	 off, len;	/* data: base + off, len bytes */
	uint16_t	 id;		/* index in the pool */
	uint16_t	 refs;
};

/* Maps nbufs buffers, locked out of core dumps; fatal on failure. */
void		 fwd_pool_init(unsigned nbufs);
/* One buffer at 1 ref, data at FWD_HEADROOM, empty; NULL when none. */
struct fwd_buf	*fwd_buf_get(void);
void		 fwd_buf_ref(struct fwd_buf *);
/* Drops a ref (NULL: nothing); at 0 refs the buffer is free again. */
void		 fwd_buf_put(struct fwd_buf *);
/* The buffer with index id (from a completion); fatal if out of range. */
struct fwd_buf	*fwd_buf_by_id(unsigned id);
unsigned	 fwd_buf_nfree(void);
unsigned	 fwd_pool_nbufs(void);
/* The whole mapping (registered with io_uring as buffer 0). */
uint8_t		*fwd_pool_base(void);
size_t		 fwd_pool_size(void);

#endif /* WGCARD_FWD_POOL_H */
