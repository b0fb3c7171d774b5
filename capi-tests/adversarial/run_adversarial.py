#!/usr/bin/python3
"""The adversarial suite: libesmtp.so.6 against servers that break the
protocol, with an oracle that knows what each server really said.

    run_adversarial.py --lib target/lib --include include
        [--random N] [--seed S] [--valgrind K] [-j J] [--list] [REGEX ...]

Scripted dialogues cover every stage of a session (greeting, EHLO, STARTTLS,
AUTH, MAIL, RCPT, DATA, body, dot, BDAT, QUIT) with every behaviour of
server.py (malformed replies of each kind, surplus replies before and after,
an early 354, replies of the wrong kind, replies in small pieces, close,
stall), with and without PIPELINING. The random mode draws N more servers
from seed S, each breaking any command with some probability. For each
dialogue the oracle asserts:

  - a message whose transfer status is 2xx was accepted: the server's
    intended reply to its final dot (to every BDAT chunk) was a well-formed
    2xx; a recipient reported delivered (complete, 2xx, in a message with a
    2xx transfer status) was accepted by its own RCPT;
  - the client did not crash (it printed everything and exited 0);
  - it did not hang: it ended within BOUND seconds (every timeout is 1 s).

--valgrind K runs the first K scripted dialogues (and K random ones) under
memcheck as well. The last line reads "adversarial: N passed, M failed".
"""
import argparse
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))
import server  # noqa: E402
import tls_fixtures  # noqa: E402

BOUND = 12.0  # seconds a dialogue may take; stalls cost 1 s per stage

STAGES = ["GREETING", "EHLO", "MAIL", "RCPT", "DATA", "BODY", "EOD", "QUIT", "STARTTLS", "AUTH",
          "BDAT"]
BODY_BEHAVIOURS = ["close", "stall", "cut", "mal:overlong", "mal:250x", "mal:nul"]


def ehlo_for(pipelining, starttls=False, auth=False, chunking=False):
    ext = ["8BITMIME", "ENHANCEDSTATUSCODES"]
    if pipelining:
        ext.append("PIPELINING")
    if starttls:
        ext.append("STARTTLS")
    if auth:
        ext.append("AUTH PLAIN")
    if chunking:
        ext.append("CHUNKING")
    return ext


def scripted():
    """(name, plan table, ehlo, client flags, messages, recipients)."""
    out = []
    # The shapes a review found, by name.
    named = [
        ("data_250", {"DATA": "code:250"}),
        ("ehlo_extra_line", {"EHLO": "dup"}),
        ("mail_twice", {"MAIL": "dup"}),
        ("rcpt_twice", {"RCPT": "dup"}),
        ("dot_twice", {"EOD": "dup"}),
        ("dot_surplus_first", {"EOD#1": "pre", "EOD#2": "code:554"}),
        ("early_354", {"MAIL": "early354"}),
        ("dot_250x", {"EOD": "mal:250x"}),
        ("dot_mismatch", {"EOD": "mal:mismatch"}),
        ("dot_nul", {"EOD": "mal:nul"}),
        ("dot_cut", {"EOD": "cut"}),
    ]
    for pipe in (False, True):
        tag = "pipe" if pipe else "nopipe"
        for name, table in named:
            out.append(("%s_%s" % (name, tag), table, ehlo_for(pipe), [], 2, 2))
        for stage in STAGES:
            behaviours = BODY_BEHAVIOURS if stage == "BODY" else server.BEHAVIOURS
            for b in behaviours:
                if b == "ok":
                    continue
                flags, ehlo = [], ehlo_for(pipe)
                if stage == "STARTTLS":
                    flags, ehlo = ["starttls"], ehlo_for(pipe, starttls=True)
                elif stage == "AUTH":
                    flags, ehlo = ["auth"], ehlo_for(pipe, auth=True)
                elif stage == "BDAT":
                    ehlo = ehlo_for(pipe, chunking=True)
                for nth in (1, 2) if stage in ("MAIL", "RCPT", "EOD", "BDAT") else (1,):
                    key = stage if nth == 1 else "%s#%d" % (stage, nth)
                    name = "%s%s_%s_%s" % (stage.lower(), "" if nth == 1 else str(nth),
                                           re.sub(r"\W", "_", b), tag)
                    out.append((name, {key: b}, ehlo, flags, 2, 2))
    return out


def random_cases(n, seed):
    out = []
    for i in range(n):
        s = seed * 100003 + i
        pick = server.random.Random(s)
        pipe, tls, auth, chunk = (pick.random() < 0.5, pick.random() < 0.2, pick.random() < 0.2,
                                  pick.random() < 0.25)
        flags = (["starttls"] if tls else []) + (["auth"] if auth else [])
        out.append(("random_%d_%d" % (seed, i), s, ehlo_for(pipe, tls, auth, chunk), flags,
                    pick.randint(1, 3), pick.randint(1, 3)))
    return out


def build(opts, out_dir):
    exe = os.path.join(out_dir, "adv_client")
    lib = os.path.abspath(opts.lib)
    subprocess.run(["cc", "-Wall", "-Wextra", "-Werror", "-I" + opts.include,
                    os.path.join(HERE, "adv_client.c"), "-L" + lib, "-lesmtp",
                    "-Wl,-rpath," + lib, "-o", exe], check=True)
    return exe


def tls_context(out_dir):
    tls_fixtures.selfsigned_ca(out_dir, "advca", "Adversary CA")
    tls_fixtures.signed(out_dir, "adv", "adv.test", "server", "advca", sans=[("DNS", "adv.test")])
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.path.join(out_dir, "adv.crt"), os.path.join(out_dir, "adv.key"))
    ctx.num_tickets = 0
    return ctx


def run_one(case, exe, tls_ctx, valgrind):
    name, plan_spec, ehlo, flags, nmsgs, nrcpts = case
    plan = server.random_plan(plan_spec) if isinstance(plan_spec, int) else server.fixed_plan(plan_spec)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    bound = BOUND * (6 if valgrind else 1)
    result = {}

    def serve():
        try:
            result["adv"] = server.serve_once(listener, plan, ehlo, tls_ctx, deadline=bound)
        except Exception as e:  # the server's own failure is reported, not raised
            result["error"] = repr(e)

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    cmd = [exe, "127.0.0.1:%d" % port, str(nmsgs), str(nrcpts)] + flags
    if valgrind:
        cmd = ["valgrind", "-q", "--error-exitcode=99", "--leak-check=full",
               "--errors-for-leak-kinds=definite",
               "--suppressions=" + os.path.join(os.path.dirname(HERE), "valgrind.supp")] + cmd
    t0 = time.monotonic()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=bound + 5)
        rc, out, err = p.returncode, p.stdout, p.stderr
    except subprocess.TimeoutExpired as e:
        rc, out, err = None, (e.stdout or b"").decode(errors="replace"), "timeout"
    elapsed = time.monotonic() - t0
    t.join(bound + 5)
    listener.close()
    problems = []
    adv = result.get("adv")
    if "error" in result:
        problems.append("server failed: " + result["error"])
    if rc is None:
        problems.append("hang: no end after %.0f s" % (bound + 5))
    elif rc != 0:
        problems.append("client exit %s: %s" % (rc, err.strip()[-400:]))
    elif not out.rstrip().endswith("done"):
        problems.append("client output incomplete")
    if elapsed > bound:
        problems.append("took %.1f s, over %.0f s" % (elapsed, bound))
    if adv is not None:
        problems += oracle(out, adv)
    return name, problems, out, adv


def oracle(out, adv):
    bad = []
    msg_code = {}
    for line in out.splitlines():
        f = line.split()
        if f[:1] == ["msg"]:
            msg_code[int(f[1])] = int(f[2])
            if 200 <= int(f[2]) < 300 and "adv-%s" % f[1] not in adv.accepted_msgs:
                bad.append("message %s reported %s, but the server never accepted it" % (f[1], f[2]))
        elif f[:1] == ["rcpt"]:
            i, j, code, complete = int(f[1]), int(f[2]), int(f[3]), int(f[4])
            addr = "r%d-%d@example.org" % (i, j)
            # Delivered to this recipient: complete, its RCPT 2xx, and the
            # message 2xx (a 5xx final reply completes 2xx recipients too).
            delivered = complete and 200 <= code < 300 and 200 <= msg_code.get(i, 0) < 300
            if delivered and addr not in adv.accepted_rcpts:
                bad.append("recipient %s reported delivered (%d), but the server never accepted it"
                           % (addr, code))
    return bad


def describe(adv):
    lines = []
    for stage, arg, b, intended in adv.log:
        lines.append("  %-8s %-22s %-14s -> %r" % (stage, arg[:22], b, intended))
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lib", required=True)
    ap.add_argument("--include", required=True)
    ap.add_argument("--random", type=int, default=300)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--valgrind", type=int, default=0)
    ap.add_argument("-j", type=int, default=4)
    ap.add_argument("--list", action="store_true")
    ap.add_argument("filters", nargs="*")
    opts = ap.parse_args()
    cases = scripted() + random_cases(opts.random, opts.seed)
    if opts.filters:
        cases = [c for c in cases if any(re.search(f, c[0]) for f in opts.filters)]
    if opts.list:
        for c in cases:
            print(c[0])
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        exe = build(opts, tmp)
        tls_ctx = tls_context(tmp)
        runs = [(c, False) for c in cases]
        if opts.valgrind:
            if not shutil.which("valgrind"):
                print("valgrind not found")
                return 1
            scripted_cases = [c for c in cases if not isinstance(c[1], int)]
            random_ones = [c for c in cases if isinstance(c[1], int)]
            step = max(1, len(scripted_cases) // opts.valgrind)
            runs += [(c, True) for c in scripted_cases[::step][:opts.valgrind] + random_ones[:opts.valgrind]]
        t0 = time.monotonic()
        passed = failed = 0
        with ThreadPoolExecutor(max_workers=opts.j) as pool:
            futures = [(pool.submit(run_one, c, exe, tls_ctx, vg), vg) for c, vg in runs]
            for fut, vg in futures:
                name, problems, out, adv = fut.result()
                label = name + (" (valgrind)" if vg else "")
                if problems:
                    failed += 1
                    print("FAIL %s" % label)
                    for p in problems:
                        print("  " + p)
                    print("  client said: " + " | ".join(out.splitlines()))
                    if adv is not None:
                        print(describe(adv))
                else:
                    passed += 1
        print("time: %.1fs (%d dialogues, %d under valgrind, seed %d)"
              % (time.monotonic() - t0, len(runs), sum(1 for _, v in runs if v), opts.seed))
        print("adversarial: %d passed, %d failed" % (passed, failed))
        return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
