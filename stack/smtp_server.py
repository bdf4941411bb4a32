"""The local stack's SMTP server: aiosmtpd on a loopback port, offering STARTTLS, keeping
every message it accepts as an .eml file (the integration tests read them back).

    python stack/smtp_server.py --port P --maildir DIR --cert FILE --key FILE
"""

from __future__ import annotations

import argparse
import asyncio
import os
import ssl
import time
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session


class KeepMessages:
    """Writes each message whole (temporary name, then rename), with its envelope recipients."""

    def __init__(self, maildir: Path) -> None:
        self._maildir = maildir
        self._count = 0

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self._count += 1
        name = f"{time.time_ns()}-{os.getpid()}-{self._count}.eml"
        recipients = ", ".join(envelope.rcpt_tos)
        content = envelope.original_content or b""
        # What the tests check beyond the message: who it went to, and whether over TLS.
        tls = "yes" if session.ssl else "no"
        data = f"X-Envelope-To: {recipients}\r\nX-Received-Over-TLS: {tls}\r\n".encode() + content
        partial = self._maildir / (name + ".partial")
        partial.write_bytes(data)
        partial.rename(self._maildir / name)
        return "250 Message accepted for delivery"


async def serve(port: int, maildir: Path, cert: Path, key: Path) -> None:
    maildir.mkdir(parents=True, exist_ok=True)
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(str(cert), str(key))
    handler = KeepMessages(maildir)

    def factory() -> Any:
        return SMTP(handler, tls_context=tls, require_starttls=False, data_size_limit=64 << 20)

    server = await asyncio.get_running_loop().create_server(factory, "127.0.0.1", port)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--maildir", type=Path, required=True)
    parser.add_argument("--cert", type=Path, required=True)
    parser.add_argument("--key", type=Path, required=True)
    args = parser.parse_args()
    asyncio.run(serve(args.port, args.maildir, args.cert, args.key))


if __name__ == "__main__":
    main()
