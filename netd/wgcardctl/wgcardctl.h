/*
 * wgcardctl.h: the control tool's shared declarations.
 */
#ifndef WGCARDCTL_H
#define WGCARDCTL_H

#include <stddef.h>

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

/* output.c */
void	output_show(const char *ifname, const struct answer *);
void	output_card_status(const char *ifname, const struct answer *);
void	output_kv(const struct answer *);

#endif /* WGCARDCTL_H */
