#!/bin/bash
# virtual-card.sh: try wgcard without hardware. Brings up a pcscd of its
# own (the system's is left alone) with Debian's vsmartcard-vpcd reader
# driver and plugs the project's virtual OpenPGP card (build/wgcard-vcard)
# into it, then prints what to export so that wgcardd and wgcardctl use
# that pcscd, and how to pull and insert the card. Run as root.
#
#	contrib/virtual-card.sh start [DIR]	pcscd + card (a key made on
#						the first start)
#	contrib/virtual-card.sh remove [DIR]	pull the card
#	contrib/virtual-card.sh insert [DIR]	put it back
#	contrib/virtual-card.sh status [DIR]	the card's own view
#	contrib/virtual-card.sh stop [DIR]	stop both (the card's state,
#						its key and PINs, stays in DIR)
#
# DIR defaults to /run/wgcard-try. VCARD_PORT picks vpcd's TCP port
# (default 35963; vpcd also takes the next one, for its second slot).
#
# How: pcscd 1.9 always serves /run/pcscd/pcscd.comm, so it runs in a
# mount namespace of its own where DIR/run is mounted on /run/pcscd;
# clients reach it through PCSCLITE_CSOCK_NAME=DIR/run/pcscd.comm.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
vcard=${VCARD_BIN:-$top/build/wgcard-vcard}
driver=/usr/lib/pcsc/drivers/serial/libifdvpcd.so
cmd=${1:-}
dir=${2:-/run/wgcard-try}
port=${VCARD_PORT:-35963}
sock=$dir/run/pcscd.comm

die() { echo "virtual-card: $*" >&2; exit 1; }

# send CMD: one command to the card's control socket, its answer printed.
send()
{
	[ -S "$dir/card.ctl" ] || die "no card running in $dir (start it first)"
	perl -MIO::Socket::UNIX -e '
		my $s = IO::Socket::UNIX->new(Type => SOCK_STREAM(),
		    Peer => $ARGV[0]) or die "$ARGV[0]: $!\n";
		print $s "$ARGV[1]\n";
		my $a = <$s>;
		print defined $a ? $a : "no answer\n";' "$dir/card.ctl" "$1"
}

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

stop_one()
{
	local f=$1 i
	alive "$f" || { rm -f "$f"; return 0; }
	kill "$(cat "$f")"
	for i in $(seq 50); do
		alive "$f" || break
		sleep 0.1
	done
	alive "$f" && kill -KILL "$(cat "$f")"
	rm -f "$f"
}

start()
{
	local i pub
	[ "$(id -u)" -eq 0 ] || die "run as root"
	[ -x "$vcard" ] || die "$vcard is missing: run make first"
	[ -f "$driver" ] || die "vsmartcard-vpcd is missing (contrib/install-deps.sh)"
	command -v pcscd >/dev/null || die "pcscd is missing (contrib/install-deps.sh)"
	alive "$dir/pcscd.pid" && die "already running in $dir (stop it first)"
	[ -z "$(ss -Htln "( sport = :$port or sport = :$((port + 1)) )")" ] ||
	    die "TCP port $port or $((port + 1)) is taken: set VCARD_PORT"
	mkdir -p "$dir/conf" "$dir/run"
	chmod 755 "$dir" "$dir/run"
	printf 'FRIENDLYNAME "Virtual PCD"\nDEVICENAME   /dev/null:0x%X\nLIBPATH      %s\nCHANNELID    0x%X\n' \
	    "$port" "$driver" "$port" >"$dir/conf/vpcd"
	rm -f "$sock"
	setsid unshare --mount --propagation private sh -c \
	    'mount --bind "$1" /run/pcscd && exec pcscd -f -c "$2"' sh \
	    "$dir/run" "$dir/conf" >"$dir/pcscd.log" 2>&1 </dev/null &
	echo $! >"$dir/pcscd.pid"
	for i in $(seq 100); do
		[ -S "$sock" ] && break
		alive "$dir/pcscd.pid" || die "pcscd stopped: $(tail -n 3 "$dir/pcscd.log")"
		sleep 0.1
	done
	[ -S "$sock" ] || die "pcscd made no socket in 10 s ($dir/pcscd.log)"
	if [ ! -f "$dir/card.state" ]; then
		pub=$("$vcard" --init-state "$dir/card.state" --generate \
		    --pin 123456 --admin-pin 12345678) || die "card state"
	else
		pub=$("$vcard" --pubkey "$dir/card.state") || die "card state"
	fi
	setsid "$vcard" --state "$dir/card.state" --port "$port" \
	    --control "$dir/card.ctl" >"$dir/card.log" 2>&1 </dev/null &
	echo $! >"$dir/card.pid"
	for i in $(seq 50); do
		[ -S "$dir/card.ctl" ] && break
		sleep 0.1
	done
	[ -S "$dir/card.ctl" ] || die "the card did not start ($dir/card.log)"
	cat <<EOT
virtual card running: pcscd pid $(cat "$dir/pcscd.pid"), card pid $(cat "$dir/card.pid")
card public key (CardPublicKey): $pub
user PIN 123456, admin PIN 12345678

For wgcardd and wgcardctl to use this pcscd, export:
  export PCSCLITE_CSOCK_NAME=$sock
then, for example:
  wgcardctl -r '' card pubkey
  wgcardd -d -c /etc/wgcard/try0.conf     (KeySource = openpgp)
Pull and insert the card:
  $0 remove $dir
  $0 insert $dir
Stop it all:
  $0 stop $dir
EOT
}

case $cmd in
start)	start ;;
stop)	stop_one "$dir/card.pid"; stop_one "$dir/pcscd.pid"
	rm -f "$sock" "$dir/card.ctl"
	echo "virtual card stopped (its state stays in $dir/card.state)" ;;
remove)	send remove ;;
insert)	send insert ;;
status)	send status ;;
*)	echo "usage: $0 start|stop|remove|insert|status [DIR]" >&2; exit 1 ;;
esac
