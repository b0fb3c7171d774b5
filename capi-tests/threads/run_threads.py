#!/usr/bin/python3
"""Many threads sharing the TLS session cache: t_threads.c against a TLS
sink that sends TLS 1.3 tickets (bench/sink.py), on loopback.

  run_threads.py --lib DIR --include DIR [--tsan LIBDIR]

Natively: 8 threads x 8 sessions; every message delivered (the sink counts
them too), and sessions resumed. --tsan LIBDIR: the program built with
-fsanitize=thread, against the library built with ThreadSanitizer
(tools/tsan), 8 threads x 4 sessions; any report fails.

Not helgrind: it cannot follow OpenSSL's own lock-free paths (its RAND,
ENGINE and ex_data tables), and reports dozens of races inside libcrypto
in any threaded TLS program, with libESMTP as with us. ThreadSanitizer
leaves uninstrumented OpenSSL alone and checks our code's every access.
"""
import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.dirname(HERE))
import tls_fixtures  # noqa: E402

PY = "/usr/bin/python3"


class Failure(Exception):
    pass


def start_sink(work, cert):
    portfile = os.path.join(work, "port")
    if os.path.exists(portfile):
        os.unlink(portfile)
    proc = subprocess.Popen([PY, os.path.join(REPO, "bench", "sink.py"), portfile, cert, cert, "tickets"],
                            stdout=subprocess.PIPE)
    for _ in range(200):
        if os.path.exists(portfile) and open(portfile).read():
            return proc, int(open(portfile).read())
        time.sleep(0.02)
    proc.kill()
    raise Failure("the TLS sink did not start")


def stop_sink(proc):
    proc.send_signal(signal.SIGTERM)
    out = proc.communicate(timeout=10)[0].decode().split()
    return int(out[-1]) if out else -1


def run(name, cmd, env, threads, sessions, work, cert, timeout, min_resumed):
    sink, port = start_sink(work, cert)
    try:
        p = subprocess.run(cmd + ["localhost:%d" % port, str(threads), str(sessions)], env=env,
                           capture_output=True, text=True, timeout=timeout)
    finally:
        accepted = stop_sink(sink)
    total = threads * sessions
    m = re.search(r"delivered (\d+) of (\d+), resumed (\d+)", p.stdout)
    if p.returncode != 0 or not m:
        raise Failure("%s: exit %d\n%s\n%s" % (name, p.returncode, p.stdout, p.stderr[-4000:]))
    delivered, resumed = int(m.group(1)), int(m.group(3))
    if delivered != total or accepted != total:
        raise Failure("%s: delivered %d, the sink accepted %d, of %d" % (name, delivered, accepted, total))
    if resumed < min_resumed:
        raise Failure("%s: %d of %d sessions resumed, want at least %d" % (name, resumed, total, min_resumed))
    print("ok %s: %d threads x %d sessions delivered, %d resumed" % (name, threads, sessions, resumed))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", required=True)
    ap.add_argument("--include", required=True)
    ap.add_argument("--tsan", metavar="LIBDIR")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="threads-")
    try:
        fx = os.path.join(work, "fx")
        tls_fixtures.make(fx)
        xdg = os.path.join(work, "xdg")
        os.makedirs(os.path.join(xdg, "libesmtp"), mode=0o700)
        os.chmod(xdg, 0o700)
        shutil.copy(os.path.join(fx, "ca.pem"), os.path.join(xdg, "libesmtp", "ca.pem"))
        os.chmod(os.path.join(xdg, "libesmtp", "ca.pem"), 0o600)
        cert = os.path.join(fx, "server-valid.pem")
        src = os.path.join(HERE, "t_threads.c")

        def build(out, lib, extra=()):
            exe = os.path.join(work, out)
            subprocess.run(["cc", "-Wall", "-Wextra", "-Werror", "-pthread", *extra, "-I", args.include,
                            "-o", exe, "-L", lib, "-Wl,-rpath," + os.path.abspath(lib), "-lesmtp", "-lssl",
                            "-lcrypto"], check=True)
            return exe

        env = dict(os.environ, XDG_CONFIG_DIR=xdg)
        exe = build("t_threads", args.lib, [src])
        # Two tickets a handshake, each used once: resumptions are most
        # sessions but not all, as threads race for them.
        run("native", [exe], env, 8, 8, work, cert, 120, 32)
        if args.tsan:
            texe = build("t_threads_tsan", args.tsan, ["-fsanitize=thread", "-g", "-rdynamic",
                                                       src, os.path.join(HERE, "tsan_shims.c")])
            # OpenSSL is not instrumented: its own atomics (reference counts,
            # lock-free tables) are invisible, so races inside it are not ours
            # to judge; the rest is suppressed in tsan.supp, with the reason.
            tenv = dict(env, TSAN_OPTIONS="halt_on_error=1 exitcode=66 report_signal_unsafe=0 "
                        "ignore_noninstrumented_modules=1 suppressions=" + os.path.join(HERE, "tsan.supp"))
            run("tsan", [texe], tenv, 8, 4, work, cert, 300, 8)
    except Failure as e:
        print("FAIL", e)
        return 1
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
