#!/usr/bin/python3
"""smtp_tlsrpt_submit through the built libesmtp.so.6, against real
components on loopback: the policy test bed (run_policy.Bed: nsd and a
validating unbound, the test CA) with `_smtp._tls` records added, an HTTPS
receiver recording POSTs and an aiosmtpd relay recording mail
(rptreceiver.py).  Each case runs tlsrpt_client.c and checks, field by
field, what each receiver got against RFC 8460: the gunzip'd report, the
request's or message's headers, the subject and the attachment's name.

usage: run_tlsrpt_submit.py --lib target/lib --include include [-k NAME] [--valgrind]
"""

import argparse
import calendar
import email
import email.policy
import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import dnsfixture  # noqa: E402
import rptreceiver  # noqa: E402
import run_policy  # noqa: E402
from run_policy import Failure, expect  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
CASE_TIMEOUT = 60
VALGRIND = []
ERR_INVAL, ERR_EAI_AGAIN, ERR_NO_RECORD = 7, 12, 102
FROM = "tlsrpt@sender.test"
# The reported day: a fixed one, so no run can cross its midnight.
START = calendar.timegm((2026, 3, 1, 0, 0, 0))
END = START + 86400
STALL_TIMEOUT_MS = 1500


def txt(text):
    """A TXT record's data as zone-file strings of at most 255 bytes."""
    return " ".join('"%s"' % text[i:i + 255] for i in range(0, len(text), 255))


def records(https_port):
    u = "https://%%s:%d" % https_port
    rua = {
        "rpt-https.test": ["v=TLSRPTv1; rua=" + u % "rpt-ok.test" + "/tlsrpt/v1?src=test"],
        "rpt-mail.test": ["v=TLSRPTv1; rua=mailto:tlsrpt%2Breports@rpt-mail.test?subject=ignored"],
        "rpt-both.test": ["v=TLSRPTv1;rua=mailto:both@rpt-both.test, " + u % "rpt-ok.test" +
                          "/both ,ftp://rpt-ok.test/x; x-ext=1"],
        "rpt-none.test": ["v=spf1 -all"],
        "rpt-two.test": ["v=TLSRPTv1; rua=mailto:a@rpt-two.test", "v=TLSRPTv1; rua=mailto:b@rpt-two.test"],
        "rpt-nouri.test": ["v=TLSRPTv1; rua=ftp://rpt-ok.test/r,mailto:a..b@rpt-nouri.test"],
        "rpt-huge.test": ["v=TLSRPTv1; rua=mailto:a@rpt-huge.test; x=" + "y" * 3000],
        "rpt-stall.test": ["v=TLSRPTv1; rua=" + u % "rpt-stall.test" + "/"],
        "rpt-redirect.test": ["v=TLSRPTv1; rua=" + u % "rpt-redirect.test" + "/r"],
        "rpt-500.test": ["v=TLSRPTv1; rua=" + u % "rpt-500.test" + "/r"],
        "rpt-refused.test": ["v=TLSRPTv1; rua=mailto:refused@rpt-refused.test"],
    }
    out = ["_smtp._tls.%s. 300 IN TXT %s" % (d, txt(t)) for d, ts in rua.items() for t in ts]
    out += ["%s. 300 IN A 127.0.0.1" % h for h in WEB_HOSTS]
    return out


WEB_HOSTS = ["rpt-ok.test", "rpt-stall.test", "rpt-redirect.test", "rpt-500.test"]


def result(domain, epoch, failure=None):
    """A TLSRPT result as the library's report callback gives it."""
    r = {"epoch": epoch, "type": 0 if failure else 1,
         "policy": {"policy-type": "sts", "policy-domain": domain,
                    "policy-string": ["version: STSv1", "mode: enforce", "mx: mx." + domain],
                    "mx-host": ["mx." + domain]}}
    if failure:
        r["result-type"], r["failure-reason-code"] = failure, "4.7.5 certificate has expired"
    r.update({"sending-mta-ip": "127.0.0.1", "receiving-mx-hostname": "mx." + domain,
              "receiving-ip": "127.0.0.1"})
    return json.dumps(r)


def results_file(bed, domains, name="results"):
    path = os.path.join(bed.work, name + ".jsonl")
    with open(path, "w") as f:
        for d in domains:
            for r in (result(d, START + 3600), result(d, START + 7200),
                      result(d, START + 9000, "certificate-expired"), result(d, END + 10)):
                f.write(r + "\n")
    return path


def run_client(bed, domain, extra=(), relay=None, timeout=3000):
    if relay is None:
        relay = bed.relay
    args = [bed.client, domain, "--results", results_file(bed, [domain]), "--range", str(START), str(END),
            "--resolver", bed.resolver, "--timeout", str(timeout), "--from", FROM]
    if relay:
        args += ["--relay", "127.0.0.1:%d" % relay.port]
    p = subprocess.run(VALGRIND + args + list(extra), capture_output=True, text=True, env=bed.env,
                       timeout=CASE_TIMEOUT)
    if p.returncode != 0:
        raise Failure("client exit %d: %s" % (p.returncode, p.stderr.strip()[-2000:]))
    lines = [json.loads(x) for x in p.stdout.splitlines() if x.strip()]
    rep = [x["report"] for x in lines if "report" in x]
    outs = [x for x in lines if "uri" in x]
    end = [x for x in lines if "rc" in x]
    expect(len(end) == 1, "no result line: %r" % lines)
    return (rep[0] if rep else None), outs, end[0]


def check_report(doc, domain):
    """The RFC 8460 §4.4 document built from results_file's lines."""
    expect(doc["organization-name"] == "Sender Org", "organization-name %r" % doc)
    expect(doc["date-range"] == {"start-datetime": "2026-03-01T00:00:00Z",
                                 "end-datetime": "2026-03-02T00:00:00Z"}, "date-range %r" % doc["date-range"])
    expect(doc["contact-info"] == "mailto:tlsrpt@sender.test", "contact-info %r" % doc)
    expect(doc["report-id"] == "2026-report.1@sender.test", "report-id %r" % doc)
    expect(len(doc["policies"]) == 1, "one policy: %r" % doc["policies"])
    p = doc["policies"][0]
    expect(p["policy"]["policy-type"] == "sts" and p["policy"]["policy-domain"] == domain, "policy %r" % p)
    expect(p["policy"]["mx-host"] == ["mx." + domain], "mx-host %r" % p)
    expect(p["summary"] == {"total-successful-session-count": 2, "total-failure-session-count": 1},
           "summary %r" % p["summary"])
    d = p["failure-details"]
    expect(len(d) == 1 and d[0]["result-type"] == "certificate-expired" and d[0]["failed-session-count"] == 1
           and d[0]["receiving-mx-hostname"] == "mx." + domain and d[0]["receiving-ip"] == "127.0.0.1"
           and d[0]["failure-reason-code"] == "4.7.5 certificate has expired", "failure-details %r" % d)


def check_post(req, path, report):
    expect(req["method"] == "POST" and req["path"] == path, "request %s %s" % (req["method"], req["path"]))
    expect(req["headers"].get("content-type") == "application/tlsrpt+gzip", "content-type %r" % req["headers"])
    expect(req["headers"].get("host") == "rpt-ok.test:%d" % req["port"], "host %r" % req["headers"])
    expect(int(req["headers"].get("content-length", -1)) == len(req["body"]), "content-length")
    body = gzip.decompress(req["body"]).decode()
    expect(json.loads(body) == report, "the POSTed report is not the one built")


def check_mail(msg, to, domain, report):
    """An RFC 8460 §5.3 message, as the relay received it."""
    expect(msg["from"] == FROM and msg["to"] == [to], "envelope %r -> %r" % (msg["from"], msg["to"]))
    m = email.message_from_bytes(msg["data"], policy=email.policy.compat32)
    unfold = lambda v: re.sub(r"\r?\n[ \t]", " ", v or "")  # noqa: E731
    expect(m["From"] == FROM and m["To"] == to, "From/To %r %r" % (m["From"], m["To"]))
    subject = "Report Domain: %s Submitter: sender.test Report-ID: <2026-report.1@sender.test>" % domain
    expect(unfold(m["Subject"]) == subject, "Subject %r" % m["Subject"])
    expect(m["TLS-Report-Domain"] == domain and m["TLS-Report-Submitter"] == "sender.test", "TLS-Report-*")
    expect(m["TLS-Required"] == "No", "TLS-Required %r (RFC 8689)" % m["TLS-Required"])
    expect(m["MIME-Version"] == "1.0", "MIME-Version %r" % m["MIME-Version"])
    expect(m.get_content_type() == "multipart/report" and m.get_param("report-type") == "tlsrpt",
           "Content-Type %r" % m["Content-Type"])
    expect(m["Date"] and email.utils.parsedate_to_datetime(m["Date"]), "Date %r" % m["Date"])
    expect(re.fullmatch(r"<[0-9a-f]{24}\.tlsrpt@sender\.test>", m["Message-ID"] or ""), "Message-ID %r" % m)
    parts = m.get_payload()
    expect(len(parts) == 2 and parts[0].get_content_type() == "text/plain", "parts %r" % parts)
    att = parts[1]
    expect(att.get_content_type() == "application/tlsrpt+gzip", "attachment type %r" % att["Content-Type"])
    expect(att["Content-Transfer-Encoding"] == "base64", "encoding %r" % att["Content-Transfer-Encoding"])
    expect(att.get_content_disposition() == "attachment", "disposition %r" % att["Content-Disposition"])
    name = "sender.test!%s!%d!%d!" % (domain, START, END)
    fn = att.get_filename() or ""
    expect(fn.startswith(name) and re.fullmatch(r"[0-9a-f]{16}\.json\.gz", fn[len(name):]), "filename %r" % fn)
    body = gzip.decompress(att.get_payload(decode=True)).decode()
    expect(json.loads(body) == report, "the mailed report is not the one built")


def counts(bed):
    return bed.rx.count(), len(bed.box.messages())


# ----------------------------------------------------------------- cases

def c_https(bed):
    n = bed.rx.count()
    rep, outs, end = run_client(bed, "rpt-https.test")
    check_report(rep, "rpt-https.test")
    expect(end["rc"] == 1, "rc %r" % end)
    expect(len(outs) == 1 and outs[0]["ok"] == 1 and outs[0]["detail"] == "HTTP status 202", "%r" % outs)
    expect(outs[0]["uri"] == "https://rpt-ok.test:%d/tlsrpt/v1?src=test" % bed.rx_port, "uri %r" % outs)
    expect(bed.rx.count() == n + 1, "receiver got %d" % (bed.rx.count() - n))
    check_post(dict(bed.rx.requests[-1], port=bed.rx_port), "/tlsrpt/v1?src=test", rep)


def c_mail(bed):
    n = len(bed.box.messages())
    rep, outs, end = run_client(bed, "rpt-mail.test")
    expect(end["rc"] == 1, "rc %r" % end)
    expect(len(outs) == 1 and outs[0]["ok"] == 1 and outs[0]["detail"].startswith("250 2.0.0"), "%r" % outs)
    msgs = bed.box.messages()
    expect(len(msgs) == n + 1, "relay got %d" % (len(msgs) - n))
    # RFC 6068: %2B decoded, ?subject= dropped.
    check_mail(msgs[-1], "tlsrpt+reports@rpt-mail.test", "rpt-mail.test", rep)
    expect(not msgs[-1]["tls"], "came over TLS without STARTTLS asked")


def c_mail_starttls(bed):
    n = len(bed.tls_box.messages())
    rep, outs, end = run_client(bed, "rpt-mail.test", ["--starttls-required", "--relay",
                                                       "localhost:%d" % bed.tls_relay.port])
    expect(end["rc"] == 1 and outs[0]["ok"] == 1, "%r %r" % (end, outs))
    msgs = bed.tls_box.messages()
    expect(len(msgs) == n + 1 and msgs[-1]["tls"], "not received over STARTTLS: %r" % msgs[n:])
    check_mail(msgs[-1], "tlsrpt+reports@rpt-mail.test", "rpt-mail.test", rep)


def c_both_and_unused(bed):
    n_rx, n_mail = counts(bed)
    rep, outs, end = run_client(bed, "rpt-both.test")
    expect(end["rc"] == 2, "rc %r" % end)
    expect([o["ok"] for o in outs] == [1, 1, 0], "outcomes %r" % outs)
    expect(outs[0]["uri"] == "mailto:both@rpt-both.test" and outs[2]["uri"] == "ftp://rpt-ok.test/x", "%r" % outs)
    expect(outs[2]["detail"].startswith("not used: ") and "neither mailto nor https" in outs[2]["detail"],
           "%r" % outs[2])
    expect(counts(bed) == (n_rx + 1, n_mail + 1), "receivers got %r" % (counts(bed),))
    check_post(dict(bed.rx.requests[-1], port=bed.rx_port), "/both", rep)
    check_mail(bed.box.messages()[-1], "both@rpt-both.test", "rpt-both.test", rep)


def no_record_case(domain):
    def case(bed):
        before = counts(bed)
        _, outs, end = run_client(bed, domain)
        expect(end["rc"] == -1 and end["errno"] == ERR_NO_RECORD, "result %r" % end)
        expect(end["strerror"] == "No usable TLS reporting record", "strerror %r" % end)
        expect(outs == [] and counts(bed) == before, "something was sent: %r" % outs)
    return case


def failure_case(domain, detail, host=None, max_seconds=5.0, min_seconds=0.0, timeout=3000):
    def case(bed):
        before = counts(bed)
        _, outs, end = run_client(bed, domain, timeout=timeout)
        expect(end["rc"] == 0, "rc %r" % end)
        expect(len(outs) == 1 and outs[0]["ok"] == 0 and re.search(detail, outs[0]["detail"]),
               "outcome %r, want %r" % (outs, detail))
        slack = 4.0 if VALGRIND else 0.0
        expect(min_seconds <= end["seconds"] < max_seconds + slack, "took %.2fs" % end["seconds"])
        if host:
            expect(bed.rx.count(host) == 1 + sum(1 for r in bed.rx.requests[:before[0]] if r["host"] == host),
                   "the receiver did not get the request once")
        expect(bed.rx.count() - before[0] == (1 if host else 0), "requests elsewhere: %r" % bed.rx.requests[-2:])
        expect(len(bed.box.messages()) == before[1], "mail was accepted")
    return case


def c_no_relay(bed):
    _, outs, end = run_client(bed, "rpt-mail.test", relay=False)
    expect(end["rc"] == 0 and outs[0]["ok"] == 0 and "smtp_set_server" in outs[0]["detail"], "%r" % outs)


def c_resolver_down(bed):
    ip, port = dnsfixture.unreachable_resolver()
    args = [bed.client, "rpt-https.test", "--resolver", "%s:%d" % (ip, port), "--timeout", "1000"]
    p = subprocess.run(VALGRIND + args, capture_output=True, text=True, env=bed.env, timeout=CASE_TIMEOUT)
    end = [json.loads(x) for x in p.stdout.splitlines() if '"rc"' in x]
    expect(p.returncode == 0 and end and end[0]["rc"] == -1 and end[0]["errno"] == ERR_EAI_AGAIN, "%r" % end)
    expect(end[0]["seconds"] < 1.5 + (4 if VALGRIND else 0), "took %.2fs" % end[0]["seconds"])


def c_api_arguments(bed):
    p = subprocess.run(VALGRIND + [bed.client, "rpt-none.test", "--api-checks", "--resolver", bed.resolver],
                       capture_output=True, text=True, env=bed.env, timeout=CASE_TIMEOUT)
    expect(p.returncode == 0, "exit %d %s" % (p.returncode, p.stderr[-2000:]))
    got = [json.loads(x) for x in p.stdout.splitlines()]
    rc = [(x["call"], x["rc"], x["errno"]) for x in got if "call" in x]
    want = [(c, -1, ERR_INVAL) for c in ("null session", "null domain", "bad domain", "null from", "bad from",
                                          "null report", "not json", "not a report", "bad report-id",
                                          "another domain's policy")] + [("valid", -1, ERR_NO_RECORD)]
    expect(rc == want, "\n".join("%r (want %r)" % (g, w) for g, w in zip(rc, want) if g != w) or "%r" % rc)
    expect(got[-1] == {"strerror": "No usable TLS reporting record"}, "%r" % got[-1])


def c_reentry(bed):
    n = bed.rx.count()
    _, outs, end = run_client(bed, "rpt-https.test", ["--reenter"])
    expect(end["rc"] == 1 and len(outs) == 1, "%r %r" % (end, outs))
    expect(outs[0]["reenter"] == [-1, ERR_INVAL, 0, ERR_INVAL, 0, ERR_INVAL], "re-entry not refused: %r" % outs[0])
    expect(bed.rx.count() == n + 1, "the report went %d times" % (bed.rx.count() - n))


def c_example_program(bed):
    exe = os.path.join(bed.work, "esmtp_tlsrpt_submit")
    src = os.path.join(HERE, "..", "demo", "esmtp_tlsrpt_submit.c")
    subprocess.run(["cc", "-Wall", "-Wextra", "-Werror", "-I", bed.include, src, "-o", exe, "-L", bed.lib,
                    "-Wl,-rpath," + os.path.abspath(bed.lib), "-lesmtp"], check=True)
    n_rx, n_mail = counts(bed)
    # Results of two domains: only rpt-both.test's may reach rpt-both.test.
    res = results_file(bed, ["rpt-both.test", "rpt-https.test"], "example")
    p = subprocess.run(VALGRIND + [exe, res, "rpt-both.test", FROM, "127.0.0.1:%d" % bed.relay.port,
                                   bed.resolver, "2026-03-01"],
                       capture_output=True, text=True, env=bed.env, timeout=CASE_TIMEOUT)
    expect(p.returncode == 0, "exit %d: %s %s" % (p.returncode, p.stdout, p.stderr[-2000:]))
    out = p.stdout.splitlines()
    expect(len(out) == 4 and out[0].startswith("mailto:both@rpt-both.test: sent: 250 "), "%r" % out)
    expect(out[1] == "https://rpt-ok.test:%d/both: sent: HTTP status 202" % bed.rx_port, "%r" % out)
    expect(out[2].startswith("ftp://rpt-ok.test/x: failed: not used"), "%r" % out)
    expect(out[3] == "report 2026-03-01.rpt-both.test@sender.test taken by 2 addresses", "%r" % out)
    expect(counts(bed) == (n_rx + 1, n_mail + 1), "receivers got %r" % (counts(bed),))
    doc = json.loads(gzip.decompress(bed.rx.requests[-1]["body"]))
    pol = doc["policies"]
    expect(len(pol) == 1 and pol[0]["policy"]["policy-domain"] == "rpt-both.test", "policies %r" % pol)
    expect(pol[0]["summary"]["total-successful-session-count"] == 2, "%r" % pol)
    expect(doc["organization-name"] == "sender.test" and doc["contact-info"] == "mailto:" + FROM, "%r" % doc)


CASES = [
    ("https_receiver", c_https),
    ("mailto_through_relay", c_mail),
    ("mailto_relay_starttls_required", c_mail_starttls),
    ("https_and_mailto_and_unused", c_both_and_unused),
    ("no_record", no_record_case("rpt-none.test")),
    ("two_records", no_record_case("rpt-two.test")),
    ("no_usable_uri", no_record_case("rpt-nouri.test")),
    ("oversized_record", no_record_case("rpt-huge.test")),
    ("https_receiver_stalls", failure_case("rpt-stall.test", r"^timed out$", "rpt-stall.test",
                                           max_seconds=STALL_TIMEOUT_MS / 1000 + 0.5,
                                           min_seconds=STALL_TIMEOUT_MS / 1000 - 0.1, timeout=STALL_TIMEOUT_MS)),
    ("https_redirect_not_followed", failure_case(
        "rpt-redirect.test", r"^HTTP status 302, redirect to \"https://rpt-ok\.test:\d+/followed\" not followed$",
        "rpt-redirect.test")),
    ("https_receiver_500", failure_case("rpt-500.test", r"^HTTP status 500$", "rpt-500.test")),
    ("relay_refuses", failure_case("rpt-refused.test", r"^recipient refused: 550 5\.7\.1 no reports wanted")),
    ("no_relay_set", c_no_relay),
    ("resolver_unreachable", c_resolver_down),
    ("api_arguments", c_api_arguments),
    ("callback_reentry_refused", c_reentry),
    ("example_program", c_example_program),
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", required=True)
    ap.add_argument("--include", required=True)
    ap.add_argument("-k", help="run the cases whose name contains this")
    ap.add_argument("--valgrind", action="store_true", help="run the client under memcheck")
    args = ap.parse_args()
    if args.valgrind:
        VALGRIND.extend(run_policy.memcheck())
    work = tempfile.mkdtemp(prefix="tlsrpt-")
    os.chmod(work, 0o700)
    started = time.monotonic()
    client = os.path.join(work, "tlsrpt_client")
    run_policy.build_client(args.lib, args.include, client, "tlsrpt_client.c")
    rx_port = dnsfixture.free_port()
    bed = run_policy.Bed(work, extra_names={"rpt": WEB_HOSTS, "relay": ["localhost"]},
                         extra_records=records(rx_port))
    bed.lib, bed.include, bed.client, bed.rx_port = args.lib, args.include, client, rx_port
    routes = {"rpt-ok.test": ("status", 202), "rpt-stall.test": ("stall",), "rpt-500.test": ("status", 500),
              "rpt-redirect.test": ("redirect", "https://rpt-ok.test:%d/followed" % rx_port)}
    cert, key = bed.pki.certs["rpt"]
    relay_cert, relay_key = bed.pki.certs["relay"]
    servers = []
    failed = ran = 0
    try:
        bed.rx = rptreceiver.HttpsReceiver(run_policy.chain_file(bed.pki.dir, "rpt", cert, bed.pki.ca), key,
                                           routes, rx_port).start()
        servers.append(bed.rx)
        bed.relay = rptreceiver.Mailbox(dnsfixture.free_port()).start()
        servers.append(bed.relay)
        bed.box = bed.relay
        chain = run_policy.chain_file(bed.pki.dir, "relay", relay_cert, bed.pki.ca)
        bed.tls_relay = rptreceiver.Mailbox(dnsfixture.free_port(), (chain, relay_key)).start()
        servers.append(bed.tls_relay)
        bed.tls_box = bed.tls_relay
        for name, case in CASES:
            if args.k and args.k not in name:
                continue
            ran += 1
            t = time.monotonic()
            try:
                case(bed)
                print("ok %s (%.1fs)" % (name, time.monotonic() - t))
            except (Failure, subprocess.TimeoutExpired, subprocess.CalledProcessError, json.JSONDecodeError,
                    KeyError, IndexError, TypeError, ValueError) as e:
                failed += 1
                print("FAIL %s: %s: %s" % (name, type(e).__name__, e))
            sys.stdout.flush()
    finally:
        for s in servers:
            s.stop()
        bed.stop()
    print("tlsrpt-submit%s: %d passed, %d failed in %.1fs" % (" (valgrind)" if VALGRIND else "", ran - failed,
                                                             failed, time.monotonic() - started))
    if failed == 0:
        shutil.rmtree(work, ignore_errors=True)
    else:
        print("work directory kept: " + work)
    return 1 if failed or ran == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
