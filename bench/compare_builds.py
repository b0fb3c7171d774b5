#!/usr/bin/python3
"""Two builds of our libesmtp.so.6 side by side: what a change costs
programs that do not use it. The workloads of run_esmtp_bench.py, run with
the same C program and LD_LIBRARY_PATH pointing at each build in turn:
peak RSS of short processes (alternating pairs) and callgrind instruction
counts.

    bench/compare_builds.py BASE_LIBDIR [NEW_LIBDIR] [--pairs N]

Build the base in a worktree, e.g.
    git worktree add /tmp/base <rev> && make -C /tmp/base
    bench/compare_builds.py /tmp/base/target/lib
NEW_LIBDIR defaults to target/lib.
"""
import argparse
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run_esmtp_bench as bench  # noqa: E402

WORKLOADS = [
    # label, server kind, mode, messages, TLS
    ("one session, one message, fast sink", "sink", "sessions", 1, False),
    ("one session, 20 messages, Postfix smtp-sink", "smtp-sink", "one-session", 20, False),
    ("one STARTTLS session, one message", "tls-sink", "sessions", 1, True),
]

CALLGRIND = [
    ("a: one session, 200 messages", "sink", "one-session", 200, False),
    ("b: 100 sessions of one message", "sink", "sessions", 100, False),
    ("e: one STARTTLS session process", "tls-sink", "sessions", 1, True),
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("base")
    ap.add_argument("new", nargs="?", default=os.path.join(bench.REPO, "target", "lib"))
    ap.add_argument("--pairs", type=int, default=41)
    args = ap.parse_args()
    binary, smtp_sink, _, _ = bench.setup()
    builds = (("base", args.base), ("new", args.new))
    print("| peak RSS, %d alternating pairs | base (median) | new (median) | new/base (median of pairs) |"
          % args.pairs)
    print("|---|---|---|---|")
    for label, kind, mode, n, tls in WORKLOADS:
        server = bench.Server(kind, smtp_sink)
        try:
            peaks = {"base": [], "new": []}
            for _ in range(args.pairs):
                for who, lib in builds:
                    peaks[who].append(bench.measure(binary, lib, server, mode, n, tls)["rss"])
        finally:
            server.stop()
        ratio = statistics.median(b / a for a, b in zip(peaks["base"], peaks["new"]))
        print("| %s | %d KiB | %d KiB | %.3f |" % (label, statistics.median(peaks["base"]),
                                                   statistics.median(peaks["new"]), ratio), flush=True)
    print()
    print("| callgrind (instructions, client process) | base | new | new/base |")
    print("|---|---|---|---|")
    for label, kind, mode, n, tls in CALLGRIND:
        server = bench.Server(kind, smtp_sink)
        try:
            base = bench.callgrind(binary, args.base, server, mode, n, tls)
            new = bench.callgrind(binary, args.new, server, mode, n, tls)
        finally:
            server.stop()
        print("| %s | %d | %d | %.4f |" % (label, base, new, new / base), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
