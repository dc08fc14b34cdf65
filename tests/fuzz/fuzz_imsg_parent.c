/*
 * fuzz_imsg_parent.c: libFuzzer target for every message the parent
 * (netd/wgcardd.c) receives from its children: the key broker, the
 * handshake process and the forwarder.
 *
 * The parent's file is compiled into this one (its state and dispatch
 * are static), its main() renamed. Its children are the harness at the
 * far ends of three socketpairs (tests/fuzz/harness.h: the input is a
 * sequence of messages, any type, any size, from any child, with or
 * without a descriptor, some with a corrupt header). What the parent
 * does to the system is stubbed below: sockets (a changed port gets two
 * /dev/null descriptors), netlink, TUN. The daemon runs in xplatform
 * mode (no configuration file: a reload is refused) with no audit file.
 *
 * A refused message is fatal for the parent, as in the daemon, and ends
 * the input; a memory or UB error, a descriptor left open after a run
 * without a fatal, or a malformed message sent on is a crash.
 */
#include "harness.h"

#define main	wgcardd_main
#include "../../netd/wgcardd.c"
#undef main

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);
int	LLVMFuzzerInitialize(int *, char ***);
static void	fuzz_setup(struct fuzz_in *);
static void	fuzz_teardown(int);

/* What the parent reaches outside itself. */

static uint16_t	fuzz_next_port = 51820;

int
sock_open_pair(uint16_t port, uint32_t fwmark, int *fd4, int *fd6,
    uint16_t *bound)
{
	/* Port 1 stands for one that is taken. */
	if (port == 1) {
		errno = EADDRINUSE;
		return -1;
	}
	*fd4 = fuzz_null_fd();
	*fd6 = fuzz_null_fd();
	*bound = port != 0 ? port : fuzz_next_port++;
	return 0;
}

int
sock_set_fwmark(int fd, uint32_t mark)
{
	if (fcntl(fd, F_GETFD) == -1)
		abort();
	if (mark == 0xdead) {
		errno = EPERM;
		return -1;
	}
	return 0;
}

int
tun_get_mtu(const char *ifname)
{
	return 1420;
}

/* Reached only from main() and a configuration file: never here. */
int tun_open_flags(char ifname[IFNAMSIZ], int flags, int *offl) { abort(); }
int nl_link_index(const char *ifname) { abort(); }
int nl_addr_add(int ifindex, const struct wg_prefix *p) { abort(); }
int nl_addr_del(int ifindex, const struct wg_prefix *p) { abort(); }
int nl_route_add(int ifindex, const struct wg_prefix *p) { abort(); }
int nl_route_del(int ifindex, const struct wg_prefix *p) { abort(); }
int nl_link_set_mtu(int ifindex, int mtu) { abort(); }
int nl_link_set_up(int ifindex) { abort(); }
__dead void handshake_main(const struct proc_opts *o) { abort(); }
__dead void forwarder_main(const struct proc_opts *o) { abort(); }
const char *forward_backend_name(int b) { abort(); }
const char *forward_offloads_name(int o) { abort(); }
int forward_parse_backend(const char *s) { abort(); }
int forward_parse_offloads(const char *s) { abort(); }

/* The harness's view of the parent. */

static struct fuzz_proc	fuzz_parent;
static const enum proc_id fuzz_ids[] = {
	PROC_KEYD, PROC_HANDSHAKE, PROC_FORWARDER,
};

static void
fuzz_dispatch(int chan)
{
	struct child	*c = &children[fuzz_ids[chan]];

	chan_read(&c->chan);
}

static int
fuzz_ended(void)
{
	return wgd.shutting_down;
}

static void
fuzz_setup(struct fuzz_in *in)
{
	int	i;

	wgd.shutting_down = 0;
	wgd.exit_code = 0;
	wgd.reloading = 0;
	wgd.reload_from_ctl = 0;
	wgd.config_path = NULL;
	wgd.udp4 = wgd.udp6 = -1;
	wgd.port = 51820;
	wgd.fwmark = 0;
	wgd.mtu = 1420;
	wgconf_init(&wgd.conf);
	for (i = 0; i < 3; i++) {
		struct child	*c = &children[fuzz_ids[i]];

		c->pid = 0;
		c->ready = 0;
		/* Read again what a shutdown stopped reading. */
		c->chan.stopped = 0;
		chan_update(&c->chan);
	}
}

/*
 * The channels stay from one input to the next (fewer system calls);
 * what a fatal left in them goes.
 */
static void
fuzz_teardown(int fatal)
{
	int	i;

	for (i = 0; i < 3; i++) {
		struct child	*c = &children[fuzz_ids[i]];

		chan_stop(&c->chan);
		fuzz_chan_reset(&fuzz_parent.chan[i], &c->chan.ibuf, fatal);
	}
	if (wgd.udp4 != -1)
		close(wgd.udp4);
	if (wgd.udp6 != -1)
		close(wgd.udp6);
	wgd.udp4 = wgd.udp6 = -1;
	wgconf_free(&wgd.conf);
	/* Whatever parent_shutdown scheduled (event_loopexit) runs out. */
	event_loop(EVLOOP_NONBLOCK);
}

/*
 * Regressions, checked each time the target starts (issue 13): the
 * forwarder's TUN_GONE with a payload is refused (fatal), and the empty
 * one ends the daemon with a non-zero status, so that a service manager
 * restarts a tunnel a lying forwarder stopped. Before the fix both were
 * taken, and the daemon exited 0.
 */
static void
fuzz_regressions(void)
{
	static const uint8_t	 bad[] = { 2, IMSG_FWD_TUN_GONE, 0, 1, 0 };
	static const uint8_t	 good[] = { 2, IMSG_FWD_TUN_GONE, 0, 0 };
	struct fuzz_in		 in = { bad, sizeof(bad) };
	int			 fatal, ended, code;

	fuzz_setup(&in);
	fatal = fuzz_proc_run(&fuzz_parent, &in);
	fuzz_teardown(fatal);
	if (!fatal) {
		fprintf(stderr, "fuzz_imsg_parent: IMSG_FWD_TUN_GONE with a "
		    "payload was accepted\n");
		abort();
	}
	in = (struct fuzz_in){ good, sizeof(good) };
	fuzz_setup(&in);
	fatal = fuzz_proc_run(&fuzz_parent, &in);
	ended = wgd.shutting_down;
	code = wgd.exit_code;
	fuzz_teardown(fatal);
	if (fatal || !ended || code == 0) {
		fprintf(stderr, "fuzz_imsg_parent: IMSG_FWD_TUN_GONE: fatal "
		    "%d, shutdown %d, exit status %d (want 0, 1, non-zero)\n",
		    fatal, ended, code);
		abort();
	}
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	int	i;

	fuzz_init();
	/* parent_sd_notify must not reach a service manager. */
	unsetenv("NOTIFY_SOCKET");
	event_init();
	strlcpy(wgd.ifname, "wgfuzz0", sizeof(wgd.ifname));
	fuzz_parent.nchan = 3;
	fuzz_parent.dispatch = fuzz_dispatch;
	fuzz_parent.ended = fuzz_ended;
	fuzz_parent.setup = fuzz_setup;
	fuzz_parent.teardown = fuzz_teardown;
	for (i = 0; i < 3; i++) {
		fuzz_chan_open(&fuzz_parent.chan[i]);
		parent_chan_open(fuzz_ids[i], fuzz_parent.chan[i].proc_fd);
	}
	fuzz_regressions();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_proc_input(&fuzz_parent, data, size);
}
