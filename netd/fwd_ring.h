/*
 * fwd_ring.h: how the forwarder's io_uring ring is made (fwd_ring.c),
 * for its backend (fwd_uring.c), its unit test and tests/bench/tunecho.c.
 */
#ifndef WGCARD_FWD_RING_H
#define WGCARD_FWD_RING_H

#include <stddef.h>

#include <liburing.h>

#define FWD_RING_FILES	8	/* fixed-file table size */

/* Linux 6.7; liburing 2.3 does not know it. */
#define FWD_OP_READ_MULTISHOT	49

/* After fwd_ring_setup: the ring may use READ_MULTISHOT. */
extern int	fwd_ring_read_mshot;

/*
 * Creates ring disabled, registers fds[0..nfds-1] (-1: empty slots) as
 * its fixed files and buf (buflen bytes, may be NULL) as registered
 * buffer 0, calls before_enable (may be NULL; the provided-buffer ring),
 * restricts the ring to the forwarder's opcode and SQE-flag allowlists
 * with no register operation left, and enables it. 0, or -1 with errno
 * and *why naming the step that failed (the ring is then torn down).
 */
int	fwd_ring_setup(struct io_uring *ring, unsigned entries,
	    unsigned cq_entries, void *buf, size_t buflen, const int *fds,
	    unsigned nfds, int (*before_enable)(struct io_uring *, void *),
	    void *arg, const char **why);

#endif /* WGCARD_FWD_RING_H */
