/*
 * test_wgconf.c: growing peers, allowed IPs and addresses in a
 * wg_devconf, and wiping and reusing it.
 */
#include <sys/socket.h>

#include <stdint.h>
#include <string.h>

#include <sodium.h>

#include "wgconf.h"
#include "test.h"

static int
all_zero(const void *p, size_t n)
{
	const uint8_t	*b = p;
	size_t		 i;
	uint8_t		 acc = 0;

	for (i = 0; i < n; i++)
		acc |= b[i];
	return acc == 0;
}

static void
fill(struct wg_devconf *dc, int npeers)
{
	struct wg_peerconf	*p;
	struct wg_prefix	 pfx;
	uint8_t			 pub[32];
	int			 i, j, ok = 1;

	memset(dc->privkey, 0x42, 32);
	dc->flags |= WGDEV_HAS_PRIVKEY;
	for (i = 0; i < npeers; i++) {
		memset(pub, i, 32);
		if ((p = wgconf_add_peer(dc, pub)) == NULL) {
			ok = 0;
			break;
		}
		if (p->flags != 0 || p->naips != 0 || p->aips != NULL ||
		    !all_zero(p->psk, 32))
			ok = 0;
		memset(p->psk, 0x80 | i, 32);
		p->flags |= WGPEER_HAS_PSK;
		for (j = 0; j < i % 7; j++) {
			memset(&pfx, 0, sizeof(pfx));
			pfx.family = AF_INET;
			pfx.cidr = 32;
			pfx.addr.bytes[0] = 10;
			pfx.addr.bytes[2] = (uint8_t)i;
			pfx.addr.bytes[3] = (uint8_t)j;
			if (wgconf_add_aip(p, &pfx) != 0)
				ok = 0;
		}
	}
	CHECK(ok, "added %d peers", npeers);
}

static void
test_build(void)
{
	struct wg_devconf	 dc;
	struct wg_prefix	 pfx;
	int			 i, j, ok = 1;

	wgconf_init(&dc);
	CHECK(dc.npeers == 0 && dc.peers == NULL && dc.naddrs == 0 &&
	    dc.flags == 0 && dc.mtu == 0, "init is empty");
	fill(&dc, 100);
	CHECK(dc.npeers == 100 && dc.peers_cap >= 100, "100 peers");
	for (i = 0; i < 100; i++) {
		struct wg_peerconf *p = &dc.peers[i];

		if (p->pubkey[0] != i || p->pubkey[31] != i ||
		    p->psk[5] != (0x80 | i) || p->naips != (size_t)(i % 7))
			ok = 0;
		for (j = 0; j < i % 7; j++)
			if (p->aips[j].addr.bytes[2] != i ||
			    p->aips[j].addr.bytes[3] != j ||
			    p->aips[j].cidr != 32)
				ok = 0;
	}
	CHECK(ok, "peers and allowed IPs survive growth");

	for (i = 0; i < 9; i++) {
		memset(&pfx, 0, sizeof(pfx));
		pfx.family = AF_INET6;
		pfx.cidr = 64;
		pfx.addr.bytes[15] = (uint8_t)i;
		CHECK(wgconf_add_addr(&dc, &pfx) == 0, "add addr %d", i);
	}
	CHECK(dc.naddrs == 9 && dc.addrs[8].addr.bytes[15] == 8 &&
	    dc.addrs[0].family == AF_INET6, "addresses kept");

	wgconf_free(&dc);
	CHECK(all_zero(&dc, sizeof(dc)), "freed struct is all zero");

	/* Reusable after free. */
	fill(&dc, 3);
	CHECK(dc.npeers == 3 && dc.peers[2].naips == 2, "reused");
	wgconf_free(&dc);
	wgconf_free(&dc);
	CHECK(all_zero(&dc, sizeof(dc)), "double free is harmless");
}

int
main(void)
{
	if (sodium_init() < 0)
		return 1;
	test_build();
	return test_done();
}
