"""What both benchmark drivers share: running a program under time(1) for
its own peak RSS, with wait4's precise CPU figures."""
import os
import subprocess

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(REPO, "target", "bench")
TIME_FILE = os.path.join(OUT, "time.out")


def timed_popen(args, **kw):
    """Starts `args` under /usr/bin/time for its peak RSS: a child forked
    from Python would count the interpreter's memory in ru_maxrss, while
    time(1) reports the program's own."""
    os.makedirs(OUT, exist_ok=True)
    return subprocess.Popen(["/usr/bin/time", "-f", "%M", "-o", TIME_FILE] + list(args), **kw)


def timed_wait(proc):
    """Waits for a timed_popen process: exit status, user and system CPU
    seconds (wait4's microsecond figures: time(1) only has 10 ms), peak RSS
    in KiB."""
    _, status, ru = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    with open(TIME_FILE) as f:
        rss = int(f.read().split()[-1])
    return proc.returncode, ru.ru_utime, ru.ru_stime, rss
