/*
 * wgcardd.h: the entry points of the processes that live in the wgcardd
 * binary (parent in wgcardd.c, handshake.c, forward.c).
 */
#ifndef WGCARD_WGCARDD_H
#define WGCARD_WGCARDD_H

struct proc_opts {
	const char	*ifname;
	int		 debug;
	int		 verbose;
	int		 backend;	/* forwarder backend, FWD_BACKEND_* */
	int		 offloads;	/* FWD_OFFLOAD_* (TUN vnet header...) */
};

__attribute__((__noreturn__)) void	handshake_main(const struct proc_opts *);
__attribute__((__noreturn__)) void	forwarder_main(const struct proc_opts *);

#endif /* WGCARD_WGCARDD_H */
