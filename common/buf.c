/*
 * buf.c: growable byte buffer that wipes every block it gives up.
 * realloc() is never used: it could leave a copy of a key behind in
 * freed memory.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "buf.h"

#define BUF_MIN_CAP	256

void
buf_init(struct buf *b)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->used = 0;
}

/* Bytes up to end have been written. */
static void
buf_touched(struct buf *b, size_t end)
{
	if (end > b->used)
		b->used = end;
}

/* Makes room for need more bytes plus the NUL. */
static int
buf_reserve(struct buf *b, size_t need)
{
	char	*n;
	size_t	 cap;

	if (need > SIZE_MAX - b->len - 1) {
		errno = ENOMEM;
		return -1;
	}
	if (b->len + need + 1 <= b->cap)
		return 0;
	cap = b->cap ? b->cap : BUF_MIN_CAP;
	while (cap < b->len + need + 1) {
		if (cap > SIZE_MAX / 2) {
			cap = b->len + need + 1;
			break;
		}
		cap *= 2;
	}
	if ((n = malloc(cap)) == NULL) {
		errno = ENOMEM;
		return -1;
	}
	if (b->data != NULL) {
		memcpy(n, b->data, b->len);
		sodium_memzero(b->data, b->used);
		free(b->data);
	}
	n[b->len] = '\0';
	b->data = n;
	b->cap = cap;
	b->used = b->len + 1;
	return 0;
}

int
buf_expect(struct buf *b, size_t n)
{
	return buf_reserve(b, n);
}

int
buf_append(struct buf *b, const void *data, size_t len)
{
	if (buf_reserve(b, len) == -1)
		return -1;
	if (len > 0)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	buf_touched(b, b->len + 1);
	return 0;
}

int
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list	ap;
	int	n;

	/* First try to format in place into the room we already have. */
	if (buf_reserve(b, 64) == -1)
		return -1;
	va_start(ap, fmt);
	n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n < 0) {
		/* (It may have written anything up to the end.) */
		buf_touched(b, b->cap);
		b->data[b->len] = '\0';
		errno = EINVAL;
		return -1;
	}
	if ((size_t)n >= b->cap - b->len) {
		/* Too small: wipe the partial text, grow, format again. */
		sodium_memzero(b->data + b->len, b->cap - b->len);
		buf_touched(b, b->cap);
		if (buf_reserve(b, (size_t)n) == -1)
			return -1;
		va_start(ap, fmt);
		n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			buf_touched(b, b->cap);
			b->data[b->len] = '\0';
			errno = EINVAL;
			return -1;
		}
	}
	b->len += (size_t)n;
	buf_touched(b, b->len + 1);
	return 0;
}

void
buf_reset(struct buf *b)
{
	if (b->data != NULL) {
		sodium_memzero(b->data, b->used);
		b->data[0] = '\0';
		b->used = 1;
	}
	b->len = 0;
}

void
buf_free(struct buf *b)
{
	if (b->data != NULL) {
		sodium_memzero(b->data, b->used);
		free(b->data);
	}
	buf_init(b);
}
