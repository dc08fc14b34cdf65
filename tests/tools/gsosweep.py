#!/usr/bin/env python3
"""gsosweep.py: super-packets of every segment size through a tunnel, for
the wgcard offload sweep (tests/integration/gso_sweep.sh); run as root,
aimed at addresses of that test bed only.

  gsosweep.py --send-ns NS --recv-ns NS --dst ADDR --mode udp|tcp
              --first N --last N [--step N] [--bytes N] [--timeout S]

One process holds a socket in each namespace (it enters the receiving
namespace, opens its socket there, then enters the sending one), so
every send is paced by what came out at the other end and every loss is
counted. udp: for each gso size, one sendmsg with a UDP_SEGMENT cmsg of
as many full segments as the kernel takes in one send (at most 128,
and 64 KiB); the receiver counts the datagrams. tcp: for each MSS, one
connection with TCP_MAXSEG on both ends (the server's SYN-ACK too), so
the sender's TCP hands TUN super-packets cut at that MSS; --bytes of a
pattern go through and are checked. Prints one line:
  mode=udp family=4 sizes=FIRST..LAST n=N sent=N received=N bad=N
      csum_errors=N secs=S
(sent/received: datagrams for udp, bytes for tcp; bad: sizes with a loss
in every one of 3 tries, a send refused or a wrong byte; udp_retried:
tries lost to plain UDP loss and sent again; lost_to_peer_rcvbuf:
datagrams the receiving namespace's kernel counted as dropped at a full
UDP receive buffer (a peer's tunnel socket), not counted as bad; csum_errors: packets the receiving
namespace's IP, TCP and UDP found with a bad checksum meanwhile, which
a packet overwritten in the sender's forwarder becomes; tcp_retrans:
segments the sending namespace's TCP sent again, for the record). Exit 0
when bad and csum_errors are 0."""
import argparse
import ctypes
import os
import select
import socket
import sys
import time

UDP_SEGMENT = 103
UDP_MAX_SEGMENTS = 128
CLONE_NEWNET = 0x40000000

libc = ctypes.CDLL(None, use_errno=True)


def enter_ns(name):
    """Moves this process into the named network namespace."""
    fd = os.open("/run/netns/" + name, os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            e = ctypes.get_errno()
            raise OSError(e, "setns %s: %s" % (name, os.strerror(e)))
    finally:
        os.close(fd)


def sizes(a):
    """FIRST..LAST, every STEP-th (and LAST)."""
    r = list(range(a.first, a.last + 1, a.step))
    if r and r[-1] != a.last:
        r.append(a.last)
    return r


def family_of(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def snmp(name, proto=None):
    """The sum of counter name (of proto, or of every protocol) in this
    namespace (/proc/net/snmp is the reader's namespace's)."""
    total = 0
    with open("/proc/self/net/snmp") as f:
        lines = f.read().splitlines()
    for names, values in zip(lines[::2], lines[1::2]):
        if proto is not None and not names.startswith(proto + ":"):
            continue
        for k, v in zip(names.split()[1:], values.split()[1:]):
            if k == name:
                total += int(v)
    return total


SO_RCVBUFFORCE = 33
UDP_TRIES = 3
RETRIED = [0]
RCVBUF_LOST = [0]


def rcvbuf_errors(ns, back):
    """UDP receive-buffer overflows (v4 and v6) counted in namespace ns;
    the process returns to namespace back."""
    enter_ns(ns)
    n = snmp("RcvbufErrors", "Udp")
    with open("/proc/self/net/snmp6") as f:
        for line in f:
            k, v = line.split()
            if k == "Udp6RcvbufErrors":
                n += int(v)
    enter_ns(back)
    return n


def drain_udp(rs, want, timeout, expect):
    """Datagrams read from rs until want came or timeout passed, and how
    many of them were not expect."""
    got = wrong = 0
    end = time.monotonic() + timeout
    while got < want:
        left = end - time.monotonic()
        if left <= 0 or not select.select([rs], [], [], left)[0]:
            break
        while True:
            try:
                m = rs.recv(65536, socket.MSG_DONTWAIT)
            except BlockingIOError:
                break
            got += 1
            wrong += m != expect
    return got, wrong


def sweep_udp(a, recv_ns, send_ns, fam):
    enter_ns(recv_ns)
    rs = socket.socket(fam, socket.SOCK_DGRAM)
    # FORCE (root): SO_RCVBUF is capped by net.core.rmem_max (208 KiB),
    # less than one send of small segments takes (128 skbs of ~2 KiB):
    # a slow reader on a loaded machine lost datagrams to its own buffer.
    rs.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 8 << 20)
    rs.bind((a.dst, 0))
    port = rs.getsockname()[1]
    enter_ns(send_ns)
    ss = socket.socket(fam, socket.SOCK_DGRAM)
    ss.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    ss.connect((a.dst, port))
    sent = received = bad = 0
    hdr = 28 if fam == socket.AF_INET else 48
    for gso in sizes(a):
        n = min(UDP_MAX_SEGMENTS, (65535 - hdr) // gso)
        one = bytes((i * 7 + gso) & 0xff for i in range(gso))
        data = one * n
        cm = [(socket.SOL_UDP, UDP_SEGMENT, gso.to_bytes(2, sys.byteorder))]
        # A send that loses datagrams (none wrong) is tried again, up to
        # UDP_TRIES in all: UDP may drop under load (a peer's socket
        # buffer, a busy CPU), an overrun in the split does it every time
        # at that size. Wrong bytes fail at once. Every try is counted.
        for attempt in range(UDP_TRIES):
            # Read before the send: the burst overflows a socket buffer
            # as soon as it is sent, before any later read.
            e0 = rcvbuf_errors(recv_ns, send_ns)
            try:
                ss.sendmsg([data], cm)
            except OSError as e:
                print("gso %d x %d: %s" % (gso, n, e), file=sys.stderr)
                got, wrong = -1, 0
                break
            sent += n
            got, wrong = drain_udp(rs, n, a.timeout, one)
            received += got
            if got == n or wrong:
                break
            # Lost to a socket buffer of the receiving host (the peer's
            # tunnel socket: wireguard-go 0.0.20220316 keeps the 208 KiB
            # default, less than a burst of 100 small datagrams): the
            # kernel counted every one; an overrun in a forwarder is not.
            over = rcvbuf_errors(recv_ns, send_ns) - e0
            if over >= n - got:
                RCVBUF_LOST[0] += n - got
                got = n
                break
            RETRIED[0] += 1
            print("gso %d: %d of %d datagrams (try %d of %d)" % (gso, got,
                  n, attempt + 1, UDP_TRIES), file=sys.stderr)
            drain_udp(rs, 1 << 30, 0.2, one)    # stragglers
        if got != n or wrong:
            bad += 1
            if bad <= 10:
                print("gso %d: %d of %d datagrams, %d wrong" % (gso, got,
                      n, wrong), file=sys.stderr)
    return sent, received, bad


def pattern(nbytes, seed):
    block = bytes((i * 13 + seed) & 0xff for i in range(4096))
    return (block * (nbytes // 4096 + 1))[:nbytes]


def one_tcp(a, ls, fam, port, mss, data):
    """One connection at mss: bytes received, and whether they were right."""
    cs = socket.socket(fam, socket.SOCK_STREAM)
    try:
        cs.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, mss)
        # All of it queued at once: TSO cuts 64 KiB super-packets.
        cs.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
        cs.settimeout(a.timeout * 20)
        cs.connect((a.dst, port))
        ls.settimeout(a.timeout * 20)
        srv, _ = ls.accept()
    except OSError as e:
        cs.close()
        print("mss %d: %s" % (mss, e), file=sys.stderr)
        return 0, False
    srv.settimeout(a.timeout * 20)
    got = bytearray()
    view = memoryview(data)
    off = 0
    try:
        cs.setblocking(False)
        while len(got) < len(data):
            w = [cs] if off < len(data) else []
            r, w, _ = select.select([srv], w, [], a.timeout * 20)
            if not r and not w:
                break
            if w:
                try:
                    off += cs.send(view[off:])
                except BlockingIOError:
                    pass
            if r:
                chunk = srv.recv(1 << 20)
                if not chunk:
                    break
                got += chunk
    except OSError as e:
        print("mss %d: %s" % (mss, e), file=sys.stderr)
    finally:
        cs.close()
        srv.close()
    return len(got), bytes(got) == data


def sweep_tcp(a, recv_ns, send_ns, fam):
    enter_ns(recv_ns)
    ls = socket.socket(fam, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((a.dst, 0))
    ls.listen(4)
    port = ls.getsockname()[1]
    enter_ns(send_ns)
    sent = received = bad = 0
    for mss in sizes(a):
        # Accepted sockets inherit the listener's MSS clamp: the
        # server's SYN-ACK advertises it too.
        ls.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, mss)
        data = pattern(a.bytes, mss)
        n, ok = one_tcp(a, ls, fam, port, mss, data)
        sent += len(data)
        received += n
        if not ok:
            bad += 1
            if bad <= 10:
                print("mss %d: %d of %d bytes%s" % (mss, n, len(data),
                      "" if n != len(data) else ", wrong bytes"),
                      file=sys.stderr)
    ls.close()
    return sent, received, bad


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--send-ns", required=True)
    ap.add_argument("--recv-ns", required=True)
    ap.add_argument("--dst", required=True)
    ap.add_argument("--mode", choices=("udp", "tcp"), required=True)
    ap.add_argument("--first", type=int, required=True)
    ap.add_argument("--last", type=int, required=True)
    ap.add_argument("--step", type=int, default=1)
    ap.add_argument("--bytes", type=int, default=96 * 1024)
    ap.add_argument("--timeout", type=float, default=0.5)
    a = ap.parse_args()
    fam = family_of(a.dst)
    t0 = time.monotonic()
    enter_ns(a.send_ns)
    retrans = snmp("RetransSegs", "Tcp")
    enter_ns(a.recv_ns)
    cerr = snmp("InCsumErrors")
    sweep = sweep_udp if a.mode == "udp" else sweep_tcp
    sent, received, bad = sweep(a, a.recv_ns, a.send_ns, fam)
    retrans = snmp("RetransSegs", "Tcp") - retrans
    enter_ns(a.recv_ns)
    cerr = snmp("InCsumErrors") - cerr
    print("mode=%s family=%d sizes=%d..%d n=%d sent=%d received=%d bad=%d "
          "csum_errors=%d tcp_retrans=%d udp_retried=%d "
          "lost_to_peer_rcvbuf=%d secs=%.1f" %
          (a.mode, 4 if fam == socket.AF_INET else 6, a.first, a.last,
           len(sizes(a)), sent, received, bad, cerr, retrans, RETRIED[0],
           RCVBUF_LOST[0], time.monotonic() - t0))
    return 0 if bad == 0 and cerr == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
