/*
 * chan.c: imsg channels between wgcard processes, checked against each
 * process's table of rules.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event.h>

#include "chan.h"
#include "log.h"

static void	chan_event(int, short, void *);

const char *
chan_proc_name(enum proc_id id)
{
	static const char *const names[PROC_MAX] = {
		[PROC_PARENT] = "parent",
		[PROC_KEYD] = "key broker",
		[PROC_HANDSHAKE] = "handshake",
		[PROC_FORWARDER] = "forwarder",
	};

	if ((unsigned)id >= PROC_MAX)
		return "unknown process";
	return names[id];
}

static void
chan_setup(struct chan *c, const char *name, enum proc_id peer, int fd,
    const struct chan_rule *rules, size_t nrules,
    void (*closed)(struct chan *), int evented)
{
	memset(c, 0, sizeof(*c));
	c->name = name;
	c->peer = peer;
	c->rules = rules;
	c->nrules = nrules;
	c->closed = closed;
	c->evented = evented;
	if (imsgbuf_init(&c->ibuf, fd) == -1)
		fatal("%s: channel to %s", __func__, name);
}

void
chan_init(struct chan *c, const char *name, enum proc_id peer, int fd,
    const struct chan_rule *rules, size_t nrules,
    void (*closed)(struct chan *))
{
	chan_setup(c, name, peer, fd, rules, nrules, closed, 1);
	chan_update(c);
}

void
chan_init_noevent(struct chan *c, const char *name, enum proc_id peer,
    int fd, const struct chan_rule *rules, size_t nrules,
    void (*closed)(struct chan *))
{
	chan_setup(c, name, peer, fd, rules, nrules, closed, 0);
}

void
chan_update(struct chan *c)
{
	short	events;

	if (!c->evented || c->ibuf.fd == -1)
		return;
	events = c->stopped ? 0 : EV_READ;
	if (imsg_pending(&c->ibuf))
		events |= EV_WRITE;
	if (events == c->events)
		return;
	if (c->events)
		event_del(&c->ev);
	c->events = events;
	if (events == 0)
		return;
	event_set(&c->ev, c->ibuf.fd, events | EV_PERSIST, chan_event, c);
	if (event_add(&c->ev, NULL) == -1)
		fatal("%s: event_add for %s", __func__, c->name);
}

void
chan_stop(struct chan *c)
{
	c->stopped = 1;
	chan_update(c);
}

void
chan_close(struct chan *c)
{
	chan_stop(c);
	imsgbuf_clear(&c->ibuf);
	if (c->ibuf.fd != -1)
		close(c->ibuf.fd);
	c->ibuf.fd = -1;
}

const struct chan_rule *
chan_check(const struct chan_rule *rules, size_t nrules, enum proc_id peer,
    const char *name, const struct imsg *imsg)
{
	const struct chan_rule	*r = NULL;
	size_t			 i;

	for (i = 0; i < nrules; i++)
		if (rules[i].type == imsg->type) {
			r = &rules[i];
			break;
		}
	if (r == NULL)
		fatalx("unknown message type %u from %s", imsg->type, name);
	if ((unsigned)peer >= 32 || (r->from & CHAN_FROM(peer)) == 0)
		fatalx("%s from %s: not a message %s may send", r->name,
		    name, name);
	if (imsg->len < r->min || imsg->len > r->max) {
		if (r->min == r->max)
			fatalx("%s from %s: %zu bytes, want %zu", r->name,
			    name, imsg->len, r->min);
		fatalx("%s from %s: %zu bytes, want %zu to %zu", r->name,
		    name, imsg->len, r->min, r->max);
	}
	if (imsg->fd != -1 && r->fd == CHAN_FD_NO)
		fatalx("%s from %s: unexpected descriptor", r->name, name);
	if (imsg->fd == -1 && r->fd == CHAN_FD_YES)
		fatalx("%s from %s: descriptor missing", r->name, name);
	return r;
}

int
chan_read(struct chan *c)
{
	const struct chan_rule	*r;
	struct imsg		 imsg;
	int			 n;

	while (!c->stopped) {
		n = imsg_recv(&c->ibuf, &imsg);
		if (n == 0)
			break;
		if (n == -1) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			if (errno != 0)
				fatal("read from %s", c->name);
			/* End of file: the peer is gone. */
			if (c->closed != NULL) {
				chan_stop(c);
				c->closed(c);
			} else {
				log_debug("%s closed its socket", c->name);
				chan_stop(c);
				if (c->evented)
					event_loopexit(NULL);
			}
			return -1;
		}
		if (n == -2)
			fatalx("malformed message from %s", c->name);
		r = chan_check(c->rules, c->nrules, c->peer, c->name, &imsg);
		r->handler(c, &imsg);
	}
	return 0;
}

static void
chan_event(int fd, short event, void *arg)
{
	struct chan	*c = arg;

	(void)fd;
	if (event & EV_WRITE)
		chan_flush(c);
	if ((event & EV_READ) && chan_read(c) == -1)
		return;
	chan_update(c);
}

int
chan_compose(struct chan *c, uint32_t type, int fd, const void *data,
    size_t len)
{
	if (imsg_compose(&c->ibuf, type, 0, fd, data, len) == -1)
		return -1;
	chan_update(c);
	return 0;
}

void
chan_send(struct chan *c, uint32_t type, int fd, const void *data,
    size_t len)
{
	if (chan_compose(c, type, fd, data, len) == -1)
		fatal("%s: message %u to %s", __func__, type, c->name);
}

void
chan_sendv(struct chan *c, uint32_t type, int fd, const struct iovec *iov,
    int iovcnt)
{
	if (imsg_composev(&c->ibuf, type, 0, fd, iov, iovcnt) == -1)
		fatal("%s: message %u to %s", __func__, type, c->name);
	chan_update(c);
}

int
chan_flush(struct chan *c)
{
	if (imsg_flush(&c->ibuf) == -1 && errno != EAGAIN) {
		if (!c->stopped)
			fatal("write to %s", c->name);
		/* Shutting down and the peer is gone: drop what is left. */
		log_debug("write to %s: %s (output dropped)", c->name,
		    strerror(errno));
		imsgbuf_clear(&c->ibuf);
	}
	chan_update(c);
	return imsg_pending(&c->ibuf) ? 1 : 0;
}

void
chan_log_set(struct chan *c, struct imsg *imsg)
{
	int32_t	v;

	(void)c;
	memcpy(&v, imsg->data, sizeof(v));
	log_setverbose(v);
	log_debug("log level now verbose");	/* said only if it is */
}
