/*
 * pcsc.c: the PC/SC transport of the OpenPGP backend (pcsclite), and
 * the daemon-less card tools of wgcardctl (see pcsc.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <PCSC/winscard.h>
#include <PCSC/wintypes.h>
#include <sodium.h>

#include "openpgp.h"
#include "pcsc.h"

#define PCSC_REJECT_MAX	8

/* Readers whose card we turned down, until their event count moves. */
struct pcsc_reject {
	char	name[PCSC_READER_MAX];
	DWORD	event;
};

struct pcsc_conn {
	SCARDCONTEXT		ctx;
	int			has_ctx;
	SCARDHANDLE		card;
	int			has_card;
	DWORD			proto;
	char			reader[PCSC_READER_MAX];
	struct pcsc_reject	reject[PCSC_REJECT_MAX];
	int			nreject;
};

int
pcsc_errno(long rv)
{
	switch ((unsigned long)rv) {
	case SCARD_S_SUCCESS:
		return 0;
	case SCARD_W_REMOVED_CARD:
	case SCARD_E_NO_SMARTCARD:
	case SCARD_W_RESET_CARD:
	case SCARD_W_UNPOWERED_CARD:
	case SCARD_W_UNRESPONSIVE_CARD:
	case SCARD_E_READER_UNAVAILABLE:
	case SCARD_E_UNKNOWN_READER:
	case SCARD_E_NO_READERS_AVAILABLE:
	case SCARD_E_CARD_UNSUPPORTED:
	case SCARD_W_UNSUPPORTED_CARD:
	case SCARD_E_PROTO_MISMATCH:
		return -ENODEV;
	case SCARD_E_NO_SERVICE:
	case SCARD_E_SERVICE_STOPPED:
	case SCARD_E_INVALID_HANDLE:
	case SCARD_E_INVALID_VALUE:
	case SCARD_F_COMM_ERROR:
		return -ESHUTDOWN;
	case SCARD_E_TIMEOUT:
		return -ETIMEDOUT;
	case SCARD_E_SHARING_VIOLATION:
		return -EBUSY;
	case SCARD_E_NO_MEMORY:
		return -ENOMEM;
	default:
		return -EIO;
	}
}

struct pcsc_conn *
pcsc_new(void)
{
	return calloc(1, sizeof(struct pcsc_conn));
}

void
pcsc_free(struct pcsc_conn *c)
{
	if (c == NULL)
		return;
	pcsc_release(c);
	free(c);
}

int
pcsc_is_open(const struct pcsc_conn *c)
{
	return c->has_card;
}

const char *
pcsc_reader(const struct pcsc_conn *c)
{
	return c->reader;
}

void
pcsc_close(struct pcsc_conn *c)
{
	if (c->has_card)
		SCardDisconnect(c->card, SCARD_LEAVE_CARD);
	c->has_card = 0;
}

void
pcsc_forget_rejects(struct pcsc_conn *c)
{
	c->nreject = 0;
}

void
pcsc_release(struct pcsc_conn *c)
{
	pcsc_close(c);
	if (c->has_ctx)
		SCardReleaseContext(c->ctx);
	c->has_ctx = 0;
	c->nreject = 0;
}

static int
pcsc_transmit(void *arg, const uint8_t *apdu, size_t alen, uint8_t *resp,
    size_t *rlen)
{
	struct pcsc_conn	*c = arg;
	const SCARD_IO_REQUEST	*pci;
	DWORD			 n = (DWORD)*rlen;
	LONG			 rv;

	if (!c->has_card)
		return -ENODEV;
	pci = c->proto == SCARD_PROTOCOL_T0 ? SCARD_PCI_T0 : SCARD_PCI_T1;
	rv = SCardTransmit(c->card, pci, apdu, (DWORD)alen, NULL, resp, &n);
	if (rv != SCARD_S_SUCCESS)
		return pcsc_errno(rv);
	if (n > *rlen)
		return -EPROTO;
	*rlen = n;
	return 0;
}

struct opgp_card
pcsc_card(struct pcsc_conn *c)
{
	struct opgp_card	card = { pcsc_transmit, c };

	return card;
}

int
pcsc_begin(struct pcsc_conn *c)
{
	LONG	rv;

	if (!c->has_card)
		return -ENODEV;
	rv = SCardBeginTransaction(c->card);
	return pcsc_errno(rv);
}

void
pcsc_end(struct pcsc_conn *c)
{
	if (c->has_card)
		SCardEndTransaction(c->card, SCARD_LEAVE_CARD);
}

int
pcsc_check(struct pcsc_conn *c)
{
	char	name[PCSC_READER_MAX];
	DWORD	nlen = sizeof(name), state, proto, atrlen;
	BYTE	atr[MAX_ATR_SIZE];
	LONG	rv;

	if (!c->has_ctx)
		return -ESHUTDOWN;
	if (!c->has_card)
		return -ENODEV;
	atrlen = sizeof(atr);
	rv = SCardStatus(c->card, name, &nlen, &state, &proto, atr, &atrlen);
	if (rv != SCARD_S_SUCCESS)
		return pcsc_errno(rv);
	if ((state & SCARD_PRESENT) == 0)
		return -ENODEV;
	return 0;
}

static int
pcsc_rejected(struct pcsc_conn *c, const char *name, DWORD event)
{
	int	i;

	for (i = 0; i < c->nreject; i++)
		if (strcmp(c->reject[i].name, name) == 0)
			return c->reject[i].event == event;
	return 0;
}

static void
pcsc_reject(struct pcsc_conn *c, const char *name, DWORD event)
{
	int	i;

	for (i = 0; i < c->nreject; i++)
		if (strcmp(c->reject[i].name, name) == 0)
			break;
	if (i == c->nreject) {
		if (c->nreject == PCSC_REJECT_MAX)
			i = 0;
		else
			c->nreject++;
	}
	snprintf(c->reject[i].name, sizeof(c->reject[i].name), "%s", name);
	c->reject[i].event = event;
}

/* Tries one reader: 1 taken, 0 not ours, -errno. */
static int
pcsc_try_reader(struct pcsc_conn *c, const char *name,
    const struct pcsc_sel *sel, struct opgp_info *info, char *why,
    size_t whylen)
{
	struct opgp_card	card;
	LONG			rv;
	int			r;

	rv = SCardConnect(c->ctx, name, SCARD_SHARE_SHARED,
	    SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1, &c->card, &c->proto);
	if (rv != SCARD_S_SUCCESS) {
		r = pcsc_errno(rv);
		if (r == -ESHUTDOWN)
			return r;
		snprintf(why, whylen, "reader %s: %s", name,
		    pcsc_stringify_error(rv));
		return 0;
	}
	c->has_card = 1;
	snprintf(c->reader, sizeof(c->reader), "%s", name);
	card = pcsc_card(c);
	if ((r = pcsc_begin(c)) == 0) {
		if (!sel->peek || opgp_read_info(&card, info) != 0) {
			if ((r = opgp_select(&card)) == 0)
				r = opgp_read_info(&card, info);
		}
		pcsc_end(c);
	}
	if (r == -ESHUTDOWN) {
		pcsc_close(c);
		return r;
	}
	if (r != 0) {
		snprintf(why, whylen, "reader %s: %s", name,
		    opgp_strerror(r));
		pcsc_close(c);
		return r == -ENOENT ? 2 : 0;
	}
	if (sel->has_serial && info->serial != sel->serial) {
		snprintf(why, whylen, "reader %s: card serial %08X, not "
		    "%08X", name, info->serial, sel->serial);
		pcsc_close(c);
		return 2;
	}
	return 1;
}

int
pcsc_open(struct pcsc_conn *c, const struct pcsc_sel *sel,
    struct opgp_info *info, char *why, size_t whylen)
{
	SCARD_READERSTATE	 st;
	char			*readers = NULL, *name;
	DWORD			 len = 0;
	LONG			 rv;
	int			 r, found = 0, any = 0, turned_down = 0;

	snprintf(why, whylen, "no reader");
	pcsc_close(c);
	if (!c->has_ctx) {
		rv = SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL,
		    &c->ctx);
		if (rv != SCARD_S_SUCCESS) {
			snprintf(why, whylen, "%s", pcsc_stringify_error(rv));
			r = pcsc_errno(rv);
			return r == -ENODEV ? -ESHUTDOWN : r;
		}
		c->has_ctx = 1;
		c->nreject = 0;
	}
	rv = SCardListReaders(c->ctx, NULL, NULL, &len);
	if (rv == SCARD_S_SUCCESS && len > 0 && len < 65536 &&
	    (readers = calloc(1, len + 1)) != NULL)
		rv = SCardListReaders(c->ctx, NULL, readers, &len);
	if (rv != SCARD_S_SUCCESS || readers == NULL) {
		free(readers);
		r = pcsc_errno(rv);
		if (r == -ESHUTDOWN || rv == SCARD_E_NO_SERVICE)
			return -ESHUTDOWN;
		return readers == NULL && rv == SCARD_S_SUCCESS ? -ENOMEM :
		    -ENODEV;
	}
	for (name = readers; *name != '\0'; name += strlen(name) + 1) {
		if (sel->reader[0] != '\0' && strstr(name, sel->reader) == NULL)
			continue;
		any = 1;
		/* Present, and not a card we already turned down? */
		memset(&st, 0, sizeof(st));
		st.szReader = name;
		st.dwCurrentState = SCARD_STATE_UNAWARE;
		rv = SCardGetStatusChange(c->ctx, 0, &st, 1);
		if (rv != SCARD_S_SUCCESS && rv != SCARD_E_TIMEOUT) {
			if (pcsc_errno(rv) == -ESHUTDOWN) {
				free(readers);
				return -ESHUTDOWN;
			}
			continue;
		}
		if (pcsc_rejected(c, name, st.dwEventState >> 16)) {
			turned_down = 1;
			continue;
		}
		if ((st.dwEventState & SCARD_STATE_PRESENT) == 0) {
			snprintf(why, whylen, "reader %s: no card", name);
			continue;
		}
		r = pcsc_try_reader(c, name, sel, info, why, whylen);
		if (r == -ESHUTDOWN) {
			free(readers);
			return r;
		}
		if (r == 1) {
			found = 1;
			break;
		}
		if (r == 2)
			pcsc_reject(c, name, st.dwEventState >> 16);
	}
	free(readers);
	/*
	 * A card we turned down is still in its reader: that says more
	 * than the empty slots and the other cards beside it (vpcd and
	 * many real readers have a second, empty slot), so the state
	 * stays on it until it is removed or the rules change.
	 */
	if (!found && turned_down)
		return -EXDEV;
	if (!any)
		snprintf(why, whylen, sel->reader[0] != '\0' ?
		    "no reader matches \"%s\"" : "no reader%s", sel->reader);
	return found ? 0 : -ENODEV;
}

void
pcsc_reject_current(struct pcsc_conn *c)
{
	SCARD_READERSTATE	st;

	if (!c->has_ctx || c->reader[0] == '\0')
		return;
	memset(&st, 0, sizeof(st));
	st.szReader = c->reader;
	st.dwCurrentState = SCARD_STATE_UNAWARE;
	if (SCardGetStatusChange(c->ctx, 0, &st, 1) == SCARD_S_SUCCESS)
		pcsc_reject(c, c->reader, st.dwEventState >> 16);
}

/*
 * The tools' card: the first that answers (hint: a reader name's
 * substring or NULL), read first without a SELECT when peek is set.
 * *c is set (pcsc_free it) whatever the result: 0 or -errno.
 */
static int
pcsc_tool_open(struct pcsc_conn **c, const char *hint, int peek,
    struct opgp_info *info)
{
	struct pcsc_sel	sel;
	char		why[256];

	if ((*c = pcsc_new()) == NULL)
		return -ENOMEM;
	memset(&sel, 0, sizeof(sel));
	if (hint != NULL)
		snprintf(sel.reader, sizeof(sel.reader), "%s", hint);
	sel.peek = peek;
	return pcsc_open(*c, &sel, info, why, sizeof(why));
}

int
openpgp_read_info(const char *reader_hint, struct opgp_info *info,
    uint8_t pub[static 32], int *has_pub, char *reader_out,
    size_t reader_len)
{
	struct pcsc_conn	*c;
	struct opgp_card	 card;
	int			 r;

	*has_pub = 0;
	if ((r = pcsc_tool_open(&c, reader_hint, 0, info)) == 0) {
		card = pcsc_card(c);
		if (reader_out != NULL)
			snprintf(reader_out, reader_len, "%s", c->reader);
		if (pcsc_begin(c) == 0) {
			*has_pub = opgp_read_pubkey(&card, pub) == 0;
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

	if ((r = pcsc_tool_open(&c, reader_hint, 1, &info)) == 0)
		*serial = info.serial;
	pcsc_free(c);
	return r;
}

int
openpgp_card_init(const char *reader_hint, const uint8_t *admin_pin,
    size_t pinlen, uint8_t pub[static 32], int *retries)
{
	struct pcsc_conn	*c;
	struct opgp_info	 info;
	struct opgp_card	 card;
	int			 r;

	if ((r = pcsc_tool_open(&c, reader_hint, 0, &info)) == 0) {
		card = pcsc_card(c);
		if (retries != NULL)
			*retries = info.pw3_retries;
		if (info.pw3_retries == 0)
			r = -EPERM;	/* blocked: spend nothing */
		else if ((r = pcsc_begin(c)) == 0) {
			r = opgp_generate_cv25519(&card, admin_pin, pinlen,
			    pub, retries);
			pcsc_end(c);
			if (r == 0 && retries != NULL)
				*retries = -1;	/* reset by the good PIN */
		}
	}
	pcsc_free(c);
	return r;
}
