#!/bin/sh
# Install everything wgcard needs to build, run and test on Debian 12.
# Idempotent: run it as often as you like.
set -eu

PKGS="build-essential pkg-config clang llvm libclang-rt-14-dev
libevent-dev libsodium-dev libssl-dev liburing-dev libseccomp-dev libpcsclite-dev
pcscd pcsc-tools vsmartcard-vpcd scdaemon gnupg
wireguard-go wireguard-tools iperf3 iproute2 iptables iputils-ping
mandoc procps psmisc kmod strace valgrind python3 nodejs
python3-jsonschema python3-prometheus-client
systemd"

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps.sh: must run as root" >&2
	exit 1
fi

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
	    missing="$missing $p"
done
if [ -n "$missing" ]; then
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	apt-get install -y -q --no-install-recommends $missing
fi

# The unprivileged user the children of wgcardd run as.
if ! getent group wgcard >/dev/null; then
	groupadd --system wgcard
fi
if ! getent passwd _wgcard >/dev/null; then
	useradd --system --gid wgcard --home-dir /var/empty --no-create-home \
	    --shell /usr/sbin/nologin _wgcard
fi
# Exactly 0755 root:root whatever the caller's umask (mkdir -p would take
# it: under umask 077 the directories became 0700). wgcardd checks and sets
# its run directories itself too.
install -d -m 0755 -o root -g root /var/empty /var/run/wireguard
