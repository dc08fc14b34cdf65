/*
 * backend.h: what a key backend of the broker provides. The broker
 * (keyd.c) owns the queue, the audit log and the messages; a backend only
 * holds or reaches the key and does X25519 with it.
 */
#ifndef WGCARD_KEYD_BACKEND_H
#define WGCARD_KEYD_BACKEND_H

#include <stdint.h>

struct keyd_backend {
	const char	*name;
	/* Installs a new private key (software backend): 0, 1 if it is the
	 * key already there (nothing changes), or -errno. */
	int		(*set_key)(const uint8_t key[static 32]);
	void		(*clear_key)(void);
	/* 1 and pub filled if a key is there, else 0. */
	int		(*public_key)(uint8_t pub[static 32]);
	/* out = X25519(key, point); 0 or -errno (-ENOKEY without key). */
	int		(*dh)(uint8_t out[static 32],
			    const uint8_t point[static 32]);
};

extern const struct keyd_backend keyd_backend_file;

#endif /* WGCARD_KEYD_BACKEND_H */
