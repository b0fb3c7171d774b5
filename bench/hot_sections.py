#!/usr/bin/python3
"""Regenerates the hot-text linker scripts, src/*/hot-text.ld.

    bench/hot_sections.py          (after `make`; needs valgrind)
    bench/hot_sections.py --check  fails if a function the workloads run
                                   is missing from the committed lists

Why: the kernel maps a file-backed page fault's whole 64 KiB neighbourhood
("fault-around"), so a library whose hot functions are scattered across its
text becomes resident almost entirely, though a run executes a small part
of it. Our text also carries std's rarely used machinery (the backtrace
symbolizer, formatting, the unwinder). Grouping the functions the benchmark
workloads execute at the front of .text keeps that machinery unmapped.

Each workload runs under callgrind; every function of our library that ran
becomes an input-section pattern, which tools/layout.awk includes at the
start of .text in the system linker's own default script. Symbol hashes are wildcarded, so a rebuild or a
compiler update keeps matching; a renamed function only falls back to the
ordinary layout, which costs memory, never correctness.
"""
import os
import bisect
import fnmatch
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run_esmtp_bench as esmtp  # noqa: E402
import run_osmtpd_bench as osmtpd  # noqa: E402

REPO = esmtp.REPO
OURS = os.path.join(REPO, "target", "lib")


def callgrind_prefix(out):
    return ["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out, "--dump-instr=no",
            "--compress-strings=no", "--compress-pos=no", "--demangle=no"]


def functions_run(out, soname):
    """Names of the functions in `soname` that executed, from a callgrind file."""
    names = set()
    ob = ""
    with open(out) as f:
        for line in f:
            if line.startswith("ob="):
                ob = line[3:].strip()
            elif line.startswith("fn=") and soname in ob:
                # A trailing 'N marks a recursion level, not part of the name.
                names.add(re.sub(r"'\d+$", "", line[3:].strip()))
    os.unlink(out)
    return names


def esmtp_functions():
    """Layers, each placed behind the one before: what a plain session with
    the benchmark sink runs; what Postfix's smtp-sink adds (enhanced status
    codes and its extensions); what STARTTLS adds. A session then touches
    only as much of the hot text as its features need."""
    binary, smtp_sink, _, _ = esmtp.setup()
    layers = []
    for kind, runs in (("sink", (("one-session", 20), ("sessions", 3))),
                       ("smtp-sink", (("one-session", 20), ("sessions", 3))),
                       ("tls-sink", (("one-session", 20), ("sessions", 2)))):
        names = set()
        server = esmtp.Server(kind, smtp_sink)
        try:
            for mode, n in runs:
                out = tempfile.mktemp(dir=esmtp.OUT)
                env = dict(os.environ, LD_LIBRARY_PATH=OURS)
                args = [binary, "127.0.0.1:%d" % server.port, mode, str(n)]
                if kind == "tls-sink":
                    env["XDG_CONFIG_DIR"] = os.path.join(esmtp.OUT, "pki", "xdg")
                    args = [binary, "localhost:%d" % server.port, mode, str(n), "tls"]
                subprocess.run(callgrind_prefix(out) + args, env=env, check=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                names |= functions_run(out, "libesmtp.so")
        finally:
            server.stop()
        layers.append(names)
    return layers


def osmtpd_functions():
    binary = osmtpd.build_filter()
    data, _ = osmtpd.stream(300)
    out = tempfile.mktemp(dir=esmtp.OUT)
    a, b = socket.socketpair()
    proc = subprocess.Popen(callgrind_prefix(out) + [binary], stdin=b, stdout=b, stderr=subprocess.DEVNULL,
                            env=dict(os.environ, LD_LIBRARY_PATH=OURS))
    b.close()
    def drain():
        # Start late, so that the filter's output blocks as under a busy
        # smtpd and the write-back-pressure path is profiled too.
        time.sleep(2)
        while a.recv(1 << 16):
            pass

    drain = threading.Thread(target=drain)
    drain.start()
    a.sendall(data)
    a.shutdown(socket.SHUT_WR)
    if proc.wait() != 0:
        raise SystemExit("the benchmark filter failed under callgrind")
    drain.join()
    a.close()
    return [functions_run(out, "libopensmtpd.so")]


def sections(library):
    """Input sections of the linked library from its link map, as
    (address, size, section, object) sorted by address."""
    rows = []
    with open(os.path.join(REPO, "target", "ld", os.path.basename(library) + ".map")) as f:
        text = f.read()
    text = text[text.index("\n.text "):]
    text = text[:text.index("\n.fini ")]
    for m in re.finditer(r"^ (\.text\S*)\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S+)", text, re.M):
        name, addr, size, obj = m.groups()
        rows.append((int(addr, 16), int(size, 16), name, obj))
    return sorted(rows)


def addresses(library):
    """Symbol name -> address, local symbols included."""
    out = subprocess.run(["nm", library], capture_output=True, text=True, check=True).stdout
    return {p[2]: int(p[0], 16) for p in (line.split() for line in out.splitlines()) if len(p) == 3}


def pattern(section, obj):
    """An input-section description for `section`, stable across rebuilds:
    symbol hashes wildcarded; a plain .text named with its object's file."""
    if section == ".text":
        return "*%s(.text)" % re.sub(r".*/", "", re.sub(r"\(.*", "", obj))
    section = re.sub(r"17h[0-9a-f]{16}E", "17h*E", section)  # legacy mangling's hash
    section = re.sub(r"Cs[0-9A-Za-z]+_", "Cs*_", section)  # v0 crate disambiguators
    # ThinLTO promotes a local to `<name>.llvm.<n>` or not depending on
    # unrelated code: one pattern matches both, so an edit elsewhere cannot
    # silently send a hot function to the cold end of .text.
    section = re.sub(r"\.llvm\.\d+$", "", section)
    return "*(%s %s.llvm.*)" % (section, section)


def resolve(library, layers):
    """The sections holding the functions of each layer. A function found
    by address, not by name: LLVM may merge identical functions into one
    section under another name."""
    secs = sections(library)
    starts = [r[0] for r in secs]
    syms = addresses(library)
    out = []
    for names in layers:
        pats = set()
        for n in names:
            addr = int(n, 16) if n.startswith("0x") else syms.get(n)
            if addr is None:
                continue
            i = bisect.bisect_right(starts, addr) - 1
            if i >= 0 and addr < secs[i][0] + secs[i][1]:
                pats.add(pattern(secs[i][2], secs[i][3]))
        out.append(pats)
    return out


def write(path, layers, names, what):
    seen = set()
    counts = []
    with open(path, "w") as f:
        f.write("/* Generated by bench/hot_sections.py: the functions %s\n"
                " * executes. tools/layout.awk includes them first in .text. */\n" % what)
        for name, pats in zip(names, layers):
            new = sorted(pats - seen)
            f.write("    /* %s */\n" % name)
            for p in new:
                f.write("    %s\n" % p)
            seen |= pats
            counts.append(len(new))
    print("%s: %s sections" % (os.path.relpath(path, REPO), " + ".join(map(str, counts))))


def committed_patterns(path):
    """(object glob, section globs) of each input-section description."""
    out = []
    with open(path) as f:
        for line in f:
            m = re.match(r"\s*(\S*)\((.*)\)\s*$", line)
            if m:
                out.append((m.group(1), m.group(2).split()))
    return out


def check(path, library, layers):
    """Functions the workloads run that the built library does not place
    in the hot text: a pattern missing, or one that no longer matches its
    section (ThinLTO's renames). Each costs a 64 KiB fault-around window
    of resident memory."""
    pats = committed_patterns(path)
    secs = sections(library)
    starts = [r[0] for r in secs]
    syms = addresses(library)
    cold = set()
    for names in layers:
        for n in names:
            addr = int(n, 16) if n.startswith("0x") else syms.get(n)
            if addr is None:
                continue
            i = bisect.bisect_right(starts, addr) - 1
            if i < 0 or addr >= secs[i][0] + secs[i][1]:
                continue
            _, _, section, obj = secs[i]
            base = re.sub(r".*/", "", re.sub(r"\(.*", "", obj))
            if not any(fnmatch.fnmatchcase(base, o or "*") and any(fnmatch.fnmatchcase(section, g) for g in globs)
                       for o, globs in pats):
                cold.add(section)
    name = os.path.relpath(path, REPO)
    if cold:
        print("%s: %d functions the workloads run lie outside the hot text "
              "(run bench/hot_sections.py, then make):" % (name, len(cold)))
        for c in sorted(cold):
            print("    " + c)
    else:
        print("%s: every function the workloads run is in the hot text" % name)
    return not cold


def main():
    targets = [
        (os.path.join(REPO, "src", "esmtp", "hot-text.ld"), os.path.join(OURS, "libesmtp.so.6.2.0"),
         esmtp_functions, ["a plain session", "what Postfix's smtp-sink adds", "what STARTTLS adds"],
         "the libesmtp benchmark"),
        (os.path.join(REPO, "src", "opensmtpd", "hot-text.ld"), os.path.join(OURS, "libopensmtpd.so.0.1.0"),
         osmtpd_functions, ["the benchmark filter"], "the libopensmtpd benchmark filter"),
    ]
    if "--check" in sys.argv[1:]:
        ok = [check(path, library, functions()) for path, library, functions, _, _ in targets]
        return 0 if all(ok) else 1
    for path, library, functions, names, what in targets:
        write(path, resolve(library, functions()), names, what)
    return 0


if __name__ == "__main__":
    sys.exit(main())
