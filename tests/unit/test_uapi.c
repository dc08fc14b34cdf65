/*
 * test_uapi.c: the set=1 parser, the get=1 formatters, the set=1
 * formatter (round trip), and common/buf.c.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "buf.h"
#include "test.h"
#include "uapi.h"
#include "wgconf.h"

#define K1 "e84b5a6d2717c1003a13b431570353dbaca9146cf150c5f8575680feba52027a"
#define K2 "b85996fecc9c7f1fc6d2572a76eda11d59bcd20be8e543b15ce4bd85a8e75a33"
#define K3 "58402e695ba1772b1cc9309755f043251ea77fdcf10fbe63989ceb7e19321376"
#define KZ "0000000000000000000000000000000000000000000000000000000000000000"

static char	errbuf[256];

static int
parse(const char *text, struct wg_devconf *d)
{
	return uapi_parse_set(text, strlen(text), d, errbuf, sizeof(errbuf));
}

static int
is_empty(const struct wg_devconf *d)
{
	static const uint8_t	zero[32];

	return d->flags == 0 && d->npeers == 0 && d->peers == NULL &&
	    memcmp(d->privkey, zero, 32) == 0 && d->port == 0 &&
	    d->fwmark == 0 && d->naddrs == 0;
}

/* Expects failure with ret, an empty out, and msg in err. */
static void
reject(const char *text, int ret, const char *msg, const char *secret)
{
	struct wg_devconf	d;
	int			r;

	errbuf[0] = '\0';
	r = parse(text, &d);
	CHECK(r == ret, "%.60s...: got %d want %d (%s)", text, r, ret, errbuf);
	CHECK(is_empty(&d), "%.60s: out not empty after error", text);
	CHECK(strstr(errbuf, msg) != NULL, "%.60s: err \"%s\" lacks \"%s\"",
	    text, errbuf, msg);
	if (secret != NULL)
		CHECK(strstr(errbuf, secret) == NULL, "secret in err: %s",
		    errbuf);
	wgconf_free(&d);
}

static unsigned int
fake_scope(const char *name)
{
	return strcmp(name, "eth0") == 0 ? 42 : 0;
}

static void
test_buf(void)
{
	struct buf	b;
	size_t		i;
	int		ok = 1;

	buf_init(&b);
	CHECK(b.data == NULL && b.len == 0, "init");
	CHECK(buf_append(&b, "abc", 3) == 0 && b.len == 3 &&
	    strcmp(b.data, "abc") == 0, "append");
	CHECK(buf_printf(&b, "%d-%s", 42, "x") == 0 &&
	    strcmp(b.data, "abc42-x") == 0, "printf");
	for (i = 0; i < 2000; i++)
		if (buf_printf(&b, "%04zu", i) == -1)
			ok = 0;
	CHECK(ok && b.len == 7 + 8000, "grow: len %zu", b.len);
	CHECK(memcmp(b.data + 7, "000000010002", 12) == 0 &&
	    strcmp(b.data + b.len - 4, "1999") == 0, "grow keeps content");
	/* One printf larger than the whole buffer. */
	CHECK(buf_printf(&b, "%5000s", "y") == 0 && b.len == 13007 &&
	    b.data[b.len - 1] == 'y' && b.data[b.len] == '\0', "big printf");
	CHECK(buf_append(&b, NULL, 0) == 0 && b.len == 13007, "empty append");
	buf_reset(&b);
	CHECK(b.len == 0 && b.data != NULL && b.data[0] == '\0', "reset");
	buf_free(&b);
	CHECK(b.data == NULL && b.len == 0 && b.cap == 0, "free");
	buf_free(&b);
}

static void
test_parse_all_keys(void)
{
	struct wg_devconf	 d;
	struct wg_peerconf	*p;
	char			 a[64];
	int			 r;

	r = parse("private_key=" K1 "\n"
	    "listen_port=51820\n"
	    "fwmark=4294967295\n"
	    "replace_peers=true\n"
	    "public_key=" K2 "\n"
	    "update_only=true\n"
	    "preshared_key=" K3 "\n"
	    "endpoint=192.0.2.1:51820\n"
	    "persistent_keepalive_interval=25\n"
	    "replace_allowed_ips=true\n"
	    "allowed_ip=10.0.0.0/8\n"
	    "allowed_ip=-10.1.2.3/32\n"
	    "allowed_ip=fd00::1/64\n"
	    "protocol_version=1\n"
	    "public_key=" K3 "\n"
	    "remove=true\n"
	    "public_key=" K1 "\n"
	    "endpoint=[2001:db8::1]:65535\n"
	    "persistent_keepalive_interval=0\n"
	    "allowed_ip=0.0.0.0/0\n"
	    "allowed_ip=::/0\n", &d);
	CHECK(r == 0, "all keys: %d %s", r, errbuf);
	CHECK(d.flags == (WGDEV_HAS_PRIVKEY | WGDEV_HAS_PORT |
	    WGDEV_HAS_FWMARK | WGDEV_REPLACE_PEERS), "dev flags %x", d.flags);
	CHECK(d.privkey[0] == 0xe8 && d.privkey[31] == 0x7a, "privkey");
	CHECK(d.port == 51820 && d.fwmark == UINT32_MAX, "port, fwmark");
	CHECK(d.npeers == 3, "npeers %zu", d.npeers);
	if (d.npeers != 3) {
		wgconf_free(&d);
		return;
	}
	p = &d.peers[0];
	CHECK(p->pubkey[0] == 0xb8 && p->pubkey[31] == 0x33, "pubkey");
	CHECK(p->flags == (WGPEER_UPDATE_ONLY | WGPEER_HAS_PSK |
	    WGPEER_HAS_ENDPOINT | WGPEER_HAS_KEEPALIVE | WGPEER_REPLACE_AIPS),
	    "peer flags %x", p->flags);
	CHECK(p->psk[0] == 0x58 && p->psk[31] == 0x76, "psk");
	CHECK(p->endpoint.sa.sa_family == AF_INET &&
	    p->endpoint.sin.sin_port == htons(51820) &&
	    p->endpoint.sin.sin_addr.s_addr == htonl(0xc0000201), "v4 ep");
	CHECK(p->keepalive == 25, "keepalive");
	CHECK(p->naips == 3, "naips %zu", p->naips);
	if (p->naips == 3) {
		CHECK(p->aips[0].family == AF_INET && p->aips[0].cidr == 8 &&
		    p->aips[0].addr.bytes[0] == 10 && !p->aips[0].remove,
		    "aip 0");
		CHECK(p->aips[1].remove && p->aips[1].cidr == 32 &&
		    p->aips[1].addr.bytes[3] == 3, "aip 1 (remove)");
		/* Host bits are kept as given. */
		CHECK(p->aips[2].family == AF_INET6 && p->aips[2].cidr == 64 &&
		    p->aips[2].addr.bytes[15] == 1, "aip 2");
	}
	CHECK(d.peers[1].flags == WGPEER_REMOVE, "remove");
	p = &d.peers[2];
	CHECK(p->endpoint.sa.sa_family == AF_INET6 &&
	    p->endpoint.sin6.sin6_port == htons(65535), "v6 ep");
	inet_ntop(AF_INET6, &p->endpoint.sin6.sin6_addr, a, sizeof(a));
	CHECK(strcmp(a, "2001:db8::1") == 0, "v6 ep addr %s", a);
	CHECK((p->flags & WGPEER_HAS_KEEPALIVE) && p->keepalive == 0,
	    "keepalive 0");
	CHECK(p->naips == 2 && p->aips[0].cidr == 0 && p->aips[1].cidr == 0,
	    "default routes");
	wgconf_free(&d);

	/* Empty body: nothing to change. */
	CHECK(parse("", &d) == 0 && is_empty(&d), "empty body");
	wgconf_free(&d);
	/* A zero private key is "clear the key". */
	CHECK(parse("private_key=" KZ "\n", &d) == 0 &&
	    (d.flags & WGDEV_HAS_PRIVKEY), "zero key");
	wgconf_free(&d);
	/* Upper-case hex is hex. */
	CHECK(parse("public_key=E84B5A6D2717C1003A13B431570353DBACA9146CF150"
	    "C5F8575680FEBA52027A\n", &d) == 0 && d.npeers == 1 &&
	    d.peers[0].pubkey[0] == 0xe8, "upper hex");
	wgconf_free(&d);
	/* Ports and marks at their bounds, leading zeros. */
	CHECK(parse("listen_port=0\nfwmark=0\n", &d) == 0 && d.port == 0 &&
	    (d.flags & WGDEV_HAS_FWMARK), "zero port, mark");
	wgconf_free(&d);
	CHECK(parse("listen_port=65535\n", &d) == 0 && d.port == 65535,
	    "max port");
	wgconf_free(&d);
	CHECK(parse("listen_port=00080\n", &d) == 0 && d.port == 80,
	    "leading zeros");
	wgconf_free(&d);
	/* Numeric scope ids. */
	CHECK(parse("public_key=" K1 "\nendpoint=[fe80::1%7]:1\n", &d) == 0 &&
	    d.peers[0].endpoint.sin6.sin6_scope_id == 7, "scope %s", errbuf);
	wgconf_free(&d);
	/* Scope names only through a resolver (wg sends them). */
	reject("public_key=" K1 "\nendpoint=[fe80::1%eth0]:5\n", -EINVAL,
	    "line 2: endpoint: interface names as IPv6 scope are not "
	    "supported", NULL);
	uapi_set_scope_resolver(fake_scope);
	CHECK(parse("public_key=" K1 "\nendpoint=[fe80::1%eth0]:5\n", &d) ==
	    0 && d.peers[0].endpoint.sin6.sin6_scope_id == 42, "scope name");
	wgconf_free(&d);
	reject("public_key=" K1 "\nendpoint=[fe80::1%eth1]:5\n", -EINVAL,
	    "endpoint: not a numeric endpoint", NULL);
	uapi_set_scope_resolver(NULL);
	/* v4-mapped in brackets. */
	CHECK(parse("public_key=" K1 "\nendpoint=[::ffff:1.2.3.4]:9\n",
	    &d) == 0 && d.peers[0].endpoint.sa.sa_family == AF_INET6,
	    "v4 mapped");
	wgconf_free(&d);
	/* The same peer twice is two changes, applied in order. */
	CHECK(parse("public_key=" K1 "\npublic_key=" K1 "\n", &d) == 0 &&
	    d.npeers == 2, "repeated peer");
	wgconf_free(&d);
}

static void
test_rejections(void)
{
	char	*s;
	size_t	 n;

	/* Keys. */
	reject("private_key=" K1 "0\n", -EINVAL, "line 1: private_key", K1);
	reject("private_key=e84b5a6d\n", -EINVAL, "private_key", "e84b5a6d");
	reject("private_key=\n", -EINVAL, "private_key", NULL);
	reject("private_key=g84b5a6d2717c1003a13b431570353dbaca9146cf150c5f8"
	    "575680feba52027a\n", -EINVAL, "private_key", "g84b5a6d");
	reject("private_key= " K1 "\n", -EINVAL, "private_key", K1);
	reject("public_key=" K1 " \n", -EINVAL, "public_key", NULL);
	reject("public_key=" K1 "\npreshared_key=" K2 "x\n", -EINVAL,
	    "line 2: preshared_key", K2);
	/* Unknown keys, wrong levels, syntax. */
	reject("listen_port=1\nfoo=bar\n", -EPROTO, "line 2: foo: unknown",
	    "bar");
	reject("Listen_port=1\n", -EPROTO, "unknown key", NULL);
	reject(" listen_port=1\n", -EPROTO, "unknown key", NULL);
	reject("listen_port =1\n", -EPROTO, "unknown key", NULL);
	reject("endpoint=1.2.3.4:5\n", -EPROTO, "endpoint: peer key before",
	    NULL);
	reject("allowed_ip=1.2.3.4/32\n", -EPROTO, "before public_key", NULL);
	reject("remove=true\n", -EPROTO, "before public_key", NULL);
	reject("protocol_version=1\n", -EPROTO, "before public_key", NULL);
	reject("public_key=" K1 "\nlisten_port=1\n", -EPROTO,
	    "line 2: listen_port: device key after a peer", NULL);
	reject("public_key=" K1 "\nprivate_key=" K2 "\n", -EPROTO,
	    "device key after", K2);
	reject("public_key=" K1 "\nreplace_peers=true\n", -EPROTO,
	    "device key after", NULL);
	reject("listen_port\n", -EPROTO, "line 1: missing '='", NULL);
	reject(K1 "\n", -EPROTO, "missing '='", K1);
	reject("listen_port=1\n\nfwmark=1\n", -EPROTO, "line 2: unexpected "
	    "empty line", NULL);
	reject("listen_port=1", -EPROTO, "truncated", NULL);
	reject("listen_port=1\nfwmark=", -EPROTO, "line 2: truncated", NULL);
	reject("public_key=" K1 "\npreshared_key=" K2, -EPROTO, "truncated",
	    K2);
	reject("=1\n", -EPROTO, "unknown key", NULL);
	reject("set=1\n", -EPROTO, "unknown key", NULL);
	reject("get=1\n", -EPROTO, "unknown key", NULL);
	/* An embedded NUL. */
	{
		struct wg_devconf	d;
		static const char	t[] = "listen_port=1\0\n";

		CHECK(uapi_parse_set(t, sizeof(t) - 1, &d, errbuf,
		    sizeof(errbuf)) == -EPROTO && is_empty(&d), "NUL");
		wgconf_free(&d);
	}
	/* Numbers. */
	reject("listen_port=65536\n", -EINVAL, "listen_port: not a decimal",
	    NULL);
	reject("listen_port=-1\n", -EINVAL, "listen_port", NULL);
	reject("listen_port=+1\n", -EINVAL, "listen_port", NULL);
	reject("listen_port= 1\n", -EINVAL, "listen_port", NULL);
	reject("listen_port=1 \n", -EINVAL, "listen_port", NULL);
	reject("listen_port=0x10\n", -EINVAL, "listen_port", NULL);
	reject("listen_port=\n", -EINVAL, "listen_port", NULL);
	reject("listen_port=99999999999999999999999\n", -EINVAL,
	    "listen_port", NULL);
	reject("fwmark=4294967296\n", -EINVAL, "fwmark", NULL);
	reject("fwmark=18446744073709551616\n", -EINVAL, "fwmark", NULL);
	reject("public_key=" K1 "\npersistent_keepalive_interval=65536\n",
	    -EINVAL, "line 2: persistent_keepalive_interval", NULL);
	reject("public_key=" K1 "\npersistent_keepalive_interval=1.5\n",
	    -EINVAL, "persistent_keepalive_interval", NULL);
	/* Booleans. */
	reject("replace_peers=false\n", -EINVAL, "replace_peers", NULL);
	reject("replace_peers=TRUE\n", -EINVAL, "replace_peers", NULL);
	reject("replace_peers=1\n", -EINVAL, "replace_peers", NULL);
	reject("public_key=" K1 "\nremove=yes\n", -EINVAL, "remove", NULL);
	reject("public_key=" K1 "\nupdate_only=\n", -EINVAL, "update_only",
	    NULL);
	reject("public_key=" K1 "\nreplace_allowed_ips=true \n", -EINVAL,
	    "replace_allowed_ips", NULL);
	reject("public_key=" K1 "\nprotocol_version=2\n", -EINVAL,
	    "protocol_version", NULL);
	reject("public_key=" K1 "\nprotocol_version=01\n", -EINVAL,
	    "protocol_version", NULL);
	/* Endpoints. */
	reject("public_key=" K1 "\nendpoint=1.2.3.4\n", -EINVAL, "endpoint",
	    NULL);
	reject("public_key=" K1 "\nendpoint=1.2.3.4:0\n", -EINVAL, "endpoint",
	    NULL);
	reject("public_key=" K1 "\nendpoint=1.2.3.4:65536\n", -EINVAL,
	    "endpoint", NULL);
	reject("public_key=" K1 "\nendpoint=1.2.3:5\n", -EINVAL, "endpoint",
	    NULL);
	reject("public_key=" K1 "\nendpoint=example.com:5\n", -EINVAL,
	    "endpoint", NULL);
	reject("public_key=" K1 "\nendpoint=2001:db8::1:5\n", -EINVAL,
	    "endpoint", NULL);
	reject("public_key=" K1 "\nendpoint=[2001:db8::1]5\n", -EINVAL,
	    "endpoint", NULL);
	reject("public_key=" K1 "\nendpoint=[2001:db8::1:5\n", -EINVAL,
	    "endpoint", NULL);
	reject("public_key=" K1 "\nendpoint=[1.2.3.4]:5\n", -EINVAL,
	    "endpoint", NULL);
	reject("public_key=" K1 "\nendpoint=[]:5\n", -EINVAL, "endpoint",
	    NULL);
	reject("public_key=" K1 "\nendpoint=[fe80::1%]:5\n", -EINVAL,
	    "endpoint", NULL);
	reject("public_key=" K1 "\nendpoint=[fe80::1%lo]:5\n", -EINVAL,
	    "endpoint", NULL);
	reject("public_key=" K1 "\nendpoint=[fe80::1%1x]:5\n", -EINVAL,
	    "endpoint", NULL);
	reject("public_key=" K1 "\nendpoint=1.2.3.4: 5\n", -EINVAL,
	    "endpoint", NULL);
	/* Allowed IPs. */
	reject("public_key=" K1 "\nallowed_ip=10.0.0.0/33\n", -EINVAL,
	    "line 2: allowed_ip", NULL);
	reject("public_key=" K1 "\nallowed_ip=::/129\n", -EINVAL,
	    "allowed_ip", NULL);
	reject("public_key=" K1 "\nallowed_ip=10.0.0.0\n", -EINVAL,
	    "allowed_ip", NULL);
	reject("public_key=" K1 "\nallowed_ip=10.0.0.0/\n", -EINVAL,
	    "allowed_ip", NULL);
	reject("public_key=" K1 "\nallowed_ip=10.0.0.0/-1\n", -EINVAL,
	    "allowed_ip", NULL);
	reject("public_key=" K1 "\nallowed_ip=10.0.0.0/+8\n", -EINVAL,
	    "allowed_ip", NULL);
	reject("public_key=" K1 "\nallowed_ip=10.0.0/8\n", -EINVAL,
	    "allowed_ip", NULL);
	reject("public_key=" K1 "\nallowed_ip=--10.0.0.0/8\n", -EINVAL,
	    "allowed_ip", NULL);
	reject("public_key=" K1 "\nallowed_ip=+10.0.0.0/8\n", -EINVAL,
	    "allowed_ip", NULL);
	reject("public_key=" K1 "\nallowed_ip=\n", -EINVAL, "allowed_ip",
	    NULL);
	reject("public_key=" K1 "\nallowed_ip= 10.0.0.0/8\n", -EINVAL,
	    "allowed_ip", NULL);
	/* An over-long line, and the longest line that is accepted. */
	n = UAPI_MAX_LINE + 2;
	s = malloc(n + 1);
	memset(s, 'a', n);
	memcpy(s, "foo=", 4);
	s[n - 1] = '\n';
	s[n] = '\0';
	reject(s, -EPROTO, "line 1: line longer than", NULL);
	s[n - 2] = '\n';
	s[n - 1] = '\0';
	reject(s, -EPROTO, "line 1: foo: unknown key", NULL);
	/* Unterminated and over-long. */
	memset(s, 'a', n);
	s[n] = '\0';
	reject(s, -EPROTO, "longer than", NULL);
	free(s);
	/* Unknown keys are printed cut short and printable. */
	reject("\x01\x7f""bc=1\n", -EPROTO, "line 1: ??bc: unknown", NULL);
	reject("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa=1\n",
	    -EPROTO, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...: unknown",
	    NULL);
	/* A tiny error buffer is not overrun; NULL is fine too. */
	{
		struct wg_devconf	d;
		char			tiny[5];

		CHECK(uapi_parse_set("x\n", 2, &d, tiny, sizeof(tiny)) ==
		    -EPROTO && strlen(tiny) == 4, "tiny err");
		wgconf_free(&d);
		CHECK(uapi_parse_set("x\n", 2, &d, NULL, 0) == -EPROTO,
		    "NULL err");
		wgconf_free(&d);
	}
}

/* N allowed_ip lines for one peer, half IPv4, half IPv6, into b. */
static int
many_aips_text(struct buf *b, size_t n)
{
	size_t	i;
	int	r, ok = 1;

	buf_printf(b, "public_key=%s\nreplace_allowed_ips=true\n", K1);
	for (i = 0; i < n; i++) {
		if (i % 2)
			r = buf_printf(b, "allowed_ip=10.%zu.%zu.0/24\n",
			    i >> 8 & 255, i & 255);
		else
			r = buf_printf(b, "allowed_ip=fd00:%zx:%zx:1::/64\n",
			    i >> 16, i & 0xffff);
		if (r == -1)
			ok = 0;
	}
	return ok;
}

/* Parses b into d; the CPU time it took, in seconds. */
static double
many_aips_parse(const struct buf *b, struct wg_devconf *d, int *r)
{
	struct timespec	t0, t1;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
	*r = uapi_parse_set(b->data, b->len, d, errbuf, sizeof(errbuf));
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t1);
	return (double)(t1.tv_sec - t0.tv_sec) +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
}

/*
 * 100,000 allowed IPs for one peer parse, and format back to the same
 * text. Parsing must stay linear: 100k lines may take at most 40 times
 * the CPU of 10k (linear is 10-16 here, quadratic 100), a ratio, not a
 * time limit so that neither a loaded machine nor a sanitizer build
 * (which failed a 0.5 s limit at 1.07 s under load) decides it. The
 * smallest of three 10k runs is the base.
 */
static void
test_many_aips(void)
{
	struct wg_devconf	d;
	struct buf		b, b2;
	double			dt, t10k = 0, t;
	int			r, k;

	buf_init(&b);
	CHECK(many_aips_text(&b, 10000), "build 10k");
	for (k = 0; k < 3; k++) {
		t = many_aips_parse(&b, &d, &r);
		CHECK(r == 0 && d.npeers == 1 && d.peers[0].naips == 10000,
		    "10k aips: %d %s", r, errbuf);
		wgconf_free(&d);
		if (k == 0 || t < t10k)
			t10k = t;
	}
	buf_reset(&b);
	CHECK(many_aips_text(&b, 100000), "build 100k");
	dt = many_aips_parse(&b, &d, &r);
	CHECK(r == 0 && d.npeers == 1 && d.peers[0].naips == 100000,
	    "100k aips: %d %s", r, errbuf);
	CHECK(dt <= 40 * t10k, "100k aips: %.3f s of CPU, 10k: %.4f s "
	    "(%.1fx; linear 10x)", dt, t10k, t10k > 0 ? dt / t10k : 0);
	printf("allowed_ip lines parsed: 10000 in %.4f s, 100000 in %.3f s "
	    "of CPU\n", t10k, dt);

	/* And they format back to the same text. */
	if (r == 0) {
		buf_init(&b2);
		CHECK(uapi_format_set(&d, &b2, 1) == 0, "format 100k");
		CHECK(b.len == b2.len && memcmp(b.data, b2.data, b.len) == 0,
		    "100k format matches");
		buf_free(&b2);
	}
	wgconf_free(&d);
	buf_free(&b);
}

/* Field by field, what parse sets. */
static int
devconf_equal(const struct wg_devconf *a, const struct wg_devconf *b)
{
	const struct wg_peerconf	*p, *q;
	size_t				 i, j;

	if (a->flags != b->flags || a->port != b->port ||
	    a->fwmark != b->fwmark || a->npeers != b->npeers ||
	    memcmp(a->privkey, b->privkey, 32) != 0)
		return 0;
	for (i = 0; i < a->npeers; i++) {
		p = &a->peers[i];
		q = &b->peers[i];
		if (memcmp(p->pubkey, q->pubkey, 32) != 0 ||
		    p->flags != q->flags || p->keepalive != q->keepalive ||
		    memcmp(p->psk, q->psk, 32) != 0 || p->naips != q->naips ||
		    memcmp(&p->endpoint, &q->endpoint,
		    sizeof(p->endpoint)) != 0)
			return 0;
		for (j = 0; j < p->naips; j++)
			if (p->aips[j].family != q->aips[j].family ||
			    p->aips[j].cidr != q->aips[j].cidr ||
			    p->aips[j].remove != q->aips[j].remove ||
			    memcmp(p->aips[j].addr.bytes, q->aips[j].addr.bytes,
			    16) != 0)
				return 0;
	}
	return 1;
}

static void
test_round_trip(void)
{
	static const char	*texts[] = {
		"private_key=" K1 "\nlisten_port=1\nfwmark=7\n"
		"replace_peers=true\n"
		"public_key=" K2 "\nremove=true\n"
		"public_key=" K3 "\nupdate_only=true\npreshared_key=" K1 "\n"
		"endpoint=[2001:db8::1%3]:51820\n"
		"persistent_keepalive_interval=0\n"
		"replace_allowed_ips=true\nallowed_ip=10.0.0.1/8\n"
		"allowed_ip=-::/0\n"
		"public_key=" K1 "\nendpoint=1.2.3.4:5\n",
		"",
		"listen_port=0\n",
		"public_key=" K2 "\npreshared_key=" KZ "\n",
	};
	struct wg_devconf	a, b;
	struct buf		t;
	size_t			i;
	int			r;

	for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		buf_init(&t);
		r = parse(texts[i], &a);
		CHECK(r == 0, "rt %zu parse: %s", i, errbuf);
		CHECK(uapi_format_set(&a, &t, 1) == 0, "rt %zu format", i);
		CHECK(t.len == strlen(texts[i]) &&
		    memcmp(t.data ? t.data : "", texts[i], t.len) == 0,
		    "rt %zu text: %s", i, t.data ? t.data : "");
		r = uapi_parse_set(t.data ? t.data : "", t.len, &b, errbuf,
		    sizeof(errbuf));
		CHECK(r == 0 && devconf_equal(&a, &b), "rt %zu equal", i);
		wgconf_free(&b);
		/* Without the private key. */
		buf_reset(&t);
		CHECK(uapi_format_set(&a, &t, 0) == 0 &&
		    (t.data == NULL || strstr(t.data, "private_key") == NULL),
		    "rt %zu no privkey", i);
		buf_free(&t);
		wgconf_free(&a);
	}
}

static void
test_fmt(void)
{
	struct uapi_peer_info	pi;
	struct buf		b;
	uint8_t			a4[4] = { 10, 0, 0, 0 };
	uint8_t			a6[16] = { 0xfd, 0, [15] = 1 };
	const char		*want;

	buf_init(&b);
	CHECK(uapi_fmt_device(&b, 51820, 0) == 0 &&
	    strcmp(b.data, "listen_port=51820\n") == 0, "dev: %s", b.data);
	buf_reset(&b);
	CHECK(uapi_fmt_device(&b, 0, 0x1234) == 0 &&
	    strcmp(b.data, "listen_port=0\nfwmark=4660\n") == 0, "dev mark");
	buf_reset(&b);

	memset(&pi, 0, sizeof(pi));
	memset(pi.pubkey, 0xab, 32);
	memset(pi.psk, 0x01, 32);
	pi.has_psk = 1;
	pi.endpoint.sin.sin_family = AF_INET;
	pi.endpoint.sin.sin_port = htons(51820);
	pi.endpoint.sin.sin_addr.s_addr = htonl(0xc0000201);
	pi.last_handshake_sec = 1700000000;
	pi.last_handshake_nsec = 123456789;
	pi.rx_bytes = 18446744073709551615ULL;
	pi.tx_bytes = 42;
	pi.keepalive = 25;
	CHECK(uapi_fmt_peer(&b, &pi) == 0, "peer");
	want = "public_key=abababababababababababababababababababababababab"
	    "abababababababab\n"
	    "preshared_key=010101010101010101010101010101010101010101010101"
	    "0101010101010101\n"
	    "protocol_version=1\n"
	    "endpoint=192.0.2.1:51820\n"
	    "last_handshake_time_sec=1700000000\n"
	    "last_handshake_time_nsec=123456789\n"
	    "tx_bytes=42\n"
	    "rx_bytes=18446744073709551615\n"
	    "persistent_keepalive_interval=25\n";
	CHECK(strcmp(b.data, want) == 0, "peer text: %s", b.data);
	buf_reset(&b);

	pi.has_psk = 0;
	memset(&pi.endpoint, 0, sizeof(pi.endpoint));
	CHECK(uapi_fmt_peer(&b, &pi) == 0 &&
	    strstr(b.data, "preshared_key") == NULL &&
	    strstr(b.data, "endpoint") == NULL, "peer without psk, ep");
	buf_reset(&b);

	pi.endpoint.sin6.sin6_family = AF_INET6;
	pi.endpoint.sin6.sin6_port = htons(1);
	pi.endpoint.sin6.sin6_addr.s6_addr[0] = 0xfe;
	pi.endpoint.sin6.sin6_addr.s6_addr[1] = 0x80;
	pi.endpoint.sin6.sin6_addr.s6_addr[15] = 1;
	pi.endpoint.sin6.sin6_scope_id = 2;
	CHECK(uapi_fmt_peer(&b, &pi) == 0 &&
	    strstr(b.data, "\nendpoint=[fe80::1%2]:1\n") != NULL, "v6 scope");
	buf_reset(&b);
	pi.endpoint.sin6.sin6_scope_id = 0;
	CHECK(uapi_fmt_peer(&b, &pi) == 0 &&
	    strstr(b.data, "\nendpoint=[fe80::1]:1\n") != NULL, "v6");
	buf_reset(&b);

	CHECK(uapi_fmt_aip(&b, AF_INET, a4, 8) == 0 &&
	    uapi_fmt_aip(&b, AF_INET6, a6, 128) == 0 &&
	    strcmp(b.data, "allowed_ip=10.0.0.0/8\nallowed_ip=fd00::1/128\n")
	    == 0, "aips: %s", b.data);
	CHECK(uapi_fmt_aip(&b, 99, a4, 8) == -1, "bad family");
	buf_reset(&b);
	CHECK(uapi_fmt_errno(&b, 0) == 0 && strcmp(b.data, "errno=0\n\n") == 0,
	    "errno 0");
	buf_reset(&b);
	CHECK(uapi_fmt_errno(&b, -EINVAL) == 0 && uapi_fmt_errno(&b, EPROTO)
	    == 0 && strcmp(b.data, "errno=-22\n\nerrno=-71\n\n") == 0,
	    "errno: %s", b.data);
	buf_free(&b);

	/* The get formatter's peer text is valid set text, minus the
	 * read-only keys. */
}

int
main(void)
{
	test_buf();
	test_parse_all_keys();
	test_rejections();
	test_many_aips();
	test_round_trip();
	test_fmt();
	return test_done();
}
