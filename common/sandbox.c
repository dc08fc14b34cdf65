/*
 * sandbox.c: seccomp filters (libseccomp) of wgcard's children.
 *
 * Every filter is default deny: an unlisted system call kills the whole
 * process (SCMP_ACT_KILL_PROCESS), which the parent sees as a dead child
 * and answers by shutting the daemon down (fail closed). A few calls that
 * libc may try on its own and that are harmless to refuse (socket and
 * connect from syslog(3)'s reconnect, open from locale or time zone code)
 * fail with EPERM instead of killing.
 *
 * Builds with sanitizers (-DWGCARD_NO_SECCOMP) skip the filters: the
 * sanitizer runtimes make calls no production build makes.
 */
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <termios.h>

#include <netinet/in.h>
#include <netinet/udp.h>

#include <sys/prctl.h>
#include <sys/syscall.h>

#include <errno.h>
#include <sched.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <seccomp.h>

#include "log.h"
#include "sandbox.h"

/*
 * What every child needs: I/O on the descriptors it already holds
 * (socketpairs to its siblings, and whatever they passed it), its event
 * loop, time, randomness, memory, signals delivered by the kernel, and
 * exit.
 */
static const int sandbox_base[] = {
	SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(readv), SCMP_SYS(writev),
	SCMP_SYS(close), SCMP_SYS(recvmsg), SCMP_SYS(sendmsg),
	SCMP_SYS(recvfrom), SCMP_SYS(sendto),
	SCMP_SYS(epoll_wait), SCMP_SYS(epoll_pwait), SCMP_SYS(epoll_ctl),
	SCMP_SYS(poll), SCMP_SYS(ppoll), SCMP_SYS(select),
	SCMP_SYS(pselect6),
	SCMP_SYS(clock_gettime), SCMP_SYS(gettimeofday),
	SCMP_SYS(clock_nanosleep), SCMP_SYS(nanosleep),
	SCMP_SYS(getrandom),
	SCMP_SYS(brk), SCMP_SYS(mmap), SCMP_SYS(munmap), SCMP_SYS(mremap),
	SCMP_SYS(madvise), SCMP_SYS(mprotect), SCMP_SYS(mlock),
	SCMP_SYS(munlock),
	SCMP_SYS(futex), SCMP_SYS(sched_yield),
	SCMP_SYS(rt_sigreturn), SCMP_SYS(restart_syscall), SCMP_SYS(rt_sigprocmask),
	SCMP_SYS(rt_sigaction),
	SCMP_SYS(getpid), SCMP_SYS(gettid), SCMP_SYS(fcntl),
	SCMP_SYS(fstat), SCMP_SYS(newfstatat), SCMP_SYS(lseek),
	SCMP_SYS(exit), SCMP_SYS(exit_group),
	SCMP_SYS(tgkill),	/* abort(3) on a failed assertion */
};

/* Refused politely: libc may try these by itself (see above). */
static const int sandbox_eperm[] = {
	SCMP_SYS(socket), SCMP_SYS(connect), SCMP_SYS(open),
	SCMP_SYS(openat),
};

/*
 * Set by the card filter of keyd: socket and connect are decided by its
 * rules (AF_UNIX allowed) instead of the polite EPERM of sandbox_eperm.
 */
static int	sandbox_own_sockets;

/*
 * Base set, polite refusals, extra calls, then rules(ctx) for calls with
 * argument conditions (may be NULL). tsync: the filter covers every
 * thread of the process (SECCOMP_FILTER_FLAG_TSYNC), not only the
 * calling one and those it creates later.
 */
static void
sandbox_install_ext(const char *name, const int *extra, size_t nextra,
    int (*rules)(scmp_filter_ctx), int tsync)
{
#ifdef WGCARD_NO_SECCOMP
	log_debug("seccomp disabled in this build (%s)", name);
	(void)sandbox_base;
	(void)sandbox_eperm;
	(void)extra;
	(void)nextra;
	(void)rules;
	(void)tsync;
#else
	scmp_filter_ctx	ctx;
	size_t		i;
	int		r;

	if ((ctx = seccomp_init(SCMP_ACT_KILL_PROCESS)) == NULL)
		fatalx("%s: seccomp_init failed", name);
	if (tsync && (r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC,
	    1)) != 0)
		fatalx("%s: seccomp_attr_set TSYNC: %d", name, r);
	for (i = 0; i < sizeof(sandbox_base) / sizeof(sandbox_base[0]); i++)
		if ((r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW,
		    sandbox_base[i], 0)) != 0)
			fatalx("%s: seccomp_rule_add: %d", name, r);
	for (i = 0; i < sizeof(sandbox_eperm) / sizeof(sandbox_eperm[0]);
	    i++) {
		if (sandbox_own_sockets &&
		    (sandbox_eperm[i] == SCMP_SYS(socket) ||
		    sandbox_eperm[i] == SCMP_SYS(connect)))
			continue;
		if ((r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM),
		    sandbox_eperm[i], 0)) != 0)
			fatalx("%s: seccomp_rule_add: %d", name, r);
	}
	for (i = 0; i < nextra; i++)
		if ((r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW,
		    extra[i], 0)) != 0)
			fatalx("%s: seccomp_rule_add: %d", name, r);
	if (rules != NULL && (r = rules(ctx)) != 0)
		fatalx("%s: seccomp_rule_add: %d", name, r);
	if ((r = seccomp_load(ctx)) != 0)
		fatalx("%s: seccomp_load: %d", name, r);
	seccomp_release(ctx);
	log_debug("seccomp filter installed");
#endif
}

static void
sandbox_install(const char *name, const int *extra, size_t nextra)
{
	sandbox_install_ext(name, extra, nextra, NULL, 0);
}

/*
 * Landlock, below seccomp and beside the chroot. The chroot leaves two
 * ways out that seccomp cannot see into: the abstract socket namespace
 * (connect(2) to "\0name" ignores the root directory, and the card
 * broker must be allowed connect(2) to reach pcscd again after a pcscd
 * restart; seccomp cannot read the address it is given) and signals to
 * other processes of the same user. Landlock closes both (ABI 6, Linux
 * 6.12: scoped abstract UNIX sockets and signals), and every file system
 * access (ABI 1-5: open for read, write, exec, directory listing, making
 * and removing anything, truncate, device ioctl) and TCP bind/connect
 * (ABI 4). Connecting to a socket by its path is not a Landlock access
 * right in these ABIs, so pcscd's socket inside the chroot stays
 * reachable. The kernel's headers on Debian 12 know ABI 1 only: the
 * newer parts of the structure and the constants are spelled out here.
 */
struct sandbox_ll_attr {
	uint64_t	fs;
	uint64_t	net;
	uint64_t	scoped;
};
#define SANDBOX_LL_VERSION	(1U << 0)
#define SANDBOX_LL_FS_ABI1	((1ULL << 13) - 1)	/* execute..make_sym */
#define SANDBOX_LL_FS_REFER	(1ULL << 13)		/* ABI 2 */
#define SANDBOX_LL_FS_TRUNCATE	(1ULL << 14)		/* ABI 3 */
#define SANDBOX_LL_FS_IOCTL_DEV	(1ULL << 15)		/* ABI 5 */
#define SANDBOX_LL_NET_TCP	((1ULL << 0) | (1ULL << 1))	/* ABI 4 */
#define SANDBOX_LL_SCOPE_ALL	((1ULL << 0) | (1ULL << 1))	/* ABI 6 */

#ifndef SYS_landlock_create_ruleset
#define SYS_landlock_create_ruleset	444
#define SYS_landlock_restrict_self	446
#endif

int
sandbox_landlock(const char *name)
{
#ifdef WGCARD_NO_SECCOMP
	/* Sanitizer runtimes read /proc at exit: no file system rules. */
	log_debug("landlock disabled in this build (%s)", name);
	return 0;
#else
	struct sandbox_ll_attr	attr;
	size_t			size;
	long			abi;
	int			fd;

	abi = syscall(SYS_landlock_create_ruleset, NULL, 0,
	    SANDBOX_LL_VERSION);
	if (abi < 1) {
		log_info("Landlock not available (%s): chroot and seccomp "
		    "only, abstract sockets not closed",
		    strerror(errno));
		return 0;
	}
	memset(&attr, 0, sizeof(attr));
	attr.fs = SANDBOX_LL_FS_ABI1;
	if (abi >= 2)
		attr.fs |= SANDBOX_LL_FS_REFER;
	if (abi >= 3)
		attr.fs |= SANDBOX_LL_FS_TRUNCATE;
	if (abi >= 5)
		attr.fs |= SANDBOX_LL_FS_IOCTL_DEV;
	size = sizeof(attr.fs);
	if (abi >= 4) {
		attr.net = SANDBOX_LL_NET_TCP;
		size = offsetof(struct sandbox_ll_attr, scoped);
	}
	if (abi >= 6) {
		attr.scoped = SANDBOX_LL_SCOPE_ALL;
		size = sizeof(attr);
	}
	if ((fd = syscall(SYS_landlock_create_ruleset, &attr, size, 0)) == -1)
		fatal("%s: landlock_create_ruleset", name);
	/* No rules: nothing of the file system, no TCP, nothing scoped. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		fatal("%s: PR_SET_NO_NEW_PRIVS", name);
	if (syscall(SYS_landlock_restrict_self, fd, 0) == -1)
		fatal("%s: landlock_restrict_self", name);
	close(fd);
	if (abi < 6)
		log_info("Landlock ABI %ld: file system and TCP closed; "
		    "abstract sockets and signals need ABI 6 (Linux 6.12)",
		    abi);
	else
		log_info("Landlock ABI %ld: file system, TCP, abstract "
		    "sockets and signals closed", abi);
	return (int)abi;
#endif
}

/* The key broker: nothing beyond the base set. */
void
sandbox_keyd(void)
{
	sandbox_landlock("keyd");
	sandbox_install("keyd", NULL, 0);
}

#ifndef WGCARD_NO_SECCOMP
static int
sandbox_keyd_card_rules(scmp_filter_ctx ctx)
{
	int	r;

	/* pcsclite: AF_UNIX sockets to pcscd only; others get EPERM. */
	if ((r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
	    SCMP_A0(SCMP_CMP_EQ, AF_UNIX))) != 0 ||
	    (r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(socket),
	    1, SCMP_A0(SCMP_CMP_NE, AF_UNIX))) != 0 ||
	    (r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(connect),
	    0)) != 0)
		return r;
	/*
	 * pcsclite's logging asks isatty(2) (TCGETS) before it writes an
	 * error to stderr: "not a tty". No other ioctl.
	 */
	if ((r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOTTY),
	    SCMP_SYS(ioctl), 1, SCMP_A1(SCMP_CMP_EQ, TCGETS))) != 0)
		return r;
	/*
	 * Threads only: clone with CLONE_THREAD (no new processes); clone3
	 * takes its flags in memory seccomp cannot read, so it fails with
	 * ENOSYS and glibc falls back to clone.
	 */
	if ((r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
	    SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD))) != 0 ||
	    (r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS),
	    SCMP_SYS(clone3), 0)) != 0)
		return r;
	return 0;
}
#else
#define sandbox_keyd_card_rules	NULL
#endif

/*
 * The key broker with the openpgp backend also runs one worker thread,
 * started after this filter (so the filter is inherited: clone with
 * CLONE_THREAD, its robust futex list and rseq area), and pcsclite in
 * it: an AF_UNIX stream socket to pcscd (socket, connect, fcntl, poll,
 * sendto/read), made again after a pcscd restart. The set was taken
 * from strace -f of a working run (card found, PIN verified, DH).
 */
void
sandbox_keyd_card(void)
{
	static const int extra[] = {
		SCMP_SYS(set_robust_list), SCMP_SYS(rseq),
	};

	sandbox_landlock("keyd");
	sandbox_own_sockets = 1;
	sandbox_install_ext("keyd", extra, sizeof(extra) / sizeof(extra[0]),
	    sandbox_keyd_card_rules, 0);
}

/*
 * The handshake process also accepts UAPI clients on the listening
 * socket the parent opened and passed it, and shuts their sockets down.
 */
void
sandbox_handshake(void)
{
	static const int extra[] = {
		SCMP_SYS(accept), SCMP_SYS(accept4), SCMP_SYS(shutdown),
		SCMP_SYS(getsockopt),
	};

	sandbox_install("handshake", extra, sizeof(extra) / sizeof(extra[0]));
}

/*
 * The forwarder moves packets between the TUN fd and the UDP sockets it
 * was passed: recvmmsg/sendmmsg (classic backend), or io_uring_enter
 * alone (io_uring backend: the ring was created, restricted to its
 * opcodes and enabled before this filter, so io_uring_setup and
 * io_uring_register stay forbidden). getsockopt for libc; setsockopt
 * only as setsockopt(fd, SOL_UDP, UDP_GRO, ...), to ask for coalesced
 * receives on sockets the parent sends later. Its crypto workers wait
 * in futex(2), which the base set has.
 */
#ifndef WGCARD_NO_SECCOMP
static int
sandbox_forwarder_rules(scmp_filter_ctx ctx)
{
	return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(setsockopt), 2,
	    SCMP_A1(SCMP_CMP_EQ, SOL_UDP), SCMP_A2(SCMP_CMP_EQ, UDP_GRO));
}
#else
#define sandbox_forwarder_rules	NULL
#endif

void
sandbox_forwarder(int flags)
{
	static const int classic[] = {
		SCMP_SYS(recvmmsg), SCMP_SYS(sendmmsg),
		SCMP_SYS(getsockopt),
	};
	static const int uring[] = {
		SCMP_SYS(getsockopt), SCMP_SYS(io_uring_enter),
	};

	if (flags & SANDBOX_FWD_URING)
		sandbox_install_ext("forwarder", uring,
		    sizeof(uring) / sizeof(uring[0]), sandbox_forwarder_rules,
		    1);
	else
		sandbox_install_ext("forwarder", classic,
		    sizeof(classic) / sizeof(classic[0]),
		    sandbox_forwarder_rules, 1);
}
