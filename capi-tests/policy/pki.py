#!/usr/bin/python3
"""Test PKI for the MTA-STS and DANE tests, made with the openssl command
line (OpenSSL 3).  Nothing here is committed: tests call make() into a
fresh directory, or run it by hand:

    pki.py DIR LABEL=NAME[,NAME...] ...

All keys are EC P-256.  Files are owner-only (0600) in an owner-only (0700)
directory, like the rest of the test fixtures.

make(dirpath, names) writes, for names = {label: [dns names]}:

  ca.pem, ca.key                  "policy test CA" (self-signed root)
  <label>.crt, <label>.key        per name-set: CN = first name, SAN = all
                                  names, signed by the CA, valid ~10 years
  expired.crt, expired.key        SAN = every requested name, signed by the
                                  CA, valid 2020-01-01..2021-01-01 only
  other-ca.pem, other-ca.key      an unrelated CA (trusted by nobody)
  untrusted.crt, untrusted.key    SAN = every requested name, signed by the
                                  unrelated CA

and returns a Pki (paths only).  The expired and untrusted certificates
carry every requested name so that a test fails on the one property it is
about (dates, issuer) rather than on a name mismatch.

tlsa_data(certfile, selector, mtype) gives the TLSA certificate association
data (hex) for a certificate, as a DANE TLSA record would carry it.
"""

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
# The libESMTP suite's certificate makers: the same CA and server recipes.
from tls_fixtures import selfsigned_ca, signed  # noqa: E402

_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_RESERVED = {"ca", "other-ca", "expired", "untrusted"}


class PkiError(Exception):
    """An openssl command failed, or make() was called with bad arguments."""


@dataclass
class Pki:
    """Paths of everything make() wrote (all absolute)."""
    dir: str
    ca: str                      # CA certificate the tests trust
    ca_key: str
    other_ca: str                # unrelated CA certificate
    other_ca_key: str
    certs: dict = field(default_factory=dict)   # label -> (certfile, keyfile)
    expired: tuple = ()          # (certfile, keyfile)
    untrusted: tuple = ()        # (certfile, keyfile)


def _openssl(args, cwd, stdin=None):
    """Run openssl; raise PkiError with its output when it fails, so a broken
    fixture never looks like a library bug."""
    p = subprocess.run(["openssl"] + args, cwd=cwd, capture_output=True,
                       input=stdin, timeout=60)
    if p.returncode != 0:
        raise PkiError("openssl %s failed (exit %d):\n%s%s" % (
            " ".join(args), p.returncode,
            p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")))
    return p.stdout


def _write(path, data):
    """Write a file owner-only from the start (no window with wider modes)."""
    if isinstance(data, str):
        data = data.encode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(path, 0o600)


def _normalise_names(names):
    """names: {label: [dns names]} or an iterable of name-sets (label = the
    first name).  Returns an ordered dict and rejects what would make an
    ambiguous or unsafe file name."""
    if isinstance(names, dict):
        items = list(names.items())
    else:
        items = [(list(s)[0] if s else "", s) for s in names]
    out = {}
    for label, dns in items:
        dns = [dns] if isinstance(dns, str) else list(dns)
        if not _LABEL.match(label) or label in _RESERVED or label in out:
            raise PkiError("bad or duplicate certificate label %r" % (label,))
        if not dns or not all(isinstance(n, str) and n and " " not in n for n in dns):
            raise PkiError("certificate %r needs at least one DNS name" % (label,))
        out[label] = [n.rstrip(".") for n in dns]
    if not out:
        raise PkiError("make() needs at least one name-set")
    return out


def make(dirpath, names):
    """Create the PKI described in the module docstring in dirpath (created
    0700 if missing; must not already hold a previous PKI) and return a Pki."""
    if shutil.which("openssl") is None:
        raise PkiError("the openssl command is not installed")
    sets = _normalise_names(names)
    d = os.path.abspath(dirpath)
    os.makedirs(d, mode=0o700, exist_ok=True)
    os.chmod(d, 0o700)
    if os.path.exists(os.path.join(d, "ca.pem")):
        raise PkiError("%s already holds a PKI; use a fresh directory" % d)
    every = []
    for dns in sets.values():
        every += [n for n in dns if n not in every]
    work = tempfile.mkdtemp(prefix="work-", dir=d)
    try:
        selfsigned_ca(work, "ca", "policy test CA")
        selfsigned_ca(work, "other-ca", "policy unrelated CA")

        def server(name, dns, ca, dates=None):
            signed(work, name, dns[0], "server", ca, [("DNS", n) for n in dns], dates)

        for label, dns in sets.items():
            server("s-" + label, dns, "ca")
        server("expired", every, "ca", dates=("20200101000000Z", "20210101000000Z"))
        server("untrusted", every, "other-ca")

        def keep(src, dst):
            with open(os.path.join(work, src), "rb") as f:
                _write(os.path.join(d, dst), f.read())
            return os.path.join(d, dst)

        pki = Pki(dir=d, ca=keep("ca.pem", "ca.pem"), ca_key=keep("ca.key", "ca.key"),
                  other_ca=keep("other-ca.pem", "other-ca.pem"),
                  other_ca_key=keep("other-ca.key", "other-ca.key"))
        for label in sets:
            pki.certs[label] = (keep("s-%s.crt" % label, label + ".crt"),
                                keep("s-%s.key" % label, label + ".key"))
        for name in ("expired", "untrusted"):
            setattr(pki, name, (keep(name + ".crt", name + ".crt"),
                                keep(name + ".key", name + ".key")))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return pki


def tlsa_data(certfile, selector, mtype):
    """TLSA certificate association data (lower-case hex) of the first
    certificate in certfile: selector 0 = whole certificate (DER), 1 =
    SubjectPublicKeyInfo (DER); matching type 0 = exact, 1 = SHA-256,
    2 = SHA-512 (RFC 6698 section 2.1)."""
    if selector not in (0, 1) or mtype not in (0, 1, 2):
        raise PkiError("unsupported TLSA selector/matching type %r/%r" % (selector, mtype))
    cwd = os.path.dirname(os.path.abspath(certfile))
    if selector == 0:
        der = _openssl(["x509", "-in", certfile, "-outform", "DER"], cwd)
    else:
        pem = _openssl(["x509", "-in", certfile, "-noout", "-pubkey"], cwd)
        der = _openssl(["pkey", "-pubin", "-outform", "DER"], cwd, stdin=pem)
    if not der:
        raise PkiError("openssl gave no DER output for %s" % certfile)
    if mtype == 1:
        return hashlib.sha256(der).hexdigest()
    if mtype == 2:
        return hashlib.sha512(der).hexdigest()
    return der.hex()


def tlsa_record(owner, certfile, usage=3, selector=1, mtype=1, ttl=300):
    """A zone-file TLSA line for owner (e.g. "_25._tcp.mx.dane-ok.test.")."""
    if not owner.endswith("."):
        raise PkiError("TLSA owner %r must be absolute (end with a dot)" % owner)
    return "%s %d IN TLSA %d %d %d %s" % (owner, ttl, usage, selector, mtype,
                                          tlsa_data(certfile, selector, mtype))


def main():
    if len(sys.argv) < 3:
        print(__doc__)
        return 2
    try:
        sets = {}
        for arg in sys.argv[2:]:
            label, eq, dns = arg.partition("=")
            if not eq:
                raise PkiError("argument %r is not LABEL=NAME[,NAME...]" % arg)
            sets[label] = dns.split(",")
        pki = make(sys.argv[1], sets)
    except (PkiError, OSError) as e:
        print("pki: %s" % e, file=sys.stderr)
        return 1
    print(pki)
    return 0


if __name__ == "__main__":
    sys.exit(main())
