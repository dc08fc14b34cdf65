/*
 * pcscpeer: a second PC/SC client for the card tests, the neighbour a
 * real token meets (GnuPG's scdaemon, ykman, OpenSC):
 *
 *	pcscpeer [-r READER] hold SECONDS	 connect EXCLUSIVE, keep it
 *	pcscpeer [-r READER] transaction SECONDS  SHARED, a transaction held
 *	pcscpeer [-r READER] reset		 SHARED, disconnect with
 *						 SCARD_RESET_CARD
 *	pcscpeer [-r READER] select AID		 SHARED, SELECT AID (hex), left
 *						 selected (SCARD_LEAVE_CARD)
 *	pcscpeer [-r READER] decipher		 SHARED, no SELECT: one
 *						 PSO:DECIPHER, as a client
 *						 living off another's PIN
 *
 * The reader is the first whose name contains READER (any when not
 * given) and holds a card, as the broker's Reader = chooses. hold and
 * transaction print "held" once they have the card, then keep it for
 * SECONDS or until SIGTERM/SIGINT. select and decipher print the card's
 * status word ("SW 9000"). Exit status: 0 done, 3 sharing violation
 * (the card is held by another client), 1 any other failure, 2 usage.
 * PCSCLITE_CSOCK_NAME picks the pcscd, as for every pcsclite client.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <PCSC/winscard.h>
#include <PCSC/wintypes.h>

#define PEER_EXIT_SHARING	3

static volatile sig_atomic_t	peer_stop;

static void
peer_signal(int sig)
{
	(void)sig;
	peer_stop = 1;
}

static void
usage(void)
{
	fprintf(stderr, "usage: pcscpeer [-r reader] hold seconds | "
	    "transaction seconds | reset | select aid | decipher\n");
	exit(2);
}

/* The exit status for a failed call, with a line naming it. */
static int
peer_fail(const char *what, LONG rv)
{
	fprintf(stderr, "pcscpeer: %s: %s (0x%08lX)\n", what,
	    pcsc_stringify_error(rv), (unsigned long)rv);
	return rv == (LONG)SCARD_E_SHARING_VIOLATION ? PEER_EXIT_SHARING : 1;
}

/* The first reader whose name has hint and a card in it, into name. */
static LONG
peer_reader(SCARDCONTEXT ctx, const char *hint, char *name, size_t len)
{
	SCARD_READERSTATE	 st;
	char			*readers, *r;
	DWORD			 n = 0;
	LONG			 rv;

	if ((rv = SCardListReaders(ctx, NULL, NULL, &n)) != SCARD_S_SUCCESS)
		return rv;
	if ((readers = calloc(1, n + 1)) == NULL)
		return SCARD_E_NO_MEMORY;
	if ((rv = SCardListReaders(ctx, NULL, readers, &n)) != SCARD_S_SUCCESS) {
		free(readers);
		return rv;
	}
	rv = SCARD_E_UNKNOWN_READER;
	for (r = readers; *r != '\0'; r += strlen(r) + 1) {
		if (hint != NULL && strstr(r, hint) == NULL)
			continue;
		memset(&st, 0, sizeof(st));
		st.szReader = r;
		st.dwCurrentState = SCARD_STATE_UNAWARE;
		if (SCardGetStatusChange(ctx, 0, &st, 1) != SCARD_S_SUCCESS ||
		    (st.dwEventState & SCARD_STATE_PRESENT) == 0) {
			rv = SCARD_E_NO_SMARTCARD;
			continue;
		}
		snprintf(name, len, "%s", r);
		rv = SCARD_S_SUCCESS;
		break;
	}
	free(readers);
	return rv;
}

/* Keeps what was taken for secs seconds, or until a signal. */
static void
peer_keep(double secs)
{
	struct timespec	ts = { 0, 50 * 1000 * 1000 };
	double		left = secs;

	printf("held\n");
	fflush(stdout);
	while (!peer_stop && left > 0) {
		nanosleep(&ts, NULL);
		left -= 0.05;
	}
}

/* One APDU; prints the status word. */
static int
peer_apdu(SCARDHANDLE card, DWORD proto, const BYTE *apdu, DWORD alen)
{
	BYTE	resp[258];
	DWORD	n = sizeof(resp);
	LONG	rv;

	rv = SCardTransmit(card, proto == SCARD_PROTOCOL_T0 ? SCARD_PCI_T0 :
	    SCARD_PCI_T1, apdu, alen, NULL, resp, &n);
	if (rv != SCARD_S_SUCCESS)
		return peer_fail("SCardTransmit", rv);
	if (n < 2) {
		fprintf(stderr, "pcscpeer: answer of %lu bytes\n",
		    (unsigned long)n);
		return 1;
	}
	printf("SW %02X%02X\n", resp[n - 2], resp[n - 1]);
	return 0;
}

/* SELECT by AID (hex), case 4. */
static int
peer_select(SCARDHANDLE card, DWORD proto, const char *hex)
{
	BYTE	apdu[5 + 16 + 1];
	size_t	i, len = strlen(hex);
	char	two[3] = { 0 };
	char	*end;

	if (len == 0 || len % 2 != 0 || len / 2 > 16) {
		fprintf(stderr, "pcscpeer: AID: 1 to 16 bytes in hex\n");
		return 2;
	}
	apdu[0] = 0x00;
	apdu[1] = 0xa4;
	apdu[2] = 0x04;
	apdu[3] = 0x00;
	apdu[4] = (BYTE)(len / 2);
	for (i = 0; i < len / 2; i++) {
		two[0] = hex[2 * i];
		two[1] = hex[2 * i + 1];
		apdu[5 + i] = (BYTE)strtoul(two, &end, 16);
		if (*end != '\0') {
			fprintf(stderr, "pcscpeer: AID: not hex\n");
			return 2;
		}
	}
	apdu[5 + len / 2] = 0x00;
	return peer_apdu(card, proto, apdu, (DWORD)(5 + len / 2 + 1));
}

/*
 * PSO:DECIPHER of X25519's base point (u = 9) in the A6 7F49 86
 * wrapping: 9000 says this client used a PIN it never gave.
 */
static int
peer_decipher(SCARDHANDLE card, DWORD proto)
{
	BYTE	apdu[5 + 39 + 1] = { 0x00, 0x2a, 0x80, 0x86, 0x27,
	    0xa6, 0x25, 0x7f, 0x49, 0x22, 0x86, 0x20 };

	apdu[12] = 0x09;
	apdu[sizeof(apdu) - 1] = 0x00;
	return peer_apdu(card, proto, apdu, sizeof(apdu));
}

int
main(int argc, char *argv[])
{
	SCARDCONTEXT	 ctx;
	SCARDHANDLE	 card;
	struct sigaction sa;
	const char	*hint = NULL, *cmd;
	char		 reader[256], *end;
	double		 secs = 0;
	DWORD		 proto, share = SCARD_SHARE_SHARED;
	DWORD		 disp = SCARD_LEAVE_CARD;
	LONG		 rv;
	int		 ch, r = 0;

	while ((ch = getopt(argc, argv, "r:")) != -1) {
		switch (ch) {
		case 'r':
			hint = optarg;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		usage();
	cmd = argv[0];
	if (strcmp(cmd, "hold") == 0 || strcmp(cmd, "transaction") == 0) {
		if (argc != 2)
			usage();
		secs = strtod(argv[1], &end);
		if (*end != '\0' || secs < 0 || secs > 3600)
			usage();
		if (strcmp(cmd, "hold") == 0)
			share = SCARD_SHARE_EXCLUSIVE;
	} else if (strcmp(cmd, "select") == 0) {
		if (argc != 2)
			usage();
	} else if (strcmp(cmd, "reset") == 0 ||
	    strcmp(cmd, "decipher") == 0) {
		if (argc != 1)
			usage();
		if (strcmp(cmd, "reset") == 0)
			disp = SCARD_RESET_CARD;
	} else
		usage();

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = peer_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	rv = SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &ctx);
	if (rv != SCARD_S_SUCCESS)
		return peer_fail("SCardEstablishContext", rv);
	if ((rv = peer_reader(ctx, hint, reader, sizeof(reader))) !=
	    SCARD_S_SUCCESS) {
		r = peer_fail("no reader with a card", rv);
		goto out;
	}
	rv = SCardConnect(ctx, reader, share, SCARD_PROTOCOL_T0 |
	    SCARD_PROTOCOL_T1, &card, &proto);
	if (rv != SCARD_S_SUCCESS) {
		r = peer_fail(share == SCARD_SHARE_EXCLUSIVE ?
		    "SCardConnect (exclusive)" : "SCardConnect (shared)", rv);
		goto out;
	}
	if (strcmp(cmd, "hold") == 0)
		peer_keep(secs);
	else if (strcmp(cmd, "transaction") == 0) {
		if ((rv = SCardBeginTransaction(card)) != SCARD_S_SUCCESS)
			r = peer_fail("SCardBeginTransaction", rv);
		else {
			peer_keep(secs);
			SCardEndTransaction(card, SCARD_LEAVE_CARD);
		}
	} else if (strcmp(cmd, "select") == 0)
		r = peer_select(card, proto, argv[1]);
	else if (strcmp(cmd, "decipher") == 0)
		r = peer_decipher(card, proto);
	if ((rv = SCardDisconnect(card, disp)) != SCARD_S_SUCCESS && r == 0)
		r = peer_fail("SCardDisconnect", rv);
 out:
	SCardReleaseContext(ctx);
	return r;
}
