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
#include <errno.h>
#include <stddef.h>

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
	SCMP_SYS(rt_sigreturn), SCMP_SYS(rt_sigprocmask),
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

static void
sandbox_install(const char *name, const int *extra, size_t nextra)
{
#ifdef WGCARD_NO_SECCOMP
	log_debug("seccomp disabled in this build (%s)", name);
	(void)extra;
	(void)nextra;
#else
	scmp_filter_ctx	ctx;
	size_t		i;
	int		r;

	if ((ctx = seccomp_init(SCMP_ACT_KILL_PROCESS)) == NULL)
		fatalx("%s: seccomp_init failed", name);
	for (i = 0; i < sizeof(sandbox_base) / sizeof(sandbox_base[0]); i++)
		if ((r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW,
		    sandbox_base[i], 0)) != 0)
			fatalx("%s: seccomp_rule_add: %d", name, r);
	for (i = 0; i < sizeof(sandbox_eperm) / sizeof(sandbox_eperm[0]); i++)
		if ((r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM),
		    sandbox_eperm[i], 0)) != 0)
			fatalx("%s: seccomp_rule_add: %d", name, r);
	for (i = 0; i < nextra; i++)
		if ((r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW,
		    extra[i], 0)) != 0)
			fatalx("%s: seccomp_rule_add: %d", name, r);
	if ((r = seccomp_load(ctx)) != 0)
		fatalx("%s: seccomp_load: %d", name, r);
	seccomp_release(ctx);
	log_debug("seccomp filter installed");
#endif
}

/* The key broker: nothing beyond the base set. */
void
sandbox_keyd(void)
{
	sandbox_install("keyd", NULL, 0);
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
 * was passed, in batches.
 */
void
sandbox_forwarder(void)
{
	static const int extra[] = {
		SCMP_SYS(recvmmsg), SCMP_SYS(sendmmsg),
		SCMP_SYS(getsockopt),
	};

	sandbox_install("forwarder", extra, sizeof(extra) / sizeof(extra[0]));
}
