/*
 * wgcard.h: what every wgcard process shares: paths, process ids, the
 * one imsg enum and the payloads that cross process boundaries.
 */
#ifndef WGCARD_H
#define WGCARD_H

#include <net/if.h>
#include <stdint.h>

#include "wgconf.h"

#define WGCARD_VERSION		"0.1.0"
#define WGCARD_USER		"_wgcard"
#define WGCARD_CHROOT		"/var/empty"
#define WGCARD_UAPI_DIR		"/var/run/wireguard"

/* Children find their sockets on fixed fds (dup2'ed before exec). */
#define PROC_PARENT_FD		3	/* every child: to the parent */
#define PROC_SIBLING_FD		4	/* keyd: to hs; fwd: to hs; hs: to keyd */
#define PROC_SIBLING2_FD	5	/* hs: to fwd */

enum proc_id {
	PROC_PARENT,
	PROC_KEYD,
	PROC_HANDSHAKE,
	PROC_FORWARDER,
	PROC_MAX
};

/*
 * Direction in each comment: P parent, K key broker, H handshake,
 * F forwarder. Every payload has a fixed size unless marked variable;
 * receivers check it exactly and fatalx on a mismatch.
 */
enum imsg_type {
	IMSG_NONE,

	/* Key broker. */
	IMSG_KEY_SET,		/* P->K, H->K: struct key_set (zero: clear) */
	IMSG_KEY_PUBLIC,	/* K->H, K->P: struct key_public */
	IMSG_KEY_DH,		/* H->K: struct key_dh_req (point, peer tag) */
	IMSG_KEY_DH_RESULT,	/* K->H: struct key_dh_res */
	IMSG_KEY_LOAD,		/* K->H: struct key_load */

	/* Configuration. */
	IMSG_CFG_CHUNK,		/* P->H: variable, UAPI set=1 body text */
	IMSG_CFG_END,		/* P->H: empty; apply what came in chunks */
	IMSG_CFG_DONE,		/* H->P: int32 status (0 or -errno) */
	IMSG_CFG_UAPI_FD,	/* P->H: empty, fd: the listening UAPI socket */

	/* Privileged requests of the handshake process. */
	IMSG_PRIV_SET_PORT,	/* H->P: uint16 port (0 = any) */
	IMSG_PRIV_PORT,		/* P->H: struct priv_port (result, port) */
	IMSG_PRIV_SET_FWMARK,	/* H->P: uint32 mark */
	IMSG_PRIV_FWMARK,	/* P->H: int32 status */

	/* File descriptors for the forwarder. */
	IMSG_FWD_TUN,		/* P->F: int32 mtu, fd: TUN */
	IMSG_FWD_SOCKETS,	/* P->F: uint8 family, fd: UDP (fd-less: none) */
	IMSG_FWD_MTU,		/* P->F: int32 mtu */
	IMSG_FWD_READY,		/* F->P: empty; fds received, loop running */
	IMSG_FWD_TUN_GONE,	/* F->P: empty; the interface was deleted */

	/* Handshake process to forwarder. */
	IMSG_FWD_PEER_ADD,	/* H->F: uint32 peer id */
	IMSG_FWD_PEER_DEL,	/* H->F: uint32 peer id (keys wiped) */
	IMSG_FWD_PEER_ENDPOINT,	/* H->F: struct fwd_endpoint */
	IMSG_FWD_AIP,		/* H->F: variable, struct fwd_aip_hdr + entries */
	IMSG_FWD_KEYPAIR,	/* H->F: struct fwd_keypair */
	IMSG_FWD_EXPIRE,	/* H->F: uint32 peer id; no more sending on
				 * the current keypair */
	IMSG_FWD_CLEAR_KEYS,	/* H->F: uint32 peer id; wipe every keypair */
	IMSG_FWD_KEEPALIVE,	/* H->F: uint32 peer id; send staged packets
				 * or else a keepalive */
	IMSG_FWD_SEND,		/* H->F: variable, struct fwd_send + packet */
	IMSG_FWD_FLUSH_STAGED,	/* H->F: uint32 peer id; drop staged packets */
	IMSG_FWD_IDENTITY,	/* H->F: struct fwd_identity; mac1 and cookie
				 * keys from the interface's public key */
	IMSG_FWD_LOAD,		/* H->F: uint32 1 while the handshake process
				 * is loaded (broker backlog), 0 after */

	/* Control socket (served by the handshake process). */
	IMSG_CTL_FD,		/* P->H: empty, fd: the listening control socket */
	IMSG_CTL_RELOAD,	/* H->P: uint32 caller uid; reload the config */
	IMSG_CTL_RELOAD_DONE,	/* P->H: struct ctl_result */
	IMSG_CTL_LOG,		/* H->P: int32 verbosity; P relays to all */
	IMSG_CTL_LOG_SET,	/* P->K, P->F: int32 verbosity */
	IMSG_AUDIT,		/* K->P, H->P: char[] "op=..." event text,
				 * NUL-terminated, < WGCARD_AUDIT_MAX */
	IMSG_KEY_STATUS,	/* H->K: uint32 request id */
	IMSG_KEY_STATUS_RESULT,	/* K->H: struct key_status */

	/* Forwarder to handshake process. */
	IMSG_HS_PACKET,		/* F->H: variable, struct hs_packet + packet */
	IMSG_HS_EVENTS,		/* F->H: struct hs_events */
	IMSG_HS_KEYPAIR_GONE,	/* F->H: uint32 local index */
	IMSG_HS_FWD_INFO,	/* F->H: struct fwd_info, once at start */
	IMSG_HS_FWD_STATS,	/* F->H: struct fwd_hs_stats, each second it
				 * changed */

	/* Card. */
	IMSG_KEY_CARD_CONFIG,	/* P->K: struct key_card_config, first; again
				 * on a reload that changes it */
	IMSG_KEY_PIN,		/* P->K, H->K: struct key_pin (wiped) */
	IMSG_KEY_PIN_RESULT,	/* K->H: struct key_pin_result */

	IMSG_MAX
};

/* What the forwarder runs (for wgcardctl show). */
struct fwd_info {
	char		backend[16];	/* "uring", "classic" */
	char		offloads[8];	/* "on", "uso", "off" */
	uint32_t	crypto_workers;
	uint32_t	pool_bufs;
};

/* The longest audit event text (IMSG_AUDIT), NUL included. */
#define WGCARD_AUDIT_MAX	512

/* Endpoint of a peer with the local address it wrote to. */
struct wg_endpoint {
	union wg_sockaddr	addr;	/* the peer (family 0: none) */
	union {
		struct in_addr	v4;
		struct in6_addr	v6;
	} src;				/* our address the peer wrote to */
	int			src_ifindex;
};

struct key_set {
	uint8_t		key[32];
};

struct key_public {
	uint8_t		has_key;
	uint8_t		pad[3];
	uint32_t	generation;	/* bumped by every IMSG_KEY_SET */
	uint8_t		pub[32];
};

/*
 * A DH request. peer names the peer for the broker's audit line (8
 * characters of its base64 public key, NUL-padded, not NUL-terminated),
 * all zero when the point is not a known peer's (an initiator's
 * ephemeral).
 */
struct key_dh_req {
	uint64_t	id;
	uint8_t		point[32];
	char		peer[8];
};

struct key_dh_res {
	uint64_t	id;
	int32_t		status;		/* 0, -ENOKEY, -EAGAIN, -EIO, ... */
	uint32_t	generation;
	uint8_t		result[32];
};

struct key_load {
	uint32_t	queued;
	uint32_t	capacity;
	uint64_t	ops;
	uint32_t	last_latency_us;
	uint32_t	answer_ms;	/* a request's answer comes within
					 * (0: at once); see backend.h */
};

struct ctl_result {
	int32_t		status;		/* 0 or -errno */
	char		message[256];	/* NUL-terminated */
};

#define KEY_STATE_NOKEY		0	/* no key configured */
#define KEY_STATE_READY		1	/* software key, or card unlocked */
#define KEY_STATE_LOCKED	2	/* card present, PIN not verified */
#define KEY_STATE_ABSENT	3	/* card or reader absent */
#define KEY_STATE_BLOCKED	4	/* PIN blocked */
#define KEY_STATE_WRONG_CARD	5	/* a card with another key */
#define KEY_STATE_PIN_SUSPECT	6	/* locked: the configured PIN not sent,
					 * someone failed since the last good
					 * VERIFY (the counter is below max) */
#define KEY_STATE_HELD		7	/* another PC/SC client holds the card */

struct key_status {
	uint32_t	id;
	uint32_t	state;		/* KEY_STATE_* */
	char		backend[16];	/* "file", "openpgp" */
	char		reader[128];
	char		serial[32];
	char		fingerprint[64];/* hex, of the decryption key */
	uint8_t		has_pub;
	uint8_t		pad[3];
	int32_t		pin_retries;	/* -1: unknown / not applicable */
	int32_t		pin_retries_max;/* the card's maximum; -1 unknown */
	uint8_t		pub[32];
	uint64_t	ops;
	uint32_t	last_latency_us;
	uint32_t	queued;
	char		reason[192];	/* why the state is what it is */
	char		touch[32];	/* "decrypt on (fixed)", "" unknown */
};


/* The card settings of [Interface] (wgcardd.conf(5)). */
struct key_card_config {
	char		reader[128];	/* Reader: substring, "" any */
	uint8_t		has_serial;	/* CardSerial */
	uint8_t		has_pub;	/* CardPublicKey */
	uint8_t		unlock_last_try; /* UnlockLastTry */
	uint8_t		exclusive;	/* Exclusive: SCARD_SHARE_EXCLUSIVE */
	uint32_t	serial;
	uint8_t		pub[32];
	/* How long a card operation may take (ms; 0: the broker's default). */
	uint32_t	verify_timeout_ms;	/* VerifyTimeout */
	uint32_t	decipher_timeout_ms;	/* DecipherTimeout */
	uint32_t	touch_timeout_ms;	/* TouchTimeout: DECIPHER with a
						 * touch policy on */
};

#define KEY_PIN_MAX	127

/* A PIN (PW1) for the card; the receiver wipes every copy. */
struct key_pin {
	uint32_t	len;
	uint8_t		pin[KEY_PIN_MAX + 1];
};

/*
 * The outcome of an IMSG_KEY_PIN: 0 verified; -EACCES wrong (the PIN is
 * forgotten; retries says what is left); -EPERM blocked; -ENODEV no
 * card now (kept, verified when the card comes); -EINVAL bad length
 * (no retry spent); -EOPNOTSUPP not a card backend.
 */
struct key_pin_result {
	int32_t		status;
	int32_t		retries;	/* PW1 retries left, -1 unknown */
};

struct priv_port {
	int32_t		status;
	uint16_t	port;
	uint16_t	pad;
};

struct fwd_endpoint {
	uint32_t		peer_id;
	uint32_t		pad;
	struct wg_endpoint	ep;
};

struct fwd_aip_entry {
	uint8_t		family;
	uint8_t		cidr;
	uint8_t		remove;
	uint8_t		pad;
	uint8_t		addr[16];
};

struct fwd_aip_hdr {
	uint32_t	peer_id;
	uint32_t	count;
	uint8_t		clear;		/* remove all of the peer's first */
	uint8_t		pad[7];
};

struct fwd_keypair {
	uint32_t	peer_id;
	uint32_t	local_index;
	uint32_t	remote_index;
	uint8_t		initiator;
	uint8_t		pad[3];
	uint8_t		send_key[32];
	uint8_t		recv_key[32];
};

struct fwd_send {
	struct wg_endpoint	ep;
	uint32_t		peer_id;	/* 0: none */
	uint32_t		pad;
};

struct hs_packet {
	struct wg_endpoint	ep;
	uint32_t		flags;		/* HS_PKT_* */
	uint32_t		pad;
};
/* The forwarder found mac2 valid (it checks it only under load). */
#define HS_PKT_MAC2		0x1

/* The interface's public key, or none (has_key 0). */
struct fwd_identity {
	uint8_t			public_key[32];
	uint32_t		has_key;
	uint32_t		pad;
};

/*
 * The forwarder's handshake-message figures (cumulative), for wgcardctl
 * show: cookie replies it sent, and every handshake message it dropped,
 * by cause.
 */
struct fwd_hs_stats {
	uint64_t		cookie_replies;	/* sent (the send completed) */
	uint64_t		no_key;		/* the interface had no key */
	uint64_t		bad_mac1;
	uint64_t		ratelimited;	/* under load, mac2 good */
	uint64_t		cookie_ratelimited; /* no mac2, source over
						 * its rate of cookies */
	uint64_t		queue_full;	/* to the handshake process */
	uint64_t		cookie_no_buffer; /* their share was in use */
	uint64_t		send_no_buffer;	/* our own messages */
	uint64_t		send_failed;	/* the socket refused it */
	uint64_t		control_queue_full; /* events, keypair gone */
	uint32_t		under_load;	/* answering with cookies now */
	uint32_t		pad;
};

/* Event bits of struct hs_events, named for the timer hooks. */
#define HS_EV_DATA_SENT		0x01
#define HS_EV_DATA_RECEIVED	0x02
#define HS_EV_AUTH_SENT		0x04
#define HS_EV_AUTH_RECEIVED	0x08
#define HS_EV_TRAVERSAL		0x10
#define HS_EV_WANT_HANDSHAKE	0x20
#define HS_EV_ENDPOINT		0x40	/* ep changed (roaming) */
#define HS_EV_CONFIRMED		0x80	/* a responder's session got its
					 * first data: the handshake is done */

struct hs_events {
	uint32_t		peer_id;
	uint32_t		events;
	/*
	 * IMSG_FWD_KEYPAIRs the forwarder had taken for this peer when it
	 * wrote the report (mod 2^32): a WANT_HANDSHAKE written before the
	 * newest keypair reached it is stale (handshake.c, hs_events).
	 */
	uint32_t		keypairs;
	uint32_t		pad;
	uint64_t		rx_bytes;	/* cumulative */
	uint64_t		tx_bytes;
	/* Monotonic ms of the last event of each kind, to order them. */
	uint64_t		t_data_sent;
	uint64_t		t_data_received;
	uint64_t		t_auth_sent;
	uint64_t		t_auth_received;
	uint64_t		drops;
	struct wg_endpoint	ep;
};

/* Monotonic milliseconds. */
uint64_t	wg_now_ms(void);

#endif /* WGCARD_H */
