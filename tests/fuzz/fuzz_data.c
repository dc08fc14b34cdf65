/*
 * fuzz_data.c: libFuzzer target for the forwarder's receive path of data
 * messages (type 4), with one fixed session: the header checks and the
 * decryption job (fwd_rx_job, fwd_crypto_run), the replay window
 * (replay_check) and the inner-packet checks (fwd_rx_inner), in the
 * order forward.c runs them.
 *
 * An input is a sequence of records, each one message received:
 *   byte 0: bit 0 set: raw, else sealed;
 *           bits 1-2 (sealed): 0 the session's receiver index, 1 another,
 *                  2 and 3 the index from the next 4 bytes;
 *           bits 3-4 (sealed): the counter: 0 the next 8 bytes, 1 the
 *                  highest accepted minus the next 2 bytes, 2 plus them,
 *                  3 the previous record's again;
 *           bit 5 (sealed): the IP total length set to fit the plaintext
 *                  (so that more packets reach the source check).
 *   then (raw) 2 bytes of length and the message itself, or (sealed) the
 *   fields above, 2 bytes of length and the plaintext, which the harness
 *   encrypts with the session's key so that the receive path decrypts it.
 * Every message is in its own allocation of its exact size, so reading a
 * byte past it is an ASan report.
 *
 * What must hold, against a model written here: a message is refused
 * before decryption exactly when its length, type or counter is wrong;
 * a sealed message for the session decrypts to its plaintext and a raw
 * one never authenticates; a counter is accepted exactly when it is
 * within the window and not seen before; a packet is delivered exactly
 * when it is IPv4 or IPv6 with a total length that fits and a source
 * address inside the peer's allowed IPs (longest match: the other peer's
 * longer prefixes inside them are not the peer's), with that length.
 */
#include <sys/socket.h>

#include <endian.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aead.h"
#include "allowedips.h"
#include "crypto.h"
#include "fwd.h"
#include "messages.h"
#include "replay.h"

#define FD_INDEX	0x11223344u
#define FD_RECORDS	512

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const uint8_t	fd_key[32] = {
	0x70, 0x71, 0x72, 0x73, 0x74, 0x75, 0x76, 0x77,
	0x78, 0x79, 0x7a, 0x7b, 0x7c, 0x7d, 0x7e, 0x7f,
	0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87,
	0x88, 0x89, 0x8a, 0x8b, 0x8c, 0x8d, 0x8e, 0x8f,
};

/* The session's key as the forwarder holds it (libcrypto's context). */
static struct aead_key	*fd_aead;
static uint64_t		 fd_ms;		/* the forwarder's clock */

/* The session's peer (a) and another (b) in the allowed-IPs trie. */
static struct aip_table	*fd_aips;
static int		 fd_peer_a, fd_peer_b;

/* The model of the replay window. */
static struct {
	uint64_t	greatest;		/* highest accepted + 1 */
	uint64_t	seen[FD_RECORDS];
	size_t		nseen;
} fm;

static void
fd_init(void)
{
	static const uint8_t	a4[] = { 10, 0, 0, 0 }, b4[] = { 10, 0, 0, 128 };
	static const uint8_t	h4[] = { 192, 168, 7, 9 }, z4[4];
	static const uint8_t	a6[16] = { 0xfd, 0x00 };
	static const uint8_t	b6[16] = { 0xfd, 0x00, 0x00, 0x01 };

	wg_crypto_init();
	fwd_crypto_init(0);
	fd_aead = aead_key_new(fd_key);
	if ((fd_aips = aip_new()) == NULL)
		abort();
	/*
	 * a: 10.0.0.0/24 but b holds 10.0.0.128/25; a: 192.168.7.9/32;
	 * b: everything else of IPv4. a: fd00::/16 but b holds fd00:1::/32.
	 */
	if (aip_insert(fd_aips, AF_INET, a4, 24, &fd_peer_a) != 0 ||
	    aip_insert(fd_aips, AF_INET, b4, 25, &fd_peer_b) != 0 ||
	    aip_insert(fd_aips, AF_INET, h4, 32, &fd_peer_a) != 0 ||
	    aip_insert(fd_aips, AF_INET, z4, 0, &fd_peer_b) != 0 ||
	    aip_insert(fd_aips, AF_INET6, a6, 16, &fd_peer_a) != 0 ||
	    aip_insert(fd_aips, AF_INET6, b6, 32, &fd_peer_b) != 0)
		abort();
}

/* The model of the source check: is src peer a's? */
static int
fd_src_is_a(int v6, const uint8_t *s)
{
	if (!v6)
		return (s[0] == 10 && s[1] == 0 && s[2] == 0 && s[3] < 128) ||
		    (s[0] == 192 && s[1] == 168 && s[2] == 7 && s[3] == 9);
	return s[0] == 0xfd && s[1] == 0x00 &&
	    !(s[2] == 0x00 && s[3] == 0x01);
}

/* The model of the inner checks: the length to deliver, or 0. */
static size_t
fd_model_inner(const uint8_t *ip, size_t plen)
{
	size_t	tot;

	if (plen >= 20 && (ip[0] & 0xf0) == 0x40) {
		tot = (size_t)ip[2] * 256 + ip[3];
		return tot >= 20 && tot <= plen && fd_src_is_a(0, ip + 12) ?
		    tot : 0;
	}
	if (plen >= 40 && (ip[0] & 0xf0) == 0x60) {
		tot = 40 + (size_t)ip[4] * 256 + ip[5];
		return tot <= plen && fd_src_is_a(1, ip + 8) ? tot : 0;
	}
	return 0;
}

/* The model of the replay window: accepts counter or not. */
static int
fd_model_replay(uint64_t counter)
{
	size_t	i;

	if (counter >= WG_REJECT_AFTER_MESSAGES ||
	    counter + 1 + REPLAY_WINDOW < fm.greatest)
		return 0;
	for (i = 0; i < fm.nseen; i++)
		if (fm.seen[i] == counter)
			return 0;
	if (fm.nseen < FD_RECORDS)
		fm.seen[fm.nseen++] = counter;
	if (counter + 1 > fm.greatest)
		fm.greatest = counter + 1;
	return 1;
}

/*
 * One message received: msg (len bytes, its own allocation); pt is the
 * plaintext when the harness sealed it for the session, else NULL.
 */
static void
fd_receive(struct replay *rp, uint8_t *msg, size_t len, const uint8_t *pt,
    size_t ptlen)
{
	struct fwd_job	 j;
	uint32_t	 idx, v32;
	uint64_t	 v64;
	size_t		 plen, tot;
	uint8_t		*out;
	int		 ok, model;

	model = len >= WG_MSG_DATA_MIN_LEN;
	if (model) {
		memcpy(&v32, msg, 4);
		memcpy(&v64, msg + 8, 8);
		model = le32toh(v32) == WG_MSG_DATA &&
		    le64toh(v64) < WG_REJECT_AFTER_MESSAGES;
	}
	ok = fwd_rx_job(&j, msg, len, &idx) == 0;
	if (ok != model)
		abort();
	if (!ok)
		return;
	if (j.data != msg + 16 || j.len != len - 16 || j.enc != 0 ||
	    j.counter != le64toh(v64))
		abort();
	if (idx != FD_INDEX)
		return;				/* no such keypair */
	j.key = fd_aead;
	/* Every other message on the compact path (after a quiet spell). */
	fd_ms += 100;
	fwd_crypto_set_compact((int)(fd_ms / 100 % 2));
	fwd_crypto_run(&j, 1, fd_ms);
	if (pt != NULL) {
		/* Sealed for the session: it must open, to its plaintext. */
		if (j.result != 0 || j.len != ptlen + 16 ||
		    (ptlen > 0 && memcmp(j.data, pt, ptlen) != 0))
			abort();
	} else if (j.result == 0)
		abort();			/* forged, yet authentic */
	if (j.result != 0)
		return;

	if ((ok = replay_check(rp, j.counter)) != fd_model_replay(j.counter))
		abort();
	if (!ok)
		return;				/* replayed or too old */

	plen = j.len - 16;
	if (plen == 0)
		return;				/* keepalive */
	tot = fwd_rx_inner(fd_aips, &fd_peer_a, j.data, plen);
	if (tot != fd_model_inner(j.data, plen))
		abort();
	/* The wrong peer never owns it: a packet of a is never b's. */
	if (tot != 0 && fwd_rx_inner(fd_aips, &fd_peer_b, j.data, plen) != 0)
		abort();
	if (tot == 0)
		return;
	/* What would be written to TUN: exactly tot bytes, all in msg. */
	if ((out = malloc(tot)) == NULL)
		abort();
	memcpy(out, j.data, tot);
	free(out);
}

static uint64_t
fd_le(const uint8_t *p, size_t n)
{
	uint64_t	v = 0;

	while (n-- > 0)
		v = v << 8 | p[n];
	return v;
}

/*
 * The next 2-byte length and that many bytes (fewer at the end of the
 * input) in an allocation of their size; NULL at the end of the input.
 */
static uint8_t *
fd_take(const uint8_t **p, const uint8_t *end, size_t *len)
{
	uint8_t	*b;

	if (end - *p < 2)
		return NULL;
	*len = (size_t)fd_le(*p, 2);
	*p += 2;
	if (*len > (size_t)(end - *p))
		*len = (size_t)(end - *p);
	if ((b = malloc(*len ? *len : 1)) == NULL)
		abort();
	memcpy(b, *p, *len);
	*p += *len;
	return b;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int	 inited;
	struct replay	 rp;
	const uint8_t	*p = data, *end = data + size;
	uint8_t		*msg, *pt;
	uint64_t	 counter = 0;
	uint32_t	 idx;
	size_t		 len, n = 0;
	uint8_t		 h;

	if (!inited) {
		fd_init();
		inited = 1;
	}
	replay_init(&rp);
	memset(&fm, 0, sizeof(fm));
	while (p < end && n++ < FD_RECORDS) {
		h = *p++;
		if (h & 1) {
			/* Raw: the bytes as they came. */
			if ((msg = fd_take(&p, end, &len)) == NULL)
				break;
			fd_receive(&rp, msg, len, NULL, 0);
			free(msg);
			continue;
		}
		/* Sealed for the session from chosen fields. */
		idx = FD_INDEX;
		if (((h >> 1) & 3) == 1)
			idx = FD_INDEX ^ 1;
		else if (((h >> 1) & 3) >= 2) {
			if (end - p < 4)
				break;
			idx = (uint32_t)fd_le(p, 4);
			p += 4;
		}
		switch ((h >> 3) & 3) {
		case 0:
			if (end - p < 8)
				goto done;
			counter = fd_le(p, 8);
			p += 8;
			break;
		case 1:
		case 2:
			if (end - p < 2)
				goto done;
			if (((h >> 3) & 3) == 1)
				counter = (fm.greatest ? fm.greatest - 1 : 0) -
				    fd_le(p, 2);
			else
				counter = (fm.greatest ? fm.greatest - 1 : 0) +
				    fd_le(p, 2);
			p += 2;
			break;
		default:
			break;			/* the previous counter */
		}
		if ((pt = fd_take(&p, end, &len)) == NULL)
			break;
		if ((msg = malloc(len + WG_DATA_OVERHEAD)) == NULL)
			abort();
		if ((h & 0x20) && len >= 20 && (pt[0] & 0xf0) == 0x40) {
			pt[2] = (uint8_t)(len >> 8);
			pt[3] = (uint8_t)len;
		} else if ((h & 0x20) && len >= 40 && (pt[0] & 0xf0) == 0x60) {
			pt[4] = (uint8_t)((len - 40) >> 8);
			pt[5] = (uint8_t)(len - 40);
		}
		msg[0] = WG_MSG_DATA;
		msg[1] = msg[2] = msg[3] = 0;
		idx = htole32(idx);
		memcpy(msg + 4, &idx, 4);
		counter = htole64(counter);
		memcpy(msg + 8, &counter, 8);
		counter = le64toh(counter);
		wg_aead_encrypt(msg + 16, pt, len, NULL, 0, counter, fd_key);
		fd_receive(&rp, msg, len + WG_DATA_OVERHEAD,
		    le32toh(idx) == FD_INDEX ? pt : NULL, len);
		free(msg);
		free(pt);
	}
done:
	return 0;
}
