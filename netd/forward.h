/*
 * forward.h: the forwarder (fast path) between the TUN interface and the
 * UDP sockets.
 */
#ifndef WGCARD_FORWARD_H
#define WGCARD_FORWARD_H

#define FWD_BACKEND_AUTO	0
#define FWD_BACKEND_CLASSIC	1
#define FWD_BACKEND_URING	2

/*
 * Offloads (-O): off, or on: the TUN device has IFF_VNET_HDR with TSO
 * (and USO where the kernel has it), UDP GSO sends and GRO receives.
 * The parent opens the TUN device and tells the forwarder what it got.
 */
#define FWD_OFFLOAD_OFF		0
#define FWD_OFFLOAD_ON		1	/* vnet header, TSO4/6 */
#define FWD_OFFLOAD_USO		2	/* and USO4/6 on TUN */

/* -B and -O arguments; -1 when unknown. */
int	forward_parse_backend(const char *);
int	forward_parse_offloads(const char *);
const char *forward_backend_name(int);
const char *forward_offloads_name(int);

#endif /* WGCARD_FORWARD_H */
