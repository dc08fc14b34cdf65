/*
 * fuzz_control.c: libFuzzer target for the control socket as the server
 * (netd/control.c) sees a client: framing, request parsing, limits,
 * credentials and answers, through the real connection code on one end
 * of a socketpair and libevent, with a command table like the handshake
 * process's.
 *
 * Input: byte 0 picks the caller (bits 0-1: root, a member of the group,
 * by its gid; or another user), how the bytes are written (bits 2-3: all
 * at once, or in pieces of 1, 7 or 100 bytes) and how a pending command
 * ends (bit 4: an error, else success); the rest is what the client
 * sends.
 *
 * What must hold, against a model of the protocol written here: the
 * answers are exactly the ones the model expects, in order (one end line
 * per request, with its status: an unknown or empty command, a malformed
 * or too long line (with its newline or without: more than
 * CONTROL_MAX_LINE bytes, first or second line), root-only commands of
 * others refused, a second line for a command that takes one; the
 * connection closed after a framing error, a non-member refused at once), every answer line is key=value, a handler
 * sees only printable words, the secret only for its command, and no
 * secret reaches the audit log; a request that came while another was
 * pending is answered too; the connection is closed when the client
 * leaves, no descriptor leaks.
 */
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event.h>

#include "buf.h"
#include "compat.h"
#include "control.h"
#include "harness.h"
#include "log.h"

#define FCT_GROUP	4242
#define FCT_BUF		(2 * CONTROL_MAX_LINE + 2)	/* control.c's limit */
#define FCT_MAX_ANSWERS	4096

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static struct {
	uid_t		 uid;
	int		 fail_pending;
	uint32_t	 pending_id;
	int		 pending;
	char		 secret[FCT_BUF];	/* the last one a handler saw */
	int		 expect[FCT_MAX_ANSWERS];
	size_t		 nexpect;
} fct;

static void
fct_check_req(const struct control_req *req, int root_only, int has_secret)
{
	int		 i;
	const char	*p;

	if (!req->is_member || (root_only && req->uid != 0) ||
	    req->uid != fct.uid || req->argc < 0 || req->argc > 8)
		abort();
	for (i = 0; i < req->argc; i++)
		for (p = req->argv[i]; *p; p++)
			if (*p < 0x21 || *p > 0x7e || *p == '"')
				abort();
	if ((req->secret != NULL) != has_secret)
		abort();
	if (req->secret != NULL) {
		if (strchr(req->secret, '\n') != NULL ||
		    strlen(req->secret) >= sizeof(fct.secret))
			abort();
		strlcpy(fct.secret, req->secret, sizeof(fct.secret));
	}
}

static int
fct_show(struct control_req *req, struct buf *out)
{
	fct_check_req(req, 0, 0);
	if (req->argc != 0)
		return EINVAL;
	buf_printf(out, "interface=wg0\nlisten_port=51820\n");
	return 0;
}

/* A command answered later, as the broker or the parent does. */
static int
fct_later(struct control_req *req, int root_only, int has_secret)
{
	fct_check_req(req, root_only, has_secret);
	if (req->argc != 0)
		return EINVAL;
	if (fct.pending)
		abort();		/* one at a time per connection */
	fct.pending = 1;
	fct.pending_id = control_conn_id(req->conn);
	return CONTROL_PENDING;
}

static int
fct_status(struct control_req *req, struct buf *out)
{
	return fct_later(req, 0, 0);
}

static int
fct_unlock(struct control_req *req, struct buf *out)
{
	return fct_later(req, 1, 1);
}

static int
fct_reload(struct control_req *req, struct buf *out)
{
	return fct_later(req, 1, 0);
}

static const struct control_cmd fct_cmds[] = {
	{ { "show", NULL }, 0, 0, fct_show },
	{ { "card", "status", NULL }, 0, 0, fct_status },
	{ { "card", "unlock", NULL }, 1, 1, fct_unlock },
	{ { "reload", NULL }, 1, 0, fct_reload },
	{ { NULL }, 0, 0, NULL }
};

/* No secret in the audit log. */
static void
fct_audit(const char *kv)
{
	if (strlen(fct.secret) >= 4 && strpbrk(fct.secret,
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != NULL &&
	    strstr(kv, fct.secret) != NULL)
		abort();
}

static void
fct_expect(int status)
{
	if (fct.nexpect < FCT_MAX_ANSWERS)
		fct.expect[fct.nexpect++] = status;
}

/*
 * The model: the answers the server owes for what the client sent (m, n
 * bytes), by the rules of control.h and control.c.
 */
static void
fct_model(const char *m, size_t n, int member)
{
	const struct control_cmd	*cmd;
	const char			*nl, *nl2, *p, *end;
	char				 line[FCT_BUF], *argv[8], *tok, *save;
	size_t				 pos = 0, len, i;
	int				 argc, w, bad;

	if (!member) {
		fct_expect(EPERM);
		return;
	}
	while (pos < n) {
		/* What the buffer holds from the request's start on. */
		len = n - pos < FCT_BUF ? n - pos : FCT_BUF;
		if ((nl = memchr(m + pos, '\n', len)) == NULL) {
			if (len > CONTROL_MAX_LINE)
				fct_expect(EINVAL);	/* too long */
			return;		/* else incomplete */
		}
		if ((size_t)(nl - (m + pos)) > CONTROL_MAX_LINE ||
		    memchr(m + pos, '\0', (size_t)(nl - (m + pos))) != NULL) {
			fct_expect(EINVAL);
			return;
		}
		memcpy(line, m + pos, (size_t)(nl - (m + pos)));
		line[nl - (m + pos)] = '\0';
		argc = 0;
		for (tok = strtok_r(line, " \t\r", &save); tok != NULL &&
		    argc < 8; tok = strtok_r(NULL, " \t\r", &save))
			argv[argc++] = tok;
		for (bad = 0, i = 0; i < (size_t)argc; i++)
			for (p = argv[i]; *p; p++)
				if ((unsigned char)*p < 0x21 ||
				    (unsigned char)*p > 0x7e || *p == '"')
					bad = 1;
		if (bad) {
			fct_expect(EINVAL);
			return;
		}
		for (cmd = fct_cmds; argc > 0 && cmd->handler != NULL; cmd++) {
			for (w = 0; w < 3 && cmd->words[w] != NULL; w++)
				if (w >= argc || strcmp(cmd->words[w],
				    argv[w]) != 0)
					break;
			if (w == 3 || cmd->words[w] == NULL)
				break;
		}
		end = nl + 1;
		if (argc == 0 || cmd->handler == NULL) {
			fct_expect(EINVAL);
			pos = (size_t)(end - m);
			continue;
		}
		if (cmd->has_secret) {
			nl2 = memchr(end, '\n', (size_t)(m + pos + len - end));
			if (nl2 == NULL && (size_t)(m + pos + len - end) >
			    CONTROL_MAX_LINE)
				fct_expect(EINVAL);	/* too long */
			if (nl2 == NULL)
				return;	/* waits for the second line */
			if ((size_t)(nl2 - end) > CONTROL_MAX_LINE) {
				fct_expect(EINVAL);
				return;
			}
			end = nl2 + 1;
		}
		if (cmd->root_only && fct.uid != 0)
			fct_expect(EPERM);
		else if (argc != w)
			fct_expect(EINVAL);
		else if (cmd->handler == fct_show)
			fct_expect(0);
		else
			fct_expect(fct.fail_pending ? EACCES : 0);
		pos = (size_t)(end - m);
	}
}

/* Runs the server until nothing moves; appends what it answered. */
static void
fct_run(int c, struct buf *ans)
{
	char	b[4096];
	ssize_t	r;
	int	idle = 0;

	while (idle < 3) {
		event_loop(EVLOOP_NONBLOCK);
		idle++;
		while ((r = read(c, b, sizeof(b))) > 0) {
			buf_append(ans, b, (size_t)r);
			idle = 0;
		}
		if (fct.pending) {
			fct.pending = 0;
			control_finish(fct.pending_id, fct.fail_pending ?
			    EACCES : 0, fct.fail_pending ? "wrong PIN, 2 "
			    "retries left" : "state=ready\n");
			idle = 0;
		}
	}
}

/* The answer lines: key=value, the end lines' statuses as expected. */
static void
fct_check_answers(const struct buf *ans)
{
	const char	*p, *end, *nl, *eq;
	size_t		 k = 0;
	int		 st;

	if (ans->len == 0)
		goto count;
	p = ans->data;
	end = p + ans->len;
	if (memchr(p, '\0', ans->len) != NULL || end[-1] != '\n')
		abort();
	for (; p < end; p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if ((eq = memchr(p, '=', (size_t)(nl - p))) == NULL || eq == p)
			abort();
		if (eq - p != 3 || strncmp(p, "end", 3) != 0)
			continue;
		for (st = 0, eq++; eq < nl && *eq >= '0' && *eq <= '9'; eq++)
			st = st * 10 + (*eq - '0');
		if (eq != nl || k >= fct.nexpect || fct.expect[k] != st)
			abort();
		k++;
	}
count:
	if (k != fct.nexpect && k < FCT_MAX_ANSWERS)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int	 inited;
	static int	 quiet[2];
	struct buf	 ans;
	const char	*m;
	size_t		 n, off, piece, step;
	gid_t		 gid;
	int		 sv[2], fds, who, i;
	uint8_t		 flags;

	if (!inited) {
		fuzz_init();
		signal(SIGPIPE, SIG_IGN);
		event_init();
		/* The listening socket: a pipe's end that never wakes. */
		if (pipe(quiet) == -1)
			abort();
		control_init(quiet[0], fct_cmds, FCT_GROUP);
		log_set_audit_hook(fct_audit);
		inited = 1;
	}
	if (size < 1)
		return 0;
	flags = data[0];
	m = (const char *)data + 1;
	n = size - 1;
	memset(&fct, 0, sizeof(fct));
	who = flags & 3;
	fct.uid = who == 0 ? 0 : 1000 + (uid_t)who;
	gid = who == 1 ? FCT_GROUP : 1000 + (gid_t)who;
	fct.fail_pending = !!(flags & 0x10);
	step = (size_t[]){ 0, 1, 7, 100 }[(flags >> 2) & 3];

	fds = fuzz_count_fds();
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == -1)
		abort();
	/* uid 1000+ with another gid: no member, unless root's groups say. */
	if (control_conn_new(sv[0], fct.uid, gid) == -1)
		abort();
	fct_model(m, n, who != 3 && who != 2 ? 1 : 0);
	buf_init(&ans);
	for (off = 0; off < n; off += piece) {
		piece = step == 0 || n - off < step ? n - off : step;
		if (send(sv[1], m + off, piece, MSG_NOSIGNAL) != (ssize_t)piece)
			break;		/* the server closed */
		fct_run(sv[1], &ans);
	}
	fct_run(sv[1], &ans);
	/* The client leaves: the server must close its end. */
	shutdown(sv[1], SHUT_WR);
	for (i = 0; i < 8 && fcntl(sv[0], F_GETFD) != -1; i++)
		fct_run(sv[1], &ans);
	if (fcntl(sv[0], F_GETFD) != -1)
		abort();
	close(sv[1]);
	fct_check_answers(&ans);
	buf_free(&ans);
	if (fuzz_count_fds() != fds)
		abort();
	return 0;
}
