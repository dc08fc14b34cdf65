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

/* Open descriptors of this process now (/proc/self/fd). */
int		fuzz_count_fds(void);
/* 1 if fd is an open descriptor. */
int		fuzz_fd_open(int fd);

#endif /* WGCARD_FUZZ_HARNESS_H */
