#!/usr/bin/python3
"""Self-test of the DANE / MTA-STS fixtures: proves, with independent
clients (dig for DNS, Python's ssl + http.client for HTTPS), that
dnsfixture.DnsFixture and stsserver.StsServer behave as the library tests
will assume.  Run it after touching the fixtures:

    capi-tests/policy/selftest.py [--keep]

Exit status 0 when every check passes; otherwise 1 and a FAIL line.  All
files live in a fresh temporary directory, removed at the end unless
--keep (or a failure: then its path is printed, with the logs in it).
"""

import http.client
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dnsfixture   # noqa: E402
import pki          # noqa: E402
import stsserver    # noqa: E402

STS_TXT = "v=STSv1; id=20260101;"
POLICY = "version: STSv1\r\nmode: enforce\r\nmx: mx.dane-ok.test\r\nmax_age: 86400\r\n"
STS_HOSTS = ["mta-sts.sts.test", "mta-sts.status.test", "mta-sts.ctype.test",
             "mta-sts.redirect.test", "mta-sts.stall.test", "mta-sts.huge.test",
             "mta-sts.slow.test", "mta-sts.expired.test", "mta-sts.untrusted.test"]
FAST = 3.0          # what "fails fast" means here, in seconds


class Failure(Exception):
    pass


def check(cond, what, detail=None):
    """Print an ok line, or stop the self-test with what failed and why."""
    if not cond:
        raise Failure(what + ("\n" + str(detail) if detail is not None else ""))
    print("  ok  " + what)


# --------------------------------------------------------------------------
# DNS, seen through dig

class Dig:
    """dig's view of one reply: status, header flags, answer RRs (text)."""

    def __init__(self, server, name, rtype, opts=()):
        args = ["dig", "@" + server[0], "-p", str(server[1]), "+tries=1", "+time=2",
                "+dnssec"] + list(opts) + [name, rtype]
        t = time.monotonic()
        p = subprocess.run(args, capture_output=True, text=True, timeout=20,
                           stdin=subprocess.DEVNULL)
        self.elapsed = time.monotonic() - t
        self.exit = p.returncode
        self.text = p.stdout + p.stderr
        m = re.search(r"status: (\w+)", self.text)
        self.status = m.group(1) if m else None
        m = re.search(r";; flags: ([a-z ]*);", self.text)
        self.flags = set(m.group(1).split()) if m else set()
        sec = re.search(r";; ANSWER SECTION:\n(.*?)(?:\n\n|\Z)", self.text, re.S)
        self.answers = [ln.split(None, 4) for ln in sec.group(1).splitlines()] if sec else []

    def rdata(self, rtype):
        return [a[4] for a in self.answers if len(a) == 5 and a[3] == rtype]

    def __str__(self):
        return "status=%s flags=%s answers=%d (%.2fs)" % (
            self.status, " ".join(sorted(self.flags)), len(self.answers), self.elapsed)


def check_dns(workdir, certs):
    print("DnsFixture:")
    mx_cert = certs.certs["mx"][0]
    tlsa_hex = pki.tlsa_data(mx_cert, 1, 1)
    secure = ["mx.dane-ok.test. 300 IN A 127.0.0.1",
              pki.tlsa_record("_25._tcp.mx.dane-ok.test.", mx_cert),
              '_mta-sts.sts.test. 300 IN TXT "%s"' % STS_TXT,
              "mx.dane-bogus.test. 300 IN A 127.0.0.1",
              pki.tlsa_record("_25._tcp.mx.dane-bogus.test.", mx_cert),
              "late.dane-ok.test. 300 IN A 127.0.0.2"]
    insecure = ["mx.plain. 300 IN A 127.0.0.1"]
    bogus = ["mx.dane-bogus.test.", "_25._tcp.mx.dane-bogus.test."]
    t = time.monotonic()
    with dnsfixture.DnsFixture(workdir, secure, insecure, bogus) as dns:
        res = dns.resolver
        print("  resolver %s:%d, authoritative %s:%d, started in %.2fs"
              % (res + dns.authoritative + (time.monotonic() - t,)))

        d = Dig(res, "mx.dane-ok.test", "A")
        print("  mx.dane-ok.test A: %s" % d)
        check(d.status == "NOERROR" and "ad" in d.flags and d.rdata("A") == ["127.0.0.1"],
              "secure A: data with AD", d.text)
        d = Dig(res, "_25._tcp.mx.dane-ok.test", "TLSA")
        got = [re.sub(r"\s+", "", r).lower() for r in d.rdata("TLSA")]
        check(d.status == "NOERROR" and "ad" in d.flags and got == ["311" + tlsa_hex],
              "secure TLSA 3 1 1 <SPKI sha256 of the mx cert> with AD", d.text)
        d = Dig(res, "_mta-sts.sts.test", "TXT")
        check("ad" in d.flags and d.rdata("TXT") == ['"%s"' % STS_TXT],
              "secure TXT with AD", d.text)
        d = Dig(res, "mx.dane-ok.test", "A", ["+nodnssec", "+adflag"])
        check("ad" in d.flags, "AD also reported for a query with AD but no DO", d.text)
        d = Dig(res, "nothing.dane-ok.test", "A")
        check(d.status == "NXDOMAIN" and "ad" in d.flags, "secure NXDOMAIN with AD", d.text)

        for name, rtype in (("mx.dane-bogus.test", "A"), ("_25._tcp.mx.dane-bogus.test", "TLSA")):
            d = Dig(res, name, rtype)
            print("  %s %s: %s" % (name, rtype, d))
            check(d.status == "SERVFAIL" and not d.answers,
                  "bogus %s %s: SERVFAIL" % (name, rtype), d.text)
        check("EDE: 6" in d.text, "bogus answer carries EDE 6 (DNSSEC Bogus)", d.text)
        d = Dig(res, "mx.dane-bogus.test", "AAAA")
        check(d.status == "NOERROR" and "ad" in d.flags and not d.answers,
              "type missing at a bogus name: validated NODATA", d.text)

        d = Dig(res, "mx.plain", "A")
        print("  mx.plain A: %s" % d)
        check(d.status == "NOERROR" and "ad" not in d.flags and d.rdata("A") == ["127.0.0.1"],
              "insecure A: data without AD", d.text)

        d = Dig(res, "example.com", "A")
        check(d.status in ("REFUSED", "SERVFAIL") and d.elapsed < FAST,
              "name outside the fixture: %s in %.2fs" % (d.status, d.elapsed), d.text)

        bad = dns.unreachable_resolver()
        for opts in ([], ["+tcp"]):
            d = Dig(bad, "mx.dane-ok.test", "A", opts)
            check(d.exit != 0 and d.status is None and d.elapsed < FAST,
                  "unreachable resolver %s:%d (%s): no answer, dig exit %d in %.2fs"
                  % (bad + ("tcp" if opts else "udp", d.exit, d.elapsed)), d.text)

        dns.stop_authoritative()
        d = Dig(res, "late.dane-ok.test", "A")
        print("  after stop_authoritative, late.dane-ok.test A: %s" % d)
        check(d.status == "SERVFAIL" and d.elapsed < FAST,
              "uncached name after stop_authoritative: SERVFAIL in %.2fs" % d.elapsed, d.text)
        d = Dig(res, "mx.plain", "TXT")
        check(d.status == "SERVFAIL" and d.elapsed < FAST,
              "uncached insecure name after stop_authoritative: SERVFAIL in %.2fs"
              % d.elapsed, d.text)
        d = Dig(res, "mx.dane-ok.test", "A")
        check(d.status == "NOERROR" and "ad" in d.flags,
              "cached name still answered (with AD) after stop_authoritative", d.text)


# --------------------------------------------------------------------------
# HTTPS

class _Conn(http.client.HTTPSConnection):
    """Connects to 127.0.0.1:port while using `host` for SNI, certificate
    name check and Host header, as an MTA-STS fetcher resolving it would."""

    def __init__(self, host, port, context, timeout):
        super().__init__(host, port, context=context, timeout=timeout)
        self._ctx = context

    def connect(self):
        sock = socket.create_connection(("127.0.0.1", self.port), self.timeout)
        self.sock = self._ctx.wrap_socket(sock, server_hostname=self.host)


def fetch(ctx, port, host, path=stsserver.WELL_KNOWN, timeout=5.0, limit=None,
          host_header=None):
    """(status, headers dict (lower-case names), body) of one GET; host is
    the TLS name, host_header (default: host) the HTTP Host."""
    c = _Conn(host, port, ctx, timeout)
    try:
        if host_header:
            c.putrequest("GET", path, skip_host=True)
            c.putheader("Host", host_header)
            c.endheaders()
        else:
            c.request("GET", path)
        r = c.getresponse()
        body = r.read(limit) if limit else r.read()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, body
    finally:
        c.close()


def timed_out(fn):
    """Seconds fn took to raise a timeout; Failure if it did not."""
    t = time.monotonic()
    try:
        fn()
    except (socket.timeout, TimeoutError):
        return time.monotonic() - t
    raise Failure("expected a client timeout")


def abort_handshakes(port):
    """Three ways a client can leave before TLS is up."""
    with socket.create_connection(("127.0.0.1", port), 2):
        pass                                                   # connect, close
    with socket.create_connection(("127.0.0.1", port), 2) as s:
        s.sendall(b"GET / HTTP/1.0\r\n\r\n")                  # plaintext HTTP
        try:
            s.recv(100)
        except OSError:
            pass
    ctx = ssl.create_default_context()
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname="mta-sts.sts.test")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    with socket.create_connection(("127.0.0.1", port), 2) as s:
        s.sendall(out.read())                                  # ClientHello, then gone


def check_sts(certs):
    print("StsServer:")
    cert, key = certs.certs["sts"]
    routes = {
        "mta-sts.sts.test": ("policy", POLICY),
        "mta-sts.status.test": ("status", 500),
        "mta-sts.ctype.test": ("content-type", "text/html", POLICY),
        "mta-sts.redirect.test": ("redirect", "https://mta-sts.sts.test" + stsserver.WELL_KNOWN),
        "mta-sts.stall.test": ("stall",),
        "mta-sts.huge.test": ("huge", 2 * 1024 * 1024),
        "mta-sts.slow.test": ("slow-headers",),
        "mta-sts.expired.test": ("policy", POLICY),
        "mta-sts.untrusted.test": ("policy", POLICY),
    }
    by_sni = {"mta-sts.expired.test": certs.expired, "mta-sts.untrusted.test": certs.untrusted}
    ctx = ssl.create_default_context(cafile=certs.ca)
    srv = stsserver.StsServer(cert, key, routes, certs_by_sni=by_sni)
    port = srv.start()
    try:
        print("  listening on 127.0.0.1:%d" % port)
        st, hd, body = fetch(ctx, port, "mta-sts.sts.test")
        check(st == 200 and hd["content-type"] == "text/plain" and body.decode() == POLICY,
              "policy: 200 text/plain with the policy")
        st, _, _ = fetch(ctx, port, "mta-sts.status.test")
        check(st == 500, "status: 500")
        st, hd, body = fetch(ctx, port, "mta-sts.ctype.test")
        check(st == 200 and hd["content-type"] == "text/html", "content-type: text/html")
        st, hd, _ = fetch(ctx, port, "mta-sts.redirect.test")
        check(st == 301 and hd["location"].startswith("https://mta-sts.sts.test/"),
              "redirect: 301 with Location")
        st, hd, body = fetch(ctx, port, "mta-sts.huge.test", limit=65537)
        check(st == 200 and len(body) == 65537 and body.startswith(b"version: STSv1")
              and int(hd["content-length"]) > 2 * 1024 * 1024,
              "huge: 200, policy first, Content-Length %s, client stopped at 64 KiB"
              % hd["content-length"])
        st, _, _ = fetch(ctx, port, "mta-sts.sts.test", path="/other")
        check(st == 404, "other path: 404")
        st, _, _ = fetch(ctx, port, "mta-sts.sts.test", host_header="mta-sts.unknown.test")
        check(st == 404, "unknown Host: 404")
        st, _, body = fetch(ctx, port, "mta-sts.sts.test", host_header="MTA-STS.sts.test:443")
        check(st == 200 and body.decode() == POLICY, "Host with port and upper case: 200")

        dt = timed_out(lambda: fetch(ctx, port, "mta-sts.stall.test", timeout=2.0))
        check(1.5 < dt < 3.0, "stall: client timeout after %.2fs" % dt)
        dt = timed_out(lambda: fetch(ctx, port, "mta-sts.slow.test", timeout=2.0))
        check(1.5 < dt < 3.0, "slow-headers: headers then client timeout after %.2fs" % dt)
        c = _Conn("mta-sts.slow.test", port, ctx, 2.0)
        c.request("GET", stsserver.WELL_KNOWN)
        r = c.getresponse()
        check(r.status == 200, "slow-headers: status line and headers do arrive")
        c.close()

        for host, why in (("mta-sts.expired.test", "expired"),
                          ("mta-sts.untrusted.test", "unable to get local issuer")):
            try:
                fetch(ctx, port, host)
                raise Failure("%s: certificate was accepted" % host)
            except ssl.SSLCertVerificationError as e:
                check(why in str(e), "%s: verification fails (%s)" % (host, why))

        abort_handshakes(port)
        # a stalled connection stays open while others are served
        stalled = _Conn("mta-sts.stall.test", port, ctx, 10.0)
        stalled.request("GET", stsserver.WELL_KNOWN)
        results, threads = [], []
        for _ in range(8):
            t = threading.Thread(target=lambda: results.append(
                fetch(ctx, port, "mta-sts.sts.test")[0]))
            threads.append(t)
            t.start()
        for t in threads:
            t.join(10)
        check(results == [200] * 8, "8 concurrent fetches during a stall and after "
              "3 aborted handshakes: all 200")
        wanted = ("mta-sts.sts.test", stsserver.WELL_KNOWN)
        # 1 plain fetch + 1 with "MTA-STS.sts.test:443" + 8 concurrent
        check(srv.requests.count(wanted) == 10 and
              ("mta-sts.sts.test", "/.well-known/mta-sts.txt") in srv.requests and
              ("mta-sts.sts.test", "/other") in srv.requests,
              "request log: %d requests, (host, path) tuples" % len(srv.requests),
              srv.requests)
        check("mta-sts.sts.test" in srv.sni, "SNI recorded")
        hs = [e for _, e in srv.errors if e.startswith("handshake")]
        check(len(hs) >= 3, "aborted handshakes recorded as errors (%d)" % len(hs))
    finally:
        t = time.monotonic()
        srv.stop()
        dt = time.monotonic() - t
    check(dt < 2.0, "stop() with a stalled client still connected took %.2fs" % dt)
    stalled.close()
    try:
        socket.create_connection(("127.0.0.1", port), 1).close()
        raise Failure("port %d still accepts connections after stop()" % port)
    except ConnectionRefusedError:
        check(True, "port closed after stop()")


# --------------------------------------------------------------------------

def leftovers(tmp):
    """Processes whose command line names our directory: our own servers."""
    p = subprocess.run(["pgrep", "-a", "-f", tmp], capture_output=True, text=True, timeout=10)
    return p.stdout.strip()


def main():
    keep = "--keep" in sys.argv[1:]
    if shutil.which("dig") is None:
        print("FAIL: dig is not installed (package bind9-dnsutils)")
        return 1
    t0 = time.monotonic()
    tmp = tempfile.mkdtemp(prefix="policy-selftest-")
    ok = False
    try:
        certs = pki.make(os.path.join(tmp, "pki"),
                         {"sts": STS_HOSTS, "mx": ["mx.dane-ok.test", "mx.dane-bogus.test"]})
        print("pki: CA %s, %d certificates" % (certs.ca, len(certs.certs) + 2))
        check_dns(os.path.join(tmp, "dns"), certs)
        check_sts(certs)
        left = leftovers(tmp)
        check(not left, "no fixture process left" + (": " + left if left else ""))
        ok = True
    except (Failure, dnsfixture.DnsFixtureError, stsserver.StsServerError,
            pki.PkiError) as e:
        print("FAIL: %s" % e)
    except Exception:
        print("FAIL: unexpected exception\n" + traceback.format_exc())
    finally:
        left = leftovers(tmp)
        if left:
            print("FAIL: processes left behind:\n" + left)
            ok = False
        if ok and not keep:
            shutil.rmtree(tmp)
        else:
            print("files kept in %s" % tmp)
    print("selftest: %s in %.1fs" % ("PASS" if ok else "FAIL", time.monotonic() - t0))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
