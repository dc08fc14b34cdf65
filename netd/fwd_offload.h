/*
 * fwd_offload.h: the forwarder's side of the offloads (TUN with a
 * virtio-net header, UDP GSO and GRO): segmenting what TUN hands over in
 * one piece, coalescing what goes to TUN.
 */
#ifndef WGCARD_FWD_OFFLOAD_H
#define WGCARD_FWD_OFFLOAD_H

#include <stdint.h>

#include "fwd_pool.h"

struct fwd_gro;

/*
 * uso: TUN takes UDP super-packets (coalesce UDP too). emit writes to
 * TUN len bytes at b->base + off (virtio-net header first), the
 * caller's ref of b going with them: the backend's tun_write.
 */
struct fwd_gro	*fwd_offload_init(int uso, void (*emit)(struct fwd_buf *b,
		    uint32_t off, uint32_t len));
/*
 * One read from TUN (virtio-net header first) in b: calls out once per
 * IP packet (segmenting a GSO packet), each call with a ref of the
 * buffer the packet is in. b's ref is consumed.
 */
void		 fwd_offload_tun_in(struct fwd_buf *b,
		    void (*out)(struct fwd_buf *, uint32_t, uint32_t));
/* One decrypted IP packet for TUN (at b->base + off, with headroom). */
void		 fwd_offload_tun_out(struct fwd_gro *, struct fwd_buf *b,
		    uint32_t off, uint32_t len);
/* End of batch: writes what was held back for coalescing. */
void		 fwd_offload_flush(struct fwd_gro *);
/* Packets refused here (a header or size it cannot take). */
uint64_t	 fwd_offload_drops(void);
/* Packets dropped here for want of a pool buffer (load, not input). */
uint64_t	 fwd_offload_nobuf(void);
/* UDP_GRO on a socket, when the kernel has it. */
void		 fwd_offload_sock_gro(int fd);

#endif /* WGCARD_FWD_OFFLOAD_H */
