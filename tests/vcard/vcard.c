/*
 * vcard.c: wgcard-vcard, the virtual OpenPGP card of the tests and the
 * demo. It connects to pcscd's vsmartcard-vpcd reader driver over TCP
 * (vpcd listens; the card dials in, and again whenever the connection
 * drops) and answers what vpcd forwards: every message is a 2-byte
 * big-endian length then the payload; a 1-byte payload is a control
 * code (0 power off, 1 power on, 2 reset, 4 send the ATR: only 4 gets
 * an answer); anything longer is a command APDU.
 *
 * A control socket (--control PATH) lets tests pull the card, slow it
 * down, make it answer garbage or hang, select another application,
 * touch it, turn a knob; see usage(). --profile makes it behave like a
 * real token (card.h, docs/devices.md); --set turns single knobs.
 * SIGUSR1 is a touch too.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "crypto.h"
#include "encoding.h"
#include "log.h"
#include "card.h"

#define VPCD_PORT	35963	/* 0x8C7B */
#define CTL_MAX		8
#define CTL_LINE	256
#define RX_MAX		(65536 + 16)
#define BACKOFF_MIN	50
#define BACKOFF_MAX	500

struct ctl_client {
	int		fd;
	char		buf[CTL_LINE];
	size_t		len;
};

struct vcard_run {
	struct vcard	card;
	const char	*statefile;
	const char	*host;
	int		port;

	int		fd;		/* vpcd connection, -1: none */
	int		present;	/* 0 after "remove" */
	int		powered;
	unsigned long	powerons, atrs, apdus, connects;
	uint8_t		rx[RX_MAX];
	size_t		rxlen;
	int64_t		next_connect;	/* ms, when not connected */
	int		backoff;

	/* Fault injection. */
	int		slow_ms;
	int		hang;
	int		garbage;
	uint8_t		pending[VCARD_OUT_MAX + 2];
	size_t		pending_len;	/* an answer held back */
	int64_t		pending_at;	/* ms; when "slow" lets it go */
	int		touch_wait;	/* the held answer waits for a touch */
	unsigned long	touches;

	int		ctl_fd;
	const char	*ctl_path;
	struct ctl_client ctl[CTL_MAX];
};

static volatile sig_atomic_t quit, touched;

static void
on_signal(int sig)
{
	quit = sig;
}

static void
on_touch(int sig)
{
	(void)sig;
	touched = 1;
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* To stderr, exit 2 on a bad command line; to stdout, exit 0 (--help). */
__dead static void
usage_exit(int code)
{
	fprintf(code == 0 ? stdout : stderr,
	    "usage: wgcard-vcard [--state FILE] [--port N] [--host ADDR] "
	    "[--serial HEX]\n"
	    "                    [--control PATH] [--profile NAME] "
	    "[--set KNOB=VALUE] [-v]\n"
	    "       wgcard-vcard --init-state FILE [--generate] [--pin PIN] "
	    "[--admin-pin PIN]\n"
	    "                    [--serial HEX] [--profile NAME] "
	    "[--set KNOB=VALUE]\n"
	    "       wgcard-vcard --pubkey FILE\n"
	    "       wgcard-vcard --help\n"
	    "profiles: default, nitrokey3, yubikey5, gnuk, smartpgp\n"
	    "knobs:\n%s\n"
	    "control commands: remove, insert, slow MS, garbage N, hang, "
	    "normal, status, pubkey,\n"
	    "  app openpgp|piv|oath|mgmt, touch, uif sig|dec|aut 0-4, "
	    "set KNOB=VALUE\n",
	    vcard_knobs);
	exit(code);
}

__dead static void
usage(void)
{
	usage_exit(2);
}

static const char *
ins_name(uint8_t ins, uint8_t p1, uint8_t p2)
{
	switch (ins) {
	case 0xA4: return "SELECT";
	case 0xCA: return "GET DATA";
	case 0xDA: return "PUT DATA";
	case 0xDB: return "PUT DATA (key import)";
	case 0x20: return "VERIFY";
	case 0x24: return "CHANGE REFERENCE DATA";
	case 0x2C: return "RESET RETRY COUNTER";
	case 0x47: return p1 == 0x80 ? "GENERATE" : "READ PUBLIC KEY";
	case 0x2A:
		if (p1 == 0x80 && p2 == 0x86)
			return "PSO:DECIPHER";
		if (p1 == 0x9E && p2 == 0x9A)
			return "PSO:CDS";
		return "PSO";
	case 0x88: return "INTERNAL AUTHENTICATE";
	case 0x84: return "GET CHALLENGE";
	case 0xC0: return "GET RESPONSE";
	case 0xE6: return "TERMINATE DF";
	case 0x44: return "ACTIVATE FILE";
	case 0x1D: return "READ CONFIG";
	default: return "?";
	}
}

static void
save_state(struct vcard_run *r)
{
	if (!r->card.dirty)
		return;
	if (r->statefile != NULL && vcard_save(&r->card, r->statefile) == -1)
		log_warn("cannot save the state to %s", r->statefile);
	r->card.dirty = 0;
}

/* ------------------------------------------------------------ vpcd */

static void
vpcd_close(struct vcard_run *r, const char *why)
{
	if (r->fd == -1)
		return;
	log_info("vpcd connection closed: %s", why);
	close(r->fd);
	r->fd = -1;
	r->rxlen = 0;
	r->powered = 0;
	r->pending_len = 0;
	r->touch_wait = 0;
	vcard_reset_session(&r->card);
	r->backoff = BACKOFF_MIN;
	r->next_connect = now_ms() + r->backoff;
}

static void
vpcd_connect(struct vcard_run *r)
{
	struct addrinfo hints, *res, *ai;
	char port[16];
	int fd = -1, one = 1, e;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	snprintf(port, sizeof(port), "%d", r->port);
	if ((e = getaddrinfo(r->host, port, &hints, &res)) != 0) {
		log_warnx("%s: %s", r->host, gai_strerror(e));
		goto retry;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
		    ai->ai_protocol);
		if (fd == -1)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd == -1)
		goto retry;
	/* vpcd writes length and body apart: no delayed ACKs, no Nagle. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
	r->fd = fd;
	r->rxlen = 0;
	r->powered = 0;
	r->atrs = r->powerons = 0;
	r->connects++;
	r->backoff = BACKOFF_MIN;
	vcard_reset_session(&r->card);
	log_info("connected to vpcd at %s port %d", r->host, r->port);
	return;
retry:
	if (r->backoff == BACKOFF_MIN)
		log_debug("vpcd at %s port %d not there yet, retrying",
		    r->host, r->port);
	r->next_connect = now_ms() + r->backoff;
	r->backoff = r->backoff * 2 > BACKOFF_MAX ? BACKOFF_MAX :
	    r->backoff * 2;
}

static int
vpcd_send(struct vcard_run *r, const uint8_t *v, size_t n)
{
	uint8_t hdr[2] = { n >> 8, n & 0xFF };
	struct iovec iov[2] = { { hdr, 2 }, { (void *)v, n } };
	struct msghdr msg;
	ssize_t w;

	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = iov;
	msg.msg_iovlen = 2;
	w = sendmsg(r->fd, &msg, MSG_NOSIGNAL);
	if (w != (ssize_t)(n + 2)) {
		vpcd_close(r, w == -1 ? strerror(errno) : "short write");
		return -1;
	}
	return 0;
}

static void
make_garbage(struct vcard_run *r, uint8_t *out, size_t *outlen)
{
	if (r->garbage % 2) {
		*outlen = 1 + randombytes_uniform(16);
		randombytes_buf(out, *outlen);
		if (*outlen >= 2 && out[*outlen - 2] == 0x90)
			out[*outlen - 2] = 0x6F;
	} else {
		out[0] = 0x6F;
		out[1] = 0x00;
		*outlen = 2;
	}
	r->garbage--;
}

/* The profile's latency for this command class, in ms. */
static int
class_delay(const struct vcard *c, const uint8_t *in)
{
	switch (in[1]) {
	case 0x20:
		return c->prof.verify_ms;
	case 0x2A:
		return in[2] == 0x80 && in[3] == 0x86 ? c->prof.decipher_ms : 0;
	case 0x47:
		return in[2] == 0x80 ? c->prof.generate_ms : 0;
	default:
		return 0;
	}
}

static void
vpcd_apdu(struct vcard_run *r, const uint8_t *in, size_t inlen)
{
	uint8_t out[VCARD_OUT_MAX];
	size_t outlen;
	unsigned int sw;
	int delay;

	delay = class_delay(&r->card, in);
	if (delay < r->slow_ms)
		delay = r->slow_ms;
	sw = vcard_apdu(&r->card, in, inlen, out, &outlen);
	r->apdus++;
	log_debug("apdu %s: INS %02X P1 %02X P2 %02X -> SW %04X, %zu bytes",
	    ins_name(in[1], in[2], in[3]), in[1], in[2], in[3], sw,
	    outlen - 2);
	save_state(r);
	if (r->garbage > 0) {
		make_garbage(r, out, &outlen);
		log_debug("apdu answered with %zu bytes of garbage", outlen);
	}
	if (r->card.touch_pending) {
		/* The token blinks; the answer waits for a touch. */
		r->card.touch_pending = 0;
		r->touch_wait = 1;
		touched = 0;
		log_info("touch the card: DECIPHER waits (\"touch\" or "
		    "SIGUSR1), for at most %d ms",
		    r->card.prof.touch_timeout_ms);
		delay = r->card.prof.touch_timeout_ms;
	}
	if (r->hang || delay > 0) {
		memcpy(r->pending, out, outlen);
		r->pending_len = outlen;
		r->pending_at = now_ms() + delay;
	} else {
		vpcd_send(r, out, outlen);
	}
	sodium_memzero(out, sizeof(out));
}

static void
vpcd_message(struct vcard_run *r, const uint8_t *m, size_t n)
{
	uint8_t atr[32];
	size_t atrlen;

	if (n >= 4) {
		vpcd_apdu(r, m, n);
		return;
	}
	if (n != 1) {
		log_warnx("vpcd sent a %zu-byte message, ignored", n);
		return;
	}
	switch (m[0]) {
	case 0:
		log_debug("power off");
		r->powered = 0;
		vcard_reset_session(&r->card);
		break;
	case 1:
		log_debug("power on");
		r->powered = 1;
		r->powerons++;
		vcard_reset_session(&r->card);
		break;
	case 2:
		log_debug("reset");
		r->powered = 1;
		vcard_reset_session(&r->card);
		break;
	case 4:
		r->atrs++;
		atrlen = vcard_atr(&r->card.prof, atr);
		vpcd_send(r, atr, atrlen);
		break;
	default:
		log_warnx("vpcd sent control code %u, ignored", m[0]);
		break;
	}
}

static void	vpcd_process(struct vcard_run *);

static void
vpcd_read(struct vcard_run *r)
{
	ssize_t n;
	int one = 1;

	if (r->rxlen == sizeof(r->rx)) {
		vpcd_close(r, "input overflow");
		return;
	}
	/* Quick ACKs switch themselves off: ask again before each read. */
	setsockopt(r->fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
	n = read(r->fd, r->rx + r->rxlen, sizeof(r->rx) - r->rxlen);
	if (n == 0 || (n == -1 && errno != EINTR && errno != EAGAIN)) {
		vpcd_close(r, n == 0 ? "closed by vpcd" : strerror(errno));
		return;
	}
	if (n == -1)
		return;
	r->rxlen += n;
	vpcd_process(r);
}

/* Answer the complete messages received, unless an answer is held. */
static void
vpcd_process(struct vcard_run *r)
{
	size_t len, off = 0;

	while (r->fd != -1 && r->pending_len == 0 && r->rxlen - off >= 2) {
		len = (size_t)r->rx[off] << 8 | r->rx[off + 1];
		if (r->rxlen - off - 2 < len)
			break;
		vpcd_message(r, r->rx + off + 2, len);
		off += 2 + len;
	}
	if (r->fd == -1)
		return;
	memmove(r->rx, r->rx + off, r->rxlen - off);
	r->rxlen -= off;
	sodium_memzero(r->rx + r->rxlen, off);
}

/* ------------------------------------------------------------ control */

static int
ctl_open(const char *path)
{
	struct sockaddr_un sun;
	mode_t old;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path))
		fatalx("control socket path too long: %s", path);
	strcpy(sun.sun_path, path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		fatal("socket");
	unlink(path);
	old = umask(077);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1)
		fatal("bind %s", path);
	umask(old);
	if (listen(fd, 8) == -1)
		fatal("listen");
	return fd;
}

static const char *app_names[] = { "openpgp", "piv", "oath", "mgmt" };

static void
ctl_status(struct vcard_run *r, char *out, size_t len)
{
	const char *mode = r->hang ? "hang" : r->garbage ? "garbage" :
	    r->slow_ms ? "slow" : "normal";

	snprintf(out, len, "%s connected=%d powered=%d powerons=%lu atrs=%lu "
	    "apdus=%lu deciphers=%lu pw1=%d rc=%d pw3=%d key=%d mode=%s "
	    "serial=%08X profile=%s app=%s kdf=%d touchwait=%d touches=%lu",
	    r->present ? "present" : "absent", r->fd != -1, r->powered,
	    r->powerons, r->atrs, r->apdus, r->card.decipher_count,
	    r->card.pw1_tries, r->card.rc_tries, r->card.pw3_tries,
	    r->card.key_status[VCARD_KEY_DEC] != VCARD_KEY_NONE, mode,
	    r->card.serial, r->card.prof.name, app_names[r->card.app],
	    vcard_kdf_on(&r->card), r->touch_wait, r->touches);
}

/* A touch: the answer that waited for one goes now. */
static void
do_touch(struct vcard_run *r)
{
	r->touches++;
	if (!r->touch_wait)
		return;
	log_info("touched");
	r->touch_wait = 0;
	r->pending_at = now_ms();
}

/* No touch in time: the held answer becomes 6985 (unverified SW). */
static void
touch_expired(struct vcard_run *r)
{
	log_info("no touch in time: DECIPHER answers 6985");
	r->touch_wait = 0;
	sodium_memzero(r->pending, sizeof(r->pending));
	r->pending[0] = 0x69;
	r->pending[1] = 0x85;
	r->pending_len = 2;
}

/*
 * "uif sig|dec|aut POLICY": the touch policy (DO D6-D8) as a token's
 * own tool sets it (ykman openpgp keys set-touch); 0 off, 1 on, 2
 * fixed, 3 cached, 4 cached fixed (all but 0 ask for every touch here).
 */
static void
ctl_uif(struct vcard_run *r, const char *arg, char *out, size_t len)
{
	static const char *slots[] = { "sig", "dec", "aut" };
	char slot[8];
	int i, policy;

	if (!r->card.prof.button) {
		snprintf(out, len, "error no button on this card");
		return;
	}
	if (arg == NULL || sscanf(arg, "%7s %d", slot, &policy) != 2 ||
	    policy < 0 || policy > 4) {
		snprintf(out, len, "error uif needs sig|dec|aut and 0-4");
		return;
	}
	for (i = 0; i < 3; i++)
		if (strcmp(slot, slots[i]) == 0)
			break;
	if (i == 3) {
		snprintf(out, len, "error uif needs sig|dec|aut and 0-4");
		return;
	}
	log_info("touch policy %s %d", slot, policy);
	r->card.uif[i] = policy;
	r->card.dirty = 1;
	save_state(r);
}

static void
ctl_command(struct vcard_run *r, char *line, char *out, size_t len)
{
	uint8_t pub[32];
	char b64[WG_KEY_B64_LEN];
	char *arg, *e;
	long n;

	if ((arg = strchr(line, ' ')) != NULL)
		*arg++ = '\0';
	snprintf(out, len, "ok");
	if (strcmp(line, "remove") == 0) {
		log_info("card removed");
		r->present = 0;
		vpcd_close(r, "card removed");
	} else if (strcmp(line, "insert") == 0) {
		if (!r->present) {
			log_info("card inserted");
			r->present = 1;
			r->backoff = BACKOFF_MIN;
			r->next_connect = now_ms();
		}
	} else if (strcmp(line, "slow") == 0 || strcmp(line, "garbage") == 0) {
		n = arg != NULL ? strtol(arg, &e, 10) : -1;
		if (arg == NULL || *arg == '\0' || *e != '\0' || n < 0 ||
		    n > 600000) {
			snprintf(out, len, "error %s needs a number", line);
			return;
		}
		if (line[0] == 's')
			r->slow_ms = n;
		else
			r->garbage = n;
		log_info("%s %ld", line, n);
	} else if (strcmp(line, "hang") == 0) {
		log_info("hanging: no more answers until \"normal\"");
		r->hang = 1;
	} else if (strcmp(line, "normal") == 0) {
		log_info("back to normal");
		r->hang = 0;
		r->slow_ms = 0;
		r->garbage = 0;
		r->pending_at = now_ms();
	} else if (strcmp(line, "status") == 0) {
		ctl_status(r, out, len);
	} else if (strcmp(line, "touch") == 0) {
		do_touch(r);
	} else if (strcmp(line, "app") == 0) {
		for (n = 0; n < 4; n++)
			if (arg != NULL && strcmp(arg, app_names[n]) == 0)
				break;
		if (n == 4) {
			snprintf(out, len, "error app needs openpgp, piv, "
			    "oath or mgmt");
			return;
		}
		log_info("application %s selected by someone else", arg);
		vcard_select_app(&r->card, n);
	} else if (strcmp(line, "uif") == 0) {
		ctl_uif(r, arg, out, len);
	} else if (strcmp(line, "set") == 0) {
		if (arg == NULL ||
		    vcard_profile_set(&r->card.prof, arg) == -1) {
			snprintf(out, len, "error bad knob");
			return;
		}
		log_info("set %s", arg);
		vcard_apply_profile(&r->card);
		save_state(r);
	} else if (strcmp(line, "pubkey") == 0) {
		if (vcard_pubkey(&r->card, pub) == -1) {
			snprintf(out, len, "none");
		} else {
			key_to_base64(b64, pub);
			snprintf(out, len, "%s", b64);
		}
	} else {
		snprintf(out, len, "error unknown command");
	}
}

static void
ctl_drop(struct ctl_client *c)
{
	close(c->fd);
	c->fd = -1;
	c->len = 0;
}

static void
ctl_read(struct vcard_run *r, struct ctl_client *c)
{
	char out[CTL_LINE + 64], *nl;
	ssize_t n;
	size_t used;

	n = read(c->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len);
	if (n <= 0) {
		if (n == -1 && errno == EINTR)
			return;
		ctl_drop(c);
		return;
	}
	c->len += n;
	c->buf[c->len] = '\0';
	while ((nl = strchr(c->buf, '\n')) != NULL) {
		*nl = '\0';
		if (nl > c->buf && nl[-1] == '\r')
			nl[-1] = '\0';
		ctl_command(r, c->buf, out, sizeof(out) - 1);
		strcat(out, "\n");
		if (write(c->fd, out, strlen(out)) == -1) {
			ctl_drop(c);
			return;
		}
		used = nl + 1 - c->buf;
		memmove(c->buf, nl + 1, c->len - used + 1);
		c->len -= used;
	}
	if (c->len == sizeof(c->buf) - 1) {
		dprintf(c->fd, "error line too long\n");
		ctl_drop(c);
	}
}

static void
ctl_accept(struct vcard_run *r)
{
	int fd, i;

	if ((fd = accept4(r->ctl_fd, NULL, NULL, SOCK_CLOEXEC)) == -1)
		return;
	for (i = 0; i < CTL_MAX; i++) {
		if (r->ctl[i].fd == -1) {
			r->ctl[i].fd = fd;
			r->ctl[i].len = 0;
			return;
		}
	}
	dprintf(fd, "error too many clients\n");
	close(fd);
}

/* ------------------------------------------------------------ main */

static void
run(struct vcard_run *r)
{
	struct pollfd pfd[2 + CTL_MAX];
	int nfd, i, timeout, vidx, cidx;
	int64_t now, t;

	while (!quit) {
		now = now_ms();
		if (touched) {
			touched = 0;
			do_touch(r);
		}
		if (r->present && r->fd == -1 && now >= r->next_connect)
			vpcd_connect(r);
		if (r->touch_wait && r->pending_len > 0 &&
		    now_ms() >= r->pending_at)
			touch_expired(r);
		if (r->fd != -1 && r->pending_len > 0 && !r->hang &&
		    now_ms() >= r->pending_at) {
			size_t n = r->pending_len;

			r->pending_len = 0;	/* before: send may close */
			vpcd_send(r, r->pending, n);
			sodium_memzero(r->pending, n);
			vpcd_process(r);
		}
		timeout = -1;
		if (r->present && r->fd == -1) {
			t = r->next_connect - now_ms();
			timeout = t < 0 ? 0 : (int)t;
		}
		if (r->fd != -1 && r->pending_len > 0 && !r->hang) {
			t = r->pending_at - now_ms();
			timeout = t < 0 ? 0 : (int)t;
		}
		nfd = 0;
		vidx = cidx = -1;
		if (r->fd != -1) {
			/* Even while an answer is held: notice a hang-up. */
			vidx = nfd;
			pfd[nfd].fd = r->fd;
			pfd[nfd++].events = POLLIN;
		}
		if (r->ctl_fd != -1) {
			cidx = nfd;
			pfd[nfd].fd = r->ctl_fd;
			pfd[nfd++].events = POLLIN;
		}
		for (i = 0; i < CTL_MAX; i++) {
			if (r->ctl[i].fd == -1)
				continue;
			pfd[nfd].fd = r->ctl[i].fd;
			pfd[nfd++].events = POLLIN;
		}
		if (poll(pfd, nfd, timeout) == -1) {
			if (errno == EINTR)
				continue;
			fatal("poll");
		}
		if (vidx != -1 && (pfd[vidx].revents & (POLLIN | POLLHUP |
		    POLLERR)))
			vpcd_read(r);
		if (cidx != -1 && (pfd[cidx].revents & POLLIN))
			ctl_accept(r);
		for (i = cidx + 1; i < nfd; i++) {
			int j;

			if (!(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			for (j = 0; j < CTL_MAX; j++)
				if (r->ctl[j].fd == pfd[i].fd)
					ctl_read(r, &r->ctl[j]);
		}
	}
}

static int
parse_serial(const char *s, uint32_t *out)
{
	char *e;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &e, 16);
	if (*s == '\0' || *e != '\0' || errno != 0 || v > 0xFFFFFFFFUL)
		return -1;
	*out = v;
	return 0;
}

static uint32_t
random_serial(void)
{
	uint32_t s;

	do
		s = randombytes_random();
	while (s == 0 || s == 0xFFFFFFFF);
	return s;
}

static int
print_pubkey(const struct vcard *c)
{
	uint8_t pub[32];
	char b64[WG_KEY_B64_LEN];

	if (vcard_pubkey(c, pub) == -1) {
		printf("none\n");
		return 1;
	}
	key_to_base64(b64, pub);
	printf("%s\n", b64);
	return 0;
}

int
main(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "state",	required_argument, NULL, 's' },
		{ "port",	required_argument, NULL, 'p' },
		{ "host",	required_argument, NULL, 'H' },
		{ "serial",	required_argument, NULL, 'S' },
		{ "control",	required_argument, NULL, 'c' },
		{ "init-state",	required_argument, NULL, 'i' },
		{ "generate",	no_argument,	   NULL, 'g' },
		{ "pin",	required_argument, NULL, 'P' },
		{ "admin-pin",	required_argument, NULL, 'A' },
		{ "pubkey",	required_argument, NULL, 'k' },
		{ "profile",	required_argument, NULL, 'r' },
		{ "set",	required_argument, NULL, 'K' },
		{ "verbose",	no_argument,	   NULL, 'v' },
		{ "help",	no_argument,	   NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	static struct vcard_run r;
	struct vcard_profile prof;
	struct sigaction sa;
	const char *init = NULL, *pin = NULL, *apin = NULL, *pubfile = NULL;
	char *e;
	uint32_t serial = 0;
	int ch, verbose = 0, generate = 0, have_serial = 0, i, rc;
	long port;

	memset(&r, 0, sizeof(r));
	r.host = "127.0.0.1";
	r.port = VPCD_PORT;
	r.fd = r.ctl_fd = -1;
	vcard_profile(&prof, "default");
	while ((ch = getopt_long(argc, argv, "hv", opts, NULL)) != -1) {
		switch (ch) {
		case 'h': usage_exit(0);
		case 's': r.statefile = optarg; break;
		case 'H': r.host = optarg; break;
		case 'c': r.ctl_path = optarg; break;
		case 'i': init = optarg; break;
		case 'g': generate = 1; break;
		case 'P': pin = optarg; break;
		case 'A': apin = optarg; break;
		case 'k': pubfile = optarg; break;
		case 'v': verbose++; break;
		case 'r':
			if (vcard_profile(&prof, optarg) == -1)
				usage();
			break;
		case 'K':
			if (vcard_profile_set(&prof, optarg) == -1)
				usage();
			break;
		case 'p':
			port = strtol(optarg, &e, 0);
			if (*optarg == '\0' || *e != '\0' || port < 1 ||
			    port > 65535)
				usage();
			r.port = port;
			break;
		case 'S':
			if (parse_serial(optarg, &serial) == -1)
				usage();
			have_serial = 1;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	log_init(1, LOG_DAEMON);
	log_setverbose(verbose);
	log_procinit("vcard");
	wg_crypto_init();

	if (pubfile != NULL) {
		if (vcard_load(&r.card, pubfile) == -1)
			fatal("cannot read the state file %s", pubfile);
		rc = print_pubkey(&r.card);
		vcard_wipe(&r.card);
		return rc;
	}
	if (init != NULL) {
		vcard_init(&r.card, have_serial ? serial : random_serial());
		if ((pin != NULL && vcard_set_pin(&r.card, 1, pin) == -1) ||
		    (apin != NULL && vcard_set_pin(&r.card, 3, apin) == -1))
			fatalx("a PIN needs 6 (admin: 8) to 127 characters");
		if (generate)
			vcard_generate(&r.card, NULL);
		r.card.prof = prof;
		vcard_apply_profile(&r.card);
		if (vcard_save(&r.card, init) == -1)
			fatal("cannot write %s", init);
		rc = generate ? print_pubkey(&r.card) : 0;
		vcard_wipe(&r.card);
		return rc;
	}
	if (generate || pin != NULL || apin != NULL)
		usage();

	if (r.statefile != NULL && vcard_load(&r.card, r.statefile) == 0) {
		if (have_serial && serial != r.card.serial)
			log_warnx("--serial ignored: %s has serial %08X",
			    r.statefile, r.card.serial);
	} else if (r.statefile != NULL && errno != ENOENT) {
		fatal("cannot read the state file %s", r.statefile);
	} else {
		vcard_init(&r.card, have_serial ? serial : random_serial());
	}
	r.card.prof = prof;
	vcard_apply_profile(&r.card);
	save_state(&r);
	log_info("card %08X, profile %s, KDF %s, decryption key %s, "
	    "vpcd at %s port %d", r.card.serial, prof.name,
	    vcard_kdf_on(&r.card) ? "on" : "off",
	    r.card.key_status[VCARD_KEY_DEC] ? "present" : "absent",
	    r.host, r.port);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = on_touch;
	sigaction(SIGUSR1, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	for (i = 0; i < CTL_MAX; i++)
		r.ctl[i].fd = -1;
	if (r.ctl_path != NULL)
		r.ctl_fd = ctl_open(r.ctl_path);
	r.present = 1;
	r.backoff = BACKOFF_MIN;
	r.next_connect = 0;
	run(&r);

	log_info("exiting on signal %d", (int)quit);
	save_state(&r);
	if (r.fd != -1)
		close(r.fd);
	if (r.ctl_path != NULL)
		unlink(r.ctl_path);
	vcard_wipe(&r.card);
	return 0;
}
