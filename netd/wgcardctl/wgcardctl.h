/*
 * wgcardctl.h: the control tool's shared declarations.
 */
#ifndef WGCARDCTL_H
#define WGCARDCTL_H

#include <stddef.h>
#include <stdio.h>

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
};

struct ctl_result;

/* parser.c */
struct parse_result {
	enum ctl_action	 action;
	const char	*request;	/* the line sent to the daemon */
	const char	*ifname;	/* optional argument (show IFNAME) */
};
int	parse(int argc, char *argv[], struct parse_result *);
void	parse_usage_commands(void);

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

/* One daemon's answers to show (and card status, for the key state). */
struct ctl_iface {
	char		 name[64];
	struct answer	 show;
	struct answer	 status;	/* empty if it did not answer */
	char		*error;		/* the daemon did not answer show */
};

/* output.c */
void	output_show(const struct ctl_iface *);
void	output_card_status(const char *ifname, const struct answer *);
void	output_kv(const struct answer *);
/* show --json: one document, schema docs/wgcardctl-show.schema.json. */
void	output_json(FILE *, const struct ctl_iface *, size_t);
/* show --prometheus: the text exposition format. */
void	output_prometheus(FILE *, const struct ctl_iface *, size_t);
/* A JSON string for any bytes (escapes; invalid UTF-8 as U+FFFD). */
void	output_json_string(FILE *, const char *);

#endif /* WGCARDCTL_H */
