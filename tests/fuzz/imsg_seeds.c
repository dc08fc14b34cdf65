/*
 * imsg_seeds.c: writes seeds for the fuzz_imsg_* targets, built and run
 * by their .seed fragments, so the seeds follow the message structures
 * of common/wgcard.h as they are today: for each message a process
 * accepts, one well-formed example from its right sender (in the input
 * format of tests/fuzz/harness.h), and a few conversations.
 *
 * Usage: imsg_seeds parent|keyd|hs|fwd DIR
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "wgcard.h"

struct seed {
	uint8_t		b[8192];
	size_t		len;
};

static void
seed_msg(struct seed *s, int chan, int fd, uint32_t type, const void *p,
    size_t len)
{
	if (s->len + 4 + len > sizeof(s->b))
		abort();
	s->b[s->len++] = (uint8_t)(chan | (fd ? 4 : 0));
	s->b[s->len++] = (uint8_t)type;
	s->b[s->len++] = (uint8_t)(len >> 8);
	s->b[s->len++] = (uint8_t)len;
	memcpy(s->b + s->len, p, len);
	s->len += len;
}

static void
seed_write(const char *dir, const char *name, const struct seed *s)
{
	char	 path[4096];
	FILE	*f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "wb")) == NULL ||
	    fwrite(s->b, 1, s->len, f) != s->len || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
}

/* One message alone (after the target's leading bytes in pre). */
static void
seed_one(const char *dir, const struct seed *pre, int chan, int fd,
    uint32_t type, const void *p, size_t len)
{
	struct seed	s = *pre;
	char		name[64];

	seed_msg(&s, chan, fd, type, p, len);
	snprintf(name, sizeof(name), "msg-%u-chan%d", type, chan);
	seed_write(dir, name, &s);
}

static void
seeds_parent(const char *dir)
{
	/* Channels: 0 key broker, 1 handshake, 2 forwarder. */
	struct seed		pre = { .len = 0 }, s = { .len = 0 };
	struct key_public	kp = { .has_key = 1, .generation = 1 };
	int32_t			zero = 0, err = -EINVAL, one = 1;
	uint16_t		port = 51821;
	uint32_t		mark = 0x1234, uid = 1000;
	static const char	audit[] = "op=test result=ok";

	memset(kp.pub, 0x42, sizeof(kp.pub));
	seed_one(dir, &pre, 0, 0, IMSG_KEY_PUBLIC, &kp, sizeof(kp));
	seed_one(dir, &pre, 0, 0, IMSG_AUDIT, audit, sizeof(audit));
	seed_one(dir, &pre, 1, 0, IMSG_CFG_DONE, &zero, sizeof(zero));
	seed_one(dir, &pre, 1, 0, IMSG_PRIV_SET_PORT, &port, sizeof(port));
	seed_one(dir, &pre, 1, 0, IMSG_PRIV_SET_FWMARK, &mark, sizeof(mark));
	seed_one(dir, &pre, 1, 0, IMSG_CTL_LOG, &one, sizeof(one));
	seed_one(dir, &pre, 1, 0, IMSG_CTL_RELOAD, &uid, sizeof(uid));
	seed_one(dir, &pre, 1, 0, IMSG_AUDIT, audit, sizeof(audit));
	seed_one(dir, &pre, 2, 0, IMSG_FWD_READY, NULL, 0);
	seed_one(dir, &pre, 2, 0, IMSG_FWD_TUN_GONE, NULL, 0);
	/* Start-up as it goes, then a port change and a refused config. */
	seed_msg(&s, 0, 0, IMSG_KEY_PUBLIC, &kp, sizeof(kp));
	seed_msg(&s, 2, 0, IMSG_FWD_READY, NULL, 0);
	seed_msg(&s, 1, 0, IMSG_CFG_DONE, &zero, sizeof(zero));
	seed_msg(&s, 1, 0, IMSG_PRIV_SET_PORT, &port, sizeof(port));
	seed_msg(&s, 1, 0, IMSG_PRIV_SET_FWMARK, &mark, sizeof(mark));
	seed_msg(&s, 0, 0, IMSG_AUDIT, audit, sizeof(audit));
	seed_msg(&s, 1, 0, IMSG_CFG_DONE, &err, sizeof(err));
	seed_write(dir, "startup", &s);
}

static void
seeds_keyd(const char *dir)
{
	/* Leading byte: bit 0 card backend. Channels: 0 parent, 1 hs. */
	struct seed		pre = { .len = 1 }, s;
	struct key_set		ks;
	struct key_dh_req	dh = { .id = 7, .peer = "AbCdEfGh" };
	struct key_card_config	kc = { .reader = "Virtual PCD", .has_pub = 1 };
	struct key_pin		pin = { .len = 6 };
	uint32_t		id = 3;
	int32_t			one = 1;
	int			card;

	memset(ks.key, 0x11, sizeof(ks.key));
	ks.key[0] &= 248;
	memset(dh.point, 0x09, sizeof(dh.point));
	memset(kc.pub, 0x42, sizeof(kc.pub));
	memcpy(pin.pin, "123456", 6);
	for (card = 0; card <= 1; card++) {
		pre.b[0] = (uint8_t)card;
		seed_one(dir, &pre, 0, 0, IMSG_CTL_LOG_SET, &one, sizeof(one));
		s = pre;
		if (card) {
			seed_msg(&s, 0, 0, IMSG_KEY_CARD_CONFIG, &kc,
			    sizeof(kc));
			seed_msg(&s, 0, 0, IMSG_KEY_PIN, &pin, sizeof(pin));
		} else
			seed_msg(&s, 0, 0, IMSG_KEY_SET, &ks, sizeof(ks));
		seed_msg(&s, 1, 0, IMSG_KEY_DH, &dh, sizeof(dh));
		seed_msg(&s, 1, 0, IMSG_KEY_STATUS, &id, sizeof(id));
		seed_msg(&s, 1, 0, IMSG_KEY_PIN, &pin, sizeof(pin));
		seed_msg(&s, 1, 0, IMSG_KEY_SET, &ks, sizeof(ks));
		seed_msg(&s, 1, 0, IMSG_KEY_DH, &dh, sizeof(dh));
		seed_write(dir, card ? "session-card" : "session-file", &s);
	}
	pre.b[0] = 1;
	seed_one(dir, &pre, 0, 0, IMSG_KEY_CARD_CONFIG, &kc, sizeof(kc));
	seed_one(dir, &pre, 0, 0, IMSG_KEY_PIN, &pin, sizeof(pin));
	pre.b[0] = 0;
	seed_one(dir, &pre, 0, 0, IMSG_KEY_SET, &ks, sizeof(ks));
	seed_one(dir, &pre, 1, 0, IMSG_KEY_SET, &ks, sizeof(ks));
	seed_one(dir, &pre, 1, 0, IMSG_KEY_DH, &dh, sizeof(dh));
	seed_one(dir, &pre, 1, 0, IMSG_KEY_STATUS, &id, sizeof(id));
	seed_one(dir, &pre, 1, 0, IMSG_KEY_PIN, &pin, sizeof(pin));
}

static void
seeds_hs(const char *dir)
{
	/* Channels: 0 parent, 1 key broker, 2 forwarder. */
	struct seed		pre = { .len = 0 }, s = { .len = 0 };
	struct key_public	kp = { .has_key = 1, .generation = 1 };
	struct key_dh_res	dr = { .id = 1, .generation = 1 };
	struct key_status	ks = { .id = 1, .state = KEY_STATE_READY,
	    .backend = "openpgp", .reader = "Virtual PCD", .serial = "0000ABCD",
	    .pin_retries = 3 };
	struct key_pin_result	pr = { .status = 0, .retries = 3 };
	struct key_load		kl = { .queued = 1, .capacity = 16 };
	struct ctl_result	cr = { .status = 0, .message = "reloaded" };
	struct priv_port	pp = { .status = 0, .port = 51821 };
	struct hs_events	ev = { .peer_id = 1, .events = HS_EV_DATA_SENT |
	    HS_EV_WANT_HANDSHAKE | HS_EV_ENDPOINT };
	struct fwd_info		fi = { .backend = "uring", .offloads = "on",
	    .crypto_workers = 2, .pool_bufs = 1024 };
	struct fwd_hs_stats	fs;
	uint8_t			pkt[sizeof(struct hs_packet) + 148];
	struct hs_packet	hp;
	uint32_t		u = 1, idx = 0x1234;
	int32_t			zero = 0;
	static const char	cfg[] = "listen_port=51821\n"
	    "public_key=4242424242424242424242424242424242424242424242424242"
	    "424242424242\nendpoint=192.0.2.1:51820\n"
	    "persistent_keepalive_interval=25\nallowed_ip=10.0.0.2/32\n"
	    "allowed_ip=fd00::2/128\n";

	memset(kp.pub, 0x09, sizeof(kp.pub));
	memset(&fs, 0, sizeof(fs));
	memset(dr.result, 0x77, sizeof(dr.result));
	memset(&hp, 0, sizeof(hp));
	hp.ep.addr.sin.sin_family = AF_INET;
	hp.ep.addr.sin.sin_port = htons(51820);
	hp.ep.addr.sin.sin_addr.s_addr = htonl(0xc0000201);
	ev.ep = hp.ep;
	memcpy(pkt, &hp, sizeof(hp));
	memset(pkt + sizeof(hp), 0, 148);
	pkt[sizeof(hp)] = 1;		/* an initiation */
	seed_one(dir, &pre, 0, 1, IMSG_CFG_UAPI_FD, NULL, 0);
	seed_one(dir, &pre, 0, 1, IMSG_CTL_FD, NULL, 0);
	seed_one(dir, &pre, 0, 0, IMSG_CTL_RELOAD_DONE, &cr, sizeof(cr));
	seed_one(dir, &pre, 0, 0, IMSG_CFG_CHUNK, cfg, sizeof(cfg) - 1);
	seed_one(dir, &pre, 0, 0, IMSG_CFG_END, &u, sizeof(u));
	seed_one(dir, &pre, 0, 0, IMSG_PRIV_PORT, &pp, sizeof(pp));
	seed_one(dir, &pre, 0, 0, IMSG_PRIV_FWMARK, &zero, sizeof(zero));
	seed_one(dir, &pre, 1, 0, IMSG_KEY_PUBLIC, &kp, sizeof(kp));
	seed_one(dir, &pre, 1, 0, IMSG_KEY_DH_RESULT, &dr, sizeof(dr));
	seed_one(dir, &pre, 1, 0, IMSG_KEY_STATUS_RESULT, &ks, sizeof(ks));
	seed_one(dir, &pre, 1, 0, IMSG_KEY_PIN_RESULT, &pr, sizeof(pr));
	seed_one(dir, &pre, 1, 0, IMSG_KEY_LOAD, &kl, sizeof(kl));
	seed_one(dir, &pre, 2, 0, IMSG_HS_PACKET, pkt, sizeof(pkt));
	seed_one(dir, &pre, 2, 0, IMSG_HS_EVENTS, &ev, sizeof(ev));
	seed_one(dir, &pre, 2, 0, IMSG_HS_KEYPAIR_GONE, &idx, sizeof(idx));
	seed_one(dir, &pre, 2, 0, IMSG_HS_FWD_INFO, &fi, sizeof(fi));
	seed_one(dir, &pre, 2, 0, IMSG_HS_FWD_STATS, &fs, sizeof(fs));
	/*
	 * Start-up: sockets, the key, a peer with a port to set; the port
	 * and the peer's static-static DH (id 1) answered; an initiation
	 * wanted, a packet, a reload with the same peer.
	 */
	seed_msg(&s, 0, 1, IMSG_CFG_UAPI_FD, NULL, 0);
	seed_msg(&s, 0, 1, IMSG_CTL_FD, NULL, 0);
	seed_msg(&s, 1, 0, IMSG_KEY_PUBLIC, &kp, sizeof(kp));
	seed_msg(&s, 2, 0, IMSG_HS_FWD_INFO, &fi, sizeof(fi));
	seed_msg(&s, 0, 0, IMSG_CFG_CHUNK, cfg, sizeof(cfg) - 1);
	u = 0;
	seed_msg(&s, 0, 0, IMSG_CFG_END, &u, sizeof(u));
	seed_msg(&s, 0, 0, IMSG_PRIV_PORT, &pp, sizeof(pp));
	seed_msg(&s, 1, 0, IMSG_KEY_DH_RESULT, &dr, sizeof(dr));
	seed_msg(&s, 1, 0, IMSG_KEY_LOAD, &kl, sizeof(kl));
	seed_msg(&s, 2, 0, IMSG_HS_EVENTS, &ev, sizeof(ev));
	seed_msg(&s, 2, 0, IMSG_HS_PACKET, pkt, sizeof(pkt));
	seed_msg(&s, 0, 0, IMSG_CFG_CHUNK, cfg, sizeof(cfg) - 1);
	u = 1;
	seed_msg(&s, 0, 0, IMSG_CFG_END, &u, sizeof(u));
	seed_msg(&s, 2, 0, IMSG_HS_KEYPAIR_GONE, &idx, sizeof(idx));
	seed_write(dir, "startup", &s);
}

static void
seeds_fwd(const char *dir)
{
	/* Channels: 0 parent, 1 handshake. */
	struct seed		pre = { .len = 0 }, s = { .len = 0 };
	struct fwd_endpoint	fe = { .peer_id = 1 };
	struct fwd_keypair	kp = { .peer_id = 1, .local_index = 0x1111,
	    .remote_index = 0x2222, .initiator = 1 };
	struct fwd_identity	id = { .has_key = 1 };
	struct {
		struct fwd_aip_hdr	h;
		struct fwd_aip_entry	e[2];
	}			aip = { .h = { .peer_id = 1, .count = 2 } };
	uint8_t			snd[sizeof(struct fwd_send) + 148];
	struct fwd_send		fs;
	int32_t			mtu = 1420, one = 1;
	uint32_t		peer = 1;
	uint8_t			fam;

	fe.ep.addr.sin.sin_family = AF_INET;
	fe.ep.addr.sin.sin_port = htons(51820);
	fe.ep.addr.sin.sin_addr.s_addr = htonl(0xc0000201);
	memset(kp.send_key, 0x55, sizeof(kp.send_key));
	memset(kp.recv_key, 0x66, sizeof(kp.recv_key));
	memset(id.public_key, 0x09, sizeof(id.public_key));
	aip.e[0].family = AF_INET;
	aip.e[0].cidr = 24;
	aip.e[0].addr[0] = 10;
	aip.e[1].family = AF_INET6;
	aip.e[1].cidr = 64;
	aip.e[1].addr[0] = 0xfd;
	memset(&fs, 0, sizeof(fs));
	fs.ep = fe.ep;
	fs.peer_id = 1;
	memcpy(snd, &fs, sizeof(fs));
	memset(snd + sizeof(fs), 0, 148);
	snd[sizeof(fs)] = 1;		/* an initiation */
	fam = AF_INET;
	seed_one(dir, &pre, 0, 1, IMSG_FWD_TUN, &mtu, sizeof(mtu));
	seed_one(dir, &pre, 0, 1, IMSG_FWD_SOCKETS, &fam, sizeof(fam));
	seed_one(dir, &pre, 0, 0, IMSG_FWD_MTU, &mtu, sizeof(mtu));
	seed_one(dir, &pre, 0, 0, IMSG_CTL_LOG_SET, &one, sizeof(one));
	seed_one(dir, &pre, 1, 0, IMSG_FWD_PEER_ADD, &peer, sizeof(peer));
	seed_one(dir, &pre, 1, 0, IMSG_FWD_PEER_DEL, &peer, sizeof(peer));
	seed_one(dir, &pre, 1, 0, IMSG_FWD_PEER_ENDPOINT, &fe, sizeof(fe));
	seed_one(dir, &pre, 1, 0, IMSG_FWD_AIP, &aip, sizeof(aip));
	seed_one(dir, &pre, 1, 0, IMSG_FWD_KEYPAIR, &kp, sizeof(kp));
	seed_one(dir, &pre, 1, 0, IMSG_FWD_EXPIRE, &peer, sizeof(peer));
	seed_one(dir, &pre, 1, 0, IMSG_FWD_CLEAR_KEYS, &peer, sizeof(peer));
	seed_one(dir, &pre, 1, 0, IMSG_FWD_KEEPALIVE, &peer, sizeof(peer));
	seed_one(dir, &pre, 1, 0, IMSG_FWD_SEND, snd, sizeof(snd));
	seed_one(dir, &pre, 1, 0, IMSG_FWD_FLUSH_STAGED, &peer, sizeof(peer));
	seed_one(dir, &pre, 1, 0, IMSG_FWD_IDENTITY, &id, sizeof(id));
	seed_one(dir, &pre, 1, 0, IMSG_FWD_LOAD, &one, sizeof(one));
	/* Start-up, a peer with a session that sends, then goes. */
	seed_msg(&s, 0, 1, IMSG_FWD_TUN, &mtu, sizeof(mtu));
	seed_msg(&s, 0, 1, IMSG_FWD_SOCKETS, &fam, sizeof(fam));
	fam = AF_INET6;
	seed_msg(&s, 0, 1, IMSG_FWD_SOCKETS, &fam, sizeof(fam));
	seed_msg(&s, 1, 0, IMSG_FWD_IDENTITY, &id, sizeof(id));
	seed_msg(&s, 1, 0, IMSG_FWD_PEER_ADD, &peer, sizeof(peer));
	seed_msg(&s, 1, 0, IMSG_FWD_PEER_ENDPOINT, &fe, sizeof(fe));
	seed_msg(&s, 1, 0, IMSG_FWD_AIP, &aip, sizeof(aip));
	seed_msg(&s, 1, 0, IMSG_FWD_SEND, snd, sizeof(snd));
	seed_msg(&s, 1, 0, IMSG_FWD_KEYPAIR, &kp, sizeof(kp));
	seed_msg(&s, 1, 0, IMSG_FWD_KEEPALIVE, &peer, sizeof(peer));
	seed_msg(&s, 0, 0, IMSG_FWD_MTU, &mtu, sizeof(mtu));
	seed_msg(&s, 1, 0, IMSG_FWD_EXPIRE, &peer, sizeof(peer));
	seed_msg(&s, 1, 0, IMSG_FWD_CLEAR_KEYS, &peer, sizeof(peer));
	seed_msg(&s, 1, 0, IMSG_FWD_PEER_DEL, &peer, sizeof(peer));
	seed_write(dir, "startup", &s);
}

int
main(int argc, char *argv[])
{
	if (argc != 3) {
		fprintf(stderr, "usage: imsg_seeds parent|keyd|hs|fwd dir\n");
		return 2;
	}
	if (strcmp(argv[1], "parent") == 0)
		seeds_parent(argv[2]);
	else if (strcmp(argv[1], "keyd") == 0)
		seeds_keyd(argv[2]);
	else if (strcmp(argv[1], "hs") == 0)
		seeds_hs(argv[2]);
	else if (strcmp(argv[1], "fwd") == 0)
		seeds_fwd(argv[2]);
	else {
		fprintf(stderr, "imsg_seeds: no seeds for %s\n", argv[1]);
		return 2;
	}
	return 0;
}
