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
import zlib
from dataclasses import dataclass, field

_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_RESERVED = {"ca", "other-ca", "expired", "untrusted"}

_CA_EXT = ("basicConstraints=critical,CA:TRUE\n"
           "keyUsage=critical,keyCertSign,cRLSign\n"
           "subjectKeyIdentifier=hash\n")
_SERVER_EXT = ("basicConstraints=critical,CA:FALSE\n"
               "keyUsage=critical,digitalSignature\n"
               "extendedKeyUsage=serverAuth\n"
               "subjectAltName=@alt\n")


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


def _key(work, name):
    _openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
              "-out", name + ".key"], work)


def _ca(work, name, cn):
    """A self-signed CA; `openssl req -x509` takes its extensions from a
    config section, hence the small config file."""
    _key(work, name)
    cnf = os.path.join(work, name + ".cnf")
    _write(cnf, "[req]\ndistinguished_name=dn\n[dn]\n[v3]\n" + _CA_EXT)
    _openssl(["req", "-new", "-x509", "-key", name + ".key", "-subj", "/CN=" + cn,
              "-days", "3650", "-sha256", "-config", cnf, "-extensions", "v3",
              "-out", name + ".crt"], work)


def _server_ext(work, name, dns_names):
    path = os.path.join(work, name + ".ext")
    _write(path, _SERVER_EXT + "[alt]\n" +
           "".join("DNS.%d=%s\n" % (i, n) for i, n in enumerate(dns_names)))
    return path


def _server(work, name, dns_names, ca, dates=None):
    """Key + certificate `name` for dns_names signed by `ca`.  dates =
    (notBefore, notAfter) as YYYYMMDDHHMMSSZ for a certificate outside its
    validity period: `openssl x509 -req` (3.0) cannot back-date, `openssl ca`
    can, so that path uses a throw-away CA database."""
    _key(work, name)
    ext = _server_ext(work, name, dns_names)
    _openssl(["req", "-new", "-key", name + ".key", "-subj", "/CN=" + dns_names[0],
              "-config", _req_cnf(work), "-out", name + ".csr"], work)
    if dates is None:
        _openssl(["x509", "-req", "-in", name + ".csr", "-CA", ca + ".crt",
                  "-CAkey", ca + ".key", "-set_serial", str(zlib.crc32(name.encode()) + 1),
                  "-days", "3650", "-sha256", "-extfile", ext, "-out", name + ".crt"], work)
        return
    db = os.path.join(work, name + ".db")
    os.mkdir(db, 0o700)
    _write(os.path.join(db, "index.txt"), "")
    _write(os.path.join(db, "serial"), "1000\n")
    cnf = os.path.join(work, name + ".ca.cnf")
    _write(cnf, "[ca]\ndefault_ca=cad\n[cad]\ndatabase=%s/index.txt\nserial=%s/serial\n"
           "new_certs_dir=%s\ndefault_md=sha256\npolicy=pol\nunique_subject=no\n"
           "[pol]\ncommonName=supplied\n" % (db, db, db))
    _openssl(["ca", "-batch", "-config", cnf, "-cert", ca + ".crt", "-keyfile", ca + ".key",
              "-in", name + ".csr", "-out", name + ".crt", "-notext",
              "-startdate", dates[0], "-enddate", dates[1], "-extfile", ext], work)


def _req_cnf(work):
    """Minimal config for `openssl req` so the system openssl.cnf (which may
    add extensions or prompts) plays no part."""
    path = os.path.join(work, "req.cnf")
    if not os.path.exists(path):
        _write(path, "[req]\ndistinguished_name=dn\nprompt=no\n[dn]\n")
    return path


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
        _ca(work, "ca", "policy test CA")
        _ca(work, "other-ca", "policy unrelated CA")
        for label, dns in sets.items():
            _server(work, "s-" + label, dns, "ca")
        _server(work, "expired", every, "ca", dates=("20200101000000Z", "20210101000000Z"))
        _server(work, "untrusted", every, "other-ca")

        def keep(src, dst):
            with open(os.path.join(work, src), "rb") as f:
                _write(os.path.join(d, dst), f.read())
            return os.path.join(d, dst)

        pki = Pki(dir=d, ca=keep("ca.crt", "ca.pem"), ca_key=keep("ca.key", "ca.key"),
                  other_ca=keep("other-ca.crt", "other-ca.pem"),
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
