"""An aiosmtpd handler that appends every accepted transaction to a file.

    PYTHONPATH=capi-tests python3 -m aiosmtpd -n -l 127.0.0.1:PORT \
        -c recording_sink.Recorder OUTFILE

Each transaction is written as:
    MAIL FROM:<sender>
    RCPT TO:<rcpt>          (one line per recipient)
    DATA <n bytes>
    <the content as received, dot-unstuffed, CRLF line ends>
    .
"""


class Recorder:
    def __init__(self, path):
        self.path = path

    @classmethod
    def from_cli(cls, parser, *args):
        if len(args) != 1:
            parser.error("Recorder takes one argument: the output file")
        return cls(args[0])

    async def handle_DATA(self, server, session, envelope):
        content = envelope.original_content or b""
        with open(self.path, "ab") as f:
            f.write(b"MAIL FROM:<%s>\n" % envelope.mail_from.encode())
            for r in envelope.rcpt_tos:
                f.write(b"RCPT TO:<%s>\n" % r.encode())
            f.write(b"DATA %d bytes\n" % len(content))
            f.write(content)
            f.write(b".\n")
        return "250 OK"
