# Card helpers for the wgcard integration tests: a private pcscd with
# Debian's vsmartcard-vpcd reader driver, and build/wgcard-vcard (the
# virtual OpenPGP card) plugged into it.  Source after common.sh:
#
#	T_ID=vg
#	. "$(dirname "$0")/../lib/common.sh"
#	. "$(dirname "$0")/../lib/card.sh"
#	card_start_pcscd a || t_fatal "pcscd"
#	card_init_state "$T_TMP/card.state" --generate >/dev/null
#	card_start_vcard "$T_TMP/card.state" || t_fatal "vcard"
#	card_wait_present || t_fatal "card not seen"
#
# The recipe (pcsc-lite 1.9.9, vsmartcard-vpcd 3.3):
# - pcscd 1.9.9 always serves /run/pcscd/pcscd.comm (it ignores
#   PCSCLITE_CSOCK_NAME; only libpcsclite, the client side, honours it).
#   So each test's pcscd runs in its own mount namespace where a
#   directory of the test is bind-mounted on /run/pcscd; clients outside
#   use that directory's socket through PCSCLITE_CSOCK_NAME.
# - `pcscd -f -c DIR` reads DIR instead of /etc/reader.conf.d; DIR holds
#   one vpcd entry, DEVICENAME /dev/null:PORT.  vpcd then listens on TCP
#   PORT *and* PORT+1 (two slots), on all addresses of the namespace
#   pcscd runs in, so ports are picked two apart and checked free.
# - The card dials 127.0.0.1:PORT, so it must share pcscd's network
#   namespace (run both in the root namespace; the daemons reach pcscd
#   through its unix socket, which namespaces do not hide).
# - PC/SC clients (wgcard-keyd, scdaemon) need PCSCLITE_CSOCK_NAME in
#   their environment; gpg-agent passes its own environment on to the
#   scdaemon it starts, so export it before the first gpg command.
#
# Exports: PCSCLITE_CSOCK_NAME, VCARD_PORT (after card_start_pcscd);
# VCARD_CTL, VCARD_LOG, VCARD_STATE (after card_start_vcard);
# CARD_PCSCD_PID, CARD_VCARD_PID.  Every pid is also in T_PIDS, so
# t_cleanup stops them even if card_stop_all is never called.

VCARD_BIN=${VCARD_BIN:-$T_ROOT/build/wgcard-vcard}
VPCD_DRIVER=${VPCD_DRIVER:-/usr/lib/pcsc/drivers/serial/libifdvpcd.so}
CARD_PCSCD_PID=
CARD_VCARD_PID=
CARD_DIR=
CARD_PIDS=()

# _card_port_free PORT: nothing listens on PORT nor PORT+1.
_card_port_free()
{
	[ -z "$(ss -Htln "( sport = :$1 or sport = :$(($1 + 1)) )" 2>/dev/null)" ]
}

# card_pick_port TAG: an even port in 20000..59998 derived from the test
# id, the script's pid and TAG, with PORT and PORT+1 both free.
card_pick_port()
{
	local h p i
	h=$(printf '%s' "$T_ID.$$.$1" | cksum | cut -d' ' -f1)
	for i in $(seq 0 49); do
		p=$((20000 + ((h + i * 7919) % 20000) * 2))
		if _card_port_free "$p"; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

# card_start_pcscd TAG: a private pcscd with one vpcd reader.
card_start_pcscd()
{
	local tag=${1:-card} port
	CARD_DIR=$T_TMP/pcscd-$tag
	mkdir -p "$CARD_DIR/conf" "$CARD_DIR/run" || return 1
	if [ -z "${VCARD_PORT:-}" ] || [ "${CARD_PORT_TAG:-}" != "$tag" ]; then
		port=$(card_pick_port "$tag") || {
			echo "card_start_pcscd: no free port pair"; return 1; }
		VCARD_PORT=$port
		CARD_PORT_TAG=$tag
	fi
	printf 'FRIENDLYNAME "Virtual PCD"\nDEVICENAME   /dev/null:0x%X\nLIBPATH      %s\nCHANNELID    0x%X\n' \
	    "$VCARD_PORT" "$VPCD_DRIVER" "$VCARD_PORT" >"$CARD_DIR/conf/vpcd"
	rm -f "$CARD_DIR/run/pcscd.comm" "$CARD_DIR/run/pcscd.pid"
	export PCSCLITE_CSOCK_NAME=$CARD_DIR/run/pcscd.comm
	export VCARD_PORT
	# pcscd's own pid: sh execs it inside the new mount namespace.
	unshare --mount --propagation private sh -c \
	    'mkdir -p /run/pcscd && mount --bind "$1" /run/pcscd &&
	     exec pcscd -f -c "$2"' sh "$CARD_DIR/run" "$CARD_DIR/conf" \
	    >>"$CARD_DIR/pcscd.log" 2>&1 </dev/null &
	CARD_PCSCD_PID=$!
	T_PIDS+=("$CARD_PCSCD_PID")
	CARD_PIDS+=("$CARD_PCSCD_PID")
	if ! wait_for 10 _card_pcscd_ready; then
		echo "card_start_pcscd: pcscd did not come up"
		tail -n 20 "$CARD_DIR/pcscd.log"
		return 1
	fi
	return 0
}

_card_pcscd_ready()
{
	pid_alive "$CARD_PCSCD_PID" || return 1
	[ -S "$PCSCLITE_CSOCK_NAME" ] && ! _card_port_free "$VCARD_PORT"
}

# card_stop_pcscd: stop our pcscd (the card stays and reconnects later).
card_stop_pcscd()
{
	[ -n "$CARD_PCSCD_PID" ] || return 0
	stop_pid "$CARD_PCSCD_PID" 5
	CARD_PCSCD_PID=
}

# card_restart_pcscd: stop it and start it again, same socket and port.
card_restart_pcscd()
{
	card_stop_pcscd
	wait_for 5 _card_port_free "$VCARD_PORT"
	card_start_pcscd "${CARD_PORT_TAG:-card}"
}

# card_start_vcard STATEFILE [wgcard-vcard args]: the virtual card, with
# its control socket and a verbose log (every APDU's INS and SW).  A new
# state file gets the defaults (PW1 123456, PW3 12345678, no key); make
# one with a key first with card_init_state.  With VCARD_PROFILE set
# (nitrokey3, yubikey5, gnuk, smartpgp; see docs/devices.md) the card
# behaves like that token, KDF on; knobs go in the args (--set K=V) or,
# for a whole script, in VCARD_KNOBS ("t0=1 respmax=16").
card_start_vcard()
{
	local state=$1
	shift
	local k
	for k in ${VCARD_KNOBS:-}; do
		set -- --set "$k" "$@"
	done
	[ -n "${VCARD_PROFILE:-}" ] && set -- --profile "$VCARD_PROFILE" "$@"
	[ -x "$VCARD_BIN" ] || { echo "card_start_vcard: $VCARD_BIN is missing (run make)"; return 1; }
	[ -n "${VCARD_PORT:-}" ] || { echo "card_start_vcard: start pcscd first"; return 1; }
	VCARD_STATE=$state
	VCARD_CTL=$T_TMP/vcard-${#CARD_PIDS[@]}.ctl
	VCARD_LOG=$T_TMP/vcard-${#CARD_PIDS[@]}.log
	rm -f "$VCARD_CTL"
	"$VCARD_BIN" --state "$state" --port "$VCARD_PORT" \
	    --control "$VCARD_CTL" -v "$@" >>"$VCARD_LOG" 2>&1 </dev/null &
	CARD_VCARD_PID=$!
	T_PIDS+=("$CARD_VCARD_PID")
	CARD_PIDS+=("$CARD_VCARD_PID")
	export VCARD_CTL VCARD_LOG VCARD_STATE
	if ! wait_for 5 _card_vcard_ready; then
		echo "card_start_vcard: no control socket"
		tail -n 20 "$VCARD_LOG"
		return 1
	fi
	return 0
}

_card_vcard_ready()
{
	pid_alive "$CARD_VCARD_PID" && [ -S "$VCARD_CTL" ]
}

# card_init_state FILE [--generate] [--pin P] [--admin-pin P] [--serial H]:
# a fresh state file; with --generate, prints the card's public key
# (with VCARD_PROFILE set: that token's, KDF on, PINs stored hashed).
card_init_state()
{
	if [ -n "${VCARD_PROFILE:-}" ]; then
		"$VCARD_BIN" --profile "$VCARD_PROFILE" --init-state "$@"
	else
		"$VCARD_BIN" --init-state "$@"
	fi
}

# card_touch: touch the current vcard (a DECIPHER waiting for one goes).
card_touch()
{
	card_ctl touch >/dev/null
}

# card_select_app APP: another program selects APP (piv, oath, mgmt) on
# the current vcard, or openpgp again: the PIN state is gone.
card_select_app()
{
	card_ctl "app $1" >/dev/null
}

# card_ctl CMD: one control command to the current vcard; prints the
# one-line answer.  remove, insert, slow MS, garbage N, hang, normal,
# status, pubkey, app NAME, touch, uif SLOT N, set KNOB=VALUE.
card_ctl()
{
	perl -MIO::Socket::UNIX -e '
		my $s = IO::Socket::UNIX->new(Type => SOCK_STREAM(),
		    Peer => $ARGV[0]) or die "connect $ARGV[0]: $!\n";
		print $s "$ARGV[1]\n";
		my $l = <$s>;
		defined $l or die "no answer\n";
		print $l;' "$VCARD_CTL" "$*"
}

# card_raw_apdus HEX...: another PC/SC client (as gpg --card-edit would
# be) sends each APDU to the first reader's card, shared; fails at the
# first answer that is not 9000.
card_raw_apdus()
{
	perl -MChipcard::PCSC -MChipcard::PCSC::Card -e '
		my $c = Chipcard::PCSC->new() or die "no context\n";
		my @r = $c->ListReaders() or die "no reader\n";
		my $k = Chipcard::PCSC::Card->new($c, $r[0],
		    $Chipcard::PCSC::SCARD_SHARE_SHARED) or die "connect\n";
		for my $h (@ARGV) {
			my $res = $k->Transmit([map { hex } unpack("(A2)*", $h)])
			    or die "transmit\n";
			my $sw = sprintf("%02X%02X", @$res[-2, -1]);
			$sw eq "9000" or die substr($h, 0, 8) . ": SW $sw\n";
		}' "$@"
}

# card_status_field NAME: one field of "status" (present, connected,
# powered, powerons, atrs, apdus, deciphers, pw1, rc, pw3, key, mode,
# serial, profile, app, kdf, touchwait, touches).
card_status_field()
{
	card_ctl status | tr ' ' '\n' | awk -F= -v k="$1" '
		$1 == k { print $2; f = 1 }
		NF == 1 && ($1 == "present" || $1 == "absent") && k == "present" {
			print ($1 == "present") ? 1 : 0; f = 1 }
		END { exit !f }'
}

# card_pcsc_present: a PC/SC client (libpcsclite through
# PCSCLITE_CSOCK_NAME) sees a card in the reader.
card_pcsc_present()
{
	perl -MChipcard::PCSC -e '
		my $c = Chipcard::PCSC->new() or exit 2;
		my @r = $c->ListReaders() or exit 3;
		my @st = ({ reader_name => $r[0],
		    current_state => $Chipcard::PCSC::SCARD_STATE_UNAWARE });
		defined $c->GetStatusChange(\@st, 100) or exit 4;
		exit(($st[0]{event_state} &
		    $Chipcard::PCSC::SCARD_STATE_PRESENT) ? 0 : 1);' 2>/dev/null
}

# card_pcsc_absent: the reader is there and empty.
card_pcsc_absent()
{
	card_pcsc_present
	[ $? -eq 1 ]
}

# card_wait_present [TIMEOUT]: the card is connected to vpcd, pcscd has
# powered it on, and PC/SC clients see it.
card_wait_present()
{
	wait_for "${1:-10}" _card_present
}

_card_present()
{
	local st
	st=$(card_ctl status 2>/dev/null) || return 1
	case $st in
	present\ connected=1\ *) ;;
	*) return 1 ;;
	esac
	case $st in
	*" powerons=0 "*) return 1 ;;
	esac
	card_pcsc_present
}

# card_wait_absent [TIMEOUT]: PC/SC clients see an empty reader.
card_wait_absent()
{
	wait_for "${1:-10}" card_pcsc_absent
}

# card_stop_vcard: stop the current vcard (the state file stays).
card_stop_vcard()
{
	[ -n "$CARD_VCARD_PID" ] || return 0
	stop_pid "$CARD_VCARD_PID" 3
	CARD_VCARD_PID=
}

# card_stop_all: stop every pcscd and vcard these helpers started.
card_stop_all()
{
	local pid
	for pid in "${CARD_PIDS[@]}"; do
		stop_pid "$pid" 3
	done
	CARD_PIDS=()
	CARD_PCSCD_PID=
	CARD_VCARD_PID=
}

# card_conf FILE PUBKEY PINFILE [LINE...]: a config-mode file for side A
# (pair_b_only's layout) with its key on the card: KeySource, the card's
# public key, the PIN file, any further [Interface] LINEs, then A's port
# and address and B as its one peer.  Written whole (mode 0600) or not.
card_conf()
{
	local file=$1 pub=$2 pin=$3 line
	shift 3
	(
		umask 077
		{
			printf '[Interface]\nKeySource = openpgp\n'
			printf 'CardPublicKey = %s\nPinFile = %s\n' "$pub" "$pin"
			for line in "$@"; do
				printf '%s\n' "$line"
			done
			printf 'ListenPort = %s\nAddress = %s/%s\n\n' \
			    "$PORT_A" "$IN4_A" "$IN4_PLEN"
			printf '[Peer]\nPublicKey = %s\nAllowedIPs = %s/32\n' \
			    "$PUB_B" "$IN4_B"
			printf 'Endpoint = %s:%s\n' "$OUT4_B" "$PORT_B"
		} >"$file.new" && mv "$file.new" "$file"
	)
}

# mark, logged PATTERN, logged_count PATTERN: side A's log ($LOG_A) has
# PATTERN (how many times) since the last mark.
MARK=0
mark() { MARK=$(wc -l <"$LOG_A"); }
logged() { tail -n +"$((MARK + 1))" "$LOG_A" | grep -q -- "$1"; }
logged_count() { tail -n +"$((MARK + 1))" "$LOG_A" | grep -c -- "$1"; }

# force_handshake: B forgets its session with A and initiates anew.
force_handshake()
{
	wgx "$NS_B" set "$IF_B" peer "$PUB_A" remove &&
	wgx "$NS_B" set "$IF_B" peer "$PUB_A" allowed-ips "$IN4_A/32" \
	    endpoint "$OUT4_A:$PORT_A"
}

# card_dump_logs: the tail of the pcscd and vcard logs (on failures).
card_dump_logs()
{
	local f
	for f in "$CARD_DIR/pcscd.log" "$T_TMP"/vcard-*.log; do
		[ -s "$f" ] || continue
		echo "---- last lines of $f"
		tail -n 30 "$f"
		echo "----"
	done
}

# cardd_conf FILE IFNAME PINFILE CARDPUB SERIAL PORT PEERPUB EP ALLOWED IN4 IN6:
# a wgcardd.conf for a card-keyed interface with one peer (EP may be
# empty).
cardd_conf()
{
	(
		umask 077
		cat >"$1" <<EOC
[Interface]
KeySource = openpgp
CardSerial = $5
CardPublicKey = $4
PinFile = $3
ListenPort = $6
Address = ${10}/$IN4_PLEN
Address = ${11}/$IN6_PLEN

[Peer]
PublicKey = $7
AllowedIPs = $9
${8:+Endpoint = $8}
EOC
	)
}
