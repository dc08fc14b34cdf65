/*
 * backend.h: what a key backend of the broker provides. The broker
 * (keyd.c) owns the messages, the counters, the load report and the
 * audit stream; a backend holds (file) or reaches (openpgp, and next
 * pkcs11) the static private key and does X25519 with it. The backends
 * are the entries of keyd_backends[] in keyd.c, chosen by name with -K.
 *
 * Every hook is called in the broker's event loop thread. A backend
 * whose operations block (a device: hundreds of ms, may hang) is
 * asynchronous: it queues requests for a worker thread of its own and
 * answers through struct keyd_backend_cb, again in the event loop's
 * thread. A NULL hook means "not offered"; the comments say what the
 * broker does then.
 */
#ifndef WGCARD_KEYD_BACKEND_H
#define WGCARD_KEYD_BACKEND_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "wgcard.h"

/* The clock of the broker and its backends' latencies: monotonic, us. */
static inline uint64_t
keyd_now_us(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* What an asynchronous backend reports, in the event loop's thread. */
struct keyd_backend_cb {
	/*
	 * One per queued request: status 0 (result set) or -errno;
	 * point as given to dh (for the audit record, which names it);
	 * latency_us 0 when no operation was timed; who as given to dh.
	 */
	void	(*dh_done)(uint64_t id, int status,
		    const uint8_t result[static 32],
		    const uint8_t point[static 32], uint32_t latency_us,
		    const char *who);
	/* The public key may have changed (the first device seen). */
	void	(*key_changed)(void);
	/* The device became usable (PIN verified after start, unlock or
	 * reinsertion): peers whose static-static DH failed may retry. */
	void	(*ready)(void);
	/* Outcome of a PIN the pin hook accepted. */
	void	(*pin_result)(int status, int retries);
};

struct keyd_backend {
	const char	*name;
	int		 async;		/* answers through dh_done */

	/* Privilege drop: the chroot (NULL: WGCARD_CHROOT) and the
	 * seccomp filter that fits the backend. */
	const char	*(*chroot)(void);
	void		(*sandbox)(void);

	/* Before the sandbox, after event_init(): memory, descriptors,
	 * connection objects. cb may be NULL for a synchronous backend. */
	void		(*init)(const struct keyd_backend_cb *cb);
	/*
	 * The device's settings (IMSG_KEY_CARD_CONFIG), at start and
	 * again on a reload: 1 the first time (start follows), else 0.
	 * NULL: the backend takes no settings; its key is announced at
	 * start and a configuration message is refused.
	 */
	int		(*configure)(const struct key_card_config *);
	/* After the first configure: starts the worker. */
	void		(*start)(void);
	/* Release: stops the worker (not waiting for a hung one) and
	 * wipes every secret. */
	void		(*stop)(void);

	/*
	 * Installs a new private key (IMSG_KEY_SET): 0, 1 if it is the key
	 * already there (nothing changes), or -errno. NULL: the key lives
	 * in the device, a key sent is ignored (and logged).
	 */
	int		(*set_key)(const uint8_t key[static 32]);
	/* 1 and pub filled if the public key is known, else 0. */
	int		(*public_key)(uint8_t pub[static 32]);
	/*
	 * out = X25519(key, point); who names the peer for the audit.
	 * Synchronous: the status (0, or -errno, -ENOKEY without a key),
	 * out filled on 0. Asynchronous: 0 queued (dh_done follows, out
	 * untouched), -EAGAIN queue full, else -errno as the device's state
	 * (-ENODEV absent, -ENOLCK locked, -ETIMEDOUT hung...) and nothing
	 * follows. Small-order and non-canonical points never get here.
	 */
	int		(*dh)(uint64_t id, const uint8_t point[static 32],
			    const char *who, uint8_t out[static 32]);
	/*
	 * A PIN (copied; the caller wipes its own). offer: the
	 * configuration's PIN (start, reload), which leaves a device
	 * already open alone; else the user's (card unlock). 0 taken
	 * (pin_result follows), -EOPNOTSUPP not taken. NULL: no PIN.
	 */
	int		(*pin)(const uint8_t *pin, size_t len, int offer,
			    const char *from);
	/* wgcardctl card status: backend, state, reader, serial,
	 * fingerprint, public key, PIN retries, queued. */
	void		(*status)(struct key_status *);
	/* Requests queued or running now (NULL: none ever wait). */
	uint32_t	(*queued)(void);
	/*
	 * The longest a request may wait for its answer, in ms (queue and
	 * device; the backend answers it by then, -ETIMEDOUT at worst):
	 * the handshake process waits that long before it gives up on
	 * one. NULL: answers come at once.
	 */
	uint32_t	(*answer_ms)(void);
	uint32_t	 capacity;	/* request queue size */
	/*
	 * Audit hook: one line for one DH the broker answered (refused: a
	 * small-order or non-canonical point, never given to dh), naming
	 * the point asked for. Never the key or the result.
	 */
	void		(*audit_dh)(const char *who, const uint8_t *point,
			    int status, uint32_t latency_us, int refused);
};

extern const struct keyd_backend keyd_backend_file;
extern const struct keyd_backend keyd_backend_openpgp;

#endif /* WGCARD_KEYD_BACKEND_H */
