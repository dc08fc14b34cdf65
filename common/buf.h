/*
 * buf.h: a growable byte buffer for text that may hold secrets (the
 * UAPI text carries preshared keys). Growing copies into new memory
 * and wipes the old block; buf_free wipes before it frees. The data
 * is always NUL-terminated once anything was appended. A wipe covers
 * the bytes written since the block was allocated or last wiped (used),
 * not the whole block: a large block's untouched pages stay unmapped.
 */
#ifndef WGCARD_BUF_H
#define WGCARD_BUF_H

#include <stddef.h>

struct buf {
	char	*data;
	size_t	 len;		/* bytes used, not counting the NUL */
	size_t	 cap;		/* bytes allocated */
	size_t	 used;		/* bytes written since the last wipe */
};

void	buf_init(struct buf *);
/* Both return 0, or -1 with errno ENOMEM (the buffer is unchanged). */
int	buf_append(struct buf *, const void *, size_t);
int	buf_printf(struct buf *, const char *, ...)
	    __attribute__((__format__(__printf__, 2, 3)));
/*
 * Room for n more bytes at once, for a size known ahead (one block, no
 * copies as it fills). 0, or -1 with errno ENOMEM.
 */
int	buf_expect(struct buf *, size_t n);
/* Drops the content (wiped) but keeps the memory. */
void	buf_reset(struct buf *);
/* Wipes and frees; the buffer is empty and reusable afterwards. */
void	buf_free(struct buf *);

#endif /* WGCARD_BUF_H */
