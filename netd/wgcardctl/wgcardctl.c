/*
 * wgcardctl.c: the administration tool of wgcardd. It talks to each
 * daemon over its control socket, /var/run/wgcard/IFNAME.sock, sends one
 * request and reads key=value lines until "end=N".
 *
 * Exit status: 0 success; 1 usage or a refused command; 2 no daemon (or
 * the socket cannot be reached); 3 the key is not ready (card absent,
 * locked or blocked, or no key); 4 a peer with an endpoint had no
 * handshake in the last 180 seconds (show).
 *
 * show --json and show --prometheus print the same as machine-readable
 * documents (output.c), one document whatever the daemons answered (with
 * no interface in it when none runs); the exit status is the same.
 */
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "compat.h"
#include "encoding.h"
#include "cardtool.h"
#include "openpgp.h"
#include "wgcard.h"
#include "wgcardctl.h"

#define CTL_DIR			"/var/run/wgcard"
#define CTL_STALE_SEC		180
#define EXIT_USAGE		1
#define EXIT_NODAEMON		2
#define EXIT_KEY		3
#define EXIT_STALE		4
#define CTL_TIMEOUT_SEC		10	/* for a daemon to answer */
#define CTL_BUSY_TRIES		20	/* card status EBUSY, 50 ms apart */

static const char	*reader_hint;
static int		 init_force;	/* card init --force */
static int		 init_kdf;	/* card init --kdf */

/* On a bad command line to stderr (exit 1); asked for, to stdout. */
static __attribute__((__noreturn__)) void
usage_exit(int code)
{
	FILE	*f = code == 0 ? stdout : stderr;

	fprintf(f,
	    "usage: wgcardctl [--json | --prometheus] [-r reader] [-s socket] "
	    "[-i ifname] command [argument ...]\n"
	    "       wgcardctl [-r reader] card init [--force] [--kdf]\n"
	    "       wgcardctl -h | --help | --version\n");
	parse_usage_commands(f);
	exit(code);
}

static __attribute__((__noreturn__)) void
usage(void)
{
	usage_exit(EXIT_USAGE);
}

/* Sets key's value in a (every time it is there). 0, or -1. */
static int
answer_set(struct answer *a, const char *key, const char *v)
{
	size_t	 i;
	char	*nv;

	for (i = 0; i < a->n; i++) {
		if (strcmp(a->keys[i], key) != 0)
			continue;
		if ((nv = strdup(v)) == NULL)
			return -1;
		free(a->vals[i]);
		a->vals[i] = nv;
	}
	return 0;
}

static int
ctl_connect(const char *path)
{
	struct sockaddr_un	sun;
	struct timeval		tv = { CTL_TIMEOUT_SEC, 0 };
	int			fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlcpy(sun.sun_path, path, sizeof(sun.sun_path)) >=
	    sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	/* A stopped or stuck daemon must not hang a monitoring check. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) == -1) {
		close(fd);
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		int	saved = errno;

		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

/*
 * len bytes of p to the daemon: 0, or -1 (errno). MSG_NOSIGNAL: a
 * daemon that is starting or stopping may have closed the connection
 * already, and SIGPIPE would end wgcardctl without a word.
 */
static int
ctl_send(int fd, const char *p, size_t len)
{
	ssize_t	n;

	while (len > 0) {
		if ((n = send(fd, p, len, MSG_NOSIGNAL)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* s and a newline to the daemon: 0, or -1 (errno). */
static int
ctl_send_line(int fd, const char *s)
{
	if (ctl_send(fd, s, strlen(s)) == -1)
		return -1;
	return ctl_send(fd, "\n", 1);
}

/* Sends request (and secret), reads the answer. 0, or -1 on I/O error. */
static int
ctl_request(const char *path, const char *request, const char *secret,
    struct answer *a)
{
	FILE	*f;
	char	*line = NULL;
	size_t	 cap = 0;
	ssize_t	 n;
	int	 fd, done = 0, saved;

	memset(a, 0, sizeof(*a));
	if ((fd = ctl_connect(path)) == -1)
		return -1;
	if (ctl_send_line(fd, request) == -1 ||
	    (secret != NULL && ctl_send_line(fd, secret) == -1)) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	if ((f = fdopen(fd, "r")) == NULL) {
		close(fd);
		return -1;
	}
	errno = 0;
	while ((n = getline(&line, &cap, f)) > 0) {
		if (line[n - 1] == '\n')
			line[--n] = '\0';
		if ((done = answer_line(a, line)) != 0)
			break;
	}
	if (done == -1)
		done = 0;
	saved = errno;
	free(line);
	fclose(f);
	if (!done) {
		errno = (saved == EAGAIN || saved == EWOULDBLOCK) ? ETIMEDOUT :
		    EPROTO;
		return -1;
	}
	return 0;
}

/* Reads a PIN without echo from the terminal, or a line from stdin. */
static char *
ctl_read_pin(const char *prompt)
{
	struct termios	 t, saved;
	char		*pin;
	int		 tty, fd;
	size_t		 len = 0;
	char		 c;

	if ((pin = sodium_malloc(256)) == NULL)
		return NULL;
	fd = open("/dev/tty", O_RDWR | O_CLOEXEC);
	tty = fd != -1 && isatty(STDIN_FILENO);
	if (!tty) {
		if (fd != -1)
			close(fd);
		fd = STDIN_FILENO;
	} else {
		dprintf(fd, "%s: ", prompt);
		tcgetattr(fd, &saved);
		t = saved;
		t.c_lflag &= ~(ECHO | ECHONL);
		tcsetattr(fd, TCSAFLUSH, &t);
	}
	while (read(fd, &c, 1) == 1 && c != '\n' && len < 255)
		pin[len++] = c;
	pin[len] = '\0';
	c = 0;
	if (tty) {
		tcsetattr(fd, TCSAFLUSH, &saved);
		dprintf(fd, "\n");
		close(fd);
	}
	if (len == 0) {
		sodium_free(pin);
		return NULL;
	}
	return pin;
}

/* The sockets to talk to: the one asked for, or every daemon's. */
static int
ctl_sockets(const char *sockpath, const char *ifname, char ***out)
{
	DIR		*d;
	struct dirent	*de;
	char		**v = NULL, **nv, path[256];
	int		 n = 0;
	size_t		 l;

	if (sockpath != NULL || ifname != NULL) {
		if (sockpath == NULL) {
			snprintf(path, sizeof(path), "%s/%s.sock", CTL_DIR,
			    ifname);
			sockpath = path;
		}
		if ((v = calloc(1, sizeof(*v))) == NULL)
			return -1;
		if ((v[0] = strdup(sockpath)) == NULL) {
			free(v);
			return -1;
		}
		*out = v;
		return 1;
	}
	if ((d = opendir(CTL_DIR)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		l = strlen(de->d_name);
		if (l < 6 || strcmp(de->d_name + l - 5, ".sock") != 0)
			continue;
		if (sizeof(CTL_DIR) + l + 1 > sizeof(path))
			continue;	/* cannot be a socket path anyway */
		/* Out of memory: the sockets found so far, kept. */
		if ((nv = reallocarray(v, n + 1, sizeof(*v))) == NULL)
			break;
		v = nv;
		memcpy(path, CTL_DIR "/", sizeof(CTL_DIR));
		memcpy(path + sizeof(CTL_DIR), de->d_name, l + 1);
		if ((v[n] = strdup(path)) == NULL)
			break;
		n++;
	}
	closedir(d);
	if (n == 0) {
		free(v);
		v = NULL;
	}
	*out = v;
	return n;
}

/* A control socket that did not answer (errno): what, and what to do. */
static void
ctl_connect_error(const char *sock, const char *name)
{
	int	e = errno;

	if (e == ENOENT || e == ECONNREFUSED)
		fprintf(stderr, "wgcardctl: %s: no wgcardd runs for this "
		    "interface (%s: %s)\n", output_vis(name), output_vis(sock),
		    strerror(e));
	else if (e == EACCES || e == EPERM)
		fprintf(stderr, "wgcardctl: %s: %s: %s: the control socket is "
		    "for root and the members of group wgcard (usermod -aG "
		    "wgcard USER, then log in again)\n", output_vis(name),
		    output_vis(sock), strerror(e));
	else
		fprintf(stderr, "wgcardctl: %s: %s: %s\n", output_vis(name),
		    output_vis(sock), strerror(e));
	errno = e;
}

static const char *
ctl_ifname(const char *path, char *buf, size_t len)
{
	const char	*base = strrchr(path, '/');
	char		*dot;

	strlcpy(buf, base ? base + 1 : path, len);
	if ((dot = strrchr(buf, '.')) != NULL)
		*dot = '\0';
	return buf;
}

/*
 * The key's state (card status) into a: 0, or -1 (errno set; a left
 * empty). A daemon answers one card status at a time and says EBUSY to
 * another: asked again a little later.
 */
static int
ctl_card_status(const char *sock, struct answer *a)
{
	struct timespec	pause = { 0, 50 * 1000 * 1000 };
	int		t, r = -1, busy;

	for (t = 0; t < CTL_BUSY_TRIES; t++) {
		if ((r = ctl_request(sock, "card status", NULL, a)) == 0 &&
		    a->status == 0)
			return 0;
		busy = r == 0 && a->status == EBUSY;
		if (r == 0) {
			errno = a->status;
			answer_free(a);
		}
		if (!busy)
			break;
		nanosleep(&pause, NULL);
	}
	return -1;
}

/* card pubkey with no daemon: straight from the card, over PC/SC. */
static int
ctl_card_pubkey_direct(void)
{
	uint8_t	pub[32];
	char	b64[WG_KEY_B64_LEN], reader[128];
	int	r;

	if ((r = openpgp_read_pubkey(reader_hint, pub, reader,
	    sizeof(reader))) != 0) {
		fprintf(stderr, "wgcardctl: card pubkey: %s\n",
		    opgp_strerror(r));
		return EXIT_KEY;
	}
	key_to_base64(b64, pub);
	printf("%s\n", b64);
	fprintf(stderr, "wgcardctl: read from the card in reader \"%s\" "
	    "(no daemon asked)\n", output_vis(reader));
	return 0;
}

/* card pubkey from a daemon: where its key comes from, on stderr. */
static void
ctl_card_pubkey_source(const char *sock, const char *name)
{
	struct answer	 a;
	const char	*be, *st, *sn;

	if (ctl_card_status(sock, &a) == -1)
		return;
	be = answer_get(&a, "backend");
	st = answer_get(&a, "state");
	sn = answer_get(&a, "serial");
	if (be != NULL && strcmp(be, "openpgp") == 0)
		fprintf(stderr, "wgcardctl: %s: the key wgcardd expects on its "
		    "card (card %s, state %s)%s\n", output_vis(name),
		    sn != NULL ? output_vis(sn) : "not seen yet",
		    st != NULL ? output_vis(st) : "?", st != NULL &&
		    strcmp(st, "wrong-card") == 0 ? ": the card in the reader "
		    "has another key" : "");
	else
		fprintf(stderr, "wgcardctl: %s: the key of wgcardd's software "
		    "key (backend %s), not a card's; a card's: wgcardctl -r "
		    "reader card pubkey\n", output_vis(name),
		    be != NULL ? output_vis(be) : "?");
	answer_free(&a);
}

/*
 * ctl_card_status for card init's question: a daemon that is starting
 * or stopping may close the connection without an answer (EPROTO) or
 * time out; asked again, 200 ms apart, for up to a second, before card
 * init gives up on it. A socket nobody listens on is no daemon.
 */
static int
ctl_card_status_settled(const char *sock, struct answer *a)
{
	struct timespec	pause = { 0, 200 * 1000 * 1000 };
	int		t;

	for (t = 0; t < 5; t++) {
		if (ctl_card_status(sock, a) == 0)
			return 0;
		if (errno == ENOENT || errno == ECONNREFUSED ||
		    errno == EACCES || errno == EPERM)
			break;
		nanosleep(&pause, NULL);
	}
	return -1;
}

/*
 * Does a running daemon use the card that card init would take? A new
 * key would cut that interface's tunnels without a word (its peers know
 * the old one), so card init is refused then: 1 (and said why), 0 none.
 * The card's serial is read without a SELECT if it can be (a SELECT
 * from here would end the daemon's PIN session on some cards).
 */
static int
ctl_card_in_use(void)
{
	struct answer	  a;
	char		**socks = NULL, name[64], want[16];
	const char	 *st, *rd, *sn;
	uint32_t	  serial;
	int		  i, n, busy = 0;

	if ((n = ctl_sockets(NULL, NULL, &socks)) <= 0)
		return 0;
	if (openpgp_peek_serial(reader_hint, &serial) != 0) {
		/* No card to init: card init itself says so. */
		for (i = 0; i < n; i++)
			free(socks[i]);
		free(socks);
		return 0;
	}
	snprintf(want, sizeof(want), "%08X", serial);
	for (i = 0; i < n; i++) {
		ctl_ifname(socks[i], name, sizeof(name));
		if (busy) {
			free(socks[i]);
			continue;
		}
		if (ctl_card_status_settled(socks[i], &a) == -1) {
			/* A stale socket is no daemon. */
			if (errno != ENOENT && errno != ECONNREFUSED) {
				fprintf(stderr, "wgcardctl: card init: cannot "
				    "ask wgcardd on %s whether it uses this "
				    "card: %s%s; nothing done\n",
				    output_vis(name), strerror(errno),
				    errno == EACCES ? " (run as root or as a "
				    "member of group wgcard)" : "");
				busy = 1;
			}
			free(socks[i]);
			continue;
		}
		st = answer_get(&a, "state");
		rd = answer_get(&a, "reader");
		sn = answer_get(&a, "serial");
		if (st != NULL && sn != NULL && strcmp(sn, want) == 0 &&
		    (strcmp(st, "ready") == 0 || strcmp(st, "locked") == 0 ||
		    strcmp(st, "pin-suspect") == 0 ||
		    strcmp(st, "held") == 0 ||
		    strcmp(st, "blocked") == 0)) {
			fprintf(stderr, "wgcardctl: card init: card %s in "
			    "reader \"%s\" is in use by wgcardd on %s (state "
			    "%s): a new key would cut its tunnels. Nothing "
			    "done; stop that daemon first\n", want,
			    rd != NULL ? output_vis(rd) : "?",
			    output_vis(name), output_vis(st));
			busy = 1;
		}
		answer_free(&a);
		free(socks[i]);
	}
	free(socks);
	return busy;
}

/* A manufacturer's name (AID bytes 8-9; GnuPG's list, in part). */
static const char *
ctl_manufacturer(uint16_t m)
{
	switch (m) {
	case OPGP_MFR_YUBICO:
		return "Yubico";
	case OPGP_MFR_NITROKEY:
		return "Nitrokey";
	case OPGP_MFR_FSIJ:
		return "FSIJ (Gnuk)";
	case 0x0005:
		return "ZeitControl";
	case 0xff00:
	case 0xffff:
		return "test";
	default:
		return "unknown";
	}
}

/*
 * card init's first look at the card, before any PIN: what it is, what
 * its decryption slot holds. 0 to go on, else the exit status (said).
 */
static int
ctl_card_init_check(const struct cardtool_probe_info *pi)
{
	const struct opgp_info	*in = &pi->info;
	char			 fpr[41], b64[WG_KEY_B64_LEN];
	size_t			 i;

	fprintf(stderr, "wgcardctl: card init: reader \"%s\": %s card "
	    "(manufacturer %04X), serial %08X, OpenPGP application %u.%u",
	    output_vis(pi->reader), ctl_manufacturer(in->manufacturer),
	    in->manufacturer, in->serial, in->version[0], in->version[1]);
	if (pi->has_fw)
		fprintf(stderr, ", YubiKey firmware %u.%u.%u", pi->fw[0],
		    pi->fw[1], pi->fw[2]);
	fprintf(stderr, "; KDF %s\n", pi->kdf_on ? "on" : in->has_kdf_do ?
	    "off" : "not supported");
	if (cardtool_no_cv25519(pi)) {
		fprintf(stderr, "wgcardctl: card init: a YubiKey with firmware "
		    "%u.%u.%u has no cv25519 (Yubico: 5.2.3 and later). Nothing "
		    "done\n", pi->fw[0], pi->fw[1], pi->fw[2]);
		return EXIT_USAGE;
	}
	if (pi->algo == 0) {
		fprintf(stderr, "wgcardctl: card init: the card's algorithm "
		    "information (DO FA) has no cv25519 for the decryption "
		    "key. Nothing done\n");
		return EXIT_USAGE;
	}
	if (init_kdf && !pi->kdf_on && !in->has_kdf_do) {
		fprintf(stderr, "wgcardctl: card init: --kdf: this card has no "
		    "KDF-DO (extended capabilities, DO C0). Nothing done\n");
		return EXIT_USAGE;
	}
	if (!pi->has_key)
		return 0;
	for (i = 0; i < 20; i++)
		snprintf(fpr + 2 * i, 3, "%02X", in->dec_fpr[i]);
	if (pi->has_pub)
		key_to_base64(b64, pi->pub);
	fprintf(stderr, "wgcardctl: card init: the decryption slot holds %s "
	    "key%s%s%s%s%s\n", pi->has_pub ? "a cv25519" : "another",
	    in->has_dec_fpr ? ", OpenPGP fingerprint " : "",
	    in->has_dec_fpr ? fpr : "", pi->has_pub ? ", WireGuard public "
	    "key " : "", pi->has_pub ? b64 : "", init_force ?
	    ": replaced (--force)" : "");
	if (init_force)
		return 0;
	fprintf(stderr, "wgcardctl: card init: a new key would replace it for "
	    "good (every peer and every OpenPGP use of it would lose it). "
	    "Nothing done; to replace it: wgcardctl card init --force\n");
	return EXIT_USAGE;
}

/*
 * card init: with the admin PIN, sets the decryption slot to cv25519 and
 * generates the key on the card; prints the WireGuard public key. Talks
 * to the card directly (PC/SC, shared), not to a daemon, and refuses
 * while a daemon uses a card it could reach, and when the card cannot
 * do cv25519 or already has a key (unless --force), before any PIN.
 */
static int
ctl_card_init(void)
{
	struct cardtool_probe_info	 pi;
	struct cardtool_init		 in;
	uint8_t				 pub[32];
	char				 b64[WG_KEY_B64_LEN], *pin, *upin = NULL;
	int				 r, retries = -1, kdf_done = 0;

	if (ctl_card_in_use())
		return EXIT_USAGE;
	if ((r = openpgp_card_probe(reader_hint, &pi)) != 0) {
		fprintf(stderr, "wgcardctl: card init: %s\n", opgp_strerror(r));
		return EXIT_KEY;
	}
	if ((r = ctl_card_init_check(&pi)) != 0)
		return r;
	if ((pin = ctl_read_pin("Admin PIN")) == NULL) {
		fprintf(stderr, "wgcardctl: no admin PIN given\n");
		return EXIT_USAGE;
	}
	if (init_kdf && !pi.kdf_on &&
	    (upin = ctl_read_pin("User PIN to set under KDF (empty: the "
	    "factory 123456)")) != NULL && (strlen(upin) < OPGP_PIN_MIN ||
	    strlen(upin) > OPGP_PIN_MAX)) {
		fprintf(stderr, "wgcardctl: card init: the user PIN has %zu "
		    "characters, not %d to %d. Nothing done\n", strlen(upin),
		    OPGP_PIN_MIN, OPGP_PIN_MAX);
		sodium_free(pin);
		sodium_free(upin);
		return EXIT_USAGE;
	}
	memset(&in, 0, sizeof(in));
	in.serial = pi.info.serial;
	in.admin_pin = (const uint8_t *)pin;
	in.admin_len = strlen(pin);
	in.kdf = init_kdf;
	if (upin != NULL) {
		in.user_pin = (const uint8_t *)upin;
		in.user_len = strlen(upin);
	}
	r = openpgp_card_init(reader_hint, &in, pub, &retries, &kdf_done);
	sodium_free(pin);
	if (upin != NULL)
		sodium_free(upin);
	if (kdf_done)
		fprintf(stderr, "wgcardctl: card init: KDF on (SHA-256, %d "
		    "bytes hashed); the admin PIN is the one given, the user "
		    "PIN %s, both sent hashed from now on%s\n",
		    OPGP_KDF_COUNT_INIT, in.user_pin != NULL ? "the one given" :
		    "the factory 123456 (change it: gpg --card-edit, passwd)",
		    pi.info.manufacturer == OPGP_MFR_YUBICO ||
		    pi.info.manufacturer == OPGP_MFR_FSIJ ? "" :
		    "; the resetting code is removed");
	else if (init_kdf && r == 0)
		fprintf(stderr, "wgcardctl: card init: KDF was on already; "
		    "PINs unchanged\n");
	if (r != 0) {
		if (r == -EACCES)
			fprintf(stderr, "wgcardctl: card init: wrong admin "
			    "PIN, %d retries left\n", retries);
		else
			fprintf(stderr, "wgcardctl: card init: %s\n",
			    opgp_strerror(r));
		return EXIT_KEY;
	}
	key_to_base64(b64, pub);
	printf("%s\n", b64);
	return 0;
}

/*
 * The parent process of the daemon serving ifname: the one whose title
 * is "wgcardd: parent [ifname]" (interface names are unique: the UAPI
 * sockets share one directory). 0 and *pid, or -1.
 */
static int
ctl_daemon_pid(const char *ifname, pid_t *pid)
{
	DIR		*d;
	struct dirent	*de;
	char		 path[300], want[96], buf[128];
	ssize_t		 n;
	int		 fd, found = 0;

	if ((size_t)snprintf(want, sizeof(want), "wgcardd: parent [%s]",
	    ifname) >= sizeof(want))
		return -1;
	if ((d = opendir("/proc")) == NULL)
		return -1;
	while (!found && (de = readdir(d)) != NULL) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/cmdline", de->d_name);
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
			continue;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n <= 0)
			continue;
		buf[n] = '\0';
		if (strcmp(buf, want) == 0) {
			*pid = (pid_t)strtol(de->d_name, NULL, 10);
			found = 1;
		}
	}
	closedir(d);
	return found ? 0 : -1;
}

/*
 * stop: SIGTERM to the daemon's parent process (found by its title), then
 * wait for it to be gone: a detached daemon has no other handle.
 */
static int
ctl_stop(const char *sock)
{
	struct timespec	pause = { 0, 100 * 1000 * 1000 };
	char		name[64];
	pid_t		pid;
	int		i;

	ctl_ifname(sock, name, sizeof(name));
	if (ctl_daemon_pid(name, &pid) == -1) {
		fprintf(stderr, "wgcardctl: %s: no wgcardd process serves "
		    "this interface\n", output_vis(name));
		return EXIT_NODAEMON;
	}
	if (kill(pid, SIGTERM) == -1) {
		fprintf(stderr, "wgcardctl: %s: stop wgcardd (pid %ld): %s%s\n",
		    output_vis(name), (long)pid, strerror(errno),
		    errno == EPERM ? " (only root may stop it)" : "");
		return EXIT_USAGE;
	}
	for (i = 0; i < CTL_TIMEOUT_SEC * 10 && kill(pid, 0) == 0; i++)
		nanosleep(&pause, NULL);
	if (kill(pid, 0) == 0) {
		fprintf(stderr, "wgcardctl: %s: wgcardd (pid %ld) still runs "
		    "%d s after SIGTERM\n", output_vis(name), (long)pid,
		    CTL_TIMEOUT_SEC);
		return EXIT_USAGE;
	}
	printf("%s: wgcardd (pid %ld) stopped\n", output_vis(name),
	    (long)pid);
	return 0;
}

/*
 * The monitoring exit status of a show answer: the key not ready, or a
 * peer with an endpoint and no handshake (or none that is a time) in the
 * last CTL_STALE_SEC seconds.
 */
static int
ctl_show_status(const struct answer *a)
{
	struct show_peer	*v;
	const char		*s;
	ssize_t			 n, i;
	time_t			 now = time(NULL);
	int			 rc = 0;

	if ((s = answer_get(a, "key_ready")) != NULL && strcmp(s, "1") != 0)
		return EXIT_KEY;
	if ((n = show_peers(a, &v)) == -1)
		return EXIT_USAGE;
	for (i = 0; i < n; i++)
		if (show_peer_stale(&v[i], now, CTL_STALE_SEC))
			rc = EXIT_STALE;
	show_peers_free(v, n);
	return rc;
}

/*
 * show: every daemon's show and card status answers, then one output in
 * the format asked for; the exit status of the worst daemon.
 */
static int
ctl_show(char **socks, int n, int format)
{
	struct ctl_iface	*ifcs;
	const char		*st;
	int			 i, r, rc = 0;

	if ((ifcs = calloc(n, sizeof(*ifcs))) == NULL) {
		fprintf(stderr, "wgcardctl: out of memory\n");
		return EXIT_USAGE;
	}
	for (i = 0; i < n; i++) {
		ctl_ifname(socks[i], ifcs[i].name, sizeof(ifcs[i].name));
		if (ctl_request(socks[i], "show", NULL, &ifcs[i].show) == -1) {
			ifcs[i].error = strdup(strerror(errno));
			ctl_connect_error(socks[i], ifcs[i].name);
			answer_free(&ifcs[i].show);
			rc = EXIT_NODAEMON;
			continue;
		}
		if (ifcs[i].show.status != 0) {
			ifcs[i].error = strdup(ifcs[i].show.error != NULL ?
			    ifcs[i].show.error : ifcs[i].show.status != 0 ?
			    strerror(ifcs[i].show.status) : strerror(errno));
			fprintf(stderr, "wgcardctl: %s: %s\n",
			    output_vis(ifcs[i].name), ifcs[i].error != NULL ?
			    output_vis(ifcs[i].error) : "?");
			answer_free(&ifcs[i].show);
			rc = EXIT_NODAEMON;
			continue;
		}
		ctl_card_status(socks[i], &ifcs[i].status);
		/*
		 * The handshake process has the public key as soon as the
		 * broker read it, from a card still locked too: the key is
		 * ready only if the broker says so as well.
		 */
		if ((st = answer_get(&ifcs[i].status, "state")) != NULL &&
		    strcmp(st, "ready") != 0)
			answer_set(&ifcs[i].show, "key_ready", "0");
		if ((r = ctl_show_status(&ifcs[i].show)) != 0 && rc == 0)
			rc = r;
	}
	if (format == 'J')
		output_json(stdout, ifcs, n);
	else if (format == 'P')
		output_prometheus(stdout, ifcs, n);
	else
		for (i = 0; i < n; i++) {
			if (ifcs[i].error != NULL)
				continue;
			if (i > 0)
				printf("\n");
			output_show(stdout, &ifcs[i]);
		}
	for (i = 0; i < n; i++) {
		answer_free(&ifcs[i].show);
		answer_free(&ifcs[i].status);
		free(ifcs[i].error);
		free(socks[i]);
	}
	free(ifcs);
	free(socks);
	if (fflush(stdout) == EOF && rc == 0)
		rc = EXIT_USAGE;
	return rc;
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "json",	no_argument,	NULL,	'J' },
		{ "prometheus",	no_argument,	NULL,	'P' },
		{ "help",	no_argument,	NULL,	'h' },
		{ "version",	no_argument,	NULL,	'V' },
		{ "force",	no_argument,	NULL,	'F' },
		{ "kdf",	no_argument,	NULL,	'K' },
		{ NULL,		0,		NULL,	0 }
	};
	struct parse_result	 res;
	struct answer		 a;
	const char		*sockpath = NULL, *ifname = NULL;
	char			**socks = NULL, *pin = NULL, name[64];
	int			 ch, n, i, rc = 0, r, format = 0;

	while ((ch = getopt_long(argc, argv, "hr:s:i:", longopts, NULL)) !=
	    -1) {
		switch (ch) {
		case 'h':
			usage_exit(0);
		case 'V':
			printf("wgcardctl %s\n", WGCARD_VERSION);
			return 0;
		case 'J':
		case 'P':
			if (format != 0 && format != ch)
				usage();
			format = ch;
			break;
		case 'F':
			init_force = 1;
			break;
		case 'K':
			init_kdf = 1;
			break;
		case 'r':
			reader_hint = optarg;
			break;
		case 's':
			sockpath = optarg;
			break;
		case 'i':
			ifname = optarg;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc == 0 || parse(argc, argv, &res) == -1)
		usage();
	if (res.ifname != NULL)
		ifname = res.ifname;
	if (format != 0 && res.action != CTL_SHOW)
		usage();
	if ((init_force || init_kdf) && res.action != CTL_CARD_INIT)
		usage();
	if (sodium_init() == -1)
		return EXIT_USAGE;
	if (res.action == CTL_CARD_INIT)
		return ctl_card_init();
	if (res.action == CTL_CARD_PUBKEY && reader_hint != NULL) {
		/* -r: the card itself, whatever daemons run. */
		if (ifname != NULL || sockpath != NULL) {
			fprintf(stderr, "wgcardctl: card pubkey: -r reads the "
			    "card, -i and -s ask a daemon: give one of them\n");
			return EXIT_USAGE;
		}
		return ctl_card_pubkey_direct();
	}

	n = ctl_sockets(sockpath, ifname, &socks);
	if (n <= 0 && res.action == CTL_CARD_PUBKEY)
		return ctl_card_pubkey_direct();
	if (n <= 0) {
		fprintf(stderr, "wgcardctl: no wgcardd running (no control "
		    "socket in %s)\n", CTL_DIR);
		/* A document all the same, with no interface in it. */
		if (res.action == CTL_SHOW && format == 'J')
			output_json(stdout, NULL, 0);
		else if (res.action == CTL_SHOW && format == 'P')
			output_prometheus(stdout, NULL, 0);
		return EXIT_NODAEMON;
	}
	if (n > 1 && res.action != CTL_SHOW && res.action != CTL_VERSION &&
	    res.action != CTL_CARD_STATUS) {
		fprintf(stderr, "wgcardctl: several daemons run: choose one "
		    "with -i ifname\n");
		return EXIT_USAGE;
	}
	if (res.action == CTL_SHOW)
		return ctl_show(socks, n, format);
	if (res.action == CTL_STOP) {
		rc = ctl_stop(socks[0]);
		free(socks[0]);
		free(socks);
		return rc;
	}
	if (res.action == CTL_CARD_UNLOCK &&
	    (pin = ctl_read_pin("PIN")) == NULL) {
		fprintf(stderr, "wgcardctl: no PIN given\n");
		return EXIT_USAGE;
	}
	if (pin != NULL && (strlen(pin) < OPGP_PIN_MIN ||
	    strlen(pin) > OPGP_PIN_MAX)) {
		/* A card counts a PIN of the wrong length as a wrong one. */
		fprintf(stderr, "wgcardctl: card unlock: the PIN has %zu "
		    "characters; the user PIN of an OpenPGP card has %d to %d. "
		    "Nothing was sent, no retry spent\n", strlen(pin),
		    OPGP_PIN_MIN, OPGP_PIN_MAX);
		sodium_free(pin);
		return EXIT_USAGE;
	}
	for (i = 0; i < n; i++) {
		ctl_ifname(socks[i], name, sizeof(name));
		r = ctl_request(socks[i], res.request, pin, &a);
		if (r == -1) {
			ctl_connect_error(socks[i], name);
			rc = EXIT_NODAEMON;
			continue;
		}
		if (a.status != 0) {
			fprintf(stderr, "wgcardctl: %s: %s\n", output_vis(name),
			    output_vis(a.error ? a.error : strerror(a.status)));
			if (rc == 0)
				rc = (a.status == ENOKEY) ? EXIT_KEY :
				    EXIT_USAGE;
			answer_free(&a);
			continue;
		}
		switch (res.action) {
		case CTL_CARD_STATUS:
			output_card_status(stdout, name, &a);
			if (answer_get(&a, "state") != NULL &&
			    strcmp(answer_get(&a, "state"), "ready") != 0 &&
			    rc == 0)
				rc = EXIT_KEY;
			break;
		case CTL_CARD_PUBKEY:
			printf("%s\n", answer_get(&a, "public_key") ?
			    output_vis(answer_get(&a, "public_key")) : "");
			fflush(stdout);
			ctl_card_pubkey_source(socks[i], name);
			break;
		case CTL_VERSION:
			printf("%s: wgcardd %s\n", output_vis(name),
			    answer_get(&a, "version") ?
			    output_vis(answer_get(&a, "version")) : "?");
			break;
		default:
			output_kv(stdout, &a);
			break;
		}
		answer_free(&a);
	}
	if (pin != NULL)
		sodium_free(pin);
	for (i = 0; i < n; i++)
		free(socks[i]);
	free(socks);
	return rc;
}
