"""A minimal SMTP sink for benchmarks: answers every command at once.

    python3 bench/sink.py PORTFILE [CERT KEY [tickets]]

Listens on 127.0.0.1 (port written to PORTFILE), announces PIPELINING,
8BITMIME and SIZE, accepts everything, and acknowledges TCP segments
promptly (TCP_QUICKACK) so the client's own behaviour is what is measured.
With CERT and KEY it also offers STARTTLS (no TLS 1.3 session tickets:
libESMTP 1.1.0 can stall on them; with "tickets", two per handshake, so
that clients can resume).
Counts accepted messages; prints the count when stopped with SIGTERM.
"""
import asyncio
import signal
import socket
import ssl
import sys

accepted = 0
tls_ctx = None


async def session(reader, writer):
    global accepted
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    quickack = getattr(socket, "TCP_QUICKACK", None)

    def ack():
        if quickack is not None:
            try:
                sock.setsockopt(socket.IPPROTO_TCP, quickack, 1)
            except OSError:
                pass

    writer.write(b"220 sink ESMTP\r\n")
    in_data = False
    while True:
        line = await reader.readline()
        ack()
        if not line:
            break
        if in_data:
            if line == b".\r\n":
                in_data = False
                accepted += 1
                writer.write(b"250 2.0.0 queued\r\n")
            continue
        verb = line[:4].upper()
        if verb == b"EHLO":
            starttls = b"250-STARTTLS\r\n" if tls_ctx and not writer.get_extra_info("ssl_object") else b""
            writer.write(b"250-sink\r\n250-PIPELINING\r\n250-8BITMIME\r\n" + starttls
                         + b"250 SIZE 100000000\r\n")
        elif verb == b"STAR" and tls_ctx:
            writer.write(b"220 go ahead\r\n")
            await writer.drain()
            await writer.start_tls(tls_ctx)
        elif verb == b"DATA":
            in_data = True
            writer.write(b"354 go ahead\r\n")
        elif verb == b"QUIT":
            writer.write(b"221 bye\r\n")
            await writer.drain()
            break
        else:
            writer.write(b"250 ok\r\n")
        if reader._buffer.find(b"\n") < 0:  # flush when no pipelined input waits
            await writer.drain()
    writer.close()


async def main():
    global tls_ctx
    if len(sys.argv) >= 4:
        tls_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls_ctx.load_cert_chain(sys.argv[2], sys.argv[3])
        tls_ctx.num_tickets = 2 if sys.argv[4:] == ["tickets"] else 0
    server = await asyncio.start_server(session, "127.0.0.1", 0, backlog=512)
    port = server.sockets[0].getsockname()[1]
    with open(sys.argv[1], "w") as f:
        f.write(str(port))
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with server:
        await stop.wait()
    print(accepted, flush=True)


asyncio.run(main())
