#!/usr/bin/python3
"""libopensmtpd.so.0 benchmark: one C filter (bench/osmtpd_bench_filter.c,
built once against Debian's opensmtpd.h) run with Debian's libopensmtpd and
with ours, fed through a socketpair as smtpd does, with a generated stream
of many interleaved sessions of ~50 data lines. Both outputs must be equal
and hold the expected answers, so a broken library cannot look fast.

  bench/run_osmtpd_bench.py [--sessions N] [--runs N]
"""
import argparse
import os
import re
import socket
import statistics
import subprocess
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(REPO, "target", "bench")
DEBIAN = "/usr/lib/x86_64-linux-gnu/libopensmtpd.so.0.1.0"
THEIRS = os.path.join(OUT, "debian-osmtpd")


from benchlib import timed_popen, timed_wait  # noqa: E402


def stream(sessions, lines_per_message=50, interleave=50):
    """The input, and the number of answers a correct filter gives."""
    head = [b"config|smtpd-version|6.8.0p2", b"config|smtp-session-timeout|300",
            b"config|subsystem|smtp-in", b"config|ready"]
    out = [b"\n".join(head) + b"\n"]
    answers = 0
    tok = 0
    # Sessions advance in lock step, `interleave` at a time, like a busy smtpd.
    for base in range(0, sessions, interleave):
        ids = range(base, min(base + interleave, sessions))
        steps = []
        for s in ids:
            r = b"%016x" % (0x1000 + s)
            ts = b"1764650000.%06d" % (s % 1000000)
            ev = []
            def rep(event, params=None):
                ev.append(b"report|0.6|" + ts + b"|smtp-in|" + event + b"|" + r + (b"|" + params if params is not None else b""))
            def fil(phase, params):
                nonlocal tok, answers
                tok += 1
                ev.append(b"filter|0.6|" + ts + b"|smtp-in|" + phase + b"|" + r + b"|" + b"%016x" % tok + b"|" + params)
            rep(b"link-connect", b"localhost|pass|127.0.0.1:%d|127.0.0.1:25" % (10000 + s % 50000))
            rep(b"link-identify", b"EHLO|client%d.example" % s)
            fil(b"mail-from", b"sender%d@example.org" % s)
            answers += 1
            rep(b"tx-begin", b"%08x" % (s + 1))
            rep(b"tx-mail", b"%08x|ok|sender%d@example.org" % (s + 1, s))
            fil(b"rcpt-to", b"rcpt%d@example.org" % s)
            answers += 1
            rep(b"tx-rcpt", b"%08x|ok|rcpt%d@example.org" % (s + 1, s))
            tok += 1
            dt = b"%016x" % tok
            for i in range(lines_per_message):
                ev.append(b"filter|0.6|" + ts + b"|smtp-in|data-line|" + r + b"|" + dt
                          + b"|line %d of message %d: lorem ipsum dolor sit amet" % (i, s))
            ev.append(b"filter|0.6|" + ts + b"|smtp-in|data-line|" + r + b"|" + dt + b"|.")
            answers += lines_per_message + 1
            fil(b"commit", b"")
            answers += 1
            rep(b"tx-commit", b"%08x|4096" % (s + 1))
            rep(b"link-disconnect")
            steps.append(ev)
        # Round-robin the sessions' lines.
        for i in range(max(len(e) for e in steps)):
            for e in steps:
                if i < len(e):
                    out.append(e[i] + b"\n")
    return b"".join(out), answers


def run(binary, libdir, data, callgrind_out=None, answers=None):
    """Feeds `data` through a socketpair; returns the output and the
    figures. With `callgrind_out`, runs under callgrind instead of time(1)
    and the figures are the instructions executed. With `answers`, the
    input is closed only once that many answers arrived (or 60 s passed),
    as smtpd keeps its end open: 0.7 drops what it has not written when
    its input ends (COMPATIBILITY.md O10)."""
    a, b = socket.socketpair()
    env = dict(os.environ, LD_LIBRARY_PATH=libdir)
    t0 = time.monotonic()
    if callgrind_out:
        proc = subprocess.Popen(["valgrind", "--tool=callgrind", "--callgrind-out-file=" + callgrind_out,
                                 binary], stdin=b, stdout=b, stderr=subprocess.PIPE, env=env)
    else:
        proc = timed_popen([binary], stdin=b, stdout=b, env=env)
    b.close()
    chunks = []
    seen = [0]
    done = threading.Event()

    def reader():
        tail = b""
        while True:
            d = a.recv(1 << 20)
            if not d:
                done.set()
                return
            chunks.append(d)
            seen[0] += (tail + d).count(b"\nfilter-")
            tail = d[-8:]
            if answers is not None and seen[0] >= answers:
                done.set()

    t = threading.Thread(target=reader)
    t.start()
    a.sendall(data)
    if answers is not None:
        done.wait(60)
    a.shutdown(socket.SHUT_WR)
    if callgrind_out:
        err = proc.stderr.read().decode()
        status = proc.wait()
        t.join()
        a.close()
        m = re.search(r"Collected : (\d+)", err)
        os.unlink(callgrind_out)
        if status != 0 or not m:
            raise SystemExit("filter failed under callgrind with %s: %s" % (libdir, err[-2000:]))
        return b"".join(chunks), {"instructions": int(m.group(1))}
    status, user, sys_, rss = timed_wait(proc)
    wall = time.monotonic() - t0
    t.join()
    a.close()
    if status != 0:
        raise SystemExit("filter failed with %s" % libdir)
    return b"".join(chunks), {"cpu": user + sys_, "user": user, "sys": sys_, "wall": wall, "rss": rss}


def build_filter():
    """The benchmark filter, built against Debian's header and library."""
    os.makedirs(THEIRS, exist_ok=True)
    link = os.path.join(THEIRS, "libopensmtpd.so.0")
    if not os.path.islink(link):
        os.symlink(DEBIAN, link)
    binary = os.path.join(OUT, "osmtpd_bench_filter")
    subprocess.run(["cc", "-O2", "-Wall", "-Wextra", "-Werror", "-I/usr/include",
                    os.path.join(REPO, "bench", "osmtpd_bench_filter.c"), "-L" + THEIRS,
                    "-l:libopensmtpd.so.0", "-o", binary], check=True)
    return binary


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sessions", type=int, default=20000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--no-callgrind", action="store_true")
    args = ap.parse_args()
    binary = build_filter()
    data, answers = stream(args.sessions)
    libs = {"theirs": THEIRS, "ours": os.path.join(REPO, "target", "lib")}
    results = {"theirs": [], "ours": []}
    outputs = {}
    for _ in range(args.runs):
        for who in ("theirs", "ours"):
            out, r = run(binary, libs[who], data, answers=answers)
            got = out.count(b"\nfilter-") + out.startswith(b"filter-")
            if got != answers:
                raise SystemExit("%s gave %d answers, expected %d" % (who, got, answers))
            outputs[who] = out
            results[who].append(r)
    if outputs["theirs"] != outputs["ours"]:
        raise SystemExit("the two libraries answered differently")
    lines = ["libopensmtpd benchmark: %d sessions, %d input lines (%.1f MB), %d answers, %d runs" % (
        args.sessions, data.count(b"\n"), len(data) / 1e6, answers, args.runs),
        "| metric | libopensmtpd 0.7 (median) | ours (median) | ours/theirs (median of pairs) |",
        "|---|---|---|---|"]
    for metric, fmt in (("cpu", "%.3f s"), ("user", "%.3f s"), ("sys", "%.3f s"), ("wall", "%.3f s"), ("rss", "%d KiB")):
        t = statistics.median(r[metric] for r in results["theirs"])
        o = statistics.median(r[metric] for r in results["ours"])
        pairs = [b[metric] / a[metric] for a, b in zip(results["theirs"], results["ours"]) if a[metric]]
        lines.append("| %s | %s | %s | %.3f |" % (metric, fmt % t, fmt % o, statistics.median(pairs) if pairs else float("nan")))
    if not args.no_callgrind:
        # Instructions are exact where times are noisy; a smaller stream
        # keeps callgrind's 50x slowdown bearable.
        small, small_answers = stream(1000)
        counts = {}
        for who in ("theirs", "ours"):
            out, r = run(binary, libs[who], small, os.path.join(OUT, "callgrind.osmtpd.out"), small_answers)
            got = out.count(b"\nfilter-") + out.startswith(b"filter-")
            if got != small_answers:
                raise SystemExit("%s gave %d answers under callgrind, expected %d" % (who, got, small_answers))
            counts[who] = r["instructions"]
        lines += ["", "| callgrind, 1,000 sessions (%d input lines) | libopensmtpd 0.7 | ours | ours/theirs |"
                  % small.count(b"\n"), "|---|---|---|---|",
                  "| instructions | %d | %d | %.3f |" % (counts["theirs"], counts["ours"],
                                                         counts["ours"] / counts["theirs"])]
    report = "\n".join(lines) + "\n"
    with open(os.path.join(OUT, "osmtpd.md"), "w") as f:
        f.write(report)
    print(report)


if __name__ == "__main__":
    main()
