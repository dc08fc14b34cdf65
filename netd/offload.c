/*
 * offload.c: segmentation (TSO/USO) of super-packets read from a TUN
 * with IFF_VNET_HDR, coalescing (GRO) of received packets into
 * super-packets for it, and the checksums both need. See offload.h.
 *
 * Everything here reads packets that came from the kernel or, after
 * decryption, from a peer: every offset is checked against the length
 * before it is used, and what does not parse is refused.
 */
#include <netinet/in.h>

#include <string.h>

#include "offload.h"

#define OFF_TCP_FIN	0x01
#define OFF_TCP_SYN	0x02
#define OFF_TCP_RST	0x04
#define OFF_TCP_PSH	0x08
#define OFF_TCP_ACK	0x10
#define OFF_TCP_URG	0x20
#define OFF_TCP_ECE	0x40
#define OFF_TCP_CWR	0x80

#define OFF_IP4_MF	0x20
#define OFF_IP4_DF	0x40

/* The parsed shape of a packet to segment. */
struct off_shape {
	int		 family;	/* 4 or 6 */
	uint8_t		 proto;
	size_t		 iphlen;
	size_t		 l4hlen;
	size_t		 hdrlen;
	size_t		 payload;
	size_t		 gso;
	size_t		 nsegs;
};

static inline uint16_t
off_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t
off_get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static inline void
off_put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static inline void
off_put32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = (v >> 16) & 0xff;
	p[2] = (v >> 8) & 0xff;
	p[3] = v & 0xff;
}

static inline uint64_t
off_load64(const uint8_t *p)
{
	uint64_t	v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/* Ones-complement addition of two unfolded sums (end-around carry). */
static inline uint64_t
off_add64(uint64_t a, uint64_t b)
{
	uint64_t	s = a + b;

	return s + (s < a);
}

/*
 * Native-order ones-complement sums (RFC 1071: the sum is independent of
 * byte order as long as it is folded and stored in the same order). Each
 * 8-byte word is split into its 32-bit halves and added to 64-bit
 * accumulators, which cannot overflow before 2^31 words (16 GiB); four
 * accumulators keep the additions independent.
 */
uint64_t
offload_csum_add(uint64_t sum, const void *buf, size_t len)
{
	const uint8_t	*p = buf;
	uint64_t	 a0 = 0, a1 = 0, a2 = 0, a3 = 0, w;
	uint32_t	 w32;
	uint16_t	 w16;

	while (len >= 32) {
		w = off_load64(p);
		a0 += (w & 0xffffffff) + (w >> 32);
		w = off_load64(p + 8);
		a1 += (w & 0xffffffff) + (w >> 32);
		w = off_load64(p + 16);
		a2 += (w & 0xffffffff) + (w >> 32);
		w = off_load64(p + 24);
		a3 += (w & 0xffffffff) + (w >> 32);
		p += 32;
		len -= 32;
	}
	while (len >= 8) {
		w = off_load64(p);
		a0 += (w & 0xffffffff) + (w >> 32);
		p += 8;
		len -= 8;
	}
	if (len >= 4) {
		memcpy(&w32, p, 4);
		a1 += w32;
		p += 4;
		len -= 4;
	}
	if (len >= 2) {
		memcpy(&w16, p, 2);
		a2 += w16;
		p += 2;
		len -= 2;
	}
	if (len == 1) {
		/* The odd byte is the first byte of a zero-padded word. */
		w16 = 0;
		memcpy(&w16, p, 1);
		a3 += w16;
	}
	return off_add64(sum, (a0 + a1) + (a2 + a3));
}

uint64_t
offload_csum_copy(uint64_t sum, void *dst, const void *src, size_t len)
{
	const uint8_t	*s = src;
	uint8_t		*d = dst;
	uint64_t	 a0 = 0, a1 = 0, w0, w1;
	size_t		 done;

	while (len >= 16) {
		w0 = off_load64(s);
		w1 = off_load64(s + 8);
		memcpy(d, &w0, 8);
		memcpy(d + 8, &w1, 8);
		a0 += (w0 & 0xffffffff) + (w0 >> 32);
		a1 += (w1 & 0xffffffff) + (w1 >> 32);
		s += 16;
		d += 16;
		len -= 16;
	}
	done = len;
	memcpy(d, s, done);
	return offload_csum_add(off_add64(sum, a0 + a1), d, done);
}

uint16_t
offload_csum_fold(uint64_t sum)
{
	sum = (sum & 0xffffffff) + (sum >> 32);
	sum = (sum & 0xffffffff) + (sum >> 32);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

uint16_t
offload_csum(const void *buf, size_t len, uint64_t initial)
{
	return (uint16_t)~offload_csum_fold(offload_csum_add(initial, buf,
	    len));
}

uint64_t
offload_pseudo4(const uint8_t src[static 4], const uint8_t dst[static 4],
    uint8_t proto, uint32_t len)
{
	uint8_t	ph[12];

	memcpy(ph, src, 4);
	memcpy(ph + 4, dst, 4);
	ph[8] = 0;
	ph[9] = proto;
	off_put16(ph + 10, (uint16_t)len);
	return offload_csum_add(0, ph, sizeof(ph));
}

uint64_t
offload_pseudo6(const uint8_t src[static 16], const uint8_t dst[static 16],
    uint8_t proto, uint32_t len)
{
	uint8_t	ph[40];

	memcpy(ph, src, 16);
	memcpy(ph + 16, dst, 16);
	off_put32(ph + 32, len);
	ph[36] = ph[37] = ph[38] = 0;
	ph[39] = proto;
	return offload_csum_add(0, ph, sizeof(ph));
}

/* The pseudo-header sum of the IPv4 or IPv6 packet pkt. */
static uint64_t
off_pseudo(int family, const uint8_t *pkt, uint8_t proto, uint32_t len)
{
	if (family == 4)
		return offload_pseudo4(pkt + 12, pkt + 16, proto, len);
	return offload_pseudo6(pkt + 8, pkt + 24, proto, len);
}

int
offload_vnet_parse(const uint8_t *buf, size_t len, struct offload_vnet *out)
{
	struct offload_vnet	vh;

	if (len < OFFLOAD_VNET_HDR_LEN)
		return -1;
	vh.flags = buf[0];
	vh.gso_type = buf[1];
	vh.hdr_len = (uint16_t)(buf[2] | buf[3] << 8);
	vh.gso_size = (uint16_t)(buf[4] | buf[5] << 8);
	vh.csum_start = (uint16_t)(buf[6] | buf[7] << 8);
	vh.csum_offset = (uint16_t)(buf[8] | buf[9] << 8);
	if (vh.flags & ~(OFFLOAD_VNET_F_NEEDS_CSUM | OFFLOAD_VNET_F_DATA_VALID))
		return -1;
	switch (vh.gso_type) {
	case OFFLOAD_GSO_NONE:
		break;
	case OFFLOAD_GSO_TCPV4:
	case OFFLOAD_GSO_TCPV6:
	case OFFLOAD_GSO_UDP_L4:
		/*
		 * A super-packet always has a partial checksum. ECN (CWR
		 * on a TSO packet) is never set: like wireguard-go we do not
		 * ask for TUN_F_TSO_ECN, so the kernel segments those.
		 */
		if (vh.gso_size == 0 ||
		    !(vh.flags & OFFLOAD_VNET_F_NEEDS_CSUM))
			return -1;
		break;
	default:
		return -1;
	}
	*out = vh;
	return 0;
}

void
offload_vnet_write(const struct offload_vnet *vh,
    uint8_t out[static OFFLOAD_VNET_HDR_LEN])
{
	out[0] = vh->flags;
	out[1] = vh->gso_type;
	out[2] = vh->hdr_len & 0xff;
	out[3] = vh->hdr_len >> 8;
	out[4] = vh->gso_size & 0xff;
	out[5] = vh->gso_size >> 8;
	out[6] = vh->csum_start & 0xff;
	out[7] = vh->csum_start >> 8;
	out[8] = vh->csum_offset & 0xff;
	out[9] = vh->csum_offset >> 8;
}

int
offload_csum_complete(const struct offload_vnet *vh, uint8_t *pkt,
    size_t len)
{
	size_t		start = vh->csum_start, at;
	uint16_t	c;

	if (!(vh->flags & OFFLOAD_VNET_F_NEEDS_CSUM))
		return 0;
	at = start + vh->csum_offset;
	if (start >= len || at > len || len - at < 2)
		return -1;
	/* The field holds the pseudo-header sum: it is part of the sum. */
	c = offload_csum(pkt + start, len - start, 0);
	if (c == 0)
		c = 0xffff;	/* as the kernel does: 0 means none for UDP */
	memcpy(pkt + at, &c, 2);
	return 0;
}

/*
 * Checks a packet to segment and works out its shape. Without GSO it is
 * one packet, whatever it is, as long as the partial checksum offsets
 * fit. With GSO the headers must be exactly what the kernel's TSO/USO
 * produces.
 */
static int
off_shape(const struct offload_vnet *vh, const uint8_t *pkt, size_t len,
    struct off_shape *sh)
{
	size_t	at;

	memset(sh, 0, sizeof(*sh));
	if (vh->gso_type == OFFLOAD_GSO_NONE) {
		if (vh->flags & OFFLOAD_VNET_F_NEEDS_CSUM) {
			at = (size_t)vh->csum_start + vh->csum_offset;
			if (vh->csum_start >= len || at > len || len - at < 2)
				return -1;
		}
		if (len == 0 || len > OFFLOAD_MAX_PKT + 40)
			return -1;
		sh->nsegs = 1;
		sh->payload = len;
		return 0;
	}
	if (len < 20 || vh->gso_size == 0 ||
	    !(vh->flags & OFFLOAD_VNET_F_NEEDS_CSUM))
		return -1;
	sh->family = pkt[0] >> 4;
	if (sh->family == 4) {
		if (vh->gso_type != OFFLOAD_GSO_TCPV4 &&
		    vh->gso_type != OFFLOAD_GSO_UDP_L4)
			return -1;
		sh->iphlen = (size_t)(pkt[0] & 0x0f) * 4;
		if (sh->iphlen < 20 || sh->iphlen > len ||
		    off_get16(pkt + 2) != len)
			return -1;
		/* A fragment cannot be a super-packet. */
		if ((pkt[6] & OFF_IP4_MF) || (off_get16(pkt + 6) & 0x1fff))
			return -1;
		sh->proto = pkt[9];
	} else if (sh->family == 6) {
		if (vh->gso_type != OFFLOAD_GSO_TCPV6 &&
		    vh->gso_type != OFFLOAD_GSO_UDP_L4)
			return -1;
		sh->iphlen = 40;
		if (len < 40 || (size_t)off_get16(pkt + 4) + 40 != len)
			return -1;
		/* Extension headers are refused (the kernel seldom sends
		 * them on TSO packets; BIG TCP's hop-by-hop is not asked). */
		sh->proto = pkt[6];
	} else
		return -1;
	if (vh->csum_start != sh->iphlen)
		return -1;
	if (vh->gso_type == OFFLOAD_GSO_UDP_L4) {
		if (sh->proto != IPPROTO_UDP || vh->csum_offset != 6)
			return -1;
		sh->l4hlen = 8;
	} else {
		if (sh->proto != IPPROTO_TCP || vh->csum_offset != 16)
			return -1;
		/* Never trust hdr_len: take the TCP data offset. */
		if (len < sh->iphlen + 20)
			return -1;
		sh->l4hlen = (size_t)(pkt[sh->iphlen + 12] >> 4) * 4;
		if (sh->l4hlen < 20)
			return -1;
	}
	sh->hdrlen = sh->iphlen + sh->l4hlen;
	if (sh->hdrlen >= len)
		return -1;
	sh->payload = len - sh->hdrlen;
	sh->gso = vh->gso_size;
	sh->nsegs = (sh->payload + sh->gso - 1) / sh->gso;
	return 0;
}

int
offload_segment_count(const struct offload_vnet *vh, const uint8_t *pkt,
    size_t len)
{
	struct off_shape	sh;

	if (off_shape(vh, pkt, len, &sh) == -1 || sh.nsegs > 0x7fffffff)
		return -1;
	return (int)sh.nsegs;
}

/* Writes one segment of a checked super-packet; cap is checked. */
static int
off_segment_one(const struct off_shape *sh, const struct offload_vnet *vh,
    const uint8_t *pkt, size_t len, size_t idx, uint8_t *out, size_t cap)
{
	size_t		 off, seglen, outlen;
	uint8_t		*l4;
	uint64_t	 sum;
	uint16_t	 c;

	if (vh->gso_type == OFFLOAD_GSO_NONE) {
		if (idx != 0 || cap < len)
			return -1;
		if (!(vh->flags & OFFLOAD_VNET_F_NEEDS_CSUM)) {
			memcpy(out, pkt, len);
			return (int)len;
		}
		/* Copy and sum in one pass, then store the checksum. */
		memcpy(out, pkt, vh->csum_start);
		sum = offload_csum_copy(0, out + vh->csum_start,
		    pkt + vh->csum_start, len - vh->csum_start);
		c = (uint16_t)~offload_csum_fold(sum);
		if (c == 0)
			c = 0xffff;
		memcpy(out + vh->csum_start + vh->csum_offset, &c, 2);
		return (int)len;
	}
	if (idx >= sh->nsegs)
		return -1;
	off = sh->hdrlen + idx * sh->gso;
	seglen = len - off < sh->gso ? len - off : sh->gso;
	outlen = sh->hdrlen + seglen;
	if (cap < outlen)
		return -1;

	memcpy(out, pkt, sh->hdrlen);
	if (sh->family == 4) {
		off_put16(out + 4, (uint16_t)(off_get16(pkt + 4) + idx));
		off_put16(out + 2, (uint16_t)outlen);
		out[10] = out[11] = 0;
		c = offload_csum(out, sh->iphlen, 0);
		memcpy(out + 10, &c, 2);
	} else
		off_put16(out + 4, (uint16_t)(outlen - 40));

	l4 = out + sh->iphlen;
	if (sh->proto == IPPROTO_TCP) {
		off_put32(l4 + 4, (uint32_t)(off_get32(pkt + sh->iphlen + 4) +
		    (uint32_t)(idx * sh->gso)));
		if (idx + 1 < sh->nsegs)
			l4[13] &= ~(OFF_TCP_FIN | OFF_TCP_PSH);
		if (idx > 0)
			l4[13] &= ~OFF_TCP_CWR;
		l4[16] = l4[17] = 0;
	} else {
		off_put16(l4 + 4, (uint16_t)(sh->l4hlen + seglen));
		l4[6] = l4[7] = 0;
	}
	sum = off_pseudo(sh->family, out, sh->proto,
	    (uint32_t)(sh->l4hlen + seglen));
	sum = offload_csum_add(sum, l4, sh->l4hlen);
	sum = offload_csum_copy(sum, out + sh->hdrlen, pkt + off, seglen);
	c = (uint16_t)~offload_csum_fold(sum);
	if (sh->proto == IPPROTO_UDP && c == 0)
		c = 0xffff;
	memcpy(l4 + (sh->proto == IPPROTO_TCP ? 16 : 6), &c, 2);
	return (int)outlen;
}

int
offload_segment_at(const struct offload_vnet *vh, const uint8_t *pkt,
    size_t len, size_t idx, uint8_t *out, size_t cap)
{
	struct off_shape	sh;

	if (off_shape(vh, pkt, len, &sh) == -1)
		return -1;
	return off_segment_one(&sh, vh, pkt, len, idx, out, cap);
}

/*
 * GRO.
 */

/* A packet offered to the GRO table, parsed. */
struct off_gpkt {
	int		 family;
	uint8_t		 proto;
	uint8_t		 iphlen;
	uint8_t		 l4hlen;
	uint8_t		 flags;		/* TCP */
	uint16_t	 payload;
	uint16_t	 ipid;
	uint32_t	 seq, ack;
	uint32_t	 l4word;
	uint32_t	 hash;
};

static uint32_t
off_hash(const uint8_t *p, size_t len, uint32_t h)
{
	size_t	i;

	for (i = 0; i < len; i++) {
		h ^= p[i];
		h *= 16777619u;
	}
	return h;
}

/*
 * Is pkt a coalescing candidate? Only IPv4 without options and without
 * fragmentation, IPv6 without extension headers, TCP with only ACK (or
 * ACK|PSH) and a payload, UDP (when asked) with a checksum and a payload.
 */
static int
off_gro_parse(const struct offload_gro *gro, const uint8_t *pkt, size_t len,
    struct off_gpkt *g)
{
	const uint8_t	*l4;
	size_t		 l4len, alen, aoff;

	memset(g, 0, sizeof(*g));
	if (len < 20 || len > OFFLOAD_MAX_PKT)
		return -1;
	g->family = pkt[0] >> 4;
	if (g->family == 4) {
		if (pkt[0] != 0x45 || off_get16(pkt + 2) != len ||
		    (pkt[6] & OFF_IP4_MF) || (off_get16(pkt + 6) & 0x1fff))
			return -1;
		g->iphlen = 20;
		g->proto = pkt[9];
		g->ipid = off_get16(pkt + 4);
		aoff = 12;
		alen = 4;
	} else if (g->family == 6) {
		if (len < 40 || (size_t)off_get16(pkt + 4) + 40 != len)
			return -1;
		g->iphlen = 40;
		g->proto = pkt[6];
		aoff = 8;
		alen = 16;
	} else
		return -1;
	l4 = pkt + g->iphlen;
	l4len = len - g->iphlen;
	if (g->proto == IPPROTO_TCP) {
		if (l4len < 20)
			return -1;
		g->l4hlen = (uint8_t)((l4[12] >> 4) * 4);
		if (g->l4hlen < 20 || g->l4hlen > l4len)
			return -1;
		/* Reserved bits clear; only ACK, or ACK|PSH. */
		if ((l4[12] & 0x0f) != 0)
			return -1;
		g->flags = l4[13];
		if (g->flags != OFF_TCP_ACK &&
		    g->flags != (OFF_TCP_ACK | OFF_TCP_PSH))
			return -1;
		g->seq = off_get32(l4 + 4);
		g->ack = off_get32(l4 + 8);
		g->l4word = off_get32(l4 + 12) & ~((uint32_t)OFF_TCP_PSH << 16);
	} else if (g->proto == IPPROTO_UDP &&
	    (gro->flags & OFFLOAD_GRO_UDP)) {
		if (l4len < 8 || off_get16(l4 + 4) != l4len)
			return -1;
		/*
		 * IPv4 UDP without a checksum: its sender asked for none,
		 * and a super-packet would get one.
		 */
		if (l4[6] == 0 && l4[7] == 0)
			return -1;
		g->l4hlen = 8;
	} else
		return -1;
	if (l4len == g->l4hlen)
		return -1;
	g->payload = (uint16_t)(l4len - g->l4hlen);
	/* The flow: addresses, ports, protocol, and the TCP ack. */
	g->hash = off_hash(pkt + aoff, 2 * alen, 2166136261u ^ g->proto);
	g->hash = off_hash(l4, 4, g->hash);
	if (g->proto == IPPROTO_TCP)
		g->hash = off_hash(l4 + 8, 4, g->hash);
	if (g->hash == 0)
		g->hash = 1;
	return 0;
}

static int
off_same_flow(const struct offload_gro_item *it, const struct off_gpkt *g,
    const uint8_t *pkt)
{
	const uint8_t	*a = it->pkt, *b = pkt;

	if (it->hash != g->hash || it->proto != g->proto ||
	    it->family != g->family)
		return 0;
	if (g->family == 4) {
		if (memcmp(a + 12, b + 12, 8) != 0)
			return 0;
	} else if (memcmp(a + 8, b + 8, 32) != 0)
		return 0;
	if (memcmp(a + it->iphlen, b + g->iphlen, 4) != 0)
		return 0;
	return g->proto != IPPROTO_TCP || it->ack == g->ack;
}

/* Do the IP headers (all but length, id, checksum) allow coalescing? */
static int
off_ip_match(const struct offload_gro_item *it, const struct off_gpkt *g,
    const uint8_t *pkt)
{
	const uint8_t	*a = it->pkt, *b = pkt;

	if (g->family == 4)
		/* TOS, DF and reserved bits, TTL (MF and offset are 0). */
		return a[1] == b[1] && (a[6] >> 5) == (b[6] >> 5) &&
		    a[8] == b[8];
	/* Version, traffic class, flow label; hop limit. */
	return memcmp(a, b, 4) == 0 && a[7] == b[7];
}

void
offload_gro_init(struct offload_gro *gro, int flags)
{
	gro->flags = flags;
	gro->nitems = 0;
	gro->nsegs = 0;
}

/* Tries to append pkt to it; returns 1 when done. */
static int
off_gro_merge(struct offload_gro *gro, struct offload_gro_item *it,
    const struct off_gpkt *g, const uint8_t *pkt)
{
	struct offload_gro_seg	*s;
	const uint8_t		*first = it->pkt;
	uint16_t		 id;
	int			 fixed = it->idfixed;

	if (it->closed || it->nsegs >= OFFLOAD_GRO_MAX_SEGS ||
	    g->payload > it->gso_size ||
	    (size_t)it->total + g->payload > OFFLOAD_MAX_PKT)
		return 0;
	if (!off_ip_match(it, g, pkt))
		return 0;
	if (g->family == 4) {
		/* Ids increment, or (DF only) stay fixed. */
		id = g->ipid;
		if (it->nsegs == 1 && id == it->ipid && (pkt[6] & OFF_IP4_DF))
			fixed = 1;
		else if (fixed ? id != it->ipid :
		    id != (uint16_t)(it->ipid + it->nsegs))
			return 0;
	}
	if (g->proto == IPPROTO_TCP) {
		if (g->l4hlen != it->l4hlen || g->l4word != it->l4word ||
		    g->seq != it->next_seq)
			return 0;
		if (g->l4hlen > 20 && memcmp(first + it->iphlen + 20,
		    pkt + g->iphlen + 20, g->l4hlen - 20) != 0)
			return 0;
	}
	/*
	 * No checksum is verified: the packets were authenticated by the
	 * AEAD, so each checksum is the one its sender computed (see
	 * offload.h).
	 */
	s = &gro->segs[gro->nsegs];
	s->data = pkt + g->iphlen + g->l4hlen;
	s->len = g->payload;
	s->next = -1;
	gro->segs[it->tail].next = (int16_t)gro->nsegs;
	it->tail = (int16_t)gro->nsegs;
	gro->nsegs++;
	it->nsegs++;
	it->idfixed = (uint8_t)fixed;
	it->total = (uint16_t)(it->total + g->payload);
	it->next_seq += g->payload;
	if (g->flags & OFF_TCP_PSH) {
		it->psh = 1;
		it->closed = 1;
	}
	if (g->payload < it->gso_size)
		it->closed = 1;
	return 1;
}

int
offload_gro_add(struct offload_gro *gro, const uint8_t *pkt, size_t len)
{
	struct offload_gro_item	*it;
	struct offload_gro_seg	*s;
	struct off_gpkt		 g;
	int			 cand, i;

	if (gro->nsegs >= OFFLOAD_GRO_MAX_PKTS ||
	    gro->nitems >= OFFLOAD_GRO_MAX_PKTS)
		return OFFLOAD_GRO_FULL;
	if (len == 0 || len > OFFLOAD_MAX_PKT)
		return OFFLOAD_GRO_BAD;
	cand = off_gro_parse(gro, pkt, len, &g) == 0;
	if (cand) {
		/*
		 * Newest first. TCP tries every item of the flow (packets
		 * reordered in flight may still line up); UDP only the
		 * newest, or datagrams would be reordered.
		 */
		for (i = gro->nitems - 1; i >= 0; i--) {
			it = &gro->items[i];
			if (!off_same_flow(it, &g, pkt))
				continue;
			if (off_gro_merge(gro, it, &g, pkt))
				return OFFLOAD_GRO_MERGED;
			if (g.proto == IPPROTO_UDP)
				break;
		}
	}

	it = &gro->items[gro->nitems];
	memset(it, 0, sizeof(*it));
	it->pkt = pkt;
	if (cand) {
		it->hash = g.hash;
		it->proto = g.proto;
		it->family = (uint8_t)g.family;
		it->iphlen = g.iphlen;
		it->l4hlen = g.l4hlen;
		it->seq = g.seq;
		it->next_seq = g.seq + g.payload;
		it->ack = g.ack;
		it->ipid = g.ipid;
		it->gso_size = g.payload;
		it->l4word = g.l4word;
		it->psh = it->closed = (g.flags & OFF_TCP_PSH) != 0;
	}
	it->nsegs = 1;
	it->total = (uint16_t)len;
	it->head = it->tail = (int16_t)gro->nsegs;
	s = &gro->segs[gro->nsegs];
	s->data = pkt;
	s->len = (uint16_t)it->total;
	s->next = -1;
	gro->nsegs++;
	gro->nitems++;
	return OFFLOAD_GRO_HELD;
}

/* Builds the virtio_net_hdr and rewritten headers of a super-packet. */
static size_t
off_gro_header(struct offload_gro *gro, const struct offload_gro_item *it)
{
	struct offload_vnet	 vh;
	uint8_t			*h = gro->hdr + OFFLOAD_VNET_HDR_LEN;
	uint8_t			*l4 = h + it->iphlen;
	size_t			 hlen = (size_t)it->iphlen + it->l4hlen;
	uint16_t		 c;

	memset(&vh, 0, sizeof(vh));
	vh.flags = OFFLOAD_VNET_F_NEEDS_CSUM;
	vh.hdr_len = (uint16_t)hlen;
	vh.gso_size = it->gso_size;
	vh.csum_start = it->iphlen;
	if (it->proto == IPPROTO_TCP) {
		vh.gso_type = it->family == 4 ? OFFLOAD_GSO_TCPV4 :
		    OFFLOAD_GSO_TCPV6;
		vh.csum_offset = 16;
	} else {
		vh.gso_type = OFFLOAD_GSO_UDP_L4;
		vh.csum_offset = 6;
	}
	offload_vnet_write(&vh, gro->hdr);

	memcpy(h, it->pkt, hlen);
	if (it->family == 4) {
		off_put16(h + 2, it->total);
		h[10] = h[11] = 0;
		c = offload_csum(h, it->iphlen, 0);
		memcpy(h + 10, &c, 2);
	} else
		off_put16(h + 4, (uint16_t)(it->total - 40));
	if (it->proto == IPPROTO_TCP) {
		if (it->psh)
			l4[13] |= OFF_TCP_PSH;
	} else
		off_put16(l4 + 4, (uint16_t)(it->total - it->iphlen));
	/* CHECKSUM_PARTIAL: the pseudo-header sum, not complemented. */
	c = offload_csum_fold(off_pseudo(it->family, h, it->proto,
	    (uint32_t)(it->total - it->iphlen)));
	memcpy(l4 + vh.csum_offset, &c, 2);
	return OFFLOAD_VNET_HDR_LEN + hlen;
}

int
offload_gro_flush(struct offload_gro *gro,
    int (*cb)(void *arg, const struct iovec *iov, int iovcnt, size_t total),
    void *arg)
{
	static const uint8_t		 zero[OFFLOAD_VNET_HDR_LEN];
	const struct offload_gro_item	*it;
	const struct offload_gro_seg	*s;
	size_t				 hlen;
	int				 i, n, failed = 0;

	for (i = 0; i < gro->nitems; i++) {
		it = &gro->items[i];
		s = &gro->segs[it->head];
		if (it->nsegs == 1) {
			gro->iov[0].iov_base = (void *)zero;
			gro->iov[0].iov_len = sizeof(zero);
			gro->iov[1].iov_base = (void *)s->data;
			gro->iov[1].iov_len = s->len;
			if (cb(arg, gro->iov, 2, sizeof(zero) + s->len) != 0)
				failed++;
			continue;
		}
		hlen = off_gro_header(gro, it);
		gro->iov[0].iov_base = gro->hdr;
		gro->iov[0].iov_len = hlen;
		/* The first packet's payload follows its headers. */
		gro->iov[1].iov_base = (void *)(s->data + hlen -
		    OFFLOAD_VNET_HDR_LEN);
		gro->iov[1].iov_len = it->gso_size;
		n = 2;
		for (s = s->next >= 0 ? &gro->segs[s->next] : NULL; s != NULL;
		    s = s->next >= 0 ? &gro->segs[s->next] : NULL) {
			gro->iov[n].iov_base = (void *)s->data;
			gro->iov[n].iov_len = s->len;
			n++;
		}
		if (cb(arg, gro->iov, n, OFFLOAD_VNET_HDR_LEN +
		    (size_t)it->total) != 0)
			failed++;
	}
	gro->nitems = 0;
	gro->nsegs = 0;
	return failed;
}

size_t
offload_gso_run(const size_t *lens, size_t n, size_t max_segs,
    size_t max_bytes)
{
	size_t	k, total;

	if (n == 0)
		return 0;
	if (lens[0] == 0 || max_segs <= 1)
		return 1;
	total = lens[0];
	for (k = 1; k < n && k < max_segs; k++) {
		if (lens[k] == 0 || lens[k] > lens[0] ||
		    total + lens[k] > max_bytes)
			break;
		total += lens[k];
		if (lens[k] < lens[0]) {
			k++;
			break;
		}
	}
	return k;
}
