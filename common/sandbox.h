/*
 * sandbox.h: the seccomp filters of wgcard's children. Each installs a
 * default-deny filter (the process is killed on any other system call)
 * after privileges are dropped and the event loop is set up.
 */
#ifndef WGCARD_SANDBOX_H
#define WGCARD_SANDBOX_H

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
