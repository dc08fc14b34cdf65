/*
 * harness.h: what the wgcard fuzz targets share (tests/fuzz/harness.c,
 * listed in a target's .deps).
 *
 * fatal() and fatalx() come back to the harness: a process that refuses
 * a malformed message from a sibling ends itself (DESIGN.md), which in a
 * fuzz run is an outcome, not a crash. A target arms the jump with
 * FUZZ_TRY() around the code that may end the process; a fatal outside
 * it aborts (a crash).
 *
 * The input is read through a cursor: a short input yields zeros.
 */
#ifndef WGCARD_FUZZ_HARNESS_H
#define WGCARD_FUZZ_HARNESS_H

#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>

extern jmp_buf	fuzz_jmp;
extern int	fuzz_jmp_armed;
extern unsigned long fuzz_fatals;	/* fatal()s caught since start */

/* Once, from LLVMFuzzerInitialize or the first input. */
void	fuzz_init(void);

/* 1 on the way in, 0 when a fatal came back; disarm with FUZZ_DONE(). */
#define FUZZ_TRY()	(fuzz_jmp_armed = 1, setjmp(fuzz_jmp) == 0)
#define FUZZ_DONE()	(fuzz_jmp_armed = 0)

struct fuzz_in {
	const uint8_t	*p;
	size_t		 left;
};

uint8_t		fuzz_u8(struct fuzz_in *);
uint16_t	fuzz_u16(struct fuzz_in *);	/* big-endian */
uint32_t	fuzz_u32(struct fuzz_in *);	/* big-endian */
/* Up to n bytes (fewer at the end); returns how many. */
size_t		fuzz_bytes(struct fuzz_in *, void *, size_t n);

/*
 * The imsg targets (fuzz_imsg_*.c, with tests/fuzz/harness_imsg.c and
 * common/imsg.c in their .deps): one process's channels are real
 * SOCK_SEQPACKET socketpairs; the harness plays every sibling on its
 * end, so what reaches the process goes through imsg_recv() and its
 * dispatch function exactly as in the daemon, descriptors included.
 *
 * A message of the input: a control byte (bits 0-1: channel, bit 2: an
 * fd rides along, bit 3: a 32-bit peer id follows, bit 4: a byte
 * follows that corrupts the header: bits 0-3 added to its len, bits 4-5
 * flip IMSGF_HASFD and an unknown flag), the type byte, [peer id],
 * [corruption], a 2-byte big-endian payload length, the payload.
 */
#include "imsg.h"

#define FUZZ_CHAN_MAX	4

struct fuzz_chan {
	int	proc_fd;	/* the process's end, in its imsgbuf */
	int	peer_fd;	/* the harness's end: the sibling */
};

struct fuzz_msg {
	unsigned int	chan;
	uint32_t	type;
	uint32_t	peerid;
	int		with_fd;
	uint8_t		corrupt;
	size_t		len;
	uint8_t		data[IMSG_MAX_PAYLOAD];
};

/* Both ends non-blocking and close-on-exec; aborts on failure. */
void	fuzz_chan_open(struct fuzz_chan *);
void	fuzz_chan_close(struct fuzz_chan *);
/*
 * Between inputs: after a fatal (or with writes still queued) the
 * process's imsgbuf starts afresh and what is left towards it goes;
 * then what it sent is read.
 */
void	fuzz_chan_reset(struct fuzz_chan *, struct imsgbuf *, int fatal);
/*
 * Reads (and drops) what the process sent on the channel: each packet
 * must be one well-framed imsg with an fd only if its header says so;
 * descriptors received are closed. Returns how many messages.
 */
int	fuzz_chan_drain(struct fuzz_chan *);
/* The next message of the input: 1, or 0 when none is left. */
int	fuzz_msg_next(struct fuzz_in *, struct fuzz_msg *);
/* Sends it on its channel, with fd (-1: none; the caller closes it). */
void	fuzz_msg_send(const struct fuzz_chan *, const struct fuzz_msg *,
	    int fd);
/* A descriptor to pass along: /dev/null, close-on-exec. */
int	fuzz_null_fd(void);

/*
 * One process under test: its channels (index = the message's channel
 * number modulo nchan), what to call once a message is on a channel
 * (the process's dispatch function, EV_READ), the descriptor to pass
 * for a message that carries one (NULL: /dev/null), and whether the
 * process has ended (shutdown under way: it would exit now; NULL:
 * never).
 */
struct fuzz_proc {
	int			 nchan;
	struct fuzz_chan	 chan[FUZZ_CHAN_MAX];
	void			(*dispatch)(int chan);
	int			(*mkfd)(uint32_t type);
	int			(*ended)(void);
	/* Per input: set the state up (may read leading bytes), undo it. */
	void			(*setup)(struct fuzz_in *);
	void			(*teardown)(int fatal);
};

/*
 * Feeds the input's messages to the process, one at a time, draining
 * what it sends after each. Returns 1 if the process ended with a
 * fatal (it would have exited), else 0.
 */
int	fuzz_proc_run(struct fuzz_proc *, struct fuzz_in *);
/*
 * A whole input: setup, the messages, teardown; then a descriptor that
 * is new since the start is a leak (a crash), unless a fatal ended the
 * process. The target's LLVMFuzzerTestOneInput returns this.
 */
int	fuzz_proc_input(struct fuzz_proc *, const uint8_t *, size_t);

/*
 * Descriptor accounting: fuzz_fds_mark() remembers which are open;
 * fuzz_fds_new() counts those open now that were not, closing them if
 * asked (after a fatal the process would have exited, closing all).
 */
#define FUZZ_FDS_MAX	1024
struct fuzz_fds {
	uint8_t	open[FUZZ_FDS_MAX / 8];
};
void	fuzz_fds_mark(struct fuzz_fds *);
/* How many descriptors are open now. */
int	fuzz_count_fds(void);
int	fuzz_fds_new(const struct fuzz_fds *, int close_them);

#endif /* WGCARD_FUZZ_HARNESS_H */
