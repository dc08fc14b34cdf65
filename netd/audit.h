/*
 * audit.h: the audit file (AuditLog in wgcardd.conf(5)): the audit stream
 * of every process as JSON lines, written by the parent only. The
 * children send their events (IMSG_AUDIT: the "op=... key=value" text of
 * their "audit:" log lines) and the parent, which treats them as
 * untrusted, turns each into one JSON object and appends it with one
 * write(2) on a descriptor opened O_APPEND. See docs/audit-log.md.
 */
#ifndef WGCARD_AUDIT_H
#define WGCARD_AUDIT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "wgcard.h"

#define AUDIT_KV_MAX		WGCARD_AUDIT_MAX
#define AUDIT_LINE_MAX		4096	/* one JSON line: 6 x AUDIT_KV_MAX + envelope */
#define AUDIT_RATE		200	/* events per second per process */
#define AUDIT_BURST		1000

/*
 * One event as a JSON line (with its newline) in out: the envelope (ts,
 * interface, proc, pid) then the fields of kv. kv is "key=value ..." with
 * keys [a-z0-9_-], values bare or double-quoted (no escapes); anything
 * else makes {"op":"malformed","raw":"..."}. Returns the length, or 0 if
 * out is too small (it never is at AUDIT_LINE_MAX for a kv that fits
 * AUDIT_KV_MAX).
 */
size_t	audit_format(char *out, size_t outlen, int64_t t_us,
	    const char *ifname, const char *proc, pid_t pid, const char *kv);

/*
 * Opens path (created 0640, O_APPEND, no symlink followed) in place of
 * the file open now; NULL closes it. 0, or -1 with err set and the old
 * file kept. The same path again is reopened (log rotation).
 */
int	audit_reopen(const char *path, char *err, size_t errlen);
/* Whether an audit file is open. */
int	audit_enabled(void);
/*
 * One event from proc (procidx: enum proc_id). Each process may write
 * AUDIT_RATE events a second (bursts of AUDIT_BURST); past that, events
 * are counted by op and written as one op=audit-aggregate line per
 * process at most once a second (and by audit_flush(), and before the
 * file is closed or reopened): nothing is lost without a count. The key
 * broker's card ECDH records (op=ecdh backend=openpgp) are always written
 * (the card bounds their rate). kv as above.
 */
void	audit_event(int procidx, const char *proc, pid_t pid, const char *kv);
/* The same at a given monotonic time in microseconds (for the tests). */
void	audit_event_at(int procidx, const char *proc, pid_t pid,
	    const char *kv, int64_t now_us);
/* Writes every pending count now (a timer, the stop). */
void	audit_flush(void);
void	audit_close(void);
/* The interface name written in every line. */
void	audit_set_ifname(const char *);

#endif /* WGCARD_AUDIT_H */
