/*
 * fuzz_imsg_hs.c: libFuzzer target for every message the handshake
 * process (netd/handshake.c) receives: from the parent (configuration,
 * UAPI and control sockets, privileged results, reload), from the key
 * broker (public key, DH results, load, status, PIN results) and from
 * the forwarder (handshake packets, timer events, freed indices, info).
 *
 * The process's file is compiled into this one (its state and dispatch
 * are static). The parent, the broker and the forwarder are the harness
 * at the far ends of three socketpairs (tests/fuzz/harness.h: a
 * sequence of messages). The local-socket server (netd/control.c, fuzzed
 * by fuzz_control) is a stub that holds the descriptors it is given (the
 * control and UAPI sockets: unbound sockets, never accepted from). DH answers come only from the input, so a configuration with
 * peers (CFG_CHUNK, CFG_END) and a KEY_PUBLIC make the requests whose
 * ids (1, 2, ...) the input's DH results answer.
 *
 * A refused message is fatal for the process, as in the daemon, and
 * ends the input; a memory or UB error, a descriptor left open after a
 * run without a fatal, or a malformed message sent on is a crash.
 */
#include "harness.h"

#include "../../netd/handshake.c"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);
int	LLVMFuzzerInitialize(int *, char ***);
static void	fuzz_setup(struct fuzz_in *);
static void	fuzz_teardown(int);

/* Reached only from handshake_main(): never here. */
void sandbox_handshake(void) { abort(); }

/* The server: the descriptors it owns, each once per process. */
static int	fuzz_ctl_fd = -1;
static int	fuzz_uapi_fd = -1;

void
control_init(int fd, const struct control_cmd *cmds, gid_t group)
{
	if (fuzz_ctl_fd != -1 || fd < 0)
		abort();	/* a second one would be lost, and leak */
	fuzz_ctl_fd = fd;
}

struct control_server *
control_listen(int fd, const struct control_proto *proto)
{
	if (fuzz_uapi_fd != -1 || fd < 0 || proto != &hs_uapi_proto)
		abort();
	fuzz_uapi_fd = fd;
	return NULL;
}

void
control_finish(uint32_t conn_id, int status, const char *text)
{
	if (conn_id == 0)
		abort();
}

uint32_t
control_conn_id(const struct control_conn *c)
{
	abort();	/* only from a control request: none here */
}

/* The harness's view of the process. */

static struct fuzz_proc		 fuzz_hs;
static struct chan *const	 fuzz_chans[] = { &hs.parent, &hs.keyd,
    &hs.fwd };

static void
fuzz_dispatch(int chan)
{
	if (chan_read(fuzz_chans[chan]) == 0)
		chan_update(fuzz_chans[chan]);
}

/* A socket, as the UAPI and control sockets are (epoll takes it). */
static int
fuzz_mkfd(uint32_t type)
{
	int	fd;

	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1)
		abort();
	return fd;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	int	i;

	fuzz_init();
	wg_crypto_init();
	event_init();
	log_set_audit_hook(hs_audit_hook);
	fuzz_hs.nchan = 3;
	fuzz_hs.dispatch = fuzz_dispatch;
	fuzz_hs.mkfd = fuzz_mkfd;
	fuzz_hs.setup = fuzz_setup;
	fuzz_hs.teardown = fuzz_teardown;
	for (i = 0; i < 3; i++)
		fuzz_chan_open(&fuzz_hs.chan[i]);
	hs_chans_init(fuzz_hs.chan[0].proc_fd, fuzz_hs.chan[1].proc_fd,
	    fuzz_hs.chan[2].proc_fd);
	return 0;
}

/* As handshake_main() starts, on a state with nothing in it. */
static void
fuzz_setup(struct fuzz_in *in)
{
	struct chan	chans[3];
	int		i;

	for (i = 0; i < 3; i++)
		chans[i] = *fuzz_chans[i];
	memset(&hs, 0, sizeof(hs));
	for (i = 0; i < 3; i++)
		*fuzz_chans[i] = chans[i];
	hs_state_init();
	log_setverbose(0);
}

/* Everything the process holds goes; the channels stay (fewer calls). */
static void
fuzz_teardown(int fatal)
{
	struct hs_peer		*p, *ptmp;
	struct hs_dh		*d, *dtmp;
	struct hs_wait		*w, *wtmp;
	struct hs_index		*e, *en;
	int			 i;

	TAILQ_FOREACH_SAFE(p, &hs.peers, entry, ptmp)
		hs_peer_remove(p);
	TAILQ_FOREACH_SAFE(d, &hs.dh, entry, dtmp)
		hs_dh_free(d);
	TAILQ_FOREACH_SAFE(w, &hs.waits, entry, wtmp)
		free(w);
	for (i = 0; i < HS_INDEX_BUCKETS; i++)
		for (e = hs.index[i]; e != NULL; e = en) {
			en = e->next;
			free(e);
		}
	aip_free(hs.aips);
	buf_free(&hs.cfg);
	evtimer_del(&hs.ev_timer);
	timerq_free(&hs.timers);
	if (fuzz_uapi_fd != -1)
		close(fuzz_uapi_fd);
	if (fuzz_ctl_fd != -1)
		close(fuzz_ctl_fd);
	fuzz_ctl_fd = fuzz_uapi_fd = -1;
	for (i = 0; i < 3; i++)
		fuzz_chan_reset(&fuzz_hs.chan[i], &fuzz_chans[i]->ibuf, fatal);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_proc_input(&fuzz_hs, data, size);
}
