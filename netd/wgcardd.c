/*
 * wgcardd.c: the wgcardd parent process (root). It reads the
 * configuration, creates the TUN interface, the UDP sockets and the UAPI
 * socket, then re-executes its children (the key broker wgcard-keyd, the
 * handshake process and the forwarder), hands each the descriptors it
 * needs and supervises them. It serves the few privileged requests of the
 * handshake process (listen port, fwmark). If any child dies, the daemon
 * shuts down and exits non-zero, naming the child (fail closed).
 */
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event.h>
#include <sodium.h>

#include "buf.h"
#include "chan.h"
#include "compat.h"
#include "audit.h"
#include "config.h"
#include "control.h"
#include "crypto.h"
#include "encoding.h"
#include "imsg.h"
#include "log.h"
#include "netlink.h"
#include "proc.h"
#include "sock.h"
#include "tun.h"
#include "uapi.h"
#include "wgcard.h"
#include "wgcardd.h"
#include "forward.h"

#define WGCARD_DEFAULT_MTU	1420
#define CFG_CHUNK		(32 * 1024)
/* The exit status when the interface is deleted under us. */
#define PARENT_EXIT_TUN_GONE	2

struct child {
	const char	*name;		/* for log lines */
	pid_t		 pid;
	struct chan	 chan;		/* checked against parent_rules */
	int		 ready;
};

static struct child	 children[PROC_MAX] = {
	[PROC_KEYD] = { .name = "key broker (wgcard-keyd)" },
	[PROC_HANDSHAKE] = { .name = "handshake" },
	[PROC_FORWARDER] = { .name = "forwarder" },
};

static struct {
	struct proc_opts	 opts;
	char			 ifname[IFNAMSIZ];
	const char		*config_path;
	int			 foreground;
	int			 tun_fd;
	int			 ifindex;
	int			 udp4, udp6;
	uint16_t		 port;
	uint32_t		 fwmark;
	int			 uapi_fd;
	char			 uapi_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int			 ctl_fd;
	char			 ctl_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int			 inotify_fd;
	int			 exit_code;
	int			 shutting_down;
	struct wg_devconf	 conf;
	struct config_extra	 extra;
	struct event		 ev_sigterm, ev_sigint, ev_sighup, ev_sigchld;
	struct event		 ev_inotify;
	struct event		 ev_mtu;
	int			 mtu;
	int			 reloading;
	pid_t			 main_pid;
	int			 reload_from_ctl;
	int			 configured;	/* reconfigure() ran once */
	int			 pend;		/* PARENT_PEND_*, for the children */
	struct key_pin		 pin;		/* until the key broker has it */
} wgd = {
	.tun_fd = -1, .udp4 = -1, .udp6 = -1, .uapi_fd = -1, .ctl_fd = -1,
	.inotify_fd = -1,
};

/* What reconfigure() leaves for the children (parent_handover). */
#define PARENT_PEND_TUN		0x01	/* start: the TUN and its MTU */
#define PARENT_PEND_MTU		0x02	/* a new MTU */
#define PARENT_PEND_SOCKETS	0x04	/* new UDP sockets */
#define PARENT_PEND_CARD	0x08	/* the card settings */
#define PARENT_PEND_CONFIG	0x10	/* the peers (configuration file) */

/*
 * A configuration read and checked (parent_conf_load), not applied yet:
 * reconfigure() sets it against the running one (wgd.conf, wgd.extra;
 * empty before the first) and, once it is applied, takes it over.
 */
struct parent_conf {
	struct wg_devconf	conf;
	struct config_extra	extra;
	struct key_pin		pin;
};

static void	parent_shutdown(int);
static void	parent_wait_child(struct child *, pid_t, int);
static void	parent_forget_psks(void);
static void	parent_reload(struct chan *, struct imsg *);
static void	parent_reload_reply(int, const char *);
static void	parent_reload_config(int);
static void	parent_send_config(uint32_t);
static void	parent_handover(void);

static __dead void
usage(void)
{
	fprintf(stderr,
	    "usage: wgcardd [-dfv] [-B backend] [-O offloads] ifname\n"
	    "       wgcardd [-dfnv] [-B backend] [-O offloads] -c file "
	    "[ifname]\n");
	exit(1);
}

static void
parent_send(enum proc_id id, uint32_t type, int fd, const void *data,
    size_t len)
{
	chan_send(&children[id].chan, type, fd, data, len);
}

/* The forwarder gets new sockets whenever the port changes. */
static void
parent_send_sockets(void)
{
	uint8_t	fam;
	int	fd;

	fam = AF_INET;
	fd = wgd.udp4 == -1 ? -1 : dup(wgd.udp4);
	parent_send(PROC_FORWARDER, IMSG_FWD_SOCKETS, fd, &fam, sizeof(fam));
	fam = AF_INET6;
	fd = wgd.udp6 == -1 ? -1 : dup(wgd.udp6);
	parent_send(PROC_FORWARDER, IMSG_FWD_SOCKETS, fd, &fam, sizeof(fam));
}

static int
parent_open_sockets(uint16_t port, uint32_t fwmark)
{
	int		fd4 = -1, fd6 = -1;
	uint16_t	bound = 0;

	if (sock_open_pair(port, fwmark, &fd4, &fd6, &bound) == -1)
		return -errno;
	if (wgd.udp4 != -1)
		close(wgd.udp4);
	if (wgd.udp6 != -1)
		close(wgd.udp6);
	wgd.udp4 = fd4;
	wgd.udp6 = fd6;
	wgd.port = bound;
	return 0;
}

static void
parent_set_port(struct chan *ch, struct imsg *imsg)
{
	struct priv_port	pp;
	uint16_t		port;
	int			r = 0;

	memcpy(&port, imsg->data, sizeof(port));
	if (port == 0 || port != wgd.port) {
		if ((r = parent_open_sockets(port, wgd.fwmark)) == 0) {
			log_info("listening on port %u", wgd.port);
			parent_send_sockets();
		} else
			log_warnx("listen port %u: %s", port, strerror(-r));
	}
	memset(&pp, 0, sizeof(pp));
	pp.status = r;
	pp.port = wgd.port;
	parent_send(PROC_HANDSHAKE, IMSG_PRIV_PORT, -1, &pp, sizeof(pp));
}

/* SO_MARK on both UDP sockets; 0 (and remembered) or -errno. */
static int
parent_apply_fwmark(uint32_t mark)
{
	if ((wgd.udp4 != -1 && sock_set_fwmark(wgd.udp4, mark) == -1) ||
	    (wgd.udp6 != -1 && sock_set_fwmark(wgd.udp6, mark) == -1))
		return -errno;
	wgd.fwmark = mark;
	return 0;
}

static void
parent_set_fwmark(struct chan *ch, struct imsg *imsg)
{
	uint32_t	mark;
	int32_t		r = 0;

	memcpy(&mark, imsg->data, sizeof(mark));
	r = parent_apply_fwmark(mark);
	parent_send(PROC_HANDSHAKE, IMSG_PRIV_FWMARK, -1, &r, sizeof(r));
}

/*
 * systemd's readiness protocol, without libsystemd: one datagram to
 * $NOTIFY_SOCKET (an abstract socket when it starts with '@').
 */
static void
parent_sd_notify(const char *state)
{
	struct sockaddr_un	 sun;
	const char		*path = getenv("NOTIFY_SOCKET");
	socklen_t		 len;
	int			 fd;

	if (path == NULL || path[0] == '\0' ||
	    strlen(path) >= sizeof(sun.sun_path))
		return;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	strlcpy(sun.sun_path, path, sizeof(sun.sun_path));
	if (sun.sun_path[0] == '@')
		sun.sun_path[0] = '\0';
	len = offsetof(struct sockaddr_un, sun_path) + strlen(path);
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		return;
	if (sendto(fd, state, strlen(state), MSG_NOSIGNAL,
	    (struct sockaddr *)&sun, len) == -1)
		log_warn("sd_notify");
	close(fd);
}

/* Ready once the broker answered, the forwarder runs, the peers are in. */
static void
parent_check_ready(void)
{
	static int	done;

	if (done || !children[PROC_KEYD].ready ||
	    !children[PROC_FORWARDER].ready ||
	    (wgd.config_path != NULL && !children[PROC_HANDSHAKE].ready))
		return;
	done = 1;
	log_info("ready");
	parent_sd_notify("READY=1\nSTATUS=tunnel up");
}

/* The audit stream's short process names (the "proc" of a JSON line). */
static const char *const parent_audit_names[PROC_MAX] = {
	[PROC_PARENT] = "parent",
	[PROC_KEYD] = "keyd",
	[PROC_HANDSHAKE] = "handshake",
	[PROC_FORWARDER] = "forwarder",
};

/* The parent's own events. */
static void
parent_audit_hook(const char *kv)
{
	audit_event(PROC_PARENT, "parent", getpid(), kv);
}

/*
 * An event from a child: NUL-terminated text (its size is the table's).
 * What the text says is checked when it is written (audit_format:
 * anything odd becomes op=malformed).
 */
static void
parent_audit_child(struct chan *ch, struct imsg *imsg)
{
	struct child	*c = ch->arg;
	const char	*kv = (const char *)imsg->data;

	if (kv[imsg->len - 1] != '\0')
		fatalx("IMSG_AUDIT from %s: not NUL-terminated", c->name);
	audit_event(ch->peer, parent_audit_names[ch->peer], c->pid, kv);
}

static void
parent_key_public(struct chan *ch, struct imsg *imsg)
{
	struct child		*c = ch->arg;
	struct key_public	 kp;
	char			 b64[WG_KEY_B64_LEN];

	memcpy(&kp, imsg->data, sizeof(kp));
	if (kp.has_key) {
		key_to_base64(b64, kp.pub);
		log_info("interface public key %s", b64);
		log_audit(LOG_INFO, "op=key public=%s generation=%u", b64,
		    kp.generation);
	}
	c->ready = 1;
	parent_check_ready();
}

/* The handshake process took the configuration (at start or a reload). */
static void
parent_cfg_done(struct chan *ch, struct imsg *imsg)
{
	struct child	*c = ch->arg;
	int32_t		 status;

	memcpy(&status, imsg->data, sizeof(status));
	if (!imsg_status_ok(status))
		fatalx("bad status %d from %s", status, c->name);
	if (status != 0) {
		log_warnx("%s: the handshake process refused the "
		    "configuration: %s", wgd.config_path, strerror(-status));
		if (!wgd.reloading) {
			parent_shutdown(1);
			return;
		}
		wgd.reloading = 0;
		parent_reload_reply(status, "the handshake process refused "
		    "the configuration");
	} else {
		c->ready = 1;
		log_debug("configuration applied");
		if (wgd.reloading) {
			wgd.reloading = 0;
			log_info("reload done");
			parent_sd_notify("READY=1\nSTATUS=reloaded");
			parent_reload_reply(0, "");
		}
	}
	parent_check_ready();
}

/*
 * wgcardctl log: the parent's level, the broker's and the forwarder's
 * (the handshake process, which asked, has set its own).
 */
static void
parent_ctl_log(struct chan *ch, struct imsg *imsg)
{
	int32_t	v;

	memcpy(&v, imsg->data, sizeof(v));
	log_setverbose(v);
	parent_send(PROC_KEYD, IMSG_CTL_LOG_SET, -1, &v, sizeof(v));
	parent_send(PROC_FORWARDER, IMSG_CTL_LOG_SET, -1, &v, sizeof(v));
	log_info("log level now %s", v ? "verbose" : "brief");
}

static void
parent_fwd_ready(struct chan *ch, struct imsg *imsg)
{
	struct child	*c = ch->arg;

	c->ready = 1;
	parent_check_ready();
}

/*
 * The forwarder saw the TUN device go. Not a stop anybody asked the
 * daemon for (and maybe only a compromised forwarder's word): a status
 * that makes a service manager restart us (docs/decisions.md 18).
 */
static void
parent_tun_gone(struct chan *ch, struct imsg *imsg)
{
	log_warnx("interface %s was deleted, exiting with status %d",
	    wgd.ifname, PARENT_EXIT_TUN_GONE);
	parent_shutdown(PARENT_EXIT_TUN_GONE);
}

#define FROM_K	CHAN_FROM(PROC_KEYD)
#define FROM_H	CHAN_FROM(PROC_HANDSHAKE)
#define FROM_F	CHAN_FROM(PROC_FORWARDER)

/*
 * Every message the parent takes: who may send it, its payload size, no
 * descriptor in any (chan_read checks each row before the handler; any
 * other message is fatal, naming the child, and the daemon exits 1).
 */
static const struct chan_rule parent_rules[] = {
	CHAN_RULE(IMSG_KEY_PUBLIC, FROM_K, sizeof(struct key_public),
	    sizeof(struct key_public), CHAN_FD_NO, parent_key_public),
	CHAN_RULE(IMSG_AUDIT, FROM_K | FROM_H, 1, WGCARD_AUDIT_MAX,
	    CHAN_FD_NO, parent_audit_child),
	CHAN_RULE(IMSG_CFG_DONE, FROM_H, sizeof(int32_t), sizeof(int32_t),
	    CHAN_FD_NO, parent_cfg_done),
	CHAN_RULE(IMSG_PRIV_SET_PORT, FROM_H, sizeof(uint16_t),
	    sizeof(uint16_t), CHAN_FD_NO, parent_set_port),
	CHAN_RULE(IMSG_PRIV_SET_FWMARK, FROM_H, sizeof(uint32_t),
	    sizeof(uint32_t), CHAN_FD_NO, parent_set_fwmark),
	CHAN_RULE(IMSG_CTL_LOG, FROM_H, sizeof(int32_t), sizeof(int32_t),
	    CHAN_FD_NO, parent_ctl_log),
	CHAN_RULE(IMSG_CTL_RELOAD, FROM_H, sizeof(uint32_t),
	    sizeof(uint32_t), CHAN_FD_NO, parent_reload),
	CHAN_RULE(IMSG_FWD_READY, FROM_F, 0, 0, CHAN_FD_NO,
	    parent_fwd_ready),
	CHAN_RULE(IMSG_FWD_TUN_GONE, FROM_F, 0, 0, CHAN_FD_NO,
	    parent_tun_gone),
};

/* A child closed its socket: it is gone; say how, then go. */
static void
parent_chan_closed(struct chan *ch)
{
	struct child	*c = ch->arg;

	log_warnx("%s closed its socket", c->name);
	parent_wait_child(c, 0, 0);
	parent_shutdown(1);
}

static void
parent_chan_open(enum proc_id id, int fd)
{
	struct child	*c = &children[id];

	chan_init(&c->chan, c->name, id, fd, parent_rules,
	    sizeof(parent_rules) / sizeof(parent_rules[0]),
	    parent_chan_closed);
	c->chan.arg = c;
}

static void
parent_log_exit(struct child *c, pid_t pid, int status)
{
	if (WIFSIGNALED(status))
		log_warnx("%s (pid %d) was killed by signal %d%s",
		    c->name, pid, WTERMSIG(status), WTERMSIG(status) == SIGSYS ?
		    " (a system call outside its seccomp filter)" : "");
	else
		log_warnx("%s (pid %d) exited with status %d", c->name, pid,
		    WEXITSTATUS(status));
}

/*
 * A child closed its socket (c), or was reaped (c, pid0 and status0): its
 * siblings follow within milliseconds (each loses a channel). Collect
 * them all for up to half a second, then name the one that started it:
 * killed by a signal first, then a non-zero exit, else c. (Under load
 * the first one reaped is not always the first that died: a killed key
 * broker and the forwarder that followed it may be reaped in either
 * order.)
 */
static void
parent_wait_child(struct child *c, pid_t pid0, int status0)
{
	struct child	*culprit = NULL;
	pid_t		 pids[PROC_MAX] = { 0 };
	int		 status[PROC_MAX] = { 0 }, done[PROC_MAX] = { 0 };
	int		 i, n, alive, rank, best = -1;
	pid_t		 pid;
	int		 st;

	if (pid0 > 0) {
		i = (int)(c - children);
		pids[i] = pid0;
		status[i] = status0;
		done[i] = 1;
		c->pid = 0;
	}
	for (n = 0; n < 50; n++) {
		while ((pid = waitpid(-1, &st, WNOHANG)) > 0)
			for (i = 0; i < PROC_MAX; i++)
				if (children[i].pid == pid) {
					pids[i] = pid;
					status[i] = st;
					done[i] = 1;
					children[i].pid = 0;
				}
		for (alive = 0, i = 0; i < PROC_MAX; i++)
			if (children[i].pid > 0)
				alive = 1;
		if (!alive)
			break;
		usleep(10000);
	}
	for (i = 0; i < PROC_MAX; i++) {
		if (!done[i])
			continue;
		rank = WIFSIGNALED(status[i]) ? 3 :
		    WEXITSTATUS(status[i]) != 0 ? 2 : &children[i] == c ? 1 : 0;
		if (rank > best) {
			best = rank;
			culprit = &children[i];
		}
	}
	for (i = 0; i < PROC_MAX; i++) {
		if (!done[i])
			continue;
		if (&children[i] == culprit)
			parent_log_exit(culprit, pids[i], status[i]);
		else
			log_debug("%s (pid %d) exited after it (status %d)",
			    children[i].name, pids[i],
			    WIFEXITED(status[i]) ? WEXITSTATUS(status[i]) : -1);
	}
}

static void
parent_reap(void)
{
	pid_t	pid;
	int	status, i;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (i = 0; i < PROC_MAX; i++) {
			if (children[i].pid != pid)
				continue;
			if (wgd.shutting_down) {
				children[i].pid = 0;
				break;
			}
			parent_wait_child(&children[i], pid, status);
			parent_shutdown(1);
		}
	}
}

static void
parent_signal(int sig, short event, void *arg)
{
	switch (sig) {
	case SIGTERM:
	case SIGINT:
		log_info("received signal %d, exiting", sig);
		parent_shutdown(0);
		break;
	case SIGHUP:
		log_info("SIGHUP: reloading %s", wgd.config_path ?
		    wgd.config_path : "(no configuration file)");
		parent_reload_config(0);
		break;
	case SIGCHLD:
		parent_reap();
		break;
	}
}

static void
parent_inotify(int fd, short event, void *arg)
{
	char				 buf[4096]
	    __attribute__((aligned(__alignof__(struct inotify_event))));
	const struct inotify_event	*ie;
	ssize_t				 n;
	char				*p;
	const char			*base;

	n = read(fd, buf, sizeof(buf));
	if (n <= 0)
		return;
	base = strrchr(wgd.uapi_path, '/') + 1;
	for (p = buf; p < buf + n; p += sizeof(*ie) + ie->len) {
		ie = (const struct inotify_event *)p;
		if (ie->len && strcmp(ie->name, base) == 0 &&
		    (ie->mask & (IN_DELETE | IN_MOVED_FROM))) {
			log_info("UAPI socket %s was removed, exiting",
			    wgd.uapi_path);
			wgd.uapi_path[0] = '\0';
			parent_shutdown(0);
			return;
		}
	}
}

static void
parent_shutdown(int code)
{
	struct timeval	tv = { 0, 0 };
	int		i, waited;

	if (wgd.shutting_down)
		return;
	wgd.shutting_down = 1;
	parent_sd_notify("STOPPING=1");
	wgd.exit_code = code;
	log_audit(code ? LOG_WARNING : LOG_INFO, "op=stop status=%d", code);
	for (i = 0; i < PROC_MAX; i++) {
		if (i != PROC_PARENT)
			chan_stop(&children[i].chan);
		if (children[i].pid > 0)
			kill(children[i].pid, SIGTERM);
	}
	/* Give them a moment, then make sure. */
	for (waited = 0; waited < 200; waited++) {
		int	alive = 0;
		pid_t	pid;

		while ((pid = waitpid(-1, NULL, WNOHANG)) > 0)
			for (i = 0; i < PROC_MAX; i++)
				if (children[i].pid == pid)
					children[i].pid = 0;
		for (i = 0; i < PROC_MAX; i++)
			if (children[i].pid > 0)
				alive = 1;
		if (!alive)
			break;
		usleep(10000);
	}
	for (i = 0; i < PROC_MAX; i++)
		if (children[i].pid > 0) {
			kill(children[i].pid, SIGKILL);
			waitpid(children[i].pid, NULL, 0);
		}
	event_loopexit(&tv);
}

/*
 * The forwarder pads to the MTU and cannot ask the kernel itself; look
 * for changes made with ip-link(8) once a second. (After the interface
 * moved to another namespace its name means nothing here: keep the last.)
 */
static void
parent_mtu_timer(int fd, short event, void *arg)
{
	struct timeval	tv = { 1, 0 };
	int		mtu;

	if ((mtu = tun_get_mtu(wgd.ifname)) > 0 && mtu != wgd.mtu) {
		log_debug("%s: MTU is now %d", wgd.ifname, mtu);
		wgd.mtu = mtu;
		parent_send(PROC_FORWARDER, IMSG_FWD_MTU, -1, &mtu,
		    sizeof(mtu));
	}
	evtimer_add(&wgd.ev_mtu, &tv);
}

static int
parent_prefix_eq(const struct wg_prefix *a, const struct wg_prefix *b)
{
	return a->family == b->family && a->cidr == b->cidr &&
	    memcmp(a->addr.bytes, b->addr.bytes,
	    a->family == AF_INET ? 4 : 16) == 0;
}

static int
parent_prefix_in(const struct wg_prefix *p, const struct wg_prefix *v,
    size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (parent_prefix_eq(p, &v[i]))
			return 1;
	return 0;
}

/* Every allowed IP of every peer of c, for the route diff. */
static int
parent_routes(const struct wg_devconf *c, struct wg_prefix **out, size_t *n)
{
	size_t	i, j, k = 0, total = 0;

	for (i = 0; i < c->npeers; i++)
		total += c->peers[i].naips;
	if ((*out = calloc(total ? total : 1, sizeof(**out))) == NULL)
		return -1;
	for (i = 0; i < c->npeers; i++)
		for (j = 0; j < c->peers[i].naips; j++)
			if (c->peers[i].aips[j].cidr != 0)
				(*out)[k++] = c->peers[i].aips[j];
	*n = k;
	return 0;
}

static void
parent_reload_reply(int status, const char *msg)
{
	struct ctl_result	cr;

	if (!wgd.reload_from_ctl)
		return;
	wgd.reload_from_ctl = 0;
	memset(&cr, 0, sizeof(cr));
	cr.status = status;
	strlcpy(cr.message, msg, sizeof(cr.message));
	parent_send(PROC_HANDSHAKE, IMSG_CTL_RELOAD_DONE, -1, &cr, sizeof(cr));
}

/* Whether a reload changes which card is used or what it must hold. */
static int
parent_card_changed(const struct config_extra *a,
    const struct config_extra *b)
{
	return strcmp(a->reader, b->reader) != 0 ||
	    a->has_serial != b->has_serial || a->serial != b->serial ||
	    a->has_card_pub != b->has_card_pub ||
	    memcmp(a->card_pub, b->card_pub, 32) != 0 ||
	    a->unlock_last_try != b->unlock_last_try ||
	    a->verify_timeout_ms != b->verify_timeout_ms ||
	    a->decipher_timeout_ms != b->decipher_timeout_ms ||
	    a->touch_timeout_ms != b->touch_timeout_ms ||
	    a->exclusive != b->exclusive;
}

/* A refused reload, logged and audited (quotes made single). */
static void
parent_reload_refused(const char *err)
{
	char	e[CONFIG_ERR_MAX], *p;

	log_warnx("reload refused, the running configuration stays: %s", err);
	strlcpy(e, err, sizeof(e));
	for (p = e; *p != '\0'; p++)
		if (*p == '"')
			*p = '\'';
	log_audit(LOG_WARNING, "op=reload result=refused error=\"%.400s\"",
	    e);
}

/*
 * Reads the configuration: the file, or in xplatform mode the card
 * settings from the environment; then the PIN it names. 0, or -errno
 * with err (FILE:LINE: KEY: reason). With checkonly (-n) a
 * PinCredential that only systemd can give is a warning.
 */
static int
parent_conf_load(struct parent_conf *pc, int checkonly, char *err,
    size_t errlen)
{
	char	msg[CONFIG_ERR_MAX - 48];
	size_t	pinlen = 0;
	int	r, n;

	memset(pc, 0, sizeof(*pc));
	wgconf_init(&pc->conf);
	if (wgd.config_path != NULL) {
		if (config_parse_file(wgd.config_path, &pc->conf, &pc->extra,
		    err, errlen) != 0)
			return -EINVAL;
	} else {
		/* xplatform mode (wg-quick): the card from the environment */
		if (config_parse_env(&pc->extra, &n, err, errlen) != 0)
			return -EINVAL;
		if (n > 0)
			log_debug("%d setting%s from the environment", n,
			    n == 1 ? "" : "s");
		if (config_check_wgquick_save(getppid(), &pc->extra, err,
		    errlen) == -1)
			return -EINVAL;
	}
	r = config_read_pin(&pc->extra, pc->pin.pin, &pinlen, err, errlen);
	if (r == -2 && checkonly) {
		/* -n from a shell: the service will have the credential. */
		fprintf(stderr, "warning: %s; not checked\n", err);
		r = 0;
	}
	if (r < 0) {
		if (wgd.config_path == NULL) {
			strlcpy(msg, err, sizeof(msg));
			snprintf(err, errlen, "environment: %s: %s",
			    pc->extra.pin_file != NULL ? "WGCARD_PIN_FILE" :
			    "WGCARD_PIN_CREDENTIAL", msg);
		}
		return -EINVAL;
	}
	pc->pin.len = (uint32_t)pinlen;
	return 0;
}

static void
parent_conf_free(struct parent_conf *pc)
{
	sodium_memzero(&pc->pin, sizeof(pc->pin));
	wgconf_free(&pc->conf);
	config_extra_free(&pc->extra);
}

static const char *
parent_prefix_str(const struct wg_prefix *p, char *buf, size_t len)
{
	char	a[INET6_ADDRSTRLEN];

	if (inet_ntop(p->family, p->addr.bytes, a, sizeof(a)) == NULL)
		strlcpy(a, "?", sizeof(a));
	snprintf(buf, len, "%s/%u", a, (unsigned)p->cidr);
	return buf;
}

/*
 * The addresses of nc that the running configuration lacks, added;
 * added[i] says which (for the undo). 0, or -errno with err.
 */
static int
parent_addrs_add(const struct wg_devconf *nc, uint8_t *added, char *err,
    size_t errlen)
{
	char	a[INET6_ADDRSTRLEN + 4];
	size_t	i;
	int	r;

	for (i = 0; i < nc->naddrs; i++) {
		if (parent_prefix_in(&nc->addrs[i], wgd.conf.addrs,
		    wgd.conf.naddrs))
			continue;
		if ((r = nl_addr_add(wgd.ifindex, &nc->addrs[i])) == 0)
			added[i] = 1;
		else if (r != -EEXIST) {
			snprintf(err, errlen, "%s: Address: cannot add %s to "
			    "%s: %s", wgd.config_path, parent_prefix_str(
			    &nc->addrs[i], a, sizeof(a)), wgd.ifname,
			    strerror(-r));
			return r;
		}
	}
	return 0;
}

/*
 * The UDP sockets: opened at start (a port still held by the daemon
 * before us, in a restart, is waited for up to 2 s: its forwarder's
 * io_uring drops its registered sockets only after it exits) and again
 * when the port changes, with the fwmark; the running port is kept until
 * the new one is bound. The bound port and the mark go to the handshake
 * process in the configuration, so that it reports them. 0 or -errno.
 */
static int
parent_conf_port(struct parent_conf *pc, int start, char *err, size_t errlen)
{
	struct wg_devconf	*nc = &pc->conf;
	uint16_t		 port = nc->flags & WGDEV_HAS_PORT ? nc->port : 0;
	int			 r = 0, i;

	if (start || (port != 0 && port != wgd.port)) {
		for (i = 0; (r = parent_open_sockets(port, nc->fwmark)) ==
		    -EADDRINUSE && start && i < 40; i++)
			usleep(50 * 1000);
		if (r != 0 && pc->extra.port_line == 0)
			snprintf(err, errlen, "cannot open UDP sockets (port "
			    "%u): %s", port, strerror(-r));
		else if (r != 0)
			snprintf(err, errlen, "%s:%lu: ListenPort: cannot "
			    "listen on UDP port %u: %s%s; %s", wgd.config_path,
			    pc->extra.port_line, port, strerror(-r),
			    r == -EADDRINUSE ? " (ss -ulpn shows by whom; "
			    "choose another port)" : "", start ?
			    "nothing started" : "the running port is kept");
		if (r != 0)
			return r;
		wgd.fwmark = nc->fwmark;
		wgd.pend |= PARENT_PEND_SOCKETS;
		if (!start)
			log_info("listening on port %u", wgd.port);
	} else if (nc->fwmark != wgd.fwmark &&
	    (r = parent_apply_fwmark(nc->fwmark)) != 0) {
		snprintf(err, errlen, "%s: FwMark %u: %s", wgd.config_path,
		    nc->fwmark, strerror(-r));
		return r;
	}
	nc->flags |= WGDEV_HAS_PORT | WGDEV_HAS_FWMARK;
	nc->port = wgd.port;
	nc->fwmark = wgd.fwmark;
	return 0;
}

/*
 * Routes for the allowed IPs of every peer: what went, then what came.
 * A /0 gets none (that is policy routing's job, as wg-quick does it);
 * a failure is logged, the tunnel's other routes still go in.
 */
static void
parent_routes_apply(const struct wg_devconf *nc)
{
	struct wg_prefix	*oldr = NULL, *newr = NULL;
	char			 a[INET6_ADDRSTRLEN + 4];
	size_t			 noldr = 0, nnewr = 0, i, j;
	int			 r;

	for (i = 0; i < nc->npeers; i++)
		for (j = 0; j < nc->peers[i].naips; j++)
			if (nc->peers[i].aips[j].cidr == 0)
				log_warnx("allowed IPs %s: no default route "
				    "added (use policy routing, as wg-quick "
				    "does)", parent_prefix_str(
				    &nc->peers[i].aips[j], a, sizeof(a)));
	if (parent_routes(&wgd.conf, &oldr, &noldr) == 0 &&
	    parent_routes(nc, &newr, &nnewr) == 0) {
		for (i = 0; i < noldr; i++)
			if (!parent_prefix_in(&oldr[i], newr, nnewr))
				nl_route_del(wgd.ifindex, &oldr[i]);
		for (i = 0; i < nnewr; i++)
			if (!parent_prefix_in(&newr[i], oldr, noldr) &&
			    (r = nl_route_add(wgd.ifindex, &newr[i])) < 0)
				log_warnx("%s: route %s: %s", wgd.ifname,
				    parent_prefix_str(&newr[i], a, sizeof(a)),
				    strerror(-r));
	} else
		log_warnx("%s: routes: out of memory", wgd.ifname);
	free(oldr);
	free(newr);
}

/*
 * One way to apply a configuration, at start and on a reload (as bgpd's
 * reconfigure): pc is set against the running one (empty at start).
 * What can fail comes first (the key's home, the audit file, the MTU,
 * new addresses, the port) and is undone if a later step fails, so an
 * error leaves the running tunnel as it was; the caller reports it (at
 * start, fatally). Then what went is removed, pc becomes the running
 * configuration (emptied here), and the children get their share:
 * at once on a reload, at start once they run (main calls
 * parent_handover). 0, or -errno with err naming the file, line and key.
 */
static int
reconfigure(struct parent_conf *pc, char *err, size_t errlen)
{
	struct wg_devconf	*nc = &pc->conf;
	uint8_t			*added;
	size_t			 i;
	int			 start = !wgd.configured, oldmtu = wgd.mtu;
	int			 mtu, r;

	/* The key's home is fixed for the life of the key broker. */
	if (!start && pc->extra.keysource != wgd.extra.keysource) {
		snprintf(err, errlen, "%s: KeySource changed: restart the "
		    "daemon to move the key", wgd.config_path);
		return -EINVAL;
	}
	/* The audit file: opened, reopened (rotation) or moved. */
	if (audit_reopen(pc->extra.audit_log, err, errlen) == -1)
		return -EINVAL;
	if ((added = calloc(nc->naddrs + 1, 1)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	/* Without MTU the running one stays (one set with ip-link too). */
	mtu = nc->mtu != 0 ? nc->mtu : start ? WGCARD_DEFAULT_MTU : wgd.mtu;
	if (mtu != wgd.mtu) {
		if ((r = nl_link_set_mtu(wgd.ifindex, mtu)) < 0) {
			snprintf(err, errlen, "%s: MTU %d: %s", wgd.ifname,
			    mtu, strerror(-r));
			goto undo;
		}
		wgd.mtu = mtu;
		wgd.pend |= PARENT_PEND_MTU;
	}
	if (start && wgd.config_path != NULL &&
	    (r = nl_link_set_up(wgd.ifindex)) < 0) {
		snprintf(err, errlen, "%s: up: %s", wgd.ifname, strerror(-r));
		goto undo;
	}
	if ((r = parent_addrs_add(nc, added, err, errlen)) != 0 ||
	    (r = parent_conf_port(pc, start, err, errlen)) != 0)
		goto undo;

	/* Nothing fails from here on. */
	for (i = 0; i < wgd.conf.naddrs; i++)
		if (!parent_prefix_in(&wgd.conf.addrs[i], nc->addrs,
		    nc->naddrs))
			nl_addr_del(wgd.ifindex, &wgd.conf.addrs[i]);
	parent_routes_apply(nc);
	free(added);
	/*
	 * The card: new settings go to the broker, which looks for the card
	 * again; the PIN goes in any case (the broker spends no VERIFY on a
	 * PIN already verified, nor on one the card refused).
	 */
	if (pc->extra.keysource == CONFIG_KEYSOURCE_OPENPGP &&
	    (start || parent_card_changed(&pc->extra, &wgd.extra))) {
		if (!start)
			log_info("reload: the card settings changed; the key "
			    "broker applies them now");
		wgd.pend |= PARENT_PEND_CARD;
	}
	if (wgd.config_path != NULL)
		wgd.pend |= PARENT_PEND_CONFIG;
	if (start)
		wgd.pend |= PARENT_PEND_TUN;
	wgconf_free(&wgd.conf);
	wgd.conf = pc->conf;
	wgconf_init(&pc->conf);
	config_extra_free(&wgd.extra);
	wgd.extra = pc->extra;
	memset(&pc->extra, 0, sizeof(pc->extra));
	wgd.pin = pc->pin;
	sodium_memzero(&pc->pin, sizeof(pc->pin));
	wgd.configured = 1;
	if (!start)
		parent_handover();
	return 0;

 undo:
	for (i = 0; i < nc->naddrs; i++)
		if (added[i])
			nl_addr_del(wgd.ifindex, &nc->addrs[i]);
	free(added);
	if (wgd.mtu != oldmtu && oldmtu != 0 &&
	    nl_link_set_mtu(wgd.ifindex, oldmtu) == 0)
		wgd.mtu = oldmtu;
	wgd.pend &= ~PARENT_PEND_MTU;
	return r;
}

/*
 * The children's share of what reconfigure() applied: to the forwarder
 * the TUN (at start, with the MTU) or a new MTU, and new sockets; to the
 * key broker the card settings, the PIN and the private key, which then
 * leave this process; to the handshake process the peers (on a reload
 * in sync: peers not in the file go, the others keep their sessions).
 */
static void
parent_handover(void)
{
	struct key_card_config	kc;
	struct key_set		ks;
	int			keyd = 0;

	if (wgd.pend & PARENT_PEND_TUN) {
		parent_send(PROC_FORWARDER, IMSG_FWD_TUN, wgd.tun_fd, &wgd.mtu,
		    sizeof(wgd.mtu));
		wgd.tun_fd = -1;	/* passed, and closed once sent */
	} else if (wgd.pend & PARENT_PEND_MTU)
		parent_send(PROC_FORWARDER, IMSG_FWD_MTU, -1, &wgd.mtu,
		    sizeof(wgd.mtu));
	if (wgd.pend & PARENT_PEND_SOCKETS)
		parent_send_sockets();
	if (wgd.pend & PARENT_PEND_CARD) {
		memset(&kc, 0, sizeof(kc));
		strlcpy(kc.reader, wgd.extra.reader, sizeof(kc.reader));
		kc.has_serial = wgd.extra.has_serial != 0;
		kc.serial = wgd.extra.serial;
		kc.has_pub = wgd.extra.has_card_pub != 0;
		kc.unlock_last_try = wgd.extra.unlock_last_try != 0;
		kc.verify_timeout_ms = wgd.extra.verify_timeout_ms;
		kc.decipher_timeout_ms = wgd.extra.decipher_timeout_ms;
		kc.touch_timeout_ms = wgd.extra.touch_timeout_ms;
		kc.exclusive = wgd.extra.exclusive != 0;
		memcpy(kc.pub, wgd.extra.card_pub, sizeof(kc.pub));
		parent_send(PROC_KEYD, IMSG_KEY_CARD_CONFIG, -1, &kc,
		    sizeof(kc));
		keyd = 1;
	}
	if (wgd.extra.keysource == CONFIG_KEYSOURCE_OPENPGP &&
	    wgd.pin.len > 0) {
		parent_send(PROC_KEYD, IMSG_KEY_PIN, -1, &wgd.pin,
		    sizeof(wgd.pin));
		keyd = 1;
	}
	sodium_memzero(&wgd.pin, sizeof(wgd.pin));
	if (wgd.conf.flags & WGDEV_HAS_PRIVKEY) {
		/* The broker tells whether it changed. */
		memcpy(ks.key, wgd.conf.privkey, sizeof(ks.key));
		parent_send(PROC_KEYD, IMSG_KEY_SET, -1, &ks, sizeof(ks));
		sodium_memzero(&ks, sizeof(ks));
		keyd = 1;
	}
	sodium_memzero(wgd.conf.privkey, sizeof(wgd.conf.privkey));
	wgd.conf.flags &= ~WGDEV_HAS_PRIVKEY;
	if (keyd && imsg_flush_blocking(&children[PROC_KEYD].chan.ibuf) == -1)
		fatal("cannot hand the key or card settings to the key "
		    "broker");
	if (wgd.pend & PARENT_PEND_CONFIG) {
		if (!(wgd.pend & PARENT_PEND_TUN)) {
			wgd.reloading = 1;
			parent_sd_notify("RELOADING=1");
		}
		parent_send_config(!(wgd.pend & PARENT_PEND_TUN));
	}
	/* Kept (without the key) to tell what a reload changes. */
	parent_forget_psks();
	wgd.pend = 0;
}

/*
 * Re-reads the configuration file and applies it (reconfigure). A file
 * with any error is refused whole and the running configuration stays;
 * the requester gets the error.
 */
static void
parent_reload_config(int from_ctl)
{
	struct parent_conf	pc;
	char			err[CONFIG_ERR_MAX];
	int			r;

	if (wgd.reloading) {
		if (from_ctl) {
			wgd.reload_from_ctl = 1;
			parent_reload_reply(-EBUSY, "a reload is under way");
		}
		return;
	}
	wgd.reload_from_ctl = from_ctl;
	if (wgd.config_path == NULL) {
		log_warnx("reload: no configuration file (started as "
		    "wgcardd ifname); nothing to reload");
		parent_reload_reply(-ENOENT, "no configuration file: the "
		    "daemon runs in xplatform mode");
		return;
	}
	if ((r = parent_conf_load(&pc, 0, err, sizeof(err))) != 0 ||
	    (r = reconfigure(&pc, err, sizeof(err))) != 0) {
		parent_reload_refused(err);
		parent_conf_free(&pc);
		parent_reload_reply(r, err);
		return;
	}
	parent_conf_free(&pc);
	log_info("reload: %s read, %zu peers", wgd.config_path,
	    wgd.conf.npeers);
	log_audit(LOG_INFO, "op=reload result=ok peers=%zu", wgd.conf.npeers);
}

static void
parent_reload(struct chan *ch, struct imsg *imsg)
{
	uint32_t	uid;

	memcpy(&uid, imsg->data, sizeof(uid));
	log_info("reload requested over the control socket by uid %u", uid);
	parent_reload_config(1);
}

/*
 * A directory of ours outside the tree (/var/run/wireguard, /var/run/wgcard,
 * the children's empty chroot): made if missing, and in any case left a
 * real directory (no symlink), owned by root:root with exactly mode, whatever
 * the umask of whoever started us (mkdir(2) alone would take the umask's
 * word: 077 made /var/run/wgcard 0700 and locked the wgcard group out of
 * every control socket for good). One that is not root's, or not a
 * directory, is refused: somebody else made it, and we do not take it over.
 * With checkonly (the chroot, which other software may share) an existing
 * directory is only checked: root's and not writable by group or others.
 */
static void
parent_rundir(const char *dir, mode_t mode, int checkonly)
{
	struct stat	st;
	int		fd;

	if (mkdir(dir, mode) == -1 && errno != EEXIST)
		fatal("cannot create %s", dir);
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1)
		fatal("%s: not a directory we can use (a symlink or a file "
		    "there?)", dir);
	if (fstat(fd, &st) == -1)
		fatal("%s", dir);
	if (st.st_uid != 0)
		fatalx("%s is owned by uid %u, not root: remove it or give it "
		    "to root (mode %04o) and start again", dir,
		    (unsigned)st.st_uid, (unsigned)mode);
	if (checkonly) {
		/* Shared with the system (/var/empty): only checked. */
		if (st.st_mode & 022)
			fatalx("%s is writable by group or others (mode %04o): "
			    "the children's chroot must not be; chmod go-w it",
			    dir, (unsigned)(st.st_mode & 07777));
		close(fd);
		return;
	}
	if (st.st_gid != 0 && fchown(fd, 0, 0) == -1)
		fatal("chown root:root %s", dir);
	if ((st.st_mode & 07777) != mode) {
		if (fchmod(fd, mode) == -1)
			fatal("chmod %04o %s", (unsigned)mode, dir);
		log_info("%s: mode %04o set to %04o", dir,
		    (unsigned)(st.st_mode & 07777), (unsigned)mode);
	}
	close(fd);
}

/*
 * A listening unix socket DIR/IFNAME.sock, created with umask 077 (so it
 * is never more open than 0600 in between), unless another daemon serves
 * it already: then the interface is in use. path gets the socket's path.
 */
static int
parent_unix_listen(const char *dir, char *path, size_t pathlen)
{
	struct sockaddr_un	sun;
	mode_t			old;
	int			fd, probe;

	parent_rundir(dir, 0755, 0);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if ((size_t)snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/%s.sock",
	    dir, wgd.ifname) >= sizeof(sun.sun_path))
		fatalx("%s: socket path too long", dir);
	if ((probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) != -1) {
		if (connect(probe, (struct sockaddr *)&sun, sizeof(sun)) == 0)
			fatalx("%s: already served by another daemon",
			    sun.sun_path);
		close(probe);
	}
	unlink(sun.sun_path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC |
	    SOCK_NONBLOCK, 0)) == -1)
		fatal("socket");
	old = umask(077);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1)
		fatal("bind %s", sun.sun_path);
	umask(old);
	strlcpy(path, sun.sun_path, pathlen);
	if (listen(fd, 16) == -1)
		fatal("listen");
	return fd;
}

/* The control socket: root:wgcard 0660, served by the handshake process. */
static int
parent_ctl_listen(void)
{
	struct group	*gr;
	int		 fd;

	fd = parent_unix_listen(CONTROL_DIR, wgd.ctl_path, sizeof(wgd.ctl_path));
	gr = getgrnam(CONTROL_GROUP);
	if (chown(wgd.ctl_path, 0, gr != NULL ? gr->gr_gid : 0) == -1 ||
	    chmod(wgd.ctl_path, gr != NULL ? 0660 : 0600) == -1)
		fatal("%s", wgd.ctl_path);
	if (gr == NULL)
		log_warnx("group %s does not exist: the control socket is "
		    "for root only", CONTROL_GROUP);
	return fd;
}

static void
parent_atexit(void)
{
	/* Only the parent (main_pid follows it through daemonizing). */
	if (getpid() != wgd.main_pid)
		return;
	if (wgd.uapi_path[0] != '\0')
		unlink(wgd.uapi_path);
	if (wgd.ctl_path[0] != '\0')
		unlink(wgd.ctl_path);
}

/* The UAPI socket, 0600 as the cross-platform text asks. */
static int
parent_uapi_listen(void)
{
	return parent_unix_listen(WGCARD_UAPI_DIR, wgd.uapi_path,
	    sizeof(wgd.uapi_path));
}

/*
 * Hands the configuration to the handshake process as UAPI text. With
 * sync (a reload), peers not in it are removed and the others updated in
 * place, so unchanged peers keep their sessions.
 */
static void
parent_send_config(uint32_t sync)
{
	struct buf	b;
	size_t		off, n;

	buf_init(&b);
	if (uapi_format_set(&wgd.conf, &b, 0) == -1)
		fatalx("out of memory formatting the configuration");
	for (off = 0; off < b.len; off += n) {
		n = b.len - off > CFG_CHUNK ? CFG_CHUNK : b.len - off;
		parent_send(PROC_HANDSHAKE, IMSG_CFG_CHUNK, -1, b.data + off, n);
	}
	parent_send(PROC_HANDSHAKE, IMSG_CFG_END, -1, &sync, sizeof(sync));
	buf_free(&b);
}

/*
 * The kept configuration only serves to tell what a reload changes: the
 * preshared keys in it (and any copy library code left on the stack)
 * are not needed here once the handshake process has them.
 */
static void
parent_forget_psks(void)
{
	size_t	i;

	for (i = 0; i < wgd.conf.npeers; i++)
		sodium_memzero(wgd.conf.peers[i].psk,
		    sizeof(wgd.conf.peers[i].psk));
	proc_wipe_stack();
}

static pid_t
parent_spawn(enum proc_id id, const char *path, const char *procflag,
    const int *fds, int nfds)
{
	char	*argv[14];
	int	 argc = 0;
	pid_t	 pid;

	argv[argc++] = (char *)(id == PROC_KEYD ? "wgcard-keyd" : "wgcardd");
	if (procflag != NULL) {
		argv[argc++] = "-P";
		argv[argc++] = (char *)procflag;
	}
	/* In the foreground, the children log to stderr as we do. */
	if (wgd.opts.debug || wgd.foreground)
		argv[argc++] = "-d";
	if (wgd.opts.verbose)
		argv[argc++] = "-v";
	if (id == PROC_FORWARDER) {
		argv[argc++] = "-B";
		argv[argc++] = (char *)forward_backend_name(wgd.opts.backend);
		argv[argc++] = "-O";
		argv[argc++] = (char *)forward_offloads_name(wgd.opts.offloads);
	}
	/* Card plumbing: keyd picks its chroot and backend by this. */
	if (id == PROC_KEYD &&
	    wgd.extra.keysource == CONFIG_KEYSOURCE_OPENPGP) {
		argv[argc++] = "-K";
		argv[argc++] = "openpgp";
	}
	argv[argc++] = "-i";
	argv[argc++] = wgd.ifname;
	argv[argc] = NULL;
	if ((pid = proc_exec(path, argv, fds, nfds)) == -1)
		fatal("cannot start %s", children[id].name);
	children[id].pid = pid;
	return pid;
}

static void
parent_start_children(void)
{
	int		p_k[2], p_h[2], p_f[2], h_k[2], h_f[2], fds[3];
	char		keyd_path[PATH_MAX], tmp[PATH_MAX];
	const char	*self = proc_self_path();

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, p_k) == -1 ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, p_h) == -1 ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, p_f) == -1 ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, h_k) == -1 ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, h_f) == -1)
		fatal("socketpair");

	/* wgcard-keyd sits beside wgcardd. */
	strlcpy(tmp, self, sizeof(tmp));
	snprintf(keyd_path, sizeof(keyd_path), "%s/wgcard-keyd", dirname(tmp));

	fds[0] = p_k[1];
	fds[1] = h_k[1];
	parent_spawn(PROC_KEYD, keyd_path, NULL, fds, 2);
	fds[0] = p_h[1];
	fds[1] = h_k[0];
	fds[2] = h_f[0];
	parent_spawn(PROC_HANDSHAKE, self, "handshake", fds, 3);
	fds[0] = p_f[1];
	fds[1] = h_f[1];
	parent_spawn(PROC_FORWARDER, self, "forwarder", fds, 2);

	close(p_k[1]);
	close(p_h[1]);
	close(p_f[1]);
	close(h_k[0]);
	close(h_k[1]);
	close(h_f[0]);
	close(h_f[1]);
	parent_chan_open(PROC_KEYD, p_k[0]);
	parent_chan_open(PROC_HANDSHAKE, p_h[0]);
	parent_chan_open(PROC_FORWARDER, p_f[0]);
}

static int
parent_stderr_is_pipe(void)
{
	struct stat	st;

	return fstat(STDERR_FILENO, &st) == 0 && S_ISFIFO(st.st_mode);
}

/* The child goes on, the parent leaves. */
static void
parent_fork_away(void)
{
	switch (fork()) {
	case -1:
		fatal("fork");
	case 0:
		return;
	default:
		_exit(0);
	}
}

static void
parent_daemonize(void)
{
	int	fd;

	parent_fork_away();
	if (setsid() == -1)
		fatal("setsid");
	parent_fork_away();
	if (chdir("/") == -1)
		fatal("chdir");
	if ((fd = open("/dev/null", O_RDWR)) != -1) {
		dup2(fd, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		/*
		 * No syslog socket: the log stays on stderr, not lost,
		 * unless that is a pipe (whoever reads it would wait for
		 * the daemon to end).
		 */
		if (!log_is_stderr() || parent_stderr_is_pipe())
			dup2(fd, STDERR_FILENO);
		if (fd > 2)
			close(fd);
	}
}

static void
parent_ifname_from_config(const char *path)
{
	char	tmp[PATH_MAX], *base, *dot;

	strlcpy(tmp, path, sizeof(tmp));
	base = basename(tmp);
	if ((dot = strrchr(base, '.')) != NULL && strcmp(dot, ".conf") == 0)
		*dot = '\0';
	if (strlcpy(wgd.ifname, base, sizeof(wgd.ifname)) >=
	    sizeof(wgd.ifname) || wgd.ifname[0] == '\0')
		fatalx("%s: cannot derive an interface name from the file "
		    "name; give one on the command line", path);
}

/*
 * The options (and the environment's defaults for them). Returns the
 * process flag of a re-executed child (-P), else NULL with the parent's
 * options checked.
 */
static const char *
parent_options(int argc, char *argv[], int *checkonly)
{
	const char	*procflag = NULL, *env;
	int		 ch;

	/* The environment gives defaults for -B and -O (test matrices). */
	wgd.opts.backend = FWD_BACKEND_AUTO;
	if ((env = getenv("WGCARD_FWD_BACKEND")) != NULL && *env != '\0' &&
	    (wgd.opts.backend = forward_parse_backend(env)) == -1)
		fatalx("WGCARD_FWD_BACKEND=%s: auto, classic or uring", env);
	wgd.opts.offloads = FWD_OFFLOAD_ON;
	if ((env = getenv("WGCARD_OFFLOAD")) != NULL && *env != '\0' &&
	    (wgd.opts.offloads = forward_parse_offloads(env)) == -1)
		fatalx("WGCARD_OFFLOAD=%s: 0 or 1", env);
	while ((ch = getopt(argc, argv, "B:c:dfi:nO:P:v")) != -1) {
		switch (ch) {
		case 'B':
			if ((wgd.opts.backend = forward_parse_backend(optarg)) ==
			    -1)
				usage();
			break;
		case 'O':
			if ((wgd.opts.offloads = forward_parse_offloads(optarg)) ==
			    -1)
				usage();
			break;
		case 'c':
			/* A copy: the process title overwrites argv. */
			if ((wgd.config_path = realpath(optarg, NULL)) == NULL &&
			    (wgd.config_path = strdup(optarg)) == NULL)
				fatal("strdup");
			break;
		case 'd':
			wgd.opts.debug = 1;
			wgd.foreground = 1;
			break;
		case 'f':
			wgd.foreground = 1;
			break;
		case 'i':
			if (strlcpy(wgd.ifname, optarg, sizeof(wgd.ifname)) >=
			    sizeof(wgd.ifname))
				usage();
			break;
		case 'n':
			*checkonly = 1;
			break;
		case 'P':
			procflag = optarg;
			break;
		case 'v':
			wgd.opts.verbose++;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (procflag != NULL)
		return procflag;

	/* wireguard-go's environment, for wg-quick and its users. */
	if ((env = getenv("WG_PROCESS_FOREGROUND")) != NULL &&
	    strcmp(env, "1") == 0)
		wgd.foreground = 1;
	if ((env = getenv("LOG_LEVEL")) != NULL &&
	    (strcmp(env, "verbose") == 0 || strcmp(env, "debug") == 0))
		wgd.opts.verbose = 1;

	if (argc > 1)
		usage();
	if (argc == 1 && strlcpy(wgd.ifname, argv[0], sizeof(wgd.ifname)) >=
	    sizeof(wgd.ifname))
		fatalx("interface name too long: %s", argv[0]);
	if (wgd.config_path == NULL && (argc != 1 || *checkonly))
		usage();
	if (wgd.config_path != NULL && argc == 0)
		parent_ifname_from_config(wgd.config_path);
	return NULL;
}

/*
 * What exists before any configuration: root, the user the children
 * run as, the run directories, the UAPI and control sockets, the TUN
 * interface (with the offloads it really has).
 */
static void
parent_setup(void)
{
	int	offl;

	if (geteuid() != 0)
		fatalx("need root privileges");
	if (getpwnam(WGCARD_USER) == NULL)
		fatalx("user %s does not exist: run contrib/install-deps.sh "
		    "or create it", WGCARD_USER);
	/* The audit file: the parent's alone; the children send events. */
	audit_set_ifname(wgd.ifname);
	/* The children's chroot: root's, and not writable by them. */
	parent_rundir(WGCARD_CHROOT, 0755, 1);
	wgd.uapi_fd = parent_uapi_listen();
	wgd.ctl_fd = parent_ctl_listen();
	/* A start that fails from here on leaves no socket behind. */
	wgd.main_pid = getpid();
	atexit(parent_atexit);
	if ((wgd.tun_fd = tun_open_flags(wgd.ifname, wgd.opts.offloads ?
	    TUN_OPEN_VNET : 0, &offl)) == -1)
		fatal("cannot create TUN interface %s", wgd.ifname);
	if (wgd.opts.offloads) {
		/* The forwarder learns what the device really does. */
		wgd.opts.offloads = !(offl & TUN_OFFL_VNET) ? FWD_OFFLOAD_OFF :
		    FWD_OFFLOAD_ON | ((offl & TUN_OFFL_USO) ?
		    FWD_OFFLOAD_USO : 0);
		log_debug("%s: offloads: virtio-net header %s, TSO %s, USO %s",
		    wgd.ifname, offl & TUN_OFFL_VNET ? "yes" : "no",
		    offl & TUN_OFFL_TSO ? "yes" : "no",
		    offl & TUN_OFFL_USO ? "yes" : "no");
	}
	if ((wgd.ifindex = nl_link_index(wgd.ifname)) <= 0)
		fatalx("%s: no such interface", wgd.ifname);
}

/* The signals, the MTU watch and the UAPI socket's watch (inotify). */
static void
parent_events(void)
{
	struct timeval	tv = { 1, 0 };

	signal(SIGPIPE, SIG_IGN);
	signal_set(&wgd.ev_sigterm, SIGTERM, parent_signal, NULL);
	signal_set(&wgd.ev_sigint, SIGINT, parent_signal, NULL);
	signal_set(&wgd.ev_sighup, SIGHUP, parent_signal, NULL);
	signal_set(&wgd.ev_sigchld, SIGCHLD, parent_signal, NULL);
	signal_add(&wgd.ev_sigterm, NULL);
	signal_add(&wgd.ev_sigint, NULL);
	signal_add(&wgd.ev_sighup, NULL);
	signal_add(&wgd.ev_sigchld, NULL);
	evtimer_set(&wgd.ev_mtu, parent_mtu_timer, NULL);
	evtimer_add(&wgd.ev_mtu, &tv);
	if ((wgd.inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) != -1 &&
	    inotify_add_watch(wgd.inotify_fd, WGCARD_UAPI_DIR,
	    IN_DELETE | IN_MOVED_FROM) != -1) {
		event_set(&wgd.ev_inotify, wgd.inotify_fd, EV_READ | EV_PERSIST,
		    parent_inotify, NULL);
		event_add(&wgd.ev_inotify, NULL);
	} else
		log_warn("inotify on %s", WGCARD_UAPI_DIR);
}

int
main(int argc, char *argv[])
{
	struct parent_conf	 pc;
	struct priv_port	 pp = { .status = 0 };
	const char		*procflag, *env;
	char			 err[CONFIG_ERR_MAX];
	int			 checkonly = 0;

	proc_trim();
	proc_init_title(argc, argv);
	if ((procflag = parent_options(argc, argv, &checkonly)) != NULL) {
		wgd.opts.ifname = wgd.ifname;
		if (strcmp(procflag, "handshake") == 0)
			handshake_main(&wgd.opts);
		if (strcmp(procflag, "forwarder") == 0)
			forwarder_main(&wgd.opts);
		usage();
	}
	log_init(1, LOG_DAEMON);
	log_setverbose(wgd.opts.verbose);
	log_procinit("parent");
	proc_nocore();
	wg_crypto_init();
	wgconf_init(&wgd.conf);

	if (parent_conf_load(&pc, checkonly, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s\n", err);
		exit(1);
	}
	/* The file wins: the environment is for wg-quick (no -c). */
	if (wgd.config_path != NULL && (env = config_env_first()) != NULL)
		log_warnx("%s (and the like, see ENVIRONMENT in wgcardd(8)) "
		    "ignored: with -c, %s has the card settings", env,
		    wgd.config_path);
	if (checkonly) {
		parent_conf_free(&pc);
		fprintf(stderr, "configuration OK\n");
		exit(0);
	}
	parent_setup();
	if (reconfigure(&pc, err, sizeof(err)) != 0)
		fatalx("%s", err);
	parent_conf_free(&pc);
	log_set_audit_hook(parent_audit_hook);

	if (!wgd.foreground) {
		log_init(0, LOG_DAEMON);
		log_procinit("parent");
		parent_daemonize();
		wgd.main_pid = getpid();
	}
	log_info("wgcardd %s starting on %s, UDP port %u", WGCARD_VERSION,
	    wgd.ifname, wgd.port);
	log_audit(LOG_INFO, "op=start version=%s port=%u config=%s",
	    WGCARD_VERSION, wgd.port, wgd.config_path != NULL ?
	    wgd.config_path : "none");
	proc_setname("wgcardd");
	proc_settitle("wgcardd: parent [%s]", wgd.ifname);
	event_init();
	parent_events();
	parent_start_children();

	/* The handshake process: the UAPI and control sockets, the port. */
	parent_send(PROC_HANDSHAKE, IMSG_CFG_UAPI_FD, wgd.uapi_fd, NULL, 0);
	wgd.uapi_fd = -1;
	parent_send(PROC_HANDSHAKE, IMSG_CTL_FD, wgd.ctl_fd, NULL, 0);
	wgd.ctl_fd = -1;
	pp.port = wgd.port;
	parent_send(PROC_HANDSHAKE, IMSG_PRIV_PORT, -1, &pp, sizeof(pp));
	/* Then what the configuration gives each child. */
	parent_handover();

	event_dispatch();

	if (wgd.uapi_path[0] != '\0')
		unlink(wgd.uapi_path);
	if (wgd.ctl_path[0] != '\0')
		unlink(wgd.ctl_path);
	log_info("exiting%s", wgd.exit_code ? " on error" : "");
	return wgd.exit_code;
}
