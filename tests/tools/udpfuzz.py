#!/usr/bin/env python3
"""udpfuzz.py: throw malformed WireGuard messages at a daemon's UDP port.
For the wgcard robustness test; run it inside a test namespace, aimed at
an address of that test bed only.

  udpfuzz.py --dst ADDR [--dst ADDR6] --port PORT [--pubkey B64]
             [--sniff IFACE] [--scale N] [--seed S] [--pace SECONDS]

--pubkey (the daemon's public key) lets it forge initiations with a valid
mac1 (random content otherwise: each costs the daemon a key-broker DH, so
this exercises the flood path).  --sniff IFACE: learn a real receiver index
from data messages sent to PORT seen on IFACE (AF_PACKET), to forge data
messages with that index and bad tags.  Prints what it sent per kind."""
import argparse
import base64
import hashlib
import os
import random
import socket
import struct
import sys
import time

SIZE = {1: 148, 2: 92, 3: 64}
DATA_MIN = 32

# Small-order X25519 points (and 0xFF..): must be refused before a DH.
SMALL_ORDER = [
    bytes(32),
    bytes([1]) + bytes(31),
    bytes.fromhex("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"),
    bytes.fromhex("5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157"),
    bytes.fromhex("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
    bytes.fromhex("edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
    bytes.fromhex("eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
    b"\xff" * 32,
]


def rnd(n):
    return os.urandom(n)


def mac1(key, msg):
    return hashlib.blake2s(msg, digest_size=16, key=key).digest()


def mac1_key(pub):
    return hashlib.blake2s(b"mac1----" + pub).digest()


def hdr(t, reserved=b"\0\0\0"):
    return bytes([t]) + reserved


def sniff_index(iface, port, timeout):
    """A receiver index from a data message to PORT seen on IFACE."""
    try:
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW,
                          socket.htons(0x0003))
        s.bind((iface, 0))
    except OSError as e:
        print("sniff: %s" % e)
        return None
    s.settimeout(0.5)
    end = time.time() + timeout
    try:
        while time.time() < end:
            try:
                frame = s.recv(65535)
            except socket.timeout:
                continue
            if len(frame) < 14:
                continue
            eth = struct.unpack("!H", frame[12:14])[0]
            p = frame[14:]
            if eth == 0x0800 and len(p) >= 20 and p[9] == 17:
                p = p[(p[0] & 15) * 4:]
            elif eth == 0x86DD and len(p) >= 40 and p[6] == 17:
                p = p[40:]
            else:
                continue
            if len(p) < 8 + DATA_MIN:
                continue
            dport = struct.unpack("!H", p[2:4])[0]
            w = p[8:]
            if dport == port and w[0] == 4 and w[1:4] == b"\0\0\0":
                return (w[4:8], struct.unpack("<Q", w[8:16])[0])
    finally:
        s.close()
    return None


def gen(args, real):
    """Yield (kind, payload)."""
    k = args.scale
    key = mac1_key(base64.b64decode(args.pubkey)) if args.pubkey else None
    # 1. random bytes of random lengths.
    for _ in range(300 * k):
        yield "random", rnd(random.randint(0, 2000))
    for n in range(0, 5):
        yield "random-tiny", rnd(n)
    # 2. each type with wrong lengths: truncated, oversized, reserved set.
    for t in (1, 2, 3, 4):
        want = SIZE.get(t, DATA_MIN)
        lens = set([0, 1, 3, 4, 5, 8, 12, 15, 16, want - 1, want + 1,
                    want + 16, 1500, 2000])
        lens |= set(random.randint(0, want) for _ in range(10))
        if t != 4:
            lens |= set(random.randint(want + 1, 2000) for _ in range(10))
        for n in sorted(lens):
            if t == 4 and n >= DATA_MIN:
                continue
            if n == want:
                continue
            yield "type%d-badlen" % t, (hdr(t) + rnd(max(0, n - 4)))[:n]
        for _ in range(5 * k):
            yield "type%d-reserved" % t, hdr(t, rnd(3)) + rnd(want - 4)
    for t in (0, 5, 6, 255):
        for _ in range(5 * k):
            yield "type%d-unknown" % t, hdr(t) + rnd(random.randint(0, 200))
    # 3. valid lengths, random content.
    for t in (1, 2, 3):
        for _ in range(60 * k):
            yield "type%d-random" % t, hdr(t) + rnd(SIZE[t] - 4)
    # 3b. initiations and responses with a valid mac1.
    if key is not None:
        for i in range(40 * k):
            eph = SMALL_ORDER[i % len(SMALL_ORDER)] if i % 4 == 0 else rnd(32)
            body = hdr(1) + rnd(4) + eph + rnd(48 + 28)
            yield "init-mac1", body + mac1(key, body) + bytes(16)
        for _ in range(20 * k):
            body = hdr(2) + rnd(8) + rnd(32) + rnd(16)
            yield "resp-mac1", body + mac1(key, body) + bytes(16)
    # 4. data messages, random receiver index and counter.
    for _ in range(150 * k):
        n = DATA_MIN + random.randint(0, 90) * 16
        yield "data-random", hdr(4) + rnd(12) + rnd(n - 16)
    # 5. data messages with the real receiver index, bad tags.
    if real is not None:
        idx, ctr = real
        for i in range(150 * k):
            if i % 3 == 0:
                c = ctr + random.randint(-64, 4096)
            elif i % 3 == 1:
                c = random.getrandbits(64)
            else:
                c = random.choice([0, 1, 2 ** 64 - 1, 2 ** 64 - 2,
                                   2 ** 60, ctr + 1])
            c = max(0, min(c, 2 ** 64 - 1))
            n = DATA_MIN + random.randint(0, 90) * 16
            yield "data-realidx", hdr(4) + idx + struct.pack("<Q", c) + \
                rnd(n - 16)
        # keepalive-sized (empty payload) with bad tags
        for _ in range(20 * k):
            yield "data-realidx-keepalive", hdr(4) + idx + \
                struct.pack("<Q", random.getrandbits(64)) + rnd(16)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dst", action="append", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--pubkey")
    ap.add_argument("--sniff")
    ap.add_argument("--scale", type=int, default=1)
    ap.add_argument("--seed", type=int)
    ap.add_argument("--pace", type=float, default=0.0005)
    args = ap.parse_args()
    if args.seed is not None:
        random.seed(args.seed)
    real = None
    if args.sniff:
        real = sniff_index(args.sniff, args.port, 10)
        print("receiver index: %s" % ("learnt" if real else "NOT FOUND"))
    socks = []
    for d in args.dst:
        fam = socket.AF_INET6 if ":" in d else socket.AF_INET
        s = socket.socket(fam, socket.SOCK_DGRAM)
        s.setblocking(False)
        socks.append((s, d))
    counts = {}
    errors = 0
    total = 0
    for kind, msg in gen(args, real):
        for s, d in socks:
            try:
                s.sendto(msg, (d, args.port))
            except (BlockingIOError, OSError):
                errors += 1
                continue
            counts[kind] = counts.get(kind, 0) + 1
            total += 1
            if args.pace:
                time.sleep(args.pace)
        # Drain whatever the daemon answers (cookie replies).
        for s, _ in socks:
            try:
                while s.recv(4096):
                    pass
            except (BlockingIOError, OSError):
                pass
    for kind in sorted(counts):
        print("sent %-24s %d" % (kind, counts[kind]))
    print("total %d sent, %d send errors, real index %s" %
          (total, errors, "yes" if real else "no"))
    return 0 if real or not args.sniff else 1


if __name__ == "__main__":
    sys.exit(main())
