/*
 * hsflood.c: a handshake-initiation flood at a WireGuard responder, as
 * fast as this machine can send it, for tests/integration/flood.sh and
 * flood_card.sh (tests/tools/hsflood.py is the same flood, slower, in
 * Python). Run it inside a test namespace, aimed at an address of that
 * test bed only.
 *
 *	hsflood -d ADDR -p PORT -k PUBKEY [-r PPS] [-t SECONDS]
 *	    [-s SOURCES] [-b FIRST-SOURCE-ADDR]
 *
 * Every initiation has a valid mac1 (from the responder's public key,
 * which is public), no mac2 and pseudo-random content: a responder not
 * under load would spend one static-key DH on each. The packets go out
 * in sendmmsg(2) batches of FL_BATCH from SOURCES sockets (default 4),
 * each bound to its own port or, with -b, to its own address (the
 * addresses -b, -b + 1, ... must be on the sender's interface: each a
 * source of its own for per-address rate limits). -r 0 (the default)
 * sends as fast as it can; otherwise the sending is paced to PPS.
 *
 * Answers are counted: cookie replies (type 3, 64 bytes) and others.
 * Prints one line: "sent=N cookies=N other=N seconds=T rate=R" (R: the
 * rate achieved, packets a second).
 */
#include <sys/socket.h>
#include <sys/types.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <endian.h>
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "crypto.h"
#include "encoding.h"
#include "messages.h"

#define FL_BATCH	64
#define FL_SOURCES_MAX	1024
#define FL_DRAIN_NS	20000000ULL	/* every socket read every 20 ms */

static struct {
	int		 fd[FL_SOURCES_MAX];
	int		 n;
	uint64_t	 cookies, other;
	uint8_t		 mac1_key[WG_HASH_LEN];
	uint64_t	 rng;
} fl;

static uint64_t
fl_now_ns(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* xorshift64*: content only has to differ, not to be secret. */
static uint64_t
fl_rand(void)
{
	fl.rng ^= fl.rng >> 12;
	fl.rng ^= fl.rng << 25;
	fl.rng ^= fl.rng >> 27;
	return fl.rng * 0x2545f4914f6cdd1dULL;
}

static void
fl_make(uint8_t m[static WG_MSG_INITIATION_LEN])
{
	uint64_t	r;
	size_t		i;

	memset(m, 0, WG_MSG_INITIATION_LEN);
	m[0] = WG_MSG_INITIATION;
	for (i = 4; i + 8 <= WG_MSG_INITIATION_LEN - 32; i += 8) {
		r = fl_rand();
		memcpy(m + i, &r, 8);
	}
	blake2s(m + WG_MSG_INITIATION_LEN - 32, WG_COOKIE_LEN, m,
	    WG_MSG_INITIATION_LEN - 32, fl.mac1_key, sizeof(fl.mac1_key));
}

/* Reads what waits on socket i. */
static void
fl_drain(int i)
{
	struct mmsghdr	msgs[FL_BATCH];
	struct iovec	iov[FL_BATCH];
	static uint8_t	buf[FL_BATCH][256];
	int		n, j;

	for (;;) {
		memset(msgs, 0, sizeof(msgs));
		for (j = 0; j < FL_BATCH; j++) {
			iov[j].iov_base = buf[j];
			iov[j].iov_len = sizeof(buf[j]);
			msgs[j].msg_hdr.msg_iov = &iov[j];
			msgs[j].msg_hdr.msg_iovlen = 1;
		}
		n = recvmmsg(fl.fd[i], msgs, FL_BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			return;
		for (j = 0; j < n; j++)
			if (msgs[j].msg_len == WG_MSG_COOKIE_LEN &&
			    buf[j][0] == WG_MSG_COOKIE)
				fl.cookies++;
			else
				fl.other++;
	}
}

static void
fl_drain_all(void)
{
	int	i;

	for (i = 0; i < fl.n; i++)
		fl_drain(i);
}

static void
usage(void)
{
	fprintf(stderr, "usage: hsflood -d addr -p port -k pubkey [-r pps] "
	    "[-t seconds] [-s sources] [-b first-source-addr]\n");
	exit(2);
}

int
main(int argc, char *argv[])
{
	struct sockaddr_storage	 dst, src;
	struct mmsghdr		 msgs[FL_BATCH];
	struct iovec		 iov[FL_BATCH];
	static uint8_t		 pkt[FL_BATCH][WG_MSG_INITIATION_LEN];
	struct blake2s_state	 s;
	uint8_t			 pub[32];
	const char		*daddr = NULL, *pubkey = NULL, *sbase = NULL;
	uint64_t		 t0, now, end, last_drain, sent = 0, want;
	double			 seconds = 5, rate = 0, el;
	socklen_t		 slen;
	int			 ch, port = 0, fam, i, j, n, rcv = 1 << 20;
	uint32_t		 a4;

	fl.n = 4;
	while ((ch = getopt(argc, argv, "b:d:k:p:r:s:t:")) != -1) {
		switch (ch) {
		case 'b':
			sbase = optarg;
			break;
		case 'd':
			daddr = optarg;
			break;
		case 'k':
			pubkey = optarg;
			break;
		case 'p':
			port = atoi(optarg);
			break;
		case 'r':
			rate = atof(optarg);
			break;
		case 's':
			fl.n = atoi(optarg);
			break;
		case 't':
			seconds = atof(optarg);
			break;
		default:
			usage();
		}
	}
	if (daddr == NULL || pubkey == NULL || port <= 0 || port > 65535 ||
	    fl.n < 1 || fl.n > FL_SOURCES_MAX || seconds <= 0 || rate < 0)
		usage();
	if (key_from_base64(pub, pubkey) == -1)
		errx(2, "bad public key");
	blake2s_init(&s, WG_HASH_LEN);
	blake2s_update(&s, (const uint8_t *)WG_LABEL_MAC1,
	    strlen(WG_LABEL_MAC1));
	blake2s_update(&s, pub, sizeof(pub));
	blake2s_final(&s, fl.mac1_key);
	fl.rng = fl_now_ns() | 1;

	memset(&dst, 0, sizeof(dst));
	fam = strchr(daddr, ':') != NULL ? AF_INET6 : AF_INET;
	if (fam == AF_INET) {
		struct sockaddr_in	*sin = (struct sockaddr_in *)&dst;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		if (inet_pton(AF_INET, daddr, &sin->sin_addr) != 1)
			errx(2, "bad address %s", daddr);
		slen = sizeof(*sin);
	} else {
		struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&dst;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		if (inet_pton(AF_INET6, daddr, &sin6->sin6_addr) != 1)
			errx(2, "bad address %s", daddr);
		slen = sizeof(*sin6);
	}
	if (sbase != NULL && (fam != AF_INET ||
	    inet_pton(AF_INET, sbase, &a4) != 1))
		errx(2, "-b: an IPv4 address, with an IPv4 destination");
	for (i = 0; i < fl.n; i++) {
		if ((fl.fd[i] = socket(fam, SOCK_DGRAM, 0)) == -1)
			err(1, "socket");
		(void)setsockopt(fl.fd[i], SOL_SOCKET, SO_RCVBUF, &rcv,
		    sizeof(rcv));
		if (sbase != NULL) {
			struct sockaddr_in	*sin = (struct sockaddr_in *)&src;

			memset(&src, 0, sizeof(src));
			sin->sin_family = AF_INET;
			sin->sin_addr.s_addr = htonl(ntohl(a4) + (uint32_t)i);
			if (bind(fl.fd[i], (struct sockaddr *)sin,
			    sizeof(*sin)) == -1)
				err(1, "bind source %d", i);
		}
	}

	memset(msgs, 0, sizeof(msgs));
	for (j = 0; j < FL_BATCH; j++) {
		iov[j].iov_base = pkt[j];
		iov[j].iov_len = WG_MSG_INITIATION_LEN;
		msgs[j].msg_hdr.msg_iov = &iov[j];
		msgs[j].msg_hdr.msg_iovlen = 1;
		msgs[j].msg_hdr.msg_name = &dst;
		msgs[j].msg_hdr.msg_namelen = slen;
	}
	t0 = last_drain = fl_now_ns();
	end = t0 + (uint64_t)(seconds * 1e9);
	for (i = 0; (now = fl_now_ns()) < end; i = (i + 1) % fl.n) {
		if (rate > 0) {
			want = (uint64_t)(rate * (double)(now - t0) / 1e9);
			if (sent >= want) {
				struct timespec	ts = { 0, 500000 };

				nanosleep(&ts, NULL);
				i--;
				if (i < 0)
					i = fl.n - 1;
				continue;
			}
		}
		for (j = 0; j < FL_BATCH; j++)
			fl_make(pkt[j]);
		n = sendmmsg(fl.fd[i], msgs, FL_BATCH, 0);
		if (n > 0)
			sent += (uint64_t)n;
		else if (n == -1 && errno != EAGAIN && errno != ENOBUFS &&
		    errno != EINTR)
			err(1, "sendmmsg");
		if (now - last_drain >= FL_DRAIN_NS) {
			fl_drain_all();
			last_drain = now;
		}
	}
	el = (double)(fl_now_ns() - t0) / 1e9;
	/* Late answers. */
	usleep(300000);
	fl_drain_all();
	printf("sent=%llu cookies=%llu other=%llu seconds=%.1f rate=%.0f\n",
	    (unsigned long long)sent, (unsigned long long)fl.cookies,
	    (unsigned long long)fl.other, el, (double)sent / el);
	return 0;
}
