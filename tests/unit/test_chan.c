/*
 * test_chan.c: the channel glue every process reads its siblings with.
 * A message reaches its handler only when its rule allows it: each kind
 * of fault (unknown type, a sender the rule does not name, a size outside
 * the bounds at every edge, a descriptor where none belongs or none where
 * one must be) ends the receiver with a non-zero exit and a message that
 * names the type and the sender. End of file runs the closed callback,
 * or ends the event loop by default; queued output is flushed by the
 * event loop.
 */
#include <sys/socket.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event.h>

#include "chan.h"
#include "log.h"
#include "test.h"

enum { T_EXACT = 100, T_RANGE, T_FD, T_MAYBE, T_KEYDONLY };

static int	got_type = -1, got_fd = -1, closed_calls;
static size_t	got_len;
static uint8_t	got_data[64];

static void
handler(struct chan *c, struct imsg *imsg)
{
	(void)c;
	got_type = imsg->type;
	got_len = imsg->len;
	memcpy(got_data, imsg->data, imsg->len < sizeof(got_data) ?
	    imsg->len : sizeof(got_data));
	if (got_fd != -1)
		close(got_fd);
	got_fd = imsg->fd;
}

static const struct chan_rule rules[] = {
	CHAN_RULE(T_EXACT, CHAN_FROM(PROC_HANDSHAKE) | CHAN_FROM(PROC_PARENT),
	    8, 8, CHAN_FD_NO, handler),
	CHAN_RULE(T_RANGE, CHAN_FROM(PROC_HANDSHAKE), 4, 40, CHAN_FD_NO,
	    handler),
	CHAN_RULE(T_FD, CHAN_FROM(PROC_HANDSHAKE), 0, 0, CHAN_FD_YES, handler),
	CHAN_RULE(T_MAYBE, CHAN_FROM(PROC_HANDSHAKE), 0, 4, CHAN_FD_MAYBE,
	    handler),
	CHAN_RULE(T_KEYDONLY, CHAN_FROM(PROC_KEYD), 0, 0, CHAN_FD_NO, handler),
};
#define NRULES	(sizeof(rules) / sizeof(rules[0]))

static void
closed_cb(struct chan *c)
{
	(void)c;
	closed_calls++;
}

static void
pair(int sv[2])
{
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, sv) == -1) {
		perror("socketpair");
		exit(2);
	}
}

static void
raw_send(int s, uint32_t type, int fd, size_t len)
{
	struct imsgbuf	ib;
	uint8_t		buf[128];

	memset(buf, 0xa5, sizeof(buf));
	if (imsgbuf_init(&ib, s) == -1 ||
	    imsg_compose(&ib, type, 0, fd, buf, len) == -1 ||
	    imsg_flush_blocking(&ib) == -1) {
		perror("raw_send");
		exit(2);
	}
	imsgbuf_clear(&ib);
}

/*
 * One message of type/size/fd from a handshake process to a receiver in
 * a child: its exit status (0 when the handler ran) and what it said.
 */
static int
deliver(uint32_t type, size_t len, int withfd, char *err, size_t errlen)
{
	int	sv[2], ep[2], status, fd = -1;
	ssize_t	n;
	pid_t	pid;

	pair(sv);
	if (pipe(ep) == -1)
		exit(2);
	if ((pid = fork()) == -1)
		exit(2);
	if (pid == 0) {
		struct chan	c;

		close(sv[0]);
		dup2(ep[1], 2);
		close(ep[0]);
		chan_init_noevent(&c, "handshake", PROC_HANDSHAKE, sv[1],
		    rules, NRULES, closed_cb);
		while (got_type == -1 && closed_calls == 0)
			if (chan_read(&c) == -1)
				_exit(3);
		_exit(got_type == (int)type && got_len == len &&
		    (got_fd != -1) == withfd ? 0 : 4);
	}
	close(sv[1]);
	close(ep[1]);
	if (withfd && (fd = open("/dev/null", O_RDONLY)) == -1)
		exit(2);
	raw_send(sv[0], type, fd, len);
	if (waitpid(pid, &status, 0) == -1)
		exit(2);
	close(sv[0]);
	n = read(ep[0], err, errlen - 1);
	err[n > 0 ? n : 0] = '\0';
	close(ep[0]);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

static void
check_refused(uint32_t type, size_t len, int withfd, const char *want)
{
	char	err[512];
	int	st;

	st = deliver(type, len, withfd, err, sizeof(err));
	CHECK(st != 0 && strstr(err, want) != NULL &&
	    strstr(err, "handshake") != NULL,
	    "type %u len %zu fd %d: status %d, said \"%s\" (want \"%s\")",
	    type, len, withfd, st, err, want);
}

static void
check_taken(uint32_t type, size_t len, int withfd)
{
	char	err[512];
	int	st;

	st = deliver(type, len, withfd, err, sizeof(err));
	CHECK(st == 0, "type %u len %zu fd %d: status %d, said \"%s\"",
	    type, len, withfd, st, err);
}

static void
test_rules(void)
{
	size_t	len;

	check_taken(T_EXACT, 8, 0);
	check_refused(T_EXACT, 7, 0, "T_EXACT from handshake: 7 bytes, want 8");
	check_refused(T_EXACT, 9, 0, "9 bytes, want 8");
	check_refused(T_EXACT, 0, 0, "0 bytes");
	/* Every size around and inside a range. */
	for (len = 0; len <= 41; len++) {
		if (len >= 4 && len <= 40)
			check_taken(T_RANGE, len, 0);
		else
			check_refused(T_RANGE, len, 0, "want 4 to 40");
	}
	check_refused(T_EXACT, 8, 1, "T_EXACT from handshake: unexpected "
	    "descriptor");
	check_taken(T_FD, 0, 1);
	check_refused(T_FD, 0, 0, "descriptor missing");
	check_taken(T_MAYBE, 2, 0);
	check_taken(T_MAYBE, 2, 1);
	check_refused(T_KEYDONLY, 0, 0,
	    "T_KEYDONLY from handshake: not a message handshake may send");
	check_refused(999, 0, 0, "unknown message type 999 from handshake");
	check_refused(0, 0, 0, "unknown message type 0");
	check_refused(UINT32_MAX, 0, 0, "unknown message type 4294967295");
}

/* The event loop: a message is dispatched, output flushed, EOF ends it. */
static void
test_evented(void)
{
	struct event_base	*base;
	struct chan		 c;
	struct imsgbuf		 peer;
	struct imsg		 imsg;
	int			 sv[2], i, n;
	uint8_t			 big[1000];

	base = event_init();
	pair(sv);
	got_type = -1;
	got_fd = -1;
	chan_init(&c, "handshake", PROC_HANDSHAKE, sv[1], rules, NRULES, NULL);
	raw_send(sv[0], T_EXACT, -1, 8);
	/* Enough output to need EV_WRITE: 300 x 1000 bytes. */
	memset(big, 7, sizeof(big));
	for (i = 0; i < 300; i++)
		chan_send(&c, T_RANGE, -1, big, sizeof(big));
	CHECK(c.events & EV_WRITE, "EV_WRITE armed while output waits");
	if (imsgbuf_init(&peer, sv[0]) == -1)
		exit(2);
	for (i = 0, n = 0; i < 2000 && n < 300; i++) {
		event_loop(EVLOOP_ONCE | EVLOOP_NONBLOCK);
		while (imsg_recv(&peer, &imsg) == 1)
			n += imsg.type == T_RANGE && imsg.len == sizeof(big);
	}
	CHECK(n == 300, "all 300 queued messages arrive (%d)", n);
	CHECK(got_type == T_EXACT && got_len == 8 && got_data[0] == 0xa5,
	    "the handler got the message (%d)", got_type);
	CHECK(!(c.events & EV_WRITE), "EV_WRITE disarmed once flushed");
	close(sv[0]);
	event_dispatch();	/* returns: EOF made the loop exit */
	CHECK(c.stopped && c.events == 0, "EOF stops the channel");
	chan_close(&c);
	CHECK(c.ibuf.fd == -1 && c.ibuf.rbuf == NULL, "closed and freed");
	imsgbuf_clear(&peer);
	event_base_free(base);
}

static void
test_closed_cb(void)
{
	struct chan	c;
	int		sv[2];

	pair(sv);
	closed_calls = 0;
	chan_init_noevent(&c, "parent", PROC_PARENT, sv[1], rules, NRULES,
	    closed_cb);
	CHECK(chan_read(&c) == 0, "nothing to read: 0");
	close(sv[0]);
	CHECK(chan_read(&c) == -1 && closed_calls == 1,
	    "EOF: -1 and the callback once (%d)", closed_calls);
	CHECK(chan_read(&c) == 0 && closed_calls == 1,
	    "a stopped channel reads nothing");
	chan_close(&c);
	CHECK(strcmp(chan_proc_name(PROC_KEYD), "key broker") == 0 &&
	    strcmp(chan_proc_name(PROC_MAX), "unknown process") == 0,
	    "process names");
}

int
main(void)
{
	log_init(1, 0);
	test_rules();
	test_evented();
	test_closed_cb();
	return test_done();
}
