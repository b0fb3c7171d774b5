#!/usr/bin/python3
"""DANE, MTA-STS and TLSRPT through the built libesmtp.so.6, against real
components on loopback: nsd serving a DNSSEC-signed zone, unbound
validating it (dnsfixture.py), aiosmtpd SMTP servers with and without
STARTTLS, and an HTTPS server for MTA-STS policies (stsserver.py).

Each case runs policy_client.c (compiled against include/ and linked to
the built library) and checks the outcome, which server received mail and
over what, the events and the TLSRPT JSON from both the event and the
callback.  usage: run_policy.py --lib target/lib --include include [-k NAME]
"""

import argparse
import json
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import dnsfixture  # noqa: E402
import pki  # noqa: E402
import stsserver  # noqa: E402

from aiosmtpd.controller import Controller  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ERR_TLS_POLICY = 100
ERR_EAI_AGAIN = 12
ERR_EAI_FAIL = 11
CASE_TIMEOUT = 60
# Set by --valgrind: the client runs under memcheck; any error or
# definite leak fails its case.
VALGRIND = []


class Recorder:
    """aiosmtpd handler keeping each message with whether it came over TLS."""

    def __init__(self, name):
        self.name = name
        self.received = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.received.append({"tls": session.ssl is not None, "from": envelope.mail_from})
        return "250 2.0.0 accepted"


class Smtp:
    """One aiosmtpd server on 127.0.0.1, optionally offering STARTTLS."""

    def __init__(self, name, chain=None, key=None):
        self.rec = Recorder(name)
        ctx = None
        if chain:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(chain, key)
        port = dnsfixture.free_port()
        self.ctl = Controller(self.rec, hostname="127.0.0.1", port=port, tls_context=ctx,
                              server_hostname="mx.test", ready_timeout=10)
        self.port = port

    def start(self):
        self.ctl.start()
        return self

    def stop(self):
        self.ctl.stop()

    def count(self):
        with self.rec.lock:
            return len(self.rec.received)

    def last(self):
        with self.rec.lock:
            return self.rec.received[-1] if self.rec.received else None


def chain_file(d, name, cert, ca):
    path = os.path.join(d, name + "-chain.pem")
    with open(path, "w") as out:
        for f in (cert, ca):
            out.write(open(f).read())
    os.chmod(path, 0o600)
    return path


POLICY = {"none": 0, "opportunistic": 1, "dane": 2, "sts": 3, "dane-sts": 4}

STS_ENFORCE = "version: STSv1\r\nmode: enforce\r\nmx: {mx}\r\nmax_age: 86400\r\n"
STS_TESTING = "version: STSv1\r\nmode: testing\r\nmx: {mx}\r\nmax_age: 86400\r\n"


class Bed:
    """Everything the cases share: PKI, servers, DNS, policy server."""

    def __init__(self, work, extra_names=None, extra_records=()):
        """extra_names ({label: [dns names]}) get certificates from the
        test CA; extra_records are added to the signed zone test. (for
        other runners sharing this bed, e.g. run_tlsrpt_submit.py)."""
        self.work = work
        names = {
            "mx": ["mx.dane-ok.test", "mx.dane-ta.test", "mx.dane-bad.test", "mx.dane-plain.test",
                   "mx.dane-bogus.test", "mx.dane-unusable.test", "mx.notlsa.test", "mx.plain",
                   "mx.sts-ok.test", "mx.sts-mismatch.test", "mx.sts-testing.test",
                   "mx.sts-unreachable.test", "mx.sts-stall.test", "mx.sts-huge.test",
                   "mx.sts-html.test", "mx.sts-webpki.test", "mx.sts-cache.test", "mx.sts-nostarttls.test",
                   "mx.sts-badname.test", "mx.dane-nonder.test", "mx.sts-badtxt.test", "mx.sts-garbage.test"],
            "wrong": ["other.test"],
            "web": ["mta-sts." + d for d in ("sts-ok.test", "sts-mismatch.test", "sts-testing.test",
                                            "sts-stall.test", "sts-huge.test", "sts-html.test",
                                            "sts-webpki.test", "sts-cache.test", "sts-nostarttls.test",
                                            "sts-badname.test", "sts-unreachable.test", "sts-badtxt.test",
                                            "sts-garbage.test")],
        }
        names.update(extra_names or {})
        self.pki = pki.make(os.path.join(work, "pki"), names)
        mx_cert, mx_key = self.pki.certs["mx"]
        wrong_cert, wrong_key = self.pki.certs["wrong"]
        self.servers = {
            "good": Smtp("good", chain_file(self.pki.dir, "mx", mx_cert, self.pki.ca), mx_key),
            "expired": Smtp("expired", *self.pki.expired),
            "wrong": Smtp("wrong", chain_file(self.pki.dir, "wrong", wrong_cert, self.pki.ca), wrong_key),
            "plain": Smtp("plain"),
        }
        for s in self.servers.values():
            s.start()
        good, plain = self.servers["good"].port, self.servers["plain"].port
        rec = []

        def a(name, ip="127.0.0.1"):
            rec.append("%s. 300 IN A %s" % (name, ip))

        def tlsa(host, port, cert, usage=3, selector=1, mtype=1):
            rec.append(pki.tlsa_record("_%d._tcp.%s." % (port, host), cert, usage, selector, mtype))

        for h in names["mx"]:
            if not h.endswith(".plain"):
                a(h)
        tlsa("mx.dane-ok.test", good, mx_cert)
        tlsa("mx.dane-ta.test", good, self.pki.ca, usage=2, selector=0, mtype=1)
        tlsa("mx.dane-bad.test", good, wrong_cert)
        tlsa("mx.dane-plain.test", plain, mx_cert)
        tlsa("mx.dane-bogus.test", good, mx_cert)
        # Unusable for SMTP: PKIX-EE, and a SHA-256 digest cut short.
        tlsa("mx.dane-unusable.test", good, mx_cert, usage=1)
        rec.append("_%d._tcp.mx.dane-unusable.test. 300 IN TLSA 3 1 1 abcdef" % good)
        # Passes the RFC's checks, but no DER certificate: OpenSSL refuses it.
        rec.append("_%d._tcp.mx.dane-nonder.test. 300 IN TLSA 3 0 0 %s" % (good, "ab" * 40))
        # An MX host that is an alias: its canonical name's records apply.
        rec.append("mx-alias.dane-ok.test. 300 IN CNAME mx.dane-ok.test.")
        sts_docs = {}
        for d, doc in (("sts-ok.test", STS_ENFORCE), ("sts-mismatch.test", STS_ENFORCE),
                       ("sts-testing.test", STS_TESTING), ("sts-cache.test", STS_ENFORCE),
                       ("sts-nostarttls.test", STS_ENFORCE), ("sts-badname.test", STS_ENFORCE),
                       ("sts-stall.test", STS_ENFORCE), ("sts-huge.test", STS_ENFORCE),
                       ("sts-html.test", STS_ENFORCE), ("sts-webpki.test", STS_ENFORCE),
                       ("sts-unreachable.test", STS_ENFORCE), ("sts-garbage.test", "mode: enforce\r\n\x00\xff{{}}"),
                       ("sts-badtxt.test", STS_ENFORCE)):
            mx = "mx." + d if d != "sts-mismatch.test" else "other.sts-mismatch.test"
            sts_docs[d] = doc.format(mx=mx)
            txt = "v=STSv1; id=not-an-id!;" if d == "sts-badtxt.test" else "v=STSv1; id=20261202;"
            rec.append('_mta-sts.%s. 300 IN TXT "%s"' % (d, txt))
            a("mta-sts." + d, "127.0.0.9" if d == "sts-unreachable.test" else "127.0.0.1")
        insecure = ["mx.plain. 300 IN A 127.0.0.1",
                    pki.tlsa_record("_%d._tcp.mx.plain." % good, wrong_cert)]
        rec.extend(extra_records)
        self.dns = dnsfixture.DnsFixture(os.path.join(work, "dns"), rec, insecure,
                                         bogus_names=["_%d._tcp.mx.dane-bogus.test." % good])
        ip, port = self.dns.start()
        self.resolver = "%s:%d" % (ip, port)
        web_cert, web_key = self.pki.certs["web"]
        routes = {"mta-sts." + d: ("policy", doc) for d, doc in sts_docs.items()}
        routes["mta-sts.sts-stall.test"] = ("stall",)
        routes["mta-sts.sts-huge.test"] = ("huge", 1 << 20)
        routes["mta-sts.sts-html.test"] = ("content-type", "text/html", sts_docs["sts-html.test"])
        self.sts = stsserver.StsServer(web_cert, web_key, routes,
                                       certs_by_sni={"mta-sts.sts-webpki.test": self.pki.untrusted})
        self.sts_port = self.sts.start()
        # The library's own TLS context trusts the test CA (libESMTP's
        # ca.pem, owner-only as it demands) for SMTP and policy servers.
        conf = os.path.join(work, "xdg", "libesmtp")
        os.makedirs(conf, mode=0o700)
        os.chmod(os.path.dirname(conf), 0o700)
        shutil.copy(self.pki.ca, os.path.join(conf, "ca.pem"))
        os.chmod(os.path.join(conf, "ca.pem"), 0o600)
        self.env = dict(os.environ, XDG_CONFIG_DIR=os.path.dirname(conf), HOME=work)

    def stop(self):
        for s in self.servers.values():
            s.stop()
        self.sts.stop()
        self.dns.stop()


class Failure(Exception):
    pass


class Skip(Exception):
    """The case cannot run here (a failure under CI=true)."""


def expect(cond, what):
    if not cond:
        raise Failure(what)


def run_client(bed, client, host, server, policy, domain=None, extra=(), resolver=None, timeout=3000):
    port = bed.servers[server].port
    args = [client, "%s:%d" % (host, port), "--policy", str(POLICY[policy]),
            "--resolver", resolver or bed.resolver, "--sts-port", str(bed.sts_port),
            "--timeout", str(timeout)]
    if domain:
        args += ["--domain", domain]
    args += list(extra)
    p = subprocess.run(VALGRIND + args, capture_output=True, text=True, env=bed.env, timeout=CASE_TIMEOUT)
    if p.returncode != 0:
        raise Failure("client exit %d: %s" % (p.returncode, p.stderr.strip()[-2000:]))
    lines = [json.loads(x) for x in p.stdout.splitlines() if x.strip()]
    return lines


def reports(lines):
    """TLSRPT results, checked to arrive identically by event and callback."""
    ev = [x["result"] for x in lines if x.get("event") == "tlsrpt"]
    cb = [x["result"] for x in lines if x.get("callback") == "tlsrpt"]
    expect(ev == cb, "event and callback results differ: %r / %r" % (ev, cb))
    for r in ev:
        expect(isinstance(r.get("epoch"), int) and abs(r["epoch"] - time.time()) < 300, "bad epoch %r" % r)
        expect(r.get("type") in (0, 1), "bad type %r" % r)
        expect(r["policy"]["policy-type"] in ("tlsa", "sts", "no-policy-found"), "bad policy-type")
        expect((r["type"] == 0) == ("result-type" in r), "result-type iff failure: %r" % r)
    return ev


def outcome(lines):
    out = [x for x in lines if "outcome" in x]
    expect(len(out) >= 1, "no outcome line")
    return out[-1]


def delivered(bed, server, before, tls):
    s = bed.servers[server]
    expect(s.count() == before + 1, "%s server got %d messages, expected %d" % (server, s.count(), before + 1))
    expect(s.last()["tls"] == tls, "message came %s TLS" % ("over" if s.last()["tls"] else "without"))


def not_delivered(bed, before):
    for name, s in bed.servers.items():
        expect(s.count() == before[name], "%s server received mail" % name)


# ----------------------------------------------------------------- cases
# Each takes (bed, client) and raises Failure.

def c_dane_ee_ok(bed, client):
    n = bed.servers["good"].count()
    lines = run_client(bed, client, "mx.dane-ok.test", "good", "dane", "dane-ok.test", ["--cert-events"])
    o = outcome(lines)
    expect(o["outcome"] == 1 and o["message"] == 250, "not sent: %r" % o)
    delivered(bed, "good", n, True)
    r = reports(lines)
    expect(len(r) == 1 and r[0]["type"] == 1, "one success report: %r" % r)
    p = r[0]["policy"]
    expect(p["policy-type"] == "tlsa" and p["policy-domain"] == "dane-ok.test", "policy %r" % p)
    expect(len(p["policy-string"]) == 1 and p["policy-string"][0].startswith("3 1 1 "), "policy-string %r" % p)
    expect(r[0]["receiving-mx-hostname"] == "mx.dane-ok.test", "mx hostname")
    expect(r[0]["receiving-ip"] == "127.0.0.1" and r[0]["sending-mta-ip"] == "127.0.0.1", "ips")
    certs = [x for x in lines if x.get("event") == "tls-cert"]
    expect([c["depth"] for c in certs] == [1, 0], "cert events depth 1 then 0: %r" % certs)
    expect(certs[1]["cn"] == "mx.dane-ok.test" and certs[0]["ok-default"] == 1 and certs[0]["ssl"], "cert %r" % certs)
    expect(any(x.get("event") == "starttls-ok" for x in lines), "no STARTTLS_OK")


def c_dane_ta_ok(bed, client):
    n = bed.servers["good"].count()
    lines = run_client(bed, client, "mx.dane-ta.test", "good", "dane", "dane-ta.test")
    expect(outcome(lines)["message"] == 250, "not sent")
    delivered(bed, "good", n, True)
    r = reports(lines)
    expect(len(r) == 1 and r[0]["type"] == 1 and r[0]["policy"]["policy-string"][0].startswith("2 0 1 "), "%r" % r)


def c_dane_mismatch(bed, client):
    before = {k: s.count() for k, s in bed.servers.items()}
    lines = run_client(bed, client, "mx.dane-bad.test", "good", "dane", "dane-bad.test")
    o = outcome(lines)
    expect(o["errno"] == ERR_TLS_POLICY and o["message"] == 0, "outcome %r" % o)
    expect(o["strerror"] == "TLS policy not satisfied", "strerror %r" % o)
    not_delivered(bed, before)
    r = reports(lines)
    expect(len(r) == 1 and r[0]["result-type"] == "validation-failure", "%r" % r)
    expect("DANE" in r[0]["failure-reason-code"], "reason %r" % r[0])


def c_dane_no_starttls(bed, client):
    before = {k: s.count() for k, s in bed.servers.items()}
    lines = run_client(bed, client, "mx.dane-plain.test", "plain", "dane")
    o = outcome(lines)
    expect(o["errno"] == ERR_TLS_POLICY, "outcome %r" % o)
    not_delivered(bed, before)
    r = reports(lines)
    expect(len(r) == 1 and r[0]["result-type"] == "starttls-not-supported", "%r" % r)
    expect(r[0]["policy"]["policy-domain"] == "mx.dane-plain.test", "domain defaults to the host")
    expect(not any(x.get("event") == "extna-starttls" for x in lines), "libESMTP's event under a policy")


def c_dane_bogus(bed, client):
    before = {k: s.count() for k, s in bed.servers.items()}
    lines = run_client(bed, client, "mx.dane-bogus.test", "good", "dane", "dane-bogus.test")
    o = outcome(lines)
    expect(o["outcome"] == 0 and o["errno"] == ERR_TLS_POLICY, "outcome %r" % o)
    expect(not any(x.get("event") == "connect" for x in lines), "connected despite bogus TLSA")
    not_delivered(bed, before)
    r = reports(lines)
    expect(len(r) == 1 and r[0]["result-type"] == "dnssec-invalid", "%r" % r)
    expect("SERVFAIL" in r[0]["failure-reason-code"], "reason %r" % r[0])


def c_dane_unusable(bed, client):
    n = bed.servers["good"].count()
    lines = run_client(bed, client, "mx.dane-unusable.test", "good", "dane")
    expect(outcome(lines)["message"] == 250, "not sent")
    delivered(bed, "good", n, True)
    r = reports(lines)
    expect(len(r) == 1 and r[0]["result-type"] == "tlsa-invalid", "%r" % r)
    expect(len(r[0]["policy"]["policy-string"]) == 2, "both records listed")


def c_dane_unusable_needs_tls(bed, client):
    # Unusable records still forbid clear text (RFC 7672 §2.2).
    before = {k: s.count() for k, s in bed.servers.items()}
    lines = run_client(bed, client, "mx.dane-unusable.test", "plain", "dane")
    # The TLSA records are for the good server's port: none at this port,
    # so DANE does not apply here and clear text is right.
    o = outcome(lines)
    expect(o["message"] == 250, "no TLSA at this port: opportunistic %r" % o)
    expect(bed.servers["plain"].count() == before["plain"] + 1, "not delivered in clear")


def c_dane_insecure_zone(bed, client):
    n = bed.servers["good"].count()
    lines = run_client(bed, client, "mx.plain", "good", "dane")
    expect(outcome(lines)["message"] == 250, "not sent")
    delivered(bed, "good", n, True)
    expect(reports(lines) == [], "no DANE for an insecure zone, no report")


def c_dane_no_tlsa(bed, client):
    n = bed.servers["plain"].count()
    lines = run_client(bed, client, "mx.notlsa.test", "plain", "dane")
    expect(outcome(lines)["message"] == 250, "not sent")
    delivered(bed, "plain", n, False)
    expect(reports(lines) == [], "no report without records")


def c_dane_resolver_down(bed, client):
    before = {k: s.count() for k, s in bed.servers.items()}
    ip, port = dnsfixture.unreachable_resolver()
    lines = run_client(bed, client, "mx.dane-ok.test", "good", "dane", resolver="%s:%d" % (ip, port),
                       timeout=1000)
    o = outcome(lines)
    expect(o["outcome"] == 0 and o["errno"] == ERR_EAI_AGAIN, "outcome %r" % o)
    expect(o["seconds"] < 5, "took %.1fs" % o["seconds"])
    not_delivered(bed, before)
    r = reports(lines)
    expect(len(r) == 1 and r[0]["result-type"] == "dnssec-invalid", "%r" % r)


def c_cert_event_refuses(bed, client):
    before = {k: s.count() for k, s in bed.servers.items()}
    lines = run_client(bed, client, "mx.dane-ok.test", "good", "dane", None,
                       ["--cert-events", "--refuse-depth", "0"])
    o = outcome(lines)
    expect(o["message"] == 0, "sent despite the refusal %r" % o)
    not_delivered(bed, before)
    expect(not any(x.get("event") == "starttls-ok" for x in lines), "STARTTLS_OK after a refusal")


def c_sts_enforce_ok(bed, client):
    n = bed.servers["good"].count()
    lines = run_client(bed, client, "mx.sts-ok.test", "good", "sts", "sts-ok.test")
    expect(outcome(lines)["message"] == 250, "not sent")
    delivered(bed, "good", n, True)
    r = reports(lines)
    expect(len(r) == 1 and r[0]["type"] == 1, "%r" % r)
    p = r[0]["policy"]
    expect(p["policy-type"] == "sts" and p["policy-domain"] == "sts-ok.test", "%r" % p)
    expect(p["policy-string"] == ["version: STSv1", "mode: enforce", "mx: mx.sts-ok.test", "max_age: 86400"],
           "policy-string %r" % p)
    expect(p["mx-host"] == ["mx.sts-ok.test"], "mx-host %r" % p)


def c_sts_mx_mismatch(bed, client):
    before = {k: s.count() for k, s in bed.servers.items()}
    lines = run_client(bed, client, "mx.sts-mismatch.test", "good", "sts", "sts-mismatch.test")
    o = outcome(lines)
    expect(o["outcome"] == 0 and o["errno"] == ERR_TLS_POLICY, "outcome %r" % o)
    expect(not any(x.get("event") == "connect" for x in lines), "connected to a host outside the policy")
    not_delivered(bed, before)
    r = reports(lines)
    expect(len(r) == 1 and r[0]["result-type"] == "validation-failure", "%r" % r)


def c_sts_testing_expired(bed, client):
    n = bed.servers["expired"].count()
    lines = run_client(bed, client, "mx.sts-testing.test", "expired", "sts", "sts-testing.test")
    expect(outcome(lines)["message"] == 250, "testing mode must deliver")
    delivered(bed, "expired", n, True)
    r = reports(lines)
    expect(len(r) == 1 and r[0]["result-type"] == "certificate-expired", "%r" % r)
    expect("mode: testing" in r[0]["policy"]["policy-string"], "%r" % r)


def c_sts_enforce_badname(bed, client):
    before = {k: s.count() for k, s in bed.servers.items()}
    lines = run_client(bed, client, "mx.sts-badname.test", "wrong", "sts", "sts-badname.test")
    o = outcome(lines)
    expect(o["errno"] == ERR_TLS_POLICY and o["message"] == 0, "outcome %r" % o)
    not_delivered(bed, before)
    r = reports(lines)
    expect(len(r) == 1 and r[0]["result-type"] == "certificate-host-mismatch", "%r" % r)


def c_sts_no_starttls(bed, client):
    before = {k: s.count() for k, s in bed.servers.items()}
    lines = run_client(bed, client, "mx.sts-nostarttls.test", "plain", "sts", "sts-nostarttls.test")
    o = outcome(lines)
    expect(o["errno"] == ERR_TLS_POLICY and o["message"] == 0, "outcome %r" % o)
    not_delivered(bed, before)
    r = reports(lines)
    expect(len(r) == 1 and r[0]["result-type"] == "starttls-not-supported", "%r" % r)


def fetch_failure_case(domain, result_type, timeout=3000, max_seconds=None):
    def case(bed, client):
        n = bed.servers["good"].count()
        lines = run_client(bed, client, "mx." + domain, "good", "sts", domain, timeout=timeout)
        o = outcome(lines)
        # No usable policy: delivered as without one, and reported.
        expect(o["message"] == 250, "not sent %r" % o)
        delivered(bed, "good", n, True)
        r = reports(lines)
        expect(len(r) == 1 and r[0]["result-type"] == result_type, "%r" % r)
        expect(r[0]["policy"]["policy-domain"] == domain, "%r" % r)
        if max_seconds:
            expect(o["seconds"] < max_seconds, "took %.1fs" % o["seconds"])
    return case


def c_sts_bad_txt(bed, client):
    # A malformed record is no policy (RFC 8461 §3.1): nothing fetched,
    # nothing reported, mail delivered as without a policy.
    host = "mta-sts.sts-badtxt.test"
    n = bed.servers["good"].count()
    lines = run_client(bed, client, "mx.sts-badtxt.test", "good", "sts", "sts-badtxt.test")
    expect(outcome(lines)["message"] == 250, "not sent")
    delivered(bed, "good", n, True)
    expect(reports(lines) == [], "a malformed TXT record is no policy")
    expect(not any(h.split(":")[0] == host for h, _ in bed.sts.requests), "policy fetched")


def c_sts_cache(bed, client):
    host = "mta-sts.sts-cache.test"
    before = sum(1 for h, _ in bed.sts.requests if h.split(":")[0] == host)
    lines = run_client(bed, client, "mx.sts-cache.test", "good", "sts", "sts-cache.test", ["--sessions", "3"])
    after = sum(1 for h, _ in bed.sts.requests if h.split(":")[0] == host)
    expect(after - before == 1, "policy fetched %d times for 3 sessions" % (after - before))
    outs = [x for x in lines if "outcome" in x]
    expect(len(outs) == 3 and all(x["message"] == 250 for x in outs), "%r" % outs)
    r = reports(lines)
    expect(len(r) == 3 and all(x["type"] == 1 for x in r), "%r" % r)


def c_dane_then_sts(bed, client):
    lines = run_client(bed, client, "mx.dane-ok.test", "good", "dane-sts", "sts-ok.test")
    r = reports(lines)
    expect(len(r) == 1 and r[0]["policy"]["policy-type"] == "tlsa", "DANE first: %r" % r)
    lines = run_client(bed, client, "mx.sts-ok.test", "good", "dane-sts", "sts-ok.test")
    r = reports(lines)
    expect(len(r) == 1 and r[0]["policy"]["policy-type"] == "sts", "then MTA-STS: %r" % r)


def c_opportunistic(bed, client):
    n = bed.servers["expired"].count()
    lines = run_client(bed, client, "127.0.0.1", "expired", "opportunistic")
    expect(outcome(lines)["message"] == 250, "not sent")
    delivered(bed, "expired", n, True)
    n = bed.servers["plain"].count()
    lines = run_client(bed, client, "127.0.0.1", "plain", "opportunistic")
    expect(outcome(lines)["message"] == 250, "not sent")
    delivered(bed, "plain", n, False)
    expect(reports(lines) == [], "opportunistic reports nothing")


def c_report_aggregate(bed, client):
    lines = run_client(bed, client, "mx.dane-ok.test", "good", "dane", "dane-ok.test",
                       ["--sessions", "2", "--report"])
    rep = [x["report"] for x in lines if "report" in x]
    expect(len(rep) == 1 and rep[0], "no report")
    rep = rep[0]
    for k in ("organization-name", "date-range", "contact-info", "report-id", "policies"):
        expect(k in rep, "report lacks %s" % k)
    expect(rep["date-range"]["start-datetime"] == "1970-01-01T00:00:00Z", "%r" % rep["date-range"])
    pol = rep["policies"]
    expect(len(pol) == 1 and pol[0]["summary"]["total-successful-session-count"] == 2, "%r" % pol)
    expect(pol[0]["summary"]["total-failure-session-count"] == 0, "%r" % pol)


def c_api_arguments(bed, client):
    p = subprocess.run(VALGRIND + [client, "--api-checks"], capture_output=True, text=True, timeout=CASE_TIMEOUT)
    expect(p.returncode == 0, "exit %d %s" % (p.returncode, p.stderr))
    got = [json.loads(x) for x in p.stdout.splitlines()]
    rc = [(x["rc"], x["errno"]) for x in got if "call" in x]
    INVAL = 7
    want = [(0, INVAL), (0, INVAL), (0, INVAL), (0, INVAL), (0, INVAL), (1, 0), (1, 0),
            (0, INVAL), (0, INVAL), (0, INVAL), (1, 0), (1, 0),
            (0, INVAL), (100, 0), (0, INVAL), (0, INVAL), (1, 0),
            (0, INVAL), (1, 0), (0, INVAL), (0, INVAL),
            (0, INVAL), (0, INVAL), (0, INVAL), (0, INVAL), (0, INVAL)]
    expect(rc == want, "\n".join("%s -> %r (want %r)" % (x["call"], (x["rc"], x["errno"]), w)
                                  for x, w in zip([g for g in got if "call" in g], want) if (x["rc"], x["errno"]) != w)
           or "%d answers, want %d" % (len(rc), len(want)))
    expect(got[-1] == {"strerror": "TLS policy not satisfied"}, "%r" % got[-1])


def syscalls(bed, client, args):
    """socket/clone/openat calls of one client run, under strace."""
    log = os.path.join(bed.work, "strace.log")
    p = subprocess.run(["strace", "-f", "-qq", "-o", log, "-e", "trace=socket,clone,clone3,openat",
                        client] + args, capture_output=True, text=True, env=bed.env, timeout=CASE_TIMEOUT)
    expect(p.returncode == 0, "client under strace: %s" % p.stderr)
    text = open(log).read()
    calls = [ln.split(None, 1)[1] if ln[0].isdigit() else ln for ln in text.splitlines()]
    return ([c for c in calls if c.startswith("socket(")], [c for c in calls if c.startswith("clone")],
            [c for c in calls if "resolv.conf" in c])


def c_no_policy_costs_nothing(bed, client):
    # Without a policy: the SMTP socket alone, no thread, no resolver.
    port = bed.servers["plain"].port
    sock, clones, resolv = syscalls(bed, client, ["127.0.0.1:%d" % port, "--policy", "0"])
    expect(len(sock) == 1 and not clones and not resolv, "no policy: %r %r %r" % (sock, clones, resolv))
    # The same check sees the DNS work of a policy session.
    sock, clones, _ = syscalls(bed, client, ["mx.notlsa.test:%d" % port, "--policy", "2",
                                             "--resolver", bed.resolver])
    # One datagram socket for A and AAAA together, one for TLSA, then SMTP.
    dgram = [x for x in sock if "SOCK_DGRAM" in x]
    expect(len(dgram) == 2 and len(sock) == 3 and not clones, "DANE session: %r %r" % (sock, clones))


def c_example_program(bed, client):
    # The README's example, built as a user would and run on the test bed.
    exe = os.path.join(bed.work, "esmtp_tls_policy")
    src = os.path.join(HERE, "..", "demo", "esmtp_tls_policy.c")
    subprocess.run(["cc", "-Wall", "-Wextra", "-Werror", "-I", bed.include, src, "-o", exe, "-L", bed.lib,
                    "-Wl,-rpath," + os.path.abspath(bed.lib), "-lesmtp"], check=True)
    n = bed.servers["good"].count()
    p = subprocess.run(VALGRIND + [exe, "mx.dane-ok.test:%d" % bed.servers["good"].port, "rcpt@sts-ok.test",
                                   bed.resolver, str(bed.sts_port)],
                       capture_output=True, text=True, env=bed.env, timeout=CASE_TIMEOUT)
    expect(p.returncode == 0, "exit %d: %s %s" % (p.returncode, p.stdout, p.stderr[-2000:]))
    delivered(bed, "good", n, True)
    out = p.stdout.splitlines()
    expect(out[0].startswith("tls report: ") and json.loads(out[0][12:])["type"] == 1, "%r" % out)
    expect(out[1] == "message: 250, recipient: 250", "%r" % out)
    rep = json.loads(out[2][len("report: "):])
    expect(rep["policies"][0]["summary"]["total-successful-session-count"] == 1, "%r" % rep)


def c_dane_records_openssl_refuses(bed, client):
    n = bed.servers["good"].count()
    lines = run_client(bed, client, "mx.dane-nonder.test", "good", "dane")
    expect(outcome(lines)["message"] == 250, "not sent: %r" % outcome(lines))
    delivered(bed, "good", n, True)
    r = reports(lines)
    expect(len(r) == 1 and r[0]["result-type"] == "tlsa-invalid", "%r" % r)


def c_dane_cname(bed, client):
    n = bed.servers["good"].count()
    lines = run_client(bed, client, "mx-alias.dane-ok.test", "good", "dane")
    expect(outcome(lines)["message"] == 250, "not sent: %r" % outcome(lines))
    delivered(bed, "good", n, True)
    r = reports(lines)
    expect(len(r) == 1 and r[0]["type"] == 1 and r[0]["policy"]["policy-type"] == "tlsa", "%r" % r)


def c_app_required_kept(bed, client):
    # DANE finds nothing for this host; the application's own
    # Starttls_REQUIRED still forbids clear text.
    before = {k: s.count() for k, s in bed.servers.items()}
    lines = run_client(bed, client, "mx.notlsa.test", "plain", "dane", None, ["--starttls-required"])
    o = outcome(lines)
    expect(o["message"] == 0, "outcome %r" % o)
    expect(any(x.get("event") == "extna-starttls" for x in lines), "libESMTP's event missing")
    not_delivered(bed, before)


def c_dane_app_context_untouched(bed, client):
    # DANE with the application's own SSL_CTX: the connection is
    # authenticated, and the context the application lent us is not
    # DANE-enabled afterwards (nor changed for its other threads).
    n = bed.servers["good"].count()
    lines = run_client(bed, client, "mx.dane-ok.test", "good", "dane", "dane-ok.test",
                       ["--app-ctx", bed.pki.ca, "--sessions", "2"])
    outs = [x for x in lines if "outcome" in x]
    expect(len(outs) == 2 and all(x["message"] == 250 for x in outs), "%r" % outs)
    expect(bed.servers["good"].count() == n + 2 and bed.servers["good"].last()["tls"], "not delivered over TLS")
    r = reports(lines)
    expect(len(r) == 2 and all(x["type"] == 1 and x["policy"]["policy-type"] == "tlsa" for x in r), "%r" % r)
    probe = [x for x in lines if "app-ctx-dane-enabled" in x]
    expect(probe == [{"app-ctx-dane-enabled": False}], "the application's SSL_CTX was changed: %r" % probe)
    # A mismatching record still fails with the application's context.
    before = {k: s.count() for k, s in bed.servers.items()}
    lines = run_client(bed, client, "mx.dane-bad.test", "good", "dane", "dane-bad.test", ["--app-ctx", bed.pki.ca])
    o = outcome(lines)
    expect(o["errno"] == ERR_TLS_POLICY and o["message"] == 0, "outcome %r" % o)
    not_delivered(bed, before)


def c_dane_untrusted_resolver(bed, client):
    # DANE asked for, no resolver given, and /etc/resolv.conf names one
    # off loopback: its AD bit proves nothing, so DANE cannot apply. The
    # application learns it from a TLSRPT result before any lookup, and
    # mail goes on as without a policy. The client runs in a network
    # namespace of its own with its own resolv.conf and hosts files: the
    # nameserver there cannot be reached, and must not be asked.
    if shutil.which("unshare") is None or shutil.which("ip") is None or os.geteuid() != 0 or \
            subprocess.run(["unshare", "--net", "--mount", "true"], capture_output=True).returncode != 0:
        raise Skip("needs root, unshare --net --mount and ip")
    rc, hosts = os.path.join(bed.work, "resolv.conf"), os.path.join(bed.work, "hosts")
    with open(rc, "w") as f:
        f.write("nameserver 192.0.2.53\nnameserver 127.0.0.1\n")
    with open(hosts, "w") as f:
        f.write("127.0.0.1 localhost mx.dane-ok.test\n")
    port = 2525
    args = [client, "mx.dane-ok.test:%d" % port, "--policy", str(POLICY["dane"]), "--domain", "dane-ok.test",
            "--no-resolver", "--timeout", "3000"]
    inner = "ip link set lo up && mount --bind %s /etc/resolv.conf && mount --bind %s /etc/hosts && exec \"$@\"" % (
        rc, hosts)
    cmd = ["unshare", "--net", "--mount", "--propagation", "private", "sh", "-c", inner, "sh",
           sys.executable, os.path.join(HERE, "netns_smtp.py"), str(port), "--"] + VALGRIND + args
    p = subprocess.run(cmd, capture_output=True, text=True, env=bed.env, timeout=CASE_TIMEOUT)
    if p.returncode != 0:
        raise Failure("client exit %d: %s" % (p.returncode, p.stderr.strip()[-2000:]))
    lines = [json.loads(x) for x in p.stdout.splitlines() if x.strip()]
    o = outcome(lines)
    expect(o["outcome"] == 1 and o["message"] == 250, "not sent as without a policy: %r" % o)
    expect(o["seconds"] < 2, "took %.1fs: a resolver was waited for" % o["seconds"])
    expect(lines[-1] == {"netns-received": 1}, "%r" % lines[-1])
    r = reports(lines)
    expect(len(r) == 1 and r[0]["type"] == 0 and r[0]["result-type"] == "validation-failure", "%r" % r)
    expect(r[0]["policy"]["policy-type"] == "tlsa" and r[0]["policy"]["policy-domain"] == "dane-ok.test", "%r" % r)
    why = r[0]["failure-reason-code"]
    expect(why.startswith("untrusted-resolver: ") and "192.0.2.53" in why and "smtp_tls_set_resolver" in why,
           "reason %r" % why)


CASES = [
    ("dane_untrusted_resolver", c_dane_untrusted_resolver),
    ("dane_app_context_untouched", c_dane_app_context_untouched),
    ("dane_records_openssl_refuses", c_dane_records_openssl_refuses),
    ("dane_mx_alias_cname", c_dane_cname),
    ("app_starttls_required_kept", c_app_required_kept),
    ("example_program", c_example_program),
    ("api_arguments", c_api_arguments),
    ("no_policy_costs_nothing", c_no_policy_costs_nothing),
    ("dane_ee_ok", c_dane_ee_ok),
    ("dane_ta_ok", c_dane_ta_ok),
    ("dane_mismatch", c_dane_mismatch),
    ("dane_no_starttls", c_dane_no_starttls),
    ("dane_bogus_tlsa", c_dane_bogus),
    ("dane_unusable_records", c_dane_unusable),
    ("dane_other_port", c_dane_unusable_needs_tls),
    ("dane_insecure_zone", c_dane_insecure_zone),
    ("dane_no_tlsa", c_dane_no_tlsa),
    ("dane_resolver_unreachable", c_dane_resolver_down),
    ("cert_event_refuses", c_cert_event_refuses),
    ("sts_enforce_ok", c_sts_enforce_ok),
    ("sts_mx_mismatch", c_sts_mx_mismatch),
    ("sts_testing_expired_cert", c_sts_testing_expired),
    ("sts_enforce_wrong_name", c_sts_enforce_badname),
    ("sts_no_starttls", c_sts_no_starttls),
    ("sts_policy_unreachable", fetch_failure_case("sts-unreachable.test", "sts-policy-fetch-error")),
    ("sts_policy_stalls", fetch_failure_case("sts-stall.test", "sts-policy-fetch-error", 1500, 6)),
    ("sts_policy_huge", fetch_failure_case("sts-huge.test", "sts-policy-invalid")),
    ("sts_policy_not_text", fetch_failure_case("sts-html.test", "sts-policy-invalid")),
    ("sts_policy_untrusted_cert", fetch_failure_case("sts-webpki.test", "sts-webpki-invalid")),
    ("sts_policy_garbage", fetch_failure_case("sts-garbage.test", "sts-policy-invalid")),
    ("sts_txt_malformed", c_sts_bad_txt),
    ("sts_policy_cached", c_sts_cache),
    ("dane_then_sts", c_dane_then_sts),
    ("opportunistic", c_opportunistic),
    ("tlsrpt_aggregate", c_report_aggregate),
]


def build_client(lib, include, out, name="policy_client.c"):
    """One of this directory's test clients, linked to the library under test."""
    src = os.path.join(HERE, name)
    cmd = ["cc", "-O1", "-Wall", "-Wextra", "-Werror", "-I", include, src, "-o", out,
           "-L", lib, "-Wl,-rpath," + os.path.abspath(lib), "-lesmtp", "-lssl", "-lcrypto"]
    subprocess.run(cmd, check=True)


def memcheck():
    """How the runners put a client under valgrind: any error or definite
    leak fails it (exit 99)."""
    return ["valgrind", "-q", "--error-exitcode=99", "--leak-check=full",
            "--errors-for-leak-kinds=definite", "--show-leak-kinds=definite",
            "--suppressions=" + os.path.join(HERE, "..", "valgrind.supp")]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", required=True)
    ap.add_argument("--include", required=True)
    ap.add_argument("-k", help="run the cases whose name contains this")
    ap.add_argument("--valgrind", action="store_true", help="run the client under memcheck")
    args = ap.parse_args()
    if args.valgrind:
        VALGRIND.extend(memcheck())
    work = tempfile.mkdtemp(prefix="policy-")
    os.chmod(work, 0o700)
    client = os.path.join(work, "policy_client")
    build_client(args.lib, args.include, client)
    started = time.monotonic()
    bed = Bed(work)
    bed.lib, bed.include = args.lib, args.include
    failed = 0
    ran = 0
    try:
        for name, case in CASES:
            if args.k and args.k not in name:
                continue
            if args.valgrind and case is c_no_policy_costs_nothing:
                continue
            ran += 1
            t = time.monotonic()
            try:
                case(bed, client)
                print("ok %s (%.1fs)" % (name, time.monotonic() - t))
            except Skip as e:
                print("skip %s: %s" % (name, e))
                if os.environ.get("CI") == "true":
                    failed += 1
                sys.stdout.flush()
                continue
            except (Failure, subprocess.TimeoutExpired, json.JSONDecodeError, KeyError) as e:
                failed += 1
                print("FAIL %s: %s" % (name, e))
            sys.stdout.flush()
    finally:
        bed.stop()
    print("policy: %d passed, %d failed in %.1fs" % (ran - failed, failed, time.monotonic() - started))
    if failed == 0:
        shutil.rmtree(work, ignore_errors=True)
    else:
        print("work directory kept: " + work)
    return 1 if failed or ran == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
