#!/usr/bin/python3
"""Runner for the libopensmtpd C-API tests.

For every case of the manifest (capi-tests/opensmtpd/cases.py) it compiles
the case's C filter (once, cached in --build-dir) against the header in
--include and links it to the libopensmtpd.so.0 in --lib, then feeds it a
recorded smtpd -> filter stream through a socketpair (stdin and stdout of
the filter are one end, as smtpd does it; libevent refuses regular files)
and records what it answered on stdout, what it printed on stderr (every
callback with its arguments and the context) and how it ended.  That text
is compared with capi-tests/opensmtpd/expected/<case>.out (--update
rewrites it).

  run_osmtpd.py --lib DIR [--include DIR] [--diff-against debian] [--update]
                [--valgrind] [-j N] [--build-dir DIR] [--keep] [--list]
                [case-name-regex ...]

DIR may be the word "debian": a directory <build-dir>/../debian-osmtpd-lib
holding only a libopensmtpd.so.0 symlink to Debian's original is used.

Streams (fixtures/*.txt, or a case's inline "stream"): one protocol line per
line, sent with "\\n"; blank lines and lines starting with "# " are left
out; "@wait REGEX" holds the rest back until the filter's stdout has a line
matching REGEX after the previous @wait's match (smtpd waits for answers too; the runner gives up at the
case's timeout and says so in the output); "@sleep MS" pauses.  Inline
streams may also hold bytes objects, sent exactly as they are.  After the
last line the runner shuts down its write side (EOF for the filter) and
reads until the filter exits.  Every wait is bounded: a filter that hangs
is killed (its process group, by PID) and reported as "timeout (killed)".

Cases flagged "divergent" show a bug of Debian's libopensmtpd 0.7 that we
fix (each names its COMPATIBILITY.md id, checked to exist); "ours-only"
cases use functions 0.7 does not export.  Neither is run with --lib debian
(reported as skip, not counted as passed).  --diff-against debian runs
every other case with Debian's library as well and requires the same
output; divergent cases are run with it too, and must differ from it
(otherwise the flag is wrong).  --valgrind runs the filter under valgrind
(memcheck, definite leaks are errors); the golden files stay the same.
The last line is always "capi-opensmtpd: N passed, M failed".
"""

import argparse
import concurrent.futures
import difflib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
OSMTPD = os.path.join(HERE, "opensmtpd")
EXPECTED = os.path.join(OSMTPD, "expected")
FIXTURES = os.path.join(OSMTPD, "fixtures")
REPO = os.path.dirname(HERE)
ORIGINAL = "/usr/lib/x86_64-linux-gnu/libopensmtpd.so.0.1.0"
SONAME = "libopensmtpd.so.0"
COMPAT = os.path.join(REPO, "COMPATIBILITY.md")

sys.path.insert(0, OSMTPD)
from cases import CASES, PROGS  # noqa: E402  (the manifest)


class Failure(Exception):
    pass


# ---------------------------------------------------------------- setup

def debian_lib_dir(build_dir):
    d = os.path.join(os.path.dirname(os.path.abspath(build_dir)), "debian-osmtpd-lib")
    os.makedirs(d, exist_ok=True)
    p = os.path.join(d, SONAME)
    if not os.path.islink(p) or os.readlink(p) != ORIGINAL:
        if os.path.lexists(p):
            os.unlink(p)
        os.symlink(ORIGINAL, p)
    return d


def resolve_lib(arg, build_dir):
    d = debian_lib_dir(build_dir) if arg == "debian" else os.path.abspath(arg)
    if not os.path.exists(os.path.join(d, SONAME)):
        raise Failure("no %s in %s" % (SONAME, d))
    return d


def is_original(libdir):
    return os.path.realpath(os.path.join(libdir, SONAME)) == os.path.realpath(ORIGINAL)


def compat_ids():
    """The O<n> ids of COMPATIBILITY.md's libopensmtpd section."""
    try:
        with open(COMPAT) as f:
            text = f.read()
    except OSError:
        return set()
    at = text.find("## libopensmtpd.so.0")
    if at < 0:
        return set()
    return set(re.findall(r"^\| (O\d+) \|", text[at:], flags=re.M))


def compile_prog(prog, opts):
    """Compile opensmtpd/<prog>.c (cached); returns the binary path."""
    cc = shutil.which("cc")
    if not cc:
        raise Failure("no C compiler (cc) found")
    src = os.path.join(OSMTPD, prog + ".c")
    header = os.path.join(opts.include, "opensmtpd.h")
    with open(header) as f:
        htext = f.read()
    defs = []
    if "osmtpd_register_report_auth" in htext:
        defs.append("-DHAVE_OSMTPD_REPORT_AUTH")
    if "enum osmtpd_auth_result" in htext:
        defs.append("-DHAVE_OSMTPD_AUTH_RESULT")
    key = re.sub(r"[^A-Za-z0-9]+", "_", opts.include + "__" + opts.lib)[-80:]
    out_dir = os.path.join(opts.build_dir, key)
    os.makedirs(out_dir, exist_ok=True)
    binary = os.path.join(out_dir, prog)
    deps = [src, os.path.join(OSMTPD, "common.h"), header]
    if os.path.exists(binary) and all(os.path.getmtime(binary) >= os.path.getmtime(d)
                                      for d in deps):
        return binary
    cmd = [cc, "-Wall", "-Wextra", "-Werror", "-g", "-I" + opts.include] + defs + [
        src, "-o", binary + ".tmp", "-L" + opts.lib, "-l:" + SONAME] + PROGS[prog]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        raise Failure("compile failed: %s\n%s%s" % (" ".join(cmd), p.stdout, p.stderr))
    os.replace(binary + ".tmp", binary)
    return binary


# ---------------------------------------------------------------- streams

def load_stream(case):
    """The case's input as a list of ("data", bytes) / ("wait", regex) /
    ("sleep", seconds); consecutive lines are joined into one write."""
    if "fixture" in case:
        with open(os.path.join(FIXTURES, case["fixture"]), "rb") as f:
            items = [ln.decode("latin-1") for ln in f.read().split(b"\n")]
        if items and items[-1] == "":
            items.pop()
        items = [i for i in items if i and not i.startswith("# ") and i != "#"]
    else:
        items = list(case["stream"])
    out = []
    for it in items:
        if isinstance(it, str) and it.startswith("@wait "):
            out.append(("wait", it[6:]))
        elif isinstance(it, str) and it.startswith("@sleep "):
            out.append(("sleep", int(it[7:]) / 1000.0))
        else:
            data = it if isinstance(it, bytes) else it.encode("latin-1") + b"\n"
            if out and out[-1][0] == "data":
                out[-1] = ("data", out[-1][1] + data)
            else:
                out.append(("data", data))
    return out


def show_input(case):
    """Inline streams are shown in the golden file (fixtures are files)."""
    if "fixture" in case:
        return []
    lines = ["== input"]
    for it in case["stream"]:
        if isinstance(it, bytes):
            text = "raw " + repr(it)[2:-1]
        else:
            text = it.replace("\n", "\\n").replace("\r", "\\r")
        lines.append(shorten(text))
    return lines


# ---------------------------------------------------------------- running

def kill_group(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def describe_exit(rc):
    if rc is None:
        return "timeout (killed)"
    if rc < 0:
        try:
            return "signal %s" % signal.Signals(-rc).name
        except ValueError:
            return "signal %d" % -rc
    return "%d" % rc


class Collector:
    """Reads a stream until EOF in a thread; waiters can wait for a regex."""

    def __init__(self, sock=None, pipe=None, delay=0.0):
        self.buf = bytearray()
        self.cond = threading.Condition()
        self.done = False
        self.sock, self.pipe, self.delay = sock, pipe, delay
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        if self.delay:
            time.sleep(self.delay)
        try:
            while True:
                d = self.sock.recv(1 << 16) if self.sock else os.read(self.pipe, 1 << 16)
                if not d:
                    break
                with self.cond:
                    self.buf += d
                    self.cond.notify_all()
        except OSError:
            pass
        with self.cond:
            self.done = True
            self.cond.notify_all()

    def wait_for(self, regex, start, deadline):
        """Waits for a match at or after offset `start`; returns the offset
        after the match, "eof" when the stream ended without one (the
        filter is gone: its exit status says why) or "timeout"."""
        rx = re.compile(regex.encode("latin-1"), re.M)
        with self.cond:
            while True:
                m = rx.search(self.buf, start)
                if m:
                    return m.end()
                if self.done:
                    return "eof"
                left = deadline - time.monotonic()
                if left <= 0:
                    return "timeout"
                self.cond.wait(min(left, 0.5))

    def join(self, deadline):
        self.thread.join(max(0.1, deadline - time.monotonic()))
        with self.cond:
            return bytes(self.buf), self.done


def loop_notes(loop, slog):
    """Complaints if the filter's loop, seen by strace, is not `loop`."""
    try:
        with open(slog) as f:
            calls = f.read()
    except OSError:
        return ["== runner: no strace log"]
    polls = len(re.findall(r"\bp?poll\(", calls))
    epolls = len(re.findall(r"\bepoll_p?wait\(", calls))
    if loop == "poll" and (polls == 0 or epolls > 0):
        return ["== runner: expected the poll(2) loop, saw %d poll and %d epoll_wait calls"
                % (polls, epolls)]
    if loop == "libevent" and epolls == 0:
        return ["== runner: expected libevent's loop, saw no epoll_wait call"]
    return []


def run_case(case, binary, libdir, opts):
    """Runs the filter on the case's stream; returns (text, valgrind log)."""
    tmp = tempfile.mkdtemp(prefix="osmtpd-%s-" % case["name"], dir=opts.run_dir)
    timeout = case.get("timeout", 10) * (6 if opts.valgrind else 1)
    try:
        cmd = [binary] + list(case.get("args", []))
        vlog = os.path.join(tmp, "valgrind.log")
        if opts.valgrind:
            vg = shutil.which("valgrind")
            if not vg:
                raise Failure("valgrind not found")
            supp = os.path.join(OSMTPD, "valgrind.supp")
            cmd = [vg, "-q", "--error-exitcode=99", "--leak-check=full",
                   "--errors-for-leak-kinds=definite", "--log-file=" + vlog] + \
                (["--suppressions=" + supp] if os.path.exists(supp) else []) + cmd
        slog = os.path.join(tmp, "strace.log")
        loop = case.get("loop") if not (opts.valgrind or is_original(libdir)) else None
        if loop:
            st = shutil.which("strace")
            if not st:
                raise Failure("strace not found (the loop checks need it)")
            cmd = [st, "-f", "-qq", "-e", "trace=poll,ppoll,epoll_wait,epoll_pwait",
                   "-o", slog] + cmd
        env = {"PATH": "/usr/bin:/bin", "LD_LIBRARY_PATH": libdir, "LC_ALL": "C",
               "TZ": "UTC", "HOME": tmp}
        env.update(case.get("env", {}))
        ours, theirs = socket.socketpair()
        err_r, err_w = os.pipe()
        try:
            proc = subprocess.Popen(cmd, stdin=theirs, stdout=theirs, stderr=err_w,
                                    env=env, cwd=tmp, start_new_session=True)
        finally:
            theirs.close()
            os.close(err_w)
        notes = []
        deadline = time.monotonic() + timeout
        out = Collector(sock=ours, delay=case.get("read_delay", 0) / 1000.0)
        err = Collector(pipe=err_r)
        pos = 0                 # each @wait looks past the previous match
        try:
            for kind, val in load_stream(case):
                if kind == "data":
                    ours.settimeout(max(0.1, deadline - time.monotonic()))
                    try:
                        ours.sendall(val)
                    except (BrokenPipeError, ConnectionResetError):
                        break           # the filter is gone: its exit says why
                    except socket.timeout:
                        notes.append("== runner: the filter stopped reading its input")
                        break
                elif kind == "wait":
                    pos = out.wait_for(val, pos, deadline)
                    if pos == "timeout":
                        notes.append("== runner: no answer matching /%s/" % val)
                    if not isinstance(pos, int):
                        break
                else:
                    time.sleep(val)
            try:
                ours.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            try:
                rc = proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                kill_group(proc)
                proc.wait()
                rc = None
            if loop:
                notes += loop_notes(loop, slog)
            stdout, out_done = out.join(time.monotonic() + 5)
            stderr, err_done = err.join(time.monotonic() + 5)
            if not (out_done and err_done):
                notes.append("== runner: output still open after the filter ended")
        finally:
            if proc.poll() is None:
                kill_group(proc)
                proc.wait()
            ours.close()
            os.close(err_r)
        args = " ".join(escape(a) for a in case.get("args", []))
        src = case.get("fixture", "inline stream")
        parts = ["== case %s: %s %s < %s" % (case["name"], case["prog"], args, src)]
        parts += show_input(case)
        parts.append("== stdout")
        text = stdout.decode("latin-1")
        if case.get("summary"):
            lines = text.splitlines()
            parts.append("(%d lines; the first and last three:)" % len(lines))
            parts += [shorten(ln) for ln in lines[:3]] + ["..."] + \
                [shorten(ln) for ln in lines[-3:]]
        else:
            parts += exact(text, "stdout")
        parts.append("== stderr")
        parts += exact(stderr.decode("latin-1"), "stderr")
        parts += notes
        parts.append("== exit: %s" % describe_exit(rc))
        vg_text = ""
        if opts.valgrind and rc == 99 and os.path.exists(vlog):
            with open(vlog, errors="replace") as f:
                vg_text = f.read()
        return "\n".join(parts) + "\n", vg_text
    finally:
        if not opts.keep:
            shutil.rmtree(tmp, ignore_errors=True)


def escape(s):
    return s.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")


def shorten(line):
    return line if len(line) <= 300 else line[:120] + "... (%d bytes)" % len(line)


def exact(text, what):
    """The lines of a stream, exactly: empty lines kept, a missing final
    newline said, very long lines shortened."""
    if not text:
        return []
    lines = [shorten(ln) for ln in text.split("\n")]
    if lines[-1] == "":
        lines.pop()
    else:
        lines.append("== (no newline at the end of %s)" % what)
    return lines


def udiff(a, b, na, nb):
    return "".join(difflib.unified_diff(a.splitlines(True), b.splitlines(True), na, nb))


def check_case(case, opts, binaries):
    """Returns (status, message), status 'ok', 'FAIL' or 'skip'."""
    name = case["name"]
    flags = case.get("flags", ())
    divergent = "divergent" in flags
    ours_only = "ours-only" in flags
    golden = os.path.join(EXPECTED, name + ".out")
    if is_original(opts.lib) and (divergent or ours_only):
        return "skip", ("divergent (%s)" % case.get("compat") if divergent
                        else "ours-only: uses functions 0.7 does not export")
    binary = binaries[case["prog"]]
    if isinstance(binary, Failure):
        return "FAIL", str(binary)
    out, vg = run_case(case, binary, opts.lib, opts)
    msgs = []
    if vg:
        msgs.append("valgrind:\n" + vg)
    if opts.update:
        with open(golden, "w") as f:
            f.write(out)
    elif not os.path.exists(golden):
        msgs.append("missing golden file %s; output was:\n%s" % (golden, out))
    else:
        with open(golden) as f:
            exp = f.read()
        if exp != out:
            msgs.append(udiff(exp, out, "expected/" + name + ".out", "actual"))
    note = ""
    if opts.diff_against and not ours_only:
        other, _ = run_case(case, binary, opts.diff_against, opts)
        if divergent and other == out:
            msgs.append("flagged divergent (%s) but %s gives the same output"
                        % (case.get("compat"), opts.diff_against))
        elif not divergent and other != out:
            msgs.append(udiff(other, out, "with " + opts.diff_against, "with " + opts.lib))
        elif divergent:
            note = "differs from %s as documented (%s)" % (opts.diff_against,
                                                           case.get("compat"))
    return ("FAIL" if msgs else "ok"), ("\n".join(msgs) if msgs else note)


def validate_manifest(cases):
    """Every divergent case names an id COMPATIBILITY.md documents; every
    case has an input; names are unique."""
    ids = compat_ids()
    problems = []
    seen = set()
    for c in cases:
        if c["name"] in seen:
            problems.append("%s: duplicate name" % c["name"])
        seen.add(c["name"])
        if c["prog"] not in PROGS:
            problems.append("%s: unknown program %s" % (c["name"], c["prog"]))
        if ("fixture" in c) == ("stream" in c):
            problems.append("%s: needs exactly one of fixture/stream" % c["name"])
        elif "fixture" in c and not os.path.exists(os.path.join(FIXTURES, c["fixture"])):
            problems.append("%s: no fixture %s" % (c["name"], c["fixture"]))
        if "divergent" in c.get("flags", ()):
            if c.get("compat") not in ids:
                problems.append("%s: divergent, but its id %r is not in COMPATIBILITY.md's "
                                "libopensmtpd section" % (c["name"], c.get("compat")))
    return problems


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lib", help="dir with %s, or 'debian' (required but with --list)"
                    % SONAME)
    ap.add_argument("--include", default="/usr/include", help="dir with opensmtpd.h")
    ap.add_argument("--diff-against", help="second library dir (or 'debian')")
    ap.add_argument("--update", action="store_true", help="rewrite golden files")
    ap.add_argument("--valgrind", action="store_true")
    ap.add_argument("--build-dir", default=os.path.join(REPO, "target", "capi-osmtpd"))
    ap.add_argument("--keep", action="store_true", help="keep per-case temp dirs")
    ap.add_argument("-j", type=int, default=4, help="parallel cases")
    ap.add_argument("--list", action="store_true", help="list cases and exit")
    ap.add_argument("filters", nargs="*", help="regexes selecting case names")
    opts = ap.parse_args()

    if opts.list:
        for c in CASES:
            print(c["name"], c["prog"], " ".join(escape(a) for a in c.get("args", [])),
                  c.get("fixture", "inline"), ",".join(c.get("flags", ())), c.get("compat", ""))
        return 0
    if not opts.lib:
        ap.error("--lib is required")
    cases = [c for c in CASES
             if not opts.filters or any(re.search(f, c["name"]) for f in opts.filters)]
    passed = failed = skipped = 0
    started = time.monotonic()
    try:
        problems = validate_manifest(CASES)
        if not opts.filters:        # a golden file without its case is a test lost
            names = {c["name"] + ".out" for c in CASES}
            problems += ["expected/%s: no such case" % f for f in sorted(os.listdir(EXPECTED))
                         if f.endswith(".out") and f not in names]
        if problems:
            raise Failure("manifest:\n  " + "\n  ".join(problems))
        opts.build_dir = os.path.abspath(opts.build_dir)
        opts.lib = resolve_lib(opts.lib, opts.build_dir)
        if opts.diff_against:
            opts.diff_against = resolve_lib(opts.diff_against, opts.build_dir)
        opts.include = os.path.abspath(opts.include)
        if not os.path.exists(os.path.join(opts.include, "opensmtpd.h")):
            raise Failure("no opensmtpd.h in %s" % opts.include)
        opts.run_dir = os.path.join(opts.build_dir, "run")
        os.makedirs(opts.run_dir, exist_ok=True)
        os.makedirs(EXPECTED, exist_ok=True)
    except Failure as e:
        print("FAIL setup: %s" % e)
        print("capi-opensmtpd: 0 passed, %d failed" % max(1, len(cases)))
        return 1

    binaries = {}
    for prog in sorted({c["prog"] for c in cases}):
        if is_original(opts.lib) and all("ours-only" in c.get("flags", ())
                                         for c in cases if c["prog"] == prog):
            continue            # links against functions 0.7 does not export
        try:
            binaries[prog] = compile_prog(prog, opts)
        except (Failure, OSError, subprocess.SubprocessError) as e:
            binaries[prog] = Failure(str(e))

    shown = set()
    with concurrent.futures.ThreadPoolExecutor(max(1, opts.j)) as pool:
        futs = [(c, pool.submit(check_case, c, opts, binaries)) for c in cases]
        for c, fut in futs:
            try:
                status, msg = fut.result()
            except Exception as e:  # runner bug or environment problem
                status, msg = "FAIL", "%s: %s" % (type(e).__name__, e)
            if status == "ok":
                passed += 1
                print("ok %s%s" % (c["name"], " (%s)" % msg if msg else ""), flush=True)
            elif status == "skip":
                skipped += 1
                print("skip %s (%s)" % (c["name"], msg), flush=True)
            else:
                failed += 1
                if isinstance(binaries.get(c["prog"]), Failure):
                    if c["prog"] in shown:
                        msg = "compile of %s failed (see above)" % c["prog"]
                    shown.add(c["prog"])
                print("FAIL %s\n%s" % (c["name"], msg.rstrip("\n")), flush=True)
    if not cases:
        print("FAIL no case matched the filters")
        failed = 1
    print("time: %.1fs" % (time.monotonic() - started))
    if skipped:
        print("capi-opensmtpd: %d skipped (divergent or ours-only, not run with the original)"
              % skipped)
    print("capi-opensmtpd: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
