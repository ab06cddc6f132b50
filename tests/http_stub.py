"""Stand-in HTTP servers for the tests (exporters, webhook receivers): one loopback server on a free
port served from a daemon thread, a handler base that keeps the test output quiet, and the handler of
a Prometheus text exposition whose body the test changes at runtime."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

EXPOSITION = "text/plain; version=0.0.4"  # Prometheus' text format


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class QuietHandler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return

    def reply(self, status: int, body: bytes = b"", content_type: str = EXPOSITION) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def exposition_handler(text: Callable[[], str], only_metrics_path: bool = False) -> type[QuietHandler]:
    """GET serves `text()` (read on every scrape); with `only_metrics_path`, other paths are 404."""

    class Handler(QuietHandler):
        def do_GET(self) -> None:
            if only_metrics_path and not self.path.startswith("/metrics"):
                self.reply(404)
                return
            self.reply(200, text().encode())

    return Handler


class LoopbackServer:
    """A ThreadingHTTPServer on a free 127.0.0.1 port; `start()` serves it from a daemon thread."""

    def __init__(self, handler: type[BaseHTTPRequestHandler], name: str = "stand-in") -> None:
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.port = int(self.httpd.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, name=name, daemon=True)

    def start(self) -> LoopbackServer:
        self.thread.start()
        return self

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)

    def __enter__(self) -> LoopbackServer:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()
