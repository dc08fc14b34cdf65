/*
 * fuzz_offload.c: libFuzzer target for the forwarder's TUN-in split
 * (fwd_offload_tun_in, offload.c's segmentation) on what a TUN read with
 * IFF_VNET_HDR hands over: the input is the virtio-net header and the
 * packet. A packet whose IP length field claims more than the input
 * holds is completed by repeating its bytes after the first 120 (so that
 * 64 KiB super-packets are reached with inputs of a few hundred bytes).
 *
 * The pool is tests/lib/fake_pool.c: every buffer its own allocation of
 * exactly FWD_BUF_SIZE bytes, so a segment written past a buffer's end
 * is an ASan report. Every segment handed on must lie in its buffer
 * with room for the WireGuard header before it and padding and tag
 * after it (written here, as the encryption would), apart from the one
 * before it; a segment of a super-packet must be a whole IP packet with
 * good checksums; no buffer may be left when all is released.
 */
#include <netinet/in.h>

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/fake_pool.h"
#include "fwd_offload.h"
#include "offload.h"

#define FZ_WGHDR	16
#define FZ_TAIL		31
#define FZ_SEGS		65536
#define FZ_READ		(FWD_BUF_SIZE - FWD_HEADROOM - 64)	/* a TUN read */

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static struct fwd_buf	*fz_b[FZ_SEGS];
static uint32_t		 fz_off[FZ_SEGS], fz_len[FZ_SEGS];
static size_t		 fz_n;
static int		 fz_gso;

/* Does seg verify: IP length, IPv4 header checksum, TCP/UDP checksum? */
static int
fz_valid(const uint8_t *p, size_t len)
{
	size_t		ihl;
	uint8_t		proto;
	uint64_t	sum;

	if (len < 20)
		return 0;
	if ((p[0] >> 4) == 4) {
		ihl = (size_t)(p[0] & 15) * 4;
		if (ihl < 20 || ihl > len || (size_t)(p[2] << 8 | p[3]) !=
		    len || offload_csum(p, ihl, 0) != 0)
			return 0;
		proto = p[9];
		sum = offload_pseudo4(p + 12, p + 16, proto,
		    (uint32_t)(len - ihl));
	} else if ((p[0] >> 4) == 6) {
		ihl = 40;
		if (len < 40 || (size_t)(p[4] << 8 | p[5]) + 40 != len)
			return 0;
		proto = p[6];
		sum = offload_pseudo6(p + 8, p + 24, proto,
		    (uint32_t)(len - ihl));
	} else
		return 0;
	if (proto != IPPROTO_TCP && proto != IPPROTO_UDP)
		return 0;
	return offload_csum(p + ihl, len - ihl, sum) == 0;
}

static void
fz_out(struct fwd_buf *b, uint32_t off, uint32_t len)
{
	if (fz_n == FZ_SEGS)
		abort();
	if (off < FZ_WGHDR || off > FWD_BUF_SIZE ||
	    len > FWD_BUF_SIZE - FZ_TAIL - off)
		abort();
	if (fz_n > 0 && fz_b[fz_n - 1] == b &&
	    off - FZ_WGHDR < fz_off[fz_n - 1] + fz_len[fz_n - 1] + FZ_TAIL)
		abort();
	if (fz_gso && !fz_valid(b->base + off, len))
		abort();
	fz_b[fz_n] = b;
	fz_off[fz_n] = off;
	fz_len[fz_n] = len;
	fz_n++;
}

/* The IP length the packet claims, or 0. */
static size_t
fz_claimed(const uint8_t *p, size_t len)
{
	if (len >= 20 && (p[0] >> 4) == 4)
		return (size_t)(p[2] << 8 | p[3]);
	if (len >= 40 && (p[0] >> 4) == 6)
		return (size_t)(p[4] << 8 | p[5]) + 40;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct offload_vnet	 vh;
	struct fwd_buf		*b;
	uint8_t			*pkt;
	size_t			 len, want, i, keep;

	if (size > FZ_READ)
		return 0;
	b = fwd_buf_get();
	memcpy(b->base + FWD_HEADROOM, data, size);
	len = size;
	pkt = b->base + FWD_HEADROOM + OFFLOAD_VNET_HDR_LEN;
	if (size > OFFLOAD_VNET_HDR_LEN) {
		len = size - OFFLOAD_VNET_HDR_LEN;
		want = fz_claimed(pkt, len);
		keep = len < 120 ? len : 120;
		if (want > len && want <= OFFLOAD_MAX_PKT + 40 &&
		    len > keep) {
			for (i = len; i < want; i++)
				pkt[i] = pkt[keep + (i - keep) % (len - keep)];
			len = want;
		}
		len += OFFLOAD_VNET_HDR_LEN;
	}
	b->off = FWD_HEADROOM;
	b->len = (uint32_t)len;
	fz_gso = offload_vnet_parse(b->base + FWD_HEADROOM, len, &vh) == 0 &&
	    vh.gso_type != OFFLOAD_GSO_NONE;
	fz_n = 0;
	fwd_offload_tun_in(b, fz_out);
	/* What the encryption writes around each segment, in place. */
	for (i = 0; i < fz_n; i++) {
		memset(fz_b[i]->base + fz_off[i] - FZ_WGHDR, 0x11, FZ_WGHDR);
		memset(fz_b[i]->base + fz_off[i] + fz_len[i], 0x22, FZ_TAIL);
	}
	for (i = 0; i < fz_n; i++)
		fwd_buf_put(fz_b[i]);
	if (fake_pool_out() != 0)
		abort();
	return 0;
}
