#!/usr/bin/python3
"""Writes the seed corpora of fuzz/corpus/ from the project's own test
material: the server replies and message contents of the libESMTP C suite's
transcripts (capi-tests/esmtp/expected/), the libopensmtpd suite's recorded
smtpd streams, and hand-made DNS, MTA-STS, JSON, HTTP and SASL inputs of the
kinds the other suites exchange.

    fuzz/make_corpus.py      (rewrites every fuzz/corpus/T)

Campaigns add inputs in fuzz/target/corpus/; merge the ones worth keeping
with the target's -merge=1 into fuzz/corpus/T.
"""
import glob
import hashlib
import os
import re
import shutil
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)


def unescape(text):
    """smtpd.py's transcript escapes back to bytes."""
    out = bytearray()
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            n = text[i + 1]
            if n == "x" and i + 3 < len(text):
                out.append(int(text[i + 2:i + 4], 16))
                i += 4
                continue
            out += {"r": b"\r", "t": b"\t", "n": b"\n", "\\": b"\\"}.get(n, n.encode())
            i += 2
            continue
        out += c.encode("utf-8", "replace")
        i += 1
    return bytes(out)


def transcripts():
    for path in sorted(glob.glob(os.path.join(REPO, "capi-tests", "esmtp", "expected", "*.out"))):
        text = open(path, encoding="utf-8", errors="replace").read()
        if "== server transcript" in text:
            yield text.split("== server transcript", 1)[1].splitlines()


def replies():
    seen = set()
    for lines in transcripts():
        group = []
        for line in lines + ["C: end"]:
            if line.startswith("S: "):
                body = line[3:]
                group.append(unescape(body) + (b"" if body.endswith("\\n") else b"\r\n"))
            elif group:
                data = b"".join(group)
                group = []
                if data not in seen and len(data) < 4000:
                    seen.add(data)
                    yield data


def messages():
    seen = set()
    for lines in transcripts():
        body, inside = [], False
        for line in lines:
            if line == "C: DATA":
                inside, body = True, []
            elif inside and line.startswith("C: "):
                if line == "C: .":
                    data = b"\xfe".join(body)  # chunk boundaries, as the target splits
                    if data not in seen:
                        seen.add(data)
                        yield data
                    inside = False
                else:
                    body.append(unescape(line[3:]) + b"\r\n")


def dns_name(name):
    return b"".join(bytes([len(p)]) + p.encode() for p in name.split(".") if p) + b"\0"


def dns_response(qname, qtype, answers, flags=0x81A0, rcode=0):
    head = struct.pack(">HHHHHH", 0x1234, flags | rcode, 1, len(answers), 0, 0)
    question = dns_name(qname) + struct.pack(">HH", qtype, 1)
    out = head + question
    for rtype, rdata, name in answers:
        owner = b"\xc0\x0c" if name is None else dns_name(name)
        out += owner + struct.pack(">HHIH", rtype, 1, 300, len(rdata)) + rdata
    return out


def dns_inputs():
    tlsa = bytes([3, 1, 1]) + hashlib.sha256(b"key").digest()
    yield dns_response("mx.example.org", 1, [(1, bytes([192, 0, 2, 1]), None)])
    yield dns_response("mx.example.org", 28, [(28, bytes(15) + b"\x01", None)])
    yield dns_response("_25._tcp.mx.example.org", 52, [(52, tlsa, None), (52, bytes([2, 0, 1]) + bytes(32), None)])
    yield dns_response("_mta-sts.example.org", 16, [(16, b"\x14v=STSv1; id=20240101", None)])
    yield dns_response("mx.example.org", 1, [(5, dns_name("real.example.org"), None),
                                              (1, bytes([192, 0, 2, 2]), "real.example.org")])
    yield dns_response("nx.example.org", 1, [], rcode=3)
    yield dns_response("mx.example.org", 1, [], flags=0x8380)  # truncated
    yield dns_response("a b.example", 1, [(1, bytes(4), None)])


def sts_inputs():
    yield b"version: STSv1\r\nmode: enforce\r\nmx: mx.example.org\r\nmx: *.example.net\r\nmax_age: 86400\r\n"
    yield b"version: STSv1\nmode: testing\nmx: mail.example.com\nmax_age: 604800\n"
    yield b"version: STSv1\r\nmode: none\r\nmax_age: 1\r\n"
    yield b"v=STSv1; id=20240101T000000;\0v=spf1 -all"
    yield b"\x14v=STSv1; id=abc123"


def tlsrpt_inputs():
    yield b"v=TLSRPTv1; rua=mailto:tlsrpt@example.org"
    yield b"v=spf1 -all\0v=TLSRPTv1;rua=mailto:a%2Bb@example.org?subject=x,https://r.example.org:8443/v1?a=b#f"
    yield b"v=TLSRPTv1; rua=https://reporting.example.com/v1/tlsrpt; x-ext=1;"
    yield b"v=TLSRPTv1; rua=mailto:a@x.example\0v=TLSRPTv1; rua=mailto:b@x.example"
    yield b"v=TLSRPTv1; rua=ftp://x.example/r,mailto:a..b@x.example,https://1.2.3.4/"
    yield (b'{"organization-name": "o", "date-range": {"start-datetime": "2026-01-01T00:00:00Z", '
           b'"end-datetime": "2026-01-02T00:00:00.5+01:00"}, "contact-info": "c", "report-id": "r@s", '
           b'"policies": [{"policy": {"policy-type": "sts", "policy-domain": "example.org"}}]}')
    yield b"v=TLSRPTv1; rua=mailto:a@example.org\xfeHTTP/1.1 302 Found\r\nLocation: https://x/\r\n\r\n"
    yield b"\xfeHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"


def json_inputs():
    yield (b'{"epoch": 1700000000, "type": 0, "policy": {"policy-type": "tlsa", "policy-string": '
           b'["3 1 1 ab"], "policy-domain": "example.org", "mx-host": "mx.example.org"}, '
           b'"result-type": "validation-failure", "failure-reason-code": "x", '
           b'"sending-mta-ip": "127.0.0.1", "receiving-mx-hostname": "mx.example.org", '
           b'"receiving-ip": "127.0.0.2"}')
    yield (b'{"epoch": 1, "type": 1, "policy": {"policy-type": "sts", "policy-domain": "example.org",'
           b' "mx-host": "mx.example.org"}}')
    yield b'[1, -2.5e3, true, false, null, "\\u00e9\\n", {"a": [{}]}]'


def http_inputs():
    yield b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 12\r\n\r\nversion: STS"
    yield (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nTransfer-Encoding: chunked\r\n\r\n"
           b"7\r\nversion\r\n\xfe5;x=y\r\n: STS\r\n0\r\n\r\n")
    yield b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nversion: STSv1\r\nmode: testing\r\n"
    yield b"HTTP/1.1 301 Moved\r\nLocation: https://elsewhere/\r\n\r\n"
    yield b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 0\r\n\r\n"


def filter_streams():
    """The libopensmtpd suite's recorded smtpd streams."""
    for path in sorted(glob.glob(os.path.join(REPO, "capi-tests", "opensmtpd", "fixtures", "*.txt"))):
        data = open(path, "rb").read()
        if len(data) < 64 * 1024:
            yield data


def sasl_inputs():
    """The first byte picks the mechanism; challenges split at 0xFE."""
    yield b"\x00"
    yield b"\x01VXNlcm5hbWU6\xfeUGFzc3dvcmQ6"
    yield b"\x02<1896.697170952@postoffice.example.net>"
    yield b"\x03r=fuzznonce3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096\xfev=rmF9pqV8S7suAoZWja4dJRkFsKQ="
    yield (b"\x04r=fuzznonce%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
           b"\xfev=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
    yield b'\x05{"status":"401","schemes":"bearer","scope":"mail"}'
    yield b'\x06{"status":"invalid_token"}'


# The session target's reply codes and EHLO keyword bits (src/fuzzing/session.rs).
CODES = [220, 221, 235, 250, 251, 252, 334, 354, 421, 450, 451, 452, 454, 500, 501, 502, 503, 504,
         530, 534, 535, 538, 550, 551, 552, 553, 554, 555, 211, 214, 432, 455]
PIPELINING, STARTTLS, AUTH, CHUNKING, EIGHTBIT, SIZE, DSN, ENHANCED = (1 << i for i in range(8))


def session_inputs():
    """Four setup bytes (STARTTLS mode, auth, messages, recipients; EHLO
    keywords as 16 bits; DSN/SIZE/BODY/ETRN), then one action per command
    the fake server reads: 0 sensible, 1 code, 2 EHLO, 3 raw, 4 surplus,
    5 close, 6 in pieces, 7 challenge, 8 code and text."""
    def code(c):
        return bytes([CODES.index(c)])

    def raw(b):
        return bytes([3, len(b)]) + b
    setups = []
    for tls in (0, 1, 2):
        for auth in (0, 4):
            for shape in (0x00, 0x28, 0x50):
                setups.append(tls | auth | shape)
    masks = [0, PIPELINING, PIPELINING | CHUNKING, PIPELINING | ENHANCED | DSN | SIZE | EIGHTBIT,
             STARTTLS, AUTH, 0xffff]
    for setup in setups:
        for mask in masks:
            yield bytes([setup, mask & 0xff, mask >> 8, 0x07])
    # One message, one recipient, no extensions: each stage misbehaving.
    # Stages: greeting, EHLO, MAIL, RCPT, DATA, dot, QUIT.
    bad = [b"\x01" + code(550), b"\x01" + code(421), raw(b"250x\r\n"), b"\x04" + code(250) + code(554),
           b"\x05", b"\x06" + code(250), b"\x08" + code(250) + b"\x01\x00", raw(b"250-a\r\n554 b\r\n"),
           raw(b"354 early\r\n"), raw(b"250 ok\n")]
    for mask in (0, PIPELINING, CHUNKING | PIPELINING):
        for stage in range(7):
            for b in bad:
                yield bytes([0x28 if stage == 5 else 0, mask & 0xff, mask >> 8, 0]) + b"\x00" * stage + b
    # AUTH LOGIN with challenges, then refused.
    yield (bytes([4, AUTH, 0, 0]) + b"\x00\x00\x07\x09Username:\x07\x09Password:")
    yield bytes([4, AUTH, 0, 0]) + b"\x00\x00\x01" + code(535)
    yield bytes([4, AUTH, 0, 0]) + b"\x00\x00\x07\x00\x01" + code(235)
    # STARTTLS accepted, then no handshake.
    for tls in (1, 2):
        yield bytes([tls, STARTTLS, 0, 0]) + b"\x00\x00\x01" + code(220) + b"\x05junk!"
        yield bytes([tls, STARTTLS, 0, 0]) + b"\x00\x00\x01" + code(454)


def write(target, inputs, prefix=b""):
    d = os.path.join(HERE, "corpus", target)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    n = 0
    for data in inputs:
        for p in (prefix if isinstance(prefix, list) else [prefix]):
            item = p + data
            name = hashlib.sha1(item).hexdigest()
            with open(os.path.join(d, name), "wb") as f:
                f.write(item)
            n += 1
    print("%s: %d seeds" % (target, n))


def main():
    # The reply target's first byte: bit 0 enhanced codes, bit 1 EHLO
    # keywords collected, bit 2 a missing enhanced code fails.
    write("reply", list(replies()), prefix=[b"\x00", b"\x03"])
    write("message", list(messages()))
    write("dns", list(dns_inputs()))
    write("sts", list(sts_inputs()))
    write("tlsrpt", list(tlsrpt_inputs()))
    write("json", list(json_inputs()))
    write("http", list(http_inputs()))
    write("sasl", list(sasl_inputs()))
    write("filter_stream", list(filter_streams()))
    write("session", list(session_inputs()))


if __name__ == "__main__":
    main()
