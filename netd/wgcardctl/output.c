/*
 * output.c: wgcardctl's human-readable output.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wgcardctl.h"

static void
output_ago(long long t)
{
	long long	d = (long long)time(NULL) - t;

	if (t == 0) {
		printf("never\n");
		return;
	}
	if (d < 0)
		d = 0;
	if (d >= 3600)
		printf("%lld hours, ", d / 3600);
	if (d >= 60)
		printf("%lld minutes, ", (d % 3600) / 60);
	printf("%lld seconds ago\n", d % 60);
}

void
output_show(const char *ifname, const struct answer *a)
{
	size_t	i;
	int	in_peer = 0, first_aip = 1;

	for (i = 0; i < a->n; i++) {
		const char	*k = a->keys[i], *v = a->vals[i];

		if (strcmp(k, "interface") == 0)
			printf("interface: %s\n", v);
		else if (strcmp(k, "public_key") == 0)
			printf("  public key: %s\n", v);
		else if (strcmp(k, "listen_port") == 0)
			printf("  listening port: %s\n", v);
		else if (strcmp(k, "fwmark") == 0 && strcmp(v, "0") != 0)
			printf("  fwmark: 0x%lx\n", strtoul(v, NULL, 10));
		else if (strcmp(k, "key_ready") == 0)
			printf("  key: %s\n", strcmp(v, "1") == 0 ? "ready" :
			    "not available (no key, or card locked/absent)");
		else if (strcmp(k, "under_load") == 0)
			printf("  cookie mode: %s\n", strcmp(v, "1") == 0 ?
			    "on (under load)" : "off");
		else if (strcmp(k, "broker_pending") == 0)
			printf("  key broker: %s pending", v);
		else if (strcmp(k, "broker_queued") == 0)
			printf(", %s queued\n", v);
		else if (strcmp(k, "cookie_replies") == 0)
			printf("  cookie replies sent: %s\n", v);
		else if (strcmp(k, "handshakes_dropped") == 0)
			printf("  handshakes dropped: %s\n", v);
		else if (strcmp(k, "peer") == 0) {
			printf("\npeer: %s\n", v);
			in_peer = 1;
			first_aip = 1;
		} else if (in_peer && strcmp(k, "endpoint") == 0)
			printf("  endpoint: %s\n", v);
		else if (in_peer && strcmp(k, "allowed_ip") == 0) {
			printf(first_aip ? "  allowed ips: %s" : ", %s", v);
			first_aip = 0;
			if (i + 1 >= a->n ||
			    strcmp(a->keys[i + 1], "allowed_ip") != 0)
				printf("\n");
		} else if (in_peer && strcmp(k, "latest_handshake") == 0) {
			printf("  latest handshake: ");
			output_ago(strtoll(v, NULL, 10));
		} else if (in_peer && strcmp(k, "rx_bytes") == 0)
			printf("  transfer: %s B received", v);
		else if (in_peer && strcmp(k, "tx_bytes") == 0)
			printf(", %s B sent\n", v);
		else if (in_peer && strcmp(k, "persistent_keepalive") == 0 &&
		    strcmp(v, "0") != 0)
			printf("  persistent keepalive: every %s seconds\n", v);
		else if (in_peer && strcmp(k, "drops") == 0 &&
		    strcmp(v, "0") != 0)
			printf("  dropped: %s packets\n", v);
	}
	(void)ifname;
}

void
output_card_status(const char *ifname, const struct answer *a)
{
	static const struct {
		const char	*key, *label;
	} rows[] = {
		{ "backend", "backend" },
		{ "state", "state" },
		{ "reader", "reader" },
		{ "serial", "serial" },
		{ "fingerprint", "fingerprint" },
		{ "public_key", "public key" },
		{ "pin_retries", "PIN retries left" },
		{ "operations", "operations" },
		{ "last_latency_us", "last latency (us)" },
		{ "queued", "queued" },
	};
	const char	*v;
	size_t		 i;

	printf("interface: %s\n", ifname);
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		if ((v = answer_get(a, rows[i].key)) != NULL)
			printf("  %s: %s\n", rows[i].label, v);
}

void
output_kv(const struct answer *a)
{
	size_t	i;

	for (i = 0; i < a->n; i++)
		printf("%s: %s\n", a->keys[i], a->vals[i]);
}
