"""The local stack's webhook receiver: an HTTP server on a loopback port that checks each
notice's signature and keeps it as a JSON file (what arrived, and whether it was signed
right). The integration tests run their own instance, told to fail its first answers.

    python stack/webhook_receiver.py [--host H] --port P --folder DIR [--signing-key KEY] \
        [--fail-first N]

The key defaults to $WEBHOOK_SIGNING_KEY, so that a container need not show it in its command.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

BODY_LIMIT = 1 << 20


class WebhookReceiver(ThreadingHTTPServer):
    """Answers 204 to every POST after its first `fail_first`, which get 503."""

    def __init__(
        self,
        port: int,
        folder: Path,
        signing_key: bytes,
        fail_first: int = 0,
        host: str = "127.0.0.1",
    ) -> None:
        super().__init__((host, port), _Handler)
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.signing_key = signing_key
        self.fail_first = fail_first
        self.attempts = 0
        self.lock = threading.Lock()

    def keep(self, record: dict[str, Any]) -> None:
        name = f"{time.time_ns()}-{record['attempt']}.json"
        partial = self.folder / (name + ".partial")
        partial.write_text(json.dumps(record, indent=2))
        partial.rename(self.folder / name)


class _Handler(BaseHTTPRequestHandler):
    server: WebhookReceiver

    def do_POST(self) -> None:
        length = min(int(self.headers.get("Content-Length") or 0), BODY_LIMIT)
        body = self.rfile.read(length)
        with self.server.lock:
            self.server.attempts += 1
            attempt = self.server.attempts
        failing = attempt <= self.server.fail_first
        timestamp = self.headers.get("X-Export-Timestamp", "")
        expected = hmac.new(
            self.server.signing_key, timestamp.encode() + b"." + body, hashlib.sha256
        ).hexdigest()
        signed = hmac.compare_digest(
            f"sha256={expected}", self.headers.get("X-Export-Signature", "")
        )
        self.server.keep(
            {
                "attempt": attempt,
                "answered": 503 if failing else 204,
                "path": self.path,
                "headers": dict(self.headers.items()),
                "body": body.decode("utf-8", "replace"),
                "signatureValid": signed,
            }
        )
        self.send_response(503 if failing else 204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        print(f"webhook receiver: {format % args}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--folder", type=Path, required=True)
    parser.add_argument("--signing-key", default=os.environ.get("WEBHOOK_SIGNING_KEY"))
    parser.add_argument("--fail-first", type=int, default=0, help="answer 503 to the first N")
    args = parser.parse_args()
    if not args.signing_key:
        parser.error("--signing-key or WEBHOOK_SIGNING_KEY is required")
    receiver = WebhookReceiver(
        args.port, args.folder, args.signing_key.encode(), args.fail_first, args.host
    )
    receiver.serve_forever()


if __name__ == "__main__":
    main()
