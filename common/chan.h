/*
 * chan.h: an imsg channel to one sibling process, and the table that says
 * which messages it may carry.
 *
 * Every process reads its channels through chan_read(), which checks each
 * message against the process's one table of rules before a handler sees
 * it: the type is known, the sender is one the table names, the payload
 * size is within the row's bounds and a descriptor comes exactly where
 * the row expects one. Anything else is a broken or compromised sibling:
 * the receiver fails closed (fatalx, non-zero exit, the type, sender and
 * fault named). The table is also the documentation of who may send what
 * (docs/architecture.md is made from the same rows).
 *
 * The parent, the broker and the handshake process run libevent loops:
 * chan_init() registers the channel and keeps EV_WRITE armed while output
 * is queued. The forwarder runs its own loop: chan_init_noevent(), then
 * chan_read() and chan_flush() from that loop.
 */
#ifndef WGCARD_CHAN_H
#define WGCARD_CHAN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include <event.h>

#include "imsg.h"
#include "wgcard.h"

/* The bit of one process in chan_rule.from. */
#define CHAN_FROM(p)	(1U << (p))

enum chan_fd {
	CHAN_FD_NO,		/* a descriptor is a protocol fault */
	CHAN_FD_YES,		/* the message is nothing without one */
	CHAN_FD_MAYBE,		/* the handler decides */
};

struct chan;

struct chan_rule {
	uint32_t	 type;
	const char	*name;		/* the type's name, for errors */
	uint32_t	 from;		/* CHAN_FROM() bits */
	size_t		 min, max;	/* payload bytes; min == max: exact */
	enum chan_fd	 fd;
	void		(*handler)(struct chan *, struct imsg *);
};

#define CHAN_RULE(t, from, min, max, fd, h)	\
	{ (t), #t, (from), (min), (max), (fd), (h) }

struct chan {
	const char		*name;		/* the peer's name, for logs */
	enum proc_id		 peer;
	struct imsgbuf		 ibuf;
	const struct chan_rule	*rules;
	size_t			 nrules;
	void			(*closed)(struct chan *);
	void			*arg;		/* the owner's */
	struct event		 ev;
	short			 events;	/* armed; 0: none */
	int			 evented;	/* chan_init(), not _noevent */
	int			 stopped;	/* chan_stop(): read no more */
};

/*
 * Takes fd (a SOCK_SEQPACKET socketpair end) for a channel to peer,
 * whose messages are checked against rules. closed is called when the
 * peer closes its end; NULL: the peer's going ends this process's loop
 * normally (logged at debug, chan_stop(), event_loopexit() when evented).
 * A read error other than end-of-file is fatal. fatal on allocation
 * failure.
 */
void	chan_init(struct chan *, const char *name, enum proc_id peer, int fd,
	    const struct chan_rule *rules, size_t nrules,
	    void (*closed)(struct chan *));
void	chan_init_noevent(struct chan *, const char *name, enum proc_id peer,
	    int fd, const struct chan_rule *rules, size_t nrules,
	    void (*closed)(struct chan *));
/*
 * Reads every message that is ready and hands each, checked, to its
 * rule's handler; stops early once the channel is stopped. 0, or -1
 * when the peer closed its end (closed() has run).
 */
int	chan_read(struct chan *);
/*
 * The check alone: the rule for imsg from peer, or fatalx naming what is
 * wrong. For receivers that dispatch by hand (tests, harnesses).
 */
const struct chan_rule *chan_check(const struct chan_rule *rules,
	    size_t nrules, enum proc_id peer, const char *name,
	    const struct imsg *);
/* Queues one message (fd, or -1, is closed once sent); fatal on failure. */
void	chan_send(struct chan *, uint32_t type, int fd, const void *, size_t);
void	chan_sendv(struct chan *, uint32_t type, int fd, const struct iovec *,
	    int iovcnt);
/* As chan_send, but returns -1 with errno (ENOBUFS: queue full). */
int	chan_compose(struct chan *, uint32_t type, int fd, const void *,
	    size_t);
/* Writes what is queued: 0 all sent, 1 some left; fatal on error. */
int	chan_flush(struct chan *);
/* Re-arms the events after direct use of c->ibuf. */
void	chan_update(struct chan *);
/* Reads no more and disarms; queued output stays (chan_flush). */
void	chan_stop(struct chan *);
/* Stops, wipes and frees the buffers, closes the socket. */
void	chan_close(struct chan *);
/*
 * The shared handler of IMSG_CTL_LOG_SET (an int32_t verbosity, size
 * checked by the rule): the broker and the forwarder use it as is.
 */
void	chan_log_set(struct chan *, struct imsg *);
/* The name of a process, for messages. */
const char *chan_proc_name(enum proc_id);

#endif /* WGCARD_CHAN_H */
