/*
 * test_control.c: the control socket's server (netd/control.c) on one
 * end of a socketpair: a request that came while another was pending is
 * answered once that one ends (it waited for bytes that never came:
 * found by fuzz_control); a caller outside the group is refused at once;
 * a line too long ends the connection with an error.
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
	return test_done();
}
