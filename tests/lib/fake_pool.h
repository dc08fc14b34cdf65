/*
 * fake_pool.h: the forwarder's packet pool for the tests and fuzz
 * targets of fwd_offload.c (see fake_pool.c).
 */
#ifndef WGCARD_FAKE_POOL_H
#define WGCARD_FAKE_POOL_H

#include "fwd_pool.h"

/* At most n buffers out at once (0: no limit); fwd_buf_get NULL then. */
void		fake_pool_limit(unsigned n);
/* Buffers out now (taken and not yet released by their last put). */
unsigned	fake_pool_out(void);

#endif /* WGCARD_FAKE_POOL_H */
