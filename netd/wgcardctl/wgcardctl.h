/*
 * wgcardctl.h: the control tool's shared declarations.
 */
#ifndef WGCARDCTL_H
#define WGCARDCTL_H

#include <sys/types.h>

#include <stddef.h>
#include <stdio.h>
#include <time.h>

enum ctl_action {
	CTL_NONE,
	CTL_SHOW,
	CTL_VERSION,
	CTL_CARD_STATUS,
	CTL_CARD_UNLOCK,
	CTL_CARD_PUBKEY,
	CTL_CARD_INIT,
	CTL_RELOAD,
	CTL_LOG_VERBOSE,
	CTL_LOG_BRIEF,
	CTL_STOP,
};

struct ctl_result;

/* parser.c */
struct parse_result {
	enum ctl_action	 action;
	const char	*request;	/* the line sent to the daemon */
	const char	*ifname;	/* optional argument (show IFNAME) */
};
int	parse(int argc, char *argv[], struct parse_result *);
void	parse_usage_commands(FILE *);

/* A daemon's answer: key=value lines and the end status. */
struct answer {
	char	**keys;
	char	**vals;
	size_t	  n;
	int	  status;
	char	 *error;
};
void	answer_free(struct answer *);
const char *answer_get(const struct answer *, const char *key);
/*
 * One line of a daemon's answer (its newline taken off) into a: 1 when it
 * was the end line (status set: 0 or an errno up to ANSWER_STATUS_MAX,
 * EPROTO for anything else), 0 to read on, -1 out of memory. Lines with
 * no "=" are skipped; "error=" keeps the last message.
 */
#define ANSWER_STATUS_MAX	4095
int	answer_line(struct answer *, char *line);

/* One daemon's answers to show (and card status, for the key state). */
struct ctl_iface {
	char		 name[64];
	struct answer	 show;
	struct answer	 status;	/* empty if it did not answer */
	char		*error;		/* the daemon did not answer show */
};

/* output.c */
/*
 * The peers of a show answer. The daemon sends each peer as a peer= line
 * and its fields; here they are gathered whatever their order, so that
 * the documents keep their shape whatever the daemon sent: a field given
 * twice keeps its first value, a peer given twice its first entry (the
 * lines of the later one are skipped), lines before the first peer= are
 * not a peer's.
 */
struct show_peer {
	const char	 *pub;
	const char	 *endpoint;
	const char	 *latest_handshake;
	const char	 *rx_bytes;
	const char	 *tx_bytes;
	const char	 *persistent_keepalive;
	const char	 *preshared_key;
	const char	 *drops;
	const char	**aips;
	size_t		  naips;
};
ssize_t	show_peers(const struct answer *, struct show_peer **);
void	show_peers_free(struct show_peer *, size_t);
const char *show_peer_get(const struct show_peer *, const char *key);
/*
 * 1 if p has an endpoint and no handshake (or none that is a time) in the
 * last max_age seconds before now.
 */
int	show_peer_stale(const struct show_peer *, time_t now,
	    long long max_age);

void	output_show(FILE *, const struct ctl_iface *);
void	output_card_status(FILE *, const char *ifname, const struct answer *);
void	output_kv(FILE *, const struct answer *);
/* show --json: one document, schema docs/wgcardctl-show.schema.json. */
void	output_json(FILE *, const struct ctl_iface *, size_t);
/* show --prometheus: the text exposition format. */
void	output_prometheus(FILE *, const struct ctl_iface *, size_t);
/* v safe for a terminal (\xNN escapes); valid until the 4th call after. */
const char *output_vis(const char *);
/* A JSON string for any bytes (escapes; invalid UTF-8 as U+FFFD). */
void	output_json_string(FILE *, const char *);

#endif /* WGCARDCTL_H */
