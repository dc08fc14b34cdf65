/*
 * forward.c: the forwarder, wgcardd's fast path. Unprivileged, chrooted,
 * under seccomp. It moves packets between the TUN interface and the UDP
 * sockets: IP packets read from TUN are routed to a peer by the
 * allowed-IPs trie, encrypted with that peer's current session key and
 * sent in batches (sendmmsg); UDP datagrams are received in batches
 * (recvmmsg): data messages are decrypted, checked against the replay
 * window and the peer's allowed IPs, and written to TUN; handshake
 * messages go to the handshake process with the address they came from
 * and the local address they were sent to.
 *
 * The forwarder holds session keys only: the handshake process derives
 * them and hands them over (IMSG_FWD_KEYPAIR); they are wiped when they
 * are replaced, when the peer goes, and at REJECT_AFTER_TIME.
 *
 * Timer events (data sent/received, authenticated packets) are collected
 * per peer and reported to the handshake process at most every
 * FWD_EVENT_MS, with the time of the last event of each kind so it can
 * tell their order.
 */
#include <sys/socket.h>
#include <sys/types.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "allowedips.h"
#include "compat.h"
#include "crypto.h"
#include "forward.h"
#include "imsg.h"
#include "log.h"
#include "messages.h"
#include "proc.h"
#include "replay.h"
#include "sandbox.h"
#include "sock.h"
#include "wgcard.h"
#include "wgcardd.h"

#define FWD_BATCH		64
#define FWD_BUF_LEN		(WG_MAX_SEGMENT + 64)
#define FWD_STAGED_MAX		128
#define FWD_EVENT_MS		5
#define FWD_INDEX_BUCKETS	4096
#define FWD_PEER_BUCKETS	1024
#define FWD_HS_QUEUE_MAX	(1024 * 1024)

struct fwd_peer;

struct fwd_kp {
	struct fwd_kp	*hnext;
	struct fwd_peer	*peer;
	uint32_t	 local_index;
	uint32_t	 remote_index;
	uint64_t	 send_counter;
	uint64_t	 birth_ms;
	int		 initiator;
	int		 send_expired;
	struct replay	 replay;
	uint8_t		 send_key[32];
	uint8_t		 recv_key[32];
};

struct fwd_staged {
	size_t		 len;
	uint8_t		*data;
};

struct fwd_peer {
	struct fwd_peer		*hnext;
	uint32_t		 id;
	struct wg_endpoint	 ep;
	struct fwd_kp		*current, *previous, *next;
	struct fwd_staged	 staged[FWD_STAGED_MAX];
	int			 nstaged;
	int			 sent_lastminute;
	/* Reported to the handshake process. */
	int			 dirty;
	uint32_t		 events;
	uint64_t		 rx_bytes, tx_bytes, drops;
	uint64_t		 t_data_sent, t_data_received;
	uint64_t		 t_auth_sent, t_auth_received;
};

struct fwd_batch {
	struct mmsghdr		 msgs[FWD_BATCH];
	struct iovec		 iov[FWD_BATCH];
	union wg_sockaddr	 addr[FWD_BATCH];
	struct fwd_peer		*peer[FWD_BATCH];
	uint8_t			*cbuf;
	size_t			 cspace;
	int			 n;
};

static struct {
	struct imsgbuf	 parent, hs;
	int		 tun;
	int		 udp[2];	/* AF_INET, AF_INET6 */
	int		 mtu;
	int		 tun_gone;
	uint64_t	 now;
	uint64_t	 last_flush;
	int		 ndirty;
	struct aip_table *aips;
	struct fwd_peer	*peers[FWD_PEER_BUCKETS];
	struct fwd_kp	*index[FWD_INDEX_BUCKETS];
	uint8_t		*rxbuf[FWD_BATCH];
	uint8_t		*txbuf[FWD_BATCH];
	struct fwd_batch out[2];
	uint64_t	 drops_noroute, drops_hsq;
} fwd = { .tun = -1, .udp = { -1, -1 } };

static inline uint32_t
le32_get(const uint8_t *p)
{
	uint32_t	v;

	memcpy(&v, p, 4);
	return le32toh(v);
}

static inline uint64_t
le64_get(const uint8_t *p)
{
	uint64_t	v;

	memcpy(&v, p, 8);
	return le64toh(v);
}

static void
fwd_hs_send(uint32_t type, const void *data, size_t len)
{
	if (imsg_compose(&fwd.hs, type, 0, -1, data, len) == -1) {
		if (errno == ENOBUFS) {
			fwd.drops_hsq++;
			return;
		}
		fatal("%s: to handshake", __func__);
	}
}

/* Peers and keypairs. */

static struct fwd_peer *
fwd_peer_find(uint32_t id)
{
	struct fwd_peer	*p;

	for (p = fwd.peers[id % FWD_PEER_BUCKETS]; p != NULL; p = p->hnext)
		if (p->id == id)
			return p;
	return NULL;
}

static struct fwd_kp *
fwd_kp_find(uint32_t idx)
{
	struct fwd_kp	*kp;

	for (kp = fwd.index[idx % FWD_INDEX_BUCKETS]; kp != NULL; kp = kp->hnext)
		if (kp->local_index == idx)
			return kp;
	return NULL;
}

/* Wipes and frees a keypair; tells the handshake process its index is free. */
static void
fwd_kp_drop(struct fwd_kp *kp, int report)
{
	struct fwd_kp	**pp;

	if (kp == NULL)
		return;
	for (pp = &fwd.index[kp->local_index % FWD_INDEX_BUCKETS]; *pp != NULL;
	    pp = &(*pp)->hnext)
		if (*pp == kp) {
			*pp = kp->hnext;
			break;
		}
	if (report)
		fwd_hs_send(IMSG_HS_KEYPAIR_GONE, &kp->local_index,
		    sizeof(kp->local_index));
	sodium_memzero(kp, sizeof(*kp));
	free(kp);
}

static void
fwd_staged_clear(struct fwd_peer *p)
{
	int	i;

	for (i = 0; i < p->nstaged; i++) {
		sodium_memzero(p->staged[i].data, p->staged[i].len);
		free(p->staged[i].data);
	}
	p->nstaged = 0;
}

static void
fwd_peer_clear_keys(struct fwd_peer *p, int report)
{
	fwd_kp_drop(p->current, report);
	fwd_kp_drop(p->previous, report);
	fwd_kp_drop(p->next, report);
	p->current = p->previous = p->next = NULL;
}

static void
fwd_event(struct fwd_peer *p, uint32_t ev)
{
	if (ev & HS_EV_DATA_SENT)
		p->t_data_sent = fwd.now;
	if (ev & HS_EV_DATA_RECEIVED)
		p->t_data_received = fwd.now;
	if (ev & HS_EV_AUTH_SENT)
		p->t_auth_sent = fwd.now;
	if (ev & HS_EV_AUTH_RECEIVED)
		p->t_auth_received = fwd.now;
	p->events |= ev;
	if (!p->dirty) {
		p->dirty = 1;
		fwd.ndirty++;
	}
}

static void
fwd_flush_events(void)
{
	struct hs_events	 ev;
	struct fwd_peer		*p;
	int			 i;

	if (fwd.ndirty == 0)
		return;
	for (i = 0; i < FWD_PEER_BUCKETS; i++)
		for (p = fwd.peers[i]; p != NULL; p = p->hnext) {
			if (!p->dirty)
				continue;
			memset(&ev, 0, sizeof(ev));
			ev.peer_id = p->id;
			ev.events = p->events;
			ev.rx_bytes = p->rx_bytes;
			ev.tx_bytes = p->tx_bytes;
			ev.t_data_sent = p->t_data_sent;
			ev.t_data_received = p->t_data_received;
			ev.t_auth_sent = p->t_auth_sent;
			ev.t_auth_received = p->t_auth_received;
			ev.drops = p->drops;
			ev.ep = p->ep;
			fwd_hs_send(IMSG_HS_EVENTS, &ev, sizeof(ev));
			p->events = 0;
			p->dirty = 0;
		}
	fwd.ndirty = 0;
	fwd.last_flush = fwd.now;
}

static void
fwd_peer_del(uint32_t id)
{
	struct fwd_peer	**pp, *p;

	for (pp = &fwd.peers[id % FWD_PEER_BUCKETS]; (p = *pp) != NULL;
	    pp = &p->hnext)
		if (p->id == id)
			break;
	if (p == NULL)
		return;
	*pp = p->hnext;
	aip_remove_owner(fwd.aips, p);
	fwd_peer_clear_keys(p, 0);
	fwd_staged_clear(p);
	if (p->dirty)
		fwd.ndirty--;
	sodium_memzero(p, sizeof(*p));
	free(p);
}

/* Sending. */

static int
fwd_kp_can_send(const struct fwd_kp *kp)
{
	return kp != NULL && !kp->send_expired &&
	    kp->send_counter < WG_REJECT_AFTER_MESSAGES &&
	    fwd.now - kp->birth_ms < WG_REJECT_AFTER_TIME * 1000ULL;
}

static void
fwd_batch_flush(int fam)
{
	struct fwd_batch	*b = &fwd.out[fam];
	int			 sent = 0, r, fd = fwd.udp[fam];

	while (sent < b->n) {
		r = sendmmsg(fd, b->msgs + sent, b->n - sent, MSG_DONTWAIT);
		if (r > 0) {
			sent += r;
			continue;
		}
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1 && sock_src_gone(errno) &&
		    b->msgs[sent].msg_hdr.msg_controllen != 0) {
			/* Our source address is gone: let routing choose. */
			struct fwd_peer	*p = b->peer[sent];

			if (p != NULL)
				memset(&p->ep.src, 0, sizeof(p->ep.src));
			b->msgs[sent].msg_hdr.msg_control = NULL;
			b->msgs[sent].msg_hdr.msg_controllen = 0;
			continue;
		}
		/* Full socket or unreachable: drop this one. */
		if (b->peer[sent] != NULL)
			b->peer[sent]->drops++;
		sent++;
	}
	b->n = 0;
}

/* Queues an encrypted message in buf (len bytes) to p's endpoint. */
static void
fwd_queue_out(struct fwd_peer *p, const struct wg_endpoint *ep, uint8_t *buf,
    size_t len)
{
	struct fwd_batch	*b;
	struct msghdr		*mh;
	int			 fam;

	if (ep->addr.sa.sa_family == AF_INET)
		fam = 0;
	else if (ep->addr.sa.sa_family == AF_INET6)
		fam = 1;
	else
		return;
	if (fwd.udp[fam] == -1) {
		if (p != NULL)
			p->drops++;
		return;
	}
	b = &fwd.out[fam];
	if (b->n == FWD_BATCH)
		fwd_batch_flush(fam);
	mh = &b->msgs[b->n].msg_hdr;
	memset(mh, 0, sizeof(*mh));
	b->iov[b->n].iov_base = buf;
	b->iov[b->n].iov_len = len;
	b->addr[b->n] = ep->addr;
	b->peer[b->n] = p;
	mh->msg_iov = &b->iov[b->n];
	mh->msg_iovlen = 1;
	mh->msg_name = &b->addr[b->n];
	mh->msg_namelen = fam ? sizeof(struct sockaddr_in6) :
	    sizeof(struct sockaddr_in);
	sock_cmsg_set_src(mh, b->cbuf + b->n * b->cspace, ep);
	b->n++;
}

static void
fwd_want_handshake(struct fwd_peer *p)
{
	fwd_event(p, HS_EV_WANT_HANDSHAKE);
}

/*
 * Encrypts the packet at buf + 16 (len bytes) in place for p and queues
 * it. buf must have room for the header, padding and tag. Returns 0, or
 * -1 when there is no usable keypair (the caller stages the packet).
 */
static int
fwd_encrypt_send(struct fwd_peer *p, uint8_t *buf, size_t len)
{
	struct fwd_kp	*kp = p->current;
	uint64_t	 counter, le;
	uint32_t	 v;
	size_t		 padded;

	if (!fwd_kp_can_send(kp) || p->ep.addr.sa.sa_family == 0)
		return -1;
	counter = kp->send_counter++;
	padded = (len + WG_PADDING_MULTIPLE - 1) &
	    ~(size_t)(WG_PADDING_MULTIPLE - 1);
	if (len != 0 && padded > (size_t)fwd.mtu)
		padded = len > (size_t)fwd.mtu ? len : (size_t)fwd.mtu;
	memset(buf + 16 + len, 0, padded - len);
	v = htole32(WG_MSG_DATA);
	memcpy(buf, &v, 4);
	v = htole32(kp->remote_index);
	memcpy(buf + 4, &v, 4);
	le = htole64(counter);
	memcpy(buf + 8, &le, 8);
	wg_aead_encrypt(buf + 16, buf + 16, padded, NULL, 0, counter,
	    kp->send_key);
	fwd_queue_out(p, &p->ep, buf, 16 + padded + WG_AEAD_TAG_LEN);
	p->tx_bytes += 16 + padded + WG_AEAD_TAG_LEN;
	fwd_event(p, HS_EV_AUTH_SENT | HS_EV_TRAVERSAL |
	    (len ? HS_EV_DATA_SENT : 0));
	/* Keep the key fresh. */
	if (counter > WG_REKEY_AFTER_MESSAGES || (kp->initiator &&
	    fwd.now - kp->birth_ms > WG_REKEY_AFTER_TIME * 1000ULL))
		fwd_want_handshake(p);
	return 0;
}

static void
fwd_stage(struct fwd_peer *p, const uint8_t *pkt, size_t len)
{
	struct fwd_staged	*s;

	if (p->nstaged == FWD_STAGED_MAX) {
		/* Drop the oldest, as the kernel does. */
		sodium_memzero(p->staged[0].data, p->staged[0].len);
		free(p->staged[0].data);
		memmove(&p->staged[0], &p->staged[1],
		    sizeof(p->staged[0]) * (FWD_STAGED_MAX - 1));
		p->nstaged--;
		p->drops++;
	}
	s = &p->staged[p->nstaged];
	if ((s->data = malloc(len ? len : 1)) == NULL) {
		p->drops++;
		return;
	}
	memcpy(s->data, pkt, len);
	s->len = len;
	p->nstaged++;
}

static uint8_t	fwd_scratch[FWD_BUF_LEN];

/* Sends what was staged while there was no session; 0 if none left. */
static int
fwd_send_staged(struct fwd_peer *p)
{
	int	i, sent = 0;

	if (!fwd_kp_can_send(p->current))
		return p->nstaged;
	for (i = 0; i < p->nstaged; i++) {
		/* Each needs its own buffer until the batch is flushed. */
		memcpy(fwd_scratch + 16, p->staged[i].data, p->staged[i].len);
		if (fwd_encrypt_send(p, fwd_scratch, p->staged[i].len) == 0) {
			int	fam = p->ep.addr.sa.sa_family == AF_INET6;

			fwd_batch_flush(fam);
			sent++;
		}
	}
	fwd_staged_clear(p);
	return 0;
}

static void
fwd_send_keepalive(struct fwd_peer *p)
{
	if (p->nstaged > 0 && fwd_send_staged(p) == 0)
		return;
	if (fwd_encrypt_send(p, fwd_scratch, 0) == 0)
		fwd_batch_flush(p->ep.addr.sa.sa_family == AF_INET6);
	else
		fwd_want_handshake(p);
}

static void
fwd_tun_gone(void)
{
	if (fwd.tun_gone)
		return;
	fwd.tun_gone = 1;
	log_info("the TUN interface is gone");
	if (imsg_compose(&fwd.parent, IMSG_FWD_TUN_GONE, 0, -1, NULL, 0) == -1)
		fatal("to parent");
}

static void
fwd_tun_read(void)
{
	struct fwd_peer	*p;
	const uint8_t	*ip;
	ssize_t		 n;
	int		 i, fam;

	for (i = 0; i < FWD_BATCH; i++) {
		uint8_t	*buf = fwd.txbuf[i];

		n = read(fwd.tun, buf + 16, FWD_BUF_LEN - 64);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			if (errno == EBADFD || errno == EIO || errno == ENXIO) {
				fwd_tun_gone();
				break;
			}
			log_warn("read from TUN");
			break;
		}
		ip = buf + 16;
		if (n >= 20 && (ip[0] >> 4) == 4)
			p = aip_lookup(fwd.aips, AF_INET, ip + 16);
		else if (n >= 40 && (ip[0] >> 4) == 6)
			p = aip_lookup(fwd.aips, AF_INET6, ip + 24);
		else
			continue;
		if (p == NULL) {
			fwd.drops_noroute++;
			continue;
		}
		if (p->nstaged > 0)
			fwd_send_staged(p);
		if (fwd_encrypt_send(p, buf, n) == -1) {
			fwd_stage(p, ip, n);
			fwd_want_handshake(p);
		}
	}
	for (fam = 0; fam < 2; fam++)
		if (fwd.out[fam].n)
			fwd_batch_flush(fam);
}

/* Receiving. */

static void
fwd_kp_received(struct fwd_peer *p, struct fwd_kp *kp)
{
	/* The responder's next keypair is confirmed by its first use. */
	if (kp == p->next) {
		fwd_kp_drop(p->previous, 1);
		p->previous = p->current;
		p->current = p->next;
		p->next = NULL;
		if (p->nstaged)
			fwd_send_staged(p);
	}
}

static void
fwd_data(uint8_t *msg, size_t len, const struct wg_endpoint *ep)
{
	struct fwd_kp	*kp;
	struct fwd_peer	*p;
	uint64_t	 counter;
	uint8_t		*ip;
	size_t		 plen, tot;
	void		*owner;

	if ((kp = fwd_kp_find(le32_get(msg + 4))) == NULL)
		return;
	p = kp->peer;
	counter = le64_get(msg + 8);
	if (counter >= WG_REJECT_AFTER_MESSAGES ||
	    fwd.now - kp->birth_ms >= WG_REJECT_AFTER_TIME * 1000ULL)
		return;
	if (wg_aead_decrypt(msg + 16, msg + 16, len - 16, NULL, 0, counter,
	    kp->recv_key) == -1)
		return;
	if (!replay_check(&kp->replay, counter))
		return;
	fwd_kp_received(p, kp);
	/* Roaming: the endpoint follows the last authenticated packet. */
	if (!sock_endpoint_eq(&p->ep, ep)) {
		p->ep = *ep;
		fwd_event(p, HS_EV_ENDPOINT);
	}
	p->rx_bytes += len;
	fwd_event(p, HS_EV_AUTH_RECEIVED | HS_EV_TRAVERSAL);
	if (kp == p->current && kp->initiator && !p->sent_lastminute &&
	    fwd.now - kp->birth_ms > (WG_REJECT_AFTER_TIME -
	    WG_KEEPALIVE_TIMEOUT - WG_REKEY_TIMEOUT) * 1000ULL) {
		p->sent_lastminute = 1;
		fwd_want_handshake(p);
	}
	plen = len - WG_DATA_OVERHEAD;
	if (plen == 0)
		return;		/* keepalive */
	fwd_event(p, HS_EV_DATA_RECEIVED);
	ip = msg + 16;
	if (plen >= 20 && (ip[0] >> 4) == 4) {
		tot = (size_t)ip[2] << 8 | ip[3];
		if (tot < 20 || tot > plen)
			goto drop;
		owner = aip_lookup(fwd.aips, AF_INET, ip + 12);
	} else if (plen >= 40 && (ip[0] >> 4) == 6) {
		tot = 40 + ((size_t)ip[4] << 8 | ip[5]);
		if (tot > plen)
			goto drop;
		owner = aip_lookup(fwd.aips, AF_INET6, ip + 8);
	} else
		goto drop;
	if (owner != p)
		goto drop;
	if (fwd.tun_gone || write(fwd.tun, ip, tot) == -1) {
		if (errno == EBADFD || errno == EIO)
			fwd_tun_gone();
		goto drop;
	}
	return;
drop:
	p->drops++;
}

static void
fwd_udp_read(int fam)
{
	struct mmsghdr		 msgs[FWD_BATCH];
	struct iovec		 iov[FWD_BATCH];
	union wg_sockaddr	 from[FWD_BATCH];
	uint8_t			 cbuf[FWD_BATCH][64];
	struct wg_endpoint	 ep;
	struct hs_packet	 hp;
	struct iovec		 hiov[2];
	uint8_t			*m;
	uint32_t		 type;
	size_t			 len;
	int			 i, n;

	for (i = 0; i < FWD_BATCH; i++) {
		memset(&msgs[i].msg_hdr, 0, sizeof(msgs[i].msg_hdr));
		iov[i].iov_base = fwd.rxbuf[i];
		iov[i].iov_len = FWD_BUF_LEN;
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
		msgs[i].msg_hdr.msg_name = &from[i];
		msgs[i].msg_hdr.msg_namelen = sizeof(from[i]);
		msgs[i].msg_hdr.msg_control = cbuf[i];
		msgs[i].msg_hdr.msg_controllen = sizeof(cbuf[i]);
	}
	n = recvmmsg(fwd.udp[fam], msgs, FWD_BATCH, MSG_DONTWAIT, NULL);
	if (n <= 0)
		return;
	for (i = 0; i < n; i++) {
		m = fwd.rxbuf[i];
		len = msgs[i].msg_len;
		if (len < 4 || (msgs[i].msg_hdr.msg_flags & MSG_TRUNC))
			continue;
		memset(&ep, 0, sizeof(ep));
		memcpy(&ep.addr, &from[i], sizeof(from[i]));
		sock_cmsg_get_dst(&msgs[i].msg_hdr, &ep);
		type = le32_get(m);
		switch (type) {
		case WG_MSG_DATA:
			if (len >= WG_MSG_DATA_MIN_LEN)
				fwd_data(m, len, &ep);
			break;
		case WG_MSG_INITIATION:
		case WG_MSG_RESPONSE:
		case WG_MSG_COOKIE:
			if ((type == WG_MSG_INITIATION &&
			    len != WG_MSG_INITIATION_LEN) ||
			    (type == WG_MSG_RESPONSE &&
			    len != WG_MSG_RESPONSE_LEN) ||
			    (type == WG_MSG_COOKIE && len != WG_MSG_COOKIE_LEN))
				break;
			memset(&hp, 0, sizeof(hp));
			hp.ep = ep;
			hiov[0].iov_base = &hp;
			hiov[0].iov_len = sizeof(hp);
			hiov[1].iov_base = m;
			hiov[1].iov_len = len;
			if (imsg_composev(&fwd.hs, IMSG_HS_PACKET, 0, -1, hiov,
			    2) == -1) {
				if (errno != ENOBUFS)
					fatal("to handshake");
				fwd.drops_hsq++;
			}
			break;
		default:
			break;
		}
	}
}

/* Messages from the handshake process and the parent. */

static void
fwd_new_keypair(struct imsg *imsg)
{
	struct fwd_keypair	 k;
	struct fwd_peer		*p;
	struct fwd_kp		*kp;

	IMSG_SIZE_CHECK(imsg, sizeof(k), "handshake");
	memcpy(&k, imsg->data, sizeof(k));
	sodium_memzero(imsg->data, imsg->len);
	if ((p = fwd_peer_find(k.peer_id)) == NULL) {
		/* Removed meanwhile: give the index back. */
		fwd_hs_send(IMSG_HS_KEYPAIR_GONE, &k.local_index,
		    sizeof(k.local_index));
		sodium_memzero(&k, sizeof(k));
		return;
	}
	if ((kp = calloc(1, sizeof(*kp))) == NULL)
		fatal("calloc");
	kp->peer = p;
	kp->local_index = k.local_index;
	kp->remote_index = k.remote_index;
	kp->initiator = k.initiator;
	kp->birth_ms = wg_now_ms();
	memcpy(kp->send_key, k.send_key, 32);
	memcpy(kp->recv_key, k.recv_key, 32);
	sodium_memzero(&k, sizeof(k));
	replay_init(&kp->replay);
	fwd_kp_drop(fwd_kp_find(kp->local_index), 1);
	kp->hnext = fwd.index[kp->local_index % FWD_INDEX_BUCKETS];
	fwd.index[kp->local_index % FWD_INDEX_BUCKETS] = kp;

	/* The rotation of the kernel's noise_add_new_keypair. */
	if (kp->initiator) {
		if (p->next != NULL) {
			fwd_kp_drop(p->previous, 1);
			p->previous = p->next;
			p->next = NULL;
			fwd_kp_drop(p->current, 1);
		} else {
			fwd_kp_drop(p->previous, 1);
			p->previous = p->current;
		}
		p->current = kp;
	} else {
		fwd_kp_drop(p->next, 1);
		p->next = kp;
		fwd_kp_drop(p->previous, 1);
		p->previous = NULL;
	}
	p->sent_lastminute = 0;
}

static uint32_t
fwd_u32(struct imsg *imsg)
{
	uint32_t	v;

	IMSG_SIZE_CHECK(imsg, sizeof(v), "handshake");
	memcpy(&v, imsg->data, sizeof(v));
	return v;
}

static void
fwd_aips(struct imsg *imsg)
{
	struct fwd_aip_hdr	 h;
	struct fwd_aip_entry	 e;
	struct fwd_peer		*p;
	size_t			 i;

	if (imsg->len < sizeof(h))
		fatalx("%s: short message", __func__);
	memcpy(&h, imsg->data, sizeof(h));
	if (imsg->len != sizeof(h) + (size_t)h.count * sizeof(e))
		fatalx("%s: bad size", __func__);
	if ((p = fwd_peer_find(h.peer_id)) == NULL)
		return;
	if (h.clear)
		aip_remove_owner(fwd.aips, p);
	for (i = 0; i < h.count; i++) {
		memcpy(&e, imsg->data + sizeof(h) + i * sizeof(e), sizeof(e));
		if ((e.family != AF_INET && e.family != AF_INET6) ||
		    e.cidr > (e.family == AF_INET ? 32 : 128))
			fatalx("%s: bad entry", __func__);
		if (e.remove)
			aip_remove(fwd.aips, e.family, e.addr, e.cidr, p);
		else if (aip_insert(fwd.aips, e.family, e.addr, e.cidr, p) == -1)
			fatal("aip_insert");
	}
}

static void
fwd_send_hs(struct imsg *imsg)
{
	struct fwd_send	 s;
	struct fwd_peer	*p = NULL;
	size_t		 len;
	int		 fam;

	if (imsg->len <= sizeof(s) || imsg->len > sizeof(s) + 1024)
		fatalx("%s: bad size", __func__);
	memcpy(&s, imsg->data, sizeof(s));
	len = imsg->len - sizeof(s);
	memcpy(fwd_scratch, imsg->data + sizeof(s), len);
	if (s.peer_id != 0 && (p = fwd_peer_find(s.peer_id)) != NULL) {
		p->tx_bytes += len;
		fwd_event(p, HS_EV_TRAVERSAL);
		/* The handshake process has the endpoint we should use. */
	}
	fwd_queue_out(p, &s.ep, fwd_scratch, len);
	fam = s.ep.addr.sa.sa_family == AF_INET6;
	if (fwd.out[fam].n)
		fwd_batch_flush(fam);
}

static void
fwd_hs_imsg(struct imsg *imsg)
{
	struct fwd_endpoint	 fe;
	struct fwd_peer		*p;
	uint32_t		 id;

	if (imsg->fd != -1)
		fatalx("unexpected fd from handshake");
	switch (imsg->type) {
	case IMSG_FWD_PEER_ADD:
		id = fwd_u32(imsg);
		if (fwd_peer_find(id) != NULL)
			fatalx("peer %u added twice", id);
		if ((p = calloc(1, sizeof(*p))) == NULL)
			fatal("calloc");
		p->id = id;
		p->hnext = fwd.peers[id % FWD_PEER_BUCKETS];
		fwd.peers[id % FWD_PEER_BUCKETS] = p;
		break;
	case IMSG_FWD_PEER_DEL:
		fwd_peer_del(fwd_u32(imsg));
		break;
	case IMSG_FWD_PEER_ENDPOINT:
		IMSG_SIZE_CHECK(imsg, sizeof(fe), "handshake");
		memcpy(&fe, imsg->data, sizeof(fe));
		if ((p = fwd_peer_find(fe.peer_id)) != NULL)
			p->ep = fe.ep;
		break;
	case IMSG_FWD_AIP:
		fwd_aips(imsg);
		break;
	case IMSG_FWD_KEYPAIR:
		fwd_new_keypair(imsg);
		break;
	case IMSG_FWD_EXPIRE:
		if ((p = fwd_peer_find(fwd_u32(imsg))) != NULL &&
		    p->current != NULL)
			p->current->send_expired = 1;
		break;
	case IMSG_FWD_CLEAR_KEYS:
		if ((p = fwd_peer_find(fwd_u32(imsg))) != NULL)
			fwd_peer_clear_keys(p, 1);
		break;
	case IMSG_FWD_KEEPALIVE:
		if ((p = fwd_peer_find(fwd_u32(imsg))) != NULL)
			fwd_send_keepalive(p);
		break;
	case IMSG_FWD_FLUSH_STAGED:
		if ((p = fwd_peer_find(fwd_u32(imsg))) != NULL)
			fwd_staged_clear(p);
		break;
	case IMSG_FWD_SEND:
		fwd_send_hs(imsg);
		break;
	default:
		fatalx("unexpected imsg %u from handshake", imsg->type);
	}
}

static void
fwd_parent_imsg(struct imsg *imsg)
{
	uint8_t	fam;
	int32_t	mtu;

	switch (imsg->type) {
	case IMSG_FWD_TUN:
		IMSG_SIZE_CHECK(imsg, sizeof(mtu), "parent");
		if (imsg->fd == -1)
			fatalx("TUN message without fd");
		memcpy(&mtu, imsg->data, sizeof(mtu));
		if (fwd.tun != -1)
			close(fwd.tun);
		fwd.tun = imsg->fd;
		fwd.mtu = mtu;
		fwd.tun_gone = 0;
		break;
	case IMSG_FWD_SOCKETS:
		IMSG_SIZE_CHECK(imsg, sizeof(fam), "parent");
		fam = imsg->data[0];
		if (fam != AF_INET && fam != AF_INET6)
			fatalx("bad socket family %u", fam);
		if (fwd.udp[fam == AF_INET6] != -1)
			close(fwd.udp[fam == AF_INET6]);
		fwd.udp[fam == AF_INET6] = imsg->fd;
		if (fwd.tun != -1 && fwd.udp[0] != -1 && fam == AF_INET6 &&
		    imsg_compose(&fwd.parent, IMSG_FWD_READY, 0, -1, NULL,
		    0) == -1)
			fatal("to parent");
		break;
	case IMSG_FWD_MTU:
		IMSG_SIZE_CHECK(imsg, sizeof(mtu), "parent");
		memcpy(&mtu, imsg->data, sizeof(mtu));
		if (imsg->fd != -1)
			fatalx("unexpected fd");
		fwd.mtu = mtu;
		break;
	default:
		fatalx("unexpected imsg %u from parent", imsg->type);
	}
}

/* Reads every message that is there; exits when the parent is gone. */
static void
fwd_read_chan(struct imsgbuf *ib, int from_hs)
{
	struct imsg	imsg;
	int		r;

	for (;;) {
		r = imsg_recv(ib, &imsg);
		if (r == 0)
			return;
		if (r == -1) {
			if (errno == 0) {
				log_debug("%s closed its socket",
				    from_hs ? "handshake" : "parent");
				exit(0);
			}
			fatal("read from %s", from_hs ? "handshake" : "parent");
		}
		if (r == -2)
			fatalx("malformed message from %s",
			    from_hs ? "handshake" : "parent");
		if (from_hs)
			fwd_hs_imsg(&imsg);
		else
			fwd_parent_imsg(&imsg);
	}
}

/* Once a second: wipe keypairs past REJECT_AFTER_TIME. */
static void
fwd_housekeeping(void)
{
	struct fwd_peer	*p;
	struct fwd_kp	**slots[3];
	int		 i, j;

	for (i = 0; i < FWD_PEER_BUCKETS; i++)
		for (p = fwd.peers[i]; p != NULL; p = p->hnext) {
			slots[0] = &p->current;
			slots[1] = &p->previous;
			slots[2] = &p->next;
			for (j = 0; j < 3; j++)
				if (*slots[j] != NULL && fwd.now -
				    (*slots[j])->birth_ms >=
				    WG_REJECT_AFTER_TIME * 1000ULL) {
					fwd_kp_drop(*slots[j], 1);
					*slots[j] = NULL;
				}
		}
}

static void
fwd_loop(void)
{
	struct pollfd	pfd[5];
	uint64_t	last_house = 0;
	int		i, n, timeout;

	for (;;) {
		pfd[0].fd = fwd.parent.fd;
		pfd[0].events = POLLIN | (imsg_pending(&fwd.parent) ? POLLOUT : 0);
		pfd[1].fd = fwd.hs.fd;
		pfd[1].events = POLLIN | (imsg_pending(&fwd.hs) ? POLLOUT : 0);
		pfd[2].fd = fwd.tun_gone ? -1 : fwd.tun;
		pfd[2].events = POLLIN;
		pfd[3].fd = fwd.udp[0];
		pfd[3].events = POLLIN;
		pfd[4].fd = fwd.udp[1];
		pfd[4].events = POLLIN;
		timeout = fwd.ndirty ? FWD_EVENT_MS : 1000;
		n = poll(pfd, 5, timeout);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			fatal("poll");
		}
		fwd.now = wg_now_ms();
		if (pfd[0].revents & POLLOUT)
			imsg_flush(&fwd.parent);
		if (pfd[1].revents & POLLOUT)
			imsg_flush(&fwd.hs);
		if (pfd[0].revents & (POLLIN | POLLHUP))
			fwd_read_chan(&fwd.parent, 0);
		if (pfd[1].revents & (POLLIN | POLLHUP))
			fwd_read_chan(&fwd.hs, 1);
		if (pfd[2].fd != -1 && (pfd[2].revents & (POLLERR | POLLHUP |
		    POLLNVAL)) && !(pfd[2].revents & POLLIN))
			fwd_tun_gone();
		else if (pfd[2].revents & POLLIN)
			fwd_tun_read();
		for (i = 0; i < 2; i++)
			if (pfd[3 + i].revents & POLLIN)
				fwd_udp_read(i);
		if (fwd.ndirty && fwd.now - fwd.last_flush >= FWD_EVENT_MS)
			fwd_flush_events();
		if (fwd.now - last_house >= 1000) {
			last_house = fwd.now;
			fwd_housekeeping();
		}
		if (imsg_flush(&fwd.hs) == -1)
			fatal("write to handshake");
		if (imsg_flush(&fwd.parent) == -1)
			fatal("write to parent");
	}
}

void
forwarder_main(const struct proc_opts *opts)
{
	int	i, fam;

	log_init(opts->debug, LOG_DAEMON);
	log_setverbose(opts->verbose);
	log_procinit("forwarder");
	proc_nocore();
	wg_crypto_init();
	proc_setname("wgcard-fwd");
	proc_settitle("wgcardd: forwarder [%s]", opts->ifname);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);

	if (imsgbuf_init(&fwd.parent, PROC_PARENT_FD) == -1 ||
	    imsgbuf_init(&fwd.hs, PROC_SIBLING_FD) == -1)
		fatal("imsgbuf_init");
	fwd.hs.wmax = FWD_HS_QUEUE_MAX;
	if ((fwd.aips = aip_new()) == NULL)
		fatal("aip_new");
	/* Every buffer the fast path uses, allocated once. */
	for (i = 0; i < FWD_BATCH; i++)
		if ((fwd.rxbuf[i] = malloc(FWD_BUF_LEN)) == NULL ||
		    (fwd.txbuf[i] = malloc(FWD_BUF_LEN)) == NULL)
			fatal("malloc");
	for (fam = 0; fam < 2; fam++) {
		fwd.out[fam].cspace = sock_cmsg_space();
		if ((fwd.out[fam].cbuf = calloc(FWD_BATCH,
		    fwd.out[fam].cspace)) == NULL)
			fatal("calloc");
		for (i = 0; i < FWD_BATCH; i++)
			fwd.out[fam].msgs[i].msg_hdr.msg_iov =
			    &fwd.out[fam].iov[i];
	}

	proc_privdrop(WGCARD_USER, WGCARD_CHROOT);
	sandbox_forwarder();
	log_debug("forwarder running (classic backend)");
	fwd.now = wg_now_ms();
	fwd_loop();
	exit(0);
}
