"""``referkit worker``: deliver webhooks outside the API processes (run as many as you like).

Each process claims due messages with ``SELECT … FOR UPDATE SKIP LOCKED`` on PostgreSQL (on
SQLite, claims are serialized by the database lock), so workers never share a message. SIGTERM
or Ctrl-C stops after the batch in flight; a killed worker loses nothing (see worker.runner).
"""

from __future__ import annotations

import asyncio
import logging
import signal

import typer

from referkit.cli.common import console, ensure_schema, settings_or_exit
from referkit.config import Settings
from referkit.db.engine import create_engine
from referkit.db.session import SessionFactory
from referkit.worker.runner import Worker


async def _run(settings: Settings, once: bool) -> int:
    await ensure_schema(settings)
    engine = create_engine(settings.db_url, pool_size=4, pgbouncer=settings.database_pgbouncer)
    worker = Worker(
        SessionFactory(engine, base_url=settings.base_url, keyring=settings.keyring), settings
    )
    try:
        if once:
            return await worker.run_until_idle()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        console.print(f"Worker running on {engine.url.render_as_string(hide_password=True)}")
        await worker.run(stop)
        return 0
    finally:
        await worker.aclose()
        await engine.dispose()


def worker(
    once: bool = typer.Option(False, "--once", help="Deliver what is due now, then exit."),
) -> None:
    """Deliver webhook messages until stopped."""
    settings = settings_or_exit()
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(levelname)s %(name)s %(message)s"
    )
    sent = asyncio.run(_run(settings, once))
    if once:
        console.print(f"Sent {sent} message(s).")
