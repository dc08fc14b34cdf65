/*
 * test_audit.c: the audit file's JSON lines (netd/audit.c): fields and
 * numbers, quoting, every byte escaped that JSON needs escaped, invalid
 * UTF-8 replaced, malformed event text kept as "raw" in valid JSON, and
 * the file opened for appending only. Each line is checked with
 * json_check.h (no library, and no code shared with what it checks).
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"
#include "json_check.h"
#include "test.h"

/* One JSON object and its newline, nothing else. */
static int
js_valid(const char *line)
{
	size_t	n = strlen(line);

	return n > 2 && line[0] == '{' && line[n - 2] == '}' &&
	    line[n - 1] == '\n' && strchr(line, '\n') == line + n - 1 &&
	    json_ok(line);
}

static size_t
fmt(char *out, size_t len, const char *kv)
{
	/* 2026-11-25T04:09:47.000123Z */
	return audit_format(out, len, 1795579787000123LL, "wg0", "keyd", 42,
	    kv);
}

static void
test_fields(void)
{
	char	out[AUDIT_LINE_MAX];
	size_t	n;

	n = fmt(out, sizeof(out), "op=ecdh backend=openpgp peer=4eYnNt38 "
	    "result=ok latency_ms=0.712");
	CHECK(n == strlen(out) && js_valid(out), "ecdh line valid: %s", out);
	CHECK(strcmp(out, "{\"ts\":\"2026-11-25T04:09:47.000123Z\","
	    "\"interface\":\"wg0\",\"proc\":\"keyd\",\"pid\":42,"
	    "\"op\":\"ecdh\",\"backend\":\"openpgp\",\"peer\":\"4eYnNt38\","
	    "\"result\":\"ok\",\"latency_ms\":0.712}\n") == 0,
	    "ecdh line exact: %s", out);
	fmt(out, sizeof(out), "op=control uid=0 command=\"card unlock\"");
	CHECK(js_valid(out) && strstr(out, "\"uid\":0,") != NULL &&
	    strstr(out, "\"command\":\"card unlock\"}") != NULL,
	    "quoted value with a space, uid a number: %s", out);
	/* Numbers only for the numeric keys, and only when they are. */
	fmt(out, sizeof(out), "op=verify retries_left=-1 peer=12345678 "
	    "uid=007 latency_ms=1.");
	CHECK(js_valid(out) && strstr(out, "\"retries_left\":-1") &&
	    strstr(out, "\"peer\":\"12345678\"") &&
	    strstr(out, "\"uid\":\"007\"") &&
	    strstr(out, "\"latency_ms\":\"1.\""), "number rules: %s", out);
	fmt(out, sizeof(out), "op=card state=absent reason=\"\"");
	CHECK(js_valid(out) && strstr(out, "\"reason\":\"\"}"),
	    "empty quoted value: %s", out);
}

static void
test_escaping(void)
{
	char	out[AUDIT_LINE_MAX], kv[256];
	int	c, ok = 1;

	/* Every byte 1..255 inside a quoted value gives valid JSON. */
	for (c = 1; c < 256; c++) {
		if (c == '"')
			continue;
		snprintf(kv, sizeof(kv), "op=x reader=\"a%cb\"", c);
		if (fmt(out, sizeof(out), kv) == 0 || !js_valid(out) ||
		    strchr(out, '\n') != out + strlen(out) - 1) {
			ok = 0;
			fprintf(stderr, "byte 0x%02x: %s", c, out);
		}
	}
	CHECK(ok, "every byte escaped as JSON needs");
	/* The worst case: the longest text, all control bytes (found by
	 * tests/fuzz/fuzz_audit.c when the line buffer was too short). */
	{
		char	big[AUDIT_KV_MAX];

		memset(big, 1, sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		CHECK(fmt(out, sizeof(out), big) > 0 && js_valid(out),
		    "511 control bytes fit one line");
	}
	fmt(out, sizeof(out), "op=x reader=\"tab\there\\back\"");
	CHECK(strstr(out, "\"tab\\u0009here\\\\back\"") != NULL,
	    "control and backslash escaped: %s", out);
	fmt(out, sizeof(out), "op=x reader=\"caf\xc3\xa9 \xe2\x82\xac\"");
	CHECK(strstr(out, "caf\xc3\xa9 \xe2\x82\xac") != NULL,
	    "valid UTF-8 kept: %s", out);
	fmt(out, sizeof(out), "op=x reader=\"\xc3\x28 \xed\xa0\x80 \xf8\"");
	CHECK(js_valid(out) && strstr(out, "\\ufffd(") != NULL &&
	    strstr(out, "\xed") == NULL && strstr(out, "\xf8") == NULL,
	    "invalid UTF-8 and surrogates replaced: %s", out);
}

static void
test_malformed(void)
{
	static const char *const bad[] = {
		"",				/* nothing */
		"result=ok op=ecdh",		/* op not first */
		"op=x ts=forged",		/* envelope key */
		"op=x pid=1",
		"op=x Peer=upper",		/* key charset */
		"op=x reason=\"unterminated",
		"op=x reason=\"a\"b",		/* junk after quote */
		"op=x a=b\"c",
		"op=x =v",
		"op=x k",
		"op=x k=v\n{\"op\":\"forged\"}",	/* a second line */
		"op=x aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa=1",	/* key > 32 */
	};
	char	out[AUDIT_LINE_MAX];
	size_t	i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		fmt(out, sizeof(out), bad[i]);
		CHECK(js_valid(out) && strstr(out, "\"op\":\"malformed\"") &&
		    strchr(out, '\n') == out + strlen(out) - 1,
		    "malformed #%zu kept as raw in one valid line: %s", i,
		    out);
	}
	CHECK(fmt(out, 40, "op=ecdh result=ok") == 0, "short buffer: 0");
}

static void
test_file(void)
{
	char		 path[] = "/tmp/wgcard-audit-test.XXXXXX", err[256];
	char		 buf[4096];
	struct stat	 st;
	ssize_t		 n;
	int		 fd;

	if ((fd = mkstemp(path)) == -1) {
		CHECK(0, "mkstemp");
		return;
	}
	CHECK(write(fd, "old line\n", 9) == 9, "seed");
	close(fd);
	audit_set_ifname("wgt0");
	CHECK(!audit_enabled(), "closed at first");
	CHECK(audit_reopen(path, err, sizeof(err)) == 0, "open: %s", err);
	audit_event(1, "keyd", 7, "op=pin from=parent");
	audit_event(2, "handshake", 8, "op=peer-add peer=abcdefgh peers=1");
	CHECK(audit_reopen("/nonexistent/dir/x", err, sizeof(err)) == -1 &&
	    strstr(err, "AuditLog /nonexistent/dir/x") != NULL,
	    "bad path refused: %s", err);
	CHECK(audit_enabled(), "the old file stays open after a failure");
	audit_event(1, "keyd", 7, "op=card state=ready serial=0000A001 "
	    "reason=\"PIN verified\"");
	audit_close();
	fd = open(path, O_RDONLY);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	CHECK(strncmp(buf, "old line\n{\"ts\":", 15) == 0,
	    "appended after what was there: %s", buf);
	CHECK(strstr(buf, "\"op\":\"pin\"") && strstr(buf, "\"peers\":1}") &&
	    strstr(buf, "\"reason\":\"PIN verified\"}\n"), "3 events: %s",
	    buf);
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600,
	    "existing file's mode kept");
	unlink(path);
	CHECK(audit_reopen(path, err, sizeof(err)) == 0, "create");
	audit_close();
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0640,
	    "new file 0640 (umask 022)");
	unlink(path);
	/* A symlink is not followed. */
	CHECK(symlink("/tmp/wgcard-audit-elsewhere", path) == 0, "symlink");
	CHECK(audit_reopen(path, err, sizeof(err)) == -1,
	    "symlink refused: %s", err);
	unlink(path);
}

/* The audit file's text after the events fn writes, the file closed. */
static int
rate_run(void (*fn)(void), char *buf, size_t buflen)
{
	char	path[] = "/tmp/wgcard-audit-rate.XXXXXX", err[256], *p;
	int	fd, lines = 0;
	ssize_t	n;

	if ((fd = mkstemp(path)) == -1)
		return -1;
	close(fd);
	if (audit_reopen(path, err, sizeof(err)) == -1)
		return -1;
	fn();
	audit_close();
	fd = open(path, O_RDONLY);
	n = read(fd, buf, buflen - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	for (p = buf; (p = strchr(p, '\n')) != NULL; p++)
		lines++;
	unlink(path);
	return lines;
}

/*
 * A given clock: the result must not depend on the machine's speed. It
 * starts past the monotonic clock the earlier tests used (audit_event).
 */
static int64_t	t0;

static void
rate_flood(void)
{
	int	i;

	for (i = 0; i < AUDIT_BURST + 500; i++)
		audit_event_at(PROC_FORWARDER, "forwarder", 9,
		    i % 5 ? "op=flood x=1" : "op=other-op", t0 + 5000000);
	/* 20 ms later: a few tokens (200 a second) have come back. */
	audit_event_at(PROC_FORWARDER, "forwarder", 9, "op=after",
	    t0 + 5020000);
}

/* Counts are written a second after the first, by anyone's next event. */
static void
rate_timer(void)
{
	int	i;

	for (i = 0; i < AUDIT_BURST + 30; i++)
		audit_event_at(PROC_HANDSHAKE, "handshake", 7, "op=peer-add",
		    t0 + 9000000);
	audit_event_at(PROC_PARENT, "parent", 1, "op=tick", t0 + 9500000);
	audit_event_at(PROC_PARENT, "parent", 1, "op=tick", t0 + 10000001);
}

/* Twelve op names (and a malformed one): eight by name, the rest other. */
static void
rate_many(void)
{
	char	kv[64];
	int	i;

	for (i = 0; i < AUDIT_BURST; i++)
		audit_event_at(PROC_HANDSHAKE, "handshake", 7, "op=x",
		    t0 + 20000000);
	for (i = 0; i < 12; i++) {
		snprintf(kv, sizeof(kv), "op=name%d", i);
		audit_event_at(PROC_HANDSHAKE, "handshake", 7, kv,
		    t0 + 20000000);
	}
	audit_event_at(PROC_HANDSHAKE, "handshake", 7, "op=\"q\" x",
	    t0 + 20000000);
	audit_event_at(PROC_HANDSHAKE, "handshake", 7, "garbage",
	    t0 + 20000000);
}

/* The broker's card ECDH records pass a spent bucket; its others do not. */
static void
rate_ecdh(void)
{
	int	i;

	for (i = 0; i < AUDIT_BURST + 100; i++)
		audit_event_at(PROC_KEYD, "keyd", 5, "op=ecdh backend=openpgp "
		    "point=0011223344556677 result=ok", t0 + 40000000);
	for (i = 0; i < AUDIT_BURST + 100; i++)
		audit_event_at(PROC_KEYD, "keyd", 5, "op=verify result=ok",
		    t0 + 40000000);
}

static void
test_rate(void)
{
	static char	buf[1 << 20];
	struct timespec	ts;
	int		lines;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	t0 = (int64_t)ts.tv_sec * 1000000 + 3600000000LL;

	lines = rate_run(rate_flood, buf, sizeof(buf));
	CHECK(lines == AUDIT_BURST + 2, "a flood is capped at the burst, then "
	    "one count line and the next event: %d lines", lines);
	CHECK(strstr(buf, "\"op\":\"audit-aggregate\",\"count\":500,"
	    "\"ops\":\"other-op:100,flood:400\"}") != NULL,
	    "what was over the rate is counted by op");
	CHECK(strstr(buf, "\"op\":\"after\"") >
	    strstr(buf, "audit-aggregate"), "the counts come before the next "
	    "event");

	lines = rate_run(rate_timer, buf, sizeof(buf));
	CHECK(lines == AUDIT_BURST + 3, "counts wait for a second (%d lines)",
	    lines);
	CHECK(strstr(buf, "\"proc\":\"handshake\",\"pid\":7,\"op\":"
	    "\"audit-aggregate\",\"count\":30,\"ops\":\"peer-add:30\"}") != NULL
	    && strstr(buf, "audit-aggregate") > strstr(buf, "\"op\":\"tick\""),
	    "then another process's event writes them, under the sender's "
	    "name");

	(void)rate_run(rate_many, buf, sizeof(buf));
	CHECK(strstr(buf, "\"count\":14,\"ops\":\"name0:1,name1:1,name2:1,"
	    "name3:1,name4:1,name5:1,name6:1,name7:1,other:6\"") != NULL,
	    "eight op names, then other; the close writes the counts: %s",
	    strstr(buf, "audit-aggregate") ? strstr(buf, "audit-aggregate") :
	    "(none)");

	lines = rate_run(rate_ecdh, buf, sizeof(buf));
	CHECK(lines == AUDIT_BURST + 100 + AUDIT_BURST + 1,
	    "card ECDH records are all written, the rest rate-limited: %d "
	    "lines", lines);
	CHECK(strstr(buf, "\"count\":100,\"ops\":\"verify:100\"") != NULL,
	    "the broker's other records are counted past the rate");
}

int
main(void)
{
	umask(022);
	test_fields();
	test_escaping();
	test_malformed();
	test_file();
	test_rate();
	return test_done();
}
