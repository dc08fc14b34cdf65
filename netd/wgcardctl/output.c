/*
 * output.c: wgcardctl's output: for people (show, card status), as JSON
 * (show --json, the schema in docs/wgcardctl-show.schema.json) and in the
 * Prometheus text format (show --prometheus, for node_exporter's textfile
 * collector). The daemon's answers are untrusted input here: every string
 * is escaped for the format it goes to, and numbers are printed only when
 * they are numbers.
 */
#include <sys/types.h>

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "encoding.h"
#include "wgcardctl.h"

/* The daemon's answers. */

void
answer_free(struct answer *a)
{
	size_t	i;

	for (i = 0; i < a->n; i++) {
		free(a->keys[i]);
		free(a->vals[i]);
	}
	free(a->keys);
	free(a->vals);
	free(a->error);
	memset(a, 0, sizeof(*a));
}

const char *
answer_get(const struct answer *a, const char *key)
{
	size_t	i;

	for (i = 0; i < a->n; i++)
		if (strcmp(a->keys[i], key) == 0)
			return a->vals[i];
	return NULL;
}

static int
answer_add(struct answer *a, const char *k, const char *v)
{
	char	**nk, **nv;

	if ((nk = realloc(a->keys, (a->n + 1) * sizeof(*nk))) == NULL)
		return -1;
	a->keys = nk;
	if ((nv = realloc(a->vals, (a->n + 1) * sizeof(*nv))) == NULL)
		return -1;
	a->vals = nv;
	if ((a->keys[a->n] = strdup(k)) == NULL)
		return -1;
	if ((a->vals[a->n] = strdup(v)) == NULL) {
		free(a->keys[a->n]);
		return -1;
	}
	a->n++;
	return 0;
}

int
answer_line(struct answer *a, char *line)
{
	char	*eq, *p;
	int	 st = 0;

	if ((eq = strchr(line, '=')) == NULL)
		return 0;
	*eq++ = '\0';
	if (strcmp(line, "end") == 0) {
		/* 0 or an errno: anything else is no answer of a daemon. */
		for (p = eq; *p >= '0' && *p <= '9' && st <= ANSWER_STATUS_MAX;
		    p++)
			st = st * 10 + (*p - '0');
		if (p == eq || *p != '\0' || st > ANSWER_STATUS_MAX ||
		    (eq[0] == '0' && eq[1] != '\0'))
			st = EPROTO;
		a->status = st;
		return 1;
	}
	if (strcmp(line, "error") == 0) {
		free(a->error);
		if ((a->error = strdup(eq)) == NULL)
			return -1;
		return 0;
	}
	return answer_add(a, line, eq);
}

/*
 * v made safe for a terminal: printable ASCII and well-formed UTF-8 other
 * than the C1 controls are kept, other bytes written as \xNN, a long
 * value cut. The result lives until the fourth call after.
 */
const char *
output_vis(const char *v)
{
	static char		 bufs[4][1024];
	static unsigned		 next;
	const unsigned char	*u = (const unsigned char *)v;
	char			*b = bufs[next++ % 4];
	size_t			 n = strlen(v), i = 0, o = 0, l;

	while (i < n && o + 8 < sizeof(bufs[0])) {
		if (u[i] >= 0x20 && u[i] < 0x7f && u[i] != '\\')
			b[o++] = (char)u[i++];
		else if (u[i] >= 0x80 && !(u[i] == 0xc2 && i + 1 < n &&
		    u[i + 1] < 0xa0) &&
		    (l = utf8_seq_len(u + i, n - i)) != 0) {
			memcpy(b + o, u + i, l);
			o += l;
			i += l;
		} else
			o += (size_t)snprintf(b + o, sizeof(bufs[0]) - o,
			    "\\x%02x", u[i++]);
	}
	if (i < n)
		o += (size_t)snprintf(b + o, sizeof(bufs[0]) - o, "...");
	b[o] = '\0';
	return b;
}

/*
 * A decimal unsigned integer that fits 64 bits (what the daemon sends) in
 * *out: 1, or 0 if v is not one (a sign, leading zeros, other bytes).
 */
static int
output_uint(const char *v, unsigned long long *out)
{
	unsigned long long	 n = 0;
	const char		*p;

	if (v == NULL || *v == '\0' || (v[0] == '0' && v[1] != '\0'))
		return 0;
	for (p = v; *p; p++) {
		if (*p < '0' || *p > '9' ||
		    n > (ULLONG_MAX - (unsigned)(*p - '0')) / 10)
			return 0;
		n = n * 10 + (unsigned)(*p - '0');
	}
	*out = n;
	return 1;
}

/* How long ago the Unix time v was ("never" for 0). */
static void
output_ago(FILE *f, const char *v)
{
	unsigned long long	t, now = (unsigned long long)time(NULL), d;

	if (!output_uint(v, &t)) {
		fprintf(f, "unknown\n");
		return;
	}
	if (t == 0) {
		fprintf(f, "never\n");
		return;
	}
	d = now > t ? now - t : 0;
	if (d >= 3600)
		fprintf(f, "%llu hours, ", d / 3600);
	if (d >= 60)
		fprintf(f, "%llu minutes, ", (d % 3600) / 60);
	fprintf(f, "%llu seconds ago\n", d % 60);
}

/*
 * Does the card status touch line ("decrypt on (fixed)", "decrypt off",
 * "no button", ...) say that a DECIPHER waits for a touch?
 */
static int
output_touch_on(const char *v)
{
	return strcmp(v, "decrypt on") == 0 ||
	    strncmp(v, "decrypt on (", 12) == 0;
}

/* The key state line of show, from the card status answer. */
static void
output_key_line(FILE *f, const struct answer *st)
{
	const char	*v;

	if (st->n == 0)
		return;
	fprintf(f, "  key backend: %s",
	    (v = answer_get(st, "backend")) != NULL ? output_vis(v) : "?");
	if ((v = answer_get(st, "state")) != NULL)
		fprintf(f, ", %s", output_vis(v));
	if ((v = answer_get(st, "serial")) != NULL)
		fprintf(f, ", card %s", output_vis(v));
	if ((v = answer_get(st, "pin_retries")) != NULL)
		fprintf(f, ", PIN retries %s", output_vis(v));
	fprintf(f, "\n");
}

/* v for the terminal, or "?" when the daemon did not send it. */
static const char *
output_vis_or(const char *v)
{
	return v != NULL ? output_vis(v) : "?";
}

/* One peer of show, its fields in a fixed order whatever the answer's. */
static void
output_show_peer(FILE *f, const struct show_peer *p)
{
	size_t	j;

	fprintf(f, "\npeer: %s\n", output_vis(p->pub));
	if (p->endpoint != NULL)
		fprintf(f, "  endpoint: %s\n", output_vis(p->endpoint));
	for (j = 0; j < p->naips; j++)
		fprintf(f, j == 0 ? "  allowed ips: %s" : ", %s",
		    output_vis(p->aips[j]));
	if (p->naips > 0)
		fprintf(f, "\n");
	if (p->latest_handshake != NULL) {
		fprintf(f, "  latest handshake: ");
		output_ago(f, p->latest_handshake);
	}
	if (p->rx_bytes != NULL || p->tx_bytes != NULL) {
		fprintf(f, "  transfer: %s B received, ",
		    output_vis_or(p->rx_bytes));
		fprintf(f, "%s B sent\n", output_vis_or(p->tx_bytes));
	}
	if (p->persistent_keepalive != NULL &&
	    strcmp(p->persistent_keepalive, "0") != 0)
		fprintf(f, "  persistent keepalive: every %s seconds\n",
		    output_vis(p->persistent_keepalive));
	if (p->drops != NULL && strcmp(p->drops, "0") != 0)
		fprintf(f, "  dropped: %s packets\n", output_vis(p->drops));
}

/*
 * The causes of dropped handshake messages, as the daemon's show answer
 * has them (drop_CAUSE=N); wgcardctl(8) says what each means.
 */
static const char *const output_drop_causes[] = {
	"no_key", "bad_mac1", "ratelimited", "cookie_ratelimited",
	"queue_full", "cookie_no_buffer", "send_no_buffer", "send_failed",
	"control_queue_full", "under_load", "broker_busy",
};
#define OUTPUT_NDROP_CAUSES \
	(sizeof(output_drop_causes) / sizeof(output_drop_causes[0]))

/* The answer's value for cause c (NULL when it has none). */
static const char *
output_drop_get(const struct answer *a, size_t c)
{
	char	key[64];

	snprintf(key, sizeof(key), "drop_%s", output_drop_causes[c]);
	return answer_get(a, key);
}

/* " (cause N, ...)" for the causes that are not 0, ending the line. */
static void
output_drop_causes_line(FILE *f, const struct answer *a)
{
	const char	*v;
	size_t		 c;
	int		 n = 0;

	for (c = 0; c < OUTPUT_NDROP_CAUSES; c++)
		if ((v = output_drop_get(a, c)) != NULL && strcmp(v, "0") != 0)
			fprintf(f, "%s%s %s", n++ ? ", " : " (",
			    output_drop_causes[c], output_vis(v));
	fprintf(f, "%s\n", n ? ")" : "");
}

/*
 * show for people: the interface's lines as the daemon sent them (up to
 * the first peer), then each peer. Every line is whole whatever the
 * daemon sent, missing, repeated or out of order.
 */
void
output_show(FILE *f, const struct ctl_iface *ifc)
{
	const struct answer	*a = &ifc->show;
	struct show_peer	*peers;
	unsigned long long	 n;
	ssize_t			 np, j;
	size_t			 i;

	for (i = 0; i < a->n && strcmp(a->keys[i], "peer") != 0; i++) {
		const char	*k = a->keys[i], *v = output_vis(a->vals[i]);

		if (strcmp(k, "interface") == 0)
			fprintf(f, "interface: %s\n", v);
		else if (strcmp(k, "public_key") == 0)
			fprintf(f, "  public key: %s\n"
			    "    (wg show has no public key line: the private "
			    "key is kept out of the process it asks)\n", v);
		else if (strcmp(k, "listen_port") == 0)
			fprintf(f, "  listening port: %s\n", v);
		else if (strcmp(k, "fwmark") == 0 &&
		    output_uint(a->vals[i], &n) && n != 0)
			fprintf(f, "  fwmark: 0x%llx\n", n);
		else if (strcmp(k, "key_ready") == 0) {
			fprintf(f, "  key: %s\n", strcmp(v, "1") == 0 ?
			    "ready" :
			    "not available (no key, or card locked/absent)");
			output_key_line(f, &ifc->status);
		} else if (strcmp(k, "forwarder") == 0) {
			fprintf(f, "  forwarder: %s backend, ", v);
			fprintf(f, "offloads %s, ",
			    output_vis_or(answer_get(a, "offloads")));
			fprintf(f, "%s crypto workers\n",
			    output_vis_or(answer_get(a, "crypto_workers")));
		} else if (strcmp(k, "under_load") == 0)
			fprintf(f, "  cookie mode: %s\n", strcmp(v, "1") == 0 ?
			    "on (under load)" : "off");
		else if (strcmp(k, "broker_pending") == 0) {
			fprintf(f, "  key broker: %s pending, ", v);
			fprintf(f, "%s queued\n",
			    output_vis_or(answer_get(a, "broker_queued")));
		} else if (strcmp(k, "cookie_replies") == 0)
			fprintf(f, "  cookie replies sent: %s\n", v);
		else if (strcmp(k, "handshakes_dropped") == 0) {
			fprintf(f, "  handshakes dropped: %s", v);
			output_drop_causes_line(f, a);
		}
	}
	if ((np = show_peers(a, &peers)) == -1) {
		fprintf(stderr, "wgcardctl: out of memory\n");
		return;
	}
	for (j = 0; j < np; j++)
		output_show_peer(f, &peers[j]);
	show_peers_free(peers, np);
}

void
output_card_status(FILE *f, const char *ifname, const struct answer *a)
{
	static const struct {
		const char	*key, *label;
	} rows[] = {
		{ "backend", "backend" },
		{ "state", "state" },
		{ "reason", "reason" },
		{ "reader", "reader" },
		{ "serial", "serial" },
		{ "fingerprint", "fingerprint" },
		{ "public_key", "public key" },
		{ "pin_retries", "PIN retries left" },
		{ "pin_retries_max", "PIN retries maximum" },
		{ "touch", "touch" },
		{ "operations", "operations" },
		{ "last_latency_us", "last latency (us)" },
		{ "queued", "queued" },
	};
	const char	*v;
	size_t		 i;

	fprintf(f, "interface: %s\n", output_vis(ifname));
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		if ((v = answer_get(a, rows[i].key)) != NULL)
			fprintf(f, "  %s: %s\n", rows[i].label, output_vis(v));
}

void
output_kv(FILE *f, const struct answer *a)
{
	size_t	i;

	for (i = 0; i < a->n; i++) {
		fprintf(f, "%s: ", output_vis(a->keys[i]));
		fprintf(f, "%s\n", output_vis(a->vals[i]));
	}
}

/* ---------------------------------------------------------------- JSON */

void
output_json_string(FILE *f, const char *s)
{
	char	 small[256], *buf = small;
	size_t	 n = strlen(s), len;

	if ((len = json_quote(small, sizeof(small), s, n)) >= sizeof(small)) {
		if ((buf = malloc(len + 1)) == NULL) {
			fputs("\"\"", f);	/* still JSON */
			return;
		}
		json_quote(buf, len + 1, s, n);
	}
	fwrite(buf, 1, len, f);
	if (buf != small)
		free(buf);
}

/* "name":N, N the number in v or 0 if v is none. */
static void
output_json_uint(FILE *f, const char *name, const char *v, int comma)
{
	unsigned long long	n;

	if (!output_uint(v, &n))
		n = 0;
	fprintf(f, "%s", comma ? "," : "");
	output_json_string(f, name);
	fprintf(f, ":%llu", n);
}

static void
output_json_str_or_null(FILE *f, const char *name, const char *v, int comma)
{
	fprintf(f, "%s", comma ? "," : "");
	output_json_string(f, name);
	fputc(':', f);
	if (v != NULL)
		output_json_string(f, v);
	else
		fputs("null", f);
}

static void
output_json_bool(FILE *f, const char *name, const char *v, int comma)
{
	fprintf(f, "%s", comma ? "," : "");
	output_json_string(f, name);
	fprintf(f, ":%s", v != NULL && strcmp(v, "1") == 0 ? "true" : "false");
}

static void
output_json_key(FILE *f, const struct answer *st)
{
	unsigned long long	n;

	fputs(",\"key\":{", f);
	output_json_str_or_null(f, "backend", answer_get(st, "backend"), 0);
	output_json_str_or_null(f, "state", answer_get(st, "state"), 1);
	output_json_str_or_null(f, "reader", answer_get(st, "reader"), 1);
	output_json_str_or_null(f, "serial", answer_get(st, "serial"), 1);
	output_json_str_or_null(f, "fingerprint",
	    answer_get(st, "fingerprint"), 1);
	if (output_uint(answer_get(st, "pin_retries"), &n))
		fprintf(f, ",\"pin_retries\":%llu", n);
	else
		fputs(",\"pin_retries\":null", f);
	output_json_str_or_null(f, "touch", answer_get(st, "touch"), 1);
	output_json_uint(f, "operations", answer_get(st, "operations"), 1);
	output_json_uint(f, "last_latency_us",
	    answer_get(st, "last_latency_us"), 1);
	output_json_uint(f, "queued", answer_get(st, "queued"), 1);
	fputc('}', f);
}

static const struct {
	const char	*key;
	size_t		 off;
} show_peer_fields[] = {
	{ "endpoint", offsetof(struct show_peer, endpoint) },
	{ "latest_handshake", offsetof(struct show_peer, latest_handshake) },
	{ "rx_bytes", offsetof(struct show_peer, rx_bytes) },
	{ "tx_bytes", offsetof(struct show_peer, tx_bytes) },
	{ "persistent_keepalive",
	    offsetof(struct show_peer, persistent_keepalive) },
	{ "preshared_key", offsetof(struct show_peer, preshared_key) },
	{ "drops", offsetof(struct show_peer, drops) },
};

/* The field of p named key (NULL if not given). */
const char *
show_peer_get(const struct show_peer *p, const char *key)
{
	size_t	i;

	for (i = 0; i < sizeof(show_peer_fields) /
	    sizeof(show_peer_fields[0]); i++)
		if (strcmp(show_peer_fields[i].key, key) == 0)
			return *(const char * const *)(const void *)
			    ((const char *)p + show_peer_fields[i].off);
	return NULL;
}

void
show_peers_free(struct show_peer *v, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		free(v[i].aips);
	free(v);
}

/* The peers of a in *out; their number, or -1 (out of memory). */
ssize_t
show_peers(const struct answer *a, struct show_peer **out)
{
	struct show_peer	*v = NULL, *p = NULL, *nv;
	const char		**naips, **field;
	size_t			 n = 0, i, j;

	for (i = 0; i < a->n; i++) {
		const char	*k = a->keys[i], *val = a->vals[i];

		if (strcmp(k, "peer") == 0) {
			for (j = 0; j < n; j++)
				if (strcmp(v[j].pub, val) == 0)
					break;
			if (j < n) {
				p = NULL;	/* a second time: skipped */
				continue;
			}
			if ((nv = realloc(v, (n + 1) * sizeof(*v))) == NULL)
				goto fail;
			v = nv;
			p = &v[n++];
			memset(p, 0, sizeof(*p));
			p->pub = val;
			continue;
		}
		if (p == NULL)
			continue;
		if (strcmp(k, "allowed_ip") == 0) {
			if ((naips = realloc(p->aips, (p->naips + 1) *
			    sizeof(*naips))) == NULL)
				goto fail;
			p->aips = naips;
			p->aips[p->naips++] = val;
			continue;
		}
		for (j = 0; j < sizeof(show_peer_fields) /
		    sizeof(show_peer_fields[0]); j++) {
			if (strcmp(show_peer_fields[j].key, k) != 0)
				continue;
			field = (const char **)(void *)((char *)p +
			    show_peer_fields[j].off);
			if (*field == NULL)
				*field = val;
			break;
		}
	}
	*out = v;
	return (ssize_t)n;
 fail:
	show_peers_free(v, n);
	return -1;
}

int
show_peer_stale(const struct show_peer *p, time_t now, long long max_age)
{
	unsigned long long	t;

	if (p->endpoint == NULL)
		return 0;
	if (!output_uint(p->latest_handshake, &t) || t == 0 ||
	    t > (unsigned long long)LLONG_MAX)
		return 1;
	return (long long)t < (long long)now - max_age;
}

static void
output_json_peers(FILE *f, const struct answer *a)
{
	struct show_peer	*v, *p;
	ssize_t			 n, i;
	size_t			 j;

	fputs(",\"peers\":[", f);
	if ((n = show_peers(a, &v)) == -1) {
		fprintf(stderr, "wgcardctl: out of memory\n");
		n = 0;
		v = NULL;
	}
	for (i = 0; i < n; i++) {
		p = &v[i];
		fprintf(f, "%s{", i ? "," : "");
		output_json_str_or_null(f, "public_key", p->pub, 0);
		output_json_str_or_null(f, "endpoint", p->endpoint, 1);
		fputs(",\"allowed_ips\":[", f);
		for (j = 0; j < p->naips; j++) {
			if (j > 0)
				fputc(',', f);
			output_json_string(f, p->aips[j]);
		}
		fputc(']', f);
		output_json_uint(f, "latest_handshake", p->latest_handshake,
		    1);
		output_json_uint(f, "rx_bytes", p->rx_bytes, 1);
		output_json_uint(f, "tx_bytes", p->tx_bytes, 1);
		output_json_uint(f, "persistent_keepalive",
		    p->persistent_keepalive, 1);
		fprintf(f, ",\"preshared_key\":%s", p->preshared_key != NULL &&
		    strcmp(p->preshared_key, "yes") == 0 ? "true" : "false");
		output_json_uint(f, "drops", p->drops, 1);
		fputc('}', f);
	}
	fputc(']', f);
	show_peers_free(v, n);
}

void
output_json(FILE *f, const struct ctl_iface *ifcs, size_t n)
{
	const struct answer	*a;
	size_t			 i, c;

	fputs("{\"schema_version\":1,\"interfaces\":[", f);
	for (i = 0; i < n; i++) {
		a = &ifcs[i].show;
		fprintf(f, "%s{", i ? "," : "");
		output_json_string(f, "interface");
		fputc(':', f);
		output_json_string(f, ifcs[i].name);
		if (ifcs[i].error != NULL) {
			fputs(",\"error\":", f);
			output_json_string(f, ifcs[i].error);
			fputc('}', f);
			continue;
		}
		output_json_str_or_null(f, "public_key",
		    answer_get(a, "public_key"), 1);
		output_json_uint(f, "listen_port", answer_get(a,
		    "listen_port"), 1);
		output_json_uint(f, "fwmark", answer_get(a, "fwmark"), 1);
		output_json_bool(f, "key_ready", answer_get(a, "key_ready"),
		    1);
		output_json_key(f, &ifcs[i].status);
		fputs(",\"forwarder\":{", f);
		output_json_str_or_null(f, "backend", answer_get(a,
		    "forwarder"), 0);
		output_json_str_or_null(f, "offloads", answer_get(a,
		    "offloads"), 1);
		output_json_uint(f, "crypto_workers", answer_get(a,
		    "crypto_workers"), 1);
		fputs("},\"handshake\":{", f);
		output_json_bool(f, "under_load", answer_get(a, "under_load"),
		    0);
		output_json_uint(f, "broker_pending", answer_get(a,
		    "broker_pending"), 1);
		output_json_uint(f, "broker_queued", answer_get(a,
		    "broker_queued"), 1);
		output_json_uint(f, "cookie_replies", answer_get(a,
		    "cookie_replies"), 1);
		output_json_uint(f, "handshakes_dropped", answer_get(a,
		    "handshakes_dropped"), 1);
		fputs(",\"drops_by_cause\":{", f);
		for (c = 0; c < OUTPUT_NDROP_CAUSES; c++)
			output_json_uint(f, output_drop_causes[c],
			    output_drop_get(a, c), c > 0);
		fputs("}}", f);
		output_json_peers(f, a);
		fputc('}', f);
	}
	fputs("]}\n", f);
}

/* ---------------------------------------------------------- Prometheus */

/*
 * A label value: double quote and newline escaped as the text format has
 * them; other control bytes, bytes that are not UTF-8 and the backslash
 * itself written as the text \xNN (escaped: \\xNN), so that distinct
 * values stay distinct series (one value twice makes a collector refuse
 * the whole file).
 */
static void
output_prom_label(FILE *f, const char *name, const char *v, int comma)
{
	const unsigned char	*u = (const unsigned char *)v;
	size_t			 n = strlen(v), i, l;

	fprintf(f, "%s%s=\"", comma ? "," : "", name);
	for (i = 0; i < n; ) {
		if (u[i] == '"') {
			fputs("\\\"", f);
			i++;
		} else if (u[i] == '\n') {
			fputs("\\n", f);
			i++;
		} else if (u[i] >= 0x20 && u[i] < 0x7f && u[i] != '\\')
			fputc(u[i++], f);
		else if (u[i] >= 0x80 && (l = utf8_seq_len(u + i, n - i)) != 0) {
			fwrite(u + i, 1, l, f);
			i += l;
		} else
			fprintf(f, "\\\\x%02x", u[i++]);
	}
	fputc('"', f);
}

struct prom_metric {
	const char	*name, *type, *help;
	const char	*key;		/* in the show answer (per peer: peer) */
	int		 per_peer;
	int		 from_status;	/* in the card status answer */
};

static const struct prom_metric prom_metrics[] = {
	{ "wgcard_up", "gauge", "1 if the daemon answered", NULL, 0, 0 },
	{ "wgcard_key_ready", "gauge",
	    "1 if the interface has a usable private key (card ready)",
	    "key_ready", 0, 0 },
	{ "wgcard_card_pin_retries", "gauge",
	    "PIN retries left on the card", "pin_retries", 0, 1 },
	{ "wgcard_key_operations_total", "counter",
	    "X25519 operations done by the key broker", "operations", 0, 1 },
	{ "wgcard_key_last_latency_seconds", "gauge",
	    "latency of the key broker's last operation", "last_latency_us",
	    0, 1 },
	{ "wgcard_under_load", "gauge",
	    "1 while the handshake process answers with cookies",
	    "under_load", 0, 0 },
	{ "wgcard_broker_pending", "gauge",
	    "key operations asked of the broker and not answered",
	    "broker_pending", 0, 0 },
	{ "wgcard_broker_queued", "gauge",
	    "requests waiting in the key broker's queue", "broker_queued",
	    0, 0 },
	{ "wgcard_cookie_replies_total", "counter",
	    "cookie replies sent", "cookie_replies", 0, 0 },
	{ "wgcard_handshakes_dropped_total", "counter",
	    "handshake messages dropped (every cause)",
	    "handshakes_dropped", 0, 0 },
	{ "wgcard_peers", "gauge", "configured peers", "peers", 0, 0 },
	{ "wgcard_peer_receive_bytes_total", "counter",
	    "bytes received from the peer", "rx_bytes", 1, 0 },
	{ "wgcard_peer_transmit_bytes_total", "counter",
	    "bytes sent to the peer", "tx_bytes", 1, 0 },
	{ "wgcard_peer_latest_handshake_seconds", "gauge",
	    "Unix time of the latest handshake (0: none)",
	    "latest_handshake", 1, 0 },
	{ "wgcard_peer_drops_total", "counter",
	    "packets to or from the peer dropped", "drops", 1, 0 },
};

/* One sample of m, if v is a number (a figure that is not is left out). */
static void
output_prom_sample(FILE *f, const struct prom_metric *m, const char *ifname,
    const char *peer, const char *v)
{
	unsigned long long	n;

	if (!output_uint(v, &n))
		return;
	fprintf(f, "%s{", m->name);
	output_prom_label(f, "interface", ifname, 0);
	if (peer != NULL)
		output_prom_label(f, "peer", peer, 1);
	if (strcmp(m->name, "wgcard_key_last_latency_seconds") == 0)
		fprintf(f, "} %.6f\n", (double)n / 1e6);
	else
		fprintf(f, "} %llu\n", n);
}

void
output_prometheus(FILE *f, const struct ctl_iface *ifcs, size_t n)
{
	const struct prom_metric	  *m;
	const struct answer		  *a;
	struct show_peer		 **peers;
	ssize_t				  *npeers;
	const char			  *v;
	size_t				   i, k;
	ssize_t				   j;

	peers = calloc(n ? n : 1, sizeof(*peers));
	npeers = calloc(n ? n : 1, sizeof(*npeers));
	if (peers == NULL || npeers == NULL) {
		fprintf(stderr, "wgcardctl: out of memory\n");
		free(peers);
		free(npeers);
		return;
	}
	for (i = 0; i < n; i++)
		if (ifcs[i].error != NULL ||
		    (npeers[i] = show_peers(&ifcs[i].show, &peers[i])) == -1) {
			npeers[i] = 0;
			peers[i] = NULL;
		}

	for (k = 0; k < sizeof(prom_metrics) / sizeof(prom_metrics[0]); k++) {
		m = &prom_metrics[k];
		fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", m->name, m->help,
		    m->name, m->type);
		for (i = 0; i < n; i++) {
			a = m->from_status ? &ifcs[i].status : &ifcs[i].show;
			if (m->key == NULL) {
				fprintf(f, "%s{", m->name);
				output_prom_label(f, "interface", ifcs[i].name,
				    0);
				fprintf(f, "} %d\n", ifcs[i].error == NULL);
				continue;
			}
			if (ifcs[i].error != NULL)
				continue;
			if (!m->per_peer) {
				output_prom_sample(f, m, ifcs[i].name, NULL,
				    answer_get(a, m->key));
				continue;
			}
			for (j = 0; j < npeers[i]; j++)
				output_prom_sample(f, m, ifcs[i].name,
				    peers[i][j].pub,
				    show_peer_get(&peers[i][j], m->key));
		}
	}
	/* Dropped handshake messages, one series per cause. */
	fprintf(f, "# HELP wgcard_handshake_drops_total handshake messages "
	    "dropped, by cause\n# TYPE wgcard_handshake_drops_total "
	    "counter\n");
	for (i = 0; i < n; i++) {
		unsigned long long	d;
		size_t			c;

		if (ifcs[i].error != NULL)
			continue;
		for (c = 0; c < OUTPUT_NDROP_CAUSES; c++) {
			if (!output_uint(output_drop_get(&ifcs[i].show, c),
			    &d))
				continue;
			fputs("wgcard_handshake_drops_total{", f);
			output_prom_label(f, "interface", ifcs[i].name, 0);
			output_prom_label(f, "cause", output_drop_causes[c], 1);
			fprintf(f, "} %llu\n", d);
		}
	}
	/* What is not a number: one info series per interface and peer. */
	fprintf(f, "# HELP wgcard_info the interface's public key and "
	    "backends\n# TYPE wgcard_info gauge\n");
	for (i = 0; i < n; i++) {
		if (ifcs[i].error != NULL)
			continue;
		a = &ifcs[i].show;
		fputs("wgcard_info{", f);
		output_prom_label(f, "interface", ifcs[i].name, 0);
		output_prom_label(f, "public_key", (v = answer_get(a,
		    "public_key")) ? v : "", 1);
		output_prom_label(f, "key_backend", (v = answer_get(
		    &ifcs[i].status, "backend")) ? v : "", 1);
		output_prom_label(f, "key_state", (v = answer_get(
		    &ifcs[i].status, "state")) ? v : "", 1);
		output_prom_label(f, "forwarder", (v = answer_get(a,
		    "forwarder")) ? v : "", 1);
		output_prom_label(f, "key_touch", (v = answer_get(
		    &ifcs[i].status, "touch")) ? v : "", 1);
		fputs("} 1\n", f);
	}
	/* The touch line as a number, for alerts: 1 when it says "on". */
	fprintf(f, "# HELP wgcard_card_touch_required 1 if every key "
	    "operation waits for a touch of the token\n# TYPE "
	    "wgcard_card_touch_required gauge\n");
	for (i = 0; i < n; i++) {
		if (ifcs[i].error != NULL ||
		    (v = answer_get(&ifcs[i].status, "touch")) == NULL)
			continue;
		fputs("wgcard_card_touch_required{", f);
		output_prom_label(f, "interface", ifcs[i].name, 0);
		fprintf(f, "} %d\n", output_touch_on(v));
	}
	fprintf(f, "# HELP wgcard_peer_info a peer's endpoint and allowed "
	    "IPs\n# TYPE wgcard_peer_info gauge\n");
	for (i = 0; i < n; i++) {
		for (j = 0; j < npeers[i]; j++) {
			const struct show_peer	*p = &peers[i][j];
			char			 aips[1024];
			size_t			 len = 0, l, q;

			aips[0] = '\0';
			for (q = 0; q < p->naips; q++) {
				l = strlen(p->aips[q]);
				if (len + l + 2 > sizeof(aips))
					break;
				if (len > 0)
					aips[len++] = ',';
				memcpy(aips + len, p->aips[q], l + 1);
				len += l;
			}
			fputs("wgcard_peer_info{", f);
			output_prom_label(f, "interface", ifcs[i].name, 0);
			output_prom_label(f, "peer", p->pub, 1);
			output_prom_label(f, "endpoint", p->endpoint ?
			    p->endpoint : "", 1);
			output_prom_label(f, "allowed_ips", aips, 1);
			fputs("} 1\n", f);
		}
		show_peers_free(peers[i], npeers[i]);
	}
	free(peers);
	free(npeers);
}
