/*
 * test_crypto.c: HMAC-BLAKE2s and the WireGuard KDF against Python's
 * hashlib/hmac, X25519 against RFC 7748, ChaCha20-Poly1305 against
 * RFC 8439, XChaCha round trips, small-order points, TAI64N.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "crypto.h"
#include "test.h"

static void
unhex(uint8_t *out, const char *hex, size_t len)
{
	size_t	bin_len;

	if (sodium_hex2bin(out, len, hex, strlen(hex), NULL, &bin_len,
	    NULL) != 0 || bin_len != len) {
		fprintf(stderr, "bad hex constant %s\n", hex);
		abort();
	}
}

/* Expected values computed once with Python:
 * hmac.new(key, msg, hashlib.blake2s).digest(). */
static void
test_hmac(void)
{
	uint8_t	key[100], msg[200], out[32], want[32];
	size_t	i;

	for (i = 0; i < 32; i++)
		key[i] = (uint8_t)i;
	wg_hmac(out, key, 32, (const uint8_t *)"The quick brown fox", 19);
	unhex(want, "22bcaf49c813868721c17ffc23f598e9"
	    "7283f564a578996cb149fad35ed8d00c", 32);
	CHECK_MEM(out, want, 32, "HMAC 32-byte key");

	for (i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)(i * 7);
	for (i = 0; i < sizeof(msg); i++)
		msg[i] = (uint8_t)i;
	wg_hmac(out, key, sizeof(key), msg, sizeof(msg));
	unhex(want, "9a3badc4185f2106bc42c963a21a4a36"
	    "34038d1be9bd90b65ffc5e5726320d46", 32);
	CHECK_MEM(out, want, 32, "HMAC 100-byte key (hashed first)");

	wg_hmac(out, NULL, 0, NULL, 0);
	unhex(want, "eaf4bb25938f4d20e72656bbbc7a9bf6"
	    "3c0c18537333c35bdb67db1402661acd", 32);
	CHECK_MEM(out, want, 32, "HMAC empty key and message");
}

static void
test_kdf(void)
{
	uint8_t	ck[32], in[32], t1[32], t2[32], t3[32], w1[32], w2[32];
	uint8_t	w3[32], a[32];
	size_t	i;

	for (i = 0; i < 32; i++) {
		ck[i] = (uint8_t)(0x20 + i);
		in[i] = (uint8_t)i;
	}
	unhex(w1, "f7cf403faf96054f49bc848f9fd76f51"
	    "aca5cbbf86004d6432cf784d2e20981d", 32);
	unhex(w2, "31ea10e07a73e343eef3a63e61881cb1"
	    "68b19d0c61309a8ec23645b7425b4c2c", 32);
	unhex(w3, "2a18b6809f056b645e5877a1d14f4081"
	    "2ca7196a0299ae104d4f34c885c8869e", 32);
	wg_kdf(t1, t2, t3, ck, in, 32);
	CHECK_MEM(t1, w1, 32, "KDF t1");
	CHECK_MEM(t2, w2, 32, "KDF t2");
	CHECK_MEM(t3, w3, 32, "KDF t3");

	memset(t2, 0xaa, 32);
	wg_kdf(t1, NULL, NULL, ck, in, 32);
	CHECK_MEM(t1, w1, 32, "KDF t1 alone");

	/* Output aliasing the chaining key, as noise code does. */
	memcpy(a, ck, 32);
	wg_kdf(a, t2, NULL, a, in, 32);
	CHECK_MEM(a, w1, 32, "KDF t1 aliasing ck");
	CHECK_MEM(t2, w2, 32, "KDF t2 with aliasing");

	unhex(w1, "b729608660f087101de695d4ef11f2ab"
	    "7765348ce4a967b6c73740202bc0dbab", 32);
	unhex(w2, "8ecc9582b7f0cc780a0cd430cfc06fcf"
	    "2dbbebae6a7e5ff3f142667bf5c740bb", 32);
	wg_kdf(t1, t2, NULL, ck, NULL, 0);
	CHECK_MEM(t1, w1, 32, "KDF empty input t1");
	CHECK_MEM(t2, w2, 32, "KDF empty input t2");
}

static void
test_x25519(void)
{
	static const struct {
		const char	*scalar, *u, *out;
	} v[] = {	/* RFC 7748 section 5.2 */
		{ "a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
		  "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c",
		  "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552" },
		{ "4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d",
		  "e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493",
		  "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957" },
	};
	uint8_t	k[32], u[32], out[32], want[32], tmp[32];
	uint8_t	apriv[32], apub[32], bpriv[32], bpub[32], s1[32], s2[32];
	size_t	i;
	int	ok = 1;

	for (i = 0; i < 2; i++) {
		unhex(k, v[i].scalar, 32);
		unhex(u, v[i].u, 32);
		unhex(want, v[i].out, 32);
		CHECK(wg_x25519(out, k, u) == 0, "5.2 vector %zu ok", i);
		CHECK_MEM(out, want, 32, "5.2 vector %zu", i);
	}

	/* Iterated: k = X25519(k, u), u = old k, starting from 9. */
	memset(k, 0, 32);
	k[0] = 9;
	memcpy(u, k, 32);
	for (i = 0; i < 1000; i++) {
		if (wg_x25519(out, k, u) != 0)
			ok = 0;
		memcpy(u, k, 32);
		memcpy(k, out, 32);
		if (i == 0) {
			unhex(want, "422c8e7a6227d7bca1350b3e2bb7279f"
			    "7897b87bb6854b783c60e80311ae3079", 32);
			CHECK_MEM(k, want, 32, "5.2 after 1 iteration");
		}
	}
	CHECK(ok, "1000 iterations without failure");
	unhex(want, "684cf59ba83309552800ef566f2f4d3c"
	    "1c3887c49360e3875f2eb94d99532c51", 32);
	CHECK_MEM(k, want, 32, "5.2 after 1000 iterations");

	/* Section 6.1 */
	unhex(apriv, "77076d0a7318a57d3c16c17251b26645"
	    "df4c2f87ebc0992ab177fba51db92c2a", 32);
	unhex(bpriv, "5dab087e624a8a4b79e17f8b83800ee6"
	    "6f3bb1292618b6fd1c2f8b27ff88e0eb", 32);
	wg_x25519_pub(apub, apriv);
	wg_x25519_pub(bpub, bpriv);
	unhex(want, "8520f0098930a754748b7ddcb43ef75a"
	    "0dbf3a0d26381af4eba4a98eaa9b4e6a", 32);
	CHECK_MEM(apub, want, 32, "6.1 Alice public");
	unhex(want, "de9edb7d7b7dc1b4d35b61c2ece43537"
	    "3f8343c85b78674dadfc7e146f882b4f", 32);
	CHECK_MEM(bpub, want, 32, "6.1 Bob public");
	CHECK(wg_x25519(s1, apriv, bpub) == 0, "6.1 Alice shared ok");
	CHECK(wg_x25519(s2, bpriv, apub) == 0, "6.1 Bob shared ok");
	unhex(want, "4a5d9d5ba4ce2de1728e3bf480350f25"
	    "e07e21c947d19e3376f09b3c1e161742", 32);
	CHECK_MEM(s1, want, 32, "6.1 shared (Alice)");
	CHECK_MEM(s2, want, 32, "6.1 shared (Bob)");

	/* Generated keys are clamped and agree. */
	wg_x25519_generate(apriv, apub);
	wg_x25519_generate(bpriv, bpub);
	CHECK((apriv[0] & 7) == 0 && (apriv[31] & 0xc0) == 0x40,
	    "generated key clamped");
	wg_x25519_pub(tmp, apriv);
	CHECK_MEM(tmp, apub, 32, "generated public matches");
	CHECK(wg_x25519(s1, apriv, bpub) == 0 &&
	    wg_x25519(s2, bpriv, apub) == 0 && memcmp(s1, s2, 32) == 0,
	    "generated pair agrees");

	/* All-zero result is rejected and out wiped. */
	memset(u, 0, 32);
	memset(out, 0x55, 32);
	CHECK(wg_x25519(out, apriv, u) == -1, "zero point rejected");
	CHECK(wg_key_is_zero(out), "out zeroed on failure");
	unhex(u, "e0eb7a7c3b41b8ae1656e3faf19fc46a"
	    "da098deb9c32b1fd866205165f49b800", 32);
	CHECK(wg_x25519(out, apriv, u) == -1, "order-8 point rejected");

	sodium_memzero(apriv, 32);
	sodium_memzero(bpriv, 32);
}

static void
test_small_order(void)
{
	static const char	*pts[] = {
		"0000000000000000000000000000000000000000000000000000000000000000",
		"0100000000000000000000000000000000000000000000000000000000000000",
		"e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
		"5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
		"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
		"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
		"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	};
	uint8_t	p[32], priv[32], pub[32];
	size_t	i;

	for (i = 0; i < sizeof(pts) / sizeof(pts[0]); i++) {
		unhex(p, pts[i], 32);
		CHECK(wg_x25519_small_order(p) == 1, "small order %zu", i);
		p[31] |= 0x80;
		CHECK(wg_x25519_small_order(p) == 1,
		    "small order %zu high bit", i);
	}
	memset(p, 0, 32);
	p[0] = 9;
	CHECK(wg_x25519_small_order(p) == 0, "base point is not");
	memset(p, 0xff, 32);
	CHECK(wg_x25519_small_order(p) == 0, "ff..ff (= 18 mod p) is not");
	wg_x25519_generate(priv, pub);
	CHECK(wg_x25519_small_order(pub) == 0, "random public is not");
	sodium_memzero(priv, 32);
}

static void
test_aead_rfc8439(void)
{
	static const char	pt[] = "Ladies and Gentlemen of the class of "
	    "'99: If I could offer you only one tip for the future, "
	    "sunscreen would be it.";
	static const char	ct_hex[] =
	    "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d6"
	    "3dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b36"
	    "92ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc"
	    "3ff4def08e4b7a9de576d26586cec64b6116"
	    "1ae10b594f09e26a7e902ecbd0600691";
	uint8_t			key[32], nonce[12], ad[12];
	uint8_t			ct[114 + 16], want[114 + 16], dec[114];
	unsigned long long	clen, mlen;
	size_t			i;

	CHECK(strlen(pt) == 114, "plaintext length");
	for (i = 0; i < 32; i++)
		key[i] = (uint8_t)(0x80 + i);
	unhex(nonce, "070000004041424344454647", 12);
	unhex(ad, "50515253c0c1c2c3c4c5c6c7", 12);
	unhex(want, ct_hex, sizeof(want));
	crypto_aead_chacha20poly1305_ietf_encrypt(ct, &clen,
	    (const uint8_t *)pt, 114, ad, 12, NULL, nonce, key);
	CHECK(clen == sizeof(want), "RFC 8439 length");
	CHECK_MEM(ct, want, sizeof(want), "RFC 8439 2.8.2 ciphertext+tag");
	CHECK(crypto_aead_chacha20poly1305_ietf_decrypt(dec, &mlen, NULL,
	    want, sizeof(want), ad, 12, nonce, key) == 0 && mlen == 114 &&
	    memcmp(dec, pt, 114) == 0, "RFC 8439 2.8.2 decrypt");
}

static void
test_aead_wg(void)
{
	uint8_t	key[32], buf[1500 + 16], orig[1500], want[22], out[22];
	size_t	len, i;
	int	ok;

	/* Known answer for WireGuard's nonce layout (4 zero bytes then
	 * the little-endian counter), computed with Python's
	 * cryptography ChaCha20Poly1305. */
	for (i = 0; i < 32; i++)
		key[i] = (uint8_t)(0x80 + i);
	unhex(want, "83d68dda22be042f81e3e587f4fce556e26f79c6f7e1", 22);
	wg_aead_encrypt(out, (const uint8_t *)"wgcard", 6,
	    (const uint8_t *)"hdr", 3, 0x0102030405060708ULL, key);
	CHECK_MEM(out, want, 22, "wg nonce layout known answer");

	randombytes_buf(key, sizeof(key));
	randombytes_buf(orig, sizeof(orig));
	for (len = 0; len <= 1500; len += 250) {
		/* In place, as the forwarder does. */
		memcpy(buf, orig, len);
		wg_aead_encrypt(buf, buf, len, NULL, 0, len * 3, key);
		CHECK(wg_aead_decrypt(buf, buf, len + 16, NULL, 0, len * 3,
		    key) == 0 && memcmp(buf, orig, len) == 0,
		    "round trip len %zu", len);

		wg_aead_encrypt(buf, orig, len, orig, 7, 42, key);
		buf[len / 2] ^= 0x01;
		CHECK(wg_aead_decrypt(buf, buf, len + 16, orig, 7, 42,
		    key) == -1, "tamper detected len %zu", len);
		buf[len / 2] ^= 0x01;
		CHECK(wg_aead_decrypt(buf, buf, len + 16, orig, 7, 43,
		    key) == -1, "wrong counter len %zu", len);
		CHECK(wg_aead_decrypt(buf, buf, len + 16, orig, 6, 42,
		    key) == -1, "wrong ad len %zu", len);
	}
	CHECK(wg_aead_decrypt(buf, buf, 15, NULL, 0, 0, key) == -1,
	    "short input rejected");

	/* Keepalive: empty plaintext, only a tag. */
	wg_aead_encrypt(buf, NULL, 0, NULL, 0, UINT64_MAX - 1, key);
	ok = wg_aead_decrypt(buf, buf, 16, NULL, 0, UINT64_MAX - 1, key);
	CHECK(ok == 0, "empty plaintext");
	sodium_memzero(key, sizeof(key));
}

static void
test_xaead(void)
{
	uint8_t	key[32], nonce[24], buf[64], pt[48];

	randombytes_buf(key, sizeof(key));
	randombytes_buf(nonce, sizeof(nonce));
	randombytes_buf(pt, sizeof(pt));
	wg_xaead_encrypt(buf, pt, 32, pt + 32, 16, nonce, key);
	CHECK(wg_xaead_decrypt(buf + 0, buf, 48, pt + 32, 16, nonce,
	    key) == 0 && memcmp(buf, pt, 32) == 0, "xaead round trip");
	wg_xaead_encrypt(buf, pt, 32, pt + 32, 16, nonce, key);
	buf[40] ^= 0x80;
	CHECK(wg_xaead_decrypt(buf, buf, 48, pt + 32, 16, nonce, key) == -1,
	    "xaead tag tamper");
	buf[40] ^= 0x80;
	nonce[23] ^= 1;
	CHECK(wg_xaead_decrypt(buf, buf, 48, pt + 32, 16, nonce, key) == -1,
	    "xaead wrong nonce");
	CHECK(wg_xaead_decrypt(buf, buf, 10, NULL, 0, nonce, key) == -1,
	    "xaead short");
	sodium_memzero(key, sizeof(key));
}

static void
test_helpers(void)
{
	uint8_t		a[32], b[32], t[12], t2[12];
	uint64_t	secs;
	uint32_t	nsec;
	time_t		now;
	int		i;

	memset(a, 0, 32);
	CHECK(wg_key_is_zero(a) == 1, "zero key");
	a[31] = 1;
	CHECK(wg_key_is_zero(a) == 0, "non-zero key (last byte)");
	a[31] = 0;
	a[0] = 0x80;
	CHECK(wg_key_is_zero(a) == 0, "non-zero key (first byte)");

	randombytes_buf(a, 32);
	memcpy(b, a, 32);
	CHECK(wg_key_eq(a, b) == 1, "equal keys");
	b[17] ^= 4;
	CHECK(wg_key_eq(a, b) == 0, "different keys");

	now = time(NULL);
	wg_tai64n_now(t);
	secs = 0;
	for (i = 0; i < 8; i++)
		secs = secs << 8 | t[i];
	nsec = (uint32_t)t[8] << 24 | (uint32_t)t[9] << 16 |
	    (uint32_t)t[10] << 8 | t[11];
	CHECK(secs >= 0x400000000000000aULL + (uint64_t)now &&
	    secs <= 0x400000000000000aULL + (uint64_t)now + 2,
	    "TAI64 seconds label");
	CHECK(nsec < 1000000000U, "nanoseconds in range");
	CHECK((nsec & 0xffffff) == 0, "nanoseconds whitened");
	wg_tai64n_now(t2);
	CHECK(memcmp(t2, t, 12) >= 0, "monotone (wall clock)");
}

int
main(void)
{
	wg_crypto_init();
	test_hmac();
	test_kdf();
	test_x25519();
	test_small_order();
	test_aead_rfc8439();
	test_aead_wg();
	test_xaead();
	test_helpers();
	return test_done();
}
