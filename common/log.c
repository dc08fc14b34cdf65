/*
 * log.c: OpenBSD-style logging (log_warn, log_warnx, log_info,
 * log_debug, fatal, fatalx) to stderr or syslog.
 *
 * A message is formatted whole into a buffer on the caller's stack and
 * handed to the kernel (or syslog) in one call: lines from threads do
 * not interleave, and nothing here allocates. errno is saved on entry
 * and restored on return.
 *
 * Where syslog has no socket (/dev/log: containers, minimal systems) it
 * would drop every line, so the log goes to stderr instead. When stderr
 * is systemd's journal stream ($JOURNAL_STREAM names its device and
 * inode), lines carry the "<N>" priority prefix journald reads and not
 * our "prog[pid]: " (journald adds its own).
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define LOG_BUFSZ	2048

static int	log_to_stderr = 1;	/* until log_init says otherwise */
static int	log_journal;		/* stderr is the journal's stream */
static int	log_verbose;
static char	log_progname[32];
static char	log_procname[32];

#ifdef WGCARD_FUZZ
static __dead void	(*log_fuzz_fatal)(void);
static int		 log_fuzz_quiet;

void
log_fuzz_setup(__dead void (*fn)(void), int quiet)
{
	log_fuzz_fatal = fn;
	log_fuzz_quiet = quiet;
}
#define LOG_EXIT()	do {						\
	if (log_fuzz_fatal != NULL)					\
		log_fuzz_fatal();					\
	exit(1);							\
} while (0)
#else
#define LOG_EXIT()	exit(1)
#endif

static void
log_setprogname(void)
{
	const char	*p = program_invocation_short_name;

	if (p == NULL || *p == '\0')
		p = "wgcard";
	/*
	 * Copied: a process title written over argv later must not change
	 * (or garble) the name in our messages.
	 */
	snprintf(log_progname, sizeof(log_progname), "%s", p);
}

/* Is stderr the journal's stream (JOURNAL_STREAM=DEV:INO, systemd)? */
static int
log_stderr_is_journal(void)
{
	const char		*js = getenv("JOURNAL_STREAM");
	unsigned long long	 dev, ino;
	struct stat		 st;

	if (js == NULL || sscanf(js, "%llu:%llu", &dev, &ino) != 2 ||
	    fstat(STDERR_FILENO, &st) == -1)
		return 0;
	return (unsigned long long)st.st_dev == dev &&
	    (unsigned long long)st.st_ino == ino;
}

/* Does syslog(3) have a socket to write to (datagram or stream)? */
static int
log_syslog_reachable(void)
{
	struct sockaddr_un	sun;
	int			fd, ok = 0, type;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", _PATH_LOG);
	for (type = 0; type < 2 && !ok; type++) {
		if ((fd = socket(AF_UNIX, (type == 0 ? SOCK_DGRAM :
		    SOCK_STREAM) | SOCK_CLOEXEC, 0)) == -1)
			continue;
		ok = connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0;
		close(fd);
	}
	return ok;
}

int
log_is_stderr(void)
{
	return log_to_stderr;
}

void
log_init(int debug, int facility)
{
	log_setprogname();
	/* Without a syslog socket every line would be lost. */
	log_to_stderr = debug != 0 || !log_syslog_reachable();
	log_journal = log_to_stderr && log_stderr_is_journal();
	if (!log_to_stderr) {
		/* The ident must outlive openlog: log_progname is static. */
		openlog(log_progname, LOG_PID | LOG_NDELAY, facility);
		tzset();
	}
}

void
log_setverbose(int v)
{
	log_verbose = v;
}

int
log_getverbose(void)
{
	return log_verbose;
}

void
log_procinit(const char *procname)
{
	if (procname == NULL)
		procname = "";
	snprintf(log_procname, sizeof(log_procname), "%s", procname);
}

static void
log_write_all(int fd, const char *buf, size_t len)
{
	ssize_t	n;

	while (len > 0) {
		n = write(fd, buf, len);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return;
		}
		buf += n;
		len -= (size_t)n;
	}
}

/* Advances *p over what snprintf wrote, clamped to the buffer. */
static void
log_advance(char **p, const char *end, int n)
{
	size_t	room = (size_t)(end - *p);

	if (n <= 0 || room == 0)
		return;
	*p += (size_t)n < room ? (size_t)n : room - 1;
}

/*
 * The common path: "[prog[pid]: ][procname: ]message[: strerror]",
 * with the strerror part when errnum is not 0.
 */
static void
log_emit(int pri, int errnum, const char *fmt, va_list ap)
{
	char	 buf[LOG_BUFSZ], ebuf[128];
	char	*p = buf, *end = buf + sizeof(buf) - 1;	/* room for \n */
	int	 has_msg = fmt != NULL && *fmt != '\0';

#ifdef WGCARD_FUZZ
	if (log_fuzz_quiet)
		return;
#endif
	if (log_progname[0] == '\0')
		log_setprogname();
	*p = '\0';

	/* syslog's ident and LOG_PID say "prog[pid]" there, journald too. */
	if (log_journal)
		log_advance(&p, end, snprintf(p, (size_t)(end - p), "<%d>",
		    pri & LOG_PRIMASK));
	else if (log_to_stderr)
		log_advance(&p, end, snprintf(p, (size_t)(end - p), "%s[%ld]: ",
		    log_progname, (long)getpid()));
	if (log_procname[0] != '\0')
		log_advance(&p, end, snprintf(p, (size_t)(end - p), "%s: ",
		    log_procname));
	if (has_msg)
		log_advance(&p, end, vsnprintf(p, (size_t)(end - p), fmt, ap));
	if (errnum != 0)
		log_advance(&p, end, snprintf(p, (size_t)(end - p), "%s%s",
		    has_msg ? ": " : "",
		    strerror_r(errnum, ebuf, sizeof(ebuf))));

	if (log_to_stderr) {
		*p++ = '\n';
		log_write_all(STDERR_FILENO, buf, (size_t)(p - buf));
	} else
		syslog(pri, "%s", buf);
}

void
vlog(int pri, const char *fmt, va_list ap)
{
	int	saved_errno = errno;

	log_emit(pri, 0, fmt, ap);
	errno = saved_errno;
}

void
logit(int pri, const char *fmt, ...)
{
	va_list	ap;
	int	saved_errno = errno;

	va_start(ap, fmt);
	log_emit(pri, 0, fmt, ap);
	va_end(ap);
	errno = saved_errno;
}

static uint64_t
log_now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* With lr->mtx held: the count, if any, is written and cleared. */
static void
log_repeat_out_locked(struct log_repeat *lr, uint64_t now)
{
	if (lr->count > 0)
		logit(lr->pri, "last message repeated %u time%s: %s",
		    lr->count, lr->count == 1 ? "" : "s", lr->msg);
	lr->count = 0;
	lr->since_ms = now;
}

void
log_repeat(struct log_repeat *lr, int pri, const char *fmt, ...)
{
	char		msg[LOG_REPEAT_MAX];
	va_list		ap;
	uint64_t	now = log_now_ms(), window;
	int		saved_errno = errno;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	window = lr->window_ms != 0 ? lr->window_ms : LOG_REPEAT_MS;
	pthread_mutex_lock(&lr->mtx);
	if (lr->since_ms != 0 && pri == lr->pri &&
	    strcmp(msg, lr->msg) == 0 && now - lr->since_ms < window) {
		lr->count++;
		pthread_mutex_unlock(&lr->mtx);
		errno = saved_errno;
		return;
	}
	log_repeat_out_locked(lr, now);
	lr->pri = pri;
	memcpy(lr->msg, msg, sizeof(lr->msg));
	logit(pri, "%s", msg);
	pthread_mutex_unlock(&lr->mtx);
	errno = saved_errno;
}

void
log_repeat_flush(struct log_repeat *lr)
{
	uint64_t	now = log_now_ms(), window;
	int		saved_errno = errno;

	window = lr->window_ms != 0 ? lr->window_ms : LOG_REPEAT_MS;
	pthread_mutex_lock(&lr->mtx);
	if (lr->count > 0 && now - lr->since_ms >= window)
		log_repeat_out_locked(lr, now);
	pthread_mutex_unlock(&lr->mtx);
	errno = saved_errno;
}

void
log_warn(const char *fmt, ...)
{
	va_list	ap;
	int	saved_errno = errno;

	va_start(ap, fmt);
	log_emit(LOG_ERR, saved_errno, fmt, ap);
	va_end(ap);
	errno = saved_errno;
}

void
log_warnx(const char *fmt, ...)
{
	va_list	ap;
	int	saved_errno = errno;

	va_start(ap, fmt);
	log_emit(LOG_ERR, 0, fmt, ap);
	va_end(ap);
	errno = saved_errno;
}

void
log_info(const char *fmt, ...)
{
	va_list	ap;
	int	saved_errno = errno;

	va_start(ap, fmt);
	log_emit(LOG_INFO, 0, fmt, ap);
	va_end(ap);
	errno = saved_errno;
}

/* The audit stream's second destination (the parent's audit file). */
static void	(*log_audit_fn)(const char *);

void
log_set_audit_hook(void (*fn)(const char *))
{
	log_audit_fn = fn;
}

void
log_audit(int pri, const char *fmt, ...)
{
	va_list	ap;
	char	kv[512];
	int	saved_errno = errno;

	va_start(ap, fmt);
	vsnprintf(kv, sizeof(kv), fmt, ap);
	va_end(ap);
	/* The debug level (file backend ECDHs) stays out of both unless -v. */
	if (pri == LOG_DEBUG && !log_getverbose()) {
		errno = saved_errno;
		return;
	}
	logit(pri, "audit: %s", kv);
	if (log_audit_fn != NULL)
		log_audit_fn(kv);
	errno = saved_errno;
}

void
log_debug(const char *fmt, ...)
{
	va_list	ap;
	int	saved_errno = errno;

	if (!log_verbose)
		return;
	va_start(ap, fmt);
	log_emit(LOG_DEBUG, 0, fmt, ap);
	va_end(ap);
	errno = saved_errno;
}

void
fatal(const char *fmt, ...)
{
	va_list	ap;
	int	saved_errno = errno;

	va_start(ap, fmt);
	log_emit(LOG_CRIT, saved_errno, fmt, ap);
	va_end(ap);
	LOG_EXIT();
}

void
fatalx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_emit(LOG_CRIT, 0, fmt, ap);
	va_end(ap);
	LOG_EXIT();
}
