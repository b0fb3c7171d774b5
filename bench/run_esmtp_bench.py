#!/usr/bin/python3
"""libesmtp.so.6 benchmark: the same C program (bench/esmtp_bench.c, built
once against Debian's libesmtp.h) run with Debian's libesmtp and with ours,
alternately, pair by pair.

  bench/run_esmtp_bench.py [--runs N] [--no-callgrind]

Scenarios:
  a  one session of 2,000 messages (~8 KiB, 5 recipients) to bench/sink.py
  b  1,000 sessions of one message to bench/sink.py
  c  one session of 20 messages to Postfix's smtp-sink (delayed ACKs)
  d  one STARTTLS session of 2,000 messages to bench/sink.py
  e  200 STARTTLS sessions of one message, one process each (libESMTP
     1.1.0 cannot run a second STARTTLS session in a process)
  g  against the physical floor (bench/smtp_floor.c, a raw-socket client
     that only does what SMTP needs) with a C sink (bench/sink.c): 1,000
     sessions of one message, and one session of 25,000 messages; client
     and server CPU for the floor, libESMTP and ours, and callgrind counts
     per message
  f  tlsconn: 300 STARTTLS sessions of one message in one process, ours
     only, against a C sink (bench/sink.c, OpenSSL) that never resumes TLS
     sessions and one that sends TLS 1.3 tickets: client and server CPU,
     resumed/full

Reported per library: median CPU time (user+sys), wall time and peak RSS,
the per-pair ratios ours/theirs, and callgrind instruction counts for
smaller runs of a and b (repeatable on a noisy machine). Needs `make` to
have built target/lib; fetches smtp-sink from Debian's postfix package
(apt-get download, unpacked under target/) if it is not there yet.
"""
import argparse
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(REPO, "target", "bench")
DEBIAN_SO = "/usr/lib/x86_64-linux-gnu/libesmtp.so.6.2.0"
PY = "/usr/bin/python3"


from benchlib import timed_popen, timed_wait  # noqa: E402


def sh(*cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


def setup():
    os.makedirs(OUT, exist_ok=True)
    theirs = os.path.join(OUT, "debian-lib")
    os.makedirs(theirs, exist_ok=True)
    link = os.path.join(theirs, "libesmtp.so.6")
    if not os.path.islink(link):
        os.symlink(DEBIAN_SO, link)
    binary = os.path.join(OUT, "esmtp_bench")
    sh("cc", "-O2", "-Wall", "-Wextra", "-Werror", "-I/usr/include",
       os.path.join(REPO, "bench", "esmtp_bench.c"), "-L" + theirs, "-l:libesmtp.so.6", "-lssl",
       "-o", binary)
    sink_dir = os.path.join(REPO, "target", "postfix")
    smtp_sink = os.path.join(sink_dir, "usr", "sbin", "smtp-sink")
    if not os.path.exists(smtp_sink):
        tmp = tempfile.mkdtemp()
        sh("apt-get", "download", "postfix", cwd=tmp, stdout=subprocess.DEVNULL)
        deb = [f for f in os.listdir(tmp) if f.endswith(".deb")][0]
        sh("dpkg-deb", "-x", os.path.join(tmp, deb), sink_dir)
        shutil.rmtree(tmp)
    libs = {"theirs": theirs, "ours": os.path.join(REPO, "target", "lib")}
    pki = os.path.join(OUT, "pki")
    if not os.path.exists(os.path.join(pki, "server.pem")):
        os.makedirs(pki, exist_ok=True)
        def ossl(*a):
            sh("openssl", *a, cwd=pki, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        ossl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
             "-days", "30", "-subj", "/CN=bench CA")
        ossl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
             "-subj", "/CN=localhost")
        with open(os.path.join(pki, "ext.cnf"), "w") as f:
            f.write("subjectAltName=DNS:localhost\n")
        ossl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
             "-CAcreateserial", "-out", "server.pem", "-days", "30", "-extfile", "ext.cnf")
        xdg = os.path.join(pki, "xdg", "libesmtp")
        os.makedirs(xdg, mode=0o700, exist_ok=True)
        os.chmod(os.path.join(pki, "xdg"), 0o700)
        shutil.copy(os.path.join(pki, "ca.pem"), os.path.join(xdg, "ca.pem"))
        os.chmod(os.path.join(xdg, "ca.pem"), 0o600)
    floor = os.path.join(OUT, "smtp_floor")
    sh("cc", "-O2", "-Wall", "-Wextra", "-Werror", os.path.join(REPO, "bench", "smtp_floor.c"), "-o", floor,
       "-lssl", "-lcrypto")
    sh("cc", "-O2", "-Wall", "-Wextra", "-Werror", os.path.join(REPO, "bench", "sink.c"), "-o",
       os.path.join(OUT, "csink"), "-lssl", "-lcrypto")
    return binary, smtp_sink, libs, floor


class Server:
    """A sink on loopback, started for one scenario and stopped by PID."""

    def __init__(self, kind, smtp_sink):
        self.portfile = tempfile.mktemp(dir=OUT)
        if kind in ("sink", "tls-sink"):
            pki = os.path.join(OUT, "pki")
            tls = [os.path.join(pki, "server.pem"), os.path.join(pki, "server.key")] if kind != "sink" else []
            self.proc = subprocess.Popen([PY, os.path.join(REPO, "bench", "sink.py"), self.portfile] + tls,
                                         stdout=subprocess.PIPE)
            for _ in range(100):
                if os.path.exists(self.portfile) and open(self.portfile).read():
                    break
                time.sleep(0.05)
            self.port = int(open(self.portfile).read())
        else:
            import socket
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
            s.close()
            env = dict(os.environ, LD_LIBRARY_PATH=os.path.join(os.path.dirname(os.path.dirname(smtp_sink)),
                                                                "lib", "postfix"))
            self.proc = subprocess.Popen([smtp_sink, "-u", "nobody", "127.0.0.1:%d" % self.port, "128"],
                                         env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(0.3)

    def cpu(self):
        """The server's CPU time so far (user + system, seconds)."""
        f = open("/proc/%d/stat" % self.proc.pid).read().rsplit(")", 1)[1].split()
        return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def measure(binary, lib, server, mode, n, tls=False):
    if tls and mode == "processes":
        # One process per session: CPU summed, peak RSS the largest.
        runs = [measure(binary, lib, server, "sessions", 1, tls) for _ in range(n)]
        return {"cpu": sum(r["cpu"] for r in runs), "wall": sum(r["wall"] for r in runs),
                "rss": max(r["rss"] for r in runs),
                "rss (median process)": statistics.median(r["rss"] for r in runs)}
    env = dict(os.environ, LD_LIBRARY_PATH=lib)
    args = [binary, "127.0.0.1:%d" % server.port, mode, str(n)]
    if tls:
        env["XDG_CONFIG_DIR"] = os.path.join(OUT, "pki", "xdg")
        args = [binary, "localhost:%d" % server.port, mode, str(n), "tls"]
    t0 = time.monotonic()
    proc = timed_popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    status, user, sys_, rss = timed_wait(proc)
    wall = time.monotonic() - t0
    err = proc.stderr.read()
    proc.stderr.close()
    if status != 0:
        raise SystemExit("benchmark run failed with %s: %s" % (lib, err.decode(errors="replace")))
    return {"cpu": user + sys_, "user": user, "sys": sys_, "wall": wall, "rss": rss}


def tlsconn(binary, lib, floor, n, runs):
    """Scenario f: N sessions of one message over STARTTLS (required,
    verified), ours and the floor's, against a C sink (OpenSSL) that never
    resumes and one that sends TLS 1.3 tickets: client and server CPU per
    run, for resumed/full."""
    res = {(who, kind): [] for who in ("floor", "ours") for kind in ("full", "resumed")}
    pki = os.path.join(OUT, "pki")
    for _ in range(runs):
        for who in ("floor", "ours"):
            for kind in ("full", "resumed"):
                tls = [os.path.join(pki, "server.pem"), os.path.join(pki, "server.key")]
                sink, port = start_csink(subprocess.PIPE, tls + (["tickets"] if kind == "resumed" else []))
                if who == "ours":
                    env = dict(os.environ, LD_LIBRARY_PATH=lib, XDG_CONFIG_DIR=os.path.join(pki, "xdg"))
                    args = [binary, "localhost:%d" % port, "sessions", str(n), "tls"]
                else:
                    env = None
                    args = [floor, str(port), "tls", str(n), os.path.join(pki, "ca.pem")] + \
                        (["resume"] if kind == "resumed" else [])
                proc = timed_popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                status, user, sys_, rss = timed_wait(proc)
                out = proc.stdout.read().decode()
                sink.send_signal(signal.SIGTERM)
                report = sink.communicate(timeout=10)[0].decode()
                if status != 0:
                    raise SystemExit("tlsconn run failed (%s): %s" % (who, proc.stderr.read().decode(errors="replace")))
                m = re.search(r"accepted (\d+) user ([\d.]+) sys ([\d.]+) resumed (\d+)", report)
                if int(m.group(1)) != n:
                    raise SystemExit("tlsconn: the sink accepted %s of %d messages" % (m.group(1), n))
                reused = int(re.search(r"(\d+) TLS sessions resumed", out).group(1))
                if reused != int(m.group(4)):
                    raise SystemExit("tlsconn: the client saw %d resumptions, the sink %s" % (reused, m.group(4)))
                res[who, kind].append({"cpu": user + sys_, "server": float(m.group(2)) + float(m.group(3)),
                                       "reused": reused})
    return res


def start_csink(stdout, args=()):
    """bench/sink.c on a free loopback port: the process and its port."""
    portfile = tempfile.mktemp(dir=OUT)
    sink = subprocess.Popen([os.path.join(OUT, "csink"), portfile] + list(args), stdout=stdout)
    for _ in range(200):
        if os.path.exists(portfile) and open(portfile).read():
            break
        time.sleep(0.01)
    port = int(open(portfile).read())
    os.unlink(portfile)
    return sink, port


def against_floor(binary, libs, floor, mode, n):
    """One run of scenario g for each client, each against a fresh C sink:
    client CPU (wait4) and the sink's own CPU (getrusage at SIGTERM)."""
    out = {}
    for who in ("floor", "theirs", "ours"):
        sink, port = start_csink(subprocess.PIPE)
        if who == "floor":
            args = [floor, str(port)] + (["bulk", str(n)] if mode == "one-session" else [str(n)])
            env = None
        else:
            args = [binary, "127.0.0.1:%d" % port, mode, str(n)]
            env = dict(os.environ, LD_LIBRARY_PATH=libs[who])
        proc = timed_popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        status, user, sys_, _ = timed_wait(proc)
        sink.send_signal(signal.SIGTERM)
        report = sink.communicate(timeout=10)[0].decode()
        if status != 0:
            raise SystemExit("%s failed against the C sink" % who)
        m = re.search(r"accepted (\d+) user ([\d.]+) sys ([\d.]+)", report)
        if int(m.group(1)) != n:
            raise SystemExit("%s: the sink accepted %s of %d messages" % (who, m.group(1), n))
        out[who] = {"cpu": user + sys_, "server": float(m.group(2)) + float(m.group(3))}
    return out


def callgrind_floor(floor, n):
    """Instructions of the floor's bulk session (scenario g)."""
    sink, port = start_csink(subprocess.DEVNULL)
    out = os.path.join(OUT, "callgrind.out")
    r = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out, floor, str(port), "bulk", str(n)],
                       capture_output=True, text=True)
    sink.terminate()
    sink.wait()
    os.unlink(out)
    return int(re.search(r"Collected : (\d+)", r.stderr).group(1))


def measure_floor(floor, server, n):
    t0 = time.monotonic()
    proc = timed_popen([floor, str(server.port), str(n)], stdout=subprocess.DEVNULL)
    status, user, sys_, rss = timed_wait(proc)
    if status != 0:
        raise SystemExit("floor client failed")
    return {"cpu": user + sys_, "wall": time.monotonic() - t0, "rss": rss}


def callgrind(binary, lib, server, mode, n, tls=False):
    out = os.path.join(OUT, "callgrind.out")
    env = dict(os.environ, LD_LIBRARY_PATH=lib)
    args = [binary, "127.0.0.1:%d" % server.port, mode, str(n)]
    if tls:
        env["XDG_CONFIG_DIR"] = os.path.join(OUT, "pki", "xdg")
        args = [binary, "localhost:%d" % server.port, mode, str(n), "tls"]
    r = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out] + args,
                       env=env, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit("callgrind run failed: " + r.stderr[-2000:])
    m = re.search(r"Collected : (\d+)", r.stderr)
    os.unlink(out)
    return int(m.group(1))


SCENARIOS = [
    ("a", "one session, 2,000 messages of 8 KiB x 5 rcpts, fast sink", "sink", "one-session", 2000),
    ("b", "1,000 sessions of one message, fast sink", "sink", "sessions", 1000),
    ("c", "one session, 20 messages, Postfix smtp-sink", "smtp-sink", "one-session", 20),
    ("d", "one STARTTLS session, 2,000 messages", "tls-sink", "one-session", 2000),
    ("e", "200 STARTTLS sessions, one process each", "tls-sink", "processes", 200),
]

TLSCONN_SESSIONS = 300
# Enough for the floor to run about half a second (scenario g).
BULK_MESSAGES = 25000


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--no-callgrind", action="store_true")
    ap.add_argument("--only", help="scenario letters to run, e.g. de")
    ap.add_argument("--rss-probes", type=int, default=31, help="short processes per library for peak RSS")
    args = ap.parse_args()
    binary, smtp_sink, libs, floor = setup()
    lines = ["| scenario | metric | libESMTP 1.1.0 (median) | ours (median) | ours/theirs (median of pairs) |",
             "|---|---|---|---|---|"]
    for key, title, kind, mode, n in SCENARIOS:
        if args.only and key not in args.only:
            continue
        first = len(lines)
        server = Server(kind, smtp_sink)
        try:
            results = {"theirs": [], "ours": [], "floor": []}
            for _ in range(args.runs):
                for who in ("theirs", "ours"):
                    results[who].append(measure(binary, libs[who], server, mode, n, kind == "tls-sink"))
                if mode == "sessions":
                    results["floor"].append(measure_floor(floor, server, n))
        finally:
            server.stop()
        if results["floor"]:
            t = statistics.median(r["cpu"] for r in results["theirs"])
            f = statistics.median(r["cpu"] for r in results["floor"])
            lines.append("| %s: raw-socket floor (bench/smtp_floor.c, no library) | cpu (s) | %.3f | %.3f (floor) | %.3f |"
                         % (key, t, f, f / t))
        metrics = [("cpu", "s", "%.3f"), ("wall", "s", "%.3f"), ("rss", "KiB", "%d")]
        if mode == "processes":
            # The largest of the processes' peaks, and the typical one.
            metrics.append(("rss (median process)", "KiB", "%d"))
        for metric, unit, fmt in metrics:
            t = statistics.median(r[metric] for r in results["theirs"])
            o = statistics.median(r[metric] for r in results["ours"])
            pairs = [b[metric] / a[metric] for a, b in zip(results["theirs"], results["ours"]) if a[metric]]
            ratio = statistics.median(pairs) if pairs else float("nan")
            lines.append("| %s: %s | %s (%s) | %s | %s | %.3f |" % (key, title, metric, unit, fmt % t, fmt % o, ratio))
        if kind == "smtp-sink" or key == "c":
            t = statistics.median(n / r["wall"] for r in results["theirs"])
            o = statistics.median(n / r["wall"] for r in results["ours"])
            lines.append("| %s: %s | messages/s | %.1f | %.1f | %.1f |" % (key, title, t, o, o / t))
        print("\n".join(lines[first:]), flush=True)
    if not args.only or "g" in args.only:
        for label, mode, n in (("1,000 sessions of one message", "sessions", 1000),
                               ("one session, 25,000 messages", "one-session", BULK_MESSAGES)):
            runs = [against_floor(binary, libs, floor, mode, n) for _ in range(args.runs)]
            lines += ["", "| g: %s, C sink | floor (median) | libESMTP 1.1.0 (median) | ours (median) "
                      "| ours/floor | ours/libESMTP |" % label, "|---|---|---|---|---|---|"]
            for metric, name in (("cpu", "client cpu (s)"), ("server", "sink cpu (s)")):
                med = {w: statistics.median(r[w][metric] for r in runs) for w in ("floor", "theirs", "ours")}
                of = statistics.median(r["ours"][metric] / r["floor"][metric] for r in runs if r["floor"][metric])
                ot = statistics.median(r["ours"][metric] / r["theirs"][metric] for r in runs if r["theirs"][metric])
                lines.append("| %s | %.3f | %.3f | %.3f | %.2f | %.2f |"
                             % (name, med["floor"], med["theirs"], med["ours"], of, ot))
            print("\n".join(lines[-4:]), flush=True)
        if not args.no_callgrind:
            # Per message: the difference between 1,200 and 200 messages,
            # so that start-up (the dynamic loader, contexts) drops out.
            server = Server("sink", smtp_sink)
            try:
                o = [callgrind(binary, libs["ours"], server, "one-session", m) for m in (200, 1200)]
            finally:
                server.stop()
            f = [callgrind_floor(floor, m) for m in (200, 1200)]
            po, pf = (o[1] - o[0]) / 1000, (f[1] - f[0]) / 1000
            lines.append("| g: one session: instructions per message (callgrind, user space) | %d | | %d | %.2f | |"
                         % (pf, po, po / pf))
            print(lines[-1], flush=True)
    if not args.only or "f" in args.only:
        # libESMTP 1.1.0 cannot run a second STARTTLS session in a process:
        # ours against itself, full handshakes against resumed ones.
        n = TLSCONN_SESSIONS
        r = tlsconn(binary, libs["ours"], floor, n, args.runs)
        lines += ["", "| f: tlsconn, %d STARTTLS sessions of one message | full handshakes (median) "
                  "| resumed (median) | resumed/full (median of pairs) |" % n, "|---|---|---|---|"]
        for who in ("floor", "ours"):
            for metric, label in (("cpu", "client cpu (s)"), ("server", "server cpu (s)")):
                full = statistics.median(x[metric] for x in r[who, "full"])
                res = statistics.median(x[metric] for x in r[who, "resumed"])
                pairs = [b[metric] / a[metric] for a, b in zip(r[who, "full"], r[who, "resumed"]) if a[metric]]
                lines.append("| %s: %s | %.3f | %.3f | %.3f |" % (who, label, full, res, statistics.median(pairs)))
            lines.append("| %s: sessions resumed | %d | %d | |"
                         % (who, statistics.median(x["reused"] for x in r[who, "full"]),
                            statistics.median(x["reused"] for x in r[who, "resumed"])))
        for metric, label in (("cpu", "client cpu"), ("server", "server cpu")):
            for kind in ("full", "resumed"):
                pairs = [b[metric] / a[metric] for a, b in zip(r["floor", kind], r["ours", kind]) if a[metric]]
                lines.append("| ours/floor, %s, %s | | | %.3f |" % (label, kind, statistics.median(pairs)))
        print("\n".join(lines[-11:]), flush=True)
    if args.rss_probes:
        # Each scenario above gives one peak per run, and where the loader
        # puts libc, libssl and our text (ASLR) moves a process's peak by
        # about 3%: many short processes measure the difference better.
        lines += ["", "| peak RSS of short processes, %d alternating pairs | libESMTP 1.1.0 (median) "
                  "| ours (median) | ours/theirs (median of pairs) |" % args.rss_probes, "|---|---|---|---|"]
        for label, kind, mode, n in (("one session, one message, fast sink", "sink", "sessions", 1),
                                     ("one session, 20 messages, Postfix smtp-sink", "smtp-sink", "one-session", 20),
                                     ("one STARTTLS session, one message", "tls-sink", "sessions", 1)):
            server = Server(kind, smtp_sink)
            try:
                peaks = {"theirs": [], "ours": []}
                for _ in range(args.rss_probes):
                    for who in ("theirs", "ours"):
                        peaks[who].append(measure(binary, libs[who], server, mode, n, kind == "tls-sink")["rss"])
            finally:
                server.stop()
            t, o = statistics.median(peaks["theirs"]), statistics.median(peaks["ours"])
            ratio = statistics.median(b / a for a, b in zip(peaks["theirs"], peaks["ours"]))
            lines.append("| %s | %d KiB | %d KiB | %.3f |" % (label, t, o, ratio))
            print(lines[-1], flush=True)
    if not args.no_callgrind:
        lines.append("")
        lines.append("| callgrind (instructions, client process) | libESMTP 1.1.0 | ours | ours/theirs |")
        lines.append("|---|---|---|---|")
        for label, mode, n, tls in (("a: one session, 200 messages", "one-session", 200, False),
                                    ("b: 100 sessions of one message", "sessions", 100, False),
                                    ("d: one STARTTLS session, 200 messages", "one-session", 200, True),
                                    ("e: one STARTTLS session process", "sessions", 1, True)):
            server = Server("tls-sink" if tls else "sink", smtp_sink)
            try:
                t = callgrind(binary, libs["theirs"], server, mode, n, tls)
                o = callgrind(binary, libs["ours"], server, mode, n, tls)
            finally:
                server.stop()
            lines.append("| %s | %d | %d | %.3f |" % (label, t, o, o / t))
            print(lines[-1], flush=True)
    report = "\n".join(lines) + "\n"
    with open(os.path.join(OUT, "esmtp.md"), "w") as f:
        f.write(report)
    print()
    print(report)


if __name__ == "__main__":
    main()
