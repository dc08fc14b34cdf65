#!/usr/bin/env python3
"""noise_vector.py: an independent computation of one WireGuard handshake
(Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s, WireGuard paper section 5.4) from
fixed inputs, printed as C constants for tests/unit/test_noise.c.

X25519 (RFC 7748) and ChaCha20-Poly1305 (RFC 8439) are written here from
the RFCs; BLAKE2s and HMAC come from the standard library. When the
`cryptography` module is importable, the two hand-written primitives are
cross-checked against it first.

Run: python3 tests/unit/noise_vector.py
"""

import hashlib
import hmac
import struct
import sys

# --- X25519, RFC 7748 -----------------------------------------------------
P = 2 ** 255 - 19


def x25519(k, u):
    k = bytearray(k)
    k[0] &= 248
    k[31] &= 127
    k[31] |= 64
    k = int.from_bytes(k, "little")
    u = int.from_bytes(u, "little") & ((1 << 255) - 1)
    x1, x2, z2, x3, z3, swap = u, 1, 0, u, 1, 0
    for t in reversed(range(255)):
        bit = (k >> t) & 1
        swap ^= bit
        if swap:
            x2, x3, z2, z3 = x3, x2, z3, z2
        swap = bit
        a, b = x2 + z2, x2 - z2
        aa, bb = a * a % P, b * b % P
        e = aa - bb
        c, d = x3 + z3, x3 - z3
        da, cb = d * a % P, c * b % P
        x3, z3 = (da + cb) ** 2 % P, x1 * (da - cb) ** 2 % P
        x2, z2 = aa * bb % P, e * (aa + 121665 * e) % P
    if swap:
        x2, z2 = x3, z3
    return (x2 * pow(z2, P - 2, P) % P).to_bytes(32, "little")


def x25519_pub(k):
    return x25519(k, (9).to_bytes(32, "little"))


# --- ChaCha20-Poly1305, RFC 8439 ------------------------------------------
def _rotl(v, n):
    return ((v << n) | (v >> (32 - n))) & 0xFFFFFFFF


def _qr(s, a, b, c, d):
    s[a] = (s[a] + s[b]) & 0xFFFFFFFF; s[d] = _rotl(s[d] ^ s[a], 16)
    s[c] = (s[c] + s[d]) & 0xFFFFFFFF; s[b] = _rotl(s[b] ^ s[c], 12)
    s[a] = (s[a] + s[b]) & 0xFFFFFFFF; s[d] = _rotl(s[d] ^ s[a], 8)
    s[c] = (s[c] + s[d]) & 0xFFFFFFFF; s[b] = _rotl(s[b] ^ s[c], 7)


def chacha20_block(key, counter, nonce):
    st = list(struct.unpack("<4I", b"expand 32-byte k"))
    st += list(struct.unpack("<8I", key)) + [counter]
    st += list(struct.unpack("<3I", nonce))
    w = st[:]
    for _ in range(10):
        _qr(w, 0, 4, 8, 12); _qr(w, 1, 5, 9, 13)
        _qr(w, 2, 6, 10, 14); _qr(w, 3, 7, 11, 15)
        _qr(w, 0, 5, 10, 15); _qr(w, 1, 6, 11, 12)
        _qr(w, 2, 7, 8, 13); _qr(w, 3, 4, 9, 14)
    return struct.pack("<16I", *[(x + y) & 0xFFFFFFFF for x, y in zip(w, st)])


def chacha20(key, counter, nonce, data):
    out = bytearray()
    for i in range(0, len(data), 64):
        ks = chacha20_block(key, counter + i // 64, nonce)
        out += bytes(x ^ y for x, y in zip(data[i:i + 64], ks))
    return bytes(out)


def poly1305(key, msg):
    r = int.from_bytes(key[:16], "little") & 0x0FFFFFFC0FFFFFFC0FFFFFFC0FFFFFFF
    s = int.from_bytes(key[16:], "little")
    acc, p = 0, (1 << 130) - 5
    for i in range(0, len(msg), 16):
        n = int.from_bytes(msg[i:i + 16] + b"\x01", "little")
        acc = (acc + n) * r % p
    return ((acc + s) & ((1 << 128) - 1)).to_bytes(16, "little")


def _pad16(b):
    return b"\x00" * (-len(b) % 16)


def aead_encrypt(key, counter, plain, ad):
    nonce = b"\x00" * 4 + struct.pack("<Q", counter)
    otk = chacha20_block(key, 0, nonce)[:32]
    ct = chacha20(key, 1, nonce, plain)
    mac = ad + _pad16(ad) + ct + _pad16(ct)
    mac += struct.pack("<QQ", len(ad), len(ct))
    return ct + poly1305(otk, mac)


def self_check():
    """Check the hand-written primitives against `cryptography`, if any."""
    try:
        from cryptography.hazmat.primitives.asymmetric.x25519 import (
            X25519PrivateKey, X25519PublicKey)
        from cryptography.hazmat.primitives.ciphers.aead import (
            ChaCha20Poly1305)
        from cryptography.hazmat.primitives import serialization
    except ImportError:
        return "not checked (no cryptography module)"
    raw = serialization.Encoding.Raw
    a, b = bytes(range(7, 39)), bytes(range(100, 132))
    pa = X25519PrivateKey.from_private_bytes(a)
    pb = X25519PrivateKey.from_private_bytes(b).public_key()
    assert x25519_pub(a) == pa.public_key().public_bytes(
        raw, serialization.PublicFormat.Raw)
    assert x25519(a, pb.public_bytes(
        raw, serialization.PublicFormat.Raw)) == pa.exchange(pb)
    key, ad = bytes(range(32)), b"some ad"
    for n in (0, 1, 16, 63, 64, 65, 130):
        pt = bytes(range(n))
        nonce = b"\x00" * 4 + struct.pack("<Q", 77)
        assert aead_encrypt(key, 77, pt, ad) == ChaCha20Poly1305(
            key).encrypt(nonce, pt, ad)
    return "checked against the cryptography module"


# --- WireGuard ------------------------------------------------------------
def HASH(*parts):
    return hashlib.blake2s(b"".join(parts)).digest()


def HMAC(key, data):
    return hmac.new(key, data, hashlib.blake2s).digest()


def KDF(n, ck, data):
    t0 = HMAC(ck, data)
    out, prev = [], b""
    for i in range(1, n + 1):
        prev = HMAC(t0, prev + bytes([i]))
        out.append(prev)
    return out


def MAC(key, data):
    return hashlib.blake2s(data, digest_size=16, key=key).digest()


CONSTRUCTION = b"Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s"
IDENTIFIER = b"WireGuard v1 zx2c4 Jason@zx2c4.com"

# Fixed inputs (the same in test_noise.c).
S_I = bytes(range(0x01, 0x21))		# initiator static private
S_R = bytes(range(0x41, 0x61))		# responder static private
E_I = bytes(range(0x81, 0xA1))		# initiator ephemeral private
E_R = bytes(range(0xC1, 0xE1))		# responder ephemeral private
PSK = bytes([0x5A] * 32)
TIMESTAMP = bytes.fromhex("400000006553f100" "01020304")
I_INDEX = 0x11223344
R_INDEX = 0x55667788
COOKIE = bytes(range(0xA0, 0xB0))	# a cookie the initiator holds


def handshake():
    spub_i, spub_r = x25519_pub(S_I), x25519_pub(S_R)
    epub_i, epub_r = x25519_pub(E_I), x25519_pub(E_R)

    # Initiation.
    ck = HASH(CONSTRUCTION)
    h = HASH(HASH(ck, IDENTIFIER), spub_r)
    ck, = KDF(1, ck, epub_i)
    h = HASH(h, epub_i)
    ck, k = KDF(2, ck, x25519(E_I, spub_r))
    enc_static = aead_encrypt(k, 0, spub_i, h)
    h = HASH(h, enc_static)
    ck, k = KDF(2, ck, x25519(S_I, spub_r))
    enc_ts = aead_encrypt(k, 0, TIMESTAMP, h)
    h = HASH(h, enc_ts)
    init = struct.pack("<II", 1, I_INDEX) + epub_i + enc_static + enc_ts
    mac1 = MAC(HASH(b"mac1----", spub_r), init)
    init_mac1 = init + mac1 + b"\x00" * 16
    init_mac2 = init + mac1 + MAC(COOKIE, init + mac1)

    # Response.
    ck, = KDF(1, ck, epub_r)
    h = HASH(h, epub_r)
    ck, = KDF(1, ck, x25519(E_R, epub_i))
    ck, = KDF(1, ck, x25519(E_R, spub_i))
    ck, tau, k = KDF(3, ck, PSK)
    h = HASH(h, tau)
    enc_nothing = aead_encrypt(k, 0, b"", h)
    h = HASH(h, enc_nothing)
    resp = struct.pack("<III", 2, R_INDEX, I_INDEX) + epub_r + enc_nothing
    rmac1 = MAC(HASH(b"mac1----", spub_i), resp)
    resp = resp + rmac1 + b"\x00" * 16

    # Transport keys: initiator sends with t1, responder with t2.
    t1, t2 = KDF(2, ck, b"")
    # The first data message from the initiator: counter 0, a keepalive.
    keepalive = struct.pack("<IIQ", 4, R_INDEX, 0) + aead_encrypt(
        t1, 0, b"", b"")
    return {
        "spub_i": spub_i, "spub_r": spub_r,
        "initiation": init_mac1, "initiation_mac2": init_mac2,
        "response": resp, "keepalive": keepalive,
        "t1_hash": HASH(t1), "t2_hash": HASH(t2),
    }


def c_array(name, data):
    lines = ["static const uint8_t %s[%d] = {" % (name, len(data))]
    for i in range(0, len(data), 12):
        lines.append("\t" + " ".join("0x%02x," % b for b in data[i:i + 12]))
    lines.append("};")
    return "\n".join(lines)


def main():
    note = self_check()
    v = handshake()
    print("/* Generated by tests/unit/noise_vector.py (primitives %s). */"
          % note)
    for name in ("spub_i", "spub_r", "initiation", "initiation_mac2",
                 "response", "keepalive", "t1_hash", "t2_hash"):
        print(c_array("kat_" + name, v[name]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
