"""A DNS the test controls and a network backend that records where connections go: injected
into ``outbound_client`` and the app (``app.state.resolver``) instead of patching sockets."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from typing import Any

import httpcore

from referkit.kit.http import IPAddress


class FakeResolver:
    """Answers names from a table; a name with several answer lists gets the next list on each
    question (the last one repeats), as a rebinding DNS server would. Unknown names fail as
    the system resolver does."""

    def __init__(self, table: dict[str, list[list[str]]]) -> None:
        self.table = {name: list(answers) for name, answers in table.items()}
        self.asked: list[str] = []

    async def __call__(self, host: str, port: int) -> list[IPAddress]:
        self.asked.append(host)
        answers = self.table.get(host)
        if not answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        current = answers.pop(0) if len(answers) > 1 else answers[0]
        return [ipaddress.ip_address(a) for a in current]


class RecordingNetwork(httpcore.AsyncNetworkBackend):
    """Notes each address a connection is opened to; connects for real only to loopback (the
    test machine is offline), and refuses the rest after noting them."""

    def __init__(self) -> None:
        self.connected: list[str] = []
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109  (httpcore's interface)
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        self.connected.append(host)
        if not ipaddress.ip_address(host).is_loopback:
            raise httpcore.ConnectError(f"test network: {host} is unreachable")
        return await self._inner.connect_tcp(
            host, port, timeout=timeout, local_address=local_address, socket_options=socket_options
        )

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)
