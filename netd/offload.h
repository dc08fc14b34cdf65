/*
 * offload.h: packet offload helpers for the forwarder. Pure functions:
 * no allocation, no I/O, no globals.
 *
 *  - virtio_net_hdr parsing and writing (TUN with IFF_VNET_HDR),
 *  - Internet checksums (64-bit accumulator, pseudo-headers),
 *  - segmentation of TCP/UDP super-packets read from TUN (TSO/USO) into
 *    MTU-sized packets with correct headers and checksums,
 *  - coalescing (GRO) of received TCP/UDP packets into super-packets
 *    written to TUN with a virtio_net_hdr, payloads gathered by iovec,
 *  - grouping equal-size datagrams for one UDP_SEGMENT send.
 *
 * All 16-bit checksum values taken or returned here are in network byte
 * order as they lie in a packet: store them with memcpy.
 */
#ifndef WGCARD_OFFLOAD_H
#define WGCARD_OFFLOAD_H

#include <sys/uio.h>

#include <stddef.h>
#include <stdint.h>

/* struct virtio_net_hdr (include/uapi/linux/virtio_net.h), little-endian. */
#define OFFLOAD_VNET_HDR_LEN		10
#define OFFLOAD_VNET_F_NEEDS_CSUM	0x01
#define OFFLOAD_VNET_F_DATA_VALID	0x02
#define OFFLOAD_GSO_NONE		0
#define OFFLOAD_GSO_TCPV4		1
#define OFFLOAD_GSO_UDP			3	/* UFO: refused */
#define OFFLOAD_GSO_TCPV6		4
#define OFFLOAD_GSO_UDP_L4		5
#define OFFLOAD_GSO_ECN			0x80	/* refused */

/* The largest packet (IP header included) a TUN read or write carries. */
#define OFFLOAD_MAX_PKT			65535

struct offload_vnet {
	uint8_t		flags;
	uint8_t		gso_type;
	uint16_t	hdr_len;
	uint16_t	gso_size;
	uint16_t	csum_start;
	uint16_t	csum_offset;
};

/*
 * Parses and checks the virtio_net_hdr at buf: known flags only, a gso
 * type we handle (NONE, TCPV4, TCPV6, UDP_L4; never ECN or UFO), and for
 * GSO a non-zero gso_size and NEEDS_CSUM. Returns 0, or -1 if refused.
 */
int	offload_vnet_parse(const uint8_t *buf, size_t len,
	    struct offload_vnet *out);
/* Writes vh as the 10 bytes of a virtio_net_hdr. */
void	offload_vnet_write(const struct offload_vnet *vh,
	    uint8_t out[static OFFLOAD_VNET_HDR_LEN]);

/*
 * Checksums. offload_csum_add returns the unfolded ones-complement sum
 * of buf added to sum; pieces summed separately may be added together
 * when each starts at an even offset of the checksummed data.
 * offload_csum_fold folds a sum to 16 bits (not complemented);
 * offload_csum returns the complemented checksum of buf (with initial
 * sum), as stored in an IP, TCP or UDP header. offload_csum_copy copies
 * len bytes from src to dst and returns the sum like offload_csum_add.
 * The pseudo-header sums take the upper-layer length in host order.
 */
uint64_t offload_csum_add(uint64_t sum, const void *buf, size_t len);
uint64_t offload_csum_copy(uint64_t sum, void *dst, const void *src,
	    size_t len);
uint16_t offload_csum_fold(uint64_t sum);
uint16_t offload_csum(const void *buf, size_t len, uint64_t initial);
uint64_t offload_pseudo4(const uint8_t src[static 4],
	    const uint8_t dst[static 4], uint8_t proto, uint32_t len);
uint64_t offload_pseudo6(const uint8_t src[static 16],
	    const uint8_t dst[static 16], uint8_t proto, uint32_t len);

/*
 * Completes in place the partial checksum of a packet read with
 * NEEDS_CSUM and no GSO (the kernel's skb_checksum_help): the field at
 * csum_start + csum_offset holds the pseudo-header sum. Does nothing
 * without NEEDS_CSUM. Returns 0, or -1 if the offsets do not fit.
 */
int	offload_csum_complete(const struct offload_vnet *vh, uint8_t *pkt,
	    size_t len);

/*
 * Segmentation of one packet read from TUN (pkt: after the
 * virtio_net_hdr vh).
 *
 * offload_segment_count returns the number of packets pkt yields (1
 * without GSO), or -1 if the packet is refused: GSO type and IP version
 * disagree, IPv4 options beyond the header length or IPv6 extension
 * headers, csum_start not the IP header length, csum_offset not that of
 * TCP (16) or UDP (6), a TCP data offset outside 20..60, IP length
 * fields that disagree with len, no payload.
 *
 * offload_segment_at writes packet idx (0 <= idx < count) to out (room
 * for cap bytes) and returns its length, or -1 (refused, or cap too
 * small). Each segment is a complete IP packet: IPv4 id + idx, total or
 * payload length, IPv4 header checksum, TCP seq + idx * gso_size,
 * FIN/PSH only on the last and CWR only on the first segment, UDP
 * length, and a full TCP/UDP checksum. Without GSO the packet is copied
 * and its partial checksum (NEEDS_CSUM) completed.
 */
int	offload_segment_count(const struct offload_vnet *vh,
	    const uint8_t *pkt, size_t len);
int	offload_segment_at(const struct offload_vnet *vh, const uint8_t *pkt,
	    size_t len, size_t idx, uint8_t *out, size_t cap);

/*
 * Coalescing (GRO) of the packets of one receive batch, for a TUN with
 * IFF_VNET_HDR and TUN_F_TSO4|TUN_F_TSO6 (and TUN_F_USO4|TUN_F_USO6 for
 * OFFLOAD_GRO_UDP).
 *
 * offload_gro_add takes every decrypted packet of the batch, in order;
 * the table keeps a reference to pkt, which must stay valid and
 * unchanged until offload_gro_flush. It returns OFFLOAD_GRO_MERGED (the
 * packet was appended to a pending super-packet), OFFLOAD_GRO_HELD (it
 * starts a new output packet), or OFFLOAD_GRO_FULL (the table is full:
 * flush, then add it again), or OFFLOAD_GRO_BAD (empty or longer than
 * OFFLOAD_MAX_PKT: not taken). A packet that cannot be coalesced is
 * held and written unchanged.
 *
 * offload_gro_flush calls cb once per output packet, in order of first
 * appearance, with an iovec array to write to TUN with writev: iov[0]
 * starts with the virtio_net_hdr (and for a super-packet holds its
 * rewritten IP and TCP/UDP headers), the rest are the packets' bytes,
 * never copied; iov is valid only during the call. total is the sum
 * of the lengths. A super-packet has
 * NEEDS_CSUM with the pseudo-header sum in its checksum field, gso_type
 * TCPV4/TCPV6/UDP_L4 and gso_size the first segment's payload length.
 * Other packets get an all-zero virtio_net_hdr (the kernel checks
 * their checksums).
 *
 * The TCP and UDP checksums of the packets merged are not verified: the
 * table is for packets the AEAD has authenticated, whose bytes are
 * exactly those their sender wrote, checksum included, so a check here
 * would only repeat the sender's own arithmetic. The kernel's WireGuard
 * reasons the same way and marks every decrypted packet
 * CHECKSUM_UNNECESSARY; a super-packet's CHECKSUM_PARTIAL is what a TUN
 * write can say to the same effect (it ignores DATA_VALID). The table is empty afterwards, whatever
 * cb returns; flush returns the number of cb calls that returned
 * non-zero.
 *
 * Coalescing follows wireguard-go's and the kernel's GRO rules: same
 * flow (addresses, ports, and TCP ack), IPv4 without options or
 * fragments, equal TOS/traffic class, TTL/hop limit, DF and TCP options,
 * IPv4 id incrementing (or fixed with DF), contiguous sequence numbers,
 * only ACK (PSH allowed on the last segment), every segment but the last
 * exactly gso_size, at most OFFLOAD_GRO_MAX_SEGS segments and
 * OFFLOAD_MAX_PKT bytes.
 */
#define OFFLOAD_GRO_MAX_PKTS		128	/* held packets per flush */
#define OFFLOAD_GRO_MAX_SEGS		64	/* segments per super-packet */
#define OFFLOAD_GRO_HDR_MAX		(OFFLOAD_VNET_HDR_LEN + 40 + 60)

#define OFFLOAD_GRO_UDP			0x01	/* coalesce UDP too (USO) */

#define OFFLOAD_GRO_MERGED		1
#define OFFLOAD_GRO_HELD		0
#define OFFLOAD_GRO_FULL		(-1)
#define OFFLOAD_GRO_BAD			(-2)

struct offload_gro_seg {
	const uint8_t	*data;	/* payload (or the whole unmerged packet) */
	uint16_t	 len;
	int16_t		 next;	/* next segment of the same item, or -1 */
};

struct offload_gro_item {
	uint32_t	 hash;		/* flow hash; 0: not coalescable */
	uint32_t	 seq;		/* TCP seq of the first segment */
	uint32_t	 next_seq;	/* seq expected next */
	uint32_t	 ack;
	uint16_t	 ipid;		/* IPv4 id of the first segment */
	uint16_t	 gso_size;
	uint16_t	 nsegs;
	uint16_t	 total;		/* whole super-packet length */
	uint8_t		 proto;		/* IPPROTO_TCP, IPPROTO_UDP, 0 */
	uint8_t		 family;	/* 4, 6 */
	uint8_t		 iphlen, l4hlen;
	uint8_t		 closed;	/* PSH seen or short last segment */
	uint8_t		 psh;		/* the last segment has PSH */
	uint8_t		 idfixed;	/* IPv4 DF packets with a fixed id */
	uint32_t	 l4word;	/* TCP doff/flags/window, PSH masked */
	int16_t		 head, tail;	/* segments */
	const uint8_t	*pkt;		/* the first packet */
};

struct offload_gro {
	int			 flags;
	int			 nitems;
	int			 nsegs;
	struct offload_gro_item	 items[OFFLOAD_GRO_MAX_PKTS];
	struct offload_gro_seg	 segs[OFFLOAD_GRO_MAX_PKTS];
	uint8_t			 hdr[OFFLOAD_GRO_HDR_MAX];
	struct iovec		 iov[OFFLOAD_GRO_MAX_SEGS + 1];
};

void	offload_gro_init(struct offload_gro *gro, int flags);
int	offload_gro_add(struct offload_gro *gro, const uint8_t *pkt,
	    size_t len);
int	offload_gro_flush(struct offload_gro *gro,
	    int (*cb)(void *arg, const struct iovec *iov, int iovcnt,
	    size_t total), void *arg);

/*
 * UDP_SEGMENT: the number of leading datagrams of lens[0..n-1] (n >= 1)
 * that one sendmsg with gso_size lens[0] can carry: all equal to lens[0]
 * but the last, which may be shorter, at most max_segs of them and
 * max_bytes in all. Returns 0 only when n is 0; 1 means a plain send.
 */
size_t	offload_gso_run(const size_t *lens, size_t n, size_t max_segs,
	    size_t max_bytes);

#endif /* WGCARD_OFFLOAD_H */
