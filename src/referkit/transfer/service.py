"""Export and import of a workspace as JSON lines (``referkit export`` / ``referkit import``).

The file is one header line — ``{"format": "referkit-export", "version": 1, "workspace": …}``
— then one ``{"table": …, "row": …}`` line per row: programs, members, links, referrals,
rewards with their ledger entries and coupon codes, webhook endpoints (without secrets), the
stats rollups and the breakdowns' dimension rollups. Import inserts the rows whose key is not
stored yet, so ids are kept, stats read the same, and importing a file twice changes nothing.
API keys are not moved: create new ones in the new installation; webhook endpoints get new
signing secrets there (rotate and copy them to your receivers).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from referkit.errors import Conflict, NotFound, Unprocessable
from referkit.kit.crypto import SecretBox
from referkit.kit.time import utcnow
from referkit.transfer.repository import (
    BATCH,
    BY_NAME,
    TABLES,
    TransferRepository,
    from_json,
    to_json,
)
from referkit.webhook.service import new_secret

FORMAT, VERSION = "referkit-export", 1

Progress = Callable[[str, int], None]
"""(table, rows done so far in it) — the CLI draws its progress bars from these calls."""


@dataclass
class ImportResult:
    workspace_id: str = ""
    read: dict[str, int] = field(default_factory=dict)
    inserted: dict[str, int] = field(default_factory=dict)


class TransferService:
    def __init__(self, session: AsyncSession, secrets: SecretBox | None = None) -> None:
        self.session = session
        self.repo = TransferRepository(session)
        self._secrets = secrets  # seals the new signing secrets of imported webhook endpoints

    async def counts(self, workspace_ref: str) -> tuple[str, dict[str, int]]:
        workspace = await self._workspace(workspace_ref)
        totals = {m.__tablename__: await self.repo.count(m, workspace.id) for m in TABLES[1:]}
        return workspace.id, totals

    async def _workspace(self, ref: str) -> Any:
        workspace = await self.repo.workspace(ref)
        if workspace is None:
            raise NotFound(f"No workspace {ref!r}.")
        return workspace

    async def export(self, workspace_ref: str) -> AsyncIterator[str]:
        """The export file, line by line."""
        workspace = await self._workspace(workspace_ref)
        header = {
            "format": FORMAT,
            "version": VERSION,
            "exported_at": utcnow().isoformat(),
            "workspace": to_json(TABLES[0], workspace),
        }
        yield json.dumps(header)
        for model in TABLES[1:]:
            async for row in self.repo.rows(model, workspace.id):
                yield json.dumps({"table": model.__tablename__, "row": to_json(model, row)})

    async def import_lines(
        self, lines: Iterable[str], progress: Progress | None = None
    ) -> ImportResult:
        """Insert what is missing; the caller commits (or rolls back for a dry run)."""
        result = ImportResult()
        batch: list[dict[str, Any]] = []
        table: str | None = None
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            record = _parse(line, number)
            if number == 1 or "format" in record:
                result.workspace_id = await self._header(record, result)
                continue
            name = record.get("table")
            if name not in BY_NAME or not isinstance(record.get("row"), dict):
                raise Unprocessable(f"Line {number}: not a row of a known table.")
            if name != table or len(batch) >= BATCH:
                await self._flush(table, batch, result, progress)
                table, batch = name, []
            batch.append(record["row"])
        await self._flush(table, batch, result, progress)
        return result

    async def _header(self, record: dict[str, Any], result: ImportResult) -> str:
        if record.get("format") != FORMAT or record.get("version") != VERSION:
            raise Unprocessable("This is not a Referkit export (version 1).")
        data = record.get("workspace")
        if not isinstance(data, dict) or "id" not in data:
            raise Unprocessable("The export's header names no workspace.")
        same_name = await self.repo.workspace(str(data.get("name", "")))
        if same_name is not None and same_name.id != data["id"]:
            raise Conflict(
                f"A different workspace is already named {data.get('name')!r} here.",
                existing_id=same_name.id,
            )
        await self._flush("workspaces", [data], result, None)
        return str(data["id"])

    async def _flush(
        self,
        table: str | None,
        batch: list[dict[str, Any]],
        result: ImportResult,
        progress: Progress | None,
    ) -> None:
        if table is None or not batch:
            return
        model = BY_NAME[table]
        rows = [from_json(model, row) for row in batch]
        if table == "webhook_endpoints":
            if self._secrets is None:
                raise ValueError("importing webhook endpoints needs the secret box")
            for row in rows:  # secrets were not exported: new ones, sealed like any other
                row["secret"] = self._secrets.encrypt(new_secret(), context=row["id"])
        new = await self.repo.missing(model, rows)
        if new:
            await self.repo.insert(model, new)
        result.read[table] = result.read.get(table, 0) + len(rows)
        result.inserted[table] = result.inserted.get(table, 0) + len(new)
        if progress is not None:
            progress(table, result.read[table])


def _parse(line: str, number: int) -> dict[str, Any]:
    try:
        record = json.loads(line)
    except ValueError:
        raise Unprocessable(f"Line {number} is not JSON.") from None
    if not isinstance(record, dict):
        raise Unprocessable(f"Line {number} is not a JSON object.")
    return record
