/*
 * pcsc.c: the PC/SC transport (pcsclite): context, readers, one card
 * connection, transactions, APDUs (see pcsc.h). No card application.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <PCSC/winscard.h>
#include <PCSC/wintypes.h>
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
	struct pcsc_reject	lost;		/* pcsc_close_lost's card */
	int			has_lost;
	int			lost_here;	/* the probe looks at it */
	int			exclusive;	/* SCARD_SHARE_EXCLUSIVE */
	int			waiting;	/* in SCardBeginTransaction
						 * (atomic: read by others) */
};

int
pcsc_errno(long rv)
{
	switch ((unsigned long)rv) {
	case SCARD_S_SUCCESS:
		return 0;
	case SCARD_W_RESET_CARD:
		return -ECONNRESET;
	case SCARD_W_REMOVED_CARD:
	case SCARD_E_NO_SMARTCARD:
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

/*
 * Reader name's state as PC/SC has it now (the event counter in the high
 * 16 bits of *state, SCARD_STATE_* in the low): SCardGetStatusChange's
 * answer, *state set when it is SCARD_S_SUCCESS or SCARD_E_TIMEOUT.
 */
static LONG
pcsc_state(struct pcsc_conn *c, const char *name, DWORD *state)
{
	SCARD_READERSTATE	st;
	LONG			rv;

	memset(&st, 0, sizeof(st));
	st.szReader = name;
	st.dwCurrentState = SCARD_STATE_UNAWARE;
	rv = SCardGetStatusChange(c->ctx, 0, &st, 1);
	if (rv == SCARD_S_SUCCESS || rv == SCARD_E_TIMEOUT)
		*state = st.dwEventState;
	return rv;
}

/* The event counter of reader name's slot in *event: 0, or -1. */
static int
pcsc_event(struct pcsc_conn *c, const char *name, DWORD *event)
{
	DWORD	state;

	if (pcsc_state(c, name, &state) != SCARD_S_SUCCESS)
		return -1;
	*event = state >> 16;
	return 0;
}

void
pcsc_close_lost(struct pcsc_conn *c)
{
	c->has_lost = c->has_ctx && c->has_card && c->reader[0] != '\0' &&
	    pcsc_event(c, c->reader, &c->lost.event) == 0;
	if (c->has_lost)
		snprintf(c->lost.name, sizeof(c->lost.name), "%s", c->reader);
	pcsc_close(c);
}

int
pcsc_lost_here(const struct pcsc_conn *c)
{
	return c->lost_here;
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
	c->has_lost = 0;	/* a new pcscd counts events afresh */
}

int
pcsc_transmit(struct pcsc_conn *c, const uint8_t *apdu, size_t alen,
    uint8_t *resp, size_t *rlen)
{
	const SCARD_IO_REQUEST	*pci;
	DWORD			 n = (DWORD)*rlen;
	LONG			 rv;

	if (!c->has_card)
		return -ENODEV;
	pci = c->proto == SCARD_PROTOCOL_T0 ? SCARD_PCI_T0 : SCARD_PCI_T1;
	/*
	 * T=0 has no Le after command data (ISO 7816-3 12.2.4: case 4
	 * goes as case 3, the answer comes by GET RESPONSE after 61xx).
	 * A CCID driver in TPDU mode drops it; a reader that passes APDUs
	 * through does not, and the card then sees a byte too many. Drop
	 * it here, as OpenSC does (apdu.c, sc_apdu2bytes).
	 */
	if (c->proto == SCARD_PROTOCOL_T0 && alen > 5 && apdu[4] != 0 &&
	    alen == 6 + (size_t)apdu[4])
		alen--;
	rv = SCardTransmit(c->card, pci, apdu, (DWORD)alen, NULL, resp, &n);
	if (rv != SCARD_S_SUCCESS)
		return pcsc_errno(rv);
	if (n > *rlen)
		return -EPROTO;
	*rlen = n;
	return 0;
}

/*
 * pcsclite's SCardBeginTransaction does not fail while another client
 * holds a transaction: it asks pcscd again and again until that one
 * ends (SCardStatus waits too). waiting says so to the caller's
 * watchdog.
 */
int
pcsc_begin(struct pcsc_conn *c)
{
	LONG	rv;

	if (!c->has_card)
		return -ENODEV;
	__atomic_store_n(&c->waiting, 1, __ATOMIC_RELEASE);
	rv = SCardBeginTransaction(c->card);
	__atomic_store_n(&c->waiting, 0, __ATOMIC_RELEASE);
	return pcsc_errno(rv);
}

int
pcsc_waiting(const struct pcsc_conn *c)
{
	return __atomic_load_n(&c->waiting, __ATOMIC_ACQUIRE);
}

void
pcsc_set_exclusive(struct pcsc_conn *c, int on)
{
	c->exclusive = on != 0;
}

int
pcsc_reconnect(struct pcsc_conn *c)
{
	LONG	rv;

	if (!c->has_card)
		return -ENODEV;
	rv = SCardReconnect(c->card, c->exclusive ? SCARD_SHARE_EXCLUSIVE :
	    SCARD_SHARE_SHARED, SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1,
	    SCARD_LEAVE_CARD, &c->proto);
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
	/* SCardStatus too waits out another client's transaction. */
	__atomic_store_n(&c->waiting, 1, __ATOMIC_RELEASE);
	rv = SCardStatus(c->card, name, &nlen, &state, &proto, atr, &atrlen);
	__atomic_store_n(&c->waiting, 0, __ATOMIC_RELEASE);
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

/*
 * Tries one reader: 1 taken, 0 not ours, 2 turned down, 3 held by
 * another client, -errno.
 */
static int
pcsc_try_reader(struct pcsc_conn *c, const char *name, pcsc_probe_fn probe,
    void *arg, char *why, size_t whylen)
{
	LONG	rv;
	int	r;

	rv = SCardConnect(c->ctx, name, c->exclusive ? SCARD_SHARE_EXCLUSIVE :
	    SCARD_SHARE_SHARED, SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1,
	    &c->card, &c->proto);
	if (rv != SCARD_S_SUCCESS) {
		r = pcsc_errno(rv);
		if (r == -ESHUTDOWN)
			return r;
		if (r == -EBUSY) {
			snprintf(why, whylen, "reader %s: %s", name,
			    c->exclusive ? "another PC/SC client is "
			    "connected" : "another PC/SC client holds it "
			    "exclusively");
			return 3;
		}
		snprintf(why, whylen, "reader %s: %s", name,
		    pcsc_stringify_error(rv));
		return 0;
	}
	c->has_card = 1;
	snprintf(c->reader, sizeof(c->reader), "%s", name);
	if ((r = probe(c, arg, why, whylen)) != 1)
		pcsc_close(c);
	return r;
}

/* The context, established if needed: 0 or -errno (why says why). */
static int
pcsc_context(struct pcsc_conn *c, char *why, size_t whylen)
{
	LONG	rv;
	int	r;

	if (c->has_ctx)
		return 0;
	rv = SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &c->ctx);
	if (rv != SCARD_S_SUCCESS) {
		snprintf(why, whylen, "%s", pcsc_stringify_error(rv));
		r = pcsc_errno(rv);
		return r == -ENODEV ? -ESHUTDOWN : r;
	}
	c->has_ctx = 1;
	c->nreject = 0;
	return 0;
}

/* The readers' names, one after the other (*out: free it): 0 or -errno. */
static int
pcsc_list(struct pcsc_conn *c, char **out)
{
	char	*readers = NULL;
	DWORD	 len = 0;
	LONG	 rv;
	int	 r;

	*out = NULL;
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
	*out = readers;
	return 0;
}

int
pcsc_open(struct pcsc_conn *c, const char *hint, pcsc_probe_fn probe,
    void *arg, char *why, size_t whylen)
{
	DWORD			 state;
	char			*readers, *name;
	LONG			 rv;
	int			 r, found = 0, any = 0, turned_down = 0, held = 0;
	char			 heldwhy[PCSC_READER_MAX + 128] = "";

	snprintf(why, whylen, "no reader");
	pcsc_close(c);
	if ((r = pcsc_context(c, why, whylen)) != 0 ||
	    (r = pcsc_list(c, &readers)) != 0)
		return r;
	for (name = readers; *name != '\0'; name += strlen(name) + 1) {
		if (hint != NULL && hint[0] != '\0' &&
		    strstr(name, hint) == NULL)
			continue;
		any = 1;
		/* Present, and not a card we already turned down? */
		rv = pcsc_state(c, name, &state);
		if (rv != SCARD_S_SUCCESS && rv != SCARD_E_TIMEOUT) {
			if (pcsc_errno(rv) == -ESHUTDOWN) {
				free(readers);
				return -ESHUTDOWN;
			}
			continue;
		}
		if (pcsc_rejected(c, name, state >> 16)) {
			turned_down = 1;
			continue;
		}
		/* The card lost here: still in, or removed since? */
		if (c->has_lost && strcmp(c->lost.name, name) == 0 &&
		    (c->lost.event != state >> 16 ||
		    (state & SCARD_STATE_PRESENT) == 0))
			c->has_lost = 0;
		if ((state & SCARD_STATE_PRESENT) == 0) {
			snprintf(why, whylen, "reader %s: no card", name);
			continue;
		}
		c->lost_here = c->has_lost && strcmp(c->lost.name, name) == 0;
		r = pcsc_try_reader(c, name, probe, arg, why, whylen);
		if (r == 1 && c->lost_here)
			c->has_lost = 0;	/* ours again */
		c->lost_here = 0;
		if (r == -ESHUTDOWN) {
			free(readers);
			return r;
		}
		if (r == 1) {
			found = 1;
			break;
		}
		if (r == 2)
			pcsc_reject(c, name, state >> 16);
		if (r == 3 && !held) {
			held = 1;
			snprintf(heldwhy, sizeof(heldwhy), "%s", why);
		}
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
	/* Likewise a card someone else holds: said until it is let go. */
	if (!found && held) {
		snprintf(why, whylen, "%s", heldwhy);
		return -EBUSY;
	}
	if (!any)
		snprintf(why, whylen, hint != NULL && hint[0] != '\0' ?
		    "no reader matches \"%s\"" : "no reader%s",
		    hint != NULL ? hint : "");
	return found ? 0 : -ENODEV;
}

void
pcsc_reject_current(struct pcsc_conn *c)
{
	DWORD	event;

	if (!c->has_ctx || c->reader[0] == '\0')
		return;
	if (pcsc_event(c, c->reader, &event) == 0)
		pcsc_reject(c, c->reader, event);
}
