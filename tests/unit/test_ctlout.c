/*
 * test_ctlout.c: wgcardctl's machine-readable output (output.c) from
 * daemon answers that are hostile: every string escaped as JSON needs,
 * invalid UTF-8 replaced, numbers that are not numbers not printed as
 * numbers, the document always well formed (a recursive JSON checker
 * here, sharing no code with output.c), Prometheus label values escaped;
 * fields out of their order or given twice, a peer given twice: each peer
 * object still has each field once and no series is printed twice;
 * numbers with leading zeros or beyond 64 bits are not numbers; no
 * daemon: a document with no interface; the human output escapes what a
 * terminal would act on and is whole lines whatever the fields' order;
 * the end line is 0 or an errno, anything else a protocol error.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_check.h"
#include "test.h"
#include "wgcardctl/wgcardctl.h"

static void
add(struct answer *a, const char *k, const char *v)
{
	a->keys = realloc(a->keys, (a->n + 1) * sizeof(char *));
	a->vals = realloc(a->vals, (a->n + 1) * sizeof(char *));
	a->keys[a->n] = strdup(k);
	a->vals[a->n] = strdup(v);
	a->n++;
}

static char *
render(void (*fn)(FILE *, const struct ctl_iface *, size_t),
    const struct ctl_iface *ifc, size_t n)
{
	char	*buf = NULL;
	size_t	 len = 0;
	FILE	*f = open_memstream(&buf, &len);

	fn(f, ifc, n);
	fclose(f);
	return buf;
}

static void
test_json_string(void)
{
	char	*buf = NULL, in[2];
	size_t	 len = 0;
	FILE	*f;
	int	 c, ok = 1;

	for (c = 1; c < 256; c++) {
		in[0] = (char)c;
		in[1] = '\0';
		f = open_memstream(&buf, &len);
		output_json_string(f, in);
		fclose(f);
		if (!json_ok(buf)) {
			ok = 0;
			fprintf(stderr, "byte 0x%02x: %s\n", c, buf);
		}
		free(buf);
		buf = NULL;
	}
	CHECK(ok, "every byte alone makes a valid JSON string");
	f = open_memstream(&buf, &len);
	output_json_string(f, "a\"b\\c\nd\xc3\xa9\xff");
	fclose(f);
	CHECK(strcmp(buf, "\"a\\\"b\\\\c\\u000ad\xc3\xa9\\ufffd\"") == 0,
	    "quote, backslash, newline, UTF-8 kept, invalid byte: %s", buf);
	free(buf);
}

/* ifc's card with the touch line touch: wgcard_card_touch_required want. */
static void
touch_required(struct ctl_iface *ifc, const char *touch, int want)
{
	char	*doc, *v, end[8];

	answer_free(&ifc->status);
	add(&ifc->status, "touch", touch);
	doc = render(output_prometheus, ifc, 1);
	snprintf(end, sizeof(end), "} %d\n", want);
	CHECK((v = strstr(doc, "\nwgcard_card_touch_required{")) != NULL &&
	    (v = strchr(v, '}')) != NULL && strncmp(v, end, strlen(end)) == 0,
	    "touch \"%s\": required %d: %s", touch, want, doc);
	free(doc);
}

static void
test_documents(void)
{
	struct ctl_iface	 ifc[2];
	char			*doc;

	memset(ifc, 0, sizeof(ifc));
	strcpy(ifc[0].name, "wg\"0");
	add(&ifc[0].show, "interface", "wg\"0");
	add(&ifc[0].show, "public_key", "x\"}, \"evil\": 1, \"y");
	add(&ifc[0].show, "listen_port", "51820; rm -rf /");
	add(&ifc[0].show, "fwmark", "-1");
	add(&ifc[0].show, "key_ready", "1");
	add(&ifc[0].show, "forwarder", "io_uring\n# TYPE x counter");
	add(&ifc[0].show, "under_load", "1");
	add(&ifc[0].show, "handshakes_dropped", "7");
	add(&ifc[0].show, "drop_bad_mac1", "4");
	add(&ifc[0].show, "drop_queue_full", "3x");
	add(&ifc[0].show, "peers", "2");
	add(&ifc[0].show, "peer", "P1\\\"");
	add(&ifc[0].show, "endpoint", "1.2.3.4:5");
	add(&ifc[0].show, "allowed_ip", "10.0.0.0/8");
	add(&ifc[0].show, "allowed_ip", "\x01\x7f");
	add(&ifc[0].show, "latest_handshake", "99999999999999999999999");
	add(&ifc[0].show, "rx_bytes", "12");
	add(&ifc[0].show, "tx_bytes", "1e9");
	add(&ifc[0].show, "preshared_key", "yes");
	add(&ifc[0].show, "drops", "0");
	add(&ifc[0].show, "peer", "P2");		/* no endpoint, no aip */
	add(&ifc[0].show, "latest_handshake", "0");
	add(&ifc[0].show, "peer", "P3");		/* truncated answer */
	add(&ifc[0].status, "backend", "openpgp");
	add(&ifc[0].status, "pin_retries", "three");
	add(&ifc[0].status, "touch", "decrypt on (fixed)\"\n");
	strcpy(ifc[1].name, "wg1");
	ifc[1].error = strdup("Connection refused \x80");

	doc = render(output_json, ifc, 2);
	CHECK(json_ok(doc), "hostile answers: still one valid document: %s",
	    doc);
	CHECK(strstr(doc, "\"evil\"") == NULL || strstr(doc, "\\\"evil\\\""),
	    "no key injected");
	CHECK(strstr(doc, "\"listen_port\":0") != NULL &&
	    strstr(doc, "\"fwmark\":0") != NULL &&
	    strstr(doc, "\"tx_bytes\":0") != NULL &&
	    strstr(doc, "\"latest_handshake\":0") != NULL &&
	    strstr(doc, "\"pin_retries\":null") != NULL,
	    "non-numbers are not printed as numbers: %s", doc);
	CHECK(strstr(doc, "\"touch\":\"decrypt on (fixed)\\\"\\u000a\"") != NULL,
	    "touch: the card status line, escaped: %s", doc);
	CHECK(strstr(doc, "\"error\":\"Connection refused \\ufffd\"") != NULL,
	    "an unreachable daemon: error kept: %s", doc);
	CHECK(strstr(doc, "\"drops_by_cause\":{\"no_key\":0,\"bad_mac1\":4,") !=
	    NULL && strstr(doc, "\"queue_full\":0,") != NULL &&
	    strstr(doc, "\"broker_busy\":0}") != NULL,
	    "drops by cause: every cause, non-numbers and absent ones 0: %s",
	    doc);
	free(doc);

	doc = render(output_prometheus, ifc, 2);
	CHECK(strstr(doc, "\n# TYPE x counter") == NULL,
	    "no line injected through a label: %s", doc);
	CHECK(strstr(doc, "forwarder=\"io_uring\\n# TYPE x counter\"") != NULL,
	    "newline in a label escaped");
	CHECK(strstr(doc, "peer=\"P1\\\\x5c\\\"\"") != NULL,
	    "backslash (as \\x5c) and quote in a label escaped: %s", doc);
	CHECK(strstr(doc, "wgcard_up{interface=\"wg1\"} 0") != NULL,
	    "an unreachable daemon: wgcard_up 0");
	CHECK(strstr(doc, "wgcard_handshake_drops_total{interface=\"wg\\\"0\","
	    "cause=\"bad_mac1\"} 4\n") != NULL &&
	    strstr(doc, "cause=\"queue_full\"") == NULL &&
	    strstr(doc, "cause=\"no_key\"") == NULL,
	    "drops by cause: one series per cause given as a number: %s", doc);
	CHECK(strstr(doc, "wgcard_card_pin_retries{") == NULL,
	    "a non-number is left out");
	CHECK(strstr(doc, "key_touch=\"decrypt on (fixed)\\\"\\n\"} 1\n") !=
	    NULL && strstr(doc, "wgcard_card_touch_required{interface="
	    "\"wg\\\"0\"} 1\n") != NULL && strstr(doc,
	    "wgcard_card_touch_required{interface=\"wg1\"}") == NULL,
	    "touch: info label escaped; required 1 for \"decrypt on (...\", "
	    "none when unknown: %s", doc);
	free(doc);
	touch_required(&ifc[0], "decrypt only", 0);
	touch_required(&ifc[0], "decrypt off", 0);
	touch_required(&ifc[0], "decrypt on", 1);
	answer_free(&ifc[0].show);
	answer_free(&ifc[0].status);
	free(ifc[1].error);
}

/* The number of times needle occurs in hay. */
static int
count(const char *hay, const char *needle)
{
	int	n = 0;

	while ((hay = strstr(hay, needle)) != NULL) {
		n++;
		hay += strlen(needle);
	}
	return n;
}

/* 1 if no line of doc (samples, not comments) is there twice. */
static int
no_line_twice(const char *doc)
{
	const char	*a, *b, *ea, *eb;

	for (a = doc; *a; a = ea + (*ea != '\0')) {
		ea = strchrnul(a, '\n');
		if (*a == '#' || ea == a)
			continue;
		for (b = ea + (*ea != '\0'); *b; b = eb + (*eb != '\0')) {
			eb = strchrnul(b, '\n');
			if (eb - b == ea - a && memcmp(a, b, ea - a) == 0)
				return 0;
		}
	}
	return 1;
}

static void
test_disorder(void)
{
	struct ctl_iface	 ifc, ifcs[2];
	char			*doc;

	memset(&ifc, 0, sizeof(ifc));
	strcpy(ifc.name, "wg0");
	add(&ifc.show, "listen_port", "007");
	add(&ifc.show, "fwmark", "18446744073709551616");
	add(&ifc.show, "cookie_replies", "18446744073709551615");
	add(&ifc.show, "rx_bytes", "5");		/* before any peer */
	add(&ifc.show, "peer", "P1");
	add(&ifc.show, "latest_handshake", "10");
	add(&ifc.show, "allowed_ip", "10.0.0.1/32");	/* after it */
	add(&ifc.show, "endpoint", "1.2.3.4:5");	/* after the aips */
	add(&ifc.show, "rx_bytes", "1");
	add(&ifc.show, "rx_bytes", "2");		/* twice */
	add(&ifc.show, "latest_handshake", "11");
	add(&ifc.show, "peer", "P2");
	add(&ifc.show, "tx_bytes", "3");
	add(&ifc.show, "peer", "P1");			/* P1 again */
	add(&ifc.show, "rx_bytes", "4");
	add(&ifc.show, "allowed_ip", "10.0.0.2/32");
	add(&ifc.show, "drops", "\xff");

	doc = render(output_json, &ifc, 1);
	CHECK(json_ok(doc), "fields out of order: a valid document: %s", doc);
	CHECK(count(doc, "\"public_key\":\"P1\"") == 1 &&
	    count(doc, "\"public_key\":\"P2\"") == 1,
	    "a peer given twice is there once: %s", doc);
	CHECK(count(doc, "\"rx_bytes\"") == 2 &&
	    count(doc, "\"latest_handshake\"") == 2 &&
	    count(doc, "\"endpoint\"") == 2 &&
	    count(doc, "\"allowed_ips\"") == 2 &&
	    count(doc, "\"drops\"") == 2 &&
	    count(doc, "\"preshared_key\"") == 2 &&
	    count(doc, "\"persistent_keepalive\"") == 2,
	    "every peer has each field once: %s", doc);
	CHECK(strstr(doc, "\"endpoint\":\"1.2.3.4:5\",\"allowed_ips\":"
	    "[\"10.0.0.1/32\"],\"latest_handshake\":10,\"rx_bytes\":1,") !=
	    NULL, "the first values count, whatever the order: %s", doc);
	CHECK(strstr(doc, "\"endpoint\":null,\"allowed_ips\":[],"
	    "\"latest_handshake\":0,\"rx_bytes\":0,\"tx_bytes\":3") != NULL,
	    "a peer with few fields: null, [] and 0: %s", doc);
	CHECK(strstr(doc, "\"listen_port\":0,") != NULL &&
	    strstr(doc, "\"fwmark\":0,") != NULL &&
	    strstr(doc, "\"cookie_replies\":18446744073709551615") != NULL,
	    "leading zeros and beyond 64 bits are not numbers: %s", doc);
	free(doc);

	doc = render(output_prometheus, &ifc, 1);
	CHECK(no_line_twice(doc), "no series twice: %s", doc);
	CHECK(strstr(doc, "wgcard_peer_receive_bytes_total{interface=\"wg0\","
	    "peer=\"P1\"} 1\n") != NULL, "the first value: %s", doc);
	CHECK(strstr(doc, "wgcard_peer_drops_total{") == NULL,
	    "a drops count that is not a number is left out: %s", doc);
	CHECK(strstr(doc, "peer=\"P1\",endpoint=\"1.2.3.4:5\","
	    "allowed_ips=\"10.0.0.1/32\"} 1") != NULL,
	    "peer info from the first entry: %s", doc);
	free(doc);
	answer_free(&ifc.show);

	/* Label values: control bytes, bad UTF-8, backslash as \xNN. */
	memset(&ifc, 0, sizeof(ifc));
	strcpy(ifc.name, "w\x01g\xe9");
	add(&ifc.show, "peer", "a\tb\xc3\xa9\xc3\\");
	doc = render(output_prometheus, &ifc, 1);
	CHECK(strstr(doc, "interface=\"w\\\\x01g\\\\xe9\"") != NULL &&
	    strstr(doc, "peer=\"a\\\\x09b\xc3\xa9\\\\xc3\\\\x5c\"") != NULL,
	    "labels: control bytes and bad UTF-8 written as \\xNN: %s", doc);
	free(doc);
	answer_free(&ifc.show);

	/*
	 * Peers (and interfaces) that differ only in bytes the labels
	 * cannot carry stay distinct series (found by fuzz_ctlout: both
	 * became U+FFFD, a series twice, which a collector refuses).
	 */
	memset(ifcs, 0, sizeof(ifcs));
	strcpy(ifcs[0].name, "@\v\xe2");
	strcpy(ifcs[1].name, "@\xe2\xe2");
	add(&ifcs[0].show, "peer", "p\xff");
	add(&ifcs[0].show, "rx_bytes", "1");
	add(&ifcs[0].show, "peer", "p\xfe");
	add(&ifcs[0].show, "rx_bytes", "2");
	doc = render(output_prometheus, ifcs, 2);
	CHECK(strstr(doc, "wgcard_up{interface=\"@\\\\x0b\\\\xe2\"} 1\n"
	    "wgcard_up{interface=\"@\\\\xe2\\\\xe2\"} 1\n") != NULL &&
	    strstr(doc, "peer=\"p\\\\xff\"} 1\n") != NULL &&
	    strstr(doc, "peer=\"p\\\\xfe\"} 2\n") != NULL,
	    "distinct names, distinct series: %s", doc);
	free(doc);
	answer_free(&ifcs[0].show);
}

static void
test_empty(void)
{
	char	*doc;

	doc = render(output_json, NULL, 0);
	CHECK(json_ok(doc) &&
	    strcmp(doc, "{\"schema_version\":1,\"interfaces\":[]}\n") == 0,
	    "no daemon: an empty document: %s", doc);
	free(doc);
	doc = render(output_prometheus, NULL, 0);
	CHECK(strstr(doc, "# TYPE wgcard_up gauge\n") != NULL &&
	    strstr(doc, "wgcard_up{") == NULL,
	    "no daemon: HELP and TYPE, no sample: %s", doc);
	free(doc);
}

static void
test_vis(void)
{
	CHECK(strcmp(output_vis("wg0 10.0.0.1/32 caf\xc3\xa9"),
	    "wg0 10.0.0.1/32 caf\xc3\xa9") == 0, "plain text kept");
	CHECK(strcmp(output_vis("\x1b]0;x\x07\x1b[2J"),
	    "\\x1b]0;x\\x07\\x1b[2J") == 0, "escape sequences escaped: %s",
	    output_vis("\x1b]0;x\x07\x1b[2J"));
	CHECK(strcmp(output_vis("a\xc2\x9b" "1m\\\xff\x7f"),
	    "a\\xc2\\x9b1m\\x5c\\xff\\x7f") == 0,
	    "C1 controls, backslash, bad UTF-8, DEL: %s",
	    output_vis("a\xc2\x9b" "1m\\\xff\x7f"));
}

/* Reads text as wgcardctl reads a daemon's answer; the end status. */
static int
read_answer(struct answer *a, const char *text)
{
	char	*copy = strdup(text), *line, *save;
	int	 r = -1;

	memset(a, 0, sizeof(*a));
	for (line = strtok_r(copy, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save))
		if ((r = answer_line(a, line)) != 0)
			break;
	free(copy);
	return r == 1 ? a->status : -1;
}

/*
 * The end line: 0 or an errno, anything else a protocol error (atoi
 * made "end=x" a success). Found writing fuzz_ctlout.
 */
static void
test_answer_end(void)
{
	static const struct {
		const char	*text;
		int		 status;
	} cases[] = {
		{ "a=1\nend=0", 0 },
		{ "error=no\nend=22", 22 },
		{ "end=4095", 4095 },
		{ "end=x", EPROTO },
		{ "end=", EPROTO },
		{ "end=-1", EPROTO },
		{ "end=00", EPROTO },
		{ "end=4096", EPROTO },
		{ "end=99999999999999999999", EPROTO },
		{ "end=0 ", EPROTO },
	};
	struct answer	a;
	size_t		i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		CHECK(read_answer(&a, cases[i].text) == cases[i].status,
		    "%s: status %d", cases[i].text, a.status);
		answer_free(&a);
	}
	CHECK(read_answer(&a, "a=1\nb\nerror=x\nerror=y\nend=5") == 5 &&
	    a.n == 1 && strcmp(a.error, "y") == 0,
	    "lines without = skipped, the last error kept");
	answer_free(&a);
}

/*
 * show for people: whole lines whatever the daemon sent (a pair of
 * fields split over two lines left a line open when one was missing or
 * they came in another order), and no overflow on a hostile time.
 * Found writing fuzz_ctlout.
 */
static void
test_people(void)
{
	struct ctl_iface	 ifc;
	struct show_peer	*v;
	char			*buf = NULL;
	size_t			 len = 0;
	FILE			*f;

	static const char *const kv[] = {
		"interface", "wg0", "broker_pending", "3",
		"forwarder", "io_uring",
		"peer", "P1", "tx_bytes", "5", "endpoint", "1.2.3.4:5",
		"latest_handshake", "-9223372036854775808",
		"allowed_ip", "10.0.0.1/32",
		"peer", "P2", "rx_bytes", "7", "allowed_ip", "10.0.0.2/32",
		"latest_handshake", "18446744073709551615",
	};
	/* Staleness at 1800000000, 180 s at most: */
	static const struct {
		const char	*t;
		int		 stale;
	} times[] = {
		{ "18446744073709551615", 1 },	/* beyond 63 bits */
		{ "1799999820", 0 },		/* 180 s ago */
		{ "1799999819", 1 },		/* 181 s ago */
		{ "0", 1 },			/* never */
		{ "-1", 1 },
	};
	size_t			 i;

	memset(&ifc, 0, sizeof(ifc));
	strcpy(ifc.name, "wg0");
	for (i = 0; i < sizeof(kv) / sizeof(kv[0]); i += 2)
		add(&ifc.show, kv[i], kv[i + 1]);
	f = open_memstream(&buf, &len);
	output_show(f, &ifc);
	fclose(f);
	CHECK(strcmp(buf, "interface: wg0\n"
	    "  key broker: 3 pending, ? queued\n"
	    "  forwarder: io_uring backend, offloads ?, ? crypto workers\n"
	    "\npeer: P1\n"
	    "  endpoint: 1.2.3.4:5\n"
	    "  allowed ips: 10.0.0.1/32\n"
	    "  latest handshake: unknown\n"
	    "  transfer: ? B received, 5 B sent\n"
	    "\npeer: P2\n"
	    "  allowed ips: 10.0.0.2/32\n"
	    "  latest handshake: 0 seconds ago\n"
	    "  transfer: 7 B received, ? B sent\n") == 0,
	    "whole lines, fields in their order: %s", buf);
	free(buf);

	CHECK(show_peers(&ifc.show, &v) == 2, "two peers");
	CHECK(show_peer_stale(&v[0], 1800000000, 180) == 1,
	    "a time that is not one: stale");
	CHECK(show_peer_stale(&v[1], 1800000000, 180) == 0,
	    "no endpoint: never stale");
	v[1].endpoint = "x";
	for (i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
		v[1].latest_handshake = times[i].t;
		CHECK(show_peer_stale(&v[1], 1800000000, 180) ==
		    times[i].stale, "latest handshake %s", times[i].t);
	}
	show_peers_free(v, 2);
	answer_free(&ifc.show);
}

int
main(void)
{
	test_json_string();
	test_documents();
	test_disorder();
	test_empty();
	test_vis();
	test_answer_end();
	test_people();
	return test_done();
}
