/*
 * test_fwd_ring.c: the forwarder's io_uring is confined. A ring made by
 * fwd_ring_setup, as the forwarder makes its own, runs the opcodes
 * of its allowlist (a READ_FIXED and a SENDMSG on fixed files, a
 * FILES_UPDATE) and refuses with EACCES every other opcode (OPENAT, NOP,
 * CONNECT, SOCKET...), SQE flags outside its list (IO_LINK, ASYNC), and
 * every register operation once enabled. Skipped (with its reason) where
 * io_uring cannot be set up at all.
 */
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <liburing.h>

#include "fwd_ring.h"
#include "test.h"

/* Submits the prepared SQE and returns its CQE's result. */
static int
run_one(struct io_uring *ring)
{
	struct io_uring_cqe	*cqe;
	int			 r;

	if ((r = io_uring_submit_and_wait(ring, 1)) < 0)
		return r;
	if ((r = io_uring_wait_cqe(ring, &cqe)) < 0)
		return r;
	r = cqe->res;
	io_uring_cqe_seen(ring, cqe);
	return r;
}

int
main(void)
{
	struct io_uring		 ring;
	struct io_uring_sqe	*sqe;
	struct msghdr		 mh;
	struct iovec		 iov;
	static uint8_t		 buf[65536];
	const char		*why = NULL;
	int			 sp[2], fds[FWD_RING_FILES], newfd[1], r, i;
	unsigned		 op;
	static const unsigned	 refused[] = {
		IORING_OP_OPENAT, IORING_OP_NOP, IORING_OP_CONNECT,
		IORING_OP_READ, IORING_OP_WRITE, IORING_OP_CLOSE,
		IORING_OP_SPLICE, IORING_OP_MSG_RING, IORING_OP_SOCKET,
		IORING_OP_ACCEPT, IORING_OP_PROVIDE_BUFFERS,
		IORING_OP_URING_CMD, IORING_OP_TIMEOUT,
	};

	if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sp) == -1) {
		perror("socketpair");
		return 1;
	}
	for (i = 0; i < FWD_RING_FILES; i++)
		fds[i] = -1;
	fds[0] = sp[0];
	if (fwd_ring_setup(&ring, 64, 128, buf, sizeof(buf), fds,
	    FWD_RING_FILES, NULL, NULL, &why) == -1) {
		printf("SKIP: io_uring unavailable here (%s: %s)\n", why,
		    strerror(errno));
		return test_done();
	}

	/* Allowed: READ_FIXED into the registered buffer, fixed file. */
	CHECK(write(sp[1], "ping", 4) == 4, "write");
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_read_fixed(sqe, 0, buf, 16, 0, 0);
	sqe->flags |= IOSQE_FIXED_FILE;
	r = run_one(&ring);
	CHECK(r == 4 && memcmp(buf, "ping", 4) == 0, "READ_FIXED: %d", r);

	/* Allowed: SENDMSG on a fixed file. */
	memset(&mh, 0, sizeof(mh));
	iov.iov_base = "pong";
	iov.iov_len = 4;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_sendmsg(sqe, 0, &mh, 0);
	sqe->flags |= IOSQE_FIXED_FILE;
	r = run_one(&ring);
	CHECK(r == 4, "SENDMSG: %d", r);
	CHECK(read(sp[1], buf, sizeof(buf)) == 4 && memcmp(buf, "pong", 4) ==
	    0, "the message came");

	/* Allowed: FILES_UPDATE fills an empty slot. */
	newfd[0] = sp[1];
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_files_update(sqe, newfd, 1, 1);
	r = run_one(&ring);
	CHECK(r == 1, "FILES_UPDATE: %d", r);

	/* Refused: every opcode outside the allowlist. */
	for (i = 0; i < (int)(sizeof(refused) / sizeof(refused[0])); i++) {
		op = refused[i];
		sqe = io_uring_get_sqe(&ring);
		io_uring_prep_rw(op, sqe, -1, NULL, 0, 0);
		if (op == IORING_OP_OPENAT) {
			io_uring_prep_openat(sqe, AT_FDCWD, "/etc/passwd",
			    O_RDONLY, 0);
		}
		r = run_one(&ring);
		CHECK(r == -EACCES, "opcode %u: %d, want -EACCES", op, r);
	}

	/* Refused: flags outside the list, on an allowed opcode. */
	CHECK(write(sp[1], "ping", 4) == 4, "write");
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_read_fixed(sqe, 0, buf, 16, 0, 0);
	sqe->flags |= IOSQE_FIXED_FILE | IOSQE_ASYNC;
	r = run_one(&ring);
	CHECK(r == -EACCES, "IOSQE_ASYNC: %d, want -EACCES", r);
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_read_fixed(sqe, 0, buf, 16, 0, 0);
	sqe->flags |= IOSQE_FIXED_FILE | IOSQE_IO_LINK;
	r = run_one(&ring);
	CHECK(r == -EACCES, "IOSQE_IO_LINK: %d, want -EACCES", r);

	/* Refused: register operations once enabled. */
	r = (int)syscall(__NR_io_uring_register, ring.ring_fd,
	    IORING_REGISTER_PROBE, buf, 4);
	CHECK(r == -1 && errno == EACCES, "REGISTER_PROBE: %d %s", r,
	    strerror(errno));
	r = (int)syscall(__NR_io_uring_register, ring.ring_fd,
	    IORING_REGISTER_FILES_UPDATE, buf, 1);
	CHECK(r == -1 && errno == EACCES, "REGISTER_FILES_UPDATE: %d %s", r,
	    strerror(errno));
	r = (int)syscall(__NR_io_uring_register, ring.ring_fd,
	    IORING_REGISTER_ENABLE_RINGS, NULL, 0);
	CHECK(r == -1, "ENABLE_RINGS again: %d", r);

	io_uring_queue_exit(&ring);
	close(sp[0]);
	close(sp[1]);
	return test_done();
}
