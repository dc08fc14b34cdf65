/*
 * fwd_ring.c: how the forwarder's ring is made (fwd_uring.c runs it): the
 * opcode and flag allowlists, registered before the ring is enabled. A
 * file of its own so the unit test builds the very same ring.
 */
#include <sys/syscall.h>
#include <sys/uio.h>

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <liburing.h>

#include "fwd_ring.h"

/*
 * The SQE opcodes the ring may run, nothing else:
 *  READ_FIXED	TUN reads into the registered packet pool,
 *  WRITE_FIXED	TUN writes from it,
 *  SENDMSG	UDP sends (pktinfo source, UDP_SEGMENT),
 *  RECVMSG	multishot UDP receives into provided buffers,
 *  POLL_ADD	readiness of the imsg channels (read with recvmsg(2)),
 *  ASYNC_CANCEL	requests on a TUN fd or socket being replaced,
 *  FILES_UPDATE	installing the TUN fd and sockets the parent sends
 *		later (port changes) in the fixed-file table, without
 *		io_uring_register(2).
 * and, where the kernel has it (6.7),
 *  READ_MULTISHOT	one TUN read that stays posted, into provided buffers.
 * No open, connect, accept, splice, msg_ring, uring_cmd, ...: a ring
 * taken over by an attacker moves packets on the files it has, and no
 * more.
 */
static const uint8_t ur_sqe_ops_base[] = {
	IORING_OP_READ_FIXED, IORING_OP_WRITE_FIXED, IORING_OP_SENDMSG,
	IORING_OP_RECVMSG, IORING_OP_POLL_ADD, IORING_OP_ASYNC_CANCEL,
	IORING_OP_FILES_UPDATE,
};

/*
 * The SQE flags allowed: IOSQE_FIXED_FILE (our I/O goes through the
 * fixed-file table) and IOSQE_BUFFER_SELECT (reads and receives into the
 * provided-buffer rings). No links, drains or forced async punts. The
 * flag cannot be required: FILES_UPDATE refuses it. Without it an SQE
 * names a descriptor of the process, which holds only the same files
 * (and seccomp already lets it read and write those).
 */
static const uint8_t ur_sqe_flags = IOSQE_FIXED_FILE | IOSQE_BUFFER_SELECT;

/*
 * The register operations allowed once the ring is enabled: none. Files,
 * buffers and the buffer ring are registered before; later files come
 * with IORING_OP_FILES_UPDATE.
 */

int	fwd_ring_read_mshot;

static int
ur_register(int fd, unsigned op, const void *arg, unsigned nr)
{
	return (int)syscall(__NR_io_uring_register, fd, op, arg, nr);
}

int
fwd_ring_setup(struct io_uring *ring, unsigned entries,
    unsigned cq_entries, void *buf, size_t buflen, const int *fds,
    unsigned nfds, int (*before_enable)(struct io_uring *, void *),
    void *arg, const char **why)
{
	struct io_uring_params		p;
	struct io_uring_restriction	res[16];
	struct iovec			iov;
	struct io_uring_probe		*probe;
	unsigned			i, n = 0;
	int				r, fd;

	memset(&p, 0, sizeof(p));
	p.flags = IORING_SETUP_R_DISABLED | IORING_SETUP_CQSIZE |
	    IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN |
	    IORING_SETUP_SINGLE_ISSUER;
	p.cq_entries = cq_entries;
	if (io_uring_queue_init_params(entries, ring, &p) < 0) {
		/* Older kernels: without the optional flags. */
		memset(&p, 0, sizeof(p));
		p.flags = IORING_SETUP_R_DISABLED | IORING_SETUP_CQSIZE;
		p.cq_entries = cq_entries;
		if ((r = io_uring_queue_init_params(entries, ring, &p)) < 0) {
			*why = "io_uring_setup";
			errno = -r;
			return -1;
		}
	}
	fd = ring->ring_fd;
	if (!(p.features & IORING_FEAT_EXT_ARG)) {
		/* Waiting with a timeout would need IORING_OP_TIMEOUT. */
		*why = "io_uring without IORING_FEAT_EXT_ARG";
		errno = EOPNOTSUPP;
		goto fail;
	}
	if ((r = io_uring_register_files(ring, fds, nfds)) < 0) {
		*why = "registering files";
		errno = -r;
		goto fail;
	}
	if (buf != NULL) {
		iov.iov_base = buf;
		iov.iov_len = buflen;
		if ((r = io_uring_register_buffers(ring, &iov, 1)) < 0) {
			*why = "registering buffers";
			errno = -r;
			goto fail;
		}
	}
	if (before_enable != NULL && before_enable(ring, arg) == -1) {
		*why = "registering the provided-buffer ring";
		goto fail;
	}
	memset(res, 0, sizeof(res));
	for (i = 0; i < sizeof(ur_sqe_ops_base); i++) {
		res[n].opcode = IORING_RESTRICTION_SQE_OP;
		res[n++].sqe_op = ur_sqe_ops_base[i];
	}
	fwd_ring_read_mshot = 0;
	if ((probe = io_uring_get_probe_ring(ring)) != NULL) {
		fwd_ring_read_mshot = io_uring_opcode_supported(probe,
		    FWD_OP_READ_MULTISHOT);
		io_uring_free_probe(probe);
	}
	if (fwd_ring_read_mshot) {
		res[n].opcode = IORING_RESTRICTION_SQE_OP;
		res[n++].sqe_op = FWD_OP_READ_MULTISHOT;
	}
	res[n].opcode = IORING_RESTRICTION_SQE_FLAGS_ALLOWED;
	res[n++].sqe_flags = ur_sqe_flags;
	if (ur_register(fd, IORING_REGISTER_RESTRICTIONS, res, n) < 0) {
		*why = "IORING_REGISTER_RESTRICTIONS";
		goto fail;
	}
	if (ur_register(fd, IORING_REGISTER_ENABLE_RINGS, NULL, 0) < 0) {
		*why = "IORING_REGISTER_ENABLE_RINGS";
		goto fail;
	}
	return 0;
fail:
	r = errno;
	io_uring_queue_exit(ring);
	errno = r;
	return -1;
}
