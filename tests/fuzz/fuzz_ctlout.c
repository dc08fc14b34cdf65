/*
 * fuzz_ctlout.c: libFuzzer target for wgcardctl's reading of daemon
 * answers (answer_line, show_peers, show_peer_stale) and its renderings
 * of them (output.c): show for people, card status, key=value, --json
 * and --prometheus.
 *
 * The input is what up to three daemons answered: for each, its
 * interface name, its show answer and its card status answer, separated
 * by NUL bytes, each answer as the bytes on the socket (lines, the end
 * line, anything). The harness reads each as wgcardctl does, line by
 * line.
 *
 * What must hold: the end status is 0 or an errno; the JSON is one valid
 * document (tests/unit/json_check.h) of valid UTF-8; the Prometheus text is lines of HELP, TYPE and samples whose
 * names, labels (valid UTF-8, escaped) and values are well formed, each
 * sample after its TYPE and no series twice; the text for people is
 * whole lines of valid UTF-8 with no control byte but the newline.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../unit/json_check.h"
#include "encoding.h"
#include "wgcardctl.h"

#define FC_IFACES	3

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/*
 * Valid UTF-8 with no C0 control byte (but newline if nl), and no C1
 * control either unless c1 (a terminal acts on them; JSON and the
 * Prometheus format do not).
 */
static int
fc_text_ok(const char *s, size_t n, int nl, int c1)
{
	const uint8_t	*u = (const uint8_t *)s;
	size_t		 i = 0, l;

	while (i < n) {
		if (u[i] == '\n' && nl) {
			i++;
			continue;
		}
		if (u[i] < 0x20 || u[i] == 0x7f)
			return 0;
		if (u[i] < 0x80) {
			i++;
			continue;
		}
		if ((l = utf8_seq_len(u + i, n - i)) == 0 ||
		    (!c1 && u[i] == 0xc2 && u[i + 1] < 0xa0))
			return 0;
		i += l;
	}
	return 1;
}

/* Text for people: whole lines, nothing a terminal acts on. */
static void
fc_check_human(const char *s, size_t n)
{
	if (n > 0 && s[n - 1] != '\n')
		abort();
	if (strlen(s) != n || !fc_text_ok(s, n, 1, 0))
		abort();
}

static int
fc_is_name(const char *p, size_t n, int metric)
{
	size_t	i;

	if (n == 0)
		return 0;
	for (i = 0; i < n; i++)
		if (!((p[i] >= 'a' && p[i] <= 'z') ||
		    (p[i] >= 'A' && p[i] <= 'Z') || p[i] == '_' ||
		    (metric && p[i] == ':') || (i > 0 && p[i] >= '0' &&
		    p[i] <= '9')))
			return 0;
	return 1;
}

/* One sample line: NAME{LABEL="V",...} NUMBER; the end of its series. */
static const char *
fc_prom_sample(const char *l, const char *end, size_t *namelen)
{
	const char	*p = l, *q, *v;

	while (p < end && *p != '{' && *p != ' ')
		p++;
	if (!fc_is_name(l, (size_t)(p - l), 1) || p == end || *p != '{')
		abort();
	*namelen = (size_t)(p - l);
	p++;
	while (*p != '}') {
		for (q = p; q < end && *q != '='; q++)
			;
		if (q == end || !fc_is_name(p, (size_t)(q - p), 0) ||
		    q[1] != '"')
			abort();
		for (v = p = q + 2; p < end && *p != '"'; p++)
			if (*p == '\\' && (++p == end ||
			    (*p != '\\' && *p != '"' && *p != 'n')))
				abort();
		if (p == end || !fc_text_ok(v, (size_t)(p - v), 0, 1))
			abort();
		p++;
		if (*p == ',')
			p++;
		else if (*p != '}')
			abort();
	}
	q = ++p;
	if (*p++ != ' ' || p == end || *p < '0' || *p > '9')
		abort();
	while (p < end && ((*p >= '0' && *p <= '9') || *p == '.'))
		p++;
	if (p != end)
		abort();
	return q;
}

/* The Prometheus text exposition format, as wgcardctl writes it. */
static void
fc_check_prom(const char *s, size_t n)
{
	const char	*l = s, *end, *series_end;
	char		 typed[64] = "";
	char		**seen = NULL;
	size_t		 nseen = 0, i, namelen;

	if (strlen(s) != n || (n > 0 && s[n - 1] != '\n'))
		abort();
	for (; l < s + n; l = end + 1) {
		end = memchr(l, '\n', (size_t)(s + n - l));
		if (strncmp(l, "# HELP ", 7) == 0) {
			if (!fc_text_ok(l, (size_t)(end - l), 0, 0))
				abort();
			continue;
		}
		if (strncmp(l, "# TYPE ", 7) == 0) {
			const char	*t = memchr(l + 7, ' ',
					    (size_t)(end - l - 7));

			if (t == NULL || (size_t)(t - l - 7) >= sizeof(typed) ||
			    !fc_is_name(l + 7, (size_t)(t - l - 7), 1) ||
			    ((size_t)(end - t - 1) != 5 ||
			    strncmp(t + 1, "gauge", 5) != 0) &&
			    ((size_t)(end - t - 1) != 7 ||
			    strncmp(t + 1, "counter", 7) != 0))
				abort();
			memcpy(typed, l + 7, (size_t)(t - l - 7));
			typed[t - l - 7] = '\0';
			continue;
		}
		series_end = fc_prom_sample(l, end, &namelen);
		if (namelen != strlen(typed) || strncmp(l, typed, namelen))
			abort();
		for (i = 0; i < nseen; i++)
			if (strlen(seen[i]) == (size_t)(series_end - l) &&
			    memcmp(seen[i], l, (size_t)(series_end - l)) == 0)
				abort();	/* a series twice */
		if ((seen = realloc(seen, (nseen + 1) * sizeof(*seen))) ==
		    NULL || (seen[nseen] = strndup(l,
		    (size_t)(series_end - l))) == NULL)
			abort();
		nseen++;
	}
	for (i = 0; i < nseen; i++)
		free(seen[i]);
	free(seen);
}

/* Reads an answer as wgcardctl does: 0, or -1 if it had no end line. */
static int
fc_answer(struct answer *a, const char *p, size_t n)
{
	const char	*nl;
	char		*line;
	size_t		 l;
	int		 r;

	memset(a, 0, sizeof(*a));
	while (n > 0) {
		nl = memchr(p, '\n', n);
		l = nl != NULL ? (size_t)(nl - p) : n;
		if ((line = strndup(p, l)) == NULL)
			abort();
		r = answer_line(a, line);
		free(line);
		if (r == -1)
			abort();
		if (r == 1) {
			if (a->status < 0 || a->status > ANSWER_STATUS_MAX)
				abort();
			return 0;
		}
		if (nl == NULL)
			break;
		p += l + 1;
		n -= l + 1;
	}
	return -1;
}

/* The next NUL-terminated part of the input. */
static const char *
fc_part(const uint8_t **p, const uint8_t *end, size_t *n)
{
	const uint8_t	*s = *p, *z;

	if (s >= end)
		return NULL;
	z = memchr(s, '\0', (size_t)(end - s));
	*n = z != NULL ? (size_t)(z - s) : (size_t)(end - s);
	*p = s + *n + (z != NULL);
	return (const char *)s;
}

static char *
fc_render(void (*fn)(FILE *, const struct ctl_iface *, size_t),
    const struct ctl_iface *ifcs, size_t n, size_t *len)
{
	char	*buf = NULL;
	FILE	*f;

	if ((f = open_memstream(&buf, len)) == NULL)
		abort();
	fn(f, ifcs, n);
	fclose(f);
	return buf;
}

static void
fc_check_people(const struct ctl_iface *ifc)
{
	struct show_peer	*peers;
	ssize_t			 np, j;
	char			*buf = NULL;
	size_t			 len = 0;
	FILE			*f;

	if ((f = open_memstream(&buf, &len)) == NULL)
		abort();
	output_show(f, ifc);
	output_card_status(f, ifc->name, &ifc->status);
	output_kv(f, &ifc->show);
	fclose(f);
	fc_check_human(buf, len);
	free(buf);
	if ((np = show_peers(&ifc->show, &peers)) == -1)
		abort();
	for (j = 0; j < np; j++) {
		if (peers[j].pub == NULL)
			abort();
		/* No endpoint: never stale; else a time in the window. */
		if (peers[j].endpoint == NULL &&
		    show_peer_stale(&peers[j], 1800000000, 180))
			abort();
	}
	show_peers_free(peers, np);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ctl_iface	 ifcs[FC_IFACES];
	const uint8_t		*p = data, *end = data + size;
	const char		*part;
	char			*buf;
	size_t			 n = 0, i, len, l;

	memset(ifcs, 0, sizeof(ifcs));
	while (n < FC_IFACES && (part = fc_part(&p, end, &l)) != NULL) {
		/* Names come from socket file names: distinct, no '/'. */
		len = l < sizeof(ifcs[n].name) - 2 ? l : sizeof(ifcs[n].name) - 2;
		memcpy(ifcs[n].name, part, len);
		ifcs[n].name[len] = '\0';
		if (memchr(part, '/', len) != NULL)
			continue;
		for (i = 0; i < n && strcmp(ifcs[i].name, ifcs[n].name); i++)
			;
		if (i < n)
			continue;
		if ((part = fc_part(&p, end, &l)) == NULL) {
			part = "";
			l = 0;
		}
		if (fc_answer(&ifcs[n].show, part, l) == -1 ||
		    ifcs[n].show.status != 0) {
			ifcs[n].error = strdup(ifcs[n].show.error != NULL ?
			    ifcs[n].show.error : "protocol error");
			answer_free(&ifcs[n].show);
		} else if ((part = fc_part(&p, end, &l)) != NULL &&
		    (fc_answer(&ifcs[n].status, part, l) == -1 ||
		    ifcs[n].status.status != 0))
			answer_free(&ifcs[n].status);
		n++;
	}

	buf = fc_render(output_json, ifcs, n, &len);
	if (strlen(buf) != len || !json_ok(buf) || !fc_text_ok(buf, len, 1, 1))
		abort();
	free(buf);
	buf = fc_render(output_prometheus, ifcs, n, &len);
	fc_check_prom(buf, len);
	free(buf);
	for (i = 0; i < n; i++) {
		if (ifcs[i].error == NULL)
			fc_check_people(&ifcs[i]);
		answer_free(&ifcs[i].show);
		answer_free(&ifcs[i].status);
		free(ifcs[i].error);
	}
	return 0;
}
