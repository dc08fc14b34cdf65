#!/usr/bin/env python3
"""msgtable.py: the message table of docs/architecture.md, made from the
code. Each process has one table of rules (struct chan_rule, common/chan.h)
that its channels check every message against before a handler runs;
this reads the CHAN_RULE(...) rows of those tables and prints them as one
Markdown table: receiver, message, who may send it, payload size,
descriptor, handler.

usage: msgtable.py [ROOT]           print the table
       msgtable.py --check [ROOT]   exit 1 if docs/architecture.md's copy
                                    (between the msgtable markers) differs
"""
import re
import sys

FILES = [
    ("parent", "netd/wgcardd.c"),
    ("key broker", "keyd/keyd.c"),
    ("handshake", "netd/handshake.c"),
    ("forwarder", "netd/forward.c"),
]
PROCS = {"PROC_PARENT": "P", "PROC_KEYD": "K", "PROC_HANDSHAKE": "H",
         "PROC_FORWARDER": "F"}
FD = {"CHAN_FD_NO": "no", "CHAN_FD_YES": "required", "CHAN_FD_MAYBE": "optional"}
BEGIN = "<!-- msgtable begin: tests/tools/msgtable.py writes this -->"
END = "<!-- msgtable end -->"


def args_of(text, start):
    """The comma-separated arguments of the call whose '(' is at start."""
    depth, cur, out, i = 0, "", [], start
    while i < len(text):
        ch = text[i]
        if ch == "(":
            depth += 1
            if depth > 1:
                cur += ch
        elif ch == ")":
            depth -= 1
            if depth == 0:
                out.append(cur.strip())
                return out, i
            cur += ch
        elif ch == "," and depth == 1:
            out.append(cur.strip())
            cur = ""
        else:
            cur += ch
        i += 1
    raise ValueError("unbalanced CHAN_RULE")


KEEP = {"CHAN_RULE", "CHAN_FROM", "sizeof"}


def macros(text):
    """The file's #defines: name -> (params or None, body)."""
    out = {}
    text = text.replace("\\\n", " ")
    for m in re.finditer(r"^#define\s+(\w+)(\(([^)]*)\))?[ \t]*(.*)$", text,
                         re.M):
        params = None
        if m.group(2) is not None:
            params = [a.strip() for a in m.group(3).split(",") if a.strip()]
        out[m.group(1)] = (params, m.group(4).strip())
    return out


def expand(text, defs):
    """The table text with the file's own macros expanded (not CHAN_*)."""
    for _ in range(10):
        changed = False
        for name, (params, body) in defs.items():
            if name in KEEP:
                continue
            if params is None:
                new = re.sub(r"\b%s\b" % name, body, text)
                changed |= new != text
                text = new
                continue
            m = re.search(r"\b%s\s*\(" % name, text)
            while m is not None:
                args, end = args_of(text, m.end() - 1)
                b = body
                for p, a in zip(params, args):
                    b = re.sub(r"\b%s\b" % re.escape(p), lambda _m: a, b)
                text = text[:m.start()] + b + text[end + 1:]
                changed = True
                m = re.search(r"\b%s\s*\(" % name, text)
        if not changed:
            break
    return text


def rows(root):
    out = []
    for recv, path in FILES:
        try:
            text = open(f"{root}/{path}").read()
        except OSError:
            continue
        text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
        defs = macros(text)
        tables = re.findall(r"static const struct chan_rule\s+\w+\[\]\s*=\s*"
                            r"\{(.*?)\n\};", text, re.S)
        text = expand("\n".join(tables), defs)
        for m in re.finditer(r"\bCHAN_RULE\s*\(", text):
            a, _ = args_of(text, m.end() - 1)
            if len(a) != 6:
                continue
            typ, frm, mn, mx, fd, handler = a
            senders = "".join(sorted({PROCS.get(p, p) for p in
                              re.findall(r"CHAN_FROM\((\w+)\)", frm)},
                              key="PKHF".find))
            mn = " ".join(mn.split())
            mx = " ".join(mx.split())
            size = mn if mn == mx else f"{mn} .. {mx}"
            out.append((recv, typ.replace("IMSG_", ""), senders or frm,
                        size, FD.get(fd, fd), handler))
    return out


def table(root):
    lines = ["| receiver | message | from | payload bytes | descriptor | handler |",
             "| --- | --- | --- | --- | --- | --- |"]
    for r in rows(root):
        lines.append("| " + " | ".join(f"`{c}`" if i in (1, 3, 5) else c
                                       for i, c in enumerate(r)) + " |")
    return "\n".join(lines)


def main():
    argv = sys.argv[1:]
    check = bool(argv) and argv[0] == "--check"
    if check:
        argv = argv[1:]
    root = argv[0] if argv else "."
    t = table(root)
    if not check:
        print(t)
        return 0
    doc = open(f"{root}/docs/architecture.md").read()
    m = re.search(re.escape(BEGIN) + r"\n(.*?)\n" + re.escape(END), doc, re.S)
    if m is None:
        print("docs/architecture.md: no msgtable markers", file=sys.stderr)
        return 1
    if m.group(1).strip() != t.strip():
        print("docs/architecture.md: the message table differs from the "
              "code; run tests/tools/msgtable.py and paste it", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
