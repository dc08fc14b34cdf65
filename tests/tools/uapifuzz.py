#!/usr/bin/env python3
"""uapifuzz.py: malformed requests on a WireGuard cross-platform UAPI
socket, for the wgcard robustness test.

  uapifuzz.py list                       case names, one a line: NAME KIND
  uapifuzz.py case SOCK NAME PEERHEX     run one case, print the answer
  uapifuzz.py hold SOCK SECONDS READY    hold incomplete requests open

KIND is "set" (a malformed set: must answer errno=N, N != 0, and change
nothing), "other" (must not hurt the daemon; any answer), "close" (sent,
then the connection is closed without a terminator: nothing may change).
The answer line is one of: "errno N", "closed-no-answer", "timeout",
"odd FIRSTLINE", "sent-closed", "connect-error MSG"."""
import os
import random
import socket
import sys
import time

NEWPEER = "11" * 32


def junk_lines(n):
    """About N bytes of key=value lines of junk (no blank line)."""
    out = []
    size = 0
    while size < n:
        r = os.urandom(40).hex()
        line = "%s=%s\n" % (r[:8], r[8:])
        out.append(line)
        size += len(line)
    return "".join(out).encode()


def cases(peer):
    s = b"set=1\n"
    p = ("public_key=%s\n" % peer).encode()
    return [
        # name, kind, payload
        ("unknown-op", "other", b"frobnicate=1\n\n"),
        ("get-bad-value", "other", b"get=2\n\n"),
        ("empty-request", "other", b"\n"),
        ("binary-noop", "other", os.urandom(4096) + b"\n\n"),
        ("junk-mb-noop", "other", lambda: junk_lines(3 << 20) + b"\n"),
        ("set-garbage-key", "set", s + b"foo=bar\n\n"),
        ("set-no-equals", "set", s + b"listen_port\n\n"),
        ("set-empty-key", "set", s + b"=5\n\n"),
        ("set-wrong-level-aip", "set", s + b"allowed_ip=10.1.0.0/16\n\n"),
        ("set-wrong-level-keepalive", "set",
         s + b"persistent_keepalive_interval=5\n\n"),
        ("set-wrong-level-endpoint", "set", s + b"endpoint=192.0.2.9:1\n\n"),
        ("set-wrong-level-port", "set", s + p + b"listen_port=1234\n\n"),
        ("set-wrong-level-privkey", "set",
         s + p + b"private_key=" + b"00" * 32 + b"\n\n"),
        ("set-bad-hex-privkey", "set", s + b"private_key=" + b"zz" * 32 + b"\n\n"),
        ("set-short-hex-privkey", "set", s + b"private_key=abcd\n\n"),
        ("set-short-hex-pubkey", "set", s + b"public_key=abcd\n\n"),
        ("set-long-hex-pubkey", "set", s + b"public_key=" + b"ab" * 33 + b"\n\n"),
        ("set-bad-hex-psk", "set", s + p + b"preshared_key=" + b"g" * 64 + b"\n\n"),
        ("set-port-range", "set", s + b"listen_port=70000\n\n"),
        ("set-port-negative", "set", s + b"listen_port=-1\n\n"),
        ("set-port-garbage", "set", s + b"listen_port=12abc\n\n"),
        ("set-fwmark-range", "set", s + b"fwmark=4294967296\n\n"),
        ("set-keepalive-range", "set",
         s + p + b"persistent_keepalive_interval=65536\n\n"),
        ("set-aip-v4-plen", "set", s + p + b"allowed_ip=10.0.0.0/33\n\n"),
        ("set-aip-v6-plen", "set", s + p + b"allowed_ip=fd00::/129\n\n"),
        ("set-aip-garbage", "set", s + p + b"allowed_ip=10.0.0.300/8\n\n"),
        ("set-endpoint-port", "set", s + p + b"endpoint=192.0.2.9:70000\n\n"),
        ("set-endpoint-garbage", "set", s + p + b"endpoint=nonsense\n\n"),
        ("set-protocol-version", "set", s + p + b"protocol_version=2\n\n"),
        ("set-replace-peers-bad", "set", s + b"replace_peers=maybe\n\n"),
        ("set-update-only-bad", "set", s + p + b"update_only=yes\n\n"),
        ("set-remove-bad", "set", s + p + b"remove=1\n\n"),
        ("set-nul-in-value", "set", s + b"listen_port=12\x0034\n\n"),
        ("set-binary", "set", s + bytes(range(1, 256)).replace(b"\n", b"") +
         b"\n\n"),
        ("set-huge-line", "set", lambda: s + b"private_key=" + b"a" * (1 << 20) +
         b"\n\n"),
        ("set-junk-mb", "set", lambda: s + junk_lines(4 << 20) + b"\n"),
        # a valid line, then a bad one: nothing may be applied.
        ("set-port-then-bad", "set", s + b"listen_port=4242\nfoo=bar\n\n"),
        ("set-newpeer-then-bad", "set",
         s + ("public_key=%s\nallowed_ip=10.77.0.0/16\n" % NEWPEER).encode() +
         b"foo=bar\n\n"),
        ("set-remove-then-bad", "set", s + p + b"remove=true\nfoo=bar\n\n"),
        ("set-replace-peers-then-bad", "set",
         s + b"replace_peers=true\nfoo=bar\n\n"),
        ("set-replace-aips-then-bad", "set",
         s + p + b"replace_allowed_ips=true\nallowed_ip=10.0.0.0/99\n\n"),
        # truncated requests, then close.
        ("trunc-op", "close", b"se"),
        ("trunc-midline", "close", s + b"listen_port=12"),
        ("trunc-noterminator", "close", s + b"listen_port=4243\n"),
        ("trunc-remove", "close", s + p + b"remove=true\n"),
        ("trunc-replace-peers", "close", s + b"replace_peers=true\n"),
        ("trunc-get", "close", b"get=1\n"),
    ]


def connect(path):
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    c.settimeout(10)
    c.connect(path)
    return c


def answer(c, timeout=10):
    buf = b""
    end = time.time() + timeout
    c.settimeout(1)
    while time.time() < end:
        try:
            d = c.recv(65536)
        except socket.timeout:
            continue
        except OSError:
            break
        if not d:
            break
        buf += d
        if b"\n\n" in buf:
            break
    else:
        if not buf:
            return "timeout"
    if not buf:
        return "closed-no-answer"
    first = buf.split(b"\n", 1)[0]
    if first.startswith(b"errno="):
        try:
            return "errno %d" % int(first[6:])
        except ValueError:
            pass
    return "odd %r" % first[:60]


def run_case(path, name, peer):
    for n, kind, payload in cases(peer):
        if n != name:
            continue
        try:
            c = connect(path)
        except OSError as e:
            return "connect-error %s" % e
        if callable(payload):
            payload = payload()
        with c:
            try:
                c.sendall(payload)
            except OSError:
                # The daemon may stop reading and answer early.
                pass
            if kind == "close":
                return "sent-closed"
            return answer(c)
    return "no such case"


def hold(path, seconds, ready):
    conns = []
    for payload in (b"set=1\nlisten_port=", b"get=1\n", b"", b"s",
                    b"set=1\nlisten_port=4244\n"):
        c = connect(path)
        if payload:
            c.sendall(payload)
        conns.append(c)
    with open(ready, "w") as f:
        f.write("%d\n" % len(conns))
    time.sleep(seconds)
    for c in conns:
        c.close()


def main():
    a = sys.argv[1:]
    if a[:1] == ["list"]:
        for n, kind, _ in cases("00" * 32):
            print(n, kind)
        return 0
    if a[:1] == ["case"] and len(a) == 4:
        print(run_case(a[1], a[2], a[3]))
        return 0
    if a[:1] == ["hold"] and len(a) == 4:
        hold(a[1], float(a[2]), a[3])
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
