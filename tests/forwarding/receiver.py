"""A loopback stand-in for the ad networks: answers GET and POST on any path, scripted per
request, and keeps what it received (method, path with query, headers, body)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Got:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    status: int


class Networks:
    def __init__(self) -> None:
        self.script: deque[tuple[int, bytes]] = deque()
        self.received: list[Got] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def base(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def then(self, *replies: int | tuple[int, bytes]) -> None:
        with self._lock:
            self.script.extend(r if isinstance(r, tuple) else (r, b"{}") for r in replies)

    def _answer(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, bytes]:
        with self._lock:
            status, text = self.script.popleft() if self.script else (200, b'{"ok": true}')
            self.received.append(Got(method, path, headers, body, status))
            return status, text

    async def wait_for(self, count: int, within: float = 10.0) -> list[Got]:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.received) >= count:
                    return list(self.received)
            await asyncio.sleep(0.02)
        raise AssertionError(f"expected {count} requests, got {len(self.received)}")

    def start(self) -> None:
        networks = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(length) if length else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                status, text = networks._answer(self.command, self.path, headers, body)
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(text)))
                self.end_headers()
                self.wfile.write(text)

            do_GET = _handle
            do_POST = _handle

            def log_message(self, format: str, *args: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        self._server = server
        threading.Thread(target=server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


@contextmanager
def networks_running() -> Iterator[Networks]:
    networks = Networks()
    networks.start()
    try:
        yield networks
    finally:
        networks.stop()
