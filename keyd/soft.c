/*
 * soft.c: the "file" backend: a software private key, held only in this
 * process, in locked memory (sodium_malloc: mlock'ed, guard pages,
 * excluded from core dumps), wiped when replaced and on exit.
 */
#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "backend.h"
#include "compat.h"
#include "crypto.h"
#include "encoding.h"
#include "log.h"
#include "sandbox.h"

/* The load report's capacity: nothing ever waits for this backend. */
#define SOFT_QUEUE_MAX	64

static struct {
	uint8_t	*key;		/* 32 bytes of locked memory */
	uint8_t	 pub[32];
	int	 has_key;
} soft;

static void
soft_init(const struct keyd_backend_cb *cb)
{
	if (soft.key != NULL)
		return;
	if ((soft.key = sodium_malloc(32)) == NULL)
		fatal("sodium_malloc");
	sodium_memzero(soft.key, 32);
}

static void
soft_clear(void)
{
	if (soft.key != NULL)
		sodium_memzero(soft.key, 32);
	sodium_memzero(soft.pub, sizeof(soft.pub));
	soft.has_key = 0;
}

static int
soft_set(const uint8_t key[static 32])
{
	uint8_t	*k;
	int	 same;

	soft_init(NULL);
	if ((k = sodium_malloc(32)) == NULL)
		return -ENOMEM;
	memcpy(k, key, 32);
	/* Clamp as X25519 does, so the stored scalar is canonical. */
	k[0] &= 248;
	k[31] = (k[31] & 127) | 64;
	same = wg_key_is_zero(key) ? !soft.has_key :
	    soft.has_key && sodium_memcmp(k, soft.key, 32) == 0;
	if (same) {
		sodium_free(k);
		return 1;
	}
	soft_clear();
	if (wg_key_is_zero(key)) {
		sodium_free(k);
		return 0;
	}
	memcpy(soft.key, k, 32);
	sodium_free(k);
	wg_x25519_pub(soft.pub, soft.key);
	soft.has_key = 1;
	return 0;
}

static int
soft_public(uint8_t pub[static 32])
{
	if (!soft.has_key)
		return 0;
	memcpy(pub, soft.pub, 32);
	return 1;
}

static int
soft_dh(uint64_t id, const uint8_t point[static 32], const char *who,
    uint8_t out[static 32])
{
	if (!soft.has_key)
		return -ENOKEY;
	if (wg_x25519(out, soft.key, point) == -1)
		return -EINVAL;
	return 0;
}

static void
soft_status(struct key_status *ks)
{
	strlcpy(ks->backend, "file", sizeof(ks->backend));
	ks->has_pub = soft_public(ks->pub);
	ks->state = ks->has_pub ? KEY_STATE_READY : KEY_STATE_NOKEY;
}

/*
 * Audit: the operation, the point it was asked about (a public value),
 * the result code and latency. Never the key or the result.
 */
static void
soft_audit_dh(const char *who, const uint8_t *point, int status,
    uint32_t latency_us, int refused)
{
	char	b64[WG_KEY_B64_LEN];

	key_to_base64(b64, point);
	log_audit(LOG_DEBUG, "op=ecdh backend=file point=%.8s result=%d "
	    "latency_us=%u", b64, status, latency_us);
}

const struct keyd_backend keyd_backend_file = {
	.name = "file",
	.async = 0,
	.chroot = NULL,			/* WGCARD_CHROOT */
	.sandbox = sandbox_keyd,
	.init = soft_init,
	.stop = soft_clear,
	.set_key = soft_set,
	.public_key = soft_public,
	.dh = soft_dh,
	.status = soft_status,
	.capacity = SOFT_QUEUE_MAX,
	.audit_dh = soft_audit_dh,
};
