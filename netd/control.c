/*
 * control.c: the control socket, served by the handshake process (the
 * parent opened it, root:wgcard 0660, and passed the listening fd). Each
 * client sends one request line at a time and gets key=value lines and an
 * "end=N" line back. Callers are identified with SO_PEERCRED and
 * SO_PEERGROUPS: anyone who can connect may read; only root may change
 * anything. Every command is logged with the caller's uid.
 */
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event.h>
#include <sodium.h>

#include "buf.h"
#include "compat.h"
#include "control.h"
#include "log.h"

#define CONTROL_IDLE_SEC	30
#define CONTROL_MAX_CLIENTS	64
#define CONTROL_MAX_OUT		(16 * 1024 * 1024)

struct control_conn {
	TAILQ_ENTRY(control_conn) entry;
	uint32_t		 id;
	int			 fd;
	uid_t			 uid;
	gid_t			 gid;
	int			 is_member;
	struct event		 ev;
	char			 in[2 * CONTROL_MAX_LINE + 2];
	size_t			 inlen;
	struct buf		 out;
	size_t			 outoff;
	int			 pending;	/* a handler will finish */
	int			 closing;
};

static struct {
	int				 fd;
	struct event			 ev;
	const struct control_cmd	*cmds;
	gid_t				 group;
	TAILQ_HEAD(, control_conn)	 conns;
	size_t				 nconns;
	uint32_t			 next_id;
} ctl = { .fd = -1 };

static int	control_update(struct control_conn *);

static void
control_close(struct control_conn *c)
{
	event_del(&c->ev);
	TAILQ_REMOVE(&ctl.conns, c, entry);
	ctl.nconns--;
	close(c->fd);
	sodium_memzero(c->in, sizeof(c->in));
	buf_free(&c->out);
	free(c);
}

uint32_t
control_conn_id(const struct control_conn *c)
{
	return c->id;
}

static void
control_end(struct control_conn *c, int status, const char *msg)
{
	if (status && msg != NULL && *msg)
		buf_printf(&c->out, "error=%s\n", msg);
	buf_printf(&c->out, "end=%d\n", status);
}

void
control_finish(uint32_t id, int status, const char *text)
{
	struct control_conn	*c;

	TAILQ_FOREACH(c, &ctl.conns, entry)
		if (c->id == id && c->pending)
			break;
	if (c == NULL)
		return;
	c->pending = 0;
	if (status == 0 && text != NULL)
		buf_append(&c->out, text, strlen(text));
	control_end(c, status, status ? text : NULL);
	/*
	 * Requests that came while this one was pending are in c->in
	 * already, and no more bytes may come to wake the read: serve them
	 * from the loop (not from here, inside the caller's handler).
	 */
	if (control_update(c) == 0 && c->inlen > 0 && !c->closing)
		event_active(&c->ev, EV_READ, 1);
}

static const struct control_cmd *
control_match(struct control_req *req, int *nwords)
{
	const struct control_cmd	*cmd;
	int				 i;

	for (cmd = ctl.cmds; cmd->handler != NULL; cmd++) {
		for (i = 0; i < 3 && cmd->words[i] != NULL; i++)
			if (i >= req->argc || strcmp(cmd->words[i],
			    req->argv[i]) != 0)
				break;
		if (i == 3 || cmd->words[i] == NULL) {
			*nwords = i;
			return cmd;
		}
	}
	return NULL;
}

/* Handles one request line (and its secret line); 0, or -1 to wait. */
static int
control_request(struct control_conn *c)
{
	const struct control_cmd	*cmd;
	struct control_req		 req;
	char				 line[CONTROL_MAX_LINE + 1];
	char				*nl, *p, *save;
	size_t				 used, linelen;
	int				 r, nwords, i;

	if ((nl = memchr(c->in, '\n', c->inlen)) == NULL)
		return -1;
	linelen = nl - c->in;
	if (linelen > CONTROL_MAX_LINE) {
		control_end(c, EINVAL, "request too long");
		c->closing = 1;
		c->inlen = 0;
		return 0;
	}
	memcpy(line, c->in, linelen);
	line[linelen] = '\0';
	if (memchr(line, '\0', linelen) != NULL) {
		control_end(c, EINVAL, "malformed request");
		c->closing = 1;
		c->inlen = 0;
		return 0;
	}
	used = linelen + 1;
	memset(&req, 0, sizeof(req));
	req.conn = c;
	req.uid = c->uid;
	req.gid = c->gid;
	req.is_member = c->is_member;
	for (p = strtok_r(line, " \t\r", &save); p != NULL && req.argc < 8;
	    p = strtok_r(NULL, " \t\r", &save))
		req.argv[req.argc++] = p;
	for (i = 0; i < req.argc; i++)
		for (p = req.argv[i]; *p; p++)
			if (*p < 0x21 || *p > 0x7e || *p == '"') {
				log_audit(LOG_WARNING, "op=control uid=%u "
				    "result=refused reason=malformed",
				    (unsigned)c->uid);
				control_end(c, EINVAL, "malformed request");
				c->closing = 1;
				goto consume;
			}
	if (req.argc == 0 || (cmd = control_match(&req, &nwords)) == NULL) {
		log_audit(LOG_WARNING, "op=control uid=%u result=refused "
		    "reason=unknown-command", (unsigned)c->uid);
		control_end(c, EINVAL, "unknown command");
		goto consume;
	}
	if (cmd->has_secret) {
		char	*nl2;

		nl2 = memchr(nl + 1, '\n', c->inlen - used);
		if (nl2 == NULL)
			return -1;	/* wait for the second line */
		*nl2 = '\0';
		req.secret = nl + 1;
		used = nl2 + 1 - c->in;
	}
	if (cmd->root_only && c->uid != 0) {
		log_audit(LOG_WARNING, "op=control uid=%u command=\"%s%s%s\" "
		    "result=refused reason=root-only", (unsigned)c->uid,
		    req.argv[0], req.argc > 1 ? " " : "",
		    req.argc > 1 ? req.argv[1] : "");
		control_end(c, EPERM, "permission denied: root only");
		goto consume;
	}
	/* Printable, no quote (checked above): fit for a quoted value. */
	log_audit(LOG_INFO, "op=control uid=%u command=\"%s%s%s\"",
	    (unsigned)c->uid, req.argv[0], req.argc > 1 ? " " : "",
	    req.argc > 1 ? req.argv[1] : "");
	req.argc -= nwords;
	memmove(req.argv, req.argv + nwords, sizeof(req.argv[0]) * req.argc);
	r = cmd->handler(&req, &c->out);
	if (r == CONTROL_PENDING)
		c->pending = 1;
	else
		control_end(c, r, r ? strerror(r) : NULL);
consume:
	sodium_memzero(line, sizeof(line));
	memmove(c->in, c->in + used, c->inlen - used);
	sodium_memzero(c->in + c->inlen - used, used);
	c->inlen -= used;
	return 0;
}

static void
control_io(int fd, short event, void *arg)
{
	struct control_conn	*c = arg;
	ssize_t			 n;

	if (event & EV_TIMEOUT) {
		log_debug("control: uid %u idle, dropped", (unsigned)c->uid);
		control_close(c);
		return;
	}
	if (event & EV_READ) {
		n = read(c->fd, c->in + c->inlen, sizeof(c->in) - c->inlen);
		if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR)) {
			control_close(c);
			return;
		}
		if (n > 0)
			c->inlen += n;
		while (!c->pending && !c->closing && control_request(c) == 0)
			;
		if (c->inlen == sizeof(c->in)) {
			log_warnx("control: uid %u: request too long, dropped",
			    (unsigned)c->uid);
			control_close(c);
			return;
		}
	}
	if (c->out.len > c->outoff) {
		n = write(c->fd, c->out.data + c->outoff,
		    c->out.len - c->outoff);
		if (n == -1 && errno != EAGAIN && errno != EINTR) {
			control_close(c);
			return;
		}
		if (n > 0)
			c->outoff += n;
		if (c->outoff == c->out.len) {
			buf_reset(&c->out);
			c->outoff = 0;
		}
	}
	if (c->closing && c->out.len == 0) {
		control_close(c);
		return;
	}
	control_update(c);
}

/* The events c waits for now: 0, or -1 when c was closed (too much out). */
static int
control_update(struct control_conn *c)
{
	struct timeval	tv = { CONTROL_IDLE_SEC, 0 };
	short		events = 0;

	if (c->out.len > CONTROL_MAX_OUT) {
		control_close(c);
		return -1;
	}
	if (!c->pending && !c->closing)
		events |= EV_READ;
	if (c->out.len > c->outoff)
		events |= EV_WRITE;
	event_del(&c->ev);
	event_set(&c->ev, c->fd, events, control_io, c);
	event_add(&c->ev, c->pending ? NULL : &tv);
	return 0;
}

static int
control_is_member(int fd, uid_t uid, gid_t gid)
{
	gid_t		groups[256];
	socklen_t	len = sizeof(groups);
	size_t		i;

	if (uid == 0 || gid == ctl.group)
		return 1;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) == -1)
		return 0;
	for (i = 0; i < len / sizeof(gid_t); i++)
		if (groups[i] == ctl.group)
			return 1;
	return 0;
}

int
control_conn_new(int s, uid_t uid, gid_t gid)
{
	struct control_conn	*c;

	if (ctl.nconns >= CONTROL_MAX_CLIENTS ||
	    (c = calloc(1, sizeof(*c))) == NULL)
		return -1;
	c->id = ++ctl.next_id;
	c->fd = s;
	c->uid = uid;
	c->gid = gid;
	c->is_member = control_is_member(s, uid, gid);
	buf_init(&c->out);
	TAILQ_INSERT_TAIL(&ctl.conns, c, entry);
	ctl.nconns++;
	if (!c->is_member) {
		/* The socket's mode should have stopped it: say no. */
		log_audit(LOG_WARNING, "op=control uid=%u result=refused "
		    "reason=\"not in group %s\"", (unsigned)uid,
		    CONTROL_GROUP);
		control_end(c, EPERM, "permission denied");
		c->closing = 1;
	}
	event_set(&c->ev, s, EV_READ, control_io, c);
	control_update(c);
	return 0;
}

static void
control_accept(int fd, short event, void *arg)
{
	struct ucred		 cred;
	socklen_t		 len = sizeof(cred);
	int			 s;

	if ((s = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) == -1)
		return;
	if (getsockopt(s, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1 ||
	    control_conn_new(s, cred.uid, cred.gid) == -1)
		close(s);
}

void
control_init(int fd, const struct control_cmd *cmds, gid_t group)
{
	TAILQ_INIT(&ctl.conns);
	ctl.fd = fd;
	ctl.cmds = cmds;
	ctl.group = group;
	event_set(&ctl.ev, fd, EV_READ | EV_PERSIST, control_accept, NULL);
	event_add(&ctl.ev, NULL);
}
