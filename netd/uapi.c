/*
 * uapi.c: the cross-platform configuration protocol of WireGuard
 * (https://www.wireguard.com/xplatform/), as wg(8) speaks it to
 * userspace implementations.
 *
 * The set=1 parser is strict: exact key names, one key per line, every
 * line ended by '\n', numbers in plain decimal, booleans only "true",
 * keys exactly 64 hex digits, endpoints numeric (wg(8) resolves names
 * before it sends). Error messages name the line and the key, never a
 * value: values may be keys.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <sodium.h>

#include "buf.h"
#include "encoding.h"
#include "uapi.h"
#include "wgconf.h"

/* Device-level keys first, then peer-level keys from UK_REMOVE on. */
enum uapi_keyid {
	UK_PRIVATE_KEY,
	UK_LISTEN_PORT,
	UK_FWMARK,
	UK_REPLACE_PEERS,
	UK_PUBLIC_KEY,		/* at both levels: it starts a peer */
	UK_REMOVE,
	UK_UPDATE_ONLY,
	UK_PRESHARED_KEY,
	UK_ENDPOINT,
	UK_KEEPALIVE,
	UK_REPLACE_AIPS,
	UK_ALLOWED_IP,
	UK_PROTOCOL_VERSION,
};

#define UAPI_IS_PEER_KEY(id)	((id) >= UK_REMOVE)

static const struct uapi_keyword {
	const char	*name;
	enum uapi_keyid	 id;
} uapi_keywords[] = {
	{ "private_key",			UK_PRIVATE_KEY },
	{ "listen_port",			UK_LISTEN_PORT },
	{ "fwmark",				UK_FWMARK },
	{ "replace_peers",			UK_REPLACE_PEERS },
	{ "public_key",				UK_PUBLIC_KEY },
	{ "remove",				UK_REMOVE },
	{ "update_only",			UK_UPDATE_ONLY },
	{ "preshared_key",			UK_PRESHARED_KEY },
	{ "endpoint",				UK_ENDPOINT },
	{ "persistent_keepalive_interval",	UK_KEEPALIVE },
	{ "replace_allowed_ips",		UK_REPLACE_AIPS },
	{ "allowed_ip",				UK_ALLOWED_IP },
	{ "protocol_version",			UK_PROTOCOL_VERSION },
};

struct uapi_ctx {
	struct wg_devconf	*dev;
	struct wg_peerconf	*peer;
	unsigned long		 lineno;
	char			*err;
	size_t			 errlen;
};

/*
 * Writes "line N: KEY: why" into err. The key is printed only up to 40
 * bytes, anything unprintable as '?': it is protocol text, never a
 * value, but it may be garbage.
 */
static void __attribute__((__format__(__printf__, 3, 4)))
uapi_error(struct uapi_ctx *ctx, const char *key, const char *fmt, ...)
{
	char	safe[48], why[160];
	va_list	ap;
	size_t	i;

	if (ctx->err == NULL || ctx->errlen == 0)
		return;
	for (i = 0; key[i] != '\0' && i < 40; i++)
		safe[i] = (key[i] >= 0x20 && key[i] < 0x7f) ? key[i] : '?';
	if (key[i] != '\0' && i == 40) {
		memcpy(safe + i, "...", 3);
		i += 3;
	}
	safe[i] = '\0';
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (safe[0] != '\0')
		snprintf(ctx->err, ctx->errlen, "line %lu: %s: %s",
		    ctx->lineno, safe, why);
	else
		snprintf(ctx->err, ctx->errlen, "line %lu: %s",
		    ctx->lineno, why);
}

/* Plain decimal digits only, no sign, no space; value <= max. */
static int
uapi_parse_num(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t	v = 0;
	size_t		i;

	if (s[0] == '\0')
		return -1;
	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		if (v > (UINT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
		if (v > max)
			return -1;
	}
	*out = v;
	return 0;
}

int
uapi_parse_prefix(const char *s, struct wg_prefix *p, int cidr_optional)
{
	char		 host[INET6_ADDRSTRLEN + 1];
	const char	*slash;
	uint64_t	 cidr;
	size_t		 hlen;
	int		 family, maxbits;

	memset(p, 0, sizeof(*p));
	slash = strchr(s, '/');
	hlen = slash != NULL ? (size_t)(slash - s) : strlen(s);
	if (hlen == 0 || hlen >= sizeof(host))
		return -1;
	memcpy(host, s, hlen);
	host[hlen] = '\0';
	if (strchr(host, ':') != NULL) {
		family = AF_INET6;
		maxbits = 128;
	} else {
		family = AF_INET;
		maxbits = 32;
	}
	if (inet_pton(family, host, p->addr.bytes) != 1)
		return -1;
	if (slash == NULL) {
		if (!cidr_optional)
			return -1;
		cidr = (uint64_t)maxbits;
	} else if (uapi_parse_num(slash + 1, (uint64_t)maxbits, &cidr) == -1)
		return -1;
	p->family = (uint8_t)family;
	p->cidr = (uint8_t)cidr;
	return 0;
}

static unsigned int	(*uapi_scope_fn)(const char *);

void
uapi_set_scope_resolver(unsigned int (*scope_fn)(const char *))
{
	uapi_scope_fn = scope_fn;
}

int
uapi_parse_endpoint(const char *s, union wg_sockaddr *ep,
    unsigned int (*scope_fn)(const char *))
{
	char		 host[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
	const char	*hend, *port;
	char		*scope;
	uint64_t	 num, portnum;
	size_t		 hlen;
	int		 v6;

	memset(ep, 0, sizeof(*ep));
	if (s[0] == '[') {
		s++;
		if ((hend = strchr(s, ']')) == NULL || hend[1] != ':')
			return -1;
		port = hend + 2;
		v6 = 1;
	} else {
		if ((hend = strrchr(s, ':')) == NULL)
			return -1;
		port = hend + 1;
		v6 = 0;
	}
	hlen = (size_t)(hend - s);
	if (hlen == 0 || hlen >= sizeof(host))
		return -1;
	memcpy(host, s, hlen);
	host[hlen] = '\0';
	if (uapi_parse_num(port, 65535, &portnum) == -1 || portnum == 0)
		return -1;

	if (!v6) {
		if (inet_pton(AF_INET, host, &ep->sin.sin_addr) != 1)
			return -1;
		ep->sin.sin_family = AF_INET;
		ep->sin.sin_port = htons((uint16_t)portnum);
		return 0;
	}
	if ((scope = strchr(host, '%')) != NULL) {
		*scope++ = '\0';
		if (scope[0] == '\0')
			goto bad;
		if (uapi_parse_num(scope, UINT32_MAX, &num) == 0)
			ep->sin6.sin6_scope_id = (uint32_t)num;
		else if (scope[0] >= '0' && scope[0] <= '9')
			goto bad;
		else if (scope_fn == NULL ||
		    (ep->sin6.sin6_scope_id = scope_fn(scope)) == 0)
			goto bad;
	}
	if (inet_pton(AF_INET6, host, &ep->sin6.sin6_addr) != 1)
		goto bad;
	ep->sin6.sin6_family = AF_INET6;
	ep->sin6.sin6_port = htons((uint16_t)portnum);
	return 0;
 bad:
	memset(ep, 0, sizeof(*ep));
	return -1;
}

/* Exactly 64 hex digits. The caller wipes key. */
static int
uapi_parse_key(const char *s, uint8_t key[static 32])
{
	if (strlen(s) != WG_KEY_HEX_LEN - 1)
		return -1;
	return key_from_hex(key, s);
}

static const struct uapi_keyword *
uapi_lookup(const char *key)
{
	size_t	i;

	for (i = 0; i < sizeof(uapi_keywords) / sizeof(uapi_keywords[0]); i++)
		if (strcmp(uapi_keywords[i].name, key) == 0)
			return &uapi_keywords[i];
	return NULL;
}

/* One "key=value" line. */
static int
uapi_parse_line(struct uapi_ctx *ctx, const char *key, const char *value)
{
	const struct uapi_keyword	*kw;
	struct wg_devconf		*dev = ctx->dev;
	struct wg_peerconf		*peer = ctx->peer;
	struct wg_prefix		 pfx;
	const char			*p;
	uint8_t				 k[32];
	uint64_t			 num;
	int				 ret = 0;

	if ((kw = uapi_lookup(key)) == NULL) {
		uapi_error(ctx, key, "unknown key");
		return -EPROTO;
	}
	if (!UAPI_IS_PEER_KEY(kw->id) && peer != NULL &&
	    kw->id != UK_PUBLIC_KEY) {
		uapi_error(ctx, key, "device key after a peer");
		return -EPROTO;
	}
	if (UAPI_IS_PEER_KEY(kw->id) && peer == NULL) {
		uapi_error(ctx, key, "peer key before public_key");
		return -EPROTO;
	}

	switch (kw->id) {
	case UK_PRIVATE_KEY:
		if (uapi_parse_key(value, k) == -1)
			goto badkey;
		memcpy(dev->privkey, k, sizeof(k));
		dev->flags |= WGDEV_HAS_PRIVKEY;
		break;
	case UK_LISTEN_PORT:
		if (uapi_parse_num(value, 65535, &num) == -1)
			goto badnum;
		dev->port = (uint16_t)num;
		dev->flags |= WGDEV_HAS_PORT;
		break;
	case UK_FWMARK:
		if (uapi_parse_num(value, UINT32_MAX, &num) == -1)
			goto badnum;
		dev->fwmark = (uint32_t)num;
		dev->flags |= WGDEV_HAS_FWMARK;
		break;
	case UK_REPLACE_PEERS:
		if (strcmp(value, "true") != 0)
			goto badbool;
		dev->flags |= WGDEV_REPLACE_PEERS;
		break;
	case UK_PUBLIC_KEY:
		if (uapi_parse_key(value, k) == -1)
			goto badkey;
		if ((ctx->peer = wgconf_add_peer(dev, k)) == NULL) {
			uapi_error(ctx, key, "out of memory");
			ret = -ENOMEM;
		}
		break;
	case UK_REMOVE:
		if (strcmp(value, "true") != 0)
			goto badbool;
		peer->flags |= WGPEER_REMOVE;
		break;
	case UK_UPDATE_ONLY:
		if (strcmp(value, "true") != 0)
			goto badbool;
		peer->flags |= WGPEER_UPDATE_ONLY;
		break;
	case UK_PRESHARED_KEY:
		if (uapi_parse_key(value, k) == -1)
			goto badkey;
		memcpy(peer->psk, k, sizeof(k));
		peer->flags |= WGPEER_HAS_PSK;
		break;
	case UK_ENDPOINT:
		if (uapi_parse_endpoint(value, &peer->endpoint,
		    uapi_scope_fn) == -1) {
			if ((p = strchr(value, '%')) != NULL &&
			    !(p[1] >= '0' && p[1] <= '9') &&
			    uapi_scope_fn == NULL)
				uapi_error(ctx, key, "interface names as IPv6 "
				    "scope are not supported (use the number)");
			else
				uapi_error(ctx, key, "not a numeric endpoint "
				    "(a.b.c.d:port or [v6]:port)");
			peer->flags &= ~(unsigned int)WGPEER_HAS_ENDPOINT;
			ret = -EINVAL;
			break;
		}
		peer->flags |= WGPEER_HAS_ENDPOINT;
		break;
	case UK_KEEPALIVE:
		if (uapi_parse_num(value, 65535, &num) == -1)
			goto badnum;
		peer->keepalive = (uint16_t)num;
		peer->flags |= WGPEER_HAS_KEEPALIVE;
		break;
	case UK_REPLACE_AIPS:
		if (strcmp(value, "true") != 0)
			goto badbool;
		peer->flags |= WGPEER_REPLACE_AIPS;
		break;
	case UK_ALLOWED_IP:
		if (uapi_parse_prefix(value[0] == '-' ? value + 1 : value,
		    &pfx, 0) == -1) {
			uapi_error(ctx, key, "not an address/cidr");
			ret = -EINVAL;
			break;
		}
		pfx.remove = value[0] == '-';
		if (wgconf_add_aip(peer, &pfx) == -1) {
			uapi_error(ctx, key, "out of memory");
			ret = -ENOMEM;
		}
		break;
	case UK_PROTOCOL_VERSION:
		if (strcmp(value, "1") != 0) {
			uapi_error(ctx, key, "only version 1 is supported");
			ret = -EINVAL;
		}
		break;
	}
	sodium_memzero(k, sizeof(k));
	return ret;

 badkey:
	sodium_memzero(k, sizeof(k));
	uapi_error(ctx, key, "not a key of 64 hex digits");
	return -EINVAL;
 badnum:
	uapi_error(ctx, key, "not a decimal number in range");
	return -EINVAL;
 badbool:
	uapi_error(ctx, key, "the only accepted value is \"true\"");
	return -EINVAL;
}

int
uapi_parse_set(const char *text, size_t len, struct wg_devconf *out,
    char *err, size_t errlen)
{
	struct uapi_ctx	 ctx;
	char		 line[UAPI_MAX_LINE + 1];
	const char	*p = text, *end = text + len, *nl;
	char		*eq;
	size_t		 llen;
	int		 ret = 0;

	wgconf_init(out);
	memset(&ctx, 0, sizeof(ctx));
	ctx.dev = out;
	ctx.err = err;
	ctx.errlen = errlen;
	if (err != NULL && errlen > 0)
		err[0] = '\0';

	while (p < end) {
		ctx.lineno++;
		nl = memchr(p, '\n', (size_t)(end - p));
		llen = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
		if (llen > UAPI_MAX_LINE) {
			uapi_error(&ctx, "", "line longer than %d bytes",
			    UAPI_MAX_LINE);
			ret = -EPROTO;
			break;
		}
		if (nl == NULL) {
			uapi_error(&ctx, "", "truncated line (no newline)");
			ret = -EPROTO;
			break;
		}
		if (llen == 0) {
			uapi_error(&ctx, "", "unexpected empty line");
			ret = -EPROTO;
			break;
		}
		if (memchr(p, '\0', llen) != NULL) {
			uapi_error(&ctx, "", "NUL byte in line");
			ret = -EPROTO;
			break;
		}
		memcpy(line, p, llen);
		line[llen] = '\0';
		if ((eq = strchr(line, '=')) == NULL) {
			/* The line is no key=value: print none of it. */
			uapi_error(&ctx, "", "missing '='");
			ret = -EPROTO;
			break;
		}
		*eq = '\0';
		if ((ret = uapi_parse_line(&ctx, line, eq + 1)) != 0)
			break;
		p = nl + 1;
	}
	sodium_memzero(line, sizeof(line));
	if (ret != 0) {
		wgconf_free(out);
		wgconf_init(out);
	}
	return ret;
}

/* "name=<hex>\n", the hex wiped from the stack. */
static int
uapi_fmt_key(struct buf *b, const char *name, const uint8_t key[static 32])
{
	char	hex[WG_KEY_HEX_LEN];
	int	ret;

	key_to_hex(hex, key);
	ret = buf_printf(b, "%s=%s\n", name, hex);
	sodium_memzero(hex, sizeof(hex));
	return ret;
}

int
uapi_fmt_endpoint(struct buf *b, const union wg_sockaddr *ep)
{
	char	host[INET6_ADDRSTRLEN];

	switch (ep->sa.sa_family) {
	case AF_INET:
		if (inet_ntop(AF_INET, &ep->sin.sin_addr, host,
		    sizeof(host)) == NULL)
			return -1;
		return buf_printf(b, "%s:%u", host, ntohs(ep->sin.sin_port));
	case AF_INET6:
		if (inet_ntop(AF_INET6, &ep->sin6.sin6_addr, host,
		    sizeof(host)) == NULL)
			return -1;
		if (ep->sin6.sin6_scope_id != 0)
			return buf_printf(b, "[%s%%%" PRIu32 "]:%u", host,
			    ep->sin6.sin6_scope_id, ntohs(ep->sin6.sin6_port));
		return buf_printf(b, "[%s]:%u", host,
		    ntohs(ep->sin6.sin6_port));
	default:
		errno = EAFNOSUPPORT;
		return -1;
	}
}

static int
uapi_fmt_prefix(struct buf *b, int family, const uint8_t *addr,
    uint8_t cidr, int remove)
{
	char	host[INET6_ADDRSTRLEN];

	if ((family != AF_INET && family != AF_INET6) ||
	    inet_ntop(family, addr, host, sizeof(host)) == NULL) {
		errno = EAFNOSUPPORT;
		return -1;
	}
	return buf_printf(b, "allowed_ip=%s%s/%u\n", remove ? "-" : "", host,
	    cidr);
}

int
uapi_format_set(const struct wg_devconf *dev, struct buf *b, int with_privkey)
{
	const struct wg_peerconf	*peer;
	const struct wg_prefix		*pfx;
	size_t				 i, j;

	if (with_privkey && (dev->flags & WGDEV_HAS_PRIVKEY) &&
	    uapi_fmt_key(b, "private_key", dev->privkey) == -1)
		return -1;
	if ((dev->flags & WGDEV_HAS_PORT) &&
	    buf_printf(b, "listen_port=%u\n", dev->port) == -1)
		return -1;
	if ((dev->flags & WGDEV_HAS_FWMARK) &&
	    buf_printf(b, "fwmark=%" PRIu32 "\n", dev->fwmark) == -1)
		return -1;
	if ((dev->flags & WGDEV_REPLACE_PEERS) &&
	    buf_printf(b, "replace_peers=true\n") == -1)
		return -1;

	for (i = 0; i < dev->npeers; i++) {
		peer = &dev->peers[i];
		if (uapi_fmt_key(b, "public_key", peer->pubkey) == -1)
			return -1;
		if ((peer->flags & WGPEER_REMOVE) &&
		    buf_printf(b, "remove=true\n") == -1)
			return -1;
		if ((peer->flags & WGPEER_UPDATE_ONLY) &&
		    buf_printf(b, "update_only=true\n") == -1)
			return -1;
		if ((peer->flags & WGPEER_HAS_PSK) &&
		    uapi_fmt_key(b, "preshared_key", peer->psk) == -1)
			return -1;
		if (peer->flags & WGPEER_HAS_ENDPOINT) {
			if (buf_printf(b, "endpoint=") == -1 ||
			    uapi_fmt_endpoint(b, &peer->endpoint) == -1 ||
			    buf_append(b, "\n", 1) == -1)
				return -1;
		}
		if ((peer->flags & WGPEER_HAS_KEEPALIVE) &&
		    buf_printf(b, "persistent_keepalive_interval=%u\n",
		    peer->keepalive) == -1)
			return -1;
		if ((peer->flags & WGPEER_REPLACE_AIPS) &&
		    buf_printf(b, "replace_allowed_ips=true\n") == -1)
			return -1;
		for (j = 0; j < peer->naips; j++) {
			pfx = &peer->aips[j];
			if (uapi_fmt_prefix(b, pfx->family, pfx->addr.bytes,
			    pfx->cidr, pfx->remove) == -1)
				return -1;
		}
	}
	return 0;
}

int
uapi_fmt_device(struct buf *b, uint16_t port, uint32_t fwmark)
{
	/* No private_key line: the key is not in this process. */
	if (buf_printf(b, "listen_port=%u\n", port) == -1)
		return -1;
	if (fwmark != 0 &&
	    buf_printf(b, "fwmark=%" PRIu32 "\n", fwmark) == -1)
		return -1;
	return 0;
}

int
uapi_fmt_peer(struct buf *b, const struct uapi_peer_info *pi)
{
	if (uapi_fmt_key(b, "public_key", pi->pubkey) == -1)
		return -1;
	if (pi->has_psk && uapi_fmt_key(b, "preshared_key", pi->psk) == -1)
		return -1;
	if (buf_printf(b, "protocol_version=%d\n",
	    pi->protocol_version ? pi->protocol_version : 1) == -1)
		return -1;
	if (pi->endpoint.sa.sa_family == AF_INET ||
	    pi->endpoint.sa.sa_family == AF_INET6) {
		if (buf_printf(b, "endpoint=") == -1 ||
		    uapi_fmt_endpoint(b, &pi->endpoint) == -1 ||
		    buf_append(b, "\n", 1) == -1)
			return -1;
	}
	if (buf_printf(b, "last_handshake_time_sec=%" PRId64 "\n"
	    "last_handshake_time_nsec=%" PRId64 "\n"
	    "tx_bytes=%" PRIu64 "\n"
	    "rx_bytes=%" PRIu64 "\n"
	    "persistent_keepalive_interval=%u\n",
	    pi->last_handshake_sec, pi->last_handshake_nsec,
	    pi->tx_bytes, pi->rx_bytes, pi->keepalive) == -1)
		return -1;
	return 0;
}

int
uapi_fmt_aip(struct buf *b, int family, const uint8_t *addr, uint8_t cidr)
{
	return uapi_fmt_prefix(b, family, addr, cidr, 0);
}

int
uapi_fmt_errno(struct buf *b, int err)
{
	return buf_printf(b, "errno=%d\n\n", err > 0 ? -err : err);
}

ssize_t
uapi_frame(const struct control_conn *c, const char *in, size_t len)
{
	const char	*end;

	if (len >= 6 && memcmp(in, "get=1\n", 6) == 0) {
		if (len < 7)
			return 0;
		return in[6] == '\n' ? 7 : -EINVAL;
	}
	if (len >= 6 && memcmp(in, "set=1\n", 6) == 0) {
		/* From the "\n" of "set=1": an empty set is "set=1\n\n". */
		if ((end = memmem(in + 5, len - 5, "\n\n", 2)) == NULL)
			return 0;
		return end + 2 - in;
	}
	/* Not a request we know; a whole line (or enough) says so. */
	if (memchr(in, '\n', len) == NULL && len < 16)
		return 0;
	return -EINVAL;
}

void
uapi_end(struct buf *out, int status, const char *text)
{
	uapi_fmt_errno(out, status);
}
