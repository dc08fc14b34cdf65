/*
 * audit.c: the audit file (see audit.h and docs/audit-log.md). Parent
 * only: the children never hold the file; what they send is parsed as
 * untrusted text and written as JSON with every byte escaped that must be.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"
#include "compat.h"
#include "encoding.h"
#include "log.h"

static int		 audit_fd = -1;
static char		 audit_ifname[32];

/*
 * A token bucket per process (parent, keyd, handshake, forwarder). Past
 * the rate, events are not dropped but counted by their op (the first
 * AUDIT_AGG_OPS names, then "other"), and the counts are written as one
 * op=audit-aggregate line per process at most once a second, when the
 * file is reopened or closed, and by audit_flush().
 */
#define AUDIT_AGG_OPS	8
#define AUDIT_OP_MAX	24
static struct {
	int64_t		 last_us;
	double		 tokens;
	uint64_t	 total;			/* counted, not yet written */
	int64_t		 agg_since;		/* first count, us */
	uint64_t	 n[AUDIT_AGG_OPS + 1];	/* the last one: other */
	char		 op[AUDIT_AGG_OPS][AUDIT_OP_MAX];
	const char	*proc;
	pid_t		 pid;
} audit_rl[4];

static int	audit_atexit_set;

static void	audit_write(const char *, pid_t, const char *);

/* Keys whose values are numbers (when they look like one). */
static const char *const audit_numeric[] = {
	"latency_ms", "retries_left", "pin_retries", "uid", "count", "peers",
	"suppressed",
	"port", "mtu", NULL
};

/* Keys of the envelope: a child may not write them. */
static const char *const audit_reserved[] = {
	"ts", "interface", "proc", "pid", "raw", NULL
};

struct audit_out {
	char	*p;
	size_t	 len, cap;
	int	 full;
};

static void
audit_put(struct audit_out *o, const char *s, size_t n)
{
	if (o->full || o->len + n >= o->cap) {
		o->full = 1;
		return;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
	o->p[o->len] = '\0';
}

static void
audit_puts(struct audit_out *o, const char *s)
{
	audit_put(o, s, strlen(s));
}

/* A JSON string (common/encoding.c), or o is full. */
static void
audit_str(struct audit_out *o, const char *s, size_t n)
{
	size_t	len;

	if (o->full)
		return;
	len = json_quote(o->p + o->len, o->cap - o->len, s, n);
	if (o->len + len >= o->cap) {
		o->full = 1;
		o->p[o->len] = '\0';
		return;
	}
	o->len += len;
}

static int
audit_in(const char *const *list, const char *k, size_t n)
{
	for (; *list != NULL; list++)
		if (strlen(*list) == n && memcmp(*list, k, n) == 0)
			return 1;
	return 0;
}

/* A JSON number as JSON allows it: -?(0|[1-9][0-9]*)(\.[0-9]+)? */
static int
audit_is_number(const char *v, size_t n)
{
	size_t	i = 0, d;

	if (n > 0 && v[0] == '-')
		i++;
	if (i >= n || v[i] < '0' || v[i] > '9' || (v[i] == '0' &&
	    i + 1 < n && v[i + 1] != '.'))
		return 0;
	while (i < n && v[i] >= '0' && v[i] <= '9')
		i++;
	if (i == n)
		return 1;
	if (v[i++] != '.')
		return 0;
	for (d = i; i < n && v[i] >= '0' && v[i] <= '9'; i++)
		;
	return i == n && i > d;
}

/*
 * The fields of kv into o (each as ,"key":value), or -1 if kv is not
 * well formed. op must come first.
 */
static int
audit_fields(struct audit_out *o, const char *kv)
{
	const char	*p = kv, *k, *v;
	size_t		 kn, vn, nf = 0;

	for (;;) {
		while (*p == ' ')
			p++;
		if (*p == '\0')
			break;
		for (k = p; (*p >= 'a' && *p <= 'z') || (*p >= '0' &&
		    *p <= '9') || *p == '_' || *p == '-'; p++)
			;
		kn = p - k;
		if (kn == 0 || kn > 32 || *p != '=')
			return -1;
		p++;
		if (*p == '"') {
			v = ++p;
			if ((p = strchr(p, '"')) == NULL)
				return -1;
			vn = p - v;
			p++;
			if (*p != ' ' && *p != '\0')
				return -1;
		} else {
			for (v = p; *p != ' ' && *p != '\0' && *p != '"'; p++)
				;
			if (*p == '"')
				return -1;
			vn = p - v;
		}
		if (audit_in(audit_reserved, k, kn) ||
		    (nf == 0) != (kn == 2 && memcmp(k, "op", 2) == 0))
			return -1;
		audit_put(o, ",", 1);
		audit_str(o, k, kn);
		audit_put(o, ":", 1);
		if (audit_in(audit_numeric, k, kn) && audit_is_number(v, vn))
			audit_put(o, v, vn);
		else
			audit_str(o, v, vn);
		nf++;
	}
	return nf > 0 ? 0 : -1;
}

size_t
audit_format(char *out, size_t outlen, int64_t t_us, const char *ifname,
    const char *proc, pid_t pid, const char *kv)
{
	struct audit_out	o = { out, 0, outlen, 0 };
	struct tm		tm;
	time_t			sec = (time_t)(t_us / 1000000);
	char			ts[64];
	size_t			env;

	if (outlen == 0)
		return 0;
	out[0] = '\0';
	gmtime_r(&sec, &tm);
	snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, (int)(t_us % 1000000));
	audit_puts(&o, "{\"ts\":");
	audit_str(&o, ts, strlen(ts));
	audit_puts(&o, ",\"interface\":");
	audit_str(&o, ifname, strlen(ifname));
	audit_puts(&o, ",\"proc\":");
	audit_str(&o, proc, strlen(proc));
	snprintf(ts, sizeof(ts), ",\"pid\":%ld", (long)pid);
	audit_puts(&o, ts);
	env = o.len;
	if (audit_fields(&o, kv) == -1) {
		o.len = env;
		o.full = 0;
		out[o.len] = '\0';
		audit_puts(&o, ",\"op\":\"malformed\",\"raw\":");
		audit_str(&o, kv, strnlen(kv, AUDIT_KV_MAX));
	}
	audit_puts(&o, "}\n");
	return o.full ? 0 : o.len;
}

void
audit_set_ifname(const char *ifname)
{
	strlcpy(audit_ifname, ifname, sizeof(audit_ifname));
}

int
audit_enabled(void)
{
	return audit_fd != -1;
}

int
audit_reopen(const char *path, char *err, size_t errlen)
{
	struct stat	st;
	int		fd, flags, created = 0;

	if (path == NULL || *path == '\0') {
		audit_close();
		return 0;
	}
	/*
	 * Made here with O_EXCL, it gets exactly 0640 whatever the umask;
	 * one that exists keeps the mode its owner gave it. Non-blocking, so
	 * a FIFO in its place cannot stall the parent; only a regular file
	 * is taken.
	 */
	flags = O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY |
	    O_NONBLOCK;
	if ((fd = open(path, flags | O_CREAT | O_EXCL, 0640)) != -1)
		created = 1;
	else if (errno == EEXIST)
		fd = open(path, flags);
	if (fd == -1) {
		/* ENXIO: a FIFO nobody reads (O_NONBLOCK said so at once). */
		snprintf(err, errlen, "AuditLog %s: %s", path, errno == ENXIO ?
		    "not a regular file" : strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "AuditLog %s: not a regular file", path);
		close(fd);
		return -1;
	}
	/* Blocking again (O_APPEND kept) once we know it is a file. */
	if ((created && fchmod(fd, 0640) == -1) ||
	    fcntl(fd, F_SETFL, O_APPEND) == -1) {
		snprintf(err, errlen, "AuditLog %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	audit_close();
	/* Counts still pending when the parent exits are written then. */
	if (!audit_atexit_set && atexit(audit_flush) == 0)
		audit_atexit_set = 1;
	audit_fd = fd;
	return 0;
}

void
audit_close(void)
{
	if (audit_fd != -1) {
		audit_flush();
		close(audit_fd);
	}
	audit_fd = -1;
}

/*
 * The op name of an event for the counts: [a-z0-9_-], 1 to
 * AUDIT_OP_MAX - 1 characters, else "malformed".
 */
static void
audit_opname(const char *kv, char *op)
{
	size_t	i;

	if (strncmp(kv, "op=", 3) == 0) {
		for (i = 0; i < AUDIT_OP_MAX - 1; i++) {
			char	ch = kv[3 + i];

			if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
			    ch == '_' || ch == '-')
				op[i] = ch;
			else
				break;
		}
		if (i > 0 && (kv[3 + i] == '\0' || kv[3 + i] == ' ')) {
			op[i] = '\0';
			return;
		}
	}
	strlcpy(op, "malformed", AUDIT_OP_MAX);
}

static void
audit_count(int procidx, const char *proc, pid_t pid, const char *kv,
    int64_t now)
{
	char	op[AUDIT_OP_MAX];
	int	i;

	audit_opname(kv, op);
	if (audit_rl[procidx].total == 0)
		audit_rl[procidx].agg_since = now;
	audit_rl[procidx].total++;
	audit_rl[procidx].proc = proc;
	audit_rl[procidx].pid = pid;
	for (i = 0; i < AUDIT_AGG_OPS; i++) {
		if (audit_rl[procidx].op[i][0] == '\0')
			strlcpy(audit_rl[procidx].op[i], op, AUDIT_OP_MAX);
		if (strcmp(audit_rl[procidx].op[i], op) == 0) {
			audit_rl[procidx].n[i]++;
			return;
		}
	}
	audit_rl[procidx].n[AUDIT_AGG_OPS]++;
}

/* Writes (and forgets) the counts of one process, if any. */
static void
audit_flush_one(int procidx)
{
	char	buf[96 + AUDIT_AGG_OPS * (AUDIT_OP_MAX + 22)], *p;
	size_t	room;
	int	i, n, first = 1;

	if (audit_rl[procidx].total == 0)
		return;
	n = snprintf(buf, sizeof(buf), "op=audit-aggregate count=%llu ops=\"",
	    (unsigned long long)audit_rl[procidx].total);
	p = buf + n;
	room = sizeof(buf) - n;
	for (i = 0; i <= AUDIT_AGG_OPS; i++) {
		if (audit_rl[procidx].n[i] == 0)
			continue;
		n = snprintf(p, room, "%s%s:%llu", first ? "" : ",",
		    i < AUDIT_AGG_OPS ? audit_rl[procidx].op[i] : "other",
		    (unsigned long long)audit_rl[procidx].n[i]);
		if (n < 0 || (size_t)n >= room)
			break;
		p += n;
		room -= n;
		first = 0;
	}
	if (room > 1) {
		*p++ = '"';
		*p = '\0';
	}
	log_warnx("audit: %llu events from %s over the rate, counted by op",
	    (unsigned long long)audit_rl[procidx].total,
	    audit_rl[procidx].proc);
	audit_write(audit_rl[procidx].proc, audit_rl[procidx].pid, buf);
	audit_rl[procidx].total = 0;
	memset(audit_rl[procidx].n, 0, sizeof(audit_rl[procidx].n));
	memset(audit_rl[procidx].op, 0, sizeof(audit_rl[procidx].op));
}

void
audit_flush(void)
{
	int	i;

	if (audit_fd == -1)
		return;
	for (i = 0; i < 4; i++)
		audit_flush_one(i);
}

static int64_t
audit_now_us(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void
audit_write(const char *proc, pid_t pid, const char *kv)
{
	char	line[AUDIT_LINE_MAX];
	size_t	n;

	n = audit_format(line, sizeof(line), audit_now_us(), audit_ifname,
	    proc, pid, kv);
	/* One write: O_APPEND keeps lines whole even with other writers. */
	if (n > 0 && write(audit_fd, line, n) != (ssize_t)n)
		log_warn("audit file: write");
}

void
audit_event(int procidx, const char *proc, pid_t pid, const char *kv)
{
	struct timespec	ts;

	/* The rate is kept on the monotonic clock (the wall clock jumps). */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	audit_event_at(procidx, proc, pid, kv,
	    (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000);
}

void
audit_event_at(int procidx, const char *proc, pid_t pid, const char *kv,
    int64_t now)
{
	int	i;

	if (audit_fd == -1 || procidx < 0 || procidx > 3)
		return;
	/* Counts a second old are written, whoever sends next. */
	for (i = 0; i < 4; i++)
		if (audit_rl[i].total > 0 &&
		    now - audit_rl[i].agg_since >= 1000000)
			audit_flush_one(i);
	/*
	 * The broker's card operations are never counted away: each names
	 * the point it was asked for, and the card itself bounds their rate.
	 */
	if (procidx == PROC_KEYD && strncmp(kv, "op=ecdh backend=openpgp ",
	    24) == 0) {
		audit_write(proc, pid, kv);
		return;
	}
	if (audit_rl[procidx].last_us == 0)
		audit_rl[procidx].tokens = AUDIT_BURST;
	else
		audit_rl[procidx].tokens += (double)(now -
		    audit_rl[procidx].last_us) * AUDIT_RATE / 1e6;
	if (audit_rl[procidx].tokens > AUDIT_BURST)
		audit_rl[procidx].tokens = AUDIT_BURST;
	audit_rl[procidx].last_us = now;
	if (audit_rl[procidx].tokens < 1) {
		audit_count(procidx, proc, pid, kv, now);
		return;
	}
	audit_rl[procidx].tokens -= 1;
	audit_flush_one(procidx);
	audit_write(proc, pid, kv);
}
