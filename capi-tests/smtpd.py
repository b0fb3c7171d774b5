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
  tls_cert   PEM file (certificate [+ chain] [+ key]) for STARTTLS;
             relative paths are relative to this script.  With it, a
             STARTTLS rule with "tls": true answers 220 (or its own reply /
             raw) and performs the TLS handshake; the transcript then shows
             the decrypted lines.  Bytes already received after STARTTLS are
             discarded (noted).
  tls_key    key file, if it is not in tls_cert
  tls_client_ca  CA file: ask for a client certificate and verify it
             against this CA; the transcript notes the subject CN (or
             "none").  tls_client_cert: "required" (default; the handshake
             fails without one) or "optional".
  tls_max_version  "TLSv1.2" or "TLSv1.3" (default: OpenSSL's maximum)
  tls_ciphers  OpenSSL cipher list for TLS 1.2 (e.g. "eNULL:@SECLEVEL=0";
             with "aNULL:..." no tls_cert is needed: an anonymous server)
  tls_tickets  TLS 1.3 session tickets sent (default 0: the original
             libESMTP sometimes hangs on them, see esmtp/NOTES.md)
  tls_log_sni  note the SNI host name the client sent (or "none")
  implicit_tls  true: the whole connection is TLS from the first byte (as
             on port 465): handshake first, then the greeting
  ehlo_tls   EHLO extension lines used once the connection is on TLS
             (default: "ehlo")
  rules      list of rules, first match wins.  Rule keys:
     cmd     GREETING, EHLO, HELO, MAIL, RCPT, DATA, EOD (reply to the final
             "."), BDAT (each chunk; arg is "<n>" or "<n> LAST"), RSET,
             QUIT, ETRN, XUSR, STARTTLS, AUTH, AUTHDATA (lines after a 334),
             NOOP, ... or "*" for any command
     arg     regex searched in the rest of the line (case-insensitive)
     conn    only on this connection (1-based)
     on_tls  true / false: only when the connection is / is not on TLS
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
     delay   seconds to wait before sending the response
     log     "stop": log nothing after this response.  For huge replies:
             whether the client reads all of it before hanging up (and
             whether its last commands survive the reset) depends on
             socket buffer sizes and timing.
     auth    for AUTH: number of 334 challenges ("then" applies after the
             final reply); challenge text in "challenge" (default empty)
     tls     for STARTTLS: true = after the reply, do what "tls_action"
             says (default "handshake"):
               handshake      a real TLS handshake (needs tls_cert)
               garbage        wait for the client's first TLS record, answer
                              "tls_garbage" (default "this is not TLS\r\n")
                              instead of a handshake, wait for the client to
                              close
               close          wait for the client's first TLS record, close
               close_partial  wait for the client's first TLS record, send
                              the first 7 bytes of the real server reply,
                              close
             An injected reply pipelined behind the 220 (the CVE-2011-0411
             class) is just a "raw" reply: {"raw": "220 go\r\n250 x\r\n"}.

After a failed handshake the server sends its alert (if any), shuts down
its sending side and keeps reading (discarding) until the client closes,
for at most 5 s, so that the client sees the alert rather than a reset.
"""

import warnings
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

# Old TLS versions are asked for on purpose (tls_max_version).
warnings.filterwarnings("ignore", category=DeprecationWarning)

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
        if "delay" in r:
            # A slow server: what is queued goes now, this reply later.
            self.flush()
            self.srv.tr.note("server waits %s s" % r["delay"])
            time.sleep(float(r["delay"]))
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
                    self.respond(self.srv.match("EOD", "", self.number, self.tls is not None),
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
        rule = srv.match(verb, arg, self.number, self.tls is not None) \
            if verb != "BDAT" else None
        if verb == "EHLO":
            ext = srv.sc.get("ehlo", [])
            if self.tls is not None:
                ext = srv.sc.get("ehlo_tls", ext)
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
                sent = self.respond(rule, "220 ready to start TLS")
                self.flush()
                if sent.startswith("2") and not self.closing and self.state == "cmd":
                    self.after_220(rule.get("tls_action", "handshake"), rule)
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
    def after_220(self, action, rule):
        if self.inbuf:              # RFC 3207: no pipelining past STARTTLS
            self.srv.tr.note("data pipelined after STARTTLS discarded")
            self.inbuf = b""
        if action == "handshake":
            self.start_tls()
            return
        hello = self.read_record()
        if hello is None:
            return
        if action == "garbage":
            data = rule.get("tls_garbage", "this is not TLS\r\n").encode("latin-1")
            self.srv.tr.note("server answers the ClientHello with garbage")
            self.queue(data, raw_lines(data))
            self.flush()
            self.linger()
        elif action == "close":
            self.srv.tr.note("server closes connection mid-handshake")
            self.closing = True
        elif action == "close_partial":
            self.new_tls()
            self.bio_in.write(hello)
            try:
                self.tls.do_handshake()
            except ssl.SSLWantReadError:
                pass
            except ssl.SSLError as e:
                self.srv.tr.note("TLS handshake failed: %s" % e.reason)
            out = self.bio_out.read()
            self.tls = None
            self.srv.tr.note("server sends the first 7 bytes of its handshake reply and closes"
                             if out else "server has no handshake reply; closes")
            try:
                self.sock.sendall(out[:7])
            except OSError:
                pass
            self.closing = True
        else:
            raise ValueError("unknown tls_action %r" % action)

    def read_record(self):
        """Read the client's first TLS record (normally its ClientHello),
        waiting at most 5 s.  Returns its bytes, or None (connection ends)."""
        data = b""
        limit = time.monotonic() + 5
        while len(data) < 5 or len(data) < 5 + int.from_bytes(data[3:5], "big"):
            if time.monotonic() > limit:
                self.srv.tr.note("client sent no complete TLS record within 5 s")
                self.closing = True
                return None
            more = self.srv.wait_recv(self.sock, limit)
            if more is None:
                continue
            if not more:
                self.srv.tr.note("client closed connection%s"
                                 % (" in the middle of a TLS record" if data else ""))
                self.closing = True
                return None
            data += more
        self.srv.tr.note("client sent a TLS %s"
                         % ("ClientHello" if data[0] == 0x16 and data[5:6] == b"\x01"
                            else "record of type %d" % data[0]))
        return data

    def new_tls(self):
        self.bio_in, self.bio_out = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.tls = self.srv.tls_context().wrap_bio(self.bio_in, self.bio_out,
                                                   server_side=True)

    def start_tls(self):
        """TLS handshake; returns True on success."""
        self.new_tls()
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
                    return False
                self.bio_in.write(data)
            except ssl.SSLError as e:
                self.tls_send()     # the alert
                self.srv.tr.note("TLS handshake failed: %s" % e.reason)
                self.linger()
                return False
        self.tls_send()
        srv = self.srv
        srv.tr.note("TLS handshake done: %s" % self.tls.version())
        # Application data that came in the same read as the client's
        # Finished is already inside the SSL object: select() would not
        # report it.
        try:
            while True:
                chunk = self.tls.read(65536)
                if not chunk:
                    break
                self.inbuf += chunk
        except ssl.SSLWantReadError:
            pass
        except ssl.SSLError:
            pass                    # reported by the next recv()
        self.tls_send()
        if srv.sc.get("tls_log_sni"):
            srv.tr.note("TLS SNI: %s" % (srv.sni if srv.sni is not None else "none"))
        if srv.sc.get("tls_client_ca"):
            cert = self.tls.getpeercert()
            cn = [v for rdn in (cert or {}).get("subject", ()) for k, v in rdn
                  if k == "commonName"]
            srv.tr.note("TLS client certificate: %s" % ("CN=" + cn[-1] if cn else "none"))
        return True

    def linger(self):
        """After a failure: stop sending, read until the client closes (at
        most 5 s) so that it gets our last bytes instead of a reset."""
        self.closing = True
        self.tls = None
        try:
            self.sock.shutdown(socket.SHUT_WR)
        except OSError:
            # Already reset: the client closed while our bytes were unread.
            self.srv.tr.note("client closed connection")
            return
        limit = time.monotonic() + 5
        while time.monotonic() < limit:
            data = self.srv.wait_recv(self.sock, limit)
            if data == b"":
                self.srv.tr.note("client closed connection")
                return
        self.srv.tr.note("client did not close the connection within 5 s")

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
                    chunk = self.tls.read(65536)
                    if not chunk:   # close_notify received: EOF from now on
                        return out
                    out += chunk
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
        rule = self.srv.match("BDAT", self.bdat_arg, self.number, self.tls is not None)
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
        try:
            if srv.sc.get("implicit_tls"):
                srv.tr.note("implicit TLS: handshake before the greeting")
                if not self.start_tls():
                    return
            self.respond(srv.match("GREETING", "", self.number, self.tls is not None),
                         "220 %s ESMTP smtpd.py ready" % srv.host)
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
            if self.tls is not None and not self.peer_gone:
                try:                # close_notify, like a real server
                    self.tls.unwrap()
                except (ssl.SSLError, ValueError):
                    pass
                self.tls_send()
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
        here = os.path.dirname(os.path.abspath(__file__))
        self.tls_cert, self.tls_key, self.tls_client_ca = (
            os.path.join(here, scenario[k]) if scenario.get(k) else None
            for k in ("tls_cert", "tls_key", "tls_client_ca"))
        self.sni = None
        self.deadline = time.monotonic() + args.deadline
        self.stopping = False       # set by SIGTERM: finish current conn, exit
        self.expired = False        # deadline hit (or runner gave up)

    def tls_context(self):
        # One context for the server's life, as a real server has: its
        # ticket keys and session cache let a client resume.
        if getattr(self, "_tls_ctx", None) is None:
            self._tls_ctx = self.make_tls_context()
        return self._tls_ctx

    def make_tls_context(self):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        if self.tls_cert is not None:
            ctx.load_cert_chain(self.tls_cert, self.tls_key)
        elif not self.sc.get("tls_ciphers"):
            raise ValueError("scenario has no tls_cert")
        if self.sc.get("tls_ciphers"):
            ctx.set_ciphers(self.sc["tls_ciphers"])
        # TLS 1.3 session tickets arrive after the client's handshake has
        # finished; the original libESMTP then sometimes waits for a reply
        # without having flushed its next command (see NOTES.md).  Scenario
        # key "tls_tickets" (default 0) sets how many are sent.
        ctx.num_tickets = int(self.sc.get("tls_tickets", 0))
        if self.sc.get("tls_max_version"):
            ctx.maximum_version = getattr(ssl.TLSVersion,
                                          self.sc["tls_max_version"].replace(".", "_"))
        if self.tls_client_ca:
            ctx.load_verify_locations(self.tls_client_ca)
            ctx.verify_mode = (ssl.CERT_OPTIONAL if self.sc.get("tls_client_cert") == "optional"
                               else ssl.CERT_REQUIRED)
        if self.sc.get("tls_log_sni"):
            def on_sni(sslobj, name, c):
                self.sni = name
            ctx.sni_callback = on_sni
        return ctx

    def code(self, code, enh, text):
        return "%s %s %s" % (code, enh, text) if self.enhanced else "%s %s" % (code, text)

    def match(self, cmd, arg, conn, on_tls=False):
        for r in self.rules:
            if r.get("cmd", "*").upper() not in (cmd, "*"):
                continue
            if "conn" in r and int(r["conn"]) != conn:
                continue
            if "on_tls" in r and bool(r["on_tls"]) != on_tls:
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

    def wait_recv(self, sock, until=None):
        """Next bytes from sock, b"" at EOF; with `until` (a monotonic
        time) None once it has passed without data."""
        # Once asked to stop, the client program has exited: its socket is
        # closed, so EOF is due at once; 3 s is only a safety margin.
        limit = time.monotonic() + 3 if self.stopping else None
        while True:
            r, _, _ = select.select([sock], [], [], min(self.remaining(), 0.2))
            if r:
                try:
                    return sock.recv(65536)
                except (ConnectionResetError, TimeoutError):
                    return b""
            if until is not None and time.monotonic() > until:
                return None
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
        listeners = [ls]
        if self.args.dual:
            # For "localhost:PORT": whichever address the resolver lists
            # first must answer, or a refused ::1 would leave an errno.
            try:
                l6 = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
                l6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                l6.bind(("::1", port))
                l6.listen(8)
                listeners.append(l6)
            except OSError:
                pass            # no IPv6 loopback: then localhost is 127.0.0.1
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
                r, _, _ = select.select(listeners, [], [], min(self.remaining(), 0.2))
                if self.stopping and not r:
                    return 0
                if not r:
                    continue
                sock, _ = r[0].accept()
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
    ap.add_argument("--dual", action="store_true",
                    help="listen on 127.0.0.1 and on the same port of ::1 (if possible)")
    args = ap.parse_args()
    srv = Server(args, load_scenario(args.scenario))

    def on_term(signo, frame):
        srv.stopping = True
    signal.signal(signal.SIGTERM, on_term)
    sys.exit(srv.serve())


if __name__ == "__main__":
    main()
