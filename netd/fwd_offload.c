/*
 * fwd_offload.c: the forwarder's use of offload.c. With IFF_VNET_HDR on
 * the TUN device every read starts with a virtio-net header: a TCP (or,
 * with USO, UDP) super-packet of up to 64 KiB is cut here into
 * MTU-sized packets, laid out in pool buffers with room around each for
 * in-place encryption. Decrypted packets for TUN go through a GRO table
 * for the batch: segments of one TCP flow become one super-packet, one
 * write. UDP_GRO on the sockets lets one receive carry many datagrams of
 * one sender (split again in forward.c).
 */
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/udp.h>

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "fwd_offload.h"
#include "fwd_pool.h"
#include "log.h"
#include "offload.h"

#define FO_TAILROOM	(15 + 16)	/* padding, tag */
#define FO_ALIGN	64

struct fwd_gro {
	struct offload_gro	 g;
	struct fwd_buf		*held[OFFLOAD_GRO_MAX_PKTS];
	int			 nheld;
	int			 cursor;	/* in held: last found */
	uint64_t		 drops;		/* refused: bad header */
	uint64_t		 nobuf;		/* the pool was empty */
	void			(*emit)(struct fwd_buf *, uint32_t,
				    uint32_t);
};

static struct fwd_gro	fo_gro;

struct fwd_gro *
fwd_offload_init(int uso, void (*emit)(struct fwd_buf *, uint32_t,
    uint32_t))
{
	offload_gro_init(&fo_gro.g, uso ? OFFLOAD_GRO_UDP : 0);
	fo_gro.emit = emit;
	return &fo_gro;
}

static uint32_t
fo_align(uint32_t v)
{
	return (v + FO_ALIGN - 1) & ~(uint32_t)(FO_ALIGN - 1);
}

/*
 * Room for a packet at pos in a pool buffer, the tailroom after it kept
 * free; 0 when pos leaves less than the tailroom (pos may lie up to 16
 * bytes past the buffer's end after the last packet).
 */
static size_t
fo_room(uint32_t pos)
{
	if (pos > FWD_BUF_SIZE - FO_TAILROOM)
		return 0;
	return FWD_BUF_SIZE - FO_TAILROOM - pos;
}

void
fwd_offload_tun_in(struct fwd_buf *b,
    void (*out)(struct fwd_buf *, uint32_t, uint32_t))
{
	struct offload_vnet	 vh;
	struct fwd_buf		*ob = NULL;
	uint8_t			*pkt;
	size_t			 len;
	uint32_t		 pos = 0;
	int			 n, i, seg;

	if (b->len < OFFLOAD_VNET_HDR_LEN ||
	    offload_vnet_parse(b->base + b->off, b->len, &vh) == -1)
		goto drop;
	pkt = b->base + b->off + OFFLOAD_VNET_HDR_LEN;
	len = b->len - OFFLOAD_VNET_HDR_LEN;
	if (vh.gso_type == OFFLOAD_GSO_NONE) {
		if (offload_csum_complete(&vh, pkt, len) == -1)
			goto drop;
		out(b, b->off + OFFLOAD_VNET_HDR_LEN, len);
		return;
	}
	if ((n = offload_segment_count(&vh, pkt, len)) <= 0)
		goto drop;
	for (i = 0; i < n; i++) {
		seg = -1;
		for (;;) {
			if (ob == NULL) {
				if ((ob = fwd_buf_get()) == NULL)
					break;
				pos = FWD_HEADROOM;
			}
			seg = offload_segment_at(&vh, pkt, len, i, ob->base +
			    pos, fo_room(pos));
			if (seg > 0 || pos == FWD_HEADROOM)
				break;
			/* This buffer is full: on to a fresh one. */
			fwd_buf_put(ob);
			ob = NULL;
		}
		if (ob == NULL) {
			fo_gro.nobuf += n - i;
			break;
		}
		if (seg <= 0) {
			fo_gro.drops++;
			continue;
		}
		fwd_buf_ref(ob);
		out(ob, pos, seg);
		pos = fo_align(pos + seg + FO_TAILROOM) + 16;
	}
	fwd_buf_put(ob);
	fwd_buf_put(b);
	return;
drop:
	fo_gro.drops++;
	fwd_buf_put(b);
}

static void
fo_write_plain(struct fwd_buf *b, uint32_t off, uint32_t len)
{
	if (off < OFFLOAD_VNET_HDR_LEN || off > FWD_BUF_SIZE ||
	    len > FWD_BUF_SIZE - off) {
		fo_gro.drops++;
		return;
	}
	/* An all-zero header: no offload, checksum done. */
	memset(b->base + off - OFFLOAD_VNET_HDR_LEN, 0, OFFLOAD_VNET_HDR_LEN);
	fwd_buf_ref(b);
	fo_gro.emit(b, off - OFFLOAD_VNET_HDR_LEN, len + OFFLOAD_VNET_HDR_LEN);
}

void
fwd_offload_tun_out(struct fwd_gro *gro, struct fwd_buf *b, uint32_t off,
    uint32_t len)
{
	int	r;

	r = offload_gro_add(&gro->g, b->base + off, len);
	if (r == OFFLOAD_GRO_FULL) {
		fwd_offload_flush(gro);
		r = offload_gro_add(&gro->g, b->base + off, len);
	}
	if (r == OFFLOAD_GRO_BAD || r == OFFLOAD_GRO_FULL) {
		fo_write_plain(b, off, len);
		return;
	}
	if (gro->nheld == 0 || gro->held[gro->nheld - 1] != b) {
		fwd_buf_ref(b);
		gro->held[gro->nheld++] = b;
	}
}

/*
 * The held buffer ptr lies in, or NULL. Every packet of the GRO table is
 * in a held buffer, and they come out in order: the search starts where
 * the last one was found.
 */
static struct fwd_buf *
fo_held_buf(struct fwd_gro *gro, const void *ptr)
{
	struct fwd_buf	*b;
	uintptr_t	 p = (uintptr_t)ptr;
	int		 i, k;

	for (k = 0; k < gro->nheld; k++) {
		i = (gro->cursor + k) % gro->nheld;
		b = gro->held[i];
		if (p >= (uintptr_t)b->base &&
		    p - (uintptr_t)b->base < FWD_BUF_SIZE) {
			gro->cursor = i;
			return b;
		}
	}
	return NULL;
}

static int
fo_flush_cb(void *arg, const struct iovec *iov, int iovcnt, size_t total)
{
	struct fwd_gro	*gro = arg;
	struct fwd_buf	*b, *ob;
	uint8_t		*p;
	size_t		 off;
	int		 i;

	/* A packet written as it came: its header goes in front of it. */
	if (iovcnt == 2 && iov[0].iov_len == OFFLOAD_VNET_HDR_LEN &&
	    (b = fo_held_buf(gro, iov[1].iov_base)) != NULL &&
	    (uint8_t *)iov[1].iov_base - b->base >= OFFLOAD_VNET_HDR_LEN &&
	    iov[1].iov_len <= (size_t)(b->base + FWD_BUF_SIZE -
	    (uint8_t *)iov[1].iov_base)) {
		p = (uint8_t *)iov[1].iov_base - OFFLOAD_VNET_HDR_LEN;
		memcpy(p, iov[0].iov_base, OFFLOAD_VNET_HDR_LEN);
		fwd_buf_ref(b);
		gro->emit(b, p - b->base, total);
		return 0;
	}
	/* A super-packet: gathered into a buffer of its own. */
	if (total > FWD_BUF_SIZE - FWD_HEADROOM) {
		gro->drops++;
		return -1;
	}
	if ((ob = fwd_buf_get()) == NULL) {
		gro->nobuf++;
		return -1;
	}
	for (i = 0, off = FWD_HEADROOM; i < iovcnt; i++) {
		if (iov[i].iov_len > FWD_BUF_SIZE - off) {
			fwd_buf_put(ob);
			gro->drops++;
			return -1;
		}
		memcpy(ob->base + off, iov[i].iov_base, iov[i].iov_len);
		off += iov[i].iov_len;
	}
	gro->emit(ob, FWD_HEADROOM, (uint32_t)(off - FWD_HEADROOM));
	return 0;
}

void
fwd_offload_flush(struct fwd_gro *gro)
{
	int	i;

	if (gro->g.nitems > 0)
		(void)offload_gro_flush(&gro->g, fo_flush_cb, gro);
	for (i = 0; i < gro->nheld; i++)
		fwd_buf_put(gro->held[i]);
	gro->nheld = 0;
	gro->cursor = 0;
}

uint64_t
fwd_offload_drops(void)
{
	return fo_gro.drops;
}

uint64_t
fwd_offload_nobuf(void)
{
	return fo_gro.nobuf;
}

void
fwd_offload_sock_gro(int fd)
{
	int	one = 1;

	if (setsockopt(fd, SOL_UDP, UDP_GRO, &one, sizeof(one)) == -1)
		log_debug("UDP_GRO: %s", strerror(errno));
}
