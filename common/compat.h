/*
 * compat.h: what Debian 12's libc lacks.
 */
#ifndef WGCARD_COMPAT_H
#define WGCARD_COMPAT_H

#include <stddef.h>
#include <string.h>

#if !defined(__GLIBC__) || !__GLIBC_PREREQ(2, 38)
size_t	strlcpy(char *, const char *, size_t);
#endif

/* glibc's sys/queue.h lacks the _SAFE loops. */
#include <sys/queue.h>
#ifndef TAILQ_FOREACH_SAFE
#define TAILQ_FOREACH_SAFE(var, head, field, tvar)			\
	for ((var) = TAILQ_FIRST(head);					\
	    (var) != NULL && ((tvar) = TAILQ_NEXT(var, field), 1);	\
	    (var) = (tvar))
#endif

#endif /* WGCARD_COMPAT_H */
