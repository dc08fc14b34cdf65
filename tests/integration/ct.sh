#!/bin/bash
# ct: the constant-time check (tests/ct/run.sh, also `make ct`): the
# handshake path (noise.c, cookie.c, crypto.c's HMAC and KDF, blake2s.c)
# and the data path (fwd_crypto.c, fwd_rx.c, replay.c) under valgrind's
# memcheck with every secret marked undefined. Passes when a canary leak
# is reported, every step of the handshake and data path works, and
# nothing of ours branches or indexes memory on a secret.
T_ID=cg
. "$(dirname "$0")/../lib/common.sh"

command -v valgrind >/dev/null ||
    t_fatal "valgrind is missing (contrib/install-deps.sh installs it)"
if (cd "$T_ROOT" && tests/ct/run.sh) >"$T_TMP/ct.log" 2>&1; then
	t_ok "constant time: $(grep -o 'steps ok: [0-9]*' "$T_TMP/ct.log"), $(tail -n 1 "$T_TMP/ct.log" | sed 's/^ct: //')"
else
	t_fail "constant time" "$(tail -n 40 "$T_TMP/ct.log")"
fi
t_done
