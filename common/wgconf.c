/*
 * wgconf.c: building a struct wg_devconf. Arrays grow by doubling; the
 * peers array holds preshared keys, so it is copied and wiped by hand
 * rather than realloc'd (realloc would leave the old copy behind).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "wgconf.h"

void
wgconf_init(struct wg_devconf *dc)
{
	memset(dc, 0, sizeof(*dc));
}

void
wgconf_free(struct wg_devconf *dc)
{
	size_t	i;

	sodium_memzero(dc->privkey, sizeof(dc->privkey));
	if (dc->peers != NULL) {
		for (i = 0; i < dc->npeers; i++)
			free(dc->peers[i].aips);
		sodium_memzero(dc->peers,
		    dc->peers_cap * sizeof(*dc->peers));
		free(dc->peers);
	}
	free(dc->addrs);
	sodium_memzero(dc, sizeof(*dc));
	wgconf_init(dc);
}

/* Room for one more element in *arr (n used, *cap allocated). */
static int
wgconf_grow(void **arr, size_t n, size_t *cap, size_t size, int wipe)
{
	size_t	ncap;
	void	*na;

	if (n < *cap)
		return 0;
	ncap = *cap == 0 ? 4 : *cap * 2;
	if (ncap > SIZE_MAX / size || ncap < *cap) {
		errno = ENOMEM;
		return -1;
	}
	if ((na = calloc(ncap, size)) == NULL)
		return -1;
	if (*arr != NULL) {
		memcpy(na, *arr, n * size);
		if (wipe)
			sodium_memzero(*arr, *cap * size);
		free(*arr);
	}
	*arr = na;
	*cap = ncap;
	return 0;
}

struct wg_peerconf *
wgconf_add_peer(struct wg_devconf *dc, const uint8_t pubkey[static 32])
{
	struct wg_peerconf	*p;
	void			*arr = dc->peers;

	if (wgconf_grow(&arr, dc->npeers, &dc->peers_cap, sizeof(*p),
	    1) == -1)
		return NULL;
	dc->peers = arr;
	p = &dc->peers[dc->npeers++];
	memset(p, 0, sizeof(*p));
	memcpy(p->pubkey, pubkey, sizeof(p->pubkey));
	return p;
}

int
wgconf_add_aip(struct wg_peerconf *p, const struct wg_prefix *pfx)
{
	void	*arr = p->aips;

	if (wgconf_grow(&arr, p->naips, &p->aips_cap, sizeof(*pfx), 0) == -1)
		return -1;
	p->aips = arr;
	p->aips[p->naips++] = *pfx;
	return 0;
}

int
wgconf_add_addr(struct wg_devconf *dc, const struct wg_prefix *pfx)
{
	void	*arr = dc->addrs;

	if (wgconf_grow(&arr, dc->naddrs, &dc->addrs_cap, sizeof(*pfx),
	    0) == -1)
		return -1;
	dc->addrs = arr;
	dc->addrs[dc->naddrs++] = *pfx;
	return 0;
}
