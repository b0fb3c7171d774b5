#!/usr/bin/python3
"""The SMTP client and the checks of osmtpd_smtpd.

    osmtpd_smtpd.py SMTPD_PORT SINK_FILE DKIM_TXT_FILE CTX_IDENTITY

Talks to smtpd on 127.0.0.1:SMTPD_PORT as client.example. A first session
drops the connection in the middle of DATA (a rollback while the filters
hold a message: nothing may arrive). Then one session, two messages. The first has three recipients, of which mailcompat_filter
rejects blocked@example.org (the 550 and its text must reach us); the
second message checks that the per-message state was reset. Then it waits
for smtpd to relay both to the recording sink (recording_sink.py writes
SINK_FILE) and checks each one arrived with the filters' work on it, in
chain order: filter-dkimsign's DKIM-Signature first (verified by
python3-dkim against the TXT record in DKIM_TXT_FILE), then
mailcompat_filter's headers, then smtpd's Received header and the message
exactly as sent.

mailcompat_filter prints the envelope the library kept in the ctx.
CTX_IDENTITY is the ctx->identity expected after `EHLO client.example`:
libopensmtpd 0.7 keeps link-identify's parameter whole, `EHLO|client.example`
(OPENSMTPD.md §8.4); ours strips the method on purpose
(src/opensmtpd/dispatch.rs). Recipients: smtpd 6.8 also reports tx-rcpt
(permfail) for the recipient the filter rejected, and both libraries keep
every tx-rcpt address whatever its status, so ctx->rcptto lists it.
"""
import os
import smtplib
import sys
import time

import dkim

IDENTITY = "client.example"


def message(n, to):
    lines = [
        "From: Sender %d <sender%d@example.org>" % (n, n),
        "To: %s" % to,
        "Subject: OpenSMTPD end-to-end message %d" % n,
        "Date: Tue, 2 Dec 2025 07:00:00 +0000",
        "Message-ID: <e2e-%d@client.example>" % n,
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=us-ascii",
        "",
        "Hello through the filter chain.",
        ".leading dot line",
        ".",
        "..two dots",
        "",
        "\ttab and trailing blanks   ",
        "pipes|in|the|line|",
        "x" * 400,
        "last line",
    ]
    if n == 2:
        lines = lines[:8] + ["Second message of the session."]
    return lines


def fail(why):
    sys.exit("osmtpd_smtpd: " + why)


def expect(reply, code, what, text=None):
    if reply[0] != code or (text is not None and reply[1] != text):
        fail("%s: smtpd answered %r, expected %d %s" % (what, reply, code, text.decode() if text else ""))


def abort_in_data(port):
    """A client that goes away in the middle of DATA: smtpd rolls the
    transaction back while the filters hold a message; nothing may arrive."""
    s = smtplib.SMTP("127.0.0.1", port, local_hostname=IDENTITY, timeout=15)
    expect(s.ehlo(), 250, "EHLO (aborted session)")
    expect(s.mail("aborted@example.org"), 250, "MAIL FROM (aborted session)")
    expect(s.rcpt("rcpt@example.org"), 250, "RCPT TO (aborted session)")
    s.putcmd("data")
    expect(s.getreply(), 354, "DATA (aborted session)")
    s.send(b"From: aborted@example.org\r\nSubject: never sent\r\n\r\n.partial body\r\n")
    time.sleep(0.2)
    s.close()


def send(port):
    rejected = None
    with smtplib.SMTP("127.0.0.1", port, local_hostname=IDENTITY, timeout=15) as s:
        expect(s.ehlo(), 250, "EHLO")
        expect(s.mail("sender1@example.org"), 250, "MAIL FROM")
        expect(s.rcpt("rcpt@example.org"), 250, "RCPT TO rcpt")
        rejected = s.rcpt("blocked@example.org")
        expect(rejected, 550, "RCPT TO blocked", b"5.7.1 mailcompat refuses <blocked@example.org>")
        expect(s.rcpt("second@example.org"), 250, "RCPT TO second")
        expect(s.data("\r\n".join(message(1, "rcpt@example.org, blocked@example.org")) + "\r\n"), 250, "DATA 1")
        expect(s.mail("sender2@example.org"), 250, "MAIL FROM 2")
        expect(s.rcpt("third@example.org"), 250, "RCPT TO third")
        expect(s.data("\r\n".join(message(2, "third@example.org")) + "\r\n"), 250, "DATA 2")
    return rejected


def read_sink(path):
    """{message-id: (mail from, [rcpts], content)} from recording_sink.py's file."""
    txs = []
    if not os.path.exists(path):
        return txs
    data = open(path, "rb").read()
    while data:
        head, data = data.split(b"\nDATA ", 1)
        n, data = data.split(b" bytes\n", 1)
        content, data = data[:int(n)], data[int(n):]
        if not data.startswith(b".\n"):
            fail("cannot parse the sink's file")
        data = data[2:]
        lines = head.split(b"\n")
        txs.append((lines[0][len(b"MAIL FROM:<"):-1].decode(),
                    [x[len(b"RCPT TO:<"):-1].decode() for x in lines[1:]], content))
    return txs


def header_block(lines, i):
    """The header starting at lines[i] with its continuation lines, and the next index."""
    j = i + 1
    while j < len(lines) and lines[j][:1] in (" ", "\t"):
        j += 1
    return lines[i:j], j


def check(n, sender, rcpts, content, record, ctx_identity):
    text = content.decode()
    if not text.endswith("\r\n"):
        fail("message %d does not end with CRLF" % n)
    lines = text[:-2].split("\r\n")
    sig, i = header_block(lines, 0)
    if not sig[0].startswith("DKIM-Signature: "):
        fail("message %d does not start with a DKIM-Signature:\n%s" % (n, text))
    want = ["X-Filtered-By: mailcompat",
            "X-Mailcompat-Envelope: message=%d; identity=%s; from=%s; rcpt=%s"
            % (n, ctx_identity, sender, ",".join(rcpts))]
    if lines[i:i + 2] != want:
        fail("message %d: mailcompat_filter's headers are %r, expected %r" % (n, lines[i:i + 2], want))
    received, j = header_block(lines, i + 2)
    if not received[0].startswith("Received: from %s " % IDENTITY):
        fail("message %d: no Received header from smtpd after ours:\n%s" % (n, text))
    sent = message(n, "rcpt@example.org, blocked@example.org" if n == 1 else "third@example.org")
    if lines[j:] != sent:
        fail("message %d altered on the way:\n%s" % (n, text))

    def dnsfunc(name, timeout=5):
        return record if name == b"sel._domainkey.example.org." else None

    d = dkim.DKIM(content)
    if not d.verify(dnsfunc=dnsfunc):
        fail("message %d: python3-dkim rejects the signature:\n%s" % (n, text))
    if d.domain != b"example.org" or d.selector != b"sel":
        fail("message %d: signed as %r/%r" % (n, d.domain, d.selector))


def main():
    port, sink, txt, ctx_identity = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    record = open(txt, "rb").read().strip()
    abort_in_data(port)
    rejected = send(port)
    # (sender, recipients relayed, ctx->rcptto when the data starts)
    wanted = {1: ("sender1@example.org", ["rcpt@example.org", "second@example.org"],
                  ["rcpt@example.org", "blocked@example.org", "second@example.org"]),
              2: ("sender2@example.org", ["third@example.org"], ["third@example.org"])}
    deadline = time.monotonic() + 20
    while True:
        txs = read_sink(sink)
        got = {}
        for sender, rcpts, content in txs:
            for n, (s, _, _) in wanted.items():
                if s == sender:
                    prev = got.get(n, (None, [], content))
                    if prev[2] != content:
                        fail("message %d relayed twice with different content" % n)
                    got[n] = (sender, sorted(prev[1] + rcpts), content)
        if all(n in got and got[n][1] == sorted(w[1]) for n, w in wanted.items()):
            break
        if time.monotonic() > deadline:
            fail("smtpd did not relay both messages to the sink within 20 s; the sink has %r"
                 % [(s, r) for s, r, _ in txs])
        time.sleep(0.1)
    if len(txs) > 3 or any(s == "aborted@example.org" for s, _, _ in txs):
        fail("more transactions than messages reached the sink: %r" % [(s, r) for s, r, _ in txs])
    for n, (sender, _, ctx_rcpts) in wanted.items():
        check(n, sender, ctx_rcpts, got[n][2], record, ctx_identity)
    print("smtpd 6.8 with mailcompat_filter and filter-dkimsign chained: RCPT "
          "blocked@example.org got '%d %s'; 2 messages relayed with X-Filtered-By and the "
          "envelope kept by OSMTPD_NEED_*, DKIM signatures verified by python3-dkim"
          % (rejected[0], rejected[1].decode()))


if __name__ == "__main__":
    main()
