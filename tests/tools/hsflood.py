#!/usr/bin/env python3
"""hsflood.py: a handshake-initiation flood at a WireGuard daemon, for the
wgcard tests (hs_flood in tests/lib/common.sh); run it inside a test
namespace, aimed at an address of that test bed only. It manages a few
thousand a second; tests/bench/hsflood.c is the same flood at the highest
rate the machine can send, from many source addresses (hs_flood_max),
which flood.sh and flood_card.sh use.

  hsflood.py --dst ADDR --port PORT --pubkey B64 --rate PPS --seconds S

Every initiation has a valid mac1 (computed from the daemon's public key,
which is public) and random content: a responder that is not under load
spends one static-key DH (a key-broker or card operation) on each before
it finds the content bogus. Under load, WireGuard answers them with
cookie replies (type 3) instead; this counts the cookie replies and any
other answer it receives, and paces the sending to PPS from a few source
ports. Prints "sent=N cookies=N other=N seconds=T"."""
import argparse
import base64
import hashlib
import os
import socket
import time


def drain(socks):
    """Answers waiting on the sockets: (cookie replies, others)."""
    cookies = other = 0
    for s in socks:
        while True:
            try:
                m = s.recv(2048)
            except BlockingIOError:
                break
            if len(m) == 64 and m[0] == 3:
                cookies += 1
            else:
                other += 1
    return cookies, other


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dst", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--pubkey", required=True)
    ap.add_argument("--rate", type=int, default=5000)
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--ports", type=int, default=4)
    a = ap.parse_args()
    key = hashlib.blake2s(b"mac1----" + base64.b64decode(a.pubkey)).digest()
    fam = socket.AF_INET6 if ":" in a.dst else socket.AF_INET
    socks = []
    for _ in range(a.ports):
        s = socket.socket(fam, socket.SOCK_DGRAM)
        s.setblocking(False)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        socks.append(s)
    sent = cookies = other = 0
    t0 = time.monotonic()
    end = t0 + a.seconds
    batch = max(1, a.rate // 200)
    pool = os.urandom(1 << 16)
    i = 0
    while True:
        now = time.monotonic()
        if now >= end:
            break
        # Pace: no more than rate * elapsed sent so far.
        if sent >= a.rate * (now - t0):
            time.sleep(0.002)
        else:
            for _ in range(batch):
                off = (i * 131) % (len(pool) - 112)
                body = b"\x01\0\0\0" + pool[off:off + 112]
                mac1 = hashlib.blake2s(body, digest_size=16, key=key).digest()
                try:
                    socks[i % a.ports].sendto(body + mac1 + bytes(16),
                                              (a.dst, a.port))
                    sent += 1
                except BlockingIOError:
                    pass
                i += 1
        c, o = drain(socks)
        cookies += c
        other += o
    # Late answers.
    time.sleep(0.3)
    c, o = drain(socks)
    cookies += c
    other += o
    print("sent=%d cookies=%d other=%d seconds=%.1f" %
          (sent, cookies, other, time.monotonic() - t0))


if __name__ == "__main__":
    main()
