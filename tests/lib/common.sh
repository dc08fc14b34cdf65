# Common helpers for the wgcard integration tests.  Source it from a bash
# script after setting T_ID (a short test id, 2-3 letters):
#
#	T_ID=bs
#	. "$(dirname "$0")/../lib/common.sh"
#
# Every name a test makes (namespaces, interfaces, temp dirs) carries T_ID
# and the script's pid, so tests run side by side.  Everything a test starts
# or makes is registered here and undone by t_cleanup, which runs on every
# exit path (EXIT, INT, TERM).  Only recorded pids are ever signalled.
#
# Implementations: "wggo" (Debian's wireguard-go) or "wgcardd"
# (build/wgcardd, or $WGCARDD).  Both run as `BIN -f IFNAME` and serve
# /var/run/wireguard/IFNAME.sock for the stock wg(8).

T_ID=${T_ID:-t}
T_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
WGCARDD=${WGCARDD:-$T_ROOT/build/wgcardd}
WIREGUARD_GO=${WIREGUARD_GO:-wireguard-go}
IMPL_A=${IMPL_A:-wgcardd}
IMPL_B=${IMPL_B:-wggo}
WG_RUNDIR=/var/run/wireguard
START_TIMEOUT=${START_TIMEOUT:-15}
PATH=$PATH:/usr/sbin:/sbin

T_PASS=0
T_FAIL=0
T_SKIP=0
T_DONE=0
T_CLEANED=0
T_FAIL_LINES=()
# What we start in the background gets SIGTERM if this script dies, even by
# SIGKILL (its parent-death signal), so nothing outlives a killed test.
T_PDEATH=()
if setpriv --help 2>/dev/null | grep -q pdeathsig; then
	T_PDEATH=(setpriv --pdeathsig TERM --)
fi
T_NS=()			# namespaces we made
T_PIDS=()		# pids of our background children
T_IFACES=()		# interface names whose UAPI socket we may leave behind
declare -A T_IF_PID=()	# interface name -> daemon pid
declare -A T_IF_IMPL=()	# interface name -> implementation
declare -A T_IF_LOG=()	# interface name -> daemon log file
declare -A T_IF_BAD=()	# interfaces whose daemon ran during a failure

T_TMP=$(mktemp -d "/tmp/wgtest-$T_ID.XXXXXX") || {
	echo "cannot make a temp dir"; echo "0 passed, 1 failed"; exit 1; }
chmod 700 "$T_TMP"

# ---------------------------------------------------------------- results

t_log()
{
	printf '%s\n' "$*"
}

t_ok()
{
	T_PASS=$((T_PASS + 1))
	printf 'PASS %s\n' "$1"
}

t_fail()
{
	local ifc
	T_FAIL=$((T_FAIL + 1))
	printf 'FAIL %s: %s [at %ss]\n' "$1" "${2:-failed}" "$SECONDS"
	T_FAIL_LINES+=("FAIL $1: ${2:-failed}")
	# The logs of the daemons running now are printed at the end.
	for ifc in "${!T_IF_PID[@]}"; do
		T_IF_BAD[$ifc]=1
	done
}

# t_skip NAME REASON: only for what this machine genuinely cannot run.
t_skip()
{
	T_SKIP=$((T_SKIP + 1))
	printf 'SKIP %s: %s\n' "$1" "${2:?a skip must say why}"
}

# t_check NAME CMD...: pass if CMD succeeds.
t_check()
{
	local name=$1
	shift
	if "$@"; then
		t_ok "$name"
	else
		t_fail "$name" "command failed: $*"
	fi
}

# t_eq NAME GOT WANT
t_eq()
{
	if [ "$2" = "$3" ]; then
		t_ok "$1"
	else
		t_fail "$1" "got '$2', want '$3'"
	fi
}

# t_done: clean up, print the closing line, return non-zero on failure.
t_done()
{
	local line
	[ "$T_DONE" = 1 ] && return $((T_FAIL > 0))
	T_DONE=1
	if [ $((T_PASS + T_FAIL)) -eq 0 ]; then
		t_fail "checks" "the test checked nothing"
	fi
	if [ "$T_FAIL" -gt 0 ]; then
		t_dump_logs
		echo "---- failures:"
		printf '%s\n' "${T_FAIL_LINES[@]}"
	fi
	t_cleanup
	if ! t_leftovers; then
		t_fail "cleanup" "left things behind (see above)"
	fi
	line="$T_PASS passed, $T_FAIL failed"
	[ "$T_SKIP" -gt 0 ] && line="$line, $T_SKIP skipped"
	printf '%s\n' "$line"
	[ "$T_FAIL" -eq 0 ]
}

# t_fatal REASON: a setup step failed; nothing after it can run.
t_fatal()
{
	t_fail "setup" "$1"
	t_done
	exit 1
}

t_dump_logs()
{
	local ifc
	for ifc in "${!T_IF_BAD[@]}"; do
		[ -s "${T_IF_LOG[$ifc]}" ] || continue
		echo "---- last lines of the ${T_IF_IMPL[$ifc]} log for $ifc"
		tail -n "${T_LOG_LINES:-40}" "${T_IF_LOG[$ifc]}"
		echo "----"
	done
}

# ---------------------------------------------------------------- processes

# pid_alive PID: running and not a zombie.
pid_alive()
{
	local st
	[ -r "/proc/$1/stat" ] || return 1
	st=$(sed 's/^.*) \(.\).*/\1/' "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

# t_bg_ns NS CMD...: run CMD (a program, not a function) in NS in the
# background; its pid (the program's own: ip netns exec execs it) goes to
# T_LASTPID.  Background jobs of a script ignore SIGINT: stop with TERM.
t_bg_ns()
{
	local ns=$1
	shift
	ip netns exec "$ns" "${T_PDEATH[@]}" "$@" &
	T_LASTPID=$!
	T_PIDS+=("$T_LASTPID")
}

# ping_bg NS ADDR LOG: a continuous ping (every 0.2 s) in the background,
# one line per answer or per missing answer; pid in T_LASTPID.
ping_bg()
{
	t_bg_ns "$1" ping -n -O -i 0.2 -W 1 "$2" >"$3" 2>&1
}

# ping_bg_stop PID LOG: stop it; prints "ANSWERED LOST", where LOST counts
# the echo requests (all but the last 3, which may be in flight) that never
# got an answer, however late.
ping_bg_stop()
{
	stop_pid "$1" 2
	awk '
	/bytes from/ || /no answer yet/ {
		if (match($0, /icmp_seq=[0-9]+/)) {
			seq = substr($0, RSTART + 9, RLENGTH - 9) + 0
			if (seq > max)
				max = seq
			if ($0 ~ /bytes from/ && !(seq in ok)) {
				ok[seq] = 1
				n++
			}
		}
	}
	END {
		for (i = 1; i <= max - 3; i++)
			if (!(i in ok))
				lost++
		print n + 0, lost + 0
	}' "$2"
}

# descendants PID: all live descendants of PID (by parent pid), deepest last.
descendants()
{
	local c
	for c in $(ps -o pid= --ppid "$1" 2>/dev/null); do
		echo "$c"
		descendants "$c"
	done
}

# wait_gone TIMEOUT PID...: wait until none of PIDs is alive.
wait_gone()
{
	local t=$1 p alive end
	shift
	end=$(($(date +%s%N) / 1000000 + t * 1000))
	while :; do
		alive=0
		for p in "$@"; do
			pid_alive "$p" && alive=1
		done
		[ $alive = 0 ] && return 0
		[ $(($(date +%s%N) / 1000000)) -ge $end ] && return 1
		sleep 0.1
	done
}

# stop_pid PID [GRACE]: TERM, then KILL after GRACE seconds, with its
# descendants (a daemon's children).  Only for pids we started.
stop_pid()
{
	local pid=$1 grace=${2:-5} kids
	pid_alive "$pid" || { wait "$pid" 2>/dev/null; return 0; }
	kids=$(descendants "$pid")
	kill -TERM "$pid" 2>/dev/null
	if ! wait_gone "$grace" "$pid"; then
		kill -KILL "$pid" 2>/dev/null
	fi
	if [ -n "$kids" ] && ! wait_gone "$grace" $kids; then
		kill -KILL $kids 2>/dev/null
	fi
	wait "$pid" 2>/dev/null
	return 0
}

# cpu_ticks PID...: utime + stime, in clock ticks, summed over PIDs.
# /proc/PID/stat holds the whole thread group's times (every thread in
# /proc/PID/task, including threads that already exited).
cpu_ticks()
{
	local p t sum=0
	for p in "$@"; do
		# The command name may hold blanks: cut after its ')'.
		t=$(sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null |
		    awk '{ print $12 + $13 }')
		sum=$((sum + ${t:-0}))
	done
	echo "$sum"
}

# ---------------------------------------------------------------- polling

# wait_for TIMEOUT CMD...: poll CMD every 0.1 s until it succeeds.
wait_for()
{
	local t=$1 end
	shift
	end=$(($(date +%s%N) / 1000000 + ${t%.*} * 1000))
	while :; do
		"$@" && return 0
		[ $(($(date +%s%N) / 1000000)) -ge $end ] && return 1
		sleep 0.1
	done
}

now_ms()
{
	echo $(($(date +%s%N) / 1000000))
}

# ---------------------------------------------------------------- namespaces

# ns_name TAG: the namespace name for TAG in this test.
ns_name()
{
	echo "${T_ID}$$$1"
}

# ns_new NAME: make a namespace (lo up), registered for cleanup.
ns_new()
{
	ip netns add "$1" || return 1
	T_NS+=("$1")
	ip -n "$1" link set lo up
	# No DAD delays, no stray router solicitations.
	# Removing a primary address keeps the secondaries (roaming).
	ip netns exec "$1" sysctl -q -w net.ipv6.conf.all.accept_dad=0 \
	    net.ipv6.conf.default.accept_dad=0 \
	    net.ipv4.conf.all.promote_secondaries=1 \
	    net.ipv4.conf.default.promote_secondaries=1 >/dev/null 2>&1
	return 0
}

# ns_del NAME: kill the daemons living there, delete it.
ns_del()
{
	local ns=$1 ifc i
	for ifc in "${!T_IF_PID[@]}"; do
		[ "${T_IF_NS[$ifc]}" = "$ns" ] && impl_stop "$ifc"
	done
	ip netns del "$ns" 2>/dev/null
	for i in "${!T_NS[@]}"; do
		[ "${T_NS[$i]}" = "$ns" ] && unset 'T_NS[i]'
	done
	return 0
}

# nsx NS CMD...: run CMD in NS.
nsx()
{
	local ns=$1
	shift
	ip netns exec "$ns" "$@"
}

# veth_pair NS1 IF1 NS2 IF2: a veth pair between two namespaces, both up.
veth_pair()
{
	ip link add "$2" netns "$1" type veth peer name "$4" netns "$3" ||
	    return 1
	ip -n "$1" link set "$2" up && ip -n "$3" link set "$4" up
}

# addr_add NS IF ADDR/PLEN: v4 or v6 (v6 with nodad).
addr_add()
{
	case $3 in
	*:*)	ip -n "$1" addr add "$3" dev "$2" nodad ;;
	*)	ip -n "$1" addr add "$3" dev "$2" ;;
	esac
}

addr_del()
{
	ip -n "$1" addr del "$3" dev "$2"
}

# strip_plen ADDR/PLEN -> ADDR
strip_plen()
{
	echo "${1%/*}"
}

# ping_ok NS ADDR: at least one of a few echo requests is answered.
ping_ok()
{
	ip netns exec "$1" ping -n -q -c 3 -i 0.2 -W 2 "$2" >/dev/null 2>&1
}

# ping_retry NS ADDR TIMEOUT: ping until answered (first packets may
# trigger a handshake).
ping_retry()
{
	wait_for "${3:-10}" ping_one "$1" "$2"
}

ping_one()
{
	ip netns exec "$1" ping -n -q -c 1 -W 1 "$2" >/dev/null 2>&1
}

# ping_fails NS ADDR: no answer at all to a few echo requests.
ping_fails()
{
	! ip netns exec "$1" ping -n -q -c 3 -i 0.2 -W 1 "$2" >/dev/null 2>&1
}

# ---------------------------------------------------------------- daemons

declare -A T_IF_NS=()

impl_bin()
{
	case $1 in
	wggo)		echo "$WIREGUARD_GO" ;;
	wgcardd)	echo "$WGCARDD" ;;
	*)		return 1 ;;
	esac
}

# start_impl NS IMPL IFNAME: start IMPL in the foreground (as a background
# job of this script) in NS; wait for its UAPI socket and its interface.
# Sets T_LASTPID.  Returns non-zero (with a message) on failure.
start_impl()
{
	local ns=$1 impl=$2 ifc=$3 bin log pid
	bin=$(impl_bin "$impl") || { echo "unknown implementation '$impl'"; return 1; }
	if [ "$impl" = wgcardd ] && [ ! -x "$bin" ]; then
		echo "start_impl: $bin is missing (run make)"
		return 1
	fi
	log=$T_TMP/$ifc.log
	T_IFACES+=("$ifc")
	rm -f "$WG_RUNDIR/$ifc.sock"
	[ -d "$WG_RUNDIR" ] || install -d -m 0755 "$WG_RUNDIR"
	ip netns exec "$ns" "${T_PDEATH[@]}" env LOG_LEVEL=verbose \
	    "$bin" -f "$ifc" \
	    >"$log" 2>&1 </dev/null &
	pid=$!
	T_PIDS+=("$pid")
	T_LASTPID=$pid
	T_IF_PID[$ifc]=$pid
	T_IF_IMPL[$ifc]=$impl
	T_IF_LOG[$ifc]=$log
	T_IF_NS[$ifc]=$ns
	if ! wait_for "$START_TIMEOUT" _impl_ready "$ns" "$ifc" "$pid"; then
		if pid_alive "$pid"; then
			echo "start_impl: $impl $ifc: no socket $WG_RUNDIR/$ifc.sock or no interface after ${START_TIMEOUT}s"
		else
			wait "$pid"
			echo "start_impl: $impl $ifc exited with status $? before it was ready"
		fi
		tail -n 20 "$log"
		return 1
	fi
	return 0
}

_impl_ready()
{
	pid_alive "$3" || return 2
	[ -S "$WG_RUNDIR/$2.sock" ] && ip -n "$1" link show "$2" >/dev/null 2>&1
}

# impl_stop IFNAME: stop the daemon serving IFNAME.
impl_stop()
{
	local ifc=$1
	[ -n "${T_IF_PID[$ifc]}" ] || return 0
	stop_pid "${T_IF_PID[$ifc]}"
	unset 'T_IF_PID[$ifc]'
	rm -f "$WG_RUNDIR/$ifc.sock"
}

# start_conf NS IFNAME FILE [ARGS...]: wgcardd -d -c FILE [ARGS...] in NS
# (config mode; IFNAME is the interface the file names, or one of ARGS),
# logging to $T_TMP/IFNAME.log (appended), registered for cleanup like
# start_impl; PCSCLITE_CSOCK_NAME passes through for the card tests.
# Returns 1 with the log's tail when it does not come up.
start_conf()
{
	local ns=$1 ifc=$2 file=$3 log=$T_TMP/$2.log pid
	shift 3
	T_IFACES+=("$ifc")
	rm -f "$WG_RUNDIR/$ifc.sock"
	[ -d "$WG_RUNDIR" ] || install -d -m 0755 "$WG_RUNDIR"
	ip netns exec "$ns" "${T_PDEATH[@]}" env \
	    ${PCSCLITE_CSOCK_NAME:+PCSCLITE_CSOCK_NAME="$PCSCLITE_CSOCK_NAME"} \
	    "$WGCARDD" -d -c "$file" "$@" >>"$log" 2>&1 </dev/null &
	pid=$!
	T_PIDS+=("$pid")
	T_LASTPID=$pid
	T_IF_PID[$ifc]=$pid
	T_IF_IMPL[$ifc]=wgcardd
	T_IF_LOG[$ifc]=$log
	T_IF_NS[$ifc]=$ns
	if ! wait_for "$START_TIMEOUT" _impl_ready "$ns" "$ifc" "$pid"; then
		echo "start_conf: $ifc did not come up"
		tail -n 20 "$log"
		return 1
	fi
}

# wgx NS ARGS...: the stock wg in NS.
wgx()
{
	local ns=$1
	shift
	ip netns exec "$ns" wg "$@"
}

# ---------------------------------------------------------------- keys

# key_new NAME: NAME.key (private, mode 600), NAME.pub in $T_TMP; prints
# the public key.
key_new()
{
	(umask 077; wg genkey >"$T_TMP/$1.key") || return 1
	wg pubkey <"$T_TMP/$1.key" >"$T_TMP/$1.pub" || return 1
	cat "$T_TMP/$1.pub"
}

# psk_new NAME: NAME.psk (mode 600) in $T_TMP; prints its path.
psk_new()
{
	(umask 077; wg genpsk >"$T_TMP/$1.psk") || return 1
	echo "$T_TMP/$1.psk"
}

# ---------------------------------------------------------------- wg state

# wg_field NS IFNAME FIELD PUBKEY: the value of a per-peer `wg show` field
# (latest-handshakes, endpoints, transfer, persistent-keepalive,
# allowed-ips) for PUBKEY.
wg_field()
{
	wgx "$1" show "$2" "$3" 2>/dev/null |
	    awk -v k="$4" -F'\t' '$1 == k { $1 = ""; sub(/^ /, ""); print; exit }'
}

# handshake_time NS IFNAME PUBKEY: latest handshake (unix seconds, 0 none).
handshake_time()
{
	local v
	v=$(wg_field "$1" "$2" latest-handshakes "$3")
	echo "${v:-0}"
}

# wait_handshake NS IFNAME PUBKEY TIMEOUT [AFTER]: wait until the latest
# handshake with PUBKEY is later than AFTER (default 0).
wait_handshake()
{
	wait_for "$4" _handshake_after "$1" "$2" "$3" "${5:-0}"
}

_handshake_after()
{
	local v
	v=$(handshake_time "$1" "$2" "$3")
	[ "$v" -gt "$4" ] 2>/dev/null
}

# endpoint_of NS IFNAME PUBKEY
endpoint_of()
{
	wg_field "$1" "$2" endpoints "$3"
}

_ep_is()
{
	[ "$(endpoint_of "$1" "$2" "$3")" = "$4" ]
}

# _ep_host_is NS IFNAME PUBKEY HOST: the endpoint's address (any port).
_ep_host_is()
{
	local ep
	ep=$(endpoint_of "$1" "$2" "$3")
	ep=${ep%:*}
	ep=${ep#[}
	[ "${ep%]}" = "$4" ]
}

# _rx_above NS IFNAME PUBKEY BYTES: received more than BYTES from PUBKEY.
_rx_above()
{
	local rx tx
	read -r rx tx <<<"$(transfer_of "$1" "$2" "$3")"
	[ "${rx:-0}" -gt "$4" ]
}

# transfer_of NS IFNAME PUBKEY: "RX TX"
transfer_of()
{
	wg_field "$1" "$2" transfer "$3" | tr '\t' ' '
}

# ---------------------------------------------------------------- topology

# The standard two-host topology, in three steps a script may take one by
# one: pair_net (the hosts and the wire), then pair_start (a daemon each
# side) or pair_b_start (side B only, side A left to the script).
# pair_new and pair_b_only take the steps at once.  The address constants:
OUT4_A=192.0.2.1	OUT4_B=192.0.2.2	OUT4_PLEN=24
OUT6_A=2001:db8:1::1	OUT6_B=2001:db8:1::2	OUT6_PLEN=64
IN4_A=10.99.0.1		IN4_B=10.99.0.2		IN4_PLEN=24
IN6_A=fd99::1		IN6_B=fd99::2		IN6_PLEN=64
PORT_A=51820		PORT_B=51821

# pair_net [TAG]: namespaces A and B joined by a veth pair with the outer
# v4 and v6 addresses.  Sets NS_A NS_B VETH_A VETH_B, and IF_A IF_B, the
# names for the tunnel interfaces (made by the daemons).
pair_net()
{
	local tag=${1:-}
	NS_A=$(ns_name "${tag}a")
	NS_B=$(ns_name "${tag}b")
	IF_A="wg${T_ID}$$${tag}a"
	IF_B="wg${T_ID}$$${tag}b"
	VETH_A="ve${T_ID}$$${tag}a"
	VETH_B="ve${T_ID}$$${tag}b"
	if [ ${#IF_A} -gt 15 ]; then
		echo "pair_net: interface name $IF_A too long"
		return 1
	fi
	ns_new "$NS_A" && ns_new "$NS_B" || return 1
	veth_pair "$NS_A" "$VETH_A" "$NS_B" "$VETH_B" || return 1
	addr_add "$NS_A" "$VETH_A" "$OUT4_A/$OUT4_PLEN" &&
	addr_add "$NS_B" "$VETH_B" "$OUT4_B/$OUT4_PLEN" &&
	addr_add "$NS_A" "$VETH_A" "$OUT6_A/$OUT6_PLEN" &&
	addr_add "$NS_B" "$VETH_B" "$OUT6_B/$OUT6_PLEN"
}

# raw_pair: for the benchmarks' baseline, namespaces A and B joined by a
# veth pair with the outer v4 addresses and no tunnel, answering pings.
# Sets NS_A NS_B VETH_A VETH_B, and DST (B's address).
raw_pair()
{
	NS_A=$(ns_name ra) NS_B=$(ns_name rb)
	VETH_A="ve${T_ID}$$ra" VETH_B="ve${T_ID}$$rb"
	ns_new "$NS_A" && ns_new "$NS_B" &&
	    veth_pair "$NS_A" "$VETH_A" "$NS_B" "$VETH_B" &&
	    addr_add "$NS_A" "$VETH_A" "$OUT4_A/$OUT4_PLEN" &&
	    addr_add "$NS_B" "$VETH_B" "$OUT4_B/$OUT4_PLEN" || return 1
	ping_retry "$NS_A" "$OUT4_B" 5 || return 1
	DST=$OUT4_B
}

# pair_start [TAG [IMPL_A IMPL_B]]: on NS_A and NS_B (pair_net's, or a
# script's own), keys (TAG)A and (TAG)B, one daemon each side with its key
# and listen port, the tunnel interfaces up with inner v4 and v6
# addresses, but no peers yet (see pair_peer).  Sets PUB_A PUB_B KEY_A
# KEY_B (key files) IMPL_A_CUR IMPL_B_CUR.
pair_start()
{
	local tag=${1:-} ia=${2:-$IMPL_A} ib=${3:-$IMPL_B}
	IMPL_A_CUR=$ia
	IMPL_B_CUR=$ib
	PUB_A=$(key_new "${tag}A") && PUB_B=$(key_new "${tag}B") || return 1
	KEY_A=$T_TMP/${tag}A.key
	KEY_B=$T_TMP/${tag}B.key
	start_impl "$NS_A" "$ia" "$IF_A" || return 1
	start_impl "$NS_B" "$ib" "$IF_B" || return 1
	wgx "$NS_A" set "$IF_A" private-key "$KEY_A" listen-port "$PORT_A" &&
	wgx "$NS_B" set "$IF_B" private-key "$KEY_B" listen-port "$PORT_B" ||
	    return 1
	tun_up "$NS_A" "$IF_A" "$IN4_A" "$IN6_A" &&
	tun_up "$NS_B" "$IF_B" "$IN4_B" "$IN6_B"
}

# pair_new TAG [IMPL_A IMPL_B]: pair_net and pair_start.
pair_new()
{
	pair_net "$1" && pair_start "$@"
}

# pair_b_start PUB_A [endpoint] [v6]: on pair_net's hosts, side B only
# ($IMPL_B, key B.key, port PORT_B, up): it knows PUB_A at IN4_A/32 (and
# IN6_A/128 with v6), with endpoint OUT4_A:PORT_A when asked; side A is
# left to the script (a config-mode wgcardd, start_conf).  Sets PUB_B.
pair_b_start()
{
	local pub=$1 ep= allowed=$IN4_A/32 w
	shift
	for w in "$@"; do
		case $w in
		endpoint)	ep=$OUT4_A:$PORT_A ;;
		v6)		allowed=$allowed,$IN6_A/128 ;;
		*)		echo "pair_b_start: unknown word '$w'"; return 1 ;;
		esac
	done
	PUB_B=$(key_new B) || return 1
	start_impl "$NS_B" "$IMPL_B" "$IF_B" || return 1
	wgx "$NS_B" set "$IF_B" private-key "$T_TMP/B.key" listen-port \
	    "$PORT_B" peer "$pub" allowed-ips "$allowed" \
	    ${ep:+endpoint "$ep"} || return 1
	tun_up "$NS_B" "$IF_B" "$IN4_B" "$IN6_B"
}

# pair_b_only PUB_A [endpoint] [v6]: pair_net and pair_b_start.
pair_b_only()
{
	pair_net && pair_b_start "$@"
}

# hs_flood NS DST PORT PUBKEY RATE SECONDS OUT: tests/tools/hsflood.py in
# NS (valid-mac1 initiations at RATE a second); its summary line in OUT,
# read back with flood_field OUT NAME (sent, cookies, other).
hs_flood()
{
	ip netns exec "$1" python3 "$T_ROOT/tests/tools/hsflood.py" \
	    --dst "$2" --port "$3" --pubkey "$4" --rate "$5" --seconds "$6" \
	    >"$7" 2>&1
}

flood_field()
{
	sed -n "s/.*\\b$2=\\([0-9]*\\).*/\\1/p" "$1"
}

# flood_host_new NET: host C, the flooder for hs_flood, on its own veth to
# A (NET.1 on A's side, NET.2 in C; NET as in 198.18.77).  Sets NS_C and
# OUT4_CA, A's address on that link.
flood_host_new()
{
	NS_C=$(ns_name c)
	OUT4_CA=$1.1
	ns_new "$NS_C" &&
	    veth_pair "$NS_A" "vc${T_ID}$$a" "$NS_C" "vc${T_ID}$$c" &&
	    addr_add "$NS_A" "vc${T_ID}$$a" "$OUT4_CA/24" &&
	    addr_add "$NS_C" "vc${T_ID}$$c" "$1.2/24"
}

# flood_lock [TIMEOUT]: one flood at a time on this machine (they measure
# the highest rate it can send, and the runner starts several scripts at
# once): waits up to TIMEOUT seconds (11 minutes) for another script's
# flood to end.  flood_unlock releases it (daemons started since hold the
# descriptor too, so it is unlocked explicitly, not closed); the
# descriptor is opened once, so a script may lock again.
flood_lock()
{
	local t0
	t0=$(now_ms)
	if [ -z "${T_FLOOD_LOCK:-}" ]; then
		exec {T_FLOOD_LOCK}>/tmp/wgcard-flood.lock || return 1
	fi
	flock -w "${1:-660}" "$T_FLOOD_LOCK" || return 1
	t_log "# flood lock taken after $(( ($(now_ms) - t0) / 1000 )) s"
}

# t_excl NAME [SECONDS]: an exclusive lock between test scripts (flock on
# /tmp/wgcard-NAME.lock, waiting up to SECONDS, default 600), held until
# the script exits. "ctlsock": the hostile-sibling daemons leave control
# sockets whose handshake process never answers, and `wgcardctl card
# init` asks every daemon's socket whether it uses the card (and refuses
# when one cannot say): the scripts that do either take turns.
# The lock is held by a process of its own (flock -o: the command does
# not inherit the descriptor), which ends when the script does (tail
# --pid, polling once a second; its output must not be the pipe: tail -f
# ends as soon as a pipe's reader has gone) or at t_cleanup (by pid):
# the script and what it starts hold no
# descriptor of the lock, so a process left behind cannot keep it (one
# did, and every other script waited its 600 s).
t_excl()
{
	local fifo=$T_TMP/excl-$1 line=

	mkfifo "$fifo" || return 1
	flock -o -w "${2:-600}" "/tmp/wgcard-$1.lock" \
	    sh -c "echo locked; exec tail --pid=$$ -f /dev/null >/dev/null" \
	    >"$fifo" 2>/dev/null </dev/null &
	T_PIDS+=("$!")
	read -r line <"$fifo"
	rm -f "$fifo"
	[ "$line" = locked ]
}

flood_unlock()
{
	[ -n "${T_FLOOD_LOCK:-}" ] && flock -u "$T_FLOOD_LOCK"
}

# flood_sources N SRCNET: N more addresses for host C (flood_host_new),
# SRCNET.0 .. SRCNET.N-1 (N <= 254, SRCNET as in 198.18.81), each a
# source of its own for hs_flood_max, and A's route to them through C.
flood_sources()
{
	python3 -c "
for i in range($1):
    print('address add $2.%d/32 dev vc${T_ID}$$c' % i)" |
	    ip -n "$NS_C" -batch - &&
	    ip -n "$NS_A" route add "$2.0/24" via "${OUT4_CA%.1}.2"
}

# hs_flood_max SECONDS OUT SRCNET N: tests/bench/hsflood in host C at A's
# OUT4_CA and PORT_A with PUB_A, as fast as C can send (FLOOD_RATE, if
# set, paces it), from the N addresses of flood_sources SRCNET (sendmmsg
# batches); its summary line in OUT, as hs_flood's, plus rate=R.
hs_flood_max()
{
	ip netns exec "$NS_C" "$T_ROOT/build/bench/hsflood" -d "$OUT4_CA" \
	    -p "$PORT_A" -k "$PUB_A" -r "${FLOOD_RATE:-0}" -t "$1" -s "$4" \
	    -b "$3.0" >"$2" 2>&1
}

# tun_up NS IFNAME IN4 IN6
tun_up()
{
	addr_add "$1" "$2" "$3/$IN4_PLEN" && addr_add "$1" "$2" "$4/$IN6_PLEN" &&
	    ip -n "$1" link set "$2" up
}

# pair_peer SIDE ENDPOINT_FAMILY [PSKFILE] [EXTRA wg set peer args...]:
# configure on SIDE (A or B) the other side as a peer, with an endpoint over
# the outer v4 or v6 network (family 4, 6, or "none").
pair_peer()
{
	local side=$1 fam=$2 psk=${3:-} ns ifc pub ep allowed
	shift 3 2>/dev/null || shift $#
	if [ "$side" = A ]; then
		ns=$NS_A ifc=$IF_A pub=$PUB_B
		allowed="$IN4_B/32,$IN6_B/128"
		case $fam in
		4) ep="$OUT4_B:$PORT_B" ;;
		6) ep="[$OUT6_B]:$PORT_B" ;;
		*) ep= ;;
		esac
	else
		ns=$NS_B ifc=$IF_B pub=$PUB_A
		allowed="$IN4_A/32,$IN6_A/128"
		case $fam in
		4) ep="$OUT4_A:$PORT_A" ;;
		6) ep="[$OUT6_A]:$PORT_A" ;;
		*) ep= ;;
		esac
	fi
	wgx "$ns" set "$ifc" peer "$pub" allowed-ips "$allowed" \
	    ${ep:+endpoint "$ep"} ${psk:+preshared-key "$psk"} "$@"
}

# pair_del: stop the pair's daemons and delete its namespaces.
pair_del()
{
	ns_del "$NS_A"
	ns_del "$NS_B"
}

# ---------------------------------------------------------------- iperf3

# iperf_bps NS_SERVER NS_CLIENT SERVER_ADDR SECONDS [extra client args]:
# one TCP transfer client -> server; prints the receiver's bits per second
# (an integer, 0 on any failure).
iperf_bps()
{
	local nss=$1 nsc=$2 addr=$3 secs=$4 spid out
	shift 4
	ip netns exec "$nss" "${T_PDEATH[@]}" iperf3 -s -1 -p 5201 \
	    >"$T_TMP/iperf-s.log" 2>&1 &
	spid=$!
	T_PIDS+=("$spid")
	if ! wait_for 5 _listening "$nss" 5201; then
		stop_pid "$spid" 1
		echo 0
		return 1
	fi
	out=$(ip netns exec "$nsc" timeout $((secs + 20)) iperf3 -c "$addr" \
	    -p 5201 -t "$secs" -J "$@" 2>/dev/null)
	stop_pid "$spid" 2
	printf '%s' "$out" | python3 -c '
import json, sys
try:
	d = json.load(sys.stdin)
	print(int(d["end"]["sum_received"]["bits_per_second"]))
except Exception:
	print(0)
'
}

_udp_bound()
{
	[ -n "$(ip netns exec "$1" ss -Huln "sport = :$2" 2>/dev/null)" ]
}

_listening()
{
	[ -n "$(ip netns exec "$1" ss -Htln "sport = :$2" 2>/dev/null)" ]
}

# ---------------------------------------------------------------- cleanup

t_cleanup()
{
	local pid ns ifc
	[ "$T_CLEANED" = 1 ] && return 0
	T_CLEANED=1
	for pid in "${T_PIDS[@]}"; do
		stop_pid "$pid" 3
	done
	for ns in "${T_NS[@]}"; do
		ip netns del "$ns" 2>/dev/null
	done
	for ifc in "${T_IFACES[@]}"; do
		rm -f "$WG_RUNDIR/$ifc.sock"
	done
	if [ -z "${KEEP_TMP:-}" ]; then
		rm -rf "$T_TMP"
	else
		echo "kept $T_TMP"
	fi
	return 0
}

# t_leftovers: report anything of ours still there after t_cleanup.
t_leftovers()
{
	local bad=0 pid ns ifc
	for pid in "${T_PIDS[@]}"; do
		if pid_alive "$pid"; then
			echo "leftover: pid $pid still running"
			bad=1
		fi
	done
	for ns in "${T_NS[@]}"; do
		if ip netns list | awk '{print $1}' | grep -qx "$ns"; then
			echo "leftover: namespace $ns"
			bad=1
		fi
	done
	for ifc in "${T_IFACES[@]}"; do
		if [ -e "$WG_RUNDIR/$ifc.sock" ]; then
			echo "leftover: $WG_RUNDIR/$ifc.sock"
			bad=1
		fi
	done
	return $bad
}

_t_on_exit()
{
	local rc=$?
	if [ "$T_DONE" != 1 ]; then
		t_fail "script" "exited (status $rc) before its end"
		t_done
		exit 1
	fi
	t_cleanup
}

_t_on_signal()
{
	trap - INT TERM
	t_fail "script" "interrupted by signal $1"
	t_done
	exit 1
}

# Output into a closed pipe (a reader such as head(1) that went away):
# clean up anyway, saying nothing more (the writes would fail again).
_t_on_pipe()
{
	trap '' PIPE
	exec >/dev/null 2>&1
	exit 1
}

trap _t_on_exit EXIT
trap '_t_on_signal INT' INT
trap '_t_on_signal TERM' TERM
trap _t_on_pipe PIPE

# t_require_root
if [ "$(id -u)" -ne 0 ]; then
	echo "$0: integration tests must run as root"
	T_DONE=1
	rm -rf "$T_TMP"
	echo "0 passed, 1 failed"
	exit 1
fi

t_log "# $(basename "$0"): IMPL_A=$IMPL_A IMPL_B=$IMPL_B tmp=$T_TMP"
