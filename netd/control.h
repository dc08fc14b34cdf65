/*
 * control.h: the control socket wgcardctl talks to, served by the
 * handshake process.
 *
 * Protocol (text, one request per line, at most CONTROL_MAX_LINE bytes):
 * the client sends "COMMAND [ARG...]\n" (and for "card unlock" a second
 * line holding the PIN); the daemon answers zero or more "key=value"
 * lines, then "end=N\n" where N is 0 or a positive errno, preceded on
 * failure by "error=message". Garbage gets an error; a client that sends
 * more than it may, or stays silent too long, is dropped. The daemon
 * never blocks on a client.
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

/* A request, as the handler sees it. */
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
#define CONTROL_PENDING		(-1)

struct control_cmd {
	const char	*words[3];	/* e.g. { "card", "status", NULL } */
	int		 root_only;	/* changes something: uid 0 only */
	int		 has_secret;	/* reads a second line */
	int		 (*handler)(struct control_req *, struct buf *out);
};

void	control_init(int listen_fd, const struct control_cmd *, gid_t group);
/*
 * Serves a connected client on s (nonblocking), whose credentials are
 * uid and gid: 0, or -1 (too many clients, no memory; s is the caller's
 * to close). The accept handler's, and the fuzz target's, way in.
 */
int	control_conn_new(int s, uid_t uid, gid_t gid);
/* Completes a pending request; the connection may have gone meanwhile. */
void	control_finish(uint32_t conn_id, int status, const char *text);
uint32_t control_conn_id(const struct control_conn *);

#endif /* WGCARD_CONTROL_H */
