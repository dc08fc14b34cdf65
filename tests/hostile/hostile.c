/*
 * hostile.c: a compromised sibling. Started in place of the forwarder or
 * the handshake process by a daemon built with `make hostile` (see
 * proc_hostile() in common/proc.c), it holds the same descriptors the
 * real child would and sends what HOSTILE_CASE names: a message of the
 * wrong type, size, descriptor or direction, one out of order, or a
 * flood, or PINs it made up (what wgcardctl card unlock sends, one a
 * second). Then it waits for its parent to go (the parent's socket closes)
 * and exits 0; tests/integration/hostile.sh checks what the receivers
 * did. `hostile -l` lists the cases.
 */
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "imsg.h"
#include "wgcard.h"

struct hostile_case {
	const char	*name;
	const char	*role;		/* the child it replaces */
	int		 to;		/* fd: 3 parent, 4/5 siblings */
	uint32_t	 type;
	size_t		 len;
	int		 withfd;
	int		 count;
	const char	*text;		/* payload text (NUL included), or NULL */
};

#define FWD	"forwarder"
#define HS	"handshake"

/* fds of each role: forwarder 3 parent, 4 hs; handshake 3 parent, 4
 * key broker, 5 forwarder (common/wgcard.h). */
static const struct hostile_case cases[] = {
	/* The forwarder to the parent. */
	{ "fwd-unknown-type", FWD, 3, 9999, 0, 0, 1, NULL },
	{ "fwd-type-zero", FWD, 3, IMSG_NONE, 0, 0, 1, NULL },
	{ "fwd-type-max", FWD, 3, UINT32_MAX, 0, 0, 1, NULL },
	{ "fwd-tun-gone-size", FWD, 3, IMSG_FWD_TUN_GONE, 4, 0, 1, NULL },
	{ "fwd-ready-size", FWD, 3, IMSG_FWD_READY, 1, 0, 1, NULL },
	{ "fwd-ready-fd", FWD, 3, IMSG_FWD_READY, 0, 1, 1, NULL },
	{ "fwd-sends-reload", FWD, 3, IMSG_CTL_RELOAD, 4, 0, 1, NULL },
	{ "fwd-sends-port", FWD, 3, IMSG_PRIV_SET_PORT, 2, 0, 1, NULL },
	{ "fwd-sends-audit", FWD, 3, IMSG_AUDIT, 12, 0, 1, "op=key x=1" },
	{ "fwd-sends-cfg-done", FWD, 3, IMSG_CFG_DONE, 4, 0, 1, NULL },
	{ "fwd-sends-key-set", FWD, 3, IMSG_KEY_SET, 32, 0, 1, NULL },
	/* The handshake process to the parent. */
	{ "hs-sends-tun-gone", HS, 3, IMSG_FWD_TUN_GONE, 0, 0, 1, NULL },
	{ "hs-sends-fwd-ready", HS, 3, IMSG_FWD_READY, 0, 0, 1, NULL },
	{ "hs-port-size", HS, 3, IMSG_PRIV_SET_PORT, 4, 0, 1, NULL },
	{ "hs-fwmark-fd", HS, 3, IMSG_PRIV_SET_FWMARK, 4, 1, 1, NULL },
	{ "hs-reload-size", HS, 3, IMSG_CTL_RELOAD, 2, 0, 1, NULL },
	{ "hs-unknown-type", HS, 3, 4242, 8, 0, 1, NULL },
	{ "hs-audit-huge", HS, 3, IMSG_AUDIT, 60000, 0, 1, NULL },
	/* The handshake process to the key broker. */
	{ "hs-keyd-log-set", HS, 4, IMSG_CTL_LOG_SET, 4, 0, 1, NULL },
	{ "hs-keyd-card-config", HS, 4, IMSG_KEY_CARD_CONFIG,
	    sizeof(struct key_card_config), 0, 1, NULL },
	{ "hs-keyd-dh-size", HS, 4, IMSG_KEY_DH, 3, 0, 1, NULL },
	{ "hs-keyd-dh-fd", HS, 4, IMSG_KEY_DH, sizeof(struct key_dh_req), 1,
	    1, NULL },
	{ "hs-keyd-unknown-type", HS, 4, 31337, 0, 0, 1, NULL },
	{ "hs-keyd-sends-result", HS, 4, IMSG_KEY_DH_RESULT,
	    sizeof(struct key_dh_res), 0, 1, NULL },
	/* Floods: the receiver must stay up and bounded. */
	{ "hs-audit-flood", HS, 3, IMSG_AUDIT, 0, 0, 50000,
	    "op=peer-add peer=flood peers=1" },
	/* Card mode: each KEY_SET re-announced the key to the parent. */
	{ "hs-keyd-keyset-flood", HS, 4, IMSG_KEY_SET,
	    sizeof(struct key_set), 0, 5000, NULL },
	/* Guesses: twelve made-up PINs to the broker (hostile_pin). */
	{ "hs-keyd-pin-guess", HS, 4, IMSG_KEY_PIN, sizeof(struct key_pin),
	    0, 12, NULL },
};
#define NCASES	(sizeof(cases) / sizeof(cases[0]))

/* The nth made-up PIN of an IMSG_KEY_PIN case, a second after the last. */
static void
hostile_pin(uint8_t *buf, int n)
{
	struct key_pin	kp;

	memset(&kp, 0, sizeof(kp));
	kp.len = (uint32_t)snprintf((char *)kp.pin, sizeof(kp.pin), "%06d",
	    900000 + n);
	memcpy(buf, &kp, sizeof(kp));
	if (n > 0)
		poll(NULL, 0, 1000);
}

static const char *
role_of(int argc, char *argv[])
{
	int	i;

	for (i = 1; i + 1 < argc; i++)
		if (strcmp(argv[i], "-P") == 0)
			return argv[i + 1];
	return "keyd";
}

int
main(int argc, char *argv[])
{
	const struct hostile_case	*c = NULL;
	const char			*name = getenv("HOSTILE_CASE");
	struct imsgbuf			 ib;
	struct pollfd			 pfd;
	static uint8_t			 buf[IMSG_MAX_PAYLOAD];
	size_t				 i, len;
	int				 n, fd;

	if (argc == 2 && strcmp(argv[1], "-l") == 0) {
		for (i = 0; i < NCASES; i++)
			printf("%s %s\n", cases[i].name, cases[i].role);
		return 0;
	}
	for (i = 0; name != NULL && i < NCASES; i++)
		if (strcmp(cases[i].name, name) == 0)
			c = &cases[i];
	if (c == NULL || strcmp(c->role, role_of(argc, argv)) != 0) {
		fprintf(stderr, "hostile: no case %s for the %s\n",
		    name ? name : "(HOSTILE_CASE unset)", role_of(argc, argv));
		return 2;
	}
	fprintf(stderr, "hostile: %s plays case %s (type %u, %zu bytes%s, "
	    "%d times, to fd %d)\n", c->role, c->name, c->type, c->len,
	    c->withfd ? ", with a descriptor" : "", c->count, c->to);
	memset(buf, 0x41, sizeof(buf));
	len = c->len;
	if (c->text != NULL) {
		len = strlen(c->text) + 1;
		memcpy(buf, c->text, len);
	}
	if (imsgbuf_init(&ib, c->to) == -1)
		return 2;
	/* Nonblocking sockets: block here, a flood waits for room. */
	fcntl(c->to, F_SETFL, fcntl(c->to, F_GETFL) & ~O_NONBLOCK);
	for (n = 0; n < c->count; n++) {
		if (c->type == IMSG_KEY_PIN)
			hostile_pin(buf, n);
		fd = c->withfd ? open("/dev/null", O_RDONLY) : -1;
		if (imsg_compose(&ib, c->type, 0, fd, buf, len) == -1 ||
		    imsg_flush_blocking(&ib) == -1) {
			fprintf(stderr, "hostile: send %d: %s\n", n,
			    strerror(errno));
			break;
		}
	}
	fprintf(stderr, "hostile: sent %d\n", n);
	/* Wait for the parent to go (its end of fd 3 closes), 60 s at most. */
	pfd.fd = 3;
	pfd.events = POLLIN;
	for (i = 0; i < 600; i++) {
		if (poll(&pfd, 1, 100) == 1 &&
		    (pfd.revents & (POLLHUP | POLLERR)))
			break;
		if (pfd.revents & POLLIN)
			(void)recv(3, buf, sizeof(buf), MSG_DONTWAIT);
	}
	return 0;
}
