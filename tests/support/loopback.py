"""Bait for code that should never fetch: a loopback listener counting requests, a sentinel file.

Each would hand out a schema holding a secret, so a test asserts both that no request came
and that no secret reached any message.
"""

import json
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


@dataclass
class Bait:
    """Where a schema could send us: a listener (counting requests) and a sentinel file."""

    url: str
    file_url: str
    secrets: tuple[str, str]
    requests: list[str] = field(default_factory=list)


@contextmanager
def listening_bait(tmp_path: Path) -> Iterator[Bait]:
    http_secret, file_secret = f"http-{uuid.uuid4().hex}", f"file-{uuid.uuid4().hex}"
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.path)
            body = json.dumps({"const": http_secret}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/schema+json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    sentinel = tmp_path / "sentinel.json"
    sentinel.write_text(json.dumps({"const": file_secret}))
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Bait(
            url=f"http://127.0.0.1:{server.server_address[1]}/s.json",
            file_url=sentinel.as_uri(),
            secrets=(http_secret, file_secret),
            requests=seen,
        )
    finally:
        server.shutdown()
        server.server_close()
