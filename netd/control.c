/*
 * control.c: the server engine of the handshake process's local stream
 * sockets (control.h), and the control protocol wgcardctl speaks. The
 * parent opened the sockets (the control socket root:wgcard 0660, the
 * UAPI socket 0600) and passed the listening fds. Callers are identified
 * with SO_PEERCRED; on the control socket also with SO_PEERGROUPS:
 * anyone who can connect may read; only root may change anything. Every
 * control command is logged with the caller's uid.
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

#define CONTROL_MAX_OUT		(16 * 1024 * 1024)
#define CONTROL_READ		16384	/* bytes read at once */

struct control_server {
	const struct control_proto	*proto;
	int				 fd;
	struct event			 ev;
	size_t				 nconns;
};

struct control_conn {
	TAILQ_ENTRY(control_conn) entry;
	struct control_server	*srv;
	uint32_t		 id;
	int			 fd;
	uid_t			 uid;
	gid_t			 gid;
	struct event		 ev;
	struct buf		 in;
	struct buf		 out;
	size_t			 outoff;
	int			 pending;	/* a request will finish */
	int			 closing;	/* answer, then drop */
};

static struct {
	TAILQ_HEAD(, control_conn)	 conns;	/* of every server */
	uint32_t			 next_id;
	/* The control protocol. */
	struct control_server		*srv;
	const struct control_cmd	*cmds;
	gid_t				 group;
} ctl = { .conns = TAILQ_HEAD_INITIALIZER(ctl.conns) };

static int	control_update(struct control_conn *);

/* The engine. */

static void
control_close(struct control_conn *c)
{
	event_del(&c->ev);
	TAILQ_REMOVE(&ctl.conns, c, entry);
	c->srv->nconns--;
	close(c->fd);
	buf_free(&c->in);
	buf_free(&c->out);
	free(c);
}

uint32_t
control_conn_id(const struct control_conn *c)
{
	return c->id;
}

uid_t
control_conn_uid(const struct control_conn *c)
{
	return c->uid;
}

/* Drops the first n bytes of the input, wiping them (PINs, keys). */
static void
control_consume(struct control_conn *c, size_t n)
{
	memmove(c->in.data, c->in.data + n, c->in.len - n);
	sodium_memzero(c->in.data + c->in.len - n, n);
	c->in.len -= n;
}

/* A framing error: answered, then the client is dropped. */
static void
control_refuse(struct control_conn *c, int err)
{
	const struct control_proto	*p = c->srv->proto;

	log_warnx("%s: uid %u: %s, dropped", p->name, (unsigned)c->uid,
	    err == E2BIG ? "request too long" : "malformed request");
	p->end(&c->out, EINVAL, err == E2BIG ? "request too long" :
	    "malformed request");
	c->closing = 1;
	control_consume(c, c->in.len);
}

/* Serves the whole requests in c->in, in order, until one is pending. */
static void
control_process(struct control_conn *c)
{
	const struct control_proto	*p = c->srv->proto;
	ssize_t				 n;

	while (!c->pending && !c->closing && c->in.len > 0) {
		n = p->frame(c, c->in.data, c->in.len);
		if (n == 0 && c->in.len >= p->max_request)
			n = -E2BIG;
		if (n == 0)
			break;
		if (n < 0 || (size_t)n > c->in.len) {
			control_refuse(c, n == -E2BIG ? E2BIG : EINVAL);
			break;
		}
		if (p->serve(c, c->in.data, n, &c->out) == CONTROL_PENDING)
			c->pending = 1;
		control_consume(c, n);
	}
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
	c->srv->proto->end(&c->out, status, text);
	/*
	 * Requests that came while this one was pending are in c->in
	 * already, and no more bytes may come to wake the read: serve them
	 * from the loop (not from here, inside the caller's handler).
	 */
	if (control_update(c) == 0 && c->in.len > 0 && !c->closing)
		event_active(&c->ev, EV_READ, 1);
}

static void
control_io(int fd, short event, void *arg)
{
	struct control_conn	*c = arg;
	char			 tmp[CONTROL_READ];
	size_t			 room;
	ssize_t			 n;

	if (event & EV_TIMEOUT) {
		log_debug("%s: uid %u idle, dropped", c->srv->proto->name,
		    (unsigned)c->uid);
		control_close(c);
		return;
	}
	if ((event & EV_READ) && !c->pending && !c->closing) {
		room = c->srv->proto->max_request - c->in.len;
		n = 0;
		if (room > 0) {
			n = read(c->fd, tmp, room < sizeof(tmp) ? room :
			    sizeof(tmp));
			if (n == 0 || (n == -1 && errno != EAGAIN &&
			    errno != EINTR)) {
				control_close(c);
				return;
			}
		}
		if (n > 0 && buf_append(&c->in, tmp, n) == -1) {
			sodium_memzero(tmp, n);
			log_warn("%s: uid %u", c->srv->proto->name,
			    (unsigned)c->uid);
			control_close(c);
			return;
		}
		if (n > 0)
			sodium_memzero(tmp, n);
		control_process(c);
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
	struct timeval	tv = { c->srv->proto->idle_sec, 0 };
	short		events = 0;

	if (c->out.len > CONTROL_MAX_OUT) {
		log_warnx("%s: uid %u reads too slowly, dropped",
		    c->srv->proto->name, (unsigned)c->uid);
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

int
control_serve(struct control_server *srv, int s, uid_t uid, gid_t gid)
{
	struct control_conn	*c;

	if (srv->nconns >= srv->proto->max_clients) {
		log_warnx("%s: %zu clients already: uid %u refused",
		    srv->proto->name, srv->nconns, (unsigned)uid);
		return -1;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return -1;
	if (++ctl.next_id == 0)
		ctl.next_id = 1;
	c->id = ctl.next_id;
	c->srv = srv;
	c->fd = s;
	c->uid = uid;
	c->gid = gid;
	buf_init(&c->in);
	buf_init(&c->out);
	TAILQ_INSERT_TAIL(&ctl.conns, c, entry);
	srv->nconns++;
	if (srv->proto->open != NULL && srv->proto->open(c, &c->out) == -1)
		c->closing = 1;
	event_set(&c->ev, s, EV_READ, control_io, c);
	control_update(c);
	return 0;
}

static void
control_accept(int fd, short event, void *arg)
{
	struct control_server	*srv = arg;
	struct ucred		 cred;
	socklen_t		 len = sizeof(cred);
	int			 s;

	if ((s = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) == -1) {
		if (errno != EAGAIN && errno != EINTR &&
		    errno != ECONNABORTED)
			log_warn("%s: accept", srv->proto->name);
		return;
	}
	if (getsockopt(s, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1 ||
	    control_serve(srv, s, cred.uid, cred.gid) == -1)
		close(s);
}

struct control_server *
control_listen(int fd, const struct control_proto *proto)
{
	struct control_server	*srv;

	if ((srv = calloc(1, sizeof(*srv))) == NULL)
		fatal("%s", __func__);
	srv->proto = proto;
	srv->fd = fd;
	event_set(&srv->ev, fd, EV_READ | EV_PERSIST, control_accept, srv);
	event_add(&srv->ev, NULL);
	return srv;
}

/* The control protocol. */

static void
control_end(struct buf *out, int status, const char *text)
{
	if (status == 0 && text != NULL)
		buf_append(out, text, strlen(text));
	if (status && text != NULL && *text)
		buf_printf(out, "error=%s\n", text);
	buf_printf(out, "end=%d\n", status);
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

/*
 * Splits a request's first line (in, linelen bytes, at most
 * CONTROL_MAX_LINE) into words in line: its command, or NULL (unknown);
 * -1 when the line is malformed (logged).
 */
static int
control_parse(const struct control_conn *c, const char *in, size_t linelen,
    char line[static CONTROL_MAX_LINE + 1], struct control_req *req,
    const struct control_cmd **cmd, int *nwords)
{
	char	*p, *save;
	int	 i;

	memcpy(line, in, linelen);
	line[linelen] = '\0';
	memset(req, 0, sizeof(*req));
	*cmd = NULL;
	if (memchr(line, '\0', linelen) != NULL)
		goto bad;
	for (p = strtok_r(line, " \t\r", &save); p != NULL && req->argc < 8;
	    p = strtok_r(NULL, " \t\r", &save))
		req->argv[req->argc++] = p;
	for (i = 0; i < req->argc; i++)
		for (p = req->argv[i]; *p; p++)
			if (*p < 0x21 || *p > 0x7e || *p == '"')
				goto bad;
	if (req->argc > 0)
		*cmd = control_match(req, nwords);
	return 0;
bad:
	log_audit(LOG_WARNING, "op=control uid=%u result=refused "
	    "reason=malformed", (unsigned)c->uid);
	return -1;
}

/* A request is a line, and for a command that takes one a secret line. */
static ssize_t
control_frame(const struct control_conn *c, const char *in, size_t len)
{
	const struct control_cmd	*cmd;
	struct control_req		 req;
	char				 line[CONTROL_MAX_LINE + 1];
	const char			*nl, *nl2;
	size_t				 used;
	int				 nwords, r;

	if ((nl = memchr(in, '\n', len)) == NULL)
		return len > CONTROL_MAX_LINE ? -E2BIG : 0;
	if ((size_t)(nl - in) > CONTROL_MAX_LINE)
		return -E2BIG;
	r = control_parse(c, in, nl - in, line, &req, &cmd, &nwords);
	sodium_memzero(line, sizeof(line));
	if (r == -1)
		return -EINVAL;
	used = nl + 1 - in;
	if (cmd == NULL || !cmd->has_secret)
		return used;
	if ((nl2 = memchr(nl + 1, '\n', len - used)) == NULL)
		return len - used > CONTROL_MAX_LINE ? -E2BIG : 0;
	if ((size_t)(nl2 - (nl + 1)) > CONTROL_MAX_LINE)
		return -E2BIG;
	return nl2 + 1 - in;
}

static int
control_serve_cmd(struct control_conn *c, char *in, size_t len,
    struct buf *out)
{
	const struct control_cmd	*cmd;
	struct control_req		 req;
	char				 line[CONTROL_MAX_LINE + 1];
	char				*nl;
	int				 r, nwords = 0;

	nl = memchr(in, '\n', len);
	if (control_parse(c, in, nl - in, line, &req, &cmd, &nwords) == -1) {
		control_end(out, EINVAL, "malformed request");
		r = 0;
		goto done;
	}
	req.conn = c;
	req.uid = c->uid;
	req.gid = c->gid;
	req.is_member = 1;	/* the others were refused at open */
	if (cmd == NULL) {
		log_audit(LOG_WARNING, "op=control uid=%u result=refused "
		    "reason=unknown-command", (unsigned)c->uid);
		control_end(out, EINVAL, "unknown command");
		r = 0;
		goto done;
	}
	if (cmd->has_secret) {
		in[len - 1] = '\0';
		req.secret = nl + 1;
	}
	if (cmd->root_only && c->uid != 0) {
		log_audit(LOG_WARNING, "op=control uid=%u command=\"%s%s%s\" "
		    "result=refused reason=root-only", (unsigned)c->uid,
		    req.argv[0], req.argc > 1 ? " " : "",
		    req.argc > 1 ? req.argv[1] : "");
		control_end(out, EPERM, "permission denied: root only");
		r = 0;
		goto done;
	}
	/* Printable, no quote (checked): fit for a quoted value. */
	log_audit(LOG_INFO, "op=control uid=%u command=\"%s%s%s\"",
	    (unsigned)c->uid, req.argv[0], req.argc > 1 ? " " : "",
	    req.argc > 1 ? req.argv[1] : "");
	req.argc -= nwords;
	memmove(req.argv, req.argv + nwords, sizeof(req.argv[0]) * req.argc);
	r = cmd->handler(&req, out);
	if (r != CONTROL_PENDING) {
		control_end(out, r, r ? strerror(r) : NULL);
		r = 0;
	}
done:
	sodium_memzero(line, sizeof(line));
	return r;
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

static int
control_open(struct control_conn *c, struct buf *out)
{
	if (control_is_member(c->fd, c->uid, c->gid))
		return 0;
	/* The socket's mode should have stopped it: say no. */
	log_audit(LOG_WARNING, "op=control uid=%u result=refused "
	    "reason=\"not in group %s\"", (unsigned)c->uid, CONTROL_GROUP);
	control_end(out, EPERM, "permission denied");
	return -1;
}

static const struct control_proto control_proto = {
	.name = "control",
	.max_request = 2 * (CONTROL_MAX_LINE + 1),
	.max_clients = 64,
	.idle_sec = 30,
	.frame = control_frame,
	.serve = control_serve_cmd,
	.end = control_end,
	.open = control_open,
};

void
control_init(int fd, const struct control_cmd *cmds, gid_t group)
{
	if (ctl.srv != NULL)
		fatalx("%s: twice", __func__);
	ctl.cmds = cmds;
	ctl.group = group;
	ctl.srv = control_listen(fd, &control_proto);
}

int
control_conn_new(int s, uid_t uid, gid_t gid)
{
	return control_serve(ctl.srv, s, uid, gid);
}
