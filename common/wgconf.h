/*
 * wgconf.h: one change set to a WireGuard device, as the UAPI "set=1"
 * operation expresses it. Both the UAPI parser (netd/uapi.c) and the
 * config-file parser (netd/config.c) produce it; the handshake process
 * applies it. Key material in it is wiped by wgconf_free().
 */
#ifndef WGCARD_WGCONF_H
#define WGCARD_WGCONF_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

union wg_sockaddr {
	struct sockaddr		sa;
	struct sockaddr_in	sin;
	struct sockaddr_in6	sin6;
};

struct wg_prefix {
	uint8_t		family;		/* AF_INET or AF_INET6 */
	uint8_t		cidr;
	uint8_t		remove;		/* UAPI "allowed_ip=-a.b.c.d/n" */
	union {
		struct in_addr	v4;
		struct in6_addr	v6;
		uint8_t		bytes[16];
	} addr;
};

#define WGPEER_REMOVE		0x01	/* remove=true */
#define WGPEER_UPDATE_ONLY	0x02	/* update_only=true */
#define WGPEER_REPLACE_AIPS	0x04	/* replace_allowed_ips=true */
#define WGPEER_HAS_PSK		0x08	/* preshared_key= (zero key clears) */
#define WGPEER_HAS_ENDPOINT	0x10
#define WGPEER_HAS_KEEPALIVE	0x20

struct wg_peerconf {
	uint8_t			pubkey[32];
	unsigned int		flags;
	uint8_t			psk[32];
	union wg_sockaddr	endpoint;
	uint16_t		keepalive;	/* seconds, 0 = off */
	struct wg_prefix	*aips;
	size_t			naips;
	size_t			aips_cap;
};

#define WGDEV_HAS_PRIVKEY	0x01	/* private_key= (zero key clears) */
#define WGDEV_HAS_PORT		0x02
#define WGDEV_HAS_FWMARK	0x04
#define WGDEV_REPLACE_PEERS	0x08

struct wg_devconf {
	unsigned int		flags;
	uint8_t			privkey[32];	/* wiped by wgconf_free */
	uint16_t		port;
	uint32_t		fwmark;
	struct wg_peerconf	*peers;
	size_t			npeers;
	size_t			peers_cap;

	/* Config-file mode only ([Interface] Address, MTU). */
	struct wg_prefix	*addrs;
	size_t			naddrs;
	size_t			addrs_cap;
	int			mtu;		/* 0 = not set */
};

void			 wgconf_init(struct wg_devconf *);
/* Wipes every key and frees every array; the struct may be reused. */
void			 wgconf_free(struct wg_devconf *);
struct wg_peerconf	*wgconf_add_peer(struct wg_devconf *,
			    const uint8_t pubkey[static 32]);
int			 wgconf_add_aip(struct wg_peerconf *,
			    const struct wg_prefix *);
int			 wgconf_add_addr(struct wg_devconf *,
			    const struct wg_prefix *);

#endif /* WGCARD_WGCONF_H */
