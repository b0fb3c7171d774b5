#!/usr/bin/python3
"""What a TLS policy adds to a session, on the policy test bed
(capi-tests/policy: nsd + validating unbound, aiosmtpd with STARTTLS, the
MTA-STS server): median wall time and peak RSS of one-message sessions of
policy_client with no policy, opportunistic, DANE (TLSA matched) and
MTA-STS (policy cached after the first session of each process), and the
client's instructions for one session under callgrind (repeatable, where
the wall times follow the Python servers' load).

usage: bench/policy_latency.py [--runs N]   (after `make`)
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "capi-tests", "policy"))

import run_policy  # noqa: E402


def measure(bed, client, host, server, policy, domain, sessions):
    port = bed.servers[server].port
    args = ["/usr/bin/time", "-f", "%M", client, "%s:%d" % (host, port), "--policy", str(run_policy.POLICY[policy]),
            "--resolver", bed.resolver, "--sts-port", str(bed.sts_port), "--sessions", str(sessions)]
    if domain:
        args += ["--domain", domain]
    t = time.perf_counter()
    p = subprocess.run(args, capture_output=True, text=True, env=bed.env, timeout=60, check=True)
    wall = time.perf_counter() - t
    rss = int(p.stderr.strip().splitlines()[-1])
    secs = [float(x.split('"seconds": ')[1].rstrip("}")) for x in p.stdout.splitlines() if '"outcome"' in x]
    return wall, rss, secs


def instructions(bed, client, host, server, policy, domain):
    port = bed.servers[server].port
    out = os.path.join(bed.work, "callgrind.out")
    args = ["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out, client, "%s:%d" % (host, port),
            "--policy", str(run_policy.POLICY[policy]), "--resolver", bed.resolver, "--sts-port", str(bed.sts_port),
            "--timeout", "20000"]
    if domain:
        args += ["--domain", domain]
    p = subprocess.run(args, capture_output=True, text=True, env=bed.env, timeout=120, check=True)
    os.unlink(out)
    return int(p.stderr.split("Collected : ")[1].split()[0])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=15)
    args = ap.parse_args()
    root = os.path.join(HERE, "..")
    work = tempfile.mkdtemp(prefix="policy-bench-")
    os.chmod(work, 0o700)
    client = os.path.join(work, "policy_client")
    run_policy.build_client(os.path.join(root, "target", "lib"), os.path.join(root, "include"), client)
    bed = run_policy.Bed(work)
    rows = [
        ("no policy (STARTTLS off)", "127.0.0.1", "plain", "none", None),
        ("opportunistic (STARTTLS)", "127.0.0.1", "good", "opportunistic", None),
        ("DANE, TLSA 3 1 1 matched", "mx.dane-ok.test", "good", "dane", "dane-ok.test"),
        ("MTA-STS enforce, policy fetched", "mx.sts-ok.test", "good", "sts", "sts-ok.test"),
    ]
    try:
        print("%-34s %12s %12s %10s %14s" % ("session", "first (ms)", "cached (ms)", "RSS KiB", "instructions"))
        for name, host, server, policy, domain in rows:
            first, later, rss = [], [], []
            for _ in range(args.runs):
                _, r, secs = measure(bed, client, host, server, policy, domain, 2)
                first.append(secs[0] * 1000)
                later.append(secs[1] * 1000)
                rss.append(r)
            print("%-34s %12.2f %12.2f %10d %14d" % (name, statistics.median(first), statistics.median(later),
                                                     statistics.median(rss),
                                                     instructions(bed, client, host, server, policy, domain)))
    finally:
        bed.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
