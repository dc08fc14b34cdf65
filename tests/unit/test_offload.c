/*
 * test_offload.c: segmentation, checksums and GRO of netd/offload.c,
 * checked against an independent byte-at-a-time checksum; random input;
 * checksum throughput; and, as root, what this kernel's TUN and UDP
 * sockets offer, with a real TCP stream through the segmenter and GRO.
 */
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/udp.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <linux/if_tun.h>
#include <linux/virtio_net.h>

#include "../lib/fake_pool.h"
#include "fwd_offload.h"
#include "offload.h"
#include "test.h"

#ifndef UDP_SEGMENT
#define UDP_SEGMENT	103
#endif
#ifndef UDP_GRO
#define UDP_GRO		104
#endif
/* Linux 6.2; Debian's headers may predate them. */
#ifndef TUN_F_USO4
#define TUN_F_USO4	0x20
#define TUN_F_USO6	0x40
#endif

#define STRIDE		2048
#define HEADROOM	16
#define TAILROOM	31
#define MAXSEGS		128

_Static_assert(sizeof(struct virtio_net_hdr) == OFFLOAD_VNET_HDR_LEN,
    "virtio_net_hdr");
_Static_assert(VIRTIO_NET_HDR_GSO_TCPV4 == OFFLOAD_GSO_TCPV4 &&
    VIRTIO_NET_HDR_GSO_TCPV6 == OFFLOAD_GSO_TCPV6 &&
    VIRTIO_NET_HDR_GSO_UDP == OFFLOAD_GSO_UDP &&
    VIRTIO_NET_HDR_GSO_ECN == OFFLOAD_GSO_ECN &&
    VIRTIO_NET_HDR_F_NEEDS_CSUM == OFFLOAD_VNET_F_NEEDS_CSUM &&
    VIRTIO_NET_HDR_F_DATA_VALID == OFFLOAD_VNET_F_DATA_VALID, "virtio");

static uint64_t	rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t
rnd(void)
{
	uint64_t	x = rng_state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return rng_state = x;
}

static void
rnd_fill(uint8_t *p, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)rnd();
}

static uint16_t
get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static void
put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static void
put32(uint8_t *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p + 2, v & 0xffff);
}

/* The reference: big-endian 16-bit words, one at a time. */
static uint64_t
ref_sum(const uint8_t *p, size_t n, uint64_t s)
{
	size_t	i;

	for (i = 0; i + 1 < n; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	return s;
}

static uint16_t
ref_fold(uint64_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

static uint64_t
ref_pseudo(const uint8_t *pkt, uint8_t proto, uint32_t len)
{
	uint64_t	s;

	if ((pkt[0] >> 4) == 4)
		s = ref_sum(pkt + 12, 8, 0);
	else
		s = ref_sum(pkt + 8, 32, 0);
	return s + proto + (len >> 16) + (len & 0xffff);
}

static size_t
iph_len(const uint8_t *pkt)
{
	return (pkt[0] >> 4) == 4 ? (size_t)(pkt[0] & 15) * 4 : 40;
}

static uint8_t
l4_proto(const uint8_t *pkt)
{
	return (pkt[0] >> 4) == 4 ? pkt[9] : pkt[6];
}

/* Does the whole packet verify from scratch (IP, then TCP or UDP)? */
static int
pkt_valid(const uint8_t *pkt, size_t len)
{
	size_t	ihl = iph_len(pkt);

	if ((pkt[0] >> 4) == 4) {
		if (get16(pkt + 2) != len || ref_fold(ref_sum(pkt, ihl, 0)) !=
		    0xffff)
			return 0;
	} else if (get16(pkt + 4) + 40u != len)
		return 0;
	if (l4_proto(pkt) == IPPROTO_UDP && get16(pkt + ihl + 4) != len - ihl)
		return 0;
	return ref_fold(ref_sum(pkt + ihl, len - ihl,
	    ref_pseudo(pkt, l4_proto(pkt), (uint32_t)(len - ihl)))) == 0xffff;
}

/* Sets the full checksums of a packet (reference code). */
static void
pkt_fix(uint8_t *pkt, size_t len)
{
	size_t	ihl = iph_len(pkt), at;
	uint8_t	proto = l4_proto(pkt);

	if ((pkt[0] >> 4) == 4) {
		pkt[10] = pkt[11] = 0;
		put16(pkt + 10, (uint16_t)~ref_fold(ref_sum(pkt, ihl, 0)));
	}
	at = ihl + (proto == IPPROTO_TCP ? 16 : 6);
	pkt[at] = pkt[at + 1] = 0;
	put16(pkt + at, (uint16_t)~ref_fold(ref_sum(pkt + ihl, len - ihl,
	    ref_pseudo(pkt, proto, (uint32_t)(len - ihl)))));
	if (proto == IPPROTO_UDP && get16(pkt + at) == 0)
		put16(pkt + at, 0xffff);
}

struct spec {
	int		 v6;
	uint8_t		 proto;
	size_t		 ipopt;		/* IPv4 options bytes */
	size_t		 tcpopt;	/* TCP options bytes */
	uint8_t		 flags;		/* TCP */
	uint32_t	 seq, ack;
	uint16_t	 id;
	uint8_t		 ttl, tos;
	int		 df;
	uint16_t	 sport, dport;
	uint16_t	 window;
};

static const uint8_t	src4[4] = { 10, 1, 2, 3 }, dst4[4] = { 10, 4, 5, 6 };
static const uint8_t	src6[16] = { 0xfd, 0, 1, 2, [15] = 1 };
static const uint8_t	dst6[16] = { 0xfd, 0, 1, 2, [15] = 2 };

static void
spec_default(struct spec *s, int v6, uint8_t proto)
{
	memset(s, 0, sizeof(*s));
	s->v6 = v6;
	s->proto = proto;
	s->flags = 0x10;
	s->seq = 0xfffff000;	/* wraps inside a super-packet */
	s->ack = 0x12345678;
	s->id = 0xfff0;		/* so does the IPv4 id */
	s->ttl = 64;
	s->df = 1;
	s->sport = 40000;
	s->dport = 5201;
	s->window = 502;
}

static size_t
spec_hdrlen(const struct spec *s)
{
	return (s->v6 ? 40 : 20 + s->ipopt) +
	    (s->proto == IPPROTO_TCP ? 20 + s->tcpopt : 8);
}

/* Builds a packet with valid checksums; returns its length. */
static size_t
build(uint8_t *pkt, const struct spec *s, const uint8_t *payload, size_t plen)
{
	size_t	ihl = s->v6 ? 40 : 20 + s->ipopt, l4h, len, i;
	uint8_t	*l4 = pkt + ihl;

	l4h = s->proto == IPPROTO_TCP ? 20 + s->tcpopt : 8;
	len = ihl + l4h + plen;
	memset(pkt, 0, ihl + l4h);
	if (!s->v6) {
		pkt[0] = (uint8_t)(0x40 | ihl / 4);
		pkt[1] = s->tos;
		put16(pkt + 2, (uint16_t)len);
		put16(pkt + 4, s->id);
		pkt[6] = s->df ? 0x40 : 0;
		pkt[8] = s->ttl;
		pkt[9] = s->proto;
		memcpy(pkt + 12, src4, 4);
		memcpy(pkt + 16, dst4, 4);
		for (i = 20; i < ihl; i++)
			pkt[i] = 1;	/* NOP options */
	} else {
		pkt[0] = 0x60 | s->tos >> 4;
		pkt[1] = (uint8_t)(s->tos << 4 | 0x0b);
		pkt[2] = 0xcd;
		pkt[3] = 0xef;
		put16(pkt + 4, (uint16_t)(len - 40));
		pkt[6] = s->proto;
		pkt[7] = s->ttl;
		memcpy(pkt + 8, src6, 16);
		memcpy(pkt + 24, dst6, 16);
	}
	put16(l4, s->sport);
	put16(l4 + 2, s->dport);
	if (s->proto == IPPROTO_TCP) {
		put32(l4 + 4, s->seq);
		put32(l4 + 8, s->ack);
		l4[12] = (uint8_t)((l4h / 4) << 4);
		l4[13] = s->flags;
		put16(l4 + 14, s->window);
		for (i = 20; i < l4h; i++)
			l4[i] = (uint8_t)(i == 20 ? 1 : i == 21 ? 1 : 0x42 + i);
	} else
		put16(l4 + 4, (uint16_t)(l4h + plen));
	memcpy(pkt + ihl + l4h, payload, plen);
	pkt_fix(pkt, len);
	return len;
}

/*
 * Turns a built packet into what the kernel hands a TUN reader: the
 * transport checksum field holds the pseudo-header sum only.
 */
static void
make_partial(uint8_t *pkt, size_t len, struct offload_vnet *vh, uint8_t type,
    uint16_t gso)
{
	size_t	ihl = iph_len(pkt);
	uint8_t	proto = l4_proto(pkt);

	memset(vh, 0, sizeof(*vh));
	vh->flags = OFFLOAD_VNET_F_NEEDS_CSUM;
	vh->gso_type = type;
	vh->gso_size = gso;
	vh->csum_start = (uint16_t)ihl;
	vh->csum_offset = proto == IPPROTO_TCP ? 16 : 6;
	vh->hdr_len = (uint16_t)(ihl + (proto == IPPROTO_TCP ?
	    (pkt[ihl + 12] >> 4) * 4 : 8));
	put16(pkt + ihl + vh->csum_offset, ref_fold(ref_pseudo(pkt, proto,
	    (uint32_t)(len - ihl))));
}

static uint8_t	payload[70000];
static uint8_t	super[70000], super2[70000];
static uint8_t	segbuf[MAXSEGS * STRIDE + 64];
static size_t	seglens[MAXSEGS];

static void
test_csum(void)
{
	static const uint8_t	rfc[8] = { 0x00, 0x01, 0xf2, 0x03, 0xf4,
	    0xf5, 0xf6, 0xf7 };
	uint8_t			buf[4200], cp[4200], c[2];
	uint16_t		v, r16;
	size_t			off, len, split;
	uint64_t		s;
	int			i, ok = 1, okcp = 1, oksplit = 1;

	/* RFC 1071's example: the sum is 0xddf2. */
	v = offload_csum_fold(offload_csum_add(0, rfc, 8));
	memcpy(c, &v, 2);
	CHECK(get16(c) == 0xddf2, "rfc1071 sum %04x", get16(c));
	v = offload_csum(rfc, 8, 0);
	memcpy(c, &v, 2);
	CHECK(get16(c) == 0x220d, "rfc1071 checksum %04x", get16(c));

	for (i = 0; i < 3000; i++) {
		rnd_fill(buf, sizeof(buf));
		off = rnd() % 16;
		len = rnd() % (sizeof(buf) - 16);
		if (i < 100)
			len = (size_t)i;
		v = offload_csum(buf + off, len, 0);
		memcpy(c, &v, 2);
		r16 = (uint16_t)~ref_fold(ref_sum(buf + off, len, 0));
		if (get16(c) != r16)
			ok = 0;
		s = offload_csum_copy(0, cp + (off ^ 5), buf + off, len);
		if (offload_csum_fold(s) != offload_csum_fold(
		    offload_csum_add(0, buf + off, len)) ||
		    memcmp(cp + (off ^ 5), buf + off, len) != 0)
			okcp = 0;
		/* Pieces starting at even offsets add up. */
		split = (rnd() % (len + 1)) & ~(size_t)1;
		s = offload_csum_add(0, buf + off, split);
		s = offload_csum_add(s, buf + off + split, len - split);
		if (offload_csum_fold(s) != offload_csum_fold(
		    offload_csum_add(0, buf + off, len)))
			oksplit = 0;
	}
	CHECK(ok, "fast checksum equals the reference");
	CHECK(okcp, "copy-and-checksum copies and sums");
	CHECK(oksplit, "partial sums combine");
	/* Large sums fold correctly (many carries). */
	memset(buf, 0xff, sizeof(buf));
	v = offload_csum(buf, sizeof(buf), 0);
	CHECK(v == 0, "all-ones checksum");
	/* An initial sum near 2^64 carries around. */
	s = offload_csum_add(~(uint64_t)0 - 5, rfc, 8);
	CHECK(offload_csum_fold(s) == offload_csum_fold(offload_csum_add(
	    0xfffa, rfc, 8)), "end-around carry of the initial sum");
	{
		uint8_t	p4[20] = { 0x45 }, p6[40] = { 0x60 };

		memcpy(p4 + 12, src4, 4);
		memcpy(p4 + 16, dst4, 4);
		memcpy(p6 + 8, src6, 16);
		memcpy(p6 + 24, dst6, 16);
		v = offload_csum_fold(offload_pseudo4(src4, dst4, 6, 1234));
		memcpy(c, &v, 2);
		CHECK(get16(c) == ref_fold(ref_pseudo(p4, 6, 1234)),
		    "pseudo4");
		v = offload_csum_fold(offload_pseudo6(src6, dst6, 17, 70000));
		memcpy(c, &v, 2);
		CHECK(get16(c) == ref_fold(ref_pseudo(p6, 17, 70000)),
		    "pseudo6");
	}
}

static void
test_vnet(void)
{
	struct offload_vnet	vh, back;
	uint8_t			b[OFFLOAD_VNET_HDR_LEN];

	memset(&vh, 0, sizeof(vh));
	vh.flags = OFFLOAD_VNET_F_NEEDS_CSUM;
	vh.gso_type = OFFLOAD_GSO_TCPV4;
	vh.hdr_len = 0x1234;
	vh.gso_size = 1448;
	vh.csum_start = 20;
	vh.csum_offset = 16;
	offload_vnet_write(&vh, b);
	CHECK(b[2] == 0x34 && b[3] == 0x12 && b[4] == (1448 & 0xff),
	    "little-endian fields");
	CHECK(offload_vnet_parse(b, sizeof(b), &back) == 0 &&
	    memcmp(&vh, &back, sizeof(vh)) == 0, "round trip");
	CHECK(offload_vnet_parse(b, 9, &back) == -1, "short header");
	b[1] = OFFLOAD_GSO_TCPV4 | OFFLOAD_GSO_ECN;
	CHECK(offload_vnet_parse(b, 10, &back) == -1, "ECN refused");
	b[1] = OFFLOAD_GSO_UDP;
	CHECK(offload_vnet_parse(b, 10, &back) == -1, "UFO refused");
	b[1] = 9;
	CHECK(offload_vnet_parse(b, 10, &back) == -1, "unknown type");
	b[1] = OFFLOAD_GSO_TCPV6;
	b[0] = 0;
	CHECK(offload_vnet_parse(b, 10, &back) == -1, "GSO w/o NEEDS_CSUM");
	b[0] = 0x04;
	CHECK(offload_vnet_parse(b, 10, &back) == -1, "unknown flag");
	b[0] = 1;
	b[4] = b[5] = 0;
	CHECK(offload_vnet_parse(b, 10, &back) == -1, "GSO with size 0");
	memset(b, 0, sizeof(b));
	CHECK(offload_vnet_parse(b, 10, &back) == 0 &&
	    back.gso_type == OFFLOAD_GSO_NONE, "all-zero header");
	b[0] = OFFLOAD_VNET_F_DATA_VALID;
	CHECK(offload_vnet_parse(b, 10, &back) == 0, "DATA_VALID");
}

/*
 * Every segment of pkt, as fwd_offload.c cuts them with
 * offload_segment_count and offload_segment_at: segment i at
 * out + i * out_stride + headroom, its length in seg_lens[i], with
 * headroom + length + tailroom <= out_stride. 0 with *nsegs set, or -1
 * (refused, more than max_segs segments, or one too long for the
 * stride).
 */
static int
seg_all(const struct offload_vnet *vh, const uint8_t *pkt, size_t len,
    uint8_t *out, size_t out_stride, size_t headroom, size_t tailroom,
    size_t max_segs, size_t *seg_lens, size_t *nsegs)
{
	size_t	i, cap;
	int	n, r;

	*nsegs = 0;
	if ((n = offload_segment_count(vh, pkt, len)) <= 0 ||
	    (size_t)n > max_segs)
		return -1;
	if (headroom > out_stride || tailroom > out_stride - headroom)
		return -1;
	cap = out_stride - headroom - tailroom;
	for (i = 0; i < (size_t)n; i++) {
		r = offload_segment_at(vh, pkt, len, i,
		    out + i * out_stride + headroom, cap);
		if (r < 0)
			return -1;
		seg_lens[i] = (size_t)r;
	}
	*nsegs = (size_t)n;
	return 0;
}

/*
 * Segments a super-packet built from spec and payload[0..plen) and
 * checks every segment from scratch.
 */
static void
check_segment(const char *what, const struct spec *sp, size_t plen,
    uint16_t gso)
{
	struct offload_vnet	 vh;
	size_t			 len, hl = spec_hdrlen(sp), ihl, n, i, got = 0;
	size_t			 exp_n = (plen + gso - 1) / gso;
	uint8_t			*seg, *l4, flags;
	uint8_t			 sentinel[HEADROOM];
	int			 ok_valid = 1, ok_seq = 1, ok_flags = 1;
	int			 ok_data = 1, ok_hdr = 1, ok_room = 1;
	static uint8_t		 cat[70000];

	len = build(super, sp, payload, plen);
	ihl = iph_len(super);
	make_partial(super, len, &vh, sp->proto == IPPROTO_UDP ?
	    OFFLOAD_GSO_UDP_L4 : sp->v6 ? OFFLOAD_GSO_TCPV6 :
	    OFFLOAD_GSO_TCPV4, gso);
	memcpy(super2, super, len);
	memset(segbuf, 0xa5, sizeof(segbuf));
	memset(sentinel, 0xa5, sizeof(sentinel));
	CHECK(offload_segment_count(&vh, super, len) == (int)exp_n,
	    "%s: count %d", what, offload_segment_count(&vh, super, len));
	if (seg_all(&vh, super, len, segbuf, STRIDE, HEADROOM,
	    TAILROOM, MAXSEGS, seglens, &n) != 0) {
		CHECK(0, "%s: segment failed", what);
		return;
	}
	CHECK(memcmp(super, super2, len) == 0, "%s: input untouched", what);
	CHECK(n == exp_n, "%s: %zu segments, expected %zu", what, n, exp_n);
	for (i = 0; i < n; i++) {
		seg = segbuf + i * STRIDE + HEADROOM;
		l4 = seg + ihl;
		if (memcmp(seg - HEADROOM, sentinel, HEADROOM) != 0 ||
		    seglens[i] + HEADROOM + TAILROOM > STRIDE ||
		    seg[seglens[i]] != 0xa5)
			ok_room = 0;
		if (!pkt_valid(seg, seglens[i]))
			ok_valid = 0;
		if (seglens[i] != hl + (i + 1 < n ? gso : plen - i * gso))
			ok_hdr = 0;
		if (!sp->v6 && get16(seg + 4) != (uint16_t)(sp->id + i))
			ok_seq = 0;
		if (!sp->v6 && memcmp(seg + 20, super + 20, ihl - 20) != 0)
			ok_hdr = 0;
		if (sp->proto == IPPROTO_TCP) {
			if (get32(l4 + 4) != (uint32_t)(sp->seq + i * gso))
				ok_seq = 0;
			flags = sp->flags;
			if (i + 1 < n)
				flags &= ~0x09;
			if (i > 0)
				flags &= ~0x80;
			if (l4[13] != flags)
				ok_flags = 0;
			if (memcmp(l4 + 20, super + ihl + 20, sp->tcpopt) != 0 ||
			    get32(l4 + 8) != sp->ack ||
			    get16(l4 + 14) != sp->window)
				ok_hdr = 0;
		}
		if (got + seglens[i] - hl > sizeof(cat))
			break;
		memcpy(cat + got, seg + hl, seglens[i] - hl);
		got += seglens[i] - hl;
	}
	CHECK(ok_room, "%s: headroom/tailroom untouched", what);
	CHECK(ok_valid, "%s: every checksum verifies", what);
	CHECK(ok_hdr, "%s: lengths and copied headers", what);
	CHECK(ok_seq, "%s: seq numbers and IP ids", what);
	CHECK(ok_flags, "%s: FIN/PSH last, CWR first", what);
	CHECK(got == plen && memcmp(cat, payload, plen) == 0,
	    "%s: payloads concatenate to the original", what);
	(void)ok_data;

	/* One at a time gives the same bytes. */
	{
		static uint8_t	one[STRIDE];
		int		r, same = 1;

		for (i = 0; i < n; i++) {
			r = offload_segment_at(&vh, super, len, i, one,
			    sizeof(one));
			if (r != (int)seglens[i] || memcmp(one, segbuf +
			    i * STRIDE + HEADROOM, seglens[i]) != 0)
				same = 0;
		}
		CHECK(same, "%s: segment_at agrees", what);
		CHECK(offload_segment_at(&vh, super, len, n, one,
		    sizeof(one)) == -1, "%s: index past the end", what);
		CHECK(offload_segment_at(&vh, super, len, 0, one,
		    hl + 1) == -1 || plen < 2, "%s: small cap refused", what);
	}
	CHECK(exp_n < 2 || seg_all(&vh, super, len, segbuf, STRIDE,
	    HEADROOM, TAILROOM, exp_n - 1, seglens, &n) == -1,
	    "%s: too many segments refused", what);
	CHECK(seg_all(&vh, super, len, segbuf, hl + gso + HEADROOM +
	    TAILROOM - 1, HEADROOM, TAILROOM, MAXSEGS, seglens, &n) == -1 ||
	    plen < gso, "%s: stride too small refused", what);
}

static void
test_segment(void)
{
	struct spec	sp;

	rnd_fill(payload, sizeof(payload));

	spec_default(&sp, 0, IPPROTO_TCP);
	sp.tcpopt = 12;
	sp.flags = 0x10 | 0x08 | 0x01 | 0x80;	/* ACK PSH FIN CWR */
	check_segment("tcp4 64k", &sp, 65535 - 20 - 32, 1448);
	sp.ipopt = 8;
	sp.tcpopt = 40;
	check_segment("tcp4 ipopts", &sp, 65535 - 28 - 60, 1380);
	sp.ipopt = 0;
	sp.tcpopt = 0;
	sp.flags = 0x10;
	check_segment("tcp4 exact multiple", &sp, 1400 * 10, 1400);
	check_segment("tcp4 one segment", &sp, 1000, 1400);

	spec_default(&sp, 1, IPPROTO_TCP);
	sp.tcpopt = 12;
	sp.flags = 0x10 | 0x08 | 0x01 | 0x80;
	sp.tos = 0xb8;
	check_segment("tcp6 64k", &sp, 65535 - 32, 1368);
	sp.tcpopt = 40;
	check_segment("tcp6 big options", &sp, 30000, 1000);

	spec_default(&sp, 0, IPPROTO_UDP);
	check_segment("udp4 uso", &sp, 65535 - 28, 1392);
	check_segment("udp4 uso small last", &sp, 1392 * 7 + 1, 1392);
	spec_default(&sp, 1, IPPROTO_UDP);
	check_segment("udp6 uso", &sp, 65535 - 8, 1372);
}

static void
test_partial(void)
{
	struct offload_vnet	vh;
	struct spec		sp;
	size_t			len, n;
	int			v6, ok = 1, okcp = 1, k;
	uint8_t			proto;

	for (k = 0; k < 400; k++) {
		v6 = k & 1;
		proto = k & 2 ? IPPROTO_UDP : IPPROTO_TCP;
		spec_default(&sp, v6, proto);
		rnd_fill(payload, 1500);
		len = build(super, &sp, payload, rnd() % 1400);
		make_partial(super, len, &vh, OFFLOAD_GSO_NONE, 0);
		memcpy(super2, super, len);
		if (seg_all(&vh, super2, len, segbuf, STRIDE,
		    HEADROOM, TAILROOM, 1, seglens, &n) != 0 || n != 1 ||
		    seglens[0] != len ||
		    !pkt_valid(segbuf + HEADROOM, len))
			okcp = 0;
		if (offload_csum_complete(&vh, super, len) != 0 ||
		    !pkt_valid(super, len) ||
		    memcmp(super, segbuf + HEADROOM, len) != 0)
			ok = 0;
	}
	CHECK(ok, "NEEDS_CSUM completed in place");
	CHECK(okcp, "NEEDS_CSUM completed while copying");

	vh.csum_start = (uint16_t)len;
	CHECK(offload_csum_complete(&vh, super, len) == -1,
	    "csum_start at the end refused");
	vh.csum_start = 20;
	vh.csum_offset = (uint16_t)(len - 21);
	CHECK(offload_csum_complete(&vh, super, len) == -1,
	    "checksum field past the end refused");
	CHECK(offload_segment_count(&vh, super, len) == -1,
	    "segment refuses it too");
	vh.csum_offset = (uint16_t)(len - 22);
	CHECK(offload_csum_complete(&vh, super, len) == 0,
	    "checksum field at the very end");
	vh.flags = 0;
	memcpy(super2, super, len);
	CHECK(offload_csum_complete(&vh, super, len) == 0 &&
	    memcmp(super, super2, len) == 0, "no NEEDS_CSUM: untouched");
	CHECK(seg_all(&vh, super, len, segbuf, STRIDE, HEADROOM,
	    TAILROOM, 1, seglens, &n) == 0 && n == 1 &&
	    memcmp(segbuf + HEADROOM, super, len) == 0, "plain copy");
}

static void
test_malformed(void)
{
	struct offload_vnet	vh, bad;
	struct spec		sp;
	size_t			len, l, n;
	int			ok = 1;

	spec_default(&sp, 0, IPPROTO_TCP);
	sp.tcpopt = 12;
	len = build(super, &sp, payload, 20000);
	make_partial(super, len, &vh, OFFLOAD_GSO_TCPV4, 1448);
	CHECK(offload_segment_count(&vh, super, len) == 14, "baseline");

	/* Truncated: the IPv4 total length no longer matches. */
	for (l = 0; l < len; l += l < 200 ? 1 : 997)
		if (offload_segment_count(&vh, super, l) != -1)
			ok = 0;
	CHECK(ok, "every truncation refused");

	bad = vh;
	bad.csum_start = 24;
	CHECK(offload_segment_count(&bad, super, len) == -1,
	    "csum_start not the IP header length");
	bad = vh;
	bad.csum_start = 60000;
	CHECK(offload_segment_count(&bad, super, len) == -1,
	    "csum_start out of range");
	bad = vh;
	bad.csum_offset = 6;
	CHECK(offload_segment_count(&bad, super, len) == -1,
	    "csum_offset of UDP on TCP");
	bad = vh;
	bad.gso_type = OFFLOAD_GSO_TCPV6;
	CHECK(offload_segment_count(&bad, super, len) == -1,
	    "TCPV6 on an IPv4 packet");
	bad = vh;
	bad.gso_type = OFFLOAD_GSO_UDP_L4;
	CHECK(offload_segment_count(&bad, super, len) == -1,
	    "UDP_L4 on TCP");
	bad = vh;
	bad.gso_type = OFFLOAD_GSO_TCPV4 | OFFLOAD_GSO_ECN;
	CHECK(offload_segment_count(&bad, super, len) == -1, "ECN");
	bad = vh;
	bad.gso_size = 0;
	CHECK(offload_segment_count(&bad, super, len) == -1, "gso_size 0");
	bad = vh;
	bad.flags = 0;
	CHECK(offload_segment_count(&bad, super, len) == -1,
	    "GSO without NEEDS_CSUM");
	bad = vh;
	bad.hdr_len = 9999;	/* ignored: the TCP data offset rules */
	CHECK(offload_segment_count(&bad, super, len) == 14,
	    "hdr_len not trusted");

	memcpy(super2, super, len);
	super2[20 + 12] = 0x40;		/* data offset 16 */
	CHECK(offload_segment_count(&vh, super2, len) == -1, "doff < 20");
	memcpy(super2, super, len);
	super2[0] = 0x44;		/* IHL 16 */
	CHECK(offload_segment_count(&vh, super2, len) == -1, "IHL < 20");
	memcpy(super2, super, len);
	super2[6] |= 0x20;		/* MF */
	CHECK(offload_segment_count(&vh, super2, len) == -1, "fragment");
	memcpy(super2, super, len);
	super2[9] = IPPROTO_UDP;
	CHECK(offload_segment_count(&vh, super2, len) == -1,
	    "protocol disagrees");
	memcpy(super2, super, len);
	super2[0] = 0x55;
	CHECK(offload_segment_count(&vh, super2, len) == -1, "IP version 5");
	/* Headers only, no payload. */
	len = build(super, &sp, payload, 0);
	make_partial(super, len, &vh, OFFLOAD_GSO_TCPV4, 1448);
	CHECK(offload_segment_count(&vh, super, len) == -1, "no payload");
	CHECK(seg_all(&vh, super, len, segbuf, STRIDE, HEADROOM,
	    TAILROOM, MAXSEGS, seglens, &n) == -1 && n == 0,
	    "segment refuses, nsegs 0");

	spec_default(&sp, 1, IPPROTO_TCP);
	len = build(super, &sp, payload, 5000);
	make_partial(super, len, &vh, OFFLOAD_GSO_TCPV6, 1000);
	CHECK(offload_segment_count(&vh, super, len) == 5, "v6 baseline");
	super[6] = 0;			/* hop-by-hop extension header */
	CHECK(offload_segment_count(&vh, super, len) == -1,
	    "v6 extension header refused");
	super[6] = IPPROTO_TCP;
	CHECK(offload_segment_count(&vh, super, len - 1) == -1,
	    "v6 payload length disagrees");
	CHECK(seg_all(&vh, super, len, segbuf, STRIDE, STRIDE,
	    1, MAXSEGS, seglens, &n) == -1, "headroom + tailroom > stride");
}

/*
 * GRO.
 */

#define NCOLLECT	16

struct collect {
	size_t	n;
	uint8_t	buf[NCOLLECT][70000];
	size_t	len[NCOLLECT];
	int	iovcnt[NCOLLECT];
};

static struct collect	col;

static int
collect_cb(void *arg, const struct iovec *iov, int iovcnt, size_t total)
{
	struct collect	*c = arg;
	size_t		 off = 0;
	int		 i;

	if (c->n >= NCOLLECT)
		return 1;
	for (i = 0; i < iovcnt; i++) {
		memcpy(c->buf[c->n] + off, iov[i].iov_base, iov[i].iov_len);
		off += iov[i].iov_len;
	}
	c->len[c->n] = off;
	c->iovcnt[c->n] = iovcnt;
	c->n++;
	return off == total ? 0 : 1;
}

static uint8_t	inpkts[200][1600];
static size_t	inlens[200];

/*
 * Flushes gro and re-segments each output; the outputs, concatenated in
 * order, must equal the inputs exactly (idx[] lists the expected input
 * order). Returns the number of output packets or -1.
 */
static int
gro_roundtrip(const char *what, struct offload_gro *gro, const int *idx,
    size_t nidx)
{
	struct offload_vnet	vh;
	size_t			i, j, k = 0, n;
	int			ok = 1, hdr_ok = 1;
	uint8_t			*p;

	col.n = 0;
	CHECK(offload_gro_flush(gro, collect_cb, &col) == 0,
	    "%s: flush callbacks", what);
	for (i = 0; i < col.n; i++) {
		p = col.buf[i];
		if (offload_vnet_parse(p, col.len[i], &vh) != 0) {
			ok = 0;
			continue;
		}
		if (vh.gso_type != OFFLOAD_GSO_NONE) {
			/* The kernel's view: CHECKSUM_PARTIAL completes. */
			memcpy(super, p + 10, col.len[i] - 10);
			if (vh.flags != OFFLOAD_VNET_F_NEEDS_CSUM ||
			    vh.hdr_len != iph_len(super) +
			    (l4_proto(super) == IPPROTO_TCP ?
			    (size_t)(super[iph_len(super) + 12] >> 4) * 4 : 8)
			    || vh.csum_start != iph_len(super))
				hdr_ok = 0;
			vh.gso_type = OFFLOAD_GSO_NONE;
			if (offload_csum_complete(&vh, super,
			    col.len[i] - 10) != 0 ||
			    !pkt_valid(super, col.len[i] - 10))
				hdr_ok = 0;
			offload_vnet_parse(p, col.len[i], &vh);
		} else if (memcmp(&vh, &(struct offload_vnet){ 0 },
		    sizeof(vh)) != 0)
			hdr_ok = 0;
		if (seg_all(&vh, p + 10, col.len[i] - 10, segbuf,
		    STRIDE, HEADROOM, TAILROOM, MAXSEGS, seglens, &n) != 0) {
			ok = 0;
			continue;
		}
		for (j = 0; j < n; j++, k++) {
			if (k >= nidx || seglens[j] != inlens[idx[k]] ||
			    memcmp(segbuf + j * STRIDE + HEADROOM,
			    inpkts[idx[k]], seglens[j]) != 0)
				ok = 0;
		}
	}
	CHECK(hdr_ok, "%s: virtio headers and partial checksums", what);
	CHECK(ok && k == nidx, "%s: re-segmentation gives the inputs back",
	    what);
	return ok ? (int)col.n : -1;
}

static void
gro_stream(struct offload_gro *gro, const struct spec *base, size_t n,
    size_t plen)
{
	struct spec	sp = *base;
	size_t		i;

	for (i = 0; i < n; i++) {
		rnd_fill(payload, plen);
		inlens[i] = build(inpkts[i], &sp, payload, plen);
		sp.seq += (uint32_t)plen;
		sp.id++;
	}
	(void)gro;
}

static void
test_gro(void)
{
	static struct offload_gro	gro;
	struct spec			sp;
	int				idx[200], i, r, merged;
	size_t				k;

	for (i = 0; i < 200; i++)
		idx[i] = i;

	/* In order, TCPv4 with options, PSH on the last. */
	spec_default(&sp, 0, IPPROTO_TCP);
	sp.tcpopt = 12;
	gro_stream(&gro, &sp, 30, 1448);
	inpkts[29][20 + 13] |= 0x08;
	pkt_fix(inpkts[29], inlens[29]);
	offload_gro_init(&gro, 0);
	for (merged = 0, i = 0; i < 30; i++)
		merged += offload_gro_add(&gro, inpkts[i], inlens[i]) ==
		    OFFLOAD_GRO_MERGED;
	CHECK(merged == 29, "tcp4: 29 merged (%d)", merged);
	r = gro_roundtrip("tcp4 stream", &gro, idx, 30);
	CHECK(r == 1, "tcp4: one super-packet (%d)", r);
	CHECK(col.iovcnt[0] == 31, "tcp4: header + 30 payload iovecs");
	{
		struct offload_vnet	vh;

		offload_vnet_parse(col.buf[0], col.len[0], &vh);
		CHECK(vh.gso_type == OFFLOAD_GSO_TCPV4 && vh.gso_size == 1448 &&
		    vh.hdr_len == 52 && vh.csum_start == 20 &&
		    vh.csum_offset == 16, "tcp4: virtio header fields");
		CHECK(col.buf[0][10 + 20 + 13] == 0x18, "tcp4: PSH on the"
		    " super-packet");
	}

	/* IPv6, more than 64 KiB: several super-packets. */
	spec_default(&sp, 1, IPPROTO_TCP);
	sp.tcpopt = 12;
	gro_stream(&gro, &sp, 120, 1428);
	offload_gro_init(&gro, 0);
	for (i = 0; i < 120; i++)
		offload_gro_add(&gro, inpkts[i], inlens[i]);
	r = gro_roundtrip("tcp6 stream", &gro, idx, 120);
	CHECK(r == 3, "tcp6: 120 * 1428 bytes in 3 super-packets (%d)", r);
	for (k = 0; k < col.n; k++)
		CHECK(col.len[k] - 10 <= OFFLOAD_MAX_PKT, "tcp6: <= 64 KiB");

	/* Short last segment, then a full one: a new super-packet. */
	spec_default(&sp, 0, IPPROTO_TCP);
	gro_stream(&gro, &sp, 6, 1000);
	offload_gro_init(&gro, 0);
	rnd_fill(payload, 1000);
	sp.seq += 2000;
	sp.id += 2;
	inlens[2] = build(inpkts[2], &sp, payload, 500);
	for (i = 3; i < 6; i++) {
		sp.seq += i == 3 ? 500 : 1000;
		sp.id++;
		inlens[i] = build(inpkts[i], &sp, payload, 1000);
	}
	for (i = 0; i < 6; i++)
		offload_gro_add(&gro, inpkts[i], inlens[i]);
	r = gro_roundtrip("size change", &gro, idx, 6);
	CHECK(r == 2, "size change: 2 outputs (%d)", r);

	/* A bigger segment after a smaller first one is not appended. */
	spec_default(&sp, 0, IPPROTO_TCP);
	offload_gro_init(&gro, 0);
	inlens[0] = build(inpkts[0], &sp, payload, 500);
	sp.seq += 500;
	sp.id++;
	inlens[1] = build(inpkts[1], &sp, payload, 1000);
	offload_gro_add(&gro, inpkts[0], inlens[0]);
	CHECK(offload_gro_add(&gro, inpkts[1], inlens[1]) == OFFLOAD_GRO_HELD,
	    "larger after smaller: held");
	gro_roundtrip("larger after smaller", &gro, idx, 2);

	/* Out of order: 0 2 1 3 gives {0,1} {2,3}. */
	spec_default(&sp, 0, IPPROTO_TCP);
	gro_stream(&gro, &sp, 4, 1200);
	offload_gro_init(&gro, 0);
	offload_gro_add(&gro, inpkts[0], inlens[0]);
	offload_gro_add(&gro, inpkts[2], inlens[2]);
	CHECK(offload_gro_add(&gro, inpkts[1], inlens[1]) ==
	    OFFLOAD_GRO_MERGED, "reordered 1 joins 0");
	CHECK(offload_gro_add(&gro, inpkts[3], inlens[3]) ==
	    OFFLOAD_GRO_MERGED, "reordered 3 joins 2");
	r = gro_roundtrip("reordered", &gro, idx, 4);
	CHECK(r == 2, "reordered: 2 outputs");
	/* A gap: nothing merges. */
	offload_gro_init(&gro, 0);
	offload_gro_add(&gro, inpkts[0], inlens[0]);
	CHECK(offload_gro_add(&gro, inpkts[2], inlens[2]) == OFFLOAD_GRO_HELD,
	    "gap: held");
	CHECK(offload_gro_add(&gro, inpkts[0], inlens[0]) == OFFLOAD_GRO_HELD,
	    "duplicate: held");
	offload_gro_flush(&gro, collect_cb, &col);

	/* Two flows interleaved. */
	{
		struct spec	a, b;
		int		order[8] = { 0, 2, 4, 6, 1, 3, 5, 7 };

		spec_default(&a, 0, IPPROTO_TCP);
		b = a;
		b.sport++;
		b.seq = 77;
		for (i = 0; i < 8; i++) {
			struct spec	*s = i & 1 ? &b : &a;

			rnd_fill(payload, 900);
			inlens[i] = build(inpkts[i], s, payload, 900);
			s->seq += 900;
			s->id++;
		}
		offload_gro_init(&gro, 0);
		for (i = 0; i < 8; i++)
			offload_gro_add(&gro, inpkts[i], inlens[i]);
		r = gro_roundtrip("two flows", &gro, order, 8);
		CHECK(r == 2, "two flows: one super-packet each (%d)", r);
	}

	/*
	 * Changes that must break coalescing at packet 2 of 4, and two that
	 * must not: none, and a wrong checksum (the AEAD vouched for it).
	 */
	{
		static const struct {
			const char	*what;
			int		 field;
			int		 merged;
		} cases[] = {
			{ "SYN", 1, 1 }, { "FIN", 2, 1 }, { "RST", 3, 1 },
			{ "URG", 4, 1 }, { "ECE", 5, 1 }, { "CWR", 6, 1 },
			{ "PSH mid-stream", 7, 2 }, { "ack", 8, 1 },
			{ "TTL", 9, 1 }, { "TOS", 10, 1 }, { "window", 11, 1 },
			{ "ip id jump", 12, 1 }, { "tcp options", 13, 1 },
			{ "bad checksum (not verified)", 14, 3 },
			{ "DF", 15, 1 },
			{ "no change", 0, 3 },
		};
		size_t	c;

		for (c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
			spec_default(&sp, 0, IPPROTO_TCP);
			sp.tcpopt = 12;
			merged = 0;
			offload_gro_init(&gro, 0);
			for (i = 0; i < 4; i++) {
				struct spec	s = sp;

				if (i == 2) {
					switch (cases[c].field) {
					case 1: s.flags |= 0x02; break;
					case 2: s.flags |= 0x01; break;
					case 3: s.flags |= 0x04; break;
					case 4: s.flags |= 0x20; break;
					case 5: s.flags |= 0x40; break;
					case 6: s.flags |= 0x80; break;
					case 7: s.flags |= 0x08; break;
					case 8: s.ack++; break;
					case 9: s.ttl--; break;
					case 10: s.tos = 4; break;
					case 11: s.window++; break;
					case 12: s.id += 5; break;
					case 13: s.tcpopt = 8; break;
					case 15: s.df = 0; break;
					}
				}
				rnd_fill(payload, 1000);
				inlens[i] = build(inpkts[i], &s, payload,
				    1000);
				if (cases[c].field == 14 && i == 2)
					inpkts[i][100] ^= 1;
				if (offload_gro_add(&gro, inpkts[i],
				    inlens[i]) == OFFLOAD_GRO_MERGED)
					merged++;
				sp.seq += 1000;
				sp.id++;
			}
			CHECK(merged == cases[c].merged, "%s: %d merged, "
			    "expected %d", cases[c].what, merged,
			    cases[c].merged);
			if (cases[c].field != 14)
				gro_roundtrip(cases[c].what, &gro, idx, 4);
			else
				offload_gro_flush(&gro, collect_cb, &col);
		}
	}

	/* DF with a fixed IPv4 id coalesces; without DF it must count. */
	spec_default(&sp, 0, IPPROTO_TCP);
	offload_gro_init(&gro, 0);
	for (merged = 0, i = 0; i < 5; i++) {
		rnd_fill(payload, 800);
		inlens[i] = build(inpkts[i], &sp, payload, 800);
		merged += offload_gro_add(&gro, inpkts[i], inlens[i]) ==
		    OFFLOAD_GRO_MERGED;
		sp.seq += 800;
	}
	CHECK(merged == 4, "DF fixed id: merged");
	offload_gro_flush(&gro, collect_cb, &col);
	spec_default(&sp, 0, IPPROTO_TCP);
	sp.df = 0;
	offload_gro_init(&gro, 0);
	for (merged = 0, i = 0; i < 3; i++) {
		inlens[i] = build(inpkts[i], &sp, payload, 800);
		merged += offload_gro_add(&gro, inpkts[i], inlens[i]) ==
		    OFFLOAD_GRO_MERGED;
		sp.seq += 800;
	}
	CHECK(merged == 0, "no DF, fixed id: not merged");
	offload_gro_flush(&gro, collect_cb, &col);

	/* UDP: only with OFFLOAD_GRO_UDP. */
	for (i = 0; i < 2; i++) {
		int	v6;

		for (v6 = 0; v6 < 2; v6++) {
			spec_default(&sp, v6, IPPROTO_UDP);
			offload_gro_init(&gro, i ? OFFLOAD_GRO_UDP : 0);
			for (merged = 0, k = 0; k < 10; k++) {
				rnd_fill(payload, 1200);
				inlens[k] = build(inpkts[k], &sp, payload,
				    k == 9 ? 33 : 1200);
				merged += offload_gro_add(&gro, inpkts[k],
				    inlens[k]) == OFFLOAD_GRO_MERGED;
				sp.id++;
			}
			CHECK(merged == (i ? 9 : 0), "udp%d gro %d: %d merged",
			    v6 ? 6 : 4, i, merged);
			r = gro_roundtrip(v6 ? "udp6" : "udp4", &gro, idx, 10);
			CHECK(r == (i ? 1 : 10), "udp: outputs %d", r);
		}
	}

	/* Non-IP and odd packets are held and written unchanged. */
	offload_gro_init(&gro, 0);
	memset(inpkts[0], 0, 64);
	inlens[0] = 64;
	CHECK(offload_gro_add(&gro, inpkts[0], 64) == OFFLOAD_GRO_HELD,
	    "junk held");
	CHECK(offload_gro_add(&gro, inpkts[0], 0) == OFFLOAD_GRO_BAD,
	    "empty refused");
	CHECK(offload_gro_add(&gro, inpkts[0], 70000) == OFFLOAD_GRO_BAD,
	    "too long refused");
	col.n = 0;
	offload_gro_flush(&gro, collect_cb, &col);
	CHECK(col.n == 1 && col.len[0] == 74 && col.iovcnt[0] == 2 &&
	    memcmp(col.buf[0] + 10, inpkts[0], 64) == 0, "junk written as is");

	/* The table fills up. */
	offload_gro_init(&gro, 0);
	for (i = 0; i < OFFLOAD_GRO_MAX_PKTS; i++)
		if (offload_gro_add(&gro, inpkts[0], 64) != OFFLOAD_GRO_HELD)
			break;
	CHECK(i == OFFLOAD_GRO_MAX_PKTS &&
	    offload_gro_add(&gro, inpkts[0], 64) == OFFLOAD_GRO_FULL,
	    "full after %d", OFFLOAD_GRO_MAX_PKTS);
	col.n = 0;
	CHECK(offload_gro_flush(&gro, collect_cb, &col) ==
	    OFFLOAD_GRO_MAX_PKTS - NCOLLECT, "failed callbacks counted");
	CHECK(offload_gro_add(&gro, inpkts[0], 64) == OFFLOAD_GRO_HELD,
	    "empty after flush");
	offload_gro_flush(&gro, collect_cb, &col);
}

static void
test_gso_run(void)
{
	size_t	a[] = { 1000, 1000, 1000, 400, 1000 };
	size_t	b[] = { 1000, 1200, 1000 };
	size_t	c[] = { 1000, 1000, 1000, 1000 };

	CHECK(offload_gso_run(a, 0, 64, 65000) == 0, "gso run: none");
	CHECK(offload_gso_run(a, 5, 64, 65000) == 4, "gso run: short last");
	CHECK(offload_gso_run(b, 3, 64, 65000) == 1, "gso run: bigger next");
	CHECK(offload_gso_run(c, 4, 3, 65000) == 3, "gso run: max segs");
	CHECK(offload_gso_run(c, 4, 64, 2500) == 2, "gso run: max bytes");
	CHECK(offload_gso_run(c, 1, 64, 500) == 1, "gso run: one");
}

static int
fuzz_cb(void *arg, const struct iovec *iov, int iovcnt, size_t total)
{
	size_t	sum = 0;
	int	i;

	for (i = 0; i < iovcnt; i++)
		sum += iov[i].iov_len;
	*(int *)arg += sum != total;
	return 0;
}

static void
test_fuzz(void)
{
	static struct offload_gro	gro;
	struct offload_vnet		vh;
	struct spec			sp;
	uint8_t				vb[10];
	static uint8_t			fz[200][1600];
	size_t				len, n, i;
	int				k, bad = 0, accepted = 0, valid = 1;

	/* Random headers and bytes. */
	for (k = 0; k < 20000; k++) {
		rnd_fill(vb, sizeof(vb));
		len = rnd() % 3000;
		rnd_fill(super, len);
		if (k & 1)
			super[0] = (k & 2) ? 0x45 : 0x60;
		if (offload_vnet_parse(vb, sizeof(vb), &vh) != 0) {
			vh.flags = OFFLOAD_VNET_F_NEEDS_CSUM;
			vh.gso_type = (uint8_t)(k % 6);
			vh.gso_size = (uint16_t)(rnd() % 2000);
			vh.csum_start = (uint16_t)(rnd() % 64);
			vh.csum_offset = (uint16_t)(rnd() % 20);
		}
		if (seg_all(&vh, super, len, segbuf, STRIDE, HEADROOM,
		    TAILROOM, MAXSEGS, seglens, &n) == 0) {
			accepted++;
			/* What is taken fits the stride, as promised. */
			for (i = 0; i < n; i++)
				if (seglens[i] == 0 || seglens[i] > STRIDE -
				    HEADROOM - TAILROOM)
					valid = 0;
			if (vh.gso_type == OFFLOAD_GSO_NONE &&
			    (n != 1 || seglens[0] != len))
				valid = 0;
		}
		offload_csum_complete(&vh, super, len);
	}
	CHECK(valid && accepted > 0, "random virtio headers and packets: "
	    "%d taken, each segment within its stride", accepted);
	valid = 1;

	/* Mutated valid super-packets: whatever is accepted verifies. */
	for (k = 0; k < 3000; k++) {
		spec_default(&sp, k & 1, k & 2 ? IPPROTO_UDP : IPPROTO_TCP);
		sp.tcpopt = (size_t)(k % 11) * 4;
		len = build(super, &sp, payload, 1 + rnd() % 8000);
		make_partial(super, len, &vh, sp.proto == IPPROTO_UDP ?
		    OFFLOAD_GSO_UDP_L4 : sp.v6 ? OFFLOAD_GSO_TCPV6 :
		    OFFLOAD_GSO_TCPV4, (uint16_t)(1 + rnd() % 1500));
		for (i = rnd() % 4; i > 0; i--)
			super[rnd() % (sp.v6 ? 80 : 60)] = (uint8_t)rnd();
		if (rnd() % 4 == 0)
			len -= rnd() % len;
		if (seg_all(&vh, super, len, segbuf, STRIDE, HEADROOM,
		    TAILROOM, MAXSEGS, seglens, &n) != 0)
			continue;
		for (i = 0; i < n; i++)
			if (!pkt_valid(segbuf + i * STRIDE + HEADROOM,
			    seglens[i]))
				valid = 0;
	}
	CHECK(valid, "mutated super-packets: accepted ones verify");

	/* GRO on random and mutated packets. */
	for (k = 0; k < 300; k++) {
		offload_gro_init(&gro, k & 1 ? OFFLOAD_GRO_UDP : 0);
		spec_default(&sp, k & 2 ? 1 : 0, k & 4 ? IPPROTO_UDP :
		    IPPROTO_TCP);
		for (i = 0; i < 200; i++) {
			len = 1 + rnd() % 1500;
			if (rnd() % 3) {
				rnd_fill(payload, 1400);
				len = build(fz[i], &sp, payload, rnd() % 3 ?
				    1000 : rnd() % 1100);
				sp.seq += 1000;
				sp.id++;
				if (rnd() % 5 == 0)
					fz[i][rnd() % 60] ^= (uint8_t)rnd();
			} else
				rnd_fill(fz[i], len);
			if (offload_gro_add(&gro, fz[i], len) ==
			    OFFLOAD_GRO_FULL) {
				offload_gro_flush(&gro, fuzz_cb, &bad);
				offload_gro_add(&gro, fz[i], len);
			}
		}
		offload_gro_flush(&gro, fuzz_cb, &bad);
	}
	CHECK(bad == 0, "gro fuzz: iovec totals consistent");
}

static double
now_s(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * fwd_offload.c on the fake pool (tests/lib/fake_pool.c): every pool
 * buffer is its own exact allocation with guard pages (or ASan redzones)
 * around it, so a segment written past a buffer's end crashes the test.
 */
#define FO_WGHDR	16	/* the WireGuard header goes in front */
#define FO_TAIL		31	/* padding and tag go after */
#define FO_SEGS_MAX	65536

static struct fwd_buf	*fo_b[FO_SEGS_MAX];
static uint32_t		 fo_off[FO_SEGS_MAX], fo_len[FO_SEGS_MAX];
static size_t		 fo_n;
static int		 fo_over;

static void
fo_out(struct fwd_buf *b, uint32_t off, uint32_t len)
{
	if (fo_n == FO_SEGS_MAX) {
		fo_over = 1;
		fwd_buf_put(b);
		return;
	}
	fo_b[fo_n] = b;
	fo_off[fo_n] = off;
	fo_len[fo_n] = len;
	fo_n++;
}

/*
 * Checks what fwd_offload_tun_in made of a super-packet (headers of
 * hdrlen bytes, pl bytes of payload, gso): every segment, in order,
 * inside its buffer with room for the header before it and padding and
 * tag after it, apart from its neighbours, its bytes right (when
 * content). Releases the segments. Returns the number of buffers used,
 * or 0 with why set.
 */
static size_t
fo_verify(size_t hdrlen, size_t pl, size_t gso, int content, char *why,
    size_t whylen)
{
	size_t	i, want = (pl + gso - 1) / gso, seg, nbufs = 0;
	int	ok = 1;

	if (fo_over || fo_n != want) {
		snprintf(why, whylen, "%zu segments, want %zu", fo_n, want);
		ok = 0;
	}
	for (i = 0; ok && i < fo_n; i++) {
		seg = pl - i * gso < gso ? pl - i * gso : gso;
		if (fo_off[i] < FO_WGHDR || fo_off[i] > FWD_BUF_SIZE ||
		    fo_len[i] > FWD_BUF_SIZE - FO_TAIL - fo_off[i]) {
			snprintf(why, whylen, "segment %zu at %u+%u: out of its "
			    "buffer", i, fo_off[i], fo_len[i]);
			ok = 0;
		} else if (i > 0 && fo_b[i] == fo_b[i - 1] && fo_off[i] -
		    FO_WGHDR < fo_off[i - 1] + fo_len[i - 1] + FO_TAIL) {
			snprintf(why, whylen, "segment %zu at %u overlaps the "
			    "one before (%u+%u)", i, fo_off[i], fo_off[i - 1],
			    fo_len[i - 1]);
			ok = 0;
		} else if (fo_len[i] != hdrlen + seg) {
			snprintf(why, whylen, "segment %zu: %u bytes, want %zu",
			    i, fo_len[i], hdrlen + seg);
			ok = 0;
		} else if (content && (((i == 0 || i + 1 == fo_n) &&
		    !pkt_valid(fo_b[i]->base + fo_off[i], fo_len[i])) ||
		    memcmp(fo_b[i]->base + fo_off[i] + hdrlen,
		    payload + i * gso, seg) != 0)) {
			snprintf(why, whylen, "segment %zu: bad bytes", i);
			ok = 0;
		}
		if (i == 0 || fo_b[i] != fo_b[i - 1])
			nbufs++;
	}
	for (i = 0; i < fo_n; i++)
		fwd_buf_put(fo_b[i]);
	fo_n = 0;
	fo_over = 0;
	return ok ? nbufs : 0;
}

/*
 * A super-packet in b as TUN hands it over: headers of sp for pl bytes
 * of payload. With fill, the payload is copied in too; without, the
 * bytes of the last call stay (the same headers' length, a longer
 * payload).
 */
static void
fo_super(struct fwd_buf *b, const struct spec *sp, size_t pl, uint16_t gso,
    int fill)
{
	struct offload_vnet	 vh;
	uint8_t			*pkt = b->base + FWD_HEADROOM +
				    OFFLOAD_VNET_HDR_LEN;
	size_t			 hdr = spec_hdrlen(sp), len = hdr + pl;

	build(pkt, sp, payload, 0);
	if (fill)
		memcpy(pkt + hdr, payload, pl);
	if (!sp->v6) {
		put16(pkt + 2, (uint16_t)len);
		pkt[10] = pkt[11] = 0;
		put16(pkt + 10, (uint16_t)~ref_fold(ref_sum(pkt, hdr -
		    (sp->proto == IPPROTO_TCP ? 20 + sp->tcpopt : 8), 0)));
	} else
		put16(pkt + 4, (uint16_t)(len - 40));
	if (sp->proto == IPPROTO_UDP)
		put16(pkt + len - pl - 8 + 4, (uint16_t)(8 + pl));
	make_partial(pkt, len, &vh, sp->proto == IPPROTO_UDP ?
	    OFFLOAD_GSO_UDP_L4 : sp->v6 ? OFFLOAD_GSO_TCPV6 :
	    OFFLOAD_GSO_TCPV4, gso);
	offload_vnet_write(&vh, b->base + FWD_HEADROOM);
	b->off = FWD_HEADROOM;
	b->len = (uint32_t)(OFFLOAD_VNET_HDR_LEN + len);
}

/*
 * Every gso size from 1 to the largest, TCP and UDP over IPv4 and IPv6,
 * each with the largest payload (so that the segments fill as many
 * buffers as a super-packet can) ending in a short segment, and with
 * only full segments. The segments of a smaller count are a prefix of
 * these (same sizes, same places), so every count is covered. Where a
 * super-packet still spans more than one buffer, every size is taken
 * and every segment's bytes checked (checksums on the first and last);
 * above it (one buffer holds it all), the places only, for every 61st
 * size and the last 64.
 */
static void
test_tun_in_sweep(void)
{
	static const struct { int v6; uint8_t proto; const char *name; }
	    kinds[] = {
		{ 0, IPPROTO_TCP, "TCPv4" }, { 1, IPPROTO_TCP, "TCPv6" },
		{ 0, IPPROTO_UDP, "UDPv4" }, { 1, IPPROTO_UDP, "UDPv6" },
	};
	struct spec	 sp;
	struct fwd_buf	*b;
	size_t		 k, hdr, maxpl, pl, gso, nb, multi, sizes;
	uint64_t	 drops0;
	char		 why[160];
	double		 t0 = now_s();
	int		 v, bad;

	rnd_fill(payload, sizeof(payload));
	fake_pool_limit(0);
	for (k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		spec_default(&sp, kinds[k].v6, kinds[k].proto);
		sp.tcpopt = 12;		/* timestamps, as Linux sends */
		hdr = spec_hdrlen(&sp);
		maxpl = OFFLOAD_MAX_PKT - hdr;
		bad = 0;
		multi = sizes = 0;
		drops0 = fwd_offload_drops();
		b = fwd_buf_get();
		fo_super(b, &sp, maxpl, 1, 1);
		for (gso = 1; gso <= maxpl && !bad; gso++) {
			if (multi > 0 && gso > multi + 1 && gso % 61 != 0 &&
			    gso + 64 <= maxpl)
				continue;
			sizes++;
			for (v = 0; v < 2 && !bad; v++) {
				pl = v == 0 ? maxpl : maxpl / gso * gso;
				if (v == 1 && pl == maxpl)
					break;
				fo_super(b, &sp, pl, (uint16_t)gso, 0);
				fwd_buf_ref(b);
				fwd_offload_tun_in(b, fo_out);
				nb = fo_verify(hdr, pl, gso, multi == 0, why,
				    sizeof(why));
				if (nb == 0) {
					CHECK(0, "%s gso %zu payload %zu: %s",
					    kinds[k].name, gso, pl, why);
					bad = 1;
				}
				/* The last size that needs a second buffer. */
				if (nb == 1 && multi == 0 && gso > 1)
					multi = gso - 1;
				CHECK(b->refs == 1, "%s gso %zu: input buffer "
				    "refs %u", kinds[k].name, gso, b->refs);
			}
		}
		fwd_buf_put(b);
		CHECK(!bad && fwd_offload_drops() == drops0 &&
		    fake_pool_out() == 0, "%s: TUN-in split of every gso "
		    "1..%zu (%zu sizes, all up to %zu) in exact buffers: in "
		    "bounds, apart, bytes right, no drop, no buffer left",
		    kinds[k].name, maxpl, sizes, multi);
	}
	printf("TUN-in sweep: %.1f s\n", now_s() - t0);
}

/* A short pool: what does not fit is dropped and counted, no leak. */
static void
test_tun_in_pool(void)
{
	struct spec	 sp;
	struct fwd_buf	*b;
	uint64_t	 drops0 = fwd_offload_drops();
	uint64_t	 nobuf0 = fwd_offload_nobuf();
	size_t		 i, n;
	int		 ok = 1;

	spec_default(&sp, 0, IPPROTO_UDP);
	fake_pool_limit(2);	/* the input and one for segments */
	b = fwd_buf_get();
	fo_super(b, &sp, 60000, 100, 1);
	fwd_offload_tun_in(b, fo_out);
	n = fo_n;
	for (i = 0; i < fo_n; i++)
		if (fo_off[i] < FO_WGHDR ||
		    fo_len[i] > FWD_BUF_SIZE - FO_TAIL - fo_off[i])
			ok = 0;
	for (i = 0; i < fo_n; i++)
		fwd_buf_put(fo_b[i]);
	fo_n = 0;
	fake_pool_limit(0);
	CHECK(ok && n > 0 && n < 600 && fwd_offload_nobuf() - nobuf0 ==
	    600 - n && fwd_offload_drops() == drops0 &&
	    fake_pool_out() == 0, "TUN-in split with 2 free buffers: %zu of "
	    "600 segments out, %llu counted as no buffer, %llu as refused, "
	    "%u buffers left", n, (unsigned long long)(fwd_offload_nobuf() -
	    nobuf0), (unsigned long long)(fwd_offload_drops() - drops0),
	    fake_pool_out());

	/* A refused header: dropped, counted, buffer released. */
	b = fwd_buf_get();
	fo_super(b, &sp, 1000, 100, 1);
	b->base[FWD_HEADROOM + 1] = OFFLOAD_GSO_ECN;
	drops0 = fwd_offload_drops();
	fwd_offload_tun_in(b, fo_out);
	CHECK(fo_n == 0 && fwd_offload_drops() == drops0 + 1 &&
	    fake_pool_out() == 0, "TUN-in: refused header dropped");
}

/* What fwd_offload.c writes to TUN, kept for the GRO test. */
static uint8_t	fo_tun[64][FWD_BUF_SIZE];
static size_t	fo_tunlen[64], fo_ntun;
static int	fo_tunbad;

static void
fo_emit(struct fwd_buf *b, uint32_t off, uint32_t len)
{
	if (off > FWD_BUF_SIZE || len > FWD_BUF_SIZE - off ||
	    len < OFFLOAD_VNET_HDR_LEN || fo_ntun == 64)
		fo_tunbad++;
	else {
		memcpy(fo_tun[fo_ntun], b->base + off, len);
		fo_tunlen[fo_ntun++] = len;
	}
	fwd_buf_put(b);
}

/*
 * The receive side: decrypted packets laid out in pool buffers as
 * forward.c has them (a WireGuard header before each, a tag after), a
 * TCP stream coalesced into one super-packet written from a buffer of
 * its own, a packet that cannot be coalesced written in place behind a
 * zero virtio-net header, every buffer released.
 */
static void
test_gro_glue(void)
{
	struct fwd_gro		*gro;
	struct offload_vnet	 vh;
	struct spec		 sp;
	struct fwd_buf		*bufs[4];
	size_t			 i, k, off, len, pl = 1000, nseg = 40;
	uint8_t			*pkt, *at;
	int			 ok;

	gro = fwd_offload_init(1, fo_emit);
	rnd_fill(payload, sizeof(payload));
	spec_default(&sp, 0, IPPROTO_TCP);
	for (k = 0; k < 4; k++)
		bufs[k] = fwd_buf_get();
	/* Ten segments a buffer (as one UDP_GRO receive), back to back. */
	for (i = 0; i < nseg; i++) {
		k = i / 10;
		off = FWD_HEADROOM + (i % 10) * (16 + 1100 + 16) + 16;
		pkt = bufs[k]->base + off;
		len = build(pkt, &sp, payload + i * pl, pl);
		sp.seq += (uint32_t)pl;
		sp.id++;
		fwd_offload_tun_out(gro, bufs[k], (uint32_t)off,
		    (uint32_t)len);
	}
	/* ICMP: never coalesced. */
	off = FWD_HEADROOM + 10 * (16 + 1100 + 16) + 16;
	pkt = bufs[3]->base + off;
	memset(pkt, 0, 28);
	pkt[0] = 0x45;
	put16(pkt + 2, 28);
	pkt[8] = 64;
	pkt[9] = IPPROTO_ICMP;
	memcpy(pkt + 12, src4, 4);
	memcpy(pkt + 16, dst4, 4);
	fwd_offload_tun_out(gro, bufs[3], (uint32_t)off, 28);
	fo_ntun = 0;
	fo_tunbad = 0;
	fwd_offload_flush(gro);
	for (k = 0; k < 4; k++)
		fwd_buf_put(bufs[k]);

	ok = fo_ntun == 2 && fo_tunbad == 0 &&
	    offload_vnet_parse(fo_tun[0], fo_tunlen[0], &vh) == 0 &&
	    vh.gso_type == OFFLOAD_GSO_TCPV4 && vh.gso_size == pl &&
	    fo_tunlen[0] == OFFLOAD_VNET_HDR_LEN + 40 + nseg * pl &&
	    memcmp(fo_tun[0] + OFFLOAD_VNET_HDR_LEN + 40, payload,
	    nseg * pl) == 0;
	at = fo_tun[1];
	ok = ok && fo_tunlen[1] == OFFLOAD_VNET_HDR_LEN + 28 &&
	    memcmp(at, (uint8_t[OFFLOAD_VNET_HDR_LEN]){ 0 },
	    OFFLOAD_VNET_HDR_LEN) == 0 && at[OFFLOAD_VNET_HDR_LEN + 9] ==
	    IPPROTO_ICMP;
	CHECK(ok && fake_pool_out() == 0, "GRO through fwd_offload: %zu "
	    "writes (%d bad), stream of %zu coalesced into one, ICMP in "
	    "place, %u buffers left", fo_ntun, fo_tunbad, nseg,
	    fake_pool_out());
}


/* GRO output for the timing: only the bytes are counted. */
static int
perf_cb(void *arg, const struct iovec *iov, int iovcnt, size_t total)
{
	(void)iov;
	(void)iovcnt;
	*(size_t *)arg += total;
	return 0;
}

static void
test_perf(void)
{
	static uint8_t		buf[65536];
	static struct offload_gro gro;
	struct offload_vnet	vh;
	struct spec		sp;
	volatile uint16_t	sink = 0;
	double			t;
	size_t			n, k, len, total = 0;
	int			i, iters = 20000;

	rnd_fill(buf, sizeof(buf));
	t = now_s();
	for (i = 0; i < iters; i++)
		sink ^= offload_csum(buf + (i & 1), sizeof(buf) - 1, 0);
	t = now_s() - t;
	printf("checksum: %.2f GB/s\n", (double)iters * 65535 / t / 1e9);

	t = now_s();
	for (i = 0; i < iters / 10; i++)
		sink ^= ref_fold(ref_sum(buf, sizeof(buf), 0));
	t = now_s() - t;
	printf("checksum (reference, 16 bits at a time): %.2f GB/s\n",
	    (double)iters / 10 * 65536 / t / 1e9);

	spec_default(&sp, 0, IPPROTO_TCP);
	sp.tcpopt = 12;
	len = build(super, &sp, buf, 65535 - 52);
	make_partial(super, len, &vh, OFFLOAD_GSO_TCPV4, 1368);
	t = now_s();
	for (i = 0; i < iters / 10; i++)
		seg_all(&vh, super, len, segbuf, STRIDE, HEADROOM,
		    TAILROOM, MAXSEGS, seglens, &n);
	t = now_s() - t;
	printf("segmentation (64 KiB TCPv4, MSS 1368): %.2f GB/s\n",
	    (double)iters / 10 * (double)len / t / 1e9);

	/* Those segments coalesced again, as decrypted packets are. */
	t = now_s();
	for (i = 0; i < iters / 10; i++) {
		offload_gro_init(&gro, 0);
		for (k = 0; k < n; k++)
			(void)offload_gro_add(&gro, segbuf + k * STRIDE +
			    HEADROOM, seglens[k]);
		(void)offload_gro_flush(&gro, perf_cb, &total);
	}
	t = now_s() - t;
	printf("coalescing (%zu TCPv4 segments into one): %.2f GB/s\n", n,
	    (double)total / t / 1e9);
	(void)sink;
}

/*
 * The kernel part (root only, in a private network namespace made by a
 * child process): which TUNSETOFFLOAD flags and UDP socket options this
 * kernel has, a UDP_SEGMENT send read back from TUN as a USO
 * super-packet, and a TCP stream between two sockets of this process
 * looped through the TUN by a 1:1 NAT (10.77.0.1 -> 10.77.0.2 comes
 * back as 10.77.0.3 -> 10.77.0.1, and the replies likewise), every
 * super-packet split by offload_segment and the segments coalesced
 * again by the GRO before they are written back.
 */
#define K_IF		"wgoff0"
#define K_STREAM	(256u << 20)

struct kstate {
	int		 tun;
	volatile int	 done;
	int		 lfd;
	uint64_t	 got;
	int		 pattern_ok;
	int		 v6;
	uint64_t	 reads, gso_reads, segs, writes, gso_writes, drops;
};

/* struct in6_ifreq of <linux/ipv6.h>, which clashes with libc's. */
struct k_in6_ifreq {
	struct in6_addr	addr;
	uint32_t	prefixlen;
	int		ifindex;
};

static uint8_t
k_pattern(uint64_t off)
{
	return (uint8_t)(off % 251);
}

static int
k_ifreq(int s, unsigned long req, int family, const char *addr, int val)
{
	struct ifreq		 ifr;
	struct sockaddr_in	*sin = (struct sockaddr_in *)&ifr.ifr_addr;

	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, K_IF);
	if (addr != NULL) {
		sin->sin_family = (sa_family_t)family;
		inet_pton(AF_INET, addr, &sin->sin_addr);
	}
	if (req == SIOCSIFMTU)
		ifr.ifr_mtu = val;
	if (req == SIOCSIFFLAGS)
		ifr.ifr_flags = (short)val;
	return ioctl(s, req, &ifr);
}

static void
k_sysctl(const char *path, const char *val)
{
	int	fd;

	if ((fd = open(path, O_WRONLY)) == -1)
		return;
	if (write(fd, val, strlen(val)) < 0)
		(void)0;
	close(fd);
}

static void *
k_server(void *arg)
{
	struct kstate	*ks = arg;
	static uint8_t	 buf[1 << 16], pat[(1 << 16) + 251];
	ssize_t		 n, i;
	int		 fd;

	for (i = 0; i < (ssize_t)sizeof(pat); i++)
		pat[i] = k_pattern((uint64_t)i);

	if ((fd = accept(ks->lfd, NULL, NULL)) == -1) {
		ks->done = 1;
		return NULL;
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		if (memcmp(buf, pat + ks->got % 251, (size_t)n) != 0)
			ks->pattern_ok = 0;
		ks->got += (uint64_t)n;
	}
	close(fd);
	ks->done = 1;
	return NULL;
}

static void *
k_client(void *arg)
{
	struct kstate		*ks = arg;
	struct sockaddr_storage	 ss;
	struct sockaddr_in	*sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&ss;
	static uint8_t		 buf[(1 << 16) + 251];
	uint64_t		 sent = 0;
	ssize_t			 n;
	size_t			 i, want;
	int			 fd;

	for (i = 0; i < sizeof(buf); i++)
		buf[i] = k_pattern(i);
	memset(&ss, 0, sizeof(ss));
	if (ks->v6) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(5001);
		inet_pton(AF_INET6, "fd77::2", &sin6->sin6_addr);
	} else {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(5001);
		inet_pton(AF_INET, "10.77.0.2", &sin->sin_addr);
	}
	if ((fd = socket(ks->v6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0)) == -1)
		return NULL;
	if (connect(fd, (struct sockaddr *)&ss, sizeof(ss)) == -1) {
		close(fd);
		return NULL;
	}
	while (sent < K_STREAM) {
		want = 1 << 16;
		if (want > K_STREAM - sent)
			want = (size_t)(K_STREAM - sent);
		if ((n = write(fd, buf + sent % 251, want)) <= 0)
			break;
		sent += (uint64_t)n;
	}
	close(fd);
	return NULL;
}

static int
k_write_cb(void *arg, const struct iovec *iov, int iovcnt, size_t total)
{
	struct kstate	*ks = arg;

	ks->writes++;
	if (((const uint8_t *)iov[0].iov_base)[1] != OFFLOAD_GSO_NONE)
		ks->gso_writes++;
	return writev(ks->tun, iov, iovcnt) == (ssize_t)total ? 0 : -1;
}

/* The 1:1 NAT that sends the kernel's packets back to itself. */
static int
k_reflect(uint8_t *pkt, size_t len)
{
	static const uint8_t	pfx[15] = { 0xfd, 0x77 };
	size_t			at;
	uint16_t		c;

	if (len >= 60 && pkt[0] >> 4 == 6) {
		if (memcmp(pkt + 24, pfx, 15) != 0 ||
		    (pkt[6] != IPPROTO_TCP && pkt[6] != IPPROTO_UDP))
			return -1;
		if (pkt[39] == 2)
			pkt[23] = 3;
		else if (pkt[39] == 3)
			pkt[23] = 2;
		else
			return -1;
		pkt[39] = 1;
		at = 40 + (pkt[6] == IPPROTO_TCP ? 16 : 6);
		pkt[at] = pkt[at + 1] = 0;
		c = offload_csum(pkt + 40, len - 40, offload_pseudo6(pkt + 8,
		    pkt + 24, pkt[6], (uint32_t)(len - 40)));
		memcpy(pkt + at, &c, 2);
		return 0;
	}
	if (len < 20 || pkt[0] != 0x45 || pkt[16] != 10 || pkt[17] != 77 ||
	    pkt[18] != 0)
		return -1;
	if (pkt[19] == 2)
		pkt[15] = 3;
	else if (pkt[19] == 3)
		pkt[15] = 2;
	else
		return -1;
	pkt[19] = 1;
	/* With the module's own checksums (the reference is slow). */
	pkt[10] = pkt[11] = 0;
	c = offload_csum(pkt, 20, 0);
	memcpy(pkt + 10, &c, 2);
	at = 20 + (pkt[9] == IPPROTO_TCP ? 16 : 6);
	if (at + 2 > len)
		return -1;
	pkt[at] = pkt[at + 1] = 0;
	c = offload_csum(pkt + 20, len - 20, offload_pseudo4(pkt + 12,
	    pkt + 16, pkt[9], (uint32_t)(len - 20)));
	memcpy(pkt + at, &c, 2);
	return 0;
}

/* One TCP stream, IPv4 or IPv6, through the NAT on the TUN. */
static void
k_stream(int tun, int v6, int uso)
{
	static struct offload_gro	 gro;
	static uint8_t			 rbuf[OFFLOAD_VNET_HDR_LEN + 65536];
	struct offload_vnet		 vh;
	struct kstate			 ks;
	struct sockaddr_storage		 ss;
	struct sockaddr_in		*sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6		*sin6 = (struct sockaddr_in6 *)&ss;
	struct pollfd			 pfd;
	pthread_t			 srv, cli;
	size_t				 i, n;
	ssize_t				 r;
	double				 t0, t;
	int				 v = 1;

	memset(&ks, 0, sizeof(ks));
	ks.tun = tun;
	ks.v6 = v6;
	ks.pattern_ok = 1;
	memset(&ss, 0, sizeof(ss));
	if (v6) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(5001);
		inet_pton(AF_INET6, "fd77::1", &sin6->sin6_addr);
	} else {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(5001);
		inet_pton(AF_INET, "10.77.0.1", &sin->sin_addr);
	}
	ks.lfd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
	setsockopt(ks.lfd, SOL_SOCKET, SO_REUSEADDR, &v, sizeof(v));
	if (bind(ks.lfd, (struct sockaddr *)&ss, sizeof(ss)) == -1 ||
	    listen(ks.lfd, 1) == -1) {
		CHECK(0, "listen: %s", strerror(errno));
		close(ks.lfd);
		return;
	}
	offload_gro_init(&gro, uso ? OFFLOAD_GRO_UDP : 0);
	pthread_create(&srv, NULL, k_server, &ks);
	pthread_create(&cli, NULL, k_client, &ks);
	t0 = now_s();
	while (!ks.done && now_s() - t0 < 30) {
		pfd.fd = tun;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, 100) != 1)
			continue;
		if ((r = read(tun, rbuf, sizeof(rbuf))) <= 10)
			continue;
		ks.reads++;
		if (offload_vnet_parse(rbuf, (size_t)r, &vh) != 0 ||
		    seg_all(&vh, rbuf + 10, (size_t)r - 10, segbuf,
		    STRIDE, HEADROOM, TAILROOM, MAXSEGS, seglens, &n) != 0) {
			ks.drops++;
			continue;
		}
		if (vh.gso_type != OFFLOAD_GSO_NONE)
			ks.gso_reads++;
		for (i = 0; i < n; i++) {
			uint8_t	*p = segbuf + i * STRIDE + HEADROOM;

			ks.segs++;
			if (k_reflect(p, seglens[i]) == 0)
				offload_gro_add(&gro, p, seglens[i]);
		}
		offload_gro_flush(&gro, k_write_cb, &ks);
	}
	t = now_s() - t0;
	if (!ks.done)
		shutdown(ks.lfd, SHUT_RDWR);
	pthread_join(cli, NULL);
	pthread_join(srv, NULL);
	close(ks.lfd);
	printf("kernel: TCPv%d stream through segmenter + GRO: %llu bytes "
	    "in %.2f s (%.2f Gbit/s); TUN reads %llu (%llu GSO), segments "
	    "%llu, writes %llu (%llu GSO), refused %llu\n", v6 ? 6 : 4,
	    (unsigned long long)ks.got, t, (double)ks.got * 8 / t / 1e9,
	    (unsigned long long)ks.reads, (unsigned long long)ks.gso_reads,
	    (unsigned long long)ks.segs, (unsigned long long)ks.writes,
	    (unsigned long long)ks.gso_writes, (unsigned long long)ks.drops);
	CHECK(ks.got == K_STREAM && ks.pattern_ok, "TCPv%d stream complete "
	    "and intact (%llu bytes)", v6 ? 6 : 4,
	    (unsigned long long)ks.got);
	CHECK(ks.gso_reads > 0, "TCPv%d: the kernel sent TSO super-packets",
	    v6 ? 6 : 4);
	CHECK(ks.gso_writes > 0, "TCPv%d: the kernel took GRO super-packets",
	    v6 ? 6 : 4);
	CHECK(ks.drops == 0, "TCPv%d: no super-packet refused", v6 ? 6 : 4);
}

static void
k_child(int wfd)
{
	static const struct {
		const char	*name;
		unsigned int	 flag;
	} fl[] = {
		{ "TUN_F_CSUM", TUN_F_CSUM },
		{ "TUN_F_TSO4", TUN_F_TSO4 },
		{ "TUN_F_TSO6", TUN_F_TSO6 },
		{ "TUN_F_TSO_ECN", TUN_F_TSO_ECN },
		{ "TUN_F_UFO", TUN_F_UFO },
		{ "TUN_F_USO4", TUN_F_USO4 },
		{ "TUN_F_USO6", TUN_F_USO6 },
	};
	static uint8_t			 rbuf[OFFLOAD_VNET_HDR_LEN + 65536];
	struct offload_vnet		 vh;
	struct ifreq			 ifr;
	struct sockaddr_in		 sin;
	struct pollfd			 pfd;
	unsigned int			 feat = 0, want;
	size_t				 i, n;
	ssize_t				 r;
	int				 tun, s, u, v, uso = 0, ok, res[2];

	if (unshare(CLONE_NEWNET) == -1) {
		printf("kernel: skipped (unshare: %s)\n", strerror(errno));
		goto out;
	}
	if ((tun = open("/dev/net/tun", O_RDWR | O_CLOEXEC)) == -1) {
		printf("kernel: skipped (/dev/net/tun: %s)\n", strerror(errno));
		goto out;
	}
	CHECK(ioctl(tun, TUNGETFEATURES, &feat) == 0 &&
	    (feat & IFF_VNET_HDR), "TUN has IFF_VNET_HDR");
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, K_IF);
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI | IFF_VNET_HDR;
	CHECK(ioctl(tun, TUNSETIFF, &ifr) == 0, "TUNSETIFF with IFF_VNET_HDR");
	v = 0;
	CHECK(ioctl(tun, TUNGETVNETHDRSZ, &v) == 0 && v == 10,
	    "vnet header size %d", v);
	for (i = 0; i < sizeof(fl) / sizeof(fl[0]); i++) {
		/* TSO_ECN only goes with TSO4 or TSO6. */
		want = TUN_F_CSUM | fl[i].flag;
		if (fl[i].flag == TUN_F_TSO_ECN)
			want |= TUN_F_TSO4;
		r = ioctl(tun, TUNSETOFFLOAD, want);
		printf("kernel: TUNSETOFFLOAD %s: %s\n", fl[i].name,
		    r == 0 ? "ok" : strerror(errno));
	}
	want = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6;
	CHECK(ioctl(tun, TUNSETOFFLOAD, want) == 0, "TSO offloads");
	want |= TUN_F_USO4 | TUN_F_USO6;
	uso = ioctl(tun, TUNSETOFFLOAD, want) == 0;
	printf("kernel: TUNSETOFFLOAD CSUM|TSO4|TSO6|USO4|USO6: %s\n",
	    uso ? "ok" : "no");

	u = socket(AF_INET, SOCK_DGRAM, 0);
	v = 1400;
	r = setsockopt(u, IPPROTO_UDP, UDP_SEGMENT, &v, sizeof(v));
	printf("kernel: UDP_SEGMENT: %s\n", r == 0 ? "ok" : strerror(errno));
	CHECK(r == 0, "UDP_SEGMENT");
	v = 1;
	r = setsockopt(u, IPPROTO_UDP, UDP_GRO, &v, sizeof(v));
	printf("kernel: UDP_GRO: %s\n", r == 0 ? "ok" : strerror(errno));
	CHECK(r == 0, "UDP_GRO");

	s = socket(AF_INET, SOCK_DGRAM, 0);
	ok = k_ifreq(s, SIOCSIFADDR, AF_INET, "10.77.0.1", 0) == 0 &&
	    k_ifreq(s, SIOCSIFNETMASK, AF_INET, "255.255.255.0", 0) == 0 &&
	    k_ifreq(s, SIOCSIFMTU, 0, NULL, 1420) == 0 &&
	    k_ifreq(s, SIOCSIFFLAGS, 0, NULL, IFF_UP | IFF_RUNNING) == 0;
	CHECK(ok, "configure %s: %s", K_IF, strerror(errno));
	close(s);
	k_sysctl("/proc/sys/net/ipv4/conf/all/rp_filter", "0");
	k_sysctl("/proc/sys/net/ipv4/conf/" K_IF "/rp_filter", "0");
	k_sysctl("/proc/sys/net/ipv6/conf/" K_IF "/accept_dad", "0");
	k_sysctl("/proc/sys/net/ipv6/conf/" K_IF "/disable_ipv6", "0");
	{
		struct k_in6_ifreq	r6;

		memset(&r6, 0, sizeof(r6));
		inet_pton(AF_INET6, "fd77::1", &r6.addr);
		r6.prefixlen = 64;
		r6.ifindex = (int)if_nametoindex(K_IF);
		s = socket(AF_INET6, SOCK_DGRAM, 0);
		CHECK(ioctl(s, SIOCSIFADDR, &r6) == 0, "IPv6 address: %s",
		    strerror(errno));
		close(s);
	}

	/* USO: one sendmsg of 20 datagrams comes out as one packet. */
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(9);
	inet_pton(AF_INET, "10.77.0.2", &sin.sin_addr);
	v = 1000;
	setsockopt(u, IPPROTO_UDP, UDP_SEGMENT, &v, sizeof(v));
	for (i = 0; i < 20000; i++)
		payload[i] = k_pattern(i);
	r = sendto(u, payload, 20000, 0, (struct sockaddr *)&sin,
	    sizeof(sin));
	CHECK(r == 20000, "UDP_SEGMENT sendto: %s", strerror(errno));
	ok = 0;
	for (i = 0; i < 20; i++) {
		pfd.fd = tun;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, 1000) != 1)
			break;
		if ((r = read(tun, rbuf, sizeof(rbuf))) < 30 ||
		    rbuf[10] != 0x45 || rbuf[10 + 9] != IPPROTO_UDP)
			continue;
		if (offload_vnet_parse(rbuf, (size_t)r, &vh) != 0 ||
		    seg_all(&vh, rbuf + 10, (size_t)r - 10, segbuf,
		    STRIDE, HEADROOM, TAILROOM, MAXSEGS, seglens, &n) != 0)
			break;
		printf("kernel: UDP read from TUN: %zd bytes, gso_type %u, "
		    "gso_size %u, %zu segments\n", r - 10, vh.gso_type,
		    vh.gso_size, n);
		ok = n >= 1;
		for (size_t j = 0, off = 0; j < n; j++) {
			uint8_t	*p = segbuf + j * STRIDE + HEADROOM;

			if (!pkt_valid(p, seglens[j]) || memcmp(p + 28,
			    payload + off, seglens[j] - 28) != 0)
				ok = 0;
			off += seglens[j] - 28;
		}
		if (uso)
			CHECK(vh.gso_type == OFFLOAD_GSO_UDP_L4 && n == 20,
			    "USO super-packet from the kernel");
		break;
	}
	CHECK(ok, "UDP_SEGMENT send read back and segmented");
	close(u);

	k_stream(tun, 0, uso);
	k_stream(tun, 1, uso);
	close(tun);
out:
	fflush(stdout);
	res[0] = test_passed;
	res[1] = test_failed;
	if (write(wfd, res, sizeof(res)) != sizeof(res))
		_exit(1);
	_exit(0);
}

static void
test_kernel(void)
{
	int	p[2], res[2], st;
	pid_t	pid;

	if (geteuid() != 0) {
		printf("kernel: skipped (not root)\n");
		return;
	}
	fflush(stdout);
	fflush(stderr);
	if (pipe(p) == -1 || (pid = fork()) == -1) {
		CHECK(0, "fork: %s", strerror(errno));
		return;
	}
	if (pid == 0) {
		close(p[0]);
		test_passed = test_failed = 0;
		k_child(p[1]);
	}
	close(p[1]);
	if (read(p[0], res, sizeof(res)) == sizeof(res)) {
		test_passed += res[0];
		test_failed += res[1];
	} else
		CHECK(0, "kernel test child died");
	close(p[0]);
	waitpid(pid, &st, 0);
}

int
main(void)
{
	test_csum();
	test_vnet();
	test_segment();
	test_partial();
	test_malformed();
	test_gro();
	test_gso_run();
	test_tun_in_sweep();
	test_tun_in_pool();
	test_gro_glue();
	test_fuzz();
	test_perf();
	test_kernel();
	return test_done();
}
