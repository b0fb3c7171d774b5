#!/usr/bin/python3
"""Delivery to a recipient domain (smtp_set_mx_domain) through the built
libesmtp.so.6, against real components on loopback: nsd and a validating
unbound (dnsfixture.py) serving MX RRsets secure, insecure and bogus, and
SMTP servers on 127.0.0.21-27 that all listen on one port, as MX hosts do:
two aiosmtpd servers with STARTTLS, one without, an address where nothing
listens, one whose accept queue is full (connections time out), one that
greets 421 and one that greets 554.

Each case runs mx_client.c and checks the outcome, the statuses, which
host took the mail (smtp_get_server_name), which server received it, and
the TLSRPT results.  usage: run_mx.py --lib target/lib --include include
[-k NAME] [--valgrind]
"""

import argparse
import json
import os
import shutil
import socket
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
from run_policy import (Recorder, chain_file, Failure, expect, reports, STS_ENFORCE,  # noqa: E402
                        build_client, memcheck)
import run_tlsrpt_submit  # noqa: E402

from aiosmtpd.controller import Controller  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
CASE_TIMEOUT = 60
ERR_NULL_MX = 101
ERR_TLS_POLICY = 100
ECONNREFUSED = 111
VALGRIND = []
SLOW = [1]

ADDR = {"good1": "127.0.0.21", "good2": "127.0.0.22", "refuse": "127.0.0.23", "blackhole": "127.0.0.24",
        "busy": "127.0.0.25", "reject": "127.0.0.26", "plain": "127.0.0.27", "busy6": "::1"}
MANY = 300


class Keeper(Recorder):
    """Also keeps each message whole, as run_tlsrpt_submit.check_mail reads it."""

    def __init__(self, name):
        super().__init__(name)
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.messages.append({"from": envelope.mail_from, "to": list(envelope.rcpt_tos),
                                  "data": envelope.original_content or envelope.content})
        return await super().handle_DATA(server, session, envelope)


class Smtp:
    """aiosmtpd on one address of the shared port."""

    def __init__(self, name, port, chain=None, key=None):
        self.rec = Keeper(name)
        ctx = None
        if chain:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(chain, key)
        self.ctl = Controller(self.rec, hostname=ADDR[name], port=port, tls_context=ctx,
                              server_hostname="mx.test", ready_timeout=10)

    def start(self):
        self.ctl.start()

    def stop(self):
        self.ctl.stop()

    def count(self):
        with self.rec.lock:
            return len(self.rec.received)


class Greeter:
    """Greets every connection with one reply, answers QUIT with 221 and
    closes; counts connections."""

    def __init__(self, name, port, greeting):
        self.sock = socket.socket(socket.AF_INET6 if ":" in ADDR[name] else socket.AF_INET)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((ADDR[name], port))
        self.sock.listen(64)
        self.sock.settimeout(0.2)
        self.greeting = greeting
        self.connections = 0
        self.stopping = False
        self.thread = threading.Thread(target=self.serve, daemon=True)

    def start(self):
        self.thread.start()

    def serve(self):
        while not self.stopping:
            try:
                c, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            with c:
                c.settimeout(2)
                try:
                    c.sendall(self.greeting)
                    if c.recv(512).upper().startswith(b"QUIT"):
                        c.sendall(b"221 bye\r\n")
                except OSError:
                    pass

    def stop(self):
        self.stopping = True
        self.thread.join(5)
        self.sock.close()

    def count(self):
        return 0


class BlackHole:
    """A listener that never accepts, its queue filled: the kernel drops
    further SYNs, so connecting times out as with a host that is gone."""

    def __init__(self, port):
        self.sock = socket.socket()
        self.sock.bind((ADDR["blackhole"], port))
        self.sock.listen(0)
        self.fillers = []

    def start(self):
        for _ in range(3):
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex((ADDR["blackhole"], self.sock.getsockname()[1]))
            self.fillers.append(s)
        time.sleep(0.2)

    def stop(self):
        for s in self.fillers:
            s.close()
        self.sock.close()

    def count(self):
        return 0


def shared_port():
    """A port free on every address of ADDR."""
    for _ in range(100):
        port = dnsfixture.free_port(ADDR["good1"])
        try:
            for ip in ADDR.values():
                with socket.socket(socket.AF_INET6 if ":" in ip else socket.AF_INET) as s:
                    s.bind((ip, port))
            return port
        except OSError:
            continue
    raise Failure("no port free on all the MX addresses")


class Bed:
    def __init__(self, work):
        self.work = work
        mx_names = ["mx%d.order.test" % i for i in range(1, 5)] + [
            "mx1.reject.test", "mx2.reject.test", "implicit.test", "dual.test", "mxa.equal.test", "mxb.equal.test",
            "mx.dane-mx.test", "mx1.dane-bad-mx.test", "mx2.dane-bad-mx.test", "mx.tlsa-wrong.test",
            "mx1.sts-two.test", "mx2.sts-two.test", "alias.cname-mx.test"]
        names = {"mx": mx_names, "wrong": ["other.test"], "web": ["mta-sts.sts-two.test"]}
        self.pki = pki.make(os.path.join(work, "pki"), names)
        mx_cert, mx_key = self.pki.certs["mx"]
        wrong_cert, _ = self.pki.certs["wrong"]
        self.port = port = shared_port()
        chain = chain_file(self.pki.dir, "mx", mx_cert, self.pki.ca)
        self.servers = {
            "good1": Smtp("good1", port, chain, mx_key),
            "good2": Smtp("good2", port, chain, mx_key),
            "plain": Smtp("plain", port),
            "busy": Greeter("busy", port, b"421 4.3.2 too busy, try another MX\r\n"),
            "reject": Greeter("reject", port, b"554 5.7.1 no mail accepted here\r\n"),
            "busy6": Greeter("busy6", port, b"421 4.3.2 busy on IPv6\r\n"),
            "blackhole": BlackHole(port),
        }
        for s in self.servers.values():
            s.start()
        rec = []

        def a(name, ip):
            rec.append("%s. 300 IN A %s" % (name, ip))

        def mx(domain, pref, host):
            rec.append("%s. 300 IN MX %d %s." % (domain, pref, host))

        def tlsa(host, cert):
            rec.append(pki.tlsa_record("_%d._tcp.%s." % (port, host), cert))

        for i, srv in enumerate(("refuse", "blackhole", "busy", "good1"), 1):
            mx("order.test", i * 10, "mx%d.order.test" % i)
            a("mx%d.order.test" % i, ADDR[srv])
        mx("reject.test", 10, "mx1.reject.test")
        a("mx1.reject.test", ADDR["reject"])
        mx("reject.test", 20, "mx2.reject.test")
        a("mx2.reject.test", ADDR["good1"])
        rec.append("nullmx.test. 300 IN MX 0 .")
        # The root among other records is a zone error, not a null MX.
        rec.append("rootmix.test. 300 IN MX 0 .")
        mx("rootmix.test", 10, "mx4.order.test")
        # An implicit MX with both families: IPv6 first.
        a("dual.test", ADDR["good1"])
        rec.append("dual.test. 300 IN AAAA ::1")
        a("implicit.test", ADDR["good1"])
        mx("equal.test", 10, "mxa.equal.test")
        mx("equal.test", 10, "mxb.equal.test")
        a("mxa.equal.test", ADDR["good1"])
        a("mxb.equal.test", ADDR["good2"])
        mx("dane-mx.test", 10, "mx.dane-mx.test")
        a("mx.dane-mx.test", ADDR["good1"])
        tlsa("mx.dane-mx.test", mx_cert)
        mx("dane-bad-mx.test", 10, "mx1.dane-bad-mx.test")
        a("mx1.dane-bad-mx.test", ADDR["good1"])
        tlsa("mx1.dane-bad-mx.test", wrong_cert)
        mx("dane-bad-mx.test", 20, "mx2.dane-bad-mx.test")
        a("mx2.dane-bad-mx.test", ADDR["good2"])
        tlsa("mx2.dane-bad-mx.test", mx_cert)
        # One host whose TLSA records do not match its certificate, named
        # by a secure MX RRset and by an insecure one.
        a("mx.tlsa-wrong.test", ADDR["good1"])
        tlsa("mx.tlsa-wrong.test", wrong_cert)
        mx("secure-mx.test", 10, "mx.tlsa-wrong.test")
        mx("bogus-mx.test", 10, "mx4.order.test")
        mx("sts-two.test", 10, "mx1.sts-two.test")
        mx("sts-two.test", 20, "mx2.sts-two.test")
        a("mx1.sts-two.test", ADDR["good2"])
        a("mx2.sts-two.test", ADDR["good1"])
        rec.append('_mta-sts.sts-two.test. 300 IN TXT "v=STSv1; id=20261208;"')
        a("mta-sts.sts-two.test", "127.0.0.1")
        for i in range(MANY):
            mx("many.test", 10 + i, "mx%d.many.test" % i)
            a("mx%d.many.test" % i, ADDR["busy"])
        mx("iplit.test", 10, "127.0.0.21")
        mx("cname-mx.test", 10, "alias.cname-mx.test")
        rec.append("alias.cname-mx.test. 300 IN CNAME mx4.order.test.")
        mx("long-chain.test", 10, "c0.long-chain.test")
        for i in range(12):
            rec.append("c%d.long-chain.test. 300 IN CNAME c%d.long-chain.test." % (i, i + 1))
        a("c12.long-chain.test", ADDR["good1"])
        # TLS reports mailed by MX delivery: the host's certificate does not
        # name it, and opportunistic TLS delivers anyway (RFC 8460 §5.3).
        rec.append('_smtp._tls.rpt-mx.test. 300 IN TXT "v=TLSRPTv1; rua=mailto:reports@rpt-mx.test"')
        mx("rpt-mx.test", 10, "unnamed.rpt-mx.test")
        a("unnamed.rpt-mx.test", ADDR["good1"])
        insecure = ["insecure-mx.plain. 300 IN MX 10 mx.tlsa-wrong.test."]
        self.dns = dnsfixture.DnsFixture(os.path.join(work, "dns"), rec, insecure,
                                         bogus_names=["bogus-mx.test."])
        ip, dport = self.dns.start()
        self.resolver = "%s:%d" % (ip, dport)
        # unbound's first fetch of the 300-record RRset takes it about 5 s
        # (a SERVFAIL, then TCP to nsd): cached here, so that the case
        # measures the library, not unbound's first fetch.
        for _ in range(3):
            try:
                if dnsfixture.query((ip, dport), "many.test", "MX", tcp=True, timeout=10).rcode == 0:
                    break
            except OSError:
                pass
        web_cert, web_key = self.pki.certs["web"]
        policy = STS_ENFORCE.format(mx="mx2.sts-two.test")
        self.sts = stsserver.StsServer(web_cert, web_key, {"mta-sts.sts-two.test": ("policy", policy)})
        self.sts_port = self.sts.start()
        conf = os.path.join(work, "xdg", "libesmtp")
        os.makedirs(conf, mode=0o700)
        os.chmod(os.path.dirname(conf), 0o700)
        shutil.copy(self.pki.ca, os.path.join(conf, "ca.pem"))
        os.chmod(os.path.join(conf, "ca.pem"), 0o600)
        self.env = dict(os.environ, XDG_CONFIG_DIR=os.path.dirname(conf), HOME=work)

    def counts(self):
        return {k: (s.connections if isinstance(s, Greeter) else s.count()) for k, s in self.servers.items()}

    def stop(self):
        for s in self.servers.values():
            s.stop()
        self.sts.stop()
        self.dns.stop()


POLICY = {"none": 0, "opportunistic": 1, "dane": 2, "sts": 3, "dane-sts": 4}


def send(bed, client, domain, policy="none", timeout=1000):
    # Under valgrind the client is 20 times slower: DNS and policy fetch
    # timeouts too short for it would change the outcome, not test it.
    timeout *= SLOW[0]
    args = [client, "%s:%d" % (domain, bed.port), "rcpt@" + domain, "--policy", str(POLICY[policy]),
            "--resolver", bed.resolver, "--sts-port", str(bed.sts_port), "--timeout", str(timeout)]
    before = bed.counts()
    p = subprocess.run(VALGRIND + args, capture_output=True, text=True, env=bed.env, timeout=CASE_TIMEOUT)
    if p.returncode != 0:
        raise Failure("client exit %d: %s" % (p.returncode, p.stderr.strip()[-2000:]))
    lines = [json.loads(x) for x in p.stdout.splitlines() if x.strip()]
    out = [x for x in lines if "outcome" in x]
    expect(len(out) == 1, "no outcome: %r" % lines)
    after = bed.counts()
    got = {k: after[k] - before[k] for k in after if after[k] != before[k]}
    return out[0], got, lines


def connects(lines):
    return sum(1 for x in lines if x.get("event") == "connect")


def delivered_to(bed, o, got, server, host):
    expect(o["outcome"] == 1 and o["message"] == 250 and o["recipient"] == 250, "not delivered: %r" % o)
    expect(o["server"] == host, "delivered by %r, not %s" % (o["server"], host))
    expect(got.get(server) == 1, "server counts changed by %r, expected one message at %s" % (got, server))


# ----------------------------------------------------------------- cases

def c_order_and_fallback(bed, client):
    # Refused, timed out, 421: each sends us on to the next MX by preference.
    o, got, lines = send(bed, client, "order.test")
    delivered_to(bed, o, got, "good1", "mx4.order.test")
    expect(got.get("busy") == 1, "the 421 host was not tried once: %r" % got)
    expect(connects(lines) == 2, "connections: %d (the 421 host, then mx4)" % connects(lines))
    expect(o["seconds"] < 10 * SLOW[0], "took %.1f s" % o["seconds"])


def c_reject_stops(bed, client):
    # A 5xx greeting ends delivery: the next MX is not tried.
    o, got, _ = send(bed, client, "reject.test")
    expect(o["outcome"] == 0 and got == {"reject": 1}, "outcome %r, counts %r" % (o, got))
    # The greeting comes before EHLO announces ENHANCEDSTATUSCODES: its
    # "5.7.1" is text, and the status says only 5.0.0.
    expect(o["recipient"] == 554 and o["complete"] == 1 and o["recipient-enh"] == [5, 0, 0], "%r" % o)
    expect("mx1.reject.test" in o["recipient-text"] and "(client)" in o["recipient-text"], "%r" % o)


def c_null_mx(bed, client):
    o, got, lines = send(bed, client, "nullmx.test")
    expect(o["outcome"] == 0 and o["errno"] == ERR_NULL_MX and not got and connects(lines) == 0, "%r %r" % (o, got))
    expect(o["recipient"] == 556 and o["recipient-enh"] == [5, 1, 10] and o["complete"] == 1, "%r" % o)
    expect(o["message"] == 556 and "null" in o["recipient-text"], "%r" % o)


def c_root_among_others(bed, client):
    o, got, _ = send(bed, client, "rootmix.test")
    delivered_to(bed, o, got, "good1", "mx4.order.test")


def c_implicit_mx(bed, client):
    o, got, _ = send(bed, client, "implicit.test")
    delivered_to(bed, o, got, "good1", "implicit.test")


def c_ipv6_then_ipv4(bed, client):
    o, got, lines = send(bed, client, "dual.test")
    expect(got.get("busy6") == 1, "the IPv6 address was not tried first: %r" % got)
    delivered_to(bed, o, got, "good1", "dual.test")


def c_no_such_domain(bed, client):
    o, got, lines = send(bed, client, "nonexistent.test")
    expect(o["outcome"] == 0 and not got and connects(lines) == 0, "%r %r" % (o, got))
    expect(o["recipient"] == 0 and o["complete"] == 0, "statuses touched: %r" % o)


def c_equal_preference_shares(bed, client):
    # Equal preferences in random order: 16 deliveries reach both hosts
    # (all to one: probability 2^-15).
    hosts = set()
    for _ in range(16):
        o, got, _ = send(bed, client, "equal.test")
        expect(o["outcome"] == 1 and sum(got.values()) == 1, "%r %r" % (o, got))
        hosts.add(o["server"])
    expect(hosts == {"mxa.equal.test", "mxb.equal.test"}, "hosts used: %r" % hosts)


def c_dane_secure_mx(bed, client):
    o, got, lines = send(bed, client, "dane-mx.test", "dane")
    delivered_to(bed, o, got, "good1", "mx.dane-mx.test")
    r = reports(lines)
    expect(len(r) == 1 and r[0]["type"] == 1 and r[0]["policy"]["policy-type"] == "tlsa", "%r" % r)
    expect(r[0]["policy"]["policy-domain"] == "dane-mx.test", "%r" % r)


def c_dane_failure_next_mx(bed, client):
    # TLSA mismatch at the first MX: reported, and the second MX takes it.
    o, got, lines = send(bed, client, "dane-bad-mx.test", "dane")
    delivered_to(bed, o, got, "good2", "mx2.dane-bad-mx.test")
    r = reports(lines)
    expect([x["type"] for x in r] == [0, 1], "%r" % r)
    expect(r[0]["receiving-mx-hostname"] == "mx1.dane-bad-mx.test", "%r" % r)


def c_dane_secure_mx_enforced(bed, client):
    # The control for the next case: through a secure MX RRset, the
    # mismatching TLSA records stop delivery.
    o, got, lines = send(bed, client, "secure-mx.test", "dane")
    expect(o["outcome"] == 0 and o["errno"] == ERR_TLS_POLICY and not got.get("good1"), "%r %r" % (o, got))
    expect(any(x["type"] == 0 for x in reports(lines)), "no failure reported")


def c_dane_insecure_mx(bed, client):
    # The same host named by an MX RRset that is not signed: its TLSA
    # records must not apply (RFC 7672 §2.2), so the mail goes.
    o, got, lines = send(bed, client, "insecure-mx.plain", "dane")
    delivered_to(bed, o, got, "good1", "mx.tlsa-wrong.test")
    expect(not any(x["type"] == 0 for x in reports(lines)), "a failure was reported: %r" % reports(lines))


def c_bogus_mx(bed, client):
    o, got, lines = send(bed, client, "bogus-mx.test", "dane")
    expect(o["outcome"] == 0 and not got and connects(lines) == 0, "%r %r" % (o, got))
    r = reports(lines)
    expect(len(r) == 1 and r[0].get("result-type") == "dnssec-invalid", "%r" % r)


def c_bogus_mx_no_policy(bed, client):
    o, got, lines = send(bed, client, "bogus-mx.test")
    expect(o["outcome"] == 0 and not got and connects(lines) == 0, "%r %r" % (o, got))


def c_sts_one_mx_matches(bed, client):
    o, got, lines = send(bed, client, "sts-two.test", "sts")
    delivered_to(bed, o, got, "good1", "mx2.sts-two.test")
    r = reports(lines)
    fail = [x for x in r if x["type"] == 0]
    expect(len(fail) == 1 and fail[0]["receiving-mx-hostname"] == "mx1.sts-two.test", "%r" % r)
    expect(fail[0]["policy"]["policy-type"] == "sts", "%r" % r)
    expect(any(x["type"] == 1 and x["receiving-mx-hostname"] == "mx2.sts-two.test" for x in r), "%r" % r)


def c_many_mx_bounded(bed, client):
    # 300 MX records: 10 hosts are tried, not 300.
    o, got, lines = send(bed, client, "many.test")
    expect(o["outcome"] == 0 and got == {"busy": 10}, "%r %r" % (o, got))
    expect(o["seconds"] < 15 * SLOW[0], "took %.1f s" % o["seconds"])


def c_ip_literal_mx(bed, client):
    o, got, lines = send(bed, client, "iplit.test")
    expect(o["outcome"] == 0 and not got and connects(lines) == 0, "%r %r" % (o, got))


def c_mx_alias(bed, client):
    o, got, _ = send(bed, client, "cname-mx.test")
    delivered_to(bed, o, got, "good1", "alias.cname-mx.test")


def c_long_cname_chain(bed, client):
    o, got, lines = send(bed, client, "long-chain.test")
    expect(o["outcome"] == 0 and not got and connects(lines) == 0, "%r %r" % (o, got))


def c_example_program(bed, client):
    # The README's example, built as a user would, on a DANE domain and on
    # a null MX.
    exe = os.path.join(bed.work, "esmtp_mx_deliver")
    src = os.path.join(HERE, "..", "demo", "esmtp_mx_deliver.c")
    subprocess.run(["cc", "-Wall", "-Wextra", "-Werror", "-I", bed.include, src, "-o", exe, "-L", bed.lib,
                    "-Wl,-rpath," + os.path.abspath(bed.lib), "-lesmtp"], check=True)
    before = bed.counts()
    run = lambda rcpt: subprocess.run(VALGRIND + [exe, rcpt, bed.resolver, str(bed.port), str(bed.sts_port)],
                                      capture_output=True, text=True, env=bed.env, timeout=CASE_TIMEOUT)
    p = run("someone@dane-mx.test")
    out = p.stdout.splitlines()
    expect(p.returncode == 0 and bed.counts()["good1"] == before["good1"] + 1,
           "%r %r %r %r" % (p.returncode, bed.counts(), before, p.stderr))
    expect(out[0].startswith("tls report: ") and json.loads(out[0][12:])["type"] == 1, "%r" % out)
    expect(out[1] == "delivered by mx.dane-mx.test: message 250, recipient 250", "%r" % out)
    p = run("someone@nullmx.test")
    expect(p.returncode == 1 and p.stdout.startswith("not delivered: The domain accepts no mail (null MX); "
                                                     "recipient 556 "), "%r" % p.stdout)


def c_tls_report_by_mx(bed, client):
    # smtp_tlsrpt_submit from a session that delivers by MX: the report
    # goes to the rua domain's MX host, whose certificate does not name it.
    before = len(bed.servers["good1"].rec.messages)
    report, outs, end = run_tlsrpt_submit.run_client(bed, "rpt-mx.test", ["--mx", "any.test:%d" % bed.port],
                                                     relay=False, timeout=1000 * SLOW[0])
    expect(end["rc"] == 1 and [o["ok"] for o in outs] == [1], "%r %r" % (outs, end))
    msgs = bed.servers["good1"].rec.messages[before:]
    expect(len(msgs) == 1 and bed.servers["good1"].rec.received[-1]["tls"], "%r" % msgs)
    run_tlsrpt_submit.check_mail(msgs[0], "reports@rpt-mx.test", "rpt-mx.test", report)


def c_api_arguments(bed, client):
    p = subprocess.run(VALGRIND + [client, "--api-checks"], capture_output=True, text=True, env=bed.env,
                       timeout=CASE_TIMEOUT)
    expect(p.returncode == 0, p.stderr)
    got = [json.loads(x) for x in p.stdout.splitlines()]
    rc = [x["rc"] for x in got if "call" in x]
    expect(rc == [0, 0, 0, 0, 0, 0, 1, 1, 1, 1], "%r" % got)
    expect(got[-1] == {"strerror": "The domain accepts no mail (null MX)"}, "%r" % got[-1])


CASES = [(n[2:], f) for n, f in list(globals().items()) if n.startswith("c_") and callable(f)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", required=True)
    ap.add_argument("--include", required=True)
    ap.add_argument("-k", help="run the cases whose name contains this")
    ap.add_argument("--valgrind", action="store_true", help="run the client under memcheck")
    args = ap.parse_args()
    if args.valgrind:
        VALGRIND.extend(memcheck())
        SLOW[0] = 5
        run_tlsrpt_submit.VALGRIND.extend(VALGRIND)
    work = tempfile.mkdtemp(prefix="mx-")
    os.chmod(work, 0o700)
    client = os.path.join(work, "mx_client")
    build_client(args.lib, args.include, client, "mx_client.c")
    started = time.monotonic()
    bed = Bed(work)
    bed.lib, bed.include = args.lib, args.include
    bed.client = os.path.join(work, "tlsrpt_client")
    build_client(args.lib, args.include, bed.client, "tlsrpt_client.c")
    failed = ran = 0
    try:
        for name, case in CASES:
            if args.k and args.k not in name:
                continue
            if args.valgrind and case is c_equal_preference_shares:
                continue
            ran += 1
            t = time.monotonic()
            try:
                case(bed, client)
                print("ok %s (%.1fs)" % (name, time.monotonic() - t))
            except (Failure, subprocess.TimeoutExpired, json.JSONDecodeError, KeyError) as e:
                failed += 1
                print("FAIL %s: %s" % (name, e))
            sys.stdout.flush()
    finally:
        bed.stop()
    print("mx: %d passed, %d failed in %.1fs" % (ran - failed, failed, time.monotonic() - started))
    if failed == 0:
        shutil.rmtree(work, ignore_errors=True)
    else:
        print("work directory kept: " + work)
    return 1 if failed or ran == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
