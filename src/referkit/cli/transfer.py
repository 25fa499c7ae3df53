"""``referkit export`` and ``referkit import``: move a workspace between installations.

referkit export --workspace Default workspace.jsonl
REFERKIT_DATABASE_URL=postgresql+asyncpg://… referkit import workspace.jsonl [--dry-run]
referkit import --from referral-rock members.csv --workspace Default --program prog_…
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from enum import StrEnum
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn
from rich.table import Table

from referkit.cli.common import console, ensure_schema, settings_or_exit, unit_of_work
from referkit.config import Settings
from referkit.errors import ReferkitError
from referkit.transfer.csv_import import CsvImporter, Source
from referkit.transfer.service import ImportResult, TransferService
from referkit.webhook.service import ENCRYPTION_PURPOSE as WEBHOOK_SECRETS


class Format(StrEnum):
    jsonl = "jsonl"


def _bars() -> Progress:
    return Progress(
        TextColumn("{task.description:<18}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=console,
        transient=False,
    )


async def _export(settings: Settings, workspace: str, out: Path) -> dict[str, int]:
    await ensure_schema(settings)
    async with unit_of_work(settings) as session:
        service = TransferService(session)
        _, totals = await service.counts(workspace)
        done: Counter[str] = Counter()
        with _bars() as bars, out.open("w", encoding="utf-8") as file:
            tasks = {name: bars.add_task(name, total=total) for name, total in totals.items()}
            async for line in service.export(workspace):
                file.write(line + "\n")
                table = json.loads(line).get("table")
                if table in tasks:
                    done[table] += 1
                    bars.update(tasks[table], completed=done[table])
    return dict(done)


def export(
    out: Path = typer.Argument(..., help="File to write (JSON lines)."),
    workspace: str = typer.Option(..., "--workspace", "-w", help="Workspace name or id."),
    format: Format = typer.Option(Format.jsonl, "--format", help="Only jsonl for now."),
) -> None:
    """Export a workspace: programs, members, links, referrals, rewards, webhooks (no
    secrets) and stats rollups, as JSON lines."""
    settings = settings_or_exit()
    try:
        done = asyncio.run(_export(settings, workspace, out))
    except ReferkitError as exc:
        console.print(f"[red]{exc.detail}[/red]")
        raise typer.Exit(1) from None
    console.print(f"Exported {sum(done.values())} rows to {out}")


def _table_totals(path: Path) -> Counter[str]:
    totals: Counter[str] = Counter()
    with path.open(encoding="utf-8") as file:
        for line in file:
            if '"table"' in line:
                totals[str(json.loads(line).get("table"))] += 1
    return totals


async def _import_jsonl(settings: Settings, path: Path, dry_run: bool) -> ImportResult:
    await ensure_schema(settings)
    totals = _table_totals(path)
    async with unit_of_work(settings) as session:
        with _bars() as bars, path.open(encoding="utf-8") as file:
            tasks: dict[str, TaskID] = {
                name: bars.add_task(name, total=total) for name, total in totals.items()
            }

            def progress(table: str, done: int) -> None:
                if table in tasks:
                    bars.update(tasks[table], completed=done)

            result = await TransferService(
                session, settings.keyring.box(WEBHOOK_SECRETS)
            ).import_lines(file, progress)
        if dry_run:
            await session.rollback()
    return result


async def _import_csv(
    settings: Settings, path: Path, source: Source, workspace: str, program: str, dry_run: bool
) -> ImportResult:
    await ensure_schema(settings)
    async with unit_of_work(settings) as session:
        importer = CsvImporter(session, source)
        with _bars() as bars, path.open(encoding="utf-8-sig", newline="") as file:
            with path.open(encoding="utf-8-sig") as counting:
                rows = sum(1 for _ in counting) - 1
            task = bars.add_task(path.name, total=max(rows, 0))
            result = await importer.run(
                file, workspace, program, lambda done: bars.update(task, completed=done)
            )
        if dry_run:
            await session.rollback()
    return result


def import_(
    path: Path = typer.Argument(..., exists=True, dir_okay=False, help="Export file or CSV."),
    source: Source | None = typer.Option(
        None, "--from", help="Read a referral-rock or referral-factory CSV export instead."
    ),
    workspace: str = typer.Option("Default", "--workspace", "-w", help="For --from: target."),
    program: str | None = typer.Option(None, "--program", help="For --from: program id."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Read and check; store nothing."),
) -> None:
    """Import a Referkit export (rows already present are left as they are), or with
    ``--from`` a Referral Rock / Referral Factory CSV of members and referrals."""
    settings = settings_or_exit()
    try:
        if source is None:
            result = asyncio.run(_import_jsonl(settings, path, dry_run))
        else:
            if program is None:
                console.print("[red]--from needs --program (the Referkit program id).[/red]")
                raise typer.Exit(2)
            result = asyncio.run(_import_csv(settings, path, source, workspace, program, dry_run))
    except ReferkitError as exc:
        console.print(f"[red]{exc.detail}[/red]")
        raise typer.Exit(1) from None
    table = Table("table", "read", "new" if dry_run else "inserted")
    for name, read in result.read.items():
        table.add_row(name, str(read), str(result.inserted.get(name, 0)))
    console.print(table)
    console.print(
        ("Dry run: nothing stored. " if dry_run else "") + f"Workspace {result.workspace_id}"
    )
