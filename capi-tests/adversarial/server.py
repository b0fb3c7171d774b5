"""A broken SMTP server for one connection, and the truth about it.

Each command the server reads gets a behaviour: the correct reply, another
code, a malformed reply, a surplus reply before or after the intended one,
a 354 sent early, a reply in small pieces, a close, a stall. What the server
*intended* as the answer to each command is recorded: the oracle in
run_adversarial.py holds the client's statuses against it. A message counts
as accepted only when the server's intended reply to its final dot (or to
every BDAT chunk) was a well-formed 2xx, and a recipient only when the
intended reply to its RCPT was.

Behaviours are named (see BEHAVIOURS); a plan maps "STAGE" or "STAGE#N"
(the Nth time, from 1) to a behaviour, and a random plan draws one for
every command from a seeded generator. Stages: GREETING EHLO STARTTLS AUTH
MAIL RCPT DATA BODY (once, at the first body line) EOD BDAT QUIT.

Stdlib only; one thread; every wait is bounded by the deadline.
"""
import random
import re
import socket
import ssl
import time

OK_REPLY = {
    "GREETING": "220 adv.test ESMTP adversary",
    "EHLO": None,  # built from the extensions
    "STARTTLS": "220 go ahead",
    "AUTH": "235 2.7.0 authenticated",
    "MAIL": "250 2.1.0 sender ok",
    "RCPT": "250 2.1.5 recipient ok",
    "DATA": "354 end with <CRLF>.<CRLF>",
    "EOD": "250 2.0.0 queued",
    "BDAT": "250 2.0.0 chunk ok",
    "RSET": "250 2.0.0 reset",
    "QUIT": "221 2.0.0 bye",
    "OTHER": "500 5.5.1 unknown command",
}

# Malformed stand-ins for a reply: none is a well-formed reply, so none
# may ever count as an acceptance.
MALFORMED = {
    "250x": "250x ok\r\n",
    "2x0": "2x0 ok\r\n",
    "600": "600 what\r\n",
    "short": "25 ok\r\n",
    "nul": "250 o\x00k\r\n",
    "ctrl": "250 ok\x1b[2J\r\n",
    "lf": "250 ok\n",
    "mismatch": "250-ok\r\n554 no\r\n",
    "overlong": "250 " + "x" * 20000 + "\r\n",
    "bare_cr": "250 o\rk\r\n",
}

BEHAVIOURS = (
    ["ok", "dup", "pre", "early354", "split", "close", "stall", "code:250", "code:354",
     "code:451", "code:554", "code:221", "code:334", "code:235"]
    + ["mal:" + k for k in MALFORMED]
    + ["cut"]
)


def well_formed_2xx(text):
    """Whether `text` is exactly one RFC 5321 reply of class 2."""
    lines = text.split("\r\n")
    if lines[-1] != "" or len(lines) < 2:
        return False
    code = None
    for i, line in enumerate(lines[:-1]):
        m = re.fullmatch(r"([2-5][0-5][0-9])([ -]?)([\t\x20-\x7e\x80-\U0010ffff]*)", line)
        if not m or (m.group(2) == "" and m.group(3) != ""):
            return False
        if code is not None and m.group(1) != code:
            return False
        code = m.group(1)
        last = i == len(lines) - 2
        if (m.group(2) == "-") == last:
            return False
    return code.startswith("2")


class Conn:
    def __init__(self, sock, deadline):
        self.sock = sock
        self.buf = b""
        self.deadline = deadline
        self.closed = False

    def settimeout(self):
        self.sock.settimeout(max(0.05, self.deadline - time.monotonic()))

    def fill(self, enough):
        """Reads until enough(buffer); False on close, error or deadline."""
        while not enough(self.buf):
            self.settimeout()
            try:
                data = self.sock.recv(65536)
            except (socket.timeout, OSError, ssl.SSLError):
                return False
            if not data:
                return False
            self.buf += data
        return True

    def readline(self):
        if not self.fill(lambda b: b"\n" in b):
            return None
        line, self.buf = self.buf.split(b"\n", 1)
        return line + b"\n"

    def read_exact(self, n):
        if not self.fill(lambda b: len(b) >= n):
            return None
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def send(self, text, pieces=False):
        data = text.encode("latin-1", "replace") if isinstance(text, str) else text
        try:
            if pieces:
                for i in range(0, len(data), 3):
                    self.sock.sendall(data[i:i + 3])
                    time.sleep(0.002)
            else:
                self.sock.sendall(data)
        except OSError:
            self.closed = True

    def stall(self):
        # Read and drop until the client hangs up or the deadline passes.
        while time.monotonic() < self.deadline:
            self.settimeout()
            try:
                if not self.sock.recv(65536):
                    return
            except (socket.timeout, OSError, ssl.SSLError):
                return


class Adversary:
    """Serves one connection. `plan(stage, n)` names the behaviour."""

    def __init__(self, sock, plan, ehlo, tls_ctx=None, deadline=10.0):
        self.conn = Conn(sock, time.monotonic() + deadline)
        self.plan = plan
        self.ehlo = ehlo
        self.tls_ctx = tls_ctx
        self.counts = {}
        self.log = []  # (stage, argument, behaviour, intended reply)
        self.accepted_msgs = set()
        self.accepted_rcpts = set()
        self.in_data = False
        self.txn_msg = None
        self.chunks_ok = True
        self.ended = False

    def behaviour(self, stage):
        n = self.counts.get(stage, 0) + 1
        self.counts[stage] = n
        return self.plan(stage, n)

    def respond(self, stage, arg="", ok=None):
        """Answers one command; returns the intended reply (or None)."""
        b = self.behaviour(stage)
        ok = ok or OK_REPLY[stage]
        intended = ok + "\r\n"
        out = intended
        if b == "ok":
            pass
        elif b == "dup":
            out = intended + intended
        elif b == "pre":
            out = "250 2.0.0 surplus\r\n" + intended
        elif b == "early354":
            out = intended + "354 early\r\n"
        elif b == "split":
            self.log.append((stage, arg, b, intended))
            self.conn.send(intended, pieces=True)
            return intended
        elif b == "close":
            self.log.append((stage, arg, b, None))
            self.ended = True
            return None
        elif b == "stall":
            self.log.append((stage, arg, b, None))
            self.conn.stall()
            self.ended = True
            return None
        elif b == "cut":
            self.log.append((stage, arg, b, None))
            self.conn.send(intended[:len(intended) // 2])
            self.ended = True
            return None
        elif b.startswith("code:"):
            intended = b[5:] + " adversary says " + b[5:] + "\r\n"
            out = intended
        elif b.startswith("mal:"):
            intended = None
            out = MALFORMED[b[4:]]
        self.log.append((stage, arg, b, intended))
        self.conn.send(out)
        return intended

    def ehlo_reply(self):
        lines = ["adv.test"] + list(self.ehlo)
        return "\r\n".join(("250-" if i < len(lines) - 1 else "250 ") + l for i, l in enumerate(lines))

    def serve(self):
        self.respond("GREETING")
        while not self.ended and not self.conn.closed:
            if self.in_data:
                self.read_body()
                continue
            line = self.conn.readline()
            if line is None:
                return
            cmd = line.decode("latin-1").rstrip("\r\n")
            verb = cmd.split(" ", 1)[0].upper()
            arg = cmd[len(verb):].strip()
            if verb in ("EHLO", "HELO"):
                self.respond("EHLO", ok=self.ehlo_reply() if verb == "EHLO" else "250 adv.test")
            elif verb == "STARTTLS":
                if self.respond("STARTTLS") == OK_REPLY["STARTTLS"] + "\r\n" and self.tls_ctx:
                    self.conn.buf = b""
                    try:
                        self.conn.settimeout()
                        self.conn.sock = self.tls_ctx.wrap_socket(self.conn.sock, server_side=True)
                    except (OSError, ssl.SSLError):
                        return
            elif verb == "AUTH":
                self.respond("AUTH")
            elif verb == "MAIL":
                self.txn_msg = None
                self.chunks_ok = True
                self.respond("MAIL", arg)
            elif verb == "RCPT":
                m = re.search(r"<([^>]*)>", arg)
                addr = m.group(1) if m else arg
                # The client's message I has recipients rI-J: the
                # transaction's message, even when no body follows.
                n = re.match(r"r(\d+)-", addr)
                if n and self.txn_msg is None:
                    self.txn_msg = "adv-" + n.group(1)
                intended = self.respond("RCPT", addr)
                if intended is not None and well_formed_2xx(intended):
                    self.accepted_rcpts.add(addr)
            elif verb == "DATA":
                intended = self.respond("DATA")
                self.in_data = intended is not None and intended.startswith("354")
            elif verb == "BDAT":
                self.read_bdat(arg)
            elif verb == "RSET":
                self.respond("RSET")
            elif verb == "QUIT":
                self.respond("QUIT")
                return
            else:
                self.respond("OTHER")

    def read_body(self):
        first = True
        while True:
            line = self.conn.readline()
            if line is None:
                self.ended = True
                return
            if first:
                first = False
                b = self.behaviour("BODY")
                self.log.append(("BODY", "", b, None))
                if b in ("close", "cut"):
                    self.ended = True
                    return
                if b == "stall":
                    self.conn.stall()
                    self.ended = True
                    return
                if b.startswith("mal:"):
                    # Garbage in the middle of the body; the dot's reply
                    # comes later as planned.
                    self.conn.send(MALFORMED[b[4:]])
            if line in (b".\r\n", b".\n"):
                self.in_data = False
                intended = self.respond("EOD", self.txn_msg or "")
                if intended is not None and well_formed_2xx(intended) and self.txn_msg:
                    self.accepted_msgs.add(self.txn_msg)
                return

    def read_bdat(self, arg):
        m = re.fullmatch(r"(\d+)( +LAST)?", arg, re.I)
        if not m:
            self.respond("OTHER", ok="501 5.5.4 bad BDAT")
            return
        data = self.conn.read_exact(int(m.group(1)))
        if data is None:
            self.ended = True
            return
        intended = self.respond("BDAT", arg)
        if intended is None or not well_formed_2xx(intended):
            self.chunks_ok = False
        if m.group(2):
            if self.chunks_ok and self.txn_msg:
                self.accepted_msgs.add(self.txn_msg)
            self.chunks_ok = True


def fixed_plan(table):
    """A plan from {"STAGE" or "STAGE#N": behaviour}; "ok" elsewhere."""
    def plan(stage, n):
        return table.get("%s#%d" % (stage, n), table.get(stage, "ok"))
    return plan


def random_plan(seed, rate=0.12, stall_rate=0.01):
    """Every command draws its behaviour: mostly correct, sometimes broken."""
    rng = random.Random(seed)
    broken = [b for b in BEHAVIOURS if b not in ("ok", "stall")]

    def plan(stage, n):
        x = rng.random()
        if x < stall_rate:
            return "stall"
        if x < stall_rate + rate:
            return rng.choice(broken)
        return "ok"
    return plan


def serve_once(listener, plan, ehlo, tls_ctx=None, deadline=10.0):
    """Accepts one connection on `listener` and serves it; returns the
    Adversary with its log and truth."""
    listener.settimeout(deadline)
    sock, _ = listener.accept()
    adv = Adversary(sock, plan, ehlo, tls_ctx, deadline)
    try:
        adv.serve()
    finally:
        try:
            adv.conn.sock.close()
        except OSError:
            pass
    return adv

