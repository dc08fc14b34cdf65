/*
 * uapi.h: the WireGuard cross-platform configuration protocol
 * (https://www.wireguard.com/xplatform/), the text that wg(8) and
 * wg-quick speak over /var/run/wireguard/IFNAME.sock.
 *
 * Parsing: uapi_parse_set() turns the body of a "set=1" request into a
 * struct wg_devconf. Formatting: the uapi_fmt_*() functions write the
 * lines of a "get=1" answer from plain values, so the caller keeps its
 * own state; uapi_format_set() writes a devconf back as a set=1 body.
 */
#ifndef WGCARD_UAPI_H
#define WGCARD_UAPI_H

#include <stddef.h>
#include <sys/types.h>

#include <stdint.h>

#include "buf.h"
#include "wgconf.h"

/* Longest line accepted, without its newline. */
#define UAPI_MAX_LINE	4096

/*
 * The socket protocol (served by control.c, answered by handshake.c): a
 * request is "get=1\n\n", or "set=1\n", lines, and an empty line. The
 * largest request a client may send, whole: wg setconf of 1000 peers
 * with a preshared key, an endpoint, a keepalive and 8 allowed IPs each
 * is about 0.5 MB (docs/decisions.md); the limit leaves room for eight
 * times that, and bounds what a client can make the process hold.
 */
#define UAPI_MAX_REQUEST	(4 * 1024 * 1024)
#define UAPI_MAX_CLIENTS	16
#define UAPI_IDLE_SEC		30

struct control_conn;

/*
 * The length of the request at the start of in (len > 0): > 0; 0 when
 * it is not whole yet; -EINVAL when it is no request of the protocol.
 * A control_proto frame().
 */
ssize_t	uapi_frame(const struct control_conn *, const char *in, size_t len);
/* An answer's end, "errno=N\n\n" (a control_proto end(); no text). */
void	uapi_end(struct buf *, int status, const char *text);

/*
 * Parses the lines after "set=1\n", up to but excluding the empty line
 * that ends the request; every line must end with '\n'. Returns 0, or
 * -EINVAL (a bad value), -EPROTO (unknown key, key at the wrong level,
 * bad syntax) or -ENOMEM, with a message in err ("line N: KEY: why";
 * never a value). out is initialized here; on error it is wiped and
 * left empty. The caller frees it with wgconf_free() in every case.
 */
int	uapi_parse_set(const char *text, size_t len, struct wg_devconf *out,
	    char *err, size_t errlen);

/*
 * Writes a devconf as a set=1 body (without "set=1" and without the
 * final empty line). The private key is written only if with_privkey
 * is set and the devconf has one. Address and MTU are not UAPI keys
 * and are not written. Returns 0 or -1 (ENOMEM).
 */
int	uapi_format_set(const struct wg_devconf *, struct buf *,
	    int with_privkey);

/* One peer of a get=1 answer. */
struct uapi_peer_info {
	uint8_t			pubkey[32];
	uint8_t			psk[32];	/* written only if has_psk */
	int			has_psk;
	union wg_sockaddr	endpoint;	/* sa_family 0: none */
	int64_t			last_handshake_sec;	/* 0: never */
	int64_t			last_handshake_nsec;
	uint64_t		rx_bytes;
	uint64_t		tx_bytes;
	uint16_t		keepalive;	/* seconds, 0 = off */
	int			protocol_version;	/* 0 is written as 1 */
};

/*
 * A get=1 answer is uapi_fmt_device(), then for each peer
 * uapi_fmt_peer() followed by uapi_fmt_aip() for each of its allowed
 * IPs, then uapi_fmt_errno(0). Each returns 0 or -1 (ENOMEM).
 *
 * uapi_fmt_device never writes private_key: the static private key is
 * not in the handshake process (it is on the card or in wgcard-keyd),
 * so wg(8) shows no private key for our interfaces. listen_port is
 * always written, fwmark only when it is not zero (as wireguard-go).
 */
int	uapi_fmt_device(struct buf *, uint16_t port, uint32_t fwmark);
int	uapi_fmt_peer(struct buf *, const struct uapi_peer_info *);
/* addr: 4 or 16 network-order bytes. */
int	uapi_fmt_aip(struct buf *, int family, const uint8_t *addr,
	    uint8_t cidr);
/*
 * Writes "errno=N\n\n", the end of every answer. err is 0 or an errno
 * value of either sign; it is written negative, as wireguard-go does
 * (wg(8) turns it back into a positive errno).
 */
int	uapi_fmt_errno(struct buf *, int err);

/*
 * Shared with the config parser. A numeric endpoint "a.b.c.d:port" or
 * "[v6]:port", port 1-65535. An IPv6 scope "[fe80::1%N]:port" is a
 * number, or an interface name if scope_fn is not NULL (it returns the
 * index, 0 if unknown; if_nametoindex for example). 0 or -1.
 */
int	uapi_parse_endpoint(const char *, union wg_sockaddr *,
	    unsigned int (*scope_fn)(const char *));
/*
 * wg(8) sends link-local endpoints with the interface name as scope
 * ("[fe80::1%eth0]:51820"). uapi_parse_set rejects names unless a
 * resolver is set here: if_nametoindex(3) needs a socket and an ioctl
 * (SIOCGIFINDEX), which a sandbox may not allow. NULL: names refused.
 */
void	uapi_set_scope_resolver(unsigned int (*scope_fn)(const char *));
/*
 * "a.b.c.d/n" or "v6/n"; without "/n" only if cidr_optional (then the
 * full length). Host bits are kept as given. 0 or -1.
 */
int	uapi_parse_prefix(const char *, struct wg_prefix *,
	    int cidr_optional);
/* Writes an endpoint as the protocol shows it. 0 or -1 (ENOMEM). */
int	uapi_fmt_endpoint(struct buf *, const union wg_sockaddr *);

#endif /* WGCARD_UAPI_H */
