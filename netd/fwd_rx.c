/*
 * fwd_rx.c: the checks of a received data message that need none of the
 * forwarder's state, so that forward.c runs them in its batches and the
 * fuzz target (tests/fuzz/fuzz_data.c) runs the same code on one message:
 * the header before decryption, and the inner packet after decryption
 * and the replay window.
 */
#include <sys/socket.h>

#include <endian.h>
#include <string.h>

#include "allowedips.h"
#include "fwd.h"
#include "messages.h"

int
fwd_rx_job(struct fwd_job *j, uint8_t *msg, size_t len, uint32_t *idx)
{
	uint32_t	v32;
	uint64_t	v64;

	if (len < WG_MSG_DATA_MIN_LEN || len > UINT32_MAX)
		return -1;
	memcpy(&v32, msg, 4);
	if (le32toh(v32) != WG_MSG_DATA)
		return -1;
	memcpy(&v32, msg + 4, 4);
	memcpy(&v64, msg + 8, 8);
	if (le64toh(v64) >= WG_REJECT_AFTER_MESSAGES)
		return -1;
	*idx = le32toh(v32);
	j->data = msg + sizeof(struct wg_msg_data);
	j->key = NULL;
	j->counter = le64toh(v64);
	j->len = (uint32_t)(len - sizeof(struct wg_msg_data));
	j->enc = 0;
	j->result = 0;
	return 0;
}

size_t
fwd_rx_inner(const struct aip_table *aips, const void *peer,
    const uint8_t *ip, size_t plen)
{
	size_t		 tot;
	const void	*owner;

	if (plen >= 20 && (ip[0] >> 4) == 4) {
		tot = (size_t)ip[2] << 8 | ip[3];
		if (tot < 20 || tot > plen)
			return 0;
		owner = aip_lookup(aips, AF_INET, ip + 12);
	} else if (plen >= 40 && (ip[0] >> 4) == 6) {
		tot = 40 + ((size_t)ip[4] << 8 | ip[5]);
		if (tot > plen)
			return 0;
		owner = aip_lookup(aips, AF_INET6, ip + 8);
	} else
		return 0;
	if (owner == NULL || owner != peer)
		return 0;
	return tot;
}
