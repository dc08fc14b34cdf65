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
 *
 * A packet of up to AEAD_FAST_MAX bytes is not given to libcrypto's
 * ChaCha20-Poly1305 cipher but composed here, as RFC 8439 section 2.8
 * defines it, from its ChaCha20 cipher and its Poly1305 MAC: the OpenSSL
 * 3.0 provider computes the Poly1305 key (keystream block 0) and the
 * last partial block of a packet in two calls of one block each, which
 * its AVX-512 code runs on a path of its own as slow as a kilobyte of the
 * wide path (a 64-byte packet costs about half of a 1420-byte one). Here
 * the lane's scratch holds 64 zero bytes, then the packet, then zeros to
 * a multiple of 64, and one ChaCha20 call from counter 0 gives the
 * Poly1305 key and the text together. Longer packets (and additional
 * data never seen on the data path) take the same composition with the
 * key block and the text in two calls. tests/unit/test_aead.c checks
 * both against RFC 8439's vectors and libsodium.
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
#include "chapoly.h"
#include "crypto.h"
#include "ct.h"
#include "log.h"

#define AEAD_STR(x)	#x
#define AEAD_XSTR(x)	AEAD_STR(x)
#define AEAD_LIBCRYPTO	"libcrypto.so." AEAD_XSTR(OPENSSL_VERSION_MAJOR)

/* The packets the lane's scratch takes (the data path's, MTU 4096). */
#define AEAD_FAST_MAX	4096
#define AEAD_BLOCK	64
#define AEAD_SCRATCH	(AEAD_BLOCK + AEAD_FAST_MAX + AEAD_BLOCK)

/* A keyed ChaCha20 context per lane: a packet sets its counter and nonce. */
struct aead_key {
	uint8_t		 key[AEAD_KEY_LEN];	/* for the compact path */
	int		 nlanes;
	EVP_CIPHER_CTX	*ctx[];
};

/* What a lane (a thread) has for itself, whatever the key. */
struct aead_lane {
	EVP_MAC_CTX	*mac;		/* Poly1305, keyed per packet */
	uint8_t		 scratch[AEAD_SCRATCH];
};

static struct {
	EVP_CIPHER	*cipher;
	EVP_MAC		*poly1305;
	struct aead_lane *lanes;
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
	__typeof__(EVP_MAC_fetch)		*mac_fetch;
	__typeof__(EVP_MAC_CTX_new)		*mac_ctx_new;
	__typeof__(EVP_MAC_init)		*mac_init;
	__typeof__(EVP_MAC_update)		*mac_update;
	__typeof__(EVP_MAC_final)		*mac_final;
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
	aead.mac_fetch = aead_sym("EVP_MAC_fetch");
	aead.mac_ctx_new = aead_sym("EVP_MAC_CTX_new");
	aead.mac_init = aead_sym("EVP_MAC_init");
	aead.mac_update = aead_sym("EVP_MAC_update");
	aead.mac_final = aead_sym("EVP_MAC_final");
}

/*
 * The Poly1305 tag of RFC 8439 section 2.8 over ad and the ciphertext
 * ct, keyed with the first 32 bytes of polykey; 0, or -1.
 */
static int
aead_mac(struct aead_lane *l, const uint8_t *polykey, const uint8_t *ad,
    size_t adlen, const uint8_t *ct, size_t len, uint8_t tag[AEAD_TAG_LEN])
{
	static const uint8_t	zero[16];
	uint64_t		lens[2];
	size_t			taglen;

	lens[0] = htole64((uint64_t)adlen);
	lens[1] = htole64((uint64_t)len);
	if (aead.mac_init(l->mac, polykey, 32, NULL) != 1 ||
	    (adlen > 0 && (aead.mac_update(l->mac, ad, adlen) != 1 ||
	    (adlen % 16 != 0 && aead.mac_update(l->mac, zero,
	    16 - adlen % 16) != 1))) ||
	    (len > 0 && aead.mac_update(l->mac, ct, len) != 1) ||
	    (len % 16 != 0 && aead.mac_update(l->mac, zero,
	    16 - len % 16) != 1) ||
	    aead.mac_update(l->mac, (const uint8_t *)lens,
	    sizeof(lens)) != 1 ||
	    aead.mac_final(l->mac, tag, &taglen, AEAD_TAG_LEN) != 1 ||
	    taglen != AEAD_TAG_LEN)
		return -1;
	return 0;
}

/*
 * One packet on a keyed ChaCha20 context, in place: enc seals len bytes
 * at buf and writes the tag to tag; !enc checks tag against the
 * ciphertext first, and only then decrypts (a forgery leaves buf as it
 * was). The counter and nonce are the only setup.
 */
static int
aead_crypt(EVP_CIPHER_CTX *ctx, struct aead_lane *l, int enc, uint8_t *buf,
    size_t len, const uint8_t *ad, size_t adlen, uint64_t counter,
    uint8_t *tag)
{
	uint8_t	 iv[16], mine[AEAD_TAG_LEN], *ks = l->scratch, *text;
	size_t	 n;
	int	 out, r = -1;

	if (len > INT_MAX - 2 * AEAD_BLOCK || adlen > INT_MAX)
		return -1;
	/* ChaCha20's IV: the block counter (0), then WireGuard's nonce. */
	memset(iv, 0, 8);
	counter = htole64(counter);
	memcpy(iv + 8, &counter, 8);
	if (aead.init(ctx, NULL, NULL, NULL, iv, 1) != 1)
		return -1;
	if (len <= AEAD_FAST_MAX) {
		/* Key block and text in one call, whole blocks only. */
		n = (AEAD_BLOCK + len + AEAD_BLOCK - 1) &
		    ~(size_t)(AEAD_BLOCK - 1);
		memset(ks, 0, AEAD_BLOCK);
		memcpy(ks + AEAD_BLOCK, buf, len);
		memset(ks + AEAD_BLOCK + len, 0, n - AEAD_BLOCK - len);
		if (aead.update(ctx, ks, &out, ks, (int)n) != 1)
			goto done;
		text = ks + AEAD_BLOCK;
	} else {
		/* The key block, then the text in place. */
		memset(ks, 0, AEAD_BLOCK);
		if (aead.update(ctx, ks, &out, ks, AEAD_BLOCK) != 1)
			goto done;
		text = NULL;
	}
	if (enc) {
		if (text != NULL)
			memcpy(buf, text, len);
		else if (aead.update(ctx, buf, &out, buf, (int)len) != 1)
			goto done;
		r = aead_mac(l, ks, ad, adlen, buf, len, tag);
	} else {
		int	bad;

		if (aead_mac(l, ks, ad, adlen, buf, len, mine) == -1)
			goto done;
		bad = crypto_verify_16(mine, tag);
		/* Public: whether the tag matched is what the peer sees. */
		CT_PUBLIC(&bad, sizeof(bad));
		if (bad != 0)
			goto done;
		if (text != NULL)
			memcpy(buf, text, len);
		else if (aead.update(ctx, buf, &out, buf, (int)len) != 1)
			goto done;
		r = 0;
	}
done:
	/* The one-time Poly1305 key. */
	sodium_memzero(ks, AEAD_BLOCK);
	return r;
}

void
aead_init(int nlanes)
{
	static const uint8_t	 zero[AEAD_KEY_LEN];
	static uint8_t		 big[AEAD_FAST_MAX + 1 + AEAD_TAG_LEN];
	struct aead_key		*k;
	uint8_t			 buf[64 + AEAD_TAG_LEN], *p;
	size_t			 len;
	int			 i;

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
	if ((aead.cipher = aead.cipher_fetch(NULL, "ChaCha20", NULL)) ==
	    NULL || (aead.poly1305 = aead.mac_fetch(NULL, "POLY1305",
	    NULL)) == NULL)
		fatalx("%s: no ChaCha20 or Poly1305 in libcrypto", __func__);
	if ((aead.lanes = calloc((size_t)nlanes, sizeof(*aead.lanes))) ==
	    NULL)
		fatal("%s", __func__);
	for (i = 0; i < nlanes; i++)
		if ((aead.lanes[i].mac = aead.mac_ctx_new(aead.poly1305)) ==
		    NULL)
			fatalx("%s: no Poly1305 context", __func__);
	aead.nlanes = nlanes;

	/*
	 * Once through every path a packet takes, a forged one included,
	 * short (the scratch) and long.
	 */
	k = aead_key_new(zero);
	for (i = 0; i < 2; i++) {
		len = i == 0 ? 64 : sizeof(big) - AEAD_TAG_LEN;
		p = i == 0 ? buf : big;
		memset(p, 0, len + AEAD_TAG_LEN);
		aead_seal(k, 0, p, len, NULL, 0, 0);
		if (aead_open(k, 0, p, len + AEAD_TAG_LEN, NULL, 0, 0) != 0)
			fatalx("%s: ChaCha20-Poly1305 does not open what it "
			    "sealed", __func__);
		if (aead_open(k, 0, p, len + AEAD_TAG_LEN, NULL, 0, 1) == 0)
			fatalx("%s: ChaCha20-Poly1305 opens a forgery",
			    __func__);
		/* The compact path opens what libcrypto sealed. */
		aead_seal(k, 0, p, len, NULL, 0, 2);
		if (aead_open_compact(k, p, len + AEAD_TAG_LEN, NULL, 0,
		    2) != 0 || aead_open_compact(k, p, len + AEAD_TAG_LEN,
		    NULL, 0, 3) == 0)
			fatalx("%s: the compact ChaCha20-Poly1305 disagrees "
			    "with libcrypto", __func__);
	}
	aead_key_free(k);
	sodium_memzero(buf, sizeof(buf));
	sodium_memzero(big, sizeof(big));
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
	memcpy(k->key, key, AEAD_KEY_LEN);
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
	sodium_memzero(k->key, sizeof(k->key));
	free(k);
}

void
aead_seal(struct aead_key *k, int lane, uint8_t *buf, size_t len,
    const uint8_t *ad, size_t adlen, uint64_t counter)
{
	if (lane < 0 || lane >= k->nlanes)
		fatalx("%s: lane %d of %d", __func__, lane, k->nlanes);
	if (aead_crypt(k->ctx[lane], &aead.lanes[lane], 1, buf, len, ad,
	    adlen, counter, buf + len) != 0)
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
	if (aead_crypt(k->ctx[lane], &aead.lanes[lane], 0, buf, len, ad,
	    adlen, counter, buf + len) != 0) {
		/* A forgery leaves nothing queued (checked by the test). */
		return -1;
	}
	return 0;
}

/*
 * The compact path: chapoly.c's scalar ChaCha20-Poly1305 (chapoly.h says
 * why), with WireGuard's nonce (wg_aead_nonce).
 */
void
aead_seal_compact(struct aead_key *k, uint8_t *buf, size_t len,
    const uint8_t *ad, size_t adlen, uint64_t counter)
{
	uint8_t	nonce[CHAPOLY_NONCE_LEN];

	wg_aead_nonce(nonce, counter);
	chapoly_seal(buf, len, ad, adlen, nonce, k->key);
}

int
aead_open_compact(struct aead_key *k, uint8_t *buf, size_t len,
    const uint8_t *ad, size_t adlen, uint64_t counter)
{
	uint8_t	nonce[CHAPOLY_NONCE_LEN];

	wg_aead_nonce(nonce, counter);
	return chapoly_open(buf, len, ad, adlen, nonce, k->key);
}
