/*
 * control.h: the one server of the handshake process's local stream
 * sockets (the parent opened them and passed the listening fds): the
 * control socket wgcardctl talks to and the cross-platform UAPI socket
 * of wg(8). control.c accepts, buffers, times out and caps clients; a
 * protocol descriptor (struct control_proto) says where a request ends,
 * who answers it and the limits. Per client, requests are served one at
 * a time and in order: while one is pending (its answer comes later,
 * control_finish()), the client is not read and its idle timer stops;
 * requests buffered behind it are served when it ends. A client that
 * sends more than a request may hold, sends what its protocol calls
 * malformed, or stays silent too long is answered (where it can be) and
 * dropped. The daemon never blocks on a client.
 *
 * The control protocol (text, one request per line, at most
 * CONTROL_MAX_LINE bytes): the client sends "COMMAND [ARG...]\n" (and
 * for "card unlock" a second line holding the PIN); the daemon answers
 * zero or more "key=value" lines, then "end=N\n" where N is 0 or a
 * positive errno, preceded on failure by "error=message". Garbage gets
 * an error.
 */
#ifndef WGCARD_CONTROL_H
#define WGCARD_CONTROL_H

#include <sys/types.h>

#include <stdint.h>

#include "buf.h"

#define CONTROL_MAX_LINE	1024
#define CONTROL_DIR		"/var/run/wgcard"
#define CONTROL_GROUP		"wgcard"

struct control_conn;
struct control_server;

/* A serve function's answer: it will end with control_finish(). */
#define CONTROL_PENDING		(-1)

/* A protocol, as the server engine serves it. */
struct control_proto {
	const char	*name;		/* in logs */
	size_t		 max_request;	/* bytes a client may have buffered */
	size_t		 max_clients;	/* connections at once */
	int		 idle_sec;	/* silent this long (not pending): gone */
	/*
	 * How many bytes of in (len > 0) make the first request: > 0; 0
	 * when it is not whole yet; or -EINVAL (malformed) or -E2BIG (too
	 * long): answered with end(), the client dropped.
	 */
	ssize_t		 (*frame)(const struct control_conn *, const char *in,
			    size_t len);
	/*
	 * Serves one whole request (req, len: the bytes frame() counted;
	 * they are wiped afterwards, keep no pointer into them): writes
	 * the whole answer into out and returns 0, or returns
	 * CONTROL_PENDING and the answer comes with control_finish().
	 */
	int		 (*serve)(struct control_conn *, char *req, size_t len,
			    struct buf *out);
	/* Writes an answer's end: status 0 or a positive errno, text. */
	void		 (*end)(struct buf *out, int status, const char *text);
	/* A new client (may be NULL): 0, or -1 to refuse it after out. */
	int		 (*open)(struct control_conn *, struct buf *out);
};

/* Serves proto on the listening socket fd (nonblocking). */
struct control_server *control_listen(int fd, const struct control_proto *);
/*
 * Serves a connected client on s (nonblocking), whose credentials are
 * uid and gid: 0, or -1 (too many clients, no memory; s is the caller's
 * to close). The accept handler's, the tests' and the fuzz targets' way
 * in.
 */
int	control_serve(struct control_server *, int s, uid_t uid, gid_t gid);
/*
 * Completes a pending request: status 0 and text the rest of the answer
 * (may be NULL), or a positive errno and text its message; the protocol's
 * end() writes it. The connection may have gone meanwhile: then nothing
 * happens.
 */
void	control_finish(uint32_t conn_id, int status, const char *text);
/* A connection's id (never 0), unique across servers. */
uint32_t control_conn_id(const struct control_conn *);
uid_t	control_conn_uid(const struct control_conn *);

/* The control protocol: a request, as a command's handler sees it. */
struct control_req {
	struct control_conn	*conn;
	uid_t			 uid;		/* SO_PEERCRED of the caller */
	gid_t			 gid;
	int			 is_member;	/* root or in the wgcard group */
	int			 argc;
	char			*argv[8];
	char			*secret;	/* second line (PIN), or NULL */
};

/*
 * A handler writes its answer lines into out and returns 0 or a positive
 * errno (answered at once), or CONTROL_PENDING when it will answer later
 * with control_finish(). It must not keep req->secret: that is wiped.
 */
struct control_cmd {
	const char	*words[3];	/* e.g. { "card", "status", NULL } */
	int		 root_only;	/* changes something: uid 0 only */
	int		 has_secret;	/* reads a second line */
	int		 (*handler)(struct control_req *, struct buf *out);
};

/*
 * Serves the control protocol on fd with the command table cmds (ends
 * with a NULL handler); group's members (and root) may connect. Once.
 */
void	control_init(int listen_fd, const struct control_cmd *, gid_t group);
/* control_serve() on the control socket control_init() started. */
int	control_conn_new(int s, uid_t uid, gid_t gid);

#endif /* WGCARD_CONTROL_H */
