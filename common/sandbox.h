/*
 * sandbox.h: the seccomp filters of wgcard's children. Each installs a
 * default-deny filter (the process is killed on any other system call)
 * after privileges are dropped and the event loop is set up.
 */
#ifndef WGCARD_SANDBOX_H
#define WGCARD_SANDBOX_H

/*
 * Landlock for the calling process (and the threads it starts later): no
 * file system access, no TCP, and (ABI 6, Linux 6.12) no abstract UNIX
 * socket or signal outside the process. Returns the ABI applied, 0 when
 * the kernel has no Landlock (logged; chroot and seccomp remain). The
 * broker's filters call it first.
 */
int	sandbox_landlock(const char *name);
void	sandbox_keyd(void);
void	sandbox_keyd_card(void);	/* keyd with the openpgp backend */
void	sandbox_handshake(void);
/*
 * The forwarder's filter covers every thread of the process
 * (SECCOMP_FILTER_FLAG_TSYNC): its crypto workers exist by then. With
 * SANDBOX_FWD_URING it allows io_uring_enter(2) (and nothing else of
 * io_uring: the ring is set up, restricted and enabled before).
 */
#define SANDBOX_FWD_URING	0x01
void	sandbox_forwarder(int flags);

#endif /* WGCARD_SANDBOX_H */
