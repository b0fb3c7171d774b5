#!/usr/bin/python3
"""Runner for the libESMTP C-API tests.

For every case of the manifest (capi-tests/esmtp/cases.py) it compiles the
C program (once, cached in --build-dir), starts smtpd.py with the case's
scenario, runs the program against it with LD_LIBRARY_PATH=--lib and builds
one normalised output text: program stdout/stderr + exit status + server
transcript.  That text is compared with capi-tests/esmtp/expected/<case>.out
(--update rewrites it) and, with --diff-against DIR2, with the output of the
same program run against the library in DIR2.

  run_esmtp.py --lib DIR [--include DIR] [--diff-against DIR2] [--update]
               [--valgrind] [-j N] [--build-dir DIR] [case-name-regex ...]

DIR may be the word "debian": a symlink directory <build-dir>/../debian-lib
resolving only libesmtp to Debian's original is created and used.

TLS: when a selected case needs them, test certificates are made once per
run by tls_fixtures.py in <build-dir>/run/tls-fixtures-<pid> (removed at
the end unless --keep).  "{FIXTURES}" in a case's scenario, args or env is
replaced by that directory.  A case's "tlsconf" is laid out as libESMTP's
configuration directory with owner-only permissions (see esmtp/cases.py)
and XDG_CONFIG_DIR points at it.  Programs are compiled with
-DHAVE_LIBESMTP_EXT when <include>/libesmtp-ext.h exists.

Cases flagged "divergent" (the original crashes, or our library deliberately
differs) are never run against the original libESMTP: with --lib pointing at
it they are reported as "skip" (not counted as passed), and --diff-against
does not run them.  The last line is always "capi-esmtp: N passed, M failed".
"""

import argparse
import concurrent.futures
import difflib
import email.utils
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ESMTP = os.path.join(HERE, "esmtp")
EXPECTED = os.path.join(ESMTP, "expected")
REPO = os.path.dirname(HERE)
ORIGINAL = "/usr/lib/x86_64-linux-gnu/libesmtp.so.6.2.0"
PY = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable

sys.path.insert(0, ESMTP)
sys.path.insert(0, HERE)
from cases import CASES, PENDING  # noqa: E402  (the manifest)
import tls_fixtures  # noqa: E402


class Failure(Exception):
    pass


# ---------------------------------------------------------------- setup

def debian_lib_dir(build_dir):
    d = os.path.join(os.path.dirname(os.path.abspath(build_dir)), "debian-lib")
    os.makedirs(d, exist_ok=True)
    for name in ("libesmtp.so.6", "libesmtp.so"):
        p = os.path.join(d, name)
        if not os.path.islink(p) or os.readlink(p) != ORIGINAL:
            if os.path.lexists(p):
                os.unlink(p)
            os.symlink(ORIGINAL, p)
    return d


def resolve_lib(arg, build_dir):
    d = debian_lib_dir(build_dir) if arg == "debian" else os.path.abspath(arg)
    so = os.path.join(d, "libesmtp.so.6")
    if not os.path.exists(so):
        raise Failure("no libesmtp.so.6 in %s" % d)
    return d


def is_original(libdir):
    return os.path.realpath(os.path.join(libdir, "libesmtp.so.6")) == \
        os.path.realpath(ORIGINAL)


def compile_prog(prog, opts):
    """Compile esmtp/<prog>.c (cached); returns the binary path."""
    cc = shutil.which("cc")
    if not cc:
        raise Failure("no C compiler (cc) found")
    src = os.path.join(ESMTP, prog + ".c")
    ext_h = os.path.join(opts.include, "libesmtp-ext.h")
    have_ext = os.path.exists(ext_h)
    key = re.sub(r"[^A-Za-z0-9]+", "_", opts.include + "__" + opts.lib)[-80:]
    out_dir = os.path.join(opts.build_dir, key + ("_ext" if have_ext else ""))
    os.makedirs(out_dir, exist_ok=True)
    binary = os.path.join(out_dir, prog)
    deps = [src, os.path.join(ESMTP, "common.h")] + ([ext_h] if have_ext else [])
    if os.path.exists(binary) and all(os.path.getmtime(binary) >= os.path.getmtime(d)
                                      for d in deps):
        return binary
    with open(src) as f:
        ssl = "<openssl/" in f.read()
    cmd = [cc, "-Wall", "-Wextra", "-Werror", "-I" + opts.include] + \
        (["-DHAVE_LIBESMTP_EXT"] if have_ext else []) + [src,
           "-o", binary + ".tmp", "-L" + opts.lib, "-lesmtp"]
    if ssl:
        cmd += ["-lssl", "-lcrypto"]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        raise Failure("compile failed: %s\n%s%s" % (" ".join(cmd), p.stdout, p.stderr))
    os.replace(binary + ".tmp", binary)
    return binary


# ---------------------------------------------------------------- running

def kill_group(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def needs_fixtures(case):
    return "tlsconf" in case or "{FIXTURES}" in json.dumps(case)


def subst(obj, fixtures):
    """Replace "{FIXTURES}" in every string of obj (recursively)."""
    if isinstance(obj, str):
        return obj.replace("{FIXTURES}", fixtures or "{FIXTURES}")
    if isinstance(obj, (list, tuple)):
        return type(obj)(subst(o, fixtures) for o in obj)
    if isinstance(obj, dict):
        return {k: subst(v, fixtures) for k, v in obj.items()}
    return obj


def layout_tlsconf(spec, root, fixtures):
    """Create libESMTP's configuration directory `root` from a case's
    "tlsconf": {relative path: source or (source, mode)}.  Source: the name
    of a fixture file or directory (copied), "text:..." (these contents),
    "empty" (an empty file) or "dir" (an empty directory).  Default modes:
    files 0600, directories 0700 (owner-only, as libESMTP checks); parent
    directories are created 0700."""
    os.makedirs(root, mode=0o700, exist_ok=True)
    os.chmod(root, 0o700)
    fixed = []
    for rel, src in sorted(spec.items()):
        src, mode = src if isinstance(src, (tuple, list)) else (src, None)
        path = os.path.join(root, rel)
        parent = os.path.dirname(path)
        if not os.path.isdir(parent):
            os.makedirs(parent, mode=0o700)
        if src == "dir":
            os.mkdir(path, 0o700)
        elif src == "empty" or src.startswith("text:"):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            os.write(fd, src[5:].encode() if src != "empty" else b"")
            os.close(fd)
        elif os.path.isdir(os.path.join(fixtures, src)):
            shutil.copytree(os.path.join(fixtures, src), path)
            for dp, dns, fns in os.walk(path):
                os.chmod(dp, 0o700)
                for fn in fns:
                    os.chmod(os.path.join(dp, fn), 0o600)
        else:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with open(os.path.join(fixtures, src), "rb") as f:
                os.write(fd, f.read())
            os.close(fd)
        if mode is not None:
            fixed.append((path, mode))
    for path, mode in fixed:        # after the contents: a 0500 dir stays fillable
        os.chmod(path, mode)


def start_server(case, tmp, deadline, fixtures=None):
    sc_path = os.path.join(tmp, "scenario.json")
    with open(sc_path, "w") as f:
        json.dump(subst(case.get("scenario") or {}, fixtures), f, indent=1)
    port_file = os.path.join(tmp, "port")
    tr = os.path.join(tmp, "transcript.txt")
    smtpd = os.path.join(HERE, "smtpd.py")
    if not os.path.exists(smtpd):
        raise Failure("smtpd.py missing")
    srv = subprocess.Popen([PY, smtpd, "--scenario", sc_path, "--transcript", tr,
                            "--port-file", port_file, "--max-conns",
                            str(case.get("conns", 1)), "--deadline", str(deadline)]
                           + (["--ipv6"] if case.get("ipv6") else [])
                           + (["--dual"] if case.get("host") == "localhost" else []),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           start_new_session=True)
    end = time.monotonic() + 10
    while not os.path.exists(port_file):
        if srv.poll() is not None or time.monotonic() > end:
            kill_group(srv)
            raise Failure("smtpd.py did not start: %s" % srv.stderr.read().decode())
        time.sleep(0.02)
    with open(port_file) as f:
        return srv, int(f.read()), tr


def stop_server(srv):
    """Ask the server to finish (it drains the dead client's connection)."""
    if srv.poll() is None:
        srv.send_signal(signal.SIGTERM)
    try:
        _, err = srv.communicate(timeout=8)
    except subprocess.TimeoutExpired:
        kill_group(srv)
        _, err = srv.communicate()
        return "killed (did not stop)", err.decode(errors="replace")
    # The SIGTERM may land while the server is already exiting on its own
    # (max-conns reached) and Python has restored the default handler.
    rc = srv.returncode
    return ("0" if rc in (0, -signal.SIGTERM) else describe_exit(rc),
            err.decode(errors="replace"))


def describe_exit(rc):
    if rc is None:
        return "timeout (killed)"
    if rc < 0:
        try:
            return "signal %s" % signal.Signals(-rc).name
        except ValueError:
            return "signal %d" % -rc
    return "%d" % rc


def normalise(text, hostname):
    """Remove what legitimately varies between runs and machines."""
    # Dates generated by the library ("now"); fixed dates in tests are
    # decades away and stay visible.
    date_re = r"[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} [-+]\d{4}"

    def date(m):
        try:
            t = email.utils.parsedate_to_datetime(m.group(0)).timestamp()
        except (TypeError, ValueError):
            return m.group(0)
        return "<DATE>" if abs(t - time.time()) < 3 * 86400 else m.group(0)
    text = re.sub(date_re, date, text)
    # Generated Message-Id: "%ld.%ld.%d@%s" (tv_sec, tv_usec, pid, host)
    text = re.sub(r"\b\d{9,}\.\d+\.\d+@([A-Za-z0-9.-]+)",
                  lambda m: "<GENERATED-ID>@" + ("<HOSTNAME>" if m.group(1) == hostname
                                                 else m.group(1)), text)
    if hostname:
        h = re.escape(hostname)
        text = re.sub(r"\b(EHLO|HELO) %s(?=[\\\s\"]|$)" % h, r"\1 <HOSTNAME>", text,
                      flags=re.M)
    return text


def run_case(case, binary, libdir, opts):
    tmp = tempfile.mkdtemp(prefix="capi-%s-" % case["name"], dir=opts.run_dir)
    timeout = case.get("timeout", 20) * (4 if opts.valgrind else 1)
    srv = None
    try:
        fixtures = getattr(opts, "fixtures", None)
        if case.get("scenario") is not None:
            srv, port, tr = start_server(case, tmp, timeout + 10, fixtures)
            host = "[::1]" if case.get("ipv6") else case.get("host", "127.0.0.1")
            server_arg = "%s:%d" % (host, port)
        else:
            server_arg = case.get("server", "127.0.0.1:1")
        cmd = [binary, server_arg] + subst(list(case.get("args", [])), fixtures)
        vlog = os.path.join(tmp, "valgrind.log")
        if opts.valgrind:
            vg = shutil.which("valgrind")
            if not vg:
                raise Failure("valgrind not found")
            supp = os.path.join(HERE, "valgrind.supp")
            cmd = [vg, "-q", "--error-exitcode=99", "--leak-check=full",
                   "--errors-for-leak-kinds=definite", "--log-file=" + vlog] + \
                (["--suppressions=" + supp] if os.path.exists(supp) else []) + cmd
        env = {"PATH": "/usr/bin:/bin", "LD_LIBRARY_PATH": libdir, "TZ": "UTC",
               "LC_ALL": "C", "HOME": tmp}
        if "tlsconf" in case:
            if case.get("tlsconf_home"):    # $HOME/.config/libesmtp
                layout_tlsconf(case["tlsconf"], os.path.join(tmp, ".config", "libesmtp"),
                               fixtures)
            else:
                xdg = os.path.join(tmp, "xdg")
                layout_tlsconf(case["tlsconf"], os.path.join(xdg, "libesmtp"), fixtures)
                env["XDG_CONFIG_DIR"] = xdg
        env.update(subst(case.get("env", {}), fixtures))
        prog = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                stdin=subprocess.DEVNULL, env=env, cwd=tmp,
                                start_new_session=True)
        try:
            out, err = prog.communicate(timeout=timeout)
            rc = prog.returncode
        except subprocess.TimeoutExpired:
            kill_group(prog)
            out, err = prog.communicate()
            rc = None
        out, err = out.decode("latin-1"), err.decode("latin-1")
        if srv is not None:     # the port is random: hide it
            out = re.sub(r"(?<![0-9])%d(?![0-9])" % port, "<PORT>", out)
            err = re.sub(r"(?<![0-9])%d(?![0-9])" % port, "<PORT>", err)
        parts = ["== case %s: %s %s" % (case["name"], case["prog"],
                                        " ".join(case.get("args", []))),
                 out.rstrip("\n")]
        # Under valgrind the program's stderr varies with valgrind's; keep it
        # only when the program could not run at all.
        if err and (not opts.valgrind or rc in (None, 126, 127)):
            parts += ["== stderr", err.rstrip("\n")]
        parts.append("== exit: %s" % describe_exit(rc))
        vg_text = ""
        if opts.valgrind and rc == 99 and os.path.exists(vlog):
            with open(vlog, errors="replace") as f:
                vg_text = f.read()
        if srv is not None:
            status, serr = stop_server(srv)
            with open(tr, errors="replace") as f:
                parts += ["== server transcript", f.read().rstrip("\n")]
            parts.append("== server exit: %s" % status)
            if serr.strip():
                parts += ["== server stderr", serr.rstrip("\n")]
            srv = None
        return normalise("\n".join(parts) + "\n", socket.gethostname()), vg_text
    finally:
        if srv is not None:
            kill_group(srv)
            srv.communicate()
        if not opts.keep:
            shutil.rmtree(tmp, ignore_errors=True)


def udiff(a, b, na, nb):
    return "".join(difflib.unified_diff(a.splitlines(True), b.splitlines(True), na, nb))


def check_case(case, opts, binaries):
    """Returns (status, message) with status 'ok', 'FAIL', 'skip' or
    'pending' (a feature our library does not have yet: see PENDING)."""
    status, msg = check_case_outcome(case, opts, binaries)
    pending = [PENDING[f] for f in case.get("flags", ()) if f in PENDING]
    if pending and not is_original(opts.lib):
        if status == "FAIL":
            return "pending", "; ".join(pending)
        if status == "ok":
            return "FAIL", "passes now: drop its %s flag" % "/".join(
                f for f in case.get("flags", ()) if f in PENDING)
    return status, msg


def check_case_outcome(case, opts, binaries):
    name = case["name"]
    divergent = "divergent" in case.get("flags", ())
    golden = os.path.join(EXPECTED, name + ".out")
    if divergent and is_original(opts.lib):
        return "skip", "divergent: not run against the original libESMTP"
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
    if opts.diff_against and not divergent:
        other, _ = run_case(case, binary, opts.diff_against, opts)
        if other != out:
            msgs.append(udiff(other, out, "with " + opts.diff_against, "with " + opts.lib))
    return ("FAIL" if msgs else "ok"), "\n".join(msgs)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lib", required=True, help="dir with libesmtp.so.6, or 'debian'")
    ap.add_argument("--include", default="/usr/include", help="dir with libesmtp.h")
    ap.add_argument("--diff-against", help="second library dir (or 'debian')")
    ap.add_argument("--update", action="store_true", help="rewrite golden files")
    ap.add_argument("--valgrind", action="store_true")
    ap.add_argument("--build-dir", default=os.path.join(REPO, "target", "capi"))
    ap.add_argument("--keep", action="store_true", help="keep per-case temp dirs")
    ap.add_argument("-j", type=int, default=4, help="parallel cases")
    ap.add_argument("--list", action="store_true", help="list cases and exit")
    ap.add_argument("filters", nargs="*", help="regexes selecting case names")
    opts = ap.parse_args()

    if opts.list:
        for c in CASES:
            print(c["name"], c["prog"], " ".join(c.get("args", [])),
                  ",".join(c.get("flags", ())))
        return 0
    cases = [c for c in CASES
             if not opts.filters or any(re.search(f, c["name"]) for f in opts.filters)]
    passed = failed = pending = 0
    started = time.monotonic()
    try:
        opts.build_dir = os.path.abspath(opts.build_dir)
        opts.lib = resolve_lib(opts.lib, opts.build_dir)
        if opts.diff_against:
            opts.diff_against = resolve_lib(opts.diff_against, opts.build_dir)
        opts.include = os.path.abspath(opts.include)
        if not os.path.exists(os.path.join(opts.include, "libesmtp.h")):
            raise Failure("no libesmtp.h in %s" % opts.include)
        opts.run_dir = os.path.join(opts.build_dir, "run")
        os.makedirs(opts.run_dir, exist_ok=True)
        os.makedirs(EXPECTED, exist_ok=True)
        opts.fixtures = None
        if any(needs_fixtures(c) for c in cases):
            opts.fixtures = os.path.join(opts.run_dir, "tls-fixtures-%d" % os.getpid())
            shutil.rmtree(opts.fixtures, ignore_errors=True)
            try:
                tls_fixtures.make(opts.fixtures)
            except (tls_fixtures.FixtureError, OSError, subprocess.SubprocessError) as e:
                raise Failure("TLS test certificates: %s" % e)
    except Failure as e:
        print("FAIL setup: %s" % e)
        print("capi-esmtp: 0 passed, %d failed" % max(1, len(cases)))
        return 1

    binaries = {}
    for prog in sorted({c["prog"] for c in cases}):
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
                print("ok %s" % c["name"], flush=True)
            elif status == "skip":
                print("skip %s (%s)" % (c["name"], msg), flush=True)
            elif status == "pending":
                pending += 1
                print("pending %s (%s)" % (c["name"], msg), flush=True)
            else:
                failed += 1
                if isinstance(binaries[c["prog"]], Failure):
                    if c["prog"] in shown:  # show a compiler error only once
                        msg = "compile of %s failed (see above)" % c["prog"]
                    shown.add(c["prog"])
                print("FAIL %s\n%s" % (c["name"], msg.rstrip("\n")), flush=True)
    if opts.fixtures and not opts.keep:
        shutil.rmtree(opts.fixtures, ignore_errors=True)
    if not cases:
        print("FAIL no case matched the filters")
        failed = 1
    print("time: %.1fs" % (time.monotonic() - started))
    if pending:
        print("capi-esmtp: %d pending (cases for features of later issues; they run and are"
              " expected to fail until then)" % pending)
    print("capi-esmtp: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
