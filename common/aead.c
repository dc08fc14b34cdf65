/*
 * aead.c: the data path's ChaCha20-Poly1305 over OpenSSL's EVP
 * interface (aead.h). libcrypto does it about twice as fast as
 * libsodium on the CPUs we measured (AVX-512); docs/decisions.md 17
 * has the figures and what libcrypto needs at run time.
 *
 * libcrypto is loaded with dlopen(3) by aead_load, not linked: only the
 * forwarder uses it, and a linked libcrypto costs every process of the
 * daemon its relocations (about 1.4 MiB of resident memory each). The
 * headers give the functions' types; nothing here names a libcrypto
 * symbol the linker would resolve.
 */
#include <dlfcn.h>
#include <endian.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <sodium.h>

#include "aead.h"
#include "log.h"

#define AEAD_STR(x)	#x
#define AEAD_XSTR(x)	AEAD_STR(x)
#define AEAD_LIBCRYPTO	"libcrypto.so." AEAD_XSTR(OPENSSL_VERSION_MAJOR)

struct aead_key {
	int		 nlanes;
	EVP_CIPHER_CTX	*ctx[];
};

static struct {
	EVP_CIPHER	*cipher;
	int		 nlanes;
	void		*dl;
	/* libcrypto's functions, from dlsym. */
	__typeof__(OPENSSL_init_crypto)		*init_crypto;
	__typeof__(EVP_CIPHER_fetch)		*cipher_fetch;
	__typeof__(EVP_CIPHER_CTX_new)		*ctx_new;
	__typeof__(EVP_CIPHER_CTX_free)		*ctx_free;
	__typeof__(EVP_CipherInit_ex)		*init;
	__typeof__(EVP_CIPHER_CTX_ctrl)		*ctrl;
	__typeof__(EVP_CipherUpdate)		*update;
	__typeof__(EVP_CipherFinal_ex)		*final;
} aead;

static void *
aead_sym(const char *name)
{
	void	*f;

	if ((f = dlsym(aead.dl, name)) == NULL)
		fatalx("%s: %s: %s", __func__, AEAD_LIBCRYPTO, dlerror());
	return f;
}

void
aead_load(void)
{
	if (aead.dl != NULL)
		return;
	/* Resolved now, kept to the end: nothing is looked up later. */
	if ((aead.dl = dlopen(AEAD_LIBCRYPTO, RTLD_NOW | RTLD_LOCAL |
	    RTLD_NODELETE)) == NULL)
		fatalx("%s: %s", __func__, dlerror());
	aead.init_crypto = aead_sym("OPENSSL_init_crypto");
	aead.cipher_fetch = aead_sym("EVP_CIPHER_fetch");
	aead.ctx_new = aead_sym("EVP_CIPHER_CTX_new");
	aead.ctx_free = aead_sym("EVP_CIPHER_CTX_free");
	aead.init = aead_sym("EVP_CipherInit_ex");
	aead.ctrl = aead_sym("EVP_CIPHER_CTX_ctrl");
	aead.update = aead_sym("EVP_CipherUpdate");
	aead.final = aead_sym("EVP_CipherFinal_ex");
}

/*
 * One packet on a keyed context: the nonce is the only setup. tag is
 * where seal writes the tag and where open reads it.
 */
static int
aead_crypt(EVP_CIPHER_CTX *ctx, int enc, uint8_t *buf, size_t len,
    const uint8_t *ad, size_t adlen, uint64_t counter, uint8_t *tag)
{
	uint8_t	nonce[12];
	int	n;

	if (len > INT_MAX || adlen > INT_MAX)
		return -1;
	memset(nonce, 0, 4);
	counter = htole64(counter);
	memcpy(nonce + 4, &counter, 8);
	if (aead.init(ctx, NULL, NULL, NULL, nonce, enc) != 1)
		return -1;
	if (!enc && aead.ctrl(ctx, EVP_CTRL_AEAD_SET_TAG,
	    AEAD_TAG_LEN, tag) != 1)
		return -1;
	if (adlen > 0 && aead.update(ctx, NULL, &n, ad, (int)adlen) != 1)
		return -1;
	if (len > 0 && aead.update(ctx, buf, &n, buf, (int)len) != 1)
		return -1;
	if (aead.final(ctx, buf + len, &n) != 1)
		return -1;
	if (enc && aead.ctrl(ctx, EVP_CTRL_AEAD_GET_TAG,
	    AEAD_TAG_LEN, tag) != 1)
		return -1;
	return 0;
}

void
aead_init(int nlanes)
{
	static const uint8_t	 zero[AEAD_KEY_LEN];
	struct aead_key		*k;
	uint8_t			 buf[64 + AEAD_TAG_LEN];

	if (aead.cipher != NULL)
		fatalx("%s: called twice", __func__);
	if (nlanes < 1 || nlanes > AEAD_LANES_MAX)
		fatalx("%s: %d lanes", __func__, nlanes);
	aead_load();
	/*
	 * No configuration file (it could name engines or providers to
	 * load), no atexit handler (nothing runs after the filter at
	 * exit). The default provider is built in: fetching the cipher
	 * activates it without opening a file.
	 */
	if (aead.init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG |
	    OPENSSL_INIT_NO_ATEXIT, NULL) != 1)
		fatalx("%s: OPENSSL_init_crypto failed", __func__);
	if ((aead.cipher = aead.cipher_fetch(NULL, "ChaCha20-Poly1305",
	    NULL)) == NULL)
		fatalx("%s: no ChaCha20-Poly1305 in libcrypto", __func__);
	aead.nlanes = nlanes;

	/* Once through every path a packet takes, a forged one included. */
	k = aead_key_new(zero);
	memset(buf, 0, sizeof(buf));
	aead_seal(k, 0, buf, 64, NULL, 0, 0);
	if (aead_open(k, 0, buf, sizeof(buf), NULL, 0, 0) != 0)
		fatalx("%s: ChaCha20-Poly1305 does not open what it sealed",
		    __func__);
	if (aead_open(k, 0, buf, sizeof(buf), NULL, 0, 1) == 0)
		fatalx("%s: ChaCha20-Poly1305 opens a forgery", __func__);
	aead_key_free(k);
	sodium_memzero(buf, sizeof(buf));
}

int
aead_lanes(void)
{
	return aead.nlanes;
}

struct aead_key *
aead_key_new(const uint8_t key[static AEAD_KEY_LEN])
{
	struct aead_key	*k;
	int		 i;

	if (aead.cipher == NULL)
		fatalx("%s: aead_init not called", __func__);
	if ((k = calloc(1, sizeof(*k) +
	    (size_t)aead.nlanes * sizeof(k->ctx[0]))) == NULL)
		fatal("%s", __func__);
	k->nlanes = aead.nlanes;
	for (i = 0; i < k->nlanes; i++)
		if ((k->ctx[i] = aead.ctx_new()) == NULL ||
		    aead.init(k->ctx[i], aead.cipher, NULL, key, NULL,
		    1) != 1)
			fatalx("%s: cannot key ChaCha20-Poly1305", __func__);
	return k;
}

void
aead_key_free(struct aead_key *k)
{
	int	i;

	if (k == NULL)
		return;
	/* The provider's context is cleared as it is freed. */
	for (i = 0; i < k->nlanes; i++)
		aead.ctx_free(k->ctx[i]);
	free(k);
}

void
aead_seal(struct aead_key *k, int lane, uint8_t *buf, size_t len,
    const uint8_t *ad, size_t adlen, uint64_t counter)
{
	if (lane < 0 || lane >= k->nlanes)
		fatalx("%s: lane %d of %d", __func__, lane, k->nlanes);
	if (aead_crypt(k->ctx[lane], 1, buf, len, ad, adlen, counter,
	    buf + len) != 0)
		fatalx("%s: ChaCha20-Poly1305 failed", __func__);
}

int
aead_open(struct aead_key *k, int lane, uint8_t *buf, size_t len,
    const uint8_t *ad, size_t adlen, uint64_t counter)
{
	if (lane < 0 || lane >= k->nlanes)
		fatalx("%s: lane %d of %d", __func__, lane, k->nlanes);
	if (len < AEAD_TAG_LEN)
		return -1;
	len -= AEAD_TAG_LEN;
	if (aead_crypt(k->ctx[lane], 0, buf, len, ad, adlen, counter,
	    buf + len) != 0) {
		/* A forgery leaves nothing queued (checked by the test). */
		return -1;
	}
	return 0;
}
