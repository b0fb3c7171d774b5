#!/usr/bin/python3
"""Scripted SMTP test server for the libESMTP C-API tests (stdlib only).

One process serves one test: it listens on 127.0.0.1 (or ::1) on an
ephemeral port, publishes the port, serves up to --max-conns connections
one after the other and exits.  A hard --deadline guarantees it can never
hang a test run.  Everything received and sent is written to a transcript
in a normalised, reproducible text form:

    S: 220 mx.test ESMTP          server line (CRLF-terminated on the wire)
    C: MAIL FROM:<a@b>            client line, incl. raw DATA/BDAT content
    C: text\\n                     a line that ended in a bare LF
    # ...                         notes from the server (not wire data)

Escapes: '\\\\' for a backslash, '\\r' CR not followed by LF, '\\t' TAB,
'\\xHH' for any other byte outside 0x20..0x7e.  A line that was not
terminated when the connection closed (or a BDAT chunk ended) is followed by
a '# unterminated' note.

The server's behaviour is driven by a scenario (JSON, or a Python dict
literal), e.g.

  {"ehlo": ["PIPELINING", "SIZE 1000", "ENHANCEDSTATUSCODES"],
   "rules": [
     {"cmd": "RCPT", "arg": "bad@", "reply": "550 5.1.1 no such user"},
     {"cmd": "EOD", "reply": "452 4.3.1 full", "times": 1},
     {"cmd": "DATA", "action": "close"},
     {"cmd": "MAIL", "raw": "250\\r\\n"},
     {"cmd": "RSET", "gen": {"code": "250", "lines": 10000}}]}

Scenario keys:
  hostname   name used in default replies (default "mx.test")
  ehlo       list of EHLO extension lines (default none)
  enhanced   use enhanced codes in default replies (default: true if
             ENHANCEDSTATUSCODES is in "ehlo")
  rcvbuf     SO_RCVBUF of the listening (and so the accepted) socket
  tls_cert   PEM file (certificate + key) for STARTTLS; relative paths are
             relative to this script.  With it, a STARTTLS rule with
             "tls": true answers 220 and performs the TLS handshake; the
             transcript then shows the decrypted lines.
  rules      list of rules, first match wins.  Rule keys:
     cmd     GREETING, EHLO, HELO, MAIL, RCPT, DATA, EOD (reply to the final
             "."), BDAT (each chunk; arg is "<n>" or "<n> LAST"), RSET,
             QUIT, ETRN, XUSR, STARTTLS, AUTH, AUTHDATA (lines after a 334),
             NOOP, ... or "*" for any command
     arg     regex searched in the rest of the line (case-insensitive)
     conn    only on this connection (1-based)
     times   rule applies this many times, then is ignored
   and the response:
     reply   string or list of strings, each sent followed by CRLF
     raw     string sent verbatim (chars 0-255 are bytes, JSON escapes ok)
     gen     {"code": "250", "len": N}   one line "250 " + N bytes of 'x'
             {"code": "250", "lines": N} N-line reply (N-1 continuations)
     action  "close" (close instead of replying), "stall" (never answer;
             keep reading until the client hangs up or the deadline),
             "stall_noread" (never answer and stop reading, so that the
             client's writes block: for the TRANSFER timeout; use with a
             small "rcvbuf")
     then    "close" / "stall" after sending the response
     log     "stop": log nothing after this response.  For huge replies:
             whether the client reads all of it before hanging up (and
             whether its last commands survive the reset) depends on
             socket buffer sizes and timing.
     auth    for AUTH: number of 334 challenges ("then" applies after the
             final reply); challenge text in "challenge" (default empty)
"""

import argparse
import ast
import json
import os
import re
import select
import ssl
import signal
import socket
import sys
import time

# ---------------------------------------------------------------- escaping


def esc(data):
    """Escape bytes reproducibly (see module doc)."""
    out = []
    n = len(data)
    for i, b in enumerate(data):
        if b == 0x5C:
            out.append("\\\\")
        elif b == 0x0D and not (i + 1 < n and data[i + 1] == 0x0A):
            out.append("\\r")
        elif b == 0x0D:
            pass                    # CR of a CRLF pair: implied by the line
        elif b == 0x0A:
            # Only reached for a bare LF (CRLF is consumed by split_line)
            out.append("\\n")
        elif b == 0x09:
            out.append("\\t")
        elif 0x20 <= b <= 0x7E:
            out.append(chr(b))
        else:
            out.append("\\x%02X" % b)
    return "".join(out)


def line_text(line):
    """Transcript text of one wire line (including its terminator)."""
    if line.endswith(b"\r\n"):
        return esc(line[:-2])
    return esc(line)                # bare LF shows up as a trailing \n


# ---------------------------------------------------------------- server


class Transcript:
    def __init__(self, path):
        self.f = open(path, "w", encoding="ascii", newline="\n") if path else None

    def put(self, prefix, text):
        if self.f:
            self.f.write(prefix + text + "\n")
            self.f.flush()          # survive being killed at any moment

    def note(self, text):
        self.put("# ", text)


class Stop(Exception):
    """Ends the current connection (peer closed, server closed, deadline)."""


class Conn:
    def __init__(self, srv, sock, number):
        self.srv, self.sock, self.number = srv, sock, number
        self.inbuf = b""
        self.outbuf = b""
        self.state = "cmd"          # cmd | data | bdat | auth | stall
        self.bdat_left = 0
        self.bdat_arg = ""
        self.auth_left = 0
        self.auth_rule = None
        self.closing = False
        self.peer_gone = False
        self.tls = None             # ssl.SSLObject after STARTTLS

    # -- output.  Replies are queued and flushed once all input that has
    # already arrived is processed, like a real pipelining server does.
    def queue(self, data, text_lines):
        for t in text_lines:
            if t is None:
                self.srv.tr.note("unterminated")
            else:
                self.srv.tr.put("S: ", t)
        self.outbuf += data

    def flush(self):
        if self.outbuf and not self.peer_gone:
            try:
                if self.tls is not None:
                    self.tls.write(self.outbuf)
                    self.outbuf = b""
                    self.tls_send()
                    return
                self.sock.sendall(self.outbuf)
            except (OSError, ssl.SSLError):
                # The client hung up while we were still sending (e.g. a
                # huge reply).  Not logged: the timing is not reproducible.
                self.peer_gone = True
        self.outbuf = b""

    def respond(self, rule, default):
        """Send the response described by rule (or the default reply).
        Returns the first three bytes sent ("" if nothing was sent)."""
        r = rule or {}
        action = r.get("action")
        if action == "close":
            self.srv.tr.note("server closes connection")
            self.closing = True
            return ""
        if action in ("stall", "stall_noread"):
            self.srv.tr.note("server stalls" + (" and stops reading"
                                                if action == "stall_noread" else ""))
            self.state = "stall" if action == "stall" else "noread"
            return ""
        start = len(self.outbuf)
        if "raw" in r:
            data = r["raw"].encode("latin-1")
            self.queue(data, raw_lines(data))
        elif "gen" in r:
            g = r["gen"]
            code = str(g.get("code", "250"))
            if "len" in g:
                n = int(g["len"])
                self.queue(code.encode() + b" " + b"x" * n + b"\r\n",
                           ["%s x{%d}   [generated single line]" % (code, n)])
            else:
                n = int(g["lines"])
                body = b"".join(b"%s-line %d\r\n" % (code.encode(), i)
                                for i in range(1, n))
                body += b"%s end\r\n" % code.encode()
                self.queue(body, ["%s-line 1 ... %s-line %d, %s end   "
                                  "[generated %d-line reply]"
                                  % (code, code, n - 1, code, n)])
        else:
            rep = r.get("reply", default)
            lines = [rep] if isinstance(rep, str) else list(rep)
            self.queue(b"".join(l.encode("latin-1") + b"\r\n" for l in lines),
                       [esc(l.encode("latin-1")) for l in lines])
        if r.get("log") == "stop":
            self.srv.tr.note("transcript stops here (the rest depends on timing)")
            self.srv.tr.f = None
        then = r.get("then")
        if then == "close":
            self.srv.tr.note("server closes connection")
            self.closing = True
        elif then in ("stall", "stall_noread"):
            self.srv.tr.note("server stalls" + (" and stops reading"
                                                if then == "stall_noread" else ""))
            self.state = "stall" if then == "stall" else "noread"
        return self.outbuf[start:start + 3].decode("latin-1")

    # -- input
    def take_line(self):
        i = self.inbuf.find(b"\n")
        if i < 0:
            return None
        line, self.inbuf = self.inbuf[:i + 1], self.inbuf[i + 1:]
        return line

    def process(self):
        """Consume as much buffered input as possible."""
        if self.state == "stall":
            # Stalled: log complete lines that arrive, never answer.
            while (line := self.take_line()) is not None:
                self.srv.tr.put("C: ", line_text(line))
            return
        while not self.closing and self.state not in ("stall", "noread"):
            if self.state == "bdat":
                if len(self.inbuf) < self.bdat_left:
                    return
                chunk = self.inbuf[:self.bdat_left]
                self.inbuf = self.inbuf[self.bdat_left:]
                self.bdat_left = 0
                log_chunk(self.srv.tr, chunk)
                self.state = "cmd"
                self.bdat_reply()
                continue
            line = self.take_line()
            if line is None:
                return
            self.srv.tr.put("C: ", line_text(line))
            if self.state == "data":
                if line == b".\r\n":
                    self.state = "cmd"
                    self.respond(self.srv.match("EOD", "", self.number),
                                 self.srv.code("250", "2.0.0", "message accepted"))
            elif self.state == "auth":
                self.auth_step(line)
            else:
                self.command(line)

    def command(self, line):
        text = line.rstrip(b"\r\n").decode("latin-1")
        verb, _, arg = text.partition(" ")
        verb = verb.upper()
        srv = self.srv
        # BDAT is matched when its chunk has arrived (bdat_reply); matching
        # here too would use up "times".
        rule = srv.match(verb, arg, self.number) if verb != "BDAT" else None
        if verb == "EHLO":
            ext = srv.sc.get("ehlo", [])
            dflt = ["250%s%s Hello" % ("-" if ext else " ", srv.host)]
            dflt += ["250%s%s" % ("-" if i < len(ext) - 1 else " ", e)
                     for i, e in enumerate(ext)]
            self.respond(rule, dflt)
        elif verb == "HELO":
            self.respond(rule, "250 %s" % srv.host)
        elif verb in ("MAIL", "RCPT", "RSET", "NOOP", "XUSR"):
            enh = "2.1.0" if verb == "MAIL" else "2.1.5" if verb == "RCPT" else "2.0.0"
            self.respond(rule, srv.code("250", enh, "ok"))
        elif verb == "DATA":
            sent = self.respond(rule, "354 end data with <CR><LF>.<CR><LF>")
            if sent == "354" and self.state == "cmd" and not self.closing:
                self.state = "data"
        elif verb == "BDAT":
            parts = arg.split()
            try:
                self.bdat_left = int(parts[0])
            except (IndexError, ValueError):
                self.respond(None, srv.code("501", "5.5.4", "bad BDAT syntax"))
                return
            self.bdat_arg = arg
            self.state = "bdat"
        elif verb == "QUIT":
            self.respond(rule, srv.code("221", "2.0.0", "bye"))
            if self.state == "cmd" and not self.closing:
                srv.tr.note("server closes connection")
                self.closing = True
        elif verb == "ETRN":
            self.respond(rule, "250 queuing started")
        elif verb == "STARTTLS":
            if rule and rule.get("tls"):
                self.respond(rule, "220 ready to start TLS")
                self.flush()
                self.start_tls()
            else:
                self.respond(rule, srv.code("454", "4.7.0", "TLS not available"))
        elif verb == "AUTH":
            if rule and rule.get("auth"):
                self.auth_rule, self.auth_left = rule, int(rule["auth"])
                self.state = "auth"
                self.auth_challenge()
            else:
                self.respond(rule, srv.code("504", "5.5.4", "mechanism not supported"))
        else:
            self.respond(rule, srv.code("500", "5.5.2", "command unrecognised"))

    # -- TLS.  Memory BIOs keep every byte under our control: with an
    # SSLSocket, records read along with the handshake can sit inside
    # OpenSSL while select() reports nothing to read.
    def start_tls(self):
        if self.inbuf:              # RFC 3207: no pipelining past STARTTLS
            self.srv.tr.note("data pipelined after STARTTLS discarded")
            self.inbuf = b""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.srv.tls_cert)
        # TLS 1.3 session tickets arrive after the client's handshake has
        # finished; the original libESMTP then sometimes waits for a reply
        # without having flushed its next command (see NOTES.md).  Scenario
        # key "tls_tickets" (default 0) sets how many are sent.
        ctx.num_tickets = int(self.srv.sc.get("tls_tickets", 0))
        self.bio_in, self.bio_out = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.tls = ctx.wrap_bio(self.bio_in, self.bio_out, server_side=True)
        while True:
            try:
                self.tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                self.tls_send()
                data = self.srv.wait_recv(self.sock)
                if not data:
                    self.srv.tr.note("TLS handshake failed: client closed connection")
                    self.closing = True
                    return
                self.bio_in.write(data)
            except ssl.SSLError as e:
                self.tls_send()
                self.srv.tr.note("TLS handshake failed: %s" % e.reason)
                self.closing = True
                return
        self.tls_send()
        self.srv.tr.note("TLS handshake done: %s" % self.tls.version())

    def tls_send(self):
        data = self.bio_out.read()
        if data and not self.peer_gone:
            try:
                self.sock.sendall(data)
            except OSError:
                self.peer_gone = True

    def recv(self):
        """Next plaintext bytes from the client; b"" at end of input."""
        while True:
            data = self.srv.wait_recv(self.sock)
            if self.tls is None or not data:
                return data
            self.bio_in.write(data)
            out = b""
            try:
                while True:
                    out += self.tls.read(65536)
            except ssl.SSLWantReadError:
                pass
            except (ssl.SSLZeroReturnError, ssl.SSLError):
                return out          # close_notify or a fatal alert: EOF
            finally:
                self.tls_send()
            if out:
                return out

    def bdat_reply(self):
        last = "LAST" in self.bdat_arg.upper().split()[1:]
        rule = self.srv.match("BDAT", self.bdat_arg, self.number)
        if last:
            dflt = self.srv.code("250", "2.0.0", "message accepted")
        else:
            dflt = self.srv.code("250", "2.0.0",
                                 "%s octets received" % self.bdat_arg.split()[0])
        self.respond(rule, dflt)

    def auth_challenge(self):
        if self.auth_left > 0:
            self.auth_left -= 1
            self.queue(b"334 " + self.auth_rule.get("challenge", "").encode() + b"\r\n",
                       ["334 " + self.auth_rule.get("challenge", "")])
        else:
            self.state = "cmd"
            self.respond(self.auth_rule, self.srv.code("235", "2.7.0", "authenticated"))

    def auth_step(self, line):
        if line.rstrip(b"\r\n") == b"*":
            self.state = "cmd"
            self.respond(None, self.srv.code("501", "5.7.0", "authentication cancelled"))
        else:
            self.auth_challenge()

    def run(self):
        srv = self.srv
        srv.tr.note("connection %d" % self.number)
        self.respond(srv.match("GREETING", "", self.number),
                     "220 %s ESMTP smtpd.py ready" % srv.host)
        try:
            while True:
                self.process()
                if self.state == "stall":
                    self.process()  # log lines already buffered
                self.flush()
                if self.closing:
                    break
                if self.state == "noread":
                    srv.wait_idle()
                    break
                data = self.recv()
                if not data:
                    if self.inbuf:
                        srv.tr.put("C: ", line_text(self.inbuf))
                        srv.tr.note("unterminated")
                    srv.tr.note("client closed connection")
                    break
                self.inbuf += data
        except Stop as e:
            srv.tr.note(str(e))
            srv.expired = True
        finally:
            self.sock.close()


def raw_lines(data):
    """Transcript lines for raw server output (may lack a final CRLF)."""
    out = []
    while data:
        i = data.find(b"\n")
        if i < 0:
            out.append(esc(data))
            out.append(None)        # -> "# unterminated" note
            break
        out.append(line_text(data[:i + 1]))
        data = data[i + 1:]
    return out


def log_chunk(tr, chunk):
    tr.note("BDAT chunk, %d octets" % len(chunk))
    while chunk:
        i = chunk.find(b"\n")
        if i < 0:
            tr.put("C: ", esc(chunk))
            tr.note("unterminated")
            break
        tr.put("C: ", line_text(chunk[:i + 1]))
        chunk = chunk[i + 1:]


class Server:
    def __init__(self, args, scenario):
        self.args = args
        self.sc = scenario
        self.host = scenario.get("hostname", "mx.test")
        ehlo = [e.upper() for e in scenario.get("ehlo", [])]
        self.enhanced = scenario.get("enhanced", "ENHANCEDSTATUSCODES" in ehlo)
        self.rules = [dict(r) for r in scenario.get("rules", [])]
        self.tr = Transcript(args.transcript)
        cert = scenario.get("tls_cert")
        self.tls_cert = os.path.join(os.path.dirname(os.path.abspath(__file__)), cert) \
            if cert else None
        self.deadline = time.monotonic() + args.deadline
        self.stopping = False       # set by SIGTERM: finish current conn, exit
        self.expired = False        # deadline hit (or runner gave up)

    def code(self, code, enh, text):
        return "%s %s %s" % (code, enh, text) if self.enhanced else "%s %s" % (code, text)

    def match(self, cmd, arg, conn):
        for r in self.rules:
            if r.get("cmd", "*").upper() not in (cmd, "*"):
                continue
            if "conn" in r and int(r["conn"]) != conn:
                continue
            if "arg" in r and not re.search(r["arg"], arg, re.I):
                continue
            if "times" in r:
                if r["times"] <= 0:
                    continue
                r["times"] -= 1
            return r
        return None

    def remaining(self):
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise Stop("deadline reached")
        return left

    def wait_recv(self, sock):
        # Once asked to stop, the client program has exited: its socket is
        # closed, so EOF is due at once; 3 s is only a safety margin.
        limit = time.monotonic() + 3 if self.stopping else None
        while True:
            r, _, _ = select.select([sock], [], [], min(self.remaining(), 0.2))
            if r:
                try:
                    return sock.recv(65536)
                except ConnectionResetError:
                    return b""
            if self.stopping:
                limit = limit or time.monotonic() + 3
                if time.monotonic() > limit:
                    raise Stop("stopped by runner")

    def wait_idle(self):
        """Neither read nor answer until the runner stops us (or the
        deadline); nothing is logged since what arrives depends on timing."""
        while not self.stopping:
            time.sleep(min(self.remaining(), 0.1))

    def serve(self):
        fam, addr = (socket.AF_INET6, "::1") if self.args.ipv6 else (socket.AF_INET, "127.0.0.1")
        ls = socket.socket(fam, socket.SOCK_STREAM)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if "rcvbuf" in self.sc:
            ls.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, int(self.sc["rcvbuf"]))
        ls.bind((addr, 0))
        ls.listen(8)
        port = ls.getsockname()[1]
        if self.args.port_file:
            tmp = self.args.port_file + ".tmp"
            with open(tmp, "w") as f:
                f.write("%d\n" % port)
            os.rename(tmp, self.args.port_file)     # appears atomically
        else:
            print("PORT %d" % port, flush=True)
        n = 0
        try:
            while n < self.args.max_conns:
                r, _, _ = select.select([ls], [], [], min(self.remaining(), 0.2))
                if self.stopping and not r:
                    return 0
                if not r:
                    continue
                sock, _ = ls.accept()
                sock.settimeout(5)  # bounds sendall() on a full socket
                n += 1
                Conn(self, sock, n).run()
                if self.expired:
                    return 3
        except Stop as e:           # deadline while waiting for a connection
            self.tr.note(str(e))
            return 3
        return 0


def load_scenario(path):
    if not path:
        return {}
    with open(path, encoding="utf-8") as f:
        text = f.read()
    try:
        return json.loads(text)
    except ValueError:
        return ast.literal_eval(text)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scenario", help="JSON or Python-dict scenario file")
    ap.add_argument("--transcript", help="write the transcript here")
    ap.add_argument("--port-file", help="write the port number here "
                    "(else print 'PORT n' as the first stdout line)")
    ap.add_argument("--max-conns", type=int, default=1)
    ap.add_argument("--deadline", type=float, default=20.0)
    ap.add_argument("--ipv6", action="store_true", help="listen on ::1")
    args = ap.parse_args()
    srv = Server(args, load_scenario(args.scenario))

    def on_term(signo, frame):
        srv.stopping = True
    signal.signal(signal.SIGTERM, on_term)
    sys.exit(srv.serve())


if __name__ == "__main__":
    main()
