#!/usr/bin/python3
"""Test certificates for the libESMTP STARTTLS tests, made with the openssl
command line (OpenSSL 3).  Nothing here is committed: run_esmtp.py calls
make() once per run into a fresh directory, or run it by hand:

    tls_fixtures.py DIR         (DIR must not exist yet)

All keys are EC P-256.  Files are created owner-only (0600, directories
0700), as libESMTP's file checks require for what the client reads.

  ca.pem, ca.key                 "capi test CA" (self-signed root)
  server-valid.pem               cert + key: CN mx.test, SAN DNS:mx.test,
                                 DNS:localhost, IP:127.0.0.1; signed by the CA
  server-valid-chain.pem         the same, followed by the CA certificate
  server-expired.pem             same names and CA, valid 2020-01-01..2021-01-01
  server-wrong.pem               CN/SAN other.test, signed by the CA
  server-selfsigned.pem          self-signed, CN/SAN mx.test (verify result 18)
  client-ca.pem, client-ca.key   "capi test client CA"
  client.pem                     cert + key: CN client.test (clientAuth),
                                 signed by the client CA
  client-encrypted.pem           the same certificate + its key encrypted
                                 (AES-256) with PASSPHRASE
  client-cert-only.pem           only the certificate (no key)
  cadir/<hash>.0                 ca.pem in an OpenSSL hashed directory
  other-ca.pem                   an unrelated CA (trusted by nobody)
"""

import os
import shutil
import subprocess
import sys
import tempfile
import zlib

PASSPHRASE = "capi-secret"          # t_tls2.c uses the same words

_EXT = {
    "ca": "basicConstraints=critical,CA:TRUE\n"
          "keyUsage=critical,keyCertSign,cRLSign\n"
          "subjectKeyIdentifier=hash\n",
    "server": "basicConstraints=critical,CA:FALSE\n"
              "keyUsage=critical,digitalSignature\n"
              "extendedKeyUsage=serverAuth\n"
              "subjectAltName=@alt\n",
    "client": "basicConstraints=critical,CA:FALSE\n"
              "keyUsage=critical,digitalSignature\n"
              "extendedKeyUsage=clientAuth\n",
}


class FixtureError(Exception):
    pass


def _run(args, cwd):
    p = subprocess.run(["openssl"] + args, cwd=cwd, capture_output=True, text=True,
                       timeout=60, stdin=subprocess.DEVNULL)
    if p.returncode != 0:
        raise FixtureError("openssl %s failed:\n%s%s" % (" ".join(args), p.stdout, p.stderr))
    return p.stdout


def _write(path, text):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)


def _read(path):
    with open(path) as f:
        return f.read()


def _extfile(d, name, kind, sans=()):
    text = _EXT[kind]
    if kind == "server":
        text += "[alt]\n" + "".join("%s.%d=%s\n" % (t, i, v) for i, (t, v) in enumerate(sans))
    path = os.path.join(d, name + ".ext")
    _write(path, text)
    return path


def _key(d, name):
    _run(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
          "-out", name + ".key"], d)


def selfsigned_ca(d, name, cn):
    """A self-signed CA: `name`.pem and `name`.key in d (also used by
    policy/pki.py)."""
    _key(d, name)
    ext = _extfile(d, name, "ca")
    _run(["req", "-new", "-x509", "-key", name + ".key", "-subj", "/CN=" + cn,
          "-days", "3650", "-sha256", "-extensions", "v3", "-config", _reqcnf(d, ext),
          "-out", name + ".pem"], d)


def _reqcnf(d, extpath):
    """A req config whose [v3] section holds the extensions of extpath."""
    cnf = extpath + ".cnf"
    ext = _read(extpath)
    body, _, alt = ext.partition("[alt]\n")
    _write(cnf, "[req]\ndistinguished_name=dn\n[dn]\n[v3]\n" + body +
           ("[alt]\n" + alt if alt else ""))
    return cnf


def signed(d, name, cn, kind, ca, sans=(), dates=None):
    """Key + certificate `name` signed by `ca`; `dates` = (start, end) in
    YYYYMMDDHHMMSSZ form for a certificate outside its validity period."""
    _key(d, name)
    ext = _extfile(d, name, kind, sans)
    _run(["req", "-new", "-key", name + ".key", "-subj", "/CN=" + cn, "-out", name + ".csr"], d)
    if dates is None:
        _run(["x509", "-req", "-in", name + ".csr", "-CA", ca + ".pem", "-CAkey", ca + ".key",
              "-set_serial", str(zlib.crc32(name.encode()) + 1), "-days", "3650",
              "-sha256", "-extfile", ext, "-out", name + ".crt"], d)
        return
    # `openssl x509` (3.0) cannot set dates in the past; `openssl ca` can.
    db = os.path.join(d, name + ".db")
    os.mkdir(db, 0o700)
    _write(os.path.join(db, "index.txt"), "")
    _write(os.path.join(db, "serial"), "1000\n")
    cnf = os.path.join(d, name + ".ca.cnf")
    _write(cnf, "[ca]\ndefault_ca=cad\n[cad]\ndatabase=%s/index.txt\nserial=%s/serial\n"
           "new_certs_dir=%s\ndefault_md=sha256\npolicy=pol\nunique_subject=no\n"
           "[pol]\ncommonName=supplied\n" % (db, db, db))
    _run(["ca", "-batch", "-config", cnf, "-cert", ca + ".pem", "-keyfile", ca + ".key",
          "-in", name + ".csr", "-out", name + ".crt", "-notext", "-startdate", dates[0],
          "-enddate", dates[1], "-extfile", ext], d)


def make(d):
    """Create all fixtures in the new directory d; returns d."""
    d = os.path.abspath(d)
    if shutil.which("openssl") is None:
        raise FixtureError("the openssl command is not installed")
    os.makedirs(d, mode=0o700)
    os.chmod(d, 0o700)
    work = tempfile.mkdtemp(prefix="work-", dir=d)
    try:
        selfsigned_ca(work, "ca", "capi test CA")
        selfsigned_ca(work, "client-ca", "capi test client CA")
        selfsigned_ca(work, "other-ca", "capi unrelated CA")
        names = [("DNS", "mx.test"), ("DNS", "localhost"), ("IP", "127.0.0.1")]
        signed(work, "server-valid", "mx.test", "server", "ca", names)
        signed(work, "server-expired", "mx.test", "server", "ca", names,
                dates=("20200101000000Z", "20210101000000Z"))
        signed(work, "server-wrong", "other.test", "server", "ca", [("DNS", "other.test")])
        signed(work, "client", "client.test", "client", "client-ca")
        # self-signed server certificate (replaces the old committed tls/server.pem)
        _key(work, "server-selfsigned")
        ext = _extfile(work, "server-selfsigned", "server", [("DNS", "mx.test")])
        _run(["req", "-new", "-x509", "-key", "server-selfsigned.key", "-subj", "/CN=mx.test",
              "-days", "3650", "-sha256", "-extensions", "v3", "-config", _reqcnf(work, ext),
              "-out", "server-selfsigned.crt"], work)
        _run(["pkey", "-in", "client.key", "-aes256", "-passout", "pass:" + PASSPHRASE,
              "-out", "client-encrypted.key"], work)

        def w(out, *parts):
            _write(os.path.join(d, out), "".join(_read(os.path.join(work, p)) for p in parts))
        for ca in ("ca", "client-ca", "other-ca"):
            w(ca + ".pem", ca + ".pem")
            w(ca + ".key", ca + ".key")
        for s in ("server-valid", "server-expired", "server-wrong", "server-selfsigned"):
            w(s + ".pem", s + ".crt", s + ".key")
        w("server-valid-chain.pem", "server-valid.crt", "ca.pem", "server-valid.key")
        w("client.pem", "client.crt", "client.key")
        w("client-encrypted.pem", "client.crt", "client-encrypted.key")
        w("client-cert-only.pem", "client.crt")
        h = _run(["x509", "-in", "ca.pem", "-noout", "-hash"], work).strip()
        os.mkdir(os.path.join(d, "cadir"), 0o700)
        w(os.path.join("cadir", h + ".0"), "ca.pem")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return d


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    try:
        make(sys.argv[1])
    except (FixtureError, OSError) as e:
        print("tls_fixtures: %s" % e, file=sys.stderr)
        return 1
    print(sys.argv[1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
