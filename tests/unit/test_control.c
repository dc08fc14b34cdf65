/*
 * test_control.c: the control socket's server (netd/control.c) on one
 * end of a socketpair: a request that came while another was pending is
 * answered once that one ends (it waited for bytes that never came:
 * found by fuzz_control); a caller outside the group is refused at once;
 * a line too long ends the connection with an error. The engine's
 * limits, with a protocol of its own (lines; "wait" pends): a client
 * over the cap is refused, one silent too long is dropped (not while a
 * request of it is pending), one that sends more than a request may
 * hold is answered and dropped.
 */
#include <sys/socket.h>

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event.h>

#include "buf.h"
#include "control.h"
#include "log.h"
#include "test.h"

#define GROUP	4242

static uint32_t	pending_id;
static int	pending;

static int
h_show(struct control_req *req, struct buf *out)
{
	buf_printf(out, "interface=wg0\n");
	return 0;
}

static int
h_later(struct control_req *req, struct buf *out)
{
	pending = 1;
	pending_id = control_conn_id(req->conn);
	return CONTROL_PENDING;
}

static const struct control_cmd cmds[] = {
	{ { "show", NULL }, 0, 0, h_show },
	{ { "card", "status", NULL }, 0, 0, h_later },
	{ { NULL }, 0, 0, NULL }
};

/* The client's view: sends req, runs the loop, returns the answers. */
static char *
exchange(uid_t uid, gid_t gid, const char *req, int finish)
{
	struct buf	 ans;
	char		 b[4096], *s;
	ssize_t		 r;
	int		 sv[2], i;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == -1 ||
	    control_conn_new(sv[0], uid, gid) == -1)
		abort();
	if (send(sv[1], req, strlen(req), MSG_NOSIGNAL) == -1)
		abort();
	buf_init(&ans);
	for (i = 0; i < 10; i++) {
		event_loop(EVLOOP_NONBLOCK);
		while ((r = read(sv[1], b, sizeof(b))) > 0)
			buf_append(&ans, b, (size_t)r);
		if (pending && finish) {
			pending = 0;
			control_finish(pending_id, 0, "state=ready\n");
		}
	}
	shutdown(sv[1], SHUT_WR);
	for (i = 0; i < 3; i++)
		event_loop(EVLOOP_NONBLOCK);
	close(sv[1]);
	buf_append(&ans, "", 1);
	s = strdup(ans.data);
	buf_free(&ans);
	return s;
}

/* A line protocol with small limits. */
static ssize_t
e_frame(const struct control_conn *c, const char *in, size_t len)
{
	const char	*nl;

	return (nl = memchr(in, '\n', len)) == NULL ? 0 : nl + 1 - in;
}

static int
e_serve(struct control_conn *c, char *req, size_t len, struct buf *out)
{
	if (len == 5 && memcmp(req, "wait\n", 5) == 0) {
		pending = 1;
		pending_id = control_conn_id(c);
		return CONTROL_PENDING;
	}
	buf_append(out, req, len);
	return 0;
}

static void
e_end(struct buf *out, int status, const char *text)
{
	buf_printf(out, "status=%d %s\n", status, text ? text : "");
}

static const struct control_proto eproto = {
	.name = "echo",
	.max_request = 32,
	.max_clients = 2,
	.idle_sec = 1,
	.frame = e_frame,
	.serve = e_serve,
	.end = e_end,
};

/* Whether the server closed s, after the loop ran for ms. */
static int
closed_after(int s, int ms)
{
	char	b[256];
	ssize_t	r;
	int	i;

	for (i = 0; i < ms / 10; i++) {
		event_loop(EVLOOP_NONBLOCK);
		usleep(10000);
	}
	while ((r = read(s, b, sizeof(b))) > 0)
		;
	/* (Bytes the server left unread: a reset.) */
	return r == 0 || (r == -1 && errno == ECONNRESET);
}

static void
engine(void)
{
	struct control_server	*srv;
	char			 b[256];
	ssize_t			 r;
	int			 sv[3][2], quiet[2], i;

	if (pipe(quiet) == -1)
		abort();
	srv = control_listen(quiet[0], &eproto);
	for (i = 0; i < 3; i++)
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0,
		    sv[i]) == -1)
			abort();
	CHECK(control_serve(srv, sv[0][0], 0, 0) == 0 &&
	    control_serve(srv, sv[1][0], 0, 0) == 0, "two clients served");
	CHECK(control_serve(srv, sv[2][0], 0, 0) == -1,
	    "a third one over the cap is refused");
	close(sv[2][0]);
	close(sv[2][1]);

	/* 0 pends; 1 sends a line, then nothing. */
	send(sv[0][1], "wait\n", 5, MSG_NOSIGNAL);
	send(sv[1][1], "hi\n", 3, MSG_NOSIGNAL);
	CHECK(closed_after(sv[1][1], 1500), "a silent client is dropped");
	CHECK(!closed_after(sv[0][1], 10), "not one whose request pends");
	pending = 0;
	control_finish(pending_id, 0, NULL);
	event_loop(EVLOOP_NONBLOCK);
	r = read(sv[0][1], b, sizeof(b) - 1);
	CHECK(r == 10 && memcmp(b, "status=0 \n", 10) == 0,
	    "its answer came");
	CHECK(closed_after(sv[0][1], 1500), "then it idles out too");
	close(sv[0][1]);
	close(sv[1][1]);

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv[0]) == -1 ||
	    control_serve(srv, sv[0][0], 0, 0) == -1)
		abort();
	send(sv[0][1], "0123456789012345678901234567890123456789", 40,
	    MSG_NOSIGNAL);
	for (i = 0; i < 5; i++)
		event_loop(EVLOOP_NONBLOCK);
	r = read(sv[0][1], b, sizeof(b) - 1);
	b[r > 0 ? r : 0] = '\0';
	CHECK(strcmp(b, "status=22 request too long\n") == 0,
	    "more than a request may hold: answered: %s", b);
	CHECK(closed_after(sv[0][1], 10), "and dropped");
	close(sv[0][1]);
	close(quiet[0]);
	close(quiet[1]);
}

int
main(void)
{
	char	*s, longreq[CONTROL_MAX_LINE + 8];
	int	 quiet[2];

	log_init(1, LOG_DAEMON);
	signal(SIGPIPE, SIG_IGN);
	event_init();
	if (pipe(quiet) == -1)
		return 1;
	control_init(quiet[0], cmds, GROUP);

	s = exchange(0, 0, "card status\nshow\n", 1);
	CHECK(strcmp(s, "state=ready\nend=0\ninterface=wg0\nend=0\n") == 0,
	    "a request behind a pending one is answered: %s", s);
	free(s);

	s = exchange(0, 0, "card status\nshow\n", 0);
	CHECK(strcmp(s, "") == 0, "nothing before the pending one ends: %s",
	    s);
	free(s);
	pending = 0;		/* that one never ends */

	s = exchange(1000, 1000, "show\n", 1);
	CHECK(strcmp(s, "error=permission denied\nend=1\n") == 0,
	    "outside the group: refused at once: %s", s);
	free(s);

	s = exchange(1000, GROUP, "show\nbogus\n\nshow x\n", 1);
	CHECK(strcmp(s, "interface=wg0\nend=0\nerror=unknown command\n"
	    "end=22\nerror=unknown command\nend=22\ninterface=wg0\nend=0\n")
	    == 0, "a member: answers in order: %s", s);
	free(s);

	memset(longreq, 'a', sizeof(longreq) - 2);
	longreq[sizeof(longreq) - 2] = '\n';
	longreq[sizeof(longreq) - 1] = '\0';
	s = exchange(0, 0, longreq, 1);
	CHECK(strcmp(s, "error=request too long\nend=22\n") == 0,
	    "a line too long: an error, then closed: %s", s);
	free(s);
	engine();
	return test_done();
}
