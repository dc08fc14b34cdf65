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

static void
test_rate(void)
{
	static char	buf[1 << 18];
	char		path[] = "/tmp/wgcard-audit-rate.XXXXXX", err[256];
	char		*p;
	int		fd, i, lines = 0;
	ssize_t		n;

	if ((fd = mkstemp(path)) == -1) {
		CHECK(0, "mkstemp");
		return;
	}
	close(fd);
	CHECK(audit_reopen(path, err, sizeof(err)) == 0, "open");
	/* A given clock: the result must not depend on the machine's speed. */
	for (i = 0; i < AUDIT_BURST + 500; i++)
		audit_event_at(3, "forwarder", 9, "op=flood", 5000000);
	/* 20 ms later: a few tokens (200 a second) have come back. */
	audit_event_at(3, "forwarder", 9, "op=after", 5020000);
	audit_close();
	fd = open(path, O_RDONLY);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	for (p = buf; (p = strchr(p, '\n')) != NULL; p++)
		lines++;
	CHECK(lines == AUDIT_BURST + 2, "a flood is capped at the burst, then "
	    "one drop report and the next event: %d lines", lines);
	CHECK(strstr(buf, "\"op\":\"audit-dropped\",\"count\":500}") != NULL,
	    "drops counted and reported");
	unlink(path);
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
