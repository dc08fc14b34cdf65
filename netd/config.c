/*
 * config.c: the wg-quick style INI file ([Interface], [Peer]) with the
 * wgcard card settings as extra [Interface] keys.
 *
 * The file is read with open/read into a buffer that is wiped when we
 * are done (no stdio: its buffers would keep the private key). Lines
 * are parsed in place. Keys match case-insensitively, as in wg-quick;
 * '#' starts a comment; whitespace around '=' is ignored. Every error
 * is "FILE:LINE: KEY: reason" and never quotes a value.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <ctype.h>
#include <stddef.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <sodium.h>

#include "buf.h"
#include "config.h"
#include "encoding.h"
#include "uapi.h"
#include "wgconf.h"

#define CONFIG_MAX_SIZE	(16 * 1024 * 1024)

enum config_section {
	SEC_NONE,
	SEC_INTERFACE,
	SEC_PEER,
};

struct config_ctx;

/* Handlers return 0, or -1 after config_error(). */
typedef int (*config_handler)(struct config_ctx *, char *value);

#define KW_MULTI	0x01	/* may repeat (a list) */
#define KW_WGQUICK	0x02	/* a wg-quick key we refuse */

struct config_keyword {
	const char		*name;
	enum config_section	 section;
	config_handler		 fn;
	unsigned int		 flags;
};

struct config_ctx {
	const char		*path;
	unsigned long		 lineno;
	const char		*key;		/* as written in the file */
	char			*err;
	size_t			 errlen;
	int			 fd;
	int			 failed;

	struct wg_devconf	*dev;
	struct config_extra	*extra;
	enum config_section	 section;
	int			 seen_interface;
	/* Keys seen in the current section (one bit per keyword). */
	uint64_t		 seen;

	/* The [Peer] being read; added to dev when the section ends. */
	struct wg_devconf	 stage;
	struct wg_peerconf	*speer;
	int			 has_pubkey;
	uint8_t			 pubkey[32];
	unsigned long		 peer_line;
	unsigned long		 mtu_line;
	const char		*mtu_key;
	unsigned long		 privkey_line;
	unsigned long		 card_line;	/* first card key */
	const char		*card_key;
	unsigned long		 keysource_line;
	unsigned long		 pin_line;	/* the second PIN source */
	unsigned long		 card_pub_line;
	unsigned long		*peer_lines;	/* each [Peer]'s PublicKey */
};

static void __attribute__((__format__(__printf__, 2, 3)))
config_error(struct config_ctx *ctx, const char *fmt, ...)
{
	char	safe[48], why[256];
	va_list	ap;
	size_t	i = 0;

	ctx->failed = 1;
	if (ctx->err == NULL || ctx->errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (ctx->lineno == 0) {
		snprintf(ctx->err, ctx->errlen, "%s: %s", ctx->path, why);
		return;
	}
	if (ctx->key != NULL) {
		for (; ctx->key[i] != '\0' && i < 40; i++)
			safe[i] = isprint((unsigned char)ctx->key[i]) ?
			    ctx->key[i] : '?';
	}
	safe[i] = '\0';
	if (safe[0] != '\0')
		snprintf(ctx->err, ctx->errlen, "%s:%lu: %s: %s", ctx->path,
		    ctx->lineno, safe, why);
	else
		snprintf(ctx->err, ctx->errlen, "%s:%lu: %s", ctx->path,
		    ctx->lineno, why);
}

/* Letters only, 1 to 32 of them: safe to quote in an error. */
static int
config_is_word(const char *s)
{
	size_t	i;

	for (i = 0; s[i] != '\0'; i++)
		if (i >= 32 || !((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= 'A' && s[i] <= 'Z')))
			return 0;
	return i > 0;
}

static char *
config_trim(char *s)
{
	char	*e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		e--;
	*e = '\0';
	return s;
}

/* Plain decimal, no sign; value <= max. */
static int
config_num(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t	v = 0;

	if (*s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9' || v > (UINT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*s - '0');
		if (v > max)
			return -1;
	}
	*out = v;
	return 0;
}

/* "0x" hex, for FwMark. */
static int
config_hexnum(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t	v = 0;
	int		d;

	if (*s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		if (*s >= '0' && *s <= '9')
			d = *s - '0';
		else if (*s >= 'a' && *s <= 'f')
			d = *s - 'a' + 10;
		else if (*s >= 'A' && *s <= 'F')
			d = *s - 'A' + 10;
		else
			return -1;
		if (v > max >> 4)
			return -1;
		v = v << 4 | (uint64_t)d;
	}
	if (v > max)
		return -1;
	*out = v;
	return 0;
}

/*
 * A base64 key into out. The temporary is wiped by key_from_base64;
 * out belongs to the caller, which wipes it.
 */
static int
config_key(struct config_ctx *ctx, const char *value, uint8_t out[static 32])
{
	if (key_from_base64(out, value) == -1) {
		config_error(ctx, "not a base64 key of 32 bytes");
		return -1;
	}
	return 0;
}

/*
 * Refuses a private key in a file that group or others may read or
 * write: it would be no secret.
 */
static int
config_check_mode(struct config_ctx *ctx)
{
	struct stat	st;
	unsigned long	save;

	if (fstat(ctx->fd, &st) == -1) {
		config_error(ctx, "fstat: %s", strerror(errno));
		return -1;
	}
	if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
		save = ctx->lineno;
		ctx->lineno = 0;
		config_error(ctx, "private key file is accessible by group or "
		    "others (mode %04o); chmod 600 it",
		    (unsigned int)(st.st_mode & 07777));
		ctx->lineno = save;
		return -1;
	}
	return 0;
}

static int
kw_private_key(struct config_ctx *ctx, char *value)
{
	uint8_t	k[32];

	if (config_check_mode(ctx) == -1)
		return -1;
	if (config_key(ctx, value, k) == -1)
		return -1;
	memcpy(ctx->dev->privkey, k, sizeof(k));
	sodium_memzero(k, sizeof(k));
	ctx->dev->flags |= WGDEV_HAS_PRIVKEY;
	ctx->privkey_line = ctx->lineno;
	return 0;
}

static int
kw_listen_port(struct config_ctx *ctx, char *value)
{
	uint64_t	n;

	if (config_num(value, 65535, &n) == -1) {
		config_error(ctx, "not a port number (0-65535)");
		return -1;
	}
	ctx->dev->port = (uint16_t)n;
	ctx->dev->flags |= WGDEV_HAS_PORT;
	ctx->extra->port_line = ctx->lineno;
	return 0;
}

static int
kw_fwmark(struct config_ctx *ctx, char *value)
{
	uint64_t	n;
	int		r;

	if (strcasecmp(value, "off") == 0) {
		n = 0;
		r = 0;
	} else if (value[0] == '0' && (value[1] == 'x' || value[1] == 'X'))
		r = config_hexnum(value + 2, UINT32_MAX, &n);
	else
		r = config_num(value, UINT32_MAX, &n);
	if (r == -1) {
		config_error(ctx, "not a 32-bit number (decimal or 0x hex) "
		    "or \"off\"");
		return -1;
	}
	ctx->dev->fwmark = (uint32_t)n;
	ctx->dev->flags |= WGDEV_HAS_FWMARK;
	return 0;
}

/* Calls fn for each element of a comma-separated list. */
static int
config_list(struct config_ctx *ctx, char *value,
    int (*fn)(struct config_ctx *, char *))
{
	char	*item;

	while ((item = strsep(&value, ",")) != NULL) {
		item = config_trim(item);
		if (*item == '\0') {
			config_error(ctx, "empty element in list");
			return -1;
		}
		if (fn(ctx, item) == -1)
			return -1;
	}
	return 0;
}

static int
config_address_one(struct config_ctx *ctx, char *item)
{
	struct wg_prefix	p;

	if (uapi_parse_prefix(item, &p, 1) == -1) {
		config_error(ctx, "not an address with optional /prefix "
		    "length");
		return -1;
	}
	if (wgconf_add_addr(ctx->dev, &p) == -1) {
		config_error(ctx, "out of memory");
		return -1;
	}
	return 0;
}

static int
kw_address(struct config_ctx *ctx, char *value)
{
	return config_list(ctx, value, config_address_one);
}

static int
kw_mtu(struct config_ctx *ctx, char *value)
{
	uint64_t	n;

	if (config_num(value, 65535, &n) == -1 || n < 576) {
		config_error(ctx, "not a number from 576 to 65535");
		return -1;
	}
	ctx->dev->mtu = (int)n;
	ctx->mtu_line = ctx->lineno;
	ctx->mtu_key = ctx->key;
	return 0;
}

static int
kw_keysource(struct config_ctx *ctx, char *value)
{
	if (strcasecmp(value, "file") == 0)
		ctx->extra->keysource = CONFIG_KEYSOURCE_FILE;
	else if (strcasecmp(value, "openpgp") == 0)
		ctx->extra->keysource = CONFIG_KEYSOURCE_OPENPGP;
	else {
		config_error(ctx, "unknown key source (\"file\" or "
		    "\"openpgp\")");
		return -1;
	}
	return 0;
}

/* Card keys: remembered, checked against KeySource at the end. */
static void
config_card_key(struct config_ctx *ctx, const char *name)
{
	if (ctx->card_line == 0) {
		ctx->card_line = ctx->lineno;
		ctx->card_key = name;
	}
}

static int
kw_reader(struct config_ctx *ctx, char *value)
{
	size_t	i;

	config_card_key(ctx, "Reader");
	if (strlen(value) >= sizeof(ctx->extra->reader)) {
		config_error(ctx, "longer than %zu characters",
		    sizeof(ctx->extra->reader) - 1);
		return -1;
	}
	for (i = 0; value[i] != '\0'; i++)
		if (!isprint((unsigned char)value[i])) {
			config_error(ctx, "not printable");
			return -1;
		}
	snprintf(ctx->extra->reader, sizeof(ctx->extra->reader), "%s", value);
	return 0;
}

static int
kw_card_serial(struct config_ctx *ctx, char *value)
{
	uint32_t	v = 0;
	size_t		i, n = strlen(value);

	config_card_key(ctx, "CardSerial");
	if (n == 0 || n > 8) {
		config_error(ctx, "not a serial number of 1 to 8 hex digits "
		    "(as gpg --card-status shows it)");
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (!isxdigit((unsigned char)value[i])) {
			config_error(ctx, "not a serial number of 1 to 8 hex "
			    "digits (as gpg --card-status shows it)");
			return -1;
		}
		v = v << 4 | (uint32_t)(isdigit((unsigned char)value[i]) ?
		    value[i] - '0' : (tolower((unsigned char)value[i]) - 'a' +
		    10));
	}
	ctx->extra->serial = v;
	ctx->extra->has_serial = 1;
	return 0;
}

static int
kw_card_public_key(struct config_ctx *ctx, char *value)
{
	config_card_key(ctx, "CardPublicKey");
	if (config_key(ctx, value, ctx->extra->card_pub) == -1)
		return -1;
	ctx->extra->has_card_pub = 1;
	ctx->card_pub_line = ctx->lineno;
	return 0;
}

/*
 * VerifyTimeout, DecipherTimeout, TouchTimeout: milliseconds, within
 * the bounds of struct config_card_timeout (wgcardd.conf(5)).
 */
static const struct config_card_timeout {
	const char	*key;
	uint32_t	 min, max;
	size_t		 off;
} config_card_timeouts[] = {
	{ "VerifyTimeout", CONFIG_CARD_TIMEOUT_MIN, CONFIG_CARD_TIMEOUT_MAX,
	    offsetof(struct config_extra, verify_timeout_ms) },
	{ "DecipherTimeout", CONFIG_CARD_TIMEOUT_MIN, CONFIG_CARD_TIMEOUT_MAX,
	    offsetof(struct config_extra, decipher_timeout_ms) },
	{ "TouchTimeout", CONFIG_TOUCH_TIMEOUT_MIN, CONFIG_TOUCH_TIMEOUT_MAX,
	    offsetof(struct config_extra, touch_timeout_ms) },
};

static int
config_card_timeout(struct config_ctx *ctx, char *value, int which)
{
	const struct config_card_timeout	*t = &config_card_timeouts[which];
	unsigned long				 n;
	char					*end;

	config_card_key(ctx, t->key);
	errno = 0;
	n = strtoul(value, &end, 10);
	if (!isdigit((unsigned char)value[0]) || *end != '\0' ||
	    errno != 0 || n < t->min || n > t->max) {
		config_error(ctx, "not a number of milliseconds from %u to %u",
		    t->min, t->max);
		return -1;
	}
	*(uint32_t *)((char *)ctx->extra + t->off) = (uint32_t)n;
	return 0;
}

static int
kw_verify_timeout(struct config_ctx *ctx, char *value)
{
	return config_card_timeout(ctx, value, 0);
}

static int
kw_decipher_timeout(struct config_ctx *ctx, char *value)
{
	return config_card_timeout(ctx, value, 1);
}

static int
kw_touch_timeout(struct config_ctx *ctx, char *value)
{
	return config_card_timeout(ctx, value, 2);
}

/* A card setting of yes or no (name) into *out: 0, or -1 said. */
static int
config_card_yes_no(struct config_ctx *ctx, const char *name, char *value,
    int *out)
{
	config_card_key(ctx, name);
	if (strcmp(value, "yes") == 0)
		*out = 1;
	else if (strcmp(value, "no") == 0)
		*out = 0;
	else {
		config_error(ctx, "not yes or no");
		return -1;
	}
	return 0;
}

/* Exclusive = yes|no: the broker takes the card SCARD_SHARE_EXCLUSIVE. */
static int
kw_exclusive(struct config_ctx *ctx, char *value)
{
	return config_card_yes_no(ctx, "Exclusive", value,
	    &ctx->extra->exclusive);
}

static int
kw_unlock_last_try(struct config_ctx *ctx, char *value)
{
	return config_card_yes_no(ctx, "UnlockLastTry", value,
	    &ctx->extra->unlock_last_try);
}

static int
kw_pin_file(struct config_ctx *ctx, char *value)
{
	config_card_key(ctx, "PinFile");
	if (value[0] != '/') {
		config_error(ctx, "not an absolute path");
		return -1;
	}
	if (ctx->extra->pin_credential != NULL)
		ctx->pin_line = ctx->lineno;
	ctx->extra->pin_line = ctx->lineno;
	free(ctx->extra->pin_file);
	if ((ctx->extra->pin_file = strdup(value)) == NULL) {
		config_error(ctx, "out of memory");
		return -1;
	}
	return 0;
}

static int
kw_audit_log(struct config_ctx *ctx, char *value)
{
	if (value[0] != '/') {
		config_error(ctx, "not an absolute path");
		return -1;
	}
	free(ctx->extra->audit_log);
	if ((ctx->extra->audit_log = strdup(value)) == NULL) {
		config_error(ctx, "out of memory");
		return -1;
	}
	return 0;
}

static int
kw_pin_credential(struct config_ctx *ctx, char *value)
{
	size_t	i;

	config_card_key(ctx, "PinCredential");
	if (strcmp(value, ".") == 0 || strcmp(value, "..") == 0 ||
	    strlen(value) > 255) {
		config_error(ctx, "not a credential name");
		return -1;
	}
	for (i = 0; value[i] != '\0'; i++)
		if (value[i] == '/' || !isprint((unsigned char)value[i])) {
			config_error(ctx, "not a credential name");
			return -1;
		}
	if (ctx->extra->pin_file != NULL)
		ctx->pin_line = ctx->lineno;
	ctx->extra->pin_line = ctx->lineno;
	free(ctx->extra->pin_credential);
	if ((ctx->extra->pin_credential = strdup(value)) == NULL) {
		config_error(ctx, "out of memory");
		return -1;
	}
	return 0;
}

/* KeySource against the keys that depend on it (any order in the file). */
static int
config_check_card(struct config_ctx *ctx)
{
	if (ctx->extra->keysource == CONFIG_KEYSOURCE_OPENPGP) {
		if (ctx->privkey_line != 0) {
			ctx->lineno = ctx->privkey_line;
			ctx->key = "PrivateKey";
			config_error(ctx, "not allowed with KeySource = "
			    "openpgp (the private key is on the card)");
			return -1;
		}
		if (ctx->pin_line != 0) {
			ctx->lineno = ctx->pin_line;
			ctx->key = NULL;
			config_error(ctx, "PinFile and PinCredential: give "
			    "one of them");
			return -1;
		}
		return 0;
	}
	if (ctx->card_line != 0) {
		ctx->lineno = ctx->card_line;
		ctx->key = ctx->card_key;
		config_error(ctx, "only with KeySource = openpgp");
		return -1;
	}
	return 0;
}

static int
kw_public_key(struct config_ctx *ctx, char *value)
{
	if (config_key(ctx, value, ctx->pubkey) == -1)
		return -1;
	ctx->has_pubkey = 1;
	return 0;
}

static int
kw_preshared_key(struct config_ctx *ctx, char *value)
{
	uint8_t	k[32];

	if (config_key(ctx, value, k) == -1)
		return -1;
	memcpy(ctx->speer->psk, k, sizeof(k));
	sodium_memzero(k, sizeof(k));
	ctx->speer->flags |= WGPEER_HAS_PSK;
	return 0;
}

static int
config_aip_one(struct config_ctx *ctx, char *item)
{
	struct wg_prefix	p;

	if (uapi_parse_prefix(item, &p, 1) == -1) {
		config_error(ctx, "not an address with optional /prefix "
		    "length");
		return -1;
	}
	if (wgconf_add_aip(ctx->speer, &p) == -1) {
		config_error(ctx, "out of memory");
		return -1;
	}
	return 0;
}

static int
kw_allowed_ips(struct config_ctx *ctx, char *value)
{
	/* "AllowedIPs =" is an empty list, as in wg(8). */
	if (*value == '\0')
		return 0;
	return config_list(ctx, value, config_aip_one);
}

/* host:port or [host]:port with a name: resolved here. */
static int
config_resolve(struct config_ctx *ctx, char *value, union wg_sockaddr *ep)
{
	struct addrinfo	 hints, *res = NULL, *ai;
	char		*host, *port;
	uint64_t	 n;
	int		 r;

	if (value[0] == '[') {
		host = value + 1;
		if ((port = strchr(host, ']')) == NULL || port[1] != ':')
			goto syntax;
		*port = '\0';
		port += 2;
	} else {
		host = value;
		if ((port = strrchr(host, ':')) == NULL)
			goto syntax;
		*port++ = '\0';
	}
	if (*host == '\0' || config_num(port, 65535, &n) == -1 || n == 0)
		goto syntax;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_DGRAM;
	hints.ai_protocol = IPPROTO_UDP;
	hints.ai_flags = AI_NUMERICSERV;
	if ((r = getaddrinfo(host, port, &hints, &res)) != 0) {
		config_error(ctx, "cannot resolve host: %s",
		    r == EAI_SYSTEM ? strerror(errno) : gai_strerror(r));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if ((ai->ai_family == AF_INET &&
		    ai->ai_addrlen == sizeof(struct sockaddr_in)) ||
		    (ai->ai_family == AF_INET6 &&
		    ai->ai_addrlen == sizeof(struct sockaddr_in6))) {
			memset(ep, 0, sizeof(*ep));
			memcpy(ep, ai->ai_addr, ai->ai_addrlen);
			freeaddrinfo(res);
			return 0;
		}
	}
	freeaddrinfo(res);
	config_error(ctx, "host has no IPv4 or IPv6 address");
	return -1;
 syntax:
	config_error(ctx, "not host:port or [v6]:port (port 1-65535)");
	return -1;
}

static int
kw_endpoint(struct config_ctx *ctx, char *value)
{
	if (uapi_parse_endpoint(value, &ctx->speer->endpoint,
	    if_nametoindex) == -1 &&
	    config_resolve(ctx, value, &ctx->speer->endpoint) == -1)
		return -1;
	ctx->speer->flags |= WGPEER_HAS_ENDPOINT;
	return 0;
}

static int
kw_keepalive(struct config_ctx *ctx, char *value)
{
	uint64_t	n;

	if (strcasecmp(value, "off") == 0)
		n = 0;
	else if (config_num(value, 65535, &n) == -1) {
		config_error(ctx, "not a number of seconds (0-65535) or "
		    "\"off\"");
		return -1;
	}
	ctx->speer->keepalive = (uint16_t)n;
	ctx->speer->flags |= WGPEER_HAS_KEEPALIVE;
	return 0;
}

/*
 * The keys. Card settings are [Interface] keys: add them here (and to
 * struct config_extra and wgcardd.conf(5)).
 */
static const struct config_keyword config_keywords[] = {
	{ "PrivateKey",		SEC_INTERFACE,	kw_private_key,	0 },
	{ "ListenPort",		SEC_INTERFACE,	kw_listen_port,	0 },
	{ "FwMark",		SEC_INTERFACE,	kw_fwmark,	0 },
	{ "Address",		SEC_INTERFACE,	kw_address,	KW_MULTI },
	{ "MTU",		SEC_INTERFACE,	kw_mtu,		0 },
	{ "KeySource",		SEC_INTERFACE,	kw_keysource,	0 },
	{ "Reader",		SEC_INTERFACE,	kw_reader,	0 },
	{ "CardSerial",		SEC_INTERFACE,	kw_card_serial,	0 },
	{ "CardPublicKey",	SEC_INTERFACE,	kw_card_public_key, 0 },
	{ "PinFile",		SEC_INTERFACE,	kw_pin_file,	0 },
	{ "PinCredential",	SEC_INTERFACE,	kw_pin_credential, 0 },
	{ "UnlockLastTry",	SEC_INTERFACE,	kw_unlock_last_try, 0 },
	{ "VerifyTimeout",	SEC_INTERFACE,	kw_verify_timeout, 0 },
	{ "DecipherTimeout",	SEC_INTERFACE,	kw_decipher_timeout, 0 },
	{ "TouchTimeout",	SEC_INTERFACE,	kw_touch_timeout, 0 },
	{ "Exclusive",		SEC_INTERFACE,	kw_exclusive,	0 },
	{ "AuditLog",		SEC_INTERFACE,	kw_audit_log,	0 },
	{ "DNS",		SEC_INTERFACE,	NULL,		KW_WGQUICK },
	{ "Table",		SEC_INTERFACE,	NULL,		KW_WGQUICK },
	{ "PreUp",		SEC_INTERFACE,	NULL,		KW_WGQUICK },
	{ "PostUp",		SEC_INTERFACE,	NULL,		KW_WGQUICK },
	{ "PreDown",		SEC_INTERFACE,	NULL,		KW_WGQUICK },
	{ "PostDown",		SEC_INTERFACE,	NULL,		KW_WGQUICK },
	{ "SaveConfig",		SEC_INTERFACE,	NULL,		KW_WGQUICK },
	{ "PublicKey",		SEC_PEER,	kw_public_key,	0 },
	{ "PresharedKey",	SEC_PEER,	kw_preshared_key, 0 },
	{ "AllowedIPs",		SEC_PEER,	kw_allowed_ips,	KW_MULTI },
	{ "Endpoint",		SEC_PEER,	kw_endpoint,	0 },
	{ "PersistentKeepalive", SEC_PEER,	kw_keepalive,	0 },
};

#define CONFIG_NKEYWORDS \
	(sizeof(config_keywords) / sizeof(config_keywords[0]))

static const char *
config_section_name(enum config_section s)
{
	return s == SEC_INTERFACE ? "[Interface]" : "[Peer]";
}

/* Adds the staged [Peer] to dev. */
static int
config_end_peer(struct config_ctx *ctx)
{
	struct wg_peerconf	*np, *sp = ctx->speer;
	struct wg_prefix	*aips;
	size_t			 i, naips, cap;
	unsigned long		 save, *lines;

	if (sp == NULL)
		return 0;
	save = ctx->lineno;
	ctx->lineno = ctx->peer_line;
	ctx->key = "PublicKey";
	if (!ctx->has_pubkey) {
		config_error(ctx, "missing in [Peer] section");
		goto fail;
	}
	for (i = 0; i < ctx->dev->npeers; i++) {
		if (memcmp(ctx->dev->peers[i].pubkey, ctx->pubkey, 32) == 0) {
			config_error(ctx, "duplicate peer (same public key "
			    "as an earlier [Peer])");
			goto fail;
		}
	}
	lines = reallocarray(ctx->peer_lines, ctx->dev->npeers + 1,
	    sizeof(*lines));
	if (lines == NULL) {
		config_error(ctx, "out of memory");
		goto fail;
	}
	ctx->peer_lines = lines;
	lines[ctx->dev->npeers] = ctx->peer_line;
	if ((np = wgconf_add_peer(ctx->dev, ctx->pubkey)) == NULL) {
		config_error(ctx, "out of memory");
		goto fail;
	}
	/* The file is the whole configuration, as for wg setconf. */
	np->flags |= sp->flags | WGPEER_REPLACE_AIPS;
	memcpy(np->psk, sp->psk, sizeof(np->psk));
	np->endpoint = sp->endpoint;
	np->keepalive = sp->keepalive;
	/* Swap the arrays: each struct still owns one. */
	aips = np->aips;
	naips = np->naips;
	cap = np->aips_cap;
	np->aips = sp->aips;
	np->naips = sp->naips;
	np->aips_cap = sp->aips_cap;
	sp->aips = aips;
	sp->naips = naips;
	sp->aips_cap = cap;

	wgconf_free(&ctx->stage);
	wgconf_init(&ctx->stage);
	ctx->speer = NULL;
	ctx->has_pubkey = 0;
	ctx->lineno = save;
	return 0;
 fail:
	ctx->lineno = save;
	return -1;
}

static int
config_begin_peer(struct config_ctx *ctx)
{
	static const uint8_t	zero[32];

	wgconf_free(&ctx->stage);
	wgconf_init(&ctx->stage);
	if ((ctx->speer = wgconf_add_peer(&ctx->stage, zero)) == NULL) {
		config_error(ctx, "out of memory");
		return -1;
	}
	ctx->has_pubkey = 0;
	ctx->peer_line = ctx->lineno;
	return 0;
}

static int
config_section_line(struct config_ctx *ctx, char *line)
{
	size_t	len;

	if (ctx->section == SEC_PEER && config_end_peer(ctx) == -1)
		return -1;
	ctx->seen = 0;
	ctx->key = line;
	if (strcasecmp(line, "[Interface]") == 0) {
		if (ctx->seen_interface) {
			config_error(ctx, "duplicate section");
			return -1;
		}
		ctx->seen_interface = 1;
		ctx->section = SEC_INTERFACE;
		return 0;
	}
	if (strcasecmp(line, "[Peer]") == 0) {
		ctx->section = SEC_PEER;
		return config_begin_peer(ctx);
	}
	/* Quote the section only if it is a word in brackets. */
	len = strlen(line);
	if (line[len - 1] == ']') {
		line[len - 1] = '\0';
		if (!config_is_word(line + 1))
			ctx->key = NULL;
		line[len - 1] = ']';
	} else
		ctx->key = NULL;
	config_error(ctx, "unknown section (only [Interface] and [Peer])");
	return -1;
}

/*
 * The keyword nearest to an unknown key (ListnPort: ListenPort), if
 * it is at most 2 edits away (Levenshtein, case ignored), or NULL.
 */
static const struct config_keyword *
config_nearest_key(const char *key)
{
	const struct config_keyword	*best = NULL;
	size_t				 i, a, b, la = strlen(key), lb;
	unsigned int			 d[33], prev, tmp, bestd = 3;

	if (la > 32)
		return NULL;
	for (i = 0; i < CONFIG_NKEYWORDS; i++) {
		const char	*w = config_keywords[i].name;

		if ((lb = strlen(w)) > 32)
			continue;
		for (b = 0; b <= lb; b++)
			d[b] = (unsigned int)b;
		for (a = 1; a <= la; a++) {
			prev = d[0];
			d[0] = (unsigned int)a;
			for (b = 1; b <= lb; b++) {
				tmp = d[b];
				d[b] = prev + (tolower((unsigned char)key[a - 1]) !=
				    tolower((unsigned char)w[b - 1]));
				if (d[b - 1] + 1 < d[b])
					d[b] = d[b - 1] + 1;
				if (tmp + 1 < d[b])
					d[b] = tmp + 1;
				prev = tmp;
			}
		}
		if (d[lb] < bestd) {
			bestd = d[lb];
			best = &config_keywords[i];
		}
	}
	return best;
}

static int
config_key_line(struct config_ctx *ctx, char *line)
{
	const struct config_keyword	*kw = NULL;
	char				*eq, *key, *value;
	size_t				 i;

	if ((eq = strchr(line, '=')) == NULL) {
		/* Print none of the line: it may be a pasted key. */
		ctx->key = NULL;
		config_error(ctx, "syntax error: expected \"Key = Value\" "
		    "or a [Section]");
		return -1;
	}
	*eq = '\0';
	key = config_trim(line);
	value = config_trim(eq + 1);
	ctx->key = key;
	if (*key == '\0') {
		ctx->key = NULL;
		config_error(ctx, "syntax error: no key before '='");
		return -1;
	}
	for (i = 0; i < CONFIG_NKEYWORDS; i++) {
		if (strcasecmp(config_keywords[i].name, key) == 0) {
			kw = &config_keywords[i];
			break;
		}
	}
	if (kw == NULL) {
		/*
		 * Name the key only if it looks like one: a pasted key
		 * ("base64=") must not end up in a log.
		 */
		if (!config_is_word(key) || *value == '\0') {
			ctx->key = NULL;
			config_error(ctx, "syntax error: expected \"Key = "
			    "Value\" or a [Section]");
		} else if ((kw = config_nearest_key(key)) != NULL)
			config_error(ctx, "unknown key; did you mean %s?",
			    kw->name);
		else
			config_error(ctx, "unknown key");
		return -1;
	}
	if (kw->flags & KW_WGQUICK) {
		config_error(ctx, "a wg-quick key, not supported by wgcardd "
		    "(use the system's network configuration instead)");
		return -1;
	}
	if (ctx->section == SEC_NONE) {
		config_error(ctx, "key outside a section");
		return -1;
	}
	if (kw->section != ctx->section) {
		config_error(ctx, "not a key of the %s section",
		    config_section_name(ctx->section));
		return -1;
	}
	if (!(kw->flags & KW_MULTI) && (ctx->seen & (1ULL << i))) {
		config_error(ctx, "given twice in the same section");
		return -1;
	}
	ctx->seen |= 1ULL << i;
	if (*value == '\0' && !(kw->flags & KW_MULTI)) {
		config_error(ctx, "empty value");
		return -1;
	}
	return kw->fn(ctx, value);
}

/* Reads the whole file into b; wipes what it read on every path. */
static int
config_read(struct config_ctx *ctx, struct buf *b)
{
	char	chunk[4096];
	ssize_t	n;
	int	ret = 0;

	for (;;) {
		n = read(ctx->fd, chunk, sizeof(chunk));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			config_error(ctx, "read: %s", strerror(errno));
			ret = -1;
			break;
		}
		if (n == 0)
			break;
		if (b->len + (size_t)n > CONFIG_MAX_SIZE) {
			config_error(ctx, "file larger than %d bytes",
			    CONFIG_MAX_SIZE);
			ret = -1;
			break;
		}
		if (buf_append(b, chunk, (size_t)n) == -1) {
			config_error(ctx, "out of memory");
			ret = -1;
			break;
		}
	}
	sodium_memzero(chunk, sizeof(chunk));
	return ret;
}

/*
 * A peer with the interface's own public key (an easy mix-up: the
 * peer's key pasted into CardPublicKey) would be dropped by the
 * handshake process, as the kernel drops it, and the tunnel would stay
 * down without a word: refused here, naming both lines.
 */
static int
config_check_own_key(struct config_ctx *ctx)
{
	uint8_t		 own[32];
	const char	*key;
	unsigned long	 line;
	size_t		 i;

	if (ctx->extra->has_card_pub) {
		memcpy(own, ctx->extra->card_pub, sizeof(own));
		key = "CardPublicKey";
		line = ctx->card_pub_line;
	} else if (ctx->dev->flags & WGDEV_HAS_PRIVKEY) {
		if (crypto_scalarmult_base(own, ctx->dev->privkey) != 0)
			return 0;
		key = "PrivateKey";
		line = ctx->privkey_line;
	} else
		return 0;
	for (i = 0; i < ctx->dev->npeers; i++) {
		if (sodium_memcmp(own, ctx->dev->peers[i].pubkey, 32) != 0)
			continue;
		ctx->lineno = ctx->peer_lines != NULL ? ctx->peer_lines[i] : 0;
		ctx->key = "PublicKey";
		config_error(ctx, "the interface's own public key (%s, line "
		    "%lu): a peer with it would be dropped; give the peer's "
		    "key here%s", key, line, ctx->extra->has_card_pub ?
		    " and the card's (wgcardctl card pubkey) in CardPublicKey" :
		    "");
		sodium_memzero(own, sizeof(own));
		return -1;
	}
	sodium_memzero(own, sizeof(own));
	return 0;
}

/* IPv6 needs an MTU of 1280 at least (RFC 8200). */
static int
config_check_mtu(struct config_ctx *ctx)
{
	size_t	i;

	if (ctx->dev->mtu == 0 || ctx->dev->mtu >= 1280)
		return 0;
	for (i = 0; i < ctx->dev->naddrs; i++) {
		if (ctx->dev->addrs[i].family == AF_INET6) {
			ctx->lineno = ctx->mtu_line;
			ctx->key = ctx->mtu_key;
			config_error(ctx, "below 1280, the minimum for the "
			    "IPv6 address of this interface");
			return -1;
		}
	}
	return 0;
}

static int
config_parse_text(struct config_ctx *ctx, char *p, size_t len)
{
	char	*end = p + len, *nl, *line, *hash;

	while (p < end) {
		ctx->lineno++;
		ctx->key = NULL;
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		*nl = '\0';
		if (memchr(p, '\0', (size_t)(nl - p)) != NULL) {
			config_error(ctx, "NUL byte in line");
			return -1;
		}
		line = p;
		p = nl + 1;
		if ((hash = strchr(line, '#')) != NULL)
			*hash = '\0';
		line = config_trim(line);
		if (*line == '\0')
			continue;
		if (*line == '[') {
			if (config_section_line(ctx, line) == -1)
				return -1;
		} else if (config_key_line(ctx, line) == -1)
			return -1;
	}
	ctx->key = NULL;
	if (ctx->section == SEC_PEER && config_end_peer(ctx) == -1)
		return -1;
	if (config_check_card(ctx) == -1 || config_check_own_key(ctx) == -1)
		return -1;
	return config_check_mtu(ctx);
}

int
config_parse_file(const char *path, struct wg_devconf *out,
    struct config_extra *extra, char *err, size_t errlen)
{
	struct config_ctx	ctx;
	struct stat		st;
	struct buf		b;
	int			ret = -1;

	wgconf_init(out);
	memset(extra, 0, sizeof(*extra));
	extra->keysource = CONFIG_KEYSOURCE_FILE;
	memset(&ctx, 0, sizeof(ctx));
	ctx.path = path;
	ctx.err = err;
	ctx.errlen = errlen;
	ctx.dev = out;
	ctx.extra = extra;
	wgconf_init(&ctx.stage);
	buf_init(&b);
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if ((extra->path = strdup(path)) == NULL) {
		config_error(&ctx, "out of memory");
		ctx.fd = -1;
		goto done;
	}

	if ((ctx.fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1) {
		config_error(&ctx, "%s", strerror(errno));
		goto done;
	}
	if (fstat(ctx.fd, &st) == -1) {
		config_error(&ctx, "fstat: %s", strerror(errno));
		goto done;
	}
	if (!S_ISREG(st.st_mode)) {
		config_error(&ctx, "not a regular file");
		goto done;
	}
	/*
	 * Like wg setconf: the file replaces every peer, and each peer's
	 * allowed IPs.
	 */
	out->flags |= WGDEV_REPLACE_PEERS;
	if (config_read(&ctx, &b) == -1)
		goto done;
	if (b.len == 0) {
		ret = 0;
		goto done;
	}
	ret = config_parse_text(&ctx, b.data, b.len);
 done:
	if (ctx.fd != -1)
		close(ctx.fd);
	buf_free(&b);
	wgconf_free(&ctx.stage);
	free(ctx.peer_lines);
	sodium_memzero(ctx.pubkey, sizeof(ctx.pubkey));
	if (ret != 0) {
		wgconf_free(out);
		wgconf_init(out);
		config_extra_free(extra);
	}
	return ret;
}

/* The variables of config_parse_env and the keys they stand for. */
static const struct {
	const char	*var, *key;
} config_env[] = {
	{ "WGCARD_KEY_SOURCE",		"KeySource" },
	{ "WGCARD_READER",		"Reader" },
	{ "WGCARD_CARD_SERIAL",		"CardSerial" },
	{ "WGCARD_CARD_PUBLIC_KEY",	"CardPublicKey" },
	{ "WGCARD_PIN_FILE",		"PinFile" },
	{ "WGCARD_PIN_CREDENTIAL",	"PinCredential" },
	{ "WGCARD_AUDIT_LOG",		"AuditLog" },
};

const char *
config_env_first(void)
{
	size_t	i;

	for (i = 0; i < sizeof(config_env) / sizeof(config_env[0]); i++)
		if (getenv(config_env[i].var) != NULL)
			return config_env[i].var;
	return NULL;
}

int
config_parse_env(struct config_extra *extra, int *found, char *err,
    size_t errlen)
{
	const size_t		 nvars = sizeof(config_env) / sizeof(config_env[0]);
	struct config_ctx	 ctx;
	struct wg_devconf	 dev;
	struct buf		 b;
	const char		*v, *line[sizeof(config_env) /
				    sizeof(config_env[0]) + 1];
	char			 msg[CONFIG_ERR_MAX], *why;
	size_t			 i, n = 0;
	int			 ret = -1;

	memset(extra, 0, sizeof(*extra));
	extra->keysource = CONFIG_KEYSOURCE_FILE;
	*found = 0;
	buf_init(&b);
	buf_printf(&b, "[Interface]\n");
	line[0] = NULL;
	for (i = 0; i < nvars; i++) {
		if ((v = getenv(config_env[i].var)) == NULL)
			continue;
		/* One line per variable: a line break would add keys. */
		if (strpbrk(v, "\r\n") != NULL || *v == '\0') {
			snprintf(err, errlen, "environment: %s: %s",
			    config_env[i].var, *v == '\0' ? "empty" :
			    "contains a line break");
			buf_free(&b);
			return -1;
		}
		buf_printf(&b, "%s = %s\n", config_env[i].key, v);
		line[++n] = config_env[i].var;
	}
	if (n == 0) {
		buf_free(&b);
		return 0;
	}
	*found = (int)n;
	memset(&ctx, 0, sizeof(ctx));
	ctx.path = "environment";
	ctx.err = msg;
	ctx.errlen = sizeof(msg);
	ctx.fd = -1;
	wgconf_init(&dev);
	wgconf_init(&ctx.stage);
	ctx.dev = &dev;
	ctx.extra = extra;
	msg[0] = '\0';
	ret = config_parse_text(&ctx, b.data, b.len);
	wgconf_free(&ctx.stage);
	free(ctx.peer_lines);
	wgconf_free(&dev);
	buf_free(&b);
	if (ret == 0)
		return 0;
	/* "environment:LINE: Key: why" -> "environment: VARIABLE: why" */
	if (ctx.lineno >= 2 && ctx.lineno <= n + 1 &&
	    (why = strstr(msg, ": ")) != NULL &&
	    (why = strstr(why + 2, ": ")) != NULL)
		snprintf(err, errlen, "environment: %s: %s",
		    line[ctx.lineno - 1], why + 2);
	else
		snprintf(err, errlen, "%s", msg);
	config_extra_free(extra);
	return -1;
}

/* wg-quick's file for its CONFIG_FILE argument, as wg-quick finds it. */
static int
config_wgquick_path(pid_t ppid, const char *arg, char *path, size_t len)
{
	static const char	*dirs[] = { "/etc/wireguard",
				    "/usr/local/etc/wireguard" };
	size_t			 i, n = strlen(arg);

	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)arg[i]) &&
		    strchr("_=+.-", arg[i]) == NULL)
			break;
	if (i == n && n >= 1 && n <= 15) {
		for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
			snprintf(path, len, "%s/%s.conf", dirs[i], arg);
			if (access(path, F_OK) == 0)
				return 0;
		}
		return -1;
	}
	if (arg[0] == '/')
		snprintf(path, len, "%s", arg);
	else
		snprintf(path, len, "/proc/%ld/cwd/%s", (long)ppid, arg);
	return 0;
}

int
config_check_wgquick_save(pid_t ppid, const struct config_extra *extra,
    char *err, size_t errlen)
{
	struct config_ctx	 ctx;
	struct buf		 b;
	char			 proc[64], args[4096], path[4096], *a, *end;
	char			*p, *nl, *line, *eq, *key, *val;
	unsigned long		 lineno = 0, save_line = 0;
	ssize_t			 n;
	int			 fd, inif = 0, has_priv = 0;

	if (extra->keysource == CONFIG_KEYSOURCE_OPENPGP)
		return 0;	/* the key is the card's: nothing to lose */
	snprintf(proc, sizeof(proc), "/proc/%ld/cmdline", (long)ppid);
	if ((fd = open(proc, O_RDONLY | O_CLOEXEC)) == -1)
		return 0;
	n = read(fd, args, sizeof(args) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	args[n] = '\0';
	end = args + n;
	/* bash /usr/bin/wg-quick up FILE */
	for (a = args; a < end; a += strlen(a) + 1) {
		p = strrchr(a, '/');
		if (strcmp(p != NULL ? p + 1 : a, "wg-quick") == 0)
			break;
	}
	if (a >= end || (a += strlen(a) + 1) >= end || strcmp(a, "up") != 0 ||
	    (a += strlen(a) + 1) >= end)
		return 0;
	if (config_wgquick_path(ppid, a, path, sizeof(path)) == -1)
		return 0;
	memset(&ctx, 0, sizeof(ctx));
	ctx.path = path;
	if ((ctx.fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1)
		return 0;
	buf_init(&b);
	if (config_read(&ctx, &b) == 0 && buf_append(&b, "", 1) == 0) {
		for (p = b.data; p != NULL && *p != '\0'; p = nl) {
			lineno++;
			if ((nl = strchr(p, '\n')) != NULL)
				*nl++ = '\0';
			line = p;
			if ((eq = strchr(line, '#')) != NULL)
				*eq = '\0';
			line = config_trim(line);
			if (*line == '[') {
				inif = strcasecmp(line, "[Interface]") == 0;
				continue;
			}
			if (!inif || (eq = strchr(line, '=')) == NULL)
				continue;
			*eq = '\0';
			key = config_trim(line);
			val = config_trim(eq + 1);
			if (strcasecmp(key, "PrivateKey") == 0 && *val != '\0')
				has_priv = 1;
			else if (strcasecmp(key, "SaveConfig") == 0 &&
			    strcmp(val, "true") == 0)
				save_line = lineno;
		}
	}
	close(ctx.fd);
	buf_free(&b);	/* wipes: the file holds a private key */
	if (!has_priv || save_line == 0)
		return 0;
	snprintf(err, errlen, "%s:%lu: SaveConfig: wg-quick would write this "
	    "file back without its PrivateKey (wgcardd never gives the "
	    "private key out, so wg showconf has none): remove SaveConfig, or "
	    "keep the key on a card (WGCARD_KEY_SOURCE=openpgp)",
	    strncmp(path, "/proc/", 6) == 0 ? a : path, save_line);
	return -1;
}

void
config_extra_free(struct config_extra *extra)
{
	free(extra->pin_file);
	free(extra->pin_credential);
	free(extra->audit_log);
	free(extra->path);
	memset(extra, 0, sizeof(*extra));
}

/* "CONF:LINE: KEY: " before a PIN source's message, or "". */
static void
config_pin_where(const struct config_extra *extra, char *out, size_t len)
{
	if (extra->path == NULL || extra->pin_line == 0)
		out[0] = '\0';
	else
		snprintf(out, len, "%s:%lu: %s: ", extra->path,
		    extra->pin_line, extra->pin_file != NULL ? "PinFile" :
		    "PinCredential");
}

int
config_read_pin(const struct config_extra *extra,
    uint8_t pin[static CONFIG_PIN_MAX + 1], size_t *len, char *err,
    size_t errlen)
{
	char		 path[4096], where[CONFIG_ERR_MAX / 2];
	uint8_t		 buf[CONFIG_PIN_MAX + 3];
	const char	*dir;
	struct stat	 st;
	ssize_t		 n;
	size_t		 got = 0;
	int		 fd, ret = -1;

	*len = 0;
	config_pin_where(extra, where, sizeof(where));
	if (extra->pin_file != NULL)
		snprintf(path, sizeof(path), "%s", extra->pin_file);
	else if (extra->pin_credential != NULL) {
		if ((dir = getenv("CREDENTIALS_DIRECTORY")) == NULL ||
		    *dir == '\0') {
			snprintf(err, errlen, "%sPinCredential %s: "
			    "$CREDENTIALS_DIRECTORY is not set: not under "
			    "systemd, whose LoadCredential= sets it",
			    where, extra->pin_credential);
			return -2;
		}
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir,
		    extra->pin_credential) >= sizeof(path)) {
			snprintf(err, errlen, "%sPinCredential: path too "
			    "long", where);
			return -1;
		}
	} else
		return 0;
	/*
	 * Non-blocking, so that a FIFO or a device put there cannot stop
	 * the parent in open(2); no symlink. The checks below are on what
	 * was opened (fstat), not on the name.
	 */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW |
	    O_NONBLOCK)) == -1) {
		snprintf(err, errlen, "%s%s: %s%s", where, path,
		    strerror(errno), errno == ELOOP ? " (a symlink: give the "
		    "file itself)" : "");
		return -1;
	}
	if (fstat(fd, &st) == -1) {
		snprintf(err, errlen, "%s%s: fstat: %s", where, path,
		    strerror(errno));
		goto done;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s%s: not a regular file (a FIFO, "
		    "device or directory is refused)", where, path);
		goto done;
	}
	if (st.st_uid != 0) {
		snprintf(err, errlen, "%s%s: PIN file is owned by uid %u, not "
		    "root; chown root it", where, path,
		    (unsigned int)st.st_uid);
		goto done;
	}
	if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
		snprintf(err, errlen, "%s%s: PIN file is accessible by group "
		    "or others (mode %04o); chmod 600 it", where, path,
		    (unsigned int)(st.st_mode & 07777));
		goto done;
	}
	if (st.st_size > (off_t)sizeof(buf)) {
		snprintf(err, errlen, "%s%s: %jd bytes, too large for a PIN "
		    "of %d to %d bytes on one line; nothing was sent to the "
		    "card", where, path, (intmax_t)st.st_size,
		    CONFIG_PIN_MIN, CONFIG_PIN_MAX);
		goto done;
	}
	while (got < sizeof(buf)) {
		n = read(fd, buf + got, sizeof(buf) - got);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			snprintf(err, errlen, "%s%s: read: %s", where, path,
			    strerror(errno));
			goto done;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	if (got > 0 && buf[got - 1] == '\n')
		got--;
	if (got > 0 && buf[got - 1] == '\r')
		got--;
	if (got < CONFIG_PIN_MIN || got > CONFIG_PIN_MAX ||
	    memchr(buf, '\n', got) != NULL || memchr(buf, '\0', got) != NULL) {
		snprintf(err, errlen, "%s%s: not a PIN of %d to %d bytes on "
		    "one line (what OpenPGP cards take for the user PIN); "
		    "nothing was sent to the card", where, path,
		    CONFIG_PIN_MIN, CONFIG_PIN_MAX);
		goto done;
	}
	memcpy(pin, buf, got);
	*len = got;
	ret = 1;
 done:
	sodium_memzero(buf, sizeof(buf));
	close(fd);
	return ret;
}
