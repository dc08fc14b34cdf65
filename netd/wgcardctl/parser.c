/*
 * parser.c: wgcardctl's keyword tables, in the manner of bgpctl.
 */
#include <stdio.h>
#include <string.h>

#include "wgcardctl.h"

struct keyword {
	const char		*word;
	enum ctl_action		 action;
	const char		*request;
	const struct keyword	*next;
	int			 takes_ifname;
};

static const struct keyword t_card[] = {
	{ "status", CTL_CARD_STATUS, "card status", NULL, 0 },
	{ "unlock", CTL_CARD_UNLOCK, "card unlock", NULL, 0 },
	{ "pubkey", CTL_CARD_PUBKEY, "card pubkey", NULL, 0 },
	{ "init", CTL_CARD_INIT, NULL, NULL, 0 },
	{ NULL, CTL_NONE, NULL, NULL, 0 }
};

static const struct keyword t_log[] = {
	{ "verbose", CTL_LOG_VERBOSE, "log verbose", NULL, 0 },
	{ "brief", CTL_LOG_BRIEF, "log brief", NULL, 0 },
	{ NULL, CTL_NONE, NULL, NULL, 0 }
};

static const struct keyword t_main[] = {
	{ "show", CTL_SHOW, "show", NULL, 1 },
	{ "card", CTL_NONE, NULL, t_card, 0 },
	{ "reload", CTL_RELOAD, "reload", NULL, 0 },
	{ "log", CTL_NONE, NULL, t_log, 0 },
	{ "version", CTL_VERSION, "version", NULL, 0 },
	{ "stop", CTL_STOP, NULL, NULL, 0 },
	{ NULL, CTL_NONE, NULL, NULL, 0 }
};

int
parse(int argc, char *argv[], struct parse_result *res)
{
	const struct keyword	*table = t_main, *kw = NULL;
	int			 i;

	memset(res, 0, sizeof(*res));
	for (i = 0; i < argc; i++) {
		if (table == NULL) {
			if (kw != NULL && kw->takes_ifname &&
			    res->ifname == NULL) {
				res->ifname = argv[i];
				continue;
			}
			fprintf(stderr, "wgcardctl: unexpected argument: %s\n",
			    argv[i]);
			return -1;
		}
		for (kw = table; kw->word != NULL; kw++)
			if (strcmp(kw->word, argv[i]) == 0)
				break;
		if (kw->word == NULL) {
			fprintf(stderr, "wgcardctl: unknown command: %s\n",
			    argv[i]);
			return -1;
		}
		res->action = kw->action;
		res->request = kw->request;
		table = kw->next;
	}
	if (res->action == CTL_NONE) {
		fprintf(stderr, "wgcardctl: incomplete command\n");
		return -1;
	}
	return 0;
}

void
parse_usage_commands(FILE *f)
{
	fprintf(f,
	    "commands:\n"
	    "  show [ifname]      interfaces, peers, key state\n"
	    "  card status        reader, serial, key, PIN retries, ops\n"
	    "  card unlock        give the card PIN (read without echo)\n"
	    "  card pubkey        the interface's public key\n"
	    "  card init [--force] [--kdf]\n"
	    "                     make a cv25519 key on the card\n"
	    "  reload             re-read the configuration file\n"
	    "  log verbose|brief  the daemon's log level\n"
	    "  version            the daemon's version\n"
	    "  stop               stop the daemon (SIGTERM), wait for it\n");
}
