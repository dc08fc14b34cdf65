/*
 * test_config.c: the config-file parser against the golden files in
 * tests/config/. For each NAME.conf there is NAME.out (the parse as
 * set=1 text with the private key, then "mtu=", "address=" and
 * "key_source=" lines) or NAME.err (the one-line error). A first line
 * "# mode: 0NNN" gives the file mode to test with (default 0600: git
 * keeps no modes, so the test copies each file and sets it).
 *
 * Usage: test_config [DIR]; DIR defaults to tests/config, found from
 * the current directory or from the binary's (build/tests/). With
 * WGCARD_UPDATE_GOLDEN=1 the expected files are rewritten.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "test.h"
#include "uapi.h"
#include "wgconf.h"

/*
 * No test may send a DNS query (the machine has no network, and a
 * query to the configured server is traffic we must not make): every
 * lookup is numeric, except "localhost" from /etc/hosts.
 */
int
getaddrinfo(const char *host, const char *serv, const struct addrinfo *hints,
    struct addrinfo **res)
{
	int		(*real)(const char *, const char *,
			    const struct addrinfo *, struct addrinfo **);
	struct addrinfo	h;

	real = (int (*)(const char *, const char *, const struct addrinfo *,
	    struct addrinfo **))dlsym(RTLD_NEXT, "getaddrinfo");
	if (real == NULL)
		return EAI_FAIL;
	memset(&h, 0, sizeof(h));
	if (hints != NULL)
		h = *hints;
	if (host == NULL || strcmp(host, "localhost") != 0)
		h.ai_flags |= AI_NUMERICHOST;
	else {
		/* Only IPv4 for localhost: the answer must not vary. */
		h.ai_family = AF_INET;
		h.ai_flags &= ~AI_ADDRCONFIG;
	}
	return real(host, serv, &h, res);
}

static char	srcdir[PATH_MAX];
static char	tmpdir[] = "/tmp/wgcard-test-config.XXXXXX";

static int
read_file(const char *path, struct buf *b)
{
	char	chunk[4096];
	ssize_t	n;
	int	fd;

	if ((fd = open(path, O_RDONLY)) == -1)
		return -1;
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		buf_append(b, chunk, (size_t)n);
	close(fd);
	return n == 0 ? 0 : -1;
}

static int
write_file(const char *path, const char *data, size_t len, mode_t mode)
{
	int	fd, ok;

	unlink(path);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1)
		return -1;
	ok = write(fd, data, len) == (ssize_t)len;
	if (fchmod(fd, mode) == -1)
		ok = 0;
	close(fd);
	return ok ? 0 : -1;
}

static void
format_result(int ret, const char *err, const struct wg_devconf *d,
    const struct config_extra *x, struct buf *out)
{
	char	a[INET6_ADDRSTRLEN];
	size_t	i;

	if (ret != 0) {
		buf_printf(out, "%s\n", err);
		return;
	}
	uapi_format_set(d, out, 1);
	if (d->mtu != 0)
		buf_printf(out, "mtu=%d\n", d->mtu);
	for (i = 0; i < d->naddrs; i++) {
		inet_ntop(d->addrs[i].family, d->addrs[i].addr.bytes, a,
		    sizeof(a));
		buf_printf(out, "address=%s/%u\n", a, d->addrs[i].cidr);
	}
	buf_printf(out, "key_source=%s\n",
	    x->keysource == CONFIG_KEYSOURCE_FILE ? "file" : "openpgp");
	if (x->unlock_last_try)
		buf_printf(out, "unlock_last_try=yes\n");
	if (x->verify_timeout_ms)
		buf_printf(out, "verify_timeout_ms=%u\n", x->verify_timeout_ms);
	if (x->decipher_timeout_ms)
		buf_printf(out, "decipher_timeout_ms=%u\n",
		    x->decipher_timeout_ms);
	if (x->touch_timeout_ms)
		buf_printf(out, "touch_timeout_ms=%u\n", x->touch_timeout_ms);
	if (x->exclusive)
		buf_printf(out, "exclusive=yes\n");
}

/* A run of 20 or more base64 characters: a key, or part of one. */
static int
has_b64_run(const char *s)
{
	size_t	run = 0;

	for (; *s != '\0'; s++) {
		if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || *s == '+' || *s == '/')
			run++;
		else
			run = 0;
		if (run >= 20)
			return 1;
	}
	return 0;
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Runs one golden case; name is "NAME.conf". */
static void
golden_one(const char *name, int update)
{
	struct wg_devconf	d;
	struct config_extra	x;
	struct buf		conf, got, want;
	char			path[PATH_MAX + 300], exp[PATH_MAX + 300];
	char			err[CONFIG_ERR_MAX], base[NAME_MAX + 1];
	unsigned int		mode = 0600;
	int			ret;

	buf_init(&conf);
	buf_init(&got);
	buf_init(&want);
	snprintf(base, sizeof(base), "%.*s", (int)(strlen(name) - 5), name);
	snprintf(path, sizeof(path), "%s/%s", srcdir, name);
	if (read_file(path, &conf) == -1) {
		CHECK(0, "%s: cannot read", path);
		return;
	}
	if (conf.data != NULL)
		sscanf(conf.data, "# mode: %o", &mode);
	CHECK(write_file(name, conf.data ? conf.data : "", conf.len,
	    (mode_t)mode) == 0, "%s: cannot copy", name);

	ret = config_parse_file(name, &d, &x, err, sizeof(err));
	if (ret != 0)
		CHECK(d.npeers == 0 && d.naddrs == 0 && d.flags == 0,
		    "%s: out not empty after error", name);
	format_result(ret, err, &d, &x, &got);
	wgconf_free(&d);
	config_extra_free(&x);

	snprintf(exp, sizeof(exp), "%s/%s.%s", srcdir, base,
	    ret == 0 ? "out" : "err");
	if (update) {
		char	other[PATH_MAX + 300];

		snprintf(other, sizeof(other), "%s/%s.%s", srcdir, base,
		    ret == 0 ? "err" : "out");
		unlink(other);
		CHECK(write_file(exp, got.data, got.len, 0644) == 0,
		    "%s: cannot write", exp);
	} else if (read_file(exp, &want) == -1) {
		CHECK(0, "%s: %s: no expected file %s (got: %s)", name,
		    ret == 0 ? "parsed" : "failed", exp, got.data);
	} else {
		CHECK(got.len == want.len &&
		    memcmp(got.data, want.data, got.len) == 0,
		    "%s:\n--- want\n%s--- got\n%s", name,
		    want.data ? want.data : "", got.data);
	}
	/* Error messages are one line and quote no key. */
	if (ret != 0)
		CHECK(strchr(err, '\n') == NULL && !has_b64_run(err),
		    "%s: odd error %s", name, err);
	unlink(name);
	buf_free(&conf);
	buf_free(&got);
	buf_free(&want);
}

static void
test_golden(int update)
{
	DIR		*dir;
	struct dirent	*de;
	char		**names = NULL;
	size_t		 n = 0, i, len, good = 0, bad = 0;
	char		 p[PATH_MAX + 300];

	if ((dir = opendir(srcdir)) == NULL) {
		CHECK(0, "opendir %s: %s", srcdir, strerror(errno));
		return;
	}
	while ((de = readdir(dir)) != NULL) {
		len = strlen(de->d_name);
		if (len < 6 || len > 250 || strcmp(de->d_name + len - 5, ".conf") != 0)
			continue;
		names = realloc(names, (n + 1) * sizeof(*names));
		names[n++] = strdup(de->d_name);
	}
	closedir(dir);
	qsort(names, n, sizeof(*names), name_cmp);
	for (i = 0; i < n; i++) {
		golden_one(names[i], update);
		snprintf(p, sizeof(p), "%s/%.*s.out", srcdir,
		    (int)(strlen(names[i]) - 5), names[i]);
		if (access(p, F_OK) == 0)
			good++;
		else
			bad++;
		free(names[i]);
	}
	free(names);
	printf("%zu golden files: %zu good, %zu bad\n", n, good, bad);
	CHECK(good >= 5 && bad >= 15, "too few golden files");
}

static void
test_misc(void)
{
	struct wg_devconf	d;
	struct config_extra	x;
	char			err[CONFIG_ERR_MAX];
	char			big[600];

	CHECK(config_parse_file("no-such-file.conf", &d, &x, err,
	    sizeof(err)) == -1 &&
	    strcmp(err, "no-such-file.conf: No such file or directory") == 0,
	    "missing file: %s", err);
	wgconf_free(&d);
	CHECK(config_parse_file(".", &d, &x, err, sizeof(err)) == -1 &&
	    strcmp(err, ".: not a regular file") == 0, "dir: %s", err);
	wgconf_free(&d);

	/* A NUL in the file. */
	CHECK(write_file("nul.conf", "[Interface]\n\0\n", 14, 0600) == 0,
	    "write nul");
	CHECK(config_parse_file("nul.conf", &d, &x, err, sizeof(err)) == -1 &&
	    strcmp(err, "nul.conf:2: NUL byte in line") == 0, "nul: %s", err);
	wgconf_free(&d);
	unlink("nul.conf");

	/* Long and unprintable key names are not quoted. */
	memset(big, 'K', sizeof(big));
	memcpy(big, "[Peer]\n\x01", 8);
	memcpy(big + sizeof(big) - 4, "=1\n", 3);
	CHECK(write_file("long.conf", big, sizeof(big) - 1, 0600) == 0,
	    "write long");
	CHECK(config_parse_file("long.conf", &d, &x, err, sizeof(err)) == -1 &&
	    strcmp(err, "long.conf:2: syntax error: expected \"Key = Value\" "
	    "or a [Section]") == 0, "long key: %s", err);
	wgconf_free(&d);
	/* A small error buffer is not overrun. */
	CHECK(config_parse_file("long.conf", &d, &x, err, 8) == -1 &&
	    strlen(err) == 7, "short err buffer");
	wgconf_free(&d);
	CHECK(config_parse_file("long.conf", &d, &x, NULL, 0) == -1,
	    "NULL err buffer");
	wgconf_free(&d);
	unlink("long.conf");
}

/* A PIN file in tmpdir with mode and owner uid; 0 or -1. */
static int
pin_file_make(const char *name, const char *text, mode_t mode, uid_t uid)
{
	int	fd, r = 0;

	unlink(name);
	if ((fd = open(name, O_WRONLY | O_CREAT | O_EXCL, 0600)) == -1)
		return -1;
	if (write(fd, text, strlen(text)) != (ssize_t)strlen(text) ||
	    fchmod(fd, mode) == -1 ||
	    (uid != geteuid() && fchown(fd, uid, (gid_t)-1) == -1))
		r = -1;
	close(fd);
	return r;
}

/* config_read_pin on tmpdir/name; its result, err filled. */
static int
pin_read(const char *name, char *err, size_t errlen, size_t *len)
{
	struct config_extra	ex;
	uint8_t			pin[CONFIG_PIN_MAX + 1];
	char			path[PATH_MAX + 32];
	int			r;

	memset(&ex, 0, sizeof(ex));
	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	ex.pin_file = path;
	ex.path = "wg0.conf";
	ex.pin_line = 4;
	err[0] = '\0';
	r = config_read_pin(&ex, pin, len, err, errlen);
	memset(pin, 0, sizeof(pin));
	return r;
}

/*
 * config_read_pin: a regular file owned by root, mode 0600 or 0400, of
 * bounded size; a FIFO must not block (before: the parent hung in
 * open(2) for good), a symlink is not followed, another owner is refused.
 */
static void
test_pin_file(void)
{
	char	big[300], err[CONFIG_ERR_MAX];
	size_t	len;
	int	r;

	/* The FIFO check must end, not hang: 5 s, then SIGALRM kills us. */
	alarm(5);
	unlink("fifo.pin");
	CHECK(mkfifo("fifo.pin", 0600) == 0, "mkfifo: %s", strerror(errno));
	r = pin_read("fifo.pin", err, sizeof(err), &len);
	CHECK(r == -1 && strstr(err, "not a regular file") != NULL &&
	    strncmp(err, "wg0.conf:4: PinFile: ", 21) == 0,
	    "pin: a FIFO refused at once, file and line named: %s", err);
	unlink("fifo.pin");
	alarm(0);

	CHECK(pin_file_make("real.pin", "123456\n", 0600, geteuid()) == 0 &&
	    symlink("real.pin", "link.pin") == 0, "pin: files");
	r = pin_read("link.pin", err, sizeof(err), &len);
	CHECK(r == -1 && strstr(err, "symlink") != NULL,
	    "pin: a symlink refused: %s", err);
	unlink("link.pin");

	if (geteuid() == 0) {
		r = pin_read("real.pin", err, sizeof(err), &len);
		CHECK(r == 1 && len == 6, "pin: root's 0600 file read: %s",
		    err);
		CHECK(pin_file_make("nobody.pin", "123456\n", 0600, 65534) ==
		    0, "pin: chown: %s", strerror(errno));
	} else {
		/* Ours, and we are not root: the same refusal. */
		fprintf(stderr, "test_config: not root: a root-owned PIN "
		    "file cannot be made, its success case not checked\n");
		CHECK(pin_file_make("nobody.pin", "123456\n", 0600,
		    geteuid()) == 0, "pin: file");
	}
	r = pin_read("nobody.pin", err, sizeof(err), &len);
	CHECK(r == -1 && strstr(err, "not root") != NULL,
	    "pin: a file not owned by root refused: %s", err);
	unlink("nobody.pin");

	/* Owner first: without root the checks below cannot be reached. */
	if (geteuid() == 0) {
		CHECK(pin_file_make("group.pin", "123456\n", 0640, 0) == 0,
		    "pin: file");
		r = pin_read("group.pin", err, sizeof(err), &len);
		CHECK(r == -1 && strstr(err, "group or others") != NULL,
		    "pin: group-readable refused: %s", err);
		memset(big, '1', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		CHECK(pin_file_make("big.pin", big, 0600, 0) == 0, "pin: big");
		r = pin_read("big.pin", err, sizeof(err), &len);
		CHECK(r == -1 && strstr(err, "too large") != NULL,
		    "pin: a large file refused by its size: %s", err);
		unlink("big.pin");
	}
	unlink("group.pin");
	unlink("real.pin");
}

static int
find_srcdir(const char *argv0, const char *arg)
{
	char		 exe[PATH_MAX], *slash;
	struct stat	 st;

	if (arg != NULL) {
		if (realpath(arg, srcdir) == NULL)
			return -1;
		return 0;
	}
	if (realpath("tests/config", srcdir) != NULL &&
	    stat(srcdir, &st) == 0)
		return 0;
	/* build/tests/test_config -> tests/config */
	if (realpath(argv0, exe) == NULL || (slash = strrchr(exe, '/')) == NULL)
		return -1;
	*slash = '\0';
	strncat(exe, "/../../tests/config", sizeof(exe) - strlen(exe) - 1);
	if (realpath(exe, srcdir) == NULL)
		return -1;
	return 0;
}

/* config_parse_env: the WGCARD_ variables of xplatform mode. */
static void
test_env(void)
{
	static const char *const vars[] = {
		"WGCARD_KEY_SOURCE", "WGCARD_READER", "WGCARD_CARD_SERIAL",
		"WGCARD_CARD_PUBLIC_KEY", "WGCARD_PIN_FILE",
		"WGCARD_PIN_CREDENTIAL", "WGCARD_AUDIT_LOG", NULL
	};
	struct config_extra	ex;
	char			err[CONFIG_ERR_MAX];
	int			found, i;

	for (i = 0; vars[i] != NULL; i++)
		unsetenv(vars[i]);
	CHECK(config_parse_env(&ex, &found, err, sizeof(err)) == 0 &&
	    found == 0 && ex.keysource == CONFIG_KEYSOURCE_FILE,
	    "env: nothing set, file backend");
	config_extra_free(&ex);
	setenv("WGCARD_KEY_SOURCE", "openpgp", 1);
	setenv("WGCARD_CARD_SERIAL", "0000a001", 1);
	setenv("WGCARD_READER", "Nitrokey", 1);
	setenv("WGCARD_PIN_FILE", "/etc/wgcard/wg0.pin", 1);
	setenv("WGCARD_AUDIT_LOG", "/var/log/wgcard/wg0.jsonl", 1);
	CHECK(config_parse_env(&ex, &found, err, sizeof(err)) == 0 &&
	    found == 5 && ex.keysource == CONFIG_KEYSOURCE_OPENPGP &&
	    ex.has_serial && ex.serial == 0xa001 &&
	    strcmp(ex.reader, "Nitrokey") == 0 && ex.pin_file != NULL &&
	    strcmp(ex.audit_log, "/var/log/wgcard/wg0.jsonl") == 0,
	    "env: card settings read: %s", err);
	config_extra_free(&ex);
	setenv("WGCARD_CARD_SERIAL", "xyz", 1);
	CHECK(config_parse_env(&ex, &found, err, sizeof(err)) == -1 &&
	    strncmp(err, "environment: WGCARD_CARD_SERIAL: ", 33) == 0,
	    "env: a bad serial names the variable: %s", err);
	setenv("WGCARD_CARD_SERIAL", "a001\nPrivateKey = x", 1);
	CHECK(config_parse_env(&ex, &found, err, sizeof(err)) == -1 &&
	    strstr(err, "line break") != NULL,
	    "env: a line break cannot add a key: %s", err);
	unsetenv("WGCARD_CARD_SERIAL");
	unsetenv("WGCARD_KEY_SOURCE");
	CHECK(config_parse_env(&ex, &found, err, sizeof(err)) == -1 &&
	    strncmp(err, "environment: WGCARD_", 20) == 0 &&
	    strstr(err, "only with KeySource = openpgp") != NULL,
	    "env: card keys without KeySource refused: %s", err);
	setenv("WGCARD_KEY_SOURCE", "", 1);
	CHECK(config_parse_env(&ex, &found, err, sizeof(err)) == -1 &&
	    strstr(err, "WGCARD_KEY_SOURCE: empty") != NULL,
	    "env: an empty variable refused: %s", err);
	for (i = 0; vars[i] != NULL; i++)
		unsetenv(vars[i]);
}

int
main(int argc, char *argv[])
{
	const char	*upd = getenv("WGCARD_UPDATE_GOLDEN");

	if (find_srcdir(argv[0], argc > 1 ? argv[1] : NULL) == -1) {
		fprintf(stderr, "test_config: cannot find tests/config\n");
		CHECK(0, "no golden directory");
		return test_done();
	}
	umask(022);
	if (mkdtemp(tmpdir) == NULL || chdir(tmpdir) == -1) {
		CHECK(0, "mkdtemp: %s", strerror(errno));
		return test_done();
	}
	test_golden(upd != NULL && strcmp(upd, "1") == 0);
	test_misc();
	test_env();
	test_pin_file();
	if (chdir("/") == 0)
		rmdir(tmpdir);
	return test_done();
}
