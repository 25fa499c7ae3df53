"""Slow bodies time out: a real server, and a raw socket that sends its body a byte at a time.

``REFERKIT_REQUEST_BODY_TIMEOUT_SECONDS`` is set to 1 s here; the body would take about 6 s.
The full stack (``BodyLimit``) and the event intake (which reads its own body) both answer 408.
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

import httpx
import pytest

from tests.processes import Server, cli_env, run_cli, serve

pytestmark = pytest.mark.slow

BODY_TIMEOUT = 1.0
BYTE_EVERY = 0.3  # seconds between two bytes of the body
PORT = int(os.environ.get("REFERKIT_TEST_PORT", "0")) or None  # a free port by default


def _dribble(
    server: Server, path: str, body: bytes, secret: str
) -> tuple[int, dict[str, str], bytes, float]:
    """Send the headers at once, then the body one byte per ``BYTE_EVERY`` s until the server
    answers; the status, headers and body of its answer, and how long it took."""
    host, port = server.base_url.removeprefix("http://").split(":")
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {secret}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    started = time.monotonic()
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(head)
        sock.settimeout(BYTE_EVERY)
        received = b""
        for index in range(len(body) + 1):
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                chunk = None
            if chunk is not None:
                received += chunk
                break  # the server answered (or closed) before the body was complete
            if index < len(body):
                sock.sendall(body[index : index + 1])
        sock.settimeout(10)
        while True:  # the rest of the answer, up to the connection's close
            try:
                chunk = sock.recv(65536)
            except (TimeoutError, ConnectionResetError):
                break
            if not chunk:
                break
            received += chunk
    elapsed = time.monotonic() - started
    head_text, _, content = received.partition(b"\r\n\r\n")
    status_line, *header_lines = head_text.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(status_line.split()[1]), headers, content, elapsed


def _assert_timed_out(answer: tuple[int, dict[str, str], bytes, float]) -> None:
    status, headers, content, elapsed = answer
    assert status == 408, (status, content)
    assert headers["content-type"] == "application/problem+json"
    assert headers["connection"] == "close"
    assert headers["x-content-type-options"] == "nosniff"
    problem = json.loads(content)
    assert problem["code"] == "request_body_timeout"
    assert problem["status"] == 408
    # Answered at the deadline, long before the body would have been complete.
    assert BODY_TIMEOUT <= elapsed < BODY_TIMEOUT + 3, elapsed


def test_a_body_that_does_not_arrive_in_time_gets_408(tmp_path: Path) -> None:
    env = cli_env(
        tmp_path / "data",
        request_body_timeout_seconds=str(BODY_TIMEOUT),
        worker_in_process="false",
    )
    created = run_cli("keys", "create", "--workspace", "Slow", "--json", env=env)
    assert created.returncode == 0, created.stderr
    secret = json.loads(created.stdout)["secret"]
    program = b'{"name": "Slow", "landing_url": "https://example.com/"}'
    event = b'{"event_id": "slow-1", "type": "signup", "name": "late"}'
    with serve(env, tmp_path / "logs", port=PORT) as server:
        # The full stack (and an event before its key is known to the intake).
        _assert_timed_out(_dribble(server, "/api/v1/programs", program, secret))
        _assert_timed_out(_dribble(server, "/api/v1/events", event, secret))
        # The event intake, once it knows the key.
        headers = {"Authorization": f"Bearer {secret}"}
        warm = httpx.get(f"{server.base_url}/api/v1/programs", headers=headers)
        assert warm.status_code == 200, warm.text
        _assert_timed_out(_dribble(server, "/api/v1/events", event, secret))
        # Nothing of the late requests was stored; a body sent at once is answered as usual.
        events = httpx.get(f"{server.base_url}/api/v1/events", headers=headers).json()
        assert events["data"] == []
        stored = httpx.post(
            f"{server.base_url}/api/v1/events",
            content=event,
            headers={**headers, "Content-Type": "application/json"},
        )
        assert stored.status_code == 201, stored.text
