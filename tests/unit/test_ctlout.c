/*
 * test_ctlout.c: wgcardctl's machine-readable output (output.c) from
 * daemon answers that are hostile: every string escaped as JSON needs,
 * invalid UTF-8 replaced, numbers that are not numbers not printed as
 * numbers, the document always well formed (a recursive JSON checker
 * here, sharing no code with output.c), Prometheus label values escaped.
 */
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
	CHECK(strstr(doc, "\"error\":\"Connection refused \\ufffd\"") != NULL,
	    "an unreachable daemon: error kept: %s", doc);
	free(doc);

	doc = render(output_prometheus, ifc, 2);
	CHECK(strstr(doc, "\n# TYPE x counter") == NULL,
	    "no line injected through a label: %s", doc);
	CHECK(strstr(doc, "forwarder=\"io_uring\\n# TYPE x counter\"") != NULL,
	    "newline in a label escaped");
	CHECK(strstr(doc, "peer=\"P1\\\\\\\"\"") != NULL,
	    "backslash and quote in a label escaped: %s", doc);
	CHECK(strstr(doc, "wgcard_up{interface=\"wg1\"} 0") != NULL,
	    "an unreachable daemon: wgcard_up 0");
	CHECK(strstr(doc, "wgcard_card_pin_retries{") == NULL,
	    "a non-number is left out");
	free(doc);
	answer_free(&ifc[0].show);
	answer_free(&ifc[0].status);
	free(ifc[1].error);
}

int
main(void)
{
	test_json_string();
	test_documents();
	return test_done();
}
