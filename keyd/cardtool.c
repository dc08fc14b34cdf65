/*
 * cardtool.c: the OpenPGP application on a PC/SC card (see cardtool.h):
 * the probe that finds it for pcsc_open, the transport glue for
 * openpgp.c, and wgcardctl's daemon-less card tools.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cardtool.h"
#include "openpgp.h"
#include "pcsc.h"

struct cardtool_probe {
	const struct cardtool_sel	*sel;
	struct opgp_info		*info;
	int				 terminated;	/* 6285 seen */
	int				 again;		/* the lost card failed */
	char				 twhy[160];	/* what either said */
};

static int
cardtool_transmit(void *arg, const uint8_t *apdu, size_t alen,
    uint8_t *resp, size_t *rlen)
{
	return pcsc_transmit(arg, apdu, alen, resp, rlen);
}

struct opgp_card
cardtool_card(struct pcsc_conn *c)
{
	struct opgp_card	oc = { cardtool_transmit, c };

	return oc;
}

/*
 * pcsc_open's probe: SELECT (unless peeking finds the application
 * selected already), the application data, the serial.
 */
static int
cardtool_probe(struct pcsc_conn *c, void *arg, char *why, size_t whylen)
{
	struct cardtool_probe	*p = arg;
	struct opgp_card	 oc = cardtool_card(c);
	int			 r;

	if ((r = pcsc_begin(c)) == 0) {
		if (!p->sel->peek || opgp_read_info(&oc, p->info) != 0) {
			if ((r = opgp_select(&oc)) == 0)
				r = opgp_read_info(&oc, p->info);
		}
		pcsc_end(c);
	}
	if (r == -ESHUTDOWN)
		return r;
	if (r != 0) {
		snprintf(why, whylen, "reader %s: %s", pcsc_reader(c),
		    opgp_strerror(r));
		/* Terminated: turned down until removed, no retry loop. */
		if (r == -ENOTRECOVERABLE) {
			p->terminated = 1;
			snprintf(p->twhy, sizeof(p->twhy), "%s", why);
		}
		/*
		 * The card that was ours in this reader and has not been
		 * removed since (another program selected another
		 * application and our SELECT failed, say): not turned
		 * down, looked at again after the caller's back-off.
		 */
		else if (pcsc_lost_here(c) && r != -ENODEV) {
			p->again = 1;
			snprintf(p->twhy, sizeof(p->twhy), "%s; asked again "
			    "after a back-off", why);
			return 0;
		}
		return r == -ENOENT || r == -ENOTRECOVERABLE ? 2 : 0;
	}
	if (p->sel->has_serial && p->info->serial != p->sel->serial) {
		snprintf(why, whylen, "reader %s: card serial %08X, not "
		    "%08X", pcsc_reader(c), p->info->serial, p->sel->serial);
		return 2;
	}
	return 1;
}

int
cardtool_open(struct pcsc_conn *c, const struct cardtool_sel *sel,
    struct opgp_info *info, char *why, size_t whylen)
{
	struct cardtool_probe	p = { sel, info, 0, 0, "" };
	int			r;

	r = pcsc_open(c, sel->reader, cardtool_probe, &p, why, whylen);
	if (r == 0 || r == -ESHUTDOWN ||
	    (!p.terminated && !(p.again && r == -ENODEV)))
		return r;
	/* Said over what the reader's other, empty slots said. */
	snprintf(why, whylen, "%s", p.twhy);
	return p.terminated ? -ENOTRECOVERABLE : -EAGAIN;
}

/*
 * The tools' card: the first that answers (hint: a reader name's
 * substring or NULL), read first without a SELECT when peek is set.
 * *c is set (pcsc_free it) whatever the result: 0 or -errno.
 */
static int
cardtool_tool_open_serial(struct pcsc_conn **c, const char *hint, int peek,
    int has_serial, uint32_t serial, struct opgp_info *info)
{
	struct cardtool_sel	sel;
	char			why[256];

	if ((*c = pcsc_new()) == NULL)
		return -ENOMEM;
	memset(&sel, 0, sizeof(sel));
	if (hint != NULL)
		snprintf(sel.reader, sizeof(sel.reader), "%s", hint);
	sel.peek = peek;
	sel.has_serial = has_serial;
	sel.serial = serial;
	return cardtool_open(*c, &sel, info, why, sizeof(why));
}

static int
cardtool_tool_open(struct pcsc_conn **c, const char *hint, int peek,
    struct opgp_info *info)
{
	return cardtool_tool_open_serial(c, hint, peek, 0, 0, info);
}

int
openpgp_read_info(const char *reader_hint, struct opgp_info *info,
    uint8_t pub[static 32], int *has_pub, char *reader_out,
    size_t reader_len)
{
	struct pcsc_conn	*c;
	struct opgp_card	 oc;
	int			 r;

	*has_pub = 0;
	if ((r = cardtool_tool_open(&c, reader_hint, 0, info)) == 0) {
		oc = cardtool_card(c);
		if (reader_out != NULL)
			snprintf(reader_out, reader_len, "%s",
			    pcsc_reader(c));
		if (pcsc_begin(c) == 0) {
			*has_pub = opgp_read_pubkey(&oc, pub) == 0;
			pcsc_end(c);
		}
	}
	pcsc_free(c);
	return r;
}

int
openpgp_read_pubkey(const char *reader_hint, uint8_t pub[static 32],
    char *reader_out, size_t reader_len)
{
	struct opgp_info	info;
	int			r, has_pub;

	r = openpgp_read_info(reader_hint, &info, pub, &has_pub, reader_out,
	    reader_len);
	if (r != 0)
		return r;
	if (!info.is_cv25519 || !has_pub)
		return -ENOKEY;
	return 0;
}

int
openpgp_peek_serial(const char *reader_hint, uint32_t *serial)
{
	struct pcsc_conn	*c;
	struct opgp_info	 info;
	int			 r;

	if ((r = cardtool_tool_open(&c, reader_hint, 1, &info)) == 0)
		*serial = info.serial;
	pcsc_free(c);
	return r;
}

int
openpgp_card_probe(const char *reader_hint, struct cardtool_probe_info *pi)
{
	struct pcsc_conn	*c;
	struct opgp_card	 oc;
	struct opgp_kdf		 kdf;
	int			 r;

	memset(pi, 0, sizeof(*pi));
	pi->algo = -1;
	if ((r = cardtool_tool_open(&c, reader_hint, 0, &pi->info)) == 0) {
		oc = cardtool_card(c);
		snprintf(pi->reader, sizeof(pi->reader), "%s", pcsc_reader(c));
		if ((r = pcsc_begin(c)) == 0) {
			if (pi->info.is_cv25519 &&
			    opgp_read_pubkey(&oc, pi->pub) == 0)
				pi->has_pub = 1;
			pi->has_key = pi->has_pub || pi->info.has_dec_fpr ||
			    pi->info.dec_key_status > 0;
			if (opgp_read_kdf(&oc, &kdf) == 0)
				pi->kdf_on = kdf.on;
			if ((r = opgp_read_algo_info(&oc)) >= 0)
				pi->algo = r;
			r = 0;
			if (pi->info.manufacturer == OPGP_MFR_YUBICO &&
			    opgp_read_version(&oc, pi->fw) == 0)
				pi->has_fw = 1;
			pcsc_end(c);
		}
	}
	pcsc_free(c);
	return r;
}

int
cardtool_no_cv25519(const struct cardtool_probe_info *pi)
{
	const uint8_t	*f = pi->fw;

	/* Yubico: cv25519 (X25519, Ed25519) from firmware 5.2.3 on. */
	return pi->has_fw && (f[0] < 5 || (f[0] == 5 &&
	    (f[1] < 2 || (f[1] == 2 && f[2] < 3))));
}

int
openpgp_card_init(const char *reader_hint, const struct cardtool_init *in,
    uint8_t pub[static 32], int *retries, int *kdf_done)
{
	struct pcsc_conn	*c;
	struct opgp_info	 info;
	struct opgp_card	 oc;
	int			 r, replaces;

	*kdf_done = 0;
	if ((r = cardtool_tool_open_serial(&c, reader_hint, 0, 1, in->serial,
	    &info)) == 0) {
		oc = cardtool_card(c);
		if (retries != NULL)
			*retries = info.pw3_retries;
		/* Cards that take F9's 87/88 as their PINs (GnuPG's list). */
		replaces = info.manufacturer == OPGP_MFR_YUBICO ||
		    info.manufacturer == OPGP_MFR_FSIJ;
		if (info.pw3_retries == 0)
			r = -EPERM;	/* blocked: spend nothing */
		else if ((r = pcsc_begin(c)) == 0) {
			if (in->kdf) {
				r = opgp_kdf_setup(&oc, replaces,
				    in->admin_pin, in->admin_len, in->user_pin,
				    in->user_len, retries);
				if (r == 0)
					*kdf_done = 1;
				else if (r == -EALREADY)
					r = 0;
			}
			if (r == 0)
				r = opgp_generate_cv25519(&oc, in->admin_pin,
				    in->admin_len, pub, retries);
			else
				(void)opgp_reset_verify(&oc, 0x83);
			pcsc_end(c);
			if (r == 0 && retries != NULL)
				*retries = -1;	/* reset by the good PIN */
		}
	}
	pcsc_free(c);
	return r;
}
