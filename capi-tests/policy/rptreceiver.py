#!/usr/bin/python3
"""The receivers of TLS reports for run_tlsrpt_submit.py, on loopback:

  HttpsReceiver: an HTTPS server recording every request (RFC 8460 §5.4
  POSTs), answering per Host header:
      ("status", code)       that status, after reading the body
      ("redirect", location) 302 with that Location
      ("stall",)             reads the request, then says nothing until the
                             client goes away or the server stops (at most
                             STALL_CAP seconds)
  Mailbox: an aiosmtpd relay recording each message (envelope, bytes, TLS),
  refusing RCPT for local parts starting "refused".

Every request and message is kept whole for the runner to check; each
server stops by itself within its caps.
"""

import http.server
import socketserver
import ssl
import threading
import time

from aiosmtpd.controller import Controller

STALL_CAP = 30.0        # longest a stalled connection is held
IO_TIMEOUT = 10.0       # per connection: handshake and request
MAX_BODY = 1 << 20      # what a POST may carry here


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def _route(self):
        host = (self.headers.get("Host") or "").lower().rsplit(":", 1)[0]
        return host, self.server.rx.routes.get(host, ("status", 404))

    def _reply(self, code, extra=()):
        body = b"answer %d\n" % code
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra:
            self.send_header(k, v)
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True

    def _any(self):
        host, route = self._route()
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(min(n, MAX_BODY)) if n > 0 else b""
        self.server.rx.record({"method": self.command, "host": host, "path": self.path,
                               "headers": {k.lower(): v for k, v in self.headers.items()}, "body": body})
        kind = route[0]
        if kind == "status":
            self._reply(route[1])
        elif kind == "redirect":
            self._reply(302, [("Location", route[1])])
        elif kind == "stall":
            self.close_connection = True
            deadline = time.monotonic() + STALL_CAP
            self.connection.settimeout(0.2)
            while time.monotonic() < deadline and not self.server.rx.stopping.is_set():
                try:
                    if not self.connection.recv(1024):
                        return
                except (TimeoutError, ssl.SSLWantReadError):
                    continue
                except OSError:
                    return

    do_POST = do_GET = do_PUT = _any


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    block_on_close = True

    def server_bind(self):
        # No reverse DNS lookup of the address (HTTPServer's own does one).
        socketserver.TCPServer.server_bind(self)

    def finish_request(self, request, client_address):
        # TLS in the connection's own thread: a slow client blocks no other.
        request.settimeout(IO_TIMEOUT)
        try:
            tls = self.rx.context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as e:
            self.rx.errors.append(str(e))
            return
        try:
            self.RequestHandlerClass(tls, client_address, self)
        except OSError as e:
            self.rx.errors.append(str(e))
        finally:
            tls.close()


class HttpsReceiver:
    """HTTPS on 127.0.0.1:port with certfile/keyfile; routes {host: behaviour}."""

    def __init__(self, certfile, keyfile, routes, port):
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(certfile, keyfile)
        self.routes = {h.lower(): r for h, r in routes.items()}
        self.requests = []
        self.errors = []
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self._server = _Server(("127.0.0.1", port), _Handler, bind_and_activate=True)
        self._server.rx = self
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.2},
                                        daemon=True)

    def record(self, req):
        with self.lock:
            self.requests.append(req)

    def count(self, host=None):
        with self.lock:
            return sum(1 for r in self.requests if host is None or r["host"] == host)

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


class _Box:
    def __init__(self):
        self.messages = []
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.split("@")[0].startswith("refused"):
            return "550 5.7.1 no reports wanted here"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 ok"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.messages.append({"from": envelope.mail_from, "to": list(envelope.rcpt_tos),
                                  "data": envelope.original_content, "tls": session.ssl is not None})
        return "250 2.0.0 report queued"


class Mailbox:
    """An aiosmtpd relay on 127.0.0.1; with tls=(chain, key) it offers STARTTLS."""

    def __init__(self, port, tls=None):
        self.box = _Box()
        ctx = None
        if tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*tls)
        self.port = port
        self.ctl = Controller(self.box, hostname="127.0.0.1", port=port, tls_context=ctx,
                              server_hostname="relay.test", ready_timeout=10)

    def start(self):
        self.ctl.start()
        return self

    def stop(self):
        self.ctl.stop()

    def messages(self):
        with self.box.lock:
            return list(self.box.messages)
