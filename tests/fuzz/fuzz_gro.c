/*
 * fuzz_gro.c: libFuzzer target for the forwarder's GRO (fwd_offload_tun_out
 * and fwd_offload_flush, offload.c's coalescing) on decrypted packets
 * laid out in pool buffers as forward.c has them: a WireGuard header's
 * room before each packet and the tag's after it, one or several packets
 * a buffer (as one UDP_GRO receive carries several).
 *
 * Input: a flags byte (bit 0: the TUN takes UDP super-packets; bits 1-3:
 * packets a buffer, less one; bits 4-7: packets after which the batch
 * ends and is flushed, 0 for never), then packets, each as a byte of
 * fix-ups (bit 0: set the IP length fields, bit 1: then the IPv4 header
 * and TCP/UDP checksums, bit 2: the TCP sequence number follows on the
 * packet before, bit 3: the IPv4 id too), its length (2 bytes, big
 * endian) and a count of bytes (2 bytes) that follow, repeated to the
 * length (so that a few input bytes make full-size packets, and the
 * fuzzer does not have to find checksums).
 *
 * The pool is tests/lib/fake_pool.c (every buffer its own exact
 * allocation). Every write to TUN must lie in its buffer and start
 * with a virtio-net header that parses; a super-packet must split back
 * (offload_segment_at) into as many packets, of as many bytes, as went
 * into it: in all, every packet taken comes out once, none lost or made
 * up; no buffer may be left.
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
#define FZ_TAG		16
#define FZ_MAXPKTS	256

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static uint8_t	fz_seg[FWD_BUF_SIZE];
static size_t	fz_pkts_out, fz_bytes_out;

static void
fz_emit(struct fwd_buf *b, uint32_t off, uint32_t len)
{
	struct offload_vnet	 vh;
	const uint8_t		*p;
	size_t			 plen, i;
	int			 n, r;

	if (off > FWD_BUF_SIZE || len > FWD_BUF_SIZE - off ||
	    len <= OFFLOAD_VNET_HDR_LEN)
		abort();
	p = b->base + off;
	if (offload_vnet_parse(p, len, &vh) == -1)
		abort();
	p += OFFLOAD_VNET_HDR_LEN;
	plen = len - OFFLOAD_VNET_HDR_LEN;
	if (vh.gso_type == OFFLOAD_GSO_NONE) {
		if (vh.flags != 0)
			abort();
		fz_pkts_out++;
		fz_bytes_out += plen;
	} else {
		if ((n = offload_segment_count(&vh, p, plen)) < 2 ||
		    n > OFFLOAD_GRO_MAX_SEGS)
			abort();
		for (i = 0; i < (size_t)n; i++) {
			r = offload_segment_at(&vh, p, plen, i, fz_seg,
			    sizeof(fz_seg));
			if (r <= 0)
				abort();
			fz_bytes_out += (size_t)r;
		}
		fz_pkts_out += (size_t)n;
	}
	fwd_buf_put(b);
}

static uint16_t
fz_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void
fz_put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

/* The fix-ups of the input's byte: lengths, sequence, checksums. */
static void
fz_fix(uint8_t *p, size_t len, uint8_t fix, uint32_t *seq, uint16_t *id)
{
	size_t		ihl, at;
	uint8_t		proto;
	uint64_t	sum;
	uint16_t	c;

	if (len < 20 || !(fix & 1))
		return;
	if ((p[0] >> 4) == 4) {
		ihl = (size_t)(p[0] & 15) * 4;
		if (ihl < 20 || ihl > len)
			return;
		fz_put16(p + 2, (uint16_t)len);
		if (fix & 8)
			fz_put16(p + 4, (*id)++);
		proto = p[9];
	} else if ((p[0] >> 4) == 6 && len >= 40) {
		ihl = 40;
		fz_put16(p + 4, (uint16_t)(len - 40));
		proto = p[6];
	} else
		return;
	if (proto == IPPROTO_UDP && len - ihl >= 8)
		fz_put16(p + ihl + 4, (uint16_t)(len - ihl));
	if (proto == IPPROTO_TCP && len - ihl >= 20 && (fix & 4)) {
		p[ihl + 4] = (uint8_t)(*seq >> 24);
		p[ihl + 5] = (uint8_t)(*seq >> 16);
		p[ihl + 6] = (uint8_t)(*seq >> 8);
		p[ihl + 7] = (uint8_t)*seq;
		at = ihl + (size_t)(p[ihl + 12] >> 4) * 4;
		if (at <= len)
			*seq += (uint32_t)(len - at);
	}
	if (!(fix & 2))
		return;
	if ((p[0] >> 4) == 4) {
		p[10] = p[11] = 0;
		c = offload_csum(p, ihl, 0);
		memcpy(p + 10, &c, 2);
		sum = offload_pseudo4(p + 12, p + 16, proto,
		    (uint32_t)(len - ihl));
	} else
		sum = offload_pseudo6(p + 8, p + 24, proto,
		    (uint32_t)(len - ihl));
	if (proto == IPPROTO_TCP && len - ihl >= 20)
		at = ihl + 16;
	else if (proto == IPPROTO_UDP && len - ihl >= 8)
		at = ihl + 6;
	else
		return;
	p[at] = p[at + 1] = 0;
	c = offload_csum(p + ihl, len - ihl, sum);
	if (proto == IPPROTO_UDP && c == 0)
		c = 0xffff;
	memcpy(p + at, &c, 2);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fwd_gro	*gro;
	struct fwd_buf	*b = NULL, *bufs[FZ_MAXPKTS];
	size_t		 at = 1, len, n, i, pos = 0, npkts = 0, nbufs = 0;
	size_t		 pkts_in = 0, bytes_in = 0, perbuf, every;
	uint32_t	 seq = 0;
	uint16_t	 id = 0;
	uint8_t		 fix, *p;

	if (size < 1)
		return 0;
	perbuf = (size_t)((data[0] >> 1) & 7) + 1;
	every = data[0] >> 4;
	gro = fwd_offload_init(data[0] & 1, fz_emit);
	fz_pkts_out = fz_bytes_out = 0;
	while (size - at >= 5 && npkts < FZ_MAXPKTS) {
		fix = data[at];
		len = fz_get16(data + at + 1);
		n = fz_get16(data + at + 3);
		at += 5;
		if (n > size - at)
			n = size - at;
		if (len == 0)
			len = 1;
		if (b == NULL || npkts % perbuf == 0 ||
		    pos + FZ_WGHDR + len + FZ_TAG > FWD_BUF_SIZE) {
			b = fwd_buf_get();
			bufs[nbufs++] = b;
			pos = FWD_HEADROOM;
		}
		p = b->base + pos + FZ_WGHDR;
		for (i = 0; i < len; i++)
			p[i] = n > 0 ? data[at + i % n] : 0;
		at += n;
		fz_fix(p, len, fix, &seq, &id);
		memset(p - FZ_WGHDR, 0x44, FZ_WGHDR);
		memset(p + len, 0x55, FZ_TAG);
		/* forward.c hands over only what looks like IPv4 or IPv6. */
		if (len >= 20 && ((p[0] >> 4) == 4 || ((p[0] >> 4) == 6 &&
		    len >= 40))) {
			fwd_offload_tun_out(gro, b, (uint32_t)(p - b->base),
			    (uint32_t)len);
			pkts_in++;
			bytes_in += len;
		}
		pos += FZ_WGHDR + len + FZ_TAG;
		npkts++;
		if (every != 0 && npkts % every == 0)
			fwd_offload_flush(gro);
	}
	fwd_offload_flush(gro);
	for (i = 0; i < nbufs; i++)
		fwd_buf_put(bufs[i]);
	if (fz_pkts_out != pkts_in || fz_bytes_out != bytes_in ||
	    fake_pool_out() != 0)
		abort();
	return 0;
}
