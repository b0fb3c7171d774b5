#!/usr/bin/python3
"""Drives Debian's filter-dkimsign the way smtpd 6.8 does (protocol 0.6,
through a socketpair) and checks what it signs.

    osmtpd_dkimsign.py FILTER OUTDIR OURS_LIBDIR DEBIAN_LIBDIR \
        NAME:PUBRECORD_FILE:FILTER_ARGS...   (one per signing setup)

For every signing setup the filter runs twice, with the library in
OURS_LIBDIR and with the one in DEBIAN_LIBDIR, under LD_DEBUG=libs so the
loader says which libopensmtpd.so.0 it initialised. The input holds the
config handshake and four interleaved sessions: two committed messages in
one session, one in another, and a transaction rolled back in the middle of
its DATA. The stream is written in small pieces so lines arrive split across
reads. Checks, per run: the registrations, one proceed per commit, every
committed message returned as the input with a DKIM-Signature in front, and
that signature verified by python3-dkim against the test key. Then the two
libraries' outputs must be byte for byte the same (the filter is run
without -t/-x, so signatures carry no time and are deterministic).
"""
import os
import random
import socket
import subprocess
import sys
import threading

import dkim

DOMAIN = b"example.org"
SELECTOR = b"sel"
TS = b"1764650000.%06d"

EXPECTED_REGISTRATIONS = [
    b"register|filter|smtp-in|data-line",
    b"register|filter|smtp-in|commit",
    b"register|report|smtp-in|link-disconnect",
    b"register|report|smtp-in|tx-begin",
    b"register|report|smtp-in|tx-commit",
    b"register|report|smtp-in|tx-rollback",
    b"register|ready",
]

HANDSHAKE = (b"config|smtpd-version|6.8.0p2\n"
             b"config|smtp-session-timeout|300\n"
             b"config|subsystem|smtp-in\n"
             b"config|admd|mx.example.org\n"
             b"config|ready\n")

LONG = b"x" * 300 + b" " + b"y" * 300 + b" " + b"z" * 300


def message(n):
    """Lines of message n as the client sends them (not dot-escaped)."""
    if n == 0:
        return [
            b"Received: from client.example (localhost [127.0.0.1])",
            b"\tby mx.example.org (OpenSMTPD) with ESMTP id 1a2b3c4d",
            b"\tfor <rcpt@example.org>;",
            b"\tTue, 2 Dec 2025 07:00:00 +0000 (UTC)",
            b"From: Sender Name <sender@example.org>",
            b"To: rcpt@example.org, Other <other@example.net>",
            b"Cc: cc@example.net",
            b"Subject: a test message with a folded",
            b"  subject line",
            b"Date: Tue, 2 Dec 2025 07:00:00 +0000",
            b"Message-ID: <msg0@client.example>",
            b"MIME-Version: 1.0",
            b"Content-Type: text/plain; charset=us-ascii",
            b"",
            b"First body line.",
            b".leading dot line",
            b".",
            b"..two dots",
            b"",
            b"trailing blanks   ",
            b"\ttab at start and\tinside",
            b"  double  spaces  ",
            b"pipes|in|the|line|",
            "8-bit: Gr\u00fc\u00dfe, \u65e5\u672c".encode(),
            LONG,
            b"last line",
            b"",
            b"",
        ]
    if n == 1:
        return [
            b"From: sender@example.org",
            b"To: rcpt@example.org",
            b"Subject: second message, same session",
            b"",
            b".",
            b"short body",
        ]
    return [
        b"From: =?utf-8?q?Caf=C3=A9?= <cafe@example.org>",
        b"To: rcpt@example.org",
        b"Subject: third",
        b"Reply-To: reply@example.org",
        b"",
        b"...three dots",
        b"end",
    ]


def dot_escape(line):
    return b"." + line if line.startswith(b".") else line


def build_stream():
    """Returns (input bytes, {(reqid, data token): message lines}, {(reqid, commit token)})."""
    sessions = []
    tok = [0x100]

    def token():
        tok[0] += 1
        return b"%016x" % tok[0]

    def session(reqid, plan):
        r = b"%016x" % reqid
        ev = []
        msgs = {}
        commits = set()

        def rep(event, params=None):
            ev.append(b"report|0.6|%s|smtp-in|%s|%s%s" % (
                TS % (len(ev) + 1), event, r, b"" if params is None else b"|" + params))

        def fil(phase, t, params):
            ev.append(b"filter|0.6|%s|smtp-in|%s|%s|%s|%s" % (TS % (len(ev) + 1), phase, r, t, params))

        rep(b"link-connect", b"client.example|pass|127.0.0.1:%d|127.0.0.1:25" % (40000 + reqid % 1000))
        fil(b"connect", token(), b"client.example|127.0.0.1")
        rep(b"link-greeting", b"mx.example.org")
        fil(b"ehlo", token(), b"client.example")
        rep(b"link-identify", b"EHLO|client.example")
        for i, (n, commit) in enumerate(plan):
            msgid = b"%08x" % ((reqid & 0xfffffff) * 16 + i)
            fil(b"mail-from", token(), b"sender@example.org")
            rep(b"tx-begin", msgid)
            rep(b"tx-mail", msgid + b"|ok|sender@example.org")
            fil(b"rcpt-to", token(), b"rcpt@example.org")
            rep(b"tx-rcpt", msgid + b"|ok|rcpt@example.org")
            rep(b"tx-envelope", msgid + b"|%s00000001" % msgid)
            fil(b"data", token(), b"")
            rep(b"tx-data", msgid + b"|ok")
            t = token()
            lines = message(n)
            if commit:
                for line in lines:
                    fil(b"data-line", t, dot_escape(line))
                fil(b"data-line", t, b".")
                msgs[(r, t)] = lines
                ct = token()
                commits.add((r, ct))
                fil(b"commit", ct, b"")
                rep(b"tx-commit", msgid + b"|%d" % sum(len(x) + 2 for x in lines))
            else:
                # The client goes away in the middle of DATA.
                for line in lines[:4]:
                    fil(b"data-line", t, dot_escape(line))
                rep(b"tx-rollback", msgid)
        rep(b"link-disconnect")
        sessions.append(ev)
        return msgs, commits

    msgs, commits = {}, set()
    for reqid, plan in ((0x7641df9771b4ed00, [(0, True), (1, True)]),
                        (0x00000000000000a1, [(2, True)]),
                        (0x00000000000000a2, [(0, False)]),
                        (0xfedcba9876543210, [(1, True)])):
        m, c = session(reqid, plan)
        msgs.update(m)
        commits |= c
    # Round-robin the sessions' lines, as a busy smtpd interleaves them.
    out = []
    for i in range(max(len(e) for e in sessions)):
        for e in sessions:
            if i < len(e):
                out.append(e[i])
    return out, msgs, commits


def registered(lines, regs):
    """Only the events the filter registered, as smtpd sends them."""
    keep = []
    for line in lines:
        f = line.split(b"|")
        kind = b"filter" if f[0] == b"filter" else b"report"
        if b"register|%s|%s|%s" % (kind, f[3], f[4]) in regs:
            keep.append(line)
    return keep


def run(filter_cmd, libdir, lines, log):
    a, b = socket.socketpair()
    env = dict(os.environ, LD_LIBRARY_PATH=libdir, LD_DEBUG="libs")
    with open(log, "wb") as err:
        proc = subprocess.Popen(filter_cmd, stdin=b, stdout=b, stderr=err, env=env)
    b.close()
    a.settimeout(10)
    chunks = []

    def reader():
        try:
            while True:
                d = a.recv(65536)
                if not d:
                    return
                chunks.append(d)
        except OSError as e:
            chunks.append(b"\nREAD ERROR %r\n" % e)

    t = threading.Thread(target=reader)
    t.start()
    a.sendall(HANDSHAKE)
    # smtpd only sends events once the filter has registered: wait for it.
    for _ in range(500):
        if b"register|ready\n" in b"".join(chunks) or not t.is_alive():
            break
        threading.Event().wait(0.01)
    regs = b"".join(chunks).split(b"\n")
    regs = regs[:regs.index(b"register|ready") + 1] if b"register|ready" in regs else regs
    data = b"".join(x + b"\n" for x in registered(lines, set(regs)))
    rnd = random.Random(6376)
    i = 0
    try:
        while i < len(data):
            n = rnd.randint(1, 700)
            a.sendall(data[i:i + n])
            i += n
            threading.Event().wait(0.0005)
        a.shutdown(socket.SHUT_WR)
    except OSError as e:
        chunks.append(b"\nWRITE ERROR %r\n" % e)
    t.join(20)
    try:
        rc = proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        rc = "timeout"
    a.close()
    return rc, regs, b"".join(chunks)


def check(name, who, rc, regs, out, msgs, commits, record, log, libfile):
    def fail(why):
        sys.exit("%s with %s libopensmtpd: %s\n--- output:\n%s\n--- stderr (%s):\n%s" % (
            name, who, why, out.decode(errors="replace"), log,
            "".join(x for x in open(log, errors="replace") if not x.lstrip().split(":")[0].isdigit())))

    trace = open(log, errors="replace").read()
    inits = [x.split("calling init: ")[1].strip() for x in trace.splitlines() if "calling init: " in x]
    loaded = [x for x in inits if os.path.basename(x).startswith("libopensmtpd.so")]
    if len(loaded) != 1 or os.path.realpath(loaded[0]) != os.path.realpath(libfile):
        fail("the loader initialised %s, expected %s" % (loaded, libfile))
    if rc != 0:
        fail("exit status %s" % rc)
    if regs != EXPECTED_REGISTRATIONS:
        fail("registrations %r" % regs)
    body = out.split(b"register|ready\n", 1)[1]
    if not body.endswith(b"\n"):
        fail("output does not end with a newline")
    got = {}
    results = {}
    for line in body[:-1].split(b"\n"):
        f = line.split(b"|", 3)
        if f[0] == b"filter-dataline" and len(f) == 4:
            got.setdefault((f[1], f[2]), []).append(f[3])
        elif f[0] == b"filter-result" and len(f) == 4:
            if (f[1], f[2]) in results:
                fail("two results for %r" % ((f[1], f[2]),))
            results[(f[1], f[2])] = f[3]
        else:
            fail("unexpected line %r" % line)
    if set(results) != commits or set(results.values()) != {b"proceed"}:
        fail("commit answers %r, expected proceed for %r" % (results, sorted(commits)))
    if set(got) != set(msgs):
        fail("data-line answers for %r, expected %r" % (sorted(got), sorted(msgs)))
    verified = 0
    for key, sent in msgs.items():
        lines = got[key]
        if lines[-1] != b"." or b"." in lines[:-1]:
            fail("%r: data does not end with a single '.'" % (key,))
        for x in lines[:-1]:
            if x.startswith(b".") and not x.startswith(b".."):
                fail("%r: line not dot-escaped: %r" % (key, x))
        plain = [x[1:] if x.startswith(b".") else x for x in lines[:-1]]
        if not plain[0].startswith(b"DKIM-Signature: ") or plain[-len(sent):] != sent:
            fail("%r: not the message with a signature in front:\n%r" % (key, plain))
        sig = plain[:-len(sent)]
        if not all(x[:1] in (b" ", b"\t") for x in sig[1:]):
            fail("%r: more than one header in front: %r" % (key, sig))
        msg = b"".join(x + b"\r\n" for x in plain)
        asked = []

        def dnsfunc(qname, timeout=5):
            asked.append(qname)
            return record if qname == b"%s._domainkey.%s." % (SELECTOR, DOMAIN) else None

        d = dkim.DKIM(msg)
        if not d.verify(dnsfunc=dnsfunc):
            fail("%r: python3-dkim rejects the signature (asked %r):\n%s" % (key, asked, msg.decode(errors="replace")))
        if d.domain != DOMAIN or d.selector != SELECTOR:
            fail("%r: signed for %r/%r" % (key, d.domain, d.selector))
        verified += 1
    return verified


def main():
    filt, outdir, ours, debian = sys.argv[1:5]
    setups = sys.argv[5:]
    lines, msgs, commits = build_stream()
    libname = "libopensmtpd.so.0"
    summary = []
    for setup in setups:
        name, pubfile, args = setup.split(":", 2)
        record = open(pubfile, "rb").read().strip()
        cmd = [filt] + args.split()
        outputs = {}
        for who, libdir in (("our", ours), ("Debian's", debian)):
            log = os.path.join(outdir, "%s-%s.stderr" % (name, who.split("'")[0].lower()))
            rc, regs, out = run(cmd, libdir, lines, log)
            with open(log[:-len("stderr")] + "out", "wb") as f:
                f.write(out)
            n = check(name, who, rc, regs, out, msgs, commits, record, log, os.path.join(libdir, libname))
            outputs[who] = out
        if outputs["our"] != outputs["Debian's"]:
            sys.exit("%s: our output differs from Debian's libopensmtpd (see %s/%s-*.out)" % (name, outdir, name))
        summary.append("%s %d/%d" % (name, n, n))
    print("filter-dkimsign loaded our libopensmtpd.so.0 and signed %d messages from %d interleaved "
          "sessions (one more rolled back mid-DATA); python3-dkim verified %s; output byte-identical "
          "to Debian's libopensmtpd" % (len(msgs), len({r for r, _ in msgs}), ", ".join(summary)))


if __name__ == "__main__":
    main()
