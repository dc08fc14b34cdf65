/*
 * config.h: the wg-quick style configuration file of wgcardd -c FILE
 * (see wgcardd.conf(5)). What UAPI can express, and Address and MTU,
 * goes into a struct wg_devconf; the card settings go into struct
 * config_extra.
 */
#ifndef WGCARD_CONFIG_H
#define WGCARD_CONFIG_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

#include "wgconf.h"

/* Where the static private key lives ([Interface] KeySource). */
enum config_keysource {
	CONFIG_KEYSOURCE_FILE,		/* PrivateKey, held by wgcard-keyd */
	CONFIG_KEYSOURCE_OPENPGP,	/* an OpenPGP card, via pcscd */
};

#define CONFIG_READER_MAX	128
#define CONFIG_PIN_MIN		6	/* OpenPGP card PW1 */
#define CONFIG_PIN_MAX		127
/* VerifyTimeout, DecipherTimeout; TouchTimeout (ms). */
#define CONFIG_CARD_TIMEOUT_MIN		100
#define CONFIG_CARD_TIMEOUT_MAX		60000
#define CONFIG_TOUCH_TIMEOUT_MIN	1000
#define CONFIG_TOUCH_TIMEOUT_MAX	120000

struct config_extra {
	enum config_keysource	keysource;
	/* KeySource = openpgp only: */
	char		reader[CONFIG_READER_MAX];	/* Reader, "" any */
	int		has_serial;			/* CardSerial */
	uint32_t	serial;
	int		has_card_pub;			/* CardPublicKey */
	uint8_t		card_pub[32];
	int		unlock_last_try;		/* UnlockLastTry */
	uint32_t	verify_timeout_ms;		/* VerifyTimeout, 0 default */
	uint32_t	decipher_timeout_ms;		/* DecipherTimeout */
	uint32_t	touch_timeout_ms;		/* TouchTimeout */
	int		exclusive;			/* Exclusive */
	char		*pin_file;			/* PinFile */
	char		*pin_credential;		/* PinCredential */
	char		*audit_log;			/* AuditLog, any source */
	/* Where the keys came from, for messages after the parse. */
	char		*path;		/* the file; NULL: the environment */
	unsigned long	 port_line;	/* ListenPort */
	unsigned long	 pin_line;	/* PinFile or PinCredential */
};

/* Longest error message config_parse_file writes, with its NUL. */
#define CONFIG_ERR_MAX	512

/*
 * Reads FILE. Returns 0, or -1 with one line in err, in the form
 * "FILE:LINE: KEY: reason" (or "FILE: reason" for the whole file); it
 * never contains a key value. out and extra are initialized here; on
 * error out is wiped and left empty. The caller frees out with
 * wgconf_free() and extra with config_extra_free() in every case.
 * Host names in Endpoint are resolved (getaddrinfo), so call this
 * before any sandbox.
 */
int	config_parse_file(const char *path, struct wg_devconf *out,
	    struct config_extra *extra, char *err, size_t errlen);
/*
 * Cross-platform mode (no file), for wg-quick: the [Interface] keys that
 * wg(8) has no way to set, from the environment: WGCARD_KEY_SOURCE,
 * WGCARD_READER, WGCARD_CARD_SERIAL, WGCARD_CARD_PUBLIC_KEY,
 * WGCARD_PIN_FILE, WGCARD_PIN_CREDENTIAL, WGCARD_AUDIT_LOG (KeySource,
 * Reader, ... of wgcardd.conf(5), checked by the same code). 0 with
 * *found the number of variables set (extra filled), or -1 with err
 * ("environment: VARIABLE: reason").
 */
int	config_parse_env(struct config_extra *extra, int *found, char *err,
	    size_t errlen);
/* The first of those variables that is set, or NULL (-c warns). */
const char	*config_env_first(void);
/*
 * xplatform mode: when the process that started us (ppid) is "wg-quick
 * up FILE" and FILE has SaveConfig = true and a PrivateKey while the
 * key is not on a card, wg-quick would write FILE back without its key
 * (wg showconf never has it here). -1 and err ("FILE:LINE: SaveConfig:
 * why") then; 0 otherwise, or when it cannot tell.
 */
int	config_check_wgquick_save(pid_t ppid, const struct config_extra *,
	    char *err, size_t errlen);
void	config_extra_free(struct config_extra *);
/*
 * The card PIN of PinFile or PinCredential ($CREDENTIALS_DIRECTORY/NAME,
 * systemd's credentials): 1 and pin/len set (the caller wipes pin), 0
 * if none is configured, -1 with err if the file cannot be read, is not
 * a regular file, is accessible by group or others, or holds no PIN of
 * 6 to 127 bytes (what OpenPGP cards take for PW1); -2 with err if it
 * cannot be checked here (PinCredential without $CREDENTIALS_DIRECTORY:
 * not under systemd). err is "CONF:LINE: PinFile: FILE: reason" for a
 * configuration file, "FILE: reason" for the environment. One trailing
 * newline (LF or CRLF) is not part of the PIN.
 */
int	config_read_pin(const struct config_extra *,
	    uint8_t pin[static CONFIG_PIN_MAX + 1], size_t *len, char *err,
	    size_t errlen);

#endif /* WGCARD_CONFIG_H */
