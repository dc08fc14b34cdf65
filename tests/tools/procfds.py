#!/usr/bin/env python3
"""procfds.py PID: list the open fds of PID, one a line, as
"FD KIND DETAIL" where KIND is one of file, dev, tun, pipe, anon, unix,
udp, udp6, tcp, tcp6, netlink, raw, packet, socket (unknown family) and
DETAIL is the path, the bound address or "-".  For the wgcard tests."""
import os
import sys


def table(pid, name, inode_col, addr_col=None):
    out = {}
    try:
        with open("/proc/%s/net/%s" % (pid, name)) as f:
            next(f)
            for line in f:
                cols = line.split()
                if len(cols) <= inode_col:
                    continue
                detail = "-"
                if addr_col is not None and len(cols) > addr_col:
                    detail = cols[addr_col]
                out[cols[inode_col]] = detail
    except OSError:
        pass
    return out


def unix_table(pid):
    out = {}
    try:
        with open("/proc/%s/net/unix" % pid) as f:
            next(f)
            for line in f:
                cols = line.split()
                if len(cols) < 7:
                    continue
                out[cols[6]] = cols[7] if len(cols) > 7 else "-"
    except OSError:
        pass
    return out


def hexaddr(s):
    try:
        a, p = s.split(":")
        return "%s:%d" % (a, int(p, 16))
    except ValueError:
        return s


def main():
    pid = sys.argv[1]
    socks = {}
    for k, v in unix_table(pid).items():
        socks[k] = ("unix", v)
    for proto in ("udp", "udp6", "tcp", "tcp6", "raw", "raw6"):
        for k, v in table(pid, proto, 9, 1).items():
            socks[k] = (proto, hexaddr(v))
    for k, v in table(pid, "netlink", 8, 1).items():
        socks[k] = ("netlink", "proto=" + v)
    for k, v in table(pid, "packet", 8).items():
        socks[k] = ("packet", v)
    fddir = "/proc/%s/fd" % pid
    for fd in sorted(os.listdir(fddir), key=int):
        try:
            tgt = os.readlink(os.path.join(fddir, fd))
        except OSError:
            continue
        if tgt.startswith("socket:["):
            ino = tgt[8:-1]
            kind, detail = socks.get(ino, ("socket", "inode=" + ino))
        elif tgt.startswith("pipe:["):
            kind, detail = "pipe", "-"
        elif tgt.startswith("anon_inode:"):
            kind, detail = "anon", tgt[len("anon_inode:"):]
        elif tgt == "/dev/net/tun":
            kind, detail = "tun", tgt
        elif tgt.startswith("/dev/"):
            kind, detail = "dev", tgt
        else:
            kind, detail = "file", tgt
        print("%s %s %s" % (fd, kind, detail))


if __name__ == "__main__":
    main()
