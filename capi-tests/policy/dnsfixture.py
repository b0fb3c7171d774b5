#!/usr/bin/python3
"""A private, DNSSEC-validating DNS setup on loopback for the DANE and
MTA-STS tests: nsd serves a signed zone `test.` and an unsigned zone
`plain.`; unbound validates them and is the resolver the library under test
is pointed at.  Both run in the foreground as children of the test, on free
high ports of 127.0.0.1, with every file in `workdir`.

    with DnsFixture(workdir,
                    secure_records=["mx.dane-ok.test. 300 IN A 127.0.0.1",
                                    "_25._tcp.mx.dane-ok.test. 300 IN TLSA 3 1 1 ab..."],
                    insecure_records=["mx.plain. 300 IN A 127.0.0.1"],
                    bogus_names=["mx.dane-bogus.test."]) as dns:
        ip, port = dns.resolver            # what start() returned
        ...
        dns.stop_authoritative()           # unbound now SERVFAILs what it has not cached

What unbound answers:
  * names in test.: data with AD (query with DO or AD set), NXDOMAIN/NODATA
    likewise validated;
  * names listed in bogus_names (the RRSIGs of all their RRsets are corrupted
    after signing; that of their NSEC is left intact so that the denial of
    other names stays valid): SERVFAIL (EDE 6 "DNSSEC Bogus") for every type
    they hold; a type they lack still gets a validated NODATA;
  * names in plain.: data, never AD (no trust anchor covers plain.);
  * anything else: REFUSED at once (local-zone "." refuse) -- nothing ever
    leaves loopback;
  * after stop_authoritative(): SERVFAIL, within about a second, for what is
    not cached (aggressive NSEC, serve-expired and prefetch are off).

The zone `test.` gets SOA, NS ns.test. and ns.test. A 127.0.0.1 from the
fixture (`plain.` likewise ns.plain.); records must not use those names.

query() is a tiny stdlib DNS client (used by start() to wait for the
servers; tests may use it too).  unreachable_resolver() gives a loopback
address where nothing listens.

Needs the Debian packages nsd, unbound and ldnsutils (see tools/deps).
"""

import atexit
import base64
import collections
import os
import random
import shutil
import signal
import socket
import struct
import subprocess
import time

LOOPBACK = "127.0.0.1"
SECURE_ZONE = "test."
INSECURE_ZONE = "plain."

START_TRIES = 50             # readiness polls per server...
START_POLL_INTERVAL = 0.1    # ...this far apart (each query itself waits <= 0.5 s)
STOP_TIMEOUT = 5.0           # per signal, before escalating to SIGKILL

TYPES = {"A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "MX": 15, "TXT": 16, "AAAA": 28,
         "DS": 43, "RRSIG": 46, "NSEC": 47, "DNSKEY": 48, "TLSA": 52}
RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP",
          5: "REFUSED"}

FLAG_QR, FLAG_AA, FLAG_TC, FLAG_RD = 0x8000, 0x0400, 0x0200, 0x0100
FLAG_RA, FLAG_AD, FLAG_CD = 0x0080, 0x0020, 0x0010


class DnsFixtureError(Exception):
    """The fixture could not be built or its servers did not come up."""


# --------------------------------------------------------------------------
# small DNS client

Reply = collections.namedtuple("Reply", "rcode rcode_name flags ad aa tc answers")
Reply.__doc__ = """rcode: int; flags: header flag bits; answers: list of
(owner, type number, ttl, rdata bytes) from the answer section."""


def _encode_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        if label:
            raw = label.encode("ascii")
            if len(raw) > 63:
                raise ValueError("DNS label too long in %r" % name)
            out += bytes([len(raw)]) + raw
    return out + b"\0"


def _decode_name(msg, off):
    """Returns (name, offset after the name in place), following compression
    pointers with a hop limit so a malformed reply cannot loop."""
    labels, end, hops = [], None, 0
    while True:
        if off >= len(msg):
            raise ValueError("truncated name")
        n = msg[off]
        if n & 0xC0 == 0xC0:
            if end is None:
                end = off + 2
            off = ((n & 0x3F) << 8) | msg[off + 1]
            hops += 1
            if hops > 64:
                raise ValueError("compression loop")
            continue
        if n == 0:
            return ".".join(labels) + ".", (end if end is not None else off + 1)
        labels.append(msg[off + 1:off + 1 + n].decode("ascii", "replace"))
        off += 1 + n


def build_query(name, rtype, dnssec_ok=True, ad=False, qid=None):
    """A recursive query; with dnssec_ok an OPT record with the DO bit (which
    is what makes unbound report AD), ad sets the AD bit in the header
    (RFC 6840 5.7: the other way to ask for AD)."""
    qid = random.randrange(65536) if qid is None else qid
    flags = FLAG_RD | (FLAG_AD if ad else 0)
    t = TYPES[rtype.upper()] if isinstance(rtype, str) else int(rtype)
    msg = struct.pack("!HHHHHH", qid, flags, 1, 0, 0, 1 if dnssec_ok else 0)
    msg += _encode_name(name) + struct.pack("!HH", t, 1)
    if dnssec_ok:
        msg += b"\0" + struct.pack("!HHIH", 41, 1232, 0x8000, 0)
    return msg


def parse_reply(msg, qid=None):
    if len(msg) < 12:
        raise ValueError("short DNS reply (%d bytes)" % len(msg))
    rid, flags, qd, an, _ns, _ar = struct.unpack("!HHHHHH", msg[:12])
    if qid is not None and rid != qid:
        raise ValueError("reply id %d does not match query id %d" % (rid, qid))
    off = 12
    for _ in range(qd):
        _, off = _decode_name(msg, off)
        off += 4
    answers = []
    for _ in range(an):
        owner, off = _decode_name(msg, off)
        t, _cls, ttl, rdlen = struct.unpack("!HHIH", msg[off:off + 10])
        off += 10
        answers.append((owner, t, ttl, msg[off:off + rdlen]))
        off += rdlen
    rcode = flags & 0xF
    return Reply(rcode, RCODES.get(rcode, str(rcode)), flags, bool(flags & FLAG_AD),
                 bool(flags & FLAG_AA), bool(flags & FLAG_TC), answers)


def query(server, name, rtype="A", dnssec_ok=True, ad=False, timeout=2.0, tcp=False):
    """Send one query to server=(ip, port) and return a Reply.  A truncated
    UDP reply is retried over TCP.  Raises OSError/socket.timeout when no
    answer arrives within timeout (per transport attempt)."""
    qid = random.randrange(65536)
    msg = build_query(name, rtype, dnssec_ok, ad, qid)
    if not tcp:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(timeout)
            s.connect(server)
            s.send(msg)
            deadline = time.monotonic() + timeout
            while True:
                s.settimeout(max(0.01, deadline - time.monotonic()))
                data = s.recv(65535)
                if len(data) >= 2 and struct.unpack("!H", data[:2])[0] == qid:
                    break
        reply = parse_reply(data, qid)
        if not reply.tc:
            return reply
    with socket.create_connection(server, timeout=timeout) as s:
        s.sendall(struct.pack("!H", len(msg)) + msg)
        n = struct.unpack("!H", _recv_exact(s, 2))[0]
        return parse_reply(_recv_exact(s, n), qid)


def _recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("DNS server closed the TCP connection early")
        buf += chunk
    return buf


# --------------------------------------------------------------------------
# ports and processes

def _bindable(ip, port, kind):
    with socket.socket(socket.AF_INET, kind) as s:
        try:
            s.bind((ip, port))
        except OSError:
            return False
    return True


def free_port(ip=LOOPBACK):
    """A port free for both UDP and TCP on ip (DNS needs both).  The kernel
    picks it (bind to 0), so it will not be handed out again soon; there is
    still a small window before our server binds it, which a retry covers."""
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind((ip, 0))
            port = s.getsockname()[1]
        if _bindable(ip, port, socket.SOCK_DGRAM) and _bindable(ip, port, socket.SOCK_STREAM):
            return port
    raise DnsFixtureError("no port free for both UDP and TCP on %s" % ip)


def unreachable_resolver(ip=LOOPBACK):
    """(ip, port) on loopback where nothing listens, neither UDP nor TCP:
    queries get ICMP port-unreachable / connection refused at once.  Only
    true when called; do not start servers between this and its use."""
    return ip, free_port(ip)


def _tail(path, lines=40):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError as e:
        return "(cannot read %s: %s)\n" % (path, e)


def _run(args, cwd, what):
    """Run a helper command (keygen, signer, checkers) and raise with its
    output on failure: a fixture problem must never look like a test result."""
    try:
        p = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=60,
                           stdin=subprocess.DEVNULL)
    except FileNotFoundError:
        raise DnsFixtureError("%s: %s is not installed (see tools/deps)" % (what, args[0]))
    if p.returncode != 0:
        raise DnsFixtureError("%s failed: %s (exit %d)\n%s%s" % (
            what, " ".join(args), p.returncode, p.stdout, p.stderr))
    return p.stdout


def _stop_process(proc):
    """SIGTERM the process, then SIGKILL after STOP_TIMEOUT; then the same
    for anything left in its process group (nsd forks workers; the group is
    the one start_new_session gave our own child, so it holds only what we
    started).  Returns a message for anything that needed force."""
    notes = []
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            notes.append("pid %d ignored SIGTERM; killed" % proc.pid)
            proc.kill()
            proc.wait(STOP_TIMEOUT)
    for sig in (signal.SIGTERM, signal.SIGKILL, None):
        deadline = time.monotonic() + STOP_TIMEOUT
        while time.monotonic() < deadline:
            try:
                os.killpg(proc.pid, 0)
            except ProcessLookupError:
                return notes
            time.sleep(0.05)
        if sig is None:
            break
        notes.append("process group %d still alive; sending %s" % (proc.pid, sig.name))
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return notes
    raise DnsFixtureError("process group %d survived SIGKILL" % proc.pid)


# --------------------------------------------------------------------------
# zones

def _absolute(name):
    return name if name.endswith(".") else name + "."


def _check_owners(records, zone):
    """Refuse records outside their zone or on what the fixture adds itself
    (SOA/NS at the apex, ns.<zone>), so a typo gives a clear error instead
    of a zone nsd rejects or silently shadows."""
    for rec in records:
        if not rec.strip() or rec[0] in " \t;$":
            continue
        f = rec.split()
        owner = f[0].lower()
        if not owner.endswith("."):
            raise DnsFixtureError("record %r: owner must be absolute (end with '.')" % rec)
        if owner != zone and not owner.endswith("." + zone):
            raise DnsFixtureError("record %r is not in zone %s" % (rec, zone))
        rrtype = next((t.upper() for t in f[1:4] if not t.isdigit()
                       and t.upper() not in ("IN", "CH", "HS")), "")
        if owner == "ns." + zone or (owner == zone and rrtype in ("SOA", "NS")):
            raise DnsFixtureError("record %r: the fixture adds %s SOA/NS and ns.%s itself"
                                  % (rec, zone, zone))


def _zone_text(zone, records, serial):
    ns = "ns." + zone
    head = ["$ORIGIN %s" % zone, "$TTL 300",
            "%s 300 IN SOA %s hostmaster.%s %d 3600 600 86400 60" % (zone, ns, zone, serial),
            "%s 300 IN NS %s" % (zone, ns),
            "%s 300 IN A %s" % (ns, LOOPBACK)]
    return "\n".join(head + list(records)) + "\n"


def _corrupt_rrsigs(signed_text, bogus_names):
    """Flip every byte of the signature of each RRSIG owned by a bogus name,
    except the one over its NSEC.  The RRsets stay, so nsd serves them as
    usual; only their validation fails.  The NSEC keeps a good signature
    because it also proves the non-existence of *other* names (the names
    sorting after it, and wildcards such as *.dane-ok.test.): breaking it
    would make unrelated NXDOMAIN answers bogus too."""
    wanted = {_absolute(n).lower() for n in bogus_names}
    hit, out = set(), []
    for line in signed_text.splitlines():
        f = line.split()
        if (len(f) > 5 and f[0].lower() in wanted and f[2] == "IN" and f[3] == "RRSIG"
                and f[4] != "NSEC"):
            sig = base64.b64decode(f[-1], validate=True)
            if len(sig) != 64:     # ECDSA P-256: r || s
                raise DnsFixtureError("unexpected RRSIG layout from ldns-signzone: %r" % line)
            f[-1] = base64.b64encode(bytes(b ^ 0xFF for b in sig)).decode()
            line = "\t".join(f)
            hit.add(f[0].lower())
        out.append(line)
    missing = wanted - hit
    if missing:
        raise DnsFixtureError("bogus_names not in the signed zone: %s" % ", ".join(sorted(missing)))
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------
# the fixture

class DnsFixture:
    """nsd (authoritative) + unbound (validating resolver) on loopback.

    workdir: directory for keys, zones, configs, logs and pid files (created
    0700 if missing).  secure_records / insecure_records: zone-file lines for
    test. / plain.  bogus_names: owners in test. whose RRSIGs get broken.
    unbound_verbosity: unbound's log level (logs in workdir/unbound.log).

    Attributes after start(): resolver = authoritative = (ip, port),
    trust_anchor (the DS line unbound trusts), logs (name -> path).
    """

    def __init__(self, workdir, secure_records, insecure_records=(), bogus_names=(),
                 unbound_verbosity=1):
        self.workdir = os.path.abspath(workdir)
        self.secure_records = list(secure_records)
        self.insecure_records = list(insecure_records)
        self.bogus_names = list(bogus_names)
        self.unbound_verbosity = unbound_verbosity
        self.resolver = None
        self.authoritative = None
        self.trust_anchor = None
        self._nsd = None
        self._unbound = None
        self.logs = {n: os.path.join(self.workdir, n) for n in
                     ("nsd.log", "nsd.out", "unbound.log", "unbound.out")}
        _check_owners(self.secure_records, SECURE_ZONE)
        _check_owners(self.insecure_records, INSECURE_ZONE)
        for n in self.bogus_names:
            a = _absolute(n).lower()
            if not a.endswith("." + SECURE_ZONE):
                raise DnsFixtureError("bogus name %r is not inside %s" % (n, SECURE_ZONE))

    # -- public API ---------------------------------------------------------

    def start(self):
        """Build and sign the zones, start nsd then unbound, wait until
        unbound gives a validated answer; returns unbound's (ip, port)."""
        if self._nsd or self._unbound:
            raise DnsFixtureError("DnsFixture already started")
        for tool in ("nsd", "nsd-checkzone", "nsd-checkconf", "unbound",
                     "unbound-checkconf", "ldns-keygen", "ldns-signzone"):
            if shutil.which(tool) is None and not os.path.exists("/usr/sbin/" + tool):
                raise DnsFixtureError("%s is not installed (packages nsd, unbound, "
                                      "ldnsutils; see tools/deps)" % tool)
        os.makedirs(self.workdir, mode=0o700, exist_ok=True)
        atexit.register(self.stop)
        try:
            self._make_zones()
            self._start_nsd()
            self._start_unbound()
        except BaseException as e:
            try:
                self.stop()
            except DnsFixtureError as cleanup:
                e.add_note("while cleaning up: %s" % cleanup)
            raise
        return self.resolver

    def stop(self):
        """Stop unbound and nsd (whichever run); safe to call twice."""
        atexit.unregister(self.stop)
        notes = []
        for attr in ("_unbound", "_nsd"):
            proc = getattr(self, attr)
            if proc is not None:
                notes += _stop_process(proc)
                setattr(self, attr, None)
        if notes:
            raise DnsFixtureError("; ".join(notes))

    def stop_authoritative(self):
        """Stop nsd only: unbound stays up and answers SERVFAIL for what it
        has not cached (the "resolver cannot reach the zone" case)."""
        if self._nsd is None:
            raise DnsFixtureError("authoritative server is not running")
        proc, self._nsd = self._nsd, None
        notes = _stop_process(proc)
        if notes:
            raise DnsFixtureError("; ".join(notes))

    unreachable_resolver = staticmethod(unreachable_resolver)

    def query(self, name, rtype="A", **kw):
        """query() against this fixture's resolver."""
        return query(self.resolver, name, rtype, **kw)

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    # -- zones --------------------------------------------------------------

    def _path(self, name):
        return os.path.join(self.workdir, name)

    def _make_zones(self):
        """Fresh keys (KSK + ZSK, ECDSAP256SHA256), the zone files, test.
        signed with NSEC, bogus RRSIGs broken, both zones checked by nsd."""
        ksk = _run(["ldns-keygen", "-a", "ECDSAP256SHA256", "-k", SECURE_ZONE],
                   self.workdir, "ldns-keygen (KSK)").strip()
        zsk = _run(["ldns-keygen", "-a", "ECDSAP256SHA256", SECURE_ZONE],
                   self.workdir, "ldns-keygen (ZSK)").strip()
        with open(self._path(ksk + ".ds")) as f:
            self.trust_anchor = f.read().strip()
        serial = int(time.time())
        _write(self._path("test.zone"), _zone_text(SECURE_ZONE, self.secure_records, serial))
        _write(self._path("plain.zone"), _zone_text(INSECURE_ZONE, self.insecure_records, serial))
        # Inception a day back: unbound rejects signatures "from the future",
        # and clocks of test machines drift.
        inception = time.strftime("%Y%m%d%H%M%S", time.gmtime(time.time() - 86400))
        _run(["ldns-signzone", "-i", inception, "-f", "test.zone.signed", "-o", SECURE_ZONE,
              "test.zone", zsk, ksk], self.workdir, "ldns-signzone")
        if self.bogus_names:
            with open(self._path("test.zone.signed")) as f:
                text = _corrupt_rrsigs(f.read(), self.bogus_names)
            _write(self._path("test.zone.signed"), text)
        _run(["nsd-checkzone", SECURE_ZONE, "test.zone.signed"], self.workdir,
             "nsd-checkzone test.")
        _run(["nsd-checkzone", INSECURE_ZONE, "plain.zone"], self.workdir,
             "nsd-checkzone plain.")
        _write(self._path("trust-anchor.ds"), self.trust_anchor + "\n")

    # -- nsd ----------------------------------------------------------------

    def _nsd_conf(self, port):
        w = self.workdir
        return f"""# generated by dnsfixture.py
server:
    ip-address: {LOOPBACK}
    port: {port}
    do-ip4: yes
    do-ip6: no
    server-count: 1
    username: ""
    chroot: ""
    zonesdir: "{w}"
    database: ""
    zonelistfile: "{w}/nsd.zonelist"
    xfrdfile: "{w}/nsd.xfrd.state"
    xfrdir: "{w}"
    pidfile: "{w}/nsd.pid"
    logfile: "{w}/nsd.log"
    verbosity: 1
    hide-version: yes
    reuseport: no
remote-control:
    control-enable: no
zone:
    name: "{SECURE_ZONE}"
    zonefile: "{w}/test.zone.signed"
zone:
    name: "{INSECURE_ZONE}"
    zonefile: "{w}/plain.zone"
"""

    def _start_nsd(self):
        port = free_port()
        conf = self._path("nsd.conf")
        _write(conf, self._nsd_conf(port))
        _run(["nsd-checkconf", conf], self.workdir, "nsd-checkconf")
        self._nsd = _spawn(["nsd", "-d", "-c", conf], self.logs["nsd.out"], self.workdir)
        self.authoritative = (LOOPBACK, port)

        def ready(r):
            return r.rcode == 0 and r.aa and r.answers
        self._wait(self._nsd, "nsd", self.authoritative, SECURE_ZONE, ready,
                   ("nsd.out", "nsd.log"), dnssec_ok=False)
        self._wait(self._nsd, "nsd", self.authoritative, INSECURE_ZONE, ready,
                   ("nsd.out", "nsd.log"), dnssec_ok=False)

    # -- unbound ------------------------------------------------------------

    def _unbound_conf(self, port):
        w = self.workdir
        ns = "%s@%d" % self.authoritative
        return f"""# generated by dnsfixture.py
server:
    interface: {LOOPBACK}
    port: {port}
    do-ip4: yes
    do-ip6: no
    do-udp: yes
    do-tcp: yes
    num-threads: 1
    so-reuseport: no
    access-control: 127.0.0.0/8 allow
    # our nsd lives on loopback
    do-not-query-localhost: no
    outgoing-interface: {LOOPBACK}
    chroot: ""
    username: ""
    directory: "{w}"
    pidfile: "{w}/unbound.pid"
    logfile: "{w}/unbound.log"
    use-syslog: no
    log-time-ascii: yes
    verbosity: {int(self.unbound_verbosity)}
    val-log-level: 2
    ede: yes
    trust-anchor-signaling: no
    module-config: "validator iterator"
    trust-anchor-file: "{w}/trust-anchor.ds"
    domain-insecure: "{INSECURE_ZONE}"
    # nothing may leave loopback: refuse every name but our two zones
    # ("test." is also one of unbound's default blocked zones, RFC 6761;
    # a local-zone of our own for it lifts that)
    local-zone: "." refuse
    local-zone: "{SECURE_ZONE}" transparent
    local-zone: "{INSECURE_ZONE}" transparent
    qname-minimisation: no
    # fail fast and never answer from stale or synthesised data, so that
    # stop_authoritative() gives SERVFAIL for whatever was not asked before
    aggressive-nsec: no
    harden-below-nxdomain: no
    serve-expired: no
    prefetch: no
    prefetch-key: no
    infra-host-ttl: 5
    infra-cache-max-rtt: 1000
    infra-keep-probing: yes
    outbound-msg-retry: 1
    discard-timeout: 0
    wait-limit: 0
remote-control:
    control-enable: no
stub-zone:
    name: "{SECURE_ZONE}"
    stub-addr: {ns}
stub-zone:
    name: "{INSECURE_ZONE}"
    stub-addr: {ns}
# internal lookups above our zones (e.g. DS test.) go to nsd, which refuses
# them, instead of to the real root servers
stub-zone:
    name: "."
    stub-addr: {ns}
"""

    def _start_unbound(self):
        port = free_port()
        conf = self._path("unbound.conf")
        _write(conf, self._unbound_conf(port))
        _run(["unbound-checkconf", conf], self.workdir, "unbound-checkconf")
        self._unbound = _spawn(["unbound", "-d", "-c", conf], self.logs["unbound.out"],
                               self.workdir)
        self.resolver = (LOOPBACK, port)
        logs = ("unbound.out", "unbound.log", "nsd.log")
        self._wait(self._unbound, "unbound", self.resolver, SECURE_ZONE,
                   lambda r: r.rcode == 0 and r.answers, logs)
        r = query(self.resolver, SECURE_ZONE, "SOA")
        if not r.ad:
            self._fail("unbound answers %s but does not validate it (no AD bit); "
                       "trust anchor: %s" % (SECURE_ZONE, self.trust_anchor), logs)
        r = query(self.resolver, INSECURE_ZONE, "SOA")
        if r.rcode != 0 or r.ad or not r.answers:
            self._fail("unbound: %s SOA gave %s ad=%s answers=%d (want data without AD)"
                       % (INSECURE_ZONE, r.rcode_name, r.ad, len(r.answers)), logs)

    # -- helpers ------------------------------------------------------------

    def _wait(self, proc, what, server, name, ok, logs, dnssec_ok=True):
        """Poll server with `SOA name` until ok(reply), at most START_TRIES
        times; fail with the logs if the process dies or never gets there."""
        last = "no reply"
        for _ in range(START_TRIES):
            if proc.poll() is not None:
                self._fail("%s exited with status %d during start-up" % (what, proc.returncode),
                           logs)
            try:
                r = query(server, name, "SOA", dnssec_ok=dnssec_ok, timeout=0.5)
                if ok(r):
                    return r
                last = "%s (aa=%s ad=%s answers=%d)" % (r.rcode_name, r.aa, r.ad, len(r.answers))
            except (OSError, ValueError) as e:
                last = "%s: %s" % (type(e).__name__, e)
            time.sleep(START_POLL_INTERVAL)
        self._fail("%s on %s:%d did not answer %s SOA after %d tries; last: %s"
                   % (what, server[0], server[1], name, START_TRIES, last), logs)

    def _fail(self, message, logs):
        parts = [message]
        for n in logs:
            parts.append("--- tail of %s ---\n%s" % (self.logs[n], _tail(self.logs[n])))
        raise DnsFixtureError("\n".join(parts))


def _spawn(args, outfile, cwd):
    """Start a server in its own session (so its worker processes form a
    group we can clean up, and a terminal's ^C goes to the test only),
    stdout/stderr to outfile."""
    fd = os.open(outfile, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        return subprocess.Popen(args, cwd=cwd, stdin=subprocess.DEVNULL, stdout=fd,
                                stderr=subprocess.STDOUT, start_new_session=True)
    finally:
        os.close(fd)


def _write(path, text):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
