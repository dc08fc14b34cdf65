/*
 * forward.h: the forwarder (fast path) between the TUN interface and the
 * UDP sockets.
 */
#ifndef WGCARD_FORWARD_H
#define WGCARD_FORWARD_H

#define FWD_BACKEND_AUTO	0
#define FWD_BACKEND_CLASSIC	1
#define FWD_BACKEND_URING	2

#endif /* WGCARD_FORWARD_H */
