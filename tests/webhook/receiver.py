"""A real HTTP receiver on 127.0.0.1 for webhook tests, scripted per request.

It runs in its own thread (``ThreadingHTTPServer``), so it works the same for the in-process
worker (same event loop as the test) and for worker processes. Each request takes the next
``Reply`` from the script (the default answer when the script is empty): a status, headers, a
delay before answering, or a connection reset.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    reset: bool = False


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes
    reply: Reply

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]


class _QuietServer(ThreadingHTTPServer):
    # Many senders at once (several worker processes): a backlog of 5 would refuse some.
    request_queue_size = 128

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a sender killed mid-request resets its connection; that is the test's point


class Receiver:
    def __init__(self, default: Reply | None = None) -> None:
        self.default = default or Reply()
        self.script: deque[Reply] = deque()
        self.received: list[Received] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/hook"

    def then(self, *replies: Reply | int) -> None:
        """Answer the next requests with these replies (ints are plain statuses)."""
        with self._lock:
            self.script.extend(r if isinstance(r, Reply) else Reply(r) for r in replies)

    def _next(self, headers: dict[str, str], body: bytes) -> Reply:
        with self._lock:
            reply = self.script.popleft() if self.script else self.default
            self.received.append(Received(headers, body, reply))
            return reply

    def ids(self) -> list[str]:
        with self._lock:
            return [r.webhook_id for r in self.received]

    async def wait_for(self, count: int, within: float = 10.0) -> list[Received]:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.received) >= count:
                    return list(self.received)
            await asyncio.sleep(0.02)
        raise AssertionError(f"expected {count} requests, got {len(self.received)}")

    async def wait_until_more_than(self, count: int, within: float) -> None:
        """Wait (at most ``within`` seconds) until more than ``count`` requests arrived."""
        deadline = time.monotonic() + within
        while len(self.received) <= count and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.01)

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(length)
                if len(body) < length:
                    # The sender died mid-request (a killed worker): nothing was delivered.
                    self.close_connection = True
                    return
                headers = {k.lower(): v for k, v in self.headers.items()}
                reply = receiver._next(headers, body)
                if reply.delay:
                    time.sleep(reply.delay)
                if reply.reset:
                    # SO_LINGER 0: close sends RST instead of FIN.
                    self.connection.setsockopt(
                        socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                    )
                    self.close_connection = True
                    return
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: object) -> None:
                pass

        server = _QuietServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        server.block_on_close = False
        self._server = server
        threading.Thread(target=server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


@contextmanager
def receiving(*script: Reply | int, default: Reply | None = None) -> Iterator[Receiver]:
    receiver = Receiver(default)
    receiver.then(*script)
    receiver.start()
    try:
        yield receiver
    finally:
        receiver.stop()


def statuses(received: Iterable[Received]) -> list[int]:
    return [r.reply.status for r in received]
