#!/usr/bin/python3
"""HTTPS server for MTA-STS policy fetches (RFC 8461 section 3.3) in a
background thread on 127.0.0.1, with per-host behaviours for the error
cases a policy fetcher must survive.

    routes = {
        "mta-sts.sts.test":   ("policy", "version: STSv1\\r\\nmode: enforce\\r\\n..."),
        "mta-sts.err.test":   ("status", 500),
        "mta-sts.html.test":  ("content-type", "text/html", "..."),
        "mta-sts.moved.test": ("redirect", "https://elsewhere.test/.well-known/mta-sts.txt"),
        "mta-sts.stall.test": ("stall",),
        "mta-sts.huge.test":  ("huge", 1 << 20),
        "mta-sts.slow.test":  ("slow-headers",),
    }
    with StsServer(certfile, keyfile, routes) as srv:
        port = srv.port                    # what start() returned
        ...
        assert ("mta-sts.sts.test", "/.well-known/mta-sts.txt") in srv.requests

Behaviours (only for GET /.well-known/mta-sts.txt; any other path, and any
Host not in routes, gets 404):
  ("policy", text)               200, Content-Type: text/plain, text
  ("status", code)               that status, a short text/plain body
  ("content-type", ctype, text)  200 with that Content-Type
  ("redirect", location)         301 with Location (RFC 8461: must not be followed)
  ("stall",)                     read the request, then send nothing until the
                                 client closes (at most STALL_CAP seconds)
  ("huge", nbytes[, text])       200 text/plain: a valid policy (or text) then
                                 nbytes of junk lines, streamed; Content-Length
                                 gives the true total size
  ("slow-headers",)              status line and headers (Content-Length 200),
                                 then nothing, as "stall"

The Host header decides the route (port suffix and case ignored).  Every
request is logged as (host, path) in `requests`; SNI names of completed
handshakes in `sni`; connections that failed before a request (aborted or
bad handshakes, timeouts) in `errors`.  Each connection is served by its own
thread, and the TLS handshake happens in that thread, so a client that
stalls or aborts its handshake never blocks the others.

certs_by_sni={name: (certfile, keyfile)} optionally serves another
certificate when the client's SNI is that name (e.g. an expired one).
"""

import http.server
import socket
import socketserver
import ssl
import sys
import threading
import time
import traceback

WELL_KNOWN = "/.well-known/mta-sts.txt"
STALL_CAP = 60.0          # longest a stall keeps a connection open
IO_TIMEOUT = 10.0         # handshake / request read timeout per connection
POLL = 0.2                # how often stalled threads look at the stop flag
STOP_JOIN = 5.0           # how long stop() waits for connection threads
DEFAULT_POLICY = ("version: STSv1\r\nmode: enforce\r\nmx: mx.sts.test\r\n"
                  "max_age: 86400\r\n")
_EXPECTED = (ssl.SSLError, ConnectionError, TimeoutError, socket.timeout, OSError)


class StsServerError(Exception):
    """Bad routes, or the server could not be started/stopped cleanly."""


def _check_route(host, route):
    """Validate a route now, so a typo fails at construction, not as a
    puzzling 500 in the middle of a test."""
    ok = isinstance(route, tuple) and route and {
        "policy": lambda r: len(r) == 2 and isinstance(r[1], str),
        "status": lambda r: len(r) == 2 and isinstance(r[1], int) and 100 <= r[1] <= 599,
        "content-type": lambda r: len(r) == 3 and all(isinstance(x, str) for x in r[1:]),
        "redirect": lambda r: len(r) == 2 and isinstance(r[1], str),
        "stall": lambda r: len(r) == 1,
        "huge": lambda r: len(r) in (2, 3) and isinstance(r[1], int) and r[1] >= 0
                          and (len(r) == 2 or isinstance(r[2], str)),
        "slow-headers": lambda r: len(r) == 1,
    }.get(route[0], lambda r: False)(route)
    if not ok:
        raise StsServerError("bad route for %r: %r" % (host, route))


def _context(certfile, keyfile):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(certfile, keyfile)
    return ctx


class _Handler(http.server.BaseHTTPRequestHandler):
    """One request per connection (Connection: close): keeps the behaviours
    simple and is what a policy fetcher does anyway."""
    protocol_version = "HTTP/1.1"
    server_version = "sts-fixture"
    sys_version = ""

    def log_message(self, fmt, *args):
        pass            # the request list is the log; stderr stays quiet

    def log_error(self, fmt, *args):
        """Malformed requests and request timeouts: kept in server.errors."""
        self.server.sts._error(self.client_address, "http: " + (fmt % args))

    def _host(self):
        """Host header without port or trailing dot, lower case."""
        host = (self.headers.get("Host") or "").strip().lower()
        if not host.startswith("[") and ":" in host:
            host = host.rsplit(":", 1)[0]
        return host.rstrip(".")

    def do_GET(self):
        host = self._host()
        self.server.sts.log_request(host, self.path)
        route = self.server.sts.routes.get(host)
        if route is None or self.path.split("?", 1)[0] != WELL_KNOWN:
            self._reply(404, "text/plain", "not found\n")
            return
        getattr(self, "_route_" + route[0].replace("-", "_"))(*route[1:])

    def do_HEAD(self):
        self.server.sts.log_request(self._host(), self.path)
        self._reply(405, "text/plain", "")

    do_POST = do_HEAD

    # -- behaviours ---------------------------------------------------------

    def _reply(self, code, ctype, body, extra=()):
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in extra:
            self.send_header(k, v)
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)
        self.close_connection = True

    def _route_policy(self, text):
        self._reply(200, "text/plain", text)

    def _route_status(self, code):
        self._reply(code, "text/plain", "status %d\n" % code)

    def _route_content_type(self, ctype, text):
        self._reply(200, ctype, text)

    def _route_redirect(self, location):
        self._reply(301, "text/plain", "moved\n", [("Location", location)])

    def _route_stall(self):
        self._wait_for_client_close()

    def _route_slow_headers(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", "200")
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.flush()
        self._wait_for_client_close()

    def _route_huge(self, nbytes, text=DEFAULT_POLICY):
        """Stream the junk in chunks, so the server never holds nbytes in
        memory and a client that stops reading just makes our send fail."""
        head = text.encode()
        line = b"junk" + b"x" * 58 + b"\r\n"          # 64 bytes
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(head) + nbytes))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(head)
        left, chunk = nbytes, line * 256
        while left > 0 and not self.server.sts.stopping.is_set():
            part = chunk[:left]
            self.wfile.write(part)
            left -= len(part)
        self.close_connection = True

    def _wait_for_client_close(self):
        """Hold the connection silently until the client goes away, the
        server stops, or STALL_CAP passes."""
        self.close_connection = True
        sock = self.connection
        deadline = time.monotonic() + STALL_CAP
        sock.settimeout(POLL)
        while time.monotonic() < deadline and not self.server.sts.stopping.is_set():
            try:
                if not sock.recv(4096):
                    return
            except (socket.timeout, TimeoutError, ssl.SSLWantReadError):
                continue
            except (ssl.SSLError, ConnectionError, OSError):
                return


class _HttpServer(socketserver.TCPServer):
    """Plain TCP listener; TLS is set up per connection in its own thread
    (see StsServer._serve_connection), never in the accept loop.  (Not
    http.server.HTTPServer: its server_bind does a reverse DNS lookup.)"""
    allow_reuse_address = True
    daemon_threads = True

    def __init__(self, sts):
        self.sts = sts
        super().__init__((sts.host, 0), _Handler)

    def process_request(self, request, client_address):
        t = threading.Thread(target=self.sts._serve_connection,
                             args=(request, client_address), daemon=True,
                             name="sts-conn-%s:%d" % client_address)
        self.sts._track(t, request)
        t.start()

    def handle_error(self, request, client_address):
        self.sts._unexpected(client_address)


class StsServer:
    """See the module docstring.  certfile/keyfile: PEM server certificate
    and key; routes: {host: behaviour}."""

    def __init__(self, certfile, keyfile, routes, certs_by_sni=None, host="127.0.0.1"):
        if not host.startswith("127."):
            raise StsServerError("StsServer only listens on loopback, not %r" % host)
        self.routes = {}
        for h, r in routes.items():
            _check_route(h, r)
            self.routes[h.lower().rstrip(".")] = r
        self.host = host
        self.context = _context(certfile, keyfile)
        self.sni_contexts = {n.lower().rstrip("."): _context(c, k)
                             for n, (c, k) in (certs_by_sni or {}).items()}
        self.context.sni_callback = self._on_sni
        self.requests = []          # (host, path) in arrival order
        self.sni = []               # SNI of each completed handshake (None if absent)
        self.errors = []            # (client address, description)
        self.stopping = threading.Event()
        self.port = None
        self._lock = threading.Lock()
        self._conns = {}            # thread -> raw socket
        self._server = None
        self._thread = None

    # -- public API ---------------------------------------------------------

    def start(self):
        """Bind 127.0.0.1:<free port>, serve in a thread, return the port."""
        if self._server is not None:
            raise StsServerError("StsServer already started")
        self.stopping.clear()
        self._server = _HttpServer(self)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": POLL},
                                        name="sts-accept", daemon=True)
        self._thread.start()
        return self.port

    def stop(self):
        """Stop accepting, unblock and join every connection thread (bounded
        by STOP_JOIN), close the listener.  Raises if a thread hangs on."""
        if self._server is None:
            return
        self.stopping.set()
        self._server.shutdown()
        self._thread.join(STOP_JOIN)
        with self._lock:
            conns = list(self._conns.items())
        for _, sock in conns:
            try:
                # the plain socket method: wakes a thread blocked in a read
                # without touching the SSL object that thread is using
                socket.socket.shutdown(sock, socket.SHUT_RDWR)
            except OSError:
                pass            # already closed by its thread
        deadline = time.monotonic() + STOP_JOIN
        for t, _ in conns:
            t.join(max(0.0, deadline - time.monotonic()))
        self._server.server_close()
        self._server = None
        alive = [t.name for t, _ in conns if t.is_alive()]
        if alive or self._thread.is_alive():
            raise StsServerError("StsServer threads did not stop: %s" % ", ".join(alive))

    def log_request(self, host, path):
        with self._lock:
            self.requests.append((host, path))

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    # -- connection handling ------------------------------------------------

    def _on_sni(self, sslsock, name, ctx):
        """Record the SNI and switch certificate if certs_by_sni asks to."""
        key = (name or "").lower().rstrip(".")
        sslsock.sts_sni = name
        if key in self.sni_contexts:
            sslsock.context = self.sni_contexts[key]
        return None

    def _track(self, thread, sock):
        with self._lock:
            self._conns[thread] = sock

    def _serve_connection(self, raw, addr):
        """Handshake, then one HTTP request; expected network failures
        (aborted handshakes, resets, timeouts) are recorded, not raised, so
        one bad client cannot take the server down."""
        tls = None
        try:
            raw.settimeout(IO_TIMEOUT)
            # wrap_socket takes over raw's descriptor, so track the TLS socket
            # (for stop()) before the handshake, which may block
            tls = self.context.wrap_socket(raw, server_side=True,
                                           do_handshake_on_connect=False)
            self._track(threading.current_thread(), tls)
            try:
                tls.do_handshake()
            except _EXPECTED as e:
                self._error(addr, "handshake: %s: %s" % (type(e).__name__, e))
                return
            with self._lock:
                self.sni.append(getattr(tls, "sts_sni", None))
            try:
                _Handler(tls, addr, self._server)
            except _EXPECTED as e:
                self._error(addr, "request: %s: %s" % (type(e).__name__, e))
        except Exception:
            self._unexpected(addr)
        finally:
            for s in (tls, raw):
                if s is not None:
                    try:
                        s.close()
                    except OSError:
                        pass
            with self._lock:
                self._conns.pop(threading.current_thread(), None)

    def _error(self, addr, what):
        with self._lock:
            self.errors.append((addr, what))

    def _unexpected(self, addr):
        """A bug in the fixture itself: record it and print the traceback
        (never swallowed), but keep serving other connections."""
        text = traceback.format_exc()
        self._error(addr, "unexpected: " + text)
        print("stsserver: unexpected error for %s:\n%s" % (addr, text), file=sys.stderr)
