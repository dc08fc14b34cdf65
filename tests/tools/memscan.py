#!/usr/bin/env python3
"""memscan.py PID LABEL=KEYFILE...: search the readable memory of PID for
each key (a base64 WireGuard key read from KEYFILE) in raw form (32
bytes), base64 text and hex text (lower and upper case).  Prints, never
the key itself:

	LABEL FORM COUNT [REGION...]		(FORM: raw b64 hex)
	error REGION START-END MESSAGE		(for unreadable regions)
	scanned N bytes in M regions

Exit 0 when the scan ran (whatever it found), 2 on bad usage, 3 when the
process could not be scanned at all.  For the wgcard custody test."""
import base64
import binascii
import sys

CHUNK = 8 << 20
OVERLAP = 128


def load_key(path):
    with open(path, "rb") as f:
        raw = base64.b64decode(f.read().strip(), validate=True)
    if len(raw) != 32:
        raise ValueError("%s: not a 32-byte key" % path)
    return raw


def forms(raw):
    hx = binascii.hexlify(raw)
    return [("raw", [raw]),
            ("b64", [base64.b64encode(raw)]),
            ("hex", [hx, hx.upper()])]


def regions(pid):
    out = []
    with open("/proc/%s/maps" % pid) as f:
        for line in f:
            cols = line.split(None, 5)
            start, end = (int(x, 16) for x in cols[0].split("-"))
            perms = cols[1]
            name = cols[5].strip() if len(cols) > 5 else "[anon]"
            out.append((start, end, perms, name or "[anon]"))
    return out


def main():
    if len(sys.argv) < 3:
        print("usage: memscan.py PID LABEL=KEYFILE...", file=sys.stderr)
        return 2
    pid = sys.argv[1]
    needles = []
    for arg in sys.argv[2:]:
        label, _, path = arg.partition("=")
        for form, pats in forms(load_key(path)):
            needles.append((label, form, pats))
    hits = {(l, f): [] for l, f, _ in needles}
    total = 0
    nreg = 0
    try:
        regs = regions(pid)
        mem = open("/proc/%s/mem" % pid, "rb", buffering=0)
    except OSError as e:
        print("cannot open process %s: %s" % (pid, e))
        return 3
    with mem:
        for start, end, perms, name in regs:
            if perms[0] != "r" or name in ("[vvar]", "[vvar_vclock]",
                                           "[vsyscall]"):
                continue
            nreg += 1
            pos = start
            prev = b""
            while pos < end:
                n = min(CHUNK, end - pos)
                try:
                    mem.seek(pos)
                    buf = mem.read(n)
                except (OSError, OverflowError, ValueError) as e:
                    print("error %s %x-%x %s" % (name, pos, end, e))
                    break
                if not buf:
                    break
                total += len(buf)
                data = prev + buf
                for label, form, pats in needles:
                    for p in pats:
                        i = data.find(p)
                        while i != -1:
                            # A match wholly inside the overlap was
                            # already counted in the previous chunk.
                            if i + len(p) > len(prev):
                                hits[(label, form)].append(
                                    "%s@%x" % (name, pos - len(prev) + i))
                            i = data.find(p, i + 1)
                prev = buf[-OVERLAP:]
                pos += len(buf)
    for label, form, _ in needles:
        h = hits[(label, form)]
        print("%s %s %d %s" % (label, form, len(h), " ".join(h[:8])))
    print("scanned %d bytes in %d regions" % (total, nreg))
    return 0


if __name__ == "__main__":
    sys.exit(main())
