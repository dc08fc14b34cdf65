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
	else {
		fprintf(stderr, "imsg_seeds: no seeds for %s\n", argv[1]);
		return 2;
	}
	return 0;
}
