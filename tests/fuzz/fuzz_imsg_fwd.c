/*
 * fuzz_imsg_fwd.c: libFuzzer target for every message the forwarder
 * (netd/forward.c) receives: from the parent (TUN and UDP sockets, MTU,
 * log level) and from the handshake process (peers, endpoints, allowed
 * IPs, keypairs, expiry, keepalives, handshake messages to send, its
 * identity and load).
 *
 * The forwarder's file is compiled into this one (its state and
 * dispatch are static). The parent and the handshake process are the
 * harness at the far ends of two socketpairs (tests/fuzz/harness.h: a
 * sequence of messages). Its I/O backend is a fake below: descriptors
 * are held (and closed when replaced, as the backends do), every send
 * "succeeds" at once and nothing reaches a network; a TUN or UDP socket
 * is /dev/null. Crypto runs inline (no worker threads), on a pool of
 * FWD_POOL_MIN buffers; the rate limiters have 64 entries.
 *
 * A refused message is fatal for the forwarder, as in the daemon, and
 * ends the input; a memory or UB error, a descriptor left open after a
 * run without a fatal, a pool buffer not back after every peer went, or
 * a malformed message sent on is a crash.
 */
#include "harness.h"

#include "../../netd/forward.c"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);
int	LLVMFuzzerInitialize(int *, char ***);
static void	fuzz_setup(struct fuzz_in *);
static void	fuzz_teardown(int);

/* Reached only from forwarder_main(): never here. */
void sandbox_forwarder(int flags) { abort(); }

/* A backend that sends nothing anywhere. */

static int	fuzz_tun = -1, fuzz_udp[2] = { -1, -1 };

static void
fuzz_be_set_tun(int fd)
{
	if (fuzz_tun != -1)
		close(fuzz_tun);
	fuzz_tun = fd;
}

static void
fuzz_be_set_udp(int v6, int fd)
{
	if (v6 != 0 && v6 != 1)
		abort();
	if (fuzz_udp[v6] != -1)
		close(fuzz_udp[v6]);
	fuzz_udp[v6] = fd;
}

static void
fuzz_be_tx(struct fwd_tx *tx)
{
	fwd_tx_done(tx, 0);
}

static void
fuzz_be_tun_write(struct fwd_buf *b, uint32_t off, uint32_t len)
{
	if (off > FWD_BUF_SIZE || len > FWD_BUF_SIZE - off)
		abort();
	fwd_buf_put(b);
}

static void
fuzz_be_nothing(void)
{
}

static __dead void
fuzz_be_run(void)
{
	abort();
}

static const struct fwd_backend fuzz_backend = {
	.name = "fuzz",
	.set_tun = fuzz_be_set_tun,
	.set_udp = fuzz_be_set_udp,
	.tx = fuzz_be_tx,
	.tun_write = fuzz_be_tun_write,
	.flush = fuzz_be_nothing,
	.want_write = fuzz_be_nothing,
	.run = fuzz_be_run,
};

/* The real backends (io_uring, classic) are not linked: never chosen. */
const struct fwd_backend fwd_backend_uring = {
	.name = "uring", .run = fuzz_be_run,
};
const struct fwd_backend fwd_backend_classic = {
	.name = "classic", .run = fuzz_be_run,
};

/* The harness's view of the forwarder. */

static struct fuzz_proc	fuzz_fwd;

static void
fuzz_dispatch(int chan)
{
	fwd_chan_read(chan);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	int	i;

	fuzz_init();
	wg_crypto_init();
	fuzz_fwd.nchan = 2;
	fuzz_fwd.dispatch = fuzz_dispatch;
	fuzz_fwd.setup = fuzz_setup;
	fuzz_fwd.teardown = fuzz_teardown;
	for (i = 0; i < 2; i++)
		fuzz_chan_open(&fuzz_fwd.chan[i]);
	fwd_chan_init(fuzz_fwd.chan[0].proc_fd, fuzz_fwd.chan[1].proc_fd);
	fwd_conf.parent_fd = fuzz_fwd.chan[0].proc_fd;
	fwd_conf.hs_fd = fuzz_fwd.chan[1].proc_fd;
	fwd_alloc(FWD_POOL_MIN);
	/* Small tables (the daemon's hold 8192), emptied between inputs. */
	if (ratelimiter_init(&fwd.rl, 64) == -1 ||
	    ratelimiter_init(&fwd.rl_cookie, 64) == -1)
		abort();
	fwd.gso_seg_max = 65535;
	fwd.be = &fuzz_backend;
	fwd.gro = fwd_offload_init(0, fwd.be->tun_write);
	fwd_crypto_init(0);
	return 0;
}

/* As forwarder_main() starts, without offloads. */
static void
fuzz_setup(struct fuzz_in *in)
{
	if ((fwd.aips = aip_new()) == NULL)
		abort();
	fwd.have_tun = 0;
	fwd.mtu = 1420;
	fwd.hs_load = 0;
	fwd.has_identity = 0;
	fwd.last_under_load = fwd.rate_window = 0;
	fwd.rate_count = 0;
	memset(&fwd.st, 0, sizeof(fwd.st));
	memset(&fwd.st_sent, 0, sizeof(fwd.st_sent));
	fwd_conf.tun_gone = 0;
	log_setverbose(0);
	fwd_set_now();
}

/* Every peer goes, and with them every buffer must come back. */
static void
fuzz_teardown(int fatal)
{
	struct fwd_peer	*p;
	int		 i;

	fwd_batch_run();
	for (i = 0; i < FWD_PEER_BUCKETS; i++)
		while ((p = fwd.peers[i]) != NULL)
			fwd_peer_del(p->id);
	fwd_batch_run();
	fwd_tx_pending_flush();
	if (!fatal && fwd_buf_nfree() != fwd_pool_nbufs())
		abort();
	aip_free(fwd.aips);
	ratelimiter_gc(&fwd.rl, UINT64_MAX);
	ratelimiter_gc(&fwd.rl_cookie, UINT64_MAX);
	cookie_checker_wipe(&fwd.checker);
	fuzz_be_set_tun(-1);
	fuzz_be_set_udp(0, -1);
	fuzz_be_set_udp(1, -1);
	fuzz_chan_reset(&fuzz_fwd.chan[0], &fwd.parent.ibuf, fatal);
	fuzz_chan_reset(&fuzz_fwd.chan[1], &fwd.hs.ibuf, fatal);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_proc_input(&fuzz_fwd, data, size);
}
