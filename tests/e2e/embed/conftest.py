"""A real stack for the embed's browser tests.

- ``referkit serve`` (uvicorn, in a subprocess) on 127.0.0.1:<port>, with its own data dir, on
  SQLite and, when ``REFERKIT_TEST_DATABASE_URL`` is set, on a throwaway PostgreSQL database;
- the customer's site on 127.0.0.2:<port+2>: a tiny web app whose backend makes the one
  Referkit call per page view (the token) and whose page carries the script tag; the same app
  on 127.0.0.2:<port+3> is a site the program does not allow;
- Debian's Chromium driven by Playwright (the driver and browser are shared: tests/e2e/conftest.py).

Ports start at ``REFERKIT_TEST_E2E_PORT`` (8130 by default; plus 50 per pytest-xdist worker).
"""

from __future__ import annotations

import html
import json
import os
import threading
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.e2e.conftest import postgres_database
from tests.processes import PG_URL, cli_env, run_cli, serve, worker_port

BASE_PORT = worker_port(int(os.environ.get("REFERKIT_TEST_E2E_PORT", "8130")))
SECRET_KEY = "e2e-embed-secret-key-" + "k" * 32
HOST_IP = "127.0.0.2"
ARTIFACTS = Path(os.environ.get("REFERKIT_TEST_ARTIFACTS", ".artifacts")) / "e2e-embed"


@dataclass
class Stack:
    base_url: str  # Referkit
    host_url: str  # the customer's site, an allowed origin
    other_url: str  # a site the program does not allow
    api: httpx.Client  # Referkit API with a full key
    program: dict[str, Any]
    backend: str


class HostSite:
    """The customer's site: ``/?user=ID`` asks Referkit for the user's token (server side,
    with the secret key) and renders the page with the script tag; ``/raw?token=…`` mounts a
    given token (to show what the browser does with an expired one)."""

    def __init__(self, referkit_url: str, program_id: str, secret: str, port: int) -> None:
        self.referkit_url = referkit_url
        self.program_id = program_id
        self.secret = secret
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                site.handle(self)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer((HOST_IP, port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(request.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        if parts.path == "/":
            answer = httpx.post(
                f"{self.referkit_url}/api/v1/programs/{self.program_id}/embed-token",
                json={"external_id": query["user"], "email": f"{query['user']}@example.com"},
                headers={"Authorization": f"Bearer {self.secret}"},
                timeout=10,
            )
            answer.raise_for_status()
            token = answer.json()["token"]
        elif parts.path == "/raw":
            token = query["token"]
        else:
            request.send_response(404)
            request.end_headers()
            return
        body = self.page(token, query.get("theme", "light")).encode()
        request.send_response(200)
        request.send_header("Content-Type", "text/html; charset=utf-8")
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)

    def page(self, token: str, theme: str) -> str:
        options = json.dumps({"token": token, "theme": theme})
        return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Acme — Refer a friend</title></head>
<body><main><h1>Refer a friend</h1><div id="referrals"></div></main>
<script src="{html.escape(self.referkit_url)}/embed/referkit.js"></script>
<script>
  window.referkitEvents = [];
  var options = {options};
  options.onReady = function (d) {{ window.referkitEvents.push(["ready", d]); }};
  options.onCopied = function (d) {{ window.referkitEvents.push(["copied", d]); }};
  Referkit.mount(document.getElementById("referrals"), options);
</script></body></html>"""

    def __enter__(self) -> HostSite:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


def _backends() -> list[str]:
    return ["sqlite", "postgresql"] if PG_URL else ["sqlite"]


@pytest.fixture(scope="module", params=_backends())
def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    offset = 0 if request.param == "sqlite" else 5
    port = BASE_PORT + offset
    base_url = f"http://127.0.0.1:{port}"
    host_url, other_url = f"http://{HOST_IP}:{port + 2}", f"http://{HOST_IP}:{port + 3}"
    data_dir = tmp_path_factory.mktemp(f"embed-{request.param}")
    with ExitStack() as stack_:
        settings = {"secret_key": SECRET_KEY, "base_url": base_url}
        if request.param == "postgresql":
            settings["database_url"] = stack_.enter_context(postgres_database())
            env = cli_env(data_dir, **settings)
            upgraded = run_cli("db", "upgrade", env=env)
            assert upgraded.returncode == 0, upgraded.stderr
        else:
            env = cli_env(data_dir, **settings)
        created = run_cli("keys", "create", "--scope", "full", "--json", env=env)
        assert created.returncode == 0, created.stderr
        secret = json.loads(created.stdout)["secret"]
        server = stack_.enter_context(serve(env, data_dir / "logs", "--no-access-log", port=port))
        api = stack_.enter_context(
            httpx.Client(
                base_url=f"{server.base_url}/api/v1",
                headers={"Authorization": f"Bearer {secret}"},
                timeout=10,
            )
        )
        program = api.post("/programs", json=_program(host_url)).raise_for_status().json()
        stack_.enter_context(HostSite(base_url, program["id"], secret, port + 2))
        stack_.enter_context(HostSite(base_url, program["id"], secret, port + 3))
        yield Stack(base_url, host_url, other_url, api, program, request.param)
        assert "Traceback" not in server.stderr, server.stderr


def _program(host_url: str) -> dict[str, Any]:
    return {
        "name": "Acme friends",
        "landing_url": "https://acme.example.com/signup",
        "allowed_origins": [host_url],
        "qualification": {"event": "purchase", "min_amount": 1000, "currency": "USD"},
        "reward_rules": [
            {
                "recipient": "referrer",
                "trigger": "referral_qualified",
                "kind": "cash",
                "amount": 2000,
                "currency": "USD",
                "hold_days": 14,
                "description": "$20 per friend who buys",
            },
            {
                "recipient": "referrer",
                "trigger": "milestone",
                "milestone_count": 3,
                "kind": "cash",
                "amount": 5000,
                "currency": "USD",
                "description": "$50 bonus at 3 friends",
            },
        ],
        "embed": {"accent": "#0b6e4f", "radius": 8},
    }


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
