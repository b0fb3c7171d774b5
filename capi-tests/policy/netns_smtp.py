#!/usr/bin/python3
"""Runs a command beside a plain aiosmtpd server on 127.0.0.1:PORT, for a
client started in a network namespace of its own (run_policy.py runs this
under unshare --net --mount): only its loopback exists, so nothing the
client sends can leave the host whatever its /etc/resolv.conf names.
Prints the command's output, then {"netns-received": N}.

usage: netns_smtp.py PORT -- COMMAND...
"""

import json
import subprocess
import sys

from aiosmtpd.controller import Controller


class Count:
    def __init__(self):
        self.n = 0

    async def handle_DATA(self, server, session, envelope):
        self.n += 1
        return "250 2.0.0 accepted"


def main():
    port = int(sys.argv[1])
    cmd = sys.argv[sys.argv.index("--") + 1:]
    h = Count()
    ctl = Controller(h, hostname="127.0.0.1", port=port, ready_timeout=10)
    ctl.start()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=50)
    finally:
        ctl.stop()
    sys.stdout.write(p.stdout)
    sys.stderr.write(p.stderr)
    print(json.dumps({"netns-received": h.n}))
    return p.returncode


if __name__ == "__main__":
    sys.exit(main())
