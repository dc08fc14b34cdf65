/*
 * sandbox.h: the seccomp filters of wgcard's children. Each installs a
 * default-deny filter (the process is killed on any other system call)
 * after privileges are dropped and the event loop is set up.
 */
#ifndef WGCARD_SANDBOX_H
#define WGCARD_SANDBOX_H

void	sandbox_keyd(void);
void	sandbox_handshake(void);
void	sandbox_forwarder(void);

#endif /* WGCARD_SANDBOX_H */
