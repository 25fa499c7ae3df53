"""``referkit coupons upload``: load a CSV of coupon codes into a program's pool."""

from __future__ import annotations

import asyncio
import csv
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from referkit.auth.principal import Mode, Principal, Scope
from referkit.cli.common import console, ensure_schema, settings_or_exit, unit_of_work
from referkit.config import Settings
from referkit.errors import ReferkitError
from referkit.reward.service import RewardService
from referkit.workspace.service import WorkspaceService

app = typer.Typer(help="Coupon pools.", no_args_is_help=True, pretty_exceptions_enable=False)

CHUNK = 1000


def read_codes(path: Path) -> list[str]:
    """The first column of each row; a header row named ``code`` is skipped."""
    with path.open(newline="", encoding="utf-8-sig") as handle:
        rows = [row[0].strip() for row in csv.reader(handle) if row and row[0].strip()]
    if rows and rows[0].lower() in ("code", "codes", "coupon", "coupon_code"):
        rows = rows[1:]
    return rows


async def _upload(
    settings: Settings, workspace: str, mode: Mode, program_id: str, pool: str, codes: list[str]
) -> tuple[int, int, int]:
    await ensure_schema(settings)
    added = duplicates = available = 0
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console) as progress:
        task = progress.add_task(f"Uploading to {pool}", total=len(codes))
        for start in range(0, len(codes), CHUNK):
            chunk = codes[start : start + CHUNK]
            async with unit_of_work(settings) as session:
                ws, _ = await WorkspaceService(session).get_or_create(workspace)
                principal = Principal(ws.id, "cli", Scope.full, mode is Mode.live)
                result = await RewardService(session).upload_coupons(
                    principal, program_id, pool, chunk
                )
            added, duplicates, available = (added + result[0], duplicates + result[1], result[2])
            progress.advance(task, len(chunk))
    return added, duplicates, available


@app.command()
def upload(
    csv_file: Path = typer.Argument(
        ..., exists=True, dir_okay=False, help="CSV, codes in column 1."
    ),
    program: str = typer.Option(..., "--program", help="Program id (prog_…)."),
    pool: str = typer.Option(..., "--pool", help="Pool name, as in the reward rule."),
    workspace: str = typer.Option("Default", help="Workspace name."),
    mode: Mode = typer.Option(Mode.live, help="live or test."),
) -> None:
    """Add the codes of a CSV file to a coupon pool (duplicates are skipped)."""
    settings = settings_or_exit()
    codes = read_codes(csv_file)
    if not codes:
        console.print("[red]No codes in the file.[/red]")
        raise typer.Exit(1)
    try:
        added, duplicates, available = asyncio.run(
            _upload(settings, workspace, mode, program, pool, codes)
        )
    except ReferkitError as exc:
        console.print(f"[red]{exc.detail}[/red]")
        raise typer.Exit(1) from None
    typer.echo(f"added {added}, skipped {duplicates} duplicates; {available} codes free in {pool}")
