/*
 * soft.c: the "file" backend: a software private key, held only in this
 * process, in locked memory (sodium_malloc: mlock'ed, guard pages,
 * excluded from core dumps), wiped when replaced and on exit.
 */
#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "backend.h"
#include "crypto.h"
#include "log.h"

static uint8_t	*soft_key;	/* 32 bytes of locked memory */
static uint8_t	 soft_pub[32];
static int	 soft_has_key;

static void
soft_alloc(void)
{
	if (soft_key != NULL)
		return;
	if ((soft_key = sodium_malloc(32)) == NULL)
		fatal("sodium_malloc");
	sodium_memzero(soft_key, 32);
}

static void
soft_clear(void)
{
	if (soft_key != NULL)
		sodium_memzero(soft_key, 32);
	sodium_memzero(soft_pub, sizeof(soft_pub));
	soft_has_key = 0;
}

static int
soft_set(const uint8_t key[static 32])
{
	uint8_t	*k;
	int	 same;

	soft_alloc();
	if ((k = sodium_malloc(32)) == NULL)
		return -ENOMEM;
	memcpy(k, key, 32);
	/* Clamp as X25519 does, so the stored scalar is canonical. */
	k[0] &= 248;
	k[31] = (k[31] & 127) | 64;
	same = wg_key_is_zero(key) ? !soft_has_key :
	    soft_has_key && sodium_memcmp(k, soft_key, 32) == 0;
	if (same) {
		sodium_free(k);
		return 1;
	}
	soft_clear();
	if (wg_key_is_zero(key)) {
		sodium_free(k);
		return 0;
	}
	memcpy(soft_key, k, 32);
	sodium_free(k);
	wg_x25519_pub(soft_pub, soft_key);
	soft_has_key = 1;
	return 0;
}

static int
soft_public(uint8_t pub[static 32])
{
	if (!soft_has_key)
		return 0;
	memcpy(pub, soft_pub, 32);
	return 1;
}

static int
soft_dh(uint8_t out[static 32], const uint8_t point[static 32])
{
	if (!soft_has_key)
		return -ENOKEY;
	if (wg_x25519(out, soft_key, point) == -1)
		return -EINVAL;
	return 0;
}

const struct keyd_backend keyd_backend_file = {
	.name = "file",
	.set_key = soft_set,
	.clear_key = soft_clear,
	.public_key = soft_public,
	.dh = soft_dh,
};
