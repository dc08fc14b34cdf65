/*
 * log.h: logging for every wgcard process, to stderr (debug, foreground)
 * or to syslog. Messages carry the program, its pid and the process name
 * set by log_procinit(), e.g. "wgcardd[812]: handshake: peer 3 ...".
 *
 * Every function formats into a local buffer and writes it with a single
 * write(2) or syslog(3) call, so threads may log concurrently, and every
 * function leaves errno as it found it.
 */
#ifndef WGCARD_LOG_H
#define WGCARD_LOG_H

#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <syslog.h>

#ifndef __dead
#define __dead		__attribute__((__noreturn__))
#endif

/* debug != 0: log to stderr; else to syslog (LOG_PID|LOG_NDELAY). */
void	log_init(int debug, int facility);
/* 1 if the log goes to stderr (debug, or no syslog socket). */
int	log_is_stderr(void);
void	log_setverbose(int);
int	log_getverbose(void);
/* The process name that prefixes every message (NULL or "": none). */
void	log_procinit(const char *procname);

void	logit(int pri, const char *, ...)
	    __attribute__((__format__(__printf__, 2, 3)));
void	vlog(int pri, const char *, va_list)
	    __attribute__((__format__(__printf__, 2, 0)));
/* log_warn appends ": strerror(errno)"; log_debug only when verbose. */
void	log_warn(const char *, ...)
	    __attribute__((__format__(__printf__, 1, 2)));
void	log_warnx(const char *, ...)
	    __attribute__((__format__(__printf__, 1, 2)));
void	log_info(const char *, ...)
	    __attribute__((__format__(__printf__, 1, 2)));
void	log_debug(const char *, ...)
	    __attribute__((__format__(__printf__, 1, 2)));
/*
 * The audit stream: logs "audit: KV" at pri (LOG_DEBUG only when
 * verbose) and hands KV ("op=... key=value ...", see docs/audit-log.md)
 * to the hook, if one is set. The hook is called in the caller's thread.
 */
void	log_audit(int pri, const char *, ...)
	    __attribute__((__format__(__printf__, 2, 3)));
void	log_set_audit_hook(void (*)(const char *kv));
/*
 * A message that may repeat (a card answering every request with the
 * same error, a reconnect loop), folded as syslogd does: the same text
 * at the same priority within the window (LOG_REPEAT_MS unless
 * window_ms is set) of the one last written is counted, not written.
 * The count comes out as "last message repeated N times: TEXT" before
 * the next different message, or from log_repeat_flush once the window
 * has passed. One struct per call site (its repeats fold apart from
 * other sites'); threads may share one.
 */
#define LOG_REPEAT_MS	10000
#define LOG_REPEAT_MAX	256
struct log_repeat {
	pthread_mutex_t	mtx;
	uint32_t	window_ms;	/* 0: LOG_REPEAT_MS */
	int		pri;
	unsigned int	count;		/* repeats not written yet */
	uint64_t	since_ms;	/* the last written, monotonic */
	char		msg[LOG_REPEAT_MAX];
};
#define LOG_REPEAT_INITIALIZER	{ .mtx = PTHREAD_MUTEX_INITIALIZER }

void	log_repeat(struct log_repeat *, int pri, const char *, ...)
	    __attribute__((__format__(__printf__, 3, 4)));
/* Writes a count whose window has passed (call it now and then). */
void	log_repeat_flush(struct log_repeat *);
/* Log (fatal: with strerror(errno)) and exit(1). */
__dead void	fatal(const char *, ...)
		    __attribute__((__format__(__printf__, 1, 2)));
__dead void	fatalx(const char *, ...)
		    __attribute__((__format__(__printf__, 1, 2)));

#ifdef WGCARD_FUZZ
/*
 * Fuzz builds only (tests/fuzz/fuzz_fatal.c): fatal and fatalx call fn
 * (which must not return, e.g. it longjmps back to the harness) instead
 * of exit(1), so a refused message is an outcome, not the end of a run;
 * quiet drops every message (fatal ones too).
 */
void	log_fuzz_setup(__dead void (*fn)(void), int quiet);
#endif

#endif /* WGCARD_LOG_H */
